//! The command line of `ioc` / `ioc-runner`, parsed by hand because
//! epics-ioc-runner's grammar lets global options stand anywhere, before or
//! after the verb (`ioc-runner -v list`, `ioc-runner list --local -v`), which
//! argh's subcommands do not allow.
//!
//! Grammar: `ioc [OPTION...] VERB [TARGET] [OPTION...]`, options in any order:
//!
//! - global, anywhere: `--local` (alias `--user`), `-f`/`--force`, `-v`,
//!   `-vv` (only for `list`), `-V`/`--version`, `-h`/`--help`, and ours:
//!   `--json`/`-j`, `--socket PATH`, `--run-dir DIR`;
//! - a verb's own options ([`VERB_OPTIONS`]), `--opt VALUE` or `--opt=VALUE`.
//!
//! No arguments print the usage (exit 0); anything not understood, a missing
//! target or a third word is a usage error, exit 1 as epics-ioc-runner's
//! (docs/USER_GUIDE.md, "Exit codes of ioc"). `-h` and `-V` act where they
//! stand, as the peer's do: what follows them is not read.

use std::path::PathBuf;

use super::Common;

/// The verbs, in the order the usage lists them. The command line's word
/// is looked up once ([`Command::named`]); everything after matches the
/// variant, not the word again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    Generate,
    Install,
    Remove,
    Rescan,
    Start,
    Stop,
    Restart,
    Status,
    Enable,
    Disable,
    View,
    Log,
    List,
    Attach,
    Monitor,
    Inspect,
}

/// Each verb's word, in [`Command`]'s order.
const VERBS: [&str; 16] = [
    "generate", "install", "remove", "rescan", "start", "stop", "restart", "status", "enable", "disable", "view", "log", "list",
    "attach", "monitor", "inspect",
];

/// The verbs of [`VERBS`], in the same order: two lists, not one of pairs,
/// whose padded entries took 64 bytes more of relocated data.
const COMMANDS: [Command; 16] = [
    Command::Generate,
    Command::Install,
    Command::Remove,
    Command::Rescan,
    Command::Start,
    Command::Stop,
    Command::Restart,
    Command::Status,
    Command::Enable,
    Command::Disable,
    Command::View,
    Command::Log,
    Command::List,
    Command::Attach,
    Command::Monitor,
    Command::Inspect,
];

impl Command {
    /// The verb `word` names, if any.
    fn named(word: &str) -> Option<Command> {
        VERBS.iter().zip(COMMANDS).find(|(w, _)| **w == word).map(|(_, verb)| verb)
    }
}

/// One option of a verb: its spellings, whether it takes a value, where it goes.
struct VerbOption {
    names: &'static [&'static str],
    value: bool,
    key: Key,
}

#[derive(Clone, Copy)]
enum Key {
    Name,
    Cmd,
    IocUser,
    IocGroup,
    DryRun,
    Start,
    All,
    Lines,
    NoWait,
    Timeout,
    Escape,
    Partial,
}

const fn opt(names: &'static [&'static str], value: bool, key: Key) -> VerbOption {
    VerbOption { names, value, key }
}

const GENERATE_OPTIONS: &[VerbOption] = &[
    opt(&["--name"], true, Key::Name),
    opt(&["--cmd"], true, Key::Cmd),
    opt(&["--ioc-user"], true, Key::IocUser),
    opt(&["--ioc-group"], true, Key::IocGroup),
    opt(&["-n", "--dry-run"], false, Key::DryRun),
];
const INSTALL_OPTIONS: &[VerbOption] = &[
    opt(&["--name"], true, Key::Name),
    opt(&["--cmd"], true, Key::Cmd),
    opt(&["--ioc-user"], true, Key::IocUser),
    opt(&["--ioc-group"], true, Key::IocGroup),
    opt(&["--start"], false, Key::Start),
];
const START_OPTIONS: &[VerbOption] = &[opt(&["--no-wait"], false, Key::NoWait), opt(&["--timeout"], true, Key::Timeout)];
const STATUS_OPTIONS: &[VerbOption] = &[opt(&["-a", "--all"], false, Key::All), opt(&["-n", "--lines"], true, Key::Lines)];
const LOG_OPTIONS: &[VerbOption] = &[opt(&["-n", "--lines"], true, Key::Lines)];
const ATTACH_OPTIONS: &[VerbOption] = &[opt(&["-e", "--escape"], true, Key::Escape), opt(&["--timeout"], true, Key::Timeout)];
const INSPECT_OPTIONS: &[VerbOption] = &[opt(&["--partial"], false, Key::Partial)];

fn options_of(verb: Command) -> &'static [VerbOption] {
    match verb {
        Command::Generate => GENERATE_OPTIONS,
        Command::Install => INSTALL_OPTIONS,
        Command::Start | Command::Restart => START_OPTIONS,
        Command::Status => STATUS_OPTIONS,
        Command::Log => LOG_OPTIONS,
        Command::Attach => ATTACH_OPTIONS,
        Command::Inspect => INSPECT_OPTIONS,
        _ => &[],
    }
}

/// Whether `verb` names an IOC or a path after it.
fn takes_target(verb: Command) -> bool {
    !matches!(verb, Command::List | Command::Rescan)
}

/// What a verb's options said (the ones it has; the rest stay default).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct VerbArgs {
    pub name: Option<String>,
    pub cmd: Option<String>,
    pub ioc_user: Option<String>,
    pub ioc_group: Option<String>,
    pub dry_run: bool,
    pub start: bool,
    pub all: bool,
    pub lines: Option<usize>,
    pub no_wait: bool,
    pub timeout: Option<u64>,
    pub escape: Option<String>,
    /// inspect without root in system mode: what this user may see.
    pub partial: bool,
}

/// A parsed command line.
#[derive(Debug)]
pub struct Invocation {
    pub common: Common,
    /// `-f`/`--force` (for `log`: follow).
    pub force: bool,
    /// `-v` = 1, `-vv` = 2 (only `list` accepts it).
    pub verbose: u8,
    pub verb: Command,
    pub target: Option<String>,
    pub args: VerbArgs,
}

/// What the command line asks for.
#[derive(Debug)]
pub enum Parsed {
    Run(Box<Invocation>),
    Usage,
    Version,
    /// A usage error: the message to print (exit 1).
    Error(String),
}

/// Parses the words after argv[0].
pub fn parse(words: &[String]) -> Parsed {
    // A verb's options (whether `-n` takes a value) depend on the verb, which
    // may come after them: find it first.
    let verb_word = find_verb(words).unwrap_or_default();
    let verb = Command::named(verb_word);
    let verb_opts = verb.map_or(&[][..], options_of);
    let (mut common, mut force, mut verbose, mut args) = (Common::default(), false, 0, VerbArgs::default());
    // Words borrowed from the command line: only what is kept is copied.
    let mut positionals: Vec<&str> = Vec::new();
    let mut it = words.iter();
    while let Some(word) = it.next() {
        let (flag, inline) = match word.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v)),
            _ => (word.as_str(), None),
        };
        match flag {
            "--local" | "--user" => common.local = true,
            "-f" | "--force" => force = true,
            "-v" => verbose = verbose.max(1),
            "-vv" => verbose = 2,
            "-V" | "--version" => return Parsed::Version,
            "-h" | "--help" => return Parsed::Usage,
            "--json" | "-j" => common.json = true,
            "--socket" | "--run-dir" => {
                let Some(value) = inline.or_else(|| it.next().map(String::as_str)) else {
                    return Parsed::Error(format!("{flag} needs a value"));
                };
                if flag == "--socket" {
                    common.socket = Some(PathBuf::from(value));
                } else {
                    common.run_dir = Some(PathBuf::from(value));
                }
            }
            "--" => positionals.extend(it.by_ref().map(String::as_str)),
            f if f.starts_with('-') && f.len() > 1 => {
                let Some(o) = verb_opts.iter().find(|o| o.names.contains(&f)) else {
                    return Parsed::Error(if verb_word.is_empty() {
                        format!("Unknown option '{f}'")
                    } else {
                        format!("Unknown option '{f}' for '{verb_word}'")
                    });
                };
                let value = match inline {
                    Some(_) if !o.value => return Parsed::Error(format!("option '{f}' takes no value")),
                    None if o.value => match it.next() {
                        Some(v) => Some(v.as_str()),
                        None => return Parsed::Error(format!("option '{f}' needs a value")),
                    },
                    v => v,
                };
                if let Err(e) = store(&mut args, o, f, value) {
                    return Parsed::Error(e);
                }
            }
            _ => positionals.push(word),
        }
    }
    let mut positionals = positionals.into_iter();
    if positionals.next().is_none() {
        return Parsed::Usage;
    }
    let Some(verb) = verb else {
        return Parsed::Error(format!("Unknown command '{verb_word}'"));
    };
    let target = positionals.next().map(str::to_string);
    if let Some(extra) = positionals.next() {
        return Parsed::Error(format!("Unexpected argument '{extra}'"));
    }
    if target.is_some() && !takes_target(verb) {
        return Parsed::Error(format!("'{verb_word}' takes no target"));
    }
    if verbose > 0 && verb != Command::List {
        return Parsed::Error("Verbose options (-v, -vv) are only supported for the 'list' command.".into());
    }
    let target_optional = !takes_target(verb) || (verb == Command::Status && args.all);
    if target.is_none() && !target_optional {
        return Parsed::Error(match verb {
            Command::Generate | Command::Install => format!("A target directory or file is required for {verb_word}."),
            Command::Status => "Target IOC name is required for status (ioc status --all for every IOC, ioc list -v for a table).".into(),
            _ => format!("Target IOC name is required for {verb_word}."),
        });
    }
    Parsed::Run(Box::new(Invocation { common, force, verbose, verb, target, args }))
}

/// The first word that is neither an option nor the value of a global one.
/// A verb's valued option cannot stand before its verb (its value would be
/// taken for the verb), which the peer's grammar never needs.
fn find_verb(words: &[String]) -> Option<&str> {
    let mut it = words.iter();
    while let Some(w) = it.next() {
        match w.as_str() {
            "--socket" | "--run-dir" => {
                it.next();
            }
            "--" => return it.next().map(String::as_str),
            w if w.starts_with('-') && w.len() > 1 => {}
            w => return Some(w),
        }
    }
    None
}

fn store(args: &mut VerbArgs, o: &VerbOption, flag: &str, value: Option<&str>) -> Result<(), String> {
    let number = |v: Option<&str>| -> Result<u64, String> {
        v.unwrap_or("").parse::<u64>().map_err(|_| format!("option '{flag}' needs a number"))
    };
    let text = || value.map(str::to_string);
    match o.key {
        Key::Name => args.name = text(),
        Key::Cmd => args.cmd = text(),
        Key::IocUser => args.ioc_user = text(),
        Key::IocGroup => args.ioc_group = text(),
        Key::Escape => args.escape = text(),
        Key::DryRun => args.dry_run = true,
        Key::Start => args.start = true,
        Key::All => args.all = true,
        Key::NoWait => args.no_wait = true,
        Key::Partial => args.partial = true,
        Key::Lines => args.lines = Some(usize::try_from(number(value)?).map_err(|_| format!("option '{flag}': too large"))?),
        Key::Timeout => args.timeout = Some(number(value)?),
    }
    Ok(())
}

/// The usage, as epics-ioc-runner's (`PROG` is the name called under).
pub fn usage(prog: &str) -> String {
    format!(
        "\
Usage: {prog} [OPTIONS] COMMAND [TARGET] [COMMAND OPTIONS]

EPICS IOC Runner on iocinit: epics-ioc-runner's commands, without systemd.

Options (anywhere on the line):
  --local        Run in local user mode: your own supervisor (iocinit --local,
                 started when none answers), ~/.config/procServ.d. Alias: --user
  -f, --force    Force overwrite without prompting (generate, install);
                 remove: stop a running IOC first; log: follow
  -v, -vv        Verbose output (supported only for 'list' command)
  -V, --version  Show version and exit
  -h, --help     Show this help message and exit
  -j, --json     Machine-readable output (status, list, inspect)
  --socket PATH  The supervisor's control socket (else IOCINIT_SOCKET)
  --run-dir DIR  Where the control socket and IOC consoles are

Commands:
  generate DIR   Auto-generate a .conf file from an iocBoot directory
                   [--name N] [--cmd FILE] [--ioc-user U] [--ioc-group G] [-n: print it]
  install SRC    Install an IOC configuration file (.conf), or generate it from DIR
                   [--name N] [--cmd FILE] [--ioc-user U] [--ioc-group G] [--start]
  remove         Remove an installed IOC configuration
  rescan         Read the IOC directory again
  start          Start the IOC and wait until it is ready [--no-wait] [--timeout S]
  stop           Stop the IOC
  restart        Restart the IOC and wait until it is ready [--no-wait] [--timeout S]
  status         Show the IOC's state ('Active: ...' first) and log end [-a] [-n N]
  enable         Enable the IOC to start on boot
  disable        Disable the IOC from starting on boot
  view           Print the IOC configuration file and its procServ command line
  log            Print the IOC's procServ log [-n N] [-f: follow]
  list           List all IOCs (-v: adds PID, CPU, memory; -vv: socket details)
  attach         Attach to the IOC console (read/write) [-e KEY] [--timeout S]
  monitor        Attach to the IOC console in read-only mode
  inspect        Socket, server processes and clients of the IOC console
                   (root in system mode; [--partial]: what you may see)

Exit codes: 0 ok, 1 failure or usage error, 3 supervisor not reachable,
4 permission denied.

Examples:
  {prog} generate /path/to/iocBoot/iocmyioc
  {prog} install myioc.conf
  {prog} start myioc
  {prog} attach myioc
  {prog} --local list -v"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(words: &[&str]) -> Parsed {
        parse(&words.iter().map(|w| w.to_string()).collect::<Vec<_>>())
    }

    fn invocation(words: &[&str]) -> Invocation {
        match run(words) {
            Parsed::Run(inv) => *inv,
            other => panic!("{words:?}: {other:?}"),
        }
    }

    fn error(words: &[&str]) -> String {
        match run(words) {
            Parsed::Error(e) => e,
            other => panic!("{words:?}: expected an error, got {other:?}"),
        }
    }

    /// VERBS and COMMANDS are two lists kept in step by hand: a word paired
    /// with the next verb would run that verb. Each word is its variant's
    /// name, and no variant stands twice.
    #[test]
    fn each_verbs_word_names_its_variant() {
        for (word, verb) in VERBS.iter().zip(COMMANDS) {
            assert_eq!(format!("{verb:?}").to_lowercase(), *word);
            assert_eq!(Command::named(word), Some(verb));
        }
        for (k, verb) in COMMANDS.iter().enumerate() {
            assert!(!COMMANDS[..k].contains(verb), "{verb:?} twice");
        }
    }

    #[test]
    fn global_options_stand_anywhere() {
        for words in [&["--local", "-v", "list"][..], &["list", "-v", "--local"], &["-v", "list", "--user"], &["list", "--local", "-v"]] {
            let inv = invocation(words);
            assert!(inv.common.local, "{words:?}");
            assert_eq!((inv.verb, inv.verbose), (Command::List, 1), "{words:?}");
        }
        let inv = invocation(&["-vv", "list"]);
        assert_eq!(inv.verbose, 2);
        let inv = invocation(&["generate", ".", "-f", "--local", "--ioc-user=me"]);
        assert!(inv.force && inv.common.local);
        assert_eq!(inv.args.ioc_user.as_deref(), Some("me"));
    }

    #[test]
    fn help_version_and_nothing() {
        assert!(matches!(run(&[]), Parsed::Usage));
        assert!(matches!(run(&["-h"]), Parsed::Usage));
        assert!(matches!(run(&["start", "x", "--help"]), Parsed::Usage));
        assert!(matches!(run(&["--local", "-V"]), Parsed::Version));
        assert!(matches!(run(&["--version", "bogus"]), Parsed::Version));
    }

    #[test]
    fn usage_errors() {
        assert!(error(&["-v", "start", "x"]).contains("only supported for the 'list'"));
        assert!(error(&["-vv", "status", "x"]).contains("only supported for the 'list'"));
        assert!(error(&["bogus"]).contains("Unknown command 'bogus'"));
        assert!(error(&["--bogus"]).contains("Unknown option '--bogus'"));
        assert!(error(&["start", "a", "b"]).contains("Unexpected argument 'b'"));
        assert!(error(&["stop", "--all"]).contains("Unknown option '--all' for 'stop'"));
        assert!(error(&["log", "x", "-n"]).contains("needs a value"));
        assert!(error(&["log", "x", "-n", "many"]).contains("needs a number"));
        for verb in ["start", "stop", "restart", "enable", "disable", "remove", "attach", "view", "log", "status", "inspect"] {
            assert!(error(&[verb]).contains("Target IOC name is required"), "{verb}");
        }
        assert!(error(&["list", "x"]).contains("takes no target"));
    }

    #[test]
    fn verb_options_go_to_their_verb() {
        let inv = invocation(&["status", "-a", "-n", "3"]);
        assert!(inv.args.all && inv.target.is_none());
        assert_eq!(inv.args.lines, Some(3));
        let inv = invocation(&["log", "vac1", "-f", "-n", "5"]);
        assert!(inv.force);
        assert_eq!((inv.target.as_deref(), inv.args.lines), (Some("vac1"), Some(5)));
        let inv = invocation(&["start", "--timeout", "5", "vac1", "--no-wait"]);
        assert_eq!((inv.args.timeout, inv.args.no_wait), (Some(5), true));
        let inv = invocation(&["--socket", "/s", "attach", "vac1", "-e", "^]"]);
        assert_eq!(inv.common.socket.as_deref(), Some(std::path::Path::new("/s")));
        assert_eq!(inv.args.escape.as_deref(), Some("^]"));
    }
}
