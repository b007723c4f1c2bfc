//! The words of `ObjectOptions`: flags, `NAME=value` options, and which of
//! them are our extensions. Combination rules live in `checks`.

use super::model::{ExitResult, Options};
use super::lines::find_possible_name_end;
use super::names::NameSlots;
use super::values::{got, is_ascii_blank, parse_u32, signal, ValueError};

/// A flag option and the field it sets.
struct Flag {
    name: &'static str,
    field: fn(&mut Options) -> &mut bool,
    /// Ours, not Epoch's: `--strict-epoch` rejects it.
    extension: bool,
}

const fn epoch(name: &'static str, field: fn(&mut Options) -> &mut bool) -> Flag {
    Flag { name, field, extension: false }
}

const FLAGS: &[Flag] = &[
    epoch("RAWDESCRIPTION", |o| &mut o.raw_description),
    epoch("FORK", |o| &mut o.fork),
    epoch("FORKN", |o| &mut o.forkn),
    epoch("PIVOT", |o| &mut o.pivot),
    epoch("EXEC", |o| &mut o.exec),
    epoch("PERSISTENT", |o| &mut o.persistent),
    epoch("SERVICE", |o| &mut o.service),
    epoch("AUTORESTART", |o| &mut o.autorestart),
    epoch("RUNONCE", |o| &mut o.runonce),
    epoch("NOSTOPWAIT", |o| &mut o.no_stop_wait),
    epoch("HALTONLY", |o| &mut o.halt_only),
    epoch("FORCESHELL", |o| &mut o.force_shell),
    epoch("STARTFAILCRITICAL", |o| &mut o.start_fail_critical),
    epoch("STOPFAILCRITICAL", |o| &mut o.stop_fail_critical),
    epoch("NOTRACK", |o| &mut o.no_track),
    Flag { name: "PROCSERV", field: |o| &mut o.procserv, extension: true },
];

const STOPTIMEOUT: &str = "STOPTIMEOUT";
const STARTTIMEOUT: &str = "STARTTIMEOUT";
const TERMSIGNAL: &str = "TERMSIGNAL";
const MAPEXITSTATUS: &str = "MAPEXITSTATUS";
/// The options with a value, and how they are written.
const VALUED: &[(&str, &str)] = &[
    (STOPTIMEOUT, "STOPTIMEOUT=seconds"),
    (STARTTIMEOUT, "STARTTIMEOUT=seconds"),
    (TERMSIGNAL, "TERMSIGNAL=signal"),
    (MAPEXITSTATUS, "MAPEXITSTATUS=code,RESULT"),
];
/// The valued options that are ours, not Epoch's.
const VALUED_EXTENSIONS: &[&str] = &[STARTTIMEOUT];

/// An option, by its place in [`NAMES`]: what the checks compare (a byte,
/// not a name) and look its name up by.
pub(crate) type OptionId = u8;

/// Every option's name: the flags, then the valued options.
pub(crate) const NAMES: [&str; FLAGS.len() + VALUED.len()] = {
    let mut names = [""; FLAGS.len() + VALUED.len()];
    let mut i = 0;
    while i < names.len() {
        names[i] = if i < FLAGS.len() { FLAGS[i].name } else { VALUED[i - FLAGS.len()].0 };
        i += 1;
    }
    names
};

/// The option named `name`; for the checks' tables, so that a misspelt
/// name fails the build.
pub(crate) const fn id(name: &str) -> OptionId {
    let mut i = 0;
    while i < NAMES.len() {
        if same(NAMES[i].as_bytes(), name.as_bytes()) {
            return i as OptionId;
        }
        i += 1;
    }
    panic!("no such option")
}

/// Whether `a` and `b` hold the same bytes, in a const fn (for names
/// looked up at compile time).
pub(crate) const fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// An option as a bit of a set of options in a `u32`, one bit each: there
/// are at most 32 options (the assertion below). The bits must be distinct:
/// an object's `options_given` spares a search with them, and the checks
/// skip the option pairs of an object that sets fewer than two of their
/// bits (`checks::PAIRED`), which two options sharing a bit would fool.
pub(crate) const fn bit(option: OptionId) -> u32 {
    1u32 << (option as u32 % u32::BITS)
}

const _: () = assert!(NAMES.len() <= u32::BITS as usize, "options::bit needs a wider set");

/// The name of an option.
pub(crate) fn name(option: OptionId) -> &'static str {
    NAMES.get(usize::from(option)).copied().unwrap_or_default()
}

/// The options by their names' length and first byte.
static BY_NAME: NameSlots = NameSlots::new(&NAMES, 0);

/// The place in [`NAMES`] of the option spelled exactly `name`.
fn find(name: &[u8]) -> Option<usize> {
    BY_NAME.find(name)
}

fn all_names() -> String {
    NAMES.join(", ")
}

/// Applies every word of an ObjectOptions value, `applied` told each option
/// set; each problem is said, in order, joined by `; ` as it comes (not a
/// list made and dropped for every line, where nearly none has a problem),
/// and the words after a bad one are applied too.
pub(crate) fn apply_words(options: &mut Options, value: &str, strict: bool, mut applied: impl FnMut(OptionId)) -> Result<(), ValueError> {
    let mut problems: Option<String> = None;
    for word in (Words { value, at: 0 }) {
        match apply(options, &word, strict) {
            Ok(option) => applied(option),
            Err(problem) => match &mut problems {
                None => problems = Some(problem),
                Some(said) => {
                    said.push_str("; ");
                    said.push_str(&problem);
                }
            },
        }
    }
    problems.map_or(Ok(()), Err)
}

/// The words of an ObjectOptions value, each with its `=`: one pass over
/// the bytes, where a call of `values::words` per word, a checked slice of
/// each word and a search of it for the `=` were most of ObjectOptions'
/// instructions. Split at ASCII blanks, as `values::words` splits; the
/// blanks and the `=` are ASCII, so every cut is at a char boundary.
struct Words<'a> {
    value: &'a str,
    /// Where the next word's search starts.
    at: usize,
}

impl<'a> Iterator for Words<'a> {
    type Item = Word<'a>;

    /// Inlined even at opt-level "z": its one caller's loop.
    #[inline(always)]
    fn next(&mut self) -> Option<Word<'a>> {
        let bytes = self.value.as_bytes();
        let mut at = self.at;
        while bytes.get(at).is_some_and(|&b| is_ascii_blank(b)) {
            at += 1;
        }
        if at >= bytes.len() {
            return None;
        }
        let start = at;
        // The name's end, a word at a time: the first byte that may end a
        // name does (an option's name is letters), or the search goes on
        // after it.
        loop {
            let Some(found) = bytes.get(at..).and_then(find_possible_name_end) else {
                at = bytes.len();
                break;
            };
            at += found;
            if bytes.get(at).is_some_and(|&b| ends_name(b)) {
                break;
            }
            at += 1;
        }
        let name_end = at;
        while bytes.get(at).is_some_and(|&b| !is_ascii_blank(b)) {
            at += 1;
        }
        self.at = at;
        Some(Word { value: self.value, start, name_end, end: at })
    }
}

/// Whether `b` ends an option's name: a blank ([`is_ascii_blank`]) or its
/// `=`. One bit test of a mask of them by the byte's low six bits (a name's
/// letters mostly miss it), its range tested only for a byte that hits,
/// where the tests of the `=` and of a blank were three compares per byte
/// of every name.
#[inline(always)]
fn ends_name(b: u8) -> bool {
    const ENDS: u64 = 1 << b' ' | 1 << b'=' | 0b11111 << b'\t';
    ENDS >> (b % 64) & 1 != 0 && b < 64
}

/// A word of an ObjectOptions value, by its place in the value: its name
/// is read as bytes, and only a valued option's value (or a problem's word)
/// is cut as a `str` (a checked slice is a call at opt-level "z").
struct Word<'a> {
    value: &'a str,
    start: usize,
    /// Where the name ends: the word's first `=`, or its end.
    name_end: usize,
    end: usize,
}

impl<'a> Word<'a> {
    fn name(&self) -> &'a [u8] {
        self.value.as_bytes().get(self.start..self.name_end).unwrap_or_default()
    }

    fn name_text(&self) -> &'a str {
        self.value.get(self.start..self.name_end).unwrap_or_default()
    }

    fn text(&self) -> &'a str {
        self.value.get(self.start..self.end).unwrap_or_default()
    }

    /// What follows the `=`, if there is one.
    fn option_value(&self) -> Option<&'a str> {
        if self.name_end < self.end {
            self.value.get(self.name_end + 1..self.end)
        } else {
            None
        }
    }
}

/// Applies one word of ObjectOptions and returns the option.
fn apply(options: &mut Options, word: &Word, strict: bool) -> Result<OptionId, ValueError> {
    let found = find(word.name());
    let option = found.and_then(|i| OptionId::try_from(i).ok()).unwrap_or_default();
    let value = word.option_value();
    if let Some(flag) = found.and_then(|i| FLAGS.get(i)) {
        if value.is_some() {
            return Err(format!("option {} takes no value, {}", flag.name, got(word.text())));
        }
        if flag.extension && strict {
            return Err(format!("option {} is an iocinit extension, rejected by --strict-epoch", flag.name));
        }
        *(flag.field)(options) = true;
        return Ok(option);
    }
    let Some(&(canonical, form)) = found.and_then(|i| VALUED.get(i.checked_sub(FLAGS.len())?)) else {
        return Err(format!("unknown option {}: expected one of {}", crate::logging::Quoted::text(word.name_text()), all_names()));
    };
    let Some(value) = value else {
        return Err(format!("option {canonical} needs a value: expected {form}"));
    };
    if strict && VALUED_EXTENSIONS.contains(&canonical) {
        return Err(format!("option {canonical} is an iocinit extension, rejected by --strict-epoch"));
    }
    // By the option's id, a byte, not by its name (a compare of names each).
    const STOPTIMEOUT_ID: OptionId = id(STOPTIMEOUT);
    const STARTTIMEOUT_ID: OptionId = id(STARTTIMEOUT);
    const TERMSIGNAL_ID: OptionId = id(TERMSIGNAL);
    match option {
        STOPTIMEOUT_ID => set_once(&mut options.stop_timeout, STOPTIMEOUT, parse_u32(value)?)?,
        STARTTIMEOUT_ID => set_once(&mut options.start_timeout, STARTTIMEOUT, parse_u32(value)?)?,
        TERMSIGNAL_ID => set_once(&mut options.term_signal, TERMSIGNAL, signal(value, strict)?)?,
        _ => options.exit_map.push(exit_mapping(value)?),
    }
    Ok(option)
}

fn set_once<T>(slot: &mut Option<T>, name: &str, value: T) -> Result<(), ValueError> {
    if slot.is_some() {
        return Err(format!("option {name} given twice for this object: expected it once"));
    }
    *slot = Some(value);
    Ok(())
}

/// `code,SUCCESS|WARNING|FAILURE` with code 0..=255.
fn exit_mapping(value: &str) -> Result<(u8, ExitResult), ValueError> {
    let expected = "expected MAPEXITSTATUS=code,RESULT with code 0 to 255 and RESULT SUCCESS, WARNING or FAILURE";
    // A byte search, as for the `=` in `apply`.
    let comma = value.bytes().position(|b| b == b',');
    let Some((code, result)) = comma.and_then(|at| Some((value.get(..at)?, value.get(at + 1..)?))) else {
        return Err(format!("{expected}, {}", got(value)));
    };
    let code = parse_u32(code)
        .ok()
        .and_then(|c| u8::try_from(c).ok())
        .ok_or_else(|| format!("exit code out of range: {expected}, {}", got(code)))?;
    // Byte patterns: tested inline, where a `str` pattern is a call of the
    // compare each.
    let result = match result.as_bytes() {
        [b'S', b'U', b'C', b'C', b'E', b'S', b'S'] => ExitResult::Success,
        [b'W', b'A', b'R', b'N', b'I', b'N', b'G'] => ExitResult::Warning,
        [b'F', b'A', b'I', b'L', b'U', b'R', b'E'] => ExitResult::Failure,
        _ => return Err(format!("{expected}, {}", got(result))),
    };
    Ok((code, result))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply_all(words: &[&str], strict: bool) -> Result<Options, String> {
        let mut options = Options::default();
        for w in words {
            apply_words(&mut options, w, strict, |_| ())?;
        }
        Ok(options)
    }

    /// A value's words, each with its name and its value, as `values::words`
    /// splits them and `split_once('=')` cuts each word.
    fn assert_words_and_names_as_split(value: &str) {
        let scanned: Vec<(&str, &str, Option<&str>)> =
            Words { value, at: 0 }.map(|w| (w.text(), w.name_text(), w.option_value())).collect();
        let split: Vec<(&str, &str, Option<&str>)> = crate::config::values::words(value)
            .map(|w| match w.split_once('=') {
                Some((name, v)) => (w, name, Some(v)),
                None => (w, w, None),
            })
            .collect();
        assert_eq!(scanned, split, "{value:?}");
        for (w, (_, name, _)) in (Words { value, at: 0 }).zip(&split) {
            assert_eq!(w.name(), name.as_bytes(), "{value:?}");
        }
    }

    #[test]
    fn a_name_ends_at_a_blank_or_its_equals_sign() {
        for b in 0..=u8::MAX {
            assert_eq!(ends_name(b), b == b'=' || is_ascii_blank(b), "{b}");
        }
    }

    #[test]
    fn words_and_names_are_split_as_before() {
        for value in ["", " ", "FORK", " SERVICE AUTORESTART\t", "STOPTIMEOUT=20 TERMSIGNAL=SIGTERM", "=", "A==B =x y=", "MAPEXITSTATUS=2,WARNING\x0bNOTRACK", "é=è x\u{a0}=y"] {
            assert_words_and_names_as_split(value);
        }
    }

    proptest::proptest! {
        #[test]
        fn words_and_names_are_split_as_before_for_any_text(value in "[ =AB\t\r\x0b\u{a0}é]{0,16}|(?s).{0,16}") {
            assert_words_and_names_as_split(&value);
        }
    }

    #[test]
    fn every_flag_sets_its_own_field_only() {
        for flag in FLAGS {
            let mut expected = Options::default();
            *(flag.field)(&mut expected) = true;
            assert_eq!(apply_all(&[flag.name], false).unwrap(), expected, "{}", flag.name);
            assert_ne!(expected, Options::default());
        }
    }

    /// Every option is found by its own name, and a spelling near one (a
    /// byte changed, one byte short or one byte more) only where it is an
    /// option's name too: as a search of the names finds them.
    #[test]
    fn names_are_found_exactly() {
        let searched = |spelling: &[u8]| NAMES.iter().position(|n| n.as_bytes() == spelling);
        for (i, name) in NAMES.iter().enumerate() {
            assert_eq!(find(name.as_bytes()), Some(i), "{name}");
            let mut near = vec![name.as_bytes()[..name.len() - 1].to_vec(), format!("{name}X").into_bytes()];
            for at in 0..name.len() {
                let mut misspelt = name.as_bytes().to_vec();
                misspelt[at] ^= 0x20;
                near.push(misspelt);
            }
            for spelling in near {
                assert_eq!(find(&spelling), searched(&spelling), "{name} {spelling:?}");
            }
        }
        assert_eq!(find(b"FORKN"), Some(2));
        assert_eq!(find(b""), None);
        assert_eq!(find("É".as_bytes()), None);
    }

    #[test]
    fn valued_options() {
        let o = apply_all(&["STOPTIMEOUT=20", "TERMSIGNAL=SIGKILL", "MAPEXITSTATUS=2,WARNING", "MAPEXITSTATUS=255,SUCCESS"], true)
            .unwrap();
        assert_eq!(o.stop_timeout, Some(20));
        assert_eq!(apply_all(&["STARTTIMEOUT=0"], false).unwrap().start_timeout, Some(0));
        assert_eq!(o.term_signal, Some(libc::SIGKILL));
        assert_eq!(o.exit_map, vec![(2, ExitResult::Warning), (255, ExitResult::Success)]);
        assert_eq!(apply_all(&["TERMSIGNAL=15"], true).unwrap().term_signal, Some(15));
        assert_eq!(apply_all(&["MAPEXITSTATUS=0,FAILURE"], true).unwrap().exit_map, vec![(0, ExitResult::Failure)]);
    }

    #[test]
    fn bad_options() {
        let cases: &[(&str, &str)] = &[
            ("FOO", "unknown option \"FOO\": expected one of RAWDESCRIPTION"),
            ("service", "unknown option \"service\""),
            ("FORK=1", "option FORK takes no value"),
            ("STOPTIMEOUT", "needs a value: expected STOPTIMEOUT=seconds"),
            ("STOPTIMEOUT=", "expected a number"),
            ("STOPTIMEOUT=-1", "expected a number"),
            ("STOPTIMEOUT=ten", "got \"ten\""),
            ("TERMSIGNAL=SIGFOO", "expected a signal"),
            ("TERMSIGNAL=0", "expected a signal"),
            ("MAPEXITSTATUS", "needs a value: expected MAPEXITSTATUS=code,RESULT"),
            ("MAPEXITSTATUS=2", "expected MAPEXITSTATUS=code,RESULT"),
            ("MAPEXITSTATUS=256,WARNING", "exit code out of range"),
            ("MAPEXITSTATUS=-1,WARNING", "exit code out of range"),
            ("MAPEXITSTATUS=2,OK", "got \"OK\""),
            ("MAPEXITSTATUS=2,warning", "got \"warning\""),
        ];
        for (word, message) in cases {
            let err = apply_all(&[word], false).unwrap_err();
            assert!(err.contains(message), "{word}: {err}");
        }
    }

    #[test]
    fn twice_given_values_and_strict_extensions() {
        assert!(apply_all(&["STOPTIMEOUT=1", "STOPTIMEOUT=2"], false).unwrap_err().contains("given twice"));
        assert!(apply_all(&["TERMSIGNAL=1", "TERMSIGNAL=2"], false).unwrap_err().contains("given twice"));
        assert!(apply_all(&["STARTTIMEOUT=1", "STARTTIMEOUT=2"], false).unwrap_err().contains("given twice"));
        assert!(apply_all(&["STARTTIMEOUT=5"], true).unwrap_err().contains("--strict-epoch"));
        assert!(apply_all(&["PROCSERV"], true).unwrap_err().contains("--strict-epoch"));
        assert!(apply_all(&["TERMSIGNAL=PWR"], true).unwrap_err().contains("--strict-epoch"));
        assert!(apply_all(&["PROCSERV", "TERMSIGNAL=PWR"], false).is_ok());
    }
}
