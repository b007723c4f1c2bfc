//! Test harness: the real iocinit binary as PID 1 of a fresh PID and mount
//! namespace (`unshare --fork --pid --mount --mount-proc`), with its own
//! configuration, run, state and log directories under target/. Commands
//! run inside the namespace with `nsenter`, so the pids they see and print
//! are the namespace's. Needs root (CI runs as root).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_iocinit");

/// Whether every directory above `path` is searchable by others and the
/// file itself is readable and executable by them (users other than root run
/// it: an IOC's user, a group member, a --local user).
pub fn world_reachable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).map(|m| m.permissions().mode()).unwrap_or(0);
    mode(path) & 0o005 == 0o005 && path.ancestors().skip(1).all(|dir| mode(dir) & 0o001 != 0)
}

/// The iocinit binary as other users can run it: BIN itself, or (when the
/// checkout is under a private directory such as /root) a copy under
/// /var/tmp, one per checkout, replaced atomically by each test binary.
pub fn shared_bin() -> PathBuf {
    static COPY: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    COPY.get_or_init(|| {
        use std::hash::{Hash, Hasher};
        let bin = PathBuf::from(BIN);
        if world_reachable(&bin) {
            return bin;
        }
        let mut h = std::collections::hash_map::DefaultHasher::new();
        BIN.hash(&mut h);
        let dir = PathBuf::from(format!("/var/tmp/iocinit-tests-bin-{:016x}", h.finish()));
        std::fs::create_dir_all(&dir).unwrap();
        let copy = dir.join("iocinit");
        let tmp = dir.join(format!("iocinit.{}", std::process::id()));
        std::fs::copy(&bin, &tmp).unwrap();
        std::fs::rename(&tmp, &copy).unwrap();
        copy
    })
    .clone()
}

pub fn require_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "these tests run iocinit as PID 1 of a PID namespace and need root (CI runs them as root)"
    );
}

/// A scratch directory under target/, fresh for each test.
pub fn scratch(name: &str) -> PathBuf {
    let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let dir = base.join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub struct Pid1 {
    pub dir: PathBuf,
    child: Option<Child>,
    /// The host's pid of the namespace's PID 1.
    pub host_pid: i32,
    /// A directory of multi-call links (ioc, epoch, poweroff, ...).
    pub bin: PathBuf,
}

/// Writes `text` to `dir/rel`, with `@DIR@` replaced by `dir`.
pub fn write(dir: &Path, rel: &str, text: &str) -> PathBuf {
    let path = dir.join(rel);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&path, text.replace("@DIR@", dir.to_str().unwrap())).unwrap();
    path
}

/// The content of `dir/rel`, empty if there is none (yet).
pub fn read(dir: &Path, rel: &str) -> String {
    std::fs::read_to_string(dir.join(rel)).unwrap_or_default()
}

pub fn write_exec(dir: &Path, rel: &str, text: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = write(dir, rel, text);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn children_of(pid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(p) = entry.file_name().to_string_lossy().parse::<i32>() else { continue };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else { continue };
        let Some(close) = stat.rfind(')') else { continue };
        let ppid: i32 = stat[close + 2..].split_whitespace().nth(1).and_then(|v| v.parse().ok()).unwrap_or(0);
        if ppid == pid {
            out.push(p);
        }
    }
    out
}

pub fn wait_for(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() > end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Pid1 {
    /// Boots `dir/epoch.conf` (write it, and anything else, first) as PID 1
    /// of a new namespace, with `extra` arguments; waits for the control
    /// socket.
    pub fn boot(dir: &Path, extra: &[&str]) -> Pid1 {
        Pid1::boot_with(dir, extra, None)
    }

    /// [`Pid1::boot`], with a shell `setup` script run first as the
    /// namespace's PID 1, which then execs iocinit (e.g. bind mounts over
    /// /etc/passwd: the mount namespace is private).
    pub fn boot_with(dir: &Path, extra: &[&str], setup: Option<&str>) -> Pid1 {
        let p = Pid1::spawn(dir, extra, setup);
        p.wait_socket();
        p
    }

    /// Starts PID 1 without waiting for its control socket (a bad
    /// configuration, say). The system log goes to `dir/system.log`.
    pub fn spawn(dir: &Path, extra: &[&str], setup: Option<&str>) -> Pid1 {
        let console = std::fs::File::create(dir.join("console.log")).unwrap();
        Pid1::spawn_on(dir, extra, setup, console.into())
    }

    /// [`Pid1::spawn`] with PID 1's stdout and stderr on `console` (a pipe,
    /// a terminal) instead of `dir/console.log`.
    pub fn spawn_on(dir: &Path, extra: &[&str], setup: Option<&str>, console: std::os::fd::OwnedFd) -> Pid1 {
        require_root();
        let bin = dir.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        for name in ["ioc", "epoch", "poweroff", "reboot", "halt", "shutdown", "killall5"] {
            let _ = std::os::unix::fs::symlink(shared_bin(), bin.join(name));
        }
        let mut cmd = Command::new("unshare");
        cmd.args(["--fork", "--pid", "--mount", "--mount-proc", "--kill-child"]);
        if let Some(script) = setup {
            cmd.args(["/bin/sh", "-c", &format!("{script}\nexec \"$0\" \"$@\"")]);
        }
        cmd.arg(BIN)
            .arg("--config")
            .arg(dir.join("epoch.conf"))
            .arg("--run-dir")
            .arg(dir.join("run"))
            .arg("--state-dir")
            .arg(dir.join("state"))
            .arg("--system-log")
            .arg(dir.join("system.log"))
            .args(extra)
            .stdin(Stdio::null())
            .stdout(console.try_clone().unwrap())
            .stderr(console);
        let child = cmd.spawn().expect("unshare");
        let unshare = child.id() as i32;
        let mut host_pid = 0;
        assert!(
            wait_for(Duration::from_secs(10), || {
                host_pid = children_of(unshare).first().copied().unwrap_or(0);
                host_pid != 0
            }),
            "no PID 1 appeared"
        );
        Pid1 { dir: dir.to_path_buf(), child: Some(child), host_pid, bin }
    }

    /// Waits for the control socket to accept connections.
    pub fn wait_socket(&self) {
        let ok = wait_for(Duration::from_secs(10), || iocinit::control::client::Client::connect(&self.socket()).is_ok());
        assert!(ok, "no control socket; console:\n{}", self.console());
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.join("run/iocinit/control")
    }

    pub fn console(&self) -> String {
        std::fs::read_to_string(self.dir.join("console.log")).unwrap_or_default()
    }

    /// Everything PID 1 said: its console, then its system log.
    pub fn said(&self) -> String {
        format!("{}\n{}", self.console(), read(&self.dir, "system.log"))
    }

    /// A command inside the namespace (pids are the namespace's).
    pub fn inside(&self, program: &str, args: &[&str]) -> Command {
        let mut c = Command::new("nsenter");
        c.arg("-t").arg(self.host_pid.to_string()).args(["-p", "-m", "--"]).arg(program).args(args);
        c.env("IOCINIT_SOCKET", self.socket());
        c.stdin(Stdio::null());
        c
    }

    pub fn run(&self, program: &str, args: &[&str]) -> Output {
        self.inside(program, args).output().expect("nsenter")
    }

    /// `iocinit VERB ARGS` inside the namespace.
    pub fn ctl(&self, args: &[&str]) -> Output {
        self.run(BIN, args)
    }

    /// `ioc VERB ARGS` inside the namespace.
    pub fn ioc(&self, args: &[&str]) -> Output {
        let ioc = self.bin.join("ioc");
        let mut all: Vec<&str> = args.to_vec();
        let run_dir = self.dir.join("run");
        all.extend(["--run-dir", run_dir.to_str().unwrap()]);
        self.run(ioc.to_str().unwrap(), &all)
    }

    /// `program args` inside the namespace as `user` (with that user's
    /// groups), as a user logged in on the board would run it.
    pub fn inside_as(&self, user: &str, program: &str, args: &[&str]) -> Command {
        let u = nix::unistd::User::from_name(user).unwrap().unwrap_or_else(|| panic!("no user {user}"));
        let (uid, gid) = (u.uid.to_string(), u.gid.to_string());
        let mut all = vec!["--reuid", &uid, "--regid", &gid, "--init-groups", "--", program];
        all.extend(args);
        self.inside("setpriv", &all)
    }

    /// `ioc VERB ARGS` inside the namespace as `user`.
    pub fn ioc_as(&self, user: &str, args: &[&str]) -> Output {
        let ioc = self.bin.join("ioc");
        let run_dir = self.dir.join("run");
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--run-dir", run_dir.to_str().unwrap()]);
        self.inside_as(user, ioc.to_str().unwrap(), &all).output().expect("nsenter")
    }

    /// The host pids of every process in the namespace, PID 1 included.
    pub fn host_pids(&self) -> Vec<i32> {
        let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
        entries
            .flatten()
            .filter_map(|e| e.file_name().to_string_lossy().parse::<i32>().ok())
            .filter(|&p| self.in_namespace(p))
            .collect()
    }

    pub fn sh(&self, script: &str) -> Output {
        self.run("/bin/sh", &["-c", script])
    }

    /// `status --json` of one object.
    pub fn status(&self, id: &str) -> serde_json::Value {
        let out = self.ctl(&["status", id, "--json"]);
        assert!(out.status.success(), "status {id}: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).expect("status json")
    }

    pub fn state(&self, id: &str) -> String {
        self.status(id)["state"].as_str().unwrap_or("").to_string()
    }

    pub fn pid(&self, id: &str) -> Option<i64> {
        self.status(id)["pid"].as_i64()
    }

    /// Waits until object `id` is in `state`.
    pub fn wait_state(&self, id: &str, state: &str, timeout: Duration) {
        let mut last = String::new();
        let ok = wait_for(timeout, || {
            last = self.state(id);
            last == state
        });
        assert!(ok, "{id} is {last}, not {state}; console:\n{}", self.console());
    }

    pub fn wait_console(&self, text: &str, timeout: Duration) {
        assert!(wait_for(timeout, || self.console().contains(text)), "console never showed {text:?}:\n{}", self.console());
    }

    /// The host pid of a namespace pid.
    pub fn host_pid_of(&self, ns_pid: i64) -> Option<i32> {
        for entry in std::fs::read_dir("/proc").ok()?.flatten() {
            let Ok(p) = entry.file_name().to_string_lossy().parse::<i32>() else { continue };
            let Ok(status) = std::fs::read_to_string(format!("/proc/{p}/status")) else { continue };
            let Some(line) = status.lines().find(|l| l.starts_with("NSpid:")) else { continue };
            let ids: Vec<i64> = line.split_whitespace().skip(1).filter_map(|v| v.parse().ok()).collect();
            if ids.len() >= 2 && ids.last() == Some(&ns_pid) && self.in_namespace(p) {
                return Some(p);
            }
        }
        None
    }

    fn in_namespace(&self, host_pid: i32) -> bool {
        let ns = |p: i32| std::fs::read_link(format!("/proc/{p}/ns/pid")).ok();
        ns(host_pid).is_some() && ns(host_pid) == ns(self.host_pid)
    }

    /// Every process in the namespace (namespace pids), PID 1 included.
    pub fn processes(&self) -> Vec<(i64, String)> {
        let out = self.run("/bin/ps", &["-eo", "pid=,stat=,args="]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| {
                let l = l.trim_start();
                let (pid, rest) = l.split_once(' ')?;
                Some((pid.parse().ok()?, rest.trim().to_string()))
            })
            .filter(|(_, cmd)| !cmd.contains("ps -eo"))
            .collect()
    }

    /// Asks PID 1 to power off and waits for the namespace to end.
    pub fn poweroff(mut self) -> String {
        use std::os::unix::process::ExitStatusExt;
        let out = self.run(self.bin.join("poweroff").to_str().unwrap(), &[]);
        // The client runs inside the namespace: when PID 1 is done and exits,
        // the kernel SIGKILLs whatever is left there, the client too if it has
        // not exited yet. That is a power off, not a failure.
        let killed_by_the_end = out.status.signal() == Some(libc::SIGKILL);
        assert!(power_request_ok(&out), "poweroff: {} {}", out.status, String::from_utf8_lossy(&out.stderr));
        self.wait_end(Duration::from_secs(30));
        let console = self.console();
        assert!(!killed_by_the_end || console.contains("iocinit: power off"), "poweroff client killed, no power off:\n{console}");
        console
    }

    /// Waits for the namespace to end by itself.
    pub fn wait_end(&mut self, timeout: Duration) {
        self.wait_exit(timeout);
    }

    /// Waits for the namespace to end by itself; how `unshare` ended
    /// (it re-raises PID 1's fatal signal: reboot(2) in a PID namespace
    /// kills PID 1 with SIGHUP for a restart, SIGINT for a halt or power off).
    pub fn wait_exit(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("running");
        let mut status = None;
        let ended = wait_for(timeout, || {
            status = child.try_wait().ok().flatten();
            status.is_some()
        });
        if !ended {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the namespace did not end; console:\n{}", self.console());
        }
        status.unwrap()
    }

    /// Whether the namespace is still there.
    pub fn alive(&mut self) -> bool {
        self.child.as_mut().is_some_and(|c| c.try_wait().ok().flatten().is_none())
    }

    /// `iocinit ARGS` inside the namespace as user and group 65534 (nobody)
    /// without supplementary groups.
    pub fn ctl_as_nobody(&self, args: &[&str]) -> Output {
        let socket = self.socket_for_everyone();
        let mut all = vec!["--reuid=65534", "--regid=65534", "--clear-groups", BIN];
        all.extend_from_slice(args);
        all.extend(["--socket", socket.to_str().unwrap()]);
        self.run("setpriv", &all)
    }

    /// The control socket at a path every user can reach: the test directory
    /// may sit below one that only root may enter (a checkout in /root), so
    /// then the run directory is bound, in the namespace only, below /tmp.
    pub fn socket_for_everyone(&self) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let open = self.socket().ancestors().skip(1).all(|d| std::fs::metadata(d).is_ok_and(|m| m.permissions().mode() & 0o001 != 0));
        if open {
            return self.socket();
        }
        let alt = PathBuf::from(format!("/tmp/iocinit-ns-{}", self.host_pid));
        let socket = alt.join("iocinit/control");
        if !Path::new(&format!("/proc/{}/root{}", self.host_pid, socket.display())).exists() {
            std::fs::create_dir_all(&alt).unwrap();
            std::fs::set_permissions(&alt, std::fs::Permissions::from_mode(0o755)).unwrap();
            let run = self.dir.join("run");
            let out = self.run("mount", &["--bind", run.to_str().unwrap(), alt.to_str().unwrap()]);
            assert!(out.status.success(), "bind mount: {out:?}");
        }
        socket
    }

    /// One request to PID 1 over its control socket, from the test process
    /// itself (root): for requests the CLI does not phrase, such as a power
    /// request with a delay in milliseconds.
    pub fn request(&self, verb: iocinit::control::protocol::Verb, args: &[&str]) -> iocinit::control::client::Reply {
        let mut client = iocinit::control::client::Client::connect(&self.socket()).expect("connect");
        client.request(verb, 0, args, Some(Duration::from_secs(30))).expect("request")
    }

    /// A field of /proc/<PID 1>/status (host view), as a number.
    pub fn status_field(&self, name: &str) -> u64 {
        proc_status_field(self.host_pid, name).unwrap_or_else(|| panic!("no {name} in /proc/{}/status", self.host_pid))
    }

    /// Open descriptors of PID 1.
    pub fn fd_count(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.host_pid)).map(|d| d.count()).unwrap_or(0)
    }

    /// Voluntary plus involuntary context switches of PID 1 so far.
    pub fn context_switches(&self) -> u64 {
        self.status_field("voluntary_ctxt_switches") + self.status_field("nonvoluntary_ctxt_switches")
    }

    /// Namespace processes in state Z (zombies), as `ps` lines.
    pub fn zombies(&self) -> Vec<(i64, String)> {
        let out = self.run("/bin/ps", &["-eo", "pid=,stat=,args="]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| {
                let mut w = l.split_whitespace();
                let pid: i64 = w.next()?.parse().ok()?;
                let stat = w.next()?;
                stat.starts_with('Z').then(|| (pid, l.trim().to_string()))
            })
            .collect()
    }

    /// The check after every adversarial test: PID 1 is alive, `epoch
    /// status` answers within 1 s, no zombie is left, and PID 1's descriptor
    /// count is back to `fds` (taken before the attack). Descriptors may take
    /// a moment to close (a client slot freed on its next event), so the
    /// count is awaited for up to 5 s.
    #[track_caller]
    pub fn assert_healthy(&mut self, fds: usize) {
        assert!(self.alive(), "PID 1 is gone; console:\n{}", self.console());
        let t0 = Instant::now();
        let out = self.ctl(&["status"]);
        let took = t0.elapsed();
        assert!(out.status.success(), "status failed: {out:?}; console:\n{}", self.console());
        assert!(took < Duration::from_secs(1), "status took {took:?}");
        let mut zombies = Vec::new();
        let settled = wait_for(Duration::from_secs(5), || {
            zombies = self.zombies();
            zombies.is_empty()
        });
        assert!(settled, "zombies left: {zombies:?}");
        let now = self.fds_at_rest();
        assert_eq!(now, fds, "PID 1 holds {now} descriptors, {fds} before");
    }

    /// PID 1's descriptor count once it is quiet: the same over half a
    /// second. A client's connection (the harness's own `status` calls too)
    /// closes on PID 1's next turn after the client exits, not at once.
    #[track_caller]
    pub fn fds_at_rest(&self) -> usize {
        self.at_rest("descriptor count", Pid1::fd_count)
    }

    /// PID 1's context switches once it is quiet: none over half a second.
    /// Its last replies and the closes of their connections take their
    /// turns first, later on a loaded machine.
    #[track_caller]
    pub fn context_switches_at_rest(&self) -> u64 {
        self.at_rest("context switch count", Pid1::context_switches)
    }

    /// `value` of PID 1 once it is the same over half a second (within 20 s).
    #[track_caller]
    fn at_rest<T: PartialEq>(&self, what: &str, value: impl Fn(&Pid1) -> T) -> T {
        let mut last = (value(self), Instant::now());
        let settled = wait_for(Duration::from_secs(20), || {
            let now = value(self);
            if now != last.0 {
                last = (now, Instant::now());
            }
            last.1.elapsed() >= Duration::from_millis(500)
        });
        assert!(settled, "PID 1's {what} does not settle");
        last.0
    }

    /// The namespace pid of the first process whose command line contains
    /// `needle` (PID 1 and the search itself excluded).
    pub fn find_process(&self, needle: &str) -> Option<i64> {
        self.processes().into_iter().find(|(pid, cmd)| *pid != 1 && cmd.contains(needle)).map(|(pid, _)| pid)
    }
}

/// Whether a halt/reboot/poweroff command was accepted: it exits 0, or the
/// shutdown it asked for ends it first. A client inside the namespace may
/// not have exited yet (a loaded machine preempts it right after its
/// request) when the shutdown sends every process its SIGTERM, or when the
/// end of the namespace SIGKILLs what is left. A request refused leaves
/// PID 1 running, which the caller's wait for its exit then shows.
pub fn power_request_ok(out: &Output) -> bool {
    use std::os::unix::process::ExitStatusExt;
    out.status.success() || matches!(out.status.signal(), Some(libc::SIGTERM | libc::SIGKILL))
}

/// A numeric field (first number) of /proc/PID/status.
pub fn proc_status_field(pid: i32, name: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = text.lines().find(|l| l.split(':').next() == Some(name))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Asserts that a command succeeded; returns its stdout.
#[track_caller]
pub fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl Drop for Pid1 {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // --kill-child: unshare's death SIGKILLs PID 1, ending the namespace.
            let _ = child.kill();
            let _ = child.wait();
        }
        // The mount point of socket_for_everyone, empty once the namespace is gone.
        let _ = std::fs::remove_dir(format!("/tmp/iocinit-ns-{}", self.host_pid));
    }
}

/// How many rounds a storm or power-cut test runs: `default` in a plain
/// `cargo test` (CI's 2-core budget), `full` (the hardening issue's counts)
/// when IOCINIT_STORM_FULL=1.
pub fn rounds(default: usize, full: usize) -> usize {
    if std::env::var("IOCINIT_STORM_FULL").is_ok_and(|v| v == "1") {
        full
    } else {
        default
    }
}

/// A random number below `bound` (getrandom), for random kill points.
pub fn random_below(bound: u64) -> u64 {
    iocinit::sys::random_u64().expect("getrandom") % bound.max(1)
}

/// SIGKILL to a host process (a writer, PID 1 of a namespace).
pub fn sigkill(host_pid: i32) {
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(host_pid), nix::sys::signal::Signal::SIGKILL);
}
