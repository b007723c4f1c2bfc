//! The resolved configuration model: what the configuration languages produce
//! (`epoch.conf` with its Imports, and the IOC files) and what the engine, the
//! JSON dump of `check-config` and the CLI consume.
//!
//! Plain data, no I/O. Everything here is allocated once when a configuration
//! loads; the engine only reads it afterwards. The strings of the objects are
//! [`SharedStr`]s: ranges of one text per configuration (config::shared).

use std::num::NonZeroU32;
use std::path::PathBuf;

pub use super::shared::{Runlevels, SharedPath, SharedStr};

/// Where a setting came from: an index into [`Config::files`] and a 1-based line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Location {
    pub file: usize,
    pub line: u32,
}

/// The most runlevel names one configuration may have: the engine keeps the
/// runlevels of each object in a 64-bit set. More is a load error.
pub const MAX_RUNLEVELS: usize = 64;

/// A whole, valid configuration.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Every file that was read: `files[0]` is the main `epoch.conf`, then the
    /// Imports in the order they were reached, then the IOC files.
    pub files: Vec<PathBuf>,
    pub globals: Globals,
    /// Objects in the order they were declared; IOC-file objects come last.
    pub objects: Vec<Object>,
    /// Every runlevel named by an object or a global, with its direct
    /// inheritance (Epoch's inheritance is deliberately not recursive).
    pub runlevels: Vec<Runlevel>,
}

/// A value that is either written inline or read from a file at boot
/// (`Hostname FILE /etc/hostname`, `BootBannerText FILE /etc/motd`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Text {
    Literal(String),
    File(PathBuf),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Color {
    #[default]
    None,
    Black,
    Blue,
    Red,
    Green,
    Yellow,
    Magenta,
    Cyan,
    White,
}

/// The virtual filesystems of `MountVirtual`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VirtualFs {
    /// `devfs`: devtmpfs on /dev.
    Dev,
    /// `devpts`: /dev/pts.
    DevPts,
    /// `devshm`: tmpfs on /dev/shm.
    DevShm,
    /// `procfs`: /proc.
    Proc,
    /// `sysfs`: /sys.
    Sys,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VirtualMount {
    pub fs: VirtualFs,
    /// The `+` suffix: create the mount point first.
    pub create_dir: bool,
}

/// `StatusNames=Fail,Ok,Warning`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusNames {
    pub fail: String,
    pub ok: String,
    pub warning: String,
}

impl Default for StatusNames {
    fn default() -> Self {
        StatusNames { fail: "FAIL".into(), ok: "Done".into(), warning: "WARN".into() }
    }
}

/// Seconds a start (prestart, start command, pid file) may take when neither
/// `StartTimeout` nor `STARTTIMEOUT=` says otherwise: longer than any
/// ordinary boot step of a board, short enough that one hung step does not
/// keep every later priority (the IOCs) down for good.
pub const DEFAULT_START_TIMEOUT_S: u32 = 120;

/// Seconds a start waits for ObjectPIDFile to name a live process of the
/// object when `PIDFileTimeout` does not say otherwise; then the object is
/// started with a warning, as in Epoch.
pub const DEFAULT_PIDFILE_TIMEOUT_S: u32 = 30;

/// Seconds an `ObjectStopCommand` may run when `StopCommandTimeout` does not
/// say otherwise: far longer than any ordinary stop (a backup, a flush, a
/// sync), yet finite, so a hung stop command cannot keep a board from ever
/// rebooting.
pub const DEFAULT_STOP_COMMAND_TIMEOUT_S: u32 = 300;

/// AUTORESTART: a process that ran fewer seconds than this failed fast,
/// when `RestartFastFailure` does not say otherwise.
pub const DEFAULT_FAST_FAILURE_S: u32 = 10;

/// AUTORESTART: fast failures in a row before an object is `crashed`, when
/// `RestartCrashLimit` does not say otherwise (as finit's `restart:10`).
pub const DEFAULT_CRASH_LIMIT: u32 = 10;

#[derive(Debug, Clone, Default)]
pub struct Globals {
    pub default_runlevel: String,
    pub disable_cad: bool,
    pub boot_banner: Option<Text>,
    pub boot_banner_color: Color,
    pub hostname: Option<Text>,
    pub domainname: Option<Text>,
    pub mount_virtual: Vec<VirtualMount>,
    pub enable_logging: bool,
    pub blank_log_on_boot: bool,
    /// `GlobalEnvVar` values, each `NAME=value` exactly as written.
    pub env: Vec<String>,
    /// `StartingStatusFormat`; `None` means the default `"!TITLE! ... "`.
    pub starting_status_format: Option<Text>,
    /// `FinishedStatusFormat`; `None` means the default `"!STATUS!"`.
    pub finished_status_format: Option<Text>,
    /// `StatusNames`, inline (already split) or from a file read at boot.
    pub status_names: Option<StatusNamesSource>,
    /// `DefinePriority` names, kept for the JSON dump; objects hold numbers.
    pub priorities: Vec<(String, u32)>,
    /// Extension `StartTimeout`: seconds a start may take before it is
    /// killed and failed; `None` means [`DEFAULT_START_TIMEOUT_S`], 0 none.
    pub start_timeout: Option<u32>,
    /// Extension `PIDFileTimeout`: seconds a start waits for ObjectPIDFile;
    /// `None` means [`DEFAULT_PIDFILE_TIMEOUT_S`], 0 looks once.
    pub pid_file_timeout: Option<u32>,
    /// Extension `StopCommandTimeout`: seconds a stop command may run before
    /// its process group is killed; `None` means
    /// [`DEFAULT_STOP_COMMAND_TIMEOUT_S`], 0 none.
    pub stop_command_timeout: Option<u32>,
    /// Extension `RestartFastFailure`: an AUTORESTART process that ran
    /// fewer seconds than this failed fast (the restart backs off); `None`
    /// means [`DEFAULT_FAST_FAILURE_S`].
    pub restart_fast_failure: Option<u32>,
    /// Extension `RestartCrashLimit`: fast failures in a row before the
    /// object is `crashed`; `None` means [`DEFAULT_CRASH_LIMIT`].
    pub restart_crash_limit: Option<u32>,
    /// Our extensions for IOCs.
    pub ioc: IocGlobals,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusNamesSource {
    Inline(StatusNames),
    File(PathBuf),
}

/// Extension globals (not Epoch's; `--strict-epoch` rejects them).
#[derive(Debug, Clone)]
pub struct IocGlobals {
    /// `IocDirectory`: where the IOC files are (default `/etc/procServ.d`).
    pub directory: PathBuf,
    /// `IocGroup`: the group whose members may manage IOCs (default `ioc`).
    pub group: String,
    /// `IocUser`: the user an IOC runs as when its file may not choose one
    /// (default `ioc-srv`).
    pub user: String,
    /// `IocSocketUser`: owner of console sockets (default: the IOC's user).
    pub socket_user: Option<String>,
    /// `IocStartPriority`: `None` means after every other object.
    pub start_priority: Option<u32>,
    /// `IocStopPriority` (default 1: IOCs stop first).
    pub stop_priority: u32,
    /// `IocRunlevels`: empty means the default runlevel.
    pub runlevels: Vec<String>,
    /// `IocLogDirectory` (default `/var/log/procserv`).
    pub log_directory: PathBuf,
    /// `IocStateDirectory`: where an IOC file that may not choose its user
    /// may put its IOC_STATE_DIR (default `/var/lib/ioc`).
    pub state_directory: PathBuf,
    /// `IocLogMaxSize` in bytes; 0 disables rotation (default 1 MiB).
    pub log_max_bytes: u64,
    /// `IocLogKeep`: rotated logs kept (default 3).
    pub log_keep: u32,
    /// `IocHoldoff`: procServ's seconds between IOC restarts (default 2, as
    /// epics-ioc-runner's restart interval).
    pub holdoff_secs: u32,
    /// `ProcServ`: the procServ executable (default: `procServ` on PATH).
    pub procserv: PathBuf,
    /// `IocEnabled`: whether an IOC file's IOC starts at boot before any
    /// `ioc enable` (default false: as under epics-ioc-runner, installing
    /// is not enabling).
    pub enabled: bool,
}

impl Default for IocGlobals {
    fn default() -> Self {
        IocGlobals {
            directory: PathBuf::from("/etc/procServ.d"),
            group: "ioc".into(),
            user: "ioc-srv".into(),
            socket_user: None,
            start_priority: None,
            stop_priority: 1,
            runlevels: Vec::new(),
            log_directory: PathBuf::from("/var/log/procserv"),
            state_directory: PathBuf::from("/var/lib/ioc"),
            log_max_bytes: 1 << 20,
            log_keep: 3,
            holdoff_secs: 2,
            procserv: PathBuf::from("procServ"),
            enabled: false,
        }
    }
}

impl Globals {
    /// The runlevels of IOC-file objects: `IocRunlevels`, or else the
    /// default runlevel.
    pub fn ioc_runlevels(&self) -> Vec<String> {
        match self.ioc.runlevels.as_slice() {
            [] if self.default_runlevel.is_empty() => Vec::new(),
            [] => vec![self.default_runlevel.clone()],
            list => list.to_vec(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Runlevel {
    pub name: String,
    /// Runlevels whose objects this one also starts (direct only).
    pub inherits: Vec<String>,
}

/// How an object is stopped.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum StopMethod {
    /// No stop command (`NONE` or omitted).
    #[default]
    None,
    /// A command line run to stop the object.
    Command(SharedStr),
    /// Send TERMSIGNAL to the tracked PID.
    Pid,
    /// Send TERMSIGNAL to the PID in this file (or in `ObjectPIDFile` when `None`).
    PidFile(Option<SharedPath>),
    /// Epoch's built-in killall5: signal (default SIGTERM) then wait seconds.
    Killall5 { signal: Option<i32>, wait_secs: Option<u32> },
}

/// What `reload` does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReloadMethod {
    Command(SharedStr),
    Signal(i32),
}

/// Where a standard stream goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    File(SharedPath),
    /// `LOG`: the system log.
    Log,
}

/// How a start command's exit code is judged (`MAPEXITSTATUS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitResult {
    Success,
    Warning,
    Failure,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub raw_description: bool,
    pub fork: bool,
    pub forkn: bool,
    pub pivot: bool,
    pub exec: bool,
    pub persistent: bool,
    pub service: bool,
    pub autorestart: bool,
    pub runonce: bool,
    /// `STOPTIMEOUT=n` seconds; `None` means the default (10 s).
    pub stop_timeout: Option<u32>,
    /// Extension `STARTTIMEOUT=n` seconds (0: none); `None` means the global
    /// `StartTimeout`.
    pub start_timeout: Option<u32>,
    pub no_stop_wait: bool,
    pub halt_only: bool,
    /// `TERMSIGNAL=n|NAME`; `None` means SIGTERM.
    pub term_signal: Option<i32>,
    pub force_shell: bool,
    pub start_fail_critical: bool,
    pub stop_fail_critical: bool,
    pub no_track: bool,
    /// `MAPEXITSTATUS=code,RESULT`, in the order given (a later one wins).
    pub exit_map: Vec<(u8, ExitResult)>,
    /// Extension `PROCSERV`: run the start command under procServ with a console.
    pub procserv: bool,
}

impl Options {
    /// No option set (what `default` gives), for [`Object::EMPTY`].
    pub(crate) const NONE: Options = Options {
        raw_description: false,
        fork: false,
        forkn: false,
        pivot: false,
        exec: false,
        persistent: false,
        service: false,
        autorestart: false,
        runonce: false,
        stop_timeout: None,
        start_timeout: None,
        no_stop_wait: false,
        halt_only: false,
        term_signal: None,
        force_shell: false,
        start_fail_critical: false,
        stop_fail_critical: false,
        no_track: false,
        exit_map: Vec::new(),
        procserv: false,
    };
}

impl Default for Options {
    fn default() -> Self {
        Options::NONE
    }
}

/// An object that runs under procServ with a UNIX-socket console: every IOC
/// file, and every object with the `PROCSERV` option. What procServ runs is
/// the object's own: its ID names the console (`/run/procserv/<ID>/control`),
/// its start command is procServ's child, its working directory procServ's
/// `--chdir`, its user and group whom the IOC runs as (IOC_NAME, IOC_CMD,
/// IOC_CHDIR, IOC_USER, IOC_GROUP for an IOC file), not copies of them here:
/// PID 1 keeps every IOC's (docs/ARCHITECTURE.md, "What PID 1 keeps per IOC").
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Console {
    /// True for objects made from an IOC file (as opposed to `PROCSERV`).
    pub from_ioc_file: bool,
    /// Whether the object's user and group are honoured: true for `PROCSERV`
    /// objects (root's epoch.conf) and for IOC files that root owns and nobody
    /// else may write. Otherwise the IOC runs as `IocUser` and `IocGroup`,
    /// never as root (docs/CONFIG.md, "Who an IOC runs as").
    pub may_choose_credentials: bool,
    /// An IOC file's variables, `NAME=value` (the IOC_* keys included), one
    /// a line ([`Console::environment`]): the environment of procServ and the
    /// IOC only, never of a command run as root. One string of the object's
    /// text, not a list of strings of their own (a value holds no control
    /// character, so a newline ends an entry). Empty for `PROCSERV` objects
    /// (they have ObjectEnvVar).
    pub env: SharedStr,
}

impl Console {
    /// The IOC file's variables, `NAME=value`, in the file's order.
    pub fn environment(&self) -> impl Iterator<Item = &str> {
        self.env.split('\n').filter(|entry| !entry.is_empty())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    pub id: SharedStr,
    /// `ObjectDescription`, or the ID when none is given.
    pub description: SharedStr,
    /// The `ObjectID` line (for an IOC, line 0 of its file).
    pub location: Location,
    pub start: Option<SharedStr>,
    pub stop: StopMethod,
    /// 0 means "not started at boot or on runlevel changes".
    pub start_priority: u32,
    /// 0 means "not stopped by priority at shutdown".
    pub stop_priority: u32,
    pub enabled: bool,
    /// The line of `ObjectEnabled`, if any (for tools that edit the file),
    /// in the file of the `ObjectID` line ([`Object::enabled_location`]):
    /// an object is completed within one file, and a line of its own, not
    /// an `Option<Location>`, keeps 24 bytes out of every object.
    pub enabled_line: Option<NonZeroU32>,
    pub runlevels: Runlevels,
    pub options: Options,
    /// What most objects lack ([`Object::rare`]); `None` when none is set
    /// (boxed: PID 1 keeps every object, and 32 of 248 bytes or less fit in
    /// two heap pages, of 504 in four).
    pub rare: Option<Box<RareSettings>>,
    /// Set for IOCs and `PROCSERV` objects (boxed: most objects have none,
    /// and every object would carry its size).
    pub console: Option<Box<Console>>,
    /// Extension: limits, nice, umask and CPUs of the start command
    /// (`IOC_RTPRIO`... / `ObjectRtPrio`...); `None` when none is set (boxed:
    /// few objects have them, and every object would carry their size).
    pub process: Option<Box<super::process::ProcessSettings>>,
}

/// The settings of an object that most objects do not set.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RareSettings {
    pub prestart: Option<SharedStr>,
    pub reload: Option<ReloadMethod>,
    pub pid_file: Option<SharedPath>,
    pub working_directory: Option<SharedPath>,
    pub user: Option<SharedStr>,
    pub group: Option<SharedStr>,
    pub stdout: Option<Output>,
    pub stderr: Option<Output>,
    /// `ObjectEnvVar` values, each `NAME=value` as written.
    pub env: Vec<SharedStr>,
    /// Extension `IOC_STATE_DIR`: a directory the start command's user owns,
    /// made before each start and kept across restarts.
    pub state_directory: Option<SharedPath>,
    /// Extension `IOC_HOST`: the host name this object starts on; on any
    /// other it is not started.
    pub host: Option<SharedStr>,
}

/// [`Object::rare`] of an object that sets none of them.
static NO_RARE_SETTINGS: RareSettings = RareSettings {
    prestart: None,
    reload: None,
    pid_file: None,
    working_directory: None,
    user: None,
    group: None,
    stdout: None,
    stderr: None,
    env: Vec::new(),
    state_directory: None,
    host: None,
};

impl Default for Object {
    fn default() -> Self {
        Object::EMPTY
    }
}

impl Object {
    /// An object with nothing set (what `default` gives), as a constant:
    /// the parser starts every object from it, written as it is pushed,
    /// not built field by field in a call of its own (`Object::default`
    /// was 1.5 to 3 % of a load's samples in `perf record`).
    pub(crate) const EMPTY: Object = Object {
        id: SharedStr::EMPTY,
        description: SharedStr::EMPTY,
        location: Location { file: 0, line: 0 },
        start: None,
        stop: StopMethod::None,
        start_priority: 0,
        stop_priority: 0,
        enabled: false,
        enabled_line: None,
        runlevels: Runlevels(SharedStr::EMPTY),
        options: Options::NONE,
        rare: None,
        console: None,
        process: None,
    };

    /// Calls `f` with every string of the object, for [`Config::finish_load`].
    /// Each field is named: a field added to `Object` fails to compile here
    /// until it is listed (or said to hold no string).
    pub(crate) fn for_each_string(&mut self, f: &mut dyn FnMut(&mut SharedStr)) {
        let Object {
            id,
            description,
            location: _,
            start,
            stop,
            start_priority: _,
            stop_priority: _,
            enabled: _,
            enabled_line: _,
            runlevels,
            options: _,
            rare,
            console,
            process: _,
        } = self;
        // One call per string, no iterator chain: packing visits every
        // string of every object three times, and at opt-level "z" the
        // adapters of a chain over arrays of options are calls each.
        f(id);
        f(description);
        let mut optional = |text: Option<&mut SharedStr>| {
            if let Some(text) = text {
                f(text);
            }
        };
        optional(start.as_mut());
        match stop {
            StopMethod::Command(command) => f(command),
            StopMethod::PidFile(Some(path)) => f(&mut path.0),
            StopMethod::PidFile(None) | StopMethod::None | StopMethod::Pid | StopMethod::Killall5 { .. } => {}
        }
        f(&mut runlevels.0);
        if let Some(rare) = rare {
            rare.for_each_string(f);
        }
        if let Some(console) = console {
            f(&mut console.env);
        }
    }

    /// Where `ObjectEnabled` was given, if it was.
    pub fn enabled_location(&self) -> Option<Location> {
        self.enabled_line.map(|line| Location { line: line.get(), ..self.location })
    }

    /// The settings most objects lack (none set when [`Object::rare`] is `None`).
    pub fn rare(&self) -> &RareSettings {
        self.rare.as_deref().unwrap_or(&NO_RARE_SETTINGS)
    }

    /// [`Object::rare`] to change (made when first asked for).
    pub fn rare_mut(&mut self) -> &mut RareSettings {
        self.rare.get_or_insert_default()
    }

    /// How a start command's exit code maps to a result: MAPEXITSTATUS first,
    /// then 0 = success, anything else = failure.
    pub fn exit_result(&self, code: u8) -> ExitResult {
        match self.options.exit_map.iter().rev().find(|(c, _)| *c == code) {
            Some((_, result)) => *result,
            None if code == 0 => ExitResult::Success,
            None => ExitResult::Failure,
        }
    }
}

impl RareSettings {
    /// [`Object::for_each_string`] of these settings.
    fn for_each_string(&mut self, f: &mut dyn FnMut(&mut SharedStr)) {
        let RareSettings { prestart, reload, pid_file, working_directory, user, group, stdout, stderr, env, state_directory, host } = self;
        let mut optional = |text: Option<&mut SharedStr>| {
            if let Some(text) = text {
                f(text);
            }
        };
        optional(prestart.as_mut());
        optional(user.as_mut());
        optional(group.as_mut());
        optional(host.as_mut());
        optional(pid_file.as_mut().map(|path| &mut path.0));
        optional(working_directory.as_mut().map(|path| &mut path.0));
        optional(state_directory.as_mut().map(|path| &mut path.0));
        if let Some(ReloadMethod::Command(command)) = reload {
            f(command);
        }
        for output in [stdout, stderr] {
            if let Some(Output::File(path)) = output {
                f(&mut path.0);
            }
        }
        for text in env.iter_mut() {
            f(text);
        }
    }
}

/// The bytes of the strings of a configuration's first `objects` objects,
/// counted by the parser as it made them ([`Config::finish_load`]).
#[derive(Clone, Copy, Default)]
pub(crate) struct CountedStrings {
    pub objects: usize,
    pub bytes: usize,
}

impl Config {
    /// Sizes what a loaded configuration keeps of its files, once: the
    /// strings of every object packed into one text (see config::shared),
    /// the tables of objects and files at their length (grown by doubling
    /// as the files were read, 40 objects would hold room for 64, 6 KB of
    /// PID 1's heap). `counted`: what the parser counted of the strings of
    /// the first objects; the others' are summed here.
    pub(crate) fn finish_load(&mut self, counted: CountedStrings) {
        let mut size = counted.bytes;
        self.for_each_string(counted.objects, &mut |s| size = size.saturating_add(s.len()));
        super::shared::pack(size, |f| self.for_each_string(0, f));
        self.objects.shrink_to_fit();
        self.files.shrink_to_fit();
    }

    /// Calls `f` with every string of the objects from the `first`, for
    /// [`Self::finish_load`] (one caller of [`Object::for_each_string`]:
    /// it stays inlined into the loop over the objects).
    fn for_each_string(&mut self, first: usize, f: &mut dyn FnMut(&mut SharedStr)) {
        for object in self.objects.get_mut(first..).unwrap_or_default() {
            object.for_each_string(f);
        }
    }

    /// This configuration without its IOC-file objects: what epoch.conf and
    /// its Imports gave, which an IOC rescan keeps as it is.
    pub fn without_ioc_files(mut self) -> Config {
        let is_ioc_file = |o: &Object| o.console.as_ref().is_some_and(|c| c.from_ioc_file);
        let first_ioc_file = self.objects.iter().filter(|o| is_ioc_file(o)).map(|o| o.location.file).min();
        self.objects.retain(|o| !is_ioc_file(o));
        if let Some(first) = first_ioc_file {
            self.files.truncate(first);
        }
        self
    }

    /// The index of the object with this ID.
    pub fn find(&self, id: &str) -> Option<usize> {
        self.objects.iter().position(|o| o.id == id)
    }

    pub fn runlevel(&self, name: &str) -> Option<&Runlevel> {
        self.runlevels.iter().find(|r| r.name == name)
    }

    /// Whether `object` belongs to `runlevel`, directly or through the
    /// runlevel's (non-recursive) inheritance.
    pub fn in_runlevel(&self, object: &Object, runlevel: &str) -> bool {
        if object.runlevels.iter().any(|r| r == runlevel) {
            return true;
        }
        self.runlevel(runlevel)
            .map(|rl| rl.inherits.iter().any(|inh| object.runlevels.iter().any(|r| r == inh)))
            .unwrap_or(false)
    }

    /// Objects to start on entering `runlevel`, in start order: enabled, in the
    /// runlevel, start priority above 0, not HALTONLY. Ties keep file order.
    pub fn start_order(&self, runlevel: &str) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.objects.len())
            .filter(|&i| {
                let o = &self.objects[i];
                o.enabled && o.start_priority > 0 && !o.options.halt_only && self.in_runlevel(o, runlevel)
            })
            .collect();
        self.sort_by_priority(&mut order, |o| o.start_priority);
        order
    }

    /// Objects stopped at shutdown, in stop order: stop priority above 0.
    /// Ties keep file order.
    pub fn stop_order(&self) -> Vec<usize> {
        let mut order: Vec<usize> =
            (0..self.objects.len()).filter(|&i| self.objects[i].stop_priority > 0).collect();
        self.sort_by_priority(&mut order, |o| o.stop_priority);
        order
    }

    /// Sorts the object indices `order` by `priority`, ties in file order.
    /// A function pointer, not a closure type per caller: one copy of the
    /// sort for both orders.
    fn sort_by_priority(&self, order: &mut [usize], priority: fn(&Object) -> u32) {
        order.sort_by_key(|&i| priority(&self.objects[i]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// PID 1 keeps the configuration's objects for its whole life, all in
    /// one table: with what most objects lack boxed ([`RareSettings`]), 32
    /// objects and mallocng's 20-byte header fit in two pages of the heap
    /// (four at 504 bytes an object). docs/ARCHITECTURE.md, "PID 1's
    /// memory, page by page".
    #[test]
    fn thirty_two_objects_fit_in_two_heap_pages() {
        let object = std::mem::size_of::<Object>();
        assert!(32 * object + 20 <= 2 * 4096, "{object} bytes an object");
    }

    /// Each order by its own priority (one sort serves both), 0 left out,
    /// ties in file order.
    #[test]
    fn start_and_stop_orders_sort_by_their_own_priority_ties_in_file_order() {
        let object = |start_priority, stop_priority| Object {
            start_priority,
            stop_priority,
            enabled: true,
            runlevels: "default".into(),
            ..Object::default()
        };
        let config = Config {
            objects: vec![object(5, 1), object(2, 3), object(5, 0), object(0, 3), object(2, 2)],
            ..Config::default()
        };
        assert_eq!(config.start_order("default"), [1, 4, 0, 2]);
        assert_eq!(config.stop_order(), [0, 4, 1, 3]);
    }
}
