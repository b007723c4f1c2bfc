//! State directories (`IOC_STATE_DIR`, extension): a directory the IOC's
//! user owns, made before each start and kept across restarts (autosave
//! files live there).
//!
//! Root makes the directory and gives it away, in a directory tree that the
//! IOC group may partly write, from a path that the IOC group wrote: so the
//! walk never follows a symbolic link (each step is an `openat` with
//! O_NOFOLLOW from the directory opened before it, so a component swapped
//! under it cannot redirect it), refuses a parent that someone other than
//! root or the IOC's user owns or that others may write without the sticky
//! bit (they could swap what is in it), and gives away only a directory it has just made itself
//! (root's, found by `fstat` on the descriptor it made it through). An
//! existing directory must already be the IOC user's; anything else is
//! refused and left alone.
//!
//! A path lookup cannot be made non-blocking, and the path may be on a
//! network filesystem: the work runs in a process of its own, iocinit
//! exec'd as [`APPLET`] (`iocinit-statedir DIR UID GID`) through
//! `/proc/self/exe`, which the engine starts and waits for as it does a
//! prestart command. Its exit status says what went wrong ([`reason`]).

use std::ffi::{CStr, CString, OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::errno::Errno;
use nix::sys::stat::{fstat, fstatat, mkdirat, Mode};

use crate::sys::Fd;

/// The name iocinit is exec'd under to make a state directory.
pub const APPLET: &CStr = c"iocinit-statedir";

/// What the applet is exec'd through.
pub const EXE: &str = "/proc/self/exe";

/// Exit statuses for refusals (below them: the errno of a failed call).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Refusal {
    Usage = 240,
    /// A component is a symbolic link.
    Symlink = 241,
    /// A component is not a directory.
    NotDirectory = 242,
    /// A parent belongs to someone other than root or the IOC's user.
    ParentOwner = 243,
    /// A parent may be written by its group or others.
    ParentWritable = 244,
    /// The directory exists and is not the IOC user's.
    OtherOwner = 245,
}

const REFUSALS: [(Refusal, &str); 6] = [
    (Refusal::Usage, "bad arguments"),
    (Refusal::Symlink, "a symbolic link on the path: expected directories only"),
    (Refusal::NotDirectory, "something on the path is not a directory"),
    (Refusal::ParentOwner, "a parent directory belongs to another user: expected root's or the IOC user's"),
    (Refusal::ParentWritable, "a parent directory may be written by its group or others: expected only its owner to write it, or the sticky bit"),
    (Refusal::OtherOwner, "the directory exists and belongs to another user: expected the IOC user's, or none"),
];

/// Why the applet failed, from its exit status (no allocation: PID 1 uses it).
pub fn reason(status: u8) -> Reason {
    match REFUSALS.iter().find(|(r, _)| *r as u8 == status) {
        Some((_, why)) => Reason::Text(why),
        None => Reason::Errno(crate::sys::errno_text(status.into())),
    }
}

/// A failure's words: one of ours, or the C library's for an errno.
pub enum Reason {
    Text(&'static str),
    Errno(crate::sys::ErrnoText),
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reason::Text(text) => f.write_str(text),
            Reason::Errno(text) => std::fmt::Display::fmt(text, f),
        }
    }
}

/// Why a step failed: a refusal, or the errno of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    Refused(Refusal),
    Errno(Errno),
}

impl Failure {
    /// The applet's exit status for it.
    pub fn status(self) -> u8 {
        match self {
            Failure::Refused(r) => r as u8,
            Failure::Errno(e) => u8::try_from(e as i32).ok().filter(|&n| n > 0 && n < Refusal::Usage as u8).unwrap_or(libc::EIO as u8),
        }
    }
}

impl From<Errno> for Failure {
    fn from(e: Errno) -> Self {
        Failure::Errno(e)
    }
}

/// Makes `dir` (absolute, with no `.`, `..` or empty component) the state
/// directory of `uid`:`gid`, as the module comment says.
pub fn prepare(dir: &Path, uid: u32, gid: u32) -> Result<(), Failure> {
    let names: Vec<&OsStr> = dir
        .components()
        .filter_map(|c| match c {
            std::path::Component::Normal(name) => Some(name),
            _ => None,
        })
        .collect();
    let Some((last, parents)) = names.split_last() else {
        return Err(Failure::Refused(Refusal::Usage));
    };
    let mut at = Fd::open(c"/", libc::O_RDONLY | libc::O_DIRECTORY, 0).map_err(Errno::from_raw)?;
    for name in parents {
        let (fd, _) = step(&at, name, 0o755)?;
        let st = fstat(fd.0)?;
        if st.st_uid != 0 && st.st_uid != uid {
            return Err(Failure::Refused(Refusal::ParentOwner));
        }
        // A sticky directory (/tmp) lets nobody rename or remove what is not
        // theirs: the next component, checked in its turn, stays put.
        if st.st_mode & 0o022 != 0 && st.st_mode & libc::S_ISVTX == 0 {
            return Err(Failure::Refused(Refusal::ParentWritable));
        }
        at = fd;
    }
    let (fd, made) = step(&at, last, 0o750)?;
    let st = fstat(fd.0)?;
    match (made, st.st_uid) {
        (_, owner) if owner == uid => Ok(()),
        // Made here a moment ago, through this very parent: root's still, so
        // nobody swapped another directory in.
        (true, 0) => {
            nix::unistd::fchown(fd.0, Some(uid.into()), Some(gid.into()))?;
            Ok(())
        }
        _ => Err(Failure::Refused(Refusal::OtherOwner)),
    }
}

/// Opens directory `name` in `at`, making it (with `mode`) when missing,
/// never through a symbolic link; returns it and whether it was made.
fn step(at: &Fd, name: &OsStr, mode: u32) -> Result<(Fd, bool), Failure> {
    let name = CString::new(name.as_bytes()).map_err(|_| Failure::Refused(Refusal::Usage))?;
    let made = match mkdirat(Some(at.0), name.as_c_str(), Mode::from_bits_truncate(mode)) {
        Ok(()) => true,
        Err(Errno::EEXIST) => false,
        Err(e) => return Err(e.into()),
    };
    let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_NONBLOCK;
    match Fd::open_at(at, &name, flags).map_err(Errno::from_raw) {
        Ok(fd) => Ok((fd, made)),
        Err(Errno::ELOOP) => Err(Failure::Refused(Refusal::Symlink)),
        Err(Errno::ENOTDIR) => {
            // O_NOFOLLOW|O_DIRECTORY on a symlink may say either.
            let st = fstatat(Some(at.0), name.as_c_str(), nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW)?;
            let symlink = st.st_mode & libc::S_IFMT == libc::S_IFLNK;
            Err(Failure::Refused(if symlink { Refusal::Symlink } else { Refusal::NotDirectory }))
        }
        Err(e) => Err(e.into()),
    }
}

/// The applet: `iocinit-statedir DIR UID GID`. Exit status 0 when the
/// directory is ready, else [`Failure::status`] with the reason on stderr.
pub fn main(args: &[OsString]) -> i32 {
    let parsed = match args {
        [dir, uid, gid] => match (uid.to_str().and_then(|u| u.parse().ok()), gid.to_str().and_then(|g| g.parse().ok())) {
            (Some(uid), Some(gid)) => Some((Path::new(dir), uid, gid)),
            _ => None,
        },
        _ => None,
    };
    let result = match parsed {
        Some((dir, uid, gid)) => prepare(dir, uid, gid),
        None => Err(Failure::Refused(Refusal::Usage)),
    };
    match result {
        Ok(()) => 0,
        Err(failure) => {
            let status = failure.status();
            eprintln!("iocinit: state directory: {}", reason(status));
            status.into()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    /// Under the build directory: /tmp may be written by anyone, which the
    /// walk refuses.
    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("target/statedir-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        dir
    }

    #[test]
    fn every_status_has_its_reason() {
        for (refusal, why) in REFUSALS {
            assert_eq!(reason(Failure::Refused(refusal).status()).to_string(), why);
        }
        assert_eq!(reason(Failure::Errno(Errno::EACCES).status()).to_string(), "Permission denied");
        assert_eq!(Failure::Errno(Errno::EHWPOISON).status(), Errno::EHWPOISON as u8);
    }

    /// An errno reads as the C library says it, the words std's `io::Error`
    /// shows for it too (nix's own table said "Bad file number", "Try
    /// again", "Not a typewriter").
    #[test]
    fn an_errno_reads_as_the_c_library_says_it() {
        for errno in [Errno::EBADF, Errno::EAGAIN, Errno::ENOTTY, Errno::EIO, Errno::EACCES] {
            let said_by_std = std::io::Error::from_raw_os_error(errno as i32).to_string();
            let libc_text = said_by_std.split(" (os error ").next().unwrap();
            assert_eq!(reason(Failure::Errno(errno).status()).to_string(), libc_text);
        }
    }

    /// As root (the tests run as root, as PID 1 does).
    #[test]
    fn made_given_away_kept_and_never_through_a_link() {
        if !nix::unistd::geteuid().is_root() {
            return;
        }
        let base = scratch("walk");
        let dir = base.join("a/b/state");
        prepare(&dir, 4321, 4322).unwrap();
        let meta = std::fs::metadata(&dir).unwrap();
        assert_eq!((meta.uid(), meta.gid(), meta.mode() & 0o7777), (4321, 4322, 0o750));
        assert_eq!(std::fs::metadata(base.join("a/b")).unwrap().uid(), 0, "parents stay root's");
        std::fs::write(dir.join("autosave.sav"), "x").unwrap();
        prepare(&dir, 4321, 4322).unwrap();
        assert!(dir.join("autosave.sav").exists(), "kept");
        // Someone else's directory is not taken over.
        assert_eq!(prepare(&dir, 4400, 4400), Err(Failure::Refused(Refusal::OtherOwner)));
        // A link, last or on the way, is refused and its target left alone.
        let target = base.join("target");
        std::fs::create_dir(&target).unwrap();
        std::os::unix::fs::symlink(&target, base.join("link")).unwrap();
        assert_eq!(prepare(&base.join("link"), 4321, 4322), Err(Failure::Refused(Refusal::Symlink)));
        assert_eq!(prepare(&base.join("link/state"), 4321, 4322), Err(Failure::Refused(Refusal::Symlink)));
        assert_eq!(std::fs::metadata(&target).unwrap().uid(), 0);
        assert!(!target.join("state").exists());
        // A parent others may write, or another user's, is refused; a
        // sticky one (/tmp) is not.
        let open = base.join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert_eq!(prepare(&open.join("state"), 4321, 4322), Err(Failure::Refused(Refusal::ParentWritable)));
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o1777)).unwrap();
        prepare(&open.join("state"), 4321, 4322).unwrap();
        nix::unistd::chown(&base.join("a"), Some(4400.into()), None).unwrap();
        assert_eq!(prepare(&base.join("a/b/other"), 4321, 4322), Err(Failure::Refused(Refusal::ParentOwner)));
        // A file where a directory should be.
        std::fs::write(base.join("file"), "").unwrap();
        assert_eq!(prepare(&base.join("file"), 4321, 4322), Err(Failure::Refused(Refusal::NotDirectory)));
        std::fs::remove_dir_all(&base).unwrap();
    }
}
