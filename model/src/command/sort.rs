//! SORT and SORT_RO without BY/GET patterns: sorting a list, set or sorted set's elements
//! numerically or (ALPHA) bytewise, with LIMIT, ASC/DESC and STORE.
//!
//! Invariants (Redis 7.0 `sort.c`): equal numbers are ordered by their bytes, so the result
//! is deterministic; an element that is not a number fails the whole command with Redis's
//! text; STORE replaces the destination with a list (deleting it when the result is empty)
//! and is propagated as sent. `BY` with a pattern holding `*` and `GET` other than `#` need
//! other keys' values and are refused with an error naming them, never ignored.

use std::cmp::Ordering;

use bytes::Bytes;

use super::exec::Exec;
use super::num::{integer_arg, parse_float};
use super::reply;
use crate::keyspace::{Entry, Value, ValueRef};
use crate::resp::Frame;
use crate::types::ListValue;

#[derive(Default)]
struct Options {
    desc: bool,
    alpha: bool,
    limit: Option<(i64, i64)>,
    store: Option<Bytes>,
    dont_sort: bool,
}

fn parse(argv: &[Bytes], read_only: bool) -> Result<Options, Frame> {
    let mut o = Options::default();
    let mut i = 2;
    while i < argv.len() {
        let left = argv.len() - i - 1;
        match argv[i].to_ascii_lowercase().as_slice() {
            b"asc" => o.desc = false,
            b"desc" => o.desc = true,
            b"alpha" => o.alpha = true,
            b"limit" if left >= 2 => {
                o.limit = Some((integer_arg(&argv[i + 1])?, integer_arg(&argv[i + 2])?));
                i += 2;
            }
            b"store" if left >= 1 && !read_only => {
                o.store = Some(argv[i + 1].clone());
                i += 1;
            }
            b"by" if left >= 1 && !argv[i + 1].contains(&b'*') => {
                o.dont_sort = true; // A pattern without `*`: Redis skips sorting.
                i += 1;
            }
            b"get" if left >= 1 && argv[i + 1].as_ref() == b"#" => i += 1,
            b"by" | b"get" if left >= 1 => {
                return Err(reply::err(
                    "ERR SORT BY and GET patterns are not supported by durakv",
                ))
            }
            _ => return Err(reply::err(reply::SYNTAX)),
        }
        i += 1;
    }
    Ok(o)
}

/// The elements of the value at `key` (empty if absent), or WRONGTYPE.
fn elements(x: &mut Exec<'_>, key: &Bytes) -> Result<Vec<Bytes>, Frame> {
    Ok(match x.peek(key) {
        None => Vec::new(),
        Some(ValueRef::Other(Value::List(l))) => l.items.iter().cloned().collect(),
        Some(ValueRef::Other(Value::Set(s))) => s.iter().collect(),
        Some(ValueRef::Other(Value::ZSet(z))) => z.iter().map(|(m, _)| m.clone()).collect(),
        Some(_) => return Err(reply::err(reply::WRONGTYPE)),
    })
}

fn sort_elements(items: &mut [Bytes], o: &Options) -> Result<(), Frame> {
    if o.dont_sort {
        return Ok(());
    }
    let direction = |ord: Ordering| if o.desc { ord.reverse() } else { ord };
    if o.alpha {
        items.sort_by(|a, b| direction(a.cmp(b)));
        return Ok(());
    }
    let mut scored = Vec::with_capacity(items.len());
    for item in items.iter() {
        let Some(score) = parse_float(item) else {
            return Err(reply::err(
                "ERR One or more scores can't be converted into double",
            ));
        };
        scored.push((score, item.clone()));
    }
    scored.sort_by(|(sa, a), (sb, b)| {
        direction(
            sa.partial_cmp(sb)
                .unwrap_or(Ordering::Equal)
                .then_with(|| a.cmp(b)),
        )
    });
    for (slot, (_, item)) in items.iter_mut().zip(scored) {
        *slot = item;
    }
    Ok(())
}

/// LIMIT offset count as Redis clamps it.
fn window(len: usize, limit: Option<(i64, i64)>) -> (usize, usize) {
    let Some((offset, count)) = limit else {
        return (0, len);
    };
    let len_i = i64::try_from(len).unwrap_or(i64::MAX);
    let start = offset.clamp(0, len_i);
    let count = if count < 0 { len_i } else { count };
    let end = start.saturating_add(count).min(len_i);
    (start as usize, end as usize)
}

fn sort_generic(x: &mut Exec<'_>, argv: &[Bytes], read_only: bool) -> Frame {
    let o = match parse(argv, read_only) {
        Ok(o) => o,
        Err(e) => return e,
    };
    let mut items = match elements(x, &argv[1]) {
        Ok(items) => items,
        Err(e) => return e,
    };
    if let Err(e) = sort_elements(&mut items, &o) {
        return e;
    }
    let (start, end) = window(items.len(), o.limit);
    let result: Vec<Bytes> = items.drain(..).skip(start).take(end - start).collect();
    let Some(dest) = o.store else {
        return Frame::Array(result.into_iter().map(Frame::Bulk).collect());
    };
    let stored = result.len();
    let db = x.db();
    x.expire_if_needed(db, &dest);
    if result.is_empty() {
        if x.delete(&dest) {
            x.add_dirty(1);
        }
    } else {
        let list: ListValue = result.into_iter().collect();
        x.store(
            &dest,
            Entry {
                value: Value::List(Box::new(list)),
                expire_at_ms: None,
            },
        );
        x.add_dirty(stored as u64);
    }
    reply::count(stored)
}

/// SORT key [BY pattern] [LIMIT offset count] [GET #] [ASC|DESC] [ALPHA] [STORE destination].
pub(crate) fn sort(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    sort_generic(x, argv, false)
}

/// SORT_RO: SORT without STORE.
pub(crate) fn sort_ro(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    sort_generic(x, argv, true)
}
