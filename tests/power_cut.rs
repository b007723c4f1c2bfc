//! Issue 9 ("Hardening campaign"), item 3: a power cut at every write. The
//! files someone else's command changes must be the old or the new content
//! after a SIGKILL at any point, never empty, cut or mixed:
//! - the state file (enable/disable, RUNONCE, objrl; src/engine/persist.rs),
//!   written by PID 1: PID 1 of a namespace is SIGKILLed at a random moment
//!   while a client changes enable/disable and objrl as fast as it can, then
//!   booted again on what is left, which it must read as written;
//! - an IOC file written by `ioc install` (src/config/iocfile.rs
//!   write_atomic): the real `ioc` command is SIGKILLed at a random moment of
//!   its run while it replaces the file with another version; what a killed
//!   install leaves (its temporary file) is removed by the next install once
//!   stale, so killed installs cannot fill the IOC directory.
//!
//! A SIGKILL leaves the page cache to the kernel: this proves the write
//! order (temporary, fsync, rename) and that nothing else is written in
//! place. Dropping writes that were never synced (dm-flakey) needs the
//! kernel's device mapper, which the test machines do not have.
//!
//! Trials: 1,000 of `ioc install`; 60 of PID 1 in `cargo test`, 1,000 with
//! IOCINIT_STORM_FULL=1 (each boots PID 1 again).
//! Each test prints its figures. Needs root (CI runs as root).

mod ns;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use iocinit::config::iocfile::STALE_TEMPORARY;
use iocinit::control::client::Client;
use iocinit::control::protocol::{Tag, Verb};
use ns::{random_below, rounds, scratch, sigkill, write, write_exec, Pid1};

const T: Duration = Duration::from_secs(20);

// ---- the state file, PID 1 killed -------------------------------------------

/// Objects whose enable/disable and runlevels the client keeps changing.
const TOGGLED: [&str; 3] = ["a", "b", "c"];
const STATE_HEADER: &str = "# iocinit state: run-time changes to the configuration; written by iocinit";

fn state_conf(dir: &Path) -> String {
    write_exec(dir, "once.sh", "#!/bin/sh\necho run >> @DIR@/once.runs\n");
    let mut conf = String::from("DefaultRunlevel default\n");
    for id in TOGGLED {
        conf.push_str(&format!(
            "ObjectID {id}\nObjectStartCommand /bin/true\nObjectStartPriority 1\nObjectRunlevels default maint\n"
        ));
    }
    conf.push_str("ObjectID once\nObjectStartCommand @DIR@/once.sh\nObjectStartPriority 2\nObjectRunlevels default\nObjectOptions RUNONCE\n");
    conf
}

/// What a state file says, object by object: whether it is enabled and its
/// runlevels (the configuration's where the file says nothing); or why the
/// file is not one PID 1 wrote whole.
fn parse_state(text: &str) -> Result<BTreeMap<String, (bool, String)>, String> {
    let mut objects: BTreeMap<String, (bool, String)> =
        TOGGLED.iter().chain(&["once"]).map(|id| (id.to_string(), (true, "default maint".to_string()))).collect();
    objects.get_mut("once").unwrap().1 = "default".into();
    if !text.ends_with('\n') {
        return Err("does not end with a newline".into());
    }
    let mut lines = text.lines();
    if lines.next() != Some(STATE_HEADER) {
        return Err("no header line".into());
    }
    for line in lines {
        let words: Vec<&str> = line.split(' ').collect();
        let entry = words.get(1).and_then(|id| objects.get_mut(*id)).ok_or_else(|| format!("bad line {line:?}"))?;
        match (words[0], &words[2..]) {
            ("enable", []) => entry.0 = true,
            ("disable", []) => entry.0 = false,
            ("runlevels", rls) if rls.iter().all(|r| ["default", "maint"].contains(r)) => entry.1 = rls.join(" "),
            _ => return Err(format!("bad line {line:?}")),
        }
    }
    Ok(objects)
}

/// Enables, disables, adds and removes runlevels at random until PID 1 is
/// gone; counts the requests answered.
fn change_state_until_gone(socket: PathBuf, answered: Arc<AtomicUsize>) {
    loop {
        let id = TOGGLED[random_below(TOGGLED.len() as u64) as usize];
        let (verb, args): (Verb, Vec<&str>) = match random_below(4) {
            0 => (Verb::Enable, vec![id]),
            1 => (Verb::Disable, vec![id]),
            2 => (Verb::Objrl, vec![id, "add", "maint"]),
            _ => (Verb::Objrl, vec![id, "del", "maint"]),
        };
        let Ok(mut client) = Client::connect(&socket) else { return };
        if client.request(verb, 0, &args, Some(T)).is_err() {
            return;
        }
        answered.fetch_add(1, Ordering::Relaxed);
    }
}

/// Every object's enabled flag and runlevels as PID 1 reports them.
fn reported(p: &Pid1) -> BTreeMap<String, (bool, String)> {
    let reply = p.request(Verb::Status, &[]);
    reply
        .records
        .iter()
        .filter_map(|r| {
            let id = r.str(Tag::Id)?.to_string();
            Some((id, (r.bool(Tag::Enabled)?, r.str(Tag::Runlevels).unwrap_or("").to_string())))
        })
        .collect()
}

#[test]
fn the_state_file_is_whole_after_pid1_is_killed_at_any_moment() {
    let trials = rounds(60, 1000);
    let dir = scratch("powercut-state");
    write(&dir, "epoch.conf", &state_conf(&dir));
    let state = dir.join("state/state");
    let (mut corrupt, mut requests, mut runonce_due) = (Vec::new(), 0, 0);
    let started = Instant::now();
    for trial in 0..trials {
        let before = std::fs::read_to_string(&state).ok();
        let expected = parse_state(before.as_deref().unwrap_or("")).ok();
        let once_disabled = expected.as_ref().is_some_and(|e| !e["once"].0);
        runonce_due += usize::from(!once_disabled);
        let p = Pid1::boot(&dir, &[]);
        p.wait_console("iocinit: ready", T);
        // PID 1 read what was left as written.
        if let Some(expected) = &expected {
            let now = reported(&p);
            for id in TOGGLED {
                assert_eq!(now[id], expected[id], "trial {trial}: {id} as PID 1 reads it; the state file:\n{}", before.as_deref().unwrap());
            }
        }
        let answered = Arc::new(AtomicUsize::new(0));
        let writer = {
            let (socket, answered) = (p.socket(), answered.clone());
            std::thread::spawn(move || change_state_until_gone(socket, answered))
        };
        std::thread::sleep(Duration::from_micros(random_below(150_000)));
        sigkill(p.host_pid);
        writer.join().unwrap();
        drop(p);
        requests += answered.load(Ordering::Relaxed);
        match std::fs::read_to_string(&state) {
            Ok(text) => {
                if let Err(why) = parse_state(&text) {
                    corrupt.push(format!("trial {trial}: {why}:\n{text}"));
                    // Start the next trial from a whole file.
                    let _ = std::fs::remove_file(&state);
                }
            }
            Err(_) => assert!(before.is_none(), "trial {trial}: the state file is gone"),
        }
    }
    let runonce_runs = std::fs::read_to_string(dir.join("once.runs")).unwrap_or_default().lines().count();
    let leftover = dir.join("state/state.tmp").exists();
    println!(
        "power cut, state file: {trials} trials (PID 1 SIGKILLed 0-150 ms into a stream of enable/disable/objrl), \
         {requests} changes answered, {} corrupt or half-written, RUNONCE ran {runonce_runs} time(s) \
         (at most {runonce_due} allowed), state.tmp left: {leftover}, {:.0} s",
        corrupt.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(corrupt.is_empty(), "{} corrupt state files:\n{}", corrupt.len(), corrupt.join("\n"));
    assert!(runonce_runs >= 1 && runonce_runs <= runonce_due, "RUNONCE ran {runonce_runs} times, {runonce_due} allowed");
}

// ---- an installed IOC file, `ioc install` killed ---------------------------

/// Two versions of the IOC file of IOC "pc", installed in turn.
fn ioc_sources(dir: &Path) -> [PathBuf; 2] {
    ["a", "b"].map(|v| {
        // `ioc install` checks that IOC_CMD is there and executable.
        write_exec(dir, &format!("src/{v}/st.cmd"), "#!/bin/sh\nexec sleep 600\n");
        write(
            dir,
            &format!("src/{v}/pc.conf"),
            &format!("IOC_NAME=\"pc\"\nIOC_CHDIR=\"@DIR@/src/{v}\"\nIOC_CMD=\"./st.cmd\"\nIOC_DESC=\"version {v}\"\n"),
        )
    })
}

/// `ioc install SOURCE` from the host, against PID 1 of the namespace.
fn install(p: &Pid1, source: &Path) -> Command {
    let mut cmd = Command::new(p.bin.join("ioc"));
    // -f: the two versions differ, and nobody is there to say y.
    cmd.arg("install").arg("-f").arg(source).arg("--run-dir").arg(p.dir.join("run"));
    cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    cmd
}

/// The temporary files `ioc install` left in the IOC directory.
fn temporaries(ioc_dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(ioc_dir).unwrap().flatten().map(|e| e.path()).filter(|p| p.to_string_lossy().ends_with(".tmp")).collect()
}

#[test]
fn an_installed_ioc_file_is_old_or_new_after_ioc_install_is_killed_at_any_moment() {
    let trials = 1000;
    let dir = scratch("powercut-install");
    std::fs::create_dir_all(dir.join("ioc")).unwrap();
    write(&dir, "epoch.conf", "DefaultRunlevel default\nIocDirectory @DIR@/ioc\nIocLogDirectory @DIR@/log\n");
    let sources = ioc_sources(&dir);
    let p = Pid1::boot(&dir, &[]);
    let target = dir.join("ioc/pc.conf");
    // Each version whole, a few times: the contents a trial may leave, and
    // how long an install takes to have its file in place (it says
    // "installed"; then it waits for PID 1's rescan, which changes no file):
    // the kills land anywhere from exec to a while after the rename.
    let mut versions = vec![String::new(); 2];
    let mut took = Vec::new();
    for round in 0..6 {
        let t0 = Instant::now();
        let mut child = install(&p, &sources[round % 2]).stdout(Stdio::piped()).spawn().unwrap();
        // -f shows the difference first, then says "installed".
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut said = String::new();
        while !said.starts_with("installed") {
            said.clear();
            if std::io::BufRead::read_line(&mut out, &mut said).unwrap() == 0 {
                break;
            }
        }
        took.push(t0.elapsed());
        assert!(said.starts_with("installed") && child.wait().unwrap().success(), "ioc install: {said}");
        versions[round % 2] = std::fs::read_to_string(&target).unwrap();
    }
    assert_ne!(versions[0], versions[1]);
    took.sort();
    let window_us = (took[took.len() / 2].as_micros() as u64) * 3 / 2;
    let (mut corrupt, mut killed) = (Vec::new(), 0);
    let started = Instant::now();
    for trial in 0..trials {
        let source = &sources[trial % 2];
        let mut child = install(&p, source).spawn().unwrap();
        std::thread::sleep(Duration::from_micros(random_below(window_us)));
        sigkill(child.id() as i32);
        let status = child.wait().unwrap();
        killed += usize::from(!status.success());
        let text = std::fs::read_to_string(&target).unwrap_or_default();
        if !versions.contains(&text) {
            corrupt.push(format!("trial {trial}:\n{text}"));
        }
    }
    let leftovers = temporaries(&dir.join("ioc")).len();
    // What the killed installs left, once it is old enough to be stale: the
    // next install removes it.
    for path in temporaries(&dir.join("ioc")) {
        let file = std::fs::File::options().write(true).open(path).unwrap();
        file.set_modified(std::time::SystemTime::now() - STALE_TEMPORARY * 2).unwrap();
    }
    // The version already there: an install that finds its file unchanged
    // clears them too.
    let current = std::fs::read_to_string(&target).unwrap();
    let same = versions.iter().position(|v| *v == current).expect("old or new content");
    assert!(install(&p, &sources[same]).status().unwrap().success(), "ioc install");
    let after = temporaries(&dir.join("ioc"));
    println!(
        "power cut, ioc install: {trials} trials (SIGKILL 0-{} ms into a run), {killed} killed before the end, \
         {} corrupt or half-written, {leftovers} temporary file(s) left by killed installs, {} once stale and \
         another install ran, {:.0} s",
        window_us / 1000,
        corrupt.len(),
        after.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(corrupt.is_empty(), "{} corrupt IOC files:\n{}", corrupt.len(), corrupt.join("\n"));
    assert!(after.is_empty(), "{} stale temporary files not removed, such as {:?}", after.len(), after.first());
    p.poweroff();
}
