//! iocinit's log: the [`error!`], [`warn!`], [`info!`] and [`debug!`]
//! macros, and where their lines go: the console as `iocinit: message`,
//! /dev/kmsg on a real boot, and the system log file (`EnableLogging`, with
//! a timestamp). Boot status lines (`Starting X ... Done`) go to the
//! console and the system log as they are.
//!
//! The console never blocks PID 1: a serial console stopped by XOFF (Ctrl-S)
//! or a stdout nobody reads would otherwise park it in write(2), with control
//! requests unanswered and children unreaped. Console lines (log lines for
//! stderr, status lines for stdout, in the order they were made) are
//! written through descriptors of PID 1's own, opened non-blocking by
//! [`open_console`], as far as the console takes them; the rest waits in one
//! fixed ring of [`RING_BYTES`], and the event loop writes it when the
//! console is writable again ([`console_fd`], [`drain_console`]). When the ring is full, lines
//! are dropped and counted, and a line saying how many follows as soon as
//! there is room. fds 0-2 themselves stay as they are (blocking): children
//! and the emergency shell inherit them, and a shell on a non-blocking
//! terminal breaks.
//!
//! A line goes straight to the console when nothing waits before it (else
//! behind what waits): the ring holds only what a slow console has not
//! taken yet. Its memory is an
//! anonymous mapping of its own made once by [`init`], resident only while
//! something waits in it (its pages go back when it runs empty), and not a
//! static: in the middle of `.bss` its 32 KB kept the statics around it
//! apart, one page more of PID 1's memory for its whole life.
//!
//! Allocation-free: each line is formatted once into a fixed buffer (long
//! lines are cut), which every destination writes from; the ring's memory
//! is mapped once, before the first line.

use core::fmt::Write as _;
use std::sync::atomic::{AtomicI32, AtomicU8, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::sys::{self, FixedBuf};

/// Console output that may wait for a slow or stopped console: about three
/// seconds of a 115200-baud serial line.
pub const RING_BYTES: usize = 32 * 1024;

/// How long queued console output may hold up an exec (reexec, EXEC
/// objects) and the final power step.
pub const EXEC_FLUSH_MS: u64 = 500;
pub const POWER_FLUSH_MS: u64 = 2_000;

static KMSG_FD: AtomicI32 = AtomicI32::new(-1);
/// The descriptor log lines go to the console through, as [`open_console`]
/// last chose it (PID 1's own non-blocking one, else fd 2), for
/// [`error_from_signal_handler`], which cannot take CONSOLE's lock.
static LOG_CONSOLE_FD: AtomicI32 = AtomicI32::new(2);
static FILE_FD: AtomicI32 = AtomicI32::new(-1);
/// The most detailed [`Level`] written, as a number: none (0) until [`init`]
/// (a program that runs PID 1's code without being it, the `ioc` tool or a
/// test, writes none of its log lines), then Info's, or Debug's when the
/// command line asks for it.
static MOST_DETAILED: AtomicU8 = AtomicU8::new(0);
static CONSOLE: Mutex<Console> = Mutex::new(Console { ring: Ring::new(RingMemory(None)), outputs: [Output::Inherited, Output::Inherited] });

/// The two console streams: the index of their [`Output`] and the tag of
/// their records in the ring.
const STATUS: u8 = 0;
const LOG: u8 = 1;

/// The inherited descriptor of a stream: status lines go to stdout, log
/// lines to stderr (for PID 1 both are the console).
fn inherited_fd(stream: u8) -> i32 {
    if stream == STATUS {
        1
    } else {
        2
    }
}

/// Where `stream`'s entry is in a pair kept per stream (`Console::outputs`):
/// anything not STATUS is LOG, as for [`inherited_fd`], so the index is 0
/// or 1, never past the pair.
fn output_index(stream: u8) -> usize {
    usize::from(stream != STATUS)
}

/// How PID 1 writes one console stream.
enum Output {
    /// fd 1 or 2 itself: before [`open_console`], and for a regular file
    /// (nothing there waits for a reader).
    Inherited,
    /// A description of its own of the same file (a terminal, a pipe, a
    /// character device), opened O_NONBLOCK.
    Own(sys::Fd),
    /// A socket: fd 1 or 2 with MSG_DONTWAIT, no description of our own.
    Socket,
}

/// What one write to the console did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Written {
    Bytes(usize),
    /// Full (EAGAIN): try again when it is writable.
    Blocked,
    /// It cannot take output at all (EIO of a hung-up terminal, EPIPE): the
    /// record is discarded.
    Failed,
}

struct Console {
    ring: Ring<RingMemory>,
    outputs: [Output; 2],
}

/// The console ring's bytes: none before [`init`] maps them (a line the
/// console does not take then is dropped and counted; the notice goes out
/// once the ring has room).
struct RingMemory(Option<sys::LazyBuf<RING_BYTES>>);

// SAFETY: the mapping is owned by the one RingMemory, behind CONSOLE's lock.
#[allow(unsafe_code)]
unsafe impl Send for RingMemory {}

impl AsRef<[u8]> for RingMemory {
    fn as_ref(&self) -> &[u8] {
        self.0.as_deref().map_or(&[], |m| m.as_slice())
    }
}

impl AsMut<[u8]> for RingMemory {
    fn as_mut(&mut self) -> &mut [u8] {
        self.0.as_deref_mut().map_or(&mut [], |m| m.as_mut_slice())
    }
}

impl Ring<RingMemory> {
    /// Once the ring has run empty, the pages its records took go back to
    /// the kernel: a console that was slow once (a serial line at boot)
    /// does not leave them resident for PID 1's whole life.
    fn release_when_empty(&mut self) {
        if self.used == 0 && std::mem::take(&mut self.written) {
            if let Some(memory) = &mut self.buf.0 {
                memory.release();
            }
        }
    }
}

impl Console {
    /// Writes what the console takes now.
    fn drain(&mut self) {
        let outputs = &self.outputs;
        self.ring.drain(|stream, bytes| write_output(outputs, stream, bytes));
        self.ring.release_when_empty();
    }

    /// Writes `line` at once when nothing waits before it; what the console
    /// does not take waits in the ring (written when the console is
    /// writable again: it has just said it is not).
    fn write_or_queue(&mut self, stream: u8, line: &[u8]) {
        if line.is_empty() {
            return;
        }
        if !self.ring.is_idle() {
            self.ring.push(stream, line);
            self.drain();
            return;
        }
        let rest = match write_output(&self.outputs, stream, line) {
            Written::Bytes(n) => line.get(n..).unwrap_or_default(),
            Written::Blocked => line,
            Written::Failed => return,
        };
        if !rest.is_empty() {
            self.ring.push(stream, rest);
        }
    }

    /// The descriptor to poll for POLLOUT while output waits.
    fn pending_fd(&self) -> Option<i32> {
        let stream = self.ring.head_stream()?;
        Some(match &self.outputs[output_index(stream)] {
            Output::Own(own) => own.0,
            Output::Inherited | Output::Socket => inherited_fd(stream),
        })
    }
}

fn write_output(outputs: &[Output; 2], stream: u8, bytes: &[u8]) -> Written {
    let fd = inherited_fd(stream);
    let result = match &outputs[output_index(stream)] {
        Output::Inherited => sys::write_some(fd, bytes),
        Output::Own(own) => sys::write_some(own.0, bytes),
        Output::Socket => {
            use nix::sys::socket::MsgFlags;
            nix::sys::socket::send(fd, bytes, MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL).map_err(|e| e as i32)
        }
    };
    match result {
        Ok(0) => Written::Failed,
        Ok(n) => Written::Bytes(n),
        Err(libc::EAGAIN) => Written::Blocked,
        Err(_) => Written::Failed,
    }
}

fn console() -> MutexGuard<'static, Console> {
    CONSOLE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Writes a console line, or what the console does not take now later.
fn to_console(stream: u8, line: &[u8]) {
    console().write_or_queue(stream, line);
}

/// Gives PID 1 console descriptors of its own that never block: the files
/// behind fds 1 and 2 opened again (through /proc/self/fd) with O_NONBLOCK,
/// a new open file description, so fds 0-2 stay blocking for children.
/// Called again after the console changes (fds 0-2 replaced).
pub fn open_console() {
    let mut failed: [Option<i32>; 2] = [None; 2];
    {
        let mut c = console();
        for stream in [STATUS, LOG] {
            let (output, error) = own_output(inherited_fd(stream));
            if stream == LOG {
                // Before the old descriptor closes (the assignment below).
                let fd = if let Output::Own(own) = &output { own.0 } else { inherited_fd(LOG) };
                LOG_CONSOLE_FD.store(fd, Ordering::Relaxed);
            }
            c.outputs[output_index(stream)] = output;
            failed[output_index(stream)] = error;
        }
        c.drain();
    }
    for (fd, error) in [1, 2].into_iter().zip(failed) {
        if let Some(e) = error {
            crate::logging::warn!("console: cannot open fd {fd} again non-blocking ({}); writes to it may block", crate::sys::errno_text(e));
        }
    }
}

/// How to write `fd` without blocking, and the errno if that is not possible.
fn own_output(fd: i32) -> (Output, Option<i32>) {
    let Ok(st) = nix::sys::stat::fstat(fd) else {
        // Not open: writes fail at once and are dropped.
        return (Output::Inherited, None);
    };
    match st.st_mode & libc::S_IFMT {
        libc::S_IFREG => (Output::Inherited, None),
        libc::S_IFSOCK => (Output::Socket, None),
        _ => {
            let mut path = sys::CPath::new();
            let _ = write!(path, "/proc/self/fd/{fd}");
            let opened = path.finish().ok_or(libc::ENAMETOOLONG).and_then(|p| {
                sys::Fd::open(p.as_cstr(), libc::O_WRONLY | libc::O_NONBLOCK | libc::O_NOCTTY, 0)
            });
            match opened {
                Ok(own) => (Output::Own(own), None),
                Err(e) => (Output::Inherited, Some(e)),
            }
        }
    }
}

/// The descriptor the event loop polls for POLLOUT: some while console
/// output waits.
pub fn console_fd() -> Option<i32> {
    console().pending_fd()
}

/// The console is writable (or in error): write what it takes.
pub fn drain_console() {
    console().drain();
}

/// Before an exec and at the final power step: writes what the console
/// takes within `timeout_ms`; the rest is lost.
pub fn flush_console(timeout_ms: u64) {
    let end = sys::now_ms().saturating_add(timeout_ms);
    loop {
        drain_console();
        let Some(fd) = console_fd() else { return };
        let now = sys::now_ms();
        if now >= end || !sys::wait_writable(fd, end - now) {
            return;
        }
    }
}

/// Writes `line` (`iocinit: ...`, ending in a newline) from a signal
/// handler as an error to the console and /dev/kmsg: no lock (the handler
/// may have interrupted a holder of CONSOLE's), no allocation, one system
/// call each, none that waits. The console as log lines reach it: PID 1's
/// non-blocking descriptor, so a console stopped by XOFF does not park it
/// here; a socket with MSG_DONTWAIT (send fails with ENOTSOCK on anything
/// else, which is then written). What the console does not take now is
/// lost, and so is output still waiting in the ring.
pub fn error_from_signal_handler(line: &[u8]) {
    let console = LOG_CONSOLE_FD.load(Ordering::Relaxed);
    let (at, len) = (line.as_ptr().cast(), line.len());
    // SAFETY: `line` is valid for its length; send and write are
    // async-signal-safe and only read it.
    #[allow(unsafe_code)]
    let sent = unsafe { libc::send(console, at, len, libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL) };
    if sent < 0 && nix::errno::Errno::last_raw() == libc::ENOTSOCK {
        // SAFETY: as above.
        #[allow(unsafe_code)]
        unsafe {
            libc::write(console, at, len);
        }
    }
    let kmsg = KMSG_FD.load(Ordering::Relaxed);
    if kmsg >= 0 {
        let record = [b"<3>".as_slice(), line].map(|part| libc::iovec { iov_base: part.as_ptr().cast_mut().cast(), iov_len: part.len() });
        // SAFETY: both parts are valid for their lengths; writev is
        // async-signal-safe. /dev/kmsg takes one write(v) as one record.
        #[allow(unsafe_code)]
        unsafe {
            libc::writev(kmsg, record.as_ptr(), record.len() as i32);
        }
    }
}

/// Also log to the kernel ring buffer (real boots only: a test namespace
/// must not write into the host's log).
pub fn open_kmsg() {
    if let Ok(fd) = sys::Fd::open(c"/dev/kmsg", libc::O_WRONLY | libc::O_NOCTTY | libc::O_NONBLOCK, 0) {
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

/// The longest line (a longer one is cut, its newline kept): a log line, a
/// status line.
const LINE_MAX: usize = 1200;
/// Room before a line for the longest prefix a destination puts there:
/// /dev/kmsg's level (`<3>`), the system log's timestamp
/// (`2026-12-01 04:56:27 `, 27 bytes with the longest year a C `int` holds).
const PREFIX_ROOM: usize = 32;

/// One line as it goes out, formatted once: the console takes it as it
/// is, /dev/kmsg and the system log with their prefix written into the
/// room before it, not each a copy of the line of its own.
struct OutLine {
    bytes: [u8; PREFIX_ROOM + LINE_MAX],
    len: usize,
}

impl OutLine {
    const fn new() -> Self {
        OutLine { bytes: [0; PREFIX_ROOM + LINE_MAX], len: 0 }
    }

    /// Appends what fits of BYTES, through the fixed buffers' one copy.
    fn push(&mut self, bytes: &[u8]) {
        self.line_room().push(bytes);
    }

    /// The room after the prefix's, as a fixed buffer of [`LINE_MAX`] bytes.
    fn line_room(&mut self) -> sys::AnySize<'_> {
        sys::AnySize::new(&mut self.bytes[PREFIX_ROOM..], &mut self.len)
    }

    /// Ends the line with a newline, over its last byte when it is full.
    fn end(&mut self) {
        self.len = self.len.min(LINE_MAX - 1);
        self.push(b"\n");
    }

    fn text(&self) -> &[u8] {
        self.bytes[PREFIX_ROOM..].get(..self.len).unwrap_or_default()
    }

    /// The line with `prefix` (its first [`PREFIX_ROOM`] bytes) before it.
    fn prefixed(&mut self, prefix: &[u8]) -> &[u8] {
        let prefix = &prefix[..prefix.len().min(PREFIX_ROOM)];
        let from = PREFIX_ROOM - prefix.len();
        self.bytes[from..PREFIX_ROOM].copy_from_slice(prefix);
        &self.bytes[from..PREFIX_ROOM + self.len]
    }
}

impl core::fmt::Write for OutLine {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.push(s.as_bytes());
        Ok(())
    }

    fn write_fmt(&mut self, args: core::fmt::Arguments<'_>) -> core::fmt::Result {
        self.line_room().write_fmt(args)
    }
}

/// The line to the system log, after a timestamp (when it is open).
fn to_system_log(line: &mut OutLine) {
    let file = FILE_FD.load(Ordering::Relaxed);
    if file < 0 {
        return;
    }
    let mut stamp = FixedBuf::<PREFIX_ROOM>::new();
    if let Some(t) = sys::local_time(sys::wall_secs()) {
        let _ = write!(stamp, "{:04}-{:02}-{:02} {:02}:{:02}:{:02} ", t.year, t.month, t.day, t.hour, t.minute, t.second);
    }
    sys::write_fd(file, line.prefixed(stamp.as_bytes()));
}

/// A complete line of text (already ending in a newline, of any length:
/// the boot banner, the emergency shell's notice) for the console and the
/// system log.
pub fn console_line(line: &[u8]) {
    to_console(STATUS, line);
    let mut out = OutLine::new();
    out.push(line);
    to_system_log(&mut out);
}

/// A boot or shutdown status line (ending in a newline), formatted once
/// into the line buffer, for the console and the system log. Out of line:
/// its buffer is on the stack while a status line is written, not in the
/// frame of the engine's every report (most go to the log instead).
#[inline(never)]
pub fn status_line(line: core::fmt::Arguments<'_>) {
    let mut out = OutLine::new();
    let _ = out.write_fmt(line);
    to_console(STATUS, out.text());
    to_system_log(&mut out);
}

/// How much a log line matters: its prefix on the console, its level in
/// /dev/kmsg, and whether it is written at all ([`MOST_DETAILED`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Error = 1,
    Warn,
    Info,
    Debug,
}

/// A log line at `level` (`Debug` only when [`init`] was told so, nothing
/// before it), escaped, to the console, /dev/kmsg and the system log. The
/// logging macros' one call: out of line, so that a call site is the
/// level, its `format_args!`, and this call.
#[inline(never)]
pub fn emit(level: Level, args: core::fmt::Arguments<'_>) {
    if level as u8 > MOST_DETAILED.load(Ordering::Relaxed) {
        return;
    }
    let mut line = OutLine::new();
    let _ = line.write_str("iocinit: ");
    match level {
        Level::Error => line.push(b"error: "),
        Level::Warn => line.push(b"warning: "),
        Level::Info | Level::Debug => {}
    }
    let _ = Escaped(&mut line).write_fmt(args);
    line.end();
    to_console(LOG, line.text());
    let kmsg = KMSG_FD.load(Ordering::Relaxed);
    if kmsg >= 0 {
        let prefix: &[u8] = match level {
            Level::Error => b"<3>",
            Level::Warn => b"<4>",
            Level::Info => b"<6>",
            Level::Debug => b"<7>",
        };
        sys::write_fd(kmsg, line.prefixed(prefix));
    }
    to_system_log(&mut line);
}

/// `error!("format", args...)`: a log line `iocinit: error: ...` ([`emit`]).
macro_rules! log_error {
    ($($arg:tt)+) => {
        $crate::logging::emit($crate::logging::Level::Error, format_args!($($arg)+))
    };
}

/// `warn!("format", args...)`: a log line `iocinit: warning: ...` ([`emit`]).
macro_rules! log_warn {
    ($($arg:tt)+) => {
        $crate::logging::emit($crate::logging::Level::Warn, format_args!($($arg)+))
    };
}

/// `info!("format", args...)`: a log line `iocinit: ...` ([`emit`]).
macro_rules! log_info {
    ($($arg:tt)+) => {
        $crate::logging::emit($crate::logging::Level::Info, format_args!($($arg)+))
    };
}

/// `debug!("format", args...)`: a log line `iocinit: ...` when debugging
/// is on ([`emit`]).
macro_rules! log_debug {
    ($($arg:tt)+) => {
        $crate::logging::emit($crate::logging::Level::Debug, format_args!($($arg)+))
    };
}

// Every module logs with `crate::logging::warn!(...)` and the like. The
// macros are renamed on the way out: `use warn;` of a `macro_rules! warn`
// is ambiguous with the builtin attribute `#[warn]`.
pub(crate) use {log_debug as debug, log_error as error, log_info as info, log_warn as warn};

/// Writes through to a line with control characters escaped (`\n`,
/// `\x1b`, `\u{9b}`): a name someone else chose (an IOC file's) must
/// neither end a log line and forge the next one nor drive the terminal of
/// whoever reads the console (or, in `ioc`'s overwrite diff, a file's
/// line the terminal of whoever installs it).
pub struct Escaped<'a, W>(pub &'a mut W);

impl<W: core::fmt::Write> core::fmt::Write for Escaped<'_, W> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let mut plain = 0;
        for (at, c) in s.char_indices().filter(|(_, c)| c.is_control()) {
            let _ = self.0.write_str(s.get(plain..at).unwrap_or_default());
            let _ = match c {
                '\n' => self.0.write_str("\\n"),
                '\r' => self.0.write_str("\\r"),
                '\t' => self.0.write_str("\\t"),
                c if (c as u32) < 0x80 => write!(self.0, "\\x{:02x}", c as u32),
                c => write!(self.0, "\\u{{{:x}}}", c as u32),
            };
            plain = at + c.len_utf8();
        }
        self.0.write_str(s.get(plain..).unwrap_or_default())
    }
}

/// Text in double quotes, escaped as Rust's `{:?}` escapes it, for a
/// message that shows what someone typed (`unknown option "--x\n"`): the
/// same bytes as `{:?}` for every ASCII text, without core's Debug escaping
/// and the Unicode tables it consults (docs/ARCHITECTURE.md, "Binary
/// size"). `\\`, `\"`, `\0`, `\t`, `\r`, `\n`, and every other control
/// character as `\u{1b}` (C1 ones too, `\u{9b}`); other characters pass
/// through, even those `{:?}` escapes as not printable (U+200B, unassigned
/// ones, a combining mark). [`Quoted::os`] quotes as an `OsStr`'s `{:?}`
/// does: a byte that is not UTF-8 as `\xFF`.
pub struct Quoted<'a>(&'a [u8]);

impl<'a> Quoted<'a> {
    pub fn text(text: &'a str) -> Self {
        Quoted(text.as_bytes())
    }

    pub fn os(text: &'a std::ffi::OsStr) -> Self {
        Quoted(std::os::unix::ffi::OsStrExt::as_bytes(text))
    }
}

impl core::fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_char('"')?;
        for chunk in self.0.utf8_chunks() {
            let valid = chunk.valid();
            let (mut plain, mut at) = (0, 0);
            // Bytes, not chars: what is escaped is ASCII, or a C1 control
            // (U+0080 to U+009F: 0xC2 and its second byte), so every cut is
            // at a char boundary and no char is decoded.
            while let Some(rest) = valid.as_bytes().get(at..).filter(|rest| !rest.is_empty()) {
                let (code, len) = match *rest {
                    [0xc2, second @ 0x80..=0x9f, ..] => (second, 2),
                    [byte, ..] if byte.is_ascii() => (byte, 1),
                    _ => (b' ', 1), // a byte of another character: passed through
                };
                let escape = match code {
                    b'"' => "\\\"",
                    b'\\' => "\\\\",
                    b'\0' => "\\0",
                    b'\t' => "\\t",
                    b'\r' => "\\r",
                    b'\n' => "\\n",
                    0..=0x1f | 0x7f..=0x9f => "",
                    _ => {
                        at += len;
                        continue;
                    }
                };
                f.write_str(valid.get(plain..at).unwrap_or_default())?;
                if escape.is_empty() {
                    // A control character: `\u{` and one or two digits.
                    f.write_str("\\u{")?;
                    if code >= 0x10 {
                        f.write_char(hex_digit(code >> 4, false))?;
                    }
                    f.write_char(hex_digit(code, false))?;
                    f.write_char('}')?;
                } else {
                    f.write_str(escape)?;
                }
                at += len;
                plain = at;
            }
            f.write_str(valid.get(plain..).unwrap_or_default())?;
            for &byte in chunk.invalid() {
                f.write_str("\\x")?;
                f.write_char(hex_digit(byte >> 4, true))?;
                f.write_char(hex_digit(byte, true))?;
            }
        }
        f.write_char('"')
    }
}

/// The hex digit of the low four bits of `value` (a pure function: the trap
/// reporter's signal handler writes its address with it too).
pub(crate) fn hex_digit(value: u8, upper: bool) -> char {
    let digit = char::from(b"0123456789abcdef"[usize::from(value & 15)]);
    if upper { digit.to_ascii_uppercase() } else { digit }
}

/// An `io::Error` of KIND with a message of the program's own. Not
/// `io::Error::new(kind, message)`: that boxes the text as std's
/// `StringError`, whose `Debug`, in its vtable and so linked though nothing
/// writes it, is core's Debug escaping with its Unicode tables; this
/// message's is [`Quoted`] (the same text for an ASCII message).
pub fn io_error(kind: std::io::ErrorKind, message: impl Into<String>) -> std::io::Error {
    std::io::Error::new(kind, ErrorMessage(message.into()))
}

struct ErrorMessage(String);

impl core::fmt::Display for ErrorMessage {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.0)
    }
}

impl core::fmt::Debug for ErrorMessage {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Display::fmt(&Quoted::text(&self.0), f)
    }
}

impl std::error::Error for ErrorMessage {}

/// Turns the log lines on (to the console only until
/// [`open_kmsg`]/[`open_file`]), Debug's too when `debug`, and maps the
/// console ring's memory.
pub fn init(debug: bool) {
    console().ring.buf.0.get_or_insert_with(sys::LazyBuf::new);
    MOST_DETAILED.store(if debug { Level::Debug } else { Level::Info } as u8, Ordering::Relaxed);
}

/// Each record: its stream, its length (u16, little-endian), its bytes.
const HEADER: usize = 3;

/// A fixed ring of console records in `buf`, oldest first, with a count of
/// what was dropped because it did not fit.
struct Ring<B> {
    buf: B,
    /// Where the oldest record starts.
    start: usize,
    used: usize,
    dropped_lines: u64,
    dropped_bytes: u64,
    /// Written since it last ran empty.
    written: bool,
}

impl<B: AsRef<[u8]> + AsMut<[u8]>> Ring<B> {
    const fn new(buf: B) -> Self {
        Ring { buf, start: 0, used: 0, dropped_lines: 0, dropped_bytes: 0, written: false }
    }

    fn capacity(&self) -> usize {
        self.buf.as_ref().len()
    }

    /// Nothing waits: no record, no notice of dropped ones.
    fn is_idle(&self) -> bool {
        self.used == 0 && self.dropped_lines == 0
    }

    fn head_stream(&self) -> Option<u8> {
        (self.used > 0).then(|| self.buf.as_ref()[self.start])
    }

    fn room_for(&self, len: usize) -> bool {
        HEADER + len <= self.capacity() - self.used
    }

    fn copy_in(&mut self, bytes: &[u8]) {
        let n = self.capacity();
        let at = (self.start + self.used) % n;
        let first = bytes.len().min(n - at);
        let buf = self.buf.as_mut();
        buf[at..at + first].copy_from_slice(&bytes[..first]);
        buf[..bytes.len() - first].copy_from_slice(&bytes[first..]);
        self.used += bytes.len();
        self.written = true;
    }

    fn append(&mut self, stream: u8, line: &[u8]) {
        let len = line.len() as u16;
        let [lo, hi] = len.to_le_bytes();
        self.copy_in(&[stream, lo, hi]);
        self.copy_in(line);
    }

    /// Queues `line` for `stream`, or drops and counts it when the ring is
    /// full. The notice of earlier drops goes first, once there is room.
    fn push(&mut self, stream: u8, whole: &[u8]) {
        let line = &whole[..whole.len().min(usize::from(u16::MAX)).min(self.capacity().saturating_sub(HEADER))];
        if line.is_empty() {
            // No room at all (no memory yet, before `init`): counted.
            if !whole.is_empty() {
                self.count_dropped(whole.len());
            }
            return;
        }
        if self.dropped_lines > 0 {
            let notice = self.drop_notice();
            if !self.room_for(notice.as_bytes().len() + HEADER + line.len()) {
                self.count_dropped(line.len());
                return;
            }
            self.append(LOG, notice.as_bytes());
            (self.dropped_lines, self.dropped_bytes) = (0, 0);
        }
        if !self.room_for(line.len()) {
            self.count_dropped(line.len());
            return;
        }
        self.append(stream, line);
    }

    fn count_dropped(&mut self, len: usize) {
        self.dropped_lines += 1;
        self.dropped_bytes += len as u64;
    }

    fn drop_notice(&self) -> FixedBuf<128> {
        let mut n = FixedBuf::new();
        let _ = writeln!(
            n,
            "iocinit: warning: console output dropped: {} line(s), {} bytes (the console did not take them)",
            self.dropped_lines, self.dropped_bytes
        );
        n
    }

    fn at(&self, k: usize) -> u8 {
        self.buf.as_ref()[(self.start + k) % self.capacity()]
    }

    /// Writes records, oldest first, while `write(stream, bytes)` takes them;
    /// the drop notice follows when the ring runs empty.
    fn drain(&mut self, mut write: impl FnMut(u8, &[u8]) -> Written) {
        loop {
            if self.used == 0 {
                if self.dropped_lines == 0 {
                    return;
                }
                let notice = self.drop_notice();
                if self.room_for(notice.as_bytes().len()) {
                    self.append(LOG, notice.as_bytes());
                }
                (self.dropped_lines, self.dropped_bytes) = (0, 0);
                if self.used == 0 {
                    return;
                }
            }
            let stream = self.at(0);
            let len = usize::from(u16::from_le_bytes([self.at(1), self.at(2)]));
            let n = self.capacity();
            let from = (self.start + HEADER) % n;
            let contiguous = len.min(n - from);
            let taken = match write(stream, &self.buf.as_ref()[from..from + contiguous]) {
                Written::Bytes(n) => n.min(contiguous),
                Written::Blocked => return,
                Written::Failed => len,
            };
            self.consume(stream, len, taken);
        }
    }

    /// `taken` bytes of the oldest record (`len` long) are gone; a partly
    /// written record keeps its header just before what is left.
    fn consume(&mut self, stream: u8, len: usize, taken: usize) {
        let n = self.capacity();
        if taken >= len {
            self.start = (self.start + HEADER + len) % n;
            self.used -= HEADER + len;
        } else {
            self.start = (self.start + taken) % n;
            self.used -= taken;
            let [lo, hi] = ((len - taken) as u16).to_le_bytes();
            for (k, b) in [stream, lo, hi].into_iter().enumerate() {
                self.buf.as_mut()[(self.start + k) % n] = b;
            }
        }
        if self.used == 0 {
            self.start = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn control_characters_in_a_message_are_escaped() {
        let mut line = FixedBuf::<200>::new();
        let name = "evil\niocinit: FORGED\x1b[2J\r\t\u{9b}1m\x7f ok é.conf";
        let _ = write!(Escaped(&mut line), "{}: refused", format_args!("{name}"));
        assert_eq!(core::str::from_utf8(line.as_bytes()).unwrap(), "evil\\niocinit: FORGED\\x1b[2J\\r\\t\\u{9b}1m\\x7f ok é.conf: refused");
    }

    #[test]
    fn quoted_is_what_debug_writes_for_every_ascii_text() {
        let every_ascii: String = (0..0x80u8).map(char::from).collect();
        let mut texts = vec![every_ascii.clone(), String::new(), "it's \"x\"\\n".into(), "é \u{9b}1m \u{85}".into()];
        texts.extend(every_ascii.chars().map(|c| format!("a{c}b")));
        for text in &texts {
            assert_eq!(Quoted::text(text).to_string(), format!("{text:?}"));
            let os = std::ffi::OsStr::new(text);
            assert_eq!(Quoted::os(os).to_string(), format!("{os:?}"));
        }
    }

    #[test]
    fn quoted_bytes_that_are_not_utf8_are_what_debug_writes() {
        use std::os::unix::ffi::OsStrExt;
        let texts: [&[u8]; 7] = [b"\xff", b"a\xc3", b"\xe2\x82 \xe2\x82\xac", b"\xed\xa0\x80x", b"\xf4\x90\x80\x80", b"\xc3\xa9\x80\n'\"", b"\xf0\x9f\x98"];
        for bytes in texts {
            let os = std::ffi::OsStr::from_bytes(bytes);
            assert_eq!(Quoted::os(os).to_string(), format!("{os:?}"));
        }
    }

    #[test]
    fn quoted_passes_through_what_debug_escapes_as_not_printable() {
        assert_eq!(Quoted::text("a\u{200b}\u{301}").to_string(), "\"a\u{200b}\u{301}\"");
        assert_ne!(format!("{:?}", "a\u{200b}"), "\"a\u{200b}\"");
    }

    #[test]
    fn a_line_is_formatted_once_and_each_destination_puts_its_prefix_before_it() {
        let mut line = OutLine::new();
        let what = "started";
        let _ = write!(line, "iocinit: {what}");
        line.end();
        assert_eq!(line.text(), b"iocinit: started\n");
        assert_eq!(line.prefixed(b"<6>"), b"<6>iocinit: started\n");
        assert_eq!(line.prefixed(b"2026-12-01 04:56:27 "), b"2026-12-01 04:56:27 iocinit: started\n");
        assert_eq!(line.prefixed(&[b'9'; 40]), [&[b'9'; PREFIX_ROOM][..], b"iocinit: started\n"].concat());
        assert_eq!(line.text(), b"iocinit: started\n");
    }

    #[test]
    fn a_line_cut_at_its_longest_still_ends_in_a_newline() {
        let mut line = OutLine::new();
        line.push(&[b'x'; LINE_MAX + 10]);
        line.end();
        assert_eq!(line.text().len(), LINE_MAX);
        assert!(line.text().ends_with(b"x\n"));
    }

    /// A console that takes at most `chunk` bytes per write, `budget` in all.
    struct Fake {
        out: Vec<(u8, u8)>,
        chunk: usize,
        budget: usize,
    }

    impl Fake {
        fn write(&mut self, stream: u8, bytes: &[u8]) -> Written {
            if self.budget == 0 {
                return Written::Blocked;
            }
            let n = bytes.len().min(self.chunk).min(self.budget);
            self.budget -= n;
            self.out.extend(bytes[..n].iter().map(|&b| (stream, b)));
            Written::Bytes(n)
        }

        fn text(&self) -> String {
            String::from_utf8(self.out.iter().map(|&(_, b)| b).collect()).unwrap()
        }
    }

    #[test]
    fn records_come_out_whole_and_in_order_across_partial_writes_and_the_wrap() {
        let mut ring = Ring::new([0u8; 64]);
        let mut console = Fake { out: Vec::new(), chunk: 5, budget: 0 };
        let mut expected = Vec::new();
        for round in 0..40u8 {
            let line = format!("line {round}\n");
            let stream = round % 2;
            ring.push(stream, line.as_bytes());
            expected.extend(line.bytes().map(|b| (stream, b)));
            console.budget += 7;
            ring.drain(|s, b| console.write(s, b));
        }
        console.budget = usize::MAX;
        ring.drain(|s, b| console.write(s, b));
        assert_eq!(console.out, expected, "{}", console.text());
        assert_eq!(ring.used, 0);
    }

    #[test]
    fn a_full_ring_drops_and_counts_then_says_so() {
        let mut ring = Ring::new([0u8; 160]);
        for k in 0..20 {
            ring.push(STATUS, format!("status {k:02}\n").as_bytes());
        }
        // 13 bytes a record: 12 fit, 8 lines of 10 bytes are dropped.
        assert_eq!((ring.used, ring.dropped_lines, ring.dropped_bytes), (156, 8, 80));
        let mut console = Fake { out: Vec::new(), chunk: usize::MAX, budget: usize::MAX };
        ring.drain(|s, b| console.write(s, b));
        let text = console.text();
        assert!(text.starts_with("status 00\nstatus 01\n") && text.contains("status 11\niocinit: warning"), "{text}");
        assert!(text.ends_with("console output dropped: 8 line(s), 80 bytes (the console did not take them)\n"), "{text}");
        assert_eq!(console.out.last().unwrap().0, LOG);
        assert_eq!((ring.used, ring.dropped_lines), (0, 0));
        // Room again: the next line is queued after the notice of the ones before it.
        ring.push(STATUS, b"x\n");
        for k in 0..20 {
            ring.push(STATUS, format!("status {k:02}\n").as_bytes());
        }
        console.budget = 102;
        ring.drain(|s, b| console.write(s, b));
        ring.push(LOG, b"after\n");
        console.budget = usize::MAX;
        ring.drain(|s, b| console.write(s, b));
        assert!(console.text().ends_with("status 10\niocinit: warning: console output dropped: 9 line(s), 90 bytes (the console did not take them)\nafter\n"), "{}", console.text());
    }

    #[test]
    fn a_ring_without_memory_counts_what_it_drops() {
        // Before `init` maps the ring's memory: nothing is kept, all counted.
        let mut ring = Ring::new([0u8; 0]);
        ring.push(LOG, b"early\n");
        assert_eq!((ring.used, ring.dropped_lines, ring.dropped_bytes), (0, 1, 6));
        assert!(!ring.is_idle());
        let mut console = Fake { out: Vec::new(), chunk: usize::MAX, budget: usize::MAX };
        ring.drain(|s, b| console.write(s, b));
        assert!(ring.is_idle());
    }

    #[test]
    fn a_console_that_fails_loses_its_output_without_spinning() {
        let mut ring = Ring::new([0u8; 256]);
        ring.push(LOG, b"one\n");
        ring.push(STATUS, b"two\n");
        let mut calls = 0;
        ring.drain(|_, _| {
            calls += 1;
            Written::Failed
        });
        assert_eq!((calls, ring.used), (2, 0));
    }

    /// Resident pages of the console ring's memory.
    #[allow(unsafe_code)]
    fn resident_pages(memory: &RingMemory) -> usize {
        const PAGE: usize = 4096;
        let mut resident = [0u8; RING_BYTES / PAGE];
        let bytes = memory.as_ref();
        // SAFETY: mincore of the ring's own page-aligned mapping, one byte
        // of the vector a page.
        assert_eq!(unsafe { libc::mincore(bytes.as_ptr() as *mut libc::c_void, bytes.len(), resident.as_mut_ptr()) }, 0);
        resident.iter().filter(|&&r| r & 1 != 0).count()
    }

    #[test]
    fn the_ring_holds_only_what_the_console_did_not_take_and_only_while_it_waits() {
        let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_NONBLOCK | nix::fcntl::OFlag::O_CLOEXEC).unwrap();
        let own = || Output::Own(sys::Fd(nix::unistd::dup(write.as_raw_fd()).unwrap()));
        let mut console = Console { ring: Ring::new(RingMemory(Some(sys::LazyBuf::new()))), outputs: [own(), own()] };
        assert!(console.ring.buf.0.as_ref().is_some_and(sys::LazyBuf::is_mapped), "the ring is a mapping of its own");
        let mut out = vec![0u8; 1 << 20];
        let mut read_all = || nix::unistd::read(read.as_raw_fd(), &mut out).map(|n| out[..n].to_vec()).unwrap_or_default();
        // A console that takes the line: straight there, the ring untouched.
        console.write_or_queue(STATUS, b"hello\n");
        assert_eq!(read_all(), b"hello\n");
        assert!(!console.ring.written);
        assert_eq!(resident_pages(&console.ring.buf), 0);
        // A full pipe: what it does not take waits in the ring, resident.
        let line = [b'x'; 1000];
        while sys::write_some(write.as_raw_fd(), &line).is_ok() {}
        for _ in 0..8 {
            console.write_or_queue(LOG, &line);
        }
        assert_eq!(console.ring.used, 8 * (HEADER + line.len()));
        assert!(resident_pages(&console.ring.buf) >= 2);
        // The console takes it all: the ring's pages go back.
        while !console.ring.is_idle() {
            read_all();
            console.drain();
        }
        assert_eq!(resident_pages(&console.ring.buf), 0);
        console.write_or_queue(STATUS, b"again\n");
        assert!(read_all().ends_with(b"again\n"));
        assert_eq!(resident_pages(&console.ring.buf), 0);
    }

    #[test]
    fn a_line_longer_than_the_ring_is_cut() {
        let mut ring = Ring::new([0u8; 32]);
        ring.push(LOG, &[b'x'; 100]);
        assert_eq!(ring.used, 32);
        let mut console = Fake { out: Vec::new(), chunk: usize::MAX, budget: usize::MAX };
        ring.drain(|s, b| console.write(s, b));
        assert_eq!(console.out.len(), 32 - HEADER);
    }
}
