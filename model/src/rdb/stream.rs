//! The RDB form of a stream: types 19 (`STREAM_LISTPACKS_2`, what Redis 7.0 writes) and 15
//! (`STREAM_LISTPACKS`, read only), as `rdbSaveObject` / `rdbLoadObject` lay them out.
//!
//! Owns the node listpacks (a master entry, then each entry as flags, ID deltas from the
//! master ID, and either the values alone when the fields are the master's, or the fields and
//! values) and the groups with their PELs. Invariants: every node is written with its live
//! entries only (no tombstones), so Redis 7.0 reads the same entries; reading never panics and
//! refuses an entry outside its ID order, a damaged listpack or a PEL entry without its
//! consumer as an [`RdbError`].

use std::io::{self, Write};
use std::sync::Arc;

use bytes::Bytes;

use super::listpack::{self, Builder};
use super::reader::{RdbError, Reader};
use super::sink::Sink;
use crate::types::stream::{Consumer, Fields, Group, Pending};
use crate::types::{StreamId, StreamValue};

pub(super) const TYPE_STREAM_LISTPACKS: u8 = 15;
pub(super) const TYPE_STREAM_LISTPACKS_2: u8 = 19;

const FLAG_DELETED: i64 = 1;
const FLAG_SAMEFIELDS: i64 = 2;

/// A node's entries as one listpack, against `master` (the node's key).
fn node_listpack(master: StreamId, entries: &[(StreamId, &Fields)]) -> Vec<u8> {
    let mut lp = Builder::new();
    let int = |lp: &mut Builder, n: i64| lp.push(n.to_string().as_bytes());
    let master_fields: Vec<&Bytes> = entries[0].1.iter().step_by(2).collect();
    int(&mut lp, entries.len() as i64);
    int(&mut lp, 0);
    int(&mut lp, master_fields.len() as i64);
    master_fields.iter().for_each(|f| lp.push(f));
    int(&mut lp, 0);
    for (id, fields) in entries {
        let names = fields.iter().step_by(2);
        let same =
            fields.len() / 2 == master_fields.len() && names.eq(master_fields.iter().copied());
        int(&mut lp, if same { FLAG_SAMEFIELDS } else { 0 });
        int(&mut lp, id.ms.wrapping_sub(master.ms) as i64);
        int(&mut lp, id.seq.wrapping_sub(master.seq) as i64);
        let n = (fields.len() / 2) as i64;
        if same {
            fields.iter().skip(1).step_by(2).for_each(|v| lp.push(v));
            int(&mut lp, n + 3);
        } else {
            int(&mut lp, n);
            fields.iter().for_each(|f| lp.push(f));
            int(&mut lp, 2 * n + 4);
        }
    }
    lp.finish()
}

/// The payload of a type-19 stream.
pub(crate) fn write_stream<W: Write>(sink: &mut Sink<'_, W>, s: &StreamValue) -> io::Result<()> {
    let nodes: Vec<StreamId> = s.nodes().map(|(start, _)| start).collect();
    sink.len(nodes.len() as u64)?;
    for (i, start) in nodes.iter().enumerate() {
        let end = nodes
            .get(i + 1)
            .and_then(|next| next.decr())
            .unwrap_or(StreamId::MAX);
        let entries: Vec<(StreamId, &Fields)> = s.range(*start, end, false).collect();
        sink.string(&start.to_raw())?;
        sink.string(&node_listpack(*start, &entries))?;
    }
    for n in [s.len() as u64, s.last_id.ms, s.last_id.seq] {
        sink.len(n)?;
    }
    for n in [
        s.first_id.ms,
        s.first_id.seq,
        s.max_deleted_id.ms,
        s.max_deleted_id.seq,
    ] {
        sink.len(n)?;
    }
    sink.len(s.entries_added)?;
    sink.len(s.groups.len() as u64)?;
    for (name, group) in s.groups.iter() {
        write_group(sink, name, group)?;
    }
    Ok(())
}

fn write_group<W: Write>(sink: &mut Sink<'_, W>, name: &Bytes, g: &Group) -> io::Result<()> {
    sink.string(name)?;
    sink.len(g.last_id.ms)?;
    sink.len(g.last_id.seq)?;
    sink.len(g.entries_read.unwrap_or(u64::MAX))?;
    sink.len(g.pel.len() as u64)?;
    for (id, p) in g.pel.iter() {
        sink.bytes(&id.to_raw())?;
        sink.bytes(&p.delivery_time_ms.to_le_bytes())?;
        sink.len(p.delivery_count)?;
    }
    sink.len(g.consumers.len() as u64)?;
    for (name, c) in g.consumers.iter() {
        sink.string(name)?;
        sink.bytes(&c.seen_time_ms.to_le_bytes())?;
        sink.len(c.pel.len() as u64)?;
        for id in c.pel.iter() {
            sink.bytes(&id.to_raw())?;
        }
    }
    Ok(())
}

/// A stream of type 15 or 19 at the reader (after the key).
pub(crate) fn read_stream(r: &mut Reader<'_>, type_id: u8) -> Result<StreamValue, RdbError> {
    let mut s = StreamValue::default();
    let nodes = r.plain_len("stream node count")?;
    for _ in 0..nodes {
        let at = r.pos;
        let key = r.string("stream node key")?;
        let master = StreamId::from_raw(&key).ok_or_else(|| {
            RdbError::corrupt(at, "Stream node key entry is not the size of a stream ID")
        })?;
        let at = r.pos;
        let blob = r.string("stream listpack")?;
        let items = listpack::read(&blob).map_err(|e| {
            RdbError::corrupt(at, format!("Stream listpack integrity check failed: {e}"))
        })?;
        if items.is_empty() {
            return Err(RdbError::corrupt(at, "Empty listpack inside stream"));
        }
        read_node(&mut s, master, &items).map_err(|e| RdbError::corrupt(at, e))?;
    }
    s.loaded();
    let at = r.pos;
    let length = r.plain_len("stream length")?;
    s.last_id = StreamId::new(
        r.plain_len("stream last id")?,
        r.plain_len("stream last id")?,
    );
    if type_id == TYPE_STREAM_LISTPACKS_2 {
        s.first_id = StreamId::new(r.plain_len("stream id")?, r.plain_len("stream id")?);
        s.max_deleted_id = StreamId::new(r.plain_len("stream id")?, r.plain_len("stream id")?);
        s.entries_added = r.plain_len("stream entries added")?;
    } else {
        s.first_id = s.first().map_or(StreamId::MIN, |(id, _)| id);
        s.entries_added = length;
    }
    if length != s.len() as u64 || s.last().is_some_and(|(id, _)| id > s.last_id) {
        return Err(RdbError::corrupt(
            at,
            "Stream length or last ID does not match its entries",
        ));
    }
    let groups = r.plain_len("stream group count")?;
    for _ in 0..groups {
        let (name, group) = read_group(r, type_id, &s)?;
        s.groups.insert(name, group);
    }
    Ok(s)
}

/// Reads an integer element of a node listpack.
fn int(item: Option<&Bytes>) -> Result<i64, String> {
    let item = item.ok_or("stream listpack ends inside an entry")?;
    std::str::from_utf8(item)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| "stream listpack holds a string where a number belongs".to_string())
}

/// The entries of one node listpack (`items`) keyed by `master`, into `s`.
fn read_node(s: &mut StreamValue, master: StreamId, items: &[Bytes]) -> Result<(), String> {
    let mut it = items.iter();
    let count = int(it.next())?;
    let deleted = int(it.next())?;
    let master_fields = usize::try_from(int(it.next())?).map_err(|_| "bad field count")?;
    let names: Vec<Bytes> = it.by_ref().take(master_fields).cloned().collect();
    if names.len() != master_fields || int(it.next())? != 0 {
        return Err("stream master entry is malformed".into());
    }
    let mut seen = 0;
    let mut last: Option<StreamId> = s.last().map(|(id, _)| id);
    while let Some(flags) = it.next() {
        let flags = int(Some(flags))?;
        let id = StreamId::new(
            master.ms.wrapping_add(int(it.next())? as u64),
            master.seq.wrapping_add(int(it.next())? as u64),
        );
        let fields: Vec<Bytes> = if flags & FLAG_SAMEFIELDS != 0 {
            let values: Vec<Bytes> = it.by_ref().take(master_fields).cloned().collect();
            names
                .iter()
                .cloned()
                .zip(values)
                .flat_map(|(f, v)| [f, v])
                .collect()
        } else {
            let n = usize::try_from(int(it.next())?).map_err(|_| "bad field count")?;
            it.by_ref().take(2 * n).cloned().collect()
        };
        int(it.next())?;
        if !fields.len().is_multiple_of(2) || last.is_some_and(|l| id <= l) {
            return Err("stream entry out of order or cut short".into());
        }
        last = Some(id);
        seen += 1;
        s.load_entry(master, id, Arc::from(fields), flags & FLAG_DELETED != 0);
    }
    if seen != count + deleted {
        return Err("stream node counts do not match its entries".into());
    }
    Ok(())
}

fn raw_id(r: &mut Reader<'_>) -> Result<StreamId, RdbError> {
    let raw: [u8; 16] = r.array("stream PEL id")?;
    Ok(StreamId::from_raw(&raw).expect("16 bytes"))
}

fn read_group(
    r: &mut Reader<'_>,
    type_id: u8,
    s: &StreamValue,
) -> Result<(Bytes, Group), RdbError> {
    let name = r.string("stream group name")?;
    let last_id = StreamId::new(r.plain_len("group last id")?, r.plain_len("group last id")?);
    let entries_read = if type_id == TYPE_STREAM_LISTPACKS_2 {
        Some(r.plain_len("group entries read")?).filter(|n| *n != u64::MAX)
    } else {
        s.estimate_read(last_id)
    };
    let mut group = Group::new(last_id, entries_read);
    let pending = r.plain_len("group PEL size")?;
    for _ in 0..pending {
        let id = raw_id(r)?;
        let delivery_time_ms = u64::from_le_bytes(r.array("PEL delivery time")?);
        let delivery_count = r.plain_len("PEL delivery count")?;
        let p = Pending {
            consumer: Bytes::new(),
            delivery_time_ms,
            delivery_count,
        };
        group.pel.insert(id, p);
    }
    let consumers = r.plain_len("group consumer count")?;
    for _ in 0..consumers {
        let cname = r.string("consumer name")?;
        let seen_time_ms = u64::from_le_bytes(r.array("consumer seen time")?);
        let mut consumer = Consumer {
            seen_time_ms,
            ..Consumer::default()
        };
        let n = r.plain_len("consumer PEL size")?;
        for _ in 0..n {
            let at = r.pos;
            let id = raw_id(r)?;
            let Some(p) = group.pel.get_mut(&id) else {
                return Err(RdbError::corrupt(
                    at,
                    "Consumer entry not found in group global PEL",
                ));
            };
            p.consumer = cname.clone();
            consumer.pel.insert(id);
        }
        group.consumers.insert(cname, consumer);
    }
    if group
        .pel
        .values()
        .any(|p| p.consumer.is_empty() && !group.consumers.contains_key(&p.consumer))
    {
        return Err(RdbError::corrupt(
            r.pos,
            "Stream group PEL entry without a consumer",
        ));
    }
    Ok((name, group))
}
