//! The access matrix (issue 9, item 4): every verb of `ioc`, `epoch`, the
//! power applets and every raw protocol request (src/control/protocol.rs),
//! run as root, as a member of the IOC group (iocit-op in iocit-grp) and as
//! an outsider (iocit-out), against an IOC object (from an IOC file), a plain
//! object and an epoch.conf object under procServ (`PROCSERV`: a console,
//! but root's configuration, so not the IOC group's to manage). iocinit runs
//! as PID 1 of a PID namespace with real procServ; the users are real and
//! reach PID 1 only through its control socket, the console sockets and the
//! filesystem, as on a board.
//!
//! The policy asserted (docs/ARCHITECTURE.md "Control protocol", the
//! design's "Control socket and access"): root may do everything; IOC group
//! members may start, stop, restart, reload, kill, enable and disable IOC
//! objects, install and remove IOC files, rescan the IOC directory and attach
//! to consoles; everyone may read (status, list, version, getpid, the current
//! runlevel, objrl check, ioc status/view/log/inspect/generate -n). Every cell is
//! asserted allowed, refused (DENIED, exit 4, or refused by the kernel) or
//! not applicable (an `ioc` verb on an object that is not an IOC: refused for
//! everyone, before anything is asked); every cell that is not allowed is
//! proved to have changed nothing: the objects' states and pids, the
//! version record (runlevel, Ctrl-Alt-Del, scheduled shutdown), the
//! persistent state file, the IOC directory, the consoles' directories and
//! the IOC logs, the processes of the namespace.
//! After each allowed cell that changes something, root puts things back.
//! Throughout, no process of the namespace holds a TCP socket
//! (/proc/PID/net/tcp and tcp6 against the descriptors of every process).
//!
//! root's halt, reboot and poweroff (applets, `epoch` verbs, the raw power
//! request, `-f`, and the applets' signal fallback) end the namespace: each
//! runs on a namespace of its own, whose PID 1 must go down their way.
//!
//! Needs root (CI runs as root).

mod ioc_support;
mod ns;
mod pty;

use std::collections::{BTreeMap, HashSet};
use std::io::Write as _;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use iocinit::control::client::{Client, Reply};
use iocinit::control::protocol::{Code, Message, Request, Tag, Verb, FLAG_WAIT};
use ioc_support::*;
use ns::{write, Pid1};

const UP: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Who {
    Root,
    Member,
    Outsider,
}

const EVERYONE: [Who; 3] = [Who::Root, Who::Member, Who::Outsider];

impl Who {
    fn user(self) -> &'static str {
        match self {
            Who::Root => "root",
            Who::Member => MEMBER,
            Who::Outsider => OUTSIDER,
        }
    }
}

/// What a cell is expected to come to (and what it came to).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Allowed,
    /// DENIED by PID 1 (exit 4), or refused by the kernel (EACCES, EPERM).
    Refused,
    /// An `ioc` verb on an object that is not an IOC: refused for everyone.
    NotApplicable,
}

/// Who a row is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    Anyone,
    IocGroup,
    Root,
    Nobody,
}

impl Need {
    fn expect(self, who: Who) -> Outcome {
        match (self, who) {
            (Need::Nobody, _) => Outcome::NotApplicable,
            (Need::Anyone, _) | (_, Who::Root) | (Need::IocGroup, Who::Member) => Outcome::Allowed,
            _ => Outcome::Refused,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    /// An IOC object, from an IOC file.
    Ioc,
    /// A plain object of epoch.conf.
    Plain,
    /// An object of epoch.conf under procServ (ObjectOptions PROCSERV).
    Procserv,
}

impl Target {
    fn id(self) -> &'static str {
        match self {
            Target::Ioc => "ioca",
            Target::Plain => "plain",
            Target::Procserv => "procobj",
        }
    }
    /// Who may manage it (start, stop, ...).
    fn manager(self) -> Need {
        if self == Target::Ioc {
            Need::IocGroup
        } else {
            Need::Root
        }
    }
    /// Who may reach it with an `ioc` verb that acts on it.
    fn ioc_manager(self) -> Need {
        match self {
            Target::Plain => Need::Nobody,
            t => t.manager(),
        }
    }
    /// Who may read it with an `ioc` verb.
    fn ioc_reader(self) -> Need {
        if self == Target::Plain {
            Need::Nobody
        } else {
            Need::Anyone
        }
    }
}

const OBJECTS: [Target; 3] = [Target::Ioc, Target::Plain, Target::Procserv];

/// How a row is run.
#[derive(Debug, Clone)]
enum How {
    /// `ioc ARGS --run-dir RUN`.
    Ioc(Vec<String>),
    /// `ioc monitor T`, ended by SIGINT after 2 s (still watching: allowed).
    Monitor(String),
    /// `epoch ARGS`.
    Epoch(Vec<String>),
    /// An applet: `NAME ARGS`.
    Applet(&'static str, Vec<String>),
    /// `killall5`: signals what it may; refused means it may signal nothing.
    Killall5,
    /// `wall MESSAGE`: allowed means it reached the (stand-in) console.
    Wall,
    /// A raw request, sent with socat (the user's own bytes on the socket).
    Raw(Verb, Vec<String>),
}

#[derive(Debug, Clone)]
struct Row {
    label: String,
    how: How,
    need: Need,
    /// Only root's cell ends the namespace (run in [`root_power`]).
    ends_namespace: bool,
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| a.to_string()).collect()
}

fn row(label: String, how: How, need: Need) -> Row {
    Row { label, how, need, ends_namespace: false }
}

/// Every row of the matrix.
fn rows(install_source: &Path, generate_dir: &Path) -> Vec<Row> {
    let mut rows = Vec::new();
    // ioc: epics-ioc-runner's verbs.
    for t in OBJECTS {
        let id = t.id();
        let ioc = |args: &[&str], need: Need| row(format!("ioc {} {}", args.join(" "), t.id()), How::Ioc(strings(&[args, &[id]].concat())), need);
        rows.push(ioc(&["start", "--no-wait"], t.ioc_manager()));
        rows.push(ioc(&["stop"], t.ioc_manager()));
        rows.push(ioc(&["restart", "--no-wait"], t.ioc_manager()));
        rows.push(ioc(&["enable"], t.ioc_manager()));
        rows.push(ioc(&["disable"], t.ioc_manager()));
        // Removing is for IOC files only: an object of epoch.conf is not removed.
        rows.push(ioc(&["remove", "-f"], if t == Target::Ioc { Need::IocGroup } else { Need::Nobody }));
        rows.push(ioc(&["status", "-n", "2"], t.ioc_reader()));
        rows.push(ioc(&["log", "-n", "2"], t.ioc_reader()));
        // view prints the IOC file: objects of epoch.conf have none.
        rows.push(ioc(&["view"], if t == Target::Ioc { Need::Anyone } else { Need::Nobody }));
        // Without root, what the caller may see (plain inspect is root's).
        rows.push(ioc(&["inspect", "--partial"], t.ioc_reader()));
        // Consoles are the IOC group's (mode 0660), PROCSERV objects' too.
        let console = if t == Target::Plain { Need::Nobody } else { Need::IocGroup };
        rows.push(ioc(&["attach", "--timeout", "2"], console));
        rows.push(row(format!("ioc monitor {id}"), How::Monitor(id.into()), console));
    }
    let ioc = |args: &[&str], need: Need| row(format!("ioc {}", args.join(" ")), How::Ioc(strings(args)), need);
    rows.push(ioc(&["list", "-vv"], Need::Anyone));
    rows.push(ioc(&["rescan"], Need::IocGroup));
    let mut install = ioc(&["install"], Need::IocGroup);
    install.how = How::Ioc(vec!["install".into(), install_source.display().to_string()]);
    rows.push(install);
    let mut generate = ioc(&["generate", "-n"], Need::Anyone);
    generate.how = How::Ioc(vec!["generate".into(), "-n".into(), generate_dir.display().to_string()]);
    rows.push(generate);

    // epoch: Epoch's verbs.
    for t in OBJECTS {
        let id = t.id();
        let epoch = |args: &[&str], need: Need| {
            let mut all = vec![args[0], id];
            all.extend(&args[1..]);
            row(format!("epoch {}", all.join(" ")), How::Epoch(strings(&all)), need)
        };
        for verb in ["start", "stop", "restart", "reload", "enable", "disable", "kill"] {
            rows.push(epoch(&[verb], t.manager()));
        }
        rows.push(epoch(&["objrl", "add", "maint"], Need::Root));
        rows.push(epoch(&["objrl", "check", "default"], Need::Anyone));
        rows.push(epoch(&["status"], Need::Anyone));
        rows.push(epoch(&["getpid"], Need::Anyone));
    }
    let epoch = |args: &[&str], need: Need| row(format!("epoch {}", args.join(" ")), How::Epoch(strings(args)), need);
    for args in [&["status"][..], &["version"], &["runlevel"]] {
        rows.push(epoch(args, Need::Anyone));
    }
    for args in [&["runlevel", "maint"][..], &["configreload"], &["reexec"], &["setcad", "on"], &["shutdown", "-r", "+10"], &["shutdown", "-c"]] {
        rows.push(epoch(args, Need::Root));
    }
    for verb in ["halt", "reboot", "poweroff"] {
        rows.push(Row { ends_namespace: true, ..epoch(&[verb], Need::Root) });
    }

    // The power applets.
    let applet = |name: &'static str, args: &[&str]| row(format!("{name} {}", args.join(" ")).trim().to_string(), How::Applet(name, strings(args)), Need::Root);
    for name in ["halt", "reboot", "poweroff"] {
        rows.push(Row { ends_namespace: true, ..applet(name, &[]) });
        rows.push(Row { ends_namespace: true, ..applet(name, &["-f"]) });
    }
    // No control socket: the applet signals PID 1 itself.
    rows.push(Row { ends_namespace: true, ..applet("poweroff", &["--socket", "/nonexistent/control"]) });
    rows.push(applet("shutdown", &["-r", "+10"]));
    rows.push(applet("shutdown", &["-c"]));
    rows.push(row("killall5".into(), How::Killall5, Need::Root));
    rows.push(row("wall".into(), How::Wall, Need::Root));

    // Every raw request of the protocol.
    let raw = |verb: Verb, args: &[&str], need: Need| {
        row(format!("raw {} {}", verb.name(), args.join(" ")).trim().to_string(), How::Raw(verb, strings(args)), need)
    };
    for t in OBJECTS {
        let id = t.id();
        for verb in [Verb::Start, Verb::Stop, Verb::Restart, Verb::Reload, Verb::Enable, Verb::Disable, Verb::Kill] {
            rows.push(raw(verb, &[id], t.manager()));
        }
        rows.push(raw(Verb::Status, &[id], Need::Anyone));
        rows.push(raw(Verb::GetPid, &[id], Need::Anyone));
        rows.push(raw(Verb::Objrl, &[id, "check", "default"], Need::Anyone));
        rows.push(raw(Verb::Objrl, &[id, "add", "maint"], Need::Root));
    }
    for verb in [Verb::Status, Verb::Version, Verb::IocList, Verb::Runlevel] {
        rows.push(raw(verb, &[], Need::Anyone));
    }
    rows.push(raw(Verb::IocRescan, &[], Need::IocGroup));
    rows.push(raw(Verb::Runlevel, &["maint"], Need::Root));
    rows.push(raw(Verb::ConfigReload, &[], Need::Root));
    rows.push(raw(Verb::Reexec, &[], Need::Root));
    rows.push(raw(Verb::SetCad, &["on"], Need::Root));
    rows.push(raw(Verb::Power, &["reboot", "600000"], Need::Root));
    rows.push(raw(Verb::Power, &["cancel"], Need::Root));
    rows.push(Row { ends_namespace: true, ..raw(Verb::Power, &["poweroff"], Need::Root) });
    rows
}

/// The configuration: a plain object, a PROCSERV object, one that only runs
/// in runlevel `maint`, and IOC `ioca` (root's IOC file); every process a
/// long sleep or a cat waiting for input, so nothing changes unless someone
/// makes it.
fn prepare(s: &Scratch) -> PathBuf {
    setup();
    let objects = format!(
        "IocUser {IOC_USER}\n\
         ObjectID plain\nObjectStartCommand /bin/sleep 100000\nObjectStartPriority 1\nObjectRunlevels default\nObjectOptions FORK\n\
         ObjectID maintobj\nObjectStartCommand /bin/sleep 100001\nObjectStartPriority 1\nObjectRunlevels maint\nObjectOptions FORK\n\
         ObjectID procobj\nObjectStartCommand /bin/sleep 100002\nObjectStartPriority 2\nObjectRunlevels default\n\
         ObjectUser {IOC_USER}\nObjectOptions PROCSERV\n"
    );
    write(s.path(), "epoch.conf", &epoch_conf_logging(&objects));
    let ioc = group_writable_ioc_dir(s.path());
    std::fs::write(ioc.join("ioca.conf"), ioca_file()).unwrap();
    // A stand-in console for wall (the host's terminals are not the test's).
    std::fs::write(s.path().join("console-wall"), "").unwrap();
    ioc
}

fn ioca_file() -> String {
    format!("IOC_NAME=\"ioca\"\nIOC_USER=\"{IOC_USER}\"\nIOC_CMD=\"/bin/cat\"\n")
}

/// The namespace's setup: a /dev/pts of its own (procServ's terminals, not
/// the host's) and the stand-in console, so that root's wall reaches only
/// those.
fn wall_setup(s: &Scratch) -> String {
    format!(
        "mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts /dev/pts && mount --bind {}/console-wall /dev/console",
        s.path().display()
    )
}

/// One request from root, in the test process.
fn root_request(p: &Pid1, verb: Verb, flags: u8, args: &[&str]) -> Reply {
    let mut c = Client::connect(&p.socket()).expect("connect");
    c.request(verb, flags, args, Some(UP)).unwrap_or_else(|e| panic!("{verb:?} {args:?}: {e}"))
}

/// What `status` says of one object: state, pid, IOC pid, enabled,
/// runlevels, restarts.
type ObjectView = (String, Option<i64>, Option<i64>, Option<bool>, String, Option<u64>);

/// Everything a refused cell must leave as it was.
#[derive(Debug, PartialEq, Eq)]
struct Snapshot {
    /// id -> what `status` says of it
    objects: BTreeMap<String, ObjectView>,
    /// runlevel, phase, Ctrl-Alt-Del, a shutdown scheduled
    system: (String, String, Option<bool>, bool),
    state_files: BTreeMap<String, Vec<u8>>,
    /// name -> (uid, mode, content)
    ioc_dir: BTreeMap<String, (u32, u32, Vec<u8>)>,
    /// host pid -> (uid, command line), the namespace's live processes
    processes: BTreeMap<i32, (u32, String)>,
    /// path -> (uid, mode, size) of the consoles' directories and the IOC logs
    consoles_and_logs: BTreeMap<String, (u32, u32, u64)>,
}

/// What differs between two snapshots, one line per thing.
fn changes(before: &Snapshot, after: &Snapshot) -> Vec<String> {
    fn diff<K: Ord + std::fmt::Debug, V: PartialEq + std::fmt::Debug>(what: &str, a: &BTreeMap<K, V>, b: &BTreeMap<K, V>, out: &mut Vec<String>) {
        for key in a.keys().chain(b.keys().filter(|k| !a.contains_key(k))) {
            if a.get(key) != b.get(key) {
                out.push(format!("{what} {key:?}: {:?} -> {:?}", a.get(key), b.get(key)));
            }
        }
    }
    let mut out = Vec::new();
    diff("object", &before.objects, &after.objects, &mut out);
    if before.system != after.system {
        out.push(format!("system: {:?} -> {:?}", before.system, after.system));
    }
    diff("state file", &before.state_files, &after.state_files, &mut out);
    diff("IOC directory entry", &before.ioc_dir, &after.ioc_dir, &mut out);
    diff("process", &before.processes, &after.processes, &mut out);
    diff("console or log", &before.consoles_and_logs, &after.consoles_and_logs, &mut out);
    out
}

fn text_of(m: &Message, tag: Tag) -> String {
    m.str(tag).unwrap_or("").to_string()
}

fn snapshot(p: &Pid1, s: &Scratch) -> Snapshot {
    let status = root_request(p, Verb::Status, 0, &[]);
    assert_eq!(status.code, Code::Ok, "{}", status.message);
    let objects = status
        .records
        .iter()
        .map(|r| {
            let value = (text_of(r, Tag::State), r.i64(Tag::Pid), r.i64(Tag::ChildPid), r.bool(Tag::Enabled), text_of(r, Tag::Runlevels), r.u64(Tag::Restarts));
            (text_of(r, Tag::Id), value)
        })
        .collect();
    let version = root_request(p, Verb::Version, 0, &[]);
    let v = &version.records[0];
    let system = (text_of(v, Tag::CurrentRunlevel), text_of(v, Tag::Phase), v.bool(Tag::Cad), v.u64(Tag::ShutdownIn).is_some());
    let files = |dir: &Path| -> Vec<(String, std::fs::Metadata, Vec<u8>)> {
        let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
        entries
            .flatten()
            .map(|e| {
                let meta = e.path().symlink_metadata().unwrap();
                (e.file_name().to_string_lossy().into_owned(), meta, std::fs::read(e.path()).unwrap_or_default())
            })
            .collect()
    };
    let state_files = files(&s.path().join("state")).into_iter().map(|(n, _, c)| (n, c)).collect();
    let ioc_dir = files(&s.path().join("ioc")).into_iter().map(|(n, m, c)| (n, (m.uid(), m.mode(), c))).collect();
    let processes = p
        .host_pids()
        .into_iter()
        .filter_map(proc_info)
        .filter(|i| i.state != b'Z')
        .map(|i| (i.pid, (i.uid, i.cmdline)))
        .collect();
    let mut consoles_and_logs = BTreeMap::new();
    for dir in [s.path().join("run/procserv"), s.path().join("log")] {
        let consoles = std::fs::read_dir(&dir).into_iter().flatten().flatten().map(|e| e.path());
        for path in consoles.flat_map(|p| std::iter::once(p.clone()).chain(std::fs::read_dir(&p).into_iter().flatten().flatten().map(|e| e.path()))) {
            if let Ok(m) = path.symlink_metadata() {
                consoles_and_logs.insert(path.display().to_string(), (m.uid(), m.mode(), if m.is_file() { m.len() } else { 0 }));
            }
        }
    }
    Snapshot { objects, system, state_files, ioc_dir, processes, consoles_and_logs }
}

/// A snapshot once things have settled (the same twice, 250 ms apart):
/// what an allowed cell set going (procServ noting a client that left in
/// its log, a child it starts) has happened before a refused cell is
/// compared with it.
fn settled_snapshot(p: &Pid1, s: &Scratch) -> Snapshot {
    let mut last = snapshot(p, s);
    for _ in 0..40 {
        std::thread::sleep(Duration::from_millis(250));
        let now = snapshot(p, s);
        if now == last {
            return now;
        }
        last = now;
    }
    panic!("nothing settles: {last:?}");
}

/// TCP sockets (any state, IPv4 or IPv6) held by a process of the namespace.
fn tcp_sockets(p: &Pid1) -> Vec<String> {
    let mut inodes = HashSet::new();
    for pid in p.host_pids() {
        let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else { continue };
        for fd in fds.flatten() {
            let link = std::fs::read_link(fd.path()).map(|l| l.to_string_lossy().into_owned()).unwrap_or_default();
            if let Some(inode) = link.strip_prefix("socket:[").and_then(|l| l.strip_suffix(']')) {
                inodes.insert(inode.to_string());
            }
        }
    }
    let mut held = Vec::new();
    for table in ["tcp", "tcp6"] {
        let text = std::fs::read_to_string(format!("/proc/{}/net/{table}", p.host_pid)).unwrap_or_else(|e| panic!("/proc/net/{table}: {e}"));
        for line in text.lines().skip(1) {
            if line.split_whitespace().nth(9).is_some_and(|inode| inodes.contains(inode)) {
                held.push(format!("{table}: {line}"));
            }
        }
    }
    held
}

/// Runs one cell; returns its outcome and what it printed.
fn run_cell(p: &Pid1, s: &Scratch, r: &Row, who: Who) -> (Outcome, String) {
    let user = who.user();
    let bin = |name: &str| p.bin.join(name).display().to_string();
    let run_dir = p.dir.join("run").display().to_string();
    let output = |program: &str, args: &[String]| -> Output {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        p.inside_as(user, program, &args).output().expect("nsenter")
    };
    let plain = |out: &Output| -> Outcome {
        let said = text(out).to_lowercase();
        match out.status.code() {
            Some(0) => Outcome::Allowed,
            Some(4) => Outcome::Refused,
            // "No write permission": epics-ioc-runner's words, said by `ioc install`.
            Some(_) if ["permission denied", "operation not permitted", "no write permission"].iter().any(|w| said.contains(w)) => Outcome::Refused,
            // PID 1 let the reload through and answered that there is nothing to run.
            Some(1) if said.contains("no objectreloadcommand") => Outcome::Allowed,
            Some(_) => Outcome::NotApplicable,
            None => panic!("{} as {user} was killed: {out:?}", r.label),
        }
    };
    match &r.how {
        How::Ioc(args) => {
            let mut all = args.clone();
            all.extend(["--run-dir".to_string(), run_dir]);
            let out = output(&bin("ioc"), &all);
            (plain(&out), text(&out))
        }
        How::Monitor(id) => {
            let args = strings(&["-s", "INT", "2", &bin("ioc"), "monitor", id, "--run-dir", &run_dir]);
            let out = output("timeout", &args);
            // Still watching when the time ran out: it was let in.
            let outcome = if out.status.code() == Some(124) { Outcome::Allowed } else { plain(&out) };
            (outcome, text(&out))
        }
        How::Epoch(args) => {
            let out = output(&bin("epoch"), args);
            (plain(&out), text(&out))
        }
        How::Applet(name, args) => {
            let out = output(&bin(name), args);
            (plain(&out), text(&out))
        }
        How::Killall5 => {
            let out = output(&bin("killall5"), &[]);
            // It signals whom it may: as anyone but root, nobody but itself.
            let outcome = if out.status.success() { Outcome::Allowed } else { Outcome::Refused };
            (outcome, text(&out))
        }
        How::Wall => {
            let marker = format!("matrix-wall-{user}");
            let out = output(&bin("wall"), std::slice::from_ref(&marker));
            assert!(out.status.success(), "wall as {user}: {}", text(&out));
            let reached = std::fs::read_to_string(s.path().join("console-wall")).unwrap_or_default().contains(&marker);
            (if reached { Outcome::Allowed } else { Outcome::Refused }, text(&out))
        }
        How::Raw(verb, args) => {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let request = Request::encode(*verb, 0, &args);
            let address = format!("UNIX-CONNECT:{},type=5", p.socket().display());
            let mut child = p
                .inside_as(user, "socat", &["-t", "5", "STDIO", &address])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("socat");
            child.stdin.take().unwrap().write_all(&request).unwrap();
            let out = child.wait_with_output().unwrap();
            // A reexec that goes through closes every connection instead of
            // answering (the CLI asks again); every other request is answered.
            if *verb == Verb::Reexec && out.stdout.is_empty() {
                p.wait_socket();
                return (Outcome::Allowed, "re-executed".into());
            }
            let end = last_end(&out.stdout).unwrap_or_else(|| panic!("{} as {user}: no End in the reply: {out:?}", r.label));
            let outcome = if end.code() == Code::Denied { Outcome::Refused } else { Outcome::Allowed };
            (outcome, format!("{} {}", end.code().name(), end.str(Tag::Message).unwrap_or("")))
        }
    }
}

/// The End message of a reply stream (records, then the End).
fn last_end(bytes: &[u8]) -> Option<Message> {
    let header = b"IOCI\x01\x02";
    let at = bytes.windows(header.len()).rposition(|w| w == header)?;
    Message::decode(&bytes[at..]).ok()
}

/// Puts everything back as it was at boot (root, in the test process).
fn restore(p: &Pid1, ioc_dir: &Path) {
    let mut rescan_needed = false;
    if std::fs::read_to_string(ioc_dir.join("ioca.conf")).ok() != Some(ioca_file()) {
        std::fs::write(ioc_dir.join("ioca.conf"), ioca_file()).unwrap();
        rescan_needed = true;
    }
    if ioc_dir.join("extra.conf").exists() {
        std::fs::remove_file(ioc_dir.join("extra.conf")).unwrap();
        rescan_needed = true;
    }
    if rescan_needed {
        let reply = root_request(p, Verb::IocRescan, 0, &[]);
        assert!(matches!(reply.code, Code::Ok | Code::Warn), "rescan: {}", reply.message);
    }
    root_request(p, Verb::Power, 0, &["cancel"]);
    root_request(p, Verb::SetCad, 0, &["off"]);
    let settled = wait_for(UP, || {
        let version = root_request(p, Verb::Version, 0, &[]);
        if version.records[0].str(Tag::CurrentRunlevel) != Some("default") {
            root_request(p, Verb::Runlevel, 0, &["default"]);
            return false;
        }
        let mut all = true;
        for id in ["ioca", "plain", "procobj"] {
            root_request(p, Verb::Objrl, 0, &[id, "del", "maint"]);
            root_request(p, Verb::Enable, 0, &[id]);
            let status = p.status(id);
            if status["state"] != "running" {
                all = false;
                root_request(p, Verb::Start, FLAG_WAIT, &[id]);
            }
            // procServ starts its child in its own time.
            all &= id == "plain" || status["ioc_pid"].is_i64();
        }
        // Its ObjectStopPriority is 0: a runlevel switch leaves it running (Epoch's rule).
        if p.state("maintobj") != "stopped" {
            root_request(p, Verb::Stop, FLAG_WAIT, &["maintobj"]);
            all = false;
        }
        all
    });
    assert!(settled, "could not put things back: {}", ok(p.ctl(&["status"]), "status"));
}

#[test]
fn every_verb_as_every_user_against_every_kind_of_object() {
    let s = Scratch::new("matrix");
    let ioc_dir = prepare(&s);
    let install_source = s.path().join("extra.conf");
    std::fs::write(&install_source, format!("IOC_NAME=\"extra\"\nIOC_USER=\"{IOC_USER}\"\nIOC_CMD=\"/bin/cat\"\n")).unwrap();
    let generate_dir = s.path().join("top/iocBoot/iocgen");
    std::fs::create_dir_all(&generate_dir).unwrap();
    std::fs::write(generate_dir.join("st.cmd"), "#!../../bin/linux-x86_64/softIoc\niocInit\n").unwrap();
    std::fs::set_permissions(generate_dir.join("st.cmd"), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let mut p = Pid1::boot_with(s.path(), &[], Some(&wall_setup(&s)));
    let _ = std::os::unix::fs::symlink(ns::shared_bin(), p.bin.join("wall"));
    restore(&p, &ioc_dir);
    let mut fds = p.fds_at_rest();
    let mut baseline = settled_snapshot(&p, &s);

    let rows = rows(&install_source, &generate_dir);
    let mut table = String::new();
    let mut wrong = Vec::new();
    let (mut cells, mut allowed, mut refused, mut not_applicable) = (0, 0, 0, 0);
    for r in &rows {
        let mut line = format!("{:<40}", r.label);
        for who in EVERYONE {
            let expected = r.need.expect(who);
            if r.ends_namespace && who == Who::Root {
                line.push_str(" | root: in root_power");
                continue;
            }
            let (got, said) = run_cell(&p, &s, r, who);
            cells += 1;
            match got {
                Outcome::Allowed => allowed += 1,
                Outcome::Refused => refused += 1,
                Outcome::NotApplicable => not_applicable += 1,
            }
            line.push_str(&format!(" | {:?}: {got:?}", who));
            if got != expected {
                wrong.push(format!("{} as {who:?}: expected {expected:?}, got {got:?}: {}", r.label, said.trim()));
            }
            assert!(p.alive(), "PID 1 is gone after {} as {who:?}", r.label);
            let tcp = tcp_sockets(&p);
            assert!(tcp.is_empty(), "after {} as {who:?}, the namespace holds TCP sockets: {tcp:?}", r.label);
            if got == Outcome::Allowed {
                restore(&p, &ioc_dir);
                baseline = settled_snapshot(&p, &s);
                if r.label.contains("reexec") {
                    // The new image closes what PID 1 inherited (the test
                    // harness's descriptors): its own are counted from here.
                    fds = p.fds_at_rest();
                }
            } else {
                let changed = changes(&baseline, &snapshot(&p, &s));
                assert!(changed.is_empty(), "{} as {who:?} was not allowed ({}) but changed:\n{}", r.label, said.trim(), changed.join("\n"));
            }
        }
        table.push_str(&line);
        table.push('\n');
    }
    println!("{table}");
    println!(
        "access matrix: {} rows x 3 users: {cells} cells here ({allowed} allowed, {refused} refused, {not_applicable} not applicable), \
         {} more in root_power",
        rows.len(),
        rows.iter().filter(|r| r.ends_namespace).count()
    );
    assert!(wrong.is_empty(), "{} cell(s) disagree with the policy:\n{}", wrong.len(), wrong.join("\n"));
    p.assert_healthy(fds);
    p.poweroff();
}

/// root's halt, reboot and poweroff through every front end, each on a
/// namespace of its own: PID 1 goes down its way (SIGINT for halt and
/// power off, SIGHUP for reboot, as reboot(2) ends a PID namespace), having
/// stopped the objects, or at once for `-f`.
#[test]
fn root_powers_off_halts_and_reboots_through_every_front_end() {
    let s = Scratch::new("matrix-power");
    let rows: Vec<Row> = rows(Path::new("/nonexistent"), Path::new("/nonexistent")).into_iter().filter(|r| r.ends_namespace).collect();
    for r in &rows {
        prepare(&s);
        let mut p = Pid1::boot_with(s.path(), &[], Some(&wall_setup(&s)));
        p.wait_state("ioca", "running", UP);
        let user = "root";
        let args_of = |args: &[String]| args.to_vec();
        let (program, args) = match &r.how {
            How::Epoch(args) => (p.bin.join("epoch").display().to_string(), args_of(args)),
            How::Applet(name, args) => (p.bin.join(name).display().to_string(), args_of(args)),
            How::Raw(verb, args) => {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                let reply = root_request(&p, *verb, 0, &args);
                assert_eq!(reply.code, Code::Ok, "{}: {}", r.label, reply.message);
                (String::new(), Vec::new())
            }
            other => panic!("{other:?} does not end the namespace"),
        };
        if !program.is_empty() {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let out = p.inside_as(user, &program, &args).output().unwrap();
            assert!(ns::power_request_ok(&out), "{}: {out:?}", r.label);
        }
        let status = p.wait_exit(UP);
        let word = ["halt", "reboot", "poweroff"].into_iter().find(|w| r.label.contains(w)).unwrap();
        let signal = if word == "reboot" { libc::SIGHUP } else { libc::SIGINT };
        assert_eq!(status.signal(), Some(signal), "{}: {status:?}", r.label);
        let console = p.console();
        if r.label.contains("-f") {
            assert!(!console.contains("Stopping"), "{}: -f stops nothing:\n{console}", r.label);
        } else {
            let name = if word == "poweroff" { "power off" } else { word };
            assert!(console.contains(&format!("iocinit: system going down for {name}")), "{}:\n{console}", r.label);
            assert!(console.contains("iocinit: all processes ended"), "{}:\n{console}", r.label);
        }
        let by = if signal == libc::SIGHUP { "SIGHUP" } else { "SIGINT" };
        println!("{:<40} | Root: Allowed (the namespace went down by {by})", r.label);
    }
    println!("access matrix: {} cells of root's that end the namespace", rows.len());
}
