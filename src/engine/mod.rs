//! The supervisor engine: every object's lifecycle, runlevels, boot and
//! shutdown sequencing, driven only by events — a child exited, a deadline
//! passed, a request arrived. It never blocks and never waits for a child: a
//! start is a state advanced by events, so a hung start command never freezes
//! control, shutdown or other starts.
//!
//! The engine reaches the OS only through [`os::Os`]; the same engine runs as
//! PID 1, under `--local`, and in unit tests with a fake. PID-1-only work
//! (mounts, reboot(2), the emergency shell) is asked for through
//! [`SystemRequest`]s that the caller carries out; the engine never calls it.
//!
//! After construction nothing here allocates: plans are prepared at load, the
//! state lives in fixed-size fields, sequencing scans the object table.

pub mod object;
pub mod os;
pub mod plan;
pub mod status;

use std::ffi::CString;

use crate::config::{Config, ExitResult, StopMethod};
use crate::spawn::{self, Redirect};
use crate::sys::{ExitStatus, Pid};
use object::{backoff_ms, Cause, Helper, ObjState, Outcome, State, CRASH_LIMIT, FAST_FAILURE_MS};
use os::Os;
use plan::{ObjectPlan, OutputPlan};
use status::StatusFormat;

/// Default seconds to wait for a stopped object's process (Epoch's STOPTIMEOUT).
pub const DEFAULT_STOP_TIMEOUT_S: u32 = 10;
/// After SIGKILL, how long to wait for the reap before giving up.
const KILL_WAIT_MS: u64 = 2_000;
/// How long ObjectPIDFile may take to name a live process.
const PIDFILE_WAIT_MS: u64 = 30_000;
/// SERVICE: how long, and how often, to look for the daemon after the start
/// command ended (one caught inside its execve shows no environment).
const SERVICE_WAIT_MS: u64 = 500;
const SERVICE_POLL_MS: u64 = 20;
/// Shutdown: grace after SIGTERM to everything, then after SIGKILL.
const TERM_GRACE_MS: u64 = 5_000;
const KILL_GRACE_MS: u64 = 2_000;
/// A console object restarting waits this long for leftovers to be reaped.
const LEFTOVER_WAIT_MS: u64 = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Power {
    Halt,
    Poweroff,
    Reboot,
}

impl Power {
    pub fn name(self) -> &'static str {
        match self {
            Power::Halt => "halt",
            Power::Poweroff => "power off",
            Power::Reboot => "reboot",
        }
    }
}

/// What the engine asks its caller (PID 1 or `--local`) to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SystemRequest {
    /// Everything is stopped and signalled: sync, unmount, reboot(2) (or exit
    /// under --local).
    Power(Power),
    /// A critical failure: run an emergency shell, then call
    /// [`Engine::resume`].
    Emergency(object::Note),
    /// Boot reached its runlevel.
    Ready,
}

/// Where the system as a whole is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Booting,
    Up,
    ShuttingDown(Power),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Job {
    Idle,
    /// Start the objects of `runlevel`, wave by wave of start priority.
    Start { runlevel: usize, priority: u32, cause: Cause },
    /// Runlevel change: stop what the target runlevel does not hold.
    StopForRunlevel { target: usize, priority: u32 },
    /// Stop objects by stop priority, then everything.
    Shutdown { power: Power, step: ShutdownStep },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ShutdownStep {
    Objects(u32),
    Term(u64),
    Kill(u64),
}

/// Why a request was refused; Display is the message the CLI shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    NoSuchObject,
    AlreadyStarted,
    NotRunning,
    Busy,
    HaltOnly,
    NoReload,
    ShuttingDown,
    NoSuchRunlevel,
    Removed,
}

impl core::fmt::Display for Refusal {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Refusal::NoSuchObject => "no such object",
            Refusal::AlreadyStarted => "already started",
            Refusal::NotRunning => "not running",
            Refusal::Busy => "busy (starting or stopping)",
            Refusal::HaltOnly => "HALTONLY objects only run at shutdown",
            Refusal::NoReload => "no ObjectReloadCommand",
            Refusal::ShuttingDown => "the system is shutting down",
            Refusal::NoSuchRunlevel => "no such runlevel",
            Refusal::Removed => "removed from the configuration",
        })
    }
}

/// Boot options from the kernel command line (or `iocinit` flags).
#[derive(Debug, Clone, Default)]
pub struct BootOptions {
    pub runlevel: Option<String>,
    /// `startobj=`: started after the runlevel is reached.
    pub start: Vec<String>,
    /// `skipobj=`: not started at boot.
    pub skip: Vec<String>,
}

pub struct Engine<O: Os> {
    pub os: O,
    config: Config,
    plans: Vec<ObjectPlan>,
    objs: Vec<ObjState>,
    /// Per runlevel: its bit and the bits of the runlevels it inherits.
    runlevel_masks: Vec<u64>,
    runlevel: Option<usize>,
    phase: Phase,
    job: Job,
    /// A critical failure paused the job until [`Engine::resume`].
    paused: bool,
    requests: heapless::Deque<SystemRequest, 4>,
    format: StatusFormat,
    boot_start: Vec<usize>,
    boot_skip: Vec<usize>,
    /// Ctrl-Alt-Del handled by us (DisableCAD true).
    cad: bool,
    scheduled_power: Option<(u64, Power)>,
    state_file: Option<CString>,
}

fn runlevel_bit(config: &Config, name: &str) -> u64 {
    config.runlevels.iter().position(|r| r.name == name).filter(|&i| i < 64).map(|i| 1u64 << i).unwrap_or(0)
}

impl<O: Os> Engine<O> {
    /// Builds an engine for `config` with prepared `plans`. `state_file` keeps
    /// enable/disable/objrl/RUNONCE across boots (None: not persisted).
    pub fn new(os: O, config: Config, plans: Vec<ObjectPlan>, state_file: Option<CString>) -> Self {
        let mut problems = Vec::new();
        let format = StatusFormat::from_config(&config, &mut problems);
        for p in &problems {
            log::warn!("{p}");
        }
        let runlevel_masks = config
            .runlevels
            .iter()
            .map(|r| r.inherits.iter().fold(runlevel_bit(&config, &r.name), |m, i| m | runlevel_bit(&config, i)))
            .collect();
        let objs = config
            .objects
            .iter()
            .map(|o| ObjState::new(o.enabled, o.runlevels.iter().fold(0, |m, r| m | runlevel_bit(&config, r))))
            .collect();
        let cad = config.globals.disable_cad;
        let mut engine = Engine {
            os,
            config,
            plans,
            objs,
            runlevel_masks,
            runlevel: None,
            phase: Phase::Booting,
            job: Job::Idle,
            paused: false,
            requests: heapless::Deque::new(),
            format,
            boot_start: Vec::new(),
            boot_skip: Vec::new(),
            cad,
            scheduled_power: None,
            state_file,
        };
        engine.load_state();
        engine
    }

    // ---- read access ------------------------------------------------------

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn plans(&self) -> &[ObjectPlan] {
        &self.plans
    }

    pub fn objects(&self) -> &[ObjState] {
        &self.objs
    }

    pub fn object(&self, i: usize) -> &ObjState {
        &self.objs[i]
    }

    pub fn find(&self, id: &str) -> Option<usize> {
        self.config.objects.iter().position(|o| o.id == id)
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    pub fn runlevel(&self) -> Option<&str> {
        self.runlevel.map(|r| self.config.runlevels[r].name.as_str())
    }

    pub fn cad_enabled(&self) -> bool {
        self.cad
    }

    pub fn set_cad(&mut self, on: bool) {
        self.cad = on;
    }

    pub fn take_request(&mut self) -> Option<SystemRequest> {
        self.requests.pop_front()
    }

    /// Whether object `i` belongs to runlevel `r` (with inheritance).
    pub fn in_runlevel(&self, i: usize, r: usize) -> bool {
        self.objs[i].runlevels & self.runlevel_masks[r] != 0
    }

    /// The runlevel names object `i` belongs to directly.
    pub fn runlevel_names(&self, i: usize) -> impl Iterator<Item = &str> {
        let mask = self.objs[i].runlevels;
        self.config.runlevels.iter().enumerate().filter(move |(b, _)| *b < 64 && mask & (1 << b) != 0).map(|(_, r)| r.name.as_str())
    }

    /// Not in a transitional state: a waiting client may be answered.
    pub fn settled(&self, i: usize) -> bool {
        !self.objs[i].state.is_transitional()
    }

    /// The process of an IOC under its procServ (procServ's child).
    pub fn console_child(&mut self, i: usize) -> Option<Pid> {
        let main = self.objs[i].main_pid?;
        self.config.objects[i].console.as_ref()?;
        let mut child = None;
        self.os.for_each_child(main, &mut |p| {
            if child.is_none() {
                child = Some(p)
            }
        });
        child
    }

    /// The earliest deadline of any object, job or scheduled shutdown.
    pub fn next_deadline(&self) -> Option<u64> {
        let objects = self.objs.iter().filter_map(|o| o.deadline);
        let job = match self.job {
            Job::Shutdown { step: ShutdownStep::Term(d) | ShutdownStep::Kill(d), .. } => Some(d),
            _ => None,
        };
        objects.chain(job).chain(self.scheduled_power.map(|(d, _)| d)).min()
    }

    // ---- events -----------------------------------------------------------

    /// Starts the boot: the runlevel from `opts` or DefaultRunlevel.
    pub fn boot(&mut self, opts: &BootOptions) {
        let name = opts.runlevel.as_deref().unwrap_or(&self.config.globals.default_runlevel);
        let runlevel = match self.config.runlevels.iter().position(|r| r.name == name) {
            Some(r) => r,
            None => {
                log::error!("runlevel \"{name}\" is not defined; using the default");
                self.config.runlevels.iter().position(|r| r.name == self.config.globals.default_runlevel).unwrap_or(0)
            }
        };
        for (ids, list) in [(&opts.start, &mut self.boot_start), (&opts.skip, &mut self.boot_skip)] {
            for id in ids {
                match self.config.objects.iter().position(|o| &o.id == id) {
                    Some(i) => list.push(i),
                    None => log::warn!("kernel command line names unknown object \"{id}\""),
                }
            }
        }
        self.phase = Phase::Booting;
        if self.config.runlevels.is_empty() {
            self.finish_boot();
            return;
        }
        self.runlevel = Some(runlevel);
        self.job = Job::Start { runlevel, priority: 0, cause: Cause::Boot };
        self.advance();
    }

    /// A reaped child. Unknown pids (FORKN commands, orphans) only matter to
    /// console objects waiting for their leftovers and to shutdown.
    pub fn child_exited(&mut self, pid: Pid, status: ExitStatus) {
        if let Some(i) = self.objs.iter().position(|o| o.main_pid == Some(pid)) {
            self.main_exited(i, status);
        } else if let Some(i) = self.objs.iter().position(|o| o.helper.map(|(_, p)| p) == Some(pid)) {
            self.helper_exited(i, status);
        } else {
            // An orphan or an untracked command: a stopping console object may
            // have been waiting for exactly this leftover.
            for i in 0..self.objs.len() {
                if self.objs[i].state == State::Stopping {
                    self.maybe_finish_stop(i);
                }
            }
        }
        self.advance();
    }

    /// Deadlines that have passed.
    pub fn timer(&mut self) {
        let now = self.os.now_ms();
        for i in 0..self.objs.len() {
            if self.objs[i].deadline.is_some_and(|d| d <= now) {
                self.objs[i].deadline = None;
                self.object_deadline(i);
            }
        }
        if let Some((at, power)) = self.scheduled_power {
            if at <= now {
                self.scheduled_power = None;
                self.shutdown(power);
            }
        }
        if let Job::Shutdown { power, step: ShutdownStep::Term(d) | ShutdownStep::Kill(d) } = self.job {
            if d <= now {
                self.shutdown_step_expired(power);
            }
        }
        self.advance();
    }

    /// After an emergency shell: continue what was paused.
    pub fn resume(&mut self) {
        self.paused = false;
        self.advance();
    }

    // ---- verbs --------------------------------------------------------------

    pub fn start(&mut self, i: usize) -> Result<(), Refusal> {
        if matches!(self.phase, Phase::ShuttingDown(_)) {
            return Err(Refusal::ShuttingDown);
        }
        let st = &mut self.objs[i];
        if st.state == State::Crashed || st.state == State::Failed {
            st.fast_failures = 0;
        }
        st.restarts = 0;
        let r = self.begin_start(i, Cause::Manual);
        self.advance();
        r
    }

    pub fn stop(&mut self, i: usize) -> Result<(), Refusal> {
        let r = self.begin_stop(i, Cause::Manual);
        self.advance();
        r
    }

    /// Stop then start again; the start follows when the stop completes.
    pub fn restart(&mut self, i: usize) -> Result<(), Refusal> {
        if matches!(self.phase, Phase::ShuttingDown(_)) {
            return Err(Refusal::ShuttingDown);
        }
        // Waiting out an AUTORESTART backoff has nothing to stop: start now.
        if self.objs[i].state.is_down() || self.objs[i].state == State::Restarting {
            return self.start(i);
        }
        self.objs[i].restart_after_stop = true;
        let r = self.begin_stop(i, Cause::Manual);
        if r.is_err() {
            self.objs[i].restart_after_stop = false;
        }
        self.advance();
        r
    }

    pub fn reload(&mut self, i: usize) -> Result<(), Refusal> {
        let object = &self.config.objects[i];
        let st = &self.objs[i];
        if !matches!(st.state, State::Running | State::Done) {
            return Err(Refusal::NotRunning);
        }
        match &object.reload {
            None => Err(Refusal::NoReload),
            Some(crate::config::ReloadMethod::Signal(sig)) => {
                let pid = st.main_pid.ok_or(Refusal::NotRunning)?;
                self.os.kill(pid, *sig).map_err(|_| Refusal::NotRunning)
            }
            Some(crate::config::ReloadMethod::Command(_)) => {
                if st.helper.is_some() {
                    return Err(Refusal::Busy);
                }
                let Some(cmd) = self.plans[i].reload.as_ref() else { return Err(Refusal::NoReload) };
                match self.os.spawn(cmd, &root_options(&self.plans[i])) {
                    Ok(pid) => {
                        self.objs[i].helper = Some((Helper::Reload, pid));
                        Ok(())
                    }
                    Err(e) => {
                        log::error!("{}: reload: {e}", object.id);
                        Err(Refusal::NotRunning)
                    }
                }
            }
        }
    }

    /// SIGKILL to the object's processes, without its stop command and
    /// without an automatic restart.
    pub fn kill(&mut self, i: usize) -> Result<(), Refusal> {
        let Some(pid) = self.objs[i].main_pid else { return Err(Refusal::NotRunning) };
        self.objs[i].wanted = false;
        let _ = self.os.kill(pid, libc::SIGKILL);
        self.kill_leftovers(i);
        if self.objs[i].state != State::Stopping {
            self.objs[i].set(State::Stopping);
            self.objs[i].killed = true;
            self.objs[i].deadline = Some(self.os.now_ms() + KILL_WAIT_MS);
        }
        Ok(())
    }

    pub fn set_enabled(&mut self, i: usize, enabled: bool) {
        self.objs[i].enabled = enabled;
        self.save_state();
    }

    /// `objrl ID add|del RUNLEVEL`.
    pub fn set_object_runlevel(&mut self, i: usize, runlevel: &str, member: bool) -> Result<(), Refusal> {
        let bit = runlevel_bit(&self.config, runlevel);
        if bit == 0 {
            return Err(Refusal::NoSuchRunlevel);
        }
        if member {
            self.objs[i].runlevels |= bit;
        } else {
            self.objs[i].runlevels &= !bit;
        }
        self.save_state();
        Ok(())
    }

    /// Switches to another runlevel: stop what it does not hold (PERSISTENT
    /// objects stay), then start what it holds.
    pub fn switch_runlevel(&mut self, name: &str) -> Result<(), Refusal> {
        if matches!(self.phase, Phase::ShuttingDown(_)) {
            return Err(Refusal::ShuttingDown);
        }
        let target = self.config.runlevels.iter().position(|r| r.name == name).ok_or(Refusal::NoSuchRunlevel)?;
        self.runlevel = Some(target);
        self.job = Job::StopForRunlevel { target, priority: 0 };
        self.advance();
        Ok(())
    }

    /// Begins a shutdown now.
    pub fn shutdown(&mut self, power: Power) {
        if matches!(self.phase, Phase::ShuttingDown(_)) {
            return;
        }
        log::info!("system going down for {}", power.name());
        self.phase = Phase::ShuttingDown(power);
        self.scheduled_power = None;
        self.paused = false;
        self.job = Job::Shutdown { power, step: ShutdownStep::Objects(0) };
        self.advance();
    }

    /// `shutdown` with a delay; `None` cancels a pending one.
    pub fn schedule_shutdown(&mut self, power: Option<(Power, u64)>) {
        match power {
            Some((p, 0)) => self.shutdown(p),
            Some((p, ms)) => self.scheduled_power = Some((self.os.now_ms() + ms, p)),
            None => self.scheduled_power = None,
        }
    }

    pub fn scheduled_shutdown(&self) -> Option<(u64, Power)> {
        self.scheduled_power
    }

    // ---- lifecycle ----------------------------------------------------------

    fn begin_start(&mut self, i: usize, cause: Cause) -> Result<(), Refusal> {
        let object = &self.config.objects[i];
        let st = &mut self.objs[i];
        if st.removed {
            return Err(Refusal::Removed);
        }
        if object.options.halt_only {
            return Err(Refusal::HaltOnly);
        }
        match st.state {
            State::Stopping => return Err(Refusal::Busy),
            s if s.is_down() || s == State::Restarting => {}
            _ => return Err(Refusal::AlreadyStarted),
        }
        st.cause = cause;
        st.wanted = true;
        st.prestart_failed = false;
        st.killed = false;
        st.outcome = None;
        st.note.clear();
        // Never two IOCs of one name: whatever is left of a previous procServ
        // and its IOC goes first.
        if object.console.is_some() && self.kill_leftovers(i) > 0 {
            let now = self.os.now_ms();
            let st = &mut self.objs[i];
            st.set(State::Restarting);
            st.deadline = Some(now + LEFTOVER_WAIT_MS);
            return Ok(());
        }
        if let Some(cmd) = &self.plans[i].prestart {
            match self.os.spawn(cmd, &root_options(&self.plans[i])) {
                Ok(pid) => {
                    let st = &mut self.objs[i];
                    st.helper = Some((Helper::Prestart, pid));
                    st.set(State::Prestarting);
                    return Ok(());
                }
                Err(e) => {
                    log::warn!("{}: prestart command: {e}", self.config.objects[i].id);
                    self.objs[i].prestart_failed = true;
                }
            }
        }
        self.launch(i);
        Ok(())
    }

    /// Runs the start command itself.
    fn launch(&mut self, i: usize) {
        let object = &self.config.objects[i];
        let plan = &self.plans[i];
        if let Some(problem) = &plan.start_problem {
            let mut note = object::Note::new();
            let _ = core::fmt::Write::write_str(&mut note, problem);
            self.start_failed(i, format_args!("{note}"));
            return;
        }
        if let Some((new_root, put_old)) = &plan.pivot {
            let result = self.os.pivot_root(new_root, put_old);
            match result {
                Ok(()) => {
                    self.objs[i].set(State::Done);
                    self.start_succeeded(i);
                }
                Err(e) => self.start_failed(i, format_args!("pivot_root: {}", nix::errno::Errno::from_raw(e).desc())),
            }
            return;
        }
        let Some(cmd) = &plan.start else {
            self.start_failed(i, format_args!("no start command"));
            return;
        };
        if object.options.exec {
            let e = self.os.exec(cmd);
            self.start_failed(i, format_args!("exec: {}", nix::errno::Errno::from_raw(e).desc()));
            return;
        }
        if let Some(c) = &plan.console {
            if let Err(e) = self.os.prepare_console(c) {
                self.start_failed(i, format_args!("console directory: {}", nix::errno::Errno::from_raw(e).desc()));
                return;
            }
        }
        let (out, err) = (redirect(&plan.stdout), redirect(&plan.stderr));
        let opts = spawn::Options {
            credentials: plan.credentials.as_ref(),
            cwd: plan.cwd.as_deref(),
            stdin: if plan.stdin_null { Redirect::Null } else { Redirect::Inherit },
            stdout: out,
            stderr: err,
            ..Default::default()
        };
        let pid = match self.os.spawn(cmd, &opts) {
            Ok(pid) => pid,
            Err(e) => {
                let mut note = object::Note::new();
                let _ = core::fmt::Write::write_fmt(&mut note, format_args!("{e}: {}", cmd.path().to_str().unwrap_or("?")));
                self.start_failed(i, format_args!("{note}"));
                return;
            }
        };
        let o = &object.options;
        let now = self.os.now_ms();
        let wall = self.os.wall_secs();
        let st = &mut self.objs[i];
        st.since_ms = now;
        st.since_wall = wall;
        if object.console.is_some() || (o.fork && !o.no_track) {
            st.main_pid = Some(pid);
            if plan.pid_file.is_some() && object.console.is_none() {
                self.wait_pid_file(i);
            } else {
                self.objs[i].set(State::Running);
                self.start_succeeded(i);
            }
        } else if o.fork || o.forkn {
            // FORKN (and FORK with NOTRACK): started, not followed.
            self.objs[i].set(State::Done);
            self.start_succeeded(i);
        } else {
            st.main_pid = Some(pid);
            st.set(State::Starting);
        }
    }

    fn wait_pid_file(&mut self, i: usize) {
        let now = self.os.now_ms();
        let st = &mut self.objs[i];
        st.set(State::WaitPidFile);
        st.pidfile_limit = now + PIDFILE_WAIT_MS;
        st.deadline = Some(now + 50);
    }

    /// A start completed (the object is Running or Done): report it. A
    /// failed prestart or a start command mapped to WARNING makes it a warning.
    fn start_succeeded(&mut self, i: usize) {
        let st = &mut self.objs[i];
        let outcome = if st.prestart_failed || st.outcome == Some(Outcome::Warn) { Outcome::Warn } else { Outcome::Done };
        st.outcome = Some(outcome);
        self.report(i, "Starting", outcome);
        if self.config.objects[i].options.runonce && self.objs[i].cause == Cause::Boot {
            self.objs[i].enabled = false;
            self.save_state();
        }
    }

    fn start_failed(&mut self, i: usize, why: core::fmt::Arguments<'_>) {
        let st = &mut self.objs[i];
        st.set_note(why);
        st.main_pid = None;
        st.outcome = Some(Outcome::Fail);
        log::error!("{}: {}", self.config.objects[i].id, self.objs[i].note);
        self.report(i, "Starting", Outcome::Fail);
        let critical = self.config.objects[i].options.start_fail_critical && self.objs[i].cause == Cause::Boot;
        if self.config.objects[i].options.runonce && self.objs[i].cause == Cause::Boot {
            self.objs[i].enabled = false;
            self.save_state();
        }
        self.after_failure(i);
        if critical {
            let mut note = object::Note::new();
            let _ = core::fmt::Write::write_fmt(
                &mut note,
                format_args!("{} failed to start (STARTFAILCRITICAL)", self.config.objects[i].id),
            );
            self.paused = true;
            let _ = self.requests.push_back(SystemRequest::Emergency(note));
        }
    }

    /// A start failed or a process died: restart (AUTORESTART), or rest.
    fn after_failure(&mut self, i: usize) {
        let now = self.os.now_ms();
        let object = &self.config.objects[i];
        let st = &mut self.objs[i];
        let shutting_down = matches!(self.phase, Phase::ShuttingDown(_));
        if !(object.options.autorestart && st.wanted) || shutting_down || st.removed {
            let clean = st.last_exit.is_some_and(|e| e.success()) && st.outcome != Some(Outcome::Fail);
            st.set(if clean { State::Stopped } else { State::Failed });
            return;
        }
        let ran = now.saturating_sub(st.since_ms);
        if ran >= FAST_FAILURE_MS && st.outcome != Some(Outcome::Fail) {
            st.fast_failures = 0;
        } else {
            st.fast_failures += 1;
        }
        if st.fast_failures >= CRASH_LIMIT {
            st.set(State::Crashed);
            st.set_note(format_args!("crashed: {CRASH_LIMIT} failures in a row, not restarted"));
            log::error!("{}: {}", object.id, st.note);
            return;
        }
        st.restarts += 1;
        let delay = backoff_ms(st.fast_failures);
        st.cause = Cause::AutoRestart;
        if delay == 0 {
            st.set(State::Stopped);
            let _ = self.begin_start(i, Cause::AutoRestart);
        } else {
            log::warn!("{}: restarting in {} ms", object.id, delay);
            st.set(State::Restarting);
            st.deadline = Some(now + delay);
        }
    }

    fn main_exited(&mut self, i: usize, status: ExitStatus) {
        let st = &mut self.objs[i];
        st.main_pid = None;
        st.last_exit = Some(status);
        match st.state {
            State::Starting => {
                let result = match status {
                    ExitStatus::Exited(code) => self.config.objects[i].exit_result(code),
                    ExitStatus::Signaled(_) => ExitResult::Failure,
                };
                match result {
                    ExitResult::Failure => self.start_failed(i, format_args!("start command: {status}")),
                    ExitResult::Success | ExitResult::Warning => {
                        let st = &mut self.objs[i];
                        st.outcome = Some(if result == ExitResult::Warning { Outcome::Warn } else { Outcome::Done });
                        self.command_finished(i);
                    }
                }
            }
            State::Stopping => self.maybe_finish_stop(i),
            State::Running | State::WaitPidFile => {
                let object = &self.config.objects[i];
                let o = &object.options;
                // A classic double-forking daemon may have been caught as its
                // intermediate process; when that one exits, the daemon itself
                // is still there: follow it instead.
                if o.service && !o.no_track && object.console.is_none() && self.plans[i].pid_file.is_none() {
                    if let Some(daemon) = self.find_daemon(i) {
                        log::debug!("{}: now following pid {daemon}", self.config.objects[i].id);
                        self.objs[i].main_pid = Some(daemon);
                        return;
                    }
                }
                let object = &self.config.objects[i];
                log::warn!("{}: process exited ({status})", object.id);
                if object.console.is_some() {
                    self.kill_leftovers(i);
                }
                self.after_failure(i);
            }
            _ => {}
        }
    }

    /// A non-FORK start command succeeded: find what to follow, if anything.
    fn command_finished(&mut self, i: usize) {
        let object = &self.config.objects[i];
        let o = &object.options;
        if self.plans[i].pid_file.is_some() && !o.no_track {
            self.wait_pid_file(i);
            return;
        }
        if o.service && !o.no_track {
            self.objs[i].pidfile_limit = self.os.now_ms() + SERVICE_WAIT_MS;
            self.look_for_daemon(i);
            return;
        }
        self.objs[i].set(State::Done);
        self.start_succeeded(i);
    }

    /// SERVICE: a daemonized service's process was reparented to us and
    /// carries the object's marker. A daemon caught in the middle of its
    /// execve shows no environment for that instant, so until
    /// `pidfile_limit` the object stays Starting (without a process) and
    /// its deadline brings us back here.
    fn look_for_daemon(&mut self, i: usize) {
        if let Some(pid) = self.find_daemon(i) {
            self.objs[i].main_pid = Some(pid);
            self.objs[i].set(State::Running);
            self.start_succeeded(i);
            return;
        }
        let now = self.os.now_ms();
        if now < self.objs[i].pidfile_limit {
            self.objs[i].deadline = Some(now + SERVICE_POLL_MS);
            return;
        }
        log::warn!("{}: SERVICE started but no daemon process was found", self.config.objects[i].id);
        self.objs[i].set(State::Done);
        self.start_succeeded(i);
    }

    /// The process of object `i` that was reparented to the supervisor (a
    /// daemon whose starter exited): the lowest pid among them.
    fn find_daemon(&mut self, i: usize) -> Option<Pid> {
        let me = self.os.self_pid();
        let mut found: Option<Pid> = None;
        self.os.for_each_marked(&self.plans[i].marker, &mut |pid, ppid| {
            if ppid == me && found.is_none_or(|f| pid < f) {
                found = Some(pid);
            }
        });
        found
    }

    fn helper_exited(&mut self, i: usize, status: ExitStatus) {
        let Some((helper, _)) = self.objs[i].helper.take() else { return };
        match helper {
            Helper::Prestart => {
                if !status.success() {
                    log::warn!("{}: prestart command: {status}", self.config.objects[i].id);
                    self.objs[i].prestart_failed = true;
                }
                match self.objs[i].state {
                    State::Prestarting => self.launch(i),
                    // Stopped during its prestart: that was all there was.
                    State::Stopping => self.maybe_finish_stop(i),
                    _ => {}
                }
            }
            Helper::Stop => {
                if !status.success() {
                    self.objs[i].outcome = Some(Outcome::Fail);
                    self.objs[i].set_note(format_args!("stop command: {status}"));
                }
                self.maybe_finish_stop(i);
            }
            Helper::Reload => {
                if !status.success() {
                    log::warn!("{}: reload command: {status}", self.config.objects[i].id);
                }
            }
        }
    }

    fn begin_stop(&mut self, i: usize, cause: Cause) -> Result<(), Refusal> {
        let object = &self.config.objects[i];
        let st = &mut self.objs[i];
        let halt_only_run = object.options.halt_only && cause == Cause::Shutdown;
        match st.state {
            State::Stopping => return Err(Refusal::Busy),
            State::Restarting | State::Crashed | State::Failed if !halt_only_run => {
                st.wanted = false;
                st.set(if st.state == State::Restarting { State::Stopped } else { st.state });
                if object.console.is_some() {
                    self.kill_leftovers(i);
                }
                return Ok(());
            }
            State::Stopped if !halt_only_run => return Err(Refusal::NotRunning),
            _ => {}
        }
        st.wanted = false;
        st.cause = cause;
        st.killed = false;
        st.outcome = Some(Outcome::Done);
        let now = self.os.now_ms();
        let timeout = object.options.stop_timeout.unwrap_or(DEFAULT_STOP_TIMEOUT_S) as u64 * 1000;
        let term = object.options.term_signal.unwrap_or(libc::SIGTERM);
        // A prestart/start still in flight is stopped by signal.
        if let Some((Helper::Prestart, pid)) = st.helper {
            let _ = self.os.kill(pid, term);
        }
        let mut wait_ms = timeout;
        match &object.stop {
            StopMethod::Command(_) if object.console.is_none() => {
                let spawned = match &self.plans[i].stop {
                    Some(cmd) => self.os.spawn(cmd, &root_options(&self.plans[i])),
                    None => Err(spawn::SpawnError { stage: spawn::Stage::Exec, errno: libc::ENOENT }),
                };
                match spawned {
                    Ok(pid) => self.objs[i].helper = Some((Helper::Stop, pid)),
                    Err(e) => {
                        let st = &mut self.objs[i];
                        st.outcome = Some(Outcome::Fail);
                        st.set_note(format_args!("stop command: {e}"));
                        log::error!("{}: {}", object.id, st.note);
                    }
                }
            }
            StopMethod::PidFile(_) if object.console.is_none() => {
                let pid = self.plans[i].stop_pid_file.as_ref().and_then(|p| self.os.read_pid_file(p));
                match pid {
                    Some(pid) => {
                        self.objs[i].main_pid = Some(pid);
                        let _ = self.os.kill(pid, term);
                    }
                    None => {
                        let st = &mut self.objs[i];
                        st.outcome = Some(Outcome::Warn);
                        st.set_note(format_args!("no pid in the pid file"));
                    }
                }
            }
            StopMethod::Killall5 { signal, wait_secs } if object.console.is_none() => {
                self.os.signal_all(signal.unwrap_or(libc::SIGTERM));
                wait_ms = wait_secs.unwrap_or(0) as u64 * 1000;
                let st = &mut self.objs[i];
                st.set(State::Stopping);
                st.killed = true; // nothing to escalate: the deadline ends it
                st.deadline = Some(now + wait_ms);
                if wait_ms == 0 {
                    self.finish_stop(i);
                }
                return Ok(());
            }
            // PID, NONE, and every console object: the signal to the process
            // (for procServ: SIGTERM, on which it SIGKILLs its IOC and exits).
            _ => {
                if let Some(pid) = self.objs[i].main_pid {
                    let _ = self.os.kill(pid, if object.console.is_some() { libc::SIGTERM } else { term });
                }
            }
        }
        let st = &mut self.objs[i];
        st.set(State::Stopping);
        if object.options.no_stop_wait {
            // Not waited for: its exit is reaped later without effect.
            st.main_pid = None;
            st.helper = None;
            self.finish_stop(i);
            return Ok(());
        }
        st.deadline = Some(now + wait_ms);
        self.maybe_finish_stop(i);
        Ok(())
    }

    /// Completes a stop once the stop command, the main process and (for
    /// consoles) every leftover process are gone.
    fn maybe_finish_stop(&mut self, i: usize) {
        let st = &self.objs[i];
        if st.state != State::Stopping || st.helper.is_some() {
            return;
        }
        // KILLALL5 SIG SECS is Epoch's `killall5 -SIG; sleep SECS`: the wait
        // is the point, whatever ends meanwhile.
        let object = &self.config.objects[i];
        if matches!(object.stop, StopMethod::Killall5 { .. }) && object.console.is_none() && st.deadline.is_some() {
            return;
        }
        // A child of ours is cleared when reaped; a pid that is not our child
        // (from a pid file) is gone once kill(0) says so.
        if let Some(pid) = st.main_pid {
            if self.os.pid_exists(pid) {
                return;
            }
            self.objs[i].main_pid = None;
        }
        if self.config.objects[i].console.is_some() && self.kill_leftovers(i) > 0 {
            // Leftovers were signalled: their reaps bring us back here.
            if self.objs[i].deadline.is_none() {
                self.objs[i].deadline = Some(self.os.now_ms() + KILL_WAIT_MS);
            }
            return;
        }
        self.finish_stop(i);
    }

    fn finish_stop(&mut self, i: usize) {
        let options = &self.config.objects[i].options;
        let (runonce, critical) = (options.runonce && options.halt_only, options.stop_fail_critical);
        let st = &mut self.objs[i];
        let outcome = st.outcome.unwrap_or(Outcome::Done);
        let restart = std::mem::take(&mut st.restart_after_stop);
        st.set(State::Stopped);
        st.killed = false;
        if let Some(c) = &self.plans[i].console {
            self.os.clean_console(&c.socket, &c.info);
        }
        self.report(i, "Stopping", outcome);
        let cause = self.objs[i].cause;
        if runonce && cause == Cause::Shutdown {
            self.objs[i].enabled = false;
            self.save_state();
        }
        if outcome == Outcome::Fail && critical && cause == Cause::Shutdown {
            let mut note = object::Note::new();
            let id = &self.config.objects[i].id;
            let _ = core::fmt::Write::write_fmt(&mut note, format_args!("{id} failed to stop (STOPFAILCRITICAL)"));
            self.paused = true;
            let _ = self.requests.push_back(SystemRequest::Emergency(note));
        }
        if restart {
            self.objs[i].restarts = 0;
            let _ = self.begin_start(i, Cause::Manual);
        }
    }

    fn object_deadline(&mut self, i: usize) {
        let now = self.os.now_ms();
        match self.objs[i].state {
            // The start command ended: still looking for a SERVICE's daemon.
            State::Starting if self.objs[i].main_pid.is_none() => self.look_for_daemon(i),
            State::Restarting => {
                self.objs[i].set(State::Stopped);
                let cause = self.objs[i].cause;
                if self.begin_start(i, cause).is_err() {
                    self.objs[i].set(State::Failed);
                }
            }
            State::WaitPidFile => {
                let pid = self.plans[i].pid_file.as_ref().and_then(|p| self.os.read_pid_file(p));
                match pid {
                    Some(pid) if self.os.pid_exists(pid) => {
                        self.objs[i].main_pid = Some(pid);
                        self.objs[i].set(State::Running);
                        self.start_succeeded(i);
                    }
                    _ if now >= self.objs[i].pidfile_limit => {
                        if let Some(pid) = self.objs[i].main_pid.take() {
                            let _ = self.os.kill(pid, libc::SIGTERM);
                        }
                        self.start_failed(i, format_args!("no live pid in ObjectPIDFile after {} s", PIDFILE_WAIT_MS / 1000));
                    }
                    _ => {
                        // Poll quickly at first, then settle at one second.
                        let limit = self.objs[i].pidfile_limit;
                        let waited = (now + PIDFILE_WAIT_MS).saturating_sub(limit);
                        self.objs[i].deadline = Some((now + (waited / 4).clamp(50, 1000)).min(limit));
                    }
                }
            }
            State::Stopping if !self.objs[i].killed => {
                let st = &mut self.objs[i];
                st.killed = true;
                // A stop command that failed stays the reason (and a failure).
                if st.outcome != Some(Outcome::Fail) {
                    st.outcome = Some(Outcome::Warn);
                    st.set_note(format_args!("did not stop in time: killed"));
                }
                log::warn!("{}: did not stop in time; sending SIGKILL", self.config.objects[i].id);
                let (main, helper) = (st.main_pid, st.helper);
                st.deadline = Some(now + KILL_WAIT_MS);
                if let Some(pid) = main {
                    let _ = self.os.kill(pid, libc::SIGKILL);
                }
                if let Some((_, pid)) = helper {
                    let _ = self.os.kill(pid, libc::SIGKILL);
                }
                if self.config.objects[i].console.is_some() {
                    self.kill_leftovers(i);
                }
            }
            State::Stopping => {
                // Killall5 waits end here; after SIGKILL, give up waiting.
                if let Some(pid) = self.objs[i].main_pid {
                    if !self.os.pid_exists(pid) {
                        self.objs[i].main_pid = None;
                    }
                }
                let st = &mut self.objs[i];
                if st.main_pid.is_some() || st.helper.is_some() {
                    st.outcome = Some(Outcome::Fail);
                    st.set_note(format_args!("still running after SIGKILL"));
                    st.main_pid = None;
                    st.helper = None;
                }
                self.finish_stop(i);
            }
            _ => {}
        }
    }

    /// SIGKILLs every process still carrying object `i`'s marker (a console
    /// object's orphaned IOC); returns how many there were.
    fn kill_leftovers(&mut self, i: usize) -> usize {
        let main = self.objs[i].main_pid;
        let mut count = 0;
        let os = &mut self.os;
        let mut victims: heapless::Vec<Pid, 32> = heapless::Vec::new();
        os.for_each_marked(&self.plans[i].marker, &mut |pid, _| {
            if Some(pid) != main {
                let _ = victims.push(pid);
            }
        });
        for pid in victims {
            if os.kill(pid, libc::SIGKILL).is_ok() {
                count += 1;
            }
        }
        if count > 0 {
            log::warn!("{}: killed {count} leftover process(es)", self.config.objects[i].id);
        }
        count
    }

    // ---- sequencing ---------------------------------------------------------

    fn wants_start(&self, i: usize, runlevel: usize, cause: Cause) -> bool {
        let o = &self.config.objects[i];
        let st = &self.objs[i];
        st.enabled
            && !st.removed
            && o.start_priority > 0
            && !o.options.halt_only
            && self.in_runlevel(i, runlevel)
            && !(cause == Cause::Boot && self.boot_skip.contains(&i))
    }

    fn stops_for_runlevel(&self, i: usize, target: usize) -> bool {
        let o = &self.config.objects[i];
        o.stop_priority > 0
            && !o.options.persistent
            && !o.options.halt_only
            && self.objs[i].state.is_started()
            && !self.in_runlevel(i, target)
    }

    fn stops_at_shutdown(&self, i: usize) -> bool {
        let o = &self.config.objects[i];
        o.stop_priority > 0 && (o.options.halt_only || self.objs[i].state.is_started() || self.objs[i].state == State::Stopping)
    }

    /// Advances the current job as far as events allow.
    fn advance(&mut self) {
        while !self.paused {
            match self.job {
                Job::Idle => return,
                Job::Start { runlevel, priority, cause } => {
                    let member = |e: &Self, i: usize| e.wants_start(i, runlevel, cause);
                    if self.wave_busy(priority, true, &member) {
                        return;
                    }
                    match self.next_priority(priority, true, &member) {
                        Some(p) => {
                            self.job = Job::Start { runlevel, priority: p, cause };
                            for i in 0..self.objs.len() {
                                if self.config.objects[i].start_priority == p && member(self, i) && self.objs[i].state.is_down() {
                                    let _ = self.begin_start(i, cause);
                                }
                            }
                        }
                        None => {
                            self.job = Job::Idle;
                            if self.phase == Phase::Booting {
                                self.finish_boot();
                            }
                        }
                    }
                }
                Job::StopForRunlevel { target, priority } => {
                    let member = |e: &Self, i: usize| e.stops_for_runlevel(i, target) || e.objs[i].state == State::Stopping;
                    if self.wave_busy(priority, false, &member) {
                        return;
                    }
                    let member = |e: &Self, i: usize| e.stops_for_runlevel(i, target);
                    match self.next_priority(priority, false, &member) {
                        Some(p) => {
                            self.job = Job::StopForRunlevel { target, priority: p };
                            for i in 0..self.objs.len() {
                                if self.config.objects[i].stop_priority == p && member(self, i) {
                                    let _ = self.begin_stop(i, Cause::Runlevel);
                                }
                            }
                        }
                        None => self.job = Job::Start { runlevel: target, priority: 0, cause: Cause::Runlevel },
                    }
                }
                Job::Shutdown { power, step: ShutdownStep::Objects(priority) } => {
                    let member = |e: &Self, i: usize| e.stops_at_shutdown(i);
                    if self.wave_busy(priority, false, &member) {
                        return;
                    }
                    let pending = |e: &Self, i: usize| e.stops_at_shutdown(i) && e.objs[i].state != State::Stopping;
                    match self.next_priority(priority, false, &pending) {
                        Some(p) => {
                            self.job = Job::Shutdown { power, step: ShutdownStep::Objects(p) };
                            for i in 0..self.objs.len() {
                                if self.config.objects[i].stop_priority == p && pending(self, i) {
                                    let _ = self.begin_stop(i, Cause::Shutdown);
                                }
                            }
                        }
                        None => {
                            // Nothing restarts from here on.
                            for st in &mut self.objs {
                                st.wanted = false;
                                if st.state == State::Restarting {
                                    st.set(State::Stopped);
                                }
                            }
                            let signalled = self.os.signal_all(libc::SIGTERM);
                            log::info!("sent SIGTERM to {signalled} process(es)");
                            let deadline = self.os.now_ms() + if signalled == 0 { 0 } else { TERM_GRACE_MS };
                            self.job = Job::Shutdown { power, step: ShutdownStep::Term(deadline) };
                        }
                    }
                }
                Job::Shutdown { power, step: ShutdownStep::Term(_) | ShutdownStep::Kill(_) } => {
                    // Ends early once nothing is left.
                    if self.os.signal_all(0) == 0 {
                        self.finish_shutdown(power, 0);
                    }
                    return;
                }
            }
        }
    }

    fn shutdown_step_expired(&mut self, power: Power) {
        match self.job {
            Job::Shutdown { step: ShutdownStep::Term(_), .. } => {
                let killed = self.os.signal_all(libc::SIGKILL);
                if killed > 0 {
                    log::warn!("sent SIGKILL to {killed} process(es) still running");
                }
                self.job = Job::Shutdown { power, step: ShutdownStep::Kill(self.os.now_ms() + KILL_GRACE_MS) };
            }
            Job::Shutdown { step: ShutdownStep::Kill(_), .. } => {
                let left = self.os.signal_all(0);
                self.finish_shutdown(power, left);
            }
            _ => {}
        }
    }

    fn finish_shutdown(&mut self, power: Power, left: usize) {
        if left == 0 {
            log::info!("all processes ended");
        } else {
            log::error!("{left} process(es) did not end");
        }
        self.job = Job::Idle;
        let _ = self.requests.push_back(SystemRequest::Power(power));
    }

    fn finish_boot(&mut self) {
        self.phase = Phase::Up;
        let _ = self.requests.push_back(SystemRequest::Ready);
        for k in 0..self.boot_start.len() {
            let i = self.boot_start[k];
            if let Err(e) = self.begin_start(i, Cause::Manual) {
                log::warn!("startobj {}: {e}", self.config.objects[i].id);
            }
        }
    }

    /// Whether a member object of wave `priority` is still in transition.
    fn wave_busy(&self, priority: u32, start: bool, member: &dyn Fn(&Self, usize) -> bool) -> bool {
        priority > 0
            && (0..self.objs.len()).any(|i| {
                let o = &self.config.objects[i];
                let p = if start { o.start_priority } else { o.stop_priority };
                p == priority && self.objs[i].state.is_transitional() && member(self, i)
            })
    }

    /// The lowest priority above `after` that has a member object.
    fn next_priority(&self, after: u32, start: bool, member: &dyn Fn(&Self, usize) -> bool) -> Option<u32> {
        (0..self.objs.len())
            .filter(|&i| member(self, i))
            .map(|i| {
                let o = &self.config.objects[i];
                if start {
                    o.start_priority
                } else {
                    o.stop_priority
                }
            })
            .filter(|&p| p > after)
            .min()
    }

    fn report(&mut self, i: usize, verb: &str, outcome: Outcome) {
        let object = &self.config.objects[i];
        let cause = self.objs[i].cause;
        let mut line = status::Line::new();
        self.format.line(&mut line, verb, &object.description, object.options.raw_description, outcome);
        if matches!(cause, Cause::Boot | Cause::Runlevel | Cause::Shutdown) {
            self.os.status_line(line.as_bytes());
        } else {
            let text = core::str::from_utf8(line.as_bytes()).unwrap_or("").trim_end();
            log::info!("{text}");
        }
    }

    // ---- persistent state -----------------------------------------------------

    /// Writes enable/disable and objrl changes that differ from the
    /// configuration (temp file, fsync, rename).
    fn save_state(&mut self) {
        let Some(path) = &self.state_file else { return };
        if let Some(dir) = path.to_bytes().iter().rposition(|&b| b == b'/') {
            let _ = crate::sys::mkdir_p(&path.to_bytes()[..dir], 0o755);
        }
        let config = &self.config;
        let objs = &self.objs;
        let result = crate::sys::write_atomic(path, |fd| {
            fd.write_all(b"# iocinit state: run-time changes to the configuration; written by iocinit\n")?;
            for (o, st) in config.objects.iter().zip(objs) {
                let configured = o.runlevels.iter().fold(0, |m, r| m | runlevel_bit(config, r));
                if st.enabled != o.enabled {
                    fd.write_all(if st.enabled { b"enable " } else { b"disable " })?;
                    fd.write_all(o.id.as_bytes())?;
                    fd.write_all(b"\n")?;
                }
                if st.runlevels != configured {
                    fd.write_all(b"runlevels ")?;
                    fd.write_all(o.id.as_bytes())?;
                    for (b, r) in config.runlevels.iter().enumerate().take(64) {
                        if st.runlevels & (1 << b) != 0 {
                            fd.write_all(b" ")?;
                            fd.write_all(r.name.as_bytes())?;
                        }
                    }
                    fd.write_all(b"\n")?;
                }
            }
            Ok(())
        });
        if let Err(e) = result {
            log::error!("unable to save state to {}: {}", path.to_string_lossy(), nix::errno::Errno::from_raw(e).desc());
        }
    }

    fn load_state(&mut self) {
        let Some(path) = &self.state_file else { return };
        let text = match std::fs::read_to_string(path.to_string_lossy().as_ref()) {
            Ok(t) => t,
            Err(_) => return,
        };
        for (n, line) in text.lines().enumerate() {
            let mut words = line.split_whitespace();
            let (Some(verb), Some(id)) = (words.next(), words.next()) else { continue };
            if verb.starts_with('#') {
                continue;
            }
            let Some(i) = self.find(id) else {
                log::info!("{}:{}: object {id} no longer exists; ignored", path.to_string_lossy(), n + 1);
                continue;
            };
            match verb {
                "enable" => self.objs[i].enabled = true,
                "disable" => self.objs[i].enabled = false,
                "runlevels" => self.objs[i].runlevels = words.fold(0, |m, r| m | runlevel_bit(&self.config, r)),
                _ => log::warn!("{}:{}: unknown state entry \"{verb}\"", path.to_string_lossy(), n + 1),
            }
        }
    }

    // ---- re-exec ----------------------------------------------------------------

    /// Whether the state can be handed to a new image now: nothing is in
    /// transition (a command in flight would be lost).
    pub fn quiescent(&self) -> bool {
        self.job == Job::Idle && self.phase == Phase::Up && self.objs.iter().all(|o| !o.state.is_transitional() && o.helper.is_none())
    }

    /// Restores one object's run-time state after a re-exec.
    pub fn restore_object(&mut self, i: usize, st: ObjState) {
        let now = self.os.now_ms();
        let restarting = st.state == State::Restarting;
        self.objs[i] = st;
        if restarting {
            self.objs[i].deadline = Some(now);
        }
    }

    /// Restores the runlevel after a re-exec; the system is up.
    pub fn restore_system(&mut self, runlevel: Option<&str>) {
        self.runlevel = runlevel.and_then(|n| self.config.runlevels.iter().position(|r| r.name == n));
        self.phase = Phase::Up;
        self.job = Job::Idle;
    }

    // ---- configuration reload ---------------------------------------------------

    /// Replaces the configuration, carrying the running state across by
    /// ObjectID. Objects that disappeared but still run are kept, marked
    /// removed, until they stop.
    pub fn replace_config(&mut self, mut config: Config, mut plans: Vec<ObjectPlan>) {
        let mut problems = Vec::new();
        self.format = StatusFormat::from_config(&config, &mut problems);
        for p in &problems {
            log::warn!("{p}");
        }
        let old_config = std::mem::take(&mut self.config);
        let old_plans = std::mem::take(&mut self.plans);
        let old_objs = std::mem::take(&mut self.objs);
        let old_runlevel = self.runlevel.map(|r| old_config.runlevels[r].name.clone());
        let mut objs: Vec<ObjState> = config
            .objects
            .iter()
            .map(|o| ObjState::new(o.enabled, o.runlevels.iter().fold(0, |m, r| m | runlevel_bit(&config, r))))
            .collect();
        for ((old, old_plan), st) in old_config.objects.into_iter().zip(old_plans).zip(old_objs) {
            match config.objects.iter().position(|o| o.id == old.id) {
                Some(i) => {
                    let fresh = objs[i].clone();
                    objs[i] = ObjState { enabled: fresh.enabled, runlevels: fresh.runlevels, removed: false, ..st };
                }
                None if st.state.is_down() => {}
                None => {
                    log::warn!("{}: removed from the configuration while running; it is kept until stopped", old.id);
                    config.objects.push(old);
                    plans.push(old_plan);
                    objs.push(ObjState { removed: true, ..st });
                }
            }
        }
        self.runlevel_masks = config
            .runlevels
            .iter()
            .map(|r| r.inherits.iter().fold(runlevel_bit(&config, &r.name), |m, i| m | runlevel_bit(&config, i)))
            .collect();
        self.runlevel = old_runlevel.and_then(|n| config.runlevels.iter().position(|r| r.name == n));
        self.config = config;
        self.plans = plans;
        self.objs = objs;
        self.load_state();
        // A job in progress refers to old indices: restart its scan.
        self.job = match self.job {
            Job::Start { cause, .. } => match self.runlevel {
                Some(runlevel) => Job::Start { runlevel, priority: 0, cause },
                None => Job::Idle,
            },
            Job::StopForRunlevel { .. } => match self.runlevel {
                Some(target) => Job::StopForRunlevel { target, priority: 0 },
                None => Job::Idle,
            },
            j => j,
        };
        self.advance();
    }
}

fn redirect(o: &OutputPlan) -> Redirect<'_> {
    match o {
        OutputPlan::Inherit => Redirect::Inherit,
        OutputPlan::Null => Redirect::Null,
        OutputPlan::Append(p) => Redirect::Append(p),
    }
}

/// Options for commands Epoch runs as root: prestart, stop, reload.
fn root_options(plan: &ObjectPlan) -> spawn::Options<'_> {
    spawn::Options { cwd: plan.cwd.as_deref(), stdout: redirect(&plan.stdout), stderr: redirect(&plan.stderr), ..Default::default() }
}

#[cfg(test)]
mod tests;
