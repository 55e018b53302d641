//! XREAD and XREADGROUP, blocking on the engine's parked clients, and what wakes them.
//!
//! A read that finds nothing blocks (unless inside EXEC or a script) with the command to run
//! again when woken: XREAD with each `$` made the stream's last ID at the time it blocked, and
//! XREADGROUP marked as woken, so a key deleted or retyped meanwhile answers Redis's
//! "no longer exists" error instead of a new lookup's. Invariants (Redis 7.0 `t_stream.c`):
//! XREADGROUP never propagates itself: each entry it delivers propagates as the idempotent
//! `XCLAIM key group consumer 0 id TIME ms RETRYCOUNT n FORCE JUSTID LASTID id`, and with
//! NOACK the group's new position as `XGROUP SETID key group id ENTRIESREAD n`; a client is
//! woken only when a key it waits on has an entry past its ID (or, for a group, when the key
//! or the group is gone), so a wake-up always answers.

use bytes::Bytes;

use super::exec::Exec;
use super::notify;
use super::reply;
use super::state::Block;
use super::stream::{entry_frame, parse_id};
use super::typed;
use crate::keyspace::{Keyspace, Value};
use crate::resp::{parse_integer, Frame};
use crate::types::stream::{Group, Pending};
use crate::types::{StreamId, StreamValue};

/// argv[0] of an XREADGROUP run again after it blocked.
const WOKEN: &[u8] = b"xreadgroup (woken)";

/// The ID that stands for `>` (Redis uses the maximum ID the same way).
const NEW_ONLY: StreamId = StreamId::MAX;

struct ReadArgs {
    count: Option<usize>,
    block_ms: Option<u64>,
    group: Option<(Bytes, Bytes)>,
    noack: bool,
    /// Where the keys start; as many IDs follow them.
    streams_at: usize,
    streams: usize,
}

fn timeout_ms(arg: &[u8]) -> Result<u64, Frame> {
    let n = parse_integer(arg)
        .ok_or_else(|| reply::err("ERR timeout is not an integer or out of range"))?;
    u64::try_from(n).map_err(|_| reply::err("ERR timeout is negative"))
}

fn parse_read_args(argv: &[Bytes], group: bool, from_script: bool) -> Result<ReadArgs, Frame> {
    let mut a = ReadArgs {
        count: None,
        block_ms: None,
        group: None,
        noack: false,
        streams_at: 0,
        streams: 0,
    };
    let mut i = 1;
    while i < argv.len() {
        let more = argv.len() - i - 1;
        let opt = argv[i].to_ascii_lowercase();
        if opt == b"block" && more > 0 {
            if from_script {
                let name = if group { "xreadgroup" } else { "xread" };
                return Err(Frame::Error(format!(
                    "ERR {name} command is not allowed with BLOCK option from scripts"
                )));
            }
            a.block_ms = Some(timeout_ms(&argv[i + 1])?);
            i += 1;
        } else if opt == b"count" && more > 0 {
            let n = parse_integer(&argv[i + 1]).ok_or_else(|| reply::err(reply::NOT_INTEGER))?;
            a.count = usize::try_from(n).ok().filter(|n| *n > 0);
            i += 1;
        } else if opt == b"streams" && more > 0 {
            if !more.is_multiple_of(2) {
                return Err(reply::err(
                    "ERR Unbalanced 'xread' list of streams: for each stream key an ID or '$' must be specified.",
                ));
            }
            a.streams_at = i + 1;
            a.streams = more / 2;
            break;
        } else if opt == b"group" && more >= 2 {
            if !group {
                return Err(reply::err("ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead."));
            }
            a.group = Some((argv[i + 1].clone(), argv[i + 2].clone()));
            i += 2;
        } else if opt == b"noack" {
            if !group {
                return Err(reply::err("ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead."));
            }
            a.noack = true;
        } else {
            return Err(reply::err(reply::SYNTAX));
        }
        i += 1;
    }
    if a.streams_at == 0 {
        return Err(reply::err(reply::SYNTAX));
    }
    if group && a.group.is_none() {
        return Err(reply::err("ERR Missing GROUP option for XREADGROUP"));
    }
    Ok(a)
}

fn nogroup(key: &[u8], group: &[u8]) -> Frame {
    Frame::Error(format!(
        "NOGROUP No such key '{}' or consumer group '{}' in XREADGROUP with GROUP option",
        String::from_utf8_lossy(key),
        String::from_utf8_lossy(group)
    ))
}

/// The ID each key is read after (`>`: [`NEW_ONLY`]), checking types and groups.
fn resolve_ids(x: &mut Exec<'_>, argv: &[Bytes], a: &ReadArgs) -> Result<Vec<StreamId>, Frame> {
    let mut ids = Vec::with_capacity(a.streams);
    for k in 0..a.streams {
        let (key, arg) = (&argv[a.streams_at + k], &argv[a.streams_at + a.streams + k]);
        let stream = typed::read::<StreamValue>(x, key)?;
        if let Some((group, _)) = &a.group {
            if !stream.is_some_and(|s| s.groups.contains_key(group)) {
                return Err(nogroup(key, group));
            }
        }
        let id = match &arg[..] {
            b"$" if a.group.is_some() => return Err(reply::err("ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.")),
            b"$" => stream.map_or(StreamId::MIN, |s| s.last_id),
            b">" if a.group.is_none() => return Err(reply::err("ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.")),
            b">" => NEW_ONLY,
            other => parse_id(other, 0, true)?,
        };
        ids.push(id);
    }
    Ok(ids)
}

/// One key's part of a reply, RESP2 `[key, entries]` or a RESP3 map entry.
fn key_part(key: &Bytes, entries: Vec<Frame>) -> (Frame, Frame) {
    (Frame::Bulk(key.clone()), Frame::Array(entries))
}

fn reply_of(x: &Exec<'_>, parts: Vec<(Frame, Frame)>) -> Frame {
    if x.session.resp3 {
        Frame::Map(parts)
    } else {
        let parts = parts.into_iter().map(|(k, v)| Frame::Array(vec![k, v]));
        Frame::Array(parts.collect())
    }
}

/// XREAD [COUNT count] [BLOCK ms] STREAMS key [key ...] id [id ...].
pub(crate) fn xread(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    let a = match parse_read_args(argv, false, x.from_script) {
        Ok(a) => a,
        Err(e) => return e,
    };
    let ids = match resolve_ids(x, argv, &a) {
        Ok(ids) => ids,
        Err(e) => return e,
    };
    let mut parts = Vec::new();
    for (k, after) in ids.iter().enumerate() {
        let key = &argv[a.streams_at + k];
        let Ok(Some(s)) = typed::read::<StreamValue>(x, key) else {
            continue;
        };
        let Some(start) = after.incr() else { continue };
        let entries: Vec<Frame> = s
            .range(start, StreamId::MAX, false)
            .take(a.count.unwrap_or(usize::MAX))
            .map(|(id, f)| entry_frame(id, f))
            .collect();
        if !entries.is_empty() {
            parts.push(key_part(key, entries));
        }
    }
    if !parts.is_empty() {
        return reply_of(x, parts);
    }
    if a.block_ms.is_some() {
        let mut rerun = argv.to_vec();
        for (k, id) in ids.iter().enumerate() {
            rerun[a.streams_at + a.streams + k] = id.to_bytes();
        }
        block(x, argv, &a, rerun);
    }
    Frame::NullArray
}

/// Parks the client (when it may block) to run `rerun` when woken.
fn block(x: &mut Exec<'_>, argv: &[Bytes], a: &ReadArgs, rerun: Vec<Bytes>) {
    if !x.may_block() {
        return;
    }
    let deadline_ms = a
        .block_ms
        .filter(|ms| *ms > 0)
        .map(|ms| x.ctx.now_ms.saturating_add(ms));
    let db = x.db();
    x.block(Block {
        db,
        keys: argv[a.streams_at..a.streams_at + a.streams].to_vec(),
        type_name: "stream",
        deadline_ms,
        timeout_reply: Frame::NullArray,
        rerun: Some(rerun),
    });
}

/// Redis's `streamReplyWithRange` for a group reading new entries after `after`: moves the
/// group's last ID, makes each entry pending for the consumer (unless NOACK) and propagates.
struct Delivery<'k> {
    key: &'k Bytes,
    group: &'k Bytes,
    consumer: &'k Bytes,
    noack: bool,
    now_ms: u64,
}

fn deliver_new(
    s: &mut StreamValue,
    d: &Delivery<'_>,
    count: Option<usize>,
) -> (Vec<Frame>, Vec<Vec<Bytes>>) {
    let Some(start) = s.groups.get(d.group).and_then(|g| g.last_id.incr()) else {
        return (Vec::new(), Vec::new());
    };
    let picked: Vec<(StreamId, Frame)> = s
        .range(start, StreamId::MAX, false)
        .take(count.unwrap_or(usize::MAX))
        .map(|(id, f)| (id, entry_frame(id, f)))
        .collect();
    let mut frames = Vec::with_capacity(picked.len());
    let mut props = Vec::new();
    for (id, frame) in picked {
        let tombstones = s.has_tombstones_from(id);
        let estimate = s.estimate_read(id);
        let entries_added = s.entries_added;
        let g = s.groups.get_mut(d.group).expect("checked above");
        g.entries_read = match g.entries_read {
            Some(n) if !tombstones => Some(n + 1),
            _ if entries_added > 0 => estimate,
            read => read,
        };
        g.last_id = id;
        if !d.noack {
            g.consumer_or_new(d.consumer, d.now_ms);
            let pending = Pending {
                consumer: d.consumer.clone(),
                delivery_time_ms: d.now_ms,
                delivery_count: 1,
            };
            g.assign(id, d.consumer, pending);
            props.push(xclaim_argv(d.key, d.group, id, &g.pel[&id], g.last_id));
        }
        frames.push(frame);
    }
    if d.noack && !frames.is_empty() {
        let g = &s.groups[d.group];
        props.push(setid_argv(d.key, d.group, g));
    }
    (frames, props)
}

/// The XCLAIM that reproduces `id`'s pending state in `g` (`streamPropagateXCLAIM`).
pub(crate) fn xclaim_argv(
    key: &Bytes,
    group: &Bytes,
    id: StreamId,
    p: &Pending,
    last_id: StreamId,
) -> Vec<Bytes> {
    let s = |t: &'static str| Bytes::from_static(t.as_bytes());
    vec![
        s("XCLAIM"),
        key.clone(),
        group.clone(),
        p.consumer.clone(),
        s("0"),
        id.to_bytes(),
        s("TIME"),
        Bytes::from(p.delivery_time_ms.to_string()),
        s("RETRYCOUNT"),
        Bytes::from(p.delivery_count.to_string()),
        s("FORCE"),
        s("JUSTID"),
        s("LASTID"),
        last_id.to_bytes(),
    ]
}

/// `XGROUP SETID key group id ENTRIESREAD n` (`streamPropagateGroupID`).
pub(crate) fn setid_argv(key: &Bytes, group: &Bytes, g: &Group) -> Vec<Bytes> {
    let read = g
        .entries_read
        .map_or(Bytes::from_static(b"-1"), |n| Bytes::from(n.to_string()));
    let s = |t: &'static str| Bytes::from_static(t.as_bytes());
    vec![
        s("XGROUP"),
        s("SETID"),
        key.clone(),
        group.clone(),
        g.last_id.to_bytes(),
        s("ENTRIESREAD"),
        read,
    ]
}

/// The consumer's own pending entries after `after` (XREADGROUP with an ID): entries since
/// deleted are answered with a null body, as Redis.
fn history(
    s: &mut StreamValue,
    d: &Delivery<'_>,
    after: StreamId,
    count: Option<usize>,
) -> Vec<Frame> {
    let Some(start) = after.incr() else {
        return Vec::new();
    };
    let g = s.groups.get_mut(d.group).expect("checked by the caller");
    let (consumer, _) = g.consumer_or_new(d.consumer, d.now_ms);
    consumer.seen_time_ms = d.now_ms;
    let ids: Vec<StreamId> = consumer
        .pel
        .range(start..)
        .take(count.unwrap_or(usize::MAX))
        .copied()
        .collect();
    let mut frames = Vec::with_capacity(ids.len());
    for id in ids {
        let g = s.groups.get_mut(d.group).expect("present");
        if let Some(p) = g.pel.get_mut(&id) {
            p.delivery_count += 1;
            p.delivery_time_ms = d.now_ms;
        }
        frames.push(match s.get(&id) {
            Some(f) => entry_frame(id, f),
            None => Frame::Array(vec![Frame::Bulk(id.to_bytes()), Frame::NullArray]),
        });
    }
    frames
}

/// Whether every key holds a stream (a woken XREADGROUP's keys may be gone or retyped).
fn all_streams(x: &mut Exec<'_>, keys: &[Bytes]) -> bool {
    keys.iter().all(|key| {
        matches!(
            x.peek(key),
            Some(crate::keyspace::ValueRef::Other(Value::Stream(_)))
        )
    })
}

/// XREADGROUP GROUP group consumer [COUNT n] [BLOCK ms] [NOACK] STREAMS key ... id ...
pub(crate) fn xreadgroup(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    let woken = argv[0] == WOKEN;
    let a = match parse_read_args(argv, true, x.from_script) {
        Ok(a) => a,
        Err(e) => return e,
    };
    if woken && !all_streams(x, &argv[a.streams_at..a.streams_at + a.streams]) {
        return reply::err("UNBLOCKED the stream key no longer exists");
    }
    let ids = match resolve_ids(x, argv, &a) {
        Ok(ids) => ids,
        Err(e) => return e,
    };
    x.prevent_propagation();
    let (group, consumer) = a.group.clone().expect("checked by parse_read_args");
    let mut parts = Vec::new();
    let db = x.db();
    for (k, after) in ids.iter().enumerate() {
        let key = &argv[a.streams_at + k];
        let d = Delivery {
            key,
            group: &group,
            consumer: &consumer,
            noack: a.noack,
            now_ms: x.ctx.now_ms,
        };
        let Ok(Some(s)) = typed::write::<StreamValue>(x, key) else {
            continue;
        };
        let g = &s.groups[&group];
        let existed = g.consumers.contains_key(&consumer);
        let has_new = s.last().is_some_and(|(last, _)| last > g.last_id);
        let (frames, props) = if *after != NEW_ONLY {
            (history(s, &d, *after, a.count), Vec::new())
        } else if has_new {
            let (consumer_entry, _) = s
                .groups
                .get_mut(&group)
                .expect("present")
                .consumer_or_new(&consumer, d.now_ms);
            consumer_entry.seen_time_ms = d.now_ms;
            deliver_new(s, &d, a.count)
        } else {
            continue;
        };
        let created = !existed && consumer_exists(s, &group, &consumer);
        for p in props {
            x.propagate(db, p);
        }
        x.changed(key);
        x.add_dirty(1);
        if created {
            x.notify(notify::STREAM, "xgroup-createconsumer", db, key);
        }
        parts.push(key_part(key, frames));
    }
    if !parts.is_empty() {
        return reply_of(x, parts);
    }
    if a.block_ms.is_some() {
        let mut rerun = argv.to_vec();
        rerun[0] = Bytes::from_static(WOKEN);
        block(x, argv, &a, rerun);
    }
    Frame::NullArray
}

/// Whether `group` of `s` has the consumer `name`.
pub(crate) fn consumer_exists(s: &StreamValue, group: &Bytes, name: &Bytes) -> bool {
    s.groups
        .get(group)
        .is_some_and(|g| g.consumers.contains_key(name))
}

/// Whether a client blocked in `argv` (its run-again form) can be answered now in `db`.
pub fn stream_ready(ks: &Keyspace, db: usize, argv: &[Bytes]) -> bool {
    let group = argv[0] == WOKEN;
    let Ok(a) = parse_read_args(argv, group, false) else {
        return true;
    };
    let Some(db) = ks.dbs.get(db) else {
        return false;
    };
    (0..a.streams).any(|k| {
        let key = &argv[a.streams_at + k];
        let stream = db.get(key).and_then(|e| match &e.value {
            Value::Stream(s) => Some((**s).clone()),
            _ => None,
        });
        let Some(s) = stream else {
            return group;
        };
        let after = match &a.group {
            Some((name, _)) => match s.groups.get(name) {
                None => return true,
                Some(g) => g.last_id,
            },
            None => parse_id(&argv[a.streams_at + a.streams + k], 0, true).unwrap_or(StreamId::MAX),
        };
        s.last().is_some_and(|(last, _)| last > after)
    })
}
