//! The sorted-set commands on one key: ZADD ZINCRBY ZREM ZCARD ZSCORE ZMSCORE ZRANK ZREVRANK
//! ZCOUNT ZLEXCOUNT ZPOPMIN ZPOPMAX ZMPOP ZRANDMEMBER ZSCAN (ranges are in `zset_range.rs`,
//! the algebra in `zset_ops.rs`).
//!
//! Invariants (Redis 7.0 `t_zset.c`): a key of another type is answered WRONGTYPE and left
//! alone; an emptied sorted set is deleted; a compact value never holds -0 (its listpack
//! stores the integer 0, so Redis loses the sign there too); `dirty` counts members added or
//! changed; ZMPOP propagates as `ZPOPMIN|ZPOPMAX key <popped>`, the rest as sent; replies
//! carry scores as RESP3 doubles printed `%.17g`.

use std::sync::Arc;

use bytes::Bytes;

use super::exec::Exec;
use super::num::{integer_arg, splitmix64};
use super::reply;
use super::set::{distinct, positive_count};
use super::typed;
use super::walk;
use super::zset_query::{lex_bounds, nth, rank, score_bounds, LexRange, ScoreRange};
use crate::keyspace::Value;
use crate::resp::Frame;
use crate::types::float::{double_to_i64, format_g17};
use crate::types::{Limits, Score, ZSetValue};

pub(crate) const NOT_FLOAT_RANGE: &str = "ERR min or max is not a float";
pub(crate) const NOT_LEX_RANGE: &str = "ERR min or max not valid string range item";
const NAN_RESULT: &str = "ERR resulting score is not a number (NaN)";

/// A score as Redis replies it (`addReplyDouble`).
pub(crate) fn double(s: f64) -> Frame {
    Frame::Double(format_g17(s))
}

/// Sets `member`'s score; whether it is new. A compact value stores -0 as 0, as a listpack.
pub(crate) fn zinsert(z: &mut ZSetValue, member: Bytes, s: f64, limits: &Limits) -> bool {
    let score = Score::new(s).expect("callers refuse NaN");
    let negative_zero = s == 0.0 && s.is_sign_negative();
    let new = z.insert(member.clone(), score, limits);
    if let (true, ZSetValue::Pack(pairs)) = (negative_zero, z) {
        let zero = Score::new(0.0).expect("not NaN");
        if let Some(p) = Arc::make_mut(pairs).iter_mut().find(|(m, _)| *m == member) {
            p.1 = zero;
        }
    }
    new
}

#[derive(Default, Clone, Copy)]
struct AddFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
    ch: bool,
    incr: bool,
}

enum Added {
    Nop,
    New(f64),
    Changed(f64),
    Same(f64),
}

/// Redis's `zsetAdd` with the flags; `Err` when an increment gives NaN.
fn add_one(
    z: &mut ZSetValue,
    member: &Bytes,
    score: f64,
    f: AddFlags,
    limits: &Limits,
) -> Result<Added, ()> {
    match z.score(member).map(Score::get) {
        Some(_) if f.nx => Ok(Added::Nop),
        Some(cur) => {
            let new = if f.incr { score + cur } else { score };
            if new.is_nan() {
                return Err(());
            }
            if (f.lt && new >= cur) || (f.gt && new <= cur) {
                return Ok(Added::Nop);
            }
            if new == cur {
                return Ok(Added::Same(new));
            }
            zinsert(z, member.clone(), new, limits);
            Ok(Added::Changed(new))
        }
        None if f.xx => Ok(Added::Nop),
        None => {
            zinsert(z, member.clone(), score, limits);
            Ok(Added::New(score))
        }
    }
}

fn parse_add_flags(argv: &[Bytes]) -> (AddFlags, usize) {
    let mut f = AddFlags::default();
    let mut i = 2;
    while i < argv.len() {
        match argv[i].to_ascii_lowercase().as_slice() {
            b"nx" => f.nx = true,
            b"xx" => f.xx = true,
            b"gt" => f.gt = true,
            b"lt" => f.lt = true,
            b"ch" => f.ch = true,
            b"incr" => f.incr = true,
            _ => break,
        }
        i += 1;
    }
    (f, i)
}

/// ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...].
pub(crate) fn zadd(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    let (f, at) = parse_add_flags(argv);
    let elements = argv.len() - at;
    if elements == 0 || !elements.is_multiple_of(2) {
        return reply::err(reply::SYNTAX);
    }
    if f.xx && f.nx {
        return reply::err("ERR XX and NX options at the same time are not compatible");
    }
    if ((f.gt || f.lt) && f.nx) || (f.gt && f.lt) {
        return reply::err("ERR GT, LT, and/or NX options at the same time are not compatible");
    }
    if f.incr && elements > 2 {
        return reply::err("ERR INCR option supports a single increment-element pair");
    }
    let mut pairs = Vec::with_capacity(elements / 2);
    for pair in argv[at..].chunks(2) {
        match super::zset_query::parse_score(&pair[0]) {
            Some(s) => pairs.push((s, pair[1].clone())),
            None => return reply::err(reply::NOT_FLOAT),
        }
    }
    add_pairs(x, &argv[1], f, &pairs)
}

fn add_pairs(x: &mut Exec<'_>, key: &Bytes, f: AddFlags, pairs: &[(f64, Bytes)]) -> Frame {
    let limits = x.ks.limits;
    let exists = match typed::read::<ZSetValue>(x, key) {
        Err(e) => return e,
        Ok(z) => z.is_some(),
    };
    let none = || if f.incr { Frame::Null } else { reply::int(0) };
    if !exists && f.xx {
        return none();
    }
    let first = pairs[0].1.clone();
    let z = match typed::write_or_create::<ZSetValue>(x, key, || {
        Value::ZSet(Box::new(ZSetValue::for_first(&first, &limits)))
    }) {
        Ok(z) => z,
        Err(e) => return e,
    };
    let (mut added, mut changed, mut last) = (0usize, 0usize, None);
    let mut failed = false;
    for (score, member) in pairs {
        match add_one(z, member, *score, f, &limits) {
            Err(()) => {
                failed = true;
                break;
            }
            Ok(Added::Nop) => {}
            Ok(Added::New(s)) => (added, last) = (added + 1, Some(s)),
            Ok(Added::Changed(s)) => (changed, last) = (changed + 1, Some(s)),
            Ok(Added::Same(s)) => last = Some(s),
        }
    }
    x.changed(key);
    x.add_dirty((added + changed) as u64);
    if failed {
        return reply::err(NAN_RESULT);
    }
    match (f.incr, last) {
        (true, Some(s)) => double(s),
        (true, None) => Frame::Null,
        _ => reply::count(if f.ch { added + changed } else { added }),
    }
}

/// ZINCRBY key increment member.
pub(crate) fn zincrby(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    let Some(by) = super::zset_query::parse_score(&argv[2]) else {
        return reply::err(reply::NOT_FLOAT);
    };
    let f = AddFlags {
        incr: true,
        ..AddFlags::default()
    };
    add_pairs(x, &argv[1], f, &[(by, argv[3].clone())])
}

pub(crate) fn zrem(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    let key = &argv[1];
    let z = match typed::write::<ZSetValue>(x, key) {
        Err(e) => return e,
        Ok(None) => return reply::int(0),
        Ok(Some(z)) => z,
    };
    let removed = argv[2..].iter().filter(|m| z.remove(m)).count();
    if removed > 0 {
        x.changed(key);
        x.add_dirty(removed as u64);
    }
    reply::count(removed)
}

pub(crate) fn zcard(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    match typed::read::<ZSetValue>(x, &argv[1]) {
        Err(e) => e,
        Ok(z) => reply::count(z.map_or(0, ZSetValue::len)),
    }
}

pub(crate) fn zscore(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    match typed::read::<ZSetValue>(x, &argv[1]) {
        Err(e) => e,
        Ok(z) => z
            .and_then(|z| z.score(&argv[2]))
            .map_or(Frame::Null, |s| double(s.get())),
    }
}

pub(crate) fn zmscore(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    match typed::read::<ZSetValue>(x, &argv[1]) {
        Err(e) => e,
        Ok(z) => Frame::Array(
            argv[2..]
                .iter()
                .map(|m| {
                    z.and_then(|z| z.score(m))
                        .map_or(Frame::Null, |s| double(s.get()))
                })
                .collect(),
        ),
    }
}

fn rank_of(x: &mut Exec<'_>, argv: &[Bytes], rev: bool) -> Frame {
    match typed::read::<ZSetValue>(x, &argv[1]) {
        Err(e) => e,
        Ok(z) => z
            .and_then(|z| rank(z, &argv[2]).map(|r| if rev { z.len() - 1 - r } else { r }))
            .map_or(Frame::Null, reply::count),
    }
}

pub(crate) fn zrank(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    rank_of(x, argv, false)
}

pub(crate) fn zrevrank(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    rank_of(x, argv, true)
}

/// ZCOUNT key min max.
pub(crate) fn zcount(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    let Some(r) = ScoreRange::parse(&argv[2], &argv[3]) else {
        return reply::err(NOT_FLOAT_RANGE);
    };
    match typed::read::<ZSetValue>(x, &argv[1]) {
        Err(e) => e,
        Ok(z) => reply::count(z.map_or(0, |z| {
            let (lo, hi) = score_bounds(z, r);
            hi - lo
        })),
    }
}

/// ZLEXCOUNT key min max.
pub(crate) fn zlexcount(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    let Some(r) = LexRange::parse(&argv[2], &argv[3]) else {
        return reply::err(NOT_LEX_RANGE);
    };
    match typed::read::<ZSetValue>(x, &argv[1]) {
        Err(e) => e,
        Ok(z) => reply::count(z.map_or(0, |z| {
            let (lo, hi) = lex_bounds(z, &r);
            hi - lo
        })),
    }
}

/// Pops up to `count` members from the lowest (or highest) end of `key`: `Ok(None)` if the
/// key is absent.
pub(crate) fn pop(
    x: &mut Exec<'_>,
    key: &Bytes,
    max: bool,
    count: u64,
) -> Result<Option<Vec<(Bytes, f64)>>, Frame> {
    let Some(z) = typed::write::<ZSetValue>(x, key)? else {
        return Ok(None);
    };
    let n = usize::try_from(count).unwrap_or(usize::MAX).min(z.len());
    let taken: Vec<(Bytes, f64)> = if max {
        z.iter()
            .rev()
            .take(n)
            .map(|(m, s)| (m.clone(), s.get()))
            .collect()
    } else {
        z.iter()
            .take(n)
            .map(|(m, s)| (m.clone(), s.get()))
            .collect()
    };
    for (m, _) in &taken {
        z.remove(m);
    }
    if !taken.is_empty() {
        x.changed(key);
        x.add_dirty(taken.len() as u64);
    }
    Ok(Some(taken))
}

fn pair_frames(items: Vec<(Bytes, f64)>) -> Vec<(Frame, Frame)> {
    items
        .into_iter()
        .map(|(m, s)| (Frame::Bulk(m), double(s)))
        .collect()
}

fn zpop(x: &mut Exec<'_>, argv: &[Bytes], max: bool) -> Frame {
    let count = match argv.len() {
        2 => None,
        3 => match positive_count(&argv[2]) {
            Ok(n) => Some(n),
            Err(e) => return e,
        },
        _ => return reply::err(reply::SYNTAX),
    };
    let popped = match pop(x, &argv[1], max, count.unwrap_or(1)) {
        Err(e) => return e,
        Ok(p) => p.unwrap_or_default(),
    };
    match count {
        Some(_) => Frame::Pairs(pair_frames(popped)),
        None => Frame::Array(
            popped
                .into_iter()
                .flat_map(|(m, s)| [Frame::Bulk(m), double(s)])
                .collect(),
        ),
    }
}

pub(crate) fn zpopmin(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    zpop(x, argv, false)
}

pub(crate) fn zpopmax(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    zpop(x, argv, true)
}

/// ZMPOP's arguments after the name: the keys, MAX, and the count.
pub(crate) fn zmpop_args(argv: &[Bytes]) -> Result<(&[Bytes], bool, u64), Frame> {
    let numkeys = match integer_arg(&argv[1]) {
        Ok(n) if n > 0 => n,
        _ => return Err(reply::err("ERR numkeys should be greater than 0")),
    };
    let numkeys = usize::try_from(numkeys).unwrap_or(usize::MAX);
    let where_at = numkeys.saturating_add(2);
    if where_at >= argv.len() {
        return Err(reply::err(reply::SYNTAX));
    }
    let max = match argv[where_at].to_ascii_lowercase().as_slice() {
        b"min" => false,
        b"max" => true,
        _ => return Err(reply::err(reply::SYNTAX)),
    };
    let mut count = None;
    let mut j = where_at + 1;
    while j < argv.len() {
        if count.is_none() && argv[j].eq_ignore_ascii_case(b"count") && j + 1 < argv.len() {
            let n = match integer_arg(&argv[j + 1]) {
                Ok(n) if n > 0 => n,
                _ => return Err(reply::err("ERR count should be greater than 0")),
            };
            count = Some(n as u64);
            j += 2;
        } else {
            return Err(reply::err(reply::SYNTAX));
        }
    }
    Ok((&argv[2..where_at], max, count.unwrap_or(1)))
}

/// ZMPOP numkeys key [key ...] MIN|MAX [COUNT count]: pops from the first non-empty key.
pub(crate) fn zmpop(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    match zmpop_args(argv) {
        Ok((keys, max, count)) => zmpop_from(x, keys, max, count),
        Err(e) => e,
    }
}

/// Pops up to `count` from the first of `keys` holding a sorted set, propagated as
/// `ZPOPMIN|ZPOPMAX key <popped>`; a null array when none does.
pub(crate) fn zmpop_from(x: &mut Exec<'_>, keys: &[Bytes], max: bool, count: u64) -> Frame {
    for key in keys {
        let popped = match pop(x, key, max, count) {
            Err(e) => return e,
            Ok(None) => continue,
            Ok(Some(p)) => p,
        };
        let name: &'static [u8] = if max { b"ZPOPMAX" } else { b"ZPOPMIN" };
        let n = Bytes::from(popped.len().to_string());
        x.propagate_as(vec![Bytes::from_static(name), key.clone(), n]);
        let items = popped
            .into_iter()
            .map(|(m, s)| Frame::Array(vec![Frame::Bulk(m), double(s)]))
            .collect();
        return Frame::Array(vec![Frame::Bulk(key.clone()), Frame::Array(items)]);
    }
    Frame::NullArray
}

/// ZRANDMEMBER key [count [WITHSCORES]].
pub(crate) fn zrandmember(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    let with_scores = match argv.len() {
        2 => false,
        3 => false,
        4 if argv[3].eq_ignore_ascii_case(b"withscores") => true,
        _ => return reply::err(reply::SYNTAX),
    };
    let count = match argv.get(2).map(|c| integer_arg(c)) {
        None => None,
        Some(Ok(i64::MIN)) => return reply::err(
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        ),
        Some(Ok(n)) if with_scores && n < -(i64::MAX / 2) => {
            return reply::err("ERR value is out of range")
        }
        Some(Ok(n)) => Some(n),
        Some(Err(e)) => return e,
    };
    let mut seed = x.ctx.random;
    let z = match typed::read::<ZSetValue>(x, &argv[1]) {
        Err(e) => return e,
        Ok(None) => return count.map_or(Frame::Null, |_| Frame::Array(Vec::new())),
        Ok(Some(z)) => z,
    };
    let len = z.len();
    let Some(count) = count else {
        let i = (splitmix64(&mut seed) % len as u64) as usize;
        return nth(z, i).map_or(Frame::Null, |(m, _)| reply::bulk(m));
    };
    let picks: Vec<usize> = if count < 0 {
        (0..count.unsigned_abs())
            .map(|_| (splitmix64(&mut seed) % len as u64) as usize)
            .collect()
    } else if count as u64 >= len as u64 {
        (0..len).collect()
    } else {
        distinct(len, count as usize, &mut seed)
    };
    let chosen = picks.into_iter().filter_map(|i| nth(z, i));
    if with_scores {
        Frame::Pairs(
            chosen
                .map(|(m, s)| (reply::bulk(m), double(s.get())))
                .collect(),
        )
    } else {
        Frame::Array(chosen.map(|(m, _)| reply::bulk(m)).collect())
    }
}

/// A score as ZSCAN prints it: a compact value stores integral scores as integers.
fn scan_score(s: f64, compact: bool) -> Bytes {
    match double_to_i64(s) {
        Some(n) if compact => Bytes::from(n.to_string()),
        _ => Bytes::from(format_g17(s)),
    }
}

/// ZSCAN key cursor [MATCH pattern] [COUNT count].
pub(crate) fn zscan(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    let walk = match walk::parse(x, argv) {
        Ok(w) => w,
        Err(e) => return e,
    };
    let (page, last) = match typed::read::<ZSetValue>(x, &argv[1]) {
        Err(e) => return e,
        Ok(None) => (Vec::new(), None),
        Ok(Some(ZSetValue::Pack(pairs))) => {
            let all = pairs
                .iter()
                .map(|(m, s)| (m.clone(), Some(scan_score(s.get(), true))));
            (all.collect(), None)
        }
        Ok(Some(ZSetValue::Skip(skip))) => {
            let lower = walk.after.as_ref().map_or(std::ops::Bound::Unbounded, |m| {
                std::ops::Bound::Excluded(&m[..])
            });
            let members = skip
                .scores
                .range::<_, [u8]>((lower, std::ops::Bound::Unbounded))
                .map(|(m, s)| (m.clone(), Some(scan_score(s.get(), false))));
            walk::take(members, walk.count, |(m, _)| m.clone())
        }
    };
    walk::page(x, &walk, page, last)
}
