//! UNIX domain sockets of this network namespace, read from the kernel the way
//! `ss -x` does (NETLINK_SOCK_DIAG, SOCK_DIAG_BY_FAMILY for AF_UNIX), plus the
//! reference count that only `/proc/net/unix` shows. No `ss`, no `lsof`. A
//! caller asks only for the sockets and facts it uses ([`Query`]): the kernel
//! fills in no more.
//!
//! Everything the kernel sends is parsed with bounds checks: a short or odd
//! message is skipped or ends the dump with an error, never a panic.

use std::io;
use std::os::fd::AsRawFd;

use nix::sys::socket::{
    recv, sendto, socket, AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol, SockType,
};

// Netlink and sock_diag wire constants (linux/netlink.h, linux/sock_diag.h,
// linux/unix_diag.h). libc only has some of them, so all are spelled out here.
const NLMSG_HDR_LEN: usize = 16;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_DUMP: u16 = 0x300;
const SOCK_DIAG_BY_FAMILY: u16 = 20;

const UDIAG_SHOW_NAME: u32 = 0x01;
const UDIAG_SHOW_VFS: u32 = 0x02;
const UDIAG_SHOW_PEER: u32 = 0x04;
const UDIAG_SHOW_RQLEN: u32 = 0x10;

const UNIX_DIAG_NAME: u16 = 0;
const UNIX_DIAG_VFS: u16 = 1;
const UNIX_DIAG_PEER: u16 = 2;
const UNIX_DIAG_RQLEN: u16 = 4;

// The kernel's socket states (the TCP numbers) as bits of a dump's state mask.
const ESTABLISHED: u32 = 1 << 1;
const LISTEN: u32 = 1 << 10;

/// What a dump asks the kernel for: the states of the sockets it lists, the
/// attributes of each, and whether the reference counts of /proc/net/unix are
/// read too. Whatever is not asked for stays `None` in [`UnixSocket`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Query {
    states: u32,
    show: u32,
    refcounts: bool,
}

impl Query {
    /// What `ioc list` shows of its consoles: listeners and established
    /// sockets (the accepted connections) with their name, the socket
    /// file's inode and the queue lengths, and the reference counts.
    pub const CONSOLES: Query = Query {
        states: LISTEN | ESTABLISHED,
        show: UDIAG_SHOW_NAME | UDIAG_SHOW_VFS | UDIAG_SHOW_RQLEN,
        refcounts: true,
    };
    /// What `ioc inspect` follows: established sockets with their name and
    /// the inode of their peer.
    pub const CONNECTIONS: Query = Query {
        states: ESTABLISHED,
        show: UDIAG_SHOW_NAME | UDIAG_SHOW_PEER,
        refcounts: false,
    };
}

/// `struct unix_diag_msg`: family, type, state, pad, inode, cookie[2].
const UNIX_DIAG_MSG_LEN: usize = 16;
/// `struct rtattr`: length, type.
const RTATTR_HDR_LEN: usize = 4;

/// Socket type (`ss` calls them u_str, u_dgr, u_seq).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SocketKind {
    Stream,
    Datagram,
    SeqPacket,
    Other(u8),
}

impl SocketKind {
    fn from_kernel(kind: u8) -> Self {
        match i32::from(kind) {
            libc::SOCK_STREAM => SocketKind::Stream,
            libc::SOCK_DGRAM => SocketKind::Datagram,
            libc::SOCK_SEQPACKET => SocketKind::SeqPacket,
            _ => SocketKind::Other(kind),
        }
    }
}

/// Kernel state of a UNIX socket. The kernel reuses the TCP state numbers for
/// UNIX sockets; the names are the five epics-ioc-runner shows in K-STATE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SocketState {
    Listen,
    Unconnected,
    Connecting,
    Established,
    Disconnecting,
    Other(u8),
}

impl SocketState {
    fn from_kernel(state: u8) -> Self {
        // TCP_ESTABLISHED=1, TCP_SYN_SENT=2, TCP_SYN_RECV=3, TCP_FIN_WAIT1..TCP_CLOSING
        // (4..=11 without 7 and 10) are shutdown states, TCP_CLOSE=7, TCP_LISTEN=10.
        match state {
            1 => SocketState::Established,
            2 | 3 => SocketState::Connecting,
            7 => SocketState::Unconnected,
            10 => SocketState::Listen,
            4..=6 | 8 | 9 | 11 => SocketState::Disconnecting,
            other => SocketState::Other(other),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            SocketState::Listen => "LISTEN",
            SocketState::Unconnected => "UNCONN",
            SocketState::Connecting => "CONNECTING",
            SocketState::Established => "ESTAB",
            SocketState::Disconnecting => "DISCONN",
            SocketState::Other(_) => "UNKNOWN",
        }
    }
}

/// One UNIX socket as the kernel describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnixSocket {
    pub inode: u32,
    pub kind: SocketKind,
    pub state: SocketState,
    /// Bound name: a filesystem path, or `@name` for an abstract one. Sockets
    /// accepted by a listener carry the listener's name too.
    pub path: Option<String>,
    /// Inode and device of the socket file (only the bound socket itself).
    pub vfs_inode: Option<u32>,
    pub vfs_dev: Option<u32>,
    /// Inode of the socket at the other end of a connection.
    pub peer_inode: Option<u32>,
    /// Receive queue; for a listener the number of connections waiting for accept.
    pub rqueue: Option<u32>,
    /// Send queue; for a listener its backlog limit.
    pub wqueue: Option<u32>,
    /// References to the socket (`/proc/net/unix` RefCount); absent when that
    /// file does not list the inode.
    pub refcount: Option<u32>,
}

/// The UNIX sockets of this network namespace in the states `query` names,
/// with what it asks for, reference counts from `/proc/net/unix` where it
/// has them. Kernels without UNIX sock_diag (it is a module, `unix_diag`, in
/// many distribution kernels) get what `/proc/net/unix` alone tells, of
/// every socket: no queue lengths, no peers.
pub fn unix_sockets(query: Query) -> io::Result<Vec<UnixSocket>> {
    let mut sockets = match dump_from_kernel(query) {
        Ok(s) => s,
        Err(diag) => match read_proc_net_unix() {
            Ok(text) => return Ok(sockets_from_proc_net_unix(&text)),
            Err(_) => return Err(diag),
        },
    };
    if !query.refcounts {
        return Ok(sockets);
    }
    // A missing /proc/net/unix (no /proc mounted) only costs the REF column.
    if let Ok(text) = read_proc_net_unix() {
        let refcounts = RefCounts::parse(&text);
        for s in &mut sockets {
            s.refcount = refcounts.of(s.inode);
        }
    }
    Ok(sockets)
}

/// The text of /proc/net/unix in as few reads as the kernel allows (a page
/// each): read into room for a few hundred sockets, without the statx
/// `fs::read_to_string` makes for a size hint (the file has none) and its
/// first reads of 32 bytes and up.
fn read_proc_net_unix() -> io::Result<String> {
    use std::io::Read;
    let mut text = String::with_capacity(64 * 1024);
    // `take` hides that this is a file, and with it std's size probe. Taken
    // from `&mut File`, as the IOC file's and the log follower's capped reads
    // take theirs: one instance of std's read loop for the three (armv7 .text
    // -672 bytes), not one for `Take<File>` beside one for `Take<&mut File>`.
    let mut file = crate::sys::open_file(std::path::Path::new("/proc/net/unix"), libc::O_RDONLY, 0)?;
    (&mut file).take(u64::MAX).read_to_string(&mut text)?;
    Ok(text)
}

fn dump_from_kernel(query: Query) -> io::Result<Vec<UnixSocket>> {
    let fd = socket(
        AddressFamily::Netlink,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::NetlinkSockDiag,
    )?;
    const SEQ: u32 = 1;
    let request = dump_request(SEQ, query);
    sendto(
        fd.as_raw_fd(),
        request.as_flattened(),
        &NetlinkAddr::new(0, 0),
        MsgFlags::empty(),
    )?;

    let mut sockets = Vec::new();
    // The kernel fills each datagram up to about a page; 32 KiB holds any of them.
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        let n = match recv(fd.as_raw_fd(), &mut buf, MsgFlags::empty()) {
            Ok(n) => n,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        };
        if n == 0 {
            return Err(crate::logging::io_error(
                io::ErrorKind::UnexpectedEof,
                "sock_diag: dump ended without NLMSG_DONE",
            ));
        }
        if parse_datagram(buf.get(..n).unwrap_or_default(), SEQ, &mut sockets)? == Dump::Done {
            return Ok(sockets);
        }
    }
}

/// `nlmsghdr` + `struct unix_diag_req` asking for the states and the
/// attributes of `query`: ten 32-bit words in the machine's byte order, put
/// together on the stack.
fn dump_request(seq: u32, query: Query) -> [[u8; 4]; REQUEST_LEN / 4] {
    let [kind0, kind1] = SOCK_DIAG_BY_FAMILY.to_ne_bytes();
    let [flags0, flags1] = (NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes();
    [
        REQUEST_LEN as u32,
        u32::from_ne_bytes([kind0, kind1, flags0, flags1]),
        seq,
        0,                                                   // port id: the kernel fills it in
        u32::from_ne_bytes([libc::AF_UNIX as u8, 0, 0, 0]), // family, protocol, pad(2)
        query.states,
        0, // any inode
        query.show,
        u32::MAX, // no cookie
        u32::MAX,
    ]
    .map(u32::to_ne_bytes)
}

/// The request's length: the header and a `unix_diag_req` (family,
/// protocol, pad(2), states, ino, show, cookie[2]).
const REQUEST_LEN: usize = NLMSG_HDR_LEN + 24;

/// Whether a dump goes on after one datagram.
#[derive(Debug, PartialEq, Eq)]
pub enum Dump {
    More,
    Done,
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn align4(n: usize) -> usize {
    n.saturating_add(3) & !3
}

/// Parses one netlink datagram of a sock_diag dump into `out`. Messages of
/// other sequence numbers are ignored; a kernel error message becomes an error.
pub fn parse_datagram(datagram: &[u8], seq: u32, out: &mut Vec<UnixSocket>) -> io::Result<Dump> {
    let mut at = 0;
    while at + NLMSG_HDR_LEN <= datagram.len() {
        let Some(header) = datagram.get(at..) else { break };
        let (Some(len), Some(kind), Some(msg_seq)) =
            (u32_at(header, 0), u16_at(header, 4), u32_at(header, 8))
        else {
            break;
        };
        let len = len as usize;
        if len < NLMSG_HDR_LEN || len > header.len() {
            return Err(crate::logging::io_error(
                io::ErrorKind::InvalidData,
                "sock_diag: truncated netlink message",
            ));
        }
        let payload = &header[NLMSG_HDR_LEN..len];
        if msg_seq == seq {
            match kind {
                NLMSG_DONE => return Ok(Dump::Done),
                NLMSG_ERROR => {
                    let errno = payload
                        .get(..4)
                        .and_then(|b| b.try_into().ok())
                        .map(i32::from_ne_bytes);
                    return Err(match errno {
                        Some(0) => crate::logging::io_error(
                            io::ErrorKind::InvalidData,
                            "sock_diag: unexpected acknowledgement",
                        ),
                        Some(e) => io::Error::from_raw_os_error(e.saturating_abs()),
                        None => crate::logging::io_error(
                            io::ErrorKind::InvalidData,
                            "sock_diag: short error message",
                        ),
                    });
                }
                SOCK_DIAG_BY_FAMILY => {
                    if let Some(socket) = parse_unix_diag_msg(payload) {
                        out.push(socket);
                    }
                }
                _ => {}
            }
        }
        at += align4(len);
    }
    Ok(Dump::More)
}

/// One `unix_diag_msg` and its attributes; `None` when it is too short to be one.
fn parse_unix_diag_msg(msg: &[u8]) -> Option<UnixSocket> {
    if msg.len() < UNIX_DIAG_MSG_LEN {
        return None;
    }
    let mut socket = UnixSocket {
        inode: u32_at(msg, 4)?,
        kind: SocketKind::from_kernel(msg[1]),
        state: SocketState::from_kernel(msg[2]),
        path: None,
        vfs_inode: None,
        vfs_dev: None,
        peer_inode: None,
        rqueue: None,
        wqueue: None,
        refcount: None,
    };
    let mut at = UNIX_DIAG_MSG_LEN;
    while at + RTATTR_HDR_LEN <= msg.len() {
        let len = usize::from(u16_at(msg, at)?);
        let kind = u16_at(msg, at + 2)?;
        if len < RTATTR_HDR_LEN || at + len > msg.len() {
            break; // a malformed attribute ends this message's attributes
        }
        let Some(value) = msg.get(at + RTATTR_HDR_LEN..at + len) else { break };
        match kind {
            UNIX_DIAG_NAME => socket.path = socket_name(value),
            UNIX_DIAG_VFS => {
                socket.vfs_inode = u32_at(value, 0);
                socket.vfs_dev = u32_at(value, 4);
            }
            UNIX_DIAG_PEER => socket.peer_inode = u32_at(value, 0),
            UNIX_DIAG_RQLEN => {
                socket.rqueue = u32_at(value, 0);
                socket.wqueue = u32_at(value, 4);
            }
            _ => {}
        }
        at += align4(len);
    }
    Some(socket)
}

/// A socket name as `ss` prints it: the path, or `@` + name for an abstract
/// socket (whose first byte is NUL). Path names may carry a trailing NUL.
fn socket_name(raw: &[u8]) -> Option<String> {
    match raw.split_first() {
        None => None,
        Some((0, abstract_name)) => Some(format!("@{}", String::from_utf8_lossy(abstract_name))),
        Some(_) => {
            let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
            Some(String::from_utf8_lossy(&raw[..end]).into_owned())
        }
    }
}

/// The sockets' reference counts by inode, from the text of
/// `/proc/net/unix`: (inode, count) pairs sorted by inode, found by a
/// binary search. Not a `HashMap`: this was the program's only one with
/// std's random hasher, whose SipHash and key set-up were 1 KB of armv7
/// code for one lookup per socket (docs/ARCHITECTURE.md, "Binary size").
pub struct RefCounts(Vec<(u32, u32)>);

impl RefCounts {
    /// Reads `/proc/net/unix`'s text (`Num RefCount Protocol Flags Type St
    /// Inode Path`, RefCount in hex); lines that do not parse are skipped.
    pub fn parse(text: &str) -> Self {
        let mut counts: Vec<(u32, u32)> = text
            .lines()
            .skip(1)
            .filter_map(|line| {
                // The fields read here are the kernel's hex and decimal numbers.
                let mut fields = line.split_ascii_whitespace();
                let refcount = u32::from_str_radix(fields.nth(1)?, 16).ok()?;
                let inode = fields.nth(4)?.parse().ok()?;
                Some((inode, refcount))
            })
            .collect();
        counts.sort_unstable();
        RefCounts(counts)
    }

    /// The reference count of the socket with INODE, if the text listed it.
    pub fn of(&self, inode: u32) -> Option<u32> {
        let k = self.0.binary_search_by_key(&inode, |&(listed, _)| listed).ok()?;
        self.0.get(k).map(|&(_, count)| count)
    }
}

/// The sockets of `/proc/net/unix` (columns Num RefCount Protocol Flags Type
/// St Inode Path, all hex but the inode): a listener has __SO_ACCEPTCON in
/// its flags; St is the socket's SS_* state.
pub fn sockets_from_proc_net_unix(text: &str) -> Vec<UnixSocket> {
    const SO_ACCEPTCON: u32 = 0x10000;
    text.lines()
        .skip(1)
        .filter_map(|line| {
            // The fields in order, each found by going on from the last
            // (`nth(k)` skips k fields): no list of them per line.
            let mut fields = line.split_ascii_whitespace();
            let mut hex = |skip: usize| fields.nth(skip).and_then(|v| u32::from_str_radix(v, 16).ok());
            let (refcount, flags, kind, st) = (hex(1)?, hex(1)?, hex(0)?, hex(0)?);
            let inode = fields.next()?.parse().ok()?;
            let state = if flags & SO_ACCEPTCON != 0 {
                SocketState::Listen
            } else {
                match st {
                    1 => SocketState::Unconnected,
                    2 => SocketState::Connecting,
                    3 => SocketState::Established,
                    4 => SocketState::Disconnecting,
                    other => SocketState::Other(other as u8),
                }
            };
            Some(UnixSocket {
                inode,
                kind: SocketKind::from_kernel(kind as u8),
                state,
                path: fields.next().map(str::to_string),
                vfs_inode: None,
                vfs_dev: None,
                peer_inode: None,
                rqueue: None,
                wqueue: None,
                refcount: Some(refcount),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_net_unix_alone_gives_listeners_and_connections() {
        let text = "Num       RefCount Protocol Flags    Type St Inode Path\n\
                    0000000000000000: 00000002 00000000 00010000 0001 01 22530 /run/procserv/vac1/control\n\
                    0000000000000000: 00000003 00000000 00000000 0001 03 22601 /run/procserv/vac1/control\n\
                    0000000000000000: 00000003 00000000 00000000 0001 03 22602\n\
                    garbage line\n";
        let all = sockets_from_proc_net_unix(text);
        assert_eq!(all.len(), 3);
        assert_eq!((all[0].state, all[0].inode, all[0].refcount), (SocketState::Listen, 22530, Some(2)));
        assert_eq!(all[0].kind, SocketKind::Stream);
        assert_eq!((all[1].state, all[1].path.as_deref()), (SocketState::Established, Some("/run/procserv/vac1/control")));
        assert_eq!(all[2].path, None);
        assert_eq!(all[0].rqueue, None);
    }

    fn attr(kind: u16, value: &[u8]) -> Vec<u8> {
        let mut a = Vec::new();
        a.extend_from_slice(&((RTATTR_HDR_LEN + value.len()) as u16).to_ne_bytes());
        a.extend_from_slice(&kind.to_ne_bytes());
        a.extend_from_slice(value);
        a.resize(align4(a.len()), 0);
        a
    }

    fn message(kind: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(&((NLMSG_HDR_LEN + payload.len()) as u32).to_ne_bytes());
        m.extend_from_slice(&kind.to_ne_bytes());
        m.extend_from_slice(&0u16.to_ne_bytes());
        m.extend_from_slice(&seq.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        m.extend_from_slice(payload);
        m.resize(align4(m.len()), 0);
        m
    }

    fn diag_msg(kind: u8, state: u8, inode: u32, attrs: &[Vec<u8>]) -> Vec<u8> {
        let mut m = vec![libc::AF_UNIX as u8, kind, state, 0];
        m.extend_from_slice(&inode.to_ne_bytes());
        m.extend_from_slice(&[0xff; 8]);
        for a in attrs {
            m.extend_from_slice(a);
        }
        m
    }

    fn pair(a: u32, b: u32) -> Vec<u8> {
        [a.to_ne_bytes(), b.to_ne_bytes()].concat()
    }

    #[test]
    fn listener_with_all_attributes_is_decoded() {
        let listener = diag_msg(
            1,
            10,
            4242,
            &[
                attr(UNIX_DIAG_NAME, b"/run/procserv/demo/control"),
                attr(UNIX_DIAG_VFS, &pair(77, 5)),
                attr(UNIX_DIAG_RQLEN, &pair(1, 5)),
                attr(3, &pair(900, 901)), // UNIX_DIAG_ICONS, not asked for: skipped
            ],
        );
        let mut datagram = message(SOCK_DIAG_BY_FAMILY, 7, &listener);
        datagram.extend(message(NLMSG_DONE, 7, &[0; 4]));
        let mut out = Vec::new();
        assert_eq!(parse_datagram(&datagram, 7, &mut out).unwrap(), Dump::Done);
        assert_eq!(
            out,
            vec![UnixSocket {
                inode: 4242,
                kind: SocketKind::Stream,
                state: SocketState::Listen,
                path: Some("/run/procserv/demo/control".into()),
                vfs_inode: Some(77),
                vfs_dev: Some(5),
                peer_inode: None,
                rqueue: Some(1),
                wqueue: Some(5),
                refcount: None,
            }]
        );
    }

    #[test]
    fn abstract_and_nul_terminated_names_read_like_ss() {
        assert_eq!(socket_name(b"\0iocinit"), Some("@iocinit".into()));
        assert_eq!(socket_name(b"/tmp/x\0"), Some("/tmp/x".into()));
        assert_eq!(socket_name(b""), None);
    }

    #[test]
    fn kernel_error_becomes_io_error() {
        let datagram = message(NLMSG_ERROR, 3, &(-libc::EACCES).to_ne_bytes());
        let err = parse_datagram(&datagram, 3, &mut Vec::new()).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EACCES));
    }

    #[test]
    fn other_sequence_numbers_are_ignored() {
        let datagram = message(NLMSG_DONE, 99, &[0; 4]);
        assert_eq!(
            parse_datagram(&datagram, 1, &mut Vec::new()).unwrap(),
            Dump::More
        );
    }

    #[test]
    fn truncated_and_garbage_input_never_panics() {
        let good = message(
            SOCK_DIAG_BY_FAMILY,
            1,
            &diag_msg(
                5,
                1,
                9,
                &[
                    attr(UNIX_DIAG_PEER, &10u32.to_ne_bytes()),
                    attr(UNIX_DIAG_NAME, b"/x"),
                ],
            ),
        );
        for cut in 0..good.len() {
            let _ = parse_datagram(&good[..cut], 1, &mut Vec::new());
        }
        // Attribute lengths that lie, in every position.
        for i in NLMSG_HDR_LEN..good.len() {
            for byte in [0u8, 1, 3, 0x7f, 0xff] {
                let mut bad = good.clone();
                bad[i] = byte;
                let _ = parse_datagram(&bad, 1, &mut Vec::new());
            }
        }
        let mut out = Vec::new();
        parse_datagram(&good, 1, &mut out).unwrap();
        assert_eq!(out[0].kind, SocketKind::SeqPacket);
        assert_eq!(out[0].state, SocketState::Established);
        assert_eq!(out[0].peer_inode, Some(10));
    }

    #[test]
    fn proc_net_unix_refcounts_by_inode() {
        let text = "Num       RefCount Protocol Flags    Type St Inode Path\n\
                    0000000000000000: 00000003 00000000 00010000 0001 01 22530 /tmp/exp/control\n\
                    0000000000000000: 00000002 00000000 00000000 0001 03 22600\n\
                    0000000000000000: 00000001 00000000 00000000 0001 03 1200\n\
                    garbage line\n";
        let counts = RefCounts::parse(text);
        assert_eq!(counts.of(22530), Some(3));
        assert_eq!(counts.of(22600), Some(2));
        assert_eq!(counts.of(1200), Some(1), "found though listed after larger inodes");
        assert_eq!(counts.of(22601), None);
        assert_eq!(counts.0.len(), 3, "the garbage line skipped");
    }

    #[test]
    fn the_dump_request_is_a_header_and_a_unix_diag_req() {
        let query = Query { states: 0x0a, show: 0x1f, ..Query::CONSOLES };
        let request = dump_request(7, query);
        let msg = request.as_flattened();
        let u16_at = |at: usize| u16::from_ne_bytes([msg[at], msg[at + 1]]);
        let u32_at = |at: usize| u32::from_ne_bytes([msg[at], msg[at + 1], msg[at + 2], msg[at + 3]]);
        assert_eq!((u32_at(0), u16_at(4), u16_at(6), u32_at(8), u32_at(12)), (40, 20, 0x301, 7, 0));
        assert_eq!((msg[16], msg[17], u16_at(18)), (libc::AF_UNIX as u8, 0, 0));
        assert_eq!((u32_at(20), u32_at(24), u32_at(28), u32_at(32), u32_at(36)), (0x0a, 0, 0x1f, u32::MAX, u32::MAX));
    }

    #[test]
    fn live_dump_sees_a_listener_and_its_connection() {
        let dir = crate::scratch::ScratchDir::new("sockdiag");
        let path = dir.join("control");
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let _client = std::os::unix::net::UnixStream::connect(&path).unwrap();
        let (_server_side, _) = listener.accept().unwrap();
        let sockets = unix_sockets(Query::CONSOLES).unwrap();
        let name = path.to_str().unwrap();
        let bound: Vec<_> = sockets
            .iter()
            .filter(|s| s.path.as_deref() == Some(name))
            .collect();
        let listen = bound
            .iter()
            .find(|s| s.state == SocketState::Listen)
            .expect("listener");
        assert!(listen.vfs_inode.is_some());
        assert!(listen.refcount.is_some());
        assert_eq!((listen.rqueue, listen.wqueue.is_some()), (Some(0), true));
        assert!(bound.iter().any(|s| s.state == SocketState::Established), "accepted socket");

        let sockets = unix_sockets(Query::CONNECTIONS).unwrap();
        let accepted = sockets
            .iter()
            .find(|s| s.path.as_deref() == Some(name))
            .expect("accepted socket");
        assert_eq!(accepted.state, SocketState::Established);
        let peer = accepted.peer_inode.expect("peer inode");
        assert!(sockets
            .iter()
            .any(|s| s.inode == peer && s.peer_inode == Some(accepted.inode)));
    }

    #[test]
    fn a_dump_gets_only_the_sockets_and_facts_its_query_asks_for() {
        let dir = crate::scratch::ScratchDir::new("sockdiag-query");
        let path = dir.join("control");
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let _client = std::os::unix::net::UnixStream::connect(&path).unwrap();
        let (_server_side, _) = listener.accept().unwrap();
        let datagram_path = dir.join("datagram");
        let _datagram = std::os::unix::net::UnixDatagram::bind(&datagram_path).unwrap();
        let named = |sockets: &[UnixSocket], path: &std::path::Path| -> Vec<UnixSocket> {
            let name = path.to_str().unwrap();
            sockets.iter().filter(|s| s.path.as_deref() == Some(name)).cloned().collect()
        };

        // `ioc list`: listeners and connections, no peers, no unconnected sockets.
        let consoles = unix_sockets(Query::CONSOLES).unwrap();
        assert_eq!(named(&consoles, &datagram_path), vec![], "an unconnected socket");
        let console = named(&consoles, &path);
        assert_eq!(console.len(), 2, "{console:?}");
        assert!(console.iter().all(|s| s.peer_inode.is_none()), "{console:?}");
        assert!(consoles.iter().all(|s| matches!(s.state, SocketState::Listen | SocketState::Established)));

        // `ioc inspect`: connections and their peers, nothing else.
        let connections = unix_sockets(Query::CONNECTIONS).unwrap();
        assert_eq!(named(&connections, &datagram_path), vec![]);
        let console = named(&connections, &path);
        assert_eq!(console.len(), 1, "the accepted socket only: {console:?}");
        let accepted = &console[0];
        assert!(accepted.peer_inode.is_some());
        assert_eq!((accepted.rqueue, accepted.vfs_inode, accepted.refcount), (None, None, None));
        assert!(connections.iter().all(|s| s.state == SocketState::Established));
    }
}
