//! PID 1's side of the control socket: accepts clients, checks who they are
//! (SO_PEERCRED, SO_PEERGROUPS), decodes requests, acts on the engine and
//! streams the replies — one bounded message at a time, never blocking: a
//! slow client is resumed when its socket is writable again.
//!
//! Access: the owner (root for PID 1, the user under `--local`) may do
//! everything; members of the IOC group may act on IOC objects; everyone may
//! read. Client slots and their buffers are allocated once, at start.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

use nix::sys::socket::{self, AddressFamily, MsgFlags, SockFlag, SockType, UnixAddr};

use super::protocol::{Code, Encoder, Kind, Request, Tag, Verb, FLAG_WAIT, MSG_MAX};
use crate::config::{Object, StopMethod};
use crate::engine::object::{Outcome, State};
use crate::engine::os::Os;
use crate::engine::{Engine, Phase, Power, Refusal};
use crate::sys::{self, FixedBuf};

pub const MAX_CLIENTS: usize = 16;
const MAX_GROUPS: usize = 64;

/// Who may do what, fixed when the configuration loads.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// The supervisor's owner: root as PID 1, the user under --local.
    pub owner_uid: u32,
    /// The IOC group's gid, if the group exists.
    pub ioc_gid: Option<u32>,
}

/// Work the daemon does itself, then answers with [`Server::finish`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DaemonAction {
    ConfigReload,
    Reexec,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Task {
    Idle,
    /// Streaming records of the objects from `next` on (`only`: one object;
    /// `consoles`: IOC objects only), then the End message.
    Stream { next: usize, only: Option<usize>, consoles: bool },
    /// Waiting for object `obj` to settle after `verb`.
    Wait { obj: usize, verb: Verb },
    /// Waiting for the daemon to carry out an action.
    Daemon,
}

struct Slot {
    fd: Option<OwnedFd>,
    uid: u32,
    groups: [u32; MAX_GROUPS],
    ngroups: usize,
    task: Task,
    out: Box<[u8; MSG_MAX]>,
    out_len: usize,
    /// Order of acceptance, to drop the oldest idle client when full.
    serial: u64,
}

pub struct Server {
    listener: OwnedFd,
    slots: Vec<Slot>,
    policy: Policy,
    serial: u64,
}

/// Creates, binds and listens on the control socket (mode 0666: access is
/// decided per request by the peer's credentials).
pub fn listen(path: &Path) -> nix::Result<OwnedFd> {
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let _ = std::fs::remove_file(path);
    let fd = socket::socket(AddressFamily::Unix, SockType::SeqPacket, SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK, None)?;
    socket::bind(fd.as_raw_fd(), &UnixAddr::new(path)?)?;
    socket::listen(&fd, socket::Backlog::new(16).unwrap_or(socket::Backlog::MAXCONN))?;
    let _ = nix::sys::stat::fchmodat(
        None,
        path,
        nix::sys::stat::Mode::from_bits_truncate(0o666),
        nix::sys::stat::FchmodatFlags::FollowSymlink,
    );
    Ok(fd)
}

impl Server {
    pub fn new(listener: OwnedFd, policy: Policy) -> Self {
        let slots = (0..MAX_CLIENTS)
            .map(|_| Slot {
                fd: None,
                uid: u32::MAX,
                groups: [0; MAX_GROUPS],
                ngroups: 0,
                task: Task::Idle,
                out: Box::new([0; MSG_MAX]),
                out_len: 0,
                serial: 0,
            })
            .collect();
        Server { listener, slots, policy, serial: 0 }
    }

    pub fn set_policy(&mut self, policy: Policy) {
        self.policy = policy;
    }

    pub fn listener_fd(&self) -> RawFd {
        self.listener.as_raw_fd()
    }

    /// Hands the listening socket over (reexec keeps it open across exec).
    pub fn into_listener(self) -> OwnedFd {
        self.listener
    }

    /// Descriptors to poll: (slot index, fd, want write).
    pub fn client_fds(&self) -> impl Iterator<Item = (usize, RawFd, bool)> + '_ {
        self.slots.iter().enumerate().filter_map(|(i, s)| {
            let fd = s.fd.as_ref()?.as_raw_fd();
            // Read only when idle: one request at a time per client.
            (s.out_len > 0 || s.task == Task::Idle).then_some((i, fd, s.out_len > 0))
        })
    }

    /// Accepts every pending connection.
    pub fn accept(&mut self) {
        loop {
            let fd = match socket::accept4(self.listener.as_raw_fd(), SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK) {
                Ok(fd) => fd,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(_) => return,
            };
            // SAFETY: accept4 returned a new descriptor that we now own.
            let fd = unsafe_own(fd);
            let slot = match self.slots.iter().position(|s| s.fd.is_none()) {
                Some(i) => i,
                None => {
                    // Full: the oldest idle client makes room (a client that
                    // connects and says nothing must not lock others out).
                    let oldest = self
                        .slots
                        .iter()
                        .enumerate()
                        .filter(|(_, s)| s.task == Task::Idle && s.out_len == 0)
                        .min_by_key(|(_, s)| s.serial)
                        .map(|(i, _)| i);
                    match oldest {
                        Some(i) => {
                            self.close(i);
                            i
                        }
                        None => continue,
                    }
                }
            };
            let mut groups = [0u32; MAX_GROUPS];
            let Some((uid, ngroups)) = sys::peer_credentials(fd.as_raw_fd(), &mut groups) else { continue };
            self.serial += 1;
            let s = &mut self.slots[slot];
            s.fd = Some(fd);
            s.uid = uid;
            s.groups = groups;
            s.ngroups = ngroups;
            s.task = Task::Idle;
            s.out_len = 0;
            s.serial = self.serial;
        }
    }

    fn close(&mut self, i: usize) {
        let s = &mut self.slots[i];
        s.fd = None;
        s.task = Task::Idle;
        s.out_len = 0;
    }

    /// The client in slot `i` is readable (or hung up): read and handle one
    /// request. Returns an action the daemon must carry out, if any.
    pub fn readable<O: Os>(&mut self, i: usize, engine: &mut Engine<O>) -> Option<DaemonAction> {
        let fd = self.slots[i].fd.as_ref().map(|f| f.as_raw_fd())?;
        let mut buf = [0u8; MSG_MAX];
        let n = match socket::recv(fd, &mut buf, MsgFlags::MSG_DONTWAIT) {
            Ok(0) => {
                self.close(i);
                return None;
            }
            Ok(n) => n,
            Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => return None,
            Err(_) => {
                self.close(i);
                return None;
            }
        };
        if self.slots[i].task != Task::Idle {
            return None;
        }
        let action = match Request::decode(&buf[..n]) {
            Ok(req) => self.handle(i, &req, engine),
            Err(e) => {
                let mut msg = FixedBuf::<160>::new();
                let _ = core::fmt::Write::write_fmt(&mut msg, format_args!("{e}"));
                self.end(i, Code::BadParam, core::str::from_utf8(msg.as_bytes()).unwrap_or(""));
                None
            }
        };
        self.pump(i, engine);
        action
    }

    /// The client in slot `i` can be written again.
    pub fn writable<O: Os>(&mut self, i: usize, engine: &mut Engine<O>) {
        self.pump(i, engine);
    }

    /// Answers clients waiting for objects that have settled (after events).
    pub fn check_waiters<O: Os>(&mut self, engine: &mut Engine<O>) {
        for i in 0..self.slots.len() {
            if let Task::Wait { obj, verb } = self.slots[i].task {
                if engine.settled(obj) {
                    self.slots[i].task = Task::Idle;
                    self.answer_settled(i, obj, verb, engine);
                    self.pump(i, engine);
                }
            }
        }
    }

    /// Completes a [`DaemonAction`] for every client waiting on one.
    pub fn finish<O: Os>(&mut self, code: Code, message: &str, engine: &mut Engine<O>) {
        for i in 0..self.slots.len() {
            if self.slots[i].task == Task::Daemon {
                self.slots[i].task = Task::Idle;
                self.end(i, code, message);
                self.pump(i, engine);
            }
        }
    }

    fn is_owner(&self, i: usize) -> bool {
        let uid = self.slots[i].uid;
        uid == 0 || uid == self.policy.owner_uid
    }

    fn in_ioc_group(&self, i: usize) -> bool {
        let s = &self.slots[i];
        self.policy.ioc_gid.is_some_and(|g| s.groups[..s.ngroups].contains(&g))
    }

    fn handle<O: Os>(&mut self, i: usize, req: &Request<'_>, engine: &mut Engine<O>) -> Option<DaemonAction> {
        let target = req.arg(0).and_then(|id| engine.find(id));
        let on_object = matches!(
            req.verb,
            Verb::Start | Verb::Stop | Verb::Restart | Verb::Reload | Verb::Enable | Verb::Disable | Verb::Kill | Verb::GetPid
        ) || (req.verb == Verb::Objrl);
        if on_object && target.is_none() {
            let msg = if req.arg(0).is_some() { "no such object" } else { "an object ID is required" };
            self.end(i, Code::BadParam, msg);
            return None;
        }
        // Access control.
        let mutating = match req.verb {
            Verb::Status | Verb::Version | Verb::GetPid | Verb::IocList => false,
            Verb::Runlevel => req.arg(0).is_some(),
            Verb::Objrl => req.arg(1) != Some("check"),
            _ => true,
        };
        if mutating && !self.is_owner(i) {
            let ioc_verb = match req.verb {
                Verb::IocRescan => true,
                Verb::Start | Verb::Stop | Verb::Restart | Verb::Enable | Verb::Disable | Verb::Kill | Verb::Reload => {
                    target.is_some_and(|t| engine.config().objects[t].console.as_ref().is_some_and(|c| c.from_ioc_file))
                }
                _ => false,
            };
            if !(ioc_verb && self.in_ioc_group(i)) {
                let msg = if ioc_verb {
                    "permission denied: only root and members of the IOC group may do that"
                } else {
                    "permission denied: only root may do that"
                };
                self.end(i, Code::Denied, msg);
                return None;
            }
        }
        let wait = req.flags & FLAG_WAIT != 0;
        match req.verb {
            Verb::Status => {
                if req.arg(0).is_some() && target.is_none() {
                    self.end(i, Code::BadParam, "no such object");
                } else {
                    self.slots[i].task = Task::Stream { next: target.unwrap_or(0), only: target, consoles: false };
                }
            }
            Verb::IocList => self.slots[i].task = Task::Stream { next: 0, only: None, consoles: true },
            Verb::Version => {
                let mut enc = Encoder::new(&mut self.slots[i].out, Kind::Record);
                encode_system(&mut enc, engine);
                self.slots[i].out_len = enc.as_bytes().len();
                self.end_after(i);
            }
            Verb::Start | Verb::Stop | Verb::Restart => {
                let t = target.unwrap_or(0);
                let result = match req.verb {
                    Verb::Start => engine.start(t),
                    Verb::Stop => engine.stop(t),
                    _ => engine.restart(t),
                };
                match result {
                    Err(r) => self.refused(i, r),
                    Ok(()) if wait && !engine.settled(t) => self.slots[i].task = Task::Wait { obj: t, verb: req.verb },
                    // Not waiting: the request was accepted and is under way.
                    Ok(()) if !engine.settled(t) => self.end(i, Code::Ok, ""),
                    Ok(()) => self.answer_settled(i, t, req.verb, engine),
                }
            }
            Verb::Reload => match engine.reload(target.unwrap_or(0)) {
                Ok(()) => self.end(i, Code::Ok, ""),
                Err(r) => self.refused(i, r),
            },
            Verb::Kill => match engine.kill(target.unwrap_or(0)) {
                Ok(()) => self.end(i, Code::Ok, ""),
                Err(r) => self.refused(i, r),
            },
            Verb::Enable | Verb::Disable => {
                engine.set_enabled(target.unwrap_or(0), req.verb == Verb::Enable);
                self.end(i, Code::Ok, "");
            }
            Verb::GetPid => match engine.object(target.unwrap_or(0)).main_pid {
                Some(pid) => {
                    let mut enc = Encoder::new(&mut self.slots[i].out, Kind::Record);
                    enc.i64(Tag::Pid, pid as i64);
                    self.slots[i].out_len = enc.as_bytes().len();
                    self.end_after(i);
                }
                None => self.end(i, Code::Fail, "not running"),
            },
            Verb::Runlevel => match req.arg(0) {
                None => {
                    let mut enc = Encoder::new(&mut self.slots[i].out, Kind::Record);
                    enc.str(Tag::CurrentRunlevel, engine.runlevel().unwrap_or(""));
                    self.slots[i].out_len = enc.as_bytes().len();
                    self.end_after(i);
                }
                Some(name) => match engine.switch_runlevel(name) {
                    Ok(()) => self.end(i, Code::Ok, ""),
                    Err(r) => self.refused(i, r),
                },
            },
            Verb::Objrl => {
                let t = target.unwrap_or(0);
                match (req.arg(1), req.arg(2)) {
                    (Some("check"), Some(rl)) => match engine.config().runlevels.iter().position(|r| r.name == rl) {
                        Some(r) if engine.in_runlevel(t, r) => self.end(i, Code::Ok, "yes"),
                        Some(_) => self.end(i, Code::Fail, "no"),
                        None => self.end(i, Code::BadParam, "no such runlevel"),
                    },
                    (Some(op @ ("add" | "del")), Some(rl)) => match engine.set_object_runlevel(t, rl, op == "add") {
                        Ok(()) => self.end(i, Code::Ok, ""),
                        Err(r) => self.refused(i, r),
                    },
                    _ => self.end(i, Code::BadParam, "usage: objrl ID check|add|del RUNLEVEL"),
                }
            }
            Verb::SetCad => match req.arg(0) {
                Some("on") => {
                    engine.set_cad(true);
                    self.end(i, Code::Ok, "")
                }
                Some("off") => {
                    engine.set_cad(false);
                    self.end(i, Code::Ok, "")
                }
                _ => self.end(i, Code::BadParam, "usage: setcad on|off"),
            },
            Verb::Power => {
                // A delay that is not a number must not become "now".
                let delay_ms = match req.arg(1).map(str::parse::<u64>) {
                    None => 0,
                    Some(Ok(ms)) => ms,
                    Some(Err(_)) => {
                        self.end(i, Code::BadParam, "the delay must be a number of milliseconds");
                        return None;
                    }
                };
                let power = match req.arg(0) {
                    Some("halt") => Some(Power::Halt),
                    Some("poweroff") => Some(Power::Poweroff),
                    Some("reboot") => Some(Power::Reboot),
                    Some("cancel") => None,
                    _ => {
                        self.end(i, Code::BadParam, "usage: power halt|poweroff|reboot|cancel [DELAY_MS]");
                        return None;
                    }
                };
                if power.is_none() && engine.scheduled_shutdown().is_none() {
                    self.end(i, Code::Warn, "no shutdown is scheduled");
                    return None;
                }
                match engine.schedule_shutdown(power.map(|p| (p, delay_ms))) {
                    Ok(()) => self.end(i, Code::Ok, ""),
                    Err(why) => self.end(i, Code::BadParam, why),
                }
            }
            Verb::ConfigReload | Verb::IocRescan => {
                self.slots[i].task = Task::Daemon;
                return Some(DaemonAction::ConfigReload);
            }
            Verb::Reexec => {
                self.slots[i].task = Task::Daemon;
                return Some(DaemonAction::Reexec);
            }
        }
        None
    }

    fn refused(&mut self, i: usize, r: Refusal) {
        let code = match r {
            Refusal::NoSuchObject | Refusal::NoSuchRunlevel => Code::BadParam,
            Refusal::AlreadyStarted | Refusal::NotRunning => Code::Warn,
            _ => Code::Fail,
        };
        let mut msg = FixedBuf::<96>::new();
        let _ = core::fmt::Write::write_fmt(&mut msg, format_args!("{r}"));
        self.end(i, code, core::str::from_utf8(msg.as_bytes()).unwrap_or(""));
    }

    fn answer_settled<O: Os>(&mut self, i: usize, obj: usize, verb: Verb, engine: &mut Engine<O>) {
        let st = engine.object(obj);
        let code = match (verb, st.state, st.outcome) {
            (Verb::Stop, State::Stopped, Some(Outcome::Warn)) => Code::Warn,
            (Verb::Stop, s, Some(Outcome::Fail)) if s.is_down() => Code::Fail,
            (Verb::Stop, s, _) if s.is_down() => Code::Ok,
            (_, State::Running | State::Done, Some(Outcome::Warn)) => Code::Warn,
            (_, State::Running | State::Done, _) => Code::Ok,
            // The start itself failed (the note says why); a retry is due.
            (_, State::Restarting, Some(Outcome::Fail)) => Code::Fail,
            (_, State::Restarting, _) => Code::Warn,
            (Verb::Stop, _, _) => Code::Fail,
            _ => Code::Fail,
        };
        let note = st.note.clone();
        self.end(i, code, &note);
    }

    /// Queues the End message as the only message.
    fn end(&mut self, i: usize, code: Code, message: &str) {
        let mut enc = Encoder::new(&mut self.slots[i].out, Kind::End);
        enc.bytes(Tag::Code, &[code as u8]).str(Tag::Message, message);
        self.slots[i].out_len = enc.as_bytes().len();
        self.slots[i].task = Task::Idle;
    }

    /// Sends the record already in the buffer, then an OK End.
    fn end_after(&mut self, i: usize) {
        self.slots[i].task = Task::Stream { next: usize::MAX, only: None, consoles: false };
    }

    /// Sends what is pending; false if the socket is full (wait for POLLOUT).
    fn send_pending(&mut self, i: usize) -> bool {
        let s = &mut self.slots[i];
        if s.out_len == 0 {
            return true;
        }
        let Some(fd) = s.fd.as_ref().map(|f| f.as_raw_fd()) else { return true };
        match socket::send(fd, &s.out[..s.out_len], MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL) {
            Ok(_) => {
                s.out_len = 0;
                true
            }
            Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => false,
            Err(_) => {
                self.close(i);
                true
            }
        }
    }

    /// Sends pending output and produces streamed records until done or the
    /// socket is full.
    fn pump<O: Os>(&mut self, i: usize, engine: &mut Engine<O>) {
        loop {
            if !self.send_pending(i) {
                return;
            }
            if self.slots[i].fd.is_none() {
                return;
            }
            let Task::Stream { next, only, consoles } = self.slots[i].task else { return };
            let count = engine.objects().len();
            let mut k = next;
            while k < count && consoles && engine.config().objects[k].console.is_none() {
                k += 1;
            }
            let done = k >= count || only.is_some_and(|o| k != o);
            if done {
                self.end(i, Code::Ok, "");
                continue;
            }
            let mut enc = Encoder::new(&mut self.slots[i].out, Kind::Record);
            encode_object(&mut enc, engine, k);
            self.slots[i].out_len = enc.as_bytes().len();
            self.slots[i].task = Task::Stream { next: k + 1, only, consoles };
        }
    }
}

// The one place the server takes ownership of a raw descriptor.
#[allow(unsafe_code)]
fn unsafe_own(fd: RawFd) -> OwnedFd {
    // SAFETY: called only with a descriptor fresh from accept4.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

fn stop_mode(object: &Object, out: &mut FixedBuf<64>) {
    use core::fmt::Write;
    // A console object is always stopped through procServ (SIGTERM to it,
    // then SIGKILL to whatever of the IOC is left).
    let _ = match &object.stop {
        _ if object.console.is_some() => out.write_str("procServ"),
        StopMethod::None => out.write_str("NONE"),
        StopMethod::Command(_) => out.write_str("command"),
        StopMethod::Pid => out.write_str("PID"),
        StopMethod::PidFile(_) => out.write_str("PIDFILE"),
        StopMethod::Killall5 { .. } => out.write_str("KILLALL5"),
    };
}

/// The object's options in Epoch's spelling (`SERVICE AUTORESTART STOPTIMEOUT=5`).
pub fn options_text(object: &Object, out: &mut FixedBuf<512>) {
    use core::fmt::Write;
    let o = &object.options;
    let flags = [
        (o.raw_description, "RAWDESCRIPTION"),
        (o.fork, "FORK"),
        (o.forkn, "FORKN"),
        (o.pivot, "PIVOT"),
        (o.exec, "EXEC"),
        (o.persistent, "PERSISTENT"),
        (o.service, "SERVICE"),
        (o.autorestart, "AUTORESTART"),
        (o.runonce, "RUNONCE"),
        (o.no_stop_wait, "NOSTOPWAIT"),
        (o.halt_only, "HALTONLY"),
        (o.force_shell, "FORCESHELL"),
        (o.start_fail_critical, "STARTFAILCRITICAL"),
        (o.stop_fail_critical, "STOPFAILCRITICAL"),
        (o.no_track, "NOTRACK"),
        (o.procserv, "PROCSERV"),
    ];
    let mut sep = "";
    for (on, name) in flags {
        if on {
            let _ = write!(out, "{sep}{name}");
            sep = " ";
        }
    }
    if let Some(t) = o.stop_timeout {
        let _ = write!(out, "{sep}STOPTIMEOUT={t}");
        sep = " ";
    }
    if let Some(t) = o.term_signal {
        let _ = write!(out, "{sep}TERMSIGNAL={t}");
        sep = " ";
    }
    for (code, result) in &o.exit_map {
        let r = match result {
            crate::config::ExitResult::Success => "SUCCESS",
            crate::config::ExitResult::Warning => "WARNING",
            crate::config::ExitResult::Failure => "FAILURE",
        };
        let _ = write!(out, "{sep}MAPEXITSTATUS={code},{r}");
        sep = " ";
    }
}

fn encode_object<O: Os>(enc: &mut Encoder<'_>, engine: &mut Engine<O>, i: usize) {
    use core::fmt::Write;
    let child = engine.console_child(i);
    let object = &engine.config().objects[i];
    let st = engine.object(i);
    enc.str(Tag::Id, &object.id)
        .str(Tag::Description, &object.description)
        .str(Tag::State, st.state.name())
        .bool(Tag::Enabled, st.enabled)
        .u64(Tag::StartPriority, object.start_priority as u64)
        .u64(Tag::StopPriority, object.stop_priority as u64)
        .u64(Tag::Restarts, st.restarts as u64);
    if let Some(pid) = st.main_pid {
        enc.i64(Tag::Pid, pid as i64);
    }
    if st.since_wall != 0 {
        enc.i64(Tag::Since, st.since_wall);
    }
    if let Some(exit) = st.last_exit {
        let mut b = FixedBuf::<64>::new();
        let _ = write!(b, "{exit}");
        enc.bytes(Tag::LastExit, b.as_bytes());
    }
    if let Some(outcome) = st.outcome {
        enc.str(Tag::Outcome, match outcome {
            Outcome::Done => "Done",
            Outcome::Warn => "WARN",
            Outcome::Fail => "FAIL",
        });
    }
    if !st.note.is_empty() {
        enc.str(Tag::Note, &st.note);
    }
    if st.removed {
        enc.bool(Tag::Removed, true);
    }
    let mut rl = FixedBuf::<512>::new();
    for (k, name) in engine.runlevel_names(i).enumerate() {
        if k > 0 {
            rl.push(b" ");
        }
        rl.push(name.as_bytes());
    }
    enc.bytes(Tag::Runlevels, rl.as_bytes());
    let mut opts = FixedBuf::<512>::new();
    options_text(object, &mut opts);
    enc.bytes(Tag::Options, opts.as_bytes());
    let (user, group) = match &object.console {
        Some(c) => (c.user.as_deref(), c.group.as_deref()),
        None => (object.user.as_deref(), object.group.as_deref()),
    };
    if let Some(u) = user {
        enc.str(Tag::User, u);
    }
    if let Some(g) = group {
        enc.str(Tag::Group, g);
    }
    let mut mode = FixedBuf::<64>::new();
    stop_mode(object, &mut mode);
    enc.bytes(Tag::StopMode, mode.as_bytes());
    if let Some(console) = &object.console {
        enc.bool(Tag::IsConsole, console.from_ioc_file);
        if let Some(plan) = engine.plans()[i].console.as_ref() {
            enc.bytes(Tag::Console, plan.socket.to_bytes()).bytes(Tag::Log, plan.log.to_bytes());
        }
        if let Some(pid) = child {
            enc.i64(Tag::ChildPid, pid as i64);
        }
    }
}

fn encode_system<O: Os>(enc: &mut Encoder<'_>, engine: &Engine<O>) {
    enc.str(Tag::Version, env!("CARGO_PKG_VERSION"))
        .str(Tag::CurrentRunlevel, engine.runlevel().unwrap_or(""))
        .str(
            Tag::Phase,
            match engine.phase() {
                Phase::Booting => "booting",
                Phase::Up => "up",
                Phase::ShuttingDown(_) => "shutting-down",
            },
        )
        .bool(Tag::Cad, engine.cad_enabled());
    let ioc_dir = &engine.config().globals.ioc.directory;
    enc.bytes(Tag::IocDirectory, ioc_dir.as_os_str().as_encoded_bytes());
    if let Some(root) = engine.plans().iter().find_map(|p| p.console.as_ref()).and_then(|c| {
        let dir = c.dir.to_bytes();
        dir.iter().rposition(|&b| b == b'/').map(|k| &dir[..k])
    }) {
        enc.bytes(Tag::ConsoleRoot, root);
    }
    if let Some((at, _)) = engine.scheduled_shutdown() {
        enc.u64(Tag::ShutdownIn, at.saturating_sub(engine.os.now_ms()));
    }
    if let Some(n) = crate::alloc_count::allocations() {
        enc.u64(Tag::Allocations, n);
    }
}
