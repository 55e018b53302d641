//! Databases: SELECT, SWAPDB, FLUSHDB, FLUSHALL, DBSIZE.
//!
//! Invariants: FLUSHDB and FLUSHALL are always propagated, even on empty databases (Redis's
//! `forceCommandPropagation`), and count one change per key removed (FLUSHALL one more);
//! SWAPDB is propagated (also when both indexes are equal, as Redis); SELECT never is. Each
//! signals WATCH for the watched keys that existed on either side, before the change.

use bytes::Bytes;

use super::exec::Exec;
use super::reply;
use crate::keyspace::Db;
use crate::resp::{parse_integer, Frame};

/// A db index argument (Redis's `getIntFromObjectOrReply`: an integer that fits a C `int`).
fn db_index(arg: &[u8], error: &str) -> Result<i64, Frame> {
    parse_integer(arg)
        .filter(|n| i32::try_from(*n).is_ok())
        .ok_or_else(|| reply::err(error))
}

/// The index as a valid db of `x`, or Redis's out-of-range error.
fn in_range(x: &Exec<'_>, n: i64) -> Result<usize, Frame> {
    usize::try_from(n)
        .ok()
        .filter(|&i| i < x.ks.dbs.len())
        .ok_or_else(|| reply::err(reply::DB_RANGE))
}

pub(crate) fn select(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    match db_index(&argv[1], reply::NOT_INTEGER).and_then(|n| in_range(x, n)) {
        Ok(db) => {
            x.session.db = db;
            reply::ok()
        }
        Err(error) => error,
    }
}

pub(crate) fn swapdb(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    let first = db_index(&argv[1], "ERR invalid first DB index");
    let second = first.and_then(|a| Ok((a, db_index(&argv[2], "ERR invalid second DB index")?)));
    let (a, b) = match second.and_then(|(a, b)| Ok((in_range(x, a)?, in_range(x, b)?))) {
        Ok(pair) => pair,
        Err(error) => return error,
    };
    if a != b {
        let (now, loading) = (x.ctx.now_ms, x.ctx.loading);
        let (db_a, db_b) = (&x.ks.dbs[a], &x.ks.dbs[b]);
        x.shared.watches.touch_db(a, db_a, Some(db_b), now, loading);
        x.shared.watches.touch_db(b, db_b, Some(db_a), now, loading);
        x.ks.dbs.swap(a, b);
    }
    x.add_dirty(1);
    reply::ok()
}

/// FLUSHDB/FLUSHALL take nothing, SYNC or ASYNC (both flush at once here).
fn flush_mode_ok(argv: &[Bytes]) -> bool {
    match argv {
        [_] => true,
        [_, mode] => mode.eq_ignore_ascii_case(b"sync") || mode.eq_ignore_ascii_case(b"async"),
        _ => false,
    }
}

/// Empties db `db` after signalling WATCH; the number of keys it held.
fn empty(x: &mut Exec<'_>, db: usize) -> u64 {
    let (now, loading) = (x.ctx.now_ms, x.ctx.loading);
    x.shared
        .watches
        .touch_db(db, &x.ks.dbs[db], None, now, loading);
    let removed = x.ks.dbs[db].len() as u64;
    x.ks.dbs[db] = Db::default();
    removed
}

pub(crate) fn flushdb(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    if !flush_mode_ok(argv) {
        return reply::err(reply::SYNTAX);
    }
    let removed = empty(x, x.db());
    x.add_dirty(removed);
    x.force_propagation();
    reply::ok()
}

/// FLUSHALL. (Redis also saves an RDB at once when save points are configured: the engine's
/// part, on seeing this command succeed.)
pub(crate) fn flushall(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    if !flush_mode_ok(argv) {
        return reply::err(reply::SYNTAX);
    }
    let removed: u64 = (0..x.ks.dbs.len()).map(|db| empty(x, db)).sum();
    x.add_dirty(removed + 1);
    x.force_propagation();
    reply::ok()
}

/// DBSIZE counts keys held, including expired ones not yet reclaimed (as Redis).
pub(crate) fn dbsize(x: &mut Exec<'_>, _argv: &[Bytes]) -> Frame {
    reply::count(x.ks.dbs[x.db()].len())
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;

    #[test]
    fn select_moves_the_session_and_propagation() {
        let mut k = Kit::new();
        assert_eq!(k.logged("SELECT 2"), vec![], "SELECT is never logged");
        assert_eq!(k.logged("SET a 1"), vec![(2, "SET a 1".to_string())]);
        assert_eq!(k.reply("SELECT 16"), err("ERR DB index is out of range"));
        assert_eq!(k.reply("SELECT -1"), err("ERR DB index is out of range"));
        assert_eq!(
            k.reply("SELECT x"),
            err("ERR value is not an integer or out of range")
        );
        assert_eq!(
            k.reply("SELECT 2147483648"),
            err("ERR value is not an integer or out of range")
        );
        assert_eq!(k.reply("DBSIZE"), int(1));
        k.run("SELECT 0");
        assert_eq!(k.reply("DBSIZE"), int(0));
    }

    #[test]
    fn swapdb_swaps_and_is_logged() {
        let mut k = Kit::new();
        k.run("SET a 0");
        assert_eq!(k.logged("SWAPDB 0 1"), vec![(0, "SWAPDB 0 1".to_string())]);
        assert_eq!(k.reply("GET a"), crate::resp::Frame::Null);
        k.run("SELECT 1");
        assert_eq!(k.reply("GET a"), bulk("0"));
        assert_eq!(k.run("SWAPDB 1 1").dirty, 1);
        assert_eq!(k.reply("SWAPDB x 1"), err("ERR invalid first DB index"));
        assert_eq!(k.reply("SWAPDB 1 x"), err("ERR invalid second DB index"));
        assert_eq!(k.reply("SWAPDB 0 16"), err("ERR DB index is out of range"));
    }

    #[test]
    fn flushes_are_always_logged() {
        let mut k = Kit::new();
        let out = k.run("FLUSHALL");
        assert_eq!(
            (logged(&out), out.dirty),
            (vec![(0, "FLUSHALL".to_string())], 1)
        );
        k.run("MSET a 1 b 2");
        k.run("SELECT 1");
        k.run("SET c 3");
        let out = k.run("flushdb async");
        assert_eq!(
            (logged(&out), out.dirty),
            (vec![(1, "flushdb async".to_string())], 1)
        );
        assert_eq!(k.ks.len(), 2);
        let out = k.run("FLUSHALL SYNC");
        assert_eq!(out.dirty, 3);
        assert!(k.ks.is_empty());
        assert_eq!(k.reply("FLUSHDB now"), err("ERR syntax error"));
        assert_eq!(k.reply("FLUSHALL a b"), err("ERR syntax error"));
    }
}
