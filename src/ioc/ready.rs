//! `ioc start`'s readiness check: follow the IOC's procServ log from where it
//! ended before the start until iocInit reports `All initialization complete`,
//! failing at once on a line that shows the IOC cannot come up (the fatal
//! patterns epics-ioc-runner uses), and giving up after a timeout.
//!
//! It polls every 50 ms: this runs in the CLI for a few seconds, where a
//! timer is simpler than inotify and costs nothing that matters.

use std::fmt;
use std::io;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::ioc::logfollow::{LineSplitter, LogFollower};

/// What iocInit prints when the IOC is up.
pub const READY_MARKER: &str = "All initialization complete";

/// Substrings of a log line that mean the IOC will not come up.
pub const FATAL_PATTERNS: [&str; 5] = [
    "FATAL",
    "Segmentation fault",
    "undefined symbol",
    "error while loading",
    "Unbalanced quote",
];

const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// The line that showed the IOC ready.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadyLine {
    pub line: String,
    pub elapsed: Duration,
}

#[derive(Debug)]
pub enum NotReady {
    /// A fatal pattern showed up first.
    Fatal {
        pattern: &'static str,
        line: String,
    },
    TimedOut {
        waited: Duration,
    },
    Io(io::Error),
}

impl fmt::Display for NotReady {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotReady::Fatal { pattern, line } => {
                write!(f, "the IOC failed to start ({pattern}): {line}")
            }
            NotReady::TimedOut { waited } => {
                write!(
                    f,
                    "no '{READY_MARKER}' in the log after {:.1} s",
                    waited.as_secs_f64()
                )
            }
            NotReady::Io(e) => write!(f, "unable to read the log: {e}"),
        }
    }
}

impl std::error::Error for NotReady {}

/// What one log line says about readiness.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Ready,
    Fatal(&'static str),
}

pub fn judge(line: &str) -> Option<Verdict> {
    if let Some(pattern) = FATAL_PATTERNS.iter().find(|p| line.contains(*p)) {
        return Some(Verdict::Fatal(pattern));
    }
    line.contains(READY_MARKER).then_some(Verdict::Ready)
}

/// Waits until the log at `log`, read from byte `from_offset`, shows the IOC
/// ready, a fatal line, or `timeout` passes.
pub fn wait_ready(log: &Path, from_offset: u64, timeout: Duration) -> Result<ReadyLine, NotReady> {
    let start = Instant::now();
    let mut follower = LogFollower::new(log, from_offset);
    let mut lines = LineSplitter::default();
    let mut chunk = Vec::new();
    loop {
        chunk.clear();
        follower.read_new(&mut chunk).map_err(NotReady::Io)?;
        let found = lines.push(&chunk, |line| {
            judge(line).map(|verdict| (verdict, line.to_string()))
        });
        match found {
            Some((Verdict::Ready, line)) => {
                return Ok(ReadyLine {
                    line,
                    elapsed: start.elapsed(),
                })
            }
            Some((Verdict::Fatal(pattern), line)) => return Err(NotReady::Fatal { pattern, line }),
            None => {}
        }
        // A full chunk means more is waiting: read on before sleeping.
        if chunk.is_empty() {
            let waited = start.elapsed();
            if waited >= timeout {
                return Err(NotReady::TimedOut { waited });
            }
            std::thread::sleep(POLL_INTERVAL.min(timeout - waited));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ioc::ScratchDir;
    use std::io::Write;

    fn temp_log(tag: &str) -> (ScratchDir, std::path::PathBuf) {
        let dir = ScratchDir::new(&format!("ready-{tag}"));
        let log = dir.join("ioc.log");
        (dir, log)
    }

    fn append_later(path: &Path, delay_ms: u64, text: &'static str) -> std::thread::JoinHandle<()> {
        let path = path.to_path_buf();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(delay_ms));
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .unwrap();
            f.write_all(text.as_bytes()).unwrap();
        })
    }

    #[test]
    fn verdicts() {
        assert_eq!(
            judge("iocRun: All initialization complete"),
            Some(Verdict::Ready)
        );
        assert_eq!(
            judge("./st.cmd: error while loading shared libraries"),
            Some(Verdict::Fatal("error while loading"))
        );
        assert_eq!(judge("epics> dbl"), None);
    }

    #[test]
    fn ready_after_the_offset_only() {
        let (_dir, log) = temp_log("ok");
        std::fs::write(
            &log,
            "iocRun: All initialization complete\r\n@@@ Restarting child\r\n",
        )
        .unwrap();
        let from = std::fs::metadata(&log).unwrap().len();
        let writer = append_later(
            &log,
            150,
            "Starting iocInit\r\niocRun: All initialization complete\r\n",
        );
        let ready = wait_ready(&log, from, Duration::from_secs(5)).unwrap();
        assert_eq!(ready.line, "iocRun: All initialization complete");
        assert!(ready.elapsed >= Duration::from_millis(100));
        writer.join().unwrap();
    }

    #[test]
    fn fatal_line_fails_at_once_and_is_reported() {
        let (_dir, log) = temp_log("fatal");
        let writer = append_later(
            &log,
            50,
            "softIoc: symbol lookup error: undefined symbol: dbFoo\n",
        );
        match wait_ready(&log, 0, Duration::from_secs(5)) {
            Err(NotReady::Fatal { pattern, line }) => {
                assert_eq!(pattern, "undefined symbol");
                assert!(line.contains("dbFoo"));
            }
            other => panic!("{other:?}"),
        }
        writer.join().unwrap();
    }

    #[test]
    fn silence_times_out() {
        let (_dir, log) = temp_log("silent");
        std::fs::write(&log, "epics> \n").unwrap();
        match wait_ready(&log, 0, Duration::from_millis(200)) {
            Err(NotReady::TimedOut { waited }) => assert!(waited >= Duration::from_millis(200)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn rotation_during_the_wait_is_followed() {
        let (_dir, log) = temp_log("rotate");
        std::fs::write(&log, "old stuff\n").unwrap();
        let rotated = log.with_extension("log.1");
        std::fs::rename(&log, &rotated).unwrap();
        let writer = append_later(&log, 100, "iocRun: All initialization complete\n");
        assert!(wait_ready(&log, 4, Duration::from_secs(5)).is_ok());
        writer.join().unwrap();
    }
}
