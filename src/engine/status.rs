//! Boot and shutdown status lines, `<title> ... Done|FAIL|WARN`, in the
//! formats of Epoch's `StartingStatusFormat`, `FinishedStatusFormat` and
//! `StatusNames`. The formats are resolved (files read) when a configuration
//! loads; a line is expanded into a fixed buffer without allocating.
//!
//! Objects of one priority start together, so a line is printed whole when
//! the start finishes (Epoch printed the first half before waiting).

use crate::config::{Config, StatusNames, StatusNamesSource, Text};
use crate::engine::object::Outcome;
use crate::sys::FixedBuf;

pub const DEFAULT_STARTING: &str = "!TITLE! ... ";
pub const DEFAULT_FINISHED: &str = "!STATUS!";

#[derive(Debug, Clone)]
pub struct StatusFormat {
    starting: String,
    finished: String,
    names: StatusNames,
}

pub type Line = FixedBuf<768>;

fn read_text(text: &Text, problems: &mut Vec<String>, what: &str) -> Option<String> {
    match text {
        Text::Literal(s) => Some(s.clone()),
        Text::File(path) => match std::fs::read_to_string(path) {
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
            Some(StatusNamesSource::File(path)) => match std::fs::read_to_string(path) {
                Ok(s) => {
                    let mut lines = s.lines().map(|l| l.trim_end().to_string());
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

    /// Expands one complete line. `verb` is "Starting" or "Stopping"; with
    /// RAWDESCRIPTION the description is the title as is.
    pub fn line(&self, line: &mut Line, verb: &str, description: &str, raw: bool, outcome: Outcome) {
        let status = match outcome {
            Outcome::Done => &self.names.ok,
            Outcome::Warn => &self.names.warning,
            Outcome::Fail => &self.names.fail,
        };
        line.clear();
        for (template, value) in [(&self.starting, ""), (&self.finished, status.as_str())] {
            expand(line, template, verb, description, raw, value);
        }
    }
}

fn expand(line: &mut Line, template: &str, verb: &str, description: &str, raw: bool, status: &str) {
    let mut rest = template;
    while let Some(pos) = rest.find('!') {
        line.push(&rest.as_bytes()[..pos]);
        let after = &rest[pos..];
        if let Some(tail) = after.strip_prefix("!TITLE!") {
            if !raw {
                line.push(verb.as_bytes());
                line.push(b" ");
            }
            line.push(description.as_bytes());
            rest = tail;
        } else if let Some(tail) = after.strip_prefix("!STATUS!") {
            line.push(status.as_bytes());
            rest = tail;
        } else {
            line.push(b"!");
            rest = &after[1..];
        }
    }
    line.push(rest.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(line: &Line) -> &str {
        std::str::from_utf8(line.as_bytes()).unwrap()
    }

    #[test]
    fn default_line_reads_like_epoch() {
        let f = StatusFormat::from_config(&Config::default(), &mut Vec::new());
        let mut line = Line::new();
        f.line(&mut line, "Starting", "demo IOC", false, Outcome::Done);
        assert_eq!(text(&line), "Starting demo IOC ... Done\n");
        f.line(&mut line, "Stopping", "Configuring net", true, Outcome::Fail);
        assert_eq!(text(&line), "Configuring net ... FAIL\n");
    }

    #[test]
    fn custom_formats_and_names() {
        let mut c = Config::default();
        c.globals.starting_status_format = Some(Text::Literal(" * [!TITLE!] ".into()));
        c.globals.finished_status_format = Some(Text::Literal("<!STATUS!> !x".into()));
        c.globals.status_names =
            Some(StatusNamesSource::Inline(StatusNames { fail: "no".into(), ok: "yes".into(), warning: "hmm".into() }));
        let f = StatusFormat::from_config(&c, &mut Vec::new());
        let mut line = Line::new();
        f.line(&mut line, "Starting", "MyService", false, Outcome::Warn);
        assert_eq!(text(&line), " * [Starting MyService] <hmm> !x\n");
    }
}
