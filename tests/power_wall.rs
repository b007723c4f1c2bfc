//! `wall`: the message from its arguments or, when none is given, from its
//! standard input, written to the console and every pseudo-terminal
//! (src/cli/power.rs). Run in a mount namespace of its own, with a private
//! /dev/pts and a file bound over /dev/console, so that the host's terminals
//! see nothing. Needs root (CI runs as root).

mod ns;

use std::io::Write;
use std::process::{Command, Stdio};

use ns::{require_root, scratch};

/// Runs `wall ARGS` with `stdin` on its standard input; what the stand-in
/// console received.
fn wall(name: &str, args: &[&str], stdin: &[u8]) -> String {
    require_root();
    let dir = scratch(name);
    let console = dir.join("console");
    std::fs::write(&console, "").unwrap();
    let wall = dir.join("wall");
    std::os::unix::fs::symlink(ns::BIN, &wall).unwrap();
    let script = format!(
        "mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts /dev/pts && mount --bind {} /dev/console && exec {} \"$@\"",
        console.display(),
        wall.display()
    );
    let mut child = Command::new("unshare")
        .args(["--mount", "/bin/sh", "-c", &script, "wall"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("unshare");
    // wall given arguments may end before reading: a broken pipe is fine.
    let _ = child.stdin.take().unwrap().write_all(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "wall: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    std::fs::read_to_string(&console).unwrap()
}

#[test]
fn wall_reads_its_message_from_stdin() {
    let said = wall("wall-stdin", &[], b"first line\nsecond line\n");
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert!(said.starts_with(&format!("\r\nBroadcast message from root@{}:", host.trim_end())), "{said:?}");
    assert!(said.ends_with(":\r\n\r\nfirst line\r\nsecond line\r\n\r\n"), "{said:?}");
}

#[test]
fn wall_prefers_its_arguments_to_stdin() {
    let said = wall("wall-args", &["from", "arguments"], b"from stdin\n");
    assert!(said.ends_with(":\r\n\r\nfrom arguments\r\n\r\n"), "{said:?}");
}
