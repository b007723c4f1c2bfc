//! Signal delivery into the console client's poll loop, which nix has no
//! safe wrapper for: a self-pipe written by an async-signal-safe handler.
#![allow(unsafe_code)]
//!
//! A self-pipe rather than a signalfd: a signalfd only sees signals blocked in
//! every thread, and a process-directed SIGHUP may land on any thread; a
//! handler runs wherever it lands and the poll loop still hears of it.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicI32, Ordering};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};

/// Write end of the installed [`SignalPipe`], or -1. The handler reads only this.
static SIGNAL_PIPE_WRITE_FD: AtomicI32 = AtomicI32::new(-1);

extern "C" fn note_signal(signo: libc::c_int) {
    let saved = Errno::last_raw();
    let fd = SIGNAL_PIPE_WRITE_FD.load(Ordering::Relaxed);
    if fd >= 0 {
        let byte = signo as u8;
        // SAFETY: write(2) is async-signal-safe; the buffer is a live local and
        // the pipe is non-blocking, so a full pipe drops the byte instead of
        // blocking (one pending byte is enough to wake the loop).
        unsafe { libc::write(fd, (&byte as *const u8).cast(), 1) };
    }
    Errno::set_raw(saved);
}

/// While alive, the given signals are caught and reported through a pipe
/// that a poll loop can watch; dropping it restores the previous handlers.
/// One may exist at a time.
pub struct SignalPipe {
    read: OwnedFd,
    // Kept open for the handler, which knows it only by number.
    _write: OwnedFd,
    previous: Vec<(Signal, SigAction)>,
}

impl SignalPipe {
    pub fn install(signals: &[Signal]) -> io::Result<SignalPipe> {
        let (read, write) = nix::unistd::pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK)?;
        use std::os::fd::AsRawFd;
        if SIGNAL_PIPE_WRITE_FD
            .compare_exchange(-1, write.as_raw_fd(), Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            return Err(crate::logging::io_error(
                io::ErrorKind::AlreadyExists,
                "a signal pipe is already installed",
            ));
        }
        let mut pipe = SignalPipe {
            read,
            _write: write,
            previous: Vec::new(),
        };
        // No SA_RESTART: a blocking call in the loop returns EINTR and the loop
        // looks at the pipe at once.
        let action = SigAction::new(
            SigHandler::Handler(note_signal),
            SaFlags::empty(),
            SigSet::empty(),
        );
        for &signal in signals {
            // SAFETY: the handler only loads an atomic and calls write(2), both
            // async-signal-safe; the previous action is kept and restored on drop.
            let old = unsafe { sigaction(signal, &action) }?;
            pipe.previous.push((signal, old));
        }
        Ok(pipe)
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.read.as_fd()
    }

    /// The first signal caught since the last call, if any.
    pub fn take(&self) -> Option<Signal> {
        let mut buf = [0u8; 16];
        let mut first = None;
        while let Ok(n @ 1..) =
            nix::unistd::read(std::os::fd::AsRawFd::as_raw_fd(&self.read), &mut buf)
        {
            if first.is_none() {
                first = Signal::try_from(i32::from(buf[0])).ok();
            }
            if n < buf.len() {
                break;
            }
        }
        first
    }
}

impl Drop for SignalPipe {
    fn drop(&mut self) {
        for (signal, old) in self.previous.drain(..).rev() {
            // SAFETY: re-installs the action that was in place before `install`.
            let _ = unsafe { sigaction(signal, &old) };
        }
        SIGNAL_PIPE_WRITE_FD.store(-1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_caught_signal_shows_up_in_the_pipe_and_the_old_handler_returns() {
        let pipe = SignalPipe::install(&[Signal::SIGUSR2]).unwrap();
        assert!(SignalPipe::install(&[Signal::SIGUSR1]).is_err());
        nix::sys::signal::raise(Signal::SIGUSR2).unwrap();
        assert_eq!(pipe.take(), Some(Signal::SIGUSR2));
        assert_eq!(pipe.take(), None);
        drop(pipe);
        // SAFETY: puts back the default action of SIGUSR2 and returns what was installed.
        let current = unsafe {
            sigaction(
                Signal::SIGUSR2,
                &SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty()),
            )
        }
        .unwrap();
        assert_eq!(current.handler(), SigHandler::SigDfl);
    }
}
