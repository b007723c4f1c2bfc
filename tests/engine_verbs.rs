//! PID 1 in a PID namespace, one scenario per control verb (Epoch's verbs
//! through `iocinit VERB`, the power applets) and per boot flag
//! (`--runlevel`, `--startobj`, `--skipobj`, the kernel command line's
//! `runlevel=`, `startobj=`, `skipobj=`).

mod ns;

use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant};

use iocinit::control::protocol::{Code, Verb};
use ns::{ok, read, scratch, wait_for, write, write_exec, Pid1};

const T: Duration = Duration::from_secs(10);

fn version_json(p: &Pid1) -> serde_json::Value {
    serde_json::from_str(&ok(p.ctl(&["version", "--json"]))).unwrap()
}

fn text(out: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// Three FORK sleepers a, b, c in `default`, plus `extra` lines.
fn three(dir: &std::path::Path, extra: &str) {
    let mut conf = String::from("DefaultRunlevel default\n");
    for (k, id) in ["a", "b", "c"].iter().enumerate() {
        conf += &format!(
            "ObjectID {id}\nObjectDescription service {id}\nObjectStartCommand /bin/sleep 60{k}\nObjectStartPriority 1\n\
             ObjectStopPriority 1\nObjectRunlevels default\nObjectOptions FORK\n"
        );
    }
    conf += extra;
    write(dir, "epoch.conf", &conf);
}

#[test]
fn start_stop_restart() {
    let dir = scratch("verb-startstop");
    three(&dir, "");
    let p = Pid1::boot(&dir, &[]);
    let a = p.pid("a").unwrap();
    assert_eq!(ok(p.ctl(&["stop", "a"])), "Stopping a ... Done\n");
    assert_eq!(p.state("a"), "stopped");
    // Twice: a warning, exit 0.
    let out = p.ctl(&["stop", "a"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out), "Stopping a ... WARN (not running)\n");
    assert_eq!(ok(p.ctl(&["start", "a"])), "Starting a ... Done\n");
    let a2 = p.pid("a").unwrap();
    assert_ne!(a, a2);
    assert_eq!(text(&p.ctl(&["start", "a"])), "Starting a ... WARN (already started)\n");
    assert_eq!(ok(p.ctl(&["restart", "a"])), "Restarting a ... Done\n");
    let a3 = p.pid("a").unwrap();
    assert_ne!(a2, a3);
    assert_eq!(p.state("a"), "running");
    // Restart of a stopped object starts it.
    ok(p.ctl(&["stop", "b"]));
    ok(p.ctl(&["restart", "b"]));
    assert_eq!(p.state("b"), "running");
    // --no-wait answers before the object settles (a FORK start settles at once).
    ok(p.ctl(&["stop", "c", "--no-wait"]));
    p.wait_state("c", "stopped", T);
    let out = p.ctl(&["start", "nosuch"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("no such object"));
    p.poweroff();
}

#[test]
fn reload_runs_a_command_or_sends_a_signal() {
    let dir = scratch("verb-reload");
    write_exec(&dir, "hup", "#!/bin/sh\ntrap 'echo HUP >> @DIR@/hup.log' HUP\nwhile :; do sleep 0.05; done\n");
    write(
        &dir,
        "epoch.conf",
        "DefaultRunlevel default\n\
         ObjectID cmd\nObjectStartCommand /bin/sleep 600\nObjectStartPriority 1\nObjectRunlevels default\nObjectOptions FORK\n\
         ObjectReloadCommand /bin/sh -c 'echo reloaded >> @DIR@/reload.log'\n\
         ObjectID sig\nObjectStartCommand @DIR@/hup\nObjectStartPriority 1\nObjectRunlevels default\nObjectOptions FORK\n\
         ObjectReloadCommand SIGNAL SIGHUP\n\
         ObjectID none\nObjectStartCommand /bin/sleep 600\nObjectStartPriority 1\nObjectRunlevels default\nObjectOptions FORK\n\
         ObjectID down\nObjectStartCommand /bin/true\nObjectStartPriority 0\nObjectRunlevels default\n\
         ObjectReloadCommand /bin/true\n",
    );
    let p = Pid1::boot(&dir, &[]);
    let pid = p.pid("cmd");
    ok(p.ctl(&["reload", "cmd"]));
    assert!(wait_for(T, || read(&dir, "reload.log") == "reloaded\n"));
    assert_eq!(p.pid("cmd"), pid, "a reload is not a restart");
    ok(p.ctl(&["reload", "sig"]));
    assert!(wait_for(T, || read(&dir, "hup.log") == "HUP\n"));
    assert_eq!(p.state("sig"), "running");
    let out = p.ctl(&["reload", "none"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("no ObjectReloadCommand"), "{}", text(&out));
    let out = p.ctl(&["reload", "down"]);
    assert_eq!(out.status.code(), Some(0), "a warning");
    assert!(text(&out).contains("not running"), "{}", text(&out));
    p.poweroff();
}

#[test]
fn enable_and_disable_persist_across_a_reboot() {
    let dir = scratch("verb-enable");
    three(&dir, "ObjectID off\nObjectStartCommand /bin/sleep 603\nObjectStartPriority 1\nObjectRunlevels default\nObjectOptions FORK\nObjectEnabled false\n");
    let p = Pid1::boot(&dir, &[]);
    assert_eq!(p.state("off"), "stopped");
    ok(p.ctl(&["disable", "a"]));
    ok(p.ctl(&["enable", "off"]));
    // Disabling does not stop a running object.
    assert_eq!(p.state("a"), "running");
    assert_eq!(p.status("a")["enabled"], false);
    assert_eq!(p.status("off")["enabled"], true);
    p.poweroff();
    let state = read(&dir, "state/state");
    assert!(state.contains("disable a\n") && state.contains("enable off\n"), "{state}");
    let p = Pid1::boot(&dir, &[]);
    p.wait_console("iocinit: ready", T);
    assert_eq!(p.state("a"), "stopped");
    assert_eq!(p.status("a")["enabled"], false);
    assert_eq!(p.state("off"), "running");
    // A disabled object can still be started by hand (seed 003).
    ok(p.ctl(&["start", "a"]));
    ok(p.ctl(&["enable", "a"]));
    p.poweroff();
    assert!(!read(&dir, "state/state").contains(" a\n"), "back to the configuration: no entry");
}

#[test]
fn status_as_a_table_a_block_and_json() {
    let dir = scratch("verb-status");
    three(&dir, "");
    let p = Pid1::boot(&dir, &[]);
    let table = ok(p.ctl(&["status"]));
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 4, "{table}");
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(header, ["ID", "STATE", "PID", "ENABLED", "RESTARTS", "RUNLEVELS", "DESCRIPTION"]);
    let a_pid = p.pid("a").unwrap().to_string();
    let row: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(row, ["a", "running", a_pid.as_str(), "yes", "0", "default", "service", "a"]);
    let all: serde_json::Value = serde_json::from_str(&ok(p.ctl(&["status", "--json"]))).unwrap();
    let ids: Vec<&str> = all.as_array().unwrap().iter().map(|o| o["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["a", "b", "c"]);
    assert_eq!(all[0]["pid"].as_i64().unwrap().to_string(), a_pid);
    let block = ok(p.ctl(&["status", "b"]));
    for line in ["ObjectID:           b", "ObjectDescription:  service b", "State:              running", "Options:            FORK"] {
        assert!(block.lines().any(|l| l == line), "no {line:?} in:\n{block}");
    }
    // Any user may read.
    assert_eq!(ok(p.ctl_as_nobody(&["status"])), table);
    let out = p.ctl(&["status", "nosuch"]);
    assert_eq!(out.status.code(), Some(2));
    p.poweroff();
}

#[test]
fn runlevel_shows_and_switches() {
    let dir = scratch("verb-runlevel");
    three(&dir, "ObjectID m\nObjectStartCommand /bin/sleep 609\nObjectStartPriority 1\nObjectStopPriority 1\nObjectRunlevels maint\nObjectOptions FORK\n");
    let p = Pid1::boot(&dir, &[]);
    assert_eq!(ok(p.ctl(&["runlevel"])), "default\n");
    assert_eq!(ok(p.ctl(&["runlevel", "--json"])), "{\"runlevel\":\"default\"}\n");
    ok(p.ctl(&["runlevel", "maint"]));
    p.wait_state("m", "running", T);
    for id in ["a", "b", "c"] {
        p.wait_state(id, "stopped", T);
    }
    assert_eq!(ok(p.ctl(&["runlevel"])), "maint\n");
    ok(p.ctl(&["runlevel", "default"]));
    p.wait_state("a", "running", T);
    p.wait_state("m", "stopped", T);
    assert_eq!(p.ctl(&["runlevel", "nosuch"]).status.code(), Some(2));
    p.poweroff();
}

#[test]
fn objrl_checks_adds_and_deletes_persistently() {
    let dir = scratch("verb-objrl");
    three(&dir, "ObjectID m\nObjectStartCommand /bin/sleep 609\nObjectStartPriority 1\nObjectStopPriority 1\nObjectRunlevels maint\nObjectOptions FORK\n");
    let p = Pid1::boot(&dir, &[]);
    assert_eq!(ok(p.ctl(&["objrl", "a", "check", "default"])), "a is in runlevel default\n");
    let out = p.ctl(&["objrl", "a", "check", "maint"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "a is not in runlevel maint\n");
    ok(p.ctl(&["objrl", "a", "add", "maint"]));
    ok(p.ctl(&["objrl", "b", "del", "default"]));
    ok(p.ctl(&["objrl", "a", "check", "maint"]));
    assert_eq!(p.status("a")["runlevels"], "default maint");
    assert_eq!(p.ctl(&["objrl", "a", "add", "nosuch"]).status.code(), Some(2));
    assert_eq!(p.ctl(&["objrl", "a", "frob", "maint"]).status.code(), Some(2));
    ok(p.ctl(&["runlevel", "maint"]));
    p.wait_state("c", "stopped", T);
    assert_eq!(p.state("a"), "running", "a is in maint now");
    p.poweroff();
    // Kept in the state file: b no longer starts at boot.
    let p = Pid1::boot(&dir, &[]);
    p.wait_console("iocinit: ready", T);
    assert_eq!(p.state("b"), "stopped");
    assert_eq!(p.status("b")["runlevels"], "");
    assert_eq!(p.status("a")["runlevels"], "default maint");
    p.poweroff();
}

#[test]
fn getpid_and_kill() {
    let dir = scratch("verb-getpid-kill");
    three(&dir, "ObjectID ar\nObjectStartCommand /bin/sleep 610\nObjectStartPriority 1\nObjectRunlevels default\nObjectOptions FORK AUTORESTART\n");
    let p = Pid1::boot(&dir, &[]);
    let a = p.pid("a").unwrap();
    assert_eq!(ok(p.ctl(&["getpid", "a"])), format!("{a}\n"));
    assert_eq!(ok(p.ctl(&["getpid", "a", "--json"])), format!("{{\"pid\":{a}}}\n"));
    assert_eq!(ok(p.ctl_as_nobody(&["getpid", "a"])), format!("{a}\n"));
    // kill: SIGKILL, no stop command, no automatic restart.
    let ar = p.pid("ar").unwrap();
    ok(p.ctl(&["kill", "ar"]));
    p.wait_state("ar", "stopped", T);
    assert_eq!(p.status("ar")["last_exit"], "killed by SIGKILL");
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(p.state("ar"), "stopped", "kill must not trigger AUTORESTART");
    assert!(!p.run("/bin/kill", &["-0", &ar.to_string()]).status.success(), "{ar} still there");
    let out = p.ctl(&["getpid", "ar"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("not running"));
    assert_eq!(p.ctl(&["kill", "ar"]).status.code(), Some(0), "a warning: not running");
    p.poweroff();
}

#[test]
fn setcad_decides_what_ctrl_alt_del_does() {
    let dir = scratch("verb-setcad");
    three(&dir, "");
    let mut p = Pid1::boot(&dir, &[]);
    assert_eq!(version_json(&p)["cad"], false);
    // Ctrl-Alt-Del reaches init as SIGINT; ignored while the kernel owns it.
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(p.host_pid), nix::sys::signal::Signal::SIGINT).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert!(p.alive());
    assert_eq!(p.ctl(&["setcad", "maybe"]).status.code(), Some(2));
    ok(p.ctl(&["setcad", "on"]));
    assert_eq!(version_json(&p)["cad"], true);
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(p.host_pid), nix::sys::signal::Signal::SIGINT).unwrap();
    let status = p.wait_exit(T);
    assert_eq!(status.signal(), Some(libc::SIGHUP), "a reboot ends the namespace with SIGHUP: {status:?}");
    let console = p.console();
    assert!(console.contains("iocinit: Ctrl-Alt-Del") && console.contains("Stopping service a ... Done"), "{console}");
}

#[test]
fn halt_reboot_and_poweroff_end_the_namespace_their_way() {
    for (verb, applet, signal) in [("halt", false, libc::SIGINT), ("reboot", true, libc::SIGHUP), ("poweroff", false, libc::SIGINT)] {
        let dir = scratch(&format!("verb-power-{verb}"));
        three(&dir, "");
        let mut p = Pid1::boot(&dir, &[]);
        let out = if applet { p.run(p.bin.join(verb).to_str().unwrap(), &[]) } else { p.ctl(&[verb]) };
        assert!(ns::power_request_ok(&out), "{verb}: {out:?}");
        let status = p.wait_exit(T);
        assert_eq!(status.signal(), Some(signal), "{verb}: {status:?}");
        let console = p.console();
        let name = if verb == "poweroff" { "power off" } else { verb };
        assert!(console.contains(&format!("iocinit: system going down for {name}")), "{console}");
        assert!(console.contains("Stopping service c ... Done") && console.contains("iocinit: all processes ended"), "{console}");
    }
}

#[test]
fn shutdown_is_scheduled_cancelled_and_delayed() {
    let dir = scratch("verb-shutdown");
    three(&dir, "");
    let mut p = Pid1::boot(&dir, &[]);
    assert!(version_json(&p)["shutdown_in_ms"].is_null());
    ok(p.ctl(&["shutdown", "-p", "+5", "maintenance"]));
    let left = version_json(&p)["shutdown_in_ms"].as_u64().unwrap();
    assert!(left > 290_000 && left <= 300_000, "{left}");
    assert!(ok(p.ctl(&["version"])).contains("shutdown scheduled in 29"));
    ok(p.ctl(&["shutdown", "-c"]));
    assert!(version_json(&p)["shutdown_in_ms"].is_null());
    let out = p.ctl(&["shutdown", "-c"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out).contains("no shutdown is scheduled"), "{}", text(&out));
    assert_eq!(p.ctl(&["shutdown", "-r", "soon"]).status.code(), Some(2));
    // The delay itself, in milliseconds, straight through the protocol.
    let t0 = Instant::now();
    let reply = p.request(Verb::Power, &["reboot", "400"]);
    assert_eq!(reply.code, Code::Ok, "{}", reply.message);
    assert!(p.alive());
    assert_eq!(p.state("a"), "running");
    let status = p.wait_exit(T);
    let took = t0.elapsed();
    assert!(took >= Duration::from_millis(400) && took < Duration::from_secs(5), "{took:?}");
    assert_eq!(status.signal(), Some(libc::SIGHUP), "{status:?}");
}

#[test]
fn version_reports_the_supervisor() {
    let dir = scratch("verb-version");
    three(&dir, "");
    let p = Pid1::boot(&dir, &[]);
    p.wait_console("iocinit: ready", T);
    let out = ok(p.ctl(&["version"]));
    let first = format!("iocinit {v} (client {v})", v = env!("CARGO_PKG_VERSION"));
    assert_eq!(out.lines().next(), Some(first.as_str()), "{out}");
    assert!(out.contains("runlevel: default\nstate: up\nctrl-alt-del: kernel\n"), "{out}");
    let v: serde_json::Value = serde_json::from_str(&ok(p.ctl_as_nobody(&["version", "--json"]))).unwrap();
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(v["phase"], "up");
    assert_eq!(v["runlevel"], "default");
    p.poweroff();
}

#[test]
fn boot_flags_pick_the_runlevel_and_add_or_skip_objects() {
    let dir = scratch("verb-bootflags");
    three(
        &dir,
        "ObjectID m\nObjectStartCommand /bin/sleep 609\nObjectStartPriority 1\nObjectRunlevels maint\nObjectOptions FORK\n\
         ObjectID manual\nObjectStartCommand /bin/sleep 608\nObjectStartPriority 0\nObjectRunlevels default\nObjectOptions FORK\n",
    );
    let p = Pid1::boot(&dir, &["--runlevel", "maint", "--skipobj", "m", "--startobj", "manual", "--startobj", "a"]);
    p.wait_console("iocinit: ready", T);
    assert_eq!(ok(p.ctl(&["runlevel"])), "maint\n");
    assert_eq!(p.state("m"), "stopped", "skipped");
    p.wait_state("manual", "running", T);
    p.wait_state("a", "running", T);
    assert_eq!(p.state("b"), "stopped", "not in maint");
    // Skipping is for the boot only.
    ok(p.ctl(&["runlevel", "default"]));
    ok(p.ctl(&["runlevel", "maint"]));
    p.wait_state("m", "running", T);
    p.poweroff();
    // Unknown names are reported, not fatal.
    let p = Pid1::boot(&dir, &["--runlevel", "nosuch", "--startobj", "ghost"]);
    p.wait_console("iocinit: ready", T);
    let console = p.console();
    assert!(console.contains("runlevel \"nosuch\" is not defined; using the default"), "{console}");
    assert!(console.contains("unknown object \"ghost\""), "{console}");
    assert_eq!(ok(p.ctl(&["runlevel"])), "default\n");
    assert_eq!(p.state("a"), "running");
    p.poweroff();
}

#[test]
fn configreload_keeps_state_and_refuses_a_broken_file() {
    let dir = scratch("verb-configreload");
    three(&dir, "");
    let p = Pid1::boot(&dir, &[]);
    let (a, b) = (p.pid("a").unwrap(), p.pid("b").unwrap());
    ok(p.ctl(&["disable", "c"]));
    // a changes its description, b goes away, d is new.
    write(
        &dir,
        "epoch.conf",
        "DefaultRunlevel default\n\
         ObjectID a\nObjectDescription renamed a\nObjectStartCommand /bin/sleep 600\nObjectStartPriority 1\nObjectStopPriority 1\n\
         ObjectRunlevels default\nObjectOptions FORK\n\
         ObjectID c\nObjectStartCommand /bin/sleep 602\nObjectStartPriority 1\nObjectStopPriority 1\nObjectRunlevels default\n\
         ObjectOptions FORK\n\
         ObjectID d\nObjectStartCommand /bin/sleep 603\nObjectStartPriority 1\nObjectRunlevels default\nObjectOptions FORK\n",
    );
    assert_eq!(ok(p.ctl(&["configreload"])), "configuration reloaded\n");
    assert_eq!(p.pid("a"), Some(a));
    assert_eq!(p.status("a")["description"], "renamed a");
    assert_eq!(p.status("c")["enabled"], false, "run-time state is carried over");
    // Still running, so kept until stopped.
    let st = p.status("b");
    assert_eq!((st["pid"].as_i64(), st["removed"].as_bool()), (Some(b), Some(true)), "{st}");
    assert_eq!(p.state("d"), "stopped");
    ok(p.ctl(&["start", "d"]));
    ok(p.ctl(&["stop", "b"]));
    // A broken file: the running configuration stays, the error names file:line.
    let good = read(&dir, "epoch.conf");
    write(&dir, "epoch.conf", &format!("{good}ObjectID e\nObjectStartCommand /bin/true\nObjectBogus 1\n"));
    let out = p.ctl(&["configreload"]);
    assert_eq!(out.status.code(), Some(1));
    let line = good.lines().count() + 3;
    assert!(text(&out).contains(&format!("configuration not reloaded: {}:{line}:", dir.join("epoch.conf").display())), "{}", text(&out));
    assert_eq!(p.pid("a"), Some(a));
    assert_eq!(p.state("d"), "running");
    assert_eq!(p.ctl(&["status", "e"]).status.code(), Some(2));
    // The removed object is gone once the next reload finds it stopped.
    write(&dir, "epoch.conf", &good);
    ok(p.ctl(&["configreload"]));
    assert_eq!(p.ctl(&["status", "b"]).status.code(), Some(2));
    p.poweroff();
}

#[test]
fn reexec_keeps_every_process_and_goes_on_supervising() {
    let dir = scratch("verb-reexec");
    three(
        &dir,
        "ObjectID ar\nObjectStartCommand /bin/sleep 610\nObjectStartPriority 1\nObjectStopPriority 1\nObjectRunlevels default\n\
         ObjectOptions FORK AUTORESTART\n\
         ObjectID once\nObjectStartCommand /bin/true\nObjectStartPriority 1\nObjectRunlevels default\n",
    );
    let conf = read(&dir, "epoch.conf").replacen("DefaultRunlevel default\n", "DefaultRunlevel default\nEnableLogging true\n", 1);
    write(&dir, "epoch.conf", &conf);
    let p = Pid1::boot(&dir, &[]);
    p.wait_console("iocinit: ready", T);
    ok(p.ctl(&["disable", "c"]));
    let before: Vec<(Option<i64>, String)> = ["a", "b", "c", "ar", "once"].iter().map(|id| (p.pid(id), p.state(id))).collect();
    let out = ok(p.ctl(&["reexec"]));
    assert!(out == "re-executed\n" || out.is_empty(), "{out}");
    p.wait_console("re-executed; 5 objects adopted", T);
    let after: Vec<(Option<i64>, String)> = ["a", "b", "c", "ar", "once"].iter().map(|id| (p.pid(id), p.state(id))).collect();
    assert_eq!(before, after);
    assert_eq!(p.status("c")["enabled"], false);
    assert_eq!(p.host_pid_of(1), Some(p.host_pid));
    // Still the parent, still supervising: a crash is seen and restarted.
    let ar = p.pid("ar").unwrap();
    ok(p.sh(&format!("kill -9 {ar}")));
    assert!(wait_for(T, || p.pid("ar").is_some_and(|n| n != ar)), "{}", p.console());
    assert_eq!(p.status("ar")["last_exit"], "killed by SIGKILL");
    let b = p.pid("b").unwrap();
    ok(p.sh(&format!("kill -9 {b}")));
    p.wait_state("b", "failed", T);
    assert!(p.zombies().is_empty(), "{:?}", p.zombies());
    // The system log goes on after the exec.
    assert!(wait_for(T, || read(&dir, "system.log").contains("ar: process exited (killed by SIGKILL)")), "{}", read(&dir, "system.log"));
    let console = p.poweroff();
    assert!(console.contains("Stopping service a ... Done"), "{console}");
}

#[test]
fn reexec_misses_no_child_that_ends_during_the_exec() {
    let dir = scratch("verb-reexec-race");
    // A control-socket client as a supervised service: PID 1's end of the
    // connection closes on exec, so the client ends exactly while the new
    // image is loading, before it listens for SIGCHLD again.
    write(
        &dir,
        "epoch.conf",
        "DefaultRunlevel default\n\
         ObjectID client\nObjectStartCommand socat -u -t0 UNIX-CONNECT:@DIR@/run/iocinit/control,type=5 OPEN:/dev/null\n\
         ObjectStartPriority 1\nObjectRunlevels default\nObjectOptions FORK AUTORESTART\n",
    );
    let p = Pid1::boot(&dir, &[]);
    p.wait_console("iocinit: ready", T);
    // The window is a few milliseconds wide: try it ten times.
    for round in 1..=10 {
        // Connected (it may race the boot or the last exec: it restarts
        // until it is).
        assert!(wait_for(T, || ok(p.sh("ls -l /proc/1/fd")).matches("socket:").count() >= 2), "{}", p.console());
        let old = p.pid("client").unwrap();
        ok(p.ctl(&["reexec"]));
        assert!(
            wait_for(T, || match p.status("client") {
                st if st["state"] == "running" => st["pid"].as_i64() != Some(old),
                // Restarting after a fast failure: skip the backoff.
                st if st["state"] == "restarting" || st["state"] == "crashed" => {
                    let _ = p.ctl(&["start", "client"]);
                    false
                }
                _ => false,
            }),
            "round {round}: the client's end was never seen: {:?}\n{}",
            p.zombies(),
            p.console()
        );
    }
    assert_eq!(p.console().matches("re-executed;").count(), 10);
    assert!(p.zombies().is_empty(), "{:?}", p.zombies());
    p.poweroff();
}

#[test]
fn restart_of_a_service_waiting_out_its_backoff_starts_it_now() {
    let dir = scratch("verb-restart-backoff");
    // Crashes until the gate is there, then runs.
    write(
        &dir,
        "epoch.conf",
        "DefaultRunlevel default\n\
         ObjectID flaky\nObjectStartCommand [ -e @DIR@/gate ] && exec sleep 600; exit 1\nObjectStartPriority 1\n\
         ObjectStopPriority 1\nObjectRunlevels default\nObjectOptions FORK AUTORESTART\n",
    );
    let p = Pid1::boot(&dir, &[]);
    // Third failure: a 1 s wait before the next try.
    assert!(wait_for(T, || {
        let st = p.status("flaky");
        st["state"] == "restarting" && st["restarts"].as_u64() >= Some(3)
    }));
    std::fs::write(dir.join("gate"), "").unwrap();
    assert_eq!(ok(p.ctl(&["restart", "flaky"])), "Restarting flaky ... Done\n");
    assert_eq!(p.state("flaky"), "running");
    // And a stop afterwards stops it for good.
    assert_eq!(ok(p.ctl(&["stop", "flaky"])), "Stopping flaky ... Done\n");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(p.state("flaky"), "stopped");
    p.poweroff();
}

#[test]
fn busybox_signals_and_the_applet_fallbacks() {
    // BusyBox's conventions for init: SIGUSR1 halt, SIGTERM reboot, SIGUSR2
    // and SIGPWR power off, sent from inside the namespace.
    for (signal, ends_with) in [("USR1", libc::SIGINT), ("TERM", libc::SIGHUP), ("USR2", libc::SIGINT), ("PWR", libc::SIGINT)] {
        let dir = scratch(&format!("verb-sig-{signal}"));
        three(&dir, "");
        let mut p = Pid1::boot(&dir, &[]);
        // The socket answers while the boot may still be starting a (on a
        // loaded machine): a signal then would have nothing of a to stop.
        p.wait_state("a", "running", T);
        // The shell is in the namespace too: a shutdown faster than its exit
        // ends it with SIGKILL, which is the signal taken, not refused.
        let out = p.sh(&format!("kill -{signal} 1"));
        assert!(ns::power_request_ok(&out), "SIG{signal}: {out:?}");
        let status = p.wait_exit(T);
        assert_eq!(status.signal(), Some(ends_with), "SIG{signal}: {status:?}");
        assert!(p.console().contains("Stopping service a ... Done"), "SIG{signal}: {}", p.console());
    }
    // No control socket to be reached: the applet signals PID 1 instead.
    let dir = scratch("verb-applet-fallback");
    three(&dir, "");
    let mut p = Pid1::boot(&dir, &[]);
    let out = p.run(p.bin.join("poweroff").to_str().unwrap(), &["--socket", "/nonexistent/control"]);
    assert!(ns::power_request_ok(&out), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("signalling PID 1 instead"), "{out:?}");
    assert_eq!(p.wait_exit(T).signal(), Some(libc::SIGINT));
    assert!(p.console().contains("iocinit: all processes ended"));
    // -f: reboot(2) at once, nothing stopped.
    let dir = scratch("verb-applet-force");
    three(&dir, "");
    let mut p = Pid1::boot(&dir, &[]);
    let _ = p.run(p.bin.join("reboot").to_str().unwrap(), &["-f"]);
    assert_eq!(p.wait_exit(T).signal(), Some(libc::SIGHUP));
    assert!(!p.console().contains("Stopping"), "{}", p.console());
}
