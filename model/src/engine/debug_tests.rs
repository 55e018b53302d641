//! Engine scenarios for DEBUG (`debug.rs`) and `maxmemory` (`memory.rs`), driven with the
//! `Rig` of `tests.rs`.

use super::tests::{config, Rig};
use crate::config::{Config, DebugAccess, FsyncPolicy};
use crate::resp::Frame;

fn debug_rig() -> Rig {
    Rig::start(Config {
        enable_debug_command: DebugAccess::Yes,
        ..config(FsyncPolicy::No)
    })
}

fn replies(rig: &mut Rig, lines: &[&str]) -> Vec<Frame> {
    for line in lines {
        rig.send(1, line);
    }
    rig.settle();
    rig.take_replies()
}

fn status(s: &str) -> Frame {
    Frame::Simple(s.to_string())
}

#[test]
fn debug_is_refused_unless_enabled() {
    let mut rig = Rig::start(config(FsyncPolicy::No));
    let got = replies(
        &mut rig,
        &["DEBUG DIGEST", "CONFIG SET enable-debug-command yes"],
    );
    assert!(matches!(&got[0], Frame::Error(e) if e.starts_with("ERR DEBUG command not allowed")));
    assert!(matches!(&got[1], Frame::Error(e) if e.contains("can't set immutable config")));
}

/// The digests are Redis 7.0's: the figures were read from redis-server 7.0 after the same
/// commands (`DEBUG DIGEST`, `DEBUG DIGEST-VALUE a l s z h nope`).
#[test]
fn digests_match_redis() {
    let mut rig = debug_rig();
    let setup = [
        "SET a 1",
        "RPUSH l a b c",
        "SADD s x y 1",
        "ZADD z 1.5 a 2 b",
        "HSET h f v g w",
        "EXPIRE a 100",
    ];
    replies(&mut rig, &setup);
    let got = replies(
        &mut rig,
        &["DEBUG DIGEST", "DEBUG DIGEST-VALUE a l s z h nope"],
    );
    let want_values = [
        "5279988c5d1911f474bcbbf2f0a87012d40f8459",
        "8bf72d812571eea9b927f3c11beb0c4165a6ff89",
        "03ee76a1ebe8db27d61b3ea784011d5acc537675",
        "445b877af3c3ec83af30529ddbbdda3185172254",
        "d127864ed50239662bf61bafc9bda63c17da5b37",
        "0000000000000000000000000000000000000000",
    ];
    assert_eq!(
        got,
        vec![
            status("68d21b8100167cc2b211b01928b28987036458ad"),
            Frame::Array(want_values.iter().map(|s| status(s)).collect()),
        ]
    );
    let got = replies(&mut rig, &["DEBUG LOADAOF", "DEBUG DIGEST", "PTTL a"]);
    assert_eq!(
        got[..2],
        [
            Frame::ok(),
            status("68d21b8100167cc2b211b01928b28987036458ad")
        ]
    );
    assert_eq!(
        got[2],
        Frame::Integer(100_000),
        "the expiry survives the reload"
    );
}

#[test]
fn set_active_expire_0_leaves_expired_keys_to_lazy_expiry() {
    let mut rig = debug_rig();
    replies(&mut rig, &["DEBUG SET-ACTIVE-EXPIRE 0", "SET k v PX 10"]);
    rig.tick(1000);
    rig.tick(1000);
    assert_eq!(rig.engine.keyspace().len(), 1, "no active expiry");
    replies(&mut rig, &["DEBUG SET-ACTIVE-EXPIRE 1"]);
    rig.tick(1000);
    assert_eq!(rig.engine.keyspace().len(), 0);
    let got = replies(&mut rig, &["DEBUG SET-ACTIVE-EXPIRE 2"]);
    assert_eq!(got, [Frame::error("ERR value is out of range")]);
}

#[test]
fn debug_sleep_answers_when_the_time_passed_and_holds_everyone() {
    let mut rig = debug_rig();
    rig.send(1, "DEBUG SLEEP 0.5");
    rig.send(2, "PING");
    rig.settle();
    assert!(rig.take_replies().is_empty(), "both wait");
    rig.tick(499);
    assert!(rig.take_replies().is_empty());
    rig.tick(1);
    rig.settle();
    assert_eq!(rig.take_replies(), [Frame::ok(), status("PONG")]);
}

#[test]
fn maxmemory_refuses_denyoom_commands_and_transactions() {
    let mut rig = debug_rig();
    let got = replies(
        &mut rig,
        &[
            "SET x 1",
            "CONFIG SET maxmemory 1",
            "SET y 1",
            "GET x",
            "MULTI",
            "GET x",
            "EXEC",
            "MULTI",
            "INCR x",
        ],
    );
    let oom = Frame::error("OOM command not allowed when used memory > 'maxmemory'.");
    assert_eq!(got[2], oom);
    assert_eq!(got[3], Frame::Bulk("1".into()));
    assert_eq!(
        got[5], oom,
        "nothing is queued while over the limit, reads neither"
    );
    assert_eq!(
        got[6],
        Frame::error("EXECABORT Transaction discarded because of previous errors.")
    );
    assert_eq!(got[8], oom);
    rig.send(1, "EXEC");
    let got = rig.take_replies();
    assert!(matches!(&got[0], Frame::Error(e) if e.starts_with("EXECABORT")));
    // Queued before the limit, refused at EXEC, and the transaction is gone.
    replies(&mut rig, &["CONFIG SET maxmemory 0", "MULTI", "SET y 2"]);
    rig.send(2, "CONFIG SET maxmemory 1");
    rig.send(1, "EXEC");
    rig.send(1, "EXEC");
    rig.settle();
    let other = rig.take_replies();
    assert_eq!(
        other[1],
        Frame::error(
            "EXECABORT Transaction discarded because of: OOM command not allowed when used \
             memory > 'maxmemory'."
        )
    );
    assert_eq!(other[2], Frame::error("ERR EXEC without MULTI"));
}

#[test]
fn allkeys_random_evicts_until_under_the_limit() {
    let mut rig = debug_rig();
    let mut lines: Vec<String> = (0..50).map(|i| format!("SET key:{i} {i}")).collect();
    lines.push("CONFIG SET maxmemory-policy allkeys-random".to_string());
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    replies(&mut rig, &lines);
    let used = rig.engine.used_memory_bytes();
    let limit = used - 2000;
    // Evictions run before each command: the one after the write brings it back under.
    replies(
        &mut rig,
        &[
            &format!("CONFIG SET maxmemory {limit}"),
            "SET new 1",
            "PING",
        ],
    );
    assert!(rig.engine.used_memory_bytes() <= limit);
    assert!(rig.engine.keyspace().len() < 50);
    assert!(rig.engine.stats().evicted_keys > 0);
}

/// CONFIG SET maxmemory evicts at once (Redis's `updateMaxmemory`), before any later command.
#[test]
fn config_set_maxmemory_evicts_at_once() {
    let mut rig = debug_rig();
    let got = replies(
        &mut rig,
        &[
            "SET foo bar",
            "CONFIG SET maxmemory-policy allkeys-lru",
            "CONFIG SET maxmemory 1",
        ],
    );
    assert_eq!(got[2], Frame::ok());
    assert!(rig.engine.keyspace().is_empty());
}

/// A script may not start writing with a denyoom command over `maxmemory` (EVAL itself runs).
#[test]
fn scripts_refuse_their_first_denyoom_write_over_maxmemory() {
    let mut rig = debug_rig();
    let got = replies(
        &mut rig,
        &[
            "CONFIG SET maxmemory 1",
            "EVAL return(redis.call('get','x')) 0",
        ],
    );
    assert_eq!(got[1], Frame::Null);
    rig.engine.handle_command(
        rig.now_ms,
        1,
        vec!["EVAL".into(), "redis.call('set','x',1)".into(), "0".into()],
    );
    rig.settle();
    let got = rig.take_replies();
    assert!(
        matches!(&got[0], Frame::Error(e) if e.starts_with("OOM command not allowed")),
        "{got:?}"
    );
}
