//! epics-ioc-runner's rules for IOC files, with iocinit as PID 1 of a PID
//! namespace (needs root) and the real procServ, or `ioc --local` of the
//! unprivileged test user iocit-local:
//! - `generate` and `install` never overwrite a differing file without
//!   asking (a line diff, then y/N on stdin; EOF or n keep it, exit 1;
//!   `-f` overwrites); an identical file is left alone and gets its mode
//!   back; `install DIR` takes the directory's own (edited) NAME.conf;
//!   files get epics-ioc-runner's modes; IOC_NAME defaults to the file name;
//! - validation as strict as epics-ioc-runner's: IOC_CMD one word (shell
//!   syntax refused at install and never run through a shell when a file
//!   is planted in the IOC directory), IOC_CHDIR absolute, existing,
//!   traversable, without `..`, accounts checked, CRASH_LOG_PATTERNS_EXTRA;
//! - `remove` stops, disables and removes a running IOC.
//!
//! The IOCs are a stand-in (a script that prints iocInit's last line and
//! waits), so that nothing here waits for a real IOC.

mod ioc_support;
mod ns;
mod pty;

use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use ioc_support::*;
use ns::{write, write_exec, Pid1};

const UP: Duration = Duration::from_secs(30);

/// A stand-in iocBoot directory `dir/NAME` with an executable st.cmd.
fn boot_dir(dir: &Path, name: &str) -> PathBuf {
    let boot = dir.join("top").join(name);
    write_exec(&boot, "st.cmd", "#!/bin/sh\necho 'iocRun: All initialization complete'\nexec sleep 600\n");
    boot
}

fn boot(dir: &Path) -> Pid1 {
    setup();
    write(dir, "epoch.conf", EPOCH_CONF);
    std::fs::create_dir_all(dir.join("ioc")).unwrap();
    Pid1::boot(dir, &[])
}

/// `ioc ARGS` inside the namespace with `input` on stdin.
fn ioc_with_input(p: &Pid1, args: &[&str], input: &str) -> Output {
    let run_dir = p.dir.join("run");
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--run-dir", run_dir.to_str().unwrap()]);
    let mut child = p.inside(p.bin.join("ioc").to_str().unwrap(), &all).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().mode() & 0o7777
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

#[track_caller]
fn fails(out: Output, what: &str, says: &str) -> String {
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{what}: {all}");
    assert!(all.contains(says), "{what}: expected {says:?} in:\n{all}");
    all
}

#[test]
fn generate_and_install_never_overwrite_a_differing_file_without_asking() {
    let s = Scratch::new("rf-overwrite");
    let p = boot(s.path());
    let dir = boot_dir(s.path(), "iocvac1");
    let conf = dir.join("iocvac1.conf");
    let d = dir.to_str().unwrap();

    // A new file: 0660 system-wide, as epics-ioc-runner writes it.
    let who = ["--ioc-user", IOC_USER, "--ioc-group", GROUP];
    let gen = |extra: &[&'static str]| [&["generate", d][..], &who, extra].concat();
    ok(p.ioc(&gen(&[])), "generate");
    assert_eq!(mode(&conf), 0o660);
    let generated = read(&conf);
    // The same again: left alone, its loosened mode set back.
    std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o666)).unwrap();
    let out = ok(p.ioc(&gen(&[])), "generate of an identical file");
    assert!(out.contains("already up-to-date (Identical)"), "{out}");
    assert_eq!(mode(&conf), 0o660);

    // An edited file: the difference is shown; EOF and "n" keep it (exit 1).
    let edited = format!("{generated}# sector 1's gateway listens on 5999\nEPICS_CA_SERVER_PORT=\"5999\"\n");
    std::fs::write(&conf, &edited).unwrap();
    let all = fails(p.ioc(&gen(&[])), "generate over an edited file, EOF", "already exists with differences");
    assert!(all.contains("-EPICS_CA_SERVER_PORT=\"5999\""), "no line diff:\n{all}");
    fails(ioc_with_input(&p, &gen(&[]), "n\n"), "generate, answered n", "kept");
    assert_eq!(read(&conf), edited, "the edited file was replaced");
    assert!(std::fs::read_dir(&dir).unwrap().all(|e| !e.unwrap().file_name().to_string_lossy().ends_with(".tmp")), "a temporary file was left");

    // install DIR takes the edited NAME.conf of the directory, as it is,
    // comments and all.
    ok(p.ioc(&["install", d]), "install DIR");
    let installed = s.path().join("ioc/iocvac1.conf");
    assert_eq!(read(&installed), edited, "install DIR did not install the file as written");
    // Root's install stays root's alone to write (it chooses its user).
    assert_eq!((std::fs::metadata(&installed).unwrap().uid(), mode(&installed)), (0, 0o644));
    let out = ok(p.ioc(&["install", d]), "install of an identical file");
    assert!(out.contains("already up-to-date (Identical)"), "{out}");

    // -f overwrites without asking; install asks too, and y replaces.
    ok(p.ioc(&gen(&["-f"])), "generate -f");
    assert_eq!(read(&conf), generated);
    fails(p.ioc(&["install", d]), "install of a differing file, EOF", "already exists with differences");
    assert!(read(&installed).contains("5999"), "install replaced the file on EOF");
    ok(ioc_with_input(&p, &["install", d], "y\n"), "install, answered y");
    assert!(!read(&installed).contains("5999"));
    assert_eq!(p.state("iocvac1"), "stopped");
    p.poweroff();
}

#[test]
fn install_validates_as_strictly_as_epics_ioc_runner() {
    let s = Scratch::new("rf-validate");
    std::fs::set_permissions(s.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let p = boot(s.path());
    let dir = boot_dir(s.path(), "vac");
    let file = |name: &str, body: &str| write(s.path(), &format!("src/{name}.conf"), &body.replace("@BOOT@", dir.to_str().unwrap()));
    let install = |path: &Path| p.ioc(&["install", path.to_str().unwrap()]);
    let ioc_dir = s.path().join("ioc");

    for (name, body, says) in [
        ("shell", "IOC_CHDIR=\"@BOOT@\"\nIOC_CMD=\"true; echo hacked\"\n", "IOC_CMD must be a single word"),
        ("pipe", "IOC_CHDIR=\"@BOOT@\"\nIOC_CMD=\"./st.cmd|x\"\n", "IOC_CMD: a character a shell would interpret"),
        ("words", "IOC_CHDIR=\"@BOOT@\"\nIOC_CMD=\"softIoc -d x.db\"\n", "IOC_CMD must be a single word"),
        ("dotdot", "IOC_CHDIR=\"@BOOT@/../vac\"\nIOC_CMD=\"./st.cmd\"\n", "IOC_CHDIR contains a '..' component"),
        ("relative", "IOC_CHDIR=\"top/vac\"\nIOC_CMD=\"./st.cmd\"\n", "IOC_CHDIR must be an absolute path"),
        ("missing", "IOC_CHDIR=\"@BOOT@/nothing\"\nIOC_CMD=\"./st.cmd\"\n", "IOC_CHDIR: invalid or missing directory"),
        ("noexec", "IOC_CHDIR=\"@BOOT@\"\nIOC_CMD=\"./absent.cmd\"\n", "IOC_CMD: command not executable or not found"),
        ("nouser", "IOC_USER=\"no-such-user-7\"\nIOC_CHDIR=\"@BOOT@\"\nIOC_CMD=\"./st.cmd\"\n", "IOC_USER: no such user"),
        ("nocmd", "IOC_CHDIR=\"@BOOT@\"\n", "IOC_CMD missing"),
        ("badchars", "IOC_CHDIR=\"@BOOT@\"\nIOC_CMD=\"./st.cmd\"\nCRASH_LOG_PATTERNS_EXTRA=\"foo;rm -rf /\"\n", "CRASH_LOG_PATTERNS_EXTRA"),
        ("canary", "IOC_CHDIR=\"@BOOT@\"\nIOC_CMD=\"./st.cmd\"\nCRASH_LOG_PATTERNS_EXTRA=\"link lost|.\"\n", "ordinary log text"),
    ] {
        fails(install(&file(name, body)), name, says);
        assert!(!ioc_dir.join(format!("{name}.conf")).exists(), "{name}: installed");
    }
    // A directory the installer cannot enter.
    let closed = boot_dir(s.path(), "closed");
    std::fs::set_permissions(&closed, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = p.ioc_as(MEMBER, &["install", file("closed", &format!("IOC_CHDIR=\"{}\"\nIOC_CMD=\"./st.cmd\"\n", closed.display())).to_str().unwrap()]);
    fails(out, "closed", "IOC_CHDIR: execute permission denied");

    // Without IOC_NAME the IOC is named after its file; plain patterns pass.
    let good = file("vac9", "IOC_CHDIR=\"@BOOT@\"\nIOC_CMD=\"./st.cmd\"\nCRASH_LOG_PATTERNS_EXTRA=\"Broken pipe|net_ex\"\n");
    ok(install(&good), "install of a file without IOC_NAME");
    ok(p.ioc(&["start", "vac9"]), "start vac9");

    // A file with shell syntax planted in the IOC directory (by a member of
    // the IOC group) is refused at load, never run through /bin/sh.
    write_exec(&dir, "mark.sh", &format!("#!/bin/sh\ntouch {}/marker\n", s.path().display()));
    write(&ioc_dir, "planted.conf", &format!("IOC_CHDIR=\"{}\"\nIOC_CMD=\"./mark.sh;./st.cmd\"\n", dir.display()));
    ok(p.ioc(&["rescan"]), "rescan");
    let out = p.ioc(&["start", "planted"]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(wait_for(UP, || p.said().contains("planted.conf:2: IOC_CMD")), "{}", p.said());
    std::thread::sleep(Duration::from_millis(500));
    assert!(!s.path().join("marker").exists(), "the planted command ran through a shell");
    p.poweroff();
}

#[test]
fn remove_stops_disables_and_removes_a_running_ioc() {
    let s = Scratch::new("rf-remove");
    let p = boot(s.path());
    let dir = boot_dir(s.path(), "iocrm");
    ok(p.ioc(&["install", dir.to_str().unwrap(), "--ioc-user", IOC_USER, "--ioc-group", GROUP, "--start"]), "install --start");
    ok(p.ioc(&["enable", "iocrm"]), "enable");
    let out = ok(p.ioc(&["remove", "iocrm"]), "remove of a running IOC");
    assert!(out.contains("iocrm stopped") && out.contains("removed"), "{out}");
    assert!(!s.path().join("ioc/iocrm.conf").exists());
    assert!(wait_for(UP, || p.find_process("procServ").is_none()), "{:?}", p.processes());
    assert!(!read(&s.path().join("state/state")).contains("enable iocrm"), "still enabled:\n{}", read(&s.path().join("state/state")));
    p.poweroff();
}

/// `ioc --local` as iocit-local with no supervisor running.
fn local_ioc(home: &Path, args: &[&str]) -> Output {
    let u = nix::unistd::User::from_name(LOCAL_USER).unwrap().expect("tests/support/install-test-users");
    let mut c = Command::new("setpriv");
    c.args(["--reuid", &u.uid.to_string(), "--regid", &u.gid.to_string(), "--init-groups", "--", "env", "-i"])
        .arg(format!("HOME={}", home.display()))
        .arg(format!("XDG_RUNTIME_DIR={}", home.join("run").display()))
        .arg("PATH=/usr/bin:/bin")
        .arg(home.parent().unwrap().join("bin/ioc"))
        .arg("--local")
        .args(args)
        .stdin(Stdio::null());
    c.output().unwrap()
}

#[test]
fn local_install_needs_no_supervisor_and_writes_your_own_file() {
    setup();
    let s = Scratch::new("rf-local");
    let home = s.path().join("home");
    let dir = boot_dir(&home, "ioclocal");
    let u = nix::unistd::User::from_name(LOCAL_USER).unwrap().unwrap();
    let chown = Command::new("chown").arg("-R").arg(format!("{}:{}", u.uid, u.gid)).arg(&home).status().unwrap();
    assert!(chown.success());
    std::fs::set_permissions(s.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::create_dir_all(s.path().join("bin")).unwrap();
    std::os::unix::fs::symlink(ns::shared_bin(), s.path().join("bin/ioc")).unwrap();

    let out = local_ioc(&home, &["generate", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(mode(&dir.join("ioclocal.conf")), 0o600);
    let out = local_ioc(&home, &["install", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let installed = home.join(".config/procServ.d/ioclocal.conf");
    assert_eq!((std::fs::metadata(&installed).unwrap().uid(), mode(&installed)), (u.uid.as_raw(), 0o600));
    assert!(text(&out).contains("No supervisor serves"), "{}", text(&out));

    // A directory you may not write: said in epics-ioc-runner's words.
    let closed = boot_dir(&home, "iocclosed");
    nix::unistd::chown(&closed, Some(u.uid), Some(u.gid)).unwrap();
    std::fs::set_permissions(&closed, std::fs::Permissions::from_mode(0o500)).unwrap();
    fails(local_ioc(&home, &["generate", closed.to_str().unwrap()]), "generate into a read-only directory", "No write permission to");

    // An IOC_PORT naming another console is replaced, with one warning.
    let port = write(&home, "portioc.conf", &format!("IOC_PORT=\"unix:x:y:0660:/not/standard\"\nIOC_CHDIR=\"{}\"\nIOC_CMD=\"./st.cmd\"\n", dir.display()));
    nix::unistd::chown(&port, Some(u.uid), Some(u.gid)).unwrap();
    let out = local_ioc(&home, &["install", port.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(text(&out).matches("Warning: IOC_PORT in the conf is replaced").count(), 1, "{}", text(&out));
    let socket = home.join("run/procserv/portioc/control");
    assert!(read(&home.join(".config/procServ.d/portioc.conf")).contains(&format!(":0660:{}\"", socket.display())));

    // A local IOC runs as you: a file naming someone else is refused.
    let other = write(&home, "other.conf", &format!("IOC_USER=\"{IOC_USER}\"\nIOC_CHDIR=\"{}\"\nIOC_CMD=\"./st.cmd\"\n", dir.display()));
    nix::unistd::chown(&other, Some(u.uid), Some(u.gid)).unwrap();
    fails(local_ioc(&home, &["install", other.to_str().unwrap()]), "install of another user's IOC", "IOC_USER: local IOCs must run as iocit-local");
}

#[test]
fn installed_is_not_enabled_until_enable_and_rescans_and_reboots_keep_it() {
    let s = Scratch::new("rf-enable");
    setup();
    // epics-ioc-runner's semantics: no IocEnabled.
    write(s.path(), "epoch.conf", &EPOCH_CONF.replace("IocEnabled true\n", ""));
    for name in ["a", "b"] {
        let dir = boot_dir(s.path(), name);
        write(s.path(), &format!("ioc/{name}.conf"), &format!("IOC_USER=\"{IOC_USER}\"\nIOC_CHDIR=\"{}\"\nIOC_CMD=\"./st.cmd\"\n", dir.display()));
    }
    // A board image marks its IOCs enabled in the state file it ships.
    write(s.path(), "state/state", "# shipped with the image\nenable b\n");
    let enabled = |p: &Pid1, name: &str| p.status(name)["enabled"].as_bool().unwrap();

    let p = Pid1::boot(s.path(), &[]);
    p.wait_state("b", "running", UP);
    assert_eq!((p.state("a"), enabled(&p, "a"), enabled(&p, "b")), ("stopped".to_string(), false, true));
    ok(p.ioc(&["enable", "a"]), "enable a");
    // A rescan (an install does one) keeps what enable said.
    let c = boot_dir(s.path(), "c");
    let out = ok(p.ioc(&["install", c.to_str().unwrap(), "--ioc-user", IOC_USER, "--ioc-group", GROUP]), "install c");
    assert!(out.contains("ioc enable c"), "{out}");
    assert_eq!((enabled(&p, "a"), enabled(&p, "b"), enabled(&p, "c")), (true, true, false));
    assert_eq!(p.state("c"), "stopped", "installing started it");
    p.poweroff();

    // The next boot starts a and b, not c.
    let p = Pid1::boot(s.path(), &[]);
    p.wait_state("a", "running", UP);
    p.wait_state("b", "running", UP);
    assert_eq!(p.state("c"), "stopped");
    p.poweroff();
}
