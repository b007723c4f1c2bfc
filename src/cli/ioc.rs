//! `ioc` (also `ioc-runner`): epics-ioc-runner's verbs on iocinit — generate,
//! install, remove, start, stop, restart, status, enable, disable, view,
//! list, attach, monitor, inspect — without systemd, sudo, ss or ps. State
//! comes from PID 1 over the control socket, the rest from /proc, sock_diag
//! and the IOC's log. `--local` (anywhere) works on the user's own supervisor.

use std::fmt::{self, Write as _};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::ioc_args::{self, Command};
use super::{Common, EXIT_DENIED, EXIT_FAIL, EXIT_OK, EXIT_UNREACHABLE};
use crate::accounts::{self, Key};
use crate::control::client::{Client, ClientError};
use crate::config::iocfile::{self, valid_ioc_name, IocFile};
use crate::control::protocol::{Code, Message, Tag, Verb, FLAG_WAIT};
use crate::ioc::logfollow::LogFollower;
use crate::ioc::procserv::{self, AutoRestart};
use crate::ioc::{attach, generate, inspect, list, procstat, ready, view, Rule};

/// IOC `name`'s file in `dir`. One place for the name, and for its code.
fn conf_file(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.conf"))
}

/// Reports a failed operation on the file at `path`; the exit code.
fn file_failed(path: &Path, e: &std::io::Error) -> i32 {
    eprintln!("ioc: {}: {e}", path.display());
    EXIT_FAIL
}

/// The epics-ioc-runner release whose commands and tests these follow.
const PEER_VERSION: &str = "1.2.4";

/// Seconds `start` and `restart` wait for readiness unless --timeout says.
const READY_TIMEOUT_SECS: u64 = 30;

pub fn main(name: &str, args: Vec<String>) -> i32 {
    let inv = match ioc_args::parse(&args) {
        ioc_args::Parsed::Run(inv) => *inv,
        ioc_args::Parsed::Usage => {
            println!("{}", ioc_args::usage(name));
            return EXIT_OK;
        }
        ioc_args::Parsed::Version => {
            // Scripts look for the peer's "epics-ioc-runner version".
            println!("{name} from iocinit {}: the commands of epics-ioc-runner version {PEER_VERSION}", env!("CARGO_PKG_VERSION"));
            return EXIT_OK;
        }
        ioc_args::Parsed::Error(e) => {
            eprintln!("Error: {e}\nTry '{name} --help'.");
            return EXIT_FAIL;
        }
    };
    let common = &inv.common;
    if let Err(code) = check_runner_env(common.local, inv.verb) {
        return code;
    }
    // `generate` works on files alone, and so does `install` when no
    // supervisor runs (the one started later reads the file); everything
    // else asks the supervisor, started if need be.
    if common.local && !matches!(inv.verb, Command::Generate | Command::Install) {
        if let Err(code) = local_supervisor(common) {
            return code;
        }
    }
    let target = inv.target.as_deref().unwrap_or_default();
    let a = inv.args;
    let timeout = a.timeout.unwrap_or(READY_TIMEOUT_SECS);
    match inv.verb {
        Command::Generate => generate_cmd(common, target.into(), a, inv.force),
        Command::Install => install(common, target.into(), a, inv.force),
        Command::Remove => remove(common, target),
        Command::Rescan => rescan(common),
        Command::Start => start(common, Verb::Start, target, a.no_wait, timeout),
        Command::Restart => start(common, Verb::Restart, target, a.no_wait, timeout),
        Command::Stop => stop(common, target),
        Command::Status => status_cmd(common, inv.target.as_deref(), a.all, a.lines),
        Command::Enable => simple(common, Verb::Enable, target),
        Command::Disable => simple(common, Verb::Disable, target),
        Command::View => view_cmd(common, target),
        Command::Log => log_cmd(common, target, a.lines.unwrap_or(50), inv.force),
        Command::List => list_cmd(common, inv.verbose),
        Command::Attach => attach_cmd(common, target, a.escape.as_deref(), a.timeout.unwrap_or(10)),
        Command::Monitor => with_console(common, target, |ioc| ending(attach::monitor(target, &ioc.console))),
        Command::Inspect => inspect_cmd(common, target, a.partial),
    }
}

/// epics-ioc-runner's `IOC_RUNNER_*` variables (docs/MIGRATING.md,
/// "Environment"): with `--local` the directory and procServ choices are
/// honoured (by the supervisor `ioc --local` starts, see [`local_supervisor`])
/// once they pass the peer's checks; as PID 1 the configuration owns them.
/// A refusal is printed here (`Error: ...`); the exit code.
fn check_runner_env(local: bool, verb: Command) -> Result<(), i32> {
    use crate::layout::{runner_var, RUNNER_CONF_DIR, RUNNER_LOG_DIR, RUNNER_PROCSERV_TOOL, RUNNER_RUN_DIR, RUNNER_SYSTEM_DIRS};
    // The directories say which IOCs a command means: refused outright. The
    // procServ tool matters only where procServ is started (install checks
    // its file first, as the peer does, see [`system_procserv_tool`]).
    if let (false, Some((var, value))) = (local, runner_var(&RUNNER_SYSTEM_DIRS)) {
        return chosen_by_pid1(var, &value);
    }
    if matches!(verb, Command::Start | Command::Restart) {
        system_procserv_tool(local)?;
    }
    if !local {
        warn_system_log_dir();
    }
    for (names, what) in [(&RUNNER_CONF_DIR, "configuration"), (&RUNNER_LOG_DIR, "log"), (&RUNNER_RUN_DIR, "runtime")] {
        if let Some((var, value)) = runner_var(names) {
            if !value.starts_with('/') || value.bytes().any(crate::config::values::is_ascii_blank) {
                return refuse(format_args!("resolved {what} directory '{value}' ({var}) must be an absolute path with no whitespace."));
            }
        }
    }
    // The console client is built in: IOC_RUNNER_CON_TOOL chooses nothing,
    // but a bad value is still the mistake the peer reports.
    for var in [RUNNER_PROCSERV_TOOL, "IOC_RUNNER_CON_TOOL"] {
        if let Some((var, value)) = runner_var(&[var]) {
            if !executable_file(Path::new(&value)) {
                return refuse(format_args!("{var} '{value}' is not an executable file."));
            }
        }
    }
    Ok(())
}

/// Prints `Error: ` and `why`, as the peer refuses a variable; the exit code.
fn refuse(why: fmt::Arguments<'_>) -> Result<(), i32> {
    eprintln!("Error: {why}");
    Err(EXIT_FAIL)
}

/// The refusal of a variable whose choice PID 1's configuration owns.
fn chosen_by_pid1(var: &str, value: &str) -> Result<(), i32> {
    refuse(format_args!(
        "{var}='{value}': on a board PID 1 chooses this (IocDirectory, IocLogDirectory, ProcServ \
         in /etc/epoch/epoch.conf; consoles under /run/procserv). Unset it, or use --local."
    ))
}

/// IOC_RUNNER_PROCSERV_TOOL without `--local`: refused where procServ
/// would be started, as PID 1's `ProcServ` chooses it (printed; the exit code).
fn system_procserv_tool(local: bool) -> Result<(), i32> {
    match crate::layout::runner_var(&[crate::layout::RUNNER_PROCSERV_TOOL]) {
        Some((var, value)) if !local => chosen_by_pid1(var, &value),
        _ => Ok(()),
    }
}

/// The log directory variables without `--local`: procServ writes where
/// PID 1's IocLogDirectory says and every command reads the log PID 1
/// names, so they are ignored, with epics-ioc-runner's warning (its system
/// template fixes the log directory the same way).
fn warn_system_log_dir() {
    use crate::layout::{runner_var, RUNNER_LOG_DIR, RUNNER_SYSTEM_LOG_DIR};
    let system = runner_var(&[RUNNER_SYSTEM_LOG_DIR]).map(|(_, v)| v);
    if let Some((var, value)) = runner_var(&RUNNER_LOG_DIR[..1]).filter(|(_, v)| Some(v) != system.as_ref()) {
        let system = system.as_deref().unwrap_or("PID 1's IocLogDirectory");
        eprintln!(
            "Warning: {var} ({value}) differs from SYSTEM_LOG_DIR ({system}).\n         \
             It is ignored: procServ writes where PID 1's configuration says. Use --local for custom paths."
        );
    }
    if let Some((var, value)) = runner_var(&[RUNNER_SYSTEM_LOG_DIR]) {
        eprintln!("Warning: {var} ({value}) is ignored: PID 1's configuration chooses the log directory (IocLogDirectory).");
    }
}

/// Seconds `ioc --local` waits for the supervisor it started to answer.
const LOCAL_START_SECS: u64 = 10;

/// `ioc --local`: epics-ioc-runner's local mode needs only a systemd user
/// session, so ours starts your supervisor (`iocinit --local`, in its own
/// process group, output to its system log) when none answers, and checks
/// that a running one serves the IOC directory this command means
/// (docs/USER_GUIDE_LOCAL.md, "No supervisor running").
fn local_supervisor(common: &Common) -> Result<(), i32> {
    let layout = common.layout();
    match Client::connect(&layout.control_socket) {
        Ok(_) => return same_ioc_dir(common, &layout),
        Err(ClientError::NotRunning(_)) => {}
        Err(e) => return Err(super::report_client_error(&e)),
    }
    let pid = start_local_supervisor(&layout).map_err(|e| {
        eprintln!("Error: cannot start iocinit --local: {e}");
        EXIT_FAIL
    })?;
    let deadline = std::time::Instant::now() + Duration::from_secs(LOCAL_START_SECS);
    while std::time::Instant::now() < deadline {
        if Client::connect(&layout.control_socket).is_ok() {
            eprintln!(
                "Info: started your supervisor (iocinit --local, pid {pid}); its log: {}; 'iocinit --local poweroff' stops it",
                layout.system_log.display()
            );
            return Ok(());
        }
        if let Some(crate::sys::Reaped { status, .. }) = crate::sys::try_reap(pid) {
            eprintln!("Error: iocinit --local exited ({status}); its log: {}", layout.system_log.display());
            return Err(EXIT_UNREACHABLE);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!("Error: iocinit --local (pid {pid}) did not answer within {LOCAL_START_SECS} s");
    Err(EXIT_UNREACHABLE)
}

/// Starts `iocinit --local` with the control socket and run directory of
/// `layout`, this program's environment (its UTF-8 variables) and every
/// standard stream on /dev/null, in a session of its own (a terminal's
/// Ctrl-C or hang-up is not for it), through the project's own
/// [`spawn`](crate::spawn) rather than std's process layer, which the
/// binary would carry for this one call (docs/ARCHITECTURE.md, "Binary size").
fn start_local_supervisor(layout: &crate::layout::Layout) -> Result<crate::sys::Pid, String> {
    fn utf8(path: &Path) -> Result<&str, String> {
        path.to_str().ok_or_else(|| format!("{} is not UTF-8", path.display()))
    }
    let (socket, run_dir) = (utf8(&layout.control_socket)?, utf8(&layout.run_dir)?);
    let argv = ["iocinit", "--local", "--socket", socket, "--run-dir", run_dir];
    let env = crate::spawn::utf8_environment(&mut |name| eprintln!("Warning: not passed to iocinit --local: {} (not UTF-8)", crate::logging::Quoted::os(name)));
    let command = crate::spawn::Command::with_program("/proc/self/exe", &argv, &env).map_err(|e| e.to_string())?;
    let null = crate::spawn::Redirect::Null;
    let options = crate::spawn::Options { stdin: null, stdout: null, stderr: null, ..Default::default() };
    crate::spawn::spawn(&command, &options).map_err(|e| e.to_string())
}

/// A running local supervisor serving another IOC directory than
/// IOC_RUNNER_(LOCAL_)CONF_DIR names would install and look up elsewhere.
/// One that runs nothing is replaced (poweroff, then a new one for the
/// directory asked for), as epics-ioc-runner's commands follow the variable
/// from one command to the next; one that runs something is left alone and
/// the command refused.
fn same_ioc_dir(common: &Common, layout: &crate::layout::Layout) -> Result<(), i32> {
    let Some((var, wanted)) = crate::layout::runner_var(&crate::layout::RUNNER_CONF_DIR) else { return Ok(()) };
    let serving = directories(common)?.ioc_dir;
    if serving == Path::new(&wanted) {
        return Ok(());
    }
    if let Some((id, state)) = first_running(common)? {
        eprintln!(
            "Error: your supervisor ({}) serves {}, not {var}={wanted}, and {id} is {state}: \
             stop it (iocinit --local poweroff) or unset {var}",
            layout.control_socket.display(),
            serving.display()
        );
        return Err(EXIT_FAIL);
    }
    let reply = common.request(Verb::Power, 0, &["poweroff", "0"], Some(Duration::from_secs(10)))?;
    if super::finish(&reply, "poweroff") != EXIT_OK {
        return Err(EXIT_FAIL);
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(LOCAL_START_SECS);
    while Client::connect(&layout.control_socket).is_ok() {
        if std::time::Instant::now() > deadline {
            eprintln!("Error: your supervisor ({}) did not stop within {LOCAL_START_SECS} s", layout.control_socket.display());
            return Err(EXIT_UNREACHABLE);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!("Info: your supervisor served {} and ran nothing: stopped it, to serve {wanted} ({var})", serving.display());
    local_supervisor(common)
}

/// The first object of the supervisor with a process running, and its state.
fn first_running(common: &Common) -> Result<Option<(String, String)>, i32> {
    let reply = common.request(Verb::Status, 0, &[], Some(Duration::from_secs(10)))?;
    let mut states = reply.records.iter().filter_map(|r| Some((r.str(Tag::Id)?, r.str(Tag::State)?)));
    Ok(states.find(|(_, state)| !is_down(state)).map(|(id, state)| (id.to_string(), state.to_string())))
}

/// Where `install --local` writes: the IOC directory the variables name,
/// as every other command means it. A supervisor serving another one is
/// replaced when it runs nothing ([`same_ioc_dir`]); one that runs
/// something is left alone, and the file goes into the named directory
/// unserved (installing is writing a file, as epics-ioc-runner's is: the
/// supervisor of that directory serves it when it starts).
fn local_install_dir(common: &Common) -> Result<Directories, i32> {
    let layout = common.layout();
    let named = crate::layout::runner_var(&crate::layout::RUNNER_CONF_DIR);
    if let (Some((var, wanted)), true) = (named, Client::connect(&layout.control_socket).is_ok()) {
        let serving = directories(common)?.ioc_dir;
        if serving != Path::new(&wanted) {
            if let Some((id, state)) = first_running(common)? {
                eprintln!(
                    "Note: your supervisor serves {} and {id} is {state}: installing into {wanted} ({var}), \
                     served when a supervisor for that directory starts",
                    serving.display()
                );
                return Ok(Directories { ioc_dir: PathBuf::from(wanted), user: me().0, supervised: false });
            }
            same_ioc_dir(common, &layout)?;
        }
    }
    directories(common)
}

/// What PID 1 says about one IOC.
struct IocInfo {
    record: Message,
    console: PathBuf,
    log: PathBuf,
}

impl IocInfo {
    /// `None` for an object without a console.
    fn from_record(record: Message) -> Option<IocInfo> {
        let console = PathBuf::from(record.str(Tag::Console)?);
        let log = PathBuf::from(record.str(Tag::Log)?);
        Some(IocInfo { record, console, log })
    }
}

/// epics-ioc-runner's name rule and message (exit 1): no path tricks.
fn check_name(name: &str) -> Result<(), i32> {
    if valid_ioc_name(name) {
        Ok(())
    } else {
        eprintln!(
            "Error: Invalid IOC name '{name}'. Only alphanumeric characters, '-', and '_' are allowed; \
             must not start with '-', max 64 chars."
        );
        Err(EXIT_FAIL)
    }
}

/// Looks up an IOC by name (names are validated first). An IOC PID 1 does
/// not know is reported as epics-ioc-runner reports it (exit 1): see
/// [`report_unknown`].
fn lookup(common: &Common, name: &str) -> Result<IocInfo, i32> {
    lookup_for(common, name, false)
}

/// [`lookup`]; `console`: the command needs the IOC's console (attach,
/// monitor), so a file without IOC_PORT is named for that, as the peer does.
fn lookup_for(common: &Common, name: &str, console: bool) -> Result<IocInfo, i32> {
    check_name(name)?;
    let reply = common.request(Verb::Status, 0, &[name], Some(Duration::from_secs(10)))?;
    if reply.code != Code::Ok {
        let dir = directories(common).map(|d| d.ioc_dir).ok();
        report_unknown(dir.as_deref(), name, console);
        return Err(EXIT_FAIL);
    }
    let record = reply.records.into_iter().next().ok_or(EXIT_FAIL)?;
    IocInfo::from_record(record).ok_or_else(|| {
        eprintln!("Error: '{name}' is an object without a console, not an IOC");
        EXIT_FAIL
    })
}

fn with_ioc(common: &Common, name: &str, f: impl FnOnce(&IocInfo) -> i32) -> i32 {
    match lookup(common, name) {
        Ok(info) => f(&info),
        Err(code) => code,
    }
}

/// [`with_ioc`] for a command that needs the IOC's console.
fn with_console(common: &Common, name: &str, f: impl FnOnce(&IocInfo) -> i32) -> i32 {
    match lookup_for(common, name, true) {
        Ok(info) => f(&info),
        Err(code) => code,
    }
}

/// Why the supervisor does not know `name`, in epics-ioc-runner's words: an
/// IOC directory the caller may not read is the real barrier (not "not
/// found"); a file the supervisor did not load says what is wrong with it
/// (no IOC_PORT, for a command that needs the console); else no file.
fn report_unknown(dir: Option<&Path>, name: &str, console: bool) {
    let Some(dir) = dir else {
        eprintln!("Error: No configuration found for IOC '{name}' (looked in the IOC directory).");
        return;
    };
    if conf_dir_barrier(dir, name).is_err() {
        return;
    }
    let path = conf_file(dir, name);
    let Ok(text) = crate::files::read_to_string(&path) else {
        eprintln!("Error: No configuration found for IOC '{name}' (looked in {}).", dir.display());
        eprintln!("  -> the IOC is not installed in this mode.");
        return;
    };
    if console && !sets_key(&text, "IOC_PORT") {
        eprintln!("Error: IOC_PORT not configured in {}.", path.display());
        return;
    }
    match iocfile::parse(&path, &text) {
        Err(errors) => {
            eprintln!("Error: {} is not served: the supervisor refused it:", path.display());
            errors.iter().for_each(|e| eprintln!("{e}"));
        }
        Ok(_) => eprintln!("Error: {} is not loaded yet: 'ioc rescan' reads it", path.display()),
    }
}

/// Whether an IOC file's text assigns `key` (on a line of its own, as the
/// peer's read_conf_var finds it), whatever the value.
fn sets_key(text: &str, key: &str) -> bool {
    text.lines().any(|line| {
        let line = line.trim_ascii_start();
        let line = line.strip_prefix("export ").map_or(line, str::trim_ascii_start);
        line.strip_prefix(key).is_some_and(|rest| rest.starts_with('='))
    })
}

/// epics-ioc-runner's access barrier: an IOC directory that exists but that
/// the caller may not read (2770 root:ioc for a non-member) is said to be
/// one, so that an installed IOC is never reported as not found (exit 1).
fn conf_dir_barrier(dir: &Path, name: &str) -> Result<(), i32> {
    if dir.is_dir() && !crate::sys::may_access(dir, libc::R_OK | libc::X_OK) {
        eprintln!("Error: Cannot read {} to resolve IOC '{name}' (ioc group membership required).", dir.display());
        return Err(EXIT_FAIL);
    }
    Ok(())
}

fn simple(common: &Common, verb: Verb, name: &str) -> i32 {
    with_ioc(common, name, |_| match common.request(verb, 0, &[name], Some(Duration::from_secs(10))) {
        Ok(reply) => {
            let code = super::finish(&reply, name);
            if code == EXIT_OK {
                println!("{} {name}", if verb == Verb::Enable { "enabled" } else { "disabled" });
            }
            code
        }
        Err(code) => code,
    })
}

/// start/restart: PID 1 starts procServ; then the IOC's log tells when the
/// IOC itself is ready, or how it failed (docs/USER_GUIDE.md, "Readiness of
/// ioc start").
fn start(common: &Common, verb: Verb, name: &str, no_wait: bool, timeout: u64) -> i32 {
    with_ioc(common, name, |ioc| {
        // From where the log ends before the request, whatever rotation
        // happens meanwhile.
        let log = LogFollower::at_end(&ioc.log);
        let reply = match common.request(verb, FLAG_WAIT, &[name], None) {
            Ok(r) => r,
            Err(code) => return code,
        };
        if reply.code == Code::Warn && verb == Verb::Start && reply.message.contains("already") {
            println!("{name} is already running");
            return EXIT_OK;
        }
        if !matches!(reply.code, Code::Ok | Code::Warn) {
            return super::finish(&reply, name);
        }
        if no_wait {
            println!("{name} started");
            return EXIT_OK;
        }
        let extra_text = runtime_crash_patterns(common, name, ioc);
        let extra = iocfile::crash_patterns(&extra_text).unwrap_or_default();
        // epics-ioc-runner's verdict line first (scripts grep it), then ours.
        match ready::wait_ready(log, Duration::from_secs(timeout), &extra) {
            Ok(ready) => {
                match &ready.error_after {
                    Some(line) => eprintln!(
                        "Warning: IOC '{name}' is active but reported errors after initialization (check device connections).\n  -> {line}"
                    ),
                    None => println!("IOC '{name}' successfully started."),
                }
                println!("{name} is ready ({} s): {}", list::seconds(ready.elapsed), ready.line.trim_ascii());
                EXIT_OK
            }
            Err(e @ ready::NotReady::TimedOut { .. }) if still_running(common, name) => {
                eprintln!("Warning: IOC '{name}' is active but did not report initialization complete within {timeout}s.");
                eprintln!("ioc: warning: {name}: {e}, but it is running; 'ioc log {name}' shows its log");
                EXIT_OK
            }
            Err(e) => {
                let verdict = match e {
                    ready::NotReady::Fatal { .. } => "failed to initialize (fatal error before iocInit)",
                    ready::NotReady::CrashLoop { .. } => "is crash-looping before reaching iocInit",
                    ready::NotReady::DiedAfterReady { .. } => "is crash-looping",
                    ready::NotReady::TimedOut { .. } | ready::NotReady::Io(_) => "failed to start or crashed immediately",
                };
                eprintln!("Error: IOC '{name}' {verdict}.");
                eprintln!("ioc: {name} failed to start: {e}; 'ioc log {name}' shows its log");
                EXIT_FAIL
            }
        }
    })
}

/// Whether PID 1 says the IOC runs (procServ and its child).
fn still_running(common: &Common, name: &str) -> bool {
    let Ok(info) = lookup(common, name) else { return false };
    info.record.str(Tag::State) == Some("running") && info.record.i64(Tag::ChildPid).is_some()
}

fn stop(common: &Common, name: &str) -> i32 {
    with_ioc(common, name, |_| match common.request(Verb::Stop, FLAG_WAIT, &[name], None) {
        Ok(reply) if reply.code == Code::Warn && reply.message.contains("not running") => {
            println!("{name} is not running");
            EXIT_OK
        }
        Ok(reply) => {
            let code = super::finish(&reply, name);
            if code == EXIT_OK {
                println!("{name} stopped");
            }
            code
        }
        Err(code) => code,
    })
}

/// `ioc status NAME` or `ioc status --all` (the parser refuses neither).
fn status_cmd(common: &Common, name: Option<&str>, all: bool, lines: Option<usize>) -> i32 {
    match (name, all) {
        (Some(name), false) => with_ioc(common, name, |ioc| {
            show_status(common, std::slice::from_ref(ioc), lines.unwrap_or(10), false);
            EXIT_OK
        }),
        (_, true) if name.is_some() => {
            eprintln!("Error: status takes an IOC name or --all, not both.");
            EXIT_FAIL
        }
        _ => match all_iocs(common) {
            Ok(iocs) => {
                show_status(common, &iocs, lines.unwrap_or(0), true);
                EXIT_OK
            }
            Err(code) => code,
        },
    }
}

/// Every IOC `ioc list` shows, in name order.
fn all_iocs(common: &Common) -> Result<Vec<IocInfo>, i32> {
    let reply = common.request(Verb::IocList, 0, &[], Some(Duration::from_secs(10)))?;
    if reply.code != Code::Ok {
        return Err(super::finish(&reply, "status"));
    }
    let mut iocs: Vec<IocInfo> =
        reply.records.into_iter().filter(|r| r.bool(Tag::IsConsole).unwrap_or(false)).filter_map(IocInfo::from_record).collect();
    // Object IDs are unique: the unstable sort gives the same order, and
    // links less code than the stable one.
    iocs.sort_unstable_by(|a, b| a.record.str(Tag::Id).cmp(&b.record.str(Tag::Id)));
    Ok(iocs)
}

/// The status of `iocs`: blocks separated by a blank line, or JSON (an
/// object, or an `array` of them for --all).
fn show_status(common: &Common, iocs: &[IocInfo], lines: usize, array: bool) {
    if common.json {
        let mut j = crate::json::Json::new();
        match iocs {
            [one] if !array => write_status_json(&mut j, one),
            _ => {
                j.begin_array();
                for ioc in iocs {
                    write_status_json(&mut j, ioc);
                }
                j.end_array();
            }
        }
        println!("{}", j.finish());
        return;
    }
    if iocs.is_empty() {
        println!("No IOC is installed.");
    }
    for (k, ioc) in iocs.iter().enumerate() {
        if k > 0 {
            println!();
        }
        print_status(ioc, lines);
    }
}

/// procServ's auto-restart state, read from the command line of the running
/// procServ (`None` when none runs or its command line cannot be read).
fn autorestart(ioc: &IocInfo) -> Option<AutoRestart> {
    running_argv(ioc).map(|argv| procserv::autorestart(&argv))
}

/// systemd's `Active:` line, which scripts written for epics-ioc-runner
/// grep (`Active: active (running) since 2026-11-30 07:37; 5min ago`).
fn active_line(r: &Message, now: i64) -> String {
    let state = r.str(Tag::State).unwrap_or("");
    let word = status_word(state);
    let mut line = match word {
        "failed" => format!("Active: failed (Result: {state})"),
        _ => {
            let sub = match word {
                "active" => "running",
                "activating" => "start",
                "deactivating" => "stop",
                _ => "dead",
            };
            format!("Active: {word} ({sub})")
        }
    };
    let since = r.i64(Tag::Since).filter(|_| word != "inactive");
    if let Some((t, when)) = since.and_then(|t| Some((t, crate::ioc::list::format_started(t)?))) {
        let _ = write!(line, " since {when}; {} ago", Ago(now.saturating_sub(t)));
    }
    line
}

/// systemd's way of saying how long ago: `42s`, `5min`, `3h 2min`, `2 days`.
struct Ago(i64);

impl fmt::Display for Ago {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.max(0) {
            s if s < 60 => write!(f, "{s}s"),
            s if s < 3600 => write!(f, "{}min", s / 60),
            s if s < 86400 => write!(f, "{}h {}min", s / 3600, s % 3600 / 60),
            s => write!(f, "{} days", s / 86400),
        }
    }
}

fn now_secs() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// `ioc status NAME`: the `Active:` line, Epoch's block, procServ's auto-restart state, the
/// IOC_META_* variables, the end of the log.
fn print_status(ioc: &IocInfo, lines: usize) {
    println!("{}", active_line(&ioc.record, now_secs()));
    super::epoch::print_block(&ioc.record);
    println!("{:<20}{}", "Auto-restart:", autorestart(ioc).map_or("-", AutoRestart::describe));
    let mut metadata = super::epoch::metadata(&ioc.record).peekable();
    if metadata.peek().is_some() {
        println!("Metadata:");
        for (key, value) in metadata {
            println!("  {key}={value}");
        }
    }
    if lines > 0 {
        println!("\n--- last {lines} lines of {} ---", ioc.log.display());
        let mut out = std::io::stdout().lock();
        let _ = view::view(&ioc.log, lines, false, &mut out);
    }
}

/// `ioc status NAME --json`: every field of the record, and `autorestart`
/// (`on`, `off`, `unknown`, or null when procServ does not run).
fn write_status_json(j: &mut crate::json::Json, ioc: &IocInfo) {
    j.begin_object();
    super::epoch::write_fields(j, &ioc.record);
    j.key("autorestart").opt_string(autorestart(ioc).map(AutoRestart::word));
    j.end_object();
}

/// `ioc view NAME`: the IOC file and the procServ command line that runs it
/// (our equivalent of the peer's rendered systemd unit), in the peer's frame
/// and streams: a missing file is an error on stderr after the header.
fn view_cmd(common: &Common, name: &str) -> i32 {
    if let Err(code) = check_name(name) {
        return code;
    }
    let dir = match directories(common) {
        Ok(d) => d.ioc_dir,
        Err(code) => return code,
    };
    if let Err(code) = conf_dir_barrier(&dir, name) {
        return code;
    }
    let path = conf_file(&dir, name);
    let (divider, sub_divider) = (Rule('='), Rule('-'));
    println!("{divider}\n1. IOC Configuration File: {}\n{sub_divider}", path.display());
    match crate::files::read_to_string(&path) {
        Ok(text) => print!("{text}"),
        Err(e) => {
            eprintln!("Error: Configuration file not found at {} ({e})\n{divider}", path.display());
            return EXIT_FAIL;
        }
    }
    println!("\n{divider}\n2. procServ Command Line\n{sub_divider}");
    let record = common.request(Verb::Status, 0, &[name], Some(Duration::from_secs(10)));
    match record.ok().filter(|r| r.code == Code::Ok).and_then(|r| r.records.into_iter().next()).and_then(IocInfo::from_record) {
        Some(ioc) => match running_argv(&ioc) {
            Some(argv) => {
                let mut line = String::new();
                for (k, word) in argv.iter().enumerate() {
                    if k > 0 {
                        line.push(' ');
                    }
                    push_shell_quoted(&mut line, word);
                }
                println!("{line}");
            }
            None => println!("(procServ is not running: the command line is made when it starts; 'ioc start {name}')"),
        },
        None => println!("(the supervisor has not loaded this file: 'ioc rescan')"),
    }
    println!("{divider}");
    EXIT_OK
}

/// CRASH_LOG_PATTERNS_EXTRA for this start, as epics-ioc-runner reads it:
/// again from the IOC file (edited since it was loaded, maybe), read as its
/// `read_conf_all` does (blanks around `=` and quotes dropped), and checked
/// again. A value that fails is ignored for this run with the peer's
/// warning: the built-in patterns stay, so one bad key never turns crash
/// detection off. A file the caller may not read: the value PID 1 loaded.
fn runtime_crash_patterns(common: &Common, name: &str, ioc: &IocInfo) -> String {
    let loaded = || ioc.record.str(Tag::CrashPatterns).unwrap_or_default().to_string();
    let Ok(dirs) = directories(common) else { return loaded() };
    let path = conf_file(&dirs.ioc_dir, name);
    let Ok(text) = crate::files::read_to_string(&path) else { return loaded() };
    let value = text.lines().rev().find_map(|line| {
        let line = line.trim_ascii_start();
        let line = line.strip_prefix("export ").map_or(line, str::trim_ascii_start);
        line.strip_prefix(iocfile::CRASH_PATTERNS)?.trim_ascii_start().strip_prefix('=').map(str::trim_ascii)
    });
    let value = value.map(|v| v.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(v).trim_ascii()).unwrap_or_default();
    match iocfile::crash_patterns(value) {
        Ok(_) => value.to_string(),
        Err(why) => {
            eprintln!(
                "Warning: {} in {} {why}; ignoring it for this run (base patterns remain active). \
                 Fix the value and re-run 'install' to validate it.",
                iocfile::CRASH_PATTERNS,
                path.display()
            );
            String::new()
        }
    }
}

/// The command line of the IOC's running procServ.
fn running_argv(ioc: &IocInfo) -> Option<Vec<String>> {
    let pid = ioc.record.i64(Tag::Pid).and_then(|p| i32::try_from(p).ok())?;
    procstat::cmdline(pid).ok().filter(|argv| !argv.is_empty())
}

/// `word` as a POSIX shell reads it back, pushed onto `out`: as it is when
/// every byte is plain, else in single quotes, each `'` as `'\''`.
fn push_shell_quoted(out: &mut String, word: &str) {
    if !word.is_empty() && word.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./:=,+@%^".contains(&b)) {
        out.push_str(word);
        return;
    }
    out.push('\'');
    for (k, piece) in word.split('\'').enumerate() {
        if k > 0 {
            out.push_str("'\\''");
        }
        out.push_str(piece);
    }
    out.push('\'');
}

/// `ioc log NAME [-n N] [-f]`: the end of the IOC's procServ log, followed
/// with -f.
fn log_cmd(common: &Common, name: &str, lines: usize, follow: bool) -> i32 {
    with_ioc(common, name, |ioc| {
        let mut out = std::io::stdout().lock();
        match view::view(&ioc.log, lines, follow, &mut out) {
            Ok(()) => EXIT_OK,
            Err(e) => {
                eprintln!("Error: {}: {e}", ioc.log.display());
                EXIT_FAIL
            }
        }
    })
}

/// The systemd word epics-ioc-runner's STATUS column shows for a state.
pub fn status_word(state: &str) -> &'static str {
    match state {
        "running" => "active",
        "starting" | "prestarting" | "waiting-pidfile" | "restarting" => "activating",
        "stopping" => "deactivating",
        "failed" | "crashed" => "failed",
        _ => "inactive",
    }
}

fn list_cmd(common: &Common, verbosity: u8) -> i32 {
    let reply = match common.request(Verb::IocList, 0, &[], Some(Duration::from_secs(10))) {
        Ok(r) => r,
        Err(code) => return code,
    };
    if reply.code != Code::Ok {
        return super::finish(&reply, "list");
    }
    let rows: Vec<list::IocRow> = reply
        .records
        .iter()
        .filter(|r| r.bool(Tag::IsConsole).unwrap_or(false))
        .map(|r| list::IocRow {
            name: r.str(Tag::Id).unwrap_or("").to_string(),
            status: status_word(r.str(Tag::State).unwrap_or("")).to_string(),
            started: r.i64(Tag::Since).filter(|_| r.i64(Tag::Pid).is_some()),
            uds_path: PathBuf::from(r.str(Tag::Console).unwrap_or("")),
            pid: r.i64(Tag::Pid).map(|p| p as i32),
            ioc_pid: r.i64(Tag::ChildPid).map(|p| p as i32),
        })
        .collect();
    let entries = list::gather(rows, list::Detail::shown(verbosity, common.json));
    let console_root = common.layout().console_root();
    if common.json {
        println!("{}", list::render_json(&entries));
    } else {
        print!("{}", list::render(&entries, verbosity.min(2), &console_root));
        if !traversable_tree(&console_root) {
            println!("(socket directories are not readable by this user; 'ioc status NAME' shows an IOC's state)");
        }
    }
    EXIT_OK
}

/// epics-ioc-runner's list hint: whether `root` and each directory in it
/// may be read and searched by the caller (a 0770 console directory of
/// another group is not, and its socket's details are not shown).
fn traversable_tree(root: &Path) -> bool {
    let open = |dir: &Path| crate::sys::may_access(dir, libc::R_OK | libc::X_OK);
    let Ok(entries) = std::fs::read_dir(root) else { return !root.exists() || open(root) };
    open(root) && entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()).all(|p| open(&p))
}

fn ending(result: Result<attach::Ending, attach::ConsoleError>) -> i32 {
    match result {
        Ok(end) => end.exit_code(),
        Err(attach::ConsoleError::Connect { path, source }) if source.kind() == std::io::ErrorKind::PermissionDenied => {
            eprintln!(
                "ioc: permission denied (EACCES) connecting to {}: consoles are mode 0660, \
                 open to the IOC's user and the IOC group only",
                path.display()
            );
            EXIT_DENIED
        }
        Err(e) => {
            eprintln!("ioc: {e}");
            EXIT_FAIL
        }
    }
}

/// `^A`, `^]` or a single character.
fn parse_key(key: &str) -> Option<u8> {
    let b = key.as_bytes();
    match b {
        [b'^', c] if c.is_ascii_alphabetic() || b"[\\]^_".contains(c) => Some(c.to_ascii_uppercase() ^ 0x40),
        [c] if c.is_ascii() => Some(*c),
        _ => None,
    }
}

fn attach_cmd(common: &Common, name: &str, escape: Option<&str>, timeout: u64) -> i32 {
    let detach_key = match escape.map(parse_key) {
        None => attach::DEFAULT_DETACH_KEY,
        Some(Some(k)) => k,
        Some(None) => {
            eprintln!("Error: -e takes ^X or a single character");
            return EXIT_FAIL;
        }
    };
    with_console(common, name, |ioc| {
        let opts = attach::AttachOptions { detach_key, timeout: Duration::from_secs(timeout), ..Default::default() };
        ending(attach::attach(name, &ioc.console, &opts))
    })
}

fn inspect_cmd(common: &Common, name: &str, partial: bool) -> i32 {
    // As epics-ioc-runner: system-wide, only root sees every client of a
    // console (other users' processes are hidden in /proc), so inspect is
    // root's; --partial shows what you may see.
    if let Err(code) = check_name(name) {
        return code;
    }
    if !common.local && !partial && !nix::unistd::geteuid().is_root() {
        eprintln!(
            "Error: 'inspect' requires root privileges in system mode to map client processes \
             ('ioc inspect {name} --partial' shows what you may see)."
        );
        return EXIT_FAIL;
    }
    with_ioc(common, name, |ioc| match inspect::inspect(&ioc.console) {
        Ok(clients) => {
            if common.json {
                let mut j = crate::json::Json::new();
                j.begin_array();
                for c in &clients {
                    j.begin_object().field_num("pid", c.pid).field_str("user", &c.user).field_str("command", &c.command).end_object();
                }
                j.end_array();
                println!("{}", j.finish());
            } else {
                print_inspect(name, ioc, &clients);
            }
            EXIT_OK
        }
        Err(e) => file_failed(&ioc.console, &e),
    })
}

/// `ioc inspect NAME` in epics-ioc-runner's three sections: the console
/// socket, procServ and the IOC, the clients.
fn print_inspect(name: &str, ioc: &IocInfo, clients: &[inspect::ConsoleClient]) {
    let divider = Rule('=');
    println!("{divider}\nDeep Inspection: {name}\nTarget Socket: {}\n{divider}", ioc.console.display());
    println!("1. UNIX Domain Socket FDs");
    println!("   listening: {}", ioc.console.display());
    for c in clients {
        println!("   connected: client socket inode {} (pid {})", c.inode, c.pid);
    }
    println!("\n2. Server Process Context (procServ & IOC)");
    for (what, tag) in [("procServ", Tag::Pid), ("IOC", Tag::ChildPid)] {
        match ioc.record.i64(tag).and_then(|p| i32::try_from(p).ok()) {
            Some(pid) => {
                let argv = procstat::cmdline(pid).map(|a| a.join(" ")).unwrap_or_else(|e| format!("({e})"));
                println!("   {what:<9} PID {pid:<8} {argv}");
            }
            None => println!("   {what:<9} not running"),
        }
    }
    println!("\n3. Client Process Context");
    print!("{}", inspect::render(&ioc.console, clients));
}

/// What the supervisor says about where IOC files go and who they run as.
struct Directories {
    ioc_dir: PathBuf,
    /// IocUser: who a file that may not choose its user runs as.
    user: String,
    /// Whether a supervisor answered (else: the defaults of `--local`).
    supervised: bool,
}

/// The supervisor's IOC directory and IocUser. Under `--local`
/// with no supervisor running, the local defaults: epics-ioc-runner's local
/// mode installs without its service manager running too, and
/// `iocinit --local` reads the file when it starts.
fn directories(common: &Common) -> Result<Directories, i32> {
    let layout = common.layout();
    let local_default = layout.local_ioc_dir.clone().filter(|_| common.local);
    let reply = match (crate::control::client::Client::connect(&layout.control_socket), local_default) {
        (Err(crate::control::client::ClientError::NotRunning(_)), Some(ioc_dir)) => {
            return Ok(Directories { ioc_dir, user: me().0, supervised: false });
        }
        (Ok(mut client), _) => client.request(Verb::Version, 0, &[], Some(Duration::from_secs(10))).map_err(|e| super::report_client_error(&e))?,
        (Err(e), _) => return Err(super::report_client_error(&e)),
    };
    let r = reply.records.first().ok_or(EXIT_FAIL)?;
    let ioc_dir = r.str(Tag::IocDirectory).map(PathBuf::from).ok_or(EXIT_FAIL)?;
    let user = r.str(Tag::IocUser).unwrap_or(generate::DEFAULT_USER).to_string();
    Ok(Directories { ioc_dir, user, supervised: true })
}

/// The caller's user and primary group names (`--local` IOCs run as them).
fn me() -> (String, String) {
    let user = accounts::user(Key::Id(nix::unistd::getuid().as_raw())).map(|u| u.name);
    let group = accounts::group(Key::Id(nix::unistd::getgid().as_raw())).map(|g| g.name);
    (user.unwrap_or_default(), group.unwrap_or_default())
}

/// The permissions of a file `generate` writes, as epics-ioc-runner sets
/// them: 0600 under `--local` (yours alone), 0660 system-wide (for the IOC
/// group).
fn generated_mode(common: &Common) -> u32 {
    if common.local {
        0o600
    } else {
        0o660
    }
}

/// The permissions of an installed IOC file: as [`generated_mode`], except
/// that root's system-wide install stays 0644, root's alone to write: such
/// a file chooses who its IOC runs as, which a group-writable one never
/// does (docs/CONFIG.md, "Who an IOC runs as").
fn installed_mode(common: &Common) -> u32 {
    if !common.local && nix::unistd::geteuid().is_root() {
        0o644
    } else {
        generated_mode(common)
    }
}

/// What `generate` (and `install` of a directory) makes the file from:
/// `--name`, `--cmd`, `--ioc-user` and `--ioc-group` of `a`; with `force`,
/// the first of several startup scripts.
fn generate_options(common: &Common, a: ioc_args::VerbArgs, force: bool) -> generate::GenerateOptions {
    // An IOC of `iocinit --local` runs as you: the file says so, as
    // epics-ioc-runner's local mode writes it. Built field by field, not
    // over a `Default` whose strings would be made only to be replaced.
    let (user, group) =
        if common.local { me() } else { (generate::DEFAULT_USER.to_string(), generate::DEFAULT_GROUP.to_string()) };
    generate::GenerateOptions {
        name: a.name,
        cmd: a.cmd,
        first_if_several: force,
        user: a.ioc_user.unwrap_or(user),
        group: a.ioc_group.unwrap_or(group),
        run_dir: common.layout().console_root(),
    }
}

fn run_generate(dir: &Path, opts: &generate::GenerateOptions) -> Result<IocFile, i32> {
    let interactive = crate::sys::stdin().is_terminal();
    let (mut next_line, mut output) = (generate::read_stdin_line, std::io::stderr());
    let prompt = interactive.then_some(generate::Prompt { next_line: &mut next_line, output: &mut output });
    generate::generate(dir, opts, prompt).map_err(|e| {
        eprintln!("ioc: {e}");
        EXIT_FAIL
    })
}

/// Whether to write `new` over the file at `path`.
enum Overwrite {
    /// No file there yet, or a differing one the user (or `-f`) lets go.
    Write,
    /// The file already says exactly this.
    Unchanged,
}

/// epics-ioc-runner's overwrite rule: an identical file is left as it is;
/// a differing one is shown as a line diff, then replaced with `-f` or
/// when the answer on stdin is y; anything else (n, end of input) keeps it
/// and fails with exit 1, so a script never mistakes a refusal for success.
fn confirm_overwrite(path: &Path, new: &str, force: bool) -> Result<Overwrite, i32> {
    let old = match crate::files::read(path) {
        Ok(old) => old,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Overwrite::Write),
        Err(e) => return Err(file_failed(path, &e)),
    };
    if old == new.as_bytes() {
        return Ok(Overwrite::Unchanged);
    }
    println!("Configuration file '{}' already exists with differences (- current, + new):", path.display());
    print!("{}", crate::ioc::linediff::diff(&String::from_utf8_lossy(&old), new));
    if force {
        println!("Overwriting '{}' (--force).", path.display());
        return Ok(Overwrite::Write);
    }
    print!("Do you want to overwrite it? [y/N]: ");
    let _ = std::io::Write::flush(&mut std::io::stdout());
    match generate::read_stdin_line() {
        None => {
            println!();
            eprintln!("ioc: input ended (EOF): '{}' is kept; -f overwrites without asking", path.display());
            Err(EXIT_FAIL)
        }
        Some(answer) if matches!(answer.trim_ascii(), "y" | "Y") => Ok(Overwrite::Write),
        Some(_) => {
            eprintln!("ioc: aborted: '{}' is kept", path.display());
            Err(EXIT_FAIL)
        }
    }
}

/// Writes `text`, the text of `ioc`, into `dir` with `mode` unless the
/// file there differs and the user keeps it (`what`: the file, for
/// messages). Returns its path and whether it was written.
fn write_file(dir: &Path, ioc: &IocFile, text: &str, mode: u32, force: bool, what: &str) -> Result<(PathBuf, bool), i32> {
    let path = dir.join(ioc.file_name());
    match confirm_overwrite(&path, text, force)? {
        Overwrite::Unchanged => {
            // What killed installs left is cleared whether or not this one
            // writes.
            iocfile::remove_stale_temporaries(dir, &ioc.name);
            // As epics-ioc-runner: the mode the write would give is set
            // again, so a loosened one does not survive.
            if let Err(e) = std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(mode)) {
                return Err(file_failed(&path, &e));
            }
            println!("Existing configuration '{}' is already up-to-date (Identical). Skipping overwrite.", path.display());
            Ok((path, false))
        }
        Overwrite::Write => match iocfile::write_atomic(dir, ioc, text, mode) {
            Ok(path) => Ok((path, true)),
            // epics-ioc-runner's words, which its users' scripts know.
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                eprintln!("ioc: No write permission to {} to stage the {what}", dir.display());
                Err(EXIT_FAIL)
            }
            Err(e) => {
                eprintln!("ioc: cannot write into {}: {e}", dir.display());
                Err(EXIT_FAIL)
            }
        },
    }
}

/// `ioc generate DIR`: the IOC file for the iocBoot directory `dir`,
/// written into it (IOC_CHDIR), or printed with `-n`.
fn generate_cmd(common: &Common, dir: PathBuf, a: ioc_args::VerbArgs, force: bool) -> i32 {
    let dry_run = a.dry_run;
    let ioc = match run_generate(&dir, &generate_options(common, a, force)) {
        Ok(i) => i,
        Err(code) => return code,
    };
    if dry_run {
        print!("{}", iocfile::render(&ioc));
        return EXIT_OK;
    }
    let dir = ioc.chdir.clone().map(PathBuf::from).unwrap_or(dir);
    match write_file(&dir, &ioc, &iocfile::render(&ioc), generated_mode(common), force, "generated configuration") {
        Ok((path, true)) => {
            println!("wrote {}", path.display());
            EXIT_OK
        }
        Ok((_, false)) => EXIT_OK,
        Err(code) => code,
    }
}

/// Reads and checks the IOC file at `path` (the IOC named after the file
/// when it has no IOC_NAME, as epics-ioc-runner does), with its text.
fn read_ioc_file(path: &Path) -> Result<(IocFile, String), i32> {
    let text = crate::files::read_to_string(path).map_err(|e| file_failed(path, &e))?;
    match iocfile::parse(path, &text) {
        Ok((ioc, warnings)) => {
            warnings.iter().for_each(|w| eprintln!("{w}"));
            Ok((ioc, text))
        }
        Err(errors) => {
            errors.iter().for_each(|e| eprintln!("{e}"));
            Err(EXIT_FAIL)
        }
    }
}

/// What `install` takes: a file; or a directory's `NAME.conf` (NAME: the
/// directory's name), edited or not, as epics-ioc-runner does; or, when a
/// directory has none, a file generated for it. With the text to install:
/// a file's own, comments and all, as epics-ioc-runner copies it.
fn install_source(common: &Common, source: &Path, a: ioc_args::VerbArgs, force: bool) -> Result<(IocFile, String), i32> {
    if !source.is_dir() {
        return read_ioc_file(source);
    }
    let dir = crate::files::canonical(source).unwrap_or_else(|_| source.to_path_buf());
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let existing = conf_file(&dir, &name);
    if a.name.is_none() && existing.is_file() {
        return read_ioc_file(&existing);
    }
    let ioc = run_generate(source, &generate_options(common, a, force))?;
    let text = iocfile::render(&ioc);
    Ok((ioc, text))
}

/// The checks epics-ioc-runner makes at install that need the filesystem
/// or the account database: made here, as the installing user, never by
/// PID 1, whose loop must not wait on a path lookup (a hung network
/// filesystem). Every problem is printed, naming its key.
fn check_installable(ioc: &IocFile, local: bool) -> Result<(), i32> {
    let mut problems = Vec::new();
    if local {
        // As epics-ioc-runner's local mode (iocinit --local runs every IOC
        // as you anyway): the file must say so.
        let (user, group) = me();
        if ioc.user.as_ref().is_some_and(|u| *u != user) {
            problems.push(format!("IOC_USER: local IOCs must run as {user}"));
        }
        if ioc.group.as_ref().is_some_and(|g| *g != group) {
            problems.push(format!("IOC_GROUP: local IOCs must run under group {group}"));
        }
    } else {
        if let Some(user) = ioc.user.as_ref().filter(|u| accounts::user(Key::Name(u)).is_none()) {
            problems.push(format!("IOC_USER: no such user: {user}"));
        }
        if let Some(group) = ioc.group.as_ref().filter(|g| accounts::group(Key::Name(g)).is_none()) {
            problems.push(format!("IOC_GROUP: no such group: {group}"));
        }
    }
    // Values the supervisor loads with a warning only (a bad
    // CRASH_LOG_PATTERNS_EXTRA) are refused here, as the peer's install does.
    if let Err(e) = ioc.check() {
        problems.push(e);
    }
    let chdir = ioc.chdir.as_deref().map(Path::new);
    match chdir {
        Some(dir) if !dir.is_dir() => problems.push(format!("IOC_CHDIR: invalid or missing directory: {}", dir.display())),
        Some(dir) if !crate::sys::may_access(dir, libc::X_OK) => {
            problems.push(format!("IOC_CHDIR: execute permission denied for directory: {}", dir.display()))
        }
        _ if !is_executable(chdir, &ioc.command) => {
            problems.push(format!("IOC_CMD: command not executable or not found: {} (chmod +x? a program in PATH?)", ioc.command))
        }
        _ => {}
    }
    if problems.is_empty() {
        return Ok(());
    }
    for p in &problems {
        eprintln!("ioc: {p}");
    }
    eprintln!("ioc: validation failed with {} error(s): nothing installed", problems.len());
    Err(EXIT_FAIL)
}

/// Whether `command` (IOC_CMD) names an executable file: relative to
/// `chdir` when it has a `/`, else in `chdir` or in PATH.
fn is_executable(chdir: Option<&Path>, command: &str) -> bool {
    let base = chdir.unwrap_or(Path::new("."));
    if executable_file(&base.join(command)) {
        return true;
    }
    !command.contains('/') && std::env::var_os("PATH").is_some_and(|path| std::env::split_paths(&path).any(|d| executable_file(&d.join(command))))
}

/// A regular file (after links) the caller may execute.
fn executable_file(path: &Path) -> bool {
    path.is_file() && crate::sys::may_access(path, libc::X_OK)
}

/// `ioc install SOURCE`: an IOC file, or an iocBoot directory's (see
/// [`install_source`]), checked and written into the IOC directory; with
/// `--start`, started.
fn install(common: &Common, source: PathBuf, a: ioc_args::VerbArgs, force: bool) -> i32 {
    let start_after = a.start;
    let (mut ioc, mut text) = match install_source(common, &source, a, force) {
        Ok(source) => source,
        Err(code) => return code,
    };
    // As epics-ioc-runner's local mode: an IOC_PORT naming another socket
    // than the one your supervisor serves now (IOC_RUNNER_(LOCAL_)RUN_DIR
    // may have moved it since the file was generated) is replaced by it
    // (system-wide it is kept as written, with the loader's warning).
    let socket = common.layout().console_socket(&ioc.name);
    let names_another = |port: &str| port.rsplit(':').next() != Some(&*socket.to_string_lossy());
    if common.local && ioc.port.as_deref().is_some_and(names_another) {
        let (user, group) = me();
        eprintln!("Warning: IOC_PORT in the conf is replaced by the local standard socket path ({}).", socket.display());
        let port = format!("unix:{user}:{group}:0660:{}", socket.display());
        text = iocfile::with_value(&text, iocfile::PORT, &port);
        ioc.port = Some(port);
    }
    // Checked before the supervisor is asked: a bad file is exit 1 whether
    // or not one runs.
    if let Err(code) = check_installable(&ioc, common.local) {
        return code;
    }
    if let Err(code) = system_procserv_tool(common.local) {
        return code;
    }
    let dirs = match if common.local { local_install_dir(common) } else { directories(common) } {
        Ok(d) => d,
        Err(code) => return code,
    };
    // As epics-ioc-runner: the file of a running IOC is not replaced, so what
    // runs and what the file says never differ unnoticed.
    if dirs.supervised {
        match running_state(common, &ioc.name) {
            Ok(None) => {}
            Ok(Some(state)) => {
                let name = &ioc.name;
                eprintln!(
                    "ioc: {name} is {state}: install does not replace the file of a running IOC; \
                     stop it first (ioc stop {name}), then install again (--start starts it)"
                );
                return EXIT_FAIL;
            }
            Err(code) => return code,
        }
    }
    // A fresh account has no ~/.config/procServ.d yet (--local).
    if let Err(e) = std::fs::create_dir_all(&dirs.ioc_dir) {
        eprintln!("ioc: cannot write into {}: {e}", dirs.ioc_dir.display());
        return EXIT_FAIL;
    }
    if !crate::sys::may_access(&dirs.ioc_dir, libc::W_OK | libc::X_OK) {
        eprintln!("Error: No write permission to {}.", dirs.ioc_dir.display());
        return EXIT_FAIL;
    }
    let path = match write_file(&dirs.ioc_dir, &ioc, &text, installed_mode(common), force, "installed configuration") {
        Ok((path, _)) => path,
        Err(code) => return code,
    };
    println!("installed {}", path.display());
    // PID 1 decides who the IOC runs as (docs/CONFIG.md, "Who an IOC runs as");
    // say so where the file asks for a user that a member's file cannot choose.
    if !common.local && !nix::unistd::geteuid().is_root() && ioc.user.as_ref().is_some_and(|u| *u != dirs.user) {
        eprintln!("ioc: note: a file not installed by root runs as IocUser ({}), not as IOC_USER; 'ioc status {}' shows who", dirs.user, ioc.name);
    }
    if !dirs.supervised {
        println!("No supervisor serves {}: 'iocinit --local' serves {} when it starts.", dirs.ioc_dir.display(), ioc.name);
        return EXIT_OK;
    }
    // Installed is not enabled, as under epics-ioc-runner: say how it starts.
    println!("Use 'ioc start {0}' to run it, 'ioc enable {0}' to start it at boot.", ioc.name);
    let code = rescan(common);
    if code != EXIT_OK || !start_after {
        return code;
    }
    start(common, Verb::Start, &ioc.name, false, 30)
}

fn rescan(common: &Common) -> i32 {
    match common.request(Verb::IocRescan, 0, &[], Some(Duration::from_secs(30))) {
        Ok(reply) => super::finish(&reply, "rescan"),
        Err(code) => code,
    }
}

/// Whether an object in `state` has no process running.
fn is_down(state: &str) -> bool {
    matches!(state, "stopped" | "failed" | "crashed" | "done")
}

/// The state of the installed IOC `name` while a process of it runs; `None`
/// when it is down or no IOC of that name is installed.
fn running_state(common: &Common, name: &str) -> Result<Option<String>, i32> {
    let reply = common.request(Verb::Status, 0, &[name], Some(Duration::from_secs(10)))?;
    let ioc = reply.records.into_iter().next().filter(|_| reply.code == Code::Ok).and_then(IocInfo::from_record);
    Ok(ioc.and_then(|ioc| ioc.record.str(Tag::State).filter(|s| !is_down(s)).map(str::to_string)))
}

/// As epics-ioc-runner's remove: stop the IOC if it runs, disable it (so
/// a file installed again under its name does not start at boot unasked),
/// then delete its file.
fn remove(common: &Common, name: &str) -> i32 {
    let info = match lookup(common, name) {
        Ok(i) => i,
        Err(code) => return code,
    };
    // Only what an IOC file made can be removed: an object of epoch.conf under
    // procServ (PROCSERV) is root's configuration, and a stop first would
    // only take it down.
    if info.record.bool(Tag::IsConsole) != Some(true) {
        eprintln!("ioc: {name} is configured in epoch.conf, not installed from an IOC file: there is nothing to remove");
        return EXIT_FAIL;
    }
    if !is_down(info.record.str(Tag::State).unwrap_or("")) {
        let code = stop(common, name);
        if code != EXIT_OK {
            eprintln!("ioc: {name} did not stop: its file is kept");
            return code;
        }
    }
    if info.record.bool(Tag::Enabled).unwrap_or(false) {
        match common.request(Verb::Disable, 0, &[name], Some(Duration::from_secs(10))) {
            Ok(reply) if matches!(reply.code, Code::Ok | Code::Warn) => {}
            Ok(reply) => eprintln!("ioc: warning: could not disable {name}: {}", reply.message),
            Err(_) => {}
        }
    }
    let dirs = match directories(common) {
        Ok(d) => d,
        Err(code) => return code,
    };
    let path = conf_file(&dirs.ioc_dir, name);
    if let Err(e) = std::fs::remove_file(&path) {
        return file_failed(&path, &e);
    }
    println!("removed {}", path.display());
    rescan(common)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detach_keys() {
        assert_eq!(parse_key("^A"), Some(1));
        assert_eq!(parse_key("^]"), Some(0x1d));
        assert_eq!(parse_key("q"), Some(b'q'));
        assert_eq!(parse_key("^"), Some(b'^'));
        assert_eq!(parse_key("abc"), None);
    }

    fn record(fields: &[(Tag, &[u8])]) -> Message {
        let fields = fields.iter().map(|&(tag, value)| (tag, value.to_vec())).collect();
        Message { kind: crate::control::protocol::Kind::Record, fields }
    }

    #[test]
    fn the_active_line_is_systemds() {
        let started = 1_763_720_000_i64;
        let line = |state: &str, now: i64| {
            let since = started.to_le_bytes();
            active_line(&record(&[(Tag::State, state.as_bytes()), (Tag::Since, &since)]), now)
        };
        let when = list::format_started(started).unwrap();
        assert_eq!(line("running", started + 42), format!("Active: active (running) since {when}; 42s ago"));
        assert_eq!(line("starting", started + 300), format!("Active: activating (start) since {when}; 5min ago"));
        assert_eq!(line("stopping", started + 3 * 3600 + 120), format!("Active: deactivating (stop) since {when}; 3h 2min ago"));
        assert_eq!(line("crashed", started + 2 * 86400 + 5), format!("Active: failed (Result: crashed) since {when}; 2 days ago"));
        assert_eq!(line("running", started - 5), format!("Active: active (running) since {when}; 0s ago"));
        assert_eq!(line("stopped", started + 42), "Active: inactive (dead)");
        assert_eq!(active_line(&record(&[(Tag::State, b"running")]), started), "Active: active (running)");
    }

    #[test]
    fn words_are_quoted_as_a_shell_reads_them_back() {
        let quoted = |words: &[&str]| {
            let mut line = String::new();
            for word in words {
                push_shell_quoted(&mut line, word);
                line.push('|');
            }
            line
        };
        assert_eq!(quoted(&["procServ", "-f", "--name=x", "unix:a:b:0660:/run/p/x/control"]), "procServ|-f|--name=x|unix:a:b:0660:/run/p/x/control|");
        assert_eq!(quoted(&["", "a b", "it's", "'", "''x"]), r#"''|'a b'|'it'\''s'|''\'''|''\'''\''x'|"#);
    }

    #[test]
    fn states_map_to_systemd_words() {
        assert_eq!(status_word("running"), "active");
        assert_eq!(status_word("restarting"), "activating");
        assert_eq!(status_word("crashed"), "failed");
        assert_eq!(status_word("stopped"), "inactive");
    }
}
