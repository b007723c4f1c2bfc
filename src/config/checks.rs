//! The rules that look at more than one line: combinations within an object
//! (PIVOT with EXEC, HALTONLY with a start command, ...) and across the whole
//! configuration (the default runlevel must exist and be used). Pure
//! functions: a model in, findings out.

use super::attributes::{GlobalsDraft, ObjectLines};
use super::iocfile::valid_ioc_name;
use super::model::{Location, Object, Runlevels, StopMethod};
use super::options::{self, id, OptionId};
use super::Severity;
use crate::logging::Quoted;

/// One problem found by a check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Finding {
    pub severity: Severity,
    pub at: Location,
    pub message: String,
}

const HALTONLY: OptionId = id("HALTONLY");
const PROCSERV: OptionId = id("PROCSERV");

/// Options that cannot be combined on one object.
const EXCLUSIVE: &[(OptionId, OptionId)] = &[
    (id("PIVOT"), id("EXEC")),
    (id("PIVOT"), id("HALTONLY")),
    (id("EXEC"), id("HALTONLY")),
    (id("FORK"), id("FORKN")),
    (id("PROCSERV"), id("FORK")),
    (id("PROCSERV"), id("FORKN")),
    (id("PROCSERV"), id("PIVOT")),
    (id("PROCSERV"), id("EXEC")),
    (id("PROCSERV"), id("HALTONLY")),
    (id("PROCSERV"), id("SERVICE")),
];

/// Options that work together badly: a warning, as the seed words it.
const DISCOURAGED: &[(OptionId, OptionId, &str)] = &[
    (id("FORK"), id("SERVICE"), "SERVICE with FORK causes PID tracking failures and false autorestarts: use one of them"),
    (id("NOSTOPWAIT"), id("STOPTIMEOUT"), "STOPTIMEOUT has no effect with NOSTOPWAIT"),
];

/// Options that still mean something on PIVOT and EXEC objects (the others
/// "prove useless or draw warnings"; the exclusive ones are errors already).
const KEPT_BY_PIVOT_EXEC: &[OptionId] = &[id("RAWDESCRIPTION"), id("STARTFAILCRITICAL"), id("PIVOT"), id("EXEC"), id("HALTONLY"), id("PROCSERV")];

/// Options that mean nothing on an object that only runs at shutdown.
const USELESS_ON_HALTONLY: &[OptionId] = &[id("AUTORESTART"), id("PERSISTENT"), id("STARTFAILCRITICAL")];

struct Findings<'a> {
    file: usize,
    list: &'a mut Vec<Finding>,
}

impl Findings<'_> {
    fn add(&mut self, severity: Severity, line: u32, message: String) {
        self.list.push(Finding { severity, at: Location { file: self.file, line }, message });
    }
    fn error(&mut self, line: u32, message: String) {
        self.add(Severity::Error, line, message);
    }
    fn warning(&mut self, line: u32, message: String) {
        self.add(Severity::Warning, line, message);
    }
}

/// The options of [`EXCLUSIVE`] and [`DISCOURAGED`], as bits
/// ([`options::bit`]): an object that sets fewer than two of them has no
/// pair of them to look for.
const PAIRED: u32 = {
    let (mut bits, mut i) = (0, 0);
    while i < EXCLUSIVE.len() {
        bits |= options::bit(EXCLUSIVE[i].0) | options::bit(EXCLUSIVE[i].1);
        i += 1;
    }
    let mut i = 0;
    while i < DISCOURAGED.len() {
        bits |= options::bit(DISCOURAGED[i].0) | options::bit(DISCOURAGED[i].1);
        i += 1;
    }
    bits
};

/// Checks one finished object, adding what it finds to `found`; lines
/// point at the attribute or option at fault. `lines`: what the parser
/// noted of `o`'s lines. Most objects have nothing to report: a list of
/// the caller's, not one made (and dropped) per object.
pub(crate) fn object(o: &Object, lines: &ObjectLines, strict: bool, found: &mut Vec<Finding>) {
    let options = &o.options;
    let id = &o.id;
    let id_line = o.location.line;
    let line_of = |attribute: &str| lines.line_of(attribute).unwrap_or(id_line);
    let mut f = Findings { file: o.location.file, list: found };

    // A dozen pairs, and most objects set none of them, or one: a test of
    // their bits, not a look-up of each pair.
    if lines.sets_two_of(PAIRED) {
        for &(a, b) in EXCLUSIVE {
            if let (Some(line_a), Some(line_b)) = (lines.option_line(a), lines.option_line(b)) {
                let (a, b) = (options::name(a), options::name(b));
                f.error(line_a.max(line_b), format!("options {a} and {b} exclude each other on object {id}: expected only one of them"));
            }
        }
        for &(a, b, why) in DISCOURAGED {
            if let (Some(line_a), Some(line_b)) = (lines.option_line(a), lines.option_line(b)) {
                f.warning(line_a.max(line_b), format!("object {id}: {why}"));
            }
        }
    }

    if options.halt_only {
        let halt_line = lines.option_line(HALTONLY).unwrap_or(id_line);
        if o.start.is_some() {
            f.error(
                line_of("ObjectStartCommand"),
                format!("ObjectStartCommand on HALTONLY object {id}: expected none (a HALTONLY object runs its ObjectStopCommand at shutdown)"),
            );
        }
        // Every stop method that acts without a process of the object's own
        // is what a HALTONLY object runs at shutdown: a command, PIDFILE, or
        // KILLALL5 (Epoch's shutdown sweep). PID has no process to signal.
        match o.stop {
            StopMethod::None => f.error(
                halt_line,
                format!("HALTONLY object {id} has no stop command: expected ObjectStopCommand with what to run at shutdown (a command, PIDFILE or KILLALL5)"),
            ),
            StopMethod::Pid => f.error(
                line_of("ObjectStopCommand"),
                format!("HALTONLY object {id} has no process for ObjectStopCommand PID to signal: expected a command, PIDFILE or KILLALL5"),
            ),
            StopMethod::Command(_) | StopMethod::PidFile(_) | StopMethod::Killall5 { .. } => {}
        }
        if lines.line_of("ObjectStartPriority").is_some() && o.start_priority > 0 {
            f.warning(line_of("ObjectStartPriority"), format!("ObjectStartPriority has no effect on HALTONLY object {id}"));
        }
        for &(option, line) in lines.option_lines.iter().filter(|(n, _)| USELESS_ON_HALTONLY.contains(n)) {
            f.warning(line, format!("option {} has no effect on HALTONLY object {id}", options::name(option)));
        }
    } else if o.start.is_none() {
        f.error(id_line, format!("object {id} has no ObjectStartCommand: expected one, or ObjectOptions HALTONLY for an object that only runs at shutdown"));
    }

    // Few objects are either: no walk of the two kinds for the others.
    if options.pivot || options.exec {
        for (kind, set) in [("PIVOT", options.pivot), ("EXEC", options.exec)] {
            if !set {
                continue;
            }
            if o.stop != StopMethod::None {
                f.error(line_of("ObjectStopCommand"), format!("{kind} object {id} may not have a stop command: expected no ObjectStopCommand, or NONE"));
            }
            for &(option, line) in lines.option_lines.iter().filter(|(n, _)| !KEPT_BY_PIVOT_EXEC.contains(n)) {
                f.warning(line, format!("option {} has no effect on {kind} object {id}", options::name(option)));
            }
            if o.rare().pid_file.is_some() {
                f.warning(line_of("ObjectPIDFile"), format!("ObjectPIDFile has no effect on {kind} object {id}"));
            }
        }
    }
    if let (true, Some(start)) = (options.pivot, &o.start) {
        if super::values::words(start).count() != 2 {
            f.error(
                line_of("ObjectStartCommand"),
                format!("PIVOT object {id}: expected ObjectStartCommand=NEWROOT PUTOLD (the new root and where the old one goes), got {}", Quoted::text(start)),
            );
        }
    }

    if matches!(o.stop, StopMethod::PidFile(None)) && o.rare().pid_file.is_none() {
        f.error(line_of("ObjectStopCommand"), format!("object {id}: PIDFILE without a path: expected `PIDFILE /path` or an ObjectPIDFile"));
    }
    if options.procserv && !valid_ioc_name(id) {
        f.error(
            lines.option_line(PROCSERV).unwrap_or(id_line),
            format!("PROCSERV object {}: its ObjectID names the console, expected [A-Za-z0-9_][A-Za-z0-9_-]{{0,63}}", Quoted::text(id)),
        );
    }
    if strict && o.enabled_line.is_none() {
        f.error(id_line, format!("object {id} has no ObjectEnabled: Epoch requires ObjectEnabled true or false (--strict-epoch)"));
    }
    if !options.halt_only && o.start_priority > 0 && o.runlevels.is_empty() {
        f.warning(id_line, format!("object {id} has no ObjectRunlevels: it is never started at boot or by runlevel changes, only by hand"));
    }
}

/// Checks the whole configuration once every object is known. `ioc_runlevels`
/// are the runlevels the IOC files' objects will have (empty under --strict-epoch,
/// where only Epoch's own objects count).
pub(crate) fn config(globals: &GlobalsDraft, objects: &[Object], ioc_runlevels: &[String]) -> Vec<Finding> {
    let mut list = Vec::new();
    let mut f = Findings { file: 0, list: &mut list };
    let default = &globals.globals.default_runlevel;
    // Epoch counts a runlevel as used when a non-HALTONLY object is in it.
    let member_lists: Vec<&Runlevels> = objects.iter().filter(|o| !o.options.halt_only).map(|o| &o.runlevels).collect();
    let has_objects = |runlevel: &str| {
        member_lists.iter().any(|list| list.iter().any(|r| r == runlevel)) || ioc_runlevels.iter().any(|r| r == runlevel)
    };
    let used = |runlevel: &str| {
        has_objects(runlevel) || globals.inherits.iter().any(|i| i.runlevel == runlevel && has_objects(&i.inherited))
    };

    match globals.location_of("DefaultRunlevel") {
        None => f.error(0, "no DefaultRunlevel: expected e.g. `DefaultRunlevel default` before the first ObjectID".into()),
        // An empty default means its line had an error already.
        Some(at) if !default.is_empty() && !used(default) => f.list.push(Finding {
            severity: Severity::Error,
            at,
            message: format!("DefaultRunlevel {default}: no object is in this runlevel, expected at least one (ObjectRunlevels {default})"),
        }),
        Some(_) => {}
    }
    for i in globals.inherits.iter().filter(|i| !has_objects(&i.inherited)) {
        f.list.push(Finding {
            severity: Severity::Warning,
            at: i.at,
            message: format!("RunlevelInherits {} {}: no object is in runlevel {}", i.runlevel, i.inherited, i.inherited),
        });
    }
    list
}
