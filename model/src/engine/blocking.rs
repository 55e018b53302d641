//! Blocked clients (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP): serving them when a key they
//! wait on becomes ready, and timing them out.
//!
//! Owns the wake-up and timeout rules. Invariants: blocked clients are served in the order
//! they blocked, by running their own command again (so a late answer and its propagation are
//! exactly what an immediate one would have been); a client is answered once, then its held
//! requests run in arrival order; nothing is served while writes are refused (MISCONF), as
//! the pop is a write.

use bytes::Bytes;

use crate::command;
use crate::resp::{parse_integer, Frame};

use super::clients::{Blocked, ClientId, Held};
use super::replies::Need;
use super::Engine;

impl Engine {
    /// Whether a key `b` waits on now holds a value of the type that can serve it.
    fn is_ready(&self, b: &Blocked) -> bool {
        if b.block.type_name == "stream" {
            return command::stream_ready(&self.keyspace, b.block.db, &b.argv);
        }
        let Some(db) = self.keyspace.dbs.get(b.block.db) else {
            return false;
        };
        b.block.keys.iter().any(|key| {
            db.get(key)
                .is_some_and(|e| e.value.type_name() == b.block.type_name)
        })
    }

    /// After a write: serves every blocked client whose keys are ready, in blocking order,
    /// again and again while serving one readies another (BLMOVE pushes).
    pub(super) fn serve_blocked(&mut self, now_ms: u64) {
        while self.write_denial().is_none() {
            let Some(at) =
                (0..self.clients.blocked.len()).find(|&i| self.is_ready(&self.clients.blocked[i]))
            else {
                return;
            };
            let b = self.clients.blocked[at].clone();
            let ctx = self.next_ctx(now_ms, None);
            let session = self.clients.session_or_new(b.client);
            let (ks, shared) = (&mut self.keyspace, &mut self.shared);
            let outcome = command::execute_resolved(ks, shared, session, ctx, b.id, &b.argv);
            if outcome.block.is_some() {
                // Ready by type but nothing to pop: cannot happen for lists (an empty one is
                // deleted); stay blocked rather than loop.
                return;
            }
            self.clients.blocked.remove(at);
            self.stats.dirty += outcome.dirty;
            if let (Some(log), false) = (&mut self.aof.log, self.toggle.disabling) {
                for p in &outcome.propagate {
                    log.log(p.db, &p.argv);
                }
            }
            self.repl_feed_writes(&outcome.propagate);
            let need = self.need_now();
            self.answer(b.client, outcome.reply, need);
            self.release_held(now_ms, b.client);
        }
    }

    /// The clock passed some blocked clients' deadlines: each gets its timeout reply.
    pub(super) fn time_out_blocked(&mut self, now_ms: u64) {
        let due = |b: &Blocked| b.block.deadline_ms.is_some_and(|at| at <= now_ms);
        while let Some(at) = self.clients.blocked.iter().position(due) {
            let b = self.clients.blocked.remove(at).expect("found above");
            self.answer(b.client, b.block.timeout_reply, Need::Nothing);
            self.release_held(now_ms, b.client);
        }
    }

    /// CLIENT UNBLOCK id [TIMEOUT|ERROR]: 1 if `id` was blocked (it then gets its timeout
    /// reply, or the UNBLOCKED error), else 0.
    pub(super) fn client_unblock(&mut self, now_ms: u64, args: &[Bytes]) -> Frame {
        let error = match args.get(1).map(|a| a.to_ascii_lowercase()) {
            None => false,
            Some(reason) if reason == b"timeout" => false,
            Some(reason) if reason == b"error" => true,
            Some(_) => return Frame::error("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR"),
        };
        let Some(id) = parse_integer(&args[0]) else {
            return Frame::error("ERR value is not an integer or out of range");
        };
        let Some(at) = self
            .clients
            .blocked
            .iter()
            .position(|b| i64::try_from(b.client) == Ok(id))
        else {
            return Frame::Integer(0);
        };
        let b = self.clients.blocked.remove(at).expect("found above");
        let reply = if error {
            Frame::error("UNBLOCKED client unblocked via CLIENT UNBLOCK")
        } else {
            b.block.timeout_reply
        };
        self.answer(b.client, reply, Need::Nothing);
        self.release_held(now_ms, b.client);
        Frame::Integer(1)
    }

    /// Runs the requests `client` sent while blocked, in arrival order (one may block again;
    /// the rest are then held again behind it).
    pub(super) fn release_held(&mut self, now_ms: u64, client: ClientId) {
        let (mine, others): (Vec<Held>, Vec<Held>) = std::mem::take(&mut self.clients.held)
            .into_iter()
            .partition(|h| h.client == client);
        self.clients.held = others.into();
        for h in mine {
            self.handle_request(now_ms, h.client, h.id, &h.argv, None);
        }
    }
}
