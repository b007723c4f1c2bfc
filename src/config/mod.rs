//! The configuration languages: Epoch's `epoch.conf` (with Imports) and
//! epics-ioc-runner's IOC files, parsed strictly into one [`Config`] model.
//!
//! Text in, model out: this module knows nothing of processes, sockets or the
//! CLI. Every problem is a [`Diagnostic`] naming `file:line`; all of them are
//! collected, never only the first. `docs/CONFIG.md` is the reference.
//!
//! ```
//! use iocinit::config::{load_with, LoadOptions, MemFs};
//! use std::path::Path;
//!
//! let files = MemFs::new().with(
//!     "/etc/epoch/epoch.conf",
//!     "DefaultRunlevel default\nObjectID sshd\nObjectStartCommand /usr/sbin/sshd\n\
//!      ObjectStartPriority 5\nObjectRunlevels default\n",
//! );
//! let loaded = load_with(&files, Path::new("/etc/epoch/epoch.conf"), &LoadOptions::default());
//! let config = loaded.config.expect("valid");
//! assert_eq!(config.objects[0].description, "sshd");
//! ```
//!
//! Errors in `epoch.conf` or its Imports make the whole configuration
//! unusable (`config` is `None`). An IOC file with errors is different: it is
//! reported (as errors, so `check-config` fails) and skipped, and the rest of
//! the board still gets its configuration, so one bad IOC file never stops a
//! board from booting. [`Loaded::has_errors`] tells whether anything at all
//! is wrong.
//!
//! The IOC directory is written by the IOC group: [`rescan_iocs_with`] reads
//! it again on its own, keeping what epoch.conf gave as it was loaded, so
//! that a rescan a group member asks for never applies root's unfinished
//! edit of epoch.conf.

pub mod diag;
pub mod dump;
pub mod iocfile;
pub mod model;
pub mod process;

mod attributes;
mod checks;
mod epoch;
mod ids;
mod lines;
mod names;
mod options;
mod shared;
mod source;
pub(crate) mod values;

use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

pub use diag::{Diagnostic, Severity};
pub use iocfile::valid_ioc_name;
pub use model::*;
pub use source::{FileSource, IocFileBytes, MemFs, RealFs, IOC_FILE_MAX};
pub use values::{parse_signal, valid_account_name};

/// How to load a configuration.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Accept only Epoch's own language: our extensions (Ioc* globals,
    /// PROCSERV, extra signal names) and a missing ObjectEnabled are errors.
    pub strict_epoch: bool,
    /// Overrides `IocDirectory`.
    pub ioc_dir: Option<PathBuf>,
}

/// The result of a load: the configuration when it is usable, and every
/// problem found.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// `Some` unless `epoch.conf` or one of its Imports has an error. Bad IOC
    /// files are skipped and do not make it `None`.
    pub config: Option<Config>,
    /// Errors and warnings, in the order found.
    pub diagnostics: Vec<Diagnostic>,
}

impl Loaded {
    /// Whether any error was found, including in skipped IOC files.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Loads `path` (normally `/etc/epoch/epoch.conf`), its Imports and the IOC
/// files from the real filesystem.
pub fn load(path: &Path, opts: &LoadOptions) -> Loaded {
    load_with(&RealFs, path, opts)
}

/// [`load`] from any [`FileSource`], e.g. a [`MemFs`] in tests.
pub fn load_with(source: &dyn FileSource, path: &Path, opts: &LoadOptions) -> Loaded {
    match source.read(path) {
        Ok(text) => load_text(source, path, text, opts),
        Err(e) => {
            let problem = Diagnostic::error(path, 0, format!("cannot read the configuration: {e}"));
            Loaded { config: None, diagnostics: vec![problem] }
        }
    }
}

/// What `iocinit --local` runs when it has no configuration file (as
/// epics-ioc-runner's local mode needs none): no objects, the runlevel
/// `default`; the IOC files are all there is.
pub const IOC_FILES_ONLY: &str = "DefaultRunlevel default\n";

/// [`load`] of [`IOC_FILES_ONLY`] in place of the missing file `path`,
/// with the IOC files of the real filesystem.
pub fn load_ioc_files_only(path: &Path, opts: &LoadOptions) -> Loaded {
    load_text(&RealFs, path, IOC_FILES_ONLY.as_bytes().to_vec(), opts)
}

/// The configuration `text`, read from `path`, with its Imports and the IOC
/// files from `source`.
fn load_text(source: &dyn FileSource, path: &Path, text: Vec<u8>, opts: &LoadOptions) -> Loaded {
    let epoch::Parsed { mut config, mut diagnostics, ioc_runlevels, declared, strings } = epoch::parse(source, path, text, opts.strict_epoch);
    let usable = !diagnostics.iter().any(Diagnostic::is_error);
    if let Some(dir) = &opts.ioc_dir {
        config.globals.ioc.directory = dir.clone();
    }
    if let Err(problem) = add_ioc_objects(source, &mut config, &ioc_runlevels, &declared, &mut diagnostics) {
        diagnostics.push(Diagnostic { message: format!("{}: no IOC is started", problem.message), ..problem });
    }
    config.finish_load(strings);
    Loaded { config: usable.then_some(config), diagnostics }
}

/// An IOC rescan: `config` (a configuration [without its IOC
/// files](Config::without_ioc_files)) with the IOC files read again. The
/// result has `config: None` only when the IOC directory cannot be listed:
/// the running IOCs then stay as they are.
pub fn rescan_iocs_with(source: &dyn FileSource, mut config: Config) -> Loaded {
    let mut diagnostics = Vec::new();
    let runlevels = config.globals.ioc_runlevels();
    let declared = ids::IdIndex::of(&config.objects);
    match add_ioc_objects(source, &mut config, &runlevels, &declared, &mut diagnostics) {
        Ok(()) => {
            // No parser counted these strings: packing sums them all.
            config.finish_load(CountedStrings::default());
            Loaded { config: Some(config), diagnostics }
        }
        Err(problem) => {
            diagnostics.push(problem);
            Loaded { config: None, diagnostics }
        }
    }
}

/// At most this many IOC files are read. The IOC group writes the
/// directory: thousands of files must not make PID 1 read, log and keep
/// objects until the board runs out of memory. A board runs a handful.
pub const MAX_IOC_FILES: usize = 256;

/// Reads every `*.conf` of the IOC directory, sorted by name (the first
/// [`MAX_IOC_FILES`] only), and adds an object per good file. `declared`:
/// the ObjectIDs of `config`. A missing directory means no IOCs; `Err` when
/// the directory cannot be listed.
fn add_ioc_objects(
    source: &dyn FileSource,
    config: &mut Config,
    runlevels: &[String],
    declared: &ids::IdIndex,
    diagnostics: &mut Vec<Diagnostic>,
) -> Result<(), Diagnostic> {
    let dir = config.globals.ioc.directory.clone();
    let mut names = match source.list_dir(&dir) {
        Ok(names) => names,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Diagnostic::error(&dir, 0, format!("cannot read the IOC directory: {e}"))),
    };
    // A directory's names are unique: an unstable sort orders them alike,
    // without a stable merge sort instance of its own for OsString.
    names.sort_unstable();
    let ioc = &config.globals.ioc;
    let start_priority =
        ioc.start_priority.unwrap_or_else(|| config.objects.iter().map(|o| o.start_priority).max().unwrap_or(0).saturating_add(1));
    let globals = iocfile::IocObjectGlobals { start_priority, stop_priority: ioc.stop_priority, enabled: ioc.enabled };
    // `*.conf`, as `Path::extension` finds it (a name `.conf` has none),
    // tested on the bytes: a name has no `/`.
    let conf_files = names.iter().filter(|n| n.len() > ".conf".len() && n.as_bytes().ends_with(b".conf"));
    let listed = conf_files.clone().count();
    let ignored = listed.saturating_sub(MAX_IOC_FILES);
    if ignored > 0 {
        let message = format!("{ignored} IOC file(s) after the first {MAX_IOC_FILES} (by name) are not read: expected at most {MAX_IOC_FILES}");
        diagnostics.push(Diagnostic::error(&dir, 0, message));
    }
    // Made once, then each object's list shares its text.
    let runlevels = Runlevels::from(runlevels.join(" ").as_str());
    // Room for every file read, once: the lists came sized at their
    // lengths, and a push would double them (10,000 objects: 2.4 MB more,
    // copied). A file refused gives its room back when the load is
    // finished (`Config::finish_load`).
    config.objects.reserve_exact(listed.min(MAX_IOC_FILES));
    config.files.reserve_exact(listed.min(MAX_IOC_FILES));
    for name in conf_files.take(MAX_IOC_FILES) {
        // Sized once (`join` copies the directory, then grows it).
        let mut path = PathBuf::with_capacity(dir.as_os_str().len() + 1 + name.len());
        path.push(&dir);
        path.push(name);
        // The file's text, and the IOC read from it.
        let mut text = String::new();
        let mut ioc = iocfile::ReadFile::default();
        let may_choose_credentials = match read_ioc_file(source, &path, &mut text, &mut ioc) {
            Ok((may_choose_credentials, warnings)) => {
                diagnostics.extend(warnings);
                may_choose_credentials
            }
            Err(problems) => {
                diagnostics.extend(problems);
                diagnostics.push(Diagnostic::warning(&path, 0, "this IOC is not started: the rest of the configuration is used without it"));
                continue;
            }
        };
        // Real-time scheduling and locked memory can take the board from
        // everything else: only a file that may choose its user may ask.
        if let Some((key, line)) = ioc.privileged_setting().filter(|_| !may_choose_credentials) {
            let message = format!(
                "{key}: a real-time priority, locked memory or a negative nice value may only be set by an IOC file that root owns \
                 and only root may write (docs/CONFIG.md, \"Who an IOC runs as\"); this IOC is not started"
            );
            diagnostics.push(Diagnostic::error(&path, line, message));
            continue;
        }
        let state_base = &config.globals.ioc.state_directory;
        if let Some(line) = ioc.state_directory_outside(state_base).filter(|_| !may_choose_credentials) {
            let message = format!(
                "IOC_STATE_DIR: expected a directory below IocStateDirectory {} (only an IOC file that root owns and only root \
                 may write may name another); this IOC is not started",
                state_base.display()
            );
            diagnostics.push(Diagnostic::error(&path, line, message));
            continue;
        }
        if let Some(first) = declared.find(ioc.name(), &config.objects).and_then(|k| config.objects.get(k)).map(|o| o.location) {
            let message = format!(
                "IOC {} has the name of the object declared at {}: expected a name no ObjectID uses; this IOC is not started",
                ioc.name(),
                place(&config.files, first)
            );
            diagnostics.push(Diagnostic::error(&path, 0, message));
            continue;
        }
        let file = config.files.len();
        config.objects.push(ioc.to_object(file, &globals, runlevels.clone(), may_choose_credentials));
        config.files.push(path);
    }
    Ok(())
}

/// `file:line` of a location, for messages that point elsewhere.
pub(crate) fn place(files: &[PathBuf], at: Location) -> String {
    let path = files.get(at.file).map(|p| p.display().to_string()).unwrap_or_default();
    format!("{path}:{}", at.line)
}

/// One IOC file, its text read into `text` and the IOC into `ioc`: whether
/// it may choose its credentials, its warnings.
fn read_ioc_file<'a>(
    source: &dyn FileSource,
    path: &'a Path,
    text: &'a mut String,
    ioc: &mut iocfile::ReadFile<'a>,
) -> Result<(bool, Vec<Diagnostic>), Vec<Diagnostic>> {
    let IocFileBytes { bytes, may_choose_credentials } = source.read_ioc(path).map_err(|message| vec![Diagnostic::error(path, 0, message)])?;
    *text = String::from_utf8(bytes).map_err(|e| {
        let before = e.as_bytes().get(..e.utf8_error().valid_up_to()).unwrap_or_default();
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        vec![Diagnostic::error(path, u32::try_from(line).unwrap_or(u32::MAX), "line is not valid UTF-8: expected text")]
    })?;
    let warnings = iocfile::read(path, text, ioc)?;
    Ok((may_choose_credentials, warnings))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    /// What PID 1 keeps of a configuration: the strings of every object, from
    /// epoch.conf, an Import and an IOC file alike, in one text (no heap
    /// string per value, no file's whole text kept for a few of its values).
    #[test]
    fn a_loaded_configuration_keeps_its_objects_strings_in_one_text() {
        let files = MemFs::new()
            .with(
                "/etc/epoch/epoch.conf",
                "DefaultRunlevel default\nObjectID a\nObjectStartCommand /bin/a\nObjectRunlevels default\nImport more.conf\n",
            )
            .with(
                "/etc/epoch/more.conf",
                "ObjectID b\nObjectDescription The b\nObjectStartCommand /bin/b\nObjectStopCommand PIDFILE /run/b.pid\n\
                 ObjectWorkingDirectory /srv\nObjectUser daemon\nObjectEnvVar X=1\nObjectStdout /var/log/b\nObjectRunlevels default\n",
            )
            .with("/etc/procServ.d/c.conf", "IOC_NAME=c\nIOC_CMD=./st.cmd\n");
        let loaded = load_with(&files, Path::new("/etc/epoch/epoch.conf"), &LoadOptions::default());
        assert_eq!(loaded.diagnostics, vec![]);
        let config = loaded.config.unwrap();
        let mut strings = Vec::new();
        config.objects.clone().iter_mut().for_each(|o| o.for_each_string(&mut |s| strings.push(s.clone())));
        assert_eq!(strings.len(), 3 * 4 + 5 + 1, "ID, description, start and runlevel of each, five more of b, the environment of c");
        assert!(strings.iter().all(|s| shared::same_text(s, &strings[0])), "{strings:?}");
        assert_eq!(config.objects[1].stop, StopMethod::PidFile(Some("/run/b.pid".into())));
        assert_eq!(config.objects[2].description, "IOC c");
        let console = config.objects[2].console.as_deref().unwrap();
        assert_eq!(console.environment().collect::<Vec<_>>(), ["IOC_NAME=c", "IOC_CMD=./st.cmd"]);
    }

    /// PID 1 keeps every object's runlevels: as a range of the one text of
    /// the configuration's strings, not a list of its own.
    #[test]
    fn the_runlevels_are_a_range_of_the_one_text() {
        let files = MemFs::new()
            .with(
                "/etc/epoch/epoch.conf",
                "DefaultRunlevel default\nIocRunlevels default b\nObjectID a\nObjectStartCommand /bin/a\nObjectRunlevels default\n\
                 ObjectID b\nObjectStartCommand /bin/b\nObjectRunlevels default b c d e\n",
            )
            .with("/etc/procServ.d/c.conf", "IOC_NAME=c\nIOC_CMD=./st.cmd\n");
        let config = load_with(&files, Path::new("/etc/epoch/epoch.conf"), &LoadOptions::default()).config.unwrap();
        let names: Vec<Vec<&str>> = config.objects.iter().map(|o| o.runlevels.iter().collect()).collect();
        assert_eq!(names, [vec!["default"], vec!["default", "b", "c", "d", "e"], vec!["default", "b"]]);
        assert!(config.objects.iter().all(|o| shared::same_text(&o.runlevels.0, &config.objects[0].id)));
    }

    /// The IOC files are the directory's `*.conf` as `Path::extension`
    /// names it (tested on the names' bytes): `.conf` alone has none.
    #[test]
    fn only_names_with_the_conf_extension_are_ioc_files() {
        let files = MemFs::new()
            .with("/etc/epoch/epoch.conf", "DefaultRunlevel default\n")
            .with("/etc/procServ.d/a.conf", "IOC_NAME=a\nIOC_CMD=./st.cmd\n")
            .with("/etc/procServ.d/.conf", "IOC_CMD=./st.cmd\n")
            .with("/etc/procServ.d/..conf", "IOC_CMD=./st.cmd\n")
            .with("/etc/procServ.d/b.conf.bak", "IOC_CMD=./st.cmd\n")
            .with("/etc/procServ.d/cconf", "IOC_CMD=./st.cmd\n");
        let names: Vec<bool> =
            ["a.conf", ".conf", "..conf", "b.conf.bak", "cconf"].iter().map(|n| Path::new(n).extension() == Some(OsStr::new("conf"))).collect();
        assert_eq!(names, [true, false, true, false, false]);
        let loaded = load_with(&files, Path::new("/etc/epoch/epoch.conf"), &LoadOptions::default());
        // `..conf` is read and refused (its name is no IOC name), the others not read.
        let mut refused: Vec<String> = loaded.diagnostics.iter().map(|d| d.path.display().to_string()).collect();
        refused.dedup();
        assert_eq!(refused, ["/etc/procServ.d/..conf"]);
        let objects: Vec<&str> = loaded.config.as_ref().unwrap().objects.iter().map(|o| o.id.as_str()).collect();
        assert_eq!(objects, ["a"]);
    }

    /// PID 1 keeps the object table a load grew by doubling: no room for
    /// objects it does not have, after a load and after a rescan.
    #[test]
    fn the_object_and_file_tables_are_sized_exactly() {
        let mut conf = String::from("DefaultRunlevel default\nImport more.conf\n");
        for k in 0..36 {
            conf.push_str(&format!("ObjectID s{k}\nObjectStartCommand /bin/s\nObjectRunlevels default\n"));
        }
        let files = MemFs::new()
            .with("/etc/epoch/epoch.conf", conf)
            .with("/etc/epoch/more.conf", "ObjectID m\nObjectStartCommand /bin/m\n")
            .with("/etc/procServ.d/c.conf", "IOC_NAME=c\nIOC_CMD=./st.cmd\n")
            .with("/etc/procServ.d/d.conf", "IOC_NAME=d\nIOC_CMD=./st.cmd\n");
        let config = load_with(&files, Path::new("/etc/epoch/epoch.conf"), &LoadOptions::default()).config.unwrap();
        let sizes = |c: &Config| (c.objects.len(), c.objects.capacity(), c.files.len(), c.files.capacity());
        assert_eq!(sizes(&config), (39, 39, 4, 4));
        let rescanned = rescan_iocs_with(&files, config.without_ioc_files()).config.unwrap();
        assert_eq!(sizes(&rescanned), (39, 39, 4, 4));
    }
}
