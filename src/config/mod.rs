//! The configuration languages: Epoch's `epoch.conf` (with Imports) and
//! epics-ioc-runner's IOC files, parsed strictly into one [`Config`] model.
//!
//! Text in, model out: this module knows nothing of processes, sockets or the
//! CLI. Every problem is a [`Diagnostic`] naming `file:line`; all of them are
//! collected, never only the first.

pub mod diag;
pub mod model;

pub use diag::{Diagnostic, Severity};
pub use model::*;
