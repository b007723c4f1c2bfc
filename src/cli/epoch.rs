//! Epoch's control verbs (`epoch VERB`, `iocinit VERB`): start, stop,
//! restart, reload, enable, disable, status, runlevel, objrl, configreload,
//! reexec, getpid, kill, setcad, halt, reboot, poweroff, shutdown, version.
//! `--json` on every read verb; `--local`/`--socket` anywhere.

use std::fmt::{self, Write as _};
use std::time::Duration;

use super::{Common, EXIT_FAIL, EXIT_OK};
use crate::control::protocol::{Code, Message, Tag, Verb, FLAG_WAIT};
use crate::json::Json;
use crate::logging::Quoted;

/// One verb of the command line.
struct VerbSpec {
    word: &'static str,
    /// Its positional arguments in order: `ID` required, `[ID]` optional.
    args: &'static [&'static str],
    /// Whether it waits for the result unless given `--no-wait`.
    waits: bool,
    doc: &'static str,
}

const fn verb(word: &'static str, args: &'static [&'static str], waits: bool, doc: &'static str) -> VerbSpec {
    VerbSpec { word, args, waits, doc }
}

/// The verbs, in the order `epoch help` lists them. `shutdown` takes its
/// words as they are (`shutdown -r now`, see [`super::power::shutdown`]).
const VERBS: &[VerbSpec] = &[
    verb("status", &["[ID]"], false, "Show objects: a table of all, or every detail of one."),
    verb("start", &["ID"], true, "Start an object and wait for the result."),
    verb("stop", &["ID"], true, "Stop an object and wait for it to be down."),
    verb("restart", &["ID"], true, "Stop then start an object."),
    verb("reload", &["ID"], false, "Run the object's ObjectReloadCommand (or send its reload signal)."),
    verb("enable", &["ID"], false, "Enable an object (kept across reboots)."),
    verb("disable", &["ID"], false, "Disable an object (kept across reboots)."),
    verb("runlevel", &["[NAME]"], false, "Show the current runlevel, or switch to NAME."),
    verb("objrl", &["ID", "check|add|del", "RUNLEVEL"], false, "Check, add or delete an object's runlevel."),
    verb("configreload", &[], false, "Reload the configuration (transactional: an error keeps the running one)."),
    verb("reexec", &[], false, "Re-execute the supervisor's image, keeping every process running."),
    verb("getpid", &["ID"], false, "Print the PID of an object's process."),
    verb("kill", &["ID"], false, "SIGKILL an object's processes, without its stop command or a restart."),
    verb("setcad", &["on|off"], false, "Turn handling of Ctrl-Alt-Del by iocinit on or off."),
    verb("halt", &[], false, "Stop everything and halt."),
    verb("reboot", &[], false, "Stop everything and reboot."),
    verb("poweroff", &[], false, "Stop everything and power off."),
    verb("shutdown", &["[-r|-h|-p|-c]", "[TIME [MESSAGE...]]"], false, "Shut down at TIME (now, +MINUTES, HH:MM): -r reboot, -h halt, -p power off, -c cancel."),
    verb("version", &[], false, "Show the supervisor's version, runlevel and state."),
];

/// A command line that names a verb and all it needs.
struct Invocation {
    verb: &'static VerbSpec,
    /// The positional arguments, as many as the verb names (optional ones may be missing).
    args: Vec<String>,
    no_wait: bool,
}

impl Invocation {
    fn arg(&self, i: usize) -> &str {
        self.args.get(i).map_or("", String::as_str)
    }
}

/// `epoch VERB`'s usage line, e.g. `epoch start [--no-wait] ID`.
fn usage_of(name: &str, v: &VerbSpec) -> String {
    let mut line = format!("{name} {}", v.word);
    if v.waits {
        line.push_str(" [--no-wait]");
    }
    for arg in v.args {
        line.push(' ');
        line.push_str(arg);
    }
    line
}

fn help(name: &str) -> String {
    let mut text = format!(
        "Usage: {name} VERB [ARGS]\n\nControl iocinit (Epoch's verbs). Options anywhere: --local, --json/-j, --socket PATH, --run-dir DIR.\n\nVerbs:\n"
    );
    for v in VERBS {
        text.push_str(&format!("  {:<40} {}\n", usage_of(name, v), v.doc));
    }
    text.push_str(&format!("\n`{name} help VERB` or `{name} VERB --help` shows one verb."));
    text
}

fn verb_help(name: &str, v: &VerbSpec) -> String {
    let no_wait = if v.waits { "\n\n  --no-wait   do not wait for the result" } else { "" };
    format!("Usage: {}\n\n{}{no_wait}", usage_of(name, v), v.doc)
}

/// What a command line asks: a verb to run, or text to print with an exit code.
enum Parsed {
    Run(Invocation),
    Print(String, i32),
}

/// Parses `VERB [--no-wait] [--] ARGS...` (the common options already taken out).
fn parse(name: &str, words: &[String]) -> Parsed {
    let usage_error = |what: String| Parsed::Print(format!("{name}: {what}; see `{name} help`"), super::EXIT_USAGE);
    let Some(first) = words.first() else {
        return usage_error("a verb is needed".into());
    };
    if matches!(first.as_str(), "help" | "--help" | "-h") {
        return match words.get(1).and_then(|w| VERBS.iter().find(|v| v.word == w)) {
            Some(v) => Parsed::Print(verb_help(name, v), EXIT_OK),
            None if words.len() == 1 => Parsed::Print(help(name), EXIT_OK),
            None => usage_error(format!("unknown verb {}", Quoted::text(&words[1]))),
        };
    }
    let Some(verb) = VERBS.iter().find(|v| v.word == first) else {
        return usage_error(format!("unknown verb {}", Quoted::text(first)));
    };
    let mut invocation = Invocation { verb, args: Vec::new(), no_wait: false };
    let mut options_end = false;
    for word in &words[1..] {
        match word.as_str() {
            "--" if !options_end => options_end = true,
            "--help" | "-h" | "help" if !options_end => return Parsed::Print(verb_help(name, verb), EXIT_OK),
            "--no-wait" if !options_end && verb.waits => invocation.no_wait = true,
            w if w.starts_with('-') && !options_end => return usage_error(format!("{}: unknown option {}", verb.word, Quoted::text(w))),
            _ if invocation.args.len() == verb.args.len() => return usage_error(format!("{}: unexpected argument {}", verb.word, Quoted::text(word))),
            _ => invocation.args.push(word.clone()),
        }
    }
    if let Some(missing) = verb.args.get(invocation.args.len()).filter(|a| !a.starts_with('[')) {
        return usage_error(format!("{}: {missing} is missing", verb.word));
    }
    Parsed::Run(invocation)
}

pub fn main(name: &str, mut args: Vec<String>) -> i32 {
    let common = match Common::from_args(name, &mut args) {
        Ok(c) => c,
        Err(code) => return code,
    };
    // `shutdown -r now` style flags must reach the shutdown verb untouched.
    if args.first().map(String::as_str) == Some("shutdown") {
        return super::power::shutdown(&common, &args[1..]);
    }
    match parse(name, &args) {
        Parsed::Run(invocation) => run(&common, &invocation),
        Parsed::Print(text, EXIT_OK) => {
            println!("{text}");
            EXIT_OK
        }
        Parsed::Print(text, code) => {
            eprintln!("{text}");
            code
        }
    }
}

fn simple(common: &Common, verb: Verb, args: &[&str], what: &str) -> i32 {
    match common.request(verb, 0, args, Some(Duration::from_secs(30))) {
        Ok(reply) => super::finish(&reply, what),
        Err(code) => code,
    }
}

fn run(common: &Common, call: &Invocation) -> i32 {
    let id = call.arg(0);
    match call.verb.word {
        "status" => status(common, call.args.first().map(String::as_str)),
        "start" => change(common, Verb::Start, id, call.no_wait),
        "stop" => change(common, Verb::Stop, id, call.no_wait),
        "restart" => change(common, Verb::Restart, id, call.no_wait),
        "reload" => simple(common, Verb::Reload, &[id], id),
        "enable" => simple(common, Verb::Enable, &[id], id),
        "disable" => simple(common, Verb::Disable, &[id], id),
        "kill" => simple(common, Verb::Kill, &[id], id),
        "runlevel" => runlevel(common, call.args.first().map(String::as_str)),
        "objrl" => {
            let (op, runlevel) = (call.arg(1), call.arg(2));
            match common.request(Verb::Objrl, 0, &[id, op, runlevel], Some(Duration::from_secs(10))) {
                Ok(reply) if op == "check" && matches!(reply.code, Code::Ok | Code::Fail) => {
                    let member = reply.code == Code::Ok;
                    println!("{id} is {}in runlevel {runlevel}", if member { "" } else { "not " });
                    if member {
                        EXIT_OK
                    } else {
                        EXIT_FAIL
                    }
                }
                Ok(reply) => super::finish(&reply, id),
                Err(code) => code,
            }
        }
        "configreload" => simple(common, Verb::ConfigReload, &[], "configreload"),
        "reexec" => reexec(common),
        "getpid" => match common.request(Verb::GetPid, 0, &[id], Some(Duration::from_secs(10))) {
            Ok(reply) if reply.code == Code::Ok => {
                let pid = reply.records.first().and_then(|r| r.i64(Tag::Pid)).unwrap_or(0);
                if common.json {
                    println!("{{\"pid\":{pid}}}");
                } else {
                    println!("{pid}");
                }
                EXIT_OK
            }
            Ok(reply) => super::finish(&reply, id),
            Err(code) => code,
        },
        "setcad" => simple(common, Verb::SetCad, &[id], "setcad"),
        "halt" | "reboot" | "poweroff" => super::power::request(common, call.verb.word, 0),
        "shutdown" => super::power::shutdown(common, &call.args),
        _ => version(common), // "version", the one verb of VERBS left
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
    // Numbers printed as they are formatted, not made into `String`s.
    let signed = |k: &str, v: i64| println!("{k:<20}{v}");
    let unsigned = |k: &str, v: u64| println!("{k:<20}{v}");
    line("ObjectID:", r.str(Tag::Id).unwrap_or(""));
    line("ObjectDescription:", r.str(Tag::Description).unwrap_or(""));
    line("State:", state);
    line("Enabled:", yes_no(r.bool(Tag::Enabled).unwrap_or(false)));
    line("Started:", yes_no(started));
    line("Running:", yes_no(state == "running"));
    line("Stop mode:", r.str(Tag::StopMode).unwrap_or(""));
    match r.i64(Tag::Pid) {
        Some(p) => signed("PID:", p),
        None => line("PID:", "-"),
    }
    if let Some(p) = r.i64(Tag::ChildPid) {
        signed("IOC PID:", p);
    }
    line("Started since:", &fmt_since(r.i64(Tag::Since)));
    if let Some(e) = r.str(Tag::LastExit) {
        line("Last exit:", e);
    }
    unsigned("Restarts:", r.u64(Tag::Restarts).unwrap_or(0));
    line("Options:", r.str(Tag::Options).filter(|s| !s.is_empty()).unwrap_or("(none)"));
    line("Runlevels:", r.str(Tag::Runlevels).unwrap_or(""));
    unsigned("Start priority:", r.u64(Tag::StartPriority).unwrap_or(0));
    unsigned("Stop priority:", r.u64(Tag::StopPriority).unwrap_or(0));
    line("User:", r.str(Tag::User).unwrap_or("root"));
    line("Group:", r.str(Tag::Group).unwrap_or("root"));
    // Extensions: what the start command's process is given.
    // Written into one line as found: no `String` per setting, no list of
    // them to join.
    let mut process = String::new();
    let mut add = |setting: fmt::Arguments<'_>| {
        let separator = if process.is_empty() { "" } else { ", " };
        let _ = write!(process, "{separator}{setting}");
    };
    if let Some(p) = r.u64(Tag::RtPrio) {
        add(format_args!("rtprio {p}"));
    }
    if let Some(v) = r.str(Tag::MemLock) {
        add(format_args!("memlock {v}"));
    }
    if let Some(v) = r.str(Tag::CoreSize) {
        add(format_args!("core {v}"));
    }
    if let Some(n) = r.i64(Tag::Nice) {
        add(format_args!("nice {n}"));
    }
    if let Some(v) = r.str(Tag::Umask) {
        add(format_args!("umask {v}"));
    }
    if let Some(v) = r.str(Tag::Cpus) {
        add(format_args!("cpus {v}"));
    }
    if !process.is_empty() {
        line("Process:", &process);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<String> {
        line.split_whitespace().map(String::from).collect()
    }

    fn run_of(line: &str) -> Invocation {
        match parse("epoch", &words(line)) {
            Parsed::Run(call) => call,
            Parsed::Print(text, code) => panic!("{line}: printed {text} ({code})"),
        }
    }

    fn printed(line: &str) -> (String, i32) {
        match parse("epoch", &words(line)) {
            Parsed::Run(call) => panic!("{line}: runs {}", call.verb.word),
            Parsed::Print(text, code) => (text, code),
        }
    }

    #[test]
    fn verbs_take_their_arguments_and_no_wait() {
        let start = run_of("start --no-wait sshd");
        assert_eq!((start.verb.word, start.args.as_slice(), start.no_wait), ("start", &["sshd".to_string()][..], true));
        let objrl = run_of("objrl sshd add default");
        assert_eq!((objrl.arg(0), objrl.arg(1), objrl.arg(2)), ("sshd", "add", "default"));
        assert!(run_of("status").args.is_empty());
        assert_eq!(run_of("stop -- -odd-id").arg(0), "-odd-id");
    }

    #[test]
    fn help_is_printed_with_exit_0() {
        let (all, code) = printed("help");
        assert_eq!(code, EXIT_OK);
        assert!(VERBS.iter().all(|v| all.contains(v.word)), "{all}");
        for line in ["help start", "start --help", "start -h"] {
            let (text, code) = printed(line);
            assert_eq!(code, EXIT_OK);
            assert!(text.starts_with("Usage: epoch start [--no-wait] ID\n"), "{line}: {text}");
        }
    }

    #[test]
    fn bad_command_lines_are_usage_errors() {
        for (line, what) in [
            ("", "a verb is needed"),
            ("bogus", "unknown verb \"bogus\""),
            ("start", "start: ID is missing"),
            ("start a b", "start: unexpected argument \"b\""),
            ("enable --no-wait a", "enable: unknown option \"--no-wait\""),
            ("objrl a add", "objrl: RUNLEVEL is missing"),
            ("help bogus", "unknown verb \"bogus\""),
        ] {
            let (text, code) = printed(line);
            assert_eq!(code, super::super::EXIT_USAGE, "{line}");
            assert_eq!(text, format!("epoch: {what}; see `epoch help`"), "{line}");
        }
    }
}
