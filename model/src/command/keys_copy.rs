//! COPY and MOVE: a key's value (and its expiry) into another key or database, as Redis 7.0's
//! `copyCommand` and `moveCommand`; EXPIRETIME and PEXPIRETIME.
//!
//! Invariants: a copy is independent of its source (values are persistent structures, so the
//! clone shares nodes and every later write copies what it changes); both keys are signalled to
//! WATCH in their own databases; the commands propagate as sent (the DB option names an absolute
//! database, so replay lands where the original did).

use bytes::Bytes;

use super::exec::Exec;
use super::num::integer_arg;
use super::reply;
use crate::keyspace::Entry;
use crate::resp::Frame;

/// Redis's `shared.sameobjecterr`.
const SAME_OBJECT: &str = "ERR source and destination objects are the same";

/// A database index argument: Redis's integer error, then its range error.
fn db_arg(x: &Exec<'_>, arg: &[u8]) -> Result<usize, Frame> {
    let index = integer_arg(arg)?;
    usize::try_from(index)
        .ok()
        .filter(|&i| i < x.ks.dbs.len())
        .ok_or_else(|| reply::err(reply::DB_RANGE))
}

/// The live entry of `key` in `db` (an expired one is deleted first, as `lookupKeyWrite`).
fn lookup_in(x: &mut Exec<'_>, db: usize, key: &Bytes) -> Option<Entry> {
    x.expire_if_needed(db, key);
    x.ks.dbs[db].get(key).map(std::borrow::Cow::into_owned)
}

/// Sets `key` in `db` and signals it.
fn store_in(x: &mut Exec<'_>, db: usize, key: &Bytes, entry: Entry) {
    x.ks.dbs[db].insert(key.clone(), entry);
    x.touch(db, key);
}

/// COPY source destination [DB destination-db] [REPLACE].
pub(crate) fn copy(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    let (from, to) = (&argv[1], &argv[2]);
    let (src, mut dst, mut replace) = (x.db(), x.db(), false);
    let mut j = 3;
    while j < argv.len() {
        let more = j + 1 < argv.len();
        if argv[j].eq_ignore_ascii_case(b"REPLACE") {
            replace = true;
        } else if argv[j].eq_ignore_ascii_case(b"DB") && more {
            dst = match db_arg(x, &argv[j + 1]) {
                Ok(db) => db,
                Err(e) => return e,
            };
            j += 1;
        } else {
            return reply::err(reply::SYNTAX);
        }
        j += 1;
    }
    if src == dst && from == to {
        return reply::err(SAME_OBJECT);
    }
    let Some(entry) = lookup_in(x, src, from) else {
        return reply::int(0);
    };
    if lookup_in(x, dst, to).is_some() {
        if !replace {
            return reply::int(0);
        }
        x.ks.dbs[dst].remove(to);
    }
    store_in(x, dst, to, entry);
    x.add_dirty(1);
    reply::int(1)
}

/// MOVE key db.
pub(crate) fn move_(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    let key = &argv[1];
    let src = x.db();
    let dst = match db_arg(x, &argv[2]) {
        Ok(db) => db,
        Err(e) => return e,
    };
    if src == dst {
        return reply::err(SAME_OBJECT);
    }
    let Some(entry) = lookup_in(x, src, key) else {
        return reply::int(0);
    };
    if lookup_in(x, dst, key).is_some() {
        return reply::int(0);
    }
    store_in(x, dst, key, entry);
    x.ks.dbs[src].remove(key);
    x.touch(src, key);
    x.add_dirty(1);
    reply::int(1)
}

pub(crate) fn expiretime(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    expiretime_generic(x, &argv[1], false)
}

pub(crate) fn pexpiretime(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    expiretime_generic(x, &argv[1], true)
}

/// -2 without the key, -1 without an expiry, else the absolute expiry (seconds truncated).
fn expiretime_generic(x: &mut Exec<'_>, key: &Bytes, ms: bool) -> Frame {
    let Some(entry) = x.lookup(key) else {
        return reply::int(-2);
    };
    let Some(at) = entry.expire_at_ms else {
        return reply::int(-1);
    };
    let at = i64::try_from(at).unwrap_or(i64::MAX);
    reply::int(if ms { at } else { at / 1000 })
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;

    #[test]
    fn copy_keeps_the_expiry_and_is_independent() {
        let mut k = Kit::new();
        k.run("RPUSH l a b");
        k.run(&format!("PEXPIREAT l {}", T0 + 5_000));
        assert_eq!(k.reply("COPY l m"), int(1));
        assert_eq!(k.reply("COPY l m"), int(0), "m exists");
        k.run("RPUSH l c");
        assert_eq!(k.reply("LLEN m"), int(2));
        assert_eq!(k.reply("PEXPIRETIME m"), int((T0 + 5_000) as i64));
        assert_eq!(k.reply("EXPIRETIME m"), int(((T0 + 5_000) / 1000) as i64));
        assert_eq!(
            k.logged("COPY l m DB 3 REPLACE"),
            vec![(0, "COPY l m DB 3 REPLACE".to_string())]
        );
        assert_eq!(k.reply("COPY l m REPLACE"), int(1));
        assert_eq!(k.reply("LLEN m"), int(3));
        assert_eq!(
            k.reply("COPY l l"),
            err("ERR source and destination objects are the same")
        );
        assert_eq!(
            k.reply("COPY l m DB x"),
            err("ERR value is not an integer or out of range")
        );
        assert_eq!(
            k.reply("COPY l m DB 99"),
            err("ERR DB index is out of range")
        );
        assert_eq!(k.reply("COPY l m FOO"), err("ERR syntax error"));
        assert_eq!(k.reply("COPY l m DB"), err("ERR syntax error"));
        assert_eq!(k.reply("COPY nope m"), int(0));
        k.run("SELECT 3");
        assert_eq!(k.reply("LLEN m"), int(3));
        assert_eq!(k.reply("PTTL m"), int(5_000), "the expiry went along");
        assert_eq!(
            (k.reply("EXPIRETIME nope"), k.reply("PEXPIRETIME nope")),
            (int(-2), int(-2))
        );
    }

    #[test]
    fn move_goes_only_to_an_absent_key_of_another_db() {
        let mut k = Kit::new();
        k.run("SET a 1");
        k.run("SET b 1");
        assert_eq!(
            k.reply("MOVE a 0"),
            err("ERR source and destination objects are the same")
        );
        assert_eq!(
            k.reply("MOVE a x"),
            err("ERR value is not an integer or out of range")
        );
        assert_eq!(k.reply("MOVE a 1"), int(1));
        assert_eq!(k.reply("EXISTS a"), int(0));
        assert_eq!(k.reply("EXPIRETIME b"), int(-1));
        k.run("SELECT 1");
        k.run("SET b 2");
        k.run("SELECT 0");
        assert_eq!(k.reply("MOVE b 1"), int(0), "b exists in db 1");
        assert_eq!(k.reply("MOVE nope 1"), int(0));
        k.run("SELECT 1");
        assert_eq!((k.reply("GET a"), k.reply("GET b")), (bulk("1"), bulk("2")));
    }
}
