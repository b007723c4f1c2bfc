//! PID 1 in a PID namespace: how objects are tracked and what Ctrl-Alt-Del
//! does, as Epoch's reference (seed 003) says (issue 12, items 4, 5, 6, 10).
//! - ObjectPIDFile that never names a live process: the wait is bounded
//!   (`PIDFileTimeout`), the start ends with WARN, and what was started stays
//!   the object's, so `epoch stop` and the shutdown still stop it.
//! - NOTRACK: only the launch is not tracked; the pid file, then /proc, find
//!   the object's process afterwards, so stops and runlevel changes end it.
//! - DisableCAD true: Ctrl-Alt-Del (SIGINT to PID 1) during the boot or the
//!   shutdown kills the hung start or stop and goes on; idle, or pressed twice
//!   within 5 s during the boot, it reboots.
//! - `status` names the group the start command really runs with.

mod ns;

use std::time::Duration;

use ns::{ok, read, scratch, wait_for, write, Pid1};

const T: Duration = Duration::from_secs(20);

fn alive(p: &Pid1, pid: i64) -> bool {
    p.run("/bin/kill", &["-0", &pid.to_string()]).status.success()
}

/// The namespace pid that `dir/rel` holds once it holds one.
fn pid_in(dir: &std::path::Path, rel: &str) -> i64 {
    let mut pid = None;
    let found = wait_for(T, || {
        pid = read(dir, rel).trim().parse().ok();
        pid.is_some()
    });
    assert!(found, "{rel} never held a pid");
    pid.unwrap()
}

#[test]
fn status_shows_the_primary_group_of_objectuser() {
    let dir = scratch("track-group");
    write(
        &dir,
        "epoch.conf",
        "DefaultRunlevel default\n\
         ObjectID u\nObjectStartCommand /bin/sleep 611\nObjectStartPriority 1\nObjectRunlevels default\nObjectOptions FORK\n\
         ObjectUser iocit-srv\n",
    );
    let p = Pid1::boot(&dir, &[]);
    p.wait_state("u", "running", T);
    let primary = nix::unistd::Group::from_gid(nix::unistd::User::from_name("iocit-srv").unwrap().unwrap().gid).unwrap().unwrap().name;
    // What the process runs with...
    let pid = p.pid("u").unwrap();
    let gid = ok(p.run("/bin/sh", &["-c", &format!("grep ^Gid: /proc/{pid}/status")]));
    let gid: u32 = gid.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert_eq!(nix::unistd::Group::from_gid(gid.into()).unwrap().unwrap().name, primary);
    // ...is what status shows, in JSON and in Epoch's block.
    assert_eq!(p.status("u")["group"], primary.as_str());
    let text = ok(p.run(p.bin.join("epoch").to_str().unwrap(), &["status", "u"]));
    let line = text.lines().find(|l| l.starts_with("Group:")).unwrap_or_else(|| panic!("{text}"));
    assert_eq!(line.split_whitespace().nth(1), Some(primary.as_str()), "{text}");
    p.poweroff();
}
