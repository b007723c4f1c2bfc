//! The attributes of `epoch.conf`: one table row per attribute, naming where
//! it may appear, whether it may repeat, whether it is our extension, and the
//! small function that turns its value into the model.

use std::num::NonZeroU32;
use std::path::{Path, PathBuf};

use super::model::{Color, Globals, Location, Object, Output, ReloadMethod, StatusNames, StatusNamesSource, StopMethod, Text, VirtualFs, VirtualMount};
use super::names::same_bytes;
use super::options::{self, OptionId};
use super::shared::{Runlevels, SharedStr, Values};
use super::process::Setting;
use super::values::{account_name, ascii_word_count, decimal, digits, env_assignment, got, has_whitespace, name, one_word, parse_bool, parse_u32, signal, split_word, trim_start_blanks, words, ValueError};
use crate::logging::Quoted;

/// The globals as they are being read, with what the checks need to know
/// about where each came from.
#[derive(Debug, Default)]
pub(crate) struct GlobalsDraft {
    pub globals: Globals,
    /// Each global attribute given, with its location (first one first).
    pub seen: Vec<(&'static str, Location)>,
    /// `RunlevelInherits` lines, in order, without repeats.
    pub inherits: Vec<Inheritance>,
    /// `IocStartPriority` / `IocStopPriority` as written: resolved once every
    /// DefinePriority is known, as the order of globals is free.
    pub ioc_start_priority: Option<(String, Location)>,
    pub ioc_stop_priority: Option<(String, Location)>,
}

impl GlobalsDraft {
    pub fn location_of(&self, attribute: &str) -> Option<Location> {
        self.seen.iter().find(|(name, _)| *name == attribute).map(|&(_, at)| at)
    }
}

/// One `RunlevelInherits runlevel inherited` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Inheritance {
    pub runlevel: String,
    pub inherited: String,
    pub at: Location,
}

/// What the parser knows of the object being read besides the object
/// itself, which is built in place as the last of the parser's objects (an
/// object is hundreds of bytes: moving it from a draft into the list was a
/// good part of opening and closing it). The parser has one and resets it
/// for every object, and its option list's allocation with it.
#[derive(Debug, Clone)]
pub(crate) struct ObjectLines {
    /// Per attribute of [`ATTRIBUTES`], the line it was first given on
    /// (objects live in one file), where `given` has the attribute's bit;
    /// what is left from an earlier object elsewhere. An array, not a list:
    /// no allocation per object, and a look-up is an index.
    first_lines: [u32; ATTRIBUTES.len()],
    /// The attributes given for this object, by their bit ([`attribute_bit`]):
    /// a new object clears these bits, not the whole array (240 bytes
    /// written per object: `reset` was 2 % of a load's samples).
    given: u64,
    /// Each option set, with the line of the ObjectOptions that set it.
    pub option_lines: Vec<(OptionId, u32)>,
    /// The options of `option_lines`, as bits ([`options::bit`]): the checks
    /// ask for a dozen options per object, and most are not set.
    options_given: u32,
    /// Whether this object's ObjectRunlevels was none of `recent_runlevels`.
    names_new_runlevels: bool,
    /// Kept from object to object (not reset): the lists objects share.
    recent_runlevels: RecentLists,
}

impl ObjectLines {
    /// Nothing given yet.
    pub fn empty() -> Self {
        ObjectLines {
            first_lines: [0; ATTRIBUTES.len()],
            given: 0,
            option_lines: Vec::new(),
            options_given: 0,
            names_new_runlevels: false,
            recent_runlevels: RecentLists::EMPTY,
        }
    }

    /// Starts a new object: what was noted before is forgotten (but for the
    /// runlevel lists of earlier objects).
    pub fn reset(&mut self) {
        self.given = 0;
        self.option_lines.clear();
        self.options_given = 0;
        self.names_new_runlevels = false;
    }

    /// Whether the object's ObjectRunlevels is a list other than those of
    /// the objects shortly before it (as far as [`RecentLists`] holds them):
    /// a list the same as one of those names no runlevel not named already,
    /// and the parser walks only the new lists for the runlevels named.
    pub fn names_new_runlevels(&self) -> bool {
        self.names_new_runlevels
    }

    /// Notes that `attribute` was given on `line` (the first time counts).
    pub fn saw(&mut self, attribute: &Attribute, line: u32) {
        let bit = attribute_bit(attribute.index);
        if self.given & bit != 0 {
            return;
        }
        if let Some(first) = self.first_lines.get_mut(attribute.index) {
            *first = line;
            self.given |= bit;
        }
    }

    /// The line `attribute` was first given on. Inlined even at opt-level
    /// "z": asked for every line of an object, where the bit test nearly
    /// always answers (not given yet), and the call was most of its cost.
    #[inline(always)]
    pub fn first_line(&self, attribute: &Attribute) -> Option<u32> {
        if self.given & attribute_bit(attribute.index) == 0 {
            return None;
        }
        self.line_at(attribute.index)
    }

    pub fn line_of(&self, attribute: &str) -> Option<u32> {
        self.first_line(find(attribute.as_bytes())?)
    }

    /// [`Self::line_of`] the attribute at `index` of [`ATTRIBUTES`] (see
    /// [`index_of`]): no look-up by name.
    pub fn line_at(&self, index: usize) -> Option<u32> {
        if self.given & attribute_bit(index) == 0 {
            return None;
        }
        self.first_lines.get(index).copied()
    }

    /// Notes that `option` was set on `line`.
    fn set_option(&mut self, option: OptionId, line: u32) {
        self.option_lines.push((option, line));
        self.options_given |= options::bit(option);
    }

    /// Inlined even at opt-level "z": the checks ask this of a dozen options
    /// per object, and for most the bit test answers (a call each was more
    /// than the test).
    #[inline(always)]
    pub fn option_line(&self, option: OptionId) -> Option<u32> {
        if self.options_given & options::bit(option) == 0 {
            return None;
        }
        self.given_option_line(option)
    }

    /// Whether two or more of `options` (bits of [`options::bit`]) are set.
    #[inline(always)]
    pub fn sets_two_of(&self, options: u32) -> bool {
        let given = self.options_given & options;
        // Clearing the lowest bit leaves one when there were two.
        given & given.wrapping_sub(1) != 0
    }

    /// [`Self::option_line`] of an option whose bit is set: a search.
    fn given_option_line(&self, option: OptionId) -> Option<u32> {
        self.option_lines.iter().find(|(given, _)| *given == option).map(|&(_, line)| line)
    }
}

/// The attribute at `index` of [`ATTRIBUTES`] as a bit of [`ObjectLines`]'
/// set of those given (there are at most 64: the assertion below).
#[inline(always)]
fn attribute_bit(index: usize) -> u64 {
    1u64 << (index % 64)
}

const _: () = assert!(ATTRIBUTES.len() <= 64, "ObjectLines::given needs a wider set");

/// The object being read, as an object attribute's function gets it.
pub(crate) struct ObjectDraft<'a> {
    pub object: &'a mut Object,
    pub lines: &'a mut ObjectLines,
}

/// What an object attribute's function may look at besides the value.
pub(crate) struct ObjectContext<'a> {
    pub location: Location,
    pub strict: bool,
    pub priorities: &'a [(String, u32)],
    /// Where the value's strings are kept.
    pub values: Values<'a>,
}

type GlobalFn = fn(&mut GlobalsDraft, &str, Location) -> Result<(), ValueError>;
type ObjectFn = fn(&mut ObjectDraft, &str, &ObjectContext) -> Result<(), ValueError>;

#[derive(Clone, Copy)]
pub(crate) enum Handler {
    Global(GlobalFn),
    Object(ObjectFn),
    /// Starts an object (handled by the parser).
    ObjectId,
    /// Reads another file (handled by the parser).
    Import,
}

/// What a global attribute after the first ObjectID gets.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum AfterObjects {
    /// Only Import: Epoch allows it anywhere.
    Allowed,
    /// Epoch's "handful of others" (the globals its parser takes anywhere):
    /// accepted, but the seed calls it bad practice.
    Warning,
    Error,
}

#[derive(Clone, Copy)]
pub(crate) struct Attribute {
    pub name: &'static str,
    /// Its place in [`ATTRIBUTES`] (set by [`numbered`]).
    pub index: usize,
    pub handler: Handler,
    /// Single-valued: a second occurrence is an error.
    pub once: bool,
    /// Ours, not Epoch's: `--strict-epoch` rejects it.
    pub extension: bool,
    /// For globals only.
    pub after_objects: AfterObjects,
}

const fn global(name: &'static str, once: bool, after_objects: AfterObjects, apply: GlobalFn) -> Attribute {
    Attribute { name, index: 0, handler: Handler::Global(apply), once, extension: false, after_objects }
}

const fn extension(name: &'static str, apply: GlobalFn) -> Attribute {
    Attribute { name, index: 0, handler: Handler::Global(apply), once: true, extension: true, after_objects: AfterObjects::Error }
}

const fn object(name: &'static str, once: bool, apply: ObjectFn) -> Attribute {
    Attribute { name, index: 0, handler: Handler::Object(apply), once, extension: false, after_objects: AfterObjects::Error }
}

const fn object_extension(name: &'static str, apply: ObjectFn) -> Attribute {
    Attribute { name, index: 0, handler: Handler::Object(apply), once: true, extension: true, after_objects: AfterObjects::Error }
}

use AfterObjects::{Error as NotAfter, Warning as WarnAfter};

pub(crate) const ATTRIBUTES: &[Attribute] = &numbered([
    // Globals.
    Attribute { name: "Import", index: 0, handler: Handler::Import, once: false, extension: false, after_objects: AfterObjects::Allowed },
    global("DefaultRunlevel", true, NotAfter, |g, v, _| {
        name(v, "a runlevel name")?;
        g.globals.default_runlevel = v.to_string();
        Ok(())
    }),
    global("RunlevelInherits", false, WarnAfter, runlevel_inherits),
    global("DefinePriority", false, NotAfter, define_priority),
    global("DisableCAD", true, WarnAfter, |g, v, _| set(&mut g.globals.disable_cad, parse_bool(v)?)),
    global("BootBannerText", true, WarnAfter, |g, v, _| {
        g.globals.boot_banner = if v == "NONE" { None } else { Some(text_or_file(v)?) };
        Ok(())
    }),
    global("BootBannerColor", true, WarnAfter, |g, v, _| set(&mut g.globals.boot_banner_color, color(v)?)),
    global("Hostname", true, NotAfter, |g, v, _| set(&mut g.globals.hostname, Some(host_name(v)?))),
    global("Domainname", true, NotAfter, |g, v, _| set(&mut g.globals.domainname, Some(host_name(v)?))),
    global("MountVirtual", false, WarnAfter, mount_virtual),
    global("EnableLogging", true, WarnAfter, |g, v, _| set(&mut g.globals.enable_logging, parse_bool(v)?)),
    global("BlankLogOnBoot", true, WarnAfter, |g, v, _| set(&mut g.globals.blank_log_on_boot, parse_bool(v)?)),
    global("GlobalEnvVar", false, WarnAfter, |g, v, _| add_env(v, || &mut g.globals.env, str::to_string)),
    global("StartingStatusFormat", true, NotAfter, |g, v, _| set(&mut g.globals.starting_status_format, Some(format_text(v)?))),
    global("FinishedStatusFormat", true, NotAfter, |g, v, _| set(&mut g.globals.finished_status_format, Some(format_text(v)?))),
    global("StatusNames", true, NotAfter, |g, v, _| set(&mut g.globals.status_names, Some(status_names(v)?))),
    // Our extensions.
    extension("StartTimeout", |g, v, _| set(&mut g.globals.start_timeout, Some(parse_u32(v)?))),
    extension("StopCommandTimeout", |g, v, _| set(&mut g.globals.stop_command_timeout, Some(parse_u32(v)?))),
    extension("IocDirectory", |g, v, _| set(&mut g.globals.ioc.directory, absolute_path(v)?)),
    extension("IocGroup", |g, v, _| {
        account_name(v, "a group")?;
        set(&mut g.globals.ioc.group, v.to_string())
    }),
    extension("IocUser", |g, v, _| {
        account_name(v, "a user")?;
        set(&mut g.globals.ioc.user, v.to_string())
    }),
    extension("IocSocketUser", |g, v, _| {
        account_name(v, "a user")?;
        set(&mut g.globals.ioc.socket_user, Some(v.to_string()))
    }),
    extension("IocStartPriority", |g, v, at| {
        one_word(v, "a number or a DefinePriority name")?;
        set(&mut g.ioc_start_priority, Some((v.to_string(), at)))
    }),
    extension("IocStopPriority", |g, v, at| {
        one_word(v, "a number or a DefinePriority name")?;
        set(&mut g.ioc_stop_priority, Some((v.to_string(), at)))
    }),
    extension("IocRunlevels", |g, v, _| set(&mut g.globals.ioc.runlevels, runlevel_list(v)?)),
    extension("IocLogDirectory", |g, v, _| set(&mut g.globals.ioc.log_directory, absolute_path(v)?)),
    extension("IocStateDirectory", |g, v, _| set(&mut g.globals.ioc.state_directory, absolute_path(v)?)),
    extension("IocLogMaxSize", |g, v, _| set(&mut g.globals.ioc.log_max_bytes, byte_size(v)?)),
    extension("IocLogKeep", |g, v, _| set(&mut g.globals.ioc.log_keep, parse_u32(v)?)),
    extension("IocHoldoff", |g, v, _| set(&mut g.globals.ioc.holdoff_secs, parse_u32(v)?)),
    extension("ProcServ", |g, v, _| set(&mut g.globals.ioc.procserv, program(v)?)),
    extension("IocEnabled", |g, v, _| set(&mut g.globals.ioc.enabled, parse_bool(v)?)),
    extension("PIDFileTimeout", |g, v, _| set(&mut g.globals.pid_file_timeout, Some(parse_u32(v)?))),
    extension("RestartFastFailure", |g, v, _| set(&mut g.globals.restart_fast_failure, Some(at_least_one(v)?))),
    extension("RestartCrashLimit", |g, v, _| set(&mut g.globals.restart_crash_limit, Some(at_least_one(v)?))),
    // Objects.
    Attribute { name: "ObjectID", index: 0, handler: Handler::ObjectId, once: false, extension: false, after_objects: AfterObjects::Allowed },
    object("ObjectDescription", true, |o, v, c| set(&mut o.object.description, c.values.keep(v))),
    object("ObjectReloadCommand", true, |o, v, c| {
        let reload = reload_method(v, c)?;
        set(&mut o.object.rare_mut().reload, Some(reload))
    }),
    object("ObjectPrestartCommand", true, |o, v, c| set(&mut o.object.rare_mut().prestart, Some(c.values.keep(v)))),
    object("ObjectStartCommand", true, |o, v, c| set(&mut o.object.start, Some(c.values.keep(v)))),
    object("ObjectStopCommand", true, |o, v, c| set(&mut o.object.stop, stop_method(v, c)?)),
    object("ObjectStartPriority", true, |o, v, c| set(&mut o.object.start_priority, priority(v, c.priorities)?)),
    object("ObjectStopPriority", true, |o, v, c| set(&mut o.object.stop_priority, priority(v, c.priorities)?)),
    object("ObjectPIDFile", true, |o, v, c| set(&mut o.object.rare_mut().pid_file, Some(c.values.keep_path(v)))),
    object("ObjectWorkingDirectory", true, |o, v, c| set(&mut o.object.rare_mut().working_directory, Some(c.values.keep_path(v)))),
    object("ObjectUser", true, |o, v, c| {
        account_name(v, "a user")?;
        set(&mut o.object.rare_mut().user, Some(c.values.keep(v)))
    }),
    object("ObjectGroup", true, |o, v, c| {
        account_name(v, "a group")?;
        set(&mut o.object.rare_mut().group, Some(c.values.keep(v)))
    }),
    object("ObjectStdout", true, |o, v, c| set(&mut o.object.rare_mut().stdout, Some(output(v, c.values)))),
    object("ObjectStderr", true, |o, v, c| set(&mut o.object.rare_mut().stderr, Some(output(v, c.values)))),
    // The list asked for once the value is checked, so that a bad value makes no box.
    object("ObjectEnvVar", false, |o, v, c| add_env(v, || &mut o.object.rare_mut().env, |v| c.values.keep(v))),
    object("ObjectEnabled", true, |o, v, c| {
        o.object.enabled_line = NonZeroU32::new(c.location.line);
        set(&mut o.object.enabled, parse_bool(v)?)
    }),
    object("ObjectRunlevels", true, object_runlevels),
    object("ObjectOptions", false, object_options),
    // Our extensions (config::process): the start command's limits and scheduling.
    object_extension("ObjectRtPrio", |o, v, _| process_setting(o, Setting::RtPrio, v)),
    object_extension("ObjectMemLock", |o, v, _| process_setting(o, Setting::MemLock, v)),
    object_extension("ObjectCoreSize", |o, v, _| process_setting(o, Setting::CoreSize, v)),
    object_extension("ObjectNice", |o, v, _| process_setting(o, Setting::Nice, v)),
    object_extension("ObjectUmask", |o, v, _| process_setting(o, Setting::Umask, v)),
    object_extension("ObjectCPUs", |o, v, _| process_setting(o, Setting::Cpus, v)),
]);

/// The index in [`ATTRIBUTES`] of the attribute named `name`, for a
/// constant: a question the parser asks of every object is then no look-up
/// by name, and a misspelt name fails the build.
pub(crate) const fn index_of(name: &str) -> usize {
    let mut i = 0;
    while i < ATTRIBUTES.len() {
        if options::same(ATTRIBUTES[i].name.as_bytes(), name.as_bytes()) {
            return i;
        }
        i += 1;
    }
    panic!("no such attribute")
}

/// The table with each attribute's [`Attribute::index`] set.
const fn numbered<const N: usize>(mut table: [Attribute; N]) -> [Attribute; N] {
    let mut i = 0;
    while i < N {
        table[i].index = i;
        i += 1;
    }
    table
}

/// Slots of [`BY_NAME`]: 256, the values of the top byte of a `u64` that
/// [`slot_of`] takes.
const SLOTS: usize = 256;

/// The multiplier of [`slot_of`]: one of those, found by a search, that
/// give each attribute a slot of its own ([`BY_NAME`] is refused at compile
/// time otherwise: choose another odd number, or another key).
const MIX: u64 = 0xe74b_7fb6_9936_ee95;

/// The slot of [`BY_NAME`] of `name` (two bytes or more): its first byte,
/// its last two and its length in a word, mixed by one multiplication, and
/// the top byte of the product. Three bytes, not a loop over the whole name
/// (a hash of every byte was most of a look-up's time), and no two
/// attributes in one slot: a look-up probes one slot, where one of each
/// five lines probed a second when the slots were shared. Inlined even at
/// opt-level "z", as [`find`] is.
#[inline(always)]
const fn slot_of(name: &[u8]) -> usize {
    let len = name.len();
    let key = name[0] as u64 | (name[len - 2] as u64) << 8 | (name[len - 1] as u64) << 16 | (len as u64) << 24;
    (key.wrapping_mul(MIX) >> 56) as usize
}

/// A table from a name's slot to its attribute's index plus one (0:
/// empty), built at compile time: every line of a configuration looks its
/// attribute up, and a scan of the table compared dozens of names.
static BY_NAME: [u8; SLOTS] = {
    assert!(ATTRIBUTES.len() < u8::MAX as usize);
    let mut table = [0u8; SLOTS];
    let mut i = 0;
    while i < ATTRIBUTES.len() {
        let slot = slot_of(ATTRIBUTES[i].name.as_bytes());
        assert!(table[slot] == 0, "two attributes share a slot of BY_NAME: change MIX");
        table[slot] = i as u8 + 1;
        i += 1;
    }
    table
};

/// The attribute spelled exactly `name` (Epoch compares names case-sensitively).
/// Inlined even at opt-level "z": every line looks its attribute up, and
/// the call's prologue and epilogue were a fifth of a look-up.
#[inline(always)]
pub(crate) fn find(name: &[u8]) -> Option<&'static Attribute> {
    if name.len() < 2 {
        return None; // No attribute's name is that short (and slot_of needs two bytes).
    }
    let attribute = ATTRIBUTES.get(usize::from(*BY_NAME.get(slot_of(name))?).checked_sub(1)?)?;
    same_bytes(attribute.name.as_bytes(), name).then_some(attribute)
}

/// The attribute a misspelling in letter case most likely meant.
pub(crate) fn case_insensitive_match(name: &str) -> Option<&'static str> {
    ATTRIBUTES.iter().find(|a| a.name.eq_ignore_ascii_case(name)).map(|a| a.name)
}

/// Sets one of the object's process settings (made when the first is given).
fn process_setting(o: &mut ObjectDraft, setting: Setting, value: &str) -> Result<(), ValueError> {
    o.object.process.get_or_insert_default().set(setting, value)
}

/// Assigns a parsed value: the table's handlers end with it.
fn set<T>(slot: &mut T, value: T) -> Result<(), ValueError> {
    *slot = value;
    Ok(())
}

/// ObjectRunlevels: checked unless it is one of the lists checked lately.
fn object_runlevels(o: &mut ObjectDraft, value: &str, c: &ObjectContext) -> Result<(), ValueError> {
    let lines = &mut *o.lines;
    let new = !lines.recent_runlevels.contains(value);
    let list = c.values.keep(if new { checked_runlevels(value)? } else { value });
    if new {
        lines.recent_runlevels.keep(&list);
        lines.names_new_runlevels = true;
    }
    set(&mut o.object.runlevels, Runlevels(list))
}

/// The runlevel lists that passed [`checked_runlevels`] last, kept from
/// object to object as the objects keep them (a string of the file's
/// text: no copy, no bound on a list's length): objects mostly share a few
/// lists, and a list the same as one of these is not checked again (a
/// compare of lengths and one of bytes, where the check was about 235
/// instructions a list of the config_parse bench, and, done word by word,
/// grows with the square of a list's words) and is not new.
#[derive(Debug, Clone)]
struct RecentLists {
    /// The lists, the oldest replaced. A place never used holds the empty
    /// list, which no ObjectRunlevels gives (an empty value is refused
    /// before the handler).
    lists: [SharedStr; RecentLists::LISTS],
    /// How many lists were kept: the next one goes to this, modulo their number.
    kept: usize,
}

impl RecentLists {
    const LISTS: usize = 8;
    const EMPTY: RecentLists = RecentLists { lists: [SharedStr::EMPTY; Self::LISTS], kept: 0 };

    fn contains(&self, list: &str) -> bool {
        // A loop, not `any`: at opt-level "z" its closure may stay a call.
        // The lengths first: they are read, where a string's text is cut.
        for kept in &self.lists {
            if kept.len() == list.len() && kept.as_str() == list {
                return true;
            }
        }
        false
    }

    fn keep(&mut self, list: &SharedStr) {
        if let Some(place) = self.lists.get_mut(self.kept % Self::LISTS) {
            *place = list.clone();
            self.kept += 1;
        }
    }
}

/// `value` when it lists runlevels: names, each once.
fn checked_runlevels(value: &str) -> Result<&str, ValueError> {
    // Each word against those before it: only a list that is none of the
    // recent ones ([`RecentLists`]) comes here, and most lists are a few words.
    for (k, runlevel) in words(value).enumerate() {
        name(runlevel, "a runlevel name")?;
        if words(value).take(k).any(|r| r == runlevel) {
            return Err(format!("runlevel {} is listed twice: expected each runlevel once", Quoted::text(runlevel)));
        }
    }
    Ok(value)
}

/// The runlevels of `value`, each as a string of its own.
fn runlevel_list(value: &str) -> Result<Vec<String>, ValueError> {
    let mut list = Vec::with_capacity(ascii_word_count(value));
    list.extend(words(checked_runlevels(value)?).map(str::to_string));
    Ok(list)
}

fn runlevel_inherits(g: &mut GlobalsDraft, value: &str, at: Location) -> Result<(), ValueError> {
    let mut listed = words(value);
    let (Some(runlevel), Some(inherited), None) = (listed.next(), listed.next(), listed.next()) else {
        return Err(format!("expected two runlevel names, `RunlevelInherits runlevel inherited`, {}", got(value)));
    };
    name(runlevel, "a runlevel name")?;
    name(inherited, "a runlevel name")?;
    if runlevel == inherited {
        return Err(format!("runlevel {} cannot inherit itself: expected two different runlevels", Quoted::text(runlevel)));
    }
    if !g.inherits.iter().any(|i| i.runlevel == runlevel && i.inherited == inherited) {
        g.inherits.push(Inheritance { runlevel: runlevel.to_string(), inherited: inherited.to_string(), at });
    }
    Ok(())
}

fn define_priority(g: &mut GlobalsDraft, value: &str, _: Location) -> Result<(), ValueError> {
    let (alias, number) = split_word(value);
    let expected = "expected `DefinePriority name number` with a name that is not a number";
    if number.is_empty() || digits(alias).is_some() || has_whitespace(number) {
        return Err(format!("{expected}, {}", got(value)));
    }
    name(alias, "a priority name")?;
    let number = parse_u32(number)?;
    if g.globals.priorities.iter().any(|(n, _)| n == alias) {
        return Err(format!("priority name {} is defined twice: expected each name once", Quoted::text(alias)));
    }
    g.globals.priorities.push((alias.to_string(), number));
    Ok(())
}

/// A start or stop priority: a number, or a name from DefinePriority.
pub(crate) fn priority(value: &str, priorities: &[(String, u32)]) -> Result<u32, ValueError> {
    // A number's digits are checked and summed once (by `decimal`); one
    // too large gets parse_u32's message, after the names (a name is never
    // all digits: `define_priority`), so that a name is not looked at again.
    // A name (most values) is not handed to `decimal`, a call, to be
    // refused at its first byte.
    if let Some(number) = value.as_bytes().first().filter(|b| b.is_ascii_digit()).and_then(|_| decimal(value)) {
        return u32::try_from(number).or_else(|_| parse_u32(value));
    }
    // Lengths first: a compare of names is a call.
    match priorities.iter().find(|(n, _)| n.len() == value.len() && n == value) {
        Some(&(_, number)) => Ok(number),
        None if digits(value).is_some() => parse_u32(value),
        None => Err(format!("expected a number or a DefinePriority name, {}", got(value))),
    }
}

/// `FILE path`, or `None` when the value is not of that form.
fn file_path(value: &str) -> Result<Option<PathBuf>, ValueError> {
    match value.strip_prefix("FILE") {
        Some("") => Err("expected a path after FILE".into()),
        Some(rest) if rest.starts_with([' ', '\t']) => Ok(Some(PathBuf::from(trim_start_blanks(rest)))),
        _ => Ok(None),
    }
}

fn text_or_file(value: &str) -> Result<Text, ValueError> {
    Ok(match file_path(value)? {
        Some(path) => Text::File(path),
        None => Text::Literal(value.to_string()),
    })
}

/// A status format: `FILE path`, or text whose blanks at either end matter
/// (` * [!TITLE!] `): written between double quotes, as seed 003's own
/// example is, they are kept (a line loses its trailing blanks otherwise).
fn format_text(value: &str) -> Result<Text, ValueError> {
    match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        Some(inner) if value.len() >= 2 => Ok(Text::Literal(inner.to_string())),
        _ => text_or_file(value),
    }
}

/// A literal host or domain name is checked now; one from a file at boot.
fn host_name(value: &str) -> Result<Text, ValueError> {
    let text = text_or_file(value)?;
    if let Text::Literal(name) = &text {
        let valid = name.len() <= 64
            && !name.starts_with(['-', '.'])
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
        if !valid {
            return Err(format!(
                "expected a host name of letters, digits, `-` and `.` (at most 64), or FILE path, {}",
                got(value)
            ));
        }
    }
    Ok(text)
}

const COLORS: &[(&str, Color)] = &[
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

fn color(value: &str) -> Result<Color, ValueError> {
    COLORS.iter().find(|(n, _)| *n == value).map(|&(_, c)| c).ok_or_else(|| {
        let names: Vec<&str> = COLORS.iter().map(|(n, _)| *n).collect();
        format!("expected one of {}, {}", names.join(", "), got(value))
    })
}

const VIRTUAL_FILESYSTEMS: &[(&str, VirtualFs)] = &[
    ("devfs", VirtualFs::Dev),
    ("devpts", VirtualFs::DevPts),
    ("devshm", VirtualFs::DevShm),
    ("procfs", VirtualFs::Proc),
    ("sysfs", VirtualFs::Sys),
];

fn mount_virtual(g: &mut GlobalsDraft, value: &str, _: Location) -> Result<(), ValueError> {
    for word in words(value) {
        let (fs_name, create_dir) = match word.strip_suffix('+') {
            Some(base) => (base, true),
            None => (word, false),
        };
        let Some(&(_, fs)) = VIRTUAL_FILESYSTEMS.iter().find(|(n, _)| *n == fs_name) else {
            return Err(format!("expected devfs, devpts, devshm, procfs or sysfs, each optionally with `+`, {}", got(word)));
        };
        if g.globals.mount_virtual.iter().any(|m| m.fs == fs) {
            return Err(format!("{fs_name} is listed twice: expected each filesystem once"));
        }
        g.globals.mount_virtual.push(VirtualMount { fs, create_dir });
    }
    Ok(())
}

/// Adds `value`, a `NAME=value`, to the list `list` gives, as `keep` keeps it.
fn add_env<'l, T: AsRef<str> + 'l>(value: &str, list: impl FnOnce() -> &'l mut Vec<T>, keep: impl Fn(&str) -> T) -> Result<(), ValueError> {
    let variable = env_assignment(value)?;
    let list = list();
    if list.iter().any(|e| e.as_ref().split_once('=').map(|(n, _)| n) == Some(variable)) {
        return Err(format!("variable {variable} is set twice: expected each variable once"));
    }
    list.push(keep(value));
    Ok(())
}

/// `Fail,Ok,Warning` inline (trailing blanks of each name dropped), or `FILE path`.
fn status_names(value: &str) -> Result<StatusNamesSource, ValueError> {
    if let Some(path) = file_path(value)? {
        return Ok(StatusNamesSource::File(path));
    }
    let names: Vec<&str> = value.split(',').map(str::trim_ascii_end).collect();
    match names.as_slice() {
        [fail, ok, warning] if !fail.is_empty() && !ok.is_empty() && !warning.is_empty() => {
            Ok(StatusNamesSource::Inline(StatusNames { fail: fail.to_string(), ok: ok.to_string(), warning: warning.to_string() }))
        }
        _ => Err(format!("expected FailName,OkName,WarningName or FILE path, {}", got(value))),
    }
}

/// A count or a number of seconds that must be at least 1 (the restart
/// policy: 0 would turn the crash-loop backoff off).
fn at_least_one(value: &str) -> Result<u32, ValueError> {
    match parse_u32(value) {
        Ok(0) => Err(format!("expected a number of at least 1, {}", got(value))),
        other => other,
    }
}

fn absolute_path(value: &str) -> Result<PathBuf, ValueError> {
    if Path::new(value).is_absolute() {
        Ok(PathBuf::from(value))
    } else {
        Err(format!("expected an absolute path, {}", got(value)))
    }
}

/// An executable: an absolute path, or a bare name looked up in PATH.
fn program(value: &str) -> Result<PathBuf, ValueError> {
    one_word(value, "a program")?;
    if value.starts_with('/') || !value.contains('/') {
        Ok(PathBuf::from(value))
    } else {
        Err(format!("expected an absolute path or a program name found in PATH, {}", got(value)))
    }
}

/// `n`, `nK` or `nM` bytes.
fn byte_size(value: &str) -> Result<u64, ValueError> {
    let (number, unit) = match value.strip_suffix('K') {
        Some(n) => (n, 1 << 10),
        None => match value.strip_suffix('M') {
            Some(n) => (n, 1 << 20),
            None => (value, 1),
        },
    };
    parse_u32(number)
        .map(|n| u64::from(n) * unit)
        .map_err(|_| format!("expected a size in bytes: a number optionally followed by K or M, {}", got(value)))
}

fn output(value: &str, values: Values) -> Output {
    if value == "LOG" {
        Output::Log
    } else {
        Output::File(values.keep_path(value))
    }
}

fn no_more(keyword: &str, rest: &str) -> Result<(), ValueError> {
    if rest.is_empty() {
        Ok(())
    } else {
        Err(format!("expected nothing after {keyword}, {}", got(rest)))
    }
}

fn stop_method(value: &str, c: &ObjectContext) -> Result<StopMethod, ValueError> {
    let strict = c.strict;
    // Every keyword starts with N, P or K: a command (a path, most often)
    // is not split at its first blank to be compared with none.
    if !matches!(value.as_bytes().first(), Some(b'N' | b'P' | b'K')) {
        return Ok(StopMethod::Command(c.values.keep(value)));
    }
    let (word, rest) = split_word(value);
    // By length first: each keyword has its own, and a compare of words is
    // a call (four for a command).
    match (word.len(), word) {
        (4, "NONE") => no_more(word, rest).map(|_| StopMethod::None),
        (3, "PID") => no_more(word, rest).map(|_| StopMethod::Pid),
        (7, "PIDFILE") => Ok(StopMethod::PidFile((!rest.is_empty()).then(|| c.values.keep_path(rest)))),
        (8, "KILLALL5") => {
            let mut listed = words(rest);
            let (first, second) = (listed.next(), listed.next());
            if listed.next().is_some() {
                return Err(format!("expected KILLALL5 [signal] [seconds], {}", got(value)));
            }
            let signal = first.map(|s| signal(s, strict)).transpose()?;
            let wait_secs = second.map(parse_u32).transpose()?;
            Ok(StopMethod::Killall5 { signal, wait_secs })
        }
        _ => Ok(StopMethod::Command(c.values.keep(value))),
    }
}

fn reload_method(value: &str, c: &ObjectContext) -> Result<ReloadMethod, ValueError> {
    let strict = c.strict;
    match split_word(value) {
        ("SIGNAL", rest) => {
            one_word(rest, "one signal")?;
            if rest.is_empty() {
                return Err("expected a signal after SIGNAL, e.g. `SIGNAL SIGHUP`".into());
            }
            Ok(ReloadMethod::Signal(signal(rest, strict)?))
        }
        _ => Ok(ReloadMethod::Command(c.values.keep(value))),
    }
}

fn object_options(o: &mut ObjectDraft, value: &str, c: &ObjectContext) -> Result<(), ValueError> {
    let lines = &mut *o.lines;
    options::apply_words(&mut o.object.options, value, c.strict, |option| lines.set_option(option, c.location.line))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_found_exactly() {
        for (i, a) in ATTRIBUTES.iter().enumerate() {
            assert!(ATTRIBUTES[..i].iter().all(|b| b.name != a.name), "{} twice", a.name);
            assert!(find(a.name.as_bytes()).is_some());
        }
        assert!(find(b"objectid").is_none());
        // Shorter than any attribute: the empty name and one byte never
        // reach slot_of; a two-byte name (here one non-ASCII character)
        // does, and is no attribute either.
        assert!(find(b"").is_none() && find(b"O").is_none() && find("é".as_bytes()).is_none());
        // A name that differs from an attribute's in any one byte is not it.
        for a in ATTRIBUTES {
            for at in 0..a.name.len() {
                let mut misspelt = a.name.as_bytes().to_vec();
                misspelt[at] ^= 0x20;
                assert!(!same_bytes(a.name.as_bytes(), &misspelt), "{} {at}", a.name);
                assert!(same_bytes(a.name.as_bytes(), a.name.as_bytes()));
            }
        }
        for len in 0..30 {
            let name = vec![b'x'; len];
            assert!(same_bytes(&name, &name) && !same_bytes(&name, &[b'x'; 30][..len + 1]), "{len}");
        }
        assert_eq!(case_insensitive_match("OBJECTID"), Some("ObjectID"));
        for setting in Setting::ALL {
            let attribute = find(setting.attribute().as_bytes()).unwrap_or_else(|| panic!("{setting:?}"));
            assert!(attribute.extension && matches!(attribute.handler, Handler::Object(_)), "{setting:?}");
        }
    }

    /// A new object forgets the lines of the one before (only the bits of
    /// the attributes given are cleared, not the lines), and the first line
    /// of an attribute given twice is the one kept.
    #[test]
    fn object_lines_are_forgotten_for_each_object() {
        let description = find(b"ObjectDescription").unwrap();
        let start = find(b"ObjectStartCommand").unwrap();
        let mut lines = ObjectLines::empty();
        lines.saw(description, 3);
        lines.saw(description, 5);
        lines.saw(start, 4);
        assert_eq!((lines.first_line(description), lines.first_line(start)), (Some(3), Some(4)));
        lines.reset();
        assert_eq!((lines.first_line(description), lines.first_line(start)), (None, None));
        lines.saw(start, 9);
        assert_eq!((lines.first_line(description), lines.line_of("ObjectStartCommand")), (None, Some(9)));
    }

    /// Every word of an ObjectOptions line is applied, those after a bad
    /// one too, and each problem is said, in order, joined by `; `.
    #[test]
    fn option_problems_are_joined_and_the_other_words_applied() {
        let (mut object, mut lines) = (Object::EMPTY, ObjectLines::empty());
        let context = ObjectContext { location: Location { file: 0, line: 7 }, strict: false, priorities: &[], values: Values::default() };
        let mut apply = |value| object_options(&mut ObjectDraft { object: &mut object, lines: &mut lines }, value, &context);
        assert_eq!(
            apply("FOO SERVICE FORK=1 STOPTIMEOUT=5"),
            Err(format!("unknown option \"FOO\": expected one of {}; option FORK takes no value, got \"FORK=1\"", options::NAMES.join(", ")))
        );
        assert_eq!(apply(" AUTORESTART\t"), Ok(()));
        assert!(object.options.service && object.options.autorestart && !object.options.fork);
        assert_eq!(object.options.stop_timeout, Some(5));
        let set = [(options::id("SERVICE"), 7), (options::id("STOPTIMEOUT"), 7), (options::id("AUTORESTART"), 7)];
        assert_eq!(lines.option_lines, set);
    }

    /// A number is read once; one too large for a priority, even for the
    /// sum of its digits, says so as before; a name is looked up.
    #[test]
    fn priorities_are_numbers_or_defined_names() {
        let defined = [("net".to_string(), 2)];
        assert_eq!(priority("0", &defined), Ok(0));
        assert_eq!(priority("4294967295", &defined), Ok(u32::MAX));
        assert_eq!(priority("net", &defined), Ok(2));
        for too_large in ["4294967296", "123456789012345678901234567890"] {
            assert_eq!(priority(too_large, &defined), Err(format!("expected a number from 0 to 4294967295, got {too_large:?}")));
        }
        assert_eq!(priority("2x", &defined), Err("expected a number or a DefinePriority name, got \"2x\"".into()));
    }

    /// ObjectStopCommand reads a value as before, when its first word was
    /// split off and compared with each keyword whatever its first byte.
    fn assert_stop_read_as_split(value: &str) {
        let context = ObjectContext { location: Location { file: 0, line: 1 }, strict: false, priorities: &[], values: Values::default() };
        let (word, rest) = split_word(value);
        let split = match word {
            "NONE" => no_more(word, rest).map(|_| StopMethod::None),
            "PID" => no_more(word, rest).map(|_| StopMethod::Pid),
            "PIDFILE" => Ok(StopMethod::PidFile((!rest.is_empty()).then(|| context.values.keep_path(rest)))),
            "KILLALL5" => (|| {
                let mut listed = words(rest);
                let (first, second) = (listed.next(), listed.next());
                if listed.next().is_some() {
                    return Err(format!("expected KILLALL5 [signal] [seconds], {}", got(value)));
                }
                let signal = first.map(|s| signal(s, false)).transpose()?;
                let wait_secs = second.map(parse_u32).transpose()?;
                Ok(StopMethod::Killall5 { signal, wait_secs })
            })(),
            _ => Ok(StopMethod::Command(context.values.keep(value))),
        };
        assert_eq!(stop_method(value, &context), split, "{value:?}");
    }

    #[test]
    fn stop_commands_are_read_as_split() {
        for value in ["", "PID", "PID x", "PIDX", "PIDFILE", "PIDFILE /run/a.pid", "NONE", "NONE x", "KILLALL5 15 2", "KILLALL5 1 2 3", "/usr/sbin/svcctl stop", " PID", "\tNONE"] {
            assert_stop_read_as_split(value);
        }
    }

    proptest::proptest! {
        #[test]
        fn stop_commands_are_read_as_split_for_any_text(value in "[ \tNPK/]?(NONE|PID|PIDFILE|KILLALL5)?[ \tXé1]{0,3}(15|x)?|(?s).{0,12}") {
            assert_stop_read_as_split(&value);
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(byte_size("0"), Ok(0));
        assert_eq!(byte_size("10K"), Ok(10 << 10));
        assert_eq!(byte_size("4294967295M"), Ok(u64::from(u32::MAX) << 20));
        for bad in ["", "K", "1G", "1k", "-1M", "1 M"] {
            assert!(byte_size(bad).is_err(), "{bad}");
        }
    }

    /// The recent lists hold the last eight lists kept, of any length, by
    /// their exact bytes (and the empty list before any).
    #[test]
    fn recent_lists_hold_the_last_ones_kept() {
        let mut recent = RecentLists::EMPTY;
        assert!(recent.contains("") && !recent.contains("default"));
        let mut lists: Vec<String> = (0..RecentLists::LISTS).map(|k| format!("default rl{k}")).collect();
        lists.insert(2, "r".repeat(200));
        lists.push("multiuser".into());
        for (k, list) in lists.iter().enumerate() {
            recent.keep(&SharedStr::from(list));
            let held: Vec<bool> = lists.iter().map(|l| recent.contains(l)).collect();
            let expected: Vec<bool> = (0..lists.len()).map(|j| j <= k && k - j < RecentLists::LISTS).collect();
            assert_eq!(held, expected, "after {list}");
        }
        assert!(!recent.contains("default rl") && !recent.contains("default rl7 ") && !recent.contains(""));
    }
}
