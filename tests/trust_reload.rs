//! A configuration reload renumbers PID 1's object table; nothing that
//! outlives one event may hold a position in it (issue 8, defect 3). Each
//! test holds something across a `configreload` that moves, removes or
//! reorders objects, with iocinit as PID 1 of a PID namespace:
//!
//! - a client waiting for `start A` (the CLI waits by default) gets A's own
//!   result, whatever happened to the table meanwhile;
//! - a `status` listing to a client that reads slowly holds objects of one
//!   table only, each once: a reload cuts it with "ask again" (the CLI does);
//! - `--startobj`/`--skipobj` (the kernel's `startobj=`/`skipobj=`) still
//!   name the same objects after a reload during the boot;
//! - the race of the issue, all by a member of the IOC group (no root):
//!   `ioc stop c` waits while `ioc remove b` rescans the IOC directory;
//! - a client's IOC-group membership, judged when it connected, does not
//!   outlive a reload that changes IocGroup.
//!
//! Starts are held with a file the test creates (`go-*`), not with sleeps,
//! so nothing depends on timing. Needs root (CI runs as root).

mod ns;

use std::os::fd::AsRawFd;
use std::process::{Child, Stdio};
use std::time::Duration;

use iocinit::control::protocol::{Code, Kind, Message, Request, Tag, Verb, MSG_MAX};
use nix::sys::socket::{self, AddressFamily, MsgFlags, SockFlag, SockType, UnixAddr};
use ns::{ok, write, Pid1};

const T: Duration = Duration::from_secs(20);

/// An object whose start command runs until `@DIR@/go-ID` exists, then
/// exits with `code`: a start that lasts exactly as long as the test wants.
fn held(id: &str, code: u8, priority: u32) -> String {
    format!(
        "ObjectID {id}\nObjectStartCommand while [ ! -e @DIR@/go-{id} ]; do sleep 0.05; done; exit {code}\n\
         ObjectStartPriority {priority}\nObjectStopPriority 1\nObjectRunlevels default\n"
    )
}

/// A one-shot that is never started by the boot (start priority 0).
fn idle(id: &str) -> String {
    format!("ObjectID {id}\nObjectStartCommand /bin/true\nObjectStartPriority 0\nObjectRunlevels default\n")
}

/// A FORK sleeper of start priority `priority`.
fn sleeper(id: &str, priority: u32) -> String {
    format!(
        "ObjectID {id}\nObjectStartCommand /bin/sleep 600\nObjectStartPriority {priority}\nObjectStopPriority 1\n\
         ObjectRunlevels default\nObjectOptions FORK\n"
    )
}

fn conf(objects: &[String]) -> String {
    format!("DefaultRunlevel default\n{}", objects.concat())
}

fn release(dir: &std::path::Path, id: &str) {
    std::fs::write(dir.join(format!("go-{id}")), "").unwrap();
}

/// `iocinit start ID` inside the namespace, waiting for the result.
fn start_waiting(p: &Pid1, id: &str) -> Child {
    p.inside(ns::BIN, &["start", id]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
}

fn answer(child: Child) -> String {
    let out = child.wait_with_output().unwrap();
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn reload(p: &Pid1) {
    let out = p.ctl(&["configreload"]);
    assert!(out.status.success(), "configreload: {out:?}; console:\n{}", p.console());
}

#[test]
fn a_waiter_gets_its_own_object_after_a_reload_shrinks_the_table() {
    let dir = ns::scratch("reload-waiter-shrink");
    let before: Vec<String> = ["d1", "d2", "d3", "d4", "d5"].iter().map(|id| idle(id)).chain([held("a", 0, 0)]).collect();
    write(&dir, "epoch.conf", &conf(&before));
    let mut p = Pid1::boot(&dir, &[]);
    p.wait_console("iocinit: ready", T);
    let fds = p.fds_at_rest();
    let waiter = start_waiting(&p, "a");
    p.wait_state("a", "starting", T);
    // a was the sixth object; now it is the only one.
    write(&dir, "epoch.conf", &conf(&[held("a", 0, 0)]));
    reload(&p);
    release(&dir, "a");
    assert_eq!(answer(waiter), "Starting a ... Done\n", "console:\n{}", p.console());
    assert_eq!(p.state("a"), "done");
    p.assert_healthy(fds);
    p.poweroff();
}

#[test]
fn waiters_get_their_own_objects_after_a_reload_reorders_and_removes() {
    let dir = ns::scratch("reload-waiter-reorder");
    write(&dir, "epoch.conf", &conf(&[held("a", 0, 0), held("b", 3, 0), idle("x")]));
    let mut p = Pid1::boot(&dir, &[]);
    p.wait_console("iocinit: ready", T);
    let fds = p.fds_at_rest();
    let (wait_a, wait_b) = (start_waiting(&p, "a"), start_waiting(&p, "b"));
    p.wait_state("a", "starting", T);
    p.wait_state("b", "starting", T);
    // a moves behind x (which is settled: a waiter pointed at x would be
    // answered at once); b leaves the configuration while it starts, so it
    // is kept until it is down.
    write(&dir, "epoch.conf", &conf(&[idle("x"), held("a", 0, 0), idle("new")]));
    reload(&p);
    assert_eq!(p.status("b")["removed"], true);
    release(&dir, "b");
    p.wait_state("b", "failed", T);
    release(&dir, "a");
    let (a, b) = (answer(wait_a), answer(wait_b));
    assert_eq!(a, "Starting a ... Done\n", "console:\n{}", p.console());
    assert!(b.starts_with("Starting b ... FAIL"), "{b}; console:\n{}", p.console());
    // b is down now: the next reload drops it.
    reload(&p);
    assert_eq!(p.ctl(&["status", "b"]).status.code(), Some(2));
    p.assert_healthy(fds);
    p.poweroff();
}

/// A control client that reads its reply only when told to, one packet at
/// a time (a slow reader).
struct SlowClient(std::os::fd::OwnedFd);

impl SlowClient {
    fn connect(p: &Pid1) -> SlowClient {
        let fd = socket::socket(AddressFamily::Unix, SockType::SeqPacket, SockFlag::SOCK_CLOEXEC, None).unwrap();
        socket::connect(fd.as_raw_fd(), &UnixAddr::new(&p.socket()).unwrap()).unwrap();
        let tv = nix::sys::time::TimeVal::new(T.as_secs() as _, 0);
        socket::setsockopt(&fd, socket::sockopt::ReceiveTimeout, &tv).unwrap();
        SlowClient(fd)
    }

    fn send(&self, verb: Verb) {
        socket::send(self.0.as_raw_fd(), &Request::encode(verb, 0, &[]), MsgFlags::MSG_NOSIGNAL).unwrap();
    }

    fn next(&self) -> Message {
        let mut buf = vec![0u8; MSG_MAX];
        let n = socket::recv(self.0.as_raw_fd(), &mut buf, MsgFlags::empty()).expect("a reply within the timeout");
        assert!(n > 0, "the server closed the connection mid-reply");
        Message::decode(&buf[..n]).unwrap()
    }

    /// The IDs of the records up to the End, and the End.
    fn rest(&self, seen: &mut Vec<String>) -> Message {
        loop {
            let m = self.next();
            match m.kind {
                Kind::Record => seen.push(m.str(Tag::Id).unwrap().to_string()),
                Kind::End => return m,
            }
        }
    }
}

#[test]
fn a_status_listing_cut_by_a_reload_holds_one_table_and_says_ask_again() {
    let dir = ns::scratch("reload-stream");
    // Enough objects (with long descriptions) that the reply cannot fit in
    // the socket buffer: the server must stop and resume on POLLOUT.
    let description = "x".repeat(120);
    let object = |id: String| {
        format!("ObjectID {id}\nObjectDescription {description}\nObjectStartCommand /bin/true\nObjectStartPriority 0\nObjectRunlevels default\n")
    };
    let count = 1500;
    let before: Vec<String> = (0..count).map(|k| format!("o{k:04}")).collect();
    write(&dir, "epoch.conf", &conf(&before.iter().cloned().map(object).collect::<Vec<_>>()));
    let mut p = Pid1::boot(&dir, &[]);
    p.wait_console("iocinit: ready", T);
    let fds = p.fds_at_rest();
    let client = SlowClient::connect(&p);
    client.send(Verb::Status);
    let mut seen: Vec<String> = Vec::new();
    for _ in 0..10 {
        let m = client.next();
        assert_eq!(m.kind, Kind::Record);
        seen.push(m.str(Tag::Id).unwrap().to_string());
    }
    // The first half goes, the second half stays in reverse order, and new
    // objects come in between.
    let after: Vec<String> = (count / 2..count).rev().flat_map(|k| [format!("o{k:04}"), format!("n{k:04}")]).collect();
    write(&dir, "epoch.conf", &conf(&after.iter().cloned().map(object).collect::<Vec<_>>()));
    reload(&p);
    let end = client.rest(&mut seen);
    assert!(seen.len() < count, "the reload came after the whole listing: the test proves nothing");
    // What came is the old table from its start, each object once, nothing
    // of the new one; then the client is told to ask again.
    assert_eq!(seen, before[..seen.len()]);
    assert_eq!((end.code(), end.bool(Tag::Retry)), (Code::Fail, Some(true)), "{:?}", end.str(Tag::Message));
    let mut again = Vec::new();
    client.send(Verb::Status);
    let end = client.rest(&mut again);
    assert_eq!((end.code(), end.bool(Tag::Retry)), (Code::Ok, None));
    assert_eq!(again, after, "the new table, whole and in its order");
    drop(client);
    // The CLI asks again by itself; its listing is whole.
    let table = ok(p.ctl(&["status"]));
    assert!(table.contains("o0750") && table.contains("n1499") && !table.contains("o0000"), "{table}");
    p.assert_healthy(fds);
    p.poweroff();
}

#[test]
fn startobj_and_skipobj_name_the_same_objects_after_a_reload_during_boot() {
    let dir = ns::scratch("reload-bootlist");
    let objects = |list: &[&str]| -> String {
        conf(
            &list
                .iter()
                .map(|id| match *id {
                    "hold" => held("hold", 0, 1),
                    "x" => sleeper("x", 0),
                    "s" | "late" => sleeper(id, 2),
                    d => idle(d),
                })
                .collect::<Vec<_>>(),
        )
    };
    write(&dir, "epoch.conf", &objects(&["d1", "d2", "d3", "hold", "x", "s"]));
    let mut p = Pid1::boot(&dir, &["--startobj", "x", "--skipobj", "s"]);
    p.wait_state("hold", "starting", T);
    let fds = p.fds_at_rest();
    // The boot waits for hold; meanwhile the table shrinks and grows.
    write(&dir, "epoch.conf", &objects(&["hold", "x", "s", "late"]));
    reload(&p);
    release(&dir, "hold");
    p.wait_console("iocinit: ready", T);
    p.wait_state("x", "running", T);
    p.wait_state("late", "running", T);
    assert_eq!(p.state("s"), "stopped", "skipobj=s was started; console:\n{}", p.console());
    ok(p.ctl(&["stop", "x"]));
    p.assert_healthy(fds);
    p.poweroff();
}

/// IocGroup of these tests and a member who is not root (created by
/// tests/support/install-test-users, as for tests/ioc_access.rs).
const IOC_GROUP: &str = "iocit-grp";
const MEMBER: &str = "iocit-op";
const IOC_USER: &str = "iocit-srv";

#[test]
fn an_ioc_group_member_stopping_one_ioc_while_removing_another_gets_its_answer() {
    use std::os::unix::fs::PermissionsExt;
    let group = nix::unistd::Group::from_name(IOC_GROUP).unwrap().expect("no iocit-grp: run tests/support/install-test-users");
    let dir = ns::scratch("reload-ioc-race");
    assert!(ns::world_reachable(&dir.join("..")), "{} must be reachable by the IOC group", dir.display());
    // A stand-in for procServ whose stop lasts until the test says so: it
    // ends on SIGTERM only once go-NAME exists.
    ns::write_exec(
        &dir,
        "fake-procserv",
        "#!/bin/sh\nname=\nwhile [ $# -gt 0 ]; do [ \"$1\" = --name ] && name=$2; shift; done\n\
         term=0\ntrap 'term=1' TERM\nwhile [ \"$term\" = 0 ] || [ ! -e @DIR@/go-$name ]; do sleep 0.05; done\n",
    );
    ns::write_exec(&dir, "st.cmd", "#!/bin/sh\n");
    write(
        &dir,
        "epoch.conf",
        &format!(
            "DefaultRunlevel default\nIocDirectory @DIR@/ioc\nIocLogDirectory @DIR@/log\nIocGroup {IOC_GROUP}\nIocEnabled true\n\
             ProcServ @DIR@/fake-procserv\n"
        ),
    );
    for name in ["b", "c"] {
        write(
            &dir,
            &format!("ioc/{name}.conf"),
            &format!("IOC_NAME=\"{name}\"\nIOC_USER=\"{IOC_USER}\"\nIOC_GROUP=\"{IOC_GROUP}\"\nIOC_CHDIR=\"@DIR@\"\nIOC_CMD=\"./st.cmd\"\n"),
        );
    }
    // The IOC directory as docs/INSTALL.md sets it up: the group may add and remove files.
    nix::unistd::chown(&dir.join("ioc"), None, Some(group.gid)).unwrap();
    std::fs::set_permissions(dir.join("ioc"), std::fs::Permissions::from_mode(0o2775)).unwrap();
    let mut p = Pid1::boot(&dir, &[]);
    p.wait_console("iocinit: ready", T);
    p.wait_state("c", "running", T);
    release(&dir, "b");
    ok(p.ioc(&["stop", "b"]));
    let fds = p.fds_at_rest();
    let ioc = p.bin.join("ioc");
    let run_dir = dir.join("run");
    let stop_c = p
        .inside_as(MEMBER, ioc.to_str().unwrap(), &["stop", "c", "--run-dir", run_dir.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    p.wait_state("c", "stopping", T);
    // b is down: the rescan drops it, and c moves up in the table.
    let removed = p.ioc_as(MEMBER, &["remove", "b"]);
    assert!(removed.status.success(), "ioc remove b: {removed:?}; console:\n{}", p.console());
    release(&dir, "c");
    // stdout only: should the machine be so slow that STOPTIMEOUT ends the
    // stop with SIGKILL, stderr carries a warning, and that is not the point.
    let out = stop_c.wait_with_output().unwrap();
    assert!(out.status.success() && out.stdout == b"c stopped\n", "ioc stop c: {out:?}; console:\n{}", p.console());
    assert_eq!(p.state("c"), "stopped");
    p.assert_healthy(fds);
    p.poweroff();
}

/// A client of the control socket that connects as it starts, prints
/// "connected", then sends the request (hex, argv[2]) once a line comes on
/// its stdin, and prints the hex of the reply's End message.
const HELD_CLIENT: &str = r#"
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.settimeout(30)
s.connect(sys.argv[1])
print("connected", flush=True)
sys.stdin.readline()
s.send(bytes.fromhex(sys.argv[2]))
while True:
    m = s.recv(4096)
    if not m or (len(m) > 5 and m[5] == 2):
        print(m.hex(), flush=True)
        break
"#;

/// The result code of a HELD_CLIENT run as `user`, told to send `request`
/// after `meanwhile` has run.
fn held_request(p: &Pid1, user: &str, request: &[u8], meanwhile: impl FnOnce()) -> Code {
    use std::io::{BufRead, Write};
    let hex: String = request.iter().map(|b| format!("{b:02x}")).collect();
    let socket = p.socket();
    let mut client = p
        .inside_as(user, "/usr/bin/python3", &["-c", HELD_CLIENT, socket.to_str().unwrap(), &hex])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(client.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line, "connected\n", "the held client did not connect; console:\n{}", p.console());
    meanwhile();
    writeln!(client.stdin.take().unwrap(), "go").unwrap();
    line.clear();
    out.read_line(&mut line).unwrap();
    assert!(client.wait().unwrap().success(), "the held client failed; console:\n{}", p.console());
    let bytes: Vec<u8> = (0..line.trim().len()).step_by(2).filter_map(|i| u8::from_str_radix(line.trim().get(i..i + 2)?, 16).ok()).collect();
    let end = Message::decode(&bytes).unwrap_or_else(|e| panic!("no End from PID 1 ({e:?}): {line:?}"));
    assert_eq!(end.kind, Kind::End);
    end.code()
}

/// IOC-group membership is judged when a client connects (a slot keeps the
/// answer): a reload that changes IocGroup takes it from the clients
/// connected before, even one in the new group, who must connect again to
/// be judged by it; a client connecting after the reload is.
#[test]
fn a_reload_that_changes_the_ioc_group_takes_membership_from_connected_clients() {
    let member = nix::unistd::User::from_name(MEMBER).unwrap().expect("no iocit-op: run tests/support/install-test-users");
    let other_group = nix::unistd::Group::from_gid(member.gid).unwrap().expect("iocit-op's own group").name;
    assert_ne!(other_group, IOC_GROUP, "the member's primary group must be another one than the IOC group");
    let dir = ns::scratch("reload-ioc-group");
    let conf = |group: &str| {
        format!("DefaultRunlevel default\nIocDirectory @DIR@/ioc\nIocLogDirectory @DIR@/log\nIocGroup {group}\nIocEnabled true\n")
    };
    write(&dir, "epoch.conf", &conf(IOC_GROUP));
    std::fs::create_dir_all(dir.join("ioc")).unwrap();
    let mut p = Pid1::boot(&dir, &[]);
    p.wait_console("iocinit: ready", T);
    let fds = p.fds_at_rest();
    let rescan = Request::encode(Verb::IocRescan, 0, &[]);
    // The held client works: a member connected and waiting is one.
    assert_eq!(held_request(&p, MEMBER, &rescan, || ()), Code::Ok);
    // IocGroup becomes the member's own group while it is connected.
    let code = held_request(&p, MEMBER, &rescan, || {
        write(&dir, "epoch.conf", &conf(&other_group));
        ok(p.ctl(&["configreload"]));
    });
    assert_eq!(code, Code::Denied, "a client connected before the IOC group changed kept its membership");
    // Connecting again, it is judged by the new group.
    assert_eq!(held_request(&p, MEMBER, &rescan, || ()), Code::Ok);
    p.assert_healthy(fds);
    p.poweroff();
}
