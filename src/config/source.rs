//! Where configuration files come from: the real filesystem, or (for tests,
//! fuzzing and benchmarks) an in-memory set of files. The parsers never touch
//! the filesystem themselves.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io;
use std::path::{Component, Path, PathBuf};

/// Read access to configuration files.
pub trait FileSource {
    /// The whole content of a file.
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;

    /// The names of the entries of a directory (any order); `NotFound` when
    /// the directory does not exist.
    fn list_dir(&self, dir: &Path) -> io::Result<Vec<OsString>>;

    /// A name that is the same for every path reaching the same file, to find
    /// Import cycles and files imported twice. Lexical by default.
    fn identity(&self, path: &Path) -> PathBuf {
        normalize(path)
    }
}

/// The real filesystem.
#[derive(Debug, Clone, Copy, Default)]
pub struct RealFs;

impl FileSource for RealFs {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        std::fs::read(path)
    }

    fn list_dir(&self, dir: &Path) -> io::Result<Vec<OsString>> {
        std::fs::read_dir(dir)?.map(|entry| entry.map(|e| e.file_name())).collect()
    }

    /// Symlinks resolved, so a cycle through a symlink is still a cycle.
    fn identity(&self, path: &Path) -> PathBuf {
        std::fs::canonicalize(path).unwrap_or_else(|_| normalize(path))
    }
}

/// Files held in memory, by path.
#[derive(Debug, Clone, Default)]
pub struct MemFs {
    files: BTreeMap<PathBuf, Vec<u8>>,
}

impl MemFs {
    pub fn new() -> Self {
        MemFs::default()
    }

    /// Adds (or replaces) a file; returns `self` for chaining.
    pub fn with(mut self, path: impl Into<PathBuf>, content: impl Into<Vec<u8>>) -> Self {
        self.insert(path, content);
        self
    }

    pub fn insert(&mut self, path: impl Into<PathBuf>, content: impl Into<Vec<u8>>) {
        self.files.insert(normalize(&path.into()), content.into());
    }
}

impl FileSource for MemFs {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.files.get(&normalize(path)).cloned().ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
    }

    fn list_dir(&self, dir: &Path) -> io::Result<Vec<OsString>> {
        let dir = normalize(dir);
        let names: Vec<OsString> = self
            .files
            .keys()
            .filter(|p| p.parent() == Some(dir.as_path()))
            .filter_map(|p| p.file_name().map(|n| n.to_os_string()))
            .collect();
        if names.is_empty() {
            return Err(io::ErrorKind::NotFound.into());
        }
        Ok(names)
    }
}

/// Removes `.` and folds `..` without touching the filesystem.
pub(crate) fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => match out.components().next_back() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                // `/..` is `/`; a relative path keeps its leading `..`s.
                Some(Component::RootDir | Component::Prefix(_)) => {}
                _ => out.push(".."),
            },
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_folds_dots() {
        assert_eq!(normalize(Path::new("/etc/epoch/./a/../b.conf")), Path::new("/etc/epoch/b.conf"));
        assert_eq!(normalize(Path::new("/../x")), Path::new("/x"));
        assert_eq!(normalize(Path::new("../../x")), Path::new("../../x"));
        assert_eq!(normalize(Path::new("a/../../x")), Path::new("../x"));
    }

    #[test]
    fn memfs_reads_and_lists() {
        let fs = MemFs::new().with("/d/a.conf", "x").with("/d/sub/b", "y");
        assert_eq!(fs.read(Path::new("/d/./a.conf")).unwrap(), b"x");
        assert_eq!(fs.list_dir(Path::new("/d")).unwrap(), vec![OsString::from("a.conf")]);
        assert_eq!(fs.list_dir(Path::new("/nope")).unwrap_err().kind(), io::ErrorKind::NotFound);
    }
}
