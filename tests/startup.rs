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
