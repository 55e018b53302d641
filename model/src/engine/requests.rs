//! Requests: what happens to a client's command between its arrival and its reply's place in
//! the release queue — the phase gate, the refusal checks (authentication, MISCONF), and the
//! hand-off to the executor the command index names (the command layer, or `admin.rs`).
//!
//! Owns no state. Invariants: a request's command is resolved once (by the caller) and its
//! index entry decides every check; each request pushes exactly one reply, in arrival order,
//! with the log requirement of the moment it executed; nothing the command layer does not run
//! reaches it, and no engine command runs inside MULTI.

use std::collections::btree_map::Entry;

use bytes::Bytes;

use crate::command::{self, Command, CommandId, Ctx, EngineCommand, Queued, Run, Session};
use crate::config::Mutation;
use crate::resp::{Frame, Protocol};

use super::clients::{ClientId, ClientInfo, Held, LastCommand};
use super::phase::Phase;
use super::replies::{Need, Reply};
use super::while_busy::WhileBusy;
use super::Engine;

/// What a propagated command is logged as: itself, except under the known-bad designs the
/// model checker must catch (`None`: not logged at all).
pub(super) fn logged_form<'a>(
    mutation: Mutation,
    sent: &'a [Bytes],
    propagated: &'a [Bytes],
) -> Option<&'a [Bytes]> {
    let name = propagated[0].as_ref();
    match mutation {
        Mutation::ExecUnwrapped if name == b"MULTI" || name == b"EXEC" => None,
        Mutation::ExpireRelative
            if name == b"PEXPIREAT" && sent[0].eq_ignore_ascii_case(b"EXPIRE") =>
        {
            Some(sent)
        }
        _ => Some(propagated),
    }
}

/// Commands Redis 7.0 shows as `container|subcommand` in CLIENT LIST `cmd=`.
const CONTAINERS: [&str; 3] = ["client", "command", "config"];

impl Engine {
    /// The phase gate: only a running engine executes commands. A killed client's requests
    /// are dropped; a paused one's are held (`client_cmd.rs`).
    pub(super) fn handle_request(
        &mut self,
        now_ms: u64,
        client: ClientId,
        id: Option<CommandId>,
        argv: &[Bytes],
        host: Option<&mut dyn WhileBusy>,
    ) {
        if self.clients.killed.contains(&client) {
            return;
        }
        let refused = match &self.phase {
            Phase::Loading => Frame::error("LOADING Redis is loading the dataset in memory"),
            Phase::Refused(e) => Frame::error(format!("ERR {e}")),
            Phase::Stopping | Phase::Stopped => Frame::error("ERR the server is shutting down"),
            Phase::Running if self.must_hold(client, id) => {
                let argv = argv.to_vec();
                self.clients.held.push_back(Held { client, id, argv });
                return;
            }
            Phase::Running => {
                self.execute(now_ms, client, id, argv, host);
                if self.repl.active() {
                    // WAIT's target: the stream's offset after this client's last command.
                    self.repl.woff.insert(client, self.repl.offset);
                }
                return;
            }
        };
        self.answer(client, refused, Need::Nothing);
    }

    /// Queues `frame` as `client`'s next reply, in its protocol and per CLIENT REPLY.
    pub(super) fn answer(&mut self, client: ClientId, frame: Frame, need: Need) {
        let reply = self.reply_for(client, frame);
        self.replies.push(client, reply, need);
    }

    /// Like `answer`, and the reply also waits for snapshot `generation`.
    pub(super) fn answer_after_snapshot(
        &mut self,
        client: ClientId,
        frame: Frame,
        need: Need,
        generation: u64,
    ) {
        let reply = self.reply_for(client, frame);
        (self.replies).push_after_snapshot(client, reply, need, generation);
    }

    fn reply_for(&mut self, client: ClientId, frame: Frame) -> Reply {
        match self.clients.reply_protocol(client) {
            Some(proto) => Reply::Frame { frame, proto },
            // Pub/Sub confirmations are pushes, which Redis 7.0 sends whatever CLIENT REPLY
            // says (its CLIENT_PUSHING flag), so a subscriber always learns its counts.
            None if frame.is_push() => {
                let proto = self
                    .clients
                    .info
                    .get(&client)
                    .map_or(Protocol::Resp2, |i| i.proto);
                Reply::Frame { frame, proto }
            }
            None => Reply::Silent,
        }
    }

    /// Runs a resolved request: the entry travels through the refusal checks to the executor
    /// the index names.
    fn execute(
        &mut self,
        now_ms: u64,
        client: ClientId,
        id: Option<CommandId>,
        argv: &[Bytes],
        host: Option<&mut dyn WhileBusy>,
    ) {
        self.stats.commands_processed += 1;
        let info = match self.clients.info.entry(client) {
            Entry::Occupied(known) => known.into_mut(),
            Entry::Vacant(new) => {
                self.stats.connections_received += 1;
                new.insert(ClientInfo::default())
            }
        };
        if let Some(conn) = &mut info.conn {
            // CLIENT LIST's `idle` and `cmd` of a connection the runtime announced.
            conn.last_ms = now_ms;
            conn.last_cmd = id.map(|id| {
                let container = CONTAINERS.contains(&command::entry(id).name);
                let sub = argv.get(1).filter(|_| container).cloned();
                LastCommand { id, sub }
            });
        }
        if let Some(frame) = self.refusal(client, id, argv) {
            // As Redis's `rejectCommand`: a command refused while queuing fails the transaction.
            if let Some(session) = self.clients.session_mut(client) {
                session.flag_transaction();
            }
            match id {
                Some(id) => command::count_command(&mut self.shared, id, argv, Some(&frame), true),
                None => {
                    self.shared.stats.count_reply(&frame);
                }
            }
            self.answer(client, frame, Need::Nothing);
            return;
        }
        match id.map(command::entry) {
            Some(entry) if matches!(entry.run, Run::Engine(_) | Run::Connection) => {
                self.engine_request(now_ms, client, entry, argv)
            }
            _ if self.is_mixed_exec(client, id) => self.exec_mixed(now_ms, client, argv),
            _ => self.data_request(now_ms, client, id, argv, host),
        }
    }

    /// An engine or connection command: queued inside MULTI (`multi_exec.rs`; RESET excepted,
    /// which discards the transaction), else run by the engine.
    fn engine_request(&mut self, now_ms: u64, client: ClientId, entry: &Command, argv: &[Bytes]) {
        let id = command::resolve(entry.name.as_bytes()).expect("an entry resolves");
        let reset = matches!(entry.run, Run::Engine(EngineCommand::Reset));
        let in_multi = self.clients.session(client).is_some_and(|s| s.in_multi());
        let frame = if in_multi && !reset {
            // Counted when EXEC runs it, as Redis counts queued commands.
            self.queue_engine_command(client, entry, argv)
        } else if let Some(frame) = self.engine_refusal(entry, argv) {
            command::count_command(&mut self.shared, id, argv, Some(&frame), true);
            frame
        } else {
            let handled = match entry.run {
                Run::Engine(which) => {
                    self.snapshot_command(now_ms, client, which, argv)
                        || (matches!(which, EngineCommand::Config)
                            && self.config_rewrite_request(client, argv))
                        || (matches!(which, EngineCommand::Debug)
                            && self.debug_sleep(now_ms, client, argv))
                        || self.repl_command(now_ms, client, which, argv)
                }
                _ => false,
            };
            if handled {
                // Answered (or parked) by its sub-machine.
                command::count_command(&mut self.shared, id, argv, None, false);
                return;
            }
            let frame = match entry.run {
                Run::Engine(which) => self.engine_command(now_ms, client, which, argv),
                // QUIT reaches the engine only from a driver that does not close connections.
                _ => Frame::ok(),
            };
            command::count_command(&mut self.shared, id, argv, Some(&frame), false);
            frame
        };
        let need = self.toggle.take_need().unwrap_or_else(|| self.need_now());
        self.answer(client, frame, need);
        if std::mem::take(&mut self.clients.pending_self_kill) {
            // CLIENT KILL matched its own client: closed after this reply, as Redis does.
            self.kill(client, need);
        }
        if self.clients.pause.is_none() && !self.clients.held.is_empty() {
            self.end_pause(now_ms);
        }
    }

    /// Why an engine command is refused before it runs: its arity (inside MULTI it was queued
    /// or refused by `multi_exec.rs` already).
    fn engine_refusal(&self, entry: &Command, argv: &[Bytes]) -> Option<Frame> {
        (!entry.arity_ok(argv.len())).then(|| Frame::error(command::wrong_arity_text(entry.name)))
    }

    /// A command of the command layer (or an unknown one, which it refuses).
    fn data_request(
        &mut self,
        now_ms: u64,
        client: ClientId,
        id: Option<CommandId>,
        argv: &[Bytes],
        host: Option<&mut dyn WhileBusy>,
    ) {
        let (outcome, gate) = self.run_data(now_ms, client, id, argv, host);
        self.stats.dirty += outcome.dirty;
        let mutation = self.config.mutation;
        if let (Some(log), false) = (&mut self.aof.log, self.toggle.disabling) {
            for p in &outcome.propagate {
                if let Some(record) = logged_form(mutation, argv, &p.argv) {
                    log.log(p.db, record);
                }
            }
        }
        self.repl_feed_writes(&outcome.propagate);
        self.repl_feed_publish(client, id, argv);
        if let Some(block) = outcome.block {
            let argv = block.rerun.clone().unwrap_or_else(|| argv.to_vec());
            let blocked = super::clients::Blocked {
                client,
                id,
                argv,
                block,
            };
            self.clients.blocked.push_back(blocked);
            return;
        }
        if outcome.dirty > 0 {
            self.serve_blocked(now_ms);
        }
        let read = outcome.propagate.is_empty() && outcome.dirty == 0;
        if mutation == Mutation::ReadReplyEarly && read {
            // The known-bad design: a read's reply jumps the queue of replies waiting on the log.
            let reply = self.reply_for(client, outcome.reply);
            return self.replies.push_ready(client, reply);
        }
        let need = self.need_now();
        self.deliver(outcome.deliveries, need);
        let flushall = id.is_some_and(|id| command::entry(id).name == "flushall");
        let flushed_all = flushall && !outcome.propagate.is_empty();
        match flushed_all.then(|| self.flushall_save(now_ms)).flatten() {
            Some(generation) => self.answer_after_snapshot(client, outcome.reply, need, generation),
            None => self.answer(client, outcome.reply, need),
        }
        if let Some(gate) = gate {
            self.after_busy(now_ms, gate);
        }
    }

    /// Queues Pub/Sub messages for their subscribers, each in its own protocol, with the log
    /// requirement of the command that published them (ahead of that command's own reply).
    pub(super) fn deliver(&mut self, deliveries: Vec<(u64, Frame)>, need: Need) {
        for (client, frame) in deliveries {
            if self.clients.killed.contains(&client) {
                continue;
            }
            let info = self.clients.info.get(&client);
            let proto = info.map_or(Protocol::Resp2, |i| i.proto);
            self.replies
                .push(client, Reply::Push { frame, proto }, need);
        }
    }

    /// Why a command may not run now: authentication, RESP2's Pub/Sub mode, `maxmemory`
    /// (`memory.rs`), or a sticky AOF error for writes.
    fn refusal(
        &mut self,
        client: ClientId,
        id: Option<CommandId>,
        argv: &[Bytes],
    ) -> Option<Frame> {
        let entry = id.map(command::entry);
        if client == super::MASTER_CLIENT {
            return None; // the master's stream is obeyed, as Redis's CLIENT_MASTER
        }
        if let Some(frame) = self.auth_gate(client, entry) {
            return Some(frame);
        }
        if let Some(frame) = self.replica_gate(client, entry.is_some_and(Command::is_write)) {
            return Some(frame);
        }
        if let Some(frame) = entry.and_then(|e| self.pubsub_gate(client, e)) {
            return Some(frame);
        }
        if let Some(frame) = entry.and_then(|e| self.stale_gate(client, e, argv)) {
            return Some(frame);
        }
        if let Some(frame) = self.memory_refusal(client, entry) {
            return Some(frame);
        }
        let name = entry.map_or("", |e| e.name);
        let exec_writes = name == "exec" && self.queued_write(client);
        let writes = exec_writes || entry.is_some_and(Command::is_write);
        let norepl = match self.replicas_denial() {
            Some(Frame::Error(text)) if writes => Some(text),
            _ => None,
        };
        let message = norepl.or_else(|| self.write_denial())?;
        if exec_writes {
            // As Redis: an EXEC that would write is refused and its transaction discarded.
            let session = self.clients.session_mut(client).expect("in MULTI");
            discard(session, &mut self.keyspace, &mut self.shared);
            return Some(Frame::error(format!(
                "EXECABORT Transaction discarded because of: {message}"
            )));
        }
        if message.starts_with("NOREPLICAS") {
            return Some(Frame::error(message));
        }
        // As Redis's processCommand: writes and PING are refused while persistence fails.
        let blocked = name == "ping" || entry.is_some_and(Command::is_write);
        blocked.then(|| Frame::error(message))
    }

    /// A RESP2 client with subscriptions may only (un)subscribe, PING, QUIT or RESET: its
    /// connection carries messages, which other replies could not be told apart from.
    fn pubsub_gate(&self, client: ClientId, entry: &Command) -> Option<Frame> {
        const ALLOWED: [&str; 9] = [
            "subscribe",
            "unsubscribe",
            "psubscribe",
            "punsubscribe",
            "ssubscribe",
            "sunsubscribe",
            "ping",
            "quit",
            "reset",
        ];
        let proto = self
            .clients
            .info
            .get(&client)
            .map_or(Protocol::Resp2, |i| i.proto);
        let restricted = proto == Protocol::Resp2 && command::is_subscriber(&self.shared, client);
        (restricted && !ALLOWED.contains(&entry.name)).then(|| {
            Frame::error(format!(
                "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / \
                 RESET are allowed in this context",
                entry.name
            ))
        })
    }

    /// Why writes are refused now (Redis's `writeCommandsDeniedByDiskError`), as MISCONF text.
    pub(super) fn write_denial(&self) -> Option<String> {
        let aof = self
            .aof_error()
            .map(|e| format!("MISCONF Errors writing to the AOF file: {}", e.message));
        aof.or_else(|| self.rdb_refusal())
    }

    /// `-MASTERDOWN` on a replica whose link is down under `replica-serve-stale-data no`, for
    /// a command Redis does not flag `stale`; an EXEC whose queue holds one is aborted, as
    /// Redis's `cmd_inv_flags` check.
    fn stale_gate(&mut self, client: ClientId, entry: &Command, argv: &[Bytes]) -> Option<Frame> {
        const TEXT: &str =
            "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.";
        let replica = &self.replica;
        if !replica.is_replica() || replica.is_connected() || self.config.replica.serve_stale_data {
            return None;
        }
        if entry.name != "exec" {
            return (!entry.serves_stale(argv)).then(|| Frame::error(TEXT));
        }
        let queued = self.clients.session(client).and_then(|s| s.multi.as_ref());
        let stale = |q: &Queued| !command::entry(q.command).serves_stale(&q.argv);
        if !queued.is_some_and(|m| m.queued.iter().any(stale)) {
            return None;
        }
        let session = self.clients.session_mut(client).expect("in MULTI");
        discard(session, &mut self.keyspace, &mut self.shared);
        let text = format!("EXECABORT Transaction discarded because of: {TEXT}");
        Some(Frame::error(text))
    }

    fn queued_write(&self, client: ClientId) -> bool {
        let queued = self.clients.session(client).and_then(|s| s.multi.as_ref());
        queued.is_some_and(|m| {
            m.queued
                .iter()
                .any(|q| command::entry(q.command).is_write())
        })
    }
}

/// Runs DISCARD for `session` (its reply is not sent: the caller answers EXECABORT).
pub(super) fn discard(
    session: &mut Session,
    keyspace: &mut crate::keyspace::Keyspace,
    shared: &mut command::Shared,
) {
    let ctx = Ctx {
        now_ms: 0,
        loading: false,
        random: 0,
        write_denial: None,
    };
    let argv = [Bytes::from_static(b"DISCARD")];
    let _ = command::execute(keyspace, shared, session, ctx, &argv);
}
