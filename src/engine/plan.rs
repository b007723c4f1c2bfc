//! Per-object execution plans, prepared once when a configuration loads:
//! every command as a ready-to-exec [`Command`], users and groups resolved to
//! ids, paths as C strings, the environment merged. The engine then starts and
//! stops objects without allocating.
//!
//! Problems found here (an unknown user, a command with a NUL) do not stop the
//! load: they are returned as messages and the affected start fails with them.

use std::ffi::{CStr, CString};
use std::path::Path;

use crate::accounts::{self, Key};
use crate::config::process::ProcessSettings;
use crate::config::iocfile;
use crate::config::{Config, Object, Output, ReloadMethod, SharedStr, StopMethod};
use crate::ioc::procserv::{self, ConsolePaths};
use crate::layout::Layout;
use crate::spawn::{rlimit, Command, CpuMask, Credentials, ProcessSetup};
use crate::sys::path_c;

/// The environment variable that marks every process of an object, so that
/// the object's daemons and orphans can be found in /proc.
pub const MARKER_VAR: &str = "IOCINIT_OBJECT";

pub use crate::spawn::DEFAULT_PATH;

/// Where a standard stream of an object goes.
#[derive(Debug, Clone)]
pub enum OutputPlan {
    /// The supervisor's (the console, for PID 1).
    Inherit,
    Null,
    Append(CString),
}

/// A console (procServ) object's paths and socket ownership.
#[derive(Debug, Clone)]
pub struct ConsolePlan {
    /// The console directory, its socket, its info file, the log and the
    /// log directory, NUL-terminated back to back: one allocation, not
    /// five, as PID 1 keeps them for each IOC (docs/ARCHITECTURE.md, "What
    /// PID 1 keeps per IOC").
    paths: Box<[u8]>,
    /// Owner and group of the console directory (the socket gets them from procServ).
    pub uid: u32,
    pub gid: u32,
    /// The IOC file's `IOC_META_*` variables as `ioc status` shows them,
    /// one `NAME=value` a line (prepared here: a status reply must not allocate).
    pub metadata: String,
    /// The IOC file's CRASH_LOG_PATTERNS_EXTRA, as written (bounded in bytes; `ioc start` checks the rest).
    pub crash_patterns: String,
}

/// What an engine needs to run one object. Clone gives another engine its
/// own copy without building it again (building asks NSS for users and
/// groups: the fuzzer builds its plans once and copies them per input).
///
/// PID 1 keeps one for each object for its whole life, so a plan takes the
/// room of what its object has: the parts most objects lack (a prestart,
/// stop or reload command, a state directory, a console, process settings,
/// PIVOT, a user or group to run as) are boxed, 8 bytes when absent instead
/// of their full size (a [`Command`] is 48 bytes on 64-bit, whom it runs
/// as 80). docs/ARCHITECTURE.md, "PID 1's memory, page by page".
#[derive(Debug, Clone)]
pub struct ObjectPlan {
    /// `IOCINIT_OBJECT=<id>`: matched against /proc/PID/environ.
    pub marker: CString,
    pub prestart: Option<Box<Command>>,
    pub start: Option<Command>,
    pub stop: Option<Box<Command>>,
    pub reload: Option<Box<Command>>,
    /// PIVOT: new root and where the old one goes.
    pub pivot: Option<Box<(CString, CString)>>,
    /// Why the start command cannot run (set when preparing it failed).
    pub start_problem: Option<Box<str>>,
    /// Whom the start command runs as, when the object names a user or
    /// group ([`ObjectPlan::credentials`], [`ObjectPlan::user`]).
    run_as: Option<Box<RunAs>>,
    /// The uid the start command runs as: that of `credentials`, else the
    /// supervisor's own. An object's reparented processes must run as it.
    pub uid: u32,
    /// ObjectWorkingDirectory: the commands above already run from it; the
    /// engine names a failure of the trampoline's for it.
    pub cwd: Option<CString>,
    /// Standard input from /dev/null instead of the console.
    pub stdin_null: bool,
    pub stdout: OutputPlan,
    pub stderr: OutputPlan,
    /// ObjectPIDFile.
    pub pid_file: Option<CString>,
    /// The file read by `ObjectStopCommand PIDFILE [path]`.
    pub stop_pid_file: Option<CString>,
    pub console: Option<Box<ConsolePlan>>,
    /// The start command's limits, nice value, umask and CPUs (extension).
    pub process: Option<Box<ProcessSetup>>,
    /// `iocinit-statedir DIR UID GID` (crate::statedir), run as root
    /// before each start.
    pub state_dir: Option<Box<Command>>,
}

/// Whom an object's start command runs as, when it names a user or group:
/// boxed in its plan, as most objects run as the supervisor.
#[derive(Debug, Clone)]
struct RunAs {
    credentials: Option<Credentials>,
    user: Option<String>,
    group: Option<String>,
}

impl ConsolePlan {
    /// The plan of a console at these paths (None when one holds a NUL byte).
    pub fn new(paths: &ConsolePaths, log_dir: &Path, uid: u32, gid: u32, metadata: String, crash_patterns: String) -> Option<ConsolePlan> {
        let all = [&paths.dir, &paths.socket, &paths.info, &paths.log, log_dir].map(|p| p.as_os_str().as_encoded_bytes());
        if all.iter().any(|p| p.contains(&0)) {
            return None;
        }
        let paths = all.iter().flat_map(|p| p.iter().copied().chain([0])).collect();
        Some(ConsolePlan { paths, uid, gid, metadata, crash_patterns })
    }

    /// Path `k` of `paths` (found by its NUL: five short paths, no table of
    /// where each starts to keep).
    fn path(&self, k: usize) -> &CStr {
        self.paths.split_inclusive(|&b| b == 0).nth(k).and_then(|p| CStr::from_bytes_with_nul(p).ok()).unwrap_or_default()
    }

    /// The console directory (`RUN/procserv/NAME`).
    pub fn dir(&self) -> &CStr {
        self.path(0)
    }

    /// procServ's socket in it.
    pub fn socket(&self) -> &CStr {
        self.path(1)
    }

    /// procServ's info file in it.
    pub fn info(&self) -> &CStr {
        self.path(2)
    }

    /// The IOC's log file.
    pub fn log(&self) -> &CStr {
        self.path(3)
    }

    /// The directory of the log.
    pub fn log_dir(&self) -> &CStr {
        self.path(4)
    }
}

impl ObjectPlan {
    /// Applies to the start command only (Epoch: everything else runs as root).
    pub fn credentials(&self) -> Option<&Credentials> {
        self.run_as.as_ref()?.credentials.as_ref()
    }

    /// The user the start command runs as, by name, as `status` shows it
    /// (`None`: the supervisor's own).
    pub fn user(&self) -> Option<&str> {
        self.run_as.as_ref()?.user.as_deref()
    }

    /// The group the start command runs as, by name, as `status` shows it.
    pub fn group(&self) -> Option<&str> {
        self.run_as.as_ref()?.group.as_deref()
    }
}

fn cstring(s: impl AsRef<[u8]>) -> Option<CString> {
    CString::new(s.as_ref()).ok()
}

/// The name of group `gid`, or its number when it has none.
fn group_name(gid: u32) -> String {
    accounts::group(Key::Id(gid)).map_or_else(|| gid.to_string(), |g| g.name)
}

/// Resolves user and group names as Epoch does: a user brings its primary and
/// supplementary groups; a group alone changes only the group. A user's
/// entry, once found, is left in ENTRY (even if the group is unknown): the
/// start command's HOME, USER and LOGNAME come from it, so that the passwd
/// file is read once for the ids and the environment.
pub fn resolve_credentials(user: Option<&str>, group: Option<&str>, entry: &mut Option<accounts::User>) -> Result<Option<Credentials>, String> {
    if user.is_none() && group.is_none() {
        return Ok(None);
    }
    let (uid, mut gid) = match user {
        Some(name) => {
            let u = entry.insert(accounts::user(Key::Name(name)).ok_or_else(|| format!("unknown user \"{name}\""))?);
            (u.uid, u.gid)
        }
        None => (nix::unistd::getuid().as_raw(), nix::unistd::getgid().as_raw()),
    };
    if let Some(group) = group {
        gid = accounts::group(Key::Name(group)).ok_or_else(|| format!("unknown group \"{group}\""))?.gid;
    }
    let mut groups = entry.as_ref().map_or_else(|| vec![gid], |u| accounts::groups_of(&u.name, gid));
    groups.sort_unstable();
    groups.dedup();
    Ok(Some(Credentials { uid, gid, groups }))
}

/// Merges environment entries: a later `NAME=` replaces an earlier one.
fn merge_env(env: &mut Vec<String>, entry: &str) {
    let name = entry.split('=').next().unwrap_or(entry);
    env.retain(|e| e.split('=').next() != Some(name));
    env.push(entry.to_string());
}

/// The environment every object starts from: PID 1 gets a clean one (the
/// kernel's TERM, a standard PATH); `--local` inherits the user's.
pub fn base_env(layout: &Layout) -> Vec<String> {
    let mut env = Vec::new();
    if layout.local {
        for (k, v) in std::env::vars_os() {
            if let (Some(k), Some(v)) = (k.to_str(), v.to_str()) {
                if k != MARKER_VAR {
                    env.push(format!("{k}={v}"));
                }
            }
        }
    } else {
        env.push(format!("PATH={DEFAULT_PATH}"));
        env.push("HOME=/".into());
        env.push(format!("TERM={}", std::env::var("TERM").unwrap_or_else(|_| "linux".into())));
    }
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        env.push(format!("PATH={DEFAULT_PATH}"));
    }
    env
}

/// The IOC log directory: the configured one, or the local default in
/// `--local` mode when the configuration keeps the system default.
pub fn ioc_log_dir(config: &Config, layout: &Layout) -> std::path::PathBuf {
    let configured = &config.globals.ioc.log_directory;
    match &layout.local_ioc_log_dir {
        Some(local) if *configured == crate::config::IocGlobals::default().log_directory => local.clone(),
        _ => configured.clone(),
    }
}

/// Builds the plans of every object; the second value lists problems as
/// `ObjectID: message` lines.
pub fn build(config: &Config, layout: &Layout) -> (Vec<ObjectPlan>, Vec<String>) {
    let base = base_env(layout);
    // Every object's commands point to these entries instead of a copy each.
    crate::spawn::share_environment(&base);
    // Who runs the supervisor, by name: looked up once, and only where it
    // matters (--local), not once per object in the passwd file.
    let me = if layout.local { accounts::user(Key::Id(nix::unistd::getuid().as_raw())).map(|u| u.name) } else { None };
    let mut problems = Vec::new();
    let plans = config
        .objects
        .iter()
        .map(|object| {
            let (plan, mut p) = build_one(config, layout, &base, me.as_deref(), object);
            problems.extend(p.drain(..).map(|m| format!("{}: {m}", object.id)));
            plan
        })
        .collect();
    (plans, problems)
}

fn build_one(config: &Config, layout: &Layout, base: &[String], me: Option<&str>, object: &Object) -> (ObjectPlan, Vec<String>) {
    let mut problems = Vec::new();
    let mut env = base.to_vec();
    for e in config.globals.env.iter().map(String::as_str).chain(object.rare().env.iter().map(SharedStr::as_str)) {
        merge_env(&mut env, e);
    }
    let marker = format!("{MARKER_VAR}={}", object.id);
    merge_env(&mut env, &marker);

    // Root-run commands (prestart, stop, reload) get the environment as is;
    // the start command also gets the user's HOME/USER/LOGNAME.
    let force_shell = object.options.force_shell;
    let line = |text: Option<&str>, env: &[String], problems: &mut Vec<String>, what: &str| {
        text.and_then(|t| match Command::from_line(t, force_shell, env) {
            Ok(c) => Some(c),
            Err(e) => {
                problems.push(format!("{what}: {e}"));
                None
            }
        })
    };
    let prestart = line(object.rare().prestart.as_deref(), &env, &mut problems, "ObjectPrestartCommand");
    let stop = match &object.stop {
        StopMethod::Command(c) => line(Some(c), &env, &mut problems, "ObjectStopCommand"),
        _ => None,
    };
    let reload = match &object.rare().reload {
        Some(ReloadMethod::Command(c)) => line(Some(c), &env, &mut problems, "ObjectReloadCommand"),
        _ => None,
    };

    // An IOC file that may not choose its credentials (one the IOC group
    // could have written) runs as IocUser and IocGroup, and never as root.
    let ioc = &config.globals.ioc;
    let imposed = object.console.as_ref().is_some_and(|c| !c.may_choose_credentials);
    let (wanted_user, wanted_group) = match &object.console {
        Some(console) if !console.may_choose_credentials => (Some(ioc.user.as_str()), Some(ioc.group.as_str())),
        _ => (object.rare().user.as_deref(), object.rare().group.as_deref()),
    };
    // Running as oneself needs no switch (the usual case under --local). An
    // unprivileged --local supervisor cannot switch at all: it runs a board's
    // IOC files (IOC_USER="ioc-srv") as the user who started it. (Other
    // objects naming someone else still fail to start, as documented.)
    let as_myself = layout.local && object.console.is_some() && !nix::unistd::geteuid().is_root();
    let user = if as_myself { None } else { wanted_user.filter(|u| !(layout.local && me == Some(*u))) };
    let mut start_problem = None;
    let mut entry = None;
    let mut credentials = match resolve_credentials(user, wanted_group.filter(|_| user.is_some() || !layout.local), &mut entry) {
        Ok(c) => c,
        Err(e) => {
            start_problem = Some(e);
            None
        }
    };
    if imposed && !as_myself && credentials.as_ref().is_none_or(|c| c.uid == 0) {
        let why = match start_problem.take() {
            Some(unknown) => unknown,
            None => format!("IocUser {} is root", ioc.user),
        };
        start_problem = Some(format!(
            "not started: the IOC file may not choose its user (root does not own it, or others may write it), \
             so the IOC runs as IocUser, and {why}"
        ));
        credentials = None;
    }
    if let Some(u) = &entry {
        merge_env(&mut env, &format!("HOME={}", u.home.display()));
        merge_env(&mut env, &format!("USER={}", u.name));
        merge_env(&mut env, &format!("LOGNAME={}", u.name));
    }

    let mut console_plan = None;
    let mut pivot = None;
    let start = if let Some(console) = &object.console {
        let log_dir = ioc_log_dir(config, layout);
        let paths = ConsolePaths::new(&layout.console_root(), &log_dir, &object.id);
        // Unprivileged --local: the socket keeps procServ's own user and
        // group (procServ exits on an unknown socket user, and cannot chown
        // to another one).
        // IocSocketUser can only be honoured by a procServ running as root
        // (or as that user): a non-root procServ cannot chown its socket to
        // someone else, so the socket then stays the IOC user's.
        let ioc_user = wanted_user;
        let socket_user = match config.globals.ioc.socket_user.as_deref() {
            Some(wanted) if ioc_user.is_some_and(|u| u != "root" && u != wanted) => {
                problems.push(format!(
                    "IocSocketUser {wanted}: procServ runs as {} and cannot give its socket to another user; the socket stays {}'s",
                    ioc_user.unwrap_or(""),
                    ioc_user.unwrap_or("")
                ));
                ioc_user
            }
            Some(wanted) => Some(wanted),
            None => ioc_user,
        };
        let ids = if as_myself {
            Ok(None)
        } else {
            resolve_credentials(socket_user, Some(config.globals.ioc.group.as_str()), &mut None)
        };
        let (owner, group_id) = match &ids {
            Ok(Some(c)) => (c.uid, c.gid),
            _ => (nix::unistd::getuid().as_raw(), nix::unistd::getgid().as_raw()),
        };
        let socket_user = if as_myself { String::new() } else { socket_user.unwrap_or_default().to_string() };
        // An unknown IOC group must not stop the IOC: the socket then keeps
        // procServ's own group (empty field).
        let socket_group = if matches!(ids, Ok(Some(_))) { config.globals.ioc.group.clone() } else { String::new() };
        if let Err(e) = &ids {
            problems.push(format!("console socket ownership: {e}"));
        }
        let mut argv = procserv::argv(object, &config.globals.ioc, &paths, &socket_user, &socket_group);
        // `--local` with IOC_RUNNER_PROCSERV_TOOL, where the configuration keeps the default.
        if let Some(tool) = layout.local_procserv.as_ref().filter(|_| config.globals.ioc.procserv == crate::config::IocGlobals::default().procserv) {
            if let Some(program) = argv.first_mut() {
                *program = tool.display().to_string();
            }
        }
        let metadata = iocfile::shown_metadata(console.environment());
        let patterns_entry = format!("{}=", iocfile::CRASH_PATTERNS);
        let crash_patterns = console.environment().find_map(|e| e.strip_prefix(&patterns_entry)).unwrap_or_default().to_string();
        console_plan = ConsolePlan::new(&paths, &log_dir, owner, group_id, metadata, crash_patterns).map(Box::new);
        if console_plan.is_none() {
            problems.push("console path contains a NUL byte".into());
        }
        // The IOC file's variables reach procServ and the IOC, after
        // everything of PID 1's except the marker (which a file may not
        // set). procServ itself is found in PID 1's PATH, not the file's,
        // as systemd finds an ExecStart.
        let mut ioc_env = env.clone();
        for entry in console.environment() {
            merge_env(&mut ioc_env, entry);
        }
        merge_env(&mut ioc_env, &marker);
        let words: Vec<&str> = argv.iter().map(String::as_str).collect();
        Command::new(&words, &env).and_then(|c| c.with_env(&ioc_env)).map_err(|e| problems.push(format!("procServ command: {e}"))).ok()
    } else if object.options.pivot {
        let words: Vec<&str> = crate::config::values::words(object.start.as_deref().unwrap_or("")).collect();
        match (words.as_slice(), words.first().and_then(cstring), words.get(1).and_then(cstring)) {
            ([_, _], Some(new_root), Some(put_old)) => pivot = Some(Box::new((new_root, put_old))),
            _ => problems.push("PIVOT: ObjectStartCommand must be \"NEWROOT PUTOLD\"".into()),
        }
        None
    } else if object.options.exec {
        // EXEC commands are never processed by /bin/sh (seed 003).
        let words: Vec<&str> = crate::config::values::words(object.start.as_deref().unwrap_or("")).collect();
        Command::new(&words, &env).map_err(|e| problems.push(format!("EXEC: {e}"))).ok()
    } else {
        line(object.start.as_deref(), &env, &mut problems, "ObjectStartCommand")
    };
    if start.is_none() && pivot.is_none() && object.start.is_some() && start_problem.is_none() {
        start_problem = Some("the start command could not be prepared".into());
    }

    let output = |o: &Option<Output>| match o {
        None => OutputPlan::Inherit,
        Some(Output::Log) => path_c(&layout.system_log).map(OutputPlan::Append).unwrap_or(OutputPlan::Inherit),
        Some(Output::File(p)) => path_c(p).map(OutputPlan::Append).unwrap_or(OutputPlan::Inherit),
    };
    // procServ with a terminal on stdin takes it as one more console client
    // (the serial console would feed the IOC): everything it needs goes to
    // its log file and socket, so its own stdio is /dev/null.
    let is_console = object.console.is_some();
    let (stdout, stderr) = if is_console {
        (OutputPlan::Null, OutputPlan::Null)
    } else {
        (output(&object.rare().stdout), output(&object.rare().stderr))
    };
    let cwd = match &object.console {
        // procServ gets --chdir itself; it runs from /.
        Some(_) => None,
        None => object.rare().working_directory.as_deref().and_then(path_c),
    };
    // Every command of the object runs from there (through spawn's
    // trampoline, so that a directory that hangs cannot hold the supervisor).
    let from_cwd = |command: Option<Command>| match (&cwd, command) {
        (Some(dir), Some(command)) => Some(command.with_working_directory(dir)),
        (_, command) => command,
    };
    let pid_file = object.rare().pid_file.as_deref().and_then(path_c);
    let stop_pid_file = match &object.stop {
        StopMethod::PidFile(Some(p)) => path_c(p),
        StopMethod::PidFile(None) => pid_file.clone(),
        _ => None,
    };
    if matches!(object.stop, StopMethod::PidFile(None)) && pid_file.is_none() {
        problems.push("ObjectStopCommand PIDFILE without a path needs ObjectPIDFile".into());
    }
    // The group `status` shows is the one the start command runs as: a user
    // alone brings its primary group, and one who runs as oneself (--local)
    // keeps one's own. Only a start that cannot run shows what was asked for.
    let group = match &credentials {
        Some(c) => Some(group_name(c.gid)),
        None if start_problem.is_none() && (wanted_user.is_some() || wanted_group.is_some()) => {
            Some(group_name(nix::unistd::getegid().as_raw()))
        }
        None => wanted_group.map(str::to_string),
    };
    let uid = credentials.as_ref().map_or_else(|| nix::unistd::geteuid().as_raw(), |c| c.uid);
    let gid = credentials.as_ref().map_or_else(|| nix::unistd::getegid().as_raw(), |c| c.gid);
    // Not for a start that cannot run: a user that is unknown today would
    // leave root a directory that the IOC's user, once it exists, cannot have.
    let state_dir = object.rare().state_directory.as_ref().filter(|_| start_problem.is_none()).and_then(|dir| {
        let argv = [crate::statedir::APPLET.to_str().unwrap_or_default(), &dir.to_string_lossy(), &uid.to_string(), &gid.to_string()];
        Command::with_program(crate::statedir::EXE, &argv, &env).map_err(|e| problems.push(format!("IOC_STATE_DIR: {e}"))).ok()
    });
    let plan = ObjectPlan {
        marker: cstring(&marker).unwrap_or_default(),
        prestart: from_cwd(prestart).map(Box::new),
        start: from_cwd(start),
        stop: from_cwd(stop).map(Box::new),
        reload: from_cwd(reload).map(Box::new),
        pivot,
        start_problem: start_problem.map(String::into_boxed_str),
        uid,
        run_as: run_as(credentials, if as_myself { me.map(str::to_string) } else { wanted_user.map(str::to_string) }, group),
        cwd,
        stdin_null: is_console,
        stdout,
        stderr,
        pid_file,
        stop_pid_file,
        console: console_plan,
        process: object.process.as_deref().and_then(process_setup).map(Box::new),
        state_dir: state_dir.map(Box::new),
    };
    (plan, problems)
}

/// The plan's [`RunAs`]: none when all three are.
fn run_as(credentials: Option<Credentials>, user: Option<String>, group: Option<String>) -> Option<Box<RunAs>> {
    (credentials.is_some() || user.is_some() || group.is_some()).then(|| Box::new(RunAs { credentials, user, group }))
}

/// What the spawned child passes to the kernel for `settings`.
fn process_setup(settings: &ProcessSettings) -> Option<ProcessSetup> {
    if settings.is_empty() {
        return None;
    }
    let limits = [(rlimit::RTPRIO, settings.rtprio), (rlimit::MEMLOCK, settings.memlock), (rlimit::CORE, settings.core_size)]
        .into_iter()
        .filter_map(|(resource, value)| Some((resource, value?)))
        .collect();
    let cpus = settings.cpus.as_ref().map(|ranges| {
        let mut mask: Box<CpuMask> = Box::default();
        for cpu in ranges.iter().flat_map(|&(first, last)| first..=last) {
            // The configuration's CPUs are below MAX_CPUS, the mask's size.
            if let Some(word) = mask.get_mut(cpu as usize / 64) {
                *word |= 1 << (cpu % 64);
            }
        }
        mask
    });
    Some(ProcessSetup { limits, nice: settings.nice, umask: settings.umask, cpus })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Console, Object, Options};
    use std::path::Path;

    fn obj(id: &str, start: &str) -> Object {
        Object { id: id.into(), description: id.into(), start: Some(start.into()), enabled: true, ..Default::default() }
    }

    #[test]
    fn a_plan_keeps_the_parts_an_object_lacks_out_of_line() {
        // PID 1 keeps a plan per object for good: 1,480 bytes each on 64-bit
        // with every command inline, 488 with the rare parts boxed.
        assert!(std::mem::size_of::<ObjectPlan>() <= 640, "{} bytes", std::mem::size_of::<ObjectPlan>());
    }

    #[test]
    fn environment_merges_global_object_and_marker() {
        let mut config = Config::default();
        config.globals.env = vec!["A=1".into(), "B=2".into()];
        let mut o = obj("svc", "/bin/true");
        o.rare_mut().env = vec!["B=3".into()];
        config.objects.push(o);
        let (plans, problems) = build(&config, &Layout::system());
        assert!(problems.is_empty(), "{problems:?}");
        let env: Vec<String> = plans[0].start.as_ref().unwrap().env().map(|e| e.to_string_lossy().into_owned()).collect();
        assert!(env.contains(&"A=1".to_string()));
        assert!(env.contains(&"B=3".to_string()));
        assert!(!env.contains(&"B=2".to_string()));
        assert!(env.contains(&"IOCINIT_OBJECT=svc".to_string()));
        assert_eq!(plans[0].marker.to_str().unwrap(), "IOCINIT_OBJECT=svc");
    }

    /// An IOC file's variables reach procServ and the IOC only; the marker
    /// stays PID 1's, and procServ is found in PID 1's PATH.
    #[test]
    fn an_ioc_files_variables_reach_the_start_command_only() {
        assert!(iocfile::RESERVED_NAMES.contains(&MARKER_VAR), "an IOC file may not set the marker");
        let text = "IOC_NAME=vac1\nIOC_CMD=./st.cmd\nEPICS_CA_SERVER_PORT=5070\nPATH=/tmp/evil\nIOC_META_OWNER='Jane'\nCRASH_LOG_PATTERNS_EXTRA='BOOM|bang'\n";
        let mut file = iocfile::ReadFile::default();
        iocfile::read(Path::new("/etc/procServ.d/vac1.conf"), text, &mut file).unwrap();
        let mut config = Config::default();
        let mut object = file.to_object(0, &iocfile::IocObjectGlobals::default(), Default::default(), true);
        object.rare_mut().prestart = Some("/bin/true".into());
        config.objects.push(object);
        let (plans, _) = build(&config, &Layout::system());
        let env = |c: &Command| c.env().map(|e| e.to_string_lossy().into_owned()).collect::<Vec<_>>();
        let start = env(plans[0].start.as_ref().unwrap());
        for entry in ["EPICS_CA_SERVER_PORT=5070", "IOC_NAME=vac1", "PATH=/tmp/evil", "IOCINIT_OBJECT=vac1"] {
            assert!(start.contains(&entry.to_string()), "{entry}: {start:?}");
        }
        assert!(!env(plans[0].prestart.as_ref().unwrap()).iter().any(|e| e.starts_with("EPICS_CA_SERVER_PORT=")), "root's commands never");
        assert!(!plans[0].start.as_ref().unwrap().path().to_string_lossy().starts_with("/tmp/evil"));
        let console = plans[0].console.as_ref().unwrap();
        assert_eq!((console.metadata.as_str(), console.crash_patterns.as_str()), ("IOC_META_OWNER=Jane\n", "BOOM|bang"));
    }

    /// PID 1 keeps a plan for each object for its whole life, all in one
    /// table: with the rare parts boxed, 32 plans and mallocng's 20-byte
    /// header fit in two pages of the heap (three at 344 bytes a plan).
    /// docs/ARCHITECTURE.md, "PID 1's memory, page by page".
    #[test]
    fn thirty_two_plans_fit_in_two_heap_pages() {
        let plan = std::mem::size_of::<ObjectPlan>();
        assert!(32 * plan + 20 <= 2 * 4096, "{plan} bytes a plan");
    }

    #[test]
    fn unknown_user_is_a_start_problem_not_a_load_failure() {
        let mut config = Config::default();
        let mut o = obj("svc", "/bin/true");
        o.rare_mut().user = Some("no-such-user-iocinit".into());
        config.objects.push(o);
        let (plans, _) = build(&config, &Layout::system());
        assert_eq!(plans[0].start_problem.as_deref(), Some("unknown user \"no-such-user-iocinit\""));
    }

    #[test]
    fn console_objects_run_procserv() {
        let mut config = Config::default();
        let mut o = obj("demo", "./st.cmd");
        o.rare_mut().working_directory = Some(crate::config::SharedPath("/opt/demo".into()));
        o.console = Some(Box::new(Console { from_ioc_file: true, may_choose_credentials: true, ..Console::default() }));
        o.options = Options { autorestart: true, ..Default::default() };
        config.objects.push(o);
        let (plans, _) = build(&config, &Layout::resolve(false, Some(Path::new("/tmp/r")), None, None));
        let argv: Vec<String> = plans[0].start.as_ref().unwrap().argv().map(|a| a.to_string_lossy().into_owned()).collect();
        assert_eq!(argv[0], "procServ");
        assert!(argv.contains(&"/tmp/r/procserv/demo/info".to_string()));
        let console = plans[0].console.as_ref().unwrap();
        assert_eq!(console.socket().to_str().unwrap(), "/tmp/r/procserv/demo/control");
        assert_eq!(
            [console.dir(), console.info(), console.log(), console.log_dir()].map(|p| p.to_str().unwrap()),
            ["/tmp/r/procserv/demo", "/tmp/r/procserv/demo/info", "/var/log/procserv/demo.log", "/var/log/procserv"]
        );
        assert!(plans[0].cwd.is_none());
        // procServ must not take the console as a client.
        assert!(plans[0].stdin_null);
        assert!(matches!(plans[0].stdout, OutputPlan::Null));
    }
}

#[cfg(test)]
mod credential_tests {
    use super::*;
    use crate::config::{Console, Object};

    /// An IOC file asking for root, which may or may not choose.
    fn ioc(may_choose_credentials: bool, ioc_user: &str) -> Config {
        let mut config = Config::default();
        config.globals.ioc.user = ioc_user.into();
        config.globals.ioc.group = "nogroup".into();
        let console = Console { from_ioc_file: true, may_choose_credentials, ..Console::default() };
        let mut object = Object { id: "vac1".into(), start: Some("./st.cmd".into()), enabled: true, console: Some(Box::new(console)), ..Default::default() };
        (object.rare_mut().user, object.rare_mut().group) = (Some("root".into()), Some("root".into()));
        config.objects.push(object);
        config
    }

    fn only(config: &Config) -> ObjectPlan {
        build(config, &Layout::system()).0.remove(0)
    }

    #[test]
    fn a_file_that_may_choose_runs_as_it_says() {
        let plan = only(&ioc(true, "nobody"));
        assert_eq!(plan.credentials().map(|c| c.uid), Some(0));
        assert_eq!((plan.user(), plan.group()), (Some("root"), Some("root")));
        assert!(plan.start_problem.is_none());
    }

    #[test]
    fn any_other_file_runs_as_iocuser_and_the_ioc_group() {
        let plan = only(&ioc(false, "nobody"));
        let nobody = nix::unistd::User::from_name("nobody").unwrap().unwrap();
        let nogroup = nix::unistd::Group::from_name("nogroup").unwrap().unwrap();
        let credentials = plan.credentials().unwrap();
        assert_eq!((credentials.uid, credentials.gid), (nobody.uid.as_raw(), nogroup.gid.as_raw()));
        assert_eq!((plan.user(), plan.group()), (Some("nobody"), Some("nogroup")));
        assert!(plan.start_problem.is_none());
    }

    /// A configuration of one object that runs as USER and names no group.
    fn one_object_as(user: &str) -> Config {
        let mut object = Object { id: "svc".into(), start: Some("/bin/true".into()), enabled: true, ..Default::default() };
        object.rare_mut().user = Some(user.into());
        Config { objects: vec![object], ..Config::default() }
    }

    #[test]
    fn a_user_alone_shows_the_primary_group_it_runs_with() {
        let plan = only(&one_object_as("nobody"));
        let nobody = nix::unistd::User::from_name("nobody").unwrap().unwrap();
        let primary = nix::unistd::Group::from_gid(nobody.gid).unwrap().unwrap();
        assert_eq!(plan.credentials().map(|c| c.gid), Some(nobody.gid.as_raw()));
        assert_eq!((plan.user(), plan.group()), (Some("nobody"), Some(primary.name.as_str())));
    }

    /// The start command's HOME, USER and LOGNAME and its uid and gid come
    /// from the one entry `build_one` reads (it read the passwd file twice).
    #[test]
    fn the_environment_names_the_user_the_credentials_run_as() {
        let plan = only(&one_object_as("nobody"));
        let nobody = nix::unistd::User::from_name("nobody").unwrap().unwrap();
        let credentials = plan.credentials().unwrap();
        assert_eq!((credentials.uid, credentials.gid), (nobody.uid.as_raw(), nobody.gid.as_raw()));
        let env: Vec<String> = plan.start.as_ref().unwrap().env().map(|e| e.to_string_lossy().into_owned()).collect();
        for entry in [format!("HOME={}", nobody.dir.display()), "USER=nobody".into(), "LOGNAME=nobody".into()] {
            assert!(env.contains(&entry), "{entry}: {env:?}");
        }
    }

    #[test]
    fn never_as_root_nor_as_an_unknown_iocuser() {
        for (ioc_user, why) in [("root", "IocUser root is root"), ("no-such-user-iocinit", "unknown user \"no-such-user-iocinit\"")] {
            let plan = only(&ioc(false, ioc_user));
            assert!(plan.credentials().is_none());
            let problem = plan.start_problem.unwrap_or_default().into_string();
            assert!(problem.starts_with("not started: the IOC file may not choose its user") && problem.ends_with(why), "{problem}");
        }
    }
}

#[cfg(test)]
mod socket_owner_tests {
    use super::*;
    use crate::config::{Console, Object};

    fn ioc(user: &str) -> Config {
        let mut config = Config::default();
        config.globals.ioc.group = "root".into();
        config.globals.ioc.socket_user = Some("daemon".into());
        let mut object = Object {
            id: "vac1".into(),
            description: "vac1".into(),
            start: Some("./st.cmd".into()),
            enabled: true,
            console: Some(Box::new(Console { from_ioc_file: true, may_choose_credentials: true, ..Console::default() })),
            ..Default::default()
        };
        object.rare_mut().user = Some(user.into());
        config.objects.push(object);
        config
    }

    fn port(plans: &[ObjectPlan]) -> String {
        let argv: Vec<String> = plans[0].start.as_ref().unwrap().argv().map(|a| a.to_string_lossy().into_owned()).collect();
        argv.iter().find(|a| a.starts_with("unix:")).unwrap().clone()
    }

    #[test]
    fn a_root_procserv_gives_the_socket_to_iocsocketuser() {
        let (plans, problems) = build(&ioc("root"), &Layout::system());
        assert!(problems.is_empty(), "{problems:?}");
        assert!(port(&plans).starts_with("unix:daemon:root:0660:"), "{}", port(&plans));
    }

    #[test]
    fn a_non_root_procserv_keeps_its_socket_and_says_why() {
        let (plans, problems) = build(&ioc("nobody"), &Layout::system());
        assert!(port(&plans).starts_with("unix:nobody:root:0660:"), "{}", port(&plans));
        assert!(problems.iter().any(|p| p.contains("cannot give its socket to another user")), "{problems:?}");
    }
}
