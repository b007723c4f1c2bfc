//! iocinit against real baselines, each as PID 1 of its own PID namespace
//! supervising the same 32 services (`sleep N`, N unique per service):
//! Debian's BusyBox init (inittab `::respawn:` lines), runit (`runsvdir`
//! with 32 service directories, one `runsv` each) and s6 (`s6-svscan` with
//! 32 service directories, one `s6-supervise` each). runit and s6 need a
//! `./run` script (`#!/bin/sh` + `exec sleep N`); iocinit and BusyBox exec
//! `sleep N` directly.
//!
//! Measured, side by side:
//! - start: from the exec of the init to the exec of the last of its 32
//!   services, median of 5 boots;
//! - stop: from the power-off signal (SIGUSR2 to iocinit and BusyBox init,
//!   SIGHUP to runsvdir, SIGTERM to s6-svscan) to the namespace gone (PID 1
//!   reaped), median of 5;
//! - memory of PID 1 plus the per-service supervisors (every process of the
//!   namespace but the services): RSS, PSS, private, anonymous, from
//!   smaps_rollup (private counts the clean pages of a program no other
//!   process maps, such as iocinit's own text);
//! - wake-ups: their context switches over 10 s idle;
//! - restart latency after kill -9, from the kill to the exec of the new
//!   process: 50 kills of services that had run for 11 s or more (each
//!   service at most once per 11 s), and 8 kills of services killed again as
//!   soon as they were back (they ran for well under a second); and, of the
//!   50, from the killed process's exit to that exec: the init's own part
//!   (the kill's part is the victim's, which may wait for a CPU to die on);
//! - binary sizes (the executables and the libraries of their own).
//!
//! Beside them, a floor (`supervisors/floor.rs`): the bench's own executable
//! as a PID 1 that does nothing but posix_spawn the services in a session of
//! their own and spawn them again when they are reaped. Its start and
//! restart times are what creating and exec'ing these services costs any
//! init on this machine; the rest of its column means nothing.
//!
//! Run: `cargo bench --bench supervisors` (root; runs
//! tests/support/install-engine-deps first). About seven minutes.
//! iocinit runs as the bench build of this crate (glibc, dynamic) and, when
//! there is one, as the static musl build of `.cargo/build-static`
//! (target/x86_64-unknown-linux-musl/release/iocinit, or `IOCINIT_BENCH_STATIC`),
//! the binary a board gets. `IOCINIT_BENCH_BEFORE=PATH` adds another
//! iocinit build as a column of its own (the build before a change, measured
//! in the same run: a shared machine's load moves every figure).
//!
//! Every time is the kernel's: the exec and exit events of its process
//! connector (`proc_events`), stamped when they happen, against
//! CLOCK_MONOTONIC read just before the kill. A look at /proc only says
//! when to read them (every 10 ms, among PID 1's children and grandchildren
//! only), so neither its interval nor its cost, which on two cores competes
//! with the init it measures, is part of a figure. Should the connector
//! drop an event, that one figure falls back to the look's time, and the
//! bench says how many did. The load average is printed at the start and
//! the end of the run: the times are only worth their same-run baselines.

#[path = "supervisors/floor.rs"]
mod floor;
#[path = "supervisors/proc_events.rs"]
mod proc_events;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use proc_events::{now_ns, Events, What};

const SERVICES: usize = 32;
const BOOTS: usize = 5;
const LONG_KILLS: usize = 50;
const FAST_KILLS: usize = 8;
const SETTLE: Duration = Duration::from_secs(11);
/// How often the stop's end is polled (the stop is timed by this poll).
const POLL: Duration = Duration::from_millis(1);
/// How often /proc is looked at, by default, to see whether the services
/// are up (boot) or back (restart); `IOCINIT_BENCH_LOOK_MS` sets another.
/// What is timed comes from the kernel's events, not from the look. A look
/// reads PID 1's children and grandchildren and their command lines, in the
/// bench's own scheduling group, which has nice -20 (see [`AutogroupNice`])
/// while each service, in a session of its own, has 0: looking every
/// millisecond, the bench could take the CPU from the very processes it
/// timed.
const LOOK: Duration = Duration::from_millis(10);

fn look_interval() -> Duration {
    std::env::var("IOCINIT_BENCH_LOOK_MS").ok().and_then(|v| v.parse().ok()).map_or(LOOK, Duration::from_millis)
}

/// The events that were missing, by what they were to time: the poll's
/// time stood in for them.
static FROM_POLL: Mutex<Vec<(Kind, &str)>> = Mutex::new(Vec::new());

/// The event's time, or the poll's when the connector dropped it.
fn or_polled(event_ns: Option<u64>, polled_ns: u64, kind: Kind, what: &'static str) -> u64 {
    event_ns.unwrap_or_else(|| {
        FROM_POLL.lock().unwrap().push((kind, what));
        polled_ns
    })
}

fn ns(d: u64) -> Duration {
    Duration::from_nanos(d)
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Kind {
    Iocinit,
    IocinitStatic,
    /// Another iocinit build to compare with (`IOCINIT_BENCH_BEFORE`), e.g.
    /// the static build of the commit before a change.
    IocinitBefore,
    Busybox,
    Runit,
    S6,
    /// The least a supervisor can do (`floor`): what starting and
    /// restarting these services costs any init on this machine.
    Floor,
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
            Kind::Floor => "floor",
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
            Kind::Floor => std::env::current_exe().unwrap(),
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
            Kind::Floor => {
                cmd.arg(&self.exe).arg(floor::ARG).args((0..SERVICES).map(service_arg));
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
            Kind::Iocinit | Kind::IocinitStatic | Kind::IocinitBefore | Kind::Busybox | Kind::Floor => libc::SIGUSR2,
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

fn boot(setup: &Setup, events: &Events) -> Booted {
    setup.clean();
    let spawned_ns = now_ns();
    let mut child = setup.command().spawn().expect("unshare");
    let unshare = child.id() as i32;
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut pid1 = 0;
    let up = loop {
        if pid1 == 0 {
            pid1 = children_of(unshare).first().copied().unwrap_or(0);
        }
        if pid1 != 0 {
            let up = services(pid1);
            if up.len() == SERVICES {
                break up;
            }
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{} ended at once ({status}): {}", setup.kind.name(), read_log(setup));
        }
        assert!(Instant::now() < deadline, "{}: not all services came up: {}", setup.kind.name(), read_log(setup));
        std::thread::sleep(look_interval());
    };
    let polled_ns = now_ns();
    events.settle(polled_ns);
    // The last exec of each service (runit's and s6's exec a shell first).
    let service_execs: Vec<u64> =
        up.values().map(|&pid| or_polled(events.times(What::Exec, pid, spawned_ns).last().copied(), polled_ns, setup.kind, "service exec")).collect();
    let (first_service, last_service) = (*service_execs.iter().min().unwrap(), *service_execs.iter().max().unwrap());
    // The init's exec: PID 1's last before its first service (BusyBox's
    // runs a shell first, which execs the init).
    let init_exec = events.times(What::Exec, pid1, spawned_ns).into_iter().rfind(|&t| t <= first_service);
    let start = ns(last_service - or_polled(init_exec, spawned_ns, setup.kind, "init exec"));
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
        std::thread::sleep(POLL);
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

/// Restart latencies of one round: from the kill, and from the exit.
#[derive(Default)]
struct Restarts {
    /// Kill to the new process's exec, of the services killed once.
    first: Vec<Duration>,
    /// Exit of the killed process to that exec (the init's own part).
    reaction: Vec<Duration>,
    /// Kill to exec of the services killed again as soon as they were back.
    second: Vec<Duration>,
}

/// Kills services one after the other, 30 ms apart, and times each one's
/// return. With `again`, a service is killed once more the moment it is
/// back; those second latencies are kept apart.
fn kill_round(kind: Kind, pid1: i32, which: &[usize], again: &[usize], events: &Events) -> Restarts {
    struct Pending {
        k: usize,
        old: i32,
        killed_ns: u64,
        again: bool,
    }
    let kill = |pid: i32| {
        let at = now_ns();
        kill9(pid);
        at
    };
    let look = look_interval();
    let mut pids = services(pid1);
    let mut pending: Vec<Pending> = Vec::new();
    let mut out = Restarts::default();
    let mut next = 0;
    let mut next_at = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(60);
    while next < which.len() || !pending.is_empty() {
        assert!(Instant::now() < deadline, "services did not come back: {:?}", pending.iter().map(|p| p.k).collect::<Vec<_>>());
        if next < which.len() && Instant::now() >= next_at {
            let k = which[next];
            let old = pids[&k];
            pending.push(Pending { k, old, killed_ns: kill(old), again: again.contains(&k) });
            next += 1;
            next_at = Instant::now() + Duration::from_millis(30);
        }
        std::thread::sleep(look);
        pids = services(pid1);
        let polled_ns = now_ns();
        let mut refire = Vec::new();
        pending.retain(|p| match pids.get(&p.k) {
            Some(&pid) if pid != p.old => {
                events.settle(polled_ns);
                let exec = or_polled(events.times(What::Exec, pid, p.killed_ns).last().copied(), polled_ns, kind, "restart exec");
                let latency = ns(exec.saturating_sub(p.killed_ns));
                if p.again {
                    out.first.push(latency);
                    refire.push(Pending { k: p.k, old: pid, killed_ns: kill(pid), again: false });
                } else if again.contains(&p.k) {
                    out.second.push(latency);
                } else {
                    out.first.push(latency);
                    let exit = events.times(What::Exit, p.old, p.killed_ns).first().copied();
                    out.reaction.push(ns(exec.saturating_sub(or_polled(exit, p.killed_ns, kind, "killed exit"))));
                }
                false
            }
            _ => true,
        });
        pending.extend(refire);
    }
    out
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
    /// Of the long ones: the killed process's exit to the new exec.
    reaction: Vec<Duration>,
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
        // Not an init: its executable is the bench's.
        Kind::Floor => 0,
    }
}

fn measure(kind: Kind, base: &Path, events: &Events) -> Measured {
    let setup = Setup::new(kind, base);
    eprint!("{}: ", kind.name());
    let (mut start, mut stop_times) = (Vec::new(), Vec::new());
    for _ in 0..BOOTS - 1 {
        let b = boot(&setup, events);
        start.push(b.start);
        stop_times.push(stop(&setup, b));
        eprint!(".");
    }
    let b = boot(&setup, events);
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
    let round = kill_round(kind, b.pid1, &all, &[], events);
    let (mut long, mut reaction) = (round.first, round.reaction);
    eprint!(" round 1");
    // Those killed first have run 11 s again.
    std::thread::sleep(SETTLE);
    let rest: Vec<usize> = (0..LONG_KILLS - SERVICES).collect();
    let again: Vec<usize> = (0..FAST_KILLS).collect();
    let round = kill_round(kind, b.pid1, &rest, &again, events);
    long.extend(round.first);
    reaction.extend(round.reaction);
    let fast = round.second;
    eprintln!(" round 2");
    assert_eq!((long.len(), fast.len()), (LONG_KILLS, FAST_KILLS));
    stop_times.push(stop(&setup, b));
    events.forget(now_ns());
    Measured { binary: binary_size(kind), start, stop: stop_times, memory, wakeups, long, reaction, fast }
}

/// With autogroups (sched_autogroup_enabled), a nice value weighs only
/// within its session's group, and every other session's load competes with
/// this one's as an equal: the group of the bench, and of the inits it starts
/// (not of their services, each of which starts a session), gets the nice
/// value the bench runs at, and its own back when the bench ends.
struct AutogroupNice {
    old: Option<String>,
}

impl AutogroupNice {
    fn of_this_process() -> AutogroupNice {
        // "/autogroup-N nice V"
        let old = std::fs::read_to_string("/proc/self/autogroup").ok().and_then(|t| t.split_whitespace().nth(2).map(String::from));
        // SAFETY: getpriority(2) of this process.
        let nice = unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) };
        let _ = std::fs::write("/proc/self/autogroup", nice.to_string());
        AutogroupNice { old }
    }
}

impl Drop for AutogroupNice {
    fn drop(&mut self) {
        if let Some(old) = &self.old {
            let _ = std::fs::write("/proc/self/autogroup", old);
        }
    }
}

/// The first three fields of /proc/loadavg.
fn load_average() -> String {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
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
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == floor::ARG) {
        floor::run(&args[at + 1..]);
    }
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    assert!(nix::unistd::geteuid().is_root(), "the benchmark runs inits as PID 1 of PID namespaces: run it as root");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/install-engine-deps");
    assert!(Command::new(&script).status().unwrap().success(), "{} failed", script.display());
    let base = Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench-supervisors");
    let _group = AutogroupNice::of_this_process();
    let events = proc_events::listen().expect("the kernel's process connector (CONFIG_PROC_EVENTS) times the starts and restarts");
    let mut kinds = vec![Kind::Iocinit];
    if static_bin().is_some() {
        kinds.push(Kind::IocinitStatic);
    }
    if before_bin().is_some() {
        kinds.push(Kind::IocinitBefore);
    }
    kinds.extend([Kind::Busybox, Kind::Runit, Kind::S6, Kind::Floor]);
    let load_at_start = load_average();
    let mut results: Vec<Measured> = kinds.iter().map(|&k| measure(k, &base, &events)).collect();
    let mut rows: Vec<(String, Vec<String>)> = Vec::new();
    let mut row = |name: &str, f: &mut dyn FnMut(&mut Measured) -> String| {
        let cells = results.iter_mut().map(&mut *f).collect();
        rows.push((name.to_string(), cells));
    };
    row("binaries (own)", &mut |r| if r.binary == 0 { "-".to_string() } else { format!("{} KB", r.binary / 1024) });
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
    row("  of which exit -> exec (the init's part), median", &mut |r| ms(median(&mut r.reaction)));
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
    let missing = FROM_POLL.lock().unwrap();
    println!("\ntimes from the kernel's exec and exit events (receive buffer overruns: {})", events.overruns());
    for (kind, what) in missing.iter().collect::<std::collections::BTreeSet<_>>() {
        let n = missing.iter().filter(|m| (m.0, m.1) == (*kind, *what)).count();
        println!("  {}: {n} {what} time(s) from the {} ms look (no event)", kind.name(), look_interval().as_millis());
    }
    println!("load average (1, 5, 15 min): {load_at_start} at the start, {} at the end", load_average());
    println!("iocinit: {}", iocinit_bin(Kind::Iocinit).display());
    if let Some(path) = static_bin() {
        println!("iocinit musl: {}", path.display());
    }
    if let Some(path) = before_bin() {
        println!("iocinit before: {}", path.display());
    }
}
