//! The Buildroot external tree (`buildroot/`), checked without Buildroot:
//! CI cannot run Buildroot (it is in no package registry), so these tests
//! read the tree as text and check what can go stale unnoticed:
//! - the iocinit package installs exactly the multi-call names of
//!   src/cli/mod.rs (in /sbin, or /usr/bin for the client front ends);
//! - every path the defconfigs name under the tree or the overlay exists,
//!   with the board's readme (its QEMU line names the defconfig);
//! - every package directory is sourced from Config.in and defines the
//!   symbols and the variables the defconfigs and its .mk use;
//! - the .hash files have Buildroot's format and cover each download.
//!
//! What needs Buildroot itself (check-package, loading each defconfig,
//! building and booting) is described in buildroot/README.md.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn tree() -> PathBuf {
    repo().join("buildroot")
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn list_dir(path: &Path) -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> = fs::read_dir(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    entries
}

/// A makefile variable of the form `NAME = words` (one line).
fn mk_words(mk: &str, name: &str) -> Vec<String> {
    let prefix = format!("{name} = ");
    let line = mk
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no `{prefix}...` line"));
    line[prefix.len()..].split_whitespace().map(str::to_string).collect()
}

/// The names iocinit answers to, from its usage text ("Also called as: ...").
fn multi_call_names() -> BTreeSet<String> {
    let source = read(&repo().join("src/cli/mod.rs"));
    let line = source
        .lines()
        .find_map(|l| l.strip_prefix("Also called as: "))
        .expect("src/cli/mod.rs: no `Also called as:` line in the usage text");
    let names: BTreeSet<String> =
        line.trim_end_matches("\";").trim_end_matches('.').split(", ").map(str::to_string).collect();
    // Each one is dispatched on, as a string literal of the front end.
    for name in &names {
        assert!(source.contains(&format!("\"{name}\"")), "src/cli/mod.rs: `{name}` is in the usage but not dispatched on");
    }
    names
}

#[test]
fn package_installs_every_multi_call_name() {
    let mk = read(&tree().join("package/iocinit/iocinit.mk"));
    let sbin = mk_words(&mk, "IOCINIT_SBIN_LINKS");
    let usr_bin = mk_words(&mk, "IOCINIT_USR_BIN_LINKS");
    let installed: BTreeSet<String> = sbin.iter().chain(&usr_bin).cloned().collect();
    assert_eq!(installed.len(), sbin.len() + usr_bin.len(), "a name is installed twice: {sbin:?} {usr_bin:?}");
    assert_eq!(installed, multi_call_names(), "iocinit.mk's links differ from iocinit's multi-call names");
    // The supervisor and the power applets belong in /sbin (the kernel runs
    // /sbin/init; they replace BusyBox's), the client front ends in /usr/bin.
    for name in ["init", "halt", "reboot", "poweroff", "shutdown"] {
        assert!(sbin.iter().any(|n| n == name), "{name} must be linked in /sbin");
    }
    for name in ["ioc", "ioc-runner", "epoch"] {
        assert!(usr_bin.iter().any(|n| n == name), "{name} must be linked in /usr/bin");
    }
    assert!(mk.contains("$(TARGET_DIR)/sbin/iocinit"), "iocinit.mk does not install /sbin/iocinit");
    assert!(mk.contains("IOCINIT_DEPENDENCIES = $(if $(BR2_PACKAGE_BUSYBOX),busybox)"), "iocinit must be installed after BusyBox");
}

#[test]
fn package_restores_the_release_profile_of_cargo_toml() {
    let cargo = read(&repo().join("Cargo.toml"));
    let profile = cargo.split("[profile.release]").nth(1).expect("Cargo.toml: no [profile.release]");
    let profile = profile.split("\n[").next().unwrap();
    let mk = read(&tree().join("package/iocinit/iocinit.mk"));
    for (key, env) in [("opt-level", "OPT_LEVEL"), ("lto", "LTO"), ("codegen-units", "CODEGEN_UNITS"), ("panic", "PANIC")] {
        let value = profile
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{key} = ")))
            .unwrap_or_else(|| panic!("Cargo.toml: no {key} in [profile.release]"))
            .trim_matches('"');
        let setting = format!("CARGO_PROFILE_RELEASE_{env}=\"{value}\"");
        assert!(mk.contains(&setting), "iocinit.mk does not set {setting} (Cargo.toml: {key} = {value})");
    }
}

/// `$(BR2_EXTERNAL_IOCINIT_PATH)/...` paths in a value, resolved in the tree.
fn external_paths(value: &str) -> Vec<PathBuf> {
    value
        .split(|c: char| c.is_whitespace() || c == '"')
        .filter_map(|w| w.strip_prefix("$(BR2_EXTERNAL_IOCINIT_PATH)/"))
        .map(|rel| tree().join(rel))
        .collect()
}

fn defconfigs() -> Vec<(String, String)> {
    let configs = list_dir(&tree().join("configs"));
    assert!(configs.len() >= 4, "expected the three QEMU defconfigs and a real board's");
    configs
        .into_iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            assert!(name.starts_with("iocinit_") && name.ends_with("_defconfig"), "{name}: expected iocinit_*_defconfig");
            (name, read(&p))
        })
        .collect()
}

fn setting<'a>(defconfig: &'a str, symbol: &str) -> Option<&'a str> {
    defconfig.lines().find_map(|l| l.strip_prefix(&format!("{symbol}=")))
}

#[test]
fn every_defconfig_names_what_exists() {
    for name in ["iocinit_qemu_arm_vexpress_defconfig", "iocinit_qemu_aarch64_virt_defconfig", "iocinit_qemu_x86_64_defconfig"] {
        assert!(tree().join("configs").join(name).is_file(), "configs/{name} is missing");
    }
    for (name, defconfig) in defconfigs() {
        assert_eq!(setting(&defconfig, "BR2_DOWNLOAD_FORCE_CHECK_HASHES"), Some("y"), "{name}: BR2_DOWNLOAD_FORCE_CHECK_HASHES=y");
        assert_eq!(setting(&defconfig, "BR2_INIT_IOCINIT"), Some("y"), "{name}: BR2_INIT_IOCINIT=y");
        assert_eq!(setting(&defconfig, "BR2_PACKAGE_PROCSERV"), Some("y"), "{name}: BR2_PACKAGE_PROCSERV=y");
        let overlay = setting(&defconfig, "BR2_ROOTFS_OVERLAY").unwrap_or_else(|| panic!("{name}: no BR2_ROOTFS_OVERLAY"));
        let overlays = external_paths(overlay);
        assert!(
            overlays.iter().any(|p| p.canonicalize().ok() == repo().join("rootfs").canonicalize().ok()),
            "{name}: BR2_ROOTFS_OVERLAY must be this repository's rootfs/ ($(BR2_EXTERNAL_IOCINIT_PATH)/../rootfs), got {overlay}"
        );
        let mut boards = BTreeSet::new();
        for line in defconfig.lines().filter(|l| !l.starts_with('#')) {
            for path in external_paths(line) {
                assert!(path.exists(), "{name}: `{line}` names {} which does not exist", path.display());
                if line.contains("_SCRIPT=") {
                    let mode = std::os::unix::fs::PermissionsExt::mode(&fs::metadata(&path).unwrap().permissions());
                    assert!(mode & 0o111 != 0, "{name}: script {} is not executable", path.display());
                }
                if let Ok(rel) = path.strip_prefix(tree().join("board")) {
                    let board = rel.components().next().unwrap().as_os_str().to_string_lossy().into_owned();
                    if board != "common" {
                        boards.insert(board);
                    }
                }
            }
        }
        assert_eq!(boards.len(), 1, "{name}: expected one board directory of its own, got {boards:?}");
        let board = tree().join("board").join(boards.first().unwrap());
        let readme = read(&board.join("readme.txt"));
        assert!(readme.contains(&name), "{}/readme.txt does not name {name}", board.display());
        if name.contains("_qemu_") {
            let qemu = readme.lines().find(|l| l.trim_start().starts_with("qemu-system-"));
            let qemu = qemu.unwrap_or_else(|| panic!("{}/readme.txt: no qemu-system line", board.display()));
            assert!(qemu.ends_with(&format!("# {name}")), "{}/readme.txt: the QEMU line must end `# {name}`", board.display());
            assert!(qemu.contains(" rw"), "{}/readme.txt: the root must be mounted rw (iocinit does not remount it)", board.display());
        }
    }
}

#[test]
fn busybox_fragment_enables_what_the_overlay_needs() {
    let fragment = read(&tree().join("board/common/busybox.fragment"));
    for line in fragment.lines().filter(|l| !l.is_empty() && !l.starts_with("# ")) {
        assert!(line.starts_with("CONFIG_") && line.contains('='), "busybox.fragment: `{line}`: expected CONFIG_X=value");
    }
    let console_shell = read(&repo().join("rootfs/usr/libexec/iocinit/console-shell"));
    assert!(console_shell.contains("cttyhack"), "the console shell no longer uses cttyhack: update busybox.fragment");
    assert!(fragment.lines().any(|l| l == "CONFIG_CTTYHACK=y"), "busybox.fragment: CONFIG_CTTYHACK=y");
    let epoch_conf = read(&repo().join("rootfs/etc/epoch/epoch.conf"));
    assert!(epoch_conf.contains("/usr/libexec/iocinit/console-shell"), "rootfs/etc/epoch/epoch.conf must start the console shell");
}

/// Every `config` symbol defined by the tree's Kconfig files.
fn defined_symbols() -> BTreeSet<String> {
    let mut files = vec![tree().join("provides/init.in")];
    files.extend(list_dir(&tree().join("package")).into_iter().map(|p| p.join("Config.in")));
    files
        .iter()
        .flat_map(|f| read(f).lines().filter_map(|l| l.strip_prefix("config ")).map(str::to_string).collect::<Vec<_>>())
        .collect()
}

#[test]
fn every_package_is_sourced_and_names_what_exists() {
    let external_desc = read(&tree().join("external.desc"));
    assert!(external_desc.lines().any(|l| l == "name: IOCINIT"), "external.desc: name: IOCINIT");
    let config_in = read(&tree().join("Config.in"));
    let sourced: BTreeSet<PathBuf> = config_in
        .lines()
        .filter_map(|l| l.trim().strip_prefix("source \"$BR2_EXTERNAL_IOCINIT_PATH/"))
        .map(|rel| tree().join(rel.trim_end_matches('"')))
        .collect();
    for path in &sourced {
        assert!(path.is_file(), "Config.in sources {} which does not exist", path.display());
    }
    let external_mk = read(&tree().join("external.mk"));
    assert!(external_mk.contains("$(BR2_EXTERNAL_IOCINIT_PATH)/package/*/*.mk"), "external.mk must include every package's .mk");
    let symbols = defined_symbols();
    for dir in list_dir(&tree().join("package")) {
        let pkg = dir.file_name().unwrap().to_string_lossy().into_owned();
        let upper = pkg.to_uppercase().replace('-', "_");
        assert!(sourced.contains(&dir.join("Config.in")), "Config.in does not source package/{pkg}/Config.in");
        assert!(symbols.contains(&format!("BR2_PACKAGE_{upper}")), "package/{pkg}/Config.in does not define BR2_PACKAGE_{upper}");
        let mk = read(&dir.join(format!("{pkg}.mk")));
        for line in mk.lines().filter(|l| !l.starts_with(['#', '\t', ' ']) && (l.contains(" = ") || l.contains(" += "))) {
            let variable = line.split_whitespace().next().unwrap();
            assert!(variable.starts_with(&format!("{upper}_")), "package/{pkg}/{pkg}.mk: `{variable}` is not prefixed {upper}_");
        }
        for symbol in mk.split("$(BR2_").skip(1).map(|s| format!("BR2_{}", s.split(')').next().unwrap())) {
            if symbol.starts_with(&format!("BR2_PACKAGE_{upper}")) {
                assert!(symbols.contains(&symbol), "package/{pkg}/{pkg}.mk uses {symbol}, which no Config.in defines");
            }
        }
    }
    let init_in = read(&tree().join("provides/init.in"));
    assert!(init_in.contains("config BR2_INIT_IOCINIT"), "provides/init.in: config BR2_INIT_IOCINIT");
    assert!(init_in.contains("select BR2_PACKAGE_IOCINIT\n"), "provides/init.in must select the iocinit package");
    assert!(init_in.contains("select BR2_PACKAGE_SKELETON_INIT_NONE"), "provides/init.in must select the init-none skeleton");
    // The defconfigs set only symbols of Buildroot or of this tree.
    for (name, defconfig) in defconfigs() {
        for line in defconfig.lines().filter(|l| l.contains("IOCINIT") && !l.contains("$(BR2_EXTERNAL_IOCINIT_PATH)")) {
            let symbol = line.trim_start_matches("# ").split(['=', ' ']).next().unwrap();
            assert!(symbols.contains(symbol), "{name}: {symbol} is not defined by the tree");
        }
    }
    let iocinit_mk = read(&tree().join("package/iocinit/iocinit.mk"));
    for file in mk_words(&iocinit_mk, "IOCINIT_LICENSE_FILES") {
        assert!(repo().join(&file).is_file(), "IOCINIT_LICENSE_FILES names {file}, not in the repository");
    }
}

#[test]
fn hash_files_have_buildroot_format_and_cover_each_download() {
    for dir in list_dir(&tree().join("package")) {
        let pkg = dir.file_name().unwrap().to_string_lossy().into_owned();
        let mk = read(&dir.join(format!("{pkg}.mk")));
        let upper = pkg.to_uppercase().replace('-', "_");
        let local = mk.contains(&format!("{upper}_SITE_METHOD = local"));
        let hash_path = dir.join(format!("{pkg}.hash"));
        if local {
            // Local sources are never hash-checked by Buildroot.
            assert!(!hash_path.exists(), "package/{pkg}: a local source has no .hash file");
            continue;
        }
        let hash = read(&hash_path);
        let mut files = BTreeSet::new();
        for (n, line) in hash.lines().enumerate().filter(|(_, l)| !l.is_empty() && !l.starts_with('#')) {
            let at = format!("package/{pkg}/{pkg}.hash:{}", n + 1);
            let fields: Vec<&str> = line.split("  ").collect();
            assert_eq!(fields.len(), 3, "{at}: expected `ALGO  HASH  FILE` separated by two spaces, got `{line}`");
            let hex_len = match fields[0] {
                "md5" => 32,
                "sha1" => 40,
                "sha224" => 56,
                "sha256" => 64,
                "sha384" => 96,
                "sha512" => 128,
                other => panic!("{at}: unknown hash type {other}"),
            };
            assert!(
                fields[1].len() == hex_len && fields[1].bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
                "{at}: expected {hex_len} lowercase hex digits for {}",
                fields[0]
            );
            assert!(!fields[2].is_empty() && !fields[2].contains(char::is_whitespace), "{at}: bad file name");
            files.insert(fields[2].to_string());
        }
        let version = mk_words(&mk, &format!("{upper}_VERSION")).join("");
        let source = mk_words(&mk, &format!("{upper}_SOURCE")).join("").replace(&format!("$({upper}_VERSION)"), &version);
        assert!(files.contains(&source), "package/{pkg}/{pkg}.hash has no line for {source}");
        for license in mk_words(&mk, &format!("{upper}_LICENSE_FILES")) {
            assert!(files.contains(&license), "package/{pkg}/{pkg}.hash has no line for its license file {license}");
        }
    }
}

/// `name=value` of a shell assignment line in a script.
fn shell_value(script: &str, name: &str) -> String {
    let prefix = format!("{name}=");
    script
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no `{prefix}...` line"))
        .trim_matches(['"', '\''])
        .to_string()
}

#[test]
fn epics_softioc_package_builds_what_the_demo_ioc_runs() {
    // The same sdist as board/common/build-epics (the QEMU boards' softIoc):
    // one EPICS release for epics-gen, whichever way the image is made.
    let build_epics = read(&repo().join("board/common/build-epics"));
    let mk = read(&tree().join("package/epics-softioc/epics-softioc.mk"));
    let version = shell_value(&build_epics, "version");
    let sha256 = shell_value(&build_epics, "sha256");
    assert_eq!(mk_words(&mk, "EPICS_SOFTIOC_VERSION"), std::slice::from_ref(&version), "epics-softioc.mk and board/common/build-epics pin different releases");
    let hash = read(&tree().join("package/epics-softioc/epics-softioc.hash"));
    let line = format!("sha256  {sha256}  epicscorelibs-{version}.tar.gz");
    assert!(hash.lines().any(|l| l == line), "epics-softioc.hash: expected `{line}` (board/common/build-epics's pin)");
    assert!(mk.contains("$(BR2_EXTERNAL_IOCINIT_PATH)/../board/common/epics-gen"), "epics-softioc.mk must generate with board/common/epics-gen");
    assert!(repo().join("board/common/epics-gen").is_file(), "board/common/epics-gen is missing");
    // The demo IOC's st.cmd runs /usr/bin/softIoc: the package links it,
    // and the demo IOC option brings the package in.
    let st_cmd = read(&repo().join("rootfs/opt/iocs/demo/iocBoot/iocdemo/st.cmd"));
    assert!(st_cmd.starts_with("#!/usr/bin/softIoc\n"), "the demo IOC's st.cmd no longer starts with #!/usr/bin/softIoc");
    assert!(mk.contains("$(TARGET_DIR)/usr/bin/softIoc"), "epics-softioc.mk must install /usr/bin/softIoc");
    let iocinit_config = read(&tree().join("package/iocinit/Config.in"));
    let demo = iocinit_config.split("config BR2_PACKAGE_IOCINIT_DEMO_IOC\n").nth(1).expect("no BR2_PACKAGE_IOCINIT_DEMO_IOC");
    let demo = demo.split("\n\n").next().unwrap();
    assert!(demo.contains("\tselect BR2_PACKAGE_EPICS_SOFTIOC\n"), "BR2_PACKAGE_IOCINIT_DEMO_IOC must select BR2_PACKAGE_EPICS_SOFTIOC");
}

/// A defconfig value with `$(BR2_EXTERNAL_IOCINIT_PATH)` resolved and its
/// quotes stripped, as Buildroot hands it to a script.
fn resolved(value: &str) -> Vec<String> {
    let tree = tree();
    value.trim_matches('"').replace("$(BR2_EXTERNAL_IOCINIT_PATH)", &tree.to_string_lossy()).split_whitespace().map(String::from).collect()
}

#[test]
fn qemu_post_image_script_writes_start_qemu_as_buildroot_calls_it() {
    for (name, defconfig) in defconfigs().into_iter().filter(|(n, _)| n.contains("_qemu_")) {
        let script = resolved(setting(&defconfig, "BR2_ROOTFS_POST_IMAGE_SCRIPT").unwrap_or_else(|| panic!("{name}: no post-image script")));
        let args = resolved(setting(&defconfig, "BR2_ROOTFS_POST_SCRIPT_ARGS").unwrap_or_default());
        let images = std::env::temp_dir().join(format!("iocinit-br-images-{}-{name}", std::process::id()));
        fs::create_dir_all(&images).unwrap();
        // Buildroot runs each post-image script with the images directory
        // first, then BR2_ROOTFS_POST_SCRIPT_ARGS (its Makefile, target-post-image).
        let out = std::process::Command::new(&script[0])
            .arg(&images)
            .args(&args)
            .env("BINARIES_DIR", &images)
            .env("HOST_DIR", "/nonexistent/host")
            .output()
            .unwrap();
        let start = fs::read_to_string(images.join("start-qemu.sh"));
        fs::remove_dir_all(&images).unwrap();
        assert!(out.status.success(), "{name}: {} failed: {}", script[0], String::from_utf8_lossy(&out.stderr));
        let start = start.unwrap_or_else(|e| panic!("{name}: no images/start-qemu.sh: {e}"));
        let board = args.first().unwrap_or_else(|| panic!("{name}: BR2_ROOTFS_POST_SCRIPT_ARGS names no board directory"));
        let readme = read(&Path::new(board).join("readme.txt"));
        let qemu = readme.lines().map(str::trim_start).find(|l| l.starts_with("qemu-system-")).unwrap();
        let qemu = qemu.split(" #").next().unwrap().replace("output/images/", "");
        assert!(start.contains(&format!("exec {qemu}")), "{name}: start-qemu.sh does not run the readme's QEMU line:\n{start}");
    }
}
