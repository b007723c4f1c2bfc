//! Every exec and every process exit on the host, as the kernel reports
//! them through its process connector (netlink, `CONFIG_PROC_EVENTS`, root),
//! each with the kernel's own CLOCK_MONOTONIC time of the event.
//!
//! The supervisors bench times a start or a restart by these times rather
//! than by when a poll of /proc happened to see a process: a poll cannot
//! resolve less than its own interval and cost, and on two cores it competes
//! with the init it measures. Here the poll only says when to look.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// What happened to a process (a thread group leader).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum What {
    Exec,
    Exit,
}

#[derive(Clone, Copy, Debug)]
pub struct Event {
    pub what: What,
    pub pid: i32,
    /// CLOCK_MONOTONIC, nanoseconds ([`now_ns`]).
    pub at_ns: u64,
}

/// The events heard since [`listen`], in order.
pub struct Events {
    log: Arc<Mutex<Vec<Event>>>,
    /// Events the socket dropped (ENOBUFS): those lookups fall back to a poll.
    overruns: Arc<Mutex<u64>>,
    /// A time before which every event is in `log`: the kernel queues an
    /// event on the socket when it happens, so once the reader has found
    /// the socket empty after time T, it has every event of before T.
    drained_ns: Arc<AtomicU64>,
}

/// CLOCK_MONOTONIC now, the clock of the events' times.
pub fn now_ns() -> u64 {
    let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes into our timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut t) };
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

const NETLINK_CONNECTOR: i32 = 11;
const CN_IDX_PROC: u32 = 1;
const CN_VAL_PROC: u32 = 1;
const PROC_CN_MCAST_LISTEN: u32 = 1;
const PROC_EVENT_EXEC: u32 = 0x2;
const PROC_EVENT_EXIT: u32 = 0x8000_0000;
/// struct nlmsghdr, then struct cn_msg, then struct proc_event.
const NLMSG_HDR: usize = 16;
const CN_MSG_HDR: usize = 20;

/// Subscribes to the process connector; the reader runs on a thread of its
/// own until the bench ends. An error if the kernel has no connector.
pub fn listen() -> Result<Events, String> {
    // SAFETY: plain socket calls on a descriptor of our own, with buffers
    // that outlive them.
    let fd = unsafe { libc::socket(libc::AF_NETLINK, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, NETLINK_CONNECTOR) };
    if fd < 0 {
        return Err(format!("netlink connector socket: {}", std::io::Error::last_os_error()));
    }
    let size: libc::c_int = 32 << 20;
    // SAFETY: as above.
    unsafe {
        libc::setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, (&size as *const libc::c_int).cast(), 4);
        let mut addr: libc::sockaddr_nl = std::mem::zeroed();
        addr.nl_family = libc::AF_NETLINK as u16;
        addr.nl_groups = CN_IDX_PROC;
        if libc::bind(fd, (&addr as *const libc::sockaddr_nl).cast(), std::mem::size_of::<libc::sockaddr_nl>() as u32) != 0 {
            return Err(format!("netlink connector bind: {}", std::io::Error::last_os_error()));
        }
    }
    let mut msg = Vec::new();
    let total = (NLMSG_HDR + CN_MSG_HDR + 4) as u32;
    msg.extend_from_slice(&total.to_ne_bytes());
    msg.extend_from_slice(&(libc::NLMSG_DONE as u16).to_ne_bytes());
    msg.extend_from_slice(&0u16.to_ne_bytes());
    msg.extend_from_slice(&0u32.to_ne_bytes());
    msg.extend_from_slice(&std::process::id().to_ne_bytes());
    msg.extend_from_slice(&CN_IDX_PROC.to_ne_bytes());
    msg.extend_from_slice(&CN_VAL_PROC.to_ne_bytes());
    msg.extend_from_slice(&[0u8; 8]); // seq, ack
    msg.extend_from_slice(&4u16.to_ne_bytes());
    msg.extend_from_slice(&0u16.to_ne_bytes());
    msg.extend_from_slice(&PROC_CN_MCAST_LISTEN.to_ne_bytes());
    // SAFETY: as above.
    if unsafe { libc::send(fd, msg.as_ptr().cast(), msg.len(), 0) } != msg.len() as isize {
        return Err(format!("netlink connector listen: {}", std::io::Error::last_os_error()));
    }
    let events = Events { log: Arc::default(), overruns: Arc::default(), drained_ns: Arc::default() };
    let (log, overruns, drained_ns) = (events.log.clone(), events.overruns.clone(), events.drained_ns.clone());
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 << 10];
        loop {
            let before = now_ns();
            // SAFETY: recv into our buffer; poll on our descriptor.
            let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT) };
            if n < 0 {
                match std::io::Error::last_os_error().raw_os_error() {
                    Some(libc::EAGAIN) => {
                        drained_ns.store(before, Ordering::Release);
                        let mut readable = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
                        unsafe { libc::poll(&mut readable, 1, -1) };
                    }
                    Some(libc::ENOBUFS) => *overruns.lock().unwrap() += 1,
                    Some(libc::EINTR) => {}
                    _ => return,
                }
                continue;
            }
            let mut rest = &buf[..n as usize];
            while rest.len() >= NLMSG_HDR {
                let len = (u32::from_ne_bytes(rest[0..4].try_into().unwrap()) as usize).min(rest.len());
                if let Some(event) = parse(&rest[NLMSG_HDR.min(len)..len]) {
                    log.lock().unwrap().push(event);
                }
                // Netlink messages are 4-byte aligned.
                let next = (len + 3) & !3;
                if next == 0 || next > rest.len() {
                    break;
                }
                rest = &rest[next..];
            }
        }
    });
    Ok(events)
}

/// One cn_msg carrying a proc_event: `what`, `cpu`, `timestamp_ns`, then
/// the event's data (pid and tgid first for exec and exit).
fn parse(cn: &[u8]) -> Option<Event> {
    let event = cn.get(CN_MSG_HDR..)?;
    let u32_at = |k: usize| Some(u32::from_ne_bytes(event.get(k..k + 4)?.try_into().ok()?));
    let what = match u32_at(0)? {
        PROC_EVENT_EXEC => What::Exec,
        PROC_EVENT_EXIT => What::Exit,
        _ => return None,
    };
    let at_ns = u64::from_ne_bytes(event.get(8..16)?.try_into().ok()?);
    let (pid, tgid) = (u32_at(16)? as i32, u32_at(20)? as i32);
    // A thread's exit is not its process's.
    (pid == tgid).then_some(Event { what, pid, at_ns })
}

impl Events {
    /// The times of every `what` of `pid` at or after `since_ns`, in order.
    pub fn times(&self, what: What, pid: i32, since_ns: u64) -> Vec<u64> {
        let log = self.log.lock().unwrap();
        let from = log.partition_point(|e| e.at_ns < since_ns);
        log[from..].iter().filter(|e| e.what == what && e.pid == pid).map(|e| e.at_ns).collect()
    }

    /// Waits (at most a second) until every event of before `at_ns` is in.
    pub fn settle(&self, at_ns: u64) {
        let give_up = std::time::Instant::now() + std::time::Duration::from_secs(1);
        while self.drained_ns.load(Ordering::Acquire) < at_ns && std::time::Instant::now() < give_up {
            std::thread::sleep(std::time::Duration::from_micros(100));
        }
    }

    /// Forgets the events before `before_ns` (they are never looked up again).
    pub fn forget(&self, before_ns: u64) {
        let mut log = self.log.lock().unwrap();
        let keep = log.partition_point(|e| e.at_ns < before_ns);
        log.drain(..keep);
    }

    pub fn overruns(&self) -> u64 {
        *self.overruns.lock().unwrap()
    }
}
