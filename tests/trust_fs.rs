//! A hostile filesystem around PID 1 (issue 9, item 5), with iocinit as PID 1
//! of a PID namespace, the real test users (iocit-op in the IOC group
//! iocit-grp, iocit-srv the IOC user, iocit-out outside it) and real procServ.
//! tests/trust_iocdir.rs already covers FIFOs, devices, directories, symlinks
//! and huge files named `*.conf` in the IOC directory; this file adds what it
//! does not:
//! - an IOC's console directory (`RUN/procserv/NAME`) and log
//!   (`IocLogDirectory/NAME.log`) planted, before a start, as a symlink (to a
//!   directory or file of root's), a FIFO, a device or a hard link to root's
//!   file, owned by a group member: PID 1 neither follows, blocks on, chowns
//!   nor writes through them, refuses the start, and its log says what it
//!   refused; once the plant is gone the IOC starts;
//! - IOC file names with control characters: the log names them escaped, so
//!   a name cannot forge a log line or drive the console's terminal;
//! - IOC files owned by others (an outsider, a group member, root's with a
//!   second hard link) never choose who their IOC runs as.
//!
//! Needs root (CI runs as root).

mod ioc_support;
mod ns;
mod pty;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::Duration;

use iocinit::control::protocol::Verb;
use ioc_support::*;
use ns::{write, Pid1};

const UP: Duration = Duration::from_secs(30);

/// An IOC file (root's, so its IOC_USER counts) whose IOC is a plain sleep
/// under a real procServ.
fn sleeper(name: &str) -> String {
    format!("IOC_NAME=\"{name}\"\nIOC_USER=\"{IOC_USER}\"\nIOC_CMD=\"/bin/cat\"\n")
}

/// Boots with IOC `demo` running; returns PID 1 and its descriptors at rest.
fn boot_demo(s: &Scratch) -> (Pid1, usize) {
    setup();
    write(s.path(), "epoch.conf", &epoch_conf_logging(&format!("IocUser {IOC_USER}\n")));
    let ioc = group_writable_ioc_dir(s.path());
    std::fs::write(ioc.join("demo.conf"), sleeper("demo")).unwrap();
    let p = Pid1::boot(s.path(), &[]);
    p.wait_state("demo", "running", UP);
    let fds = p.fds_at_rest();
    (p, fds)
}

/// Live procServ processes of IOC `name` in the namespace.
fn procservs(p: &Pid1, name: &str) -> usize {
    let needle = format!("procServ -f --name {name}");
    p.host_pids().into_iter().filter_map(proc_info).filter(|i| i.state != b'Z' && i.cmdline.contains(&needle)).count()
}

fn member_ids() -> (nix::unistd::Uid, nix::unistd::Gid) {
    let u = nix::unistd::User::from_name(MEMBER).unwrap().unwrap();
    (u.uid, u.gid)
}

/// Gives `path` itself (not what a symlink names) to the group member, as
/// if they had planted it.
fn planted_by_member(path: &Path) {
    let (uid, gid) = member_ids();
    nix::unistd::fchownat(None, path, Some(uid), Some(gid), nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW).unwrap();
}

/// Asks PID 1 to start `id` without waiting: the answer must come (a PID 1
/// blocked on a planted file never answers, and the request times out).
fn start_answered(p: &Pid1, id: &str) {
    let reply = p.request(Verb::Start, &[id]);
    assert!(reply.message.len() < 4096, "{}", reply.message);
}

/// Waits for `line` in what PID 1 said.
fn wait_said(p: &Pid1, line: &str) {
    assert!(wait_for(UP, || p.said().contains(line)), "PID 1 never said {line:?}:\n{}", p.said());
}

/// Stops `id` (a failed start of an IOC retries with backoff) and waits
/// until it is down.
fn stop_quietly(p: &Pid1, id: &str) {
    let _ = p.ctl(&["stop", id]);
    assert!(wait_for(UP, || matches!(p.state(id).as_str(), "stopped" | "failed" | "crashed")), "{id} is {}", p.state(id));
}

/// (owner uid, mode, names inside) of a directory of root's.
fn dir_fingerprint(dir: &Path) -> (u32, u32, Vec<String>) {
    let meta = std::fs::metadata(dir).unwrap();
    let mut names: Vec<String> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    (meta.uid(), meta.mode() & 0o7777, names)
}

/// (owner uid, mode, content) of a file of root's.
fn file_fingerprint(file: &Path) -> (u32, u32, String) {
    let meta = std::fs::metadata(file).unwrap();
    (meta.uid(), meta.mode() & 0o7777, std::fs::read_to_string(file).unwrap())
}

#[test]
fn a_console_directory_planted_as_a_symlink_is_refused_not_followed() {
    let s = Scratch::new("fs-condir");
    let (mut p, fds) = boot_demo(&s);
    ok(p.ioc(&["stop", "demo"]), "ioc stop demo");
    // A directory only root may enter, with something in it.
    let victim = s.path().join("victim");
    std::fs::create_dir(&victim).unwrap();
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::write(victim.join("keep"), "root's\n").unwrap();
    let before = dir_fingerprint(&victim);
    // The member replaces the console directory with a symlink to it.
    let console = s.path().join("run/procserv/demo");
    std::fs::remove_dir_all(&console).unwrap();
    std::os::unix::fs::symlink(&victim, &console).unwrap();
    planted_by_member(&console);

    start_answered(&p, "demo");
    wait_said(&p, &format!("demo: console directory {}: a symbolic link, not followed", console.display()));
    stop_quietly(&p, "demo");
    assert_eq!(dir_fingerprint(&victim), before, "PID 1 or procServ acted on the symlink's target");
    assert_eq!(procservs(&p, "demo"), 0, "procServ was started on a planted console directory");
    assert!(std::fs::symlink_metadata(&console).unwrap().file_type().is_symlink(), "the plant is left for root to see");

    // A plain file in its place: refused as well.
    std::fs::remove_file(&console).unwrap();
    std::fs::write(&console, "").unwrap();
    planted_by_member(&console);
    start_answered(&p, "demo");
    wait_said(&p, &format!("demo: console directory {}: not a directory", console.display()));
    stop_quietly(&p, "demo");

    // Once the plant is gone, the IOC starts as before.
    std::fs::remove_file(&console).unwrap();
    ok(p.ioc(&["start", "demo", "--no-wait"]), "ioc start demo");
    p.wait_state("demo", "running", UP);
    let meta = std::fs::symlink_metadata(&console).unwrap();
    assert!(meta.is_dir() && meta.mode() & 0o7777 == 0o750, "{meta:?}");
    p.assert_healthy(fds);
    p.poweroff();
}

#[test]
fn an_ioc_log_planted_as_a_symlink_fifo_device_or_hard_link_is_refused() {
    let s = Scratch::new("fs-log");
    let (mut p, fds) = boot_demo(&s);
    ok(p.ioc(&["stop", "demo"]), "ioc stop demo");
    let log = s.path().join("log/demo.log");
    let victim = s.path().join("victim.log");
    std::fs::write(&victim, "root's file\n").unwrap();
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o600)).unwrap();
    let before = file_fingerprint(&victim);

    type Plant = fn(&Path, &Path);
    let plants: [(&str, Plant, &str); 4] = [
        ("symlink", |log, victim| std::os::unix::fs::symlink(victim, log).unwrap(), "a symbolic link, not followed"),
        // Nobody reads it: an open for writing that waits would park PID 1.
        ("fifo", |log, _| nix::unistd::mkfifo(log, nix::sys::stat::Mode::from_bits_truncate(0o666)).unwrap(), "not a regular file"),
        (
            "device",
            |log, _| {
                let null = nix::sys::stat::makedev(1, 3);
                let mode = nix::sys::stat::Mode::from_bits_truncate(0o666);
                nix::sys::stat::mknod(log, nix::sys::stat::SFlag::S_IFCHR, mode, null).unwrap()
            },
            "not a regular file",
        ),
        // A second name of root's file: a chown of the log would be one of it.
        ("hard link", |log, victim| std::fs::hard_link(victim, log).unwrap(), "a file with other links, not used"),
    ];
    for (what, plant, refusal) in plants {
        std::fs::remove_file(&log).unwrap();
        plant(&log, &victim);
        if what != "hard link" {
            planted_by_member(&log);
        }
        start_answered(&p, "demo");
        wait_said(&p, &format!("demo: IOC log {}: {refusal}", log.display()));
        stop_quietly(&p, "demo");
        assert_eq!(file_fingerprint(&victim), before, "{what}: root's file was changed");
        assert_eq!(procservs(&p, "demo"), 0, "{what}: procServ was started on a planted log");
    }

    std::fs::remove_file(&log).unwrap();
    ok(p.ioc(&["start", "demo", "--no-wait"]), "ioc start demo");
    p.wait_state("demo", "running", UP);
    let meta = std::fs::symlink_metadata(&log).unwrap();
    assert!(meta.is_file() && meta.uid() == nix::unistd::User::from_name(IOC_USER).unwrap().unwrap().uid.as_raw(), "{meta:?}");
    p.assert_healthy(fds);
    p.poweroff();
}

#[test]
fn control_characters_in_ioc_file_names_are_logged_escaped() {
    setup();
    let s = Scratch::new("fs-names");
    write(s.path(), "epoch.conf", &epoch_conf_logging(&format!("IocUser {IOC_USER}\n")));
    let ioc = group_writable_ioc_dir(s.path());
    let mut p = Pid1::boot(s.path(), &[]);
    let fds = p.fds_at_rest();

    // A refused entry whose name would end PID 1's log line and forge the
    // next one, then clear the console's screen.
    let forged = "evil\niocinit: FORGED ready\x1b[2J\r.conf";
    std::os::unix::fs::symlink("/etc/shadow", ioc.join(forged)).unwrap();
    planted_by_member(&ioc.join(forged));
    // A file with a bell and a C1 control (CSI) in its name: refused too
    // (IOC_NAME must match the name), and the refusal quotes the name.
    std::fs::write(ioc.join("bell\x07\u{9b}31m.conf"), sleeper("bell")).unwrap();
    // Files owned by others never choose their IOC's user: an outsider's
    // (left there by someone), a member's, and root's with a second name.
    let asks_root = |name: &str| format!("IOC_NAME=\"{name}\"\nIOC_USER=\"root\"\nIOC_CMD=\"/bin/cat\"\n");
    write_as(&ioc.join("byout.conf"), &asks_root("byout"), OUTSIDER);
    write_as(&ioc.join("byop.conf"), &asks_root("byop"), MEMBER);
    std::fs::write(ioc.join("linked.conf"), asks_root("linked")).unwrap();
    std::fs::hard_link(ioc.join("linked.conf"), s.path().join("linked-elsewhere")).unwrap();

    let reply = rescan(&p);
    assert!(matches!(reply.code, iocinit::control::protocol::Code::Warn), "{}", reply.message);
    let said = p.said();
    let escaped = format!("{}/evil\\niocinit: FORGED ready\\x1b[2J\\r.conf:0: a symbolic link: expected a regular file", ioc.display());
    assert!(said.contains(&escaped), "no {escaped:?} in:\n{said}");
    assert!(!said.lines().any(|l| l.starts_with("iocinit: FORGED")), "a file name forged a log line:\n{said}");
    for control in ['\x1b', '\x07', '\r', '\u{9b}'] {
        assert!(!said.contains(control), "{control:?} reached PID 1's log:\n{said}");
    }
    let mismatch = "bell\\x07\\u{9b}31m.conf:1: IOC_NAME does not match the file name: expected IOC_NAME=\"bell\\x07\\u{9b}31m\"";
    assert!(said.contains(mismatch), "no {mismatch:?} in:\n{said}");
    for id in ["byout", "byop", "linked"] {
        assert_eq!(p.status(id)["user"], IOC_USER, "{id}: a file root does not own alone chose its user");
    }
    ok(p.ioc(&["start", "byout", "--no-wait"]), "ioc start byout");
    p.wait_state("byout", "running", UP);
    let srv = nix::unistd::User::from_name(IOC_USER).unwrap().unwrap().uid.as_raw();
    let procserv = p.host_pids().into_iter().filter_map(proc_info).find(|i| i.cmdline.contains("procServ -f --name byout")).unwrap();
    assert_eq!(procserv.uid, srv, "the outsider's IOC runs as IocUser");
    p.assert_healthy(fds);
    p.poweroff();
}
