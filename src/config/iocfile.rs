//! epics-ioc-runner's IOC files, read and written: `/etc/procServ.d/<name>.conf`
//! holding shell assignments `KEY="value"` for IOC_NAME, IOC_USER, IOC_GROUP,
//! IOC_CHDIR, IOC_PORT and IOC_CMD, iocinit's own variables (extensions:
//! the process settings of `config::process`, IOC_STATE_DIR and IOC_HOST),
//! and any other variable, which (as under epics-ioc-runner, which loads
//! the file as systemd's EnvironmentFile) reaches procServ and the IOC as
//! environment.
//!
//! The files are sourced by bash and read by systemd on systems running
//! epics-ioc-runner, so a value must mean the same to a shell, to systemd
//! and to us: double-quoted (escapes `\"` `\\` `\$` `` \` `` only),
//! single-quoted, or unquoted plain characters. Anything a shell would expand
//! or split (`$`, backticks, unbalanced quotes, text after the value, a CR of
//! CRLF line ends), and anything systemd reads otherwise (a comment after the
//! value, a quote after unquoted text) is refused with `file:line`.
//!
//! Diagnostics never quote the file: a file that is refused may be no IOC
//! file at all (a hard link to a secret, say) and its lines must not reach a
//! log or a reply. They name the line, the column or the variable instead.

use std::borrow::Cow;
use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::diag::Diagnostic;
use super::model::{Console, Location, Object, Options, RareSettings, Runlevels, SharedPath, StopMethod};
use super::names::NameSlots;
use super::process::{ProcessSettings, Setting};
use super::shared::ranges;
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

/// Whether IOC_PORT `port` (procServ's `unix:[USER:GROUP:MODE:]PATH`) names
/// the console iocinit serves for IOC `name`: `RUN/procserv/NAME/control`.
/// The run directory is /run for PID 1, but `--local` (`$XDG_RUNTIME_DIR`,
/// as epics-ioc-runner's local mode writes it) and `--run-dir` move it, so
/// any absolute RUN is taken: a board's file and a local one both load
/// without a warning wherever they run.
pub fn names_the_console(port: &str, name: &str) -> bool {
    // On the bytes: every separator is ASCII, and a char searcher is a
    // call a test (every IOC file's IOC_PORT is tested at each load).
    let Some(endpoint) = port.as_bytes().strip_prefix(b"unix:") else { return false };
    // The text after the last `:`.
    let socket = endpoint.split_at(endpoint.iter().rposition(|&b| b == b':').map_or(0, |colon| colon + 1)).1;
    // Ends with `/procserv/NAME/control`, cut from the end (no text made).
    let before_name = socket.strip_suffix(b"/control").and_then(|s| s.strip_suffix(name.as_bytes()));
    socket.first() == Some(&b'/') && before_name.is_some_and(|s| s.ends_with(b"/procserv/"))
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
    /// iocinit's own variables ([`EXTENSION_KEYS`]), as written and checked.
    pub extensions: Vec<Extension>,
    /// Every other variable, in the file's order: exported to the IOC's
    /// environment (after the keys above, which are exported as written).
    pub variables: Vec<(String, String)>,
}

/// What the `Ioc*` globals give every IOC file's object.
#[derive(Debug, Clone, Copy, Default)]
pub struct IocObjectGlobals {
    pub start_priority: u32,
    pub stop_priority: u32,
    /// IocEnabled.
    pub enabled: bool,
}

/// One iocinit variable of an IOC file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extension {
    pub key: &'static str,
    pub value: String,
}

const NAME: &str = "IOC_NAME";
const USER: &str = "IOC_USER";
const GROUP: &str = "IOC_GROUP";
const CHDIR: &str = "IOC_CHDIR";
pub const PORT: &str = "IOC_PORT";
const CMD: &str = "IOC_CMD";
const STATE_DIR: &str = "IOC_STATE_DIR";
const HOST: &str = "IOC_HOST";
/// iocinit's own variables, in the order they are written: the process
/// settings in [`Setting::ALL`]'s order, then the others.
pub const EXTENSION_KEYS: [&str; 8] = [
    Setting::ALL[0].ioc_variable(),
    Setting::ALL[1].ioc_variable(),
    Setting::ALL[2].ioc_variable(),
    Setting::ALL[3].ioc_variable(),
    Setting::ALL[4].ioc_variable(),
    Setting::ALL[5].ioc_variable(),
    STATE_DIR,
    HOST,
];
/// The keys iocinit reads itself, in the order they are written (and
/// exported): a key's place here is where a file's read value of it is
/// kept, and [`slot`] names the places.
const KEYS: [&str; 14] = [
    NAME, USER, GROUP, CHDIR, PORT, EXTENSION_KEYS[0], EXTENSION_KEYS[1], EXTENSION_KEYS[2], EXTENSION_KEYS[3], EXTENSION_KEYS[4],
    EXTENSION_KEYS[5], EXTENSION_KEYS[6], EXTENSION_KEYS[7], CMD,
];

/// The places of [`KEYS`]: a value read is checked by its key's place, not
/// by comparing its name with each key's again.
mod slot {
    pub const NAME: usize = 0;
    pub const USER: usize = 1;
    pub const GROUP: usize = 2;
    pub const CHDIR: usize = 3;
    pub const PORT: usize = 4;
    /// The first of [`super::EXTENSION_KEYS`], the process settings first.
    pub const FIRST_EXTENSION: usize = 5;
    pub const STATE_DIR: usize = 11;
    pub const HOST: usize = 12;
    pub const CMD: usize = 13;
}

/// Extra fatal log patterns for `ioc start`'s readiness (`|`-separated).
pub const CRASH_PATTERNS: &str = "CRASH_LOG_PATTERNS_EXTRA";
/// Prefix of the variables `ioc status` shows as the IOC's metadata.
pub const META_PREFIX: &str = "IOC_META_";

/// Names PID 1 and procServ set themselves: a file may not set them (a
/// warning; the line is ignored). IOCINIT_OBJECT marks every process of an
/// object, so that its orphans are found and stopped; PROCSERV_INFO is what
/// procServ tells its child.
/// (The marker's name is the engine's `plan::MARKER_VAR`; a test there
/// keeps the two the same.)
pub const RESERVED_NAMES: [&str; 2] = ["IOCINIT_OBJECT", "PROCSERV_INFO"];

/// Most variables besides the IOC_* keys: a file of the IOC group's cannot
/// make PID 1 hold, and every start copy, an environment of thousands.
pub const MAX_VARIABLES: usize = 128;

/// Most bytes of `IOC_META_*` assignments `ioc status` shows (a status reply
/// is one 4 KiB message); later ones are exported but not shown.
pub const META_SHOWN_MAX: usize = 1024;

/// Bounds of CRASH_LOG_PATTERNS_EXTRA: patterns, and bytes in all (it goes
/// whole into the IOC's status reply, with the metadata shown).
pub const MAX_CRASH_PATTERNS: usize = 16;
pub const MAX_CRASH_PATTERNS_BYTES: usize = 512;

/// The problems of one IOC file that are listed; the rest are counted. PID 1
/// reads files the IOC group writes: one of nothing but bad lines must not
/// become tens of thousands of diagnostics to keep, log and reply with.
pub const MAX_PROBLEMS: usize = 16;

/// The keys by their length and seventh byte (every key has one; their
/// first six, `IOC_` and more, are shared).
static BY_KEY: NameSlots = NameSlots::new(&KEYS, 6);

/// The place in [`KEYS`] of the key spelled exactly `name`.
fn key_index(name: &str) -> Option<usize> {
    BY_KEY.find(name.as_bytes())
}

impl IocFile {
    /// A new IOC file as epics-ioc-runner writes one (IOC_PORT forced).
    pub fn new(name: &str, command: &str) -> Self {
        IocFile { name: name.into(), user: None, group: None, chdir: None, port: Some(runner_port(name)), command: command.into(), extensions: Vec::new(), variables: Vec::new() }
    }

    /// `<IOC_NAME>.conf`.
    pub fn file_name(&self) -> String {
        format!("{}.conf", self.name)
    }

    /// The file as [`read`] gives one, its values borrowed: walked to be
    /// checked and written as a file read is.
    fn as_read(&self) -> ReadFile<'_> {
        let known = |k: usize| match k {
            slot::NAME => Some(self.name.as_str()),
            slot::USER => self.user.as_deref(),
            slot::GROUP => self.group.as_deref(),
            slot::CHDIR => self.chdir.as_deref(),
            slot::PORT => self.port.as_deref(),
            slot::CMD => Some(self.command.as_str()),
            _ => self.extensions.iter().find(|e| e.key == KEYS[k]).map(|e| e.value.as_str()),
        };
        ReadFile {
            known: std::array::from_fn(|k| known(k).map(Cow::Borrowed)),
            lines: [0; KEYS.len()],
            variables: self.variables.iter().map(|(key, value)| (key.as_str(), Cow::Borrowed(value.as_str()), 0)).collect(),
            process: ProcessSettings::default(),
        }
    }

    /// Whether the file can be written and read back: every value valid.
    pub fn check(&self) -> Result<(), String> {
        if self.variables.len() > MAX_VARIABLES {
            return Err(format!("more than {MAX_VARIABLES} variables besides the IOC_* keys"));
        }
        for (key, _) in &self.variables {
            if !valid_variable_name(key) || key_index(key).is_some() || RESERVED_NAMES.contains(&key.as_str()) {
                return Err(format!("{key}: expected a variable name of the IOC's own"));
            }
        }
        let mut process = ProcessSettings::default();
        let mut checked = Ok(());
        self.as_read().each_entry(&mut |k, key, value| {
            if checked.is_ok() {
                checked = check_value(k, key, value, &mut process);
            }
        });
        checked
    }
}

/// An IOC file as read: the value of each key in its place of [`KEYS`],
/// every other variable in the file's order. A value is the slice of the
/// file's text it was written as when it is one piece, quoted or not (nearly
/// every value), unquoted into a `String` of its own otherwise. What
/// [`parse`] makes an [`IocFile`] of, and a load its object
/// ([`ReadFile::to_object`]): no `String` per value on the way. Read
/// into where it stays ([`read`]): not moved, as a return value would be.
#[derive(Default)]
pub(crate) struct ReadFile<'a> {
    /// The value of each key the file sets, not empty; IOC_NAME's (the
    /// file's name when it sets none) and IOC_CMD's always.
    known: [Option<Cow<'a, str>>; KEYS.len()],
    /// The line of each key (0: not set in the file).
    lines: [u32; KEYS.len()],
    /// Every other variable: name, value, line.
    variables: Vec<(&'a str, Cow<'a, str>, u32)>,
    /// What the process settings' values give, as their checks read them.
    process: ProcessSettings,
}

impl ReadFile<'_> {
    /// The value of `KEYS[k]`, if the file gives one.
    fn known(&self, k: usize) -> Option<&str> {
        self.known.get(k)?.as_deref()
    }

    /// The IOC's name.
    pub(crate) fn name(&self) -> &str {
        self.known(slot::NAME).unwrap_or_default()
    }

    /// Calls `each` with every assignment of the file, in the order they
    /// are written and exported: its key's place in [`KEYS`] (`None`: a
    /// variable of the IOC's own), the key and the value.
    fn each_entry(&self, each: &mut dyn FnMut(Option<usize>, &str, &str)) {
        for (k, (key, value)) in KEYS.iter().zip(&self.known).enumerate() {
            if let Some(value) = value {
                each(Some(k), key, value);
            }
        }
        for (key, value, _) in &self.variables {
            each(None, key, value);
        }
    }

    /// The IOC file `ioc install` and the CLI work with: the values copied.
    fn into_file(self) -> IocFile {
        let ReadFile { mut known, variables, .. } = self;
        let mut take = |k: usize| known[k].take().map(Cow::into_owned);
        let extensions = (slot::FIRST_EXTENSION..slot::CMD).filter_map(|k| Some(Extension { key: KEYS[k], value: take(k)? })).collect();
        IocFile {
            name: take(slot::NAME).unwrap_or_default(),
            user: take(slot::USER),
            group: take(slot::GROUP),
            chdir: take(slot::CHDIR),
            port: take(slot::PORT),
            command: take(slot::CMD).unwrap_or_default(),
            extensions,
            variables: variables.into_iter().map(|(key, value, _)| (key.to_string(), value.into_owned())).collect(),
        }
    }

    /// The length of the environment [`Self::push_environment`] writes:
    /// summed in a loop of its own, not by a call per entry.
    fn environment_len(&self) -> usize {
        let entry_len = |key: &str, value: &str| key.len() + value.len() + 2;
        let known = KEYS.iter().zip(&self.known).map(|(key, value)| value.as_ref().map_or(0, |value| entry_len(key, value)));
        known.sum::<usize>() + self.variables.iter().map(|(key, value, _)| entry_len(key, value)).sum::<usize>()
    }

    /// Appends the IOC's own environment to `text`, `NAME=value` in the
    /// file's order (the IOC_* keys first), one a line ([`Console::env`]):
    /// what epics-ioc-runner's EnvironmentFile exports. Sets in `starts`
    /// where the value of each key of [`KEYS`] that the file sets starts in
    /// `text` (not returned: an array returned is copied).
    fn push_environment(&self, text: &mut String, starts: &mut [usize; KEYS.len()]) {
        // Where the value starts; the walk of [`Self::each_entry`] written
        // out, without its call per entry.
        let mut push = |key: &str, value: &str| {
            text.push_str(key);
            text.push('=');
            let start = text.len();
            text.push_str(value);
            text.push('\n');
            start
        };
        for (k, (key, value)) in KEYS.iter().zip(&self.known).enumerate() {
            if let Some(value) = value {
                starts[k] = push(key, value);
            }
        }
        for (key, value, _) in &self.variables {
            push(key, value);
        }
    }

    /// The object this IOC becomes: a console object that procServ runs,
    /// restarted when it dies, with the IOC globals' priorities, runlevels
    /// and enable state (IocEnabled; `ioc enable` overrides it in the state
    /// file). `may_choose_credentials`: whether the file's IOC_USER and
    /// IOC_GROUP are honoured (see [`Console::may_choose_credentials`]).
    /// The object's strings are ranges of one text made for them: its
    /// description, `IOC <name>` (the ID at its end), then the environment,
    /// whose entries hold every other value (what procServ runs is read
    /// from them, [`Console`]): each value copied once, from the file's text.
    pub(crate) fn to_object(&self, file: usize, globals: &IocObjectGlobals, runlevels: Runlevels, may_choose_credentials: bool) -> Object {
        let name = self.name();
        let description_len = "IOC ".len() + name.len();
        let env_len = self.environment_len();
        let mut text = String::with_capacity(description_len + env_len);
        text.extend(["IOC ", name]);
        let mut starts = [0; KEYS.len()];
        self.push_environment(&mut text, &mut starts);
        let value = |k: usize| (starts[k], self.known(k).map_or(0, str::len));
        let [id, description, env, start, working_directory, user, group, state_directory, host] = ranges(
            text,
            [
                ("IOC ".len(), name.len()),
                (0, description_len),
                (description_len, env_len),
                value(slot::CMD),
                value(slot::CHDIR),
                value(slot::USER),
                value(slot::GROUP),
                value(slot::STATE_DIR),
                value(slot::HOST),
            ],
        );
        let set = |k: usize| self.known[k].is_some();
        // Rare settings only for a file that sets one of them.
        let rare = [slot::CHDIR, slot::USER, slot::GROUP, slot::STATE_DIR, slot::HOST].into_iter().any(set).then(|| {
            // Made in its box and set there: a struct made first is copied in.
            let mut rare = Box::<RareSettings>::default();
            rare.working_directory = set(slot::CHDIR).then_some(SharedPath(working_directory));
            rare.user = set(slot::USER).then_some(user);
            rare.group = set(slot::GROUP).then_some(group);
            rare.state_directory = set(slot::STATE_DIR).then_some(SharedPath(state_directory));
            rare.host = set(slot::HOST).then_some(host);
            rare
        });
        let process = Some(&self.process).filter(|p| !p.is_empty()).cloned().map(Box::new);
        Object {
            id,
            description,
            location: Location { file, line: 1 },
            start: Some(start),
            // SIGTERM to procServ: it kills the IOC with its kill signal and exits.
            stop: StopMethod::Pid,
            start_priority: globals.start_priority,
            stop_priority: globals.stop_priority,
            enabled: globals.enabled,
            runlevels,
            options: Options { autorestart: true, ..Options::default() },
            console: Some(Box::new(Console { from_ioc_file: true, may_choose_credentials, env })),
            process,
            rare,
            ..Object::default()
        }
    }

    /// IOC_STATE_DIR's line, when it is not below `base`: only an IOC file
    /// that may choose its user may name any directory (root makes it and
    /// gives it to the IOC's user: /etc/cron.d must not be).
    pub(crate) fn state_directory_outside(&self, base: &Path) -> Option<u32> {
        let dir = Path::new(self.known(slot::STATE_DIR)?);
        (!dir.starts_with(base) || dir == base).then_some(self.lines[slot::STATE_DIR])
    }

    /// The first variable that only a file root controls may set (see
    /// [`ProcessSettings::privileged`]), with its line.
    pub(crate) fn privileged_setting(&self) -> Option<(&'static str, u32)> {
        let key = self.process.privileged()?.ioc_variable();
        Some((key, key_index(key).map_or(0, |k| self.lines[k])))
    }
}

/// What each value must be, whether read or about to be written: `k` is
/// `key`'s place in [`KEYS`] (`None`: a variable of the IOC's own);
/// `process` gets the process settings' values.
fn check_value(k: Option<usize>, key: &str, value: &str, process: &mut ProcessSettings) -> Result<(), String> {
    if first_control(value).is_some() {
        return Err(format!("{key}: a control character in the value: expected plain text"));
    }
    match k {
        Some(k) => check_known(k, value, process),
        None => check_variable(key, value),
    }
}

/// The value of `KEYS[k]`, a text without control characters (as every
/// value read is: [`value`] refuses them in the line). A process setting's
/// is set in `process`: read once, for its check and for the object.
fn check_known(k: usize, value: &str, process: &mut ProcessSettings) -> Result<(), String> {
    let key = KEYS[k];
    let expected = match k {
        slot::CHDIR => return check_chdir(value),
        slot::CMD => return check_command(value),
        slot::NAME if !valid_ioc_name(value) => "an IOC name [A-Za-z0-9_][A-Za-z0-9_-]{0,63}",
        slot::USER if !valid_account_name(value) => "a user name",
        slot::GROUP if !valid_account_name(value) => "a group name",
        slot::STATE_DIR if !valid_state_directory(value) => "an absolute directory below / without . or .. components",
        slot::HOST if !valid_host_name(value) => "a host name of letters, digits, - and . (at most 64)",
        // A process setting, or a valid value of a key above (no setting
        // is at its place: IOC_PORT's and the keys before the settings wrap
        // past them).
        _ => match Setting::ALL.get(k.wrapping_sub(slot::FIRST_EXTENSION)) {
            Some(&setting) => return process.set_quietly(setting, value).map_err(|expected| format!("{key}: expected {expected}")),
            None => return Ok(()),
        },
    };
    Err(format!("{key}: expected {expected}"))
}

/// The value of a variable of the IOC's own, a text without control
/// characters: only CRASH_LOG_PATTERNS_EXTRA is iocinit's to check.
fn check_variable(key: &str, value: &str) -> Result<(), String> {
    if key == CRASH_PATTERNS {
        crash_patterns(value).map(|_| ()).map_err(|why| format!("{key}: {why}"))
    } else {
        Ok(())
    }
}

/// Whether a control char other than a tab starts at `at` in `bytes`, the
/// bytes of a text (a char that [`char::is_control`] calls one: U+0000 to
/// U+001F and U+007F to U+009F), tested on the bytes: every line of an IOC
/// file is searched, and a char decoded per byte was a good part of a
/// file's load.
fn control_at(bytes: &[u8], at: usize) -> bool {
    match bytes.get(at) {
        Some(b'\t') => false,
        Some(0..=0x1f | 0x7f) => true,
        // U+0080 to U+009F are 0xC2 0x80 to 0xC2 0x9F in UTF-8.
        Some(0xc2) => matches!(bytes.get(at + 1), Some(0x80..=0x9f)),
        _ => false,
    }
}

/// Where the first control char of `text` other than a tab starts
/// ([`control_at`]).
fn first_control(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    (0..bytes.len()).find(|&at| control_at(bytes, at))
}

/// The bytes of a word that a search tests at once: a machine word (on a
/// 32-bit board a word of eight bytes takes two registers and twice the code).
const WORD: usize = size_of::<usize>();

/// `b` in each of a word's bytes.
const fn repeated(b: u8) -> usize {
    usize::from_ne_bytes([b; WORD])
}

/// The top bit of each byte of a word.
const TOP_BITS: usize = repeated(0x80);

/// Where the first byte of `bytes` that `flags` flags is (`bytes.len()`:
/// none), a word at a time: a few operations on a word, not a test a
/// byte (every byte of an IOC file is searched twice at a load, a key's
/// three times). `flags` gives the top bit of the bytes of a word (its
/// first byte the lowest) that it flags: exactly for the lowest one, and
/// not for `a` (what fills up a text shorter than a word). A function
/// given, not a generic one: one search for the three tests (inlined into
/// each caller it was 162 bytes more of armv7 code, for 1.3 M of the
/// bench's 1,268 M instructions).
fn first_flagged(bytes: &[u8], flags: fn(usize) -> usize) -> usize {
    let mut at = 0;
    for word in bytes.chunks_exact(WORD) {
        let flagged = flags(usize::from_le_bytes(word.try_into().unwrap_or_default()));
        if flagged != 0 {
            return at + flagged.trailing_zeros() as usize / 8;
        }
        at += WORD;
    }
    // The last bytes, fewer than a word's, in the word that ends with them (its
    // bytes before them passed), not copied into one.
    let (start, last) = match bytes.last_chunk::<WORD>() {
        Some(&last) => (bytes.len() - WORD, last),
        None => {
            let mut last = [b'a'; WORD];
            last.iter_mut().zip(bytes).for_each(|(to, &b)| *to = b);
            (0, last)
        }
    };
    (start + flags(usize::from_le_bytes(last)).trailing_zeros() as usize / 8).min(bytes.len())
}

/// The bytes of `word` that are no printable ASCII (`b' '` to `b'~'`). No
/// term carries or borrows into a byte above the lowest one out of that
/// range, which sets its top bit in one of them: below a space by the
/// subtraction, 0x7F by the addition, a byte from 0x80 itself.
fn not_printable(word: usize) -> usize {
    (word.wrapping_sub(repeated(b' ')) | word.wrapping_add(repeated(1)) | word) & TOP_BITS
}

/// The bytes of `word` that mean something inside double quotes (`"` `\`
/// `$` `` ` ``): a byte equal to one is a zero byte of `word ^
/// repeated(it)`, flagged as the lowest zero byte of a word is (a borrow
/// only goes up from it).
fn double_quote_specials(word: usize) -> usize {
    let zeros = |special: u8| {
        let x = word ^ repeated(special);
        x.wrapping_sub(repeated(1)) & !x
    };
    (zeros(b'"') | zeros(b'\\') | zeros(b'$') | zeros(b'`')) & TOP_BITS
}

/// The bytes of `word` that may not be in a key, `[A-Za-z0-9_]`: each byte
/// tested alone (its low seven bits plus a constant below 0x80 carry into
/// no other byte), its top bit set when it is at least the range's first
/// byte and not past its last; letters of both cases as lower case.
fn not_key_bytes(word: usize) -> usize {
    let low = word & !TOP_BITS;
    let at_least = |x: usize, b: u8| x + repeated(0x80 - b);
    let within = |x: usize, first: u8, last: u8| at_least(x, first) & !at_least(x, last + 1);
    let key = within(low, b'0', b'9') | within(low | repeated(0x20), b'a', b'z') | within(low, b'_', b'_');
    (!key | word) & TOP_BITS
}

/// The first line of `text` (up to its first newline), where its first
/// control char other than a tab starts ([`control_at`]), and the text
/// after the newline (`None`: the line was the last). One pass over the
/// line finds both, as `split('\n')` and [`first_control`] would.
fn first_line(text: &str) -> (&str, Option<usize>, Option<&str>) {
    let bytes = text.as_bytes();
    let mut control = None;
    let mut at = 0;
    loop {
        // Printable ASCII, nearly every byte, is passed over; the newline
        // and every control char start with a byte that is not.
        at += first_flagged(bytes.get(at..).unwrap_or_default(), not_printable);
        match bytes.get(at) {
            None => return (text, control, None),
            Some(b'\n') => {
                let (line, after) = text.split_at(at);
                return (line, control, after.get(1..));
            }
            Some(_) => {
                if control.is_none() && control_at(bytes, at) {
                    control = Some(at);
                }
                at += 1;
            }
        }
    }
}

/// Whether `text` has only the characters epics-ioc-runner allows in
/// IOC_CHDIR and IOC_CMD (its `validate_conf` whitelist): nothing a shell or
/// systemd would interpret. Every one is ASCII, so the bytes are tested for
/// them (a byte of a char beyond ASCII is refused, as that char is), without
/// decoding chars; one call a value, not one a byte.
fn runner_plain(text: &str, blank: bool) -> bool {
    text.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'/' | b':' | b'-') || (blank && b == b' '))
}

/// IOC_CHDIR: absolute and without `..` (whose checks at install would be
/// made on another path than the one procServ enters). The messages say
/// what epics-ioc-runner's say.
fn check_chdir(value: &str) -> Result<(), String> {
    if !value.starts_with('/') {
        Err("IOC_CHDIR must be an absolute path: expected /...".into())
    } else if value.as_bytes().split(|&b| b == b'/').any(|part| part == b"..") {
        Err("IOC_CHDIR contains a '..' component: expected a canonical absolute path".into())
    } else if !runner_plain(value, true) {
        Err("IOC_CHDIR: a character epics-ioc-runner refuses: expected letters, digits, blanks and _ . / : -".into())
    } else {
        Ok(())
    }
}

/// IOC_CMD: one word, as epics-ioc-runner's unit passes `${IOC_CMD}` to
/// procServ as one argument; procServ execs it directly, never through a
/// shell, so shell syntax is refused rather than run.
fn check_command(value: &str) -> Result<(), String> {
    if value.is_empty() {
        Err("IOC_CMD: expected one word naming an executable (e.g. ./st.cmd)".into())
    } else if value.bytes().any(|b| matches!(b, b' ' | b'\t')) {
        Err("IOC_CMD must be a single word: expected the startup script alone; its arguments belong in the script".into())
    } else if !runner_plain(value, false) {
        Err("IOC_CMD: a character a shell would interpret: expected one word of letters, digits and _ . / : -".into())
    } else {
        Ok(())
    }
}

/// IOC_STATE_DIR: made and given away by root, so no `..` that could lead
/// elsewhere, nothing doubtful (`/`, `//`, `.`), and not the root itself.
fn valid_state_directory(value: &str) -> bool {
    value.len() > 1 && value.starts_with('/') && value[1..].split('/').all(|part| !matches!(part, "" | "." | ".."))
}

/// IOC_HOST: what `uname -n` (the kernel's host name) may be.
fn valid_host_name(value: &str) -> bool {
    value.len() <= 64 && !value.is_empty() && !value.starts_with(['-', '.']) && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

/// An environment variable name as the shell and systemd take it.
fn valid_variable_name(name: &str) -> bool {
    let first_ok = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_');
    first_ok && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Lines of a healthy IOC's log (epics-ioc-runner's canaries): a crash
/// pattern found in one (compared without regard to case, as its scan
/// does) would make every start look failed.
const CANARY_LOG_LINES: [&str; 2] =
    ["ioc-runner canary: ordinary healthy log line 0123456789", "IOC-Runner Canary 2: EPICS 7.0 iocBoot/st.cmd loaded OK 2026-07-07 01:02:03.456"];

/// Splits CRASH_LOG_PATTERNS_EXTRA into its patterns, or says why it is
/// refused. Patterns are matched as plain text (case-sensitive), so the
/// characters that make an extended regular expression of a pattern (what
/// epics-ioc-runner's grep would take) are refused: the pattern would not
/// mean the same here.
pub fn crash_patterns(value: &str) -> Result<Vec<&str>, String> {
    if value.is_empty() {
        return Ok(Vec::new());
    }
    if value.len() > MAX_CRASH_PATTERNS_BYTES {
        return Err(format!("longer than {MAX_CRASH_PATTERNS_BYTES} bytes: expected a few patterns"));
    }
    let patterns: Vec<&str> = value.split('|').collect();
    if patterns.len() > MAX_CRASH_PATTERNS {
        return Err(format!("more than {MAX_CRASH_PATTERNS} patterns: expected at most {MAX_CRASH_PATTERNS}, separated by |"));
    }
    for pattern in &patterns {
        if pattern.trim_ascii().is_empty() {
            return Err("has an empty alternation and would match every log line (|| or | at an end): expected text between the |".into());
        }
        if pattern.contains(['*', '?', '+', '^', '$', '\\', '(', ')', '[', ']', '{', '}']) {
            return Err("is not a valid regular expression here (* ? + ^ $ \\ ( ) [ ] { }): expected plain text, matched as written".into());
        }
        if !runner_plain(pattern, true) {
            return Err("a character epics-ioc-runner refuses: expected letters, digits, blanks and _ . / : -".into());
        }
        let lower = pattern.to_ascii_lowercase();
        if CANARY_LOG_LINES.iter().any(|line| line.to_ascii_lowercase().contains(&lower)) {
            return Err("matches ordinary log text (such as '.'): expected words that only a failure prints".into());
        }
    }
    Ok(patterns)
}

/// The `IOC_META_*` entries of an environment that `ioc status` shows, one
/// `NAME=value` a line, at most [`META_SHOWN_MAX`] bytes of whole entries.
pub fn shown_metadata<'a>(env: impl Iterator<Item = &'a str>) -> String {
    let mut shown = String::new();
    for entry in env.filter(|e| e.starts_with(META_PREFIX)) {
        if shown.len() + entry.len() + 1 > META_SHOWN_MAX {
            break;
        }
        shown.push_str(entry);
        shown.push('\n');
    }
    shown
}

/// Reads one IOC file. `Ok` holds the file and its warnings; `Err` every
/// problem (errors and warnings) when the file cannot be used.
pub fn parse(path: &Path, text: &str) -> Result<(IocFile, Vec<Diagnostic>), Vec<Diagnostic>> {
    let mut file = ReadFile::default();
    read(path, text, &mut file).map(|warnings| (file.into_file(), warnings))
}

/// Reads and checks one IOC file into `file` (a new one), as [`parse`]
/// does, its values kept where they are written. `Ok` holds the warnings.
pub(crate) fn read<'a>(path: &'a Path, text: &'a str, file: &mut ReadFile<'a>) -> Result<Vec<Diagnostic>, Vec<Diagnostic>> {
    let mut problems = Problems::default();
    let ReadFile { known, lines, variables, process } = file;
    // Keys whose value had a syntax error: reported once, not checked again.
    let mut unreadable = [false; KEYS.len()];
    let mut rest = Some(text);
    let mut line = 0u32;
    while let Some((raw, control, next)) = rest.map(first_line) {
        rest = next;
        line = line.saturating_add(1);
        let (key, after_key) = match assignment(raw) {
            Ok(Some(assignment)) => assignment,
            Ok(None) => continue,
            Err(message) => {
                problems.push(Diagnostic::error(path, line, message));
                continue;
            }
        };
        let (value, readable) = match value(raw, after_key, control) {
            Ok(value) => (value, true),
            Err(message) => {
                problems.push(Diagnostic::error(path, line, message));
                (Cow::Borrowed(""), false)
            }
        };
        let Some(k) = key_index(key) else {
            if RESERVED_NAMES.contains(&key) {
                let message = format!("{key} is set by iocinit or procServ itself: the line is ignored, expected another name");
                problems.push(Diagnostic::warning(path, line, message));
            } else if let Some(first) = variables.iter().find(|v| v.0 == key).map(|v| v.2) {
                problems.push(Diagnostic::error(path, line, format!("{key} given twice (first on line {first}): expected it once")));
            } else if variables.len() == MAX_VARIABLES {
                problems.push(Diagnostic::error(path, line, format!("more than {MAX_VARIABLES} variables besides the IOC_* keys: expected fewer")));
            } else if readable {
                if let Err(message) = check_variable(key, &value) {
                    problems.push(value_problem(path, line, key, &value, message));
                }
                variables.push((key, value, line));
            }
            continue;
        };
        if lines[k] != 0 {
            let first = lines[k];
            problems.push(Diagnostic::error(path, line, format!("{key} given twice (first on line {first}): expected it once")));
            continue;
        }
        unreadable[k] = !readable;
        lines[k] = line;
        // An empty value reads as none.
        known[k] = Some(value).filter(|value| !value.is_empty());
    }
    let mut shown = 0;
    for (key, value, line) in variables.iter().filter(|v| v.0.starts_with(META_PREFIX)) {
        shown += key.len() + value.len() + 2;
        if shown > META_SHOWN_MAX {
            let message = format!("{key}: exported, but not shown by ioc status: the IOC_META_* variables shown take at most {META_SHOWN_MAX} bytes");
            problems.push(Diagnostic::warning(path, *line, message));
            break;
        }
    }
    // As epics-ioc-runner, which names an IOC after its file: IOC_NAME may
    // be left out (a file not named `<IOC_NAME>.conf` is refused below).
    let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    let conf_stem = file_name.strip_suffix(".conf");
    let stem = conf_stem.unwrap_or(file_name);
    known[slot::NAME].get_or_insert(Cow::Borrowed(stem));
    known[slot::CMD].get_or_insert(Cow::Borrowed(""));
    let name = known[slot::NAME].as_deref().unwrap_or_default();

    if lines[slot::CMD] == 0 {
        problems.push(Diagnostic::error(path, 0, format!("{CMD} missing: expected a line {CMD}=\"...\"")));
    }
    if lines[slot::NAME] == 0 && !valid_ioc_name(name) {
        let message = "the file name is no IOC name and IOC_NAME is missing: expected a file named <IOC name>.conf";
        problems.push(Diagnostic::error(path, 0, message));
    }
    // The keys' values, in the order they are written (the other variables
    // were checked as they were read, an IOC_NAME taken from the file name
    // above; a value with a syntax error was reported).
    for (k, value) in known.iter().enumerate() {
        let Some(value) = value.as_deref().filter(|_| !unreadable[k] && (k != slot::NAME || lines[k] != 0)) else { continue };
        // IOC_NAME="" names the IOC after its file: a name not read from a
        // line, checked whole.
        let checked = if k == slot::NAME { check_value(Some(k), NAME, value, process) } else { check_known(k, value, process) };
        if let Err(message) = checked {
            problems.push(Diagnostic::error(path, lines[k], message));
        }
    }
    // The name compared first: a name read from a line was checked above,
    // so it is checked again only for this message, when it differs.
    if lines[slot::NAME] != 0 && conf_stem != Some(name) && valid_ioc_name(name) {
        // The file's name, not its IOC_NAME: a diagnostic never quotes the file.
        problems.push(Diagnostic::error(
            path,
            lines[slot::NAME],
            format!("IOC_NAME does not match the file name: expected IOC_NAME=\"{stem}\", or the file named after IOC_NAME"),
        ));
    }
    if known[slot::PORT].as_deref().is_some_and(|port| !names_the_console(port, name)) {
        problems.push(Diagnostic::warning(
            path,
            lines[slot::PORT],
            format!(
                "IOC_PORT names another console: iocinit always serves it on {CONSOLE_DIR}/IOC_NAME/control \
                 (under --local: procserv/IOC_NAME/control in its run directory); the value is kept as written"
            ),
        ));
    }

    let problems = problems.finish(path);
    if problems.iter().any(Diagnostic::is_error) {
        Err(problems)
    } else {
        Ok(problems)
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

/// What a value that fails [`check_value`] is: an error, except a bad
/// CRASH_LOG_PATTERNS_EXTRA within its bytes (they go into a reply). As
/// with epics-ioc-runner, that one does not keep the IOC from running:
/// `ioc start` ignores it for the run with a warning, `ioc install`
/// refuses it.
fn value_problem(path: &Path, line: u32, key: &str, value: &str, message: String) -> Diagnostic {
    if key == CRASH_PATTERNS && value.len() <= MAX_CRASH_PATTERNS_BYTES {
        Diagnostic::warning(path, line, message)
    } else {
        Diagnostic::error(path, line, message)
    }
}

/// `text` without the blanks (spaces and tabs) it starts with, found on
/// the bytes: a char pattern decodes a char per byte, for every line and value.
fn trim_blanks_start(text: &str) -> &str {
    let blanks = text.bytes().take_while(|b| matches!(b, b' ' | b'\t')).count();
    text.get(blanks..).unwrap_or_default()
}

/// One line: `None` for blank and comment lines, `Err` when the line is no
/// assignment at all; otherwise its key and the text after `KEY=`.
fn assignment(raw: &str) -> Result<Option<(&str, &str)>, String> {
    let text = trim_blanks_start(raw);
    // Bytes compared, not chars (each pattern a call at opt-level "z"):
    // `#`, `\\`, `=` and the digits are ASCII.
    let comment = text.as_bytes().first() == Some(&b'#');
    if comment && text.as_bytes().last() == Some(&b'\\') {
        return Err("a comment ending in a backslash: systemd before v254 continues it on the next line; expected no \\ at its end".into());
    }
    if text.is_empty() || comment {
        return Ok(None);
    }
    // A byte search: a key is ASCII, so it ends at a char boundary (at the
    // first byte of the first char that is not a key's).
    let key_end = first_flagged(text.as_bytes(), not_key_bytes);
    let (key, rest) = text.split_at(key_end);
    match (key.as_bytes().first(), rest.as_bytes().first()) {
        (Some(first), Some(b'=')) if !first.is_ascii_digit() => Ok(Some((key, rest.get(1..).unwrap_or_default()))),
        _ => Err("expected KEY=\"value\" (no blanks around =)".into()),
    }
}

/// The text after `KEY=` (`rest`, a tail of the line `raw`, whose first
/// control char is at `control`: none before `rest` in an assignment): one
/// shell word, then nothing but blanks and a comment. Errors name the column.
fn value<'a>(raw: &str, rest: &'a str, control: Option<usize>) -> Result<Cow<'a, str>, String> {
    let column = |tail: &str| raw.len() - tail.len() + 1;
    if let Some(at) = control {
        let at = at + 1;
        return Err(format!("column {at}: a control character (a CR of a CRLF line end?): a shell would keep it in the value"));
    }
    let (value, after) = shell_word(rest).map_err(|(message, tail)| format!("column {}: {message}", column(tail)))?;
    let after = trim_blanks_start(after);
    if after.as_bytes().first() == Some(&b'#') {
        let at = column(after);
        return Err(format!(
            "column {at}: a comment after the value: systemd (epics-ioc-runner's EnvironmentFile) keeps it in the value; expected the comment on a line of its own"
        ));
    }
    if !after.is_empty() {
        let at = column(after);
        return Err(format!("column {at}: text after the value: a shell would run it as a command; expected KEY=\"value\" alone"));
    }
    Ok(value)
}

/// Characters a shell takes literally outside quotes (all ASCII: a run of
/// them ends at a char boundary).
fn plain(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'/' | b':' | b'@' | b'%' | b'+' | b',' | b'=' | b'-')
}

/// Why a value is refused, and the text from where the problem is.
type WordError<'a> = (&'static str, &'a str);

/// Appends `piece`, a slice of the line, to the word read so far: a word
/// of one piece (nearly every value) stays a slice of the line, not a copy.
fn push_piece<'a>(word: &mut Cow<'a, str>, piece: &'a str) {
    if word.is_empty() {
        *word = Cow::Borrowed(piece);
    } else if !piece.is_empty() {
        word.to_mut().push_str(piece);
    }
}

/// One shell word made of quoted and plain segments; returns it and the rest.
fn shell_word(mut rest: &str) -> Result<(Cow<'_, str>, &str), WordError<'_>> {
    let mut value = Cow::Borrowed("");
    let mut unquoted_text = false;
    loop {
        match rest.as_bytes().first() {
            None | Some(b' ' | b'\t') => return Ok((value, rest)),
            // systemd takes quotes literally once unquoted text has begun.
            Some(b'"' | b'\'') if unquoted_text => {
                return Err(("a quote after unquoted text: systemd keeps it in the value; expected the whole value in quotes", rest))
            }
            Some(b'"') => rest = double_quoted(&rest[1..], &mut value).map_err(|(message, at)| (message, at.unwrap_or(rest)))?,
            Some(b'\'') => {
                let body = &rest[1..];
                let end = body.find('\'').ok_or(("unbalanced single quote: expected a closing '", rest))?;
                push_piece(&mut value, &body[..end]);
                rest = &body[end + 1..];
            }
            Some(&b) if plain(b) => {
                unquoted_text = true;
                // The run of plain characters, taken whole.
                let (text, after) = rest.split_at(rest.bytes().position(|b| !plain(b)).unwrap_or(rest.len()));
                push_piece(&mut value, text);
                rest = after;
            }
            Some(_) => return Err(("a character that means something to a shell: expected the value in quotes, e.g. KEY='...'", rest)),
        }
    }
}

/// The inside of `"..."` (after the opening quote); returns the text after
/// the closing quote. An error points at the offending character (`None`:
/// at the opening quote).
fn double_quoted<'a>(body: &'a str, value: &mut Cow<'a, str>) -> Result<&'a str, (&'static str, Option<&'a str>)> {
    let mut rest = body;
    loop {
        // The text up to the next character that means something here is
        // taken whole, not a char at a time; all four are ASCII, so the
        // cuts are char boundaries.
        let special = Some(first_flagged(rest.as_bytes(), double_quote_specials)).filter(|&at| at < rest.len());
        let Some((text, here)) = special.and_then(|at| rest.split_at_checked(at)) else {
            return Err(("unbalanced double quote: expected a closing \"", None));
        };
        push_piece(value, text);
        let problem = match here.as_bytes() {
            [b'"', ..] => return Ok(here.get(1..).unwrap_or_default()),
            [b'\\', b'"' | b'\\' | b'$' | b'`', ..] => {
                // The escaped character, a piece of the line too.
                push_piece(value, here.get(1..2).unwrap_or_default());
                rest = here.get(2..).unwrap_or_default();
                continue;
            }
            [b'\\', ..] => "a backslash inside double quotes may only escape \", \\, $ or `",
            [b'$', ..] => "$ inside double quotes is expanded by a shell: expected \\$, or the value in single quotes",
            _ => "` inside double quotes is expanded by a shell: expected \\`, or the value in single quotes",
        };
        return Err((problem, Some(here)));
    }
}

/// The file's text: a comment, then one `KEY="value"` line per value set.
/// `parse(render(f))` gives `f` back for every `f` that passes [`IocFile::check`].
pub fn render(file: &IocFile) -> String {
    let mut out = String::from("# epics-ioc-runner IOC file, written by iocinit\n");
    file.as_read().each_entry(&mut |_, key, value| push_assignment(&mut out, key, value));
    out
}

/// `text`, an IOC file's, with `key` set to `value`: every line that
/// assigns `key` becomes `KEY="value"`, every other line (comments, blank
/// lines, the other variables, their order) stays as written; a file
/// without the key gets the line at its end. What `ioc install` writes
/// when it changes one value of a file it installs as written.
pub fn with_value(text: &str, key: &str, value: &str) -> String {
    let mut out = String::with_capacity(text.len() + key.len() + value.len() + 4);
    let mut assigned = false;
    for line in text.split_inclusive('\n') {
        let assigns_key = matches!(assignment(line.trim_end_matches('\n')), Ok(Some((assigned, _))) if assigned == key);
        if assigns_key {
            push_assignment(&mut out, key, value);
            assigned = true;
        } else {
            out.push_str(line);
        }
    }
    if !assigned {
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        push_assignment(&mut out, key, value);
    }
    out
}

/// Appends the line `KEY="value"`, the value escaped for double quotes.
fn push_assignment(out: &mut String, key: &str, value: &str) {
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

/// Writes `text`, the text of `file` (its [`render`], or the text it was
/// read from), as `dir/<name>.conf` atomically with permissions `mode`
/// (whatever the umask): a temporary file in the same directory, fsync,
/// rename over the old file, fsync of the directory.
///
/// The directory may be writable by others (the IOC group), so the
/// temporary file gets a random name and is created with O_EXCL|O_NOFOLLOW:
/// a planted file or symlink makes the attempt fail, never redirects the write.
pub fn write_atomic(dir: &Path, file: &IocFile, text: &str, mode: u32) -> io::Result<PathBuf> {
    file.check().map_err(|message| crate::logging::io_error(io::ErrorKind::InvalidInput, message))?;
    let target = dir.join(file.file_name());
    remove_stale_temporaries(dir, &file.name);
    let (temporary, mut out) = create_temporary(dir, &file.name)?;
    let written = (|| {
        out.set_permissions(fs::Permissions::from_mode(mode))?;
        out.write_all(text.as_bytes())?;
        out.sync_all()?;
        fs::rename(&temporary, &target)?;
        crate::sys::open_file(dir, libc::O_RDONLY, 0)?.sync_all()?;
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
/// (source::MAX_DIR_ENTRIES), past which no IOC is read. Every install of
/// the IOC calls it, one that finds the file unchanged too. Best effort:
/// what cannot be removed now is tried again at the next install.
pub fn remove_stale_temporaries(dir: &Path, name: &str) {
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
        let random = crate::sys::random_u64().ok_or_else(|| crate::logging::io_error(io::ErrorKind::Other, "getrandom failed"))?;
        let path = dir.join(format!(".{name}.conf.{random:016x}.tmp"));
        let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_NOCTTY;
        let opened = crate::sys::open_file(&path, flags, 0o600);
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

    /// [`first_control`] as chars find it: where the first char that
    /// `char::is_control` names, other than a tab, starts.
    fn first_control_by_chars(text: &str) -> Option<usize> {
        text.char_indices().find(|&(_, c)| c.is_control() && c != '\t').map(|(at, _)| at)
    }

    #[test]
    fn control_chars_are_found_as_char_is_control_finds_them() {
        let texts = ["", "plain", "tab\tok", "a\rb", "\u{7f}", "\u{80}x", "é\u{9f}", "\u{a0}\u{c0}", "ü", "日本\u{85}", "a\0"];
        for text in texts {
            assert_eq!(first_control(text), first_control_by_chars(text), "{text:?}");
        }
    }

    /// A word test of [`first_flagged`] and the byte test it stands for.
    type WordTest = (fn(usize) -> usize, fn(u8) -> bool);

    /// The word tests of [`first_flagged`] with the byte tests they stand for.
    fn word_tests() -> [WordTest; 3] {
        [
            (not_printable, |b| !(b' '..=b'~').contains(&b)),
            (double_quote_specials, |b| matches!(b, b'"' | b'\\' | b'$' | b'`')),
            (not_key_bytes, |b| !(b.is_ascii_alphanumeric() || b == b'_')),
        ]
    }

    /// A word's tests flag its first byte that the byte test flags: each
    /// byte value at each place of a word of `a`s and of a word of zeros,
    /// and with a second byte of each value below and above it (a borrow or
    /// a carry from one byte into the next); none of them flags an `a`.
    #[test]
    fn a_words_test_flags_the_first_byte_a_byte_test_flags() {
        for (flags, flagged) in word_tests() {
            assert!(!flagged(b'a'));
            for fill in [b'a', 0] {
                for at in 0..WORD {
                    for b in 0..=u8::MAX {
                        for other in [None, Some((at + 1) % WORD), Some((at + WORD - 1) % WORD)] {
                            for second in 0..=u8::MAX {
                                let mut bytes = [fill; WORD];
                                bytes[at] = b;
                                if let Some(other) = other {
                                    bytes[other] = second;
                                }
                                let first = flags(usize::from_le_bytes(bytes)).trailing_zeros() as usize / 8;
                                assert_eq!(first, bytes.iter().position(|&b| flagged(b)).unwrap_or(WORD), "{bytes:?}");
                                if other.is_none() {
                                    break;
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// One shell word read a char at a time into a `String`, as [`shell_word`]
    /// read it before it kept a word of one piece as a slice of the line.
    fn shell_word_by_chars(mut rest: &str) -> Result<(String, &str), WordError<'_>> {
        let mut value = String::new();
        let mut unquoted_text = false;
        loop {
            match rest.chars().next() {
                None | Some(' ' | '\t') => return Ok((value, rest)),
                Some('"' | '\'') if unquoted_text => return Err(("a quote after unquoted text: systemd keeps it in the value; expected the whole value in quotes", rest)),
                Some('"') => {
                    let mut body = &rest[1..];
                    loop {
                        let Some(c) = body.chars().next() else { return Err(("unbalanced double quote: expected a closing \"", rest)) };
                        match (c, body.get(1..).and_then(|after| after.chars().next())) {
                            ('"', _) => break,
                            ('\\', Some(escaped @ ('"' | '\\' | '$' | '`'))) => {
                                value.push(escaped);
                                body = &body[2..];
                                continue;
                            }
                            ('\\', _) => return Err(("a backslash inside double quotes may only escape \", \\, $ or `", body)),
                            ('$', _) => return Err(("$ inside double quotes is expanded by a shell: expected \\$, or the value in single quotes", body)),
                            ('`', _) => return Err(("` inside double quotes is expanded by a shell: expected \\`, or the value in single quotes", body)),
                            _ => value.push(c),
                        }
                        body = &body[c.len_utf8()..];
                    }
                    rest = &body[1..];
                }
                Some('\'') => {
                    let body = &rest[1..];
                    let end = body.find('\'').ok_or(("unbalanced single quote: expected a closing '", rest))?;
                    value.push_str(&body[..end]);
                    rest = &body[end + 1..];
                }
                Some(c) if c.is_ascii() && plain(c as u8) => {
                    unquoted_text = true;
                    value.push(c);
                    rest = &rest[1..];
                }
                Some(_) => return Err(("a character that means something to a shell: expected the value in quotes, e.g. KEY='...'", rest)),
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn control_chars_are_found_in_any_text(text in "(?s).{0,12}") {
            proptest::prop_assert_eq!(first_control(&text), first_control_by_chars(&text));
        }

        /// [`first_line`]'s one pass cuts the lines `split('\n')` cuts and
        /// finds the control char [`first_control`] finds in each.
        #[test]
        fn lines_are_cut_and_searched_as_split_and_first_control_do(text in "(?s)[a \t\n\r\u{0}\u{1f}\u{7f}\u{80}\u{9f}\u{a0}é\u{c2}=\"]{0,24}") {
            let mut lines = Vec::new();
            let mut rest = Some(text.as_str());
            while let Some((line, control, next)) = rest.map(first_line) {
                lines.push((line, control));
                rest = next;
            }
            let expected: Vec<(&str, Option<usize>)> = text.split('\n').map(|line| (line, first_control(line))).collect();
            proptest::prop_assert_eq!(lines, expected);
        }

        /// [`first_flagged`] finds what a byte search finds, in whole words
        /// and in the last bytes.
        #[test]
        fn the_first_flagged_byte_is_the_first_a_byte_test_flags(text in "[aZ09_@\\[{/:~ \"\\\\$`\n\t\u{0}\u{7f}é=]{0,20}") {
            for (flags, flagged) in word_tests() {
                let bytes = text.as_bytes();
                proptest::prop_assert_eq!(first_flagged(bytes, flags), bytes.iter().position(|&b| flagged(b)).unwrap_or(bytes.len()));
            }
        }

        /// A word is read as it was a char at a time, a word of one piece
        /// (nearly every value) kept as a slice of the line.
        #[test]
        fn words_are_read_as_a_char_at_a_time(text in "[a=_/\"'\\$` \t#é;]{0,16}") {
            let read = shell_word(&text).map(|(word, rest)| (word.into_owned(), rest));
            proptest::prop_assert_eq!(read, shell_word_by_chars(&text));
        }

        /// The object a load makes of a file is what the file [`parse`]
        /// gives says: every assignment exported in its order, its values
        /// in their places, its process settings; and `ioc install` takes
        /// the file the load takes.
        #[test]
        fn a_files_object_is_what_its_parsed_file_says(lines in proptest::collection::vec(
            (proptest::sample::select(vec![NAME, USER, GROUP, CHDIR, PORT, CMD, STATE_DIR, HOST, "IOC_NICE", "IOC_UMASK", "IOC_RTPRIO", "A", "IOC_META_X", CRASH_PATTERNS]),
             proptest::sample::select(vec!["x", "\"./st.cmd\"", "'a b'", "\"a\\\"b\"", "/opt/x", "''", "-5", "0027", "unix:/run/procserv/x/control", "\"ab\"'cd'", "a\"b\""])),
            0..8,
        )) {
            let text: String = lines.iter().map(|(key, value)| format!("{key}={value}\n")).collect();
            let path = Path::new("/etc/procServ.d/x.conf");
            let (parsed, mut read_file) = (parse(path, &text), ReadFile::default());
            proptest::prop_assert_eq!(&read(path, &text, &mut read_file).map(|_| ()), &parsed.as_ref().map(|_| ()).map_err(Clone::clone));
            let Ok((file, _)) = parsed else { return Ok(()) };
            proptest::prop_assert!(file.check().is_ok() || file.variables.iter().any(|(key, _)| key == CRASH_PATTERNS));
            let object = read_file.to_object(1, &IocObjectGlobals::default(), Runlevels::default(), true);
            let mut entries = Vec::new();
            file.as_read().each_entry(&mut |_, key, value| entries.push(format!("{key}={value}")));
            let console = object.console.as_deref().unwrap();
            proptest::prop_assert_eq!(console.environment().collect::<Vec<_>>(), entries);
            proptest::prop_assert_eq!((&*object.id, object.start.as_deref()), (file.name.as_str(), Some(file.command.as_str())));
            let rare = object.rare();
            proptest::prop_assert_eq!(rare.working_directory.as_deref(), file.chdir.as_deref().map(Path::new));
            proptest::prop_assert_eq!((rare.user.as_deref(), rare.group.as_deref()), (file.user.as_deref(), file.group.as_deref()));
            let extension = |key: &str| file.extensions.iter().find(|e| e.key == key).map(|e| e.value.as_str());
            proptest::prop_assert_eq!(rare.state_directory.as_deref(), extension(STATE_DIR).map(Path::new));
            proptest::prop_assert_eq!(rare.host.as_deref(), extension(HOST));
            let mut process = ProcessSettings::default();
            for Extension { key, value } in &file.extensions {
                if let Some(setting) = Setting::from_ioc_variable(key) {
                    process.set_quietly(setting, value).unwrap();
                }
            }
            proptest::prop_assert_eq!(object.process.as_deref().cloned().unwrap_or_default(), process);
        }
    }

    /// The object a load makes of the IOC file `text` at `path`.
    fn object(path: &Path, text: &str) -> Object {
        let mut file = ReadFile::default();
        read(path, text, &mut file).unwrap();
        file.to_object(1, &IocObjectGlobals::default(), Runlevels::default(), true)
    }

    fn errors(text: &str) -> Vec<String> {
        parse(Path::new("vac1.conf"), text).expect_err(text).iter().map(|d| format!("{}: {}", d.line, d.message)).collect()
    }

    #[test]
    fn with_value_changes_the_keys_lines_and_keeps_every_other_line() {
        let text = "# vacuum IOC, sector 1\n\nIOC_NAME=vac1\n  IOC_PORT='unix:/old/control' \n# the port above is replaced\nIOC_CMD=./st.cmd\n";
        let changed = with_value(text, PORT, "unix:a:b:0660:/run/x \"$y\"");
        assert_eq!(
            changed,
            "# vacuum IOC, sector 1\n\nIOC_NAME=vac1\nIOC_PORT=\"unix:a:b:0660:/run/x \\\"\\$y\\\"\"\n# the port above is replaced\nIOC_CMD=./st.cmd\n"
        );
        let (file, _) = parse(Path::new("vac1.conf"), &changed).unwrap();
        assert_eq!(file.port.as_deref(), Some("unix:a:b:0660:/run/x \"$y\""));
        // A comment that names the key is a comment, not the key's line.
        assert_eq!(with_value("#IOC_PORT=x\nIOC_CMD=c", PORT, "p"), "#IOC_PORT=x\nIOC_CMD=c\nIOC_PORT=\"p\"\n");
    }

    #[test]
    fn every_valid_variable_is_exported_in_order_after_the_keys() {
        let text = "IOC_NAME=vac1\nEPICS_CA_SERVER_PORT=\"5070\"\nIOC_CMD=./st.cmd\nIOC_META_OWNER='Jane Doe'\n_x=\n";
        let (file, warnings) = parse(Path::new("vac1.conf"), text).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        let console = object(Path::new("vac1.conf"), text).console.unwrap();
        let env: Vec<&str> = console.environment().collect();
        assert_eq!(env, ["IOC_NAME=vac1", "IOC_CMD=./st.cmd", "EPICS_CA_SERVER_PORT=5070", "IOC_META_OWNER=Jane Doe", "_x="]);
        // Written back as read.
        let (back, _) = parse(Path::new("vac1.conf"), &render(&file)).unwrap();
        assert_eq!(back, file);
    }

    #[test]
    fn names_of_pid1_and_procserv_are_refused_with_a_warning() {
        let text = "IOC_NAME=vac1\nIOC_CMD=x\nIOCINIT_OBJECT=other\nPROCSERV_INFO=x\n";
        let (file, warnings) = parse(Path::new("vac1.conf"), text).unwrap();
        assert!(file.variables.is_empty(), "{file:?}");
        let lines: Vec<u32> = warnings.iter().map(|d| d.line).collect();
        assert_eq!(lines, [3, 4]);
        assert!(warnings[0].message.starts_with("IOCINIT_OBJECT is set by iocinit or procServ itself"), "{}", warnings[0]);
    }

    #[test]
    fn variables_are_bounded_and_given_once() {
        let many: String = (0..=MAX_VARIABLES).map(|k| format!("V{k}=1\n")).collect();
        let problems = errors(&format!("IOC_NAME=vac1\nIOC_CMD=x\n{many}"));
        assert!(problems.iter().any(|p| p.contains(&format!("more than {MAX_VARIABLES} variables"))), "{problems:?}");
        assert!(errors("IOC_NAME=vac1\nIOC_CMD=x\nA=1\nA=2\n").iter().any(|p| p.starts_with("4: A given twice (first on line 3)")));
        // IOC_META_* beyond what status shows: exported, and said so.
        let big = format!("IOC_NAME=vac1\nIOC_CMD=x\nIOC_META_A={0}\nIOC_META_B={0}\n", "x".repeat(600));
        let (file, warnings) = parse(Path::new("vac1.conf"), &big).unwrap();
        assert_eq!(file.variables.len(), 2);
        assert!(warnings.iter().any(|d| d.line == 4 && d.message.contains("not shown by ioc status")), "{warnings:?}");
        let console = object(Path::new("vac1.conf"), &big).console.unwrap();
        assert_eq!(shown_metadata(console.environment()).lines().count(), 1);
    }

    /// Values that bash and systemd's EnvironmentFile would read otherwise
    /// are refused; the forms both read alike are accepted.
    #[test]
    fn values_mean_the_same_to_bash_and_systemd() {
        for (line, expected) in [("A=\"a\"b", "ab"), ("A='a'\"b\"c", "abc"), ("A=abc   ", "abc"), ("A=\"x\\\"y\"", "x\"y"), ("A=", "")] {
            let (file, _) = parse(Path::new("vac1.conf"), &format!("IOC_NAME=vac1\nIOC_CMD=x\n{line}\n")).unwrap_or_else(|e| panic!("{line}: {e:?}"));
            assert_eq!(file.variables[0].1, expected, "{line}");
        }
        for (line, why) in [
            ("A=\"a\" # c", "a comment after the value"),
            ("A=abc # c", "a comment after the value"),
            ("A=a\"b\"", "a quote after unquoted text"),
            ("A=a'b'", "a quote after unquoted text"),
            ("# note \\", "a comment ending in a backslash"),
        ] {
            let problems = errors(&format!("IOC_NAME=vac1\nIOC_CMD=x\n{line}\n"));
            assert!(problems.iter().any(|p| p.starts_with("3: ") && p.contains(why)), "{line}: {problems:?}");
        }
    }

    /// IOC_NAME may be left out, as under epics-ioc-runner: the IOC is
    /// named after its file.
    #[test]
    fn the_name_defaults_to_the_file_name() {
        let (file, _) = parse(Path::new("/etc/procServ.d/vac1.conf"), "IOC_CMD=./st.cmd\n").unwrap();
        assert_eq!(file.name, "vac1");
        // Not written back: the file stays as epics-ioc-runner wrote it.
        let problems = parse(Path::new("/etc/procServ.d/my ioc.conf"), "IOC_CMD=./st.cmd\n").unwrap_err();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].message.starts_with("the file name is no IOC name and IOC_NAME is missing"), "{}", problems[0]);
    }

    #[test]
    fn the_slots_name_the_places_of_the_keys() {
        let slots = [slot::NAME, slot::USER, slot::GROUP, slot::CHDIR, slot::PORT, slot::STATE_DIR, slot::HOST, slot::CMD];
        assert_eq!(slots.map(|k| KEYS[k]), [NAME, USER, GROUP, CHDIR, PORT, STATE_DIR, HOST, CMD]);
        let settings = Setting::ALL.map(|s| s.ioc_variable());
        assert_eq!(KEYS[slot::FIRST_EXTENSION..slot::FIRST_EXTENSION + settings.len()], settings);
        assert_eq!(KEYS[slot::FIRST_EXTENSION..slot::CMD], EXTENSION_KEYS);
    }

    /// `IOC_NAME=""` names the IOC after its file, and that name is checked
    /// whole, control characters first, at the IOC_NAME line: the keys'
    /// values are otherwise checked without a search for control characters
    /// (their lines were searched).
    #[test]
    fn an_empty_ioc_name_checks_the_file_name_at_its_line() {
        let problems = parse(Path::new("/etc/procServ.d/a\u{1}.conf"), "IOC_NAME=\"\"\nIOC_CMD=x\n").unwrap_err();
        let messages: Vec<String> = problems.iter().map(|d| format!("{}: {}", d.line, d.message)).collect();
        assert_eq!(messages, ["1: IOC_NAME: a control character in the value: expected plain text"]);
        let problems = parse(Path::new("/etc/procServ.d/a b.conf"), "IOC_NAME=''\nIOC_CMD=x\n").unwrap_err();
        assert!(problems[0].message.starts_with("IOC_NAME: expected an IOC name"), "{problems:?}");
    }

    /// IOC_CMD and IOC_CHDIR as strict as epics-ioc-runner's validation:
    /// one word, no shell syntax (never run through /bin/sh), no `..`.
    #[test]
    fn commands_are_one_word_and_directories_have_no_dot_dot() {
        for good in ["IOC_CMD=./st.cmd", "IOC_CMD=/usr/bin/softIoc", "IOC_CMD=true\nIOC_CHDIR='/opt/my iocs/vac1'", "IOC_CMD=x\nIOC_CHDIR=/a/..b/c"] {
            assert!(parse(Path::new("vac1.conf"), &format!("IOC_NAME=vac1\n{good}\n")).is_ok(), "{good}");
        }
        for (bad, key) in [
            ("IOC_CMD='true; echo hacked'", "IOC_CMD"),
            ("IOC_CMD='softIoc -d x.db'", "IOC_CMD"),
            ("IOC_CMD='a|b'", "IOC_CMD"),
            ("IOC_CMD='a>b'", "IOC_CMD"),
            ("IOC_CMD=x\nIOC_CHDIR=/opt/../etc", "IOC_CHDIR"),
            ("IOC_CMD=x\nIOC_CHDIR=/opt/..", "IOC_CHDIR"),
            ("IOC_CMD=x\nIOC_CHDIR=..", "IOC_CHDIR"),
            ("IOC_CMD=x\nIOC_CHDIR='/opt/a;b'", "IOC_CHDIR"),
        ] {
            let problems = errors(&format!("IOC_NAME=vac1\n{bad}\n"));
            assert!(problems.iter().any(|p| p.contains(&format!(": {key}"))), "{bad}: {problems:?}");
        }
    }

    #[test]
    fn crash_patterns_are_validated() {
        assert_eq!(crash_patterns("MYBOOM|cannot open dbd"), Ok(vec!["MYBOOM", "cannot open dbd"]));
        assert_eq!(crash_patterns(""), Ok(vec![]));
        let too_many = "x|".repeat(MAX_CRASH_PATTERNS) + "x";
        let too_long = "x".repeat(MAX_CRASH_PATTERNS_BYTES + 1);
        assert_eq!(crash_patterns("Broken pipe|net_ex"), Ok(vec!["Broken pipe", "net_ex"]));
        // epics-ioc-runner's rules: its characters only, nothing found in
        // a healthy log line ('.', 'healthy log line', without regard to case).
        let refused = ["foo;rm -rf /", ".", "healthy log line", "ORDINARY HEALTHY", "ok"];
        for bad in ["a||b", "|a", "a|", "Err.*x", "a|(b)", &too_many, &too_long].into_iter().chain(refused) {
            assert!(crash_patterns(bad).is_err(), "{bad}");
            // Loaded with a warning (ioc start ignores it, ioc install
            // refuses it), unless longer than a reply holds.
            let text = format!("IOC_NAME=vac1\nIOC_CMD=x\nCRASH_LOG_PATTERNS_EXTRA='{bad}'\n");
            let problems: Vec<String> = if bad.len() > MAX_CRASH_PATTERNS_BYTES {
                errors(&text)
            } else {
                let (file, warnings) = parse(Path::new("vac1.conf"), &text).unwrap();
                assert!(file.check().is_err(), "{bad}");
                warnings.iter().map(|d| format!("{}: {}", d.line, d.message)).collect()
            };
            assert!(problems.iter().any(|p| p.starts_with("3: CRASH_LOG_PATTERNS_EXTRA: ")), "{bad}: {problems:?}");
        }
    }

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

    #[test]
    fn ioc_port_may_name_the_console_under_any_run_directory() {
        for port in [
            "unix:ioc-srv:ioc:0660:/run/procserv/vac1/control",
            "unix:/run/procserv/vac1/control",
            "unix:me:me:0660:/run/user/1000/procserv/vac1/control",
            "unix:::0660:/tmp/iocinit-1000/procserv/vac1/control",
        ] {
            assert!(names_the_console(port, "vac1"), "{port}");
        }
        for port in ["2000", "unix:/run/procserv/vac2/control", "unix:procserv/vac1/control", "unix:/run/vac1/control", "unix:@vac1"] {
            assert!(!names_the_console(port, "vac1"), "{port}");
        }
    }

    #[test]
    fn iocinit_variables_are_read_checked_at_their_line_and_written_back() {
        let path = Path::new("/etc/procServ.d/vac1.conf");
        let text = "IOC_NAME=vac1\nIOC_RTPRIO=80\nIOC_MEMLOCK=64M\nIOC_CORESIZE=unlimited\nIOC_NICE=-5\nIOC_UMASK=0027\n\
                    IOC_CPUS=0,2-3\nIOC_STATE_DIR=/var/lib/ioc/vac1\nIOC_HOST=board7\nIOC_CMD=./st.cmd\n";
        let (file, warnings) = parse(path, text).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        let mut read_file = ReadFile::default();
        read(path, text, &mut read_file).unwrap();
        assert_eq!(read_file.privileged_setting(), Some(("IOC_RTPRIO", 2)));
        let object = read_file.to_object(1, &IocObjectGlobals::default(), Runlevels::default(), true);
        let process = object.process.as_deref().unwrap();
        assert_eq!(process.rtprio, Some(80));
        assert_eq!(process.memlock, Some(64 << 20));
        assert_eq!(process.core_size, Some(crate::config::process::INFINITY));
        assert_eq!((process.nice, process.umask), (Some(-5), Some(0o027)));
        assert_eq!(process.cpus, Some(vec![(0, 0), (2, 3)]));
        assert_eq!(object.rare().state_directory.as_deref(), Some(Path::new("/var/lib/ioc/vac1")));
        assert_eq!(object.rare().host.as_deref(), Some("board7"));
        // `ioc install` writes them back as read.
        let written = render(&file);
        let (again, _) = parse(path, &written).unwrap();
        assert_eq!(render(&again), written);
        assert_eq!(again, file);
        assert_eq!(self::object(path, &written), object);

        let bad = [
            "IOC_RTPRIO=100",
            "IOC_MEMLOCK=64m",
            "IOC_CORESIZE=-1",
            "IOC_NICE=-21",
            "IOC_UMASK=888",
            "IOC_CPUS=3-1",
            "IOC_STATE_DIR=/var/../etc",
            "IOC_STATE_DIR=var/lib/x",
            "IOC_STATE_DIR=/",
            "IOC_STATE_DIR=/var//x",
            "IOC_HOST=-board",
            "IOC_HOST=board7.example.org/x",
        ];
        for line in bad {
            let text = format!("IOC_NAME=vac1\n{line}\nIOC_CMD=./st.cmd\n");
            let problems = parse(path, &text).unwrap_err();
            let key = line.split('=').next().unwrap();
            let found = problems.iter().any(|d| d.is_error() && d.line == 2 && d.message.starts_with(&format!("{key}: expected")));
            assert!(found, "{line}: {problems:?}");
            // Never the file's text: it may be no IOC file at all.
            let value = &line[key.len() + 1..];
            let quoted = |message: &str| message.contains("got") || (value.len() > 2 && message.contains(value));
            assert!(problems.iter().all(|d| !quoted(&d.message)), "{line}: {problems:?}");
        }
    }

    /// Found by the ioc_file fuzz target: an iocinit variable above the
    /// keys it is written after read back as a different file.
    #[test]
    fn a_file_reads_back_the_same_wherever_its_variables_stood() {
        let text = "IOC_NAME=\"x\"\nIOC_HOST=\"ioc\"\nIOC_GROUP=\"ioc\"\nIOC_CMD=\"./st.cmd\"\n";
        let (file, _) = parse(Path::new("x.conf"), text).unwrap();
        let (back, _) = parse(Path::new("x.conf"), &render(&file)).unwrap();
        assert_eq!(back, file);
    }

    /// An install killed between create and rename leaves its temporary
    /// file: the next install of that IOC removes the stale ones (not a live
    /// writer's, not another IOC's, not a link), so they cannot pile up to
    /// the directory's entry bound.
    #[test]
    fn an_install_removes_temporaries_left_by_killed_installs() {
        let dir = crate::scratch::ScratchDir::new("iocfile-stale");
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
        let file = IocFile::new("vac1", "./st.cmd");
        write_atomic(&dir, &file, &render(&file), 0o644).unwrap();
        let mut names: Vec<String> = fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        names.sort();
        assert_eq!(
            names,
            [".vac1.conf.00000000000000cc.tmp", ".vac1.conf.00000000000000dd.tmp", ".vac2.conf.00000000000000bb.tmp", "vac1.conf"]
        );
    }
}
