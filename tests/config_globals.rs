//! Every global attribute of epoch.conf, valid and invalid, and the rules
//! about where globals may appear.

mod common;

use std::path::PathBuf;

use common::*;
use iocinit::config::{Color, StatusNames, StatusNamesSource, Text, VirtualFs, VirtualMount};

#[test]
fn default_runlevel() {
    assert_eq!(valid(&with_prelude(&object("a"))).globals.default_runlevel, "default");
    assert_one_error(&load(&format!("DefaultRunlevel multi user\n{}", object("a"))), "epoch.conf:1", "without whitespace");
    assert_one_error(
        &load(&format!("DefaultRunlevel default\nDefaultRunlevel other\n{}", object("a"))),
        "epoch.conf:2",
        "DefaultRunlevel given twice (first at /etc/epoch/epoch.conf:1)",
    );
}

#[test]
fn missing_default_runlevel_is_an_error_for_the_whole_file() {
    assert_one_error(&load(&object("a")), "epoch.conf:0", "no DefaultRunlevel: expected e.g. `DefaultRunlevel default`");
    assert_one_error(&load(""), "epoch.conf:0", "no DefaultRunlevel");
}

#[test]
fn default_runlevel_must_have_an_object() {
    let text = "DefaultRunlevel boot\nObjectID a\nObjectStartCommand x\nObjectRunlevels other\nObjectEnabled true\n";
    assert_one_error(&load_strict(text), "epoch.conf:1", "DefaultRunlevel boot: no object is in this runlevel");
    // HALTONLY objects do not count, as in Epoch.
    let halt = "DefaultRunlevel boot\nObjectID h\nObjectStopCommand x\nObjectOptions HALTONLY\nObjectRunlevels boot\nObjectEnabled true\n";
    assert_one_error(&load_strict(halt), "epoch.conf:1", "no object is in this runlevel");
    // An inherited runlevel with objects makes it used.
    let inherited = "DefaultRunlevel boot\nRunlevelInherits boot other\nObjectID a\nObjectStartCommand x\nObjectRunlevels other\nObjectEnabled true\n";
    assert!(errors(&load_strict(inherited)).is_empty(), "{:?}", errors(&load_strict(inherited)));
    // Without --strict-epoch the IOCs count: they run in the default runlevel.
    assert!(errors(&load(text)).is_empty());
}

#[test]
fn runlevel_inherits_is_direct_and_may_repeat() {
    let text = with_prelude(
        "RunlevelInherits=gui multiuser\nRunlevelInherits gui\tcore\nRunlevelInherits gui core\nObjectID a\nObjectStartCommand a\nObjectRunlevels core\nObjectID b\nObjectStartCommand b\nObjectRunlevels multiuser gui\nObjectID c\nObjectStartCommand c\nObjectRunlevels default\n",
    );
    let config = valid(&text);
    let gui = config.runlevel("gui").unwrap();
    assert_eq!(gui.inherits, vec!["multiuser", "core"]);
    let names: Vec<&str> = config.runlevels.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, vec!["default", "gui", "multiuser", "core"]);
    assert!(config.in_runlevel(&config.objects[0], "gui"));
    // Not recursive: multiuser does not inherit core.
    assert!(!config.in_runlevel(&config.objects[0], "multiuser"));
}

#[test]
fn runlevel_inherits_errors_and_warnings() {
    for (value, part) in [("gui", "expected two runlevel names"), ("a b c", "expected two runlevel names"), ("gui gui", "cannot inherit itself")] {
        let loaded = load(&with_prelude(&format!("RunlevelInherits {value}\n{}", object("a"))));
        assert_one_error(&loaded, "epoch.conf:2", part);
    }
    let loaded = load(&with_prelude(&format!("RunlevelInherits default nothing\n{}", object("a"))));
    assert_eq!(warnings(&loaded), vec!["epoch.conf:2: RunlevelInherits default nothing: no object is in runlevel nothing"]);
}

#[test]
fn define_priority_names_numbers() {
    let text = with_prelude("DefinePriority early 2\nDefinePriority=late 90\nObjectID a\nObjectStartCommand a\nObjectStartPriority early\nObjectStopPriority=late\nObjectRunlevels default\n");
    let config = valid(&text);
    assert_eq!((config.objects[0].start_priority, config.objects[0].stop_priority), (2, 90));
    assert_eq!(config.globals.priorities, vec![("early".to_string(), 2), ("late".to_string(), 90)]);
}

#[test]
fn define_priority_errors() {
    for (value, part) in [
        ("early", "expected `DefinePriority name number`"),
        ("10 20", "with a name that is not a number"),
        ("a b c", "expected `DefinePriority name number`"),
        ("a -1", "expected a number from 0 to 4294967295, got \"-1\""),
    ] {
        assert_one_error(&load(&with_prelude(&format!("DefinePriority {value}\n{}", object("x")))), "epoch.conf:2", part);
    }
    let twice = with_prelude(&format!("DefinePriority a 1\nDefinePriority a 2\n{}", object("x")));
    assert_one_error(&load(&twice), "epoch.conf:3", "priority name \"a\" is defined twice");
}

#[test]
fn an_undefined_priority_name_is_an_error_at_its_use() {
    let text = with_prelude("ObjectID a\nObjectStartCommand a\nObjectRunlevels default\nObjectStartPriority fast\n");
    assert_one_error(&load(&text), "epoch.conf:5", "ObjectStartPriority: expected a number or a DefinePriority name, got \"fast\"");
    // A DefinePriority after the objects does not help: it is refused there.
    let late = with_prelude("ObjectID a\nObjectStartCommand a\nObjectRunlevels default\nObjectStopPriority fast\nDefinePriority fast 3\n");
    let loaded = load(&late);
    assert_eq!(errors(&loaded).len(), 2, "{:?}", errors(&loaded));
    assert!(errors(&loaded)[0].starts_with("epoch.conf:5: ObjectStopPriority: expected a number or a DefinePriority name"));
    assert!(errors(&loaded)[1].starts_with("epoch.conf:6: DefinePriority after the first ObjectID"));
}

#[test]
fn booleans() {
    for attribute in ["DisableCAD", "EnableLogging", "BlankLogOnBoot"] {
        for (value, expected) in [("true", true), ("false", false)] {
            let g = valid(&with_prelude(&format!("{attribute}={value}\n{}", object("a")))).globals;
            let got = match attribute {
                "DisableCAD" => g.disable_cad,
                "EnableLogging" => g.enable_logging,
                _ => g.blank_log_on_boot,
            };
            assert_eq!(got, expected, "{attribute} {value}");
        }
        for bad in ["yes", "True", "1"] {
            let loaded = load(&with_prelude(&format!("{attribute} {bad}\n{}", object("a"))));
            assert_one_error(&loaded, "epoch.conf:2", &format!("{attribute}: expected true or false, got \"{bad}\""));
        }
    }
    let g = valid(&with_prelude(&object("a"))).globals;
    assert!(!g.disable_cad && !g.enable_logging && !g.blank_log_on_boot, "all default to false");
}

#[test]
fn boot_banner() {
    let g = valid(&with_prelude(&format!("BootBannerText Welcome to  the board!\nBootBannerColor CYAN\n{}", object("a")))).globals;
    assert_eq!(g.boot_banner, Some(Text::Literal("Welcome to  the board!".into())));
    assert_eq!(g.boot_banner_color, Color::Cyan);
    let g = valid(&with_prelude(&format!("BootBannerText=FILE /etc/motd\n{}", object("a")))).globals;
    assert_eq!(g.boot_banner, Some(Text::File("/etc/motd".into())));
    assert_eq!(valid(&with_prelude(&format!("BootBannerText NONE\n{}", object("a")))).globals.boot_banner, None);
    assert_one_error(&load(&with_prelude(&format!("BootBannerText FILE\n{}", object("a")))), "epoch.conf:2", "expected a path after FILE");
}

#[test]
fn boot_banner_colors() {
    let all = [
        ("NONE", Color::None),
        ("BLACK", Color::Black),
        ("BLUE", Color::Blue),
        ("RED", Color::Red),
        ("GREEN", Color::Green),
        ("YELLOW", Color::Yellow),
        ("MAGENTA", Color::Magenta),
        ("CYAN", Color::Cyan),
        ("WHITE", Color::White),
    ];
    for (name, color) in all {
        assert_eq!(valid(&with_prelude(&format!("BootBannerColor {name}\n{}", object("a")))).globals.boot_banner_color, color);
    }
    assert_one_error(&load(&with_prelude(&format!("BootBannerColor red\n{}", object("a")))), "epoch.conf:2", "expected one of NONE, BLACK");
}

#[test]
fn hostname_and_domainname() {
    let g = valid(&with_prelude(&format!("Hostname board-7.lab\nDomainname=FILE /etc/domainname\n{}", object("a")))).globals;
    assert_eq!(g.hostname, Some(Text::Literal("board-7.lab".into())));
    assert_eq!(g.domainname, Some(Text::File("/etc/domainname".into())));
    for attribute in ["Hostname", "Domainname"] {
        for bad in ["two words", "-lead", "under_score", &"x".repeat(65)] {
            let loaded = load(&with_prelude(&format!("{attribute} {bad}\n{}", object("a"))));
            assert_one_error(&loaded, "epoch.conf:2", "expected a host name");
        }
    }
}

#[test]
fn mount_virtual() {
    let g = valid(&with_prelude(&format!("MountVirtual procfs sysfs+\nMountVirtual=devfs devpts+ devshm\n{}", object("a")))).globals;
    let mount = |fs, create_dir| VirtualMount { fs, create_dir };
    assert_eq!(
        g.mount_virtual,
        vec![
            mount(VirtualFs::Proc, false),
            mount(VirtualFs::Sys, true),
            mount(VirtualFs::Dev, false),
            mount(VirtualFs::DevPts, true),
            mount(VirtualFs::DevShm, false),
        ]
    );
    assert_one_error(&load(&with_prelude(&format!("MountVirtual procfs tmpfs\n{}", object("a")))), "epoch.conf:2", "got \"tmpfs\"");
    assert_one_error(&load(&with_prelude(&format!("MountVirtual procfs\nMountVirtual procfs+\n{}", object("a")))), "epoch.conf:3", "procfs is listed twice");
    assert_one_error(&load(&with_prelude(&format!("MountVirtual ~procfs\n{}", object("a")))), "epoch.conf:2", "expected devfs, devpts");
}

#[test]
fn global_env_var_keeps_quotes_and_spaces() {
    let g = valid(&with_prelude(&format!("GlobalEnvVar=WIBBLE=Derp herp wibble!\nGlobalEnvVar Q=\"quoted\"\n{}", object("a")))).globals;
    assert_eq!(g.env, vec!["WIBBLE=Derp herp wibble!", "Q=\"quoted\""]);
    assert_one_error(&load(&with_prelude(&format!("GlobalEnvVar novalue\n{}", object("a")))), "epoch.conf:2", "expected NAME=value");
    assert_one_error(&load(&with_prelude(&format!("GlobalEnvVar A=1\nGlobalEnvVar A=2\n{}", object("a")))), "epoch.conf:3", "variable A is set twice");
}

#[test]
fn status_formats() {
    let g = valid(&with_prelude(&format!("StartingStatusFormat  * [!TITLE!] \nFinishedStatusFormat=FILE /etc/epoch/finished\n{}", object("a")))).globals;
    assert_eq!(g.starting_status_format, Some(Text::Literal("* [!TITLE!]".into())));
    assert_eq!(g.finished_status_format, Some(Text::File("/etc/epoch/finished".into())));
    let g = valid(&with_prelude(&format!("FinishedStatusFormat [!STATUS!] !TITLE!\n{}", object("a")))).globals;
    assert_eq!(g.finished_status_format, Some(Text::Literal("[!STATUS!] !TITLE!".into())));
    // Between double quotes, blanks at both ends are kept (seed 003's example).
    let g = valid(&with_prelude(&format!("StartingStatusFormat \" * [!TITLE!] \"\nFinishedStatusFormat=\"\"\n{}", object("a")))).globals;
    assert_eq!(g.starting_status_format, Some(Text::Literal(" * [!TITLE!] ".into())));
    assert_eq!(g.finished_status_format, Some(Text::Literal("".into())));
}

#[test]
fn status_names() {
    let g = valid(&with_prelude(&format!("StatusNames=FAILED  ,OK\t, WARNING \n{}", object("a")))).globals;
    let names = StatusNames { fail: "FAILED".into(), ok: "OK".into(), warning: " WARNING".into() };
    assert_eq!(g.status_names, Some(StatusNamesSource::Inline(names)), "trailing blanks dropped, leading kept");
    let g = valid(&with_prelude(&format!("StatusNames FILE /etc/epoch/names\n{}", object("a")))).globals;
    assert_eq!(g.status_names, Some(StatusNamesSource::File(PathBuf::from("/etc/epoch/names"))));
    for bad in ["Fail,Ok", "Fail,Ok,Warn,More", "Fail,,Warn"] {
        assert_one_error(&load(&with_prelude(&format!("StatusNames {bad}\n{}", object("a")))), "epoch.conf:2", "expected FailName,OkName,WarningName");
    }
}

#[test]
fn globals_after_objects() {
    // Import is allowed anywhere; Epoch's "handful of others" (the globals
    // its parser takes anywhere) draw a warning; the rest are errors.
    for attribute in [
        "RunlevelInherits default x",
        "GlobalEnvVar A=b",
        "DisableCAD true",
        "EnableLogging true",
        "BlankLogOnBoot true",
        "MountVirtual procfs",
        "BootBannerText hi",
        "BootBannerColor RED",
    ] {
        let loaded = load(&with_prelude(&format!("{}{attribute}\n", object("a"))));
        assert!(errors(&loaded).is_empty(), "{attribute}: {:?}", errors(&loaded));
        let w = warnings(&loaded);
        assert!(w.iter().any(|w| w.starts_with("epoch.conf:6: ") && w.contains("after the first ObjectID (at /etc/epoch/epoch.conf:2)")), "{attribute}: {w:?}");
    }
    for attribute in [
        "DefaultRunlevel x",
        "DefinePriority p 1",
        "Hostname h",
        "Domainname d",
        "StartingStatusFormat x",
        "FinishedStatusFormat x",
        "StatusNames a,b,c",
        "IocGroup ioc",
    ] {
        let loaded = load(&with_prelude(&format!("{}{attribute}\n", object("a"))));
        assert_one_error(&loaded, "epoch.conf:6", "after the first ObjectID (at /etc/epoch/epoch.conf:2): expected global attributes before every object");
    }
}

#[test]
fn the_order_of_globals_is_free() {
    let text = format!("IocStartPriority late\nEnableLogging true\nDefinePriority late 50\nDefaultRunlevel default\n{}", object("a"));
    let config = valid(&text);
    assert_eq!(config.globals.ioc.start_priority, Some(50));
}

#[test]
fn ioc_extension_globals() {
    let text = with_prelude(&format!(
        "IocDirectory /srv/iocs\nIocGroup epics\nIocSocketUser ioc-srv\nIocStartPriority 40\nIocStopPriority=2\nIocRunlevels default maint\nIocLogDirectory /var/log/iocs\nIocLogMaxSize 512K\nIocLogKeep 5\nIocHoldoff 15\nProcServ /usr/bin/procServ\n{}",
        object("a")
    ));
    let ioc = valid(&text).globals.ioc;
    assert_eq!(ioc.directory, PathBuf::from("/srv/iocs"));
    assert_eq!(ioc.group, "epics");
    assert_eq!(ioc.socket_user.as_deref(), Some("ioc-srv"));
    assert_eq!((ioc.start_priority, ioc.stop_priority), (Some(40), 2));
    assert_eq!(ioc.runlevels, vec!["default", "maint"]);
    assert_eq!(ioc.log_directory, PathBuf::from("/var/log/iocs"));
    assert_eq!((ioc.log_max_bytes, ioc.log_keep, ioc.holdoff_secs), (512 * 1024, 5, 15));
    assert_eq!(ioc.procserv, PathBuf::from("/usr/bin/procServ"));
    assert_eq!(valid(&with_prelude(&format!("IocLogMaxSize 2M\nProcServ procServ\n{}", object("a")))).globals.ioc.log_max_bytes, 2 << 20);
}

#[test]
fn ioc_extension_defaults() {
    let ioc = valid(&with_prelude(&object("a"))).globals.ioc;
    assert_eq!(ioc.directory, PathBuf::from("/etc/procServ.d"));
    assert_eq!((ioc.group.as_str(), ioc.start_priority, ioc.stop_priority), ("ioc", None, 1));
    assert!(ioc.runlevels.is_empty());
}

#[test]
fn ioc_extension_globals_invalid() {
    let cases = [
        ("IocDirectory procServ.d", "expected an absolute path"),
        ("IocGroup a:b", "expected a group name"),
        ("IocSocketUser -x", "expected a user name"),
        ("IocStartPriority soon", "IocStartPriority: expected a number or a DefinePriority name, got \"soon\""),
        ("IocStopPriority 1 2", "without whitespace"),
        ("IocRunlevels a a", "listed twice"),
        ("IocLogDirectory log", "expected an absolute path"),
        ("IocLogMaxSize 1G", "expected a size in bytes"),
        ("IocLogKeep many", "expected a number"),
        ("IocHoldoff -1", "expected a number"),
        ("ProcServ bin/procServ", "expected an absolute path or a program name"),
    ];
    for (line, part) in cases {
        assert_one_error(&load(&with_prelude(&format!("{line}\n{}", object("a")))), "epoch.conf:2", part);
    }
}

#[test]
fn strict_epoch_rejects_every_extension_global() {
    for line in [
        "IocDirectory /x",
        "IocGroup g",
        "IocSocketUser u",
        "IocStartPriority 1",
        "IocStopPriority 1",
        "IocRunlevels default",
        "IocLogDirectory /x",
        "IocLogMaxSize 1",
        "IocLogKeep 1",
        "IocHoldoff 1",
        "ProcServ procServ",
        "StartTimeout 60",
        "PIDFileTimeout 5",
        "StopCommandTimeout 60",
        "RestartFastFailure 2",
        "RestartCrashLimit 3",
    ] {
        let text = format!("{line}\nDefaultRunlevel default\nObjectID a\nObjectStartCommand a\nObjectRunlevels default\nObjectEnabled true\n");
        let name = line.split(' ').next().unwrap();
        assert_one_error(&load_strict(&text), "epoch.conf:1", &format!("{name} is an iocinit extension, rejected by --strict-epoch"));
    }
}

#[test]
fn start_timeout() {
    let strict_text = "DefaultRunlevel default\nObjectID a\nObjectStartCommand a\nObjectRunlevels default\nObjectEnabled true\n";
    assert_eq!(valid(&with_prelude(&object("a"))).globals.start_timeout, None, "the built-in default");
    assert_eq!(valid(&with_prelude(&format!("StartTimeout 0\n{}", object("a")))).globals.start_timeout, Some(0));
    assert_eq!(valid(&with_prelude(&format!("StartTimeout 300\n{}", object("a")))).globals.start_timeout, Some(300));
    assert_one_error(&load(&with_prelude(&format!("StartTimeout 1m\n{}", object("a")))), "epoch.conf:2", "expected a number");
    // --strict-epoch keeps Epoch's behaviour: no start timeout.
    let loaded = load_strict(strict_text);
    assert_eq!(loaded.config.expect("valid").globals.start_timeout, Some(0));
}

#[test]
fn pid_file_timeout() {
    assert_eq!(valid(&with_prelude(&object("a"))).globals.pid_file_timeout, None, "the built-in default");
    assert_eq!(valid(&with_prelude(&format!("PIDFileTimeout 0\n{}", object("a")))).globals.pid_file_timeout, Some(0));
    assert_eq!(valid(&with_prelude(&format!("PIDFileTimeout 5\n{}", object("a")))).globals.pid_file_timeout, Some(5));
    assert_one_error(&load(&with_prelude(&format!("PIDFileTimeout 5s\n{}", object("a")))), "epoch.conf:2", "expected a number");
}

#[test]
fn restart_policy() {
    let g = valid(&with_prelude(&object("a"))).globals;
    assert_eq!((g.restart_fast_failure, g.restart_crash_limit), (None, None), "the built-in defaults");
    let g = valid(&with_prelude(&format!("RestartFastFailure 2\nRestartCrashLimit 3\n{}", object("a")))).globals;
    assert_eq!((g.restart_fast_failure, g.restart_crash_limit), (Some(2), Some(3)));
    for line in ["RestartFastFailure 0", "RestartCrashLimit 0"] {
        assert_one_error(&load(&with_prelude(&format!("{line}\n{}", object("a")))), "epoch.conf:2", "expected a number of at least 1");
    }
    assert_one_error(&load(&with_prelude(&format!("RestartFastFailure 5s\n{}", object("a")))), "epoch.conf:2", "expected a number");
}

#[test]
fn stop_command_timeout() {
    let strict_text = "DefaultRunlevel default\nObjectID a\nObjectStartCommand a\nObjectRunlevels default\nObjectEnabled true\n";
    assert_eq!(valid(&with_prelude(&object("a"))).globals.stop_command_timeout, None, "the built-in default");
    assert_eq!(valid(&with_prelude(&format!("StopCommandTimeout 0\n{}", object("a")))).globals.stop_command_timeout, Some(0));
    assert_eq!(valid(&with_prelude(&format!("StopCommandTimeout 900\n{}", object("a")))).globals.stop_command_timeout, Some(900));
    assert_one_error(&load(&with_prelude(&format!("StopCommandTimeout 5m\n{}", object("a")))), "epoch.conf:2", "expected a number");
    // --strict-epoch keeps Epoch's behaviour: a stop command is never cut off.
    let loaded = load_strict(strict_text);
    assert_eq!(loaded.config.expect("valid").globals.stop_command_timeout, Some(0));
}

#[test]
fn every_global_needs_a_value() {
    for attribute in ["DefaultRunlevel", "Hostname", "MountVirtual", "Import", "IocGroup"] {
        let loaded = load(&with_prelude(&format!("{attribute}\n{}", object("a"))));
        assert_one_error(&loaded, "epoch.conf:2", &format!("{attribute}: expected a value"));
    }
}
