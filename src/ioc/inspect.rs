//! `ioc inspect`: which processes are attached to a console socket. The
//! server side of each connection is an established socket carrying the
//! console's name; its sock_diag peer is the client's socket, and the client
//! process is whoever holds that inode in /proc/*/fd. No ss, no lsof.
//!
//! Only processes whose /proc/PID/fd this user may read are found: run it as
//! root (or as the owner of the clients) to see everybody.

use std::fmt::Write as _;
use std::io;
use std::path::Path;

use crate::accounts::{self, Key};
use crate::ioc::procstat;
use crate::ioc::sockdiag::{self, SocketState, UnixSocket};

/// A process holding a client connection to the console.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsoleClient {
    pub pid: i32,
    /// User name, or the numeric uid when it has none.
    pub user: String,
    /// The command line, or `[comm]` when it is empty.
    pub command: String,
    /// The client's socket inode.
    pub inode: u64,
}

/// Inodes of the client ends of the connections accepted on the console at
/// `path`. A list, searched from end to end: a console has a few clients
/// (procServ's open-file limit bounds them), and no hash table is linked in
/// for them.
pub fn client_inodes(sockets: &[UnixSocket], path: &Path) -> Vec<u64> {
    let name = path.to_string_lossy();
    sockets
        .iter()
        .filter(|s| s.state == SocketState::Established && s.path.as_deref() == Some(&*name))
        .filter_map(|s| s.peer_inode.map(u64::from))
        .collect()
}

/// Every process attached to the console at `path`, by pid.
pub fn inspect(path: &Path) -> io::Result<Vec<ConsoleClient>> {
    let clients = client_inodes(&sockdiag::unix_sockets(sockdiag::Query::CONNECTIONS)?, path);
    let mut found = Vec::new();
    if clients.is_empty() {
        return Ok(found);
    }
    for pid in procstat::all_pids()? {
        // Processes that exit or that we may not look into are skipped.
        let Ok(inodes) = procstat::socket_inodes(pid) else {
            continue;
        };
        for inode in inodes.into_iter().filter(|i| clients.contains(i)) {
            found.push(ConsoleClient {
                pid,
                user: user_of(pid),
                command: command_of(pid),
                inode,
            });
        }
    }
    // Entries with the same pid and inode (one socket on two descriptors)
    // are equal, so the unstable sort gives the same list as a stable one.
    found.sort_unstable_by_key(|c| (c.pid, c.inode));
    Ok(found)
}

fn user_of(pid: i32) -> String {
    match procstat::uid(pid) {
        Ok(uid) => accounts::user(Key::Id(uid)).map_or_else(|| uid.to_string(), |user| user.name),
        Err(_) => "?".into(),
    }
}

fn command_of(pid: i32) -> String {
    match procstat::cmdline(pid) {
        Ok(args) if !args.is_empty() => args.join(" "),
        _ => procstat::stat(pid)
            .map(|s| format!("[{}]", s.comm))
            .unwrap_or_else(|_| "?".into()),
    }
}

/// The `ioc inspect` report: one line per client, or a sentence when none.
pub fn render(path: &Path, clients: &[ConsoleClient]) -> String {
    if clients.is_empty() {
        return format!("No clients attached to {}\n", path.display());
    }
    // The header as `{:<8} | {:<12} | {:<10} | COMMAND` pads its titles,
    // written out: no formatting for text that never changes.
    let mut out = String::from("PID      | USER         | INODE      | COMMAND\n");
    let _ = writeln!(out, "{}", super::Rule('-'));
    for c in clients {
        let _ = writeln!(
            out,
            "{:<8} | {:<12} | {:<10} | {}",
            c.pid, c.user, c.inode, c.command
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::{UnixListener, UnixStream};

    #[test]
    fn finds_this_process_as_the_client() {
        let dir = crate::scratch::ScratchDir::new("inspect");
        let path = dir.join("control");
        let listener = UnixListener::bind(&path).unwrap();
        assert!(inspect(&path).unwrap().is_empty());
        let client = UnixStream::connect(&path).unwrap();
        let _accepted = listener.accept().unwrap();
        let clients = inspect(&path).unwrap();
        let inode = nix::sys::stat::fstat(std::os::fd::AsRawFd::as_raw_fd(&client))
            .unwrap()
            .st_ino;
        let me = std::process::id() as i32;
        // The accepted socket is ours too, but it is the server end: only the client counts.
        assert_eq!(clients.len(), 1, "{clients:?}");
        assert_eq!((clients[0].pid, clients[0].inode), (me, inode));
        assert!(clients[0].command.contains("iocinit"));
        let report = render(&path, &clients);
        assert!(report
            .lines()
            .nth(2)
            .unwrap()
            .starts_with(&format!("{me:<8} | ")));
    }

    #[test]
    fn the_header_is_the_padded_titles() {
        let client = ConsoleClient { pid: 7, user: "ioc".into(), command: "procServ".into(), inode: 9 };
        let report = render(Path::new("/run/procserv/x/control"), &[client]);
        let header = format!("{:<8} | {:<12} | {:<10} | COMMAND", "PID", "USER", "INODE");
        assert_eq!(report.lines().next(), Some(header.as_str()));
    }
}
