//! How PID 1 starts and stops processes, attacked and checked as PID 1 of a
//! PID namespace (issue 8): children start with default signal dispositions
//! (#14), a stop reaches the whole process group of a command (#15),
//! KILLALL5 runs as a HALTONLY object's stop method (#16), a start command
//! that never ends is killed after its start timeout and the boot goes on
//! (#7), and an ObjectStdout FIFO without a reader never freezes PID 1 (#5).
//! A stop, and the start timeout's, also waits for what outlives the main
//! process in its group and SIGKILLs it after STOPTIMEOUT; a reload command
//! in flight is stopped with the object and reaped as its own, and a process
//! whose pid file never comes is stopped the same way before its start fails.
//! A tracked process that dies on its own has what it left in its group
//! ended (TERMSIGNAL, SIGKILL after STOPTIMEOUT) before AUTORESTART starts
//! the next run, so a start never makes two.
//! A working directory that never answers (a FUSE mount whose server never
//! replies, standing in for a hung NFS server) holds only the object's own
//! trampoline process, never PID 1, and fails the start by its start
//! timeout (#5). An object whose PATH names no directory fails its start,
//! never PID 1.
//! After each attack `assert_healthy` checks that PID 1 still answers.

mod ns;

use std::time::Duration;

use ns::{ok, read, scratch, wait_for, write, Pid1};

const T: Duration = Duration::from_secs(20);

/// Namespace processes whose command line starts with `prefix`.
fn count(p: &Pid1, prefix: &str) -> usize {
    // `processes` gives "STAT ARGS".
    p.processes().iter().filter(|(_, line)| line.split_once(' ').is_some_and(|(_, args)| args.trim_start().starts_with(prefix))).count()
}

#[test]
fn children_start_with_default_signal_dispositions() {
    let dir = scratch("trust-sigpipe");
    write(
        &dir,
        "epoch.conf",
        "DefaultRunlevel default\n\
         ObjectID ignored\nObjectStartCommand grep SigIgn /proc/self/status > @DIR@/sigign\n\
         ObjectStartPriority 1\nObjectRunlevels default\n\
         ObjectID pipe\nObjectStartCommand while :; do echo y; done | head -1 > @DIR@/pipe\n\
         ObjectStartPriority 1\nObjectRunlevels default\n",
    );
    let mut p = Pid1::boot(&dir, &[]);
    // With SIGPIPE ignored the writer of the pipeline never ends (echo only
    // fails with EPIPE), and neither does the boot.
    p.wait_console("iocinit: ready", T);
    let fds = p.fds_at_rest();
    assert_eq!(p.state("pipe"), "done");
    assert_eq!(read(&dir, "pipe"), "y\n");
    assert_eq!(read(&dir, "sigign").trim(), "SigIgn:\t0000000000000000");
    p.assert_healthy(fds);
    p.poweroff();
}

/// PID 1 started with signals ignored (as a shell's background job is, or a
/// program under nohup) resets, in each child, what it does not leave at
/// SIG_DFL, noted once per image: also after a reexec, whose new image
/// inherits the ignored ones.
#[test]
fn children_start_with_default_dispositions_whatever_pid1_inherited() {
    let dir = scratch("trust-sigign-inherited");
    write(
        &dir,
        "epoch.conf",
        "DefaultRunlevel default\n\
         ObjectID sig\nObjectStartCommand grep -E 'Sig(Blk|Ign)' /proc/self/status >> @DIR@/sig; exec sleep 600\n\
         ObjectStartPriority 1\nObjectStopPriority 1\nObjectRunlevels default\nObjectOptions FORK\n",
    );
    let p = Pid1::boot_with(&dir, &[], Some("trap '' HUP INT QUIT USR1 ALRM TTOU WINCH"));
    p.wait_state("sig", "running", T);
    let ignored = p.sh("grep SigIgn /proc/1/status");
    assert_ne!(String::from_utf8_lossy(&ignored.stdout).trim(), "SigIgn:\t0000000000000000", "PID 1 ignores nothing: the test tests nothing");
    let fresh = "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n";
    assert!(wait_for(T, || read(&dir, "sig") == fresh), "{:?}", read(&dir, "sig"));
    ok(p.ctl(&["reexec"]));
    p.wait_console("re-executed", T);
    ok(p.ctl(&["stop", "sig"]));
    ok(p.ctl(&["start", "sig"]));
    assert!(wait_for(T, || read(&dir, "sig") == fresh.repeat(2)), "{:?}", read(&dir, "sig"));
    p.poweroff();
}

#[test]
fn stop_reaches_the_whole_process_group() {
    let dir = scratch("trust-group");
    write(
        &dir,
        "epoch.conf",
        "DefaultRunlevel default\nStopCommandTimeout 1\n\
         ObjectID svc\nObjectStartCommand /bin/sleep 1001; echo done\nObjectOptions FORK\n\
         ObjectStartPriority 1\nObjectRunlevels default\n\
         ObjectID hung\nObjectStartCommand /bin/sleep 1003\nObjectStopCommand /bin/sleep 1002; true\n\
         ObjectOptions FORK STOPTIMEOUT=1\nObjectStartPriority 1\nObjectRunlevels default\n",
    );
    let mut p = Pid1::boot(&dir, &[]);
    p.wait_console("iocinit: ready", T);
    let fds = p.fds_at_rest();
    assert!(wait_for(T, || count(&p, "/bin/sleep 1001") == 1), "{:?}", p.processes());
    ok(p.ctl(&["stop", "svc"]));
    p.wait_state("svc", "stopped", T);
    assert!(wait_for(T, || count(&p, "/bin/sleep 1001") == 0), "the shell's child survived the stop: {:?}", p.processes());
    ok(p.ctl(&["start", "svc"]));
    p.wait_state("svc", "running", T);
    ok(p.ctl(&["restart", "svc"]));
    p.wait_state("svc", "running", T);
    assert!(wait_for(T, || count(&p, "/bin/sleep 1001") == 1), "not exactly one sleep: {:?}", p.processes());
    // A stop command that hangs is killed with its children by StopCommandTimeout.
    let out = p.ctl(&["stop", "hung"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("FAIL (stop command did not end within 1 s: killed)"), "{out:?}");
    p.wait_state("hung", "stopped", T);
    assert!(wait_for(T, || count(&p, "/bin/sleep 100") == 1), "left behind: {:?}", p.processes());
    assert_eq!(count(&p, "/bin/sleep 1001"), 1);
    p.assert_healthy(fds);
    p.poweroff();
}

#[test]
fn haltonly_killall5_runs_at_shutdown() {
    let dir = scratch("trust-killall5");
    write(
        &dir,
        "epoch.conf",
        "DefaultRunlevel default\n\
         ObjectID stray\nObjectStartCommand trap 'echo usr1 >> @DIR@/usr1' USR1; echo up > @DIR@/up; while :; do sleep 1; done\n\
         ObjectOptions FORKN\nObjectStartPriority 1\nObjectRunlevels default\n\
         ObjectID sweep\nObjectStopCommand KILLALL5 SIGUSR1 2\nObjectOptions HALTONLY\nObjectStopPriority 1\n",
    );
    let mut p = Pid1::boot(&dir, &[]);
    p.wait_console("iocinit: ready", T);
    let fds = p.fds_at_rest();
    assert!(wait_for(T, || read(&dir, "up") == "up\n"));
    p.assert_healthy(fds);
    p.poweroff();
    assert!(read(&dir, "usr1").contains("usr1"), "KILLALL5 did not run at shutdown");
}

#[test]
fn a_start_that_never_ends_is_killed_and_the_boot_goes_on() {
    let dir = scratch("trust-starttimeout");
    write(
        &dir,
        "epoch.conf",
        "DefaultRunlevel default\n\
         ObjectID stuck\nObjectStartCommand /bin/sleep 1004; true\nObjectOptions STARTTIMEOUT=2\n\
         ObjectStartPriority 1\nObjectRunlevels default\n\
         ObjectID later\nObjectStartCommand /bin/true\nObjectStartPriority 2\nObjectRunlevels default\n",
    );
    let mut p = Pid1::boot(&dir, &[]);
    p.wait_console("iocinit: ready", Duration::from_secs(60));
    let fds = p.fds_at_rest();
    assert_eq!(p.state("later"), "done");
    assert_eq!(p.state("stuck"), "failed");
    let st = p.status("stuck");
    assert!(st.to_string().contains("did not start within 2 s"), "{st}");
    assert!(p.console().contains("stuck: did not start within 2 s"), "{}", p.console());
    assert!(wait_for(T, || count(&p, "/bin/sleep 1004") == 0), "the start command survived: {:?}", p.processes());
    p.assert_healthy(fds);
    p.poweroff();
}

#[test]
fn a_global_start_timeout_applies_and_zero_disables_it() {
    let dir = scratch("trust-starttimeout-global");
    write(
        &dir,
        "epoch.conf",
        "DefaultRunlevel default\nStartTimeout 1\n\
         ObjectID stuck\nObjectStartCommand /bin/sleep 1005\nObjectStartPriority 1\nObjectRunlevels default\n\
         ObjectID patient\nObjectStartCommand /bin/sleep 3\nObjectOptions STARTTIMEOUT=0\n\
         ObjectStartPriority 2\nObjectRunlevels default\n",
    );
    let p = Pid1::boot(&dir, &[]);
    p.wait_console("iocinit: ready", Duration::from_secs(60));
    assert_eq!(p.state("stuck"), "failed");
    assert_eq!(p.state("patient"), "done");
    p.poweroff();
}

#[test]
fn an_output_fifo_without_a_reader_never_freezes_pid1() {
    let dir = scratch("trust-fifo");
    let fifo = dir.join("log.fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    write(
        &dir,
        "epoch.conf",
        "DefaultRunlevel default\n\
         ObjectID talker\nObjectStartCommand echo hello; exec /bin/sleep 1006\nObjectStdout @DIR@/log.fifo\n\
         ObjectOptions FORK\nObjectStartPriority 1\nObjectRunlevels default\n\
         ObjectID nowhere\nObjectStartCommand /bin/true\nObjectStdout @DIR@/no/such/dir/log\n\
         ObjectStartPriority 1\nObjectRunlevels default\n",
    );
    let mut p = Pid1::boot(&dir, &[]);
    p.wait_console("iocinit: ready", T);
    let fds = p.fds_at_rest();
    assert_eq!(p.state("talker"), "running");
    // A file that cannot be opened fails the start and says which.
    assert_eq!(p.state("nowhere"), "failed");
    let note = p.status("nowhere")["note"].as_str().unwrap_or("").to_string();
    assert_eq!(note, "unable to open an output file: No such file or directory: ObjectStdout/ObjectStderr");
    // A logger that attaches later gets what was written meanwhile.
    let out = p.run("timeout", &["10", "head", "-1", fifo.to_str().unwrap()]);
    assert_eq!(ok(out), "hello\n");
    p.assert_healthy(fds);
    p.poweroff();
}

#[test]
fn a_stop_kills_what_outlives_the_main_process_in_its_group() {
    let dir = scratch("trust-group-leftover");
    // The main process ends on SIGTERM; the subshell it started ignores it.
    write(
        &dir,
        "epoch.conf",
        "DefaultRunlevel default\n\
         ObjectID stubborn\nObjectStartCommand (trap '' TERM; exec /bin/sleep 1007) & exec /bin/sleep 1008\n\
         ObjectOptions FORK STOPTIMEOUT=1\nObjectStartPriority 1\nObjectRunlevels default\n\
         ObjectID slow\nObjectStartCommand (trap '' TERM; exec /bin/sleep 1009) & exec /bin/sleep 1010\n\
         ObjectOptions STARTTIMEOUT=3 STOPTIMEOUT=1\nObjectStartPriority 1\nObjectRunlevels default\n",
    );
    let mut p = Pid1::boot(&dir, &[]);
    p.wait_console("iocinit: ready", Duration::from_secs(60));
    let fds = p.fds_at_rest();
    // The start timeout's stop: the start fails once the whole group is gone.
    assert_eq!(p.state("slow"), "failed");
    assert_eq!((count(&p, "/bin/sleep 1009"), count(&p, "/bin/sleep 1010")), (0, 0), "{:?}", p.processes());
    assert!(wait_for(T, || count(&p, "/bin/sleep 1007") == 1), "{:?}", p.processes());
    let out = p.ctl(&["stop", "stubborn"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("did not stop in time: killed"), "{out:?}");
    p.wait_state("stubborn", "stopped", T);
    // Stopped means gone: the stop waited for the group, not only its leader.
    assert_eq!((count(&p, "/bin/sleep 1007"), count(&p, "/bin/sleep 1008")), (0, 0), "{:?}", p.processes());
    p.assert_healthy(fds);
    p.poweroff();
}

#[test]
fn a_stop_during_a_reload_command_stops_it_and_reaps_it_as_the_objects() {
    let dir = scratch("trust-reload-stop");
    write(
        &dir,
        "epoch.conf",
        "DefaultRunlevel default\n\
         ObjectID svc\nObjectStartCommand echo $$ > @DIR@/main.pid; exec /bin/sleep 1012\n\
         ObjectStopCommand kill $(cat @DIR@/main.pid)\nObjectReloadCommand /bin/sleep 1011\n\
         ObjectOptions FORK\nObjectStartPriority 1\nObjectRunlevels default\n",
    );
    let mut p = Pid1::boot(&dir, &[]);
    p.wait_console("iocinit: ready", T);
    let fds = p.fds_at_rest();
    ok(p.ctl(&["reload", "svc"]));
    assert!(wait_for(T, || count(&p, "/bin/sleep 1011") == 1), "{:?}", p.processes());
    ok(p.ctl(&["stop", "svc"]));
    p.wait_state("svc", "stopped", T);
    // Stopped means gone, the reload command too; its exit was the object's.
    assert_eq!((count(&p, "/bin/sleep 1011"), count(&p, "/bin/sleep 1012")), (0, 0), "{:?}", p.processes());
    assert!(p.console().contains("svc: reload command: killed by SIGTERM"), "{}", p.console());
    // Nothing of the reload is left over to refuse the next one.
    ok(p.ctl(&["start", "svc"]));
    p.wait_state("svc", "running", T);
    ok(p.ctl(&["reload", "svc"]));
    p.assert_healthy(fds);
    p.poweroff();
}

#[test]
fn a_process_whose_pid_file_never_comes_stays_tracked_not_left_behind() {
    let dir = scratch("trust-pidfile-never");
    write(
        &dir,
        "epoch.conf",
        "DefaultRunlevel default\nPIDFileTimeout 2\n\
         ObjectID mute\nObjectStartCommand trap '' TERM; exec /bin/sleep 1013\nObjectPIDFile @DIR@/never.pid\n\
         ObjectOptions FORK STARTTIMEOUT=0 STOPTIMEOUT=1\nObjectStartPriority 1\nObjectRunlevels default\n",
    );
    let mut p = Pid1::boot(&dir, &[]);
    // The boot waits out the pid file wait, then goes on (WARN, as Epoch).
    p.wait_console("iocinit: ready", Duration::from_secs(60));
    let fds = p.fds_at_rest();
    let mute = p.status("mute");
    assert_eq!((mute["state"].as_str(), mute["outcome"].as_str()), (Some("running"), Some("WARN")), "{mute}");
    assert_eq!(mute["note"], "no live pid in ObjectPIDFile after 2 s");
    assert_eq!(count(&p, "/bin/sleep 1013"), 1, "{:?}", p.processes());
    // Still the object's: a stop ends it (SIGKILL after STOPTIMEOUT).
    ok(p.ctl(&["stop", "mute"]));
    assert_eq!(count(&p, "/bin/sleep 1013"), 0, "{:?}", p.processes());
    p.assert_healthy(fds);
    p.poweroff();
}

#[test]
fn what_a_dead_process_leaves_in_its_group_is_ended_before_the_restart() {
    let dir = scratch("trust-group-death");
    // Each run's start records whether the previous run's background sleep
    // still lives, then starts one and exits 5 s later; `stubborn`'s ignores
    // TERM and must be SIGKILLed after STOPTIMEOUT.
    let object = |id: &str, member: &str, options: &str| {
        format!(
            "ObjectID {id}\nObjectStartCommand if [ -e @DIR@/{id}.pid ] && kill -0 $(cat @DIR@/{id}.pid) 2>/dev/null; \
             then echo overlap >> @DIR@/{id}.overlap; fi; {member} & echo $! > @DIR@/{id}.pid; \
             echo run >> @DIR@/{id}.runs; exec /bin/sleep 5\n\
             ObjectOptions FORK AUTORESTART {options}\nObjectStartPriority 1\nObjectRunlevels default\n"
        )
    };
    let conf = format!(
        "DefaultRunlevel default\n{}{}",
        object("plain", "/bin/sleep 1021", ""),
        object("stubborn", "(trap '' TERM; exec /bin/sleep 1022)", "STOPTIMEOUT=1"),
    );
    write(&dir, "epoch.conf", &conf);
    let mut p = Pid1::boot(&dir, &[]);
    p.wait_console("iocinit: ready", T);
    let fds = p.fds_at_rest();
    let runs = |id: &str| read(&dir, &format!("{id}.runs")).lines().count();
    // Three runs each: two deaths, two restarts.
    let mut most = (0, 0);
    assert!(
        wait_for(Duration::from_secs(90), || {
            most = (most.0.max(count(&p, "/bin/sleep 1021")), most.1.max(count(&p, "/bin/sleep 1022")));
            runs("plain") >= 3 && runs("stubborn") >= 3
        }),
        "{:?}",
        p.processes()
    );
    assert_eq!(most, (1, 1), "two background sleeps at once seen");
    for id in ["plain", "stubborn"] {
        assert!(!dir.join(format!("{id}.overlap")).exists(), "{id}: a restart began while the previous run's sleep lived");
    }
    let console = p.console();
    assert!(console.contains("plain: ending what is left in process group"), "{console}");
    assert!(
        console.contains("stubborn: what the dead process left in its process group did not end in time; sending SIGKILL"),
        "{console}"
    );
    for id in ["plain", "stubborn"] {
        ok(p.ctl(&["stop", id]));
        p.wait_state(id, "stopped", T);
    }
    assert_eq!((count(&p, "/bin/sleep 1021"), count(&p, "/bin/sleep 1022")), (0, 0), "{:?}", p.processes());
    p.assert_healthy(fds);
    p.poweroff();
}

/// A FUSE mount whose server never answers: nothing reads /dev/fuse, so the
/// kernel's INIT request stays unanswered and every lookup below the mount
/// waits (killable, in D state) until the connection ends, as on a hung NFS
/// server. Dropping it detaches the mount and closes /dev/fuse, which aborts
/// the connection and releases every waiter.
struct UnansweringMount {
    point: std::path::PathBuf,
    _fuse: std::fs::File,
}

impl UnansweringMount {
    fn new(point: &std::path::Path) -> UnansweringMount {
        use std::os::fd::AsRawFd;
        std::fs::create_dir_all(point).unwrap();
        let fuse = std::fs::OpenOptions::new().read(true).write(true).open("/dev/fuse").expect("/dev/fuse (FUSE in the kernel)");
        let options = format!("fd={},rootmode=40000,user_id=0,group_id=0", fuse.as_raw_fd());
        nix::mount::mount(Some("iocinit-unanswering"), point, Some("fuse"), nix::mount::MsFlags::empty(), Some(options.as_str()))
            .expect("mount a FUSE filesystem");
        UnansweringMount { point: point.to_path_buf(), _fuse: fuse }
    }
}

impl Drop for UnansweringMount {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.point, nix::mount::MntFlags::MNT_DETACH);
    }
}

#[test]
fn a_working_directory_that_never_answers_never_freezes_pid1() {
    let dir = scratch("trust-chdir");
    // Mounted before the boot: the namespace's copy is the same connection.
    let hung = UnansweringMount::new(&dir.join("hung"));
    std::fs::create_dir_all(dir.join("work")).unwrap();
    write(
        &dir,
        "epoch.conf",
        "DefaultRunlevel default\n\
         ObjectID stuck\nObjectStartCommand /bin/true\nObjectWorkingDirectory @DIR@/hung/sub\n\
         ObjectOptions STARTTIMEOUT=2 STOPTIMEOUT=1\nObjectStartPriority 1\nObjectRunlevels default\n\
         ObjectID missing\nObjectStartCommand /bin/true\nObjectWorkingDirectory @DIR@/no-such-dir\n\
         ObjectStderr @DIR@/missing.err\nObjectStartPriority 1\nObjectRunlevels default\n\
         ObjectID tracked\nObjectStartCommand /bin/sleep 1007\nObjectWorkingDirectory @DIR@/work\n\
         ObjectOptions FORK\nObjectStartPriority 1\nObjectRunlevels default\n",
    );
    let mut p = Pid1::boot(&dir, &[]);
    // The start hangs in the trampoline, a process of its own.
    let trampoline_hangs = wait_for(T, || p.processes().iter().any(|(_, line)| line.starts_with('D') && line.contains("iocinit-chdir")));
    // PID 1 answers meanwhile (bounded: a frozen PID 1 never would).
    let status = p.run("timeout", &["10", ns::BIN, "status"]);
    assert!(status.status.success(), "PID 1 does not answer while a directory hangs: {status:?}");
    assert!(trampoline_hangs, "no trampoline waiting on the directory: {:?}", p.processes());
    // STARTTIMEOUT ends the start, SIGKILL ends the wait.
    p.wait_state("stuck", "failed", T);
    assert_eq!(p.status("stuck")["note"].as_str().unwrap_or(""), "did not start within 2 s");
    p.wait_console("iocinit: ready", T);
    let fds = p.fds_at_rest();
    // A directory that is not there fails the start and says so.
    assert_eq!(p.state("missing"), "failed");
    assert_eq!(p.status("missing")["note"].as_str().unwrap_or(""), "unable to change directory (exit code 200)");
    assert_eq!(
        read(&dir, "missing.err"),
        format!("iocinit: unable to change directory to {}: No such file or directory\n", dir.join("no-such-dir").display())
    );
    // A good one: the tracked pid is the command's, exec'd by the trampoline
    // from that directory.
    let pid = p.pid("tracked").expect("tracked runs");
    let host = p.host_pid_of(pid).expect("host pid");
    assert!(wait_for(T, || std::fs::read(format!("/proc/{host}/cmdline")).unwrap_or_default() == b"/bin/sleep\x001007\0"));
    assert_eq!(std::fs::read_link(format!("/proc/{host}/cwd")).unwrap(), dir.join("work"));
    p.assert_healthy(fds);
    p.poweroff();
    drop(hung);
}

/// An object whose own PATH names no directory (`ObjectEnvVar PATH=` or
/// `PATH=:`) has nothing to search for a program named without a `/`: its
/// start fails and says which program, and PID 1 goes on (the name of the
/// failed program was once taken from a list of candidates that was empty,
/// and PID 1 panicked on one config value).
#[test]
fn a_path_of_no_directory_fails_the_start_not_pid1() {
    let dir = scratch("trust-empty-path");
    write(
        &dir,
        "epoch.conf",
        "DefaultRunlevel default\n\
         ObjectID nopath\nObjectStartCommand sleep 1007\nObjectEnvVar PATH=\n\
         ObjectStartPriority 1\nObjectRunlevels default\n\
         ObjectID colon\nObjectStartCommand sleep 1007\nObjectEnvVar PATH=:\n\
         ObjectStartPriority 2\nObjectRunlevels default\n\
         ObjectID after\nObjectStartCommand /bin/sleep 1007\nObjectOptions FORK\n\
         ObjectStartPriority 3\nObjectRunlevels default\n",
    );
    let mut p = Pid1::boot(&dir, &[]);
    p.wait_console("iocinit: ready", T);
    let fds = p.fds_at_rest();
    for id in ["nopath", "colon"] {
        assert_eq!(p.state(id), "failed", "{id}");
        let note = p.status(id)["note"].as_str().unwrap_or("").to_string();
        assert_eq!(note, "unable to execute: No such file or directory: sleep", "{id}");
    }
    assert_eq!(p.state("after"), "running");
    p.assert_healthy(fds);
    p.poweroff();
}
