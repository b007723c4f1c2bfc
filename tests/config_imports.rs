//! Import on the real filesystem: relative and absolute paths, nesting,
//! cycles and missing files (with the chain named), and objects that may not
//! continue across files.

mod common;

use common::*;
use iocinit::config::{load, LoadOptions, Loaded};

fn load_dir(dir: &TempDir) -> Loaded {
    load(&dir.path("epoch.conf"), &LoadOptions { strict_epoch: false, ioc_dir: Some(dir.path("no-iocs")) })
}

#[test]
fn relative_imports_are_found_in_the_main_files_directory() {
    let dir = TempDir::new("import-relative");
    dir.write("epoch.conf", &format!("DefaultRunlevel default\nImport services.conf\n{}Import=sub/more.conf\n", object("first")));
    dir.write("services.conf", &object("svc"));
    // Relative to the main file's directory, not to sub/.
    dir.write("sub/more.conf", &format!("{}Import third.conf\n", object("more")));
    dir.write("third.conf", &object("third"));
    let loaded = load_dir(&dir);
    assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
    let config = loaded.config.unwrap();
    let ids: Vec<&str> = config.objects.iter().map(|o| o.id.as_str()).collect();
    assert_eq!(ids, vec!["svc", "first", "more", "third"]);
    assert_eq!(config.files, vec![dir.path("epoch.conf"), dir.path("services.conf"), dir.path("sub/more.conf"), dir.path("third.conf")]);
    let more = &config.objects[2];
    assert_eq!((config.files[more.location.file].clone(), more.location.line), (dir.path("sub/more.conf"), 1));
}

#[test]
fn absolute_imports() {
    let dir = TempDir::new("import-absolute");
    let elsewhere = TempDir::new("import-absolute-other");
    let other = elsewhere.write("other.conf", &object("other"));
    dir.write("epoch.conf", &format!("DefaultRunlevel default\nImport {}\n", other.display()));
    let config = load_dir(&dir).config.expect("valid");
    assert_eq!(config.objects[0].id, "other");
    assert_eq!(config.files[1], other);
}

#[test]
fn an_import_cycle_names_the_chain() {
    let dir = TempDir::new("import-cycle");
    dir.write("epoch.conf", &format!("DefaultRunlevel default\n{}Import a.conf\n", object("x")));
    dir.write("a.conf", "# a\nImport b.conf\n");
    dir.write("b.conf", "Import a.conf\n");
    let loaded = load_dir(&dir);
    let d = dir.0.display();
    assert_one_error(
        &loaded,
        "b.conf:1",
        &format!("Import cycle: {d}/epoch.conf:6 -> {d}/a.conf:2 -> {d}/b.conf:1 -> {d}/a.conf: expected no file to import itself"),
    );
}

#[test]
fn a_file_importing_itself_and_a_cycle_through_a_symlink() {
    let dir = TempDir::new("import-self");
    dir.write("epoch.conf", &format!("DefaultRunlevel default\n{}Import epoch.conf\n", object("x")));
    assert_one_error(&load_dir(&dir), "epoch.conf:6", "Import cycle");

    let dir = TempDir::new("import-symlink");
    dir.write("epoch.conf", &format!("DefaultRunlevel default\n{}Import a.conf\n", object("x")));
    dir.write("a.conf", "Import link.conf\n");
    std::os::unix::fs::symlink(dir.path("epoch.conf"), dir.path("link.conf")).unwrap();
    assert_one_error(&load_dir(&dir), "a.conf:1", "Import cycle");
}

#[test]
fn a_missing_import_names_the_chain() {
    let dir = TempDir::new("import-missing");
    dir.write("epoch.conf", &format!("DefaultRunlevel default\n{}Import a.conf\n", object("x")));
    dir.write("a.conf", "\n\nImport /nonexistent/missing.conf\n");
    let loaded = load_dir(&dir);
    let d = dir.0.display();
    assert_one_error(&loaded, "a.conf:3", "Import: cannot read /nonexistent/missing.conf: No such file or directory");
    assert!(errors(&loaded)[0].ends_with(&format!("(import chain: {d}/epoch.conf:6 -> {d}/a.conf:3 -> /nonexistent/missing.conf)")));
}

#[test]
fn a_file_imported_twice() {
    let dir = TempDir::new("import-twice");
    dir.write("epoch.conf", &format!("DefaultRunlevel default\nImport a.conf\nImport ./b.conf\n{}", object("x")));
    dir.write("a.conf", "Import b.conf\n");
    dir.write("b.conf", "EnableLogging true\n");
    let loaded = load_dir(&dir);
    assert_one_error(&loaded, "epoch.conf:3", &format!("already imported at {}/a.conf:1", dir.0.display()));
}

#[test]
fn an_object_cannot_continue_in_an_imported_file() {
    let dir = TempDir::new("import-split");
    dir.write("epoch.conf", "DefaultRunlevel default\nObjectID a\nObjectStartCommand x\nImport rest.conf\n");
    dir.write("rest.conf", "# the rest of object a\nObjectRunlevels default\n");
    let loaded = load_dir(&dir);
    let e = errors(&loaded);
    assert!(e[0].starts_with("rest.conf:2: ObjectRunlevels with no object open in this file (objects must be completed within one file"), "{e:?}");
}

#[test]
fn an_import_ends_the_object_before_it() {
    let dir = TempDir::new("import-ends");
    dir.write("epoch.conf", &format!("DefaultRunlevel default\n{}Import empty.conf\nObjectEnabled false\n", object("a")));
    dir.write("empty.conf", "# nothing\n");
    assert_one_error(&load_dir(&dir), "epoch.conf:7", "ObjectEnabled with no object open in this file");
}

#[test]
fn globals_in_imported_files_follow_the_same_rules() {
    let dir = TempDir::new("import-globals");
    dir.write("epoch.conf", &format!("Import globals.conf\n{}Import late.conf\n", object("a")));
    dir.write("globals.conf", "DefaultRunlevel default\nHostname board\n");
    dir.write("late.conf", &format!("{}Hostname again\n", object("b")));
    let loaded = load_dir(&dir);
    assert_one_error(&loaded, "late.conf:5", &format!("Hostname after the first ObjectID (at {}/epoch.conf:2)", dir.0.display()));
}

#[test]
fn a_missing_main_file() {
    let dir = TempDir::new("import-nomain");
    let loaded = load_dir(&dir);
    assert_one_error(&loaded, "epoch.conf:0", "cannot read the configuration: No such file or directory");
}
