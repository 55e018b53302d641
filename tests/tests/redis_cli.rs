//! Interoperability with Redis's own client, `redis-cli` (Debian's `redis-tools`).
//!
//! Goal: a user's first session works as with Redis, and what it wrote survives a restart.
//! Method: run `redis-cli` against a durakv process for single commands, a database other than
//! 0, several commands from stdin, and `--pipe` mass insertion; restart and read back. Skipped
//! with a note when `redis-cli` is not installed.

use std::io::Write;
use std::process::{Command, Stdio};

use durakv_tests::ServerProcess;

fn have_redis_cli() -> bool {
    let found = Command::new("redis-cli")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        println!("note: redis-cli is not installed; skipping (apt-get install redis-tools)");
    }
    found
}

/// Runs `redis-cli -p PORT args...`, optionally feeding `stdin`; returns stdout, trimmed.
fn cli(port: u16, args: &[&str], stdin: Option<&[u8]>) -> String {
    let mut child = Command::new("redis-cli")
        .arg("-p")
        .arg(port.to_string())
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn redis-cli");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input)
            .expect("feed redis-cli");
    }
    let output = child.wait_with_output().expect("redis-cli output");
    assert!(
        output.status.success(),
        "redis-cli {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// PING, SET/GET, INCR, EXPIRE/TTL, SELECT, stdin scripts and `--pipe`, then a restart.
#[test]
fn redis_cli_session() {
    if !have_redis_cli() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut server = ServerProcess::start(dir.path(), &["--appendfsync", "everysec"]);
    let port = server.port();
    assert_eq!(cli(port, &["PING"], None), "PONG");
    assert_eq!(cli(port, &["SET", "greeting", "hello world"], None), "OK");
    assert_eq!(cli(port, &["GET", "greeting"], None), "hello world");
    assert_eq!(cli(port, &["INCR", "visits"], None), "1");
    assert_eq!(cli(port, &["INCRBY", "visits", "41"], None), "42");
    assert_eq!(cli(port, &["EXPIRE", "greeting", "1000"], None), "1");
    let ttl: u64 = cli(port, &["TTL", "greeting"], None)
        .parse()
        .expect("TTL is a number");
    assert!((990..=1000).contains(&ttl), "TTL {ttl}");
    assert_eq!(cli(port, &["-n", "3", "SET", "in-db-3", "x"], None), "OK");
    assert_eq!(cli(port, &["GET", "in-db-3"], None), "");
    assert_eq!(cli(port, &["-n", "3", "GET", "in-db-3"], None), "x");
    // Several commands in one connection, read from stdin as a script.
    let script = b"SET a 1\nINCR a\nGET a\nDEL a\nEXISTS a\n";
    assert_eq!(cli(port, &[], Some(script)), "OK\n2\n2\n1\n0");
    // Mass insertion: the protocol piped in, replies counted by redis-cli.
    let count = 5000;
    let mut protocol = Vec::new();
    for i in 0..count {
        let (key, value) = (format!("pipe:{i}"), i.to_string());
        let argv = [b"SET".as_slice(), key.as_bytes(), value.as_bytes()];
        let argv: Vec<bytes::Bytes> = argv
            .iter()
            .map(|a| bytes::Bytes::copy_from_slice(a))
            .collect();
        model::resp::encode_command(&argv, &mut protocol);
    }
    let report = cli(port, &["--pipe"], Some(&protocol));
    assert!(
        report.contains(&format!("errors: 0, replies: {count}")),
        "{report}"
    );
    assert_eq!(cli(port, &["DBSIZE"], None), (count + 2).to_string());

    assert!(
        server.stop().success(),
        "graceful stop:\n{}",
        server.stderr()
    );
    server.restart().expect("restart");
    let port = server.port();
    assert_eq!(cli(port, &["GET", "greeting"], None), "hello world");
    assert_eq!(cli(port, &["GET", "visits"], None), "42");
    assert_eq!(cli(port, &["-n", "3", "GET", "in-db-3"], None), "x");
    assert_eq!(cli(port, &["GET", "pipe:4999"], None), "4999");
    assert_eq!(cli(port, &["DBSIZE"], None), (count + 2).to_string());
    let ttl: u64 = cli(port, &["TTL", "greeting"], None)
        .parse()
        .expect("TTL is a number");
    assert!((900..=1000).contains(&ttl), "TTL after restart {ttl}");
}
