//! PID 1 in a PID namespace: boot order, FORK vs waiting starts, a hung
//! start not blocking control, clean poweroff.

mod ns;

use std::time::Duration;

use ns::{scratch, write, write_exec, Pid1};

#[test]
fn boot_runs_priorities_in_order_and_poweroff_leaves_nothing() {
    let dir = scratch("boot-order");
    write_exec(&dir, "stamp", "#!/bin/sh\necho \"$1\" >> @DIR@/order\n");
    write(
        &dir,
        "epoch.conf",
        "DefaultRunlevel default\nRunlevelInherits default base\nMountVirtual procfs\n\
         ObjectID late\nObjectStartCommand @DIR@/stamp late\nObjectStartPriority 3\nObjectRunlevels default\n\
         ObjectID first\nObjectStartCommand @DIR@/stamp first\nObjectStartPriority 1\nObjectRunlevels base\n\
         ObjectID svc\nObjectStartCommand /bin/sleep 600\nObjectStartPriority 2\nObjectStopPriority 1\nObjectRunlevels default\nObjectOptions FORK\n\
         ObjectID never\nObjectStartCommand @DIR@/stamp never\nObjectStartPriority 0\nObjectRunlevels default\n",
    );
    let p = Pid1::boot(&dir, &[]);
    p.wait_console("iocinit: ready", Duration::from_secs(10));
    assert_eq!(std::fs::read_to_string(dir.join("order")).unwrap(), "first\nlate\n");
    assert_eq!(p.state("svc"), "running");
    assert_eq!(p.state("never"), "stopped");
    let console = p.poweroff();
    assert!(console.contains("Stopping svc ... Done"), "{console}");
    assert!(console.contains("iocinit: all processes ended"), "{console}");
}

#[test]
fn a_hung_start_command_does_not_block_control() {
    let dir = scratch("hung-start");
    write(
        &dir,
        "epoch.conf",
        "DefaultRunlevel default\nMountVirtual procfs\n\
         ObjectID hang\nObjectStartCommand /bin/sleep 600\nObjectStartPriority 1\nObjectRunlevels default\nObjectStopPriority 1\n\
         ObjectID other\nObjectStartCommand /bin/true\nObjectStartPriority 0\nObjectRunlevels default\n",
    );
    let p = Pid1::boot(&dir, &[]);
    p.wait_state("hang", "starting", Duration::from_secs(5));
    // status answers and other objects start while the start command hangs.
    let out = p.ctl(&["start", "other"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(p.state("other"), "done");
    assert_eq!(p.state("hang"), "starting");
    p.poweroff();
}
