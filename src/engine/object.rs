//! The run-time state of one object: its lifecycle [`State`], tracked
//! processes, deadline and counters, and the [`Handle`] that names it across
//! configuration reloads. Only the engine changes it, through
//! [`ObjState::set`], which owns the side effects every transition shares
//! (clearing the deadline, stamping times). Diagram: docs/ARCHITECTURE.md.
//! Each object's note (its last problem) is kept apart, in [`Notes`].

use crate::sys::{ExitStatus, LazyBytes, Pid};

/// Lifecycle of an object.
///
/// ```text
///  Stopped/Failed/Crashed --start--> Prestarting --> Starting --exit ok--> Done | Running | WaitPidFile
///         ^                              |              | FORK -> Running        WaitPidFile --pid--> Running
///         |                              +--------------+--exit bad--> Failed (or Restarting)
///  Stopping <--stop-- Running/Done/WaitPidFile/Restarting
///  Running --died--> [Stopping while its group's members are ended] --> Restarting (AUTORESTART) --deadline--> Prestarting/Starting
///                                                                       `-- N fast failures --> Crashed
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Not running, never started or stopped cleanly.
    Stopped,
    /// The prestart command runs.
    Prestarting,
    /// The start command runs; a non-FORK object waits for it to finish.
    Starting,
    /// The start command succeeded; waiting for ObjectPIDFile to name a pid.
    WaitPidFile,
    /// A tracked process runs (FORK, SERVICE, PIDFILE, procServ).
    Running,
    /// Started and finished: a one-shot whose command succeeded (Epoch's
    /// "started" without a process).
    Done,
    /// Being stopped: a stop command runs or a signal was sent.
    Stopping,
    /// AUTORESTART: waiting out the backoff before starting again.
    Restarting,
    /// The start failed, or the process died and is not restarted.
    Failed,
    /// AUTORESTART gave up after too many fast failures; `start` clears it.
    Crashed,
}

impl State {
    /// Every state, for lookups by name.
    pub const ALL: [State; 10] = [
        State::Stopped,
        State::Prestarting,
        State::Starting,
        State::WaitPidFile,
        State::Running,
        State::Done,
        State::Stopping,
        State::Restarting,
        State::Failed,
        State::Crashed,
    ];

    pub fn name(self) -> &'static str {
        match self {
            State::Stopped => "stopped",
            State::Prestarting => "prestarting",
            State::Starting => "starting",
            State::WaitPidFile => "waiting-pidfile",
            State::Running => "running",
            State::Done => "done",
            State::Stopping => "stopping",
            State::Restarting => "restarting",
            State::Failed => "failed",
            State::Crashed => "crashed",
        }
    }

    pub fn from_name(name: &str) -> Option<State> {
        State::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Waiting for a process to progress: a boot wave waits for these.
    pub fn is_transitional(self) -> bool {
        matches!(self, State::Prestarting | State::Starting | State::WaitPidFile | State::Stopping)
    }

    /// On its way up: what the start timeout covers.
    pub fn is_starting(self) -> bool {
        matches!(self, State::Prestarting | State::Starting | State::WaitPidFile)
    }

    /// Started in Epoch's sense: up, or on its way up.
    pub fn is_started(self) -> bool {
        matches!(
            self,
            State::Prestarting | State::Starting | State::WaitPidFile | State::Running | State::Done | State::Restarting
        )
    }

    /// Not started and not on the way: a start may begin.
    pub fn is_down(self) -> bool {
        matches!(self, State::Stopped | State::Failed | State::Crashed)
    }
}

/// The result of a start or stop, as the status line shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Done,
    Warn,
    Fail,
}

/// A command of the object's start or stop besides its main process (a
/// reload command has a slot of its own: it may run when a stop begins).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Helper {
    /// `iocinit-statedir`, before the prestart command.
    StateDir,
    Prestart,
    Stop,
}

/// Process groups a stop follows after their leader is gone: one for each
/// command of the object a stop waits for (the prestart or the main process,
/// a reload command, and the stop command).
pub type LeaderlessGroups = heapless::Vec<Pid, 3>;

/// Why the current start or stop happens (titles, RUNONCE, criticality).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    Boot,
    Runlevel,
    Manual,
    AutoRestart,
    Shutdown,
}

/// Restart policy: a process that ran less than `RestartFastFailure`
/// seconds failed "fast" and backs off; `RestartCrashLimit` fast failures in
/// a row and the object is crashed (config::DEFAULT_FAST_FAILURE_S and
/// DEFAULT_CRASH_LIMIT).
/// First backoff after a fast failure; doubles up to [`MAX_BACKOFF_MS`].
pub const FIRST_BACKOFF_MS: u64 = 250;
pub const MAX_BACKOFF_MS: u64 = 30_000;

/// Delay before restart number `fast_failures` (0 = it had run long: at once).
pub fn backoff_ms(fast_failures: u32) -> u64 {
    if fast_failures == 0 {
        0
    } else {
        FIRST_BACKOFF_MS.saturating_mul(1u64 << (fast_failures - 1).min(16)).min(MAX_BACKOFF_MS)
    }
}

/// A short message kept with the object (the last problem), fixed-size.
pub type Note = heapless::String<NOTE_BYTES>;

/// The longest note, in bytes: room for a path or a host name, which the
/// notes a field engineer most needs name (`unable to execute: ...: PATH`).
pub const NOTE_BYTES: usize = 160;

/// `args` as a [`Note`]: truncated where it does not fit (a note is a hint,
/// the log has the full line). What borrows the engine is formatted into a
/// note first, then handed on.
pub fn note(args: core::fmt::Arguments<'_>) -> Note {
    let mut note = Note::new();
    let _ = core::fmt::Write::write_fmt(&mut note, args);
    note
}

/// A stable name for one object of the engine's table, for whoever must
/// refer to it across events (a client waiting for it to settle): a table
/// index changes meaning at every configuration reload, a handle does not.
/// Serials are handed out once, in creation order, and never reused while
/// the engine lives; an object carried across a reload (same ObjectID) keeps
/// its handle, a new or re-added one gets a new handle. Resolve with
/// `Engine::resolve`; `None` means the object is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Handle(u64);

/// The engine's source of handles: each one is issued once.
#[derive(Debug)]
pub(super) struct Handles {
    next: u64,
}

impl Handles {
    pub(super) fn new() -> Self {
        Handles { next: 1 }
    }

    pub(super) fn issue(&mut self) -> Handle {
        let handle = Handle(self.next);
        // 2^64 objects are never created: no wrap, so no reuse.
        self.next += 1;
        handle
    }
}

#[derive(Debug, Clone)]
pub struct ObjState {
    /// Which object this is, across reloads (set by the engine only).
    pub(super) handle: Handle,
    pub state: State,
    /// ObjectEnabled, as overridden at run time by enable/disable/RUNONCE.
    pub enabled: bool,
    /// Runlevel membership (bit i = `Config::runlevels[i]`), objrl-editable.
    pub runlevels: u64,
    /// The tracked process: start command, daemon, or procServ.
    pub main_pid: Option<Pid>,
    /// A prestart or stop command in flight.
    pub helper: Option<(Helper, Pid)>,
    /// An ObjectReloadCommand in flight: a stop stops it and waits for it.
    pub reload: Option<Pid>,
    /// During a stop (or once the main process died, `ending_dead_group`):
    /// the process groups of the object's commands whose leader the engine
    /// reaped while members were left (what the shell started, a child that
    /// ignores TERMSIGNAL). The stop waits for them and SIGKILLs them after
    /// STOPTIMEOUT, as the main process.
    pub leaderless_groups: LeaderlessGroups,
    pub deadline: Option<u64>,
    /// Monotonic and wall time of the last successful start.
    pub since_ms: u64,
    pub since_wall: i64,
    pub last_exit: Option<ExitStatus>,
    pub outcome: Option<Outcome>,
    /// Automatic restarts since the last manual start.
    pub restarts: u32,
    pub fast_failures: u32,
    /// Whether someone wants it up: AUTORESTART acts only then.
    pub wanted: bool,
    pub cause: Cause,
    /// A prestart failure turns a successful start into a warning.
    pub prestart_failed: bool,
    /// SIGKILL already sent in this stop's current wait: for its stop
    /// command, then (once that has ended) for the object's processes.
    pub killed: bool,
    /// When WaitPidFile (or the search for a SERVICE's daemon) gives up.
    pub pidfile_limit: u64,
    /// When the start in progress fails for taking too long (the start
    /// timeout); set by a start, cleared on leaving the start states.
    pub start_limit: Option<u64>,
    /// Being stopped because the start ran out of time (the start timeout):
    /// the start fails, with the note, once the stop completes.
    pub start_timed_out: bool,
    /// Being stopped because the tracked process died on its own (not in a
    /// stop) and left members in its process group: once they are gone, the
    /// object goes on as after any death (AUTORESTART, or down).
    pub ending_dead_group: bool,
    /// Removed by a configuration reload while running: not carried over
    /// the next reload once down.
    pub removed: bool,
    /// `restart`: start again as soon as the stop completes.
    pub restart_after_stop: bool,
    /// When the current run began, in kernel clock ticks since boot (the
    /// boot clock read as its start began, no later than any process it
    /// started; after a re-exec, its process's start time). Processes
    /// reparented to the supervisor that started before it are not this
    /// run's. `u64::MAX` before any run.
    pub start_ticks: u64,
    /// Rounds in a row that found leftover processes to kill (the backoff
    /// before the next start, and how often that is logged).
    pub leftover_rounds: u32,
}

impl ObjState {
    pub(super) fn new(handle: Handle, enabled: bool, runlevels: u64) -> Self {
        ObjState {
            handle,
            state: State::Stopped,
            enabled,
            runlevels,
            main_pid: None,
            helper: None,
            reload: None,
            leaderless_groups: LeaderlessGroups::new(),
            deadline: None,
            since_ms: 0,
            since_wall: 0,
            last_exit: None,
            outcome: None,
            restarts: 0,
            fast_failures: 0,
            wanted: false,
            cause: Cause::Manual,
            prestart_failed: false,
            killed: false,
            pidfile_limit: 0,
            start_limit: None,
            start_timed_out: false,
            ending_dead_group: false,
            removed: false,
            restart_after_stop: false,
            start_ticks: u64::MAX,
            leftover_rounds: 0,
        }
    }

    /// The one place a state changes: a new state starts without a deadline,
    /// and the start timeout ends with the start states.
    pub fn set(&mut self, state: State) {
        self.state = state;
        self.deadline = None;
        if !state.is_starting() {
            self.start_limit = None;
        }
    }

    /// The state directory's helper, the prestart and the reload command in
    /// flight: what a stop (or the start timeout) signals with TERMSIGNAL
    /// besides the main process.
    pub fn side_commands(&self) -> impl Iterator<Item = Pid> {
        let prestart = self.helper.filter(|&(h, _)| matches!(h, Helper::StateDir | Helper::Prestart)).map(|(_, pid)| pid);
        prestart.into_iter().chain(self.reload)
    }

    /// The stop command in flight (`ObjectStopCommand`), if any.
    pub fn stop_command(&self) -> Option<Pid> {
        self.helper.filter(|&(h, _)| h == Helper::Stop).map(|(_, pid)| pid)
    }

    /// Whether `pid` is a prestart, stop or reload command of this object.
    pub fn runs_command(&self, pid: Pid) -> bool {
        self.helper.is_some_and(|(_, p)| p == pid) || self.reload == Some(pid)
    }
}

/// The objects' notes, one slot for each object of the engine's table (slot
/// i is the note of `ObjState` i, and moves with it at a reload), apart from
/// the states: most objects never have a note, and 168 bytes of one in each
/// state made the 32 states of a board three heap pages, not two. The slots
/// are one mapping sized from the configuration (`LazyBytes`), resident only
/// where a note was written; setting a note never allocates.
pub struct Notes {
    /// Each slot: the note's length in one byte, then its text.
    slots: LazyBytes,
}

const NOTE_SLOT: usize = 1 + NOTE_BYTES;
// A note's length fits the slot's one byte.
const _: () = assert!(NOTE_BYTES <= u8::MAX as usize);

impl Notes {
    /// `objects` slots, every note empty.
    pub fn new(objects: usize) -> Self {
        Notes { slots: LazyBytes::new(objects * NOTE_SLOT) }
    }

    /// Object i's note; empty when it has none.
    pub fn get(&self, i: usize) -> &str {
        let Some((&len, text)) = Self::slot(i).and_then(|slot| self.slots.get(slot)?.split_first()) else { return "" };
        // Written only from a str, cut at a character boundary (`set`).
        core::str::from_utf8(text.get(..usize::from(len)).unwrap_or_default()).unwrap_or_default()
    }

    /// Object i's note is `text`, truncated at a character boundary where it
    /// is longer than a note.
    pub fn set(&mut self, i: usize, text: &str) {
        let mut len = text.len().min(NOTE_BYTES);
        while !text.is_char_boundary(len) {
            len -= 1;
        }
        let Some((slot_len, slot_text)) = Self::slot(i).and_then(|slot| self.slots.get_mut(slot)?.split_first_mut()) else { return };
        *slot_len = len as u8;
        slot_text.iter_mut().zip(text.as_bytes().iter().take(len)).for_each(|(to, &from)| *to = from);
    }

    /// Object i's note is `args`, formatted (as [`note`] truncates it).
    pub fn write(&mut self, i: usize, args: core::fmt::Arguments<'_>) {
        self.set(i, &note(args));
    }

    /// Object i has no note. Every start clears the note: a slot that never
    /// had one is only read (the kernel's shared zero page), never written,
    /// and stays out of PID 1's memory.
    pub fn clear(&mut self, i: usize) {
        if let Some(len @ 1..) = Self::slot(i).and_then(|slot| self.slots.get_mut(slot.start)) {
            *len = 0;
        }
    }

    /// Where object i's slot is. Its reads and writes go through `get` and
    /// `get_mut`: an index past the table is no note, not a panic of PID 1
    /// (docs/ARCHITECTURE.md, "Binary size", round 12).
    fn slot(i: usize) -> Option<core::ops::Range<usize>> {
        let start = i.checked_mul(NOTE_SLOT)?;
        Some(start..start.checked_add(NOTE_SLOT)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// PID 1 keeps the objects' states for its whole life, all in one
    /// table: with the notes kept apart ([`Notes`]), 32 states and
    /// mallocng's 20-byte header fit in two pages of the heap (three with
    /// the note inline, 328 bytes a state). docs/ARCHITECTURE.md, "PID 1's
    /// memory, page by page".
    #[test]
    fn thirty_two_states_fit_in_two_heap_pages() {
        let state = std::mem::size_of::<ObjState>();
        assert!(32 * state + 20 <= 2 * 4096, "{state} bytes a state");
    }

    #[test]
    #[allow(unsafe_code)]
    fn notes_are_resident_only_where_an_object_has_one() {
        const PAGE: usize = 4096;
        let mut notes = Notes::new(32);
        assert!(notes.slots.is_mapped());
        notes.write(31, format_args!("unable to execute: {}", "No such file or directory"));
        let mut resident = [0u8; 2];
        assert_eq!(notes.slots.len().div_ceil(PAGE), resident.len());
        // SAFETY: mincore of the notes' own page-aligned mapping.
        assert_eq!(unsafe { libc::mincore(notes.slots.as_ptr() as *mut _, notes.slots.len(), resident.as_mut_ptr()) }, 0);
        assert_eq!(resident.map(|r| r & 1), [0, 1], "only the page of the note written is resident");
        assert_eq!(notes.get(31), "unable to execute: No such file or directory");
        for i in 0..31 {
            assert_eq!(notes.get(i), "");
        }
    }

    #[test]
    fn a_note_is_cut_at_a_character_boundary() {
        let mut notes = Notes::new(2);
        let long = "é".repeat(NOTE_BYTES);
        notes.set(1, &long);
        assert_eq!(notes.get(1), "é".repeat(NOTE_BYTES / 2));
        notes.set(1, "x");
        assert_eq!(notes.get(1), "x");
        assert_eq!(notes.get(0), "");
        notes.clear(1);
        assert_eq!(notes.get(1), "");
    }

    /// A note is read and written only where the table has a slot: an
    /// index past it is no note, and writing or clearing it does nothing,
    /// where it was a panic of PID 1.
    #[test]
    fn a_note_past_the_table_is_none() {
        let mut notes = Notes::new(2);
        notes.set(1, "last");
        notes.set(2, "past");
        notes.clear(usize::MAX / NOTE_SLOT);
        assert_eq!((notes.get(1), notes.get(2), notes.get(usize::MAX)), ("last", "", ""));
        // One byte short of a slot: "a" cut to nothing at its boundary.
        notes.set(1, &format!("{}é", "a".repeat(NOTE_BYTES - 1)));
        assert_eq!(notes.get(1), "a".repeat(NOTE_BYTES - 1));
    }

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(backoff_ms(0), 0);
        assert_eq!(backoff_ms(1), 250);
        assert_eq!(backoff_ms(2), 500);
        assert_eq!(backoff_ms(8), 30_000);
        assert_eq!(backoff_ms(40), 30_000);
    }

    #[test]
    fn state_classes_are_disjoint_where_they_must_be() {
        for s in State::ALL {
            assert!(!(s.is_started() && s.is_down()), "{s:?}");
        }
    }
}
