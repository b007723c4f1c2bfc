//! The engine's only way to the operating system: the [`Os`] trait, and
//! [`RealOs`], its implementation on the real kernel. Unit tests drive the
//! engine with a recording fake instead, without a kernel boot.
//!
//! Every method is allocation-free in `RealOs`.

use std::ffi::CStr;

use crate::engine::plan::ConsolePlan;
use crate::spawn::{self, Command, SpawnError};
use crate::sys::{self, Pid};

pub trait Os {
    /// Monotonic milliseconds.
    fn now_ms(&self) -> u64;
    /// Wall-clock seconds since the epoch.
    fn wall_secs(&self) -> i64;
    /// The supervisor's own pid (1 as init; what orphans are reparented to).
    fn self_pid(&self) -> Pid;
    fn spawn(&mut self, cmd: &Command, opts: &spawn::Options<'_>) -> Result<Pid, SpawnError>;
    fn kill(&mut self, pid: Pid, signal: i32) -> Result<(), i32>;
    fn pid_exists(&mut self, pid: Pid) -> bool;
    fn read_pid_file(&mut self, path: &CStr) -> Option<Pid>;
    /// Calls `f` for every process whose environment holds `marker`.
    fn for_each_marked(&mut self, marker: &CStr, f: &mut dyn FnMut(Pid, Pid));
    /// Calls `f` for every direct child of `parent`.
    fn for_each_child(&mut self, parent: Pid, f: &mut dyn FnMut(Pid));
    /// Signals every process under the supervisor (killall5: all but PID 1
    /// and kernel threads as init; our descendants under --local). Returns
    /// how many were signalled.
    fn signal_all(&mut self, signal: i32) -> usize;
    /// Creates the directory of a console (owner uid:gid, mode 0750), the
    /// IOC log directory and the log file (owned uid:gid, so the IOC's user
    /// can write it and the log can be watched before procServ opens it).
    fn prepare_console(&mut self, console: &ConsolePlan) -> Result<(), i32>;
    /// Removes what a console leaves behind (socket, info file).
    fn clean_console(&mut self, socket: &CStr, info: &CStr);
    /// pivot_root(2) for PIVOT objects.
    fn pivot_root(&mut self, new_root: &CStr, put_old: &CStr) -> Result<(), i32>;
    /// Replaces the supervisor with `cmd` (EXEC objects); returns only on failure.
    fn exec(&mut self, cmd: &Command) -> i32;
    /// One complete status line for the console (and the system log).
    fn status_line(&mut self, line: &[u8]);
}

/// The real kernel.
pub struct RealOs {
    self_pid: Pid,
}

impl RealOs {
    pub fn new() -> Self {
        RealOs { self_pid: std::process::id() as Pid }
    }
}

impl Default for RealOs {
    fn default() -> Self {
        RealOs::new()
    }
}

impl Os for RealOs {
    fn now_ms(&self) -> u64 {
        sys::now_ms()
    }

    fn wall_secs(&self) -> i64 {
        sys::wall_secs()
    }

    fn self_pid(&self) -> Pid {
        self.self_pid
    }

    fn spawn(&mut self, cmd: &Command, opts: &spawn::Options<'_>) -> Result<Pid, SpawnError> {
        spawn::spawn(cmd, opts)
    }

    fn kill(&mut self, pid: Pid, signal: i32) -> Result<(), i32> {
        // Never signal a process group or everything by accident.
        if pid <= 1 {
            return Err(libc::EINVAL);
        }
        sys::kill(pid, signal)
    }

    fn pid_exists(&mut self, pid: Pid) -> bool {
        sys::pid_exists(pid)
    }

    fn read_pid_file(&mut self, path: &CStr) -> Option<Pid> {
        sys::read_pid_file(path)
    }

    fn for_each_marked(&mut self, marker: &CStr, f: &mut dyn FnMut(Pid, Pid)) {
        let me = self.self_pid;
        sys::for_each_pid(|pid| {
            if pid != me && sys::environ_has(pid, marker.to_bytes()) {
                if let Some(st) = sys::proc_stat(pid) {
                    // A zombie still carries its environment until reaped.
                    if st.state != b'Z' {
                        f(pid, st.ppid);
                    }
                }
            }
        });
    }

    fn for_each_child(&mut self, parent: Pid, f: &mut dyn FnMut(Pid)) {
        sys::for_each_pid(|pid| {
            if sys::proc_stat(pid).map(|s| s.ppid) == Some(parent) {
                f(pid);
            }
        });
    }

    fn signal_all(&mut self, signal: i32) -> usize {
        let me = self.self_pid;
        let mut count = 0;
        sys::for_each_pid(|pid| {
            if pid == me {
                return;
            }
            // Zombies need no signal: they only wait to be reaped.
            let alive = sys::proc_stat(pid).is_some_and(|s| s.state != b'Z');
            if alive && sys::descends_from(pid, me) && sys::kill(pid, signal).is_ok() {
                count += 1;
            }
        });
        count
    }

    fn prepare_console(&mut self, console: &ConsolePlan) -> Result<(), i32> {
        let (uid, gid) = (console.uid, console.gid);
        sys::mkdir_p(console.log_dir.to_bytes(), 0o755)?;
        sys::mkdir_p(console.dir.to_bytes(), 0o750)?;
        // nix's path functions take a CStr without allocating.
        let _ = nix::unistd::chown(console.dir.as_c_str(), Some(uid.into()), Some(gid.into()));
        let _ = nix::sys::stat::fchmodat(
            None,
            console.dir.as_c_str(),
            nix::sys::stat::Mode::from_bits_truncate(0o750),
            nix::sys::stat::FchmodatFlags::FollowSymlink,
        );
        let log = sys::Fd::open(&console.log, libc::O_WRONLY | libc::O_CREAT | libc::O_APPEND | libc::O_NOCTTY, 0o640)?;
        sys::fchown(&log, uid, gid);
        Ok(())
    }

    fn clean_console(&mut self, socket: &CStr, info: &CStr) {
        let _ = nix::unistd::unlink(socket);
        let _ = nix::unistd::unlink(info);
    }

    fn pivot_root(&mut self, new_root: &CStr, put_old: &CStr) -> Result<(), i32> {
        crate::sys::pivot_root(new_root, put_old)
    }

    fn exec(&mut self, cmd: &Command) -> i32 {
        spawn::exec(cmd)
    }

    fn status_line(&mut self, line: &[u8]) {
        crate::logging::console_line(line);
    }
}
