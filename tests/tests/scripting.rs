//! Lua scripting over the real binary.
//!
//! Goal: EVAL, EVALSHA and SCRIPT LOAD work over the wire; a script's writes reach the AOF as
//! the writes themselves (MULTI/EXEC around more than one, never the EVAL), so they survive a
//! restart; and a handful of replies are the same bytes real Redis 7.0 sends.
//! Method: drive durakv, read its incr file, restart, read back; then send the same commands
//! to durakv and to a real `redis-server` on a free port and compare every reply (skipped with
//! a note when `redis-server` is not installed).

use bytes::Bytes;
use durakv_tests::files::{last_incr, records};
use durakv_tests::redis::{have_redis, Redis};
use durakv_tests::ServerProcess;
use model::resp::Frame;

const TWO_WRITES: &str = "redis.call('SET',KEYS[1],ARGV[1]); return redis.call('INCR',KEYS[2])";

fn bulk(s: &str) -> Frame {
    Frame::Bulk(Bytes::copy_from_slice(s.as_bytes()))
}

/// A script's two writes are logged as MULTI, SET, INCR, EXEC and survive a restart;
/// EVALSHA runs the cached script; the cache itself is not persisted (as in Redis).
#[test]
fn scripted_writes_are_logged_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = ServerProcess::start(dir.path(), &["--appendfsync", "always"]);
    let mut con = server.client();
    let reply = con
        .call_str(&["EVAL", TWO_WRITES, "2", "a", "n", "v1"])
        .unwrap();
    assert_eq!(reply, Frame::Integer(1));
    let sha = con.call_str(&["SCRIPT", "LOAD", TWO_WRITES]).unwrap();
    let Frame::Bulk(sha) = sha else {
        panic!("{sha:?}")
    };
    let sha = String::from_utf8(sha.to_vec()).unwrap();
    let reply = con
        .call_str(&["EVALSHA", &sha, "2", "b", "n", "v2"])
        .unwrap();
    assert_eq!(reply, Frame::Integer(2));
    let read = con.call_str(&["EVAL_RO", "return redis.call('GET', KEYS[1])", "1", "a"]);
    assert_eq!(read.unwrap(), bulk("v1"));

    let incr = std::fs::read(last_incr(dir.path())).unwrap();
    let names: Vec<String> = records(&incr)
        .iter()
        .map(|r| String::from_utf8_lossy(&r.argv[0]).to_uppercase())
        .collect();
    let expected = [
        "SELECT", "MULTI", "SET", "INCR", "EXEC", "MULTI", "SET", "INCR", "EXEC",
    ];
    assert_eq!(names, expected);

    server.kill9();
    server.restart().unwrap();
    let mut con = server.client();
    assert_eq!(
        con.call_str(&["MGET", "a", "b", "n"]).unwrap(),
        Frame::Array(vec![bulk("v1"), bulk("v2"), bulk("2"),])
    );
    let gone = con.call_str(&["EVALSHA", &sha, "0"]).unwrap();
    assert_eq!(
        gone,
        Frame::error("NOSCRIPT No matching script. Please use EVAL.")
    );
}

/// The same commands to durakv and to Redis 7.0 give the same replies.
#[test]
fn replies_match_real_redis() {
    if !have_redis() {
        return;
    }
    let redis_dir = tempfile::tempdir().unwrap();
    let redis = Redis::start(redis_dir.path(), &["--save", "", "--appendonly", "no"]);
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(dir.path(), &["--appendonly", "no", "--save", ""]);
    let mut ours = server.client();
    let mut theirs = redis.client();
    let commands: &[&[&str]] = &[
        &["SET", "s", "hello"],
        &["EVAL", TWO_WRITES, "2", "a", "n", "v"],
        &["EVAL", "return {1,2,{3,'x'},nil,5}", "0"],
        &["EVAL", "return {ok='fine'}", "0"],
        &["EVAL", "return 3.99", "0"],
        &["EVAL", "return redis.call('INCR', KEYS[1])", "1", "s"],
        &["EVAL", "return redis.pcall('INCR', KEYS[1])", "1", "s"],
        &["EVAL", "return redis.call('nosuch')", "0"],
        &["EVAL", "x = 1", "0"],
        &["EVAL", "return y", "0"],
        &["EVAL", "error('boom')", "0"],
        &["EVAL", "syntax error here", "0"],
        &["EVAL_RO", "return redis.call('SET','a','b')", "0"],
        &["EVALSHA", "ffffffffffffffffffffffffffffffffffffffff", "0"],
        &["SCRIPT", "LOAD", "return 1"],
        &[
            "SCRIPT",
            "EXISTS",
            "e0e1f9fabfc9d4800c877a703b823ac0578ff8db",
            "nope",
        ],
        &["SCRIPT", "KILL"],
        &["SCRIPT", "FLUSH"],
        &["FUNCTION", "LIST"],
        &["EVAL", "return 1", "-1"],
    ];
    for argv in commands {
        let a = ours.call_str(argv).unwrap();
        let b = theirs.call_str(argv).unwrap();
        assert_eq!(a, b, "{argv:?}");
    }
}
