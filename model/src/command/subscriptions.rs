//! The Pub/Sub registry: who is subscribed to which channels, patterns and shard channels.
//!
//! Owns both indexes, by name and by client. Invariants: they always mirror each other (a
//! client is among `by_name[kind][name]`'s subscribers iff `name` is in its own set of that
//! kind, and no set is ever empty), and a client that closes or RESETs leaves no trace in
//! either.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;

use super::glob::string_match;
use super::reply;
use crate::resp::Frame;

/// The three namespaces of 7.0: channels, patterns, shard channels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Channel,
    Pattern,
    Shard,
}

impl Kind {
    pub(crate) fn index(self) -> usize {
        self as usize
    }

    /// The confirmation names Redis sends (`subscribe`, `unsubscribe`, …).
    pub(crate) fn verbs(self) -> (&'static str, &'static str) {
        match self {
            Kind::Channel => ("subscribe", "unsubscribe"),
            Kind::Pattern => ("psubscribe", "punsubscribe"),
            Kind::Shard => ("ssubscribe", "sunsubscribe"),
        }
    }
}

/// Who listens where.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct PubSub {
    /// Per namespace: name → subscribed client ids.
    pub(crate) by_name: [BTreeMap<Bytes, BTreeSet<u64>>; 3],
    /// Per client: its names in each namespace.
    by_client: BTreeMap<u64, [BTreeSet<Bytes>; 3]>,
}

impl PubSub {
    /// A message on `channel` as each subscriber receives it: a `message` push for the channel's
    /// subscribers, a `pmessage` push per matching pattern (PUBLISH and keyspace notifications).
    pub(crate) fn fan_out(&self, channel: &Bytes, message: &Bytes) -> Vec<(u64, Frame)> {
        let mut out = Vec::new();
        if let Some(subscribers) = self.by_name[Kind::Channel.index()].get(channel) {
            let frame = Frame::Push(vec![
                reply::bulk_str("message"),
                reply::bulk(channel),
                reply::bulk(message),
            ]);
            out.extend(subscribers.iter().map(|&c| (c, frame.clone())));
        }
        for (pattern, subscribers) in &self.by_name[Kind::Pattern.index()] {
            if string_match(pattern, channel) {
                let frame = Frame::Push(vec![
                    reply::bulk_str("pmessage"),
                    reply::bulk(pattern),
                    reply::bulk(channel),
                    reply::bulk(message),
                ]);
                out.extend(subscribers.iter().map(|&c| (c, frame.clone())));
            }
        }
        out
    }

    /// Subscriptions of `client` that make it a Pub/Sub client: channels and patterns
    /// (Redis's `clientSubscriptionsCount`), and shard channels apart.
    pub(crate) fn counts(&self, client: u64) -> (usize, usize, usize) {
        self.by_client
            .get(&client)
            .map_or((0, 0, 0), |s| (s[0].len(), s[1].len(), s[2].len()))
    }

    /// Whether `client` has any subscription (CLIENT LIST flag `P`, RESP2's restricted mode).
    pub(crate) fn is_subscriber(&self, client: u64) -> bool {
        self.by_client.contains_key(&client)
    }

    /// The count a confirmation reports after a change in namespace `kind`.
    pub(crate) fn count_for(&self, client: u64, kind: Kind) -> i64 {
        let (channels, patterns, shard) = self.counts(client);
        let n = if kind == Kind::Shard {
            shard
        } else {
            channels + patterns
        };
        n as i64
    }

    pub(crate) fn add(&mut self, client: u64, kind: Kind, name: &Bytes) {
        let mine = self.by_client.entry(client).or_default();
        mine[kind.index()].insert(name.clone());
        let subscribers = self.by_name[kind.index()].entry(name.clone()).or_default();
        subscribers.insert(client);
    }

    /// Removes one subscription; whether it existed.
    pub(crate) fn remove(&mut self, client: u64, kind: Kind, name: &Bytes) -> bool {
        let Some(mine) = self.by_client.get_mut(&client) else {
            return false;
        };
        if !mine[kind.index()].remove(name) {
            return false;
        }
        if mine.iter().all(BTreeSet::is_empty) {
            self.by_client.remove(&client);
        }
        let map = &mut self.by_name[kind.index()];
        if let Some(subscribers) = map.get_mut(name) {
            subscribers.remove(&client);
            if subscribers.is_empty() {
                map.remove(name);
            }
        }
        true
    }

    /// Every subscription of a closing (or RESET) client.
    pub(crate) fn forget(&mut self, client: u64) {
        let Some(mine) = self.by_client.remove(&client) else {
            return;
        };
        for (kind, names) in mine.iter().enumerate() {
            for name in names {
                if let Some(subscribers) = self.by_name[kind].get_mut(name) {
                    subscribers.remove(&client);
                    if subscribers.is_empty() {
                        self.by_name[kind].remove(name);
                    }
                }
            }
        }
    }

    pub(crate) fn names_of(&self, client: u64, kind: Kind) -> Vec<Bytes> {
        self.by_client
            .get(&client)
            .map(|s| s[kind.index()].iter().cloned().collect())
            .unwrap_or_default()
    }
}
