//! `ioc` (also `ioc-runner`): epics-ioc-runner's verbs on iocinit — generate,
//! install, remove, start, stop, restart, status, enable, disable, view,
//! list, attach, monitor, inspect — without systemd, sudo, ss or ps. State
//! comes from PID 1 over the control socket, the rest from /proc, sock_diag
//! and the IOC's log. `--local` (anywhere) works on the user's own supervisor.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use argh::FromArgs;

use super::{Common, EXIT_DENIED, EXIT_FAIL, EXIT_OK, EXIT_USAGE};
use crate::config::iocfile::{self, valid_ioc_name, IocFile};
use crate::control::protocol::{Code, Message, Tag, Verb, FLAG_WAIT};
use crate::ioc::{attach, generate, inspect, list, ready, view};

/// Manage EPICS IOCs under procServ (epics-ioc-runner's commands). Options
/// anywhere: --local, --json/-j, --socket PATH, --run-dir DIR.
#[derive(FromArgs)]
struct Args {
    #[argh(subcommand)]
    verb: IocVerb,
}

#[derive(FromArgs)]
#[argh(subcommand)]
enum IocVerb {
    Generate(Generate),
    Install(Install),
    Remove(Remove),
    Rescan(Rescan),
    Start(Start),
    Stop(Stop),
    Restart(Restart),
    Status(Status),
    Enable(Enable),
    Disable(Disable),
    View(View),
    List(List),
    Attach(Attach),
    Monitor(Monitor),
    Inspect(Inspect),
}

/// Write an IOC file for an iocBoot directory (into that directory).
#[derive(FromArgs)]
#[argh(subcommand, name = "generate")]
struct Generate {
    /// the iocBoot/iocNAME directory holding the startup script
    #[argh(positional)]
    dir: PathBuf,
    /// the IOC name (default: the directory's name)
    #[argh(option)]
    name: Option<String>,
    /// the startup script when there are several (default: ask, on a terminal)
    #[argh(option)]
    cmd: Option<String>,
    /// the user the IOC runs as (default ioc-srv)
    #[argh(option)]
    user: Option<String>,
    /// the IOC's group (default ioc)
    #[argh(option)]
    group: Option<String>,
    /// print the file instead of writing it
    #[argh(switch, short = 'n')]
    dry_run: bool,
}

/// Install an IOC (a .conf file, or an iocBoot directory to generate one
/// from) and let iocinit pick it up.
#[derive(FromArgs)]
#[argh(subcommand, name = "install")]
struct Install {
    /// an IOC file or an iocBoot directory
    #[argh(positional)]
    source: PathBuf,
    /// the IOC name when generating from a directory
    #[argh(option)]
    name: Option<String>,
    /// the startup script when generating from a directory
    #[argh(option)]
    cmd: Option<String>,
    /// the user the IOC runs as, when generating (default ioc-srv)
    #[argh(option)]
    user: Option<String>,
    /// the IOC's group, when generating (default ioc)
    #[argh(option)]
    group: Option<String>,
    /// start it right away
    #[argh(switch)]
    start: bool,
}

/// Remove an installed IOC (-f: stop it first if it runs).
#[derive(FromArgs)]
#[argh(subcommand, name = "remove")]
struct Remove {
    /// the IOC name
    #[argh(positional)]
    name: String,
    /// stop a running IOC first
    #[argh(switch, short = 'f')]
    force: bool,
}

/// Read the IOC directory again (after an IOC file was edited by hand).
#[derive(FromArgs)]
#[argh(subcommand, name = "rescan")]
struct Rescan {}

/// Start an IOC and wait until it reports `All initialization complete`.
#[derive(FromArgs)]
#[argh(subcommand, name = "start")]
struct Start {
    /// the IOC name
    #[argh(positional)]
    name: String,
    /// do not wait for the IOC to be ready
    #[argh(switch)]
    no_wait: bool,
    /// seconds to wait for readiness (default 30)
    #[argh(option, default = "30")]
    timeout: u64,
}

/// Stop an IOC (procServ and the IOC, for certain).
#[derive(FromArgs)]
#[argh(subcommand, name = "stop")]
struct Stop {
    /// the IOC name
    #[argh(positional)]
    name: String,
}

/// Restart an IOC and wait until it is ready again.
#[derive(FromArgs)]
#[argh(subcommand, name = "restart")]
struct Restart {
    /// the IOC name
    #[argh(positional)]
    name: String,
    /// do not wait for the IOC to be ready
    #[argh(switch)]
    no_wait: bool,
    /// seconds to wait for readiness (default 30)
    #[argh(option, default = "30")]
    timeout: u64,
}

/// Show an IOC's state and the end of its log.
#[derive(FromArgs)]
#[argh(subcommand, name = "status")]
struct Status {
    /// the IOC name
    #[argh(positional)]
    name: String,
    /// log lines to show (default 10)
    #[argh(option, short = 'n', default = "10")]
    lines: usize,
}

/// Start the IOC at boot (kept across reboots).
#[derive(FromArgs)]
#[argh(subcommand, name = "enable")]
struct Enable {
    /// the IOC name
    #[argh(positional)]
    name: String,
}

/// Do not start the IOC at boot (kept across reboots).
#[derive(FromArgs)]
#[argh(subcommand, name = "disable")]
struct Disable {
    /// the IOC name
    #[argh(positional)]
    name: String,
}

/// Show the IOC's procServ log (-f follows it).
#[derive(FromArgs)]
#[argh(subcommand, name = "view")]
struct View {
    /// the IOC name
    #[argh(positional)]
    name: String,
    /// lines to show (default 50)
    #[argh(option, short = 'n', default = "50")]
    lines: usize,
    /// keep printing what is appended
    #[argh(switch, short = 'f')]
    follow: bool,
}

/// List the IOCs (-v: PID, CPU, MEM; -vv: socket details).
#[derive(FromArgs)]
#[argh(subcommand, name = "list")]
struct List {
    /// more columns (give twice for socket details)
    #[argh(switch, short = 'v')]
    verbose: u8,
}

/// Attach to an IOC's console (detach with Ctrl-A; -e to change).
#[derive(FromArgs)]
#[argh(subcommand, name = "attach")]
struct Attach {
    /// the IOC name
    #[argh(positional)]
    name: String,
    /// the detach key, as ^A or a single character (default ^A)
    #[argh(option, short = 'e')]
    escape: Option<String>,
    /// when not on a terminal: the longest the session may take, seconds (default 10)
    #[argh(option, default = "10")]
    timeout: u64,
}

/// Watch an IOC's console read-only (Ctrl-C leaves).
#[derive(FromArgs)]
#[argh(subcommand, name = "monitor")]
struct Monitor {
    /// the IOC name
    #[argh(positional)]
    name: String,
}

/// Show which processes are attached to an IOC's console.
#[derive(FromArgs)]
#[argh(subcommand, name = "inspect")]
struct Inspect {
    /// the IOC name
    #[argh(positional)]
    name: String,
}

pub fn main(name: &str, mut args: Vec<String>) -> i32 {
    let common = match Common::from_args(name, &mut args) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let a: Args = match super::parse(name, &args) {
        Ok(a) => a,
        Err(code) => return code,
    };
    match a.verb {
        IocVerb::Generate(g) => generate_cmd(&common, g),
        IocVerb::Install(i) => install(&common, i),
        IocVerb::Remove(r) => remove(&common, &r.name, r.force),
        IocVerb::Rescan(_) => rescan(&common),
        IocVerb::Start(s) => start(&common, Verb::Start, &s.name, s.no_wait, s.timeout),
        IocVerb::Restart(r) => start(&common, Verb::Restart, &r.name, r.no_wait, r.timeout),
        IocVerb::Stop(s) => stop(&common, &s.name),
        IocVerb::Status(s) => status(&common, &s.name, s.lines),
        IocVerb::Enable(e) => simple(&common, Verb::Enable, &e.name),
        IocVerb::Disable(d) => simple(&common, Verb::Disable, &d.name),
        IocVerb::View(v) => view_cmd(&common, &v.name, v.lines, v.follow),
        IocVerb::List(l) => list_cmd(&common, l.verbose),
        IocVerb::Attach(a) => attach_cmd(&common, &a.name, a.escape.as_deref(), a.timeout),
        IocVerb::Monitor(m) => with_ioc(&common, &m.name, |ioc| ending(attach::monitor(&m.name, &ioc.console))),
        IocVerb::Inspect(i) => inspect_cmd(&common, &i.name),
    }
}

/// What PID 1 says about one IOC.
struct IocInfo {
    record: Message,
    console: PathBuf,
    log: PathBuf,
}

fn check_name(name: &str) -> Result<(), i32> {
    if valid_ioc_name(name) {
        Ok(())
    } else {
        eprintln!("ioc: invalid IOC name \"{name}\": expected [A-Za-z0-9_][A-Za-z0-9_-]{{0,63}}");
        Err(EXIT_USAGE)
    }
}

/// Looks up an IOC by name (names are validated first: no path tricks).
fn lookup(common: &Common, name: &str) -> Result<IocInfo, i32> {
    check_name(name)?;
    let reply = common.request(Verb::Status, 0, &[name], Some(Duration::from_secs(10)))?;
    if reply.code != Code::Ok {
        eprintln!("ioc: no IOC named \"{name}\" is installed");
        return Err(EXIT_FAIL);
    }
    let record = reply.records.into_iter().next().ok_or(EXIT_FAIL)?;
    let (Some(console), Some(log)) = (record.str(Tag::Console), record.str(Tag::Log)) else {
        eprintln!("ioc: \"{name}\" is an object without a console, not an IOC");
        return Err(EXIT_FAIL);
    };
    let (console, log) = (PathBuf::from(console), PathBuf::from(log));
    Ok(IocInfo { record, console, log })
}

fn with_ioc(common: &Common, name: &str, f: impl FnOnce(&IocInfo) -> i32) -> i32 {
    match lookup(common, name) {
        Ok(info) => f(&info),
        Err(code) => code,
    }
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

fn log_size(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// start/restart: PID 1 starts procServ; then the IOC's log tells when the
/// IOC itself is ready (or which fatal line it printed).
fn start(common: &Common, verb: Verb, name: &str, no_wait: bool, timeout: u64) -> i32 {
    with_ioc(common, name, |ioc| {
        let offset = log_size(&ioc.log);
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
        match ready::wait_ready(&ioc.log, offset, Duration::from_secs(timeout)) {
            Ok(line) => {
                println!("{name} is ready ({:.1} s): {}", line.elapsed.as_secs_f64(), line.line.trim());
                EXIT_OK
            }
            Err(ready::NotReady::Fatal { line, .. }) => {
                eprintln!("ioc: {name} failed to start: {}", line.trim());
                EXIT_FAIL
            }
            Err(e) => {
                eprintln!("ioc: {name}: {e}");
                EXIT_FAIL
            }
        }
    })
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

fn status(common: &Common, name: &str, lines: usize) -> i32 {
    with_ioc(common, name, |ioc| {
        if common.json {
            println!("{}", super::epoch::record_json(&ioc.record));
            return EXIT_OK;
        }
        let code = super::epoch::main("ioc status", vec!["status".into(), name.into(), "--socket".into(), common.layout().control_socket.display().to_string()]);
        if lines > 0 {
            println!("\n--- last {lines} lines of {} ---", ioc.log.display());
            let mut out = std::io::stdout().lock();
            let _ = view::view(&ioc.log, lines, false, &mut out);
        }
        code
    })
}

fn view_cmd(common: &Common, name: &str, lines: usize, follow: bool) -> i32 {
    with_ioc(common, name, |ioc| {
        let mut out = std::io::stdout().lock();
        match view::view(&ioc.log, lines, follow, &mut out) {
            Ok(()) => EXIT_OK,
            Err(e) => {
                eprintln!("ioc: {}: {e}", ioc.log.display());
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
    let entries = list::gather(rows);
    if common.json {
        println!("{}", list::render_json(&entries));
    } else {
        print!("{}", list::render(&entries, verbosity.min(2), &common.layout().console_root()));
    }
    EXIT_OK
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
            eprintln!("ioc: -e takes ^X or a single character");
            return EXIT_USAGE;
        }
    };
    with_ioc(common, name, |ioc| {
        let opts = attach::AttachOptions { detach_key, timeout: Duration::from_secs(timeout), ..Default::default() };
        ending(attach::attach(name, &ioc.console, &opts))
    })
}

fn inspect_cmd(common: &Common, name: &str) -> i32 {
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
                print!("{}", inspect::render(&ioc.console, &clients));
            }
            EXIT_OK
        }
        Err(e) => {
            eprintln!("ioc: {}: {e}", ioc.console.display());
            EXIT_FAIL
        }
    })
}

/// The IOC directory and console root PID 1 uses.
fn directories(common: &Common) -> Result<(PathBuf, PathBuf), i32> {
    let reply = common.request(Verb::Version, 0, &[], Some(Duration::from_secs(10)))?;
    let r = reply.records.first().ok_or(EXIT_FAIL)?;
    let dir = r.str(Tag::IocDirectory).map(PathBuf::from).ok_or(EXIT_FAIL)?;
    let root = r.str(Tag::ConsoleRoot).map(PathBuf::from).unwrap_or_else(|| common.layout().console_root());
    Ok((dir, root))
}

fn generate_options(common: &Common, name: Option<String>, cmd: Option<String>, user: Option<String>, group: Option<String>) -> generate::GenerateOptions {
    let mut opts = generate::GenerateOptions { name, cmd, run_dir: common.layout().console_root(), ..Default::default() };
    if let Some(u) = user {
        opts.user = u;
    }
    if let Some(g) = group {
        opts.group = g;
    }
    opts
}

fn run_generate(dir: &Path, opts: &generate::GenerateOptions) -> Result<IocFile, i32> {
    let stdin = std::io::stdin();
    let interactive = stdin.is_terminal();
    let mut input = stdin.lock();
    let mut output = std::io::stderr();
    let prompt = interactive.then_some(generate::Prompt { input: &mut input, output: &mut output });
    generate::generate(dir, opts, prompt).map_err(|e| {
        eprintln!("ioc: {e}");
        EXIT_FAIL
    })
}

fn generate_cmd(common: &Common, g: Generate) -> i32 {
    let opts = generate_options(common, g.name, g.cmd, g.user, g.group);
    let ioc = match run_generate(&g.dir, &opts) {
        Ok(i) => i,
        Err(code) => return code,
    };
    if g.dry_run {
        print!("{}", iocfile::render(&ioc));
        return EXIT_OK;
    }
    let dir = ioc.chdir.clone().map(PathBuf::from).unwrap_or(g.dir);
    match iocfile::write_atomic(&dir, &ioc) {
        Ok(path) => {
            println!("wrote {}", path.display());
            EXIT_OK
        }
        Err(e) => {
            eprintln!("ioc: {}: {e}", dir.display());
            EXIT_FAIL
        }
    }
}

fn install(common: &Common, i: Install) -> i32 {
    let ioc = if i.source.is_dir() {
        let opts = generate_options(common, i.name, i.cmd, i.user, i.group);
        match run_generate(&i.source, &opts) {
            Ok(ioc) => ioc,
            Err(code) => return code,
        }
    } else {
        let text = match std::fs::read_to_string(&i.source) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("ioc: {}: {e}", i.source.display());
                return EXIT_FAIL;
            }
        };
        match iocfile::parse(&i.source, &text) {
            Ok((ioc, warnings)) => {
                for w in warnings {
                    eprintln!("{w}");
                }
                ioc
            }
            Err(errors) => {
                for e in errors {
                    eprintln!("{e}");
                }
                return EXIT_FAIL;
            }
        }
    };
    let (dir, _) = match directories(common) {
        Ok(d) => d,
        Err(code) => return code,
    };
    // A fresh account has no ~/.config/procServ.d yet (--local).
    let written = std::fs::create_dir_all(&dir).and_then(|()| iocfile::write_atomic(&dir, &ioc));
    let path = match written {
        Ok(p) => p,
        Err(e) => {
            eprintln!("ioc: cannot write into {}: {e}", dir.display());
            return EXIT_FAIL;
        }
    };
    println!("installed {}", path.display());
    // PID 1 decides who the IOC runs as (docs/CONFIG.md, "Who an IOC runs as");
    // say so where the file asks for a user that a member's file cannot choose.
    if !common.layout().local && !nix::unistd::geteuid().is_root() && ioc.user.is_some() {
        eprintln!("ioc: note: a file not installed by root runs as IocUser, not as IOC_USER; 'ioc status {}' shows who", ioc.name);
    }
    let code = rescan(common);
    if code != EXIT_OK || !i.start {
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

fn remove(common: &Common, name: &str, force: bool) -> i32 {
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
    let state = info.record.str(Tag::State).unwrap_or("");
    if !matches!(state, "stopped" | "failed" | "crashed" | "done") {
        if !force {
            eprintln!("ioc: {name} is {state}; stop it first, or use remove -f");
            return EXIT_FAIL;
        }
        let code = stop(common, name);
        if code != EXIT_OK {
            return code;
        }
    }
    let (dir, _) = match directories(common) {
        Ok(d) => d,
        Err(code) => return code,
    };
    let path = dir.join(format!("{name}.conf"));
    if let Err(e) = std::fs::remove_file(&path) {
        eprintln!("ioc: {}: {e}", path.display());
        return EXIT_FAIL;
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

    #[test]
    fn states_map_to_systemd_words() {
        assert_eq!(status_word("running"), "active");
        assert_eq!(status_word("restarting"), "activating");
        assert_eq!(status_word("crashed"), "failed");
        assert_eq!(status_word("stopped"), "inactive");
    }
}
