//! How one key and its entry are laid out in the keyspace's trie: [`Stored`].
//!
//! Owns the memory layout of a key. A string value of up to [`COMPACT_VALUE_MAX`] bytes lives
//! with its key, and its expiry if it has one, in one reference-counted block
//! `[expiry: 8 bytes LE, only if any][key][value]`, and the trie slot holds the block's pointer,
//! the key's length and whether the expiry is there (24 bytes). A key with no expiry pays
//! nothing for expiry. Everything else (collections, longer strings) keeps the key and the
//! [`Entry`] behind one shared pointer. Both forms clone in O(1) (a reference count), so a
//! write that copies a node of a shared trie copies pointers, not values.
//!
//! Invariant: the form is invisible. Equality, hashing, `Debug` and every accessor see only
//! (key, expiry, value), so which form holds an entry never changes a comparison, a state
//! hash of the model checker or a serialised byte.

use std::borrow::Cow;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use bytes::Bytes;

use super::entry::{Entry, Value};
use super::trie::TrieLeaf;

/// String values up to this size are stored in one block with their key.
pub const COMPACT_VALUE_MAX: usize = 4096;

/// Values up to this size are copied out of their block when read: a copy of a short value
/// costs less than the shared handle that would keep the block alive.
const COPY_OUT_MAX: usize = 256;

const EXPIRY_BYTES: usize = size_of::<u64>();

/// A compact entry's block: one allocation of an 8-byte reference count and the bytes.
/// (`std`'s `Arc` adds a weak count: 16 bytes more, which puts a 100-byte value with a short
/// key in glibc's 144-byte chunk instead of the 128-byte one.)
type Block = triomphe::Arc<[u8]>;

/// A key and its entry, in one of two forms (module doc).
#[derive(Clone)]
pub struct Stored(Form);

#[derive(Clone)]
enum Form {
    /// `[expiry if any][key][value]`; `key_len` bytes of key.
    Compact {
        block: Block,
        key_len: u32,
        expiry: Expiry,
    },
    /// The key (an exact-size copy) and the entry.
    Full(Arc<(Bytes, Entry)>),
}

/// Whether a compact block starts with an expiry (an enum, so the slot keeps a spare niche
/// for the trie's own slot tag and stays 24 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expiry {
    Absent,
    Prefixed,
}

/// A value as a reference, with a string's bytes the same whichever form holds them.
#[derive(Debug, PartialEq, Eq, Hash)]
pub enum ValueRef<'a> {
    Str(&'a [u8]),
    Other(&'a Value),
}

impl<'a> ValueRef<'a> {
    fn of(value: &'a Value) -> Self {
        match value {
            Value::Str(s) => ValueRef::Str(s),
            other => ValueRef::Other(other),
        }
    }
}

/// The bytes of `value` (in `block` from `start`) as a `Bytes` that outlives the borrow.
fn bytes_out(block: &Block, start: usize) -> Bytes {
    let value = &block[start..];
    if value.len() <= COPY_OUT_MAX {
        return Bytes::copy_from_slice(value);
    }
    Bytes::from_owner(BlockTail {
        block: Block::clone(block),
        start,
    })
}

/// A shared block seen from `start`: a long value handed out without a copy.
struct BlockTail {
    block: Block,
    start: usize,
}

impl AsRef<[u8]> for BlockTail {
    fn as_ref(&self) -> &[u8] {
        &self.block[self.start..]
    }
}

impl Stored {
    /// `key` and `entry` in the form their size calls for (the bytes are copied into exact
    /// allocations: what a command stores is usually a part of a larger request buffer).
    pub fn new(key: &[u8], entry: Entry) -> Self {
        match &entry.value {
            Value::Str(value) if value.len() <= COMPACT_VALUE_MAX => {
                Self::compact(key, value, entry.expire_at_ms)
            }
            _ => Stored(Form::Full(Arc::new((Bytes::copy_from_slice(key), entry)))),
        }
    }

    fn compact(key: &[u8], value: &[u8], expire_at_ms: Option<u64>) -> Self {
        let key_len = u32::try_from(key.len()).expect("keys are at most 512 MB");
        let at = expire_at_ms.map(u64::to_le_bytes);
        let (expiry, prefix): (_, &[u8]) = match &at {
            Some(at) => (Expiry::Prefixed, at),
            None => (Expiry::Absent, &[]),
        };
        // One allocation of the exact size: chained slice iterators know their length.
        let bytes = prefix.iter().chain(key).chain(value).copied();
        Stored(Form::Compact {
            block: bytes.collect(),
            key_len,
            expiry,
        })
    }

    /// Where the key starts in a compact block.
    fn key_start(expiry: Expiry) -> usize {
        match expiry {
            Expiry::Absent => 0,
            Expiry::Prefixed => EXPIRY_BYTES,
        }
    }

    pub fn key(&self) -> &[u8] {
        match &self.0 {
            Form::Compact {
                block,
                key_len,
                expiry,
            } => {
                let start = Self::key_start(*expiry);
                &block[start..start + *key_len as usize]
            }
            Form::Full(full) => &full.0,
        }
    }

    /// The key as a `Bytes` (a copy for the compact form; keys are short).
    pub fn key_bytes(&self) -> Bytes {
        match &self.0 {
            Form::Compact { .. } => Bytes::copy_from_slice(self.key()),
            Form::Full(full) => full.0.clone(),
        }
    }

    pub fn expire_at_ms(&self) -> Option<u64> {
        match &self.0 {
            Form::Compact {
                block,
                expiry: Expiry::Prefixed,
                ..
            } => {
                let mut at = [0u8; EXPIRY_BYTES];
                at.copy_from_slice(&block[..EXPIRY_BYTES]);
                Some(u64::from_le_bytes(at))
            }
            Form::Compact { .. } => None,
            Form::Full(full) => full.1.expire_at_ms,
        }
    }

    /// Whether the key is logically gone at `now_ms` (as [`Entry::is_expired`]).
    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.expire_at_ms().is_some_and(|at| at < now_ms)
    }

    /// The value, borrowed: a string's bytes whichever form holds them.
    pub fn value(&self) -> ValueRef<'_> {
        match &self.0 {
            Form::Compact {
                block,
                key_len,
                expiry,
            } => ValueRef::Str(&block[Self::key_start(*expiry) + *key_len as usize..]),
            Form::Full(full) => ValueRef::of(&full.1.value),
        }
    }

    /// The entry: borrowed in the full form, rebuilt (the value copied or shared out of its
    /// block) in the compact form.
    pub fn entry(&self) -> Cow<'_, Entry> {
        match &self.0 {
            Form::Compact {
                block,
                key_len,
                expiry,
            } => Cow::Owned(Entry {
                value: Value::Str(bytes_out(
                    block,
                    Self::key_start(*expiry) + *key_len as usize,
                )),
                expire_at_ms: self.expire_at_ms(),
            }),
            Form::Full(full) => Cow::Borrowed(&full.1),
        }
    }

    /// The entry, owned.
    pub fn into_entry(self) -> Entry {
        match self.0 {
            Form::Full(full) => Arc::try_unwrap(full).map_or_else(|full| full.1.clone(), |f| f.1),
            compact => Stored(compact).entry().into_owned(),
        }
    }

    /// The entry for a change in place: a compact entry moves to the full form first (the
    /// next store of a short string compacts it again).
    pub fn entry_mut(&mut self) -> &mut Entry {
        if let Form::Compact { .. } = self.0 {
            let full = (self.key_bytes(), self.entry().into_owned());
            self.0 = Form::Full(Arc::new(full));
        }
        let Form::Full(full) = &mut self.0 else {
            unreachable!("made full above")
        };
        &mut Arc::make_mut(full).1
    }

    /// MEMORY USAGE's estimate of this key ([`Entry::memory_bytes`]'s rule).
    pub fn memory_bytes(&self) -> u64 {
        match &self.0 {
            Form::Compact { .. } => {
                let ValueRef::Str(value) = self.value() else {
                    unreachable!("a compact entry holds a string")
                };
                let entry = Entry {
                    value: Value::Str(Bytes::new()),
                    expire_at_ms: None,
                };
                entry.memory_bytes(self.key()) + value.len() as u64
            }
            Form::Full(full) => full.1.memory_bytes(&full.0),
        }
    }
}

impl TrieLeaf for Stored {
    fn key(&self) -> &[u8] {
        Stored::key(self)
    }
}

impl PartialEq for Stored {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
            && self.expire_at_ms() == other.expire_at_ms()
            && self.value() == other.value()
    }
}

impl Eq for Stored {}

impl Hash for Stored {
    fn hash<S: Hasher>(&self, state: &mut S) {
        self.key().hash(state);
        self.expire_at_ms().hash(state);
        self.value().hash(state);
    }
}

impl std::fmt::Debug for Stored {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Stored")
            .field(&Bytes::copy_from_slice(self.key()))
            .field(&self.entry())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::super::trie::leaf_slot_bytes;
    use super::*;

    fn string(value: &[u8], expire_at_ms: Option<u64>) -> Entry {
        Entry {
            value: Value::Str(Bytes::copy_from_slice(value)),
            expire_at_ms,
        }
    }

    /// What a key's slot costs (README, "what a key costs"); a change here is a layout
    /// decision, not an accident.
    #[test]
    fn a_key_slot_is_24_bytes() {
        assert_eq!(
            size_of::<Stored>(),
            24,
            "block pointer, key length, expiry flag"
        );
        assert_eq!(
            leaf_slot_bytes::<Stored>(),
            24,
            "the trie's tag fits a niche"
        );
        assert_eq!(super::super::entry::SLOT_BYTES, leaf_slot_bytes::<Stored>());
    }

    #[test]
    fn both_forms_read_the_same_and_compare_equal() {
        let long = vec![b'x'; COMPACT_VALUE_MAX + 1];
        for value in [&b""[..], b"v", &[7u8; 300][..], &long[..]] {
            for expire_at_ms in [None, Some(0), Some(1_700_000_000_123)] {
                let entry = string(value, expire_at_ms);
                let stored = Stored::new(b"key", entry.clone());
                let full = Stored(Form::Full(Arc::new((
                    Bytes::from_static(b"key"),
                    entry.clone(),
                ))));
                assert_eq!(
                    matches!(stored.0, Form::Compact { .. }),
                    value.len() <= COMPACT_VALUE_MAX
                );
                for s in [&stored, &full] {
                    assert_eq!(s.key(), b"key");
                    assert_eq!(s.expire_at_ms(), expire_at_ms);
                    assert_eq!(s.value(), ValueRef::Str(value));
                    assert_eq!(*s.entry(), entry);
                    assert_eq!(s.clone().into_entry(), entry);
                    assert_eq!(s.memory_bytes(), entry.memory_bytes(b"key"));
                }
                assert_eq!(stored, full, "the form is invisible to equality");
                let hash = |s: &Stored| {
                    let mut h = std::collections::hash_map::DefaultHasher::new();
                    s.hash(&mut h);
                    h.finish()
                };
                assert_eq!(hash(&stored), hash(&full), "and to hashing");
                assert_ne!(stored, Stored::new(b"key", string(b"other", expire_at_ms)));
                assert_ne!(stored, Stored::new(b"key", string(value, Some(5))));
                assert_ne!(stored, Stored::new(b"kez", entry));
            }
        }
    }

    #[test]
    fn a_change_in_place_leaves_clones_alone() {
        let mut stored = Stored::new(b"k", string(b"before", Some(9)));
        let view = stored.clone();
        let entry = stored.entry_mut();
        entry.value = Value::Str(Bytes::from_static(b"after"));
        entry.expire_at_ms = None;
        assert_eq!(stored.value(), ValueRef::Str(b"after"));
        assert_eq!(stored.expire_at_ms(), None);
        assert_eq!(view.value(), ValueRef::Str(b"before"));
        assert_eq!(view.expire_at_ms(), Some(9));
        assert_eq!(stored.key(), view.key());
    }
}
