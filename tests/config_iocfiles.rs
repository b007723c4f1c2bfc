//! epics-ioc-runner's IOC files: reading, writing, and how the IOC directory
//! becomes objects (a bad file is skipped, the board still boots).

mod common;

use std::path::{Path, PathBuf};

use common::*;
use iocinit::config::iocfile::{console_path, parse, render, runner_port, valid_ioc_name, write_atomic, IocFile};
use iocinit::config::{load_with, rescan_iocs_with, LoadOptions, MemFs, StopMethod, IOC_FILE_MAX, MAX_IOC_FILES};

const VAC1: &str = "\
# vac1: vacuum IOC
IOC_NAME=\"vac1\"
IOC_USER=\"ioc\"
IOC_GROUP=\"ioc\"

IOC_CHDIR=\"/opt/epics/iocs/vac1/iocBoot/iocvac1\"
IOC_PORT=\"unix:ioc-srv:ioc:0660:/run/procserv/vac1/control\"
IOC_CMD=\"./st.cmd\"
";

fn vac1() -> IocFile {
    IocFile {
        name: "vac1".into(),
        user: Some("ioc".into()),
        group: Some("ioc".into()),
        chdir: Some("/opt/epics/iocs/vac1/iocBoot/iocvac1".into()),
        port: Some(runner_port("vac1")),
        command: "./st.cmd".into(),
        extensions: Vec::new(),
        variables: Vec::new(),
    }
}

fn parse_errors(name: &str, text: &str) -> Vec<String> {
    let problems = parse(Path::new(name), text).expect_err("must fail");
    problems.iter().filter(|d| d.is_error()).map(|d| format!("{}:{}: {}", d.path.display(), d.line, d.message)).collect()
}

#[test]
fn ioc_names() {
    for good in ["vac1", "_x", "9", "a-b_c", &"x".repeat(64)] {
        assert!(valid_ioc_name(good), "{good}");
    }
    for bad in ["", "-a", "a.b", "a b", "é", &"x".repeat(65)] {
        assert!(!valid_ioc_name(bad), "{bad}");
    }
    assert_eq!(console_path("vac1"), PathBuf::from("/run/procserv/vac1/control"));
}

#[test]
fn a_file_as_epics_ioc_runner_writes_it() {
    let (file, warnings) = parse(Path::new("/etc/procServ.d/vac1.conf"), VAC1).unwrap();
    assert_eq!(file, vac1());
    assert!(warnings.is_empty());
}

#[test]
fn quoting_forms_and_comments() {
    let text = "  IOC_NAME=vac1\n  # a comment\nIOC_USER='ioc'\nIOC_CMD=\"./st.cmd\"' -x'\\ \n";
    // A backslash outside quotes is refused: quote the whole value instead.
    assert_eq!(parse_errors("vac1.conf", text).len(), 1);
    // Blanks after a value are fine; a comment there is not (systemd would
    // keep it in the value): src/config/iocfile.rs tests the refusals.
    // (IOC_CMD and IOC_CHDIR take fewer characters: values of the IOC's own.)
    let text = "IOC_NAME=vac1  \n# comment\nIOC_USER='ioc'\nIOC_CMD=x\nARGS=\"./st.cmd\"' -x $HOME'\nPLACE=\"/a \\\"b\\\" \\$c \\\\ \\`d\"\n";
    let (file, _) = parse(Path::new("vac1.conf"), text).unwrap();
    assert_eq!(file.variables[0].1, "./st.cmd -x $HOME");
    assert_eq!(file.variables[1].1, "/a \"b\" $c \\ `d");
    assert_eq!(file.user.as_deref(), Some("ioc"));
    assert_eq!((file.group, file.port), (None, None));
}

#[test]
fn what_a_shell_would_read_differently_is_refused() {
    let cases = [
        ("IOC_CMD=\"$HOME/st.cmd\"", "$ inside double quotes is expanded by a shell"),
        ("IOC_CMD=\"`id`\"", "` inside double quotes is expanded"),
        ("IOC_CMD=$HOME", "column 9: a character that means something to a shell"),
        ("IOC_CMD=\"./st.cmd", "unbalanced double quote"),
        ("IOC_CMD='./st.cmd", "unbalanced single quote"),
        ("IOC_CMD=./st.cmd extra", "a shell would run it as a command"),
        ("IOC_CMD=\"./st.cmd\"x;y", "column 20: a character that means something to a shell"),
        ("IOC_CMD=\"a\\nb\"", "a backslash inside double quotes may only escape"),
        ("IOC_CMD=\"./st.cmd\"\r", "column 19: a control character"),
        ("IOC_CMD = ./st.cmd", "expected KEY=\"value\" (no blanks around =)"),
        ("export IOC_CMD=./st.cmd", "expected KEY=\"value\""),
        ("1X=a", "expected KEY=\"value\""),
    ];
    for (line, part) in cases {
        let errors = parse_errors("vac1.conf", &format!("IOC_NAME=vac1\n{line}\nIOC_CMD=./st.cmd\n"));
        assert!(errors.iter().any(|e| e.starts_with("vac1.conf:2: ") && e.contains(part)), "{line}: {errors:?}");
    }
}

#[test]
fn values_and_names_are_checked() {
    let cases = [
        ("IOC_NAME=vac1\nIOC_NAME=vac2\nIOC_CMD=x", "vac1.conf:2: IOC_NAME given twice (first on line 1)"),
        ("IOC_NAME=vac2\nIOC_CMD=x", "vac1.conf:1: IOC_NAME does not match the file name: expected IOC_NAME=\"vac1\""),
        ("IOC_NAME=\"va c1\"\nIOC_CMD=x", "vac1.conf:1: IOC_NAME: expected an IOC name"),
        ("IOC_CMD=\"./st.cmd 2\"", "vac1.conf:1: IOC_CMD must be a single word"),
        ("IOC_NAME=vac1", "vac1.conf:0: IOC_CMD missing"),
        ("IOC_NAME=vac1\nIOC_CMD=''", "vac1.conf:2: IOC_CMD: expected one word naming an executable"),
        ("IOC_NAME=vac1\nIOC_CMD=x\nIOC_CHDIR=relative/dir", "vac1.conf:3: IOC_CHDIR must be an absolute path"),
        ("IOC_NAME=vac1\nIOC_CMD=x\n\nIOC_USER=a:b", "vac1.conf:4: IOC_USER: expected a user name"),
        ("IOC_NAME=vac1\nIOC_CMD=x\nIOC_GROUP='-g'", "vac1.conf:3: IOC_GROUP: expected a group name"),
    ];
    for (text, expected) in cases {
        let errors = parse_errors("vac1.conf", text);
        assert!(errors.iter().any(|e| e.starts_with(expected)), "{text:?}: {errors:?}");
    }
}

#[test]
fn other_variables_are_kept_and_other_ports_are_warnings() {
    let text = "IOC_NAME=vac1\nIOC_CMD=x\nIOC_PORT=2000\nEPICS_CA_MAX_ARRAY_BYTES=100000\n";
    let (file, warnings) = parse(Path::new("vac1.conf"), text).unwrap();
    assert_eq!(file.port.as_deref(), Some("2000"), "kept for writing back");
    assert_eq!(file.variables, [("EPICS_CA_MAX_ARRAY_BYTES".to_string(), "100000".to_string())]);
    let warnings: Vec<String> = warnings.iter().map(|d| format!("{}: {}", d.line, d.message)).collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].starts_with("3: IOC_PORT names another console: iocinit always serves it on /run/procserv/IOC_NAME/control"));
    let ok = parse(Path::new("vac1.conf"), "IOC_NAME=vac1\nIOC_CMD=x\nIOC_PORT=unix:/run/procserv/vac1/control\n").unwrap();
    assert!(ok.1.is_empty());
}

#[test]
fn render_round_trips() {
    let mut odd = IocFile::new("odd_1", "./st.cmd");
    odd.chdir = Some("/opt/it is here".into());
    odd.variables.push(("ARGS".into(), "-m \"P=$(IOC):\" `x` \\ it's".into()));
    for file in [vac1(), IocFile::new("x", "y"), odd] {
        file.check().unwrap();
        let text = render(&file);
        let (back, warnings) = parse(Path::new(&file.file_name()), &text).unwrap_or_else(|e| panic!("{text}\n{e:?}"));
        assert_eq!(back, file, "{text}");
        assert!(warnings.is_empty());
    }
    assert_eq!(render(&IocFile::new("x", "y")), "# epics-ioc-runner IOC file, written by iocinit\nIOC_NAME=\"x\"\nIOC_PORT=\"unix:ioc-srv:ioc:0660:/run/procserv/x/control\"\nIOC_CMD=\"y\"\n");
}

#[test]
fn write_atomic_writes_the_file_and_nothing_else() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("iocfile-write");
    let path = write_atomic(&dir.0, &vac1(), &render(&vac1()), 0o644).unwrap();
    assert_eq!(path, dir.path("vac1.conf"));
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(parse(&path, &text).unwrap().0, vac1());
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o644);
    // Replacing it leaves no temporary file behind.
    let mut changed = vac1();
    changed.command = "./other.cmd".into();
    write_atomic(&dir.0, &changed, &render(&changed), 0o644).unwrap();
    let names: Vec<_> = std::fs::read_dir(&dir.0).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, vec!["vac1.conf"]);
    // Invalid files are refused before anything is written.
    let bad = IocFile::new("bad/name", "x");
    assert_eq!(write_atomic(&dir.0, &bad, &render(&bad), 0o644).unwrap_err().kind(), std::io::ErrorKind::InvalidInput);
    let mut newline = vac1();
    newline.command = "a\nIOC_USER=root".into();
    assert!(write_atomic(&dir.0, &newline, &render(&newline), 0o644).is_err());
    assert!(write_atomic(&dir.path("missing"), &vac1(), &render(&vac1()), 0o644).is_err());
}

const BOARD: &str = "DefaultRunlevel default\nObjectID net\nObjectStartCommand ifup -a\nObjectStartPriority 3\nObjectStopPriority 9\nObjectRunlevels default\n";

fn board(extra_globals: &str, iocs: &[(&str, &str)]) -> iocinit::config::Loaded {
    let mut fs = MemFs::new().with(MAIN, format!("{extra_globals}{BOARD}"));
    for (name, text) in iocs {
        fs.insert(format!("/etc/procServ.d/{name}"), text.as_bytes());
    }
    load_with(&fs, Path::new(MAIN), &LoadOptions::default())
}

#[test]
fn each_ioc_file_becomes_an_object() {
    let loaded = board("", &[("vac1.conf", VAC1), ("b.conf", "IOC_NAME=b\nIOC_CMD=./st.cmd\n"), ("README", "not an IOC"), ("b.conf.bak", "x")]);
    assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
    let config = loaded.config.unwrap();
    let ids: Vec<&str> = config.objects.iter().map(|o| o.id.as_str()).collect();
    assert_eq!(ids, vec!["net", "b", "vac1"], "IOC files sorted by name, after the objects");
    let vac1 = &config.objects[2];
    assert_eq!(config.files[vac1.location.file], PathBuf::from("/etc/procServ.d/vac1.conf"));
    assert_eq!(vac1.location.line, 1);
    assert_eq!(vac1.description, "IOC vac1");
    assert_eq!((vac1.start_priority, vac1.stop_priority), (4, 1), "after every other object; stopped first");
    assert_eq!(vac1.runlevels.iter().collect::<Vec<_>>(), ["default"]);
    // Installed is not enabled (epics-ioc-runner): only `ioc enable` or
    // IocEnabled start an IOC at boot.
    assert!(!vac1.enabled && vac1.options.autorestart);
    assert_eq!(vac1.stop, StopMethod::Pid);
    let console = vac1.console.as_ref().unwrap();
    assert!(console.from_ioc_file);
    // procServ runs the object's own values, the file's (not copies).
    assert_eq!((vac1.id.as_str(), vac1.start.as_deref()), ("vac1", Some("./st.cmd")));
    assert_eq!((vac1.rare().user.as_deref(), vac1.rare().group.as_deref()), (Some("ioc"), Some("ioc")));
    assert_eq!(vac1.rare().working_directory.as_deref(), Some(Path::new("/opt/epics/iocs/vac1/iocBoot/iocvac1")));
    assert_eq!(console.environment().next(), Some("IOC_NAME=vac1"));
    assert_eq!(config.start_order("default"), vec![0]);
    assert_eq!(config.stop_order(), vec![1, 2, 0]);
    let enabled = board("IocEnabled true\n", &[("vac1.conf", VAC1)]).config.unwrap();
    assert!(enabled.objects[1].enabled);
    assert_eq!(enabled.start_order("default"), vec![0, 1]);
}

#[test]
fn ioc_globals_shape_the_ioc_objects() {
    let globals = "DefinePriority iocs 50\nIocStartPriority iocs\nIocStopPriority 2\nIocRunlevels default maint\n";
    let config = board(globals, &[("b.conf", "IOC_NAME=b\nIOC_CMD=x\n")]).config.unwrap();
    let b = &config.objects[1];
    assert_eq!((b.start_priority, b.stop_priority), (50, 2));
    assert_eq!(b.runlevels.iter().collect::<Vec<_>>(), ["default", "maint"]);
    assert!(config.runlevel("maint").is_some());
}

#[test]
fn one_bad_ioc_file_never_stops_the_others() {
    let loaded = board("", &[("a.conf", "IOC_NAME=a\nIOC_CMD=\"$(oops)\"\n"), ("b.conf", "IOC_NAME=b\nIOC_CMD=x\n")]);
    assert!(loaded.has_errors(), "check-config fails");
    let config = loaded.config.as_ref().expect("but the board still boots");
    assert_eq!(config.objects.iter().map(|o| o.id.as_str()).collect::<Vec<_>>(), vec!["net", "b"]);
    let errors = errors(&loaded);
    assert_eq!(errors, vec!["a.conf:2: column 10: $ inside double quotes is expanded by a shell: expected \\$, or the value in single quotes"]);
    assert!(warnings(&loaded)[0].starts_with("a.conf:0: this IOC is not started"));
}

#[test]
fn an_ioc_named_like_an_object_is_skipped() {
    let loaded = board("", &[("net.conf", "IOC_NAME=net\nIOC_CMD=x\n")]);
    assert_eq!(errors(&loaded), vec!["net.conf:0: IOC net has the name of the object declared at /etc/epoch/epoch.conf:2: expected a name no ObjectID uses; this IOC is not started"]);
    assert_eq!(loaded.config.unwrap().objects.len(), 1);
}

#[test]
fn ioc_files_that_are_not_text() {
    let mut fs = MemFs::new().with(MAIN, BOARD);
    fs.insert("/etc/procServ.d/a.conf", b"IOC_NAME=a\nIOC_CMD=\xff\n".to_vec());
    let loaded = load_with(&fs, Path::new(MAIN), &LoadOptions::default());
    assert_eq!(errors(&loaded), vec!["a.conf:2: line is not valid UTF-8: expected text"]);
}

#[test]
fn the_ioc_directory_comes_from_the_option_or_the_global() {
    let dir = TempDir::new("iocdir");
    dir.write("iocs/b.conf", "IOC_NAME=b\nIOC_CMD=x\n");
    let main = dir.write("epoch.conf", &format!("IocDirectory {}\n{BOARD}", dir.path("iocs").display()));
    let loaded = iocinit::config::load(&main, &LoadOptions::default());
    assert_eq!(loaded.config.unwrap().objects.len(), 2);
    // --ioc-dir wins over IocDirectory; a missing directory means no IOCs.
    let options = LoadOptions { strict_epoch: false, ioc_dir: Some(dir.path("none")) };
    let config = iocinit::config::load(&main, &options).config.unwrap();
    assert_eq!((config.objects.len(), config.globals.ioc.directory.clone()), (1, dir.path("none")));
}

#[test]
fn only_a_file_that_may_choose_keeps_its_credentials_in_the_model() {
    let fs = MemFs::new()
        .with(MAIN, BOARD)
        .with("/etc/procServ.d/a.conf", "IOC_NAME=a\nIOC_USER=root\nIOC_CMD=x\n")
        .with_untrusted("/etc/procServ.d/b.conf", "IOC_NAME=b\nIOC_USER=root\nIOC_CMD=x\n");
    let config = load_with(&fs, Path::new(MAIN), &LoadOptions::default()).config.unwrap();
    let may_choose: Vec<(&str, bool)> =
        config.objects[1..].iter().map(|o| (o.id.as_str(), o.console.as_ref().unwrap().may_choose_credentials)).collect();
    assert_eq!(may_choose, [("a", true), ("b", false)]);
    assert_eq!(config.globals.ioc.user, "ioc-srv", "the default IocUser");
}

#[test]
fn an_ioc_file_above_the_size_limit_is_an_error_for_it_alone() {
    let big = format!("IOC_NAME=big\nIOC_CMD=x\n{}", "#\n".repeat(IOC_FILE_MAX as usize));
    let loaded = board("", &[("big.conf", &big), ("b.conf", "IOC_NAME=b\nIOC_CMD=x\n")]);
    assert_eq!(errors(&loaded), vec!["big.conf:0: larger than 64 KiB: expected an IOC file of a few lines"]);
    assert_eq!(loaded.config.unwrap().objects.len(), 2);
}

#[test]
fn a_refused_file_is_never_quoted() {
    let secret = "root:$6$hunter2:19000::\nIOC_NAME=\"hunter2 x\"\nIOC_USER=\"hunter2:\"\nhunter2=`x`\nIOC_PORT=hunter2\nIOC_CMD=\"hunter2\" hunter2\n";
    let loaded = board("", &[("t.conf", secret)]);
    let all: Vec<String> = loaded.diagnostics.iter().map(|d| d.to_string()).collect();
    assert!(all.len() >= 5, "{all:?}");
    assert!(all.iter().all(|d| !d.contains("hunter2") && !d.contains("19000")), "{all:?}");
}

#[test]
fn a_rescan_reads_the_ioc_directory_and_keeps_the_rest() {
    let fs = MemFs::new().with(MAIN, BOARD).with("/etc/procServ.d/a.conf", "IOC_NAME=a\nIOC_CMD=x\n");
    let loaded = load_with(&fs, Path::new(MAIN), &LoadOptions::default()).config.unwrap();
    let base = loaded.without_ioc_files();
    assert_eq!((base.objects.len(), base.files.len()), (1, 1));
    // epoch.conf changed (root's unfinished edit), an IOC file came and one went.
    let fs = MemFs::new()
        .with(MAIN, "this is no configuration\n")
        .with("/etc/procServ.d/b.conf", "IOC_NAME=b\nIOC_CMD=y\n")
        .with("/etc/procServ.d/c.conf", "IOC_NAME=c\nIOC_CMD=z\n");
    let rescanned = rescan_iocs_with(&fs, base);
    assert!(rescanned.diagnostics.is_empty(), "{:?}", rescanned.diagnostics);
    let config = rescanned.config.unwrap();
    let ids: Vec<&str> = config.objects.iter().map(|o| o.id.as_str()).collect();
    assert_eq!(ids, ["net", "b", "c"]);
    assert_eq!(config.files.len(), 3);
    assert_eq!(config.objects[2].location.file, 2);
    assert_eq!(config.objects[1].start_priority, 4, "after net, as at load");
    assert_eq!(config.objects[1].runlevels.iter().collect::<Vec<_>>(), ["default"]);
}

#[test]
fn a_directory_flooded_with_ioc_files_is_read_only_up_to_the_limit() {
    // The IOC group writes the directory: ten thousand files must not become
    // ten thousand objects (and reads, and log lines) in PID 1.
    let names: Vec<String> = (0..10_000).map(|k| format!("i{k:05}.conf")).collect();
    let files: Vec<(String, String)> = names.iter().map(|n| (n.clone(), format!("IOC_NAME={}\nIOC_CMD=x\n", n.trim_end_matches(".conf")))).collect();
    let iocs: Vec<(&str, &str)> = files.iter().map(|(n, t)| (n.as_str(), t.as_str())).collect();
    let loaded = board("", &iocs);
    let config = loaded.config.expect("the board still boots");
    assert_eq!(config.objects.len(), 1 + MAX_IOC_FILES);
    assert_eq!(config.objects[MAX_IOC_FILES].id, format!("i{:05}", MAX_IOC_FILES - 1), "the first by name");
    let errors: Vec<String> = loaded.diagnostics.iter().filter(|d| d.is_error()).map(|d| d.to_string()).collect();
    assert_eq!(errors.len(), 1, "one diagnostic, not one per file: {errors:?}");
    assert!(errors[0].contains(&format!("{} IOC file(s) after the first {MAX_IOC_FILES}", 10_000 - MAX_IOC_FILES)), "{errors:?}");
}
