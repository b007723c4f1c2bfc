//! The strings of an object: ranges of one shared text, not a heap string
//! each. While a file is parsed, a value is a range of that file's text (no
//! copy, no allocation per line); when the configuration is whole,
//! [`pack`] copies every object's values into one text sized once, and the
//! files' texts are freed. What PID 1 keeps of a configuration is then one
//! allocation for all its objects' strings, and each string is 16 bytes in
//! its object (a `String` is 24 and an allocation of its own).
//!
//! A [`SharedStr`] reads as a `str` (it derefs to one) and a [`SharedPath`]
//! as a `Path`, so the engine and the CLI use them as they would a `String`
//! or a `PathBuf`.

use std::cell::Cell;
use std::fmt;
use std::ops::Deref;
use std::path::Path;
use std::sync::Arc;

/// A text that ranges point into: a file as read, or the packed values of a
/// configuration. `Box<str>` inside the `Arc` keeps the handle one pointer wide.
type Arena = Arc<Box<str>>;

/// A string of the configuration model: a range of a shared text.
///
/// Every range is a `str`'s own, within its text and at char boundaries:
/// each is made here from a `str` that is a part of its text ([`Values::keep`],
/// [`pack`]; a `str` inside a `str` starts and ends at its char boundaries,
/// as UTF-8 tells a char's first byte from the others), or checked to be one
/// ([`ranges`]). So the bytes of every string are UTF-8, and so is what
/// [`pack`] joins of them.
#[derive(Clone, Default)]
pub struct SharedStr {
    /// `None`: the empty string (no allocation).
    text: Option<Arena>,
    start: u32,
    len: u32,
}

impl SharedStr {
    /// The empty string (what `default` gives), for constants.
    pub(crate) const EMPTY: SharedStr = SharedStr { text: None, start: 0, len: 0 };

    pub fn as_str(&self) -> &str {
        let (start, end) = (self.start as usize, self.start as usize + self.len as usize);
        // A `let`, not `Option` combinators (a call each at opt-level "z"
        // where they are not inlined): every string of every object is read here.
        let Some(text) = self.text.as_deref() else { return "" };
        cut(text, start, end).unwrap_or_default()
    }

    /// The length of [`Self::as_str`], as its range has it (every range is
    /// a `str`'s own), not cut from the text: the parser asks whether each
    /// description is empty, and packing sums an IOC file's strings.
    #[inline(always)]
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// Whether [`Self::as_str`] is empty, as [`Self::len`] finds it.
    #[inline(always)]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The bytes of [`Self::as_str`], sliced without a char-boundary check:
    /// every range is made from a `str`'s own, so it is at char boundaries.
    /// Inlined even at opt-level "z": packing reads every string here, and
    /// the call was a fifth of copying one.
    #[inline(always)]
    fn as_bytes(&self) -> &[u8] {
        let (start, end) = (self.start as usize, self.start as usize + self.len as usize);
        match self.text.as_deref() {
            Some(text) => text.as_bytes().get(start..end).unwrap_or_default(),
            None => &[],
        }
    }

    /// A text of its own, for values that are not a range of a file (made,
    /// or changed on the way, as an IOC file's quoted values). Never
    /// inlined: in [`Values::keep`] its allocation made every call save and
    /// restore five registers, though nearly every value is a range.
    #[inline(never)]
    fn owned(value: &str) -> Self {
        SharedStr::range(&Arc::new(Box::from(value)), 0, value.len())
    }

    /// `len` bytes of `text` from `start`, or the empty string when that is
    /// empty or beyond 4 GiB (a value of its own that long; no configuration
    /// holds one). Inlined even at opt-level "z" (when every value kept was
    /// made here the call was a fifth of keeping one; [`Values::keep`]
    /// makes its ranges itself now, an IOC file's strings are made here).
    #[inline(always)]
    fn range(text: &Arena, start: usize, len: usize) -> Self {
        match (u32::try_from(start), u32::try_from(len)) {
            (Ok(start), Ok(len)) if len > 0 => SharedStr { text: Some(Arc::clone(text)), start, len },
            _ => SharedStr::default(),
        }
    }
}

/// `text[start..end]`, when that is a `str` of it: two cuts, each inlined,
/// where `str::get` of the range is a call.
#[inline(always)]
fn cut(text: &str, start: usize, end: usize) -> Option<&str> {
    match text.split_at_checked(end) {
        Some((head, _)) => match head.split_at_checked(start) {
            Some((_, part)) => Some(part),
            None => None,
        },
        None => None,
    }
}

/// `parts`, each a start and a length in `text`, as model strings of it
/// (two allocations for them all, not two each): the strings of an object
/// made from an IOC file, until [`pack`] copies them with the others. An
/// empty part is the empty string, and so is one that is not a `str` of
/// `text` (beyond it, or cutting a char): every range is a `str`'s own.
pub(crate) fn ranges<const N: usize>(text: String, parts: [(usize, usize); N]) -> [SharedStr; N] {
    let text: Arena = Arc::new(text.into_boxed_str());
    parts.map(|(start, len)| match cut(&text, start, start.saturating_add(len)) {
        Some(_) => SharedStr::range(&text, start, len),
        None => SharedStr::default(),
    })
}

/// The text of one file being parsed, that its values are ranges of.
pub(crate) struct FileText {
    text: Arena,
    /// The bytes of `text` that a range reaches: its length, at most 4 GiB
    /// (found once, not at each value kept).
    reach: usize,
    /// The bytes of the values kept while it was parsed, as ranges of it or
    /// (made on the way) copies: what [`pack`] will copy of this file,
    /// counted as they are made (see [`pack`]'s `size`).
    kept: Cell<usize>,
}

impl FileText {
    /// The text of a file, when it is UTF-8 (otherwise its lines are errors,
    /// and the values of the others are copied).
    pub fn new(bytes: Vec<u8>) -> Result<FileText, Vec<u8>> {
        match String::from_utf8(bytes) {
            Ok(text) => {
                let reach = text.len().min(u32::MAX as usize);
                Ok(FileText { text: Arc::new(text.into_boxed_str()), reach, kept: Cell::new(0) })
            }
            Err(e) => Err(e.into_bytes()),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The bytes of the values kept from this file so far.
    pub fn kept(&self) -> usize {
        self.kept.get()
    }
}

/// Where values come from while a file is parsed: its text, when it is
/// UTF-8 as a whole.
#[derive(Clone, Copy, Default)]
pub(crate) struct Values<'a> {
    file: Option<&'a FileText>,
}

impl<'a> Values<'a> {
    pub fn of(file: Option<&'a FileText>) -> Self {
        Values { file }
    }

    /// `value` as a model string: a range of the file's text when it is a
    /// part of it (no copy), a copy otherwise.
    pub fn keep(&self, value: &str) -> SharedStr {
        if value.is_empty() {
            return SharedStr::default();
        }
        if let Some(file) = self.file {
            // Counted as a range or a copy alike: packing copies either. Not
            // saturated (a fifth of keeping a value): a count that wrapped
            // would be short, and packing grows its text then.
            file.kept.set(file.kept.get().wrapping_add(value.len()));
            // Where the value starts and ends in the file's text: a part of
            // it when neither wraps nor passes its end. Past 4 GiB of a file
            // a range does not fit: a copy then. One test of the end for
            // both, not a test of the part and then of each number again
            // (a tenth of keeping a value).
            let start = (value.as_ptr() as usize).wrapping_sub(file.text.as_ptr() as usize);
            let end = start.wrapping_add(value.len());
            if start <= end && end <= file.reach {
                // Both fit: `end` does.
                return SharedStr { text: Some(Arc::clone(&file.text)), start: start as u32, len: value.len() as u32 };
            }
        }
        SharedStr::owned(value)
    }

    pub fn keep_path(&self, value: &str) -> SharedPath {
        SharedPath(self.keep(value))
    }
}

/// Copies every string that `strings` visits into one text, and points
/// them at it: what was a range of a file (or a string of its own) is then
/// a range of that one allocation, and the files' texts are freed.
/// `strings` calls its argument with each string, in the same order each time.
/// Values that would not all fit in 4 GiB (no configuration holds that
/// much) stay where they are, unpacked.
///
/// `size`: their bytes, as the caller counted them while it made them (the
/// parser, [`FileText::kept`]), so that the text is allocated once at its
/// size without a walk of every string to sum their lengths (a third of
/// packing). Were the count short, the text grows as it is filled; were it
/// long, the text is cut to its length: what it holds is the same.
///
/// Only the copy reads the text (as bytes): a string's length is its range's (`len`
/// is the length of [`SharedStr::as_str`] for every string made here), so
/// pointing at it does not look the text up again.
pub(crate) fn pack(size: usize, mut strings: impl FnMut(&mut dyn FnMut(&mut SharedStr))) {
    // Bytes, not strs: a checked `str` slice per string was most of the copy.
    let mut packed = Vec::with_capacity(size);
    strings(&mut |s| packed.extend_from_slice(s.as_bytes()));
    if u32::try_from(packed.len()).is_err() {
        return;
    }
    // Validated once as a whole. The bytes are those of whole strs (every
    // range is a str's own: made from a part of a str, or checked to be
    // one), so this cannot fail; were it to, the strings stay where they
    // are. Not taken unchecked: about 0.5 % of a load is not worth an
    // `unsafe` in the reader of group-writable IOC files.
    let Ok(packed) = String::from_utf8(packed) else { return };
    let packed: Arena = Arc::new(packed.into_boxed_str());
    let mut start = 0u32;
    strings(&mut |s| {
        // The empty string holds no text and stays as it is (only it has
        // none). Its text and start changed in place, its length kept: not
        // a string made and the old one dropped by a call.
        if let Some(text) = &mut s.text {
            *text = Arc::clone(&packed);
            s.start = start;
            // At most the packed text's length, which fits: the lengths are
            // those copied above. Not saturated: it cannot wrap.
            start = start.wrapping_add(s.len);
        }
    });
}

/// Whether `a` and `b` are ranges of one text (tests of [`pack`]'s callers).
#[cfg(test)]
pub(crate) fn same_text(a: &SharedStr, b: &SharedStr) -> bool {
    a.text.as_ref().zip(b.text.as_ref()).is_some_and(|(a, b)| Arc::ptr_eq(a, b))
}

impl Deref for SharedStr {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for SharedStr {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl From<&str> for SharedStr {
    fn from(value: &str) -> Self {
        Values::default().keep(value)
    }
}

impl From<String> for SharedStr {
    fn from(value: String) -> Self {
        SharedStr::from(value.as_str())
    }
}

impl From<&String> for SharedStr {
    fn from(value: &String) -> Self {
        SharedStr::from(value.as_str())
    }
}

impl fmt::Debug for SharedStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for SharedStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq for SharedStr {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for SharedStr {}

impl PartialEq<str> for SharedStr {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for SharedStr {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for SharedStr {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<SharedStr> for String {
    fn eq(&self, other: &SharedStr) -> bool {
        self == other.as_str()
    }
}

/// An object's runlevels: its `ObjectRunlevels` value as written (the
/// names, checked when the line was parsed, between whitespace), a string
/// of the model like the others, not a list of its own. So an object keeps
/// no allocation for them, and a reload none that would outlive the old
/// configuration among the new one's (docs/ARCHITECTURE.md, "PID 1's
/// memory, page by page"). Two lists are equal when their names are.
#[derive(Clone, Default)]
pub struct Runlevels(pub(crate) SharedStr);

impl Runlevels {
    /// The names, in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        super::values::words(self.0.as_str())
    }

    pub fn is_empty(&self) -> bool {
        // A list that starts with a name's byte is not empty: the checks ask
        // this of every object, and a search for the first word was a call.
        let starts_with_a_name = self.0.as_bytes().first().copied().is_some_and(super::values::is_name_byte);
        !starts_with_a_name && self.iter().next().is_none()
    }
}

/// Names between spaces (an IOC object's list, or a test's).
impl From<&str> for Runlevels {
    fn from(names: &str) -> Self {
        Runlevels(SharedStr::from(names))
    }
}

impl fmt::Debug for Runlevels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl PartialEq for Runlevels {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for Runlevels {}

/// A path of the configuration model (always UTF-8: it was written in a
/// configuration file): a [`SharedStr`] that reads as a `Path`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SharedPath(pub(crate) SharedStr);

impl SharedPath {
    pub fn as_path(&self) -> &Path {
        Path::new(self.0.as_str())
    }
}

impl Deref for SharedPath {
    type Target = Path;
    fn deref(&self) -> &Path {
        self.as_path()
    }
}

impl From<&str> for SharedPath {
    fn from(value: &str) -> Self {
        SharedPath(SharedStr::from(value))
    }
}

impl fmt::Debug for SharedPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_path(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_ranges_of_their_file_until_packed_into_one_text() {
        let file = FileText::new(b"ObjectID a\nObjectStartCommand /bin/x -y\n".to_vec()).ok().unwrap();
        let values = Values::of(Some(&file));
        let text = file.as_str();
        let mut kept = [values.keep(&text[9..10]), values.keep(&text[30..39]), values.keep("made"), values.keep("")];
        assert_eq!(kept.each_ref().map(|s| s.as_str()), ["a", "/bin/x -y", "made", ""]);
        assert!(Arc::ptr_eq(kept[0].text.as_ref().unwrap(), &file.text), "a range of the file, not a copy");
        assert!(kept[3].text.is_none(), "the empty string holds nothing");
        drop(file);
        pack(0, |f| kept.iter_mut().for_each(f));
        assert_eq!(kept.each_ref().map(|s| s.as_str()), ["a", "/bin/x -y", "made", ""]);
        let packed = kept[0].text.clone().unwrap();
        assert_eq!(&**packed, "a/bin/x -ymade", "one text, sized once");
        assert!(kept[..3].iter().all(|s| Arc::ptr_eq(s.text.as_ref().unwrap(), &packed)));
        assert!(kept[3].text.is_none(), "the empty string still holds nothing");
        assert_eq!(Arc::strong_count(&packed), 4, "the file's text is gone");
    }

    /// Every part of a file's text is kept as a range of it, at its place,
    /// whatever its place (the first byte, the last, the whole text), and
    /// a value of another text (the same bytes elsewhere in memory, before
    /// or after the file's) as a copy: what the test of a value's place in
    /// the file decides.
    #[test]
    fn a_value_is_a_range_of_its_file_exactly_when_it_is_a_part_of_it() {
        let others = b"before ObjectID a\nObjectStartCommand /bin/x -y\nafter".to_vec();
        let file = FileText::new(others[7..48].to_vec()).ok().unwrap();
        let values = Values::of(Some(&file));
        let text = file.as_str();
        for start in 0..text.len() {
            for end in start + 1..=text.len() {
                let kept = values.keep(&text[start..end]);
                assert_eq!(kept.as_str(), &text[start..end]);
                assert!(Arc::ptr_eq(kept.text.as_ref().unwrap(), &file.text), "{start}..{end}: a range of the file");
                assert_eq!((kept.start as usize, kept.len as usize), (start, end - start));
            }
        }
        let elsewhere = std::str::from_utf8(&others).unwrap();
        for value in [&elsewhere[..7], &elsewhere[7..48], &elsewhere[40..], "/bin/x -y"] {
            let kept = values.keep(value);
            assert_eq!(kept.as_str(), value);
            assert!(!Arc::ptr_eq(kept.text.as_ref().unwrap(), &file.text), "{value:?}: a copy");
        }
        assert!(values.keep(&text[3..3]).text.is_none(), "the empty string holds nothing");
    }

    /// Strings of every place of a text of chars of one to four bytes, as
    /// ranges ([`ranges`]: a part that cuts a char is the empty string) and
    /// as values kept from a file, each read back as its part after they are
    /// packed: what lets [`pack`] take their bytes as UTF-8 unchecked.
    #[test]
    fn strings_of_any_place_in_a_text_pack_into_utf_8() {
        let text = "a\u{e9}\u{20ac}\u{1f600}b\u{1f600}\u{20ac}\u{e9}c";
        let file = FileText::new(text.as_bytes().to_vec()).ok().unwrap();
        let values = Values::of(Some(&file));
        let (mut strings, mut parts) = (Vec::new(), Vec::new());
        for start in 0..=text.len() + 1 {
            for end in start..=text.len() + 1 {
                let part = text.get(start..end).unwrap_or_default();
                let [ranged] = ranges(text.to_string(), [(start, end - start)]);
                assert_eq!((ranged.as_str(), ranged.as_bytes()), (part, part.as_bytes()), "{start}..{end}");
                strings.push(ranged);
                parts.push(part);
                if let Some(part) = file.as_str().get(start..end) {
                    strings.push(values.keep(part));
                    parts.push(part);
                }
            }
        }
        let lengths = |strings: &[SharedStr]| strings.iter().map(|s| (s.len(), s.is_empty())).collect::<Vec<_>>();
        let part_lengths: Vec<_> = parts.iter().map(|p| (p.len(), p.is_empty())).collect();
        assert_eq!(lengths(&strings), part_lengths);
        pack(0, |f| strings.iter_mut().for_each(f));
        assert_eq!(strings.iter().map(SharedStr::as_str).collect::<Vec<_>>(), parts);
        assert_eq!(lengths(&strings), part_lengths);
        let packed = strings.iter().find_map(|s| s.text.clone()).unwrap();
        assert!(strings.iter().all(|s| s.text.as_ref().is_none_or(|t| Arc::ptr_eq(t, &packed))), "all packed");
        assert_eq!(packed.as_bytes(), parts.concat().as_bytes());
    }

    /// The size a caller counted is where the text starts: a count short
    /// or long packs the same text, exactly as long as the strings.
    #[test]
    fn a_size_counted_short_or_long_packs_the_same_text() {
        let file = FileText::new(b"ObjectID a\nObjectStartCommand /bin/x -y\n".to_vec()).ok().unwrap();
        let values = Values::of(Some(&file));
        let text = file.as_str();
        let kept = [values.keep(&text[9..10]), values.keep(&text[30..39]), values.keep("made"), values.keep("")];
        assert_eq!(file.kept(), 14, "the bytes of every value kept, a range or a copy: what packing copies");
        for size in [0, 3, 14, 15, 1000] {
            let mut packed = kept.clone();
            pack(size, |f| packed.iter_mut().for_each(f));
            assert_eq!(packed.each_ref().map(|s| s.as_str()), ["a", "/bin/x -y", "made", ""]);
            assert_eq!(&**packed[0].text.as_ref().unwrap().as_ref(), "a/bin/x -ymade", "size {size}");
        }
    }
}
