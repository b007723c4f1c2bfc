//! Reads `epoch.conf` and its Imports: walks the statements of each file,
//! dispatches them through the attribute table, keeps track of the current
//! object and of the Import chain, and assembles globals, objects and
//! runlevels. Every problem becomes a diagnostic; parsing always goes on.

use std::path::{Path, PathBuf};

use super::attributes::{self, AfterObjects, GlobalsDraft, Handler, ObjectContext, ObjectDraft, ObjectLines};
use super::checks::{self, Finding};
use super::ids::IdIndex;
use super::lines::{Statement, Statements};
use super::model::{Config, Console, CountedStrings, Location, Object, Runlevel, MAX_RUNLEVELS};
use super::shared::{FileText, Values};
use super::source::FileSource;
use super::values::name;
use super::Diagnostic;

/// Imports nested deeper than this are refused (a guard for PID 1's stack).
const MAX_IMPORT_DEPTH: usize = 32;

/// `epoch.conf` and its Imports, read but not yet joined with the IOC files.
pub(crate) struct Parsed {
    pub config: Config,
    pub diagnostics: Vec<Diagnostic>,
    /// The runlevels the IOC objects get (IocRunlevels, or the default runlevel).
    pub ioc_runlevels: Vec<String>,
    /// The ObjectIDs of `config`, for the IOC files' names.
    pub declared: IdIndex,
    /// The bytes of the strings of `config`'s objects, for packing them.
    pub strings: CountedStrings,
}

/// Parses the main file `text` (read from `main`) and everything it imports.
pub(crate) fn parse(source: &dyn FileSource, main: &Path, text: Vec<u8>, strict: bool) -> Parsed {
    let mut parser = Parser {
        source,
        strict,
        config_dir: main.parent().map(Path::to_path_buf).unwrap_or_default(),
        files: vec![main.to_path_buf()],
        identities: vec![source.identity(main)],
        imported_at: vec![None],
        chain: Vec::new(),
        diagnostics: Vec::new(),
        globals: GlobalsDraft::default(),
        objects: ObjectList::default(),
        lines: ObjectLines::empty(),
        object_open: false,
        new_runlevel_lists: Vec::new(),
        first_object: None,
        declared: IdIndex::default(),
        findings: Vec::new(),
        string_bytes: 0,
        strings_counted: true,
    };
    if strict {
        // Epoch has no start timeout and lets a stop command run for as
        // long as it takes, and --strict-epoch refuses the StartTimeout and
        // StopCommandTimeout that could set them: keep Epoch's behaviour.
        parser.globals.globals.start_timeout = Some(0);
        parser.globals.globals.stop_command_timeout = Some(0);
    }
    parser.parse_file(0, text);
    parser.finish()
}

struct Parser<'a> {
    source: &'a dyn FileSource,
    strict: bool,
    /// Relative Imports are found here: the directory of the main file.
    config_dir: PathBuf,
    files: Vec<PathBuf>,
    /// Per file: the name that is the same for every path to it.
    identities: Vec<PathBuf>,
    /// Per file: the Import line that brought it in (`None` for the main file).
    imported_at: Vec<Option<Location>>,
    /// The Import lines being followed right now, outermost first.
    chain: Vec<Location>,
    diagnostics: Vec<Diagnostic>,
    globals: GlobalsDraft,
    /// The objects read, and when `object_open` the one being read (the
    /// last), built in place.
    objects: ObjectList,
    /// What is noted of the object being read, when `object_open`.
    lines: ObjectLines,
    object_open: bool,
    /// Per object whose runlevel list is not one of those listed by objects
    /// shortly before it ([`ObjectLines::names_new_runlevels`]), noted when
    /// it closes: its place in `objects` and its ObjectRunlevels line, where
    /// its runlevels are named. Objects mostly share a few lists: nothing
    /// is noted of the others, and their lists are not walked again.
    new_runlevel_lists: Vec<(usize, Location)>,
    first_object: Option<Location>,
    /// Where each ObjectID was declared, to find duplicates.
    declared: IdIndex,
    /// What the checks find of the object being closed (most objects:
    /// nothing, and no list made and dropped for them).
    findings: Vec<Finding>,
    /// The bytes of the strings of `objects`: each file's values kept
    /// ([`FileText::kept`]), and the IDs that are descriptions too.
    string_bytes: usize,
    /// Whether `string_bytes` counts every string: a file that is not
    /// UTF-8 has no [`FileText`] to count its values (copied), and then
    /// packing sums them all.
    strings_counted: bool,
}

impl Parser<'_> {
    fn error(&mut self, at: Location, message: impl Into<String>) {
        let path = self.path(at.file);
        self.diagnostics.push(Diagnostic::error(path, at.line, message));
    }

    fn warning(&mut self, at: Location, message: impl Into<String>) {
        let path = self.path(at.file);
        self.diagnostics.push(Diagnostic::warning(path, at.line, message));
    }

    fn report(&mut self, findings: Vec<Finding>) {
        // Most objects have none: no walk of an empty list (a call or two
        // per object at opt-level "z").
        if findings.is_empty() {
            return;
        }
        for finding in findings {
            match finding.severity {
                super::Severity::Error => self.error(finding.at, finding.message),
                super::Severity::Warning => self.warning(finding.at, finding.message),
            }
        }
    }

    fn path(&self, file: usize) -> PathBuf {
        self.files.get(file).cloned().unwrap_or_default()
    }

    fn place(&self, at: Location) -> String {
        super::place(&self.files, at)
    }

    /// One file: its values are ranges of its text (see config::shared).
    fn parse_file(&mut self, file: usize, text: Vec<u8>) {
        let text = FileText::new(text);
        let (statements, values) = match &text {
            Ok(text) => (Statements::of_text(text.as_str()), Values::of(Some(text))),
            // Its lines that are not UTF-8 are errors; the others' values are copied.
            Err(bytes) => (Statements::new(bytes), Values::default()),
        };
        for item in statements {
            match item {
                Ok(statement) => self.statement(file, statement, values),
                Err((line, message)) => self.error(Location { file, line }, message),
            }
        }
        match &text {
            Ok(text) => self.string_bytes = self.string_bytes.saturating_add(text.kept()),
            Err(_) => self.strings_counted = false,
        }
        // Objects must be completed within their file.
        self.close_object();
    }

    fn statement(&mut self, file: usize, statement: Statement, values: Values) {
        let at = Location { file, line: statement.line };
        let Some(attribute) = attributes::find(statement.name) else {
            let name = statement.name_text();
            let hint = match attributes::case_insensitive_match(name) {
                Some(spelled) => format!(": expected {spelled} (attribute names are case-sensitive)"),
                None => ": expected an attribute of Epoch's configuration reference or an iocinit extension".into(),
            };
            return self.error(at, format!("unknown attribute {}{hint}", crate::logging::Quoted::text(name)));
        };
        let name = attribute.name;
        if attribute.extension && self.strict {
            return self.error(at, format!("{name} is an iocinit extension, rejected by --strict-epoch"));
        }
        if statement.value.is_empty() {
            return self.error(at, format!("{name}: expected a value"));
        }
        match attribute.handler {
            Handler::ObjectId => self.open_object(at, statement.value, values),
            Handler::Import => self.import(at, statement.value),
            Handler::Global(apply) => {
                if !self.global_allowed_here(name, attribute.after_objects, at) {
                    return;
                }
                if let (true, Some(first)) = (attribute.once, self.globals.location_of(name)) {
                    let first = self.place(first);
                    return self.error(at, format!("{name} given twice (first at {first}): expected it once"));
                }
                self.globals.seen.push((name, at));
                if let Err(problem) = apply(&mut self.globals, statement.value, at) {
                    self.error(at, format!("{name}: {problem}"));
                }
            }
            Handler::Object(apply) => {
                let (true, Some(object)) = (self.object_open, self.objects.last_mut()) else {
                    let why = match self.first_object {
                        None => "before any ObjectID",
                        // Import and the end of a file end an object.
                        Some(_) => "with no object open in this file (objects must be completed within one file, and an Import ends the object before it)",
                    };
                    return self.error(at, format!("{name} {why}: expected `ObjectID name` first"));
                };
                let lines = &mut self.lines;
                if let (true, Some(first)) = (attribute.once, lines.first_line(attribute)) {
                    let id = &object.id;
                    let message = format!("{name} given twice for object {id} (first on line {first}): expected it once per object");
                    return self.error(at, message);
                }
                lines.saw(attribute, at.line);
                let context = ObjectContext { location: at, strict: self.strict, priorities: &self.globals.globals.priorities, values };
                if let Err(problem) = apply(&mut ObjectDraft { object, lines }, statement.value, &context) {
                    self.error(at, format!("{name}: {problem}"));
                }
            }
        }
    }

    /// Globals belong before the first object; see [`AfterObjects`].
    fn global_allowed_here(&mut self, name: &str, after_objects: AfterObjects, at: Location) -> bool {
        let Some(first) = self.first_object else { return true };
        let first = self.place(first);
        match after_objects {
            AfterObjects::Allowed => true,
            AfterObjects::Warning => {
                self.warning(at, format!("{name} after the first ObjectID (at {first}): accepted, but globals belong before every object"));
                true
            }
            AfterObjects::Error => {
                self.error(at, format!("{name} after the first ObjectID (at {first}): expected global attributes before every object"));
                false
            }
        }
    }

    fn open_object(&mut self, at: Location, id: &str, values: Values) {
        self.close_object();
        if let Err(problem) = name(id, "an ObjectID") {
            self.error(at, format!("ObjectID: {problem}"));
        }
        // The object is pushed just below: its index is the list's length now.
        let earlier = self.declared.insert(id, self.objects.len(), &|k| self.objects.get(k)).and_then(|k| self.objects.get(k));
        if let Some(first) = earlier.map(|o| o.location) {
            let first = self.place(first);
            self.error(at, format!("duplicate ObjectID {id} (first declared at {first}): expected each ObjectID once"));
        }
        self.first_object.get_or_insert(at);
        self.objects.push(Object { id: values.keep(id), location: at, enabled: true, ..Object::EMPTY });
        self.lines.reset();
        self.object_open = true;
    }

    /// Checks the current object (the last of the list) and completes it.
    fn close_object(&mut self) {
        if !std::mem::replace(&mut self.object_open, false) {
            return;
        }
        // The open object is the last.
        let index = self.objects.len().saturating_sub(1);
        let Some(object) = self.objects.last_mut() else { return };
        checks::object(object, &self.lines, self.strict, &mut self.findings);
        let location = object.location;
        if self.lines.names_new_runlevels() {
            const RUNLEVELS: usize = attributes::index_of("ObjectRunlevels");
            let runlevels_line = self.lines.line_at(RUNLEVELS).unwrap_or(location.line);
            self.new_runlevel_lists.push((index, Location { line: runlevels_line, ..location }));
        }
        if object.description.is_empty() {
            object.description = object.id.clone();
            self.string_bytes = self.string_bytes.saturating_add(object.id.len());
        }
        if object.options.procserv {
            // procServ runs what the object names (its ID, start command,
            // directory, user and group): nothing of it is copied.
            let console = Console { from_ioc_file: false, may_choose_credentials: true, ..Console::default() };
            object.console = Some(Box::new(console));
        }
        if !self.findings.is_empty() {
            let findings = std::mem::take(&mut self.findings);
            self.report(findings);
        }
    }

    fn import(&mut self, at: Location, value: &str) {
        self.close_object();
        let path = self.config_dir.join(value);
        let identity = self.source.identity(&path);
        let open_files: Vec<usize> = self.chain.iter().chain([&at]).map(|l| l.file).collect();
        let mut links: Vec<String> = self.chain.iter().chain([&at]).map(|&l| self.place(l)).collect();
        links.push(path.display().to_string());
        let chain = links.join(" -> ");
        if open_files.iter().any(|&f| self.identities.get(f) == Some(&identity)) {
            return self.error(at, format!("Import cycle: {chain}: expected no file to import itself, directly or not"));
        }
        if let Some(first) = self.identities.iter().position(|i| *i == identity) {
            let first = match self.imported_at.get(first).copied().flatten() {
                Some(site) => self.place(site),
                None => "the main file".into(),
            };
            let message = format!("Import {}: already imported at {first}: expected each file imported once", path.display());
            return self.error(at, message);
        }
        if self.chain.len() >= MAX_IMPORT_DEPTH {
            let message = format!("Import nested more than {MAX_IMPORT_DEPTH} deep: {chain}");
            return self.error(at, message);
        }
        let text = match self.source.read(&path) {
            Ok(text) => text,
            Err(e) => {
                let message = format!("Import: cannot read {}: {e} (import chain: {chain})", path.display());
                return self.error(at, message);
            }
        };
        let file = self.files.len();
        self.files.push(path);
        self.identities.push(identity);
        self.imported_at.push(Some(at));
        self.chain.push(at);
        self.parse_file(file, text);
        self.chain.pop();
    }

    /// Resolves what waited for every global, runs the whole-config checks
    /// and builds the model.
    fn finish(mut self) -> Parsed {
        self.close_object();
        self.resolve_ioc_priorities();
        let objects = std::mem::take(&mut self.objects).into_vec();

        let globals = &self.globals.globals;
        let ioc_runlevels = globals.ioc_runlevels();
        let counted_ioc_runlevels = if self.strict { &[][..] } else { &ioc_runlevels[..] };
        let findings = checks::config(&self.globals, &objects, counted_ioc_runlevels);
        self.report(findings);

        let (named, more) = runlevels(&self.globals, &objects, &self.new_runlevel_lists, &ioc_runlevels);
        if let Some((one_too_many, at)) = named.get(MAX_RUNLEVELS) {
            let message = format!(
                "runlevel {} is one too many: the configuration names {}{} runlevels, expected at most {MAX_RUNLEVELS} \
                 (iocinit keeps each object's runlevels in a {MAX_RUNLEVELS}-bit set)",
                one_too_many.name,
                if more { "more than " } else { "" },
                named.len()
            );
            self.error(*at, message);
        }
        let runlevels = named.into_iter().map(|(runlevel, _)| runlevel).collect();
        let strings = match self.strings_counted {
            true => CountedStrings { objects: objects.len(), bytes: self.string_bytes },
            false => CountedStrings::default(),
        };
        let config = Config { files: self.files, globals: self.globals.globals, objects, runlevels };
        Parsed { config, diagnostics: self.diagnostics, ioc_runlevels, declared: self.declared, strings }
    }
}

/// The objects of epoch.conf and its Imports while they are read: in
/// chunks of [`ObjectList::CHUNK`] objects, each allocated once at its
/// full size, then joined into one list of exactly their number (or, when
/// they fill one chunk at most, kept in it). One list
/// grown by doubling (no count of the objects is known before the Imports
/// are read) copied every object again at each doubling and had the kernel
/// clear twice the pages the list needs: 10,000 objects of 248 bytes moved
/// about 4 MB and faulted in about 8 MB, some 2 of the load's 14 ms
/// (docs/ARCHITECTURE.md, "Config parse and listing", round 9).
#[derive(Default)]
struct ObjectList {
    /// Chunks that are full.
    full: Vec<Vec<Object>>,
    /// The chunk objects are added to; the last object is the last of it.
    last: Vec<Object>,
}

impl ObjectList {
    /// Objects a chunk holds: 15.5 KB of them (a board's 32 objects fill
    /// one chunk; 10,000 fill 157).
    const CHUNK: usize = 64;

    fn len(&self) -> usize {
        self.full.len() * Self::CHUNK + self.last.len()
    }

    /// Object `k` in the order of [`ObjectList::push`].
    fn get(&self, k: usize) -> Option<&Object> {
        let chunk = match self.full.get(k / Self::CHUNK) {
            Some(full) => full,
            None if k / Self::CHUNK == self.full.len() => &self.last,
            None => return None,
        };
        chunk.get(k % Self::CHUNK)
    }

    fn last_mut(&mut self) -> Option<&mut Object> {
        self.last.last_mut()
    }

    fn push(&mut self, object: Object) {
        if self.last.len() == Self::CHUNK {
            let full = std::mem::take(&mut self.last);
            self.full.push(full);
        }
        if self.last.capacity() == 0 {
            self.last.reserve_exact(Self::CHUNK);
        }
        self.last.push(object);
    }

    /// The objects in one list as long as their number, in their order
    /// (objects that fill one chunk at most, as a board's do, are that
    /// chunk, neither copied nor allocated again: `Config::finish_load`
    /// gives back its room to spare).
    /// Not inlined: called once, inlined it made armv7's load_text 48 bytes larger.
    #[inline(never)]
    fn into_vec(mut self) -> Vec<Object> {
        if self.full.is_empty() {
            return self.last;
        }
        let mut all = Vec::with_capacity(self.len());
        for mut chunk in self.full {
            all.append(&mut chunk);
        }
        all.append(&mut self.last);
        all
    }
}

impl Parser<'_> {
    /// IocStartPriority and IocStopPriority may name a DefinePriority given
    /// after them (the order of globals is free), so they resolve last.
    fn resolve_ioc_priorities(&mut self) {
        let priorities = &self.globals.globals.priorities;
        let mut problems = Vec::new();
        let mut resolve = |attribute: &str, slot: &Option<(String, Location)>| {
            let (value, at) = slot.as_ref()?;
            attributes::priority(value, priorities).map_err(|p| problems.push((*at, format!("{attribute}: {p}")))).ok()
        };
        let start = resolve("IocStartPriority", &self.globals.ioc_start_priority);
        let stop = resolve("IocStopPriority", &self.globals.ioc_stop_priority);
        let ioc = &mut self.globals.globals.ioc;
        ioc.start_priority = start;
        if let Some(stop) = stop {
            ioc.stop_priority = stop;
        }
        for (at, message) in problems {
            self.error(at, message);
        }
    }
}

/// Every runlevel named anywhere up to one more than iocinit holds, with its
/// direct inheritance and where it is first named, in this order: the
/// default runlevel, those of RunlevelInherits, the IOC runlevels, then the
/// objects' in their order; and whether more are named. `new_lists`
/// holds the objects, in their order, whose lists are not the same as one
/// before them (as far as the parser noted: a list not noted names no
/// runlevel not named before it), each with the line naming them.
/// A name is looked for among at most [`MAX_RUNLEVELS`] + 1 runlevels, one
/// too many; a name new past those is only noticed (`true`: more are
/// named). Looked for among all, 10,000 distinct runlevels took 2,000 M
/// instructions, quadratic in their number.
fn runlevels(
    globals: &GlobalsDraft,
    objects: &[Object],
    new_lists: &[(usize, Location)],
    ioc_runlevels: &[String],
) -> (Vec<(Runlevel, Location)>, bool) {
    let default_at = globals.location_of("DefaultRunlevel").unwrap_or_default();
    let default = Some(globals.globals.default_runlevel.as_str()).filter(|d| !d.is_empty()).map(|d| (d, default_at));
    let inherits = globals.inherits.iter().flat_map(|i| [(i.runlevel.as_str(), i.at), (i.inherited.as_str(), i.at)]);
    let ioc_at = globals.location_of("IocRunlevels").unwrap_or(default_at);
    let ioc = ioc_runlevels.iter().map(|r| (r.as_str(), ioc_at));
    let mut list: Vec<(Runlevel, Location)> = Vec::new();
    let mut more = false;
    let mut add = |name: &str, at: Location| {
        if list.iter().any(|(r, _)| r.name == name) {
            return;
        }
        if list.len() > MAX_RUNLEVELS {
            more = true;
            return;
        }
        let direct = globals.inherits.iter().filter(|i| i.runlevel == name).map(|i| i.inherited.clone()).collect();
        list.push((Runlevel { name: name.to_string(), inherits: direct }, at));
    };
    for (name, at) in default.into_iter().chain(inherits).chain(ioc) {
        add(name, at);
    }
    for &(k, at) in new_lists {
        let Some(object) = objects.get(k) else { continue };
        for name in object.runlevels.iter() {
            add(name, at);
        }
    }
    (list, more)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MemFs;

    fn errors(text: &str) -> Vec<String> {
        let main = Path::new("/etc/epoch/epoch.conf");
        let parsed = parse(&MemFs::new().with(main, text), main, text.as_bytes().to_vec(), false);
        parsed.diagnostics.iter().filter(|d| d.is_error()).map(|d| d.to_string()).collect()
    }

    fn names(range: std::ops::Range<usize>) -> String {
        range.map(|i| format!("rl{i}")).collect::<Vec<_>>().join(" ")
    }

    /// `prelude`, then objects `a` (runlevels 0..split, line 5 after the
    /// prelude) and `b` (split..count, line 8).
    fn with_runlevels(prelude: &str, split: usize, count: usize) -> String {
        format!(
            "{prelude}DefaultRunlevel rl0\nObjectID a\nObjectStartCommand x\nObjectStartPriority 1\nObjectRunlevels {}\n\
             ObjectID b\nObjectStartCommand x\nObjectRunlevels {}\n",
            names(0..split),
            names(split..count)
        )
    }

    /// The parser keeps its objects in chunks: a duplicate ID is found
    /// whichever chunks hold the two, and the model's list is every object
    /// in file order, exactly as long as their number.
    #[test]
    fn objects_in_many_chunks_keep_their_order_and_their_duplicates_are_found() {
        let count = 3 * ObjectList::CHUNK + 5;
        let mut text = String::from("DefaultRunlevel default\n");
        for k in 0..count {
            text.push_str(&format!("ObjectID s{k}\nObjectStartCommand /bin/s\nObjectRunlevels default\n"));
        }
        let main = Path::new("/etc/epoch/epoch.conf");
        let parsed = parse(&MemFs::new().with(main, text.as_str()), main, text.as_bytes().to_vec(), false);
        assert_eq!(parsed.diagnostics, vec![]);
        let objects = &parsed.config.objects;
        assert_eq!((objects.len(), objects.capacity()), (count, count));
        assert!(objects.iter().enumerate().all(|(k, o)| o.id == format!("s{k}")));
        assert!(objects.iter().enumerate().all(|(k, o)| o.location.line == 2 + 3 * k as u32));

        // s1 (chunk 0), s70 (chunk 1) and s195 (chunk 3, the one being
        // filled) again, in chunk 3.
        let again = ["s1", "s70", "s195"].map(|id| format!("ObjectID {id}\nObjectStartCommand /bin/s\n")).concat();
        let text = format!("{text}{again}");
        let line = 2 + 3 * count;
        let duplicate = |id: &str, at: usize, first: usize| {
            format!(
                "/etc/epoch/epoch.conf:{at}: duplicate ObjectID {id} (first declared at /etc/epoch/epoch.conf:{first}): expected each \
                 ObjectID once"
            )
        };
        let expected = [duplicate("s1", line, 5), duplicate("s70", line + 2, 2 + 3 * 70), duplicate("s195", line + 4, 2 + 3 * 195)];
        assert_eq!(errors(&text), expected);
    }

    /// Lists the same as one of the last few new ones are not walked: the
    /// runlevels are those of every list, in the order they are first
    /// named, whether a list repeats the one before it, one from long ago
    /// (past the eight the parser keeps), or none.
    #[test]
    fn runlevels_of_repeated_lists_are_named_once_in_order() {
        let lists = ["a b", "a b", "b c", "d", "a b", "e", "f", "g", "h", "i", "j", "k", "b c", "l c", "a b", "m", "c m"];
        let mut text = String::from("DefaultRunlevel a\n");
        for (k, list) in lists.iter().enumerate() {
            text.push_str(&format!("ObjectID s{k}\nObjectStartCommand /bin/s\nObjectRunlevels {list}\n"));
        }
        let main = Path::new("/etc/epoch/epoch.conf");
        let parsed = parse(&MemFs::new().with(main, text.as_str()), main, text.as_bytes().to_vec(), false);
        assert_eq!(parsed.diagnostics, vec![]);
        let names: Vec<&str> = parsed.config.runlevels.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m"]);
    }

    /// The parser counts the bytes of its objects' strings as it makes
    /// them, so that packing allocates their text once at its size: the
    /// count is their sum, over Imports, an object whose ID is its
    /// description and every kind of string an object holds.
    #[test]
    fn the_bytes_of_the_objects_strings_are_counted_as_they_are_made() {
        let main = Path::new("/etc/epoch/epoch.conf");
        let text = "DefaultRunlevel default\nObjectID a\nObjectStartCommand /bin/a\nObjectRunlevels default\nImport more.conf\n\
                    ObjectID c\nObjectOptions HALTONLY\nObjectStopCommand /bin/c stop\n";
        let more = "ObjectID b\nObjectDescription The b\nObjectStartCommand /bin/b\nObjectStopCommand PIDFILE /run/b.pid\n\
                    ObjectWorkingDirectory /srv\nObjectUser daemon\nObjectGroup adm\nObjectEnvVar X=1\nObjectEnvVar Y=2\n\
                    ObjectStdout /var/log/b\nObjectPrestartCommand /bin/p\nObjectReloadCommand /bin/r\nObjectRunlevels default\n";
        let files = MemFs::new().with(main, text).with("/etc/epoch/more.conf", more);
        let mut parsed = parse(&files, main, text.as_bytes().to_vec(), false);
        assert_eq!(parsed.diagnostics, vec![]);
        let mut bytes = 0;
        parsed.config.objects.iter_mut().for_each(|o| o.for_each_string(&mut |s| bytes += s.len()));
        assert_eq!((parsed.strings.objects, parsed.strings.bytes), (3, bytes));
        assert_eq!(bytes, "aa/bin/adefault".len() + "bThe b/bin/b/run/b.pid/srvdaemonadm/bin/p/bin/r/var/log/bX=1Y=2default".len() + "cc/bin/c stop".len());
    }

    /// A file that is not UTF-8 (a Latin-1 comment is enough) has no text
    /// to count its values by: they are copied, and packing is told to sum
    /// every string, not given a count short of them (a packed text grown
    /// by doubling, allocations for nothing).
    #[test]
    fn a_file_that_is_not_utf8_leaves_the_count_to_packing() {
        let main = Path::new("/etc/epoch/epoch.conf");
        let text = b"DefaultRunlevel default\n# caf\xe9\nObjectID a\nObjectStartCommand /bin/a --long-argument\nObjectRunlevels default\n";
        let files = MemFs::new().with(main, "");
        let parsed = parse(&files, main, text.to_vec(), false);
        assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
        assert_eq!((parsed.strings.objects, parsed.strings.bytes), (0, 0));
        let mut config = parsed.config;
        config.finish_load(parsed.strings);
        assert_eq!(config.objects[0].start.as_deref(), Some("/bin/a --long-argument"));
        assert_eq!(config.objects[0].description, "a");
    }

    /// The parser keeps the last few lists that passed the check: a list
    /// too long to keep, or one that fails (said each time it is given),
    /// is checked again, and the runlevels named are as without keeping.
    #[test]
    fn lists_not_kept_are_checked_each_time_they_are_given() {
        let long = names(0..20);
        let lists = [&long, "a a", "b", &long, "a a", "c", "d", "e", "f", &long, "b"];
        let mut text = String::from("DefaultRunlevel b\n");
        for (k, list) in lists.iter().enumerate() {
            text.push_str(&format!("ObjectID s{k}\nObjectStartCommand /bin/s\nObjectRunlevels {list}\n"));
        }
        let main = Path::new("/etc/epoch/epoch.conf");
        let parsed = parse(&MemFs::new().with(main, text.as_str()), main, text.as_bytes().to_vec(), false);
        let twice = |line: usize| {
            format!("/etc/epoch/epoch.conf:{line}: ObjectRunlevels: runlevel \"a\" is listed twice: expected each runlevel once")
        };
        let said: Vec<String> = parsed.diagnostics.iter().map(|d| d.to_string()).collect();
        assert_eq!(said, [twice(7), twice(16)]);
        let named: Vec<&str> = parsed.config.runlevels.iter().map(|r| r.name.as_str()).collect();
        let expected = format!("b {long} c d e f");
        assert_eq!(named.join(" "), expected);
        let runlevels = |k: usize| parsed.config.objects[k].runlevels.iter().collect::<Vec<_>>().join(" ");
        assert_eq!([runlevels(0), runlevels(1), runlevels(3), runlevels(9), runlevels(10)], [&*long, "", &long, &long, "b"]);
    }

    proptest::proptest! {
        /// Whatever lists the objects give and in whatever order (more
        /// distinct lists than the parser keeps, lists longer than it keeps,
        /// lists that fail), the runlevels named are those of a walk of
        /// every object's list, and each failing list is said at its line.
        #[test]
        fn the_runlevels_named_are_those_of_every_objects_list(picks in proptest::collection::vec((0usize..12, 1usize..12, 0usize..4), 1..40)) {
            let mut text = String::from("DefaultRunlevel rl0\n");
            for (k, &(first, count, shape)) in picks.iter().enumerate() {
                let list = match shape {
                    0 => names(first..first + count),
                    1 => format!("{} rl{first}", names(first..first + count)),
                    2 => names(first..first + 20),
                    _ => names(first % 3..first % 3 + 1),
                };
                text.push_str(&format!("ObjectID s{k}\nObjectStartCommand /bin/s\nObjectRunlevels {list}\n"));
            }
            let main = Path::new("/etc/epoch/epoch.conf");
            let parsed = parse(&MemFs::new().with(main, text.as_str()), main, text.as_bytes().to_vec(), false);
            let mut walked = vec!["rl0"];
            for name in parsed.config.objects.iter().flat_map(|o| o.runlevels.iter()) {
                if !walked.contains(&name) {
                    walked.push(name);
                }
            }
            let named: Vec<&str> = parsed.config.runlevels.iter().map(|r| r.name.as_str()).collect();
            proptest::prop_assert_eq!(named, walked);
            let twice: Vec<u32> = parsed.diagnostics.iter().filter(|d| d.to_string().contains("is listed twice")).map(|d| d.line).collect();
            let failing: Vec<u32> = (0..picks.len()).filter(|&k| picks[k].2 == 1).map(|k| 4 + 3 * k as u32).collect();
            proptest::prop_assert_eq!(twice, failing);
        }
    }

    #[test]
    fn object_list_finds_each_object_by_its_index() {
        let mut list = ObjectList::default();
        assert!(list.get(0).is_none() && list.last_mut().is_none());
        for k in 0..2 * ObjectList::CHUNK + 1 {
            list.push(Object { id: format!("o{k}").into(), ..Object::default() });
            assert_eq!(list.last_mut().map(|o| o.id.to_string()), Some(format!("o{k}")));
        }
        assert_eq!(list.len(), 2 * ObjectList::CHUNK + 1);
        let ids: Vec<String> = (0..list.len() + 2).map_while(|k| list.get(k)).map(|o| o.id.to_string()).collect();
        assert_eq!(ids, (0..list.len()).map(|k| format!("o{k}")).collect::<Vec<_>>());
        assert!(list.get(3 * ObjectList::CHUNK).is_none());
    }

    #[test]
    fn runlevels_beyond_the_limit_are_refused_where_one_too_many_is_named() {
        let main = Path::new("/etc/epoch/epoch.conf");
        let text = with_runlevels("", 60, MAX_RUNLEVELS);
        let parsed = parse(&MemFs::new().with(main, text.as_str()), main, text.as_bytes().to_vec(), false);
        assert_eq!(parsed.diagnostics, vec![]);
        assert_eq!(parsed.config.runlevels.len(), MAX_RUNLEVELS);

        let too_many = |line: u32, runlevel: &str, count: &str| {
            format!(
                "/etc/epoch/epoch.conf:{line}: runlevel {runlevel} is one too many: the configuration names {count} runlevels, \
                 expected at most {MAX_RUNLEVELS} (iocinit keeps each object's runlevels in a {MAX_RUNLEVELS}-bit set)"
            )
        };
        let last = format!("rl{MAX_RUNLEVELS}");
        let one_more = (MAX_RUNLEVELS + 1).to_string();
        let more = format!("more than {one_more}");
        assert_eq!(errors(&with_runlevels("", 60, MAX_RUNLEVELS + 1)), vec![too_many(8, &last, &one_more)]);
        // Past one too many the runlevels are not looked for, only noticed
        // (each looked for among all was quadratic in their number).
        assert_eq!(errors(&with_runlevels("", 60, MAX_RUNLEVELS + 6)), vec![too_many(8, &last, &more)]);
        // Counted in the order of the model: the default runlevel, those of
        // RunlevelInherits, then the objects'.
        let inherits = format!("RunlevelInherits rl1 {last}\n");
        let before_last = format!("rl{}", MAX_RUNLEVELS - 1);
        assert_eq!(errors(&with_runlevels(&inherits, 60, MAX_RUNLEVELS)), vec![too_many(9, &before_last, &one_more)]);
        // A runlevel named again after the limit is no more.
        let again = "ObjectID c\nObjectStartCommand x\nObjectRunlevels rl3 rl64\n";
        assert_eq!(errors(&(with_runlevels("", 60, MAX_RUNLEVELS + 1) + again)), vec![too_many(8, &last, &one_more)]);
        let new = "ObjectID c\nObjectStartCommand x\nObjectRunlevels rl3 rl65\n";
        assert_eq!(errors(&(with_runlevels("", 60, MAX_RUNLEVELS + 1) + new)), vec![too_many(8, &last, &more)]);
    }
}
