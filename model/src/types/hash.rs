//! The hash type: a listpack-like compact form and a hashtable-like large form.
//!
//! Owns the representation and the conversion rule of Redis 7.0's `t_hash.c`: a hash starts
//! compact and becomes a table, for good, once it holds more than `hash-max-listpack-entries`
//! fields or a field or value longer than `hash-max-listpack-value` bytes. Invariants: the
//! compact form keeps insertion order (its RDB listpack order) and never holds a field twice;
//! cloning either form is O(1), and a write to a clone copies at most the compact form's
//! vector (≤ the entries limit) or one path of the table (persistent map), never the whole
//! value: a point-in-time view shares it safely.

use std::sync::Arc;

use super::field_table::FieldTable;
use super::limits::Limits;
use bytes::Bytes;

/// A hash value.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum HashValue {
    /// `listpack`: field, value pairs in insertion order.
    Pack(Arc<Vec<(Bytes, Bytes)>>),
    /// `hashtable`: a persistent map in (field hash, field) order (`field_table.rs`): a
    /// lookup compares integers, and iteration, so every byte written from it, is
    /// deterministic.
    Table(FieldTable<Bytes>),
}

impl Default for HashValue {
    fn default() -> Self {
        HashValue::Pack(Arc::default())
    }
}

fn exceeds(limits: &Limits, len: usize) -> bool {
    len as u64 > limits.hash_max_listpack_value
}

impl HashValue {
    pub fn len(&self) -> usize {
        match self {
            HashValue::Pack(pairs) => pairs.len(),
            HashValue::Table(map) => map.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `OBJECT ENCODING`.
    pub fn encoding(&self) -> &'static str {
        match self {
            HashValue::Pack(_) => "listpack",
            HashValue::Table(_) => "hashtable",
        }
    }

    pub fn get(&self, field: &[u8]) -> Option<&Bytes> {
        match self {
            HashValue::Pack(pairs) => pairs.iter().find(|(f, _)| f == field).map(|(_, v)| v),
            HashValue::Table(map) => map.get(field),
        }
    }

    /// Every pair, in the form's order (insertion order when compact, hash order when large).
    pub fn iter(&self) -> Box<dyn Iterator<Item = (&Bytes, &Bytes)> + '_> {
        match self {
            HashValue::Pack(pairs) => Box::new(pairs.iter().map(|(f, v)| (f, v))),
            HashValue::Table(map) => Box::new(map.iter()),
        }
    }

    /// The pair at position `index` of [`HashValue::iter`]'s order (O(index) when large).
    pub fn nth(&self, index: usize) -> Option<(&Bytes, &Bytes)> {
        match self {
            HashValue::Pack(pairs) => pairs.get(index).map(|(f, v)| (f, v)),
            HashValue::Table(map) => map.iter().nth(index),
        }
    }

    /// Redis's `hashTypeSet`: sets `field`, converting to the large form first if either
    /// string is longer than the value limit, and after if the count went over the limit.
    /// Returns whether the field is new.
    pub fn insert(&mut self, field: Bytes, value: Bytes, limits: &Limits) -> bool {
        if matches!(self, HashValue::Pack(_))
            && (exceeds(limits, field.len()) || exceeds(limits, value.len()))
        {
            self.convert();
        }
        let new = match self {
            HashValue::Pack(pairs) => {
                let pairs = Arc::make_mut(pairs);
                match pairs.iter_mut().find(|(f, _)| *f == field) {
                    Some((_, v)) => {
                        *v = value;
                        false
                    }
                    None => {
                        pairs.push((field, value));
                        true
                    }
                }
            }
            HashValue::Table(map) => map.insert(field, value).is_none(),
        };
        if matches!(self, HashValue::Pack(_))
            && self.len() as u64 > limits.hash_max_listpack_entries
        {
            self.convert();
        }
        new
    }

    /// Removes `field`; whether it was there. The large form stays large (as Redis).
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match self {
            HashValue::Pack(pairs) => match pairs.iter().position(|(f, _)| f == field) {
                Some(at) => {
                    Arc::make_mut(pairs).remove(at);
                    true
                }
                None => false,
            },
            HashValue::Table(map) => map.remove(field).is_some(),
        }
    }

    /// To the large form (one way, as Redis).
    pub fn convert(&mut self) {
        if let HashValue::Pack(pairs) = self {
            *self = HashValue::Table(pairs.iter().cloned().collect());
        }
    }

    /// A hash loaded from an RDB or a RESTORE payload, encoded as Redis's loader would:
    /// compact iff the count is within the limit and, when `check_lengths` (plain type 4,
    /// zipmap and ziplist forms), every string is; listpack blobs keep their form whatever
    /// their string lengths. `None` if a field repeats.
    pub fn from_pairs(
        pairs: Vec<(Bytes, Bytes)>,
        limits: &Limits,
        check_lengths: bool,
    ) -> Option<HashValue> {
        let small = pairs.len() as u64 <= limits.hash_max_listpack_entries
            && (!check_lengths
                || pairs
                    .iter()
                    .all(|(f, v)| !exceeds(limits, f.len()) && !exceeds(limits, v.len())));
        let count = pairs.len();
        let map: FieldTable<Bytes> = pairs.iter().cloned().collect();
        if map.len() != count {
            return None;
        }
        Some(if small {
            HashValue::Pack(Arc::new(pairs))
        } else {
            HashValue::Table(map)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Bytes {
        Bytes::from(s.to_string())
    }

    /// Goal: the boundaries the facts sheet verified on Redis: a 64-byte value stays
    /// listpack, 65 converts; 512 fields stay, 513 convert; a delete never converts back.
    #[test]
    fn converts_at_redis_boundaries() {
        let limits = Limits::default();
        let mut h = HashValue::default();
        assert!(h.insert(b("f"), b(&"v".repeat(64)), &limits));
        assert_eq!(h.encoding(), "listpack");
        assert!(!h.insert(b("f"), b(&"v".repeat(65)), &limits));
        assert_eq!(h.encoding(), "hashtable");
        let mut h = HashValue::default();
        for i in 0..512 {
            h.insert(b(&i.to_string()), b("v"), &limits);
        }
        assert_eq!((h.encoding(), h.len()), ("listpack", 512));
        h.insert(b("512"), b("v"), &limits);
        assert_eq!((h.encoding(), h.len()), ("hashtable", 513));
        for i in 0..513 {
            assert!(h.remove(i.to_string().as_bytes()));
        }
        assert_eq!((h.encoding(), h.len()), ("hashtable", 0));
    }

    /// Goal: a view taken before a write keeps its contents (copy-on-write both forms).
    #[test]
    fn clones_are_points_in_time() {
        let limits = Limits::default();
        for n in [3, 600] {
            let mut h = HashValue::default();
            for i in 0..n {
                h.insert(b(&i.to_string()), b("old"), &limits);
            }
            let view = h.clone();
            h.insert(b("1"), b("new"), &limits);
            h.remove(b"2");
            assert_eq!(view.get(b"1"), Some(&b("old")));
            assert_eq!(view.get(b"2"), Some(&b("old")));
            assert_eq!(h.get(b"1"), Some(&b("new")));
        }
    }

    #[test]
    fn loading_refuses_duplicates_and_picks_the_form() {
        let limits = Limits::default();
        let dup = vec![(b("a"), b("1")), (b("a"), b("2"))];
        assert_eq!(HashValue::from_pairs(dup, &limits, true), None);
        let long = vec![(b("a"), b(&"x".repeat(100)))];
        let kept = HashValue::from_pairs(long.clone(), &limits, false).unwrap();
        assert_eq!(kept.encoding(), "listpack");
        let plain = HashValue::from_pairs(long, &limits, true).unwrap();
        assert_eq!(plain.encoding(), "hashtable");
    }
}
