//! Stopping, HALTONLY and RUNONCE as Epoch's reference (seed 003) says, with
//! iocinit as PID 1 of a PID namespace (issue 12, items 2 and 7):
//! - a disabled HALTONLY object (ObjectEnabled false, `disable`, RUNONCE
//!   after its first run) does not run at shutdown;
//! - RUNONCE disables an object only after a start that succeeded.

mod ns;

use std::time::Duration;

use ns::{ok, read, scratch, write, Pid1};

const T: Duration = Duration::from_secs(20);

#[test]
fn a_disabled_haltonly_object_does_not_run_at_shutdown() {
    let dir = scratch("estop-haltonly");
    let halt_only = |id: &str, extra: &str| {
        format!(
            "ObjectID {id}\nObjectStopCommand /bin/sh -c 'echo {id} >> @DIR@/ran'\nObjectStopPriority 1\n\
             ObjectOptions HALTONLY{extra}\n"
        )
    };
    write(
        &dir,
        "epoch.conf",
        &format!(
            "DefaultRunlevel default\n\
             ObjectID s\nObjectStartCommand /bin/true\nObjectStartPriority 1\nObjectRunlevels default\n{}{}{}{}",
            halt_only("off", "\nObjectEnabled false"),
            halt_only("bytheuser", ""),
            halt_only("once", " RUNONCE"),
            halt_only("always", ""),
        ),
    );
    let p = Pid1::boot(&dir, &[]);
    p.wait_console("iocinit: ready", T);
    ok(p.ctl(&["disable", "bytheuser"]));
    p.poweroff();
    let mut ran: Vec<String> = read(&dir, "ran").lines().map(String::from).collect();
    ran.sort();
    assert_eq!(ran, ["always", "once"]);
    // RUNONCE disabled it after that stop: the next shutdown skips it.
    std::fs::remove_file(dir.join("ran")).unwrap();
    let p = Pid1::boot(&dir, &[]);
    p.wait_console("iocinit: ready", T);
    assert_eq!(p.status("once")["enabled"], false);
    p.poweroff();
    assert_eq!(read(&dir, "ran"), "always\n");
}

#[test]
fn runonce_disables_only_after_a_start_that_succeeded() {
    let dir = scratch("estop-runonce");
    write(
        &dir,
        "epoch.conf",
        "DefaultRunlevel default\n\
         ObjectID keys\nObjectStartCommand /bin/sh -c 'echo x >> @DIR@/ran; test -e @DIR@/ready'\n\
         ObjectStartPriority 1\nObjectRunlevels default\nObjectOptions RUNONCE\n",
    );
    let p = Pid1::boot(&dir, &[]);
    p.wait_console("iocinit: ready", T);
    assert_eq!(p.state("keys"), "failed");
    assert_eq!(p.status("keys")["enabled"], true, "a failed first start is tried again");
    p.poweroff();
    std::fs::write(dir.join("ready"), "").unwrap();
    let p = Pid1::boot(&dir, &[]);
    p.wait_console("iocinit: ready", T);
    assert_eq!(read(&dir, "ran"), "x\nx\n");
    assert_eq!(p.state("keys"), "done");
    assert_eq!(p.status("keys")["enabled"], false);
    p.poweroff();
    // Done once: not run again.
    let p = Pid1::boot(&dir, &[]);
    p.wait_console("iocinit: ready", T);
    assert_eq!(read(&dir, "ran"), "x\nx\n");
    p.poweroff();
}
