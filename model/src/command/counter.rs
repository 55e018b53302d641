//! Counters: INCR, DECR, INCRBY, DECRBY, INCRBYFLOAT.
//!
//! Invariants: a counter keeps its TTL; the stored text is the canonical decimal of the new
//! value; INCRBYFLOAT is logged as `SET key <value> KEEPTTL` so a replay cannot round
//! differently (Redis's rule).

use bytes::Bytes;

use super::exec::{string_of, Exec};
use super::num::{format_float, integer_arg, parse_float};
use super::reply;
use crate::keyspace::{Entry, Value};
use crate::resp::{parse_integer, Frame};

pub(crate) fn incr(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    incr_decr(x, &argv[1], 1)
}

pub(crate) fn decr(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    incr_decr(x, &argv[1], -1)
}

pub(crate) fn incrby(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    match integer_arg(&argv[2]) {
        Ok(by) => incr_decr(x, &argv[1], by),
        Err(error) => error,
    }
}

pub(crate) fn decrby(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    match integer_arg(&argv[2]) {
        // Negating i64::MIN overflows.
        Ok(i64::MIN) => reply::err("ERR decrement would overflow"),
        Ok(by) => incr_decr(x, &argv[1], -by),
        Err(error) => error,
    }
}

/// Redis's `incrDecrCommand`.
fn incr_decr(x: &mut Exec<'_>, key: &Bytes, by: i64) -> Frame {
    let entry = match x.lookup_string(key) {
        Ok(entry) => entry,
        Err(error) => return error,
    };
    let current = match &entry {
        Some(e) => match string_of(e).ok().and_then(|s| parse_integer(s)) {
            Some(n) => n,
            None => return reply::err(reply::NOT_INTEGER),
        },
        None => 0,
    };
    let Some(value) = current.checked_add(by) else {
        return reply::err(reply::OVERFLOW);
    };
    let expire_at_ms = entry.and_then(|e| e.expire_at_ms);
    x.store(
        key,
        Entry {
            value: Value::Str(Bytes::from(value.to_string())),
            expire_at_ms,
        },
    );
    x.add_dirty(1);
    reply::int(value)
}

/// Redis's `incrbyfloatCommand`: the stored value is read before the increment argument.
/// The reply is a bulk string in RESP3 too, not a double: Redis 7.0 answers with
/// `addReplyBulk(c,new)` (t_string.c), whatever the issue text says.
pub(crate) fn incrbyfloat(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    let key = &argv[1];
    let entry = match x.lookup_string(key) {
        Ok(entry) => entry,
        Err(error) => return error,
    };
    let current = match &entry {
        Some(e) => string_of(e).ok().and_then(|s| parse_float(s)),
        None => Some(0.0),
    };
    let (Some(current), Some(by)) = (current, parse_float(&argv[2])) else {
        return reply::err(reply::NOT_FLOAT);
    };
    let value = current + by;
    if !value.is_finite() {
        return reply::err("ERR increment would produce NaN or Infinity");
    }
    let text = format_float(value);
    let expire_at_ms = entry.and_then(|e| e.expire_at_ms);
    x.store(
        key,
        Entry {
            value: Value::Str(text.clone()),
            expire_at_ms,
        },
    );
    x.add_dirty(1);
    x.propagate_as(vec![
        Bytes::from_static(b"SET"),
        key.clone(),
        text.clone(),
        Bytes::from_static(b"KEEPTTL"),
    ]);
    Frame::Bulk(text)
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;

    #[test]
    fn incr_family_counts_and_keeps_ttl() {
        let mut k = Kit::new();
        assert_eq!(k.reply("INCR n"), int(1));
        assert_eq!(k.reply("INCRBY n 10"), int(11));
        assert_eq!(k.reply("DECR n"), int(10));
        assert_eq!(k.reply("DECRBY n -5"), int(15));
        assert_eq!(k.reply("GET n"), bulk("15"));
        k.run("EXPIRE n 100");
        assert_eq!(k.logged("incr n"), vec![(0, "incr n".to_string())]);
        assert_eq!(k.reply("TTL n"), int(100));
    }

    #[test]
    fn incr_errors_have_redis_texts() {
        let mut k = Kit::new();
        k.run("SET s abc");
        k.run("SET sp \" 1\"");
        k.run("SET max 9223372036854775807");
        k.run("SET min -9223372036854775808");
        assert_eq!(
            k.reply("INCR s"),
            err("ERR value is not an integer or out of range")
        );
        assert_eq!(
            k.reply("INCR sp"),
            err("ERR value is not an integer or out of range")
        );
        assert_eq!(
            k.reply("INCRBY n x"),
            err("ERR value is not an integer or out of range")
        );
        assert_eq!(
            k.reply("INCR max"),
            err("ERR increment or decrement would overflow")
        );
        assert_eq!(
            k.reply("DECR min"),
            err("ERR increment or decrement would overflow")
        );
        assert_eq!(
            k.reply("DECRBY n -9223372036854775808"),
            err("ERR decrement would overflow")
        );
        let out = k.run("INCR max");
        assert!(out.propagate.is_empty() && out.dirty == 0);
    }

    #[test]
    fn incrbyfloat_is_logged_as_set_keepttl() {
        let mut k = Kit::new();
        k.run("SET f 10.50");
        assert_eq!(k.reply("INCRBYFLOAT f 0.1"), bulk("10.6"));
        assert_eq!(
            k.logged("incrbyfloat f 2.0e2"),
            vec![(0, "SET f 210.6 KEEPTTL".to_string())]
        );
        assert_eq!(k.reply("INCRBYFLOAT new 5.0e3"), bulk("5000"));
        assert_eq!(
            k.reply("INCRBYFLOAT f abc"),
            err("ERR value is not a valid float")
        );
        k.run("SET s abc");
        assert_eq!(
            k.reply("INCRBYFLOAT s 1"),
            err("ERR value is not a valid float")
        );
        assert_eq!(
            k.reply("INCRBYFLOAT f inf"),
            err("ERR increment would produce NaN or Infinity")
        );
        k.run("SET t 1 EX 50");
        k.run("INCRBYFLOAT t 1.5");
        assert_eq!((k.reply("GET t"), k.reply("TTL t")), (bulk("2.5"), int(50)));
    }
}
