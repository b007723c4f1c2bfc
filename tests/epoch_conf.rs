//! Epoch compliance of the configuration language, with the real binary as
//! PID 1 of a PID namespace (issue 12): commands that need a shell get one,
//! values may start with `=`, the globals Epoch accepts after objects boot
//! with a warning, and a configuration of more runlevels than iocinit can
//! hold is refused with the line that names one too many.

mod ns;

use std::time::Duration;

use ns::{scratch, write, Pid1};

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
