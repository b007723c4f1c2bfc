//! Finds the first object with a given ObjectID among those read so far,
//! in constant time and without a copy of the IDs: a hash of each ID maps to
//! the first object with that hash; the ID itself is read from the object.
//! Two IDs with one hash (rare; a file can make it happen on purpose) fall
//! back to a scan: the answer stays right, only slower.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::model::Object;

/// Object IDs by hash: index into the caller's list of objects.
#[derive(Default)]
pub(crate) struct IdIndex {
    first_by_hash: HashMap<u64, usize, BuildHasherDefault<AlreadyHashed>>,
}

impl IdIndex {
    /// An index of `objects` (the first of each ID counts).
    pub fn of(objects: &[Object]) -> Self {
        let mut index = IdIndex { first_by_hash: HashMap::with_capacity_and_hasher(objects.len(), Default::default()) };
        for (k, object) in objects.iter().enumerate() {
            // What the insert answers (a duplicate, or `k` itself) is not asked.
            index.insert(&object.id, k, &by_index(objects));
        }
        index
    }

    /// The first of `objects` with ID `id`.
    pub fn find(&self, id: &str, objects: &[Object]) -> Option<usize> {
        let &first = self.first_by_hash.get(&hash(id))?;
        first_with(id, first, &by_index(objects))
    }

    /// Records that object `k`, the one after those `object_at` gives (by
    /// index, `None` past the last), has ID `id`; returns the first of them
    /// with the same ID, if any. One hash and one look-up of the map (every
    /// object is inserted); `object_at` is asked only when the hash was
    /// seen before (the parser's objects are not one slice while it reads).
    pub fn insert<'a>(&mut self, id: &str, k: usize, object_at: &dyn Fn(usize) -> Option<&'a Object>) -> Option<usize> {
        match self.first_by_hash.entry(hash(id)) {
            Entry::Vacant(slot) => {
                slot.insert(k);
                None
            }
            // The slot stays the first object's with this hash.
            Entry::Occupied(slot) => first_with(id, *slot.get(), object_at),
        }
    }
}

/// `objects` by index, for [`first_with`] (one closure for every caller
/// with a slice: one copy of its code).
fn by_index<'a>(objects: &'a [Object]) -> impl Fn(usize) -> Option<&'a Object> {
    move |k| objects.get(k)
}

/// The first object with ID `id` of those `object_at` gives, given
/// `first`, the first with its hash: that one, or (another ID with the same
/// hash) a scan.
fn first_with<'a>(id: &str, first: usize, object_at: &dyn Fn(usize) -> Option<&'a Object>) -> Option<usize> {
    if object_at(first).is_some_and(|o| o.id == id) {
        Some(first)
    } else {
        (0..).map_while(object_at).position(|o| o.id == id)
    }
}

/// FNV-1a, 64 bits: short IDs hash in a few nanoseconds.
fn hash(id: &str) -> u64 {
    id.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, b| (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// The map's keys are hashes already: used as they are.
#[derive(Default)]
struct AlreadyHashed(u64);

impl Hasher for AlreadyHashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0 = bytes.iter().fold(self.0, |hash, &b| hash.rotate_left(8) ^ u64::from(b));
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn objects(ids: &[&str]) -> Vec<Object> {
        ids.iter().map(|id| Object { id: (*id).into(), ..Object::default() }).collect()
    }

    #[test]
    fn the_first_of_an_id_is_found() {
        let list = objects(&["a", "b", "a", "c", "b"]);
        let mut index = IdIndex::default();
        let earlier: Vec<Option<usize>> = list.iter().enumerate().map(|(k, o)| index.insert(&o.id, k, &|j| list[..k].get(j))).collect();
        assert_eq!(earlier, [None, None, Some(0), None, Some(1)]);
        let index = IdIndex::of(&list);
        assert_eq!(["a", "b", "c", "d"].map(|id| index.find(id, &list)), [Some(0), Some(1), Some(3), None]);
    }

    /// IDs that share a hash are still told apart (by the scan).
    #[test]
    fn ids_sharing_a_hash_are_told_apart() {
        let list = objects(&["x", "y", "y"]);
        let mut index = IdIndex::default();
        // As if "y" hashed as "x" does: the slot of "x" answers for it.
        index.first_by_hash.insert(hash("x"), 0);
        index.first_by_hash.insert(hash("y"), 0);
        assert_eq!(index.find("y", &list), Some(1));
        assert_eq!(index.find("x", &list), Some(0));
        assert_eq!(index.insert("z", 3, &|k| list.get(k)), None);
        assert_eq!(index.find("z", &objects(&["x", "y", "y", "z"])), Some(3));
    }
}
