//! The `ioc list [-v|-vv] [--json]` table: PID 1's rows completed with
//! process facts from /proc ([`procstat`]) and console-socket facts from the
//! kernel ([`sockdiag`]), rendered in epics-ioc-runner's layout (columns
//! joined by ` | `, a header, 100 dashes, the rows; `N/A` where a value is
//! unknown). Column widths are documented in docs/USER_GUIDE.md ("ioc list").

use std::fmt::{self, Write as _};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};


use crate::ioc::procstat::{ProcDir, Units};
use crate::sys::{local_time, LocalTime};
use crate::ioc::sockdiag::{self, SocketState, UnixSocket};
use crate::json::Json;

/// What PID 1 knows of one IOC.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IocRow {
    pub name: String,
    /// A systemd-like word: active, activating, deactivating, failed, inactive.
    pub status: String,
    /// When procServ was started, unix seconds.
    pub started: Option<i64>,
    pub uds_path: PathBuf,
    /// procServ's pid.
    pub pid: Option<i32>,
    /// The IOC process (procServ's child).
    pub ioc_pid: Option<i32>,
}

/// The console's listening socket as the kernel reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsoleSocket {
    /// Connections waiting for accept.
    pub rqueue: Option<u32>,
    /// Backlog limit.
    pub wqueue: Option<u32>,
    pub refcount: Option<u32>,
    pub state: SocketState,
    pub inode: u32,
}

/// One line of the table, everything resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct ListEntry {
    pub row: IocRow,
    /// procServ + IOC, like a cgroup would count them.
    pub cpu_millis: Option<u64>,
    pub mem_bytes: Option<u64>,
    pub socket: Option<ConsoleSocket>,
    /// Mode of the socket file, as `ls -l` writes it (`srw-rw----`).
    pub perm: Option<String>,
    /// Clients attached to the console now.
    pub connections: Option<u32>,
}

/// How much of the kernel's facts a listing shows, so that [`gather`] asks
/// for no more: a plain listing shows only PID 1's rows, `-v` adds the
/// processes' CPU and memory, `-vv` and `--json` add the console sockets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Detail {
    Rows,
    Usage,
    Sockets,
}

impl Detail {
    /// What `ioc list` with `verbosity` (0, 1 = `-v`, 2+ = `-vv`) shows;
    /// `--json` shows everything.
    pub fn shown(verbosity: u8, json: bool) -> Detail {
        match verbosity {
            _ if json => Detail::Sockets,
            0 => Detail::Rows,
            1 => Detail::Usage,
            _ => Detail::Sockets,
        }
    }
}

/// Completes PID 1's rows with /proc and socket facts, as far as `detail`
/// shows them. Whatever cannot be read (a process gone, sock_diag refused)
/// or is not asked for stays `None` and shows as `N/A`.
///
/// Per IOC the kernel is asked only what the row shows: for `-v`, one
/// /proc/PID/stat (two when the IOC is not procServ itself), opened
/// relative to /proc; for `-vv` also one lstat of the socket file, and the
/// sockets come from one sock_diag dump, indexed by name once.
pub fn gather(rows: Vec<IocRow>, detail: Detail) -> Vec<ListEntry> {
    let units = Units::of_this_system();
    let proc = if detail >= Detail::Usage { ProcDir::open().ok() } else { None };
    let sockets = if detail >= Detail::Sockets { sockdiag::unix_sockets(sockdiag::Query::CONSOLES).ok() } else { None };
    let consoles = sockets.as_deref().map(ConsoleIndex::new);
    rows.into_iter()
        .map(|row| {
            let (cpu_millis, mem_bytes) = match &proc {
                Some(proc) => process_usage(proc, &row, &units),
                None => (None, None),
            };
            let file = if detail >= Detail::Sockets { std::fs::symlink_metadata(&row.uds_path).ok() } else { None };
            let perm = file.as_ref().map(|f| mode_string(f.mode()));
            let (socket, connections) = match &consoles {
                Some(index) => console_socket(
                    index.named(&row.uds_path.to_string_lossy()),
                    file.as_ref().map(|f| f.ino()),
                ),
                None => (None, None),
            };
            ListEntry {
                row,
                cpu_millis,
                mem_bytes,
                socket,
                perm,
                connections,
            }
        })
        .collect()
}

/// CPU milliseconds and resident bytes of procServ plus its IOC; `None` when
/// procServ itself cannot be read.
fn process_usage(proc: &ProcDir, row: &IocRow, units: &Units) -> (Option<u64>, Option<u64>) {
    let Some(server) = row.pid.and_then(|pid| proc.stat(pid).ok()) else {
        return (None, None);
    };
    let mut total = server.usage(units);
    if let Some(ioc) = row
        .ioc_pid
        .filter(|&p| p != server.pid)
        .and_then(|pid| proc.stat(pid).ok())
    {
        let usage = ioc.usage(units);
        total.cpu_millis = total.cpu_millis.saturating_add(usage.cpu_millis);
        total.rss_bytes = total.rss_bytes.saturating_add(usage.rss_bytes);
    }
    (Some(total.cpu_millis), Some(total.rss_bytes))
}

/// The sockets a listing can use (listeners and established connections
/// that have a name), sorted by name once: each IOC finds its own with a
/// binary search instead of a pass over every socket of the system. Sockets
/// of one name keep the kernel's order (the sort key ends with the place in
/// the dump), so the pick below is the one a pass would make.
struct ConsoleIndex<'s> {
    named: Vec<(&'s str, usize, &'s UnixSocket)>,
}

impl<'s> ConsoleIndex<'s> {
    fn new(all: &'s [UnixSocket]) -> Self {
        let mut named: Vec<_> = all
            .iter()
            .enumerate()
            .filter(|(_, s)| matches!(s.state, SocketState::Listen | SocketState::Established))
            .filter_map(|(place, s)| Some((s.path.as_deref()?, place, s)))
            .collect();
        named.sort_unstable_by_key(|&(name, place, _)| (name, place));
        ConsoleIndex { named }
    }

    /// The sockets named `name`, in the kernel's order.
    fn named(&self, name: &str) -> impl Iterator<Item = &'s UnixSocket> + Clone + '_ {
        let start = self.named.partition_point(|&(n, _, _)| n < name);
        let from = self.named.get(start..).unwrap_or_default();
        let count = from.partition_point(|&(n, _, _)| n == name);
        from.get(..count).unwrap_or_default().iter().map(|&(_, _, s)| s)
    }
}

/// The listener among `named` (the sockets bound to one path) and the number
/// of accepted connections. The kernel copies a listener's name to the
/// sockets it accepts, so they are the established sockets with that name.
/// `file_inode` (the socket file's inode) picks the live listener when an
/// older one with the same name lingers.
fn console_socket<'s>(
    named: impl Iterator<Item = &'s UnixSocket> + Clone,
    file_inode: Option<u64>,
) -> (Option<ConsoleSocket>, Option<u32>) {
    let listener = named
        .clone()
        .filter(|s| s.state == SocketState::Listen)
        .max_by_key(|s| file_inode.is_some() && s.vfs_inode.map(u64::from) == file_inode);
    let socket = listener.map(|s| ConsoleSocket {
        rqueue: s.rqueue,
        wqueue: s.wqueue,
        refcount: s.refcount,
        state: s.state,
        inode: s.inode,
    });
    let connections = named
        .filter(|s| s.state == SocketState::Established)
        .count();
    (socket, Some(u32::try_from(connections).unwrap_or(u32::MAX)))
}

/// `ls -l` style mode of an `st_mode`: type letter and rwx triplets with
/// setuid/setgid/sticky.
pub fn mode_string(mode: u32) -> String {
    let kind = match mode & libc::S_IFMT {
        libc::S_IFSOCK => 's',
        libc::S_IFDIR => 'd',
        libc::S_IFLNK => 'l',
        libc::S_IFIFO => 'p',
        libc::S_IFCHR => 'c',
        libc::S_IFBLK => 'b',
        _ => '-',
    };
    let mut s = String::with_capacity(10);
    s.push(kind);
    let special = [(0o4000, 's', 'S'), (0o2000, 's', 'S'), (0o1000, 't', 'T')];
    for (i, (bit, set_x, set_no_x)) in special.into_iter().enumerate() {
        let shift = 6 - 3 * i;
        let triplet = (mode >> shift) & 7;
        s.push(if triplet & 4 != 0 { 'r' } else { '-' });
        s.push(if triplet & 2 != 0 { 'w' } else { '-' });
        s.push(match (mode & bit != 0, triplet & 1 != 0) {
            (true, true) => set_x,
            (true, false) => set_no_x,
            (false, true) => 'x',
            (false, false) => '-',
        });
    }
    s
}

/// `YYYY-MM-DD HH:MM` in local time.
pub fn format_started(unix_secs: i64) -> Option<String> {
    local_time(unix_secs).map(|t| Minute(t).to_string())
}

/// A local time to the minute: `YYYY-MM-DD HH:MM`.
struct Minute(LocalTime);

impl fmt::Display for Minute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = &self.0;
        write!(f, "{:04}-{:02}-{:02} {:02}:{:02}", t.year, t.month, t.day, t.hour, t.minute)
    }
}

/// `1.2s`.
pub fn format_cpu(millis: u64) -> impl fmt::Display {
    OneDecimal { numerator: millis, denominator: 1000, unit: "s" }
}

/// Mebibytes with one decimal: `12.3M`.
pub fn format_mem(bytes: u64) -> impl fmt::Display {
    OneDecimal { numerator: bytes, denominator: 1024 * 1024, unit: "M" }
}

/// Seconds with one decimal (`1.2`), for ioc's messages.
pub fn seconds(duration: std::time::Duration) -> String {
    let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
    OneDecimal { numerator: nanos, denominator: 1_000_000_000, unit: "" }.to_string()
}

/// `numerator / denominator` with one decimal and a unit (`12.3M`), the last
/// digit rounded half to even as `{:.1}` rounds an exact value: ioc's
/// figures in integers, without core's float formatting (8 KB on armv7,
/// docs/ARCHITECTURE.md, "Binary size").
struct OneDecimal {
    numerator: u64,
    denominator: u64,
    unit: &'static str,
}

impl fmt::Display for OneDecimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (numerator, denominator) = (self.numerator, self.denominator);
        let (mut whole, rest) = (numerator / denominator, numerator % denominator);
        // rest < denominator, so neither product overflows for any denominator used here.
        let (mut tenth, left) = (rest * 10 / denominator, rest * 10 % denominator);
        if 2 * left > denominator || (2 * left == denominator && tenth % 2 == 1) {
            tenth += 1;
            if tenth == 10 {
                (whole, tenth) = (whole + 1, 0);
            }
        }
        write!(f, "{whole}.{tenth}{}", self.unit)
    }
}

const NA: &str = "N/A";

#[derive(Clone, Copy, Debug)]
enum Column {
    Name,
    Status,
    Started,
    Pid,
    Cpu,
    Mem,
    RecvQ,
    SendQ,
    Ref,
    KState,
    Inode,
    Perm,
    Conn,
    UdsPath,
}

impl Column {
    fn title(self) -> &'static str {
        match self {
            Column::Name => "IOC NAME",
            Column::Status => "STATUS",
            Column::Started => "STARTED",
            Column::Pid => "PID",
            Column::Cpu => "CPU",
            Column::Mem => "MEM",
            Column::RecvQ => "RQ",
            Column::SendQ => "SQ",
            Column::Ref => "REF",
            Column::KState => "K-STATE",
            Column::Inode => "INODE",
            Column::Perm => "PERM",
            Column::Conn => "CONN",
            Column::UdsPath => "UDS PATH",
        }
    }

    /// Left-aligned minimum width; the last column (UDS PATH) is not padded.
    fn width(self) -> usize {
        match self {
            Column::Name => 20,
            Column::Status => 8,
            Column::Started => 17,
            Column::Pid | Column::Cpu | Column::Mem => 7,
            Column::RecvQ | Column::SendQ => 3,
            Column::Ref | Column::Conn => 4,
            Column::KState | Column::Inode | Column::Perm => 10,
            Column::UdsPath => 0,
        }
    }

    /// Writes this column's value of `e` at the end of `out`.
    fn write_value(self, e: &ListEntry, out: &mut String) {
        let socket = e.socket.as_ref();
        match self {
            Column::Name => out.push_str(&e.row.name),
            Column::Status => out.push_str(&e.row.status),
            Column::Started => write_or_na(out, e.row.started.and_then(local_time).map(Minute)),
            Column::Pid => write_or_na(out, e.row.pid),
            Column::Cpu => write_or_na(out, e.cpu_millis.map(format_cpu)),
            Column::Mem => write_or_na(out, e.mem_bytes.map(format_mem)),
            Column::RecvQ => write_or_na(out, socket.and_then(|s| s.rqueue)),
            Column::SendQ => write_or_na(out, socket.and_then(|s| s.wqueue)),
            Column::Ref => write_or_na(out, socket.and_then(|s| s.refcount)),
            Column::KState => write_or_na(out, socket.map(|s| s.state.name())),
            Column::Inode => write_or_na(out, socket.map(|s| s.inode)),
            Column::Perm => write_or_na(out, e.perm.as_deref()),
            Column::Conn => write_or_na(out, e.connections),
            Column::UdsPath => push_path(out, &e.row.uds_path),
        }
    }
}

/// `path` as `Path::display` writes it, without the formatting machinery
/// for the usual path that is UTF-8.
fn push_path(out: &mut String, path: &Path) {
    match path.to_str() {
        Some(text) => out.push_str(text),
        None => {
            let _ = write!(out, "{}", path.display());
        }
    }
}

fn write_or_na(out: &mut String, value: Option<impl fmt::Display>) {
    match value {
        Some(v) => {
            let _ = write!(out, "{v}");
        }
        None => out.push_str(NA),
    }
}

fn columns(verbosity: u8) -> &'static [Column] {
    use Column::*;
    match verbosity {
        0 => &[Name, Status, Started, UdsPath],
        1 => &[Name, Status, Started, Pid, Cpu, Mem, UdsPath],
        _ => &[
            Name, Status, Started, Pid, Cpu, Mem, RecvQ, SendQ, Ref, KState, Inode, Perm, Conn,
            UdsPath,
        ],
    }
}

/// Padding for the widest column, pushed as one slice (a space at a time
/// was a call per space).
const SPACES: &str = "                    ";

/// One line of the table: each cell written at the end of `out`, then
/// padded with spaces to its column's width as `{:<width$}` pads (by
/// characters), all but the last.
fn push_line(out: &mut String, columns: &[Column], mut cell: impl FnMut(Column, &mut String)) {
    for (i, &column) in columns.iter().enumerate() {
        if i > 0 {
            out.push_str(" | ");
        }
        let start = out.len();
        cell(column, out);
        if i + 1 < columns.len() {
            let written = out.get(start..).unwrap_or_default().chars().count();
            out.push_str(SPACES.get(..column.width().saturating_sub(written)).unwrap_or_default());
        }
    }
    out.push('\n');
}

/// The table for `ioc list` (`verbosity` 0, 1 = `-v`, 2+ = `-vv`), or the
/// epics-ioc-runner sentence naming `run_dir` when there is no IOC.
pub fn render(entries: &[ListEntry], verbosity: u8, run_dir: &Path) -> String {
    if entries.is_empty() {
        return format!("No active IOC sockets found in {}\n", run_dir.display());
    }
    let columns = columns(verbosity);
    // A -vv line of a usual IOC is about 190 bytes.
    let mut out = String::with_capacity(256 * (entries.len() + 2));
    push_line(&mut out, columns, |c, out| out.push_str(c.title()));
    let _ = writeln!(out, "{}", super::Rule('-'));
    for entry in entries {
        push_line(&mut out, columns, |c, out| c.write_value(entry, out));
    }
    out
}

/// `ioc list --json`: an array with every column of `-vv`, numbers as numbers,
/// unknown values as `null`.
pub fn render_json(entries: &[ListEntry]) -> String {
    let mut j = Json::new();
    j.begin_array();
    for e in entries {
        let socket = e.socket.as_ref();
        j.begin_object();
        j.field_str("name", &e.row.name)
            .field_str("status", &e.row.status);
        opt_number(j.key("started"), e.row.started);
        j.key("started_local")
            .opt_string(e.row.started.and_then(format_started).as_deref());
        opt_number(j.key("pid"), e.row.pid);
        opt_number(j.key("ioc_pid"), e.row.ioc_pid);
        match e.cpu_millis {
            Some(cpu) => j.key("cpu_seconds").thousandths(cpu),
            None => j.key("cpu_seconds").null(),
        };
        opt_number(j.key("mem_bytes"), e.mem_bytes);
        opt_number(j.key("recv_q"), socket.and_then(|s| s.rqueue));
        opt_number(j.key("send_q"), socket.and_then(|s| s.wqueue));
        opt_number(j.key("refcount"), socket.and_then(|s| s.refcount));
        j.key("k_state").opt_string(socket.map(|s| s.state.name()));
        opt_number(j.key("inode"), socket.map(|s| s.inode));
        j.key("perm").opt_string(e.perm.as_deref());
        opt_number(j.key("connections"), e.connections);
        j.field_str("uds_path", &e.row.uds_path.to_string_lossy());
        j.end_object();
    }
    j.end_array();
    let mut out = j.finish();
    out.push('\n');
    out
}

fn opt_number<N: Into<i128>>(j: &mut Json, value: Option<N>) {
    match value {
        Some(v) => j.number(v),
        None => j.null(),
    };
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    #[test]
    fn one_decimal_reads_as_the_f64_would() {
        // Mebibytes are exact in an f64, ties included: the same text always.
        for bytes in (0..3_000_000).step_by(97).chain([52_428, 104_857, 157_286, 157_287, 10_433_331, u32::MAX as u64]) {
            assert_eq!(super::format_mem(bytes).to_string(), format!("{:.1}M", bytes as f64 / 1048576.0), "{bytes}");
        }
        // Milliseconds: the same but on a tie that an f64 holds inexactly
        // (0.05 is a little above, 0.15 a little below): rounded to even.
        for millis in 0..20_000 {
            if millis % 100 != 50 {
                assert_eq!(super::format_cpu(millis).to_string(), format!("{:.1}s", millis as f64 / 1000.0), "{millis}");
            }
        }
        assert_eq!(super::seconds(std::time::Duration::from_millis(9_960)), "10.0");
        assert_eq!(super::seconds(std::time::Duration::from_millis(1_250)), "1.2");
        assert_eq!(super::seconds(std::time::Duration::from_millis(1_750)), "1.8");
    }

    use super::*;

    fn fixed_entries(started: i64) -> Vec<ListEntry> {
        vec![
            ListEntry {
                row: IocRow {
                    name: "vac1".into(),
                    status: "active".into(),
                    started: Some(started),
                    uds_path: "/run/procserv/vac1/control".into(),
                    pid: Some(812),
                    ioc_pid: Some(815),
                },
                cpu_millis: Some(1240),
                mem_bytes: Some(12_897_485),
                socket: Some(ConsoleSocket {
                    rqueue: Some(0),
                    wqueue: Some(5),
                    refcount: Some(3),
                    state: SocketState::Listen,
                    inode: 22530,
                }),
                perm: Some("srw-rw----".into()),
                connections: Some(1),
            },
            ListEntry {
                row: IocRow {
                    name: "motor-ctrl_2".into(),
                    status: "failed".into(),
                    started: None,
                    uds_path: "/run/procserv/motor-ctrl_2/control".into(),
                    pid: None,
                    ioc_pid: None,
                },
                cpu_millis: None,
                mem_bytes: None,
                socket: None,
                perm: None,
                connections: None,
            },
        ]
    }

    /// The expected STARTED text from date(1), an independent reading of the
    /// same time zone.
    fn date_of(t: i64) -> String {
        let out = std::process::Command::new("date")
            .arg("-d")
            .arg(format!("@{t}"))
            .arg("+%Y-%m-%d %H:%M")
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    #[test]
    fn started_matches_date() {
        for t in [0, 1_700_000_000, 1_790_000_123] {
            assert_eq!(format_started(t).unwrap(), date_of(t));
        }
    }

    #[test]
    fn golden_plain_v_and_vv() {
        let t = 1_763_720_000;
        let d = date_of(t);
        let entries = fixed_entries(t);
        let dashes = "-".repeat(100);
        let run = Path::new("/run/procserv");
        assert_eq!(
            render(&entries, 0, run),
            format!(
                "IOC NAME             | STATUS   | STARTED           | UDS PATH\n\
                 {dashes}\n\
                 vac1                 | active   | {d}  | /run/procserv/vac1/control\n\
                 motor-ctrl_2         | failed   | N/A               | /run/procserv/motor-ctrl_2/control\n"
            )
        );
        assert_eq!(
            render(&entries, 1, run),
            format!(
                "IOC NAME             | STATUS   | STARTED           | PID     | CPU     | MEM     | UDS PATH\n\
                 {dashes}\n\
                 vac1                 | active   | {d}  | 812     | 1.2s    | 12.3M   | /run/procserv/vac1/control\n\
                 motor-ctrl_2         | failed   | N/A               | N/A     | N/A     | N/A     | /run/procserv/motor-ctrl_2/control\n"
            )
        );
        assert_eq!(
            render(&entries, 2, run),
            format!(
                "IOC NAME             | STATUS   | STARTED           | PID     | CPU     | MEM     | RQ  | SQ  | REF  | K-STATE    | INODE      | PERM       | CONN | UDS PATH\n\
                 {dashes}\n\
                 vac1                 | active   | {d}  | 812     | 1.2s    | 12.3M   | 0   | 5   | 3    | LISTEN     | 22530      | srw-rw---- | 1    | /run/procserv/vac1/control\n\
                 motor-ctrl_2         | failed   | N/A               | N/A     | N/A     | N/A     | N/A | N/A | N/A  | N/A        | N/A        | N/A        | N/A  | /run/procserv/motor-ctrl_2/control\n"
            )
        );
    }

    #[test]
    fn no_iocs_names_the_directory() {
        assert_eq!(
            render(&[], 2, Path::new("/run/procserv")),
            "No active IOC sockets found in /run/procserv\n"
        );
    }

    #[test]
    fn json_has_numbers_and_nulls() {
        let entries = fixed_entries(1_763_720_000);
        let json = render_json(&entries);
        assert!(json.starts_with(
            r#"[{"name":"vac1","status":"active","started":1763720000,"started_local":""#
        ));
        assert!(json.contains(r#""pid":812,"ioc_pid":815,"cpu_seconds":1.24,"mem_bytes":12897485,"recv_q":0,"send_q":5,"refcount":3,"k_state":"LISTEN","inode":22530,"perm":"srw-rw----","connections":1,"uds_path":"/run/procserv/vac1/control"}"#));
        assert!(json.contains(r#"{"name":"motor-ctrl_2","status":"failed","started":null,"started_local":null,"pid":null,"ioc_pid":null,"cpu_seconds":null,"mem_bytes":null,"recv_q":null,"send_q":null,"refcount":null,"k_state":null,"inode":null,"perm":null,"connections":null,"uds_path":"/run/procserv/motor-ctrl_2/control"}]"#));
    }

    #[test]
    fn modes_read_like_ls() {
        let socket = std::fs::symlink_metadata("/proc/self").unwrap(); // a symbolic link
        assert_eq!(mode_string(socket.mode() & libc::S_IFMT | 0o777), "lrwxrwxrwx");
        assert_eq!(mode_string(libc::S_IFDIR | 0o755), "drwxr-xr-x");
        assert_eq!(mode_string(libc::S_IFSOCK | 0o660), "srw-rw----");
        assert_eq!(mode_string(libc::S_IFREG | 0o6750 | 0o1000), "-rwsr-s--T");
        assert_eq!(mode_string(libc::S_IFCHR | 0o1777), "crwxrwxrwt");
    }

    #[test]
    fn gather_reads_a_live_socket_and_this_process() {
        let dir = crate::scratch::ScratchDir::new("list");
        let path = dir.join("control");
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o660)).unwrap();
        let _c1 = std::os::unix::net::UnixStream::connect(&path).unwrap();
        let _c2 = std::os::unix::net::UnixStream::connect(&path).unwrap();
        let _a1 = listener.accept().unwrap();
        let me = std::process::id() as i32;
        let row = IocRow {
            name: "t".into(),
            status: "active".into(),
            started: None,
            uds_path: path.clone(),
            pid: Some(me),
            ioc_pid: Some(me),
        };
        let entries = gather(vec![row.clone()], Detail::Sockets);
        let e = &entries[0];
        assert_eq!(e.perm.as_deref(), Some("srw-rw----"));
        assert_eq!(e.connections, Some(1));
        let socket = e.socket.as_ref().unwrap();
        assert_eq!(socket.state, SocketState::Listen);
        assert_eq!(socket.rqueue, Some(1), "one connection not yet accepted");
        assert!(e.mem_bytes.unwrap() > 0);

        // A plain listing and `-v` do not ask for what they do not show.
        let usage = &gather(vec![row.clone()], Detail::Usage)[0];
        assert!(usage.mem_bytes.unwrap() > 0);
        assert_eq!((&usage.socket, &usage.perm, usage.connections), (&None, &None, None));
        let plain = &gather(vec![row.clone()], Detail::Rows)[0];
        assert_eq!(plain, &ListEntry { row, cpu_millis: None, mem_bytes: None, socket: None, perm: None, connections: None });
    }

    #[test]
    fn every_column_pads_from_the_spaces() {
        for &column in columns(2) {
            assert!(column.width() <= SPACES.len(), "{column:?}");
        }
    }

    #[test]
    fn a_listing_gathers_what_its_verbosity_shows() {
        assert_eq!(Detail::shown(0, false), Detail::Rows);
        assert_eq!(Detail::shown(1, false), Detail::Usage);
        assert_eq!(Detail::shown(2, false), Detail::Sockets);
        assert_eq!(Detail::shown(0, true), Detail::Sockets);
        // Each verbosity's columns need no more than it gathers.
        for verbosity in 0..3 {
            let detail = Detail::shown(verbosity, false);
            for column in columns(verbosity) {
                let needs = match column {
                    Column::Pid | Column::Name | Column::Status | Column::Started | Column::UdsPath => Detail::Rows,
                    Column::Cpu | Column::Mem => Detail::Usage,
                    _ => Detail::Sockets,
                };
                assert!(needs <= detail, "{column:?} at verbosity {verbosity}");
            }
        }
    }
}
