//! `check-config`: exit status, diagnostics on stderr, and the `--json` model.

mod common;

use std::path::Path;

use common::*;
use iocinit::cli::check_config::{report, run};
use iocinit::config::{load_with, LoadOptions, MemFs};
use serde_json::Value;

const CONFIG: &str = "\
DefaultRunlevel gui
RunlevelInherits gui multiuser
DefinePriority net 2
Hostname board
MountVirtual procfs sysfs+
GlobalEnvVar PATH=/bin:/sbin
StatusNames FAIL,OK,WARN
ObjectID mount
ObjectDescription Mounting \"everything\"
ObjectStartCommand mount -a
ObjectStartPriority 1
ObjectRunlevels multiuser
ObjectOptions RAWDESCRIPTION MAPEXITSTATUS=32,WARNING
ObjectID net
ObjectStartCommand ifup -a
ObjectStopCommand KILLALL5 15 2
ObjectStartPriority net
ObjectStopPriority 5
ObjectRunlevels gui
ObjectID save
ObjectStopCommand /sbin/save-state
ObjectStopPriority 1
ObjectOptions HALTONLY
";

fn check(files: &MemFs, json: bool) -> (i32, String, String) {
    let loaded = load_with(files, Path::new(MAIN), &LoadOptions::default());
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let status = report(&loaded, json, &mut out, &mut err);
    (status, String::from_utf8(out).unwrap(), String::from_utf8(err).unwrap())
}

fn ids(list: &Value) -> Vec<&str> {
    list.as_array().unwrap().iter().map(|v| v.as_str().or_else(|| v["id"].as_str()).unwrap()).collect()
}

#[test]
fn a_valid_configuration_exits_0_and_dumps_the_model() {
    let files = MemFs::new().with(MAIN, CONFIG).with("/etc/procServ.d/vac1.conf", "IOC_NAME=vac1\nIOC_CMD=./st.cmd\n");
    let (status, out, err) = check(&files, true);
    assert_eq!((status, err.as_str()), (0, ""));
    let json: Value = serde_json::from_str(&out).expect("valid JSON");
    assert_eq!(json["valid"], true);
    assert_eq!(json["files"], serde_json::json!(["/etc/epoch/epoch.conf", "/etc/procServ.d/vac1.conf"]));
    let g = &json["globals"];
    assert_eq!(g["default_runlevel"], "gui");
    assert_eq!(g["hostname"]["text"], "board");
    assert_eq!(g["mount_virtual"][1], serde_json::json!({"fs": "sysfs", "create_dir": true}));
    assert_eq!(g["status_names"]["ok"], "OK");
    assert_eq!(g["priorities"][0], serde_json::json!({"name": "net", "priority": 2}));
    assert_eq!(g["ioc"]["directory"], "/etc/procServ.d");
    let objects = json["objects"].as_array().unwrap();
    assert_eq!(objects[0]["description"], "Mounting \"everything\"");
    assert_eq!(objects[0]["options"]["RAWDESCRIPTION"], true);
    assert_eq!(objects[0]["options"]["MAPEXITSTATUS"][0], serde_json::json!({"code": 32, "result": "WARNING"}));
    assert_eq!(objects[1]["stop"], serde_json::json!({"method": "KILLALL5", "signal": 15, "wait_secs": 2}));
    assert_eq!(objects[1]["start_priority"], 2);
    assert_eq!((objects[1]["file"].as_str(), objects[1]["line"].as_u64()), (Some("/etc/epoch/epoch.conf"), Some(14)));
    assert_eq!(objects[3]["console"]["socket"], "/run/procserv/vac1/control");
    assert_eq!(objects[3]["start_priority"], 3);
    let gui = &json["runlevels"][0];
    assert_eq!(gui["name"], "gui");
    assert_eq!(ids(&gui["objects"]), vec!["net", "vac1"]);
    assert_eq!(ids(&gui["effective"]), vec!["mount", "net", "vac1"]);
    assert_eq!(json["start_order"]["runlevel"], "gui");
    // An installed IOC starts at boot only once enabled (IocEnabled false).
    assert_eq!(ids(&json["start_order"]["objects"]), vec!["mount", "net"]);
    assert_eq!(ids(&json["stop_order"]), vec!["save", "vac1", "net"]);
    assert_eq!(json["diagnostics"], serde_json::json!([]));
}

#[test]
fn errors_go_to_stderr_and_exit_1() {
    let files = MemFs::new().with(MAIN, "DefaultRunlevel default\nObjectID a\nObjectStartCommand x\nObjectRunlevels default\nObjectOptions FORKK\n");
    let (status, out, err) = check(&files, true);
    assert_eq!(status, 1);
    assert!(err.starts_with("/etc/epoch/epoch.conf:5: ObjectOptions: unknown option \"FORKK\""), "{err}");
    let json: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["valid"], false);
    assert_eq!(json["diagnostics"][0]["line"], 5);
    assert_eq!(json["diagnostics"][0]["severity"], "error");
    assert!(json.get("objects").is_none(), "no model for an unusable configuration");
}

#[test]
fn warnings_print_but_exit_0() {
    let files = MemFs::new().with(MAIN, "DefaultRunlevel default\nObjectID a\nObjectStartCommand x\nObjectRunlevels default\nObjectOptions FORK SERVICE\n");
    let (status, out, err) = check(&files, false);
    assert_eq!((status, out.as_str()), (0, ""));
    assert!(err.starts_with("/etc/epoch/epoch.conf:5: warning: object a: SERVICE with FORK"), "{err}");
}

#[test]
fn a_bad_ioc_file_fails_the_check_but_keeps_the_model() {
    let files = MemFs::new().with(MAIN, CONFIG).with("/etc/procServ.d/vac1.conf", "IOC_NAME=vac1\n");
    let (status, out, err) = check(&files, true);
    assert_eq!(status, 1);
    assert!(err.contains("/etc/procServ.d/vac1.conf:0: IOC_CMD missing"), "{err}");
    let json: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["valid"], false);
    assert_eq!(json["objects"].as_array().unwrap().len(), 3);
}

#[test]
fn run_reads_the_real_filesystem() {
    let dir = TempDir::new("check-config");
    let main = dir.write("epoch.conf", "DefaultRunlevel default\nObjectID a\nObjectStartCommand x\nObjectRunlevels default\nObjectEnabled true\n");
    dir.write("iocs/b.conf", "IOC_NAME=b\nIOC_CMD=x\n");
    assert_eq!(run(&main, Some(&dir.path("iocs")), true, false), 0);
    assert_eq!(run(&dir.path("missing.conf"), None, false, false), 1);
}
