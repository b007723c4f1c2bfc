//! Fuzzes the control client and the CLI front ends behind it with a
//! malicious or broken server: the real `epoch`/`ioc` verbs talk over a real
//! control socket to a fake server that answers every request with the
//! input's packets, then hangs up. Whatever it sends, the CLI must not panic
//! (a panic aborts the fuzzer); it may only print and return an exit code.
//!
//! Input: one byte choosing the command line, then packets, each a
//! little-endian u16 length and that many bytes.
#![no_main]

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use iocinit::cli;
use iocinit::control::protocol::MSG_MAX;
use libfuzzer_sys::fuzz_target;
use nix::sys::socket::{self, AddressFamily, MsgFlags, SockFlag, SockType, UnixAddr};

/// Command lines that read what the server says: listings, records, codes.
/// (attach, monitor, view and status follow a console or log path from the
/// reply: they are the console client's, fuzzed by `console_telnet`.)
const COMMANDS: &[(&str, &[&str])] = &[
    ("epoch", &["status"]),
    ("epoch", &["status", "ntpd"]),
    ("epoch", &["status", "--json"]),
    ("epoch", &["status", "ntpd", "--json"]),
    ("epoch", &["version"]),
    ("epoch", &["version", "--json"]),
    ("epoch", &["getpid", "ntpd"]),
    ("epoch", &["runlevel"]),
    ("epoch", &["objrl", "ntpd", "check", "default"]),
    ("epoch", &["start", "ntpd"]),
    ("epoch", &["stop", "ntpd"]),
    ("epoch", &["configreload"]),
    ("ioc", &["list"]),
    ("ioc", &["list", "-v"]),
    ("ioc", &["list", "--json"]),
    // Without --no-wait, `ioc start` watches the IOC's log for its prompt,
    // for as long as its --timeout: a wait by design, not a hang.
    ("ioc", &["start", "vac1", "--no-wait"]),
    ("ioc", &["stop", "vac1"]),
    ("ioc", &["enable", "vac1"]),
    ("ioc", &["rescan"]),
];

/// What the fake server answers with, set by each run.
static REPLY: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

/// The fake server: a thread that answers every connection's request with
/// [`REPLY`]'s packets, then closes it.
fn server() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("iocinit-fuzz-client-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("control");
        let _ = std::fs::remove_file(&path);
        let listener = socket::socket(AddressFamily::Unix, SockType::SeqPacket, SockFlag::SOCK_CLOEXEC, None).expect("socket");
        socket::bind(listener.as_raw_fd(), &UnixAddr::new(&path).expect("address")).expect("bind");
        socket::listen(&listener, socket::Backlog::new(16).expect("backlog")).expect("listen");
        std::thread::spawn(move || loop {
            let Ok(fd) = socket::accept(listener.as_raw_fd()) else { continue };
            let conn = own(fd);
            let mut request = [0u8; MSG_MAX];
            if socket::recv(conn.as_raw_fd(), &mut request, MsgFlags::empty()).is_err() {
                continue;
            }
            let packets = REPLY.lock().expect("not poisoned").clone();
            for p in &packets {
                if socket::send(conn.as_raw_fd(), p, MsgFlags::MSG_NOSIGNAL).is_err() {
                    break;
                }
            }
        });
        path
    })
}

fn own(fd: std::os::fd::RawFd) -> OwnedFd {
    use std::os::fd::FromRawFd;
    // SAFETY: a descriptor fresh from accept, owned by nobody else.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, mut rest)) = data.split_first() else { return };
    let mut packets = Vec::new();
    while rest.len() >= 2 && packets.len() < 64 {
        let len = (u16::from_le_bytes([rest[0], rest[1]]) as usize).min(rest.len() - 2).min(MSG_MAX);
        packets.push(rest[2..2 + len].to_vec());
        rest = &rest[2 + len..];
    }
    *REPLY.lock().expect("not poisoned") = packets;
    let path = server();
    let (name, words) = COMMANDS[pick as usize % COMMANDS.len()];
    let mut args: Vec<String> = words.iter().map(|w| w.to_string()).collect();
    args.extend(["--socket".to_string(), path.display().to_string()]);
    let code = match name {
        "epoch" => cli::epoch::main(name, args),
        _ => cli::ioc::main(name, args),
    };
    assert!((0..=4).contains(&code), "{name} {words:?}: exit code {code}");
});
