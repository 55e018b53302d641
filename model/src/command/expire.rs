//! Expiry: EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT (NX XX GT LT), TTL, PTTL, PERSIST, and active
//! expiry.
//!
//! Invariants (propagation, `expireGenericCommand`): an expiry is logged as an absolute
//! `PEXPIREAT key <ms>` with the client's options kept (`PEXPIREAT` as sent is logged as
//! sent); one already in the past deletes the key and is logged as `DEL key` — except while
//! loading, when the time is stored as written. Active expiry does bounded, deterministic work
//! per call and logs each key it removes as `DEL key` in its db, never wrapped in MULTI.

use bytes::Bytes;

use super::cursors::SweepCursor;
use super::exec::{Exec, DEL};
use super::keys::random_key;
use super::num::{integer_arg, splitmix64};
use super::reply;
use super::state::{Propagated, Shared};
use super::watch::Watches;
use crate::keyspace::{Entry, Keyspace};
use crate::resp::Frame;

pub(crate) fn expire(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    expire_generic(x, argv, "expire", true, true)
}

pub(crate) fn pexpire(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    expire_generic(x, argv, "pexpire", true, false)
}

pub(crate) fn expireat(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    expire_generic(x, argv, "expireat", false, true)
}

pub(crate) fn pexpireat(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    expire_generic(x, argv, "pexpireat", false, false)
}

/// EXPIRE's condition options.
#[derive(Default)]
struct Condition {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

/// Redis's `parseExtendedExpireArgumentsOrReply`.
fn parse_condition(args: &[Bytes]) -> Result<Condition, Frame> {
    let mut c = Condition::default();
    for arg in args {
        match arg.to_ascii_lowercase().as_slice() {
            b"nx" => c.nx = true,
            b"xx" => c.xx = true,
            b"gt" => c.gt = true,
            b"lt" => c.lt = true,
            _ => {
                return Err(Frame::Error(format!(
                    "ERR Unsupported option {}",
                    reply::one_line(arg)
                )))
            }
        }
    }
    if c.nx && (c.xx || c.gt || c.lt) {
        return Err(reply::err(
            "ERR NX and XX, GT or LT options at the same time are not compatible",
        ));
    }
    if c.gt && c.lt {
        return Err(reply::err(
            "ERR GT and LT options at the same time are not compatible",
        ));
    }
    Ok(c)
}

/// The absolute time in ms the arguments name, or the error (checked before the key).
fn parse_when(
    x: &Exec<'_>,
    arg: &[u8],
    name: &str,
    relative: bool,
    seconds: bool,
) -> Result<i64, Frame> {
    let mut when = integer_arg(arg)?;
    if seconds {
        when = when
            .checked_mul(1000)
            .ok_or_else(|| reply::invalid_expire(name))?;
    }
    let base = if relative {
        i64::try_from(x.ctx.now_ms).unwrap_or(i64::MAX)
    } else {
        0
    };
    when.checked_add(base)
        .ok_or_else(|| reply::invalid_expire(name))
}

/// Redis's `expireGenericCommand`.
fn expire_generic(
    x: &mut Exec<'_>,
    argv: &[Bytes],
    name: &str,
    relative: bool,
    seconds: bool,
) -> Frame {
    let key = &argv[1];
    let (condition, when) = match parse_condition(&argv[3..])
        .and_then(|c| Ok((c, parse_when(x, &argv[2], name, relative, seconds)?)))
    {
        Ok(parsed) => parsed,
        Err(error) => return error,
    };
    let Some(entry) = x.lookup(key) else {
        return reply::int(0);
    };
    let current = entry
        .expire_at_ms
        .map(|at| i64::try_from(at).unwrap_or(i64::MAX));
    let refused = (condition.nx && current.is_some())
        || (condition.xx && current.is_none())
        || (condition.gt && current.is_none_or(|c| when <= c))
        || (condition.lt && current.is_some_and(|c| when >= c));
    if refused {
        return reply::int(0);
    }
    if when <= x.ctx.now_ms as i64 && !x.ctx.loading {
        x.delete(key);
        x.propagate_as(vec![DEL, key.clone()]);
    } else {
        // A time before 1970 (only possible while loading) is simply "already expired".
        let at = u64::try_from(when).unwrap_or(0);
        x.store(
            key,
            Entry {
                expire_at_ms: Some(at),
                ..entry
            },
        );
        let mut logged = argv.to_vec();
        if name != "pexpireat" {
            logged[0] = Bytes::from_static(b"PEXPIREAT");
            logged[2] = Bytes::from(when.to_string());
        }
        x.propagate_as(logged);
    }
    x.add_dirty(1);
    reply::int(1)
}

pub(crate) fn ttl(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    ttl_generic(x, &argv[1], false)
}

pub(crate) fn pttl(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    ttl_generic(x, &argv[1], true)
}

/// -2 without the key, -1 without an expiry, else the time left (seconds rounded).
fn ttl_generic(x: &mut Exec<'_>, key: &Bytes, ms: bool) -> Frame {
    let Some(entry) = x.lookup(key) else {
        return reply::int(-2);
    };
    let Some(at) = entry.expire_at_ms else {
        return reply::int(-1);
    };
    let left = i64::try_from(at.saturating_sub(x.ctx.now_ms)).unwrap_or(i64::MAX);
    reply::int(if ms {
        left
    } else {
        left.saturating_add(500) / 1000
    })
}

pub(crate) fn persist(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    let key = &argv[1];
    match x.lookup(key) {
        Some(entry) if entry.expire_at_ms.is_some() => {
            x.store(
                key,
                Entry {
                    expire_at_ms: None,
                    ..entry
                },
            );
            x.add_dirty(1);
            reply::int(1)
        }
        _ => reply::int(0),
    }
}

/// Active expiry without memory of earlier calls: examines at most `budget_keys` keys, in key
/// order from a key drawn with `now_ms` as the seed, and deletes the expired ones.
/// Deterministic; over many calls every region of the key space is visited. Prefer
/// [`active_expire_sweep`], which covers every key in turn and signals WATCH directly (EXEC
/// also catches a watched key expired here, by its recorded expiry time). Not to be called
/// while loading.
pub fn active_expire(ks: &mut Keyspace, now_ms: u64, budget_keys: usize) -> Vec<Propagated> {
    let mut rng = now_ms;
    let db = (splitmix64(&mut rng) % ks.dbs.len() as u64) as usize;
    let after = random_key(&ks.dbs[db], &mut rng);
    sweep(ks, None, SweepCursor { db, after }, now_ms, budget_keys).0
}

/// Active expiry as a sweep: examines at most `budget_keys` keys, going on in key order (db by
/// db, round robin) from where the previous call stopped, deleting the expired ones and
/// signalling WATCH. A full pass takes about (keys / budget) calls. Not to be called while
/// loading.
pub fn active_expire_sweep(
    ks: &mut Keyspace,
    shared: &mut Shared,
    now_ms: u64,
    budget_keys: usize,
) -> Vec<Propagated> {
    let start = std::mem::take(&mut shared.sweep);
    let (expired, end) = sweep(ks, Some(&mut shared.watches), start, now_ms, budget_keys);
    shared.sweep = end;
    expired
}

fn sweep(
    ks: &mut Keyspace,
    mut watches: Option<&mut Watches>,
    mut at: SweepCursor,
    now_ms: u64,
    budget_keys: usize,
) -> (Vec<Propagated>, SweepCursor) {
    let mut out = Vec::new();
    let mut left = budget_keys;
    // Bounds the walk over empty databases when there is little or nothing to examine.
    let mut empty_steps = 0;
    while left > 0 && empty_steps <= ks.dbs.len() {
        let db = at.db % ks.dbs.len();
        let batch: Vec<(Bytes, bool)> = ks.dbs[db]
            .iter_after(at.after.as_deref())
            .take(left)
            .map(|s| (s.key_bytes(), s.is_expired(now_ms)))
            .collect();
        empty_steps = if batch.is_empty() { empty_steps + 1 } else { 0 };
        let exhausted = batch.len() < left;
        left -= batch.len();
        for (key, _) in batch.iter().filter(|(_, expired)| *expired) {
            ks.dbs[db].remove(key);
            if let Some(w) = watches.as_deref_mut() {
                w.touch(db, key, false);
            }
            out.push(Propagated {
                db,
                argv: vec![DEL, key.clone()],
            });
        }
        at = match batch.last() {
            Some((last, _)) if !exhausted => SweepCursor {
                db,
                after: Some(last.clone()),
            },
            _ => SweepCursor {
                db: (db + 1) % ks.dbs.len(),
                after: None,
            },
        };
    }
    (out, at)
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use super::*;

    #[test]
    fn expire_family_logs_pexpireat_with_options_kept() {
        let mut k = Kit::new();
        k.run("SET k v");
        let secs = T0 / 1000;
        assert_eq!(
            k.logged("expire k 10"),
            vec![(0, format!("PEXPIREAT k {}", T0 + 10_000))]
        );
        assert_eq!(
            k.logged("PEXPIRE k 20000 gt"),
            vec![(0, format!("PEXPIREAT k {} gt", T0 + 20_000))]
        );
        assert_eq!(
            k.logged(&format!("EXPIREAT k {} XX", secs + 30)),
            vec![(0, format!("PEXPIREAT k {} XX", T0 + 30_000))]
        );
        let at = T0 + 40_000;
        assert_eq!(
            k.logged(&format!("pexpireat k {at}")),
            vec![(0, format!("pexpireat k {at}"))],
            "as sent"
        );
        assert_eq!(
            (k.reply("TTL k"), k.reply("PTTL k")),
            (int(40), int(40_000))
        );
        k.now_ms += 1_499;
        assert_eq!(k.reply("TTL k"), int(39), "seconds are rounded");
    }

    #[test]
    fn expire_conditions() {
        let mut k = Kit::new();
        k.run("SET k v");
        assert_eq!(k.reply("EXPIRE k 10 XX"), int(0), "XX needs an expiry");
        assert_eq!(
            k.reply("EXPIRE k 10 GT"),
            int(0),
            "no expiry counts as infinite"
        );
        assert_eq!(k.reply("EXPIRE k 10 LT"), int(1));
        assert_eq!(k.reply("EXPIRE k 20 NX"), int(0));
        assert_eq!(k.reply("EXPIRE k 5 GT"), int(0));
        assert_eq!(k.reply("EXPIRE k 20 gt"), int(1));
        assert_eq!(k.reply("EXPIRE k 30 LT"), int(0));
        assert_eq!(k.reply("EXPIRE missing 10"), int(0));
        assert_eq!(
            k.reply("EXPIRE k 10 NX XX"),
            err("ERR NX and XX, GT or LT options at the same time are not compatible")
        );
        assert_eq!(
            k.reply("EXPIRE k 10 GT LT"),
            err("ERR GT and LT options at the same time are not compatible")
        );
        assert_eq!(
            k.reply("EXPIRE k 10 FOO"),
            err("ERR Unsupported option FOO")
        );
        assert_eq!(
            k.reply("EXPIRE k ten"),
            err("ERR value is not an integer or out of range")
        );
        assert_eq!(
            k.reply("EXPIRE k 9223372036854775807"),
            err("ERR invalid expire time in 'expire' command")
        );
        assert_eq!(
            k.reply("PEXPIRE k 9223372036854775807"),
            err("ERR invalid expire time in 'pexpire' command")
        );
        assert_eq!(
            k.reply("EXPIRE"),
            err("ERR wrong number of arguments for 'expire' command")
        );
    }

    #[test]
    fn expire_in_the_past_deletes_and_logs_del() {
        let mut k = Kit::new();
        k.run("SET k v");
        let out = k.run("EXPIRE k -1");
        assert_eq!(
            (&out.reply, logged(&out), out.dirty),
            (&int(1), vec![(0, "DEL k".to_string())], 1)
        );
        assert_eq!(k.reply("EXISTS k"), int(0));
        k.run("SET k v");
        assert_eq!(
            k.logged(&format!("PEXPIREAT k {T0}")),
            vec![(0, "DEL k".to_string())],
            "now is already past"
        );
    }

    #[test]
    fn loading_stores_past_expiries_and_expires_nothing() {
        let mut k = Kit::new();
        k.loading = true;
        k.run("SET k v");
        let out = k.run("PEXPIREAT k 5");
        assert_eq!((&out.reply, out.propagate.len()), (&int(1), 0));
        assert_eq!(k.reply("GET k"), bulk("v"), "nothing expires while loading");
        assert_eq!(k.reply("GETEX k PXAT 5"), bulk("v"));
        k.loading = false;
        let out = k.run("GET k");
        assert_eq!(
            (&out.reply, logged(&out)),
            (&Frame::Null, vec![(0, "DEL k".to_string())])
        );
    }

    #[test]
    fn a_key_lives_through_its_expiry_millisecond() {
        // Redis's `keyIsExpired` is `now > when`; setting a time `<= now` deletes at once.
        let mut k = Kit::new();
        k.run("SET k v PX 10");
        k.now_ms += 10;
        assert_eq!(
            (k.reply("GET k"), k.reply("PTTL k"), k.reply("TTL k")),
            (bulk("v"), int(0), int(0))
        );
        k.now_ms += 1;
        assert_eq!(k.reply("GET k"), Frame::Null);
    }

    #[test]
    fn ttl_and_persist() {
        let mut k = Kit::new();
        assert_eq!((k.reply("TTL k"), k.reply("PTTL k")), (int(-2), int(-2)));
        k.run("SET k v");
        assert_eq!(k.reply("TTL k"), int(-1));
        assert_eq!(k.logged("PERSIST k"), vec![]);
        k.run("EXPIRE k 100");
        assert_eq!(k.logged("persist k"), vec![(0, "persist k".to_string())]);
        assert_eq!(k.reply("TTL k"), int(-1));
        assert_eq!(k.reply("PERSIST nope"), int(0));
    }

    #[test]
    fn sweep_expires_everything_in_bounded_steps() {
        let mut k = Kit::new();
        for i in 0..10 {
            k.run(&format!("SET live{i} v"));
            k.run(&format!("SET dead{i} v PX 5"));
        }
        k.run("SELECT 3");
        k.run("SET dead v PX 5");
        k.now_ms += 6;
        let mut expired = Vec::new();
        for _ in 0..20 {
            let step = active_expire_sweep(&mut k.ks, &mut k.shared, k.now_ms, 3);
            assert!(step.len() <= 3);
            expired.extend(step);
        }
        assert_eq!(expired.len(), 11);
        assert!(expired.iter().all(|p| p.argv[0] == DEL));
        assert!(expired.iter().any(|p| p.db == 3 && p.argv[1] == "dead"));
        assert_eq!(k.ks.len(), 10);
    }

    #[test]
    fn stateless_active_expire_is_deterministic_and_bounded() {
        let mut k = Kit::new();
        for i in 0..50 {
            k.run(&format!("SET k{i:02} v PX 5"));
        }
        k.now_ms += 6;
        let mut twin = k.ks.clone();
        let first = active_expire(&mut k.ks, k.now_ms, 7);
        assert_eq!(first, active_expire(&mut twin, k.now_ms, 7));
        assert!(!first.is_empty() && first.len() <= 7);
        let mut total = first.len();
        for t in 1..500 {
            total += active_expire(&mut k.ks, k.now_ms + t, 7).len();
        }
        assert_eq!(total, 50, "every key is reached eventually");
        assert!(active_expire(&mut Keyspace::default(), 0, 5).is_empty());
    }
}
