//! The generic key commands: DEL, UNLINK, EXISTS, TYPE, RENAME, RENAMENX, KEYS, RANDOMKEY.
//!
//! Invariants: DEL counts only keys that were live (an expired key is expired — and logged as
//! `DEL` — but not counted); RENAME keeps the TTL; KEYS never lists an expired key (nor deletes
//! it, as Redis); RANDOMKEY is a deterministic function of `ctx.random` and the state.

use bytes::Bytes;

use super::exec::Exec;
use super::glob::string_match;
use super::num::splitmix64;
use super::reply;
use crate::keyspace::{Db, Stored};
use crate::resp::Frame;

/// DEL and UNLINK (UNLINK frees in the background in Redis; here both free at once).
pub(crate) fn del(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    let mut deleted = 0;
    for key in &argv[1..] {
        let db = x.db();
        x.expire_if_needed(db, key);
        if x.delete(key) {
            x.add_dirty(1);
            deleted += 1;
        }
    }
    reply::count(deleted)
}

/// EXISTS key...: a key named twice counts twice.
pub(crate) fn exists(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    reply::count(
        argv[1..]
            .iter()
            .filter(|key| x.lookup(key).is_some())
            .count(),
    )
}

pub(crate) fn type_(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    let name = x.lookup(&argv[1]).map_or("none", |e| e.value.type_name());
    Frame::Simple(name.to_string())
}

pub(crate) fn rename(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    rename_generic(x, argv, false)
}

pub(crate) fn renamenx(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    rename_generic(x, argv, true)
}

/// Redis's `renameGenericCommand`.
fn rename_generic(x: &mut Exec<'_>, argv: &[Bytes], nx: bool) -> Frame {
    let (from, to) = (&argv[1], &argv[2]);
    let done = if nx { reply::int(1) } else { reply::ok() };
    let Some(entry) = x.lookup(from) else {
        return reply::err(reply::NO_SUCH_KEY);
    };
    if from == to {
        return if nx { reply::int(0) } else { done };
    }
    if x.lookup(to).is_some() {
        if nx {
            return reply::int(0);
        }
        x.delete(to);
    }
    x.store(to, entry);
    x.delete(from);
    x.add_dirty(1);
    done
}

/// KEYS pattern: every live key matching, in the database's walk order (hash order, as
/// Redis's is too).
pub(crate) fn keys(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    let pattern = &argv[1];
    let all = pattern.as_ref() == b"*";
    let db = &x.ks.dbs[x.db()];
    let keys = db
        .iter()
        .filter(|s| (all || string_match(pattern, s.key())) && !x.is_expired_stored(s))
        .map(|s| Frame::Bulk(s.key_bytes()))
        .collect();
    Frame::Array(keys)
}

/// RANDOMKEY: a random live key; expired keys drawn on the way are deleted (as Redis).
pub(crate) fn randomkey(x: &mut Exec<'_>, _argv: &[Bytes]) -> Frame {
    let db = x.db();
    let mut rng = x.ctx.random;
    // Each round either answers or deletes a key, so this ends.
    loop {
        let Some(key) = random_key(&x.ks.dbs[db], &mut rng) else {
            return Frame::Null;
        };
        if !x.expire_if_needed(db, &key) {
            return Frame::Bulk(key);
        }
    }
}

/// Databases up to this size draw exactly uniformly (an O(n) walk); larger ones by hash.
const UNIFORM_DRAW_MAX: usize = 1024;

/// Keys a large draw chooses among after its random point (see [`random_key`]).
const DRAW_SPREAD: u64 = 16;

/// A key of `db` drawn with `rng`. Small databases: uniform. Large ones: one of the
/// [`DRAW_SPREAD`] keys at or after a random point of the hash space (wrapping), in
/// O(depth + spread). The first key after a point alone would be drawn in proportion to the
/// hash gap before it (exponentially spread); choosing among the next 16 averages 16 gaps, so
/// every key's chance is within a small factor of 1/n (Redis's draw is not exactly uniform
/// either).
pub(crate) fn random_key(db: &Db, rng: &mut u64) -> Option<Bytes> {
    let n = db.len();
    if n == 0 {
        return None;
    }
    if n <= UNIFORM_DRAW_MAX {
        let at = (splitmix64(rng) % n as u64) as usize;
        return db.iter().nth(at).map(Stored::key_bytes);
    }
    let point = splitmix64(rng);
    let skip = (splitmix64(rng) % DRAW_SPREAD) as usize;
    let stored = db.iter_from_hash(point).chain(db.iter()).nth(skip)?;
    Some(stored.key_bytes())
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use super::*;
    use crate::keyspace::{Entry, Value};

    #[test]
    fn del_counts_live_keys_and_logs_only_changes() {
        let mut k = Kit::new();
        k.run("MSET a 1 b 2");
        let out = k.run("DEL a b c a");
        assert_eq!((&out.reply, out.dirty), (&int(2), 2));
        assert_eq!(logged(&out), vec![(0, "DEL a b c a".to_string())]);
        assert_eq!(
            k.logged("DEL a"),
            vec![],
            "DEL of a missing key is not logged"
        );
        k.run("SET x 1");
        assert_eq!(k.reply("unlink x"), int(1));
        k.run("SET e 1 PX 1");
        k.now_ms += 2;
        let out = k.run("DEL e");
        assert_eq!(out.reply, int(0), "an expired key is not counted");
        assert_eq!(
            logged(&out),
            vec![(0, "DEL e".to_string())],
            "but its expiry is logged"
        );
    }

    #[test]
    fn exists_and_type() {
        let mut k = Kit::new();
        k.run("SET a 1");
        assert_eq!(k.reply("EXISTS a a b"), int(2));
        assert_eq!(k.reply("TYPE a"), simple("string"));
        assert_eq!(k.reply("TYPE b"), simple("none"));
    }

    #[test]
    fn rename_moves_value_and_ttl() {
        let mut k = Kit::new();
        assert_eq!(k.reply("RENAME a b"), err("ERR no such key"));
        assert_eq!(k.reply("RENAMENX a b"), err("ERR no such key"));
        k.run("SET a 1 EX 100");
        k.run("SET c 3");
        assert_eq!(k.logged("RENAME a b"), vec![(0, "RENAME a b".to_string())]);
        assert_eq!(
            (k.reply("GET a"), k.reply("GET b"), k.reply("TTL b")),
            (Frame::Null, bulk("1"), int(100))
        );
        assert_eq!(k.reply("RENAMENX b c"), int(0));
        assert_eq!(k.reply("RENAME b c"), ok());
        assert_eq!(k.reply("GET c"), bulk("1"));
        assert_eq!(k.reply("RENAME c c"), ok());
        assert_eq!(k.reply("RENAMENX c c"), int(0));
        assert_eq!(k.reply("RENAMENX c d"), int(1));
    }

    #[test]
    fn keys_matches_and_hides_expired_keys() {
        let mut k = Kit::new();
        k.run("MSET one 1 two 2 three 3");
        k.run("SET gone x PX 5");
        k.run(r#"SET "" empty"#);
        k.now_ms += 6;
        // KEYS answers in hash order, as Redis; compare as sets.
        let sorted = |frame: Frame| match frame {
            Frame::Array(mut keys) => {
                keys.sort_by_key(|f| format!("{f:?}"));
                Frame::Array(keys)
            }
            other => other,
        };
        assert_eq!(sorted(k.reply("KEYS t*")), array(&["three", "two"]));
        assert_eq!(
            sorted(k.reply("KEYS *")),
            array(&["", "one", "three", "two"])
        );
        assert_eq!(k.reply("KEYS ?n?"), array(&["one"]));
        let out = k.run("KEYS *");
        assert!(out.propagate.is_empty(), "KEYS does not delete");
        assert_eq!(k.ks.dbs[0].len(), 5);
    }

    #[test]
    fn randomkey_is_deterministic_and_reaches_every_key() {
        let mut k = Kit::new();
        assert_eq!(k.reply("RANDOMKEY"), Frame::Null);
        k.run("MSET foo 1 bar 2");
        let mut seen = std::collections::BTreeSet::new();
        for r in 0..64 {
            k.random = r;
            let first = k.reply("RANDOMKEY");
            assert_eq!(k.reply("RANDOMKEY"), first, "same input, same key");
            seen.insert(format!("{first:?}"));
        }
        assert_eq!(seen.len(), 2);
    }

    #[test]
    fn randomkey_skips_and_deletes_expired_keys() {
        let mut k = Kit::new();
        k.run("SET live 1");
        for i in 0..20 {
            k.run(&format!("SET dead{i} x PX 1"));
        }
        k.now_ms += 2;
        for r in 0..10 {
            k.random = r;
            assert_eq!(k.reply("RANDOMKEY"), bulk("live"));
        }
    }

    #[test]
    fn large_databases_draw_by_hash_and_reach_every_region() {
        let mut db = Db::default();
        for i in 0..5000 {
            let entry = Entry {
                value: Value::Str(Bytes::new()),
                expire_at_ms: None,
            };
            db.insert(Bytes::from(format!("key:{i:06}")), entry);
        }
        let mut rng = 1;
        let draws: Vec<Bytes> = (0..20_000)
            .filter_map(|_| random_key(&db, &mut rng))
            .collect();
        let distinct: std::collections::BTreeSet<&Bytes> = draws.iter().collect();
        assert!(
            distinct.len() > 4500,
            "spread: {} of {}",
            distinct.len(),
            db.len()
        );
        assert!(draws.iter().all(|k| db.contains(k)));
    }
}
