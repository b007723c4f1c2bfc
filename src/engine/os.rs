//! The engine's only way to the operating system: the [`Os`] trait, and
//! [`RealOs`], its implementation on the real kernel. Unit tests drive the
//! engine with a recording fake instead, without a kernel boot.
//!
//! Every method is allocation-free in `RealOs`.

use std::ffi::CStr;

use crate::engine::plan::ConsolePlan;
use crate::spawn::{self, Command, SpawnError};
use crate::sys::{self, Pid};

/// A host name as the kernel holds it (at most 64 bytes).
pub type HostName = heapless::String<64>;

/// Which path of an IOC's console [`Os::prepare_console`] refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsolePart {
    LogDirectory,
    Directory,
    Log,
}

impl ConsolePart {
    pub fn name(self) -> &'static str {
        match self {
            ConsolePart::LogDirectory => "IOC log directory",
            ConsolePart::Directory => "console directory",
            ConsolePart::Log => "IOC log",
        }
    }
}

/// Why it was refused: what was found there, or the error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsoleProblem {
    Symlink,
    NotDirectory,
    NotRegular,
    Linked,
    Errno(i32),
}

impl core::fmt::Display for ConsoleProblem {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ConsoleProblem::Symlink => f.write_str("a symbolic link, not followed"),
            ConsoleProblem::NotDirectory => f.write_str("not a directory"),
            ConsoleProblem::NotRegular => f.write_str("not a regular file"),
            ConsoleProblem::Linked => f.write_str("a file with other links, not used"),
            ConsoleProblem::Errno(e) => write!(f, "{}", crate::sys::errno_text(*e)),
        }
    }
}

/// A console that [`Os::prepare_console`] did not prepare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsoleRefusal {
    pub part: ConsolePart,
    pub problem: ConsoleProblem,
}

impl ConsoleRefusal {
    fn errno(part: ConsolePart, e: i32) -> Self {
        ConsoleRefusal { part, problem: ConsoleProblem::Errno(e) }
    }

    /// An open without following that failed: what is at `path` instead
    /// (ELOOP and ENOTDIR are a symlink or a file; ENXIO a FIFO or device
    /// that nobody has open).
    fn classify(part: ConsolePart, path: &CStr, e: i32) -> Self {
        let problem = match (e, nix::sys::stat::lstat(path)) {
            (libc::ELOOP | libc::ENOTDIR | libc::ENXIO, Ok(st)) if st.st_mode & libc::S_IFMT == libc::S_IFLNK => ConsoleProblem::Symlink,
            (libc::ENOTDIR, Ok(_)) if part == ConsolePart::Directory => ConsoleProblem::NotDirectory,
            (libc::ENXIO, Ok(_)) => ConsoleProblem::NotRegular,
            _ => ConsoleProblem::Errno(e),
        };
        ConsoleRefusal { part, problem }
    }
}

pub trait Os {
    /// Monotonic milliseconds.
    fn now_ms(&self) -> u64;
    /// Wall-clock seconds since the epoch.
    fn wall_secs(&self) -> i64;
    /// Kernel clock ticks since boot, in the unit of [`ProcInfo::start_ticks`]:
    /// a process started after this reading never shows an earlier start.
    fn boot_ticks(&self) -> u64;
    /// The supervisor's own pid (1 as init; what orphans are reparented to).
    fn self_pid(&self) -> Pid;
    fn spawn(&mut self, cmd: &Command, opts: &spawn::Options<'_>) -> Result<Pid, SpawnError>;
    fn kill(&mut self, pid: Pid, signal: i32) -> Result<(), i32>;
    /// Signals `pid` with its process group when it leads a group of its own
    /// (every command the engine starts does: setsid), so that what a shell
    /// command started goes too; otherwise `pid` alone. Never a group that
    /// holds the supervisor, never group 0, 1 or -1. The caller passes only a
    /// pid that is the object's: the group it leads is then the object's.
    fn kill_group(&mut self, pid: Pid, signal: i32) -> Result<(), i32>;
    /// Signals process group `pgid` whose leader is gone (kill(-pgid)). The
    /// caller passes only a group it saw still holding members right after it
    /// reaped the group's leader, its own child: the group is then the
    /// object's, and its number is not reused while a member is left. Never
    /// group 0 or 1, nor the supervisor's.
    fn signal_group(&mut self, pgid: Pid, signal: i32) -> Result<(), i32>;
    /// Whether process group `pgid` has a member (a zombie counts until it is
    /// reaped), as [`Os::signal_group`] with signal 0 finds.
    fn group_exists(&mut self, pgid: Pid) -> bool;
    fn pid_exists(&mut self, pid: Pid) -> bool;
    /// The pid in a pid file (a regular file, not followed if a symlink,
    /// never waited for, only its first bytes read).
    fn read_pid_file(&mut self, path: &CStr) -> Option<Pid>;
    /// Removes a pid file left from an earlier run: a regular file or a
    /// symlink (the link, not its target); anything else stays.
    fn remove_pid_file(&mut self, path: &CStr);
    /// Who process `pid` is, read in one go; `None` when there is no such
    /// process.
    fn process(&mut self, pid: Pid) -> Option<ProcInfo>;
    /// Whether the environment of `pid` holds `marker`.
    fn has_marker(&mut self, pid: Pid, marker: &CStr) -> bool;
    /// Calls `f` for every live (not zombie) process but the supervisor
    /// whose environment holds `marker`. Anyone can set a marker: it finds
    /// candidates, the engine decides whose they are.
    fn for_each_marked(&mut self, marker: &CStr, f: &mut dyn FnMut(Pid, &ProcInfo));
    /// Calls `f` for every direct child of `parent`.
    fn for_each_child(&mut self, parent: Pid, f: &mut dyn FnMut(Pid));
    /// Signals every process under the supervisor (killall5: all but PID 1
    /// and kernel threads as init; our descendants under --local). Returns
    /// how many were signalled.
    fn signal_all(&mut self, signal: i32) -> usize;
    /// The kernel's host name (`uname -n`), cut at 64 bytes.
    fn host_name(&self) -> HostName;
    /// Creates the directory of a console (owner uid:gid, mode 0750), the
    /// IOC log directory and the log file (owned uid:gid, so the IOC's user
    /// can write it and the log can be watched before procServ opens it).
    /// Others may have planted something at these paths: a symlink is never
    /// followed, nothing is waited for, and a console directory that is not
    /// a directory, or a log that is not a regular file with a single link,
    /// is refused (the refusal names which path and what was there).
    fn prepare_console(&mut self, console: &ConsolePlan) -> Result<(), ConsoleRefusal>;
    /// Removes what a console leaves behind (socket, info file).
    fn clean_console(&mut self, socket: &CStr, info: &CStr);
    /// pivot_root(2) for PIVOT objects.
    fn pivot_root(&mut self, new_root: &CStr, put_old: &CStr) -> Result<(), i32>;
    /// Replaces the supervisor with `cmd` (EXEC objects); returns only on failure.
    fn exec(&mut self, cmd: &Command) -> i32;
    /// One complete status line for the console (and the system log),
    /// formatted where it is written.
    fn status_line(&mut self, line: core::fmt::Arguments<'_>);
}

/// What the engine may know of a process to decide which object, if any, it
/// belongs to: facts an unprivileged process cannot choose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcInfo {
    pub ppid: Pid,
    /// Real and effective uid.
    pub uid: u32,
    pub euid: u32,
    /// When it started, in the kernel's clock ticks since boot: a process
    /// that reuses an earlier one's pid started later.
    pub start_ticks: u64,
    /// Ended, waiting to be reaped.
    pub zombie: bool,
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

    fn boot_ticks(&self) -> u64 {
        sys::boot_ticks()
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

    fn kill_group(&mut self, pid: Pid, signal: i32) -> Result<(), i32> {
        if pid <= 1 {
            return Err(libc::EINVAL);
        }
        let own_group = nix::unistd::getpgrp();
        match nix::unistd::getpgid(Some(nix::unistd::Pid::from_raw(pid))) {
            Ok(group) if group.as_raw() == pid && group != own_group => sys::kill(-pid, signal),
            _ => sys::kill(pid, signal),
        }
    }

    fn signal_group(&mut self, pgid: Pid, signal: i32) -> Result<(), i32> {
        if pgid <= 1 || pgid == nix::unistd::getpgrp().as_raw() {
            return Err(libc::EINVAL);
        }
        sys::kill(-pgid, signal)
    }

    fn group_exists(&mut self, pgid: Pid) -> bool {
        matches!(self.signal_group(pgid, 0), Ok(()) | Err(libc::EPERM))
    }

    fn pid_exists(&mut self, pid: Pid) -> bool {
        sys::pid_exists(pid)
    }

    fn read_pid_file(&mut self, path: &CStr) -> Option<Pid> {
        sys::read_pid_file(path)
    }

    fn remove_pid_file(&mut self, path: &CStr) {
        sys::remove_stale_file(path);
    }

    fn process(&mut self, pid: Pid) -> Option<ProcInfo> {
        process_info(&sys::ProcDir::open(pid)?)
    }

    fn has_marker(&mut self, pid: Pid, marker: &CStr) -> bool {
        sys::ProcDir::open(pid).is_some_and(|dir| dir.environ_has(marker.to_bytes()))
    }

    fn for_each_marked(&mut self, marker: &CStr, f: &mut dyn FnMut(Pid, &ProcInfo)) {
        let me = self.self_pid;
        sys::for_each_pid(|pid| {
            let Some(dir) = (pid != me).then(|| sys::ProcDir::open(pid)).flatten() else { return };
            if dir.environ_has(marker.to_bytes()) {
                // A zombie still carries its environment until reaped.
                if let Some(info) = process_info(&dir).filter(|p| !p.zombie) {
                    f(pid, &info);
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
            // As init, a process too deep for the walk is under PID 1 all the
            // same (kernel threads are one level below kthreadd): a chain of
            // DESCENT_DEPTH processes must not hide the rest from the stop.
            let under = sys::descends_from(pid, me).unwrap_or(me == 1);
            if alive && under && sys::kill(pid, signal).is_ok() {
                count += 1;
            }
        });
        count
    }

    // Out of line: what it holds on the stack (uname's 390 bytes) is below
    // the start's frame only while an IOC_HOST is compared, not in the
    // frame of every start and restart.
    #[inline(never)]
    fn host_name(&self) -> HostName {
        let mut name = HostName::new();
        if let Ok(uts) = nix::sys::utsname::uname() {
            // The kernel holds at most 64 bytes; bytes that are not UTF-8
            // leave it empty (no IOC_HOST matches then).
            let _ = name.push_str(uts.nodename().to_str().unwrap_or_default());
        }
        name
    }

    fn prepare_console(&mut self, console: &ConsolePlan) -> Result<(), ConsoleRefusal> {
        use ConsolePart::{Directory, Log, LogDirectory};
        let (uid, gid) = (console.uid, console.gid);
        sys::mkdir_p(console.log_dir().to_bytes(), 0o755).map_err(|e| ConsoleRefusal::errno(LogDirectory, e))?;
        // The console root (/run/procserv) must be searchable by the IOC user
        // (procServ creates its socket below it) and by IOC group members who
        // attach: only the console's own directory is 0750.
        let dir = console.dir().to_bytes();
        if let Some(slash) = dir.iter().rposition(|&b| b == b'/').filter(|&s| s > 0) {
            sys::mkdir_p(&dir[..slash], 0o755).map_err(|e| ConsoleRefusal::errno(Directory, e))?;
        }
        sys::mkdir_p(dir, 0o750).map_err(|e| ConsoleRefusal::errno(Directory, e))?;
        // Owner and mode are set on the opened directory, never through a
        // symlink planted in its place (a chown of its target as root).
        let opened = sys::Fd::open(console.dir(), libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_NOCTTY, 0)
            .map_err(|e| ConsoleRefusal::classify(Directory, console.dir(), e))?;
        sys::fchown(&opened, uid, gid);
        let _ = nix::sys::stat::fchmod(opened.0, nix::sys::stat::Mode::from_bits_truncate(0o750));
        // Only a regular file is opened at all: opening a device may act (a
        // watchdog starts). The open itself does not follow a symlink nor
        // wait for a FIFO's reader either (something swapped in meanwhile),
        // and what it opened is checked again.
        if let Ok(st) = nix::sys::stat::lstat(console.log()) {
            match st.st_mode & libc::S_IFMT {
                libc::S_IFREG => {}
                libc::S_IFLNK => return Err(ConsoleRefusal { part: Log, problem: ConsoleProblem::Symlink }),
                _ => return Err(ConsoleRefusal { part: Log, problem: ConsoleProblem::NotRegular }),
            }
        }
        // Readable by all: `ioc view` is for everyone, as `ioc list`.
        let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_APPEND | libc::O_NOCTTY | libc::O_NOFOLLOW | libc::O_NONBLOCK;
        let log = sys::Fd::open(console.log(), flags, 0o644).map_err(|e| ConsoleRefusal::classify(Log, console.log(), e))?;
        let meta = nix::sys::stat::fstat(log.0).map_err(|e| ConsoleRefusal::errno(Log, e as i32))?;
        if meta.st_mode & libc::S_IFMT != libc::S_IFREG {
            return Err(ConsoleRefusal { part: Log, problem: ConsoleProblem::NotRegular });
        }
        // A second name of someone else's file: the chown would be one of it.
        if meta.st_nlink != 1 {
            return Err(ConsoleRefusal { part: Log, problem: ConsoleProblem::Linked });
        }
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
        crate::logging::flush_console(crate::logging::EXEC_FLUSH_MS);
        spawn::exec(cmd)
    }

    fn status_line(&mut self, line: core::fmt::Arguments<'_>) {
        crate::logging::status_line(line);
    }
}

/// A process's identity, all read through one open /proc/PID directory.
fn process_info(dir: &sys::ProcDir) -> Option<ProcInfo> {
    let stat = dir.stat()?;
    let (uid, euid) = dir.uids()?;
    Some(ProcInfo { ppid: stat.ppid, uid, euid, start_ticks: stat.start_ticks, zombie: stat.state == b'Z' })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &std::path::Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
    }

    fn plan(dir: &std::path::Path, logs: &std::path::Path, log: &std::path::Path) -> ConsolePlan {
        let (uid, gid) = (nix::unistd::getuid().as_raw(), nix::unistd::getgid().as_raw());
        let paths = crate::ioc::procserv::ConsolePaths { dir: dir.into(), socket: dir.join("control"), info: dir.join("info"), log: log.into() };
        ConsolePlan::new(&paths, logs, uid, gid, String::new(), String::new()).unwrap()
    }

    #[test]
    fn only_the_console_directory_is_closed_to_others() {
        let base = crate::scratch::ScratchDir::new("os-console");
        let (root, dir, logs) = (base.join("procserv"), base.join("procserv/vac1"), base.join("log"));
        RealOs::new().prepare_console(&plan(&dir, &logs, &logs.join("vac1.log"))).unwrap();
        // procServ, running as the IOC's user, creates its socket in `dir`:
        // the root above it must let that user (and attaching members) through.
        assert_eq!(mode(&root) & 0o005, 0o005, "console root {:o}", mode(&root));
        assert_eq!(mode(&dir), 0o750);
    }

    #[test]
    fn the_ioc_log_is_made_for_the_ioc_user_and_readable_by_all() {
        let base = crate::scratch::ScratchDir::new("os-log");
        let (dir, logs) = (base.join("procserv/vac1"), base.join("log"));
        let log = logs.join("vac1.log");
        let (uid, gid) = (nix::unistd::getuid().as_raw(), nix::unistd::getgid().as_raw());
        let console = plan(&dir, &logs, &log);
        let mut os = RealOs::new();
        os.prepare_console(&console).unwrap();
        let meta = std::fs::metadata(&log).expect("the log file exists before procServ starts");
        use std::os::unix::fs::MetadataExt;
        assert_eq!((meta.uid(), meta.gid()), (uid, gid));
        assert_eq!(mode(&log) & 0o644, 0o644);
        // An existing log is kept, never truncated.
        std::fs::write(&log, "earlier run\n").unwrap();
        os.prepare_console(&console).unwrap();
        assert_eq!(std::fs::read_to_string(&log).unwrap(), "earlier run\n");
        // A symlink planted in its place is not followed.
        std::fs::remove_file(&log).unwrap();
        std::os::unix::fs::symlink(base.join("elsewhere"), &log).unwrap();
        assert!(os.prepare_console(&console).is_err());
        assert!(!base.join("elsewhere").exists());
    }

    #[test]
    fn what_others_planted_at_a_console_path_is_refused_not_followed() {
        use std::os::unix::fs::symlink;
        let base = crate::scratch::ScratchDir::new("os-plant");
        let (dir, logs, victim) = (base.join("procserv/vac1"), base.join("log"), base.join("victim"));
        let log = logs.join("vac1.log");
        std::fs::create_dir_all(&victim).unwrap();
        std::fs::create_dir_all(dir.parent().unwrap()).unwrap();
        std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o700)).unwrap();
        let console = plan(&dir, &logs, &log);
        let mut os = RealOs::new();
        let refused = |part, problem| Err(ConsoleRefusal { part, problem });

        symlink(&victim, &dir).unwrap();
        assert_eq!(os.prepare_console(&console), refused(ConsolePart::Directory, ConsoleProblem::Symlink));
        assert_eq!(mode(&victim), 0o700, "the chmod went through the symlink");
        std::fs::remove_file(&dir).unwrap();
        std::fs::write(&dir, "").unwrap();
        assert_eq!(os.prepare_console(&console), refused(ConsolePart::Directory, ConsoleProblem::NotDirectory));
        std::fs::remove_file(&dir).unwrap();

        // A FIFO nobody reads: refused at once, not waited on.
        std::fs::create_dir_all(&logs).unwrap();
        nix::unistd::mkfifo(&log, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        assert_eq!(os.prepare_console(&console), refused(ConsolePart::Log, ConsoleProblem::NotRegular));
        std::fs::remove_file(&log).unwrap();
        // A second name of another file.
        std::fs::write(victim.join("file"), "x").unwrap();
        std::fs::hard_link(victim.join("file"), &log).unwrap();
        assert_eq!(os.prepare_console(&console), refused(ConsolePart::Log, ConsoleProblem::Linked));
        std::fs::remove_file(&log).unwrap();
        assert_eq!(os.prepare_console(&console), Ok(()));
    }
}
