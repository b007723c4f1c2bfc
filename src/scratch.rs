//! The unit tests' scratch directories under the system's temporary
//! directory. Test code only: nothing of the shipped binary.

use std::path::{Path, PathBuf};

/// A fresh, empty directory for one unit test, unique to the call (tests
/// of one tag run in parallel threads of one process), removed when
/// dropped. What a run before left under the same name is removed first:
/// a test that failed half-way leaves its directory, and a later run whose
/// process has the same pid (pids are reused) must not trip over it (a
/// FIFO's `mkfifo` failed with EEXIST).
pub(crate) struct ScratchDir(PathBuf);

impl ScratchDir {
    pub(crate) fn new(tag: &str) -> ScratchDir {
        static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("iocinit-{tag}-{}-{call}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        ScratchDir(dir)
    }
}

impl std::ops::Deref for ScratchDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for ScratchDir {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::ScratchDir;

    /// Directories left under the names the next calls take (a run before
    /// whose process had this pid), each with a file in it, are emptied;
    /// a directory goes when dropped.
    #[test]
    fn a_leftover_of_an_earlier_run_is_removed() {
        let first = ScratchDir::new("scratch");
        let call_of = |dir: &std::path::Path| -> usize { dir.to_str().unwrap().rsplit('-').next().unwrap().parse().unwrap() };
        let call = call_of(&first);
        // Tests in other threads may take some of the next names: plant many.
        let planted: Vec<_> = (call + 1..=call + 64)
            .map(|n| first.with_file_name(format!("iocinit-scratch-{}-{n}", std::process::id())))
            .collect();
        for dir in &planted {
            std::fs::create_dir_all(dir).unwrap();
            std::fs::write(dir.join("left"), "").unwrap();
        }
        let second = ScratchDir::new("scratch");
        assert!(planted.iter().any(|p| p.as_path() == &*second), "{}", second.display());
        assert_eq!(std::fs::read_dir(&second).unwrap().count(), 0, "the leftover is gone");
        let paths = [first.to_path_buf(), second.to_path_buf()];
        drop((first, second));
        assert!(paths.iter().all(|p| !p.exists()), "removed when dropped");
        planted.iter().for_each(|p| drop(std::fs::remove_dir_all(p)));
    }
}
