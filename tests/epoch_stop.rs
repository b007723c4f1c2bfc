//! Stopping, HALTONLY and RUNONCE as Epoch's reference (seed 003) says, with
//! iocinit as PID 1 of a PID namespace (issue 12, item 7):
//! - RUNONCE disables an object only after a start that succeeded.

mod ns;

use std::time::Duration;

use ns::{read, scratch, write, Pid1};

const T: Duration = Duration::from_secs(20);

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
