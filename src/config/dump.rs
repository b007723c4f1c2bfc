//! The resolved model as JSON (`check-config --json`): globals, every object
//! with all its attributes and options, runlevels with their inheritance
//! resolved, the boot start order and the shutdown stop order, and the
//! diagnostics. Written with the escaping [`Json`] writer only.

use std::path::Path;

use super::iocfile::console_path;
use super::model::*;
use super::{Diagnostic, Severity};
use crate::json::Json;

/// The whole model and the diagnostics of its load.
pub fn to_json(config: &Config, diagnostics: &[Diagnostic]) -> String {
    let mut j = Json::new();
    j.begin_object();
    j.field_bool("valid", !diagnostics.iter().any(Diagnostic::is_error));
    j.key("files").begin_array();
    for file in &config.files {
        path(&mut j, file);
    }
    j.end_array();
    j.key("globals");
    globals(&mut j, &config.globals);
    j.key("objects").begin_array();
    for object in &config.objects {
        self::object(&mut j, config, object);
    }
    j.end_array();
    j.key("runlevels");
    runlevels(&mut j, config);
    let default = &config.globals.default_runlevel;
    j.key("start_order").begin_object().field_str("runlevel", default);
    j.key("objects");
    ordered(&mut j, config, &config.start_order(default), |o| o.start_priority);
    j.end_object();
    j.key("stop_order");
    ordered(&mut j, config, &config.stop_order(), |o| o.stop_priority);
    j.key("diagnostics");
    diagnostic_list(&mut j, diagnostics);
    j.end_object();
    j.finish()
}

/// For a configuration that could not be used: only the diagnostics.
pub fn diagnostics_to_json(diagnostics: &[Diagnostic]) -> String {
    let mut j = Json::new();
    j.begin_object().field_bool("valid", !diagnostics.iter().any(Diagnostic::is_error)).key("diagnostics");
    diagnostic_list(&mut j, diagnostics);
    j.end_object();
    j.finish()
}

fn path(j: &mut Json, path: &Path) {
    j.string(&path.to_string_lossy());
}

fn path_field(j: &mut Json, key: &str, value: &Path) {
    j.key(key);
    path(j, value);
}

fn opt_path(j: &mut Json, key: &str, value: Option<&Path>) {
    j.key(key);
    match value {
        Some(p) => path(j, p),
        None => {
            j.null();
        }
    }
}

fn opt_number(j: &mut Json, key: &str, value: Option<impl Into<i128>>) {
    j.key(key);
    match value {
        Some(n) => j.number(n),
        None => j.null(),
    };
}

/// `{"text": ...}` or `{"file": ...}`, or null.
fn text(j: &mut Json, key: &str, value: Option<&Text>) {
    j.key(key);
    match value {
        Some(Text::Literal(s)) => {
            j.begin_object().field_str("text", s).end_object();
        }
        Some(Text::File(p)) => {
            j.begin_object();
            path_field(j, "file", p);
            j.end_object();
        }
        None => {
            j.null();
        }
    }
}

fn color_name(color: Color) -> &'static str {
    match color {
        Color::None => "NONE",
        Color::Black => "BLACK",
        Color::Blue => "BLUE",
        Color::Red => "RED",
        Color::Green => "GREEN",
        Color::Yellow => "YELLOW",
        Color::Magenta => "MAGENTA",
        Color::Cyan => "CYAN",
        Color::White => "WHITE",
    }
}

fn fs_name(fs: VirtualFs) -> &'static str {
    match fs {
        VirtualFs::Dev => "devfs",
        VirtualFs::DevPts => "devpts",
        VirtualFs::DevShm => "devshm",
        VirtualFs::Proc => "procfs",
        VirtualFs::Sys => "sysfs",
    }
}

fn globals(j: &mut Json, g: &Globals) {
    j.begin_object();
    j.field_str("default_runlevel", &g.default_runlevel);
    j.field_bool("disable_cad", g.disable_cad);
    text(j, "boot_banner", g.boot_banner.as_ref());
    j.field_str("boot_banner_color", color_name(g.boot_banner_color));
    text(j, "hostname", g.hostname.as_ref());
    text(j, "domainname", g.domainname.as_ref());
    j.key("mount_virtual").begin_array();
    for m in &g.mount_virtual {
        j.begin_object().field_str("fs", fs_name(m.fs)).field_bool("create_dir", m.create_dir).end_object();
    }
    j.end_array();
    j.field_bool("enable_logging", g.enable_logging);
    j.field_bool("blank_log_on_boot", g.blank_log_on_boot);
    j.field_strings("env", &g.env);
    text(j, "starting_status_format", g.starting_status_format.as_ref());
    text(j, "finished_status_format", g.finished_status_format.as_ref());
    j.key("status_names");
    match &g.status_names {
        Some(StatusNamesSource::Inline(n)) => {
            j.begin_object().field_str("fail", &n.fail).field_str("ok", &n.ok).field_str("warning", &n.warning).end_object();
        }
        Some(StatusNamesSource::File(p)) => {
            j.begin_object();
            path_field(j, "file", p);
            j.end_object();
        }
        None => {
            j.null();
        }
    }
    j.key("priorities").begin_array();
    for (name, number) in &g.priorities {
        j.begin_object().field_str("name", name).field_num("priority", *number).end_object();
    }
    j.end_array();
    opt_number(j, "start_timeout", g.start_timeout);
    opt_number(j, "pid_file_timeout", g.pid_file_timeout);
    opt_number(j, "stop_command_timeout", g.stop_command_timeout);
    opt_number(j, "restart_fast_failure", g.restart_fast_failure);
    opt_number(j, "restart_crash_limit", g.restart_crash_limit);
    let ioc = &g.ioc;
    j.key("ioc").begin_object();
    path_field(j, "directory", &ioc.directory);
    j.field_str("group", &ioc.group);
    j.field_str("user", &ioc.user);
    j.key("socket_user").opt_string(ioc.socket_user.as_deref());
    opt_number(j, "start_priority", ioc.start_priority);
    j.field_num("stop_priority", ioc.stop_priority);
    j.field_strings("runlevels", &ioc.runlevels);
    path_field(j, "log_directory", &ioc.log_directory);
    path_field(j, "state_directory", &ioc.state_directory);
    j.field_num("log_max_bytes", ioc.log_max_bytes);
    j.field_num("log_keep", ioc.log_keep);
    j.field_num("holdoff_secs", ioc.holdoff_secs);
    path_field(j, "procserv", &ioc.procserv);
    j.end_object();
    j.end_object();
}

fn place(j: &mut Json, config: &Config, at: Location) {
    opt_path(j, "file", config.files.get(at.file).map(|p| p.as_path()));
    j.field_num("line", at.line);
}

fn output(j: &mut Json, key: &str, value: Option<&Output>) {
    match value {
        Some(Output::Log) => {
            j.field_str(key, "LOG");
        }
        Some(Output::File(p)) => path_field(j, key, p),
        None => {
            j.key(key).null();
        }
    }
}

fn object(j: &mut Json, config: &Config, o: &Object) {
    let rare = o.rare();
    j.begin_object();
    j.field_str("id", &o.id).field_str("description", &o.description);
    place(j, config, o.location);
    j.field_bool("enabled", o.enabled);
    j.key("prestart").opt_string(rare.prestart.as_deref());
    j.key("start").opt_string(o.start.as_deref());
    j.key("stop").begin_object();
    match &o.stop {
        StopMethod::None => {
            j.field_str("method", "NONE");
        }
        StopMethod::Command(c) => {
            j.field_str("method", "command").field_str("command", c);
        }
        StopMethod::Pid => {
            j.field_str("method", "PID");
        }
        StopMethod::PidFile(p) => {
            j.field_str("method", "PIDFILE");
            opt_path(j, "path", p.as_deref());
        }
        StopMethod::Killall5 { signal, wait_secs } => {
            j.field_str("method", "KILLALL5");
            opt_number(j, "signal", *signal);
            opt_number(j, "wait_secs", *wait_secs);
        }
    }
    j.end_object();
    j.key("reload");
    match &rare.reload {
        Some(ReloadMethod::Command(c)) => {
            j.begin_object().field_str("command", c).end_object();
        }
        Some(ReloadMethod::Signal(s)) => {
            j.begin_object().field_num("signal", *s).end_object();
        }
        None => {
            j.null();
        }
    }
    j.field_num("start_priority", o.start_priority).field_num("stop_priority", o.stop_priority);
    opt_path(j, "pid_file", rare.pid_file.as_deref());
    opt_path(j, "working_directory", rare.working_directory.as_deref());
    j.key("user").opt_string(rare.user.as_deref());
    j.key("group").opt_string(rare.group.as_deref());
    output(j, "stdout", rare.stdout.as_ref());
    output(j, "stderr", rare.stderr.as_ref());
    j.field_strings("env", &rare.env);
    j.field_strings("runlevels", &o.runlevels.iter().collect::<Vec<_>>());
    j.key("options");
    options(j, &o.options);
    j.key("process").begin_object();
    for (setting, value) in o.process.iter().flat_map(|p| p.shown()) {
        j.field_str(setting.json_name(), &value.to_string());
    }
    j.end_object();
    opt_path(j, "state_directory", rare.state_directory.as_deref());
    j.key("host").opt_string(rare.host.as_deref());
    j.key("console");
    match &o.console {
        // What procServ runs is the object's own (config::Console).
        Some(c) => {
            j.begin_object().field_str("name", &o.id);
            j.key("user").opt_string(rare.user.as_deref());
            j.key("group").opt_string(rare.group.as_deref());
            opt_path(j, "chdir", rare.working_directory.as_deref());
            j.field_str("command", o.start.as_deref().unwrap_or_default()).field_bool("from_ioc_file", c.from_ioc_file);
            j.field_bool("may_choose_credentials", c.may_choose_credentials);
            path_field(j, "socket", &console_path(&o.id));
            j.end_object();
        }
        None => {
            j.null();
        }
    }
    j.end_object();
}

fn options(j: &mut Json, o: &Options) {
    j.begin_object();
    let flags = [
        ("RAWDESCRIPTION", o.raw_description),
        ("FORK", o.fork),
        ("FORKN", o.forkn),
        ("PIVOT", o.pivot),
        ("EXEC", o.exec),
        ("PERSISTENT", o.persistent),
        ("SERVICE", o.service),
        ("AUTORESTART", o.autorestart),
        ("RUNONCE", o.runonce),
        ("NOSTOPWAIT", o.no_stop_wait),
        ("HALTONLY", o.halt_only),
        ("FORCESHELL", o.force_shell),
        ("STARTFAILCRITICAL", o.start_fail_critical),
        ("STOPFAILCRITICAL", o.stop_fail_critical),
        ("NOTRACK", o.no_track),
        ("PROCSERV", o.procserv),
    ];
    for (name, set) in flags {
        j.field_bool(name, set);
    }
    opt_number(j, "STOPTIMEOUT", o.stop_timeout);
    opt_number(j, "STARTTIMEOUT", o.start_timeout);
    opt_number(j, "TERMSIGNAL", o.term_signal);
    j.key("MAPEXITSTATUS").begin_array();
    for (code, result) in &o.exit_map {
        let result = match result {
            ExitResult::Success => "SUCCESS",
            ExitResult::Warning => "WARNING",
            ExitResult::Failure => "FAILURE",
        };
        j.begin_object().field_num("code", *code).field_str("result", result).end_object();
    }
    j.end_array();
    j.end_object();
}

/// Each runlevel with the objects directly in it and the effective set
/// (direct plus inherited, Epoch's non-recursive inheritance).
fn runlevels(j: &mut Json, config: &Config) {
    j.begin_array();
    for runlevel in &config.runlevels {
        j.begin_object().field_str("name", &runlevel.name).field_strings("inherits", &runlevel.inherits);
        let direct: Vec<&str> =
            config.objects.iter().filter(|o| o.runlevels.iter().any(|r| *r == runlevel.name)).map(|o| o.id.as_str()).collect();
        let effective: Vec<&str> =
            config.objects.iter().filter(|o| config.in_runlevel(o, &runlevel.name)).map(|o| o.id.as_str()).collect();
        j.field_strings("objects", &direct).field_strings("effective", &effective);
        j.end_object();
    }
    j.end_array();
}

fn ordered(j: &mut Json, config: &Config, order: &[usize], priority: fn(&Object) -> u32) {
    j.begin_array();
    for o in order.iter().filter_map(|&i| config.objects.get(i)) {
        j.begin_object().field_str("id", &o.id).field_num("priority", priority(o)).end_object();
    }
    j.end_array();
}

fn diagnostic_list(j: &mut Json, diagnostics: &[Diagnostic]) {
    j.begin_array();
    for d in diagnostics {
        j.begin_object();
        path_field(j, "file", &d.path);
        j.field_num("line", d.line);
        j.field_str("severity", if d.severity == Severity::Error { "error" } else { "warning" });
        j.field_str("message", &d.message);
        j.end_object();
    }
    j.end_array();
}
