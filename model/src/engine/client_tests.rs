//! Engine scenarios for the connection commands: the protocol each reply is released in,
//! CLIENT REPLY, KILL, PAUSE and RESET, driven with the `Rig` of `tests.rs`.

use bytes::Bytes;

use super::tests::{config, Rig};
use super::{ClientAddr, Reply};
use crate::config::FsyncPolicy;
use crate::resp::{Frame, Protocol};

fn rig() -> Rig {
    Rig::start(config(FsyncPolicy::No))
}

/// Every reply released once the disk completed what the commands wrote.
fn take(rig: &mut Rig) -> Vec<(u64, Reply)> {
    rig.settle();
    std::mem::take(&mut rig.replies)
}

fn frame(frame: Frame, proto: Protocol) -> Reply {
    Reply::Frame { frame, proto }
}

/// Replies before HELLO 3 are RESP2; HELLO's own reply and later ones RESP3; RESET and
/// HELLO 2 go back. The protocol is the one of the moment each command ran, even in one batch.
#[test]
fn each_reply_carries_the_protocol_of_its_moment() {
    let mut rig = rig();
    for line in [
        "GET a", "HELLO 3", "GET a", "HELLO 2", "GET a", "HELLO 3", "RESET", "GET a",
    ] {
        rig.engine
            .handle_command(rig.now_ms, 1, super::tests::argv(line));
    }
    rig.pump();
    let protos: Vec<Protocol> = take(&mut rig)
        .into_iter()
        .map(|(_, r)| match r {
            Reply::Frame { proto, .. } => proto,
            other => panic!("{other:?}"),
        })
        .collect();
    use Protocol::{Resp2 as P2, Resp3 as P3};
    assert_eq!(protos, [P2, P3, P3, P2, P2, P3, P2, P2]);
}

#[test]
fn hello_replies_a_map_and_refuses_other_versions() {
    let mut rig = rig();
    rig.send(7, "HELLO 3 SETNAME app");
    let replies = rig.take_replies();
    let Frame::Map(fields) = &replies[0] else {
        panic!("{replies:?}")
    };
    let keys: Vec<&Frame> = fields.iter().map(|(k, _)| k).collect();
    let names = [
        "server", "version", "proto", "id", "mode", "role", "modules",
    ];
    let want: Vec<Frame> = names
        .iter()
        .map(|n| Frame::Bulk(Bytes::from_static(n.as_bytes())))
        .collect();
    assert_eq!(keys, want.iter().collect::<Vec<_>>());
    assert_eq!(fields[2].1, Frame::Integer(3));
    assert_eq!(fields[3].1, Frame::Integer(7));
    rig.send(7, "HELLO 4");
    rig.send(7, "HELLO three");
    rig.send(7, "CLIENT GETNAME");
    assert_eq!(
        rig.take_replies(),
        [
            Frame::error("NOPROTO unsupported protocol version"),
            Frame::error("ERR Protocol version is not an integer or out of range"),
            Frame::Bulk(Bytes::from_static(b"app")),
        ]
    );
}

#[test]
fn hello_with_a_password_needs_auth() {
    let mut rig = Rig::start(crate::config::Config {
        requirepass: Some("pw".into()),
        ..config(FsyncPolicy::No)
    });
    rig.send(1, "HELLO 3");
    let replies = rig.take_replies();
    assert!(matches!(&replies[0], Frame::Error(e) if e.starts_with("NOAUTH HELLO must be called")));
    rig.send(1, "HELLO 3 AUTH default nope");
    rig.send(1, "HELLO 3 AUTH default pw");
    let replies = rig.take_replies();
    assert!(matches!(&replies[0], Frame::Error(e) if e.starts_with("WRONGPASS")));
    assert!(matches!(&replies[1], Frame::Map(_)));
    // RESET forgets the authentication when a password is set.
    rig.send(1, "RESET");
    rig.send(1, "GET a");
    let replies = rig.take_replies();
    assert_eq!(replies[0], Frame::Simple("RESET".into()));
    assert!(matches!(&replies[1], Frame::Error(e) if e.starts_with("NOAUTH")));
}

/// OFF answers nothing until ON; SKIP drops its own reply and the next one only. Every
/// request still gets exactly one `Reply`, so a connection can count what is in flight.
#[test]
fn client_reply_off_and_skip_silence_replies() {
    let mut rig = rig();
    for line in [
        "CLIENT REPLY OFF",
        "SET a 1",
        "CLIENT REPLY ON",
        "CLIENT REPLY SKIP",
        "GET a",
        "GET a",
    ] {
        rig.send(1, line);
    }
    let ok = || frame(Frame::ok(), Protocol::Resp2);
    let one = frame(Frame::Bulk(Bytes::from_static(b"1")), Protocol::Resp2);
    let replies: Vec<Reply> = take(&mut rig).into_iter().map(|(_, r)| r).collect();
    assert_eq!(
        replies,
        [
            Reply::Silent,
            Reply::Silent,
            ok(),
            Reply::Silent,
            Reply::Silent,
            one
        ]
    );
}

/// KILL closes the victim after its pending replies; its later requests are dropped; the
/// killer gets the count (new form) or +OK (old form, by address).
#[test]
fn client_kill_closes_the_victim_after_its_replies() {
    let mut rig = rig();
    let addr = |port: u16| ClientAddr {
        addr: format!("127.0.0.1:{port}"),
        laddr: "127.0.0.1:6379".into(),
        fd: 9,
    };
    rig.engine.handle_client_opened(rig.now_ms, 1, addr(5001));
    rig.engine.handle_client_opened(rig.now_ms, 2, addr(5002));
    rig.send(1, "PING");
    rig.send(2, "CLIENT KILL ID 1");
    rig.send(1, "PING");
    rig.send(2, "CLIENT KILL 127.0.0.1:5001");
    let pong = frame(Frame::Simple("PONG".into()), Protocol::Resp2);
    assert_eq!(
        take(&mut rig),
        [
            (1, pong),
            (1, Reply::Close),
            (2, frame(Frame::Integer(1), Protocol::Resp2)),
            (
                2,
                frame(Frame::error("ERR No such client"), Protocol::Resp2)
            ),
        ]
    );
    rig.engine.handle_client_closed(1);
    // The old form may kill its own client: the reply first, then the close.
    rig.send(2, "CLIENT KILL 127.0.0.1:5002");
    let replies = take(&mut rig);
    assert_eq!(
        replies,
        [(2, frame(Frame::ok(), Protocol::Resp2)), (2, Reply::Close)]
    );
}

/// PAUSE WRITE holds writes (and what the same client sends after one) until UNPAUSE; reads
/// of other clients pass. PAUSE ALL holds everything until its deadline.
#[test]
fn client_pause_holds_until_unpause_or_deadline() {
    let mut rig = rig();
    rig.send(1, "CLIENT PAUSE 10000 WRITE");
    rig.send(2, "SET a 1");
    rig.send(2, "GET a");
    rig.send(3, "GET a");
    assert_eq!(rig.take_replies(), [Frame::ok(), Frame::Null]);
    rig.send(1, "CLIENT UNPAUSE");
    rig.settle();
    let one = Frame::Bulk(Bytes::from_static(b"1"));
    assert_eq!(rig.take_replies(), [Frame::ok(), Frame::ok(), one.clone()]);
    rig.send(1, "CLIENT PAUSE 500 ALL");
    rig.send(1, "CLIENT UNPAUSE");
    rig.send(2, "GET a");
    assert_eq!(rig.take_replies(), [Frame::ok()]);
    assert_eq!(rig.engine.poll_timeout(), Some(rig.now_ms + 100));
    rig.tick(500);
    assert_eq!(rig.take_replies(), [Frame::ok(), one]);
}

#[test]
fn client_list_shows_the_fields_redis_shows() {
    let mut rig = rig();
    let addr = ClientAddr {
        addr: "10.0.0.1:4000".into(),
        laddr: "10.0.0.2:6379".into(),
        fd: 12,
    };
    rig.engine.handle_client_opened(rig.now_ms, 4, addr);
    rig.send(4, "CLIENT SETNAME web");
    rig.send(4, "SELECT 2");
    rig.send(4, "MULTI");
    rig.send(4, "SET a 1");
    rig.tick(3000);
    rig.send(5, "CLIENT LIST ID 4");
    let replies = rig.take_replies();
    let Some(Frame::Verbatim { format, text }) = replies.last() else {
        panic!("{replies:?}")
    };
    assert_eq!(format, b"txt");
    assert_eq!(
        String::from_utf8_lossy(text),
        "id=4 addr=10.0.0.1:4000 laddr=10.0.0.2:6379 fd=12 name=web age=3 idle=3 flags=x db=2 \
         sub=0 psub=0 ssub=0 multi=1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 \
         obl=0 oll=0 omem=0 tot-mem=0 events=r cmd=set user=default redir=-1 resp=2 \
         lib-name= lib-ver=\n"
    );
}
