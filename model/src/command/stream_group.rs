//! The consumer-group commands: XGROUP (CREATE SETID DESTROY CREATECONSUMER DELCONSUMER HELP),
//! XACK, XPENDING, XCLAIM, XAUTOCLAIM.
//!
//! Invariants (Redis 7.0 `t_stream.c`): an entry is pending for at most one consumer of a
//! group, in both the group's PEL and that consumer's; XCLAIM and XAUTOCLAIM never propagate
//! themselves but one idempotent `XCLAIM ... FORCE JUSTID LASTID` per entry they moved or
//! dropped (an entry deleted from the stream leaves the PEL), so a replica or a replay ends
//! with the same PELs.

use bytes::Bytes;

use super::exec::Exec;
use super::reply;
use super::stream::{entry_frame, new_stream, parse_id};
use super::stream_read::{setid_argv, xclaim_argv};
use super::typed;
use crate::resp::{parse_integer, Frame};
use crate::types::stream::{Group, Pending};
use crate::types::{StreamId, StreamValue};

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn nogroup_key(key: &[u8], group: &[u8]) -> Frame {
    Frame::Error(format!(
        "NOGROUP No such key '{}' or consumer group '{}'",
        lossy(key),
        lossy(group)
    ))
}

const XGROUP_HELP: &[&str] = &[
    "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CREATE <key> <groupname> <id|$> [option]",
    "    Create a new consumer group. Options are:",
    "    * MKSTREAM",
    "      Create the empty stream if it does not exist.",
    "    * ENTRIESREAD entries_read",
    "      Set the group's entries_read counter (internal use).",
    "CREATECONSUMER <key> <groupname> <consumer>",
    "    Create a new consumer in the specified group.",
    "DELCONSUMER <key> <groupname> <consumer>",
    "    Remove the specified consumer.",
    "DESTROY <key> <groupname>",
    "    Remove the specified group.",
    "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
    "    Set the current group ID and entries_read counter.",
    "HELP",
    "    Print this help.",
];

pub(crate) fn help(lines: &[&str]) -> Frame {
    Frame::Array(
        lines
            .iter()
            .map(|l| Frame::Simple((*l).to_string()))
            .collect(),
    )
}

/// A subcommand's arity check, as Redis's subcommand table: `Err` with its error text.
pub(crate) fn sub_arity(
    container: &str,
    argv: &[Bytes],
    table: &[(&str, i32)],
) -> Result<String, Frame> {
    let sub = argv[1].to_ascii_lowercase();
    let sub = String::from_utf8_lossy(&sub).into_owned();
    let Some((_, arity)) = table.iter().find(|(name, _)| *name == sub) else {
        return Err(Frame::Error(format!(
            "ERR unknown subcommand '{}'. Try {} HELP.",
            lossy(&argv[1]),
            container.to_uppercase()
        )));
    };
    let n = argv.len() as i32;
    if (*arity >= 0 && n != *arity) || (*arity < 0 && n < -arity) {
        return Err(reply::wrong_arity(&format!("{container}|{sub}")));
    }
    Ok(sub)
}

fn entries_read_option(
    argv: &[Bytes],
    from: usize,
    mkstream_ok: bool,
) -> Result<(Option<u64>, bool), Frame> {
    let (mut read, mut mkstream) = (None, false);
    let mut i = from;
    while i < argv.len() {
        if mkstream_ok && argv[i].eq_ignore_ascii_case(b"mkstream") {
            mkstream = true;
            i += 1;
        } else if argv[i].eq_ignore_ascii_case(b"entriesread") && i + 1 < argv.len() {
            let n = parse_integer(&argv[i + 1]).ok_or_else(|| reply::err(reply::NOT_INTEGER))?;
            if n < -1 {
                return Err(reply::err(
                    "ERR value for ENTRIESREAD must be positive or -1",
                ));
            }
            read = u64::try_from(n).ok();
            i += 2;
        } else {
            return Err(Frame::Error(format!(
                "ERR unknown subcommand or wrong number of arguments for '{}'. Try XGROUP HELP.",
                lossy(&argv[1])
            )));
        }
    }
    Ok((read, mkstream))
}

/// XGROUP <subcommand> ...
pub(crate) fn xgroup(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    let table = [
        ("create", -5),
        ("setid", -5),
        ("destroy", 4),
        ("createconsumer", 5),
        ("delconsumer", 5),
        ("help", 2),
    ];
    let sub = match sub_arity("xgroup", argv, &table) {
        Ok(s) => s,
        Err(e) => return e,
    };
    if sub == "help" {
        return help(XGROUP_HELP);
    }
    match xgroup_run(x, argv, &sub) {
        Ok(f) | Err(f) => f,
    }
}

fn xgroup_run(x: &mut Exec<'_>, argv: &[Bytes], sub: &str) -> Result<Frame, Frame> {
    let (read, mkstream) = match sub {
        "create" => entries_read_option(argv, 5, true)?,
        "setid" => entries_read_option(argv, 5, false)?,
        _ => (None, false),
    };
    let (key, name) = (&argv[2], &argv[3]);
    let exists = typed::read::<StreamValue>(x, key)?.map(|s| s.groups.contains_key(name));
    match exists {
        None if !mkstream => {
            return Err(reply::err("ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically."));
        }
        Some(false) if matches!(sub, "setid" | "createconsumer" | "delconsumer") => {
            return Err(Frame::Error(format!(
                "NOGROUP No such consumer group '{}' for key name '{}'",
                lossy(name),
                lossy(key)
            )));
        }
        _ => {}
    }
    let now_ms = x.ctx.now_ms;
    let frame = match sub {
        "create" => {
            let id = match &argv[4][..] {
                b"$" => typed::read::<StreamValue>(x, key)?.map_or(StreamId::MIN, |s| s.last_id),
                other => parse_id(other, 0, true)?,
            };
            let s = typed::write_or_create::<StreamValue>(x, key, new_stream)?;
            if s.groups.contains_key(name) {
                return Err(reply::err("BUSYGROUP Consumer Group name already exists"));
            }
            s.groups.insert(name.clone(), Group::new(id, read));
            reply::ok()
        }
        "setid" => {
            let s = typed::write::<StreamValue>(x, key)?.expect("checked above");
            let id = match &argv[4][..] {
                b"$" => s.last_id,
                other => parse_id(other, 0, false)?,
            };
            let g = s.groups.get_mut(name).expect("checked above");
            g.last_id = id;
            g.entries_read = read;
            reply::ok()
        }
        "destroy" => {
            let s = typed::write::<StreamValue>(x, key)?.expect("checked above");
            if s.groups.remove(name).is_none() {
                return Ok(reply::int(0));
            }
            reply::int(1)
        }
        "createconsumer" => {
            let s = typed::write::<StreamValue>(x, key)?.expect("checked above");
            let g = s.groups.get_mut(name).expect("checked above");
            let (_, created) = g.consumer_or_new(&argv[4], now_ms);
            if !created {
                return Ok(reply::int(0));
            }
            reply::int(1)
        }
        _ => {
            let s = typed::write::<StreamValue>(x, key)?.expect("checked above");
            let g = s.groups.get_mut(name).expect("checked above");
            let pending = match g.consumers.remove(&argv[4]) {
                None => 0,
                Some(c) => {
                    c.pel.iter().for_each(|id| {
                        g.pel.remove(id);
                    });
                    c.pel.len()
                }
            };
            reply::count(pending)
        }
    };
    x.changed(key);
    x.add_dirty(1);
    Ok(frame)
}

/// XACK key group id [id ...]: entries acknowledged.
pub(crate) fn xack(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    let (key, name) = (&argv[1], &argv[2]);
    match typed::read::<StreamValue>(x, key) {
        Err(e) => return e,
        Ok(Some(s)) if s.groups.contains_key(name) => {}
        Ok(_) => return reply::int(0),
    }
    let ids: Result<Vec<StreamId>, Frame> =
        argv[3..].iter().map(|a| parse_id(a, 0, true)).collect();
    let ids = match ids {
        Ok(ids) => ids,
        Err(e) => return e,
    };
    let Ok(Some(s)) = typed::write::<StreamValue>(x, key) else {
        unreachable!("read above")
    };
    let g = s.groups.get_mut(name).expect("checked above");
    let acked = ids.into_iter().filter(|id| g.ack(*id)).count();
    if acked > 0 {
        x.changed(key);
        x.add_dirty(acked as u64);
    }
    reply::count(acked)
}

/// An interval bound of XPENDING / XAUTOCLAIM: `(` makes it exclusive.
fn interval(arg: &[u8], missing_seq: u64, start: bool) -> Result<StreamId, Frame> {
    let (ex, arg) = match arg {
        [b'(', rest @ ..] if !rest.is_empty() => (true, rest),
        a => (false, a),
    };
    let id = parse_id(arg, missing_seq, ex)?;
    if !ex {
        return Ok(id);
    }
    if start {
        id.incr()
            .ok_or_else(|| reply::err("ERR invalid start ID for the interval"))
    } else {
        id.decr()
            .ok_or_else(|| reply::err("ERR invalid end ID for the interval"))
    }
}

/// XPENDING key group [[IDLE min-idle] start end count [consumer]].
pub(crate) fn xpending(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    let n = argv.len();
    if n != 3 && !(6..=9).contains(&n) {
        return reply::err(reply::SYNTAX);
    }
    let range = if n >= 6 {
        match pending_range(argv) {
            Ok(r) => Some(r),
            Err(e) => return e,
        }
    } else {
        None
    };
    let now_ms = x.ctx.now_ms;
    let (key, name) = (&argv[1], &argv[2]);
    let s = match typed::read::<StreamValue>(x, key) {
        Err(e) => return e,
        Ok(s) => s,
    };
    let Some(g) = s.and_then(|s| s.groups.get(name)) else {
        return nogroup_key(key, name);
    };
    let Some((idle, start, end, count, consumer)) = range else {
        return pending_summary(g);
    };
    let ids: Vec<StreamId> = match consumer {
        Some(c) => match g.consumers.get(&c) {
            None => return Frame::Array(Vec::new()),
            Some(c) => c.pel.range(start..=end).copied().collect(),
        },
        None if start <= end => g.pel.range(start..=end).map(|(id, _)| *id).collect(),
        None => Vec::new(),
    };
    let rows = ids
        .into_iter()
        .map(|id| (id, &g.pel[&id]))
        .filter(|(_, p)| idle == 0 || (now_ms as i64 - p.delivery_time_ms as i64) >= idle)
        .take(count)
        .map(|(id, p)| {
            let elapsed = (now_ms as i64 - p.delivery_time_ms as i64).max(0);
            Frame::Array(vec![
                Frame::Bulk(id.to_bytes()),
                Frame::Bulk(p.consumer.clone()),
                reply::int(elapsed),
                reply::int(p.delivery_count as i64),
            ])
        });
    Frame::Array(rows.collect())
}

type PendingRange = (i64, StreamId, StreamId, usize, Option<Bytes>);

fn pending_range(argv: &[Bytes]) -> Result<PendingRange, Frame> {
    let mut at = 3;
    let mut idle = 0;
    if argv[3].eq_ignore_ascii_case(b"idle") {
        idle = parse_integer(&argv[4]).ok_or_else(|| reply::err(reply::NOT_INTEGER))?;
        if argv.len() < 8 {
            return Err(reply::err(reply::SYNTAX));
        }
        at += 2;
    }
    let count = parse_integer(&argv[at + 2]).ok_or_else(|| reply::err(reply::NOT_INTEGER))?;
    let count = usize::try_from(count.max(0)).unwrap_or(usize::MAX);
    let start = interval(&argv[at], 0, true)?;
    let end = interval(&argv[at + 1], u64::MAX, false)?;
    Ok((idle, start, end, count, argv.get(at + 3).cloned()))
}

fn pending_summary(g: &Group) -> Frame {
    let (Some((first, _)), Some((last, _))) = (g.pel.get_min(), g.pel.get_max()) else {
        return Frame::Array(vec![
            reply::int(0),
            Frame::Null,
            Frame::Null,
            Frame::NullArray,
        ]);
    };
    let consumers = g
        .consumers
        .iter()
        .filter(|(_, c)| !c.pel.is_empty())
        .map(|(name, c)| {
            let n = Bytes::from(c.pel.len().to_string());
            Frame::Array(vec![Frame::Bulk(name.clone()), Frame::Bulk(n)])
        });
    Frame::Array(vec![
        reply::count(g.pel.len()),
        Frame::Bulk(first.to_bytes()),
        Frame::Bulk(last.to_bytes()),
        Frame::Array(consumers.collect()),
    ])
}

/// XCLAIM's options after the IDs.
struct ClaimOptions {
    force: bool,
    justid: bool,
    delivery_ms: Option<i64>,
    retry: Option<u64>,
    last_id: StreamId,
}

fn claim_options(argv: &[Bytes], from: usize, now_ms: u64) -> Result<ClaimOptions, Frame> {
    let mut o = ClaimOptions {
        force: false,
        justid: false,
        delivery_ms: None,
        retry: None,
        last_id: StreamId::MIN,
    };
    let mut j = from;
    let int = |a: &Bytes, what: &str| {
        parse_integer(a)
            .ok_or_else(|| Frame::Error(format!("ERR Invalid {what} option argument for XCLAIM")))
    };
    while j < argv.len() {
        let more = j + 1 < argv.len();
        let opt = argv[j].to_ascii_lowercase();
        match &opt[..] {
            b"force" => o.force = true,
            b"justid" => o.justid = true,
            b"idle" if more => {
                j += 1;
                o.delivery_ms = Some(now_ms as i64 - int(&argv[j], "IDLE")?);
            }
            b"time" if more => {
                j += 1;
                o.delivery_ms = Some(int(&argv[j], "TIME")?);
            }
            b"retrycount" if more => {
                j += 1;
                o.retry = u64::try_from(int(&argv[j], "RETRYCOUNT")?).ok();
            }
            b"lastid" if more => {
                j += 1;
                o.last_id = parse_id(&argv[j], 0, true)?;
            }
            _ => {
                return Err(Frame::Error(format!(
                    "ERR Unrecognized XCLAIM option '{}'",
                    lossy(&argv[j])
                )))
            }
        }
        j += 1;
    }
    Ok(o)
}

fn min_idle(arg: &[u8], command: &str) -> Result<i64, Frame> {
    parse_integer(arg)
        .map(|n| n.max(0))
        .ok_or_else(|| Frame::Error(format!("ERR Invalid min-idle-time argument for {command}")))
}

/// Drops `id` from `g` (its entry is gone from the stream), returning the XCLAIM that does
/// the same on a replica.
fn drop_pending(key: &Bytes, name: &Bytes, g: &mut Group, id: StreamId) -> Option<Vec<Bytes>> {
    let argv = xclaim_argv(key, name, id, g.pel.get(&id)?, g.last_id);
    g.ack(id);
    Some(argv)
}

/// Moves `id` to `consumer` with the delivery time and count given.
fn claim_one(
    g: &mut Group,
    id: StreamId,
    consumer: &Bytes,
    time_ms: u64,
    count: Option<u64>,
    now_ms: u64,
) {
    g.consumer_or_new(consumer, now_ms);
    let old = g.pel.get(&id).cloned();
    let delivery_count = match (count, old.as_ref()) {
        (Some(n), _) => n,
        (None, Some(p)) => p.delivery_count,
        (None, None) => 1,
    };
    let pending = Pending {
        consumer: consumer.clone(),
        delivery_time_ms: time_ms,
        delivery_count,
    };
    g.assign(id, consumer, pending);
}

/// XCLAIM key group consumer min-idle-time id [id ...] [IDLE ms] [TIME ms] [RETRYCOUNT n]
/// [FORCE] [JUSTID] [LASTID id].
pub(crate) fn xclaim(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    match xclaim_run(x, argv) {
        Ok(f) | Err(f) => f,
    }
}

fn xclaim_run(x: &mut Exec<'_>, argv: &[Bytes]) -> Result<Frame, Frame> {
    let (key, name, consumer) = (&argv[1], &argv[2], &argv[3]);
    let s = typed::read::<StreamValue>(x, key)?;
    if !s.is_some_and(|s| s.groups.contains_key(name)) {
        return Err(nogroup_key(key, name));
    }
    let minidle = min_idle(&argv[4], "XCLAIM")?;
    let ids: Vec<StreamId> = argv[5..]
        .iter()
        .map_while(|a| parse_id(a, 0, true).ok())
        .collect();
    let now_ms = x.ctx.now_ms;
    let o = claim_options(argv, 5 + ids.len(), now_ms)?;
    let time_ms = match o.delivery_ms {
        Some(t) if t >= 0 && t <= now_ms as i64 => t as u64,
        _ => now_ms,
    };
    let db = x.db();
    let s = typed::write::<StreamValue>(x, key)?.expect("checked above");
    let mut props = Vec::new();
    let mut frames = Vec::new();
    let mut propagate_last = false;
    {
        let g = s.groups.get_mut(name).expect("checked above");
        if o.last_id > g.last_id {
            g.last_id = o.last_id;
            propagate_last = true;
        }
    }
    for id in ids {
        let exists = s.get(&id).is_some();
        let g = s.groups.get_mut(name).expect("checked above");
        if !exists {
            props.extend(drop_pending(key, name, g, id));
            continue;
        }
        let Some(old) = g.pel.get(&id).cloned().or_else(|| {
            o.force.then(|| Pending {
                consumer: Bytes::new(),
                delivery_time_ms: now_ms,
                delivery_count: 1,
            })
        }) else {
            continue;
        };
        if !old.consumer.is_empty()
            && minidle > 0
            && (now_ms as i64 - old.delivery_time_ms as i64) < minidle
        {
            continue;
        }
        let bumped = if o.justid {
            old.delivery_count
        } else {
            old.delivery_count + 1
        };
        g.pel.insert(id, old);
        claim_one(
            g,
            id,
            consumer,
            time_ms,
            Some(o.retry.unwrap_or(bumped)),
            now_ms,
        );
        props.push(xclaim_argv(key, name, id, &g.pel[&id], g.last_id));
        frames.push(if o.justid {
            Frame::Bulk(id.to_bytes())
        } else {
            entry_frame(id, s.get(&id).expect("exists"))
        });
    }
    if props.is_empty() && propagate_last {
        props.push(setid_argv(key, name, &s.groups[name]));
    }
    finish_claim(x, key, db, props);
    Ok(Frame::Array(frames))
}

fn finish_claim(x: &mut Exec<'_>, key: &Bytes, db: usize, props: Vec<Vec<Bytes>>) {
    x.prevent_propagation();
    if props.is_empty() {
        return;
    }
    x.add_dirty(props.len() as u64);
    for p in props {
        x.propagate(db, p);
    }
    x.changed(key);
}

/// XAUTOCLAIM key group consumer min-idle-time start [COUNT count] [JUSTID].
pub(crate) fn xautoclaim(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    match xautoclaim_run(x, argv) {
        Ok(f) | Err(f) => f,
    }
}

fn autoclaim_args(argv: &[Bytes]) -> Result<(i64, StreamId, u64, bool), Frame> {
    let minidle = min_idle(&argv[4], "XAUTOCLAIM")?;
    let start = interval(&argv[5], 0, true)?;
    let (mut count, mut justid) = (100u64, false);
    let mut j = 6;
    while j < argv.len() {
        if argv[j].eq_ignore_ascii_case(b"count") && j + 1 < argv.len() {
            let max = i64::MAX / 16;
            count = parse_integer(&argv[j + 1])
                .filter(|n| (1..=max).contains(n))
                .map(|n| n as u64)
                .ok_or_else(|| reply::err("ERR COUNT must be > 0"))?;
            j += 1;
        } else if argv[j].eq_ignore_ascii_case(b"justid") {
            justid = true;
        } else {
            return Err(reply::err(reply::SYNTAX));
        }
        j += 1;
    }
    Ok((minidle, start, count, justid))
}

fn xautoclaim_run(x: &mut Exec<'_>, argv: &[Bytes]) -> Result<Frame, Frame> {
    let (minidle, start, mut count, justid) = autoclaim_args(argv)?;
    let (key, name, consumer) = (&argv[1], &argv[2], &argv[3]);
    let s = typed::read::<StreamValue>(x, key)?;
    if !s.is_some_and(|s| s.groups.contains_key(name)) {
        return Err(nogroup_key(key, name));
    }
    let now_ms = x.ctx.now_ms;
    let db = x.db();
    let s = typed::write::<StreamValue>(x, key)?.expect("checked above");
    let mut attempts = count.saturating_mul(10);
    let visit = usize::try_from(attempts.saturating_add(1)).unwrap_or(usize::MAX);
    let ids: Vec<StreamId> = s.groups[name]
        .pel
        .range(start..)
        .take(visit)
        .map(|(id, _)| *id)
        .collect();
    let (mut props, mut frames, mut deleted) = (Vec::new(), Vec::new(), Vec::new());
    let mut next = 0;
    while attempts > 0 && count > 0 && next < ids.len() {
        attempts -= 1;
        let id = ids[next];
        next += 1;
        let exists = s.get(&id).is_some();
        let g = s.groups.get_mut(name).expect("checked above");
        if !exists {
            props.extend(drop_pending(key, name, g, id));
            deleted.push(Frame::Bulk(id.to_bytes()));
            count -= 1;
            continue;
        }
        let old = g.pel[&id].clone();
        if minidle > 0 && (now_ms as i64 - old.delivery_time_ms as i64) < minidle {
            continue;
        }
        let n = if justid {
            old.delivery_count
        } else {
            old.delivery_count + 1
        };
        claim_one(g, id, consumer, now_ms, Some(n), now_ms);
        props.push(xclaim_argv(key, name, id, &g.pel[&id], g.last_id));
        frames.push(if justid {
            Frame::Bulk(id.to_bytes())
        } else {
            entry_frame(id, s.get(&id).expect("exists"))
        });
        count -= 1;
    }
    let cursor = ids.get(next).copied().unwrap_or(StreamId::MIN);
    finish_claim(x, key, db, props);
    Ok(Frame::Array(vec![
        Frame::Bulk(cursor.to_bytes()),
        Frame::Array(frames),
        Frame::Array(deleted),
    ]))
}
