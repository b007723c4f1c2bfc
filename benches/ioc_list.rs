//! `ioc list -vv` for 100 IOCs: iocinit's way (one sock_diag dump, /proc
//! reads, no process spawned) against the seed's way (per IOC one
//! `ss -x -l -p src PATH` and one `ps` spawn), medians of several runs.
//!
//! 100 real procServs would be heavy, so this binary runs itself once more as
//! a helper that holds 100 listening UNIX sockets (plus 3 connected clients),
//! standing in for the procServ consoles. What that measures beside a board:
//! every row has the helper's pid and no IOC process, so a listing reads one
//! /proc/PID/stat per IOC, always of the same process (a board reads two, of
//! a procServ and its IOC); the socket files are under `std::env::temp_dir()`
//! (`TMPDIR`), where a board's are under /run/procserv, on tmpfs: run it with
//! `TMPDIR=/dev/shm` to measure that.
//!
//! Run: `cargo bench --bench ioc_list`; `ss` (iproute2) and `ps` (procps) come
//! from tests/support/install-test-deps, which it runs first.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use iocinit::ioc::list::{gather, render, Detail, IocRow};
use nix::time::{clock_gettime, ClockId};

const IOCS: usize = 100;
const CLIENTS: usize = 3;

fn socket_path(dir: &Path, i: usize) -> PathBuf {
    dir.join(format!("ioc{i:03}")).join("control")
}

/// The helper: binds the sockets, says `ready`, holds them until stdin closes.
fn hold_sockets(dir: &Path) {
    let mut listeners = Vec::new();
    for i in 0..IOCS {
        let path = socket_path(dir, i);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        listeners.push(UnixListener::bind(&path).unwrap());
    }
    let mut connections = Vec::new();
    for (i, listener) in listeners.iter().enumerate().take(CLIENTS) {
        connections.push(UnixStream::connect(socket_path(dir, i)).unwrap());
        connections.push(listener.accept().unwrap().0);
    }
    println!("ready");
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn thread_cpu() -> Duration {
    let t = clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID).expect("CLOCK_THREAD_CPUTIME_ID");
    Duration::new(t.tv_sec() as u64, t.tv_nsec() as u32)
}

/// Medians of the wall time and of this thread's CPU time (user and
/// system: steadier on a loaded machine, but blind to spawned processes).
fn time_runs(runs: usize, mut run: impl FnMut()) -> (Duration, Duration) {
    run(); // warm-up: page cache, dynamic loader
    let (wall, cpu) = (0..runs)
        .map(|_| {
            let (start, cpu) = (Instant::now(), thread_cpu());
            run();
            (start.elapsed(), thread_cpu() - cpu)
        })
        .unzip();
    (median(wall), median(cpu))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--hold-sockets") {
        hold_sockets(Path::new(&args[i + 1]));
        return;
    }

    let installer = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/install-test-deps");
    let installed = Command::new(&installer)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(installed.success(), "{} failed", installer.display());

    let dir = std::env::temp_dir().join(format!("iocinit-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut helper = Command::new(std::env::current_exe().unwrap())
        .arg("--hold-sockets")
        .arg(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut ready = String::new();
    BufReader::new(helper.stdout.take().unwrap())
        .read_line(&mut ready)
        .unwrap();
    assert_eq!(ready.trim(), "ready");
    let pid = helper.id() as i32;

    let rows: Vec<IocRow> = (0..IOCS)
        .map(|i| IocRow {
            name: format!("ioc{i:03}"),
            status: "active".into(),
            started: Some(1_763_720_000),
            uds_path: socket_path(&dir, i),
            pid: Some(pid),
            ioc_pid: None,
        })
        .collect();

    let table = render(&gather(rows.clone(), Detail::Sockets), 2, &dir);
    assert_eq!(table.lines().count(), IOCS + 2);
    assert_eq!(table.matches(" | LISTEN     | ").count(), IOCS);
    assert_eq!(table.matches(" | 1    | ").count(), CLIENTS, "{table}");

    let (ours, ours_cpu) = time_runs(21, || {
        let table = render(&gather(rows.clone(), Detail::Sockets), 2, &dir);
        std::hint::black_box(table);
    });

    let spawn = |program: &str, args: &[&str]| {
        let out = Command::new(program)
            .args(args)
            .stderr(Stdio::null())
            .output()
            .unwrap();
        assert!(out.status.success(), "{program} failed");
        std::hint::black_box(out.stdout);
    };
    let pid_text = pid.to_string();
    let (seed, _) = time_runs(5, || {
        for row in &rows {
            let path = row.uds_path.to_str().unwrap();
            spawn("ss", &["-x", "-l", "-p", "src", path]);
            spawn("ps", &["-o", "pid=,etimes=,time=,rss=", "-p", &pid_text]);
        }
    });

    drop(helper.stdin.take());
    let _ = helper.wait();
    let _ = std::fs::remove_dir_all(&dir);

    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "ioc list -vv, {IOCS} IOCs ({CLIENTS} with a client), sockets under {}:",
        std::env::temp_dir().display()
    );
    println!(
        "  iocinit gather+render (sock_diag, /proc): {:>9.2} ms  (median of 21; CPU {:.2} ms)",
        ms(ours),
        ms(ours_cpu)
    );
    println!(
        "  seed method (ss + ps spawn per IOC):      {:>9.2} ms  (median of 5)",
        ms(seed)
    );
    println!("  ratio: {:.0}x", seed.as_secs_f64() / ours.as_secs_f64());
}
