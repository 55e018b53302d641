//! XINFO STREAM [FULL [COUNT n]], XINFO GROUPS, XINFO CONSUMERS, XINFO HELP: Redis 7.0.15's
//! field names in its order (maps in RESP3, flat arrays in RESP2).
//!
//! Owns the introspection replies only. Invariant: reading never changes a stream; the
//! numbers come from the stream's own counters (`radix-tree-keys` is its node count,
//! `radix-tree-nodes` an estimate: durakv keeps no radix tree).

use bytes::Bytes;

use super::exec::Exec;
use super::reply;
use super::stream::entry_frame;
use super::stream_group::{help, sub_arity};
use super::typed;
use crate::resp::{parse_integer, Frame};
use crate::types::stream::Group;
use crate::types::{StreamId, StreamValue};

const XINFO_HELP: &[&str] = &[
    "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CONSUMERS <key> <groupname>",
    "    Show consumers of <groupname>.",
    "GROUPS <key>",
    "    Show the stream consumer groups.",
    "STREAM <key> [FULL [COUNT <count>]",
    "    Show information about the stream.",
    "HELP",
    "    Print this help.",
];

fn field(name: &'static str, value: Frame) -> (Frame, Frame) {
    (Frame::Bulk(Bytes::from_static(name.as_bytes())), value)
}

fn id_frame(id: StreamId) -> Frame {
    Frame::Bulk(id.to_bytes())
}

fn int(n: u64) -> Frame {
    reply::int(i64::try_from(n).unwrap_or(i64::MAX))
}

fn opt_int(n: Option<u64>) -> Frame {
    n.map_or(Frame::Null, int)
}

/// XINFO <subcommand> ...
pub(crate) fn xinfo(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    let table = [("consumers", 4), ("groups", 3), ("stream", -3), ("help", 2)];
    let sub = match sub_arity("xinfo", argv, &table) {
        Ok(s) => s,
        Err(e) => return e,
    };
    if sub == "help" {
        return help(XINFO_HELP);
    }
    let now_ms = x.ctx.now_ms;
    let s = match typed::read::<StreamValue>(x, &argv[2]) {
        Err(e) => return e,
        Ok(None) => return reply::err(reply::NO_SUCH_KEY),
        Ok(Some(s)) => s,
    };
    match &sub[..] {
        "groups" => Frame::Array(s.groups.iter().map(|(n, g)| group_brief(s, n, g)).collect()),
        "consumers" => {
            let Some(g) = s.groups.get(&argv[3]) else {
                return Frame::Error(format!(
                    "NOGROUP No such consumer group '{}' for key name '{}'",
                    String::from_utf8_lossy(&argv[3]),
                    String::from_utf8_lossy(&argv[2])
                ));
            };
            let consumers = g.consumers.iter().map(|(name, c)| {
                let idle = now_ms.saturating_sub(c.seen_time_ms);
                Frame::Map(vec![
                    field("name", Frame::Bulk(name.clone())),
                    field("pending", reply::count(c.pel.len())),
                    field("idle", int(idle)),
                ])
            });
            Frame::Array(consumers.collect())
        }
        _ => stream_info(s, &argv[3..]),
    }
}

fn group_brief(s: &StreamValue, name: &Bytes, g: &Group) -> Frame {
    Frame::Map(vec![
        field("name", Frame::Bulk(name.clone())),
        field("consumers", reply::count(g.consumers.len())),
        field("pending", reply::count(g.pel.len())),
        field("last-delivered-id", id_frame(g.last_id)),
        field("entries-read", opt_int(g.entries_read)),
        field("lag", opt_int(s.lag(g))),
    ])
}

fn syntax_sub() -> Frame {
    reply::err("ERR unknown subcommand or wrong number of arguments for 'STREAM'. Try XINFO HELP.")
}

fn stream_info(s: &StreamValue, opts: &[Bytes]) -> Frame {
    let count = match opts {
        [] => None,
        [full] if full.eq_ignore_ascii_case(b"full") => Some(10),
        [full, c, n] if full.eq_ignore_ascii_case(b"full") && c.eq_ignore_ascii_case(b"count") => {
            match parse_integer(n) {
                None => return reply::err(reply::NOT_INTEGER),
                Some(n) if n < 0 => Some(10),
                Some(n) => Some(usize::try_from(n).unwrap_or(usize::MAX)),
            }
        }
        _ => return syntax_sub(),
    };
    let keys = s.nodes().count() as u64;
    let mut fields = vec![
        field("length", reply::count(s.len())),
        field("radix-tree-keys", int(keys)),
        field("radix-tree-nodes", int(keys + 1)),
        field("last-generated-id", id_frame(s.last_id)),
        field("max-deleted-entry-id", id_frame(s.max_deleted_id)),
        field("entries-added", int(s.entries_added)),
        field("recorded-first-entry-id", id_frame(s.first_id)),
    ];
    let Some(count) = count else {
        fields.push(field("groups", reply::count(s.groups.len())));
        let edge = |e: Option<(StreamId, &crate::types::stream::Fields)>| {
            e.map_or(Frame::Null, |(id, f)| entry_frame(id, f))
        };
        fields.push(field("first-entry", edge(s.first())));
        fields.push(field("last-entry", edge(s.last())));
        return Frame::Map(fields);
    };
    let limit = if count == 0 { usize::MAX } else { count };
    let entries = s.range(StreamId::MIN, StreamId::MAX, false).take(limit);
    fields.push(field(
        "entries",
        Frame::Array(entries.map(|(id, f)| entry_frame(id, f)).collect()),
    ));
    let groups = s.groups.iter().map(|(n, g)| group_full(s, n, g, limit));
    fields.push(field("groups", Frame::Array(groups.collect())));
    Frame::Map(fields)
}

fn group_full(s: &StreamValue, name: &Bytes, g: &Group, limit: usize) -> Frame {
    let pending = g.pel.iter().take(limit).map(|(id, p)| {
        Frame::Array(vec![
            id_frame(*id),
            Frame::Bulk(p.consumer.clone()),
            int(p.delivery_time_ms),
            int(p.delivery_count),
        ])
    });
    let consumers = g.consumers.iter().map(|(cname, c)| {
        let pel = c.pel.iter().take(limit).map(|id| {
            let p = &g.pel[id];
            Frame::Array(vec![
                id_frame(*id),
                int(p.delivery_time_ms),
                int(p.delivery_count),
            ])
        });
        Frame::Map(vec![
            field("name", Frame::Bulk(cname.clone())),
            field("seen-time", int(c.seen_time_ms)),
            field("pel-count", reply::count(c.pel.len())),
            field("pending", Frame::Array(pel.collect())),
        ])
    });
    Frame::Map(vec![
        field("name", Frame::Bulk(name.clone())),
        field("last-delivered-id", id_frame(g.last_id)),
        field("entries-read", opt_int(g.entries_read)),
        field("lag", opt_int(s.lag(g))),
        field("pel-count", reply::count(g.pel.len())),
        field("pending", Frame::Array(pending.collect())),
        field("consumers", Frame::Array(consumers.collect())),
    ])
}
