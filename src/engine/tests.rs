//! Engine scenarios against a recording fake OS (no processes are created:
//! these test the state machine; the integration tests in tests/ run the real
//! thing as PID 1 of a namespace).

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::CStr;

use super::*;
use crate::config::{Console, Object, Options, Runlevel};
use os::ProcInfo;
use crate::layout::Layout;

#[derive(Default)]
struct Fake {
    now: u64,
    next_pid: Pid,
    spawned: Vec<(Pid, String)>,
    killed: Vec<(Pid, i32)>,
    /// The subset of `killed` sent to the pid's process group (kill_group).
    group_killed: Vec<(Pid, i32)>,
    /// Process groups with members left after their leader was reaped.
    leaderless: BTreeSet<Pid>,
    /// Signals sent to such a group (signal_group).
    group_signals: Vec<(Pid, i32)>,
    alive: BTreeSet<Pid>,
    /// pid -> (ppid, marker)
    marked: BTreeMap<Pid, (Pid, String)>,
    pid_files: BTreeMap<String, Pid>,
    /// Pid files removed before a start.
    removed: Vec<String>,
    /// pid -> uid, for processes not running as the supervisor's user.
    uids: BTreeMap<Pid, u32>,
    /// pid -> start time; a process without one started "now".
    started: BTreeMap<Pid, u64>,
    lines: Vec<String>,
    /// Processes outside any object, counted by signal_all.
    strays: usize,
    /// for_each_marked walks the highest pid first (/proc's order is not
    /// promised: a daemon looked for is still the lowest pid).
    proc_descending: bool,
    /// pid -> the process its children are reparented to: processes that
    /// end, reaped, as the engine is about to read them (a walk up the
    /// parent links meeting an ancestor gone since it read the link).
    ending: BTreeMap<Pid, Pid>,
    /// How many times `process` was asked.
    reads: usize,
}

impl Os for Fake {
    fn now_ms(&self) -> u64 {
        self.now
    }
    fn wall_secs(&self) -> i64 {
        1_700_000_000 + (self.now / 1000) as i64
    }
    fn boot_ticks(&self) -> u64 {
        self.now
    }
    fn self_pid(&self) -> Pid {
        1
    }
    fn spawn(&mut self, cmd: &spawn::Command, opts: &spawn::Options<'_>) -> Result<Pid, spawn::SpawnError> {
        let argv: Vec<String> = cmd.argv().map(|a| a.to_string_lossy().into_owned()).collect();
        if argv[0].contains("missing") {
            return Err(spawn::SpawnError { stage: spawn::Stage::Exec, errno: libc::ENOENT });
        }
        self.next_pid += 1;
        let pid = 100 + self.next_pid;
        self.spawned.push((pid, argv.join(" ")));
        self.alive.insert(pid);
        self.started.insert(pid, self.now);
        if let Some(c) = opts.credentials {
            self.uids.insert(pid, c.uid);
        }
        let marker = cmd.env().map(|e| e.to_string_lossy().into_owned()).find(|e| e.starts_with("IOCINIT_OBJECT="));
        if let Some(m) = marker {
            self.marked.insert(pid, (1, m));
        }
        Ok(pid)
    }
    fn kill(&mut self, pid: Pid, signal: i32) -> Result<(), i32> {
        if !self.alive.contains(&pid) {
            return Err(libc::ESRCH);
        }
        self.killed.push((pid, signal));
        Ok(())
    }
    fn kill_group(&mut self, pid: Pid, signal: i32) -> Result<(), i32> {
        self.kill(pid, signal)?;
        self.group_killed.push((pid, signal));
        Ok(())
    }
    fn signal_group(&mut self, pgid: Pid, signal: i32) -> Result<(), i32> {
        if !self.group_exists(pgid) {
            return Err(libc::ESRCH);
        }
        self.group_signals.push((pgid, signal));
        Ok(())
    }
    fn group_exists(&mut self, pgid: Pid) -> bool {
        self.alive.contains(&pgid) || self.leaderless.contains(&pgid)
    }
    fn pid_exists(&mut self, pid: Pid) -> bool {
        self.alive.contains(&pid)
    }
    fn read_pid_file(&mut self, path: &CStr) -> Option<Pid> {
        self.pid_files.get(path.to_str().unwrap()).copied()
    }
    fn remove_pid_file(&mut self, path: &CStr) {
        let path = path.to_str().unwrap();
        self.pid_files.remove(path);
        self.removed.push(path.into());
    }
    fn process(&mut self, pid: Pid) -> Option<ProcInfo> {
        self.reads += 1;
        if let Some(reaper) = self.ending.remove(&pid) {
            self.alive.remove(&pid);
            for (ppid, _) in self.marked.values_mut().filter(|(ppid, _)| *ppid == pid) {
                *ppid = reaper;
            }
        }
        self.info(pid)
    }
    fn has_marker(&mut self, pid: Pid, marker: &CStr) -> bool {
        self.alive.contains(&pid) && self.marked.get(&pid).is_some_and(|(_, m)| m.as_bytes() == marker.to_bytes())
    }
    fn for_each_marked(&mut self, marker: &CStr, f: &mut dyn FnMut(Pid, &ProcInfo)) {
        let marked: Vec<_> = match self.proc_descending {
            true => self.marked.iter().rev().collect(),
            false => self.marked.iter().collect(),
        };
        for (pid, (_, m)) in marked {
            if let Some(info) = self.info(*pid).filter(|_| m.as_bytes() == marker.to_bytes()) {
                f(*pid, &info);
            }
        }
    }
    fn for_each_child(&mut self, parent: Pid, f: &mut dyn FnMut(Pid)) {
        for (pid, (ppid, _)) in &self.marked {
            if *ppid == parent && self.alive.contains(pid) {
                f(*pid);
            }
        }
    }
    fn signal_all(&mut self, signal: i32) -> usize {
        let n = self.alive.len() + self.strays;
        if signal == libc::SIGKILL {
            self.strays = 0;
        }
        n
    }
    fn host_name(&self) -> os::HostName {
        "testhost".try_into().unwrap_or_default()
    }
    fn prepare_console(&mut self, _: &plan::ConsolePlan) -> Result<(), os::ConsoleRefusal> {
        Ok(())
    }
    fn clean_console(&mut self, _: &CStr, _: &CStr) {}
    fn pivot_root(&mut self, _: &CStr, _: &CStr) -> Result<(), i32> {
        Ok(())
    }
    fn exec(&mut self, _: &spawn::Command) -> i32 {
        libc::ENOENT
    }
    fn status_line(&mut self, line: core::fmt::Arguments<'_>) {
        self.lines.push(line.to_string().trim_end().to_string());
    }
}

impl Fake {
    /// A live process: a child of ours unless `marked` says otherwise, the
    /// tests' own user unless `uids` says otherwise.
    fn info(&self, pid: Pid) -> Option<ProcInfo> {
        self.alive.contains(&pid).then(|| {
            let uid = self.uids.get(&pid).copied().unwrap_or_else(|| nix::unistd::geteuid().as_raw());
            ProcInfo {
                ppid: self.marked.get(&pid).map_or(1, |(ppid, _)| *ppid),
                uid,
                euid: uid,
                start_ticks: self.started.get(&pid).copied().unwrap_or(self.now),
                zombie: false,
            }
        })
    }
}

fn object(id: &str, start: &str, priority: u32) -> Object {
    Object {
        id: id.into(),
        description: id.into(),
        start: Some(start.into()),
        start_priority: priority,
        stop_priority: 1,
        enabled: true,
        runlevels: "default".into(),
        ..Default::default()
    }
}

fn with(mut o: Object, f: impl FnOnce(&mut Options)) -> Object {
    f(&mut o.options);
    o
}

fn config(objects: Vec<Object>) -> Config {
    let mut c = Config::default();
    c.globals.default_runlevel = "default".into();
    let mut names: Vec<String> = objects.iter().flat_map(|o| o.runlevels.iter().map(|r| r.to_string())).collect();
    names.push("default".into());
    names.sort();
    names.dedup();
    c.runlevels = names.into_iter().map(|name| Runlevel { name, inherits: vec![] }).collect();
    c.objects = objects;
    c
}

fn engine(mut c: Config) -> Engine<Fake> {
    // The host running the tests has no "ioc" group.
    c.globals.ioc.group = "root".into();
    let (plans, problems) = plan::build(&c, &Layout::system());
    assert!(problems.is_empty(), "{problems:?}");
    Engine::new(Fake::default(), c, plans, None)
}

fn booted(c: Config) -> Engine<Fake> {
    let mut e = engine(c);
    e.boot(&BootOptions::default());
    e
}

impl Engine<Fake> {
    fn spawned(&self) -> Vec<&str> {
        self.os.spawned.iter().map(|(_, s)| s.as_str()).collect()
    }
    fn pid_of(&self, cmd: &str) -> Pid {
        self.os.spawned.iter().rev().find(|(_, s)| s == cmd).map(|(p, _)| *p).expect(cmd)
    }
    fn exit(&mut self, pid: Pid, code: u8) {
        self.os.alive.remove(&pid);
        self.child_exited(pid, ExitStatus::Exited(code));
    }
    fn signaled(&mut self, pid: Pid, signal: i32) {
        self.os.alive.remove(&pid);
        self.child_exited(pid, ExitStatus::Signaled(signal));
    }
    fn wait(&mut self, ms: u64) {
        let until = self.os.now + ms;
        // Step through deadlines like the event loop does.
        while let Some(d) = self.next_deadline().filter(|&d| d <= until) {
            self.os.now = d.max(self.os.now);
            self.timer();
        }
        self.os.now = until;
        self.timer();
    }
    fn state(&self, id: &str) -> State {
        self.object(self.find(id).unwrap()).state
    }
}

#[test]
fn boot_starts_priority_waves_in_order_and_waits_for_commands() {
    let mut e = booted(config(vec![object("b", "/bin/b", 2), object("a", "/bin/a", 1), object("c", "/bin/c", 2)]));
    assert_eq!(e.spawned(), ["/bin/a"]);
    assert_eq!(e.state("a"), State::Starting);
    let a = e.pid_of("/bin/a");
    e.exit(a, 0);
    // Objects of one priority start together.
    assert_eq!(e.spawned(), ["/bin/a", "/bin/b", "/bin/c"]);
    assert_eq!(e.state("a"), State::Done);
    assert_eq!(e.take_request(), None);
    let (b, c) = (e.pid_of("/bin/b"), e.pid_of("/bin/c"));
    e.exit(b, 0);
    e.exit(c, 0);
    assert_eq!(e.take_request(), Some(SystemRequest::Ready));
    assert_eq!(e.os.lines, ["Starting a ... Done", "Starting b ... Done", "Starting c ... Done"]);
}

#[test]
fn fork_objects_do_not_hold_the_boot() {
    let e = booted(config(vec![with(object("getty", "/sbin/getty", 1), |o| o.fork = true), object("b", "/bin/b", 2)]));
    assert_eq!(e.spawned(), ["/sbin/getty", "/bin/b"]);
    assert_eq!(e.state("getty"), State::Running);
}

#[test]
fn a_hung_start_command_holds_only_its_wave_not_control() {
    let mut e = booted(config(vec![object("hang", "/bin/hang", 1), object("later", "/bin/later", 2), object("manual", "/bin/m", 0)]));
    assert_eq!(e.state("hang"), State::Starting);
    // Control still works: another object starts and stops meanwhile.
    let m = e.find("manual").unwrap();
    e.start(m).unwrap();
    assert_eq!(e.state("manual"), State::Starting);
    // Stopping the hung object frees the boot.
    let hang = e.find("hang").unwrap();
    e.stop(hang).unwrap();
    let pid = e.pid_of("/bin/hang");
    assert!(e.os.killed.contains(&(pid, libc::SIGTERM)));
    e.signaled(pid, libc::SIGTERM);
    assert_eq!(e.state("hang"), State::Stopped);
    assert!(e.spawned().contains(&"/bin/later"));
}

#[test]
fn a_start_that_takes_too_long_is_stopped_failed_and_the_boot_goes_on() {
    let stuck = with(object("stuck", "/bin/stuck", 1), |o| {
        o.start_timeout = Some(2);
        o.stop_timeout = Some(3);
    });
    let mut e = booted(config(vec![stuck, object("later", "/bin/later", 2)]));
    let pid = e.pid_of("/bin/stuck");
    e.wait(1_999);
    assert_eq!(e.state("stuck"), State::Starting);
    e.wait(1);
    // TERMSIGNAL to the start command's group, then SIGKILL, as a stop.
    assert_eq!(e.os.group_killed, [(pid, libc::SIGTERM)]);
    assert_eq!(e.state("stuck"), State::Stopping);
    assert!(!e.spawned().contains(&"/bin/later"), "the wave waits for the kill");
    e.wait(3_000);
    assert_eq!(e.os.group_killed, [(pid, libc::SIGTERM), (pid, libc::SIGKILL)]);
    e.signaled(pid, libc::SIGKILL);
    assert_eq!(e.state("stuck"), State::Failed);
    assert_eq!(e.note(e.find("stuck").unwrap()), "did not start within 2 s");
    assert_eq!(e.os.lines, ["Starting stuck ... FAIL"]);
    assert!(e.spawned().contains(&"/bin/later"));
}

#[test]
fn a_hung_prestart_counts_against_the_start_timeout_and_criticality_applies() {
    let mut o = with(object("pre", "/bin/pre", 1), |o| {
        o.start_timeout = Some(1);
        o.start_fail_critical = true;
    });
    o.rare_mut().prestart = Some("/bin/pre-hang".into());
    let mut e = booted(config(vec![o]));
    let helper = e.pid_of("/bin/pre-hang");
    e.wait(1_000);
    assert_eq!(e.os.group_killed, [(helper, libc::SIGTERM)]);
    e.signaled(helper, libc::SIGTERM);
    assert_eq!(e.state("pre"), State::Failed);
    assert_eq!(e.spawned(), ["/bin/pre-hang"], "the start command never ran");
    assert!(matches!(e.take_request(), Some(SystemRequest::Emergency(_))));
}

#[test]
fn the_start_timeout_defaults_to_the_global_one_and_zero_means_none() {
    let mut c = config(vec![object("a", "/bin/a", 1), with(object("b", "/bin/b", 1), |o| o.start_timeout = Some(0))]);
    let mut e = booted(c.clone());
    e.wait(u64::from(DEFAULT_START_TIMEOUT_S) * 1000);
    assert_eq!((e.state("a"), e.state("b")), (State::Stopping, State::Starting));
    c.globals.start_timeout = Some(0);
    let mut e = booted(c);
    e.wait(24 * 3600 * 1000);
    assert_eq!((e.state("a"), e.state("b")), (State::Starting, State::Starting));
}

#[test]
fn a_start_that_ends_in_time_keeps_no_timeout() {
    let mut e = booted(config(vec![with(object("d", "/bin/d", 1), |o| o.start_timeout = Some(5))]));
    let pid = e.pid_of("/bin/d");
    e.exit(pid, 0);
    assert_eq!(e.state("d"), State::Done);
    assert_eq!(e.next_deadline(), None);
}

#[test]
fn mapexitstatus_turns_a_code_into_a_warning_or_success() {
    let mut o = object("w", "/bin/w", 1);
    o.options.exit_map = vec![(2, ExitResult::Warning), (3, ExitResult::Success)];
    let mut e = booted(config(vec![o, object("x", "/bin/x", 2)]));
    let w = e.pid_of("/bin/w");
    e.exit(w, 2);
    assert_eq!(e.state("w"), State::Done);
    let x = e.pid_of("/bin/x");
    e.exit(x, 1);
    assert_eq!(e.state("x"), State::Failed);
    assert_eq!(e.os.lines, ["Starting w ... WARN", "Starting x ... FAIL"]);
    let i = e.find("w").unwrap();
    e.stop(i).unwrap();
    e.start(i).unwrap();
    let w = e.pid_of("/bin/w");
    e.exit(w, 3);
    assert_eq!(e.object(i).outcome, Some(Outcome::Done));
}

#[test]
fn autorestart_restarts_at_once_after_a_long_run_and_backs_off_when_fast() {
    let mut e = booted(config(vec![with(object("d", "/bin/d", 1), |o| {
        o.fork = true;
        o.autorestart = true;
    })]));
    e.wait(60_000);
    let pid = e.pid_of("/bin/d");
    e.signaled(pid, libc::SIGKILL);
    assert_eq!(e.state("d"), State::Running, "restarted immediately");
    assert_eq!(e.spawned().len(), 2);
    // Now fail fast: backoff grows, then the object is marked crashed.
    let mut delays = Vec::new();
    for _ in 0..crate::config::DEFAULT_CRASH_LIMIT {
        let pid = e.pid_of("/bin/d");
        e.exit(pid, 1);
        if e.state("d") == State::Crashed {
            break;
        }
        assert_eq!(e.state("d"), State::Restarting);
        let d = e.next_deadline().unwrap() - e.os.now;
        delays.push(d);
        e.wait(d);
        assert_eq!(e.state("d"), State::Running);
    }
    assert_eq!(&delays[..4], &[250, 500, 1000, 2000]);
    assert_eq!(e.state("d"), State::Crashed);
    let i = e.find("d").unwrap();
    assert!(e.note(i).contains("crashed"));
    // A manual start clears it.
    e.start(i).unwrap();
    assert_eq!(e.state("d"), State::Running);
}

#[test]
fn restart_fast_failure_and_restart_crash_limit_set_the_policy() {
    let mut c = config(vec![with(object("d", "/bin/d", 1), |o| {
        o.fork = true;
        o.autorestart = true;
    })]);
    c.globals.restart_fast_failure = Some(2);
    c.globals.restart_crash_limit = Some(3);
    let mut e = booted(c);
    // 3 s is a normal run under RestartFastFailure 2 (a fast failure by default).
    e.wait(3_000);
    let pid = e.pid_of("/bin/d");
    e.signaled(pid, libc::SIGKILL);
    assert_eq!(e.state("d"), State::Running, "restarted at once, without backoff");
    assert_eq!(e.spawned().len(), 2);
    // The third fast failure in a row, not the tenth, marks it crashed.
    for n in 1..=3 {
        let pid = e.pid_of("/bin/d");
        e.exit(pid, 1);
        if n == 3 {
            break;
        }
        assert_eq!(e.state("d"), State::Restarting);
        e.wait(e.next_deadline().unwrap() - e.os.now);
    }
    assert_eq!(e.state("d"), State::Crashed);
    let i = e.find("d").unwrap();
    assert!(e.note(i).contains("crashed: 3 failures in a row"), "{}", e.note(i));
}

#[test]
fn autorestart_stops_after_a_manual_stop() {
    let mut e = booted(config(vec![with(object("d", "/bin/d", 1), |o| {
        o.fork = true;
        o.autorestart = true;
    })]));
    let i = e.find("d").unwrap();
    e.stop(i).unwrap();
    let pid = e.pid_of("/bin/d");
    e.signaled(pid, libc::SIGTERM);
    assert_eq!(e.state("d"), State::Stopped);
    assert_eq!(e.spawned().len(), 1);
}

#[test]
fn stop_escalates_to_sigkill_after_stoptimeout() {
    let mut e = booted(config(vec![with(object("s", "/bin/s", 1), |o| {
        o.fork = true;
        o.stop_timeout = Some(3);
        o.term_signal = Some(libc::SIGUSR1);
    })]));
    let i = e.find("s").unwrap();
    let pid = e.pid_of("/bin/s");
    e.stop(i).unwrap();
    assert_eq!(e.os.killed, [(pid, libc::SIGUSR1)]);
    e.wait(2_999);
    assert_eq!(e.state("s"), State::Stopping);
    e.wait(1);
    assert_eq!(e.os.killed, [(pid, libc::SIGUSR1), (pid, libc::SIGKILL)]);
    // Both reach the process group the start command leads.
    assert_eq!(e.os.group_killed, e.os.killed);
    e.signaled(pid, libc::SIGKILL);
    assert_eq!(e.state("s"), State::Stopped);
    assert_eq!(e.object(i).outcome, Some(Outcome::Warn));
}

/// FORK object `s` (STOPTIMEOUT 1 s) stopped by the command `/bin/s-stop`,
/// with `StopCommandTimeout` `limit`; the stop has begun. Returns the
/// engine, the object's index, its process and the stop command.
fn stopping_by_command(limit: Option<u32>) -> (Engine<Fake>, usize, Pid, Pid) {
    let mut o = with(object("s", "/bin/s", 1), |o| {
        o.fork = true;
        o.stop_timeout = Some(1);
    });
    o.stop = StopMethod::Command("/bin/s-stop".into());
    let mut c = config(vec![o]);
    c.globals.stop_command_timeout = limit;
    let mut e = booted(c);
    let i = e.find("s").unwrap();
    e.stop(i).unwrap();
    let (pid, stopper) = (e.pid_of("/bin/s"), e.pid_of("/bin/s-stop"));
    (e, i, pid, stopper)
}

#[test]
fn a_stop_command_runs_past_stoptimeout_which_then_waits_for_the_process() {
    let (mut e, i, pid, stopper) = stopping_by_command(None);
    // STOPTIMEOUT (1 s) is not the stop command's limit.
    e.wait(60_000);
    assert_eq!(e.os.killed, []);
    assert_eq!(e.state("s"), State::Stopping);
    e.exit(stopper, 0);
    // Now STOPTIMEOUT counts: the wait for the object's process.
    e.wait(999);
    assert_eq!(e.os.killed, []);
    e.wait(1);
    assert_eq!(e.os.group_killed, [(pid, libc::SIGKILL)]);
    e.signaled(pid, libc::SIGKILL);
    assert_eq!(e.state("s"), State::Stopped);
    assert_eq!(e.object(i).outcome, Some(Outcome::Warn));
}

#[test]
fn a_stop_command_past_stopcommandtimeout_is_killed_with_its_group_and_fails() {
    let (mut e, i, pid, stopper) = stopping_by_command(Some(5));
    e.wait(4_999);
    assert_eq!(e.os.killed, []);
    e.wait(1);
    assert_eq!(e.os.group_killed, [(stopper, libc::SIGKILL)], "the command's group, not the process yet");
    assert_eq!(e.note(i), "stop command did not end within 5 s: killed");
    e.signaled(stopper, libc::SIGKILL);
    // Then STOPTIMEOUT for the process, as after any stop command.
    assert_eq!(e.state("s"), State::Stopping);
    e.wait(1_000);
    assert_eq!(e.os.group_killed, [(stopper, libc::SIGKILL), (pid, libc::SIGKILL)]);
    e.signaled(pid, libc::SIGKILL);
    assert_eq!(e.state("s"), State::Stopped);
    assert_eq!(e.object(i).outcome, Some(Outcome::Fail));
    assert_eq!(e.note(i), "stop command did not end within 5 s: killed");
}

#[test]
fn a_stop_command_that_survives_sigkill_is_given_up_on() {
    let (mut e, i, pid, stopper) = stopping_by_command(Some(1));
    e.wait(1_000 + KILL_WAIT_MS);
    assert_eq!(e.object(i).helper, None);
    e.exit(pid, 0);
    assert_eq!(e.state("s"), State::Stopped);
    assert_eq!(e.object(i).outcome, Some(Outcome::Fail));
    // Its late reap changes nothing.
    e.signaled(stopper, libc::SIGKILL);
    assert_eq!(e.state("s"), State::Stopped);
}

#[test]
fn stopcommandtimeout_defaults_to_five_minutes_and_zero_means_none() {
    let (mut e, _, _, stopper) = stopping_by_command(None);
    e.wait(u64::from(DEFAULT_STOP_COMMAND_TIMEOUT_S) * 1000 - 1);
    assert_eq!(e.os.killed, []);
    e.wait(1);
    assert_eq!(e.os.killed, [(stopper, libc::SIGKILL)]);
    let (mut e, _, _, _) = stopping_by_command(Some(0));
    e.wait(24 * 3600 * 1000);
    assert_eq!(e.os.killed, []);
    assert_eq!(e.state("s"), State::Stopping);
}

#[test]
fn what_a_stop_command_leaves_in_its_group_is_waited_for_and_killed_at_stoptimeout() {
    let (mut e, _, pid, stopper) = stopping_by_command(None);
    e.exit(pid, 0);
    e.os.leaderless.insert(stopper);
    e.exit(stopper, 0);
    assert_eq!(e.state("s"), State::Stopping);
    e.wait(1_000);
    assert_eq!(e.os.group_signals, [(stopper, libc::SIGKILL)]);
    e.os.leaderless.remove(&stopper);
    e.signaled(GROUP_MEMBER, libc::SIGKILL);
    assert_eq!(e.state("s"), State::Stopped);
}

#[test]
fn stop_command_runs_and_waits_for_the_process() {
    let mut o = with(object("s", "/bin/s", 1), |o| o.fork = true);
    o.stop = StopMethod::Command("/bin/s-stop".into());
    let mut e = booted(config(vec![o]));
    let i = e.find("s").unwrap();
    e.stop(i).unwrap();
    let stopper = e.pid_of("/bin/s-stop");
    e.exit(stopper, 0);
    assert_eq!(e.state("s"), State::Stopping, "waits for the service itself");
    let pid = e.pid_of("/bin/s");
    e.exit(pid, 0);
    assert_eq!(e.state("s"), State::Stopped);
}

/// A member of the group that outlived its leader, reaped as an orphan.
const GROUP_MEMBER: Pid = 999;

/// FORK object `s` with STOPTIMEOUT `stop_timeout`, being stopped; its main
/// process ends on TERMSIGNAL and leaves a member of its group behind.
/// Returns the engine, the object's index and the main pid.
fn stopping_with_a_member_left(stop_timeout: u32) -> (Engine<Fake>, usize, Pid) {
    let mut e = booted(config(vec![with(object("s", "/bin/s", 1), |o| {
        o.fork = true;
        o.stop_timeout = Some(stop_timeout);
    })]));
    let i = e.find("s").unwrap();
    let pid = e.pid_of("/bin/s");
    e.stop(i).unwrap();
    e.os.leaderless.insert(pid);
    e.signaled(pid, libc::SIGTERM);
    (e, i, pid)
}

#[test]
fn a_stop_waits_for_what_the_main_process_leaves_in_its_group() {
    // The main process ends on TERMSIGNAL, a member of its group not yet.
    let (mut e, i, pid) = stopping_with_a_member_left(3);
    assert_eq!(e.state("s"), State::Stopping);
    e.wait(1_000);
    e.os.leaderless.remove(&pid);
    e.signaled(GROUP_MEMBER, libc::SIGTERM);
    assert_eq!(e.state("s"), State::Stopped);
    assert_eq!(e.os.group_signals, []);
    assert_eq!(e.object(i).outcome, Some(Outcome::Done));
}

#[test]
fn a_group_member_that_ignores_termsignal_is_killed_after_stoptimeout() {
    let (mut e, i, pid) = stopping_with_a_member_left(3);
    e.wait(2_999);
    assert_eq!(e.os.group_signals, []);
    // STOPTIMEOUT from the stop's start, as for the main process.
    e.wait(1);
    assert_eq!(e.os.group_signals, [(pid, libc::SIGKILL)]);
    assert_eq!(e.state("s"), State::Stopping);
    e.os.leaderless.remove(&pid);
    e.signaled(GROUP_MEMBER, libc::SIGKILL);
    assert_eq!(e.state("s"), State::Stopped);
    assert_eq!(e.object(i).outcome, Some(Outcome::Warn));
}

#[test]
fn a_group_that_survives_sigkill_fails_the_stop_and_is_forgotten() {
    let (mut e, i, _) = stopping_with_a_member_left(1);
    e.wait(1_000 + KILL_WAIT_MS);
    assert_eq!(e.state("s"), State::Stopped);
    assert_eq!(e.note(i), "still running after SIGKILL");
    assert!(e.object(i).leaderless_groups.is_empty());
}

#[test]
fn the_start_timeout_waits_for_the_group_of_the_start_command() {
    let stuck = with(object("stuck", "/bin/stuck", 1), |o| {
        o.start_timeout = Some(2);
        o.stop_timeout = Some(3);
    });
    let mut e = booted(config(vec![stuck]));
    let pid = e.pid_of("/bin/stuck");
    e.wait(2_000);
    e.os.leaderless.insert(pid);
    e.signaled(pid, libc::SIGTERM);
    assert_eq!(e.state("stuck"), State::Stopping, "the group is still there");
    e.wait(3_000);
    assert_eq!(e.os.group_signals, [(pid, libc::SIGKILL)]);
    e.os.leaderless.remove(&pid);
    e.signaled(GROUP_MEMBER, libc::SIGKILL);
    assert_eq!(e.state("stuck"), State::Failed);
}

#[test]
fn a_stop_during_a_reload_command_stops_it_and_waits_for_it() {
    let mut o = with(object("s", "/bin/s", 1), |o| o.fork = true);
    o.stop = StopMethod::Command("/bin/s-stop".into());
    o.rare_mut().reload = Some(crate::config::ReloadMethod::Command("/bin/s-reload".into()));
    let mut e = booted(config(vec![o]));
    let i = e.find("s").unwrap();
    e.reload(i).unwrap();
    assert_eq!(e.reload(i), Err(Refusal::Busy));
    let (pid, reloader) = (e.pid_of("/bin/s"), e.pid_of("/bin/s-reload"));
    e.stop(i).unwrap();
    assert_eq!(e.os.group_killed, [(reloader, libc::SIGTERM)]);
    let stopper = e.pid_of("/bin/s-stop");
    e.exit(stopper, 0);
    e.exit(pid, 0);
    assert_eq!(e.state("s"), State::Stopping, "the reload command is still running");
    // Its exit is the object's: it completes the stop.
    e.signaled(reloader, libc::SIGTERM);
    assert_eq!(e.state("s"), State::Stopped);
    assert_eq!(e.object(i).outcome, Some(Outcome::Done));
    e.start(i).unwrap();
    e.reload(i).unwrap();
}

#[test]
fn a_reload_command_that_ignores_termsignal_is_killed_with_the_stop() {
    let mut o = with(object("s", "/bin/s", 1), |o| {
        o.fork = true;
        o.stop_timeout = Some(1);
    });
    o.rare_mut().reload = Some(crate::config::ReloadMethod::Command("/bin/s-reload".into()));
    let mut e = booted(config(vec![o]));
    let i = e.find("s").unwrap();
    e.reload(i).unwrap();
    let (pid, reloader) = (e.pid_of("/bin/s"), e.pid_of("/bin/s-reload"));
    e.stop(i).unwrap();
    e.signaled(pid, libc::SIGTERM);
    e.wait(1_000);
    assert!(e.os.group_killed.contains(&(reloader, libc::SIGKILL)), "{:?}", e.os.group_killed);
    e.signaled(reloader, libc::SIGKILL);
    assert_eq!(e.state("s"), State::Stopped);
}

#[test]
fn nostopwait_does_not_wait() {
    let mut e = booted(config(vec![with(object("s", "/bin/s", 1), |o| {
        o.fork = true;
        o.no_stop_wait = true;
    })]));
    let i = e.find("s").unwrap();
    e.stop(i).unwrap();
    assert_eq!(e.state("s"), State::Stopped);
}

#[test]
fn nostopwait_still_waits_for_the_stop_command_before_the_next_priority() {
    let mut o = with(object("s", "/bin/s", 1), |o| {
        o.fork = true;
        o.no_stop_wait = true;
    });
    o.stop = StopMethod::Command("/bin/s-stop".into());
    let mut later = with(object("later", "/bin/later", 1), |o| o.fork = true);
    later.stop_priority = 2;
    let mut e = booted(config(vec![o, later]));
    e.shutdown(Power::Poweroff);
    let (pid, stopper, later) = (e.pid_of("/bin/s"), e.pid_of("/bin/s-stop"), e.pid_of("/bin/later"));
    e.wait(60_000);
    assert_eq!(e.state("s"), State::Stopping, "the stop command runs to completion");
    assert_eq!(e.os.killed, [], "stop priority 2 waits for it");
    e.exit(stopper, 0);
    // The process itself is not waited for.
    assert_eq!(e.state("s"), State::Stopped);
    assert!(e.os.alive.contains(&pid));
    assert_eq!(e.os.killed, [(later, libc::SIGTERM)]);
}

#[test]
fn haltonly_runs_only_at_shutdown() {
    let mut h = object("sync", "", 0);
    h.start = None;
    h.stop = StopMethod::Command("/bin/sync-disks".into());
    h.options.halt_only = true;
    let mut e = booted(config(vec![h, with(object("a", "/bin/a", 1), |o| o.fork = true)]));
    assert_eq!(e.spawned(), ["/bin/a"]);
    let i = e.find("sync").unwrap();
    assert_eq!(e.start(i), Err(Refusal::HaltOnly));
    e.shutdown(Power::Poweroff);
    assert!(e.spawned().contains(&"/bin/sync-disks"));
}

#[test]
fn a_disabled_haltonly_object_does_not_run_at_shutdown() {
    let halt_only = |id: &str, enabled: bool| {
        let mut h = object(id, "", 0);
        h.start = None;
        h.stop = StopMethod::Command(format!("/bin/{id}").into());
        h.options.halt_only = true;
        h.enabled = enabled;
        h
    };
    let mut e = booted(config(vec![halt_only("off", false), halt_only("later-off", true), halt_only("on", true)]));
    let i = e.find("later-off").unwrap();
    e.set_enabled(i, false);
    e.shutdown(Power::Poweroff);
    assert_eq!(e.spawned(), ["/bin/on"]);
}

#[test]
fn a_haltonly_runonce_object_runs_at_one_shutdown_only() {
    let mut h = object("save", "", 0);
    h.start = None;
    h.stop = StopMethod::Command("/bin/save".into());
    h.options.halt_only = true;
    h.options.runonce = true;
    let mut e = booted(config(vec![h]));
    e.shutdown(Power::Poweroff);
    let pid = e.pid_of("/bin/save");
    e.exit(pid, 0);
    assert!(!e.object(0).enabled);
    // What the state file carries to the next boot.
    let mut c = e.config().clone();
    c.objects[0].enabled = false;
    let mut e = booted(c);
    e.shutdown(Power::Poweroff);
    assert!(e.spawned().is_empty());
}

#[test]
fn runonce_stays_enabled_after_a_failed_start() {
    let mut e = booted(config(vec![with(object("keys", "/bin/keygen", 1), |o| o.runonce = true)]));
    let pid = e.pid_of("/bin/keygen");
    e.exit(pid, 1);
    assert_eq!(e.state("keys"), State::Failed);
    assert!(e.object(0).enabled, "a failed first-boot job runs again");
}

#[test]
fn runonce_disables_after_a_first_start_by_a_runlevel_change_too() {
    // Epoch: "after the object's initial start", whichever automatic start
    // that was; a manual start of a re-enabled object is the user's.
    let mut keys = with(object("keys", "/bin/keygen", 1), |o| o.runonce = true);
    keys.runlevels = "other".into();
    let mut e = booted(config(vec![keys]));
    e.switch_runlevel("other").unwrap();
    let pid = e.pid_of("/bin/keygen");
    e.exit(pid, 0);
    assert!(!e.object(0).enabled, "a first start by a runlevel change disables it");
}

#[test]
fn runonce_disables_after_the_boot_start_and_persists() {
    let dir = crate::scratch::ScratchDir::new("engine-runonce");
    let state = CString::new(dir.join("state").to_str().unwrap()).unwrap();
    let c = config(vec![with(object("keys", "/bin/keygen", 1), |o| o.runonce = true)]);
    let (plans, _) = plan::build(&c, &Layout::system());
    let mut e = Engine::new(Fake::default(), c.clone(), plans, Some(state.clone()));
    e.boot(&BootOptions::default());
    let pid = e.pid_of("/bin/keygen");
    e.exit(pid, 0);
    assert!(!e.object(0).enabled);
    assert_eq!(std::fs::read_to_string(dir.join("state")).unwrap().lines().nth(1), Some("disable keys"));
    // The next boot does not run it.
    let (plans, _) = plan::build(&c, &Layout::system());
    let mut e = Engine::new(Fake::default(), c, plans, Some(state));
    e.boot(&BootOptions::default());
    assert!(e.spawned().is_empty());
}

#[test]
fn runlevel_inheritance_is_direct_only() {
    let mut core = object("core", "/bin/core", 1);
    core.runlevels = "core".into();
    let mut multi = object("multi", "/bin/multi", 1);
    multi.runlevels = "multiuser".into();
    let mut gui = object("gui", "/bin/gui", 1);
    gui.runlevels = "gui".into();
    let mut c = config(vec![core, multi, gui]);
    for r in &mut c.runlevels {
        match r.name.as_str() {
            "gui" => r.inherits = vec!["multiuser".into()],
            "multiuser" => r.inherits = vec!["core".into()],
            _ => {}
        }
    }
    let mut e = engine(c);
    e.boot(&BootOptions { runlevel: Some("gui".into()), ..Default::default() });
    let mut started = e.spawned();
    started.sort();
    assert_eq!(started, ["/bin/gui", "/bin/multi"], "core is not inherited through multiuser");
}

#[test]
fn runlevel_switch_stops_non_members_but_not_persistent_ones() {
    let a = with(object("a", "/bin/a", 1), |o| o.fork = true);
    let p = with(object("p", "/bin/p", 1), |o| {
        o.fork = true;
        o.persistent = true;
    });
    let mut b = with(object("b", "/bin/b", 1), |o| o.fork = true);
    b.runlevels = "default other".into();
    let mut n = with(object("n", "/bin/n", 1), |o| o.fork = true);
    n.runlevels = "other".into();
    let mut e = booted(config(vec![a, p, b, n]));
    e.switch_runlevel("other").unwrap();
    let a_pid = e.pid_of("/bin/a");
    assert_eq!(e.os.killed, [(a_pid, libc::SIGTERM)]);
    e.signaled(a_pid, libc::SIGTERM);
    assert_eq!(e.state("a"), State::Stopped);
    assert_eq!(e.state("p"), State::Running);
    assert_eq!(e.state("b"), State::Running);
    assert_eq!(e.state("n"), State::Running);
    assert_eq!(e.runlevel(), Some("other"));
}

#[test]
fn a_console_object_never_runs_twice_leftovers_are_killed_first() {
    let mut o = object("vac1", "./st.cmd", 1);
    o.options.autorestart = true;
    o.console = Some(Box::new(Console { from_ioc_file: true, may_choose_credentials: true, ..Console::default() }));
    let mut e = booted(config(vec![o]));
    e.wait(60_000);
    let procserv = e.os.spawned[0].0;
    assert_eq!(e.state("vac1"), State::Running);
    // The IOC, child of procServ, carries the marker too.
    e.os.alive.insert(900);
    e.os.marked.insert(900, (procserv, "IOCINIT_OBJECT=vac1".into()));
    let i = e.find("vac1").unwrap();
    assert_eq!(e.console_child(i), Some(900));
    // procServ is SIGKILLed: its IOC is orphaned to us and must die first.
    e.os.marked.insert(900, (1, "IOCINIT_OBJECT=vac1".into()));
    e.signaled(procserv, libc::SIGKILL);
    assert!(e.os.killed.contains(&(900, libc::SIGKILL)));
    assert_eq!(e.spawned().len(), 1, "no new procServ while the old IOC lives");
    assert_eq!(e.state("vac1"), State::Restarting);
    e.signaled(900, libc::SIGKILL);
    // (Its second round in a row: killed when procServ died, then again by
    // the restart; the wait doubles each round.)
    e.wait(2 * LEFTOVER_WAIT_MS);
    assert_eq!(e.spawned().len(), 2);
    assert_eq!(e.state("vac1"), State::Running);
}

#[test]
fn stopping_a_console_object_waits_for_its_ioc() {
    let mut o = object("vac1", "./st.cmd", 1);
    o.console = Some(Box::new(Console { from_ioc_file: true, may_choose_credentials: true, ..Console::default() }));
    let mut e = booted(config(vec![o]));
    let procserv = e.os.spawned[0].0;
    e.os.alive.insert(900);
    e.os.marked.insert(900, (procserv, "IOCINIT_OBJECT=vac1".into()));
    let i = e.find("vac1").unwrap();
    e.stop(i).unwrap();
    assert_eq!(e.os.killed, [(procserv, libc::SIGTERM)]);
    // procServ exits but its IOC is still there (blocked SIGTERM): kill it.
    e.os.marked.insert(900, (1, "IOCINIT_OBJECT=vac1".into()));
    e.exit(procserv, 0);
    assert!(e.os.killed.contains(&(900, libc::SIGKILL)));
    assert_eq!(e.state("vac1"), State::Stopping);
    e.signaled(900, libc::SIGKILL);
    assert_eq!(e.state("vac1"), State::Stopped);
}

#[test]
fn shutdown_stops_by_priority_then_terms_and_kills_everything() {
    let mut a = with(object("a", "/bin/a", 1), |o| o.fork = true);
    a.stop_priority = 2;
    let b = with(object("b", "/bin/b", 1), |o| o.fork = true);
    let mut e = booted(config(vec![a, b]));
    e.take_request();
    e.os.strays = 3;
    e.shutdown(Power::Reboot);
    let (a, b) = (e.pid_of("/bin/a"), e.pid_of("/bin/b"));
    assert_eq!(e.os.killed, [(b, libc::SIGTERM)], "stop priority 1 first");
    e.signaled(b, libc::SIGTERM);
    assert_eq!(e.os.killed, [(b, libc::SIGTERM), (a, libc::SIGTERM)]);
    e.signaled(a, libc::SIGTERM);
    assert_eq!(e.take_request(), None, "stray processes get their grace time");
    e.wait(TERM_GRACE_MS);
    e.wait(1);
    assert_eq!(e.take_request(), Some(SystemRequest::Power(Power::Reboot)));
}

#[test]
fn startfailcritical_pauses_boot_for_an_emergency_shell() {
    let crit = with(object("fs", "/bin/missing-mount", 1), |o| o.start_fail_critical = true);
    let mut e = booted(config(vec![crit, object("later", "/bin/later", 2)]));
    match e.take_request() {
        Some(SystemRequest::Emergency(note)) => assert!(note.contains("fs failed to start")),
        other => panic!("{other:?}"),
    }
    assert!(e.spawned().is_empty());
    e.resume();
    assert_eq!(e.spawned(), ["/bin/later"]);
}

#[test]
fn prestart_failure_makes_the_start_a_warning() {
    let mut o = with(object("p", "/bin/p", 1), |o| o.fork = true);
    o.rare_mut().prestart = Some("/bin/pre".into());
    let mut e = booted(config(vec![o]));
    assert_eq!(e.spawned(), ["/bin/pre"]);
    let pre = e.pid_of("/bin/pre");
    e.exit(pre, 1);
    assert_eq!(e.spawned(), ["/bin/pre", "/bin/p"]);
    assert_eq!(e.os.lines, ["Starting p ... WARN"]);
}

#[test]
fn a_service_is_followed_to_its_daemon() {
    let mut e = booted(config(vec![with(object("sshd", "/sbin/sshd", 1), |o| o.service = true)]));
    let starter = e.pid_of("/sbin/sshd");
    // The daemon forked off, was reparented to us and carries the marker.
    e.os.alive.insert(555);
    e.os.marked.insert(555, (1, "IOCINIT_OBJECT=sshd".into()));
    e.exit(starter, 0);
    let i = e.find("sshd").unwrap();
    assert_eq!(e.object(i).main_pid, Some(555));
    assert_eq!(e.state("sshd"), State::Running);
}

/// Found by the control_server fuzz target: an object's own reload command
/// runs as a child of PID 1 and carries the object's marker, so it looked
/// like the object's daemon, and was taken as its main process while still
/// followed as the reload command (one pid, two roles).
#[test]
fn a_services_own_reload_command_is_never_taken_for_its_daemon() {
    let mut o = with(object("sshd", "/sbin/sshd", 1), |o| o.service = true);
    o.rare_mut().reload = Some(crate::config::ReloadMethod::Command("/bin/sshd-reload".into()));
    let mut e = booted(config(vec![o]));
    let i = e.find("sshd").unwrap();
    e.os.alive.insert(555);
    e.os.marked.insert(555, (1, "IOCINIT_OBJECT=sshd".into()));
    e.exit(e.pid_of("/sbin/sshd"), 0);
    assert_eq!(e.object(i).main_pid, Some(555));
    e.reload(i).unwrap();
    let reloader = e.pid_of("/bin/sshd-reload");
    // The daemon dies while its reload command runs: the reload command
    // is not the daemon found late.
    e.signaled(555, libc::SIGKILL);
    assert_ne!(e.object(i).main_pid, Some(reloader), "{:?}", e.object(i));
    assert_eq!(e.object(i).reload, Some(reloader));
    e.exit(reloader, 0);
    assert_eq!(e.object(i).main_pid, None, "{:?}", e.object(i));
}

/// The same through a pid file: one that names the object's reload command
/// (which wrote its own pid there, or got the daemon's old pid) at a stop.
#[test]
fn a_pid_file_naming_the_objects_own_reload_command_is_not_followed() {
    let mut o = object("d", "/sbin/d", 1);
    o.rare_mut().pid_file = Some("/run/d.pid".into());
    o.stop = StopMethod::PidFile(None);
    o.rare_mut().reload = Some(crate::config::ReloadMethod::Command("/bin/d-reload".into()));
    let mut e = booted(config(vec![o]));
    let i = e.find("d").unwrap();
    e.os.alive.insert(777);
    e.os.marked.insert(777, (1, "IOCINIT_OBJECT=d".into()));
    e.os.pid_files.insert("/run/d.pid".into(), 777);
    e.exit(e.pid_of("/sbin/d"), 0);
    e.wait(1000);
    assert_eq!((e.state("d"), e.object(i).main_pid), (State::Running, Some(777)));
    e.reload(i).unwrap();
    let reloader = e.pid_of("/bin/d-reload");
    e.os.pid_files.insert("/run/d.pid".into(), reloader);
    e.stop(i).unwrap();
    assert_ne!(e.object(i).main_pid, Some(reloader), "{:?}", e.object(i));
    assert!(e.os.killed.contains(&(777, libc::SIGTERM)), "the daemon it follows is stopped: {:?}", e.os.killed);
    assert!(e.note(i).contains("not this object's"), "{}", e.note(i));
}

#[test]
fn a_service_daemon_not_visible_at_once_is_looked_for_again() {
    // The race seen on a loaded machine: the daemon is inside its execve
    // when the start command's exit is handled, so /proc shows it without
    // an environment. That instant cannot be produced on demand with real
    // processes, hence the fake.
    let mut e = booted(config(vec![
        with(object("sshd", "/sbin/sshd", 1), |o| o.service = true),
        with(object("plain", "/sbin/plain", 1), |o| o.service = true),
        object("next", "/bin/next", 2),
    ]));
    let starter = e.pid_of("/sbin/sshd");
    e.exit(starter, 0);
    assert_eq!(e.state("sshd"), State::Starting);
    // The boot waits for it.
    assert!(!e.spawned().contains(&"/bin/next"));
    e.wait(60);
    e.os.alive.insert(555);
    e.os.marked.insert(555, (1, "IOCINIT_OBJECT=sshd".into()));
    e.wait(30);
    let i = e.find("sshd").unwrap();
    assert_eq!((e.state("sshd"), e.object(i).main_pid), (State::Running, Some(555)));
    // A SERVICE that leaves no daemon at all is done after a short look.
    let plain = e.pid_of("/sbin/plain");
    e.exit(plain, 0);
    e.wait(SERVICE_WAIT_MS - 40);
    assert_eq!(e.state("plain"), State::Starting);
    e.wait(60);
    assert_eq!(e.state("plain"), State::Done);
    assert!(e.spawned().contains(&"/bin/next"));
}

#[test]
fn a_pid_file_is_waited_for() {
    let mut o = object("d", "/sbin/d", 1);
    o.rare_mut().pid_file = Some("/run/d.pid".into());
    o.stop = StopMethod::PidFile(None);
    let mut e = booted(config(vec![o]));
    let starter = e.pid_of("/sbin/d");
    e.exit(starter, 0);
    assert_eq!(e.state("d"), State::WaitPidFile);
    e.wait(500);
    assert_eq!(e.state("d"), State::WaitPidFile);
    e.os.alive.insert(777);
    e.os.marked.insert(777, (1, "IOCINIT_OBJECT=d".into()));
    e.os.pid_files.insert("/run/d.pid".into(), 777);
    e.wait(1000);
    assert_eq!(e.state("d"), State::Running);
    let i = e.find("d").unwrap();
    e.stop(i).unwrap();
    assert_eq!(e.os.killed, [(777, libc::SIGTERM)]);
}

const PIDFILE_WAIT_MS: u64 = DEFAULT_PIDFILE_TIMEOUT_S as u64 * 1000;

#[test]
fn a_pid_file_that_never_comes_ends_the_wait_with_a_warning_and_a_daemon_found_later_is_stopped() {
    let mut o = object("d", "/sbin/d", 1);
    o.rare_mut().pid_file = Some("/run/d.pid".into());
    o.stop = StopMethod::PidFile(None);
    let mut c = config(vec![o]);
    c.globals.pid_file_timeout = Some(2);
    let mut e = booted(c);
    let i = e.find("d").unwrap();
    let starter = e.pid_of("/sbin/d");
    e.exit(starter, 0);
    e.wait(1_999);
    assert_eq!(e.state("d"), State::WaitPidFile);
    e.wait(1);
    // Started, with a warning, and nothing of its own to follow yet.
    assert_eq!((e.state("d"), e.object(i).outcome, e.object(i).main_pid), (State::Done, Some(Outcome::Warn), None));
    assert_eq!(e.note(i), "no live pid in ObjectPIDFile after 2 s");
    assert!(e.os.killed.is_empty());
    // The daemon writes its pid file late: a stop reads it.
    e.os.alive.insert(777);
    e.os.marked.insert(777, (1, "IOCINIT_OBJECT=d".into()));
    e.os.pid_files.insert("/run/d.pid".into(), 777);
    e.stop(i).unwrap();
    assert_eq!(e.os.killed, [(777, libc::SIGTERM)]);
    assert_eq!(e.state("d"), State::Stopping);
    e.signaled(777, libc::SIGTERM);
    assert_eq!(e.state("d"), State::Stopped);
}

#[test]
fn a_process_that_never_writes_its_pid_file_stays_tracked_and_is_stopped() {
    let mut o = with(object("d", "/sbin/d", 1), |o| {
        o.fork = true;
        o.term_signal = Some(libc::SIGINT);
    });
    o.rare_mut().pid_file = Some("/run/d.pid".into());
    o.stop = StopMethod::PidFile(None);
    let mut e = booted(config(vec![o]));
    let i = e.find("d").unwrap();
    let pid = e.pid_of("/sbin/d");
    e.wait(PIDFILE_WAIT_MS);
    // Started with a warning, its process still followed, not killed.
    assert!(e.os.killed.is_empty());
    assert_eq!((e.state("d"), e.object(i).main_pid, e.object(i).outcome), (State::Running, Some(pid), Some(Outcome::Warn)));
    assert_eq!(e.note(i), "no live pid in ObjectPIDFile after 30 s");
    // `ObjectStopCommand PIDFILE` without a pid in the file stops it all the same.
    e.stop(i).unwrap();
    assert_eq!(e.os.group_killed, [(pid, libc::SIGINT)]);
    e.signaled(pid, libc::SIGINT);
    assert_eq!(e.state("d"), State::Stopped);
}

#[test]
fn notrack_finds_the_process_after_the_start_and_a_stop_ends_it() {
    let fork = with(object("f", "/sbin/f", 1), |o| {
        o.fork = true;
        o.no_track = true;
    });
    let mut daemon = with(object("d", "/sbin/d", 1), |o| o.no_track = true);
    daemon.rare_mut().pid_file = Some("/run/d.pid".into());
    let mut e = booted(config(vec![fork, daemon]));
    // FORK: found in /proc right after the start.
    let (f, pid) = (e.find("f").unwrap(), e.pid_of("/sbin/f"));
    assert_eq!((e.state("f"), e.object(f).main_pid), (State::Running, Some(pid)));
    // No wait for the pid file; a late one is read by the stop.
    let d = e.find("d").unwrap();
    let starter = e.pid_of("/sbin/d");
    e.exit(starter, 0);
    assert_eq!((e.state("d"), e.object(d).main_pid), (State::Done, None));
    e.os.alive.insert(888);
    e.os.marked.insert(888, (1, "IOCINIT_OBJECT=d".into()));
    e.os.pid_files.insert("/run/d.pid".into(), 888);
    e.stop(d).unwrap();
    assert_eq!(e.os.group_killed, [(888, libc::SIGTERM)]);
    e.signaled(888, libc::SIGTERM);
    assert_eq!(e.state("d"), State::Stopped);
}

#[test]
fn restart_stops_then_starts() {
    let mut e = booted(config(vec![with(object("s", "/bin/s", 1), |o| o.fork = true)]));
    let i = e.find("s").unwrap();
    e.restart(i).unwrap();
    let old = e.pid_of("/bin/s");
    e.signaled(old, libc::SIGTERM);
    assert_eq!(e.state("s"), State::Running);
    assert_ne!(e.pid_of("/bin/s"), old);
}

#[test]
fn configuration_reload_carries_running_state_by_id() {
    let mut e = booted(config(vec![with(object("keep", "/bin/keep", 1), |o| o.fork = true), with(object("gone", "/bin/gone", 1), |o| o.fork = true)]));
    let keep = e.pid_of("/bin/keep");
    let new = config(vec![object("fresh", "/bin/fresh", 0), with(object("keep", "/bin/keep2", 1), |o| o.fork = true)]);
    e.replace_config(new, |new| {
        // The plans of the new configuration's objects, not of those it keeps.
        assert_eq!(new.objects.iter().map(|o| o.id.as_str()).collect::<Vec<_>>(), ["fresh", "keep"]);
        plan::build(new, &Layout::system()).0
    });
    let i = e.find("keep").unwrap();
    assert_eq!(e.object(i).main_pid, Some(keep));
    assert_eq!(e.state("keep"), State::Running);
    assert_eq!(e.state("fresh"), State::Stopped);
    assert_eq!(e.plans()[i].start.as_ref().unwrap().program().to_str(), Ok("/bin/keep2"));
    // A removed object that still runs is kept until it stops, with its plan.
    let g = e.find("gone").unwrap();
    assert!(e.object(g).removed);
    assert_eq!(e.plans()[g].start.as_ref().unwrap().program().to_str(), Ok("/bin/gone"));
    assert_eq!(e.start(g), Err(Refusal::Removed));
}

#[test]
fn startobj_and_skipobj_from_the_command_line() {
    let mut e = engine(config(vec![with(object("a", "/bin/a", 1), |o| o.fork = true), object("selftest", "/bin/selftest", 0)]));
    e.boot(&BootOptions { start: vec!["selftest".into()], skip: vec!["a".into()], ..Default::default() });
    assert_eq!(e.spawned(), ["/bin/selftest"]);
}

#[test]
fn a_failing_spawn_is_a_failed_start_with_a_reason() {
    let e = booted(config(vec![object("m", "/bin/missing", 1)]));
    let i = e.find("m").unwrap();
    assert_eq!(e.state("m"), State::Failed);
    assert_eq!(e.note(i), "unable to execute: No such file or directory: /bin/missing");
}

/// SERVICE object `d` whose start command made the classic double fork
/// and exited: the first child (500) is still there, the daemon (501) too,
/// both reparented to us and carrying d's marker.
fn double_forked_service() -> Engine<Fake> {
    let mut e = booted(config(vec![with(object("d", "/sbin/d", 1), |o| o.service = true)]));
    e.os.proc_descending = true;
    let starter = e.pid_of("/sbin/d");
    for pid in [500, 501] {
        e.os.alive.insert(pid);
        e.os.marked.insert(pid, (1, "IOCINIT_OBJECT=d".into()));
    }
    e.exit(starter, 0);
    e
}

#[test]
fn a_service_caught_at_its_intermediate_fork_is_followed_to_the_daemon() {
    let mut e = double_forked_service();
    let i = e.find("d").unwrap();
    assert_eq!(e.object(i).main_pid, Some(500));
    // The intermediate exits: no crash, the daemon is followed.
    e.exit(500, 0);
    assert_eq!(e.state("d"), State::Running);
    assert_eq!(e.object(i).main_pid, Some(501));
    e.exit(501, 1);
    assert_eq!(e.state("d"), State::Failed);
}

#[test]
fn killall5_waits_its_seconds_even_when_the_process_ends_early() {
    let mut o = with(object("k", "/bin/k", 1), |o| o.fork = true);
    o.stop = StopMethod::Killall5 { signal: Some(libc::SIGTERM), wait_secs: Some(2) };
    let mut e = booted(config(vec![o]));
    let i = e.find("k").unwrap();
    e.stop(i).unwrap();
    let pid = e.pid_of("/bin/k");
    e.signaled(pid, libc::SIGTERM);
    assert_eq!(e.state("k"), State::Stopping);
    e.wait(1_999);
    assert_eq!(e.state("k"), State::Stopping);
    e.wait(1);
    assert_eq!(e.state("k"), State::Stopped);
}

/// Another user's uid, for processes an unprivileged user planted.
const OUTSIDER: u32 = 64_999;

impl Engine<Fake> {
    /// A live process reparented to us, carrying `marker`, as `uid`, started
    /// at `started`.
    fn plant(&mut self, pid: Pid, marker: &str, uid: u32, started: u64) {
        self.os.alive.insert(pid);
        self.os.marked.insert(pid, (1, marker.into()));
        self.os.uids.insert(pid, uid);
        self.os.started.insert(pid, started);
    }
}

fn booted_at(c: Config, now: u64) -> Engine<Fake> {
    let mut e = engine(c);
    e.os.now = now;
    e.boot(&BootOptions::default());
    e
}

#[test]
fn a_marker_alone_does_not_make_a_service_daemon() {
    let me = nix::unistd::geteuid().as_raw();
    let services = vec![
        with(object("sshd", "/sbin/sshd", 1), |o| o.service = true),
        with(object("lone", "/sbin/lone", 1), |o| o.service = true),
    ];
    let mut e = booted_at(config(services), 1_000);
    e.os.proc_descending = true;
    // Lower pids than the real daemon: another user's process, and one of
    // ours that was there before the start.
    for id in ["sshd", "lone"] {
        let marker = format!("IOCINIT_OBJECT={id}");
        let base = if id == "sshd" { 400 } else { 500 };
        e.plant(base, &marker, OUTSIDER, 2_000);
        e.plant(base + 1, &marker, me, 500);
    }
    e.plant(555, "IOCINIT_OBJECT=sshd", me, 1_000);
    let (sshd, lone) = (e.pid_of("/sbin/sshd"), e.pid_of("/sbin/lone"));
    e.exit(sshd, 0);
    e.exit(lone, 0);
    let i = e.find("sshd").unwrap();
    assert_eq!((e.state("sshd"), e.object(i).main_pid), (State::Running, Some(555)));
    e.wait(SERVICE_WAIT_MS);
    let l = e.find("lone").unwrap();
    assert_eq!((e.state("lone"), e.object(l).main_pid), (State::Done, None));
    // Stopping signals the daemon, and only it.
    e.stop(i).unwrap();
    assert_eq!(e.os.killed, [(555, libc::SIGTERM)]);
}

fn console_object(id: &str) -> Object {
    let mut o = object(id, "./st.cmd", 1);
    o.console = Some(Box::new(Console { from_ioc_file: true, may_choose_credentials: true, ..Console::default() }));
    o
}

#[test]
fn only_the_objects_own_processes_are_its_leftovers() {
    let me = nix::unistd::geteuid().as_raw();
    let mut e = booted_at(config(vec![console_object("vac1")]), 1_000);
    let i = e.find("vac1").unwrap();
    let procserv = e.os.spawned[0].0;
    // Planted: another user's, and one of ours older than this run.
    e.plant(800, "IOCINIT_OBJECT=vac1", OUTSIDER, 2_000);
    e.plant(801, "IOCINIT_OBJECT=vac1", me, 500);
    // The IOC and its own child.
    e.os.alive.extend([900, 901]);
    e.os.marked.insert(900, (procserv, "IOCINIT_OBJECT=vac1".into()));
    e.os.marked.insert(901, (900, "IOCINIT_OBJECT=vac1".into()));
    assert!(e.owns(i, 900) && e.owns(i, 901));
    assert!(!e.owns(i, 800) && !e.owns(i, 801));
    // Descending from the object's process, it is the object's whatever its
    // user (a killed leftover, though, must run as the object's user).
    e.os.uids.insert(901, OUTSIDER);
    assert!(e.owns(i, 901));
    e.os.uids.remove(&901);
    // A pid reused by a process older than its "parent" is not a child.
    e.os.started.insert(901, 10);
    assert!(!e.owns(i, 901));
    e.os.started.remove(&901);
    // procServ is SIGKILLed: the orphaned IOC goes, and its child; the
    // planted processes stay.
    e.os.marked.insert(900, (1, "IOCINIT_OBJECT=vac1".into()));
    e.signaled(procserv, libc::SIGKILL);
    let killed: Vec<Pid> = e.os.killed.iter().map(|(p, _)| *p).collect();
    assert_eq!(killed, [900, 901]);
    e.signaled(900, libc::SIGKILL);
    e.signaled(901, libc::SIGKILL);
    e.start(i).unwrap();
    assert_eq!((e.state("vac1"), e.spawned().len()), (State::Running, 2));
    assert_eq!(e.os.killed.len(), 2, "nothing else was killed");
}

#[test]
fn a_leftover_whose_parent_ends_during_the_walk_is_still_killed() {
    let mut e = booted_at(config(vec![console_object("vac1")]), 1_000);
    let procserv = e.os.spawned[0].0;
    e.os.proc_descending = true;
    // The orphaned IOC, now the supervisor's child, and its own child. The
    // IOC ends, reaped by the supervisor, as the walk up from its child
    // reaches it: the child is the supervisor's then, and still the object's.
    e.os.alive.extend([900, 901]);
    e.os.marked.insert(900, (1, "IOCINIT_OBJECT=vac1".into()));
    e.os.marked.insert(901, (900, "IOCINIT_OBJECT=vac1".into()));
    e.os.ending.insert(900, 1);
    e.signaled(procserv, libc::SIGKILL);
    assert_eq!(e.os.killed, [(901, libc::SIGKILL)], "not one IOC left running beside the next");
}

#[test]
fn a_walk_started_over_checks_everything_again() {
    let mut e = booted_at(config(vec![console_object("vac1")]), 1_000);
    let i = e.find("vac1").unwrap();
    let procserv = e.os.spawned[0].0;
    // Below procServ through 900, another user's 901 is the object's; once
    // 900 ends during the walk, 901 is an orphan of another user: not.
    e.os.alive.extend([900, 901]);
    e.os.marked.insert(900, (procserv, "IOCINIT_OBJECT=vac1".into()));
    e.os.marked.insert(901, (900, "IOCINIT_OBJECT=vac1".into()));
    e.os.uids.insert(901, OUTSIDER);
    assert!(e.owns(i, 901));
    e.os.ending.insert(900, 1);
    assert!(!e.owns(i, 901));
    // Nor is one of ours below an orphan without the marker: 902 under 903
    // under 904, procServ's child, until 904 ends during the walk.
    e.os.alive.extend([902, 903, 904]);
    e.os.marked.insert(902, (903, "IOCINIT_OBJECT=vac1".into()));
    e.os.marked.insert(903, (904, "LANG=C".into()));
    e.os.marked.insert(904, (procserv, "IOCINIT_OBJECT=vac1".into()));
    assert!(e.owns(i, 902));
    e.os.ending.insert(904, 1);
    assert!(!e.owns(i, 902));
}

#[test]
fn ancestors_ending_during_every_walk_stop_it_after_a_bound() {
    use crate::sys::DESCENT_DEPTH;
    let mut e = booted_at(config(vec![console_object("vac1")]), 1_000);
    let i = e.find("vac1").unwrap();
    // 901 below a chain of subreapers, each ending as the walk reaches it
    // and handing 901 to the next.
    e.os.alive.insert(901);
    e.os.marked.insert(901, (2_000, "IOCINIT_OBJECT=vac1".into()));
    let chain = 2 * DESCENT_DEPTH as Pid;
    e.os.ending.extend((2_000..2_000 + chain).map(|p| (p, p + 1)));
    assert!(!e.owns(i, 901));
    assert_eq!(e.os.ending.len(), DESCENT_DEPTH, "one ancestor ended for each of DESCENT_DEPTH walks");
    assert_eq!(e.os.reads, 2 * DESCENT_DEPTH, "901 and its parent of the moment, each walk");
    // A process entered from outside the namespace (parent 0) has no
    // ancestor to be gone: one walk, one read, nobody's.
    e.os.reads = 0;
    e.os.marked.insert(901, (0, "IOCINIT_OBJECT=vac1".into()));
    assert!(!e.owns(i, 901));
    assert_eq!(e.os.reads, 1);
}

#[test]
fn leftovers_that_will_not_die_are_retried_with_a_growing_delay() {
    let mut o = console_object("vac1");
    o.options.autorestart = true;
    let mut e = booted_at(config(vec![o]), 1_000);
    let procserv = e.os.spawned[0].0;
    // The orphaned IOC ignores SIGKILL (stuck in the kernel, say).
    e.os.alive.insert(900);
    e.os.marked.insert(900, (procserv, "IOCINIT_OBJECT=vac1".into()));
    e.os.marked.insert(900, (1, "IOCINIT_OBJECT=vac1".into()));
    e.signaled(procserv, libc::SIGKILL);
    let i = e.find("vac1").unwrap();
    let mut waits = Vec::new();
    for _ in 0..8 {
        let d = e.next_deadline().unwrap();
        e.wait(d - e.os.now);
        waits.push(e.object(i).deadline.unwrap() - e.os.now);
    }
    assert_eq!(waits, [200, 400, 800, 1_600, 3_200, LEFTOVER_MAX_WAIT_MS, LEFTOVER_MAX_WAIT_MS, LEFTOVER_MAX_WAIT_MS]);
    assert_eq!(e.state("vac1"), State::Restarting);
    assert!(e.note(i).contains("previous run"), "{}", e.note(i));
    assert_eq!(e.spawned().len(), 1, "never two IOCs of one name");
    // Once it is gone, the IOC starts again.
    e.signaled(900, libc::SIGKILL);
    e.wait(LEFTOVER_MAX_WAIT_MS);
    assert_eq!((e.state("vac1"), e.spawned().len()), (State::Running, 2));
    assert!(e.note(i).is_empty());
}

#[test]
fn a_pid_file_is_trusted_only_for_the_objects_own_process() {
    let me = nix::unistd::geteuid().as_raw();
    let mut o = object("d", "/sbin/d", 1);
    o.rare_mut().pid_file = Some("/run/d.pid".into());
    o.stop = StopMethod::PidFile(None);
    let mut e = engine(config(vec![o]));
    // A stale pid file naming a live process of an earlier start.
    e.os.now = 1_000;
    e.plant(300, "IOCINIT_OBJECT=d", me, 500);
    e.os.pid_files.insert("/run/d.pid".into(), 300);
    e.boot(&BootOptions::default());
    assert_eq!(e.os.removed, ["/run/d.pid"], "removed before the start");
    let starter = e.pid_of("/sbin/d");
    e.exit(starter, 0);
    let i = e.find("d").unwrap();
    // Named again (written by someone who may write there): 300, then
    // another user's marked process, then an unmarked one of ours.
    e.plant(400, "IOCINIT_OBJECT=d", OUTSIDER, 2_000);
    e.os.alive.insert(401);
    for pid in [300, 400, 401] {
        e.os.pid_files.insert("/run/d.pid".into(), pid);
        e.wait(1_000);
        assert_eq!((e.state("d"), e.object(i).main_pid), (State::WaitPidFile, None), "pid {pid}");
        let note = format!("the pid file names a process that is not this object's (pid {pid})");
        assert_eq!(e.note(i), note);
    }
    // `ObjectStopCommand PIDFILE` does not signal it either.
    e.stop(i).unwrap();
    assert!(e.os.killed.is_empty(), "{:?}", e.os.killed);
    assert_eq!(e.state("d"), State::Stopped);
    assert!(e.note(i).contains("not signalled"), "{}", e.note(i));
    // Given up after the wait, with that reason, and never followed.
    e.start(i).unwrap();
    let starter = e.pid_of("/sbin/d");
    e.exit(starter, 0);
    e.os.pid_files.insert("/run/d.pid".into(), 400);
    e.wait(PIDFILE_WAIT_MS);
    assert_eq!((e.state("d"), e.object(i).main_pid, e.object(i).outcome), (State::Done, None, Some(Outcome::Warn)));
    assert!(e.note(i).contains("not this object's (pid 400)"), "{}", e.note(i));
    e.stop(i).unwrap();
    assert!(e.os.killed.is_empty());
}

#[test]
fn a_pid_file_may_name_a_child_of_the_objects_process_whatever_its_user() {
    let mut o = with(object("d", "/sbin/d", 1), |o| o.fork = true);
    o.rare_mut().pid_file = Some("/run/d.pid".into());
    let mut e = booted_at(config(vec![o]), 1_000);
    let main = e.pid_of("/sbin/d");
    // The daemon's worker, which switched to its own user.
    e.os.alive.insert(600);
    e.os.marked.insert(600, (main, "IOCINIT_OBJECT=d".into()));
    e.os.uids.insert(600, OUTSIDER);
    e.os.pid_files.insert("/run/d.pid".into(), 600);
    e.wait(100);
    let i = e.find("d").unwrap();
    assert_eq!((e.state("d"), e.object(i).main_pid), (State::Running, Some(600)));
}

#[test]
fn after_a_reexec_the_run_start_comes_from_the_tracked_process() {
    let mut e = booted_at(config(vec![console_object("vac1")]), 1_000);
    let i = e.find("vac1").unwrap();
    let procserv = e.os.spawned[0].0;
    // A re-exec hands the state over without the run's start time.
    e.os.now = 9_000;
    let mut st = e.object(i).clone();
    st.start_ticks = u64::MAX;
    e.restore_object(i, st);
    // The IOC, started after procServ, orphaned when procServ is killed.
    e.plant(900, "IOCINIT_OBJECT=vac1", nix::unistd::geteuid().as_raw(), 1_500);
    e.signaled(procserv, libc::SIGKILL);
    assert_eq!(e.os.killed, [(900, libc::SIGKILL)]);
}

/// A configuration reload, as the daemon does it.
fn reload(e: &mut Engine<Fake>, mut c: Config) {
    c.globals.ioc.group = "root".into();
    let (plans, problems) = plan::build(&c, &Layout::system());
    assert!(problems.is_empty(), "{problems:?}");
    e.replace_config(c, |_| plans);
}

#[test]
fn a_handle_follows_its_object_across_reloads_and_is_never_reused() {
    let mut e = booted(config(vec![object("d1", "/bin/d1", 0), object("a", "/bin/a", 0)]));
    let d1 = e.handle(e.find("d1").unwrap());
    let i = e.find("a").unwrap();
    e.start(i).unwrap();
    let a = e.handle(i);
    assert_eq!(e.state("a"), State::Starting);
    // d1 goes, a moves to the front, fresh is new: a waiter on a still finds it.
    reload(&mut e, config(vec![object("a", "/bin/a", 0), object("fresh", "/bin/fresh", 0)]));
    assert_eq!(e.resolve(a), Some(0));
    assert_eq!(e.resolve(d1), None);
    let fresh = e.handle(e.find("fresh").unwrap());
    assert!(fresh != a && fresh != d1, "a new object gets a new handle");
    // a leaves the configuration while it starts: kept, and still a.
    reload(&mut e, config(vec![object("fresh", "/bin/fresh", 0)]));
    let i = e.resolve(a).unwrap();
    assert_eq!((e.config().objects[i].id.as_str(), e.object(i).removed), ("a", true));
    assert_eq!(e.resolve(fresh), e.find("fresh"));
    e.exit(e.pid_of("/bin/a"), 1);
    assert_eq!(e.state("a"), State::Failed);
    assert_eq!(e.resolve(a), Some(i), "down, but only the next reload drops it");
    reload(&mut e, config(vec![object("fresh", "/bin/fresh", 0)]));
    assert_eq!(e.resolve(a), None);
    // Back under the same ID, it is another object: its old handle stays dead.
    reload(&mut e, config(vec![object("a", "/bin/a", 0), object("fresh", "/bin/fresh", 0)]));
    assert_eq!(e.resolve(a), None);
    let again = e.handle(e.find("a").unwrap());
    assert!(again != a && again != fresh && again != d1);
}

/// A reload makes the new table of states in the old one's place (here the
/// objects reordered, one gone, one new): not a second table beside it,
/// whose slot's pages PID 1 kept (docs/ARCHITECTURE.md, "PID 1's memory,
/// page by page"). Each state is where its object is.
#[test]
fn a_reload_makes_the_table_of_states_in_the_old_ones_place() {
    let mut e = booted(config(vec![object("a", "/bin/a", 0), object("b", "/bin/b", 0), object("c", "/bin/c", 0)]));
    let table = e.objects().as_ptr();
    let [a, b, c] = [0, 1, 2].map(|i| e.handle(i));
    e.start(0).unwrap();
    reload(&mut e, config(vec![object("c", "/bin/c", 0), object("new", "/bin/new", 0), object("a", "/bin/a", 0)]));
    assert_eq!(e.objects().as_ptr(), table);
    assert_eq!([a, b, c].map(|h| e.resolve(h)), [Some(2), None, Some(0)]);
    assert_eq!([e.state("c"), e.state("new"), e.state("a")], [State::Stopped, State::Stopped, State::Starting]);
    assert!(![a, b, c].contains(&e.handle(1)), "the new object has a handle of its own");
}

/// An object's note moves with its state at a reload, whatever index the
/// new table gives it: kept only until it stops (after the configured
/// objects), then in a table of more objects, then of fewer; no other
/// object gets it.
#[test]
fn a_note_follows_its_object_across_reloads() {
    let (mut e, _, pid) = dead_with_a_member_left();
    let note = format!("process exited (exit code 1); ending what is left in its process group {pid}");
    let notes = |e: &Engine<Fake>| e.config().objects.iter().enumerate().map(|(i, o)| (o.id.to_string(), e.note(i).to_string())).collect::<Vec<_>>();
    let quiet = |id: &str| (id.to_string(), String::new());
    reload(&mut e, config(vec![object("a", "/bin/a", 0)]));
    assert_eq!(notes(&e), [quiet("a"), ("s".to_string(), note.clone())]);
    reload(&mut e, config(vec![object("a", "/bin/a", 0), object("b", "/bin/b", 0), object("c", "/bin/c", 0), object("s", "/bin/s", 0)]));
    assert_eq!(notes(&e), [quiet("a"), quiet("b"), quiet("c"), ("s".to_string(), note.clone())]);
    reload(&mut e, config(vec![object("s", "/bin/s", 0)]));
    assert_eq!(notes(&e), [("s".to_string(), note)]);
}

#[test]
fn startobj_and_skipobj_name_the_same_objects_after_a_reload_during_boot() {
    let fork = |id: &str, priority| with(object(id, &format!("/bin/{id}"), priority), |o| o.fork = true);
    let mut e = engine(config(vec![object("d1", "/bin/d1", 0), object("hold", "/bin/hold", 1), fork("x", 0), fork("s", 2)]));
    e.boot(&BootOptions { start: vec!["x".into()], skip: vec!["s".into()], ..Default::default() });
    assert_eq!(e.spawned(), ["/bin/hold"]);
    // Every index changes: d1 goes, the order is reversed, late is new.
    reload(&mut e, config(vec![fork("late", 2), fork("s", 2), fork("x", 0), object("hold", "/bin/hold", 1)]));
    e.exit(e.pid_of("/bin/hold"), 0);
    assert_eq!(e.spawned(), ["/bin/hold", "/bin/late", "/bin/x"]);
    assert_eq!(e.state("s"), State::Stopped);
    assert_eq!(e.take_request(), Some(SystemRequest::Ready));
}

#[test]
fn a_boot_whose_runlevel_a_reload_removes_still_ends() {
    let fork = |id: &str| with(object(id, &format!("/bin/{id}"), 0), |o| o.fork = true);
    let mut e = engine(config(vec![object("hold", "/bin/hold", 1), fork("x")]));
    e.boot(&BootOptions { start: vec!["x".into()], ..Default::default() });
    let mut other = config(vec![with(object("hold", "/bin/hold", 1), |_| {}), fork("x")]);
    other.runlevels.retain(|r| r.name != "default");
    other.runlevels.push(Runlevel { name: "single".into(), inherits: vec![] });
    other.globals.default_runlevel = "single".into();
    for o in &mut other.objects {
        o.runlevels = "single".into();
    }
    reload(&mut e, other);
    assert_eq!(e.phase(), Phase::Up);
    assert_eq!(e.take_request(), Some(SystemRequest::Ready));
    assert_eq!(e.spawned(), ["/bin/hold", "/bin/x"]);
}

#[test]
fn a_removed_object_keeps_its_runlevels_when_a_reload_renumbers_them() {
    let in_rl = |id: &str, rls: &[&str]| {
        let mut o = with(object(id, &format!("/bin/{id}"), 1), |o| o.fork = true);
        o.runlevels = rls.join(" ").as_str().into();
        o
    };
    // Runlevels b (bit 0) and default (bit 1).
    let mut e = booted(config(vec![in_rl("keep", &["default"]), in_rl("gone", &["b"])]));
    let g = e.find("gone").unwrap();
    e.start(g).unwrap();
    // Now a (bit 0), b (bit 1), default (bit 2); gone is kept while it runs.
    reload(&mut e, config(vec![in_rl("keep", &["a", "b", "default"])]));
    let g = e.find("gone").unwrap();
    assert!(e.object(g).removed);
    assert_eq!(e.runlevel_names(g).collect::<Vec<_>>(), ["b"]);
}

#[test]
fn a_shutdown_delay_that_does_not_fit_is_refused_not_wrapped() {
    let mut e = booted(config(vec![object("a", "/bin/a", 1)]));
    e.os.now = 5_000;
    while e.take_request().is_some() {}
    assert!(e.schedule_shutdown(Some((Power::Poweroff, u64::MAX))).is_err());
    assert!(e.schedule_shutdown(Some((Power::Poweroff, LATEST_DEADLINE_MS - 4_999))).is_err());
    assert_eq!(e.scheduled_shutdown(), None);
    assert_eq!(e.take_request(), None);
    assert!(e.schedule_shutdown(Some((Power::Reboot, LATEST_DEADLINE_MS - 5_000))).is_ok());
    assert_eq!(e.scheduled_shutdown(), Some((LATEST_DEADLINE_MS, Power::Reboot)));
}

/// FORK AUTORESTART object `s` with STOPTIMEOUT 3 s, running; its main
/// process dies on its own and leaves a member in its group. Returns the
/// engine, the object's index and the main pid.
fn dead_with_a_member_left() -> (Engine<Fake>, usize, Pid) {
    let s = with(object("s", "/bin/s", 1), |o| {
        o.fork = true;
        o.autorestart = true;
        o.stop_timeout = Some(3);
    });
    // A runlevel `s` is not in.
    let mut elsewhere = object("t", "/bin/t", 1);
    elsewhere.runlevels = "other".into();
    let mut e = booted(config(vec![s, elsewhere]));
    let i = e.find("s").unwrap();
    let pid = e.pid_of("/bin/s");
    e.os.leaderless.insert(pid);
    e.exit(pid, 1);
    (e, i, pid)
}

#[test]
fn a_dead_process_group_is_ended_before_the_restart() {
    let (mut e, i, pid) = dead_with_a_member_left();
    // Not down yet: the group gets TERMSIGNAL and is waited for.
    assert_eq!(e.state("s"), State::Stopping);
    assert_eq!(e.os.group_signals, [(pid, libc::SIGTERM)]);
    assert_eq!(e.note(i), format!("process exited (exit code 1); ending what is left in its process group {pid}"));
    // However long it takes, nothing new starts beside it.
    e.wait(2_000);
    assert_eq!(e.spawned(), ["/bin/s"]);
    e.os.leaderless.remove(&pid);
    e.signaled(GROUP_MEMBER, libc::SIGTERM);
    // Gone: now the usual AUTORESTART, its backoff counted from here.
    assert_eq!(e.state("s"), State::Restarting);
    assert_eq!(e.note(i), "process exited (exit code 1); what it left in its process group ended on TERMSIGNAL");
    e.wait(object::FIRST_BACKOFF_MS);
    assert_eq!(e.spawned(), ["/bin/s", "/bin/s"]);
    assert_eq!(e.state("s"), State::Running);
    assert_eq!(e.os.group_signals, [(pid, libc::SIGTERM)]);
}

#[test]
fn a_dead_process_group_member_that_ignores_termsignal_is_killed_after_stoptimeout() {
    let (mut e, i, pid) = dead_with_a_member_left();
    e.wait(2_999);
    assert_eq!(e.os.group_signals, [(pid, libc::SIGTERM)]);
    e.wait(1);
    assert_eq!(e.os.group_signals, [(pid, libc::SIGTERM), (pid, libc::SIGKILL)]);
    assert_eq!(e.state("s"), State::Stopping);
    e.os.leaderless.remove(&pid);
    e.signaled(GROUP_MEMBER, libc::SIGKILL);
    assert_eq!(e.state("s"), State::Restarting);
    assert_eq!(e.note(i), "what the dead process left in its process group did not end in time: killed");
    e.wait(object::FIRST_BACKOFF_MS);
    assert_eq!(e.state("s"), State::Running);
}

#[test]
fn a_dead_process_group_that_survives_sigkill_fails_and_is_forgotten() {
    let (mut e, i, _) = dead_with_a_member_left();
    e.wait(3_000 + KILL_WAIT_MS);
    // Given up on, as a stop gives up: AUTORESTART goes on (counted a failure).
    assert_eq!(e.state("s"), State::Restarting);
    assert_eq!(e.note(i), "still running after SIGKILL");
    assert!(e.object(i).leaderless_groups.is_empty());
    assert!(!e.object(i).ending_dead_group);
}

#[test]
fn a_process_that_dies_with_an_empty_group_is_down_at_once() {
    let mut e = booted(config(vec![with(object("s", "/bin/s", 1), |o| o.fork = true)]));
    let pid = e.pid_of("/bin/s");
    e.exit(pid, 0);
    assert_eq!(e.state("s"), State::Stopped);
    assert_eq!(e.os.group_signals, []);
}

#[test]
fn a_stop_while_a_dead_process_group_ends_cancels_the_restart() {
    let (mut e, i, pid) = dead_with_a_member_left();
    e.stop(i).unwrap();
    assert_eq!(e.state("s"), State::Stopping);
    e.os.leaderless.remove(&pid);
    e.signaled(GROUP_MEMBER, libc::SIGTERM);
    assert_eq!(e.state("s"), State::Failed, "the process had exited with status 1");
    e.wait(60_000);
    assert_eq!(e.spawned(), ["/bin/s"]);
}

#[test]
fn a_restart_while_a_dead_process_group_ends_starts_once_it_is_gone() {
    let (mut e, i, pid) = dead_with_a_member_left();
    e.restart(i).unwrap();
    assert_eq!(e.spawned(), ["/bin/s"]);
    e.os.leaderless.remove(&pid);
    e.signaled(GROUP_MEMBER, libc::SIGTERM);
    assert_eq!(e.spawned(), ["/bin/s", "/bin/s"]);
    assert_eq!(e.state("s"), State::Running);
    assert!(!e.object(i).restart_after_stop);
}

#[test]
fn a_shutdown_waits_for_a_dead_process_group_and_restarts_nothing() {
    let (mut e, _, pid) = dead_with_a_member_left();
    e.shutdown(Power::Reboot);
    assert_eq!(e.state("s"), State::Stopping);
    e.os.leaderless.remove(&pid);
    e.signaled(GROUP_MEMBER, libc::SIGTERM);
    assert_eq!(e.state("s"), State::Failed);
    e.wait(60_000);
    assert_eq!(e.spawned(), ["/bin/s"]);
}

#[test]
fn a_runlevel_switch_while_a_dead_process_group_ends_restarts_nothing() {
    let (mut e, _, pid) = dead_with_a_member_left();
    e.switch_runlevel("other").unwrap();
    e.os.leaderless.remove(&pid);
    e.signaled(GROUP_MEMBER, libc::SIGTERM);
    assert_eq!(e.state("s"), State::Failed);
    e.wait(60_000);
    assert_eq!(e.spawned(), ["/bin/s", "/bin/t"]);
    assert_eq!(e.runlevel(), Some("other"));
}

#[test]
fn a_service_daemon_left_in_its_starters_group_is_followed_not_ended() {
    let mut e = double_forked_service();
    // The intermediate (500) led the group the daemon (501) is in.
    e.os.leaderless.insert(500);
    e.exit(500, 0);
    let i = e.find("d").unwrap();
    assert_eq!((e.state("d"), e.object(i).main_pid), (State::Running, Some(501)));
    assert_eq!(e.os.group_signals, []);
}

#[test]
fn a_dead_console_objects_leftovers_and_group_end_before_the_restart() {
    let mut o = console_object("vac1");
    o.options.autorestart = true;
    let mut e = booted(config(vec![o]));
    e.wait(60_000);
    let procserv = e.os.spawned[0].0;
    // procServ dies; its IOC (orphaned to us) is in its group.
    e.os.alive.insert(900);
    e.os.marked.insert(900, (1, "IOCINIT_OBJECT=vac1".into()));
    e.os.leaderless.insert(procserv);
    e.signaled(procserv, libc::SIGKILL);
    assert!(e.os.killed.contains(&(900, libc::SIGKILL)), "killed by ownership at once");
    assert_eq!(e.state("vac1"), State::Stopping);
    e.wait(1_000);
    assert_eq!(e.spawned().len(), 1, "no new procServ while its group lives");
    e.os.leaderless.remove(&procserv);
    e.signaled(900, libc::SIGKILL);
    // It ran long enough to restart at once.
    assert_eq!(e.spawned().len(), 2);
    assert_eq!(e.state("vac1"), State::Running);
}

#[test]
fn ctrl_alt_del_kills_the_hung_start_then_a_second_press_within_5_s_reboots() {
    let mut e = engine(config(vec![object("hung", "/bin/hung", 1), object("next", "/bin/next", 2), object("last", "/bin/last", 3)]));
    e.boot(&BootOptions::default());
    let hung = e.pid_of("/bin/hung");
    e.ctrl_alt_del();
    // The job is killed, not the system.
    assert_eq!(e.os.group_killed, [(hung, libc::SIGKILL)]);
    assert_eq!(e.phase(), Phase::Booting);
    e.signaled(hung, libc::SIGKILL);
    assert_eq!((e.state("hung"), e.state("next")), (State::Failed, State::Starting));
    // Pressed again more than 5 s later: again the current job.
    e.wait(5_000);
    e.ctrl_alt_del();
    let next = e.pid_of("/bin/next");
    assert_eq!(e.os.group_killed.last(), Some(&(next, libc::SIGKILL)));
    e.signaled(next, libc::SIGKILL);
    assert_eq!(e.state("last"), State::Starting);
    // Within 5 s: a reboot.
    e.wait(4_999);
    e.ctrl_alt_del();
    assert_eq!(e.phase(), Phase::ShuttingDown(Power::Reboot));
}

#[test]
fn ctrl_alt_del_when_idle_reboots_and_in_a_shutdown_kills_the_hung_stop() {
    let mut o = with(object("svc", "/bin/svc", 1), |o| {
        o.fork = true;
        o.stop_timeout = Some(600);
    });
    o.stop = StopMethod::Command("/bin/stopper".into());
    let mut e = booted(config(vec![o]));
    let i = e.find("svc").unwrap();
    let svc = e.pid_of("/bin/svc");
    e.shutdown(Power::Poweroff);
    let stopper = e.pid_of("/bin/stopper");
    assert_eq!(e.state("svc"), State::Stopping);
    // Twice, quickly: a shutdown is not turned into a reboot.
    for _ in 0..2 {
        e.ctrl_alt_del();
    }
    assert_eq!(e.phase(), Phase::ShuttingDown(Power::Poweroff));
    assert!(e.os.group_killed.contains(&(stopper, libc::SIGKILL)) && e.os.group_killed.contains(&(svc, libc::SIGKILL)), "{:?}", e.os.group_killed);
    e.signaled(stopper, libc::SIGKILL);
    e.signaled(svc, libc::SIGKILL);
    assert_eq!(e.state("svc"), State::Stopped);
    assert_eq!(e.object(i).outcome, Some(Outcome::Fail), "the stop command was killed");

    // Idle: a reboot at once.
    let mut e = booted(config(vec![with(object("svc", "/bin/svc", 1), |o| o.fork = true)]));
    assert_eq!(e.phase(), Phase::Up);
    e.ctrl_alt_del();
    assert_eq!(e.phase(), Phase::ShuttingDown(Power::Reboot));
}

#[test]
fn setcad_asks_once_for_the_kernel_setting_however_often_it_changes() {
    let mut e = booted(config(vec![object("a", "/bin/a", 1)]));
    while e.take_request().is_some() {}
    for on in [true, false, true, true] {
        e.set_cad(on);
    }
    assert!(e.cad_enabled());
    assert!(matches!(e.take_request(), Some(SystemRequest::ApplyCad)));
    assert!(e.take_request().is_none(), "one request, never a full queue that would drop a power request");
}

#[test]
fn an_object_for_another_host_is_not_started_and_says_why() {
    let mut c = config(vec![object("here", "/bin/here", 1), object("other", "/bin/other", 1)]);
    c.objects[0].rare_mut().host = Some("TESTHOST".into());
    c.objects[1].rare_mut().host = Some("board7".into());
    let mut e = booted(c);
    assert_eq!(e.spawned(), ["/bin/here"], "the host name matches in any letter case");
    let i = e.find("other").unwrap();
    assert_eq!(e.state("other"), State::Stopped);
    assert_eq!(e.note(i), "not started: IOC_HOST is board7, this host is testhost");
    // Asked by hand: the same, and nothing runs.
    assert_eq!(e.start(i), Ok(()));
    assert_eq!((e.state("other"), e.object(i).outcome), (State::Stopped, Some(Outcome::Fail)));
    assert_eq!(e.spawned(), ["/bin/here"]);
}

#[test]
fn the_state_directory_is_made_before_the_prestart_and_a_refusal_fails_the_start() {
    let mut o = object("s", "/bin/s", 1);
    o.rare_mut().prestart = Some("/bin/pre".into());
    o.rare_mut().state_directory = Some("/var/lib/s".into());
    let mut e = booted(config(vec![o]));
    let uid = nix::unistd::geteuid().as_raw();
    let gid = nix::unistd::getegid().as_raw();
    let helper = format!("iocinit-statedir /var/lib/s {uid} {gid}");
    assert_eq!(e.spawned(), [helper.as_str()]);
    assert_eq!(e.state("s"), State::Prestarting);
    e.exit(e.pid_of(&helper), 0);
    assert_eq!(e.spawned(), [helper.as_str(), "/bin/pre"]);
    e.exit(e.pid_of("/bin/pre"), 0);
    assert_eq!(e.state("s"), State::Starting);
    e.exit(e.pid_of("/bin/s"), 1);
    // Made again before every start; a refusal is the start's failure.
    let i = e.find("s").unwrap();
    assert_eq!(e.start(i), Ok(()));
    e.exit(e.pid_of(&helper), crate::statedir::Refusal::Symlink as u8);
    assert_eq!(e.state("s"), State::Failed);
    assert_eq!(
        e.note(i),
        "state directory /var/lib/s: a symbolic link on the path: expected directories only"
    );
    assert_eq!(e.spawned().iter().filter(|c| **c == "/bin/s").count(), 1, "not started after the refusal");
}

#[test]
fn a_stop_while_the_state_directory_is_made_ends_its_helper_and_nothing_starts() {
    let mut o = object("s", "/bin/s", 1);
    o.rare_mut().state_directory = Some("/var/lib/s".into());
    o.stop = StopMethod::Pid;
    let mut e = booted(config(vec![o]));
    let helper = e.os.spawned[0].0;
    let i = e.find("s").unwrap();
    assert_eq!(e.stop(i), Ok(()));
    assert_eq!(e.state("s"), State::Stopping);
    assert!(e.os.group_killed.contains(&(helper, libc::SIGTERM)), "{:?}", e.os.group_killed);
    e.signaled(helper, libc::SIGTERM);
    assert_eq!(e.state("s"), State::Stopped);
    assert_eq!(e.os.spawned.len(), 1, "the start command never ran: {:?}", e.spawned());
}
