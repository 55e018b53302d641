//! A key's value and expiry as commands see them: [`Value`] and [`Entry`].
//!
//! Owns the logical form of an entry (how it is stored is `stored.rs`'s business). Invariant:
//! every `Value` clones in O(1), which keeps a point-in-time view of the keyspace O(1) to take.

use bytes::Bytes;

use crate::types::{HashValue, ListValue, SetValue, StreamId, StreamValue, ZSetValue};

/// What a key's slot in a trie node takes (pinned by `stored.rs`'s layout test): the
/// estimate of MEMORY USAGE counts it for every key.
pub(super) const SLOT_BYTES: usize = 24;

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
    Stream(Box<StreamValue>),
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
            Value::Stream(_) => "stream",
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
            Value::Stream(s) => Some(s.encoding()),
        }
    }

    /// Whether the value is a collection left empty, which Redis never keeps (a stream may
    /// stay empty: its IDs and groups outlive its entries).
    pub fn is_empty_collection(&self) -> bool {
        !matches!(self, Value::Str(_) | Value::Stream(_)) && self.elements() == 0
    }

    /// Elements held (1 for a string).
    pub fn elements(&self) -> usize {
        match self {
            Value::Str(_) => 1,
            Value::List(l) => l.len(),
            Value::Hash(h) => h.len(),
            Value::Set(s) => s.len(),
            Value::ZSet(z) => z.len(),
            Value::Stream(s) => s.len(),
        }
    }

    /// Estimated heap bytes of the value (MEMORY USAGE): payload bytes plus a fixed cost per
    /// element for its slot in the structure.
    pub(super) fn heap_bytes(&self) -> usize {
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
            Value::Stream(s) => {
                let entries = s.range(StreamId::MIN, StreamId::MAX, false);
                let payload: usize = entries
                    .map(|(_, f)| f.iter().map(Bytes::len).sum::<usize>() + 16)
                    .sum();
                let pending: usize = s.groups.values().map(|g| g.pel.len() * 48).sum();
                payload + s.len() * PER_ELEMENT_BYTES + pending
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

    /// Estimated bytes this entry holds under `key` (MEMORY USAGE): the map slot, the key's
    /// and the value's bytes, and two allocation headers (the block's counts and malloc's).
    pub fn memory_bytes(&self, key: &[u8]) -> u64 {
        const ALLOCATION_OVERHEAD_BYTES: usize = 16;
        let overhead = 2 * ALLOCATION_OVERHEAD_BYTES;
        (SLOT_BYTES + key.len() + self.value.heap_bytes() + overhead) as u64
    }
}
