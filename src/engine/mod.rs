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
//!
//! This file holds the engine's types, its events and verbs, configuration
//! reload and re-exec restore; `lifecycle` the per-object transitions,
//! `sequence` the boot/runlevel/shutdown jobs, `persist` the state file,
//! `object` the state types, `plan` what is prepared at load, `status` the
//! console lines, `os` the seam to the kernel.

pub mod object;
pub mod os;
pub mod plan;
pub mod status;

mod lifecycle;
mod ownership;
mod persist;
mod sequence;

use std::ffi::CString;

use crate::config::{
    Config, ExitResult, StopMethod, DEFAULT_CRASH_LIMIT, DEFAULT_FAST_FAILURE_S, DEFAULT_PIDFILE_TIMEOUT_S, DEFAULT_START_TIMEOUT_S,
    DEFAULT_STOP_COMMAND_TIMEOUT_S,
};
use crate::spawn::{self, Redirect};
use crate::sys::{ExitStatus, Pid, Table};
use object::{backoff_ms, Cause, Handle, Handles, Helper, Notes, ObjState, Outcome, State};
use os::Os;
use plan::{ObjectPlan, OutputPlan};
use lifecycle::root_options;
use status::StatusFormat;

/// Default seconds to wait for a stopped object's process (Epoch's STOPTIMEOUT).
pub const DEFAULT_STOP_TIMEOUT_S: u32 = 10;
/// After SIGKILL, how long to wait for the reap before giving up.
const KILL_WAIT_MS: u64 = 2_000;
/// SERVICE: how long, and how often, to look for the daemon after the start
/// command ended (one caught inside its execve shows no environment).
const SERVICE_WAIT_MS: u64 = 500;
const SERVICE_POLL_MS: u64 = 20;
/// Shutdown: grace after SIGTERM to everything, then after SIGKILL.
const TERM_GRACE_MS: u64 = 5_000;
const KILL_GRACE_MS: u64 = 2_000;
/// A console object restarting waits this long for leftovers to be reaped,
/// doubling each round they are still there, up to the second value.
const LEFTOVER_WAIT_MS: u64 = 100;
const LEFTOVER_MAX_WAIT_MS: u64 = 5_000;
/// Ctrl-Alt-Del pressed again within this long (not in a shutdown) reboots
/// even while a job runs (Epoch's five seconds).
const CAD_AGAIN_MS: u64 = 5_000;

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
    /// `setcad` changed who handles Ctrl-Alt-Del: apply
    /// [`Engine::cad_enabled`] (true: PID 1, as DisableCAD true; false: the
    /// kernel reboots at once). Queued once however often it changes.
    ApplyCad,
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

/// The latest deadline (CLOCK_MONOTONIC milliseconds) the loop's timer can
/// be armed for on every target: armv7 musl has a 32-bit time_t, so i32::MAX
/// seconds, about 68 years after boot.
pub const LATEST_DEADLINE_MS: u64 = i32::MAX as u64 * 1000;

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
    plans: Table<ObjectPlan>,
    objs: Table<ObjState>,
    /// Each object's note, slot i for `objs[i]`.
    notes: Notes,
    /// Per runlevel: its bit and the bits of the runlevels it inherits.
    runlevel_masks: Vec<u64>,
    runlevel: Option<usize>,
    phase: Phase,
    job: Job,
    /// A critical failure paused the job until [`Engine::resume`].
    paused: bool,
    requests: heapless::Deque<SystemRequest, 4>,
    format: StatusFormat,
    /// `startobj=` and `skipobj=` by ObjectID, looked up when used: a reload
    /// during the boot renumbers the table.
    boot_start: Vec<String>,
    boot_skip: Vec<String>,
    handles: Handles,
    /// Changes whenever table indices change meaning (a configuration
    /// reload), for those that hold indices for a while (a listing being
    /// streamed, log rotation's per-object table).
    table_generation: u64,
    /// Ctrl-Alt-Del handled by us (DisableCAD true).
    cad: bool,
    /// When Ctrl-Alt-Del was last pressed.
    last_cad: Option<u64>,
    scheduled_power: Option<(u64, Power)>,
    state_file: Option<CString>,
}

// A loaded configuration never names more runlevels than a mask has bits.
const _: () = assert!(crate::config::MAX_RUNLEVELS <= u64::BITS as usize);

fn runlevel_bit(config: &Config, name: &str) -> u64 {
    config.runlevels.iter().position(|r| r.name == name).filter(|&i| i < 64).map(|i| 1u64 << i).unwrap_or(0)
}

/// A runlevel membership mask (bit i = `from.runlevels[i]`) in the bits of
/// `to`: runlevels are found by name, their indices differ between the two.
fn remap_runlevels(mask: u64, from: &[crate::config::Runlevel], to: &Config) -> u64 {
    from.iter().enumerate().take(64).filter(|(b, _)| mask & (1 << b) != 0).fold(0, |m, (_, r)| m | runlevel_bit(to, &r.name))
}

/// Object i of `config`: the one bounds check of the engine's look-ups of an
/// object's configuration by its index, where each inlined `objects[i]` had
/// its own (as [`Table`]'s index).
#[inline(never)]
fn configured_object(config: &Config, i: usize) -> &crate::config::Object {
    &config.objects[i]
}

/// The place in a reload's new table of a state that leaves it.
const GONE: usize = usize::MAX;

/// A new object's state, as `config` defines it.
fn initial_state(config: &Config, object: &crate::config::Object, handle: Handle) -> ObjState {
    ObjState::new(handle, object.enabled, object.runlevels.iter().fold(0, |m, r| m | runlevel_bit(config, r)))
}

impl<O: Os> Engine<O> {
    /// Builds an engine for `config` with prepared `plans`. `state_file` keeps
    /// enable/disable/objrl/RUNONCE across boots (None: not persisted).
    pub fn new(os: O, config: Config, plans: Vec<ObjectPlan>, state_file: Option<CString>) -> Self {
        let mut problems = Vec::new();
        let format = StatusFormat::from_config(&config, &mut problems);
        for p in &problems {
            crate::logging::warn!("{p}");
        }
        let runlevel_masks = config
            .runlevels
            .iter()
            .map(|r| r.inherits.iter().fold(runlevel_bit(&config, &r.name), |m, i| m | runlevel_bit(&config, i)))
            .collect();
        let mut handles = Handles::new();
        let objs = Table(config.objects.iter().map(|o| initial_state(&config, o, handles.issue())).collect());
        let notes = Notes::new(config.objects.len());
        let cad = config.globals.disable_cad;
        let mut engine = Engine {
            os,
            config,
            plans: Table(plans),
            objs,
            notes,
            runlevel_masks,
            runlevel: None,
            phase: Phase::Booting,
            job: Job::Idle,
            paused: false,
            requests: heapless::Deque::new(),
            format,
            boot_start: Vec::new(),
            boot_skip: Vec::new(),
            handles,
            table_generation: 0,
            cad,
            last_cad: None,
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

    /// Object i's configuration, through the engine's one bounds check.
    pub fn object_config(&self, i: usize) -> &crate::config::Object {
        configured_object(&self.config, i)
    }

    /// Object i's plan, through its table's one bounds check.
    pub fn plan(&self, i: usize) -> &ObjectPlan {
        &self.plans[i]
    }

    /// Object i's note (its last problem); empty when it has none.
    pub fn note(&self, i: usize) -> &str {
        self.notes.get(i)
    }

    /// The index of object `id`, valid until the next configuration reload:
    /// for use within one request or event. Whatever must outlive that
    /// keeps a [`Handle`].
    pub fn find(&self, id: &str) -> Option<usize> {
        self.config.objects.iter().position(|o| o.id == id)
    }

    /// The stable handle of object `i`.
    pub fn handle(&self, i: usize) -> Handle {
        self.objs[i].handle
    }

    /// Where the object of `handle` is now; `None`: it left the configuration.
    pub fn resolve(&self, handle: Handle) -> Option<usize> {
        self.objs.iter().position(|o| o.handle == handle)
    }

    /// Changes whenever indices change meaning (a configuration reload).
    pub fn table_generation(&self) -> u64 {
        self.table_generation
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    pub fn runlevel(&self) -> Option<&str> {
        self.runlevel.and_then(|r| self.config.runlevels.get(r)).map(|r| r.name.as_str())
    }

    pub fn cad_enabled(&self) -> bool {
        self.cad
    }

    pub fn set_cad(&mut self, on: bool) {
        self.cad = on;
        if !self.requests.iter().any(|r| matches!(r, SystemRequest::ApplyCad)) {
            let _ = self.requests.push_back(SystemRequest::ApplyCad);
        }
    }

    pub fn take_request(&mut self) -> Option<SystemRequest> {
        self.requests.pop_front()
    }

    /// Whether object `i` belongs to runlevel `r` (with inheritance).
    pub fn in_runlevel(&self, i: usize, r: usize) -> bool {
        self.runlevel_masks.get(r).is_some_and(|&mask| self.objs[i].runlevels & mask != 0)
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
        configured_object(&self.config, i).console.as_ref()?;
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
        let objects = self.objs.iter().flat_map(|o| o.deadline.into_iter().chain(o.start_limit));
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
                crate::logging::error!("runlevel \"{name}\" is not defined; using the default");
                self.config.runlevels.iter().position(|r| r.name == self.config.globals.default_runlevel).unwrap_or(0)
            }
        };
        for (ids, list) in [(&opts.start, &mut self.boot_start), (&opts.skip, &mut self.boot_skip)] {
            for id in ids {
                if self.config.objects.iter().any(|o| &o.id == id) {
                    list.push(id.clone());
                } else {
                    crate::logging::warn!("kernel command line names unknown object \"{id}\"");
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
        } else if let Some(i) = self.objs.iter().position(|o| o.runs_command(pid)) {
            self.helper_exited(i, pid, status);
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
            if self.objs[i].start_limit.is_some_and(|d| d <= now) {
                self.start_timed_out(i);
            }
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
        let object = configured_object(&self.config, i);
        let st = &self.objs[i];
        if !matches!(st.state, State::Running | State::Done) {
            return Err(Refusal::NotRunning);
        }
        match &object.rare().reload {
            None => Err(Refusal::NoReload),
            Some(crate::config::ReloadMethod::Signal(sig)) => {
                let pid = st.main_pid.ok_or(Refusal::NotRunning)?;
                // The main process alone: a reload is not for its children.
                self.os.kill(pid, *sig).map_err(|_| Refusal::NotRunning)
            }
            Some(crate::config::ReloadMethod::Command(_)) => {
                if st.reload.is_some() {
                    return Err(Refusal::Busy);
                }
                let Some(cmd) = self.plans[i].reload.as_ref() else { return Err(Refusal::NoReload) };
                match self.os.spawn(cmd, &root_options(&self.plans[i])) {
                    Ok(pid) => {
                        self.objs[i].reload = Some(pid);
                        Ok(())
                    }
                    Err(e) => {
                        crate::logging::error!("{}: reload: {e}", object.id);
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
        for pid in Some(pid).into_iter().chain(self.objs[i].reload) {
            let _ = self.os.kill_group(pid, libc::SIGKILL);
        }
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
        crate::logging::info!("system going down for {}", power.name());
        // What the shutdown leaves out on purpose is said, so that a disabled
        // HALTONLY job (a state saved, disks synced) is not missed silently.
        for (o, st) in self.config.objects.iter().zip(self.objs.iter()) {
            if o.options.halt_only && o.stop_priority > 0 && !st.enabled {
                crate::logging::info!("{}: HALTONLY and disabled: not run at shutdown", o.id);
            }
        }
        self.phase = Phase::ShuttingDown(power);
        self.scheduled_power = None;
        self.paused = false;
        self.job = Job::Shutdown { power, step: ShutdownStep::Objects(0) };
        self.advance();
    }

    /// Ctrl-Alt-Del, when iocinit handles it (DisableCAD true), as Epoch
    /// does: during the boot, a runlevel change or the shutdown it kills
    /// the current job (`kill_current_job`: the hung start or stop), and the
    /// job goes on; when idle, or pressed again within 5 s (except in a
    /// shutdown, which is already on its way), it reboots.
    pub fn ctrl_alt_del(&mut self) {
        let now = self.os.now_ms();
        let again = self.last_cad.is_some_and(|t| now.saturating_sub(t) < CAD_AGAIN_MS);
        self.last_cad = Some(now);
        let shutting_down = matches!(self.phase, Phase::ShuttingDown(_));
        if (shutting_down || !again) && self.kill_current_job() {
            crate::logging::warn!("Ctrl-Alt-Del: killed the current job");
        } else if !shutting_down {
            crate::logging::info!("Ctrl-Alt-Del: rebooting");
            self.shutdown(Power::Reboot);
        }
        self.advance();
    }

    /// `shutdown` with a delay; `None` cancels a pending one. A delay that
    /// would end after [`LATEST_DEADLINE_MS`] is refused (with the reason):
    /// `now + delay` must neither wrap nor overflow the loop's timer.
    pub fn schedule_shutdown(&mut self, power: Option<(Power, u64)>) -> Result<(), &'static str> {
        match power {
            Some((p, 0)) => self.shutdown(p),
            Some((p, ms)) => match self.os.now_ms().checked_add(ms).filter(|&at| at <= LATEST_DEADLINE_MS) {
                Some(at) => self.scheduled_power = Some((at, p)),
                None => return Err("delay too long: a shutdown must be due within 68 years of boot"),
            },
            None => self.scheduled_power = None,
        }
        Ok(())
    }

    pub fn scheduled_shutdown(&self) -> Option<(u64, Power)> {
        self.scheduled_power
    }

    // ---- re-exec ----------------------------------------------------------------

    /// Whether the state can be handed to a new image now: nothing is in
    /// transition (a command in flight would be lost).
    pub fn quiescent(&self) -> bool {
        self.job == Job::Idle && self.phase == Phase::Up && self.objs.iter().all(|o| !o.state.is_transitional() && o.helper.is_none() && o.reload.is_none())
    }

    /// Restores one object's run-time state after a re-exec.
    pub fn restore_object(&mut self, i: usize, st: ObjState) {
        let now = self.os.now_ms();
        let restarting = st.state == State::Restarting;
        // Handles are this image's: nothing that holds one crosses the exec.
        self.objs[i] = ObjState { handle: self.objs[i].handle, ..st };
        // The run's start time is not handed over: its process tells it, or,
        // without one, the supervisor's own start bounds it.
        let anchor = self.objs[i].main_pid.unwrap_or(self.os.self_pid());
        if let Some(info) = self.os.process(anchor) {
            self.objs[i].start_ticks = info.start_ticks;
        }
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

    /// Replaces the configuration, carrying the running state (and the
    /// handle) across by ObjectID. Objects that disappeared but still run are
    /// kept, marked removed, until they stop. Every index changes meaning:
    /// holders of handles resolve them again, the boot lists are by ID.
    ///
    /// `build_plans` makes the plans of `config`'s objects once the old
    /// objects and plans that are not kept have been freed: their markers
    /// and commands (three small allocations an object) then take the heap
    /// slots the old ones left. Built beside the old ones, they took new
    /// groups of the C library's allocator, and the old groups, which other
    /// allocations still use, stayed half empty for PID 1's whole life
    /// (docs/ARCHITECTURE.md, "PID 1's memory, page by page").
    pub fn replace_config(&mut self, mut config: Config, build_plans: impl FnOnce(&Config) -> Vec<ObjectPlan>) {
        let mut problems = Vec::new();
        self.format = StatusFormat::from_config(&config, &mut problems);
        for p in &problems {
            crate::logging::warn!("{p}");
        }
        let old_config = std::mem::take(&mut self.config);
        let old_plans = std::mem::take(&mut self.plans);
        // The new table of states is made in the old one's place, not beside
        // it: two tables took two slots of the allocator's group for tables
        // of their size, and the pages of both stayed resident.
        let mut objs = std::mem::take(&mut self.objs);
        let old_runlevel = self.runlevel.and_then(|r| old_config.runlevels.get(r)).map(|r| r.name.clone());
        let configured = config.objects.len();
        // Where each old state goes in the new table ([`GONE`]: nowhere),
        // and which of the configured objects' places a state takes.
        let mut places = Vec::with_capacity(objs.len());
        let mut placed = vec![false; configured];
        // Removed objects that still run, with their plans.
        let mut kept = Vec::new();
        // Every other old object and plan is freed as the loop passes it.
        for ((old, old_plan), st) in old_config.objects.into_iter().zip(old_plans.0).zip(objs.iter_mut()) {
            let found = config.objects.iter().zip(placed.iter_mut()).enumerate().find(|(_, (o, _))| o.id == old.id);
            let place = match found {
                Some((i, (object, placed))) if !*placed => {
                    // The new configuration's enable state and runlevels;
                    // the state file's overrides are applied again below.
                    let fresh = initial_state(&config, object, st.handle);
                    (st.enabled, st.runlevels, st.removed) = (fresh.enabled, fresh.runlevels, false);
                    *placed = true;
                    i
                }
                // An ID the old table held twice (IDs are unique): one state
                // a place, or the states could not be put in order below.
                Some(_) => GONE,
                None if st.state.is_down() => GONE,
                None => {
                    crate::logging::warn!("{}: removed from the configuration while running; it is kept until stopped", old.id);
                    // Kept only until it stops: as it was.
                    st.runlevels = remap_runlevels(st.runlevels, &old_config.runlevels, &config);
                    st.removed = true;
                    kept.push((old, old_plan));
                    configured + kept.len() - 1
                }
            };
            places.push(place);
        }
        let mut plans = build_plans(&config);
        for (old, old_plan) in kept {
            config.objects.push(old);
            plans.push(old_plan);
        }
        let mut notes = Notes::new(config.objects.len());
        for (old_index, &place) in places.iter().enumerate().filter(|&(_, &place)| place != GONE) {
            let note = self.notes.get(old_index);
            if !note.is_empty() {
                notes.set(place, note);
            }
        }
        // The states that go leave the table, the new objects' join it...
        let mut going = places.iter().map(|&place| place == GONE);
        objs.retain(|_| going.next() == Some(false));
        places.retain(|&place| place != GONE);
        objs.reserve_exact(placed.iter().filter(|&&p| !p).count());
        // (`placed` has a place for each configured object, none for the kept.)
        for (i, (o, _)) in config.objects.iter().zip(&placed).enumerate().filter(|(_, (_, &placed))| !placed) {
            objs.push(initial_state(&config, o, self.handles.issue()));
            places.push(i);
        }
        // ...and each goes to its place, along the cycles of the permutation
        // (every place in the table is one state's).
        // The places below k are settled, so a state still to move goes
        // above k; a place that is not one (none is) ends its cycle.
        for k in 0..objs.len() {
            while let Some(&to) = places.get(k).filter(|&&to| to > k && to < places.len()) {
                let Some((here, there)) = objs.get_mut(k..=to).and_then(|run| run.split_first_mut()) else { break };
                let Some(there) = there.last_mut() else { break };
                core::mem::swap(here, there);
                places.swap(k, to);
            }
        }
        objs.shrink_to_fit();
        self.runlevel_masks = config
            .runlevels
            .iter()
            .map(|r| r.inherits.iter().fold(runlevel_bit(&config, &r.name), |m, i| m | runlevel_bit(&config, i)))
            .collect();
        self.runlevel = old_runlevel.and_then(|n| config.runlevels.iter().position(|r| r.name == n));
        self.config = config;
        self.plans = Table(plans);
        self.objs = objs;
        self.notes = notes;
        self.table_generation += 1;
        self.load_state();
        // A job in progress refers to old indices: restart its scan.
        let booting = matches!(self.job, Job::Start { cause: Cause::Boot, .. });
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
        if booting && self.job == Job::Idle {
            crate::logging::warn!("the boot's runlevel is no longer configured; the boot ends here");
            self.finish_boot();
        }
        self.advance();
    }
}

#[cfg(test)]
mod tests;
