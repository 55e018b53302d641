//! Set commands against Redis 7.0's replies, errors, encodings and propagation (the expected
//! values were taken from redis-server 7.0.15).

use super::testkit::*;
use crate::resp::Frame;

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

fn set(items: &[&str]) -> Frame {
    Frame::Set(items.iter().map(|s| bulk(s)).collect())
}

fn log(items: &[&str]) -> Vec<(usize, String)> {
    items.iter().map(|s| (0, s.to_string())).collect()
}

#[test]
fn sadd_srem_membership_and_the_empty_set_disappears() {
    let mut k = Kit::new();
    assert_eq!(k.reply("SADD s 3 1 2"), int(3));
    assert_eq!(k.reply("SADD s 2 4"), int(1));
    assert_eq!(k.reply("SMEMBERS s"), set(&["1", "2", "3", "4"]));
    assert_eq!(k.reply("SISMEMBER s 2"), int(1));
    assert_eq!(k.reply("SISMEMBER s 9"), int(0));
    assert_eq!(
        k.reply("SMISMEMBER s 1 9 2"),
        Frame::Array(vec![int(1), int(0), int(1)])
    );
    assert_eq!(k.reply("SCARD s"), int(4));
    assert_eq!(k.reply("SCARD nokey"), int(0));
    assert_eq!(k.reply("SMEMBERS nokey"), set(&[]));
    assert_eq!(k.reply("SREM s 1 zz 2"), int(2));
    assert_eq!(k.logged("SREM s zz"), vec![]);
    assert_eq!(k.reply("TYPE s"), simple("set"));
    assert_eq!(k.reply("SREM s 3 4"), int(2));
    assert_eq!(k.reply("EXISTS s"), int(0));
}

#[test]
fn intset_converts_on_a_string_member_or_past_the_limit_for_good() {
    let mut k = Kit::new();
    k.run("SADD s 1 2");
    assert_eq!(k.reply("OBJECT ENCODING s"), bulk("intset"));
    k.run("SADD s 007");
    assert_eq!(k.reply("OBJECT ENCODING s"), bulk("hashtable"));
    k.run("SREM s 007");
    assert_eq!(k.reply("OBJECT ENCODING s"), bulk("hashtable"));
    k.ks.limits.set_max_intset_entries = 3;
    k.run("SADD t 1 2 3");
    assert_eq!(k.reply("OBJECT ENCODING t"), bulk("intset"));
    k.run("SADD t 4");
    assert_eq!(k.reply("OBJECT ENCODING t"), bulk("hashtable"));
    assert_eq!(k.reply("SADD u a"), int(1));
    assert_eq!(k.reply("OBJECT ENCODING u"), bulk("hashtable"));
}

#[test]
fn algebra_and_stores() {
    let mut k = Kit::new();
    k.run("SADD a 1 2 3 4");
    k.run("SADD b 3 4 5");
    k.run("SADD c x 3");
    assert_eq!(k.reply("SINTER a b"), set(&["3", "4"]));
    assert_eq!(k.reply("SINTER a b c"), set(&["3"]));
    assert_eq!(k.reply("SINTER a nokey"), set(&[]));
    assert_eq!(k.reply("SUNION a c"), set(&["1", "2", "3", "4", "x"]));
    assert_eq!(k.reply("SDIFF a b c"), set(&["1", "2"]));
    assert_eq!(k.reply("SDIFF nokey a"), set(&[]));
    assert_eq!(k.reply("SINTERSTORE d a b"), int(2));
    assert_eq!(k.reply("OBJECT ENCODING d"), bulk("intset"));
    assert_eq!(k.reply("SUNIONSTORE d a c"), int(5));
    assert_eq!(k.reply("OBJECT ENCODING d"), bulk("hashtable"));
    assert_eq!(k.reply("SDIFFSTORE d a b"), int(2));
    assert_eq!(k.reply("SMEMBERS d"), set(&["1", "2"]));
    assert_eq!(
        k.logged("SINTERSTORE d a nokey"),
        log(&["SINTERSTORE d a nokey"])
    );
    assert_eq!(k.reply("EXISTS d"), int(0));
    assert_eq!(k.logged("SINTERSTORE d a nokey"), vec![], "nothing deleted");
    k.run("SET str x");
    assert_eq!(k.reply("SINTER nokey str"), err(WRONGTYPE));
    assert_eq!(
        k.reply("SUNIONSTORE str a"),
        int(4),
        "a store replaces any type"
    );
    assert_eq!(k.reply("TYPE str"), simple("set"));
    assert_eq!(k.reply("SINTERCARD 2 a b"), int(2));
    assert_eq!(k.reply("SINTERCARD 2 a b LIMIT 1"), int(1));
    assert_eq!(
        k.reply("SINTERCARD x a"),
        err("ERR numkeys should be greater than 0")
    );
    assert_eq!(
        k.reply("SINTERCARD 3 a b"),
        err("ERR Number of keys can't be greater than number of args")
    );
    assert_eq!(
        k.reply("SINTERCARD 1 a LIMIT -1"),
        err("ERR LIMIT can't be negative")
    );
    assert_eq!(k.reply("SINTERCARD 1 a foo"), err("ERR syntax error"));
}

#[test]
fn smove_between_sets() {
    let mut k = Kit::new();
    k.run("SADD a 1 2 3");
    k.run("SET str x");
    assert_eq!(k.reply("SMOVE a b 1"), int(1));
    assert_eq!(k.reply("SMOVE a b 1"), int(0));
    assert_eq!(k.reply("SMOVE a a 2"), int(1));
    assert_eq!(k.reply("SMOVE a a 9"), int(0));
    assert_eq!(k.reply("SMOVE nokey a 1"), int(0));
    assert_eq!(k.reply("SMOVE a str 2"), err(WRONGTYPE));
    assert_eq!(k.reply("SMOVE str a 2"), err(WRONGTYPE));
    assert_eq!(k.logged("SMOVE a b 2"), log(&["SMOVE a b 2"]));
    k.run("SADD b 3");
    k.run_as(2, "WATCH b");
    k.run_as(2, "MULTI");
    assert_eq!(k.reply("SMOVE a b 3"), int(1));
    assert_ne!(
        k.run_as(2, "EXEC").reply,
        Frame::NullArray,
        "b did not change, so the WATCH holds"
    );
    assert_eq!(k.reply("EXISTS a"), int(0));
    assert_eq!(k.reply("SMEMBERS b"), set(&["1", "2", "3"]));
}

#[test]
fn spop_propagates_as_srem_or_del() {
    let mut k = Kit::new();
    k.run("SADD s 5");
    assert_eq!(k.logged("SPOP s"), log(&["SREM s 5"]));
    assert_eq!(k.reply("SPOP s"), Frame::Null);
    k.run("SADD s 1 2 3 4");
    let out = k.run("SPOP s 2");
    let Frame::Set(popped) = &out.reply else {
        panic!("{:?}", out.reply)
    };
    assert_eq!(popped.len(), 2);
    let words = logged(&out);
    assert_eq!(words.len(), 4, "{words:?}");
    assert_eq!(
        (words[0].1.as_str(), words[3].1.as_str()),
        ("MULTI", "EXEC")
    );
    for (i, f) in popped.iter().enumerate() {
        let Frame::Bulk(m) = f else { panic!() };
        assert_eq!(
            words[i + 1].1,
            format!("SREM s {}", String::from_utf8_lossy(m))
        );
        assert_eq!(
            k.reply(&format!("SISMEMBER s {}", String::from_utf8_lossy(m))),
            int(0)
        );
    }
    assert_eq!(k.reply("SCARD s"), int(2));
    assert_eq!(k.logged("SPOP s 10"), log(&["DEL s"]));
    assert_eq!(k.reply("SPOP s 1"), set(&[]));
    k.run("SADD s 1");
    assert_eq!(k.logged("SPOP s 0"), vec![]);
    assert_eq!(
        k.reply("SPOP s -1"),
        err("ERR value is out of range, must be positive")
    );
    assert_eq!(
        k.reply("SPOP s x"),
        err("ERR value is out of range, must be positive")
    );
    assert_eq!(k.reply("SPOP s 1 2"), err("ERR syntax error"));
}

#[test]
fn srandmember_counts() {
    let mut k = Kit::new();
    assert_eq!(k.reply("SRANDMEMBER nokey"), Frame::Null);
    assert_eq!(k.reply("SRANDMEMBER nokey 3"), Frame::Array(vec![]));
    k.run("SADD s a b c");
    let Frame::Array(all) = k.reply("SRANDMEMBER s 10") else {
        panic!()
    };
    assert_eq!(all.len(), 3);
    let Frame::Array(two) = k.reply("SRANDMEMBER s 2") else {
        panic!()
    };
    assert!(two.len() == 2 && two[0] != two[1]);
    let Frame::Array(many) = k.reply("SRANDMEMBER s -7") else {
        panic!()
    };
    assert_eq!(many.len(), 7);
    assert_eq!(k.reply("SRANDMEMBER s 0"), Frame::Array(vec![]));
    assert_eq!(
        k.reply("SRANDMEMBER s -9223372036854775808"),
        err("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
    );
    assert_eq!(k.logged("SRANDMEMBER s 2"), vec![]);
}

#[test]
fn sscan_pages_a_large_set_and_returns_an_intset_whole() {
    let mut k = Kit::new();
    k.run("SADD i 1 2 3");
    let Frame::Array(reply) = k.reply("SSCAN i 0 COUNT 1") else {
        panic!()
    };
    assert_eq!(reply[0], bulk("0"));
    assert_eq!(reply[1], array(&["1", "2", "3"]));
    let members: Vec<String> = (0..25).map(|i| format!("m{i:02}")).collect();
    k.run(&format!("SADD t {}", members.join(" ")));
    let (mut cursor, mut seen) = ("0".to_string(), Vec::new());
    loop {
        let Frame::Array(reply) = k.reply(&format!("SSCAN t {cursor} COUNT 10")) else {
            panic!()
        };
        let Frame::Bulk(next) = &reply[0] else {
            panic!()
        };
        let Frame::Array(items) = &reply[1] else {
            panic!()
        };
        seen.extend(items.iter().cloned());
        cursor = String::from_utf8_lossy(next).into_owned();
        if cursor == "0" {
            break;
        }
    }
    // Every member exactly once, in the table's (hash) order: sorted, they are the members.
    let mut seen: Vec<String> = seen
        .iter()
        .map(|f| match f {
            Frame::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
            other => panic!("{other:?}"),
        })
        .collect();
    seen.sort();
    assert_eq!(seen, members);
    let Frame::Array(reply) = k.reply("SSCAN t 0 MATCH m1* COUNT 100") else {
        panic!()
    };
    let Frame::Array(items) = &reply[1] else {
        panic!()
    };
    assert_eq!(items.len(), 10);
    assert_eq!(k.reply("SSCAN t x"), err("ERR invalid cursor"));
    assert_eq!(k.reply("SSCAN t 0 COUNT 0"), err("ERR syntax error"));
}

#[test]
fn wrong_type_everywhere() {
    let mut k = Kit::new();
    k.run("SET str x");
    for line in [
        "SADD str a",
        "SREM str a",
        "SMEMBERS str",
        "SISMEMBER str a",
        "SMISMEMBER str a",
        "SCARD str",
        "SPOP str",
        "SPOP str 2",
        "SRANDMEMBER str",
        "SRANDMEMBER str 2",
        "SUNION str",
        "SDIFF str",
        "SINTERCARD 1 str",
        "SSCAN str 0",
    ] {
        assert_eq!(k.reply(line), err(WRONGTYPE), "{line}");
    }
    k.run("SADD s a");
    assert_eq!(k.reply("GET s"), err(WRONGTYPE));
}
