//! `iocinit --local`: an unprivileged user (iocit-local, from
//! tests/support/install-test-users) runs the supervisor as an ordinary
//! process and the whole IOC flow with the real parts — install from an
//! iocBoot directory into ~/.config/procServ.d (or a given --ioc-dir), start,
//! list -vv, caget, attach on a terminal, stop — and nothing runs as root.
//! The test itself needs root only to become that user (setpriv).

mod ioc_support;
mod ns;
mod pty;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use ioc_support::*;

const UP: Duration = Duration::from_secs(20);

/// The local user's session: HOME and XDG_RUNTIME_DIR of its own.
struct Session {
    home: PathBuf,
    runtime: PathBuf,
    /// Holds `ioc` and `iocinit` links to the binary.
    bin: PathBuf,
    uid: u32,
    gid: u32,
    supervisor: Option<Child>,
    log: PathBuf,
}

impl Session {
    fn new(dir: &Path) -> Session {
        setup();
        let u = nix::unistd::User::from_name(LOCAL_USER).unwrap().expect("tests/support/install-test-users");
        let (uid, gid) = (u.uid.as_raw(), u.gid.as_raw());
        let home = dir.join("home");
        let runtime = dir.join("xdg-runtime");
        let bin = dir.join("bin");
        for (d, mode) in [(&home, 0o755), (&runtime, 0o700)] {
            std::fs::create_dir_all(d).unwrap();
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(mode)).unwrap();
            nix::unistd::chown(d.as_path(), Some(uid.into()), Some(gid.into())).unwrap();
        }
        std::fs::create_dir_all(&bin).unwrap();
        for name in ["ioc", "iocinit"] {
            std::os::unix::fs::symlink(ns::shared_bin(), bin.join(name)).unwrap();
        }
        Session { home, runtime, bin, uid, gid, supervisor: None, log: dir.join("supervisor.log") }
    }

    /// `program args` as the local user, in a login-like clean environment.
    fn command(&self, program: &str, args: &[&str]) -> Command {
        let program = if program.contains('/') { PathBuf::from(program) } else { self.bin.join(program) };
        let mut c = Command::new("setpriv");
        c.args(["--reuid", &self.uid.to_string(), "--regid", &self.gid.to_string(), "--init-groups", "--", "env", "-i"])
            .arg(format!("HOME={}", self.home.display()))
            .arg(format!("XDG_RUNTIME_DIR={}", self.runtime.display()))
            .arg(format!("PATH={}:/usr/local/bin:/usr/bin:/bin", self.bin.display()))
            .arg(program)
            .args(args)
            .stdin(Stdio::null());
        c
    }

    fn ioc(&self, args: &[&str]) -> Output {
        let mut all = vec!["--local"];
        all.extend(args);
        self.command("ioc", &all).output().unwrap()
    }

    /// Starts `iocinit --local ARGS` and waits for its control socket.
    fn start_supervisor(&mut self, args: &[&str]) {
        let mut all = vec!["--local"];
        all.extend(args);
        let log = std::fs::File::create(&self.log).unwrap();
        let child = self.command("iocinit", &all).stdout(log.try_clone().unwrap()).stderr(log).spawn().unwrap();
        self.supervisor = Some(child);
        let socket = self.runtime.join("iocinit/control");
        assert!(wait_for(UP, || socket.exists()), "no control socket; log:\n{}", self.log_text());
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn supervisor_pid(&self) -> i32 {
        self.supervisor.as_ref().unwrap().id() as i32
    }

    /// Every process under the supervisor (host pids), the supervisor included.
    fn tree(&self) -> Vec<Proc> {
        let mut pids = vec![self.supervisor_pid()];
        let mut i = 0;
        while i < pids.len() {
            let parent = pids[i];
            for e in std::fs::read_dir("/proc").unwrap().flatten() {
                let Ok(p) = e.file_name().to_string_lossy().parse::<i32>() else { continue };
                if proc_info(p).is_some_and(|info| info.ppid == parent) {
                    pids.push(p);
                }
            }
            i += 1;
        }
        pids.into_iter().filter_map(proc_info).collect()
    }

    /// SIGTERM to the supervisor: it stops its IOCs and exits.
    fn stop_supervisor(&mut self) -> std::process::ExitStatus {
        let mut child = self.supervisor.take().unwrap();
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::SIGTERM).unwrap();
        let mut status = None;
        assert!(wait_for(UP, || {
            status = child.try_wait().unwrap();
            status.is_some()
        }));
        status.unwrap()
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if self.supervisor.is_some() {
            // Whatever it started dies with the supervisor's descendants.
            let tree: Vec<i32> = self.tree().iter().map(|p| p.pid).collect();
            let mut child = self.supervisor.take().unwrap();
            for pid in tree.into_iter().rev() {
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::SIGKILL);
            }
            let _ = child.wait();
        }
    }
}

fn give_to(s: &Session, path: &Path) {
    let ok = Command::new("chown").arg("-R").arg(format!("{}:{}", s.uid, s.gid)).arg(path).status().unwrap().success();
    assert!(ok);
}

#[test]
fn a_user_runs_installs_attaches_and_stops_an_ioc_without_root() {
    let scratch = Scratch::new("local-flow");
    let mut s = Session::new(scratch.path());
    let ioc = SoftIoc::standard(scratch.path(), "demo");
    give_to(&s, &scratch.path().join("top"));
    ns::write(&s.home, ".config/iocinit/epoch.conf", "DefaultRunlevel default\n");
    give_to(&s, &s.home.clone());
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
    let mut s = Session::new(scratch.path());
    let ioc = SoftIoc::standard(scratch.path(), "dev");
    let conf_dir = scratch.path().join("conf");
    let ioc_dir = scratch.path().join("iocs");
    // A board's IOC file as is: its IOC_USER does not exist here; --local
    // runs it as the user who started the supervisor.
    ns::write(&conf_dir, "epoch.conf", "DefaultRunlevel default\nIocHoldoff 1\n");
    std::fs::create_dir_all(&ioc_dir).unwrap();
    give_to(&s, &conf_dir);
    give_to(&s, &ioc_dir);
    give_to(&s, &scratch.path().join("top"));
    let file = scratch.path().join("dev.conf");
    std::fs::write(&file, ioc.ioc_file("ioc-srv-not-here", "ioc")).unwrap();
    s.start_supervisor(&["--config", conf_dir.join("epoch.conf").to_str().unwrap(), "--ioc-dir", ioc_dir.to_str().unwrap()]);

    // `ioc --local install` refuses it, as epics-ioc-runner's local mode
    // does (IOC_USER is not you); copied into the IOC directory, it runs.
    let out = s.ioc(&["install", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    std::fs::copy(&file, ioc_dir.join("dev.conf")).unwrap();
    give_to(&s, &ioc_dir);
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
    let out = std::process::Command::new(ns::BIN)
        .args(["--local", "--config"])
        .arg(dir.join("epoch.conf"))
        .arg("--run-dir")
        .arg(&run)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a directory owned by you"), "{}", String::from_utf8_lossy(&out.stderr));
}
