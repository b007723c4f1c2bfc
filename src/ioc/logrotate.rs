//! Size-based rotation of IOC logs (`IocLogMaxSize`, `IocLogKeep`), so a
//! chatty IOC cannot fill a small flash. Runs in PID 1, event-driven:
//!
//! - each running IOC's log has an inotify watch (IN_MODIFY);
//! - on the first write after a quiet spell PID 1 wakes, checks the size,
//!   rotates if needed (`N.log.1` ... `N.log.K`, a fresh `N.log` owned like the
//!   old one, SIGHUP to procServ so it reopens), then drops the watch for
//!   [`COOLDOWN_MS`] and re-arms it after;
//!
//! so an IOC that logs constantly wakes PID 1 at most once per cooldown, and
//! one that does not log never does. Allocation-free after load.

use core::fmt::Write as _;

use crate::engine::object::State;
use crate::engine::os::Os;
use crate::engine::Engine;
use crate::sys::{self, CPath, Fd};

/// After a check, the log is not watched for this long.
pub const COOLDOWN_MS: u64 = 2_000;

#[derive(Debug, Clone, Copy)]
struct Watch {
    /// The console object's index in the engine's table.
    object: usize,
    /// inotify watch descriptor, or -1.
    wd: i32,
    /// Not watched again before this time (monotonic ms).
    cooldown_until: Option<u64>,
}

pub struct LogRotator {
    inotify: Option<Fd>,
    /// One per console object of the engine's table, in its order (none,
    /// and no allocation, for a configuration without one).
    watches: Vec<Watch>,
    max_bytes: u64,
    keep: u32,
    /// The engine table `watches` is indexed by ([`Engine::table_generation`]).
    generation: u64,
}

impl LogRotator {
    /// Sizes the table for `engine`'s objects; without a size limit there is
    /// nothing to watch and no inotify descriptor at all.
    pub fn new<O: Os>(engine: &Engine<O>) -> Self {
        let g = &engine.config().globals.ioc;
        let inotify = if g.log_max_bytes > 0 {
            sys::inotify_init().map_err(|e| crate::logging::warn!("log rotation: inotify: {}", crate::sys::errno_text(e))).ok()
        } else {
            None
        };
        // Sized exactly (collected from a filter, the list grew by doubling).
        let consoles = || engine.plans().iter().enumerate().filter(|(_, plan)| plan.console.is_some());
        let mut watches = Vec::with_capacity(consoles().count());
        watches.extend(consoles().map(|(object, _)| Watch { object, wd: -1, cooldown_until: None }));
        LogRotator {
            inotify,
            watches,
            max_bytes: g.log_max_bytes,
            keep: g.log_keep,
            generation: engine.table_generation(),
        }
    }

    /// After a configuration reload (whoever asked for it) an index names
    /// another object: start over with the new table and settings, so one
    /// IOC's log is never rotated, nor its procServ signalled, for another.
    fn follow_reload<O: Os>(&mut self, engine: &Engine<O>) {
        if self.generation == engine.table_generation() {
            return;
        }
        if let Some(fd) = &self.inotify {
            for w in &self.watches {
                if w.wd >= 0 {
                    sys::inotify_remove(fd, w.wd);
                }
            }
        }
        *self = LogRotator::new(engine);
    }

    pub fn fd(&self) -> Option<i32> {
        self.inotify.as_ref().map(|f| f.0)
    }

    pub fn next_deadline(&self) -> Option<u64> {
        self.watches.iter().filter_map(|w| w.cooldown_until).min()
    }

    /// Watches the logs of running IOCs, unwatches the others (after events).
    pub fn sync<O: Os>(&mut self, engine: &Engine<O>) {
        self.follow_reload(engine);
        let Some(fd) = &self.inotify else { return };
        for w in &mut self.watches {
            let Some(console) = engine.plans().get(w.object).and_then(|p| p.console.as_ref()) else { continue };
            let running = engine.object(w.object).state == State::Running;
            if running && w.wd < 0 && w.cooldown_until.is_none() {
                w.wd = sys::inotify_add(fd, console.log(), libc::IN_MODIFY).unwrap_or(-1);
            } else if !running && w.wd >= 0 {
                sys::inotify_remove(fd, w.wd);
                w.wd = -1;
            }
        }
    }

    /// The inotify descriptor is readable: check the logs that were written.
    // Out of line: its 1.5 KB of buffers are below the event loop's frames
    // only while it runs, not in the frame every event of PID 1 goes through.
    #[inline(never)]
    pub fn readable<O: Os>(&mut self, engine: &Engine<O>, now: u64) {
        self.follow_reload(engine);
        let Some(fd) = &self.inotify else { return };
        let mut buf = [0u8; 1024];
        let watches = &mut self.watches;
        let mut written: heapless::Vec<usize, 64> = heapless::Vec::new();
        sys::inotify_events(fd, &mut buf, |wd, _mask| {
            if let Some(i) = watches.iter().position(|w| w.wd == wd && wd >= 0) {
                if !written.contains(&i) {
                    let _ = written.push(i);
                }
            }
        });
        for i in written {
            let Some(w) = self.watches.get_mut(i) else { continue };
            if let Some(fd) = &self.inotify {
                sys::inotify_remove(fd, w.wd);
            }
            w.wd = -1;
            w.cooldown_until = Some(now + COOLDOWN_MS);
            check(engine, w.object, self.max_bytes, self.keep);
        }
    }

    /// Cooldowns that ended: check once more (the log may have grown
    /// meanwhile), then watch again.
    pub fn timer<O: Os>(&mut self, engine: &Engine<O>, now: u64) {
        self.follow_reload(engine);
        for w in self.watches.iter_mut().filter(|w| w.cooldown_until.is_some_and(|t| t <= now)) {
            w.cooldown_until = None;
            check(engine, w.object, self.max_bytes, self.keep);
        }
        self.sync(engine);
    }
}

/// Rotates object `i`'s log if it is over `max_bytes`, keeping `keep` old
/// ones. The object is looked up with `get`, never indexed: no panic site in
/// PID 1 for an index the table always holds.
fn check<O: Os>(engine: &Engine<O>, i: usize, max_bytes: u64, keep: u32) {
    let plan = engine.plans().get(i).and_then(|p| p.console.as_ref());
    let (Some(console), Some(object)) = (plan, engine.config().objects.get(i)) else { return };
    if sys::file_size(console.log()).is_none_or(|size| size < max_bytes) {
        return;
    }
    match rotate(console.log(), keep, console.uid, console.gid) {
        Ok(()) => {
            if let Some(pid) = engine.object(i).main_pid {
                // procServ reopens its log file on SIGHUP.
                let _ = sys::kill(pid, libc::SIGHUP);
            }
            crate::logging::info!("{}: log rotated", object.id);
        }
        Err(e) => crate::logging::warn!("{}: log rotation: {}", object.id, crate::sys::errno_text(e)),
    }
}

fn numbered(log: &core::ffi::CStr, k: u32) -> Result<CPath, i32> {
    let mut p = CPath::new();
    p.push_bytes(log.to_bytes());
    let _ = write!(p, ".{k}");
    p.finish().ok_or(libc::ENAMETOOLONG)
}

/// `log` becomes `log.1` (older ones shift up to `log.keep`), and an empty
/// `log` owned by uid:gid takes its place. With keep 0 the log is emptied.
pub fn rotate(log: &core::ffi::CStr, keep: u32, uid: u32, gid: u32) -> Result<(), i32> {
    if keep == 0 {
        // Emptied where it is: never through a symlink put in its place, never
        // waiting on a FIFO.
        let fd = Fd::open(log, libc::O_WRONLY | libc::O_TRUNC | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY, 0)?;
        drop(fd);
        return Ok(());
    }
    for k in (1..keep).rev() {
        let from = numbered(log, k)?;
        let to = numbered(log, k + 1)?;
        match sys::rename(from.as_cstr(), to.as_cstr()) {
            Ok(()) | Err(libc::ENOENT) => {}
            Err(e) => return Err(e),
        }
    }
    sys::rename(log, numbered(log, 1)?.as_cstr())?;
    // Readable by all, as prepare_console makes it: `ioc view` is for everyone.
    let fresh = Fd::open(log, libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL, 0o644)?;
    sys::fchown(&fresh, uid, gid);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The engine with objects `ids`, those named `ioc*` with a console.
    fn engine_config(ids: &[&str]) -> (crate::config::Config, Vec<crate::engine::plan::ObjectPlan>) {
        use crate::config::{Config, Console, Object};
        let console = |id: &str| {
            id.starts_with("ioc").then(|| Box::new(Console { from_ioc_file: true, may_choose_credentials: false, ..Console::default() }))
        };
        let objects = ids.iter().map(|id| Object { id: (*id).into(), start: Some("/bin/true".into()), console: console(id), ..Default::default() }).collect();
        let config = Config { objects, ..Default::default() };
        let (plans, _) = crate::engine::plan::build(&config, &crate::layout::Layout::system());
        (config, plans)
    }

    #[test]
    fn a_reload_by_anyone_starts_the_per_object_table_over() {
        use crate::engine::os::RealOs;
        let (config, plans) = engine_config(&["ioc-a"]);
        let mut engine = Engine::new(RealOs::new(), config, plans, None);
        let mut rotator = LogRotator::new(&engine);
        // Nobody tells the rotator: it sees the new table by itself.
        let (config, plans) = engine_config(&["ioc-b", "c", "ioc-a"]);
        engine.replace_config(config, |_| plans);
        rotator.sync(&engine);
        assert_eq!(rotator.watches.iter().map(|w| w.object).collect::<Vec<_>>(), [0, 2]);
        assert_eq!(rotator.generation, engine.table_generation());
    }

    #[test]
    fn the_table_holds_the_console_objects_only() {
        use crate::engine::os::RealOs;
        // 32 services without a console: no table, no allocation (one heap
        // page of PID 1's: tests/memory/run).
        let ids: Vec<String> = (0..32).map(|k| format!("s{k}")).collect();
        let (config, plans) = engine_config(&ids.iter().map(String::as_str).collect::<Vec<_>>());
        let engine = Engine::new(RealOs::new(), config, plans, None);
        let rotator = LogRotator::new(&engine);
        assert_eq!((rotator.watches.len(), rotator.watches.capacity()), (0, 0));
        let (config, plans) = engine_config(&["s0", "ioc-x", "s1", "ioc-y"]);
        let engine = Engine::new(RealOs::new(), config, plans, None);
        let rotator = LogRotator::new(&engine);
        assert_eq!(rotator.watches.iter().map(|w| w.object).collect::<Vec<_>>(), [1, 3]);
    }

    #[test]
    fn rotation_shifts_and_keeps_k() {
        let dir = crate::scratch::ScratchDir::new("rotate");
        let log = dir.join("vac1.log");
        let c = std::ffi::CString::new(log.to_str().unwrap()).unwrap();
        let (uid, gid) = (nix::unistd::getuid().as_raw(), nix::unistd::getgid().as_raw());
        for round in 1..=4 {
            std::fs::write(&log, format!("round {round}\n")).unwrap();
            rotate(&c, 2, uid, gid).unwrap();
        }
        let read = |n: &str| std::fs::read_to_string(dir.join(n)).unwrap_or_default();
        assert_eq!(read("vac1.log"), "");
        assert_eq!(read("vac1.log.1"), "round 4\n");
        assert_eq!(read("vac1.log.2"), "round 3\n");
        assert!(!dir.join("vac1.log.3").exists());
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&log).unwrap().permissions().mode();
        assert_eq!(mode & 0o644, 0o644, "the fresh log is readable by all: {mode:o}");
        std::fs::write(&log, "x").unwrap();
        rotate(&c, 0, uid, gid).unwrap();
        assert_eq!(read("vac1.log"), "");
        // A symlink or a FIFO in the log's place is neither followed nor
        // waited for.
        std::fs::write(dir.join("victim"), "someone's\n").unwrap();
        std::fs::remove_file(&log).unwrap();
        std::os::unix::fs::symlink(dir.join("victim"), &log).unwrap();
        assert_eq!(rotate(&c, 0, uid, gid), Err(libc::ELOOP));
        assert_eq!(read("victim"), "someone's\n");
        std::fs::remove_file(&log).unwrap();
        nix::unistd::mkfifo(&log, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        assert_eq!(rotate(&c, 0, uid, gid), Err(libc::ENXIO));
    }
}
