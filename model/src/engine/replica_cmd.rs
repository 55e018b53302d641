//! The router's side of the replica sub-machine (`replica.rs`): REPLICAOF/SLAVEOF, the
//! master link's inputs (`handle_master_*`) and operations (`poll_link`), the handshake's
//! decisions, loading a full sync, applying the stream, ACKs, promotion and the replica's
//! INFO and ROLE.
//!
//! Owns no state. Invariants:
//! - the data set is replaced only by a complete payload that loaded whole; a failed load
//!   keeps the data set and the replication id and offset it had, and reconnects;
//! - the replication offset (`repl.offset`, which is also `slave_repl_offset`) counts exactly
//!   the stream bytes applied since the sync point: each command's bytes are added after it
//!   ran, and `REPLCONF GETACK` is answered with the offset before its own bytes;
//! - the master's commands run as [`MASTER_CLIENT`] through the normal request path (so the
//!   replica's own AOF logs them) and are never answered on the link, nor refused as writes;
//! - a replica never feeds its own re-encoding of writes into the stream: sub-replicas and the
//!   backlog get the master's bytes, so offsets match the master's.

use bytes::Bytes;

use crate::command;
use crate::keyspace::Keyspace;
use crate::rdb;
use crate::resp::{parse_integer, Frame};

use super::clients::ClientId;
use super::replica::{
    command as encode, parse_bulk_header, parse_fullresync, Framing, Handshake, LinkOp, LinkState,
    Transfer, MASTER_CLIENT, PAYLOAD_BYTES_MAX,
};
use super::Engine;

impl Engine {
    /// The next operation on the master link for the runtime.
    #[must_use]
    pub fn poll_link(&mut self) -> Option<LinkOp> {
        self.replica.pop_op()
    }

    /// The runtime's connection for `link` is established: the handshake starts with PING.
    pub fn handle_master_connected(&mut self, now_ms: u64, link: u64) {
        if link != self.replica.link || self.replica.state != LinkState::Connecting {
            return;
        }
        (self.out).notice("MASTER <-> REPLICA sync started".to_string());
        self.replica.last_io_ms = now_ms;
        self.replica.state = LinkState::Handshake(Handshake::Pong);
        self.replica.send(Bytes::from(encode(&["PING"])));
        self.turn_at = Some(now_ms);
    }

    /// Bytes arrived on `link`.
    pub fn handle_master_data(&mut self, now_ms: u64, link: u64, bytes: &[u8]) {
        // A stopping engine applies nothing more (its final snapshot's offset must match).
        let running = self.phase == super::Phase::Running;
        if link != self.replica.link || !self.replica.is_replica() || !running {
            return;
        }
        self.replica.last_io_ms = now_ms;
        self.replica.input.extend_from_slice(bytes);
        while self.replica_step(now_ms) {}
        self.note_fack_mark();
        self.replica.compact();
        self.turn_at = Some(now_ms);
    }

    /// The link is lost: closed, retried later; a transaction of the master's half received
    /// is discarded (its bytes were never counted, so the PSYNC asks for it again whole).
    fn replica_link_lost(&mut self, now_ms: u64) {
        self.replica.link_lost(now_ms);
        if std::mem::take(&mut self.replica.in_tx) {
            self.replica.tx_bytes.clear();
            let discard = vec![Bytes::from_static(b"DISCARD")];
            let id = command::resolve(&discard[0]);
            self.handle_request(now_ms, MASTER_CLIENT, id, &discard, None);
        }
    }

    /// The master's client starts over (its SELECT, a MULTI and its uncounted bytes).
    fn reset_master_client(&mut self) {
        self.clients.handle_closed(MASTER_CLIENT, &mut self.shared);
        self.replica.in_tx = false;
        self.replica.tx_bytes.clear();
    }

    /// `link` failed to connect or was closed by the peer.
    pub fn handle_master_closed(&mut self, now_ms: u64, link: u64) {
        if link != self.replica.link || matches!(self.replica.state, LinkState::Connect { .. }) {
            return;
        }
        (self.out).warn("Connection with master lost.".to_string());
        self.replica_link_lost(now_ms);
        self.turn_at = Some(now_ms);
    }

    /// One step of the link's state machine on the input; `false` when it needs more input.
    fn replica_step(&mut self, now_ms: u64) -> bool {
        if let LinkState::Transfer(_) = self.replica.state {
            // Taken out, not cloned: the payload may be gigabytes.
            let taken = std::mem::replace(&mut self.replica.state, LinkState::Connecting);
            let LinkState::Transfer(t) = taken else {
                unreachable!("matched above")
            };
            return self.transfer_step(now_ms, t);
        }
        match self.replica.state.clone() {
            LinkState::Handshake(step) => match self.replica.take_line() {
                Some(line) => {
                    self.handshake_reply(now_ms, step, &line);
                    true
                }
                None => false,
            },
            LinkState::Connected => self.apply_stream(now_ms),
            LinkState::Connect { .. } | LinkState::Connecting | LinkState::Transfer(_) => {
                self.replica.input.clear();
                self.replica.input_pos = 0;
                false
            }
        }
    }

    fn handshake_reply(&mut self, now_ms: u64, step: Handshake, line: &[u8]) {
        match step {
            Handshake::Pong => {
                // As `syncWithMaster`: NOAUTH and NOPERM mean the AUTH that follows decides.
                let ok = line.starts_with(b"+")
                    || line.starts_with(b"-NOAUTH")
                    || line.starts_with(b"-NOPERM")
                    || line.starts_with(b"-ERR operation not permitted");
                if !ok {
                    return self.handshake_failed(now_ms, "PING", line);
                }
                self.send_replconf();
            }
            Handshake::Replies { left, auth } => {
                if auth && line.starts_with(b"-") {
                    return self.handshake_failed(now_ms, "AUTH", line);
                }
                if !auth && line.starts_with(b"-") {
                    let text = String::from_utf8_lossy(line);
                    (self.out).notice(format!(
                        "(Non critical) Master does not understand REPLCONF: {text}"
                    ));
                }
                if left > 1 {
                    let next = Handshake::Replies {
                        left: left - 1,
                        auth: false,
                    };
                    self.replica.state = LinkState::Handshake(next);
                } else {
                    self.send_psync();
                }
            }
            Handshake::Psync if line.is_empty() => {} // keepalive newlines before the reply
            Handshake::Psync => self.psync_reply(now_ms, line),
        }
    }

    fn handshake_failed(&mut self, now_ms: u64, what: &str, line: &[u8]) {
        let text = String::from_utf8_lossy(line);
        (self.out).warn(format!("Error reply to {what} from master: '{text}'"));
        self.replica_link_lost(now_ms);
    }

    /// AUTH (with `masterauth`), REPLCONF listening-port and REPLCONF capa, pipelined.
    fn send_replconf(&mut self) {
        let config = &self.config.replica;
        let mut out = Vec::new();
        let auth = config.masterauth.is_some();
        if let Some(pass) = &config.masterauth {
            match &config.masteruser {
                Some(user) => out.extend(encode(&["AUTH", user, pass])),
                None => out.extend(encode(&["AUTH", pass])),
            }
        }
        let port = (self.config.runtime_settings.iter())
            .find(|(name, _)| name == "port")
            .map_or("6379", |(_, value)| value.as_str());
        out.extend(encode(&["REPLCONF", "listening-port", port]));
        out.extend(encode(&["REPLCONF", "capa", "eof", "capa", "psync2"]));
        let left = 2 + u8::from(auth);
        self.replica.state = LinkState::Handshake(Handshake::Replies { left, auth });
        self.replica.send(Bytes::from(out));
    }

    /// `PSYNC <replid> <offset+1>`: our own history (a cached master, or ourselves when we
    /// were a master), which the master continues if it holds it.
    fn send_psync(&mut self) {
        let (id, from) = (self.repl.replid.clone(), self.repl.offset + 1);
        let from = from.to_string();
        (self.out).notice(format!(
            "Trying a partial resynchronization (request {id}:{from})."
        ));
        self.replica
            .send(Bytes::from(encode(&["PSYNC", &id, &from])));
        self.replica.state = LinkState::Handshake(Handshake::Psync);
    }

    fn psync_reply(&mut self, now_ms: u64, line: &[u8]) {
        if let Some((replid, offset)) = parse_fullresync(line) {
            (self.out).notice(format!("Full resync from master: {replid}:{offset}"));
            let t = Transfer {
                replid,
                offset,
                framing: None,
                payload: Vec::new(),
            };
            self.replica.state = LinkState::Transfer(t);
        } else if let Some(rest) = line.strip_prefix(b"+CONTINUE") {
            let id = String::from_utf8_lossy(rest).trim().to_string();
            self.continue_from_master((id.len() == 40).then_some(id), now_ms);
        } else {
            // -NOMASTERLINK, -LOADING, or a master that cannot PSYNC: try again later.
            self.handshake_failed(now_ms, "PSYNC", line);
        }
    }

    /// `+CONTINUE [<new replid>]`: the stream continues at our offset; a new id becomes ours
    /// and the old one our replid2, valid up to the offset reached (as Redis).
    fn continue_from_master(&mut self, new_id: Option<String>, now_ms: u64) {
        (self.out).notice(
            "MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization.".to_string(),
        );
        let config = self.config.repl;
        let repl = &mut self.repl;
        repl.ensure_backlog_at(&config);
        if let Some(id) = new_id.filter(|id| *id != repl.replid) {
            repl.replid2 = std::mem::replace(&mut repl.replid, id);
            repl.second_offset = Some(repl.offset + 1);
            self.drop_sub_replicas();
        }
        self.replica_online(now_ms);
    }

    fn replica_online(&mut self, now_ms: u64) {
        self.replica.state = LinkState::Connected;
        self.replica.down_since_ms = None;
        self.replica.ack_s = now_ms / 1000;
        self.send_ack();
    }

    /// Sub-replicas reconnect after our history changed (they PSYNC again).
    fn drop_sub_replicas(&mut self) {
        let replicas: Vec<ClientId> = (self.repl.peers.iter())
            .filter(|(_, p)| p.state.is_some())
            .map(|(&c, _)| c)
            .collect();
        let need = self.need_now();
        for client in replicas {
            self.repl.forget(client);
            self.kill(client, need);
        }
    }

    /// The transfer `t` (taken out of the state, which this puts back unless it moved on).
    fn transfer_step(&mut self, now_ms: u64, mut t: Transfer) -> bool {
        if t.framing.is_none() {
            let line = self.replica.take_line();
            let Some(line) = line.as_ref().filter(|l| !l.is_empty()) else {
                // No line yet, or a keepalive newline while the master prepares the RDB.
                self.replica.state = LinkState::Transfer(t);
                return line.is_some();
            };
            match parse_bulk_header(line) {
                Some(Framing::Len(len)) if len > PAYLOAD_BYTES_MAX => {
                    self.handshake_failed(now_ms, "SYNC (payload too large)", line);
                    return false;
                }
                Some(framing) => t.framing = Some(framing),
                None => {
                    self.handshake_failed(now_ms, "SYNC", line);
                    return false;
                }
            }
        }
        let done = t.take(&mut self.replica.input);
        if t.payload.len() as u64 > PAYLOAD_BYTES_MAX {
            self.handshake_failed(now_ms, "SYNC (payload too large)", b"");
            return false;
        }
        if done {
            self.load_full_sync(now_ms, &t);
            return self.replica.state == LinkState::Connected;
        }
        self.replica.state = LinkState::Transfer(t);
        false
    }

    /// A complete payload: load it into a new data set, and only if that succeeds replace the
    /// old one and take the master's id and offset.
    fn load_full_sync(&mut self, now_ms: u64, t: &Transfer) {
        let mut ks = Keyspace::with_limits(self.keyspace.dbs.len(), self.keyspace.limits);
        let opts = rdb::LoadOptions {
            now_ms,
            drop_expired: false, // a replica waits for the master's DEL, as Redis
        };
        let bytes = t.rdb();
        let size = bytes.len();
        (self.out).notice(format!(
            "MASTER <-> REPLICA sync: Loading DB in memory ({size} bytes)"
        ));
        let loaded = rdb::decode(bytes, &mut ks, &opts)
            .map_err(|e| e.to_string())
            .and_then(|l| match l.end_offset == bytes.len() as u64 {
                true => Ok(l),
                false => Err("unexpected bytes after the RDB checksum".to_string()),
            })
            .and_then(|l| command::load_libraries(&mut ks.functions, &l.functions).map(|_| l));
        let loaded = match loaded {
            Ok(loaded) => loaded,
            Err(reason) => {
                let why = format!("Failed trying to load the MASTER synchronization DB: {reason}");
                self.out.warn(why);
                return self.replica_link_lost(now_ms);
            }
        };
        for (db, old) in self.keyspace.dbs.iter().enumerate() {
            // As Redis's `emptyData`: WATCHes of keys the old data set held are broken.
            (self.shared.watches).touch_db(db, old, None, now_ms, false);
        }
        self.keyspace = ks;
        // The master link's session (its SELECT, a MULTI) starts over with the new stream.
        self.reset_master_client();
        self.drop_sub_replicas();
        self.repl.follow(&t.replid, t.offset, &self.config.repl);
        (self.out).notice(format!(
            "MASTER <-> REPLICA sync: Finished with success ({} keys, offset {})",
            loaded.keys_loaded, t.offset
        ));
        self.fack_after_full_sync();
        self.replica_online(now_ms);
        if self.config.appendonly {
            // The AOF must describe the new data set: rewrite it now (Redis's
            // `restartAOFAfterSYNC`).
            let started = self.start_rewrite(now_ms);
            if started.is_ok() {
                self.fack_rewrite_started();
            }
            if let Err(reason) = started {
                let reason = format!("{reason:?}");
                self.out.warn(format!(
                    "Cannot rewrite the AOF after the full sync now ({reason}); will retry"
                ));
                self.replica.rewrite_due = true;
            }
        }
    }

    /// Applies one command of the stream; `false` when a whole one has not arrived yet.
    fn apply_stream(&mut self, now_ms: u64) -> bool {
        use crate::aof::record::{decode, Decoded};
        let mut tx_end = false;
        let len = match decode(self.replica.pending()) {
            Decoded::Command { argv, len } => {
                let name = &argv[0];
                if name.eq_ignore_ascii_case(b"multi") {
                    self.replica.in_tx = true;
                }
                tx_end =
                    name.eq_ignore_ascii_case(b"exec") || name.eq_ignore_ascii_case(b"discard");
                if is_getack(&argv) {
                    // The offset before these bytes, as Redis.
                    self.send_ack();
                } else {
                    let id = command::resolve(&argv[0]);
                    self.handle_request(now_ms, MASTER_CLIENT, id, &argv, None);
                }
                len
            }
            Decoded::Annotation { len } => len,
            Decoded::Incomplete => return false,
            Decoded::Corrupt { reason, .. } => {
                let text = format!("Protocol error from master: {reason}");
                self.handshake_failed(now_ms, "the stream", text.as_bytes());
                return false;
            }
        };
        let at = self.replica.input_pos;
        let r = &mut self.replica;
        let raw = &r.input[at..at + len];
        if r.in_tx {
            // As Redis's `reploff`, which does not move inside MULTI: the offset (ACK, PSYNC,
            // a snapshot's `repl-offset`) covers whole transactions only.
            r.tx_bytes.extend_from_slice(raw);
            if tx_end {
                r.in_tx = false;
                let bytes = Bytes::from(std::mem::take(&mut r.tx_bytes));
                self.repl_feed_raw(bytes);
            }
        } else {
            let raw = Bytes::copy_from_slice(raw);
            self.repl_feed_raw(raw);
        }
        self.replica.input_pos += len;
        true
    }

    /// The replica's part of the 100 ms cron: connect when due, ACK once a second, and drop a
    /// link silent for `repl-timeout`.
    pub(super) fn replica_cron(&mut self, now_ms: u64) {
        if !self.replica.is_replica() {
            return;
        }
        self.replica.connect_if_due(now_ms);
        if self.replica.rewrite_due && self.start_rewrite(now_ms).is_ok() {
            self.replica.rewrite_due = false;
            self.fack_rewrite_started();
        }
        let timeout_ms = self.config.repl.timeout_s * 1000;
        let waiting = !matches!(self.replica.state, LinkState::Connect { .. });
        if waiting && now_ms.saturating_sub(self.replica.last_io_ms) > timeout_ms {
            (self.out).warn("MASTER timeout: no data nor PING received...".to_string());
            self.replica_link_lost(now_ms);
        }
        let second = now_ms / 1000;
        if self.replica.is_connected() && second != self.replica.ack_s {
            self.replica.ack_s = second;
            self.send_ack();
        }
    }

    /// REPLICAOF host port | NO ONE.
    pub(super) fn replicaof(&mut self, now_ms: u64, argv: &[Bytes]) -> Frame {
        let no_one = argv[1].eq_ignore_ascii_case(b"no") && argv[2].eq_ignore_ascii_case(b"one");
        if no_one {
            if self.replica.is_replica() {
                self.promote(now_ms);
            }
            return Frame::ok();
        }
        let port = match parse_integer(&argv[2]) {
            Some(port) if (0..=65535).contains(&port) => port as u16,
            Some(_) => return Frame::error("ERR Invalid master port"),
            None => return Frame::error("ERR value is not an integer or out of range"),
        };
        let host = String::from_utf8_lossy(&argv[1]).into_owned();
        let same = (self.replica.master.as_ref())
            .is_some_and(|(h, p)| h.eq_ignore_ascii_case(&host) && *p == port);
        if same {
            return Frame::Simple("OK Already connected to specified master".to_string());
        }
        (self.out).notice(format!("REPLICAOF {host}:{port} enabled (user request)"));
        self.replica.set_master(Some((host, port)), now_ms);
        self.reset_master_client();
        self.replica_cron(now_ms);
        Frame::ok()
    }

    /// REPLICAOF NO ONE on a replica: a master again, with a new id; the old one stays valid
    /// as replid2 up to the offset reached, so sub-replicas (and siblings) continue with
    /// `+CONTINUE` (Redis's `shiftReplicationId`).
    fn promote(&mut self, now_ms: u64) {
        self.replica.set_master(None, now_ms);
        self.reset_master_client();
        if self.config.mutation != crate::config::Mutation::NoReplidShift {
            self.repl.shift_id();
        }
        self.drop_sub_replicas();
        (self.out).notice("MASTER MODE enabled (user request from REPLICAOF NO ONE)".to_string());
    }

    /// The `repl-id`/`repl-offset` a snapshot taken now records: a replica's master id and
    /// the offset its data set reflects (`None` on a master, or before any sync).
    pub(super) fn replica_aux(&self) -> Option<(String, u64)> {
        let history = self.replica.is_replica() && self.repl.active();
        history.then(|| (self.repl.replid.clone(), self.repl.offset))
    }

    /// Start-up loaded `dump.rdb`: a replica takes its `repl-id`/`repl-offset` as its
    /// history, so its first PSYNC asks to continue from there (Redis's `loadDataFromDisk`).
    pub(super) fn adopt_repl_aux(&mut self) {
        let aux = self.startup.repl_aux.take();
        if let Some((id, offset)) = aux.filter(|_| self.replica.is_replica()) {
            (self.out).notice(format!("Using the RDB's replication info: {id}:{offset}"));
            (self.repl.replid, self.repl.offset) = (id, offset);
        }
    }

    /// `-READONLY` for a normal client's write on a read-only replica.
    pub(super) fn replica_gate(&mut self, client: ClientId, write: bool) -> Option<Frame> {
        let refused = write
            && client != MASTER_CLIENT
            && self.replica.is_replica()
            && self.config.replica.read_only;
        if !refused {
            return None;
        }
        if let Some(session) = self.clients.session_mut(client).filter(|s| s.in_multi()) {
            session.flag_transaction();
        }
        Some(Frame::error(
            "READONLY You can't write against a read only replica.",
        ))
    }

    /// ROLE on a replica: `slave`, host, port, link state, offset (-1 before a sync).
    pub(super) fn replica_role(&self) -> Option<Frame> {
        let (host, port) = self.replica.master.as_ref()?;
        let offset = match self.replica.state {
            LinkState::Connected => self.repl.offset as i64,
            _ => -1,
        };
        Some(Frame::Array(vec![
            Frame::Bulk(Bytes::from_static(b"slave")),
            Frame::Bulk(Bytes::from(host.clone())),
            Frame::Integer(i64::from(*port)),
            Frame::Bulk(Bytes::from_static(self.replica.role_state().as_bytes())),
            Frame::Integer(offset),
        ]))
    }

    /// INFO replication's replica lines, from `role:slave` to `replica_announced` (Redis
    /// 7.0's `genRedisInfoString`), or `None` on a master.
    pub(super) fn replica_info(&self, now_ms: u64) -> Option<Vec<(String, String)>> {
        let (host, port) = self.replica.master.as_ref()?;
        let r = &self.replica;
        let kv = |k: &str, v: String| (k.to_string(), v);
        let connected = r.state == LinkState::Connected;
        let seconds = |at: u64| (now_ms.saturating_sub(at) / 1000).to_string();
        let last_io = if connected {
            seconds(r.last_io_ms)
        } else {
            "-1".into()
        };
        let offset = self.repl.offset.to_string();
        let read = (self.repl.offset + r.pending().len() as u64).to_string();
        let mut fields = vec![
            kv("role", "slave".into()),
            kv("master_host", host.clone()),
            kv("master_port", port.to_string()),
            kv(
                "master_link_status",
                (if connected { "up" } else { "down" }).into(),
            ),
            kv("master_last_io_seconds_ago", last_io),
            kv(
                "master_sync_in_progress",
                u8::from(matches!(r.state, LinkState::Transfer(_))).to_string(),
            ),
            kv("slave_read_repl_offset", read),
            kv("slave_repl_offset", offset),
        ];
        if let LinkState::Transfer(t) = &r.state {
            let (total, read) = (t.total_bytes(), t.payload.len() as i64);
            let perc = if total > 0 {
                read as f64 * 100.0 / total as f64
            } else {
                0.0
            };
            fields.extend([
                kv("master_sync_total_bytes", total.to_string()),
                kv("master_sync_read_bytes", read.to_string()),
                kv("master_sync_left_bytes", (total - read).to_string()),
                kv("master_sync_perc", format!("{perc:.2}")),
                kv("master_sync_last_io_seconds_ago", seconds(r.last_io_ms)),
            ]);
        }
        if !connected {
            let down = r.down_since_ms.map_or("-1".to_string(), seconds);
            fields.push(kv("master_link_down_since_seconds", down));
        }
        let config = &self.config.replica;
        fields.extend([
            kv("slave_priority", config.priority.to_string()),
            kv("slave_read_only", u8::from(config.read_only).to_string()),
            kv("replica_announced", u8::from(config.announced).to_string()),
        ]);
        Some(fields)
    }
}

fn is_getack(argv: &[Bytes]) -> bool {
    argv.len() >= 2
        && argv[0].eq_ignore_ascii_case(b"replconf")
        && argv[1].eq_ignore_ascii_case(b"getack")
}
