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
        require_root();
        let bin = dir.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        for name in ["ioc", "epoch", "poweroff", "reboot", "halt", "shutdown", "killall5"] {
            let _ = std::os::unix::fs::symlink(shared_bin(), bin.join(name));
        }
        let console = std::fs::File::create(dir.join("console.log")).unwrap();
        let mut cmd = Command::new("unshare");
        cmd.args(["--fork", "--pid", "--mount", "--mount-proc", "--kill-child"])
            .arg(BIN)
            .arg("--config")
            .arg(dir.join("epoch.conf"))
            .arg("--run-dir")
            .arg(dir.join("run"))
            .arg("--state-dir")
            .arg(dir.join("state"))
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
        let p = Pid1 { dir: dir.to_path_buf(), child: Some(child), host_pid, bin };
        assert!(
            wait_for(Duration::from_secs(10), || p.socket().exists()),
            "no control socket; console:\n{}",
            p.console()
        );
        p
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.join("run/iocinit/control")
    }

    pub fn console(&self) -> String {
        std::fs::read_to_string(self.dir.join("console.log")).unwrap_or_default()
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
        assert!(out.status.success() || killed_by_the_end, "poweroff: {} {}", out.status, String::from_utf8_lossy(&out.stderr));
        self.wait_end(Duration::from_secs(30));
        let console = self.console();
        assert!(!killed_by_the_end || console.contains("iocinit: power off"), "poweroff client killed, no power off:\n{console}");
        console
    }

    /// Waits for the namespace to end by itself.
    pub fn wait_end(&mut self, timeout: Duration) {
        let mut child = self.child.take().expect("running");
        let ended = wait_for(timeout, || child.try_wait().ok().flatten().is_some());
        if !ended {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the namespace did not end; console:\n{}", self.console());
        }
    }
}

impl Drop for Pid1 {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // --kill-child: unshare's death SIGKILLs PID 1, ending the namespace.
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
