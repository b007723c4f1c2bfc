//! A configuration loads with a bounded number of heap allocations per
//! object: what it keeps besides its strings, not one per string it keeps
//! (its strings, its runlevels among them, are ranges of its file's text,
//! then of one text for the whole configuration), per line, per attribute
//! or per check. Allocation counts are exact, so
//! this holds on any machine however loaded; the time a load takes is
//! `cargo bench --bench config_parse`'s to print.
//! Needs the counting allocator: `cargo test --features alloc-count --test config_alloc`.

use std::fmt::Write;
use std::path::Path;

use iocinit::config::{load_with, LoadOptions, MemFs};

const MAIN: &str = "/etc/epoch/epoch.conf";

/// `objects` objects of ten lines each (a comment among them), of which an
/// object keeps one allocation: its rare settings (`config::RareSettings`:
/// here the reload command; its ID, description, start command and
/// runlevels are ranges of one shared text).
fn config(objects: usize) -> MemFs {
    let mut text = String::from("DefaultRunlevel default\n");
    for k in 0..objects {
        let _ = write!(
            text,
            "ObjectID svc{k}\n  ObjectStartCommand /usr/sbin/svc{k} -f\n  ObjectStartPriority 5\n  ObjectStopPriority=5\n\
             \x20 # a comment\n  ObjectRunlevels default\n  ObjectOptions SERVICE AUTORESTART STOPTIMEOUT=5\n\
             \x20 ObjectStopCommand PID\n  ObjectReloadCommand SIGNAL SIGHUP\n  ObjectEnabled true\n"
        );
    }
    MemFs::new().with(MAIN, text)
}

/// The allocations of one load of `files`.
fn allocations_of_a_load(files: &MemFs) -> u64 {
    let count = || iocinit::alloc_count::allocations().expect("built without the alloc-count feature");
    let before = count();
    let loaded = load_with(files, Path::new(MAIN), &LoadOptions::default());
    let after = count();
    assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics.first());
    after - before
}

/// What each further object costs, from loads of 1,000 and 2,000 objects
/// (the difference leaves out what a load costs once): the allocation an
/// object keeps, and less than one more for the lists that grow (objects,
/// the ID index). The loader before this bound made nine, then five and a
/// bit (a heap string per value kept).
#[test]
fn allocations_grow_with_what_objects_keep_not_with_lines() {
    let (small, large) = (config(1_000), config(2_000));
    let (small, large) = (allocations_of_a_load(&small), allocations_of_a_load(&large));
    let per_object = (large - small) as f64 / 1_000.0;
    assert!(per_object <= 3.0, "{per_object} allocations per object ({small} for 1,000 objects, {large} for 2,000)");
    // And a load does not cost much besides: the files, the lists, the globals.
    assert!(small <= 3 * 1_000 + 200, "{small} allocations for 1,000 objects");
}
