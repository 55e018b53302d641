//! The commands added for Redis's own test units (COPY, MOVE, SETBIT, eviction under
//! `maxmemory`), through the AOF, both ways with real Redis 7.0.
//!
//! Goal: what durakv logs for them is what Redis replays to the same data set, and the other
//! way round. Method: the same commands on one server with `appendonly yes`, stopped; the
//! other server started on its directory; `DEBUG DIGEST` (Redis 7.0's algorithm on both, so
//! equal data sets give equal digests) must be equal, and not the empty digest. Skipped with a
//! note (and passes) without `redis-server`.

use durakv_tests::redis::{have_redis, Redis};
use durakv_tests::{RespClient, ServerProcess};
use model::resp::Frame;

const ARGS: [&str; 8] = [
    "--appendonly",
    "yes",
    "--appendfsync",
    "always",
    "--save",
    "",
    "--enable-debug-command",
    "yes",
];

const EMPTY: &str = "0000000000000000000000000000000000000000";

fn call(con: &mut RespClient, line: &str) -> Frame {
    let argv: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
    let reply = con.call(&argv).unwrap();
    assert!(!matches!(reply, Frame::Error(_)), "{line}: {reply:?}");
    reply
}

fn fill(con: &mut RespClient) {
    for line in [
        "RPUSH l a b c",
        "HSET h f v g w",
        "SADD s 1 2 3",
        "ZADD z 1.5 a 2 b",
        "SET str hello",
        "PEXPIRE l 100000000",
        "COPY l l2",
        "COPY h h2 DB 3",
        "COPY z z2 DB 3 REPLACE",
        "COPY str h2 DB 3 REPLACE",
        "MOVE s 5",
        "SETBIT bits 7 1",
        "SETBIT bits 100 1",
        "SETBIT str 0 1",
        "SELECT 3",
        "MOVE z2 0",
        "SELECT 0",
    ] {
        call(con, line);
    }
    for i in 0..40 {
        call(con, &format!("SET evictable:{i} {i} EX 100000"));
    }
    // Evictions are logged as DEL: whichever keys go, the replay must agree. The limit is a
    // little under what the server uses, and only keys with a TTL may go.
    call(con, "CONFIG SET maxmemory-policy volatile-random");
    let limit = used_memory(con) - 1500;
    call(con, &format!("CONFIG SET maxmemory {limit}"));
    call(con, "GET str");
    call(con, "CONFIG SET maxmemory 0");
}

fn used_memory(con: &mut RespClient) -> u64 {
    let Frame::Bulk(text) = call(con, "INFO memory") else {
        panic!("INFO")
    };
    let text = String::from_utf8_lossy(&text).into_owned();
    let value = text.lines().find_map(|l| l.strip_prefix("used_memory:"));
    value.expect("used_memory").trim().parse().unwrap()
}

fn digest(con: &mut RespClient) -> String {
    match call(con, "DEBUG DIGEST") {
        Frame::Simple(s) => s,
        other => panic!("DEBUG DIGEST: {other:?}"),
    }
}

#[test]
fn durakv_aof_replays_in_redis() {
    if !have_redis() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut durakv = ServerProcess::start(dir.path(), &ARGS);
    let mut con = durakv.client();
    fill(&mut con);
    let written = digest(&mut con);
    assert_ne!(written, EMPTY);
    assert!(durakv.stop().success(), "{}", durakv.stderr());
    let redis = Redis::start(dir.path(), &ARGS);
    assert_eq!(digest(&mut redis.client()), written);
}

#[test]
fn redis_aof_replays_in_durakv() {
    if !have_redis() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut redis = Redis::start(dir.path(), &ARGS);
    let mut con = redis.client();
    fill(&mut con);
    let written = digest(&mut con);
    assert_ne!(written, EMPTY);
    redis.shutdown();
    let durakv = ServerProcess::start(dir.path(), &ARGS);
    assert_eq!(digest(&mut durakv.client()), written);
}
