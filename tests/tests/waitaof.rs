//! WAITAOF (Redis 7.2) across processes: a durakv master and a durakv replica, each with its
//! own AOF.
//!
//! Goal: (1) after a write, `WAITAOF 1 1 0` returns `[1, 1]` once the master's fsync and the
//! replica's (reported with `REPLCONF ACK <o> FACK <aof-o>`) cover it; (2) a replica whose AOF
//! is off sends no FACK, so `WAITAOF 0 1 t` answers `[1, 0]` at its timeout while `WAIT 1`
//! still counts it; (3) a real Redis 7.0 replica (no FACK) never counts either; (4) WAITAOF
//! on the replica, and a local WAITAOF on a master without AOF, are refused with Redis's
//! texts. Deadlines are generous polls; the timeouts asked of WAITAOF are its own.

use std::time::{Duration, Instant};

use durakv_tests::redis::{have_redis, Redis};
use durakv_tests::repl_check::{call, field, wait_for, wait_in_sync};
use durakv_tests::{RespClient, ServerProcess};
use model::resp::Frame;

fn waitaof(con: &mut RespClient, local: &str, replicas: &str, timeout_ms: &str) -> Frame {
    con.call_str(&["WAITAOF", local, replicas, timeout_ms])
        .unwrap()
}

fn pair(local: i64, replicas: i64) -> Frame {
    Frame::Array(vec![Frame::Integer(local), Frame::Integer(replicas)])
}

#[test]
fn waitaof_with_a_durakv_replica() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let master = ServerProcess::start(a.path(), &["--save", "", "--appendfsync", "everysec"]);
    let mut m = master.client();
    let port = master.port().to_string();
    let args = ["--replicaof", "127.0.0.1", &port, "--save", ""];
    let replica = ServerProcess::start(b.path(), &args);
    let mut r = replica.client();
    call(&mut m, &["SET", "k", "v"]);
    wait_in_sync(&mut m, &mut r);

    // (1) Both AOFs fsync the write (everysec: within about a second each).
    for i in 0..5 {
        call(&mut m, &["INCR", "n"]);
        let started = Instant::now();
        assert_eq!(waitaof(&mut m, "1", "1", "0"), pair(1, 1), "round {i}");
        println!("WAITAOF 1 1 0 after a write: {:?}", started.elapsed());
    }

    // (4) Refusals.
    let on_replica = waitaof(&mut r, "0", "0", "0");
    assert!(
        matches!(&on_replica, Frame::Error(e) if e.starts_with("ERR WAITAOF cannot be used with replica instances")),
        "{on_replica:?}"
    );
    let range = waitaof(&mut m, "2", "0", "0");
    let want = "ERR value is out of range, value must between 0 and 1";
    assert_eq!(range, Frame::Error(want.into()));

    // (2) The replica's AOF off: no FACK, it no longer counts for WAITAOF but does for WAIT.
    call(&mut r, &["CONFIG", "SET", "appendonly", "no"]);
    std::thread::sleep(Duration::from_millis(1200)); // an ACK without FACK arrived
    call(&mut m, &["INCR", "n"]);
    let started = Instant::now();
    let reply = waitaof(&mut m, "0", "1", "500");
    assert!(
        started.elapsed() >= Duration::from_millis(450),
        "waited its timeout"
    );
    assert!(
        matches!(&reply, Frame::Array(v) if v.get(1) == Some(&Frame::Integer(0))),
        "{reply:?}"
    );
    assert_eq!(call(&mut m, &["WAIT", "1", "5000"]), Frame::Integer(1));
    // On again: once its rewrite finished, it counts again.
    call(&mut r, &["CONFIG", "SET", "appendonly", "yes"]);
    wait_for("the replica's AOF enabled", || {
        field(&mut r, "persistence", "aof_rewrite_in_progress") == "0"
            && field(&mut r, "persistence", "aof_enabled") == "1"
    });
    call(&mut m, &["INCR", "n"]);
    assert_eq!(waitaof(&mut m, "1", "1", "0"), pair(1, 1));

    // A local wait on a master without AOF is refused; the replica still counts.
    call(&mut m, &["CONFIG", "SET", "appendonly", "no"]);
    let text = "ERR WAITAOF cannot be used when numlocal is set but appendonly is disabled.";
    assert_eq!(waitaof(&mut m, "1", "0", "0"), Frame::Error(text.into()));
    call(&mut m, &["INCR", "n"]);
    assert_eq!(waitaof(&mut m, "0", "1", "0"), pair(0, 1));
}

/// (3) A real Redis 7.0 replica acknowledges (WAIT counts it) but sends no FACK, so WAITAOF
/// never counts it.
#[test]
fn a_redis_7_0_replica_never_counts_for_waitaof() {
    if !have_redis() {
        println!("skipped: redis-server not installed");
        return;
    }
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let master = ServerProcess::start(a.path(), &["--save", "", "--appendfsync", "always"]);
    let mut m = master.client();
    let port = master.port().to_string();
    let args = [
        "--replicaof",
        "127.0.0.1",
        &port,
        "--save",
        "",
        "--appendonly",
        "yes",
    ];
    let redis = Redis::start(b.path(), &args);
    let mut r = redis.client();
    call(&mut m, &["SET", "k", "v"]);
    wait_in_sync(&mut m, &mut r);
    call(&mut m, &["SET", "k", "w"]);
    assert_eq!(call(&mut m, &["WAIT", "1", "5000"]), Frame::Integer(1));
    assert_eq!(waitaof(&mut m, "1", "1", "300"), pair(1, 0));
}
