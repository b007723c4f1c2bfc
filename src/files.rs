//! Whole files read into memory: every read of a file to its end by path
//! (the configuration's files, /proc's, the IOC tool's) goes through here.
//!
//! Why not `std::fs::read` and `read_to_string`: they read through std's
//! loop for `File`, a second instance of it beside the one for
//! `Take<&mut File>` that the capped reads (IOC files, /etc/passwd, the log
//! follower) and /proc/net/unix's need; with `fs::read_to_string`'s own
//! wrapper, about 850 bytes of armv7 code. These read as they did: room for
//! the whole file reserved once from its size, a failed reservation an
//! error, not an abort (none for /proc's files, which have no size; they
//! grow as std's did), the same errors.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

/// The bytes of the file at PATH, as `std::fs::read` gives them.
pub fn read(path: &Path) -> io::Result<Vec<u8>> {
    let mut file = File::open(path)?;
    let mut bytes = Vec::new();
    bytes.try_reserve_exact(size_of(&file))?;
    (&mut file).take(u64::MAX).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// The text of the file at PATH, as `std::fs::read_to_string` gives it
/// (an `InvalidData` error when it is not UTF-8).
pub fn read_to_string(path: &Path) -> io::Result<String> {
    text_of(&mut File::open(path)?)
}

/// The text of FILE to its end, as `File::read_to_string` reads it from its
/// start (the re-executed image's handed-over state).
pub fn text_of(file: &mut File) -> io::Result<String> {
    let mut text = String::new();
    text.try_reserve_exact(size_of(file))?;
    file.take(u64::MAX).read_to_string(&mut text)?;
    Ok(text)
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
        let dir = std::env::temp_dir().join(format!("iocinit-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let text = dir.join("text");
        std::fs::write(&text, "one\ntwo\n").unwrap();
        let bad = dir.join("bad");
        std::fs::write(&bad, b"\xff\xfe").unwrap();
        // Each error as std words it; the same bytes and text.
        for path in [&text, &bad, &dir.join("missing"), &dir] {
            assert_eq!(read(path).map_err(|e| e.to_string()), std::fs::read(path).map_err(|e| e.to_string()), "{path:?}");
            assert_eq!(read_to_string(path).map_err(|e| e.to_string()), std::fs::read_to_string(path).map_err(|e| e.to_string()), "{path:?}");
        }
        // A /proc file says its size is 0: read to its end all the same.
        assert!(read_to_string(Path::new("/proc/self/status")).unwrap().ends_with('\n'));
        assert!(read(Path::new("/proc/self/stat")).unwrap().len() > 64);
        assert_eq!(read(&text).unwrap().capacity(), 8, "room allocated once, from the size");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
