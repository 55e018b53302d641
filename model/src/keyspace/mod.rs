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

mod entry;
mod stored;
mod trie;

use std::borrow::Cow;

use bytes::Bytes;

pub use entry::{Entry, Value};
pub use stored::{Stored, ValueRef, COMPACT_VALUE_MAX};
pub use trie::{key_hash, HashTrie, Iter};

use crate::functions::Libraries;
use crate::types::Limits;

/// A string where a collection was asked for (the caller answers WRONGTYPE).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NotCollection;

/// Default number of databases, as Redis.
pub const DATABASES_DEFAULT: usize = 16;

/// One database.
///
/// Command code reaches the map through these methods, so that the map type can change
/// without touching every command. Each key is a [`Stored`]: a short string with its key in
/// one block, anything else beside its key (see `stored.rs`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Db {
    entries: HashTrie<Stored>,
}

impl Db {
    /// The entry if present and not expired at `now_ms`.
    pub fn get_live(&self, key: &[u8], now_ms: u64) -> Option<Cow<'_, Entry>> {
        self.get_stored(key)
            .filter(|s| !s.is_expired(now_ms))
            .map(Stored::entry)
    }

    /// The entry whether or not it expired (callers decide about expiry). A short string's
    /// entry is rebuilt from its block; [`Db::get_stored`] reads without that.
    pub fn get(&self, key: &[u8]) -> Option<Cow<'_, Entry>> {
        self.entries.get(key).map(Stored::entry)
    }

    /// The key's stored form: its expiry and value without rebuilding an [`Entry`].
    pub fn get_stored(&self, key: &[u8]) -> Option<&Stored> {
        self.entries.get(key)
    }

    /// The entry, for a change in place. Copies only the map path to it if the map is shared
    /// with a view; the value itself is copy-on-write at its own level.
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut Entry> {
        self.entries.get_mut(key).map(Stored::entry_mut)
    }

    /// [`Db::get_mut`] for a change to a collection: a string key answers `Err` and stays in
    /// its stored form (`get_mut` would unpack a short string to hand out an `Entry`).
    pub fn get_mut_collection(&mut self, key: &[u8]) -> Option<Result<&mut Entry, NotCollection>> {
        let stored = self.entries.get_mut(key)?;
        Some(match stored.value() {
            ValueRef::Str(_) => Err(NotCollection),
            ValueRef::Other(_) => Ok(stored.entry_mut()),
        })
    }

    pub fn contains(&self, key: &[u8]) -> bool {
        self.entries.contains_key(key)
    }

    /// Inserts or replaces; whether the key was there before. The key and a string value up
    /// to [`COMPACT_VALUE_MAX`] bytes are copied into one exact-size block (`stored.rs`).
    pub fn insert(&mut self, key: Bytes, entry: Entry) -> bool {
        self.entries.insert(Stored::new(&key, entry)).is_some()
    }

    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        self.entries.remove(key).map(Stored::into_entry)
    }

    /// Removes every key.
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// Every key in walk order ((hash, key); see [`HashTrie`]), expired ones included.
    pub fn iter(&self) -> Iter<'_, Stored> {
        self.entries.iter()
    }

    /// Keys strictly after key `after` in walk order (from the first if `None`); `after`
    /// need not be present any more. Where SCAN and the expiry sweep resume: a key present
    /// during a whole walk keeps its place, so it is met exactly once.
    pub fn iter_after(&self, after: Option<&[u8]>) -> Iter<'_, Stored> {
        match after {
            Some(key) => self.entries.iter_after(key_hash(key), Some(key)),
            None => self.entries.iter(),
        }
    }

    /// Keys whose hash is at least `hash`, in walk order: a random draw starts at a random
    /// hash.
    pub fn iter_from_hash(&self, hash: u64) -> Iter<'_, Stored> {
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
            .filter(|s| s.expire_at_ms().is_some())
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

    /// Inserts or replaces a key, as loading does.
    pub fn insert(&mut self, db: usize, key: Bytes, entry: Entry) {
        self.dbs[db].insert(key, entry);
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

    #[test]
    fn a_value_is_a_bytes_and_its_tag() {
        assert_eq!(size_of::<Value>(), 40, "a Bytes and the tag");
    }

    #[test]
    fn stored_strings_own_exact_allocations() {
        let mut db = Db::default();
        let argument = Bytes::from(b"value".to_vec());
        let entry = Entry {
            value: Value::Str(argument.clone()),
            expire_at_ms: None,
        };
        assert!(!db.insert(argument.clone(), entry.clone()), "a new key");
        let stored = db.iter().next().expect("one key");
        let ValueRef::Str(value) = stored.value() else {
            panic!("a string")
        };
        assert_eq!((stored.key(), value), (&b"value"[..], &b"value"[..]));
        assert_ne!(
            stored.key().as_ptr(),
            argument.as_ptr(),
            "the key is a copy"
        );
        assert_ne!(value.as_ptr(), argument.as_ptr(), "the value is a copy");
        assert!(db.insert(argument.clone(), entry.clone()), "replaced");
        assert_eq!(db.remove(&argument), Some(entry));
        assert!(db.is_empty());
    }

    #[test]
    fn a_collection_change_leaves_a_string_alone() {
        let mut db = Db::default();
        let string = Entry {
            value: Value::Str(Bytes::from_static(b"v")),
            expire_at_ms: Some(7),
        };
        let list = Entry {
            value: Value::List(Box::new([Bytes::from_static(b"a")].into_iter().collect())),
            expire_at_ms: None,
        };
        db.insert(Bytes::from_static(b"s"), string.clone());
        db.insert(Bytes::from_static(b"l"), list);
        assert_eq!(db.get_mut_collection(b"s"), Some(Err(NotCollection)));
        assert_eq!(db.get(b"s").as_deref(), Some(&string));
        assert!(db.get_mut_collection(b"none").is_none());
        let Some(Ok(entry)) = db.get_mut_collection(b"l") else {
            panic!("a list is a collection")
        };
        entry.expire_at_ms = Some(9);
        assert_eq!(db.get_stored(b"l").and_then(Stored::expire_at_ms), Some(9));
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
