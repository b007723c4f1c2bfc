//! IOC log rotation by PID 1 (IocLogMaxSize, IocLogKeep) with Debian's
//! procServ. The "IOC" is a shell loop that logs a line every few ms: this
//! test is about procServ's log file, not EPICS.

mod ns;

use std::time::Duration;

use ns::{scratch, wait_for, write, write_exec, Pid1};

#[test]
fn a_chatty_ioc_log_is_rotated_and_procserv_reopens_it() {
    let dir = scratch("logrotate");
    write_exec(&dir, "ioc/chatty.sh", "#!/bin/sh\necho 'iocRun: All initialization complete'\nn=0\nwhile :; do n=$((n+1)); echo \"line $n: some IOC output padding padding padding\"; sleep 0.005; done\n");
    write(&dir, "ioc/chatty.conf", "IOC_NAME=\"chatty\"\nIOC_USER=\"root\"\nIOC_GROUP=\"root\"\nIOC_CHDIR=\"@DIR@/ioc\"\nIOC_CMD=\"./chatty.sh\"\n");
    write(
        &dir,
        "epoch.conf",
        "DefaultRunlevel default\nMountVirtual procfs\nIocDirectory @DIR@/ioc\nIocLogDirectory @DIR@/log\n\
         IocGroup root\nIocLogMaxSize 4K\nIocLogKeep 2\nIocEnabled true\n\
         ObjectID placeholder\nObjectStartCommand /bin/true\nObjectStartPriority 1\nObjectRunlevels default\n",
    );
    let p = Pid1::boot(&dir, &[]);
    p.wait_state("chatty", "running", Duration::from_secs(10));
    let log = dir.join("log/chatty.log");
    // The first rotation happens on the first write over 4K.
    assert!(wait_for(Duration::from_secs(10), || dir.join("log/chatty.log.1").exists()), "no rotation:\n{}", p.console());
    // procServ reopened: the fresh log grows again.
    assert!(wait_for(Duration::from_secs(5), || std::fs::metadata(&log).map(|m| m.len() > 0).unwrap_or(false)));
    // Within a cooldown (2 s) the log is checked again: a second rotation
    // comes, and never more than IocLogKeep files are kept.
    assert!(wait_for(Duration::from_secs(10), || dir.join("log/chatty.log.2").exists()), "no second rotation:\n{}", p.console());
    assert!(!dir.join("log/chatty.log.3").exists());
    assert!(p.console().contains("chatty: log rotated"));
    p.poweroff();
}
