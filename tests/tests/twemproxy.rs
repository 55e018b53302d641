//! Write scale-out through an existing proxy: three durakv shards behind Debian's `nutcracker`
//! (twemproxy) with consistent hashing.
//!
//! Goal: (1) keys written through the proxy spread over all three shards (each holds a share,
//! and the shares add up to what was written); (2) a kill -9 of one shard while clients write
//! through the proxy loses no write that was acknowledged under `appendfsync always`, and adds
//! no write that was never sent; (3) the restarted shard (same directory, same port) serves its
//! keys again through the proxy and accepts new writes. Several cycles kill a different shard.
//! Method: each client writes distinct keys `w{client}:{seq}` = `{seq}` one at a time and records
//! every reply: `+OK` is an acknowledgement, an error (the proxy's answer while a shard is
//! down) leaves that write undecided — it may or may not have reached the shard's AOF. After the
//! restart every key is read back through the proxy (MGET, which the proxy splits across
//! shards): acknowledged keys must hold their value, undecided ones may be absent or hold it,
//! and no key beyond what was sent may exist. The deployment is the one the README shows
//! (`deploy/twemproxy/nutcracker.yml`), with the ports filled in.
//! Skipped with a note (and passes) without `nutcracker`.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use durakv_tests::client::{bulk, integer};
use durakv_tests::redis::have_tool;
use durakv_tests::repl_check::wait_for;
use durakv_tests::server::free_port;
use durakv_tests::{RespClient, ServerProcess};
use model::resp::Frame;

const SHARDS: usize = 3;
const CLIENTS: u64 = 6;
const CYCLES: usize = 3;
const TEMPLATE: &str = include_str!("../../deploy/twemproxy/nutcracker.yml");

fn have_nutcracker() -> bool {
    have_tool("nutcracker", "nutcracker")
}

/// A running `nutcracker`, killed when dropped.
struct Proxy {
    child: Child,
    port: u16,
}

impl Proxy {
    /// The README's configuration with this run's proxy and shard ports.
    fn start(dir: &Path, shard_ports: &[u16]) -> Proxy {
        let port = free_port();
        let mut config = TEMPLATE.replace("127.0.0.1:22121", &format!("127.0.0.1:{port}"));
        for (i, shard_port) in shard_ports.iter().enumerate() {
            let from = format!("127.0.0.1:{}:1", 6380 + i);
            assert!(config.contains(&from), "template lists shard {i} as {from}");
            config = config.replace(&from, &format!("127.0.0.1:{shard_port}:1"));
        }
        let path = dir.join("nutcracker.yml");
        std::fs::write(&path, config).unwrap();
        let child = Command::new("nutcracker")
            .arg("-c")
            .arg(&path)
            .args(["-a", "127.0.0.1", "-s", &free_port().to_string()])
            .arg("-o")
            .arg(dir.join("nutcracker.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn nutcracker");
        let proxy = Proxy { child, port };
        wait_for("nutcracker to listen", || {
            RespClient::connect(proxy.port).is_ok()
        });
        proxy
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What happened to each write of one client, by sequence number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Acked,
    Undecided,
}

/// One client's writes through the proxy until `stop`: distinct keys, one at a time.
fn write_through(port: u16, client: u64, first_seq: u64, stop: &AtomicBool) -> Vec<Outcome> {
    let mut outcomes = Vec::new();
    let Ok(mut con) = RespClient::connect(port) else {
        return outcomes;
    };
    while !stop.load(Ordering::Relaxed) {
        let seq = first_seq + outcomes.len() as u64;
        let key = format!("w{client}:{seq}");
        if con
            .send(&[b"SET", key.as_bytes(), seq.to_string().as_bytes()])
            .is_err()
        {
            break;
        }
        match con.read() {
            Ok(Frame::Simple(ok)) if ok == "OK" => outcomes.push(Outcome::Acked),
            Ok(Frame::Error(_)) => {
                outcomes.push(Outcome::Undecided);
                // The shard is down: the proxy answers at once, so slow down the retries.
                std::thread::sleep(Duration::from_millis(5));
            }
            Ok(other) => panic!("client {client}: unexpected reply {other:?}"),
            Err(_) => {
                // A connection lost mid-request leaves that write undecided too.
                outcomes.push(Outcome::Undecided);
                break;
            }
        }
    }
    outcomes
}

/// Reads `w{client}:{seq}` for every `seq` below `limit` through the proxy.
fn read_back(con: &mut RespClient, client: u64, limit: u64) -> Vec<Option<bytes::Bytes>> {
    let mut values = Vec::new();
    for start in (0..limit).step_by(500) {
        let keys: Vec<String> = (start..(start + 500).min(limit))
            .map(|seq| format!("w{client}:{seq}"))
            .collect();
        let mut argv: Vec<&[u8]> = vec![b"MGET"];
        argv.extend(keys.iter().map(|k| k.as_bytes()));
        match con.call(&argv).unwrap() {
            Frame::Array(found) => values.extend(found.iter().map(bulk)),
            other => panic!("MGET through the proxy: {other:?}"),
        }
    }
    values
}

/// Checks one client's keys against its record; returns the acknowledged writes checked.
fn verify(con: &mut RespClient, client: u64, outcomes: &[Outcome]) -> u64 {
    let sent = outcomes.len() as u64;
    let values = read_back(con, client, sent + 10);
    for (seq, value) in values.iter().enumerate() {
        let outcome = outcomes.get(seq);
        match (outcome, value) {
            (Some(Outcome::Acked), None) => {
                panic!("client {client}: acknowledged w{client}:{seq} lost")
            }
            (None, Some(v)) => panic!("client {client}: w{client}:{seq} = {v:?} never sent"),
            (_, Some(v)) => assert_eq!(v.as_ref(), seq.to_string().as_bytes(), "w{client}:{seq}"),
            _ => {}
        }
    }
    outcomes.iter().filter(|o| **o == Outcome::Acked).count() as u64
}

fn dbsize(con: &mut RespClient) -> u64 {
    integer(&con.call_str(&["DBSIZE"]).unwrap()) as u64
}

/// Kills shard `victim` under write load, restarts it, checks every client's keys.
/// Returns (acknowledged writes checked, acknowledged writes the victim held).
fn crash_cycle(
    shards: &mut [ServerProcess],
    proxy: &Proxy,
    victim: usize,
    histories: &mut [Vec<Outcome>],
) -> (u64, u64) {
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let (stop, port) = (stop.clone(), proxy.port);
            let first = histories[client as usize].len() as u64;
            std::thread::spawn(move || write_through(port, client, first, &stop))
        })
        .collect();
    std::thread::sleep(Duration::from_millis(400));
    let victim_keys_before = dbsize(&mut shards[victim].client());
    shards[victim].kill9();
    // Writers keep going: keys of the other shards are still acknowledged meanwhile.
    std::thread::sleep(Duration::from_millis(300));
    shards[victim]
        .restart_same_port()
        .unwrap_or_else(|e| panic!("shard restart refused: {}\n{}", e.status, e.stderr));
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    for (client, writer) in writers.into_iter().enumerate() {
        histories[client].extend(writer.join().expect("writer thread"));
    }
    let mut con = RespClient::connect(proxy.port).unwrap();
    wait_for("the proxy to reach the restarted shard", || {
        matches!(con.call_str(&["SET", "probe", "1"]), Ok(Frame::Simple(_)))
    });
    let checked = (0..CLIENTS)
        .map(|client| verify(&mut con, client, &histories[client as usize]))
        .sum();
    (checked, victim_keys_before)
}

/// Every shard holds a share of the keys, and the shares add up to the keys written.
fn check_spread(shards: &[ServerProcess], proxy_con: &mut RespClient, histories: &[Vec<Outcome>]) {
    let sizes: Vec<u64> = shards.iter().map(|s| dbsize(&mut s.client())).collect();
    let total: u64 = sizes.iter().sum();
    let present: u64 = (0..CLIENTS)
        .map(|c| {
            let limit = histories[c as usize].len() as u64;
            read_back(proxy_con, c, limit).iter().flatten().count() as u64
        })
        .sum();
    assert_eq!(
        total,
        present + 1,
        "shard sizes {sizes:?} vs keys present (+ probe)"
    );
    for (i, size) in sizes.iter().enumerate() {
        assert!(
            *size * 10 > total,
            "shard {i} holds {size} of {total} keys: not spread ({sizes:?})"
        );
    }
    println!("keys per shard: {sizes:?}");
}

#[test]
fn shards_behind_twemproxy_lose_no_acknowledged_write() {
    if !have_nutcracker() {
        return;
    }
    let dirs: Vec<_> = (0..SHARDS).map(|_| tempfile::tempdir().unwrap()).collect();
    let args = [
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--save",
        "",
    ];
    let mut shards: Vec<ServerProcess> = dirs
        .iter()
        .map(|d| ServerProcess::start(d.path(), &args))
        .collect();
    let ports: Vec<u16> = shards.iter().map(ServerProcess::port).collect();
    let proxy_dir = tempfile::tempdir().unwrap();
    let proxy = Proxy::start(proxy_dir.path(), &ports);
    let mut histories = vec![Vec::new(); CLIENTS as usize];
    let mut checked = 0;
    for cycle in 0..CYCLES {
        let (acked, victim_held) = crash_cycle(&mut shards, &proxy, cycle % SHARDS, &mut histories);
        assert!(victim_held > 0, "shard {cycle} held no key before its kill");
        // Each check covers every write so far, so the last one covers them all.
        checked = acked;
    }
    let mut con = RespClient::connect(proxy.port).unwrap();
    check_spread(&shards, &mut con, &histories);
    println!("{CYCLES} shard kills, {checked} acknowledged writes checked after each");
    assert!(checked > 0);
}
