//! Engine scenarios for blocked clients: served on a push in blocking order, later requests
//! held behind the blocked one, timeouts, MULTI, chains through BLMOVE, disconnects.

use bytes::Bytes;

use super::tests::{config, Rig};
use crate::config::FsyncPolicy;
use crate::resp::Frame;

fn rig() -> Rig {
    Rig::start(config(FsyncPolicy::No))
}

fn b(s: &str) -> Frame {
    Frame::Bulk(Bytes::copy_from_slice(s.as_bytes()))
}

fn pair(key: &str, value: &str) -> Frame {
    Frame::Array(vec![b(key), b(value)])
}

fn replies_of(rig: &mut Rig, client: u64) -> Vec<Frame> {
    rig.settle();
    let (mine, others): (Vec<_>, Vec<_>) = std::mem::take(&mut rig.replies)
        .into_iter()
        .partition(|(c, _)| *c == client);
    rig.replies = others;
    mine.into_iter()
        .filter_map(|(_, r)| r.frame().cloned())
        .collect()
}

#[test]
fn a_push_serves_the_first_blocked_client_and_releases_its_held_requests() {
    let mut rig = rig();
    rig.send(1, "BLPOP q 0");
    rig.send(1, "GET x");
    rig.send(3, "BRPOP q 0");
    assert_eq!(replies_of(&mut rig, 1), vec![], "blocked, GET held behind");
    rig.send(2, "RPUSH q a");
    assert_eq!(replies_of(&mut rig, 2), vec![Frame::Integer(1)]);
    assert_eq!(replies_of(&mut rig, 1), vec![pair("q", "a"), Frame::Null]);
    assert_eq!(replies_of(&mut rig, 3), vec![], "the list is empty again");
    rig.send(2, "RPUSH q b c");
    assert_eq!(replies_of(&mut rig, 3), vec![pair("q", "c")]);
    rig.send(2, "LRANGE q 0 -1");
    assert_eq!(
        replies_of(&mut rig, 2),
        vec![Frame::Integer(2), Frame::Array(vec![b("b")])]
    );
}

#[test]
fn timeouts_multi_and_disconnects() {
    let mut rig = rig();
    rig.send(1, "BLPOP q 1.5");
    rig.tick(1000);
    assert_eq!(replies_of(&mut rig, 1), vec![]);
    assert_eq!(rig.engine.poll_timeout().map(|t| t <= 1500), Some(true));
    rig.tick(600);
    assert_eq!(replies_of(&mut rig, 1), vec![Frame::NullArray]);
    rig.send(1, "MULTI");
    rig.send(1, "BLPOP q 0");
    rig.send(1, "BLMOVE q d LEFT LEFT 0");
    rig.send(1, "EXEC");
    let replies = replies_of(&mut rig, 1);
    assert_eq!(
        replies.last(),
        Some(&Frame::Array(vec![Frame::NullArray, Frame::Null]))
    );
    rig.send(4, "BLPOP q 0");
    rig.engine.handle_client_closed(4);
    rig.send(2, "RPUSH q a");
    assert_eq!(
        replies_of(&mut rig, 4),
        vec![],
        "a closed client is never served"
    );
    rig.send(2, "LLEN q");
    assert_eq!(
        replies_of(&mut rig, 2),
        vec![Frame::Integer(1), Frame::Integer(1)]
    );
    assert_eq!(
        rig.engine.keyspace().dbs[0]
            .get(b"q")
            .map(|e| e.value.type_name()),
        Some("list")
    );
    rig.send(2, "BLPOP q -1");
    assert_eq!(
        replies_of(&mut rig, 2),
        vec![Frame::error("ERR timeout is negative")]
    );
}

#[test]
fn a_blmove_push_serves_the_next_waiter() {
    let mut rig = rig();
    rig.send(1, "BLMOVE src mid RIGHT LEFT 0");
    rig.send(3, "BRPOPLPUSH mid dst 0");
    rig.send(5, "BLMPOP 0 1 dst LEFT COUNT 5");
    rig.send(2, "LPUSH src x");
    assert_eq!(replies_of(&mut rig, 1), vec![b("x")]);
    assert_eq!(replies_of(&mut rig, 3), vec![b("x")]);
    assert_eq!(
        replies_of(&mut rig, 5),
        vec![Frame::Array(vec![b("dst"), Frame::Array(vec![b("x")])])]
    );
    rig.send(2, "EXISTS src mid dst");
    assert_eq!(
        replies_of(&mut rig, 2),
        vec![Frame::Integer(1), Frame::Integer(0)]
    );
}

/// Redis's "BRPOPLPUSH with multiple blocked clients": the first waiter's destination has
/// the wrong type, so it gets WRONGTYPE and the element goes to the second.
#[test]
fn a_wrongtype_destination_answers_and_the_next_waiter_is_served() {
    let mut rig = rig();
    rig.send(2, "SET target1 nolist");
    rig.send(1, "BRPOPLPUSH blist target1 0");
    rig.send(3, "BRPOPLPUSH blist target2 0");
    rig.send(2, "LPUSH blist foo");
    let wrongtype = "WRONGTYPE Operation against a key holding the wrong kind of value";
    assert_eq!(replies_of(&mut rig, 1), vec![Frame::error(wrongtype)]);
    assert_eq!(replies_of(&mut rig, 3), vec![b("foo")]);
    rig.send(2, "LRANGE target2 0 -1");
    let replies = replies_of(&mut rig, 2);
    assert_eq!(replies.last(), Some(&Frame::Array(vec![b("foo")])));
}
