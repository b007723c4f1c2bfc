//! Boot and shutdown status lines, `<title> ... Done|FAIL|WARN`, in the
//! formats of Epoch's `StartingStatusFormat`, `FinishedStatusFormat` and
//! `StatusNames`. The formats are resolved (files read) when a configuration
//! loads; a line is written piece by piece, as [`StatusLine`] displays it,
//! straight into the logger's one line buffer: no buffer of its own, no
//! allocation.
//!
//! Objects of one priority start together, so a line is printed whole when
//! the start finishes (Epoch printed the first half before waiting).

use crate::config::{Config, StatusNames, StatusNamesSource, Text};
use crate::engine::object::Outcome;

pub const DEFAULT_STARTING: &str = "!TITLE! ... ";
pub const DEFAULT_FINISHED: &str = "!STATUS!";

#[derive(Debug, Clone)]
pub struct StatusFormat {
    starting: String,
    finished: String,
    names: StatusNames,
}

fn read_text(text: &Text, problems: &mut Vec<String>, what: &str) -> Option<String> {
    match text {
        Text::Literal(s) => Some(s.clone()),
        Text::File(path) => match crate::files::read_to_string(path) {
            Ok(s) => Some(s),
            Err(e) => {
                problems.push(format!("{what}: unable to read {}: {e}", path.display()));
                None
            }
        },
    }
}

impl StatusFormat {
    /// Resolves the configured formats; unreadable files fall back to the
    /// defaults with a problem reported.
    pub fn from_config(config: &Config, problems: &mut Vec<String>) -> Self {
        let g = &config.globals;
        let starting = g
            .starting_status_format
            .as_ref()
            .and_then(|t| read_text(t, problems, "StartingStatusFormat"))
            .unwrap_or_else(|| DEFAULT_STARTING.into());
        // Seed 003: a newline is appended unless the format came from a file.
        let finished = match &g.finished_status_format {
            Some(t @ Text::File(_)) => read_text(t, problems, "FinishedStatusFormat"),
            Some(Text::Literal(s)) => Some(format!("{s}\n")),
            None => None,
        }
        .unwrap_or_else(|| format!("{DEFAULT_FINISHED}\n"));
        let names = match &g.status_names {
            Some(StatusNamesSource::Inline(n)) => n.clone(),
            Some(StatusNamesSource::File(path)) => match crate::files::read_to_string(path) {
                Ok(s) => {
                    let mut lines = s.lines().map(|l| l.trim_ascii_end().to_string());
                    let d = StatusNames::default();
                    StatusNames {
                        fail: lines.next().unwrap_or(d.fail),
                        ok: lines.next().unwrap_or(d.ok),
                        warning: lines.next().unwrap_or(d.warning),
                    }
                }
                Err(e) => {
                    problems.push(format!("StatusNames: unable to read {}: {e}", path.display()));
                    StatusNames::default()
                }
            },
            None => StatusNames::default(),
        };
        StatusFormat { starting, finished, names }
    }

    /// One complete line of object `description`: `verb` is "Starting" or
    /// "Stopping"; with RAWDESCRIPTION (`raw`) the description is the title as is.
    pub fn line<'a>(&'a self, verb: &'a str, description: &'a str, raw: bool, outcome: Outcome) -> StatusLine<'a> {
        let status = match outcome {
            Outcome::Done => &self.names.ok,
            Outcome::Warn => &self.names.warning,
            Outcome::Fail => &self.names.fail,
        };
        StatusLine { format: self, verb, description, raw, status, trimmed: false }
    }
}

/// A status line as it is written (`Display`): the formats expanded piece by
/// piece into whatever it is written to.
#[derive(Clone, Copy)]
pub struct StatusLine<'a> {
    format: &'a StatusFormat,
    verb: &'a str,
    description: &'a str,
    raw: bool,
    status: &'a str,
    trimmed: bool,
}

impl StatusLine<'_> {
    /// The line without the blanks and the newline at its end: the message
    /// of a log line, which ends in a newline of its own.
    pub fn trimmed(self) -> Self {
        StatusLine { trimmed: true, ..self }
    }

    /// Each piece of the line in order: the formats' text between their
    /// `!TITLE!` and `!STATUS!`, and what those stand for.
    fn pieces(&self, each: &mut dyn FnMut(&str) -> core::fmt::Result) -> core::fmt::Result {
        for (template, status) in [(&self.format.starting, ""), (&self.format.finished, self.status)] {
            let mut rest = template.as_str();
            while let Some((text, after)) = rest.split_once('!') {
                each(text)?;
                if let Some(tail) = after.strip_prefix("TITLE!") {
                    if !self.raw {
                        each(self.verb)?;
                        each(" ")?;
                    }
                    each(self.description)?;
                    rest = tail;
                } else if let Some(tail) = after.strip_prefix("STATUS!") {
                    each(status)?;
                    rest = tail;
                } else {
                    each("!")?;
                    rest = after;
                }
            }
            each(rest)?;
        }
        Ok(())
    }
}

impl core::fmt::Display for StatusLine<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        if !self.trimmed {
            return self.pieces(&mut |piece| f.write_str(piece));
        }
        // Where the last character that is not blank ends, then the pieces
        // up to there.
        let (mut at, mut end) = (0, 0);
        self.pieces(&mut |piece| {
            let kept = piece.trim_ascii_end();
            if !kept.is_empty() {
                end = at + kept.len();
            }
            at += piece.len();
            Ok(())
        })?;
        at = 0;
        self.pieces(&mut |piece| {
            let take = piece.len().min(end.saturating_sub(at));
            at += piece.len();
            f.write_str(piece.get(..take).unwrap_or_default())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_line_reads_like_epoch() {
        let f = StatusFormat::from_config(&Config::default(), &mut Vec::new());
        assert_eq!(f.line("Starting", "demo IOC", false, Outcome::Done).to_string(), "Starting demo IOC ... Done\n");
        assert_eq!(f.line("Stopping", "Configuring net", true, Outcome::Fail).to_string(), "Configuring net ... FAIL\n");
    }

    #[test]
    fn custom_formats_and_names() {
        let mut c = Config::default();
        c.globals.starting_status_format = Some(Text::Literal(" * [!TITLE!] ".into()));
        c.globals.finished_status_format = Some(Text::Literal("<!STATUS!> !x".into()));
        c.globals.status_names =
            Some(StatusNamesSource::Inline(StatusNames { fail: "no".into(), ok: "yes".into(), warning: "hmm".into() }));
        let f = StatusFormat::from_config(&c, &mut Vec::new());
        assert_eq!(f.line("Starting", "MyService", false, Outcome::Warn).to_string(), " * [Starting MyService] <hmm> !x\n");
    }

    #[test]
    fn a_trimmed_line_ends_at_its_last_character_that_is_not_blank() {
        let mut c = Config::default();
        c.globals.starting_status_format = Some(Text::Literal("[!TITLE!]  ".into()));
        c.globals.finished_status_format = Some(Text::File("/nonexistent/finished".into()));
        let f = StatusFormat::from_config(&c, &mut Vec::new());
        let line = f.line("Starting", "é ", false, Outcome::Done);
        assert_eq!(line.to_string(), "[Starting é ]  Done\n");
        assert_eq!(line.trimmed().to_string(), "[Starting é ]  Done");
        let blank = StatusFormat { starting: " ".into(), finished: "!STATUS! \n".into(), names: StatusNames::default() };
        assert_eq!(blank.line("Starting", "x", false, Outcome::Done).trimmed().to_string(), " Done");
        assert_eq!(blank.line("Starting", "x", false, Outcome::Warn).to_string(), " WARN \n");
        let nothing = StatusFormat { starting: String::new(), finished: " \n".into(), names: StatusNames::default() };
        assert_eq!(nothing.line("Starting", "x", false, Outcome::Done).trimmed().to_string(), "");
    }
}
