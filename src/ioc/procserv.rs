//! The procServ command line for an object with a console (an IOC file, or an
//! object with the `PROCSERV` option), as DESIGN.md fixes it:
//!
//! `procServ -f --name N --logfile LOGDIR/N.log --info-file RUN/procserv/N/info
//!  --ignore ^D^C^] --holdoff H --chdir DIR
//!  -P unix:USER:GROUP:0660:RUN/procserv/N/control CMD...`
//!
//! `-f` keeps procServ in the foreground as our child; its kill signal stays the
//! default SIGKILL (an IOC started by procServ has SIGTERM blocked, see
//! REFERENCE.md); no TCP port is ever opened.

use std::path::{Path, PathBuf};

use crate::config::{Console, IocGlobals};
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

/// The argv that runs `console` under procServ. `socket_user`/`socket_group`
/// own the console socket (mode 0660).
pub fn argv(console: &Console, globals: &IocGlobals, paths: &ConsolePaths, socket_user: &str, socket_group: &str) -> Vec<String> {
    let mut argv = vec![
        globals.procserv.display().to_string(),
        "-f".into(),
        "--name".into(),
        console.name.clone(),
        "--logfile".into(),
        paths.log.display().to_string(),
        "--info-file".into(),
        paths.info.display().to_string(),
        "--ignore".into(),
        "^D^C^]".into(),
        "--holdoff".into(),
        globals.holdoff_secs.to_string(),
    ];
    if let Some(dir) = &console.chdir {
        argv.push("--chdir".into());
        argv.push(dir.display().to_string());
    }
    argv.push("-P".into());
    argv.push(format!("unix:{socket_user}:{socket_group}:0660:{}", paths.socket.display()));
    // procServ execs its child directly (no shell): a command with shell
    // syntax goes through /bin/sh -c, as any other start command.
    if spawn::needs_shell(&console.command) {
        argv.extend([spawn::SHELL.to_string(), "-c".into(), console.command.clone()]);
    } else {
        argv.extend(console.command.split_whitespace().map(str::to_string));
    }
    argv
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argv_matches_the_design() {
        let console = Console {
            name: "vac1".into(),
            user: Some("ioc-srv".into()),
            group: Some("ioc".into()),
            chdir: Some("/opt/iocs/vac1/iocBoot/iocvac1".into()),
            command: "./st.cmd".into(),
            from_ioc_file: true,
            may_choose_credentials: true,
            env: Vec::new(),
        };
        let globals = IocGlobals::default();
        let paths = ConsolePaths::new(Path::new("/run/procserv"), &globals.log_directory, "vac1");
        assert_eq!(
            argv(&console, &globals, &paths, "ioc-srv", "ioc").join(" "),
            "procServ -f --name vac1 --logfile /var/log/procserv/vac1.log \
             --info-file /run/procserv/vac1/info --ignore ^D^C^] --holdoff 2 \
             --chdir /opt/iocs/vac1/iocBoot/iocvac1 \
             -P unix:ioc-srv:ioc:0660:/run/procserv/vac1/control ./st.cmd"
        );
    }
}
