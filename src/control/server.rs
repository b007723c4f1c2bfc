//! PID 1's side of the control socket: accepts clients, checks who they are
//! (SO_PEERCRED, SO_PEERGROUPS), decodes requests, acts on the engine and
//! streams the replies — one bounded message at a time, never blocking: a
//! slow client is resumed when its socket is writable again.
//!
//! Access: the owner (root for PID 1, the user under `--local`) may do
//! everything; members of the IOC group may act on IOC objects; everyone may
//! read. Client slots and their buffers are allocated once, at start; a
//! slot's buffer takes memory only once the slot has been used.
//!
//! No client can hold PID 1's slots for long: one slot is kept for the
//! owner and one more for the owner and the IOC group ([`Rank`]); each
//! connection has a small send buffer ([`OUTPUT_BUDGET`]); a client that
//! does not read its pending reply for [`WRITE_TIMEOUT_MS`], or sends nothing
//! for [`IDLE_TIMEOUT_MS`] while idle, is dropped (per-slot deadlines that
//! the daemon folds into its one timer); a client waiting for an object is
//! polled for hang-up, so its slot is freed when it goes. When the socket
//! cannot be created (a read-only /run), PID 1 runs without it and tries
//! again after 1 s, 2 s, 4 s ... at most every [`LISTEN_RETRY_MAX_MS`].

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use nix::poll::PollFlags;
use nix::sys::socket::{self, AddressFamily, MsgFlags, SockFlag, SockType};

use super::protocol::{Code, Encoder, Kind, Request, Tag, Verb, FLAG_WAIT, MSG_MAX};
use crate::config::{Object, StopMethod};
use crate::engine::object::{Handle, Outcome, State};
use crate::engine::os::Os;
use crate::engine::{Engine, Phase, Power, Refusal};
use crate::sys::{self, FixedBuf};

/// The End for a client that finds every slot taken.
pub const BUSY: &str = "busy: every control connection is taken; try again";

/// The End of a listing that a configuration reload cut (with [`Tag::Retry`]).
const LISTING_CUT: &str = "the configuration was reloaded during the reply; ask again";

pub const MAX_CLIENTS: usize = 16;
const MAX_GROUPS: usize = 64;
/// A connected client that sends nothing for this long while it has no
/// request under way is dropped.
pub const IDLE_TIMEOUT_MS: u64 = 10_000;
/// A client that reads none of its pending reply for this long is dropped.
pub const WRITE_TIMEOUT_MS: u64 = 5_000;
/// The send buffer of each client connection: how much reply may wait
/// unread in the kernel (which counts about twice this, with overhead),
/// besides the one message in the client's slot.
pub const OUTPUT_BUDGET: usize = 32 * 1024;
/// The first wait before creating the control socket again, doubled after
/// each failure up to [`LISTEN_RETRY_MAX_MS`].
const LISTEN_RETRY_FIRST_MS: u64 = 1_000;
pub const LISTEN_RETRY_MAX_MS: u64 = 30_000;

/// Who a client is, for slot reservation: free slots are kept for higher ranks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Rank {
    Other,
    IocGroup,
    Owner,
}

impl Rank {
    /// Free slots that must remain after a client of this rank takes one:
    /// one for the owner, one more for the owner and the IOC group.
    fn keeps_free(self) -> usize {
        match self {
            Rank::Owner => 0,
            Rank::IocGroup => 1,
            Rank::Other => 2,
        }
    }
}

/// Who may do what, fixed when the configuration loads.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// The supervisor's owner: root as PID 1, the user under --local.
    pub owner_uid: u32,
    /// The IOC group's gid, if the group exists.
    pub ioc_gid: Option<u32>,
}

impl Policy {
    /// Root, or the supervisor's owner: may do everything.
    fn is_owner(&self, uid: u32) -> bool {
        uid == 0 || uid == self.owner_uid
    }

    /// A member of the IOC group (by the peer's groups).
    fn in_ioc_group(&self, groups: &[u32]) -> bool {
        self.ioc_gid.is_some_and(|g| groups.contains(&g))
    }
}

/// Work the daemon does itself, then answers with [`Server::finish`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DaemonAction {
    /// Root's reload of epoch.conf, its Imports and the IOC directory.
    ConfigReload,
    /// The IOC directory only (the IOC group may ask for it).
    IocRescan,
    Reexec,
}

/// What a client waits for. A configuration reload (any client, an IOC
/// rescan) may renumber the object table while a task is pending: a waiter
/// names its object by [`Handle`], a listing holds indices together with the
/// table generation they belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Task {
    Idle,
    /// Streaming a record per object of table indices `next..end` of table
    /// generation `generation` (`consoles`: IOC objects only), then the End
    /// message. A reload before the end cuts it: the client is told to ask
    /// again rather than get objects of two tables, repeated or missing.
    Stream { next: usize, end: usize, generation: u64, consoles: bool },
    /// Sending the record already in the buffer, then an OK End.
    EndAfterRecord,
    /// Waiting for object `obj` to settle after `verb`; answered FAIL if it
    /// leaves the configuration first.
    Wait { obj: Handle, verb: Verb },
    /// Waiting for the daemon to carry out an action.
    Daemon,
}

struct Slot {
    fd: Option<OwnedFd>,
    uid: u32,
    /// Whether the peer was in the IOC group when it connected (by its
    /// groups, read then: a slot keeps this, not the 64 groups).
    ioc_member: bool,
    task: Task,
    /// Resident only while a client of this slot has had a reply (`LazyBuf`,
    /// released when it closes).
    out: sys::LazyBuf<MSG_MAX>,
    out_len: usize,
    /// Order of acceptance, to drop the oldest idle client when full.
    serial: u64,
    rank: Rank,
    /// When the client last made progress (connected, sent a request, took
    /// a reply message): its deadline counts from here (monotonic ms).
    since: u64,
}

impl Slot {
    /// When this client is dropped unless it makes progress first: for not
    /// reading pending output, or for saying nothing while idle. A client
    /// waiting for an object has none.
    fn deadline(&self) -> Option<u64> {
        self.fd.as_ref()?;
        if self.out_len > 0 {
            Some(self.since.saturating_add(WRITE_TIMEOUT_MS))
        } else if self.task == Task::Idle {
            Some(self.since.saturating_add(IDLE_TIMEOUT_MS))
        } else {
            None
        }
    }
}

/// The control socket could not be created: when to try again, and the
/// wait after that.
#[derive(Debug, Clone, Copy)]
struct Retry {
    at: u64,
    next_wait: u64,
}

pub struct Server {
    listener: Option<OwnedFd>,
    socket_path: PathBuf,
    retry: Option<Retry>,
    slots: sys::Table<Slot>,
    policy: Policy,
    serial: u64,
}

/// Creates, binds and listens on the control socket (mode 0666: access is
/// decided per request by the peer's credentials).
pub fn listen(path: &Path) -> nix::Result<OwnedFd> {
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    // A stale socket file (a previous boot's) goes; a live one stays.
    if answered(path) {
        return Err(nix::errno::Errno::EADDRINUSE);
    }
    let _ = std::fs::remove_file(path);
    let fd = socket::socket(AddressFamily::Unix, SockType::SeqPacket, SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK, None)?;
    socket::bind(fd.as_raw_fd(), &super::socket_address(path)?)?;
    socket::listen(&fd, socket::Backlog::new(16).unwrap_or(socket::Backlog::MAXCONN))?;
    // chmod(2) through std, as the daemon's other modes are set: nix's
    // fchmodat links musl's own, which emulates flags this call never gives.
    let _ = std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o666));
    Ok(fd)
}

/// Whether a supervisor listens on `path`. A second one started by hand
/// must neither take its socket over nor start every object again. A full
/// backlog (EAGAIN) is someone listening too.
pub fn answered(path: &Path) -> bool {
    let Ok(addr) = super::socket_address(path) else { return false };
    let Ok(fd) = socket::socket(AddressFamily::Unix, SockType::SeqPacket, SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK, None) else {
        return false;
    };
    matches!(socket::connect(fd.as_raw_fd(), &addr), Ok(()) | Err(nix::errno::Errno::EAGAIN))
}

impl Server {
    /// A server on `socket_path`: on `inherited` (a listener handed over by
    /// reexec), else on a socket created now, or later if that fails.
    pub fn new(socket_path: &Path, inherited: Option<OwnedFd>, policy: Policy) -> Self {
        let slots = (0..MAX_CLIENTS)
            .map(|_| Slot {
                fd: None,
                uid: u32::MAX,
                ioc_member: false,
                task: Task::Idle,
                out: sys::LazyBuf::new(),
                out_len: 0,
                serial: 0,
                rank: Rank::Other,
                since: 0,
            })
            .collect();
        let slots = sys::Table(slots);
        let mut server = Server { listener: inherited, socket_path: socket_path.to_path_buf(), retry: None, slots, policy, serial: 0 };
        if server.listener.is_none() {
            server.try_listen(LISTEN_RETRY_FIRST_MS);
        }
        server
    }

    /// Creates the control socket; on failure, logs why and when the next
    /// attempt is (after `wait` ms).
    fn try_listen(&mut self, wait: u64) {
        match listen(&self.socket_path) {
            Ok(fd) => {
                if self.retry.take().is_some() {
                    crate::logging::info!("control socket: listening on {}", self.socket_path.display());
                }
                self.listener = Some(fd);
            }
            Err(e) => {
                crate::logging::error!(
                    "control socket: unable to listen on {}: {}; trying again in {} s",
                    self.socket_path.display(),
                    crate::sys::errno_text(e as i32),
                    wait / 1000
                );
                self.retry = Some(Retry { at: sys::now_ms().saturating_add(wait), next_wait: (wait * 2).min(LISTEN_RETRY_MAX_MS) });
            }
        }
    }

    /// The nearest deadline of the server: a client to drop, or another
    /// attempt at the control socket.
    pub fn next_deadline(&self) -> Option<u64> {
        let clients = self.slots.iter().filter_map(Slot::deadline).min();
        match (clients, self.retry.map(|r| r.at)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The timer fired: drops clients past their deadline, tries the
    /// control socket again when due.
    pub fn timer(&mut self, now: u64) {
        for i in 0..self.slots.len() {
            if self.slots[i].deadline().is_some_and(|d| d <= now) {
                crate::logging::debug!("control: dropped a client of uid {} (no progress in time)", self.slots[i].uid);
                self.close(i);
            }
        }
        if let Some(retry) = self.retry.filter(|r| r.at <= now) {
            self.try_listen(retry.next_wait);
        }
    }

    /// A reload's policy. A client connected under another IOC group keeps
    /// no membership: its groups were not kept, and it may not act as a
    /// member of a group it was never checked against.
    pub fn set_policy(&mut self, policy: Policy) {
        if policy.ioc_gid != self.policy.ioc_gid {
            for s in self.slots.iter_mut() {
                s.ioc_member = false;
            }
        }
        self.policy = policy;
    }

    /// The listening socket, once there is one.
    pub fn listener_fd(&self) -> Option<RawFd> {
        self.listener.as_ref().map(|l| l.as_raw_fd())
    }

    /// Descriptors to poll: (slot index, fd, events). An idle client is
    /// read (one request at a time), one with pending output written, and
    /// one waiting for an object is polled for nothing but hang-up and
    /// errors (which poll always reports), so its slot is freed if it goes.
    pub fn client_fds(&self) -> impl Iterator<Item = (usize, RawFd, PollFlags)> + '_ {
        self.slots.iter().enumerate().filter_map(|(i, s)| {
            let fd = s.fd.as_ref()?.as_raw_fd();
            let events = if s.out_len > 0 {
                PollFlags::POLLOUT
            } else if s.task == Task::Idle {
                PollFlags::POLLIN
            } else {
                PollFlags::empty()
            };
            Some((i, fd, events))
        })
    }

    /// The client in slot `i` has `revents` (from polling what
    /// [`Server::client_fds`] gave for it). Returns an action the daemon
    /// must carry out, if any.
    // Out of line: a request's buffers are no part of the daemon loop's
    // own frame (daemon::run).
    #[inline(never)]
    pub fn ready<O: Os>(&mut self, i: usize, revents: PollFlags, engine: &mut Engine<O>) -> Option<DaemonAction> {
        let s = &self.slots[i];
        // Closed since the poll (dropped at its deadline this turn).
        s.fd.as_ref()?;
        if s.out_len > 0 {
            if revents.contains(PollFlags::POLLOUT) {
                self.pump(i, engine);
            } else {
                // Hung up or in error with output pending: nobody will read it.
                self.close(i);
            }
            None
        } else if s.task == Task::Idle {
            self.readable(i, engine)
        } else {
            // A waiting client, polled for hang-up only.
            self.close(i);
            None
        }
    }

    fn rank(&self, uid: u32, ioc_member: bool) -> Rank {
        if self.policy.is_owner(uid) {
            Rank::Owner
        } else if ioc_member {
            Rank::IocGroup
        } else {
            Rank::Other
        }
    }

    /// A slot for a new client of `rank`: a free one if enough stay free for
    /// higher ranks, else the one of the oldest idle client of no higher
    /// rank (a client that connects and says nothing must not lock others
    /// out).
    fn slot_for(&mut self, rank: Rank) -> Option<usize> {
        let free = self.slots.iter().filter(|s| s.fd.is_none()).count();
        if free > rank.keeps_free() {
            return self.slots.iter().position(|s| s.fd.is_none());
        }
        let oldest = self
            .slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.fd.is_some() && s.task == Task::Idle && s.out_len == 0 && s.rank <= rank)
            .min_by_key(|(_, s)| s.serial)
            .map(|(i, _)| i)?;
        // Its request, if it sent one, was never read: it is refused too.
        if let Some(fd) = &self.slots[oldest].fd {
            refuse_busy(fd);
        }
        self.close(oldest);
        Some(oldest)
    }

    /// Accepts pending connections, at most [`MAX_CLIENTS`] a turn: a stream
    /// of connections (each closed at once when there is no slot for it)
    /// must not keep the loop from signals and clients; the rest are taken
    /// on the next turn.
    // Out of line: a request's buffers are no part of the daemon loop's
    // own frame (daemon::run).
    #[inline(never)]
    pub fn accept(&mut self) {
        let Some(listener) = self.listener_fd() else { return };
        for _ in 0..MAX_CLIENTS {
            let fd = match sys::accept_nonblocking(listener) {
                Ok(fd) => fd,
                Err(libc::EINTR) => continue,
                Err(_) => return,
            };
            // SAFETY: accept4 returned a new descriptor that we now own.
            let fd = unsafe_own(fd);
            let mut groups = [0u32; MAX_GROUPS];
            let Some((uid, ngroups)) = sys::peer_credentials(fd.as_raw_fd(), &mut groups) else { continue };
            let ioc_member = self.policy.in_ioc_group(groups.get(..ngroups).unwrap_or_default());
            let rank = self.rank(uid, ioc_member);
            // No slot: the connection is refused and closed at once.
            let Some(slot) = self.slot_for(rank) else {
                refuse_busy(&fd);
                continue;
            };
            sys::set_send_buffer(fd.as_raw_fd(), OUTPUT_BUDGET);
            self.serial += 1;
            let s = &mut self.slots[slot];
            s.fd = Some(fd);
            s.uid = uid;
            s.ioc_member = ioc_member;
            s.task = Task::Idle;
            s.out_len = 0;
            s.serial = self.serial;
            s.rank = rank;
            s.since = sys::now_ms();
        }
    }

    fn close(&mut self, i: usize) {
        let s = &mut self.slots[i];
        s.fd = None;
        s.task = Task::Idle;
        s.out_len = 0;
        s.out.release();
    }

    /// The client in slot `i` is readable (or hung up): read and handle one
    /// request. Returns an action the daemon must carry out, if any.
    fn readable<O: Os>(&mut self, i: usize, engine: &mut Engine<O>) -> Option<DaemonAction> {
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
        self.slots[i].since = sys::now_ms();
        if self.slots[i].task != Task::Idle {
            return None;
        }
        let action = match Request::decode(buf.get(..n).unwrap_or_default()) {
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

    /// Answers clients waiting for objects that have settled (after events,
    /// and before a reload drops objects that are down).
    pub fn check_waiters<O: Os>(&mut self, engine: &mut Engine<O>) {
        for i in 0..self.slots.len() {
            if let Task::Wait { obj, verb } = self.slots[i].task {
                match engine.resolve(obj) {
                    Some(k) if !engine.settled(k) => continue,
                    Some(k) => self.answer_settled(i, k, verb, engine),
                    None => self.refused(i, Refusal::Removed),
                }
                self.pump(i, engine);
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
        self.policy.is_owner(self.slots[i].uid)
    }

    fn in_ioc_group(&self, i: usize) -> bool {
        self.slots[i].ioc_member
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
                    target.is_some_and(|t| engine.object_config(t).console.as_ref().is_some_and(|c| c.from_ioc_file))
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
                    let (next, end) = target.map_or((0, engine.objects().len()), |t| (t, t + 1));
                    self.slots[i].task = Task::Stream { next, end, generation: engine.table_generation(), consoles: false };
                }
            }
            Verb::IocList => {
                let (end, generation) = (engine.objects().len(), engine.table_generation());
                self.slots[i].task = Task::Stream { next: 0, end, generation, consoles: true };
            }
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
                    Ok(()) if wait && !engine.settled(t) => self.slots[i].task = Task::Wait { obj: engine.handle(t), verb: req.verb },
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
            Verb::ConfigReload => {
                self.slots[i].task = Task::Daemon;
                return Some(DaemonAction::ConfigReload);
            }
            Verb::IocRescan => {
                self.slots[i].task = Task::Daemon;
                return Some(DaemonAction::IocRescan);
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
        self.end(i, code, engine.note(obj));
    }

    /// Queues the End message as the only message.
    fn end(&mut self, i: usize, code: Code, message: &str) {
        self.end_reply(i, code, message, false);
    }

    /// The End message; `retry`: a listing cut by a reload.
    fn end_reply(&mut self, i: usize, code: Code, message: &str, retry: bool) {
        let mut enc = Encoder::new(&mut self.slots[i].out, Kind::End);
        enc.bytes(Tag::Code, &[code as u8]).str(Tag::Message, message);
        if retry {
            enc.bool(Tag::Retry, true);
        }
        self.slots[i].out_len = enc.as_bytes().len();
        self.slots[i].task = Task::Idle;
        // The client has a reply from now on (after a wait, perhaps a long one).
        self.slots[i].since = sys::now_ms();
    }

    /// Sends the record already in the buffer, then an OK End.
    fn end_after(&mut self, i: usize) {
        self.slots[i].task = Task::EndAfterRecord;
    }

    /// Sends what is pending; false if the socket is full (wait for POLLOUT).
    fn send_pending(&mut self, i: usize) -> bool {
        let s = &mut self.slots[i];
        if s.out_len == 0 {
            return true;
        }
        let Some(fd) = s.fd.as_ref().map(|f| f.as_raw_fd()) else { return true };
        match socket::send(fd, s.out.get(..s.out_len).unwrap_or_default(), MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL) {
            Ok(_) => {
                s.out_len = 0;
                s.since = sys::now_ms();
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
            let (next, end, generation, consoles) = match self.slots[i].task {
                Task::Stream { next, end, generation, consoles } => (next, end, generation, consoles),
                Task::EndAfterRecord => {
                    self.end(i, Code::Ok, "");
                    continue;
                }
                _ => return,
            };
            if next >= end {
                self.end(i, Code::Ok, "");
                continue;
            }
            if generation != engine.table_generation() {
                self.end_reply(i, Code::Fail, LISTING_CUT, true);
                continue;
            }
            let wanted = |k: usize| !consoles || engine.object_config(k).console.is_some();
            let Some(k) = (next..end).find(|&k| wanted(k)) else {
                self.end(i, Code::Ok, "");
                continue;
            };
            let mut enc = Encoder::new(&mut self.slots[i].out, Kind::Record);
            encode_object(&mut enc, engine, k);
            self.slots[i].out_len = enc.as_bytes().len();
            self.slots[i].task = Task::Stream { next: k + 1, end, generation, consoles };
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
    if let Some(t) = o.start_timeout {
        let _ = write!(out, "{sep}STARTTIMEOUT={t}");
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
    let object = engine.object_config(i);
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
    if !engine.note(i).is_empty() {
        enc.str(Tag::Note, engine.note(i));
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
    // Who it really runs as: an IOC file may not have chosen its user.
    let plan = engine.plan(i);
    let (user, group) = (plan.user(), plan.group());
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
        if let Some(plan) = engine.plan(i).console.as_ref() {
            enc.bytes(Tag::Console, plan.socket().to_bytes()).bytes(Tag::Log, plan.log().to_bytes());
        }
        if let Some(pid) = child {
            enc.i64(Tag::ChildPid, pid as i64);
        }
        // Last, and bounded at load (iocfile): what the reply has room for
        // after everything else, so that nothing else is ever cut for them.
        if let Some(plan) = engine.plan(i).console.as_ref() {
            if !plan.crash_patterns.is_empty() {
                enc.str(Tag::CrashPatterns, &plan.crash_patterns);
            }
            if !plan.metadata.is_empty() {
                enc.str(Tag::Meta, &plan.metadata);
            }
        }
    }
    // Last: a long state directory must not crowd out the console fields.
    encode_process(enc, object);
}

/// The extensions of `object` that shape its process: limits, nice value,
/// umask, CPUs (as they may be written), state directory and host.
fn encode_process(enc: &mut Encoder<'_>, object: &crate::config::Object) {
    use crate::config::process::Setting;
    use core::fmt::Write;
    let none = crate::config::process::ProcessSettings::default();
    let process = object.process.as_deref().unwrap_or(&none);
    if let Some(priority) = process.rtprio {
        enc.u64(Tag::RtPrio, priority);
    }
    if let Some(nice) = process.nice {
        enc.i64(Tag::Nice, nice.into());
    }
    for (setting, value) in process.shown() {
        let tag = match setting {
            Setting::MemLock => Tag::MemLock,
            Setting::CoreSize => Tag::CoreSize,
            Setting::Umask => Tag::Umask,
            Setting::Cpus => Tag::Cpus,
            // Numbers, above.
            Setting::RtPrio | Setting::Nice => continue,
        };
        // A list of 1024 single CPUs is 4 KiB: cut, as a note is.
        let mut text = FixedBuf::<256>::new();
        let _ = write!(text, "{value}");
        enc.bytes(tag, text.as_bytes());
    }
    if let Some(dir) = &object.rare().state_directory {
        enc.bytes(Tag::StateDirectory, dir.as_os_str().as_encoded_bytes());
    }
    if let Some(host) = &object.rare().host {
        enc.str(Tag::Host, host);
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
    let ioc = &engine.config().globals.ioc;
    enc.bytes(Tag::IocDirectory, ioc.directory.as_os_str().as_encoded_bytes());
    enc.str(Tag::IocUser, &ioc.user);
    if let Some(root) = engine.plans().iter().find_map(|p| p.console.as_ref()).and_then(|c| {
        let dir = c.dir().to_bytes();
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

/// Refuses a client that gets no slot with a FAIL End, never waiting (the
/// connection is new, its buffer empty: the one message fits). The client
/// reads it even when it sends its request after the close.
fn refuse_busy(fd: &OwnedFd) {
    let mut buf = [0u8; MSG_MAX];
    let mut enc = Encoder::new(&mut buf, Kind::End);
    enc.bytes(Tag::Code, &[Code::Fail as u8]).str(Tag::Message, BUSY);
    let _ = socket::send(fd.as_raw_fd(), enc.as_bytes(), MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server whose socket cannot be created (it retries later): enough
    /// for its slots.
    fn server(ioc_gid: Option<u32>) -> Server {
        Server::new(Path::new("/proc/iocinit-no-such-dir/control"), None, Policy { owner_uid: 0, ioc_gid })
    }

    #[test]
    fn the_control_socket_is_open_to_every_user() {
        // Access is decided per request by the peer's credentials, not by
        // the file's mode, whatever the umask left of bind's.
        use std::os::unix::fs::PermissionsExt;
        let dir = crate::scratch::ScratchDir::new("control-listen");
        let path = dir.join("run/control");
        let _fd = listen(&path).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o7777, 0o666);
    }

    #[test]
    fn a_slot_keeps_no_list_of_groups() {
        // 16 slots, fixed at start: a client's 64 groups were 256 bytes of
        // each, 4 KiB of PID 1's heap, to answer one question.
        assert!(core::mem::size_of::<Slot>() <= 128, "{} bytes", core::mem::size_of::<Slot>());
    }

    #[test]
    fn a_client_keeps_its_ioc_membership_only_while_the_ioc_group_stays() {
        let mut s = server(Some(100));
        s.slots[0].ioc_member = true;
        s.set_policy(Policy { owner_uid: 0, ioc_gid: Some(100) });
        assert!(s.in_ioc_group(0), "the same group: still a member");
        s.set_policy(Policy { owner_uid: 0, ioc_gid: Some(200) });
        assert!(!s.in_ioc_group(0), "checked against another group: no longer");
        s.set_policy(Policy { owner_uid: 0, ioc_gid: Some(100) });
        assert!(!s.in_ioc_group(0), "nor when it changes back");
    }
}
