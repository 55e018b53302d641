//! Replication, master side: the sub-machine beside snapshots and rewrites that turns the
//! engine's propagated writes into Redis 7.0's replication stream and serves replicas
//! (`redis-replication-facts.md`; the commands that drive it are in `repl_cmd.rs`).
//!
//! Owns the replication ids and offsets, the backlog, the stream's own SELECT state, every
//! replica's handshake and sync state, WAIT's waiters and each client's WAIT target.
//! Invariants:
//! - `offset` (`master_repl_offset`) counts every byte fed into the backlog and nothing else,
//!   and moves only while a backlog exists — so an engine that never had a replica keeps every
//!   field at its start value (the model checker's states are those of an engine without
//!   replication);
//! - every replica receives the stream bytes after its sync point exactly once and in order:
//!   an online replica gets them as they are fed; one being sent its RDB is owed them (bounded
//!   by `client-output-buffer-limit replica`, else it is dropped) and gets them when it goes
//!   online; a partial resync starts exactly at the offset asked for, from the backlog;
//! - `+CONTINUE` is served only for history this process holds: the current id (or the previous
//!   one up to `second_offset`) and an offset inside the backlog's window.

use std::collections::BTreeMap;

use bytes::Bytes;

use crate::repl_config::ReplConfig;
use crate::resp::Frame;
use crate::view::ViewWriter;

use super::clients::ClientId;
use super::repl_backlog::Backlog;

/// `replid2` when there is no previous history.
pub(crate) const ZERO_ID: &str = "0000000000000000000000000000000000000000";
/// The replication-only PING: lower case, as Redis's `shared.ping` (14 bytes).
pub(crate) const PING: &[u8] = b"*1\r\n$4\r\nping\r\n";
/// `REPLCONF GETACK *` (37 bytes), fed when a WAIT blocks.
pub(crate) const GETACK: &[u8] = b"*3\r\n$8\r\nREPLCONF\r\n$6\r\nGETACK\r\n$1\r\n*\r\n";

/// What the runtime sends a replica for a full resynchronisation: the RDB of `view`, framed
/// `$EOF:<mark>\r\n<rdb><mark>` when `eof_mark` is set (diskless, for `capa eof` replicas),
/// else `$<len>\r\n<rdb>`. It answers no request. When the last byte is written the runtime
/// calls `Engine::handle_replica_synced`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ReplicaSync {
    pub view: ViewWriter,
    pub eof_mark: Option<[u8; 40]>,
}

/// Where an engine's replication stands (`Engine::repl_position`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ReplPosition {
    /// `master_replid`: on a replica, the history it holds.
    pub replid: String,
    /// `master_repl_offset` (a replica's `slave_repl_offset`).
    pub offset: u64,
    /// A backlog exists: replicas can hold (and continue) this process's history.
    pub active: bool,
    /// It follows a master.
    pub replica: bool,
    /// It follows a master over a link that is applying the stream.
    pub connected: bool,
}

/// Where a replica is in its synchronisation (Redis's `replstate`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum SyncState {
    /// A full sync waits to start (diskless delay): `since_ms` is when it asked.
    WaitBgsave {
        since_ms: u64,
    },
    /// Its RDB is being sent; `eof`: diskless framing, online at its first ACK after it;
    /// `sent`: the runtime wrote the last byte of the payload.
    SendBulk {
        eof: bool,
        sent: bool,
    },
    Online,
}

impl SyncState {
    pub(crate) fn name(self) -> &'static str {
        match self {
            SyncState::WaitBgsave { .. } => "wait_bgsave",
            SyncState::SendBulk { .. } => "send_bulk",
            SyncState::Online => "online",
        }
    }
}

/// A connection that sent REPLCONF or SYNC/PSYNC.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct Peer {
    pub(crate) listening_port: u64,
    pub(crate) ip: Option<String>,
    pub(crate) capa_eof: bool,
    pub(crate) capa_psync2: bool,
    /// `Some` once it is a replica.
    pub(crate) state: Option<SyncState>,
    /// Old `SYNC`: no ACKs expected, never timed out.
    pub(crate) pre_psync: bool,
    pub(crate) ack_offset: u64,
    /// The offset its own AOF has fsynced (`REPLCONF ACK <o> FACK <aof-offset>`, Redis 7.2);
    /// `None` until it sent one: a Redis 7.0 replica never does, so never counts for WAITAOF.
    pub(crate) fack_offset: Option<u64>,
    pub(crate) ack_ms: u64,
    /// Stream bytes fed while its RDB was being sent, owed once it is online.
    pub(crate) owed: Vec<Bytes>,
    pub(crate) owed_bytes: u64,
}

/// A client blocked in WAIT or WAITAOF.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Wait {
    pub(crate) client: ClientId,
    /// The stream offset replicas must have acknowledged (WAIT) or fsynced (WAITAOF).
    pub(crate) target: u64,
    pub(crate) replicas: u64,
    pub(crate) deadline_ms: Option<u64>,
    /// `Some` for WAITAOF (`repl_aof.rs`).
    pub(crate) aof: Option<AofWait>,
}

/// WAITAOF's local part: the AOF log offset to be durable, and whether it was asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct AofWait {
    pub(crate) local_target: u64,
    pub(crate) numlocal: bool,
}

/// What WAITAOF's local part sees of this server's AOF.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LocalAof {
    /// `appendonly no`: nothing is ever fsynced locally (Redis's `fsynced_reploff` -1).
    Off,
    /// On, with the log's durable offset; `None` while no log is open yet (CONFIG SET
    /// appendonly yes still writing the first files, as Redis's `AOF_WAIT_REWRITE`).
    On(Option<u64>),
}

impl LocalAof {
    /// Whether the local AOF has fsynced everything up to `target`.
    pub(crate) fn covers(self, target: u64) -> bool {
        matches!(self, LocalAof::On(Some(durable)) if durable >= target)
    }
}

/// WAITAOF cannot wait for a local fsync that will never come.
pub(crate) const WAITAOF_AOF_OFF: &str =
    "ERR WAITAOF cannot be used when numlocal is set but appendonly is disabled.";

/// Stream bytes fed: who gets them now, and who was dropped for owing too much.
#[derive(Default)]
pub(crate) struct Fed {
    pub(crate) now: Vec<ClientId>,
    pub(crate) dropped: Vec<ClientId>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Repl {
    pub(crate) replid: String,
    pub(crate) replid2: String,
    /// `second_repl_offset`: the previous id is valid up to this offset (`None` = -1).
    pub(crate) second_offset: Option<u64>,
    /// `master_repl_offset`.
    pub(crate) offset: u64,
    pub(crate) backlog: Option<Backlog>,
    /// The stream's SELECT state (`slaveseldb`); `None` forces a SELECT before the next write.
    selected_db: Option<usize>,
    pub(crate) peers: BTreeMap<ClientId, Peer>,
    pub(crate) waits: Vec<Wait>,
    /// WAIT's target per client: `offset` after its previous command.
    pub(crate) woff: BTreeMap<ClientId, u64>,
    seed: u64,
    /// The second the 1 Hz replication cron last ran.
    pub(crate) cron_s: u64,
    /// Good replicas as of the last cron (min-replicas-to-write).
    pub(crate) good_count: u64,
    pub(crate) sync_full: u64,
    pub(crate) sync_partial_ok: u64,
    pub(crate) sync_partial_err: u64,
}

/// WAITAOF's reply: whether the local AOF fsynced, and how many replicas' AOFs did.
pub(crate) fn waitaof_reply(local: bool, replicas: u64) -> Frame {
    Frame::Array(vec![
        Frame::Integer(i64::from(local)),
        Frame::Integer(replicas as i64),
    ])
}

/// splitmix64: ids and EOF marks from the engine's seed (the engine has no randomness source
/// of its own; the seed is the start time, so a restarted server has a new id).
fn next_random(seed: &mut u64) -> u64 {
    *seed = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *seed;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn random_hex40(seed: &mut u64) -> String {
    let mut out = String::with_capacity(48);
    while out.len() < 40 {
        out.push_str(&format!("{:016x}", next_random(seed)));
    }
    out.truncate(40);
    out
}

impl Repl {
    pub(crate) fn new(now_ms: u64) -> Repl {
        let mut seed = now_ms ^ 0x005e_ed0f_4e91_1ca7;
        Repl {
            replid: random_hex40(&mut seed),
            replid2: ZERO_ID.to_string(),
            second_offset: None,
            offset: 0,
            backlog: None,
            selected_db: None,
            peers: BTreeMap::new(),
            waits: Vec::new(),
            woff: BTreeMap::new(),
            seed,
            cron_s: 0,
            good_count: 0,
            sync_full: 0,
            sync_partial_ok: 0,
            sync_partial_err: 0,
        }
    }

    /// Whether replication ever started in this run (a backlog exists).
    pub(crate) fn active(&self) -> bool {
        self.backlog.is_some()
    }

    /// The first replica creates the backlog, with a new id (Redis's `createReplicationBacklog`
    /// after `changeReplicationId`): no earlier history can be continued.
    pub(crate) fn ensure_backlog(&mut self, config: &ReplConfig) {
        if self.backlog.is_none() {
            self.replid = random_hex40(&mut self.seed);
            self.replid2 = ZERO_ID.to_string();
            self.second_offset = None;
            self.backlog = Some(Backlog::new(config.backlog_bytes, self.offset));
        }
    }

    /// A replica's backlog, created at its offset if it has none (its history is the
    /// master's: no new id).
    pub(crate) fn ensure_backlog_at(&mut self, config: &ReplConfig) {
        if self.backlog.is_none() {
            self.backlog = Some(Backlog::new(config.backlog_bytes, self.offset));
        }
    }

    /// A full sync from a master: its id and offset become ours, with a fresh backlog.
    pub(crate) fn follow(&mut self, replid: &str, offset: u64, config: &ReplConfig) {
        self.replid = replid.to_string();
        self.replid2 = ZERO_ID.to_string();
        self.second_offset = None;
        self.offset = offset;
        self.backlog = Some(Backlog::new(config.backlog_bytes, offset));
        self.selected_db = None;
    }

    /// Promotion (Redis's `shiftReplicationId`): the old id stays valid as replid2 up to the
    /// offset reached; a new id starts here, and the stream's next write selects its db.
    pub(crate) fn shift_id(&mut self) {
        self.replid2 = std::mem::replace(&mut self.replid, random_hex40(&mut self.seed));
        self.second_offset = Some(self.offset + 1);
        self.selected_db = None;
    }

    pub(crate) fn eof_mark(&mut self) -> [u8; 40] {
        let hex = random_hex40(&mut self.seed);
        let mut mark = [0u8; 40];
        mark.copy_from_slice(hex.as_bytes());
        mark
    }

    /// PSYNC `id` `from`: the backlog bytes to send after `+CONTINUE`, if the history asked for
    /// is held here (facts §6: `id` is ours, or our previous one up to `second_offset`, and
    /// `from` lies in `[first, offset + 1]`).
    pub(crate) fn partial(&self, id: &[u8], from: u64) -> Option<Bytes> {
        let backlog = self.backlog.as_ref()?;
        let ours = id == self.replid.as_bytes();
        let previous = id == self.replid2.as_bytes()
            && id != ZERO_ID.as_bytes()
            && self.second_offset.is_some_and(|second| from <= second);
        if !ours && !previous {
            return None;
        }
        backlog.bytes_from(from)
    }

    pub(crate) fn peer(&mut self, client: ClientId) -> &mut Peer {
        self.peers.entry(client).or_default()
    }

    pub(crate) fn is_replica(&self, client: ClientId) -> bool {
        self.peers.get(&client).is_some_and(|p| p.state.is_some())
    }

    pub(crate) fn is_waiting(&self, client: ClientId) -> bool {
        self.waits.iter().any(|w| w.client == client)
    }

    /// A new full sync resets the stream's SELECT state: the replica's RDB says nothing of it.
    pub(crate) fn forget_selected_db(&mut self) {
        self.selected_db = None;
    }

    /// Encodes a propagated write, preceded by a SELECT when the stream's database changes.
    pub(crate) fn encode_write(&mut self, db: usize, argv: &[Bytes], out: &mut Vec<u8>) {
        if self.selected_db != Some(db) {
            let select = [Bytes::from_static(b"SELECT"), Bytes::from(db.to_string())];
            crate::aof::record::encode(&select, out);
            self.selected_db = Some(db);
        }
        crate::aof::record::encode(argv, out);
    }

    /// Feeds stream bytes: into the backlog and the offset, to online replicas now, owed to
    /// those being sent their RDB. Without a backlog nothing happens (no replica ever came).
    pub(crate) fn feed(&mut self, bytes: &Bytes, config: &ReplConfig) -> Fed {
        let mut fed = Fed::default();
        let Some(backlog) = &mut self.backlog else {
            return fed;
        };
        if backlog.size() != config.backlog_bytes {
            backlog.resize(config.backlog_bytes); // CONFIG SET repl-backlog-size
        }
        backlog.feed(bytes);
        self.offset += bytes.len() as u64;
        for (&client, peer) in &mut self.peers {
            match peer.state {
                Some(SyncState::Online) => fed.now.push(client),
                Some(SyncState::SendBulk { .. }) => {
                    peer.owed.push(bytes.clone());
                    peer.owed_bytes += bytes.len() as u64;
                    if peer.owed_bytes > config.output_bytes_max {
                        fed.dropped.push(client);
                    }
                }
                Some(SyncState::WaitBgsave { .. }) | None => {}
            }
        }
        fed
    }

    /// REPLCONF ACK: the replica applied the stream up to `offset`. Returns the owed bytes if
    /// this ACK puts a diskless replica online (its first ACK after its payload).
    pub(crate) fn ack(
        &mut self,
        client: ClientId,
        offset: u64,
        fack: Option<u64>,
        now_ms: u64,
    ) -> Option<Bytes> {
        let peer = self.peers.get_mut(&client)?;
        peer.state?;
        peer.ack_offset = peer.ack_offset.max(offset);
        if let Some(fack) = fack {
            peer.fack_offset = Some(peer.fack_offset.map_or(fack, |old| old.max(fack)));
        }
        peer.ack_ms = now_ms;
        match peer.state {
            Some(SyncState::SendBulk { eof: true, .. }) => Some(Self::go_online(peer, now_ms)),
            _ => None,
        }
    }

    /// The runtime wrote the last byte of `client`'s RDB payload. Returns the owed bytes if it
    /// is now online (`$<len>` framing: the stream may follow at once).
    pub(crate) fn payload_sent(&mut self, client: ClientId, now_ms: u64) -> Option<Bytes> {
        let peer = self.peers.get_mut(&client)?;
        match peer.state {
            Some(SyncState::SendBulk { eof: false, .. }) => Some(Self::go_online(peer, now_ms)),
            Some(SyncState::SendBulk { eof: true, .. }) => {
                peer.state = Some(SyncState::SendBulk {
                    eof: true,
                    sent: true,
                });
                None
            }
            _ => None,
        }
    }

    fn go_online(peer: &mut Peer, now_ms: u64) -> Bytes {
        peer.state = Some(SyncState::Online);
        peer.ack_ms = now_ms;
        peer.owed_bytes = 0;
        let owed = std::mem::take(&mut peer.owed);
        Bytes::from(owed.concat())
    }

    /// Online replicas that acknowledged at least `target` (WAIT's count).
    pub(crate) fn acked(&self, target: u64) -> u64 {
        let online = self
            .peers
            .values()
            .filter(|p| p.state == Some(SyncState::Online));
        online.filter(|p| p.ack_offset >= target).count() as u64
    }

    /// Online replicas whose AOF fsynced at least `target` (WAITAOF's count).
    pub(crate) fn fsynced(&self, target: u64) -> u64 {
        let online = self
            .peers
            .values()
            .filter(|p| p.state == Some(SyncState::Online));
        online
            .filter(|p| p.fack_offset.is_some_and(|o| o >= target))
            .count() as u64
    }

    /// `min_slaves_good_slaves`: online replicas whose last ACK is at most the lag old.
    pub(crate) fn good_replicas(&self, config: &ReplConfig, now_ms: u64) -> u64 {
        let lag_ms = config.min_replicas_max_lag_s * 1000;
        let online = self
            .peers
            .values()
            .filter(|p| p.state == Some(SyncState::Online));
        online
            .filter(|p| now_ms.saturating_sub(p.ack_ms) <= lag_ms)
            .count() as u64
    }

    /// Replicas counted by INFO's `connected_slaves` (any state).
    pub(crate) fn replica_count(&self) -> usize {
        self.peers.values().filter(|p| p.state.is_some()).count()
    }

    /// A connection closed: it is no replica, waits for nothing, has no WAIT target.
    pub(crate) fn forget(&mut self, client: ClientId) {
        self.peers.remove(&client);
        self.waits.retain(|w| w.client != client);
        self.woff.remove(&client);
    }

    /// WAITs whose count is reached, or (with `now_ms`) whose deadline passed, removed, with
    /// the reply: WAIT's count, WAITAOF's `[local, replicas]` (or its error once `appendonly`
    /// was turned off under a local wait, as Redis).
    pub(crate) fn take_done_waits(
        &mut self,
        now_ms: Option<u64>,
        local: LocalAof,
    ) -> Vec<(ClientId, Frame)> {
        let mut done = Vec::new();
        let mut i = 0;
        while i < self.waits.len() {
            let w = &self.waits[i];
            let expired = now_ms.is_some_and(|now| w.deadline_ms.is_some_and(|at| at <= now));
            let reply = match w.aof {
                None => {
                    let count = self.acked(w.target);
                    (count >= w.replicas || expired).then_some(Frame::Integer(count as i64))
                }
                Some(a) if a.numlocal && local == LocalAof::Off => {
                    Some(Frame::error(WAITAOF_AOF_OFF))
                }
                Some(a) => {
                    let count = self.fsynced(w.target);
                    let fsynced = local.covers(a.local_target);
                    let reached = count >= w.replicas && (fsynced || !a.numlocal);
                    (reached || expired).then(|| waitaof_reply(fsynced, count))
                }
            };
            match reply {
                Some(frame) => {
                    done.push((w.client, frame));
                    self.waits.remove(i);
                }
                None => i += 1,
            }
        }
        done
    }

    pub(crate) fn next_wait_deadline(&self) -> Option<u64> {
        self.waits.iter().filter_map(|w| w.deadline_ms).min()
    }
}
