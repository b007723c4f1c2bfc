//! Operating IOCs day to day, with the real parts (Debian's procServ, a real
//! EPICS 7 softIoc, caget): procServ's ^T key cannot turn auto-restart off
//! and `ioc status` says so; `ioc status --all` for the serial line, and
//! what `ioc status` without a name and `ioc` alone print; `ioc attach -e`
//! for serial terminal programs that keep Ctrl-A; `install` of a running
//! IOC; and `iocinit --local` with no configuration file at all,
//! serving an IOC that `ioc generate` + `ioc install` made, without a
//! warning. iocinit runs as PID 1 of a PID namespace (needs root), or as
//! `iocinit --local` of the unprivileged test user iocit-local.

mod ioc_support;
mod ns;
mod pty;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use ioc_support::*;
use ns::{write, Pid1};
use serde_json::Value;

const UP: Duration = Duration::from_secs(20);

/// Boots PID 1 with `iocs` installed (run as IOC_USER, group GROUP);
/// those not in `skip` are started at boot and answer caget.
fn boot(dir: &Path, iocs: &[&SoftIoc], skip: &[&str]) -> Pid1 {
    setup();
    write(dir, "epoch.conf", EPOCH_CONF);
    for ioc in iocs {
        ioc.install_file(&dir.join("ioc"), IOC_USER, GROUP);
    }
    let extra: Vec<&str> = skip.iter().flat_map(|s| ["--skipobj", s]).collect();
    let p = Pid1::boot(dir, &extra);
    for ioc in iocs.iter().filter(|i| !skip.contains(&i.name.as_str())) {
        ioc.wait_value("calc", "42", UP);
    }
    p
}

/// The IOC's namespace pid, from `ioc status --json` (0 when none runs).
fn ioc_pid(p: &Pid1, name: &str) -> i64 {
    let out = ok(p.ioc(&["status", name, "--json"]), "ioc status --json");
    serde_json::from_str::<Value>(&out).unwrap()["ioc_pid"].as_i64().unwrap_or(0)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn ctrl_t_on_the_console_leaves_auto_restart_on_and_status_says_so() {
    let s = Scratch::new("ops-ctrlt");
    let ioc = SoftIoc::standard(s.path(), "demo");
    let p = boot(s.path(), &[&ioc], &[]);

    // A stray ^T typed on the console, then a command: once dbl has
    // answered, procServ has seen the ^T.
    let ioc_cmd = p.bin.join("ioc");
    let run = s.path().join("run");
    let typed = format!("printf '\\024\\ndbl\\n' | {} attach demo --run-dir {}", ioc_cmd.display(), run.display());
    let out = ok(p.sh(&typed), "^T and dbl on the console");
    assert!(out.contains(&ioc.pv("ai")), "{out}");
    let log = std::fs::read_to_string(s.path().join("log/demo.log")).unwrap();
    assert!(!log.contains("Toggled auto restart"), "{log}");

    // status reports it, read from the running procServ.
    let text = ok(p.ioc(&["status", "demo", "-n", "0"]), "ioc status");
    let line = text.lines().find(|l| l.starts_with("Auto-restart:")).unwrap_or_else(|| panic!("no Auto-restart line:\n{text}"));
    assert!(line.contains(" on (procServ's ^T toggle is off)"), "{text}");
    let json: Value = serde_json::from_str(&ok(p.ioc(&["status", "demo", "--json"]), "ioc status --json")).unwrap();
    assert_eq!(json["autorestart"], "on", "{json}");

    // The IOC crashes: procServ still starts it again.
    let old = ioc_pid(&p, "demo");
    assert!(old > 0);
    ok(p.sh(&format!("kill -9 {old}")), "kill -9 the IOC");
    let mut now = 0;
    assert!(
        wait_for(UP, || {
            now = ioc_pid(&p, "demo");
            now != 0 && now != old
        }),
        "procServ did not restart the IOC after ^T; log:\n{}",
        std::fs::read_to_string(s.path().join("log/demo.log")).unwrap_or_default()
    );
    ioc.wait_value("calc", "42", UP);

    // Stopped: no procServ, no state.
    ok(p.ioc(&["stop", "demo"]), "ioc stop");
    let json: Value = serde_json::from_str(&ok(p.ioc(&["status", "demo", "--json"]), "ioc status --json")).unwrap();
    assert_eq!(json["autorestart"], Value::Null, "{json}");
    p.poweroff();
}

/// The first `ioc attach` example of the user guide: `-e '^]'` for a serial
/// terminal program (minicom, picocom, screen) that keeps Ctrl-A: Ctrl-A then
/// reaches the console, Ctrl-] detaches.
#[test]
fn attach_with_e_detaches_with_that_key_and_passes_ctrl_a_on() {
    let s = Scratch::new("ops-attach-e");
    let ioc = SoftIoc::standard(s.path(), "demo");
    let p = boot(s.path(), &[&ioc], &[]);
    let run = s.path().join("run");
    let ioc_cmd = p.bin.join("ioc");
    let mut term = Pty::spawn(p.inside(ioc_cmd.to_str().unwrap(), &["attach", "demo", "-e", "^]", "--run-dir", run.to_str().unwrap()]));
    let before = term.initial.clone();
    term.expect("[attached to demo; detach with Ctrl-]]", UP);
    term.expect("@@@ Welcome to procServ", UP);
    let mark = term.seen.len();
    // Ctrl-A reaches the IOC's shell (which has no command of that name),
    // and the session goes on.
    term.type_keys(b"\x01\r");
    term.expect_from(mark, "Command \x01 not found", UP);
    term.type_keys(b"dbl\r");
    term.expect_from(mark, &ioc.pv("calc"), UP);
    assert!(!term.screen().contains("[detached"), "Ctrl-A detached: {}", term.screen());
    term.type_keys(b"\x1d");
    term.expect("[detached from demo]", UP);
    assert_eq!(term.wait(UP).code(), Some(0), "{}", term.screen());
    assert!(same_settings(&before, &term.settings()), "terminal not restored");
    p.poweroff();
}

#[test]
fn status_all_shows_every_ioc_and_a_missing_name_points_at_it() {
    let s = Scratch::new("ops-all");
    let one = SoftIoc::standard(s.path(), "one");
    let two = SoftIoc::standard(s.path(), "two");
    let p = boot(s.path(), &[&one, &two], &["one", "two"]);

    for all in ["--all", "-a"] {
        let out = ok(p.ioc(&["status", all]), "ioc status --all");
        let ids: Vec<&str> = out.lines().filter_map(|l| l.strip_prefix("ObjectID:")).map(str::trim).collect();
        assert_eq!(ids, ["one", "two"], "{out}");
        assert_eq!(out.matches("Auto-restart:").count(), 2, "{out}");
        assert!(!out.contains("--- last"), "no log tails unless -n asks: {out}");
    }
    let out = ok(p.ioc(&["status", "--all", "-n", "1"]), "ioc status --all -n 1");
    assert_eq!(out.matches("--- last 1 lines of").count(), 2, "{out}");
    let json: Value = serde_json::from_str(&ok(p.ioc(&["status", "-a", "--json"]), "ioc status -a --json")).unwrap();
    let names: Vec<&str> = json.as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(names, ["one", "two"], "{json}");
    assert!(json.as_array().unwrap().iter().all(|r| r["autorestart"].is_null()), "{json}");

    // No name: a usage error that exits 1, as epics-ioc-runner's, and says
    // where the overview is.
    let out = p.ioc(&["status"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(stderr(&out).contains("--all") && stderr(&out).contains("ioc list -v"), "{}", text(&out));
    let out = p.ioc(&["status", "one", "--all"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));

    // `ioc` alone: a short usage on stdout, exit 0.
    for args in [&[][..], &["--local"][..]] {
        let out = Command::new(p.bin.join("ioc")).args(args).stdin(Stdio::null()).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        let usage = String::from_utf8_lossy(&out.stdout);
        assert!(usage.starts_with("Usage: ioc"), "{usage}");
        assert!(usage.contains("status") && usage.contains("attach"), "{usage}");
        assert!(!text(&out).contains("Required"), "{}", text(&out));
    }
    p.poweroff();
}

#[test]
fn install_refuses_to_replace_a_running_ioc_and_replaces_a_stopped_one() {
    let s = Scratch::new("ops-install");
    let ioc = SoftIoc::standard(s.path(), "demo");
    let p = boot(s.path(), &[&ioc], &[]);
    let installed = s.path().join("ioc/demo.conf");
    let before = std::fs::read_to_string(&installed).unwrap();
    // An edit: epics-ioc-runner's IOC_PORT added.
    assert!(!before.contains("IOC_PORT"));
    let edited = s.path().join("demo.conf");
    std::fs::write(&edited, format!("{before}IOC_PORT=\"unix:{IOC_USER}:{GROUP}:0660:/run/procserv/demo/control\"\n")).unwrap();

    let out = p.ioc(&["install", edited.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(stderr(&out).contains("demo is running") && stderr(&out).contains("ioc stop demo"), "{}", text(&out));
    assert_eq!(std::fs::read_to_string(&installed).unwrap(), before, "the running IOC's file was replaced");
    ioc.wait_value("calc", "42", UP);

    ok(p.ioc(&["stop", "demo"]), "ioc stop");
    // The installed file differs: -f replaces it without asking.
    let out = ok(p.ioc(&["install", edited.to_str().unwrap(), "--start", "-f"]), "ioc install --start -f of a stopped IOC");
    assert!(out.contains("demo is ready"), "{out}");
    assert!(std::fs::read_to_string(&installed).unwrap().contains("IOC_PORT="));
    ioc.wait_value("calc", "42", UP);
    p.poweroff();
}

#[test]
fn local_without_a_configuration_serves_an_ioc_from_generate_and_install_without_a_warning() {
    let s = Scratch::new("ops-local");
    let mut u = LocalSession::new(s.path());
    let ioc = SoftIoc::standard(s.path(), "demo");
    let chown = Command::new("chown").arg("-R").arg(format!("{}:{}", u.uid, u.gid)).arg(s.path().join("top")).status().unwrap();
    assert!(chown.success());
    assert!(!u.home.join(".config/iocinit/epoch.conf").exists());

    let log = std::fs::File::create(&u.log).unwrap();
    let child = u.command("iocinit", &["--local"]).stdout(log.try_clone().unwrap()).stderr(log).spawn().unwrap();
    u.supervisor = Some(child);
    let socket = u.runtime.join("iocinit/control");
    assert!(wait_for(UP, || socket.exists()), "iocinit --local did not start without a configuration:\n{}", u.log_text());

    // generate writes the user's own file: their user and group, the
    // console where this supervisor serves it.
    let out = u.ioc(&["generate", ioc.boot.to_str().unwrap()]);
    assert!(out.status.success() && out.stderr.is_empty(), "generate: {}", text(&out));
    let file = ioc.boot.join("iocdemo.conf");
    let written = std::fs::read_to_string(&file).unwrap();
    let group = nix::unistd::Group::from_gid(u.gid.into()).unwrap().unwrap().name;
    let console = u.runtime.join("procserv/iocdemo/control");
    for line in [
        format!("IOC_USER=\"{LOCAL_USER}\""),
        format!("IOC_GROUP=\"{group}\""),
        format!("IOC_PORT=\"unix:{LOCAL_USER}:{group}:0660:{}\"", console.display()),
    ] {
        assert!(written.contains(&line), "no {line} in:\n{written}");
    }

    // install takes it as it is: no warning from the client or the supervisor.
    let out = u.ioc(&["install", file.to_str().unwrap()]);
    assert!(out.status.success(), "install: {}", text(&out));
    assert!(out.stderr.is_empty() && !text(&out).contains("problem"), "install warned: {}", text(&out));
    let out = ok(u.ioc(&["start", "iocdemo"]), "ioc --local start");
    assert!(out.contains("iocdemo is ready"), "{out}\nsupervisor:\n{}", u.log_text());
    ioc.wait_value("calc", "42", UP);
    assert!(console.exists());
    let said = u.log_text();
    assert!(!said.to_lowercase().contains("warn") && !said.contains("another console"), "{said}");

    // SIGTERM: it stops the IOC and exits.
    let mut child = u.supervisor.take().unwrap();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::SIGTERM).unwrap();
    let mut status = None;
    assert!(wait_for(UP, || {
        status = child.try_wait().unwrap();
        status.is_some()
    }));
    assert!(status.unwrap().success(), "{:?}; log:\n{}", status, u.log_text());
    assert!(wait_for(UP, || port_is_free(ioc.port)), "the IOC outlived the supervisor");
}
