//! Whole-layer properties over generated command streams.
//!
//! - *The log replays to the state*: for any sequence of commands (with time passing, lazy and
//!   active expiry, transactions, db switches), replaying the propagated stream with `loading`
//!   reproduces the keyspace exactly. This is what makes the AOF a faithful record.
//! - *Reference model*: a plain map with absolute expiry times predicts every read.

use std::collections::BTreeMap;

use bytes::Bytes;

use super::testkit::*;
use super::{active_expire, active_expire_sweep, execute, Ctx, Propagated, Session, Shared};
use crate::keyspace::Keyspace;
use crate::resp::Frame;

/// xorshift64*: a deterministic stream for generating commands (seeded per test case).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

/// One generated command line, using `now_ms` for absolute times.
fn command(r: &mut Rng, now_ms: u64) -> String {
    let k = r.pick(&["a", "b", "c", "d"]);
    let k2 = r.pick(&["a", "b", "c", "d"]);
    let v = r.pick(&["1", "2", "x", "10.5", ""]);
    let n = r.below(4000) as i64 - 500;
    let at_ms = now_ms as i64 + n;
    let opt = r.pick(&["", "NX", "XX", "GT", "LT"]);
    match r.below(30) {
        0 => format!(
            "SET {k} \"{v}\" {}",
            r.pick(&[
                "",
                "NX",
                "XX",
                "KEEPTTL",
                "GET",
                "EX 2",
                "PX 1500 GET",
                "NX GET"
            ])
        ),
        1 => format!("SET {k} \"{v}\" PXAT {}", at_ms.max(1)),
        2 => format!("SETEX {k} {} \"{v}\"", r.below(3) + 1),
        3 => format!("PSETEX {k} {} \"{v}\"", r.below(3000) + 1),
        4 => format!("GETEX {k} {}", r.pick(&["", "PERSIST", "EX 1", "PX 2500"])),
        5 => format!("GETEX {k} PXAT {}", at_ms.max(1)),
        6 => format!("GETDEL {k}"),
        7 => format!("MSET {k} \"{v}\" {k2} 7"),
        8 => format!("MSETNX {k} \"{v}\" {k2} 7"),
        9 => format!("APPEND {k} \"{v}\""),
        10 => format!("SETRANGE {k} {} zz", r.below(5)),
        11 => format!("INCR {k}"),
        12 => format!("DECRBY {k} {n}"),
        13 => format!("INCRBYFLOAT {k} 0.25"),
        14 => format!("DEL {k} {k2}"),
        15 => format!("RENAME {k} {k2}"),
        16 => format!("RENAMENX {k} {k2}"),
        17 => format!("EXPIRE {k} {} {opt}", n / 1000),
        18 => format!("PEXPIRE {k} {n} {opt}"),
        19 => format!("EXPIREAT {k} {} {opt}", at_ms / 1000),
        20 => format!("PEXPIREAT {k} {at_ms} {opt}"),
        21 => format!("PERSIST {k}"),
        22 => format!("SELECT {}", r.below(3)),
        23 => format!("SWAPDB {} {}", r.below(3), r.below(3)),
        24 => r.pick(&["FLUSHDB", "FLUSHALL", "DBSIZE"]).to_string(),
        25 => r.pick(&["MULTI", "EXEC", "DISCARD"]).to_string(),
        26 => format!("GET {k}"),
        27 => r
            .pick(&["SCAN 0 COUNT 2", "RANDOMKEY", "KEYS *", "EXISTS a b c d"])
            .to_string(),
        28 => format!("TTL {k}"),
        _ => format!("UNLINK {k}"),
    }
}

/// Replays `log` into a fresh keyspace with `loading`, selecting dbs as the AOF writer does:
/// by the db the stream last selected (inside MULTI a SELECT is only queued).
fn replay(log: &[Propagated]) -> Keyspace {
    let (mut ks, mut shared, mut session) =
        (Keyspace::default(), Shared::default(), Session::default());
    let ctx = Ctx {
        now_ms: 0,
        loading: true,
        random: 0,
        write_denial: None,
    };
    let mut selected = 0;
    for (i, p) in log.iter().enumerate() {
        if p.db != selected {
            let select = [Bytes::from_static(b"SELECT"), Bytes::from(p.db.to_string())];
            execute(&mut ks, &mut shared, &mut session, ctx.clone(), &select);
            selected = p.db;
        }
        let out = execute(&mut ks, &mut shared, &mut session, ctx.clone(), &p.argv);
        assert!(
            !matches!(out.reply, Frame::Error(_)),
            "replay of #{i} {:?} failed: {:?}",
            p.argv,
            out.reply
        );
    }
    ks
}

/// Runs a generated stream on two clients with time passing and active expiry in between.
fn run_stream(seed: u64, steps: usize) -> (Kit, Vec<Propagated>) {
    let mut r = Rng(seed);
    let mut k = Kit::new();
    let mut log = Vec::new();
    for _ in 0..steps {
        match r.below(20) {
            0 => k.now_ms += r.below(3000),
            1 => log.extend(active_expire(&mut k.ks, k.now_ms, 3)),
            2 => log.extend(active_expire_sweep(&mut k.ks, &mut k.shared, k.now_ms, 3)),
            _ => {
                k.random = r.next();
                let line = command(&mut r, k.now_ms);
                let out = k.run_as(1 + r.below(2), &line);
                log.extend(out.propagate);
            }
        }
    }
    // Close any transaction left open, so everything queued has run or been dropped.
    for client in [1, 2] {
        log.extend(k.run_as(client, "DISCARD").propagate);
    }
    (k, log)
}

#[test]
fn replaying_the_propagated_stream_reproduces_the_keyspace() {
    for seed in 1..=300 {
        let (k, log) = run_stream(seed, 400);
        assert_eq!(replay(&log), k.ks, "seed {seed}");
    }
}

#[test]
fn multi_exec_wrapping_is_balanced_in_the_stream() {
    for seed in 1..=100 {
        let (_, log) = run_stream(seed, 400);
        let mut open = false;
        for p in &log {
            match p.argv[0].as_ref() {
                b"MULTI" => {
                    assert!(!open, "seed {seed}: nested MULTI");
                    open = true;
                }
                b"EXEC" => {
                    assert!(open, "seed {seed}: EXEC without MULTI");
                    open = false;
                }
                _ => {}
            }
        }
        assert!(!open);
    }
}

#[test]
fn reads_match_a_reference_model() {
    for seed in 1..=200 {
        let mut r = Rng(seed);
        let mut k = Kit::new();
        // key → (value, absolute expiry)
        let mut model: BTreeMap<String, (String, Option<u64>)> = BTreeMap::new();
        for _ in 0..300 {
            let key = r.pick(&["a", "b", "c"]).to_string();
            let now = k.now_ms;
            model.retain(|_, (_, at)| at.is_none_or(|at| at >= now));
            match r.below(8) {
                0 => {
                    let v = r.below(100).to_string();
                    k.run(&format!("SET {key} {v}"));
                    model.insert(key, (v, None));
                }
                1 => {
                    let ms = r.below(2000) + 1;
                    k.run(&format!("SET {key} v PX {ms}"));
                    model.insert(key, ("v".to_string(), Some(now + ms)));
                }
                2 => {
                    k.run(&format!("DEL {key}"));
                    model.remove(&key);
                }
                3 => {
                    let reply = k.reply(&format!("APPEND {key} z"));
                    let entry = model.entry(key).or_insert((String::new(), None));
                    entry.0.push('z');
                    assert_eq!(reply, int(entry.0.len() as i64));
                }
                4 => {
                    let ms = r.below(2000) as i64 - 200;
                    let reply = k.reply(&format!("PEXPIRE {key} {ms}"));
                    let expected = match model.get_mut(&key) {
                        Some(e) if ms > 0 => {
                            e.1 = Some(now + ms as u64);
                            1
                        }
                        Some(_) => {
                            model.remove(&key);
                            1
                        }
                        None => 0,
                    };
                    assert_eq!(reply, int(expected), "seed {seed}");
                }
                5 => k.now_ms += r.below(1500),
                _ => {
                    let expected = model.get(&key).map_or(Frame::Null, |(v, _)| bulk(v));
                    assert_eq!(k.reply(&format!("GET {key}")), expected, "seed {seed}");
                    let ttl = model
                        .get(&key)
                        .map_or(-2, |(_, at)| at.map_or(-1, |at| (at - now) as i64));
                    assert_eq!(k.reply(&format!("PTTL {key}")), int(ttl), "seed {seed}");
                }
            }
        }
    }
}
