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

use durakv_tests::client::integer;
use durakv_tests::load::{verify, write_load, Recovered, Sent};
use durakv_tests::ServerProcess;

const CLIENTS: u64 = 8;
const CYCLES: u64 = 8;

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
