//! The power applets: `halt`, `reboot`, `poweroff` (`-f` for an immediate
//! reboot(2) without stopping anything, `-d SECS` to wait first), `shutdown
//! [-r|-h|-p|-c] [TIME] [MESSAGE]`, and Epoch's `killall5 [-SIGNAL]` and
//! `wall [MESSAGE]`.
//!
//! They ask PID 1 over the control socket; if it cannot be reached (an
//! emergency shell before the socket exists), they fall back to BusyBox's
//! signals to PID 1: SIGUSR1 halt, SIGTERM reboot, SIGUSR2 power off.

use std::io::Read;
use std::time::Duration;

use super::{Common, EXIT_FAIL, EXIT_OK, EXIT_USAGE};
use crate::accounts::{self, Key};
use crate::control::protocol::{Code, Verb};

pub fn main(name: &str, mut args: Vec<String>) -> i32 {
    let common = match Common::from_args(name, &mut args) {
        Ok(c) => c,
        Err(code) => return code,
    };
    match name {
        "shutdown" => shutdown(&common, &args),
        "killall5" => killall5(&args),
        "wall" => wall(&args),
        _ => applet(&common, name, &args),
    }
}

fn usage(name: &str) -> i32 {
    eprintln!("usage: {name} [-f] [-d SECONDS]\n  -f  now: no stopping, just sync and {name}\n  -d  wait SECONDS first");
    EXIT_USAGE
}

/// halt / reboot / poweroff.
fn applet(common: &Common, name: &str, args: &[String]) -> i32 {
    let mut force = false;
    let mut delay = 0u64;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-f" => force = true,
            "-n" => {} // BusyBox: no sync; we always sync, it is cheap and safe.
            "-d" => match it.next().and_then(|d| d.parse().ok()) {
                Some(d) => delay = d,
                None => return usage(name),
            },
            "-h" | "--help" => {
                usage(name);
                return EXIT_OK;
            }
            _ => return usage(name),
        }
    }
    if delay > 0 {
        std::thread::sleep(Duration::from_secs(delay));
    }
    if force {
        nix::unistd::sync();
        let mode = match name {
            "halt" => nix::sys::reboot::RebootMode::RB_HALT_SYSTEM,
            "reboot" => nix::sys::reboot::RebootMode::RB_AUTOBOOT,
            _ => nix::sys::reboot::RebootMode::RB_POWER_OFF,
        };
        // reboot(2) returns only when it failed.
        let Err(e) = nix::sys::reboot::reboot(mode);
        eprintln!("{name}: {}", crate::sys::errno_text(e as i32));
        return EXIT_FAIL;
    }
    request(common, name, 0)
}

/// Asks PID 1 to power off/reboot/halt after `delay_ms`.
pub fn request(common: &Common, kind: &str, delay_ms: u64) -> i32 {
    let delay = delay_ms.to_string();
    match common.request(Verb::Power, 0, &[kind, &delay], Some(Duration::from_secs(10))) {
        Ok(reply) => super::finish(&reply, kind),
        Err(code) => {
            if common.local || delay_ms > 0 {
                return code;
            }
            let signal = match kind {
                "halt" => libc::SIGUSR1,
                "reboot" => libc::SIGTERM,
                _ => libc::SIGUSR2,
            };
            eprintln!("{}: signalling PID 1 instead", super::program());
            match crate::sys::kill(1, signal) {
                Ok(()) => EXIT_OK,
                Err(e) => {
                    eprintln!("{}: {}", super::program(), crate::sys::errno_text(e));
                    code
                }
            }
        }
    }
}

/// Milliseconds until TIME: `now`, `+MINUTES`, or `HH:MM` (today, else tomorrow).
pub fn parse_time(time: &str, now_secs: i64) -> Option<u64> {
    if time == "now" {
        return Some(0);
    }
    if let Some(m) = time.strip_prefix('+') {
        return m.parse::<u64>().ok().and_then(|m| m.checked_mul(60_000));
    }
    let (h, m) = time.split_once(':')?;
    let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
    if !(0..24).contains(&h) || !(0..60).contains(&m) {
        return None;
    }
    let t = crate::sys::local_time(now_secs)?;
    let now_of_day = t.hour as i64 * 3600 + t.minute as i64 * 60 + t.second as i64;
    let mut wait = h * 3600 + m * 60 - now_of_day;
    if wait < 0 {
        wait += 24 * 3600;
    }
    Some(wait as u64 * 1000)
}

/// `shutdown [-r|-h|-p|-c] [TIME] [MESSAGE...]` (default: power off, now).
pub fn shutdown(common: &Common, args: &[String]) -> i32 {
    let mut kind = "poweroff";
    let mut time: Option<&str> = None;
    let mut message = Vec::new();
    for a in args {
        match a.as_str() {
            "-r" => kind = "reboot",
            "-h" | "-H" => kind = "halt",
            "-p" | "-P" => kind = "poweroff",
            "-c" => kind = "cancel",
            "--help" => {
                println!("usage: shutdown [-r|-h|-p|-c] [now|+MINUTES|HH:MM] [MESSAGE]");
                return EXIT_OK;
            }
            s if s.starts_with('-') => {
                eprintln!("shutdown: unknown option {s}");
                return EXIT_USAGE;
            }
            s if time.is_none() && kind != "cancel" => time = Some(s),
            s => message.push(s),
        }
    }
    if kind == "cancel" {
        return match common.request(Verb::Power, 0, &["cancel"], Some(Duration::from_secs(10))) {
            Ok(reply) => {
                if reply.code == Code::Ok {
                    broadcast(&format!("The scheduled shutdown is cancelled. {}", message.join(" ")));
                }
                super::finish(&reply, "shutdown")
            }
            Err(code) => code,
        };
    }
    let Some(delay) = parse_time(time.unwrap_or("now"), crate::sys::wall_secs()) else {
        eprintln!("shutdown: TIME must be now, +MINUTES or HH:MM");
        return EXIT_USAGE;
    };
    let what = match kind {
        "reboot" => "reboot",
        "halt" => "halt",
        _ => "power off",
    };
    let when = if delay == 0 { "NOW".to_string() } else { format!("in {} minute(s)", delay.div_ceil(60_000)) };
    broadcast(&format!("The system goes down for {what} {when}! {}", message.join(" ")));
    request(common, kind, delay)
}

/// `killall5 [-SIGNAL]`: signal every process but PID 1, ourselves, our
/// session and kernel threads (default SIGTERM).
fn killall5(args: &[String]) -> i32 {
    let signal = match args.first().map(|a| a.trim_start_matches('-')) {
        None => libc::SIGTERM,
        Some(s) => match crate::config::parse_signal(s) {
            Some(sig) => sig,
            None => {
                eprintln!("killall5: unknown signal {s}");
                return EXIT_USAGE;
            }
        },
    };
    let me = std::process::id() as i32;
    let my_session = nix::unistd::getsid(None).map(|s| s.as_raw()).unwrap_or(-1);
    let mut failures = 0;
    crate::sys::for_each_pid(|pid| {
        if pid <= 1 || pid == me {
            return;
        }
        let Ok(stat) = crate::files::read_to_string(std::path::Path::new(&format!("/proc/{pid}/stat"))) else { return };
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 2..]) else { return };
        let fields: Vec<&str> = rest.split_ascii_whitespace().collect();
        // state ppid pgrp session tty tpgid flags
        let ppid = fields.get(1).and_then(|v| crate::sys::parse_i32(v)).unwrap_or(0);
        let session = fields.get(3).and_then(|v| crate::sys::parse_i32(v)).unwrap_or(0);
        let flags: u64 = fields.get(6).and_then(|v| v.parse().ok()).unwrap_or(0);
        const PF_KTHREAD: u64 = 0x0020_0000;
        if flags & PF_KTHREAD != 0 || ppid == 2 || pid == 2 || session == my_session {
            return;
        }
        if crate::sys::kill(pid, signal).is_err() {
            failures += 1;
        }
    });
    if failures > 0 {
        EXIT_FAIL
    } else {
        EXIT_OK
    }
}

/// Writes a message to the console and every pseudo-terminal.
fn broadcast(message: &str) {
    // uname's node name, linked for IOC_HOST anyway: what the C library's
    // gethostname copies out of it.
    let host = nix::sys::utsname::uname().map(|u| u.nodename().to_string_lossy().into_owned()).unwrap_or_default();
    let user = accounts::user(Key::Id(nix::unistd::getuid().as_raw())).map_or_else(|| "root".into(), |u| u.name);
    let text = format!("\r\nBroadcast message from {user}@{host}:\r\n\r\n{}\r\n\r\n", message.trim_ascii().replace('\n', "\r\n"));
    let mut ttys = vec!["/dev/console".to_string()];
    if let Ok(dir) = std::fs::read_dir("/dev/pts") {
        ttys.extend(dir.flatten().filter(|e| e.file_name() != "ptmx").map(|e| e.path().display().to_string()));
    }
    for tty in ttys {
        if let Ok(mut f) = crate::sys::open_file(std::path::Path::new(&tty), libc::O_WRONLY | libc::O_NOCTTY | libc::O_NONBLOCK, 0) {
            let _ = std::io::Write::write_all(&mut f, text.as_bytes());
        }
    }
}

/// `wall [MESSAGE]` (the message from stdin when none is given).
fn wall(args: &[String]) -> i32 {
    let mut message = args.join(" ");
    if message.is_empty() {
        // Through fd 0 as a plain file, not through std's buffered `Stdin`
        // (the code of its handle and locked reader): wall reads its input
        // once, to the end. Through `Take<&mut File>`, as the program's
        // other reads to the end, not `File`'s own `read_to_string` (712
        // bytes of armv7 code for it and the re-exec's state).
        let _ = (&mut *crate::sys::stdin_file()).take(u64::MAX).read_to_string(&mut message);
    }
    broadcast(&message);
    EXIT_OK
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shutdown_times() {
        assert_eq!(parse_time("now", 0), Some(0));
        assert_eq!(parse_time("+5", 0), Some(300_000));
        assert_eq!(parse_time("25:00", 0), None);
        assert_eq!(parse_time("soon", 0), None);
        // Minutes whose milliseconds do not fit: refused, not wrapped.
        assert_eq!(parse_time("+307445734561825861", 0), None);
        assert_eq!(parse_time("+18446744073709551615", 0), None);
        let now = crate::sys::wall_secs();
        let ms = parse_time("12:00", now).unwrap();
        assert!(ms < 24 * 3600 * 1000);
    }
}
