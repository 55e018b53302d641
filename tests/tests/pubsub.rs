//! Pub/Sub against the real binary, byte for byte with Redis 7.0.
//!
//! Goal: SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE, their UNSUBSCRIBEs, PUBLISH, SPUBLISH and PUBSUB
//! answer as Redis does in RESP2 and RESP3, messages reach subscribers (also from MULTI and
//! from a script), a RESP2 subscriber is held to Redis's restricted command set, and RESET or a
//! closed connection leaves no subscription behind.
//! Method: a scripted exchange over raw connections (subscriber, publisher, RESP3 subscriber);
//! every step's bytes are recorded. When `redis-server` is installed the same script runs
//! against it and the transcripts must be equal; without it, the transcript's key steps are
//! checked against the bytes Redis 7.0 sends.

use std::time::Duration;

use durakv_tests::raw::{text, Raw};
use durakv_tests::redis::{have_redis, Redis};
use durakv_tests::ServerProcess;

/// Who sends a step: the RESP2 subscriber, the publisher, or the RESP3 subscriber.
#[derive(Clone, Copy, Debug)]
enum Who {
    Sub,
    Publisher,
    Sub3,
}

use Who::{Publisher as P, Sub as S, Sub3 as S3};

/// Each step: who sends what; then every connection's arriving bytes are recorded.
const SCRIPT: &[(Who, &str)] = &[
    (S, "SUBSCRIBE a b"),
    (S, "PSUBSCRIBE a*"),
    (S, "SUBSCRIBE a"),
    (P, "PUBLISH a hello"),
    (P, "PUBLISH b world"),
    (P, "PUBLISH nobody x"),
    (S, "GET x"),
    (S, "PING"),
    (S, "PING hi"),
    (P, "PUBSUB CHANNELS a"),
    (P, "PUBSUB CHANNELS nomatch*"),
    (P, "PUBSUB NUMSUB a b c"),
    (P, "PUBSUB NUMPAT"),
    (P, "MULTI"),
    (P, "PUBLISH b in-multi"),
    (P, "EXEC"),
    (P, "EVAL return redis.call('publish','a','from-script') 0"),
    (S3, "HELLO 3"),
    (S3, "SUBSCRIBE a"),
    (S3, "SSUBSCRIBE s"),
    (P, "PUBLISH a both"),
    (P, "SPUBLISH s shard"),
    (P, "PUBSUB SHARDCHANNELS"),
    (P, "PUBSUB SHARDNUMSUB s"),
    (S3, "GET x"),
    (S3, "PING"),
    (S3, "SUNSUBSCRIBE"),
    (S3, "UNSUBSCRIBE a"),
    (S, "UNSUBSCRIBE a b"),
    (S, "PUNSUBSCRIBE"),
    (S, "UNSUBSCRIBE"),
    (S, "GET x"),
    (S, "SUBSCRIBE z"),
    (S, "RESET"),
    (P, "PUBSUB NUMSUB z"),
    (P, "PUBSUB NOSUCH"),
];

/// Runs the script on `port`; one line per step with what each connection received.
fn transcript(port: u16) -> Vec<String> {
    let mut cons = [Raw::connect(port), Raw::connect(port), Raw::connect(port)];
    let mut lines = Vec::new();
    for &(who, words) in SCRIPT {
        let sender = who as usize;
        cons[sender].send(words);
        // The sender's reply is awaited first; messages to the others left in the same engine
        // turn, so once it arrived a short wait for them suffices.
        let mut received = [Vec::new(), Vec::new(), Vec::new()];
        received[sender] = cons[sender].drain(Duration::from_secs(5));
        for (i, con) in cons.iter_mut().enumerate().filter(|(i, _)| *i != sender) {
            received[i] = con.drain(Duration::from_millis(150));
        }
        let mut line = format!("{who:?} {words}:");
        for (name, bytes) in ["sub", "pub", "sub3"].iter().zip(&received) {
            if !bytes.is_empty() {
                let shown = if words == "HELLO 3" {
                    "<hello map>".to_string()
                } else {
                    text(bytes)
                };
                line.push_str(&format!(" {name}={shown:?}"));
            }
        }
        lines.push(line);
    }
    lines
}

#[test]
fn pubsub_matches_redis_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let durakv = ServerProcess::start(dir.path(), &["--save", ""]);
    let ours = transcript(durakv.port());
    let find = |prefix: &str| ours.iter().find(|l| l.starts_with(prefix)).unwrap().clone();
    assert!(find("Sub SUBSCRIBE a b:").contains(
        r#"sub="*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n""#
    ));
    assert!(find("Publisher PUBLISH a hello:").contains(r#"pub=":2\r\n""#));
    assert!(find("Publisher PUBLISH a hello:").contains(
        r#"sub="*3\r\n$7\r\nmessage\r\n$1\r\na\r\n$5\r\nhello\r\n*4\r\n$8\r\npmessage\r\n$2\r\na*\r\n$1\r\na\r\n$5\r\nhello\r\n""#
    ));
    assert!(
        find("Sub GET x:").contains("only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET")
    );
    assert!(find("Sub PING:").contains(r#"sub="*2\r\n$4\r\npong\r\n$0\r\n\r\n""#));
    assert!(find("Publisher PUBLISH a both:").contains(r#"sub3=">3\r\n$7\r\nmessage"#));
    assert!(find("Sub UNSUBSCRIBE:").contains(r#"sub="*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n""#));
    assert!(find("Publisher PUBSUB NUMSUB z:").contains(r#"pub="*2\r\n$1\r\nz\r\n:0\r\n""#));
    if !have_redis() {
        println!("redis-server not installed: transcript checked against known bytes only");
        return;
    }
    let redis_dir = tempfile::tempdir().unwrap();
    let redis = Redis::start(redis_dir.path(), &["--save", ""]);
    let theirs = transcript(redis.port());
    for (mine, reference) in ours.iter().zip(&theirs) {
        assert_eq!(mine, reference, "durakv vs redis-server");
    }
    assert_eq!(ours.len(), theirs.len());
}

/// A subscriber that disconnects is forgotten: PUBLISH reaches nobody, PUBSUB lists nothing.
#[test]
fn a_closed_subscriber_leaves_no_subscription() {
    let dir = tempfile::tempdir().unwrap();
    let durakv = ServerProcess::start(dir.path(), &["--save", ""]);
    let mut sub = Raw::connect(durakv.port());
    assert!(!sub.call("SUBSCRIBE gone").is_empty());
    drop(sub);
    let mut publisher = Raw::connect(durakv.port());
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let reply = text(&publisher.call("PUBLISH gone x"));
        if reply == ":0\r\n" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still delivered: {reply}"
        );
    }
    assert_eq!(text(&publisher.call("PUBSUB CHANNELS")), "*0\r\n");
}
