//! What only PID 1 does: mount the virtual filesystems, take the console,
//! set the host and domain names, show the banner, read the kernel command
//! line, run the emergency shell as a child, and at the very end sync,
//! unmount and call reboot(2).
//!
//! It calls into the engine's world only through the daemon; the engine never
//! calls it. On a real boot (the initial PID namespace) it also owns
//! Ctrl-Alt-Del and /dev/kmsg; as PID 1 of a test namespace it leaves the
//! host alone: reboot(2) there ends the namespace, never the host.

use std::ffi::{CStr, CString};
use std::path::{Path, PathBuf};


use crate::config::{Color, Config, Text, VirtualFs, VirtualMount};
use crate::engine::Power;
use crate::spawn::{self, Command, Redirect};
use crate::sys::{self, Pid};

/// Filesystem magic numbers (statfs f_type) of what MountVirtual mounts.
const PROC_MAGIC: i64 = 0x9fa0;
const SYSFS_MAGIC: i64 = 0x6265_6572;
const TMPFS_MAGIC: i64 = 0x0102_1994;
const DEVPTS_MAGIC: i64 = 0x1cd1;

/// Kernel command line words iocinit understands (Epoch's).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KernelArgs {
    /// `shell`: an emergency shell before the boot.
    pub shell: bool,
    /// `epochconfig=PATH`.
    pub config: Option<PathBuf>,
    pub boot: BootWords,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BootWords {
    pub runlevel: Option<String>,
    pub start: Vec<String>,
    pub skip: Vec<String>,
}

impl KernelArgs {
    /// Takes one of Epoch's kernel words (`shell`, `runlevel=NAME`,
    /// `epochconfig=PATH`, `startobj=IDS`, `skipobj=IDS`); false if `word`
    /// is not one of them.
    pub fn take_word(&mut self, word: &str) -> bool {
        let ids = |v: &str| v.split(',').filter(|s| !s.is_empty()).map(String::from).collect::<Vec<_>>();
        match word.split_once('=') {
            None if word == "shell" => self.shell = true,
            Some(("runlevel", v)) if !v.is_empty() => self.boot.runlevel = Some(v.into()),
            Some(("epochconfig", v)) if !v.is_empty() => self.config = Some(v.into()),
            Some(("startobj", v)) => self.boot.start.extend(ids(v)),
            Some(("skipobj", v)) => self.boot.skip.extend(ids(v)),
            _ => return false,
        }
        true
    }
}

/// Parses /proc/cmdline's words; unknown ones belong to the kernel.
pub fn parse_cmdline(cmdline: &str) -> KernelArgs {
    let mut args = KernelArgs::default();
    for word in crate::config::values::words(cmdline) {
        args.take_word(word);
    }
    args
}

/// Mounts /proc if nothing has: on a real boot PID 1 starts without it, and
/// both the kernel command line and the real-boot test read it.
pub fn mount_proc_early() {
    if std::fs::metadata("/proc/self").is_ok() {
        return;
    }
    let _ = std::fs::create_dir_all("/proc");
    let flags = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
    if let Err(e) = sys::mount(Some(c"proc"), c"/proc", Some(c"proc"), flags, None) {
        crate::logging::error!("unable to mount proc on /proc: {}", sys::errno_text(e));
    }
}

/// Epoch's words of /proc/cmdline (None if it cannot be read). A word that
/// is not UTF-8 cannot be one of them and does not hide the others.
pub fn kernel_args() -> Option<KernelArgs> {
    crate::files::read(Path::new("/proc/cmdline")).ok().map(|s| parse_cmdline(&String::from_utf8_lossy(&s)))
}


/// Mounts one virtual filesystem unless that kind is already there.
fn mount_virtual(m: VirtualMount) {
    let (fstype, target, magic, data, flags): (&CStr, &CStr, i64, &CStr, libc::c_ulong) = match m.fs {
        VirtualFs::Proc => (c"proc", c"/proc", PROC_MAGIC, c"", libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC),
        VirtualFs::Sys => (c"sysfs", c"/sys", SYSFS_MAGIC, c"", libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC),
        // devtmpfs reports tmpfs's magic.
        VirtualFs::Dev => (c"devtmpfs", c"/dev", TMPFS_MAGIC, c"mode=0755", libc::MS_NOSUID),
        VirtualFs::DevPts => (c"devpts", c"/dev/pts", DEVPTS_MAGIC, c"gid=5,mode=0620,ptmxmode=0666", libc::MS_NOSUID | libc::MS_NOEXEC),
        VirtualFs::DevShm => (c"tmpfs", c"/dev/shm", TMPFS_MAGIC, c"mode=1777", libc::MS_NOSUID | libc::MS_NODEV),
    };
    // C strings for mount(2) (sys::mount), text for std's paths and the log.
    let (fstype_name, target_name) = (fstype.to_str().unwrap_or_default(), target.to_str().unwrap_or_default());
    if m.create_dir {
        let _ = std::fs::create_dir_all(target_name);
    }
    // Already mounted (an initramfs that mounted it, a test namespace sharing
    // the host's): leave it. /dev/shm on a devtmpfs /dev also reads as
    // tmpfs, so it must be a mount point too.
    if sys::fs_type(target) == Some(magic) && is_mount_point(Path::new(target_name)) {
        return;
    }
    if let Err(e) = sys::mount(Some(fstype), target, Some(fstype), flags, Some(data)) {
        crate::logging::error!("unable to mount {fstype_name} on {target_name}: {}", sys::errno_text(e));
    }
}

/// Mounts what MountVirtual asks for, takes the console if PID 1 has none
/// (see [`take_console`]), then mounts a tmpfs on `run_dir` if it is /run
/// and not yet a mount (the control and console sockets live there).
pub fn mount_filesystems(mounts: &[VirtualMount], run_dir: &Path) {
    for m in mounts {
        mount_virtual(*m);
    }
    take_console();
    if run_dir == Path::new("/run") {
        let _ = std::fs::create_dir_all("/run");
        if !is_mount_point(run_dir) {
            if let Err(e) = sys::mount(Some(c"tmpfs"), c"/run", Some(c"tmpfs"), libc::MS_NOSUID | libc::MS_NODEV, Some(c"mode=0755")) {
                crate::logging::error!("unable to mount tmpfs on /run: {}", sys::errno_text(e));
            }
        }
    }
}

/// The filesystems an emergency shell needs when there is no usable
/// configuration to say which.
pub const RESCUE_MOUNTS: [VirtualMount; 4] = [
    VirtualMount { fs: VirtualFs::Proc, create_dir: true },
    VirtualMount { fs: VirtualFs::Sys, create_dir: true },
    VirtualMount { fs: VirtualFs::Dev, create_dir: true },
    VirtualMount { fs: VirtualFs::DevPts, create_dir: true },
];

/// Gives PID 1 the console if it has none; called once /dev is mounted.
/// The kernel opens /dev/console as init's fds 0-2 only if the node existed
/// before any devtmpfs (in the initramfs). Otherwise they start closed, and
/// main fills closed fds 0-2 with /dev/null (with the root directory where
/// there is no /dev/null yet): every log line and the emergency shell would
/// go nowhere. So when all three are such placeholders, /dev/console
/// replaces them. Only all three: a supervisor started with some of them on
/// /dev/null on purpose (a test harness's stdin) keeps them.
fn take_console() {
    const DEV_NULL: libc::dev_t = libc::makedev(1, 3);
    let is_placeholder = |fd| {
        nix::sys::stat::fstat(fd).is_ok_and(|st| match st.st_mode & libc::S_IFMT {
            libc::S_IFCHR => st.st_rdev == DEV_NULL,
            kind => kind == libc::S_IFDIR,
        })
    };
    if !(0..3).all(is_placeholder) {
        return;
    }
    match sys::Fd::open(c"/dev/console", libc::O_RDWR | libc::O_NOCTTY, 0) {
        // Opened above 2 (0-2 are open); dup2 leaves the copies inheritable.
        Ok(console) => {
            for target in 0..3 {
                let _ = nix::unistd::dup2(console.0, target);
            }
            // PID 1 writes through descriptors of its own, reopened from 1
            // and 2: they must now be the console's too.
            crate::logging::open_console();
        }
        Err(e) => crate::logging::warn!("no console: unable to open /dev/console: {}", crate::sys::errno_text(e)),
    }
}

fn read_text(text: &Text) -> Option<String> {
    match text {
        Text::Literal(s) => Some(s.clone()),
        Text::File(p) => match crate::files::read_to_string(p) {
            Ok(s) => Some(s),
            Err(e) => {
                crate::logging::error!("unable to read {}: {e}", p.display());
                None
            }
        },
    }
}

/// Hostname and Domainname (literal or `FILE path`).
pub fn set_names(config: &Config) {
    if let Some(name) = config.globals.hostname.as_ref().and_then(read_text) {
        let name = name.trim_ascii();
        if let Err(e) = nix::unistd::sethostname(name) {
            crate::logging::error!("unable to set the hostname to \"{name}\": {}", crate::sys::errno_text(e as i32));
        }
    }
    if let Some(name) = config.globals.domainname.as_ref().and_then(read_text) {
        let name = name.trim_ascii();
        if let Err(e) = sys::set_domainname(name.as_bytes()) {
            crate::logging::error!("unable to set the domain name to \"{name}\": {}", crate::sys::errno_text(e));
        }
    }
}

/// BootBannerText in BootBannerColor (the only colour shown unasked: the
/// configuration asked for it).
pub fn banner(config: &Config) {
    let Some(text) = config.globals.boot_banner.as_ref().and_then(read_text) else { return };
    let code = match config.globals.boot_banner_color {
        Color::None => None,
        Color::Black => Some(30),
        Color::Red => Some(31),
        Color::Green => Some(32),
        Color::Yellow => Some(33),
        Color::Blue => Some(34),
        Color::Magenta => Some(35),
        Color::Cyan => Some(36),
        Color::White => Some(37),
    };
    let text = text.trim_end_matches('\n');
    let line = match code {
        Some(c) => format!("\x1b[{c}m{text}\x1b[0m\n"),
        None => format!("{text}\n"),
    };
    crate::logging::console_line(line.as_bytes());
}

/// Who handles Ctrl-Alt-Del: with DisableCAD the kernel sends us SIGINT.
pub fn set_cad(handled_by_init: bool) {
    if let Err(e) = nix::sys::reboot::set_cad_enabled(!handled_by_init) {
        crate::logging::warn!("unable to set Ctrl-Alt-Del handling: {}", crate::sys::errno_text(e as i32));
    }
}

/// The emergency shell: a child of PID 1 on the console, as its own session
/// with the console as controlling terminal.
pub struct EmergencyShell {
    command: Command,
}

impl EmergencyShell {
    pub fn new(env: &[String]) -> Option<Self> {
        Command::new(&["/bin/sh", "-i"], env).ok().map(|command| EmergencyShell { command })
    }

    pub fn spawn(&self, reason: &str) -> Option<Pid> {
        let msg = format!("\n*** iocinit: {reason}\n*** emergency shell; exit it to continue\n");
        crate::logging::console_line(msg.as_bytes());
        let opts = spawn::Options {
            stdin: Redirect::Inherit,
            stdout: Redirect::Inherit,
            stderr: Redirect::Inherit,
            new_session: true,
            controlling_tty: true,
            ..Default::default()
        };
        match spawn::spawn(&self.command, &opts) {
            Ok(pid) => Some(pid),
            Err(e) => {
                crate::logging::error!("emergency shell: {e}");
                None
            }
        }
    }
}

/// The mount points of /proc/self/mountinfo, deepest last; None if it
/// cannot be read (no /proc yet).
fn mount_points() -> Option<Vec<String>> {
    crate::files::read(Path::new("/proc/self/mountinfo")).ok().map(|s| parse_mount_points(&String::from_utf8_lossy(&s)))
}

/// The mount point (fifth field) of each mountinfo line.
fn parse_mount_points(mountinfo: &str) -> Vec<String> {
    mountinfo.lines().filter_map(|l| l.split(' ').nth(4)).map(unescape_mount).collect()
}

/// Whether something is mounted on `path`. From mountinfo: a device
/// comparison with the parent takes a bind mount from the same filesystem
/// (the root filesystem bound on /run) for no mount at all. Only without
/// /proc does it fall back to that comparison.
fn is_mount_point(path: &Path) -> bool {
    if let Some(points) = mount_points() {
        return points.iter().any(|p| Path::new(p) == path);
    }
    let dev = |p: &Path| std::fs::metadata(p).map(|m| std::os::unix::fs::MetadataExt::dev(&m)).ok();
    let parent = path.parent().unwrap_or(Path::new("/"));
    dev(path).is_some() && dev(path) != dev(parent)
}

/// /proc/self/mountinfo writes spaces and friends as octal escapes.
fn unescape_mount(field: &str) -> String {
    let mut rest = field.as_bytes();
    let mut out = Vec::with_capacity(rest.len());
    // A backslash and three octal digits up to 377 (a byte), as the kernel
    // writes them; any other backslash is itself.
    while let Some((&first, after)) = rest.split_first() {
        rest = match (first, after) {
            (b'\\', &[a @ b'0'..=b'3', b @ b'0'..=b'7', c @ b'0'..=b'7', ref tail @ ..]) => {
                out.push((a - b'0') * 64 + (b - b'0') * 8 + (c - b'0'));
                tail
            }
            _ => {
                out.push(first);
                after
            }
        };
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The end of a real shutdown: sync, unmount what can be unmounted (the
/// rest, and /, read-only), sync again, reboot(2). Never returns.
pub fn final_power(power: Power, real_boot: bool) -> ! {
    crate::logging::close_file();
    nix::unistd::sync();
    if real_boot {
        let keep = ["/", "/proc", "/sys", "/dev", "/dev/pts"];
        for target in mount_points().unwrap_or_default().iter().rev() {
            if keep.contains(&target.as_str()) {
                continue;
            }
            let Ok(target) = CString::new(target.as_str()) else { continue }; // a NUL: no path the kernel knows
            if nix::mount::umount2(target.as_c_str(), nix::mount::MntFlags::empty()).is_err() {
                let _ = sys::mount(None, &target, None, libc::MS_REMOUNT | libc::MS_RDONLY, None);
            }
        }
        let _ = sys::mount(None, c"/", None, libc::MS_REMOUNT | libc::MS_RDONLY, None);
        nix::unistd::sync();
    }
    crate::logging::info!("{}", power.name());
    crate::logging::flush_console(crate::logging::POWER_FLUSH_MS);
    let mode = match power {
        Power::Halt => nix::sys::reboot::RebootMode::RB_HALT_SYSTEM,
        Power::Poweroff => nix::sys::reboot::RebootMode::RB_POWER_OFF,
        Power::Reboot => nix::sys::reboot::RebootMode::RB_AUTOBOOT,
    };
    // Only returns if reboot(2) failed: PID 1 must not exit. Stay, quietly.
    let Err(e) = nix::sys::reboot::reboot(mode);
    crate::logging::error!("reboot(2) failed: {}; halting here", crate::sys::errno_text(e as i32));
    loop {
        nix::unistd::pause();
    }
}

/// `iocinit` run as PID 1 from an initramfs with EXEC/PIVOT needs the real
/// /sbin/init path for reexec; this finds our own executable.
pub fn own_executable() -> Option<CString> {
    let path = std::fs::read_link("/proc/self/exe").ok()?;
    let s = path.to_str()?.trim_end_matches(" (deleted)");
    CString::new(s).ok()
}


#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_command_line_words() {
        let a = parse_cmdline("console=ttyAMA0 quiet shell runlevel=maint epochconfig=/etc/alt.conf startobj=a,b skipobj=c startobj=d\n");
        assert!(a.shell);
        assert_eq!(a.config.as_deref(), Some(Path::new("/etc/alt.conf")));
        assert_eq!(a.boot.runlevel.as_deref(), Some("maint"));
        assert_eq!(a.boot.start, ["a", "b", "d"]);
        assert_eq!(a.boot.skip, ["c"]);
        assert_eq!(parse_cmdline("root=/dev/sda shellx runlevel="), KernelArgs::default());
        // Words end at ASCII whitespace, a vertical tab too, as the kernel's.
        assert_eq!(parse_cmdline("epochconfig=/etc/alt.conf\x0bquiet").config.as_deref(), Some(Path::new("/etc/alt.conf")));
        // Words the kernel passes to init as arguments: none of them is Epoch's.
        let mut a = KernelArgs::default();
        for word in ["single", "1", "emergency", "S", "shell=1", "startobj"] {
            assert!(!a.take_word(word), "{word}");
        }
        assert!(a.take_word("shell") && a.shell);
    }

    #[test]
    fn mount_points_come_from_mountinfo() {
        let info = "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n\
                    40 27 254:0 / /run rw,relatime shared:1 - ext4 /dev/vda rw\n\
                    41 27 0:30 / /mnt/with\\040space rw - tmpfs tmpfs rw\n";
        assert_eq!(parse_mount_points(info), ["/", "/run", "/mnt/with space"]);
        // Here, as in any test process, /proc is mounted.
        assert!(is_mount_point(Path::new("/proc")));
        assert!(!is_mount_point(Path::new("/proc/self")));
    }

    #[test]
    fn mount_fields_are_unescaped() {
        assert_eq!(unescape_mount("/mnt/with\\040space"), "/mnt/with space");
        assert_eq!(unescape_mount("/plain"), "/plain");
        assert_eq!(unescape_mount("/bad\\04"), "/bad\\04");
        // Three digits past a byte are no escape (this panicked on its
        // overflow where arithmetic is checked, and wrapped where not).
        assert_eq!(unescape_mount("/x\\777"), "/x\\777");
        assert_eq!(unescape_mount("/x\\377"), "/x\u{fffd}");
    }
}
