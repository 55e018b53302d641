//! Engine commands inside MULTI: queued like any other, run by the engine at EXEC.
//!
//! Redis 7.0 lets every command into a transaction except the few flagged `no-multi` (SAVE,
//! SHUTDOWN, SYNC, PSYNC): CONFIG SET, INFO, CLIENT, REPLICAOF, BGSAVE, BGREWRITEAOF, WAIT, …
//! queue and run in order inside EXEC. The command layer runs a transaction of its own commands
//! by itself; one that holds an engine command is run here instead, one queued command at a
//! time: the command layer's commands through [`command::execute_queued`], the engine's
//! through the engine, each answering at once (nothing blocks inside EXEC).
//!
//! Invariants: a transaction of command-layer commands only is never run here (its path, and
//! with it every model-checked propagation, is unchanged); what the commands of one EXEC
//! propagate reaches the AOF and the replicas once, at the end, wrapped in MULTI/EXEC when it
//! is more than one command, exactly as the command layer's own EXEC does; EXEC's checks (a
//! refused queued command, a changed watched key) come first and run nothing when they fail.

use bytes::Bytes;

use super::clients::ClientId;
use super::Engine;
use crate::command::{self, Command, EngineCommand, Queued, Run};
use crate::config::Mutation;
use crate::resp::Frame;

/// Redis 7.0's `no-multi` commands among the engine's (REPLCONF: a replica's, never a
/// client's transaction).
fn allowed_in_multi(which: EngineCommand) -> bool {
    !matches!(
        which,
        EngineCommand::Save
            | EngineCommand::Shutdown
            | EngineCommand::Sync
            | EngineCommand::Replconf
    )
}

impl Engine {
    /// An engine command sent after MULTI: queued (`+QUEUED`), or refused and the transaction
    /// flagged (`EXECABORT` at EXEC), as Redis's `processCommand` does.
    pub(super) fn queue_engine_command(
        &mut self,
        client: ClientId,
        entry: &Command,
        argv: &[Bytes],
    ) -> Frame {
        let session = self.clients.session_mut(client).expect("in MULTI");
        if !matches!(entry.run, Run::Engine(which) if allowed_in_multi(which)) {
            session.flag_transaction();
            return Frame::error("ERR Command not allowed inside a transaction");
        }
        if !entry.arity_ok(argv.len()) {
            session.flag_transaction();
            return Frame::error(command::wrong_arity_text(entry.name));
        }
        let id = command::resolve(&argv[0]).expect("a resolved engine command");
        let multi = session.multi.as_mut().expect("in MULTI");
        multi.queued.push(Queued {
            command: id,
            argv: argv.to_vec(),
        });
        Frame::Simple("QUEUED".to_string())
    }

    /// Whether `id` is an EXEC whose transaction holds an engine command (run here).
    pub(super) fn is_mixed_exec(&self, client: ClientId, id: Option<command::CommandId>) -> bool {
        let is_exec = id.is_some_and(|id| command::entry(id).name == "exec");
        let multi = self.clients.session(client).and_then(|s| s.multi.as_ref());
        is_exec && multi.is_some_and(|m| m.queued.iter().any(|q| !command::is_data(q.command)))
    }

    /// EXEC of a transaction holding an engine command: EXEC's checks, then each queued
    /// command in order, then one propagation of everything the data commands wrote.
    pub(super) fn exec_mixed(&mut self, now_ms: u64, client: ClientId, argv: &[Bytes]) {
        let write_denial = self.write_denial();
        let ctx = self.next_ctx(now_ms, write_denial);
        let session = self.clients.session_or_new(client);
        let queued = match command::exec_begin(&mut self.shared, session, &ctx) {
            Ok(queued) => queued,
            Err(frame) => {
                let need = self.need_now();
                return self.answer(client, frame, need);
            }
        };
        let mut replies = Vec::with_capacity(queued.len());
        let mut propagate = Vec::new();
        let (mut dirty, mut deliveries) = (0, Vec::new());
        let mut rewrite_slot = None;
        for q in &queued {
            let reply = match command::entry(q.command).run {
                Run::Engine(EngineCommand::Config) if super::config_file::is_rewrite(&q.argv) => {
                    // Answered with the EXEC once the file is durable (`config_file.rs`).
                    let started = self.start_config_rewrite(client);
                    if started.is_none() {
                        rewrite_slot = Some(replies.len());
                    }
                    started.unwrap_or(Frame::Null)
                }
                Run::Engine(which) => self.engine_command_in_exec(now_ms, client, which, &q.argv),
                _ => {
                    let session = self.clients.session_or_new(client);
                    let (ks, shared) = (&mut self.keyspace, &mut self.shared);
                    let outcome = command::execute_queued(ks, shared, session, ctx.clone(), q);
                    propagate.extend(outcome.propagate);
                    dirty += outcome.dirty;
                    deliveries.extend(outcome.deliveries);
                    outcome.reply
                }
            };
            replies.push(reply);
        }
        command::wrap_transaction(&mut propagate);
        self.finish_mixed_exec(now_ms, argv, propagate, dirty);
        let need = self.need_now();
        self.deliver(deliveries, need);
        match rewrite_slot {
            Some(slot) => self.defer_exec_reply(replies, slot),
            None => self.answer(client, Frame::Array(replies), need),
        }
        if std::mem::take(&mut self.clients.pending_self_kill) {
            self.kill(client, need);
        }
    }

    /// What the data commands of the EXEC wrote: to the AOF, to the replicas, to save points
    /// and to the clients blocked on a key it filled.
    fn finish_mixed_exec(
        &mut self,
        now_ms: u64,
        argv: &[Bytes],
        propagate: Vec<command::Propagated>,
        dirty: u64,
    ) {
        self.stats.dirty += dirty;
        let mutation: Mutation = self.config.mutation;
        if let (Some(log), false) = (&mut self.aof.log, self.toggle.disabling) {
            for p in &propagate {
                if let Some(record) = super::requests::logged_form(mutation, argv, &p.argv) {
                    log.log(p.db, record);
                }
            }
        }
        self.repl_feed_writes(&propagate);
        if dirty > 0 {
            self.serve_blocked(now_ms);
        }
    }

    /// One engine command inside EXEC, answered at once: what blocks or defers its reply
    /// outside a transaction (BGSAVE's and BGREWRITEAOF's start excepted) does not here.
    fn engine_command_in_exec(
        &mut self,
        now_ms: u64,
        client: ClientId,
        which: EngineCommand,
        argv: &[Bytes],
    ) -> Frame {
        match which {
            EngineCommand::Bgsave => self.bgsave(now_ms, argv),
            EngineCommand::Bgrewriteaof => match self.start_rewrite(now_ms) {
                Ok(()) => {
                    Frame::Simple("Background append only file rewriting started".to_string())
                }
                Err(frame) => frame,
            },
            EngineCommand::Lastsave => Frame::Integer((self.snapshots.lastsave_ms / 1000) as i64),
            EngineCommand::Wait => self.wait_in_exec(client, argv),
            EngineCommand::Waitaof => (self.waitaof(now_ms, client, argv, false))
                .expect("WAITAOF never blocks inside MULTI"),
            EngineCommand::Role => self.role(),
            EngineCommand::Replicaof => self.replicaof(now_ms, argv),
            _ => self.engine_command(now_ms, client, which, argv),
        }
    }

    /// WAIT inside EXEC never blocks (Redis's `CLIENT_DENY_BLOCKING`): the count of replicas
    /// that acknowledged the client's last write, now.
    fn wait_in_exec(&self, client: ClientId, argv: &[Bytes]) -> Frame {
        let parse = |a: &Bytes| std::str::from_utf8(a).ok()?.parse::<i64>().ok();
        match (parse(&argv[1]), parse(&argv[2])) {
            (Some(_), Some(timeout)) if timeout < 0 => Frame::error("ERR timeout is negative"),
            (Some(_), Some(_)) => {
                let target = self.repl.woff.get(&client).copied().unwrap_or(0);
                Frame::Integer(self.repl.acked(target) as i64)
            }
            _ => Frame::error("ERR value is not an integer or out of range"),
        }
    }
}
