//! Multi-part AOF interoperability with real Redis 7.0, both ways.
//!
//! Goal: a directory durakv wrote is one Redis accepts and loads to the same data set, and the
//! other way round, with the base written as RDB (`aof-use-rdb-preamble yes`) and as RESP
//! (`no`), after a BGREWRITEAOF so that base, manifest swap and a fresh incr file are all in
//! play.
//!
//! Method: one server writes strings in several databases (integers, long compressible values,
//! large incompressible values, binary and empty keys, TTLs set several ways), rewrites, writes
//! more (overwrites, DEL, APPEND, PERSIST, RENAME, SWAPDB, FLUSHDB, MULTI/EXEC), and its whole
//! keyspace (every key's value and PTTL, DBSIZE per db) is read back; it is stopped;
//! `redis-check-aof` must call the manifest valid; the other server starts on the same
//! directory and must serve the same keyspace (PTTL within the elapsed time). Skipped with a
//! note (and passes) when `redis-server` or `redis-check-aof` is not installed.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use durakv_tests::client::first_rewrite;
use durakv_tests::client::{bulk, integer};
use durakv_tests::files;
use durakv_tests::redis::{have_redis, Redis};
use durakv_tests::{RespClient, ServerProcess};
use model::resp::Frame;

/// Databases whose contents are compared (Redis's default `databases 16`).
const DATABASES: u32 = 16;
/// Longest we wait for a rewrite or for Redis to become ready.
const WAIT: Duration = Duration::from_secs(30);

/// One key's observable state: value and PTTL (-1 without a TTL).
type Keyspace = BTreeMap<(u32, Vec<u8>), (Vec<u8>, i64)>;

fn ok(con: &mut RespClient, argv: &[&[u8]]) {
    if let Frame::Error(e) = con.call(argv).unwrap() {
        panic!("{:?}: {e}", printable(argv));
    }
}

fn printable(argv: &[&[u8]]) -> Vec<String> {
    argv.iter()
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

fn select(con: &mut RespClient, db: u32) {
    ok(con, &[b"SELECT", db.to_string().as_bytes()]);
}

/// Pseudo-random (incompressible) bytes.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 56) as u8
        })
        .collect()
}

/// Writes before the rewrite: lands in the base.
fn phase_one(con: &mut RespClient) {
    select(con, 0);
    for i in 0..100i64 {
        ok(
            con,
            &[
                b"SET",
                format!("int:{i}").as_bytes(),
                (i * 1_000_003 - 50_000_000).to_string().as_bytes(),
            ],
        );
    }
    for v in [
        "0",
        "-1",
        "9223372036854775807",
        "-9223372036854775808",
        "12345678901",
        "007",
        "1e3",
        " 5",
    ] {
        ok(con, &[b"SET", format!("edge:{v}").as_bytes(), v.as_bytes()]);
    }
    ok(con, &[b"INCRBY", b"counter", b"41"]);
    ok(con, &[b"INCR", b"counter"]);
    ok(con, &[b"INCRBYFLOAT", b"float", b"3.25"]);
    for i in 0..20 {
        let long = format!("compressible-{i}-").repeat(2000);
        ok(
            con,
            &[b"SET", format!("long:{i}").as_bytes(), long.as_bytes()],
        );
    }
    ok(con, &[b"SET", b"big:noise", &noise(1 << 20, 7)]);
    select(con, 1);
    for i in 0..64u8 {
        let key = [0u8, 255, b'\r', b'\n', i, b' ', b'"', b'*', b'$'];
        let value: Vec<u8> = (0..=255u8).chain([i]).collect();
        ok(con, &[b"SET", &key, &value]);
    }
    ok(con, &[b"SET", b"", b"the empty key"]);
    ok(con, &[b"SET", b"empty-value", b""]);
    select(con, 2);
    for i in 0..30 {
        let key = format!("ttl:{i}");
        match i % 5 {
            0 => ok(con, &[b"SET", key.as_bytes(), b"v", b"EX", b"1000"]),
            1 => ok(con, &[b"SETEX", key.as_bytes(), b"2000", b"v"]),
            2 => ok(con, &[b"PSETEX", key.as_bytes(), b"3000000", b"v"]),
            3 => {
                ok(con, &[b"SET", key.as_bytes(), b"v"]);
                ok(con, &[b"PEXPIRE", key.as_bytes(), b"4000000"]);
            }
            _ => {
                ok(con, &[b"SET", key.as_bytes(), b"v"]);
                ok(con, &[b"EXPIRE", key.as_bytes(), b"5000"]);
            }
        }
    }
    select(con, 4);
    for i in 0..10 {
        ok(con, &[b"SET", format!("doomed:{i}").as_bytes(), b"x"]);
    }
    for db in [6u32, 7] {
        select(con, db);
        ok(con, &[b"SET", format!("in-db-{db}").as_bytes(), b"x"]);
    }
    select(con, 15);
    ok(con, &[b"SET", b"last-db", b"15"]);
}

/// Writes after the rewrite: land in the new incr file.
fn phase_two(con: &mut RespClient) {
    select(con, 0);
    for i in 0..10 {
        ok(con, &[b"DEL", format!("int:{i}").as_bytes()]);
    }
    ok(con, &[b"INCR", b"counter"]);
    ok(con, &[b"INCRBYFLOAT", b"float", b"0.5"]);
    ok(con, &[b"APPEND", b"long:0", b"-tail"]);
    ok(con, &[b"RENAME", b"long:1", b"renamed"]);
    ok(con, &[b"SET", b"after", b"rewrite", b"PX", b"600000"]);
    ok(con, &[b"MULTI"]);
    ok(con, &[b"SET", b"tx:a", b"1"]);
    ok(con, &[b"INCRBY", b"tx:b", b"2"]);
    match con.call_str(&["EXEC"]).unwrap() {
        Frame::Array(replies) => assert_eq!(replies.len(), 2),
        other => panic!("EXEC: {other:?}"),
    }
    select(con, 1);
    ok(con, &[b"SET", &[0u8, 1, 2], &[b'\r', b'\n', 0]]);
    select(con, 2);
    ok(con, &[b"PERSIST", b"ttl:0"]);
    ok(con, &[b"EXPIRE", b"ttl:1", b"7000"]);
    ok(con, &[b"SET", b"ttl:2", b"kept", b"KEEPTTL"]);
    ok(con, &[b"SET", b"ttl:3", b"dropped-ttl"]);
    select(con, 4);
    ok(con, &[b"FLUSHDB"]);
    select(con, 5);
    ok(con, &[b"SET", b"new-db", b"5"]);
    ok(con, &[b"SWAPDB", b"6", b"7"]);
}

/// Every key of every database with its value and PTTL; also checks DBSIZE per db.
fn keyspace(con: &mut RespClient) -> Keyspace {
    let mut all = Keyspace::new();
    for db in 0..DATABASES {
        select(con, db);
        let size = integer(&con.call_str(&["DBSIZE"]).unwrap());
        let Frame::Array(keys) = con.call_str(&["KEYS", "*"]).unwrap() else {
            panic!("KEYS reply")
        };
        assert_eq!(
            keys.len() as i64,
            size,
            "db {db}: DBSIZE and KEYS * disagree"
        );
        for key in keys {
            let key = bulk(&key).expect("key").to_vec();
            let value = bulk(&con.call(&[b"GET", &key]).unwrap()).expect("value");
            let pttl = integer(&con.call(&[b"PTTL", &key]).unwrap());
            all.insert((db, key), (value.to_vec(), pttl));
        }
    }
    all
}

fn dbsizes(space: &Keyspace) -> BTreeMap<u32, usize> {
    let mut sizes = BTreeMap::new();
    for (db, _) in space.keys() {
        *sizes.entry(*db).or_insert(0) += 1;
    }
    sizes
}

/// The loaded keyspace equals the written one; PTTLs within the time that passed.
fn assert_same(written: &Keyspace, loaded: &Keyspace, elapsed: Duration, what: &str) {
    assert_eq!(dbsizes(written), dbsizes(loaded), "{what}: DBSIZE per db");
    let slack = elapsed.as_millis() as i64 + 1000;
    for ((db, key), (value, pttl)) in written {
        let name = String::from_utf8_lossy(key);
        let Some((got, got_pttl)) = loaded.get(&(*db, key.clone())) else {
            panic!("{what}: db {db} key {name:?} missing")
        };
        assert!(got == value, "{what}: db {db} key {name:?}: value differs");
        if *pttl < 0 {
            assert_eq!(*got_pttl, *pttl, "{what}: db {db} key {name:?}: PTTL");
        } else {
            assert!(
                *got_pttl > 0 && (pttl - got_pttl).abs() <= slack,
                "{what}: db {db} key {name:?}: PTTL {pttl} written, {got_pttl} loaded"
            );
        }
    }
    println!(
        "{what}: {} keys in {} dbs identical",
        loaded.len(),
        dbsizes(loaded).len()
    );
}

/// BGREWRITEAOF, then waits for `aof_rewrite_in_progress:0` and `aof_rewrites:1`.
/// `redis-check-aof` on the manifest must accept the directory.
fn check_aof(dir: &Path) {
    let manifest = dir.join(files::AOF_DIR).join(files::MANIFEST);
    let output = Command::new("redis-check-aof")
        .arg(&manifest)
        .stdin(Stdio::null())
        .output()
        .expect("run redis-check-aof");
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && text.contains("All AOF files and manifest are valid"),
        "redis-check-aof refused {}:\n{text}",
        manifest.display()
    );
}

/// The manifest after one rewrite: one base of the right format, incr files, no history, and
/// nothing else in the AOF directory.
fn check_layout(dir: &Path, preamble: &str) {
    let manifest = files::manifest(dir);
    let base = manifest.base.as_ref().expect("a base after a rewrite");
    let ext = if preamble == "yes" {
        ".base.rdb"
    } else {
        ".base.aof"
    };
    assert!(
        base.name.ends_with(ext),
        "base {} for preamble {preamble}",
        base.name
    );
    assert!(!manifest.incrs.is_empty(), "an incr file after the rewrite");
    assert!(manifest.history.is_empty(), "history left in the manifest");
    let mut names: Vec<String> = std::fs::read_dir(dir.join(files::AOF_DIR))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut expected: Vec<String> = std::iter::once(files::MANIFEST.to_string())
        .chain(std::iter::once(base.name.clone()))
        .chain(manifest.incrs.iter().map(|i| i.name.clone()))
        .collect();
    expected.sort();
    assert_eq!(names, expected, "files in the AOF directory");
}

fn durakv_to_redis(preamble: &str) {
    if !have_redis() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "--appendonly",
        "yes",
        "--appendfsync",
        "everysec",
        "--save",
        "",
        "--aof-use-rdb-preamble",
        preamble,
    ];
    let mut durakv = ServerProcess::start(dir.path(), &args);
    let mut con = durakv.client();
    phase_one(&mut con);
    first_rewrite(&mut con, WAIT);
    phase_two(&mut con);
    let written = keyspace(&mut con);
    let stopped = Instant::now();
    if preamble == "yes" {
        assert!(durakv.stop().success(), "durakv exit:\n{}", durakv.stderr());
    } else {
        let _ = con.call_str(&["SHUTDOWN"]);
        assert!(
            durakv.wait_exit().success(),
            "durakv exit:\n{}",
            durakv.stderr()
        );
    }
    check_layout(dir.path(), preamble);
    check_checksum_lines(dir.path());
    check_aof(dir.path());
    let mut redis = Redis::start(dir.path(), &args);
    let mut con = redis.client();
    let loaded = keyspace(&mut con);
    let what = format!("durakv -> redis, preamble {preamble}");
    assert_same(&written, &loaded, stopped.elapsed(), &what);
    // Redis appends to our incr file, after our checksum lines, without lines of its own;
    // durakv must load those records (they are Redis's acknowledged writes), not cut them.
    select(&mut con, 0);
    ok(&mut con, &[b"SET", b"appended-by-redis", b"1"]);
    redis.shutdown();
    durakv.restart().expect("durakv loads what Redis appended");
    let mut con = durakv.client();
    let value = con.call_str(&["GET", "appended-by-redis"]).unwrap();
    assert_eq!(
        bulk(&value).as_deref(),
        Some(&b"1"[..]),
        "{what}, back in durakv"
    );
}

/// durakv's incr files end each batch with a checksum line (`#durakv crc64=… len=…`), which
/// Redis's loader and `redis-check-aof` skip as annotations.
fn check_checksum_lines(dir: &Path) {
    let aof_dir = dir.join("appendonlydir");
    let incr_with_lines = std::fs::read_dir(&aof_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".incr.aof"))
        .filter(|p| {
            let bytes = std::fs::read(p).unwrap();
            bytes.windows(14).any(|w| w == b"#durakv crc64=")
        })
        .count();
    assert!(incr_with_lines > 0, "no incr file carries checksum lines");
}

fn redis_to_durakv(preamble: &str) {
    if !have_redis() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "--appendonly",
        "yes",
        "--appendfsync",
        "everysec",
        "--save",
        "",
        "--aof-use-rdb-preamble",
        preamble,
    ];
    let mut redis = Redis::start(dir.path(), &args);
    let mut con = redis.client();
    phase_one(&mut con);
    first_rewrite(&mut con, WAIT);
    phase_two(&mut con);
    let written = keyspace(&mut con);
    let stopped = Instant::now();
    redis.shutdown();
    check_layout(dir.path(), preamble);
    let mut durakv = ServerProcess::try_start(dir.path(), &args).unwrap_or_else(|e| {
        panic!(
            "durakv refused Redis's directory: {}\n{}",
            e.status, e.stderr
        )
    });
    let mut con = durakv.client();
    let loaded = keyspace(&mut con);
    let what = format!("redis -> durakv, preamble {preamble}");
    assert_same(&written, &loaded, stopped.elapsed(), &what);
    // durakv takes over the directory: a rewrite of its own, a restart, the same data.
    first_rewrite(&mut con, WAIT);
    assert!(durakv.stop().success());
    check_aof(dir.path());
    durakv.restart().expect("restart after own rewrite");
    let again = keyspace(&mut durakv.client());
    assert_same(
        &written,
        &again,
        stopped.elapsed(),
        &format!("{what}, after durakv's rewrite"),
    );
}

#[test]
fn durakv_aof_loads_in_redis_rdb_preamble() {
    durakv_to_redis("yes");
}

#[test]
fn durakv_aof_loads_in_redis_resp_base() {
    durakv_to_redis("no");
}

#[test]
fn redis_aof_loads_in_durakv_rdb_preamble() {
    redis_to_durakv("yes");
}

#[test]
fn redis_aof_loads_in_durakv_resp_base() {
    redis_to_durakv("no");
}
