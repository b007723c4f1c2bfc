//! Issue 8, the boot path: what the kernel, the initramfs and an upgrade can
//! hand PID 1, with the real binary as PID 1 of a PID namespace.
//! - #2: kernel words without `=` (`single`, `1`, `shell`...), unknown
//!   options and non-UTF-8 bytes as PID 1's arguments: logged and ignored,
//!   Epoch's words honoured; a command given non-UTF-8 bytes says so.
//! - #17: /run as a bind mount from the root filesystem is a mount.
//! - #18: PID 1 started with fds 0-2 closed gets /dev/console, with or
//!   without a /dev/null to hold their place first.
//! - #19: reexec with a broken configuration is refused; a new image that
//!   still cannot load it serves on, sees its children's exits and takes
//!   the real configuration over when it loads.
//! - #20: a shutdown delay that does not fit is refused, not wrapped.
//! - A second supervisor started by hand on the same control socket
//!   refuses to start instead of taking the socket and booting every
//!   object again.
//! - `--debug` turns the debug lines on, and nothing else does.
//!
//! Every adversarial test ends with `assert_healthy`. Needs root.

mod ns;

use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::time::Duration;

use iocinit::control::protocol::{Code, Verb};
use ns::{ok, read, scratch, wait_for, write, Pid1, BIN};

const T: Duration = Duration::from_secs(20);

/// One service `a` (a sleep), started at boot.
fn one_service(dir: &std::path::Path) {
    write(
        dir,
        "epoch.conf",
        "DefaultRunlevel default\n\
         ObjectID a\nObjectStartCommand /bin/sleep 611\nObjectStartPriority 1\nObjectStopPriority 1\n\
         ObjectRunlevels default\nObjectOptions FORK\n",
    );
}

#[test]
fn kernel_words_without_equals_and_unknown_options_do_not_stop_pid1() {
    let dir = scratch("trust-boot-words");
    one_service(&dir);
    // What a kernel passes to init (`single`, `1`, `emergency` and Epoch's
    // own `shell`), and an option nobody knows.
    let mut p = Pid1::boot(&dir, &["single", "1", "emergency", "shell", "--no-such-option", "startobj=a"]);
    p.wait_console("iocinit: ready", T);
    let console = p.console();
    for word in ["\"single\"", "\"1\"", "\"emergency\"", "\"--no-such-option\""] {
        assert!(console.lines().any(|l| l.contains("iocinit: warning: ignoring the") && l.contains(word)), "{word} not reported:\n{console}");
    }
    // `shell` is Epoch's: honoured (the shell reads /dev/null here and ends).
    assert!(console.contains("*** iocinit: kernel command line asked for a shell"), "{console}");
    assert_eq!(p.state("a"), "running");
    let fds = p.fds_at_rest();
    p.assert_healthy(fds);
    p.poweroff();
}

#[test]
fn arguments_that_are_not_utf8_do_not_stop_pid1() {
    let dir = scratch("trust-boot-bytes");
    one_service(&dir);
    // Only a shell can add these: the harness's arguments are text.
    let setup = r#"set -- "$@" "$(printf 'bad\377word')""#;
    let mut p = Pid1::boot_with(&dir, &[], Some(setup));
    p.wait_console("iocinit: ready", T);
    let console = p.console();
    assert!(console.contains("iocinit: warning: ignoring the argument \"bad\\xFFword\" (not valid UTF-8)"), "{console}");
    assert!(!console.contains("panicked"), "{console}");
    let fds = p.fds_at_rest();
    p.assert_healthy(fds);
    p.poweroff();
}

#[test]
fn a_command_given_bytes_that_are_not_utf8_says_so() {
    let bad = std::ffi::OsStr::from_bytes(b"st\xffatus");
    let out = std::process::Command::new(BIN).arg(bad).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("is not valid UTF-8") && !stderr.contains("panicked"), "{stderr}");
    // A name (argv[0]) that is not UTF-8 is no reason to panic either.
    let out = std::process::Command::new(BIN)
        .arg0(std::ffi::OsStr::from_bytes(b"epo\xffch"))
        .args(["status", "--socket", "/nonexistent/control"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    // A typed command still refuses what it does not know.
    let out = std::process::Command::new(BIN).args(["--local", "--no-such-option"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn run_bound_from_the_root_filesystem_is_a_mount_and_is_not_hidden() {
    let dir = scratch("trust-boot-runbind");
    one_service(&dir);
    // The same filesystem as / (target/ is on it in CI): a comparison of
    // devices takes this mount for none and hides it under a tmpfs, and with
    // it the control socket the test reaches through dir/run.
    let same_fs = |a: &std::path::Path| std::fs::metadata(a).map(|m| std::os::unix::fs::MetadataExt::dev(&m)).ok();
    assert_eq!(same_fs(&dir), same_fs(std::path::Path::new("/")), "the test needs its scratch directory on the root filesystem");
    // PID 1 runs with --run-dir /run instead of the harness's dir/run.
    let setup = format!(
        "mkdir -p {0}/run && mount --bind {0}/run /run\n\
         n=$# prev=\nfor a do [ \"$prev\" = --run-dir ] && a=/run; prev=$a; set -- \"$@\" \"$a\"; done; shift $n",
        dir.display()
    );
    let mut p = Pid1::boot_with(&dir, &[], Some(&setup));
    p.wait_console("iocinit: ready", T);
    assert!(ok(p.sh("tr '\\0' ' ' < /proc/1/cmdline")).contains(" --run-dir /run "));
    let mounts = ok(p.sh("grep ' /run ' /proc/1/mountinfo"));
    assert!(!mounts.contains("tmpfs"), "a tmpfs on /run:\n{mounts}");
    let fds = p.fds_at_rest();
    p.assert_healthy(fds);
    p.poweroff();
}

#[test]
fn pid1_without_a_console_takes_dev_console() {
    // The kernel found no /dev/console in the initramfs: fds 0-2 are closed,
    // and main puts /dev/null there.
    takes_dev_console("trust-boot-console", "");
}

#[test]
fn pid1_without_dev_null_or_a_console_takes_dev_console() {
    // An initramfs without device nodes: fds 0-2 closed and no /dev/null to
    // fill them with (std's start-up aborted there: for PID 1, the kernel's
    // panic). /dev holds only the file that stands for the console.
    takes_dev_console("trust-boot-no-null", "mount -t tmpfs none /dev && : > /dev/console && ");
}

/// Boots one service in a new scratch directory `name` with fds 0-2 closed
/// and the file the harness reads as PID 1's console, `console.log`, bound
/// on /dev/console (after `make_dev`, a shell command list that ends in
/// `&& `, or nothing), and checks that PID 1 writes there and that its fds
/// 0-2, which objects and the emergency shell inherit, are the console.
/// (The file is the harness's own, so that `poweroff` finds PID 1's last
/// words where it looks for them when the kernel kills its client.)
fn takes_dev_console(name: &str, make_dev: &str) {
    let dir = scratch(name);
    one_service(&dir);
    let setup = format!("{make_dev}mount --bind {} /dev/console && exec 0<&- 1>&- 2>&-", dir.join("console.log").display());
    let mut p = Pid1::boot_with(&dir, &[], Some(&setup));
    assert!(wait_for(T, || p.console().contains("iocinit: ready")), "nothing on the console: {:?}", p.console());
    let out = ok(p.sh("readlink /proc/1/fd/0 /proc/1/fd/1 /proc/1/fd/2"));
    assert_eq!(out.matches("console").count(), 3, "{out}");
    let fds = p.fds_at_rest();
    p.assert_healthy(fds);
    p.poweroff();
}

#[test]
fn reexec_with_a_broken_configuration_is_refused_with_the_errors() {
    let dir = scratch("trust-boot-reexec-refused");
    one_service(&dir);
    let mut p = Pid1::boot(&dir, &[]);
    p.wait_console("iocinit: ready", T);
    let fds = p.fds_at_rest();
    let a = p.pid("a");
    let good = read(&dir, "epoch.conf");
    write(&dir, "epoch.conf", &format!("{good}ObjectBogus 1\n"));
    let out = p.ctl(&["reexec"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("not re-executing") && stderr.contains(":8: unknown attribute \"ObjectBogus\""), "{stderr}");
    assert!(!p.console().contains("re-executing"), "{}", p.console());
    assert_eq!(p.pid("a"), a);
    p.assert_healthy(fds);
    // Fixed: the reexec goes ahead.
    write(&dir, "epoch.conf", &good);
    ok(p.ctl(&["reexec"]));
    p.wait_console("re-executed; 1 objects adopted", T);
    assert_eq!(p.pid("a"), a);
    p.poweroff();
}

#[test]
fn a_new_image_that_cannot_load_the_configuration_serves_on_with_the_old_objects() {
    let dir = scratch("trust-boot-reexec-skeleton");
    write(
        &dir,
        "epoch.conf",
        "DefaultRunlevel default\n\
         ObjectID a\nObjectStartCommand /bin/sleep 612\nObjectStartPriority 1\nObjectStopPriority 1\n\
         ObjectRunlevels default\nObjectOptions FORK\n\
         ObjectID b\nObjectStartCommand /bin/sleep 613\nObjectStartPriority 1\nObjectStopPriority 1\n\
         ObjectRunlevels default\nObjectOptions FORK\n",
    );
    // PID 1 runs a copy of the binary. The "upgrade" replaces it with a
    // script that breaks the configuration after the old image checked it,
    // then runs the real binary: the new image cannot load it.
    let image = dir.join("image");
    std::fs::copy(BIN, &image).unwrap();
    let setup = format!("exec {} \"$@\"", image.display());
    let mut p = Pid1::boot_with(&dir, &[], Some(&setup));
    p.wait_console("iocinit: ready", T);
    let (a, b) = (p.pid("a").unwrap(), p.pid("b").unwrap());
    let upgrade = dir.join("image.new");
    std::fs::write(&upgrade, format!("#!/bin/sh\necho 'ObjectBogus 1' >> {}\nexec {BIN} \"$@\"\n", dir.join("epoch.conf").display())).unwrap();
    std::fs::set_permissions(&upgrade, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    std::fs::rename(&upgrade, &image).unwrap();
    let _ = p.ctl(&["reexec"]);
    p.wait_console("re-executed; 2 objects adopted", T);
    // The new image's own descriptors (the old one also held what the test
    // harness leaked into it, close-on-exec there).
    let fds = p.fds_at_rest();
    let console = p.console();
    assert!(console.contains("going on with the objects of the previous image"), "{console}");
    assert!(!console.contains("emergency shell"), "{console}");
    // Served, with the old objects and their processes.
    assert_eq!((p.pid("a"), p.pid("b")), (Some(a), Some(b)));
    assert_eq!(p.state("a"), "running");
    // An exit is seen (and reaped), not lost.
    ok(p.sh(&format!("kill -9 {b}")));
    assert!(wait_for(T, || p.state("b") != "running"), "{}", p.console());
    assert!(p.zombies().is_empty(), "{:?}", p.zombies());
    // The configuration fixed: a reload takes the objects over by ID.
    let fixed = read(&dir, "epoch.conf").replace("ObjectBogus 1\n", "");
    write(&dir, "epoch.conf", &fixed);
    ok(p.ctl(&["configreload"]));
    assert_eq!(p.pid("a"), Some(a));
    assert_eq!(p.state("a"), "running");
    ok(p.ctl(&["start", "b"]));
    p.wait_state("b", "running", T);
    p.assert_healthy(fds);
    let console = p.poweroff();
    assert!(console.contains("Stopping") || console.contains("power off"), "{console}");
}

#[test]
fn a_shutdown_delay_that_does_not_fit_is_refused() {
    let dir = scratch("trust-boot-delay");
    one_service(&dir);
    let mut p = Pid1::boot(&dir, &[]);
    p.wait_console("iocinit: ready", T);
    let fds = p.fds_at_rest();
    for delay in ["18446744073709551615", "18446744073709551616", "soon", "-1"] {
        let reply = p.request(Verb::Power, &["poweroff", delay]);
        assert_eq!(reply.code, Code::BadParam, "{delay}: {}", reply.message);
        assert!(p.alive(), "{delay}: {}", p.console());
    }
    let reply = p.request(Verb::Power, &["poweroff", "18446744073709551615"]);
    assert!(reply.message.contains("delay too long"), "{}", reply.message);
    // Nothing was scheduled.
    let version = ok(p.ctl(&["version"]));
    assert!(!version.contains("shutdown scheduled"), "{version}");
    // The CLI's minutes, multiplied into milliseconds, do not wrap either.
    let out = p.ctl(&["shutdown", "-p", "+307445734561825861"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"), "{out:?}");
    assert_eq!(p.state("a"), "running");
    p.assert_healthy(fds);
    p.poweroff();
}

#[test]
fn a_second_supervisor_on_the_same_socket_refuses_to_start() {
    let dir = scratch("trust-second");
    one_service(&dir);
    let mut p = Pid1::boot(&dir, &[]);
    p.wait_state("a", "running", T);
    let fds = p.fds_at_rest();
    let sleeps = || p.processes().iter().filter(|(_, cmd)| cmd.contains("sleep 611")).count();
    assert_eq!(sleeps(), 1);
    // `iocinit --config ...` typed by hand inside the namespace: not PID 1.
    let mut second = p
        .inside(
            BIN,
            &[
                "--config",
                dir.join("epoch.conf").to_str().unwrap(),
                "--run-dir",
                dir.join("run").to_str().unwrap(),
                "--state-dir",
                dir.join("state").to_str().unwrap(),
                "--system-log",
                dir.join("second.log").to_str().unwrap(),
            ],
        )
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(dir.join("second.err")).unwrap())
        .spawn()
        .unwrap();
    // A second supervisor that does not refuse runs on: bound the wait.
    let mut status = None;
    let refused = wait_for(T, || {
        status = second.try_wait().ok().flatten();
        status.is_some()
    });
    let stderr = read(&dir, "second.err");
    if !refused {
        let _ = second.kill();
        let _ = second.wait();
    }
    assert!(refused, "a second supervisor started:\n{stderr}");
    assert_eq!(status.and_then(|s| s.code()), Some(1), "{stderr}");
    assert!(stderr.contains("another supervisor answers on"), "{stderr}");
    // The first one keeps its socket, and nothing was started twice.
    assert_eq!(sleeps(), 1);
    p.assert_healthy(fds);
    p.poweroff();
}

#[test]
fn debug_lines_are_logged_with_debug_only() {
    use nix::sys::socket::{connect, recv, socket, AddressFamily, MsgFlags, SockFlag, SockType, UnixAddr};
    use std::os::fd::AsRawFd;
    // A control client that never sends a request is dropped after
    // control::server::IDLE_TIMEOUT_MS, with a debug line: the same client
    // of two supervisors, one booted with --debug, both with a system log.
    let dirs = ["trust-boot-quiet", "trust-boot-debug"].map(|name| {
        let dir = scratch(name);
        write(&dir, "epoch.conf", "DefaultRunlevel default\nEnableLogging true\n");
        dir
    });
    let quiet = Pid1::boot(&dirs[0], &[]);
    let debug = Pid1::boot(&dirs[1], &["--debug"]);
    let idle = [&quiet, &debug].map(|p| {
        let fd = socket(AddressFamily::Unix, SockType::SeqPacket, SockFlag::SOCK_CLOEXEC, None).unwrap();
        connect(fd.as_raw_fd(), &UnixAddr::new(&p.socket()).unwrap()).unwrap();
        fd
    });
    for client in idle {
        // Held until its supervisor drops it (the end of the stream).
        let dropped = wait_for(T, || matches!(recv(client.as_raw_fd(), &mut [0; 1], MsgFlags::MSG_DONTWAIT), Ok(0)));
        assert!(dropped, "an idle client was not dropped");
    }
    let line = "iocinit: control: dropped a client of uid 0 (no progress in time)\n";
    let (quiet_log, debug_log) = (read(&dirs[0], "system.log"), read(&dirs[1], "system.log"));
    assert!(quiet_log.contains("iocinit: ready"), "{quiet_log}");
    assert!(!quiet.said().contains("dropped a client"), "{}", quiet.said());
    assert!(debug.console().contains(line), "{}", debug.console());
    assert!(debug_log.contains(line), "{debug_log}");
    quiet.poweroff();
    debug.poweroff();
}
