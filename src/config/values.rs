//! Value parsers shared by both configuration languages: numbers, booleans,
//! signals, names. Each returns the message that follows `Attribute: ` in a
//! diagnostic, saying what was expected and what was found.

/// Why a value did not parse: the text after `Attribute: ` in a diagnostic.
pub(crate) type ValueError = String;

/// `"got \"x\""`: the offending text, quoted and escaped so control
/// characters cannot garble a terminal.
pub(crate) fn got(text: &str) -> String {
    format!("got {}", crate::logging::Quoted::text(text))
}

/// A plain decimal number: digits only (no sign, no spaces), within `u32`.
pub(crate) fn parse_u32(text: &str) -> Result<u32, ValueError> {
    decimal(text)
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| format!("expected a number from 0 to {}, {}", u32::MAX, got(text)))
}

/// `text` as a number when it is a non-empty run of ASCII digits (no sign,
/// no spaces) within `u64`: every number of the configuration is read here.
/// Digits, so each byte is one; summed here rather than by `str::parse`,
/// which would look at the sign and every byte again.
pub(crate) fn decimal(text: &str) -> Option<u64> {
    // One pass, each byte tested and added (a pass of `digits` first, a
    // call, then a second over the bytes, was twice the work).
    let mut n = 0u64;
    for &b in text.as_bytes() {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    (!text.is_empty()).then_some(n)
}

/// `text` when it is a non-empty run of ASCII digits.
pub(crate) fn digits(text: &str) -> Option<&str> {
    (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())).then_some(text)
}

/// Epoch's booleans, spelled exactly `true` or `false` as Epoch compares them.
pub(crate) fn parse_bool(text: &str) -> Result<bool, ValueError> {
    // Byte patterns: tested inline, where a `str` pattern is a call of the
    // compare (every object's ObjectEnabled comes here).
    match text.as_bytes() {
        [b't', b'r', b'u', b'e'] => Ok(true),
        [b'f', b'a', b'l', b's', b'e'] => Ok(false),
        _ => Err(format!("expected true or false, {}", got(text))),
    }
}

/// Whether a byte of a value separates its words: space, and tab to
/// carriage return (vertical tab too, which `u8::is_ascii_whitespace`
/// leaves out), the ASCII whitespace of [`char::is_whitespace`]. A char
/// beyond ASCII is a word's, whitespace to Unicode or not (a no-break
/// space, U+3000): Unicode's whitespace table is not linked for it, and
/// `/bin/sh` splits a command's words at ASCII blanks only. Judged a byte
/// at a time, never decoding a char (a call per byte at opt-level "z" was
/// most of a word list's time); inlined even at opt-level "z" (which
/// ignores `#[inline]`): it runs once per byte of every word list.
#[inline(always)]
pub(crate) fn is_ascii_blank(b: u8) -> bool {
    matches!(b, b' ' | b'\t'..=b'\r')
}

/// The byte range of the first word of `text` at or after byte `from` (a
/// char boundary).
fn next_word(text: &str, from: usize) -> Option<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut at = from;
    // The blanks before the word, then the word: one byte test each.
    let start = loop {
        match bytes.get(at) {
            None => return None,
            Some(&b) if is_ascii_blank(b) => at += 1,
            Some(_) => break at,
        }
    };
    while bytes.get(at).is_some_and(|&b| !is_ascii_blank(b)) {
        at += 1;
    }
    Some((start, at))
}

/// The words of `text` between its blanks ([`is_ascii_blank`]): as
/// [`str::split_whitespace`] gives them where the text's whitespace is
/// ASCII.
pub(crate) fn words(text: &str) -> Words<'_> {
    Words { text, from: 0 }
}

/// The iterator of [`words`].
pub(crate) struct Words<'a> {
    text: &'a str,
    /// Where the search for the next word starts.
    from: usize,
}

impl<'a> Iterator for Words<'a> {
    type Item = &'a str;

    /// Inlined even at opt-level "z": `from_fn`'s call per word was a
    /// quarter of a word list's scan. (`next_word` stays a call: inlined
    /// into every list's loop, the loads took 6 % more instructions.)
    #[inline(always)]
    fn next(&mut self) -> Option<&'a str> {
        let (start, end) = next_word(self.text, self.from)?;
        self.from = end;
        self.text.get(start..end)
    }
}

/// How many words [`words`] gives for `text`: a capacity, counted in one
/// pass over the bytes rather than a second pass of [`words`].
pub(crate) fn ascii_word_count(text: &str) -> usize {
    let mut count = 0;
    let mut in_word = false;
    for &b in text.as_bytes() {
        let blank = is_ascii_blank(b);
        count += usize::from(!blank && !in_word);
        in_word = !blank;
    }
    count
}

/// Where the first blank of `text` is (one byte).
#[inline(always)]
fn first_ascii_blank(text: &str) -> Option<usize> {
    // A byte loop, not `position` (a call at opt-level "z").
    let bytes = text.as_bytes();
    let mut at = 0;
    while let Some(&b) = bytes.get(at) {
        if is_ascii_blank(b) {
            return Some(at);
        }
        at += 1;
    }
    None
}

/// Whether `text` holds a blank.
pub(crate) fn has_whitespace(text: &str) -> bool {
    first_ascii_blank(text).is_some()
}

/// The first word of `text` (up to its first blank) and the rest after that
/// blank, leading blanks removed; `(text, "")` without any.
pub(crate) fn split_word(text: &str) -> (&str, &str) {
    // One cut, the rest starting at the blank (which the trim drops): a
    // checked slice is a call at opt-level "z", and this was two.
    match first_ascii_blank(text).and_then(|at| text.split_at_checked(at)) {
        Some((word, rest)) => (word, trim_start_blanks(rest)),
        None => (text, ""),
    }
}

/// `text` without its leading blanks.
pub(crate) fn trim_start_blanks(text: &str) -> &str {
    // The blanks only: `next_word` would go on to the end of the word.
    let bytes = text.as_bytes();
    let mut at = 0;
    while bytes.get(at).is_some_and(|&b| is_ascii_blank(b)) {
        at += 1;
    }
    text.get(at..).unwrap_or_default()
}

/// A value that must be one word (object IDs, runlevel names, users, ...).
pub(crate) fn one_word(text: &str, what: &str) -> Result<(), ValueError> {
    if has_whitespace(text) {
        Err(format!("expected {what} without whitespace, {}", got(text)))
    } else {
        Ok(())
    }
}

/// An ObjectID, runlevel or priority name: Epoch's IDs are printable ASCII
/// without whitespace.
pub fn valid_name(text: &str) -> bool {
    // A byte loop: `all` with `is_ascii_graphic` was a call per byte at
    // opt-level "z", and every ObjectID comes here.
    let bytes = text.as_bytes();
    let mut at = 0;
    while let Some(&b) = bytes.get(at) {
        if !is_name_byte(b) {
            return false;
        }
        at += 1;
    }
    !bytes.is_empty()
}

/// A byte of a name ([`valid_name`]): printable ASCII, as
/// `u8::is_ascii_graphic` says, tested inline.
#[inline(always)]
pub(crate) fn is_name_byte(b: u8) -> bool {
    b > b' ' && b < 0x7f
}

pub(crate) fn name(text: &str, what: &str) -> Result<(), ValueError> {
    // A valid name has no whitespace: the common case checks once.
    if valid_name(text) {
        return Ok(());
    }
    one_word(text, what)?;
    if valid_name(text) {
        Ok(())
    } else {
        Err(format!("expected {what} of printable ASCII characters, {}", got(text)))
    }
}

/// A user or group name as procServ's `-P unix:USER:GROUP:...` and the
/// system accept it: `[A-Za-z0-9_][A-Za-z0-9_.-]*`, optionally ending in `$`
/// (Samba machine accounts), at most 32 characters. Numeric IDs pass too.
pub fn valid_account_name(text: &str) -> bool {
    // Byte patterns and a byte loop: `strip_suffix` and std's byte tests
    // were calls, most of the check (every ObjectUser comes here).
    let body = match text.as_bytes() {
        [body @ .., b'$'] => body,
        bytes => bytes,
    };
    if text.len() > 32 || !matches!(body.first(), Some(b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_')) {
        return false;
    }
    let mut at = 1;
    while let Some(&b) = body.get(at) {
        if !matches!(b, b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-') {
            return false;
        }
        at += 1;
    }
    true
}

pub(crate) fn account_name(text: &str, what: &str) -> Result<(), ValueError> {
    if valid_account_name(text) {
        Ok(())
    } else {
        Err(format!("expected {what} name ([A-Za-z0-9_][A-Za-z0-9_.-]*, at most 32 characters), {}", got(text)))
    }
}

/// `NAME=value` for GlobalEnvVar and ObjectEnvVar; returns NAME. Quotes are
/// part of the value, as Epoch documents.
pub(crate) fn env_assignment(text: &str) -> Result<&str, ValueError> {
    // One pass up to the `=` or a blank before it (a search for the `=`,
    // then one for a blank in the name, was two); `=` is ASCII, so the cut
    // is at a char boundary.
    let bytes = text.as_bytes();
    let mut at = 0;
    while let Some(&b) = bytes.get(at) {
        if b == b'=' && at > 0 {
            if let Some(name) = text.get(..at) {
                return Ok(name);
            }
        }
        if b == b'=' || is_ascii_blank(b) {
            break;
        }
        at += 1;
    }
    Err(format!("expected NAME=value with a NAME without whitespace, {}", got(text)))
}

/// Signal names Epoch documents for TERMSIGNAL (and so for every signal).
const EPOCH_SIGNALS: &[(&str, i32)] = &[
    ("SIGTERM", libc::SIGTERM),
    ("SIGKILL", libc::SIGKILL),
    ("SIGHUP", libc::SIGHUP),
    ("SIGINT", libc::SIGINT),
    ("SIGABRT", libc::SIGABRT),
    ("SIGQUIT", libc::SIGQUIT),
    ("SIGUSR1", libc::SIGUSR1),
    ("SIGUSR2", libc::SIGUSR2),
];

/// Names we accept beyond Epoch's list (an extension, rejected by --strict-epoch).
const MORE_SIGNALS: &[(&str, i32)] = &[
    ("SIGALRM", libc::SIGALRM),
    ("SIGBUS", libc::SIGBUS),
    ("SIGCHLD", libc::SIGCHLD),
    ("SIGCONT", libc::SIGCONT),
    ("SIGFPE", libc::SIGFPE),
    ("SIGILL", libc::SIGILL),
    ("SIGIO", libc::SIGIO),
    ("SIGPIPE", libc::SIGPIPE),
    ("SIGPROF", libc::SIGPROF),
    ("SIGPWR", libc::SIGPWR),
    ("SIGSEGV", libc::SIGSEGV),
    ("SIGSTOP", libc::SIGSTOP),
    ("SIGSYS", libc::SIGSYS),
    ("SIGTRAP", libc::SIGTRAP),
    ("SIGTSTP", libc::SIGTSTP),
    ("SIGTTIN", libc::SIGTTIN),
    ("SIGTTOU", libc::SIGTTOU),
    ("SIGURG", libc::SIGURG),
    ("SIGVTALRM", libc::SIGVTALRM),
    ("SIGWINCH", libc::SIGWINCH),
    ("SIGXCPU", libc::SIGXCPU),
    ("SIGXFSZ", libc::SIGXFSZ),
];

/// The highest signal number on Linux (SIGRTMAX with the kernel's 64 signals).
const MAX_SIGNAL: i32 = 64;

/// Whether a signal was written as Epoch spells signals, or with our extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Spelling {
    Epoch,
    Extension,
}

/// A signal as a number 1..=64 or a name. Epoch's own spellings are the
/// numbers and SIGTERM, SIGKILL, SIGHUP, SIGINT, SIGABRT, SIGQUIT, SIGUSR1,
/// SIGUSR2; as an extension we accept the other common names and every name
/// without its `SIG` prefix (`TERM`, `PWR`).
pub(crate) fn signal_spelling(text: &str) -> Option<(i32, Spelling)> {
    // A number is summed once (`decimal` is `None` for anything but digits,
    // and a number too large for it is no name either).
    if let Some(n) = decimal(text) {
        return i32::try_from(n).ok().filter(|n| (1..=MAX_SIGNAL).contains(n)).map(|n| (n, Spelling::Epoch));
    }
    let (name, prefixed) = match text.as_bytes() {
        [b'S', b'I', b'G', name @ ..] => (name, true),
        name => (name, false),
    };
    let key = signal_key(name)?;
    // A loop over the numbers, not `position` (a call at opt-level "z").
    let mut at = 0;
    while let Some(&(listed, signal)) = SIGNAL_KEYS.get(at) {
        if listed == key {
            let epoch = prefixed && at < EPOCH_SIGNALS.len();
            return Some((signal, if epoch { Spelling::Epoch } else { Spelling::Extension }));
        }
        at += 1;
    }
    None
}

/// A signal's name without its `SIG` as one number: its bytes, and its
/// length in the top byte (no name is longer than seven bytes; a longer
/// one is none). A look-up compares numbers, where a compare of names was a
/// call each, and a name written without `SIG` is not copied after one.
const fn signal_key(name: &[u8]) -> Option<u64> {
    if name.len() > 7 {
        return None;
    }
    let mut key = (name.len() as u64) << 56;
    let mut i = 0;
    while i < name.len() {
        key |= (name[i] as u64) << (8 * i);
        i += 1;
    }
    Some(key)
}

/// [`EPOCH_SIGNALS`] then [`MORE_SIGNALS`] by [`signal_key`] of their names
/// after `SIG`.
static SIGNAL_KEYS: [(u64, i32); EPOCH_SIGNALS.len() + MORE_SIGNALS.len()] = {
    let mut keys = [(0, 0); EPOCH_SIGNALS.len() + MORE_SIGNALS.len()];
    let mut i = 0;
    while i < keys.len() {
        let (name, signal) = if i < EPOCH_SIGNALS.len() { EPOCH_SIGNALS[i] } else { MORE_SIGNALS[i - EPOCH_SIGNALS.len()] };
        let Some((b"SIG", after)) = name.as_bytes().split_first_chunk::<3>() else {
            panic!("a signal's name starts with SIG");
        };
        let Some(key) = signal_key(after) else {
            panic!("a signal's name is at most seven bytes after SIG");
        };
        keys[i] = (key, signal);
        i += 1;
    }
    keys
};

/// A signal number (1..=64) or name (SIGTERM, SIGKILL, SIGHUP, SIGINT,
/// SIGABRT, SIGQUIT, SIGUSR1, SIGUSR2, and as extensions SIGCONT, SIGSTOP,
/// SIGPWR, SIGWINCH, SIGALRM, ... and each name without `SIG`).
pub fn parse_signal(text: &str) -> Option<i32> {
    signal_spelling(text).map(|(signal, _)| signal)
}

/// [`parse_signal`] with diagnostics; `strict` rejects our extra spellings.
pub(crate) fn signal(text: &str, strict: bool) -> Result<i32, ValueError> {
    match signal_spelling(text) {
        Some((signal, Spelling::Epoch)) => Ok(signal),
        Some((signal, Spelling::Extension)) if !strict => Ok(signal),
        Some(_) => Err(format!(
            "expected a signal number or one of Epoch's names SIGTERM, SIGKILL, SIGHUP, SIGINT, SIGABRT, SIGQUIT, SIGUSR1, SIGUSR2 (--strict-epoch), {}",
            got(text)
        )),
        None => Err(format!("expected a signal number from 1 to {MAX_SIGNAL} or a name such as SIGTERM, {}", got(text))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_plain_digits_within_u32() {
        assert_eq!(parse_u32("0"), Ok(0));
        assert_eq!(parse_u32("4294967295"), Ok(u32::MAX));
        assert_eq!(parse_u32("007"), Ok(7));
        for bad in ["", "-1", "+1", " 1", "1 ", "4294967296", "42949672950", "99999999999999999999", "1e3", "0x10", "١"] {
            assert!(parse_u32(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn signals_by_number_and_name() {
        assert_eq!(parse_signal("15"), Some(libc::SIGTERM));
        assert_eq!(parse_signal("64"), Some(64));
        assert_eq!(parse_signal("0"), None);
        assert_eq!(parse_signal("65"), None);
        assert_eq!(parse_signal("SIGKILL"), Some(libc::SIGKILL));
        assert_eq!(parse_signal("SIGPWR"), Some(libc::SIGPWR));
        assert_eq!(parse_signal("TERM"), Some(libc::SIGTERM));
        assert_eq!(parse_signal("sigterm"), None);
        assert_eq!(parse_signal("SIG"), None);
        assert_eq!(parse_signal(""), None);
    }

    /// The look-up by numbers spells signals as a search of the tables by
    /// name did (the names' lengths first, `SIG` prefixed by `format!`).
    fn assert_signal_as_named(text: &str) {
        let named = |table: &[(&str, i32)], name: &str| table.iter().find(|(n, _)| *n == name).map(|&(_, s)| s);
        let lookup = |name: &str| match named(EPOCH_SIGNALS, name) {
            Some(signal) => Some((signal, Spelling::Epoch)),
            None => named(MORE_SIGNALS, name).map(|signal| (signal, Spelling::Extension)),
        };
        let before = if let Some(d) = digits(text) {
            decimal(d).and_then(|n| i32::try_from(n).ok()).filter(|n| (1..=MAX_SIGNAL).contains(n)).map(|n| (n, Spelling::Epoch))
        } else if text.starts_with("SIG") {
            lookup(text)
        } else {
            lookup(&format!("SIG{text}")).map(|(s, _)| (s, Spelling::Extension))
        };
        assert_eq!(signal_spelling(text), before, "{text:?}");
    }

    #[test]
    fn signals_are_spelled_as_the_tables_name_them() {
        for &(name, _) in EPOCH_SIGNALS.iter().chain(MORE_SIGNALS) {
            for text in [name.to_string(), name[3..].to_string(), name.to_lowercase(), format!("{name}X"), format!("SIG{name}"), name[..name.len() - 1].to_string()] {
                assert_signal_as_named(&text);
            }
        }
        for text in ["", "S", "SI", "SIG", "SIGT", "1", "64", "65", "0", "00015", "99999999999999999999999", "SIG15", "TERM\0", "SIGTERM\0", "SIGVTALRMX", "é", "SIGé"] {
            assert_signal_as_named(text);
        }
    }

    proptest::proptest! {
        #[test]
        fn signals_are_spelled_as_the_tables_name_them_for_any_text(text in "(SIG)?[A-Z0-9]{0,8}|(?s).{0,10}") {
            assert_signal_as_named(&text);
        }
    }

    #[test]
    fn strict_signals_are_epochs_spellings_only() {
        assert_eq!(signal("SIGUSR2", true), Ok(libc::SIGUSR2));
        assert_eq!(signal("9", true), Ok(9));
        assert!(signal("SIGCONT", true).unwrap_err().contains("--strict-epoch"));
        assert!(signal("TERM", true).is_err());
        assert_eq!(signal("TERM", false), Ok(libc::SIGTERM));
        assert!(signal("SIGFOO", false).unwrap_err().contains("\"SIGFOO\""));
    }

    #[test]
    fn account_names() {
        for good in ["ioc", "ioc-srv", "_x", "_", "user.name", "1000", "machine$", &"x".repeat(32), &format!("{}$", "x".repeat(31))] {
            assert!(valid_account_name(good), "{good}");
        }
        for bad in ["", "-x", ".x", "a:b", "a b", "$", "$$", "a$$", "a$b", "é", "aé", &"x".repeat(33), &format!("{}$", "x".repeat(32))] {
            assert!(!valid_account_name(bad), "{bad}");
        }
    }

    /// The byte-wise splitting splits at the ASCII whitespace of
    /// `char::is_whitespace`, and there only: as std's `split_whitespace`
    /// where the text's whitespace is ASCII.
    fn assert_words_split_at_ascii_blanks(text: &str) {
        let blank = |c: char| c.is_ascii() && c.is_whitespace();
        let expected: Vec<&str> = text.split(blank).filter(|w| !w.is_empty()).collect();
        assert_eq!(words(text).collect::<Vec<_>>(), expected, "{text:?}");
        if !text.chars().any(|c| c.is_whitespace() && !c.is_ascii()) {
            assert_eq!(expected, text.split_whitespace().collect::<Vec<_>>(), "{text:?}");
        }
        assert_eq!(ascii_word_count(text), expected.len(), "{text:?}");
        assert_eq!(has_whitespace(text), text.contains(blank), "{text:?}");
        let split = match text.split_once(blank) {
            Some((word, rest)) => (word, rest.trim_start_matches(blank)),
            None => (text, ""),
        };
        assert_eq!(split_word(text), split, "{text:?}");
        assert_eq!(trim_start_blanks(text), text.trim_start_matches(blank), "{text:?}");
    }

    #[test]
    fn words_split_at_ascii_blanks_only() {
        let texts = [
            "", " ", "a", " a  b\t\tc ", "a\u{a0}b", "\u{2003}x\u{2003}", "é è", "a\x0bb\x0cc\rd\ne", "\u{85}z", "日本 語",
            "a\u{200b}b", "a\u{3000}b c",
        ];
        texts.into_iter().for_each(assert_words_split_at_ascii_blanks);
        // Whitespace beyond ASCII is a word's: Unicode's table is not linked.
        assert_eq!(words("a\u{a0}b\u{3000}c d").collect::<Vec<_>>(), ["a\u{a0}b\u{3000}c", "d"]);
    }

    proptest::proptest! {
        #[test]
        fn words_split_at_ascii_blanks_for_any_text(text in "[ a=\t\r\n\x0b\x0c\u{a0}\u{85}\u{2003}\u{3000}é語]{0,12}|(?s).{0,12}") {
            assert_words_split_at_ascii_blanks(&text);
        }
    }

    #[test]
    fn env_assignments_need_a_name() {
        assert_eq!(env_assignment("WIBBLE=Derp herp wibble!"), Ok("WIBBLE"));
        assert_eq!(env_assignment("A="), Ok("A"));
        assert!(env_assignment("=x").is_err());
        assert!(env_assignment("novalue").is_err());
        assert!(env_assignment("A B=x").is_err());
        assert_eq!(env_assignment("A=B=c"), Ok("A"));
        assert_eq!(env_assignment("é=x"), Ok("é"));
        for bad in ["", "=", " A=x", "A\t=x", "A =x", "A"] {
            assert!(env_assignment(bad).is_err(), "{bad:?}");
        }
    }
}
