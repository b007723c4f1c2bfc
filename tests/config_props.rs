//! Property tests: no input, however broken, makes the parsers panic, and
//! what they report stays consistent (a usable configuration exactly when
//! epoch.conf and its Imports have no error; every line number exists).

mod common;

use std::path::Path;

use common::MAIN;
use iocinit::config::iocfile::{self, IocFile};
use iocinit::config::{load_with, Diagnostic, LoadOptions, Loaded, MemFs};
use proptest::prelude::*;

const IMPORTED: &str = "/etc/epoch/a.conf";
const IOC_DIR: &str = "/etc/procServ.d";

fn load_all(main: Vec<u8>, imported: Vec<u8>, ioc: Vec<u8>, strict: bool) -> Loaded {
    let fs = MemFs::new().with(MAIN, main).with(IMPORTED, imported).with(format!("{IOC_DIR}/x.conf"), ioc);
    load_with(&fs, Path::new(MAIN), &LoadOptions { strict_epoch: strict, ioc_dir: None })
}

fn line_count(text: &[u8]) -> u32 {
    text.split(|&b| b == b'\n').count() as u32
}

/// The invariants every load keeps.
fn check_invariants(loaded: &Loaded, files: &[(&str, &[u8])]) {
    let fatal = loaded.diagnostics.iter().any(|d| d.is_error() && !d.path.starts_with(IOC_DIR));
    assert_eq!(loaded.config.is_some(), !fatal, "{:?}", loaded.diagnostics);
    for d in &loaded.diagnostics {
        let (_, text) = files.iter().find(|(p, _)| Path::new(p) == d.path).unwrap_or_else(|| panic!("unknown file in {d}"));
        assert!(d.line <= line_count(text), "line out of range: {d}");
        assert!(!d.message.is_empty());
    }
    if let Some(config) = &loaded.config {
        for o in &config.objects {
            assert!(o.location.file < config.files.len());
            assert!(!o.description.is_empty());
        }
        // The dump must always be valid JSON.
        let json = iocinit::config::dump::to_json(config, &loaded.diagnostics);
        serde_json::from_str::<serde_json::Value>(&json).expect("valid JSON");
    }
}

const ATTRIBUTES: &[&str] = &[
    "Import", "DefaultRunlevel", "RunlevelInherits", "DefinePriority", "DisableCAD", "BootBannerText", "BootBannerColor",
    "Hostname", "Domainname", "MountVirtual", "EnableLogging", "BlankLogOnBoot", "GlobalEnvVar", "StartingStatusFormat",
    "FinishedStatusFormat", "StatusNames", "IocDirectory", "IocGroup", "IocSocketUser", "IocStartPriority",
    "IocStopPriority", "IocRunlevels", "IocLogDirectory", "IocLogMaxSize", "IocLogKeep", "IocHoldoff", "ProcServ",
    "ObjectID", "ObjectID", "ObjectID", "ObjectDescription", "ObjectReloadCommand", "ObjectPrestartCommand",
    "ObjectStartCommand", "ObjectStartCommand", "ObjectStopCommand", "ObjectStartPriority", "ObjectStopPriority",
    "ObjectPIDFile", "ObjectWorkingDirectory", "ObjectUser", "ObjectGroup", "ObjectStdout", "ObjectStderr",
    "ObjectEnvVar", "ObjectEnabled", "ObjectRunlevels", "ObjectRunlevels", "ObjectOptions", "ObjectOptions",
    "objectid", "Bogus", "#", ">!>", "<!<", "",
];

const VALUES: &[&str] = &[
    "default", "default", "a", "b", "x y", "1", "0", "4294967296", "-1", "true", "false", "SIGTERM", "TERM", "64", "65",
    "FILE /x", "FILE", "PID", "PIDFILE", "PIDFILE /run/p", "KILLALL5 9 2", "KILLALL5 x", "NONE", "SERVICE FORK",
    "PIVOT EXEC", "HALTONLY", "MAPEXITSTATUS=2,WARNING", "MAPEXITSTATUS=999,X", "TERMSIGNAL=FOO", "PROCSERV",
    "STOPTIMEOUT=3 NOSTOPWAIT", "procfs+ sysfs", "A=b", "é", "", "a.conf", "/etc/epoch/a.conf", "epoch.conf", "../x",
    "LOG", "SIGNAL 1", "SIGNAL", "a,b,c", "=", ">!>", "<!<", "default other", "p 5", "p", "RED", "/a /b",
];

fn line_strategy() -> impl Strategy<Value = String> {
    let indent = prop::sample::select(vec!["", " ", "\t", "  \t"]);
    let delimiter = prop::sample::select(vec![" ", "\t", "=", " = ", "==", "", "  "]);
    let attribute = prop::sample::select(ATTRIBUTES.to_vec());
    let value = prop::sample::select(VALUES.to_vec());
    let tail = prop::sample::select(vec!["", " ", "\r", " # c", "\t<!< ObjectEnabled true"]);
    (indent, attribute, delimiter, value, tail).prop_map(|(i, a, d, v, t)| format!("{i}{a}{d}{v}{t}"))
}

fn config_strategy() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(line_strategy(), 0..40).prop_map(|lines| lines.join("\n").into_bytes())
}

const IOC_KEYS: &[&str] = &["IOC_NAME", "IOC_USER", "IOC_GROUP", "IOC_CHDIR", "IOC_PORT", "IOC_CMD", "OTHER", "#", "1X", ""];
const IOC_VALUES: &[&str] = &[
    "x", "\"x\"", "'x'", "\"./st.cmd -x\"", "\"$HOME\"", "`id`", "\"a", "'a", "\"a\\\"b\"", "\"a\\q\"", "/opt/x", "rel",
    "\"unix:ioc-srv:ioc:0660:/run/procserv/x/control\"", "2000", "a b", "a # c", "\"\"", "é", "a;b", "\\", "",
];

fn ioc_strategy() -> impl Strategy<Value = Vec<u8>> {
    let line = (prop::sample::select(IOC_KEYS.to_vec()), prop::sample::select(vec!["=", " =", ""]), prop::sample::select(IOC_VALUES.to_vec()))
        .prop_map(|(k, d, v)| format!("{k}{d}{v}"));
    prop::collection::vec(line, 0..10).prop_map(|lines| lines.join("\n").into_bytes())
}

fn valid_ioc_file() -> impl Strategy<Value = IocFile> {
    (
        "[A-Za-z0-9_][A-Za-z0-9_-]{0,63}",
        prop::option::of("[a-z_][a-z0-9_.-]{0,31}"),
        prop::option::of("[a-z_][a-z0-9_.-]{0,31}"),
        // An absolute IOC_CHDIR without `..`, a one-word IOC_CMD: what
        // epics-ioc-runner accepts (CONFIG.md, "IOC files").
        prop::option::of("(/[A-Za-z0-9_-][A-Za-z0-9_.-]{0,7}){1,3}"),
        prop::option::of("[ -~]{1,20}"),
        "[A-Za-z0-9_./][A-Za-z0-9_./:-]{0,20}",
    )
        .prop_map(|(name, user, group, chdir, port, command)| IocFile { name, user, group, chdir, port, command, extensions: Vec::new(), variables: Vec::new() })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(main in prop::collection::vec(any::<u8>(), 0..600),
                                   imported in prop::collection::vec(any::<u8>(), 0..200),
                                   ioc in prop::collection::vec(any::<u8>(), 0..200),
                                   strict in any::<bool>()) {
        let loaded = load_all(main.clone(), imported.clone(), ioc.clone(), strict);
        check_invariants(&loaded, &[(MAIN, &main), (IMPORTED, &imported), ("/etc/procServ.d/x.conf", &ioc)]);
    }

    #[test]
    fn structured_configs_never_panic(main in config_strategy(), imported in config_strategy(), ioc in ioc_strategy(), strict in any::<bool>()) {
        let loaded = load_all(main.clone(), imported.clone(), ioc.clone(), strict);
        check_invariants(&loaded, &[(MAIN, &main), (IMPORTED, &imported), ("/etc/procServ.d/x.conf", &ioc)]);
    }

    #[test]
    fn ioc_files_never_panic(text in "(?s).{0,300}", structured in ioc_strategy()) {
        for text in [text, String::from_utf8_lossy(&structured).into_owned()] {
            match iocfile::parse(Path::new("x.conf"), &text) {
                Ok((file, warnings)) => {
                    prop_assert!(warnings.iter().all(|d| !d.is_error()));
                    prop_assert!(file.check().is_ok(), "{:?}", file);
                }
                Err(problems) => prop_assert!(problems.iter().any(Diagnostic::is_error)),
            }
        }
    }

    #[test]
    fn ioc_files_round_trip(file in valid_ioc_file()) {
        prop_assume!(file.check().is_ok());
        let text = iocfile::render(&file);
        let (back, _) = iocfile::parse(Path::new(&file.file_name()), &text).map_err(|e| TestCaseError::fail(format!("{text}\n{e:?}")))?;
        prop_assert_eq!(back, file);
    }
}
