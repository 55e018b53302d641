//! Hash commands against Redis 7.0's replies, errors, encodings and propagation.

use super::testkit::*;
use crate::resp::Frame;

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

fn pairs(items: &[(&str, &str)]) -> Frame {
    Frame::Map(items.iter().map(|(f, v)| (bulk(f), bulk(v))).collect())
}

#[test]
fn hset_hget_hdel_and_the_empty_hash_disappears() {
    let mut k = Kit::new();
    assert_eq!(k.reply("HSET h a 1 b 2"), int(2));
    assert_eq!(k.reply("HSET h a 3 c 4"), int(1));
    assert_eq!(k.reply("HGET h a"), bulk("3"));
    assert_eq!(k.reply("HGET h zz"), Frame::Null);
    assert_eq!(k.reply("HGET nokey a"), Frame::Null);
    assert_eq!(k.reply("HLEN h"), int(3));
    assert_eq!(
        k.reply("HGETALL h"),
        pairs(&[("a", "3"), ("b", "2"), ("c", "4")])
    );
    assert_eq!(k.reply("HKEYS h"), array(&["a", "b", "c"]));
    assert_eq!(k.reply("HVALS h"), array(&["3", "2", "4"]));
    assert_eq!(k.reply("HGETALL nokey"), Frame::Map(Vec::new()));
    assert_eq!(
        k.reply("HMGET h a zz"),
        Frame::Array(vec![bulk("3"), Frame::Null])
    );
    assert_eq!(k.reply("HMGET nokey a"), Frame::Array(vec![Frame::Null]));
    assert_eq!(k.reply("HEXISTS h b"), int(1));
    assert_eq!(k.reply("HSTRLEN h a"), int(1));
    assert_eq!(k.reply("HSTRLEN h zz"), int(0));
    assert_eq!(k.reply("HDEL h a zz b"), int(2));
    assert_eq!(k.reply("TYPE h"), simple("hash"));
    assert_eq!(k.reply("HDEL h c"), int(1));
    assert_eq!(k.reply("EXISTS h"), int(0));
    assert_eq!(k.reply("HDEL h c"), int(0));
}

#[test]
fn arity_and_wrong_type() {
    let mut k = Kit::new();
    assert_eq!(
        k.reply("HSET h a"),
        err("ERR wrong number of arguments for 'hset' command")
    );
    assert_eq!(
        k.reply("HMSET h a 1 b"),
        err("ERR wrong number of arguments for 'hmset' command")
    );
    k.run("SET s x");
    for line in [
        "HSET s a 1",
        "HGET s a",
        "HMGET s a",
        "HDEL s a",
        "HLEN s",
        "HGETALL s",
        "HINCRBY s a 1",
        "HINCRBYFLOAT s a 1",
        "HRANDFIELD s",
        "HSCAN s 0",
        "HSETNX s a 1",
    ] {
        assert_eq!(k.reply(line), err(WRONGTYPE), "{line}");
    }
    k.run("HSET h a 1");
    for line in [
        "GET h",
        "APPEND h x",
        "INCR h",
        "STRLEN h",
        "GETRANGE h 0 1",
    ] {
        assert_eq!(k.reply(line), err(WRONGTYPE), "{line}");
    }
    assert_eq!(k.reply("SET h x"), ok(), "SET overwrites any type");
}

#[test]
fn counters_and_their_propagation() {
    let mut k = Kit::new();
    assert_eq!(k.reply("HINCRBY h n 5"), int(5));
    assert_eq!(k.reply("HINCRBY h n -7"), int(-2));
    k.run("HSET h s abc big 9223372036854775807");
    assert_eq!(
        k.reply("HINCRBY h s 1"),
        err("ERR hash value is not an integer")
    );
    assert_eq!(
        k.reply("HINCRBY h big 1"),
        err("ERR increment or decrement would overflow")
    );
    assert_eq!(
        k.reply("HINCRBY h n x"),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(k.reply("HINCRBYFLOAT h f 10.5"), bulk("10.5"));
    assert_eq!(
        k.logged("HINCRBYFLOAT h f 0.1"),
        vec![(0, "HSET h f 10.6".to_string())]
    );
    assert_eq!(
        k.reply("HINCRBYFLOAT h s 1"),
        err("ERR hash value is not a float")
    );
    assert_eq!(
        k.reply("HINCRBYFLOAT h f x"),
        err("ERR value is not a valid float")
    );
    assert_eq!(
        k.reply("HINCRBYFLOAT h f inf"),
        err("ERR value is NaN or Infinity")
    );
    k.run("HSET h huge 1.7e308");
    assert_eq!(
        k.reply("HINCRBYFLOAT h huge 1.7e308"),
        err("ERR increment would produce NaN or Infinity")
    );
    assert_eq!(
        k.logged("HINCRBY h n 1"),
        vec![(0, "HINCRBY h n 1".to_string())]
    );
    assert_eq!(k.logged("HSETNX h n 1"), vec![]);
    assert_eq!(k.reply("HSETNX h new 1"), int(1));
    assert_eq!(k.run("HSET h a 1 b 2").dirty, 2);
    assert_eq!(k.logged("HDEL h nothere"), vec![]);
}

#[test]
fn encodings_follow_the_limits() {
    let mut k = Kit::new();
    k.run("HSET h a 1");
    assert_eq!(k.reply("OBJECT ENCODING h"), bulk("listpack"));
    k.ks.limits.hash_max_listpack_entries = 2;
    k.run("HSET h b 2");
    assert_eq!(k.reply("OBJECT ENCODING h"), bulk("listpack"));
    k.run("HSET h c 3");
    assert_eq!(k.reply("OBJECT ENCODING h"), bulk("hashtable"));
    let long = "v".repeat(65);
    k.run(&format!("HSET g f {long}"));
    assert_eq!(k.reply("OBJECT ENCODING g"), bulk("hashtable"));
}

#[test]
fn hrandfield_counts_and_shapes() {
    let mut k = Kit::new();
    assert_eq!(k.reply("HRANDFIELD nokey"), Frame::Null);
    assert_eq!(k.reply("HRANDFIELD nokey 3"), Frame::Array(vec![]));
    k.run("HSET h a 1 b 2 c 3 d 4");
    let Frame::Bulk(one) = k.reply("HRANDFIELD h") else {
        panic!()
    };
    assert!(["a", "b", "c", "d"].contains(&std::str::from_utf8(&one).unwrap()));
    let Frame::Array(three) = k.reply("HRANDFIELD h 3") else {
        panic!()
    };
    let mut seen: Vec<_> = three.clone();
    seen.sort_by_key(|f| format!("{f:?}"));
    seen.dedup();
    assert_eq!((three.len(), seen.len()), (3, 3), "distinct");
    let Frame::Array(all) = k.reply("HRANDFIELD h 10") else {
        panic!()
    };
    assert_eq!(all.len(), 4);
    let Frame::Array(repeats) = k.reply("HRANDFIELD h -10") else {
        panic!()
    };
    assert_eq!(repeats.len(), 10);
    let Frame::Pairs(with) = k.reply("HRANDFIELD h 2 WITHVALUES") else {
        panic!()
    };
    assert_eq!(with.len(), 2);
    assert_eq!(k.reply("HRANDFIELD h 0"), Frame::Array(vec![]));
    assert_eq!(k.reply("HRANDFIELD h 1 x"), err("ERR syntax error"));
}

#[test]
fn hscan_pages_a_large_hash_and_returns_a_small_one_whole() {
    let mut k = Kit::new();
    k.run("HSET small a 1 b 2");
    let page = k.reply("HSCAN small 0 COUNT 1");
    let expected = Frame::Array(vec![bulk("0"), array(&["a", "1", "b", "2"])]);
    assert_eq!(page, expected);
    k.ks.limits.hash_max_listpack_entries = 4;
    for i in 0..30 {
        k.run(&format!("HSET big f{i:02} v{i}"));
    }
    let (mut cursor, mut fields) = ("0".to_string(), Vec::new());
    loop {
        let Frame::Array(page) = k.reply(&format!("HSCAN big {cursor} COUNT 7 MATCH f*")) else {
            panic!()
        };
        let [Frame::Bulk(next), Frame::Array(items)] = &page[..] else {
            panic!()
        };
        assert!(items.len() <= 14);
        fields.extend(items.chunks(2).map(|p| p[0].clone()));
        cursor = String::from_utf8_lossy(next).into_owned();
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(fields.len(), 30);
    assert_eq!(k.reply("HSCAN big x"), err("ERR invalid cursor"));
    assert_eq!(k.reply("HSCAN big 0 COUNT 0"), err("ERR syntax error"));
}
