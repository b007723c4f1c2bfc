//! `ioc list -vv` for 100 IOCs as a board lists them: 100 real procServs,
//! each with its own IOC process, each listening on its console socket (3
//! with a client attached). iocinit's way (one sock_diag dump, /proc reads,
//! no process spawned) against two baselines in the same run: the seed's way
//! (per IOC one `ss -x -l -p src PATH` and one `ps` spawn) and the same facts
//! from one pipeline (`ss -x -a`, one `ps` for every pid, one `stat` of every
//! socket file), medians of several runs.
//!
//! Every row has its own procServ pid and IOC pid, as PID 1's reply gives
//! them, so a listing reads two /proc/PID/stat per IOC of 200 distinct live
//! processes. The IOC is `sleep` (one thread; a softIoc's stat sums its
//! threads, which costs the kernel more). The rows are built before the
//! timed runs, one copy per run: a timed run is `gather` and `render` only.
//! The socket files are under `std::env::temp_dir()` (`TMPDIR`), where a
//! board's are under /run/procserv, on tmpfs: run it with `TMPDIR=/dev/shm`
//! to measure that.
//!
//! Run: `cargo bench --bench ioc_list`; procServ, `ss` (iproute2) and `ps`
//! (procps) come from tests/support/install-test-deps, which it runs first.

use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use iocinit::ioc::list::{gather, render, Detail, IocRow};
use nix::time::{clock_gettime, ClockId};

const IOCS: usize = 100;
const CLIENTS: usize = 3;
const RUNS: usize = 21;
const SEED_RUNS: usize = 3;

fn socket_path(dir: &Path, i: usize) -> PathBuf {
    dir.join(format!("ioc{i:03}")).join("control")
}

/// One IOC as a board runs it: procServ in the foreground, its child the
/// "IOC", its console a UNIX socket. Killed (procServ and its child) when
/// dropped, also when the bench panics.
struct Ioc {
    procserv: Child,
    ioc_pid: i32,
    socket: PathBuf,
}

impl Ioc {
    fn start(dir: &Path, i: usize) -> Ioc {
        let socket = socket_path(dir, i);
        std::fs::create_dir_all(socket.parent().unwrap()).unwrap();
        let procserv = Command::new("procServ")
            .args(["-f", "--name", &format!("ioc{i:03}"), "--ignore", "^D^C^]", "--autorestartcmd", ""])
            .args(["--holdoff", "1", "-P", &format!("unix:{}", socket.display())])
            .args(["/bin/sleep", "1000000"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("procServ (tests/support/install-test-deps)");
        Ioc { procserv, ioc_pid: 0, socket }
    }

    /// procServ's children now (the IOC; none while it restarts it).
    fn children(&self) -> Vec<i32> {
        let pid = self.procserv.id();
        let text = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        text.split_whitespace().filter_map(|child| child.parse().ok()).collect()
    }

    /// Waits until the console listens and the IOC process runs.
    fn wait_up(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let (Some(&child), true) = (self.children().first(), self.socket.exists()) {
                self.ioc_pid = child;
                return;
            }
            assert!(Instant::now() < deadline, "procServ {} did not come up", self.procserv.id());
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn row(&self, i: usize) -> IocRow {
        IocRow {
            name: format!("ioc{i:03}"),
            status: "active".into(),
            started: Some(1_763_720_000),
            uds_path: self.socket.clone(),
            pid: Some(self.procserv.id() as i32),
            ioc_pid: Some(self.ioc_pid),
        }
    }
}

impl Drop for Ioc {
    fn drop(&mut self) {
        // The IOC runs in a session of its own (procServ's pty): its pid is
        // read now, also when the bench panicked before `wait_up`, and
        // procServ goes first so that it cannot start another.
        let children = self.children();
        let _ = self.procserv.kill();
        let _ = self.procserv.wait();
        for pid in children {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
        }
    }
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn thread_cpu() -> Duration {
    let t = clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID).expect("CLOCK_THREAD_CPUTIME_ID");
    Duration::new(t.tv_sec() as u64, t.tv_nsec() as u32)
}

/// User and system CPU time of the waited-for children so far.
fn children_cpu() -> Duration {
    // SAFETY: getrusage writes the struct it is given, which is plain data.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) }, 0, "getrusage");
    let time = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    time(usage.ru_utime) + time(usage.ru_stime)
}

/// Medians of the wall time and of the CPU time (this thread's, user and
/// system, steadier on a loaded machine, plus that of the processes a run
/// spawned and waited for) of one run per input, after a warm-up run
/// (page cache, dynamic loader) on the first.
fn time_runs<T>(mut inputs: Vec<T>, mut run: impl FnMut(T)) -> (Duration, Duration) {
    run(inputs.remove(0));
    let (wall, cpu) = inputs
        .into_iter()
        .map(|input| {
            let (start, cpu) = (Instant::now(), thread_cpu() + children_cpu());
            run(input);
            (start.elapsed(), thread_cpu() + children_cpu() - cpu)
        })
        .unzip();
    (median(wall), median(cpu))
}

fn spawn(program: &str, args: &[&str]) {
    let out = Command::new(program)
        .args(args)
        .stderr(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{program} failed");
    std::hint::black_box(out.stdout);
}

fn main() {
    let installer = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/install-test-deps");
    let installed = Command::new(&installer)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(installed.success(), "{} failed", installer.display());

    let dir = std::env::temp_dir().join(format!("iocinit-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut iocs: Vec<Ioc> = (0..IOCS).map(|i| Ioc::start(&dir, i)).collect();
    iocs.iter_mut().for_each(Ioc::wait_up);
    let rows = || -> Vec<IocRow> { iocs.iter().enumerate().map(|(i, ioc)| ioc.row(i)).collect() };
    let _clients: Vec<UnixStream> = iocs[..CLIENTS]
        .iter()
        .map(|ioc| UnixStream::connect(&ioc.socket).unwrap())
        .collect();

    // procServ accepts its clients when its loop comes round: wait for them.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let table = render(&gather(rows(), Detail::Sockets), 2, &dir);
        assert_eq!(table.lines().count(), IOCS + 2);
        assert_eq!(table.matches(" | LISTEN     | ").count(), IOCS, "{table}");
        if table.matches(" | 1    | ").count() == CLIENTS {
            break;
        }
        assert!(Instant::now() < deadline, "procServ did not accept its clients:\n{table}");
        std::thread::sleep(Duration::from_millis(10));
    }

    let (ours, ours_cpu) = time_runs((0..=RUNS).map(|_| rows()).collect(), |rows| {
        let table = render(&gather(rows, Detail::Sockets), 2, &dir);
        std::hint::black_box(table);
    });

    let all_pids = iocs
        .iter()
        .flat_map(|ioc| [ioc.procserv.id() as i32, ioc.ioc_pid])
        .map(|pid| pid.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let paths: Vec<&str> = iocs.iter().map(|ioc| ioc.socket.to_str().unwrap()).collect();
    let (pipeline, pipeline_cpu) = time_runs(vec![(); RUNS + 1], |()| {
        spawn("ss", &["-x", "-a"]);
        spawn("ps", &["-o", "pid=,time=,rss=", "-p", &all_pids]);
        spawn("stat", &[&["-c", "%A %i"][..], &paths].concat());
    });

    let (seed, seed_cpu) = time_runs(vec![(); SEED_RUNS + 1], |()| {
        for ioc in &iocs {
            let pids = format!("{},{}", ioc.procserv.id(), ioc.ioc_pid);
            spawn("ss", &["-x", "-l", "-p", "src", ioc.socket.to_str().unwrap()]);
            spawn("ps", &["-o", "pid=,etimes=,time=,rss=", "-p", &pids]);
        }
    });

    drop(_clients);
    drop(iocs);
    let _ = std::fs::remove_dir_all(&dir);

    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "ioc list -vv, {IOCS} IOCs (procServ + IOC process each, {CLIENTS} with a client), sockets under {}:",
        std::env::temp_dir().display()
    );
    println!(
        "  iocinit gather+render (sock_diag, /proc):  {:>9.2} ms  CPU {:>8.2} ms  (medians of {RUNS})",
        ms(ours),
        ms(ours_cpu)
    );
    println!(
        "  one pipeline (ss -x -a, ps, stat):         {:>9.2} ms  CPU {:>8.2} ms  (medians of {RUNS}, CPU with the spawned processes')",
        ms(pipeline),
        ms(pipeline_cpu)
    );
    println!(
        "  seed method (ss + ps spawn per IOC):       {:>9.2} ms  CPU {:>8.2} ms  (medians of {SEED_RUNS})",
        ms(seed),
        ms(seed_cpu)
    );
    println!(
        "  ratio (wall): {:.0}x the pipeline, {:.0}x the seed",
        pipeline.as_secs_f64() / ours.as_secs_f64(),
        seed.as_secs_f64() / ours.as_secs_f64()
    );
}
