//! Starting a command on a fresh pseudo-terminal that becomes its
//! controlling terminal (as a login's would be), for the console-client
//! tests and the attach latency benchmark.

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};

use nix::pty::openpty;
use nix::sys::termios::{tcgetattr, Termios};

/// The command running on a pty: the master side, the slave side (kept
/// open to read its settings), the settings from before the spawn, the child.
pub struct Spawned {
    pub master: OwnedFd,
    pub slave: OwnedFd,
    pub initial: Termios,
    pub child: Child,
}

pub fn spawn(mut cmd: Command) -> Spawned {
    let pty = openpty(None, None).unwrap();
    // Read before the spawn: afterwards the command may already have changed them.
    let initial = tcgetattr(pty.slave.as_fd()).unwrap();
    cmd.stdin(Stdio::from(pty.slave.try_clone().unwrap()))
        .stdout(Stdio::from(pty.slave.try_clone().unwrap()))
        .stderr(Stdio::from(pty.slave.try_clone().unwrap()));
    // SAFETY: setsid and ioctl are async-signal-safe system calls; the child
    // makes the pty (its stdin) its controlling terminal, so Ctrl-C and
    // hang-ups behave as on a real login.
    unsafe {
        cmd.pre_exec(|| {
            nix::unistd::setsid()?;
            if libc::ioctl(0, libc::TIOCSCTTY, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = cmd.spawn().unwrap();
    Spawned { master: pty.master, slave: pty.slave, initial, child }
}
