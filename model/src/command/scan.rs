//! SCAN cursor [MATCH pattern] [COUNT n] [TYPE type], over the database's walk order.
//!
//! A database walks its keys in a fixed (hash, key) order, so a position is "after key K". A
//! `u64` cannot hold K (hashes can collide), so a cursor is a handle: `Shared` maps it to the
//! last key visited. The guarantee, stronger than Redis's: a full iteration (from cursor 0
//! until 0 comes back) returns every key that was present from its start to its end exactly
//! once, in hash order, whatever is inserted or deleted meanwhile (keys added during it are
//! returned iff they hash after the position);
//! each call visits at most COUNT keys. Cursors are valid on any connection for the last
//! [`SCAN_CURSORS_MAX`] SCAN calls that returned one; an unknown or evicted cursor is refused
//! with Redis's `ERR invalid cursor` rather than silently restarting, and none survives a
//! restart.
//!
//! Invariant: `resume` and `order` hold the same ids, at most [`SCAN_CURSORS_MAX`] of them.

use bytes::Bytes;

use super::exec::Exec;
use super::glob::string_match;
use super::num::integer_arg;
use super::reply;
use crate::keyspace::Stored;
use crate::resp::Frame;

/// SCAN's options (Redis 7.0 `scanGenericCommand`, step 1).
struct Options {
    count: usize,
    pattern: Option<Bytes>,
    type_name: Option<Bytes>,
}

fn parse_options(argv: &[Bytes]) -> Result<Options, Frame> {
    let mut o = Options {
        count: 10,
        pattern: None,
        type_name: None,
    };
    let mut i = 2;
    while i < argv.len() {
        let has_value = i + 1 < argv.len();
        let opt = argv[i].to_ascii_lowercase();
        match opt.as_slice() {
            b"count" if has_value => {
                let n = integer_arg(&argv[i + 1])?;
                if n < 1 {
                    return Err(reply::err(reply::SYNTAX));
                }
                o.count = usize::try_from(n).unwrap_or(usize::MAX);
            }
            // A lone `*` matches everything (including the empty key, unlike the glob).
            b"match" if has_value => {
                o.pattern = Some(argv[i + 1].clone()).filter(|p| p.as_ref() != b"*")
            }
            b"type" if has_value => o.type_name = Some(argv[i + 1].clone()),
            _ => return Err(reply::err(reply::SYNTAX)),
        }
        i += 2;
    }
    Ok(o)
}

/// A cursor as Redis reads it (`strtoul`, digits only here).
fn parse_cursor(arg: &[u8]) -> Option<u64> {
    if arg.is_empty() || !arg.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(arg).ok()?.parse().ok()
}

pub(crate) fn scan(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    let invalid = || reply::err("ERR invalid cursor");
    let Some(cursor) = parse_cursor(&argv[1]) else {
        return invalid();
    };
    let o = match parse_options(argv) {
        Ok(o) => o,
        Err(error) => return error,
    };
    let Some(after) = x.shared.scans.resume_after(cursor) else {
        return invalid();
    };
    let db = x.db();
    // One more than COUNT, to know whether anything is left after this page.
    let mut visited: Vec<Bytes> = x.ks.dbs[db]
        .iter_after(after.as_deref())
        .take(o.count.saturating_add(1))
        .map(Stored::key_bytes)
        .collect();
    let more = visited.len() > o.count;
    visited.truncate(o.count);
    let next = match visited.last() {
        Some(last) if more => x.shared.scans.issue(last.clone()),
        _ => 0,
    };
    let keys = visited
        .into_iter()
        .filter(|key| keep(x, db, key, &o))
        .map(Frame::Bulk)
        .collect();
    Frame::Array(vec![
        Frame::Bulk(Bytes::from(next.to_string())),
        Frame::Array(keys),
    ])
}

/// Redis's step 3: the pattern first, then expiry (deleting the key), then the type.
fn keep(x: &mut Exec<'_>, db: usize, key: &Bytes, o: &Options) -> bool {
    if o.pattern.as_ref().is_some_and(|p| !string_match(p, key)) {
        return false;
    }
    if x.expire_if_needed(db, key) {
        return false;
    }
    match (&o.type_name, x.ks.dbs[db].get(key)) {
        (Some(wanted), Some(e)) => e.value.type_name().as_bytes().eq_ignore_ascii_case(wanted),
        (None, Some(_)) => true,
        (_, None) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use super::*;
    use crate::keyspace::key_hash;

    /// Runs SCAN pages from 0 to 0; returns the keys in order.
    fn full_scan(
        k: &mut Kit,
        options: &str,
        between_pages: &mut dyn FnMut(&mut Kit),
    ) -> Vec<String> {
        let (mut cursor, mut keys) = ("0".to_string(), Vec::new());
        loop {
            let Frame::Array(page) = k.reply(&format!("SCAN {cursor} {options}")) else {
                panic!("not an array")
            };
            let [Frame::Bulk(next), Frame::Array(found)] = &page[..] else {
                panic!("bad page")
            };
            keys.extend(found.iter().map(|f| match f {
                Frame::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
                other => panic!("{other:?}"),
            }));
            cursor = String::from_utf8_lossy(next).into_owned();
            if cursor == "0" {
                return keys;
            }
            between_pages(k);
        }
    }

    #[test]
    fn scan_pages_through_everything_once() {
        let mut k = Kit::new();
        for i in 0..25 {
            k.run(&format!("SET k{i:02} v"));
        }
        let mut keys = full_scan(&mut k, "COUNT 7", &mut |_| {});
        keys.sort();
        assert_eq!(
            keys,
            (0..25).map(|i| format!("k{i:02}")).collect::<Vec<_>>()
        );
        assert_eq!(
            full_scan(&mut k, "MATCH k1* COUNT 3", &mut |_| {}).len(),
            10
        );
        assert_eq!(full_scan(&mut k, "TYPE STRING", &mut |_| {}).len(), 25);
        assert_eq!(full_scan(&mut k, "TYPE hash", &mut |_| {}).len(), 0);
    }

    #[test]
    fn scan_keeps_its_guarantee_under_inserts_and_deletes() {
        let mut k = Kit::new();
        for i in 0..30 {
            k.run(&format!("SET k{i:02} v"));
        }
        let mut round = 0;
        let keys = full_scan(&mut k, "COUNT 4", &mut |k| {
            // Delete keys already returned and not yet returned, insert before and after.
            k.run(&format!("DEL k{:02}", round * 3));
            k.run(&format!("SET a{round} v"));
            k.run(&format!("SET z{round} v"));
            round += 1;
        });
        let survivors: Vec<String> = (0..30)
            .filter(|i| i % 3 != 0 || i / 3 >= round)
            .map(|i| format!("k{i:02}"))
            .collect();
        for key in &survivors {
            assert_eq!(
                keys.iter().filter(|k| *k == key).count(),
                1,
                "{key} exactly once"
            );
        }
        // Keys inserted meanwhile come at most once each (iff they hash after the position).
        for inserted in (0..round).flat_map(|r| [format!("a{r}"), format!("z{r}")]) {
            assert!(keys.iter().filter(|k| **k == inserted).count() <= 1);
        }
        assert!(
            keys.windows(2)
                .all(|w| key_hash(w[0].as_bytes()) < key_hash(w[1].as_bytes())),
            "one walk in hash order"
        );
    }

    #[test]
    fn scan_expires_keys_it_meets() {
        let mut k = Kit::new();
        k.run("SET a 1");
        k.run("SET b 1 PX 1");
        k.now_ms += 2;
        let out = k.run("SCAN 0");
        assert_eq!(out.reply, Frame::Array(vec![bulk("0"), array(&["a"])]));
        assert_eq!(logged(&out), vec![(0, "DEL b".to_string())]);
    }

    #[test]
    fn scan_errors() {
        let mut k = Kit::new();
        k.run("SET a 1");
        assert_eq!(k.reply("SCAN x"), err("ERR invalid cursor"));
        assert_eq!(
            k.reply("SCAN 12345"),
            err("ERR invalid cursor"),
            "never issued"
        );
        assert_eq!(k.reply("SCAN 0 COUNT 0"), err("ERR syntax error"));
        assert_eq!(
            k.reply("SCAN 0 COUNT x"),
            err("ERR value is not an integer or out of range")
        );
        assert_eq!(k.reply("SCAN 0 MATCH"), err("ERR syntax error"));
        assert_eq!(k.reply("SCAN 0 FOO bar"), err("ERR syntax error"));
    }
}
