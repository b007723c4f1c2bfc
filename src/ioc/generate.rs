//! `ioc generate <iocBoot dir>`: the IOC file for an iocBoot/iocNAME
//! directory, as epics-ioc-runner's generate makes it. The name defaults to
//! the directory's own name, unchanged (`iocBoot/iocvac1` gives `iocvac1`),
//! so IOCs moved over from epics-ioc-runner keep their names; `--name`
//! chooses another. The start command is the one executable `*.cmd` file of
//! the directory; with several, a terminal user picks one, and otherwise
//! `--cmd` must name it.
//!
//! The result is a [`config::iocfile::IocFile`](crate::config::iocfile::IocFile);
//! that module renders and writes it (temp file, fsync, rename), so there is
//! one reader and one writer of the format.

use std::fmt::{self, Write as _};
use std::fs;

use crate::config::iocfile::{valid_ioc_name, IocFile};
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug)]
pub struct GenerateOptions {
    /// IOC name; default: the directory's name.
    pub name: Option<String>,
    /// Which `*.cmd` to run when the directory has several.
    pub cmd: Option<String>,
    /// With several and no `cmd`: the first by name, without asking
    /// (`-f`, as epics-ioc-runner's `--force`).
    pub first_if_several: bool,
    pub user: String,
    pub group: String,
    /// Where the console sockets live (`/run/procserv`).
    pub run_dir: PathBuf,
}

/// Who a generated file's IOC runs as unless told (epics-ioc-runner's
/// system user), and who PID 1's IOCs run as when it does not say.
pub const DEFAULT_USER: &str = "ioc-srv";
/// The group of [`DEFAULT_USER`]'s files (epics-ioc-runner's IOC group).
pub const DEFAULT_GROUP: &str = "ioc";

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions {
            name: None,
            cmd: None,
            first_if_several: false,
            user: DEFAULT_USER.into(),
            group: DEFAULT_GROUP.into(),
            run_dir: PathBuf::from("/run/procserv"),
        }
    }
}

/// Where to ask which startup script to use (a terminal).
pub struct Prompt<'a> {
    /// The next line typed, `None` at the end of input: `ioc generate`'s
    /// is [`read_stdin_line`].
    pub next_line: &'a mut dyn FnMut() -> Option<String>,
    pub output: &'a mut dyn Write,
}

/// The next line of stdin with its `\n` (the last may have none), `None` at
/// the end of input, on a read error or on a line that is not UTF-8 (where
/// `BufRead::read_line` failed). Read with read(2) a byte at a time, so
/// nothing past the line is taken from fd 0: a later question (`ioc`'s
/// overwrite question after `generate`'s) reads the lines after it, as it
/// did from std's buffered `Stdin`, whose locked reader (its `BufReader`,
/// `read_until` and `read_line`) the program no longer links. Only ever a
/// few lines a person types, or a script answers.
pub fn read_stdin_line() -> Option<String> {
    let mut line = Vec::new();
    let mut byte = [0u8];
    while line.last() != Some(&b'\n') {
        match nix::unistd::read(0, &mut byte) {
            Ok(0) => break,
            Ok(_) => line.push(byte[0]),
            Err(nix::errno::Errno::EINTR) => {}
            Err(_) => return None,
        }
    }
    if line.is_empty() {
        return None;
    }
    String::from_utf8(line).ok()
}

#[derive(Debug)]
pub enum GenerateError {
    Directory {
        dir: PathBuf,
        source: io::Error,
    },
    BadName(String),
    NoStartupScript(PathBuf),
    /// Several candidates and nobody to ask.
    SeveralStartupScripts {
        dir: PathBuf,
        candidates: Vec<String>,
    },
    NoSuchStartupScript {
        wanted: String,
        candidates: Vec<String>,
    },
    /// The prompt's input ended before a choice.
    NoChoice,
    /// A value the IOC file format cannot hold.
    BadValue(String),
}

impl fmt::Display for GenerateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("generate: ")?;
        match self {
            GenerateError::Directory { dir, source } => {
                write!(f, "unable to read the iocBoot directory {}: {source}", dir.display())
            }
            GenerateError::BadName(name) => write!(
                f,
                "invalid IOC name '{name}': letters, digits, '_' and '-', not starting with '-', at most 64"
            ),
            GenerateError::NoStartupScript(dir) => {
                write!(f, "no executable *.cmd file in {}", dir.display())
            }
            GenerateError::SeveralStartupScripts { dir, candidates } => write!(
                f,
                "several executable *.cmd files in {}: {}; choose one with --cmd",
                dir.display(),
                candidates.join(", ")
            ),
            GenerateError::NoSuchStartupScript { wanted, candidates } => write!(
                f,
                "'{wanted}' is not an executable *.cmd file of the directory (found: {})",
                candidates.join(", ")
            ),
            GenerateError::NoChoice => f.write_str("input ended before a startup script was chosen"),
            GenerateError::BadValue(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for GenerateError {}

/// The executable regular `*.cmd` files of `dir`, sorted by name.
pub fn startup_scripts(dir: &Path) -> io::Result<Vec<String>> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        if !name.ends_with(".cmd") || name == ".cmd" {
            continue;
        }
        // Follows symlinks, as the shell's `-f` and `-x` tests do.
        let Ok(meta) = fs::metadata(entry.path()) else {
            continue;
        };
        if meta.is_file() && meta.permissions().mode() & 0o111 != 0 {
            found.push(name);
        }
    }
    // A directory's names are unique: the unstable sort gives the same order.
    found.sort_unstable();
    Ok(found)
}

/// Picks the startup script: `wanted` if given, the only one, or the user's choice.
fn choose(
    dir: &Path,
    candidates: Vec<String>,
    wanted: Option<&str>,
    first_if_several: bool,
    prompt: Option<Prompt<'_>>,
) -> Result<String, GenerateError> {
    if let Some(wanted) = wanted {
        let bare = wanted.strip_prefix("./").unwrap_or(wanted);
        return match candidates.iter().find(|c| *c == bare) {
            Some(c) => Ok(c.clone()),
            None => Err(GenerateError::NoSuchStartupScript {
                wanted: wanted.to_string(),
                candidates,
            }),
        };
    }
    match candidates.len() {
        0 => Err(GenerateError::NoStartupScript(dir.to_path_buf())),
        1 => Ok(candidates.into_iter().next().unwrap_or_default()),
        _ if first_if_several => {
            let first = candidates.into_iter().next().unwrap_or_default();
            eprintln!("Warning: several executable .cmd files in {}: './{first}' chosen (--force)", dir.display());
            Ok(first)
        }
        _ => match prompt {
            None => Err(GenerateError::SeveralStartupScripts {
                dir: dir.to_path_buf(),
                candidates,
            }),
            Some(prompt) => ask(dir, candidates, prompt),
        },
    }
}

fn ask(
    dir: &Path,
    mut candidates: Vec<String>,
    prompt: Prompt<'_>,
) -> Result<String, GenerateError> {
    let n = candidates.len();
    let mut menu = format!("Several executable .cmd files in {}:\n", dir.display());
    for (i, c) in candidates.iter().enumerate() {
        let _ = writeln!(menu, "  [{}] {c}", i + 1);
    }
    let _ = prompt.output.write_all(menu.as_bytes());
    loop {
        let _ = write!(prompt.output, "Startup script [1-{n}]: ");
        let _ = prompt.output.flush();
        let Some(answer) = (prompt.next_line)() else {
            return Err(GenerateError::NoChoice);
        };
        match answer.trim_ascii().parse::<usize>() {
            Ok(k) if (1..=n).contains(&k) => return Ok(candidates.swap_remove(k - 1)),
            _ => {
                let _ = writeln!(prompt.output, "Please enter a number from 1 to {n}.");
            }
        }
    }
}

/// Builds the IOC file settings for the iocBoot directory `dir`.
pub fn generate(
    dir: &Path,
    options: &GenerateOptions,
    prompt: Option<Prompt<'_>>,
) -> Result<IocFile, GenerateError> {
    let dir_error = |source| GenerateError::Directory {
        dir: dir.to_path_buf(),
        source,
    };
    let chdir = crate::files::canonical(dir).map_err(dir_error)?;
    if !chdir.is_dir() {
        return Err(dir_error(crate::logging::io_error(
            io::ErrorKind::NotADirectory,
            "not a directory",
        )));
    }
    let name = match &options.name {
        Some(name) => name.clone(),
        None => chdir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    if !valid_ioc_name(&name) {
        return Err(GenerateError::BadName(name));
    }
    let candidates = startup_scripts(&chdir).map_err(dir_error)?;
    let script = choose(&chdir, candidates, options.cmd.as_deref(), options.first_if_several, prompt)?;
    let mut ioc = IocFile::new(&name, &format!("./{script}"));
    ioc.port = Some(format!("unix:{}:{}:0660:{}/{name}/control", options.user, options.group, options.run_dir.display()));
    ioc.user = Some(options.user.clone());
    ioc.group = Some(options.group.clone());
    ioc.chdir = Some(chdir.to_string_lossy().into_owned());
    ioc.check().map_err(GenerateError::BadValue)?;
    Ok(ioc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scratch::ScratchDir;

    fn boot_dir(tag: &str, scripts: &[(&str, u32)]) -> (ScratchDir, PathBuf) {
        let scratch = ScratchDir::new(&format!("gen-{tag}"));
        let dir = scratch.join("iocvac1");
        fs::create_dir(&dir).unwrap();
        for (name, mode) in scripts {
            let path = dir.join(name);
            fs::write(&path, "#!/bin/softIoc\n").unwrap();
            fs::set_permissions(&path, fs::Permissions::from_mode(*mode)).unwrap();
        }
        (scratch, dir)
    }

    #[test]
    fn one_script_makes_the_epics_ioc_runner_file() {
        let (_scratch, dir) = boot_dir("one", &[("st.cmd", 0o755), ("notes.cmd", 0o644), ("st.cmd.bak", 0o755)]);
        let ioc = generate(&dir, &GenerateOptions::default(), None).unwrap();
        let chdir = fs::canonicalize(&dir).unwrap();
        assert_eq!(
            crate::config::iocfile::render(&ioc)
                .lines()
                .filter(|l| !l.starts_with('#'))
                .collect::<Vec<_>>()
                .join("\n"),
            format!(
                "IOC_NAME=\"iocvac1\"\nIOC_USER=\"ioc-srv\"\nIOC_GROUP=\"ioc\"\nIOC_CHDIR=\"{}\"\n\
                 IOC_PORT=\"unix:ioc-srv:ioc:0660:/run/procserv/iocvac1/control\"\nIOC_CMD=\"./st.cmd\"",
                chdir.display()
            )
        );
    }

    #[test]
    fn several_scripts_need_a_choice() {
        let (_scratch, dir) = boot_dir("several", &[("st.cmd", 0o755), ("st-sim.cmd", 0o750)]);
        let options = GenerateOptions::default();
        match generate(&dir, &options, None) {
            Err(GenerateError::SeveralStartupScripts { candidates, .. }) => {
                assert_eq!(candidates, ["st-sim.cmd", "st.cmd"])
            }
            other => panic!("{other:?}"),
        }
        let with_cmd = GenerateOptions {
            cmd: Some("./st-sim.cmd".into()),
            name: Some("vac-sim".into()),
            ..options.clone()
        };
        let ioc = generate(&dir, &with_cmd, None).unwrap();
        assert_eq!(
            (ioc.name.as_str(), ioc.command.as_str()),
            ("vac-sim", "./st-sim.cmd")
        );
        let forced = GenerateOptions { first_if_several: true, ..options.clone() };
        assert_eq!(generate(&dir, &forced, None).unwrap().command, "./st-sim.cmd");
        let missing = GenerateOptions {
            cmd: Some("nope.cmd".into()),
            ..options.clone()
        };
        assert!(matches!(
            generate(&dir, &missing, None),
            Err(GenerateError::NoSuchStartupScript { .. })
        ));

        let mut typed = ["7\n", "x\n", "2\n"].into_iter();
        let mut output = Vec::new();
        let ioc = generate(
            &dir,
            &options,
            Some(Prompt {
                next_line: &mut || typed.next().map(String::from),
                output: &mut output,
            }),
        )
        .unwrap();
        assert_eq!(ioc.command, "./st.cmd");
        let shown = String::from_utf8(output).unwrap();
        assert!(
            shown.contains("  [1] st-sim.cmd\n  [2] st.cmd\n"),
            "{shown}"
        );
        assert_eq!(
            shown.matches("Please enter a number from 1 to 2.").count(),
            2
        );

        let prompt = Prompt {
            next_line: &mut || None,
            output: &mut Vec::new(),
        };
        assert!(matches!(
            generate(&dir, &options, Some(prompt)),
            Err(GenerateError::NoChoice)
        ));
    }

    #[test]
    fn bad_inputs_are_errors() {
        let (_scratch, dir) = boot_dir("none", &[("st.cmd", 0o644)]);
        assert!(matches!(
            generate(&dir, &GenerateOptions::default(), None),
            Err(GenerateError::NoStartupScript(_))
        ));
        let bad_name = GenerateOptions {
            name: Some("a b".into()),
            ..Default::default()
        };
        assert!(matches!(
            generate(&dir, &bad_name, None),
            Err(GenerateError::BadName(_))
        ));
        assert!(matches!(
            generate(&dir.join("missing"), &GenerateOptions::default(), None),
            Err(GenerateError::Directory { .. })
        ));
        let quoted = GenerateOptions {
            user: "a\"b".into(),
            ..Default::default()
        };
        let (_scratch, dir) = boot_dir("quote", &[("st.cmd", 0o755)]);
        assert!(matches!(
            generate(&dir, &quoted, None),
            Err(GenerateError::BadValue(_))
        ));
    }
}
