//! Failover with the real thing: three Redis Sentinels (Debian's `redis-sentinel` 7.0) watch a
//! durakv master with two replicas, a durakv one and a real Redis one.
//!
//! Goal: (1) the Sentinels find each other through durakv (their hello messages travel by
//! durakv's PUBLISH/SUBSCRIBE) and find both replicas in durakv's `INFO replication`; (2)
//! after a `kill -9` of the durakv master under write load they agree it is down and promote
//! a replica; a client that asks the Sentinels for the master (`SENTINEL
//! get-master-addr-by-name`) finds the new one and goes on writing; (3) the old durakv master,
//! restarted on its port, is turned into a replica of the new master by the Sentinels
//! (`SLAVEOF` and `CONFIG REWRITE` inside MULTI) and catches up; (4) no write acknowledged
//! with `WAIT 1` ≥ 1, before or after the kill, is missing on the new master or on the
//! restarted old one.
//! Method: the writer sends `SET w:{seq} {seq}` and, every few writes, `WAIT 1 2000`; a WAIT
//! that answers ≥ 1 confirms every write before it. On any error it asks the Sentinels again
//! and re-sends the same write. Skipped with a note (and passes) without `redis-sentinel` or
//! `redis-server`.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use durakv_tests::client::{bulk, integer};
use durakv_tests::redis::{have_redis, have_tool, Redis};
use durakv_tests::repl_check::wait_for;
use durakv_tests::server::free_port;
use durakv_tests::{RespClient, ServerProcess};
use model::resp::Frame;

const SENTINELS: usize = 3;
/// Writes between two `WAIT 1` confirmations.
const BATCH: u64 = 10;

fn have_sentinel() -> bool {
    have_tool("redis-sentinel", "redis-sentinel") && have_redis()
}

/// A running `redis-sentinel`, killed when dropped.
struct Sentinel {
    child: Child,
    port: u16,
}

impl Sentinel {
    fn start(dir: &Path, master_port: u16) -> Sentinel {
        let port = free_port();
        let conf = dir.join("sentinel.conf");
        let text = format!(
            "port {port}\nbind 127.0.0.1\ndir {}\n\
             sentinel monitor mymaster 127.0.0.1 {master_port} 2\n\
             sentinel down-after-milliseconds mymaster 1000\n\
             sentinel failover-timeout mymaster 10000\n",
            dir.display()
        );
        std::fs::write(&conf, text).unwrap();
        let child = Command::new("redis-sentinel")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(dir.join("sentinel.log")).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-sentinel");
        let sentinel = Sentinel { child, port };
        wait_for("a sentinel to listen", || RespClient::connect(port).is_ok());
        sentinel
    }

    /// `SENTINEL master mymaster` as (field, value) pairs.
    fn master_fields(&self) -> Vec<(String, String)> {
        let Ok(mut con) = RespClient::connect(self.port) else {
            return Vec::new();
        };
        match con.call_str(&["SENTINEL", "master", "mymaster"]) {
            Ok(Frame::Array(items)) => items
                .chunks(2)
                .filter_map(|kv| Some((text(&kv[0])?, text(&kv[1])?)))
                .collect(),
            _ => Vec::new(),
        }
    }

    fn field(&self, name: &str) -> Option<String> {
        let fields = self.master_fields();
        fields.into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    fn master_port(&self) -> Option<u16> {
        let mut con = RespClient::connect(self.port).ok()?;
        match con.call_str(&["SENTINEL", "get-master-addr-by-name", "mymaster"]) {
            Ok(Frame::Array(addr)) if addr.len() == 2 => text(&addr[1])?.parse().ok(),
            _ => None,
        }
    }
}

impl Drop for Sentinel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn text(frame: &Frame) -> Option<String> {
    bulk(frame).map(|b| String::from_utf8_lossy(&b).into_owned())
}

fn info_field(port: u16, name: &str) -> Option<String> {
    let mut con = RespClient::connect(port).ok()?;
    let body = text(&con.call_str(&["INFO", "replication"]).ok()?)?;
    let prefix = format!("{name}:");
    let line = body.lines().find(|l| l.starts_with(&prefix))?;
    Some(line[prefix.len()..].trim().to_string())
}

/// The writer: what it confirmed with WAIT, shared with the test.
struct Writer {
    sentinel_ports: Vec<u16>,
    stop: AtomicBool,
    /// Writes `0..confirmed` were acknowledged by `WAIT 1` ≥ 1.
    confirmed: AtomicU64,
}

impl Writer {
    fn master(&self) -> Option<RespClient> {
        let port = self.sentinel_ports.iter().find_map(|&p| {
            let mut con = RespClient::connect(p).ok()?;
            match con.call_str(&["SENTINEL", "get-master-addr-by-name", "mymaster"]) {
                Ok(Frame::Array(addr)) if addr.len() == 2 => text(&addr[1])?.parse().ok(),
                _ => None,
            }
        })?;
        RespClient::connect(port).ok()
    }

    /// Writes until stopped; after any error it rediscovers the master and re-sends.
    fn run(&self) {
        let mut seq = 0u64;
        let mut con: Option<RespClient> = None;
        while !self.stop.load(Ordering::Relaxed) {
            let Some(c) = con.as_mut() else {
                con = self.master();
                std::thread::sleep(Duration::from_millis(50));
                continue;
            };
            let key = format!("w:{seq}");
            match c.call_str(&["SET", &key, &seq.to_string()]) {
                Ok(Frame::Simple(ok)) if ok == "OK" => seq += 1,
                _ => {
                    con = None;
                    continue;
                }
            }
            if seq.is_multiple_of(BATCH) {
                match c.call_str(&["WAIT", "1", "2000"]) {
                    Ok(Frame::Integer(n)) if n >= 1 => self.confirmed.store(seq, Ordering::SeqCst),
                    Ok(Frame::Integer(_)) => {}
                    _ => con = None,
                }
            }
        }
    }
}

/// Every confirmed write is on the server at `port`.
fn check_confirmed(port: u16, confirmed: u64, who: &str) {
    let mut con = RespClient::connect(port).unwrap();
    for seq in 0..confirmed {
        let value = con.call_str(&["GET", &format!("w:{seq}")]).unwrap();
        assert_eq!(
            bulk(&value).as_deref(),
            Some(seq.to_string().as_bytes()),
            "{who}: confirmed write w:{seq} missing"
        );
    }
}

#[test]
fn sentinels_fail_over_a_durakv_master_without_losing_confirmed_writes() {
    if !have_sentinel() {
        return;
    }
    let dirs: Vec<_> = (0..3 + SENTINELS)
        .map(|_| tempfile::tempdir().unwrap())
        .collect();
    let persistence = [
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--save",
        "",
    ];
    let mut master = ServerProcess::start(dirs[0].path(), &persistence);
    let old_port = master.port().to_string();
    let mut replica_args = persistence.to_vec();
    replica_args.extend(["--replicaof", "127.0.0.1", &old_port]);
    let durakv_replica = ServerProcess::start(dirs[1].path(), &replica_args);
    let redis_replica = Redis::start(dirs[2].path(), &["--replicaof", "127.0.0.1", &old_port]);
    for port in [durakv_replica.port(), redis_replica.port()] {
        wait_for("replicas online", || {
            info_field(port, "master_link_status").as_deref() == Some("up")
        });
    }
    let sentinels: Vec<Sentinel> = dirs[3..]
        .iter()
        .map(|d| Sentinel::start(d.path(), master.port()))
        .collect();
    wait_for("sentinels to see each other and both replicas", || {
        sentinels.iter().all(|s| {
            s.field("num-other-sentinels").as_deref() == Some("2")
                && s.field("num-slaves").as_deref() == Some("2")
        })
    });
    let writer = Arc::new(Writer {
        sentinel_ports: sentinels.iter().map(|s| s.port).collect(),
        stop: AtomicBool::new(false),
        confirmed: AtomicU64::new(0),
    });
    let running = {
        let writer = writer.clone();
        std::thread::spawn(move || writer.run())
    };
    wait_for("confirmed writes before the kill", || {
        writer.confirmed.load(Ordering::SeqCst) >= 5 * BATCH
    });
    let confirmed_before_kill = writer.confirmed.load(Ordering::SeqCst);
    master.kill9();
    wait_for("the sentinels to promote a replica", || {
        sentinels
            .iter()
            .all(|s| s.master_port().is_some_and(|p| p != master.port()))
    });
    let new_port = sentinels[0].master_port().unwrap();
    println!(
        "promoted 127.0.0.1:{new_port}; {confirmed_before_kill} writes confirmed before the kill"
    );
    wait_for("confirmed writes on the new master", || {
        writer.confirmed.load(Ordering::SeqCst) >= confirmed_before_kill + 5 * BATCH
    });
    master
        .restart_same_port()
        .unwrap_or_else(|e| panic!("old master restart refused: {}\n{}", e.status, e.stderr));
    wait_for("the old master to become a replica of the new one", || {
        info_field(master.port(), "master_port") == Some(new_port.to_string())
            && info_field(master.port(), "master_link_status").as_deref() == Some("up")
    });
    writer.stop.store(true, Ordering::Relaxed);
    running.join().expect("writer thread");
    let confirmed = writer.confirmed.load(Ordering::SeqCst);
    check_confirmed(new_port, confirmed, "new master");
    wait_for("the old master to catch up", || {
        info_field(master.port(), "master_repl_offset")
            == info_field(new_port, "master_repl_offset")
    });
    check_confirmed(master.port(), confirmed, "old master, now a replica");
    let mut con = master.client();
    let refused = con.call_str(&["SET", "x", "1"]).unwrap();
    assert!(
        matches!(&refused, Frame::Error(e) if e.starts_with("READONLY")),
        "{refused:?}"
    );
    let dbsize = integer(&con.call_str(&["DBSIZE"]).unwrap());
    println!(
        "{confirmed} writes confirmed with WAIT 1, all present; old master holds {dbsize} keys"
    );
}
