//! `ioc start`'s readiness check, as epics-ioc-runner's: follow the IOC's
//! procServ log from where it ended before the start until iocInit reports
//! `All initialization complete`, then watch a little longer.
//!
//! - Before the marker, a line with a fatal pattern (epics-ioc-runner's, and
//!   the IOC file's CRASH_LOG_PATTERNS_EXTRA) fails at once, and so does a
//!   second death of the IOC (a crash loop).
//! - A death is seen by procServ's banner, not by words the IOC prints: an
//!   IOC that procServ execs directly dies of SIGSEGV without any
//!   "Segmentation fault" line; procServ then logs `@@@ Child process is
//!   shutting down` (whatever the cause, after a `Received a sigChild` line
//!   that names it).
//! - Within [`WATCH_AFTER_READY`] after the marker, a death fails too.
//! - No marker before the timeout is [`NotReady::TimedOut`]; the caller
//!   decides (a still-running IOC is a warning, as with epics-ioc-runner).
//!
//! Deaths logged before the new child's first launch banner (`@@@
//! Restarting child`, printed for the first launch too) are the old
//! instance's, stopped by a restart: they do not count.
//!
//! procServ usually logs the cause line before the banner, but not always:
//! when it sees the child's terminal close before it can reap the child, the
//! banner comes first and the cause follows on its next housekeeping pass
//! (its select() times out every 0.5 s). A failing death without its cause
//! waits up to [`CAUSE_WAIT`] for the cause line, so the failure still says
//! how the IOC died.
//!
//! It polls every 50 ms: this runs in the CLI for a few seconds, where a
//! timer is simpler than inotify and costs nothing that matters.

use std::fmt;
use std::io;
use std::time::{Duration, Instant};

use crate::ioc::logfollow::{LineSplitter, LogFollower};

/// What iocInit prints when the IOC is up.
pub const READY_MARKER: &str = "All initialization complete";

/// Substrings of a log line that mean the IOC will not come up. `FATAL` is
/// matched as a word only.
pub const FATAL_PATTERNS: [&str; 5] = [
    "FATAL",
    "Segmentation fault",
    "undefined symbol",
    "error while loading",
    "Unbalanced quote",
];

/// procServ's banner when its child died, for any reason.
pub const DEATH_BANNER: &str = "@@@ Child process is shutting down";
/// procServ's banner before it launches the child (the first time too).
pub const LAUNCH_BANNER: &str = "@@@ Restarting child";
/// procServ's line that names how the child ended (before [`DEATH_BANNER`]).
const CAUSE_LINE: &str = "@@@ Received a sigChild";

/// Deaths before the marker that make a crash loop.
pub const CRASH_LOOP_DEATHS: u32 = 2;
/// How long after the marker a death still fails the start.
pub const WATCH_AFTER_READY: Duration = Duration::from_secs(3);
/// How long a failing death waits for a cause line logged after its banner
/// (twice procServ's housekeeping interval).
pub const CAUSE_WAIT: Duration = Duration::from_secs(1);

const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// The line that showed the IOC ready.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadyLine {
    pub line: String,
    pub elapsed: Duration,
    /// The first line with a fatal pattern after the marker, while the IOC
    /// stayed up: epics-ioc-runner's "reported errors after
    /// initialization" warning (the start still succeeds).
    pub error_after: Option<String>,
}

#[derive(Debug)]
pub enum NotReady {
    /// A fatal pattern showed up before the marker.
    Fatal { pattern: String, line: String },
    /// The IOC died [`CRASH_LOOP_DEATHS`] times before the marker.
    CrashLoop { deaths: u32, died: Death },
    /// The IOC died within [`WATCH_AFTER_READY`] after the marker.
    DiedAfterReady { after: Duration, died: Death },
    TimedOut { waited: Duration },
    Io(io::Error),
}

/// procServ's account of one death: its banner and, when it logged one, the
/// line naming the cause (`... killed by signal 11`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Death {
    pub banner: String,
    pub cause: Option<String>,
}

impl fmt::Display for Death {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "procServ logged \"{}\"", self.banner)?;
        match &self.cause {
            Some(cause) => write!(f, " and \"{cause}\""),
            None => Ok(()),
        }
    }
}

impl fmt::Display for NotReady {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotReady::Fatal { pattern, line } => write!(f, "'{pattern}' in the log: {}", line.trim_ascii()),
            NotReady::CrashLoop { deaths, died } => {
                write!(f, "the IOC died {deaths} times before '{READY_MARKER}' (a crash loop): {died}")
            }
            NotReady::DiedAfterReady { after, died } => {
                write!(f, "the IOC died {} s after '{READY_MARKER}': {died}", super::list::seconds(*after))
            }
            NotReady::TimedOut { waited } => {
                write!(f, "no '{READY_MARKER}' in the log after {} s", super::list::seconds(*waited))
            }
            NotReady::Io(e) => write!(f, "unable to read the log: {e}"),
        }
    }
}

impl std::error::Error for NotReady {}

/// The fatal pattern `line` holds, of the built-in ones and `extra`.
pub fn fatal_pattern<'p>(line: &str, extra: &[&'p str]) -> Option<&'p str> {
    let builtin = FATAL_PATTERNS.iter().copied().find(|p| if *p == "FATAL" { has_word(line, p) } else { line.contains(p) });
    builtin.or_else(|| extra.iter().copied().find(|p| line.contains(p)))
}

/// Whether `word` occurs in `line` with no word character on either side.
/// A word character is an ASCII letter, digit or `_`: epics-ioc-runner's
/// `grep` in the C locale, whatever the caller's locale (`éFATAL` holds
/// the word). `char::is_alphanumeric`, its UTF-8 locale's, linked 2.4 KB
/// of Unicode tables for this one test.
fn has_word(line: &str, word: &str) -> bool {
    // Bytes, not chars: a byte of a char beyond ASCII is none of these.
    let is_word = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_');
    // `get`, not indexing: no index is left to panic on.
    let bytes = line.as_bytes();
    let around = |at: usize| (at.checked_sub(1).and_then(|i| bytes.get(i)), bytes.get(at + word.len()));
    line.match_indices(word).map(|(at, _)| around(at)).any(|(before, after)| !is_word(before) && !is_word(after))
}

/// What the log has said so far, line by line (no clock, no files).
#[derive(Default)]
pub struct Judge<'p> {
    extra: Vec<&'p str>,
    launched: bool,
    deaths: u32,
    cause: Option<String>,
    /// The last death banner came without a cause line: the next cause line
    /// before a launch is that death's, not the next one's.
    cause_late: bool,
    /// A failure whose death waits for its late cause line.
    uncaused: Option<Failure>,
    /// The marker line, once seen.
    ready: Option<String>,
    /// The first line after the marker with a fatal pattern.
    error_after: Option<String>,
}

/// What a line changed.
#[derive(Debug)]
pub enum Seen {
    Nothing,
    /// The marker (only the first time).
    Ready,
    /// The start failed.
    Failed(Failure),
}

#[derive(Debug)]
pub enum Failure {
    Fatal { pattern: String, line: String },
    CrashLoop { deaths: u32, died: Death },
    DiedAfterReady(Death),
}

impl Failure {
    fn death_mut(&mut self) -> Option<&mut Death> {
        match self {
            Failure::CrashLoop { died, .. } | Failure::DiedAfterReady(died) => Some(died),
            Failure::Fatal { .. } => None,
        }
    }
}

impl<'p> Judge<'p> {
    pub fn new(extra: &[&'p str]) -> Self {
        Judge { extra: extra.to_vec(), ..Judge::default() }
    }

    pub fn ready_line(&self) -> Option<&str> {
        self.ready.as_deref()
    }

    pub fn error_after(&self) -> Option<&str> {
        self.error_after.as_deref()
    }

    /// A failure held back while its death waits for a late cause line.
    pub fn awaits_cause(&self) -> bool {
        self.uncaused.is_some()
    }

    /// The held-back failure, once no cause line came (see [`CAUSE_WAIT`]).
    pub fn take_uncaused(&mut self) -> Option<Failure> {
        self.uncaused.take()
    }

    pub fn line(&mut self, line: &str) -> Seen {
        if line.starts_with(LAUNCH_BANNER) {
            self.launched = true;
            self.cause_late = false;
            if let Some(failure) = self.uncaused.take() {
                return Seen::Failed(failure); // no cause before the next launch
            }
        } else if line.starts_with(CAUSE_LINE) {
            let cause = line.trim_ascii().to_string();
            if !std::mem::take(&mut self.cause_late) {
                self.cause = Some(cause);
            } else if let Some(mut failure) = self.uncaused.take() {
                if let Some(died) = failure.death_mut() {
                    died.cause = Some(cause);
                }
                return Seen::Failed(failure);
            }
        } else if self.uncaused.is_some() {
            // procServ's lines between the banner and the late cause.
        } else if line.starts_with(DEATH_BANNER) {
            let died = Death { banner: line.trim_ascii().to_string(), cause: self.cause.take() };
            self.cause_late = died.cause.is_none();
            if !self.launched {
                return Seen::Nothing; // the old instance, stopped by a restart
            }
            let failure = if self.ready.is_some() {
                Failure::DiedAfterReady(died)
            } else {
                self.deaths += 1;
                if self.deaths < CRASH_LOOP_DEATHS {
                    return Seen::Nothing;
                }
                Failure::CrashLoop { deaths: self.deaths, died }
            };
            if self.cause_late {
                self.uncaused = Some(failure);
                return Seen::Nothing;
            }
            return Seen::Failed(failure);
        } else if self.ready.is_some() {
            if self.error_after.is_none() && fatal_pattern(line, &self.extra).is_some() {
                self.error_after = Some(line.trim_ascii().to_string());
            }
        } else {
            if let Some(pattern) = fatal_pattern(line, &self.extra) {
                return Seen::Failed(Failure::Fatal { pattern: pattern.to_string(), line: line.to_string() });
            }
            if line.contains(READY_MARKER) {
                self.ready = Some(line.to_string());
                return Seen::Ready;
            }
        }
        Seen::Nothing
    }
}

/// Follows `log` until the IOC is ready and has stayed up for
/// [`WATCH_AFTER_READY`], or the start failed, or `timeout` passed without
/// the marker. `extra`: the IOC file's CRASH_LOG_PATTERNS_EXTRA.
pub fn wait_ready(mut log: LogFollower, timeout: Duration, extra: &[&str]) -> Result<ReadyLine, NotReady> {
    let start = Instant::now();
    let mut judge = Judge::new(extra);
    let mut ready_at: Option<Duration> = None;
    let mut lines = LineSplitter::default();
    let mut chunk = Vec::new();
    // When the judge held back a failure whose death waits for its cause.
    let mut uncaused_at: Option<Duration> = None;
    loop {
        chunk.clear();
        log.read_new(&mut chunk).map_err(NotReady::Io)?;
        let failed = lines.push(&chunk, |line| match judge.line(line) {
            Seen::Failed(failure) => Some(failure),
            Seen::Ready => {
                ready_at = Some(start.elapsed());
                None
            }
            Seen::Nothing => None,
        });
        if let Some(failure) = failed {
            return Err(not_ready(failure, uncaused_at.unwrap_or_else(|| start.elapsed()), ready_at));
        }
        if judge.awaits_cause() {
            uncaused_at.get_or_insert_with(|| start.elapsed());
        }
        // A full chunk means more is waiting: read on before sleeping.
        if chunk.is_empty() {
            let waited = start.elapsed();
            let deadline = match (uncaused_at, ready_at) {
                (Some(died), _) => died + CAUSE_WAIT,
                (None, Some(ready)) => ready + WATCH_AFTER_READY,
                (None, None) => timeout,
            };
            if waited >= deadline {
                if let (Some(died), Some(failure)) = (uncaused_at, judge.take_uncaused()) {
                    return Err(not_ready(failure, died, ready_at));
                }
                return match (ready_at, judge.ready_line()) {
                    (Some(elapsed), Some(line)) => {
                        Ok(ReadyLine { line: line.to_string(), elapsed, error_after: judge.error_after().map(str::to_string) })
                    }
                    _ => Err(NotReady::TimedOut { waited }),
                };
            }
            std::thread::sleep(POLL_INTERVAL.min(deadline - waited));
        }
    }
}

/// The judge's `failure`, seen `at` after the wait began.
fn not_ready(failure: Failure, at: Duration, ready_at: Option<Duration>) -> NotReady {
    match failure {
        Failure::Fatal { pattern, line } => NotReady::Fatal { pattern, line },
        Failure::CrashLoop { deaths, died } => NotReady::CrashLoop { deaths, died },
        Failure::DiedAfterReady(died) => NotReady::DiedAfterReady { after: at.saturating_sub(ready_at.unwrap_or_default()), died },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scratch::ScratchDir;
    use std::io::Write;
    use std::path::Path;

    fn temp_log(tag: &str) -> (ScratchDir, std::path::PathBuf) {
        let dir = ScratchDir::new(&format!("ready-{tag}"));
        let log = dir.join("ioc.log");
        (dir, log)
    }

    fn append_later(path: &Path, delay_ms: u64, text: &'static str) -> std::thread::JoinHandle<()> {
        let path = path.to_path_buf();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(delay_ms));
            let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path).unwrap();
            f.write_all(text.as_bytes()).unwrap();
        })
    }

    /// Feeds `log` to a judge; the last thing it said.
    fn judge(log: &str, extra: &[&str]) -> Seen {
        let mut judge = Judge::new(extra);
        let mut last = Seen::Nothing;
        for line in log.lines() {
            match judge.line(line) {
                Seen::Nothing => {}
                failed @ Seen::Failed(_) => return failed,
                seen => last = seen,
            }
        }
        last
    }

    /// What procServ 2.7.0 logs (measured): a launch, a death by SIGSEGV.
    const LAUNCH: &str = "@@@ Restarting child \"demo\"\n@@@    (as ./st.cmd)\n@@@ The PID of new child \"demo\" is: 7\n@@@ @@@ @@@ @@@ @@@\n";
    const SEGV: &str = "@@@ @@@ @@@ @@@ @@@\n@@@ Received a sigChild for process 7. The process was killed by signal 11\n\
        @@@ Current time: Mon Nov 30 07:02:38 2026\n@@@ Child process is shutting down, a new one will be restarted shortly\n\
        @@@ ^R or ^X restarts the child, ^Q quits the server\n";
    const READY: &str = "iocRun: All initialization complete\n";

    #[test]
    fn beside_fatal_only_ascii_letters_digits_and_underscore_make_a_word() {
        for line in ["éFATAL", "FATALé", "ΩFATAL: x", "²FATAL", "\u{a0}FATAL\u{a0}", "«FATAL»"] {
            assert_eq!(fatal_pattern(line, &[]), Some("FATAL"), "{line}");
        }
    }

    #[test]
    fn verdicts() {
        assert_eq!(fatal_pattern("./st.cmd: error while loading shared libraries", &[]), Some("error while loading"));
        assert_eq!(fatal_pattern("FATAL: no dbd", &[]), Some("FATAL"));
        assert_eq!(fatal_pattern("a NONFATAL note, FATALITY", &[]), None, "FATAL is a word");
        assert_eq!(fatal_pattern("FATAL_ERROR, FATAL2", &[]), None, "a digit or _ beside it is a word's");
        assert_eq!(fatal_pattern("MYBOOM here", &["other", "MYBOOM"]), Some("MYBOOM"));
        assert_eq!(fatal_pattern("epics> dbl", &["MYBOOM"]), None);
        assert!(matches!(judge(&format!("{LAUNCH}{READY}"), &[]), Seen::Ready));
    }

    #[test]
    fn a_fatal_pattern_after_the_marker_is_kept_as_a_warning_not_a_failure() {
        let mut judge = Judge::new(&["MYBOOM"]);
        for line in format!("{LAUNCH}{READY}epics> MYBOOM on the bus\nFATAL: later too\n").lines() {
            assert!(!matches!(judge.line(line), Seen::Failed(_)), "{line}");
        }
        assert_eq!(judge.error_after(), Some("epics> MYBOOM on the bus"));
        let mut quiet = Judge::new(&[]);
        format!("{LAUNCH}{READY}epics> dbl\n").lines().for_each(|l| drop(quiet.line(l)));
        assert_eq!(quiet.error_after(), None);
    }

    #[test]
    fn one_death_before_the_marker_is_survived_two_are_a_crash_loop() {
        assert!(matches!(judge(&format!("{LAUNCH}{SEGV}{LAUNCH}{READY}"), &[]), Seen::Ready));
        match judge(&format!("{LAUNCH}{SEGV}{LAUNCH}{SEGV}"), &[]) {
            Seen::Failed(Failure::CrashLoop { deaths: 2, died }) => {
                assert!(died.banner.starts_with(DEATH_BANNER), "{died:?}");
                assert_eq!(died.cause.as_deref(), Some("@@@ Received a sigChild for process 7. The process was killed by signal 11"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_death_after_the_marker_fails_and_the_old_instances_does_not_count() {
        match judge(&format!("{LAUNCH}{READY}{SEGV}"), &[]) {
            Seen::Failed(Failure::DiedAfterReady(died)) => assert!(died.banner.starts_with(DEATH_BANNER)),
            other => panic!("{other:?}"),
        }
        // A restart: the old IOC's end is logged before the new launch.
        let old_end = "@@@ Current time: x\n@@@ Child process is shutting down, a new one will be restarted shortly\n";
        assert!(matches!(judge(&format!("{old_end}{LAUNCH}{SEGV}{LAUNCH}{READY}"), &[]), Seen::Ready));
        // After the marker only deaths fail: words are a warning (error_after).
        assert!(matches!(judge(&format!("{LAUNCH}{READY}FATAL later\n"), &[]), Seen::Ready));
    }

    /// procServ's lines when it saw the terminal close before it reaped the
    /// child: the banner, then (on its next housekeeping pass) the cause.
    fn segv_cause_late(pid: u32) -> String {
        format!(
            "@@@ Current time: Mon Nov 30 07:02:38 2026\n@@@ Child process is shutting down, a new one will be restarted shortly\n\
            @@@ ^R or ^X restarts the child, ^Q quits the server\n\n@@@ @@@ @@@ @@@ @@@\n\
            @@@ Received a sigChild for process {pid}. The process was killed by signal 11\n"
        )
    }

    #[test]
    fn a_cause_logged_after_the_banner_is_its_deaths() {
        match judge(&format!("{LAUNCH}{READY}{}", segv_cause_late(7)), &[]) {
            Seen::Failed(Failure::DiedAfterReady(died)) => {
                assert!(died.banner.starts_with(DEATH_BANNER), "{died:?}");
                assert_eq!(died.cause.as_deref(), Some("@@@ Received a sigChild for process 7. The process was killed by signal 11"));
            }
            other => panic!("{other:?}"),
        }
        // The first death's late cause is not taken for the second's.
        let twice = format!("{LAUNCH}{}{LAUNCH}{}", segv_cause_late(7), segv_cause_late(8));
        match judge(&twice, &[]) {
            Seen::Failed(Failure::CrashLoop { deaths: 2, died }) => assert!(died.cause.is_some_and(|c| c.contains("process 8.")), "{twice}"),
            other => panic!("{other:?}"),
        }
        // A launch ends the wait for a cause that never came.
        let banner_only = "@@@ Child process is shutting down, a new one will be restarted shortly\n";
        match judge(&format!("{LAUNCH}{READY}{banner_only}{LAUNCH}"), &[]) {
            Seen::Failed(Failure::DiedAfterReady(died)) => assert_eq!(died.cause, None),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_failing_death_waits_a_while_for_its_cause() {
        // Launched, ready, then the death banner without its cause line.
        const UP_THEN_DIED: &str = "@@@ Restarting child \"x\"\niocRun: All initialization complete\n@@@ Child process is shutting down, a new one will be restarted shortly\n";
        let (_dir, log) = temp_log("late-cause");
        let follower = LogFollower::at_end(&log);
        let writer = append_later(&log, 50, UP_THEN_DIED);
        let cause = append_later(&log, 450, "@@@ Received a sigChild for process 9. The process was killed by signal 11\n");
        match wait_ready(follower, Duration::from_secs(10), &[]) {
            Err(NotReady::DiedAfterReady { died, after }) => {
                assert!(died.cause.is_some_and(|c| c.ends_with("signal 11")));
                assert!(after < Duration::from_millis(300), "measured at the banner: {after:?}");
            }
            other => panic!("{other:?}"),
        }
        writer.join().unwrap();
        cause.join().unwrap();

        // No cause at all: the failure comes CAUSE_WAIT after the banner
        // (not a success at the end of the watch).
        let (_dir, log) = temp_log("no-cause");
        let follower = LogFollower::at_end(&log);
        let writer = append_later(&log, 50, UP_THEN_DIED);
        let begun = Instant::now();
        match wait_ready(follower, Duration::from_secs(10), &[]) {
            Err(NotReady::DiedAfterReady { died, .. }) => assert_eq!(died.cause, None),
            other => panic!("{other:?}"),
        }
        assert!(begun.elapsed() >= CAUSE_WAIT, "{:?}", begun.elapsed());
        writer.join().unwrap();
    }

    #[test]
    fn ready_after_the_offset_only_and_watched_a_while() {
        let (_dir, log) = temp_log("ok");
        std::fs::write(&log, "iocRun: All initialization complete\r\n@@@ Restarting child\r\n").unwrap();
        let follower = LogFollower::at_end(&log);
        let writer = append_later(&log, 150, "@@@ Restarting child \"x\"\r\nStarting iocInit\r\niocRun: All initialization complete\r\n");
        let ready = wait_ready(follower, Duration::from_secs(5), &[]).unwrap();
        assert_eq!(ready.line, "iocRun: All initialization complete");
        assert!(ready.elapsed >= Duration::from_millis(100));
        writer.join().unwrap();
    }

    #[test]
    fn a_death_within_the_watch_fails_the_start() {
        let (_dir, log) = temp_log("died");
        let follower = LogFollower::at_end(&log);
        let writer = append_later(&log, 50, "@@@ Restarting child \"x\"\niocRun: All initialization complete\n");
        let crash = append_later(&log, 600, "@@@ Received a sigChild for process 9. The process was killed by signal 11\n@@@ Child process is shutting down, a new one will be restarted shortly\n");
        match wait_ready(follower, Duration::from_secs(10), &[]) {
            Err(NotReady::DiedAfterReady { died, .. }) => assert!(died.cause.is_some_and(|c| c.ends_with("signal 11"))),
            other => panic!("{other:?}"),
        }
        writer.join().unwrap();
        crash.join().unwrap();
    }

    #[test]
    fn fatal_line_fails_at_once_and_is_reported() {
        let (_dir, log) = temp_log("fatal");
        let writer = append_later(&log, 50, "softIoc: symbol lookup error: undefined symbol: dbFoo\n");
        match wait_ready(LogFollower::new(&log, 0), Duration::from_secs(5), &[]) {
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
        match wait_ready(LogFollower::new(&log, 0), Duration::from_millis(200), &[]) {
            Err(NotReady::TimedOut { waited }) => assert!(waited >= Duration::from_millis(200)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn rotation_during_the_wait_is_followed() {
        let (_dir, log) = temp_log("rotate");
        std::fs::write(&log, "old stuff\n").unwrap();
        let follower = LogFollower::at_end(&log);
        let rotated = log.with_extension("log.1");
        std::fs::rename(&log, &rotated).unwrap();
        let writer = append_later(&log, 100, "iocRun: All initialization complete\n");
        assert!(wait_ready(follower, Duration::from_secs(5), &[]).is_ok());
        writer.join().unwrap();
    }
}
