//! Engine scenarios for replication's replica side, one per decision: the handshake's
//! transitions (with and without AUTH), a full sync from a real master engine followed by its
//! stream, GETACK's offset, READONLY, a failed payload keeping the data set, `+CONTINUE` with
//! a new id, and promotion's replid2 accepted by the promoted server's own master side.
//! Driven with the `Rig` of `tests.rs` over SimDisk; the master is a second engine.

use bytes::Bytes;

use super::repl::GETACK;
use super::replica::{LinkOp, MASTER_CLIENT};
use super::tests::{argv, config, Rig};
use super::{ClientId, Reply};
use crate::config::FsyncPolicy;
use crate::resp::Frame;

const REPLICA: ClientId = 9;

/// The link operations since the last call: (connects, closes, bytes sent).
fn link(rig: &mut Rig) -> (Vec<u64>, Vec<u64>, String) {
    rig.settle();
    let (mut connects, mut closes, mut sent) = (Vec::new(), Vec::new(), Vec::new());
    while let Some(op) = rig.engine.poll_link() {
        match op {
            LinkOp::Connect { link, .. } => connects.push(link),
            LinkOp::Close { link } => closes.push(link),
            LinkOp::Send { bytes, .. } => sent.extend_from_slice(&bytes),
        }
    }
    (
        connects,
        closes,
        String::from_utf8_lossy(&sent).into_owned(),
    )
}

fn feed(rig: &mut Rig, link: u64, bytes: &[u8]) {
    rig.engine.handle_master_data(rig.now_ms, link, bytes);
    rig.pump();
}

/// The last reply to `client` (others' replies are dropped).
fn reply(rig: &mut Rig, client: ClientId, line: &str) -> Frame {
    rig.send(client, line);
    rig.settle();
    let mine = std::mem::take(&mut rig.replies).into_iter();
    let mut frames = mine
        .filter(|(c, _)| *c == client)
        .filter_map(|(_, r)| r.frame().cloned());
    frames.next_back().expect("a reply")
}

fn info(rig: &mut Rig, field: &str) -> String {
    let body = match reply(rig, 1, "INFO replication") {
        Frame::Bulk(b) | Frame::Verbatim { text: b, .. } => {
            String::from_utf8_lossy(&b).into_owned()
        }
        other => panic!("{other:?}"),
    };
    let line = body.lines().find(|l| l.starts_with(&format!("{field}:")));
    line.unwrap_or_else(|| panic!("{field} in {body}"))[field.len() + 1..].to_string()
}

/// A replica told to follow 127.0.0.1:7000, through its handshake up to PSYNC; returns the
/// link and what PSYNC asked for.
fn handshake(rig: &mut Rig) -> (u64, String) {
    rig.tick(100);
    let (connects, _, _) = link(rig);
    let l = *connects.last().expect("a connect");
    rig.engine.handle_master_connected(rig.now_ms, l);
    assert_eq!(link(rig).2, "*1\r\n$4\r\nPING\r\n");
    feed(rig, l, b"+PONG\r\n");
    let sent = link(rig).2;
    assert!(
        sent.contains("listening-port") && sent.contains("psync2"),
        "{sent}"
    );
    feed(rig, l, b"+OK\r\n");
    assert_eq!(link(rig).2, "", "PSYNC only after every REPLCONF reply");
    feed(rig, l, b"+OK\r\n");
    let psync = link(rig).2;
    assert!(psync.starts_with("*3\r\n$5\r\nPSYNC\r\n"), "{psync}");
    (l, psync)
}

fn replica_rig() -> Rig {
    let mut rig = Rig::start(config(FsyncPolicy::No));
    assert_eq!(reply(&mut rig, 1, "REPLICAOF 127.0.0.1 7000"), Frame::ok());
    rig
}

/// What the master engine sent `client`: its stream bytes, and the RDB payload framed `$len`.
fn master_wire(master: &mut Rig, client: ClientId) -> Vec<u8> {
    master.settle();
    let mut out = Vec::new();
    for (c, r) in std::mem::take(&mut master.replies) {
        match r {
            _ if c != client => {}
            Reply::Frame { frame, .. } => frame.encode(&mut out),
            Reply::Raw(raw) => out.extend_from_slice(&raw),
            Reply::Sync(sync) => {
                let mut rdb = Vec::new();
                sync.view.write_to(&mut rdb).expect("serialise");
                out.extend_from_slice(format!("${}\r\n", rdb.len()).as_bytes());
                out.extend_from_slice(&rdb);
                master.engine.handle_replica_synced(master.now_ms, client);
            }
            _ => {}
        }
    }
    out
}

/// Goal: the handshake's order (PING, then REPLCONFs pipelined, then PSYNC only after every
/// reply), AUTH first with `masterauth`, and an AUTH error closing the link and retrying.
#[test]
fn handshake_transitions() {
    let mut rig = replica_rig();
    assert_eq!(
        reply(&mut rig, 1, "REPLICAOF 127.0.0.1 7000"),
        Frame::Simple("OK Already connected to specified master".into())
    );
    let (_, psync) = handshake(&mut rig);
    let replid = info(&mut rig, "master_replid");
    assert!(
        psync.contains(&replid) && psync.ends_with("$1\r\n1\r\n"),
        "{psync}"
    );
    let role = reply(&mut rig, 1, "ROLE");
    assert!(format!("{role:?}").contains("handshake"), "{role:?}");
    // With masterauth, AUTH leads and an error to it aborts the link.
    rig.send(1, "CONFIG SET masterauth secret");
    rig.send(1, "REPLICAOF 127.0.0.1 7001");
    rig.tick(100);
    let (connects, closes, _) = link(&mut rig);
    assert_eq!((closes.len(), connects.len()), (1, 1));
    let l = connects[0];
    rig.engine.handle_master_connected(rig.now_ms, l);
    assert_eq!(link(&mut rig).2, "*1\r\n$4\r\nPING\r\n");
    feed(&mut rig, l, b"+PONG\r\n");
    assert!(link(&mut rig)
        .2
        .starts_with("*2\r\n$4\r\nAUTH\r\n$6\r\nsecret\r\n"));
    feed(&mut rig, l, b"-WRONGPASS invalid\r\n");
    assert_eq!(link(&mut rig).1, vec![l], "closed");
    assert_eq!(info(&mut rig, "master_link_status"), "down");
    rig.tick(1000);
    assert_eq!(link(&mut rig).0, vec![l + 1], "retried after a second");
}

/// Goal: a full sync from a master engine gives the replica the master's data set, id and
/// offset; the stream that follows is applied (SELECT included), counted byte for byte, logged
/// nowhere but the replica's own persistence, and every second an ACK reports the offset.
#[test]
fn full_sync_then_stream_from_a_master_engine() {
    let mut master = Rig::start(config(FsyncPolicy::No));
    master.send(1, "SET a 1");
    master.send(1, "SELECT 2");
    master.send(1, "RPUSH l x y");
    let mut rig = replica_rig();
    rig.engine
        .handle_command(rig.now_ms, MASTER_CLIENT, argv("SET stale 1"));
    let (l, _) = handshake(&mut rig);
    master.send(REPLICA, "REPLCONF capa psync2");
    master.send(REPLICA, "PSYNC ? -1");
    let mut bytes = master_wire(&mut master, REPLICA);
    bytes.drain(..5); // +OK of REPLCONF
    assert_eq!(info(&mut rig, "master_sync_in_progress"), "0");
    feed(&mut rig, l, &bytes[..bytes.len() - 3]);
    assert_eq!(info(&mut rig, "master_sync_in_progress"), "1");
    assert_eq!(
        reply(&mut rig, 1, "EXISTS stale"),
        Frame::Integer(1),
        "kept until complete"
    );
    feed(&mut rig, l, &bytes[bytes.len() - 3..]);
    assert_eq!(info(&mut rig, "master_link_status"), "up");
    // FACK 0 until the rewrite that logs the loaded data set has finished.
    let first_ack = link(&mut rig).2;
    assert!(
        first_ack.starts_with("*5\r\n$8\r\nREPLCONF\r\n$3\r\nACK\r\n")
            && first_ack.ends_with("$4\r\nFACK\r\n$1\r\n0\r\n"),
        "{first_ack}"
    );
    assert_eq!(
        reply(&mut rig, 1, "EXISTS stale"),
        Frame::Integer(0),
        "flushed"
    );
    master.send(1, "SET b 2");
    master.send(1, "SELECT 0");
    master.send(1, "INCR a");
    let stream = master_wire(&mut master, REPLICA);
    feed(&mut rig, l, &stream);
    assert_eq!(rig.engine.keyspace(), master.engine.keyspace());
    let offset = info(&mut master, "master_repl_offset");
    assert_eq!(info(&mut rig, "slave_repl_offset"), offset);
    assert_eq!(
        info(&mut rig, "master_replid"),
        info(&mut master, "master_replid")
    );
    rig.tick(1000);
    let ack = format!("ACK\r\n${}\r\n{offset}\r\n", offset.len());
    assert!(link(&mut rig).2.contains(&ack), "ACK each second");
}

/// Goal: GETACK is answered with the offset before its own 37 bytes, which are then counted;
/// no reply of an applied command ever goes to the link.
#[test]
fn getack_reports_the_offset_before_it() {
    let mut rig = replica_rig();
    let (l, _) = handshake(&mut rig);
    let rdb = empty_rdb();
    // Keepalive newlines before the header, and the header split across reads.
    let head = format!(
        "+FULLRESYNC {} 100\r\n\n\n${}\r\n",
        "c".repeat(40),
        rdb.len()
    );
    let (first, second) = head.as_bytes().split_at(head.len() - 3);
    feed(&mut rig, l, first);
    assert_eq!(info(&mut rig, "master_sync_in_progress"), "1");
    feed(&mut rig, l, second);
    feed(&mut rig, l, &rdb);
    link(&mut rig);
    let set = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n";
    feed(&mut rig, l, set);
    feed(&mut rig, l, GETACK);
    // FACK: the full sync's offset, whose data set the rewrite made durable; the SET after
    // it is not fsynced under `appendfsync no`.
    assert_eq!(
        link(&mut rig).2,
        "*5\r\n$8\r\nREPLCONF\r\n$3\r\nACK\r\n$3\r\n127\r\n$4\r\nFACK\r\n$3\r\n100\r\n"
    );
    assert_eq!(
        info(&mut rig, "slave_repl_offset"),
        (127 + GETACK.len()).to_string()
    );
    let role = reply(&mut rig, 1, "ROLE");
    let want = Frame::Array(vec![
        Frame::Bulk(Bytes::from_static(b"slave")),
        Frame::Bulk(Bytes::from_static(b"127.0.0.1")),
        Frame::Integer(7000),
        Frame::Bulk(Bytes::from_static(b"connected")),
        Frame::Integer(164),
    ]);
    assert_eq!(role, want);
    assert_eq!(
        reply(&mut rig, 1, "GET k"),
        Frame::Bulk(Bytes::from_static(b"v"))
    );
}

/// Goal: normal clients' writes are refused with READONLY (inside MULTI too: EXEC aborts),
/// reads are served, the master's writes are obeyed; `replica-read-only no` allows writes.
#[test]
fn readonly_replica() {
    let mut rig = replica_rig();
    let ro = Frame::error("READONLY You can't write against a read only replica.");
    assert_eq!(reply(&mut rig, 1, "SET k v"), ro);
    assert_eq!(reply(&mut rig, 1, "GET k"), Frame::Null);
    rig.send(1, "MULTI");
    assert_eq!(reply(&mut rig, 1, "SET k v"), ro);
    let exec = reply(&mut rig, 1, "EXEC");
    assert!(format!("{exec:?}").contains("EXECABORT"), "{exec:?}");
    rig.engine
        .handle_command(rig.now_ms, MASTER_CLIENT, argv("SET k m"));
    assert_eq!(
        reply(&mut rig, 1, "GET k"),
        Frame::Bulk(Bytes::from_static(b"m"))
    );
    rig.send(1, "CONFIG SET replica-read-only no");
    assert_eq!(reply(&mut rig, 1, "SET k v"), Frame::ok());
    let wait = reply(&mut rig, 1, "WAIT 1 0");
    assert!(
        format!("{wait:?}").contains("WAIT cannot be used with replica"),
        "{wait:?}"
    );
}

/// Goal: a payload that does not load keeps the data set and the id, closes the link and
/// retries; the next PSYNC still asks for the old history.
#[test]
fn failed_payload_keeps_the_data_set() {
    let mut rig = replica_rig();
    rig.engine
        .handle_command(rig.now_ms, MASTER_CLIENT, argv("SET keep 1"));
    let (l, psync) = handshake(&mut rig);
    feed(
        &mut rig,
        l,
        format!("+FULLRESYNC {} 5\r\n$9\r\nREDIS0010", "d".repeat(40)).as_bytes(),
    );
    assert_eq!(link(&mut rig).1, vec![l]);
    assert_eq!(
        reply(&mut rig, 1, "GET keep"),
        Frame::Bulk(Bytes::from_static(b"1"))
    );
    rig.tick(1000);
    let (_, again) = handshake(&mut rig);
    assert_eq!(again, psync);
}

/// Goal: `+CONTINUE <new id>` keeps the data set and offset, makes the new id ours and the
/// old one replid2 up to the offset reached; a plain `+CONTINUE` changes no id.
#[test]
fn continue_adopts_a_new_id() {
    let mut rig = replica_rig();
    let (l, _) = handshake(&mut rig);
    let rdb = empty_rdb();
    let old = "e".repeat(40);
    let mut bytes = format!("+FULLRESYNC {old} 50\r\n${}\r\n", rdb.len()).into_bytes();
    bytes.extend_from_slice(&rdb);
    feed(&mut rig, l, &bytes);
    rig.engine.handle_master_closed(rig.now_ms, l);
    assert_eq!(info(&mut rig, "master_link_status"), "down");
    rig.tick(1000);
    let (l, psync) = handshake(&mut rig);
    assert!(
        psync.contains(&old) && psync.ends_with("$2\r\n51\r\n"),
        "{psync}"
    );
    let new = "f".repeat(40);
    feed(&mut rig, l, format!("+CONTINUE {new}\r\n").as_bytes());
    assert_eq!(info(&mut rig, "master_link_status"), "up");
    assert_eq!(info(&mut rig, "master_replid"), new);
    assert_eq!(info(&mut rig, "master_replid2"), old);
    assert_eq!(info(&mut rig, "second_repl_offset"), "51");
    assert_eq!(info(&mut rig, "slave_repl_offset"), "50");
}

/// Goal: REPLICAOF NO ONE shifts the id (replid2 = old, second_repl_offset = offset + 1, a new
/// id), and the promoted server's master side continues a PSYNC of the old id at that offset.
#[test]
fn promotion_keeps_the_old_id_as_replid2() {
    let mut rig = replica_rig();
    let (l, _) = handshake(&mut rig);
    let rdb = empty_rdb();
    let old = "a".repeat(40);
    let mut bytes = format!("+FULLRESYNC {old} 70\r\n${}\r\n", rdb.len()).into_bytes();
    bytes.extend_from_slice(&rdb);
    bytes.extend_from_slice(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n");
    feed(&mut rig, l, &bytes);
    assert_eq!(reply(&mut rig, 1, "REPLICAOF NO ONE"), Frame::ok());
    assert_eq!(link(&mut rig).1, vec![l], "the link is closed");
    assert_eq!(info(&mut rig, "role"), "master");
    assert_eq!(info(&mut rig, "master_replid2"), old);
    assert_eq!(info(&mut rig, "second_repl_offset"), "98");
    let new = info(&mut rig, "master_replid");
    assert_ne!(new, old);
    assert_eq!(
        reply(&mut rig, 1, "SET after 1"),
        Frame::ok(),
        "writable again"
    );
    rig.send(REPLICA, "REPLCONF capa psync2");
    let cont = reply(&mut rig, REPLICA, &format!("PSYNC {old} 98"));
    assert_eq!(cont, Frame::Simple(format!("CONTINUE {new}")));
    rig.send(1, "SET late 1");
    let refused = reply(&mut rig, 10, &format!("PSYNC {old} 99"));
    assert!(
        format!("{refused:?}").contains("FULLRESYNC"),
        "old id valid only up to 98"
    );
    assert_eq!(
        reply(&mut rig, 1, "GET k"),
        Frame::Bulk(Bytes::from_static(b"v"))
    );
}

/// An RDB of an empty data set, as a master would send it.
fn empty_rdb() -> Vec<u8> {
    let ks = crate::keyspace::Keyspace::new(16);
    let info = crate::rdb::SaveInfo {
        aof_base: false,
        ctime_s: 0,
        used_mem: 0,
        compression: true,
        checksum: true,
    };
    let mut out = Vec::new();
    crate::rdb::encode(&ks, &info, &mut out).expect("encode");
    out
}

/// Goal: a replica's snapshot records its master's id and the offset its data set reflects
/// (`repl-id`/`repl-offset`), and a restart from it asks to continue there (PSYNC id off+1).
#[test]
fn restart_from_rdb_psyncs_from_its_aux_fields() {
    let mut c = config(FsyncPolicy::No);
    c.appendonly = false;
    c.replica.master = Some(("127.0.0.1".into(), 7000));
    let mut rig = Rig::start(c.clone());
    let (l, _) = handshake(&mut rig);
    let rdb = empty_rdb();
    let id = "b".repeat(40);
    let mut bytes = format!("+FULLRESYNC {id} 200\r\n${}\r\n", rdb.len()).into_bytes();
    bytes.extend_from_slice(&rdb);
    bytes.extend_from_slice(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n");
    feed(&mut rig, l, &bytes);
    assert_eq!(reply(&mut rig, 1, "SAVE"), Frame::ok());
    let mut rig = rig.restart(c);
    rig.settle();
    let (_, psync) = handshake(&mut rig);
    assert!(
        psync.contains(&id) && psync.ends_with("$3\r\n228\r\n"),
        "{psync}"
    );
    assert_eq!(
        reply(&mut rig, 1, "GET k"),
        Frame::Bulk(Bytes::from_static(b"v"))
    );
}

/// Goal: the offset covers whole transactions only (as Redis's `reploff`): a MULTI block's
/// bytes count at its EXEC; a link lost inside it discards the half-received block, and the
/// PSYNC asks for it again from its MULTI, so it is applied once, whole.
#[test]
fn a_transaction_counts_at_its_exec() {
    let mut rig = replica_rig();
    let (l, _) = handshake(&mut rig);
    let rdb = empty_rdb();
    let id = "9".repeat(40);
    let mut bytes = format!("+FULLRESYNC {id} 10\r\n${}\r\n", rdb.len()).into_bytes();
    bytes.extend_from_slice(&rdb);
    feed(&mut rig, l, &bytes);
    let multi = b"*1\r\n$5\r\nMULTI\r\n";
    let incr = b"*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n";
    let exec = b"*1\r\n$4\r\nEXEC\r\n";
    feed(&mut rig, l, multi);
    feed(&mut rig, l, incr);
    assert_eq!(
        info(&mut rig, "slave_repl_offset"),
        "10",
        "not inside MULTI"
    );
    rig.engine.handle_master_closed(rig.now_ms, l);
    rig.tick(1000);
    let (l, psync) = handshake(&mut rig);
    assert!(
        psync.ends_with("$2\r\n11\r\n"),
        "asks for the MULTI again: {psync}"
    );
    feed(&mut rig, l, b"+CONTINUE\r\n");
    feed(&mut rig, l, &[&multi[..], incr, exec].concat());
    let whole = 10 + multi.len() + incr.len() + exec.len();
    assert_eq!(info(&mut rig, "slave_repl_offset"), whole.to_string());
    assert_eq!(
        reply(&mut rig, 1, "GET n"),
        Frame::Bulk(Bytes::from_static(b"1"))
    );
}

/// Goal: a full sync breaks the WATCH of a key the old data set held (Redis's `emptyData`).
#[test]
fn a_full_sync_breaks_watches() {
    let mut rig = replica_rig();
    rig.engine
        .handle_command(rig.now_ms, MASTER_CLIENT, argv("SET w 1"));
    rig.send(1, "CONFIG SET replica-read-only no");
    rig.send(1, "WATCH w");
    rig.send(1, "MULTI");
    rig.send(1, "SET x 1");
    let (l, _) = handshake(&mut rig);
    let rdb = empty_rdb();
    let mut bytes = format!("+FULLRESYNC {} 1\r\n${}\r\n", "7".repeat(40), rdb.len()).into_bytes();
    bytes.extend_from_slice(&rdb);
    feed(&mut rig, l, &bytes);
    assert_eq!(reply(&mut rig, 1, "EXEC"), Frame::NullArray);
}

/// Goal: a replica's ACK carries `FACK <offset its AOF fsynced>`: 0 until the rewrite after the
/// full sync finished, then the stream offset once the log covering it is durable (under
/// `always` at once); with `appendonly no` there is no FACK (it never counts for WAITAOF),
/// and WAITAOF on a replica is refused as Redis refuses it.
#[test]
fn acks_carry_the_fsynced_offset() {
    let mut rig = Rig::start(config(FsyncPolicy::Always));
    assert_eq!(reply(&mut rig, 1, "REPLICAOF 127.0.0.1 7000"), Frame::ok());
    let (l, _) = handshake(&mut rig);
    let rdb = empty_rdb();
    let mut bytes = format!("+FULLRESYNC {} 100\r\n${}\r\n", "d".repeat(40), rdb.len());
    let mut bytes = std::mem::take(&mut bytes).into_bytes();
    bytes.extend_from_slice(&rdb);
    feed(&mut rig, l, &bytes);
    let fack = |n: u64| format!("$4\r\nFACK\r\n${}\r\n{n}\r\n", n.to_string().len());
    assert!(link(&mut rig).2.ends_with(&fack(0)), "gated by the rewrite");
    feed(&mut rig, l, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n");
    // Logged, not yet written: the FACK stays at what is durable.
    rig.tick(1000);
    let ack = link(&mut rig).2;
    assert!(
        ack.contains("ACK\r\n$3\r\n127\r\n") && ack.ends_with(&fack(100)),
        "{ack}"
    );
    rig.tick(1000);
    let ack = link(&mut rig).2;
    assert!(
        ack.contains("ACK\r\n$3\r\n127\r\n") && ack.ends_with(&fack(127)),
        "{ack}"
    );
    let text = "ERR WAITAOF cannot be used with replica instances. Please also note that writes \
                to replicas are just local and are not propagated.";
    assert_eq!(reply(&mut rig, 1, "WAITAOF 0 0 0"), Frame::error(text));
    assert_eq!(reply(&mut rig, 1, "CONFIG SET appendonly no"), Frame::ok());
    rig.tick(1000);
    let ack = link(&mut rig).2;
    assert_eq!(ack, "*3\r\n$8\r\nREPLCONF\r\n$3\r\nACK\r\n$3\r\n127\r\n");
}

/// Goal: `replica-serve-stale-data no` (CONFIG SET, alias too) makes a replica whose link is
/// not up answer `-MASTERDOWN` to every command Redis 7.0 does not flag `stale` (PING and
/// data commands; not INFO, CONFIG, ECHO, CLIENT, SCRIPT LOAD, MEMORY HELP), inside MULTI
/// too, and aborts an EXEC whose queue holds one; once the link is up it serves again.
#[test]
fn stale_data_refused_while_the_link_is_down() {
    let mut rig = replica_rig();
    assert_eq!(
        reply(&mut rig, 1, "GET k"),
        Frame::Null,
        "the default serves stale data"
    );
    rig.send(1, "MULTI");
    rig.send(1, "GET k");
    assert_eq!(
        reply(&mut rig, 2, "CONFIG SET slave-serve-stale-data no"),
        Frame::ok()
    );
    let down = "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.";
    let abort = format!("EXECABORT Transaction discarded because of: {down}");
    assert_eq!(reply(&mut rig, 1, "EXEC"), Frame::error(abort));
    let config = reply(&mut rig, 1, "CONFIG GET replica-serve-stale-data");
    let [name, value] = ["replica-serve-stale-data", "no"].map(|s| Frame::Bulk(Bytes::from(s)));
    assert_eq!(config, Frame::Map(vec![(name, value)]));
    for refused in [
        "GET k",
        "PING",
        "SCRIPT EXISTS abc",
        "MEMORY USAGE k",
        "DBSIZE",
    ] {
        assert_eq!(reply(&mut rig, 1, refused), Frame::error(down), "{refused}");
    }
    for served in [
        "ECHO e",
        "CLIENT ID",
        "SCRIPT LOAD return",
        "MEMORY HELP",
        "ROLE",
        "TIME",
    ] {
        let frame = reply(&mut rig, 1, served);
        assert!(!matches!(frame, Frame::Error(_)), "{served}: {frame:?}");
    }
    assert_eq!(reply(&mut rig, 1, "MULTI"), Frame::ok());
    assert_eq!(reply(&mut rig, 1, "GET k"), Frame::error(down));
    let exec = reply(&mut rig, 1, "EXEC");
    let previous = "EXECABORT Transaction discarded because of previous errors.";
    assert_eq!(exec, Frame::error(previous));
    let (l, _) = handshake(&mut rig);
    let rdb = empty_rdb();
    let mut bytes = format!("+FULLRESYNC {} 1\r\n${}\r\n", "e".repeat(40), rdb.len()).into_bytes();
    bytes.extend_from_slice(&rdb);
    feed(&mut rig, l, &bytes);
    assert_eq!(info(&mut rig, "master_link_status"), "up");
    assert_eq!(
        reply(&mut rig, 1, "GET k"),
        Frame::Null,
        "served once the link is up"
    );
    rig.engine.handle_master_closed(rig.now_ms, l);
    assert_eq!(reply(&mut rig, 1, "GET k"), Frame::error(down));
    assert_eq!(reply(&mut rig, 1, "REPLICAOF NO ONE"), Frame::ok());
    assert_eq!(reply(&mut rig, 1, "GET k"), Frame::Null, "a master serves");
}
