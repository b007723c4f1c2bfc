//! Fuzzes the whole load: the input is split at the first two NUL bytes into
//! epoch.conf, an imported file and an IOC file, all in memory. The load must
//! never panic, and a usable configuration must dump to JSON.
#![no_main]

use std::path::Path;

use iocinit::config::{dump, load_with, LoadOptions, MemFs};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(3, |&b| b == 0);
    let main = parts.next().unwrap_or_default();
    let imported = parts.next().unwrap_or_default();
    let ioc = parts.next().unwrap_or_default();
    let files = MemFs::new()
        .with("/etc/epoch/epoch.conf", main)
        .with("/etc/epoch/a.conf", imported)
        .with("/etc/procServ.d/x.conf", ioc);
    for strict_epoch in [false, true] {
        let loaded = load_with(&files, Path::new("/etc/epoch/epoch.conf"), &LoadOptions { strict_epoch, ioc_dir: None });
        if let Some(config) = &loaded.config {
            let _ = dump::to_json(config, &loaded.diagnostics);
        }
    }
});
