//! `ioc-runner` as a drop-in for epics-ioc-runner (issue 13, its command
//! line and outputs): the grammar (global options anywhere, -v/-vv only for
//! list, usage errors and unknown targets exit 1, 3 when no supervisor
//! answers), the `IOC_RUNNER_*` variables, `ioc --local` starting the user's
//! supervisor when none answers, the outputs scripts parse (`status`'s
//! `Active:` line, `view`'s file and procServ command line, `log`,
//! `inspect`'s three sections), the bash completion script, and the local
//! guide's examples as written. Real binary, real procServ and softIoc, an
//! unprivileged user (iocit-local) for everything --local; root only to
//! become that user.

mod ioc_support;
mod ns;
#[allow(dead_code)]
mod pty;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use ioc_support::*;

const UP: Duration = Duration::from_secs(30);

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Where [`runner`]'s `--local` would put its files (nothing, if all is well).
fn runner_home() -> PathBuf {
    std::env::temp_dir().join(format!("iocit-runner-home-{}", std::process::id()))
}

/// `ioc-runner ARGS` as root, with a home of its own and no supervisor.
fn runner(args: &[&str], env: &[(&str, &str)]) -> Output {
    let home = runner_home();
    Command::new(ns::BIN)
        .arg0("ioc-runner")
        .args(args)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", &home)
        .env("XDG_RUNTIME_DIR", home.join("run"))
        .envs(env.iter().copied())
        .current_dir("/")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn expect(out: &Output, code: i32, err_has: &str, what: &str) {
    assert_eq!(out.status.code(), Some(code), "{what}: {}", text(out));
    assert!(stderr(out).contains(err_has), "{what}: stderr lacks {err_has:?}: {}", text(out));
}

#[test]
fn the_peers_grammar_and_exit_codes() {
    // Usage and version: exit 0, whatever stands around them.
    for args in [&[][..], &["-h"], &["--help"], &["start", "x", "--help"], &["--local", "-h"]] {
        let out = runner(args, &[]);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", text(&out));
        assert!(stdout(&out).starts_with("Usage: ioc-runner [OPTIONS] COMMAND"), "{args:?}: {}", text(&out));
    }
    for args in [&["-V"][..], &["--version"], &["list", "--local", "-V"]] {
        let out = runner(args, &[]);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", text(&out));
        assert!(stdout(&out).contains("version"), "{args:?}: {}", text(&out));
    }
    // -v/-vv only for list, with the peer's message.
    for args in [&["-v", "start", "x"][..], &["-vv", "status", "x"], &["stop", "x", "-v"]] {
        expect(&runner(args, &[]), 1, "Verbose options (-v, -vv) are only supported for the 'list' command.", &format!("{args:?}"));
    }
    // Usage errors exit 1, as the peer's.
    expect(&runner(&["bogus"], &[]), 1, "Unknown command 'bogus'", "unknown command");
    expect(&runner(&["--bogus", "list"], &[]), 1, "Unknown option '--bogus'", "unknown option");
    expect(&runner(&["-vvv", "list"], &[]), 1, "Unknown option '-vvv'", "-vvv");
    expect(&runner(&["start", "a", "b"], &[]), 1, "Unexpected argument 'b'", "third word");
    for verb in ["start", "stop", "restart", "enable", "disable", "remove", "attach", "view", "log", "status", "inspect", "monitor"] {
        expect(&runner(&[verb], &[]), 1, "Target IOC name is required", verb);
    }
    for name in ["a.b", "x/../y", "-x", "a b"] {
        expect(&runner(&["view", "--", name], &[]), 1, "Invalid IOC name", name);
    }
    // No supervisor answers (system mode): 3, which the peer has no need for.
    let nowhere = runner_home().join("nowhere/iocinit/control");
    expect(&runner(&["stop", "vac1"], &[("IOCINIT_SOCKET", nowhere.to_str().unwrap())]), 3, "iocinit is not running", "no supervisor");

    // IOC_RUNNER_* as PID 1: the configuration owns the choice.
    // The directories that say which IOCs for every command, the procServ
    // tool where procServ would be started (install: tests/ioc_runner_peer.rs;
    // the log directory is ignored with a warning, there too).
    let cases = ["IOC_RUNNER_CONF_DIR", "IOC_RUNNER_SYSTEM_CONF_DIR", "IOC_RUNNER_RUN_DIR", "IOC_RUNNER_SYSTEM_RUN_DIR"]
        .map(|var| (var, &["list"][..]))
        .into_iter()
        .chain([("IOC_RUNNER_PROCSERV_TOOL", &["start", "vac1"][..]), ("IOC_RUNNER_PROCSERV_TOOL", &["restart", "vac1"])]);
    for (var, args) in cases {
        let out = runner(args, &[(var, "/usr/sbin/procServ")]);
        expect(&out, 1, var, var);
        assert!(stderr(&out).contains("use --local"), "{var} {args:?}: {}", text(&out));
    }
    // With --local, checked as the peer checks them (before any supervisor).
    expect(&runner(&["--local", "list"], &[("IOC_RUNNER_LOCAL_CONF_DIR", "relative/conf")]), 1, "must be an absolute path", "relative");
    expect(&runner(&["--local", "list"], &[("IOC_RUNNER_CONF_DIR", "/tmp/conf dir")]), 1, "must be an absolute path", "space");
    expect(&runner(&["--local", "list"], &[("IOC_RUNNER_LOCAL_RUN_DIR", "run/procserv")]), 1, "must be an absolute path", "run dir");
    let scratch = Scratch::new("runner-tools");
    let plain = scratch.path().join("procServ");
    std::fs::write(&plain, "").unwrap();
    std::fs::set_permissions(&plain, std::fs::Permissions::from_mode(0o644)).unwrap();
    for var in ["IOC_RUNNER_PROCSERV_TOOL", "IOC_RUNNER_CON_TOOL"] {
        for bad in [plain.to_str().unwrap(), "/usr/bin", "/no/such/procServ"] {
            expect(&runner(&["--local", "list"], &[(var, bad)]), 1, &format!("{var} '{bad}' is not an executable file."), var);
        }
    }
    // None of these got as far as starting a supervisor.
    assert!(!runner_home().join("run/iocinit").exists());
    let _ = std::fs::remove_dir_all(runner_home());
}

/// A directory this test made outside its scratch directory.
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn local_mode_starts_its_supervisor_and_prints_what_scripts_parse() {
    let scratch = Scratch::new("runner-local");
    let mut s = LocalSession::new(scratch.path());
    let conf_dir = scratch.path().join("conf/procServ.d");
    let log_dir = scratch.path().join("logs");
    s.set("IOC_RUNNER_LOCAL_CONF_DIR", &conf_dir);
    s.set("IOC_RUNNER_LOCAL_LOG_DIR", &log_dir);
    // The peer's run directory is the console root; the control socket goes
    // beside it.
    let consoles = s.runtime.join("consoles");
    s.set("IOC_RUNNER_LOCAL_RUN_DIR", &consoles);
    let ioc = SoftIoc::standard(scratch.path(), "demo");
    for dir in ["conf", "logs"] {
        std::fs::create_dir_all(scratch.path().join(dir)).unwrap();
        s.give(&scratch.path().join(dir));
    }
    s.give(&scratch.path().join("top"));
    let boot = ioc.boot.to_str().unwrap();

    // No supervisor yet: install (`--user` after the verb) writes the file
    // into IOC_RUNNER_LOCAL_CONF_DIR; start then starts the supervisor,
    // which serves that directory.
    let out = s.run("ioc-runner", &["install", boot, "--user"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(conf_dir.join("iocdemo.conf").exists(), "{}", text(&out));
    let conf = std::fs::read_to_string(conf_dir.join("iocdemo.conf")).unwrap();
    assert!(conf.contains(&format!("{}/iocdemo/control\"", consoles.display())), "{conf}");

    let out = s.run("ioc-runner", &["start", "iocdemo", "--local"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(stderr(&out).contains("Info: started your supervisor (iocinit --local"), "{}", text(&out));
    // In a session of its own: no terminal's Ctrl-C or hang-up reaches it.
    let err = stderr(&out);
    let pid: u32 = err.split("iocinit --local, pid ").nth(1).and_then(|r| r.split(')').next()).and_then(|p| p.parse().ok()).unwrap();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let session = stat.rsplit(") ").next().and_then(|rest| rest.split(' ').nth(3)).unwrap();
    assert_eq!(session, pid.to_string(), "iocinit --local leads its own session: {stat}");
    assert!(s.control().exists(), "{} {}", s.control().display(), text(&out));
    let out = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.contains("iocdemo is ready"), "{out}");
    ioc.wait_value("calc", "42", UP);
    assert!(std::fs::read_to_string(log_dir.join("iocdemo.log")).unwrap().contains("All initialization complete"));
    assert!(consoles.join("iocdemo/control").exists());

    // status: systemd's Active: line first, our details below it.
    let out = ok(s.run("ioc-runner", &["--local", "status", "iocdemo"]), "status");
    let first = out.lines().next().unwrap_or("");
    assert!(first.starts_with("Active: active (running) since ") && first.ends_with(" ago"), "{out}");
    assert!(out.contains("ObjectID:") && out.contains("Auto-restart:"), "{out}");

    // view: the IOC file and the procServ command line that runs it.
    let out = ok(s.run("ioc-runner", &["--local", "view", "iocdemo"]), "view");
    assert!(out.contains(&format!("1. IOC Configuration File: {}", conf_dir.join("iocdemo.conf").display())), "{out}");
    assert!(out.contains("IOC_CMD=\"./st.cmd\""), "{out}");
    assert!(out.contains("2. procServ Command Line") && out.contains("procServ -f --name iocdemo"), "{out}");
    // A file that is not there: the header on stdout, the error and the
    // closing divider on stderr (the peer's streams).
    let out = s.run("ioc-runner", &["--local", "view", "absent"]);
    expect(&out, 1, "Configuration file not found", "view absent");
    let dividers = |t: &str| t.lines().filter(|l| !l.is_empty() && l.bytes().all(|b| b == b'=')).count();
    assert_eq!((dividers(&stdout(&out)), dividers(&stderr(&out))), (1, 1), "{}", text(&out));
    // log: the procServ log, -n lines of it.
    let out = ok(s.run("ioc-runner", &["--local", "log", "iocdemo", "-n", "200"]), "log");
    assert!(out.contains("All initialization complete"), "{out}");
    // inspect: the peer's three sections, with a client attached.
    let mut client = s.command("ioc-runner", &["--local", "monitor", "iocdemo"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let mut sections = String::new();
    assert!(
        wait_for(UP, || {
            sections = ok(s.run("ioc-runner", &["--local", "inspect", "iocdemo"]), "inspect");
            sections.contains("ioc-runner --local monitor")
        }),
        "{sections}"
    );
    let _ = client.kill();
    let _ = client.wait();
    for heading in ["UNIX Domain Socket FDs", "Server Process Context", "Client Process Context"] {
        assert!(sections.contains(heading), "{heading}: {sections}");
    }
    // list: -v and --local in any order.
    for args in [&["--local", "list", "-v"][..], &["list", "-v", "--local"], &["-v", "list", "--local"]] {
        let rows = list_rows(&ok(s.run("ioc-runner", args), "list -v"));
        assert_eq!((rows.len(), column(&rows[0], "STATUS")), (1, "active"), "{args:?}");
    }

    // An IOC that is not installed: the peer's message, exit 1.
    let out = s.run("ioc-runner", &["--local", "stop", "nope"]);
    expect(&out, 1, &format!("No configuration found for IOC 'nope' (looked in {})", conf_dir.display()), "stop nope");
    // Another IOC directory than the running supervisor serves, while it
    // runs an IOC: refused.
    let another = [("IOC_RUNNER_LOCAL_CONF_DIR", Path::new("/tmp/another-procServ.d"))];
    let out = s.command_with(&another, "ioc-runner", &["--local", "list"]).output().unwrap();
    expect(&out, 1, "serves", "another directory");

    // Epoch's verbs reach the same supervisor.
    let out = ok(s.run("iocinit", &["--local", "status"]), "iocinit --local status");
    assert!(out.contains("iocdemo"), "{out}");
    // Once it runs nothing, a command naming another IOC directory gets a
    // supervisor for that one.
    ok(s.run("ioc-runner", &["--local", "stop", "iocdemo"]), "stop");
    let other = scratch.path().join("other");
    std::fs::create_dir_all(&other).unwrap();
    s.give(&other);
    let out = s.command_with(&[("IOC_RUNNER_LOCAL_CONF_DIR", &other)], "ioc-runner", &["--local", "list"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(stderr(&out).contains(&format!("ran nothing: stopped it, to serve {}", other.display())), "{}", text(&out));
    let out = s.command_with(&[("IOC_RUNNER_LOCAL_CONF_DIR", &other)], "ioc-runner", &["--local", "stop", "iocdemo"]).output().unwrap();
    expect(&out, 1, &format!("No configuration found for IOC 'iocdemo' (looked in {})", other.display()), "the other directory");
    s.poweroff();
    assert!(wait_for(UP, || port_is_free(ioc.port)), "the IOC outlived the supervisor");
}

/// Without XDG_RUNTIME_DIR (su, cron) the run directory is /run/user/UID
/// when it is the user's, as epics-ioc-runner's default; checked where the
/// host has none for the test user (made here, then removed).
#[test]
fn local_mode_without_xdg_runtime_dir_uses_run_user() {
    let uid = nix::unistd::User::from_name(LOCAL_USER).unwrap().map(|u| u.uid.as_raw()).expect("tests/support/install-test-users");
    let run_user = PathBuf::from(format!("/run/user/{uid}"));
    if run_user.exists() {
        eprintln!("note: {} exists on this host; not checked", run_user.display());
        return;
    }
    // Removes what it made: /run/user too where the host has none.
    let _made = RemoveOnDrop(if Path::new("/run/user").exists() { run_user.clone() } else { PathBuf::from("/run/user") });
    let scratch = Scratch::new("runner-run-user");
    let s = LocalSession::with_runtime(scratch.path(), Some(run_user.clone()));
    assert!(!s.env.iter().any(|(k, _)| k == "XDG_RUNTIME_DIR"));
    let out = ok(s.run("ioc-runner", &["--local", "list"]), "ioc-runner --local list");
    assert!(out.contains(&format!("{}/procserv", run_user.display())), "{out}");
    assert!(s.answers(), "no supervisor on {}", s.control().display());
    s.poweroff();
}

#[test]
fn bash_completion_offers_commands_options_and_installed_iocs() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("rootfs/usr/share/bash-completion/completions/ioc");
    let link = script.with_file_name("ioc-runner");
    assert_eq!(std::fs::read_link(&link).unwrap(), Path::new("ioc"), "ioc-runner's completion is ioc's");
    let scratch = Scratch::new("runner-completion");
    let conf = scratch.path().join("procServ.d");
    std::fs::create_dir_all(&conf).unwrap();
    for f in ["vac1.conf", "motor_2.conf", "notes.txt"] {
        std::fs::write(conf.join(f), "").unwrap();
    }
    // Completes `words` (the last is the word under the cursor).
    let complete = |words: &[&str], env: &[(&str, &Path)]| -> Vec<String> {
        let list = words.iter().map(|w| format!("'{w}'")).collect::<Vec<_>>().join(" ");
        let program = format!(
            "source '{}'; COMP_WORDS=({list}); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1)); _ioc_runner_completions; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            script.display()
        );
        let out = Command::new("bash")
            .args(["--norc", "-c", &program])
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", scratch.path())
            .env("IOCINIT_SOCKET", "/nonexistent/control")
            .envs(env.iter().copied())
            .output()
            .unwrap();
        assert!(out.status.success(), "{words:?}: {}", text(&out));
        let mut got: Vec<String> = stdout(&out).lines().filter(|l| !l.is_empty()).map(str::to_string).collect();
        got.sort();
        got
    };
    let all = complete(&["ioc", ""], &[]);
    for verb in ["generate", "install", "list", "start", "log", "view", "inspect", "rescan"] {
        assert!(all.contains(&verb.to_string()), "{verb}: {all:?}");
    }
    assert_eq!(complete(&["ioc-runner", "st"], &[]), ["start", "status", "stop"]);
    let dash = complete(&["ioc", "-"], &[]);
    for opt in ["--local", "--user", "-f", "--force", "-v", "-vv", "-V", "--version", "-h", "--help"] {
        assert!(dash.contains(&opt.to_string()), "{opt}: {dash:?}");
    }
    assert_eq!(complete(&["ioc", "list", ""], &[]), ["-v", "-vv"]);
    assert_eq!(complete(&["ioc", "log", "x", "--l"], &[]), ["--lines", "--local"]);
    // Installed IOC names (--local: the IOC directory's files), before or
    // after the command.
    let names = ["motor_2", "vac1"];
    assert_eq!(complete(&["ioc", "--local", "start", ""], &[("IOC_RUNNER_LOCAL_CONF_DIR", &conf)]), names);
    assert_eq!(complete(&["ioc", "attach", "--user", "v"], &[("IOC_RUNNER_CONF_DIR", &conf)]), ["vac1"]);
    let default = scratch.path().join(".config/procServ.d");
    std::fs::create_dir_all(&default).unwrap();
    std::fs::write(default.join("home_ioc.conf"), "").unwrap();
    assert_eq!(complete(&["ioc", "--local", "status", ""], &[]), ["home_ioc"]);
    assert!(complete(&["ioc", "--local", "stop", ""], &[("IOC_RUNNER_LOCAL_CONF_DIR", &scratch.path().join("none"))]).is_empty());
    // Without --local, as the peer's completion: the directory
    // IOC_RUNNER_SYSTEM_CONF_DIR (or IOC_RUNNER_CONF_DIR) names.
    assert_eq!(complete(&["ioc-runner", "start", ""], &[("IOC_RUNNER_SYSTEM_CONF_DIR", &conf)]), names);
    assert!(complete(&["ioc-runner", "start", ""], &[("IOC_RUNNER_SYSTEM_CONF_DIR", &scratch.path().join("none"))]).is_empty());
}

/// docs/USER_GUIDE_LOCAL.md's examples, typed as they are written.
#[test]
fn the_local_guides_examples_work_as_written() {
    let scratch = Scratch::new("runner-guide");
    let s = LocalSession::new(scratch.path());
    let ioc = SoftIoc::standard(&s.home, "vac1");
    s.give(&s.home);

    // iocinit --local &   (no configuration file)
    let log = std::fs::File::create(scratch.path().join("supervisor.log")).unwrap();
    let mut supervisor = s.command("iocinit", &["--local"]).stdout(log.try_clone().unwrap()).stderr(log).spawn().unwrap();
    assert!(wait_for(UP, || s.control().exists()), "no control socket");
    let guide = |line: &str| {
        let words: Vec<&str> = line.split_whitespace().collect();
        ok(s.run(words[0], &words[1..]), line)
    };
    let out = guide("ioc --local generate ~/top/iocBoot/iocvac1".replace('~', s.home.to_str().unwrap()).as_str());
    assert!(out.contains("iocvac1.conf"), "{out}");
    guide("ioc --local install ~/top/iocBoot/iocvac1/iocvac1.conf".replace('~', s.home.to_str().unwrap()).as_str());
    let out = guide("ioc --local start iocvac1");
    assert!(out.contains("iocvac1 is ready"), "{out}");
    ioc.wait_value("calc", "42", UP);
    let rows = list_rows(&guide("ioc --local list -vv"));
    assert_eq!(column(&rows[0], "K-STATE"), "LISTEN");
    let out = guide("iocinit --local status");
    assert!(out.contains("iocvac1"), "{out}");
    let out = ok(s.command("/bin/sh", &["-c", "echo dbl | ioc --local attach iocvac1"]).output().unwrap(), "attach");
    assert!(out.contains(&ioc.pv("ai")), "{out}");
    guide("iocinit --local poweroff");
    assert!(wait_for(UP, || supervisor.try_wait().unwrap().is_some()), "iocinit --local poweroff: the supervisor runs on");
    assert!(port_is_free(ioc.port));
}

/// `epoch help | head -1`, `ioc-runner --help | head -1`: a reader that goes
/// away ends the front end quietly by SIGPIPE, as C tools end, instead of a
/// panic ("failed printing to stdout: Broken pipe") on the console.
#[test]
fn a_reader_that_goes_away_ends_the_front_ends_quietly() {
    for (name, args) in [("epoch", &["help"][..]), ("ioc-runner", &["--help"][..]), ("iocinit", &["--help"][..])] {
        let (reader, writer) = nix::unistd::pipe().unwrap();
        drop(reader);
        let out = Command::new(ns::BIN)
            .arg0(name)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::from(writer))
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let err = stderr(&out);
        assert!(!err.contains("panicked"), "{name}: panicked on a closed pipe: {err}");
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&out.status),
            Some(libc::SIGPIPE),
            "{name}: not ended by SIGPIPE: {:?} {err}",
            out.status
        );
    }
}
