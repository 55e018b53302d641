//! The sorted-set range commands: ZRANGE (BYSCORE BYLEX REV LIMIT WITHSCORES) and its classic
//! forms ZREVRANGE ZRANGEBYSCORE ZREVRANGEBYSCORE ZRANGEBYLEX ZREVRANGEBYLEX, ZRANGESTORE, and
//! ZREMRANGEBYRANK ZREMRANGEBYSCORE ZREMRANGEBYLEX.
//!
//! Invariants (Redis 7.0 `zrangeGenericCommand`): options and bounds are checked before the
//! key is looked up, with Redis's error texts; a REV score or lex range is given max first;
//! a negative LIMIT offset selects nothing and a negative count everything after the offset;
//! ZRANGESTORE stores a compact value when the result fits the listpack limits and deletes
//! the destination for an empty result.

use bytes::Bytes;

use super::exec::Exec;
use super::num::integer_arg;
use super::reply;
use super::typed;
use super::zset::{double, NOT_FLOAT_RANGE, NOT_LEX_RANGE};
use super::zset_query::{by_lex, by_rank, by_score, rank_window, Item, LexRange, ScoreRange};
use crate::keyspace::{Entry, Value};
use crate::resp::Frame;
use crate::types::ZSetValue;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Rank,
    Score,
    Lex,
}

enum Range {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexRange),
}

struct Request {
    range: Range,
    rev: bool,
    with_scores: bool,
    offset: i64,
    /// -1: no limit.
    limit: i64,
}

/// Parses `<min> <max> [options]` at `argv[at..]` (Step 1 of `zrangeGenericCommand`).
/// `preset` is the classic command's fixed kind and direction.
fn parse(
    argv: &[Bytes],
    at: usize,
    store: bool,
    preset: Option<(Kind, bool)>,
) -> Result<Request, Frame> {
    let (mut kind, mut rev) = (preset.map(|p| p.0), preset.map(|p| p.1));
    let (mut with_scores, mut offset, mut limit) = (false, 0i64, -1i64);
    let mut j = at + 2;
    while j < argv.len() {
        let left = argv.len() - j - 1;
        match argv[j].to_ascii_lowercase().as_slice() {
            b"withscores" if !store => with_scores = true,
            b"limit" if left >= 2 => {
                offset = integer_arg(&argv[j + 1])?;
                limit = integer_arg(&argv[j + 2])?;
                j += 2;
            }
            b"rev" if rev.is_none() => rev = Some(true),
            b"bylex" if kind.is_none() => kind = Some(Kind::Lex),
            b"byscore" if kind.is_none() => kind = Some(Kind::Score),
            _ => return Err(reply::err(reply::SYNTAX)),
        }
        j += 1;
    }
    let (kind, rev) = (kind.unwrap_or(Kind::Rank), rev.unwrap_or(false));
    if limit != -1 && kind == Kind::Rank {
        return Err(reply::err(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if with_scores && kind == Kind::Lex {
        return Err(reply::err(
            "ERR syntax error, WITHSCORES not supported in combination with BYLEX",
        ));
    }
    let (mut min, mut max) = (&argv[at], &argv[at + 1]);
    if rev && kind != Kind::Rank {
        std::mem::swap(&mut min, &mut max);
    }
    let range = match kind {
        Kind::Rank => Range::Rank(integer_arg(min)?, integer_arg(max)?),
        Kind::Score => {
            Range::Score(ScoreRange::parse(min, max).ok_or_else(|| reply::err(NOT_FLOAT_RANGE))?)
        }
        Kind::Lex => {
            Range::Lex(LexRange::parse(min, max).ok_or_else(|| reply::err(NOT_LEX_RANGE))?)
        }
    };
    Ok(Request {
        range,
        rev,
        with_scores,
        offset,
        limit,
    })
}

/// The selected members with their scores, in reply order.
fn select(z: &ZSetValue, req: &Request) -> Vec<(Bytes, f64)> {
    let items: Box<dyn Iterator<Item = Item<'_>> + '_> = match &req.range {
        Range::Rank(start, end) => match rank_window(*start, *end, z.len()) {
            Some((first, count)) => by_rank(z, first, count, req.rev),
            None => return Vec::new(),
        },
        Range::Score(r) => by_score(z, *r, req.rev),
        Range::Lex(r) => by_lex(z, r.clone(), req.rev),
    };
    if req.offset < 0 {
        return Vec::new();
    }
    let take = usize::try_from(req.limit).unwrap_or(usize::MAX);
    let offset = usize::try_from(req.offset).unwrap_or(usize::MAX);
    items
        .skip(offset)
        .take(take)
        .map(|(m, s)| (m.clone(), s.get()))
        .collect()
}

fn run(x: &mut Exec<'_>, argv: &[Bytes], preset: Option<(Kind, bool)>) -> Frame {
    let req = match parse(argv, 2, false, preset) {
        Ok(r) => r,
        Err(e) => return e,
    };
    let items = match typed::read::<ZSetValue>(x, &argv[1]) {
        Err(e) => return e,
        Ok(None) => return Frame::Array(Vec::new()),
        Ok(Some(z)) => select(z, &req),
    };
    if req.with_scores {
        Frame::Pairs(
            items
                .into_iter()
                .map(|(m, s)| (Frame::Bulk(m), double(s)))
                .collect(),
        )
    } else {
        Frame::Array(items.into_iter().map(|(m, _)| Frame::Bulk(m)).collect())
    }
}

/// ZRANGE key start stop [BYSCORE|BYLEX] [REV] [LIMIT offset count] [WITHSCORES].
pub(crate) fn zrange(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    run(x, argv, None)
}

pub(crate) fn zrevrange(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    run(x, argv, Some((Kind::Rank, true)))
}

pub(crate) fn zrangebyscore(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    run(x, argv, Some((Kind::Score, false)))
}

pub(crate) fn zrevrangebyscore(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    run(x, argv, Some((Kind::Score, true)))
}

pub(crate) fn zrangebylex(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    run(x, argv, Some((Kind::Lex, false)))
}

pub(crate) fn zrevrangebylex(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    run(x, argv, Some((Kind::Lex, true)))
}

/// Stores `pairs` at `dst` as a new sorted set (compact if it fits), deleting `dst` when
/// empty; the count.
pub(crate) fn store_zset(x: &mut Exec<'_>, dst: &Bytes, pairs: Vec<(Bytes, f64)>) -> Frame {
    let count = pairs.len();
    x.peek(dst);
    if count == 0 {
        if x.delete(dst) {
            x.add_dirty(1);
        }
        return reply::int(0);
    }
    let scored = pairs
        .into_iter()
        .map(|(m, s)| (m, crate::types::Score::new(s).expect("never NaN")))
        .collect();
    let z = ZSetValue::from_pairs(scored, &x.ks.limits, true).expect("members are distinct");
    let entry = Entry {
        value: Value::ZSet(Box::new(z)),
        expire_at_ms: None,
    };
    x.store(dst, entry);
    x.add_dirty(1);
    reply::count(count)
}

/// ZRANGESTORE dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count].
pub(crate) fn zrangestore(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    let req = match parse(argv, 3, true, None) {
        Ok(r) => r,
        Err(e) => return e,
    };
    let items = match typed::read::<ZSetValue>(x, &argv[2]) {
        Err(e) => return e,
        Ok(None) => Vec::new(),
        Ok(Some(z)) => select(z, &req),
    };
    store_zset(x, &argv[1], items)
}

/// Removes the members `pick` selects from `key`; the count.
fn remove_range(
    x: &mut Exec<'_>,
    key: &Bytes,
    pick: impl FnOnce(&ZSetValue) -> Vec<Bytes>,
) -> Frame {
    let z = match typed::write::<ZSetValue>(x, key) {
        Err(e) => return e,
        Ok(None) => return reply::int(0),
        Ok(Some(z)) => z,
    };
    let doomed = pick(z);
    for m in &doomed {
        z.remove(m);
    }
    if !doomed.is_empty() {
        x.changed(key);
        x.add_dirty(doomed.len() as u64);
    }
    reply::count(doomed.len())
}

fn members<'a>(items: impl Iterator<Item = Item<'a>>) -> Vec<Bytes> {
    items.map(|(m, _)| m.clone()).collect()
}

pub(crate) fn zremrangebyrank(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    let (start, end) = match (integer_arg(&argv[2]), integer_arg(&argv[3])) {
        (Ok(s), Ok(e)) => (s, e),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    remove_range(x, &argv[1], |z| match rank_window(start, end, z.len()) {
        Some((first, count)) => members(by_rank(z, first, count, false)),
        None => Vec::new(),
    })
}

pub(crate) fn zremrangebyscore(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    let Some(r) = ScoreRange::parse(&argv[2], &argv[3]) else {
        return reply::err(NOT_FLOAT_RANGE);
    };
    remove_range(x, &argv[1], |z| members(by_score(z, r, false)))
}

pub(crate) fn zremrangebylex(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    let Some(r) = LexRange::parse(&argv[2], &argv[3]) else {
        return reply::err(NOT_LEX_RANGE);
    };
    remove_range(x, &argv[1], |z| members(by_lex(z, r, false)))
}
