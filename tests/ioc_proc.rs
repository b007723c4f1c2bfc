//! What a real-time IOC on a small board needs beyond the peers (issue 14,
//! items 8-10), end to end with the real parts: iocinit as PID 1 of a PID
//! namespace, Debian's procServ, a real EPICS 7 softIoc and caget.
//!
//! - Process settings (`IOC_RTPRIO`, `IOC_MEMLOCK`, `IOC_CORESIZE`,
//!   `IOC_NICE`, `IOC_UMASK`, `IOC_CPUS`, and the `ObjectRtPrio`...
//!   attributes of a plain object) are seen by the kernel in
//!   /proc/PID/limits, status and stat of procServ and of the IOC.
//! - `IOC_STATE_DIR` is made for the IOC's user and kept across a restart;
//!   a planted symbolic link is refused and its target left alone.
//! - `IOC_HOST` keeps another board's IOC down and says why.
//! - An IOC file a group member wrote gets what anyone may ask (a positive
//!   nice value, a state directory below IocStateDirectory), and is refused,
//!   at its line, for a real-time priority or a state directory elsewhere.
//! - PID 1 allocates nothing for any of it once settled.
//!
//! Raising a hard limit needs CAP_SYS_RESOURCE, which a container's root may
//! lack: the tests then check the values they can set (lowered limits) and
//! that asking for more fails the start with the reason. Needs root.

mod ioc_support;
mod ns;
mod pty;

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

use ioc_support::*;
use ns::{write, Pid1};
use serde_json::Value;

const UP: Duration = Duration::from_secs(20);

/// Whether PID 1 (root here) may raise a hard limit.
fn may_raise_limits() -> bool {
    const CAP_SYS_RESOURCE: u32 = 24;
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let effective = status.lines().find_map(|l| l.strip_prefix("CapEff:")).and_then(|v| u64::from_str_radix(v.trim(), 16).ok());
    effective.is_some_and(|caps| caps & (1 << CAP_SYS_RESOURCE) != 0)
}

/// The last CPU this process may run on (a change from "all" when there
/// are several).
fn last_cpu() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let list = status.lines().find_map(|l| l.strip_prefix("Cpus_allowed_list:")).unwrap().trim();
    let last = list.rsplit([',', '-']).next().unwrap();
    last.to_string()
}

/// Soft and hard value of a line of /proc/PID/limits.
fn limit(pid: i32, name: &str) -> (String, String) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("{name}:\n{limits}"));
    let mut words = line[name.len()..].split_whitespace();
    (words.next().unwrap().to_string(), words.next().unwrap().to_string())
}

/// A field of /proc/PID/status.
fn status_field(pid: i32, name: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status.lines().find_map(|l| l.strip_prefix(name)).map(|v| v.trim().to_string()).unwrap_or_default()
}

/// The nice value of a process (field 19 of /proc/PID/stat).
fn nice(pid: i32) -> i64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after_comm = &stat[stat.rfind(')').unwrap() + 2..];
    // Fields from 3 (state) on: nice is field 19.
    after_comm.split_whitespace().nth(19 - 3).unwrap().parse().unwrap()
}

/// procServ's and the IOC's host pids, from `ioc list --json`.
fn host_pids(p: &Pid1, name: &str) -> (i32, i32) {
    let out = ok(p.ioc(&["list", "--json"]), "ioc list --json");
    let all: Value = serde_json::from_str(&out).unwrap();
    let entry = all.as_array().unwrap().iter().find(|e| e["name"] == name).cloned().unwrap();
    let host = |key: &str| p.host_pid_of(entry[key].as_i64().unwrap()).unwrap_or_else(|| panic!("{name}: no {key}: {entry}"));
    (host("pid"), host("ioc_pid"))
}

/// What PID 1 has allocated so far (built with the alloc-count feature).
fn allocations(p: &Pid1) -> u64 {
    let v: Value = serde_json::from_str(&ok(p.ctl(&["version", "--json"]), "version --json")).unwrap();
    v["allocations"].as_u64().expect("built without the alloc-count feature")
}

fn boot(dir: &Path, epoch_conf: &str, iocs: &[(&SoftIoc, String)]) -> Pid1 {
    setup();
    write(dir, "epoch.conf", epoch_conf);
    let ioc_dir = dir.join("ioc");
    std::fs::create_dir_all(&ioc_dir).unwrap();
    for (ioc, extra) in iocs {
        let text = format!("{}{extra}", ioc.ioc_file(IOC_USER, GROUP));
        std::fs::write(ioc_dir.join(format!("{}.conf", ioc.name)), text).unwrap();
    }
    Pid1::boot(dir, &[])
}

#[test]
fn limits_nice_umask_and_cpus_reach_procserv_the_ioc_and_a_plain_object() {
    let s = Scratch::new("proc-settings");
    let ioc = SoftIoc::standard(s.path(), "rt");
    let raise = may_raise_limits();
    // What this machine lets root give: raised with CAP_SYS_RESOURCE, else
    // lowered below the inherited hard limits (RTPRIO 0, MEMLOCK 8M).
    let (rtprio, memlock, memlock_bytes) = if raise { ("80", "infinity", "unlimited") } else { ("0", "4M", "4194304") };
    let cpu = last_cpu();
    let settings = format!(
        "IOC_RTPRIO=\"{rtprio}\"\nIOC_MEMLOCK=\"{memlock}\"\nIOC_CORESIZE=\"1M\"\nIOC_NICE=\"-5\"\nIOC_UMASK=\"0027\"\nIOC_CPUS=\"{cpu}\"\n"
    );
    // Asking for more than may be given fails the start, and says why.
    let greedy = SoftIoc::standard(s.path(), "greedy");
    let plain = format!(
        "{EPOCH_CONF}ObjectID plain\nObjectStartCommand /bin/sleep 1000\nObjectOptions FORK\nObjectUser {IOC_USER}\n\
         ObjectStartPriority 1\nObjectRunlevels default\nObjectRtPrio {rtprio}\nObjectMemLock {memlock}\nObjectCoreSize 2M\n\
         ObjectNice -3\nObjectUmask 077\nObjectCPUs {cpu}\n"
    );
    let mut p = boot(s.path(), &plain, &[(&ioc, settings), (&greedy, "IOC_RTPRIO=\"99\"\nIOC_MEMLOCK=\"infinity\"\n".into())]);
    ioc.wait_value("calc", "42", UP);

    // Settled: from here on PID 1 applies the settings without allocating.
    let before = allocations(&p);
    ok(p.ioc(&["restart", "rt"]), "ioc restart");
    ioc.wait_value("calc", "42", UP);
    let (procserv, soft_ioc) = host_pids(&p, "rt");
    for pid in [procserv, soft_ioc] {
        assert_eq!(limit(pid, "Max realtime priority"), (rtprio.into(), rtprio.into()), "pid {pid}");
        assert_eq!(limit(pid, "Max locked memory"), (memlock_bytes.into(), memlock_bytes.into()), "pid {pid}");
        assert_eq!(limit(pid, "Max core file size"), ("1048576".into(), "1048576".into()), "pid {pid}");
        assert_eq!(status_field(pid, "Umask:"), "0027", "pid {pid}");
        assert_eq!(status_field(pid, "Cpus_allowed_list:"), cpu, "pid {pid}");
        assert_eq!(nice(pid), -5, "pid {pid}");
        // Applied before the switch to the IOC's user, who runs it.
        assert_eq!(proc_info(pid).unwrap().uid, nix::unistd::User::from_name(IOC_USER).unwrap().unwrap().uid.as_raw());
    }

    let status = ok(p.ioc(&["status", "rt"]), "ioc status");
    let shown = format!("rtprio {rtprio}, memlock {memlock}, core 1M, nice -5, umask 0027, cpus {cpu}");
    assert!(status.lines().any(|l| l.starts_with("Process:") && l.ends_with(&shown)), "{shown}:\n{status}");
    let json: Value = serde_json::from_str(&ok(p.ioc(&["status", "rt", "--json"]), "ioc status --json")).unwrap();
    assert_eq!(json["rtprio"], rtprio.parse::<u64>().unwrap(), "{json}");
    assert_eq!((&json["memlock"], &json["core_size"], &json["nice"]), (&Value::from(memlock), &Value::from("1M"), &Value::from(-5)), "{json}");
    assert_eq!((&json["umask"], &json["cpus"]), (&Value::from("0027"), &Value::from(cpu.as_str())), "{json}");

    // The Epoch attribute form, for a plain object.
    let pid = p.host_pid_of(p.pid("plain").expect("plain runs")).unwrap();
    assert_eq!(limit(pid, "Max realtime priority"), (rtprio.into(), rtprio.into()));
    assert_eq!(limit(pid, "Max locked memory"), (memlock_bytes.into(), memlock_bytes.into()));
    assert_eq!(limit(pid, "Max core file size"), ("2097152".into(), "2097152".into()));
    assert_eq!((status_field(pid, "Umask:"), status_field(pid, "Cpus_allowed_list:"), nice(pid)), ("0077".into(), cpu.clone(), -3));
    let out = ok(p.ctl(&["status", "plain"]), "status plain");
    assert!(out.contains(&format!("nice -3, umask 0077, cpus {cpu}")), "{out}");

    if raise {
        greedy.wait_value("calc", "42", UP);
        let (procserv, _) = host_pids(&p, "greedy");
        assert_eq!(limit(procserv, "Max realtime priority"), ("99".into(), "99".into()));
    } else {
        let start = p.ioc(&["start", "greedy"]);
        assert!(!start.status.success(), "{}", text(&start));
        assert!(text(&start).contains("unable to set RLIMIT_RTPRIO: Operation not permitted"), "{}", text(&start));
        let note = p.status("greedy")["note"].as_str().unwrap_or("").to_string();
        assert!(note.contains("unable to set RLIMIT_RTPRIO"), "{note}");
    }
    let after = allocations(&p);
    eprintln!("allocations {before} -> {after} over a restart, status requests and a refused spawn");
    assert_eq!(before, after, "PID 1 allocated while applying process settings");
    p.assert_healthy(p.fds_at_rest());
    p.poweroff();
}

#[test]
fn the_state_directory_is_the_ioc_users_kept_across_a_restart_and_never_a_planted_link() {
    let s = Scratch::new("proc-state");
    let ioc = SoftIoc::standard(s.path(), "saver");
    let evil = SoftIoc::standard(s.path(), "evil");
    let state = s.path().join("var/lib/iocs");
    std::fs::create_dir_all(&state).unwrap();
    // A member of the IOC group planted a link to a directory of root's.
    let target = s.path().join("etc-like");
    std::fs::create_dir(&target).unwrap();
    std::os::unix::fs::symlink(&target, state.join("evil")).unwrap();
    let iocs = [
        (&ioc, format!("IOC_STATE_DIR=\"{}\"\n", state.join("saver").display())),
        (&evil, format!("IOC_STATE_DIR=\"{}\"\n", state.join("evil").display())),
    ];
    let mut p = boot(s.path(), &epoch_conf_logging(""), &iocs);
    ioc.wait_value("calc", "42", UP);

    let dir = state.join("saver");
    let user = nix::unistd::User::from_name(IOC_USER).unwrap().unwrap();
    let meta = std::fs::symlink_metadata(&dir).unwrap();
    assert!(meta.is_dir());
    assert_eq!((meta.uid(), meta.mode() & 0o7777), (user.uid.as_raw(), 0o750));
    assert_eq!(std::fs::metadata(&state).unwrap().uid(), 0, "parents stay root's");
    // autosave's file, as the IOC's user would leave it.
    let saved = dir.join("saver.sav");
    write_as(&saved, "calc 42\n", IOC_USER);
    let (procserv, _) = host_pids(&p, "saver");
    let before = allocations(&p);
    ok(p.ioc(&["restart", "saver"]), "ioc restart");
    ioc.wait_value("calc", "42", UP);
    assert_ne!(host_pids(&p, "saver").0, procserv, "restarted");
    assert_eq!(std::fs::read_to_string(&saved).unwrap(), "calc 42\n", "kept across the restart");
    assert_eq!(std::fs::metadata(&dir).unwrap().uid(), user.uid.as_raw());
    let status = ok(p.ioc(&["status", "saver"]), "ioc status");
    assert!(status.contains(&format!("State directory:    {}", dir.display())), "{status}");

    // The link: refused with the reason, nothing given away, no IOC.
    let start = p.ioc(&["start", "evil"]);
    assert!(!start.status.success(), "{}", text(&start));
    assert!(text(&start).contains("a symbolic link on the path"), "{}", text(&start));
    assert!(p.said().contains("evil: state directory"), "{}", p.said());
    assert_eq!(std::fs::metadata(&target).unwrap().uid(), 0, "the link's target is not given away");
    assert!(std::fs::symlink_metadata(state.join("evil")).unwrap().file_type().is_symlink());
    assert!(evil.caget("ai").is_err(), "the IOC did not start");
    let after = allocations(&p);
    eprintln!("allocations {before} -> {after} over a restart through the state directory and a refused one");
    assert_eq!(before, after, "PID 1 allocated around the state directory");
    p.assert_healthy(p.fds_at_rest());
    p.poweroff();
}

#[test]
fn an_ioc_for_another_host_stays_down_and_says_why() {
    let s = Scratch::new("proc-host");
    let here = nix::unistd::gethostname().unwrap().into_string().unwrap();
    let mine = SoftIoc::standard(s.path(), "mine");
    let theirs = SoftIoc::standard(s.path(), "theirs");
    let other = format!("not-{here}");
    let other = &other[..other.len().min(64)];
    let iocs = [(&mine, format!("IOC_HOST=\"{}\"\n", here.to_uppercase())), (&theirs, format!("IOC_HOST=\"{other}\"\n"))];
    let mut p = boot(s.path(), &epoch_conf_logging(""), &iocs);
    mine.wait_value("calc", "42", UP);

    let why = format!("not started: IOC_HOST is {other}, this host is {here}");
    assert!(wait_for(UP, || p.said().contains(&format!("theirs: {why}"))), "the log says why:\n{}", p.said());
    let before = allocations(&p);
    assert_eq!(p.state("theirs"), "stopped");
    for out in [p.ioc(&["start", "theirs"]), p.ctl(&["start", "theirs"])] {
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        assert!(text(&out).contains(&why), "{}", text(&out));
    }
    let status: Value = serde_json::from_str(&ok(p.ioc(&["status", "theirs", "--json"]), "ioc status --json")).unwrap();
    assert_eq!((&status["host"], &status["note"]), (&Value::from(other), &Value::from(why.as_str())), "{status}");
    assert!(theirs.caget("ai").is_err(), "never started");
    assert_eq!(allocations(&p), before, "PID 1 allocated for a refusal");
    p.assert_healthy(p.fds_at_rest());
    p.poweroff();
}

/// The IOC group writes the IOC directory; root makes what an IOC file asks.
#[test]
fn a_group_members_ioc_file_may_not_raise_priorities_nor_place_its_state_anywhere() {
    setup();
    let s = Scratch::new("proc-member");
    let states = s.path().join("var/lib/ioc");
    let conf = format!("IocUser {IOC_USER}\nIocStateDirectory {}\n", states.display());
    write(s.path(), "epoch.conf", &epoch_conf_logging(&conf));
    let ioc_dir = group_writable_ioc_dir(s.path());
    let modest = SoftIoc::standard(s.path(), "modest");
    let greedy = SoftIoc::standard(s.path(), "greedy");
    let cron = SoftIoc::standard(s.path(), "cron");
    let planted = s.path().join("etc/cron.d");
    std::fs::create_dir_all(planted.parent().unwrap()).unwrap();
    let file = |ioc: &SoftIoc, extra: &str| format!("{}{extra}", ioc.ioc_file(IOC_USER, GROUP));
    let modest_state = states.join("modest/autosave");
    write_as(&ioc_dir.join("modest.conf"), &file(&modest, &format!("IOC_NICE=\"5\"\nIOC_STATE_DIR=\"{}\"\n", modest_state.display())), MEMBER);
    write_as(&ioc_dir.join("greedy.conf"), &file(&greedy, "IOC_NICE=\"5\"\nIOC_RTPRIO=\"80\"\n"), MEMBER);
    write_as(&ioc_dir.join("cron.conf"), &file(&cron, &format!("IOC_STATE_DIR=\"{}\"\n", planted.display())), MEMBER);
    let mut p = Pid1::boot(s.path(), &[]);
    modest.wait_value("calc", "42", UP);

    // What anyone may ask is done, for IocUser.
    let (procserv, soft_ioc) = host_pids(&p, "modest");
    assert_eq!((nice(procserv), nice(soft_ioc)), (5, 5));
    let srv = nix::unistd::User::from_name(IOC_USER).unwrap().unwrap().uid.as_raw();
    assert_eq!(std::fs::metadata(&modest_state).unwrap().uid(), srv);
    // What only root's files may ask refuses the file, at its line.
    let said = p.said();
    // (ioc_file() writes five lines; the extra ones follow.)
    let greedy_line = format!("{}:7: IOC_RTPRIO: a real-time priority", ioc_dir.join("greedy.conf").display());
    let cron_line = format!("{}:6: IOC_STATE_DIR: expected a directory below IocStateDirectory", ioc_dir.join("cron.conf").display());
    assert!(said.contains(&greedy_line) && said.contains(&cron_line), "{greedy_line}\n{cron_line}\n{said}");
    let listed = ok(p.ioc(&["list"]), "ioc list");
    assert!(listed.contains("modest") && !listed.contains("greedy") && !listed.contains("cron"), "{listed}");
    assert!(!planted.exists(), "nothing made for the refused file");
    p.assert_healthy(p.fds_at_rest());
    p.poweroff();
}
