//! Streams in files, interoperating with real Redis 7.0 both ways.
//!
//! Goal: a `dump.rdb` or a multi-part AOF (RDB or RESP base after a rewrite, plus an incr file)
//! that one server wrote, holding streams with deleted and trimmed entries, several nodes,
//! consumer groups, pending entries, consumers without any, and an empty stream with a set
//! last ID and counters, loads in the other server to the same streams; `redis-check-rdb` and
//! `redis-check-aof` accept durakv's files; a DUMP of each restores in the other server.
//! Method: both servers build the streams by the same commands; each key is then observed
//! key by key as its `XINFO STREAM key FULL COUNT 0` (every entry, group, PEL entry and
//! consumer, flattened) and its `DEBUG DIGEST-VALUE`. `radix-tree-nodes` (Redis's radix tree
//! internals, which durakv only estimates) is left out. An AOF is compared as the writer
//! itself loads it after a restart against what the other server loads: a replay is not the
//! live state in Redis either (a group's `entries-read` moved by a propagated XCLAIM's LASTID
//! is unknown after it, a consumer's `seen-time` is the replay's, so that field is left out).
//! Skipped with a note (and passes) without `redis-server`.

use std::collections::BTreeMap;
use std::time::Duration;

use durakv_tests::client::first_rewrite;
use durakv_tests::files;
use durakv_tests::redis::check_tool;
use durakv_tests::redis::{have_redis, Redis};
use durakv_tests::{RespClient, ServerProcess};
use model::resp::Frame;

const WAIT: Duration = Duration::from_secs(30);

/// (db, key) → (flattened XINFO STREAM FULL, DEBUG DIGEST-VALUE).
type Snapshot = BTreeMap<(u32, Vec<u8>), (Vec<Vec<u8>>, Vec<u8>)>;

fn call(con: &mut RespClient, argv: &[&[u8]]) -> Frame {
    let reply = con.call(argv).unwrap();
    if let Frame::Error(e) = &reply {
        let words: Vec<_> = argv.iter().map(|a| String::from_utf8_lossy(a)).collect();
        panic!("{words:?}: {e}");
    }
    reply
}

fn run(con: &mut RespClient, line: &str) -> Frame {
    let words: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
    call(con, &words)
}

/// Streams by command, the same on either server.
fn fill(con: &mut RespClient) {
    run(con, "SELECT 0");
    for i in 1..=250 {
        run(con, &format!("XADD s1 {i}-1 f {i} g x{i}"));
    }
    for line in [
        "XADD s1 251-0 other 1",
        "XDEL s1 5-1 200-1",
        "XTRIM s1 MAXLEN 240",
        "XGROUP CREATE s1 g1 0",
        "XGROUP CREATE s1 g2 $",
        "XREADGROUP GROUP g1 alice COUNT 3 STREAMS s1 >",
        "XREADGROUP GROUP g1 bob COUNT 2 STREAMS s1 >",
        "XREADGROUP GROUP g1 bob NOACK COUNT 2 STREAMS s1 >",
        "XGROUP CREATECONSUMER s1 g1 carol",
        "XACK s1 g1 12-1",
        "XCLAIM s1 g1 carol 0 13-1",
        "XADD e MAXLEN 0 7-7 a b",
        "XGROUP CREATE e eg $",
        "XSETID e 999-9 ENTRIESADDED 77 MAXDELETEDID 500-0",
        "SELECT 1",
        "XADD d1 1-1 a b",
        "SELECT 0",
    ] {
        run(con, line);
    }
    let big = "y".repeat(3000);
    for i in 1..=5 {
        run(con, &format!("XADD big {i}-0 data {big} n {i}"));
    }
}

/// Writes after an AOF rewrite: they land in the incr file.
fn more(con: &mut RespClient) {
    for line in [
        "XADD s1 300-0 more 1",
        "XREADGROUP GROUP g2 dave COUNT 5 STREAMS s1 >",
        "XAUTOCLAIM s1 g1 erin 0 0 COUNT 2",
        "XTRIM s1 MINID 20",
        "XGROUP DELCONSUMER s1 g1 bob",
    ] {
        run(con, line);
    }
}

/// Every leaf of a reply, in order.
fn flatten(frame: Frame, out: &mut Vec<Vec<u8>>) {
    match frame {
        Frame::Array(items) => items.into_iter().for_each(|f| flatten(f, out)),
        Frame::Bulk(b) => out.push(b.to_vec()),
        Frame::Simple(s) => out.push(s.into_bytes()),
        Frame::Integer(n) => out.push(n.to_string().into_bytes()),
        Frame::Null | Frame::NullArray => out.push(b"(nil)".to_vec()),
        other => panic!("unexpected reply part {other:?}"),
    }
}

/// The fields left out of a comparison, and the value after each.
fn strip(leaves: Vec<Vec<u8>>, names: &[&[u8]]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut skip = false;
    for leaf in leaves {
        if skip {
            skip = false;
            continue;
        }
        skip = names.contains(&&leaf[..]);
        if !skip {
            out.push(leaf);
        }
    }
    out
}

fn snapshot(con: &mut RespClient, after_aof: bool) -> Snapshot {
    let mut names: Vec<&[u8]> = vec![b"radix-tree-nodes"];
    if after_aof {
        names.push(b"seen-time");
    }
    let mut snap = Snapshot::new();
    for db in 0..2u32 {
        call(con, &[b"SELECT", db.to_string().as_bytes()]);
        let mut keys = Vec::new();
        flatten(call(con, &[b"KEYS", b"*"]), &mut keys);
        for key in keys {
            let mut info = Vec::new();
            flatten(
                call(con, &[b"XINFO", b"STREAM", &key, b"FULL", b"COUNT", b"0"]),
                &mut info,
            );
            let mut digest = Vec::new();
            flatten(call(con, &[b"DEBUG", b"DIGEST-VALUE", &key]), &mut digest);
            snap.insert((db, key), (strip(info, &names), digest.concat()));
        }
    }
    call(con, &[b"SELECT", b"0"]);
    snap
}

fn assert_same(written: &Snapshot, loaded: &Snapshot, what: &str) {
    let text = |leaves: &[Vec<u8>]| -> Vec<String> {
        leaves
            .iter()
            .map(|l| String::from_utf8_lossy(l).into_owned())
            .collect()
    };
    assert_eq!(written.len(), 4, "{what}: the streams written");
    for (key, (info, digest)) in written {
        let name = String::from_utf8_lossy(&key.1);
        let Some((got_info, got_digest)) = loaded.get(key) else {
            panic!("{what}: db {} key {name} missing", key.0);
        };
        assert_eq!(
            text(got_info),
            text(info),
            "{what}: db {} key {name}",
            key.0
        );
        assert_eq!(got_digest, digest, "{what}: db {} key {name} digest", key.0);
    }
    assert_eq!(written.len(), loaded.len(), "{what}: no extra keys");
}

const RDB_ARGS: [&str; 6] = [
    "--appendonly",
    "no",
    "--save",
    "",
    "--enable-debug-command",
    "yes",
];

fn aof_args(preamble: &str) -> [&str; 10] {
    [
        "--appendonly",
        "yes",
        "--appendfsync",
        "everysec",
        "--save",
        "",
        "--aof-use-rdb-preamble",
        preamble,
        "--enable-debug-command",
        "yes",
    ]
}

#[test]
fn redis_rdb_with_streams_loads_in_durakv() {
    if !have_redis() {
        return eprintln!("redis-server not installed: skipped");
    }
    let (dir, our_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut redis = Redis::start(dir.path(), &RDB_ARGS);
    let mut con = redis.client();
    fill(&mut con);
    let written = snapshot(&mut con, false);
    call(&mut con, &[b"SAVE"]);
    redis.shutdown();
    std::fs::copy(dir.path().join("dump.rdb"), our_dir.path().join("dump.rdb")).unwrap();
    let durakv = ServerProcess::start(our_dir.path(), &RDB_ARGS);
    let loaded = snapshot(&mut durakv.client(), false);
    assert_same(&written, &loaded, "redis rdb -> durakv");
}

#[test]
fn durakv_rdb_with_streams_loads_in_redis() {
    if !have_redis() {
        return eprintln!("redis-server not installed: skipped");
    }
    let dir = tempfile::tempdir().unwrap();
    let mut durakv = ServerProcess::start(dir.path(), &RDB_ARGS);
    let mut con = durakv.client();
    fill(&mut con);
    let written = snapshot(&mut con, false);
    call(&mut con, &[b"SAVE"]);
    assert!(durakv.stop().success());
    check_tool(
        "redis-check-rdb",
        &dir.path().join("dump.rdb"),
        "RDB looks OK",
    );
    let redis = Redis::start(dir.path(), &RDB_ARGS);
    let loaded = snapshot(&mut redis.client(), false);
    assert_same(&written, &loaded, "durakv rdb -> redis");
}

fn durakv_aof_to_redis(preamble: &str) {
    if !have_redis() {
        return eprintln!("redis-server not installed: skipped");
    }
    let dir = tempfile::tempdir().unwrap();
    let args = aof_args(preamble);
    let mut durakv = ServerProcess::start(dir.path(), &args);
    let mut con = durakv.client();
    fill(&mut con);
    first_rewrite(&mut con, WAIT);
    more(&mut con);
    assert!(durakv.stop().success(), "{}", durakv.stderr());
    let mut durakv = ServerProcess::start(dir.path(), &args);
    let written = snapshot(&mut durakv.client(), true);
    assert!(durakv.stop().success(), "{}", durakv.stderr());
    let manifest = dir.path().join(files::AOF_DIR).join(files::MANIFEST);
    check_tool("redis-check-aof", &manifest, "valid");
    let redis = Redis::start(dir.path(), &args);
    let loaded = snapshot(&mut redis.client(), true);
    let what = format!("durakv aof -> redis, preamble {preamble}");
    assert_same(&written, &loaded, &what);
}

fn redis_aof_to_durakv(preamble: &str) {
    if !have_redis() {
        return eprintln!("redis-server not installed: skipped");
    }
    let dir = tempfile::tempdir().unwrap();
    let args = aof_args(preamble);
    let mut redis = Redis::start(dir.path(), &args);
    let mut con = redis.client();
    fill(&mut con);
    first_rewrite(&mut con, WAIT);
    more(&mut con);
    redis.shutdown();
    let mut redis = Redis::start(dir.path(), &args);
    let written = snapshot(&mut redis.client(), true);
    redis.shutdown();
    let durakv = ServerProcess::try_start(dir.path(), &args)
        .unwrap_or_else(|e| panic!("durakv refused Redis's AOF: {}\n{}", e.status, e.stderr));
    let loaded = snapshot(&mut durakv.client(), true);
    let what = format!("redis aof -> durakv, preamble {preamble}");
    assert_same(&written, &loaded, &what);
}

#[test]
fn durakv_aof_with_streams_loads_in_redis_rdb_preamble() {
    durakv_aof_to_redis("yes");
}

#[test]
fn durakv_aof_with_streams_loads_in_redis_resp_base() {
    durakv_aof_to_redis("no");
}

#[test]
fn redis_aof_with_streams_loads_in_durakv_rdb_preamble() {
    redis_aof_to_durakv("yes");
}

#[test]
fn redis_aof_with_streams_loads_in_durakv_resp_base() {
    redis_aof_to_durakv("no");
}

/// Every key of `from` DUMPed and RESTOREd into `to`, database by database.
fn carry(from: &mut RespClient, to: &mut RespClient, keys: &Snapshot) {
    for (db, key) in keys.keys() {
        let db = db.to_string();
        call(from, &[b"SELECT", db.as_bytes()]);
        call(to, &[b"SELECT", db.as_bytes()]);
        let Frame::Bulk(payload) = call(from, &[b"DUMP", key]) else {
            panic!("DUMP gave no payload");
        };
        call(to, &[b"RESTORE", key, b"0", &payload]);
    }
    call(from, &[b"SELECT", b"0"]);
    call(to, &[b"SELECT", b"0"]);
}

#[test]
fn stream_dumps_restore_in_the_other_server() {
    if !have_redis() {
        return eprintln!("redis-server not installed: skipped");
    }
    let (dir, our_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let redis = Redis::start(dir.path(), &RDB_ARGS);
    let durakv = ServerProcess::start(our_dir.path(), &RDB_ARGS);
    let (mut theirs, mut ours) = (redis.client(), durakv.client());
    fill(&mut theirs);
    let written = snapshot(&mut theirs, false);
    carry(&mut theirs, &mut ours, &written);
    assert_same(
        &written,
        &snapshot(&mut ours, false),
        "redis DUMP -> durakv RESTORE",
    );
    call(&mut theirs, &[b"FLUSHALL"]);
    carry(&mut ours, &mut theirs, &written);
    assert_same(
        &written,
        &snapshot(&mut theirs, false),
        "durakv DUMP -> redis RESTORE",
    );
}
