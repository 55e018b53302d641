//! The set algebra: SINTER SINTERCARD SUNION SDIFF and SINTERSTORE SUNIONSTORE SDIFFSTORE.
//!
//! Invariants (Redis 7.0 `sinterGenericCommand`, `sunionDiffGenericCommand`): every key is
//! type-checked before any result (one WRONGTYPE answers the whole command); a missing key is
//! an empty set; a STORE replaces the destination whatever its type, is an `intset` iff every
//! member is an integer and they fit `set-max-intset-entries` (Redis builds it from an intset),
//! and an empty result deletes the destination; the inputs are read from O(1) clones.

use std::collections::BTreeSet;

use bytes::Bytes;

use super::exec::Exec;
use super::num::integer_arg;
use super::reply;
use super::set::members_frame;
use super::typed;
use crate::keyspace::{Entry, Value};
use crate::resp::Frame;
use crate::types::SetValue;

/// The sets at `keys` (`None` for a missing key), or WRONGTYPE.
fn load(x: &mut Exec<'_>, keys: &[Bytes]) -> Result<Vec<Option<SetValue>>, Frame> {
    keys.iter()
        .map(|k| typed::read::<SetValue>(x, k).map(|s| s.cloned()))
        .collect()
}

/// The intersection, in the smallest set's order, stopping after `limit` members (0: all).
fn inter(sets: &[Option<SetValue>], limit: usize) -> Vec<Bytes> {
    let Some(mut sets) = sets.iter().map(Option::as_ref).collect::<Option<Vec<_>>>() else {
        return Vec::new();
    };
    sets.sort_by_key(|s| s.len());
    let (first, rest) = sets.split_first().expect("at least one key");
    let found = first.iter().filter(|m| rest.iter().all(|s| s.contains(m)));
    if limit == 0 {
        found.collect()
    } else {
        found.take(limit).collect()
    }
}

fn union(sets: &[Option<SetValue>]) -> Vec<Bytes> {
    let all: BTreeSet<Bytes> = sets.iter().flatten().flat_map(SetValue::iter).collect();
    all.into_iter().collect()
}

fn diff(sets: &[Option<SetValue>]) -> Vec<Bytes> {
    let Some(Some(first)) = sets.first() else {
        return Vec::new();
    };
    first
        .iter()
        .filter(|m| !sets[1..].iter().flatten().any(|s| s.contains(m)))
        .collect()
}

#[derive(Clone, Copy)]
enum Op {
    Inter,
    Union,
    Diff,
}

fn compute(x: &mut Exec<'_>, op: Op, keys: &[Bytes]) -> Result<Vec<Bytes>, Frame> {
    let sets = load(x, keys)?;
    Ok(match op {
        Op::Inter => inter(&sets, 0),
        Op::Union => union(&sets),
        Op::Diff => diff(&sets),
    })
}

fn reply_with(x: &mut Exec<'_>, op: Op, keys: &[Bytes]) -> Frame {
    compute(x, op, keys).map_or_else(|e| e, members_frame)
}

pub(crate) fn sinter(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    reply_with(x, Op::Inter, &argv[1..])
}

pub(crate) fn sunion(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    reply_with(x, Op::Union, &argv[1..])
}

pub(crate) fn sdiff(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    reply_with(x, Op::Diff, &argv[1..])
}

/// Stores `members` at `dst` (deleting it when empty); the count.
pub(crate) fn store_set(x: &mut Exec<'_>, dst: &Bytes, members: Vec<Bytes>) -> Frame {
    let count = members.len();
    x.peek(dst);
    if count == 0 {
        if x.delete(dst) {
            x.add_dirty(1);
        }
        return reply::int(0);
    }
    let set = SetValue::from_members(members, &x.ks.limits).expect("members are distinct");
    let entry = Entry {
        value: Value::Set(set),
        expire_at_ms: None,
    };
    x.store(dst, entry);
    x.add_dirty(1);
    reply::count(count)
}

fn store_with(x: &mut Exec<'_>, op: Op, argv: &[Bytes]) -> Frame {
    match compute(x, op, &argv[2..]) {
        Ok(members) => store_set(x, &argv[1], members),
        Err(e) => e,
    }
}

pub(crate) fn sinterstore(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    store_with(x, Op::Inter, argv)
}

pub(crate) fn sunionstore(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    store_with(x, Op::Union, argv)
}

pub(crate) fn sdiffstore(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    store_with(x, Op::Diff, argv)
}

/// `numkeys key [key ...]` then `[LIMIT n]`, as SINTERCARD and ZINTERCARD parse them: the
/// keys and the limit (0: none).
/// ZINTERCARD words its numkeys errors as ZUNION does (`zset`).
pub(crate) fn card_args(argv: &[Bytes], zset: bool) -> Result<(&[Bytes], usize), Frame> {
    let numkeys = match integer_arg(&argv[1]) {
        Ok(n) if n > 0 => n,
        Ok(_) if zset => {
            return Err(reply::err(
                "ERR at least 1 input key is needed for 'zintercard' command",
            ))
        }
        Err(e) if zset => return Err(e),
        _ => return Err(reply::err("ERR numkeys should be greater than 0")),
    };
    let numkeys = usize::try_from(numkeys).unwrap_or(usize::MAX);
    if numkeys > argv.len() - 2 {
        return Err(reply::err(if zset {
            reply::SYNTAX
        } else {
            "ERR Number of keys can't be greater than number of args"
        }));
    }
    let keys = &argv[2..2 + numkeys];
    let mut limit = 0usize;
    let mut i = 2 + numkeys;
    while i < argv.len() {
        if argv[i].eq_ignore_ascii_case(b"limit") && i + 1 < argv.len() {
            let n = match integer_arg(&argv[i + 1]) {
                Ok(n) if n >= 0 => n,
                _ => return Err(reply::err("ERR LIMIT can't be negative")),
            };
            limit = usize::try_from(n).unwrap_or(usize::MAX);
            i += 2;
        } else {
            return Err(reply::err(reply::SYNTAX));
        }
    }
    Ok((keys, limit))
}

/// SINTERCARD numkeys key [key ...] [LIMIT limit].
pub(crate) fn sintercard(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    let (keys, limit) = match card_args(argv, false) {
        Ok(a) => a,
        Err(e) => return e,
    };
    match load(x, keys) {
        Ok(sets) => reply::count(inter(&sets, limit).len()),
        Err(e) => e,
    }
}
