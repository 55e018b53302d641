//! The commands an AOF rewrite writes to rebuild a stream, as Redis 7.0's
//! `rewriteStreamObject`: one `XADD` per entry (or `XADD key MAXLEN 0 0-1 x y` for an empty
//! stream), `XSETID ... ENTRIESADDED ... MAXDELETEDID ...`, then per group `XGROUP CREATE ...
//! ENTRIESREAD ...` and per pending entry `XCLAIM ... 0 <id> TIME <ms> RETRYCOUNT <n> JUSTID
//! FORCE` (`XGROUP CREATECONSUMER` for a consumer with nothing pending).
//!
//! Invariant: replaying the commands rebuilds the stream's entries, last ID, counters, groups,
//! consumers and PELs (a consumer's seen time is the replay's, as in Redis).

use bytes::Bytes;

use crate::types::stream::Group;
use crate::types::{StreamId, StreamValue};

fn b(s: &'static str) -> Bytes {
    Bytes::from_static(s.as_bytes())
}

fn n(v: u64) -> Bytes {
    Bytes::from(v.to_string())
}

/// Calls `emit` with each command that rebuilds `key` = `s`, in order.
pub(crate) fn rewrite_stream(key: &Bytes, s: &StreamValue, emit: &mut dyn FnMut(&[Bytes])) {
    if s.is_empty() {
        let id = StreamId::new(0, 1).to_bytes();
        emit(&[
            b("XADD"),
            key.clone(),
            b("MAXLEN"),
            b("0"),
            id,
            b("x"),
            b("y"),
        ]);
    }
    for (id, fields) in s.range(StreamId::MIN, StreamId::MAX, false) {
        let mut argv = vec![b("XADD"), key.clone(), id.to_bytes()];
        argv.extend(fields.iter().cloned());
        emit(&argv);
    }
    emit(&[
        b("XSETID"),
        key.clone(),
        s.last_id.to_bytes(),
        b("ENTRIESADDED"),
        n(s.entries_added),
        b("MAXDELETEDID"),
        s.max_deleted_id.to_bytes(),
    ]);
    for (name, group) in s.groups.iter() {
        rewrite_group(key, name, group, emit);
    }
}

fn rewrite_group(key: &Bytes, name: &Bytes, g: &Group, emit: &mut dyn FnMut(&[Bytes])) {
    let read = g.entries_read.map_or(Bytes::from_static(b"-1"), n);
    emit(&[
        b("XGROUP"),
        b("CREATE"),
        key.clone(),
        name.clone(),
        g.last_id.to_bytes(),
        b("ENTRIESREAD"),
        read,
    ]);
    for (consumer, c) in g.consumers.iter() {
        if c.pel.is_empty() {
            emit(&[
                b("XGROUP"),
                b("CREATECONSUMER"),
                key.clone(),
                name.clone(),
                consumer.clone(),
            ]);
        }
        for id in c.pel.iter() {
            let Some(p) = g.pel.get(id) else { continue };
            emit(&[
                b("XCLAIM"),
                key.clone(),
                name.clone(),
                consumer.clone(),
                b("0"),
                id.to_bytes(),
                b("TIME"),
                n(p.delivery_time_ms),
                b("RETRYCOUNT"),
                n(p.delivery_count),
                b("JUSTID"),
                b("FORCE"),
            ]);
        }
    }
}
