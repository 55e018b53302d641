//! XCLAIM and XAUTOCLAIM: moving pending entries of a group to another consumer.
//!
//! Invariants (Redis 7.0 `t_stream.c`): neither command propagates itself; each entry it moved
//! or dropped propagates as one idempotent `XCLAIM key group consumer 0 id TIME ms RETRYCOUNT n
//! FORCE JUSTID LASTID id` (an entry deleted from the stream leaves the PEL), and a LASTID that
//! moved the group while nothing was claimed as `XGROUP SETID`, so a replica or a replay ends
//! with the same PELs.

use bytes::Bytes;

use super::exec::Exec;
use super::notify;
use super::reply;
use super::stream::{entry_frame, parse_id};
use super::stream_group::{interval, lossy, nogroup_key};
use super::stream_read::{consumer_exists, setid_argv, xclaim_argv};
use super::typed;
use crate::resp::{parse_integer, Frame};
use crate::types::stream::{Group, Pending};
use crate::types::{StreamId, StreamValue};

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
    let existed = consumer_exists(s, name, consumer);
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
    let claim = Claim {
        key,
        name,
        consumer,
        minidle,
        time_ms,
        now_ms,
    };
    for id in ids {
        if let Some(frame) = claim_listed(s, &claim, &o, id, &mut props) {
            frames.push(frame);
        }
    }
    if props.is_empty() && propagate_last {
        props.push(setid_argv(key, name, &s.groups[name]));
    }
    let created = !existed && consumer_exists(s, name, consumer);
    finish_claim(x, key, db, props, created);
    Ok(Frame::Array(frames))
}

/// What one XCLAIM call claims with.
struct Claim<'a> {
    key: &'a Bytes,
    name: &'a Bytes,
    consumer: &'a Bytes,
    minidle: i64,
    time_ms: u64,
    now_ms: u64,
}

/// XCLAIM of one listed ID: the reply item if claimed; what to propagate into `props`.
fn claim_listed(
    s: &mut StreamValue,
    c: &Claim<'_>,
    o: &ClaimOptions,
    id: StreamId,
    props: &mut Vec<Vec<Bytes>>,
) -> Option<Frame> {
    let exists = s.get(&id).is_some();
    let g = s.groups.get_mut(c.name).expect("checked by the caller");
    if !exists {
        props.extend(drop_pending(c.key, c.name, g, id));
        return None;
    }
    let fresh = || Pending {
        consumer: Bytes::new(),
        delivery_time_ms: c.now_ms,
        delivery_count: 1,
    };
    let old = g.pel.get(&id).cloned().or_else(|| o.force.then(fresh))?;
    let idle = c.now_ms as i64 - old.delivery_time_ms as i64;
    if !old.consumer.is_empty() && c.minidle > 0 && idle < c.minidle {
        return None;
    }
    let bumped = old.delivery_count + u64::from(!o.justid);
    g.pel.insert(id, old);
    let count = Some(o.retry.unwrap_or(bumped));
    claim_one(g, id, c.consumer, c.time_ms, count, c.now_ms);
    props.push(xclaim_argv(c.key, c.name, id, &g.pel[&id], g.last_id));
    Some(if o.justid {
        Frame::Bulk(id.to_bytes())
    } else {
        entry_frame(id, s.get(&id).expect("exists"))
    })
}

/// Propagates `props` and signals the change; `created`: the claiming consumer is new.
fn finish_claim(x: &mut Exec<'_>, key: &Bytes, db: usize, props: Vec<Vec<Bytes>>, created: bool) {
    x.prevent_propagation();
    if created {
        x.notify(notify::STREAM, "xgroup-createconsumer", db, key);
    }
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
    let existed = consumer_exists(s, name, consumer);
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
    let created = !existed && consumer_exists(s, name, consumer);
    finish_claim(x, key, db, props, created);
    Ok(Frame::Array(vec![
        Frame::Bulk(cursor.to_bytes()),
        Frame::Array(frames),
        Frame::Array(deleted),
    ]))
}
