//! Epoch's control verbs (`epoch VERB`, `iocinit VERB`): start, stop,
//! restart, reload, enable, disable, status, runlevel, objrl, configreload,
//! reexec, getpid, kill, setcad, halt, reboot, poweroff, shutdown, version.
//! `--json` on every read verb; `--local`/`--socket` anywhere.

use std::time::Duration;

use argh::FromArgs;

use super::{Common, EXIT_FAIL, EXIT_OK};
use crate::control::protocol::{Code, Message, Tag, Verb, FLAG_WAIT};
use crate::json::Json;

/// Control iocinit (Epoch's verbs). Options anywhere: --local, --json/-j,
/// --socket PATH, --run-dir DIR.
#[derive(FromArgs)]
struct Args {
    #[argh(subcommand)]
    verb: VerbArgs,
}

#[derive(FromArgs)]
#[argh(subcommand)]
enum VerbArgs {
    Status(Status),
    Start(Start),
    Stop(Stop),
    Restart(Restart),
    Reload(Reload),
    Enable(Enable),
    Disable(Disable),
    Runlevel(Runlevel),
    Objrl(Objrl),
    ConfigReload(ConfigReload),
    Reexec(Reexec),
    GetPid(GetPid),
    Kill(Kill),
    SetCad(SetCad),
    Halt(Halt),
    Reboot(Reboot),
    Poweroff(Poweroff),
    Shutdown(Shutdown),
    Version(Version),
}

macro_rules! id_verb {
    ($name:ident, $word:literal, $doc:literal) => {
        #[doc = $doc]
        #[derive(FromArgs)]
        #[argh(subcommand, name = $word)]
        struct $name {
            /// the ObjectID
            #[argh(positional)]
            id: String,
        }
    };
}

/// Show objects: a table of all, or every detail of one.
#[derive(FromArgs)]
#[argh(subcommand, name = "status")]
struct Status {
    /// the ObjectID (default: all)
    #[argh(positional)]
    id: Option<String>,
}

/// Start an object and wait for the result.
#[derive(FromArgs)]
#[argh(subcommand, name = "start")]
struct Start {
    /// the ObjectID
    #[argh(positional)]
    id: String,
    /// do not wait for the start to complete
    #[argh(switch)]
    no_wait: bool,
}

/// Stop an object and wait for it to be down.
#[derive(FromArgs)]
#[argh(subcommand, name = "stop")]
struct Stop {
    /// the ObjectID
    #[argh(positional)]
    id: String,
    /// do not wait for the stop to complete
    #[argh(switch)]
    no_wait: bool,
}

/// Stop then start an object.
#[derive(FromArgs)]
#[argh(subcommand, name = "restart")]
struct Restart {
    /// the ObjectID
    #[argh(positional)]
    id: String,
    /// do not wait for the restart to complete
    #[argh(switch)]
    no_wait: bool,
}

id_verb!(Reload, "reload", "Run the object's ObjectReloadCommand (or send its reload signal).");
id_verb!(Enable, "enable", "Enable an object (kept across reboots).");
id_verb!(Disable, "disable", "Disable an object (kept across reboots).");
id_verb!(GetPid, "getpid", "Print the PID of an object's process.");
id_verb!(Kill, "kill", "SIGKILL an object's processes, without its stop command or a restart.");

/// Show the current runlevel, or switch to NAME.
#[derive(FromArgs)]
#[argh(subcommand, name = "runlevel")]
struct Runlevel {
    /// the runlevel to switch to
    #[argh(positional)]
    name: Option<String>,
}

/// Check, add or delete an object's runlevel: objrl ID check|add|del RUNLEVEL.
#[derive(FromArgs)]
#[argh(subcommand, name = "objrl")]
struct Objrl {
    /// the ObjectID
    #[argh(positional)]
    id: String,
    /// check, add or del
    #[argh(positional)]
    op: String,
    /// the runlevel
    #[argh(positional)]
    runlevel: String,
}

/// Reload the configuration (transactional: an error keeps the running one).
#[derive(FromArgs)]
#[argh(subcommand, name = "configreload")]
struct ConfigReload {}

/// Re-execute the supervisor's image, keeping every process running.
#[derive(FromArgs)]
#[argh(subcommand, name = "reexec")]
struct Reexec {}

/// Turn handling of Ctrl-Alt-Del by iocinit on or off.
#[derive(FromArgs)]
#[argh(subcommand, name = "setcad")]
struct SetCad {
    /// on or off
    #[argh(positional)]
    state: String,
}

/// Stop everything and halt.
#[derive(FromArgs)]
#[argh(subcommand, name = "halt")]
struct Halt {}

/// Stop everything and reboot.
#[derive(FromArgs)]
#[argh(subcommand, name = "reboot")]
struct Reboot {}

/// Stop everything and power off.
#[derive(FromArgs)]
#[argh(subcommand, name = "poweroff")]
struct Poweroff {}

/// Shut down at TIME (now, +MINUTES, HH:MM): -r reboot, -h halt, -p power off, -c cancel.
#[derive(FromArgs)]
#[argh(subcommand, name = "shutdown")]
struct Shutdown {
    /// TIME and an optional message
    #[argh(positional, greedy)]
    rest: Vec<String>,
}

/// Show the supervisor's version, runlevel and state.
#[derive(FromArgs)]
#[argh(subcommand, name = "version")]
struct Version {}

pub fn main(name: &str, mut args: Vec<String>) -> i32 {
    let common = match Common::from_args(name, &mut args) {
        Ok(c) => c,
        Err(code) => return code,
    };
    // `shutdown -r now` style flags must reach the shutdown verb untouched.
    if args.first().map(String::as_str) == Some("shutdown") {
        return super::power::shutdown(&common, &args[1..]);
    }
    let a: Args = match super::parse(name, &args) {
        Ok(a) => a,
        Err(code) => return code,
    };
    run(&common, a.verb)
}

fn simple(common: &Common, verb: Verb, args: &[&str], what: &str) -> i32 {
    match common.request(verb, 0, args, Some(Duration::from_secs(30))) {
        Ok(reply) => super::finish(&reply, what),
        Err(code) => code,
    }
}

fn run(common: &Common, verb: VerbArgs) -> i32 {
    match verb {
        VerbArgs::Status(s) => status(common, s.id.as_deref()),
        VerbArgs::Start(s) => change(common, Verb::Start, &s.id, s.no_wait),
        VerbArgs::Stop(s) => change(common, Verb::Stop, &s.id, s.no_wait),
        VerbArgs::Restart(s) => change(common, Verb::Restart, &s.id, s.no_wait),
        VerbArgs::Reload(r) => simple(common, Verb::Reload, &[&r.id], &r.id),
        VerbArgs::Enable(e) => simple(common, Verb::Enable, &[&e.id], &e.id),
        VerbArgs::Disable(d) => simple(common, Verb::Disable, &[&d.id], &d.id),
        VerbArgs::Kill(k) => simple(common, Verb::Kill, &[&k.id], &k.id),
        VerbArgs::Runlevel(r) => runlevel(common, r.name.as_deref()),
        VerbArgs::Objrl(o) => match common.request(Verb::Objrl, 0, &[&o.id, &o.op, &o.runlevel], Some(Duration::from_secs(10))) {
            Ok(reply) if o.op == "check" && matches!(reply.code, Code::Ok | Code::Fail) => {
                let member = reply.code == Code::Ok;
                println!("{} is {}in runlevel {}", o.id, if member { "" } else { "not " }, o.runlevel);
                if member {
                    EXIT_OK
                } else {
                    EXIT_FAIL
                }
            }
            Ok(reply) => super::finish(&reply, &o.id),
            Err(code) => code,
        },
        VerbArgs::ConfigReload(_) => simple(common, Verb::ConfigReload, &[], "configreload"),
        VerbArgs::Reexec(_) => reexec(common),
        VerbArgs::GetPid(g) => match common.request(Verb::GetPid, 0, &[&g.id], Some(Duration::from_secs(10))) {
            Ok(reply) if reply.code == Code::Ok => {
                let pid = reply.records.first().and_then(|r| r.i64(Tag::Pid)).unwrap_or(0);
                if common.json {
                    println!("{{\"pid\":{pid}}}");
                } else {
                    println!("{pid}");
                }
                EXIT_OK
            }
            Ok(reply) => super::finish(&reply, &g.id),
            Err(code) => code,
        },
        VerbArgs::SetCad(c) => simple(common, Verb::SetCad, &[&c.state], "setcad"),
        VerbArgs::Halt(_) => super::power::request(common, "halt", 0),
        VerbArgs::Reboot(_) => super::power::request(common, "reboot", 0),
        VerbArgs::Poweroff(_) => super::power::request(common, "poweroff", 0),
        VerbArgs::Shutdown(s) => super::power::shutdown(common, &s.rest),
        VerbArgs::Version(_) => version(common),
    }
}

/// start/stop/restart: waits for the object to settle and prints Epoch's
/// status line `Starting ID ... Done`.
fn change(common: &Common, verb: Verb, id: &str, no_wait: bool) -> i32 {
    let flags = if no_wait { 0 } else { FLAG_WAIT };
    let reply = match common.request(verb, flags, &[id], None) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let title = match verb {
        Verb::Stop => "Stopping",
        Verb::Restart => "Restarting",
        _ => "Starting",
    };
    let status = match reply.code {
        Code::Ok => "Done",
        Code::Warn => "WARN",
        _ => "FAIL",
    };
    if matches!(reply.code, Code::BadParam | Code::Denied) {
        return super::finish(&reply, id);
    }
    if no_wait && reply.code == Code::Ok {
        return EXIT_OK;
    }
    if reply.message.is_empty() {
        println!("{title} {id} ... {status}");
    } else {
        println!("{title} {id} ... {status} ({})", reply.message);
    }
    super::exit_code(reply.code)
}

fn reexec(common: &Common) -> i32 {
    // The supervisor's connections close when it executes itself: an EOF
    // after the request means it went through. Ask again to confirm.
    match common.request(Verb::Reexec, 0, &[], Some(Duration::from_secs(30))) {
        Ok(reply) => super::finish(&reply, "reexec"),
        Err(_) => {
            std::thread::sleep(Duration::from_millis(200));
            match common.request(Verb::Version, 0, &[], Some(Duration::from_secs(10))) {
                Ok(reply) if reply.code == Code::Ok => {
                    println!("re-executed");
                    EXIT_OK
                }
                Ok(reply) => super::finish(&reply, "reexec"),
                Err(code) => code,
            }
        }
    }
}

fn runlevel(common: &Common, name: Option<&str>) -> i32 {
    let args: Vec<&str> = name.into_iter().collect();
    let reply = match common.request(Verb::Runlevel, 0, &args, None) {
        Ok(r) => r,
        Err(code) => return code,
    };
    if name.is_none() && reply.code == Code::Ok {
        let rl = reply.records.first().and_then(|r| r.str(Tag::CurrentRunlevel)).unwrap_or("");
        if common.json {
            let mut j = Json::new();
            j.begin_object().field_str("runlevel", rl).end_object();
            println!("{}", j.finish());
        } else {
            println!("{rl}");
        }
        return EXIT_OK;
    }
    super::finish(&reply, "runlevel")
}

fn version(common: &Common) -> i32 {
    let reply = match common.request(Verb::Version, 0, &[], Some(Duration::from_secs(10))) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let Some(r) = reply.records.first() else { return super::finish(&reply, "version") };
    if common.json {
        println!("{}", record_json(r));
    } else {
        println!("iocinit {} (client {})", r.str(Tag::Version).unwrap_or("?"), env!("CARGO_PKG_VERSION"));
        println!("runlevel: {}", r.str(Tag::CurrentRunlevel).unwrap_or(""));
        println!("state: {}", r.str(Tag::Phase).unwrap_or(""));
        println!("ctrl-alt-del: {}", if r.bool(Tag::Cad).unwrap_or(false) { "iocinit" } else { "kernel" });
        if let Some(ms) = r.u64(Tag::ShutdownIn) {
            println!("shutdown scheduled in {} s", ms / 1000);
        }
        if let Some(n) = r.u64(Tag::Allocations) {
            println!("allocations: {n}");
        }
    }
    EXIT_OK
}

/// Every field of a record as a JSON object.
pub fn record_json(m: &Message) -> String {
    let mut j = Json::new();
    write_record(&mut j, m);
    j.finish()
}

pub fn write_record(j: &mut Json, m: &Message) {
    j.begin_object();
    write_fields(j, m);
    j.end_object();
}

/// Every field of a record, into an object the caller has begun (and may
/// add its own fields to).
pub fn write_fields(j: &mut Json, m: &Message) {
    for (tag, value) in &m.fields {
        j.key(tag.name());
        match tag {
            Tag::Pid | Tag::ChildPid | Tag::Since | Tag::Nice => {
                j.number(m.i64(*tag).unwrap_or(0));
            }
            Tag::Restarts | Tag::StartPriority | Tag::StopPriority | Tag::Allocations | Tag::ShutdownIn | Tag::RtPrio => {
                j.number(m.u64(*tag).unwrap_or(0));
            }
            Tag::Enabled | Tag::IsConsole | Tag::Removed | Tag::Cad => {
                j.bool(value.first().is_some_and(|&b| b != 0));
            }
            Tag::Meta => {
                j.begin_object();
                for (name, text) in metadata(m) {
                    j.field_str(name, text);
                }
                j.end_object();
            }
            _ => {
                j.string(&String::from_utf8_lossy(value));
            }
        }
    }
}

/// An IOC's metadata (its IOC_META_* variables) as (name, value) pairs.
pub fn metadata(m: &Message) -> impl Iterator<Item = (&str, &str)> {
    m.str(Tag::Meta).unwrap_or_default().lines().filter_map(|line| line.split_once('='))
}

fn fmt_since(secs: Option<i64>) -> String {
    secs.and_then(crate::ioc::list::format_started).unwrap_or_else(|| "-".into())
}

fn status(common: &Common, id: Option<&str>) -> i32 {
    let args: Vec<&str> = id.into_iter().collect();
    let reply = match common.request(Verb::Status, 0, &args, Some(Duration::from_secs(30))) {
        Ok(r) => r,
        Err(code) => return code,
    };
    if reply.code != Code::Ok {
        return super::finish(&reply, id.unwrap_or("status"));
    }
    if common.json {
        let mut j = Json::new();
        if id.is_some() {
            if let Some(r) = reply.records.first() {
                write_record(&mut j, r);
            }
        } else {
            j.begin_array();
            for r in &reply.records {
                write_record(&mut j, r);
            }
            j.end_array();
        }
        println!("{}", j.finish());
        return EXIT_OK;
    }
    match id {
        None => {
            let rows: Vec<Vec<String>> = reply
                .records
                .iter()
                .map(|r| {
                    vec![
                        r.str(Tag::Id).unwrap_or("").to_string(),
                        r.str(Tag::State).unwrap_or("").to_string(),
                        r.i64(Tag::Pid).map(|p| p.to_string()).unwrap_or_else(|| "-".into()),
                        if r.bool(Tag::Enabled).unwrap_or(false) { "yes" } else { "no" }.to_string(),
                        r.u64(Tag::Restarts).unwrap_or(0).to_string(),
                        r.str(Tag::Runlevels).unwrap_or("").to_string(),
                        r.str(Tag::Description).unwrap_or("").to_string(),
                    ]
                })
                .collect();
            print!("{}", super::table::render(&["ID", "STATE", "PID", "ENABLED", "RESTARTS", "RUNLEVELS", "DESCRIPTION"], &rows));
        }
        Some(_) => {
            if let Some(r) = reply.records.first() {
                print_block(r);
            }
        }
    }
    EXIT_OK
}

/// Epoch's status block for one object.
pub fn print_block(r: &Message) {
    let state = r.str(Tag::State).unwrap_or("");
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    let started = matches!(state, "running" | "done" | "starting" | "prestarting" | "waiting-pidfile" | "restarting");
    let line = |k: &str, v: &str| println!("{k:<20}{v}");
    line("ObjectID:", r.str(Tag::Id).unwrap_or(""));
    line("ObjectDescription:", r.str(Tag::Description).unwrap_or(""));
    line("State:", state);
    line("Enabled:", yes_no(r.bool(Tag::Enabled).unwrap_or(false)));
    line("Started:", yes_no(started));
    line("Running:", yes_no(state == "running"));
    line("Stop mode:", r.str(Tag::StopMode).unwrap_or(""));
    line("PID:", &r.i64(Tag::Pid).map(|p| p.to_string()).unwrap_or_else(|| "-".into()));
    if let Some(p) = r.i64(Tag::ChildPid) {
        line("IOC PID:", &p.to_string());
    }
    line("Started since:", &fmt_since(r.i64(Tag::Since)));
    if let Some(e) = r.str(Tag::LastExit) {
        line("Last exit:", e);
    }
    line("Restarts:", &r.u64(Tag::Restarts).unwrap_or(0).to_string());
    line("Options:", r.str(Tag::Options).filter(|s| !s.is_empty()).unwrap_or("(none)"));
    line("Runlevels:", r.str(Tag::Runlevels).unwrap_or(""));
    line("Start priority:", &r.u64(Tag::StartPriority).unwrap_or(0).to_string());
    line("Stop priority:", &r.u64(Tag::StopPriority).unwrap_or(0).to_string());
    line("User:", r.str(Tag::User).unwrap_or("root"));
    line("Group:", r.str(Tag::Group).unwrap_or("root"));
    // Extensions: what the start command's process is given.
    let process: Vec<String> = [
        ("rtprio", r.u64(Tag::RtPrio).map(|p| p.to_string())),
        ("memlock", r.str(Tag::MemLock).map(str::to_string)),
        ("core", r.str(Tag::CoreSize).map(str::to_string)),
        ("nice", r.i64(Tag::Nice).map(|n| n.to_string())),
        ("umask", r.str(Tag::Umask).map(str::to_string)),
        ("cpus", r.str(Tag::Cpus).map(str::to_string)),
    ]
    .into_iter()
    .filter_map(|(name, value)| Some(format!("{name} {}", value?)))
    .collect();
    if !process.is_empty() {
        line("Process:", &process.join(", "));
    }
    if let Some(dir) = r.str(Tag::StateDirectory) {
        line("State directory:", dir);
    }
    if let Some(host) = r.str(Tag::Host) {
        line("Host:", host);
    }
    if let Some(c) = r.str(Tag::Console) {
        line("Console:", c);
    }
    if let Some(l) = r.str(Tag::Log) {
        line("Log:", l);
    }
    if let Some(n) = r.str(Tag::Note) {
        line("Note:", n);
    }
    if r.bool(Tag::Removed).unwrap_or(false) {
        line("Removed:", "yes (no longer configured; kept until it stops)");
    }
}
