//! Issue 8 ("PID 1 that cannot be killed, frozen or rooted"), PID 1's loop:
//! what it polls, how it writes to the console, how it hands out control
//! socket slots. The real binary as PID 1 of a PID namespace:
//! - no inotify descriptor (IocLogMaxSize 0, at boot and by configreload) is
//!   no reason to die: poll sees only descriptors that exist (defect 1);
//! - a console nobody reads (a full pipe) or one stopped by XOFF (Ctrl-S)
//!   does not stop PID 1: requests are answered and children reaped, and
//!   what could not be written is counted in a "console output dropped"
//!   line once the console takes output again (defect 4);
//! - local users cannot lock the control socket: clients that never read or
//!   say nothing are dropped, waiters that hang up free their slots, root
//!   and the IOC group keep a slot each; a control socket that cannot be
//!   created (a read-only run directory) does not stop the boot and is
//!   created once it can be (defect 8).
//!
//! Needs root (CI runs as root) and the test users of
//! tests/support/install-test-users (iocit-out outside the IOC group,
//! iocit-op in it).

mod ioc_support;
mod ns;
mod pty;

use std::ffi::CString;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use iocinit::control::protocol::{Request, Verb, FLAG_WAIT};
use ioc_support::{Scratch, MEMBER, OUTSIDER};
use ns::{ok, scratch, wait_for, write, Pid1};

const T: Duration = Duration::from_secs(10);

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
    let fds = p.fds_at_rest();
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
    let fds = p.fds_at_rest();
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
    use std::os::unix::fs::OpenOptionsExt;
    let dir = scratch("loop-xoff");
    write(&dir, "epoch.conf", &chatty_conf());
    let pty = nix::pty::openpty(None, None).unwrap();
    let termios = nix::sys::termios::tcgetattr(&pty.slave).unwrap();
    assert!(termios.input_flags.contains(nix::sys::termios::InputFlags::IXON));
    // Ctrl-S typed on the terminal: with IXON the terminal stops its output
    // until Ctrl-Q. Stopped once a non-blocking write to it takes nothing.
    let mut keyboard = std::fs::File::from(pty.master.try_clone().unwrap());
    let mut probe = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(format!("/proc/self/fd/{}", pty.slave.as_raw_fd()))
        .unwrap();
    keyboard.write_all(b"\x13").unwrap();
    assert!(wait_for(T, || probe.write(b"\n").is_err()), "Ctrl-S did not stop the terminal");
    let mut p = Pid1::spawn_on(&dir, &[], None, pty.slave.try_clone().unwrap());
    copy_console(pty.master.into(), &dir);
    p.wait_socket();
    flood_while_the_console_is_stuck(&mut p);
    assert!(!p.console().contains("Starting"), "the console was stopped:\n{}", p.console());
    keyboard.write_all(b"\x11").unwrap();
    p.wait_console("console output dropped", T);
    let console = p.console();
    assert!(console.contains("Starting object 0 with") && dropped_lines(&console) > 0, "{console}");
    p.poweroff();
}

// ---- defect 8: nobody locks the control socket -------------------------------

/// `n` objects that no runlevel starts and whose status is long (a status
/// reply of all of them is larger than a connection's send buffer), and 20
/// slow one-shots to wait for.
fn control_conf(n: usize) -> String {
    let mut conf = String::from("DefaultRunlevel default\nIocDirectory @DIR@/ioc\nIocGroup iocit-grp\n");
    for k in 0..n {
        conf += &format!(
            "ObjectID quiet{k}\nObjectDescription quiet object {k} {}\nObjectStartCommand /bin/true\nObjectRunlevels other\n",
            "whose status takes room ".repeat(8)
        );
    }
    for k in 0..20 {
        conf += &format!("ObjectID slow{k}\nObjectStartCommand /bin/sleep 600\nObjectStartPriority 1\nObjectRunlevels other\n");
    }
    conf
}

fn boot_control(tag: &str) -> (Scratch, Pid1) {
    ioc_support::setup();
    let s = Scratch::new(tag);
    std::fs::create_dir_all(s.path().join("ioc")).unwrap();
    write(s.path(), "epoch.conf", &control_conf(300));
    let p = Pid1::boot(s.path(), &[]);
    p.wait_console("iocinit: ready", T);
    (s, p)
}

/// A connection to the control socket from this (root) process.
fn connect(path: &Path) -> OwnedFd {
    use nix::sys::socket::{connect, socket, AddressFamily, SockFlag, SockType, UnixAddr};
    let fd = socket(AddressFamily::Unix, SockType::SeqPacket, SockFlag::SOCK_CLOEXEC, None).unwrap();
    connect(fd.as_raw_fd(), &UnixAddr::new(path).unwrap()).unwrap();
    fd
}

fn send(fd: &OwnedFd, packet: &[u8]) {
    use nix::sys::socket::{send, MsgFlags};
    send(fd.as_raw_fd(), packet, MsgFlags::MSG_NOSIGNAL).unwrap();
}

/// `count` connections as `user`, held by a child process, that each ask for
/// the status of every object (three times) and never read the answer.
struct NeverReading {
    child: nix::unistd::Pid,
    /// Connections that got the first message of an answer: they hold a
    /// slot with a reply pending.
    holding: usize,
}

impl NeverReading {
    fn start(socket: &Path, user: &str, count: usize) -> NeverReading {
        let u = nix::unistd::User::from_name(user).unwrap().unwrap();
        let name = CString::new(user).unwrap();
        let groups: Vec<libc::gid_t> = nix::unistd::getgrouplist(&name, u.gid).unwrap().iter().map(|g| g.as_raw()).collect();
        // Everything the child needs is prepared here: after fork in a
        // threaded process it may only make system calls.
        let dir = CString::new(socket.parent().unwrap().as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a plain C struct, all zeroes is valid.
        let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
        addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
        let name = socket.file_name().unwrap().as_encoded_bytes();
        for (k, &b) in name.iter().enumerate() {
            addr.sun_path[k] = b as libc::c_char;
        }
        let packet = Request::encode(Verb::Status, 0, &[]);
        let record = iocinit::control::protocol::Kind::Record as u8;
        let (report_r, report_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
        let (uid, gid) = (u.uid.as_raw(), u.gid.as_raw());
        let mut fds = [-1i32; 64];
        assert!(count <= fds.len());
        // SAFETY: the child makes raw system calls only, on data prepared
        // above, and never returns (it is killed).
        match unsafe { nix::unistd::fork() }.unwrap() {
            nix::unistd::ForkResult::Child => unsafe {
                // As root: into the socket's directory (the path to it may
                // pass through directories only root may search).
                libc::chdir(dir.as_ptr());
                libc::setgroups(groups.len(), groups.as_ptr());
                libc::setresgid(gid, gid, gid);
                libc::setresuid(uid, uid, uid);
                for fd in fds.iter_mut().take(count) {
                    *fd = libc::socket(libc::AF_UNIX, libc::SOCK_SEQPACKET, 0);
                    let len = std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t;
                    libc::connect(*fd, (&addr as *const libc::sockaddr_un).cast(), len);
                    for _ in 0..3 {
                        libc::send(*fd, packet.as_ptr().cast(), packet.len(), libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL);
                    }
                }
                let mut holding = 0u8;
                for &fd in fds.iter().take(count) {
                    let mut p = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
                    libc::poll(&mut p, 1, 20_000);
                    // A record: the status answer (a connection with no
                    // slot gets an End, FAIL "busy").
                    let mut b = [0u8; 6];
                    if libc::recv(fd, b.as_mut_ptr().cast(), 6, libc::MSG_PEEK | libc::MSG_DONTWAIT) == 6 && b[5] == record {
                        holding += 1;
                    }
                }
                libc::write(report_w.as_raw_fd(), (&holding as *const u8).cast(), 1);
                loop {
                    libc::pause();
                }
            },
            nix::unistd::ForkResult::Parent { child } => {
                drop(report_w);
                let mut holding = [0u8; 1];
                std::fs::File::from(report_r).read_exact(&mut holding).unwrap();
                NeverReading { child, holding: usize::from(holding[0]) }
            }
        }
    }
}

impl Drop for NeverReading {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(self.child, nix::sys::signal::Signal::SIGKILL);
        let _ = nix::sys::wait::waitpid(self.child, None);
    }
}

#[track_caller]
fn within_a_second(what: &str, run: impl FnOnce() -> std::process::Output) {
    let t0 = Instant::now();
    let out = run();
    let took = t0.elapsed();
    ok(out);
    assert!(took < Duration::from_secs(1), "{what} took {took:?}");
}

#[test]
fn clients_that_never_read_lock_out_neither_root_nor_the_ioc_group() {
    let (s, mut p) = boot_control("loop-noread");
    let fds = p.fds_at_rest();
    let outsiders = NeverReading::start(&p.socket(), OUTSIDER, 24);
    assert!(outsiders.holding >= 10, "only {} connections got a slot", outsiders.holding);
    within_a_second("root's status", || p.ctl(&["status"]));
    within_a_second("an IOC group member's ioc list", || p.ioc_as(MEMBER, &["list"]));
    // They never read: dropped, while they are still connected.
    assert!(wait_for(Duration::from_secs(30), || p.fd_count() == fds), "PID 1 holds {} descriptors, {fds} before", p.fd_count());
    drop(outsiders);
    // Nor may connections that say nothing stay.
    let silent: Vec<OwnedFd> = (0..3).map(|_| connect(&p.socket())).collect();
    assert!(wait_for(T, || p.fd_count() == fds + 3));
    assert!(wait_for(Duration::from_secs(30), || p.fd_count() == fds), "silent clients were not dropped");
    for fd in &silent {
        let mut b = [0u8; 16];
        assert_eq!(nix::sys::socket::recv(fd.as_raw_fd(), &mut b, nix::sys::socket::MsgFlags::MSG_DONTWAIT), Ok(0));
    }
    p.assert_healthy(fds);
    p.poweroff();
    drop(s);
}

#[test]
fn waiters_that_hang_up_free_their_slots() {
    let (s, mut p) = boot_control("loop-waiters");
    let fds = p.fds_at_rest();
    // More waiters than slots, one after the other: each starts a slow
    // object, waits for it, and goes away.
    for k in 0..20 {
        let id = format!("slow{k}");
        let waiter = connect(&p.socket());
        send(&waiter, &Request::encode(Verb::Start, FLAG_WAIT, &[&id]));
        p.wait_state(&id, "starting", T);
        drop(waiter);
    }
    p.assert_healthy(fds);
    for k in 0..20 {
        ok(p.ctl(&["stop", &format!("slow{k}")]));
    }
    p.assert_healthy(fds);
    p.poweroff();
    drop(s);
}

#[test]
fn a_read_only_run_directory_delays_the_control_socket_not_the_boot() {
    let dir = scratch("loop-rorun");
    write(
        &dir,
        "epoch.conf",
        "DefaultRunlevel default\nObjectID a\nObjectStartCommand /bin/true\nObjectStartPriority 1\nObjectRunlevels default\n",
    );
    let run: PathBuf = dir.join("run");
    let setup = format!("mkdir -p {r} && mount -t tmpfs -o ro tmpfs {r}", r = run.display());
    let mut p = Pid1::spawn(&dir, &[], Some(&setup));
    p.wait_console("unable to listen on", T);
    p.wait_console("iocinit: ready", T);
    assert!(p.alive());
    ok(p.sh(&format!("mount -o remount,rw {}", run.display())));
    // The next attempt (backoff: at most 30 s away) succeeds. The socket is
    // on the namespace's tmpfs: only clients inside see it.
    p.wait_console("control socket: listening on", Duration::from_secs(40));
    assert_eq!(p.state("a"), "done");
    let fds = p.fds_at_rest();
    p.assert_healthy(fds);
    p.poweroff();
}
