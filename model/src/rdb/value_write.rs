//! The RDB form of each collection value, as Redis 7.0's `rdbSaveObjectType` and
//! `rdbSaveObject` write it.
//!
//! Owns the writer's type choice and payloads: list → 18 `QUICKLIST_2` with listpack nodes
//! filled by `list-max-listpack-size` as Redis fills them when pushing; hash → 16 listpack or 4
//! table; set → 11 intset or 2 table; zset → 17 listpack or 5 `ZSET_2` (binary scores, highest
//! first). Invariant: every value is written in the form its encoding names, so Redis 7.0
//! loads it with the same `OBJECT ENCODING`, and `value_read` reads it back unchanged.

use std::io::{self, Write};

use super::format::*;
use super::listpack::{self, Builder};
use super::sink::Sink;
use crate::keyspace::Value;
use crate::types::float::{double_to_i64, format_g17};
use crate::types::{HashValue, Limits, ListValue, SetValue, ZSetValue};

/// Redis's `SIZE_SAFETY_LIMIT`: no packed node grows past this by count-based fill.
const NODE_SAFETY_BYTES: usize = 8192;
/// Node byte limits for fill -1..-5 (`optimization_level`).
const NODE_LEVEL_BYTES: [usize; 5] = [4096, 8192, 16384, 32768, 65536];
/// Redis's `SIZE_ESTIMATE_OVERHEAD` per element when deciding whether it fits a node.
const ELEMENT_OVERHEAD_BYTES: usize = 8;
/// Quicklist node containers (`src/quicklist.h`).
const CONTAINER_PLAIN: u64 = 1;
const CONTAINER_PACKED: u64 = 2;

/// The type byte Redis 7.0 writes for `value`.
pub(crate) fn type_id(value: &Value) -> u8 {
    match value {
        Value::Str(_) => TYPE_STRING,
        Value::List(_) => TYPE_LIST_QUICKLIST_2,
        Value::Hash(HashValue::Pack(_)) => TYPE_HASH_LISTPACK,
        Value::Hash(HashValue::Table(_)) => TYPE_HASH,
        Value::Set(SetValue::Ints(_)) => TYPE_SET_INTSET,
        Value::Set(SetValue::Table(_)) => TYPE_SET,
        Value::ZSet(z) => match **z {
            ZSetValue::Pack(_) => TYPE_ZSET_LISTPACK,
            ZSetValue::Skip(_) => TYPE_ZSET_2,
        },
        Value::Stream(_) => super::stream::TYPE_STREAM_LISTPACKS_2,
    }
}

/// The payload after the type byte and key.
pub(crate) fn write_payload<W: Write>(
    sink: &mut Sink<'_, W>,
    value: &Value,
    limits: &Limits,
) -> io::Result<()> {
    match value {
        Value::Str(s) => sink.string(s),
        Value::List(list) => write_list(sink, list, limits),
        Value::Hash(HashValue::Pack(pairs)) => {
            let mut lp = Builder::new();
            for (f, v) in pairs.iter() {
                lp.push(f);
                lp.push(v);
            }
            sink.string(&lp.finish())
        }
        Value::Hash(HashValue::Table(map)) => {
            sink.len(map.len() as u64)?;
            for (f, v) in map.iter() {
                sink.string(f)?;
                sink.string(v)?;
            }
            Ok(())
        }
        Value::Set(SetValue::Ints(ints)) => sink.string(&listpack::intset(ints)),
        Value::Set(SetValue::Table(set)) => {
            sink.len(set.len() as u64)?;
            set.iter().try_for_each(|(m, _)| sink.string(m))
        }
        Value::ZSet(z) => write_zset(sink, z),
        Value::Stream(s) => super::stream::write_stream(sink, s),
    }
}

fn write_zset<W: Write>(sink: &mut Sink<'_, W>, zset: &ZSetValue) -> io::Result<()> {
    match zset {
        ZSetValue::Pack(pairs) => {
            let mut lp = Builder::new();
            for (m, s) in pairs.iter() {
                lp.push(m);
                lp.push(score_text(s.get()).as_bytes());
            }
            sink.string(&lp.finish())
        }
        ZSetValue::Skip(skip) => {
            sink.len(skip.order.len() as u64)?;
            // Highest first, as Redis walks its skiplist from the tail.
            for (s, m) in skip.order.iter().rev() {
                sink.string(m)?;
                sink.bytes(&s.get().to_le_bytes())?;
            }
            Ok(())
        }
    }
}

/// A score as `zzlInsertAt` stores it: an integer when `double2ll` takes it, else `%.17g`.
fn score_text(score: f64) -> String {
    match double_to_i64(score) {
        Some(n) => n.to_string(),
        None => format_g17(score),
    }
}

/// `_quicklistNodeAllowInsert` (7.0): whether an element of `len` bytes joins a node of
/// `node_bytes` holding `node_count` elements under fill `fill`.
fn joins_node(node_bytes: usize, node_count: usize, len: usize, fill: i64) -> bool {
    let new_bytes = node_bytes + len + ELEMENT_OVERHEAD_BYTES;
    let level = usize::try_from(-fill - 1)
        .ok()
        .and_then(|i| NODE_LEVEL_BYTES.get(i));
    if level.is_some_and(|&limit| new_bytes <= limit) {
        return true;
    }
    new_bytes <= NODE_SAFETY_BYTES && i64::try_from(node_count).is_ok_and(|n| n < fill)
}

/// The nodes of `list` as a run of RPUSHes would fill them: (first index, count, plain).
/// Elements of at least `plain_bytes` get a PLAIN node of their own (`packed_threshold`).
fn nodes(list: &ListValue, fill: i64, plain_bytes: u64) -> Vec<(usize, usize, bool)> {
    let mut nodes: Vec<(usize, usize, bool)> = Vec::new();
    let mut node = Builder::new();
    for (i, item) in list.items.iter().enumerate() {
        if item.len() as u64 >= plain_bytes {
            nodes.push((i, 1, true));
            node = Builder::new();
            continue;
        }
        let open = matches!(nodes.last(), Some((_, _, false)));
        if !open || !joins_node(node.bytes(), node.count(), item.len(), fill) {
            nodes.push((i, 0, false));
            node = Builder::new();
        }
        node.push(item);
        nodes.last_mut().expect("a node is open").1 += 1;
    }
    nodes
}

fn write_list<W: Write>(
    sink: &mut Sink<'_, W>,
    list: &ListValue,
    limits: &Limits,
) -> io::Result<()> {
    let nodes = nodes(
        list,
        limits.list_max_listpack_size,
        limits.list_packed_threshold_bytes,
    );
    sink.len(nodes.len() as u64)?;
    for (first, count, plain) in nodes {
        let items = list.items.skip(first).take(count);
        if plain {
            sink.len(CONTAINER_PLAIN)?;
            sink.string(&items[0])?;
            continue;
        }
        sink.len(CONTAINER_PACKED)?;
        let mut lp = Builder::new();
        for item in items.iter() {
            lp.push(item);
        }
        sink.string(&lp.finish())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    /// Goal: Redis's node split (facts §4: 100 × 100-byte elements → 79 + 21) and a
    /// count-based fill.
    #[test]
    fn nodes_fill_as_redis() {
        let list: ListValue = (0..100).map(|_| Bytes::from(vec![b'x'; 100])).collect();
        let counts: Vec<usize> = nodes(&list, -2, 1 << 30).iter().map(|n| n.1).collect();
        assert_eq!(counts, [79, 21]);
        let small: ListValue = (0..10).map(|i| Bytes::from(i.to_string())).collect();
        let counts: Vec<usize> = nodes(&small, 4, 1 << 30).iter().map(|n| n.1).collect();
        assert_eq!(counts, [4, 4, 2]);
        assert!(nodes(&ListValue::default(), -2, 1 << 30).is_empty());
    }
}
