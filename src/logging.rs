//! iocinit's log backend for the `log` facade: every line goes to the console
//! as `iocinit: message`, to /dev/kmsg on a real boot, and to the system log
//! file (`EnableLogging`, with a timestamp). Boot status lines
//! (`Starting X ... Done`) go to the console and the system log as they are.
//!
//! Allocation-free: each line is formatted into a fixed stack buffer (long
//! lines are cut) and written with one write(2) per sink.

use core::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use crate::sys::{self, FixedBuf};

/// Log lines go to stderr, status lines to stdout: for PID 1 both are the console.
const CONSOLE_FD: i32 = 2;
const STATUS_FD: i32 = 1;
static KMSG_FD: AtomicI32 = AtomicI32::new(-1);
static FILE_FD: AtomicI32 = AtomicI32::new(-1);
static DEBUG: AtomicBool = AtomicBool::new(false);

struct Logger;

static LOGGER: Logger = Logger;

/// Installs the logger (console only until [`open_kmsg`]/[`open_file`]).
pub fn init(debug: bool) {
    DEBUG.store(debug, Ordering::Relaxed);
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(if debug { log::LevelFilter::Debug } else { log::LevelFilter::Info });
}

/// Also log to the kernel ring buffer (real boots only: a test namespace
/// must not write into the host's log).
pub fn open_kmsg() {
    if let Ok(fd) = sys::Fd::open(c"/dev/kmsg", libc::O_WRONLY | libc::O_NOCTTY, 0) {
        let old = KMSG_FD.swap(fd.0, Ordering::Relaxed);
        core::mem::forget(fd);
        close(old);
    }
}

/// Also log to `path` (the system log), truncated first when `blank` (BlankLogOnBoot).
pub fn open_file(path: &std::ffi::CStr, blank: bool) -> Result<(), i32> {
    if let Some(dir) = path.to_bytes().iter().rposition(|&b| b == b'/') {
        let _ = sys::mkdir_p(&path.to_bytes()[..dir], 0o755);
    }
    let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_APPEND | libc::O_NOCTTY | if blank { libc::O_TRUNC } else { 0 };
    let fd = sys::Fd::open(path, flags, 0o640)?;
    let old = FILE_FD.swap(fd.0, Ordering::Relaxed);
    core::mem::forget(fd);
    close(old);
    Ok(())
}

/// Stops logging to the system log file (before unmounting at shutdown).
pub fn close_file() {
    close(FILE_FD.swap(-1, Ordering::Relaxed));
}

fn close(fd: i32) {
    if fd >= 0 {
        drop(sys::Fd(fd));
    }
}

fn timestamp(buf: &mut FixedBuf<1200>) {
    if let Some(t) = sys::local_time(sys::wall_secs()) {
        let _ = write!(buf, "{:04}-{:02}-{:02} {:02}:{:02}:{:02} ", t.year, t.month, t.day, t.hour, t.minute, t.second);
    }
}

/// A complete status line (already ending in a newline) for the console and
/// the system log.
pub fn console_line(line: &[u8]) {
    sys::write_fd(STATUS_FD, line);
    let file = FILE_FD.load(Ordering::Relaxed);
    if file >= 0 {
        let mut buf = FixedBuf::<1200>::new();
        timestamp(&mut buf);
        buf.push(line);
        sys::write_fd(file, buf.as_bytes());
    }
}

impl log::Log for Logger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::Level::Info || DEBUG.load(Ordering::Relaxed)
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let mut line = FixedBuf::<1200>::new();
        let _ = line.write_str("iocinit: ");
        match record.level() {
            log::Level::Error => line.push(b"error: "),
            log::Level::Warn => line.push(b"warning: "),
            _ => {}
        }
        let _ = write!(line, "{}", record.args());
        line.push(b"\n");
        let text = line.as_bytes();
        sys::write_fd(CONSOLE_FD, text);
        let kmsg = KMSG_FD.load(Ordering::Relaxed);
        if kmsg >= 0 {
            let level: &[u8] = match record.level() {
                log::Level::Error => b"<3>",
                log::Level::Warn => b"<4>",
                log::Level::Info => b"<6>",
                _ => b"<7>",
            };
            let mut k = FixedBuf::<1200>::new();
            k.push(level);
            k.push(text);
            sys::write_fd(kmsg, k.as_bytes());
        }
        let file = FILE_FD.load(Ordering::Relaxed);
        if file >= 0 {
            let mut f = FixedBuf::<1200>::new();
            timestamp(&mut f);
            f.push(text);
            sys::write_fd(file, f.as_bytes());
        }
    }

    fn flush(&self) {}
}
