//! `kill -9` at random moments of AOF rewrites under concurrent write load.
//!
//! Goal: a crash during BGREWRITEAOF (base being written, manifest being swapped, history
//! being deleted) never loses an acknowledged write, never leaves holes or phantoms, and never
//! leaves a directory the server cannot load; after a clean restart a rewrite still completes.
//!
//! Method: a filler of real (logged) keys makes each rewrite take a while. Then, per cycle,
//! 4 clients run `SET c{i}:{seq} {seq}`, `INCR n{i}`, ... one command at a time, recording
//! sent and acknowledged commands, while another client issues BGREWRITEAOF in a loop; the
//! server is killed after a random delay, restarted on the same directory (it must start),
//! and each client's keys are checked: every acknowledged command present, a prefix of what
//! it sent, nothing beyond. Six cycles under `always` and under `everysec`. Finally a clean
//! stop and restart, a BGREWRITEAOF that must complete with status ok, and a restart on its
//! result.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use durakv_tests::client::{info_field, integer};
use durakv_tests::load::{verify, write_load, Recovered, Sent};
use durakv_tests::{RespClient, ServerProcess};
use model::resp::Frame;

const CLIENTS: u64 = 4;
const CYCLES: u64 = 6;
/// Filler keys written before the cycles, so a rewrite has something to write.
const FILLER: u64 = 20_000;

/// A small xorshift generator; the seed is printed so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Issues BGREWRITEAOF in a loop; counts the ones the server accepted.
fn rewrite_load(port: u16, stop: &AtomicBool, started: &AtomicU64) {
    let Ok(mut con) = RespClient::connect(port) else {
        return;
    };
    while !stop.load(Ordering::Relaxed) {
        match con.call_str(&["BGREWRITEAOF"]) {
            Ok(Frame::Simple(_)) => {
                started.fetch_add(1, Ordering::Relaxed);
            }
            // "already in progress" and the like: try again shortly.
            Ok(Frame::Error(_)) => {}
            Ok(other) => panic!("BGREWRITEAOF: unexpected reply {other:?}"),
            Err(_) => return,
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Writes the filler with pipelined SETs (logged, unlike DEBUG POPULATE).
fn fill(con: &mut RespClient) {
    let value = "f".repeat(64);
    for batch in (0..FILLER).step_by(1000) {
        for i in batch..(batch + 1000).min(FILLER) {
            con.send(&[b"SET", format!("filler:{i}").as_bytes(), value.as_bytes()])
                .unwrap();
        }
        for _ in batch..(batch + 1000).min(FILLER) {
            assert!(matches!(con.read().unwrap(), Frame::Simple(_)));
        }
    }
}

fn check_dbsize(con: &mut RespClient, states: &[Recovered]) {
    let expected: u64 = FILLER
        + states
            .iter()
            .map(|s| s.sets + u64::from(s.incrs > 0))
            .sum::<u64>();
    assert_eq!(
        integer(&con.call_str(&["DBSIZE"]).unwrap()) as u64,
        expected,
        "no phantom or lost keys"
    );
}

fn rewrite_crash_cycles(policy: &str) {
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().unwrap();
    let mut server = ServerProcess::start(
        dir.path(),
        &["--appendonly", "yes", "--appendfsync", policy, "--save", ""],
    );
    fill(&mut server.client());
    let mut states = vec![Recovered::default(); CLIENTS as usize];
    let (mut acked_total, mut rewrites_total, mut killed_mid_rewrite) = (0, 0, 0);
    let started = Instant::now();
    for cycle in 0..CYCLES {
        let stop = Arc::new(AtomicBool::new(false));
        let rewrites = Arc::new(AtomicU64::new(0));
        let port = server.port();
        let writers: Vec<_> = (0..CLIENTS)
            .map(|client| {
                let (stop, from) = (stop.clone(), states[client as usize]);
                std::thread::spawn(move || write_load(port, client, from, &stop))
            })
            .collect();
        let rewriter = {
            let (stop, rewrites) = (stop.clone(), rewrites.clone());
            std::thread::spawn(move || rewrite_load(port, &stop, &rewrites))
        };
        let delay = 50 + rng.next() % 600;
        std::thread::sleep(Duration::from_millis(delay));
        // Whether a rewrite was running just before the kill (racy, only reported).
        let mut probe = server.client();
        if info_field(&mut probe, "aof_rewrite_in_progress") == "1" {
            killed_mid_rewrite += 1;
        }
        server.kill9();
        stop.store(true, Ordering::Relaxed);
        let records: Vec<Sent> = writers
            .into_iter()
            .map(|w| w.join().expect("writer thread"))
            .collect();
        rewriter.join().expect("rewriter thread");
        server.restart().unwrap_or_else(|e| {
            panic!(
                "{policy} cycle {cycle} (seed {seed}): directory did not load after kill -9 \
                 during rewrites: {}\n{}",
                e.status, e.stderr
            )
        });
        let mut con = server.client();
        for (client, record) in records.iter().enumerate() {
            states[client] = verify(&mut con, client as u64, record);
            acked_total += record.acked;
        }
        check_dbsize(&mut con, &states);
        rewrites_total += rewrites.load(Ordering::Relaxed);
    }
    // A clean stop and restart, then a rewrite that must complete, then a restart on it.
    assert!(server.stop().success(), "clean stop:\n{}", server.stderr());
    server.restart().expect("clean restart");
    let mut con = server.client();
    let before = info_field(&mut con, "aof_rewrites").parse::<u64>().unwrap();
    match con.call_str(&["BGREWRITEAOF"]).unwrap() {
        Frame::Simple(_) => {}
        other => panic!("BGREWRITEAOF after clean restart: {other:?}"),
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while info_field(&mut con, "aof_rewrite_in_progress") != "0"
        || info_field(&mut con, "aof_rewrites").parse::<u64>().unwrap() <= before
    {
        assert!(
            Instant::now() < deadline,
            "rewrite after clean restart did not finish"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(info_field(&mut con, "aof_last_bgrewrite_status"), "ok");
    server.kill9();
    server.restart().expect("restart on the rewritten AOF");
    check_dbsize(&mut server.client(), &states);
    let total: u64 = states.iter().map(|s| s.sets + s.incrs).sum();
    println!(
        "appendfsync {policy}: {CYCLES} kill -9 cycles during rewrites (seed {seed}), \
         {rewrites_total} rewrites started, {killed_mid_rewrite} kills with a rewrite in \
         progress, {acked_total} acknowledged writes checked, \
         {total} commands recovered, {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert!(acked_total > 0 && rewrites_total > 0);
}

#[test]
fn rewrite_crash_always() {
    rewrite_crash_cycles("always");
}

#[test]
fn rewrite_crash_everysec() {
    rewrite_crash_cycles("everysec");
}
