//! PID 1 in a PID namespace: how objects are tracked and what Ctrl-Alt-Del
//! does, as Epoch's reference (seed 003) says (issue 12, items 4, 5, 6, 10).
//! - ObjectPIDFile that never names a live process: the wait is bounded
//!   (`PIDFileTimeout`), the start ends with WARN, and what was started stays
//!   the object's, so `epoch stop` and the shutdown still stop it.
//! - NOTRACK: only the launch is not tracked; the pid file, then /proc, find
//!   the object's process afterwards, so stops and runlevel changes end it.
//! - DisableCAD true: Ctrl-Alt-Del (SIGINT to PID 1) during the boot or the
//!   shutdown kills the hung start or stop and goes on; idle, or pressed twice
//!   within 5 s during the boot, it reboots.
//! - `status` names the group the start command really runs with.

mod ns;

use std::time::Duration;

use ns::{ok, read, scratch, wait_for, write, write_exec, Pid1};

const T: Duration = Duration::from_secs(20);

fn alive(p: &Pid1, pid: i64) -> bool {
    p.run("/bin/kill", &["-0", &pid.to_string()]).status.success()
}

/// The namespace pid that `dir/rel` holds once it holds one.
fn pid_in(dir: &std::path::Path, rel: &str) -> i64 {
    let mut pid = None;
    let found = wait_for(T, || {
        pid = read(dir, rel).trim().parse().ok();
        pid.is_some()
    });
    assert!(found, "{rel} never held a pid");
    pid.unwrap()
}

#[test]
fn status_shows_the_primary_group_of_objectuser() {
    // The test user (idempotent; the ioc_* tests install it too, but they
    // may run later: a fresh machine has none).
    let users = std::process::Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/install-test-users")).status().unwrap();
    assert!(users.success(), "tests/support/install-test-users: {users}");
    let dir = scratch("track-group");
    write(
        &dir,
        "epoch.conf",
        "DefaultRunlevel default\n\
         ObjectID u\nObjectStartCommand /bin/sleep 611\nObjectStartPriority 1\nObjectRunlevels default\nObjectOptions FORK\n\
         ObjectUser iocit-srv\n",
    );
    let p = Pid1::boot(&dir, &[]);
    p.wait_state("u", "running", T);
    let primary = nix::unistd::Group::from_gid(nix::unistd::User::from_name("iocit-srv").unwrap().unwrap().gid).unwrap().unwrap().name;
    // What the process runs with...
    let pid = p.pid("u").unwrap();
    let gid = ok(p.run("/bin/sh", &["-c", &format!("grep ^Gid: /proc/{pid}/status")]));
    let gid: u32 = gid.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert_eq!(nix::unistd::Group::from_gid(gid.into()).unwrap().unwrap().name, primary);
    // ...is what status shows, in JSON and in Epoch's block.
    assert_eq!(p.status("u")["group"], primary.as_str());
    let text = ok(p.run(p.bin.join("epoch").to_str().unwrap(), &["status", "u"]));
    let line = text.lines().find(|l| l.starts_with("Group:")).unwrap_or_else(|| panic!("{text}"));
    assert_eq!(line.split_whitespace().nth(1), Some(primary.as_str()), "{text}");
    p.poweroff();
}

#[test]
fn a_pid_file_that_never_comes_ends_with_warn_and_what_was_started_is_still_stopped() {
    let dir = scratch("track-pidfile");
    // A daemon that forgets its pid file: its starter exits at once, leaving
    // it to PID 1.
    write_exec(&dir, "daemon", "#!/bin/sh\n/bin/sleep 613 &\necho $! > @DIR@/dm.real\nexit 0\n");
    write(
        &dir,
        "epoch.conf",
        "DefaultRunlevel default\nPIDFileTimeout 1\n\
         ObjectID fk\nObjectStartCommand /bin/sleep 612\nObjectStartPriority 1\nObjectStopPriority 1\nObjectRunlevels default\n\
         ObjectOptions FORK\nObjectPIDFile @DIR@/fk.pid\nObjectStopCommand PIDFILE\n\
         ObjectID dm\nObjectStartCommand @DIR@/daemon\nObjectStartPriority 1\nObjectStopPriority 1\nObjectRunlevels default\n\
         ObjectPIDFile @DIR@/dm.pid\n\
         ObjectID later\nObjectStartCommand /bin/true\nObjectStartPriority 2\nObjectRunlevels default\n",
    );
    let p = Pid1::boot(&dir, &[]);
    p.wait_console("iocinit: ready", T);
    let console = p.console();
    for line in ["Starting fk ... WARN", "Starting dm ... WARN", "Starting later ... Done"] {
        assert!(console.contains(line), "no {line:?} in:\n{console}");
    }
    // Both still follow what they started: the FORK process, the daemon.
    let fk = p.status("fk");
    assert_eq!((fk["state"].as_str(), fk["outcome"].as_str()), (Some("running"), Some("WARN")), "{fk}");
    assert!(fk["note"].as_str().unwrap_or("").contains("no live pid in ObjectPIDFile after 1 s"), "{fk}");
    let fk_pid = fk["pid"].as_i64().expect("fk follows its process");
    assert_eq!(p.find_process("sleep 612"), Some(fk_pid));
    let daemon = pid_in(&dir, "dm.real");
    assert_eq!(p.pid("dm"), Some(daemon), "{}", p.status("dm"));
    // `epoch stop` ends them, and says so truthfully.
    let out = ok(p.ctl(&["stop", "fk"]));
    assert!(out.contains("Stopping fk ..."), "{out}");
    assert!(wait_for(T, || !alive(&p, fk_pid)), "sleep 612 runs on");
    assert_eq!(p.state("fk"), "stopped");
    let out = ok(p.ctl(&["stop", "dm"]));
    assert!(out.contains("Stopping dm ... Done"), "{out}");
    assert!(!alive(&p, daemon), "the daemon {daemon} runs on");
    p.poweroff();
}

#[test]
fn a_daemon_without_its_pid_file_is_stopped_by_its_object_at_shutdown() {
    let dir = scratch("track-pidfile-shutdown");
    // A daemon that never writes its pid file and says which signal ended
    // it: TERMSIGNAL (SIGUSR2) comes from its object's stop only, the final
    // SIGTERM to everything from no object.
    write_exec(
        &dir,
        "daemon",
        "#!/bin/sh\n/bin/sh -c 'trap \"echo usr2 > @DIR@/signalled; exit 0\" USR2; echo $$ > @DIR@/dm.real; \
         while :; do sleep 0.05; done' > /dev/null &\nexit 0\n",
    );
    write(
        &dir,
        "epoch.conf",
        "DefaultRunlevel default\nPIDFileTimeout 1\n\
         ObjectID dm\nObjectStartCommand @DIR@/daemon\nObjectStartPriority 1\nObjectStopPriority 1\nObjectRunlevels default\n\
         ObjectPIDFile @DIR@/dm.pid\nObjectOptions TERMSIGNAL=SIGUSR2\n",
    );
    let p = Pid1::boot(&dir, &[]);
    p.wait_console("Starting dm ... WARN", T);
    let daemon = pid_in(&dir, "dm.real");
    assert_eq!(p.pid("dm"), Some(daemon), "{}", p.status("dm"));
    let console = p.poweroff();
    assert!(console.contains("Stopping dm ... Done"), "{console}");
    assert_eq!(read(&dir, "signalled"), "usr2\n", "the daemon was not stopped by its object");
}

#[test]
fn notrack_objects_are_found_after_their_start_and_stopped() {
    let dir = scratch("track-notrack");
    // A daemon starting two processes, naming the second in its pid file
    // before its starter exits (once it runs `sleep`, not a shell in the
    // middle of its exec): the pid file, not /proc, says which one.
    write_exec(
        &dir,
        "daemon",
        "#!/bin/sh\n/bin/sleep 616 &\n/bin/sleep 615 &\necho $! > @DIR@/nd.pid\n\
         while ! grep -q 615 /proc/$!/cmdline; do sleep 0.01; done\nexit 0\n",
    );
    write(
        &dir,
        "epoch.conf",
        "DefaultRunlevel default\n\
         ObjectID nt\nObjectStartCommand /bin/sleep 614\nObjectStartPriority 1\nObjectStopPriority 1\nObjectRunlevels default\n\
         ObjectOptions FORK NOTRACK\n\
         ObjectID nd\nObjectStartCommand @DIR@/daemon\nObjectStartPriority 1\nObjectStopPriority 1\nObjectRunlevels default\n\
         ObjectOptions NOTRACK\nObjectPIDFile @DIR@/nd.pid\n\
         ObjectID other\nObjectStartCommand /bin/true\nObjectStartPriority 1\nObjectRunlevels other\n",
    );
    let p = Pid1::boot(&dir, &[]);
    p.wait_console("iocinit: ready", T);
    // Found once started: the FORK process, the process the pid file names.
    let nt = p.pid("nt").expect("nt's process is tracked");
    assert_eq!(p.find_process("sleep 614"), Some(nt));
    let named = pid_in(&dir, "nd.pid");
    assert_eq!(p.pid("nd"), Some(named), "{}", p.status("nd"));
    // `epoch stop` stops the process, not only the object.
    let out = ok(p.ctl(&["stop", "nt"]));
    assert!(out.contains("Stopping nt ... Done"), "{out}");
    assert!(!alive(&p, nt), "sleep 614 runs on after the stop");
    // A runlevel change stops them too.
    ok(p.ctl(&["start", "nt"]));
    let nt = p.pid("nt").expect("nt's process is tracked again");
    ok(p.ctl(&["runlevel", "other"]));
    p.wait_state("nt", "stopped", T);
    p.wait_state("nd", "stopped", T);
    assert!(wait_for(T, || !alive(&p, nt) && !alive(&p, named)), "a NOTRACK process outlived the runlevel change");
    p.poweroff();
}

/// Ctrl-Alt-Del as the kernel reports it to init (DisableCAD true): SIGINT.
fn ctrl_alt_del(p: &Pid1) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(p.host_pid), nix::sys::signal::Signal::SIGINT).unwrap();
}

#[test]
fn ctrl_alt_del_during_the_boot_kills_the_hung_start_and_when_idle_reboots() {
    use std::os::unix::process::ExitStatusExt;
    let dir = scratch("track-cad-boot");
    write(
        &dir,
        "epoch.conf",
        "DefaultRunlevel default\nDisableCAD true\n\
         ObjectID hung\nObjectStartCommand /bin/sleep 621\nObjectStartPriority 1\nObjectRunlevels default\n\
         ObjectID next\nObjectStartCommand /bin/true\nObjectStartPriority 2\nObjectRunlevels default\n",
    );
    let mut p = Pid1::boot(&dir, &[]);
    p.wait_state("hung", "starting", T);
    ctrl_alt_del(&p);
    // The hung start is killed and the boot goes on; no reboot.
    p.wait_console("iocinit: ready", T);
    let console = p.console();
    assert!(console.contains("Starting hung ... FAIL") && console.contains("Starting next ... Done"), "{console}");
    assert!(!console.contains("going down"), "{console}");
    assert_eq!(p.find_process("sleep 621"), None);
    assert!(p.alive());
    // Idle: a reboot (which ends the namespace with SIGHUP).
    ctrl_alt_del(&p);
    let status = p.wait_exit(T);
    assert_eq!(status.signal(), Some(libc::SIGHUP), "a reboot ends the namespace with SIGHUP: {status:?}");
    assert!(p.console().contains("system going down for reboot"), "{}", p.console());
}

#[test]
fn ctrl_alt_del_pressed_twice_within_5_s_during_the_boot_reboots() {
    use std::os::unix::process::ExitStatusExt;
    let dir = scratch("track-cad-twice");
    write(
        &dir,
        "epoch.conf",
        "DefaultRunlevel default\nDisableCAD true\n\
         ObjectID hung1\nObjectStartCommand /bin/sleep 624\nObjectStartPriority 1\nObjectRunlevels default\n\
         ObjectID hung2\nObjectStartCommand /bin/sleep 625\nObjectStartPriority 2\nObjectRunlevels default\n",
    );
    let mut p = Pid1::boot(&dir, &[]);
    p.wait_state("hung1", "starting", T);
    ctrl_alt_del(&p);
    // The first press killed hung1's start; the boot went on. The second
    // comes after PID 1 has handled the first (two pending SIGINTs are
    // one), well within the 5 s.
    p.wait_state("hung2", "starting", T);
    assert!(p.console().contains("Starting hung1 ... FAIL"), "{}", p.console());
    ctrl_alt_del(&p);
    let status = p.wait_exit(T);
    assert_eq!(status.signal(), Some(libc::SIGHUP), "a reboot ends the namespace with SIGHUP: {status:?}");
    let console = p.console();
    assert!(console.contains("system going down for reboot") && !console.contains("iocinit: ready"), "{console}");
}

#[test]
fn ctrl_alt_del_during_the_shutdown_kills_the_hung_stop_and_the_shutdown_goes_on() {
    use std::os::unix::process::ExitStatusExt;
    let dir = scratch("track-cad-shutdown");
    write(
        &dir,
        "epoch.conf",
        "DefaultRunlevel default\nDisableCAD true\n\
         ObjectID slow\nObjectStartCommand /bin/sleep 623\nObjectStartPriority 1\nObjectStopPriority 1\nObjectRunlevels default\n\
         ObjectOptions FORK STOPTIMEOUT=600\nObjectStopCommand /bin/sleep 622\n\
         ObjectID after\nObjectStartCommand /bin/sleep 626\nObjectStartPriority 1\nObjectStopPriority 2\nObjectRunlevels default\n\
         ObjectOptions FORK\nObjectStopCommand /bin/sh -c 'echo stopped > @DIR@/after.stopped; kill $(cat @DIR@/after.pid)'\n",
    );
    let mut p = Pid1::boot(&dir, &[]);
    p.wait_console("iocinit: ready", T);
    std::fs::write(dir.join("after.pid"), p.pid("after").unwrap().to_string()).unwrap();
    let mut poweroff = p.inside(p.bin.join("poweroff").to_str().unwrap(), &[]).spawn().unwrap();
    assert!(wait_for(T, || p.find_process("sleep 622").is_some()), "the stop command never ran");
    ctrl_alt_del(&p);
    // The hung stop command (and the process it waited for) is killed; the
    // next stop priority runs, and the power off is not turned into a reboot.
    let status = p.wait_exit(T);
    let _ = poweroff.wait();
    assert_eq!(status.signal(), Some(libc::SIGINT), "a power off ends the namespace with SIGINT: {status:?}");
    let console = p.console();
    assert!(console.contains("Stopping slow ... FAIL") && console.contains("Stopping after ... Done"), "{console}");
    assert_eq!(read(&dir, "after.stopped"), "stopped\n");
}
