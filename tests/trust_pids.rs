//! Which processes PID 1 takes for an object's own (issue 8, defects 11 and
//! 12): neither the object marker in the environment (`IOCINIT_OBJECT=<id>`)
//! nor a pid file makes a process the object's. A process counts only when it
//! carries the marker and descends from one of the object's tracked
//! processes, or descends from one reparented to PID 1 since the object
//! started that runs as the object's user. Pid files are removed before a
//! start, opened without following symlinks or blocking on FIFOs, and the pid
//! they name is signalled only when it passes the same test.
//!
//! iocinit runs as PID 1 of a PID namespace; the attacker is the real
//! unprivileged user iocit-out (tests/support/install-test-users). Needs root
//! (CI runs as root). After every attack, PID 1 must still be healthy.

mod ioc_support;
mod ns;
mod pty;

use std::process::{Child, Output};
use std::time::{Duration, Instant};

use ioc_support::*;
use ns::{write, Pid1};

const T: Duration = Duration::from_secs(20);

/// Starts `command` as `user` inside the namespace, detached (its shell
/// exits at once, so it is reparented to PID 1), with `env` in its
/// environment; returns its namespace pid.
fn plant(p: &Pid1, user: &str, env: &str, command: &str) -> i64 {
    let script = format!("{env} {command} </dev/null >/dev/null 2>&1 & echo $!");
    let out = if user == "root" { p.sh(&script) } else { p.inside_as(user, "/bin/sh", &["-c", &script]).output().unwrap() };
    let pid: i64 = ok(out, "plant").trim().parse().expect("a pid");
    // Wait until it is reparented to PID 1 and carries what it should.
    let host = wait_host_pid(p, pid);
    assert!(env.is_empty() || wait_for(T, || has_env(host, env)), "{command} never carried {env}");
    pid
}

fn wait_host_pid(p: &Pid1, pid: i64) -> i32 {
    let mut host = None;
    assert!(wait_for(T, || {
        host = p.host_pid_of(pid);
        host.is_some()
    }));
    host.unwrap()
}

/// Whether namespace process `pid` is alive (and not a zombie).
fn alive(p: &Pid1, pid: i64) -> bool {
    p.host_pid_of(pid).and_then(proc_info).is_some_and(|i| i.state != b'Z')
}

fn epoch(p: &Pid1, args: &[&str]) -> Output {
    p.ctl(args)
}

/// `status` answers within a few seconds; if it does not (PID 1 is stuck in
/// an open(2) of a FIFO, say), `unblock` runs before the test fails, so the
/// namespace can end.
fn answers(p: &Pid1, unblock: impl FnOnce()) {
    let mut child: Child = p.inside(ns::BIN, &["status"]).stdout(std::process::Stdio::null()).spawn().unwrap();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if child.try_wait().unwrap().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    unblock();
    let _ = child.kill();
    let _ = child.wait();
    panic!("PID 1 did not answer `status` within 10 s; console:\n{}", p.console());
}

#[test]
fn a_marked_process_of_another_user_is_not_taken_for_a_service_daemon() {
    setup();
    let s = Scratch::new("trust-service");
    let dir = s.path();
    // Two root SERVICEs started by hand: `lone` leaves no daemon at all,
    // `svc` leaves a real one, `sleep 601`.
    write(
        dir,
        "epoch.conf",
        "DefaultRunlevel default\n\
         ObjectID lone\nObjectStartCommand /bin/true\nObjectStartPriority 1\nObjectRunlevels default\n\
         ObjectOptions SERVICE\nObjectEnabled false\n\
         ObjectID svc\nObjectStartCommand /bin/sh -c '(sleep 601 &)'\nObjectStartPriority 1\nObjectRunlevels default\n\
         ObjectOptions SERVICE\nObjectEnabled false\n",
    );
    let mut p = Pid1::boot(dir, &[]);
    p.wait_console("iocinit: ready", T);
    let fds = p.fds_at_rest();
    // The outsider plants detached processes carrying both markers first:
    // they have lower pids than anything the objects start.
    let fake_lone = plant(&p, OUTSIDER, "IOCINIT_OBJECT=lone", "sleep 700");
    let fake_svc = plant(&p, OUTSIDER, "IOCINIT_OBJECT=svc", "sleep 701");

    let out = ok(epoch(&p, &["start", "lone"]), "start lone");
    assert!(out.contains("Starting lone"), "{out}");
    p.wait_state("lone", "done", T);
    assert!(p.pid("lone").is_none(), "lone adopted {:?} (the outsider's is {fake_lone})", p.pid("lone"));

    ok(epoch(&p, &["start", "svc"]), "start svc");
    p.wait_state("svc", "running", T);
    let daemon = p.pid("svc").expect("svc's daemon");
    assert_ne!(daemon, fake_svc, "the outsider's process was adopted");
    assert_eq!(p.find_process("sleep 601"), Some(daemon));

    // restart: the daemon is stopped and replaced; the outsider's process
    // is never signalled, and nothing loops.
    ok(epoch(&p, &["restart", "svc"]), "restart svc");
    p.wait_state("svc", "running", T);
    let again = p.pid("svc").expect("svc's new daemon");
    assert!(again != daemon && again != fake_svc, "{daemon} -> {again}");
    ok(epoch(&p, &["stop", "svc"]), "stop svc");
    for (pid, what) in [(fake_lone, "lone"), (fake_svc, "svc")] {
        assert!(alive(&p, pid), "the outsider's {what} process {pid} was killed; console:\n{}", p.console());
    }
    assert!(!alive(&p, again), "svc's daemon survived its stop");
    p.assert_healthy(fds);
    p.poweroff();
}

#[test]
fn a_marked_process_of_another_user_is_not_an_ioc_leftover() {
    let s = Scratch::new("trust-ioc");
    let ioc = SoftIoc::standard(s.path(), "demo");
    setup();
    write(s.path(), "epoch.conf", EPOCH_CONF);
    ioc.install_file(&s.path().join("ioc"), IOC_USER, GROUP);
    let mut p = Pid1::boot(s.path(), &[]);
    ioc.wait_value("calc", "42", T);
    p.wait_console("iocinit: ready", T);
    let fds = p.fds_at_rest();
    // A planted process with the IOC's marker, and a loop that plants a new
    // one whenever it dies: killing "leftovers" would never end.
    let planted = plant(&p, OUTSIDER, "IOCINIT_OBJECT=demo", "sleep 702");
    let respawner = plant(&p, OUTSIDER, "", "sh -c 'while :; do env IOCINIT_OBJECT=demo sleep 703; done'");
    let respawned = || p.find_process("sleep 703");
    assert!(wait_for(T, || respawned().is_some()));
    let first = respawned();

    let out = ok(p.ioc(&["restart", "demo"]), "ioc restart demo");
    assert!(out.contains("demo is ready"), "{out}");
    ioc.wait_value("calc", "42", T);
    assert_eq!(p.state("demo"), "running");
    assert!(alive(&p, planted), "the planted process was killed as a leftover; console:\n{}", p.console());
    assert_eq!(respawned(), first, "the respawned process was killed; console:\n{}", p.console());
    // The IOC's own processes are still the object's: a stop leaves none.
    ok(p.ioc(&["stop", "demo"]), "ioc stop demo");
    assert!(wait_for(T, || port_is_free(ioc.port)));
    assert!(alive(&p, planted) && alive(&p, respawner));
    p.assert_healthy(fds);
    p.poweroff();
}

/// An object started by hand that tracks ObjectPIDFile DIR/ID.pid and is
/// stopped by `PIDFILE`, with `start` as its start command.
fn pid_file_object(id: &str, start: &str) -> String {
    format!(
        "ObjectID {id}\nObjectStartCommand {start}\nObjectStartPriority 1\nObjectRunlevels default\n\
         ObjectPIDFile @DIR@/{id}.pid\nObjectStopCommand PIDFILE\nObjectEnabled false\n"
    )
}

#[test]
fn a_stale_pid_file_is_removed_before_a_start_and_its_pid_never_signalled() {
    setup();
    let s = Scratch::new("trust-stale");
    let dir = s.path();
    write(dir, "epoch.conf", &format!("DefaultRunlevel default\n{}", pid_file_object("stale", "/bin/true")));
    let mut p = Pid1::boot(dir, &[]);
    p.wait_console("iocinit: ready", T);
    let fds = p.fds_at_rest();
    // The last boot's pid, now someone else's: here a process root started
    // outside any object.
    let bystander = plant(&p, "root", "", "sleep 704");
    std::fs::write(dir.join("stale.pid"), format!("{bystander}\n")).unwrap();
    ok(epoch(&p, &["start", "stale", "--no-wait"]), "start stale");
    assert!(wait_for(T, || !dir.join("stale.pid").exists()), "the stale pid file was not removed before the start");
    p.wait_state("stale", "waiting-pidfile", T);
    // Named again while the object waits: still not its process.
    std::fs::write(dir.join("stale.pid"), format!("{bystander}\n")).unwrap();
    p.wait_console("stale: the pid file names a process that is not this object's", T);
    let out = epoch(&p, &["stop", "stale"]);
    assert!(text(&out).contains("not this object's"), "{}", text(&out));
    p.wait_state("stale", "stopped", T);
    assert!(alive(&p, bystander), "stopping stale signalled {bystander}; console:\n{}", p.console());
    p.assert_healthy(fds);
    p.poweroff();
}

#[test]
fn a_pid_file_naming_another_users_marked_process_is_never_followed_or_signalled() {
    setup();
    let s = Scratch::new("trust-planted");
    let dir = s.path();
    // Writes, once the test opens the gate, whatever pid the test put in
    // DIR/foreign: a pid file in a place someone else can write.
    let start = "/bin/sh -c 'while [ ! -e @DIR@/gate ]; do sleep 0.05; done; cat @DIR@/foreign > @DIR@/planted.pid'";
    write(dir, "epoch.conf", &format!("DefaultRunlevel default\n{}", pid_file_object("planted", start)));
    let mut p = Pid1::boot(dir, &[]);
    p.wait_console("iocinit: ready", T);
    let fds = p.fds_at_rest();
    let mut starting = p.inside(ns::BIN, &["start", "planted"]).stdout(std::process::Stdio::null()).spawn().unwrap();
    p.wait_state("planted", "starting", T);
    // The outsider's process carries the object's marker, was reparented
    // to PID 1 and started after the object: only its user tells.
    let intruder = plant(&p, OUTSIDER, "IOCINIT_OBJECT=planted", "sleep 705");
    std::fs::write(dir.join("foreign"), format!("{intruder}\n")).unwrap();
    std::fs::write(dir.join("gate"), "").unwrap();
    p.wait_console("planted: the pid file names a process that is not this object's", T);
    assert_eq!(p.state("planted"), "waiting-pidfile");
    assert!(p.pid("planted").is_none());
    let out = epoch(&p, &["stop", "planted"]);
    assert!(text(&out).contains("not this object's"), "{}", text(&out));
    p.wait_state("planted", "stopped", T);
    assert!(alive(&p, intruder), "stopping planted signalled {intruder}; console:\n{}", p.console());
    let _ = starting.wait();
    p.assert_healthy(fds);
    p.poweroff();
}

#[test]
fn a_pid_file_that_is_a_fifo_or_a_symlink_to_dev_zero_leaves_pid_1_healthy() {
    setup();
    let s = Scratch::new("trust-fifo");
    let dir = s.path();
    write(
        dir,
        "epoch.conf",
        &format!(
            "DefaultRunlevel default\n{}{}",
            pid_file_object("fifo", "/usr/bin/mkfifo @DIR@/fifo.pid"),
            pid_file_object("zero", "/bin/ln -s /dev/zero @DIR@/zero.pid")
        ),
    );
    let mut p = Pid1::boot(dir, &[]);
    p.wait_console("iocinit: ready", T);
    let fds = p.fds_at_rest();
    // A FIFO nobody writes: opening it to read would block PID 1 for good.
    let fifo = dir.join("fifo.pid");
    ok(epoch(&p, &["start", "zero", "--no-wait"]), "start zero");
    ok(epoch(&p, &["start", "fifo", "--no-wait"]), "start fifo");
    assert!(wait_for(T, || fifo.exists() && dir.join("zero.pid").exists()));
    // Give PID 1 a few polls of both files.
    std::thread::sleep(Duration::from_secs(2));
    answers(&p, || {
        // Release PID 1 from its open(2), so the namespace can end.
        let _ = std::fs::OpenOptions::new().write(true).open(&fifo);
    });
    assert_eq!(p.state("fifo"), "waiting-pidfile");
    assert_eq!(p.state("zero"), "waiting-pidfile");
    ok(epoch(&p, &["stop", "fifo"]), "stop fifo");
    ok(epoch(&p, &["stop", "zero"]), "stop zero");
    p.assert_healthy(fds);
    p.poweroff();
}
