//! Where things live at run time — the control socket, IOC consoles, state and
//! logs — for PID 1 and for `--local`, so the daemon and the CLI agree.
//!
//! PID 1 (and a supervisor started as root without `--local`):
//! `/run/iocinit/control`, `/run/procserv/<ioc>/control`,
//! `/var/lib/iocinit/state`, `/var/log/system.log`, `/etc/epoch/epoch.conf`.
//! `--local`: the same under `$XDG_RUNTIME_DIR` (else `/run/user/<uid>` when
//! it is ours, else `/tmp/iocinit-<uid>`),
//! `$XDG_STATE_HOME` (else `~/.local/state`) and `$XDG_CONFIG_HOME` (else
//! `~/.config`), so an engineer runs a board's configuration without root.
//! `--run-dir`, `--socket`, `--state-dir` and `--system-log` move each of
//! them (PID 1 of a test namespace shares the host's files and needs its own).

use std::path::{Path, PathBuf};

pub const DEFAULT_CONFIG: &str = "/etc/epoch/epoch.conf";
pub const SOCKET_ENV: &str = "IOCINIT_SOCKET";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub local: bool,
    /// Holds `iocinit/` (control socket) and `procserv/` (IOC consoles).
    pub run_dir: PathBuf,
    pub control_socket: PathBuf,
    /// Persistent state: enable/disable overrides, RUNONCE.
    pub state_dir: PathBuf,
    /// The system log (`EnableLogging`, `ObjectStdout LOG`).
    pub system_log: PathBuf,
    /// The configuration read when none is named.
    pub default_config: PathBuf,
    /// In `--local` mode, the IOC directory used when the configuration keeps
    /// the system default (`~/.config/procServ.d`, as epics-ioc-runner).
    pub local_ioc_dir: Option<PathBuf>,
    /// In `--local` mode, where IOC logs go when the configuration keeps the
    /// system default.
    pub local_ioc_log_dir: Option<PathBuf>,
    /// In `--local` mode, the procServ to run when the configuration keeps
    /// the default (`IOC_RUNNER_PROCSERV_TOOL`).
    pub local_procserv: Option<PathBuf>,
    /// In `--local` mode, the console root epics-ioc-runner's run directory
    /// names (`IOC_RUNNER_LOCAL_RUN_DIR`), instead of `RUN/procserv`.
    pub local_consoles: Option<PathBuf>,
}

/// epics-ioc-runner's variables that move its directories and choose its
/// tools, the general one first (docs/MIGRATING.md, "Environment"). In
/// `--local` mode they are honoured; as PID 1 the configuration chooses.
pub const RUNNER_CONF_DIR: [&str; 2] = ["IOC_RUNNER_CONF_DIR", "IOC_RUNNER_LOCAL_CONF_DIR"];
pub const RUNNER_LOG_DIR: [&str; 2] = ["IOC_RUNNER_LOG_DIR", "IOC_RUNNER_LOCAL_LOG_DIR"];
pub const RUNNER_RUN_DIR: [&str; 2] = ["IOC_RUNNER_RUN_DIR", "IOC_RUNNER_LOCAL_RUN_DIR"];
pub const RUNNER_PROCSERV_TOOL: &str = "IOC_RUNNER_PROCSERV_TOOL";
/// The directories PID 1's configuration decides that say which IOCs a
/// command means (refused in system mode).
pub const RUNNER_SYSTEM_DIRS: [&str; 4] = ["IOC_RUNNER_CONF_DIR", "IOC_RUNNER_SYSTEM_CONF_DIR", "IOC_RUNNER_RUN_DIR", "IOC_RUNNER_SYSTEM_RUN_DIR"];
/// The system log directory's variable: ignored in system mode (PID 1's
/// IocLogDirectory), with epics-ioc-runner's warning.
pub const RUNNER_SYSTEM_LOG_DIR: &str = "IOC_RUNNER_SYSTEM_LOG_DIR";

/// The first of `names` that is set (non-empty), with its value.
pub fn runner_var(names: &[&'static str]) -> Option<(&'static str, String)> {
    names.iter().find_map(|&n| std::env::var(n).ok().filter(|v| !v.is_empty()).map(|v| (n, v)))
}

/// The value of the first of `names` that is set, when it is a usable
/// absolute path (the client refuses the others before it gets here).
fn runner_path(names: &[&'static str]) -> Option<PathBuf> {
    runner_var(names).map(|(_, v)| PathBuf::from(v)).filter(|p| p.is_absolute())
}

fn env_dir(name: &str) -> Option<PathBuf> {
    std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from).filter(|p| p.is_absolute())
}

/// `/run/user/UID` when it exists and is ours (logind's runtime directory,
/// where epics-ioc-runner's local consoles are, also in a session that did
/// not export XDG_RUNTIME_DIR, e.g. su or a cron job).
fn own_runtime_dir(uid: u32) -> Option<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let dir = PathBuf::from(format!("/run/user/{uid}"));
    std::fs::symlink_metadata(&dir).ok().filter(|m| m.is_dir() && m.uid() == uid).map(|_| dir)
}

impl Layout {
    pub fn system() -> Layout {
        Layout::with_run_dir(false, PathBuf::from("/run"), PathBuf::from("/var/lib/iocinit"))
    }

    pub fn local() -> Layout {
        let uid = nix::unistd::getuid().as_raw();
        let home = env_dir("HOME").unwrap_or_else(|| PathBuf::from("/tmp"));
        let run = env_dir("XDG_RUNTIME_DIR").or_else(|| own_runtime_dir(uid)).unwrap_or_else(|| PathBuf::from(format!("/tmp/iocinit-{uid}")));
        let state = env_dir("XDG_STATE_HOME").unwrap_or_else(|| home.join(".local/state")).join("iocinit");
        let config = env_dir("XDG_CONFIG_HOME").unwrap_or_else(|| home.join(".config"));
        let mut layout = Layout::with_run_dir(true, run, state.clone());
        layout.system_log = state.join("system.log");
        layout.default_config = config.join("iocinit/epoch.conf");
        layout.local_ioc_dir = Some(runner_path(&RUNNER_CONF_DIR).unwrap_or_else(|| config.join("procServ.d")));
        layout.local_ioc_log_dir = Some(runner_path(&RUNNER_LOG_DIR).unwrap_or_else(|| state.join("procserv")));
        // epics-ioc-runner's run directory is the console root itself; the
        // control socket goes beside it, in its parent's iocinit/.
        if let Some(consoles) = runner_path(&RUNNER_RUN_DIR) {
            if let Some(run) = consoles.parent().filter(|p| !p.as_os_str().is_empty()) {
                layout.run_dir = run.to_path_buf();
                layout.control_socket = run.join("iocinit/control");
            }
            layout.local_consoles = Some(consoles);
        }
        layout.local_procserv = runner_path(&[RUNNER_PROCSERV_TOOL]);
        layout
    }

    fn with_run_dir(local: bool, run_dir: PathBuf, state_dir: PathBuf) -> Layout {
        Layout {
            local,
            control_socket: run_dir.join("iocinit/control"),
            run_dir,
            state_dir,
            system_log: PathBuf::from("/var/log/system.log"),
            default_config: PathBuf::from(DEFAULT_CONFIG),
            local_ioc_dir: None,
            local_ioc_log_dir: None,
            local_procserv: None,
            local_consoles: None,
        }
    }

    /// The layout for `local` mode with `--run-dir`, `--socket` /
    /// `IOCINIT_SOCKET` and `--state-dir` applied.
    pub fn resolve(local: bool, run_dir: Option<&Path>, socket: Option<&Path>, state_dir: Option<&Path>) -> Layout {
        let mut layout = if local { Layout::local() } else { Layout::system() };
        if let Some(run) = run_dir {
            layout.run_dir = run.to_path_buf();
            layout.control_socket = run.join("iocinit/control");
        }
        if let Some(state) = state_dir {
            layout.state_dir = state.to_path_buf();
        }
        match socket {
            Some(s) => layout.control_socket = s.to_path_buf(),
            None => {
                if let Some(s) = env_dir(SOCKET_ENV) {
                    layout.control_socket = s;
                }
            }
        }
        layout
    }

    /// `/run/procserv`: one directory per console.
    pub fn console_root(&self) -> PathBuf {
        self.local_consoles.clone().unwrap_or_else(|| self.run_dir.join("procserv"))
    }

    pub fn console_dir(&self, name: &str) -> PathBuf {
        self.console_root().join(name)
    }

    pub fn console_socket(&self, name: &str) -> PathBuf {
        self.console_dir(name).join("control")
    }

    pub fn console_info(&self, name: &str) -> PathBuf {
        self.console_dir(name).join("info")
    }

    pub fn state_file(&self) -> PathBuf {
        self.state_dir.join("state")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_paths_are_the_documented_ones() {
        let l = Layout::system();
        assert_eq!(l.control_socket, Path::new("/run/iocinit/control"));
        assert_eq!(l.console_socket("vac1"), Path::new("/run/procserv/vac1/control"));
        assert_eq!(l.state_file(), Path::new("/var/lib/iocinit/state"));
    }

    #[test]
    fn run_dir_moves_sockets_and_socket_overrides_control() {
        let l = Layout::resolve(false, Some(Path::new("/tmp/x")), None, None);
        assert_eq!(l.control_socket, Path::new("/tmp/x/iocinit/control"));
        assert_eq!(l.console_socket("a"), Path::new("/tmp/x/procserv/a/control"));
        let l = Layout::resolve(false, Some(Path::new("/tmp/x")), Some(Path::new("/tmp/s")), None);
        assert_eq!(l.control_socket, Path::new("/tmp/s"));
    }
}
