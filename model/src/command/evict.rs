//! Eviction under `maxmemory` (Redis's `performEvictions`): picks one key to delete by the
//! `maxmemory-policy`, deletes it, signals WATCH, and returns the `DEL` Redis 7.0 propagates
//! for an evicted key (`propagateDeletion` with `lazyfree-lazy-eviction no`).
//!
//! Invariants: only `volatile-*` policies restrict candidates to keys with an expiry, and
//! `noeviction` never deletes; the pick is deterministic given `rng`. durakv keeps no access
//! clock per key, so the LRU and LFU policies take a random sampled key (as `*-random`);
//! `volatile-ttl` takes the sampled key that expires first, as Redis.

use bytes::Bytes;

use super::exec::DEL;
use super::keys::random_key;
use super::state::{Propagated, Shared};
use crate::config::EvictionPolicy;
use crate::keyspace::{Db, Keyspace, Stored};

/// Deletes one key chosen by `policy` among `samples` drawn per database, or `None` when
/// nothing can be evicted (no keys, no volatile keys, or `noeviction`).
pub fn evict_one(
    ks: &mut Keyspace,
    shared: &mut Shared,
    policy: EvictionPolicy,
    samples: u64,
    rng: &mut u64,
) -> Option<(Propagated, u64)> {
    if policy == EvictionPolicy::NoEviction {
        return None;
    }
    let mut best: Option<(usize, Bytes, u64)> = None;
    for (index, db) in ks.dbs.iter().enumerate() {
        for key in candidates(db, policy, samples, rng) {
            // Rank: the earliest expiry first for volatile-ttl; else the first drawn.
            let rank = match policy {
                EvictionPolicy::VolatileTtl => db
                    .get(&key)
                    .and_then(|e| e.expire_at_ms)
                    .unwrap_or(u64::MAX),
                _ => 0,
            };
            if best.as_ref().is_none_or(|(_, _, r)| rank < *r) {
                best = Some((index, key, rank));
            }
        }
    }
    let (db, key, _) = best?;
    let entry = ks.dbs[db].remove(&key)?;
    let freed_bytes = entry.memory_bytes(&key);
    shared.watches.touch(db, &key, false);
    let del = Propagated {
        db,
        argv: vec![DEL, key],
    };
    Some((del, freed_bytes))
}

/// Up to `samples` keys of `db` the policy may evict.
fn candidates(db: &Db, policy: EvictionPolicy, samples: u64, rng: &mut u64) -> Vec<Bytes> {
    if db.is_empty() {
        return Vec::new();
    }
    let volatile = policy.volatile_only();
    let mut out: Vec<Bytes> = (0..samples)
        .filter_map(|_| random_key(db, rng))
        .filter(|k| !volatile || db.get_stored(k).is_some_and(|s| s.expire_at_ms().is_some()))
        .collect();
    if out.is_empty() && volatile {
        // Few keys with an expiry among many: random draws can miss them all.
        out.extend(
            db.iter()
                .find(|s| s.expire_at_ms().is_some())
                .map(Stored::key_bytes),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::{Entry, Value};

    fn entry(expire_at_ms: Option<u64>) -> Entry {
        Entry {
            value: Value::Str(Bytes::from_static(b"v")),
            expire_at_ms,
        }
    }

    #[test]
    fn policies_pick_what_they_may() {
        let mut ks = Keyspace::new(2);
        let mut shared = Shared::default();
        ks.insert(0, Bytes::from_static(b"plain"), entry(None));
        ks.insert(1, Bytes::from_static(b"late"), entry(Some(9_000)));
        ks.insert(1, Bytes::from_static(b"soon"), entry(Some(5_000)));
        let mut rng = 7;
        let none = evict_one(
            &mut ks,
            &mut shared,
            EvictionPolicy::NoEviction,
            5,
            &mut rng,
        );
        assert!(none.is_none());
        let (del, freed) = evict_one(
            &mut ks,
            &mut shared,
            EvictionPolicy::VolatileTtl,
            5,
            &mut rng,
        )
        .unwrap();
        assert_eq!((del.db, &del.argv[1][..]), (1, &b"soon"[..]));
        assert!(freed > 0);
        let (del, _) = evict_one(
            &mut ks,
            &mut shared,
            EvictionPolicy::VolatileRandom,
            5,
            &mut rng,
        )
        .unwrap();
        assert_eq!((del.db, &del.argv[0][..]), (1, &b"DEL"[..]));
        let left = evict_one(
            &mut ks,
            &mut shared,
            EvictionPolicy::VolatileLru,
            5,
            &mut rng,
        );
        assert!(left.is_none(), "only a key without expiry is left");
        let (del, _) = evict_one(
            &mut ks,
            &mut shared,
            EvictionPolicy::AllkeysLfu,
            5,
            &mut rng,
        )
        .unwrap();
        assert_eq!(&del.argv[1][..], b"plain");
        assert!(ks.is_empty());
    }
}
