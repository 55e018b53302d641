//! Property: for generated streams of set and sorted-set writes (random pops, moves, stores,
//! increments, flags, ranges, expiry and transactions among them), replaying what was
//! propagated — as the AOF loader does — rebuilds the same keyspace, encodings included.
//! This is what SPOP-as-SREM, ZMPOP-as-ZPOPMIN and the store rewrites must guarantee.

use super::testkit::Kit;
use super::{execute, Ctx, Propagated, Session, Shared};
use crate::keyspace::Keyspace;
use crate::resp::Frame;

/// SplitMix64 for picking commands (seeded per case).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        super::num::splitmix64(&mut self.0) % n
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

fn command(r: &mut Rng) -> String {
    let k = r.pick(&["s", "t", "z", "y"]);
    let k2 = r.pick(&["s", "t", "z", "y", "d"]);
    let m = r.pick(&["1", "2", "3", "-5", "a", "b", "007", "c"]);
    let m2 = r.pick(&["1", "4", "x", "b"]);
    let s = r.pick(&["1", "2.5", "-0", "inf", "-inf", "0.1", "3"]);
    match r.below(24) {
        0 | 1 => format!("SADD {k} {m} {m2}"),
        2 => format!("SREM {k} {m}"),
        3 => format!("SPOP {k} {}", r.pick(&["", "1", "2", "5"])),
        4 => format!("SMOVE {k} {k2} {m}"),
        5 => format!(
            "{} {k2} {k} {}",
            r.pick(&["SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"]),
            r.pick(&["s", "t"])
        ),
        6 | 7 => format!(
            "ZADD {k} {} {s} {m} 2 {m2}",
            r.pick(&["", "NX", "XX", "GT", "LT", "CH", "GT CH"])
        ),
        8 => format!("ZADD {k} INCR {s} {m}"),
        9 => format!("ZINCRBY {k} {s} {m}"),
        10 => format!("ZREM {k} {m} {m2}"),
        11 => format!(
            "{} {k} {}",
            r.pick(&["ZPOPMIN", "ZPOPMAX"]),
            r.pick(&["", "1", "3"])
        ),
        12 => format!(
            "ZMPOP 2 {k} {k2} {} COUNT {}",
            r.pick(&["MIN", "MAX"]),
            r.below(4) + 1
        ),
        13 => format!(
            "ZRANGESTORE {k2} {k} {}",
            r.pick(&[
                "0 1",
                "-2 -1 REV",
                "(1 +inf BYSCORE LIMIT 0 2",
                "[a + BYLEX"
            ])
        ),
        14 => format!(
            "{} {k2} 2 {k} {} {}",
            r.pick(&["ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE"]),
            r.pick(&["s", "z", "y"]),
            r.pick(&["", "AGGREGATE MAX"])
        ),
        15 => format!(
            "ZREMRANGEBYSCORE {k} {} {}",
            r.pick(&["-inf", "(1", "2"]),
            r.pick(&["+inf", "3", "(2.5"])
        ),
        16 => format!(
            "ZREMRANGEBYRANK {k} {} {}",
            r.below(3),
            r.pick(&["-1", "1", "0"])
        ),
        17 => format!("ZREMRANGEBYLEX {k} {} +", r.pick(&["-", "[b", "(a"])),
        18 => format!("PEXPIRE {k} {}", r.below(3000)),
        19 => format!("DEL {k}"),
        20 => r.pick(&["MULTI", "EXEC", "DISCARD"]).to_string(),
        21 => format!("SET {k} v"),
        22 => format!("SRANDMEMBER {k} -3"),
        _ => format!("ZRANGE {k} 0 -1 WITHSCORES"),
    }
}

fn replay(log: &[Propagated]) -> Keyspace {
    let (mut ks, mut shared, mut session) =
        (Keyspace::default(), Shared::default(), Session::default());
    ks.limits.set_max_intset_entries = 4;
    ks.limits.zset_max_listpack_entries = 3;
    let ctx = Ctx {
        now_ms: 0,
        loading: true,
        random: 0,
        write_denial: None,
    };
    for (i, p) in log.iter().enumerate() {
        assert_eq!(p.db, 0, "one db in these streams");
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

#[test]
fn replaying_set_and_zset_writes_reproduces_the_keyspace() {
    for seed in 1..=300u64 {
        let mut r = Rng(seed);
        let mut k = Kit::new();
        // Small limits so both encodings and the conversions are exercised.
        k.ks.limits.set_max_intset_entries = 4;
        k.ks.limits.zset_max_listpack_entries = 3;
        let mut log = Vec::new();
        for _ in 0..300 {
            if r.below(10) == 0 {
                k.now_ms += r.below(2000);
            }
            k.random = r.below(u64::MAX);
            let line = command(&mut r);
            log.extend(k.run(&line).propagate);
        }
        log.extend(k.run("DISCARD").propagate);
        let replayed = replay(&log);
        // Keys whose TTL passed but that nobody touched are still stored on both sides.
        assert_eq!(replayed, k.ks, "seed {seed}");
    }
}
