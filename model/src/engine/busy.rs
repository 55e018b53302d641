//! A command step run with the runtime's [`WhileBusy`] at hand, and what the engine does after
//! a script was busy: the replays on other sessions and SHUTDOWN NOSAVE.
//!
//! Owns no state (the decisions are `command/script/busy.rs`'s [`BusyGate`]). Invariant: what
//! was answered while the script ran reaches the sessions only after the script's own step,
//! in arrival order, with no second reply.

use bytes::Bytes;

use crate::command::{self, BusyGate, CommandId, Ctx, Outcome, Replay};

use super::clients::ClientId;
use super::while_busy::{Busy, WhileBusy};
use super::Engine;

impl Engine {
    /// Runs a command-layer command; with a `host`, through a [`Busy`] gate it returns.
    pub(super) fn run_data(
        &mut self,
        now_ms: u64,
        client: ClientId,
        id: Option<CommandId>,
        argv: &[Bytes],
        host: Option<&mut dyn WhileBusy>,
    ) -> (Outcome, Option<BusyGate>) {
        let write_denial = self.write_denial();
        let ctx = self.next_ctx(now_ms, write_denial);
        let mut gate = BusyGate::new(self.config.busy_reply_threshold_ms);
        if host.is_some() && id.is_some_and(may_run_a_script) {
            // Only these can run long enough to serve others: the scan stays off the fast path.
            let sessions = self.clients.sessions.iter();
            gate.in_multi = sessions
                .filter(|(_, s)| s.in_multi())
                .map(|(c, _)| *c)
                .collect();
        }
        let offsets = self.aof.log.as_ref();
        let offsets = offsets.map_or((0, 0), |l| (l.offset_written, l.offset_durable));
        let session = self.clients.session_or_new(client);
        let (ks, shared) = (&mut self.keyspace, &mut self.shared);
        match host {
            Some(host) => {
                let replies = &mut self.replies;
                let mut busy = Busy {
                    gate,
                    host,
                    replies,
                    offsets,
                };
                let outcome = command::execute_busy(ks, shared, session, ctx, id, argv, &mut busy);
                (outcome, Some(busy.gate))
            }
            None => (
                command::execute_resolved(ks, shared, session, ctx, id, argv),
                None,
            ),
        }
    }

    /// After a step whose script passed the threshold: the slow-script warning, the sessions
    /// of requests answered meanwhile, and SHUTDOWN NOSAVE.
    pub(super) fn after_busy(&mut self, now_ms: u64, gate: BusyGate) {
        if let Some(elapsed_ms) = gate.slow_ms {
            self.out.warn(format!(
                "Slow script detected: still in execution after {elapsed_ms} milliseconds."
            ));
        }
        for (client, replay) in gate.replays {
            if self.clients.killed.contains(&client) {
                continue;
            }
            let session = self.clients.session_or_new(client);
            match replay {
                Replay::Refused => session.flag_transaction(),
                Replay::Run(argv) => {
                    let ctx = Ctx {
                        now_ms,
                        loading: false,
                        random: 0,
                        write_denial: None,
                    };
                    let (ks, shared) = (&mut self.keyspace, &mut self.shared);
                    // MULTI, DISCARD, WATCH, UNWATCH: already answered; they change no data.
                    let _ = command::execute(ks, shared, session, ctx, &argv);
                }
            }
        }
        if gate.shutdown {
            self.handle_shutdown_with(now_ms, Some(false));
        }
    }
}

/// Commands that may run a script (EXEC: one queued inside its transaction).
fn may_run_a_script(id: CommandId) -> bool {
    const SCRIPTED: [&str; 7] = [
        "eval",
        "evalsha",
        "eval_ro",
        "evalsha_ro",
        "fcall",
        "fcall_ro",
        "exec",
    ];
    SCRIPTED.contains(&command::entry(id).name)
}

impl Engine {
    /// The context of one command the engine hands to the command layer, with the next value
    /// of the engine's random sequence (SPOP, SRANDMEMBER, scripts' `math.random`).
    pub(super) fn next_ctx(&mut self, now_ms: u64, write_denial: Option<String>) -> Ctx {
        self.random = self
            .random
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        Ctx {
            now_ms,
            loading: false,
            random: self.random,
            write_denial,
        }
    }
}
