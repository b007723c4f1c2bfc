//! What PID 1 keeps per IOC file: the heap bytes that a configuration of IOC
//! files holds once loaded and its plans built (the configuration's object,
//! its console, the plan and the procServ command), per IOC. A board runs
//! many IOCs: an IOC must not cost several times what a service does
//! (docs/ARCHITECTURE.md, "PID 1's memory, page by page"). Byte counts are
//! exact, so this holds on any machine however loaded.
//! Needs the counting allocator: `cargo test --features alloc-count --test ioc_alloc`.

use std::fmt::Write;
use std::path::Path;

use iocinit::config::{load_with, LoadOptions, MemFs};
use iocinit::engine::plan;
use iocinit::layout::Layout;

const MAIN: &str = "/etc/epoch/epoch.conf";

/// An epoch.conf with one service and `iocs` IOC files as a board has them.
fn config(iocs: usize) -> MemFs {
    let mut files = MemFs::new().with(
        MAIN,
        "DefaultRunlevel default\nIocGroup root\nIocLogDirectory /var/log/procserv\nIocEnabled true\n\
         ObjectID net\nObjectStartCommand /usr/libexec/iocinit/net-up eth0\nObjectStartPriority 1\nObjectRunlevels default\n",
    );
    for k in 0..iocs {
        let mut text = String::new();
        let _ = write!(
            text,
            "IOC_NAME=\"ioc{k:02}\"\nIOC_USER=\"root\"\nIOC_GROUP=\"root\"\nIOC_CHDIR=\"/opt/iocs/ioc{k:02}/iocBoot/iocioc{k:02}\"\nIOC_CMD=\"./st.cmd\"\n"
        );
        files = files.with(format!("/etc/procServ.d/ioc{k:02}.conf"), text);
    }
    files
}

/// Heap bytes that the configuration of `files` and its plans hold.
fn kept_bytes(files: &MemFs) -> i64 {
    let live = || iocinit::alloc_count::thread_live_bytes().expect("built without the alloc-count feature");
    let before = live();
    let loaded = load_with(files, Path::new(MAIN), &LoadOptions::default());
    let config = loaded.config.unwrap_or_else(|| panic!("{:?}", loaded.diagnostics));
    let (plans, problems) = plan::build(&config, &Layout::system());
    assert!(problems.is_empty(), "{problems:?}");
    let kept = live() - before;
    drop((config, plans, loaded.diagnostics));
    kept
}

/// The bytes of each further IOC, from configurations of 1 and 33 (the
/// difference leaves out what a configuration costs once): 2,658 bytes on
/// x86_64 in round 11, 2,232 in round 13 (the console's copies of the
/// object's values gone, its environment one string of the object's text),
/// 2,168 with the console's five paths in one allocation.
/// The ceiling leaves room for a string or two more (another machine's root
/// may have more groups), not for a copy of an IOC's values or environment.
#[test]
fn an_ioc_keeps_a_bounded_number_of_bytes() {
    // A first load outside the count: what a process sets up once (the
    // shared strings, NSS) is not an IOC's.
    kept_bytes(&config(1));
    let (one, many) = (kept_bytes(&config(1)), kept_bytes(&config(33)));
    let per_ioc = (many - one) / 32;
    eprintln!("{per_ioc} bytes per IOC ({one} with 1 IOC, {many} with 33)");
    assert!(per_ioc <= 2_300, "{per_ioc} bytes per IOC ({one} with 1 IOC, {many} with 33)");
}
