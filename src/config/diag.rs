//! Diagnostics of the configuration languages: `PATH:LINE: message` errors and
//! `PATH:LINE: warning: message` warnings, collected (never the first only).

use std::fmt;
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub path: PathBuf,
    /// 1-based; 0 when the problem concerns the whole file (e.g. unreadable).
    pub line: u32,
    pub severity: Severity,
    pub message: String,
}

impl Diagnostic {
    pub fn error(path: impl Into<PathBuf>, line: u32, message: impl Into<String>) -> Self {
        Diagnostic { path: path.into(), line, severity: Severity::Error, message: message.into() }
    }

    pub fn warning(path: impl Into<PathBuf>, line: u32, message: impl Into<String>) -> Self {
        Diagnostic { path: path.into(), line, severity: Severity::Warning, message: message.into() }
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: ", self.path.display(), self.line)?;
        if self.severity == Severity::Warning {
            f.write_str("warning: ")?;
        }
        f.write_str(&self.message)
    }
}
