//! Who may do what to an IOC, with iocinit as PID 1 of a PID namespace and a
//! real softIoc under procServ: root and members of the IOC group (IocGroup)
//! manage and attach without sudo; everyone else may only look (list, status,
//! view). The control socket decides by SO_PEERCRED; the console socket by
//! its mode (0660, the IOC's user and the IOC group). Needs root (CI runs as
//! root) to create the test users (tests/support/install-test-users).

mod ioc_support;
mod ns;
mod pty;

use std::os::unix::process::CommandExt;
use std::process::Output;
use std::time::Duration;

use ioc_support::*;
use ns::{write, Pid1};

const UP: Duration = Duration::from_secs(20);

fn boot(dir: &std::path::Path, ioc: &SoftIoc) -> Pid1 {
    setup();
    write(dir, "epoch.conf", EPOCH_CONF);
    ioc.install_file(&dir.join("ioc"), IOC_USER, GROUP);
    let p = Pid1::boot(dir, &[]);
    ioc.wait_value("calc", "42", UP);
    p
}

/// `echo dbl | ioc attach demo` as `user`, inside the namespace.
fn dbl_as(p: &Pid1, user: &str) -> Output {
    let script = format!("echo dbl | {} attach demo --run-dir {}", p.bin.join("ioc").display(), p.dir.join("run").display());
    p.inside_as(user, "/bin/sh", &["-c", &script]).output().unwrap()
}

fn procserv_pid(p: &Pid1) -> i64 {
    p.pid("demo").unwrap_or(0)
}

#[test]
fn outside_the_ioc_group_one_may_look_but_not_touch() {
    let s = Scratch::new("access-out");
    let ioc = SoftIoc::standard(s.path(), "demo");
    let p = boot(s.path(), &ioc);
    let before = procserv_pid(&p);
    for verb in ["restart", "stop", "start", "enable", "disable"] {
        let out = p.ioc_as(OUTSIDER, &[verb, "demo"]);
        assert_eq!(out.status.code(), Some(4), "ioc {verb}: {}", text(&out));
        assert!(
            text(&out).contains("permission denied: only root and members of the IOC group may do that"),
            "ioc {verb}: {}",
            text(&out)
        );
    }
    assert_eq!(procserv_pid(&p), before, "a refused verb touched the IOC");
    assert_eq!(p.status("demo")["enabled"], true);

    // The console: refused by the kernel (EACCES), and the message says so.
    let out = dbl_as(&p, OUTSIDER);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("permission denied (EACCES)") && err.contains("IOC group"), "{err}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains(&ioc.pv("ai")), "{}", text(&out));
    let out = p.ioc_as(OUTSIDER, &["monitor", "demo"]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));

    // Looking is for everyone.
    let table = ok(p.ioc_as(OUTSIDER, &["list", "-vv"]), "ioc list -vv as outsider");
    let rows = list_rows(&table);
    assert_eq!((column(&rows[0], "STATUS"), column(&rows[0], "K-STATE")), ("active", "LISTEN"), "{table}");
    assert_eq!(column(&rows[0], "PID"), before.to_string());
    let view = ok(p.ioc_as(OUTSIDER, &["log", "demo"]), "ioc log as outsider");
    assert!(view.contains("iocRun: All initialization complete"), "{view}");
    let status = ok(p.ioc_as(OUTSIDER, &["status", "demo"]), "ioc status as outsider");
    assert!(status.contains("running"), "{status}");
    assert_eq!(ioc.caget("calc").as_deref(), Ok("42"));
    p.poweroff();
}

#[test]
fn a_member_of_the_ioc_group_restarts_and_attaches_without_sudo() {
    let s = Scratch::new("access-member");
    let ioc = SoftIoc::standard(s.path(), "demo");
    let p = boot(s.path(), &ioc);
    let before = procserv_pid(&p);
    let out = ok(p.ioc_as(MEMBER, &["restart", "demo"]), "ioc restart as a member");
    assert!(out.contains("demo is ready"), "{out}");
    let after = procserv_pid(&p);
    assert!(after != before && after != 0, "{before} -> {after}");
    ioc.wait_value("calc", "42", UP);

    let out = dbl_as(&p, MEMBER);
    assert!(out.status.success(), "{}", text(&out));
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(shown.contains(&ioc.pv("ai")) && shown.contains(&ioc.pv("calc")), "{shown}");

    ok(p.ioc_as(MEMBER, &["disable", "demo"]), "ioc disable as a member");
    ok(p.ioc_as(MEMBER, &["enable", "demo"]), "ioc enable as a member");
    ok(p.ioc_as(MEMBER, &["stop", "demo"]), "ioc stop as a member");
    assert!(wait_for(UP, || port_is_free(ioc.port)));
    ok(p.ioc_as(MEMBER, &["start", "demo"]), "ioc start as a member");
    ioc.wait_value("calc", "42", UP);
    // Root-only verbs stay root's.
    let out = p.inside_as(MEMBER, p.bin.join("poweroff").to_str().unwrap(), &[]).output().unwrap();
    assert_eq!(out.status.code(), Some(4), "poweroff as a member: {}", text(&out));
    p.poweroff();
}

#[test]
fn ioc_names_are_checked_before_anything_is_sent() {
    setup();
    // No supervisor behind this socket: a name that got as far as a request
    // would end in "not reachable" (exit 3), not in a usage error (exit 2).
    let nowhere = "/nonexistent/iocinit/control";
    let bin = ns::shared_bin();
    for args in [
        &["start", "../x"][..],
        &["stop", "../../etc/passwd"],
        &["restart", "a b"],
        &["attach", "x/y"],
        &["monitor", ".hidden"],
        &["log", "-n", "1", "../log"],
        &["status", ""],
        &["inspect", "$(reboot)"],
        &["enable", "ä"],
        &["remove", "-f", "x/../y"],
    ] {
        let out = std::process::Command::new(&bin)
            .arg0("ioc")
            .args(args)
            .args(["--socket", nowhere])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "ioc {args:?}: {}", text(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("Invalid IOC name"), "ioc {args:?}: {err}");
    }
}
