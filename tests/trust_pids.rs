//! Which processes PID 1 takes for an object's own (issue 8, defect 11): the
//! object marker in the environment (`IOCINIT_OBJECT=<id>`) does not make a
//! process the object's. A process counts only when it carries the marker
//! and descends from one of the object's tracked processes, or descends from
//! one reparented to PID 1 since the object started that runs as the
//! object's user.
//!
//! iocinit runs as PID 1 of a PID namespace; the attacker is the real
//! unprivileged user iocit-out (tests/support/install-test-users). Needs root
//! (CI runs as root). After every attack, PID 1 must still be healthy.

mod ioc_support;
mod ns;
mod pty;

use std::process::Output;
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

/// PID 1's descriptor count once it is ready and quiet: the same over half
/// a second (a client's connection closes on PID 1's next turn).
fn settled_fds(p: &Pid1) -> usize {
    p.wait_console("iocinit: ready", T);
    let mut last = (p.fd_count(), Instant::now());
    assert!(wait_for(T, || {
        let now = p.fd_count();
        if now != last.0 {
            last = (now, Instant::now());
        }
        last.1.elapsed() >= Duration::from_millis(500)
    }));
    last.0
}

fn epoch(p: &Pid1, args: &[&str]) -> Output {
    p.ctl(args)
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
    let fds = settled_fds(&p);
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
    let fds = settled_fds(&p);
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
