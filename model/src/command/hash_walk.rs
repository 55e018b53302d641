//! HRANDFIELD and HSCAN: the hash commands that walk a sample or a page of a hash.
//!
//! Invariants: randomness comes only from `ctx.random` (so a run is a function of its inputs);
//! HRANDFIELD with a positive count never repeats a field, with a negative one may; HSCAN of a
//! compact hash returns it whole with cursor 0 (as Redis does for a listpack), of a large one
//! pages in field order with the same resumable cursors as SCAN.

use bytes::Bytes;

use super::exec::Exec;
use super::glob::string_match;
use super::num::{integer_arg, splitmix64};
use super::reply;
use super::typed;
use super::walk;
use crate::resp::Frame;
use crate::types::HashValue;

/// HRANDFIELD key [count [WITHVALUES]].
pub(crate) fn hrandfield(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    let with_values = match argv.len() {
        2 => return hrandfield_one(x, &argv[1]),
        3 => false,
        4 if argv[3].eq_ignore_ascii_case(b"withvalues") => true,
        _ => return reply::err(reply::SYNTAX),
    };
    let count = match integer_arg(&argv[2]) {
        Ok(n) if n == i64::MIN || (with_values && n < -(i64::MAX / 2)) => {
            return reply::err("ERR value is out of range")
        }
        Ok(n) => n,
        Err(e) => return e,
    };
    let mut seed = x.ctx.random;
    let hash = match typed::read::<HashValue>(x, &argv[1]) {
        Err(e) => return e,
        Ok(None) => return Frame::Array(Vec::new()),
        Ok(Some(hash)) => hash,
    };
    let len = hash.len();
    let picks: Vec<usize> = if count < 0 {
        (0..count.unsigned_abs())
            .map(|_| (splitmix64(&mut seed) % len as u64) as usize)
            .collect()
    } else if count as u64 >= len as u64 {
        (0..len).collect()
    } else {
        distinct(len, count as usize, &mut seed)
    };
    let pairs = gather(hash, &picks);
    let pairs = pairs.into_iter();
    if with_values {
        Frame::Pairs(
            pairs
                .map(|(f, v)| (reply::bulk(f), reply::bulk(v)))
                .collect(),
        )
    } else {
        Frame::Array(pairs.map(|(f, _)| reply::bulk(f)).collect())
    }
}

/// The pairs at `picks` (indexes into the hash's order, possibly repeated), in pick order,
/// with one walk of the hash: O(len + picks · log picks) whatever the form.
fn gather<'h>(hash: &'h HashValue, picks: &[usize]) -> Vec<(&'h Bytes, &'h Bytes)> {
    let mut wanted: Vec<usize> = picks.to_vec();
    wanted.sort_unstable();
    wanted.dedup();
    let mut found = std::collections::BTreeMap::new();
    let mut next = wanted.iter().peekable();
    for (i, pair) in hash.iter().enumerate() {
        match next.peek() {
            Some(&&w) if w == i => {
                found.insert(i, pair);
                next.next();
            }
            Some(_) => {}
            None => break,
        }
    }
    picks.iter().filter_map(|i| found.get(i).copied()).collect()
}

/// `count` distinct indexes below `len` (count < len), in a random order: a partial
/// Fisher-Yates shuffle over a sparse map, so the cost is O(count) whatever `len`.
fn distinct(len: usize, count: usize, seed: &mut u64) -> Vec<usize> {
    let mut moved = std::collections::BTreeMap::new();
    (0..count)
        .map(|i| {
            let j = i + (splitmix64(seed) % (len - i) as u64) as usize;
            let at_j = *moved.get(&j).unwrap_or(&j);
            let at_i = *moved.get(&i).unwrap_or(&i);
            moved.insert(j, at_i);
            at_j
        })
        .collect()
}

fn hrandfield_one(x: &mut Exec<'_>, key: &Bytes) -> Frame {
    let mut seed = x.ctx.random;
    match typed::read::<HashValue>(x, key) {
        Err(e) => e,
        Ok(None) => Frame::Null,
        Ok(Some(hash)) => {
            let i = (splitmix64(&mut seed) % hash.len() as u64) as usize;
            hash.nth(i).map_or(Frame::Null, |(f, _)| reply::bulk(f))
        }
    }
}

/// HSCAN key cursor [MATCH pattern] [COUNT count].
pub(crate) fn hscan(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    let cursor = std::str::from_utf8(&argv[2])
        .ok()
        .and_then(|s| s.parse::<u64>().ok());
    let Some(cursor) = cursor.filter(|_| argv[2].iter().all(u8::is_ascii_digit)) else {
        return reply::err("ERR invalid cursor");
    };
    let (pattern, count) = match walk::scan_options(argv) {
        Ok(o) => o,
        Err(e) => return e,
    };
    let Some(after) = x.shared.scans.resume_after(cursor) else {
        return reply::err("ERR invalid cursor");
    };
    let hash = match typed::read::<HashValue>(x, &argv[1]) {
        Err(e) => return e,
        Ok(hash) => hash,
    };
    let (page, last): (Vec<(Bytes, Bytes)>, Option<Bytes>) = match hash {
        None => (Vec::new(), None),
        Some(HashValue::Pack(pairs)) => (pairs.to_vec(), None),
        Some(HashValue::Table(map)) => {
            let mut page: Vec<(Bytes, Bytes)> = map
                .after(after.as_deref())
                .take(count.saturating_add(1))
                .map(|(f, v)| (f.clone(), v.clone()))
                .collect();
            let more = page.len() > count;
            page.truncate(count);
            let last = more.then(|| page.last().map(|(f, _)| f.clone())).flatten();
            (page, last)
        }
    };
    let next = last.map_or(0, |f| x.shared.scans.issue(f));
    let items = page
        .into_iter()
        .filter(|(f, _)| pattern.as_ref().is_none_or(|p| string_match(p, f)))
        .flat_map(|(f, v)| [Frame::Bulk(f), Frame::Bulk(v)])
        .collect();
    Frame::Array(vec![
        Frame::Bulk(Bytes::from(next.to_string())),
        Frame::Array(items),
    ])
}
