//! The set commands on one key: SADD SREM SMEMBERS SISMEMBER SMISMEMBER SCARD SPOP
//! SRANDMEMBER SMOVE SSCAN (the multi-key algebra is in `set_ops.rs`).
//!
//! Invariants (Redis 7.0 `t_set.c`): a key of another type is answered WRONGTYPE and left
//! alone; a set emptied by a command is deleted; SPOP propagates as `SREM key member` per
//! member (several in one MULTI/EXEC), or `DEL key` when it takes the whole set, so a replay
//! removes exactly what was popped; randomness comes only from `ctx.random`.

use bytes::Bytes;

use super::exec::{Exec, DEL};
use super::num::{integer_arg, splitmix64};
use super::reply;
use super::typed;
use super::walk;
use crate::keyspace::Value;
use crate::resp::Frame;
use crate::types::SetValue;

const SREM: Bytes = Bytes::from_static(b"SREM");

/// SADD key member [member ...]: the number of new members.
pub(crate) fn sadd(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    let limits = x.ks.limits;
    let key = &argv[1];
    let first = argv[2].clone();
    let set = match typed::write_or_create::<SetValue>(x, key, || {
        Value::Set(SetValue::for_first(&first))
    }) {
        Ok(set) => set,
        Err(e) => return e,
    };
    let added = argv[2..]
        .iter()
        .filter(|m| set.insert((*m).clone(), &limits))
        .count();
    x.changed(key);
    x.add_dirty(added as u64);
    reply::count(added)
}

/// SREM key member [member ...]: the number removed.
pub(crate) fn srem(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    let key = &argv[1];
    let set = match typed::write::<SetValue>(x, key) {
        Err(e) => return e,
        Ok(None) => return reply::int(0),
        Ok(Some(set)) => set,
    };
    let removed = argv[2..].iter().filter(|m| set.remove(m)).count();
    if removed > 0 {
        x.changed(key);
        x.add_dirty(removed as u64);
    }
    reply::count(removed)
}

/// A set's members as a RESP3 set.
pub(crate) fn members_frame<I: IntoIterator<Item = Bytes>>(members: I) -> Frame {
    Frame::Set(members.into_iter().map(Frame::Bulk).collect())
}

/// SMEMBERS key (Redis answers it with SINTER's code: a set, empty when absent).
pub(crate) fn smembers(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    match typed::read::<SetValue>(x, &argv[1]) {
        Err(e) => e,
        Ok(set) => members_frame(set.into_iter().flat_map(SetValue::iter)),
    }
}

pub(crate) fn sismember(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    match typed::read::<SetValue>(x, &argv[1]) {
        Err(e) => e,
        Ok(set) => reply::int(i64::from(set.is_some_and(|s| s.contains(&argv[2])))),
    }
}

pub(crate) fn smismember(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    match typed::read::<SetValue>(x, &argv[1]) {
        Err(e) => e,
        Ok(set) => Frame::Array(
            argv[2..]
                .iter()
                .map(|m| reply::int(i64::from(set.is_some_and(|s| s.contains(m)))))
                .collect(),
        ),
    }
}

pub(crate) fn scard(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    match typed::read::<SetValue>(x, &argv[1]) {
        Err(e) => e,
        Ok(set) => reply::count(set.map_or(0, SetValue::len)),
    }
}

/// The member at position `i` of the set's order.
fn nth(set: &SetValue, i: usize) -> Option<Bytes> {
    match set {
        SetValue::Ints(ints) => ints.get(i).map(|n| Bytes::from(n.to_string())),
        SetValue::Table(table) => table.iter().nth(i).map(|(m, _)| m.clone()),
    }
}

/// `count` distinct indexes below `len` (count < len): a partial Fisher-Yates shuffle over
/// a sparse map, O(count) whatever `len`.
pub(crate) fn distinct(len: usize, count: usize, seed: &mut u64) -> Vec<usize> {
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

/// SPOP key [count].
pub(crate) fn spop(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    match argv.len() {
        2 => spop_one(x, &argv[1]),
        3 => spop_count(x, &argv[1], &argv[2]),
        _ => reply::err(reply::SYNTAX),
    }
}

fn spop_one(x: &mut Exec<'_>, key: &Bytes) -> Frame {
    let mut seed = x.ctx.random;
    let set = match typed::write::<SetValue>(x, key) {
        Err(e) => return e,
        Ok(None) => return Frame::Null,
        Ok(Some(set)) => set,
    };
    let i = (splitmix64(&mut seed) % set.len() as u64) as usize;
    let member = nth(set, i).expect("index below the length");
    set.remove(&member);
    x.changed(key);
    x.add_dirty(1);
    x.propagate_as(vec![SREM, key.clone(), member.clone()]);
    Frame::Bulk(member)
}

/// Redis's `getPositiveLongFromObjectOrReply`.
pub(crate) fn positive_count(arg: &[u8]) -> Result<u64, Frame> {
    let out_of_range = || reply::err("ERR value is out of range, must be positive");
    let n = integer_arg(arg).map_err(|_| out_of_range())?;
    u64::try_from(n).map_err(|_| out_of_range())
}

fn spop_count(x: &mut Exec<'_>, key: &Bytes, count: &[u8]) -> Frame {
    let count = match positive_count(count) {
        Ok(n) => n,
        Err(e) => return e,
    };
    let mut seed = x.ctx.random;
    let set = match typed::write::<SetValue>(x, key) {
        Err(e) => return e,
        Ok(None) => return Frame::Set(Vec::new()),
        Ok(Some(set)) => set,
    };
    if count == 0 {
        return Frame::Set(Vec::new());
    }
    let len = set.len();
    if count >= len as u64 {
        let all: Vec<Bytes> = set.iter().collect();
        x.delete(key);
        x.add_dirty(1);
        x.propagate_as(vec![DEL, key.clone()]);
        return members_frame(all);
    }
    let members: Vec<Bytes> = set.iter().collect();
    let picked: Vec<Bytes> = distinct(len, count as usize, &mut seed)
        .into_iter()
        .map(|i| members[i].clone())
        .collect();
    for m in &picked {
        set.remove(m);
    }
    x.changed(key);
    x.add_dirty(picked.len() as u64);
    x.prevent_propagation();
    let db = x.db();
    for m in &picked {
        x.propagate(db, vec![SREM, key.clone(), m.clone()]);
    }
    members_frame(picked)
}

/// SRANDMEMBER key [count]: a negative count may repeat members.
pub(crate) fn srandmember(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    let count = match argv.len() {
        2 => None,
        3 => match integer_arg(&argv[2]) {
            Ok(i64::MIN) => {
                return reply::err(
                    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
                )
            }
            Ok(n) => Some(n),
            Err(e) => return e,
        },
        _ => return reply::err(reply::SYNTAX),
    };
    let mut seed = x.ctx.random;
    let set = match typed::read::<SetValue>(x, &argv[1]) {
        Err(e) => return e,
        Ok(None) => return count.map_or(Frame::Null, |_| Frame::Array(Vec::new())),
        Ok(Some(set)) => set,
    };
    let len = set.len();
    let Some(count) = count else {
        let i = (splitmix64(&mut seed) % len as u64) as usize;
        return nth(set, i).map_or(Frame::Null, Frame::Bulk);
    };
    let members: Vec<Bytes> = set.iter().collect();
    let picks: Vec<usize> = if count < 0 {
        (0..count.unsigned_abs())
            .map(|_| (splitmix64(&mut seed) % len as u64) as usize)
            .collect()
    } else if count as u64 >= len as u64 {
        (0..len).collect()
    } else {
        distinct(len, count as usize, &mut seed)
    };
    Frame::Array(
        picks
            .into_iter()
            .map(|i| Frame::Bulk(members[i].clone()))
            .collect(),
    )
}

/// SMOVE source destination member.
pub(crate) fn smove(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    let (src, dst, member) = (&argv[1], &argv[2], &argv[3]);
    let limits = x.ks.limits;
    let in_src = match typed::read::<SetValue>(x, src) {
        Err(e) => return e,
        Ok(None) => return reply::int(0),
        Ok(Some(set)) => set.contains(member),
    };
    if let Err(e) = typed::read::<SetValue>(x, dst) {
        return e;
    }
    if src == dst || !in_src {
        return reply::int(i64::from(in_src));
    }
    if let Ok(Some(set)) = typed::write::<SetValue>(x, src) {
        set.remove(member);
    }
    x.changed(src);
    x.add_dirty(1);
    let first = member.clone();
    let added =
        typed::write_or_create::<SetValue>(x, dst, || Value::Set(SetValue::for_first(&first)))
            .is_ok_and(|set| set.insert(member.clone(), &limits));
    // Redis signals the destination only when it changed (a WATCH on it stays valid).
    if added {
        x.changed(dst);
        x.add_dirty(1);
    }
    reply::int(1)
}

/// SSCAN key cursor [MATCH pattern] [COUNT count].
pub(crate) fn sscan(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    let walk = match walk::parse(x, argv) {
        Ok(w) => w,
        Err(e) => return e,
    };
    let (page, last) = match typed::read::<SetValue>(x, &argv[1]) {
        Err(e) => return e,
        Ok(None) => (Vec::new(), None),
        Ok(Some(set @ SetValue::Ints(_))) => (set.iter().collect(), None),
        Ok(Some(SetValue::Table(table))) => {
            let members = table.after(walk.after.as_deref()).map(|(m, _)| m.clone());
            walk::take(members, walk.count, Bytes::clone)
        }
    };
    let items = page.into_iter().map(|m| (m, None)).collect();
    walk::page(x, &walk, items, last)
}
