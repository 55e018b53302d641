//! Sorted-set commands against Redis 7.0's replies, errors, encodings and propagation (the
//! expected values were taken from redis-server 7.0.15).

use super::testkit::*;
use crate::resp::Frame;

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

fn d(s: &str) -> Frame {
    Frame::Double(s.to_string())
}

fn pairs(items: &[(&str, &str)]) -> Frame {
    Frame::Pairs(items.iter().map(|(m, s)| (bulk(m), d(s))).collect())
}

fn log(items: &[&str]) -> Vec<(usize, String)> {
    items.iter().map(|s| (0, s.to_string())).collect()
}

#[test]
fn zadd_flags_and_their_replies() {
    let mut k = Kit::new();
    assert_eq!(k.reply("ZADD z 1 a 2 b 3 c"), int(3));
    assert_eq!(k.reply("ZADD z 1.5 a 4 d"), int(1));
    assert_eq!(k.reply("ZADD z CH 1 a 5 e"), int(2));
    assert_eq!(k.reply("ZADD z NX 9 a 6 f"), int(1));
    assert_eq!(k.reply("ZADD z XX CH 9 a 7 g"), int(1));
    assert_eq!(k.reply("ZADD z GT CH 0 a"), int(0));
    assert_eq!(k.reply("ZADD z LT CH 0 a"), int(1));
    assert_eq!(k.reply("ZADD z INCR 1 b"), d("3"));
    assert_eq!(k.reply("ZADD z INCR NX 1 b"), Frame::Null);
    assert_eq!(k.reply("ZADD z INCR XX 1 zz"), Frame::Null);
    assert_eq!(k.reply("ZADD z INCR GT -100 b"), Frame::Null);
    assert_eq!(
        k.reply("ZADD z XX NX 1 a"),
        err("ERR XX and NX options at the same time are not compatible")
    );
    assert_eq!(
        k.reply("ZADD z GT LT 1 a"),
        err("ERR GT, LT, and/or NX options at the same time are not compatible")
    );
    assert_eq!(
        k.reply("ZADD z INCR 1 a 2 b"),
        err("ERR INCR option supports a single increment-element pair")
    );
    assert_eq!(
        k.reply("ZADD z nan a"),
        err("ERR value is not a valid float")
    );
    assert_eq!(k.reply("ZADD z 1 a 2"), err("ERR syntax error"));
    assert_eq!(k.reply("ZADD z 0x10 hex inf i"), int(2));
    assert_eq!(k.reply("ZSCORE z hex"), d("16"));
    assert_eq!(
        k.reply("ZINCRBY z -inf i"),
        err("ERR resulting score is not a number (NaN)")
    );
    assert_eq!(k.reply("ZINCRBY z 0.1 b"), d("3.1000000000000001"));
    assert_eq!(k.reply("ZADD nokey XX 1 a"), int(0));
    assert_eq!(k.reply("EXISTS nokey"), int(0));
    assert_eq!(k.logged("ZADD z 3.1000000000000001 b"), vec![], "no change");
    assert_eq!(k.run("ZADD z 1 a 2 new").dirty, 2);
}

#[test]
fn negative_zero_is_kept_only_by_a_skiplist() {
    let mut k = Kit::new();
    k.run("ZADD p -0 a");
    assert_eq!(k.reply("ZSCORE p a"), d("0"));
    k.ks.limits.zset_max_listpack_entries = 0;
    k.run("ZADD s -0 a");
    assert_eq!(k.reply("OBJECT ENCODING s"), bulk("skiplist"));
    assert_eq!(k.reply("ZSCORE s a"), d("-0"));
}

#[test]
fn encoding_converts_at_the_limits() {
    let mut k = Kit::new();
    k.ks.limits.zset_max_listpack_entries = 2;
    k.run("ZADD z 1 a 2 b");
    assert_eq!(k.reply("OBJECT ENCODING z"), bulk("listpack"));
    k.run("ZADD z 3 c");
    assert_eq!(k.reply("OBJECT ENCODING z"), bulk("skiplist"));
    k.run("ZREM z a b");
    assert_eq!(k.reply("OBJECT ENCODING z"), bulk("skiplist"));
    assert_eq!(k.reply("ZRANGESTORE d z 0 -1"), int(1));
    assert_eq!(k.reply("OBJECT ENCODING d"), bulk("listpack"));
    let long = "m".repeat(65);
    k.run(&format!("ZADD y 1 {long}"));
    assert_eq!(k.reply("OBJECT ENCODING y"), bulk("skiplist"));
}

/// The same range queries on both encodings.
#[test]
fn ranges_by_rank_score_and_lex_in_both_encodings() {
    for limit in [128, 0] {
        let mut k = Kit::new();
        k.ks.limits.zset_max_listpack_entries = limit;
        k.run("ZADD z 1 a 2 b 3 c 4 d 5 e");
        assert_eq!(k.reply("ZRANGE z 0 1"), array(&["a", "b"]));
        assert_eq!(
            k.reply("ZRANGE z -2 -1 WITHSCORES"),
            pairs(&[("d", "4"), ("e", "5")])
        );
        assert_eq!(k.reply("ZRANGE z 0 1 REV"), array(&["e", "d"]));
        assert_eq!(k.reply("ZREVRANGE z 0 0"), array(&["e"]));
        assert_eq!(k.reply("ZRANGE z 3 1"), array(&[]));
        assert_eq!(k.reply("ZRANGE z (1 3 BYSCORE"), array(&["b", "c"]));
        assert_eq!(k.reply("ZRANGE z 3 (1 BYSCORE REV"), array(&["c", "b"]));
        assert_eq!(
            k.reply("ZRANGE z -inf +inf BYSCORE LIMIT 1 2"),
            array(&["b", "c"])
        );
        assert_eq!(k.reply("ZRANGE z -inf +inf BYSCORE LIMIT -1 2"), array(&[]));
        assert_eq!(
            k.reply("ZRANGEBYSCORE z (2 +inf LIMIT 1 -1"),
            array(&["d", "e"])
        );
        assert_eq!(
            k.reply("ZREVRANGEBYSCORE z 4 (2 WITHSCORES"),
            pairs(&[("d", "4"), ("c", "3")])
        );
        assert_eq!(k.reply("ZCOUNT z (1 3"), int(2));
        assert_eq!(k.reply("ZRANK z c"), int(2));
        assert_eq!(k.reply("ZREVRANK z c"), int(2));
        assert_eq!(k.reply("ZREVRANK z a"), int(4));
        assert_eq!(k.reply("ZRANK z nosuch"), Frame::Null);
        k.run("ZADD l 0 a 0 b 0 c 0 d");
        assert_eq!(k.reply("ZRANGEBYLEX l [b (d"), array(&["b", "c"]));
        assert_eq!(k.reply("ZREVRANGEBYLEX l + (b"), array(&["d", "c"]));
        assert_eq!(k.reply("ZRANGE l [c - BYLEX REV LIMIT 0 1"), array(&["c"]));
        assert_eq!(k.reply("ZLEXCOUNT l - +"), int(4));
        assert_eq!(k.reply("ZREMRANGEBYLEX l [b (d"), int(2));
        assert_eq!(k.reply("ZREMRANGEBYRANK z 0 1"), int(2));
        assert_eq!(k.reply("ZREMRANGEBYSCORE z (3 4"), int(1));
        assert_eq!(k.reply("ZRANGE z 0 -1"), array(&["c", "e"]));
    }
}

#[test]
fn range_errors_as_redis() {
    let mut k = Kit::new();
    k.run("ZADD z 1 a");
    for (line, e) in [
        (
            "ZRANGE z 0 1 LIMIT 0 1",
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ),
        (
            "ZRANGE z 0 1 BYLEX WITHSCORES",
            "ERR syntax error, WITHSCORES not supported in combination with BYLEX",
        ),
        ("ZRANGE z 0 1 BYSCORE BYLEX", "ERR syntax error"),
        ("ZRANGEBYSCORE z x 1", "ERR min or max is not a float"),
        (
            "ZRANGEBYLEX z a b",
            "ERR min or max not valid string range item",
        ),
        ("ZRANGEBYSCORE z 1 2 LIMIT 0", "ERR syntax error"),
        (
            "ZRANGEBYSCORE z 1 2 LIMIT a b",
            "ERR value is not an integer or out of range",
        ),
        ("ZREVRANGE z 0 1 REV", "ERR syntax error"),
        ("ZRANGESTORE d z 0 -1 WITHSCORES", "ERR syntax error"),
        (
            "ZREMRANGEBYLEX z a b",
            "ERR min or max not valid string range item",
        ),
        ("ZCOUNT z x 1", "ERR min or max is not a float"),
    ] {
        assert_eq!(k.reply(line), err(e), "{line}");
    }
}

#[test]
fn pops_and_their_propagation() {
    let mut k = Kit::new();
    k.run("ZADD z 1 a 2 b 3 c 4 d 5 e");
    assert_eq!(k.reply("ZPOPMIN z"), Frame::Array(vec![bulk("a"), d("1")]));
    assert_eq!(k.reply("ZPOPMAX z 2"), pairs(&[("e", "5"), ("d", "4")]));
    assert_eq!(k.logged("ZPOPMIN z 0"), vec![]);
    assert_eq!(k.reply("ZPOPMIN nokey"), Frame::Array(vec![]));
    assert_eq!(
        k.reply("ZPOPMIN z -1"),
        err("ERR value is out of range, must be positive")
    );
    assert_eq!(
        k.logged("ZMPOP 2 nokey z MAX COUNT 5"),
        log(&["ZPOPMAX z 2"])
    );
    assert_eq!(k.reply("EXISTS z"), int(0));
    assert_eq!(k.reply("ZMPOP 1 z MIN"), Frame::NullArray);
    k.run("ZADD z 1 a");
    assert_eq!(
        k.reply("ZMPOP 1 z MIN"),
        Frame::Array(vec![
            bulk("z"),
            Frame::Array(vec![Frame::Array(vec![bulk("a"), d("1")])])
        ])
    );
    assert_eq!(
        k.reply("ZMPOP 0 z MIN"),
        err("ERR numkeys should be greater than 0")
    );
    assert_eq!(
        k.reply("ZMPOP 1 z MIN COUNT 0"),
        err("ERR count should be greater than 0")
    );
    assert_eq!(k.reply("ZMPOP 1 z foo"), err("ERR syntax error"));
    k.run("SET str x");
    assert_eq!(k.reply("ZMPOP 2 nokey str MIN"), err(WRONGTYPE));
}

#[test]
fn algebra_with_weights_aggregates_and_plain_sets() {
    let mut k = Kit::new();
    k.run("ZADD x 1 a 2 b 3 c");
    k.run("ZADD y 10 b 20 c 30 d");
    k.run("SADD s a d");
    assert_eq!(
        k.reply("ZUNION 2 x y WEIGHTS 2 3 WITHSCORES"),
        pairs(&[("a", "2"), ("b", "34"), ("c", "66"), ("d", "90")])
    );
    assert_eq!(
        k.reply("ZINTER 2 x y AGGREGATE MAX WITHSCORES"),
        pairs(&[("b", "10"), ("c", "20")])
    );
    assert_eq!(k.reply("ZINTER 3 x y s"), array(&[]));
    assert_eq!(
        k.reply("ZUNION 2 x s WITHSCORES"),
        pairs(&[("d", "1"), ("a", "2"), ("b", "2"), ("c", "3")])
    );
    assert_eq!(k.reply("ZDIFF 2 x y WITHSCORES"), pairs(&[("a", "1")]));
    assert_eq!(k.reply("ZUNIONSTORE d 2 x y"), int(4));
    assert_eq!(k.reply("OBJECT ENCODING d"), bulk("listpack"));
    assert_eq!(k.logged("ZDIFFSTORE d 2 x x"), log(&["ZDIFFSTORE d 2 x x"]));
    assert_eq!(k.reply("EXISTS d"), int(0));
    k.run("ZADD inf 1 a");
    assert_eq!(
        k.reply("ZUNION 2 x inf WEIGHTS inf 0 WITHSCORES"),
        pairs(&[("a", "inf"), ("b", "inf"), ("c", "inf")])
    );
    assert_eq!(k.reply("ZINTERCARD 2 x y"), int(2));
    assert_eq!(k.reply("ZINTERCARD 2 x y LIMIT 1"), int(1));
    for (line, e) in [
        (
            "ZUNION 0 x",
            "ERR at least 1 input key is needed for 'zunion' command",
        ),
        (
            "ZINTERCARD 0 x",
            "ERR at least 1 input key is needed for 'zintercard' command",
        ),
        ("ZUNION 3 x y", "ERR syntax error"),
        ("ZUNION 1 x WEIGHTS a", "ERR weight value is not a float"),
        ("ZDIFF 2 x y WEIGHTS 1 2", "ERR syntax error"),
        ("ZUNIONSTORE d 1 x WITHSCORES", "ERR syntax error"),
        ("ZINTERCARD 1 x LIMIT -1", "ERR LIMIT can't be negative"),
    ] {
        assert_eq!(k.reply(line), err(e), "{line}");
    }
    k.run("SET str x");
    assert_eq!(k.reply("ZUNION 2 x str"), err(WRONGTYPE));
}

#[test]
fn zrandmember_and_zscan() {
    let mut k = Kit::new();
    assert_eq!(k.reply("ZRANDMEMBER nokey"), Frame::Null);
    assert_eq!(k.reply("ZRANDMEMBER nokey 1"), Frame::Array(vec![]));
    k.run("ZADD z 1 a 2.5 b 1e17 c");
    let Frame::Pairs(all) = k.reply("ZRANDMEMBER z 5 WITHSCORES") else {
        panic!()
    };
    assert_eq!(all.len(), 3);
    let Frame::Array(many) = k.reply("ZRANDMEMBER z -6") else {
        panic!()
    };
    assert_eq!(many.len(), 6);
    assert_eq!(
        k.reply("ZRANDMEMBER z -9223372036854775807 WITHSCORES"),
        err("ERR value is out of range")
    );
    assert_eq!(
        k.reply("ZSCAN z 0"),
        Frame::Array(vec![
            bulk("0"),
            array(&["a", "1", "b", "2.5", "c", "100000000000000000"])
        ])
    );
    assert_eq!(k.reply("ZRANGE z 2 2 WITHSCORES"), pairs(&[("c", "1e+17")]));
}

#[test]
fn wrong_type_everywhere() {
    let mut k = Kit::new();
    k.run("SET str x");
    for line in [
        "ZADD str 1 a",
        "ZINCRBY str 1 a",
        "ZREM str a",
        "ZCARD str",
        "ZSCORE str a",
        "ZMSCORE str a",
        "ZRANK str a",
        "ZCOUNT str 0 1",
        "ZLEXCOUNT str - +",
        "ZRANGE str 0 1",
        "ZRANGESTORE d str 0 1",
        "ZREMRANGEBYRANK str 0 1",
        "ZPOPMIN str",
        "ZRANDMEMBER str",
        "ZSCAN str 0",
    ] {
        assert_eq!(k.reply(line), err(WRONGTYPE), "{line}");
    }
}
