//! The built-in console client of `ioc attach` and `ioc monitor`: connects to
//! a procServ console socket, strips procServ's telnet negotiation, and
//! restores the terminal on every way out (detach key, console closed, I/O
//! error, SIGHUP from a dropped serial line, SIGTERM, SIGINT, SIGQUIT).
//!
//! Three modes:
//! - attach on a terminal: raw mode, Enter (CR) is sent as `\n` (procServ turns
//!   `\r\n` into an extra empty command), the detach key (default Ctrl-A, as
//!   `con`) leaves.
//! - attach with stdin not a terminal (pipe mode): stdin's lines are sent,
//!   each ending `\n`; after stdin's end the output is read until `timeout`
//!   of total time or `quiet` without output. The socket is never half-closed:
//!   procServ drops a client that shuts down its write side.
//! - monitor: read-only. Stdin is never read, so nothing typed can reach the
//!   IOC; on a terminal echo is turned off while monitoring and whatever was
//!   typed is discarded on exit. Ctrl-C (SIGINT) ends it.
//!
//! Signals reach the poll loop through [`SignalPipe`], so the loop always
//! returns normally and the terminal guard's `Drop` runs.

use std::fmt;
use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::Signal;
use nix::sys::socket::{send, MsgFlags};

use crate::ioc::os::SignalPipe;
use crate::sys;

/// Ctrl-A, the detach key of `con`.
pub const DEFAULT_DETACH_KEY: u8 = 0x01;

/// Signals that end a session (after the terminal is restored).
const ENDING_SIGNALS: [Signal; 4] = [
    Signal::SIGHUP,
    Signal::SIGTERM,
    Signal::SIGINT,
    Signal::SIGQUIT,
];

#[derive(Clone, Debug)]
pub struct AttachOptions {
    pub detach_key: u8,
    /// Pipe mode: the longest the whole session may take.
    pub timeout: Duration,
    /// Pipe mode: after stdin's end, leave once the console was silent this long.
    pub quiet: Duration,
}

impl Default for AttachOptions {
    fn default() -> Self {
        AttachOptions {
            detach_key: DEFAULT_DETACH_KEY,
            timeout: Duration::from_secs(10),
            quiet: Duration::from_secs(1),
        }
    }
}

/// How a session ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// The detach key was typed.
    Detached,
    /// procServ closed the connection.
    ConsoleClosed,
    /// Pipe mode: stdin was sent and the output went quiet, or the timeout passed.
    InputDone,
    /// Monitor: Ctrl-C, its normal way out.
    Interrupted,
    /// A signal ended the session (SIGHUP, SIGTERM, ...).
    Signal(Signal),
}

impl Ending {
    /// 0 for the normal ways out, 128 + signal number for a signal.
    pub fn exit_code(self) -> i32 {
        match self {
            Ending::Signal(s) => 128 + s as i32,
            _ => 0,
        }
    }
}

#[derive(Debug)]
pub enum ConsoleError {
    Connect {
        path: PathBuf,
        source: io::Error,
    },
    Io {
        what: &'static str,
        source: io::Error,
    },
}

impl fmt::Display for ConsoleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConsoleError::Connect { path, source } => {
                write!(
                    f,
                    "console: unable to connect to {}: {source}",
                    path.display()
                )
            }
            ConsoleError::Io { what, source } => write!(f, "console: unable to {what}: {source}"),
        }
    }
}

impl std::error::Error for ConsoleError {}

fn io_err(what: &'static str) -> impl FnOnce(Errno) -> ConsoleError {
    move |e| ConsoleError::Io {
        what,
        source: e.into(),
    }
}

/// `Ctrl-A` for 0x01, `Ctrl-]` for 0x1d, the character itself otherwise.
pub fn key_name(key: u8) -> String {
    match key {
        0x00..=0x1f => format!("Ctrl-{}", char::from(key + 0x40)),
        0x7f => "Ctrl-?".into(),
        k if k.is_ascii_graphic() => char::from(k).to_string(),
        k => format!("0x{k:02x}"),
    }
}

const IAC: u8 = 255;
const SB: u8 = 250;
const SE: u8 = 240;
const WILL: u8 = 251;
const DONT: u8 = 254;
/// A subnegotiation longer than this is not telnet but a lost SE: give up on it
/// rather than swallow the console's output for good.
const MAX_SUBNEGOTIATION: usize = 512;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TelnetState {
    Data,
    Iac,
    /// After WILL/WONT/DO/DONT: the option byte follows.
    Option,
    Sub(usize),
    SubIac(usize),
}

/// Removes telnet commands from a byte stream. Keeps its state between calls,
/// so a sequence split across reads is still recognised.
#[derive(Clone, Debug)]
pub struct TelnetFilter {
    state: TelnetState,
}

impl Default for TelnetFilter {
    fn default() -> Self {
        TelnetFilter {
            state: TelnetState::Data,
        }
    }
}

impl TelnetFilter {
    /// Appends the data bytes of `input` to `out`.
    pub fn filter(&mut self, input: &[u8], out: &mut Vec<u8>) {
        for &b in input {
            self.state = match (self.state, b) {
                (TelnetState::Data, IAC) => TelnetState::Iac,
                (TelnetState::Data, b) => {
                    out.push(b);
                    TelnetState::Data
                }
                (TelnetState::Iac, IAC) => {
                    out.push(IAC);
                    TelnetState::Data
                }
                (TelnetState::Iac, WILL..=DONT) => TelnetState::Option,
                (TelnetState::Iac, SB) => TelnetState::Sub(0),
                // NOP, GA, and the other two-byte commands.
                (TelnetState::Iac, _) => TelnetState::Data,
                (TelnetState::Option, _) => TelnetState::Data,
                (TelnetState::Sub(n) | TelnetState::SubIac(n), _) if n >= MAX_SUBNEGOTIATION => {
                    TelnetState::Data
                }
                (TelnetState::Sub(n), IAC) => TelnetState::SubIac(n + 1),
                (TelnetState::Sub(n), _) => TelnetState::Sub(n + 1),
                (TelnetState::SubIac(_), SE) => TelnetState::Data,
                // IAC IAC inside a subnegotiation is a data byte of it.
                (TelnetState::SubIac(n), _) => TelnetState::Sub(n + 1),
            };
        }
    }
}

/// Turns keyboard or pipe input into console input: CR and CR LF become `\n`
/// (procServ runs `\r\n` as two commands), and watches for the detach key.
#[derive(Clone, Debug)]
pub struct InputMapper {
    detach_key: Option<u8>,
    after_cr: bool,
    last_sent: Option<u8>,
}

impl InputMapper {
    pub fn new(detach_key: Option<u8>) -> Self {
        InputMapper {
            detach_key,
            after_cr: false,
            last_sent: None,
        }
    }

    /// Appends what to send to `out`; true when the detach key was seen (the
    /// bytes before it are still sent, the rest of `input` is not).
    pub fn map(&mut self, input: &[u8], out: &mut Vec<u8>) -> bool {
        for &b in input {
            if Some(b) == self.detach_key {
                return true;
            }
            let after_cr = std::mem::replace(&mut self.after_cr, b == b'\r');
            let mapped = match b {
                b'\r' => b'\n',
                b'\n' if after_cr => continue,
                b => b,
            };
            out.push(mapped);
            self.last_sent = Some(mapped);
        }
        false
    }

    /// At the end of piped input: the `\n` its last line lacks, if any.
    pub fn finish(&self) -> Option<u8> {
        match self.last_sent {
            Some(b'\n') | None => None,
            Some(_) => Some(b'\n'),
        }
    }
}

/// Saved terminal settings, put back on drop whatever ends the session.
struct TerminalGuard<'a> {
    fd: BorrowedFd<'a>,
    saved: libc::termios,
    discard_input: bool,
}

impl<'a> TerminalGuard<'a> {
    fn new(
        fd: BorrowedFd<'a>,
        change: impl FnOnce(&mut libc::termios),
        discard_input: bool,
    ) -> Result<Self, ConsoleError> {
        let saved = sys::terminal_settings(fd).map_err(Errno::from_raw).map_err(io_err("read the terminal settings"))?;
        let mut changed = saved;
        change(&mut changed);
        sys::set_terminal_settings(fd, &changed)
            .map_err(Errno::from_raw)
            .map_err(io_err("set the terminal mode"))?;
        Ok(TerminalGuard {
            fd,
            saved,
            discard_input,
        })
    }
}

impl Drop for TerminalGuard<'_> {
    fn drop(&mut self) {
        if self.discard_input {
            sys::discard_terminal_input(self.fd);
        }
        // At once: after a hangup there is nobody to drain output to.
        let _ = sys::set_terminal_settings(self.fd, &self.saved);
    }
}

fn connect(path: &Path) -> Result<UnixStream, ConsoleError> {
    UnixStream::connect(path).map_err(|source| ConsoleError::Connect {
        path: path.to_path_buf(),
        source,
    })
}

fn write_all(fd: BorrowedFd<'_>, mut data: &[u8]) -> Result<(), ConsoleError> {
    while !data.is_empty() {
        match nix::unistd::write(fd, data) {
            Ok(0) => {
                return Err(ConsoleError::Io {
                    what: "write the output",
                    source: io::ErrorKind::WriteZero.into(),
                })
            }
            // The kernel never reports more than it was given; were it to,
            // the rest is empty: no index to panic on.
            Ok(n) => data = data.get(n..).unwrap_or_default(),
            Err(Errno::EINTR) => {}
            Err(e) => return Err(io_err("write the output")(e)),
        }
    }
    Ok(())
}

/// Sends to the console; MSG_NOSIGNAL so a closed console is an error, not SIGPIPE.
fn send_all(console: &UnixStream, mut data: &[u8]) -> Result<(), ConsoleError> {
    while !data.is_empty() {
        match send(console.as_raw_fd(), data, MsgFlags::MSG_NOSIGNAL) {
            // The kernel never reports more than it was given; were it to,
            // the rest is empty: no index to panic on.
            Ok(n) => data = data.get(n..).unwrap_or_default(),
            Err(Errno::EINTR) => {}
            Err(e) => return Err(io_err("send to the console")(e)),
        }
    }
    Ok(())
}

/// What the loop does with stdin.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Interactive,
    Pipe,
    Monitor,
}

struct Session<'a> {
    console: UnixStream,
    stdin: BorrowedFd<'a>,
    stdout: BorrowedFd<'a>,
    signals: &'a SignalPipe,
    mode: Mode,
    telnet: TelnetFilter,
    input: InputMapper,
}

enum Step {
    Go,
    End(Ending),
}

impl Session<'_> {
    /// Reads what the console sent and writes its data bytes to stdout.
    fn console_output(
        &mut self,
        buf: &mut [u8],
        shown: &mut Vec<u8>,
    ) -> Result<Step, ConsoleError> {
        let n = match self.console.read(buf) {
            Ok(0) => return Ok(Step::End(Ending::ConsoleClosed)),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(Step::Go),
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {
                return Ok(Step::End(Ending::ConsoleClosed))
            }
            Err(source) => {
                return Err(ConsoleError::Io {
                    what: "read from the console",
                    source,
                })
            }
        };
        shown.clear();
        self.telnet.filter(buf.get(..n).unwrap_or_default(), shown);
        write_all(self.stdout, shown)?;
        Ok(Step::Go)
    }

    /// Reads stdin and forwards it; `Ok(None)` at stdin's end.
    fn user_input(
        &mut self,
        buf: &mut [u8],
        sent: &mut Vec<u8>,
    ) -> Result<Option<Step>, ConsoleError> {
        let n = match nix::unistd::read(self.stdin.as_raw_fd(), buf) {
            Ok(0) => return Ok(None),
            Ok(n) => n,
            Err(Errno::EINTR | Errno::EAGAIN) => return Ok(Some(Step::Go)),
            // A hung-up terminal reads as EIO; SIGHUP follows and ends the session.
            Err(Errno::EIO) => return Ok(None),
            Err(e) => return Err(io_err("read the input")(e)),
        };
        sent.clear();
        let detach = self.input.map(buf.get(..n).unwrap_or_default(), sent);
        send_all(&self.console, sent)?;
        Ok(Some(if detach {
            Step::End(Ending::Detached)
        } else {
            Step::Go
        }))
    }

    fn signal_ending(&self) -> Option<Ending> {
        self.signals.take().map(|s| match (self.mode, s) {
            (Mode::Monitor, Signal::SIGINT) => Ending::Interrupted,
            (_, s) => Ending::Signal(s),
        })
    }

    fn run(&mut self, options: &AttachOptions) -> Result<Ending, ConsoleError> {
        let start = Instant::now();
        let mut stdin_open = self.mode != Mode::Monitor;
        let mut quiet_from = start;
        let mut buf = vec![0u8; 4096];
        let mut scratch = Vec::with_capacity(4096);
        loop {
            let timeout = if self.mode == Mode::Pipe {
                let now = Instant::now();
                let mut deadline = start + options.timeout;
                if !stdin_open {
                    deadline = deadline.min(quiet_from + options.quiet);
                }
                if now >= deadline {
                    return Ok(Ending::InputDone);
                }
                PollTimeout::try_from(deadline - now).unwrap_or(PollTimeout::MAX)
            } else {
                PollTimeout::NONE
            };
            // stdin's entry is polled only while it is open; unpolled, it
            // reads as not ready.
            let wanted = PollFlags::POLLIN;
            let mut fds = [
                PollFd::new(self.signals.fd(), wanted),
                PollFd::new(self.console.as_fd(), wanted),
                PollFd::new(self.stdin, wanted),
            ];
            let polled = if stdin_open { &mut fds[..] } else { &mut fds[..2] };
            match poll(polled, timeout) {
                Ok(_) | Err(Errno::EINTR) => {}
                Err(e) => return Err(io_err("wait for the console")(e)),
            }
            let ready = fds.map(|f| f.any().unwrap_or(false));
            if ready[0] {
                if let Some(ending) = self.signal_ending() {
                    return Ok(ending);
                }
            }
            if ready[1] {
                if let Step::End(ending) = self.console_output(&mut buf, &mut scratch)? {
                    return Ok(ending);
                }
                quiet_from = Instant::now();
            }
            if ready[2] {
                match self.user_input(&mut buf, &mut scratch)? {
                    Some(Step::Go) => {}
                    Some(Step::End(ending)) => return Ok(ending),
                    None if self.mode == Mode::Pipe => {
                        if let Some(newline) = self.input.finish() {
                            send_all(&self.console, &[newline])?;
                        }
                        stdin_open = false;
                        quiet_from = Instant::now();
                    }
                    // Interactive input ended (terminal hung up): nothing more to send.
                    None => return Ok(Ending::ConsoleClosed),
                }
            }
        }
    }
}

/// `ioc attach`: the console of IOC `name` at `path`, interactive when stdin
/// is a terminal, pipe mode otherwise.
pub fn attach(name: &str, path: &Path, options: &AttachOptions) -> Result<Ending, ConsoleError> {
    session(name, path, Mode::Interactive, options)
}

/// `ioc monitor`: shows the console of IOC `name` at `path`, sends nothing.
pub fn monitor(name: &str, path: &Path) -> Result<Ending, ConsoleError> {
    session(name, path, Mode::Monitor, &AttachOptions::default())
}

/// Raw mode for attach: every key goes to the IOC, nothing is echoed locally.
fn raw(t: &mut libc::termios) {
    sys::make_raw(t)
}

/// Monitor: no echo, since typed text would look as if it went somewhere. ISIG
/// stays on so Ctrl-C raises SIGINT, which the loop turns into its end.
fn no_echo(t: &mut libc::termios) {
    t.c_lflag &= !(libc::ECHO | libc::ICANON)
}

/// Connects and runs one session. `Mode::Interactive` becomes pipe mode when
/// stdin is not a terminal.
fn session(
    name: &str,
    path: &Path,
    mode: Mode,
    options: &AttachOptions,
) -> Result<Ending, ConsoleError> {
    let console = connect(path)?;
    let signals = SignalPipe::install(&ENDING_SIGNALS).map_err(|source| ConsoleError::Io {
        what: "catch signals",
        source,
    })?;
    let stdin = crate::sys::stdin();
    let stdout = io::stdout();
    let on_terminal = nix::unistd::isatty(stdin.as_raw_fd()).unwrap_or(false);
    let mode = if mode == Mode::Interactive && !on_terminal {
        Mode::Pipe
    } else {
        mode
    };
    let mut session = Session {
        console,
        stdin,
        stdout: stdout.as_fd(),
        signals: &signals,
        mode,
        telnet: TelnetFilter::default(),
        input: InputMapper::new((mode == Mode::Interactive).then_some(options.detach_key)),
    };
    if !on_terminal {
        return session.run(options);
    }
    let (banner, terminal_mode, discard_input): (String, fn(&mut libc::termios), bool) = match mode {
        Mode::Monitor => (
            format!("[monitoring {name}, read-only; exit with Ctrl-C]\r\n"),
            no_echo,
            true,
        ),
        _ => (
            format!(
                "[attached to {name}; detach with {}]\r\n",
                key_name(options.detach_key)
            ),
            raw,
            false,
        ),
    };
    let ending = {
        let _terminal = TerminalGuard::new(stdin, terminal_mode, discard_input)?;
        write_all(stdout.as_fd(), banner.as_bytes())?;
        session.run(options)
    };
    farewell(stdout.as_fd(), name, &ending);
    ending
}

/// The last line of an interactive session, after the terminal is restored.
fn farewell(stdout: BorrowedFd<'_>, name: &str, ending: &Result<Ending, ConsoleError>) {
    let text = match ending {
        Ok(Ending::Detached) => format!("\n[detached from {name}]\n"),
        Ok(Ending::ConsoleClosed) => format!("\n[console of {name} closed]\n"),
        Ok(Ending::Interrupted) => format!("\n[stopped monitoring {name}]\n"),
        Ok(Ending::Signal(s)) => format!("\n[{name}: ended by {s}]\n"),
        Ok(Ending::InputDone) | Err(_) => return,
    };
    let _ = write_all(stdout, text.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strip_in_pieces(input: &[u8], piece: usize) -> Vec<u8> {
        let mut filter = TelnetFilter::default();
        let mut out = Vec::new();
        for chunk in input.chunks(piece.max(1)) {
            filter.filter(chunk, &mut out);
        }
        out
    }

    #[test]
    fn procserv_negotiation_is_removed_however_it_is_split() {
        let input = b"@@@ Welcome\r\n\xff\xfb\x01\xff\xfd\x22epics> a\xff\xffb\xff\xfa\x18\x01\xff\xff\xff\xf0c\xff\xf1d";
        for piece in 1..input.len() {
            assert_eq!(
                strip_in_pieces(input, piece),
                b"@@@ Welcome\r\nepics> a\xffbcd",
                "piece {piece}"
            );
        }
    }

    #[test]
    fn a_lost_subnegotiation_end_does_not_hide_output_forever() {
        let mut input = vec![IAC, SB];
        input.extend(std::iter::repeat_n(b'x', MAX_SUBNEGOTIATION + 10));
        input.extend_from_slice(b"visible");
        let out = strip_in_pieces(&input, 7);
        assert!(out.ends_with(b"visible"));
    }

    #[test]
    fn enter_becomes_newline_and_crlf_is_one_line() {
        let mut m = InputMapper::new(Some(DEFAULT_DETACH_KEY));
        let mut out = Vec::new();
        assert!(!m.map(b"dbl\r", &mut out));
        assert!(!m.map(b"\nx\r\ny\n", &mut out));
        assert_eq!(out, b"dbl\nx\ny\n");
        out.clear();
        assert!(m.map(b"ab\x01cd", &mut out));
        assert_eq!(out, b"ab");
    }

    #[test]
    fn piped_input_gets_a_final_newline() {
        let mut m = InputMapper::new(None);
        let mut out = Vec::new();
        assert!(!m.map(b"dbl\n\x01dbpr x", &mut out));
        assert_eq!(out, b"dbl\n\x01dbpr x");
        assert_eq!(m.finish(), Some(b'\n'));
        assert_eq!(InputMapper::new(None).finish(), None);
    }

    #[test]
    fn key_names() {
        assert_eq!(key_name(0x01), "Ctrl-A");
        assert_eq!(key_name(0x1d), "Ctrl-]");
        assert_eq!(key_name(b'q'), "q");
        assert_eq!(key_name(0xfe), "0xfe");
    }
}
