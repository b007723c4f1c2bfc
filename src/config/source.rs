//! Where configuration files come from: the real filesystem, or (for tests,
//! fuzzing and benchmarks) an in-memory set of files. The parsers never touch
//! the filesystem themselves.
//!
//! IOC files sit in a directory the IOC group may write, and PID 1 (root)
//! reads them: [`FileSource::read_ioc`] opens one without following a
//! symlink, without blocking (a FIFO), only as a regular file of at most
//! [`IOC_FILE_MAX`] bytes, and says whether the file may choose the user its
//! IOC runs as (root owns it and nobody else may write it); the directory is
//! listed only up to [`MAX_DIR_ENTRIES`] names.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::io;
use std::path::{Component, Path, PathBuf};

/// The largest IOC file read (a real one is a few hundred bytes).
pub const IOC_FILE_MAX: u64 = 64 << 10;

/// The most entries [`RealFs`] lists of a directory (see `list_dir`).
pub const MAX_DIR_ENTRIES: usize = 4096;

/// An IOC file as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IocFileBytes {
    pub bytes: Vec<u8>,
    /// Root owns the file, it has one link, and neither its group nor others
    /// may write it: its IOC_USER/IOC_GROUP are honoured (docs/CONFIG.md).
    pub may_choose_credentials: bool,
}

/// Read access to configuration files.
pub trait FileSource {
    /// The whole content of a file.
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;

    /// The names of the entries of a directory (any order); `NotFound` when
    /// the directory does not exist.
    fn list_dir(&self, dir: &Path) -> io::Result<Vec<OsString>>;

    /// An IOC file. `Err` holds why it is not read, as a diagnostic message
    /// that quotes nothing of the file.
    fn read_ioc(&self, path: &Path) -> Result<IocFileBytes, String>;

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
        crate::files::read(path)
    }

    /// A directory of more than [`MAX_DIR_ENTRIES`] entries is an error: the
    /// IOC group writes the IOC directory, and PID 1 must not hold every name
    /// someone put there.
    fn list_dir(&self, dir: &Path) -> io::Result<Vec<OsString>> {
        let names: Vec<OsString> =
            std::fs::read_dir(dir)?.take(MAX_DIR_ENTRIES + 1).map(|entry| entry.map(|e| e.file_name())).collect::<io::Result<_>>()?;
        if names.len() > MAX_DIR_ENTRIES {
            return Err(crate::logging::io_error(io::ErrorKind::Other, format!("more than {MAX_DIR_ENTRIES} entries: expected a few IOC files")));
        }
        Ok(names)
    }

    fn read_ioc(&self, path: &Path) -> Result<IocFileBytes, String> {
        use crate::files::Refused;
        use std::os::unix::fs::MetadataExt;
        // Never through a symlink (O_NOFOLLOW); a FIFO, a device or a
        // runaway file refused before it is read (`files::read_regular`).
        let (bytes, meta) = crate::files::read_regular(path, libc::O_NOFOLLOW, IOC_FILE_MAX).map_err(|refused| match refused {
            Refused::Open(e) if e.raw_os_error() == Some(libc::ELOOP) => "a symbolic link: expected a regular file".to_string(),
            Refused::Open(e) => format!("cannot open the IOC file: {e}"),
            Refused::Stat(e) => format!("cannot stat the IOC file: {e}"),
            Refused::NotRegular(kind) => format!("not a regular file ({}): expected an IOC file", file_kind(&kind)),
            Refused::TooLarge => too_large(),
            Refused::Read(e) => format!("cannot read the IOC file: {e}"),
        })?;
        let closed = meta.mode() & 0o022 == 0;
        Ok(IocFileBytes { bytes, may_choose_credentials: meta.uid() == 0 && meta.nlink() == 1 && closed })
    }

    /// Symlinks resolved, so a cycle through a symlink is still a cycle.
    fn identity(&self, path: &Path) -> PathBuf {
        crate::files::canonical(path).unwrap_or_else(|_| normalize(path))
    }
}

fn too_large() -> String {
    format!("larger than {} KiB: expected an IOC file of a few lines", IOC_FILE_MAX >> 10)
}

fn file_kind(kind: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "of another type"
    }
}

/// Files held in memory, by path. IOC files among them may choose their
/// credentials unless added with [`MemFs::with_untrusted`].
///
/// Keyed by the normalised path's bytes, which are equal exactly when the
/// paths are: a look-up compares bytes, not `Path`'s components one by one
/// (the benchmark's IOC files spent a fifth of their load in this test
/// double's look-ups, which a board's [`RealFs`] does not make).
#[derive(Debug, Clone, Default)]
pub struct MemFs {
    files: BTreeMap<OsString, Vec<u8>>,
    untrusted: BTreeSet<OsString>,
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
        self.files.insert(normalize(&path.into()).into_os_string(), content.into());
    }

    /// Adds a file that, read as an IOC file, may not choose its credentials
    /// (as one a member of the IOC group wrote).
    pub fn with_untrusted(mut self, path: impl Into<PathBuf>, content: impl Into<Vec<u8>>) -> Self {
        let path = normalize(&path.into()).into_os_string();
        self.untrusted.insert(path.clone());
        self.insert(path, content);
        self
    }

    /// A file's content by a path already normalised.
    fn read_normalized(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.files.get(path.as_os_str()).cloned().ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
    }
}

impl FileSource for MemFs {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.read_normalized(&normalize(path))
    }

    fn list_dir(&self, dir: &Path) -> io::Result<Vec<OsString>> {
        let dir = normalize(dir);
        let names: Vec<OsString> = self
            .files
            .keys()
            .map(Path::new)
            .filter(|p| p.parent() == Some(dir.as_path()))
            .filter_map(|p| p.file_name().map(|n| n.to_os_string()))
            .collect();
        if names.is_empty() {
            return Err(io::ErrorKind::NotFound.into());
        }
        Ok(names)
    }

    /// The path is normalised once, for the look-up and the trust check.
    fn read_ioc(&self, path: &Path) -> Result<IocFileBytes, String> {
        let path = normalize(path);
        let bytes = self.read_normalized(&path).map_err(|e| format!("cannot read the IOC file: {e}"))?;
        if bytes.len() as u64 > IOC_FILE_MAX {
            return Err(too_large());
        }
        Ok(IocFileBytes { bytes, may_choose_credentials: !self.untrusted.contains(path.as_os_str()) })
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

    /// The IOC group writes the IOC directory: filling it with names (empty
    /// files, hard links with long names) must not make PID 1 hold them all.
    #[test]
    fn a_directory_is_listed_only_up_to_a_bound() {
        let dir = scratch("flood");
        for k in 0..MAX_DIR_ENTRIES {
            std::fs::File::create(dir.join(format!("{k}.tmp"))).unwrap();
        }
        assert_eq!(RealFs.list_dir(&dir).unwrap().len(), MAX_DIR_ENTRIES);
        std::fs::File::create(dir.join("one-more.tmp")).unwrap();
        match RealFs.list_dir(&dir) {
            Ok(names) => panic!("{} names listed", names.len()),
            Err(e) => assert!(e.to_string().contains(&format!("more than {MAX_DIR_ENTRIES} entries")), "{e}"),
        }
    }

    #[test]
    fn normalize_folds_dots() {
        assert_eq!(normalize(Path::new("/etc/epoch/./a/../b.conf")), Path::new("/etc/epoch/b.conf"));
        assert_eq!(normalize(Path::new("/../x")), Path::new("/x"));
        assert_eq!(normalize(Path::new("../../x")), Path::new("../../x"));
        assert_eq!(normalize(Path::new("a/../../x")), Path::new("../x"));
    }

    /// MemFs is keyed by the normalised path's bytes: any spelling of an
    /// IOC file's path finds it and whether it may choose its credentials.
    #[test]
    fn memfs_reads_an_ioc_file_by_any_spelling_of_its_path() {
        let fs = MemFs::new().with("/d/x/../a.conf", "a").with_untrusted("/d//b.conf", "b");
        let read = |path: &str| fs.read_ioc(Path::new(path)).map(|ioc| (ioc.bytes, ioc.may_choose_credentials));
        assert_eq!(read("/d/./a.conf"), Ok((b"a".to_vec(), true)));
        assert_eq!(read("/e/../d/b.conf"), Ok((b"b".to_vec(), false)));
        assert_eq!(read("/d/c.conf"), Err("cannot read the IOC file: entity not found".to_string()));
    }

    /// A fresh directory for RealFs tests.
    fn scratch(tag: &str) -> crate::scratch::ScratchDir {
        crate::scratch::ScratchDir::new(&format!("source-{tag}"))
    }

    #[test]
    fn an_ioc_file_is_read_only_as_a_small_regular_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = scratch("ioc");
        let file = dir.join("a.conf");
        std::fs::write(&file, "IOC_NAME=a\n").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let read = RealFs.read_ioc(&file).unwrap();
        assert_eq!(read.bytes, b"IOC_NAME=a\n");
        assert_eq!(read.may_choose_credentials, nix::unistd::geteuid().is_root(), "root's 0644 file may choose");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o664)).unwrap();
        assert!(!RealFs.read_ioc(&file).unwrap().may_choose_credentials, "a group-writable file may not");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::hard_link(&file, dir.join("b.conf")).unwrap();
        assert!(!RealFs.read_ioc(&file).unwrap().may_choose_credentials, "a file with two links may not");

        std::os::unix::fs::symlink(&file, dir.join("l.conf")).unwrap();
        assert_eq!(RealFs.read_ioc(&dir.join("l.conf")).unwrap_err(), "a symbolic link: expected a regular file");
        nix::unistd::mkfifo(&dir.join("f.conf"), nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        assert_eq!(RealFs.read_ioc(&dir.join("f.conf")).unwrap_err(), "not a regular file (a FIFO): expected an IOC file");
        std::fs::create_dir(dir.join("d.conf")).unwrap();
        assert_eq!(RealFs.read_ioc(&dir.join("d.conf")).unwrap_err(), "not a regular file (a directory): expected an IOC file");
        std::fs::write(dir.join("big.conf"), vec![b'#'; IOC_FILE_MAX as usize + 1]).unwrap();
        assert_eq!(RealFs.read_ioc(&dir.join("big.conf")).unwrap_err(), too_large());
        std::fs::write(dir.join("max.conf"), vec![b'#'; IOC_FILE_MAX as usize]).unwrap();
        assert_eq!(RealFs.read_ioc(&dir.join("max.conf")).unwrap().bytes.len(), IOC_FILE_MAX as usize);
    }

    #[test]
    fn memfs_reads_and_lists() {
        let fs = MemFs::new().with("/d/a.conf", "x").with("/d/sub/b", "y");
        assert_eq!(fs.read(Path::new("/d/./a.conf")).unwrap(), b"x");
        assert_eq!(fs.list_dir(Path::new("/d")).unwrap(), vec![OsString::from("a.conf")]);
        assert_eq!(fs.list_dir(Path::new("/nope")).unwrap_err().kind(), io::ErrorKind::NotFound);
    }
}
