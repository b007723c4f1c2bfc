//! Fuzzes PID 1's command lines: /proc/cmdline's words (`parse_cmdline`)
//! and the arguments the kernel hands init (`cli::init::parse_args`, which
//! must take anything, bytes that are not UTF-8 included, and never fail).
//!
//! Input: the command line; split at NULs, the same bytes are init's argv.
#![no_main]

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

use iocinit::cli::init::parse_args;
use iocinit::pid1::parse_cmdline;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let cmdline = String::from_utf8_lossy(data);
    let args = parse_cmdline(&cmdline);
    // The words are split at ASCII whitespace, as the kernel splits them.
    let blank = |c: char| c.is_ascii() && c.is_whitespace();
    // Object IDs are whole words between commas: never empty, never blank.
    for id in args.boot.start.iter().chain(&args.boot.skip) {
        assert!(!id.is_empty() && !id.contains(',') && !id.contains(blank), "{id:?}");
    }
    for v in args.boot.runlevel.iter().map(String::as_str).chain(args.config.iter().filter_map(|p| p.to_str())) {
        assert!(!v.is_empty() && !v.contains(blank), "{v:?}");
    }
    let argv: Vec<OsString> = data.split(|&b| b == 0).map(|w| OsString::from_vec(w.to_vec())).collect();
    let parsed = parse_args(argv);
    let _ = format!("{parsed:?}");
});
