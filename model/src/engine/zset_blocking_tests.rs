//! Engine scenarios for BZPOPMIN, BZPOPMAX and BZMPOP: served by a ZADD in blocking order,
//! timeouts, MULTI answering at once, and a list push not waking a sorted-set waiter.

use bytes::Bytes;

use super::tests::{config, Rig};
use crate::config::FsyncPolicy;
use crate::resp::Frame;

fn b(s: &str) -> Frame {
    Frame::Bulk(Bytes::copy_from_slice(s.as_bytes()))
}

fn d(s: &str) -> Frame {
    Frame::Double(s.to_string())
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
fn a_zadd_serves_the_blocked_clients_in_order() {
    let mut rig = Rig::start(config(FsyncPolicy::No));
    rig.send(1, "BZPOPMIN z 0");
    rig.send(3, "BZMPOP 0 2 y z MAX COUNT 5");
    rig.send(4, "BZPOPMAX z 0");
    assert_eq!(replies_of(&mut rig, 1), vec![]);
    rig.send(2, "RPUSH z notazset");
    rig.send(2, "DEL z");
    assert_eq!(
        replies_of(&mut rig, 1),
        vec![],
        "a list does not serve a zset pop"
    );
    rig.send(2, "ZADD z 1 a 2 b 3 c");
    assert_eq!(
        replies_of(&mut rig, 1),
        vec![Frame::Array(vec![b("z"), b("a"), d("1")])]
    );
    let pairs = |items: &[(&str, &str)]| {
        Frame::Array(
            items
                .iter()
                .map(|(m, s)| Frame::Array(vec![b(m), d(s)]))
                .collect(),
        )
    };
    assert_eq!(
        replies_of(&mut rig, 3),
        vec![Frame::Array(vec![b("z"), pairs(&[("c", "3"), ("b", "2")])])]
    );
    assert_eq!(replies_of(&mut rig, 4), vec![], "z is empty again");
    rig.send(2, "ZADD z 7 q");
    assert_eq!(
        replies_of(&mut rig, 4),
        vec![Frame::Array(vec![b("z"), b("q"), d("7")])]
    );
}

#[test]
fn timeouts_and_multi() {
    let mut rig = Rig::start(config(FsyncPolicy::No));
    rig.send(1, "BZPOPMAX z 0.5");
    rig.tick(400);
    assert_eq!(replies_of(&mut rig, 1), vec![]);
    rig.tick(200);
    assert_eq!(replies_of(&mut rig, 1), vec![Frame::NullArray]);
    rig.send(1, "MULTI");
    rig.send(1, "BZPOPMIN z 0");
    rig.send(1, "BZMPOP 0 1 z MIN");
    rig.send(1, "EXEC");
    assert_eq!(
        replies_of(&mut rig, 1).last(),
        Some(&Frame::Array(vec![Frame::NullArray, Frame::NullArray]))
    );
    rig.send(1, "BZPOPMIN z -1");
    rig.send(1, "BZPOPMIN z x");
    assert_eq!(
        replies_of(&mut rig, 1),
        vec![
            Frame::error("ERR timeout is negative"),
            Frame::error("ERR timeout is not a float or out of range")
        ]
    );
}
