//! The stream commands on entries: XADD XLEN XRANGE XREVRANGE XDEL XTRIM XSETID, and the ID
//! parsing and entry replies the other stream commands share (reads are `stream_read.rs`,
//! groups `stream_group.rs`, XINFO `stream_info.rs`).
//!
//! Invariants (Redis 7.0 `t_stream.c`): IDs only grow (an XADD at or below the last ID is
//! refused); a stream is kept when empty; an XADD with `*` or `ms-*` propagates the ID it
//! made, and a `~` trim propagates as the exact trim it did (`=` and the resulting length or
//! first ID, without LIMIT), so a replica or a replay with other node sizes ends equal.

use std::sync::Arc;

use bytes::Bytes;

use super::exec::Exec;
use super::notify;
use super::reply;
use super::typed;
use crate::keyspace::Value;
use crate::resp::{parse_integer, Frame};
use crate::types::stream::{Fields, Trim};
use crate::types::{StreamId, StreamValue};

pub(crate) const INVALID_ID: &str = "ERR Invalid stream ID specified as stream command argument";

/// An ID argument: `-`, `+`, `ms` (sequence `missing_seq`) or `ms-seq`; `ms-*` too when
/// `star` (then `.1` is false: no sequence given). `strict` refuses `-` and `+`.
pub(crate) fn parse_id_full(
    arg: &[u8],
    missing_seq: u64,
    strict: bool,
    star: bool,
) -> Result<(StreamId, bool), Frame> {
    let invalid = || reply::err(INVALID_ID);
    if arg.len() > 127 || (strict && (arg == b"-" || arg == b"+")) {
        return Err(invalid());
    }
    match arg {
        b"-" => return Ok((StreamId::MIN, true)),
        b"+" => return Ok((StreamId::MAX, true)),
        _ => {}
    }
    let number = |s: &[u8]| -> Option<u64> {
        (!s.is_empty() && s.iter().all(u8::is_ascii_digit))
            .then(|| std::str::from_utf8(s).ok()?.parse().ok())
            .flatten()
    };
    let (ms, seq) = match arg.iter().position(|&c| c == b'-') {
        None => (arg, None),
        Some(dash) => (&arg[..dash], Some(&arg[dash + 1..])),
    };
    let ms = number(ms).ok_or_else(invalid)?;
    match seq {
        None => Ok((StreamId::new(ms, missing_seq), true)),
        Some(b"*") if star => Ok((StreamId::new(ms, 0), false)),
        Some(seq) => Ok((StreamId::new(ms, number(seq).ok_or_else(invalid)?), true)),
    }
}

/// [`parse_id_full`] without `ms-*`.
pub(crate) fn parse_id(arg: &[u8], missing_seq: u64, strict: bool) -> Result<StreamId, Frame> {
    parse_id_full(arg, missing_seq, strict, false).map(|(id, _)| id)
}

/// An entry as every reply writes it: `[id, [field, value, ...]]`.
pub(crate) fn entry_frame(id: StreamId, fields: &Fields) -> Frame {
    let fields = fields.iter().map(|f| Frame::Bulk(f.clone())).collect();
    Frame::Array(vec![Frame::Bulk(id.to_bytes()), Frame::Array(fields)])
}

pub(crate) fn new_stream() -> Value {
    Value::Stream(Box::default())
}

/// The trimming part of XADD and XTRIM, and XADD's options.
#[derive(Default)]
struct AddArgs {
    trim: Option<Trim>,
    approx: bool,
    limit: u64,
    /// Where the trim's threshold is in argv (for the propagated rewrite).
    trim_at: usize,
    limit_at: Option<usize>,
    no_mkstream: bool,
    /// The ID and whether its sequence was given; `None` for `*`.
    id: Option<(StreamId, bool)>,
    /// Where the ID (or `*`) is.
    id_at: usize,
}

fn trim_threshold(argv: &[Bytes], i: usize, minid: bool) -> Result<Trim, Frame> {
    if minid {
        return parse_id(&argv[i], 0, true).map(Trim::MinId);
    }
    let n = parse_integer(&argv[i]).ok_or_else(|| reply::err(reply::NOT_INTEGER))?;
    let n = u64::try_from(n).map_err(|_| reply::err("ERR The MAXLEN argument must be >= 0."))?;
    Ok(Trim::MaxLen(n))
}

/// Redis's `streamParseAddOrTrimArgsOrReply` from `argv[2]`.
fn parse_add_args(x: &Exec<'_>, argv: &[Bytes], xadd: bool) -> Result<AddArgs, Frame> {
    let mut a = AddArgs::default();
    let mut limit_given = false;
    let mut i = 2;
    while i < argv.len() {
        let more = argv.len() - 1 - i;
        let opt = argv[i].to_ascii_lowercase();
        if xadd && opt == b"*" {
            break;
        } else if (opt == b"maxlen" || opt == b"minid") && more > 0 {
            let next = &argv[i + 1][..];
            if more >= 2 && (next == b"~" || next == b"=") {
                a.approx = next == b"~";
                i += 1;
            }
            a.trim = Some(trim_threshold(argv, i + 1, opt == b"minid")?);
            i += 1;
            a.trim_at = i;
        } else if opt == b"limit" && more > 0 {
            let n = parse_integer(&argv[i + 1]).ok_or_else(|| reply::err(reply::NOT_INTEGER))?;
            a.limit =
                u64::try_from(n).map_err(|_| reply::err("ERR The LIMIT argument must be >= 0."))?;
            limit_given = true;
            a.limit_at = Some(i);
            i += 1;
        } else if xadd && opt == b"nomkstream" {
            a.no_mkstream = true;
        } else if xadd {
            a.id = Some(parse_id_full(&argv[i], 0, true, true)?);
            break;
        } else {
            return Err(reply::err(reply::SYNTAX));
        }
        i += 1;
    }
    a.id_at = i;
    if a.limit != 0 && a.trim.is_none() {
        return Err(reply::err(
            "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy",
        ));
    }
    if !xadd && a.trim.is_none() {
        return Err(reply::err(
            "ERR syntax error, XTRIM must be called with a trimming strategy",
        ));
    }
    if x.ctx.loading {
        a.limit = 0;
    } else if limit_given && !a.approx {
        return Err(reply::err(
            "ERR syntax error, LIMIT cannot be used without the special ~ option",
        ));
    } else if !limit_given && a.approx {
        let node = x.ks.limits.stream_node_max_entries.saturating_mul(100);
        a.limit = if node == 0 || node > 10_000 {
            10_000
        } else {
            node
        };
    }
    Ok(a)
}

/// The argv to propagate after a `~` trim: `=` and the exact threshold reached, no LIMIT.
fn exact_trim_argv(argv: &[Bytes], a: &AddArgs, s: &StreamValue) -> Vec<Bytes> {
    let mut out = argv.to_vec();
    out[a.trim_at - 1] = Bytes::from_static(b"=");
    out[a.trim_at] = match a.trim {
        Some(Trim::MinId(_)) => s.first().map_or(StreamId::MAX, |(id, _)| id).to_bytes(),
        _ => Bytes::from(s.len().to_string()),
    };
    if let Some(at) = a.limit_at {
        out.drain(at..at + 2);
    }
    out
}

/// The ID an XADD appends with: given, `ms-*`, or the next after `last_id` at `now_ms`.
fn next_id(s: &StreamValue, id: Option<(StreamId, bool)>, now_ms: u64) -> Option<StreamId> {
    let last = s.last_id;
    let id = match id {
        Some((id, true)) => id,
        Some((id, false)) if id.ms == last.ms => last.incr().filter(|n| n.ms == id.ms)?,
        Some((id, false)) => id,
        None if now_ms > last.ms => StreamId::new(now_ms, 0),
        None => last.incr()?,
    };
    (id > last).then_some(id)
}

/// XADD key [NOMKSTREAM] [MAXLEN|MINID [=|~] threshold [LIMIT count]] *|id field value ...
pub(crate) fn xadd(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    let a = match parse_add_args(x, argv, true) {
        Ok(a) => a,
        Err(e) => return e,
    };
    let fields = argv.len() - a.id_at - 1;
    if fields < 2 || !fields.is_multiple_of(2) {
        return reply::wrong_arity("xadd");
    }
    if a.id == Some((StreamId::MIN, true)) {
        return reply::err("ERR The ID specified in XADD must be greater than 0-0");
    }
    let key = &argv[1];
    let (limits, now_ms) = (x.ks.limits, x.ctx.now_ms);
    let stream = if a.no_mkstream {
        match typed::write::<StreamValue>(x, key) {
            Ok(Some(s)) => s,
            Ok(None) => return Frame::Null,
            Err(e) => return e,
        }
    } else {
        match typed::write_or_create::<StreamValue>(x, key, new_stream) {
            Ok(s) => s,
            Err(e) => return e,
        }
    };
    if stream.last_id == StreamId::MAX {
        return reply::err(
            "ERR The stream has exhausted the last possible ID, unable to add more items",
        );
    }
    let Some(id) = next_id(stream, a.id, now_ms) else {
        return reply::err(
            "ERR The ID specified in XADD is equal or smaller than the target stream top item",
        );
    };
    let values: Fields = Arc::from(&argv[a.id_at + 1..]);
    stream.append(id, values, limits.stream_nodes());
    let mut out = None;
    let mut trimmed = 0;
    if let Some(trim) = a.trim {
        trimmed = stream.trim(trim, a.approx, a.limit);
        if a.approx {
            out = Some(exact_trim_argv(argv, &a, stream));
        }
    }
    let mut out = out.unwrap_or_else(|| argv.to_vec());
    if !matches!(a.id, Some((_, true))) {
        let shift = a
            .limit_at
            .filter(|at| *at < a.id_at && a.approx)
            .map_or(0, |_| 2);
        out[a.id_at - shift] = id.to_bytes();
    }
    x.changed(key);
    x.add_dirty(1);
    x.propagate_as(out);
    let db = x.db();
    x.notify(notify::STREAM, "xadd", db, key);
    if trimmed > 0 {
        x.notify(notify::STREAM, "xtrim", db, key);
    }
    Frame::Bulk(id.to_bytes())
}

/// XTRIM key MAXLEN|MINID [=|~] threshold [LIMIT count]: entries removed.
pub(crate) fn xtrim(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    let key = &argv[1];
    match typed::read::<StreamValue>(x, key) {
        Err(e) => return e,
        Ok(None) => return reply::int(0),
        Ok(Some(_)) => {}
    }
    let a = match parse_add_args(x, argv, false) {
        Ok(a) => a,
        Err(e) => return e,
    };
    let Ok(Some(stream)) = typed::write::<StreamValue>(x, key) else {
        unreachable!("read above")
    };
    let trim = a.trim.expect("XTRIM has a strategy");
    let deleted = stream.trim(trim, a.approx, a.limit);
    if deleted > 0 {
        if a.approx {
            let out = exact_trim_argv(argv, &a, stream);
            x.propagate_as(out);
        }
        x.changed(key);
        x.add_dirty(deleted);
    }
    reply::int(deleted as i64)
}

/// XLEN key.
pub(crate) fn xlen(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    match typed::read::<StreamValue>(x, &argv[1]) {
        Err(e) => e,
        Ok(s) => reply::count(s.map_or(0, StreamValue::len)),
    }
}

/// XRANGE / XREVRANGE's bounds: `(` makes one exclusive.
fn range_bounds(start: &[u8], end: &[u8]) -> Result<(StreamId, StreamId), Frame> {
    let (start_ex, start) = match start {
        [b'(', rest @ ..] if !rest.is_empty() => (true, rest),
        s => (false, s),
    };
    let (end_ex, end) = match end {
        [b'(', rest @ ..] if !rest.is_empty() => (true, rest),
        e => (false, e),
    };
    let mut s = parse_id(start, 0, start_ex)?;
    if start_ex {
        s = s
            .incr()
            .ok_or_else(|| reply::err("ERR invalid start ID for the interval"))?;
    }
    let mut e = parse_id(end, u64::MAX, end_ex)?;
    if end_ex {
        e = e
            .decr()
            .ok_or_else(|| reply::err("ERR invalid end ID for the interval"))?;
    }
    Ok((s, e))
}

/// `COUNT n` after a range: `None` = all (a negative count is 0).
pub(crate) fn count_option(args: &[Bytes]) -> Result<Option<usize>, Frame> {
    let mut count = None;
    let mut i = 0;
    while i < args.len() {
        if args[i].eq_ignore_ascii_case(b"count") && i + 1 < args.len() {
            let n = parse_integer(&args[i + 1]).ok_or_else(|| reply::err(reply::NOT_INTEGER))?;
            count = Some(usize::try_from(n.max(0)).unwrap_or(usize::MAX));
            i += 2;
        } else {
            return Err(reply::err(reply::SYNTAX));
        }
    }
    Ok(count)
}

fn range_generic(x: &mut Exec<'_>, argv: &[Bytes], rev: bool) -> Frame {
    let (a, b) = if rev {
        (&argv[3], &argv[2])
    } else {
        (&argv[2], &argv[3])
    };
    let (start, end) = match range_bounds(a, b) {
        Ok(r) => r,
        Err(e) => return e,
    };
    let count = match count_option(&argv[4..]) {
        Ok(c) => c,
        Err(e) => return e,
    };
    let stream = match typed::read::<StreamValue>(x, &argv[1]) {
        Err(e) => return e,
        Ok(None) => return Frame::Array(Vec::new()),
        Ok(Some(s)) => s,
    };
    if count == Some(0) {
        return Frame::NullArray;
    }
    let entries = stream.range(start, end, rev);
    let entries = entries.take(count.unwrap_or(usize::MAX));
    Frame::Array(entries.map(|(id, f)| entry_frame(id, f)).collect())
}

/// XRANGE key start end [COUNT count].
pub(crate) fn xrange(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    range_generic(x, argv, false)
}

/// XREVRANGE key end start [COUNT count].
pub(crate) fn xrevrange(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    range_generic(x, argv, true)
}

/// XDEL key id [id ...]: entries deleted.
pub(crate) fn xdel(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    let key = &argv[1];
    match typed::read::<StreamValue>(x, key) {
        Err(e) => return e,
        Ok(None) => return reply::int(0),
        Ok(Some(_)) => {}
    }
    let ids: Result<Vec<StreamId>, Frame> =
        argv[2..].iter().map(|a| parse_id(a, 0, true)).collect();
    let ids = match ids {
        Ok(ids) => ids,
        Err(e) => return e,
    };
    let Ok(Some(stream)) = typed::write::<StreamValue>(x, key) else {
        unreachable!("read above")
    };
    let deleted = ids.into_iter().filter(|id| stream.delete(*id)).count();
    if deleted > 0 {
        x.changed(key);
        x.add_dirty(deleted as u64);
    }
    reply::count(deleted)
}

/// XSETID's options: entries added and the maximal deleted ID.
fn xsetid_options(argv: &[Bytes], id: StreamId) -> Result<(Option<u64>, StreamId), Frame> {
    let (mut added, mut max_deleted) = (None, StreamId::MIN);
    let mut i = 3;
    while i < argv.len() {
        let more = i + 1 < argv.len();
        if argv[i].eq_ignore_ascii_case(b"entriesadded") && more {
            let n = parse_integer(&argv[i + 1]).ok_or_else(|| reply::err(reply::NOT_INTEGER))?;
            let n =
                u64::try_from(n).map_err(|_| reply::err("ERR entries_added must be positive"))?;
            added = Some(n);
        } else if argv[i].eq_ignore_ascii_case(b"maxdeletedid") && more {
            max_deleted = parse_id(&argv[i + 1], 0, true)?;
            if id < max_deleted {
                return Err(reply::err(
                    "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id",
                ));
            }
        } else {
            return Err(reply::err(reply::SYNTAX));
        }
        i += 2;
    }
    Ok((added, max_deleted))
}

/// XSETID key last-id [ENTRIESADDED n] [MAXDELETEDID id].
pub(crate) fn xsetid(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    let parsed = parse_id(&argv[2], 0, true).and_then(|id| Ok((id, xsetid_options(argv, id)?)));
    let (id, (added, max_deleted)) = match parsed {
        Ok(p) => p,
        Err(e) => return e,
    };
    let key = &argv[1];
    let stream = match typed::write::<StreamValue>(x, key) {
        Err(e) => return e,
        Ok(None) => return reply::err(reply::NO_SUCH_KEY),
        Ok(Some(s)) => s,
    };
    if id < stream.max_deleted_id {
        return reply::err(
            "ERR The ID specified in XSETID is smaller than current max_deleted_entry_id",
        );
    }
    if let Some((top, _)) = stream.last() {
        if id < top {
            return reply::err(
                "ERR The ID specified in XSETID is smaller than the target stream top item",
            );
        }
        if added.is_some_and(|n| (stream.len() as u64) > n) {
            return reply::err(
                "ERR The entries_added specified in XSETID is smaller than the target stream length",
            );
        }
    }
    stream.last_id = id;
    if let Some(n) = added {
        stream.entries_added = n;
    }
    if max_deleted != StreamId::MIN {
        stream.max_deleted_id = max_deleted;
    }
    x.changed(key);
    x.add_dirty(1);
    reply::ok()
}
