//! EPICS IOC specifics. The engine sees an IOC only as an object with a
//! console; everything procServ- and IOC-shaped is here:
//!
//! - [`procserv`]: the procServ command line of a console object (PID 1).
//! - [`logrotate`]: size-based rotation of IOC logs (PID 1, inotify-driven).
//!
//! The rest are client-side tools behind `ioc list`, `attach`, `monitor`,
//! `inspect`, `generate`, `view` and `start`'s readiness wait. They run in the
//! CLI, never in PID 1, so they may allocate; they read the kernel directly
//! (sock_diag netlink, /proc) instead of spawning ss, ps or lsof.
//!
//! - [`sockdiag`]: UNIX sockets from NETLINK_SOCK_DIAG and /proc/net/unix.
//! - [`procstat`]: per-process facts from /proc.
//! - [`list`]: the `ioc list` table and its JSON.
//! - [`attach`]: the console client (attach, monitor) and telnet filtering.
//! - [`inspect`]: which processes are attached to a console.
//! - [`generate`]: an IOC file from an iocBoot directory.
//! - [`logfollow`]: reading a procServ log that grows, rotates and truncates.
//! - [`ready`]: waiting for `All initialization complete` in that log.
//! - [`view`]: `tail` / `tail -f` of that log.
//! - [`os`]: the libc calls nix has no safe wrapper for.

pub mod attach;
pub mod generate;
pub mod inspect;
pub mod linediff;
pub mod list;
pub mod logfollow;
pub mod logrotate;
pub mod os;
pub mod procserv;
pub mod procstat;
pub mod ready;
pub mod sockdiag;
pub mod view;

/// A fresh, empty directory for one unit test, unique to the call (tests
/// of one tag run in parallel threads of one process), removed when dropped.
#[cfg(test)]
pub(crate) struct ScratchDir(std::path::PathBuf);

#[cfg(test)]
impl ScratchDir {
    pub(crate) fn new(tag: &str) -> ScratchDir {
        static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("iocinit-{tag}-{}-{call}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        ScratchDir(dir)
    }

    pub(crate) fn join(&self, name: &str) -> std::path::PathBuf {
        self.0.join(name)
    }
}

#[cfg(test)]
impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
