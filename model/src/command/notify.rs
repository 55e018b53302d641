//! Keyspace notifications (`notify-keyspace-events`): Redis 7.0's `notifyKeyspaceEvent`, sent
//! through the Pub/Sub registry to `__keyspace@<db>__:<key>` (message: the event) and
//! `__keyevent@<db>__:<event>` (message: the key).
//!
//! Owns the event each command raises (the flags are `crate::keyspace_events`'s). Invariants: nothing is
//! sent unless the event's class and K or E are enabled; a command raises its event once per key
//! it changed, after the change (so a no-op — SADD of present members, DEL of a missing key —
//! raises none); the event is named after the command (Redis's name where it differs: HMSET
//! raises `hset`, INCR `incrby`, RENAME `rename_from`/`rename_to`, ...); a key created raises
//! `new`, an expired one `expired`, an evicted one `evicted`, an emptied collection `del`.

use bytes::Bytes;

use super::index::Group;
use super::state::Shared;
pub(crate) use crate::keyspace_events::*;
use crate::resp::Frame;

/// The class of a command's own event: its group's.
pub(crate) fn class_of(group: Group) -> u32 {
    match group {
        Group::String | Group::Bitmap => STRING,
        Group::List => LIST,
        Group::Set => SET,
        Group::Hash => HASH,
        Group::SortedSet => ZSET,
        Group::Stream => STREAM,
        _ => GENERIC,
    }
}

/// The event a command raises on a key it changed (`first`: the key is the command's first).
pub(crate) fn event_of(command: &'static str, first: bool) -> &'static str {
    match command {
        "hmset" => "hset",
        "incr" => "incrby",
        "decr" => "decrby",
        "setnx" | "setex" | "psetex" | "getset" | "mset" | "msetnx" => "set",
        "pexpire" | "expireat" | "pexpireat" => "expire",
        "getdel" | "unlink" => "del",
        "zincrby" => "zincr",
        "blpop" => "lpop",
        "brpop" => "rpop",
        "bzpopmin" => "zpopmin",
        "bzpopmax" => "zpopmax",
        "rename" | "renamenx" if first => "rename_from",
        "rename" | "renamenx" => "rename_to",
        "move" if first => "move_from",
        "move" => "move_to",
        "copy" => "copy_to",
        "sort" => "sortstore",
        // Stream commands raise their own events, or none (`stream*.rs`).
        "xadd" | "xgroup" | "xreadgroup" | "xclaim" | "xautoclaim" | "xack" => "",
        other => other,
    }
}

/// Whether the command also raises `expire` on its key: SETEX, PSETEX, and SET with an expiry.
pub(crate) fn sets_expiry(command: &str, argv: &[Bytes]) -> bool {
    match command {
        "setex" | "psetex" => true,
        "set" => argv.iter().skip(3).any(|a| {
            [&b"EX"[..], b"PX", b"EXAT", b"PXAT"]
                .iter()
                .any(|o| a.eq_ignore_ascii_case(o))
        }),
        _ => false,
    }
}

/// The messages `notifyKeyspaceEvent` sends for `event` of `class` on `key` in `db`, to whom.
pub(crate) fn deliveries(
    shared: &Shared,
    class: u32,
    event: &str,
    db: usize,
    key: &Bytes,
) -> Vec<(u64, Frame)> {
    let flags = shared.notify_flags;
    let mut out = Vec::new();
    if flags & class == 0 {
        return out;
    }
    if flags & KEYSPACE != 0 {
        let mut channel = format!("__keyspace@{db}__:").into_bytes();
        channel.extend_from_slice(key);
        publish(
            shared,
            &Bytes::from(channel),
            &Bytes::copy_from_slice(event.as_bytes()),
            &mut out,
        );
    }
    if flags & KEYEVENT != 0 {
        let channel = Bytes::from(format!("__keyevent@{db}__:{event}"));
        publish(shared, &channel, key, &mut out);
    }
    out
}

/// PUBLISH's fan-out, without a client.
fn publish(shared: &Shared, channel: &Bytes, message: &Bytes, out: &mut Vec<(u64, Frame)>) {
    out.extend(shared.pubsub.fan_out(channel, message));
}

/// Notifications of keys removed outside a command (active expiry, eviction), for the engine.
pub fn removed_key_deliveries(
    shared: &Shared,
    evicted: bool,
    db: usize,
    key: &Bytes,
) -> Vec<(u64, Frame)> {
    let (class, event) = if evicted {
        (EVICTED, "evicted")
    } else {
        (EXPIRED, "expired")
    };
    deliveries(shared, class, event, db, key)
}

#[cfg(test)]
mod event_tests {
    use super::super::testkit::*;
    use super::*;

    fn messages(outcome: &crate::command::Outcome) -> Vec<String> {
        let text = |f: &Frame| match f {
            Frame::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
            other => format!("{other:?}"),
        };
        let to_line = |(_, f): &(u64, Frame)| match f {
            Frame::Push(parts) => parts[2..].iter().map(text).collect::<Vec<_>>().join(" "),
            other => format!("{other:?}"),
        };
        outcome.deliveries.iter().map(to_line).collect()
    }

    #[test]
    fn commands_raise_their_events_on_changed_keys_only() {
        let mut k = Kit::new();
        k.run_as(9, "PSUBSCRIBE *");
        k.shared.notify_flags = parse_flags("KEA").unwrap() | NEW;
        assert_eq!(
            messages(&k.run("SET foo bar EX 10")),
            [
                "__keyspace@0__:foo new",
                "__keyevent@0__:new foo",
                "__keyspace@0__:foo set",
                "__keyevent@0__:set foo",
                "__keyspace@0__:foo expire",
                "__keyevent@0__:expire foo"
            ]
        );
        k.shared.notify_flags = parse_flags("Kgl").unwrap();
        assert!(messages(&k.run("SADD s a")).is_empty(), "sets are masked");
        assert!(messages(&k.run("DEL nope")).is_empty(), "nothing changed");
        k.run("RPUSH l a");
        assert_eq!(
            messages(&k.run("LPOP l")),
            ["__keyspace@0__:l lpop", "__keyspace@0__:l del"]
        );
        assert_eq!(
            messages(&k.run("RENAME foo bar")),
            [
                "__keyspace@0__:foo rename_from",
                "__keyspace@0__:bar rename_to"
            ]
        );
        k.shared.notify_flags = parse_flags("Ex").unwrap();
        k.run("SET gone 1 PX 5");
        k.now_ms += 10;
        assert_eq!(
            messages(&k.run("GET gone")),
            ["__keyevent@0__:expired gone"]
        );
    }
}
