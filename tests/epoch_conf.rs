//! Epoch compliance of the configuration language, with the real binary as
//! PID 1 of a PID namespace and as `check-config` (issue 12): commands that
//! need a shell get one, values may start with `=`, the globals Epoch
//! accepts after objects boot with a warning, a configuration of more
//! runlevels than iocinit can hold is refused at the line that names one too
//! many, and shared priorities (concurrent here, sequential in Epoch) get a
//! note.

mod ns;

use std::time::Duration;

use ns::{ok, scratch, write, Pid1};

const T: Duration = Duration::from_secs(10);

/// `!` and `:` are in Epoch's set of shell characters: such a command runs
/// through /bin/sh, and the shell's verdict is the start's.
#[test]
fn commands_with_shell_characters_go_through_the_shell() {
    let dir = scratch("econf-shell");
    write(
        &dir,
        "epoch.conf",
        "DefaultRunlevel default\n\
         ObjectID negated_false\nObjectStartCommand ! /bin/false\nObjectStartPriority 1\nObjectRunlevels default\n\
         ObjectID negated_true\nObjectStartCommand ! /bin/true\nObjectStartPriority 1\nObjectRunlevels default\n\
         ObjectID null\nObjectStartCommand : nothing to do\nObjectStartPriority 1\nObjectRunlevels default\n",
    );
    let p = Pid1::boot(&dir, &[]);
    p.wait_console("iocinit: ready", T);
    assert_eq!(p.state("negated_false"), "done", "{}", p.status("negated_false"));
    assert_eq!(p.state("null"), "done", "{}", p.status("null"));
    // The shell ran `! /bin/true`: exit code 1, not "unable to execute !".
    assert_eq!(p.state("negated_true"), "failed");
    assert_eq!(p.status("negated_true")["note"], "start command: exit code 1");
    assert!(!p.said().contains("unable to exec"), "{}", p.said());
    p.poweroff();
}

/// `iocinit check-config` on `dir/epoch.conf`: its exit status and stderr.
fn check_config(dir: &std::path::Path, extra: &[&str]) -> (i32, String) {
    let out = std::process::Command::new(ns::BIN)
        .args(["check-config", "--config"])
        .arg(dir.join("epoch.conf"))
        .arg("--ioc-dir")
        .arg(dir.join("no-iocs"))
        .args(extra)
        .output()
        .expect("check-config");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Blanks are Epoch's delimiter: after them a value may start with `=`.
#[test]
fn a_value_may_start_with_equals_after_blanks() {
    let dir = scratch("econf-equals");
    write(
        &dir,
        "epoch.conf",
        "DefaultRunlevel default\nBootBannerText ==== Welcome ====\n\
         ObjectID net\nObjectDescription ==> net <==\nObjectStartCommand /bin/true\nObjectStartPriority 1\n\
         ObjectRunlevels default\nObjectEnabled true\n",
    );
    // Epoch's own syntax: --strict-epoch accepts it too.
    assert_eq!(check_config(&dir, &["--strict-epoch"]), (0, String::new()));
    let p = Pid1::boot(&dir, &[]);
    p.wait_console("iocinit: ready", T);
    let console = p.console();
    assert!(console.lines().any(|l| l == "==== Welcome ===="), "{console}");
    assert!(console.contains("Starting ==> net <== ... Done"), "{console}");
    p.poweroff();
}

/// MountVirtual, BootBannerText and BootBannerColor after an object: Epoch
/// takes them anywhere (bad practice, says the seed): a warning, and the boot
/// uses them.
#[test]
fn globals_epoch_takes_after_objects_boot_with_a_warning() {
    let dir = scratch("econf-late-globals");
    write(
        &dir,
        "epoch.conf",
        "DefaultRunlevel default\n\
         ObjectID a\nObjectStartCommand /bin/true\nObjectStartPriority 1\nObjectRunlevels default\nObjectEnabled true\n\
         MountVirtual procfs\nBootBannerText Late banner\nBootBannerColor GREEN\n",
    );
    let conf = dir.join("epoch.conf");
    let (status, stderr) = check_config(&dir, &["--strict-epoch"]);
    assert_eq!(status, 0, "{stderr}");
    for (line, name) in [(7, "MountVirtual"), (8, "BootBannerText"), (9, "BootBannerColor")] {
        let warning = format!("{}:{line}: warning: {name} after the first ObjectID", conf.display());
        assert!(stderr.contains(&warning), "no {warning:?} in:\n{stderr}");
    }
    let p = Pid1::boot(&dir, &[]);
    p.wait_console("iocinit: ready", T);
    let console = p.console();
    assert!(console.contains("\x1b[32mLate banner\x1b[0m"), "{console}");
    assert!(console.contains(&format!("{}:8: warning: BootBannerText after the first ObjectID", conf.display())), "{console}");
    assert_eq!(p.state("a"), "done");
    p.poweroff();
}

/// iocinit holds at most 64 runlevels (Epoch has no limit): a configuration
/// naming more is refused at the line that names one too many, by
/// check-config (--strict-epoch too: it is not an extension, iocinit cannot
/// run it) and by PID 1, which keeps its emergency shell until the file is
/// fixed. With 64, the 64th runlevel works.
#[test]
fn more_runlevels_than_iocinit_holds_are_refused_at_the_line() {
    let dir = scratch("econf-runlevels");
    let config = |late: &str| {
        let all: Vec<String> = (0..64).map(|i| format!("rl{i}")).collect();
        format!(
            "DefaultRunlevel rl0\n\
             ObjectID a\nObjectStartCommand /bin/true\nObjectStartPriority 1\nObjectRunlevels {}\n\
             ObjectID late\nObjectStartCommand /bin/true\nObjectRunlevels {late}\nObjectStartPriority 1\nObjectEnabled true\n",
            all.join(" ")
        )
    };
    write(&dir, "epoch.conf", &config("rl64"));
    let refused = format!("{}:8: runlevel rl64 is one too many: the configuration names 65 runlevels, expected at most 64", dir.join("epoch.conf").display());
    for extra in [&[][..], &["--strict-epoch"][..]] {
        let (status, stderr) = check_config(&dir, extra);
        assert_eq!(status, 1, "{stderr}");
        assert!(stderr.contains(&refused), "no {refused:?} in:\n{stderr}");
    }
    let p = Pid1::spawn(&dir, &[], None);
    p.wait_console("*** emergency shell; exit it to continue", T);
    assert!(p.console().contains(&refused), "{}", p.console());

    write(&dir, "epoch.conf", &config("rl63"));
    p.wait_socket();
    p.wait_console("iocinit: ready", T);
    assert_eq!(p.state("late"), "stopped");
    ok(p.ctl(&["runlevel", "rl63"]));
    p.wait_state("late", "done", T);
    p.poweroff();
}

/// Objects of one priority start together in iocinit, one after another in
/// Epoch: check-config says so once, however many share one.
#[test]
fn check_config_notes_shared_priorities_once() {
    let dir = scratch("econf-shared-priority");
    let object = |id: &str| format!("ObjectID {id}\nObjectStartCommand /bin/true\nObjectStartPriority 1\nObjectStopPriority 1\nObjectRunlevels default\nObjectEnabled true\n");
    write(&dir, "epoch.conf", &format!("DefaultRunlevel default\n{}{}{}", object("a"), object("b"), object("c")));
    for extra in [&[][..], &["--strict-epoch"][..]] {
        let (status, stderr) = check_config(&dir, extra);
        assert_eq!(status, 0, "{stderr}");
        let note = format!("{}:8: note: objects a and b have the same ObjectStartPriority 1: iocinit starts", dir.join("epoch.conf").display());
        assert!(stderr.starts_with(&note) && stderr.lines().count() == 1, "{stderr}");
    }
}
