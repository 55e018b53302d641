//! List commands against Redis 7.0's replies, errors and propagation.

use super::testkit::*;
use crate::resp::Frame;

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

#[test]
fn push_pop_range_and_the_empty_list_disappears() {
    let mut k = Kit::new();
    assert_eq!(k.reply("RPUSH l a b c"), int(3));
    assert_eq!(k.reply("LPUSH l z y"), int(5));
    assert_eq!(k.reply("LRANGE l 0 -1"), array(&["y", "z", "a", "b", "c"]));
    assert_eq!(k.reply("LRANGE l -2 100"), array(&["b", "c"]));
    assert_eq!(k.reply("LRANGE l 3 1"), array(&[]));
    assert_eq!(k.reply("LRANGE l -100 0"), array(&["y"]));
    assert_eq!(k.reply("LRANGE nokey 0 -1"), array(&[]));
    assert_eq!(k.reply("LLEN l"), int(5));
    assert_eq!(k.reply("OBJECT ENCODING l"), bulk("quicklist"));
    assert_eq!(k.reply("TYPE l"), simple("list"));
    assert_eq!(k.reply("LPOP l"), bulk("y"));
    assert_eq!(k.reply("RPOP l 2"), array(&["c", "b"]));
    assert_eq!(k.reply("LPOP l 0"), array(&[]));
    assert_eq!(k.reply("LPOP l 10"), array(&["z", "a"]));
    assert_eq!(k.reply("EXISTS l"), int(0));
    assert_eq!(k.reply("LPOP l"), Frame::Null);
    assert_eq!(k.reply("LPOP l 2"), Frame::NullArray);
    assert_eq!(
        k.reply("LPOP l -1"),
        err("ERR value is out of range, must be positive")
    );
    assert_eq!(
        k.reply("LPOP l 1 2"),
        err("ERR wrong number of arguments for 'lpop' command")
    );
    assert_eq!(k.reply("LPUSHX l a"), int(0));
    assert_eq!(k.reply("EXISTS l"), int(0));
    k.run("RPUSH l a");
    assert_eq!(k.reply("RPUSHX l b c"), int(3));
    assert_eq!(k.run("RPUSH l 1 2 3").dirty, 3);
}

#[test]
fn index_set_insert_rem_trim() {
    let mut k = Kit::new();
    k.run("RPUSH l a b a c a");
    assert_eq!(k.reply("LINDEX l -1"), bulk("a"));
    assert_eq!(k.reply("LINDEX l 9"), Frame::Null);
    assert_eq!(
        k.reply("LINDEX l x"),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(k.reply("LSET l 1 B"), ok());
    assert_eq!(k.reply("LSET l 9 B"), err("ERR index out of range"));
    assert_eq!(k.reply("LSET nokey 0 B"), err("ERR no such key"));
    assert_eq!(k.reply("LINSERT l BEFORE c X"), int(6));
    assert_eq!(k.reply("LINSERT l AFTER c Y"), int(7));
    assert_eq!(k.reply("LINSERT l AFTER nothere Y"), int(-1));
    assert_eq!(k.reply("LINSERT nokey AFTER a Y"), int(0));
    assert_eq!(k.reply("LINSERT l MIDDLE a Y"), err("ERR syntax error"));
    assert_eq!(
        k.reply("LRANGE l 0 -1"),
        array(&["a", "B", "a", "X", "c", "Y", "a"])
    );
    assert_eq!(k.reply("LREM l -1 a"), int(1));
    assert_eq!(k.reply("LREM l 1 a"), int(1));
    assert_eq!(k.reply("LRANGE l 0 -1"), array(&["B", "a", "X", "c", "Y"]));
    assert_eq!(k.reply("LREM l 0 zz"), int(0));
    assert_eq!(
        k.logged("LTRIM l 0 -1"),
        vec![],
        "nothing removed, nothing logged"
    );
    assert_eq!(
        k.logged("LTRIM l 1 2"),
        vec![(0, "LTRIM l 1 2".to_string())]
    );
    assert_eq!(k.reply("LRANGE l 0 -1"), array(&["a", "X"]));
    assert_eq!(k.reply("LTRIM l 5 10"), ok());
    assert_eq!(k.reply("EXISTS l"), int(0));
}

#[test]
fn lpos_options() {
    let mut k = Kit::new();
    k.run("RPUSH l a b c 1 2 3 c c");
    assert_eq!(k.reply("LPOS l c"), int(2));
    assert_eq!(k.reply("LPOS l c RANK 2"), int(6));
    assert_eq!(k.reply("LPOS l c RANK -1"), int(7));
    assert_eq!(
        k.reply("LPOS l c COUNT 0"),
        Frame::Array(vec![int(2), int(6), int(7)])
    );
    assert_eq!(
        k.reply("LPOS l c COUNT 2 RANK -1"),
        Frame::Array(vec![int(7), int(6)])
    );
    assert_eq!(
        k.reply("LPOS l c COUNT 0 MAXLEN 3"),
        Frame::Array(vec![int(2)])
    );
    assert_eq!(k.reply("LPOS l zz"), Frame::Null);
    assert_eq!(k.reply("LPOS nokey a COUNT 1"), Frame::Array(vec![]));
    assert!(
        matches!(k.reply("LPOS l c RANK 0"), Frame::Error(e) if e.starts_with("ERR RANK can't be zero"))
    );
    assert_eq!(
        k.reply("LPOS l c COUNT -1"),
        err("ERR COUNT can't be negative")
    );
    assert_eq!(
        k.reply("LPOS l c MAXLEN -1"),
        err("ERR MAXLEN can't be negative")
    );
    assert_eq!(k.reply("LPOS l c FOO 1"), err("ERR syntax error"));
}

#[test]
fn moves_and_mpop_with_their_propagation() {
    let mut k = Kit::new();
    k.run("RPUSH a 1 2 3");
    assert_eq!(k.reply("LMOVE a b LEFT RIGHT"), bulk("1"));
    assert_eq!(k.reply("RPOPLPUSH a b"), bulk("3"));
    assert_eq!(k.reply("LRANGE b 0 -1"), array(&["3", "1"]));
    assert_eq!(
        k.reply("LMOVE a a RIGHT LEFT"),
        bulk("2"),
        "rotation of one"
    );
    assert_eq!(k.reply("LMOVE nokey b LEFT LEFT"), Frame::Null);
    assert_eq!(k.reply("LMOVE a b UP LEFT"), err("ERR syntax error"));
    k.run("SET s x");
    assert_eq!(k.reply("LMOVE a s LEFT LEFT"), err(WRONGTYPE));
    assert_eq!(k.reply("LLEN a"), int(1), "nothing popped on WRONGTYPE");
    assert_eq!(k.reply("RPOPLPUSH a c"), bulk("2"));
    assert_eq!(k.reply("EXISTS a"), int(0));
    assert_eq!(
        k.reply("LMPOP 2 nokey b RIGHT COUNT 5"),
        Frame::Array(vec![bulk("b"), array(&["1", "3"])])
    );
    k.run("RPUSH b x y z");
    assert_eq!(
        k.logged("LMPOP 2 nokey b LEFT COUNT 5"),
        vec![(0, "LPOP b 3".to_string())]
    );
    assert_eq!(k.reply("LMPOP 1 b LEFT"), Frame::NullArray);
    assert_eq!(
        k.reply("LMPOP 0 b LEFT"),
        err("ERR numkeys should be greater than 0")
    );
    assert_eq!(k.reply("LMPOP 3 a b LEFT"), err("ERR syntax error"));
    assert_eq!(
        k.reply("LMPOP 1 b LEFT COUNT 0"),
        err("ERR count should be greater than 0")
    );
    assert_eq!(k.reply("LMPOP 1 s LEFT"), err(WRONGTYPE));
}

#[test]
fn wrong_type_both_ways() {
    let mut k = Kit::new();
    k.run("SET s x");
    for line in [
        "LPUSH s a",
        "RPOP s",
        "LRANGE s 0 1",
        "LLEN s",
        "LINDEX s 0",
        "LSET s 0 a",
        "LREM s 0 a",
        "LTRIM s 0 1",
        "LPOS s a",
        "LPUSHX s a",
    ] {
        assert_eq!(k.reply(line), err(WRONGTYPE), "{line}");
    }
    k.run("RPUSH l a");
    assert_eq!(k.reply("GET l"), err(WRONGTYPE));
    assert_eq!(k.reply("HGET l a"), err(WRONGTYPE));
}

#[test]
fn sort_without_patterns() {
    let mut k = Kit::new();
    k.run("RPUSH l 3 1 2 10 -1.5");
    assert_eq!(k.reply("SORT l"), array(&["-1.5", "1", "2", "3", "10"]));
    assert_eq!(k.reply("SORT l DESC LIMIT 1 2"), array(&["3", "2"]));
    assert_eq!(
        k.reply("SORT l ALPHA"),
        array(&["-1.5", "1", "10", "2", "3"])
    );
    assert_eq!(
        k.reply("SORT l BY nosort"),
        array(&["3", "1", "2", "10", "-1.5"])
    );
    assert_eq!(k.reply("SORT l LIMIT 10 5"), array(&[]));
    assert_eq!(k.reply("SORT nokey"), array(&[]));
    k.run("RPUSH words b a");
    assert_eq!(
        k.reply("SORT words"),
        err("ERR One or more scores can't be converted into double")
    );
    assert_eq!(
        k.logged("SORT l STORE dst"),
        vec![(0, "SORT l STORE dst".to_string())]
    );
    assert_eq!(
        k.reply("LRANGE dst 0 -1"),
        array(&["-1.5", "1", "2", "3", "10"])
    );
    assert_eq!(k.reply("SORT nokey STORE dst"), int(0));
    assert_eq!(k.reply("EXISTS dst"), int(0));
    assert_eq!(k.logged("SORT_RO l"), vec![]);
    assert_eq!(k.reply("SORT_RO l STORE dst"), err("ERR syntax error"));
    assert!(matches!(k.reply("SORT l BY w_*"), Frame::Error(_)));
    k.run("SET s x");
    assert_eq!(k.reply("SORT s"), err(WRONGTYPE));
}
