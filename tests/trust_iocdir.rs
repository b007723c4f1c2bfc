//! The IOC directory is written by the IOC group, read by root: nothing put
//! there may block, crash or fool PID 1 (issue 8, defects 6, 9, 10 and 13).
//! iocinit runs as PID 1 of a PID namespace, with the real test users
//! (iocit-op in the IOC group iocit-grp, iocit-srv the IOC user) and real
//! procServ and softIoc:
//! - a FIFO, a device, a symlink (to /etc/shadow, to /dev/zero) or a huge
//!   file named `*.conf` is an error for that IOC only, and PID 1 answers;
//! - nothing of a rejected file's content reaches a log, the console or a reply;
//! - an IOC file a group member wrote runs as IocUser whatever its IOC_USER
//!   says; a root-owned file nobody else may write chooses its user;
//! - `ioc install` does not follow a symlink planted at its temporary path;
//! - the IOC rescan a member triggers reads the IOC directory only, never
//!   root's half-edited epoch.conf.
//!
//! Needs root (CI runs as root).

mod ioc_support;
mod ns;
mod pty;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::time::Duration;

use iocinit::control::protocol::Code;
use ioc_support::*;
use ns::{write, Pid1};

const UP: Duration = Duration::from_secs(30);

/// An IOC file whose command is a plain cat (waits on its console forever;
/// IOC_CMD is one word, as under epics-ioc-runner).
fn sleeper(name: &str) -> String {
    format!("IOC_NAME=\"{name}\"\nIOC_USER=\"{IOC_USER}\"\nIOC_CMD=\"/bin/cat\"\n")
}

/// Live processes of the namespace whose command line holds `what`.
fn live(p: &Pid1, what: &str) -> Vec<Proc> {
    p.host_pids().into_iter().filter_map(proc_info).filter(|i| i.state != b'Z' && i.cmdline.contains(what)).collect()
}

/// The uids of IOC `name`'s procServ and of the IOC under it.
fn uids_of(p: &Pid1, name: &str) -> (u32, u32) {
    let procserv = live(p, &format!("procServ -f --name {name}"));
    assert_eq!(procserv.len(), 1, "{:?}", p.processes());
    let child = p.host_pids().into_iter().filter_map(proc_info).find(|i| i.ppid == procserv[0].pid && i.state != b'Z');
    let child = child.unwrap_or_else(|| panic!("no IOC under procServ: {:?}", p.processes()));
    (procserv[0].uid, child.uid)
}

fn uid(user: &str) -> u32 {
    nix::unistd::User::from_name(user).unwrap().unwrap().uid.as_raw()
}

#[test]
fn a_fifo_named_like_an_ioc_file_is_an_error_and_pid1_answers() {
    setup();
    let s = Scratch::new("trust-fifo");
    write(s.path(), "epoch.conf", &epoch_conf_logging(""));
    let ioc = group_writable_ioc_dir(s.path());
    std::fs::write(ioc.join("good.conf"), sleeper("good")).unwrap();
    // Planted before boot: a FIFO nobody writes to, and a directory.
    nix::unistd::mkfifo(&ioc.join("x.conf"), nix::sys::stat::Mode::from_bits_truncate(0o666)).unwrap();
    std::fs::create_dir(ioc.join("sub.conf")).unwrap();
    let mut p = Pid1::boot(s.path(), &[]);
    p.wait_state("good", "running", UP);
    let fds = p.fds_at_rest();

    // One more FIFO, then a rescan: answered, x and y are errors, good stays.
    nix::unistd::mkfifo(&ioc.join("y.conf"), nix::sys::stat::Mode::from_bits_truncate(0o666)).unwrap();
    let reply = rescan(&p);
    assert_eq!(reply.code, Code::Warn, "{}", reply.message);
    let log = p.said();
    for name in ["x.conf", "y.conf", "sub.conf"] {
        let expected = format!("{}:0: not a regular file", ioc.join(name).display());
        assert!(log.contains(&expected), "no {expected:?} in:\n{log}");
    }
    let list = ok(p.ioc(&["list", "-v"]), "ioc list");
    assert!(list.contains("good") && !list.contains(" x "), "{list}");
    p.assert_healthy(fds);
    p.poweroff();
}

#[test]
fn nothing_of_a_rejected_file_reaches_a_log_or_a_reply() {
    setup();
    let s = Scratch::new("trust-leak");
    write(s.path(), "epoch.conf", &epoch_conf_logging(""));
    let ioc = group_writable_ioc_dir(s.path());
    let mut p = Pid1::boot(s.path(), &[]);
    let fds = p.fds_at_rest();

    // A secret only root may read, reached three ways: a symlink to it, a
    // symlink to /etc/shadow, and a regular file of the same content that
    // PID 1 does open (as a hard link to a secret would be).
    let secret = "root:$6$SeCrEtSaLt$hunter2hash:19000:0:99999:7:::\n\
                  IOC_NAME=\"t\"\n\
                  TOKEN=\"hunter2-token\"\n\
                  IOC_USER=\"hunter2 pw\"\n\
                  IOC_PORT=\"hunter2-port\"\n\
                  IOC_CMD=\"hunter2 `cmd`\"\n\
                  hunter2-bare\n";
    let secret_file = s.path().join("secret");
    std::fs::write(&secret_file, secret).unwrap();
    std::fs::set_permissions(&secret_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::os::unix::fs::symlink(&secret_file, ioc.join("u.conf")).unwrap();
    std::os::unix::fs::symlink("/etc/shadow", ioc.join("s.conf")).unwrap();
    std::fs::write(ioc.join("t.conf"), secret).unwrap();
    std::fs::set_permissions(ioc.join("t.conf"), std::fs::Permissions::from_mode(0o600)).unwrap();

    let reply = rescan(&p);
    assert_eq!(reply.code, Code::Warn, "{}", reply.message);
    let mut seen = format!("{}\n{}\n", reply.message, p.said());
    seen.push_str(&text(&p.ioc(&["list", "-v"])));
    seen.push_str(&text(&p.ctl(&["status"])));
    for word in ["hunter2", "SeCrEt", "19000:0:99999"] {
        assert!(!seen.contains(word), "{word:?} leaked:\n{seen}");
    }
    let shadow = std::fs::read_to_string("/etc/shadow").unwrap_or_default();
    for line in shadow.lines().filter(|l| l.len() > 12) {
        assert!(!seen.contains(line), "a line of /etc/shadow leaked:\n{seen}");
    }
    let log = p.said();
    for name in ["u.conf", "s.conf"] {
        let expected = format!("{}:0: a symbolic link: expected a regular file", ioc.join(name).display());
        assert!(log.contains(&expected), "no {expected:?} in:\n{log}");
    }
    assert!(log.contains(&format!("{}:", ioc.join("t.conf").display())), "t.conf is reported:\n{log}");
    p.assert_healthy(fds);
    p.poweroff();
}

#[test]
fn dev_zero_a_device_and_a_huge_file_are_rejected_without_reading_them() {
    setup();
    let s = Scratch::new("trust-huge");
    write(s.path(), "epoch.conf", &epoch_conf_logging(""));
    let ioc = group_writable_ioc_dir(s.path());
    std::fs::write(ioc.join("good.conf"), sleeper("good")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", ioc.join("z.conf")).unwrap();
    let dev = nix::sys::stat::makedev(1, 5);
    nix::sys::stat::mknod(&ioc.join("d.conf"), nix::sys::stat::SFlag::S_IFCHR, nix::sys::stat::Mode::from_bits_truncate(0o644), dev).unwrap();
    let mut huge = String::from("IOC_NAME=\"big\"\nIOC_CMD=\"/bin/cat\"\n");
    while huge.len() < 10 << 20 {
        huge.push_str("# padding padding padding padding padding padding padding padding\n");
    }
    std::fs::write(ioc.join("big.conf"), &huge).unwrap();
    // Reading /dev/zero to the end would take every byte of memory there
    // is: with an address-space limit, PID 1 hits it in a moment instead.
    let mut p = Pid1::boot_with(s.path(), &[], Some("ulimit -v 1048576"));
    p.wait_state("good", "running", UP);
    let fds = p.fds_at_rest();
    let reply = rescan(&p);
    assert_eq!(reply.code, Code::Warn, "{}", reply.message);
    let log = p.said();
    for (name, why) in [
        ("z.conf", "a symbolic link: expected a regular file"),
        ("d.conf", "not a regular file"),
        ("big.conf", "larger than 64 KiB"),
    ] {
        let expected = format!("{}:0: {why}", ioc.join(name).display());
        assert!(log.contains(&expected), "no {expected:?} in:\n{log}");
    }
    assert_eq!(p.state("good"), "running", "the good IOC runs on");
    assert!(p.status_field("VmRSS") < 64 << 10, "PID 1 grew to {} kB", p.status_field("VmRSS"));
    p.assert_healthy(fds);
    p.poweroff();
}

#[test]
fn only_a_root_owned_closed_ioc_file_chooses_the_user_its_ioc_runs_as() {
    setup();
    let s = Scratch::new("trust-user");
    write(s.path(), "epoch.conf", &epoch_conf_logging(&format!("IocUser {IOC_USER}\n")));
    let ioc = group_writable_ioc_dir(s.path());
    let by_member = SoftIoc::standard(s.path(), "mine");
    let written = SoftIoc::standard(s.path(), "plain");
    let by_root = SoftIoc::standard(s.path(), "rootioc");
    // Root's own file, 0644: its IOC_USER is honoured, root included.
    std::fs::write(ioc.join("rootioc.conf"), by_root.ioc_file("root", "root")).unwrap();
    let mut p = Pid1::boot(s.path(), &[]);
    by_root.wait_value("calc", "42", UP);
    let fds = p.fds_at_rest();
    assert_eq!(uids_of(&p, "rootioc"), (0, 0), "a root-owned 0644 file chooses root");

    // A member installs an IOC asking for root: it runs as IocUser.
    let boot_dir = by_member.boot.to_str().unwrap();
    ok(p.ioc_as(MEMBER, &["install", boot_dir, "--ioc-user", "root", "--ioc-group", "root", "--start"]), "ioc install --start as a member");
    by_member.wait_value("calc", "42", UP);
    let srv = uid(IOC_USER);
    assert_eq!(uids_of(&p, "iocmine"), (srv, srv), "the member's IOC runs as IocUser");
    assert_eq!(p.status("iocmine")["user"], IOC_USER, "status shows the user the IOC runs as");

    // A member writes a file straight into the group-writable directory,
    // without IOC_USER (which would mean root): IocUser too.
    let text = format!("IOC_NAME=\"plain\"\nIOC_CHDIR=\"{}\"\nIOC_CMD=\"./st.cmd\"\n", written.boot.display());
    write_as(&ioc.join("plain.conf"), &text, MEMBER);
    let reply = rescan(&p);
    assert!(matches!(reply.code, Code::Ok | Code::Warn), "{}", reply.message);
    ok(p.ioc_as(MEMBER, &["start", "plain"]), "ioc start plain as a member");
    written.wait_value("calc", "42", UP);
    assert_eq!(uids_of(&p, "plain"), (srv, srv), "a member's file without IOC_USER runs as IocUser");
    let status = ok(p.ioc(&["status", "plain"]), "ioc status plain");
    let user_line = status.lines().find(|l| l.trim_start().starts_with("User:")).unwrap_or_default().to_string();
    assert!(user_line.ends_with(IOC_USER), "ioc status shows the user the IOC runs as:\n{status}");

    // Root's file made group-writable is no longer root's choice.
    std::fs::set_permissions(ioc.join("rootioc.conf"), std::fs::Permissions::from_mode(0o664)).unwrap();
    rescan(&p);
    ok(p.ioc(&["restart", "rootioc"]), "ioc restart rootioc");
    by_root.wait_value("calc", "42", UP);
    assert_eq!(uids_of(&p, "rootioc"), (srv, srv), "a group-writable file does not choose its user");
    p.assert_healthy(fds);
    p.poweroff();
}

#[test]
fn install_does_not_follow_a_symlink_planted_at_its_temporary_path() {
    setup();
    let s = Scratch::new("trust-tmp");
    write(s.path(), "epoch.conf", &epoch_conf_logging(""));
    let ioc = group_writable_ioc_dir(s.path());
    let victim = s.path().join("victim");
    std::fs::write(&victim, "untouched\n").unwrap();
    let mut p = Pid1::boot(s.path(), &[]);
    let fds = p.fds_at_rest();
    // A member plants a symlink at every temporary name the installer might
    // pick (pids in a fresh namespace are small).
    let op = nix::unistd::User::from_name(MEMBER).unwrap().unwrap();
    for pid in 1..3000 {
        let link = ioc.join(format!(".demo.conf.{pid}.tmp"));
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        nix::unistd::fchownat(None, &link, Some(op.uid), Some(op.gid), nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW).unwrap();
    }
    let source = s.path().join("demo.conf");
    std::fs::write(&source, sleeper("demo")).unwrap();
    ok(p.ioc(&["install", source.to_str().unwrap()]), "ioc install as root");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "untouched\n", "root wrote through a planted symlink");
    let installed = std::fs::symlink_metadata(ioc.join("demo.conf")).unwrap();
    assert!(installed.file_type().is_file(), "demo.conf is not a regular file");
    assert_eq!((installed.uid(), installed.mode() & 0o7777), (0, 0o644));
    assert_eq!(std::fs::read_to_string(ioc.join("demo.conf")).unwrap().lines().filter(|l| l.starts_with("IOC_")).count(), 3);
    p.assert_healthy(fds);
    p.poweroff();
}

#[test]
fn an_ioc_rescan_never_applies_a_half_edited_epoch_conf() {
    setup();
    let s = Scratch::new("trust-rescan");
    let first = "ObjectID first\nObjectStartCommand /bin/sleep 1001\nObjectStartPriority 1\nObjectRunlevels default\nObjectOptions FORK\n";
    write(s.path(), "epoch.conf", &epoch_conf_logging(first));
    group_writable_ioc_dir(s.path());
    let mut p = Pid1::boot(s.path(), &[]);
    p.wait_state("first", "running", UP);
    let fds = p.fds_at_rest();

    // Root is half-way through an edit: a new object, complete enough to parse.
    let half = "ObjectID half\nObjectStartCommand /bin/sleep 1002\nObjectStartPriority 1\nObjectRunlevels default\n";
    write(s.path(), "epoch.conf", &epoch_conf_logging(&format!("{first}{half}")));
    // A member installs an IOC meanwhile: the rescan picks it up, not the edit.
    let source = s.path().join("new.conf");
    std::fs::write(&source, sleeper("new")).unwrap();
    std::fs::set_permissions(&source, std::fs::Permissions::from_mode(0o644)).unwrap();
    ok(p.ioc_as(MEMBER, &["install", source.to_str().unwrap()]), "ioc install as a member");
    assert_eq!(p.state("new"), "stopped", "the new IOC is there");
    let out = p.ctl(&["status", "half"]);
    assert!(!out.status.success(), "the half-edited object was loaded: {}", text(&out));

    // Now the edit does not even parse: the rescan still works.
    write(s.path(), "epoch.conf", &epoch_conf_logging(&format!("{first}ObjectID\nObjectStartCommand\n")));
    let source = s.path().join("other.conf");
    std::fs::write(&source, sleeper("other")).unwrap();
    std::fs::set_permissions(&source, std::fs::Permissions::from_mode(0o644)).unwrap();
    ok(p.ioc_as(MEMBER, &["install", source.to_str().unwrap()]), "ioc install as a member, epoch.conf broken");
    assert_eq!(p.state("other"), "stopped");
    assert_eq!(p.state("first"), "running");
    // Root's configreload does read epoch.conf, and refuses the broken one.
    let out = p.ctl(&["configreload"]);
    assert!(!out.status.success(), "{}", text(&out));
    p.assert_healthy(fds);
    p.poweroff();
}
