//! The line syntax of `epoch.conf`: comments, and splitting a line into an
//! attribute name and its value. Knows no attribute; yields statements.
//!
//! - One statement per line; leading spaces and tabs are allowed.
//! - `#` as the first non-blank character makes the line a comment; a `#`
//!   anywhere else is ordinary text (commands may contain it).
//! - `>!>` as the first non-blank characters opens a multi-line comment: the
//!   rest of that line and every following line are ignored up to a line that
//!   starts (after blanks) with `<!<`; the text after `<!<` on that line is
//!   processed as a line of its own. As in Epoch, both markers count only at
//!   the start of a line, so `ObjectID a>!>b` is just text.
//! - Name and value are separated by spaces/tabs, or by a single `=` with no
//!   blanks around it. After blanks a value may start with `=`
//!   (`BootBannerText ==== Welcome ====`), but a lone `=` between blanks
//!   (`Name = value`) is refused. Trailing blanks (and a CR of CRLF files)
//!   are dropped.

use crate::logging::Quoted;

/// One `Name value` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Statement<'a> {
    pub line: u32,
    /// The attribute's name, as bytes: the look-up compares bytes, and a
    /// `str` of it was a checked slice per line that only a diagnostic reads
    /// ([`Statement::name_text`]).
    pub name: &'a [u8],
    /// Empty when the line has only a name.
    pub value: &'a str,
}

impl<'a> Statement<'a> {
    /// The name as text, for diagnostics. It is whole chars: it is cut from
    /// a line that is text at an ASCII delimiter or the line's end.
    pub fn name_text(&self) -> &'a str {
        std::str::from_utf8(self.name).unwrap_or_default()
    }
}

/// A line that is not a statement, with its line number and what was expected.
pub(crate) type LineError = (u32, String);

const COMMENT_OPEN: &[u8] = b">!>";
const COMMENT_CLOSE: &[u8] = b"<!<";

/// Iterates over the statements of one file, in order, with the lines that
/// are malformed as errors in between.
pub(crate) struct Statements<'a> {
    rest: &'a [u8],
    line: u32,
    /// The line of the `>!>` of a multi-line comment still open.
    comment_open_at: Option<u32>,
    finished: bool,
    /// Whether the physical line just read holds a NUL byte: the search for
    /// its end finds them too (no second pass over the file or the line).
    line_has_nul: bool,
    /// The whole file, when it is known to be UTF-8: its lines are not
    /// validated again one by one.
    whole: Option<&'a str>,
}

impl<'a> Statements<'a> {
    pub fn new(text: &'a [u8]) -> Self {
        Statements { rest: text, line: 0, comment_open_at: None, finished: false, line_has_nul: false, whole: None }
    }

    /// The statements of a file already known to be UTF-8.
    pub fn of_text(text: &'a str) -> Self {
        Statements { whole: Some(text), ..Statements::new(text.as_bytes()) }
    }

    /// `line` (a part of the file) as text: a slice of the whole file when
    /// that is UTF-8 (a line ends at ASCII bytes, so at char boundaries),
    /// else validated now (empty if it is not text, which a checked line
    /// is). Inlined even at opt-level "z": every line's value is made text
    /// here, and the call was a third of the cost.
    #[inline(always)]
    fn text_of(&self, line: &'a [u8]) -> &'a str {
        // Plain `if let`s, not `Option` combinators: those were a call at
        // opt-level "z" once the function around them grew. Two cuts that
        // split at one char boundary each, inlined, not `str::get`'s range
        // (a call, a line).
        if let Some(whole) = self.whole {
            if let Some(start) = (line.as_ptr() as usize).checked_sub(whole.as_ptr() as usize) {
                if let Some((_, from)) = whole.split_at_checked(start) {
                    if let Some((text, _)) = from.split_at_checked(line.len()) {
                        return text;
                    }
                }
            }
        }
        std::str::from_utf8(line).unwrap_or_default()
    }

    /// The next line when it is a plain statement of a UTF-8 file, as most
    /// lines are: blanks, a name, then (after a blank or `=`) its value up
    /// to the line's end, in one pass: the line's end is looked for from the
    /// name's end, not over the name again, and the name's end from the
    /// line's start, not once the line is cut. `None`, and nothing read, for
    /// any other line (a blank line, a comment or a marker, a multi-line
    /// comment open, a NUL, a control byte or CR ending the name, a file
    /// that is not UTF-8): [`Self::next_physical_line`] and
    /// [`Self::classify`] read those, as they read every line before.
    fn plain_statement(&mut self) -> Option<(&'a [u8], usize)> {
        if self.whole.is_none() || self.comment_open_at.is_some() {
            return None;
        }
        let text = trim_start(skip_spaces(self.rest));
        if matches!(text.first(), None | Some(b'#' | b'>' | b'<')) {
            return None;
        }
        let (name_end, line_end) = plain_ends(text);
        if name_end == 0 {
            return None;
        }
        let (line, newline_and_rest) = text.split_at_checked(line_end)?;
        self.rest = newline_and_rest.get(1..).unwrap_or_default();
        self.line = self.line.saturating_add(1);
        // The CR of a CRLF line is dropped from the value's end: a name
        // holds none here (a CR ends the name's search, and that line is
        // read line by line).
        let line = match line.split_last() {
            Some((b'\r', before)) => before,
            _ => line,
        };
        Some((line, name_end))
    }

    fn next_physical_line(&mut self) -> Option<&'a [u8]> {
        if self.rest.is_empty() {
            return None;
        }
        let mut end = find_newline_or_nul(self.rest);
        self.line_has_nul = false;
        // A NUL is noted and the search goes on: the line ends at its newline.
        while let Some(nul) = end.filter(|&at| self.rest.get(at) == Some(&0)) {
            self.line_has_nul = true;
            end = self.rest.get(nul + 1..).and_then(find_newline_or_nul).map(|at| nul + 1 + at);
        }
        let (line, rest) = match end.and_then(|at| self.rest.split_at_checked(at)) {
            // The newline itself is in neither.
            Some((line, newline_and_rest)) => (line, newline_and_rest.get(1..).unwrap_or_default()),
            None => (self.rest, &[][..]),
        };
        self.rest = rest;
        self.line = self.line.saturating_add(1);
        Some(match line.split_last() {
            Some((b'\r', before)) => before,
            _ => line,
        })
    }

    /// What one physical line holds: `None` for blank and comment lines,
    /// else its statement's text (leading blanks removed) or why it has none.
    fn classify(&mut self, line: &'a [u8]) -> Option<Result<&'a [u8], LineError>> {
        let mut text = trim_start(line);
        if self.comment_open_at.is_some() {
            text = trim_start(text.strip_prefix(COMMENT_CLOSE)?);
            self.comment_open_at = None;
        }
        // The first byte tells an attribute's line (most lines) from a blank
        // line, a comment or a marker: one test, not a comparison per marker.
        match text.first() {
            None | Some(b'#') => return None,
            Some(b'>') if text.starts_with(COMMENT_OPEN) => {
                self.comment_open_at = Some(self.line);
                return None;
            }
            Some(b'<') if text.starts_with(COMMENT_CLOSE) => {
                return Some(Err((self.line, "stray `<!<`: expected it only to close a multi-line comment opened with `>!>`".into())));
            }
            Some(_) => {}
        }
        if self.line_has_nul && text.contains(&0) {
            return Some(Err((self.line, "line contains a NUL byte: expected text".into())));
        }
        // A file that is UTF-8 as a whole needs no check of its lines; the
        // lines of another are checked whole before any part of them is read.
        if self.whole.is_none() && std::str::from_utf8(text).is_err() {
            return Some(Err((self.line, "line is not valid UTF-8: expected text".into())));
        }
        Some(Ok(text))
    }

    /// Splits a non-blank, non-comment line (leading blanks already
    /// removed) that is text: the file is UTF-8, or the line was checked.
    /// Bytes, not chars: the delimiters are ASCII, so every cut is at a
    /// char boundary, and no char is decoded on the way; only the value is
    /// made a `str` (one checked slice a line, where the line, its name and
    /// its value were three).
    /// `name_end` is where the name ends ([`name_end`]).
    fn split_statement(&self, bytes: &'a [u8], name_end: usize) -> Result<Statement<'a>, LineError> {
        let line = self.line;
        // Only diagnostics read the whole line as text.
        let text = || self.text_of(bytes);
        let (name, rest) = bytes.split_at_checked(name_end).unwrap_or((bytes, &[]));
        if name.is_empty() {
            return Err((line, format!("expected an attribute name at the start of the line, got {}", Quoted::text(text()))));
        }
        // Slice patterns, not strip_prefix: a test of one byte, where a call
        // (at opt-level "z") would be made for every line.
        let starts_blank = |t: &[u8]| t.first().copied().is_some_and(is_blank);
        let (value, ambiguous) = match rest {
            // `Name= value` and `Name==value`: blanks or a second `=` after the
            // delimiter would silently go into the value (IDs, commands).
            [b'=', value @ ..] => (value, starts_blank(value) || value.first() == Some(&b'=')),
            // Blanks are the delimiter, and a value may start with `=`
            // (`BootBannerText ==== Welcome ====`), but not with a lone one:
            // `Name = value` means `Name=value` to a reader, `= value` to Epoch.
            _ => {
                let value = trim_start(rest);
                let lone_equals = match value {
                    [b'=', after @ ..] => after.is_empty() || starts_blank(after),
                    _ => false,
                };
                (value, lone_equals)
            }
        };
        if ambiguous {
            let text = text();
            let name = text.get(..name_end).unwrap_or_default();
            return Err((
                line,
                format!(
                    "{name}: expected `{name} value` or `{name}=value` (a single `=` with no blanks around it; \
                     a value after blanks may start with `=` only when no blank follows it), got {}",
                    Quoted::text(text)
                ),
            ));
        }
        Ok(Statement { line, name, value: self.text_of(trim_end(value)) })
    }
}

impl<'a> Iterator for Statements<'a> {
    type Item = Result<Statement<'a>, LineError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            // One call of split_statement for both ways: two were two
            // copies of it, or a call per line.
            let (text, name_end) = match self.plain_statement() {
                Some(plain) => plain,
                None => {
                    let Some(line) = self.next_physical_line() else { break };
                    match self.classify(line) {
                        None => continue,
                        Some(Err(error)) => return Some(Err(error)),
                        Some(Ok(text)) => (text, name_end(text)),
                    }
                }
            };
            return Some(self.split_statement(text, name_end));
        }
        if self.finished {
            return None;
        }
        self.finished = true;
        self.comment_open_at
            .map(|at| Err((at, "multi-line comment opened here with `>!>` is never closed: expected a line starting with `<!<`".into())))
    }
}

/// Where the name of a plain statement at the start of `text` ends, and
/// where its line does (its newline, or the text's end); `(0, 0)` when
/// the line is no plain statement (no name, a byte up to the `=` other
/// than a blank or a newline ending the name, a NUL or another byte that
/// [`may_end_line`] in the value). Both searches in one function that
/// opt-level "z" inlines into the line loop, its one caller, not a call of
/// each: a call and the reloading of its tests' constants cost about what a
/// third of a line's search does. Each search finds the first byte its
/// cheap test flags, and the byte found is told apart here, once: a line
/// with a rare byte (a digit in its name, a control byte) is read line by
/// line, as it would be if the searches had passed over that byte.
fn plain_ends(text: &[u8]) -> (usize, usize) {
    let name_end = find_possible_name_end(text).unwrap_or(text.len());
    let line_end = match text.get(name_end) {
        _ if name_end == 0 => return (0, 0),
        None | Some(b'\n') => name_end,
        Some(b' ' | b'\t' | b'=') => {
            let value = text.get(name_end..).unwrap_or_default();
            match find_first(value, line_stops_in, may_end_line) {
                Some(at) if value.get(at) == Some(&b'\n') => name_end + at,
                Some(_) => return (0, 0),
                None => text.len(),
            }
        }
        Some(_) => return (0, 0),
    };
    (name_end, line_end)
}

/// The index of the first `\n` or NUL of `bytes`. NULs are looked for on
/// the way, not by a search of the whole file before it (a second pass
/// over every byte); the other bytes the search flags are passed over.
fn find_newline_or_nul(bytes: &[u8]) -> Option<usize> {
    let mut from = 0;
    loop {
        let at = from + find_first(bytes.get(from..)?, line_stops_in, may_end_line)?;
        if matches!(bytes.get(at), Some(b'\n' | 0)) {
            return Some(at);
        }
        from = at + 1;
    }
}

/// The tests of a byte that may end a line, a word's and a byte's: one
/// whose bits are all in `0x0a` (a NUL, STX, backspace or a newline). One
/// mask and one test of a zero byte, where a test each of a newline and of
/// a NUL were twice that; the two control bytes that are no end are told
/// apart once found.
fn line_stops_in(word: u64) -> u64 {
    has_byte(word & !(ONES * u64::from(b'\n')), 0)
}

fn may_end_line(b: u8) -> bool {
    b & !b'\n' == 0
}

/// The end of the attribute name at the start of `bytes`: its first blank
/// or `=`, or its length. A byte loop: only the lines that are not plain
/// statements come here ([`plain_ends`] finds the others' names).
fn name_end(bytes: &[u8]) -> usize {
    let mut end = 0;
    while bytes.get(end).is_some_and(|&b| !is_blank(b) && b != b'=') {
        end += 1;
    }
    end
}

/// The index of the first byte of `bytes` that may end a name (an
/// attribute's, an option's): a blank, the `=`, but also any other byte up
/// to the `=` ([`may_end_name`]), which the caller tells apart. A word at a
/// time ([`find_first`]), inlined even at opt-level "z" as it is.
#[inline(always)]
pub(crate) fn find_possible_name_end(bytes: &[u8]) -> Option<usize> {
    find_first(bytes, name_stops_in, may_end_name)
}

/// The tests of a byte that may end a name, a word's and a byte's: every
/// byte up to the `=`, so a blank, the `=`, and a newline, a NUL, a CR or
/// another control byte, but also the punctuation and digits between them
/// that no attribute's name has. One test, where one of the bytes up to
/// the space and one of the `=` were twice that; [`plain_ends`] tells the
/// byte found apart.
fn name_stops_in(word: u64) -> u64 {
    has_byte_below(word, b'=' + 1)
}

fn may_end_name(b: u8) -> bool {
    b <= b'='
}

/// The index of the first byte of `bytes` that `flagged` is true of,
/// looked for eight bytes at a time: a word in which `flagged_in` (the
/// same test of each of its bytes) flags none (zero) is passed with a few
/// arithmetic operations (std's memchr is not public, and a byte loop is
/// what took the time). In the word that has one, the lowest bit
/// `flagged_in` sets is in the first such byte (see [`has_byte`]; the word
/// is read little-endian, its first byte lowest), so its index comes from
/// the bit's, not from a byte loop over the word. Inlined even at
/// opt-level "z", so that the tests are too: every line is searched for
/// its end and for its name's.
#[inline(always)]
fn find_first(bytes: &[u8], flagged_in: impl Fn(u64) -> u64, flagged: impl Fn(u8) -> bool) -> Option<usize> {
    let mut passed = 0;
    for word in bytes.chunks_exact(8) {
        let flags = flagged_in(u64::from_le_bytes(word.try_into().unwrap_or_default()));
        if flags != 0 {
            return Some(passed + (flags.trailing_zeros() / 8) as usize);
        }
        passed += 8;
    }
    // The last bytes, fewer than eight: a byte loop, not `position` (a call
    // at opt-level "z").
    let mut at = passed;
    while let Some(&b) = bytes.get(at) {
        if flagged(b) {
            return Some(at);
        }
        at += 1;
    }
    None
}

/// Each byte of a word 1, and each byte's top bit: the word tests below.
const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// Non-zero when a byte of `word` is `byte` (exactly when: the bit of the
/// first such byte is always set, and a word with none sets none).
#[inline(always)]
fn has_byte(word: u64, byte: u8) -> u64 {
    let zero_where_byte = word ^ (ONES * u64::from(byte));
    zero_where_byte.wrapping_sub(ONES) & !zero_where_byte & HIGH_BITS
}

/// Non-zero when a byte of `word` is below `bound` (at most 128; exactly
/// when, as for [`has_byte`]: a byte below the bound borrows from the one
/// above it, which can only set a bit above the first true one).
#[inline(always)]
fn has_byte_below(word: u64, bound: u8) -> u64 {
    word.wrapping_sub(ONES * u64::from(bound)) & !word & HIGH_BITS
}

fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Inlined even at opt-level "z": it runs twice a line (before the name and
/// before the value), and the call was most of its cost.
#[inline(always)]
fn trim_start(mut text: &[u8]) -> &[u8] {
    // A slice pattern, not `position` (a call at opt-level "z") nor an
    // index cut at the end (an `Option` and its empty default, a line).
    while let [b' ' | b'\t', rest @ ..] = text {
        text = rest;
    }
    text
}

/// `text` after its first spaces, up to eight passed at once: a line's
/// indent, which [`trim_start`] passed one by one at some ten instructions
/// a space. The first byte of a word that is no space is its lowest byte
/// that the xor with spaces leaves non-zero.
#[inline(always)]
fn skip_spaces(text: &[u8]) -> &[u8] {
    let Some(&word) = text.first_chunk::<8>() else { return text };
    let spaces = (u64::from_le_bytes(word) ^ (ONES * u64::from(b' '))).trailing_zeros() / 8;
    text.get(spaces as usize..).unwrap_or_default()
}

fn trim_end(text: &[u8]) -> &[u8] {
    let end = text.iter().rposition(|&b| !is_blank(b)).map_or(0, |last| last + 1);
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The statements of `text`, which both ways of reading a file must give.
    fn parse(text: &str) -> Vec<Result<(u32, String, String), u32>> {
        let read = |statements: Statements| -> Vec<_> {
            statements.map(|item| item.map(|s| (s.line, s.name_text().to_string(), s.value.to_string())).map_err(|(line, _)| line)).collect()
        };
        let as_text = read(Statements::of_text(text));
        assert_eq!(read(Statements::new(text.as_bytes())), as_text, "{text:?}");
        as_text
    }

    fn ok(line: u32, name: &str, value: &str) -> Result<(u32, String, String), u32> {
        Ok((line, name.into(), value.into()))
    }

    #[test]
    fn blank_equals_and_padding_forms() {
        let text = "ObjectID objectname\nObjectID=objectname\n\t  ObjectStopCommand=PID  \nObjectRunlevels\tturnips  boot\r\nObjectEnabled\n";
        assert_eq!(
            parse(text),
            vec![
                ok(1, "ObjectID", "objectname"),
                ok(2, "ObjectID", "objectname"),
                ok(3, "ObjectStopCommand", "PID"),
                ok(4, "ObjectRunlevels", "turnips  boot"),
                ok(5, "ObjectEnabled", ""),
            ]
        );
    }

    #[test]
    fn equals_with_blanks_is_refused() {
        for text in ["ObjectID = x", "ObjectID\t=\tx", "ObjectID =", "ObjectID= x", "ObjectID==x", "=x"] {
            assert_eq!(parse(text), vec![Err(1)], "{text}");
        }
        // An `=` later in the value is text.
        assert_eq!(parse("GlobalEnvVar=A=b c"), vec![ok(1, "GlobalEnvVar", "A=b c")]);
    }

    #[test]
    fn a_value_after_blanks_may_start_with_equals() {
        assert_eq!(parse("BootBannerText ==== Welcome ===="), vec![ok(1, "BootBannerText", "==== Welcome ====")]);
        assert_eq!(parse("ObjectDescription\t==> net <=="), vec![ok(1, "ObjectDescription", "==> net <==")]);
        assert_eq!(parse("ObjectID  =x"), vec![ok(1, "ObjectID", "=x")]);
        // After a single `=`, a value may not start with another one.
        assert_eq!(parse("BootBannerText=== Welcome"), vec![Err(1)]);
    }

    #[test]
    fn single_line_comments() {
        let text = "# one\n   # two\n\t#three\nObjectStartCommand echo # not a comment\n\n";
        assert_eq!(parse(text), vec![ok(4, "ObjectStartCommand", "echo # not a comment")]);
    }

    #[test]
    fn multi_line_comment_as_the_seed_shows_it() {
        let text = ">!> stuff\nstuff\nstuffy stuff\n<!< things\nthingy things\n";
        assert_eq!(parse(text), vec![ok(4, "things", ""), ok(5, "thingy", "things")]);
    }

    #[test]
    fn multi_line_comment_edges() {
        // Blanks before the markers; text after `<!<` may itself open again.
        let text = "  >!> a\nb <!< c\n\t<!<   >!> again\nhidden\n<!<ObjectID=x\n";
        assert_eq!(parse(text), vec![ok(5, "ObjectID", "x")]);
        // A `>!>` that is not at the start of a line is text.
        assert_eq!(parse("ObjectID a>!>b\n"), vec![ok(1, "ObjectID", "a>!>b")]);
        // `<!<` on the opening line does not close the comment.
        assert_eq!(parse(">!> a <!< b\nc\n<!<\nd e\n"), vec![ok(4, "d", "e")]);
        // An empty remainder after `<!<` and a `#` remainder are nothing.
        assert_eq!(parse(">!>\n<!<\n>!>\n<!< # note\n"), vec![]);
    }

    #[test]
    fn stray_and_unclosed_markers_are_errors_at_their_lines() {
        assert_eq!(parse("a b\n<!< c\n"), vec![ok(1, "a", "b"), Err(2)]);
        assert_eq!(parse("a b\n>!>\nc d\n"), vec![ok(1, "a", "b"), Err(2)]);
        assert_eq!(parse("a b\n>!>\n<!< <!< c\n"), vec![ok(1, "a", "b"), Err(3)]);
    }

    #[test]
    fn newlines_are_found_wherever_they_are() {
        for len in 0..20 {
            for at in 0..=len {
                let mut bytes = vec![0x8a_u8; len];
                if at < len {
                    bytes[at] = b'\n';
                }
                let expected = (at < len).then_some(at);
                assert_eq!(find_newline_or_nul(&bytes), expected, "{len} {at}");
                bytes.iter_mut().filter(|b| **b != b'\n').for_each(|b| *b = 0x0b);
                assert_eq!(find_newline_or_nul(&bytes), expected, "{len} {at}");
                // A NUL is found as a newline is, and so is the first of either.
                bytes.iter_mut().filter(|b| **b == b'\n').for_each(|b| *b = 0);
                assert_eq!(find_newline_or_nul(&bytes), expected, "{len} {at}");
                if at + 1 < len {
                    bytes[at + 1] = b'\n';
                    assert_eq!(find_newline_or_nul(&bytes), expected, "{len} {at}");
                }
            }
        }
    }

    #[test]
    fn name_ends_are_found_wherever_they_are() {
        for len in 0..20 {
            for at in 0..=len {
                for delimiter in [b' ', b'\t', b'='] {
                    // Bytes that end no name around it: a newline, a NUL,
                    // beyond ASCII, and those one above a delimiter that the
                    // word's test can flag falsely above a true one (`!`,
                    // backspace, `<`): the first flag is the true one.
                    let filler = [b'O', b'\n', 0, 0xc3, 0x80, b'!', 0x08, b'<'];
                    let mut bytes: Vec<u8> = (0..len).map(|k| filler[k % filler.len()]).collect();
                    if at < len {
                        bytes[at] = delimiter;
                    }
                    assert_eq!(name_end(&bytes), at, "{len} {at} {delimiter}");
                }
            }
        }
    }

    /// Each word test flags exactly the bytes its byte test does, and the
    /// first of them is found, wherever it is, whatever the bytes around it
    /// (those near the tests' bounds among them).
    #[test]
    fn word_and_byte_tests_flag_the_same_first_byte() {
        type Tests = (fn(u64) -> u64, fn(u8) -> bool, [u8; 5]);
        let tests: [Tests; 2] = [
            (name_stops_in, may_end_name, [b'>', b'?', b'O', 0x80, 0xff]),
            (line_stops_in, may_end_line, [1, 3, 0x0b, b'\t', 0xff]),
        ];
        for (flagged_in, flagged, fillers) in tests {
            for b in 0..=u8::MAX {
                for len in 0..20 {
                    for at in 0..=len {
                        let mut bytes: Vec<u8> = (0..len).map(|k| fillers[k % fillers.len()]).collect();
                        for later in (at..len).step_by(3) {
                            bytes[later] = b;
                        }
                        let expected = bytes.iter().position(|&b| flagged(b));
                        assert_eq!(find_first(&bytes, flagged_in, flagged), expected, "{bytes:?}");
                    }
                }
            }
        }
    }

    /// The line search passes over the bytes its test flags that end no
    /// line (STX and backspace), one or many, in a word or across two.
    #[test]
    fn the_line_search_passes_over_other_control_bytes() {
        for len in 0..20 {
            for end_at in 0..=len {
                for every in 1..4 {
                    for end in [b'\n', 0] {
                        let control_or_letter = |k: usize| if k % every == 0 { [2, 8][k % 2] } else { b'O' };
                        let mut bytes: Vec<u8> = (0..len).map(control_or_letter).collect();
                        if end_at < len {
                            bytes[end_at] = end;
                        }
                        assert_eq!(find_newline_or_nul(&bytes), (end_at < len).then_some(end_at), "{bytes:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn spaces_are_skipped_up_to_a_word_of_them() {
        for len in 0..20 {
            for spaces in 0..=len {
                for after in [b'O', b'\t', b'\n', 0x80] {
                    let mut bytes = vec![b' '; spaces];
                    bytes.resize(len, after);
                    let skipped = if len < 8 { 0 } else { spaces.min(8) };
                    assert_eq!(skip_spaces(&bytes), &bytes[skipped..], "{bytes:?}");
                }
            }
        }
    }

    /// A UTF-8 file read with its plain statements in one pass (the rest
    /// line by line) gives what reading every line whole gives, the
    /// errors' lines and messages included: names and values longer than
    /// a word of the searches, chars of two and three bytes beside the cuts.
    fn assert_read_as_line_by_line(text: &str) {
        let in_one_pass: Vec<_> = Statements::of_text(text).collect();
        let line_by_line: Vec<_> = Statements::new(text.as_bytes()).collect();
        assert_eq!(in_one_pass, line_by_line, "{text:?}");
    }

    proptest::proptest! {
        #[test]
        fn plain_statements_are_read_as_line_by_line(text in "([ \t=\r\n\x00\x01\x02\x08#<>!0aé€]|ObjectID|ObjectStartCommand|<!<|>!>){0,24}") {
            assert_read_as_line_by_line(&text);
        }
    }

    #[test]
    fn bytes_that_are_not_text() {
        let text = b"a b\nc \xff\xfe\nd\0e\n# \xff in a comment is fine\n>!>\n\xff\n<!<\nf g";
        let got: Vec<_> = Statements::new(text).map(|i| i.map(|s| s.line).map_err(|e| e.0)).collect();
        assert_eq!(got, vec![Ok(1), Err(2), Err(3), Ok(8)]);
    }
}
