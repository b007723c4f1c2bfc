//! `reexec`: the supervisor replaces its own image (after an upgrade of
//! /sbin/init, say) without stopping anything. Its run-time state goes into
//! a memfd as versioned text, the listening control socket stays open, and
//! the children stay children: the new image adopts both and carries on.
//!
//! Refused while anything is in transition (a start, stop or helper command
//! in flight), so no event is lost across the exec, and refused when the
//! configuration does not load (the reply lists its errors): the new image
//! reads it again. Should it still fail there (edited between the check and
//! the exec, or refused by a stricter new binary), the new image runs on a
//! [`skeleton`] of the handed-over state: never an emergency shell, which
//! would leave the control socket unserved and the children's exits unseen.

use std::fmt::Write as _;
use std::io::{Seek, Write};
use std::os::fd::{AsRawFd, OwnedFd};

use crate::config::{Config, Object, Runlevel, StopMethod};
use crate::control::server::Server;
use crate::daemon::Options;
use crate::engine::object::{ObjState, Outcome, State};
use crate::engine::os::RealOs;
use crate::engine::Engine;
use crate::sys::{ExitStatus, SignalFd};

const HEADER: &str = "iocinit-state 1";

fn outcome_name(o: Option<Outcome>) -> &'static str {
    match o {
        None => "-",
        Some(Outcome::Done) => "done",
        Some(Outcome::Warn) => "warn",
        Some(Outcome::Fail) => "fail",
    }
}

/// The engine's run-time state as text, one object per line.
pub fn serialize(engine: &Engine<RealOs>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{HEADER}");
    let _ = writeln!(out, "runlevel {}", engine.runlevel().unwrap_or("-"));
    for (o, st) in engine.config().objects.iter().zip(engine.objects()) {
        let _ = write!(
            out,
            "object {} {} {} {} {} {} {} {} {} {} {} ",
            o.id,
            st.state.name(),
            st.main_pid.unwrap_or(0),
            st.since_ms,
            st.since_wall,
            st.restarts,
            st.fast_failures,
            st.enabled as u8,
            st.runlevels,
            st.wanted as u8,
            outcome_name(st.outcome)
        );
        // The last exit, written in place rather than made a String first.
        let _ = match st.last_exit {
            None => writeln!(out, "-"),
            Some(ExitStatus::Exited(c)) => writeln!(out, "e{c}"),
            Some(ExitStatus::Signaled(s)) => writeln!(out, "s{s}"),
        };
    }
    out
}

/// Applies serialized state to a freshly built engine, matching by ID.
pub fn apply(engine: &mut Engine<RealOs>, text: &str) -> Result<(), String> {
    let mut lines = text.lines();
    if lines.next() != Some(HEADER) {
        return Err("state from an incompatible iocinit".into());
    }
    let mut runlevel = None;
    for line in lines {
        let w: Vec<&str> = line.split_ascii_whitespace().collect();
        match w.as_slice() {
            ["runlevel", name] => runlevel = Some(name.to_string()).filter(|n| n != "-"),
            ["object", id, state, pid, since_ms, since_wall, restarts, fast, enabled, rls, wanted, outcome, exit] => {
                let Some(i) = engine.find(id) else {
                    crate::logging::warn!("reexec: object {id} is no longer configured");
                    continue;
                };
                let mut st: ObjState = engine.object(i).clone();
                st.state = State::from_name(state).ok_or_else(|| format!("bad state {state}"))?;
                st.main_pid = crate::sys::parse_i32(pid).filter(|&p| p > 0);
                st.since_ms = since_ms.parse().unwrap_or(0);
                st.since_wall = since_wall.parse().unwrap_or(0);
                st.restarts = restarts.parse().unwrap_or(0);
                st.fast_failures = fast.parse().unwrap_or(0);
                st.enabled = *enabled == "1";
                st.runlevels = rls.parse().unwrap_or(st.runlevels);
                st.wanted = *wanted == "1";
                st.outcome = match *outcome {
                    "done" => Some(Outcome::Done),
                    "warn" => Some(Outcome::Warn),
                    "fail" => Some(Outcome::Fail),
                    _ => None,
                };
                st.last_exit = match exit.split_at(exit.len().min(1)) {
                    ("e", c) => c.parse().ok().map(ExitStatus::Exited),
                    ("s", s) => crate::sys::parse_i32(s).map(ExitStatus::Signaled),
                    _ => None,
                };
                engine.restore_object(i, st);
            }
            _ => return Err(format!("unreadable state line: {line}")),
        }
    }
    engine.restore_system(runlevel.as_deref());
    Ok(())
}

/// The new image: the state the old one handed over (read once, for
/// [`skeleton`] and [`restore`]); empty, and logged, if it cannot be read.
pub fn read_state(state: OwnedFd) -> String {
    let mut file = std::fs::File::from(state);
    let _ = file.rewind();
    // Not `File::read_to_string`, std's override for `File` (712 bytes of
    // armv7 code): `files` reads through the loop the program's other reads
    // to the end use.
    crate::files::text_of(&mut file).unwrap_or_else(|e| {
        crate::logging::error!("reexec: the handed-over state cannot be read: {e}");
        String::new()
    })
}

/// The new image: adopt the handed-over state.
pub fn restore(engine: &mut Engine<RealOs>, state: &str) {
    match apply(engine, state) {
        Ok(()) => crate::logging::info!("re-executed; {} objects adopted", engine.objects().len()),
        Err(e) => crate::logging::error!("reexec: {e}; continuing with what could be adopted"),
    }
}

/// The configuration of a new image that cannot load the real one: the
/// handed-over state alone. Each object keeps its ID, its process and
/// the runlevel; it can be stopped (its process is signalled) but not
/// started (it has no command). A `configreload` that succeeds brings the
/// real configuration, which takes the objects over by ID as usual.
pub fn skeleton(state: &str) -> Config {
    let mut config = Config::default();
    for line in state.lines() {
        match line.split_ascii_whitespace().collect::<Vec<_>>().as_slice() {
            ["runlevel", name] if *name != "-" => {
                config.globals.default_runlevel = name.to_string();
                config.runlevels.push(Runlevel { name: name.to_string(), inherits: Vec::new() });
            }
            ["object", id, ..] => config.objects.push(Object {
                id: (*id).into(),
                description: (*id).into(),
                stop: StopMethod::Pid,
                stop_priority: 1,
                enabled: true,
                ..Object::default()
            }),
            _ => {}
        }
    }
    config
}

fn clear_cloexec(fd: i32) -> nix::Result<()> {
    crate::sys::fcntl(fd, libc::F_SETFD, 0).map(|_| ()).map_err(nix::errno::Errno::from_raw)
}

/// The old image: hand everything over and exec. Returns only on failure,
/// with the reason.
pub fn reexec(opts: &Options, engine: &mut Engine<RealOs>, server: &Server, _signals: &SignalFd) -> String {
    if !engine.quiescent() {
        return "busy: an object is starting or stopping; try again".into();
    }
    if let Err(errors) = crate::daemon::check_config(opts, "the configuration has errors, not re-executing: ") {
        return errors;
    }
    let Some(exe) = crate::pid1::own_executable() else { return "cannot find my own executable".into() };
    let state = match nix::sys::memfd::memfd_create(c"iocinit-state", nix::sys::memfd::MemFdCreateFlag::empty()) {
        Ok(fd) => fd,
        Err(e) => return format!("memfd: {}", crate::sys::errno_text(e as i32)),
    };
    let mut file = std::fs::File::from(state);
    if let Err(e) = file.write_all(serialize(engine).as_bytes()) {
        return format!("writing state: {e}");
    }
    let Some(listener) = server.listener_fd() else { return "there is no control socket to hand over".into() };
    if let Err(e) = clear_cloexec(listener) {
        return format!("listener: {}", crate::sys::errno_text(e as i32));
    }
    let mut args: Vec<String> = vec![exe.to_string_lossy().into_owned(), "--resume".into(), format!("{}:{}", file.as_raw_fd(), listener)];
    // Each path option through one loop: a `to_string` inlined per path
    // was armv7 code of its own.
    let layout = &opts.layout;
    let paths = [
        ("--config", &opts.config),
        ("--run-dir", &layout.run_dir),
        ("--state-dir", &layout.state_dir),
        ("--socket", &layout.control_socket),
        ("--system-log", &layout.system_log),
    ];
    for (option, path) in paths.into_iter().chain(opts.ioc_dir.as_ref().map(|dir| ("--ioc-dir", dir))) {
        args.extend([option.into(), path.to_string_lossy().into_owned()]);
    }
    if opts.strict_epoch {
        args.push("--strict-epoch".into());
    }
    if opts.layout.local {
        args.push("--local".into());
    }
    let env = crate::spawn::utf8_environment(&mut |name| crate::logging::warn!("reexec: dropping environment variable {} (not UTF-8)", crate::logging::Quoted::os(name)));
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let err = match crate::spawn::Command::new(&argv, &env) {
        Ok(cmd) => {
            crate::logging::info!("re-executing {}", exe.to_string_lossy());
            crate::logging::flush_console(crate::logging::EXEC_FLUSH_MS);
            crate::spawn::exec(&cmd)
        }
        Err(_) => libc::EINVAL,
    };
    let _ = crate::sys::fcntl(listener, libc::F_SETFD, libc::FD_CLOEXEC);
    format!("exec: {}", crate::sys::errno_text(err))
}
