//! The engine: one owner of the data set and of every persistence decision.
//!
//! Inputs are `handle_*` calls with the current time; outputs are drained with `poll_*`
//! (quinn-proto's shape). A turn is any number of `handle_*` calls followed by draining
//! `poll_effect` (hand each to the executor), `poll_reply` (send each to its client), `poll_log`
//! (print), then arming a timer for `poll_timeout` and calling `handle_timeout` when it fires.
//! The first `poll_*` of a turn issues the writes the turn's commands need, once: that is group
//! commit, so a driver should hand over every command it has before polling.
//!
//! Invariants kept here (the model checker states them as properties):
//! - a reply leaves only when the log has reached what the contract requires for every command
//!   executed before it (see [`replies`]);
//! - under every policy the write(2) of a record happens before its reply; under `always` the
//!   fdatasync covering it too;
//! - an I/O failure is sticky: writes are refused with MISCONF until a retry rewrote the suspect
//!   bytes; no waiting reply claims durability after a failure;
//! - an incr file becomes non-last only after it is durable, so a torn tail can only ever be in
//!   the last file (Redis 7.0 fsyncs the old file in the background instead).

mod info;
mod log;
mod outbox;
mod procedure;
mod replies;
mod rewrite;
mod server;
mod snapshot;
mod startup;
mod toggle;

use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;

use crate::aof::manifest::{self, AofFile, FileKind, Manifest};
use crate::command::{self, Command, CommandId, Ctx, Run, Session, Shared};
use crate::config::{Config, Mutation};
use crate::io::EffectId;
use crate::io::{join, Effect, IoDone, IoError, IoResult, Lane, Op, ViewFormat};
use crate::keyspace::Keyspace;
use crate::resp::Frame;

use self::log::AofLog;
use self::outbox::Outbox;
use self::procedure::{persist_manifest, step, Procedure, Purpose, Step};
use self::replies::{Need, Replies};
use self::rewrite::Rewrites;
use self::server::ClientInfo;
pub use self::server::REDIS_VERSION;
use self::snapshot::{RdbLoad, Snapshots};
pub use self::startup::StartError;
use self::startup::{Progress, Startup};

/// A connection, as the runtime numbers them.
pub type ClientId = u64;

/// Where the engine is in its life.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Loading files and preparing the log; commands get `-LOADING`.
    Loading,
    Running,
    /// Start-up refused: the runtime prints the error and exits non-zero.
    Refused(StartError),
    /// Shutting down: new commands are refused while the log is flushed and fsynced.
    Stopping,
    /// Everything logged is durable (or the log failed, said in `poll_log`): the process may exit.
    Stopped,
}

/// How loud a log line is (Redis's `.`, `-`, `*`, `#` levels, loosely).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Level {
    Notice,
    Warning,
}

/// A line for the server log: every persistence event is reported as one.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LogLine {
    pub level: Level,
    pub message: String,
}

/// Counters for INFO and tests.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Stats {
    pub dirty: u64,
    pub commands_loaded: u64,
    /// Keys loaded from an RDB-format AOF base at start.
    pub base_keys_loaded: u64,
    pub truncations: u64,
    pub rotations: u64,
    pub commands_processed: u64,
    pub connections_received: u64,
}

/// Milliseconds between cron runs (active expiry), as Redis's `hz 10`.
const CRON_MS: u64 = 100;
/// Keys looked at per active-expiry run: bounds the work done between two commands.
const EXPIRE_BUDGET_KEYS: usize = 200;
/// Temp name of a base written at start-up, in `dir` as Redis does.
const TEMP_BASE: &str = "temp-rewriteaof-durakv.aof";

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Engine {
    config: Config,
    phase: Phase,
    keyspace: Keyspace,
    shared: Shared,
    sessions: BTreeMap<ClientId, Session>,
    clients: BTreeMap<ClientId, ClientInfo>,
    started_ms: u64,
    startup: Option<Startup>,
    manifest: Option<Manifest>,
    log: Option<AofLog>,
    procedure: Option<Procedure>,
    rotate_pending: bool,
    stopping: bool,
    disabling: bool,
    /// The requirement of the reply being built, when it is not the usual one (CONFIG SET
    /// appendonly no answers once the log is durable).
    pending_need: Option<Need>,
    /// Inputs arrived since the last `poll_*`: the turn's flush and release are still to do.
    turn_at: Option<u64>,
    /// Effects of the start-up cleanup of leftover temp files; their results only get logged.
    cleanup: std::collections::BTreeSet<EffectId>,
    /// The data set came from `dump.rdb`; the AOF is read only to open it (a mutation).
    replay_skipped: bool,
    save_on_stop: bool,
    snapshots: Snapshots,
    rewrites: Rewrites,
    rdb_load: Option<RdbLoad>,
    out: Outbox,
    replies: Replies,
    logs: VecDeque<LogLine>,
    cron_next_ms: u64,
    random: u64,
    stats: Stats,
}

impl Engine {
    /// A new engine at start-up: it begins by loading (drain `poll_effect`).
    pub fn new(config: Config, now_ms: u64) -> Engine {
        let keyspace = Keyspace::new(config.databases);
        let mut engine = Engine {
            phase: Phase::Loading,
            keyspace,
            shared: Shared::default(),
            sessions: BTreeMap::new(),
            clients: BTreeMap::new(),
            started_ms: now_ms,
            startup: None,
            manifest: None,
            log: None,
            procedure: None,
            rotate_pending: false,
            stopping: false,
            disabling: false,
            pending_need: None,
            turn_at: None,
            cleanup: std::collections::BTreeSet::new(),
            replay_skipped: false,
            save_on_stop: false,
            snapshots: Snapshots::new(now_ms),
            rewrites: Rewrites {
                last_ok: true,
                ..Rewrites::default()
            },
            rdb_load: None,
            out: Outbox::default(),
            replies: Replies::default(),
            logs: VecDeque::new(),
            cron_next_ms: now_ms + CRON_MS,
            random: now_ms ^ 0x9e37_79b9_7f4a_7c15,
            stats: Stats::default(),
            config,
        };
        let rdb_first = engine.config.mutation == Mutation::LoadRdbWhenAofExists;
        if engine.config.appendonly && !rdb_first {
            engine.startup = Some(Startup::begin(&engine.config, &mut engine.out));
        } else {
            engine.rdb_load = Some(RdbLoad::begin(&engine.config, &mut engine.out));
        }
        engine
    }

    pub fn phase(&self) -> &Phase {
        &self.phase
    }

    pub fn keyspace(&self) -> &Keyspace {
        &self.keyspace
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Log offsets `(logged, written, durable)` of this run, if the AOF is on.
    pub fn log_offsets(&self) -> Option<(u64, u64, u64)> {
        self.log
            .as_ref()
            .map(|l| (l.offset_logged, l.offset_written, l.offset_durable))
    }

    /// Snapshots started and finished in this run (generations count from 1).
    pub fn snapshot_generations(&self) -> (u64, u64) {
        (self.snapshots.generation, self.snapshots.done_generation)
    }

    /// Rewrites completed in this run, and whether one is running.
    pub fn rewrites(&self) -> (u64, bool) {
        (self.rewrites.count, self.rewrites.in_progress)
    }

    pub fn snapshot_in_progress(&self) -> bool {
        self.snapshots.in_progress()
    }

    /// Whether a switch to a new incr file is under way.
    pub fn is_rotating(&self) -> bool {
        self.rotate_pending
            || self
                .procedure
                .as_ref()
                .is_some_and(|p| matches!(p.purpose, Purpose::Rotate { .. }))
    }

    /// Replies waiting for the log.
    pub fn replies_waiting(&self) -> usize {
        self.replies.waiting_count()
    }

    /// Everysec writes done without waiting for a slow fsync (INFO `aof_delayed_fsync`).
    pub fn delayed_fsync(&self) -> u64 {
        self.log.as_ref().map_or(0, |l| l.delayed_fsync)
    }

    /// The sticky AOF error, if any (INFO `aof_last_write_status:err`).
    pub fn aof_error(&self) -> Option<&IoError> {
        self.log
            .as_ref()
            .and_then(|l| l.failure.as_ref())
            .map(|f| &f.error)
    }

    /// A client sent a command (argv as received).
    pub fn handle_command(&mut self, now_ms: u64, client: ClientId, argv: Vec<Bytes>) {
        let id = argv.first().and_then(|name| command::resolve(name));
        self.handle_resolved(now_ms, client, id, argv);
    }

    /// A client sent a command whose name the caller resolved with [`command::resolve`] (the
    /// runtime does it beside parsing, off the engine's thread).
    pub fn handle_resolved(
        &mut self,
        now_ms: u64,
        client: ClientId,
        id: Option<CommandId>,
        argv: Vec<Bytes>,
    ) {
        if argv.is_empty() {
            return;
        }
        match &self.phase {
            Phase::Loading => {
                let frame = Frame::error("LOADING Redis is loading the dataset in memory");
                self.replies.push(client, frame, Need::Nothing);
            }
            Phase::Refused(e) => {
                self.replies
                    .push(client, Frame::error(format!("ERR {e}")), Need::Nothing)
            }
            Phase::Stopping | Phase::Stopped => {
                let frame = Frame::error("ERR the server is shutting down");
                self.replies.push(client, frame, Need::Nothing);
            }
            Phase::Running => self.execute(now_ms, client, id, &argv),
        }
        self.turn_at = Some(now_ms);
    }

    /// Runs a resolved request: the entry travels through the refusal checks to the executor
    /// the index names.
    fn execute(&mut self, now_ms: u64, client: ClientId, id: Option<CommandId>, argv: &[Bytes]) {
        self.stats.commands_processed += 1;
        if !self.clients.contains_key(&client) {
            self.stats.connections_received += 1;
            self.clients.insert(client, ClientInfo::default());
        }
        if let Some(frame) = self.refusal(client, id) {
            self.replies.push(client, frame, Need::Nothing);
            return;
        }
        match id.map(|id| (command::entry(id), id)) {
            Some((entry, _)) if matches!(entry.run, Run::Engine(_) | Run::Connection) => {
                self.engine_request(now_ms, client, entry, argv)
            }
            _ => self.data_request(now_ms, client, id, argv),
        }
    }

    /// An engine or connection command: refused inside MULTI (it changes state outside the
    /// data set), else run by the engine.
    fn engine_request(&mut self, now_ms: u64, client: ClientId, entry: &Command, argv: &[Bytes]) {
        let session = self.sessions.get_mut(&client).filter(|s| s.in_multi());
        let frame = if let Some(session) = session {
            // As Redis does for a refused queued command, EXEC will abort.
            session.flag_transaction();
            Frame::error("ERR Command not allowed inside a transaction")
        } else if !entry.arity_ok(argv.len()) {
            Frame::error(command::wrong_arity_text(entry.name))
        } else {
            match entry.run {
                Run::Engine(which) if self.snapshot_command(now_ms, client, which, argv) => return,
                Run::Engine(which) => self.engine_command(now_ms, client, which, argv),
                // QUIT reaches the engine only from a driver that does not close connections.
                _ => Frame::ok(),
            }
        };
        let need = self.pending_need.take().unwrap_or_else(|| self.need_now());
        self.replies.push(client, frame, need);
    }

    /// A command of the command layer (or an unknown one, which it refuses).
    fn data_request(
        &mut self,
        now_ms: u64,
        client: ClientId,
        id: Option<CommandId>,
        argv: &[Bytes],
    ) {
        self.random = self
            .random
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let ctx = Ctx {
            now_ms,
            loading: false,
            random: self.random,
        };
        let session = self.sessions.entry(client).or_insert_with(|| Session {
            client_id: client,
            ..Session::default()
        });
        let (ks, shared) = (&mut self.keyspace, &mut self.shared);
        let outcome = command::execute_resolved(ks, shared, session, ctx, id, argv);
        self.stats.dirty += outcome.dirty;
        if let (Some(log), false) = (&mut self.log, self.disabling) {
            for p in &outcome.propagate {
                log.log(p.db, &p.argv);
            }
        }
        let need = self.need_now();
        let flushall = id.is_some_and(|id| command::entry(id).name == "flushall");
        let flushed_all = flushall && !outcome.propagate.is_empty();
        match flushed_all.then(|| self.flushall_save(now_ms)).flatten() {
            Some(generation) => {
                self.replies
                    .push_after_snapshot(client, outcome.reply, need, generation)
            }
            None => self.replies.push(client, outcome.reply, need),
        }
    }

    /// Why a command may not run now: authentication, or a sticky AOF error for writes.
    fn refusal(&mut self, client: ClientId, id: Option<CommandId>) -> Option<Frame> {
        let entry = id.map(command::entry);
        if let Some(frame) = self.auth_gate(client, entry) {
            return Some(frame);
        }
        let aof = self
            .aof_error()
            .map(|e| format!("MISCONF Errors writing to the AOF file: {}", e.message));
        let message = aof.or_else(|| self.rdb_refusal())?;
        let name = entry.map_or("", |e| e.name);
        if name == "exec" && self.queued_write(client) {
            // As Redis: an EXEC that would write is refused and its transaction discarded.
            let session = self.sessions.get_mut(&client).expect("in MULTI");
            let ctx = Ctx {
                now_ms: 0,
                loading: false,
                random: 0,
            };
            let discard = [Bytes::from_static(b"DISCARD")];
            let _ = command::execute(&mut self.keyspace, &mut self.shared, session, ctx, &discard);
            return Some(Frame::error(format!(
                "EXECABORT Transaction discarded because of: {message}"
            )));
        }
        // As Redis's processCommand: writes and PING are refused while persistence fails.
        let blocked = name == "ping" || entry.is_some_and(Command::is_write);
        blocked.then(|| Frame::error(message))
    }

    fn queued_write(&self, client: ClientId) -> bool {
        let queued = self.sessions.get(&client).and_then(|s| s.multi.as_ref());
        queued.is_some_and(|m| {
            m.queued
                .iter()
                .any(|q| command::entry(q.command).is_write())
        })
    }

    /// A connection closed: forget its session (its WATCHes, its MULTI).
    pub fn handle_client_closed(&mut self, client: ClientId) {
        self.sessions.remove(&client);
        self.clients.remove(&client);
        command::client_closed(&mut self.shared, client);
    }

    /// SIGTERM, SIGINT or SHUTDOWN: stop taking commands, write and fsync everything logged,
    /// then move to [`Phase::Stopped`]. Replies already executed are still released.
    pub fn handle_shutdown(&mut self, now_ms: u64) {
        self.handle_shutdown_with(now_ms, None);
    }

    /// SHUTDOWN [NOSAVE|SAVE]: `save` overrides whether a final snapshot is taken (by default,
    /// when save points are configured, as Redis).
    pub fn handle_shutdown_with(&mut self, now_ms: u64, save: Option<bool>) {
        match self.phase {
            Phase::Running => {
                self.stopping = true;
                self.save_on_stop = save.unwrap_or(!self.config.save_points.is_empty());
                self.phase = Phase::Stopping;
                self.notice("User requested shutdown...".to_string());
            }
            Phase::Loading | Phase::Refused(_) => self.phase = Phase::Stopped,
            Phase::Stopping | Phase::Stopped => {}
        }
        self.turn_at = Some(now_ms);
    }

    /// Starts a switch to a new incr file: the first phase of an AOF rewrite (and what Redis
    /// does after a failed rewrite). Returns false if the AOF is off or not running.
    pub fn handle_rotate(&mut self, now_ms: u64) -> bool {
        if self.phase != Phase::Running || self.log.is_none() {
            return false;
        }
        self.rotate_pending = true;
        self.turn_at = Some(now_ms);
        true
    }

    /// The clock reached a deadline from `poll_timeout` (or any later time).
    pub fn handle_timeout(&mut self, now_ms: u64) {
        if self.phase == Phase::Running && now_ms >= self.cron_next_ms {
            self.cron_next_ms = now_ms + CRON_MS;
            let expired = command::active_expire_sweep(
                &mut self.keyspace,
                &mut self.shared,
                now_ms,
                EXPIRE_BUDGET_KEYS,
            );
            if let (Some(log), false) = (&mut self.log, self.disabling) {
                for p in &expired {
                    log.log(p.db, &p.argv);
                }
            }
        }
        self.save_points_due(now_ms);
        self.auto_rewrite_due(now_ms);
        if let Some(log) = &mut self.log {
            log.maybe_background_fsync(now_ms, true, &mut self.out);
            log.start_retry(now_ms, &mut self.out);
        }
        self.turn_at = Some(now_ms);
    }

    /// An effect completed.
    pub fn handle_io(&mut self, now_ms: u64, done: IoDone) {
        if self.startup.as_ref().is_some_and(|s| s.owns(done.id)) {
            self.on_startup_io(now_ms, done.result);
        } else if self.rdb_load.as_ref().is_some_and(|l| l.owns(done.id)) {
            self.on_rdb_load_io(now_ms, done.result);
        } else if self.cleanup.remove(&done.id) {
            self.on_cleanup_io(done.result);
        } else if self.snapshots.owns(done.id) {
            self.on_snapshot_io(now_ms, done.result);
        } else if self
            .procedure
            .as_ref()
            .is_some_and(|p| p.inflight.is_some_and(|(id, _)| id == done.id))
        {
            self.on_procedure_io(now_ms, done.result);
        } else {
            self.on_log_io(now_ms, done);
        }
        self.turn_at = Some(now_ms);
    }

    #[must_use]
    pub fn poll_effect(&mut self) -> Option<Effect> {
        self.finish_turn();
        self.out.pop()
    }

    #[must_use]
    pub fn poll_reply(&mut self) -> Option<(ClientId, Frame)> {
        self.finish_turn();
        self.replies.pop_ready()
    }

    #[must_use]
    pub fn poll_log(&mut self) -> Option<LogLine> {
        self.finish_turn();
        self.logs.pop_front()
    }

    /// The work every turn ends with, done once however many inputs the turn had: a batch of
    /// commands handled before the first `poll_*` shares one write and one fsync.
    fn finish_turn(&mut self) {
        if let Some(now_ms) = self.turn_at.take() {
            self.after(now_ms);
        }
    }

    /// The next time `handle_timeout` must be called, if any.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<u64> {
        if self.phase != Phase::Running {
            return None;
        }
        let log = self.log.as_ref().and_then(AofLog::deadline_ms);
        Some(log.map_or(self.cron_next_ms, |d| d.min(self.cron_next_ms)))
    }

    /// Work every input ends with: issue writes the policy allows, then release replies.
    fn after(&mut self, now_ms: u64) {
        // A pending rotation holds new appends back, so the one in flight drains and the
        // rotation can start (it sends what is buffered to the old file itself).
        self.try_start_rotation();
        let suspended = self.fsync_suspended();
        if let Some(log) = &mut self.log {
            log.suspended = suspended;
        }
        if let (Some(log), false) = (&mut self.log, self.rotate_pending) {
            if let Some(note) = log.flush(now_ms, &mut self.out) {
                self.logs.push_back(LogLine {
                    level: Level::Warning,
                    message: note,
                });
            }
        }
        if self.stopping {
            self.drive_shutdown(now_ms);
        }
        let drained = self.disabling && self.drive_log_shutdown();
        if let Some(log) = &self.log {
            self.replies.release(log.offset_written, log.offset_durable);
        } else {
            // No log: only replies that need nothing are queued.
            self.replies.release(0, 0);
        }
        if drained {
            (self.log, self.manifest, self.disabling) = (None, None, false);
            self.notice("AOF stopped: everything logged is durable".to_string());
        }
    }

    /// Once serving: list `dir` for temp files a crashed snapshot or rewrite left (Redis leaves
    /// them forever) and delete them. Nothing depends on these deletes being durable.
    pub(super) fn start_cleanup(&mut self) {
        let id = self.out.emit(
            Lane::Log,
            Op::List {
                path: String::new(),
            },
        );
        self.cleanup.insert(id);
    }

    fn on_cleanup_io(&mut self, result: IoResult) {
        match result {
            IoResult::Listed { names } => {
                let temp = |n: &String| {
                    (n.starts_with("temp-rewriteaof-") && n.ends_with(".aof"))
                        || (n.starts_with("temp-") && n.ends_with(".rdb"))
                };
                for name in names.into_iter().filter(temp) {
                    self.notice(format!("Removing leftover temp file {name}"));
                    let id = self.out.emit(Lane::Log, Op::Delete { path: name });
                    self.cleanup.insert(id);
                }
            }
            IoResult::Failed(e) => self.warn(format!(
                "Could not clean leftover temp files: {}",
                e.message
            )),
            _ => {}
        }
    }

    /// What a reply executed now must wait for.
    fn need_now(&self) -> Need {
        match &self.log {
            Some(log) if !self.disabling => log.need_now(),
            _ => Need::Nothing,
        }
    }

    /// Shutdown: force out what is buffered, fsync it, and stop once it is durable.
    fn drive_shutdown(&mut self, now_ms: u64) {
        if self.drive_log_shutdown()
            && self.drive_final_save(now_ms)
            && self.phase == Phase::Stopping
        {
            self.phase = Phase::Stopped;
            self.notice("durakv is now ready to exit, bye bye...".to_string());
        }
    }

    /// Writes and fsyncs everything logged. `true` once the log is durable (or has failed).
    fn drive_log_shutdown(&mut self) -> bool {
        let Some(log) = &mut self.log else {
            return true;
        };
        if let Some(failure) = &log.failure {
            let message = format!(
                "Could not persist the AOF before exit: {}",
                failure.error.message
            );
            self.logs.push_back(LogLine {
                level: Level::Warning,
                message,
            });
            return true;
        }
        if log.append.is_some() || log.fsync.is_some() || self.procedure.is_some() {
            return false;
        }
        if !log.buf.is_empty() {
            log.force_append(&mut self.out);
            return false;
        }
        if log.offset_durable < log.offset_written {
            log.force_fsync(&mut self.out);
            return false;
        }
        true
    }

    fn notice(&mut self, message: String) {
        self.logs.push_back(LogLine {
            level: Level::Notice,
            message,
        });
    }

    fn warn(&mut self, message: String) {
        self.logs.push_back(LogLine {
            level: Level::Warning,
            message,
        });
    }
}

mod lifecycle;

#[cfg(test)]
mod tests;
