//! Memory accounting and the `maxmemory` gate: Redis 7.0's `performEvictions` and the OOM
//! branch of `processCommand`.
//!
//! Owns the used-memory estimate (INFO's `used_memory`) and the refusal. Invariants: with
//! `maxmemory 0` nothing is evicted or refused; otherwise, before each command, keys are
//! evicted as the policy allows (each logged as `DEL`, as Redis propagates an eviction) while
//! the estimate is above the limit, and a command is refused with Redis's OOM error iff the
//! estimate is still above it and the command is `denyoom`, or is queued inside MULTI (other
//! than EXEC, DISCARD, QUIT, RESET), or is an EXEC whose queue holds a `denyoom` command — that
//! EXEC also discards the transaction.

use crate::command::{self, Command, Flags};
use crate::keyspace::{Keyspace, Stored};
use crate::resp::Frame;

use super::clients::{ClientId, ClientInfo};
use super::Engine;

/// Redis's `shared.oomerr`.
pub(super) const OOM_ERROR: &str = "OOM command not allowed when used memory > 'maxmemory'.";

/// Entries of a database measured exactly; beyond this the measured ones stand for all.
const MEASURED_KEYS_PER_DB: usize = 16;

/// Estimated bytes of the data set: each database's first keys measured with
/// [`crate::keyspace::Entry::memory_bytes`], scaled to its key count (a bounded cost per
/// command, as Redis's own figure is an allocator's count, not a walk).
pub(super) fn dataset_bytes(keyspace: &Keyspace) -> u64 {
    let mut total = 0u64;
    for db in &keyspace.dbs {
        let measured: Vec<u64> = db
            .iter()
            .take(MEASURED_KEYS_PER_DB)
            .map(Stored::memory_bytes)
            .collect();
        if measured.is_empty() {
            continue;
        }
        let sum: u64 = measured.iter().sum();
        total += sum * db.len() as u64 / measured.len() as u64;
    }
    total
}

impl Engine {
    /// INFO's `used_memory`: the engine's own structures, one client record per connection,
    /// and the data set's estimate.
    pub(super) fn used_memory_bytes(&self) -> u64 {
        let fixed = size_of::<Engine>() as u64;
        let per_client = (size_of::<ClientInfo>() + size_of::<command::Session>()) as u64;
        let clients = per_client * self.clients.connected_count() as u64;
        fixed + clients + dataset_bytes(&self.keyspace)
    }

    /// Evicts what the policy allows while above `maxmemory`, then answers whether `entry`
    /// must be refused (the OOM error, or EXECABORT for an EXEC, whose transaction is gone).
    pub(super) fn memory_refusal(
        &mut self,
        client: ClientId,
        entry: Option<&Command>,
    ) -> Option<Frame> {
        let limit = self.config.memory.maxmemory_bytes;
        let entry = entry?;
        let over = limit > 0 && self.evict_to(limit);
        command::set_pre_command_oom(&mut self.shared, over);
        if !over {
            return None;
        }
        let session = self.clients.session(client);
        let in_multi = session.is_some_and(|s| s.in_multi());
        let queued_denyoom = session.and_then(|s| s.multi.as_ref()).is_some_and(|m| {
            m.queued
                .iter()
                .any(|q| command::entry(q.command).flags.contains(Flags::DENYOOM))
        });
        let name = entry.name;
        let denyoom = entry.flags.contains(Flags::DENYOOM) || (name == "exec" && queued_denyoom);
        let queueing = in_multi && !["exec", "discard", "quit", "reset"].contains(&name);
        if !denyoom && !queueing {
            return None;
        }
        if name == "exec" {
            if let Some(session) = self.clients.session_mut(client) {
                super::requests::discard(session, &mut self.keyspace, &mut self.shared);
            }
            return Some(Frame::error(format!(
                "EXECABORT Transaction discarded because of: {OOM_ERROR}"
            )));
        }
        if let Some(session) = self.clients.session_mut(client) {
            session.flag_transaction();
        }
        Some(Frame::error(OOM_ERROR))
    }

    /// `expired` or `evicted` notifications of keys removed outside a command (each `DEL`).
    pub(super) fn notify_removed(&mut self, dels: &[command::Propagated], evicted: bool) {
        if self.shared.notify_flags == 0 {
            return;
        }
        let mut deliveries = Vec::new();
        for del in dels {
            let key = &del.argv[1];
            let found = command::removed_key_deliveries(&self.shared, evicted, del.db, key);
            deliveries.extend(found);
        }
        let need = self.need_now();
        self.deliver(deliveries, need);
    }

    /// Evicts keys while the estimate is above `limit`; whether it still is. CONFIG SET
    /// maxmemory runs it at once too, as Redis's `updateMaxmemory`.
    pub(super) fn evict_to(&mut self, limit: u64) -> bool {
        let mut used = self.used_memory_bytes();
        let (policy, samples) = (self.config.memory.policy, self.config.memory.samples);
        while used > limit {
            let Some((del, freed)) = command::evict_one(
                &mut self.keyspace,
                &mut self.shared,
                policy,
                samples,
                &mut self.random,
            ) else {
                return true;
            };
            self.stats.evicted_keys += 1;
            if let (Some(log), false) = (&mut self.aof.log, self.toggle.disabling) {
                log.log(del.db, &del.argv);
            }
            self.notify_removed(std::slice::from_ref(&del), true);
            used = used.saturating_sub(freed);
        }
        false
    }
}
