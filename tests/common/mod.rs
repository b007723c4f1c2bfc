//! Helpers shared by the configuration tests: load text from memory and
//! look at the diagnostics as `file:line: message` strings.
#![allow(dead_code)] // each test file uses a different part

use std::path::Path;

use iocinit::config::{load_with, Config, LoadOptions, Loaded, MemFs};

pub const MAIN: &str = "/etc/epoch/epoch.conf";

/// Loads `files` (path, text), the first one being the main configuration.
pub fn load_files_with(files: &[(&str, &str)], options: &LoadOptions) -> Loaded {
    let mut fs = MemFs::new();
    for (path, text) in files {
        fs.insert(*path, text.as_bytes());
    }
    load_with(&fs, Path::new(files[0].0), options)
}

pub fn load_files(files: &[(&str, &str)]) -> Loaded {
    load_files_with(files, &LoadOptions::default())
}

pub fn load(text: &str) -> Loaded {
    load_files(&[(MAIN, text)])
}

pub fn load_strict(text: &str) -> Loaded {
    load_files_with(&[(MAIN, text)], &LoadOptions { strict_epoch: true, ioc_dir: None })
}

fn render(loaded: &Loaded, errors: bool) -> Vec<String> {
    loaded
        .diagnostics
        .iter()
        .filter(|d| d.is_error() == errors)
        .map(|d| format!("{}:{}: {}", d.path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default(), d.line, d.message))
        .collect()
}

/// `name:line: message` of every error (file name only, not the whole path).
pub fn errors(loaded: &Loaded) -> Vec<String> {
    render(loaded, true)
}

pub fn warnings(loaded: &Loaded) -> Vec<String> {
    render(loaded, false)
}

/// The configuration of a text that must be valid (warnings allowed).
pub fn valid(text: &str) -> Config {
    let loaded = load(text);
    assert!(errors(&loaded).is_empty(), "unexpected errors: {:#?}", errors(&loaded));
    loaded.config.expect("a valid configuration")
}

/// Asserts exactly one error, at `file:line`, whose message contains `part`.
#[track_caller]
pub fn assert_one_error(loaded: &Loaded, at: &str, part: &str) {
    let errors = errors(loaded);
    assert_eq!(errors.len(), 1, "expected one error at {at} containing {part:?}, got {errors:#?}");
    assert!(errors[0].starts_with(&format!("{at}: ")), "expected the error at {at}: {}", errors[0]);
    assert!(errors[0].contains(part), "expected {part:?} in {}", errors[0]);
    assert!(loaded.config.is_none(), "an error must make the configuration unusable");
}

/// A valid configuration: the default runlevel `default` and these lines after it.
pub fn with_prelude(body: &str) -> String {
    format!("DefaultRunlevel default\n{body}")
}

/// A minimal valid object in runlevel `default`.
pub fn object(id: &str) -> String {
    format!("ObjectID {id}\nObjectStartCommand /bin/{id}\nObjectStartPriority 1\nObjectRunlevels default\n")
}

/// A fresh, empty directory under the system temp dir, removed when dropped.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        use std::sync::atomic::{AtomicU32, Ordering};
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("iocinit-test-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    /// Writes `relative` (creating its directories) and returns its path.
    pub fn write(&self, relative: &str, text: &str) -> std::path::PathBuf {
        let path = self.0.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    pub fn path(&self, relative: &str) -> std::path::PathBuf {
        self.0.join(relative)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
