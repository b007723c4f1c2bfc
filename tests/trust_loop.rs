//! Issue 8 ("PID 1 that cannot be killed, frozen or rooted"), PID 1's loop:
//! what it polls, how it writes to the console, how it hands out control
//! socket slots. The real binary as PID 1 of a PID namespace:
//! - no inotify descriptor (IocLogMaxSize 0, at boot and by configreload) is
//!   no reason to die: poll sees only descriptors that exist (defect 1);
//! - a console nobody reads (a full pipe) or one stopped by XOFF does not
//!   stop PID 1: requests are answered and children reaped, and what could
//!   not be written is counted in a "console output dropped" line once the
//!   console takes output again (defect 4).
//!
//! Needs root (CI runs as root).

mod ns;

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::{Duration, Instant};

use ns::{ok, scratch, wait_for, write, Pid1};

const T: Duration = Duration::from_secs(10);

/// PID 1's descriptor count once the last client's connection is closed
/// (it closes on PID 1's next turn after the client exits): the same over
/// half a second.
fn quiet_fd_count(p: &Pid1) -> usize {
    let mut last = (p.fd_count(), Instant::now());
    assert!(wait_for(T, || {
        let now = p.fd_count();
        if now != last.0 {
            last = (now, Instant::now());
        }
        last.1.elapsed() >= Duration::from_millis(500)
    }));
    last.0
}

// ---- defect 1: poll only ever sees real descriptors ------------------------

fn rotation_conf(log_max: &str) -> String {
    format!(
        "DefaultRunlevel default\nIocDirectory @DIR@/ioc\nIocLogDirectory @DIR@/log\nIocLogMaxSize {log_max}\n\
         ObjectID a\nObjectStartCommand /bin/sleep 600\nObjectStartPriority 1\nObjectStopPriority 1\n\
         ObjectRunlevels default\nObjectOptions FORK\n"
    )
}

#[test]
fn without_log_rotation_there_is_no_inotify_descriptor_and_no_crash() {
    let dir = scratch("loop-norotate");
    std::fs::create_dir_all(dir.join("ioc")).unwrap();
    write(&dir, "epoch.conf", &rotation_conf("0"));
    let mut p = Pid1::boot(&dir, &[]);
    p.wait_console("iocinit: ready", T);
    let fds = quiet_fd_count(&p);
    p.assert_healthy(fds);
    // To rotation (one inotify descriptor more) and back (none).
    write(&dir, "epoch.conf", &rotation_conf("4K"));
    ok(p.ctl(&["configreload"]));
    p.assert_healthy(fds + 1);
    write(&dir, "epoch.conf", &rotation_conf("0"));
    ok(p.ctl(&["configreload"]));
    p.assert_healthy(fds);
    assert_eq!(p.state("a"), "running");
    p.poweroff();
}

// ---- defect 4: the console never blocks PID 1 ------------------------------

/// A boot that writes far more to the console than PID 1 keeps for it
/// (400 status lines of about 200 bytes), and a service to crash on demand.
fn chatty_conf() -> String {
    let mut conf = String::from("DefaultRunlevel default\n");
    for k in 0..400 {
        conf += &format!(
            "ObjectID o{k}\nObjectDescription object {k} {}\nObjectStartCommand /bin/true\n\
             ObjectStartPriority 1\nObjectRunlevels default\n",
            "with a description long enough to fill a console quickly ".repeat(3)
        );
    }
    conf += "ObjectID crash\nObjectStartCommand /bin/false\nObjectStartPriority 2\nObjectRunlevels other\nObjectOptions FORK\n";
    conf
}

/// Copies everything PID 1 writes to `console` into `dir/console.log`, where
/// [`Pid1::console`] reads it, until the last writer is gone.
fn copy_console(mut console: std::fs::File, dir: &Path) {
    let mut log = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("console.log")).unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = console.read(&mut buf) {
            if n == 0 || log.write_all(&buf[..n]).is_err() {
                break;
            }
        }
    });
}

/// The boot and a crash loop while nothing reaches the console: PID 1
/// answers within 1 s and leaves no zombie.
fn flood_while_the_console_is_stuck(p: &mut Pid1) {
    p.wait_state("o399", "done", Duration::from_secs(60));
    let fds = quiet_fd_count(p);
    p.assert_healthy(fds);
    let script = format!("for i in $(seq 40); do {} start crash > /dev/null 2>&1; done", ns::BIN);
    ok(p.sh(&script));
    p.assert_healthy(fds);
}

/// The notice that follows what the console did not take: how many lines.
fn dropped_lines(console: &str) -> u64 {
    let (_, rest) = console.split_once("iocinit: warning: console output dropped: ").unwrap_or_else(|| panic!("no notice in:\n{console}"));
    rest.split(' ').next().and_then(|n| n.parse().ok()).unwrap_or(0)
}

#[test]
fn a_console_nobody_reads_does_not_stop_pid1() {
    let dir = scratch("loop-pipe");
    write(&dir, "epoch.conf", &chatty_conf());
    // A small pipe, already full: the first write on a blocking descriptor
    // would wait for a reader that does not come.
    let (reader, writer) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
    let fd = writer.as_raw_fd();
    // SAFETY: fcntl and write on a descriptor we own.
    unsafe {
        assert!(libc::fcntl(fd, libc::F_SETPIPE_SZ, 4096) >= 4096);
        libc::fcntl(fd, libc::F_SETFL, libc::O_NONBLOCK);
        while libc::write(fd, b".".as_ptr().cast(), 1) == 1 {}
        // PID 1 inherits the description: blocking, as a console would be.
        libc::fcntl(fd, libc::F_SETFL, 0);
    }
    let mut p = Pid1::spawn_on(&dir, &[], None, writer);
    p.wait_socket();
    flood_while_the_console_is_stuck(&mut p);
    // Someone reads at last: what was kept, then how much was not.
    copy_console(reader.into(), &dir);
    p.wait_console("console output dropped", T);
    let console = p.console();
    assert!(dropped_lines(&console) > 0, "{console}");
    p.poweroff();
}

#[test]
fn a_console_stopped_by_xoff_does_not_stop_pid1() {
    use nix::sys::termios::{tcflow, FlowArg};
    let dir = scratch("loop-xoff");
    write(&dir, "epoch.conf", &chatty_conf());
    let pty = nix::pty::openpty(None, None).unwrap();
    // What Ctrl-S from the serial terminal does (IXON): the terminal stops
    // its output until Ctrl-Q.
    tcflow(&pty.slave, FlowArg::TCOOFF).unwrap();
    let mut p = Pid1::spawn_on(&dir, &[], None, pty.slave.try_clone().unwrap());
    copy_console(pty.master.into(), &dir);
    p.wait_socket();
    flood_while_the_console_is_stuck(&mut p);
    assert!(!p.console().contains("Starting"), "the console was stopped:\n{}", p.console());
    tcflow(&pty.slave, FlowArg::TCOON).unwrap();
    p.wait_console("console output dropped", T);
    let console = p.console();
    assert!(console.contains("Starting object 0 with") && dropped_lines(&console) > 0, "{console}");
    p.poweroff();
}
