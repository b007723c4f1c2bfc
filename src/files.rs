//! Whole files read into memory: every read of a file to its end by path
//! (the configuration's files, /proc's, the IOC tool's) goes through here,
//! and the bounded reads of files that others may have put in place (an IOC
//! file, /etc/passwd and /etc/group), which PID 1 must not be parked or
//! bloated by.
//!
//! Why not `std::fs::read` and `read_to_string`: they read through std's
//! loop for `File`, a second instance of it beside the one for
//! `Take<&mut File>` that the capped reads (IOC files, /etc/passwd, the log
//! follower) and /proc/net/unix's need; with `fs::read_to_string`'s own
//! wrapper, about 850 bytes of armv7 code. These read as they did: room for
//! the whole file reserved once from its size, a failed reservation an
//! error, not an abort (none for /proc's files, which have no size; they
//! grow as std's did), the same errors.
//!
//! And a path resolved ([`canonical`]), as `std::fs::canonicalize` gives
//! it, without its C library's `realpath` (musl's walks the path link by
//! link: 944 bytes of armv7 code for three callers outside the loop).

use std::fs::{File, FileType, Metadata};
use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The bytes of the file at PATH, as `std::fs::read` gives them.
pub fn read(path: &Path) -> io::Result<Vec<u8>> {
    let mut file = crate::sys::open_file(path, libc::O_RDONLY, 0)?;
    let mut bytes = Vec::new();
    bytes.try_reserve_exact(size_of(&file))?;
    (&mut file).take(u64::MAX).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// The text of the file at PATH, as `std::fs::read_to_string` gives it
/// (an `InvalidData` error when it is not UTF-8).
pub fn read_to_string(path: &Path) -> io::Result<String> {
    text_of(&mut crate::sys::open_file(path, libc::O_RDONLY, 0)?)
}

/// The text of FILE to its end, as `File::read_to_string` reads it from its
/// start (the re-executed image's handed-over state).
pub fn text_of(file: &mut File) -> io::Result<String> {
    let mut text = String::new();
    text.try_reserve_exact(size_of(file))?;
    file.take(u64::MAX).read_to_string(&mut text)?;
    Ok(text)
}

/// Why [`read_regular`] read no file.
#[derive(Debug)]
pub enum Refused {
    /// It could not be opened (with `O_NOFOLLOW`, a symlink is `ELOOP`).
    Open(io::Error),
    /// Its metadata could not be read.
    Stat(io::Error),
    /// It is not a regular file, but this.
    NotRegular(FileType),
    /// It is larger than the bound, when opened or while read.
    TooLarge,
    Read(io::Error),
}

/// The bytes of PATH, a regular file of at most MAX bytes, and its
/// metadata. Opened non-blocking (opening a FIFO must not wait for a
/// writer), never as a controlling terminal, and with FLAGS (`O_NOFOLLOW`:
/// never through a symlink); what it is and its size are decided on the
/// opened file, which cannot be swapped, before a byte is read; and it is
/// read no further than the bound (a file that grows meanwhile).
/// ([`crate::sys::open_file`] adds `O_CLOEXEC`.)
pub fn read_regular(path: &Path, flags: libc::c_int, max: u64) -> Result<(Vec<u8>, Metadata), Refused> {
    let mut file = crate::sys::open_file(path, libc::O_RDONLY | libc::O_NONBLOCK | libc::O_NOCTTY | flags, 0).map_err(Refused::Open)?;
    let meta = file.metadata().map_err(Refused::Stat)?;
    if !meta.is_file() {
        return Err(Refused::NotRegular(meta.file_type()));
    }
    if meta.len() > max {
        return Err(Refused::TooLarge);
    }
    let mut bytes = Vec::new();
    bytes.try_reserve_exact(meta.len() as usize).map_err(|e| Refused::Read(e.into()))?;
    (&mut file).take(max + 1).read_to_end(&mut bytes).map_err(Refused::Read)?;
    if bytes.len() as u64 > max {
        return Err(Refused::TooLarge);
    }
    Ok((bytes, meta))
}

/// PATH absolute, with `.`, `..` and every symbolic link resolved, as
/// `std::fs::canonicalize` gives it: the name the kernel keeps for the file
/// once opened (`/proc/self/fd/N`), checked to be the same file's, as
/// musl's `realpath` did until 1.2. Opened with `O_PATH`: no permission
/// asked of the file itself, and a FIFO or a device is not opened. Without
/// /proc mounted, or where that name leads elsewhere (a file out of reach
/// of this root, a mount over it), an error (`ENOENT`).
pub fn canonical(path: &Path) -> io::Result<PathBuf> {
    let file = crate::sys::open_file(path, libc::O_RDONLY | libc::O_PATH, 0)?;
    let name = std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd()))?;
    let (opened, named) = (file.metadata()?, std::fs::metadata(&name)?);
    if (opened.dev(), opened.ino()) != (named.dev(), named.ino()) {
        return Err(io::Error::from_raw_os_error(libc::ENOENT));
    }
    Ok(name)
}

/// FILE's size as its metadata says, for the room to read it into.
fn size_of(file: &File) -> usize {
    file.metadata().map_or(0, |m| m.len() as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_as_std_reads() {
        let dir = crate::scratch::ScratchDir::new("files");
        let text = dir.join("text");
        std::fs::write(&text, "one\ntwo\n").unwrap();
        let bad = dir.join("bad");
        std::fs::write(&bad, b"\xff\xfe").unwrap();
        // Each error as std words it; the same bytes and text.
        for path in [&text, &bad, &dir.join("missing"), &dir.to_path_buf()] {
            assert_eq!(read(path).map_err(|e| e.to_string()), std::fs::read(path).map_err(|e| e.to_string()), "{path:?}");
            assert_eq!(read_to_string(path).map_err(|e| e.to_string()), std::fs::read_to_string(path).map_err(|e| e.to_string()), "{path:?}");
        }
        // A /proc file says its size is 0: read to its end all the same.
        assert!(read_to_string(Path::new("/proc/self/status")).unwrap().ends_with('\n'));
        assert!(read(Path::new("/proc/self/stat")).unwrap().len() > 64);
        assert_eq!(read(&text).unwrap().capacity(), 8, "room allocated once, from the size");
    }

    #[test]
    fn canonical_is_stds_canonicalize() {
        use std::os::unix::fs::symlink;
        let dir = crate::scratch::ScratchDir::new("canonical");
        std::fs::create_dir_all(dir.join("real/sub")).unwrap();
        std::fs::write(dir.join("real/file"), "").unwrap();
        symlink("real", dir.join("link")).unwrap();
        symlink(dir.join("real/sub"), dir.join("absolute")).unwrap();
        symlink("missing", dir.join("dangling")).unwrap();
        symlink("loop", dir.join("loop")).unwrap();
        nix::unistd::mkfifo(&dir.join("fifo"), nix::sys::stat::Mode::S_IRWXU).unwrap();
        let mut paths = vec![PathBuf::from("."), PathBuf::from("/"), dir.join("fifo")];
        for name in ["link", "link/", "link/file", "link/sub/..", "absolute/../file", "real/./sub", "dangling", "loop", "missing", "real/file/.."] {
            paths.push(dir.join(name));
        }
        // Each path named, or each error worded, as std's gives it (a
        // FIFO resolved without waiting for a writer).
        for path in &paths {
            assert_eq!(canonical(path).map_err(|e| e.to_string()), std::fs::canonicalize(path).map_err(|e| e.to_string()), "{path:?}");
        }
        assert_eq!(canonical(&dir.join("link/sub/..")).unwrap(), dir.canonicalize().unwrap().join("real"));
    }
}
