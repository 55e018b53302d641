//! Redis 7.0 functions over the real binary: persistence and interoperability.
//!
//! Goal: a library loaded with FUNCTION LOAD, and the writes its functions made, survive
//! `kill -9` (AOF replay of FUNCTION LOAD as sent), a restart from `dump.rdb` with the AOF
//! off (the FUNCTION2 opcode), and a RESP-format AOF base (FUNCTION LOAD first); a `dump.rdb`
//! holding a library moves between durakv and a real `redis-server` both ways; and FUNCTION
//! and FCALL replies are the bytes Redis 7.0 sends.
//! Method: drive durakv (and Redis when installed), restart, read back.

use std::time::{Duration, Instant};

use bytes::Bytes;
use durakv_tests::client::info_field;
use durakv_tests::redis::{have_redis, Redis};
use durakv_tests::{RespClient, ServerProcess};
use model::resp::Frame;

const LIB: &str = "#!lua name=mylib\n\
    redis.register_function('setit', function(KEYS, ARGV) return redis.call('SET', KEYS[1], ARGV[1]) end)\n\
    redis.register_function{function_name='getit', callback=function(KEYS) return redis.call('GET', KEYS[1]) end, flags={'no-writes'}, description='reads a key'}";

const WAIT: Duration = Duration::from_secs(30);

fn bulk(s: &str) -> Frame {
    Frame::Bulk(Bytes::copy_from_slice(s.as_bytes()))
}

fn load_and_write(con: &mut RespClient) {
    assert_eq!(
        con.call_str(&["FUNCTION", "LOAD", LIB]).unwrap(),
        bulk("mylib")
    );
    let set = con.call_str(&["FCALL", "setit", "1", "k", "v"]).unwrap();
    assert_eq!(set, Frame::Simple("OK".into()));
}

fn assert_back(con: &mut RespClient) {
    let got = con.call_str(&["FCALL_RO", "getit", "1", "k"]).unwrap();
    assert_eq!(got, bulk("v"));
    let set = con.call_str(&["FCALL", "setit", "1", "k2", "w"]).unwrap();
    assert_eq!(set, Frame::Simple("OK".into()));
}

/// Until `field` reads `value` in INFO.
fn wait_info(con: &mut RespClient, field: &str, value: &str) {
    let deadline = Instant::now() + WAIT;
    while info_field(con, field) != value {
        assert!(Instant::now() < deadline, "{field} never became {value}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_library_and_its_writes_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = ServerProcess::start(dir.path(), &["--appendfsync", "always"]);
    load_and_write(&mut server.client());
    server.kill9();
    server.restart().unwrap();
    assert_back(&mut server.client());
}

#[test]
fn a_library_comes_back_from_dump_rdb_with_the_aof_off() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = ServerProcess::start(dir.path(), &["--appendonly", "no"]);
    let mut con = server.client();
    load_and_write(&mut con);
    con.call_str(&["BGSAVE"]).unwrap();
    wait_info(&mut con, "rdb_saves", "1");
    server.kill9();
    server.restart().unwrap();
    assert_back(&mut server.client());
}

#[test]
fn a_library_comes_back_from_a_resp_aof_base() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["--appendfsync", "always", "--aof-use-rdb-preamble", "no"];
    let mut server = ServerProcess::start(dir.path(), &args);
    let mut con = server.client();
    load_and_write(&mut con);
    con.call_str(&["BGREWRITEAOF"]).unwrap();
    wait_info(&mut con, "aof_rewrites", "1");
    wait_info(&mut con, "aof_rewrite_in_progress", "0");
    server.kill9();
    server.restart().unwrap();
    assert_back(&mut server.client());
}

/// Redis writes a `dump.rdb` with a library; durakv loads it; durakv saves it again; Redis
/// loads that.
#[test]
fn dump_rdb_with_a_library_moves_between_redis_and_durakv() {
    if !have_redis() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut redis = Redis::start(dir.path(), &["--appendonly", "no", "--save", ""]);
    load_and_write(&mut redis.client());
    assert_eq!(
        redis.client().call_str(&["SAVE"]).unwrap(),
        Frame::Simple("OK".into())
    );
    redis.shutdown();
    drop(redis);
    let mut server = ServerProcess::start(dir.path(), &["--appendonly", "no", "--save", ""]);
    let mut con = server.client();
    assert_back(&mut con);
    assert_eq!(con.call_str(&["SAVE"]).unwrap(), Frame::Simple("OK".into()));
    server.stop();
    let redis = Redis::start(dir.path(), &["--appendonly", "no", "--save", ""]);
    let mut con = redis.client();
    assert_eq!(con.call_str(&["GET", "k2"]).unwrap(), bulk("w"));
    assert_back(&mut con);
}

/// The same commands to durakv and to Redis 7.0 give the same replies.
#[test]
fn function_replies_match_real_redis() {
    if !have_redis() {
        return;
    }
    let rdir = tempfile::tempdir().unwrap();
    let redis = Redis::start(rdir.path(), &["--appendonly", "no", "--save", ""]);
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(dir.path(), &["--appendonly", "no", "--save", ""]);
    let (mut ours, mut theirs) = (server.client(), redis.client());
    let commands: &[&[&str]] = &[
        &["FUNCTION", "LOAD", LIB],
        &["FUNCTION", "LOAD", LIB],
        &["FUNCTION", "LIST", "WITHCODE"],
        &["FUNCTION", "LIST", "LIBRARYNAME", "my*"],
        &["FUNCTION", "LIST", "LIBRARYNAME"],
        &["FUNCTION", "LIST", "BAD"],
        &["FUNCTION", "STATS"],
        &["FUNCTION", "DUMP"],
        &["FUNCTION", "RESTORE", "bad"],
        &["FUNCTION", "RESTORE", "bad", "NOPE"],
        &["FUNCTION", "RESTORE", "bad", "FLUSH", "x"],
        &["FUNCTION", "KILL"],
        &["FCALL", "setit", "1", "k", "v"],
        &["FCALL", "getit", "1", "k"],
        &["FCALL_RO", "setit", "1", "k", "v"],
        &["FCALL", "nope", "0"],
        &["FCALL", "setit", "x"],
        &["FCALL", "setit", "5", "k"],
        &["FUNCTION", "LOAD", "return 1"],
        &["FUNCTION", "LOAD", "#!lua name=x\nreturn 1"],
        &["FUNCTION", "LOAD", "#!lua name=x"],
        &["FUNCTION", "LOAD", "#!lua\nreturn 1"],
        &["FUNCTION", "LOAD", "#!lua name=x foo=bar\nreturn 1"],
        &["FUNCTION", "LOAD", "#!nolua name=x\nreturn 1"],
        &["FUNCTION", "LOAD", "#!lua name=a-b\nreturn 1"],
        &["FUNCTION", "LOAD", "X", "Y"],
        &["FUNCTION", "DELETE", "nope"],
        &["FUNCTION", "DELETE", "mylib"],
        &["FUNCTION", "FLUSH", "BAD"],
        &["FUNCTION", "FLUSH"],
        &["FUNCTION", "LIST"],
    ];
    for argv in commands {
        let a = unordered_lists(argv, ours.call_str(argv).unwrap());
        let b = unordered_lists(argv, theirs.call_str(argv).unwrap());
        assert_eq!(a, b, "{argv:?}");
    }
}

/// FUNCTION LIST in a canonical order: Redis lists libraries and their functions in the order
/// of its dicts, whose hash seed is random per process, so only the contents can be compared.
fn unordered_lists(argv: &[&str], reply: Frame) -> Frame {
    let sorted = |mut items: Vec<Frame>| {
        items.sort_by_key(|f| format!("{f:?}"));
        items
    };
    let is_list = argv.len() >= 2 && argv[0] == "FUNCTION" && argv[1] == "LIST";
    let Frame::Array(libraries) = reply else {
        return reply;
    };
    if !is_list {
        return Frame::Array(libraries);
    }
    let canonical = libraries.into_iter().map(|library| match library {
        Frame::Array(fields) => Frame::Array(
            fields
                .into_iter()
                .map(|field| match field {
                    Frame::Array(functions) => Frame::Array(sorted(functions)),
                    other => other,
                })
                .collect(),
        ),
        other => other,
    });
    Frame::Array(sorted(canonical.collect()))
}
