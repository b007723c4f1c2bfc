//! `iocinit check-config [--config PATH] [--ioc-dir PATH] [--strict-epoch] [--json]`:
//! loads the configuration as PID 1 would and reports every problem.
//!
//! Exit status 0 when there is no error (warnings allowed), 1 otherwise, also
//! when only an IOC file is bad (PID 1 would still boot the rest). Problems go
//! to stderr as `PATH:LINE: message` / `PATH:LINE: warning: message`; `--json`
//! prints the resolved model (or, when it is unusable, only the diagnostics)
//! to stdout.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use argh::FromArgs;

use crate::config::{dump, load, LoadOptions, Loaded};

/// Check a configuration (epoch.conf, its Imports and the IOC files) as PID 1
/// would load it, and report every problem.
#[derive(FromArgs)]
struct Args {
    /// the configuration file (default /etc/epoch/epoch.conf; under --local
    /// ~/.config/iocinit/epoch.conf)
    #[argh(option)]
    config: Option<PathBuf>,
    /// read the IOC files from this directory instead of IocDirectory
    #[argh(option)]
    ioc_dir: Option<PathBuf>,
    /// accept only Epoch's own language (reject iocinit's extensions)
    #[argh(switch)]
    strict_epoch: bool,
    /// print the resolved model as JSON
    #[argh(switch, short = 'j')]
    json: bool,
    /// use the --local defaults
    #[argh(switch)]
    local: bool,
}

/// `iocinit check-config ...`
pub fn main(args: Vec<String>) -> i32 {
    let a: Args = match super::parse("iocinit check-config", &args) {
        Ok(a) => a,
        Err(code) => return code,
    };
    let layout = if a.local { crate::layout::Layout::local() } else { crate::layout::Layout::system() };
    let config = a.config.unwrap_or_else(|| layout.default_config.clone());
    let ioc_dir = a.ioc_dir.or(layout.local_ioc_dir);
    run(&config, ioc_dir.as_deref(), a.strict_epoch, a.json)
}

pub fn run(config: &Path, ioc_dir: Option<&Path>, strict_epoch: bool, json: bool) -> i32 {
    let options = LoadOptions { strict_epoch, ioc_dir: ioc_dir.map(Path::to_path_buf) };
    let loaded = load(config, &options);
    report(&loaded, json, &mut io::stdout().lock(), &mut io::stderr().lock())
}

/// Writes the outcome of a load; returns the exit status. Write errors (a
/// closed pipe) are ignored: the exit status still tells the outcome.
pub fn report(loaded: &Loaded, json: bool, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    for diagnostic in &loaded.diagnostics {
        let _ = writeln!(err, "{diagnostic}");
    }
    if json {
        let document = match &loaded.config {
            Some(config) => dump::to_json(config, &loaded.diagnostics),
            None => dump::diagnostics_to_json(&loaded.diagnostics),
        };
        let _ = writeln!(out, "{document}");
    }
    i32::from(loaded.has_errors())
}
