//! The IOC directory is written by the IOC group, read by root: nothing put
//! there may block, crash or fool PID 1 (issue 8). iocinit runs as PID 1 of a
//! PID namespace, with the real test users (iocit-op in the IOC group
//! iocit-grp, iocit-srv the IOC user) and real procServ:
//! - `ioc install` does not follow a symlink planted at its temporary path.
//!
//! Needs root (CI runs as root).

mod ioc_support;
mod ns;
mod pty;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use ioc_support::*;
use ns::{write, Pid1};

/// The tests' standard configuration, with the system log on.
fn epoch_conf(extra: &str) -> String {
    format!("{EPOCH_CONF}EnableLogging true\n{extra}")
}

/// The IOC directory as docs/INSTALL.md sets it up: root's, writable by the
/// IOC group (setgid).
fn group_writable_ioc_dir(dir: &Path) -> PathBuf {
    let ioc = dir.join("ioc");
    std::fs::create_dir_all(&ioc).unwrap();
    let gid = nix::unistd::Group::from_name(GROUP).unwrap().unwrap().gid;
    nix::unistd::chown(&ioc, Some(nix::unistd::Uid::from_raw(0)), Some(gid)).unwrap();
    std::fs::set_permissions(&ioc, std::fs::Permissions::from_mode(0o2775)).unwrap();
    ioc
}

/// An IOC file whose command is a plain sleep (for IOCs that are never started).
fn sleeper(name: &str) -> String {
    format!("IOC_NAME=\"{name}\"\nIOC_USER=\"{IOC_USER}\"\nIOC_CMD=\"/bin/sleep 1000\"\n")
}

#[test]
fn install_does_not_follow_a_symlink_planted_at_its_temporary_path() {
    setup();
    let s = Scratch::new("trust-tmp");
    write(s.path(), "epoch.conf", &epoch_conf(""));
    let ioc = group_writable_ioc_dir(s.path());
    let victim = s.path().join("victim");
    std::fs::write(&victim, "untouched\n").unwrap();
    let mut p = Pid1::boot(s.path(), &[]);
    let fds = p.fd_count();
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
