//! Issue 9 ("Hardening campaign"), item 2: storms against the real binary as
//! PID 1 of a PID namespace. Each test prints its figures:
//! - crash/restart cycles of a service and of a real procServ + softIoc:
//!   no zombie, PID 1's descriptor count and anonymous memory (RssAnon)
//!   flat, taken at the start, the middle and the end;
//! - 200 concurrent clients mixing every read verb with start/stop/restart:
//!   every request answered with a code, those that find no free slot with
//!   FAIL "busy" (none closed unanswered, none lost), PID 1 under a fixed
//!   memory ceiling;
//! - a flood of garbage, oversized and silent connections from a user
//!   outside the IOC group: root and an IOC-group member still served, the
//!   latency distribution printed;
//! - configreload and reexec cycles under load: no object lost, no
//!   duplicate process, no stale pid.
//!
//! A service that fails fast is backed off by PID 1 (src/engine/object.rs:
//! 250 ms doubling, crashed after 10 fast failures), and a run only counts
//! as normal after 10 s, so PID 1 alone cannot cycle fast. Each cycle here is
//! a real crash that PID 1 reaps and answers with AUTORESTART (the object is
//! then "restarting", waiting out its backoff), then `restart`, which starts
//! a waiting object at once; after the 10th fast failure in a row the object
//! is "crashed" and `start` takes it up again. The service crashes by itself
//! (`/bin/false`); procServ is SIGKILLed by the test.
//!
//! Counts: the issue's for configreload/reexec; smaller ones for the others in
//! `cargo test` (CI's 2-core budget), the issue's with
//! IOCINIT_STORM_FULL=1. Needs root and the test users of
//! tests/support/install-test-users.

mod ioc_support;
mod ns;
mod pty;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use iocinit::control::client::{Client, ClientError, Reply};
use iocinit::control::protocol::{Code, Request, Tag, Verb};
use iocinit::control::server::BUSY;
use ioc_support::{setup, SoftIoc, EPOCH_CONF, GROUP, IOC_USER, MEMBER, OUTSIDER};
use ns::{random_below, rounds, scratch, sigkill, wait_for, write, Pid1};

const T: Duration = Duration::from_secs(30);

/// One request on a new connection, as the CLI sends it.
fn ask(socket: &Path, verb: Verb, args: &[&str]) -> Result<Reply, ClientError> {
    Client::connect(socket)?.request(verb, 0, args, Some(T))
}

/// State and main pid of one object.
fn object(socket: &Path, id: &str) -> (String, i64, i64) {
    let reply = ask(socket, Verb::Status, &[id]).expect("status");
    let r = reply.records.first().unwrap_or_else(|| panic!("no status record for {id}: {}", reply.message));
    (r.str(Tag::State).unwrap_or("").to_string(), r.i64(Tag::Pid).unwrap_or(0), r.i64(Tag::ChildPid).unwrap_or(0))
}

/// PID 1's resources at one moment.
#[derive(Debug, Clone, Copy)]
struct Sample {
    fds: usize,
    rss_anon_kb: u64,
    zombies: usize,
}

impl std::fmt::Display for Sample {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "fds {}, RssAnon {} kB, zombies {}", self.fds, self.rss_anon_kb, self.zombies)
    }
}

fn sample(p: &Pid1) -> Sample {
    let fds = p.fds_at_rest();
    let zombies = p.zombies().len();
    Sample { fds, rss_anon_kb: p.status_field("RssAnon"), zombies }
}

/// Growth of RssAnon over a storm that still counts as flat: the kernel
/// faults in stack and allocator pages on first use, bounded by what the
/// busiest path touches once, not by the number of cycles.
const RSS_SLACK_KB: u64 = 256;

/// Asserts that PID 1 stayed flat from `start` through `middle` to `end`.
fn assert_flat(what: &str, start: Sample, middle: Sample, end: Sample) {
    assert_eq!((middle.zombies, end.zombies), (0, 0), "{what}: zombies");
    assert_eq!(end.fds, start.fds, "{what}: descriptors {} at the start, {} at the end", start.fds, end.fds);
    assert!(
        end.rss_anon_kb <= start.rss_anon_kb + RSS_SLACK_KB && end.rss_anon_kb <= middle.rss_anon_kb + RSS_SLACK_KB,
        "{what}: RssAnon grew: {start} / {middle} / {end}"
    );
}

/// Runs `cycles` crash/restart cycles of `id`; `crash` makes the running
/// object crash (or nothing, when it crashes by itself); `running` says when
/// a new start is up. Returns the samples at the start, middle and end.
fn crash_cycles(p: &Pid1, id: &str, cycles: usize, crash: impl Fn(i64), running: impl Fn(&str, i64, i64) -> bool) -> [Sample; 3] {
    let socket = p.socket();
    let (start, mut middle) = (sample(p), None);
    let mut last_pid = 0;
    for cycle in 0..cycles {
        if cycle == cycles / 2 {
            middle = Some(sample(p));
        }
        let mut seen = (String::new(), 0, 0);
        let up = wait_for(T, || {
            seen = object(&socket, id);
            running(&seen.0, seen.1, seen.2) && seen.1 != last_pid || seen.0 == "restarting" || seen.0 == "crashed"
        });
        assert!(up, "cycle {cycle}: {id} is {seen:?}; console:\n{}", p.console());
        if seen.0 != "restarting" && seen.0 != "crashed" {
            last_pid = seen.1;
            crash(seen.1);
            let down = wait_for(T, || {
                seen = object(&socket, id);
                seen.0 == "restarting" || seen.0 == "crashed"
            });
            assert!(down, "cycle {cycle}: {id} did not crash: {seen:?}");
        }
        let verb = if seen.0 == "crashed" { Verb::Start } else { Verb::Restart };
        let reply = ask(&socket, verb, &[id]).expect("restart");
        // WARN: the start waits for leftovers of the killed run to be gone.
        assert!(matches!(reply.code, Code::Ok | Code::Warn), "cycle {cycle}: {} {id}: {}", verb.name(), reply.message);
    }
    [start, middle.unwrap_or(start), sample(p)]
}

#[test]
fn service_crash_restart_cycles_leave_pid1_flat() {
    let cycles = rounds(1000, 10_000);
    let dir = scratch("storm-crash");
    write(
        &dir,
        "epoch.conf",
        "DefaultRunlevel default\nObjectID crasher\nObjectStartCommand /bin/false\nObjectStartPriority 1\n\
         ObjectRunlevels default\nObjectOptions FORK AUTORESTART\n",
    );
    let mut p = Pid1::boot(&dir, &[]);
    p.wait_console("iocinit: ready", T);
    let t0 = Instant::now();
    // /bin/false crashes by itself: a cycle is over once PID 1 reaped it.
    let [start, middle, end] = crash_cycles(&p, "crasher", cycles, |_| {}, |_, _, _| false);
    println!(
        "storm, service crash/restart: {cycles} cycles in {:.0} s; start: {start}; middle: {middle}; end: {end}",
        t0.elapsed().as_secs_f64()
    );
    assert_flat("service crash/restart", start, middle, end);
    p.assert_healthy(start.fds);
}

#[test]
fn procserv_ioc_kill_restart_cycles_leave_pid1_flat() {
    setup();
    let cycles = rounds(100, 1000);
    let dir = scratch("storm-procserv");
    let ioc = SoftIoc::standard(&dir, "storm");
    write(&dir, "epoch.conf", EPOCH_CONF);
    ioc.install_file(&dir.join("ioc"), IOC_USER, GROUP);
    let mut p = Pid1::boot(&dir, &[]);
    ioc.wait_value("calc", "42", T);
    let t0 = Instant::now();
    // A cycle: the IOC is up under a new procServ, procServ is SIGKILLed.
    let kill_procserv = |ns_pid: i64| {
        if let Some(host) = p.host_pid_of(ns_pid) {
            sigkill(host);
        }
    };
    let ioc_up = |state: &str, procserv: i64, ioc_pid: i64| state == "running" && procserv != 0 && ioc_pid != 0;
    let [start, middle, end] = crash_cycles(&p, "storm", cycles, kill_procserv, ioc_up);
    ioc.wait_value("calc", "42", T);
    let iocs = p.processes().into_iter().filter(|(_, c)| c.contains("softIoc ./st.cmd") && !c.starts_with('Z')).count();
    let procservs = p.processes().into_iter().filter(|(_, c)| c.contains("procServ") && !c.starts_with('Z')).count();
    println!(
        "storm, procServ + real softIoc kill/restart: {cycles} cycles in {:.0} s; start: {start}; middle: {middle}; end: {end}; \
         softIoc processes at the end: {iocs}, procServ: {procservs}",
        t0.elapsed().as_secs_f64()
    );
    assert_eq!((iocs, procservs), (1, 1), "{:?}", p.processes());
    assert_flat("procServ kill/restart", start, middle, end);
    p.assert_healthy(start.fds);
}

// ---- many clients at once ---------------------------------------------------

/// What became of the requests of a storm.
#[derive(Default)]
struct Tally {
    answered: BTreeMap<&'static str, AtomicUsize>,
    /// Closed by PID 1 without a reply (a reexec closes every connection),
    /// by what the client saw.
    closed: AtomicUsize,
    closed_because: std::sync::Mutex<BTreeMap<String, usize>>,
    /// No reply within T: lost.
    lost: AtomicUsize,
    /// Of the answered: FAIL "busy", no slot free.
    busy: AtomicUsize,
}

impl Tally {
    fn new() -> Tally {
        let answered = ["OK", "WARN", "FAIL", "BADPARAM", "DENIED"].into_iter().map(|c| (c, AtomicUsize::new(0))).collect();
        Tally { answered, ..Tally::default() }
    }

    fn count(&self, result: Result<Reply, ClientError>) {
        match result {
            Ok(reply) => {
                self.answered[reply.code.name()].fetch_add(1, Ordering::Relaxed);
                if reply.message == BUSY {
                    self.busy.fetch_add(1, Ordering::Relaxed);
                }
            }
            Err(ClientError::Timeout) => {
                self.lost.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                self.closed.fetch_add(1, Ordering::Relaxed);
                *self.closed_because.lock().unwrap().entry(e.to_string()).or_default() += 1;
            }
        }
    }

    fn answered(&self) -> usize {
        self.answered.values().map(|n| n.load(Ordering::Relaxed)).sum()
    }

    fn summary(&self) -> String {
        let codes: Vec<String> = self.answered.iter().map(|(c, n)| format!("{c} {}", n.load(Ordering::Relaxed))).collect();
        format!(
            "{} answered ({}; {} of the FAILs: busy, no slot), {} closed without a reply {:?}, {} lost",
            self.answered(),
            codes.join(", "),
            self.busy.load(Ordering::Relaxed),
            self.closed.load(Ordering::Relaxed),
            self.closed_because.lock().unwrap(),
            self.lost.load(Ordering::Relaxed)
        )
    }
}

const SERVICES: [&str; 4] = ["s1", "s2", "s3", "s4"];

/// Four FORK services, after the `globals`.
fn services_conf(globals: &str) -> String {
    let mut conf = format!("DefaultRunlevel default\n{globals}");
    for (k, id) in SERVICES.iter().enumerate() {
        conf.push_str(&format!(
            "ObjectID {id}\nObjectStartCommand /bin/sleep 60{k}\nObjectStartPriority 1\nObjectStopPriority 1\n\
             ObjectRunlevels default\nObjectOptions FORK\n"
        ));
    }
    conf
}

/// One random request of a client of the storm: a read verb, or a start,
/// stop or restart of a service.
fn random_request(socket: &Path, _client: usize) -> Result<Reply, ClientError> {
    let id = SERVICES[random_below(SERVICES.len() as u64) as usize];
    match random_below(9) {
        0 => ask(socket, Verb::Status, &[]),
        1 => ask(socket, Verb::Status, &[id]),
        2 => ask(socket, Verb::GetPid, &[id]),
        3 => ask(socket, Verb::Version, &[]),
        4 => ask(socket, Verb::IocList, &[]),
        5 => ask(socket, Verb::Runlevel, &[]),
        6 => ask(socket, Verb::Start, &[id]),
        7 => ask(socket, Verb::Stop, &[id]),
        _ => ask(socket, Verb::Restart, &[id]),
    }
}

/// Client number k of the load: always the same read verb.
fn read_request(socket: &Path, client: usize) -> Result<Reply, ClientError> {
    ask(socket, [Verb::Status, Verb::Version, Verb::IocList, Verb::Runlevel][client % 4], &[])
}

type Requester = fn(&Path, usize) -> Result<Reply, ClientError>;

/// `threads` clients sending `request`s until `stop`.
fn clients(socket: &Path, threads: usize, request: Requester, tally: &Arc<Tally>, stop: &Arc<AtomicBool>) -> Vec<std::thread::JoinHandle<()>> {
    (0..threads)
        .map(|k| {
            let (socket, tally, stop) = (socket.to_path_buf(), tally.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    tally.count(request(&socket, k));
                }
            })
        })
        .collect()
}

/// The highest RssAnon of PID 1 seen every 20 ms until `stop`.
fn watch_memory(host_pid: i32, stop: &Arc<AtomicBool>) -> std::thread::JoinHandle<u64> {
    let stop = stop.clone();
    std::thread::spawn(move || {
        let mut most = 0;
        while !stop.load(Ordering::Relaxed) {
            most = most.max(ns::proc_status_field(host_pid, "RssAnon").unwrap_or(0));
            std::thread::sleep(Duration::from_millis(20));
        }
        most
    })
}

/// PID 1's anonymous memory may never pass this, whatever the clients do:
/// client slots and their buffers are allocated once, at start.
const MEMORY_CEILING_KB: u64 = 1024;

#[test]
fn two_hundred_concurrent_clients_are_all_answered_or_refused() {
    let secs = rounds(15, 60) as u64;
    let dir = scratch("storm-clients");
    write(&dir, "epoch.conf", &services_conf(""));
    let mut p = Pid1::boot(&dir, &[]);
    p.wait_console("iocinit: ready", T);
    let before = sample(&p);
    let (tally, stop) = (Arc::new(Tally::new()), Arc::new(AtomicBool::new(false)));
    let memory = watch_memory(p.host_pid, &stop);
    let threads = clients(&p.socket(), 200, random_request, &tally, &stop);
    std::thread::sleep(Duration::from_secs(secs));
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    let most = memory.join().unwrap();
    println!(
        "storm, 200 clients for {secs} s: {}; RssAnon {} kB before, at most {most} kB during (ceiling {MEMORY_CEILING_KB} kB)",
        tally.summary(),
        before.rss_anon_kb
    );
    // Refused ones too get a code (FAIL, busy): none is closed unanswered.
    assert_eq!((tally.lost.load(Ordering::Relaxed), tally.closed.load(Ordering::Relaxed)), (0, 0), "{}", tally.summary());
    assert!(tally.answered() > 0);
    assert!(most <= MEMORY_CEILING_KB, "RssAnon reached {most} kB");
    p.assert_healthy(before.fds);
}

// ---- a flood from an outsider ------------------------------------------------

/// Connections from an outsider, in a loop: random bytes, oversized
/// messages, lying argument lengths, and silent clients holding slots.
const FLOODER: &str = r#"
import os, socket, sys, time
path, end = sys.argv[1], time.time() + float(sys.argv[2])
n, connected, held = 0, 0, []
while time.time() < end:
    n += 1
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.settimeout(0.5)
        s.connect(path)
        connected += 1
        kind = n % 4
        if kind == 3:
            held = (held + [s])[-32:]
            continue
        s.send([os.urandom(1 + n % 4096), b"IOCI\x01" + os.urandom(60000), b"IOCI\x01\x01\x00\x08" + b"\xff\xff" * 100][kind])
        try:
            s.recv(4096)
        except OSError:
            pass
        s.close()
    except OSError:
        pass
print(connected)
"#;

/// A legitimate client in a loop: `request` (hex), latencies of the
/// answers (seconds) and how many got none.
const PROBE: &str = r#"
import socket, sys, time
path, end, req = sys.argv[1], time.time() + float(sys.argv[2]), bytes.fromhex(sys.argv[3])
lat, failed = [], 0
while time.time() < end:
    t0 = time.monotonic()
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.settimeout(5)
        s.connect(path)
        s.send(req)
        while True:
            m = s.recv(4096)
            if not m:
                failed += 1
                break
            if len(m) > 5 and m[5] == 2:
                lat.append(time.monotonic() - t0)
                break
        s.close()
    except OSError:
        failed += 1
    time.sleep(0.02)
print(failed, " ".join("%.6f" % x for x in lat))
"#;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// "n, p50, p99, max" of latencies in seconds, as milliseconds.
fn distribution(mut lat: Vec<f64>) -> (String, f64, f64) {
    lat.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| lat.get(((lat.len() as f64 - 1.0) * q).round() as usize).copied().unwrap_or(f64::NAN) * 1000.0;
    (format!("{} answers, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms", lat.len(), at(0.5), at(0.99), at(1.0)), at(0.5), at(1.0))
}

/// The failures and latencies a PROBE printed.
fn probe_result(out: &std::process::Output) -> (usize, Vec<f64>) {
    let text = String::from_utf8_lossy(&out.stdout);
    let mut words = text.split_whitespace();
    let failed = words.next().and_then(|w| w.parse().ok()).unwrap_or_else(|| panic!("probe: {out:?}"));
    (failed, words.filter_map(|w| w.parse().ok()).collect())
}

#[test]
fn root_and_the_ioc_group_are_served_during_a_flood_from_an_outsider() {
    setup();
    let secs = rounds(10, 60);
    let dir = scratch("storm-flood");
    write(&dir, "epoch.conf", &services_conf("IocGroup iocit-grp\nIocDirectory @DIR@/ioc\n"));
    std::fs::create_dir_all(dir.join("ioc")).unwrap();
    let mut p = Pid1::boot(&dir, &[]);
    p.wait_console("iocinit: ready", T);
    let before = sample(&p);
    let socket = p.socket_for_everyone();
    let socket_arg = socket.to_str().unwrap().to_string();
    let duration = secs.to_string();
    let spawn = |mut cmd: std::process::Command| cmd.stdout(std::process::Stdio::piped()).spawn().unwrap();
    let flooders: Vec<_> =
        (0..4).map(|_| spawn(p.inside_as(OUTSIDER, "/usr/bin/python3", &["-c", FLOODER, &socket_arg, &duration]))).collect();
    let member_request = hex(&Request::encode(Verb::IocList, 0, &[]));
    let member = p.inside_as(MEMBER, "/usr/bin/python3", &["-c", PROBE, &socket_arg, &duration, &member_request]);
    let root_request = hex(&Request::encode(Verb::Status, 0, &[]));
    let root = p.inside("/usr/bin/python3", &["-c", PROBE, &socket_arg, &duration, &root_request]);
    let (member, root) = (spawn(member), spawn(root));
    let (member, root) = (member.wait_with_output().unwrap(), root.wait_with_output().unwrap());
    let mut connections = 0;
    for f in flooders {
        let out = f.wait_with_output().unwrap();
        connections += String::from_utf8_lossy(&out.stdout).trim().parse::<usize>().unwrap_or_else(|_| panic!("flooder: {out:?}"));
    }
    let (member_failed, member_lat) = probe_result(&member);
    let (root_failed, root_lat) = probe_result(&root);
    let (member_figures, member_p50, member_max) = distribution(member_lat);
    let (root_figures, root_p50, root_max) = distribution(root_lat);
    println!(
        "storm, flood from {OUTSIDER} for {secs} s: {connections} hostile connections made; root: {root_figures}, {root_failed} unanswered; \
         {MEMBER} (IOC group): {member_figures}, {member_failed} unanswered"
    );
    assert!(connections > 0, "the flood never reached the control socket");
    assert_eq!((root_failed, member_failed), (0, 0), "legitimate requests unanswered");
    // The issue's 100 ms, for the typical request; the worst of a loaded
    // 2-core machine gets a generous second.
    assert!(root_p50 <= 100.0 && member_p50 <= 100.0, "median latency above 100 ms");
    assert!(root_max <= 1000.0 && member_max <= 1000.0, "a legitimate request waited over 1 s");
    p.assert_healthy(before.fds);
}

// ---- configreload and reexec under load -------------------------------------

/// Each service's pid as reported, checked against the namespace's
/// processes: exactly one `sleep 60K` per service, and it is the reported
/// one. Awaited: a start reported running may not have executed its command
/// yet, and the load keeps restarting services.
fn check_services(p: &Pid1, cycle: usize) {
    let socket = p.socket();
    let mut last = String::new();
    let consistent = wait_for(T, || {
        let reported: Vec<(String, i64, i64)> = SERVICES.iter().map(|id| object(&socket, id)).collect();
        let processes = p.processes();
        last = format!("reported {reported:?}; processes {processes:?}");
        SERVICES.iter().enumerate().all(|(k, _)| {
            let command = format!("/bin/sleep 60{k}");
            let live: Vec<i64> = processes.iter().filter(|(_, c)| c.ends_with(&command) && !c.starts_with('Z')).map(|(pid, _)| *pid).collect();
            reported[k].0 == "running" && live == [reported[k].1]
        })
    });
    assert!(consistent, "cycle {cycle}: a service lost, doubled or with a stale pid: {last}");
}

#[test]
fn configreload_and_reexec_under_load_lose_nothing_and_duplicate_nothing() {
    let cycles = 100;
    let dir = scratch("storm-reload");
    write(&dir, "epoch.conf", &services_conf(""));
    let mut p = Pid1::boot(&dir, &[]);
    p.wait_console("iocinit: ready", T);
    let socket = p.socket();
    // The baseline after a first reexec: it closes what PID 1 inherited
    // from the test harness (cargo's jobserver pipe), which a real init
    // never has.
    let _ = ask(&socket, Verb::Reexec, &[]);
    p.wait_socket();
    check_services(&p, 0);
    let before = sample(&p);
    let (tally, stop) = (Arc::new(Tally::new()), Arc::new(AtomicBool::new(false)));
    let restarts = Arc::new(AtomicU64::new(0));
    // The load: readers, and one client restarting services.
    let mut load = clients(&socket, 8, read_request, &tally, &stop);
    {
        let (socket, stop, restarts) = (socket.clone(), stop.clone(), restarts.clone());
        load.push(std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let id = SERVICES[random_below(SERVICES.len() as u64) as usize];
                if ask(&socket, Verb::Restart, &[id]).is_ok_and(|r| r.code == Code::Ok) {
                    restarts.fetch_add(1, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }));
    }
    let (t0, mut busy) = (Instant::now(), 0);
    for cycle in 0..cycles {
        let verb = if cycle % 2 == 0 { Verb::ConfigReload } else { Verb::Reexec };
        // A reexec closes every connection as PID 1 executes itself: the end
        // of the reply is its answer (as `epoch reexec` reads it). Refused
        // while an object of the load is starting or stopping: again.
        let mut last = None;
        let done = wait_for(T, || match ask(&socket, verb, &[]) {
            Ok(reply) if reply.code == Code::Ok => true,
            Ok(reply) => {
                busy += usize::from(reply.message.contains("busy"));
                last = Some(reply.message);
                false
            }
            Err(e) => {
                last = Some(e.to_string());
                verb == Verb::Reexec
            }
        });
        assert!(done, "cycle {cycle}: {}: {last:?}", verb.name());
        p.wait_socket();
        check_services(&p, cycle);
    }
    stop.store(true, Ordering::Relaxed);
    for t in load {
        t.join().unwrap();
    }
    println!(
        "storm, {cycles} configreload/reexec cycles under load in {:.0} s ({busy} refused as busy and asked again): \
         {} restarts by the load; load requests: {}; PID 1 before: {before}; after: {}",
        t0.elapsed().as_secs_f64(),
        restarts.load(Ordering::Relaxed),
        tally.summary(),
        sample(&p)
    );
    assert_eq!(tally.lost.load(Ordering::Relaxed), 0, "{}", tally.summary());
    check_services(&p, cycles);
    p.assert_healthy(before.fds);
}
