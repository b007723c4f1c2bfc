//! The supervisor's own command line: `init`, `iocinit` as PID 1,
//! `iocinit --local`, and `iocinit --config PATH` as PID 1 of a namespace.
//!
//! The kernel hands init every word of its command line that it does not
//! know itself and that has no `=` (`single`, `1`, `emergency`, Epoch's
//! `shell`), and a PID 1 that exits panics the kernel. So PID 1, and anything
//! called `init`, never exits because of its arguments: it takes the options
//! below and Epoch's kernel words (`shell`, `runlevel=`, `epochconfig=`,
//! `startobj=`, `skipobj=`), and logs and ignores everything else, non-UTF-8
//! bytes included. `iocinit --local` and the other commands refuse an
//! unknown argument with a usage error.

use std::ffi::OsString;
use std::path::PathBuf;

use super::{EXIT_OK, EXIT_USAGE};
use crate::daemon;
use crate::engine::BootOptions;
use crate::layout::Layout;
use crate::logging::Quoted;
use crate::pid1::{self, KernelArgs};

/// What an argument that is not understood does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strictness {
    /// A usage error (exit 2): a command typed by someone.
    Strict,
    /// Logged and ignored: PID 1, `init`.
    Tolerant,
}

const HELP: &str = "\
usage: iocinit [OPTIONS] [KERNEL WORDS]   (also called as init)
Run the supervisor: PID 1 of a machine or of a PID namespace, or with --local
as an ordinary process.

Options:
  --local              run as yourself: no mounts, no reboot; sockets, state
                       and config under your XDG directories
  --config PATH        the configuration (default /etc/epoch/epoch.conf;
                       --local: ~/.config/iocinit/epoch.conf, and when that
                       does not exist, the IOC files alone)
  --ioc-dir DIR        read IOC files from DIR instead of IocDirectory
  --run-dir DIR        where the control socket and IOC consoles live (default /run)
  --socket PATH        the control socket (default RUN_DIR/iocinit/control)
  --state-dir DIR      persistent state (default /var/lib/iocinit)
  --system-log PATH    the system log of EnableLogging and ObjectStdout/ObjectStderr
                       LOG (default /var/log/system.log; --local: system.log in
                       the XDG state directory); PID 1 of a test namespace needs its own
  --strict-epoch       reject iocinit's extensions to Epoch's language
  --runlevel NAME      boot into this runlevel instead of DefaultRunlevel
  --startobj ID        also start this object after boot (repeatable)
  --skipobj ID         do not start this object at boot (repeatable)
  --debug              log debug messages too
  --help               this text (not as PID 1)

Kernel words (Epoch's, as on the kernel command line): shell, runlevel=NAME,
epochconfig=PATH, startobj=ID[,ID...], skipobj=ID[,ID...]. On a real boot they
are read from /proc/cmdline. As PID 1 or init, any other argument is logged and
ignored.";

/// The parsed command line.
#[derive(Debug, Default)]
pub struct Args {
    local: bool,
    config: Option<PathBuf>,
    ioc_dir: Option<PathBuf>,
    run_dir: Option<PathBuf>,
    socket: Option<PathBuf>,
    state_dir: Option<PathBuf>,
    system_log: Option<PathBuf>,
    strict_epoch: bool,
    runlevel: Option<String>,
    startobj: Vec<String>,
    skipobj: Vec<String>,
    debug: bool,
    help: bool,
    /// Internal: state and listener descriptors handed over by reexec.
    resume: Option<String>,
    /// Epoch's kernel words given as arguments.
    words: KernelArgs,
    /// One message per argument that was not understood.
    problems: Vec<String>,
}

/// Options whose value is a path (any bytes) and options whose value is text.
const PATH_OPTIONS: [&str; 6] = ["--config", "--ioc-dir", "--run-dir", "--socket", "--state-dir", "--system-log"];
const TEXT_OPTIONS: [&str; 4] = ["--runlevel", "--startobj", "--skipobj", "--resume"];

impl Args {
    /// Stores the value of one of [`PATH_OPTIONS`].
    fn set_path(&mut self, name: &str, value: PathBuf) {
        let field = match name {
            "--config" => &mut self.config,
            "--ioc-dir" => &mut self.ioc_dir,
            "--run-dir" => &mut self.run_dir,
            "--socket" => &mut self.socket,
            "--state-dir" => &mut self.state_dir,
            _ => &mut self.system_log,
        };
        *field = Some(value);
    }

    /// Stores the value of one of [`TEXT_OPTIONS`].
    fn set_text(&mut self, name: &str, value: String) {
        match name {
            "--runlevel" => self.runlevel = Some(value),
            "--startobj" => self.startobj.push(value),
            "--skipobj" => self.skipobj.push(value),
            _ => self.resume = Some(value),
        }
    }
}

/// Parses the arguments after argv[0]. Never fails: what is not understood
/// becomes a message in `problems`. Public for the fuzzer (tests/fuzz): the
/// kernel, not a user, chooses PID 1's arguments.
pub fn parse_args(args: Vec<OsString>) -> Args {
    let mut a = Args::default();
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        let Some(word) = arg.to_str() else {
            a.problems.push(format!("argument {} (not valid UTF-8)", Quoted::os(&arg)));
            continue;
        };
        match word {
            "--local" => a.local = true,
            "--strict-epoch" => a.strict_epoch = true,
            "--debug" => a.debug = true,
            "--help" | "-h" => a.help = true,
            name if PATH_OPTIONS.contains(&name) => match it.next() {
                Some(value) => a.set_path(name, PathBuf::from(value)),
                None => a.problems.push(format!("option {name} (needs a value)")),
            },
            name if TEXT_OPTIONS.contains(&name) => match it.next().map(OsString::into_string) {
                Some(Ok(value)) => a.set_text(name, value),
                Some(Err(value)) => a.problems.push(format!("option {name} {} (not valid UTF-8)", Quoted::os(&value))),
                None => a.problems.push(format!("option {name} (needs a value)")),
            },
            name if name.starts_with('-') => a.problems.push(format!("option {} (unknown)", Quoted::text(name))),
            word => {
                if !a.words.take_word(word) {
                    a.problems.push(format!("argument {} (neither an option nor one of Epoch's kernel words)", Quoted::text(word)));
                }
            }
        }
    }
    a
}

pub fn main(args: Vec<OsString>, strictness: Strictness) -> i32 {
    // Borrowed where it lies: a move out of the `Result` was a second copy
    // of the options in this frame, which stays for PID 1's whole life.
    let parsed = options(args, strictness);
    let code = match &parsed {
        Ok(opts) => daemon::run(opts),
        Err(code) => return *code,
    };
    // `--local` ends here: what the terminal did not take yet, it gets now
    // (for a bounded time).
    crate::logging::flush_console(crate::logging::POWER_FLUSH_MS);
    code
}

/// The supervisor's options from its arguments (and, on a real boot, the
/// kernel's command line); `Err` is the exit code of `--help` or of a
/// usage error. A frame of its own that is gone before the supervisor
/// runs: PID 1 never returns from [`daemon::run`], and the stack pages the
/// frames above it touch stay resident for its whole life.
#[inline(never)]
fn options(args: Vec<OsString>, strictness: Strictness) -> Result<daemon::Options, i32> {
    let mut a = parse_args(args);
    let is_pid1 = std::process::id() == 1;
    if a.help && !is_pid1 {
        println!("{HELP}");
        return Err(EXIT_OK);
    }
    if strictness == Strictness::Strict && !a.problems.is_empty() {
        for p in &a.problems {
            eprintln!("iocinit: bad {p}");
        }
        eprintln!("iocinit: see iocinit --help");
        return Err(EXIT_USAGE);
    }
    crate::logging::init(a.debug);
    for p in &a.problems {
        crate::logging::warn!("ignoring the {p}");
    }
    if a.help {
        crate::logging::warn!("ignoring --help: PID 1 does not exit");
    }
    let mut layout = Layout::resolve(a.local, a.run_dir.as_deref(), a.socket.as_deref(), a.state_dir.as_deref());
    if let Some(log) = a.system_log {
        layout.system_log = log;
    }
    if !a.local && is_pid1 {
        pid1::mount_proc_early();
    }
    // On a real boot the kernel words come from /proc/cmdline: it has them
    // all, also those with `=` that the kernel puts in init's environment
    // rather than its arguments. A test namespace shares the host's
    // /proc/cmdline, so there (and under --local) only the arguments count.
    let words = std::mem::take(&mut a.words);
    let kernel = if !a.local && is_pid1 && crate::sys::in_initial_pid_namespace() {
        pid1::kernel_args().unwrap_or(words)
    } else {
        words
    };
    let resume = a.resume.as_deref().and_then(|r| {
        let (s, l) = r.split_once(':')?;
        Some((crate::sys::parse_i32(s)?, crate::sys::parse_i32(l)?))
    });
    let mut start = kernel.boot.start;
    start.extend(a.startobj);
    let mut skip = kernel.boot.skip;
    skip.extend(a.skipobj);
    Ok(daemon::Options {
        config: a.config.or(kernel.config).unwrap_or_else(|| layout.default_config.clone()),
        ioc_dir: a.ioc_dir,
        strict_epoch: a.strict_epoch,
        boot: BootOptions { runlevel: a.runlevel.or(kernel.boot.runlevel), start, skip },
        shell_first: kernel.shell,
        resume,
        layout,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStringExt;

    fn args(words: &[&str]) -> Vec<OsString> {
        words.iter().map(OsString::from).collect()
    }

    #[test]
    fn options_and_epoch_words_are_taken() {
        let a = parse_args(args(&[
            "--config", "/c.conf", "--run-dir", "/r", "--local", "--startobj", "x", "shell", "startobj=a,b", "runlevel=maint",
        ]));
        assert!(a.problems.is_empty(), "{:?}", a.problems);
        assert!(a.local && a.words.shell);
        assert_eq!(a.config, Some(PathBuf::from("/c.conf")));
        assert_eq!(a.run_dir, Some(PathBuf::from("/r")));
        assert_eq!(a.startobj, ["x"]);
        assert_eq!(a.words.boot.start, ["a", "b"]);
        assert_eq!(a.words.boot.runlevel.as_deref(), Some("maint"));
        let a = parse_args(args(&[
            "--ioc-dir", "/i", "--socket", "/s", "--state-dir", "/st", "--system-log", "/l", "--runlevel", "r", "--skipobj", "y",
            "--resume", "3:4", "--strict-epoch", "--debug",
        ]));
        assert!(a.problems.is_empty(), "{:?}", a.problems);
        let paths = [&a.ioc_dir, &a.socket, &a.state_dir, &a.system_log].map(|p| p.as_ref().and_then(|p| p.to_str()));
        assert_eq!(paths, [Some("/i"), Some("/s"), Some("/st"), Some("/l")]);
        assert_eq!((a.runlevel.as_deref(), a.skipobj.as_slice(), a.resume.as_deref()), (Some("r"), &["y".to_string()][..], Some("3:4")));
        assert!(a.strict_epoch && a.debug && !a.local);
    }

    #[test]
    fn kernel_words_without_equals_and_junk_are_problems_not_failures() {
        let mut junk = args(&["single", "1", "emergency", "--bogus", "--runlevel"]);
        junk.insert(0, OsString::from_vec(b"\xff\xfe".to_vec()));
        junk.insert(1, OsString::from("--config"));
        junk.insert(2, OsString::from_vec(b"/etc/\xff.conf".to_vec()));
        let a = parse_args(junk);
        assert_eq!(a.problems.len(), 6, "{:?}", a.problems);
        assert!(a.problems[0].contains("\\xFF"), "{:?}", a.problems);
        assert!(a.problems[1].contains("\"single\""));
        assert!(a.problems[5].contains("--runlevel (needs a value)"));
        // A path may be any bytes.
        assert_eq!(a.config, Some(PathBuf::from(OsString::from_vec(b"/etc/\xff.conf".to_vec()))));
        assert!(!a.words.shell);
    }
}
