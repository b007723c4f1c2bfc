//! `iocinit --local`: an unprivileged user (iocit-local, from
//! tests/support/install-test-users) runs the supervisor as an ordinary
//! process and the whole IOC flow with the real parts — install from an
//! iocBoot directory into ~/.config/procServ.d (or a given --ioc-dir), start,
//! list -vv, caget, attach on a terminal, stop — and nothing runs as root.
//! The test itself needs root only to become that user (setpriv).

mod ioc_support;
mod ns;
mod pty;

use std::os::unix::fs::MetadataExt;
use std::time::Duration;

use ioc_support::*;

const UP: Duration = Duration::from_secs(20);

#[test]
fn a_user_runs_installs_attaches_and_stops_an_ioc_without_root() {
    let scratch = Scratch::new("local-flow");
    let mut s = LocalSession::new(scratch.path());
    let ioc = SoftIoc::standard(scratch.path(), "demo");
    s.give(&scratch.path().join("top"));
    ns::write(&s.home, ".config/iocinit/epoch.conf", "DefaultRunlevel default\n");
    s.give(&s.home.clone());
    s.start_supervisor(&[]);

    // From the iocBoot directory: the IOC file lands in ~/.config/procServ.d
    // (made on first use); the IOC is named after the directory.
    let out = ok(s.ioc(&["install", ioc.boot.to_str().unwrap()]), "ioc --local install DIR");
    let conf = s.home.join(".config/procServ.d/iocdemo.conf");
    assert!(out.contains(&format!("installed {}", conf.display())), "{out}");
    assert_eq!(std::fs::metadata(&conf).unwrap().uid(), s.uid);
    let out = ok(s.ioc(&["start", "iocdemo"]), "ioc --local start");
    assert!(out.contains("iocdemo is ready"), "{out}\nsupervisor:\n{}", s.log_text());
    ioc.wait_value("calc", "42", UP);

    let table = ok(s.ioc(&["list", "-vv"]), "ioc --local list -vv");
    let rows = list_rows(&table);
    assert_eq!(rows.len(), 1, "{table}");
    let row = &rows[0];
    assert_eq!((column(row, "STATUS"), column(row, "K-STATE"), column(row, "PERM")), ("active", "LISTEN", "srw-rw----"), "{table}");
    let socket = s.runtime.join("procserv/iocdemo/control");
    assert_eq!(column(row, "UDS PATH"), socket.to_str().unwrap());
    let pid: i32 = column(row, "PID").parse().unwrap();
    let procserv = proc_info(pid).unwrap();
    assert!(procserv.cmdline.starts_with("procServ -f --name iocdemo"), "{}", procserv.cmdline);
    assert_eq!(procserv.ppid, s.supervisor_pid());
    assert_eq!(std::fs::metadata(&socket).unwrap().uid(), s.uid);

    // No root anywhere: the supervisor, procServ and the IOC are the user's.
    let tree = s.tree();
    assert!(tree.iter().any(|p| p.cmdline.contains("softIoc ./st.cmd")), "{:?}", tree.iter().map(|p| &p.cmdline).collect::<Vec<_>>());
    for p in &tree {
        assert_eq!(p.uid, s.uid, "{} runs as uid {}", p.cmdline, p.uid);
    }
    let log = s.home.join(".local/state/iocinit/procserv/iocdemo.log");
    assert!(std::fs::read_to_string(&log).unwrap().contains("All initialization complete"));

    // attach on a terminal: dbl, then Ctrl-A.
    let mut term = Pty::spawn(s.command("ioc", &["--local", "attach", "iocdemo"]));
    let before = term.initial.clone();
    term.expect("[attached to iocdemo; detach with Ctrl-A]", UP);
    term.expect("@@@ Welcome to procServ", UP);
    let mark = term.seen.len();
    term.type_keys(b"dbl\r");
    term.expect_from(mark, &ioc.pv("calc"), UP);
    term.type_keys(b"\x01");
    term.expect("[detached from iocdemo]", UP);
    assert_eq!(term.wait(UP).code(), Some(0));
    assert!(same_settings(&before, &term.settings()), "terminal not restored");

    let out = ok(s.ioc(&["stop", "iocdemo"]), "ioc --local stop");
    assert!(out.contains("iocdemo stopped"), "{out}");
    assert_eq!(s.tree().len(), 1, "left running: {:?}", s.tree().iter().map(|p| &p.cmdline).collect::<Vec<_>>());
    assert!(port_is_free(ioc.port));

    ok(s.ioc(&["remove", "iocdemo"]), "ioc --local remove");
    assert!(!conf.exists());
    let status = s.stop_supervisor();
    assert!(status.success(), "{status:?}; log:\n{}", s.log_text());
}

#[test]
fn local_with_a_given_config_and_ioc_dir() {
    let scratch = Scratch::new("local-iocdir");
    let mut s = LocalSession::new(scratch.path());
    let ioc = SoftIoc::standard(scratch.path(), "dev");
    let conf_dir = scratch.path().join("conf");
    let ioc_dir = scratch.path().join("iocs");
    // A board's IOC file as is: its IOC_USER does not exist here; --local
    // runs it as the user who started the supervisor.
    ns::write(&conf_dir, "epoch.conf", "DefaultRunlevel default\nIocHoldoff 1\n");
    std::fs::create_dir_all(&ioc_dir).unwrap();
    s.give(&conf_dir);
    s.give(&ioc_dir);
    s.give(&scratch.path().join("top"));
    let file = scratch.path().join("dev.conf");
    std::fs::write(&file, ioc.ioc_file("ioc-srv-not-here", "ioc")).unwrap();
    s.start_supervisor(&["--config", conf_dir.join("epoch.conf").to_str().unwrap(), "--ioc-dir", ioc_dir.to_str().unwrap()]);

    // `ioc --local install` refuses it, as epics-ioc-runner's local mode
    // does (IOC_USER is not you); copied into the IOC directory, it runs.
    let out = s.ioc(&["install", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    std::fs::copy(&file, ioc_dir.join("dev.conf")).unwrap();
    s.give(&ioc_dir);
    ok(s.ioc(&["rescan"]), "ioc --local rescan");
    ok(s.ioc(&["start", "dev"]), "ioc --local start");
    assert!(!s.home.join(".config/procServ.d").exists());
    ioc.wait_value("calc", "42", UP);
    let rows = list_rows(&ok(s.ioc(&["list", "-v"]), "list -v"));
    assert_eq!(column(&rows[0], "STATUS"), "active");
    for p in s.tree() {
        assert_eq!(p.uid, s.uid, "{}", p.cmdline);
    }
    let out = ok(s.command("/bin/sh", &["-c", "echo dbl | ioc --local attach dev"]).output().unwrap(), "attach");
    assert!(out.contains(&ioc.pv("ai")), "{out}");

    // Stopping the supervisor stops its IOCs.
    let status = s.stop_supervisor();
    assert!(status.success(), "{status:?}");
    assert!(wait_for(UP, || port_is_free(ioc.port)), "the IOC outlived the supervisor");
}

/// `--local` puts its control socket and the consoles in its run directory:
/// one that belongs to someone else (a predictable /tmp path created first
/// by another user) is refused.
#[test]
fn local_refuses_a_run_directory_owned_by_someone_else() {
    let dir = ns::scratch("local-foreign-run");
    let run = dir.join("run");
    std::fs::create_dir_all(&run).unwrap();
    nix::unistd::chown(&run, Some(nix::unistd::Uid::from_raw(65534)), None).unwrap();
    ns::write(&dir, "epoch.conf", "DefaultRunlevel default\nObjectID a\nObjectStartCommand /bin/true\nObjectStartPriority 1\nObjectRunlevels default\n");
    let out = local_with_run_dir(&dir, &run);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a directory owned by you"), "{}", String::from_utf8_lossy(&out.stderr));
}

/// A run directory that cannot be made (here, under a file) is refused
/// with the line that names it and says why.
#[test]
fn local_says_why_it_cannot_make_its_run_directory() {
    let dir = ns::scratch("local-no-run");
    ns::write(&dir, "file", "");
    let run = dir.join("file/run");
    ns::write(&dir, "epoch.conf", "DefaultRunlevel default\n");
    let out = local_with_run_dir(&dir, &run);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!("error: {}: cannot create it: ", run.display())), "{stderr}");
}

/// `iocinit --local` with `dir`'s epoch.conf and `run` as its run directory.
fn local_with_run_dir(dir: &std::path::Path, run: &std::path::Path) -> std::process::Output {
    std::process::Command::new(ns::BIN)
        .args(["--local", "--config"])
        .arg(dir.join("epoch.conf"))
        .arg("--run-dir")
        .arg(run)
        .output()
        .unwrap()
}
