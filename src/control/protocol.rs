//! The control protocol between PID 1 and its CLI, shared by both sides.
//!
//! Transport: a SOCK_SEQPACKET UNIX socket; one message per packet, at most
//! [`MSG_MAX`] bytes. Every message starts with the magic `IOCI` and the
//! protocol [`VERSION`]; a peer speaking another version gets BADPARAM.
//!
//! Request: `IOCI ver verb flags argc (len:u16le bytes){argc}`.
//! Replies: zero or more `Record` messages, then one `End` message; both are
//! `IOCI ver kind` followed by fields `(tag:u8 len:u16le bytes)*`. The `End`
//! carries Epoch's result code (OK/WARN/FAIL/BADPARAM, plus DENIED) and a
//! message. Integers are little-endian; strings are UTF-8 without NUL.
//!
//! The server side encodes into fixed buffers ([`Encoder`]); the client
//! decodes into owned values ([`Reply`]).

pub const MAGIC: &[u8; 4] = b"IOCI";
pub const VERSION: u8 = 1;
pub const MSG_MAX: usize = 4096;
pub const ARG_MAX: usize = 8;

/// Request flag: answer only when the object has settled (start/stop/restart).
pub const FLAG_WAIT: u8 = 1;

macro_rules! codes {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $value:expr, $text:expr;)* }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name { $($variant = $value,)* }
        impl $name {
            pub fn from_u8(v: u8) -> Option<Self> {
                match v { $($value => Some($name::$variant),)* _ => None }
            }
            pub fn name(self) -> &'static str {
                match self { $($name::$variant => $text,)* }
            }
            pub fn from_name(s: &str) -> Option<Self> {
                match s { $($text => Some($name::$variant),)* _ => None }
            }
        }
    };
}

codes! {
    /// What a request asks for; the names are the CLI's (Epoch's) verbs.
    Verb {
        Status = 1, "status";
        Start = 2, "start";
        Stop = 3, "stop";
        Restart = 4, "restart";
        Reload = 5, "reload";
        Enable = 6, "enable";
        Disable = 7, "disable";
        Runlevel = 8, "runlevel";
        Objrl = 9, "objrl";
        ConfigReload = 10, "configreload";
        Reexec = 11, "reexec";
        GetPid = 12, "getpid";
        Kill = 13, "kill";
        SetCad = 14, "setcad";
        Power = 15, "power";
        Version = 16, "version";
        IocList = 17, "ioc-list";
        IocRescan = 18, "ioc-rescan";
    }
}

codes! {
    /// Result of a request (Epoch's codes, and DENIED for access control).
    Code {
        Ok = 0, "OK";
        Warn = 1, "WARN";
        Fail = 2, "FAIL";
        BadParam = 3, "BADPARAM";
        Denied = 4, "DENIED";
    }
}

codes! {
    /// Kinds of reply message.
    Kind {
        Record = 1, "record";
        End = 2, "end";
    }
}

codes! {
    /// Reply fields.
    Tag {
        Id = 1, "id";
        Description = 2, "description";
        State = 3, "state";
        Enabled = 4, "enabled";
        Pid = 5, "pid";
        Since = 6, "since";
        LastExit = 7, "last_exit";
        Restarts = 8, "restarts";
        Runlevels = 9, "runlevels";
        Options = 10, "options";
        User = 11, "user";
        Group = 12, "group";
        StopMode = 13, "stop_mode";
        Console = 14, "console";
        ChildPid = 15, "ioc_pid";
        Note = 16, "note";
        StartPriority = 17, "start_priority";
        StopPriority = 18, "stop_priority";
        IsConsole = 19, "is_ioc";
        Outcome = 20, "outcome";
        Log = 21, "log";
        Removed = 22, "removed";
        IocDirectory = 23, "ioc_directory";
        ConsoleRoot = 24, "console_root";
        // IocUser: who an IOC file that may not choose its user runs as.
        IocUser = 25, "ioc_user";
        Version = 30, "version";
        CurrentRunlevel = 31, "runlevel";
        Phase = 32, "phase";
        Cad = 33, "cad";
        Allocations = 34, "allocations";
        ShutdownIn = 35, "shutdown_in_ms";
        Mode = 36, "mode";
        Code = 40, "code";
        Message = 41, "message";
        // In an End: a listing cut by a configuration reload; asking again
        // gets a whole one.
        Retry = 42, "retry";
        // An object's process settings, state directory and host (extensions).
        RtPrio = 50, "rtprio";
        MemLock = 51, "memlock";
        CoreSize = 52, "core_size";
        Nice = 53, "nice";
        Umask = 54, "umask";
        Cpus = 55, "cpus";
        StateDirectory = 56, "state_directory";
        Host = 57, "host";
        // An IOC's IOC_META_* variables, one `NAME=value` a line.
        Meta = 60, "meta";
        // An IOC's CRASH_LOG_PATTERNS_EXTRA, as written.
        CrashPatterns = 61, "crash_log_patterns_extra";
    }
}

/// A decoded request; arguments borrow from the packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request<'a> {
    pub verb: Verb,
    pub flags: u8,
    pub args: heapless::Vec<&'a str, ARG_MAX>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    Short,
    Magic,
    Version(u8),
    Verb(u8),
    TooManyArgs,
    NotUtf8,
}

impl core::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            DecodeError::Short => f.write_str("truncated message"),
            DecodeError::Magic => f.write_str("not an iocinit control message"),
            DecodeError::Version(v) => write!(f, "protocol version {v} not supported (this is {VERSION})"),
            DecodeError::Verb(v) => write!(f, "unknown request {v}"),
            DecodeError::TooManyArgs => write!(f, "more than {ARG_MAX} arguments"),
            DecodeError::NotUtf8 => f.write_str("argument is not UTF-8"),
        }
    }
}

// The readers take a message apart with `split_first_chunk` and
// `split_at_checked`, whose answer says whether the part was there: no index
// into a client's bytes that could panic PID 1 if a length check before it
// were ever wrong (docs/ARCHITECTURE.md, "Binary size", round 12).
fn header(buf: &[u8]) -> Result<&[u8], DecodeError> {
    let Some((&[m0, m1, m2, m3, version], rest)) = buf.split_first_chunk::<5>() else {
        return Err(DecodeError::Short);
    };
    if [m0, m1, m2, m3] != *MAGIC {
        return Err(DecodeError::Magic);
    }
    if version != VERSION {
        return Err(DecodeError::Version(version));
    }
    Ok(rest)
}

impl<'a> Request<'a> {
    pub fn decode(buf: &'a [u8]) -> Result<Request<'a>, DecodeError> {
        let Some((&[verb, flags, argc], mut at)) = header(buf)?.split_first_chunk::<3>() else {
            return Err(DecodeError::Short);
        };
        let verb = Verb::from_u8(verb).ok_or(DecodeError::Verb(verb))?;
        let argc = usize::from(argc);
        if argc > ARG_MAX {
            return Err(DecodeError::TooManyArgs);
        }
        let mut args = heapless::Vec::new();
        for _ in 0..argc {
            let Some((&len, rest)) = at.split_first_chunk::<2>() else {
                return Err(DecodeError::Short);
            };
            let (bytes, rest) = rest.split_at_checked(usize::from(u16::from_le_bytes(len))).ok_or(DecodeError::Short)?;
            let s = core::str::from_utf8(bytes).map_err(|_| DecodeError::NotUtf8)?;
            let _ = args.push(s);
            at = rest;
        }
        Ok(Request { verb, flags, args })
    }

    /// Encodes a request (client side).
    pub fn encode(verb: Verb, flags: u8, args: &[&str]) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + args.iter().map(|a| a.len() + 2).sum::<usize>());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&[VERSION, verb as u8, flags, args.len().min(ARG_MAX) as u8]);
        for a in args.iter().take(ARG_MAX) {
            let bytes = &a.as_bytes()[..a.len().min(1024)];
            out.extend_from_slice(&(bytes.len() as u16).to_le_bytes());
            out.extend_from_slice(bytes);
        }
        out
    }

    pub fn arg(&self, n: usize) -> Option<&'a str> {
        self.args.get(n).copied()
    }
}

/// Writes one reply message into a fixed buffer. A field that does not fit
/// is cut (strings) or dropped (numbers); the message stays well-formed.
pub struct Encoder<'b> {
    buf: &'b mut [u8; MSG_MAX],
    len: usize,
}

impl<'b> Encoder<'b> {
    pub fn new(buf: &'b mut [u8; MSG_MAX], kind: Kind) -> Self {
        let [m0, m1, m2, m3] = *MAGIC;
        // The buffer's size is a constant: the split never fails, and leaves
        // no check behind.
        if let Some((head, _)) = buf.split_first_chunk_mut::<6>() {
            *head = [m0, m1, m2, m3, VERSION, kind as u8];
        }
        Encoder { buf, len: 6 }
    }

    pub fn bytes(&mut self, tag: Tag, value: &[u8]) -> &mut Self {
        // The field's tag and length, then as much of the value as the rest
        // of the buffer holds; no field at all where the first three bytes
        // do not fit.
        if let Some((field, room)) = self.buf.get_mut(self.len..).and_then(|free| free.split_first_chunk_mut::<3>()) {
            let n = value.len().min(room.len()).min(u16::MAX as usize);
            let [len0, len1] = (n as u16).to_le_bytes();
            *field = [tag as u8, len0, len1];
            room.iter_mut().zip(value).take(n).for_each(|(to, &from)| *to = from);
            self.len += 3 + n;
        }
        self
    }

    pub fn str(&mut self, tag: Tag, value: &str) -> &mut Self {
        // Cut on a character boundary so the client always gets UTF-8.
        let room = MSG_MAX.saturating_sub(self.len + 3);
        let mut end = value.len().min(room);
        while !value.is_char_boundary(end) {
            end -= 1;
        }
        self.bytes(tag, value.get(..end).unwrap_or_default().as_bytes())
    }

    pub fn u64(&mut self, tag: Tag, value: u64) -> &mut Self {
        if self.len + 11 <= MSG_MAX {
            self.bytes(tag, &value.to_le_bytes());
        }
        self
    }

    pub fn i64(&mut self, tag: Tag, value: i64) -> &mut Self {
        self.u64(tag, value as u64)
    }

    pub fn bool(&mut self, tag: Tag, value: bool) -> &mut Self {
        self.bytes(tag, &[value as u8])
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }
}

/// A decoded reply message (client side).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub kind: Kind,
    pub fields: Vec<(Tag, Vec<u8>)>,
}

impl Message {
    pub fn decode(buf: &[u8]) -> Result<Message, DecodeError> {
        let (&kind, mut at) = header(buf)?.split_first().ok_or(DecodeError::Short)?;
        let kind = Kind::from_u8(kind).ok_or(DecodeError::Short)?;
        let mut fields = Vec::new();
        while !at.is_empty() {
            let Some((&[tag, len0, len1], rest)) = at.split_first_chunk::<3>() else {
                return Err(DecodeError::Short);
            };
            let (value, rest) = rest.split_at_checked(usize::from(u16::from_le_bytes([len0, len1]))).ok_or(DecodeError::Short)?;
            // Unknown tags from a newer server are skipped, not fatal.
            if let Some(tag) = Tag::from_u8(tag) {
                fields.push((tag, value.to_vec()));
            }
            at = rest;
        }
        Ok(Message { kind, fields })
    }

    pub fn get(&self, tag: Tag) -> Option<&[u8]> {
        self.fields.iter().find(|(t, _)| *t == tag).map(|(_, v)| v.as_slice())
    }

    pub fn str(&self, tag: Tag) -> Option<&str> {
        self.get(tag).and_then(|v| core::str::from_utf8(v).ok())
    }

    pub fn u64(&self, tag: Tag) -> Option<u64> {
        self.get(tag).and_then(|v| v.try_into().ok()).map(u64::from_le_bytes)
    }

    pub fn i64(&self, tag: Tag) -> Option<i64> {
        self.u64(tag).map(|v| v as i64)
    }

    pub fn bool(&self, tag: Tag) -> Option<bool> {
        self.get(tag).and_then(|v| v.first()).map(|&b| b != 0)
    }

    pub fn code(&self) -> Code {
        self.get(Tag::Code).and_then(|v| v.first()).and_then(|&c| Code::from_u8(c)).unwrap_or(Code::Fail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_round_trip() {
        let bytes = Request::encode(Verb::Objrl, FLAG_WAIT, &["vac1", "add", "maint"]);
        let r = Request::decode(&bytes).unwrap();
        assert_eq!(r.verb, Verb::Objrl);
        assert_eq!(r.flags, FLAG_WAIT);
        assert_eq!(r.args.as_slice(), ["vac1", "add", "maint"]);
    }

    #[test]
    fn bad_requests_are_named_not_panicked_on() {
        assert_eq!(Request::decode(b"IOC"), Err(DecodeError::Short));
        assert_eq!(Request::decode(b"XXXX\x01\x01\x00\x00"), Err(DecodeError::Magic));
        assert_eq!(Request::decode(b"IOCI\x09\x01\x00\x00"), Err(DecodeError::Version(9)));
        assert_eq!(Request::decode(b"IOCI\x01\xff\x00\x00"), Err(DecodeError::Verb(255)));
        assert_eq!(Request::decode(b"IOCI\x01\x01\x00\x01\x05\x00ab"), Err(DecodeError::Short));
        assert_eq!(Request::decode(b"IOCI\x01\x01\x00\x01\x02\x00\xff\xfe"), Err(DecodeError::NotUtf8));
        assert_eq!(Request::decode(b"IOCI\x01\x01\x00\x09"), Err(DecodeError::TooManyArgs));
        // Arbitrary bytes never panic.
        for n in 0..2000u32 {
            let bytes: Vec<u8> = (0..(n % 40)).map(|k| (n.wrapping_mul(2654435761).rotate_left(k) & 0xff) as u8).collect();
            let mut framed = b"IOCI\x01".to_vec();
            framed.extend(&bytes);
            let _ = Request::decode(&framed);
            let _ = Message::decode(&framed);
        }
    }

    #[test]
    fn reply_round_trip_and_truncation() {
        let mut buf = [0u8; MSG_MAX];
        let mut e = Encoder::new(&mut buf, Kind::Record);
        e.str(Tag::Id, "vac1").i64(Tag::Pid, 42).bool(Tag::Enabled, true);
        let long = "é".repeat(5000);
        e.str(Tag::Description, &long);
        e.u64(Tag::Restarts, 7);
        let bytes = e.as_bytes().to_vec();
        assert!(bytes.len() <= MSG_MAX);
        let m = Message::decode(&bytes).unwrap();
        assert_eq!(m.kind, Kind::Record);
        assert_eq!(m.str(Tag::Id), Some("vac1"));
        assert_eq!(m.i64(Tag::Pid), Some(42));
        assert_eq!(m.bool(Tag::Enabled), Some(true));
        assert!(m.str(Tag::Description).unwrap().chars().all(|c| c == 'é'));
        assert_eq!(m.u64(Tag::Restarts), None, "no room left: dropped, not corrupted");
    }

    #[test]
    fn a_field_at_the_buffers_end_is_cut_or_left_out() {
        // The header's 6 bytes and a field of 3 + MSG_MAX - 12 leave 3 bytes:
        // room for one more field's tag and length, with its value cut.
        let mut buf = [0u8; MSG_MAX];
        let mut e = Encoder::new(&mut buf, Kind::Record);
        e.bytes(Tag::Id, &vec![b'a'; MSG_MAX - 12]).bytes(Tag::Message, b"cut").bytes(Tag::Code, b"x");
        assert_eq!(e.as_bytes().len(), MSG_MAX);
        let m = Message::decode(e.as_bytes()).unwrap();
        assert_eq!((m.get(Tag::Message), m.get(Tag::Code)), (Some(&b""[..]), None));
        // 2 bytes left: not even a tag and length, no field at all.
        let mut e = Encoder::new(&mut buf, Kind::Record);
        e.bytes(Tag::Id, &vec![b'a'; MSG_MAX - 11]).bytes(Tag::Message, b"cut");
        assert_eq!(e.as_bytes().len(), MSG_MAX - 2);
        assert_eq!(Message::decode(e.as_bytes()).unwrap().get(Tag::Message), None);
        // A request's last argument may end with the message.
        let r = Request::decode(b"IOCI\x01\x01\x00\x02\x01\x00a\x02\x00bc").unwrap();
        assert_eq!((r.arg(0), r.arg(1), r.arg(2)), (Some("a"), Some("bc"), None));
    }
}
