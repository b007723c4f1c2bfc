//! The program's own start-up (src/main.rs: a C `main`, no std runtime
//! start-up): what std's start-up did for it still holds, on the real binary.

mod ns;

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use ns::{scratch, write, Pid1, BIN};

/// Runs the binary called as `name` with `args`, its fd 0 closed.
fn run_without_stdin(name: &str, args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new(BIN);
    cmd.arg0(name).args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
    // SAFETY: close(2) only, between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::close(0);
            Ok(())
        });
    }
    cmd.output().unwrap()
}

#[test]
fn a_closed_standard_descriptor_is_dev_null() {
    // /dev/stdin is fd 0: without it the file does not exist; on /dev/null
    // it is an empty configuration.
    let out = run_without_stdin("iocinit", &["check-config", "--config", "/dev/stdin"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/dev/stdin:0: no DefaultRunlevel"), "fd 0 not opened on /dev/null:\n{err}");
}

#[test]
fn messages_name_the_program_as_called() {
    let out = run_without_stdin("epoch", &["--socket", "/nonexistent/iocinit.sock", "status"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("epoch: iocinit is not running"), "{err}");
    assert_eq!(out.status.code(), Some(3), "{err}");
}

#[test]
fn pid1_ignores_sigpipe() {
    let dir = scratch("startup-sigpipe");
    write(&dir, "epoch.conf", "DefaultRunlevel default\n");
    let mut p = Pid1::boot(&dir, &[]);
    let status = p.sh("grep SigIgn /proc/1/status");
    let ignored = String::from_utf8_lossy(&status.stdout);
    let mask = u64::from_str_radix(ignored.trim().trim_start_matches("SigIgn:").trim(), 16).unwrap();
    assert_ne!(mask & 1 << (libc::SIGPIPE - 1), 0, "{ignored}");
    let fds = p.fds_at_rest();
    p.assert_healthy(fds);
}

/// PID 1 catches SIGILL and SIGTRAP (src/trap.rs: a panic of the static
/// builds is a trap, and it tells where). A process sending one is no trap:
/// the kernel drops it, as it did with the default action (init ignores
/// what it does not catch), PID 1 says nothing of a trap and catches them
/// again for the next.
#[test]
fn pid1_catches_the_trap_signals_and_one_sent_to_it_is_no_trap() {
    let dir = scratch("startup-trap");
    write(&dir, "epoch.conf", "DefaultRunlevel default\n");
    let mut p = Pid1::boot(&dir, &[]);
    let traps: u64 = 1 << (libc::SIGILL - 1) | 1 << (libc::SIGTRAP - 1);
    let caught = |p: &Pid1| {
        let status = p.sh("grep SigCgt /proc/1/status");
        let caught = String::from_utf8_lossy(&status.stdout);
        u64::from_str_radix(caught.trim().trim_start_matches("SigCgt:").trim(), 16).unwrap()
    };
    assert_eq!(caught(&p) & traps, traps);
    let sent = p.sh("kill -ILL 1 && kill -TRAP 1");
    assert!(sent.status.success(), "{}", String::from_utf8_lossy(&sent.stderr));
    assert!(ns::wait_for(std::time::Duration::from_secs(5), || caught(&p) & traps == traps), "the reporter is not back in place");
    assert!(p.alive());
    assert!(!p.said().contains("trap at"), "{}", p.said());
    let fds = p.fds_at_rest();
    p.assert_healthy(fds);
}
