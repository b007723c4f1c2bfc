//! Value parsers shared by both configuration languages: numbers, booleans,
//! signals, names. Each returns the message that follows `Attribute: ` in a
//! diagnostic, saying what was expected and what was found.

/// Why a value did not parse: the text after `Attribute: ` in a diagnostic.
pub(crate) type ValueError = String;

/// `"got \"x\""`: the offending text, quoted and escaped so control
/// characters cannot garble a terminal.
pub(crate) fn got(text: &str) -> String {
    format!("got {text:?}")
}

/// A plain decimal number: digits only (no sign, no spaces), within `u32`.
pub(crate) fn parse_u32(text: &str) -> Result<u32, ValueError> {
    digits(text)
        .and_then(|d| d.parse::<u32>().ok())
        .ok_or_else(|| format!("expected a number from 0 to {}, {}", u32::MAX, got(text)))
}

/// `text` when it is a non-empty run of ASCII digits.
pub(crate) fn digits(text: &str) -> Option<&str> {
    (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())).then_some(text)
}

/// Epoch's booleans, spelled exactly `true` or `false` as Epoch compares them.
pub(crate) fn parse_bool(text: &str) -> Result<bool, ValueError> {
    match text {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(format!("expected true or false, {}", got(text))),
    }
}

/// Whether the char starting at byte `at` of `text` (a char boundary) is
/// whitespace as [`char::is_whitespace`] says, and its length: ASCII bytes
/// are judged without decoding, as most of a configuration is ASCII.
/// Inlined even at opt-level "z" (which ignores `#[inline]`): it runs once
/// per byte of every word list, and a call per byte was most of their time.
#[inline(always)]
fn char_at(text: &str, at: usize) -> (bool, usize) {
    match text.as_bytes().get(at) {
        Some(&b) if b.is_ascii() => (is_ascii_whitespace(b), 1),
        _ => char_at_beyond_ascii(text, at),
    }
}

/// An ASCII byte that [`char::is_whitespace`] calls whitespace: space and
/// tab to carriage return (vertical tab too, which `u8::is_ascii_whitespace`
/// leaves out).
#[inline(always)]
fn is_ascii_whitespace(b: u8) -> bool {
    matches!(b, b' ' | b'\t'..=b'\r')
}

/// [`char_at`] for a char that is not ASCII (or `at` past the end).
#[cold]
fn char_at_beyond_ascii(text: &str, at: usize) -> (bool, usize) {
    text.get(at..).and_then(|rest| rest.chars().next()).map_or((false, 1), |c| (c.is_whitespace(), c.len_utf8()))
}

/// The byte range of the first word of `text` at or after byte `from`.
fn next_word(text: &str, from: usize) -> Option<(usize, usize)> {
    let mut at = from;
    while at < text.len() && char_at(text, at).0 {
        at += char_at(text, at).1;
    }
    let start = at;
    while at < text.len() {
        let (blank, len) = char_at(text, at);
        if blank {
            break;
        }
        at += len;
    }
    (at > start).then_some((start, at))
}

/// The words of `text`, exactly as [`str::split_whitespace`] gives them.
pub(crate) fn words(text: &str) -> impl Iterator<Item = &str> {
    let mut from = 0;
    std::iter::from_fn(move || {
        let (start, end) = next_word(text, from)?;
        from = end;
        text.get(start..end)
    })
}

/// How many words [`words`] gives for `text` when its whitespace is ASCII:
/// a capacity, exact for every list of names (they are ASCII), counted in
/// one pass over the bytes rather than a second pass of [`words`].
pub(crate) fn ascii_word_count(text: &str) -> usize {
    let mut count = 0;
    let mut in_word = false;
    for &b in text.as_bytes() {
        let blank = is_ascii_whitespace(b);
        count += usize::from(!blank && !in_word);
        in_word = !blank;
    }
    count
}

/// Whether `text` holds a whitespace char.
pub(crate) fn has_whitespace(text: &str) -> bool {
    let mut at = 0;
    while at < text.len() {
        let (blank, len) = char_at(text, at);
        if blank {
            return true;
        }
        at += len;
    }
    false
}

/// The first word of `text` (up to its first whitespace char) and the rest
/// after that char, leading whitespace removed; `(text, "")` without any.
pub(crate) fn split_word(text: &str) -> (&str, &str) {
    let mut at = 0;
    while at < text.len() {
        let (blank, len) = char_at(text, at);
        if blank {
            let rest = &text[at + len..];
            let first = next_word(rest, 0).map_or(rest.len(), |(start, _)| start);
            return (&text[..at], &rest[first..]);
        }
        at += len;
    }
    (text, "")
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
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_graphic())
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
    let body = text.strip_suffix('$').unwrap_or(text);
    let mut bytes = body.bytes();
    let first_ok = matches!(bytes.next(), Some(b) if b.is_ascii_alphanumeric() || b == b'_');
    first_ok && text.len() <= 32 && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-')
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
    match text.split_once('=') {
        Some((name, _)) if !name.is_empty() && !has_whitespace(name) => Ok(name),
        _ => Err(format!("expected NAME=value with a NAME without whitespace, {}", got(text))),
    }
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
    if let Some(d) = digits(text) {
        return d.parse::<i32>().ok().filter(|n| (1..=MAX_SIGNAL).contains(n)).map(|n| (n, Spelling::Epoch));
    }
    let lookup = |name: &str| {
        let epoch = EPOCH_SIGNALS.iter().find(|(n, _)| *n == name).map(|&(_, s)| (s, Spelling::Epoch));
        epoch.or_else(|| MORE_SIGNALS.iter().find(|(n, _)| *n == name).map(|&(_, s)| (s, Spelling::Extension)))
    };
    if text.starts_with("SIG") {
        lookup(text)
    } else {
        lookup(&format!("SIG{text}")).map(|(s, _)| (s, Spelling::Extension))
    }
}

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
        for bad in ["", "-1", "+1", " 1", "1 ", "4294967296", "1e3", "0x10", "١"] {
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
        for good in ["ioc", "ioc-srv", "_x", "user.name", "1000", "machine$"] {
            assert!(valid_account_name(good), "{good}");
        }
        for bad in ["", "-x", "a:b", "a b", "$", "é", &"x".repeat(33)] {
            assert!(!valid_account_name(bad), "{bad}");
        }
    }

    /// The byte-wise splitting agrees with std's Unicode-aware one.
    fn assert_words_as_std(text: &str) {
        assert_eq!(words(text).collect::<Vec<_>>(), text.split_whitespace().collect::<Vec<_>>(), "{text:?}");
        if text.is_ascii() {
            assert_eq!(ascii_word_count(text), words(text).count(), "{text:?}");
        }
        assert_eq!(has_whitespace(text), text.chars().any(char::is_whitespace), "{text:?}");
        let std_split = match text.split_once(char::is_whitespace) {
            Some((word, rest)) => (word, rest.trim_start()),
            None => (text, ""),
        };
        assert_eq!(split_word(text), std_split, "{text:?}");
    }

    #[test]
    fn words_split_as_split_whitespace_does() {
        let texts = [
            "", " ", "a", " a  b\t\tc ", "a\u{a0}b", "\u{2003}x\u{2003}", "é è", "a\x0bb\x0cc\rd\ne", "\u{85}z", "日本 語",
            "a\u{200b}b",
        ];
        texts.into_iter().for_each(assert_words_as_std);
    }

    proptest::proptest! {
        #[test]
        fn words_split_as_split_whitespace_does_for_any_text(text in "[ a=\t\r\n\x0b\x0c\u{a0}\u{85}\u{2003}\u{3000}é語]{0,12}|(?s).{0,12}") {
            assert_words_as_std(&text);
        }
    }

    #[test]
    fn env_assignments_need_a_name() {
        assert_eq!(env_assignment("WIBBLE=Derp herp wibble!"), Ok("WIBBLE"));
        assert_eq!(env_assignment("A="), Ok("A"));
        assert!(env_assignment("=x").is_err());
        assert!(env_assignment("novalue").is_err());
        assert!(env_assignment("A B=x").is_err());
    }
}
