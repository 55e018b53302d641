//! Interoperability of the RDB codec with a real Redis 7.0, both directions.
//!
//! * durakv → Redis: a keyspace encoded by durakv is started on by `redis-server`, which
//!   must serve the same values and expiry times (and drop the already expired key), and
//!   `redis-check-rdb` must accept the file.
//! * Redis → durakv: `redis-server` writes a `dump.rdb` (`SAVE`) after a script of SETs with
//!   integers, long compressible strings, binary keys, TTLs and several databases; durakv's
//!   decoder must load exactly that data.
//!
//! Needs `redis-server` and `redis-check-rdb` (Debian's `redis-server` / `redis-tools` 7.0)
//! on PATH; without them each test prints that it skipped and passes. Servers listen on
//! 127.0.0.1 only, on a port chosen free, in a fresh temporary directory, and are killed by a
//! guard's `Drop` whatever happens.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{self, Child, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use durakv_model::keyspace::{Entry, Keyspace, Value};
use durakv_model::rdb::{decode, encode, lzf, LoadOptions, SaveInfo};

const DAY_MS: u64 = 24 * 3600 * 1000;

fn have(tool: &str) -> bool {
    process::Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

fn redis_available(test: &str) -> bool {
    let available = have("redis-server") && have("redis-check-rdb");
    if !available {
        eprintln!("{test}: skipped: redis-server / redis-check-rdb not found on PATH");
    }
    available
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let name = format!("durakv-rdb-interop-{tag}-{}-{nanos}", process::id());
        let path = std::env::temp_dir().join(name);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A `redis-server` child process; killed and reaped on drop.
struct RedisServer {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl RedisServer {
    /// Starts a server on a free port; retries on a fresh port if the chosen one was taken
    /// between probing and binding.
    fn start(dir: &Path) -> RedisServer {
        let mut failures = Vec::new();
        for _ in 0..3 {
            let mut server = RedisServer::spawn(dir);
            match server.wait_ready() {
                Ok(()) => return server,
                Err(failure) => failures.push(failure),
            }
        }
        panic!("redis-server did not start:\n{}", failures.join("\n"));
    }

    fn spawn(dir: &Path) -> RedisServer {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = dir.join("redis.log");
        let child = process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .arg("--dir")
            .arg(dir)
            .args([
                "--dbfilename",
                "dump.rdb",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .args(["--daemonize", "no", "--databases", "16"])
            .arg("--logfile")
            .arg(&log)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-server");
        RedisServer { child, port, log }
    }

    /// Waits up to 10 s for `PING` to answer `PONG` (not `-LOADING`).
    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Err(format!("exited with {status}; log:\n{}", self.log_text()));
            }
            if let Ok(mut client) = Client::connect(self.port) {
                if client.call(&[b"PING"]) == Reply::Simple("PONG".into()) {
                    return Ok(());
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(format!("not ready after 10 s; log:\n{}", self.log_text()))
    }

    fn client(&self) -> Client {
        Client::connect(self.port).unwrap()
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug, PartialEq)]
enum Reply {
    Simple(String),
    Error(String),
    Integer(i64),
    Bulk(Option<Vec<u8>>),
    Array(Vec<Reply>),
}

/// A minimal RESP2 client: binary-safe commands, blocking replies.
struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Client {
    fn connect(port: u16) -> std::io::Result<Client> {
        let stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        Ok(Client {
            reader: BufReader::new(stream.try_clone()?),
            writer: stream,
        })
    }

    fn call(&mut self, args: &[&[u8]]) -> Reply {
        let mut request = format!("*{}\r\n", args.len()).into_bytes();
        for arg in args {
            request.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
            request.extend_from_slice(arg);
            request.extend_from_slice(b"\r\n");
        }
        self.writer.write_all(&request).unwrap();
        self.read_reply()
    }

    fn ok(&mut self, args: &[&[u8]]) {
        let reply = self.call(args);
        assert_eq!(
            reply,
            Reply::Simple("OK".into()),
            "{:?}",
            String::from_utf8_lossy(args[0])
        );
    }

    fn read_reply(&mut self) -> Reply {
        let mut line = Vec::new();
        self.reader.read_until(b'\n', &mut line).unwrap();
        let text = String::from_utf8_lossy(&line[1..line.len() - 2]).into_owned();
        match line[0] {
            b'+' => Reply::Simple(text),
            b'-' => Reply::Error(text),
            b':' => Reply::Integer(text.parse().unwrap()),
            b'$' if text == "-1" => Reply::Bulk(None),
            b'$' => {
                let mut data = vec![0; text.parse::<usize>().unwrap() + 2];
                self.reader.read_exact(&mut data).unwrap();
                data.truncate(data.len() - 2);
                Reply::Bulk(Some(data))
            }
            b'*' => Reply::Array(
                (0..text.parse::<usize>().unwrap())
                    .map(|_| self.read_reply())
                    .collect(),
            ),
            other => panic!("unexpected RESP type byte {other:#04x}"),
        }
    }
}

fn entry(value: &[u8], expire_at_ms: Option<u64>) -> Entry {
    Entry {
        value: Value::Str(Bytes::copy_from_slice(value)),
        expire_at_ms,
    }
}

/// Bytes that do not compress, so a long value keeps its 32-bit length form.
fn noise(len: usize) -> Vec<u8> {
    (0..len as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

/// The keyspace durakv writes for Redis to load: every string encoding decision, binary and
/// empty keys, long values, TTLs (one already past), databases 0, 7 and 15.
fn durakv_keyspace(now: u64) -> Keyspace {
    let mut ks = Keyspace::default();
    let values: &[&[u8]] = &[
        b"0",
        b"-1",
        b"127",
        b"-128",
        b"300",
        b"-32769",
        b"2147483647",
        b"-2147483648",
        b"2147483648",
        b"007",
        b"+1",
        b"-0",
        b"",
        b"01234567890123456789x",
    ];
    for (i, value) in values.iter().enumerate() {
        let ttl = (i % 3 == 0).then_some(now + DAY_MS + i as u64);
        ks.insert(0, Bytes::from(format!("v{i:02}")), entry(value, ttl));
    }
    let long = "snapshot-of-durakv ".repeat(300);
    ks.insert(
        0,
        Bytes::from(long.clone()),
        entry(long.as_bytes(), Some(now + 2 * DAY_MS)),
    );
    ks.insert(0, Bytes::from_static(b"noise"), entry(&noise(70_000), None));
    ks.insert(
        0,
        Bytes::from_static(b"gone"),
        entry(b"expired before the load", Some(1_000)),
    );
    ks.insert(
        7,
        Bytes::from_static(b"\x00\xff\r\n key"),
        entry(b"\x00\x01\xfe\xff", None),
    );
    ks.insert(
        7,
        Bytes::from_static(b"4096"),
        entry(b"integer key", Some(now + DAY_MS)),
    );
    ks.insert(15, Bytes::from_static(b""), entry(&[b'x'; 20_000], None));
    ks
}

/// Goal: a file durakv writes is what Redis 7.0 expects. Method: for compression and
/// checksum both on and both off, `redis-check-rdb` accepts the file, and a `redis-server`
/// started on it serves every live key with the same value and `PEXPIRETIME`, per database,
/// and reports the expired key as dropped.
#[test]
fn durakv_rdb_loads_in_redis() {
    if !redis_available("durakv_rdb_loads_in_redis") {
        return;
    }
    let now = now_ms();
    let ks = durakv_keyspace(now);
    for (compression, checksum) in [(true, true), (false, false)] {
        let dir = TempDir::new("durakv-to-redis");
        let info = SaveInfo {
            aof_base: false,
            ctime_s: now / 1000,
            used_mem: 1 << 20,
            compression,
            checksum,
        };
        let mut bytes = Vec::new();
        encode(&ks, &info, &mut bytes).unwrap();
        let path = dir.0.join("dump.rdb");
        std::fs::write(&path, &bytes).unwrap();

        let check = process::Command::new("redis-check-rdb")
            .arg(&path)
            .output()
            .unwrap();
        let report = String::from_utf8_lossy(&check.stdout);
        assert!(
            check.status.success() && report.contains("RDB looks OK"),
            "{report}"
        );

        let server = RedisServer::start(&dir.0);
        let log = server.log_text();
        let live = ks.len() - 1;
        assert!(
            log.contains(&format!(
                "Done loading RDB, keys loaded: {live}, keys expired: 1"
            )),
            "{log}"
        );
        let mut client = server.client();
        for (db_index, db) in ks.dbs.iter().enumerate() {
            client.ok(&[b"SELECT", db_index.to_string().as_bytes()]);
            let size = client.call(&[b"DBSIZE"]);
            let expected_size = db.iter().filter(|s| !s.is_expired(now)).count();
            assert_eq!(size, Reply::Integer(expected_size as i64), "db {db_index}");
            for stored in db.iter().filter(|s| !s.is_expired(now)) {
                let (key, entry) = (stored.key(), stored.entry());
                let Value::Str(value) = &entry.value else {
                    panic!("this property generates strings only")
                };
                assert_eq!(
                    client.call(&[b"GET", key]),
                    Reply::Bulk(Some(value.to_vec())),
                    "{key:?}"
                );
                let expire = entry.expire_at_ms.map_or(-1, |at| at as i64);
                assert_eq!(
                    client.call(&[b"PEXPIRETIME", key]),
                    Reply::Integer(expire),
                    "{key:?}"
                );
            }
        }
    }
}

/// One command's arguments.
type Args = Vec<Vec<u8>>;

/// One `SET` of the script: database, key, value, absolute expiry.
type Set = (usize, Vec<u8>, Vec<u8>, Option<u64>);

/// The commands Redis runs before `SAVE`, and the keyspace they must produce.
fn redis_script(now: u64) -> (Vec<Args>, Keyspace) {
    let mut script: Vec<Args> = Vec::new();
    let mut ks = Keyspace::default();
    let compressible_key = "key-".repeat(12);
    let long = "Redis writes this with LZF. ".repeat(50);
    let sets: Vec<Set> = vec![
        (0, b"int".to_vec(), b"12345".to_vec(), None),
        (0, b"neg".to_vec(), b"-5".to_vec(), None),
        (0, b"int16".to_vec(), b"-30000".to_vec(), None),
        (0, b"big".to_vec(), b"4294967296".to_vec(), None),
        (0, b"zeros".to_vec(), b"007".to_vec(), None),
        (0, b"plus".to_vec(), b"+1".to_vec(), None),
        (0, b"negzero".to_vec(), b"-0".to_vec(), None),
        (
            0,
            b"long".to_vec(),
            long.clone().into_bytes(),
            Some(now + DAY_MS),
        ),
        (
            0,
            b"\x00\xffbin\r\n".to_vec(),
            b"\x01\x02\x00".to_vec(),
            None,
        ),
        (
            0,
            b"100".to_vec(),
            b"integer key".to_vec(),
            Some(now + 3 * DAY_MS),
        ),
        (0, compressible_key.into_bytes(), b"v".to_vec(), None),
        (0, b"noise".to_vec(), noise(70_000), None),
        (5, b"a".to_vec(), b"b".to_vec(), Some(now + DAY_MS + 1)),
        (5, b"x".to_vec(), vec![b'x'; 16_384], None),
        (15, b"z".to_vec(), b"1".to_vec(), None),
    ];
    let mut db_current = usize::MAX;
    for (db, key, value, expire) in sets {
        if db != db_current {
            script.push(vec![b"SELECT".to_vec(), db.to_string().into_bytes()]);
            db_current = db;
        }
        let mut set = vec![b"SET".to_vec(), key.clone(), value.clone()];
        if let Some(at) = expire {
            set.extend([b"PXAT".to_vec(), at.to_string().into_bytes()]);
        }
        script.push(set);
        ks.insert(db, Bytes::from(key), entry(&value, expire));
    }
    (script, ks)
}

/// Goal: durakv loads what Redis 7.0 writes. Method: run the script on a real server, `SAVE`,
/// decode `dump.rdb` keeping expired keys, and compare with the keyspace the script means;
/// the CRC trailer (non-zero, Redis's default) must verify and the load end at the file's end.
#[test]
fn redis_rdb_loads_in_durakv() {
    if !redis_available("redis_rdb_loads_in_durakv") {
        return;
    }
    let now = now_ms();
    let (script, expected) = redis_script(now);
    let dir = TempDir::new("redis-to-durakv");
    let server = RedisServer::start(&dir.0);
    let mut client = server.client();
    for command in &script {
        let args: Vec<&[u8]> = command.iter().map(Vec::as_slice).collect();
        client.ok(&args);
    }
    client.ok(&[b"SAVE"]);
    let bytes = std::fs::read(dir.0.join("dump.rdb")).unwrap();
    drop(client);
    drop(server);

    assert_ne!(&bytes[bytes.len() - 8..], &[0; 8], "Redis wrote a checksum");
    let mut ks = Keyspace::default();
    let loaded = decode(
        &bytes,
        &mut ks,
        &LoadOptions {
            now_ms: now,
            drop_expired: true,
        },
    )
    .unwrap();
    assert_eq!(ks, expected);
    assert_eq!(loaded.end_offset, bytes.len() as u64);
    assert_eq!(
        (loaded.keys_loaded, loaded.keys_expired, loaded.version),
        (expected.len() as u64, 0, 10)
    );

    // Same LZF bytes as Redis's liblzf for the long value (informational: liblzf's hash table
    // is uninitialised stack memory, so its output is not strictly deterministic).
    let long = "Redis writes this with LZF. ".repeat(50).into_bytes();
    let ours = lzf::compress(&long, long.len() - 4).unwrap();
    let identical = bytes.windows(ours.len()).any(|window| window == ours);
    eprintln!("redis_rdb_loads_in_durakv: LZF output identical to Redis's: {identical}");
}
