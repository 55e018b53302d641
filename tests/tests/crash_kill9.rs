//! Acknowledged writes survive `kill -9` under load, under every fsync policy.
//!
//! Goal: the contract's process-crash column. After a SIGKILL the recovered data set must be
//! (1) a superset of every acknowledged write (under `always` by the fsync; under `everysec`
//! and `no` because the page cache survives the death of a process), (2) free of writes never
//! sent, and (3) per client, a prefix of what that client sent, in order: no holes.
//!
//! Method: 8 clients on their own connections each run the sequence `SET c{i}:{seq} {seq}`,
//! `INCR n:{i}`, `SET c{i}:{seq+1} ...`, ... one command at a time, recording how many commands
//! were sent and how many acknowledged. The server is killed while they run, restarted on the
//! same directory, and the state of each client's keys is checked against its record; the
//! next cycle continues from the recovered state. Several cycles per policy, bounded in time.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use durakv_tests::client::{bulk, integer};
use durakv_tests::{RespClient, ServerProcess};
use model::resp::Frame;

const CLIENTS: u64 = 8;
const CYCLES: u64 = 8;
/// Keys read per MGET while verifying.
const MGET_CHUNK: u64 = 500;

/// One client's recovered state: SETs `0..sets` present, counter at `incrs`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Recovered {
    sets: u64,
    incrs: u64,
}

/// What one client did in one cycle, starting from `from`.
#[derive(Clone, Copy, Debug)]
struct Sent {
    from: Recovered,
    /// Commands written to the socket, in sequence order.
    sent: u64,
    /// Commands whose reply said they were applied.
    acked: u64,
}

/// Runs one client's sequence until the connection breaks or `stop` is set.
fn write_load(port: u16, client: u64, from: Recovered, stop: &AtomicBool) -> Sent {
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
fn verify(con: &mut RespClient, client: u64, record: &Sent) -> Recovered {
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

/// Runs the kill -9 cycles under one policy; returns (cycles, acknowledged writes checked).
fn crash_cycles(policy: &str) -> (u64, u64) {
    let dir = tempfile::tempdir().unwrap();
    let mut server = ServerProcess::start(
        dir.path(),
        &["--appendonly", "yes", "--appendfsync", policy, "--save", ""],
    );
    let mut states = vec![Recovered::default(); CLIENTS as usize];
    let mut acked_total = 0;
    let started = Instant::now();
    for cycle in 0..CYCLES {
        let stop = Arc::new(AtomicBool::new(false));
        let port = server.port();
        let writers: Vec<_> = (0..CLIENTS)
            .map(|client| {
                let (stop, from) = (stop.clone(), states[client as usize]);
                std::thread::spawn(move || write_load(port, client, from, &stop))
            })
            .collect();
        // Vary the moment of the crash between cycles.
        std::thread::sleep(Duration::from_millis(100 + 137 * (cycle % 5)));
        server.kill9();
        stop.store(true, Ordering::Relaxed);
        let records: Vec<Sent> = writers
            .into_iter()
            .map(|w| w.join().expect("writer thread"))
            .collect();
        server.restart().unwrap_or_else(|e| {
            panic!("restart after kill -9 refused: {}\n{}", e.status, e.stderr)
        });
        let mut con = server.client();
        for (client, record) in records.iter().enumerate() {
            states[client] = verify(&mut con, client as u64, record);
            acked_total += record.acked;
        }
        let expected_keys: u64 = states.iter().map(|s| s.sets + u64::from(s.incrs > 0)).sum();
        assert_eq!(
            integer(&con.call_str(&["DBSIZE"]).unwrap()) as u64,
            expected_keys,
            "no phantom keys"
        );
    }
    let total: u64 = states.iter().map(|s| s.sets + s.incrs).sum();
    println!(
        "appendfsync {policy}: {CYCLES} kill -9 cycles, {acked_total} acknowledged writes checked, \
         {total} commands recovered, {:.1} s",
        started.elapsed().as_secs_f64()
    );
    (CYCLES, acked_total)
}

#[test]
fn crash_kill9_always() {
    let (cycles, acked) = crash_cycles("always");
    assert!(
        cycles > 0 && acked > 0,
        "the load must have been acknowledged at least once"
    );
}

#[test]
fn crash_kill9_everysec() {
    let (cycles, acked) = crash_cycles("everysec");
    assert!(cycles > 0 && acked > 0);
}

#[test]
fn crash_kill9_no() {
    let (cycles, acked) = crash_cycles("no");
    assert!(cycles > 0 && acked > 0);
}
