//! Following a procServ log file as it grows, like `tail -F`: new bytes
//! since the last look, surviving rotation and truncation (reading restarts
//! at 0). Shared by `start`'s readiness wait and `view -f`.
//!
//! Rotation (logrotate.rs: rename, a fresh file, SIGHUP to procServ) loses
//! and repeats nothing: procServ keeps writing to the renamed file until it
//! has reopened the path, and writes to the new file only after; so the
//! old file is read until the new one holds something, then once more to
//! its end, and only then is the new one read, from its start.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Most bytes one [`LogFollower::read_new`] returns, so a huge log is read in pieces.
const MAX_READ: u64 = 1 << 20;

pub struct LogFollower {
    path: PathBuf,
    file: Option<File>,
    /// Device and inode of `file`, to notice that the path names another file.
    identity: (u64, u64),
    offset: u64,
}

impl LogFollower {
    /// Follows `path` from byte `from_offset` (0 if the file turns out shorter,
    /// i.e. it was truncated or replaced meanwhile). The file need not exist yet.
    pub fn new(path: &Path, from_offset: u64) -> Self {
        LogFollower {
            path: path.to_path_buf(),
            file: None,
            identity: (0, 0),
            offset: from_offset,
        }
    }

    /// Follows `path` from its end as it is now: the file (if any) is
    /// opened at once, so a rotation from here on is seen as one (a start
    /// reads the IOC's log from before its request, whatever happens to
    /// the file during the request).
    pub fn at_end(path: &Path) -> Self {
        let mut follower = LogFollower::new(path, 0);
        if let Ok(file) = crate::sys::open_file(path, libc::O_RDONLY, 0) {
            if let Ok(meta) = file.metadata() {
                follower.identity = (meta.dev(), meta.ino());
                follower.offset = meta.len();
                follower.file = Some(file);
            }
        }
        follower
    }

    /// Appends the bytes written since the last call (at most 1 MiB) to `out`.
    pub fn read_new(&mut self, out: &mut Vec<u8>) -> io::Result<()> {
        let now_at_path = std::fs::metadata(&self.path)
            .ok()
            .map(|m| ((m.dev(), m.ino()), m.len()));
        if self.file.is_some() && now_at_path.is_some_and(|(id, _)| id != self.identity) {
            // Rotated. Until the new file holds something, the writer may
            // still append to the old one.
            let writer_moved = now_at_path.is_some_and(|(_, len)| len > 0);
            if self.read_current(out)? > 0 || !writer_moved {
                return Ok(());
            }
            self.file = None;
            self.offset = 0;
        }
        if self.file.is_none() {
            let Some((identity, _)) = now_at_path else {
                return Ok(());
            };
            match crate::sys::open_file(&self.path, libc::O_RDONLY, 0) {
                Ok(file) => {
                    self.file = Some(file);
                    self.identity = identity;
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
                Err(e) => return Err(e),
            }
        }
        self.read_current(out).map(|_| ())
    }

    fn read_current(&mut self, out: &mut Vec<u8>) -> io::Result<u64> {
        let Some(file) = self.file.as_mut() else {
            return Ok(0);
        };
        if file.metadata()?.len() < self.offset {
            self.offset = 0; // truncated (copytruncate rotation, or `> log`)
        }
        file.seek(SeekFrom::Start(self.offset))?;
        let n = file.take(MAX_READ).read_to_end(out)? as u64;
        self.offset += n;
        Ok(n)
    }
}

/// Longest line kept whole; a longer one is handed on in pieces.
const MAX_LINE: usize = 64 * 1024;

/// Splits a byte stream into lines (without `\r\n`/`\n`), keeping a partial
/// last line for the next chunk.
#[derive(Default)]
pub struct LineSplitter {
    partial: Vec<u8>,
}

impl LineSplitter {
    /// Calls `each` for every complete line in `bytes`; stops early when it
    /// returns `Some`, and returns that.
    pub fn push<T>(&mut self, bytes: &[u8], mut each: impl FnMut(&str) -> Option<T>) -> Option<T> {
        for &b in bytes {
            if b == b'\n' || self.partial.len() >= MAX_LINE {
                let line = String::from_utf8_lossy(
                    self.partial.strip_suffix(b"\r").unwrap_or(&self.partial),
                )
                .into_owned();
                self.partial.clear();
                if b != b'\n' {
                    self.partial.push(b);
                }
                if let Some(found) = each(&line) {
                    return Some(found);
                }
            } else {
                self.partial.push(b);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn append(path: &Path, text: &str) {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }

    fn read(f: &mut LogFollower) -> String {
        let mut out = Vec::new();
        f.read_new(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn follows_growth_rotation_and_truncation() {
        let dir = crate::scratch::ScratchDir::new("logfollow-rot");
        let log = dir.join("demo.log");
        let mut f = LogFollower::new(&log, 0);
        assert_eq!(read(&mut f), "", "no file yet");
        append(&log, "one\n");
        assert_eq!(read(&mut f), "one\n");
        append(&log, "two\n");
        // Rotation by rename: the tail of the old file, then the new one.
        std::fs::rename(&log, dir.join("demo.log.1")).unwrap();
        append(&dir.join("demo.log.1"), "late\n");
        append(&log, "new\n");
        assert_eq!(read(&mut f), "two\nlate\n");
        assert_eq!(read(&mut f), "new\n");
        // Truncation in place.
        std::fs::write(&log, "").unwrap();
        append(&log, "x\n");
        assert_eq!(read(&mut f), "x\n");
    }

    /// logrotate.rs's rotation while a start waits: procServ writes on to
    /// the renamed file until its SIGHUP, then to the new one. Nothing is
    /// lost, nothing read twice; and a follower made before the rotation
    /// (before the start request) starts where the log ended then.
    #[test]
    fn rotation_loses_and_repeats_nothing() {
        let dir = crate::scratch::ScratchDir::new("logfollow-norace");
        let log = dir.join("demo.log");
        let rotated = dir.join("demo.log.1");
        append(&log, "before the start\n");
        let mut f = LogFollower::at_end(&log);
        append(&log, "one\n");
        std::fs::rename(&log, &rotated).unwrap();
        std::fs::write(&log, "").unwrap(); // the fresh, empty log
        let mut seen = read(&mut f);
        seen += &read(&mut f); // nothing new anywhere yet
        append(&rotated, "two\n"); // procServ has not reopened yet
        seen += &read(&mut f);
        seen += &read(&mut f);
        append(&rotated, "three\n");
        append(&log, "four\n"); // SIGHUP handled: the new file from now on
        for _ in 0..3 {
            seen += &read(&mut f);
        }
        append(&log, "five\n");
        seen += &read(&mut f);
        assert_eq!(seen, "one\ntwo\nthree\nfour\nfive\n");
    }

    /// `ioc start` makes its follower before the request: a rotation while
    /// PID 1 starts the IOC neither drops the old file's last lines nor
    /// skips the new file's first bytes (as an offset taken before and a
    /// file opened after would).
    #[test]
    fn a_follower_made_before_a_rotation_reads_both_files_whole() {
        let dir = crate::scratch::ScratchDir::new("logfollow-atend");
        let log = dir.join("demo.log");
        append(&log, "before\n");
        let mut f = LogFollower::at_end(&log);
        append(&log, "@@@ Restarting child\n");
        std::fs::rename(&log, dir.join("demo.log.1")).unwrap();
        append(&log, "the first line of the new file\n");
        let seen = read(&mut f) + &read(&mut f);
        assert_eq!(seen, "@@@ Restarting child\nthe first line of the new file\n");
    }

    #[test]
    fn an_offset_past_the_end_starts_over() {
        let dir = crate::scratch::ScratchDir::new("logfollow-off");
        let log = dir.join("demo.log");
        append(&log, "abc\n");
        assert_eq!(read(&mut LogFollower::new(&log, 2)), "c\n");
        assert_eq!(read(&mut LogFollower::new(&log, 99)), "abc\n");
    }

    #[test]
    fn lines_survive_chunk_boundaries() {
        let mut s = LineSplitter::default();
        let mut lines = Vec::new();
        for chunk in [&b"ab"[..], b"c\r\nd", b"\n\xffe\n"] {
            s.push::<()>(chunk, |l| {
                lines.push(l.to_string());
                None
            });
        }
        assert_eq!(lines, ["abc", "d", "\u{fffd}e"]);
        assert_eq!(s.push(b"x\ny\nz\n", |l| (l == "y").then_some(7)), Some(7));
    }
}
