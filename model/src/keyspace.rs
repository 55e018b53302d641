//! The data set: 16 (configurable) databases of keys to values with optional absolute expiry.
//!
//! Owns the in-memory representation. Each database is a persistent ordered map (`imbl::OrdMap`),
//! so cloning a [`Keyspace`] is O(1) and shares structure: that clone is the point-in-time view a
//! snapshot or rewrite serialises while the engine keeps writing (no `fork()`). Ordered maps also
//! make iteration, hashing and therefore serialised bytes deterministic, which the model checker
//! requires.
//!
//! Invariant: an entry whose `expire_at_ms` is in the past is logically absent; readers go
//! through [`Db::get_live`] (or the command layer's lazy expiry), never through raw iteration.

use bytes::Bytes;
use imbl::OrdMap;

use crate::functions::Libraries;

/// Default number of databases, as Redis.
pub const DATABASES_DEFAULT: usize = 16;

/// A value. Strings only for now; other Redis types land with their commands.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Value {
    Str(Bytes),
}

impl Value {
    /// The name `TYPE` reports.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
        }
    }
}

/// A key's value and its absolute expiry time in unix milliseconds, if any.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
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
        let slot = size_of::<Bytes>() + size_of::<Entry>();
        let Value::Str(value) = &self.value;
        (slot + key.len() + value.len() + 2 * ALLOCATION_OVERHEAD_BYTES) as u64
    }
}

/// One database.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Db {
    pub entries: OrdMap<Bytes, Entry>,
}

impl Db {
    /// The entry if present and not expired at `now_ms`.
    pub fn get_live(&self, key: &[u8], now_ms: u64) -> Option<&Entry> {
        self.entries.get(key).filter(|e| !e.is_expired(now_ms))
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
            .values()
            .filter(|e| e.expire_at_ms.is_some())
            .count()
    }
}

/// All databases.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Keyspace {
    pub dbs: Vec<Db>,
    /// Function libraries (FUNCTION LOAD): data-set state, kept by FLUSHALL, written to RDB.
    pub functions: Libraries,
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
