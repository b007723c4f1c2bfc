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

/// The frame line of epics-ioc-runner's reports (`ioc list`, `view`,
/// `inspect`): 100 of its character, written as it is formatted, not built
/// as a `String` first.
#[derive(Clone, Copy)]
pub struct Rule(pub char);

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use std::fmt::Write;
        (0..100).try_for_each(|_| f.write_char(self.0))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_rule_is_a_hundred_of_its_character() {
        assert_eq!(super::Rule('=').to_string(), "=".repeat(100));
        assert_eq!(format!("a\n{}\nb", super::Rule('-')), format!("a\n{}\nb", "-".repeat(100)));
    }
}
