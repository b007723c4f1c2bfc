//! Process creation, vfork-safe on every build (so it works on nommu boards).
//!
//! A [`Command`] is prepared once, when a configuration loads: argv, envp and
//! the PATH candidates become NUL-terminated strings in one buffer (but for
//! the base environment every command shares, [`share_environment`]), with one
//! array of the NULL-terminated pointer runs execve takes (two allocations). At
//! spawn time nothing is allocated: [`spawn`] opens the redirection files
//! itself, without blocking (see [`Redirect`]), then calls
//! clone(CLONE_VM|CLONE_VFORK), and the child, which shares the parent's
//! memory while the parent is suspended, does only raw system calls
//! (rt_sigaction, setsid, dup3, prlimit64, setpriority, umask,
//! sched_setaffinity, setgroups, setresgid, setresuid, sigprocmask, execve)
//! — no libc wrappers that take locks or synchronise
//! threads (musl's set*id wrappers do), no allocation, and nothing that waits
//! on a file: a FIFO without a reader must not suspend the supervisor.
//!
//! Nor a directory: a path lookup cannot be made non-blocking, and a
//! working directory on a hung NFS server or an unanswering FUSE mount would
//! hold the child, and so the suspended supervisor, forever. A command with a
//! working directory ([`Command::with_working_directory`]) therefore execs
//! at once a trampoline, iocinit itself through `/proc/self/exe` under the
//! name [`TRAMPOLINE_NAME`] ([`chdir_then_exec`]): a process of its own,
//! running after the supervisor has resumed, which changes directory and
//! then execs the real command. A directory that fails is its exit status
//! [`EXIT_CHDIR_FAILED`]; one that hangs is the start timeout's to end. Only
//! where `/proc/self/exe` cannot be exec'd (no /proc) does the child change
//! directory itself, as before, with that risk.
//!
//! A failure in the child is written to a word in the memory it shares with
//! the parent before it exits, so the parent reports "unable to exec X: No
//! such file" itself. Where the clone turns out to be a fork (qemu-user runs
//! a vfork as one), the parent never sees that word: there the failure also
//! goes through a close-on-exec pipe, and a spawn makes that pipe until one
//! has shown that the children share its memory ([`VFORK_SHARES_MEMORY`]).
//!
//! All the crate's process-creation `unsafe` lives here.
#![allow(unsafe_code)]

use std::ffi::{CStr, CString};
use std::os::raw::c_char;

use crate::sys::Pid;

/// Characters that make a command go through `/bin/sh -c`: Epoch's own set
/// (``&^$#@!()*%{}`~+|\<>?;:'[]"`` and tab), so that every command Epoch
/// hands to the shell goes there here too, and `=` (`FOO=1 prog` assigns).
/// Some mean nothing to a POSIX shell in most places (`@`, `+`, `^`, a lone
/// `]`); the shell then runs the same words a direct exec would.
const SHELL_CHARS: &[char] = &[
    '&', '^', '$', '#', '@', '!', '(', ')', '*', '%', '{', '}', '`', '~', '+', '|', '\\', '<', '>', '?', ';', ':', '\'', '[', ']', '"',
    '=',
];

/// The shell's reserved words, POSIX's and bash's (/bin/sh may be bash):
/// as the first word of a command only a shell knows them, and exec'd
/// directly they would be looked up in PATH (`time prog` would run another
/// program). Those made of [`SHELL_CHARS`] (`!`, `{`, `}`, `[[`, `]]`) are
/// caught by them. Built-ins (`umask`, `echo`) are not looked for: as in
/// Epoch, they need FORCESHELL.
const RESERVED_WORDS: &[&str] =
    &["case", "do", "done", "elif", "else", "esac", "fi", "for", "if", "in", "then", "until", "while", "function", "select", "time", "coproc"];

pub const SHELL: &str = "/bin/sh";

/// Whether `command` needs a shell to mean what it says: it holds one of
/// [`SHELL_CHARS`]; or ASCII whitespace other than a space (a tab is in
/// Epoch's set, a newline ends a command, and a shell splits words only at
/// blanks where a direct exec would split at a vertical tab too); or its
/// first word is one of [`RESERVED_WORDS`]. Whitespace beyond ASCII (a
/// no-break space) is a word's both ways: a direct exec splits at spaces
/// only, as the shell does.
pub fn needs_shell(command: &str) -> bool {
    command.chars().any(|c| SHELL_CHARS.contains(&c) || matches!(c, '\t'..='\r'))
        || command.split(' ').find(|word| !word.is_empty()).is_some_and(|first| RESERVED_WORDS.contains(&first))
}

/// This process's environment as `NAME=value` entries for [`Command`],
/// without the variables that are not UTF-8 (the kernel puts unknown
/// `word=value` arguments in init's environment, any bytes; std's vars()
/// would panic on them): each is named to `dropped` (a `dyn`: its two
/// callers share one copy of the code).
pub fn utf8_environment(dropped: &mut dyn FnMut(&std::ffi::OsStr)) -> Vec<String> {
    std::env::vars_os()
        .filter_map(|(k, v)| match (k.to_str(), v.to_str()) {
            (Some(k), Some(v)) => Some(format!("{k}={v}")),
            _ => {
                dropped(&k);
                None
            }
        })
        .collect()
}

/// A program with its arguments and environment, ready to exec without
/// allocating: two allocations, both sized exactly when the command is made.
/// `strings` holds every string NUL-terminated, back to back: the
/// candidates, argv, envp, then with a working directory the trampoline's
/// exe, [`TRAMPOLINE_NAME`], the directory and `--`; but not an envp entry
/// of the shared environment ([`share_environment`]), which is pointed to
/// where it is. `pointers` holds the NULL-terminated runs execve takes,
/// pointing into `strings` (and the shared environment): the candidates,
/// argv, envp, then with a working directory the trampoline's exe followed
/// by its argv `[TRAMPOLINE_NAME, DIR, candidates..., "--", argv...]`
/// (every candidate holds a `/`, so the first `--` after DIR ends them).
/// The pointers are made once `strings` is final; its heap buffer does not
/// move when the Command does.
pub struct Command {
    strings: Box<[u8]>,
    pointers: Box<[*const c_char]>,
    /// Paths to try in order (one for `/`-paths, else one per PATH entry);
    /// then the strings of argv and of envp. u32, not usize: PID 1 keeps a
    /// command in each object's plan (docs/ARCHITECTURE.md, "PID 1's memory,
    /// page by page").
    candidates: u32,
    argv: u32,
    envp: u32,
    /// Whether the command runs through the trampoline.
    trampoline: bool,
}

/// The PATH searched for a program named without `/` when the command's
/// environment has none (and the one every object's environment starts with).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The name iocinit is exec'd under to change directory for a command.
pub const TRAMPOLINE_NAME: &CStr = c"iocinit-chdir";
/// What the trampoline execs: the supervisor's own binary, even if the file
/// was replaced or deleted since.
const TRAMPOLINE_EXE: &CStr = c"/proc/self/exe";
/// The trampoline's exit status when it cannot change directory.
pub const EXIT_CHDIR_FAILED: u8 = 200;
/// Its exit status when the command cannot be exec'd (as a shell's).
const EXIT_EXEC_FAILED: i32 = 127;

/// A copy with its own strings, and pointers into them (a derived Clone
/// would copy pointers into the original's).
impl Clone for Command {
    fn clone(&self) -> Command {
        let strings = self.strings.clone();
        // An envp pointer outside the original's strings is into the shared
        // environment, and stays as it is.
        let own = self.strings.as_ptr_range();
        let envp = &self.pointers[self.envp_at()..self.envp_at() + self.counts()[2]];
        let shared = |place: &mut dyn FnMut(Option<*const c_char>)| {
            for &p in envp {
                place(Some(p).filter(|p| !own.contains(&p.cast())));
            }
        };
        let pointers = point_into(&strings, self.counts(), &shared, self.trampoline);
        Command { strings, pointers, ..*self }
    }
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Command").field("argv", &self.argv().collect::<Vec<_>>()).finish()
    }
}

/// Why a command could not be prepared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandError {
    Empty,
    Nul,
}

impl std::fmt::Display for CommandError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CommandError::Empty => f.write_str("empty command"),
            CommandError::Nul => f.write_str("command contains a NUL byte"),
        }
    }
}

/// The environment entries that every command's environment starts with
/// (the supervisor's base environment: PATH, HOME, TERM), NUL-terminated
/// back to back, once for the process. A command points to these instead of
/// copying them: 86 bytes of each command's strings on a board, and PID 1
/// keeps a command for each object (docs/ARCHITECTURE.md, "PID 1's memory,
/// page by page"). Never freed or changed once set, so a pointer into it is
/// good for the whole run, in every command and every copy of one.
static SHARED_ENVIRONMENT: std::sync::OnceLock<Box<[u8]>> = std::sync::OnceLock::new();

/// Makes `env` the shared environment, if none is yet (the first
/// configuration's; a reload's base environment is the same). An entry with
/// a NUL byte would end early: such an environment is not shared.
pub fn share_environment(env: &[String]) {
    if check_nul(env).is_ok() {
        SHARED_ENVIRONMENT.get_or_init(|| env.iter().flat_map(|e| e.bytes().chain([0])).collect());
    }
}

/// Where the envp string given as `pieces` is in `shared` (the shared
/// environment, read once per command made: another thread may set it
/// meanwhile), if it is there.
fn shared_entry(shared: Option<&'static [u8]>, pieces: &[&[u8]]) -> Option<*const c_char> {
    let [entry] = pieces else { return None };
    shared?.split_inclusive(|&b| b == 0).find(|s| s.strip_suffix(&[0]) == Some(*entry)).map(|s| s.as_ptr().cast())
}

/// Tells, for each envp entry in order, where it is in the shared
/// environment (None: in the command's own strings).
type SharedPlaces<'s> = &'s dyn Fn(&mut dyn FnMut(Option<*const c_char>));

/// Called once per string, with the pieces it is the concatenation of.
type Emit<'e> = &'e mut dyn FnMut(&[&[u8]]);
/// Emits one section's strings (candidates, argv or envp) in order.
type Section<'s> = &'s dyn Fn(Emit<'_>);

/// Strings that may not hold a NUL byte (a C string would end there).
fn check_nul<S: AsRef<str>>(strings: &[S]) -> Result<(), CommandError> {
    match strings.iter().any(|s| s.as_ref().as_bytes().contains(&0)) {
        true => Err(CommandError::Nul),
        false => Ok(()),
    }
}

/// Emits each of `strings` whole.
fn emit_all<S: AsRef<str>>(strings: &[S], emit: Emit<'_>) {
    for s in strings {
        emit(&[s.as_ref().as_bytes()]);
    }
}

impl Command {
    /// Prepares `argv` with environment `env` (`NAME=value` entries). A
    /// program name without `/` is searched in the `PATH` of `env`. The
    /// words borrowed, whatever holds them: one instance of this, not one
    /// for `&str` and one for `String` words (docs/ARCHITECTURE.md, "Binary
    /// size").
    pub fn new(argv: &[&str], env: &[String]) -> Result<Command, CommandError> {
        let program = Command::check(argv, env)?;
        let candidates = |emit: Emit<'_>| {
            if program.contains('/') {
                emit(&[program.as_bytes()]);
            } else {
                let path = env
                    .iter()
                    .find_map(|e| e.strip_prefix("PATH="))
                    .unwrap_or(DEFAULT_PATH);
                for dir in path.split(':').filter(|d| !d.is_empty()) {
                    emit(&[dir.trim_end_matches('/').as_bytes(), b"/", program.as_bytes()]);
                }
            }
        };
        Ok(Command::assemble(&candidates, &|emit| emit_all(argv, emit), &|emit| emit_all(env, emit), None))
    }

    /// Prepares `argv` run by the program at `exe` instead of the one
    /// argv[0] names: iocinit's own applets, exec'd through /proc/self/exe
    /// under the name in argv[0].
    pub fn with_program(exe: &str, argv: &[&str], env: &[String]) -> Result<Command, CommandError> {
        Command::check(argv, env)?;
        check_nul(&[exe])?;
        Ok(Command::assemble(&|emit| emit(&[exe.as_bytes()]), &|emit| emit_all(argv, emit), &|emit| emit_all(env, emit), None))
    }

    /// The program of `argv` once `argv` and `env` are known to make a
    /// command: a program named, no NUL byte anywhere.
    fn check<'a>(argv: &[&'a str], env: &[String]) -> Result<&'a str, CommandError> {
        let program = *argv.first().ok_or(CommandError::Empty)?;
        if program.is_empty() {
            return Err(CommandError::Empty);
        }
        check_nul(argv)?;
        check_nul(env)?;
        Ok(program)
    }

    /// The same program and arguments (found where [`Command::new`] found
    /// them) with environment `env` instead.
    pub fn with_env(self, env: &[String]) -> Result<Command, CommandError> {
        check_nul(env)?;
        let trampoline = self.trampoline_exe_and_dir();
        let [candidates, argv, _] = self.counts();
        Ok(Command::assemble(&|emit| self.emit(0, candidates, emit), &|emit| self.emit(self.argv_at(), argv, emit), &|emit| emit_all(env, emit), trampoline))
    }

    /// Prepares a one-line command as Epoch runs it: through `/bin/sh -c` when
    /// it holds shell syntax or `force_shell` is set, else split at spaces
    /// (the only whitespace [`needs_shell`] leaves).
    pub fn from_line(line: &str, force_shell: bool, env: &[String]) -> Result<Command, CommandError> {
        if force_shell || needs_shell(line) {
            Command::new(&[SHELL, "-c", line], env)
        } else {
            let words: Vec<&str> = line.split_ascii_whitespace().collect();
            Command::new(&words, env)
        }
    }

    /// The command of these sections (strings without a NUL byte), and with
    /// `trampoline` (exe, dir) run through it: its two buffers, each built
    /// at its exact size. Envp entries of the shared environment are not
    /// copied.
    fn assemble(candidates: Section<'_>, argv: Section<'_>, envp: Section<'_>, trampoline: Option<(&CStr, &CStr)>) -> Command {
        let extra = trampoline.map(|(exe, dir)| [exe.to_bytes(), TRAMPOLINE_NAME.to_bytes(), dir.to_bytes(), b"--"]);
        let shared = SHARED_ENVIRONMENT.get().map(|b| &b[..]);
        let each = |emit: Emit<'_>| {
            candidates(emit);
            argv(emit);
            envp(&mut |pieces| {
                if shared_entry(shared, pieces).is_none() {
                    emit(pieces);
                }
            });
            for s in extra.iter().flatten() {
                emit(&[s]);
            }
        };
        let (mut len, mut counts) = (0, [0; 3]);
        let sections: [Section<'_>; 3] = [candidates, argv, envp];
        for (k, (count, section)) in counts.iter_mut().zip(sections).enumerate() {
            section(&mut |pieces| {
                *count += 1;
                if k != 2 || shared_entry(shared, pieces).is_none() {
                    len += pieces.iter().map(|p| p.len()).sum::<usize>() + 1;
                }
            });
        }
        len += extra.iter().flatten().map(|s| s.len() + 1).sum::<usize>();
        let mut bytes = Vec::with_capacity(len);
        each(&mut |pieces| {
            for piece in pieces {
                bytes.extend_from_slice(piece);
            }
            bytes.push(0);
        });
        debug_assert_eq!(bytes.len(), len);
        // Exactly `len` bytes for `len` capacity: no reallocation.
        let strings = bytes.into_boxed_slice();
        let places = |place: &mut dyn FnMut(Option<*const c_char>)| envp(&mut |pieces| place(shared_entry(shared, pieces)));
        let pointers = point_into(&strings, counts, &places, trampoline.is_some());
        // Each count is at most the bytes of `strings`, which fit in memory;
        // a section of more than u32::MAX strings would need 4 GiB of NULs.
        let [candidates, argv, envp] = counts.map(|n| n as u32);
        Command { strings, pointers, candidates, argv, envp, trampoline: trampoline.is_some() }
    }

    /// The command run from directory `dir`, through the trampoline (see the
    /// module comment).
    pub fn with_working_directory(self, dir: &CStr) -> Command {
        self.with_working_directory_through(dir, TRAMPOLINE_EXE)
    }

    /// [`Command::with_working_directory`] with iocinit found at `exe`: for
    /// a program that links the library but is not iocinit (a test).
    pub fn with_working_directory_through(self, dir: &CStr, exe: &CStr) -> Command {
        let [candidates, argv, envp] = self.counts();
        Command::assemble(
            &|emit| self.emit(0, candidates, emit),
            &|emit| self.emit(self.argv_at(), argv, emit),
            &|emit| self.emit(self.envp_at(), envp, emit),
            Some((exe, dir)),
        )
    }

    /// How many candidates, argv and envp strings there are.
    fn counts(&self) -> [usize; 3] {
        [self.candidates, self.argv, self.envp].map(|n| n as usize)
    }

    /// Where the runs start in `pointers`.
    fn argv_at(&self) -> usize {
        self.counts()[0] + 1
    }
    fn envp_at(&self) -> usize {
        self.argv_at() + self.counts()[1] + 1
    }
    fn trampoline_at(&self) -> usize {
        self.envp_at() + self.counts()[2] + 1
    }

    /// The `count` strings whose pointers start at `at`.
    fn strings_at(&self, at: usize, count: usize) -> impl Iterator<Item = &CStr> {
        // SAFETY: every pointer of the run points to a NUL-terminated string
        // in `self.strings`, which lives as long as `self`, or in the shared
        // environment, which lives as long as the process.
        self.pointers.get(at..at + count).unwrap_or_default().iter().map(|&p| unsafe { CStr::from_ptr(p) })
    }

    /// Emits the `count` strings whose pointers start at `at`.
    fn emit(&self, at: usize, count: usize, emit: Emit<'_>) {
        for s in self.strings_at(at, count) {
            emit(&[s.to_bytes()]);
        }
    }

    /// The trampoline's exe and directory, when the command has one.
    fn trampoline_exe_and_dir(&self) -> Option<(&CStr, &CStr)> {
        self.trampoline.then(|| {
            let mut run = self.strings_at(self.trampoline_at(), 3);
            let exe = run.next().unwrap_or_default();
            (exe, run.nth(1).unwrap_or_default())
        })
    }

    /// The NULL-terminated run starting at `at`, for the child: no bounds
    /// check, so no panic path (every `at` given is within `pointers`).
    fn run(&self, at: usize) -> *const *const c_char {
        self.pointers.as_ptr().wrapping_add(at)
    }

    /// The program as written (argv[0]).
    pub fn program(&self) -> &CStr {
        self.strings_at(self.argv_at(), 1).next().unwrap_or_default()
    }

    pub fn argv(&self) -> impl Iterator<Item = &CStr> {
        self.strings_at(self.argv_at(), self.counts()[1])
    }

    pub fn env(&self) -> impl Iterator<Item = &CStr> {
        self.strings_at(self.envp_at(), self.counts()[2])
    }

    /// The first candidate path (what "unable to exec X" names); the
    /// program as written when PATH names no directory.
    pub fn path(&self) -> &CStr {
        self.strings_at(0, self.counts()[0]).next().unwrap_or_else(|| self.program())
    }
}

/// The pointer array of a command whose `strings` hold `counts` candidates,
/// argv and envp entries (and the trampoline's four strings when
/// `trampoline`), made once `strings` is final: see [`Command`]. The envp
/// entries in the shared environment are where `shared` says. Exactly sized.
fn point_into(strings: &[u8], counts: [usize; 3], shared: SharedPlaces<'_>, trampoline: bool) -> Box<[*const c_char]> {
    let [candidates, argv, envp_count] = counts;
    let len = candidates + argv + envp_count + 3 + if trampoline { 1 + 2 + candidates + 1 + argv + 1 } else { 0 };
    let mut starts = strings.split_inclusive(|&b| b == 0).map(|s| s.as_ptr().cast::<c_char>());
    let mut pointers = Vec::with_capacity(len);
    for count in [candidates, argv] {
        pointers.extend(starts.by_ref().take(count));
        pointers.push(std::ptr::null());
    }
    shared(&mut |place| pointers.extend(place.or_else(|| starts.next())));
    pointers.push(std::ptr::null());
    if trampoline {
        // exe, TRAMPOLINE_NAME, DIR, then the candidates, `--` and argv.
        pointers.extend(starts.by_ref().take(3));
        pointers.extend_from_within(0..candidates);
        pointers.extend(starts.next());
        pointers.extend_from_within(candidates + 1..candidates + 1 + argv);
        pointers.push(std::ptr::null());
    }
    debug_assert_eq!(pointers.len(), len);
    pointers.into_boxed_slice()
}

/// User, primary group and supplementary groups a child switches to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
}

/// Limits, nice value, umask and CPU affinity a child sets on itself before
/// it drops privileges (so it may raise a hard limit or lower its nice
/// value as root), prepared when a configuration loads: the child only
/// passes these words to the kernel. procServ and the IOC inherit them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProcessSetup {
    /// `(RLIMIT_*, value)`: soft and hard limit both set to the value
    /// (`RLIM_INFINITY` for none).
    pub limits: Vec<(u32, u64)>,
    pub nice: Option<i32>,
    pub umask: Option<u32>,
    /// The sched_setaffinity mask, one bit per CPU (CPU_SETSIZE bits).
    pub cpus: Option<Box<CpuMask>>,
}

/// CPU_SETSIZE (1024) bits.
pub type CpuMask = [u64; 16];

/// The resources a [`ProcessSetup`] limits, as its `u32` (glibc's type of
/// the RLIMIT_* constants; musl's is c_int).
#[allow(clippy::unnecessary_cast)]
pub mod rlimit {
    pub const RTPRIO: u32 = libc::RLIMIT_RTPRIO as u32;
    pub const MEMLOCK: u32 = libc::RLIMIT_MEMLOCK as u32;
    pub const CORE: u32 = libc::RLIMIT_CORE as u32;
}

/// Where a standard stream of the child goes. Files are opened by [`spawn`]
/// in the supervisor, as root (before the child drops privileges, as Epoch
/// documents), with O_NONBLOCK so that opening never waits; the flag is
/// cleared before the child gets the descriptor.
#[derive(Debug, Clone, Copy)]
pub enum Redirect<'a> {
    /// Keep the supervisor's (the console, for PID 1).
    Inherit,
    /// /dev/null.
    Null,
    /// Appended to this file (created 0644 if missing). A FIFO that nobody
    /// reads yet (a logger that starts later) is opened read-write: the open
    /// cannot wait or fail for want of a reader, the child's writes fill the
    /// pipe and then wait for one, and a reader that comes later gets them.
    Append(&'a CStr),
    /// Another descriptor the caller keeps open (e.g. a log file).
    Fd(i32),
}

/// Everything about one spawn except the command.
#[derive(Debug, Clone, Copy)]
pub struct Options<'a> {
    pub credentials: Option<&'a Credentials>,
    pub stdin: Redirect<'a>,
    pub stdout: Redirect<'a>,
    pub stderr: Redirect<'a>,
    /// setsid(): a new session and process group.
    pub new_session: bool,
    /// Make fd 0 the controlling terminal (after `new_session`).
    pub controlling_tty: bool,
    /// Applied before the credentials are dropped.
    pub process: Option<&'a ProcessSetup>,
}

impl Default for Options<'_> {
    fn default() -> Self {
        Options {
            credentials: None,
            stdin: Redirect::Inherit,
            stdout: Redirect::Inherit,
            stderr: Redirect::Inherit,
            new_session: true,
            controlling_tty: false,
            process: None,
        }
    }
}

/// The step of the child that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Clone,
    Session,
    Redirect,
    Credentials,
    Chdir,
    Exec,
    /// A resource limit (the RLIMIT_* number).
    Limit(u32),
    Nice,
    Affinity,
}

/// A spawn failure: where and the errno.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpawnError {
    pub stage: Stage,
    pub errno: i32,
}

impl std::fmt::Display for SpawnError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match self.stage {
            Stage::Clone => "unable to create a process",
            Stage::Session => "unable to start a session",
            Stage::Redirect => "unable to open an output file",
            Stage::Credentials => "unable to switch user/group",
            Stage::Chdir => "unable to change directory",
            Stage::Exec => "unable to execute",
            Stage::Limit(resource) => {
                let name = match resource {
                    rlimit::RTPRIO => "RLIMIT_RTPRIO",
                    rlimit::MEMLOCK => "RLIMIT_MEMLOCK",
                    rlimit::CORE => "RLIMIT_CORE",
                    _ => "a resource limit",
                };
                return write!(f, "unable to set {name}: {}", crate::sys::errno_text(self.errno));
            }
            Stage::Nice => "unable to set the nice value",
            Stage::Affinity => "unable to set the CPU affinity",
        };
        write!(f, "{what}: {}", crate::sys::errno_text(self.errno))
    }
}

/// What the child needs, as raw pointers, plus the failure word and,
/// until the children are seen to share memory, the failure pipe.
struct ChildArgs<'a> {
    cmd: &'a Command,
    opts: &'a Options<'a>,
    /// Descriptors for fds 0, 1 and 2 (-1: keep the supervisor's).
    stdio: [i32; 3],
    groups_ptr: *const libc::gid_t,
    groups_len: usize,
    /// `(stage << 16) | errno`, written by the child when it cannot exec
    /// (0: it did not fail). With a real vfork the parent, resumed only once
    /// the child has exec'd or exited, reads it from here.
    failure: core::sync::atomic::AtomicI32,
    /// Write end of the close-on-exec failure pipe, -1 when the spawn has
    /// none: the child writes the failure word there too.
    failure_fd: i32,
    /// The signals the child sets back to SIG_DFL (see [`SIGNALS_TO_RESET`]).
    signals_to_reset: u64,
    /// Set by the child just before its first execve. With a real vfork
    /// the parent sees it (shared memory) and knows, once resumed, that
    /// the child has exec'd or has exited after writing its failure; where
    /// the clone was a fork (qemu-user) the parent never sees it.
    exec_reached: core::sync::atomic::AtomicBool,
}

/// Whether a spawn has seen its child's mark in memory (`exec_reached`):
/// the clone is a real vfork, the children write into this process's
/// memory, and a spawn needs no failure pipe. A pipe costs PID 1 four system
/// calls per spawn (pipe2, two closes, a read) while the service waits to
/// be started, and a descriptor a process at its RLIMIT_NOFILE does not
/// have. Never set where the clone is a fork (qemu-user): the pipe stays.
static VFORK_SHARES_MEMORY: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// Whether a spawn has seen that the children share this process's memory
/// (no failure pipe is made since). False before the first spawn that
/// reached execve, and always under qemu-user.
pub fn children_share_memory() -> bool {
    VFORK_SHARES_MEMORY.load(core::sync::atomic::Ordering::Relaxed)
}

/// A close-on-exec pipe for the child's failure word: (read end, write end).
/// Non-blocking: see the read in [`spawn`] (the child's one 4-byte write to
/// an empty pipe never waits).
fn failure_pipe() -> Result<(crate::sys::Fd, crate::sys::Fd), SpawnError> {
    let mut pipe = [-1i32; 2];
    // SAFETY: pipe2 writes two descriptors into the array.
    if unsafe { libc::pipe2(pipe.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } != 0 {
        let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EMFILE);
        return Err(SpawnError { stage: Stage::Clone, errno });
    }
    Ok((crate::sys::Fd(pipe[0]), crate::sys::Fd(pipe[1])))
}

/// The stack the children run on (they only make raw system calls: the top
/// page or two is all they touch).
const CHILD_STACK: usize = 16 * 1024;
/// One mapping for the whole process, made by the first spawn and kept, used
/// by one spawn at a time (the lock is held while the parent is suspended in
/// clone). Not a buffer in spawn's frame: the stack probes of a 16 KiB frame
/// touch every page of it, and those pages then stayed resident on PID 1's
/// stack for good; here only what the children touch is (docs/ARCHITECTURE.md,
/// "Start, restart and memory"), and only until the child has exec'd
/// ([`ChildStack::release`]).
struct ChildStack {
    /// The start of the mapping: an inaccessible page (a child that overran
    /// its stack would fault rather than write over whatever lies below),
    /// then the stack.
    base: core::ptr::NonNull<u8>,
    guard: usize,
}

// SAFETY: the mapping is owned by the static below and only used under its lock.
unsafe impl Send for ChildStack {}

static CHILD_STACK_MAPPING: std::sync::Mutex<Option<ChildStack>> = std::sync::Mutex::new(None);

impl ChildStack {
    /// Maps the stack and its guard page; the errno if mmap fails.
    fn map() -> Result<ChildStack, i32> {
        // SAFETY: a new private anonymous mapping, ours alone; mprotect only
        // narrows its lowest page (without an MMU it may fail: no guard then).
        unsafe {
            let guard = crate::sys::page_size();
            let len = guard + CHILD_STACK;
            let p = libc::mmap(core::ptr::null_mut(), len, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK, -1, 0);
            let base = core::ptr::NonNull::new(p.cast::<u8>()).filter(|_| p != libc::MAP_FAILED);
            let base = base.ok_or_else(|| std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::ENOMEM))?;
            libc::mprotect(p, guard, libc::PROT_NONE);
            Ok(ChildStack { base, guard })
        }
    }

    /// The initial stack pointer: the end of the mapping (page-aligned).
    fn top(&self) -> *mut u8 {
        // SAFETY: within (one past the end of) the mapping made in `map`.
        unsafe { self.base.as_ptr().add(self.guard + CHILD_STACK) }
    }

    /// Gives the pages the last child touched back to the kernel once it
    /// has exec'd or exited: a page of PID 1's anonymous memory between
    /// spawns otherwise, for one system call a spawn (the next child gets a
    /// zeroed page, and writes its frames before it reads them). Nothing
    /// to do when it fails.
    fn release(&self) {
        // SAFETY: the stack part of the mapping made in `map`, which no
        // child uses any more (the caller holds the lock, past the clone).
        unsafe { libc::madvise(self.base.as_ptr().add(self.guard).cast(), CHILD_STACK, libc::MADV_DONTNEED) };
    }
}

/// A standard stream of the child as the parent prepared it.
enum Stdio {
    Inherit,
    /// The caller's descriptor.
    Borrowed(i32),
    /// Opened for this spawn; closed (dropped) once the child has it.
    Opened(crate::sys::Fd),
}

impl Stdio {
    fn raw(&self) -> i32 {
        match self {
            Stdio::Inherit => -1,
            Stdio::Borrowed(fd) => *fd,
            Stdio::Opened(fd) => fd.0,
        }
    }
}

/// Opens `path` for a redirection without waiting: O_NONBLOCK for the open,
/// cleared afterwards so the child gets an ordinary blocking descriptor.
fn open_nonblocking(path: &CStr, flags: i32) -> Result<crate::sys::Fd, i32> {
    let flags = flags | libc::O_NOCTTY | libc::O_CLOEXEC | libc::O_NONBLOCK;
    let fd = match crate::sys::Fd::open(path, flags, 0o644) {
        // A FIFO without a reader (O_WRONLY|O_NONBLOCK says ENXIO): read-write,
        // which Linux opens at once, and only if it is a FIFO indeed.
        Err(libc::ENXIO) if flags & libc::O_ACCMODE == libc::O_WRONLY => {
            let fd = crate::sys::Fd::open(path, (flags & !libc::O_ACCMODE) | libc::O_RDWR, 0o644)?;
            // SAFETY: fstat writes into a zeroed stat of our own.
            let mut st: libc::stat = unsafe { std::mem::zeroed() };
            if unsafe { libc::fstat(fd.0, &mut st) } != 0 || st.st_mode & libc::S_IFMT != libc::S_IFIFO {
                return Err(libc::ENXIO);
            }
            fd
        }
        other => other?,
    };
    let status = crate::sys::fcntl(fd.0, libc::F_GETFL, 0)?;
    crate::sys::fcntl(fd.0, libc::F_SETFL, status & !libc::O_NONBLOCK)?;
    Ok(fd)
}

fn open_stdio(how: Redirect<'_>, write: bool) -> Result<Stdio, SpawnError> {
    let (access, append) = if write { (libc::O_WRONLY, libc::O_CREAT | libc::O_APPEND) } else { (libc::O_RDONLY, 0) };
    let opened = match how {
        Redirect::Inherit => return Ok(Stdio::Inherit),
        Redirect::Fd(fd) => return Ok(Stdio::Borrowed(fd)),
        Redirect::Null => open_nonblocking(c"/dev/null", access),
        Redirect::Append(path) => open_nonblocking(path, access | append),
    };
    opened.map(Stdio::Opened).map_err(|errno| SpawnError { stage: Stage::Redirect, errno })
}

/// Starts `cmd` with `opts`. Returns the child's pid once it has exec'd; an
/// error if it could not (the failed child is reaped here).
pub fn spawn(cmd: &Command, opts: &Options<'_>) -> Result<Pid, SpawnError> {
    // Held until the child has exec'd (it has its own copies by then).
    let stdio = [open_stdio(opts.stdin, false)?, open_stdio(opts.stdout, true)?, open_stdio(opts.stderr, true)?];
    let groups: &[u32] = opts.credentials.map(|c| c.groups.as_slice()).unwrap_or(&[]);
    let pipe = if VFORK_SHARES_MEMORY.load(core::sync::atomic::Ordering::Relaxed) { None } else { Some(failure_pipe()?) };
    let args = ChildArgs {
        cmd,
        opts,
        stdio: [stdio[0].raw(), stdio[1].raw(), stdio[2].raw()],
        groups_ptr: groups.as_ptr() as *const libc::gid_t,
        groups_len: groups.len(),
        failure: core::sync::atomic::AtomicI32::new(0),
        failure_fd: pipe.as_ref().map_or(-1, |(_, write)| write.0),
        signals_to_reset: SIGNALS_TO_RESET.load(core::sync::atomic::Ordering::Relaxed),
        exec_reached: core::sync::atomic::AtomicBool::new(false),
    };
    let mut stack = CHILD_STACK_MAPPING.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if stack.is_none() {
        *stack = Some(ChildStack::map().map_err(|errno| SpawnError { stage: Stage::Clone, errno })?);
    }
    let top = stack.as_ref().map_or(core::ptr::null_mut(), ChildStack::top);
    // SAFETY: the stack top is the end of the child stack mapping,
    // page-aligned, which no other spawn uses while we hold its lock; `args`
    // outlives the child's use of it because CLONE_VFORK suspends us until
    // the child has exec'd or exited. The child runs `child_main`, which only
    // makes raw system calls and never returns to Rust code of the parent; it
    // writes its frames before it reads them, as on any fresh stack.
    let pid = unsafe {
        libc::clone(
            child_main,
            top.cast(),
            libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
            (&args as *const ChildArgs).cast_mut().cast(),
        )
    };
    // Resumed: a real vfork's child has exec'd or exited, and a fork's
    // (qemu-user) runs on its own copy of the mapping.
    if pid >= 0 {
        if let Some(child_stack) = stack.as_ref() {
            child_stack.release();
        }
    }
    drop(stack);
    if pid < 0 {
        let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EAGAIN);
        return Err(SpawnError { stage: Stage::Clone, errno });
    }
    // Resumed by a real vfork, the child has exec'd (past the point of no
    // return) or exited, its failure word already written: the answer is in
    // memory now, and the child's copy of the pipe's write end, which closes
    // only when its execve returns to user space (after the new program is
    // loaded), need not be waited for. Only after a fork (qemu-user), where
    // the child's mark is not seen here, wait for the word or the EOF.
    let shares_memory = args.exec_reached.load(core::sync::atomic::Ordering::Relaxed);
    if shares_memory {
        VFORK_SHARES_MEMORY.store(true, core::sync::atomic::Ordering::Relaxed);
    }
    let failure = match pipe {
        // A fork (qemu-user): only the pipe tells.
        Some((failure_read, failure_write)) if !shares_memory => {
            // Our copy of the write end must go before reading, or EOF never comes.
            drop(failure_write);
            read_failure_word(&failure_read)
        }
        // Shared memory: a child that failed, before its execve or in it,
        // wrote its word here.
        _ => args.failure.load(core::sync::atomic::Ordering::Relaxed),
    };
    if failure != 0 {
        // The child has already exited (we were resumed by its exit): reap it so
        // it is never seen as an unknown zombie.
        let mut status = 0;
        // SAFETY: waitpid on our own exited child.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        let stage = match failure >> 16 {
            1 => Stage::Session,
            2 => Stage::Redirect,
            3 => Stage::Credentials,
            4 => Stage::Chdir,
            STAGE_NICE => Stage::Nice,
            STAGE_AFFINITY => Stage::Affinity,
            n if n >= STAGE_LIMIT => Stage::Limit((n - STAGE_LIMIT) as u32),
            _ => Stage::Exec,
        };
        return Err(SpawnError { stage, errno: failure & 0xffff });
    }
    Ok(pid)
}

/// Waits for the failure word a child writes to its pipe, or for the EOF of
/// its exec or exit; 0 for the EOF (no failure).
fn read_failure_word(failure_read: &crate::sys::Fd) -> i32 {
    let mut readable = libc::pollfd { fd: failure_read.0, events: libc::POLLIN, revents: 0 };
    loop {
        // SAFETY: poll on one pollfd of our own.
        if unsafe { libc::poll(&mut readable, 1, -1) } >= 0 {
            break;
        }
        if std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            // poll itself failed (ENOMEM): a blocking read waits instead.
            let _ = crate::sys::fcntl(failure_read.0, libc::F_SETFL, 0);
            break;
        }
    }
    let mut word = [0u8; 4];
    match failure_read.read(&mut word) {
        Ok(4) => i32::from_ne_bytes(word),
        _ => 0,
    }
}

/// Replaces the current process with `cmd` (EXEC objects: a new init keeps
/// PID 1). The new program starts as a spawned child does: no signal blocked,
/// none ignored (caught ones are reset by execve itself). Both are restored
/// if every candidate fails. Returns the errno of the last attempt.
pub fn exec(cmd: &Command) -> i32 {
    let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
    let mut empty: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: sigaction/sigemptyset/sigprocmask/execve get valid,
    // NUL-terminated data prepared when the command was built.
    unsafe {
        let ignored = unignore_signals();
        libc::sigemptyset(&mut empty);
        libc::sigprocmask(libc::SIG_SETMASK, &empty, &mut old);
        let err = exec_candidates(cmd.run(0), cmd.run(cmd.argv_at()), cmd.run(cmd.envp_at())) as i32;
        libc::sigprocmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
        reignore_signals(ignored);
        err
    }
}

/// Sets every ignored signal to SIG_DFL; returns them as a bit set (bit n-1
/// for signal n) for [`reignore_signals`].
unsafe fn unignore_signals() -> u64 {
    let mut ignored = 0u64;
    for signal in 1..=SIGNAL_COUNT as i32 {
        let mut current: libc::sigaction = std::mem::zeroed();
        if libc::sigaction(signal, std::ptr::null(), &mut current) == 0 && current.sa_sigaction == libc::SIG_IGN {
            let mut default: libc::sigaction = std::mem::zeroed();
            default.sa_sigaction = libc::SIG_DFL;
            if libc::sigaction(signal, &default, std::ptr::null_mut()) == 0 {
                ignored |= 1 << (signal - 1);
            }
        }
    }
    ignored
}

unsafe fn reignore_signals(ignored: u64) {
    for signal in (1..=SIGNAL_COUNT as i32).filter(|s| ignored & (1 << (s - 1)) != 0) {
        let mut ignore: libc::sigaction = std::mem::zeroed();
        ignore.sa_sigaction = libc::SIG_IGN;
        libc::sigaction(signal, &ignore, std::ptr::null_mut());
    }
}

// ---- the child: raw system calls only --------------------------------------

#[cfg(target_arch = "arm")]
mod nr {
    pub const SETGROUPS: libc::c_long = libc::SYS_setgroups32;
    pub const SETRESGID: libc::c_long = libc::SYS_setresgid32;
    pub const SETRESUID: libc::c_long = libc::SYS_setresuid32;
}
#[cfg(not(target_arch = "arm"))]
mod nr {
    pub const SETGROUPS: libc::c_long = libc::SYS_setgroups;
    pub const SETRESGID: libc::c_long = libc::SYS_setresgid;
    pub const SETRESUID: libc::c_long = libc::SYS_setresuid;
}

/// A raw system call returning the negated errno on failure, without touching
/// the thread's errno (which the child shares with the parent).
#[inline(always)]
unsafe fn raw(nr: libc::c_long, a: usize, b: usize, c: usize, d: usize) -> isize {
    // libc::syscall would set errno (shared memory with the parent); the
    // return value already carries the error, so read it from there.
    let ret = libc::syscall(nr, a, b, c, d) as isize;
    if ret == -1 {
        // syscall() returns -1 and stores errno; recover it without allocating.
        -(*errno_location()) as isize
    } else {
        ret
    }
}

#[cfg(target_env = "musl")]
unsafe fn errno_location() -> *mut libc::c_int {
    libc::__errno_location()
}
#[cfg(not(target_env = "musl"))]
unsafe fn errno_location() -> *mut libc::c_int {
    libc::__errno_location()
}

unsafe fn fail(args: &ChildArgs, stage: i32, errno: isize) -> ! {
    let word = (stage << 16) | (errno as i32 & 0xffff);
    args.failure.store(word, core::sync::atomic::Ordering::Relaxed);
    if args.failure_fd >= 0 {
        let bytes = word.to_ne_bytes();
        raw(libc::SYS_write, args.failure_fd as usize, bytes.as_ptr() as usize, 4, 0);
    }
    // _exit, not exit: no atexit handlers, no stdio flushing (POSIX allows
    // it in a vfork child).
    libc::_exit(127)
}

unsafe fn move_fd(args: &ChildArgs, fd: usize, target: usize) {
    if fd == target {
        // Opened straight into place: clear close-on-exec instead.
        let r = raw(libc::SYS_fcntl, fd, libc::F_SETFD as usize, 0, 0);
        if r < 0 {
            fail(args, 2, -r);
        }
        return;
    }
    let r = raw(libc::SYS_dup3, fd, target, 0, 0);
    if r < 0 {
        fail(args, 2, -r);
    }
}

/// Signal numbers the kernel knows (1..=64 on every Linux target we build for).
const SIGNAL_COUNT: usize = 64;
/// The kernel's sigset_t size for rt_sigaction and rt_sigprocmask (64 bits).
const KERNEL_SIGSET_BYTES: usize = SIGNAL_COUNT / 8;

/// Every signal but SIGKILL and SIGSTOP (which cannot be changed), bit n-1
/// for signal n.
const EVERY_SIGNAL: u64 = !((1 << (libc::SIGKILL - 1)) | (1 << (libc::SIGSTOP - 1)));

/// The signals a spawned child sets back to SIG_DFL: every one, until the
/// process has noted which of its own are not at SIG_DFL
/// ([`note_signal_dispositions`]).
static SIGNALS_TO_RESET: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(EVERY_SIGNAL);

/// Notes which signals this process does not leave at SIG_DFL, so that a
/// spawned child resets only those (a handful: SIGPIPE, which main ignores
/// as std's start-up does, SIGILL and SIGTRAP, which main catches to
/// report a trap (`trap`), and whatever was ignored when the process was
/// exec'd) rather than all 62, one system call each, at every
/// spawn. Read with raw system calls, so the signals libc reserves for
/// itself are seen too. Call it once the dispositions are set (the
/// supervisor does, after its signal setup, in every image: one exec'd by a
/// reexec starts again from every signal), and again after any change to
/// them.
pub fn note_signal_dispositions() {
    let mut not_default = 0u64;
    for signal in (1..=SIGNAL_COUNT).filter(|&s| EVERY_SIGNAL & (1 << (s - 1)) != 0) {
        // The kernel's struct sigaction begins with the handler on every
        // architecture we build for; the buffer is larger than any layout.
        let mut current = [0usize; 8];
        // SAFETY: rt_sigaction writes into our buffer and changes nothing.
        let r = unsafe { raw(libc::SYS_rt_sigaction, signal, 0, current.as_mut_ptr() as usize, KERNEL_SIGSET_BYTES) };
        if r != 0 || current[0] != libc::SIG_DFL {
            not_default |= 1 << (signal - 1);
        }
    }
    SIGNALS_TO_RESET.store(not_default, core::sync::atomic::Ordering::Relaxed);
}

/// Sets the signals of `to_reset` to SIG_DFL in the child. An ignored signal
/// stays ignored across execve, and the supervisor ignores some (Rust's
/// runtime sets SIGPIPE to SIG_IGN): without this every service would start
/// with SIGPIPE ignored and a pipeline writer would never end. A caught
/// signal would run the parent's handler on the parent's memory should it
/// arrive before execve.
///
/// Without CLONE_SIGHAND the child has its own copy of the handler table
/// (CLONE_VM shares memory, not dispositions), so this does not touch the
/// supervisor's.
unsafe fn default_dispositions(to_reset: u64) {
    // A kernel `struct sigaction` of zeros is SIG_DFL, no flags, empty mask
    // on every architecture; the buffer is larger than any layout of it.
    let default = [0u64; 8];
    for signal in 1..=SIGNAL_COUNT {
        if to_reset & (1 << (signal - 1)) != 0 {
            raw(libc::SYS_rt_sigaction, signal, default.as_ptr() as usize, 0, KERNEL_SIGSET_BYTES);
        }
    }
}

/// Failure words of the process settings (the others are 1..5):
/// `STAGE_LIMIT + RLIMIT_*` for a limit.
const STAGE_NICE: i32 = 6;
const STAGE_AFFINITY: i32 = 7;
const STAGE_LIMIT: i32 = 16;

/// Applies `setup` to the child itself (pid 0: the caller).
unsafe fn apply_process_setup(args: &ChildArgs, setup: &ProcessSetup) {
    for &(resource, value) in &setup.limits {
        // struct rlimit64 { rlim_cur, rlim_max }: two u64 on every target.
        let limit = [value, value];
        let r = raw(libc::SYS_prlimit64, 0, resource as usize, limit.as_ptr() as usize, 0);
        if r < 0 {
            fail(args, STAGE_LIMIT + resource as i32, -r);
        }
    }
    if let Some(nice) = setup.nice {
        let r = raw(libc::SYS_setpriority, libc::PRIO_PROCESS as usize, 0, nice as isize as usize, 0);
        if r < 0 {
            fail(args, STAGE_NICE, -r);
        }
    }
    if let Some(mask) = setup.umask {
        raw(libc::SYS_umask, mask as usize, 0, 0, 0);
    }
    if let Some(cpus) = &setup.cpus {
        let r = raw(libc::SYS_sched_setaffinity, 0, core::mem::size_of::<CpuMask>(), cpus.as_ptr() as usize, 0);
        if r < 0 {
            fail(args, STAGE_AFFINITY, -r);
        }
    }
}

extern "C" fn child_main(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` is the parent's ChildArgs, alive while we run (CLONE_VFORK).
    unsafe {
        let args = &*(arg as *const ChildArgs);
        let opts = args.opts;
        // First, while the supervisor's signals are still blocked.
        default_dispositions(args.signals_to_reset);
        if opts.new_session {
            let r = raw(libc::SYS_setsid, 0, 0, 0, 0);
            if r < 0 {
                fail(args, 1, -r);
            }
            if opts.controlling_tty {
                // Best effort: without a terminal on fd 0 there is nothing to take.
                raw(libc::SYS_ioctl, 0, libc::TIOCSCTTY as usize, 1, 0);
            }
        }
        for (target, &fd) in args.stdio.iter().enumerate() {
            if fd >= 0 {
                move_fd(args, fd as usize, target);
            }
        }
        if let Some(setup) = opts.process {
            apply_process_setup(args, setup);
        }
        if let Some(cred) = opts.credentials {
            let r = raw(nr::SETGROUPS, args.groups_len, args.groups_ptr as usize, 0, 0);
            if r < 0 {
                fail(args, 3, -r);
            }
            let g = cred.gid as usize;
            let r = raw(nr::SETRESGID, g, g, g, 0);
            if r < 0 {
                fail(args, 3, -r);
            }
            let u = cred.uid as usize;
            let r = raw(nr::SETRESUID, u, u, u, 0);
            if r < 0 {
                fail(args, 3, -r);
            }
        }
        // The supervisor blocks the signals it reads from its signalfd; the
        // child starts with none blocked.
        let empty: [u64; 2] = [0; 2];
        raw(libc::SYS_rt_sigprocmask, libc::SIG_SETMASK as usize, empty.as_ptr() as usize, 0, KERNEL_SIGSET_BYTES);
        let cmd = args.cmd;
        args.exec_reached.store(true, core::sync::atomic::Ordering::Relaxed);
        if cmd.trampoline {
            // The run: exe, then the trampoline's argv (name, DIR, ...).
            let run = cmd.run(cmd.trampoline_at());
            raw(libc::SYS_execve, *run as usize, run.add(1) as usize, cmd.run(cmd.envp_at()) as usize, 0);
            // No /proc to exec ourselves through (or no iocinit at `exe`):
            // change directory here, at the risk the module comment describes.
            let dir = *run.add(2);
            let r = raw(libc::SYS_chdir, dir as usize, 0, 0, 0);
            if r < 0 {
                fail(args, 4, -r);
            }
        }
        fail(args, 5, exec_candidates(cmd.run(0), cmd.run(cmd.argv_at()), cmd.run(cmd.envp_at())))
    }
}

/// The NULL-terminated pointer array execve takes for `strings`. The
/// pointers point into each CString's own heap buffer, which does not move
/// when the Vec or its owner moves.
fn null_terminated(strings: &[CString]) -> Vec<*const c_char> {
    strings.iter().map(|s| s.as_ptr()).chain(std::iter::once(std::ptr::null())).collect()
}

/// Execs the first of the NULL-terminated `candidates` that can be, with
/// execvp's semantics: keep looking after "not here", remember a more
/// telling error (e.g. EACCES) if one comes. Returns that errno if none can.
/// Raw system calls only (the vfork child uses it).
unsafe fn exec_candidates(candidates: *const *const c_char, argv: *const *const c_char, envp: *const *const c_char) -> isize {
    let mut err = libc::ENOENT as isize;
    let mut next = candidates;
    while !(*next).is_null() {
        let r = raw(libc::SYS_execve, *next as usize, argv as usize, envp as usize, 0);
        if r != -(libc::ENOENT as isize) && r != -(libc::ENOTDIR as isize) {
            err = -r;
        }
        next = next.add(1);
    }
    err
}

extern "C" {
    /// The process environment, as execve gave it (the command's).
    static environ: *const *const c_char;
}

/// The trampoline (`iocinit-chdir DIR CANDIDATE... -- ARGV...`, see
/// [`Command::with_working_directory`]): changes directory to DIR, then
/// execs the first candidate that can be with ARGV and the environment it
/// was given. Never returns on success; its exit status says what failed
/// ([`EXIT_CHDIR_FAILED`], or 127 when the command cannot be exec'd), with
/// the reason on its standard error. It is a process of its own, so a
/// directory that hangs holds only it.
pub fn chdir_then_exec(args: &[std::ffi::OsString]) -> i32 {
    use std::os::unix::ffi::OsStrExt;
    let to_c = |a: &std::ffi::OsString| CString::new(a.as_bytes()).ok();
    let args: Option<Vec<CString>> = args.iter().map(to_c).collect();
    // DIR, then the candidates up to the first `--`, then ARGV.
    let words = args.as_deref().and_then(|args| {
        let (dir, rest) = args.split_first()?;
        let (candidates, argv) = rest.split_at_checked(rest.iter().position(|s| s.as_bytes() == b"--")?)?;
        Some((dir, candidates, argv.get(1..)?))
    });
    let Some((dir, candidates, argv)) = words else {
        eprintln!("iocinit: usage: {} DIR CANDIDATE... -- ARGV...", TRAMPOLINE_NAME.to_string_lossy());
        return crate::cli::EXIT_USAGE;
    };
    if let Err(e) = nix::unistd::chdir(dir.as_c_str()) {
        eprintln!("iocinit: unable to change directory to {}: {}", dir.to_string_lossy(), crate::sys::errno_text(e as i32));
        return EXIT_CHDIR_FAILED.into();
    }
    let (candidate_ptrs, argv_ptrs) = (null_terminated(candidates), null_terminated(argv));
    // SAFETY: NULL-terminated arrays of NUL-terminated strings that outlive
    // the calls; `environ` is the process's own. main ignores SIGPIPE at
    // start-up (as std's start-up does): set it, and any other ignored signal, back to
    // SIG_DFL, as the spawned child had them.
    let errno = unsafe {
        unignore_signals();
        exec_candidates(candidate_ptrs.as_ptr(), argv_ptrs.as_ptr(), environ)
    };
    let program = candidates.first().map(|c| c.to_string_lossy()).unwrap_or_default();
    eprintln!("iocinit: unable to execute {program}: {}", crate::sys::errno_text(errno as i32));
    EXIT_EXEC_FAILED
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wait(pid: Pid) -> i32 {
        let mut status = 0;
        unsafe { libc::waitpid(pid, &mut status, 0) };
        status
    }

    fn env() -> Vec<String> {
        vec!["PATH=/usr/bin:/bin".into(), "IOCINIT_TEST=1".into()]
    }

    /// Where no trampoline can be exec'd, as without /proc.
    const NO_TRAMPOLINE: &CStr = c"/nonexistent/iocinit";

    #[test]
    fn shell_detection_follows_epoch() {
        assert!(!needs_shell("/usr/bin/procServ -f --name x ./st.cmd"));
        assert!(!needs_shell("/sbin/getty 115200 ttyS0"));
        assert!(needs_shell("echo hi > /tmp/x"));
        assert!(needs_shell("a && b"));
        assert!(needs_shell("FOO=1 prog"));
        // Every character of Epoch's own set.
        for c in "&^$#@!()*%{}`~+|\\<>?;:'[]\"\t".chars() {
            assert!(needs_shell(&format!("prog a{c}b")), "{c:?}");
        }
    }

    #[test]
    fn shell_words_and_blanks_a_split_would_read_differently() {
        // Reserved words as the first word (`!`, `{` and `[[` are characters
        // of the set too, as is `:`, the null built-in).
        for command in ["! /bin/false", ": nothing", "if true", "  time prog", "while", "case", "{ a", "[[ -e x ]]"] {
            assert!(needs_shell(command), "{command}");
        }
        // The same words as arguments, or inside a longer word, are text;
        // built-ins need FORCESHELL, as in Epoch.
        for command in ["prog if then", "/bin/if", "ifup -a", "timeout 5 prog", "umask 022", "echo hi"] {
            assert!(!needs_shell(command), "{command}");
        }
        // ASCII whitespace a shell does not split on (a direct split would).
        for command in ["prog a\rb", "prog a\u{0b}b", "prog a\u{0c}b", "a\nb"] {
            assert!(needs_shell(command), "{command:?}");
        }
        // Whitespace beyond ASCII: a word's, to the shell and to the direct
        // split alike (`from_line` splits at ASCII blanks only).
        for command in ["prog a\u{a0}b", "prog\u{2003}x"] {
            assert!(!needs_shell(command), "{command:?}");
        }
        let command = Command::from_line("prog a\u{a0}b  c", false, &[]).unwrap();
        assert_eq!(command.argv().collect::<Vec<_>>(), [c"prog", c"a\u{a0}b", c"c"]);
    }

    /// A fresh directory, with the paths of its file `out` and of itself
    /// as C strings.
    fn scratch_dir(tag: &str) -> (crate::scratch::ScratchDir, CString, CString) {
        let dir = crate::scratch::ScratchDir::new(tag);
        let out = CString::new(dir.join("out").to_str().unwrap()).unwrap();
        let cwd = CString::new(dir.to_str().unwrap()).unwrap();
        (dir, out, cwd)
    }

    #[test]
    fn spawns_with_redirect_cwd_and_env() {
        let (dir, out, cwd) = scratch_dir("spawn");
        // A unit test is not iocinit: no trampoline to exec, the child changes
        // directory itself (the fallback; tests/engine_seccomp.rs and
        // tests/trust_spawn.rs run the trampoline).
        let cmd = Command::from_line("pwd; echo $IOCINIT_TEST", false, &env()).unwrap().with_working_directory_through(&cwd, NO_TRAMPOLINE);
        let opts = Options { stdout: Redirect::Append(&out), ..Default::default() };
        let pid = spawn(&cmd, &opts).unwrap();
        assert_eq!(wait(pid), 0);
        let text = std::fs::read_to_string(dir.join("out")).unwrap();
        assert_eq!(text, format!("{}\n1\n", dir.display()));
    }

    #[test]
    fn a_clone_runs_the_same_command_after_the_original_is_gone() {
        let (dir, out, cwd) = scratch_dir("spawn-clone");
        let original = Command::from_line("pwd; echo $IOCINIT_TEST", false, &env()).unwrap().with_working_directory_through(&cwd, NO_TRAMPOLINE);
        let copy = original.clone();
        drop(original);
        // Every pointer points into the copy's own strings, or the shared
        // environment (another test may have set it).
        assert!(copy.pointers.iter().all(|&p| p.is_null() || points_into(&copy, p)));
        assert_eq!(copy.pointers.iter().filter(|p| p.is_null()).count(), 4);
        let opts = Options { stdout: Redirect::Append(&out), ..Default::default() };
        let pid = spawn(&copy, &opts).unwrap();
        assert_eq!(wait(pid), 0);
        assert_eq!(std::fs::read_to_string(dir.join("out")).unwrap(), format!("{}\n1\n", dir.display()));
    }

    /// Between spawns, no page of the children's stack is resident: each
    /// child's goes back to the kernel once it has exec'd.
    #[test]
    fn the_child_stack_holds_no_page_between_spawns() {
        let pid = spawn(&Command::new(&["/bin/true"], &env()).unwrap(), &Options::default()).unwrap();
        assert_eq!(wait(pid), 0);
        // Under the lock no other test's child runs on it.
        let stack = CHILD_STACK_MAPPING.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let stack = stack.as_ref().expect("mapped by the first spawn");
        let mut resident = [0u8; CHILD_STACK / 4096 + 1];
        // SAFETY: mincore of the stack part of the mapping into a vector one
        // byte a page long (pages of at least 4 KiB).
        let r = unsafe { libc::mincore(stack.base.as_ptr().add(stack.guard).cast(), CHILD_STACK, resident.as_mut_ptr()) };
        assert_eq!(r, 0, "{}", std::io::Error::last_os_error());
        assert!(resident.iter().all(|&page| page & 1 == 0), "resident pages of the child stack: {resident:?}");
    }

    /// The fewest allocations `make` did in 20 tries, on this thread (other
    /// tests' threads allocate beside it). Only with the counting allocator,
    /// as the tests that use it.
    #[cfg(feature = "alloc-count")]
    fn fewest_allocations<T>(mut make: impl FnMut() -> T) -> u64 {
        let count = || crate::alloc_count::thread_allocations().expect("built without the alloc-count feature");
        (0..20)
            .map(|_| {
                let before = count();
                let made = make();
                let after = count();
                drop(made);
                after - before
            })
            .min()
            .unwrap_or(u64::MAX)
    }

    #[test]
    #[cfg(feature = "alloc-count")]
    fn a_command_is_two_allocations_and_a_copy_owns_its_own() {
        let (argv, env) = (["prog", "-f", "--name", "x", "./st.cmd"], env());
        assert!(fewest_allocations(|| Command::new(&argv, &env).unwrap()) <= 2);
        assert!(fewest_allocations(|| Command::with_program("/proc/self/exe", &argv, &env).unwrap()) <= 2);
        let plain = Command::new(&argv, &env).unwrap();
        let with_dir = plain.clone().with_working_directory(c"/tmp");
        // A clone allocates what its original holds.
        assert!(fewest_allocations(|| plain.clone()) <= 2);
        assert!(fewest_allocations(|| with_dir.clone()) <= 3);
        for original in [plain, with_dir] {
            let copy = original.clone();
            assert!(copy.pointers.iter().all(|&p| p.is_null() || points_into(&copy, p)));
            assert_eq!(copy.argv().collect::<Vec<_>>(), original.argv().collect::<Vec<_>>());
        }
    }

    /// Whether `p` points into `cmd`'s own strings or the shared environment.
    fn points_into(cmd: &Command, p: *const c_char) -> bool {
        let shared = SHARED_ENVIRONMENT.get().map_or(&[][..], |b| &b[..]);
        cmd.strings.as_ptr_range().contains(&p.cast()) || shared.as_ptr_range().contains(&p.cast())
    }

    /// PID 1 keeps a command for each object: the base environment every
    /// one starts with is pointed to, not copied into each
    /// (docs/ARCHITECTURE.md, "PID 1's memory, page by page").
    #[test]
    fn commands_point_to_the_shared_environment_instead_of_copying_it() {
        share_environment(&["PATH=/usr/bin:/bin".into(), "HOME=/".into(), "TERM=linux".into()]);
        // Whichever test set it first: its entries are what is shared.
        let shared = SHARED_ENVIRONMENT.get().expect("set above or before");
        let base: Vec<String> = shared.split(|&b| b == 0).filter(|e| !e.is_empty()).map(|e| String::from_utf8_lossy(e).into_owned()).collect();
        let env: Vec<String> = base.iter().cloned().chain(["IOCINIT_OBJECT=svc".to_string()]).collect();
        let cmd = Command::new(&["/bin/sleep", "1"], &env).unwrap();
        assert_eq!(&cmd.strings[..], b"/bin/sleep\0/bin/sleep\x001\0IOCINIT_OBJECT=svc\0", "only what is not shared is copied");
        assert_eq!(cmd.env().map(|e| e.to_str().unwrap().to_string()).collect::<Vec<_>>(), env);
        // A copy, and a command made from it, point to the same entries.
        for derived in [cmd.clone(), cmd.clone().with_working_directory_through(c"/srv", c"/exe"), cmd.clone().with_env(&env).unwrap()] {
            assert_eq!(derived.env().map(|e| e.to_str().unwrap().to_string()).collect::<Vec<_>>(), env);
            let run = &derived.pointers[derived.envp_at()..derived.envp_at() + base.len()];
            assert!(run.iter().all(|&p| shared.as_ptr_range().contains(&p.cast())));
            assert_eq!(derived.argv().collect::<Vec<_>>(), [c"/bin/sleep", c"1"]);
        }
        let pid = spawn(&cmd, &Options::default()).unwrap();
        assert_eq!(wait(pid), 0);
    }

    #[test]
    fn the_strings_and_runs_are_what_execve_gets() {
        let cmd = Command::new(&["svc", "-f"], &["PATH=/usr/bin/::/bin".into(), "A=1".into()]).unwrap();
        assert_eq!(cmd.path(), c"/usr/bin/svc");
        assert_eq!(cmd.program(), c"svc");
        assert_eq!(cmd.env().collect::<Vec<_>>(), [c"PATH=/usr/bin/::/bin", c"A=1"]);
        let cmd = cmd.with_working_directory_through(c"/srv", c"/exe").with_env(&["B=2".into()]).unwrap();
        let run = |at: usize| {
            // SAFETY: a NULL-terminated run of NUL-terminated strings in `cmd`.
            let mut p = cmd.run(at);
            let mut words = Vec::new();
            while unsafe { !(*p).is_null() } {
                words.push(unsafe { CStr::from_ptr(*p) }.to_owned());
                p = p.wrapping_add(1);
            }
            words
        };
        assert_eq!(run(0), [c"/usr/bin/svc", c"/bin/svc"]);
        assert_eq!(run(cmd.argv_at()), [c"svc", c"-f"]);
        assert_eq!(run(cmd.envp_at()), [c"B=2"]);
        assert_eq!(run(cmd.trampoline_at()), [c"/exe", TRAMPOLINE_NAME, c"/srv", c"/usr/bin/svc", c"/bin/svc", c"--", c"svc", c"-f"]);
        assert_eq!(Command::new(&["a\0b"], &[]).map(|_| ()), Err(CommandError::Nul));
        assert_eq!(Command::new(&["a", "b\0"], &[]).map(|_| ()), Err(CommandError::Nul));
        assert_eq!(Command::new(&[""], &[]).map(|_| ()), Err(CommandError::Empty));
        // A PATH of no directory: nothing to try, and the program is what
        // "unable to exec X" names (the old path() indexed past the end).
        assert_eq!(Command::new(&["svc"], &["PATH=:".into()]).unwrap().path(), c"svc");
    }

    #[test]
    fn a_spawn_leaves_the_callers_stack_below_it_untouched() {
        // The children run on a mapping of their own: a spawn does not make
        // 16 KiB of its caller's stack resident (docs/ARCHITECTURE.md,
        // "Start, restart and memory"). A test thread's stack may be an
        // earlier thread's, reused: what lies below this frame goes first.
        const PAGE: usize = 4096;
        let cmd = Command::from_line("/bin/true", false, &env()).unwrap();
        let marker = 0u8;
        let here = core::ptr::addr_of!(marker) as usize & !(PAGE - 1);
        crate::sys::StackRelease::of_caller().expect("this thread's stack in /proc/self/maps").below_caller();
        let pid = std::hint::black_box(spawn(&cmd, &Options::default())).unwrap();
        assert_eq!(wait(pid), 0);
        // Pages 12 to 20 KiB under this frame: below what the release kept
        // and a spawn's own frames reach, within what a 16 KiB buffer in
        // spawn's frame took.
        let mut resident = [0u8; 2];
        // SAFETY: mincore of two pages of this thread's stack mapping.
        assert_eq!(unsafe { libc::mincore((here - 5 * PAGE) as *mut libc::c_void, 2 * PAGE, resident.as_mut_ptr()) }, 0);
        assert_eq!(resident.map(|r| r & 1), [0, 0], "a spawn touched its caller's stack 12-20 KiB deep");
    }

    #[test]
    fn children_ignore_no_signal() {
        // The test harness, like PID 1, runs with SIGPIPE ignored.
        let dir = crate::scratch::ScratchDir::new("spawn-sig");
        let out = CString::new(dir.join("out").to_str().unwrap()).unwrap();
        let cmd = Command::from_line("grep SigIgn /proc/self/status", false, &env()).unwrap();
        let pid = spawn(&cmd, &Options { stdout: Redirect::Append(&out), ..Default::default() }).unwrap();
        assert_eq!(wait(pid), 0);
        assert_eq!(std::fs::read_to_string(dir.join("out")).unwrap(), "SigIgn:\t0000000000000000\n");
        // The child reset its own copy of the handler table, not ours.
        // SAFETY: reads our own disposition into a zeroed struct.
        let mut ours: libc::sigaction = unsafe { std::mem::zeroed() };
        assert_eq!(unsafe { libc::sigaction(libc::SIGPIPE, std::ptr::null(), &mut ours) }, 0);
        assert_eq!(ours.sa_sigaction, libc::SIG_IGN);
    }

    #[test]
    fn a_child_resets_exactly_what_the_parent_does_not_leave_at_default() {
        let bit = |signal: i32| 1u64 << (signal - 1);
        // SAFETY: dispositions of signals no test sends (ignored, or caught
        // by a handler that does nothing), and one made default.
        extern "C" fn nothing(_: libc::c_int) {}
        unsafe {
            libc::signal(libc::SIGWINCH, libc::SIG_IGN);
            libc::signal(libc::SIGURG, nothing as extern "C" fn(libc::c_int) as libc::sighandler_t);
            libc::signal(libc::SIGTTOU, libc::SIG_DFL);
        }
        note_signal_dispositions();
        let noted = SIGNALS_TO_RESET.load(core::sync::atomic::Ordering::Relaxed);
        // Ignored (SIGPIPE by the Rust runtime, as in PID 1) and caught ones.
        for signal in [libc::SIGPIPE, libc::SIGWINCH, libc::SIGURG] {
            assert_ne!(noted & bit(signal), 0, "signal {signal} not noted: {noted:#x}");
        }
        assert_eq!(noted & bit(libc::SIGTTOU), 0, "{noted:#x}");
        assert_eq!(noted & (bit(libc::SIGKILL) | bit(libc::SIGSTOP)), 0, "{noted:#x}");
        let dir = crate::scratch::ScratchDir::new("spawn-noted");
        let out = CString::new(dir.join("out").to_str().unwrap()).unwrap();
        let cmd = Command::from_line("grep -E 'Sig(Ign|Blk)' /proc/self/status", true, &env()).unwrap();
        let pid = spawn(&cmd, &Options { stdout: Redirect::Append(&out), ..Default::default() }).unwrap();
        assert_eq!(wait(pid), 0);
        assert_eq!(std::fs::read_to_string(dir.join("out")).unwrap(), "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n");
    }

    #[test]
    fn a_fifo_nobody_reads_yet_never_blocks_the_spawn() {
        let dir = crate::scratch::ScratchDir::new("spawn-fifo");
        let fifo = dir.join("log");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let path = CString::new(fifo.to_str().unwrap()).unwrap();
        let cmd = Command::from_line("echo hello; exec sleep 30", false, &env()).unwrap();
        let pid = spawn(&cmd, &Options { stdout: Redirect::Append(&path), ..Default::default() }).unwrap();
        // A reader that comes later gets what was written meanwhile.
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(std::fs::File::open(&fifo).unwrap()), &mut line).unwrap();
        assert_eq!(line, "hello\n");
        // SAFETY: our own child.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        wait(pid);
        // Not a FIFO, and not there: the spawn fails, the child never ran.
        let err = spawn(&cmd, &Options { stdout: Redirect::Append(c"/nonexistent/dir/log"), ..Default::default() }).unwrap_err();
        assert_eq!(err, SpawnError { stage: Stage::Redirect, errno: libc::ENOENT });
    }

    /// Whether this process may raise a hard limit (CAP_SYS_RESOURCE): a
    /// container's root may lack it.
    fn may_raise_limits() -> bool {
        const CAP_SYS_RESOURCE: u32 = 24;
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let effective = status.lines().find_map(|l| l.strip_prefix("CapEff:")).and_then(|v| u64::from_str_radix(v.trim(), 16).ok());
        effective.is_some_and(|caps| caps & (1 << CAP_SYS_RESOURCE) != 0)
    }

    /// The limits, umask, CPUs and nice value a spawned `sh` reports.
    fn reported(setup: &ProcessSetup) -> Result<String, SpawnError> {
        let dir = crate::scratch::ScratchDir::new("spawn-setup");
        let out = CString::new(dir.join("out").to_str().unwrap()).unwrap();
        let script = "grep -E 'realtime priority|locked memory|core file' /proc/self/limits; umask; \
                      grep Cpus_allowed_list /proc/self/status; cut -d' ' -f19 /proc/self/stat";
        let cmd = Command::from_line(script, true, &env()).unwrap();
        // Applied before the switch to an unprivileged user.
        let nobody = Credentials { uid: 65534, gid: 65534, groups: vec![65534] };
        let opts = Options { stdout: Redirect::Append(&out), process: Some(setup), credentials: Some(&nobody), ..Default::default() };
        let spawned = spawn(&cmd, &opts).map(|pid| assert_eq!(wait(pid), 0));
        let text = std::fs::read_to_string(dir.join("out")).unwrap_or_default();
        spawned.map(|()| text)
    }

    /// A line of /proc/PID/limits: soft and hard value.
    fn limit<'a>(text: &'a str, name: &str) -> Option<(&'a str, &'a str)> {
        let line = text.lines().find(|l| l.starts_with(name))?;
        let mut words = line[name.len()..].split_whitespace();
        Some((words.next()?, words.next()?))
    }

    #[test]
    fn the_child_applies_limits_nice_umask_and_cpus_before_exec() {
        if !nix::unistd::geteuid().is_root() {
            return;
        }
        let mut cpus: Box<CpuMask> = Box::default();
        cpus[0] = 1;
        let rlimit = |resource: u32, value: u64| (resource, value);
        let (rtprio, memlock, core) = (rlimit::RTPRIO, rlimit::MEMLOCK, rlimit::CORE);
        // Within any container's hard limits: lowered or kept.
        let setup = ProcessSetup {
            limits: vec![rlimit(rtprio, 0), rlimit(memlock, 4 << 20), rlimit(core, 1 << 20)],
            nice: Some(-7),
            umask: Some(0o027),
            cpus: Some(cpus),
        };
        let text = reported(&setup).unwrap();
        assert_eq!(limit(&text, "Max realtime priority"), Some(("0", "0")), "{text}");
        assert_eq!(limit(&text, "Max locked memory"), Some(("4194304", "4194304")), "{text}");
        assert_eq!(limit(&text, "Max core file size"), Some(("1048576", "1048576")), "{text}");
        assert!(text.lines().any(|l| l == "0027"), "{text}");
        assert!(text.lines().any(|l| l == "Cpus_allowed_list:\t0"), "{text}");
        assert_eq!(text.lines().last(), Some("-7"), "{text}");

        // Raised: with CAP_SYS_RESOURCE, done; without, the spawn fails and
        // says which limit.
        let raise = ProcessSetup { limits: vec![rlimit(rtprio, 80), rlimit(memlock, u64::MAX)], ..ProcessSetup::default() };
        match reported(&raise) {
            Ok(text) => {
                assert!(may_raise_limits());
                assert_eq!(limit(&text, "Max realtime priority"), Some(("80", "80")), "{text}");
                assert_eq!(limit(&text, "Max locked memory"), Some(("unlimited", "unlimited")), "{text}");
            }
            Err(e) => {
                assert!(!may_raise_limits());
                assert_eq!(e, SpawnError { stage: Stage::Limit(rtprio), errno: libc::EPERM });
                assert_eq!(e.to_string(), "unable to set RLIMIT_RTPRIO: Operation not permitted");
            }
        }
        // No CPU at all: the kernel refuses, the spawn names it.
        let none = ProcessSetup { cpus: Some(Box::default()), ..ProcessSetup::default() };
        assert_eq!(reported(&none).unwrap_err(), SpawnError { stage: Stage::Affinity, errno: libc::EINVAL });
    }

    #[test]
    fn missing_program_is_reported_not_forked_silently() {
        let cmd = Command::from_line("no-such-program-iocinit arg", false, &env()).unwrap();
        let err = spawn(&cmd, &Options::default()).unwrap_err();
        assert_eq!(err, SpawnError { stage: Stage::Exec, errno: libc::ENOENT });
        assert_eq!(err.to_string(), "unable to execute: No such file or directory");
    }

    #[test]
    fn bad_directory_is_reported() {
        // Only the fallback reports it here; through the trampoline the
        // failure is the process's exit status (tests/engine_seccomp.rs).
        let cmd = Command::from_line("true", false, &env()).unwrap().with_working_directory_through(c"/nonexistent/dir", NO_TRAMPOLINE);
        let err = spawn(&cmd, &Options::default()).unwrap_err();
        assert_eq!(err, SpawnError { stage: Stage::Chdir, errno: libc::ENOENT });
    }

    #[test]
    fn exit_status_is_the_commands() {
        let cmd = Command::from_line("exit 3", true, &env()).unwrap();
        let pid = spawn(&cmd, &Options::default()).unwrap();
        let status = wait(pid);
        assert!(libc::WIFEXITED(status));
        assert_eq!(libc::WEXITSTATUS(status), 3);
    }
}
