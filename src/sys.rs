//! Small, allocation-free wrappers around the system calls the supervisor uses
//! in its steady state: clocks, kill, reaping, reading small /proc files into
//! fixed buffers, walking /proc, and atomic state files.
//!
//! Nothing here allocates: paths are formatted into stack buffers ([`CPath`]),
//! files are read into caller-provided buffers. That is what lets the event
//! loop promise zero heap allocations per event.

#![allow(unsafe_code)]

use core::fmt::Write as _;
use std::ffi::CStr;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::io;


pub type Pid = i32;

/// TEXT as `str::parse::<i32>` reads it (a sign, decimal digits, no
/// overflow), through std's `i64` parser: std instantiates its parser once
/// per integer type, and the `i64` one is linked anyway (the `i32` one was
/// 230 bytes of armv7 code; with its callers' code, .text -344:
/// docs/ARCHITECTURE.md, "Binary size").
pub fn parse_i32(text: &str) -> Option<i32> {
    i32::try_from(text.parse::<i64>().ok()?).ok()
}

/// Milliseconds on CLOCK_MONOTONIC: every deadline of the engine.
pub fn now_ms() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime only writes the timespec we pass.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1000 + ts.tv_nsec as u64 / 1_000_000
}

/// The kernel's clock ticks (USER_HZ, 100 a second on Linux) since boot
/// now, as /proc/PID/stat counts a process's start time: floor of
/// CLOCK_BOOTTIME, so a process started after this call never shows an
/// earlier start time (time namespaces shift both alike).
pub fn boot_ticks() -> u64 {
    const NANOS_PER_TICK: u64 = 1_000_000_000 / 100;
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: as above.
    unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) };
    (ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64) / NANOS_PER_TICK
}

/// Seconds since the epoch (for "started at" displays only).
pub fn wall_secs() -> i64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: as above.
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
    // time_t is 32 bits on some 32-bit targets (the libc crate still binds
    // musl's 32-bit time compat symbols there, correct until 2038).
    #[allow(clippy::useless_conversion)]
    i64::from(ts.tv_sec)
}

fn last_errno() -> i32 {
    io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO)
}

/// kill(2); `Err(errno)` on failure.
pub fn kill(pid: Pid, signal: i32) -> Result<(), i32> {
    // SAFETY: kill has no memory effects.
    if unsafe { libc::kill(pid, signal) } == 0 {
        Ok(())
    } else {
        Err(last_errno())
    }
}

/// Whether a process with this pid exists (a zombie counts until reaped).
pub fn pid_exists(pid: Pid) -> bool {
    pid > 0 && matches!(kill(pid, 0), Ok(()) | Err(libc::EPERM))
}

/// One reaped child: its pid and raw wait status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reaped {
    pub pid: Pid,
    pub status: ExitStatus,
}

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    Exited(u8),
    Signaled(i32),
}

impl ExitStatus {
    pub fn from_wait(status: i32) -> Self {
        if libc::WIFEXITED(status) {
            ExitStatus::Exited(libc::WEXITSTATUS(status) as u8)
        } else {
            ExitStatus::Signaled(libc::WTERMSIG(status))
        }
    }

    pub fn success(self) -> bool {
        self == ExitStatus::Exited(0)
    }
}

impl core::fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ExitStatus::Exited(code) => write!(f, "exit code {code}"),
            ExitStatus::Signaled(sig) => write!(f, "killed by {}", signal_name(*sig)),
        }
    }
}

/// fd 0, lent as std's `Stdin::as_fd` lends it, without making std's
/// `Stdin` (its once-initialised, locked `BufReader`, which nothing here
/// reads through: docs/ARCHITECTURE.md, "Binary size").
pub fn stdin() -> std::os::fd::BorrowedFd<'static> {
    // SAFETY: fd 0 stays open while the program runs (`main` opens it on
    // /dev/null, or the root directory, when it starts closed); std's
    // `Stdin::as_fd` borrows it the same way.
    unsafe { std::os::fd::BorrowedFd::borrow_raw(0) }
}

/// fd 0 as a `File` to read from, never closed (it is not dropped): not a
/// duplicate, whose F_DUPFD_CLOEXEC was the program's only call of the C
/// library's `fcntl` ([`fcntl`]).
pub fn stdin_file() -> std::mem::ManuallyDrop<std::fs::File> {
    // SAFETY: fd 0 stays open while the program runs (see `stdin`), and
    // the file, never dropped, does not close it.
    std::mem::ManuallyDrop::new(unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(0) })
}

/// Writes all of `bytes` to a descriptor the caller does not own (the
/// console, a log); errors are dropped, as there is nowhere to report them.
pub fn write_fd(fd: i32, bytes: &[u8]) {
    let mut rest = bytes;
    while fd >= 0 && !rest.is_empty() {
        match write_some(fd, rest) {
            Ok(n) if n > 0 => rest = rest.get(n..).unwrap_or_default(),
            _ => return,
        }
    }
}

/// The size of a memory page, as the kernel tells every process at its
/// start (getauxval(3)'s AT_PAGESZ, where sysconf(3) reads it too); 4096
/// should it not. Not through sysconf: musl's is a table of all its names
/// with getrlimit behind it, 1 KB of armv7 code and data for the two this
/// program asks (docs/ARCHITECTURE.md, "Binary size").
pub fn page_size() -> usize {
    // SAFETY: getauxval only reads the auxiliary vector.
    match unsafe { libc::getauxval(libc::AT_PAGESZ) } {
        0 => 4096,
        page => page as usize,
    }
}

/// The clock ticks per second that /proc counts CPU time in (USER_HZ),
/// given as [`page_size`] is (AT_CLKTCK, glibc's sysconf answer; musl's is
/// the constant 100, USER_HZ on every architecture it runs on); 100
/// should the kernel not tell.
pub fn clock_ticks_per_second() -> u64 {
    // SAFETY: getauxval only reads the auxiliary vector.
    match unsafe { libc::getauxval(libc::AT_CLKTCK) } {
        0 => 100,
        // getauxval's c_ulong is u32 on armv7, u64 elsewhere.
        #[allow(clippy::unnecessary_cast)]
        ticks => ticks as u64,
    }
}

/// One write(2) (retried on EINTR): how much was taken, or the errno
/// (EAGAIN on a full non-blocking descriptor).
pub fn write_some(fd: i32, bytes: &[u8]) -> Result<usize, i32> {
    loop {
        // SAFETY: `bytes` is valid for its length.
        let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
        if n >= 0 {
            return Ok(n as usize);
        }
        let e = last_errno();
        if e != libc::EINTR {
            return Err(e);
        }
    }
}

/// Waits up to `timeout_ms` for `fd` to be readable (or at its end, or in
/// error: a read will then say so at once): `Ok(false)` when the time ran
/// out, the errno of poll(2) (EINTR: a signal came first) otherwise.
pub fn wait_readable(fd: i32, timeout_ms: u64) -> Result<bool, i32> {
    wait_for(fd, libc::POLLIN, timeout_ms)
}

/// poll(2) of the one descriptor `fd` for `events`, up to `timeout_ms`:
/// whether they came in time, or poll's errno.
fn wait_for(fd: i32, events: libc::c_short, timeout_ms: u64) -> Result<bool, i32> {
    let mut p = libc::pollfd { fd, events, revents: 0 };
    // SAFETY: one valid pollfd.
    match unsafe { libc::poll(&mut p, 1, timeout_ms.min(i32::MAX as u64) as i32) } {
        -1 => Err(last_errno()),
        n => Ok(n > 0),
    }
}

/// The size of the kernel's send buffer for socket `fd` (SO_SNDBUF; the
/// kernel doubles it for its own bookkeeping). setsockopt(2) itself, as
/// [`peer_credentials`] reads: musl's wrapper links its conversion of the
/// time64 options, which this is not.
pub fn set_send_buffer(fd: i32, bytes: usize) {
    let value = bytes.min(i32::MAX as usize) as libc::c_int;
    let len = core::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: setsockopt reads `len` bytes at the pointer, `value`'s.
    unsafe { libc::syscall(libc::SYS_setsockopt, fd, libc::SOL_SOCKET, libc::SO_SNDBUF, &value as *const libc::c_int, len) };
}

/// Waits up to `timeout_ms` for `fd` to be writable (or in error: a write
/// will then say so at once).
pub fn wait_writable(fd: i32, timeout_ms: u64) -> bool {
    wait_for(fd, libc::POLLOUT, timeout_ms) == Ok(true)
}

/// A calendar time in the local time zone (TZ, /etc/localtime).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LocalTime {
    pub year: i32,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
}

/// `unix_secs` in local time; `None` when the C library cannot represent it.
pub fn local_time(unix_secs: i64) -> Option<LocalTime> {
    // On 32-bit musl the libc crate's time_t is the 32-bit compat type
    // (deprecated there); localtime_r is its matching compat symbol.
    #[allow(deprecated)]
    let t = libc::time_t::try_from(unix_secs).ok()?;
    // SAFETY: an all-zero `tm` is a valid value (integers and, on glibc/musl,
    // a null `tm_zone` pointer); localtime_r only writes into it.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are valid for the call; localtime_r is the
    // reentrant variant and keeps no reference to them.
    if unsafe { libc::localtime_r(&t, &mut tm) }.is_null() {
        return None;
    }
    let field = |v: libc::c_int| u32::try_from(v).ok();
    Some(LocalTime {
        year: tm.tm_year.checked_add(1900)?,
        month: field(tm.tm_mon)? + 1,
        day: field(tm.tm_mday)?,
        hour: field(tm.tm_hour)?,
        minute: field(tm.tm_min)?,
        second: field(tm.tm_sec)?,
    })
}

/// PATH as the C string a system call takes; `None` when it holds a NUL.
pub fn path_c(path: &std::path::Path) -> Option<std::ffi::CString> {
    std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).ok()
}

/// access(2): whether the caller's real user and groups may use PATH as MODE
/// asks (`libc::R_OK`, `W_OK`, `X_OK`, or'd); a path holding a NUL may not.
/// nix's `access` converts a `Path` through a closure instance of its own,
/// with a second for long paths (docs/ARCHITECTURE.md, "Binary size").
pub fn may_access(path: &std::path::Path, mode: i32) -> bool {
    let Some(path) = path_c(path) else { return false };
    // SAFETY: a NUL-terminated path that outlives the call.
    unsafe { libc::access(path.as_ptr(), mode) == 0 }
}

/// Ignores SIGPIPE, as main does at start-up (as std's start-up does): a
/// write to a closed pipe is an error to handle, not a death.
pub fn ignore_sigpipe() {
    set_sigpipe_action(libc::SIG_IGN);
}

/// Restores SIGPIPE's default action (the process ends), which main sets to
/// "ignore" at start-up.
pub fn default_sigpipe() {
    set_sigpipe_action(libc::SIG_DFL);
}

/// sigaction(2) with SA_RESTART, as the C library's `signal` sets an action:
/// that wrapper, the program's only use of it, is not linked
/// (docs/ARCHITECTURE.md, "Binary size").
fn set_sigpipe_action(action: libc::sighandler_t) {
    // SAFETY: an all-zero sigaction is valid (empty mask, no flags).
    let mut sa: libc::sigaction = unsafe { core::mem::zeroed() };
    sa.sa_sigaction = action;
    sa.sa_flags = libc::SA_RESTART;
    // SAFETY: SIG_IGN and SIG_DFL install no handler; nothing can race with it.
    unsafe { libc::sigaction(libc::SIGPIPE, &sa, core::ptr::null_mut()) };
}

/// mount(2) of C strings (`None`: a null pointer), as PID 1 mounts and
/// remounts: nix's `mount` is generic over its four arguments' path types
/// and converts each through a closure of its own (684 bytes of armv7 code
/// for PID 1's five calls; docs/ARCHITECTURE.md, "Binary size").
pub fn mount(source: Option<&CStr>, target: &CStr, fstype: Option<&CStr>, flags: libc::c_ulong, data: Option<&CStr>) -> Result<(), i32> {
    let pointer = |text: Option<&CStr>| text.map_or(std::ptr::null(), CStr::as_ptr);
    // SAFETY: each pointer is null or a NUL-terminated string borrowed for the call.
    if unsafe { libc::mount(pointer(source), target.as_ptr(), pointer(fstype), flags, pointer(data).cast()) } == 0 {
        Ok(())
    } else {
        Err(last_errno())
    }
}

/// The filesystem type (statfs(2)'s `f_type`, a magic number) of what holds
/// `path`, of a C string as PID 1 mounts with [`mount`]; nix's `statfs`
/// would convert its path through a closure of its own.
pub fn fs_type(path: &CStr) -> Option<i64> {
    // SAFETY: all-zero bytes are a valid statfs (integers).
    let mut fs: libc::statfs = unsafe { core::mem::zeroed() };
    // SAFETY: `path` is NUL-terminated; statfs writes only into `fs`.
    // f_type is i64 on glibc x86_64, u64 on musl x86_64/aarch64, u32 on
    // armv7: the cast is needed on some targets and a no-op on others. The
    // magic numbers compared with it all fit in 32 bits.
    #[allow(clippy::unnecessary_cast)]
    (unsafe { libc::statfs(path.as_ptr(), &mut fs) } == 0).then_some(fs.f_type as i64)
}

/// The settings of the terminal at `fd`: ioctl(2)'s TCGETS itself, as the C
/// library's tcgetattr makes it (the kernel's `struct termios` is the start
/// of the C library's; the rest stays zero). musl's tcgetattr, tcsetattr and
/// tcflush call its `ioctl`, which also converts the requests that carry a
/// time64 value (no terminal request does) and links that conversion: 1 KB
/// of armv7 code and tables (docs/ARCHITECTURE.md, "Binary size").
pub fn terminal_settings(fd: BorrowedFd<'_>) -> Result<libc::termios, i32> {
    // SAFETY: all-zero bytes are a valid termios (integers and arrays).
    let mut settings: libc::termios = unsafe { core::mem::zeroed() };
    // SAFETY: TCGETS writes a kernel `struct termios` at the pointer, which
    // `settings` has room for.
    match unsafe { libc::syscall(libc::SYS_ioctl, fd.as_raw_fd(), libc::TCGETS as libc::c_ulong, &mut settings) } {
        0 => Ok(settings),
        _ => Err(last_errno()),
    }
}

/// Sets the terminal at `fd` to `settings` at once (TCSETS: tcsetattr's
/// TCSANOW), as [`terminal_settings`] reads them.
pub fn set_terminal_settings(fd: BorrowedFd<'_>, settings: &libc::termios) -> Result<(), i32> {
    // SAFETY: TCSETS reads a kernel `struct termios`, the start of `settings`.
    match unsafe { libc::syscall(libc::SYS_ioctl, fd.as_raw_fd(), libc::TCSETS as libc::c_ulong, settings) } {
        0 => Ok(()),
        _ => Err(last_errno()),
    }
}

/// `settings` made raw, as cfmakeraw(3) makes them: no echo, no line
/// editing, no signals from keys, no translation of input or output.
pub fn make_raw(settings: &mut libc::termios) {
    // SAFETY: cfmakeraw only changes the fields of the termios it is given.
    unsafe { libc::cfmakeraw(settings) }
}

/// Drops what was typed at the terminal at `fd` and not yet read (TCFLSH
/// with TCIFLUSH: tcflush's), as [`terminal_settings`] reads them.
pub fn discard_terminal_input(fd: BorrowedFd<'_>) {
    // SAFETY: TCFLSH takes its argument by value.
    unsafe { libc::syscall(libc::SYS_ioctl, fd.as_raw_fd(), libc::TCFLSH as libc::c_ulong, libc::TCIFLUSH as libc::c_ulong) };
}

/// Reaps one exited child without blocking; `None` when none is waiting.
pub fn reap_one() -> Option<Reaped> {
    try_reap(-1)
}

/// Reaps child `pid` (-1: any) if it has exited, without blocking.
pub fn try_reap(pid: Pid) -> Option<Reaped> {
    let mut status = 0;
    // SAFETY: waitpid writes only the status integer.
    let pid = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
    (pid > 0).then(|| Reaped { pid, status: ExitStatus::from_wait(status) })
}

/// A conventional name for a signal number ("SIGTERM"), or "signal N".
pub fn signal_name(signal: i32) -> SignalName {
    SignalName(signal)
}

pub struct SignalName(i32);

impl core::fmt::Display for SignalName {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let name = match self.0 {
            libc::SIGHUP => "SIGHUP",
            libc::SIGINT => "SIGINT",
            libc::SIGQUIT => "SIGQUIT",
            libc::SIGILL => "SIGILL",
            libc::SIGABRT => "SIGABRT",
            libc::SIGBUS => "SIGBUS",
            libc::SIGFPE => "SIGFPE",
            libc::SIGKILL => "SIGKILL",
            libc::SIGUSR1 => "SIGUSR1",
            libc::SIGSEGV => "SIGSEGV",
            libc::SIGUSR2 => "SIGUSR2",
            libc::SIGPIPE => "SIGPIPE",
            libc::SIGALRM => "SIGALRM",
            libc::SIGTERM => "SIGTERM",
            libc::SIGCHLD => "SIGCHLD",
            libc::SIGCONT => "SIGCONT",
            libc::SIGSTOP => "SIGSTOP",
            libc::SIGPWR => "SIGPWR",
            n => return write!(f, "signal {n}"),
        };
        f.write_str(name)
    }
}

/// The C library's text for errno `errno` ("No such file or directory"),
/// the text std's `io::Error` shows too. One table of texts in the binary,
/// the C library's, instead of a second one, nix's `Errno::desc` (4.5 KB on
/// armv7). On the stack, no allocation: usable in the event loop. Not in
/// the vfork child, which makes raw system calls only (glibc's
/// `strerror_r` may take gettext's lock).
pub fn errno_text(errno: i32) -> ErrnoText {
    let mut text = ErrnoText { errno, buf: [0; 96], len: 0 };
    // SAFETY: strerror_r (the XSI one, which libc links on every target)
    // writes at most buf.len() bytes, NUL included, into our buffer. Its
    // result is not looked at: for an errno without a text of its own it
    // fails and still writes one ("Unknown error 41" on glibc, as std
    // shows it), and 96 bytes hold the longest text of either C library.
    unsafe { libc::strerror_r(errno, text.buf.as_mut_ptr().cast(), text.buf.len()) };
    text.len = text.buf.iter().position(|&b| b == 0).unwrap_or(0);
    text
}

pub struct ErrnoText {
    errno: i32,
    buf: [u8; 96],
    len: usize,
}

impl core::fmt::Display for ErrnoText {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match core::str::from_utf8(self.buf.get(..self.len).unwrap_or_default()) {
            Ok(text) if !text.is_empty() => f.write_str(text),
            _ => write!(f, "errno {}", self.errno),
        }
    }
}

/// A NUL-terminated path formatted on the stack, for system calls.
pub struct CPath {
    buf: [u8; 256],
    len: usize,
    overflow: bool,
}

impl CPath {
    pub fn new() -> Self {
        CPath { buf: [0; 256], len: 0, overflow: false }
    }

    /// Formats `args` into a new path; `None` if it does not fit or holds a NUL.
    pub fn format(args: core::fmt::Arguments<'_>) -> Option<Self> {
        let mut p = CPath::new();
        let _ = p.write_fmt(args);
        p.finish()
    }

    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let mut p = CPath::new();
        p.push_bytes(bytes);
        p.finish()
    }

    pub fn push_bytes(&mut self, bytes: &[u8]) {
        // Room is kept for the NUL `finish` puts after the path.
        let end = self.len + bytes.len();
        let fits = end < self.buf.len() && !bytes.contains(&0);
        match self.buf.get_mut(self.len..end) {
            Some(room) if fits => {
                room.iter_mut().zip(bytes).for_each(|(to, &from)| *to = from);
                self.len = end;
            }
            _ => self.overflow = true,
        }
    }

    /// NUL-terminates the path; `None` if it overflowed or held a NUL.
    pub fn finish(mut self) -> Option<Self> {
        match self.buf.get_mut(self.len) {
            Some(nul) if !self.overflow => *nul = 0,
            _ => return None,
        }
        Some(self)
    }

    pub fn as_cstr(&self) -> &CStr {
        self.buf.get(..=self.len).and_then(|bytes| CStr::from_bytes_with_nul(bytes).ok()).unwrap_or(c"")
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }
}

impl Default for CPath {
    fn default() -> Self {
        CPath::new()
    }
}

impl core::fmt::Write for CPath {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.push_bytes(s.as_bytes());
        Ok(())
    }
}

/// The file at PATH opened with FLAGS and `O_CLOEXEC` (MODE if it is
/// created), as std's `OpenOptions::open` opens it, retried on EINTR;
/// without std's checks of its options, whose messages (`io::Error::new` of
/// a text) link core's Debug escaping and its Unicode tables
/// (docs/ARCHITECTURE.md, "Binary size").
pub fn open_file(path: &std::path::Path, flags: i32, mode: u32) -> io::Result<std::fs::File> {
    let flags = nix::fcntl::OFlag::from_bits_retain(flags | libc::O_CLOEXEC);
    let mode = nix::sys::stat::Mode::from_bits_retain(mode);
    let fd = loop {
        match nix::fcntl::open(path, flags, mode) {
            Err(nix::errno::Errno::EINTR) => continue,
            opened => break opened?,
        }
    };
    // SAFETY: fd was just opened, and nothing else owns it.
    Ok(unsafe { std::os::fd::FromRawFd::from_raw_fd(fd) })
}

/// An open file descriptor closed on drop (raw, to stay allocation-free).
pub struct Fd(pub i32);

impl Fd {
    pub fn open(path: &CStr, flags: i32, mode: u32) -> Result<Fd, i32> {
        // SAFETY: path is NUL-terminated.
        let fd = unsafe { libc::open(path.as_ptr(), flags | libc::O_CLOEXEC, mode) };
        if fd < 0 {
            Err(last_errno())
        } else {
            Ok(Fd(fd))
        }
    }

    /// openat(2): `name` relative to the open directory `dir`.
    pub fn open_at(dir: &Fd, name: &CStr, flags: i32) -> Result<Fd, i32> {
        // SAFETY: name is NUL-terminated; dir is an open descriptor.
        let fd = unsafe { libc::openat(dir.0, name.as_ptr(), flags | libc::O_CLOEXEC) };
        if fd < 0 {
            Err(last_errno())
        } else {
            Ok(Fd(fd))
        }
    }

    pub fn read(&self, buf: &mut [u8]) -> Result<usize, i32> {
        loop {
            // SAFETY: buf is valid for buf.len() bytes.
            let n = unsafe { libc::read(self.0, buf.as_mut_ptr().cast(), buf.len()) };
            if n >= 0 {
                return Ok(n as usize);
            }
            let e = last_errno();
            if e != libc::EINTR {
                return Err(e);
            }
        }
    }

    pub fn write_all(&self, mut data: &[u8]) -> Result<(), i32> {
        while !data.is_empty() {
            // SAFETY: data is valid for data.len() bytes.
            let n = unsafe { libc::write(self.0, data.as_ptr().cast(), data.len()) };
            if n < 0 {
                let e = last_errno();
                if e == libc::EINTR {
                    continue;
                }
                return Err(e);
            }
            data = data.get(n as usize..).unwrap_or_default();
        }
        Ok(())
    }

    pub fn fsync(&self) -> Result<(), i32> {
        // SAFETY: plain fsync of an fd we own.
        if unsafe { libc::fsync(self.0) } == 0 {
            Ok(())
        } else {
            Err(last_errno())
        }
    }
}

impl Drop for Fd {
    fn drop(&mut self) {
        // SAFETY: we own this descriptor.
        unsafe { libc::close(self.0) };
    }
}

/// A signalfd(2) descriptor, close-on-exec and non-blocking, for the
/// daemon's signals: signalfd4 itself, not the C library's `signalfd`, with
/// its fallback to the old system call for kernels before 2.6.27, nor nix's
/// wrapper of it (docs/ARCHITECTURE.md, "Binary size").
pub struct SignalFd(Fd);

impl SignalFd {
    /// A descriptor for the signals in MASK (blocked by the caller).
    pub fn new(mask: &libc::sigset_t) -> Result<SignalFd, i32> {
        // The kernel's signal set: 64 signals, whatever the C library's
        // sigset_t holds (glibc's is 128 bytes).
        const KERNEL_SIGSET_BYTES: libc::c_long = 8;
        let flags: libc::c_long = (libc::SFD_CLOEXEC | libc::SFD_NONBLOCK).into();
        // SAFETY: the kernel reads 8 bytes of MASK, a whole sigset_t.
        match unsafe { libc::syscall(libc::SYS_signalfd4, -1 as libc::c_long, mask as *const libc::sigset_t, KERNEL_SIGSET_BYTES, flags) } {
            -1 => Err(last_errno()),
            fd => Ok(SignalFd(Fd(fd as i32))),
        }
    }

    /// The next pending signal; `None` when there is none (or the read failed).
    pub fn read_signal(&self) -> Option<libc::signalfd_siginfo> {
        // SAFETY: signalfd_siginfo is plain integers; all zeroes is valid.
        let mut info: libc::signalfd_siginfo = unsafe { core::mem::zeroed() };
        let size = core::mem::size_of::<libc::signalfd_siginfo>();
        // SAFETY: reads at most `size` bytes into `info`.
        let read = unsafe { libc::read(self.0 .0, (&mut info as *mut libc::signalfd_siginfo).cast(), size) };
        (read == size as isize).then_some(info)
    }

    pub fn as_fd(&self) -> BorrowedFd<'_> {
        // SAFETY: the descriptor is open while `self` lives.
        unsafe { BorrowedFd::borrow_raw(self.0 .0) }
    }
}

/// Reads a whole small file into `buf`; returns the bytes read (truncated to
/// the buffer's size).
pub fn read_file<'a>(path: &CStr, buf: &'a mut [u8]) -> Result<&'a [u8], i32> {
    read_all(&Fd::open(path, libc::O_RDONLY, 0)?, buf)
}

/// Reads from `fd` until end of file or until `buf` is full.
fn read_all<'a>(fd: &Fd, buf: &'a mut [u8]) -> Result<&'a [u8], i32> {
    let mut len = 0;
    while let Some(free) = buf.get_mut(len..).filter(|free| !free.is_empty()) {
        let n = fd.read(free)?;
        if n == 0 {
            break;
        }
        len += n;
    }
    Ok(buf.get(..len).unwrap_or_default())
}

/// Parses a decimal pid from the start of `bytes` (leading whitespace allowed,
/// as in pid files).
pub fn parse_pid(bytes: &[u8]) -> Option<Pid> {
    let digits = bytes.trim_ascii_start();
    let end = digits.iter().position(|b| !b.is_ascii_digit()).unwrap_or(digits.len());
    if end == 0 || end > 9 {
        return None;
    }
    let pid = digits.iter().take(end).fold(0, |pid: Pid, &d| pid * 10 + (d - b'0') as Pid);
    (pid > 0).then_some(pid)
}

/// The pid in a pid file, if the file exists and holds one. Pid files may
/// sit where others can write, so the file must be a regular file named
/// directly (a symlink is refused, not followed: it could lead to a device),
/// opening it never waits (a FIFO with no writer would park PID 1), and only
/// its first bytes are read (a pid is short; nothing planted there can make
/// PID 1 read more).
pub fn read_pid_file(path: &CStr) -> Option<Pid> {
    let fd = Fd::open(path, libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY, 0).ok()?;
    let mut st: libc::stat = unsafe { core::mem::zeroed() };
    // SAFETY: fstat writes only into `st`.
    if unsafe { libc::fstat(fd.0, &mut st) } != 0 || st.st_mode & libc::S_IFMT != libc::S_IFREG {
        return None;
    }
    let mut buf = [0u8; 32];
    let n = fd.read(&mut buf).ok()?;
    parse_pid(buf.get(..n)?)
}

/// Removes a file left from an earlier run (a stale pid file) if it is a
/// regular file or a symlink; the link itself goes, its target is never
/// touched, and anything else (a directory, a FIFO, a device) stays.
/// Whether something was removed. Out of line: its two paths and its stat
/// (700 bytes) are on the stack only while it runs, not in the frame of
/// every start (the engine's `launch`) that might call it.
#[inline(never)]
pub fn remove_stale_file(path: &CStr) -> bool {
    // The name after the last slash, then what is before it.
    let mut parts = path.to_bytes().rsplitn(2, |&b| b == b'/');
    let name = parts.next().unwrap_or_default();
    let dir = match parts.next() {
        Some(b"") => CPath::from_bytes(b"/"),
        Some(dir) => CPath::from_bytes(dir),
        None => CPath::from_bytes(b"."),
    };
    let (Some(dir), Some(name)) = (dir, CPath::from_bytes(name)) else { return false };
    let Ok(dir) = Fd::open(dir.as_cstr(), libc::O_RDONLY | libc::O_DIRECTORY, 0) else { return false };
    let mut st: libc::stat = unsafe { core::mem::zeroed() };
    // SAFETY: NUL-terminated name relative to an open directory; fstatat
    // writes only into `st` and does not follow a final symlink.
    if unsafe { libc::fstatat(dir.0, name.as_cstr().as_ptr(), &mut st, libc::AT_SYMLINK_NOFOLLOW) } != 0 {
        return false;
    }
    let kind = st.st_mode & libc::S_IFMT;
    // SAFETY: as above; unlinkat removes the name, never what a link points to.
    (kind == libc::S_IFREG || kind == libc::S_IFLNK) && unsafe { libc::unlinkat(dir.0, name.as_cstr().as_ptr(), 0) } == 0
}

/// Fields of /proc/PID/stat the supervisor needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    /// 0 for a process whose parent is outside its PID namespace: the
    /// kernel's kthreadd (the parent of every kernel thread) and the
    /// namespace's own PID 1, or a process entered from outside.
    pub ppid: Pid,
    pub state: u8,
    /// When the process started, in clock ticks since boot (field 22): with
    /// the pid, what tells a process from a later one that reuses its pid.
    pub start_ticks: u64,
}

/// Reads /proc/PID/stat (the command name may contain anything, so parse
/// after its last ')').
pub fn proc_stat(pid: Pid) -> Option<ProcStat> {
    let path = CPath::format(format_args!("/proc/{pid}/stat"))?;
    let mut buf = [0u8; 512];
    let data = read_file(path.as_cstr(), &mut buf).ok()?;
    parse_stat(data)
}

fn parse_stat(data: &[u8]) -> Option<ProcStat> {
    let close = data.iter().rposition(|&b| b == b')')?;
    // The fields after the name, from field 3 (state).
    let mut fields = data.get(close + 2..)?.split(|&b| b == b' ');
    fn text(field: &[u8]) -> Option<&str> {
        core::str::from_utf8(field).ok()
    }
    let state = *fields.next()?.first()?;
    // Field 4, read as a number (`parse_i32`, as `ioc list` reads it), not
    // as a pid file's pid (which refuses 0): a ppid of 0 is a process that
    // exists (kthreadd), and a walk up the ppid links that took it for one
    // gone would start over instead of stopping at a root.
    let ppid = parse_i32(text(fields.next()?)?)?;
    // Field 22, starttime.
    let start_ticks = text(fields.nth(22 - 5)?)?.parse().ok()?;
    Some(ProcStat { ppid, state, start_ticks })
}

/// One process's directory in /proc, held open: whatever is read through it
/// is of that very process. Should it end and a new process reuse its pid,
/// reads fail (ESRCH) instead of describing the newcomer.
pub struct ProcDir(Fd);

impl ProcDir {
    pub fn open(pid: Pid) -> Option<ProcDir> {
        let path = CPath::format(format_args!("/proc/{pid}"))?;
        Fd::open(path.as_cstr(), libc::O_RDONLY | libc::O_DIRECTORY, 0).ok().map(ProcDir)
    }

    fn file(&self, name: &CStr) -> Option<Fd> {
        Fd::open_at(&self.0, name, libc::O_RDONLY).ok()
    }

    pub fn stat(&self) -> Option<ProcStat> {
        let mut buf = [0u8; 512];
        parse_stat(read_all(&self.file(c"stat")?, &mut buf).ok()?)
    }

    /// The real and effective uid (the `Uid:` line of status). Neither can
    /// be chosen by an unprivileged process.
    pub fn uids(&self) -> Option<(u32, u32)> {
        // The Uid line comes within the first few hundred bytes.
        let mut buf = [0u8; 1024];
        parse_uids(read_all(&self.file(c"status")?, &mut buf).ok()?)
    }

    /// Whether the environment holds exactly the entry `entry`
    /// (`NAME=value`), read in fixed-size chunks.
    pub fn environ_has(&self, entry: &[u8]) -> bool {
        let Some(fd) = self.file(c"environ") else {
            return false;
        };
        environ_holds(&fd, entry)
    }
}

fn parse_uids(status: &[u8]) -> Option<(u32, u32)> {
    let ids = status.split(|&b| b == b'\n').find_map(|l| l.strip_prefix(b"Uid:"))?;
    let mut ids = ids.split(|b| b.is_ascii_whitespace()).filter(|w| !w.is_empty());
    let mut next = || -> Option<u32> { core::str::from_utf8(ids.next()?).ok()?.parse().ok() };
    Some((next()?, next()?))
}

/// Calls `f` with every numeric entry of /proc (every process), using a fixed
/// getdents64 buffer.
pub fn for_each_pid(mut f: impl FnMut(Pid)) {
    let Ok(dir) = Fd::open(c"/proc", libc::O_RDONLY | libc::O_DIRECTORY, 0) else {
        return;
    };
    let mut buf = [0u8; 4096];
    loop {
        // SAFETY: getdents64 writes at most buf.len() bytes into buf.
        let n = unsafe { libc::syscall(libc::SYS_getdents64, dir.0, buf.as_mut_ptr(), buf.len()) };
        if n <= 0 {
            return;
        }
        let records = buf.get(..n as usize).unwrap_or_default();
        let whole = each_dirent_name(records, &mut |name| {
            if !name.is_empty() && name.iter().all(u8::is_ascii_digit) {
                if let Some(pid) = parse_pid(name) {
                    f(pid);
                }
            }
        });
        if !whole {
            return;
        }
    }
}

/// Calls `f` with the name of each record in RECORDS, what getdents64 read;
/// false, and no more records, where a record's length is shorter than its
/// header or runs past what was read (the kernel's never is).
fn each_dirent_name(mut records: &[u8], f: &mut dyn FnMut(&[u8])) -> bool {
    // A record: its inode (8 bytes), offset (8), length (2) and type (1),
    // then its name, NUL-terminated and padded to the length.
    const HEADER: usize = 19;
    while let Some((header, _)) = records.split_first_chunk::<HEADER>() {
        let reclen = u16::from_ne_bytes([header[16], header[17]]) as usize;
        let (Some(name), Some(rest)) = (records.get(HEADER..reclen), records.get(reclen..)) else {
            return false;
        };
        f(name.split(|&b| b == 0).next().unwrap_or_default());
        records = rest;
    }
    true
}

/// Parent links a walk up /proc follows at most, and how many times it
/// starts over when an ancestor ends during it: [`descends_from`]'s, and the
/// engine's test of whose a process is (`engine::ownership`).
pub const DESCENT_DEPTH: usize = 64;

/// Whether `pid` descends from `ancestor` (walking ppid links in /proc);
/// `None` when it is more than [`DESCENT_DEPTH`] levels down without
/// reaching `ancestor` or a root, so the walk stopped without knowing. Any
/// user can build a chain that deep: the caller decides what not knowing means.
pub fn descends_from(pid: Pid, ancestor: Pid) -> Option<bool> {
    descends_from_in(pid, ancestor, proc_stat)
}

/// [`descends_from`] over `stat`, what /proc says of a pid at the moment.
/// An ancestor gone before the walk reads it ended meanwhile, reaped by its
/// own parent (the shutdown's SIGKILL to a chain: a shell reaps its child
/// before it dies itself): its children had their new parent before it was
/// gone, so the walk starts over from `pid` rather than answer "no" for a
/// process still below `ancestor`. Each new start needs one more ancestor
/// to end; after [`DESCENT_DEPTH`] of them the answer is not knowing.
fn descends_from_in(pid: Pid, ancestor: Pid, mut stat: impl FnMut(Pid) -> Option<ProcStat>) -> Option<bool> {
    'walk: for _ in 0..DESCENT_DEPTH {
        let mut cur = pid;
        for _ in 0..DESCENT_DEPTH {
            match stat(cur) {
                Some(st) if st.ppid == ancestor => return Some(true),
                Some(st) if st.ppid > 1 => cur = st.ppid,
                Some(_) => return Some(false),
                None if cur == pid => return Some(false),
                None => continue 'walk,
            }
        }
        return None;
    }
    None
}

/// Whether the NUL-separated entries read from `fd` hold exactly `entry`.
fn environ_holds(fd: &Fd, entry: &[u8]) -> bool {
    // Entries are NUL-separated; compare each against `entry` as it streams by.
    let mut buf = [0u8; 1024];
    let mut matched = 0usize; // bytes of `entry` matched in the current entry
    let mut mismatch = false;
    loop {
        let n = match fd.read(&mut buf) {
            Ok(0) | Err(_) => return !mismatch && matched == entry.len(),
            Ok(n) => n,
        };
        for &b in buf.iter().take(n) {
            if b == 0 {
                if !mismatch && matched == entry.len() {
                    return true;
                }
                matched = 0;
                mismatch = false;
            } else if !mismatch {
                if matched < entry.len() && entry[matched] == b {
                    matched += 1;
                } else {
                    mismatch = true;
                }
            }
        }
    }
}

/// Writes a file atomically: `fill` writes the content to a temporary file in
/// the same directory, which is fsynced and renamed over `path`, then the
/// directory is fsynced. Content is streamed through `Fd::write_all`.
pub fn write_atomic(path: &CStr, fill: impl FnOnce(&Fd) -> Result<(), i32>) -> Result<(), i32> {
    let bytes = path.to_bytes();
    let mut tmp = CPath::new();
    tmp.push_bytes(bytes);
    tmp.push_bytes(b".tmp");
    let tmp = tmp.finish().ok_or(libc::ENAMETOOLONG)?;
    {
        // The directory is root's alone, so a fixed name (reused after a
        // crash) is safe; O_NOFOLLOW all the same, should a link be there.
        let fd = Fd::open(tmp.as_cstr(), libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC | libc::O_NOFOLLOW | libc::O_NOCTTY, 0o644)?;
        fill(&fd)?;
        fd.fsync()?;
    }
    // SAFETY: both paths are NUL-terminated.
    if unsafe { libc::rename(tmp.as_cstr().as_ptr(), path.as_ptr()) } != 0 {
        return Err(last_errno());
    }
    let dir_len = bytes.iter().rposition(|&b| b == b'/').unwrap_or(0);
    let dir = if dir_len == 0 { CPath::from_bytes(b"/") } else { CPath::from_bytes(&bytes[..dir_len]) };
    if let Some(dir) = dir {
        if let Ok(fd) = Fd::open(dir.as_cstr(), libc::O_RDONLY | libc::O_DIRECTORY, 0) {
            let _ = fd.fsync();
        }
    }
    Ok(())
}

/// 64 bits from getrandom(2), for names others must not guess; `None` when
/// the kernel has none to give.
pub fn random_u64() -> Option<u64> {
    let mut bytes = [0u8; 8];
    // SAFETY: the buffer is valid for its length.
    let n = unsafe { libc::getrandom(bytes.as_mut_ptr().cast(), bytes.len(), 0) };
    (n == bytes.len() as isize).then(|| u64::from_ne_bytes(bytes))
}

/// Creates a directory and its parents (mode 0755); existing ones are fine.
pub fn mkdir_p(path: &[u8], mode: u32) -> Result<(), i32> {
    let mut end = 1;
    while end <= path.len() {
        if end == path.len() || path[end] == b'/' {
            let part = CPath::from_bytes(&path[..end]).ok_or(libc::ENAMETOOLONG)?;
            // SAFETY: NUL-terminated path.
            if unsafe { libc::mkdir(part.as_cstr().as_ptr(), mode) } != 0 {
                let e = last_errno();
                if e != libc::EEXIST {
                    return Err(e);
                }
            }
        }
        end += 1;
    }
    Ok(())
}

/// pivot_root(2) to `new_root`, the old root going to `put_old` (both
/// absolute), then chdir("/").
pub fn pivot_root(new_root: &CStr, put_old: &CStr) -> Result<(), i32> {
    // SAFETY: both paths are NUL-terminated.
    unsafe {
        if libc::syscall(libc::SYS_pivot_root, new_root.as_ptr(), put_old.as_ptr()) != 0 {
            return Err(last_errno());
        }
        libc::chdir(c"/".as_ptr());
    }
    Ok(())
}

/// Whether this process is in the initial PID namespace (a real boot, as
/// opposed to PID 1 of a container or test namespace).
pub fn in_initial_pid_namespace() -> bool {
    let mut st: libc::stat = unsafe { core::mem::zeroed() };
    // SAFETY: stat writes only into `st`.
    let pid_ns = match unsafe { libc::stat(c"/proc/self/ns/pid".as_ptr(), &mut st) } {
        0 => Ok(st.st_ino as u64),
        _ => Err(last_errno()),
    };
    // SAFETY: stat writes only into `st`.
    is_initial_pid_namespace(pid_ns, || unsafe { libc::stat(c"/proc/self".as_ptr(), &mut st) } == 0)
}

/// The decision of `in_initial_pid_namespace`, from the inode of
/// /proc/self/ns/pid (or stat's errno) and whether /proc is mounted (asked
/// only when that entry is missing).
fn is_initial_pid_namespace(pid_ns: Result<u64, i32>, proc_mounted: impl FnOnce() -> bool) -> bool {
    // The initial PID namespace has a fixed inode number (PROC_PID_INIT_INO).
    const PROC_PID_INIT_INO: u64 = 0xEFFF_FFFC;
    match pid_ns {
        Ok(ino) => ino == PROC_PID_INIT_INO,
        // A kernel built without CONFIG_PID_NS (e.g. ARM's vexpress_defconfig)
        // has no ns/pid entry and only the one PID namespace.
        Err(libc::ENOENT) => proc_mounted(),
        Err(_) => false,
    }
}

/// The peer of a UNIX socket: uid and every group (SO_PEERCRED and
/// SO_PEERGROUPS). Groups beyond `groups.len()` are dropped. getsockopt(2)
/// itself: musl's wrapper also converts the options that carry a time64
/// value (none of these), and links that conversion (236 bytes of armv7
/// code; docs/ARCHITECTURE.md, "Binary size").
pub fn peer_credentials(fd: i32, groups: &mut [u32]) -> Option<(u32, usize)> {
    let mut cred: libc::ucred = unsafe { core::mem::zeroed() };
    let mut len = core::mem::size_of::<libc::ucred>() as libc::socklen_t;
    let (getsockopt, level) = (libc::SYS_getsockopt, libc::SOL_SOCKET);
    // SAFETY: getsockopt writes at most `len` bytes into `cred`.
    let r = unsafe { libc::syscall(getsockopt, fd, level, libc::SO_PEERCRED, &mut cred as *mut libc::ucred, &mut len as *mut libc::socklen_t) };
    if r != 0 {
        return None;
    }
    let mut n = 0;
    if let Some(first) = groups.first_mut() {
        *first = cred.gid;
        n = 1;
    }
    let mut len = (core::mem::size_of_val(groups) - 4 * n) as libc::socklen_t;
    const SO_PEERGROUPS: i32 = 59;
    // SAFETY: as above, into the rest of `groups`.
    let r = unsafe { libc::syscall(getsockopt, fd, level, SO_PEERGROUPS, groups[n..].as_mut_ptr(), &mut len as *mut libc::socklen_t) };
    if r == 0 {
        n += len as usize / 4;
    }
    Some((cred.uid, n))
}

/// fcntl(2) with a number for its argument (F_GETFD, F_SETFD, F_GETFL,
/// F_SETFL), the system call itself: the C library's variadic `fcntl` (336
/// bytes of armv7 code: emulations of F_GETOWN and, on old kernels, of
/// F_DUPFD_CLOEXEC, and F_SETFL's O_LARGEFILE, which the kernel ignores) is
/// not linked for these (docs/ARCHITECTURE.md, "Binary size").
pub fn fcntl(fd: i32, cmd: i32, arg: i32) -> Result<i32, i32> {
    let (fd, cmd, arg): (libc::c_long, libc::c_long, libc::c_long) = (fd.into(), cmd.into(), arg.into());
    // SAFETY: these commands take a number, no pointer.
    match unsafe { libc::syscall(libc::SYS_fcntl, fd, cmd, arg) } {
        -1 => Err(last_errno()),
        r => Ok(r as i32),
    }
}

/// accept4(2) of a connection on LISTENER, its descriptor close-on-exec and
/// non-blocking: the system call itself, not the C library's `accept4`,
/// which falls back to accept(2) and fcntl on kernels without it (before
/// 2.6.28) and links both for that (docs/ARCHITECTURE.md, "Binary size").
pub fn accept_nonblocking(listener: i32) -> Result<i32, i32> {
    let flags = libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK;
    let (fd, no_address, flags): (libc::c_long, libc::c_long, libc::c_long) = (listener.into(), 0, flags.into());
    // SAFETY: no address is asked for (null pointers); the descriptor
    // returned is the caller's.
    match unsafe { libc::syscall(libc::SYS_accept4, fd, no_address, no_address, flags) } {
        -1 => Err(last_errno()),
        r => Ok(r as i32),
    }
}

/// Makes the process the subreaper of its descendants (prctl(2),
/// PR_SET_CHILD_SUBREAPER): orphans are re-parented to it, not to PID 1.
/// The system call itself, as the C library's variadic `prctl` makes it,
/// not linked for this one call (docs/ARCHITECTURE.md, "Binary size").
pub fn become_child_subreaper() -> Result<(), i32> {
    let (option, set, unused): (libc::c_long, libc::c_long, libc::c_long) = (libc::PR_SET_CHILD_SUBREAPER.into(), 1, 0);
    // SAFETY: PR_SET_CHILD_SUBREAPER takes a number; the rest are unused.
    if unsafe { libc::syscall(libc::SYS_prctl, option, set, unused, unused, unused) } == 0 {
        Ok(())
    } else {
        Err(last_errno())
    }
}

/// setdomainname(2) (nix has no wrapper).
pub fn set_domainname(name: &[u8]) -> Result<(), i32> {
    // SAFETY: name is valid for its length.
    if unsafe { libc::setdomainname(name.as_ptr().cast(), name.len()) } == 0 {
        Ok(())
    } else {
        Err(last_errno())
    }
}

/// Marks every descriptor from `first` on close-on-exec (close_range(2)), so
/// what the supervisor inherited never leaks into the processes it starts.
pub fn cloexec_from(first: u32) {
    const CLOSE_RANGE_CLOEXEC: u32 = 1 << 2;
    // SAFETY: no pointers; an old kernel answers ENOSYS, which is harmless.
    unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, CLOSE_RANGE_CLOEXEC) };
}

/// inotify_init1(2), non-blocking and close-on-exec.
pub fn inotify_init() -> Result<Fd, i32> {
    // SAFETY: no pointers involved.
    let fd = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
    if fd < 0 {
        Err(last_errno())
    } else {
        Ok(Fd(fd))
    }
}

/// inotify_add_watch(2); returns the watch descriptor.
pub fn inotify_add(fd: &Fd, path: &CStr, mask: u32) -> Result<i32, i32> {
    // SAFETY: path is NUL-terminated.
    let wd = unsafe { libc::inotify_add_watch(fd.0, path.as_ptr(), mask) };
    if wd < 0 {
        Err(last_errno())
    } else {
        Ok(wd)
    }
}

pub fn inotify_remove(fd: &Fd, wd: i32) {
    // SAFETY: no pointers involved; an unknown wd only returns EINVAL.
    unsafe { libc::inotify_rm_watch(fd.0, wd) };
}

/// Reads pending inotify events into `buf` and calls `f(wd, mask)` for each.
pub fn inotify_events(fd: &Fd, buf: &mut [u8], mut f: impl FnMut(i32, u32)) {
    const HEADER: usize = 16; // wd, mask, cookie, len
    while let Ok(n) = fd.read(buf) {
        if n == 0 {
            return;
        }
        let mut events = buf.get(..n).unwrap_or_default();
        while let Some((header, rest)) = events.split_first_chunk::<HEADER>() {
            let [w0, w1, w2, w3, m0, m1, m2, m3, _, _, _, _, l0, l1, l2, l3] = *header;
            f(i32::from_ne_bytes([w0, w1, w2, w3]), u32::from_ne_bytes([m0, m1, m2, m3]));
            // The name, `len` bytes, follows the header.
            events = rest.get(u32::from_ne_bytes([l0, l1, l2, l3]) as usize..).unwrap_or_default();
        }
    }
}

/// rename(2).
pub fn rename(from: &CStr, to: &CStr) -> Result<(), i32> {
    // SAFETY: both paths are NUL-terminated.
    if unsafe { libc::rename(from.as_ptr(), to.as_ptr()) } == 0 {
        Ok(())
    } else {
        Err(last_errno())
    }
}

/// The size of a file, if it exists.
pub fn file_size(path: &CStr) -> Option<u64> {
    let mut st: libc::stat = unsafe { core::mem::zeroed() };
    // SAFETY: stat writes only into `st`.
    (unsafe { libc::stat(path.as_ptr(), &mut st) } == 0).then_some(st.st_size as u64)
}

/// fchown(2) of an open file.
pub fn fchown(fd: &Fd, uid: u32, gid: u32) {
    // SAFETY: no pointers involved.
    unsafe { libc::fchown(fd.0, uid, gid) };
}

/// The calling thread's stack, whose pages below a frame go back to the
/// kernel ([`StackRelease::below_caller`]): what a deep call touched (the
/// configuration load, the parser, a realpath's two PATH_MAX buffers, the
/// boot's spawns, a request's buffers, an event's log line) would stay
/// resident for PID 1's whole life, though no later call may need it; a
/// later call that goes as deep gets zeroed pages.
pub struct StackRelease {
    /// The lowest address of the stack's mapping, as last seen: a call that
    /// goes deeper than any before grows the mapping down.
    start: usize,
}

/// What [`StackRelease::below_caller`] keeps below its own frame: the
/// madvise call's frames and red zone, and what the caller runs next
/// (PID 1's loop builds its poll set and polls, about 60 bytes below its
/// frame), so that neither faults in a page that the release just gave
/// back. Anything deeper faults in zeroed pages, until the next release.
const STACK_KEPT_BELOW: usize = 512;

impl StackRelease {
    /// The calling thread's stack: the mapping of /proc/self/maps that holds
    /// this frame. `None` without /proc (nothing is released then).
    pub fn of_caller() -> Option<Self> {
        let marker = 0u8;
        let (start, _) = mapping_holding(core::ptr::addr_of!(marker) as usize)?;
        Some(StackRelease { start })
    }

    /// Gives the kernel back the pages of the stack below the caller's frame
    /// but for [`STACK_KEPT_BELOW`] bytes under this one's: one madvise,
    /// and /proc/self/maps read again only when the mapping has grown down
    /// (the page below its start is mapped: the kernel leaves a gap of
    /// unmapped pages below a stack). Only ever below the caller: nothing
    /// lives there once this returns.
    #[inline(never)]
    pub fn below_caller(&mut self) {
        let marker = 0u8;
        self.below(core::ptr::addr_of!(marker) as usize);
    }

    /// [`StackRelease::below_caller`] from `here`, an address of the
    /// calling frame's.
    fn below(&mut self, here: usize) {
        let page = page_size();
        if is_mapped(self.start.saturating_sub(page)) {
            if let Some((start, _)) = mapping_holding(here) {
                self.start = start;
            }
        }
        let limit = here.saturating_sub(STACK_KEPT_BELOW) & !(page - 1);
        if limit > self.start {
            // SAFETY: [start, limit) is the part of this thread's stack
            // mapping below this frame and the madvise call's own: no live
            // data.
            unsafe { libc::madvise(self.start as *mut libc::c_void, limit - self.start, libc::MADV_DONTNEED) };
        }
    }
}

/// Whether the page at `address` (page-aligned) belongs to a mapping.
fn is_mapped(address: usize) -> bool {
    let mut vec = 0u8;
    // SAFETY: mincore writes one byte for the one page asked; an address
    // that no mapping holds is ENOMEM, nothing more.
    unsafe { libc::mincore(address as *mut libc::c_void, 1, &mut vec) == 0 }
}

/// The `[start, end)` of the mapping in /proc/self/maps that holds `address`.
#[inline(never)]
fn mapping_holding(address: usize) -> Option<(usize, usize)> {
    let fd = Fd::open(c"/proc/self/maps", libc::O_RDONLY | libc::O_CLOEXEC, 0).ok()?;
    let mut buf = [0u8; 512];
    // Each line starts "START-END ": hex digits read one byte at a time, the
    // rest of the line skipped, so lines may span reads.
    let (mut start, mut end, mut field) = (0usize, 0usize, 0u8);
    loop {
        let n = fd.read(&mut buf).ok().filter(|&n| n > 0)?;
        for &b in buf.iter().take(n) {
            match (field, b) {
                (_, b'\n') => (start, end, field) = (0, 0, 0),
                (0, b'-') => field = 1,
                (1, b' ') => {
                    if (start..end).contains(&address) {
                        return Some((start, end));
                    }
                    field = 2;
                }
                (0 | 1, _) => {
                    let digit = (b as char).to_digit(16)? as usize;
                    let value = if field == 0 { &mut start } else { &mut end };
                    *value = value.checked_mul(16)? + digit;
                }
                _ => {}
            }
        }
    }
}

/// A `Vec` indexed by a number the program made (an object's place in the
/// engine's tables, a client's slot): indexing it is a call, not code
/// inlined at each `[i]`, so the whole table has one bounds check and one
/// panic location, where each inlined index carried its own (the engine's
/// 167 and the control server's 37 were 5 KB of armv7 code and data;
/// docs/ARCHITECTURE.md, "Binary size", round 12).
#[derive(Debug)]
pub struct Table<T>(pub Vec<T>);

impl<T> Default for Table<T> {
    fn default() -> Self {
        Table(Vec::new())
    }
}

// `Index::index` passes its caller's location on to a panic (it is
// `#[track_caller]`), so the check is in functions of their own, which do not.
impl<T> Table<T> {
    #[inline(never)]
    fn entry(&self, i: usize) -> &T {
        &self.0[i]
    }

    #[inline(never)]
    fn entry_mut(&mut self, i: usize) -> &mut T {
        &mut self.0[i]
    }
}

impl<T> core::ops::Index<usize> for Table<T> {
    type Output = T;

    fn index(&self, i: usize) -> &T {
        self.entry(i)
    }
}

impl<T> core::ops::IndexMut<usize> for Table<T> {
    fn index_mut(&mut self, i: usize) -> &mut T {
        self.entry_mut(i)
    }
}

impl<T> core::ops::Deref for Table<T> {
    type Target = Vec<T>;

    fn deref(&self) -> &Vec<T> {
        &self.0
    }
}

impl<T> core::ops::DerefMut for Table<T> {
    fn deref_mut(&mut self) -> &mut Vec<T> {
        &mut self.0
    }
}

/// A zeroed byte buffer whose length is known only at run time (a table
/// sized from the configuration), allocated once, in an anonymous mapping of
/// its own: its pages become resident only when written. A heap buffer is
/// zeroed, and so made resident, when it is allocated; buffers that most runs
/// never fill (the control server's client slots, the objects' notes) would
/// all count in PID 1's memory from the first moment. Where mmap fails, it
/// is a heap buffer all the same.
pub struct LazyBytes(LazyMemory);

/// Private, so that no mapping but `LazyBytes::new`'s is ever read or unmapped.
enum LazyMemory {
    Mapped(core::ptr::NonNull<u8>, usize),
    Heap(Box<[u8]>),
}

impl LazyBytes {
    pub fn new(len: usize) -> Self {
        // mmap refuses an empty mapping; an empty buffer needs none.
        let p = if len == 0 {
            libc::MAP_FAILED
        } else {
            // SAFETY: a new private anonymous mapping of len bytes, zeroed by
            // the kernel; it is ours alone until Drop unmaps it.
            unsafe { libc::mmap(core::ptr::null_mut(), len, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0) }
        };
        LazyBytes(match core::ptr::NonNull::new(p.cast::<u8>()).filter(|_| p != libc::MAP_FAILED) {
            Some(mapped) => LazyMemory::Mapped(mapped, len),
            None => LazyMemory::Heap(vec![0; len].into_boxed_slice()),
        })
    }

    /// Whether the buffer is a mapping of its own (mmap did not fail).
    pub fn is_mapped(&self) -> bool {
        matches!(self.0, LazyMemory::Mapped(..))
    }

    /// The contents are no longer needed: a mapping's pages go back to the
    /// kernel (the buffer reads as zeroes until written again), so a buffer
    /// that was used once does not stay resident for PID 1's whole life.
    pub fn release(&mut self) {
        match &mut self.0 {
            // SAFETY: the mapping made in `new`, len bytes, borrowed uniquely
            // by `&mut self`; MADV_DONTNEED only zeroes it.
            LazyMemory::Mapped(p, len) => unsafe {
                libc::madvise(p.as_ptr().cast(), *len, libc::MADV_DONTNEED);
            },
            LazyMemory::Heap(b) => b.fill(0),
        }
    }
}

impl core::ops::Deref for LazyBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match &self.0 {
            // SAFETY: the mapping is valid, len bytes, and borrowed with self.
            LazyMemory::Mapped(p, len) => unsafe { core::slice::from_raw_parts(p.as_ptr(), *len) },
            LazyMemory::Heap(b) => b,
        }
    }
}

impl core::ops::DerefMut for LazyBytes {
    fn deref_mut(&mut self) -> &mut [u8] {
        match &mut self.0 {
            // SAFETY: as above; `&mut self` makes the borrow unique.
            LazyMemory::Mapped(p, len) => unsafe { core::slice::from_raw_parts_mut(p.as_ptr(), *len) },
            LazyMemory::Heap(b) => b,
        }
    }
}

impl Drop for LazyBytes {
    fn drop(&mut self) {
        if let LazyMemory::Mapped(p, len) = self.0 {
            // SAFETY: the mapping made in `new`, unmapped once.
            unsafe { libc::munmap(p.as_ptr().cast(), len) };
        }
    }
}

/// A zeroed `[u8; N]` in a [`LazyBytes`] of N bytes: resident only where
/// written.
pub struct LazyBuf<const N: usize>(LazyBytes);

impl<const N: usize> LazyBuf<N> {
    pub fn new() -> Self {
        LazyBuf(LazyBytes::new(N))
    }

    /// Whether the buffer is a mapping of its own (mmap did not fail).
    pub fn is_mapped(&self) -> bool {
        self.0.is_mapped()
    }

    /// See [`LazyBytes::release`].
    pub fn release(&mut self) {
        self.0.release();
    }
}

impl<const N: usize> Default for LazyBuf<N> {
    fn default() -> Self {
        LazyBuf::new()
    }
}

impl<const N: usize> core::ops::Deref for LazyBuf<N> {
    type Target = [u8; N];
    fn deref(&self) -> &[u8; N] {
        // SAFETY: the buffer is N bytes long, as `new` made it.
        unsafe { &*self.0.as_ptr().cast::<[u8; N]>() }
    }
}

impl<const N: usize> core::ops::DerefMut for LazyBuf<N> {
    fn deref_mut(&mut self) -> &mut [u8; N] {
        // SAFETY: as above; `&mut self` makes the borrow unique.
        unsafe { &mut *self.0.as_mut_ptr().cast::<[u8; N]>() }
    }
}

/// A `core::fmt::Write` sink over a fixed byte buffer that truncates silently.
pub struct FixedBuf<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> FixedBuf<N> {
    pub const fn new() -> Self {
        FixedBuf { buf: [0; N], len: 0 }
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }

    pub fn clear(&mut self) {
        self.len = 0;
    }

    pub fn push(&mut self, bytes: &[u8]) {
        self.any_size().push(bytes);
    }

    fn any_size(&mut self) -> AnySize<'_> {
        AnySize::new(&mut self.buf, &mut self.len)
    }
}

/// A fixed buffer as its pushes and its formatting see it, whatever its
/// size: their code once, not once for each of [`FixedBuf`]'s seven sizes
/// (each also had its `dyn Write` vtable and `write_char`), and the
/// logger's line (`logging::OutLine`) pushes through it too.
pub struct AnySize<'a> {
    buf: &'a mut [u8],
    len: &'a mut usize,
}

impl<'a> AnySize<'a> {
    /// The buffer BUF of which the first LEN bytes are written.
    pub fn new(buf: &'a mut [u8], len: &'a mut usize) -> Self {
        AnySize { buf, len }
    }

    /// Appends what fits of BYTES; the rest is dropped.
    pub fn push(&mut self, bytes: &[u8]) {
        // `len` never passes the buffer's end: `get_mut`, not an index with
        // its panic.
        let free = self.buf.get_mut(*self.len..).unwrap_or_default();
        *self.len += free.iter_mut().zip(bytes).map(|(to, &from)| *to = from).count();
    }
}

impl core::fmt::Write for AnySize<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.push(s.as_bytes());
        Ok(())
    }
}

impl<const N: usize> Default for FixedBuf<N> {
    fn default() -> Self {
        FixedBuf::new()
    }
}

impl<const N: usize> core::fmt::Write for FixedBuf<N> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.push(s.as_bytes());
        Ok(())
    }

    fn write_fmt(&mut self, args: core::fmt::Arguments<'_>) -> core::fmt::Result {
        self.any_size().write_fmt(args)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn may_access_is_access() {
        use std::os::unix::fs::PermissionsExt;
        let dir = crate::scratch::ScratchDir::new("may-access");
        let file = dir.join("file");
        std::fs::write(&file, "").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        // No execute bit: not executable, even for root.
        assert!(may_access(&file, libc::R_OK) && may_access(&file, libc::F_OK) && !may_access(&file, libc::X_OK));
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(may_access(&file, libc::R_OK | libc::X_OK));
        assert!(may_access(&dir, libc::R_OK | libc::W_OK | libc::X_OK));
        assert!(!may_access(&dir.join("missing"), libc::F_OK));
        assert!(!may_access(std::path::Path::new("/\0/nul"), libc::F_OK));
    }

    #[test]
    fn fcntl_reads_and_sets_descriptor_and_status_flags() {
        use std::os::fd::AsRawFd;
        let (read, _write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
        let fd = read.as_raw_fd();
        assert_eq!(fcntl(fd, libc::F_GETFD, 0), Ok(libc::FD_CLOEXEC));
        assert_eq!(fcntl(fd, libc::F_SETFD, 0), Ok(0));
        assert_eq!(fcntl(fd, libc::F_GETFD, 0), Ok(0));
        let status = fcntl(fd, libc::F_GETFL, 0).unwrap();
        assert_eq!(status & libc::O_NONBLOCK, 0);
        assert_eq!(fcntl(fd, libc::F_SETFL, status | libc::O_NONBLOCK), Ok(0));
        assert_eq!(fcntl(fd, libc::F_GETFL, 0).map(|s| s & libc::O_NONBLOCK), Ok(libc::O_NONBLOCK));
        drop(read);
        assert_eq!(fcntl(fd, libc::F_GETFD, 0), Err(libc::EBADF));
    }

    #[test]
    fn accept_nonblocking_takes_a_connection_as_accept4() {
        let dir = crate::scratch::ScratchDir::new("accept");
        let listener = std::os::unix::net::UnixListener::bind(dir.join("socket")).unwrap();
        listener.set_nonblocking(true).unwrap();
        let fd = listener.as_raw_fd();
        assert_eq!(accept_nonblocking(fd), Err(libc::EAGAIN));
        let _client = std::os::unix::net::UnixStream::connect(dir.join("socket")).unwrap();
        let accepted = accept_nonblocking(fd).unwrap();
        assert_eq!(fcntl(accepted, libc::F_GETFD, 0), Ok(libc::FD_CLOEXEC));
        assert_eq!(fcntl(accepted, libc::F_GETFL, 0).map(|s| s & libc::O_NONBLOCK), Ok(libc::O_NONBLOCK));
        // SAFETY: the descriptor accepted above, closed once.
        unsafe { libc::close(accepted) };
        assert_eq!(accept_nonblocking(fd), Err(libc::EAGAIN));
    }

    /// Whether `check`, run in a forked child, holds: the signals, mounts
    /// and process settings a test changes there are the child's, not the
    /// test process's (whose other threads run other tests).
    fn holds_in_a_child(check: impl FnOnce() -> bool) -> bool {
        // SAFETY: the child only makes system calls, then _exit.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            let held = check();
            unsafe { libc::_exit(if held { 0 } else { 1 }) };
        }
        let mut status = 0;
        assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0
    }

    #[test]
    fn signal_fd_reads_the_blocked_signals() {
        // In a child: the signals blocked and raised are its own.
        assert!(holds_in_a_child(|| {
            // SAFETY: a set filled by sigemptyset and sigaddset.
            let mut mask: libc::sigset_t = unsafe { core::mem::zeroed() };
            unsafe {
                libc::sigemptyset(&mut mask);
                libc::sigaddset(&mut mask, libc::SIGUSR1);
                libc::sigprocmask(libc::SIG_BLOCK, &mask, core::ptr::null_mut());
                let Ok(signals) = SignalFd::new(&mask) else { return false };
                let none = signals.read_signal().is_none();
                libc::raise(libc::SIGUSR1);
                let usr1 = signals.read_signal().map(|info| info.ssi_signo) == Some(libc::SIGUSR1 as u32);
                let flags = fcntl(signals.as_fd().as_raw_fd(), libc::F_GETFD, 0) == Ok(libc::FD_CLOEXEC)
                    && fcntl(signals.as_fd().as_raw_fd(), libc::F_GETFL, 0).is_ok_and(|s| s & libc::O_NONBLOCK != 0);
                none && usr1 && flags && signals.read_signal().is_none()
            }
        }));
    }

    #[test]
    fn become_child_subreaper_is_prctls() {
        // In a child: the test process stays what it was.
        assert!(holds_in_a_child(|| {
            let subreaper = || {
                let mut is: libc::c_int = -1;
                // SAFETY: PR_GET_CHILD_SUBREAPER writes one int.
                unsafe { libc::prctl(libc::PR_GET_CHILD_SUBREAPER, &mut is as *mut libc::c_int) };
                is
            };
            subreaper() == 0 && become_child_subreaper() == Ok(()) && subreaper() == 1
        }));
    }

    #[test]
    fn sigpipe_actions_are_set_as_signal_sets_them() {
        // In a child: SIGPIPE's default action must not reach the test
        // process, whose other threads may write to closed pipes.
        assert!(holds_in_a_child(|| {
            let action = || {
                // SAFETY: a zeroed sigaction to be filled in; no action set.
                let mut old: libc::sigaction = unsafe { core::mem::zeroed() };
                unsafe { libc::sigaction(libc::SIGPIPE, core::ptr::null(), &mut old) };
                (old.sa_sigaction, old.sa_flags & libc::SA_RESTART != 0)
            };
            default_sigpipe();
            let default = action();
            ignore_sigpipe();
            let ignored = action();
            default == (libc::SIG_DFL, true) && ignored == (libc::SIG_IGN, true)
        }));
    }

    #[test]
    fn peer_credentials_are_the_peers_uid_and_groups() {
        use std::os::fd::AsRawFd;
        let (socket, _peer) = std::os::unix::net::UnixStream::pair().unwrap();
        let mut groups = [0u32; 256];
        let (uid, n) = peer_credentials(socket.as_raw_fd(), &mut groups).unwrap();
        assert_eq!((uid, groups[0]), (nix::unistd::geteuid().as_raw(), nix::unistd::getegid().as_raw()));
        let mut ours: Vec<u32> = nix::unistd::getgroups().unwrap().iter().map(|g| g.as_raw()).collect();
        let mut theirs = groups[1..n].to_vec();
        ours.sort_unstable();
        theirs.sort_unstable();
        assert_eq!(theirs, ours);
        // No room for more than the primary group: the rest dropped.
        assert_eq!(peer_credentials(socket.as_raw_fd(), &mut [0]), Some((uid, 1)));
    }

    #[test]
    fn fs_type_is_statfs_magic_number() {
        assert_eq!(fs_type(c"/proc"), Some(0x9fa0), "/proc is procfs");
        assert_eq!(fs_type(c"/proc/iocinit-no-such-file"), None);
    }

    /// The page size and clock ticks read from the auxiliary vector are the
    /// C library's sysconf answers.
    #[test]
    fn page_size_and_clock_ticks_are_sysconfs() {
        // SAFETY: sysconf has no preconditions.
        let sysconf = |name| unsafe { libc::sysconf(name) };
        assert_eq!(page_size() as libc::c_long, sysconf(libc::_SC_PAGESIZE));
        assert_eq!(clock_ticks_per_second() as libc::c_long, sysconf(libc::_SC_CLK_TCK));
    }

    /// Every errno reads as std's `io::Error` writes it, those without a
    /// text of their own too ("Unknown error 41" on glibc): the number is
    /// never lost.
    #[test]
    fn an_errno_reads_as_std_writes_it() {
        for errno in [libc::ENOENT, libc::EBADF, 41, 58, 4095, -1] {
            let said_by_std = std::io::Error::from_raw_os_error(errno).to_string();
            let text = said_by_std.split(" (os error ").next().unwrap();
            assert_eq!(errno_text(errno).to_string(), text, "errno {errno}");
        }
    }

    #[test]
    fn a_fixed_buffer_keeps_what_fits_and_drops_the_rest() {
        let mut buf = FixedBuf::<8>::new();
        buf.push(b"abc");
        write!(buf, "{}", 42).unwrap();
        assert_eq!(buf.as_bytes(), b"abc42");
        buf.push(b"defgh");
        assert_eq!(buf.as_bytes(), b"abc42def");
        buf.push(b"i");
        write!(buf, "j").unwrap();
        assert_eq!(buf.as_bytes(), b"abc42def");
        buf.clear();
        buf.push(b"");
        buf.push(b"0123456789");
        assert_eq!(buf.as_bytes(), b"01234567");
    }

    #[test]
    fn a_kernel_without_pid_namespaces_is_the_initial_one() {
        assert!(is_initial_pid_namespace(Ok(0xEFFF_FFFC), || true));
        assert!(!is_initial_pid_namespace(Ok(0xEFFF_FFFB), || true));
        // No ns/pid entry with /proc mounted: no CONFIG_PID_NS.
        assert!(is_initial_pid_namespace(Err(libc::ENOENT), || true));
        // /proc not mounted, or stat refused: nothing says so.
        assert!(!is_initial_pid_namespace(Err(libc::ENOENT), || false));
        assert!(!is_initial_pid_namespace(Err(libc::EACCES), || true));
    }

    #[test]
    fn a_lazy_buffer_is_zeroed_and_resident_only_where_written() {
        const PAGE: usize = 4096;
        let mut buf = LazyBuf::<{ 4 * PAGE }>::new();
        assert!(buf.is_mapped());
        buf[PAGE] = 7;
        let mut resident = [0u8; 4];
        // SAFETY: mincore of the buffer's own page-aligned mapping.
        assert_eq!(unsafe { libc::mincore(buf.as_mut_ptr().cast(), 4 * PAGE, resident.as_mut_ptr()) }, 0);
        assert_eq!(resident[1] & 1, 1, "the written page is resident");
        assert_eq!(resident[3] & 1, 0, "an untouched page is not: {resident:?}");
        assert!(buf.iter().enumerate().all(|(k, &b)| b == if k == PAGE { 7 } else { 0 }));
    }

    #[test]
    fn a_released_lazy_buffer_gives_its_pages_back() {
        const PAGE: usize = 4096;
        let mut buf = LazyBuf::<{ 2 * PAGE }>::new();
        buf[0] = 7;
        buf[PAGE] = 8;
        buf.release();
        let mut resident = [0u8; 2];
        // SAFETY: mincore of the buffer's own page-aligned mapping.
        assert_eq!(unsafe { libc::mincore(buf.as_mut_ptr().cast(), 2 * PAGE, resident.as_mut_ptr()) }, 0);
        assert_eq!(resident.map(|r| r & 1), [0, 0], "released pages are not resident");
        assert!(buf.iter().all(|&b| b == 0), "and read as zeroes");
    }

    /// Whether the page of `address` in this thread's stack is resident.
    fn stack_page_resident(address: usize) -> bool {
        const PAGE: usize = 4096;
        let mut vec = [0u8; 1];
        // SAFETY: mincore of one page of this thread's stack mapping.
        assert_eq!(unsafe { libc::mincore((address & !(PAGE - 1)) as *mut libc::c_void, PAGE, vec.as_mut_ptr()) }, 0);
        vec[0] & 1 == 1
    }

    /// Writes 17 pages of the stack below the caller's frame.
    #[inline(never)]
    fn write_deep_into_the_stack() {
        const PAGE: usize = 4096;
        #[inline(never)]
        fn deep(depth: usize) -> u8 {
            let mut buf = [depth as u8; PAGE];
            std::hint::black_box(&mut buf);
            if depth == 0 { buf[0] } else { deep(depth - 1).wrapping_add(buf[PAGE / 2]) }
        }
        std::hint::black_box(deep(16));
    }

    #[test]
    fn the_stack_a_deep_call_touched_goes_back_to_the_kernel() {
        const PAGE: usize = 4096;
        let mut stack = StackRelease::of_caller().expect("this thread's stack in /proc/self/maps");
        let marker = 0u8;
        let here = core::ptr::addr_of!(marker) as usize;
        let (start, end) = mapping_holding(here).expect("this thread's stack in /proc/self/maps");
        assert!(start < here && here < end);
        // A page the deep call wrote, well below this frame.
        write_deep_into_the_stack();
        let below = here - 8 * PAGE;
        assert!(below >= start && stack_page_resident(below));
        stack.below_caller();
        assert!(!stack_page_resident(below), "still resident after the release");
        assert!(stack_page_resident(here), "this frame's own page stays");
        // A stack whose mapping grew down since it was seen (its start is
        // stale): the pages below the old start go back too.
        let mut stale = StackRelease { start: (below & !(PAGE - 1)) + PAGE };
        write_deep_into_the_stack();
        assert!(stack_page_resident(below));
        stale.below_caller();
        assert!(!stack_page_resident(below), "below a stale start: still resident after the release");
    }

    #[test]
    fn a_release_keeps_no_page_below_the_one_its_frame_needs() {
        // As if released from a frame in the middle of a page eight pages
        // down: that page stays (the madvise call's frames lie in it), the
        // one below goes (a whole page was kept there before: with the
        // kernel's random stack offset, one more page of PID 1's stack in
        // most boots).
        const PAGE: usize = 4096;
        let mut stack = StackRelease::of_caller().expect("this thread's stack in /proc/self/maps");
        let marker = 0u8;
        let here = core::ptr::addr_of!(marker) as usize;
        write_deep_into_the_stack();
        let from = (here & !(PAGE - 1)) - 8 * PAGE + PAGE / 2;
        assert!(stack_page_resident(from) && stack_page_resident(from - PAGE));
        stack.below(from);
        assert!(stack_page_resident(from), "the page of the releasing frame went");
        assert!(!stack_page_resident(from - PAGE), "a page kept below the releasing frame's");
        assert!(stack_page_resident(from + PAGE) && stack_page_resident(here), "above it, nothing goes");
    }

    #[test]
    fn epoch_is_a_valid_local_time() {
        let t = local_time(0).unwrap();
        assert!(t.year == 1970 || t.year == 1969);
        assert!((1..=12).contains(&t.month) && (1..=31).contains(&t.day));
        assert!(local_time(i64::MAX).is_none());
    }

    #[test]
    fn parse_i32_reads_what_str_parse_reads() {
        for text in ["0", "42", "+7", "-7", "2147483647", "-2147483648", "2147483648", "-2147483649", "", "-", "+", " 1", "1 ", "0x10", "99999999999999999999"] {
            assert_eq!(parse_i32(text), text.parse::<i32>().ok(), "{text:?}");
        }
    }

    /// PID 1's mounts go through `mount`: a tmpfs with its options, in a
    /// mount namespace of a child's own (needs root, as the suite does), and
    /// the errno of one that fails.
    #[test]
    fn mount_mounts_and_says_why_not() {
        assert_eq!(mount(None, c"/nonexistent-iocinit-mount", None, libc::MS_REMOUNT | libc::MS_RDONLY, None), Err(libc::ENOENT));
        let dir = crate::scratch::ScratchDir::new("sys-mount");
        let target = path_c(&dir).unwrap();
        let held = holds_in_a_child(|| {
            // SAFETY (here and below): the child's own mount namespace; a
            // plain C struct that stat fills.
            let private = unsafe { libc::unshare(libc::CLONE_NEWNS) } == 0
                && mount(None, c"/", None, libc::MS_REC | libc::MS_PRIVATE, None).is_ok();
            let mounted = private && mount(Some(c"tmpfs"), &target, Some(c"tmpfs"), libc::MS_NOSUID, Some(c"mode=0710")).is_ok();
            let tmpfs = fs_type(&target) == Some(0x0102_1994);
            let mut st: libc::stat = unsafe { std::mem::zeroed() };
            let mode = unsafe { libc::stat(target.as_ptr(), &mut st) } == 0 && st.st_mode & 0o7777 == 0o710;
            mounted && tmpfs && mode
        });
        let _ = std::fs::remove_dir(&dir);
        assert!(held);
    }

    #[test]
    fn parse_pid_accepts_pid_file_forms() {
        assert_eq!(parse_pid(b"1234\n"), Some(1234));
        assert_eq!(parse_pid(b"  42"), Some(42));
        assert_eq!(parse_pid(b"0"), None);
        assert_eq!(parse_pid(b"abc"), None);
        assert_eq!(parse_pid(b""), None);
        assert_eq!(parse_pid(b"99999999999"), None);
    }

    #[test]
    fn own_stat_and_environ_are_readable() {
        let me = std::process::id() as Pid;
        let st = proc_stat(me).expect("own stat");
        assert_eq!(st.ppid, nix::unistd::getppid().as_raw());
        std::env::set_var("IOCINIT_SYS_TEST", "yes");
        // The process environ in /proc is the initial one; PATH is always there.
        let path = std::env::var("PATH").unwrap();
        let entry = format!("PATH={path}");
        let dir = ProcDir::open(me).unwrap();
        assert!(dir.environ_has(entry.as_bytes()));
        assert!(!dir.environ_has(b"PATH=/nonexistent"));
        assert!(!dir.environ_has(b"PAT"));
        // The same process through its directory; its state is the main
        // thread's, running or asleep as the test harness is at that moment.
        let through_dir = dir.stat().expect("stat through the directory");
        assert_eq!((through_dir.ppid, through_dir.start_ticks), (st.ppid, st.start_ticks));
    }

    #[test]
    fn stat_and_status_fields_are_parsed_whatever_the_command_name() {
        let line = b"42 (a) b) c) S 7 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 123456 1000 10\n";
        assert_eq!(parse_stat(line), Some(ProcStat { ppid: 7, state: b'S', start_ticks: 123456 }));
        assert_eq!(parse_stat(b"42 (x) S 7"), None);
        // kthreadd: parent 0, outside the namespace.
        let kthreadd = b"2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 2 0 0 20 0 1 0 3 0 0\n";
        assert_eq!(parse_stat(kthreadd), Some(ProcStat { ppid: 0, state: b'S', start_ticks: 3 }));
        assert_eq!(parse_stat(b"2 (x) S 01 0 0 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 3 0 0\n").map(|s| s.ppid), Some(1));
        let status = b"Name:\tsleep\nUmask:\t0022\nState:\tS (sleeping)\nUid:\t994\t0\t0\t0\nGid:\t992\t992\t992\t992\n";
        assert_eq!(parse_uids(status), Some((994, 0)));
        assert_eq!(parse_uids(b"Name:\tx\n"), None);
        let me = std::process::id() as Pid;
        let uid = nix::unistd::getuid().as_raw();
        assert_eq!(ProcDir::open(me).unwrap().uids(), Some((uid, nix::unistd::geteuid().as_raw())));
        let own = proc_stat(me).unwrap().start_ticks;
        assert!(own <= boot_ticks(), "a process never starts after the boot clock says now");
        assert!(own > 0 && proc_stat(1).is_none_or(|init| init.start_ticks <= own));
    }

    #[test]
    fn pid_files_are_read_only_when_regular_and_never_followed_or_waited_for() {
        let dir = crate::scratch::ScratchDir::new("pidfile");
        let c = |name: &str| std::ffi::CString::new(dir.join(name).to_str().unwrap()).unwrap();
        std::fs::write(dir.join("good"), "1234\n").unwrap();
        assert_eq!(read_pid_file(&c("good")), Some(1234));
        std::os::unix::fs::symlink(dir.join("good"), dir.join("link")).unwrap();
        assert_eq!(read_pid_file(&c("link")), None, "a symlink is not followed");
        std::os::unix::fs::symlink("/dev/zero", dir.join("zero")).unwrap();
        assert_eq!(read_pid_file(&c("zero")), None);
        nix::unistd::mkfifo(&dir.join("fifo"), nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        assert_eq!(read_pid_file(&c("fifo")), None, "a FIFO without a writer does not block");
        assert_eq!(read_pid_file(&c("missing")), None);

        // Before a start: regular files and symlinks go (not their targets),
        // anything else stays.
        assert!(remove_stale_file(&c("link")));
        assert!(dir.join("good").exists());
        assert!(remove_stale_file(&c("good")) && !dir.join("good").exists());
        assert!(!remove_stale_file(&c("fifo")) && dir.join("fifo").exists());
        std::fs::create_dir(dir.join("sub")).unwrap();
        assert!(!remove_stale_file(&c("sub")) && dir.join("sub").exists());
        assert!(!remove_stale_file(&c("missing")));
    }

    #[test]
    fn for_each_pid_finds_self() {
        let me = std::process::id() as Pid;
        let mut found = false;
        for_each_pid(|p| found |= p == me);
        assert!(found);
    }

    fn stat_with_parent(ppid: Pid) -> Option<ProcStat> {
        Some(ProcStat { ppid, state: b'S', start_ticks: 0 })
    }

    #[test]
    fn an_ancestor_ending_during_the_walk_does_not_hide_a_descendant() {
        // 30 under 20 under 10 under 1. The walk reads 30's parent, 20; then
        // 20 ends, reaped by 10, and 30 is 1's child before 20 is gone.
        let mut ended = false;
        let stat = |pid: Pid| match pid {
            30 if ended => stat_with_parent(1),
            30 => stat_with_parent(20),
            20 => {
                ended = true;
                None
            }
            10 => stat_with_parent(1),
            _ => None,
        };
        assert_eq!(descends_from_in(30, 1, stat), Some(true));
    }

    #[test]
    fn a_kernel_thread_is_not_below_pid1_and_its_walk_stops_at_kthreadd() {
        // As /proc has them: a kernel thread below kthreadd, whose parent is
        // 0. A stat read as "gone" for ppid 0 made the walk start over
        // until it gave up, and PID 1 then signalled every kernel thread at
        // shutdown (on the QEMU board: 44 signalled, 42 never ended).
        let mut reads = 0;
        let stat = |pid: Pid| {
            reads += 1;
            match pid {
                300 => parse_stat(b"300 (kworker/0:1-events) I 2 0 0 0 -1 69238880 0 0 0 0 0 0 0 0 20 0 1 0 40 0 0\n"),
                2 => parse_stat(b"2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 2 0 0 20 0 1 0 3 0 0\n"),
                _ => None,
            }
        };
        assert_eq!(descends_from_in(300, 1, stat), Some(false));
        assert_eq!(reads, 2);
        // And the machine's own kernel threads, where /proc shows them (a
        // test host's root PID namespace): none is below PID 1.
        for_each_pid(|pid| {
            if proc_stat(pid).is_some_and(|st| st.ppid == 2) && proc_stat(2).is_some_and(|st| st.ppid == 0) {
                assert_eq!(descends_from(pid, 1), Some(false), "kernel thread {pid}");
            }
        });
    }

    #[test]
    fn the_walk_knows_gone_processes_other_roots_and_when_to_stop() {
        // Gone itself: nothing below anyone.
        assert_eq!(descends_from_in(30, 1, |_| None), Some(false));
        // Entered from outside the namespace (parent 0), or below 1 when the
        // ancestor is another process (a --local supervisor).
        assert_eq!(descends_from_in(30, 1, |pid| stat_with_parent(if pid == 30 { 0 } else { 1 })), Some(false));
        assert_eq!(descends_from_in(30, 7, |pid| stat_with_parent(if pid == 30 { 20 } else { 1 })), Some(false));
        // A chain deeper than the walk follows.
        assert_eq!(descends_from_in(1000, 1, |pid| stat_with_parent(pid - 1)), None);
        // Ancestors that end during every walk: a bounded number of new starts.
        let mut reads = 0;
        let endless = |pid: Pid| {
            reads += 1;
            if pid == 30 {
                stat_with_parent(1000 + reads)
            } else {
                None
            }
        };
        assert_eq!(descends_from_in(30, 1, endless), None);
        assert_eq!(reads, 2 * DESCENT_DEPTH as i32);
    }

    #[test]
    fn write_atomic_replaces_content() {
        let dir = crate::scratch::ScratchDir::new("sys");
        let file = dir.join("state");
        std::fs::write(&file, "old").unwrap();
        let c = std::ffi::CString::new(file.to_str().unwrap()).unwrap();
        write_atomic(&c, |fd| fd.write_all(b"new content")).unwrap();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "new content");
        assert!(!dir.join("state.tmp").exists());
    }

    #[test]
    fn open_file_opens_close_on_exec_and_its_errors_keep_their_kinds() {
        use std::os::unix::fs::PermissionsExt;
        let dir = crate::scratch::ScratchDir::new("open-file");
        let path = dir.join("new");
        let created = open_file(&path, libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL, 0o600).unwrap();
        // SAFETY: F_GETFD of an open descriptor.
        let fd_flags = unsafe { libc::fcntl(created.as_raw_fd(), libc::F_GETFD) };
        assert_eq!(fd_flags & libc::FD_CLOEXEC, libc::FD_CLOEXEC);
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let again = open_file(&path, libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL, 0o600).unwrap_err();
        assert_eq!(again.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(open_file(&dir.join("missing"), libc::O_RDONLY, 0).unwrap_err().kind(), io::ErrorKind::NotFound);
        assert_eq!(open_file(std::path::Path::new("a\0b"), libc::O_RDONLY, 0).unwrap_err().kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn cpath_rejects_overflow_and_nul() {
        assert!(CPath::from_bytes(&[b'a'; 300]).is_none());
        assert!(CPath::from_bytes(b"a\0b").is_none());
        assert_eq!(CPath::format(format_args!("/proc/{}/stat", 7)).unwrap().as_bytes(), b"/proc/7/stat");
        // 255 bytes and the NUL fill the buffer; one more does not fit.
        assert_eq!(CPath::from_bytes(&[b'a'; 255]).unwrap().as_cstr().to_bytes().len(), 255);
        assert!(CPath::from_bytes(&[b'a'; 256]).is_none());
    }

    /// A getdents64 record: inode, offset, LEN, type, then NAME and its NUL.
    fn dirent(len: u16, name: &[u8]) -> Vec<u8> {
        let mut record = [[0u8; 16].as_slice(), &len.to_ne_bytes(), &[0], name, &[0]].concat();
        record.resize(record.len().max(usize::from(len)), 0);
        record
    }

    #[test]
    fn dirent_records_are_read_and_a_bad_length_ends_the_walk() {
        let mut names = Vec::new();
        let records = [dirent(24, b"1"), dirent(32, b"self"), vec![0; 7]].concat();
        assert!(each_dirent_name(&records, &mut |name| names.push(name.to_vec())));
        assert_eq!(names, [b"1".to_vec(), b"self".to_vec()]);
        // A length shorter than the record's header (this panicked: a
        // slice from its 19th byte to its 5th), zero, or past the end.
        for len in [5, 0, 64] {
            names.clear();
            let mut bad = dirent(24, b"2");
            bad[16..18].copy_from_slice(&u16::to_ne_bytes(len));
            let records = [dirent(24, b"1"), bad].concat();
            assert!(!each_dirent_name(&records, &mut |name| names.push(name.to_vec())));
            assert_eq!(names, [b"1".to_vec()]);
        }
    }
}
