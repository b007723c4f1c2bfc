//! No process creation path of the engine forks: `spawn()` itself, and the
//! engine on the real kernel (RealOs) starting FORK, FORKN and plain
//! objects, a prestart command, a stop command and a reload command, run
//! under a seccomp filter that fails fork(2) and every clone(2) without
//! CLONE_VM with EPERM, and clone3(2) with ENOSYS (so a C library cannot
//! take a path around the check). Only clone(CLONE_VM|CLONE_VFORK), what a
//! nommu board can do, gets through.
//!
//! The filter is installed in a child process only: the test re-executes its
//! own binary to run the ignored test `filtered_child` alone. x86_64 only
//! (the filter names x86_64 system call numbers and checks the audit arch).
#![cfg(target_arch = "x86_64")]

use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use iocinit::config::{self, LoadOptions};
use iocinit::engine::object::State;
use iocinit::engine::os::RealOs;
use iocinit::engine::{plan, BootOptions, Engine, Power, SystemRequest};
use iocinit::layout::Layout;
use iocinit::spawn::{self, Command, Options, Redirect};
use iocinit::sys;

const CHILD_ENV: &str = "IOCINIT_SECCOMP_DIR";
const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;

#[test]
fn no_spawn_path_forks() {
    let dir = std::env::temp_dir().join(format!("iocinit-seccomp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "filtered_child", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, &dir)
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let _ = std::fs::remove_dir_all(&dir);
    assert!(out.status.success(), "{text}");
    // The child really ran (a filter that matched no test would also pass).
    assert!(text.contains("seccomp child: every path ran without fork"), "{text}");
}

fn stmt(code: u32, k: u32) -> libc::sock_filter {
    libc::sock_filter { code: code as u16, jt: 0, jf: 0, k }
}

fn jump(code: u32, k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter { code: code as u16, jt, jf, k }
}

/// Installs the filter on the calling thread (and everything it starts).
fn install_filter() {
    use libc::{BPF_ABS, BPF_JEQ, BPF_JMP, BPF_JSET, BPF_K, BPF_LD, BPF_RET, BPF_W};
    let errno = |e: i32| libc::SECCOMP_RET_ERRNO | (e as u32 & libc::SECCOMP_RET_DATA);
    // struct seccomp_data: nr at 0, arch at 4, args[0] at 16 (low half first).
    let prog = [
        stmt(BPF_LD | BPF_W | BPF_ABS, 4),
        jump(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
        stmt(BPF_RET | BPF_K, errno(libc::EPERM)),
        stmt(BPF_LD | BPF_W | BPF_ABS, 0),
        jump(BPF_JMP | BPF_JEQ | BPF_K, libc::SYS_fork as u32, 0, 1),
        stmt(BPF_RET | BPF_K, errno(libc::EPERM)),
        jump(BPF_JMP | BPF_JEQ | BPF_K, libc::SYS_clone3 as u32, 0, 1),
        stmt(BPF_RET | BPF_K, errno(libc::ENOSYS)),
        jump(BPF_JMP | BPF_JEQ | BPF_K, libc::SYS_clone as u32, 0, 3),
        stmt(BPF_LD | BPF_W | BPF_ABS, 16),
        jump(BPF_JMP | BPF_JSET | BPF_K, libc::CLONE_VM as u32, 1, 0),
        stmt(BPF_RET | BPF_K, errno(libc::EPERM)),
        stmt(BPF_RET | BPF_K, libc::SECCOMP_RET_ALLOW),
    ];
    let fprog = libc::sock_fprog { len: prog.len() as u16, filter: prog.as_ptr() as *mut libc::sock_filter };
    // SAFETY: plain prctl calls; the program outlives the call that copies it.
    unsafe {
        assert_eq!(libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0, "no_new_privs");
        let r = libc::prctl(libc::PR_SET_SECCOMP, libc::SECCOMP_MODE_FILTER as libc::c_ulong, &fprog as *const libc::sock_fprog);
        assert_eq!(r, 0, "seccomp: {}", std::io::Error::last_os_error());
    }
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// The filter bites: fork, clone without CLONE_VM and clone3 all fail.
fn assert_filter_bites() {
    // SAFETY: each call fails under the filter; should one succeed, the
    // child exits at once without touching anything.
    unsafe {
        let pid = libc::fork();
        if pid == 0 {
            libc::_exit(0);
        }
        assert_eq!((pid, errno()), (-1, libc::EPERM), "fork() got through");
        let pid = libc::syscall(libc::SYS_clone, libc::SIGCHLD as libc::c_ulong, 0, 0, 0, 0);
        if pid == 0 {
            libc::_exit(0);
        }
        assert_eq!((pid, errno()), (-1, libc::EPERM), "clone(SIGCHLD) got through");
        let pid = libc::syscall(libc::SYS_clone3, std::ptr::null::<u8>(), 0usize);
        assert_eq!((pid, errno()), (-1, libc::ENOSYS), "clone3 got through");
    }
}

fn wait_exit(pid: i32) -> sys::ExitStatus {
    let mut status = 0;
    // SAFETY: waits for our own child.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    sys::ExitStatus::from_wait(status)
}

fn env() -> Vec<String> {
    vec!["PATH=/usr/bin:/bin".into()]
}

fn spawn_directly(dir: &Path) {
    let out = CString::new(dir.join("spawn.out").to_str().unwrap()).unwrap();
    let cwd = CString::new(dir.to_str().unwrap()).unwrap();
    // A shell command: dash runs a builtin and a redirection without forking.
    // The working directory through the trampoline (iocinit itself), which
    // execs the command without a fork of its own.
    let iocinit = CString::new(env!("CARGO_BIN_EXE_iocinit")).unwrap();
    let cmd = Command::from_line("echo spawned; pwd", false, &env()).unwrap().with_working_directory_through(&cwd, &iocinit);
    let opts = Options { stdout: Redirect::Append(&out), stdin: Redirect::Null, ..Default::default() };
    let pid = spawn::spawn(&cmd, &opts).expect("spawn under seccomp");
    assert!(wait_exit(pid).success());
    assert_eq!(std::fs::read_to_string(dir.join("spawn.out")).unwrap(), format!("spawned\n{}\n", dir.display()));
    // A directory that fails is the trampoline's exit status, and its stderr says why.
    let err = CString::new(dir.join("chdir.err").to_str().unwrap()).unwrap();
    let cmd = Command::from_line("/bin/true", false, &env()).unwrap().with_working_directory_through(c"/nonexistent/dir", &iocinit);
    let pid = spawn::spawn(&cmd, &Options { stderr: Redirect::Append(&err), ..Default::default() }).unwrap();
    assert_eq!(wait_exit(pid), sys::ExitStatus::Exited(spawn::EXIT_CHDIR_FAILED));
    assert_eq!(
        std::fs::read_to_string(dir.join("chdir.err")).unwrap(),
        "iocinit: unable to change directory to /nonexistent/dir: No such file or directory\n"
    );
    // A direct exec with credentials (our own, so allowed) and a failure report.
    let me = spawn::Credentials { uid: 0, gid: 0, groups: vec![0] };
    let cmd = Command::from_line("/bin/true", false, &env()).unwrap();
    let pid = spawn::spawn(&cmd, &Options { credentials: Some(&me), ..Default::default() }).unwrap();
    assert!(wait_exit(pid).success());
    let cmd = Command::from_line("no-such-program-iocinit", false, &env()).unwrap();
    assert_eq!(spawn::spawn(&cmd, &Options::default()).unwrap_err().stage, spawn::Stage::Exec);
}

/// Runs the engine's events (reaps and deadlines) until `done` or 10 s.
fn drive(engine: &mut Engine<RealOs>, what: &str, mut done: impl FnMut(&mut Engine<RealOs>) -> bool) {
    let end = Instant::now() + Duration::from_secs(10);
    while !done(engine) {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        while let Some(r) = sys::reap_one() {
            engine.child_exited(r.pid, r.status);
        }
        engine.timer();
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn run_engine(dir: &Path) {
    let d = dir.display();
    let text = format!(
        "DefaultRunlevel default\n\
         ObjectID fork\nObjectStartCommand /bin/sleep 30\nObjectStartPriority 1\nObjectStopPriority 1\nObjectRunlevels default\n\
         ObjectOptions FORK\nObjectReloadCommand /bin/sh -c 'echo reload > {d}/reload'\n\
         ObjectID forkn\nObjectStartCommand /bin/sh -c 'echo forkn > {d}/forkn'\nObjectStartPriority 1\nObjectRunlevels default\n\
         ObjectOptions FORKN\n\
         ObjectID plain\nObjectPrestartCommand /bin/sh -c 'echo pre > {d}/pre'\n\
         ObjectStartCommand /bin/sh -c 'echo plain > {d}/plain'\nObjectStartPriority 2\nObjectStopPriority 1\nObjectRunlevels default\n\
         ObjectStopCommand /bin/sh -c 'echo stop > {d}/stop'\n"
    );
    std::fs::write(dir.join("epoch.conf"), text).unwrap();
    std::fs::create_dir_all(dir.join("ioc")).unwrap();
    let loaded = config::load(&dir.join("epoch.conf"), &LoadOptions { strict_epoch: false, ioc_dir: Some(dir.join("ioc")) });
    let config = loaded.config.unwrap_or_else(|| panic!("{:?}", loaded.diagnostics));
    let layout = Layout::resolve(false, Some(&dir.join("run")), None, Some(&dir.join("state")));
    let (plans, problems) = plan::build(&config, &layout);
    assert!(problems.is_empty(), "{problems:?}");
    let mut engine = Engine::new(RealOs::new(), config, plans, None);
    let (fork, forkn, plain) = (engine.find("fork").unwrap(), engine.find("forkn").unwrap(), engine.find("plain").unwrap());
    engine.boot(&BootOptions::default());
    drive(&mut engine, "the boot", |e| e.take_request() == Some(SystemRequest::Ready));
    assert_eq!(engine.object(fork).state, State::Running);
    assert_eq!(engine.object(forkn).state, State::Done);
    assert_eq!(engine.object(plain).state, State::Done);
    let file = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap_or_default();
    assert_eq!(file("pre"), "pre\n");
    assert_eq!(file("plain"), "plain\n");
    engine.reload(fork).unwrap();
    drive(&mut engine, "the reload command", |e| e.object(fork).reload.is_none());
    assert_eq!(file("reload"), "reload\n");
    engine.stop(plain).unwrap();
    drive(&mut engine, "the stop command", |e| e.object(plain).state == State::Stopped);
    assert_eq!(file("stop"), "stop\n");
    // Restart: a stop by signal, then a new FORK start.
    let old = engine.object(fork).main_pid;
    engine.restart(fork).unwrap();
    drive(&mut engine, "the restart", |e| e.object(fork).state == State::Running && e.object(fork).main_pid != old);
    engine.shutdown(Power::Poweroff);
    drive(&mut engine, "the shutdown", |e| e.take_request() == Some(SystemRequest::Power(Power::Poweroff)));
    assert_eq!(engine.object(fork).state, State::Stopped);
    assert_eq!(file("forkn"), "forkn\n");
}

#[test]
#[ignore = "run by no_spawn_path_forks in a child process, under seccomp"]
fn filtered_child() {
    let dir = PathBuf::from(std::env::var_os(CHILD_ENV).expect("run by no_spawn_path_forks"));
    install_filter();
    assert_filter_bites();
    spawn_directly(&dir);
    run_engine(&dir);
    println!("seccomp child: every path ran without fork");
}
