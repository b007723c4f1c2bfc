//! PID 1 in a PID namespace, one scenario per ObjectOptions value and per
//! object attribute that changes how an object runs (seed 003): FORK and
//! waiting starts, FORKN, PIDFILE and SERVICE tracking, AUTORESTART, stop
//! methods and their timeouts, HALTONLY, RUNONCE, PERSISTENT, MAPEXITSTATUS,
//! prestart, status line formats, credentials, directories, output,
//! environment, FORCESHELL, and the two *FAILCRITICAL options.

mod ns;

use std::time::{Duration, Instant};

use ns::{ok, read, scratch, wait_for, write, write_exec, Pid1};

const T: Duration = Duration::from_secs(10);

/// Waits until `dir/rel` holds `content` (a whole line: "\n").
fn wait_file(dir: &std::path::Path, rel: &str, content: &str) {
    let path = dir.join(rel);
    let ok = wait_for(T, || std::fs::read_to_string(&path).is_ok_and(|s| s.contains(content)));
    assert!(ok, "{} never held {content:?}; it holds {:?}", path.display(), read(dir, rel));
}

/// The command line of a namespace process, NUL separators as spaces.
fn cmdline(p: &Pid1, pid: i64) -> String {
    ok(p.run("/bin/cat", &[&format!("/proc/{pid}/cmdline")])).replace('\0', " ").trim().to_string()
}

fn alive(p: &Pid1, pid: i64) -> bool {
    p.run("/bin/kill", &["-0", &pid.to_string()]).status.success()
}

#[test]
fn fork_starts_do_not_hold_the_next_priority_but_plain_starts_do() {
    let dir = scratch("opt-fork");
    write(
        &dir,
        "epoch.conf",
        "DefaultRunlevel default\n\
         ObjectID bg\nObjectStartCommand /bin/sleep 600\nObjectStartPriority 1\nObjectRunlevels default\nObjectOptions FORK\n\
         ObjectID gated\nObjectStartCommand /bin/sh -c 'while [ ! -e @DIR@/gate ]; do sleep 0.01; done; echo gated >> @DIR@/order'\n\
         ObjectStartPriority 2\nObjectRunlevels default\n\
         ObjectID after\nObjectStartCommand /bin/sh -c 'echo after >> @DIR@/order'\nObjectStartPriority 3\nObjectRunlevels default\n",
    );
    let p = Pid1::boot(&dir, &[]);
    // The FORK object of priority 1 never exits, yet priority 2 started.
    p.wait_state("gated", "starting", T);
    assert_eq!(p.state("bg"), "running");
    // A plain start command is waited for: priority 3 has not started.
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(p.state("after"), "stopped");
    assert_eq!(read(&dir, "order"), "");
    std::fs::write(dir.join("gate"), "").unwrap();
    p.wait_state("after", "done", T);
    assert_eq!(read(&dir, "order"), "gated\nafter\n");
    assert_eq!(p.state("gated"), "done");
    p.wait_console("iocinit: ready", T);
    p.poweroff();
}

#[test]
fn forkn_is_started_and_not_followed() {
    let dir = scratch("opt-forkn");
    let cmd = "/bin/sh -c 'sleep 0.3; echo $$ > @DIR@/@ID@.exited'";
    write(
        &dir,
        "epoch.conf",
        &format!(
            "DefaultRunlevel default\n\
             ObjectID quick\nObjectStartCommand {}\nObjectStartPriority 1\nObjectRunlevels default\nObjectOptions FORKN\n\
             ObjectID tracked\nObjectStartCommand {}\nObjectStartPriority 1\nObjectRunlevels default\nObjectOptions FORK\n",
            cmd.replace("@ID@", "quick"),
            cmd.replace("@ID@", "tracked")
        ),
    );
    let p = Pid1::boot(&dir, &[]);
    // FORKN: done at once, no pid followed.
    let quick = p.status("quick");
    assert_eq!(quick["state"], "done");
    assert!(quick["pid"].is_null(), "{quick}");
    // FORK: followed until its process exits.
    assert_eq!(p.state("tracked"), "running");
    wait_file(&dir, "quick.exited", "\n");
    wait_file(&dir, "tracked.exited", "\n");
    p.wait_state("tracked", "stopped", T);
    assert_eq!(p.status("tracked")["last_exit"], "exit code 0");
    // The FORKN command's exit changed nothing.
    assert_eq!(p.state("quick"), "done");
    p.poweroff();
}

#[test]
fn pidfile_follows_a_daemon_that_double_forks() {
    let dir = scratch("opt-pidfile");
    // Forks a daemon, which writes its pid file only once the gate is there,
    // and exits at once: the start command succeeds before the pid file exists.
    write_exec(
        &dir,
        "daemon",
        "#!/bin/sh\n( sleep 600 & while [ ! -e @DIR@/gate ]; do sleep 0.01; done; echo $! > @DIR@/daemon.pid ) > /dev/null &\nexit 0\n",
    );
    write(
        &dir,
        "epoch.conf",
        "DefaultRunlevel default\n\
         ObjectID d\nObjectStartCommand @DIR@/daemon\nObjectStartPriority 1\nObjectStopPriority 1\nObjectRunlevels default\n\
         ObjectPIDFile @DIR@/daemon.pid\nObjectStopCommand PIDFILE\n\
         ObjectID later\nObjectStartCommand /bin/true\nObjectStartPriority 2\nObjectRunlevels default\n",
    );
    let p = Pid1::boot(&dir, &[]);
    p.wait_state("d", "waiting-pidfile", T);
    // Objects wait for their pid file before the boot moves on.
    assert_eq!(p.state("later"), "stopped");
    std::fs::write(dir.join("gate"), "").unwrap();
    p.wait_state("d", "running", T);
    let pid = p.pid("d").expect("a pid");
    assert_eq!(read(&dir, "daemon.pid").trim(), pid.to_string());
    assert_eq!(cmdline(&p, pid), "sleep 600");
    p.wait_state("later", "done", T);
    let out = ok(p.ctl(&["stop", "d"]));
    assert!(out.contains("Stopping d ... Done"), "{out}");
    assert_eq!(p.state("d"), "stopped");
    assert!(!alive(&p, pid), "the daemon {pid} is still there");
    p.poweroff();
}

#[test]
fn service_finds_its_daemon_without_a_pid_file() {
    let dir = scratch("opt-service");
    let mut conf = String::from("DefaultRunlevel default\n");
    for id in ["one", "two"] {
        conf += &format!(
            "ObjectID {id}\nObjectStartCommand /bin/sh -c '(sleep 60{n} &)'\nObjectStartPriority 1\nObjectRunlevels default\n\
             ObjectOptions SERVICE\n",
            n = if id == "one" { 1 } else { 2 }
        );
    }
    write(&dir, "epoch.conf", &conf);
    let p = Pid1::boot(&dir, &[]);
    p.wait_state("one", "running", T);
    p.wait_state("two", "running", T);
    let (one, two) = (p.pid("one").unwrap(), p.pid("two").unwrap());
    assert_eq!(cmdline(&p, one), "sleep 601");
    assert_eq!(cmdline(&p, two), "sleep 602");
    ok(p.ctl(&["stop", "one"]));
    assert!(!alive(&p, one));
    assert!(alive(&p, two));
    assert_eq!(p.state("two"), "running");
    p.poweroff();
}

#[test]
fn autorestart_backs_off_then_shows_crashed_until_started() {
    let dir = scratch("opt-autorestart");
    write(
        &dir,
        "epoch.conf",
        "DefaultRunlevel default\n\
         ObjectID flaky\nObjectStartCommand /bin/sh -c 'date +%s%N >> @DIR@/starts; exit 1'\nObjectStartPriority 1\n\
         ObjectRunlevels default\nObjectOptions FORK AUTORESTART\n",
    );
    let p = Pid1::boot(&dir, &[]);
    let starts = |n: usize| {
        let text = read(&dir, "starts");
        let v: Vec<u64> = text.lines().filter_map(|l| l.parse().ok()).collect();
        (v.len() >= n).then_some(v)
    };
    let mut times = Vec::new();
    assert!(wait_for(Duration::from_secs(15), || starts(5).map(|v| times = v).is_some()), "{}", p.console());
    // Delays double from 250 ms: 250, 500, 1000, 2000 ms (plus the time to
    // run a shell and reap it).
    for (k, nominal) in [250u64, 500, 1000, 2000].into_iter().enumerate() {
        let gap = (times[k + 1] - times[k]) / 1_000_000;
        assert!(gap >= nominal && gap < nominal + 250, "restart {} came after {gap} ms, expected {nominal} ms", k + 1);
    }
    let st = p.status("flaky");
    assert!(st["restarts"].as_u64().unwrap() >= 4, "{st}");
    // Skip the growing waits: a manual start during the backoff restarts at
    // once but keeps counting fast failures; the 10th gives up.
    let ok_crashed = wait_for(Duration::from_secs(20), || match p.state("flaky").as_str() {
        "crashed" => true,
        "restarting" => {
            let _ = p.ctl(&["start", "flaky"]);
            false
        }
        _ => false,
    });
    assert!(ok_crashed, "never crashed; console:\n{}", p.console());
    let st = p.status("flaky");
    assert!(st["note"].as_str().unwrap().contains("crashed"), "{st}");
    assert!(ok(p.ctl(&["status"])).contains("crashed"));
    p.wait_console("flaky: crashed: 10 failures in a row", T);
    // Crashed means no more restarts...
    let before = read(&dir, "starts").lines().count();
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(read(&dir, "starts").lines().count(), before);
    // ...until someone starts it.
    ok(p.ctl(&["start", "flaky"]));
    assert!(wait_for(T, || read(&dir, "starts").lines().count() > before));
    ok(p.ctl(&["stop", "flaky"]));
    p.poweroff();
}

#[test]
fn restart_fast_failure_and_restart_crash_limit_set_the_restart_policy() {
    let dir = scratch("opt-restart-policy");
    write(
        &dir,
        "epoch.conf",
        "RestartFastFailure 1\nRestartCrashLimit 2\nDefaultRunlevel default\n\
         ObjectID svc\nObjectStartCommand /bin/sleep 603\nObjectStartPriority 1\nObjectRunlevels default\nObjectOptions FORK AUTORESTART\n\
         ObjectID flaky\nObjectStartCommand /bin/sh -c 'exit 1'\nObjectStartPriority 1\nObjectRunlevels default\nObjectOptions FORK AUTORESTART\n",
    );
    let p = Pid1::boot(&dir, &[]);
    p.wait_state("svc", "running", T);
    let first = p.pid("svc").unwrap();
    // It has run more than RestartFastFailure (1 s; 10 s by default): a
    // normal run, so its death restarts it at once, without a backoff.
    std::thread::sleep(Duration::from_millis(1500));
    ok(p.run("/bin/kill", &["-9", &first.to_string()]));
    assert!(wait_for(T, || p.pid("svc").is_some_and(|pid| pid != first)), "{}", p.console());
    assert_eq!(p.state("svc"), "running");
    assert!(!p.console().contains("svc: restarting in"), "a backoff after a normal run:\n{}", p.console());
    // Two fast failures in a row (RestartCrashLimit 2, 10 by default) and
    // the object is crashed.
    p.wait_console("flaky: crashed: 2 failures in a row", T);
    assert_eq!(p.state("flaky"), "crashed");
    p.poweroff();
}

/// A FORK service that ignores SIGTERM and records the signals it gets.
fn stubborn(dir: &std::path::Path) {
    write_exec(
        dir,
        "stubborn",
        "#!/bin/sh\ntrap 'echo USR1 >> @DIR@/signals; exit 0' USR1\ntrap 'echo TERM >> @DIR@/signals' TERM\n\
         echo $$ > @DIR@/stubborn.pid\nwhile :; do sleep 0.05; done\n",
    );
}

#[test]
fn stop_escalates_to_sigkill_after_stoptimeout() {
    let dir = scratch("opt-stoptimeout");
    stubborn(&dir);
    write(
        &dir,
        "epoch.conf",
        "DefaultRunlevel default\n\
         ObjectID s\nObjectStartCommand @DIR@/stubborn\nObjectStartPriority 1\nObjectRunlevels default\n\
         ObjectStopCommand PID\nObjectOptions FORK STOPTIMEOUT=1\n",
    );
    let p = Pid1::boot(&dir, &[]);
    wait_file(&dir, "stubborn.pid", "\n");
    let t0 = Instant::now();
    let out = p.ctl(&["stop", "s"]);
    let took = t0.elapsed();
    // Stopped with a warning and its reason (exit 0).
    assert_eq!(ok(out), "Stopping s ... WARN (did not stop in time: killed)\n");
    assert!(took >= Duration::from_millis(950) && took < Duration::from_secs(4), "stop took {took:?}");
    assert_eq!(p.state("s"), "stopped");
    assert_eq!(p.status("s")["last_exit"], "killed by SIGKILL");
    assert!(read(&dir, "signals").contains("TERM"));
    p.wait_console("s: did not stop in time; sending SIGKILL", T);
    p.poweroff();
}

#[test]
fn termsignal_replaces_sigterm() {
    let dir = scratch("opt-termsignal");
    stubborn(&dir);
    write(
        &dir,
        "epoch.conf",
        "DefaultRunlevel default\n\
         ObjectID s\nObjectStartCommand @DIR@/stubborn\nObjectStartPriority 1\nObjectRunlevels default\n\
         ObjectStopCommand PID\nObjectOptions FORK TERMSIGNAL=SIGUSR1 STOPTIMEOUT=5\n",
    );
    let p = Pid1::boot(&dir, &[]);
    wait_file(&dir, "stubborn.pid", "\n");
    let t0 = Instant::now();
    let out = ok(p.ctl(&["stop", "s"]));
    assert!(out.contains("Stopping s ... Done"), "{out}");
    assert!(t0.elapsed() < Duration::from_secs(4), "SIGUSR1 ended it, not STOPTIMEOUT=5's SIGKILL");
    assert_eq!(read(&dir, "signals"), "USR1\n");
    assert_eq!(p.status("s")["last_exit"], "exit code 0");
    p.poweroff();
}

#[test]
fn nostopwait_returns_at_once_and_forgets_the_process() {
    let dir = scratch("opt-nostopwait");
    stubborn(&dir);
    write(
        &dir,
        "epoch.conf",
        "DefaultRunlevel default\n\
         ObjectID s\nObjectStartCommand @DIR@/stubborn\nObjectStartPriority 1\nObjectRunlevels default\n\
         ObjectStopCommand PID\nObjectOptions FORK NOSTOPWAIT\n",
    );
    let p = Pid1::boot(&dir, &[]);
    wait_file(&dir, "stubborn.pid", "\n");
    let pid: i64 = read(&dir, "stubborn.pid").trim().parse().unwrap();
    let t0 = Instant::now();
    ok(p.ctl(&["stop", "s"]));
    assert!(t0.elapsed() < Duration::from_secs(5), "the stop waited for the process (10 s stop timeout)");
    assert_eq!(p.state("s"), "stopped");
    wait_file(&dir, "signals", "TERM");
    // It ignored SIGTERM and was not waited for: still running, not followed.
    assert!(alive(&p, pid));
    assert!(p.pid("s").is_none());
    // Its eventual end changes nothing; it can be started again.
    ok(p.sh(&format!("kill -9 {pid}")));
    assert!(wait_for(T, || !alive(&p, pid)));
    assert_eq!(p.state("s"), "stopped");
    ok(p.ctl(&["start", "s"]));
    assert_eq!(p.state("s"), "running");
    p.poweroff();
}

#[test]
fn stop_command_runs_as_the_stop_method() {
    let dir = scratch("opt-stopcmd");
    write_exec(&dir, "svc", "#!/bin/sh\necho $$ > @DIR@/svc.pid\nexec sleep 600\n");
    write(
        &dir,
        "epoch.conf",
        "DefaultRunlevel default\n\
         ObjectID s\nObjectStartCommand @DIR@/svc\nObjectStartPriority 1\nObjectRunlevels default\nObjectOptions FORK\n\
         ObjectStopCommand /bin/sh -c 'echo stop-ran >> @DIR@/stop.log; kill $(cat @DIR@/svc.pid)'\n",
    );
    let p = Pid1::boot(&dir, &[]);
    wait_file(&dir, "svc.pid", "\n");
    let pid = p.pid("s").unwrap();
    assert_eq!(ok(p.ctl(&["status", "s"])).lines().find(|l| l.starts_with("Stop mode:")).unwrap(), "Stop mode:          command");
    let out = ok(p.ctl(&["stop", "s"]));
    assert!(out.contains("Stopping s ... Done"), "{out}");
    assert_eq!(read(&dir, "stop.log"), "stop-ran\n");
    assert!(!alive(&p, pid));
    assert_eq!(p.status("s")["last_exit"], "killed by SIGTERM");
    p.poweroff();
}

#[test]
fn stop_by_pid_sends_sigterm_to_the_tracked_process() {
    let dir = scratch("opt-stoppid");
    write(
        &dir,
        "epoch.conf",
        "DefaultRunlevel default\n\
         ObjectID s\nObjectStartCommand /bin/sleep 600\nObjectStartPriority 1\nObjectRunlevels default\nObjectOptions FORK\n\
         ObjectStopCommand PID\n",
    );
    let p = Pid1::boot(&dir, &[]);
    let pid = p.pid("s").unwrap();
    ok(p.ctl(&["stop", "s"]));
    assert!(!alive(&p, pid));
    assert_eq!(p.status("s")["last_exit"], "killed by SIGTERM");
    assert_eq!(p.status("s")["stop_mode"], "PID");
    p.poweroff();
}

#[test]
fn killall5_signals_everything_then_waits() {
    let dir = scratch("opt-killall5");
    write(
        &dir,
        "epoch.conf",
        "DefaultRunlevel default\n\
         ObjectID victim\nObjectStartCommand /bin/sleep 600\nObjectStartPriority 1\nObjectRunlevels default\nObjectOptions FORK\n\
         ObjectID sweeper\nObjectStartCommand /bin/true\nObjectStartPriority 1\nObjectRunlevels default\n\
         ObjectStopCommand KILLALL5 15 1\n",
    );
    let p = Pid1::boot(&dir, &[]);
    let victim = p.pid("victim").unwrap();
    assert_eq!(p.state("sweeper"), "done");
    let t0 = Instant::now();
    let out = ok(p.ctl(&["stop", "sweeper"]));
    let took = t0.elapsed();
    assert!(out.contains("Stopping sweeper ... Done"), "{out}");
    // killall5 -15; sleep 1: every process but PID 1 got SIGTERM.
    assert!(took >= Duration::from_millis(950) && took < Duration::from_secs(3), "{took:?}");
    assert!(!alive(&p, victim));
    p.wait_state("victim", "failed", T);
    assert_eq!(p.status("victim")["last_exit"], "killed by SIGTERM");
    p.poweroff();
}

#[test]
fn stop_none_ends_a_tracked_process_and_just_marks_a_one_shot() {
    let dir = scratch("opt-stopnone");
    write(
        &dir,
        "epoch.conf",
        "DefaultRunlevel default\n\
         ObjectID s\nObjectStartCommand /bin/sleep 600\nObjectStartPriority 1\nObjectRunlevels default\nObjectOptions FORK\n\
         ObjectStopCommand NONE\n\
         ObjectID once\nObjectStartCommand /bin/true\nObjectStartPriority 1\nObjectRunlevels default\nObjectStopCommand NONE\n",
    );
    let p = Pid1::boot(&dir, &[]);
    assert_eq!(p.status("s")["stop_mode"], "NONE");
    // A process iocinit follows is never left running untracked: NONE still
    // signals it (TERMSIGNAL, SIGTERM by default).
    let pid = p.pid("s").unwrap();
    ok(p.ctl(&["stop", "s"]));
    assert!(!alive(&p, pid));
    assert_eq!(p.state("s"), "stopped");
    assert_eq!(p.state("once"), "done");
    let out = ok(p.ctl(&["stop", "once"]));
    assert!(out.contains("Stopping once ... Done"), "{out}");
    assert_eq!(p.state("once"), "stopped");
    p.poweroff();
}

#[test]
fn haltonly_runs_its_stop_command_at_shutdown_only() {
    let dir = scratch("opt-haltonly");
    write(
        &dir,
        "epoch.conf",
        "DefaultRunlevel default\n\
         ObjectID h\nObjectDescription final sync\nObjectStopCommand /bin/sh -c 'echo ran >> @DIR@/halt.log'\n\
         ObjectStopPriority 1\nObjectOptions HALTONLY\n\
         ObjectID s\nObjectStartCommand /bin/true\nObjectStartPriority 1\nObjectRunlevels default\n",
    );
    let p = Pid1::boot(&dir, &[]);
    p.wait_console("iocinit: ready", T);
    assert_eq!(p.state("h"), "stopped");
    let out = p.ctl(&["start", "h"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "Starting h ... FAIL (HALTONLY objects only run at shutdown)\n");
    // A manual stop is not a shutdown.
    let _ = p.ctl(&["stop", "h"]);
    assert_eq!(read(&dir, "halt.log"), "");
    let console = p.poweroff();
    assert_eq!(read(&dir, "halt.log"), "ran\n");
    assert!(console.contains("Stopping final sync ... Done"), "{console}");
}

#[test]
fn runonce_disables_itself_across_reboots_until_enabled() {
    let dir = scratch("opt-runonce");
    write(
        &dir,
        "epoch.conf",
        "DefaultRunlevel default\n\
         ObjectID keys\nObjectStartCommand /bin/sh -c 'echo x >> @DIR@/ran'\nObjectStartPriority 1\nObjectRunlevels default\n\
         ObjectOptions RUNONCE\n",
    );
    let p = Pid1::boot(&dir, &[]);
    p.wait_console("iocinit: ready", T);
    assert_eq!(read(&dir, "ran"), "x\n");
    assert_eq!(p.status("keys")["enabled"], false);
    p.poweroff();
    // Same --state-dir: the second boot skips it.
    let p = Pid1::boot(&dir, &[]);
    p.wait_console("iocinit: ready", T);
    assert_eq!(read(&dir, "ran"), "x\n");
    assert_eq!(p.state("keys"), "stopped");
    ok(p.ctl(&["enable", "keys"]));
    p.poweroff();
    let p = Pid1::boot(&dir, &[]);
    p.wait_console("iocinit: ready", T);
    assert_eq!(read(&dir, "ran"), "x\nx\n");
    assert_eq!(p.status("keys")["enabled"], false);
    p.poweroff();
}

#[test]
fn persistent_objects_survive_a_runlevel_switch() {
    let dir = scratch("opt-persistent");
    write(
        &dir,
        "epoch.conf",
        "DefaultRunlevel default\n\
         ObjectID keep\nObjectStartCommand /bin/sleep 601\nObjectStartPriority 1\nObjectStopPriority 1\nObjectRunlevels default\n\
         ObjectOptions FORK PERSISTENT\n\
         ObjectID drop\nObjectStartCommand /bin/sleep 602\nObjectStartPriority 1\nObjectStopPriority 1\nObjectRunlevels default\n\
         ObjectOptions FORK\n\
         ObjectID maint\nObjectStartCommand /bin/sleep 603\nObjectStartPriority 1\nObjectStopPriority 1\nObjectRunlevels maint\n\
         ObjectOptions FORK\n",
    );
    let p = Pid1::boot(&dir, &[]);
    let keep = p.pid("keep").unwrap();
    assert_eq!(p.state("maint"), "stopped");
    ok(p.ctl(&["runlevel", "maint"]));
    p.wait_state("maint", "running", T);
    p.wait_state("drop", "stopped", T);
    assert_eq!(p.pid("keep"), Some(keep));
    assert_eq!(ok(p.ctl(&["runlevel"])).trim(), "maint");
    p.poweroff();
}

#[test]
fn mapexitstatus_judges_start_commands() {
    let dir = scratch("opt-mapexit");
    let obj = |id: &str, code: u8, map: &str| {
        format!(
            "ObjectID {id}\nObjectStartCommand /bin/sh -c 'exit {code}'\nObjectStartPriority 1\nObjectRunlevels default\n\
             ObjectOptions {map}\n"
        )
    };
    let conf = format!(
        "DefaultRunlevel default\n{}{}{}{}",
        obj("warned", 2, "MAPEXITSTATUS=2,WARNING"),
        obj("fine", 3, "MAPEXITSTATUS=3,SUCCESS MAPEXITSTATUS=2,WARNING"),
        obj("refused", 0, "MAPEXITSTATUS=0,FAILURE"),
        obj("plain", 4, "MAPEXITSTATUS=3,SUCCESS"),
    );
    write(&dir, "epoch.conf", &conf);
    let p = Pid1::boot(&dir, &[]);
    p.wait_console("iocinit: ready", T);
    let console = p.console();
    for line in ["Starting warned ... WARN", "Starting fine ... Done", "Starting refused ... FAIL", "Starting plain ... FAIL"] {
        assert!(console.contains(line), "no {line:?} in:\n{console}");
    }
    assert_eq!(p.state("warned"), "done");
    assert_eq!(p.state("fine"), "done");
    assert_eq!(p.state("refused"), "failed");
    assert_eq!(p.status("plain")["note"], "start command: exit code 4");
    p.poweroff();
}

#[test]
fn prestart_runs_first_and_its_failure_is_a_warning() {
    let dir = scratch("opt-prestart");
    write(
        &dir,
        "epoch.conf",
        "DefaultRunlevel default\n\
         ObjectID good\nObjectPrestartCommand /bin/sh -c 'echo pre >> @DIR@/order'\n\
         ObjectStartCommand /bin/sh -c 'echo start >> @DIR@/order'\nObjectStartPriority 1\nObjectRunlevels default\n\
         ObjectID bad\nObjectPrestartCommand /bin/false\nObjectStartCommand /bin/true\nObjectStartPriority 2\nObjectRunlevels default\n",
    );
    let p = Pid1::boot(&dir, &[]);
    p.wait_console("iocinit: ready", T);
    assert_eq!(read(&dir, "order"), "pre\nstart\n");
    let console = p.console();
    assert!(console.contains("Starting good ... Done"), "{console}");
    assert!(console.contains("Starting bad ... WARN"), "{console}");
    assert!(console.contains("bad: prestart command: exit code 1"), "{console}");
    assert_eq!(p.state("bad"), "done");
    assert_eq!(p.status("bad")["outcome"], "WARN");
    p.poweroff();
}

#[test]
fn rawdescription_and_status_formats_shape_the_console_lines() {
    let dir = scratch("opt-formats");
    // Inline values lose blanks at their ends; a FILE keeps them.
    write(&dir, "starting.txt", " * [!TITLE!] ");
    write(
        &dir,
        "epoch.conf",
        "DefaultRunlevel default\nStartingStatusFormat FILE @DIR@/starting.txt\nFinishedStatusFormat <!STATUS!>\n\
         StatusNames no,yes,hmm\n\
         ObjectID net\nObjectDescription Configuring the network\nObjectStartCommand /bin/true\nObjectStartPriority 1\n\
         ObjectStopPriority 1\nObjectRunlevels default\nObjectOptions RAWDESCRIPTION\n\
         ObjectID b\nObjectDescription Thing B\nObjectStartCommand /bin/true\nObjectStartPriority 2\nObjectRunlevels default\n\
         ObjectID c\nObjectStartCommand /bin/false\nObjectStartPriority 3\nObjectRunlevels default\n\
         ObjectID d\nObjectPrestartCommand /bin/false\nObjectStartCommand /bin/true\nObjectStartPriority 4\nObjectRunlevels default\n",
    );
    let p = Pid1::boot(&dir, &[]);
    p.wait_console("iocinit: ready", T);
    let console = p.poweroff();
    for line in [
        " * [Configuring the network] <yes>\n",
        " * [Starting Thing B] <yes>\n",
        " * [Starting c] <no>\n",
        " * [Starting d] <hmm>\n",
        " * [Configuring the network] <yes>\n",
    ] {
        assert!(console.contains(line), "no {line:?} in:\n{console}");
    }
    assert!(!console.contains("Starting Configuring"), "{console}");
    assert!(!console.contains(" ... "), "{console}");
}

fn proc_ids(p: &Pid1, pid: i64) -> (String, String, String) {
    let status = ok(p.run("/bin/cat", &[&format!("/proc/{pid}/status")]));
    let field = |name: &str| {
        let line = status.lines().find(|l| l.starts_with(name)).unwrap_or("");
        line[name.len()..].split_whitespace().collect::<Vec<_>>().join(" ")
    };
    (field("Uid:"), field("Gid:"), field("Groups:"))
}

#[test]
fn user_group_and_supplementary_groups() {
    let dir = scratch("opt-creds");
    // A user with two supplementary groups, in this namespace only.
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap() + "svcuser:x:4242:4242::/nonexistent:/usr/sbin/nologin\n";
    let group = std::fs::read_to_string("/etc/group").unwrap()
        + "svcuser:x:4242:\nextra1:x:4243:svcuser\nextra2:x:4244:nobody,svcuser\nother:x:4245:\n";
    write(&dir, "passwd", &passwd);
    write(&dir, "group", &group);
    write(
        &dir,
        "epoch.conf",
        "DefaultRunlevel default\n\
         ObjectID u\nObjectStartCommand /bin/sleep 601\nObjectStartPriority 1\nObjectRunlevels default\nObjectOptions FORK\n\
         ObjectUser svcuser\nObjectStopCommand /bin/sh -c 'id -u > @DIR@/stopper.uid; kill $(cat @DIR@/u.pid)'\n\
         ObjectPrestartCommand /bin/sh -c 'id -u > @DIR@/prestart.uid'\n\
         ObjectID ug\nObjectStartCommand /bin/sleep 602\nObjectStartPriority 1\nObjectRunlevels default\nObjectOptions FORK\n\
         ObjectUser svcuser\nObjectGroup other\n\
         ObjectID g\nObjectStartCommand /bin/sleep 603\nObjectStartPriority 1\nObjectRunlevels default\nObjectOptions FORK\n\
         ObjectGroup other\n",
    );
    let setup = format!(
        "mount --bind {d}/passwd /etc/passwd && mount --bind {d}/group /etc/group",
        d = dir.display()
    );
    let p = Pid1::boot_with(&dir, &[], Some(&setup));
    // The socket answers before the boot has started them.
    p.wait_console("iocinit: ready", T);
    let u = p.pid("u").unwrap();
    std::fs::write(dir.join("u.pid"), u.to_string()).unwrap();
    assert_eq!(proc_ids(&p, u), ("4242 4242 4242 4242".into(), "4242 4242 4242 4242".into(), "4242 4243 4244".into()));
    let ug = p.pid("ug").unwrap();
    assert_eq!(proc_ids(&p, ug), ("4242 4242 4242 4242".into(), "4245 4245 4245 4245".into(), "4243 4244 4245".into()));
    let g = p.pid("g").unwrap();
    assert_eq!(proc_ids(&p, g), ("0 0 0 0".into(), "4245 4245 4245 4245".into(), "4245".into()));
    assert_eq!(p.status("ug")["user"], "svcuser");
    assert_eq!(p.status("ug")["group"], "other");
    // Everything but the start command runs as root (seed 003).
    assert_eq!(read(&dir, "prestart.uid"), "0\n");
    ok(p.ctl(&["stop", "u"]));
    assert_eq!(read(&dir, "stopper.uid"), "0\n");
    p.poweroff();
}

#[test]
fn working_directory_and_output_files() {
    let dir = scratch("opt-cwd-output");
    std::fs::create_dir_all(dir.join("work")).unwrap();
    write(
        &dir,
        "epoch.conf",
        "DefaultRunlevel default\n\
         ObjectID w\nObjectStartCommand /bin/sh -c 'pwd; echo to-err >&2'\nObjectStartPriority 1\nObjectRunlevels default\n\
         ObjectWorkingDirectory @DIR@/work\nObjectStdout @DIR@/out.txt\nObjectStderr @DIR@/err.txt\n\
         ObjectID missing\nObjectStartCommand /bin/true\nObjectStartPriority 1\nObjectRunlevels default\n\
         ObjectWorkingDirectory @DIR@/no-such-dir\n",
    );
    let p = Pid1::boot(&dir, &[]);
    p.wait_console("iocinit: ready", T);
    assert_eq!(read(&dir, "out.txt"), format!("{}\n", dir.join("work").display()));
    assert_eq!(read(&dir, "err.txt"), "to-err\n");
    // Appended, not truncated, on the next start.
    ok(p.ctl(&["restart", "w"]));
    assert_eq!(read(&dir, "err.txt"), "to-err\nto-err\n");
    assert_eq!(p.state("missing"), "failed");
    assert!(p.status("missing")["note"].as_str().unwrap().contains("unable to change directory"));
    p.poweroff();
}

#[test]
fn log_output_and_enable_logging_go_to_the_system_log() {
    let dir = scratch("opt-log");
    write(
        &dir,
        "epoch.conf",
        "DefaultRunlevel default\nEnableLogging true\n\
         ObjectID l\nObjectDescription chatty\nObjectStartCommand /bin/sh -c 'echo l-out; echo l-err >&2'\n\
         ObjectStartPriority 1\nObjectRunlevels default\nObjectStdout LOG\nObjectStderr LOG\n",
    );
    let p = Pid1::boot(&dir, &[]);
    p.wait_console("iocinit: ready", T);
    let log = read(&dir, "system.log");
    assert!(log.contains("l-out\n") && log.contains("l-err\n"), "{log}");
    // Status lines and messages, each with a timestamp.
    let line = log.lines().find(|l| l.ends_with("Starting chatty ... Done")).unwrap_or_else(|| panic!("{log}"));
    assert!(line.len() > "Starting chatty ... Done".len() + 18, "{line}");
    assert!(log.contains("iocinit: ready"), "{log}");
    // Not on the console.
    assert!(!p.console().contains("l-out"));
    p.poweroff();
}

#[test]
fn global_and_object_environment() {
    let dir = scratch("opt-env");
    write(
        &dir,
        "epoch.conf",
        "DefaultRunlevel default\nGlobalEnvVar WIBBLE=Derp herp wibble!\nGlobalEnvVar SHARED=global\n\
         ObjectID a\nObjectStartCommand /bin/sh -c 'env > @DIR@/a.env'\nObjectStartPriority 1\nObjectRunlevels default\n\
         ObjectEnvVar SHARED=object\nObjectEnvVar ONLY_A=\"quoted\"\n\
         ObjectID b\nObjectStartCommand /bin/sh -c 'env > @DIR@/b.env'\nObjectStartPriority 1\nObjectRunlevels default\n",
    );
    let p = Pid1::boot(&dir, &[]);
    p.wait_console("iocinit: ready", T);
    let a: Vec<String> = read(&dir, "a.env").lines().map(String::from).collect();
    let b: Vec<String> = read(&dir, "b.env").lines().map(String::from).collect();
    let has = |v: &[String], e: &str| v.iter().any(|l| l == e);
    assert!(has(&a, "WIBBLE=Derp herp wibble!"), "{a:?}");
    assert!(has(&a, "SHARED=object"), "{a:?}");
    assert!(has(&a, "ONLY_A=\"quoted\""), "{a:?}");
    assert!(has(&b, "SHARED=global"), "{b:?}");
    assert!(!b.iter().any(|l| l.starts_with("ONLY_A=")), "{b:?}");
    assert!(has(&a, "IOCINIT_OBJECT=a") && has(&b, "IOCINIT_OBJECT=b"));
    // PID 1's own environment does not leak: a clean PATH, HOME=/.
    assert!(has(&b, "HOME=/"), "{b:?}");
    p.poweroff();
}

#[test]
fn forceshell_and_automatic_shell_detection() {
    let dir = scratch("opt-shell");
    write(
        &dir,
        "epoch.conf",
        "DefaultRunlevel default\n\
         ObjectID builtin\nObjectStartCommand umask 022\nObjectStartPriority 1\nObjectRunlevels default\n\
         ObjectID forced\nObjectStartCommand umask 022\nObjectStartPriority 1\nObjectRunlevels default\nObjectOptions FORCESHELL\n\
         ObjectID detected\nObjectStartCommand echo detected > @DIR@/detected.txt\nObjectStartPriority 1\nObjectRunlevels default\n",
    );
    let p = Pid1::boot(&dir, &[]);
    p.wait_console("iocinit: ready", T);
    // No shell syntax: exec'd directly, and there is no `umask` program.
    assert_eq!(p.state("builtin"), "failed");
    assert!(p.status("builtin")["note"].as_str().unwrap().contains("unable to execute"), "{}", p.status("builtin"));
    // FORCESHELL: the shell's builtin.
    assert_eq!(p.state("forced"), "done");
    // A redirection makes it a shell command without FORCESHELL.
    assert_eq!(p.state("detected"), "done");
    assert_eq!(read(&dir, "detected.txt"), "detected\n");
    p.poweroff();
}

#[test]
fn startfailcritical_gives_an_emergency_shell_then_the_boot_goes_on() {
    let dir = scratch("opt-startcrit");
    write(
        &dir,
        "epoch.conf",
        "DefaultRunlevel default\n\
         ObjectID crit\nObjectStartCommand /bin/false\nObjectStartPriority 1\nObjectRunlevels default\nObjectOptions STARTFAILCRITICAL\n\
         ObjectID later\nObjectStartCommand /bin/true\nObjectStartPriority 2\nObjectRunlevels default\n",
    );
    let p = Pid1::boot(&dir, &[]);
    // The shell gets /dev/null as stdin here, so it exits at once and PID 1
    // carries on with the boot.
    p.wait_console("iocinit: ready", T);
    let console = p.console();
    let shell = console.find("*** iocinit: crit failed to start (STARTFAILCRITICAL)").unwrap_or_else(|| panic!("{console}"));
    let resumed = console.find("iocinit: emergency shell exited; continuing").unwrap_or_else(|| panic!("{console}"));
    let later = console.find("Starting later ... Done").unwrap_or_else(|| panic!("{console}"));
    assert!(shell < resumed && resumed < later, "{console}");
    assert_eq!(p.state("later"), "done");
    // Critical only during boot: a manual start that fails is just a failure.
    assert_eq!(p.ctl(&["start", "crit"]).status.code(), Some(1));
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(p.console().matches("emergency shell;").count(), 1);
    p.poweroff();
}

#[test]
fn stopfailcritical_gives_an_emergency_shell_then_the_shutdown_goes_on() {
    let dir = scratch("opt-stopcrit");
    write(
        &dir,
        "epoch.conf",
        "DefaultRunlevel default\n\
         ObjectID crit\nObjectStartCommand /bin/true\nObjectStopCommand /bin/false\nObjectStartPriority 1\nObjectStopPriority 1\n\
         ObjectRunlevels default\nObjectOptions STOPFAILCRITICAL\n\
         ObjectID last\nObjectStartCommand /bin/sleep 600\nObjectStartPriority 1\nObjectStopPriority 2\nObjectRunlevels default\n\
         ObjectOptions FORK\n",
    );
    let p = Pid1::boot(&dir, &[]);
    p.wait_console("iocinit: ready", T);
    // Critical only at shutdown: a manual stop that fails is just a failure.
    assert_eq!(p.ctl(&["stop", "crit"]).status.code(), Some(1));
    ok(p.ctl(&["start", "crit"]));
    assert!(!p.console().contains("emergency shell"));
    let console = p.poweroff();
    let shell = console.find("*** iocinit: crit failed to stop (STOPFAILCRITICAL)").unwrap_or_else(|| panic!("{console}"));
    let resumed = console.find("iocinit: emergency shell exited; continuing").unwrap_or_else(|| panic!("{console}"));
    let last = console.find("Stopping last ... Done").unwrap_or_else(|| panic!("{console}"));
    assert!(shell < resumed && resumed < last, "{console}");
    assert!(console.contains("iocinit: all processes ended"), "{console}");
}

#[test]
fn notrack_starts_without_waiting_for_the_pid_file() {
    let dir = scratch("opt-notrack");
    write(
        &dir,
        "epoch.conf",
        "DefaultRunlevel default\n\
         ObjectID nopid\nObjectStartCommand /bin/true\nObjectPIDFile @DIR@/never.pid\nObjectStartPriority 1\n\
         ObjectRunlevels default\nObjectOptions NOTRACK\n",
    );
    let p = Pid1::boot(&dir, &[]);
    p.wait_console("iocinit: ready", T);
    // No wait for the pid file; nothing found to follow afterwards
    // (tests/epoch_track.rs: what is found, and stopped).
    let nopid = p.status("nopid");
    assert_eq!(nopid["state"], "done");
    assert!(nopid["pid"].is_null(), "{nopid}");
    p.poweroff();
}

#[test]
fn runlevel_inheritance_is_not_recursive() {
    let dir = scratch("opt-inherits");
    let obj = |id: &str, rl: &str| {
        format!(
            "ObjectID {id}\nObjectStartCommand /bin/sleep 60{}\nObjectStartPriority 1\nObjectStopPriority 1\nObjectRunlevels {rl}\n\
             ObjectOptions FORK\n",
            id.len()
        )
    };
    write(
        &dir,
        "epoch.conf",
        &format!(
            "DefaultRunlevel gui\nRunlevelInherits gui multiuser\nRunlevelInherits multiuser core\n{}{}{}",
            obj("c", "core"),
            obj("mu", "multiuser"),
            obj("gui", "gui")
        ),
    );
    let p = Pid1::boot(&dir, &[]);
    p.wait_console("iocinit: ready", T);
    assert_eq!((p.state("gui"), p.state("mu"), p.state("c")), ("running".into(), "running".into(), "stopped".into()));
    ok(p.ctl(&["runlevel", "multiuser"]));
    p.wait_state("c", "running", T);
    p.wait_state("gui", "stopped", T);
    assert_eq!(p.state("mu"), "running");
    p.poweroff();
}

#[test]
fn banner_and_blank_log_on_boot() {
    let dir = scratch("opt-banner");
    write(
        &dir,
        "epoch.conf",
        "DefaultRunlevel default\nEnableLogging true\nBlankLogOnBoot true\nBootBannerText Welcome to the test board\n\
         ObjectID a\nObjectStartCommand /bin/true\nObjectStartPriority 1\nObjectRunlevels default\n",
    );
    for _ in 0..2 {
        let p = Pid1::boot(&dir, &[]);
        p.wait_console("iocinit: ready", T);
        assert!(p.console().starts_with("Welcome to the test board\n"), "{}", p.console());
        p.poweroff();
    }
    // The second boot emptied the log first.
    let log = read(&dir, "system.log");
    assert_eq!(log.matches("iocinit: ready").count(), 1, "{log}");
}

#[test]
fn exec_replaces_pid1() {
    let dir = scratch("opt-exec");
    write_exec(&dir, "newinit", "#!/bin/sh\necho $$ > @DIR@/newinit.pid\nexec sleep 600\n");
    write(
        &dir,
        "epoch.conf",
        "DefaultRunlevel default\n\
         ObjectID svc\nObjectStartCommand /bin/sleep 601\nObjectStartPriority 1\nObjectRunlevels default\nObjectOptions FORK\n\
         ObjectID switch\nObjectStartCommand @DIR@/newinit\nObjectStartPriority 2\nObjectRunlevels default\nObjectOptions EXEC\n",
    );
    let mut p = Pid1::spawn(&dir, &[], None);
    let pid_file = dir.join("newinit.pid");
    assert!(wait_for(T, || std::fs::read_to_string(&pid_file).is_ok_and(|s| s.ends_with('\n'))), "{}", p.console());
    // The new program is PID 1 of the namespace, and the objects started
    // before it still run (its children now).
    assert_eq!(read(&dir, "newinit.pid"), "1\n");
    let cmdline = || std::fs::read(format!("/proc/{}/cmdline", p.host_pid)).unwrap_or_default();
    assert!(wait_for(T, || cmdline() == b"sleep\x00600\x00"), "{:?}", String::from_utf8_lossy(&cmdline()));
    assert!(p.find_process("sleep 601").is_some());
    assert!(p.alive());
}

#[test]
fn pivot_moves_the_root() {
    let dir = scratch("opt-pivot");
    std::fs::create_dir_all(dir.join("nr")).unwrap();
    std::fs::create_dir_all(dir.join("old")).unwrap();
    let d = dir.display();
    write(
        &dir,
        "epoch.conf",
        &format!(
            "DefaultRunlevel default\n\
             ObjectID pivot\nObjectStartCommand {d}/nr {d}/nr{d}/old\nObjectStartPriority 1\nObjectRunlevels default\n\
             ObjectOptions PIVOT\n\
             ObjectID after\nObjectStartCommand /bin/sleep 600\nObjectStartPriority 2\nObjectStopPriority 1\n\
             ObjectRunlevels default\nObjectOptions FORK\n"
        ),
    );
    // The new root: the same tree, bound again (so every path still works).
    let p = Pid1::boot_with(&dir, &[], Some(&format!("mount --rbind / {d}/nr")));
    p.wait_console("iocinit: ready", T);
    assert_eq!(p.state("pivot"), "done");
    assert_eq!(p.state("after"), "running");
    // PID 1's old root now sits at put_old, inside the new one.
    assert!(std::path::Path::new(&format!("/proc/{}/root{d}/old/etc/passwd", p.host_pid)).exists());
    assert!(!dir.join("old/etc").exists(), "not on the host");
    p.poweroff();
}

#[test]
fn a_stop_during_the_prestart_command_is_prompt() {
    let dir = scratch("opt-stop-prestart");
    write(
        &dir,
        "epoch.conf",
        "DefaultRunlevel default\n\
         ObjectID slow\nObjectPrestartCommand /bin/sleep 30\nObjectStartCommand /bin/sh -c 'echo started > @DIR@/started'\n\
         ObjectStartPriority 0\nObjectRunlevels default\n",
    );
    let p = Pid1::boot(&dir, &[]);
    ok(p.ctl(&["start", "slow", "--no-wait"]));
    p.wait_state("slow", "prestarting", T);
    let t0 = Instant::now();
    assert_eq!(ok(p.ctl(&["stop", "slow"])), "Stopping slow ... Done\n");
    assert!(t0.elapsed() < Duration::from_secs(10), "the stop took {:?} (the prestart sleeps 30 s)", t0.elapsed());
    assert_eq!(p.state("slow"), "stopped");
    std::thread::sleep(Duration::from_millis(200));
    assert!(!dir.join("started").exists(), "the start command ran after the stop");
    p.poweroff();
}

#[test]
fn a_failed_stop_command_stays_a_failure_when_the_process_is_killed_too() {
    let dir = scratch("opt-stopfail-kill");
    write(
        &dir,
        "epoch.conf",
        "DefaultRunlevel default\n\
         ObjectID s\nObjectStartCommand /bin/sleep 600\nObjectStopCommand /bin/false\nObjectStartPriority 1\n\
         ObjectStopPriority 1\nObjectRunlevels default\nObjectOptions FORK STOPTIMEOUT=1 STOPFAILCRITICAL\n",
    );
    let p = Pid1::boot(&dir, &[]);
    let out = p.ctl(&["stop", "s"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "Stopping s ... FAIL (stop command: exit code 1)\n");
    assert_eq!(p.state("s"), "stopped");
    ok(p.ctl(&["start", "s"]));
    // At shutdown that failure is critical.
    let console = p.poweroff();
    assert!(console.contains("*** iocinit: s failed to stop (STOPFAILCRITICAL)"), "{console}");
}
