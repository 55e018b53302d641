//! WATCH bookkeeping across clients (Redis's `watched_keys` and `CLIENT_DIRTY_CAS`).
//!
//! Invariants: `by_key` and `by_client` describe the same set of (client, db, key) triples; a
//! client is in `dirty` iff a key it watched was modified (or flushed, swapped, or logically
//! expired) since it watched it, and stays there until EXEC, DISCARD, UNWATCH or its close.
//!
//! Active expiry deletes keys without signalling (it has no access to this table); that is
//! still caught: WATCH records each key's expiry time, and EXEC fails if one has passed
//! (Redis's `isWatchedKeyExpired`), which covers a key deleted by expiry in between.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;

use crate::keyspace::Db;

/// One watched key of one client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Watched {
    /// The key was present but logically expired when watched (Redis's `wk->expired`): its
    /// deletion is then no change.
    expired: bool,
    /// The live key's expiry time when watched.
    expire_at_ms: Option<u64>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct Watches {
    by_key: BTreeMap<(usize, Bytes), BTreeSet<u64>>,
    by_client: BTreeMap<u64, BTreeMap<(usize, Bytes), Watched>>,
    dirty: BTreeSet<u64>,
}

impl Watches {
    /// Whether any key is watched: when none is, a change needs no bookkeeping at all.
    pub(crate) fn any(&self) -> bool {
        !self.by_key.is_empty()
    }

    /// WATCH of one key; `expire_at_ms` is the key's current expiry, `expired` whether it is
    /// logically expired now. A dirty client watches nothing more (its EXEC fails anyway).
    pub(crate) fn watch(
        &mut self,
        client: u64,
        db: usize,
        key: &Bytes,
        expire_at_ms: Option<u64>,
        expired: bool,
    ) {
        if self.dirty.contains(&client) {
            return;
        }
        let keys = self.by_client.entry(client).or_default();
        if keys.contains_key(&(db, key.clone())) {
            return;
        }
        let expire_at_ms = expire_at_ms.filter(|_| !expired);
        keys.insert(
            (db, key.clone()),
            Watched {
                expired,
                expire_at_ms,
            },
        );
        self.by_key
            .entry((db, key.clone()))
            .or_default()
            .insert(client);
    }

    /// Redis's `touchWatchedKey`, called after `key` in `db` changed; `exists` is whether it
    /// exists now.
    pub(crate) fn touch(&mut self, db: usize, key: &Bytes, exists: bool) {
        let Some(clients) = self.by_key.get(&(db, key.clone())) else {
            return;
        };
        let mut hit = Vec::new();
        for &client in clients {
            let Some(w) = self
                .by_client
                .get_mut(&client)
                .and_then(|m| m.get_mut(&(db, key.clone())))
            else {
                continue;
            };
            if w.expired && !exists {
                // An already-expired key was deleted: logically nothing changed.
                w.expired = false;
                continue;
            }
            hit.push(client);
        }
        for client in hit {
            self.mark_dirty(client);
        }
    }

    /// Redis's `touchAllWatchedKeysInDb`: `emptied` (db `db`) is about to be flushed, or
    /// replaced by `replaced_with` (SWAPDB). Only keys that exist on either side count.
    pub(crate) fn touch_db(
        &mut self,
        db: usize,
        emptied: &Db,
        replaced_with: Option<&Db>,
        now_ms: u64,
        loading: bool,
    ) {
        let expired_in =
            |d: &Db, key: &Bytes| !loading && d.get(key).is_some_and(|e| e.is_expired(now_ms));
        let mut hit = Vec::new();
        for ((_, key), clients) in self
            .by_key
            .range((db, Bytes::new())..(db + 1, Bytes::new()))
        {
            let in_emptied = emptied.contains(key);
            let in_replacement = replaced_with.is_some_and(|r| r.contains(key));
            if !in_emptied && !in_replacement {
                continue;
            }
            for &client in clients {
                let Some(w) = self
                    .by_client
                    .get_mut(&client)
                    .and_then(|m| m.get_mut(&(db, key.clone())))
                else {
                    continue;
                };
                let replacement_expired = replaced_with.is_some_and(|r| expired_in(r, key));
                if w.expired {
                    if !in_replacement {
                        w.expired = false;
                        continue;
                    } else if replacement_expired {
                        continue;
                    }
                } else if !in_emptied && replacement_expired {
                    w.expired = true;
                    continue;
                }
                hit.push(client);
            }
        }
        for client in hit {
            self.mark_dirty(client);
        }
    }

    /// Whether a key the client watched while live has an expiry time that has now passed.
    pub(crate) fn expired_since_watch(&self, client: u64, now_ms: u64, loading: bool) -> bool {
        !loading
            && self.by_client.get(&client).is_some_and(|keys| {
                keys.values()
                    .any(|w| !w.expired && w.expire_at_ms.is_some_and(|at| at < now_ms))
            })
    }

    pub(crate) fn is_dirty(&self, client: u64) -> bool {
        self.dirty.contains(&client)
    }

    /// UNWATCH, EXEC and DISCARD: no keys watched, not dirty.
    pub(crate) fn forget(&mut self, client: u64) {
        self.unwatch_all(client);
        self.dirty.remove(&client);
    }

    /// Dirty: its keys need no more watching (Redis unwatches them too).
    fn mark_dirty(&mut self, client: u64) {
        self.dirty.insert(client);
        self.unwatch_all(client);
    }

    fn unwatch_all(&mut self, client: u64) {
        for (db_key, _) in self.by_client.remove(&client).unwrap_or_default() {
            if let Some(clients) = self.by_key.get_mut(&db_key) {
                clients.remove(&client);
                if clients.is_empty() {
                    self.by_key.remove(&db_key);
                }
            }
        }
    }

    /// Number of (client, key) watches, for tests of the bookkeeping.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.by_client.values().map(BTreeMap::len).sum()
    }
}
