//! The procServ command line for an object with a console (an IOC file, or an
//! object with the `PROCSERV` option), as DESIGN.md fixes it:
//!
//! `procServ -f --name N --logfile LOGDIR/N.log --info-file RUN/procserv/N/info
//!  --ignore ^D^C^] --autorestartcmd '' --holdoff H --chdir DIR
//!  -P unix:USER:GROUP:0660:RUN/procserv/N/control CMD...`
//!
//! `-f` keeps procServ in the foreground as our child; its kill signal stays the
//! default SIGKILL (an IOC started by procServ has SIGTERM blocked, see
//! REFERENCE.md); no TCP port is ever opened. `--autorestartcmd ''` turns
//! procServ's ^T key off: `--ignore` does not cover procServ's own command
//! keys, and a stray ^T on the console would otherwise turn auto-restart off
//! without a word, leaving the IOC dead after its next crash (epics-ioc-runner
//! passes it too). [`autorestart`] reads the state back from a running
//! procServ's command line, for `ioc status`.

use std::path::{Path, PathBuf};

use crate::config::{IocGlobals, Object};
use crate::spawn;

/// Paths of one console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsolePaths {
    pub dir: PathBuf,
    pub socket: PathBuf,
    pub info: PathBuf,
    pub log: PathBuf,
}

impl ConsolePaths {
    pub fn new(console_root: &Path, log_dir: &Path, name: &str) -> Self {
        let dir = console_root.join(name);
        ConsolePaths {
            socket: dir.join("control"),
            info: dir.join("info"),
            log: log_dir.join(format!("{name}.log")),
            dir,
        }
    }
}

/// The argv that runs `object`, which has a console, under procServ: its ID
/// names the console, its working directory is procServ's `--chdir` and its
/// start command procServ's child. `socket_user`/`socket_group` own the
/// console socket (mode 0660).
pub fn argv(object: &Object, globals: &IocGlobals, paths: &ConsolePaths, socket_user: &str, socket_group: &str) -> Vec<String> {
    let mut argv = vec![
        globals.procserv.display().to_string(),
        "-f".into(),
        "--name".into(),
        object.id.to_string(),
        "--logfile".into(),
        paths.log.display().to_string(),
        "--info-file".into(),
        paths.info.display().to_string(),
        "--ignore".into(),
        "^D^C^]".into(),
        AUTORESTART_KEY.into(),
        String::new(),
        "--holdoff".into(),
        globals.holdoff_secs.to_string(),
    ];
    if let Some(dir) = &object.rare().working_directory {
        argv.push("--chdir".into());
        argv.push(dir.display().to_string());
    }
    argv.push("-P".into());
    argv.push(format!("unix:{socket_user}:{socket_group}:0660:{}", paths.socket.display()));
    // procServ execs its child directly (no shell): a command with shell
    // syntax goes through /bin/sh -c, as any other start command.
    let command = object.start.as_deref().unwrap_or_default();
    if spawn::needs_shell(command) {
        argv.extend([spawn::SHELL.to_string(), "-c".into(), command.to_string()]);
    } else {
        argv.extend(command.split_ascii_whitespace().map(str::to_string));
    }
    argv
}

/// procServ's option naming the key that toggles auto-restart; an empty
/// value turns the key off.
const AUTORESTART_KEY: &str = "--autorestartcmd";

/// procServ's options that take a value (the next argument), 2.7.0's list:
/// what follows the last of them is the child's command line.
const VALUED_OPTIONS: [&str; 24] = [
    "--coresize", "-c", "--chdir", "-e", "--exec", "-i", "--ignore", "-I", "--info-file", "-k", "--killcmd", "--killsig",
    "-l", "--logport", "-L", "--logfile", "-n", "--name", "-p", "--pidfile", "-P", "--port", "--timefmt", "--holdoff",
];

/// procServ's auto-restart of its child (after the child exits, procServ
/// starts it again after the holdoff).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoRestart {
    /// On, and the ^T key that would toggle it is off.
    On,
    /// Off (`--noautorestart`), and the ^T key is off.
    Off,
    /// The ^T key is on: anyone on the console may have toggled it since
    /// procServ started (a procServ started without `--autorestartcmd ''`).
    Toggleable,
}

impl AutoRestart {
    /// The word of `ioc status --json`.
    pub fn word(self) -> &'static str {
        match self {
            AutoRestart::On => "on",
            AutoRestart::Off => "off",
            AutoRestart::Toggleable => "unknown",
        }
    }

    /// The line of `ioc status`.
    pub fn describe(self) -> &'static str {
        match self {
            AutoRestart::On => "on (procServ's ^T toggle is off)",
            AutoRestart::Off => "off (procServ --noautorestart)",
            AutoRestart::Toggleable => "unknown: this procServ runs without --autorestartcmd '', so ^T on the console toggles it",
        }
    }
}

/// The auto-restart state that procServ's command line `argv` fixes. Only
/// procServ's own options count, not the child's command line after them.
pub fn autorestart(argv: &[String]) -> AutoRestart {
    let (mut key_off, mut off) = (false, false);
    let mut args = argv.iter().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            AUTORESTART_KEY => key_off = args.next().is_some_and(String::is_empty),
            "--autorestartcmd=" => key_off = true,
            "--noautorestart" => off = true,
            a if VALUED_OPTIONS.contains(&a) => {
                args.next();
            }
            a if a.starts_with('-') => {}
            _ => break,
        }
    }
    match (key_off, off) {
        (false, _) => AutoRestart::Toggleable,
        (true, false) => AutoRestart::On,
        (true, true) => AutoRestart::Off,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An object with a console, as an IOC file or `PROCSERV` makes it.
    fn console_object(id: &str, start: &str, working_directory: Option<&str>) -> Object {
        let mut object = Object { id: id.into(), start: Some(start.into()), console: Some(Box::default()), ..Object::default() };
        if let Some(dir) = working_directory {
            object.rare_mut().working_directory = Some(crate::config::SharedPath(dir.into()));
        }
        object
    }

    #[test]
    fn argv_matches_the_design() {
        let object = console_object("vac1", "./st.cmd", Some("/opt/iocs/vac1/iocBoot/iocvac1"));
        let globals = IocGlobals::default();
        let paths = ConsolePaths::new(Path::new("/run/procserv"), &globals.log_directory, "vac1");
        assert_eq!(
            argv(&object, &globals, &paths, "ioc-srv", "ioc").join(" "),
            "procServ -f --name vac1 --logfile /var/log/procserv/vac1.log \
             --info-file /run/procserv/vac1/info --ignore ^D^C^] --autorestartcmd  --holdoff 2 \
             --chdir /opt/iocs/vac1/iocBoot/iocvac1 \
             -P unix:ioc-srv:ioc:0660:/run/procserv/vac1/control ./st.cmd"
        );
    }

    fn words(line: &str) -> Vec<String> {
        line.split(' ').map(str::to_string).collect()
    }

    #[test]
    fn auto_restart_is_read_from_procservs_own_options() {
        let object = console_object("a", "./st.cmd --noautorestart", None);
        let globals = IocGlobals::default();
        let paths = ConsolePaths::new(Path::new("/run/procserv"), &globals.log_directory, "a");
        // Ours: the key is off, auto-restart on; the child's arguments do not count.
        assert_eq!(autorestart(&argv(&object, &globals, &paths, "u", "g")), AutoRestart::On);
        assert_eq!(autorestart(&words("procServ -f --autorestartcmd= --noautorestart -P unix:/s x")), AutoRestart::Off);
        // The key on (a procServ started otherwise): whatever ^T made of it.
        assert_eq!(autorestart(&words("procServ -f --autorestartcmd ^T -P unix:/s x")), AutoRestart::Toggleable);
        assert_eq!(autorestart(&words("procServ -f -P unix:/s x --autorestartcmd")), AutoRestart::Toggleable);
        // A value that looks like the option is a value.
        assert_eq!(autorestart(&words("procServ --name --noautorestart --autorestartcmd= x")), AutoRestart::On);
        assert_eq!(autorestart(&[]), AutoRestart::Toggleable);
    }
}
