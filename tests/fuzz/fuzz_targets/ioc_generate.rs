//! Fuzzes `ioc generate`'s scanner of iocBoot directories: each input builds
//! a fresh directory (its name, its entries: executable and other files,
//! directories, symlinks, FIFOs, with any names), then generates the IOC
//! file with the input's options and answers to the prompt. What generate
//! makes must be a valid IOC file: it renders and reads back unchanged, and
//! runs one of the directory's executable `*.cmd` files.
//!
//! Input: fields separated by NUL: a flags byte, the directory's name,
//! `--name`, `--cmd`, user, group, what is typed at the prompt, then
//! entries, each a kind byte followed by the entry's name.
#![no_main]

use std::ffi::OsStr;
use std::fs;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use iocinit::config::iocfile::{parse, render};
use iocinit::ioc::generate::{generate, GenerateOptions, Prompt};
use libfuzzer_sys::fuzz_target;

/// The directory every input's iocBoot directory is made in: in memory
/// (/dev/shm) where there is one, so that making and removing a few dozen
/// entries per input costs no disk journal; else the temp directory.
fn scratch() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let shm = Path::new("/dev/shm");
        let base = if shm.is_dir() { shm.to_path_buf() } else { std::env::temp_dir() };
        base.join(format!("iocinit-fuzz-generate-{}", std::process::id()))
    })
}

fn text(field: &[u8]) -> Option<String> {
    (!field.is_empty()).then(|| String::from_utf8_lossy(field).into_owned())
}

/// Makes entry `name` of kind `kind` in `dir`; a name the filesystem
/// refuses is skipped.
fn make_entry(dir: &Path, kind: u8, name: &[u8]) {
    if name.is_empty() || name.contains(&b'/') || name == b"." || name == b".." {
        return;
    }
    let path = dir.join(OsStr::from_bytes(name));
    let _ = match kind % 6 {
        // A new file only: an earlier entry of the same name may be a FIFO,
        // which an open for writing would wait on for good.
        0 | 1 => fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(if kind.is_multiple_of(6) { 0o755 } else { 0o644 })
            .open(&path)
            .and_then(|mut f| f.write_all(b"#!../../bin/linux-x86_64/vac\n")),
        2 => fs::create_dir(&path),
        3 => std::os::unix::fs::symlink("st.cmd", &path),
        // Dangling, and inside the directory: the harness never writes outside it.
        4 => std::os::unix::fs::symlink("no-such-file", &path),
        _ => nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o755)).map_err(io::Error::from),
    };
}

fuzz_target!(|data: &[u8]| {
    let mut fields = data.split(|&b| b == 0);
    let mut next = || fields.next().unwrap_or_default();
    let flags = next().first().copied().unwrap_or(0);
    let dir_name = next();
    let (name, cmd, user, group, typed) = (next(), next(), next(), next(), next().to_vec());
    let entries: Vec<&[u8]> = std::iter::from_fn(|| fields.next()).take(32).collect();

    let base = scratch();
    let _ = fs::remove_dir_all(base);
    let dir_name = if dir_name.is_empty() || dir_name.contains(&b'/') || dir_name == b"." || dir_name == b".." { b"iocvac1" } else { dir_name };
    let dir = base.join(OsStr::from_bytes(dir_name));
    if fs::create_dir_all(&dir).is_err() {
        return;
    }
    for entry in &entries {
        if let Some((&kind, name)) = entry.split_first() {
            make_entry(&dir, kind, name);
        }
    }
    let defaults = GenerateOptions::default();
    let options = GenerateOptions {
        name: text(name).filter(|_| flags & 1 != 0),
        cmd: text(cmd).filter(|_| flags & 2 != 0),
        first_if_several: flags & 8 != 0,
        user: text(user).unwrap_or(defaults.user),
        group: text(group).unwrap_or(defaults.group),
        run_dir: defaults.run_dir,
    };
    // Typed a line at a time, as `read_stdin_line` gives them.
    let mut lines = typed.split_inclusive(|&b| b == b'\n');
    let mut output = io::sink();
    let mut next_line = || lines.next().and_then(|l| String::from_utf8(l.to_vec()).ok());
    let prompt = (flags & 4 != 0).then_some(Prompt { next_line: &mut next_line, output: &mut output });
    if let Ok(ioc) = generate(&dir, &options, prompt) {
        let rendered = render(&ioc);
        let (back, _) = parse(&PathBuf::from(format!("{}.conf", ioc.name)), &rendered).unwrap_or_else(|e| panic!("generate made a file that does not read back: {e:?}\n{rendered}"));
        assert_eq!(back, ioc);
        let script = dir.join(ioc.command.trim_start_matches("./"));
        let meta = fs::metadata(&script).expect("the start command exists");
        assert!(meta.is_file() && meta.permissions().mode() & 0o111 != 0, "{} is not an executable file", script.display());
    }
    let _ = fs::remove_dir_all(base);
});
