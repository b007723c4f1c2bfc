//! Fuzzes the IOC file reader; what it accepts must render and read back to
//! the same file, and with its IOC_PORT set by `with_value` (what `ioc
//! install --local` writes) read back to the same file but for the port.
#![no_main]

use std::path::Path;

use iocinit::config::iocfile::{parse, render, with_value, IocFile, PORT};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok((file, _)) = parse(Path::new("x.conf"), text) {
        let rendered = render(&file);
        let (back, _) = parse(Path::new("x.conf"), &rendered).expect("a rendered file reads back");
        assert_eq!(back, file);
        let port = "unix:me:us:0660:/run/x \"$y\"/control";
        let (ported, _) = parse(Path::new("x.conf"), &with_value(text, PORT, port)).expect("a file with its port set reads back");
        assert_eq!(ported, IocFile { port: Some(port.into()), ..file });
    }
});
