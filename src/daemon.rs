//! The supervisor's event loop, shared by PID 1 and `--local`: one thread,
//! one poll(2) on a signalfd, a timerfd armed for the nearest deadline (the
//! engine's, the log rotator's, the control server's), the control socket
//! (once it could be created) and its clients, the log rotator's inotify
//! descriptor when there is one and the console while output waits for it.
//! Nothing wakes it when nothing happens, and nothing in the loop allocates.
//!
//! It loads the configuration, builds the engine, and carries out what the
//! engine asks for (the emergency shell, the final power step) and what the
//! control server cannot do alone (configuration reload, IOC rescan,
//! re-exec). PID-1-only work goes through [`crate::pid1`].

use std::ffi::CString;
use std::os::fd::{AsFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::PathBuf;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};

use crate::accounts::{self, Key};
use crate::config::{self, Config, Diagnostic, LoadOptions};
use crate::control::protocol::Code;
use crate::control::server::{self, DaemonAction, Policy, Server};
use crate::engine::os::RealOs;
use crate::engine::{plan, BootOptions, Engine, Power, SystemRequest};
use crate::ioc::logrotate::LogRotator;
use crate::layout::Layout;
use crate::pid1::{self, EmergencyShell};
use crate::sys::{self, Pid, SignalFd};

/// How the supervisor was started.
#[derive(Debug, Clone)]
pub struct Options {
    pub config: PathBuf,
    pub ioc_dir: Option<PathBuf>,
    pub strict_epoch: bool,
    pub layout: Layout,
    pub boot: BootOptions,
    /// Run an emergency shell before booting (kernel `shell`).
    pub shell_first: bool,
    /// Resuming after `reexec`: the state file and the listening socket.
    pub resume: Option<(RawFd, RawFd)>,
}

/// What kind of supervisor this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// PID 1 of the machine: mounts, kmsg, Ctrl-Alt-Del, unmount at the end.
    Boot,
    /// PID 1 of a PID namespace (tests, containers): reboot(2) ends the namespace.
    Namespace,
    /// `--local`: an ordinary process, subreaper of its objects; exits at the end.
    Local,
}

fn load(opts: &Options) -> (Option<Config>, Vec<Diagnostic>) {
    let ioc_dir = opts.ioc_dir.clone().or_else(|| opts.layout.local_ioc_dir.clone());
    let load_options = LoadOptions { strict_epoch: opts.strict_epoch, ioc_dir };
    // `iocinit --local` needs no configuration file (epics-ioc-runner's local
    // mode has none): without its default one it serves the IOC files alone.
    // Any other file (--config) must exist, and so must PID 1's.
    let missing = || std::fs::symlink_metadata(&opts.config).is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound);
    let loaded = if opts.layout.local && opts.config == opts.layout.default_config && missing() {
        crate::logging::info!("no {}: serving the IOC files alone", opts.config.display());
        config::load_ioc_files_only(&opts.config, &load_options)
    } else {
        config::load(&opts.config, &load_options)
    };
    (loaded.config, loaded.diagnostics)
}

/// Whether the configuration loads; Err is `what` and its errors.
pub(crate) fn check_config(opts: &Options, what: &str) -> Result<(), String> {
    match load(opts) {
        (Some(_), _) => Ok(()),
        (None, diagnostics) => Err(errors(what, &diagnostics)),
    }
}

/// `what`, then the errors among `diagnostics`: a reply, made in one
/// String (not a `format!` of another at each caller).
fn errors(what: &str, diagnostics: &[Diagnostic]) -> String {
    use std::fmt::Write;
    let (mut text, mut separator) = (String::from(what), "");
    for d in diagnostics.iter().filter(|d| d.is_error()) {
        let _ = write!(text, "{separator}{d}");
        separator = "; ";
    }
    text
}

// Out of line: one copy for the boot, the reload and the IOC rescan.
#[inline(never)]
fn report(diagnostics: &[Diagnostic]) {
    for d in diagnostics {
        if d.is_error() {
            crate::logging::error!("{d}");
        } else {
            crate::logging::warn!("{d}");
        }
    }
}

fn policy(config: &Config, layout: &Layout) -> Policy {
    let ioc_gid = accounts::group(Key::Name(&config.globals.ioc.group)).map(|g| g.gid);
    let owner_uid = if layout.local { nix::unistd::getuid().as_raw() } else { 0 };
    Policy { owner_uid, ioc_gid }
}

fn build_engine(config: Config, layout: &Layout) -> Engine<RealOs> {
    let (plans, problems) = plan::build(&config, layout);
    for p in &problems {
        crate::logging::warn!("{p}");
    }
    let state = CString::new(layout.state_file().into_os_string().into_encoded_bytes()).ok();
    Engine::new(RealOs::new(), config, plans, state)
}

/// What the loop runs with, once the configuration is loaded and the boot
/// begun ([`prepare`]).
struct Prepared {
    signals: SignalFd,
    timer: TimerFd,
    engine: Engine<RealOs>,
    server: Server,
    loop_state: Loop,
    rotator: LogRotator,
}

/// Runs the supervisor. As PID 1 it never returns; under `--local` it
/// returns the exit code after a shutdown.
///
/// The loop's frame holds what the loop keeps and no more: the load and
/// the boot ([`prepare`]) and each event's handling ([`Prepared::event`])
/// are calls of their own, whose frames lie below this one and go back to
/// the kernel before each poll ([`sys::StackRelease`]). Inlined here, their
/// buffers (a request's 4 KiB, the load's, the log rotator's) made this
/// frame 10 KB, resident for PID 1's whole life.
#[inline(never)]
pub fn run(opts: &Options) -> i32 {
    // Used where it is, never moved: each move would be another copy of
    // the engine in this frame.
    let mut prepared = prepare(opts);
    let p = match &mut prepared {
        Ok(p) => p,
        Err(code) => return *code,
    };
    let mut stack = sys::StackRelease::of_caller();
    loop {
        if let Some(code) = p.loop_state.serve_requests(&mut p.engine, &mut p.server) {
            return code;
        }
        p.server.check_waiters(&mut p.engine);
        p.rotator.sync(&p.engine);
        let deadline = [p.engine.next_deadline(), p.rotator.next_deadline(), p.server.next_deadline(), p.loop_state.ioc_rescan.due_ms]
            .into_iter()
            .flatten()
            .min();
        p.loop_state.arm(&p.timer, deadline);
        // What the load and the boot, or the last turn's events, took of the
        // stack below this frame goes back before PID 1 waits, whatever the
        // event: a restart goes 3.5 KB below the loop, a request or a reload
        // as deep as the boot. A page kept under the loop for the events
        // instead made the stack a page larger in most boots with the
        // kernel's random stack offset (docs/ARCHITECTURE.md, "PID 1's
        // memory, page by page"). One madvise a turn, none while idle.
        if let Some(stack) = &mut stack {
            stack.below_caller();
        }
        // Only descriptors that exist are polled; each result goes back to
        // its source.
        let polled = {
            let mut set = PollSet::default();
            set.add(p.signals.as_fd(), PollFlags::POLLIN, Source::Signals);
            set.add(p.timer.as_fd(), PollFlags::POLLIN, Source::Timer);
            // The server, the rotator and the logger own these descriptors for
            // the whole iteration.
            if let Some(fd) = p.rotator.fd() {
                set.add(borrow(fd), PollFlags::POLLIN, Source::Rotator);
            }
            if let Some(fd) = crate::logging::console_fd() {
                set.add(borrow(fd), PollFlags::POLLOUT, Source::Console);
            }
            for (slot, fd, events) in p.server.client_fds() {
                set.add(borrow(fd), events, Source::Client(slot as u8));
            }
            if let Some(fd) = p.server.listener_fd() {
                set.add(borrow(fd), PollFlags::POLLIN, Source::Listener);
            }
            set.wait()
        };
        let ready = match polled {
            Ok(ready) => ready,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => {
                crate::logging::error!("poll: {}", crate::sys::errno_text(e as i32));
                continue;
            }
        };
        // In the order added: new connections last, so a slot freed and
        // taken again in this turn never gets another client's events.
        for &(source, revents) in &ready {
            p.event(source, revents, opts);
        }
    }
}

impl Prepared {
    /// One source's events, in a frame of its own below the loop's (see
    /// [`run`]). A client's request (its buffers), and a reload or an IOC
    /// rescan (which load again, as deep as the boot), go far below it:
    /// that stack goes back to the kernel before the loop polls again.
    #[inline(never)]
    fn event(&mut self, source: Source, revents: PollFlags, opts: &Options) {
        let Prepared { signals, timer, engine, server, loop_state, rotator } = self;
        match source {
            Source::Signals => loop_state.signals(signals, engine),
            Source::Timer => {
                let _ = timer.wait();
                loop_state.armed = None;
                let now = sys::now_ms();
                engine.timer();
                rotator.timer(engine, now);
                server.timer(now);
                if loop_state.ioc_rescan.due_ms.is_some_and(|due| due <= now) {
                    loop_state.ioc_rescan.run(opts, engine, server);
                }
            }
            Source::Rotator => rotator.readable(engine, sys::now_ms()),
            Source::Console => crate::logging::drain_console(),
            Source::Client(slot) => {
                if let Some(action) = server.ready(usize::from(slot), revents, engine) {
                    loop_state.daemon_action(action, opts, engine, server, signals);
                }
            }
            Source::Listener => server.accept(),
        }
    }
}

/// Everything before the loop: signals, the configuration (an emergency
/// shell while it has errors), the boot, the control server, the engine.
/// `Err` is the exit code of a `--local` supervisor that cannot start.
#[inline(never)]
fn prepare(opts: &Options) -> Result<Prepared, i32> {
    let role = if opts.layout.local {
        Role::Local
    } else if std::process::id() == 1 && sys::in_initial_pid_namespace() {
        Role::Boot
    } else {
        Role::Namespace
    };
    sys::cloexec_from(3);
    let signals = match setup_signals() {
        Ok(s) => s,
        Err(e) => {
            crate::logging::error!("unable to set up signal handling: {}", crate::sys::errno_text(e as i32));
            return Err(fatal(role));
        }
    };
    // The dispositions are final now (nothing here changes one later): each
    // child resets only those not at SIG_DFL.
    crate::spawn::note_signal_dispositions();
    if role == Role::Local {
        if !private_run_dir(&opts.layout.run_dir) {
            return Err(1);
        }
        if let Err(e) = crate::sys::become_child_subreaper() {
            crate::logging::warn!("unable to become a subreaper: {}; orphans of objects are not followed", crate::sys::errno_text(e));
        }
    }
    crate::logging::open_console();
    // PID 1 never stops here: it is the first, or owns its namespace.
    if opts.resume.is_none() && std::process::id() != 1 && server::answered(&opts.layout.control_socket) {
        crate::logging::error!("another supervisor answers on {}; not starting a second one", opts.layout.control_socket.display());
        return Err(1);
    }
    if role == Role::Boot {
        crate::logging::open_kmsg();
    }
    let shell = EmergencyShell::new(&plan::base_env(&opts.layout));

    // Load until there is a configuration; as PID 1, a bad one gets an
    // emergency shell and another try when the shell exits. Not after a
    // reexec: the children are running and the control socket is open, so
    // the new image goes on with the handed-over state (see reexec).
    let handed_over = opts.resume.map(|(state_fd, _)| crate::reexec::read_state(own_inherited(state_fd)));
    let mut config = loop {
        let (config, diagnostics) = load(opts);
        report(&diagnostics);
        if let Some(c) = config {
            break c;
        }
        if let Some(state) = &handed_over {
            crate::logging::error!(
                "{}: the configuration has errors; going on with the objects of the previous image until a configreload succeeds",
                opts.config.display()
            );
            break crate::reexec::skeleton(state);
        }
        if role == Role::Local {
            crate::logging::error!("{}: the configuration has errors; not starting", opts.config.display());
            return Err(1);
        }
        pid1::mount_filesystems(&pid1::RESCUE_MOUNTS, &opts.layout.run_dir);
        let tried = std::time::Instant::now();
        run_shell_and_wait(shell.as_ref(), &signals, "the configuration has errors (see above)");
        // A shell without a usable console (stdin at EOF) ends at once: try
        // again at most once a second rather than spin and flood the console.
        if let Some(rest) = std::time::Duration::from_secs(1).checked_sub(tried.elapsed()) {
            std::thread::sleep(rest);
        }
    };
    if role != Role::Local {
        match opts.resume {
            None => boot_system(&config, opts, role),
            // The log file closed on exec (close-on-exec): the new image goes
            // on appending to it.
            Some(_) => open_system_log(&config, opts, false),
        }
    }
    if role != Role::Local && opts.shell_first && opts.resume.is_none() {
        run_shell_and_wait(shell.as_ref(), &signals, "kernel command line asked for a shell");
    }
    // The listener handed over by reexec, or a new one (now, or when it
    // becomes possible: PID 1 boots without it).
    let inherited = opts.resume.map(|(_, fd)| own_inherited(fd));
    let server = Server::new(&opts.layout.control_socket, inherited, policy(&config, &opts.layout));
    let mut engine = build_engine(std::mem::take(&mut config), &opts.layout);
    match &handed_over {
        Some(state) => {
            crate::reexec::restore(&mut engine, state);
            // A child that ended around the exec signalled while SIGCHLD was
            // unblocked and ignored: no signal will come for it.
            while let Some(r) = sys::reap_one() {
                engine.child_exited(r.pid, r.status);
            }
        }
        None => engine.boot(&opts.boot),
    }
    let timer = match TimerFd::new(ClockId::CLOCK_MONOTONIC, TimerFlags::TFD_CLOEXEC | TimerFlags::TFD_NONBLOCK) {
        Ok(t) => t,
        Err(e) => {
            crate::logging::error!("unable to create a timer: {}", crate::sys::errno_text(e as i32));
            return Err(fatal(role));
        }
    };
    let ioc_rescan = IocRescan::default();
    let loop_state = Loop { role, shell, shell_pid: None, armed: None, ioc_rescan };
    let rotator = LogRotator::new(&engine);
    Ok(Prepared { signals, timer, engine, server, loop_state, rotator })
}

/// What a descriptor in the poll set stands for. Two bytes: the set and
/// its results are in the loop's frame, resident for PID 1's whole life
/// (a `usize` slot made each 16 bytes: the two tables' 21 entries took 840
/// bytes, not 126).
#[derive(Debug, Clone, Copy)]
enum Source {
    Signals,
    Timer,
    Rotator,
    Console,
    /// A client's slot of the control server.
    Client(u8),
    Listener,
}

// Every slot's index fits a `Source::Client`.
const _: () = assert!(server::MAX_CLIENTS <= u8::MAX as usize + 1);

const POLL_MAX: usize = server::MAX_CLIENTS + 5;

/// One turn's poll(2) set: the descriptors that exist, each with its source.
#[derive(Default)]
struct PollSet<'a> {
    fds: heapless::Vec<PollFd<'a>, POLL_MAX>,
    sources: heapless::Vec<Source, POLL_MAX>,
}

impl<'a> PollSet<'a> {
    fn add(&mut self, fd: BorrowedFd<'a>, events: PollFlags, source: Source) {
        if self.fds.push(PollFd::new(fd, events)).is_ok() {
            let _ = self.sources.push(source);
        }
    }

    /// Waits for events; the sources that have some, with what they have.
    fn wait(&mut self) -> nix::Result<heapless::Vec<(Source, PollFlags), POLL_MAX>> {
        poll(&mut self.fds, PollTimeout::NONE)?;
        Ok(self
            .fds
            .iter()
            .zip(self.sources.iter())
            .filter_map(|(fd, &source)| fd.revents().filter(|r| !r.is_empty()).map(|r| (source, r)))
            .collect())
    }
}

/// `--local`: the run directory holds the control socket and the consoles,
/// so it must be ours and closed to others (a predictable /tmp fallback could
/// have been created by someone else first). False, and the log line that
/// says why, when it cannot be made so.
fn private_run_dir(dir: &std::path::Path) -> bool {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    // The reason written straight into the log line, not into a String first.
    let refused = |why: std::fmt::Arguments| {
        crate::logging::error!("{}: {why}", dir.display());
        false
    };
    if !dir.exists() {
        if let Err(e) = std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir) {
            return refused(format_args!("cannot create it: {e}"));
        }
    }
    let meta = match std::fs::symlink_metadata(dir) {
        Ok(meta) => meta,
        Err(e) => return refused(format_args!("{e}")),
    };
    if !meta.is_dir() || meta.uid() != nix::unistd::getuid().as_raw() {
        return refused(format_args!("not a directory owned by you; refusing to put sockets there"));
    }
    if meta.mode() & 0o022 != 0 {
        if let Err(e) = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)) {
            return refused(format_args!("cannot make it private: {e}"));
        }
    }
    true
}

/// When PID 1 cannot even set up its loop, it must still not exit.
fn fatal(role: Role) -> i32 {
    if role == Role::Local {
        return 1;
    }
    crate::logging::error!("cannot supervise; staying alive and reaping");
    loop {
        while sys::reap_one().is_some() {}
        nix::unistd::pause();
    }
}

/// Mounts, names, banner, logging: what happens before the first object.
fn boot_system(config: &Config, opts: &Options, role: Role) {
    pid1::mount_filesystems(&config.globals.mount_virtual, &opts.layout.run_dir);
    if role == Role::Boot {
        // An initramfs has no /dev/kmsg before devtmpfs is mounted: the
        // first try, before the configuration, found none.
        crate::logging::open_kmsg();
        pid1::set_names(config);
        pid1::set_cad(config.globals.disable_cad);
    }
    pid1::banner(config);
    open_system_log(config, opts, config.globals.blank_log_on_boot);
}

/// EnableLogging: the system log file (emptied first when `blank`).
fn open_system_log(config: &Config, opts: &Options, blank: bool) {
    if config.globals.enable_logging {
        if let Ok(path) = CString::new(opts.layout.system_log.clone().into_os_string().into_encoded_bytes()) {
            if let Err(e) = crate::logging::open_file(&path, blank) {
                crate::logging::warn!("unable to open {}: {}", opts.layout.system_log.display(), crate::sys::errno_text(e));
            }
        }
    }
}

fn setup_signals() -> nix::Result<SignalFd> {
    let mut mask = SigSet::empty();
    for s in [
        Signal::SIGCHLD,
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGHUP,
        Signal::SIGUSR1,
        Signal::SIGUSR2,
        Signal::SIGPWR,
        Signal::SIGQUIT,
        Signal::SIGPIPE,
    ] {
        mask.add(s);
    }
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&mask), None)?;
    SignalFd::new(mask.as_ref()).map_err(nix::errno::Errno::from_raw)
}

/// Waits for the emergency shell to exit, reaping everything meanwhile.
fn run_shell_and_wait(shell: Option<&EmergencyShell>, signals: &SignalFd, reason: &str) {
    let pid = shell.and_then(|s| s.spawn(reason));
    loop {
        let mut fds = [PollFd::new(signals.as_fd(), PollFlags::POLLIN)];
        let _ = poll(&mut fds, PollTimeout::NONE);
        while signals.read_signal().is_some() {}
        while let Some(r) = sys::reap_one() {
            if Some(r.pid) == pid {
                return;
            }
        }
        if pid.is_none() {
            // No shell could run: retry after a pause rather than spin.
            std::thread::sleep(std::time::Duration::from_secs(5));
            return;
        }
    }
}

#[allow(unsafe_code)]
fn borrow<'a>(fd: RawFd) -> BorrowedFd<'a> {
    // SAFETY: only used for descriptors owned by the server, which outlive
    // the poll call they are borrowed for.
    unsafe { BorrowedFd::borrow_raw(fd) }
}

#[allow(unsafe_code)]
fn own_inherited(fd: RawFd) -> OwnedFd {
    // SAFETY: a descriptor handed to us across exec by `reexec`.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

struct Loop {
    role: Role,
    shell: Option<EmergencyShell>,
    shell_pid: Option<Pid>,
    armed: Option<u64>,
    ioc_rescan: IocRescan,
}

impl Loop {
    /// Arms the one timer for the nearest deadline (or disarms it).
    fn arm(&mut self, timer: &TimerFd, deadline: Option<u64>) {
        if self.armed == deadline {
            return;
        }
        self.armed = deadline;
        let result = match deadline {
            // An absolute CLOCK_MONOTONIC time; at least 1 ns (0 would disarm).
            // A deadline past what time_t holds (32 bits on armv7 musl; a
            // STOPTIMEOUT of a billion seconds) is armed at the latest time
            // that fits: the loop wakes then, finds nothing due, re-arms.
            // (On 32-bit musl the libc crate's time_t is the deprecated
            // 32-bit compat type, the one TimeSpec holds there.)
            Some(ms) => {
                #[allow(deprecated)]
                let (secs, nanos) = match libc::time_t::try_from(ms / 1000) {
                    Ok(secs) => (secs, ((ms % 1000) * 1_000_000).max(1)),
                    Err(_) => (libc::time_t::MAX, 0),
                };
                timer.set(Expiration::OneShot(TimeSpec::new(secs, nanos as _)), TimerSetTimeFlags::TFD_TIMER_ABSTIME)
            }
            None => timer.unset(),
        };
        if let Err(e) = result {
            crate::logging::error!("timer: {}", crate::sys::errno_text(e as i32));
        }
    }

    // Out of line: its frame only below the loop's, while it runs ([`run`]).
    #[inline(never)]
    fn signals(&mut self, signals: &SignalFd, engine: &mut Engine<RealOs>) {
        while let Some(info) = signals.read_signal() {
            match info.ssi_signo as i32 {
                libc::SIGCHLD => {}
                // BusyBox's and sysvinit's conventions for init.
                libc::SIGTERM if self.role == Role::Local => engine.shutdown(Power::Poweroff),
                libc::SIGINT if self.role == Role::Local => engine.shutdown(Power::Poweroff),
                libc::SIGTERM => engine.shutdown(Power::Reboot),
                libc::SIGUSR1 => engine.shutdown(Power::Halt),
                libc::SIGUSR2 | libc::SIGPWR => engine.shutdown(Power::Poweroff),
                // Ctrl-Alt-Del: ours only with DisableCAD.
                libc::SIGINT if engine.cad_enabled() => engine.ctrl_alt_del(),
                _ => {}
            }
        }
        while let Some(r) = sys::reap_one() {
            if Some(r.pid) == self.shell_pid {
                self.shell_pid = None;
                crate::logging::info!("emergency shell exited; continuing");
                engine.resume();
            } else {
                engine.child_exited(r.pid, r.status);
            }
        }
    }

    /// Carries out what the engine asked for. `Some(code)` ends `--local`.
    // Out of line: its frame only below the loop's, while it runs ([`run`]).
    #[inline(never)]
    fn serve_requests(&mut self, engine: &mut Engine<RealOs>, server: &mut Server) -> Option<i32> {
        while let Some(request) = engine.take_request() {
            match request {
                SystemRequest::Ready => crate::logging::info!("ready"),
                // The kernel's setting is the machine's: only a real boot's.
                SystemRequest::ApplyCad if self.role == Role::Boot => pid1::set_cad(engine.cad_enabled()),
                SystemRequest::ApplyCad => {}
                SystemRequest::Emergency(reason) => {
                    if self.role == Role::Local {
                        crate::logging::error!("{reason}; no emergency shell under --local, continuing");
                        engine.resume();
                    } else {
                        self.shell_pid = self.shell.as_ref().and_then(|s| s.spawn(&reason));
                        if self.shell_pid.is_none() {
                            engine.resume();
                        }
                    }
                }
                SystemRequest::Power(power) => {
                    server.finish(Code::Ok, "", engine);
                    if self.role == Role::Local {
                        crate::logging::info!("stopped");
                        return Some(0);
                    }
                    pid1::final_power(power, self.role == Role::Boot);
                }
            }
        }
        None
    }

    // Out of line: its frame only below the loop's, while it runs ([`run`]).
    #[inline(never)]
    fn daemon_action(&mut self, action: DaemonAction, opts: &Options, engine: &mut Engine<RealOs>, server: &mut Server, signals: &SignalFd) {
        match action {
            DaemonAction::ConfigReload => reload(opts, engine, server, &mut self.ioc_rescan),
            DaemonAction::IocRescan => {
                if self.ioc_rescan.request(sys::now_ms()) {
                    self.ioc_rescan.run(opts, engine, server);
                }
            }
            DaemonAction::Reexec => {
                // Every object has settled if the exec happens: answer every
                // waiter now, as no client connection survives the exec.
                server.check_waiters(engine);
                let err = crate::reexec::reexec(opts, engine, server, signals);
                server.finish(Code::Fail, &format!("reexec failed: {err}"), engine);
            }
        }
    }
}

/// Transactional reload: everything is parsed first; on any error the
/// running configuration stays and the client hears why.
fn reload(opts: &Options, engine: &mut Engine<RealOs>, server: &mut Server, ioc_rescan: &mut IocRescan) {
    let (config, diagnostics) = load(opts);
    report(&diagnostics);
    let Some(config) = config else {
        server.finish(Code::Fail, &errors("configuration not reloaded: ", &diagnostics), engine);
        return;
    };
    server.set_policy(policy(&config, &opts.layout));
    // The IOC directory was read with it: a rescan still waiting has been
    // answered by this reload and need not run.
    ioc_rescan.due_ms = None;
    replace_config(opts, engine, server, config, diagnostics.len(), "configuration reloaded", "warning");
    crate::logging::info!("configuration reloaded from {}", opts.config.display());
}

/// Puts a configuration that loaded in place (reload and IOC rescan) and
/// answers the clients waiting for it: `done`, or `done with N what(s)` when
/// the load (`diagnostics`) or the plans had something to say.
fn replace_config(opts: &Options, engine: &mut Engine<RealOs>, server: &mut Server, config: Config, diagnostics: usize, done: &str, what: &str) {
    // Answer who can be answered before objects that are down leave the
    // table: a waiter whose object settled this turn gets its result.
    server.check_waiters(engine);
    let mut problems = Vec::new();
    engine.replace_config(config, |config| {
        let (plans, found) = plan::build(config, &opts.layout);
        problems = found;
        plans
    });
    for p in &problems {
        crate::logging::warn!("{p}");
    }
    let warnings = diagnostics + problems.len();
    if warnings == 0 {
        server.finish(Code::Ok, done, engine);
    } else {
        server.finish(Code::Warn, &format!("{done} with {warnings} {what}(s) (see the log)"), engine);
    }
}

/// The IOC rescan that members of the IOC group may ask for (`ioc install`,
/// `ioc remove`, `ioc rescan`): the IOC directory is read again on top of
/// the epoch.conf part of the configuration root last loaded ([`rescan_base`]);
/// epoch.conf itself, which root may be half-way through editing, is not
/// read. At most one rescan runs per [`IocRescan::INTERVAL_MS`]: a request
/// that comes sooner waits, and the next rescan answers every waiting client.
#[derive(Default)]
struct IocRescan {
    last_ms: Option<u64>,
    /// When the next rescan runs, while requests wait for it.
    due_ms: Option<u64>,
}

impl IocRescan {
    const INTERVAL_MS: u64 = 1000;

    /// A client asked for a rescan at `now`: true when it may run at once;
    /// otherwise it is due at the end of the interval.
    fn request(&mut self, now: u64) -> bool {
        match self.last_ms.map(|last| last.saturating_add(Self::INTERVAL_MS)) {
            Some(next) if next > now => {
                self.due_ms = Some(next);
                false
            }
            _ => true,
        }
    }

    /// Rescans and answers every client waiting for it. Transactional like
    /// a reload: when the directory cannot be listed, the IOCs stay as they are.
    fn run(&mut self, opts: &Options, engine: &mut Engine<RealOs>, server: &mut Server) {
        self.last_ms = Some(sys::now_ms());
        self.due_ms = None;
        let loaded = config::rescan_iocs_with(&config::RealFs, rescan_base(engine));
        report(&loaded.diagnostics);
        let Some(config) = loaded.config else {
            server.finish(Code::Fail, &errors("IOC directory not rescanned: ", &loaded.diagnostics), engine);
            return;
        };
        replace_config(opts, engine, server, config, loaded.diagnostics.len(), "IOC directory rescanned", "problem");
        crate::logging::info!("IOC directory {} rescanned", engine.config().globals.ioc.directory.display());
    }
}

/// The epoch.conf part of the running configuration, what an IOC rescan
/// reads the IOC directory on top of: without the objects of IOC files, nor
/// those a reload removed that are kept only until they stop. Made when a
/// rescan runs rather than kept beside the engine's (a second copy of every
/// object for the whole run): the one copy a rescan makes, the engine's
/// staying in place until the rescanned one replaces it.
fn rescan_base(engine: &Engine<RealOs>) -> Config {
    let mut loaded = engine.config().clone();
    let mut states = engine.objects().iter();
    loaded.objects.retain(|_| states.next().is_some_and(|st| !st.removed));
    loaded.without_ioc_files()
}

#[cfg(test)]
mod tests {
    use super::IocRescan;

    #[test]
    fn ioc_rescans_run_at_most_once_per_interval() {
        let mut rescan = IocRescan::default();
        assert!(rescan.request(5000), "the first runs at once");
        rescan.last_ms = Some(5000);
        assert!(!rescan.request(5200), "one more within the interval waits");
        assert!(!rescan.request(5900), "and so does the next: the same rescan answers both");
        assert_eq!(rescan.due_ms, Some(6000));
        assert!(rescan.request(6000), "after the interval, at once again");
    }
}
