//! Every object attribute and option of epoch.conf, valid and invalid, the
//! rules that combine them, and the line syntax (comments, `=`, blanks).

mod common;

use std::path::Path;

use common::*;
use iocinit::config::{Console, ExitResult, Object, Output, ReloadMethod, StopMethod};

/// The only object of `with_prelude(ObjectID a + lines)`; lines start at line 3.
fn object_a(lines: &str) -> Object {
    valid(&with_prelude(&format!("ObjectID a\nObjectRunlevels default\n{lines}"))).objects.remove(0)
}

/// Loads `ObjectID a` + runlevel + `lines` (which start at line 4).
fn load_a(lines: &str) -> iocinit::config::Loaded {
    load(&with_prelude(&format!("ObjectID a\nObjectRunlevels default\n{lines}")))
}

#[test]
fn the_seed_example_block() {
    let text = "DefaultRunlevel turnips\n\
        ObjectID objectname\n\
        \tObjectDescription Object Name\n\
        \tObjectPrestartCommand thing\n\
        \tObjectStartCommand thingy\n\
        \tObjectStopCommand=PID\n\
        \tObjectReloadCommand stuff\n\
        \tObjectStartPriority 1\n\
        \tObjectStopPriority=1\n\
        \tObjectRunlevels turnips\n\
        \tObjectOptions=SERVICE TERMSIGNAL=15 FORCESHELL\n\
        \tObjectEnabled=true\n";
    let loaded = load_strict(text);
    assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
    let o = &loaded.config.unwrap().objects[0];
    assert_eq!((o.id.as_str(), o.description.as_str()), ("objectname", "Object Name"));
    assert_eq!((o.rare().prestart.as_deref(), o.start.as_deref()), (Some("thing"), Some("thingy")));
    assert_eq!(o.stop, StopMethod::Pid);
    assert_eq!(o.rare().reload, Some(ReloadMethod::Command("stuff".into())));
    assert_eq!((o.start_priority, o.stop_priority), (1, 1));
    assert_eq!(o.runlevels.iter().collect::<Vec<_>>(), ["turnips"]);
    assert!(o.options.service && o.options.force_shell);
    assert_eq!(o.options.term_signal, Some(15));
    assert!(o.enabled);
    assert_eq!(o.enabled_location().map(|l| l.line), Some(12));
    assert_eq!(o.location.line, 2);
}

#[test]
fn object_id() {
    let config = valid(&with_prelude(&format!("{}{}", object("a"), object("b_2.x"))));
    assert_eq!(config.objects.iter().map(|o| o.id.as_str()).collect::<Vec<_>>(), vec!["a", "b_2.x"]);
    assert_one_error(&load(&with_prelude("ObjectID two words\nObjectStartCommand x\nObjectRunlevels default\n")), "epoch.conf:2", "ObjectID: expected an ObjectID without whitespace");
    assert_one_error(&load(&with_prelude("ObjectID café\nObjectStartCommand x\nObjectRunlevels default\n")), "epoch.conf:2", "printable ASCII");
}

#[test]
fn duplicate_object_id() {
    let loaded = load(&with_prelude(&format!("{}{}", object("a"), object("a"))));
    assert_one_error(&loaded, "epoch.conf:6", "duplicate ObjectID a (first declared at /etc/epoch/epoch.conf:2)");
}

#[test]
fn object_description_defaults_to_the_id() {
    assert_eq!(object_a("ObjectStartCommand x\n").description, "a");
    assert_eq!(object_a("ObjectStartCommand x\nObjectDescription  Mounting   /etc/fstab \n").description, "Mounting   /etc/fstab");
}

#[test]
fn reload_command_or_signal() {
    assert_eq!(object_a("ObjectStartCommand x\nObjectReloadCommand kill -HUP 1\n").rare().reload, Some(ReloadMethod::Command("kill -HUP 1".into())));
    assert_eq!(object_a("ObjectStartCommand x\nObjectReloadCommand SIGNAL 1\n").rare().reload, Some(ReloadMethod::Signal(1)));
    assert_eq!(object_a("ObjectStartCommand x\nObjectReloadCommand=SIGNAL SIGHUP\n").rare().reload, Some(ReloadMethod::Signal(libc::SIGHUP)));
    assert_one_error(&load_a("ObjectStartCommand x\nObjectReloadCommand SIGNAL SIGNOPE\n"), "epoch.conf:5", "expected a signal number");
    assert_one_error(&load_a("ObjectStartCommand x\nObjectReloadCommand SIGNAL\n"), "epoch.conf:5", "expected a signal after SIGNAL");
    assert_one_error(&load_a("ObjectStartCommand x\nObjectReloadCommand SIGNAL 1 2\n"), "epoch.conf:5", "expected one signal");
}

#[test]
fn prestart_and_start_commands_are_kept_as_written() {
    let o = object_a("ObjectPrestartCommand mkdir -p /run/x\nObjectStartCommand=rm -rvf /tmp/* &>/dev/null # not a comment\n");
    assert_eq!(o.rare().prestart.as_deref(), Some("mkdir -p /run/x"));
    assert_eq!(o.start.as_deref(), Some("rm -rvf /tmp/* &>/dev/null # not a comment"));
}

#[test]
fn a_missing_start_command_is_an_error_at_the_object() {
    assert_one_error(&load_a("ObjectStopCommand x\n"), "epoch.conf:2", "object a has no ObjectStartCommand: expected one, or ObjectOptions HALTONLY");
}

#[test]
fn stop_methods() {
    let stop = |value: &str| object_a(&format!("ObjectStartCommand x\nObjectPIDFile /run/x.pid\nObjectStopCommand {value}\n")).stop;
    assert_eq!(stop("killall x"), StopMethod::Command("killall x".into()));
    assert_eq!(stop("PID"), StopMethod::Pid);
    assert_eq!(stop("PIDFILE"), StopMethod::PidFile(None));
    assert_eq!(stop("PIDFILE /run/other.pid"), StopMethod::PidFile(Some("/run/other.pid".into())));
    assert_eq!(stop("KILLALL5"), StopMethod::Killall5 { signal: None, wait_secs: None });
    assert_eq!(stop("KILLALL5 9"), StopMethod::Killall5 { signal: Some(9), wait_secs: None });
    assert_eq!(stop("KILLALL5 9 2"), StopMethod::Killall5 { signal: Some(9), wait_secs: Some(2) });
    assert_eq!(stop("KILLALL5 SIGTERM 0"), StopMethod::Killall5 { signal: Some(libc::SIGTERM), wait_secs: Some(0) });
    assert_eq!(stop("NONE"), StopMethod::None);
    assert_eq!(object_a("ObjectStartCommand x\n").stop, StopMethod::None, "omitted means NONE");
    // A word that merely starts like a keyword is a command.
    assert_eq!(stop("PIDFILEX"), StopMethod::Command("PIDFILEX".into()));
}

#[test]
fn stop_method_errors() {
    for (value, part) in [
        ("KILLALL5 x", "expected a signal number"),
        ("KILLALL5 9 soon", "expected a number"),
        ("KILLALL5 9 2 3", "expected KILLALL5 [signal] [seconds]"),
        ("NONE please", "expected nothing after NONE"),
        ("PID 12", "expected nothing after PID"),
    ] {
        assert_one_error(&load_a(&format!("ObjectStartCommand x\nObjectStopCommand {value}\n")), "epoch.conf:5", part);
    }
    assert_one_error(&load_a("ObjectStartCommand x\nObjectStopCommand PIDFILE\n"), "epoch.conf:5", "PIDFILE without a path: expected `PIDFILE /path` or an ObjectPIDFile");
}

#[test]
fn priorities() {
    let o = object_a("ObjectStartCommand x\nObjectStartPriority 7\nObjectStopPriority=0\n");
    assert_eq!((o.start_priority, o.stop_priority), (7, 0));
    let o = object_a("ObjectStartCommand x\n");
    assert_eq!((o.start_priority, o.stop_priority), (0, 0), "both default to 0");
    for attribute in ["ObjectStartPriority", "ObjectStopPriority"] {
        for bad in ["-1", "1.5", "4294967296"] {
            assert_one_error(&load_a(&format!("ObjectStartCommand x\n{attribute} {bad}\n")), "epoch.conf:5", &format!("{attribute}: expected a number"));
        }
    }
}

#[test]
fn paths_users_and_outputs() {
    let o = object_a(
        "ObjectStartCommand x\nObjectPIDFile /run/a.pid\nObjectWorkingDirectory /srv/a\nObjectUser daemon\nObjectGroup=nogroup\nObjectStdout LOG\nObjectStderr /var/log/a.err\n",
    );
    assert_eq!(o.rare().pid_file.as_deref(), Some(Path::new("/run/a.pid")));
    assert_eq!(o.rare().working_directory.as_deref(), Some(Path::new("/srv/a")));
    assert_eq!((o.rare().user.as_deref(), o.rare().group.as_deref()), (Some("daemon"), Some("nogroup")));
    assert_eq!(o.rare().stdout, Some(Output::Log));
    assert_eq!(o.rare().stderr, Some(Output::File("/var/log/a.err".into())));
    assert_one_error(&load_a("ObjectStartCommand x\nObjectUser a:b\n"), "epoch.conf:5", "ObjectUser: expected a user name");
    assert_one_error(&load_a("ObjectStartCommand x\nObjectGroup two words\n"), "epoch.conf:5", "ObjectGroup: expected a group name");
}

#[test]
fn object_env_var() {
    assert_eq!(object_a("ObjectStartCommand x\nObjectEnvVar A=1 2\nObjectEnvVar=B=\n").rare().env, vec!["A=1 2", "B="]);
    assert_one_error(&load_a("ObjectStartCommand x\nObjectEnvVar A\n"), "epoch.conf:5", "ObjectEnvVar: expected NAME=value");
    assert_one_error(&load_a("ObjectStartCommand x\nObjectEnvVar A=1\nObjectEnvVar A=2\n"), "epoch.conf:6", "variable A is set twice");
}

#[test]
fn object_enabled() {
    assert!(!object_a("ObjectStartCommand x\nObjectEnabled false\n").enabled);
    assert!(object_a("ObjectStartCommand x\n").enabled, "defaults to true");
    assert_one_error(&load_a("ObjectStartCommand x\nObjectEnabled yes\n"), "epoch.conf:5", "ObjectEnabled: expected true or false");
    // Epoch itself refuses an object without ObjectEnabled.
    let text = "DefaultRunlevel default\nObjectID a\nObjectStartCommand x\nObjectRunlevels default\n";
    assert_one_error(&load_strict(text), "epoch.conf:2", "object a has no ObjectEnabled");
}

#[test]
fn object_runlevels() {
    assert_eq!(valid(&with_prelude("ObjectID a\nObjectStartCommand x\nObjectRunlevels default  boot\tgui\n")).objects[0].runlevels.iter().collect::<Vec<_>>(), ["default", "boot", "gui"]);
    assert_one_error(&load_a("ObjectStartCommand x\nObjectRunlevels boot\n"), "epoch.conf:5", "ObjectRunlevels given twice for object a (first on line 3): expected it once per object");
    assert_one_error(&load(&with_prelude("ObjectID a\nObjectStartCommand x\nObjectRunlevels default default\n")), "epoch.conf:4", "runlevel \"default\" is listed twice");
}

#[test]
fn single_valued_object_attributes_may_not_repeat() {
    for attribute in [
        "ObjectDescription d",
        "ObjectReloadCommand r",
        "ObjectPrestartCommand p",
        "ObjectStopCommand NONE",
        "ObjectStartPriority 1",
        "ObjectStopPriority 1",
        "ObjectPIDFile /p",
        "ObjectWorkingDirectory /w",
        "ObjectUser u",
        "ObjectGroup g",
        "ObjectStdout LOG",
        "ObjectStderr LOG",
        "ObjectEnabled true",
    ] {
        let name = attribute.split(' ').next().unwrap();
        let loaded = load_a(&format!("ObjectStartCommand x\n{attribute}\n{attribute}\n"));
        assert_one_error(&loaded, "epoch.conf:6", &format!("{name} given twice for object a (first on line 5)"));
    }
    assert_one_error(&load_a("ObjectStartCommand x\nObjectStartCommand y\n"), "epoch.conf:5", "ObjectStartCommand given twice");
}

#[test]
fn every_option_through_the_parser() {
    let o = object_a(
        "ObjectStartCommand x\nObjectOptions RAWDESCRIPTION FORKN PERSISTENT AUTORESTART RUNONCE STOPTIMEOUT=20\nObjectOptions=NOTRACK STARTFAILCRITICAL STOPFAILCRITICAL FORCESHELL TERMSIGNAL=SIGUSR1\nObjectOptions MAPEXITSTATUS=2,WARNING MAPEXITSTATUS=3,SUCCESS MAPEXITSTATUS=4,FAILURE\n",
    );
    let opts = &o.options;
    assert!(opts.raw_description && opts.forkn && opts.persistent && opts.autorestart && opts.runonce);
    assert!(opts.no_track && opts.start_fail_critical && opts.stop_fail_critical && opts.force_shell);
    assert_eq!((opts.stop_timeout, opts.term_signal), (Some(20), Some(libc::SIGUSR1)));
    assert_eq!(opts.exit_map, vec![(2, ExitResult::Warning), (3, ExitResult::Success), (4, ExitResult::Failure)]);
    assert_eq!(o.exit_result(2), ExitResult::Warning);
    let o = object_a("ObjectStartCommand x\nObjectOptions FORK NOSTOPWAIT\n");
    assert!(o.options.fork && o.options.no_stop_wait);
    let o = object_a("ObjectStartCommand x\nObjectOptions SERVICE\n");
    assert!(o.options.service);
}

#[test]
fn option_errors_name_the_line() {
    assert_one_error(&load_a("ObjectStartCommand x\nObjectOptions SERVICE BOGUS\n"), "epoch.conf:5", "ObjectOptions: unknown option \"BOGUS\": expected one of RAWDESCRIPTION, FORK");
    assert_one_error(&load_a("ObjectStartCommand x\nObjectOptions STOPTIMEOUT=abc\n"), "epoch.conf:5", "expected a number");
    assert_one_error(&load_a("ObjectStartCommand x\nObjectOptions TERMSIGNAL=99\n"), "epoch.conf:5", "expected a signal number from 1 to 64");
    assert_one_error(&load_a("ObjectStartCommand x\nObjectOptions MAPEXITSTATUS=300,SUCCESS\n"), "epoch.conf:5", "exit code out of range");
    assert_one_error(&load_a("ObjectStartCommand x\nObjectOptions STOPTIMEOUT=1\nObjectOptions STOPTIMEOUT=2\n"), "epoch.conf:6", "given twice");
    // Two bad words on one line: both reported, in one diagnostic.
    let loaded = load_a("ObjectStartCommand x\nObjectOptions A B\n");
    assert_one_error(&loaded, "epoch.conf:5", "\"A\"");
    assert!(errors(&loaded)[0].contains("\"B\""));
}

#[test]
fn pivot_and_exec() {
    let o = object_a("ObjectStartCommand /mnt/disk1 /mnt/disk1/mnt/old\nObjectOptions PIVOT RAWDESCRIPTION STARTFAILCRITICAL\n");
    assert!(o.options.pivot);
    let o = object_a("ObjectStartCommand /sbin/init\nObjectOptions EXEC\n");
    assert!(o.options.exec);
    assert_one_error(&load_a("ObjectStartCommand /a /b\nObjectOptions PIVOT\nObjectOptions EXEC\n"), "epoch.conf:6", "options PIVOT and EXEC exclude each other");
    assert_one_error(&load_a("ObjectStartCommand /a /b\nObjectStopCommand PID\nObjectOptions PIVOT\n"), "epoch.conf:5", "PIVOT object a may not have a stop command");
    assert_one_error(&load_a("ObjectOptions EXEC\nObjectStopCommand=umount -a\nObjectStartCommand /sbin/init\n"), "epoch.conf:5", "EXEC object a may not have a stop command");
    assert!(errors(&load_a("ObjectStartCommand /a /b\nObjectStopCommand NONE\nObjectOptions PIVOT\n")).is_empty(), "NONE is no stop command");
    assert_one_error(&load_a("ObjectStartCommand /a\nObjectOptions PIVOT\n"), "epoch.conf:4", "expected ObjectStartCommand=NEWROOT PUTOLD");
}

#[test]
fn options_useless_on_pivot_and_exec_draw_warnings() {
    let loaded = load_a("ObjectStartCommand /sbin/init\nObjectOptions EXEC AUTORESTART\nObjectPIDFile /run/x\nObjectOptions FORCESHELL\n");
    assert!(errors(&loaded).is_empty());
    assert_eq!(
        warnings(&loaded),
        vec![
            "epoch.conf:5: option AUTORESTART has no effect on EXEC object a",
            "epoch.conf:7: option FORCESHELL has no effect on EXEC object a",
            "epoch.conf:6: ObjectPIDFile has no effect on EXEC object a",
        ]
    );
}

#[test]
fn haltonly() {
    let o = object_a("ObjectStopCommand /sbin/save-state\nObjectOptions HALTONLY RUNONCE\n");
    assert!(o.options.halt_only && o.start.is_none());
    assert_one_error(&load_a("ObjectStartCommand x\nObjectStopCommand y\nObjectOptions HALTONLY\n"), "epoch.conf:4", "ObjectStartCommand on HALTONLY object a: expected none");
    assert_one_error(&load_a("ObjectOptions HALTONLY\n"), "epoch.conf:4", "HALTONLY object a has no stop command");
    assert_one_error(&load_a("ObjectStopCommand PID\nObjectOptions HALTONLY\n"), "epoch.conf:4", "HALTONLY object a has no process for ObjectStopCommand PID");
    // Epoch's shutdown sweep and a pid file are stop methods made for such objects.
    for method in ["KILLALL5 15 2", "KILLALL5", "PIDFILE /run/x.pid"] {
        let o = object_a(&format!("ObjectStopCommand {method}\nObjectOptions HALTONLY\n"));
        assert!(o.options.halt_only, "{method}");
    }
    let loaded = load_a("ObjectStopCommand y\nObjectStartPriority 3\nObjectOptions HALTONLY AUTORESTART\n");
    assert_eq!(
        warnings(&loaded),
        vec!["epoch.conf:5: ObjectStartPriority has no effect on HALTONLY object a", "epoch.conf:6: option AUTORESTART has no effect on HALTONLY object a"]
    );
}

#[test]
fn fork_rules() {
    let loaded = load_a("ObjectStartCommand getty\nObjectOptions FORK SERVICE\n");
    assert!(errors(&loaded).is_empty());
    assert_eq!(warnings(&loaded), vec!["epoch.conf:5: object a: SERVICE with FORK causes PID tracking failures and false autorestarts: use one of them"]);
    assert_one_error(&load_a("ObjectStartCommand x\nObjectOptions FORK\nObjectOptions FORKN\n"), "epoch.conf:6", "options FORK and FORKN exclude each other");
    let loaded = load_a("ObjectStartCommand x\nObjectOptions NOSTOPWAIT STOPTIMEOUT=5\n");
    assert_eq!(warnings(&loaded), vec!["epoch.conf:5: object a: STOPTIMEOUT has no effect with NOSTOPWAIT"]);
}

#[test]
fn procserv_option_makes_a_console() {
    let o = object_a("ObjectStartCommand /opt/ioc/st.cmd\nObjectUser ioc\nObjectGroup ioc\nObjectWorkingDirectory /opt/ioc\nObjectOptions PROCSERV AUTORESTART\n");
    // What procServ runs is the object's own: its ID, command, user, group
    // and directory, not copies of them in the console.
    let console = Console { from_ioc_file: false, may_choose_credentials: true, ..Console::default() };
    assert_eq!(o.console, Some(Box::new(console)));
    assert_eq!((o.id.as_str(), o.start.as_deref()), ("a", Some("/opt/ioc/st.cmd")));
    assert_eq!((o.rare().user.as_deref(), o.rare().group.as_deref()), (Some("ioc"), Some("ioc")));
    assert_eq!(o.rare().working_directory.as_deref(), Some(std::path::Path::new("/opt/ioc")));
    for other in ["FORK", "FORKN", "PIVOT", "EXEC", "SERVICE"] {
        let loaded = load_a(&format!("ObjectStartCommand /a /b\nObjectOptions PROCSERV\nObjectOptions {other}\n"));
        assert!(errors(&loaded).iter().any(|e| e.starts_with("epoch.conf:6: options PROCSERV and ") && e.contains(other)), "{other}: {:?}", errors(&loaded));
    }
    let loaded = load_a("ObjectStopCommand x\nObjectOptions PROCSERV HALTONLY\n");
    assert_one_error(&loaded, "epoch.conf:5", "options PROCSERV and HALTONLY exclude each other");
    let loaded = load(&with_prelude("ObjectID a.b\nObjectStartCommand x\nObjectRunlevels default\nObjectOptions PROCSERV\n"));
    assert_one_error(&loaded, "epoch.conf:5", "its ObjectID names the console");
    let strict = "DefaultRunlevel default\nObjectID a\nObjectStartCommand x\nObjectRunlevels default\nObjectEnabled true\nObjectOptions PROCSERV\n";
    assert_one_error(&load_strict(strict), "epoch.conf:6", "option PROCSERV is an iocinit extension, rejected by --strict-epoch");
}

#[test]
fn object_attributes_need_an_object() {
    assert_one_error(&load("DefaultRunlevel default\nObjectStartCommand x\n"), "epoch.conf:2", "ObjectStartCommand before any ObjectID: expected `ObjectID name` first");
}

#[test]
fn unknown_attributes() {
    assert_one_error(&load_a("ObjectStartCommand x\nObjectColour red\n"), "epoch.conf:5", "unknown attribute \"ObjectColour\"");
    assert_one_error(&load_a("ObjectStartCommand x\nobjectenabled true\n"), "epoch.conf:5", "expected ObjectEnabled (attribute names are case-sensitive)");
    // Epoch matched name prefixes; we do not.
    assert_one_error(&load_a("ObjectStartCommand x\nObjectEnabledX true\n"), "epoch.conf:5", "unknown attribute \"ObjectEnabledX\"");
}

#[test]
fn warnings_do_not_fail() {
    let loaded = load(&with_prelude("ObjectID a\nObjectStartCommand x\nObjectStartPriority 3\nObjectID b\nObjectStartCommand y\nObjectRunlevels default\n"));
    assert!(loaded.config.is_some() && !loaded.has_errors());
    assert_eq!(warnings(&loaded), vec!["epoch.conf:2: object a has no ObjectRunlevels: it is never started at boot or by runlevel changes, only by hand"]);
}

#[test]
fn every_problem_is_reported_not_only_the_first() {
    let text = "\
ObjectStartCommand early
DefaultRunlevel default
Bogus 1
ObjectID a
ObjectStartPriority soon
ObjectRunlevels default
ObjectOptions PIVOT EXEC
ObjectID a
ObjectStartCommand x
ObjectRunlevels default
ObjectEnabled maybe
Hostname h
";
    let loaded = load(text);
    let errors = errors(&loaded);
    let lines: Vec<&str> = errors.iter().map(|e| e.split(": ").next().unwrap()).collect();
    assert_eq!(
        lines,
        vec!["epoch.conf:1", "epoch.conf:3", "epoch.conf:5", "epoch.conf:7", "epoch.conf:4", "epoch.conf:8", "epoch.conf:11", "epoch.conf:12"],
        "{errors:#?}"
    );
    assert!(loaded.config.is_none());
}

#[test]
fn comments_in_every_position() {
    let text = "\
# a comment first
   # an indented comment
DefaultRunlevel default # this is part of the value? no: runlevel names have no blanks
";
    assert_one_error(&load(&format!("{text}{}", object("a"))), "epoch.conf:3", "without whitespace");
    let text = "\
>!> a multi-line comment
ObjectID hidden
<!< DefaultRunlevel default
\t>!>
\tObjectID hidden2
\t<!<ObjectID a
ObjectStartCommand /bin/a # hash kept in commands
  # comment between attributes
ObjectRunlevels default
>!>
<!< ObjectOptions SERVICE
";
    let config = valid(text);
    assert_eq!(config.objects.len(), 1);
    let a = &config.objects[0];
    assert_eq!(a.start.as_deref(), Some("/bin/a # hash kept in commands"));
    assert!(a.options.service);
}

#[test]
fn comment_marker_errors() {
    assert_one_error(&load(&with_prelude(&format!("{}<!< stray\n", object("a")))), "epoch.conf:6", "stray `<!<`");
    assert_one_error(&load(&with_prelude(&format!("{}>!> never closed\nObjectID b\n", object("a")))), "epoch.conf:6", "never closed");
    assert_one_error(&load(&with_prelude("ObjectID a>!>\nObjectStartCommand x\nObjectRunlevels default\nObjectOptions PROCSERV\n")), "epoch.conf:5", "names the console");
}

#[test]
fn equals_and_blank_forms_mixed() {
    let text = "DefaultRunlevel=default\nObjectID\ta\n  ObjectStartCommand=/bin/a --x=1\n\tObjectRunlevels   default\nObjectOptions=AUTORESTART   STOPTIMEOUT=3\n";
    let o = &valid(text).objects[0];
    assert_eq!(o.start.as_deref(), Some("/bin/a --x=1"));
    assert!(o.options.autorestart);
    assert_eq!(o.options.stop_timeout, Some(3));
    assert_one_error(&load(&with_prelude(&format!("{}ObjectDescription = x\n", object("a")))), "epoch.conf:6", "a single `=` with no blanks around it");
}

#[test]
fn lines_that_are_not_text() {
    let mut text = with_prelude(&object("a")).into_bytes();
    text.extend_from_slice(b"ObjectDescription caf\xe9\n");
    let mut fs = iocinit::config::MemFs::new();
    fs.insert(MAIN, text);
    let loaded = iocinit::config::load_with(&fs, std::path::Path::new(MAIN), &Default::default());
    assert_one_error(&loaded, "epoch.conf:6", "not valid UTF-8");
}
