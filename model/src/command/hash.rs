//! The hash commands: HSET HSETNX HMSET HGET HMGET HDEL HLEN HSTRLEN HEXISTS HKEYS HVALS
//! HGETALL HINCRBY HINCRBYFLOAT (HRANDFIELD and HSCAN are in `hash_walk.rs`).
//!
//! Invariants (Redis 7.0 `t_hash.c`): a key of another type is answered WRONGTYPE and left
//! alone; a hash emptied by HDEL is deleted; `dirty` counts fields changed; everything
//! propagates as sent except HINCRBYFLOAT, logged as `HSET key field <result>` so a replay
//! cannot round differently.

use bytes::Bytes;

use super::exec::Exec;
use super::num::{format_float, integer_arg, parse_float};
use super::reply;
use super::typed;
use crate::keyspace::Value;
use crate::resp::{parse_integer, Frame};
use crate::types::HashValue;

fn new_hash() -> Value {
    Value::Hash(HashValue::default())
}

/// Sets every field, value pair of `pairs`; the number of new fields.
fn set_pairs(x: &mut Exec<'_>, key: &Bytes, pairs: &[Bytes]) -> Result<usize, Frame> {
    let limits = x.ks.limits;
    let hash = typed::write_or_create::<HashValue>(x, key, new_hash)?;
    let mut created = 0;
    for pair in pairs.chunks(2) {
        created += usize::from(hash.insert(pair[0].clone(), pair[1].clone(), &limits));
    }
    x.changed(key);
    x.add_dirty((pairs.len() / 2) as u64);
    Ok(created)
}

/// HSET key field value [field value ...]: the number of new fields.
pub(crate) fn hset(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    if !argv.len().is_multiple_of(2) {
        return reply::wrong_arity("hset");
    }
    set_pairs(x, &argv[1], &argv[2..]).map_or_else(|e| e, reply::count)
}

/// HMSET: HSET answering OK.
pub(crate) fn hmset(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    if !argv.len().is_multiple_of(2) {
        return reply::wrong_arity("hmset");
    }
    set_pairs(x, &argv[1], &argv[2..]).map_or_else(|e| e, |_| reply::ok())
}

pub(crate) fn hsetnx(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    let key = &argv[1];
    match typed::read::<HashValue>(x, key) {
        Err(e) => e,
        Ok(Some(hash)) if hash.get(&argv[2]).is_some() => reply::int(0),
        Ok(_) => set_pairs(x, key, &argv[2..4]).map_or_else(|e| e, |_| reply::int(1)),
    }
}

pub(crate) fn hget(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    match typed::read::<HashValue>(x, &argv[1]) {
        Err(e) => e,
        Ok(hash) => hash
            .and_then(|h| h.get(&argv[2]))
            .map_or(Frame::Null, reply::bulk),
    }
}

pub(crate) fn hmget(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    match typed::read::<HashValue>(x, &argv[1]) {
        Err(e) => e,
        Ok(hash) => Frame::Array(
            argv[2..]
                .iter()
                .map(|f| hash.and_then(|h| h.get(f)).map_or(Frame::Null, reply::bulk))
                .collect(),
        ),
    }
}

pub(crate) fn hdel(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    let key = &argv[1];
    let hash = match typed::write::<HashValue>(x, key) {
        Err(e) => return e,
        Ok(None) => return reply::int(0),
        Ok(Some(hash)) => hash,
    };
    let deleted = argv[2..].iter().filter(|f| hash.remove(f)).count();
    if deleted > 0 {
        x.changed(key);
        x.add_dirty(deleted as u64);
    }
    reply::count(deleted)
}

pub(crate) fn hlen(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    match typed::read::<HashValue>(x, &argv[1]) {
        Err(e) => e,
        Ok(hash) => reply::count(hash.map_or(0, HashValue::len)),
    }
}

pub(crate) fn hstrlen(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    match typed::read::<HashValue>(x, &argv[1]) {
        Err(e) => e,
        Ok(hash) => reply::count(hash.and_then(|h| h.get(&argv[2])).map_or(0, Bytes::len)),
    }
}

pub(crate) fn hexists(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    match typed::read::<HashValue>(x, &argv[1]) {
        Err(e) => e,
        Ok(hash) => reply::int(i64::from(hash.is_some_and(|h| h.get(&argv[2]).is_some()))),
    }
}

/// HKEYS, HVALS, HGETALL (`genericHgetallCommand`): a map for HGETALL (flat in RESP2).
fn getall(x: &mut Exec<'_>, key: &Bytes, keys: bool, values: bool) -> Frame {
    let hash = match typed::read::<HashValue>(x, key) {
        Err(e) => return e,
        Ok(hash) => hash,
    };
    let pairs = hash.into_iter().flat_map(|h| h.iter());
    match (keys, values) {
        (true, true) => Frame::Map(
            pairs
                .map(|(f, v)| (reply::bulk(f), reply::bulk(v)))
                .collect(),
        ),
        (true, false) => Frame::Array(pairs.map(|(f, _)| reply::bulk(f)).collect()),
        _ => Frame::Array(pairs.map(|(_, v)| reply::bulk(v)).collect()),
    }
}

pub(crate) fn hkeys(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    getall(x, &argv[1], true, false)
}

pub(crate) fn hvals(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    getall(x, &argv[1], false, true)
}

pub(crate) fn hgetall(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    getall(x, &argv[1], true, true)
}

/// The current value of `field` at `key` (None when the key or field is absent).
fn field_value(x: &mut Exec<'_>, key: &Bytes, field: &[u8]) -> Result<Option<Bytes>, Frame> {
    Ok(typed::read::<HashValue>(x, key)?.and_then(|h| h.get(field).cloned()))
}

pub(crate) fn hincrby(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    let (key, field) = (&argv[1], &argv[2]);
    let by = match integer_arg(&argv[3]) {
        Ok(n) => n,
        Err(e) => return e,
    };
    let current = match field_value(x, key, field) {
        Err(e) => return e,
        Ok(None) => 0,
        Ok(Some(v)) => match parse_integer(&v) {
            Some(n) => n,
            None => return reply::err("ERR hash value is not an integer"),
        },
    };
    let Some(next) = current.checked_add(by) else {
        return reply::err(reply::OVERFLOW);
    };
    let text = Bytes::from(next.to_string());
    match set_pairs(x, key, &[field.clone(), text]) {
        Ok(_) => reply::int(next),
        Err(e) => e,
    }
}

pub(crate) fn hincrbyfloat(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    let (key, field) = (&argv[1], &argv[2]);
    let Some(by) = parse_float(&argv[3]) else {
        return reply::err(reply::NOT_FLOAT);
    };
    if !by.is_finite() {
        return reply::err("ERR value is NaN or Infinity");
    }
    let current = match field_value(x, key, field) {
        Err(e) => return e,
        Ok(None) => 0.0,
        Ok(Some(v)) => match parse_float(&v) {
            Some(n) => n,
            None => return reply::err("ERR hash value is not a float"),
        },
    };
    let next = current + by;
    if !next.is_finite() {
        return reply::err("ERR increment would produce NaN or Infinity");
    }
    let text = format_float(next);
    if let Err(e) = set_pairs(x, key, &[field.clone(), text.clone()]) {
        return e;
    }
    x.propagate_as(vec![
        Bytes::from_static(b"HSET"),
        key.clone(),
        field.clone(),
        text.clone(),
    ]);
    Frame::Bulk(text)
}
