//! The consumer-group commands: XGROUP (CREATE SETID DESTROY CREATECONSUMER DELCONSUMER HELP),
//! XACK, XPENDING (XCLAIM and XAUTOCLAIM are `stream_claim.rs`).
//!
//! Invariants (Redis 7.0 `t_stream.c`): an entry is pending for at most one consumer of a
//! group, in both the group's PEL and that consumer's; a group, consumer or acknowledgement
//! change counts as a write and propagates as sent.

use bytes::Bytes;

use super::exec::Exec;
use super::notify;
use super::reply;
use super::stream::{new_stream, parse_id};
use super::typed;
use crate::resp::{parse_integer, Frame};
use crate::types::stream::Group;
use crate::types::{StreamId, StreamValue};

pub(crate) fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

pub(crate) fn nogroup_key(key: &[u8], group: &[u8]) -> Frame {
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
        "create" => create_group(x, argv, read)?,
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
            let Some(c) = g.consumers.remove(&argv[4]) else {
                return Ok(reply::int(0));
            };
            c.pel.iter().for_each(|id| {
                g.pel.remove(id);
            });
            reply::count(c.pel.len())
        }
    };
    x.changed(key);
    x.add_dirty(1);
    let db = x.db();
    x.notify(notify::STREAM, &format!("xgroup-{sub}"), db, key);
    Ok(frame)
}

/// XGROUP CREATE key group id|$ [MKSTREAM] [ENTRIESREAD n] (checks done by the caller).
fn create_group(x: &mut Exec<'_>, argv: &[Bytes], read: Option<u64>) -> Result<Frame, Frame> {
    let (key, name) = (&argv[2], &argv[3]);
    let id = match &argv[4][..] {
        b"$" => typed::read::<StreamValue>(x, key)?.map_or(StreamId::MIN, |s| s.last_id),
        other => parse_id(other, 0, true)?,
    };
    let s = typed::write_or_create::<StreamValue>(x, key, new_stream)?;
    if s.groups.contains_key(name) {
        return Err(reply::err("BUSYGROUP Consumer Group name already exists"));
    }
    s.groups.insert(name.clone(), Group::new(id, read));
    Ok(reply::ok())
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
pub(crate) fn interval(arg: &[u8], missing_seq: u64, start: bool) -> Result<StreamId, Frame> {
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
