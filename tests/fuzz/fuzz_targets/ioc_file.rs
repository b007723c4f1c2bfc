//! Fuzzes the IOC file reader; what it accepts must render and read back to
//! the same file.
#![no_main]

use std::path::Path;

use iocinit::config::iocfile::{parse, render};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok((file, _)) = parse(Path::new("x.conf"), text) {
        let rendered = render(&file);
        let (back, _) = parse(Path::new("x.conf"), &rendered).expect("a rendered file reads back");
        assert_eq!(back, file);
    }
});
