//! Operating IOCs day to day, with the real parts (Debian's procServ, a real
//! EPICS 7 softIoc, caget): procServ's ^T key cannot turn auto-restart off
//! and `ioc status` says so; `ioc status --all` for the serial line, and
//! what `ioc status` without a name and `ioc` alone print; `install` of a
//! running IOC; and `iocinit --local` with no configuration file at all,
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
