//! Findings of an adversarial audit of what PID 1 runs, after issue 8: ways
//! an untrusted input still made PID 1 allocate without bound. iocinit runs
//! as PID 1 of a PID namespace; the IOC directory is the group-writable one
//! docs/INSTALL.md sets up, written as a member of the IOC group would:
//! - an IOC file of nothing but bad lines gives a few diagnostics, not one
//!   per line for PID 1 to keep, log and count in its reply;
//! - an IOC directory filled with names is refused, not held in PID 1's
//!   memory name by name;
//! - a chain of processes deeper than PID 1 looked up the tree, started by
//!   any user, is still signalled at shutdown, not left running; so is one
//!   whose processes end while PID 1 looks up the tree.
//!
//! After each attack PID 1 is alive, answers, has no zombie and holds the
//! descriptors it held before.
//!
//! Needs root (CI runs as root).

mod ioc_support;
mod ns;
mod pty;

use std::path::Path;
use std::time::Duration;

use iocinit::control::client::Reply;
use iocinit::control::protocol::Code;
use ioc_support::*;
use ns::{write, Pid1};

/// The N of "rescanned with N problem(s)".
fn problems_counted(reply: &Reply) -> usize {
    let words: Vec<&str> = reply.message.split_whitespace().collect();
    let at = words.iter().position(|w| *w == "problem(s)").unwrap_or_else(|| panic!("no count in {:?}", reply.message));
    words[at - 1].parse().unwrap_or_else(|_| panic!("no count in {:?}", reply.message))
}

#[test]
fn ioc_files_of_bad_lines_give_a_few_diagnostics_each() {
    setup();
    let s = Scratch::new("audit-badlines");
    write(s.path(), "epoch.conf", &epoch_conf_logging(""));
    let ioc = group_writable_ioc_dir(s.path());
    let mut p = Pid1::boot(s.path(), &[]);
    let fds = p.fds_at_rest();

    // 64 KiB (the most PID 1 reads of an IOC file) of one-byte bad lines.
    const FILES: usize = 4;
    let flood = "x\n".repeat(32 << 10);
    for k in 0..FILES {
        write_as(&ioc.join(format!("flood{k}.conf")), &flood, MEMBER);
    }
    let reply = rescan(&p);
    assert_eq!(reply.code, Code::Warn, "{}", reply.message);
    // Per file: at most 16 listed, one line counting the rest, and the
    // note that the IOC is not started.
    let counted = problems_counted(&reply);
    assert!(counted <= FILES * 18, "{counted} problems for {FILES} files");
    let said = p.said();
    for k in 0..FILES {
        let file = format!("{}:0: ", ioc.join(format!("flood{k}.conf")).display());
        let summary = said.lines().any(|l| l.contains(&file) && l.contains("more problem(s) in this file are not listed"));
        assert!(summary, "the rest of {file} is not counted in the log");
    }
    p.assert_healthy(fds);
    p.poweroff();
}

#[test]
fn an_ioc_directory_filled_with_names_is_refused_not_held() {
    setup();
    let s = Scratch::new("audit-dirflood");
    write(s.path(), "epoch.conf", &epoch_conf_logging(""));
    let ioc = group_writable_ioc_dir(s.path());
    let mut p = Pid1::boot(s.path(), &[]);
    let fds = p.fds_at_rest();

    // Names that are no IOC files at all; a member could make millions
    // (hard links to one file cost a directory entry each).
    for k in 0..5000 {
        std::fs::File::create(ioc.join(format!("junk-{k:05}"))).unwrap();
    }
    let reply = rescan(&p);
    assert_eq!(reply.code, Code::Fail, "{}", reply.message);
    assert!(reply.message.contains("more than 4096 entries"), "{}", reply.message);
    p.assert_healthy(fds);
    p.poweroff();
}

/// Starts `chain 100` as a user outside every group, detached: the chain's
/// first shell is reparented to PID 1, and 100 levels follow it, `last` (a
/// command line) the last. Returns once `last` runs.
fn start_chain(p: &Pid1, chain: &Path, last: &str) {
    let detach = format!("setsid /bin/sh {} 100 </dev/null >/dev/null 2>&1 &", chain.display());
    let out = p.inside_as(OUTSIDER, "/bin/sh", &["-c", &detach]).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(ns::wait_for(Duration::from_secs(60), || p.find_process(last).is_some()), "{:?}", p.processes());
}

/// The number N of PID 1's "sent SIGTERM to N process(es)".
fn sigterm_count(console: &str) -> Option<usize> {
    console.lines().find_map(|l| l.strip_prefix("iocinit: sent SIGTERM to ")?.split(' ').next()?.parse().ok())
}

#[test]
fn a_deep_chain_of_processes_gets_the_shutdown_sigterm() {
    setup();
    let s = Scratch::new("audit-deepchain");
    write(s.path(), "epoch.conf", &epoch_conf_logging(""));
    // Each level ignores SIGTERM and waits for the next one; the last sleeps.
    let chain = ns::write_exec(
        s.path(),
        "chain.sh",
        "trap '' TERM\nif [ \"$1\" -gt 0 ]; then /bin/sh \"$0\" $(($1 - 1)); true; else exec /bin/sleep 1001; fi\n",
    );
    let mut p = Pid1::boot(s.path(), &[]);
    let fds = p.fds_at_rest();

    start_chain(&p, &chain, "sleep 1001");
    p.assert_healthy(fds);

    // Nothing ends on SIGTERM here, so every one of the 101 is there to get it.
    let console = p.poweroff();
    assert_eq!(sigterm_count(&console), Some(101), "SIGTERM at the shutdown did not reach every process of the chain:\n{console}");
    assert!(console.contains("all processes ended"), "processes were left at the power off:\n{console}");
}

#[test]
fn a_chain_ending_while_it_is_signalled_gets_the_shutdown_sigterm_whole() {
    setup();
    // Each level waits for the next one and ends on SIGTERM; the last sleeps.
    // Signalled top down, a shell may reap its child before it ends itself:
    // a process's ancestor is gone then while PID 1 walks up to it.
    let chain = "if [ \"$1\" -gt 0 ]; then /bin/sh \"$0\" $(($1 - 1)); true; else exec /bin/sleep 1002; fi\n";
    for round in 0..ns::rounds(3, 20) {
        let s = Scratch::new(&format!("audit-endingchain-{round}"));
        write(s.path(), "epoch.conf", &epoch_conf_logging(""));
        let script = ns::write_exec(s.path(), "chain.sh", chain);
        let p = Pid1::boot(s.path(), &[]);
        start_chain(&p, &script, "sleep 1002");
        let console = p.poweroff();
        assert_eq!(sigterm_count(&console), Some(101), "round {round}: SIGTERM did not reach every process of the chain:\n{console}");
        assert!(console.contains("all processes ended"), "round {round}: processes were left at the power off:\n{console}");
    }
}

