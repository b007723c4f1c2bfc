//! Fuzzes the control protocol server against the real engine: the input is
//! a sequence of steps (raw request packets, well-formed requests built from
//! the configuration's own names, children exiting, time passing, clients
//! hanging up, configuration reloads) played against the real `Server` and
//! `Engine`, connected through real SOCK_SEQPACKET sockets, with the OS seam
//! ([`Os`]) faked: nothing is spawned or signalled.
//!
//! After every step: every message a client got decodes with the client's
//! decoder and ends in at most one End per request; every object has one
//! state that matches what it tracks (a down object tracks no process, a
//! running one its main process); no process is tracked by two objects or
//! after it was reaped; every object's handle resolves to itself. At the end,
//! once processes have ended and every object has settled, every request
//! of a client still connected has had its End; when the clients hang up,
//! every slot is free again (the server is kept for the next input).
//!
//! Input: steps of one opcode byte and its operands (see the match below).
#![no_main]

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::{CStr, CString};
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::Path;
use std::sync::OnceLock;

use iocinit::config::{load_with, Config, LoadOptions, MemFs};
use iocinit::control::protocol::{Kind, Message, Request, Verb, ARG_MAX, FLAG_WAIT, MSG_MAX};
use iocinit::control::server::{self, DaemonAction, Policy, Server};
use iocinit::control::protocol::Code;
use iocinit::engine::os::{ConsoleRefusal, HostName, Os, ProcInfo};
use iocinit::engine::plan::{self, ConsolePlan, ObjectPlan};
use iocinit::engine::object::State;
use iocinit::engine::{BootOptions, Engine, SystemRequest};
use iocinit::layout::Layout;
use iocinit::spawn::{Command, Options, SpawnError};
use iocinit::sys::{ExitStatus, Pid};
use libfuzzer_sys::fuzz_target;
use nix::poll::{poll, PollFd, PollTimeout};
use nix::sys::socket::{self, AddressFamily, MsgFlags, SockFlag, SockType, UnixAddr};

/// Every kind of object the engine knows, from CONFIG.md's examples.
const EPOCH_CONF: &str = "\
DefaultRunlevel default
RunlevelInherits maint default
IocUser nobody
ObjectID mounts
ObjectStartCommand /bin/mount -a
ObjectStartPriority 1
ObjectRunlevels default
ObjectEnabled true
ObjectID ntpd
ObjectDescription Network time
ObjectStartCommand /usr/sbin/ntpd -g
ObjectStopCommand PID
ObjectStartPriority 2
ObjectStopPriority 3
ObjectRunlevels default maint
ObjectOptions FORK AUTORESTART STOPTIMEOUT=2
ObjectEnabled true
ObjectID sshd
ObjectDescription=OpenSSH server
ObjectStartCommand /usr/sbin/sshd -D
ObjectPrestartCommand /bin/true
ObjectStopCommand /bin/kill-sshd
ObjectReloadCommand SIGHUP
ObjectStartPriority 2
ObjectRunlevels default
ObjectOptions FORK STARTTIMEOUT=5
ObjectEnabled true
ObjectID daemon
ObjectStartCommand /usr/sbin/daemon
ObjectStopCommand PIDFILE
ObjectPIDFile /run/daemon.pid
ObjectReloadCommand /bin/reload-daemon
ObjectStartPriority 3
ObjectRunlevels maint
ObjectOptions SERVICE
ObjectEnabled true
ObjectID once
ObjectStartCommand /bin/once
ObjectStartPriority 3
ObjectRunlevels default
ObjectOptions RUNONCE MAPEXITSTATUS=3,WARNING
ObjectEnabled true
ObjectID halt-only
ObjectStopCommand /bin/sync
ObjectRunlevels default
ObjectOptions HALTONLY
ObjectEnabled true
ObjectID off
ObjectStartCommand /bin/off
ObjectRunlevels default
ObjectEnabled false
";

/// The configuration a reload switches to: one object gone (perhaps still
/// running), one new, one changed.
const EPOCH_CONF_RELOADED: &str = "\
DefaultRunlevel default
IocUser nobody
ObjectID mounts
ObjectStartCommand /bin/mount -a
ObjectStartPriority 1
ObjectRunlevels default
ObjectEnabled true
ObjectID ntpd
ObjectStartCommand /usr/sbin/ntpd -g -x
ObjectStopCommand PID
ObjectRunlevels default
ObjectOptions FORK
ObjectEnabled true
ObjectID newcomer
ObjectStartCommand /bin/newcomer
ObjectRunlevels default
ObjectOptions FORK AUTORESTART
ObjectEnabled true
";

const IOC_FILE: &str = "\
IOC_NAME=\"vac1\"
IOC_USER=\"nobody\"
IOC_CHDIR=\"/opt/epics/iocs/vac1/iocBoot/iocvac1\"
IOC_CMD=\"./st.cmd\"
";

/// Words a request's arguments are picked from: every ID and runlevel of
/// both configurations and every sub-verb, so that the fuzzer reaches deep
/// states without having to guess names.
const WORDS: &[&str] = &[
    "mounts", "ntpd", "sshd", "daemon", "once", "halt-only", "off", "vac1", "newcomer", "default", "maint", "nosuch", "check", "add", "del",
    "on", "off", "halt", "poweroff", "reboot", "cancel", "0", "1000", "99999999999999999999", "",
];

fn load(epoch_conf: &str) -> Config {
    let files = MemFs::new().with("/etc/epoch/epoch.conf", epoch_conf).with("/etc/procServ.d/vac1.conf", IOC_FILE);
    let loaded = load_with(&files, Path::new("/etc/epoch/epoch.conf"), &LoadOptions::default());
    loaded.config.unwrap_or_else(|| panic!("the fuzzer's configuration loads: {:?}", loaded.diagnostics))
}

thread_local! {
    /// The configuration at boot and the one a reload switches to, each
    /// with what the daemon prepares for it, built once per process:
    /// building plans asks NSS for users and groups, which cost more than
    /// the rest of an input. Every engine gets its own copies.
    static PREPARED: [(Config, Vec<ObjectPlan>); 2] = [EPOCH_CONF, EPOCH_CONF_RELOADED].map(|text| {
        let config = load(text);
        let plans = plan::build(&config, &Layout::system()).0;
        (config, plans)
    });
}

/// A copy of the boot configuration (false) or the reloaded one (true) and
/// its plans.
fn prepared(reloaded: bool) -> (Config, Vec<ObjectPlan>) {
    PREPARED.with(|p| {
        let (config, plans) = &p[usize::from(reloaded)];
        (config.clone(), plans.clone())
    })
}

/// The OS seam, faked: spawned processes are numbers that live until the
/// input makes them exit.
#[derive(Default)]
struct FakeOs {
    now: u64,
    next_pid: Pid,
    /// Live processes and the marker of their environment.
    alive: BTreeMap<Pid, Option<CString>>,
    /// ObjectPIDFile contents.
    pid_files: BTreeMap<CString, Pid>,
}

impl FakeOs {
    fn info(&self, pid: Pid) -> Option<ProcInfo> {
        self.alive.contains_key(&pid).then_some(ProcInfo { ppid: 1, uid: 0, euid: 0, start_ticks: pid as u64, zombie: false })
    }
}

impl Os for FakeOs {
    fn now_ms(&self) -> u64 {
        self.now
    }
    fn wall_secs(&self) -> i64 {
        1_700_000_000 + (self.now / 1000) as i64
    }
    fn boot_ticks(&self) -> u64 {
        0
    }
    fn self_pid(&self) -> Pid {
        1
    }
    fn spawn(&mut self, cmd: &Command, _: &Options<'_>) -> Result<Pid, SpawnError> {
        self.next_pid += 1;
        let pid = 100 + self.next_pid;
        let marker = cmd.env().find(|e| e.to_bytes().starts_with(b"IOCINIT_OBJECT=")).map(CStr::to_owned);
        self.alive.insert(pid, marker);
        Ok(pid)
    }
    fn kill(&mut self, pid: Pid, _: i32) -> Result<(), i32> {
        if self.alive.contains_key(&pid) { Ok(()) } else { Err(libc::ESRCH) }
    }
    fn kill_group(&mut self, pid: Pid, signal: i32) -> Result<(), i32> {
        self.kill(pid, signal)
    }
    fn signal_group(&mut self, pgid: Pid, signal: i32) -> Result<(), i32> {
        self.kill(pgid, signal)
    }
    fn group_exists(&mut self, pgid: Pid) -> bool {
        self.alive.contains_key(&pgid)
    }
    fn pid_exists(&mut self, pid: Pid) -> bool {
        self.alive.contains_key(&pid)
    }
    fn read_pid_file(&mut self, path: &CStr) -> Option<Pid> {
        self.pid_files.get(path).copied()
    }
    fn remove_pid_file(&mut self, path: &CStr) {
        self.pid_files.remove(path);
    }
    fn process(&mut self, pid: Pid) -> Option<ProcInfo> {
        self.info(pid)
    }
    fn has_marker(&mut self, pid: Pid, marker: &CStr) -> bool {
        self.alive.get(&pid).is_some_and(|m| m.as_deref() == Some(marker))
    }
    fn for_each_marked(&mut self, marker: &CStr, f: &mut dyn FnMut(Pid, &ProcInfo)) {
        for (&pid, m) in &self.alive {
            if m.as_deref() == Some(marker) {
                f(pid, &self.info(pid).expect("alive"));
            }
        }
    }
    fn for_each_child(&mut self, _: Pid, _: &mut dyn FnMut(Pid)) {}
    fn signal_all(&mut self, _: i32) -> usize {
        0
    }
    fn host_name(&self) -> HostName {
        HostName::try_from("fuzzhost").unwrap_or_default()
    }
    fn prepare_console(&mut self, _: &ConsolePlan) -> Result<(), ConsoleRefusal> {
        Ok(())
    }
    fn clean_console(&mut self, _: &CStr, _: &CStr) {}
    fn pivot_root(&mut self, _: &CStr, _: &CStr) -> Result<(), i32> {
        Ok(())
    }
    fn exec(&mut self, _: &Command) -> i32 {
        libc::ENOENT
    }
    fn status_line(&mut self, _: core::fmt::Arguments<'_>) {}
}

/// One connected client: its socket and what it has been answered.
struct Client {
    fd: OwnedFd,
    requests: usize,
    ends: usize,
}

thread_local! {
    /// The server between runs: every run ends with its clients gone, and
    /// a server whose clients are gone has every slot free again.
    static SERVER: std::cell::Cell<Option<Server>> = const { std::cell::Cell::new(None) };
}

/// The control socket, made once per process; every run has its own
/// clients.
fn listener() -> &'static (std::path::PathBuf, OwnedFd) {
    static LISTENER: OnceLock<(std::path::PathBuf, OwnedFd)> = OnceLock::new();
    LISTENER.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("iocinit-fuzz-control-{}", std::process::id()));
        let path = dir.join("control");
        let fd = server::listen(&path).expect("a control socket in the temp directory");
        (path, fd)
    })
}

fn connect(path: &Path) -> Client {
    let fd = socket::socket(AddressFamily::Unix, SockType::SeqPacket, SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK, None).expect("socket");
    socket::connect(fd.as_raw_fd(), &UnixAddr::new(path).expect("address")).expect("connect");
    Client { fd, requests: 0, ends: 0 }
}

struct Run {
    engine: Engine<FakeOs>,
    server: Server,
    clients: [Client; 2],
    reloaded: bool,
    /// A power request reached the daemon: PID 1 ends here.
    powered_off: bool,
}

impl Run {
    fn new() -> Run {
        let (path, fd) = listener();
        let (config, plans) = prepared(false);
        let mut engine = Engine::new(FakeOs::default(), config, plans, None);
        engine.boot(&BootOptions::default());
        let policy = Policy { owner_uid: 0, ioc_gid: Some(0) };
        let server = SERVER.take().unwrap_or_else(|| Server::new(path, Some(fd.try_clone().expect("dup")), policy));
        let mut run = Run { engine, server, clients: [connect(path), connect(path)], reloaded: false, powered_off: false };
        run.server.accept();
        run
    }

    /// Sends one request packet. An empty one is not sent: the server reads
    /// it as the client's hang-up, and the client could not tell.
    fn send(&mut self, c: usize, packet: &[u8]) {
        if packet.is_empty() {
            return;
        }
        let client = &mut self.clients[c];
        if socket::send(client.fd.as_raw_fd(), packet, MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL).is_ok() {
            client.requests += 1;
        }
    }

    /// One turn of the daemon's loop for the clients, until nothing is
    /// ready: poll what the server asks for (timeout 0), hand each result
    /// back, carry out daemon actions and engine requests, answer waiters,
    /// and let the clients read everything they were sent.
    fn turn(&mut self) {
        for _ in 0..64 {
            self.serve_engine_requests();
            self.server.check_waiters(&mut self.engine);
            self.read_replies();
            let wanted: Vec<_> = self.server.client_fds().collect();
            let mut fds: Vec<PollFd> = wanted
                .iter()
                .map(|&(_, fd, events)| PollFd::new(unsafe_borrow(fd), events))
                .collect();
            if poll(&mut fds, PollTimeout::ZERO).unwrap_or(0) == 0 {
                return;
            }
            let ready: Vec<_> = wanted.iter().zip(&fds).filter_map(|(&(slot, _, _), p)| p.revents().filter(|r| !r.is_empty()).map(|r| (slot, r))).collect();
            for (slot, revents) in ready {
                if let Some(action) = self.server.ready(slot, revents, &mut self.engine) {
                    self.daemon_action(action);
                }
            }
            self.server.accept();
        }
    }

    fn daemon_action(&mut self, action: DaemonAction) {
        match action {
            DaemonAction::ConfigReload | DaemonAction::IocRescan => self.reload(),
            DaemonAction::Reexec => {
                self.server.check_waiters(&mut self.engine);
                self.server.finish(Code::Fail, "reexec failed: not in the fuzzer", &mut self.engine);
            }
        }
    }

    /// As the daemon's reload: waiters first, then the new table.
    fn reload(&mut self) {
        self.reloaded = !self.reloaded;
        self.server.check_waiters(&mut self.engine);
        let (config, plans) = prepared(self.reloaded);
        self.engine.replace_config(config, |_| plans);
        self.server.finish(Code::Ok, "configuration reloaded", &mut self.engine);
    }

    fn serve_engine_requests(&mut self) {
        while let Some(request) = self.engine.take_request() {
            match request {
                SystemRequest::Ready | SystemRequest::ApplyCad => {}
                SystemRequest::Emergency(_) => self.engine.resume(),
                SystemRequest::Power(_) => {
                    self.server.finish(Code::Ok, "", &mut self.engine);
                    self.powered_off = true;
                }
            }
        }
    }

    /// Every message decodes; a request gets records, then one End.
    fn read_replies(&mut self) {
        let mut buf = [0u8; MSG_MAX + 1];
        for client in &mut self.clients {
            while let Ok(n) = socket::recv(client.fd.as_raw_fd(), &mut buf, MsgFlags::MSG_DONTWAIT) {
                if n == 0 {
                    break;
                }
                assert!(n <= MSG_MAX, "a reply of {n} bytes, more than MSG_MAX");
                let msg = Message::decode(&buf[..n]).unwrap_or_else(|e| panic!("a reply the client cannot decode ({e}): {:?}", &buf[..n]));
                if msg.kind == Kind::End {
                    client.ends += 1;
                    assert!(client.ends <= client.requests, "more Ends than requests");
                    if let Some(m) = msg.get(iocinit::control::protocol::Tag::Message) {
                        assert!(std::str::from_utf8(m).is_ok(), "an End message that is not UTF-8");
                    }
                }
            }
        }
    }

    /// The reaper: process `pid` ended.
    fn exit(&mut self, pid: Pid, status: ExitStatus) {
        if self.engine.os.alive.remove(&pid).is_some() {
            self.engine.child_exited(pid, status);
        }
    }

    /// The timer: time passes up to `ms`, stopping at every deadline on the way.
    fn wait(&mut self, ms: u64) {
        let until = self.engine.os.now + ms;
        while let Some(d) = self.engine.next_deadline().filter(|&d| d <= until) {
            self.engine.os.now = d.max(self.engine.os.now);
            self.engine.timer();
        }
        self.engine.os.now = until;
        self.engine.timer();
    }

    fn check_invariants(&mut self) {
        let e = &self.engine;
        let n = e.objects().len();
        assert_eq!(n, e.config().objects.len(), "one state per object");
        assert_eq!(n, e.plans().len(), "one plan per object");
        let mut tracked = BTreeSet::new();
        for i in 0..n {
            let st = e.object(i);
            let id = &e.config().objects[i].id;
            assert_eq!(e.resolve(e.handle(i)), Some(i), "{id}: its handle names another object (handles are unique)");
            if st.state.is_down() {
                assert!(st.main_pid.is_none() && st.helper.is_none(), "{id}: {} but tracks a process: {st:?}", st.state.name());
            }
            if st.state == State::Running && e.config().objects[i].console.is_none() {
                assert!(st.main_pid.is_some(), "{id}: running without a process: {st:?}");
            }
            for pid in st.main_pid.into_iter().chain(st.helper.map(|(_, p)| p)).chain(st.reload) {
                assert!(e.os.alive.contains_key(&pid), "{id}: tracks pid {pid}, reaped already: {st:?}");
                assert!(tracked.insert(pid), "{id}: pid {pid} tracked twice (by two objects, or in two roles): {st:?}");
            }
        }
    }

    /// Processes end and time passes until every object has settled (an
    /// AUTORESTART object may be running again: settled is enough); then
    /// every waiter has been answered, and every request has had its End.
    fn settle(&mut self) {
        for _ in 0..32 {
            let pids: Vec<Pid> = self.engine.os.alive.keys().copied().collect();
            for pid in pids {
                self.exit(pid, ExitStatus::Exited(0));
            }
            self.wait(60_000);
            self.turn();
            self.check_invariants();
            if self.powered_off {
                return;
            }
            if (0..self.engine.objects().len()).all(|i| self.engine.settled(i)) {
                for (c, client) in self.clients.iter().enumerate() {
                    assert_eq!(client.ends, client.requests, "client {c}: a request never answered");
                }
                return;
            }
        }
    }

    /// The clients hang up: the server frees every slot, whatever it was
    /// doing for them, and is kept for the next run.
    fn end(mut self) {
        for client in &self.clients {
            let _ = socket::shutdown(client.fd.as_raw_fd(), socket::Shutdown::Both);
        }
        self.turn();
        assert_eq!(self.server.client_fds().count(), 0, "a slot is still taken after its client hung up");
        SERVER.set(Some(self.server));
    }
}

fn unsafe_borrow(fd: RawFd) -> BorrowedFd<'static> {
    // SAFETY: the descriptor belongs to the server, which keeps it open for
    // the whole turn the poll is part of.
    unsafe { BorrowedFd::borrow_raw(fd) }
}

/// Reads the input a byte at a time; zeros once it is used up.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }
    fn take(&mut self, n: usize) -> &[u8] {
        let (head, rest) = self.0.split_at(n.min(self.0.len()));
        self.0 = rest;
        head
    }
    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.byte().unwrap_or(0), self.byte().unwrap_or(0)])
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input(data);
    let mut run = Run::new();
    run.turn();
    run.check_invariants();
    let mut steps = 0;
    while let Some(op) = input.byte() {
        steps += 1;
        if steps > 64 || run.powered_off {
            break;
        }
        let c = (op >> 4) as usize & 1;
        match op & 0x0f {
            // A raw packet: any bytes, up to a little more than MSG_MAX.
            0 | 1 => {
                let len = (input.u16() as usize) % (MSG_MAX + 64);
                let packet = input.take(len).to_vec();
                run.send(c, &packet);
            }
            // A well-formed request of the configuration's names.
            2..=5 => {
                let verb = Verb::from_u8(input.byte().unwrap_or(1) % 19).unwrap_or(Verb::Status);
                let flags = input.byte().unwrap_or(0) & FLAG_WAIT;
                let argc = input.byte().unwrap_or(0) as usize % 4;
                let args: Vec<&str> = (0..argc.min(ARG_MAX)).map(|_| WORDS[input.byte().unwrap_or(0) as usize % WORDS.len()]).collect();
                run.send(c, &Request::encode(verb, flags, &args));
            }
            // A process ends: exit code or signal.
            6 | 7 => {
                let pick = input.byte().unwrap_or(0) as usize;
                let status = input.byte().unwrap_or(0);
                let alive: Vec<Pid> = run.engine.os.alive.keys().copied().collect();
                if let Some(&pid) = alive.get(pick % alive.len().max(1)) {
                    let status = if op & 1 == 0 { ExitStatus::Exited(status) } else { ExitStatus::Signaled(i32::from(status % 65)) };
                    run.exit(pid, status);
                }
            }
            // Time passes.
            8 => {
                let ms = u64::from(input.u16()) * 10;
                run.wait(ms);
            }
            // A pid file names a live process (or none).
            9 => {
                let pick = input.byte().unwrap_or(0) as usize;
                let alive: Vec<Pid> = run.engine.os.alive.keys().copied().collect();
                let path = CString::new("/run/daemon.pid").expect("no NUL");
                match alive.get(pick % alive.len().max(1)) {
                    Some(&pid) => run.engine.os.pid_files.insert(path, pid),
                    None => run.engine.os.pid_files.remove(&path),
                };
            }
            // A client hangs up and another connects.
            10 => {
                let path = &listener().0;
                run.clients[c] = connect(path);
                run.server.accept();
            }
            // Someone else reloads the configuration (SIGHUP, a rescan).
            11 => run.reload(),
            _ => {}
        }
        run.engine.timer();
        run.turn();
        run.check_invariants();
    }
    run.settle();
    run.end();
});
