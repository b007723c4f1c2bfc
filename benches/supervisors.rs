//! iocinit against real baselines, each as PID 1 of its own PID namespace
//! supervising the same 32 services (`sleep N`, N unique per service):
//! Debian's BusyBox init (inittab `::respawn:` lines), runit (`runsvdir`
//! with 32 service directories, one `runsv` each) and s6 (`s6-svscan` with
//! 32 service directories, one `s6-supervise` each). runit and s6 need a
//! `./run` script (`#!/bin/sh` + `exec sleep N`); iocinit and BusyBox exec
//! `sleep N` directly.
//!
//! Measured, side by side:
//! - start: from the exec of the init (its /proc/PID/exe changes) to all 32
//!   services running, median of 5 boots;
//! - stop: from the power-off signal (SIGUSR2 to iocinit and BusyBox init,
//!   SIGHUP to runsvdir, SIGTERM to s6-svscan) to the namespace gone (PID 1
//!   reaped), median of 5;
//! - memory of PID 1 plus the per-service supervisors (every process of the
//!   namespace but the services): RSS, PSS, private, anonymous, from
//!   smaps_rollup (private counts the clean pages of a program no other
//!   process maps, such as iocinit's own text);
//! - wake-ups: their context switches over 10 s idle;
//! - restart latency after kill -9, from the kill to the new pid appearing:
//!   50 kills of services that had run for 11 s or more (each service at most
//!   once per 11 s), and 8 kills of services killed again as soon as they were
//!   back (they ran for well under a second);
//! - binary sizes (the executables and the libraries of their own).
//!
//! Run: `cargo bench --bench supervisors` (root; runs
//! tests/support/install-engine-deps first). About two and a half minutes.
//! iocinit runs as the bench build of this crate (glibc, dynamic) and, when
//! there is one, as the static musl build of `.cargo/build-static`
//! (target/x86_64-unknown-linux-musl/release/iocinit, or `IOCINIT_BENCH_STATIC`),
//! the binary a board gets. `IOCINIT_BENCH_BEFORE=PATH` adds another
//! iocinit build as a column of its own (the build before a change, measured
//! in the same run: a shared machine's load moves every figure).
//!
//! The services are found among PID 1's children and grandchildren only (not
//! by reading every process of the host), so the poll that times a start or
//! a restart costs little beside what it measures.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SERVICES: usize = 32;
const BOOTS: usize = 5;
const LONG_KILLS: usize = 50;
const FAST_KILLS: usize = 8;
const SETTLE: Duration = Duration::from_secs(11);

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Iocinit,
    IocinitStatic,
    /// Another iocinit build to compare with (`IOCINIT_BENCH_BEFORE`), e.g.
    /// the static build of the commit before a change.
    IocinitBefore,
    Busybox,
    Runit,
    S6,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Iocinit => "iocinit",
            Kind::IocinitStatic => "iocinit musl",
            Kind::IocinitBefore => "iocinit before",
            Kind::Busybox => "BusyBox init",
            Kind::Runit => "runit",
            Kind::S6 => "s6",
        }
    }
}

fn which(cmd: &str) -> PathBuf {
    let out = Command::new("sh").args(["-c", &format!("command -v {cmd}")]).output().unwrap();
    let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(!path.is_empty(), "{cmd} not found: run tests/support/install-engine-deps");
    std::fs::canonicalize(path).unwrap()
}

fn iocinit_bin(kind: Kind) -> PathBuf {
    match kind {
        Kind::IocinitStatic => static_bin().expect("a static build"),
        Kind::IocinitBefore => before_bin().expect("IOCINIT_BENCH_BEFORE"),
        _ => PathBuf::from(env!("CARGO_BIN_EXE_iocinit")),
    }
}

/// The static musl build, if there is one.
fn static_bin() -> Option<PathBuf> {
    let default = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/x86_64-unknown-linux-musl/release/iocinit");
    let path = std::env::var_os("IOCINIT_BENCH_STATIC").map(PathBuf::from).unwrap_or(default);
    path.exists().then_some(path)
}

/// The build to compare with, if `IOCINIT_BENCH_BEFORE` names one.
fn before_bin() -> Option<PathBuf> {
    std::env::var_os("IOCINIT_BENCH_BEFORE").map(PathBuf::from).filter(|p| p.exists())
}

/// The argument of service `k` in this run (unique on the host).
fn service_arg(k: usize) -> String {
    format!("{}{:02}", 7_000_000 + (std::process::id() % 90_000) * 10, k)
}

struct Setup {
    kind: Kind,
    dir: PathBuf,
    /// The executable PID 1 becomes (to time its exec).
    exe: PathBuf,
}

impl Setup {
    fn new(kind: Kind, base: &Path) -> Setup {
        let dir = base.join(kind.name().replace(' ', "-"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let run_script = |k: usize| format!("#!/bin/sh\nexec /bin/sleep {}\n", service_arg(k));
        let exe = match kind {
            Kind::Iocinit | Kind::IocinitStatic | Kind::IocinitBefore => {
                let mut conf = String::from("DefaultRunlevel default\n");
                for k in 0..SERVICES {
                    conf += &format!(
                        "ObjectID s{k}\nObjectStartCommand /bin/sleep {}\nObjectStartPriority 1\nObjectStopPriority 1\n\
                         ObjectRunlevels default\nObjectOptions FORK AUTORESTART\n",
                        service_arg(k)
                    );
                }
                std::fs::write(dir.join("epoch.conf"), conf).unwrap();
                std::fs::canonicalize(iocinit_bin(kind)).unwrap()
            }
            Kind::Busybox => {
                let mut tab = String::new();
                for k in 0..SERVICES {
                    tab += &format!("::respawn:/bin/sleep {}\n", service_arg(k));
                }
                std::fs::write(dir.join("inittab"), tab).unwrap();
                std::fs::create_dir_all(dir.join("ovl")).unwrap();
                which("busybox")
            }
            Kind::Runit | Kind::S6 => {
                let sv = dir.join("sv");
                for k in 0..SERVICES {
                    let s = sv.join(format!("s{k}"));
                    std::fs::create_dir_all(&s).unwrap();
                    std::fs::write(s.join("run"), run_script(k)).unwrap();
                    use std::os::unix::fs::PermissionsExt;
                    std::fs::set_permissions(s.join("run"), std::fs::Permissions::from_mode(0o755)).unwrap();
                }
                which(if kind == Kind::Runit { "runsvdir" } else { "s6-svscan" })
            }
        };
        Setup { kind, dir, exe }
    }

    fn command(&self) -> Command {
        let d = self.dir.display();
        let mut cmd = Command::new("unshare");
        cmd.args(["--fork", "--pid", "--mount", "--mount-proc", "--kill-child"]);
        match self.kind {
            Kind::Iocinit | Kind::IocinitStatic | Kind::IocinitBefore => {
                cmd.arg(&self.exe).arg("--config").arg(self.dir.join("epoch.conf"));
                cmd.arg("--run-dir").arg(self.dir.join("run")).arg("--state-dir").arg(self.dir.join("state"));
                cmd.arg("--system-log").arg(self.dir.join("system.log"));
            }
            Kind::Busybox => {
                // /etc/inittab is fixed in BusyBox: an overlay on /etc, private
                // to this mount namespace, holds ours.
                let script = format!(
                    "mount -t tmpfs t {d}/ovl && mkdir {d}/ovl/up {d}/ovl/work && \
                     mount -t overlay overlay -o lowerdir=/etc,upperdir={d}/ovl/up,workdir={d}/ovl/work /etc && \
                     cp {d}/inittab /etc/inittab && exec {} init",
                    self.exe.display()
                );
                cmd.args(["/bin/sh", "-c", &script]);
            }
            Kind::Runit => {
                cmd.arg(&self.exe).arg("-P").arg(self.dir.join("sv"));
            }
            Kind::S6 => {
                cmd.arg(&self.exe).arg(self.dir.join("sv"));
            }
        }
        let log = std::fs::File::create(self.dir.join("console.log")).unwrap();
        cmd.stdin(Stdio::null()).stdout(log.try_clone().unwrap()).stderr(log);
        cmd
    }

    /// Removes what a previous boot left in the service directories.
    fn clean(&self) {
        for k in 0..SERVICES {
            let s = self.dir.join("sv").join(format!("s{k}"));
            let _ = std::fs::remove_dir_all(s.join("supervise"));
            let _ = std::fs::remove_dir_all(s.join("event"));
        }
        let _ = std::fs::remove_dir_all(self.dir.join("sv/.s6-svscan"));
        let _ = std::fs::remove_dir_all(self.dir.join("state"));
    }

    fn stop_signal(&self) -> i32 {
        match self.kind {
            Kind::Iocinit | Kind::IocinitStatic | Kind::IocinitBefore | Kind::Busybox => libc::SIGUSR2,
            Kind::Runit => libc::SIGHUP,
            Kind::S6 => libc::SIGTERM,
        }
    }
}

fn children_of(pid: i32) -> Vec<i32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// Every process on the host: pid and command line (NULs as spaces).
fn processes() -> Vec<(i32, String)> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else { return out };
    for entry in dir.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else { continue };
        if let Ok(cmd) = std::fs::read(format!("/proc/{pid}/cmdline")) {
            out.push((pid, String::from_utf8_lossy(&cmd).replace('\0', " ")));
        }
    }
    out
}

/// Host pids of the running services of the init `pid1`, by service
/// number. Only PID 1's children and grandchildren are read (runit's and
/// s6's services run under a supervisor of their own), not every process
/// of the host: the poll stays cheap beside the init it measures.
fn services(pid1: i32) -> HashMap<usize, i32> {
    let args: HashMap<String, usize> = (0..SERVICES).map(|k| (service_arg(k), k)).collect();
    let mut found = HashMap::new();
    let service = |pid: i32| {
        let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let mut words = cmd.split(|&b| b == 0).map(|w| std::str::from_utf8(w).unwrap_or(""));
        words.next().filter(|w| w.ends_with("sleep"))?;
        args.get(words.next()?).copied()
    };
    for child in children_of(pid1) {
        match service(child) {
            Some(k) => {
                found.insert(k, child);
            }
            None => {
                for grandchild in children_of(child) {
                    if let Some(k) = service(grandchild) {
                        found.insert(k, grandchild);
                    }
                }
            }
        }
    }
    found
}

fn pid_ns(pid: i32) -> Option<PathBuf> {
    std::fs::read_link(format!("/proc/{pid}/ns/pid")).ok()
}

struct Booted {
    child: Child,
    pid1: i32,
    start: Duration,
}

fn boot(setup: &Setup) -> Booted {
    setup.clean();
    let mut child = setup.command().spawn().expect("unshare");
    let unshare = child.id() as i32;
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut pid1 = 0;
    // The exec of the init: its /proc/PID/exe becomes the init's executable.
    let t0 = loop {
        if pid1 == 0 {
            pid1 = children_of(unshare).first().copied().unwrap_or(0);
        }
        if pid1 != 0 && std::fs::read_link(format!("/proc/{pid1}/exe")).ok().as_deref() == Some(setup.exe.as_path()) {
            break Instant::now();
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{} ended at once ({status}): {}", setup.kind.name(), read_log(setup));
        }
        assert!(Instant::now() < deadline, "{} did not start", setup.kind.name());
        std::thread::sleep(Duration::from_micros(50));
    };
    let start = loop {
        if services(pid1).len() == SERVICES {
            break t0.elapsed();
        }
        assert!(Instant::now() < deadline, "{}: not all services came up: {}", setup.kind.name(), read_log(setup));
        std::thread::sleep(Duration::from_micros(200));
    };
    Booted { child, pid1, start }
}

fn read_log(setup: &Setup) -> String {
    std::fs::read_to_string(setup.dir.join("console.log")).unwrap_or_default()
}

/// Sends the power-off request; returns the time until the namespace is gone.
fn stop(setup: &Setup, mut b: Booted) -> Duration {
    let t0 = Instant::now();
    // SAFETY: kill(2) on a pid we watch.
    assert_eq!(unsafe { libc::kill(b.pid1, setup.stop_signal()) }, 0);
    loop {
        if b.child.try_wait().unwrap().is_some() {
            return t0.elapsed();
        }
        if t0.elapsed() > Duration::from_secs(30) {
            let _ = b.child.kill();
            panic!("{} did not stop: {}", setup.kind.name(), read_log(setup));
        }
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// The supervisors: every process of PID 1's namespace but the services.
fn supervisors(pid1: i32) -> Vec<i32> {
    let ns = pid_ns(pid1);
    let services: Vec<i32> = services(pid1).into_values().collect();
    processes().into_iter().map(|(p, _)| p).filter(|p| pid_ns(*p) == ns && !services.contains(p)).collect()
}

#[derive(Default, Clone, Copy)]
struct Memory {
    rss: u64,
    pss: u64,
    private: u64,
    anonymous: u64,
    processes: usize,
}

fn memory(pids: &[i32]) -> Memory {
    let mut m = Memory { processes: pids.len(), ..Default::default() };
    for pid in pids {
        let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
        for line in text.lines() {
            let mut w = line.split_whitespace();
            let (Some(key), Some(kb)) = (w.next(), w.next().and_then(|v| v.parse::<u64>().ok())) else { continue };
            match key {
                "Rss:" => m.rss += kb,
                "Pss:" => m.pss += kb,
                "Private_Clean:" | "Private_Dirty:" => m.private += kb,
                "Anonymous:" => m.anonymous += kb,
                _ => {}
            }
        }
    }
    m
}

fn context_switches(pids: &[i32]) -> u64 {
    pids.iter()
        .map(|p| {
            let text = std::fs::read_to_string(format!("/proc/{p}/status")).unwrap_or_default();
            text.lines()
                .filter(|l| l.starts_with("voluntary_ctxt_switches") || l.starts_with("nonvoluntary_ctxt_switches"))
                .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
                .sum::<u64>()
        })
        .sum()
}

fn kill9(pid: i32) {
    // SAFETY: kill(2) of a service process we found.
    unsafe { libc::kill(pid, libc::SIGKILL) };
}

/// Kills services one after the other, 30 ms apart, and times each one's
/// return. With `again`, a service is killed once more the moment it is
/// back; those second latencies are returned separately.
fn kill_round(pid1: i32, which: &[usize], again: &[usize]) -> (Vec<Duration>, Vec<Duration>) {
    struct Pending {
        k: usize,
        old: i32,
        at: Instant,
        again: bool,
    }
    let mut pids = services(pid1);
    let mut pending: Vec<Pending> = Vec::new();
    let (mut first, mut second) = (Vec::new(), Vec::new());
    let mut next = 0;
    let mut next_at = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(60);
    while next < which.len() || !pending.is_empty() {
        assert!(Instant::now() < deadline, "services did not come back: {:?}", pending.iter().map(|p| p.k).collect::<Vec<_>>());
        if next < which.len() && Instant::now() >= next_at {
            let k = which[next];
            let old = pids[&k];
            kill9(old);
            pending.push(Pending { k, old, at: Instant::now(), again: again.contains(&k) });
            next += 1;
            next_at = Instant::now() + Duration::from_millis(30);
        }
        std::thread::sleep(Duration::from_micros(100));
        pids = services(pid1);
        let now = Instant::now();
        let mut refire = Vec::new();
        pending.retain(|p| match pids.get(&p.k) {
            Some(&pid) if pid != p.old => {
                if p.again {
                    first.push(now - p.at);
                    kill9(pid);
                    refire.push(Pending { k: p.k, old: pid, at: Instant::now(), again: false });
                } else if again.contains(&p.k) {
                    second.push(now - p.at);
                } else {
                    first.push(now - p.at);
                }
                false
            }
            _ => true,
        });
        pending.extend(refire);
    }
    (first, second)
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

struct Measured {
    binary: u64,
    start: Vec<Duration>,
    stop: Vec<Duration>,
    memory: Memory,
    wakeups: u64,
    long: Vec<Duration>,
    fast: Vec<Duration>,
}

fn file_size(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

fn binary_size(kind: Kind) -> u64 {
    match kind {
        Kind::Iocinit | Kind::IocinitStatic | Kind::IocinitBefore => file_size(&iocinit_bin(kind)),
        Kind::Busybox => file_size(&which("busybox")),
        Kind::Runit => file_size(&which("runsvdir")) + file_size(&which("runsv")),
        Kind::S6 => {
            let lib = std::fs::read_dir("/usr/lib/x86_64-linux-gnu")
                .into_iter()
                .flatten()
                .flatten()
                .find(|e| e.file_name().to_string_lossy().starts_with("libskarnet.so.2"))
                .map(|e| file_size(&std::fs::canonicalize(e.path()).unwrap()))
                .unwrap_or(0);
            file_size(&which("s6-svscan")) + file_size(&which("s6-supervise")) + lib
        }
    }
}

fn measure(kind: Kind, base: &Path) -> Measured {
    let setup = Setup::new(kind, base);
    eprint!("{}: ", kind.name());
    let (mut start, mut stop_times) = (Vec::new(), Vec::new());
    for _ in 0..BOOTS - 1 {
        let b = boot(&setup);
        start.push(b.start);
        stop_times.push(stop(&setup, b));
        eprint!(".");
    }
    let b = boot(&setup);
    start.push(b.start);
    let booted = Instant::now();
    std::thread::sleep(Duration::from_millis(500));
    let sup = supervisors(b.pid1);
    let memory = memory(&sup);
    let c0 = context_switches(&sup);
    std::thread::sleep(Duration::from_secs(10));
    let wakeups = context_switches(&sup) - c0;
    eprint!(" idle");
    // Every service has run for 11 s: kill each once.
    std::thread::sleep(SETTLE.saturating_sub(booted.elapsed()));
    let all: Vec<usize> = (0..SERVICES).collect();
    let (mut long, _) = kill_round(b.pid1, &all, &[]);
    eprint!(" round 1");
    // Those killed first have run 11 s again.
    std::thread::sleep(SETTLE);
    let rest: Vec<usize> = (0..LONG_KILLS - SERVICES).collect();
    let again: Vec<usize> = (0..FAST_KILLS).collect();
    let (more, fast) = kill_round(b.pid1, &rest, &again);
    long.extend(more);
    eprintln!(" round 2");
    assert_eq!((long.len(), fast.len()), (LONG_KILLS, FAST_KILLS));
    stop_times.push(stop(&setup, b));
    Measured { binary: binary_size(kind), start, stop: stop_times, memory, wakeups, long, fast }
}

fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else {
        format!("{ms:.0} ms")
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    assert!(nix::unistd::geteuid().is_root(), "the benchmark runs inits as PID 1 of PID namespaces: run it as root");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/install-engine-deps");
    assert!(Command::new(&script).status().unwrap().success(), "{} failed", script.display());
    let base = Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench-supervisors");
    let mut kinds = vec![Kind::Iocinit];
    if static_bin().is_some() {
        kinds.push(Kind::IocinitStatic);
    }
    if before_bin().is_some() {
        kinds.push(Kind::IocinitBefore);
    }
    kinds.extend([Kind::Busybox, Kind::Runit, Kind::S6]);
    let mut results: Vec<Measured> = kinds.iter().map(|&k| measure(k, &base)).collect();
    let mut rows: Vec<(String, Vec<String>)> = Vec::new();
    let mut row = |name: &str, f: &mut dyn FnMut(&mut Measured) -> String| {
        let cells = results.iter_mut().map(&mut *f).collect();
        rows.push((name.to_string(), cells));
    };
    row("binaries (own)", &mut |r| format!("{} KB", r.binary / 1024));
    row(&format!("start {SERVICES} services, median of {BOOTS}"), &mut |r| ms(median(&mut r.start)));
    row(&format!("stop {SERVICES} services, median of {BOOTS}"), &mut |r| ms(median(&mut r.stop)));
    row("supervising processes", &mut |r| r.memory.processes.to_string());
    row("RSS (PID 1 + supervisors)", &mut |r| format!("{} KB", r.memory.rss));
    row("PSS", &mut |r| format!("{} KB", r.memory.pss));
    row("private (incl. unshared program text)", &mut |r| format!("{} KB", r.memory.private));
    row("anonymous (heap, stacks, data)", &mut |r| format!("{} KB", r.memory.anonymous));
    row("context switches, 10 s idle", &mut |r| r.wakeups.to_string());
    row(&format!("restart after kill -9, median of {LONG_KILLS} (ran >= 11 s)"), &mut |r| ms(median(&mut r.long)));
    row("  max", &mut |r| ms(*r.long.iter().max().unwrap()));
    row(&format!("restart after kill -9, median of {FAST_KILLS} (ran < 1 s)"), &mut |r| ms(median(&mut r.fast)));
    row("  max", &mut |r| ms(*r.fast.iter().max().unwrap()));
    let width = rows.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    let col = 14;
    print!("{:width$}", "");
    for k in &kinds {
        print!(" | {:>col$}", k.name());
    }
    println!();
    println!("{}", "-".repeat(width + kinds.len() * (col + 3)));
    for (name, cells) in rows {
        print!("{name:width$}");
        for c in cells {
            print!(" | {c:>col$}");
        }
        println!();
    }
    println!("\niocinit: {}", iocinit_bin(Kind::Iocinit).display());
    if let Some(path) = static_bin() {
        println!("iocinit musl: {}", path.display());
    }
    if let Some(path) = before_bin() {
        println!("iocinit before: {}", path.display());
    }
}
