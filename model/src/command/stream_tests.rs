//! Stream commands against Redis 7.0.15's replies, errors and propagation (expected values
//! taken from redis-server 7.0.15), and the stream's round trips through the AOF rewrite
//! commands and the RDB payload.

use bytes::Bytes;

use super::testkit::*;
use crate::keyspace::Value;
use crate::resp::Frame;
use crate::types::{Limits, StreamValue};

fn log(items: &[&str]) -> Vec<(usize, String)> {
    items.iter().map(|s| (0, s.to_string())).collect()
}

fn entry(id: &str, fields: &[&str]) -> Frame {
    Frame::Array(vec![bulk(id), array(fields)])
}

fn stream_of(k: &Kit, key: &str) -> StreamValue {
    let entry = k.ks.dbs[0].get(key.as_bytes()).expect("key present");
    match &entry.value {
        Value::Stream(s) => (**s).clone(),
        other => panic!("not a stream: {other:?}"),
    }
}

#[test]
fn xadd_ids_errors_and_what_it_propagates() {
    let mut k = Kit::new();
    assert_eq!(k.logged("XADD s 5-* a 1"), log(&["XADD s 5-0 a 1"]));
    assert_eq!(k.reply("XADD s 5-* a 1"), bulk("5-1"));
    assert_eq!(
        k.logged("XADD s * a 1"),
        log(&[&format!("XADD s {T0}-0 a 1")])
    );
    assert_eq!(
        k.reply("XADD s 5-3 a 1"),
        err("ERR The ID specified in XADD is equal or smaller than the target stream top item")
    );
    assert_eq!(
        k.reply("XADD t 0-0 a 1"),
        err("ERR The ID specified in XADD must be greater than 0-0")
    );
    assert_eq!(k.reply("EXISTS t"), int(0));
    assert_eq!(
        k.reply("XADD s 1-x a 1"),
        err("ERR Invalid stream ID specified as stream command argument")
    );
    assert_eq!(
        k.reply("XADD s * a"),
        err("ERR wrong number of arguments for 'xadd' command")
    );
    assert_eq!(k.reply("XADD nokey NOMKSTREAM * a 1"), Frame::Null);
    assert_eq!(
        k.reply("XADD s LIMIT 5 * a 1"),
        err("ERR syntax error, LIMIT cannot be used without specifying a trimming strategy")
    );
    assert_eq!(
        k.reply("XADD s MAXLEN 5 LIMIT 5 * a 1"),
        err("ERR syntax error, LIMIT cannot be used without the special ~ option")
    );
    k.run("SET str v");
    assert_eq!(
        k.reply("XADD str * a 1"),
        err("WRONGTYPE Operation against a key holding the wrong kind of value")
    );
    assert_eq!(k.reply("TYPE s"), simple("stream"));
    assert_eq!(k.reply("OBJECT ENCODING s"), bulk("stream"));
}

#[test]
fn approximate_trims_propagate_as_the_exact_trim_done() {
    let mut k = Kit::new();
    k.ks.limits.stream_node_max_entries = 10;
    for i in 1..=100 {
        k.run(&format!("XADD s {i} f v"));
    }
    assert_eq!(
        k.logged("XADD s MAXLEN ~ 55 LIMIT 30 101 f v"),
        log(&["XADD s MAXLEN = 71 101 f v"])
    );
    assert_eq!(k.reply("XLEN s"), int(71));
    assert_eq!(
        k.logged("XTRIM s MINID ~ 50"),
        log(&["XTRIM s MINID = 41-0"])
    );
    assert_eq!(k.reply("XTRIM s MAXLEN 3"), int(58));
    assert_eq!(
        k.reply("XRANGE s - +"),
        Frame::Array(vec![
            entry("99-0", &["f", "v"]),
            entry("100-0", &["f", "v"]),
            entry("101-0", &["f", "v"])
        ])
    );
    assert_eq!(
        k.reply("XREVRANGE s + (99 COUNT 1"),
        Frame::Array(vec![entry("101-0", &["f", "v"])])
    );
    assert_eq!(k.reply("XRANGE s - + COUNT 0"), Frame::NullArray);
    assert_eq!(k.reply("XDEL s 100 7"), int(1));
    let s = stream_of(&k, "s");
    assert_eq!(
        (s.max_deleted_id.ms, s.entries_added, s.len()),
        (100, 101, 2)
    );
}

#[test]
fn xreadgroup_propagates_claims_never_itself() {
    let mut k = Kit::new();
    k.run("XADD s 1 a 1");
    k.run("XADD s 2 b 2");
    k.run("XGROUP CREATE s g 0");
    assert_eq!(
        k.logged("XREADGROUP GROUP g alice COUNT 1 STREAMS s >"),
        log(&[&format!(
            "XCLAIM s g alice 0 1-0 TIME {T0} RETRYCOUNT 1 FORCE JUSTID LASTID 1-0"
        )])
    );
    assert_eq!(
        k.logged("XREADGROUP GROUP g bob NOACK STREAMS s >"),
        log(&["XGROUP SETID s g 2-0 ENTRIESREAD 2"])
    );
    assert_eq!(
        k.reply("XREADGROUP GROUP g bob STREAMS s >"),
        Frame::NullArray
    );
    assert_eq!(
        k.reply("XREADGROUP GROUP nog bob STREAMS s >"),
        err("NOGROUP No such key 's' or consumer group 'nog' in XREADGROUP with GROUP option")
    );
    assert_eq!(
        k.reply("XPENDING s g"),
        Frame::Array(vec![
            int(1),
            bulk("1-0"),
            bulk("1-0"),
            Frame::Array(vec![array(&["alice", "1"])])
        ])
    );
    k.now_ms += 50;
    let claimed = k.run("XCLAIM s g carol 10 1-0 JUSTID");
    assert_eq!(claimed.reply, Frame::Array(vec![bulk("1-0")]));
    assert_eq!(
        logged(&claimed),
        log(&[&format!(
            "XCLAIM s g carol 0 1-0 TIME {} RETRYCOUNT 1 FORCE JUSTID LASTID 2-0",
            T0 + 50
        )])
    );
    assert_eq!(k.reply("XACK s g 1-0 9-9"), int(1));
    let field = |name: &str, value: Frame| (bulk(name), value);
    assert_eq!(
        k.reply("XINFO GROUPS s"),
        Frame::Array(vec![Frame::Map(vec![
            field("name", bulk("g")),
            field("consumers", int(3)),
            field("pending", int(0)),
            field("last-delivered-id", bulk("2-0")),
            field("entries-read", int(2)),
            field("lag", int(0)),
        ])])
    );
}

/// Goal: the commands of an AOF rewrite rebuild the stream — entries, IDs, counters,
/// groups and PELs — and so does the RDB payload.
#[test]
fn rewrite_commands_and_rdb_payload_rebuild_the_stream() {
    let mut k = Kit::new();
    for i in 100..=105 {
        k.run(&format!("XADD x {i} f{i} 1"));
    }
    k.run("XGROUP CREATE x g1 0");
    k.run("XGROUP CREATE x g2 0");
    k.run("XREADGROUP GROUP g1 Alice COUNT 1 STREAMS x >");
    k.run("XREADGROUP GROUP g1 Bob NOACK COUNT 1 STREAMS x >");
    k.run("XREADGROUP GROUP g2 Charlie COUNT 4 STREAMS x >");
    k.run("XGROUP CREATECONSUMER x g2 Idle");
    k.run("XDEL x 103 105");
    let original = stream_of(&k, "x");
    let mut commands = Vec::new();
    let key = Bytes::from_static(b"x");
    crate::aof::stream_rewrite::rewrite_stream(&key, &original, &mut |argv| {
        commands.push(argv.to_vec())
    });
    let mut replay = Kit::new();
    replay.loading = true;
    for argv in &commands {
        let out = replay.run_argv(1, argv);
        assert!(
            !matches!(out.reply, Frame::Error(_)),
            "{argv:?}: {:?}",
            out.reply
        );
    }
    let rebuilt = stream_of(&replay, "x");
    assert_eq!(rebuilt.len(), original.len());
    assert_eq!(rebuilt.last_id, original.last_id);
    assert_eq!(rebuilt.max_deleted_id, original.max_deleted_id);
    assert_eq!(rebuilt.entries_added, original.entries_added);
    for (name, g) in original.groups.iter() {
        let r = &rebuilt.groups[name];
        assert_eq!((r.last_id, r.entries_read), (g.last_id, g.entries_read));
        // As in Redis, the XCLAIM of an entry deleted since it was delivered drops it.
        let live: imbl::OrdMap<_, _> = g
            .pel
            .iter()
            .filter(|(id, _)| original.get(id).is_some())
            .map(|(id, p)| (*id, p.clone()))
            .collect();
        assert!(
            live.len() < g.pel.len() || name != "g2",
            "the case is covered"
        );
        assert_eq!(r.pel, live, "{name:?}");
        let names =
            |g: &crate::types::stream::Group| g.consumers.keys().cloned().collect::<Vec<_>>();
        assert_eq!(names(r), names(g));
    }
    rdb_payload_round_trip(&original);
}

fn rdb_payload_round_trip(original: &StreamValue) {
    let value = Value::Stream(Box::new(original.clone()));
    let payload = crate::rdb::payload::dump(&value, &Limits::default());
    let back = crate::rdb::payload::restore(&payload, &Limits::default()).expect("restores");
    let Value::Stream(back) = back else {
        panic!("not a stream")
    };
    let all = |s: &StreamValue| {
        let max = crate::types::StreamId::MAX;
        let entries: Vec<_> = s
            .range(crate::types::StreamId::MIN, max, false)
            .map(|(id, f)| (id, f.clone()))
            .collect();
        (
            entries,
            s.last_id,
            s.first_id,
            s.max_deleted_id,
            s.entries_added,
            s.groups.clone(),
        )
    };
    assert_eq!(all(&back), all(original), "RDB round trip keeps everything");
}
