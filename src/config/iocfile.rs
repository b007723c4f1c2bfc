//! epics-ioc-runner's IOC files, read and written: `/etc/procServ.d/<name>.conf`
//! holding shell assignments `KEY="value"` for IOC_NAME, IOC_USER, IOC_GROUP,
//! IOC_CHDIR, IOC_PORT and IOC_CMD.
//!
//! The files are sourced by bash on systems running epics-ioc-runner, so a
//! value must mean the same to a shell as to us: double-quoted (escapes `\"`
//! `\\` `\$` `` \` `` only), single-quoted, or unquoted plain characters.
//! Anything a shell would expand or split (`$`, backticks, unbalanced quotes,
//! text after the value, a CR of CRLF line ends) is refused with `file:line`.
//!
//! Diagnostics never quote the file: a file that is refused may be no IOC
//! file at all (a hard link to a secret, say) and its lines must not reach a
//! log or a reply. They name the line, the column or the variable instead.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::diag::Diagnostic;
use super::model::{Console, Location, Object, Options, StopMethod};
use super::values::valid_account_name;

/// Where every console socket lives: `/run/procserv/<name>/control`.
pub const CONSOLE_DIR: &str = "/run/procserv";

/// IOC names: `[A-Za-z0-9_][A-Za-z0-9_-]{0,63}`. Checked wherever a name
/// arrives (IOC files, PROCSERV ObjectIDs, CLI arguments).
pub fn valid_ioc_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    let first_ok = matches!(bytes.first(), Some(b) if b.is_ascii_alphanumeric() || *b == b'_');
    first_ok && bytes.len() <= 64 && bytes.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-')
}

/// The console socket of an IOC.
pub fn console_path(name: &str) -> PathBuf {
    Path::new(CONSOLE_DIR).join(name).join("control")
}

/// The IOC_PORT that epics-ioc-runner forces for an IOC.
pub fn runner_port(name: &str) -> String {
    format!("unix:ioc-srv:ioc:0660:{CONSOLE_DIR}/{name}/control")
}

/// One IOC file, values as written (empty optional values read as absent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IocFile {
    pub name: String,
    pub user: Option<String>,
    pub group: Option<String>,
    pub chdir: Option<String>,
    /// Kept to be written back; the console is always [`console_path`].
    pub port: Option<String>,
    pub command: String,
}

const NAME: &str = "IOC_NAME";
const USER: &str = "IOC_USER";
const GROUP: &str = "IOC_GROUP";
const CHDIR: &str = "IOC_CHDIR";
const PORT: &str = "IOC_PORT";
const CMD: &str = "IOC_CMD";
const KEYS: [&str; 6] = [NAME, USER, GROUP, CHDIR, PORT, CMD];

/// The problems of one IOC file that are listed; the rest are counted. PID 1
/// reads files the IOC group writes: one of nothing but bad lines must not
/// become tens of thousands of diagnostics to keep, log and reply with.
pub const MAX_PROBLEMS: usize = 16;

fn key_index(key: &str) -> Option<usize> {
    KEYS.iter().position(|k| *k == key)
}

impl IocFile {
    /// A new IOC file as epics-ioc-runner writes one (IOC_PORT forced).
    pub fn new(name: &str, command: &str) -> Self {
        IocFile { name: name.into(), user: None, group: None, chdir: None, port: Some(runner_port(name)), command: command.into() }
    }

    /// `<IOC_NAME>.conf`.
    pub fn file_name(&self) -> String {
        format!("{}.conf", self.name)
    }

    /// The assignments of the file, in the order they are written.
    fn entries(&self) -> Vec<(&'static str, &str)> {
        let optional = [(USER, &self.user), (GROUP, &self.group), (CHDIR, &self.chdir), (PORT, &self.port)];
        let mut entries = vec![(NAME, self.name.as_str())];
        entries.extend(optional.iter().filter_map(|(key, value)| value.as_deref().map(|v| (*key, v))));
        entries.push((CMD, self.command.as_str()));
        entries
    }

    /// Whether the file can be written and read back: every value valid.
    pub fn check(&self) -> Result<(), String> {
        self.entries().into_iter().try_for_each(|(key, value)| check_value(key, value))
    }

    /// The object this IOC becomes: a console object that procServ runs,
    /// restarted when it dies, with the IOC globals' priorities and runlevels.
    /// `may_choose_credentials`: whether the file's IOC_USER and IOC_GROUP
    /// are honoured (see [`Console::may_choose_credentials`]).
    pub fn to_object(&self, file: usize, start_priority: u32, stop_priority: u32, runlevels: Vec<String>, may_choose_credentials: bool) -> Object {
        let chdir = self.chdir.as_ref().map(PathBuf::from);
        Object {
            id: self.name.clone(),
            description: format!("IOC {}", self.name),
            location: Location { file, line: 1 },
            start: Some(self.command.clone()),
            // SIGTERM to procServ: it kills the IOC with its kill signal and exits.
            stop: StopMethod::Pid,
            start_priority,
            stop_priority,
            working_directory: chdir.clone(),
            user: self.user.clone(),
            group: self.group.clone(),
            enabled: true,
            runlevels,
            options: Options { autorestart: true, ..Options::default() },
            console: Some(Console {
                name: self.name.clone(),
                user: self.user.clone(),
                group: self.group.clone(),
                chdir,
                command: self.command.clone(),
                from_ioc_file: true,
                may_choose_credentials,
            }),
            ..Object::default()
        }
    }
}

/// What each value must be, whether read or about to be written.
fn check_value(key: &str, value: &str) -> Result<(), String> {
    if value.chars().any(|c| c.is_control() && c != '\t') {
        return Err(format!("{key}: a control character in the value: expected plain text"));
    }
    let ok = match key {
        NAME => valid_ioc_name(value),
        USER | GROUP => valid_account_name(value),
        CHDIR => value.starts_with('/'),
        CMD => !value.trim().is_empty(),
        _ => true,
    };
    if ok {
        return Ok(());
    }
    let expected = match key {
        NAME => "an IOC name [A-Za-z0-9_][A-Za-z0-9_-]{0,63}",
        USER => "a user name",
        GROUP => "a group name",
        CHDIR => "an absolute directory",
        _ => "the command procServ runs",
    };
    Err(format!("{key}: expected {expected}"))
}

/// Reads one IOC file. `Ok` holds the file and its warnings; `Err` every
/// problem (errors and warnings) when the file cannot be used.
pub fn parse(path: &Path, text: &str) -> Result<(IocFile, Vec<Diagnostic>), Vec<Diagnostic>> {
    let mut problems = Problems::default();
    let mut values: [Option<(String, u32)>; 6] = Default::default();
    // Keys whose value had a syntax error: reported once, not checked again.
    let mut unreadable = [false; 6];
    for (index, raw) in text.split('\n').enumerate() {
        let line = u32::try_from(index + 1).unwrap_or(u32::MAX);
        let Assignment { key, value } = match assignment(raw) {
            Ok(Some(assignment)) => assignment,
            Ok(None) => continue,
            Err(message) => {
                problems.push(Diagnostic::error(path, line, message));
                continue;
            }
        };
        let (value, readable) = match value {
            Ok(value) => (value, true),
            Err(message) => {
                problems.push(Diagnostic::error(path, line, message));
                (String::new(), false)
            }
        };
        let Some(k) = key_index(key) else {
            let message = format!("unknown variable ignored: expected one of {}", KEYS.join(", "));
            problems.push(Diagnostic::warning(path, line, message));
            continue;
        };
        if let Some((_, first)) = &values[k] {
            problems.push(Diagnostic::error(path, line, format!("{key} given twice (first on line {first}): expected it once")));
            continue;
        }
        unreadable[k] = !readable;
        values[k] = Some((value, line));
    }
    let line_of = |key: &str| key_index(key).and_then(|k| values[k].as_ref()).map_or(0, |(_, line)| *line);
    let take = |k: usize| values[k].as_ref().map(|(v, _)| v.clone()).filter(|v| !v.is_empty());
    let file = IocFile { name: take(0).unwrap_or_default(), user: take(1), group: take(2), chdir: take(3), port: take(4), command: take(5).unwrap_or_default() };

    for key in [NAME, CMD] {
        if line_of(key) == 0 {
            problems.push(Diagnostic::error(path, 0, format!("{key} missing: expected a line {key}=\"...\"")));
        }
    }
    let readable = |key: &str| key_index(key).is_some_and(|k| !unreadable[k]);
    for (key, value) in file.entries().into_iter().filter(|(key, _)| readable(key)) {
        if let Err(message) = check_value(key, value) {
            problems.push(Diagnostic::error(path, line_of(key), message));
        }
    }
    let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    if valid_ioc_name(&file.name) && file_name != file.file_name() {
        // The file's name, not its IOC_NAME: a diagnostic never quotes the file.
        let stem = file_name.strip_suffix(".conf").unwrap_or(file_name);
        problems.push(Diagnostic::error(
            path,
            line_of(NAME),
            format!("IOC_NAME does not match the file name: expected IOC_NAME=\"{stem}\", or the file named after IOC_NAME"),
        ));
    }
    if let Some(port) = &file.port {
        let console = format!("{CONSOLE_DIR}/{}/control", file.name);
        let names_console = port.starts_with("unix:") && (port.ends_with(&format!(":{console}")) || port == &format!("unix:{console}"));
        if !names_console {
            problems.push(Diagnostic::warning(
                path,
                line_of(PORT),
                format!("IOC_PORT names another console: iocinit always serves it on {CONSOLE_DIR}/IOC_NAME/control (the value is kept as written)"),
            ));
        }
    }

    let problems = problems.finish(path);
    if problems.iter().any(Diagnostic::is_error) {
        Err(problems)
    } else {
        Ok((file, problems))
    }
}

/// The problems of one file: the first [`MAX_PROBLEMS`] are kept, the rest
/// only counted (and whether one of them was an error).
#[derive(Default)]
struct Problems {
    listed: Vec<Diagnostic>,
    more: usize,
    more_errors: bool,
}

impl Problems {
    fn push(&mut self, problem: Diagnostic) {
        if self.listed.len() < MAX_PROBLEMS {
            self.listed.push(problem);
        } else {
            self.more += 1;
            self.more_errors |= problem.is_error();
        }
    }

    /// The listed problems by line, then one that counts the others.
    fn finish(self, path: &Path) -> Vec<Diagnostic> {
        let Problems { mut listed, more, more_errors } = self;
        listed.sort_by_key(|d| d.line);
        if more > 0 {
            let message = format!("{more} more problem(s) in this file are not listed");
            listed.push(if more_errors { Diagnostic::error(path, 0, message) } else { Diagnostic::warning(path, 0, message) });
        }
        listed
    }
}

/// `KEY=value` read from one line.
struct Assignment<'a> {
    key: &'a str,
    /// The value, or why a shell would read it differently.
    value: Result<String, String>,
}

/// One line: `None` for blank and comment lines, `Err` when the line is no
/// assignment at all.
fn assignment(raw: &str) -> Result<Option<Assignment<'_>>, String> {
    let text = raw.trim_start_matches([' ', '\t']);
    if text.is_empty() || text.starts_with('#') {
        return Ok(None);
    }
    let key_end = text.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(text.len());
    let (key, rest) = text.split_at(key_end);
    match rest.strip_prefix('=') {
        Some(rest) if !key.is_empty() && !key.starts_with(|c: char| c.is_ascii_digit()) => {
            Ok(Some(Assignment { key, value: value(raw, rest) }))
        }
        _ => Err("expected KEY=\"value\" (no blanks around =)".into()),
    }
}

/// The text after `KEY=` (`rest`, a tail of the line `raw`): one shell word,
/// then nothing but blanks and a comment. Errors name the column.
fn value(raw: &str, rest: &str) -> Result<String, String> {
    let column = |tail: &str| raw.len() - tail.len() + 1;
    if let Some(at) = rest.find(|c: char| c.is_control() && c != '\t') {
        let at = column(&rest[at..]);
        return Err(format!("column {at}: a control character (a CR of a CRLF line end?): a shell would keep it in the value"));
    }
    let (value, after) = shell_word(rest).map_err(|(message, tail)| format!("column {}: {message}", column(tail)))?;
    let after = after.trim_start_matches([' ', '\t']);
    if !after.is_empty() && !after.starts_with('#') {
        let at = column(after);
        return Err(format!("column {at}: text after the value: a shell would run it as a command; expected KEY=\"value\" alone"));
    }
    Ok(value)
}

/// Characters a shell takes literally outside quotes.
fn plain(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_./:@%+,=-".contains(c)
}

/// Why a value is refused, and the text from where the problem is.
type WordError<'a> = (&'static str, &'a str);

/// One shell word made of quoted and plain segments; returns it and the rest.
fn shell_word(mut rest: &str) -> Result<(String, &str), WordError<'_>> {
    let mut value = String::new();
    loop {
        match rest.chars().next() {
            None | Some(' ' | '\t') => return Ok((value, rest)),
            Some('"') => rest = double_quoted(&rest[1..], &mut value).map_err(|(message, at)| (message, at.unwrap_or(rest)))?,
            Some('\'') => {
                let body = &rest[1..];
                let end = body.find('\'').ok_or(("unbalanced single quote: expected a closing '", rest))?;
                value.push_str(&body[..end]);
                rest = &body[end + 1..];
            }
            Some(c) if plain(c) => {
                value.push(c);
                rest = &rest[c.len_utf8()..];
            }
            Some(_) => return Err(("a character that means something to a shell: expected the value in quotes, e.g. KEY='...'", rest)),
        }
    }
}

/// The inside of `"..."` (after the opening quote); returns the text after
/// the closing quote. An error points at the offending character (`None`:
/// at the opening quote).
fn double_quoted<'a>(body: &'a str, value: &mut String) -> Result<&'a str, (&'static str, Option<&'a str>)> {
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        let here = Some(&body[i..]);
        match c {
            '"' => return Ok(&body[i + 1..]),
            '\\' => match chars.next() {
                Some((_, escaped @ ('"' | '\\' | '$' | '`'))) => value.push(escaped),
                _ => return Err(("a backslash inside double quotes may only escape \", \\, $ or `", here)),
            },
            '$' => return Err(("$ inside double quotes is expanded by a shell: expected \\$, or the value in single quotes", here)),
            '`' => return Err(("` inside double quotes is expanded by a shell: expected \\`, or the value in single quotes", here)),
            c => value.push(c),
        }
    }
    Err(("unbalanced double quote: expected a closing \"", None))
}

/// The file's text: a comment, then one `KEY="value"` line per value set.
/// `parse(render(f))` gives `f` back for every `f` that passes [`IocFile::check`].
pub fn render(file: &IocFile) -> String {
    let mut out = String::from("# epics-ioc-runner IOC file, written by iocinit\n");
    for (key, value) in file.entries() {
        out.push_str(key);
        out.push_str("=\"");
        for c in value.chars() {
            if matches!(c, '"' | '\\' | '$' | '`') {
                out.push('\\');
            }
            out.push(c);
        }
        out.push_str("\"\n");
    }
    out
}

/// Writes `dir/<name>.conf` atomically: a temporary file in the same
/// directory, fsync, rename over the old file, fsync of the directory.
///
/// The directory may be writable by others (the IOC group), so the
/// temporary file gets a random name and is created with O_EXCL|O_NOFOLLOW:
/// a planted file or symlink makes the attempt fail, never redirects the write.
pub fn write_atomic(dir: &Path, file: &IocFile) -> io::Result<PathBuf> {
    file.check().map_err(|message| io::Error::new(io::ErrorKind::InvalidInput, message))?;
    let target = dir.join(file.file_name());
    remove_stale_temporaries(dir, &file.name);
    let (temporary, mut out) = create_temporary(dir, &file.name)?;
    let written = (|| {
        out.write_all(render(file).as_bytes())?;
        out.sync_all()?;
        fs::rename(&temporary, &target)?;
        File::open(dir)?.sync_all()?;
        Ok(target)
    })();
    if written.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    written
}

/// A temporary file older than this was left by a writer that died before
/// its rename (killed, a power cut); a live one renames within moments.
pub const STALE_TEMPORARY: Duration = Duration::from_secs(60);

/// Removes the regular files `.<name>.conf.*.tmp` in `dir` older than
/// [`STALE_TEMPORARY`]: each install killed between create and rename leaves
/// one, and they would pile up towards the directory's entry bound
/// (source::MAX_DIR_ENTRIES), past which no IOC is read. Best effort: what
/// cannot be removed now is tried again at the next install.
fn remove_stale_temporaries(dir: &Path, name: &str) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    let prefix = format!(".{name}.conf.");
    for entry in entries.take(super::source::MAX_DIR_ENTRIES).flatten() {
        let file_name = entry.file_name();
        let Some(file_name) = file_name.to_str() else { continue };
        if !(file_name.starts_with(&prefix) && file_name.ends_with(".tmp")) {
            continue;
        }
        // lstat: a planted link is judged (and removed) as itself.
        let stale = entry.metadata().is_ok_and(|m| {
            m.file_type().is_file() && m.modified().is_ok_and(|t| t.elapsed().is_ok_and(|age| age > STALE_TEMPORARY))
        });
        if stale {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// A new file `.<name>.conf.<random>.tmp` in `dir` (not ending in `.conf`,
/// so a leftover is never read as an IOC file).
fn create_temporary(dir: &Path, name: &str) -> io::Result<(PathBuf, File)> {
    const ATTEMPTS: usize = 8;
    let mut last = io::Error::from(io::ErrorKind::AlreadyExists);
    for _ in 0..ATTEMPTS {
        let random = crate::sys::random_u64().ok_or_else(|| io::Error::other("getrandom failed"))?;
        let path = dir.join(format!(".{name}.conf.{random:016x}.tmp"));
        let opened = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NOCTTY)
            .open(&path);
        match opened {
            Ok(out) => return Ok((path, out)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = e,
            Err(e) => return Err(e),
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The IOC group writes these files and PID 1 reads them: a file of
    /// nothing but bad lines (64 KiB of "x\n") must not make PID 1 keep,
    /// log and reply with a diagnostic per line.
    #[test]
    fn a_file_of_bad_lines_gives_a_bounded_number_of_diagnostics() {
        let path = Path::new("/etc/procServ.d/flood.conf");
        for line in ["x", "A=1", "IOC_NAME=$x"] {
            let text = format!("{line}\n").repeat(32 << 10);
            let problems = match parse(path, &text) {
                Ok((_, warnings)) => warnings,
                Err(problems) => problems,
            };
            assert!(problems.len() <= MAX_PROBLEMS + 1, "{line:?}: {} diagnostics", problems.len());
            assert!(problems.iter().any(Diagnostic::is_error), "{line:?}: the file is still refused");
            let last = problems.last().unwrap();
            assert!(last.message.contains("more problem"), "{line:?}: the rest are counted: {last}");
        }
        // A file with few problems lists them all, and nothing more.
        let problems = parse(path, "x\ny\n").unwrap_err();
        assert!(problems.iter().all(|d| !d.message.contains("more problem")), "{problems:?}");
    }

    /// An install killed between create and rename leaves its temporary
    /// file: the next install of that IOC removes the stale ones (not a live
    /// writer's, not another IOC's, not a link), so they cannot pile up to
    /// the directory's entry bound.
    #[test]
    fn an_install_removes_temporaries_left_by_killed_installs() {
        let dir = std::env::temp_dir().join(format!("iocinit-iocfile-stale-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let aged = |name: &str| {
            let file = File::create(dir.join(name)).unwrap();
            file.set_modified(std::time::SystemTime::now() - STALE_TEMPORARY * 2).unwrap();
        };
        aged(".vac1.conf.00000000000000aa.tmp");
        aged(".vac2.conf.00000000000000bb.tmp");
        File::create(dir.join(".vac1.conf.00000000000000cc.tmp")).unwrap();
        let link = dir.join(".vac1.conf.00000000000000dd.tmp");
        std::os::unix::fs::symlink(dir.join(".vac2.conf.00000000000000bb.tmp"), &link).unwrap();
        let old = nix::sys::time::TimeSpec::new(1, 0);
        nix::sys::stat::utimensat(None, &link, &old, &old, nix::sys::stat::UtimensatFlags::NoFollowSymlink).unwrap();
        write_atomic(&dir, &IocFile::new("vac1", "./st.cmd")).unwrap();
        let mut names: Vec<String> = fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        names.sort();
        assert_eq!(
            names,
            [".vac1.conf.00000000000000cc.tmp", ".vac1.conf.00000000000000dd.tmp", ".vac2.conf.00000000000000bb.tmp", "vac1.conf"]
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
