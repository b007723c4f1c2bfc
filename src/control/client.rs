//! The CLI's side of the control socket: one request, its records, its End.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sys::socket::{self, AddressFamily, MsgFlags, SockFlag, SockType};

use super::protocol::{Code, Kind, Message, Request, Tag, Verb, MSG_MAX};

/// Everything PID 1 answered to one request.
#[derive(Debug, Clone)]
pub struct Reply {
    pub records: Vec<Message>,
    pub code: Code,
    pub message: String,
    /// A listing cut by a configuration reload (records of one table, not all).
    pub retry: bool,
}

/// How often a listing is asked for when reloads keep cutting it.
const LISTING_ATTEMPTS: u32 = 3;

/// Why a request got no answer.
#[derive(Debug)]
pub enum ClientError {
    /// No supervisor listens there.
    NotRunning(PathBuf),
    Io(PathBuf, io::Error),
    Protocol(String),
    Timeout,
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientError::NotRunning(p) => write!(f, "iocinit is not running (no control socket at {})", p.display()),
            ClientError::Io(p, e) => write!(f, "{}: {e}", p.display()),
            ClientError::Protocol(m) => write!(f, "bad reply from iocinit: {m}"),
            ClientError::Timeout => f.write_str("no answer from iocinit in time"),
        }
    }
}

pub struct Client {
    fd: OwnedFd,
    path: PathBuf,
}

impl Client {
    pub fn connect(path: &Path) -> Result<Client, ClientError> {
        let io_err = |e: nix::errno::Errno| ClientError::Io(path.to_path_buf(), io::Error::from(e));
        let fd = socket::socket(AddressFamily::Unix, SockType::SeqPacket, SockFlag::SOCK_CLOEXEC, None).map_err(io_err)?;
        let addr = super::socket_address(path).map_err(io_err)?;
        match socket::connect(fd.as_raw_fd(), &addr) {
            Ok(()) => Ok(Client { fd, path: path.to_path_buf() }),
            Err(nix::errno::Errno::ENOENT | nix::errno::Errno::ENOTDIR | nix::errno::Errno::ECONNREFUSED) => Err(ClientError::NotRunning(path.to_path_buf())),
            Err(e) => Err(io_err(e)),
        }
    }

    /// Sends one request and collects the reply; `timeout` bounds each wait
    /// for a message (None: wait as long as it takes, e.g. a slow start). A
    /// listing cut by a configuration reload is asked for again, a few times.
    pub fn request(&mut self, verb: Verb, flags: u8, args: &[&str], timeout: Option<Duration>) -> Result<Reply, ClientError> {
        let mut attempts = 1;
        loop {
            let reply = self.request_once(verb, flags, args, timeout)?;
            if !reply.retry || attempts == LISTING_ATTEMPTS {
                return Ok(reply);
            }
            attempts += 1;
        }
    }

    fn request_once(&mut self, verb: Verb, flags: u8, args: &[&str], timeout: Option<Duration>) -> Result<Reply, ClientError> {
        let io_err = |e: nix::errno::Errno| ClientError::Io(self.path.clone(), io::Error::from(e));
        // Waited for with poll(2) before each read, not set on the socket
        // (SO_RCVTIMEO): musl's setsockopt links its conversion of the
        // time64 options (docs/ARCHITECTURE.md, "Binary size").
        let timeout_ms = timeout.map(|t| t.as_millis().min(u64::MAX as u128) as u64);
        let packet = Request::encode(verb, flags, args);
        // PID 1 closed the connection first (EPIPE; ECONNRESET when it left a
        // request of ours unread), but may have said why (no slot free):
        // read on.
        match socket::send(self.fd.as_raw_fd(), &packet, MsgFlags::MSG_NOSIGNAL) {
            Ok(_) | Err(nix::errno::Errno::EPIPE | nix::errno::Errno::ECONNRESET) => {}
            Err(e) => return Err(io_err(e)),
        }
        let mut records = Vec::new();
        let mut buf = vec![0u8; MSG_MAX];
        let mut reset = false;
        loop {
            match timeout_ms.map(|ms| crate::sys::wait_readable(self.fd.as_raw_fd(), ms)) {
                None | Some(Ok(true)) => {}
                Some(Ok(false)) => return Err(ClientError::Timeout),
                Some(Err(libc::EINTR)) => continue,
                Some(Err(e)) => return Err(io_err(nix::errno::Errno::from_raw(e))),
            }
            let n = match socket::recv(self.fd.as_raw_fd(), &mut buf, MsgFlags::empty()) {
                Ok(0) => return Err(ClientError::Protocol("connection closed before the end of the reply".into())),
                Ok(n) => n,
                Err(nix::errno::Errno::EINTR) => continue,
                // PID 1 closed without reading the request (no slot): the
                // kernel reports that once, before the refusal it queued.
                Err(nix::errno::Errno::ECONNRESET) if !reset => {
                    reset = true;
                    continue;
                }
                Err(e) => return Err(io_err(e)),
            };
            let msg = Message::decode(buf.get(..n).unwrap_or_default()).map_err(|e| ClientError::Protocol(e.to_string()))?;
            match msg.kind {
                Kind::Record => records.push(msg),
                Kind::End => {
                    let message = msg.str(Tag::Message).unwrap_or("").to_string();
                    let retry = msg.bool(Tag::Retry).unwrap_or(false);
                    return Ok(Reply { records, code: msg.code(), message, retry });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::protocol::Encoder;

    #[test]
    fn no_socket_at_the_path_is_not_running_whatever_the_path_holds() {
        // A missing directory, and a file where a directory should be.
        for path in ["/nonexistent-iocinit-dir/control", "/proc/self/cmdline/control"] {
            let error = Client::connect(Path::new(path)).err().expect(path);
            assert!(matches!(error, ClientError::NotRunning(_)), "{path}: {error}");
        }
    }

    /// A client wired to a fake server that ends the first `cut` replies
    /// with `retry`, then answers one record and OK; returns the reply and
    /// how many requests the server saw.
    fn against_cuts(cut: usize) -> (Reply, usize) {
        let (ours, theirs) = socket::socketpair(AddressFamily::Unix, SockType::SeqPacket, None, SockFlag::SOCK_CLOEXEC).unwrap();
        let server = std::thread::spawn(move || {
            let mut seen = 0;
            let mut buf = [0u8; MSG_MAX];
            while socket::recv(theirs.as_raw_fd(), &mut buf, MsgFlags::empty()).is_ok_and(|n| n > 0) {
                seen += 1;
                let mut out = [0u8; MSG_MAX];
                let mut enc = Encoder::new(&mut out, Kind::Record);
                enc.str(Tag::Id, if seen > cut { "new" } else { "old" });
                socket::send(theirs.as_raw_fd(), enc.as_bytes(), MsgFlags::empty()).unwrap();
                let mut enc = Encoder::new(&mut out, Kind::End);
                if seen > cut {
                    enc.bytes(Tag::Code, &[Code::Ok as u8]);
                } else {
                    enc.bytes(Tag::Code, &[Code::Fail as u8]).bool(Tag::Retry, true);
                }
                socket::send(theirs.as_raw_fd(), enc.as_bytes(), MsgFlags::empty()).unwrap();
            }
            seen
        });
        let mut client = Client { fd: ours, path: PathBuf::from("test") };
        let reply = client.request(Verb::Status, 0, &[], Some(Duration::from_secs(10))).unwrap();
        drop(client);
        (reply, server.join().unwrap())
    }

    #[test]
    fn a_listing_cut_by_a_reload_is_asked_for_again() {
        let (reply, requests) = against_cuts(2);
        assert_eq!((reply.code, reply.retry, requests), (Code::Ok, false, 3));
        let ids: Vec<&str> = reply.records.iter().filter_map(|r| r.str(Tag::Id)).collect();
        assert_eq!(ids, ["new"], "records of a cut reply are dropped");
    }

    #[test]
    fn reloads_that_keep_cutting_a_listing_end_in_its_failure() {
        let (reply, requests) = against_cuts(usize::MAX);
        assert_eq!((reply.code, reply.retry, requests), (Code::Fail, true, LISTING_ATTEMPTS as usize));
    }

    #[test]
    fn a_server_that_never_answers_is_a_timeout() {
        let (ours, _theirs) = socket::socketpair(AddressFamily::Unix, SockType::SeqPacket, None, SockFlag::SOCK_CLOEXEC).unwrap();
        let mut client = Client { fd: ours, path: PathBuf::from("test") };
        let start = std::time::Instant::now();
        let error = client.request(Verb::Status, 0, &[], Some(Duration::from_millis(200))).unwrap_err();
        assert!(matches!(error, ClientError::Timeout), "{error}");
        assert!(start.elapsed() >= Duration::from_millis(200), "{:?}", start.elapsed());
    }

    /// PID 1 refuses a client it has no slot for and closes at once, maybe
    /// before the request is sent: the client still reads why.
    #[test]
    fn a_refusal_sent_before_the_request_is_read() {
        assert_eq!(refused_busy(false), (Code::Fail, "busy".to_string()));
    }

    /// The same when the request was sent but never read: the kernel
    /// reports the reset before the queued refusal.
    #[test]
    fn a_refusal_is_read_after_the_reset_of_an_unread_request() {
        assert_eq!(refused_busy(true), (Code::Fail, "busy".to_string()));
    }

    /// A server that answers FAIL "busy" and closes, with a request of the
    /// client's already queued and never read when `request_queued`; the
    /// code and message the client's next request gets.
    fn refused_busy(request_queued: bool) -> (Code, String) {
        let (ours, theirs) = socket::socketpair(AddressFamily::Unix, SockType::SeqPacket, None, SockFlag::SOCK_CLOEXEC).unwrap();
        if request_queued {
            socket::send(ours.as_raw_fd(), &Request::encode(Verb::Status, 0, &[]), MsgFlags::empty()).unwrap();
        }
        let mut out = [0u8; MSG_MAX];
        let mut enc = Encoder::new(&mut out, Kind::End);
        enc.bytes(Tag::Code, &[Code::Fail as u8]).str(Tag::Message, "busy");
        socket::send(theirs.as_raw_fd(), enc.as_bytes(), MsgFlags::empty()).unwrap();
        drop(theirs);
        let mut client = Client { fd: ours, path: PathBuf::from("test") };
        let reply = client.request(Verb::Status, 0, &[], Some(Duration::from_secs(10))).unwrap();
        (reply.code, reply.message)
    }
}
