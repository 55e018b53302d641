//! WAITAOF (Redis 7.2) at both ends of replication: the master's command, which waits until
//! the local AOF and/or N replicas' AOFs have fsynced what the client wrote, and the replica's
//! `FACK`, the stream offset its own AOF has fsynced, sent with every `REPLCONF ACK`.
//!
//! Owns no state (the waits are `repl.rs`'s, the FACK marks `replica.rs`'s). Invariants:
//! - WAITAOF answers local `1` only when the log's durable offset covers every byte logged
//!   before it ran, and counts a replica only for a FACK at or past the client's WAIT target;
//!   a Redis 7.0 replica sends no FACK and never counts;
//! - a replica's FACK never exceeds the stream offset whose writes its AOF has fsynced: a mark
//!   (log offset, stream offset) taken after applying stream bytes is reported only once the
//!   log is durable up to it, and after a full sync nothing new is reported until the rewrite
//!   that puts the loaded data set into the AOF has finished;
//! - under `appendonly no` a replica sends no FACK, as Redis 7.2 (`fsynced_reploff` -1).

use bytes::Bytes;

use crate::config::FsyncPolicy;
use crate::resp::{parse_integer, Frame};

use super::clients::ClientId;
use super::repl::{waitaof_reply, AofWait, LocalAof, Wait, GETACK, WAITAOF_AOF_OFF};
use super::replica::ack_command;
use super::Engine;

/// Marks kept between two ACKs at most; beyond, the oldest are dropped (a later mark covers
/// more, so dropping one only delays the FACK, never overstates it).
const FACK_MARKS_MAX: usize = 4096;

/// WAITAOF's arguments as Redis 7.2 parses them, in order, with its error texts.
fn parse_waitaof(argv: &[Bytes], now_ms: u64) -> Result<(bool, u64, u64), &'static str> {
    let numlocal = match parse_integer(&argv[1]) {
        None => return Err("ERR value is not an integer or out of range"),
        Some(n @ 0..=1) => n == 1,
        Some(_) => return Err("ERR value is out of range, value must between 0 and 1"),
    };
    // `getPositiveLongFromObjectOrReply` gives its message for a non-integer too.
    let replicas = match parse_integer(&argv[2]) {
        Some(n) if n >= 0 => n as u64,
        _ => return Err("ERR value is out of range, must be positive"),
    };
    let timeout_ms = match parse_integer(&argv[3]) {
        None => return Err("ERR timeout is not an integer or out of range"),
        Some(t) if t < 0 => return Err("ERR timeout is negative"),
        Some(t) if t > 0 && t > i64::MAX - now_ms.min(i64::MAX as u64) as i64 => {
            return Err("ERR timeout is out of range")
        }
        Some(t) => t as u64,
    };
    Ok((numlocal, replicas, timeout_ms))
}

impl Engine {
    /// What WAITAOF sees of the local AOF.
    pub(super) fn local_aof(&self) -> LocalAof {
        if !self.config.appendonly || self.toggle.disabling {
            return LocalAof::Off;
        }
        match &self.aof.log {
            Some(log) if !self.aof.is_enabling() => LocalAof::On(Some(log.offset_durable)),
            _ => LocalAof::On(None),
        }
    }

    /// WAITAOF numlocal numreplicas timeout; `None` when the client blocks. Without
    /// `may_block` (inside MULTI, Redis's `CLIENT_DENY_BLOCKING`) it answers the counts of now.
    ///
    /// The local target is the log's offset now rather than after the client's previous
    /// command (Redis's `c->woff`): a reply leaves only after its record's write(2), so the
    /// client's writes are all logged by now, and what others logged since shares the same
    /// group-commit fsync. Replicas are counted against the WAIT target, as Redis.
    pub(super) fn waitaof(
        &mut self,
        now_ms: u64,
        client: ClientId,
        argv: &[Bytes],
        may_block: bool,
    ) -> Option<Frame> {
        let (numlocal, replicas, timeout_ms) = match parse_waitaof(argv, now_ms) {
            Ok(args) => args,
            Err(text) => return Some(Frame::error(text)),
        };
        if self.replica.is_replica() {
            return Some(Frame::error(
                "ERR WAITAOF cannot be used with replica instances. Please also note that \
                 writes to replicas are just local and are not propagated.",
            ));
        }
        let local = self.local_aof();
        if numlocal && local == LocalAof::Off {
            return Some(Frame::error(WAITAOF_AOF_OFF));
        }
        let target = self.repl.woff.get(&client).copied().unwrap_or(0);
        let local_target = self.aof.log.as_ref().map_or(0, |l| l.offset_logged);
        let fsynced = local.covers(local_target);
        let count = self.repl.fsynced(target);
        if (count >= replicas && (fsynced || !numlocal)) || !may_block {
            return Some(waitaof_reply(fsynced, count));
        }
        let deadline_ms = (timeout_ms > 0).then(|| now_ms + timeout_ms);
        let aof = Some(AofWait {
            local_target,
            numlocal,
        });
        (self.repl.waits).push(Wait {
            client,
            target,
            replicas,
            deadline_ms,
            aof,
        });
        // Ask every replica for its offsets now rather than at its next 1 s ACK.
        if self.repl.active() {
            self.repl_feed(Bytes::from_static(GETACK));
        }
        None
    }

    /// End of every turn: a WAITAOF may be answered by an fsync that just completed.
    pub(super) fn answer_aof_waits(&mut self, now_ms: u64) {
        if self.repl.waits.iter().any(|w| w.aof.is_some()) {
            self.answer_waits(now_ms, None);
        }
    }

    /// `REPLCONF ACK <offset>`, with `FACK <aof-offset>` while the AOF is on.
    pub(super) fn send_ack(&mut self) {
        let fack = self.replica_fack();
        let offset = self.repl.offset;
        self.replica.send(ack_command(offset, fack));
    }

    /// The stream offset this replica's AOF has fsynced; `None` under `appendonly no`.
    fn replica_fack(&mut self) -> Option<u64> {
        let LocalAof::On(durable) = self.local_aof() else {
            // As Redis's `fsynced_reploff` -1: turned on again, it starts over from 0.
            (self.replica.fack_marks).clear();
            self.replica.fack = 0;
            return None;
        };
        let r = &mut self.replica;
        if r.fack_gate.is_some_and(|n| self.rewrites.count > n) {
            r.fack_gate = None; // the rewrite after the full sync finished
        }
        let (Some(durable), None) = (durable, r.fack_gate) else {
            return Some(r.fack);
        };
        while let Some(&(log_at, stream_at)) = r.fack_marks.front() {
            if log_at > durable {
                break;
            }
            r.fack = r.fack.max(stream_at);
            r.fack_marks.pop_front();
        }
        // Everything logged is durable: so is every write applied (Redis's flush with an empty
        // buffer, which sets `fsynced_reploff_pending` to the offset unless `appendfsync no`).
        let log = self.aof.log.as_ref().expect("durable offset from the log");
        if log.offset_logged == durable && log.policy != FsyncPolicy::No {
            r.fack_marks.clear();
            r.fack = r.fack.max(self.repl.offset);
        }
        Some(r.fack)
    }

    /// After applying stream bytes: the log offset their writes reach, and the stream offset.
    pub(super) fn note_fack_mark(&mut self) {
        let Some(log) = (self.aof.log.as_ref()).filter(|_| self.config.appendonly) else {
            return;
        };
        let mark = (log.offset_logged, self.repl.offset);
        let marks = &mut self.replica.fack_marks;
        if marks.back() != Some(&mark) {
            if marks.len() == FACK_MARKS_MAX {
                marks.pop_front();
            }
            marks.push_back(mark);
        }
    }

    /// A full sync replaced the data set: the FACK starts over at 0 and, with the AOF on,
    /// stays there until the rewrite that logs the new data set has started and finished.
    pub(super) fn fack_after_full_sync(&mut self) {
        let r = &mut self.replica;
        r.fack_marks.clear();
        r.fack = 0;
        r.fack_gate = self.config.appendonly.then_some(u64::MAX);
    }

    /// The rewrite a full sync asked for started (now, or late after `rewrite_due`).
    pub(super) fn fack_rewrite_started(&mut self) {
        if self.replica.fack_gate.is_some() {
            self.replica.fack_gate = Some(self.rewrites.count);
        }
    }
}

#[cfg(test)]
#[path = "repl_aof_tests.rs"]
mod tests;
