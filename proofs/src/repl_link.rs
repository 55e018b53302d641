//! The replication model's link: one TCP connection between the replica's master link and a
//! client of the master, FIFO both ways, with what the checker sees pass over it.
//!
//! Owns the connection's queues and the checks made on the bytes as they leave the master:
//! after `+FULLRESYNC <id> <off>` comes the payload and then stream bytes from `off + 1`;
//! after `+CONTINUE` stream bytes from the offset the PSYNC asked for; every stream byte must
//! be the master's byte at the offset the replica will count it at (read from the backlog's
//! window, not through the PSYNC path), and no reply may follow the sync reply. Invariant:
//! bytes of a closed connection never reach either engine.

use bytes::Bytes;
use model::aof::record::{decode, Decoded};
use model::engine::{LinkOp, Reply};
use model::resp::Frame;

use crate::repl_model::{node_time, ClientOp, Promise, ReplModel, ReplState, CLIENT};

/// Where the connection is, as seen from the master's replies.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Seen {
    /// Handshake replies (and keepalive newlines) only.
    Handshake,
    /// `+FULLRESYNC` sent: the payload comes next; the stream then starts at `next`.
    Payload { next: u64 },
    /// Stream bytes, the next one at offset `next`.
    Stream { next: u64 },
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Conn {
    /// The connection's client id on the master.
    pub id: u64,
    /// The replica's link generation.
    pub link: u64,
    pub to_replica: Vec<u8>,
    pub to_master: Vec<u8>,
    pub seen: Seen,
    /// The PSYNC the master received: id and first offset asked for.
    pub psync: Option<(String, u64)>,
}

fn engine(s: &mut ReplState, node: u8) -> Option<&mut model::engine::Engine> {
    s.nodes[node as usize].engine.as_mut()
}

/// Moves what the engines released: replies, link operations, events. `true` if any.
pub(crate) fn pump(s: &mut ReplState) -> bool {
    let mut moved = false;
    for node in 0..2u8 {
        moved |= pump_replies(s, node);
        moved |= pump_link(s, node);
        while let Some(event) = engine(s, node).and_then(|e| e.poll_event()) {
            let text = &event.message;
            s.findings.stream_corrupt |= text.contains("Protocol error from master")
                || text.contains("Failed trying to load the MASTER synchronization DB");
        }
    }
    moved
}

fn pump_replies(s: &mut ReplState, node: u8) -> bool {
    let mut moved = false;
    while let Some((client, reply)) = engine(s, node).and_then(|e| e.poll_reply()) {
        moved = true;
        if node != s.master {
            continue; // the replica's operator and master-link replies are dropped
        }
        if client == CLIENT {
            client_reply(s, &reply);
        } else if s.conn.as_ref().is_some_and(|c| c.id == client) {
            link_reply(s, reply);
        }
    }
    moved
}

fn client_reply(s: &mut ReplState, reply: &Reply) {
    let Reply::Frame { frame, .. } = reply else {
        return;
    };
    match (s.client.take(), frame) {
        (Some(ClientOp::Write(n)), f) if !matches!(f, Frame::Error(_)) => s.acked.push(n),
        (Some(ClientOp::Wait), Frame::Integer(count)) if *count >= 1 => {
            s.findings.wait_satisfied = true;
            let r = ReplModel::replica(s);
            s.promise = Some(Promise {
                writes: s.acked.clone(),
                replica: (r, s.nodes[r as usize].runs),
            });
        }
        _ => {}
    }
}

/// A reply of the master to the replica's connection: checked, then queued on the link.
fn link_reply(s: &mut ReplState, reply: Reply) {
    let mut bytes = Vec::new();
    match reply {
        Reply::Frame { frame, .. } => {
            link_frame(s, &frame);
            frame.encode(&mut bytes);
        }
        Reply::Raw(raw) => {
            link_raw(s, &raw);
            bytes.extend_from_slice(&raw);
        }
        Reply::Sync(sync) => {
            s.findings.old_master_rejoined |= s.promotions > 0;
            let mut rdb = Vec::new();
            sync.view.write_to(&mut rdb).expect("serialise the view");
            match sync.eof_mark {
                Some(mark) => {
                    bytes.extend_from_slice(b"$EOF:");
                    bytes.extend_from_slice(&mark);
                    bytes.extend_from_slice(b"\r\n");
                    bytes.extend_from_slice(&rdb);
                    bytes.extend_from_slice(&mark);
                }
                None => {
                    bytes.extend_from_slice(format!("${}\r\n", rdb.len()).as_bytes());
                    bytes.extend_from_slice(&rdb);
                }
            }
            let conn = s.conn.as_mut().expect("a connection");
            match conn.seen {
                Seen::Payload { next } => conn.seen = Seen::Stream { next },
                _ => s.findings.stream_wrong = true,
            }
            let (m, id) = (s.master, conn.id);
            let now = node_time(s, m);
            let master = engine(s, m).expect("master up");
            master.handle_replica_synced(now, id);
        }
        Reply::Close => return drop_conn(s),
        Reply::Silent | Reply::Push { .. } => {}
    }
    let conn = s.conn.as_mut().expect("a connection");
    conn.to_replica.extend_from_slice(&bytes);
}

fn link_frame(s: &mut ReplState, frame: &Frame) {
    let conn = s.conn.as_ref().expect("a connection");
    if conn.seen != Seen::Handshake {
        s.findings.link_reply = true;
        return;
    }
    let Frame::Simple(text) = frame else {
        return;
    };
    let asked = conn.psync.clone();
    if let Some(rest) = text.strip_prefix("FULLRESYNC ") {
        let offset = rest.split(' ').nth(1).and_then(|o| o.parse::<u64>().ok());
        let Some(offset) = offset else {
            s.findings.stream_wrong = true;
            return;
        };
        s.findings.full_sync = true;
        let known = asked.is_some_and(|(id, _)| s.points.iter().any(|p| p.replid == id));
        s.findings.partial_refused |= known;
        s.conn.as_mut().expect("conn").seen = Seen::Payload { next: offset + 1 };
    } else if text.starts_with("CONTINUE") {
        let Some((id, from)) = asked else {
            s.findings.stream_wrong = true;
            return;
        };
        s.findings.partial_ok = true;
        s.findings.old_master_rejoined |= s.promotions > 0;
        s.findings.resumed_from_snapshot |= s.replica_from_snapshot;
        // The history asked for must be one this master instance holds (property d).
        let holder = (s.master, s.nodes[s.master as usize].runs);
        let held =
            (s.points.iter()).any(|p| p.replid == id && p.offset + 1 == from && p.holder == holder);
        s.findings.continue_lost |= !held;
        s.conn.as_mut().expect("conn").seen = Seen::Stream { next: from };
    }
}

/// Raw bytes: keepalive newlines before the sync reply, else stream bytes checked against
/// the master's backlog window at the offset they will be counted at.
fn link_raw(s: &mut ReplState, raw: &Bytes) {
    let m = s.master;
    let window = engine(s, m).and_then(|e| e.repl_backlog());
    let conn = s.conn.as_mut().expect("a connection");
    let next = match conn.seen {
        Seen::Handshake => {
            s.findings.stream_wrong |= raw.iter().any(|&b| b != b'\n');
            return;
        }
        Seen::Payload { .. } => {
            s.findings.stream_wrong = true;
            return;
        }
        Seen::Stream { next } => next,
    };
    conn.seen = Seen::Stream {
        next: next + raw.len() as u64,
    };
    let matches = window.is_some_and(|(first, held)| {
        let start = next.checked_sub(first).map(|d| d as usize);
        start.is_some_and(|at| held.get(at..at + raw.len()) == Some(&raw[..]))
    });
    s.findings.stream_wrong |= !matches;
}

/// The replica's link operations: connect (at once, refused if the master is down), send,
/// close.
fn pump_link(s: &mut ReplState, node: u8) -> bool {
    let mut moved = false;
    while let Some(op) = engine(s, node).and_then(|e| e.poll_link()) {
        moved = true;
        let current = |s: &ReplState, link: u64| s.conn.as_ref().is_some_and(|c| c.link == link);
        match op {
            LinkOp::Connect { link, .. } => connect(s, node, link),
            LinkOp::Send { link, bytes } if current(s, link) => {
                let conn = s.conn.as_mut().expect("conn");
                conn.to_master.extend_from_slice(&bytes);
            }
            LinkOp::Close { link } if current(s, link) => drop_conn(s),
            LinkOp::Send { .. } | LinkOp::Close { .. } => {}
        }
    }
    moved
}

fn connect(s: &mut ReplState, node: u8, link: u64) {
    let now = node_time(s, node);
    let master_up = node != s.master && ReplModel::running(s, s.master);
    if !master_up || s.conn.is_some() {
        engine(s, node)
            .expect("connecting")
            .handle_master_closed(now, link);
        return;
    }
    s.conns += 1;
    s.conn = Some(Conn {
        id: 10 + s.conns,
        link,
        to_replica: Vec::new(),
        to_master: Vec::new(),
        seen: Seen::Handshake,
        psync: None,
    });
    engine(s, node)
        .expect("connecting")
        .handle_master_connected(now, link);
}

/// The connection drops: both ends are told, what was in flight is lost.
pub(crate) fn drop_conn(s: &mut ReplState) {
    let Some(conn) = s.conn.take() else {
        return;
    };
    let (m, r) = (s.master, ReplModel::replica(s));
    if let Some(master) = engine(s, m) {
        master.handle_client_closed(conn.id);
    }
    let now = node_time(s, r);
    if let Some(replica) = engine(s, r) {
        replica.handle_master_closed(now, conn.link);
    }
}

/// Delivers everything queued toward the replica.
pub(crate) fn to_replica(s: &mut ReplState) {
    let r = ReplModel::replica(s);
    let now = node_time(s, r);
    let conn = s.conn.as_mut().expect("a connection");
    let (bytes, link) = (std::mem::take(&mut conn.to_replica), conn.link);
    if let Some(replica) = engine(s, r) {
        replica.handle_master_data(now, link, &bytes);
    }
}

/// Delivers everything queued toward the master: each whole command runs as the
/// connection's client. A PSYNC is noted (the checks on what answers it need it).
pub(crate) fn to_master(s: &mut ReplState) {
    let (m, r) = (s.master, ReplModel::replica(s));
    let now = node_time(s, m);
    let conn = s.conn.as_mut().expect("a connection");
    let mut buf = std::mem::take(&mut conn.to_master);
    let id = conn.id;
    let mut at = 0;
    while let Decoded::Command { argv, len } = decode(&buf[at..]) {
        at += len;
        if argv[0].eq_ignore_ascii_case(b"psync") && argv.len() == 3 {
            let asked = String::from_utf8_lossy(&argv[1]).into_owned();
            let from = std::str::from_utf8(&argv[2])
                .ok()
                .and_then(|f| f.parse().ok());
            // The replica asks for the byte after the last one it applied.
            let offset = engine(s, r).map(|e| e.repl_position().offset);
            s.findings.stream_wrong |= from.is_none() || offset.map(|o| o + 1) != from;
            let conn = s.conn.as_mut().expect("a connection");
            conn.psync = from.map(|f| (asked, f));
        }
        if let Some(master) = engine(s, m) {
            master.handle_command(now, id, argv);
        }
    }
    buf.drain(..at);
    assert!(buf.is_empty(), "the replica sends whole commands");
}
