//! durakv as a replica: of a real `redis-server` 7.0 master, and of a durakv master.
//!
//! Goal: (1) durakv started with `--replicaof` reaches `master_link_status:up` through a full
//! sync taken while writes keep arriving, then holds the master's data set key by key (every
//! type, TTLs, several databases); (2) after `CLIENT KILL TYPE replica` on the master it
//! resumes with `+CONTINUE` (the master's `sync_partial_ok`), without a second full sync;
//! (3) its `INFO replication` field names and `ROLE` shape are those of a real Redis replica of
//! the same master; (4) `REPLICAOF NO ONE` promotes it: writable, data kept; (5) a replica
//! restarted from its RDB (saved at shutdown with `repl-id`/`repl-offset`) resumes by PSYNC.
//! Method: both sides are compared once the replica's `master_repl_offset` equals the
//! master's (the replica applied every byte), by KEYS over each database and a canonical dump
//! of each key; deadlines are generous polls, never wall-clock bounds.
//! Skipped with a note (and passes) without `redis-server`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use durakv_tests::redis::{have_redis, Redis};
use durakv_tests::repl_check::{
    assert_same, call, dataset, field, info, load, wait_for, wait_in_sync, write_step,
};
use durakv_tests::{RespClient, ServerProcess};
use model::resp::Frame;

/// A durakv replica of the master on `port`, attached while a write load runs; returns the
/// replica and the load steps written, once it is in sync and equal.
fn attach_under_load(
    master: &mut RespClient,
    port: u16,
    dir: &std::path::Path,
    args: &[&str],
) -> (ServerProcess, u64) {
    for i in 0..300 {
        write_step(master, i);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let writer = load(port, stop.clone(), 300);
    let port = port.to_string();
    let replicaof = ["--replicaof", "127.0.0.1", &port];
    let replica = ServerProcess::start(dir, &[&replicaof[..], args].concat());
    let mut con = replica.client();
    wait_for("master_link_status:up", || {
        field(&mut con, "replication", "master_link_status") == "up"
    });
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::SeqCst);
    let steps = writer.join().unwrap();
    wait_in_sync(master, &mut con);
    assert_same(master, &mut con);
    (replica, steps)
}

/// The link breaks: the replica comes back with PSYNC and is served from the backlog.
fn kill_link_and_resume(master: &mut RespClient, replica: &mut RespClient) {
    let killed = call(master, &["CLIENT", "KILL", "TYPE", "replica"]);
    assert_eq!(killed, Frame::Integer(1));
    for i in 0..200 {
        write_step(master, 10_000 + i);
    }
    wait_in_sync(master, replica);
    assert_eq!(field(master, "stats", "sync_partial_ok"), "1");
    assert_eq!(
        field(master, "stats", "sync_full"),
        "1",
        "no second full sync"
    );
    assert_same(master, replica);
}

/// REPLICAOF NO ONE: a master again, its data kept, writes accepted.
fn promote(master: &mut RespClient, replica: &mut RespClient) {
    let before = dataset(replica);
    let ro = replica.call_str(&["SET", "x", "1"]).unwrap();
    assert!(
        matches!(&ro, Frame::Error(e) if e.starts_with("READONLY")),
        "{ro:?}"
    );
    let old = field(replica, "replication", "master_replid");
    let offset: u64 = field(replica, "replication", "master_repl_offset")
        .parse()
        .unwrap();
    assert_eq!(
        call(replica, &["REPLICAOF", "NO", "ONE"]),
        Frame::Simple("OK".into())
    );
    assert_eq!(field(replica, "replication", "role"), "master");
    assert_eq!(field(replica, "replication", "master_replid2"), old);
    let second = field(replica, "replication", "second_repl_offset");
    assert_eq!(second, (offset + 1).to_string());
    assert_eq!(dataset(replica), before, "promotion keeps the data set");
    assert_eq!(dataset(master), before);
    assert_eq!(
        call(replica, &["SET", "x", "1"]),
        Frame::Simple("OK".into())
    );
}

fn replication_names(con: &mut RespClient) -> Vec<String> {
    info(con, "replication")
        .into_iter()
        .map(|(k, _)| k)
        .collect()
}

fn shape(frame: &Frame) -> String {
    match frame {
        Frame::Array(items) => {
            let inner: Vec<String> = items.iter().map(shape).collect();
            format!("[{}]", inner.join(","))
        }
        Frame::Bulk(b) => format!("bulk:{}", if b.as_ref() == b"slave" { "slave" } else { "" }),
        Frame::Integer(_) => "int".into(),
        other => format!("{other:?}"),
    }
}

#[test]
fn durakv_replica_of_a_redis_master() {
    if !have_redis() {
        eprintln!("redis-server not installed: skipped");
        return;
    }
    let (a, b, c) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let redis = Redis::start(a.path(), &["--save", "", "--repl-diskless-sync-delay", "1"]);
    let mut master = redis.client();
    let (replica, steps) = attach_under_load(&mut master, redis.port(), b.path(), &["--save", ""]);
    let mut con = replica.client();
    println!("durakv replica of redis: full sync under load ({steps} load steps) equal");
    assert_eq!(field(&mut master, "stats", "sync_full"), "1");
    kill_link_and_resume(&mut master, &mut con);

    // A real Redis replica of the same master prints the same INFO fields and ROLE shape.
    let port = redis.port().to_string();
    let twin = Redis::start(c.path(), &["--replicaof", "127.0.0.1", &port, "--save", ""]);
    let mut twin_con = twin.client();
    wait_in_sync(&mut master, &mut twin_con);
    wait_in_sync(&mut master, &mut con);
    assert_eq!(
        replication_names(&mut con),
        replication_names(&mut twin_con)
    );
    let role = call(&mut con, &["ROLE"]);
    assert_eq!(shape(&role), shape(&call(&mut twin_con, &["ROLE"])));
    assert_eq!(shape(&role), "[bulk:slave,bulk:,int,bulk:,int]");
    promote(&mut master, &mut con);
}

#[test]
fn durakv_replica_of_a_durakv_master() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let args = ["--save", "", "--repl-diskless-sync-delay", "1"];
    let durakv = ServerProcess::start(a.path(), &args);
    let mut master = durakv.client();
    // RDB persistence with a save point: the shutdown's final save records repl-id/offset.
    let replica_args = ["--appendonly", "no", "--save", "3600", "1"];
    let (mut replica, steps) =
        attach_under_load(&mut master, durakv.port(), b.path(), &replica_args);
    let mut con = replica.client();
    println!("durakv replica of durakv: full sync under load ({steps} load steps) equal");
    kill_link_and_resume(&mut master, &mut con);

    // Restarted from its RDB, the replica continues by PSYNC: no second full sync.
    replica.stop();
    for i in 0..100 {
        write_step(&mut master, 30_000 + i);
    }
    replica.restart().unwrap();
    let mut con = replica.client();
    wait_in_sync(&mut master, &mut con);
    assert_eq!(field(&mut master, "stats", "sync_partial_ok"), "2");
    assert_eq!(
        field(&mut master, "stats", "sync_full"),
        "1",
        "resumed by PSYNC"
    );
    assert_same(&mut master, &mut con);

    // A real Redis sub-replica of the durakv replica gets the master's stream through it, and
    // after the promotion continues with +CONTINUE (the old id is the promoted one's replid2).
    let c = tempfile::tempdir().unwrap();
    let sub = have_redis().then(|| {
        let port = replica.port().to_string();
        Redis::start(c.path(), &["--replicaof", "127.0.0.1", &port, "--save", ""])
    });
    if let Some(sub) = &sub {
        let mut sub_con = sub.client();
        write_step(&mut master, 40_000);
        wait_in_sync(&mut master, &mut sub_con);
        assert_same(&mut master, &mut sub_con);
    }
    promote(&mut master, &mut con);
    if let Some(sub) = &sub {
        let mut sub_con = sub.client();
        call(&mut con, &["SET", "after-promotion", "1"]);
        wait_in_sync(&mut con, &mut sub_con);
        assert_eq!(
            field(&mut con, "stats", "sync_partial_ok"),
            "1",
            "sub-replica continued"
        );
        assert_eq!(field(&mut con, "stats", "sync_full"), "1");
        assert_same(&mut con, &mut sub_con);
    }
}
