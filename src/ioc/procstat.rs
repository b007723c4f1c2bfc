//! Per-process facts read from /proc, as `ps` would show them but without
//! spawning it: command line, parent, state, start time, CPU time, resident
//! memory, the socket inodes a process holds, its user and its environment.
//!
//! /proc contents are untrusted text (a process names itself, and may exit
//! while it is read): every parser returns `None`/an error, never panics.

use std::ffi::CStr;
use std::fs;
use std::io;
use std::path::PathBuf;


use crate::config::values;
use crate::sys::Fd;

fn proc_path(pid: i32, file: &str) -> PathBuf {
    PathBuf::from(format!("/proc/{pid}/{file}"))
}

/// The fields of `/proc/PID/stat` the CLI shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcStat {
    pub pid: i32,
    /// The name in parentheses (at most 15 bytes, chosen by the process).
    pub comm: String,
    /// `R`, `S`, `D`, `Z`, `T`, ...
    pub state: char,
    pub ppid: i32,
    pub utime_ticks: u64,
    pub stime_ticks: u64,
    /// Start time in clock ticks after boot.
    pub start_ticks: u64,
    pub rss_pages: u64,
}

/// Parses the text of `/proc/PID/stat`. The command name may hold spaces and
/// parentheses, so the fields are counted from its last `)`.
pub fn parse_stat(text: &str) -> Option<ProcStat> {
    // The name runs from the first `(` to the last `)` after it; split
    // there, not sliced, so no index can panic.
    let (head, rest) = text.split_once('(')?;
    let (comm, tail) = rest.rsplit_once(')')?;
    let pid = crate::sys::parse_i32(head.trim_ascii())?;
    // After ")": state(3) ppid(4) pgrp session tty tpgid flags minflt cminflt
    // majflt cmajflt utime(14) stime(15) cutime cstime priority nice threads
    // itrealvalue starttime(22) vsize rss(24); numbering as in proc(5). Each
    // field is found by going on from the last (`nth(k)` skips k fields).
    let mut fields = tail.split_ascii_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = crate::sys::parse_i32(fields.next()?)?;
    let utime_ticks = decimal(fields.nth(14 - 5)?)?;
    let stime_ticks = decimal(fields.next()?)?;
    let start_ticks = decimal(fields.nth(22 - 16)?)?;
    let rss_pages = decimal(fields.nth(24 - 23)?)?;
    Some(ProcStat {
        state,
        ppid,
        utime_ticks,
        stime_ticks,
        start_ticks,
        rss_pages,
        pid,
        comm: comm.to_string(),
    })
}

/// `text` as `str::parse::<u64>` reads it (an optional `+`, then decimal
/// digits, no overflow), a byte at a time: `ioc list` reads four numbers of
/// each of 200 stat files, and std's parser takes a call per digit. The
/// digits are read by the configuration's reader, not by a second copy of
/// it (about 100 bytes of armv7 code).
fn decimal(text: &str) -> Option<u64> {
    values::decimal(text.strip_prefix('+').unwrap_or(text))
}

/// /proc opened once: `ioc list` reads /proc/PID/stat of every IOC
/// relative to it (`openat`), so the kernel does not look "/proc" up from
/// `/` again for each.
pub struct ProcDir(Fd);

impl ProcDir {
    pub fn open() -> io::Result<ProcDir> {
        Fd::open(c"/proc", libc::O_PATH | libc::O_DIRECTORY, 0)
            .map(ProcDir)
            .map_err(io::Error::from_raw_os_error)
    }

    pub fn stat(&self, pid: i32) -> io::Result<ProcStat> {
        let mut name = [0; STAT_NAME_MAX];
        let file = Fd::open_at(&self.0, stat_name(pid, &mut name), libc::O_RDONLY)
            .map_err(io::Error::from_raw_os_error)?;
        let mut buffer = [0; STAT_MAX];
        parse_stat(read_stat(&file, &mut buffer)?).ok_or_else(|| {
            crate::logging::io_error(
                io::ErrorKind::InvalidData,
                format!("/proc/{pid}/stat: unreadable format"),
            )
        })
    }
}

/// Room for `-2147483648/stat` and its NUL.
const STAT_NAME_MAX: usize = 24;

/// `PID/stat` as a C string written at the end of `buffer`, digit by digit:
/// `ioc list` names two per IOC, and the formatting machinery (with a
/// 256-byte path to clear) cost more than the rest of the name's work in
/// user space.
fn stat_name(pid: i32, buffer: &mut [u8; STAT_NAME_MAX]) -> &CStr {
    const SUFFIX: &[u8] = b"/stat\0";
    let mut start = STAT_NAME_MAX - SUFFIX.len();
    buffer[start..].copy_from_slice(SUFFIX);
    let mut rest = pid.unsigned_abs();
    loop {
        start -= 1;
        buffer[start] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    if pid < 0 {
        start -= 1;
        buffer[start] = b'-';
    }
    CStr::from_bytes_with_nul(&buffer[start..]).unwrap_or(c"")
}

pub fn stat(pid: i32) -> io::Result<ProcStat> {
    ProcDir::open()?.stat(pid)
}

/// More than any /proc/PID/stat: 52 fields of at most 20 digits and a name
/// of at most 64 bytes are about 1.1 KiB.
const STAT_MAX: usize = 4096;

/// The text of an open /proc/PID/stat, read into `buffer` with one read
/// (`ioc list` reads one or two per IOC; std's `read_to_string` adds a
/// statx for a size hint and a read to see the end). The kernel writes the
/// file whole in one read and ends it with a newline: a read that stops
/// short of one is read on.
fn read_stat<'b>(file: &Fd, buffer: &'b mut [u8]) -> io::Result<&'b str> {
    let mut len = 0;
    while !buffer[..len].ends_with(b"\n") {
        match file.read(&mut buffer[len..]).map_err(io::Error::from_raw_os_error)? {
            0 => break,
            n => len += n,
        }
        if len == buffer.len() {
            return Err(crate::logging::io_error(io::ErrorKind::InvalidData, "larger than any /proc/PID/stat"));
        }
    }
    std::str::from_utf8(&buffer[..len]).map_err(|_| crate::logging::io_error(io::ErrorKind::InvalidData, "not UTF-8"))
}

/// Clock ticks per second and page size, for turning stat fields into units.
#[derive(Clone, Copy, Debug)]
pub struct Units {
    pub ticks_per_second: u64,
    pub page_size: u64,
}

impl Units {
    pub fn of_this_system() -> Units {
        Units { ticks_per_second: crate::sys::clock_ticks_per_second(), page_size: crate::sys::page_size() as u64 }
    }
}

/// What `ioc list -v` shows of one process.
#[derive(Clone, Debug, PartialEq)]
pub struct Usage {
    /// User + system CPU time in milliseconds.
    pub cpu_millis: u64,
    pub rss_bytes: u64,
}

impl ProcStat {
    pub fn usage(&self, units: &Units) -> Usage {
        let ticks = self.utime_ticks.saturating_add(self.stime_ticks);
        Usage {
            cpu_millis: ticks.saturating_mul(1000) / units.ticks_per_second,
            rss_bytes: self.rss_pages.saturating_mul(units.page_size),
        }
    }
}

/// The arguments of a process (`/proc/PID/cmdline`, NUL separated). Empty for
/// kernel threads and zombies.
pub fn cmdline(pid: i32) -> io::Result<Vec<String>> {
    let raw = crate::files::read(&proc_path(pid, "cmdline"))?;
    Ok(split_nul(&raw)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect())
}

fn split_nul(raw: &[u8]) -> impl Iterator<Item = &[u8]> {
    raw.strip_suffix(b"\0")
        .unwrap_or(raw)
        .split(|&b| b == 0)
        .filter(|_| !raw.is_empty())
}

/// The value of one variable in a process's environment (readable by its
/// owner and root only).
pub fn environ_var(pid: i32, name: &str) -> io::Result<Option<String>> {
    let raw = crate::files::read(&proc_path(pid, "environ"))?;
    Ok(lookup_environ(&raw, name))
}

/// Looks `name` up in NUL-separated `KEY=value` entries.
pub fn lookup_environ(raw: &[u8], name: &str) -> Option<String> {
    split_nul(raw).find_map(|entry| {
        let value = entry.strip_prefix(name.as_bytes())?.strip_prefix(b"=")?;
        Some(String::from_utf8_lossy(value).into_owned())
    })
}

/// Real user id (first field of `Uid:` in /proc/PID/status).
pub fn uid(pid: i32) -> io::Result<u32> {
    let text = crate::files::read_to_string(&proc_path(pid, "status"))?;
    parse_status_uid(&text).ok_or_else(|| {
        crate::logging::io_error(
            io::ErrorKind::InvalidData,
            format!("/proc/{pid}/status: no Uid line"),
        )
    })
}

pub fn parse_status_uid(text: &str) -> Option<u32> {
    text.lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_ascii_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The inodes of the sockets a process holds open (`socket:[N]` links in
/// /proc/PID/fd). Needs the right to read that directory (owner or root).
pub fn socket_inodes(pid: i32) -> io::Result<Vec<u64>> {
    let mut inodes = Vec::new();
    for entry in fs::read_dir(proc_path(pid, "fd"))? {
        // An fd closed while we read is simply not there any more.
        let Ok(entry) = entry else { continue };
        if let Ok(target) = fs::read_link(entry.path()) {
            if let Some(inode) = target.to_str().and_then(parse_socket_link) {
                inodes.push(inode);
            }
        }
    }
    Ok(inodes)
}

/// `socket:[12345]` → 12345.
pub fn parse_socket_link(target: &str) -> Option<u64> {
    target
        .strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// Every process id in /proc.
pub fn all_pids() -> io::Result<Vec<i32>> {
    Ok(fs::read_dir("/proc")?
        .filter_map(|e| crate::sys::parse_i32(e.ok()?.file_name().to_str()?))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_decimal_reads_as_std_parses_it() {
        let samples = ["", "+", "-", "0", "+0", "-0", "007", "12a", " 1", "1 ", "++1", "+-1",
            "18446744073709551615", "18446744073709551616", "99999999999999999999", "+18446744073709551615"];
        for text in samples {
            assert_eq!(decimal(text), text.parse::<u64>().ok(), "{text:?}");
        }
        let alphabet = b"0123456789+-/:a ";
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20_000 {
            let len = (state % 23) as usize;
            let text: String = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    alphabet[(state % alphabet.len() as u64) as usize] as char
                })
                .collect();
            assert_eq!(decimal(&text), text.parse::<u64>().ok(), "{text:?}");
        }
    }

    #[test]
    fn a_stat_name_reads_as_formatted() {
        for pid in [i32::MIN, -1, 0, 1, 9, 10, 812, 4_194_304, i32::MAX] {
            let mut buffer = [0xff; STAT_NAME_MAX];
            assert_eq!(stat_name(pid, &mut buffer).to_str(), Ok(&*format!("{pid}/stat")));
        }
    }

    #[test]
    fn stat_with_parentheses_and_spaces_in_the_name() {
        let text = "4242 (soft Ioc) (x)) S 1 4242 4242 0 -1 4194560 300 0 0 0 \
                    150 50 0 0 20 0 3 0 123456 123456789 812 18446744073709551615 1 1 0";
        let s = parse_stat(text).unwrap();
        assert_eq!(s.pid, 4242);
        assert_eq!(s.comm, "soft Ioc) (x)");
        assert_eq!(s.state, 'S');
        assert_eq!(s.ppid, 1);
        assert_eq!(
            (s.utime_ticks, s.stime_ticks, s.start_ticks, s.rss_pages),
            (150, 50, 123456, 812)
        );
        let units = Units {
            ticks_per_second: 100,
            page_size: 4096,
        };
        let usage = s.usage(&units);
        assert_eq!(usage.cpu_millis, 2000);
        assert_eq!(usage.rss_bytes, 812 * 4096);
    }

    #[test]
    fn stat_reads_what_read_to_string_reads() {
        let me = std::process::id() as i32;
        let whole = parse_stat(&fs::read_to_string(proc_path(me, "stat")).unwrap()).unwrap();
        let read = stat(me).unwrap();
        assert_eq!((read.pid, &read.comm, read.ppid, read.start_ticks), (whole.pid, &whole.comm, whole.ppid, whole.start_ticks));
        // A file read in pieces, without a newline at its end, or too large.
        let dir = crate::scratch::ScratchDir::new("procstat");
        let path = dir.join("stat");
        fs::write(&path, "1 (x) S 0").unwrap();
        let open = || Fd::open(crate::sys::CPath::from_bytes(path.as_os_str().as_encoded_bytes()).unwrap().as_cstr(), libc::O_RDONLY, 0).unwrap();
        assert_eq!(read_stat(&open(), &mut [0; 4]).unwrap_err().kind(), io::ErrorKind::InvalidData);
        assert_eq!(read_stat(&open(), &mut [0; STAT_MAX]).unwrap(), "1 (x) S 0");
    }

    #[test]
    fn broken_stat_text_is_none() {
        for text in [
            "",
            "1 (x",
            "x) 1 (",
            "1 (x) S",
            "abc (x) S 1 2 3",
            "1 (x) S 1 2 3 4 5 6 7 8 9 10 z",
        ] {
            assert_eq!(parse_stat(text), None, "{text:?}");
        }
    }

    #[test]
    fn environ_lookup_matches_whole_names() {
        let raw = b"PROCSERV_INFO_X=1\0PROCSERV_INFO=/run/x\0EMPTY=\0";
        assert_eq!(
            lookup_environ(raw, "PROCSERV_INFO").as_deref(),
            Some("/run/x")
        );
        assert_eq!(lookup_environ(raw, "EMPTY").as_deref(), Some(""));
        assert_eq!(lookup_environ(raw, "PROCSERV"), None);
        assert_eq!(lookup_environ(b"", "X"), None);
    }

    #[test]
    fn socket_links_and_status_uid() {
        assert_eq!(parse_socket_link("socket:[22530]"), Some(22530));
        assert_eq!(parse_socket_link("pipe:[1]"), None);
        assert_eq!(parse_socket_link("socket:[]"), None);
        assert_eq!(
            parse_status_uid("Name:\tx\nUid:\t1000\t1000\t1000\t1000\n"),
            Some(1000)
        );
        assert_eq!(parse_status_uid("Uid:\n"), None);
    }

    #[test]
    fn this_process_is_visible() {
        let me = std::process::id() as i32;
        let s = stat(me).unwrap();
        assert!("RSD".contains(s.state), "main thread state {}", s.state);
        assert!(cmdline(me).unwrap()[0].contains("iocinit"));
        let units = Units::of_this_system();
        assert!(s.usage(&units).rss_bytes > 0);
        let scratch = crate::scratch::ScratchDir::new("procstat");
        let socket_path = scratch.join("socket");
        let listener = std::os::unix::net::UnixListener::bind(&socket_path).unwrap();
        let inode = nix::sys::stat::fstat(std::os::fd::AsRawFd::as_raw_fd(&listener))
            .unwrap()
            .st_ino;
        assert!(socket_inodes(me).unwrap().contains(&inode));
        assert!(environ_var(me, "PATH").unwrap().is_some());
        assert_eq!(uid(me).unwrap(), nix::unistd::getuid().as_raw());
    }
}
