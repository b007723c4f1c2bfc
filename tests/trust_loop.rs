//! Issue 8 ("PID 1 that cannot be killed, frozen or rooted"), PID 1's loop:
//! what it polls, how it writes to the console, how it hands out control
//! socket slots. The real binary as PID 1 of a PID namespace:
//! - no inotify descriptor (IocLogMaxSize 0, at boot and by configreload) is
//!   no reason to die: poll sees only descriptors that exist (defect 1).
//!
//! Needs root (CI runs as root).

mod ns;

use std::time::{Duration, Instant};

use ns::{ok, scratch, wait_for, write, Pid1};

const T: Duration = Duration::from_secs(10);

/// PID 1's descriptor count once the last client's connection is closed
/// (it closes on PID 1's next turn after the client exits): the same over
/// half a second.
fn quiet_fd_count(p: &Pid1) -> usize {
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

// ---- defect 1: poll only ever sees real descriptors ------------------------

fn rotation_conf(log_max: &str) -> String {
    format!(
        "DefaultRunlevel default\nIocDirectory @DIR@/ioc\nIocLogDirectory @DIR@/log\nIocLogMaxSize {log_max}\n\
         ObjectID a\nObjectStartCommand /bin/sleep 600\nObjectStartPriority 1\nObjectStopPriority 1\n\
         ObjectRunlevels default\nObjectOptions FORK\n"
    )
}

#[test]
fn without_log_rotation_there_is_no_inotify_descriptor_and_no_crash() {
    let dir = scratch("loop-norotate");
    std::fs::create_dir_all(dir.join("ioc")).unwrap();
    write(&dir, "epoch.conf", &rotation_conf("0"));
    let mut p = Pid1::boot(&dir, &[]);
    p.wait_console("iocinit: ready", T);
    let fds = quiet_fd_count(&p);
    p.assert_healthy(fds);
    // To rotation (one inotify descriptor more) and back (none).
    write(&dir, "epoch.conf", &rotation_conf("4K"));
    ok(p.ctl(&["configreload"]));
    p.assert_healthy(fds + 1);
    write(&dir, "epoch.conf", &rotation_conf("0"));
    ok(p.ctl(&["configreload"]));
    p.assert_healthy(fds);
    assert_eq!(p.state("a"), "running");
    p.poweroff();
}
