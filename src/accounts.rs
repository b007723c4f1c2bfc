//! Users and groups: an entry by name or number, and the groups a user
//! belongs to. Every lookup of the program goes through here.
//!
//! On musl (the static builds for boards) the entries are read from
//! /etc/passwd and /etc/group by this module, not by the C library: musl's
//! lookups read the same files and then ask nscd, and their code (the
//! parsers, the nscd client, the stdio they read with, nix's conversions)
//! was 9 KB of the armv7 binary, this reader is 1 KB. A board's users are in
//! those files (docs/INSTALL.md); what is given up is nscd, the only other
//! source musl has. On glibc (the host build, `--local` on a workstation)
//! the C library answers, so users of NSS (LDAP, sssd) are found as every
//! other program finds them. docs/ARCHITECTURE.md, "Binary size".

use std::path::PathBuf;

/// What a lookup wants: the entry of a name, or of a number (uid or gid).
#[derive(Clone, Copy)]
pub enum Key<'a> {
    Name(&'a str),
    Id(u32),
}

/// A user, as far as the program needs one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: PathBuf,
}

/// A group, as far as the program needs one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    pub name: String,
    pub gid: u32,
}

/// The user KEY names, if there is one.
#[cfg(target_env = "musl")]
pub fn user(key: Key) -> Option<User> {
    files::user(&files::read_or_warn(files::PASSWD)?, key)
}

/// The group KEY names, if there is one.
#[cfg(target_env = "musl")]
pub fn group(key: Key) -> Option<Group> {
    files::group(&files::read_or_warn(files::GROUP)?, key)
}

/// The groups of user NAME whose primary group is GID: GID, then every
/// group that lists NAME as a member (unsorted, maybe with repeats, as
/// getgrouplist(3)); only GID when the groups cannot be read.
#[cfg(target_env = "musl")]
pub fn groups_of(name: &str, gid: u32) -> Vec<u32> {
    let mut groups = vec![gid];
    if let Some(text) = files::read_or_warn(files::GROUP) {
        groups.extend(files::groups_listing(&text, name));
    }
    groups
}

#[cfg(not(target_env = "musl"))]
pub fn user(key: Key) -> Option<User> {
    use nix::unistd::{Uid, User as NixUser};
    let user = match key {
        Key::Name(name) => NixUser::from_name(name),
        Key::Id(uid) => NixUser::from_uid(Uid::from_raw(uid)),
    };
    user.ok().flatten().map(|u| User { name: u.name, uid: u.uid.as_raw(), gid: u.gid.as_raw(), home: u.dir })
}

#[cfg(not(target_env = "musl"))]
pub fn group(key: Key) -> Option<Group> {
    use nix::unistd::{Gid, Group as NixGroup};
    let group = match key {
        Key::Name(name) => NixGroup::from_name(name),
        Key::Id(gid) => NixGroup::from_gid(Gid::from_raw(gid)),
    };
    group.ok().flatten().map(|g| Group { name: g.name, gid: g.gid.as_raw() })
}

#[cfg(not(target_env = "musl"))]
pub fn groups_of(name: &str, gid: u32) -> Vec<u32> {
    let gid = nix::unistd::Gid::from_raw(gid);
    match std::ffi::CString::new(name).map(|name| nix::unistd::getgrouplist(&name, gid)) {
        Ok(Ok(list)) => list.into_iter().map(|g| g.as_raw()).collect(),
        _ => vec![gid.as_raw()],
    }
}

/// The readers of /etc/passwd and /etc/group. Their format, as musl and
/// glibc read it: one entry a line, fields separated by ':', the last one
/// taking the rest of the line (`name:password:uid:gid:gecos:home:shell`,
/// `name:password:gid:member,member`); a line with too few fields or a
/// number that is not one (digits only, within u32) is skipped. musl skips
/// a line with a sign or other text in a number too; an empty number, or
/// one past u32, musl reads as 0 (root's) or wrapped: skipped here.
///
/// PID 1 reads them (a configuration's users, at load and reload), so a
/// file is read only when it is a regular file of at most [`MAX_BYTES`]:
/// a FIFO in its place would park PID 1 in open(2) until a writer came, a
/// device or a runaway file would fill its heap.
#[cfg(any(test, target_env = "musl"))]
mod files {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    use std::path::PathBuf;

    use super::{Group, Key, User};

    pub const PASSWD: &str = "/etc/passwd";
    pub const GROUP: &str = "/etc/group";
    /// The largest file read: a board's files are a few KB, a large site's
    /// some hundred.
    pub const MAX_BYTES: u64 = 1 << 20;

    /// Why a file was not read.
    #[derive(Debug)]
    pub enum Refused {
        NotRegular,
        TooLarge,
        Io(std::io::Error),
    }

    impl std::fmt::Display for Refused {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            match self {
                Refused::NotRegular => f.write_str("not a regular file"),
                Refused::TooLarge => write!(f, "larger than {MAX_BYTES} bytes"),
                Refused::Io(e) => write!(f, "{e}"),
            }
        }
    }

    /// The text of PATH, a regular file of at most [`MAX_BYTES`], read as
    /// PID 1 reads a file others may have put in place
    /// (`crate::files::read_regular`: opened non-blocking, checked before a
    /// byte is read, read no further than the bound).
    pub fn read(path: &str) -> Result<Vec<u8>, Refused> {
        use crate::files::Refused as Why;
        match crate::files::read_regular(std::path::Path::new(path), 0, MAX_BYTES) {
            Ok((text, _)) => Ok(text),
            Err(Why::NotRegular(_)) => Err(Refused::NotRegular),
            Err(Why::TooLarge) => Err(Refused::TooLarge),
            Err(Why::Open(e) | Why::Stat(e) | Why::Read(e)) => Err(Refused::Io(e)),
        }
    }

    /// [`read`], or `None` with a warning that names the file and why when
    /// it is there but refused (a file that does not exist names nobody).
    #[cfg(target_env = "musl")]
    pub fn read_or_warn(path: &str) -> Option<Vec<u8>> {
        match read(path) {
            Ok(text) => Some(text),
            Err(Refused::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                crate::logging::warn!("{path}: not read: {e}; no user or group is found in it");
                None
            }
        }
    }

    /// The lines of TEXT with at least N fields, split into their first N.
    /// A line ends at its first NUL, as musl's C string of it does: a NUL
    /// before the last field leaves the line too short (musl skips it), so
    /// no name, number or home ever holds one.
    fn records<const N: usize>(text: &[u8]) -> impl Iterator<Item = [&[u8]; N]> {
        text.split(|&b| b == b'\n').filter_map(|line| {
            let line = line.split(|&b| b == 0).next().unwrap_or_default();
            let mut fields = line.splitn(N, |&b| b == b':');
            let record: [Option<&[u8]>; N] = std::array::from_fn(|_| fields.next());
            // splitn yields its fields in order: the last one there means all are.
            record[N - 1].is_some().then(|| record.map(Option::unwrap_or_default))
        })
    }

    /// Digits only: `str::parse` would take a leading `+`.
    fn number(field: &[u8]) -> Option<u32> {
        crate::config::values::decimal(std::str::from_utf8(field).ok()?).and_then(|n| u32::try_from(n).ok())
    }

    /// A name as text; bytes that are not UTF-8 shown as U+FFFD, as nix's
    /// lookups show them (the entry is found all the same).
    fn name_text(field: &[u8]) -> String {
        String::from_utf8_lossy(field).into_owned()
    }

    /// Whether the entry named NAME with number ID is the one KEY wants.
    fn wanted(key: Key, name: &[u8], id: u32) -> bool {
        match key {
            Key::Name(wanted) => wanted.as_bytes() == name,
            Key::Id(wanted) => wanted == id,
        }
    }

    /// The first entry of passwd TEXT that KEY names.
    pub fn user(text: &[u8], key: Key) -> Option<User> {
        records::<7>(text).find_map(|[name, _, uid, gid, _, home, _]| {
            let (uid, gid) = (number(uid)?, number(gid)?);
            if !wanted(key, name, uid) {
                return None;
            }
            Some(User { name: name_text(name), uid, gid, home: PathBuf::from(OsStr::from_bytes(home)) })
        })
    }

    /// The first entry of group TEXT that KEY names.
    pub fn group(text: &[u8], key: Key) -> Option<Group> {
        records::<4>(text).find_map(|[name, _, gid, _]| {
            let gid = number(gid)?;
            if !wanted(key, name, gid) {
                return None;
            }
            Some(Group { name: name_text(name), gid })
        })
    }

    /// The gids of the entries of group TEXT that list user NAME as a member.
    pub fn groups_listing<'a>(text: &'a [u8], name: &'a str) -> impl Iterator<Item = u32> + 'a {
        records::<4>(text)
            .filter(move |[.., members]| members.split(|&b| b == b',').any(|member| member == name.as_bytes()))
            .filter_map(|[_, _, gid, _]| number(gid))
    }
}

#[cfg(test)]
mod tests {
    use super::files;
    use super::*;

    const PASSWD: &[u8] = b"root:x:0:0:root:/root:/bin/sh\n\
        # not an entry\n\
        short:x:5:5\n\
        badnumber:x:1a:7:gecos:/nowhere:/bin/false\n\
        ioc:x:1000:1000:IOC user, ext. 12:/home/ioc:/bin/sh:with a colon\n\
        ioc:x:1001:1001:second of the name:/elsewhere:/bin/sh\n\
        nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin";
    const GROUP: &[u8] = b"root:x:0:\n\
        ioc:x:1000:\n\
        dialout:x:20:ioc,operator\n\
        broken:x:\n\
        operators:x:30:operator\n\
        ioc2:x:31:iocs,ioc";

    #[test]
    fn a_user_is_found_by_name_or_uid_with_its_fields() {
        let ioc = User { name: "ioc".into(), uid: 1000, gid: 1000, home: "/home/ioc".into() };
        assert_eq!(files::user(PASSWD, Key::Name("ioc")), Some(ioc.clone()), "the first entry of a name; the shell takes the rest of the line");
        assert_eq!(files::user(PASSWD, Key::Id(1000)), Some(ioc));
        assert_eq!(files::user(PASSWD, Key::Id(65534)).map(|u| u.name), Some("nobody".into()), "the last line without a newline");
        assert_eq!(files::user(PASSWD, Key::Id(0)).map(|u| u.home), Some("/root".into()));
    }

    #[test]
    fn short_lines_bad_numbers_and_unknown_keys_find_nothing() {
        assert_eq!(files::user(PASSWD, Key::Name("short")), None);
        assert_eq!(files::user(PASSWD, Key::Name("badnumber")), None);
        assert_eq!(files::user(PASSWD, Key::Name("io")), None, "a prefix is not a name");
        assert_eq!(files::user(PASSWD, Key::Id(7)), None);
        assert_eq!(files::user(b"", Key::Name("root")), None);
        assert_eq!(files::group(GROUP, Key::Name("broken")), None);
    }

    /// Numbers as musl reads them, digits only: a sign that `str::parse`
    /// would take makes the line no entry, as it is none to the C library
    /// the boards used before (and the configuration's numbers refuse it).
    #[test]
    fn a_number_with_a_sign_is_no_number() {
        let passwd = b"plus:x:+5:5::/plus:/bin/sh\nplusgid:x:6:+6::/pg:/bin/sh\nminus:x:-1:7::/m:/bin/sh\n";
        for name in ["plus", "plusgid", "minus"] {
            assert_eq!(files::user(passwd, Key::Name(name)), None, "{name}");
        }
        assert_eq!(files::user(passwd, Key::Id(5)), None);
        let group = b"plus:x:+20:ioc\nplain:x:21:ioc\n";
        assert_eq!(files::group(group, Key::Name("plus")), None);
        assert_eq!(files::group(group, Key::Id(20)), None);
        assert_eq!(files::groups_listing(group, "ioc").collect::<Vec<_>>(), [21]);
    }

    /// A NUL ends its line, as it ends musl's: an entry with one before its
    /// last field is none; one in the shell, which is not read, cuts only it.
    #[test]
    fn a_nul_ends_its_line() {
        let passwd = b"home:x:1000:1000::/home\0/x:/bin/sh\nna\0me:x:1001:1001::/n:/bin/sh\nshell:x:1002:1002::/s:/bin\0sh\n";
        assert_eq!(files::user(passwd, Key::Id(1000)), None, "a NUL in the home");
        assert_eq!(files::user(passwd, Key::Id(1001)), None, "a NUL in the name");
        assert_eq!(files::user(passwd, Key::Id(1002)).map(|u| u.home), Some("/s".into()), "a NUL in the shell");
        let group = b"g\0x:x:40:ioc\nh:x:41:io\0c\n";
        assert_eq!(files::group(group, Key::Id(40)), None);
        assert_eq!(files::groups_listing(group, "ioc").collect::<Vec<_>>(), [] as [u32; 0], "a member cut at the NUL is another name");
    }

    /// The first entry of a number is the one found, whatever bytes its
    /// name holds: its name is shown lossily (as nix's lookups show it on
    /// glibc), not passed over for a later entry of the same number.
    #[test]
    fn the_first_entry_of_a_number_is_found_though_its_name_is_not_utf8() {
        let passwd = b"\xffodd:x:1000:1000::/odd:/bin/sh\nioc:x:1000:1000::/home/ioc:/bin/sh\n";
        let found = files::user(passwd, Key::Id(1000)).unwrap();
        assert_eq!((found.name.as_str(), found.home.to_str()), ("\u{fffd}odd", Some("/odd")));
        let group = b"\xffodd:x:36:\nalt:x:36:\n";
        assert_eq!(files::group(group, Key::Id(36)).map(|g| g.name), Some("\u{fffd}odd".into()));
    }

    #[test]
    fn a_group_is_found_by_name_or_gid() {
        assert_eq!(files::group(GROUP, Key::Name("dialout")), Some(Group { name: "dialout".into(), gid: 20 }));
        assert_eq!(files::group(GROUP, Key::Id(30)).map(|g| g.name), Some("operators".into()));
        assert_eq!(files::group(GROUP, Key::Id(1)), None);
    }

    #[test]
    fn a_users_groups_are_those_that_list_it_as_a_member() {
        assert_eq!(files::groups_listing(GROUP, "ioc").collect::<Vec<_>>(), [20, 31], "not ioc's own group, which lists no member");
        assert_eq!(files::groups_listing(GROUP, "operator").collect::<Vec<_>>(), [20, 30]);
        assert_eq!(files::groups_listing(GROUP, "iocs").collect::<Vec<_>>(), [31]);
        assert_eq!(files::groups_listing(GROUP, "io").count(), 0, "a prefix is not a member");
    }

    /// The reader against the C library on this machine's own files: every
    /// user and group of /etc/passwd and /etc/group found as getpwnam(3),
    /// getpwuid(3), getgrnam(3) and getgrgid(3) find it (files first in
    /// every NSS configuration, so both name the same first entry).
    #[test]
    fn the_reader_agrees_with_the_c_library_on_this_machines_files() {
        let passwd = std::fs::read(files::PASSWD).unwrap();
        let group = std::fs::read(files::GROUP).unwrap();
        let mut users = 0;
        for line in String::from_utf8_lossy(&passwd).lines() {
            let name = line.split(':').next().unwrap();
            let Some(libc_user) = nix::unistd::User::from_name(name).unwrap() else { continue };
            let ours = files::user(&passwd, Key::Name(name)).unwrap();
            assert_eq!((ours.uid, ours.gid, &ours.home), (libc_user.uid.as_raw(), libc_user.gid.as_raw(), &libc_user.dir), "{name}");
            let by_uid = nix::unistd::User::from_uid(libc_user.uid).unwrap().unwrap();
            assert_eq!(files::user(&passwd, Key::Id(ours.uid)).map(|u| u.name), Some(by_uid.name));
            let libc_groups = nix::unistd::getgrouplist(&std::ffi::CString::new(name).unwrap(), libc_user.gid).unwrap();
            let mut ours: Vec<u32> = std::iter::once(ours.gid).chain(files::groups_listing(&group, name)).collect();
            let mut theirs: Vec<u32> = libc_groups.iter().map(|g| g.as_raw()).collect();
            ours.sort_unstable();
            ours.dedup();
            theirs.sort_unstable();
            theirs.dedup();
            assert_eq!(ours, theirs, "the groups of {name}");
            users += 1;
        }
        assert!(users > 0, "no user of /etc/passwd compared");
        for line in String::from_utf8_lossy(&group).lines() {
            let name = line.split(':').next().unwrap();
            let Some(libc_group) = nix::unistd::Group::from_name(name).unwrap() else { continue };
            assert_eq!(files::group(&group, Key::Name(name)).map(|g| g.gid), Some(libc_group.gid.as_raw()), "{name}");
            let by_gid = nix::unistd::Group::from_gid(libc_group.gid).unwrap().unwrap();
            assert_eq!(files::group(&group, Key::Id(libc_group.gid.as_raw())).map(|g| g.name), Some(by_gid.name));
        }
    }

    /// A FIFO, a device or an oversized file in place of /etc/passwd is
    /// refused at once: it must neither park PID 1 nor fill its heap.
    #[test]
    fn only_a_regular_file_within_the_bound_is_read() {
        let dir = crate::scratch::ScratchDir::new("accounts");
        let path = |name: &str| dir.join(name).to_str().unwrap().to_string();
        std::fs::write(path("passwd"), PASSWD).unwrap();
        assert_eq!(files::read(&path("passwd")).unwrap(), PASSWD);
        // Bounded by a thread: a reader that waits for the FIFO's writer
        // fails the test instead of hanging it.
        nix::unistd::mkfifo(dir.join("fifo").as_path(), nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let (done, result) = std::sync::mpsc::channel();
        let fifo = path("fifo");
        std::thread::spawn(move || done.send(files::read(&fifo).map(|_| ())));
        let fifo = result.recv_timeout(std::time::Duration::from_secs(5)).expect("the reader waited for the FIFO's writer");
        assert!(matches!(fifo, Err(files::Refused::NotRegular)), "{fifo:?}");
        assert!(matches!(files::read("/dev/zero"), Err(files::Refused::NotRegular)));
        let big = std::fs::File::create(path("big")).unwrap();
        big.set_len(files::MAX_BYTES + 1).unwrap();
        let refused = files::read(&path("big")).unwrap_err();
        assert_eq!(refused.to_string(), format!("larger than {} bytes", files::MAX_BYTES));
        big.set_len(files::MAX_BYTES).unwrap();
        assert_eq!(files::read(&path("big")).unwrap().len() as u64, files::MAX_BYTES);
        assert!(matches!(files::read(&path("missing")), Err(files::Refused::Io(_))));
    }

    /// The lookups the program makes, whichever reader the build has.
    #[test]
    fn root_and_its_group_are_found() {
        assert_eq!(user(Key::Name("root")).map(|u| (u.uid, u.gid)), Some((0, 0)));
        assert_eq!(user(Key::Id(0)).map(|u| u.name), Some("root".into()));
        assert_eq!(group(Key::Id(0)).map(|g| g.name), Some("root".into()));
        assert_eq!(group(Key::Name("root")).map(|g| g.gid), Some(0));
        assert!(groups_of("root", 0).contains(&0));
        assert_eq!(user(Key::Name("no such user here")), None);
    }
}
