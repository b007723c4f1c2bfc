//! Finds the first object with a given ObjectID among those read so far,
//! in constant time and without a copy of the IDs: a hash of each ID maps to
//! the first object with that hash; the ID itself is read from the object.
//! Two IDs with one hash (32 bits: rare, about one pair in a hundred
//! configurations of 10,000 objects; a file can make it happen on purpose)
//! fall back to a scan: the answer stays right, only slower.
//!
//! The map is a table of its own (open addressing, linear probing, at most
//! half full), not std's `HashMap`: an ID is inserted once and never
//! removed, and the general map's probing and growth took 1.7 times the
//! instructions of this table's (docs/ARCHITECTURE.md, "Config parse and
//! listing", round 16).

use super::model::Object;

/// Object IDs by hash: index into the caller's list of objects.
#[derive(Default)]
pub(crate) struct IdIndex {
    /// 2^n slots (none before the first insert), each free (0) or a hash
    /// (the high half) and the first object with it, plus one (the low
    /// half). At most half of them are used, so a walk from any slot meets
    /// a free one soon.
    slots: Vec<u64>,
    used: usize,
}

impl IdIndex {
    /// An index of `objects` (the first of each ID counts).
    pub fn of(objects: &[Object]) -> Self {
        let mut index = IdIndex::default();
        index.grow_to(2 * objects.len());
        for (k, object) in objects.iter().enumerate() {
            // What the insert answers (a duplicate, or `k` itself) is not asked.
            index.insert(&object.id, k, &by_index(objects));
        }
        index
    }

    /// The first of `objects` with ID `id`.
    pub fn find(&self, id: &str, objects: &[Object]) -> Option<usize> {
        let hash = hash(id);
        let first = self.slots.get(self.place_of(hash)).and_then(|&slot| first_of(slot))?;
        first_with(id, first, &by_index(objects))
    }

    /// Records that object `k`, the one after those `object_at` gives (by
    /// index, `None` past the last), has ID `id`; returns the first of them
    /// with the same ID, if any. One hash and one walk of the table (every
    /// object is inserted); `object_at` is asked only when the hash was
    /// seen before (the parser's objects are not one slice while it reads).
    pub fn insert<'a>(&mut self, id: &str, k: usize, object_at: &dyn Fn(usize) -> Option<&'a Object>) -> Option<usize> {
        if 2 * (self.used + 1) > self.slots.len() {
            self.grow_to(2 * self.slots.len());
        }
        let hash = hash(id);
        let place = self.place_of(hash);
        let slot = self.slots.get_mut(place)?;
        match first_of(*slot) {
            // The slot stays the first object's with this hash.
            Some(first) => first_with(id, first, object_at),
            None => {
                // An index past u32::MAX - 1 (no configuration holds so
                // many objects) is not recorded: its duplicates go unseen.
                if let Ok(first) = u32::try_from(k + 1) {
                    *slot = u64::from(hash) << 32 | u64::from(first);
                    self.used += 1;
                }
                None
            }
        }
    }

    /// Where `hash` is, or the free slot where it goes: the slot its low
    /// bits name or the first after it (round the table) that holds it or
    /// is free. `slots.len()` (out of the table) when there is neither.
    fn place_of(&self, hash: u32) -> usize {
        let mask = self.slots.len().wrapping_sub(1);
        let mut place = hash as usize & mask;
        for _ in 0..self.slots.len() {
            match self.slots.get(place) {
                Some(&slot) if slot != 0 && (slot >> 32) as u32 != hash => place = (place + 1) & mask,
                _ => return place,
            }
        }
        self.slots.len()
    }

    /// The table with `size` slots (a power of two, at least 64), every
    /// hash recorded placed again.
    fn grow_to(&mut self, size: usize) {
        let size = size.max(64).next_power_of_two();
        let old = std::mem::replace(&mut self.slots, vec![0; size]);
        for slot in old {
            if slot != 0 {
                let place = self.place_of((slot >> 32) as u32);
                if let Some(free) = self.slots.get_mut(place) {
                    *free = slot;
                }
            }
        }
    }
}

/// The object a used slot names.
fn first_of(slot: u64) -> Option<usize> {
    (slot as u32).checked_sub(1).map(|k| k as usize)
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

/// FNV-1a, 64 bits, folded to 32: short IDs hash in a few nanoseconds.
fn hash(id: &str) -> u32 {
    let hash = id.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, b| (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    (hash ^ hash >> 32) as u32
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
        index.grow_to(64);
        for id in ["x", "y"] {
            let place = index.place_of(hash(id));
            index.slots[place] = u64::from(hash(id)) << 32 | 1;
            index.used += 1;
        }
        assert_eq!(index.find("y", &list), Some(1));
        assert_eq!(index.find("x", &list), Some(0));
        assert_eq!(index.insert("z", 3, &|k| list.get(k)), None);
        assert_eq!(index.find("z", &objects(&["x", "y", "y", "z"])), Some(3));
    }

    /// The table answers as a map of each ID to its first object would,
    /// as it grows (64 slots to 4,096) and where IDs whose slots are one
    /// walk on past each other and round the end of the table.
    #[test]
    fn the_table_answers_as_a_map_of_each_id_to_its_first_object() {
        // Five IDs whose hashes name the last of 64 slots, then many more.
        let last_slot: Vec<String> = (0..).map(|n| format!("c{n}")).filter(|id| hash(id) & 63 == 63).take(5).collect();
        let mut ids: Vec<String> = last_slot.iter().chain(last_slot.iter()).cloned().collect();
        ids.extend((0..3000).map(|n| format!("o{}", n % 1700)));
        let list = objects(&ids.iter().map(String::as_str).collect::<Vec<_>>());
        let first = |id: &str| ids.iter().position(|other| other == id);
        let mut index = IdIndex::default();
        for (k, id) in ids.iter().enumerate() {
            let earlier = first(id).filter(|&f| f < k);
            assert_eq!(index.insert(id, k, &|j| list[..k].get(j)), earlier, "{id} at {k}");
            if k == 4 {
                assert_eq!(index.slots.len(), 64);
            }
        }
        assert_eq!((index.slots.len(), index.used), (4096, 5 + 1700));
        let built = IdIndex::of(&list);
        for id in ids.iter().map(String::as_str).chain(["c", "o1700", ""]) {
            assert_eq!(index.find(id, &list), first(id), "{id}");
            assert_eq!(built.find(id, &list), first(id), "{id}");
        }
    }
}
