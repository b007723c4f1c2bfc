//! iocinit's executable: one binary, many names (see `cli`).
//!
//! Its `main` is the C library's: the program starts without std's runtime
//! start-up (`#![no_main]`), which on armv7 was 6,236 bytes of code and
//! read-only data, most of them std's stack-overflow handler (a signal
//! handler, an alternate signal stack, a `BTreeMap` of threads' guard
//! pages: this program has one thread) and its clean-up at exit. What of
//! that start-up the program relies on is done here, as std does it: the
//! standard descriptors opened on /dev/null when closed (on the root
//! directory where there is no /dev/null, where std aborted), SIGPIPE
//! ignored, the arguments taken from argv, stdout flushed at the end. What
//! is not kept: the line std prints on a stack overflow (the kernel still
//! reports the SIGSEGV), and the main thread's name in a panic's first line
//! (`thread '<unnamed>'`, not `'main'`; the file, line and message are as
//! before, in the host builds: the static ones abort at a panic with a
//! trap, which `trap` reports).
//! docs/ARCHITECTURE.md, "Binary size".
#![cfg_attr(not(test), no_main)]

// Only in the static builds this tree's .cargo/config.toml makes (no
// unwind tables); a build elsewhere (Buildroot's, with its own std) keeps
// its unwinder.
#[cfg(all(iocinit_no_unwinder, panic = "abort", target_env = "musl"))]
mod no_unwinder;

#[cfg(not(test))]
use std::ffi::{c_char, c_int, CStr, OsString};
#[cfg(not(test))]
use std::os::unix::ffi::OsStringExt;

#[cfg(not(test))]
#[unsafe(no_mangle)]
extern "C" fn main(argc: c_int, argv: *const *const c_char) -> c_int {
    // First: a panic of the static builds is a trap, and this says where.
    iocinit::trap::install();
    open_closed_standard_fds();
    // As std's start-up does: a write to a closed pipe is an error to
    // handle, not a death (the front ends restore the default: cli).
    iocinit::sys::ignore_sigpipe();
    // std::env::args is empty without std's start-up (on musl): argv is read
    // here, up to argc or its first null pointer, as std reads it.
    let args = (0..usize::try_from(argc).unwrap_or(0))
        .map(|i| unsafe { *argv.add(i) })
        .take_while(|arg| !arg.is_null())
        .map(|arg| OsString::from_vec(unsafe { CStr::from_ptr(arg) }.to_bytes().to_vec()))
        .collect();
    let code = iocinit::cli::main(args);
    // What std's exit does first; the C library's exit follows the return.
    let _ = std::io::Write::flush(&mut std::io::stdout());
    code
}

/// A standard descriptor that is closed at start-up is opened on /dev/null,
/// as std's start-up does, so that a file opened later never becomes
/// stdin, stdout or stderr (the kernel may start PID 1 with none of them).
/// Where there is no /dev/null (an initramfs without device nodes, before
/// anything mounts /dev) std's start-up aborted, and PID 1's abort is the
/// kernel's panic: the root directory, opened read-only, holds the place
/// instead (a read or write on it fails; `pid1::take_console` replaces it
/// as it replaces /dev/null).
#[cfg(not(test))]
fn open_closed_standard_fds() {
    for fd in 0..3 {
        let closed = iocinit::sys::fcntl(fd, libc::F_GETFD, 0) == Err(libc::EBADF);
        // The lowest free descriptor: `fd` itself, the lower ones being open.
        if closed
            && unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) } == -1
            && unsafe { libc::open(c"/".as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY) } == -1
        {
            std::process::abort();
        }
    }
}
