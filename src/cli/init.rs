//! The supervisor's own command line: `init`, `iocinit` as PID 1,
//! `iocinit --local`, and `iocinit --config PATH` as PID 1 of a namespace.
//! On a real boot the kernel command line adds Epoch's words (`shell`,
//! `runlevel=`, `epochconfig=`, `startobj=`, `skipobj=`).

use std::path::PathBuf;

use argh::FromArgs;

use crate::daemon;
use crate::engine::BootOptions;
use crate::layout::Layout;
use crate::pid1;

/// Run the supervisor: PID 1 of a machine or of a PID namespace, or with
/// --local as an ordinary process.
#[derive(FromArgs)]
struct Args {
    /// run as yourself: no mounts, no reboot; sockets, state and config
    /// under your XDG directories
    #[argh(switch)]
    local: bool,
    /// the configuration (default /etc/epoch/epoch.conf; --local:
    /// ~/.config/iocinit/epoch.conf)
    #[argh(option)]
    config: Option<PathBuf>,
    /// read IOC files from this directory instead of IocDirectory
    #[argh(option)]
    ioc_dir: Option<PathBuf>,
    /// where the control socket and IOC consoles live (default /run)
    #[argh(option)]
    run_dir: Option<PathBuf>,
    /// the control socket (default RUN_DIR/iocinit/control)
    #[argh(option)]
    socket: Option<PathBuf>,
    /// persistent state (default /var/lib/iocinit)
    #[argh(option)]
    state_dir: Option<PathBuf>,
    /// the system log of EnableLogging and ObjectStdout/ObjectStderr LOG
    /// (default /var/log/system.log; --local: system.log in the XDG state
    /// directory); PID 1 of a test namespace needs its own
    #[argh(option)]
    system_log: Option<PathBuf>,
    /// reject iocinit's extensions to Epoch's language
    #[argh(switch)]
    strict_epoch: bool,
    /// boot into this runlevel instead of DefaultRunlevel
    #[argh(option)]
    runlevel: Option<String>,
    /// also start this object after boot (repeatable)
    #[argh(option)]
    startobj: Vec<String>,
    /// do not start this object at boot (repeatable)
    #[argh(option)]
    skipobj: Vec<String>,
    /// log debug messages too
    #[argh(switch)]
    debug: bool,
    /// internal: state and listener descriptors handed over by reexec
    #[argh(option, hidden_help)]
    resume: Option<String>,
}

pub fn main(args: Vec<String>) -> i32 {
    let a: Args = match super::parse("iocinit", &args) {
        Ok(a) => a,
        Err(code) => return code,
    };
    crate::logging::init(a.debug);
    let mut layout = Layout::resolve(a.local, a.run_dir.as_deref(), a.socket.as_deref(), a.state_dir.as_deref());
    if let Some(log) = a.system_log {
        layout.system_log = log;
    }
    if !a.local && std::process::id() == 1 {
        pid1::mount_proc_early();
    }
    // Kernel words apply only to a real boot: a test namespace shares the
    // host's /proc/cmdline.
    let kernel = if !a.local && std::process::id() == 1 && crate::sys::in_initial_pid_namespace() {
        pid1::kernel_args()
    } else {
        pid1::KernelArgs::default()
    };
    let resume = a.resume.as_deref().and_then(|r| {
        let (s, l) = r.split_once(':')?;
        Some((s.parse().ok()?, l.parse().ok()?))
    });
    let mut start = kernel.boot.start;
    start.extend(a.startobj);
    let mut skip = kernel.boot.skip;
    skip.extend(a.skipobj);
    let opts = daemon::Options {
        config: a.config.or(kernel.config).unwrap_or_else(|| layout.default_config.clone()),
        ioc_dir: a.ioc_dir,
        strict_epoch: a.strict_epoch,
        boot: BootOptions { runlevel: a.runlevel.or(kernel.boot.runlevel), start, skip },
        shell_first: kernel.shell,
        resume,
        layout,
    };
    let code = daemon::run(opts);
    // `--local` ends here: what the terminal did not take yet, it gets now
    // (for a bounded time).
    crate::logging::flush_console(crate::logging::POWER_FLUSH_MS);
    code
}
