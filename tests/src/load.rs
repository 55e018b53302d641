//! The write load shared by the kill -9 tests: each client writes `SET c{client}:{seq} {seq}`
//! and `INCR n{client}` alternately, remembering what it sent and what was acknowledged; after a
//! restart, [`verify`] reads the client's keys back and checks the contract: every acknowledged
//! write is there, nothing never sent is, and what is there is a prefix of what was sent.

use std::sync::atomic::{AtomicBool, Ordering};

use model::resp::Frame;

use crate::client::bulk;
use crate::RespClient;

/// Keys read per MGET while verifying.
const MGET_CHUNK: u64 = 500;

/// One client's recovered state: SETs `0..sets` present, counter at `incrs`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Recovered {
    pub sets: u64,
    pub incrs: u64,
}

/// What one client did in one cycle, starting from `from`.
#[derive(Clone, Copy, Debug)]
pub struct Sent {
    pub from: Recovered,
    /// Commands written to the socket, in sequence order.
    pub sent: u64,
    /// Commands whose reply said they were applied.
    pub acked: u64,
}

/// Runs one client's sequence until the connection breaks or `stop` is set.
pub fn write_load(port: u16, client: u64, from: Recovered, stop: &AtomicBool) -> Sent {
    let mut record = Sent {
        from,
        sent: 0,
        acked: 0,
    };
    let Ok(mut con) = RespClient::connect(port) else {
        return record;
    };
    while !stop.load(Ordering::Relaxed) {
        let op = record.sent;
        let (seq, incrs_before) = (from.sets + op / 2, from.incrs + op / 2);
        let expect_set = op.is_multiple_of(2);
        let sent = if expect_set {
            con.send(&[
                b"SET",
                format!("c{client}:{seq}").as_bytes(),
                seq.to_string().as_bytes(),
            ])
        } else {
            con.send(&[b"INCR", format!("n{client}").as_bytes()])
        };
        if sent.is_err() {
            break;
        }
        record.sent += 1;
        match con.read() {
            Ok(Frame::Simple(ok)) if expect_set && ok == "OK" => record.acked += 1,
            Ok(Frame::Integer(n)) if !expect_set => {
                assert_eq!(n as u64, incrs_before + 1, "client {client}: INCR reply");
                record.acked += 1;
            }
            Ok(other) => panic!("client {client}: unexpected reply {other:?}"),
            Err(_) => break,
        }
    }
    record
}

/// Reads one client's state and checks it against what it sent.
pub fn verify(con: &mut RespClient, client: u64, record: &Sent) -> Recovered {
    let incrs = match bulk(&con.call_str(&["GET", &format!("n{client}")]).unwrap()) {
        Some(bytes) => std::str::from_utf8(&bytes).unwrap().parse::<u64>().unwrap(),
        None => 0,
    };
    // Every key the client could have written, and a few beyond: none past the prefix may exist.
    let limit = record.from.sets + record.sent / 2 + 3;
    let mut sets = 0;
    let mut start = 0;
    while start < limit {
        let end = (start + MGET_CHUNK).min(limit);
        let keys: Vec<String> = (start..end).map(|seq| format!("c{client}:{seq}")).collect();
        let mut argv: Vec<&[u8]> = vec![b"MGET"];
        argv.extend(keys.iter().map(|k| k.as_bytes()));
        let Frame::Array(values) = con.call(&argv).unwrap() else {
            panic!("MGET reply")
        };
        for (seq, value) in (start..end).zip(values) {
            if let Some(v) = bulk(&value) {
                assert_eq!(
                    sets, seq,
                    "client {client}: c{client}:{seq} present after a hole at {sets}"
                );
                assert_eq!(
                    v.as_ref(),
                    seq.to_string().as_bytes(),
                    "client {client}: value of seq {seq}"
                );
                sets += 1;
            }
        }
        start = end;
    }
    let recovered = Recovered { sets, incrs };
    check_prefix(client, record, recovered);
    recovered
}

/// The recovered state must be the start state plus a prefix of the sent sequence that covers
/// every acknowledged command.
fn check_prefix(client: u64, record: &Sent, now: Recovered) {
    let from = record.from;
    assert!(
        now.sets >= from.sets && now.incrs >= from.incrs,
        "client {client}: lost earlier writes: {from:?} -> {now:?}"
    );
    let (new_sets, new_incrs) = (now.sets - from.sets, now.incrs - from.incrs);
    // The sequence is SET, INCR, SET, INCR, ...: a prefix ends after a SET or after an INCR.
    let is_prefix = new_incrs == new_sets || new_incrs + 1 == new_sets;
    assert!(
        is_prefix,
        "client {client}: {new_sets} new SETs and {new_incrs} INCRs is not a prefix"
    );
    let applied = new_sets + new_incrs;
    assert!(
        applied >= record.acked,
        "client {client}: {} acknowledged, only {applied} recovered",
        record.acked
    );
    assert!(
        applied <= record.sent,
        "client {client}: {applied} recovered but only {} sent",
        record.sent
    );
}
