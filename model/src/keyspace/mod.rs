//! The data set: 16 (configurable) databases of keys to values with optional absolute expiry.
//!
//! Owns the in-memory representation. Each database is a persistent hash trie ([`HashTrie`]),
//! so cloning a [`Keyspace`] is O(1) and shares structure: that clone is the point-in-time view a
//! snapshot or rewrite serialises while the engine keeps writing (no `fork()`). The trie walks
//! keys in (fixed-seed hash, key) order, a function of the key set alone, so iteration, hashing
//! and therefore serialised bytes are deterministic, which the model checker requires.
//!
//! Invariant: an entry whose `expire_at_ms` is in the past is logically absent; readers go
//! through [`Db::get_live`] (or the command layer's lazy expiry), never through raw iteration.

mod trie;

use bytes::Bytes;

pub use trie::{key_hash, HashTrie, Iter};

use crate::functions::Libraries;
use crate::types::{HashValue, Limits, ListValue, SetValue, ZSetValue};

/// Default number of databases, as Redis.
pub const DATABASES_DEFAULT: usize = 16;

/// A value: a string or one of the collection types of [`crate::types`]. Every variant clones
/// in O(1), which is what keeps a point-in-time view of the keyspace O(1) to take. The list
/// and sorted set are boxed: inline they were 64 and 96 bytes and made every key's slot 144
/// bytes, strings included; boxed, a `Value` is the size of a `Bytes` plus its tag (40).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Value {
    Str(Bytes),
    List(Box<ListValue>),
    Hash(HashValue),
    Set(SetValue),
    ZSet(Box<ZSetValue>),
}

impl Value {
    /// The name `TYPE` reports (and SCAN's TYPE option matches).
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::List(_) => "list",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
        }
    }

    /// `OBJECT ENCODING` of a collection; `None` for a string (its encoding depends on how it
    /// was stored, which the command layer decides).
    pub fn collection_encoding(&self) -> Option<&'static str> {
        match self {
            Value::Str(_) => None,
            Value::List(l) => Some(l.encoding()),
            Value::Hash(h) => Some(h.encoding()),
            Value::Set(s) => Some(s.encoding()),
            Value::ZSet(z) => Some(z.encoding()),
        }
    }

    /// Elements held (1 for a string).
    pub fn elements(&self) -> usize {
        match self {
            Value::Str(_) => 1,
            Value::List(l) => l.len(),
            Value::Hash(h) => h.len(),
            Value::Set(s) => s.len(),
            Value::ZSet(z) => z.len(),
        }
    }

    /// Estimated heap bytes of the value (MEMORY USAGE): payload bytes plus a fixed cost per
    /// element for its slot in the structure.
    fn heap_bytes(&self) -> usize {
        const PER_ELEMENT_BYTES: usize = 2 * size_of::<Bytes>();
        match self {
            Value::Str(s) => s.len(),
            Value::List(l) => {
                l.items.iter().map(Bytes::len).sum::<usize>() + l.len() * PER_ELEMENT_BYTES
            }
            Value::Hash(h) => {
                h.iter().map(|(f, v)| f.len() + v.len()).sum::<usize>()
                    + h.len() * PER_ELEMENT_BYTES
            }
            Value::Set(s) => s.iter().map(|m| m.len()).sum::<usize>() + s.len() * PER_ELEMENT_BYTES,
            Value::ZSet(z) => {
                z.iter().map(|(m, _)| m.len() + 8).sum::<usize>() + z.len() * PER_ELEMENT_BYTES
            }
        }
    }
}

/// A key's value and its absolute expiry time in unix milliseconds, if any.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Entry {
    pub value: Value,
    pub expire_at_ms: Option<u64>,
}

impl Entry {
    /// Whether the key is logically gone at `now_ms`: strictly after its expiry time, as Redis's
    /// `keyIsExpired` (`now > when`). (Commands that *set* an expiry treat a time `<= now` as
    /// already past and delete at once, as Redis's `checkAlreadyExpired`.)
    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.expire_at_ms.is_some_and(|at| at < now_ms)
    }

    /// Estimated bytes this entry holds under `key` (MEMORY USAGE): the map slot (key and
    /// entry structs), the key's and the value's heap bytes, and one allocation header each.
    pub fn memory_bytes(&self, key: &[u8]) -> u64 {
        const ALLOCATION_OVERHEAD_BYTES: usize = 16;
        let slot = trie::leaf_slot_bytes::<Entry>();
        (slot + key.len() + self.value.heap_bytes() + 2 * ALLOCATION_OVERHEAD_BYTES) as u64
    }
}

/// String values up to this size are copied into an allocation of their own when stored.
pub const COMPACT_VALUE_MAX: usize = 4096;

/// `bytes` in an allocation of exactly its size that nothing else refers to. What a command
/// stores is usually a clone of a request argument; cloning a `Bytes` made from a `Vec` gives it
/// a separate 24-byte reference-count block (32 with malloc's header) that then lives as long as
/// the key, and a `Vec` built by pushing may carry spare capacity. A copy of a short key or
/// value costs less than either, once, and leaves a `Bytes` with no extra block until it is
/// cloned again.
fn compact(bytes: &Bytes) -> Bytes {
    Bytes::copy_from_slice(bytes)
}

/// One database.
///
/// Command code reaches the map through these methods, so that the map type can change
/// without touching every command.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Db {
    entries: HashTrie<Entry>,
}

impl Db {
    /// The entry if present and not expired at `now_ms`.
    pub fn get_live(&self, key: &[u8], now_ms: u64) -> Option<&Entry> {
        self.entries.get(key).filter(|e| !e.is_expired(now_ms))
    }

    /// The entry whether or not it expired (callers decide about expiry).
    pub fn get(&self, key: &[u8]) -> Option<&Entry> {
        self.entries.get(key)
    }

    /// The entry, for a change in place. Copies only the map path to it if the map is shared
    /// with a view; the value itself is copy-on-write at its own level.
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut Entry> {
        self.entries.get_mut(key)
    }

    pub fn contains(&self, key: &[u8]) -> bool {
        self.entries.contains_key(key)
    }

    /// Inserts or replaces; the previous entry. The key and a string value up to
    /// [`COMPACT_VALUE_MAX`] bytes are stored in exact-size allocations of their own (see
    /// [`compact`]).
    pub fn insert(&mut self, key: Bytes, mut entry: Entry) -> Option<Entry> {
        if let Value::Str(s) = &mut entry.value {
            if s.len() <= COMPACT_VALUE_MAX {
                *s = compact(s);
            }
        }
        self.entries.insert(compact(&key), entry)
    }

    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        self.entries.remove(key)
    }

    /// Removes every key.
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// Every entry in walk order ((hash, key); see [`HashTrie`]), expired ones included.
    pub fn iter(&self) -> Iter<'_, Entry> {
        self.entries.iter()
    }

    /// Entries strictly after key `after` in walk order (from the first if `None`); `after`
    /// need not be present any more. Where SCAN and the expiry sweep resume: a key present
    /// during a whole walk keeps its place, so it is met exactly once.
    pub fn iter_after(&self, after: Option<&[u8]>) -> Iter<'_, Entry> {
        match after {
            Some(key) => self.entries.iter_after(key_hash(key), Some(key)),
            None => self.entries.iter(),
        }
    }

    /// Entries whose key hash is at least `hash`, in walk order: a random draw starts at a
    /// random hash.
    pub fn iter_from_hash(&self, hash: u64) -> Iter<'_, Entry> {
        self.entries.iter_after(hash, None)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Number of keys with an expiry (RDB's RESIZEDB and INFO keyspace report it).
    pub fn expires_count(&self) -> usize {
        self.entries
            .iter()
            .filter(|(_, e)| e.expire_at_ms.is_some())
            .count()
    }
}

/// All databases.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Keyspace {
    pub dbs: Vec<Db>,
    /// Function libraries (FUNCTION LOAD): data-set state, kept by FLUSHALL, written to RDB.
    pub functions: Libraries,
    /// The collection encoding thresholds in force (CONFIG SET updates them): commands and the
    /// RDB loader read them here, next to the values they shape.
    pub limits: Limits,
}

impl Default for Keyspace {
    fn default() -> Self {
        Self::new(DATABASES_DEFAULT)
    }
}

impl Keyspace {
    pub fn new(databases: usize) -> Self {
        assert!(databases >= 1 && databases <= u8::MAX as usize + 1);
        Self {
            dbs: vec![Db::default(); databases],
            functions: Libraries::default(),
            limits: Limits::default(),
        }
    }

    /// An empty keyspace whose collections convert at `limits`.
    pub fn with_limits(databases: usize, limits: Limits) -> Self {
        Self {
            limits,
            ..Self::new(databases)
        }
    }

    /// Total keys over all databases (including not-yet-reclaimed expired ones).
    pub fn len(&self) -> usize {
        self.dbs.iter().map(Db::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.dbs.iter().all(Db::is_empty)
    }

    /// Inserts or replaces a key, as loading does (the loader's `Bytes` are already exact
    /// copies of the file's bytes, so no second copy).
    pub fn insert(&mut self, db: usize, key: Bytes, entry: Entry) {
        self.dbs[db].entries.insert(key, entry);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_expires_strictly_after_its_time() {
        let entry = Entry {
            value: Value::Str(Bytes::from_static(b"v")),
            expire_at_ms: Some(100),
        };
        assert!(!entry.is_expired(99));
        assert!(!entry.is_expired(100), "Redis: expired iff now > when");
        assert!(entry.is_expired(101));
        let forever = Entry {
            expire_at_ms: None,
            ..entry
        };
        assert!(!forever.is_expired(u64::MAX));
    }

    /// What a key's slot costs (README, "what a key costs"); a change here is a layout
    /// decision, not an accident.
    #[test]
    fn a_key_slot_is_88_bytes() {
        assert_eq!(size_of::<Value>(), 40, "a Bytes and the tag");
        assert_eq!(size_of::<Entry>(), 56, "the value and Option<u64> expiry");
        assert_eq!(
            trie::leaf_slot_bytes::<Entry>(),
            88,
            "the key's Bytes and the entry"
        );
    }

    #[test]
    fn stored_strings_own_exact_allocations() {
        let mut db = Db::default();
        let argument = Bytes::from(b"value".to_vec());
        let entry = Entry {
            value: Value::Str(argument.clone()),
            expire_at_ms: None,
        };
        db.insert(argument.clone(), entry);
        let (key, stored) = db.iter().next().expect("one key");
        let Value::Str(value) = &stored.value else {
            panic!("a string")
        };
        assert_eq!((&key[..], &value[..]), (&b"value"[..], &b"value"[..]));
        assert_ne!(key.as_ptr(), argument.as_ptr(), "the key is a copy");
        assert_ne!(value.as_ptr(), argument.as_ptr(), "the value is a copy");
    }

    #[test]
    fn get_live_hides_expired_entries() {
        let mut ks = Keyspace::new(2);
        let entry = Entry {
            value: Value::Str(Bytes::from_static(b"v")),
            expire_at_ms: Some(100),
        };
        ks.insert(1, Bytes::from_static(b"k"), entry);
        assert!(ks.dbs[1].get_live(b"k", 100).is_some());
        assert!(ks.dbs[1].get_live(b"k", 101).is_none());
        assert_eq!((ks.len(), ks.dbs[1].expires_count()), (1, 1));
    }
}
