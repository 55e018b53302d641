//! Typed access to a key's value for the collection commands: Redis's
//! `lookupKeyReadOrReply` / `lookupKeyWrite` + `checkType`, without copying the value.
//!
//! Owns the WRONGTYPE rule for collections and the create-on-write step. Invariants: a key
//! holding another type is never read or changed, only answered with WRONGTYPE; a key created
//! for a write is either filled by the caller or removed again by [`Exec::changed`], so no
//! empty collection ever stays in the keyspace.

use bytes::Bytes;

use super::exec::Exec;
use super::reply;
use crate::keyspace::{Entry, NotCollection, Value, ValueRef};
use crate::resp::Frame;
use crate::types::{HashValue, ListValue, SetValue, StreamValue, ZSetValue};

/// A collection type as a variant of [`Value`].
pub(crate) trait Typed: Sized {
    fn of(value: &Value) -> Option<&Self>;
    fn of_mut(value: &mut Value) -> Option<&mut Self>;
}

macro_rules! typed {
    ($t:ty, $variant:ident) => {
        impl Typed for $t {
            fn of(value: &Value) -> Option<&Self> {
                match value {
                    Value::$variant(v) => Some(v),
                    _ => None,
                }
            }
            fn of_mut(value: &mut Value) -> Option<&mut Self> {
                match value {
                    Value::$variant(v) => Some(v),
                    _ => None,
                }
            }
        }
    };
}

typed!(ListValue, List);
typed!(HashValue, Hash);
typed!(SetValue, Set);
typed!(ZSetValue, ZSet);
typed!(StreamValue, Stream);

fn wrongtype() -> Frame {
    reply::err(reply::WRONGTYPE)
}

/// The live value at `key` as a `T`: `Ok(None)` if absent, WRONGTYPE if another type.
pub(crate) fn read<'x, T: Typed>(x: &'x mut Exec<'_>, key: &Bytes) -> Result<Option<&'x T>, Frame> {
    match x.peek(key) {
        None => Ok(None),
        Some(ValueRef::Other(value)) => T::of(value).map(Some).ok_or_else(wrongtype),
        Some(ValueRef::Str(_)) => Err(wrongtype()),
    }
}

/// The live value at `key` as a mutable `T`, for a change the caller signals with
/// [`Exec::changed`]: `Ok(None)` if absent, WRONGTYPE if another type.
pub(crate) fn write<'x, T: Typed>(
    x: &'x mut Exec<'_>,
    key: &Bytes,
) -> Result<Option<&'x mut T>, Frame> {
    match x.peek_mut(key) {
        None => Ok(None),
        Some(Ok(entry)) => T::of_mut(&mut entry.value).map(Some).ok_or_else(wrongtype),
        Some(Err(NotCollection)) => Err(wrongtype()),
    }
}

/// [`write`], creating the key with `new()` (no TTL) when absent. The caller must call
/// [`Exec::changed`] afterwards, which removes the key again if it stayed empty.
pub(crate) fn write_or_create<'x, T: Typed>(
    x: &'x mut Exec<'_>,
    key: &Bytes,
    new: impl FnOnce() -> Value,
) -> Result<&'x mut T, Frame> {
    if x.peek(key).is_none() {
        let db = x.db();
        let entry = Entry {
            value: new(),
            expire_at_ms: None,
        };
        x.ks.dbs[db].insert(key.clone(), entry);
    }
    match write::<T>(x, key)? {
        Some(value) => Ok(value),
        None => unreachable!("created above"),
    }
}
