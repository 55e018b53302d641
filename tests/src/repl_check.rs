//! What the replication tests share: a bounded wait, INFO fields, a write load over every type
//! and several databases, and a key-by-key comparison of two data sets.
//!
//! Owns no server. Invariant: every wait is bounded by [`WAIT`] and panics with what it waited
//! for, so a stuck replica fails its test instead of hanging it.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use model::resp::Frame;

use crate::client::{bulk, integer};
use crate::RespClient;

/// Longest any wait lasts (a loaded 2-core machine syncs slowly).
pub const WAIT: Duration = Duration::from_secs(90);
/// Databases the write load uses and the comparison reads.
pub const DATABASES: u32 = 3;

pub fn call(con: &mut RespClient, words: &[&str]) -> Frame {
    let reply = con.call_str(words).unwrap();
    if let Frame::Error(e) = &reply {
        panic!("{words:?}: {e}");
    }
    reply
}

pub fn text(frame: &Frame) -> String {
    match frame {
        Frame::Bulk(b) | Frame::Verbatim { text: b, .. } => String::from_utf8_lossy(b).into(),
        Frame::Simple(s) => s.clone(),
        other => panic!("expected text, got {other:?}"),
    }
}

pub fn info(con: &mut RespClient, section: &str) -> Vec<(String, String)> {
    let body = text(&call(con, &["INFO", section]));
    body.lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

pub fn field(con: &mut RespClient, section: &str, name: &str) -> String {
    let fields = info(con, section);
    let found = fields.iter().find(|(k, _)| k == name);
    (found.unwrap_or_else(|| panic!("no {name} in {fields:?}")).1).clone()
}

pub fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Until the replica's link is up and it applied everything the master fed.
pub fn wait_in_sync(master: &mut RespClient, replica: &mut RespClient) {
    wait_for("master_link_status:up", || {
        field(replica, "replication", "master_link_status") == "up"
    });
    wait_for("equal offsets", || {
        let want = field(master, "replication", "master_repl_offset");
        field(replica, "replication", "master_repl_offset") == want
    });
}

pub fn strings(frame: &Frame) -> Vec<String> {
    let Frame::Array(items) = frame else {
        panic!("expected an array, got {frame:?}")
    };
    items.iter().map(text).collect()
}

pub type Dataset = BTreeMap<(u32, String), (String, Vec<String>, bool)>;

/// Every key of every compared database: (db, key) → (type, canonical content, has TTL).
pub fn dataset(con: &mut RespClient) -> Dataset {
    let mut out = BTreeMap::new();
    for db in 0..DATABASES {
        call(con, &["SELECT", &db.to_string()]);
        for key in strings(&call(con, &["KEYS", "*"])) {
            let kind = text(&call(con, &["TYPE", &key]));
            let mut content = match kind.as_str() {
                "string" => vec![bulk(&call(con, &["GET", &key]))
                    .map_or(String::new(), |b| String::from_utf8_lossy(&b).into_owned())],
                "list" => strings(&call(con, &["LRANGE", &key, "0", "-1"])),
                "hash" => strings(&call(con, &["HGETALL", &key])),
                "set" => strings(&call(con, &["SMEMBERS", &key])),
                "zset" => strings(&call(con, &["ZRANGE", &key, "0", "-1", "WITHSCORES"])),
                other => panic!("unexpected type {other}"),
            };
            if kind == "hash" {
                let mut pairs: Vec<String> = content.chunks(2).map(|p| p.join("=")).collect();
                pairs.sort();
                content = pairs;
            } else if kind == "set" {
                content.sort();
            }
            let ttl = integer(&call(con, &["PTTL", &key])) > 0;
            out.insert((db, key), (kind, content, ttl));
        }
    }
    call(con, &["SELECT", "0"]);
    out
}

/// One step of the write load: every type, several databases, expiries, and the commands
/// whose propagation is rewritten (INCRBYFLOAT, SPOP, EXPIRE, LPOP, ZPOPMIN).
pub fn write_step(con: &mut RespClient, i: u64) {
    let db = (i % u64::from(DATABASES)).to_string();
    let (k, v) = (format!("k{}", i % 50), format!("v{i}"));
    let script: Vec<Vec<String>> = [
        vec!["SELECT", &db],
        vec!["SET", &format!("s:{k}"), &v],
        vec!["INCRBYFLOAT", "counter", "1.5"],
        vec!["RPUSH", &format!("l:{k}"), &v, "x"],
        vec!["LPOP", &format!("l:{k}")],
        vec!["HSET", &format!("h:{k}"), &v, &i.to_string()],
        vec!["SADD", &format!("set:{k}"), &v, "a", "b"],
        vec!["SPOP", &format!("set:{k}")],
        vec!["ZADD", &format!("z:{k}"), &i.to_string(), &v],
        vec!["ZPOPMIN", &format!("z:{}", (i + 7) % 50)],
        vec!["EXPIRE", &format!("s:k{}", (i + 3) % 50), "1000"],
        vec!["SET", &format!("ttl:{k}"), &v, "EX", "500"],
    ]
    .iter()
    .map(|w| w.iter().map(|s| s.to_string()).collect())
    .collect();
    for words in &script {
        let argv: Vec<&[u8]> = words.iter().map(|w| w.as_bytes()).collect();
        con.send(&argv).unwrap();
    }
    for _ in &script {
        let reply = con.read().unwrap();
        assert!(!matches!(reply, Frame::Error(_)), "{reply:?}");
    }
}

/// Writes until `stop`; returns the steps written.
pub fn load(port: u16, stop: Arc<AtomicBool>, from: u64) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let mut con = RespClient::connect(port).unwrap();
        let mut i = from;
        while !stop.load(Ordering::SeqCst) {
            write_step(&mut con, i);
            i += 1;
        }
        i - from
    })
}

pub fn assert_same(master: &mut RespClient, replica: &mut RespClient) -> usize {
    let (mine, theirs) = (dataset(master), dataset(replica));
    assert!(!mine.is_empty());
    if mine != theirs {
        let diff: Vec<_> = (mine.iter())
            .filter(|(k, v)| theirs.get(*k) != Some(*v))
            .take(5)
            .collect();
        panic!(
            "replica differs ({} vs {} keys): {diff:?}",
            mine.len(),
            theirs.len()
        );
    }
    mine.len()
}
