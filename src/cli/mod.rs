//! The command-line front ends, chosen by the name iocinit is called under
//! (multi-call, like BusyBox):
//!
//! | name | front end |
//! |---|---|
//! | `init`, any name as PID 1, `iocinit --OPTION...` | [`init`]: the supervisor |
//! | `iocinit check-config` | [`check_config`] |
//! | `epoch`, `iocinit VERB` | [`epoch`]: Epoch's control verbs |
//! | `ioc`, `ioc-runner` | [`ioc`]: epics-ioc-runner's verbs |
//! | `halt`, `reboot`, `poweroff`, `shutdown`, `killall5`, `wall` | [`power`] |
//! | `iocinit-chdir` (exec'd by the supervisor only) | [`crate::spawn::chdir_then_exec`] |
//! | `iocinit-statedir` (exec'd by the supervisor only) | [`crate::statedir::main`] |
//!
//! Front ends use only the control client and formatting. Exit codes, the
//! same everywhere: 0 OK (and WARN), 1 FAIL, 2 bad usage or BADPARAM,
//! 3 iocinit not reachable, 4 permission denied.

pub mod check_config;
pub mod epoch;
pub mod init;
pub mod ioc;
mod ioc_args;
pub mod power;
pub mod table;

use std::ffi::{OsStr, OsString};
use std::path::PathBuf;
use std::time::Duration;

use crate::control::client::{Client, ClientError, Reply};
use crate::control::protocol::{Code, Verb};
use crate::layout::Layout;

pub const EXIT_OK: i32 = 0;
pub const EXIT_FAIL: i32 = 1;
pub const EXIT_USAGE: i32 = 2;
pub const EXIT_UNREACHABLE: i32 = 3;
pub const EXIT_DENIED: i32 = 4;

/// Options every client front end accepts anywhere on its command line.
#[derive(Debug, Clone, Default)]
pub struct Common {
    /// `--local`: talk to the user's own supervisor.
    pub local: bool,
    /// `--json` / `-j`.
    pub json: bool,
    /// `--socket PATH` (else IOCINIT_SOCKET, else the layout's).
    pub socket: Option<PathBuf>,
    /// `--run-dir DIR`.
    pub run_dir: Option<PathBuf>,
}

impl Common {
    /// Removes the common options from `args` (wherever they stand) and
    /// expands `-vv` into `-v -v`.
    pub fn extract(args: &mut Vec<String>) -> Result<Common, String> {
        let mut common = Common::default();
        let mut out = Vec::with_capacity(args.len());
        let mut it = std::mem::take(args).into_iter();
        while let Some(a) = it.next() {
            match a.as_str() {
                "--local" => common.local = true,
                "--json" | "-j" => common.json = true,
                "--socket" => common.socket = Some(it.next().ok_or("--socket needs a path")?.into()),
                "--run-dir" => common.run_dir = Some(it.next().ok_or("--run-dir needs a directory")?.into()),
                s if s.len() > 2 && s.starts_with("-v") && s[1..].bytes().all(|b| b == b'v') => {
                    out.extend(std::iter::repeat_n("-v".to_string(), s.len() - 1));
                }
                _ => out.push(a),
            }
        }
        *args = out;
        Ok(common)
    }

    /// [`Common::extract`] for front end `name`; a bad option is reported and
    /// the Err value is the exit code.
    pub fn from_args(name: &str, args: &mut Vec<String>) -> Result<Common, i32> {
        Common::extract(args).map_err(|e| {
            eprintln!("{name}: {e}");
            EXIT_USAGE
        })
    }

    pub fn layout(&self) -> Layout {
        Layout::resolve(self.local, self.run_dir.as_deref(), self.socket.as_deref(), None)
    }

    /// One request to the supervisor. Errors are printed; the Err value is
    /// the exit code.
    pub fn request(&self, verb: Verb, flags: u8, args: &[&str], timeout: Option<Duration>) -> Result<Reply, i32> {
        let layout = self.layout();
        let mut client = Client::connect(&layout.control_socket).map_err(|e| report_client_error(&e))?;
        client.request(verb, flags, args, timeout).map_err(|e| report_client_error(&e))
    }
}

pub fn report_client_error(e: &ClientError) -> i32 {
    eprintln!("{}: {e}", program());
    match e {
        ClientError::NotRunning(_) => EXIT_UNREACHABLE,
        _ => EXIT_FAIL,
    }
}

/// The exit code for a reply code.
pub fn exit_code(code: Code) -> i32 {
    match code {
        Code::Ok | Code::Warn => EXIT_OK,
        Code::Fail => EXIT_FAIL,
        Code::BadParam => EXIT_USAGE,
        Code::Denied => EXIT_DENIED,
    }
}

/// Prints a reply's message (if any) and returns the exit code.
pub fn finish(reply: &Reply, what: &str) -> i32 {
    match reply.code {
        Code::Ok if reply.message.is_empty() => {}
        Code::Ok => println!("{}", reply.message),
        code => {
            let text = if reply.message.is_empty() { code.name() } else { reply.message.as_str() };
            eprintln!("{}: {what}: {text}", program());
        }
    }
    exit_code(reply.code)
}

/// The name this process was called under (for messages).
pub fn program() -> String {
    CALLED_AS.get().filter(|n| !n.is_empty()).cloned().unwrap_or_else(|| "iocinit".into())
}

/// argv[0]'s file name, as [`main`] was given it: `std::env::args` is empty
/// in the static musl build, whose `main` starts without std's runtime
/// (src/main.rs).
static CALLED_AS: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// The file name of argv[0] (any bytes; shown lossily).
fn called_as(argv0: &OsStr) -> String {
    std::path::Path::new(argv0).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

const USAGE: &str = "\
usage: iocinit                      as PID 1: boot, supervise, shut down
       iocinit --local [OPTIONS]    the same supervisor as yourself
       iocinit [--config PATH] ...  as PID 1 of a PID namespace (see iocinit --local --help)
       iocinit check-config [--config PATH] [--ioc-dir DIR] [--strict-epoch] [--json]
       iocinit VERB [ARGS]          Epoch's verbs (status, start, stop, ...); see `epoch help`
       iocinit --version
Also called as: init, epoch, ioc, ioc-runner, halt, reboot, poweroff, shutdown, killall5, wall.";

/// `iocinit --local status`: client options, then a word that is not one
/// of Epoch's kernel words, is a verb for that supervisor, not a supervisor
/// to start (docs/USER_GUIDE_LOCAL.md).
fn is_client_command(args: &[OsString]) -> bool {
    let mut it = args.iter().map(|a| a.to_str());
    while let Some(a) = it.next() {
        match a {
            Some("--local" | "--json" | "-j") => {}
            Some("--socket" | "--run-dir") => {
                it.next();
            }
            Some(w) if !w.starts_with('-') => return !crate::pid1::KernelArgs::default().take_word(w),
            _ => return false,
        }
    }
    false
}

/// The front ends (not PID 1, not a supervisor) end quietly when whoever
/// reads their output goes away (`epoch help | head -1`), as C tools do. main
/// ignores SIGPIPE (as std's start-up does), which turns that write into an error `println!`
/// panics on. Their sockets send with MSG_NOSIGNAL, so only stdout and stderr
/// can raise it.
fn end_quietly_when_the_reader_goes() {
    crate::sys::default_sigpipe();
}

/// Entry point: dispatch on argv[0] (and on being PID 1).
///
/// PID 1 goes on from here into the supervisor's loop and never comes
/// back: every stack page this frame touches stays resident for its whole
/// life. So the other front ends run in a frame of their own
/// ([`applets`]), and this one holds little more than the arguments.
pub fn main(argv: Vec<OsString>) -> i32 {
    let name = argv.first().map(|a| called_as(a)).unwrap_or_default();
    let _ = CALLED_AS.set(name.clone());
    let rest: Vec<OsString> = argv.into_iter().skip(1).collect();
    // PID 1 is the supervisor whatever its name and arguments: the kernel
    // passes it the words of its command line, and PID 1 exiting panics
    // the kernel (see init).
    if std::process::id() == 1 || name == "init" {
        return init::main(rest, init::Strictness::Tolerant);
    }
    applets(name, rest)
}

/// Every front end but PID 1's (see [`main`]).
#[inline(never)]
fn applets(name: String, rest: Vec<OsString>) -> i32 {
    // The supervisor's own trampoline to a working directory: nothing but
    // chdir and execve (no logging, no configuration).
    if crate::spawn::TRAMPOLINE_NAME.to_str() == Ok(name.as_str()) {
        return crate::spawn::chdir_then_exec(&rest);
    }
    if crate::statedir::APPLET.to_str() == Ok(name.as_str()) {
        return crate::statedir::main(&rest);
    }
    // The front end the program's name calls, if it names one.
    let applet: Option<fn(&str, Vec<String>) -> i32> = match name.as_str() {
        "ioc" | "ioc-runner" => Some(ioc::main),
        "epoch" => Some(epoch::main),
        "halt" | "reboot" | "poweroff" | "shutdown" | "killall5" | "wall" => Some(power::main),
        _ => None,
    };
    let first = rest.first().and_then(|a| a.to_str());
    if applet.is_none() && first.is_some_and(|a| a.starts_with('-') && !matches!(a, "--version" | "-V" | "--help" | "-h")) && !is_client_command(&rest) {
        // `iocinit --local ...`: its paths may be any bytes.
        return init::main(rest, init::Strictness::Strict);
    }
    end_quietly_when_the_reader_goes();
    let rest: Vec<String> = match rest.into_iter().map(OsString::into_string).collect() {
        Ok(rest) => rest,
        Err(bad) => {
            eprintln!("{name}: argument {} is not valid UTF-8", crate::logging::Quoted::os(&bad));
            return EXIT_USAGE;
        }
    };
    if let Some(applet) = applet {
        return applet(&name, rest);
    }
    match rest.first().map(String::as_str) {
        Some("check-config") => check_config::main(rest[1..].to_vec()),
        Some("--version" | "-V") => {
            println!("iocinit {}", env!("CARGO_PKG_VERSION"));
            EXIT_OK
        }
        Some("--help" | "-h" | "help") => {
            println!("{USAGE}");
            EXIT_OK
        }
        Some(_) => epoch::main("iocinit", rest),
        None => {
            eprintln!("iocinit: not PID 1: give --local to run a supervisor as yourself, or a verb (iocinit status)\n\n{USAGE}");
            EXIT_USAGE
        }
    }
}
