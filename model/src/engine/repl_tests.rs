//! Engine scenarios for replication's master side, one per decision: the handshake's replies,
//! full and partial resynchronisation (accepted and refused at the backlog's edges), the
//! stream's bytes and offsets, the diskless delay and its ACK, WAIT, PING, INFO and ROLE.
//! Driven with the `Rig` of `tests.rs` over SimDisk.

use bytes::Bytes;

use super::repl::{GETACK, PING};
use super::tests::{config, Rig};
use super::{ClientId, ReplicaSync, Reply};
use crate::config::{Config, FsyncPolicy};
use crate::resp::Frame;

pub(super) const REPLICA: ClientId = 9;

pub(super) fn rig(diskless: bool) -> Rig {
    let mut config: Config = config(FsyncPolicy::No);
    config.repl.diskless_sync = diskless;
    Rig::start(config)
}

/// What `client` was sent since the last call, as bytes on its socket would be (the RDB
/// payload as a marker), plus whether a payload was handed over.
pub(super) fn wire(rig: &mut Rig, client: ClientId) -> (Vec<u8>, Option<ReplicaSync>) {
    rig.settle();
    let mut bytes = Vec::new();
    let mut sync = None;
    let replies = std::mem::take(&mut rig.replies);
    for (c, reply) in replies {
        if c != client {
            rig.replies.push((c, reply));
            continue;
        }
        match reply {
            Reply::Frame { frame, .. } => frame.encode(&mut bytes),
            Reply::Raw(raw) => bytes.extend_from_slice(&raw),
            Reply::Sync(s) => {
                bytes.extend_from_slice(b"<RDB>");
                sync = Some(s);
            }
            Reply::Silent => bytes.extend_from_slice(b"<silent>"),
            other => panic!("{other:?}"),
        }
    }
    (bytes, sync)
}

/// The frames released to `client` since the last call; other clients' replies are kept.
pub(super) fn frames(rig: &mut Rig, client: ClientId) -> Vec<Frame> {
    rig.settle();
    let (mine, others) = std::mem::take(&mut rig.replies)
        .into_iter()
        .partition(|(c, _)| *c == client);
    rig.replies = others;
    let mine: Vec<(ClientId, Reply)> = mine;
    mine.into_iter()
        .filter_map(|(_, r)| r.frame().cloned())
        .collect()
}

pub(super) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// INFO's text from its reply.
fn body(frame: Option<&Frame>) -> String {
    match frame {
        Some(Frame::Bulk(body)) | Some(Frame::Verbatim { text: body, .. }) => text(body),
        other => panic!("{other:?}"),
    }
}

fn info(rig: &mut Rig, field: &str) -> String {
    rig.send(1, "INFO");
    rig.settle();
    let replies = rig.take_replies();
    let body = body(replies.last());
    let line = body.lines().find(|l| l.starts_with(&format!("{field}:")));
    line.unwrap_or_else(|| panic!("{field} in {body}"))[field.len() + 1..].to_string()
}

/// Handshake, `PSYNC ? -1`, payload sent: the replica is online at the snapshot's offset.
pub(super) fn attach(rig: &mut Rig, client: ClientId) -> String {
    rig.send(client, "PING");
    rig.send(client, "REPLCONF listening-port 7001");
    rig.send(client, "REPLCONF capa eof capa psync2");
    rig.send(client, "PSYNC ? -1");
    let (bytes, sync) = wire(rig, client);
    let sync = sync.expect("full sync payload");
    assert_eq!(sync.eof_mark, None, "disk-style framing without diskless");
    let bytes = text(&bytes);
    assert!(
        bytes.starts_with("+PONG\r\n+OK\r\n+OK\r\n+FULLRESYNC "),
        "{bytes}"
    );
    let replid = bytes["+PONG\r\n+OK\r\n+OK\r\n+FULLRESYNC ".len()..][..40].to_string();
    rig.engine.handle_replica_synced(rig.now_ms, client);
    replid
}

/// Goal: an engine with no replica feeds nothing: offsets stay 0 and no backlog exists (the
/// model checker's states are those of an engine without replication).
#[test]
fn no_replica_no_stream() {
    let mut rig = rig(false);
    rig.send(1, "SET k v");
    assert_eq!(info(&mut rig, "master_repl_offset"), "0");
    assert_eq!(info(&mut rig, "repl_backlog_active"), "0");
    assert_eq!(info(&mut rig, "second_repl_offset"), "-1");
}

/// Goal: the full sync's offset is the stream's at the view, the stream starts with a SELECT
/// and carries the AOF's bytes, and `master_repl_offset` counts exactly what was fed.
#[test]
fn full_sync_then_stream_with_select_and_offsets() {
    let mut rig = rig(false);
    rig.send(1, "SET before 1");
    let replid = attach(&mut rig, REPLICA);
    assert_eq!(info(&mut rig, "master_replid"), replid);
    assert_eq!(info(&mut rig, "repl_backlog_first_byte_offset"), "1");
    rig.send(1, "SET k v");
    rig.send(1, "EXPIRE k 100");
    let (bytes, _) = wire(&mut rig, REPLICA);
    let want = "*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n";
    assert!(text(&bytes).starts_with(want), "{}", text(&bytes));
    assert!(
        text(&bytes).contains("PEXPIREAT"),
        "relative expiry as absolute"
    );
    assert_eq!(
        info(&mut rig, "master_repl_offset"),
        bytes.len().to_string()
    );
    assert_eq!(
        info(&mut rig, "repl_backlog_histlen"),
        bytes.len().to_string()
    );
    assert_eq!(info(&mut rig, "sync_full"), "1");
    // A SELECT of another db is tracked by the stream, not by the client.
    rig.send(1, "SELECT 3");
    rig.send(1, "SET a b");
    let (bytes, _) = wire(&mut rig, REPLICA);
    assert!(text(&bytes).starts_with("*2\r\n$6\r\nSELECT\r\n$1\r\n3\r\n"));
}

/// Goal: writes made while the payload is on its way are owed, in order, and sent once the
/// payload's last byte is written — never before it, never lost.
#[test]
fn writes_during_the_payload_follow_it() {
    let mut rig = rig(false);
    rig.send(REPLICA, "PSYNC ? -1");
    let (_, sync) = wire(&mut rig, REPLICA);
    assert!(sync.is_some());
    rig.send(1, "SET k1 v");
    rig.send(1, "SET k2 v");
    let (bytes, _) = wire(&mut rig, REPLICA);
    assert!(bytes.is_empty(), "nothing before the payload ends");
    rig.engine.handle_replica_synced(rig.now_ms, REPLICA);
    let (bytes, _) = wire(&mut rig, REPLICA);
    let bytes = text(&bytes);
    assert!(
        bytes.find("k1").unwrap() < bytes.find("k2").unwrap(),
        "{bytes}"
    );
    assert_eq!(
        info(&mut rig, "master_repl_offset"),
        bytes.len().to_string()
    );
}

/// Goal: PSYNC is accepted exactly for offsets in `[first, offset + 1]` of the current id, and
/// serves the bytes from there; anything else is a full resync counted in sync_partial_err.
#[test]
fn psync_accepts_the_window_and_refuses_outside() {
    let mut rig = rig(false);
    let replid = attach(&mut rig, REPLICA);
    rig.send(1, "SET k v");
    let (stream, _) = wire(&mut rig, REPLICA);
    let end = stream.len() as u64;
    let cases = [
        (end + 1, Some(0)),
        (end - 9, Some(10)),
        (1, Some(end)),
        (end + 2, None),
    ];
    for (i, (from, served)) in cases.into_iter().enumerate() {
        let client = 20 + i as ClientId;
        rig.send(client, "REPLCONF capa psync2");
        rig.send(client, &format!("PSYNC {replid} {from}"));
        let (bytes, sync) = wire(&mut rig, client);
        let bytes = text(&bytes);
        match served {
            Some(n) => {
                let head = format!("+OK\r\n+CONTINUE {replid}\r\n");
                assert!(bytes.starts_with(&head), "{from}: {bytes}");
                assert_eq!(bytes.len() - head.len(), n as usize, "{from}");
                assert!(sync.is_none());
            }
            None => assert!(bytes.contains("+FULLRESYNC") && sync.is_some(), "{from}"),
        }
    }
    rig.send(40, &format!("PSYNC {} 1", "f".repeat(40)));
    assert!(text(&wire(&mut rig, 40).0).contains("+FULLRESYNC"));
    assert_eq!(info(&mut rig, "sync_partial_ok"), "3");
    assert_eq!(info(&mut rig, "sync_partial_err"), "2");
    rig.send(41, "PSYNC ? notanumber");
    let (bytes, _) = wire(&mut rig, 41);
    assert_eq!(
        text(&bytes),
        "-ERR value is not an integer or out of range\r\n"
    );
}

/// Goal: once the ring dropped bytes, a PSYNC for them is refused (a full sync, not a hole).
#[test]
fn psync_refused_after_the_backlog_wrapped() {
    let mut rig = rig(false);
    rig.send(1, "CONFIG SET repl-backlog-size 16384");
    let replid = attach(&mut rig, REPLICA);
    let value = "x".repeat(1000);
    for i in 0..20 {
        rig.send(1, &format!("SET k{i} {value}"));
    }
    let first: u64 = info(&mut rig, "repl_backlog_first_byte_offset")
        .parse()
        .unwrap();
    assert!(first > 1);
    rig.send(30, &format!("PSYNC {replid} {}", first - 1));
    assert!(text(&wire(&mut rig, 30).0).contains("+FULLRESYNC"));
    rig.send(31, &format!("PSYNC {replid} {first}"));
    assert!(text(&wire(&mut rig, 31).0).starts_with("+CONTINUE"));
}

/// Goal: REPLCONF ACK and GETACK get no reply (a replica would run it as a command), yet each
/// takes its place in the reply order; an unknown option is refused with Redis's text.
#[test]
fn replconf_ack_is_never_answered() {
    let mut rig = rig(false);
    attach(&mut rig, REPLICA);
    rig.send(REPLICA, "REPLCONF ACK 0");
    rig.send(REPLICA, "REPLCONF GETACK *");
    rig.send(REPLICA, "REPLCONF ACK 0 FACK 0");
    assert_eq!(text(&wire(&mut rig, REPLICA).0), "<silent><silent><silent>");
    rig.send(3, "REPLCONF bogus 1");
    let (bytes, _) = wire(&mut rig, 3);
    assert_eq!(text(&bytes), "-ERR Unrecognized REPLCONF option: bogus\r\n");
}

/// Goal: diskless with a delay: keepalive newlines while waiting, `+FULLRESYNC` and an
/// `$EOF:` payload after the delay, and the stream only after the replica's first ACK.
#[test]
fn diskless_waits_the_delay_then_streams_after_the_first_ack() {
    let mut rig = rig(true);
    rig.send(REPLICA, "REPLCONF capa eof capa psync2");
    rig.send(REPLICA, "PSYNC ? -1");
    assert_eq!(text(&wire(&mut rig, REPLICA).0), "+OK\r\n");
    for _ in 0..4 {
        rig.tick(1000);
    }
    let (bytes, sync) = wire(&mut rig, REPLICA);
    assert!(sync.is_none(), "not before the delay");
    assert!(
        text(&bytes).starts_with("\n\n"),
        "keepalives: {:?}",
        text(&bytes)
    );
    rig.tick(1000);
    rig.tick(1000);
    let (bytes, sync) = wire(&mut rig, REPLICA);
    assert!(text(&bytes).contains("+FULLRESYNC"), "{}", text(&bytes));
    assert!(sync.and_then(|s| s.eof_mark).is_some());
    rig.send(1, "SET k v");
    rig.engine.handle_replica_synced(rig.now_ms, REPLICA);
    assert!(
        wire(&mut rig, REPLICA).0.is_empty(),
        "diskless waits for the ACK"
    );
    rig.send(REPLICA, "REPLCONF ACK 0");
    let (bytes, _) = wire(&mut rig, REPLICA);
    assert!(text(&bytes).contains("SET"), "{}", text(&bytes));
}

/// Goal: replicas waiting together start together, once the longest waiter waited the delay,
/// at one offset (Redis shares one RDB job between them).
#[test]
fn waiting_replicas_start_together() {
    let mut rig = rig(true);
    for client in [REPLICA, 10] {
        rig.send(client, "REPLCONF capa eof capa psync2");
        rig.send(client, "PSYNC ? -1");
        rig.tick(3000);
    }
    // Now 6 s after the first asked and 3 s after the second: both start.
    let heads: Vec<String> = [REPLICA, 10]
        .into_iter()
        .map(|c| {
            let (bytes, sync) = wire(&mut rig, c);
            assert!(
                sync.is_some(),
                "replica {c} started with the longest waiter"
            );
            let bytes = text(&bytes);
            bytes[bytes.find("+FULLRESYNC").expect("resync")..].to_string()
        })
        .collect();
    assert_eq!(heads[0], heads[1], "same id and offset");
}

/// Goal: WAIT counts only replicas that acknowledged the client's last write; it blocks (and
/// asks for ACKs with GETACK), replies on the ACK, holds the client's later requests behind it,
/// and replies with the count at its timeout.
#[test]
fn wait_counts_acknowledged_replicas() {
    let mut rig = rig(false);
    attach(&mut rig, REPLICA);
    // Nothing written yet: the replica has everything this client wrote.
    rig.send(1, "WAIT 0 0");
    assert_eq!(frames(&mut rig, 1), [Frame::Integer(1)]);
    rig.send(1, "SET k v");
    rig.send(1, "WAIT 1 0");
    rig.send(1, "GET k");
    rig.settle();
    let replies = frames(&mut rig, 1);
    assert_eq!(replies, [Frame::ok()], "WAIT blocks, GET waits behind it");
    let (stream, _) = wire(&mut rig, REPLICA);
    assert!(stream.ends_with(GETACK), "{}", text(&stream));
    let set_end = (stream.len() - GETACK.len()) as u64;
    rig.send(REPLICA, &format!("REPLCONF ACK {}", set_end - 1));
    assert!(
        frames(&mut rig, 1).is_empty(),
        "one byte short is not enough"
    );
    rig.send(REPLICA, &format!("REPLCONF ACK {set_end}"));
    rig.settle();
    let replies = frames(&mut rig, 1);
    assert_eq!(replies, [Frame::Integer(1), Frame::Bulk(Bytes::from("v"))]);
    rig.send(1, "SET k w");
    rig.send(1, "WAIT 1 500");
    rig.tick(400);
    rig.settle();
    assert_eq!(frames(&mut rig, 1), [Frame::ok()]);
    rig.tick(200);
    rig.settle();
    assert_eq!(frames(&mut rig, 1), [Frame::Integer(0)]);
}

/// Goal: PUBLISH reaches replicas with the SELECT of the publisher's database, and counts in
/// the offset (Redis propagates it to replicas only).
#[test]
fn publish_reaches_the_stream() {
    let mut rig = rig(false);
    attach(&mut rig, REPLICA);
    rig.send(1, "SELECT 2");
    rig.send(1, "PUBLISH ch hello");
    let (bytes, _) = wire(&mut rig, REPLICA);
    let want =
        "*2\r\n$6\r\nSELECT\r\n$1\r\n2\r\n*3\r\n$7\r\nPUBLISH\r\n$2\r\nch\r\n$5\r\nhello\r\n";
    assert_eq!(text(&bytes), want);
}

/// Goal: PING every `repl-ping-replica-period` seconds while a replica is attached, counted
/// in the offset and never preceded by a SELECT.
#[test]
fn ping_every_period() {
    let mut rig = rig(false);
    rig.send(1, "CONFIG SET repl-ping-replica-period 2");
    attach(&mut rig, REPLICA);
    wire(&mut rig, REPLICA);
    for _ in 0..4 {
        rig.tick(1000);
    }
    let (bytes, _) = wire(&mut rig, REPLICA);
    assert_eq!(bytes, [PING, PING].concat());
    assert_eq!(info(&mut rig, "master_repl_offset"), "28");
}

/// Goal: INFO replication's fields in Redis's order, ROLE's shape, and CLIENT KILL TYPE
/// replica drops the replica from both.
#[test]
fn info_and_role_as_redis_prints_them() {
    let mut rig = rig(false);
    attach(&mut rig, REPLICA);
    rig.send(REPLICA, "REPLCONF ACK 0");
    rig.send(1, "INFO replication");
    let replies = rig.take_replies();
    let body = body(replies.last());
    let names: Vec<String> = body
        .lines()
        .map(|l| l.split(':').next().unwrap().to_string())
        .collect();
    let want = [
        "# Replication",
        "role",
        "connected_slaves",
        "slave0",
        "master_failover_state",
        "master_replid",
        "master_replid2",
        "master_repl_offset",
        "second_repl_offset",
        "repl_backlog_active",
        "repl_backlog_size",
        "repl_backlog_first_byte_offset",
        "repl_backlog_histlen",
    ];
    assert_eq!(names, want);
    assert!(body.contains("slave0:ip=?,port=7001,state=online,offset=0,lag=0"));
    rig.send(1, "ROLE");
    let role = rig.take_replies();
    let want = Frame::Array(vec![
        Frame::Bulk(Bytes::from("master")),
        Frame::Integer(0),
        Frame::Array(vec![Frame::Array(vec![
            Frame::Bulk(Bytes::from("?")),
            Frame::Bulk(Bytes::from("7001")),
            Frame::Bulk(Bytes::from("0")),
        ])]),
    ]);
    assert_eq!(role, [want]);
    rig.send(1, "CLIENT LIST TYPE replica");
    let list = rig.take_replies();
    assert!(self::body(list.last()).contains(" flags=S "), "{list:?}");
    rig.send(1, "CLIENT KILL TYPE replica");
    assert_eq!(rig.take_replies(), [Frame::Integer(1)]);
    assert_eq!(info(&mut rig, "connected_slaves"), "0");
}

/// Goal: with min-replicas-to-write, writes are refused with Redis's text until enough
/// replicas acknowledged within the lag.
#[test]
fn min_replicas_to_write_refuses_writes() {
    let mut rig = rig(false);
    rig.send(1, "CONFIG SET min-replicas-to-write 1");
    rig.send(1, "SET k v");
    let refusal = Frame::error("NOREPLICAS Not enough good replicas to write.");
    assert_eq!(rig.take_replies(), [Frame::ok(), refusal]);
    attach(&mut rig, REPLICA);
    rig.tick(1000);
    rig.send(1, "SET k v");
    rig.settle();
    assert_eq!(rig.take_replies().last(), Some(&Frame::ok()));
}

/// Goal: a replica owed more than the output limit while its payload travels is dropped (and
/// forgotten), rather than growing the master's memory without bound.
#[test]
fn a_replica_owed_too_much_is_dropped() {
    let mut config: Config = config(FsyncPolicy::No);
    config.repl.diskless_sync = false;
    config.repl.output_bytes_max = 100;
    let mut rig = Rig::start(config);
    rig.send(REPLICA, "PSYNC ? -1");
    assert!(wire(&mut rig, REPLICA).1.is_some());
    rig.send(1, "SET k1 0123456789012345678901234567890123456789");
    assert_eq!(info(&mut rig, "connected_slaves"), "1");
    rig.send(1, "SET k2 0123456789012345678901234567890123456789");
    rig.settle();
    let closed = rig
        .replies
        .iter()
        .any(|(c, r)| *c == REPLICA && *r == Reply::Close);
    assert!(closed, "the replica's connection is closed");
    assert_eq!(info(&mut rig, "connected_slaves"), "0");
}

/// Goal: an online replica silent for `repl-timeout` is dropped; one that ACKs is kept; an old
/// `SYNC` replica (which never ACKs) is never timed out.
#[test]
fn silent_replicas_time_out() {
    let mut rig = rig(false);
    rig.send(1, "CONFIG SET repl-timeout 3");
    attach(&mut rig, REPLICA);
    attach(&mut rig, 10);
    rig.send(11, "SYNC");
    rig.engine.handle_replica_synced(rig.now_ms, 11);
    for _ in 0..5 {
        rig.tick(1000);
        rig.send(10, "REPLCONF ACK 0");
    }
    rig.settle();
    let closed: Vec<ClientId> = (rig.replies.iter())
        .filter(|(_, r)| *r == Reply::Close)
        .map(|(c, _)| *c)
        .collect();
    assert_eq!(closed, [REPLICA]);
    assert_eq!(info(&mut rig, "connected_slaves"), "2");
}
