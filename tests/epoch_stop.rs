//! Stopping, HALTONLY and RUNONCE as Epoch's reference (seed 003) says, with
//! iocinit as PID 1 of a PID namespace (issue 12, items 1, 2, 3 and 7):
//! - STOPTIMEOUT is the wait for the object's process: a stop command runs to
//!   completion, and only `StopCommandTimeout` (an extension, which
//!   `--strict-epoch` rejects) bounds it, killing the command's whole
//!   process group;
//! - a disabled HALTONLY object (ObjectEnabled false, `disable`, RUNONCE
//!   after its first run) does not run at shutdown, and the shutdown says so;
//! - NOSTOPWAIT skips the wait for the process, never the stop command;
//! - RUNONCE disables an object only after a start that succeeded.
//!
//! Limits are short (a 3 s stop command against STOPTIMEOUT=1) so the tests
//! stay quick; every wait is for a condition, with generous timeouts.

mod ns;

use std::time::Duration;

use ns::{ok, read, scratch, wait_for, write, write_exec, Pid1, BIN};

const T: Duration = Duration::from_secs(20);

/// A FORK service `svc` that writes its pid to `svc.pid` and then sleeps.
fn service(dir: &std::path::Path) {
    write_exec(dir, "svc", "#!/bin/sh\necho $$ > @DIR@/svc.pid\nexec sleep 600\n");
}

fn wait_file(dir: &std::path::Path, rel: &str, content: &str) {
    assert!(wait_for(T, || read(dir, rel).contains(content)), "{rel} never held {content:?}: {:?}", read(dir, rel));
}

#[test]
fn a_stop_command_runs_to_completion_past_stoptimeout() {
    let dir = scratch("estop-complete");
    service(&dir);
    write(
        &dir,
        "epoch.conf",
        "DefaultRunlevel default\n\
         ObjectID s\nObjectStartCommand @DIR@/svc\nObjectStartPriority 1\nObjectRunlevels default\n\
         ObjectStopCommand /bin/sh -c 'sleep 3; kill $(cat @DIR@/svc.pid); echo stopped >> @DIR@/stop.log'\n\
         ObjectOptions FORK STOPTIMEOUT=1\n\
         ObjectID backup\nObjectStopCommand /bin/sh -c 'sleep 3; echo done >> @DIR@/backup.log'\n\
         ObjectStopPriority 1\nObjectOptions HALTONLY STOPTIMEOUT=1 STOPFAILCRITICAL\n",
    );
    let p = Pid1::boot(&dir, &[]);
    wait_file(&dir, "svc.pid", "\n");
    // The stop command ends the service after 3 s: not cut off at 1 s.
    assert_eq!(ok(p.ctl(&["stop", "s"])), "Stopping s ... Done\n");
    assert_eq!(read(&dir, "stop.log"), "stopped\n");
    assert_eq!(p.status("s")["last_exit"], "killed by SIGTERM");
    // HALTONLY: the backup completes at shutdown, and nothing is critical.
    let console = p.poweroff();
    assert_eq!(read(&dir, "backup.log"), "done\n");
    assert!(console.contains("Stopping backup ... Done"), "{console}");
    assert!(!console.contains("STOPFAILCRITICAL"), "{console}");
}

#[test]
fn stopcommandtimeout_kills_the_whole_group_of_a_stop_command() {
    let dir = scratch("estop-limit");
    service(&dir);
    write(
        &dir,
        "epoch.conf",
        "DefaultRunlevel default\nStopCommandTimeout 1\n\
         ObjectID s\nObjectStartCommand @DIR@/svc\nObjectStartPriority 1\nObjectRunlevels default\n\
         ObjectStopCommand /bin/sh -c 'sleep 700 & echo $! > @DIR@/child.pid; sleep 701'\n\
         ObjectOptions FORK STOPTIMEOUT=1\n",
    );
    // --strict-epoch refuses the extension.
    let check = std::process::Command::new(BIN)
        .args(["check-config", "--strict-epoch", "--config"])
        .arg(dir.join("epoch.conf"))
        .output()
        .unwrap();
    assert_eq!(check.status.code(), Some(1), "{check:?}");
    assert!(String::from_utf8_lossy(&check.stderr).contains("StopCommandTimeout is an iocinit extension, rejected by --strict-epoch"));

    let mut p = Pid1::boot(&dir, &[]);
    wait_file(&dir, "svc.pid", "\n");
    let fds = p.fds_at_rest();
    let out = p.ctl(&["stop", "s"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "Stopping s ... FAIL (stop command did not end within 1 s: killed)\n");
    p.wait_console("s: stop command did not end within 1 s (StopCommandTimeout)", T);
    // The shell's background child went with it, and STOPTIMEOUT then
    // ended the service (SIGKILL: nothing else stopped it).
    let child = read(&dir, "child.pid");
    assert!(!child.trim().is_empty());
    assert!(p.find_process("sleep 700").is_none() && p.find_process("sleep 701").is_none(), "{:?}", p.processes());
    assert_eq!(p.state("s"), "stopped");
    assert_eq!(p.status("s")["last_exit"], "killed by SIGKILL");
    p.assert_healthy(fds);
    p.poweroff();
}

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
    let console = p.poweroff();
    // What the shutdown leaves out is said on the console.
    let skipped = |console: &str| -> Vec<String> {
        let mut ids: Vec<String> =
            console.lines().filter_map(|l| l.split_once(": HALTONLY and disabled: not run at shutdown")).map(|(id, _)| id.rsplit(' ').next().unwrap().to_string()).collect();
        ids.sort();
        ids
    };
    assert_eq!(skipped(&console), ["bytheuser", "off"], "{console}");
    let mut ran: Vec<String> = read(&dir, "ran").lines().map(String::from).collect();
    ran.sort();
    assert_eq!(ran, ["always", "once"]);
    // RUNONCE disabled it after that stop: the next shutdown skips it.
    std::fs::remove_file(dir.join("ran")).unwrap();
    let p = Pid1::boot(&dir, &[]);
    p.wait_console("iocinit: ready", T);
    assert_eq!(p.status("once")["enabled"], false);
    let console = p.poweroff();
    assert_eq!(read(&dir, "ran"), "always\n");
    assert_eq!(skipped(&console), ["bytheuser", "off", "once"], "{console}");
}

#[test]
fn nostopwait_still_runs_the_stop_command_to_completion_in_order() {
    let dir = scratch("estop-nostopwait");
    service(&dir);
    write(
        &dir,
        "epoch.conf",
        "DefaultRunlevel default\n\
         ObjectID s\nObjectStartCommand @DIR@/svc\nObjectStartPriority 1\nObjectRunlevels default\n\
         ObjectStopCommand /bin/sh -c 'sleep 3; echo s-stopped >> @DIR@/order'\nObjectStopPriority 1\n\
         ObjectOptions FORK NOSTOPWAIT\n\
         ObjectID t\nObjectStopCommand /bin/sh -c 'echo t-stopped >> @DIR@/order'\nObjectStopPriority 2\n\
         ObjectOptions HALTONLY\n",
    );
    let p = Pid1::boot(&dir, &[]);
    wait_file(&dir, "svc.pid", "\n");
    let console = p.poweroff();
    // Stop priority 2 waited for the whole stop command of priority 1.
    assert_eq!(read(&dir, "order"), "s-stopped\nt-stopped\n", "{console}");
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
