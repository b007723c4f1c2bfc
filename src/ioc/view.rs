//! `ioc view`: the last lines of an IOC's procServ log, and with `follow`
//! what is appended after them, like `tail -n N -F` (rotation and truncation
//! are followed, see [`LogFollower`]). Following ends only when writing the
//! output fails (e.g. the reader of a pipe left) or the process is stopped.

use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::Duration;

use crate::ioc::logfollow::LogFollower;

const FOLLOW_INTERVAL: Duration = Duration::from_millis(100);
const BLOCK: u64 = 8192;

/// The last `lines` lines of the file (all of it if shorter), and the length
/// it had when read, where following goes on.
pub fn tail(log: &Path, lines: usize) -> io::Result<(Vec<u8>, u64)> {
    let mut file = crate::sys::open_file(log, libc::O_RDONLY, 0)?;
    let len = file.metadata()?.len();
    let mut start = len;
    let mut newlines = 0;
    let mut block = Vec::new();
    // Walk back block by block counting line ends; a final `\n` ends the last
    // line rather than starting an empty one.
    'outer: while start > 0 && lines > 0 {
        let from = start.saturating_sub(BLOCK);
        block.resize((start - from) as usize, 0);
        file.seek(SeekFrom::Start(from))?;
        file.read_exact(&mut block)?;
        for (i, &b) in block.iter().enumerate().rev() {
            let at = from + i as u64;
            if b == b'\n' && at + 1 != len {
                newlines += 1;
                if newlines == lines {
                    start = at + 1;
                    break 'outer;
                }
            }
        }
        start = from;
    }
    let mut out = vec![0; (len - start) as usize];
    file.seek(SeekFrom::Start(start))?;
    file.read_exact(&mut out)?;
    Ok((out, len))
}

/// Writes the last `lines` lines of `log` to `out`; with `follow`, keeps
/// writing what is appended.
pub fn view(log: &Path, lines: usize, follow: bool, out: &mut dyn Write) -> io::Result<()> {
    let (last, end) = tail(log, lines)?;
    out.write_all(&last)?;
    out.flush()?;
    if !follow {
        return Ok(());
    }
    let mut follower = LogFollower::new(log, end);
    let mut chunk = Vec::new();
    loop {
        chunk.clear();
        follower.read_new(&mut chunk)?;
        if chunk.is_empty() {
            std::thread::sleep(FOLLOW_INTERVAL);
        } else {
            out.write_all(&chunk)?;
            out.flush()?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scratch::ScratchDir;

    fn temp_log(tag: &str, content: &[u8]) -> (ScratchDir, std::path::PathBuf) {
        let dir = ScratchDir::new(&format!("view-{tag}"));
        let log = dir.join("ioc.log");
        std::fs::write(&log, content).unwrap();
        (dir, log)
    }

    #[test]
    fn last_lines_like_tail() {
        let (_dir, log) = temp_log("tail", b"a\nb\nc\n");
        let last = |n| String::from_utf8(tail(&log, n).unwrap().0).unwrap();
        assert_eq!(last(0), "");
        assert_eq!(last(1), "c\n");
        assert_eq!(last(2), "b\nc\n");
        assert_eq!(last(9), "a\nb\nc\n");
        let (_dir, log) = temp_log("partial", b"a\nb");
        assert_eq!(String::from_utf8(tail(&log, 1).unwrap().0).unwrap(), "b");
    }

    #[test]
    fn lines_across_blocks() {
        let mut content = Vec::new();
        for i in 0..5000 {
            content.extend_from_slice(format!("line {i}\n").as_bytes());
        }
        let (_dir, log) = temp_log("blocks", &content);
        let (last, len) = tail(&log, 1500).unwrap();
        let text = String::from_utf8(last).unwrap();
        assert_eq!(text.lines().count(), 1500);
        assert!(text.starts_with("line 3500\n"));
        assert_eq!(len, content.len() as u64);
    }

    /// Collects output and fails the write once it has seen `until`, which
    /// ends `view`'s follow loop the way a closed pipe would.
    struct StopAfter {
        seen: Vec<u8>,
        until: &'static [u8],
    }

    impl Write for StopAfter {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.seen.windows(self.until.len()).any(|w| w == self.until) {
                return Err(io::ErrorKind::BrokenPipe.into());
            }
            self.seen.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn follow_shows_appended_lines() {
        let (_dir, log) = temp_log("follow", b"old1\nold2\n");
        let writer_log = log.clone();
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(150));
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .open(&writer_log)
                .unwrap();
            f.write_all(b"new1\n").unwrap();
            std::thread::sleep(Duration::from_millis(150));
            f.write_all(b"new2\n").unwrap();
        });
        let mut out = StopAfter {
            seen: Vec::new(),
            until: b"new2\n",
        };
        // Returns once the next write after "new2" fails.
        let view_log = log.clone();
        let handle = std::thread::spawn(move || {
            let err = view(&view_log, 1, true, &mut out).unwrap_err();
            (err.kind(), out.seen)
        });
        writer.join().unwrap();
        // One more line makes view write again, and fail.
        std::thread::sleep(Duration::from_millis(250));
        std::fs::OpenOptions::new()
            .append(true)
            .open(&log)
            .unwrap()
            .write_all(b"x\n")
            .unwrap();
        let (kind, seen) = handle.join().unwrap();
        assert_eq!(kind, io::ErrorKind::BrokenPipe);
        assert_eq!(String::from_utf8(seen).unwrap(), "old2\nnew1\nnew2\n");
    }
}
