//! Engine scenarios for WAITAOF (`repl_aof.rs`), master side: Redis 7.2's argument errors,
//! the local fsync under each `appendfsync`, replicas counted by their FACK only, MULTI, and
//! `appendonly no` while waiting. The replica's FACK is in `replica_tests.rs`.

use bytes::Bytes;

use crate::config::FsyncPolicy;
use crate::engine::repl::GETACK;
use crate::engine::repl_tests::{attach, frames, rig, text, wire, REPLICA};
use crate::engine::tests::{config, Rig};
use crate::resp::Frame;

fn waitaof(local: i64, replicas: i64) -> Frame {
    Frame::Array(vec![Frame::Integer(local), Frame::Integer(replicas)])
}

/// Goal: WAITAOF parses as Redis 7.2 (its error texts, in its order), refuses a local wait
/// under `appendonly no`, and under `everysec` blocks until the fsync covering the client's
/// write completes, holding the client's later requests behind it.
#[test]
fn waitaof_waits_for_the_local_fsync() {
    let mut rig = Rig::start(config(FsyncPolicy::Everysec));
    let errors = [
        (
            "WAITAOF x 0 0",
            "ERR value is not an integer or out of range",
        ),
        (
            "WAITAOF 2 0 0",
            "ERR value is out of range, value must between 0 and 1",
        ),
        (
            "WAITAOF 0 x 0",
            "ERR value is out of range, must be positive",
        ),
        (
            "WAITAOF 0 -1 0",
            "ERR value is out of range, must be positive",
        ),
        (
            "WAITAOF 0 0 x",
            "ERR timeout is not an integer or out of range",
        ),
        ("WAITAOF 1 0 -1", "ERR timeout is negative"),
    ];
    for (line, text) in errors {
        rig.send(1, line);
        assert_eq!(frames(&mut rig, 1), [Frame::error(text)], "{line}");
    }
    rig.send(1, "WAITAOF 1 0 0");
    assert_eq!(frames(&mut rig, 1), [waitaof(1, 0)], "nothing logged yet");
    rig.send(1, "SET k v");
    rig.send(1, "WAITAOF 1 0 0");
    rig.send(1, "GET k");
    assert_eq!(
        frames(&mut rig, 1),
        [Frame::ok()],
        "blocked until the fsync"
    );
    rig.tick(1000);
    let want = [waitaof(1, 0), Frame::Bulk(Bytes::from("v"))];
    assert_eq!(frames(&mut rig, 1), want);
    // Turning the AOF off answers a local wait with Redis's error.
    rig.send(1, "SET k w");
    rig.send(1, "WAITAOF 1 0 0");
    rig.send(2, "CONFIG SET appendonly no");
    let text = "ERR WAITAOF cannot be used when numlocal is set but appendonly is disabled.";
    assert_eq!(frames(&mut rig, 1), [Frame::ok(), Frame::error(text)]);
    rig.send(1, "WAITAOF 1 0 0");
    assert_eq!(frames(&mut rig, 1), [Frame::error(text)]);
    rig.send(1, "WAITAOF 0 0 0");
    assert_eq!(
        frames(&mut rig, 1),
        [waitaof(0, 0)],
        "no AOF: never fsynced"
    );
}

/// Goal: under `appendfsync no` nothing is fsynced, so a local WAITAOF answers 0 at its
/// timeout; under `always` the reply to the write already waited for its fsync.
#[test]
fn waitaof_under_no_and_always() {
    let mut rig = Rig::start(config(FsyncPolicy::No));
    rig.send(1, "SET k v");
    rig.send(1, "WAITAOF 1 0 50");
    assert_eq!(frames(&mut rig, 1), [Frame::ok()]);
    rig.tick(60);
    assert_eq!(frames(&mut rig, 1), [waitaof(0, 0)]);
    let mut rig = Rig::start(config(FsyncPolicy::Always));
    rig.send(1, "SET k v");
    rig.send(1, "WAITAOF 1 0 0");
    assert_eq!(frames(&mut rig, 1), [Frame::ok(), waitaof(1, 0)]);
}

/// Goal: WAITAOF counts a replica only for a FACK at or past the client's last write: an ACK
/// without FACK (a Redis 7.0 replica) never counts, one byte short does not; inside MULTI it
/// answers the counts of now without blocking.
#[test]
fn waitaof_counts_replica_facks() {
    let mut rig = rig(false);
    attach(&mut rig, REPLICA);
    rig.send(1, "SET k v");
    rig.send(1, "WAITAOF 0 1 0");
    assert_eq!(frames(&mut rig, 1), [Frame::ok()]);
    let (stream, _) = wire(&mut rig, REPLICA);
    assert!(stream.ends_with(GETACK), "{}", text(&stream));
    let set_end = (stream.len() - GETACK.len()) as u64;
    rig.send(REPLICA, &format!("REPLCONF ACK {set_end}"));
    assert!(frames(&mut rig, 1).is_empty(), "no FACK: a 7.0 replica");
    let short = set_end - 1;
    rig.send(REPLICA, &format!("REPLCONF ACK {set_end} FACK {short}"));
    assert!(frames(&mut rig, 1).is_empty(), "one byte short");
    rig.send(REPLICA, &format!("REPLCONF ACK {set_end} fack {set_end}"));
    assert_eq!(
        frames(&mut rig, 1),
        [waitaof(0, 1)],
        "appendfsync no: local 0"
    );
    rig.send(1, "SET k w");
    rig.send(1, "MULTI");
    rig.send(1, "WAITAOF 1 1 0");
    rig.send(1, "EXEC");
    let exec = Frame::Array(vec![waitaof(0, 0)]);
    let queued = Frame::Simple("QUEUED".into());
    assert_eq!(
        frames(&mut rig, 1),
        [Frame::ok(), Frame::ok(), queued, exec]
    );
    rig.send(1, "WAITAOF 0 1 100");
    rig.tick(150);
    assert_eq!(frames(&mut rig, 1), [waitaof(0, 0)], "timed out");
}
