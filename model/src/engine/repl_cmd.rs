//! Replication's commands and the router's side of the replication sub-machine (`repl.rs`):
//! REPLCONF, SYNC, PSYNC, WAIT, ROLE (a replica's in `replica_cmd.rs`); feeding propagated writes into
//! the stream; the 1 Hz replication cron (keepalives, PING, diskless delay, timeouts); a
//! replica's payload finished.
//!
//! Owns no state. Invariants: every request gets exactly one entry in the reply queue (REPLCONF
//! ACK/GETACK a silent one: a replica would execute a reply as a command); stream bytes reach a
//! replica through the same release queue as replies, behind the log requirement of the moment
//! they were fed, so a replica never sees a write before the master's own log could; a full
//! sync's view and its offset are taken in the same step.

use bytes::Bytes;

use crate::command::{self, CommandId, EngineCommand, Propagated};
use crate::config::Mutation;
use crate::io::ViewFormat;
use crate::resp::{parse_integer, Frame};
use crate::view::ViewWriter;

use super::clients::ClientId;
use super::repl::{Fed, ReplPosition, ReplicaSync, SyncState, Wait, GETACK, PING};
use super::replies::Reply;
use super::Engine;

const NOT_INTEGER: &str = "ERR value is not an integer or out of range";

/// The `FACK <aof-offset>` pair that may follow `ACK <offset>` (Redis 7.2's replicas).
fn fack_after(rest: &[Bytes]) -> Option<u64> {
    match rest {
        [name, fack, ..] if name.eq_ignore_ascii_case(b"fack") => {
            parse_integer(fack).and_then(|o| u64::try_from(o).ok())
        }
        _ => None,
    }
}

impl Engine {
    /// Runs a replication command; `false` if `which` is not one (the caller runs it).
    pub(super) fn repl_command(
        &mut self,
        now_ms: u64,
        client: ClientId,
        which: EngineCommand,
        argv: &[Bytes],
    ) -> bool {
        let frame = match which {
            EngineCommand::Replconf => match self.replconf(now_ms, client, argv) {
                Some(frame) => frame,
                None => {
                    let need = self.need_now();
                    self.replies.push(client, Reply::Silent, need);
                    return true;
                }
            },
            EngineCommand::Sync => {
                self.sync(now_ms, client, argv);
                return true;
            }
            EngineCommand::Wait => match self.wait(now_ms, client, argv) {
                Some(frame) => frame,
                None => return true,
            },
            EngineCommand::Waitaof => match self.waitaof(now_ms, client, argv, true) {
                Some(frame) => frame,
                None => return true,
            },
            EngineCommand::Role => self.replica_role().unwrap_or_else(|| self.role()),
            EngineCommand::Replicaof => self.replicaof(now_ms, argv),
            _ => return false,
        };
        let need = self.need_now();
        self.answer(client, frame, need);
        true
    }

    /// REPLCONF <option> <value> ...; `None` for ACK and GETACK, which get no reply.
    fn replconf(&mut self, now_ms: u64, client: ClientId, argv: &[Bytes]) -> Option<Frame> {
        if argv.len().is_multiple_of(2) {
            return Some(Frame::error("ERR syntax error"));
        }
        for (i, pair) in argv[1..].chunks(2).enumerate() {
            let (option, value) = (pair[0].to_ascii_lowercase(), &pair[1]);
            match option.as_slice() {
                b"listening-port" => match parse_integer(value) {
                    Some(port) if port >= 0 => self.repl.peer(client).listening_port = port as u64,
                    _ => return Some(Frame::error(NOT_INTEGER)),
                },
                b"ip-address" => {
                    self.repl.peer(client).ip = Some(String::from_utf8_lossy(value).into_owned())
                }
                b"capa" => {
                    let peer = self.repl.peer(client);
                    match value.to_ascii_lowercase().as_slice() {
                        b"eof" => peer.capa_eof = true,
                        b"psync2" => peer.capa_psync2 = true,
                        _ => {} // unknown capabilities are ignored, as Redis does
                    }
                }
                // `ACK <offset> [FACK <aof-offset>]`: FACK (Redis 7.2) is the offset the
                // replica's own AOF fsynced, which WAITAOF counts.
                b"ack" => {
                    let offset = parse_integer(value).filter(|&o| o >= 0)?;
                    let fack = fack_after(&argv[3 + 2 * i..]);
                    self.repl_ack(now_ms, client, offset as u64, fack);
                    if self.config.mutation == Mutation::AckAnswered {
                        return Some(Frame::ok());
                    }
                    return None;
                }
                b"getack" => return None,
                b"rdb-only" | b"rdb-filter-only" => {}
                _ => {
                    let text = String::from_utf8_lossy(&pair[0]);
                    return Some(Frame::error(format!(
                        "ERR Unrecognized REPLCONF option: {text}"
                    )));
                }
            }
        }
        Some(Frame::ok())
    }

    fn repl_ack(&mut self, now_ms: u64, client: ClientId, offset: u64, fack: Option<u64>) {
        if let Some(owed) = self.repl.ack(client, offset, fack, now_ms) {
            self.repl_online(client, owed);
        }
        self.answer_waits(now_ms, None);
    }

    /// `client` went online: what it is owed leaves now, in order, ahead of what follows.
    fn repl_online(&mut self, client: ClientId, owed: Bytes) {
        (self.out).notice(format!("Synchronization with replica {client} succeeded"));
        if !owed.is_empty() {
            let need = self.need_now();
            self.replies.push(client, Reply::Raw(owed), need);
        }
    }

    /// The runtime wrote the last byte of `client`'s full-sync payload.
    pub fn handle_replica_synced(&mut self, now_ms: u64, client: ClientId) {
        if let Some(owed) = self.repl.payload_sent(client, now_ms) {
            self.repl_online(client, owed);
        }
        self.turn_at = Some(now_ms);
    }

    /// SYNC, or PSYNC <replid> <offset>: a partial resync when the history is held here, else
    /// a full one (started now, or after `repl-diskless-sync-delay` for diskless replicas).
    fn sync(&mut self, now_ms: u64, client: ClientId, argv: &[Bytes]) {
        let need = self.need_now();
        if self.repl.is_replica(client) {
            // Redis ignores SYNC from a replica; the request still takes its (empty) place.
            self.replies.push(client, Reply::Silent, need);
            return;
        }
        if self.replica.is_replica() && !self.replica.is_connected() {
            let text = "NOMASTERLINK Can't SYNC while not connected with my master";
            return self.answer(client, Frame::error(text), need);
        }
        let psync = argv[0].eq_ignore_ascii_case(b"psync");
        let from = match psync.then(|| parse_integer(&argv[2])) {
            Some(None) => return self.answer(client, Frame::error(NOT_INTEGER), need),
            Some(Some(from)) => Some(from),
            None => None,
        };
        self.repl.ensure_backlog(&self.config.repl);
        if let Some(from) = from {
            let skew = u64::from(self.config.mutation == Mutation::BacklogOffByOne);
            let held = u64::try_from(from)
                .ok()
                .and_then(|f| self.repl.partial(&argv[1], f + skew));
            if let Some(bytes) = held {
                return self.continue_sync(now_ms, client, from as u64, bytes);
            }
            if argv[1].as_ref() != b"?" {
                self.repl.sync_partial_err += 1;
            }
        }
        self.repl.sync_full += 1;
        let config = self.config.repl;
        let peer = self.repl.peer(client);
        peer.pre_psync = !psync;
        peer.state = Some(SyncState::WaitBgsave { since_ms: now_ms });
        let diskless = config.diskless_sync && peer.capa_eof && psync;
        if !diskless || config.diskless_sync_delay_s == 0 {
            self.start_full_sync(now_ms, client);
        }
    }

    /// `+CONTINUE`, then the backlog from `from`, then the live stream.
    fn continue_sync(&mut self, now_ms: u64, client: ClientId, from: u64, bytes: Bytes) {
        self.repl.sync_partial_ok += 1;
        let peer = self.repl.peer(client);
        peer.state = Some(SyncState::Online);
        (peer.ack_offset, peer.ack_ms) = (from.saturating_sub(1), now_ms);
        let text = if peer.capa_psync2 {
            format!("CONTINUE {}", self.repl.replid)
        } else {
            "CONTINUE".to_string()
        };
        let need = self.need_now();
        self.answer(client, Frame::Simple(text), need);
        let len = bytes.len();
        if !bytes.is_empty() {
            self.replies.push(client, Reply::Raw(bytes), need);
        }
        self.out.notice(format!(
            "Partial resynchronization request from replica {client} accepted. Sending {len} \
             bytes of backlog starting from offset {from}."
        ));
    }

    /// Takes the view and its offset in one step and hands the payload to the runtime.
    fn start_full_sync(&mut self, now_ms: u64, client: ClientId) {
        let diskless = self.config.repl.diskless_sync;
        let offset = self.repl.offset;
        let replid = self.repl.replid.clone();
        let peer = self.repl.peer(client);
        let (pre_psync, eof) = (peer.pre_psync, diskless && peer.capa_eof && !peer.pre_psync);
        peer.state = Some(SyncState::SendBulk { eof, sent: false });
        if self.config.mutation != Mutation::StreamBeforeSnapshot {
            (peer.owed, peer.owed_bytes) = (Vec::new(), 0);
        }
        let eof_mark = eof.then(|| self.repl.eof_mark());
        self.repl.forget_selected_db();
        let format = ViewFormat::Rdb { aof_base: false };
        let view = ViewWriter::new(self.keyspace.clone(), format, now_ms);
        let need = self.need_now();
        if pre_psync {
            self.replies.push(client, Reply::Silent, need);
        } else {
            let text = format!("FULLRESYNC {replid} {offset}");
            self.answer(client, Frame::Simple(text), need);
        }
        let sync = ReplicaSync { view, eof_mark };
        self.replies.push(client, Reply::Sync(sync), need);
        let target = if eof { "replicas sockets" } else { "replica" };
        self.out.notice(format!(
            "Starting BGSAVE for SYNC with target: {target} (replica {client}, offset {offset}, \
             {} keys)",
            self.keyspace.len()
        ));
    }

    /// Propagated writes enter the replication stream (no-op until a replica came).
    pub(super) fn repl_feed_writes(&mut self, writes: &[Propagated]) {
        // A replica's stream is its master's bytes (`repl_feed_raw`), never its own writes.
        if !self.repl.active() || writes.is_empty() || self.replica.is_replica() {
            return;
        }
        let mut buf = Vec::new();
        for p in writes {
            self.repl.encode_write(p.db, &p.argv, &mut buf);
        }
        self.repl_feed(Bytes::from(buf));
    }

    /// PUBLISH and SPUBLISH reach replicas (never the AOF), with the SELECT of the
    /// publisher's database, as Redis's `forceCommandPropagation(c, PROPAGATE_REPL)`.
    pub(super) fn repl_feed_publish(
        &mut self,
        client: ClientId,
        id: Option<CommandId>,
        argv: &[Bytes],
    ) {
        if !self.repl.active() || argv.len() != 3 {
            return;
        }
        let name = id.map_or("", |id| command::entry(id).name);
        if name != "publish" && name != "spublish" {
            return;
        }
        let db = self.clients.session(client).map_or(0, |s| s.db);
        let argv = argv.to_vec();
        self.repl_feed_writes(&[Propagated { db, argv }]);
    }

    /// A replica passes its master's stream bytes on as they are (backlog, offset,
    /// sub-replicas), as Redis's `replicationFeedStreamFromMasterStream`.
    pub(super) fn repl_feed_raw(&mut self, bytes: Bytes) {
        self.repl_feed(bytes);
    }

    pub(super) fn repl_feed(&mut self, bytes: Bytes) {
        let fed: Fed = self.repl.feed(&bytes, &self.config.repl);
        if self.config.mutation == Mutation::StreamBeforeSnapshot {
            let waiting = self.repl.peers.values_mut();
            for peer in waiting.filter(|p| matches!(p.state, Some(SyncState::WaitBgsave { .. }))) {
                peer.owed.push(bytes.clone());
            }
        }
        let need = self.need_now();
        for client in fed.now {
            self.replies.push(client, Reply::Raw(bytes.clone()), need);
        }
        for client in fed.dropped {
            self.out.warn(format!(
                "Client id={client} scheduled to be closed ASAP for overcoming of output buffer \
                 limits."
            ));
            self.repl.forget(client);
            self.kill(client, need);
        }
    }

    /// WAIT numreplicas timeout. `None` when the client blocks.
    fn wait(&mut self, now_ms: u64, client: ClientId, argv: &[Bytes]) -> Option<Frame> {
        let (Some(replicas), Some(timeout_ms)) = (parse_integer(&argv[1]), parse_integer(&argv[2]))
        else {
            return Some(Frame::error(NOT_INTEGER));
        };
        if timeout_ms < 0 {
            return Some(Frame::error("ERR timeout is negative"));
        }
        if self.replica.is_replica() {
            return Some(Frame::error(
                "ERR WAIT cannot be used with replica instances. Please also note that since \
                 Redis 4.0 if a replica is configured to be writable (which is not the default) \
                 writes to replicas are just local and are not propagated.",
            ));
        }
        let target = self.repl.woff.get(&client).copied().unwrap_or(0);
        let count = match self.config.mutation {
            Mutation::WaitCountsUnacked => self.repl.acked(0),
            _ => self.repl.acked(target),
        };
        if i128::from(count) >= i128::from(replicas) {
            return Some(Frame::Integer(count as i64));
        }
        let deadline_ms = (timeout_ms > 0).then(|| now_ms + timeout_ms as u64);
        let replicas = replicas as u64;
        (self.repl.waits).push(Wait {
            client,
            target,
            replicas,
            deadline_ms,
            aof: None,
        });
        // Ask every replica for its offset now rather than at its next 1 s ACK.
        if self.repl.active() {
            self.repl_feed(Bytes::from_static(GETACK));
        }
        None
    }

    /// Answers the WAITs that are satisfied (or, with `now_ms`, timed out), then runs what
    /// their clients sent meanwhile.
    pub(super) fn answer_waits(&mut self, now_ms: u64, expire: Option<u64>) {
        let local = self.local_aof();
        for (client, frame) in self.repl.take_done_waits(expire, local) {
            let need = self.need_now();
            self.answer(client, frame, need);
            self.release_held(now_ms, client);
        }
    }

    /// ROLE on a master: `master`, the offset, and each online replica's ip, port and offset.
    pub(super) fn role(&self) -> Frame {
        let replicas = (self.repl.peers.iter())
            .filter(|(_, p)| p.state == Some(SyncState::Online))
            .map(|(&client, p)| {
                Frame::Array(vec![
                    Frame::Bulk(Bytes::from(self.replica_ip(client))),
                    Frame::Bulk(Bytes::from(p.listening_port.to_string())),
                    Frame::Bulk(Bytes::from(p.ack_offset.to_string())),
                ])
            })
            .collect();
        Frame::Array(vec![
            Frame::Bulk(Bytes::from_static(b"master")),
            Frame::Integer(self.repl.offset as i64),
            Frame::Array(replicas),
        ])
    }

    /// `REPLCONF ip-address`, else the connection's peer address.
    pub(super) fn replica_ip(&self, client: ClientId) -> String {
        if let Some(ip) = self.repl.peers.get(&client).and_then(|p| p.ip.clone()) {
            return ip;
        }
        let conn = self.clients.info.get(&client).and_then(|i| i.conn.as_ref());
        let addr = conn.map(|c| c.addr.addr.as_str()).unwrap_or("?");
        addr.rsplit_once(':').map_or(addr, |(ip, _)| ip).to_string()
    }

    /// The replication cron, once a second while replication is active: keepalives to
    /// replicas waiting for their sync, the diskless delay, PING every
    /// `repl-ping-replica-period`, and dropping replicas silent for `repl-timeout`.
    pub(super) fn repl_cron(&mut self, now_ms: u64) {
        self.answer_waits(now_ms, Some(now_ms));
        let second = now_ms / 1000;
        if !self.repl.active() || second == self.repl.cron_s {
            return;
        }
        self.repl.cron_s = second;
        let config = self.config.repl;
        self.repl.good_count = self.repl.good_replicas(&config, now_ms);
        let need = self.need_now();
        let mut waiting = Vec::new();
        let mut due = false;
        let mut timed_out = Vec::new();
        for (&client, peer) in &self.repl.peers {
            match peer.state {
                Some(SyncState::WaitBgsave { since_ms }) => {
                    self.replies
                        .push(client, Reply::Raw(Bytes::from_static(b"\n")), need);
                    waiting.push(client);
                    due |= now_ms >= since_ms + config.diskless_sync_delay_s * 1000;
                }
                Some(SyncState::Online)
                    if !peer.pre_psync
                        && now_ms.saturating_sub(peer.ack_ms) > config.timeout_s * 1000 =>
                {
                    timed_out.push(client);
                }
                _ => {}
            }
        }
        // As Redis's `replicationStartPendingFullSync`: once the longest waiter waited the
        // delay, every waiting replica starts, from the same view and offset.
        for client in waiting.into_iter().filter(|_| due) {
            self.start_full_sync(now_ms, client);
        }
        for client in timed_out {
            self.out
                .warn(format!("Disconnecting timedout replica {client}"));
            self.repl.forget(client);
            self.kill(client, need);
        }
        // A replica's sub-replicas get its master's PINGs, not PINGs of its own.
        let master = !self.replica.is_replica();
        if master && self.repl.replica_count() > 0 && second.is_multiple_of(config.ping_period_s) {
            self.repl_feed(Bytes::from_static(PING));
        }
    }

    /// Where replication stands, for a driver that checks it (the model checker).
    pub fn repl_position(&self) -> ReplPosition {
        ReplPosition {
            replid: self.repl.replid.clone(),
            offset: self.repl.offset,
            active: self.repl.active(),
            replica: self.replica.is_replica(),
            connected: self.replica.is_connected(),
        }
    }

    /// The backlog's window: the offset of its first byte and the bytes it holds.
    pub fn repl_backlog(&self) -> Option<(u64, Bytes)> {
        let backlog = self.repl.backlog.as_ref()?;
        let bytes = backlog.bytes_from(backlog.first())?;
        Some((backlog.first(), bytes))
    }

    /// `-NOREPLICAS` when `min-replicas-to-write` is set and too few replicas are good.
    /// The count is the one the cron refreshed, as Redis's `refreshGoodSlavesCount`.
    pub(super) fn replicas_denial(&self) -> Option<Frame> {
        let config = &self.config.repl;
        if config.min_replicas_to_write == 0 || config.min_replicas_max_lag_s == 0 {
            return None;
        }
        (self.repl.good_count < config.min_replicas_to_write)
            .then(|| Frame::error("NOREPLICAS Not enough good replicas to write."))
    }
}
