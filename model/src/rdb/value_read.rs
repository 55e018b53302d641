//! Reading each collection value of an RDB file or RESTORE payload, every form Redis 7.0
//! reads (`rdbLoadObject`): lists 1/10/14/18, sets 2/11, sorted sets 3/5/12/17, hashes
//! 4/9/13/16, streams 15/19 (`stream.rs`).
//!
//! Owns the loader's re-encoding under the live [`Limits`] (plain and ziplist forms by count
//! and lengths, listpack and intset blobs by count only, as 7.0) and its refusals.
//! Invariants: never panics; an empty collection is `Ok(None)` (the caller skips the key, as
//! Redis) except an empty intset, which is corrupt; a repeated member or field, an odd pair
//! count, a NaN score or a damaged blob is an [`RdbError`], never a guess.

use bytes::Bytes;

use super::format::*;
use super::listpack;
use super::reader::{RdbError, Reader};
use super::stream;
use super::ziplist;
use crate::keyspace::Value;
use crate::types::{HashValue, Limits, ListValue, Score, SetValue, ZSetValue};

/// Whether `type_id` is a collection type this module reads.
pub(crate) fn is_collection(type_id: u8) -> bool {
    matches!(type_id, 1..=5 | 9..=19)
}

/// The value of collection type `type_id` at the reader (after the key); `None` if empty.
pub(crate) fn read_payload(
    r: &mut Reader<'_>,
    type_id: u8,
    limits: &Limits,
) -> Result<Option<Value>, RdbError> {
    let at = r.pos;
    let value = match type_id {
        TYPE_LIST | TYPE_LIST_ZIPLIST | TYPE_LIST_QUICKLIST | TYPE_LIST_QUICKLIST_2 => {
            let items = read_list(r, type_id, at)?;
            (!items.is_empty())
                .then(|| Value::List(Box::new(items.into_iter().collect::<ListValue>())))
        }
        TYPE_SET | TYPE_SET_INTSET => read_set(r, type_id, at, limits)?.map(Value::Set),
        TYPE_HASH | TYPE_HASH_ZIPMAP | TYPE_HASH_ZIPLIST | TYPE_HASH_LISTPACK => {
            let pairs = read_hash_pairs(r, type_id, at)?;
            if pairs.is_empty() {
                return Ok(None);
            }
            let check_lengths = type_id != TYPE_HASH_LISTPACK;
            let hash = HashValue::from_pairs(pairs, limits, check_lengths)
                .ok_or_else(|| RdbError::corrupt(at, "Duplicate hash fields detected"))?;
            Some(Value::Hash(hash))
        }
        TYPE_ZSET | TYPE_ZSET_2 | TYPE_ZSET_ZIPLIST | TYPE_ZSET_LISTPACK => {
            let pairs = read_zset_pairs(r, type_id, at)?;
            if pairs.is_empty() {
                return Ok(None);
            }
            let check_lengths = type_id != TYPE_ZSET_LISTPACK;
            let zset = ZSetValue::from_pairs(pairs, limits, check_lengths)
                .ok_or_else(|| RdbError::corrupt(at, "Duplicate zset fields detected"))?;
            Some(Value::ZSet(Box::new(zset)))
        }
        stream::TYPE_STREAM_LISTPACKS | stream::TYPE_STREAM_LISTPACKS_2 => {
            // A stream is kept even when empty: its IDs and groups are its state.
            Some(Value::Stream(Box::new(stream::read_stream(r, type_id)?)))
        }
        _ => unreachable!("callers pass only collection types"),
    };
    Ok(value)
}

fn blob_error(at: usize, what: &str, reason: String) -> RdbError {
    RdbError::corrupt(at, format!("{what} integrity check failed: {reason}"))
}

/// A count of items to come, bounded by the bytes left (each item takes at least one byte),
/// so a huge announced count cannot reserve memory the input cannot fill.
fn count(r: &mut Reader<'_>, what: &str) -> Result<usize, RdbError> {
    let at = r.pos;
    let n = r.plain_len(what)?;
    let left = (r.bytes.len() - r.pos) as u64;
    if n > left {
        return Err(RdbError::eof(at, what, n, r.bytes.len() - r.pos));
    }
    Ok(n as usize)
}

fn read_list(r: &mut Reader<'_>, type_id: u8, at: usize) -> Result<Vec<Bytes>, RdbError> {
    match type_id {
        TYPE_LIST => {
            let n = count(r, "a list length")?;
            (0..n).map(|_| r.string("a list element")).collect()
        }
        TYPE_LIST_ZIPLIST => {
            let blob = r.string("a list ziplist")?;
            ziplist::read(&blob).map_err(|e| blob_error(at, "Ziplist", e))
        }
        _ => {
            let nodes = count(r, "a quicklist node count")?;
            let mut items = Vec::new();
            for _ in 0..nodes {
                let node_at = r.pos;
                let container = if type_id == TYPE_LIST_QUICKLIST {
                    2
                } else {
                    r.plain_len("a quicklist container")?
                };
                let blob = r.string("a quicklist node")?;
                match (type_id, container) {
                    (TYPE_LIST_QUICKLIST, _) => items.extend(
                        ziplist::read(&blob).map_err(|e| blob_error(node_at, "Ziplist", e))?,
                    ),
                    (_, 1) => items.push(blob),
                    (_, 2) => items.extend(
                        listpack::read(&blob).map_err(|e| blob_error(node_at, "Listpack", e))?,
                    ),
                    (_, other) => {
                        return Err(RdbError::corrupt(
                            node_at,
                            format!("Quicklist integrity check failed: unknown container {other}"),
                        ))
                    }
                }
            }
            Ok(items)
        }
    }
}

fn read_set(
    r: &mut Reader<'_>,
    type_id: u8,
    at: usize,
    limits: &Limits,
) -> Result<Option<SetValue>, RdbError> {
    if type_id == TYPE_SET_INTSET {
        let blob = r.string("an intset")?;
        let ints = listpack::read_intset(&blob).map_err(|e| blob_error(at, "Intset", e))?;
        let mut set = SetValue::Ints(std::sync::Arc::new(ints));
        if set.len() as u64 > limits.set_max_intset_entries {
            set.convert();
        }
        return Ok(Some(set));
    }
    let n = count(r, "a set length")?;
    let members = (0..n)
        .map(|_| r.string("a set member"))
        .collect::<Result<Vec<_>, _>>()?;
    if members.is_empty() {
        return Ok(None);
    }
    SetValue::from_members(members, limits)
        .map(Some)
        .ok_or_else(|| RdbError::corrupt(at, "Duplicate set members detected"))
}

/// Consecutive items as pairs; an odd count is corrupt.
fn pairs(items: Vec<Bytes>, at: usize, what: &str) -> Result<Vec<(Bytes, Bytes)>, RdbError> {
    if !items.len().is_multiple_of(2) {
        return Err(blob_error(at, what, "odd number of entries".into()));
    }
    let mut it = items.into_iter();
    Ok(std::iter::from_fn(|| Some((it.next()?, it.next()?))).collect())
}

fn read_hash_pairs(
    r: &mut Reader<'_>,
    type_id: u8,
    at: usize,
) -> Result<Vec<(Bytes, Bytes)>, RdbError> {
    match type_id {
        TYPE_HASH => {
            let n = count(r, "a hash length")?;
            (0..n)
                .map(|_| Ok((r.string("a hash field")?, r.string("a hash value")?)))
                .collect()
        }
        TYPE_HASH_ZIPMAP => {
            let blob = r.string("a zipmap")?;
            ziplist::read_zipmap(&blob).map_err(|e| blob_error(at, "Zipmap", e))
        }
        TYPE_HASH_ZIPLIST => {
            let blob = r.string("a hash ziplist")?;
            pairs(
                ziplist::read(&blob).map_err(|e| blob_error(at, "Ziplist", e))?,
                at,
                "Ziplist",
            )
        }
        _ => {
            let blob = r.string("a hash listpack")?;
            pairs(
                listpack::read(&blob).map_err(|e| blob_error(at, "Listpack", e))?,
                at,
                "Listpack",
            )
        }
    }
}

fn score(text: &[u8], at: usize) -> Result<Score, RdbError> {
    std::str::from_utf8(text)
        .ok()
        .and_then(parse_score)
        .and_then(Score::new)
        .ok_or_else(|| RdbError::corrupt(at, "Zset score is not a valid number"))
}

/// `strtod` as the loader uses it: decimal, `inf`, `-inf`.
fn parse_score(t: &str) -> Option<f64> {
    match t.to_ascii_lowercase().as_str() {
        "inf" | "+inf" | "infinity" | "+infinity" => Some(f64::INFINITY),
        "-inf" | "-infinity" => Some(f64::NEG_INFINITY),
        other => other.parse().ok(),
    }
}

fn read_zset_pairs(
    r: &mut Reader<'_>,
    type_id: u8,
    at: usize,
) -> Result<Vec<(Bytes, Score)>, RdbError> {
    let text_pairs = |items: Vec<Bytes>, what: &str| -> Result<Vec<(Bytes, Score)>, RdbError> {
        pairs(items, at, what)?
            .into_iter()
            .map(|(m, s)| Ok((m, score(&s, at)?)))
            .collect()
    };
    match type_id {
        TYPE_ZSET | TYPE_ZSET_2 => {
            let n = count(r, "a zset length")?;
            let mut out = Vec::with_capacity(n);
            for _ in 0..n {
                let member = r.string("a zset member")?;
                let score_at = r.pos;
                let value = if type_id == TYPE_ZSET_2 {
                    f64::from_le_bytes(r.array("a zset score")?)
                } else {
                    string_double(r)?
                };
                let score = Score::new(value)
                    .ok_or_else(|| RdbError::corrupt(score_at, "Zset with NAN score detected"))?;
                out.push((member, score));
            }
            Ok(out)
        }
        TYPE_ZSET_ZIPLIST => {
            let blob = r.string("a zset ziplist")?;
            text_pairs(
                ziplist::read(&blob).map_err(|e| blob_error(at, "Ziplist", e))?,
                "Ziplist",
            )
        }
        _ => {
            let blob = r.string("a zset listpack")?;
            text_pairs(
                listpack::read(&blob).map_err(|e| blob_error(at, "Listpack", e))?,
                "Listpack",
            )
        }
    }
}

/// `rdbLoadDoubleValue`: a length byte (253 nan, 254 inf, 255 -inf) then ASCII.
fn string_double(r: &mut Reader<'_>) -> Result<f64, RdbError> {
    let at = r.pos;
    Ok(match r.u8("a zset score")? {
        253 => f64::NAN,
        254 => f64::INFINITY,
        255 => f64::NEG_INFINITY,
        len => {
            let text = r.take(u64::from(len), "a zset score")?;
            std::str::from_utf8(text)
                .ok()
                .and_then(parse_score)
                .ok_or_else(|| RdbError::corrupt(at, "Zset score is not a valid number"))?
        }
    })
}
