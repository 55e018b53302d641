//! Pub/Sub: SUBSCRIBE, PSUBSCRIBE and SSUBSCRIBE with their UNSUBSCRIBEs, PUBLISH, SPUBLISH and
//! PUBSUB, as Redis 7.0 answers them (`pubsub.c`).
//!
//! Owns the commands; the registry they read and change is `subscriptions.rs`, kept in
//! [`Shared`] because PUBLISH runs in any client's command (inside MULTI or a script too) and
//! must reach every subscriber. Invariant: a publish does not write to a socket: it adds
//! `(client, message)` deliveries to the execution unit, and the engine queues them as push
//! replies ahead of the publisher's reply, in the same release order as every other reply.

use std::collections::BTreeSet;

use bytes::Bytes;

use super::exec::Exec;
use super::glob::string_match;
use super::reply;
use super::state::Shared;
use super::subscriptions::{Kind, PubSub};
use crate::resp::Frame;

/// `[verb, name, count]` as a push (an array in RESP2).
fn confirmation(verb: &'static str, name: Option<&Bytes>, count: i64) -> Frame {
    let name = name.map_or(Frame::Null, reply::bulk);
    Frame::Push(vec![reply::bulk_str(verb), name, Frame::Integer(count)])
}

/// One confirmation per name, sent back to back (Redis answers one request with several).
fn confirmations(frames: Vec<Frame>) -> Frame {
    match <[Frame; 1]>::try_from(frames) {
        Ok([one]) => one,
        Err(many) => Frame::Sequence(many),
    }
}

fn subscribe_kind(x: &mut Exec<'_>, argv: &[Bytes], kind: Kind) -> Frame {
    let client = x.session.client_id;
    let pubsub = &mut x.shared.pubsub;
    let frames = argv[1..]
        .iter()
        .map(|name| {
            pubsub.add(client, kind, name);
            confirmation(kind.verbs().0, Some(name), pubsub.count_for(client, kind))
        })
        .collect();
    confirmations(frames)
}

fn unsubscribe_kind(x: &mut Exec<'_>, argv: &[Bytes], kind: Kind) -> Frame {
    let client = x.session.client_id;
    let pubsub = &mut x.shared.pubsub;
    let verb = kind.verbs().1;
    let names = match &argv[1..] {
        [] => pubsub.names_of(client, kind),
        given => given.to_vec(),
    };
    if names.is_empty() {
        // Nothing to leave: one reply with a null name, as Redis.
        return confirmation(verb, None, pubsub.count_for(client, kind));
    }
    let frames = names
        .iter()
        .map(|name| {
            pubsub.remove(client, kind, name);
            confirmation(verb, Some(name), pubsub.count_for(client, kind))
        })
        .collect();
    confirmations(frames)
}

pub(crate) fn subscribe(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    subscribe_kind(x, argv, Kind::Channel)
}

pub(crate) fn unsubscribe(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    unsubscribe_kind(x, argv, Kind::Channel)
}

pub(crate) fn psubscribe(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    subscribe_kind(x, argv, Kind::Pattern)
}

pub(crate) fn punsubscribe(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    unsubscribe_kind(x, argv, Kind::Pattern)
}

pub(crate) fn ssubscribe(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    subscribe_kind(x, argv, Kind::Shard)
}

pub(crate) fn sunsubscribe(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    unsubscribe_kind(x, argv, Kind::Shard)
}

/// PUBLISH channel message: the number of clients that received it (each pattern match counts).
pub(crate) fn publish(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    let (channel, message) = (&argv[1], &argv[2]);
    let deliveries = x.shared.pubsub.fan_out(channel, message);
    let received = deliveries.len() as i64;
    x.deliver(deliveries);
    Frame::Integer(received)
}

/// SPUBLISH shardchannel message: shard subscribers only (one shard: this server).
pub(crate) fn spublish(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    let (channel, message) = (&argv[1], &argv[2]);
    let subscribers = x.shared.pubsub.by_name[Kind::Shard.index()].get(channel);
    let frame = Frame::Push(vec![
        reply::bulk_str("smessage"),
        reply::bulk(channel),
        reply::bulk(message),
    ]);
    let deliveries: Vec<_> = subscribers
        .into_iter()
        .flatten()
        .map(|&c| (c, frame.clone()))
        .collect();
    let received = deliveries.len() as i64;
    x.deliver(deliveries);
    Frame::Integer(received)
}

/// PUBSUB CHANNELS|NUMSUB|NUMPAT|SHARDCHANNELS|SHARDNUMSUB|HELP.
pub(crate) fn pubsub(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    let sub = String::from_utf8_lossy(&argv[1]).to_ascii_lowercase();
    let pubsub = &x.shared.pubsub;
    match (sub.as_str(), &argv[2..]) {
        ("channels", [] | [_]) => active(pubsub, Kind::Channel, argv.get(2)),
        ("shardchannels", [] | [_]) => active(pubsub, Kind::Shard, argv.get(2)),
        ("numsub", names) => numsub(pubsub, Kind::Channel, names),
        ("shardnumsub", names) => numsub(pubsub, Kind::Shard, names),
        ("numpat", []) => Frame::Integer(pubsub.by_name[Kind::Pattern.index()].len() as i64),
        ("help", []) => Frame::Array(HELP.iter().map(|l| Frame::Simple(l.to_string())).collect()),
        ("channels" | "shardchannels" | "numpat" | "help", _) => {
            reply::wrong_arity(&format!("pubsub|{sub}"))
        }
        // 7.0 resolves subcommands in its table: an unknown one is named as sent.
        _ => reply::err(&format!(
            "ERR unknown subcommand '{}'. Try PUBSUB HELP.",
            reply::one_line(&argv[1])
        )),
    }
}

/// Names with at least one subscriber, matching `pattern` if given.
fn active(pubsub: &PubSub, kind: Kind, pattern: Option<&Bytes>) -> Frame {
    let names = pubsub.by_name[kind.index()].keys();
    Frame::Array(
        names
            .filter(|name| pattern.is_none_or(|p| string_match(p, name)))
            .map(reply::bulk)
            .collect(),
    )
}

/// `name, count` for each name asked, flat (an array in both protocols, as Redis 7.0).
fn numsub(pubsub: &PubSub, kind: Kind, names: &[Bytes]) -> Frame {
    let map = &pubsub.by_name[kind.index()];
    let mut out = Vec::with_capacity(names.len() * 2);
    for name in names {
        out.push(reply::bulk(name));
        out.push(Frame::Integer(map.get(name).map_or(0, BTreeSet::len) as i64));
    }
    Frame::Array(out)
}

const HELP: &[&str] = &[
    "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CHANNELS [<pattern>]",
    "    Return the currently active channels matching a <pattern> (default: '*').",
    "NUMPAT",
    "    Return number of subscriptions to patterns.",
    "NUMSUB [<channel> ...]",
    "    Return the number of subscribers for the specified channels, excluding",
    "    pattern subscriptions(default: no channels).",
    "SHARDCHANNELS [<pattern>]",
    "    Return the currently active shard level channels matching a <pattern> (default: '*').",
    "SHARDNUMSUB [<shardchannel> ...]",
    "    Return the number of subscribers for the specified shard level channel(s)",
    "HELP",
    "    Prints this help.",
];

/// Whether `shared` knows `client` as a subscriber (for the engine's RESP2 restricted mode).
pub fn is_subscriber(shared: &Shared, client: u64) -> bool {
    shared.pubsub.is_subscriber(client)
}

/// Active `(channels, patterns, shard channels)` on the server, for INFO.
pub fn pubsub_totals(shared: &Shared) -> (usize, usize, usize) {
    let [channels, patterns, shard] = &shared.pubsub.by_name;
    (channels.len(), patterns.len(), shard.len())
}

/// `(channels, patterns, shard channels)` of `client`, for CLIENT LIST.
pub fn subscription_counts(shared: &Shared, client: u64) -> (usize, usize, usize) {
    shared.pubsub.counts(client)
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use super::*;

    fn message(kind: &'static str, parts: &[&str]) -> Frame {
        let mut items = vec![reply::bulk_str(kind)];
        items.extend(parts.iter().map(|p| bulk(p)));
        Frame::Push(items)
    }

    #[test]
    fn publish_reaches_channel_and_pattern_subscribers_and_is_not_logged() {
        let mut k = Kit::new();
        k.run_as(1, "SUBSCRIBE news");
        k.run_as(2, "PSUBSCRIBE n*");
        k.run_as(3, "SSUBSCRIBE news");
        let outcome = k.run_as(4, "PUBLISH news hi");
        assert_eq!(outcome.reply, int(2));
        assert!(
            outcome.propagate.is_empty(),
            "PUBLISH never reaches the AOF"
        );
        assert_eq!(
            outcome.deliveries,
            vec![
                (1, message("message", &["news", "hi"])),
                (2, message("pmessage", &["n*", "news", "hi"])),
            ]
        );
        let shard = k.run_as(4, "SPUBLISH news hi");
        assert_eq!(
            shard.deliveries,
            vec![(3, message("smessage", &["news", "hi"]))]
        );
    }

    #[test]
    fn unsubscribing_and_closing_keep_both_indexes_in_step() {
        let mut k = Kit::new();
        k.run_as(1, "SUBSCRIBE a b");
        k.run_as(2, "SUBSCRIBE a");
        assert_eq!(
            k.run_as(1, "UNSUBSCRIBE").reply,
            Frame::Sequence(vec![
                message("unsubscribe", &["a"]).with_count(1),
                message("unsubscribe", &["b"]).with_count(0),
            ])
        );
        assert!(!k.shared.pubsub.is_subscriber(1));
        super::super::client_closed(&mut k.shared, 2);
        assert_eq!(k.shared.pubsub, PubSub::default(), "nothing left behind");
        assert_eq!(k.run_as(3, "PUBLISH a x").reply, int(0));
    }

    impl Frame {
        fn with_count(self, n: i64) -> Frame {
            match self {
                Frame::Push(mut items) => {
                    items.push(Frame::Integer(n));
                    Frame::Push(items)
                }
                other => other,
            }
        }
    }
}
