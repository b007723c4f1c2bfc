//! How the configuration finds the names it knows (attributes, options, an
//! IOC file's keys) and compares them: [`same_bytes`], and [`NameSlots`],
//! a table that finds a name among a list fixed at compile time with one
//! look-up and one compare. It owns no names; the modules that own them
//! build their tables here.

/// Slots of a [`NameSlots`].
const SLOTS: usize = 64;

/// A list of names fixed at compile time, each at the slot of its length
/// and of its byte at one place (its first, its seventh): a name is found
/// with one look-up and one compare, where a scan of the list compared it
/// with each name of its length.
pub(crate) struct NameSlots {
    names: &'static [&'static str],
    /// The place of the byte that, with the length, gives a name's slot.
    at: usize,
    /// Each name's place in `names` plus one (0: empty).
    places: [u8; SLOTS],
}

/// The slot of a name of `len` bytes whose byte at the table's place is `byte`.
const fn slot(len: usize, byte: u8) -> usize {
    ((len << 3) + byte as usize) % SLOTS
}

impl NameSlots {
    /// The table of `names`, by their length and their byte at `at` (every
    /// name has one). Refused at compile time when two names share a slot
    /// (choose another byte) or there are too many of them.
    pub(crate) const fn new(names: &'static [&'static str], at: usize) -> NameSlots {
        assert!(names.len() < u8::MAX as usize, "too many names for a NameSlots");
        let mut places = [0u8; SLOTS];
        let mut i = 0;
        while i < names.len() {
            let name = names[i].as_bytes();
            let slot = slot(name.len(), name[at]);
            assert!(places[slot] == 0, "two names share a slot of a NameSlots: choose another byte");
            places[slot] = i as u8 + 1;
            i += 1;
        }
        NameSlots { names, at, places }
    }

    /// The place in the table's list of the name spelled exactly `name`.
    pub(crate) fn find(&self, name: &[u8]) -> Option<usize> {
        let &byte = name.get(self.at)?;
        let i = usize::from(*self.places.get(slot(name.len(), byte))?).checked_sub(1)?;
        same_bytes(self.names.get(i)?.as_bytes(), name).then_some(i)
    }
}

/// Whether `a` and `b` hold the same bytes: a name of 4 to 24 bytes (every
/// attribute's and option's) is compared as two or three words that cover
/// it (overlapping: four bytes each below eight, eight from there), not by a
/// call of memcmp, which was a twentieth of a load's time for the
/// attributes and a tenth of ObjectOptions'. Inlined even at opt-level "z".
#[inline(always)]
pub(crate) fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let len = a.len();
    if len != b.len() {
        return false;
    }
    match len {
        4..=7 => {
            let word = |bytes: &[u8], at: usize| bytes.get(at..at + 4).and_then(|w| w.try_into().ok()).map_or(0, u32::from_le_bytes);
            word(a, 0) == word(b, 0) && word(a, len - 4) == word(b, len - 4)
        }
        8..=24 => {
            let word = |bytes: &[u8], at: usize| bytes.get(at..at + 8).and_then(|w| w.try_into().ok()).map_or(0, u64::from_le_bytes);
            let (middle, last) = ((len - 8) / 2, len - 8);
            word(a, 0) == word(b, 0) && word(a, middle) == word(b, middle) && word(a, last) == word(b, last)
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_is_found_at_its_place_and_nothing_else() {
        static NAMES: [&str; 4] = ["ALPHA", "BRAVO", "CHARLIE", "DELTA1"];
        static TABLE: NameSlots = NameSlots::new(&NAMES, 1);
        for (i, name) in NAMES.iter().enumerate() {
            assert_eq!(TABLE.find(name.as_bytes()), Some(i), "{name}");
        }
        for name in ["", "A", "ALPHA ", "ALPHB", "aLPHA", "BRAVO\0", "CHARLI", "DELTA2", "É"] {
            assert_eq!(TABLE.find(name.as_bytes()), None, "{name:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn same_bytes_is_equality(a in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..30), flip in 0usize..30) {
            let mut b = a.clone();
            assert!(same_bytes(&a, &b));
            if let Some(byte) = b.get_mut(flip) {
                *byte ^= 1;
                assert!(!same_bytes(&a, &b));
            }
            b.push(0);
            assert!(!same_bytes(&a, &b) && !same_bytes(&b, &a));
        }
    }
}
