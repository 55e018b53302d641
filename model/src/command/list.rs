//! The list commands: LPUSH RPUSH LPUSHX RPUSHX LPOP RPOP LLEN LRANGE LINDEX LSET LINSERT LREM
//! LTRIM (LPOS, LMOVE, RPOPLPUSH and LMPOP are in `list_move.rs`).
//!
//! Invariants (Redis 7.0 `t_list.c`): a key of another type is answered WRONGTYPE and left
//! alone; a list emptied by a pop, LREM or LTRIM is deleted; `dirty` counts elements changed
//! (so an LTRIM that removes nothing, or a pop of nothing, is not propagated); commands
//! propagate as sent.

use bytes::Bytes;

use super::exec::Exec;
use super::num::integer_arg;
use super::reply;
use super::typed;
use crate::keyspace::Value;
use crate::resp::{parse_integer, Frame};
use crate::types::ListValue;

/// Which end of a list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum End {
    Head,
    Tail,
}

impl End {
    /// LEFT / RIGHT in any case (`getListPositionFromObjectOrReply`).
    pub(crate) fn parse(arg: &[u8]) -> Option<End> {
        if arg.eq_ignore_ascii_case(b"left") {
            Some(End::Head)
        } else if arg.eq_ignore_ascii_case(b"right") {
            Some(End::Tail)
        } else {
            None
        }
    }
}

fn new_list() -> Value {
    Value::List(Box::default())
}

pub(crate) fn push(list: &mut ListValue, end: End, item: Bytes) {
    match end {
        End::Head => list.items.push_front(item),
        End::Tail => list.items.push_back(item),
    }
}

/// Pops up to `count` elements from `end`, in pop order.
pub(crate) fn pop(list: &mut ListValue, end: End, count: usize) -> Vec<Bytes> {
    let n = count.min(list.len());
    (0..n)
        .filter_map(|_| match end {
            End::Head => list.items.pop_front(),
            End::Tail => list.items.pop_back(),
        })
        .collect()
}

/// LPUSH/RPUSH/LPUSHX/RPUSHX (`pushGenericCommand`): the new length.
fn push_generic(x: &mut Exec<'_>, argv: &[Bytes], end: End, existing_only: bool) -> Frame {
    let key = &argv[1];
    if existing_only {
        match typed::read::<ListValue>(x, key) {
            Err(e) => return e,
            Ok(None) => return reply::int(0),
            Ok(Some(_)) => {}
        }
    }
    let list = match typed::write_or_create::<ListValue>(x, key, new_list) {
        Ok(list) => list,
        Err(e) => return e,
    };
    for item in &argv[2..] {
        push(list, end, item.clone());
    }
    let len = list.len();
    x.changed(key);
    x.add_dirty((argv.len() - 2) as u64);
    reply::count(len)
}

pub(crate) fn lpush(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    push_generic(x, argv, End::Head, false)
}

pub(crate) fn rpush(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    push_generic(x, argv, End::Tail, false)
}

pub(crate) fn lpushx(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    push_generic(x, argv, End::Head, true)
}

pub(crate) fn rpushx(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    push_generic(x, argv, End::Tail, true)
}

/// A count that must be ≥ 0 (`getPositiveLongFromObjectOrReply`).
pub(crate) fn positive(arg: &[u8], message: &str) -> Result<usize, Frame> {
    match parse_integer(arg) {
        Some(n) if n >= 0 => Ok(usize::try_from(n).unwrap_or(usize::MAX)),
        _ => Err(reply::err(message)),
    }
}

/// LPOP/RPOP key [count] (`popGenericCommand`).
fn pop_generic(x: &mut Exec<'_>, argv: &[Bytes], end: End) -> Frame {
    if argv.len() > 3 {
        return reply::wrong_arity(if end == End::Head { "lpop" } else { "rpop" });
    }
    let count = match argv.get(2) {
        Some(arg) => match positive(arg, "ERR value is out of range, must be positive") {
            Ok(n) => Some(n),
            Err(e) => return e,
        },
        None => None,
    };
    let key = &argv[1];
    let list = match typed::write::<ListValue>(x, key) {
        Err(e) => return e,
        Ok(None) if count.is_some() => return Frame::NullArray,
        Ok(None) => return Frame::Null,
        Ok(Some(list)) => list,
    };
    if count == Some(0) {
        return Frame::Array(Vec::new());
    }
    let popped = pop(list, end, count.unwrap_or(1));
    x.changed(key);
    x.add_dirty(popped.len() as u64);
    match count {
        Some(_) => Frame::Array(popped.into_iter().map(Frame::Bulk).collect()),
        None => popped.into_iter().next().map_or(Frame::Null, Frame::Bulk),
    }
}

pub(crate) fn lpop(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    pop_generic(x, argv, End::Head)
}

pub(crate) fn rpop(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    pop_generic(x, argv, End::Tail)
}

pub(crate) fn llen(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    match typed::read::<ListValue>(x, &argv[1]) {
        Err(e) => e,
        Ok(list) => reply::count(list.map_or(0, ListValue::len)),
    }
}

/// Redis's range rule (LRANGE, LTRIM): the inclusive index range `start..=stop` clamped to
/// a list of `len`, or `None` when it is empty.
pub(crate) fn clamp_range(start: i64, stop: i64, len: usize) -> Option<(usize, usize)> {
    let len = i64::try_from(len).unwrap_or(i64::MAX);
    let start = if start < 0 {
        (len + start).max(0)
    } else {
        start
    };
    let stop = if stop < 0 {
        len + stop
    } else {
        stop.min(len - 1)
    };
    (start <= stop && start < len).then_some((start as usize, stop as usize))
}

fn range_args(argv: &[Bytes]) -> Result<(i64, i64), Frame> {
    Ok((integer_arg(&argv[2])?, integer_arg(&argv[3])?))
}

pub(crate) fn lrange(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    let (start, stop) = match range_args(argv) {
        Ok(r) => r,
        Err(e) => return e,
    };
    let list = match typed::read::<ListValue>(x, &argv[1]) {
        Err(e) => return e,
        Ok(None) => return Frame::Array(Vec::new()),
        Ok(Some(list)) => list,
    };
    match clamp_range(start, stop, list.len()) {
        None => Frame::Array(Vec::new()),
        Some((from, to)) => Frame::Array(
            list.items
                .skip(from)
                .take(to - from + 1)
                .into_iter()
                .map(Frame::Bulk)
                .collect(),
        ),
    }
}

pub(crate) fn ltrim(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    let (start, stop) = match range_args(argv) {
        Ok(r) => r,
        Err(e) => return e,
    };
    let key = &argv[1];
    let list = match typed::write::<ListValue>(x, key) {
        Err(e) => return e,
        Ok(None) => return reply::ok(),
        Ok(Some(list)) => list,
    };
    let before = list.len();
    list.items = match clamp_range(start, stop, before) {
        None => imbl::Vector::new(),
        Some((from, to)) => list.items.skip(from).take(to - from + 1),
    };
    let removed = before - list.len();
    x.changed(key);
    x.add_dirty(removed as u64);
    reply::ok()
}

pub(crate) fn lindex(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    let index = match integer_arg(&argv[2]) {
        Ok(i) => i,
        Err(e) => return e,
    };
    match typed::read::<ListValue>(x, &argv[1]) {
        Err(e) => e,
        Ok(list) => list
            .and_then(|l| l.index(index).map(|i| l.items[i].clone()))
            .map_or(Frame::Null, Frame::Bulk),
    }
}

pub(crate) fn lset(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    let index = match integer_arg(&argv[2]) {
        Ok(i) => i,
        Err(e) => return e,
    };
    let key = &argv[1];
    let list = match typed::write::<ListValue>(x, key) {
        Err(e) => return e,
        Ok(None) => return reply::err(reply::NO_SUCH_KEY),
        Ok(Some(list)) => list,
    };
    let Some(at) = list.index(index) else {
        return reply::err("ERR index out of range");
    };
    list.items.set(at, argv[3].clone());
    x.changed(key);
    x.add_dirty(1);
    reply::ok()
}

/// LINSERT key BEFORE|AFTER pivot element: the new length, -1 without the pivot, 0 without
/// the key.
pub(crate) fn linsert(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    let after = if argv[2].eq_ignore_ascii_case(b"after") {
        true
    } else if argv[2].eq_ignore_ascii_case(b"before") {
        false
    } else {
        return reply::err(reply::SYNTAX);
    };
    let key = &argv[1];
    let list = match typed::write::<ListValue>(x, key) {
        Err(e) => return e,
        Ok(None) => return reply::int(0),
        Ok(Some(list)) => list,
    };
    let Some(at) = list.items.iter().position(|e| *e == argv[3]) else {
        return reply::int(-1);
    };
    list.items.insert(at + usize::from(after), argv[4].clone());
    let len = list.len();
    x.changed(key);
    x.add_dirty(1);
    reply::count(len)
}

/// LREM key count element: removes up to |count| matches from the head (count > 0), the tail
/// (count < 0) or all (0).
pub(crate) fn lrem(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    let count = match integer_arg(&argv[2]) {
        Ok(n) => n,
        Err(e) => return e,
    };
    let key = &argv[1];
    let list = match typed::write::<ListValue>(x, key) {
        Err(e) => return e,
        Ok(None) => return reply::int(0),
        Ok(Some(list)) => list,
    };
    let limit = if count == 0 {
        u64::MAX
    } else {
        count.unsigned_abs()
    };
    let target = &argv[3];
    let mut removed = 0u64;
    let mut keep = |e: &Bytes| {
        let drop = removed < limit && e == target;
        removed += u64::from(drop);
        !drop
    };
    list.items = if count >= 0 {
        list.items.iter().filter(|e| keep(e)).cloned().collect()
    } else {
        let mut kept: Vec<Bytes> = list
            .items
            .iter()
            .rev()
            .filter(|e| keep(e))
            .cloned()
            .collect();
        kept.reverse();
        kept.into_iter().collect()
    };
    if removed > 0 {
        x.changed(key);
        x.add_dirty(removed);
    }
    reply::int(i64::try_from(removed).unwrap_or(i64::MAX))
}
