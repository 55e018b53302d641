//! The engine: one owner of the data set and of every persistence decision. This file is its
//! door (the public `handle_*` / `poll_*` API and accessors) and the router between its
//! sub-machines; each sub-machine owns its state in its own file:
//!
//! - `requests.rs`: a client's command from arrival to its reply's place in the release
//!   queue (phase gate, refusals, hand-off to the executor the command index names);
//!   `admin.rs`: the engine-level commands (SAVE, BGSAVE, CONFIG, INFO, AUTH, …);
//!   `client_cmd.rs` and `client_list.rs`: HELLO, RESET and CLIENT;
//! - `startup.rs` (with `aof_load.rs`, `aof_upgrade.rs`, `rdb_load.rs`): loading at start, the
//!   pre-7.0 upgrade, and the cleanup;
//! - `aof_writer.rs` (with `aof_log.rs`, `procedure.rs`): the AOF's log, manifest, switches
//!   and the file-procedure slot;
//! - `snapshot.rs`, `rewrite.rs`, `aof_toggle.rs`: RDB snapshots, AOF rewrites, CONFIG SET
//!   appendonly; `repl.rs` (with `repl_backlog.rs`, `repl_cmd.rs`): replication, master side;
//!   `replica.rs` (with `replica_cmd.rs`): the replica side;
//! - `clients.rs`: sessions and per-connection state; `replies.rs`: reply release;
//! - `completions.rs`: hands a finished start-up step, procedure or snapshot to its owner;
//! - leaves: `outbox.rs` (effects and events out), `event.rs`, `phase.rs`, `stats.rs`,
//!   `timers.rs`, `shutdown.rs`; `info.rs` renders INFO from all of them.
//!
//! Effect ids carry their owner, so [`Engine::handle_io`] routes with one `match`; deadlines
//! come from one timer table (`timers.rs`). Sub-machines never call each other: what one needs
//! of another is passed in by the router, or the router acts on what a `handle_*` returns.
//!
//! Inputs are `handle_*` calls with the current time; outputs are drained with `poll_*`
//! (quinn-proto's shape). A turn is any number of `handle_*` calls followed by draining
//! `poll_effect` (hand each to the executor), `poll_reply` (send each to its client),
//! `poll_event` (print), then arming a timer for `poll_timeout` and calling `handle_timeout`
//! when it fires. The first `poll_*` of a turn issues the writes the turn's commands need,
//! once: that is group commit, so a driver should hand over every command it has before polling.
//!
//! Invariants kept here (the model checker states them as properties):
//! - a reply leaves only when the log has reached what the contract requires for every command
//!   executed before it (see `replies.rs`);
//! - under every policy the write(2) of a record happens before its reply; under `always` the
//!   fdatasync covering it too;
//! - an I/O failure is sticky: writes are refused with MISCONF until a retry rewrote the suspect
//!   bytes; no waiting reply claims durability after a failure;
//! - an incr file becomes non-last only after it is durable, so a torn tail can only ever be in
//!   the last file (Redis 7.0 fsyncs the old file in the background instead).

mod admin;
mod aof_load;
mod aof_log;
mod aof_toggle;
mod aof_upgrade;
mod aof_writer;
mod blocking;
mod busy;
mod client_cmd;
mod client_list;
mod clients;
mod completions;
mod config_file;
mod config_file_types;
mod debug;
mod debug_types;
mod event;
mod info;
mod info_cmd;
mod memory;
mod multi_exec;
mod outbox;
mod phase;
mod procedure;
mod rdb_load;
mod repl;
mod repl_aof;
mod repl_backlog;
mod repl_cmd;
mod replica;
mod replica_cmd;
mod replies;
mod requests;
mod retained;
mod rewrite;
mod shutdown;
mod snapshot;
mod startup;
mod stats;
mod timers;
mod while_busy;

use bytes::Bytes;

use crate::command::{self, CommandId, Shared};
use crate::config::Config;
use crate::io::{Effect, IoDone, IoError, Owner};
use crate::keyspace::Keyspace;
use crate::resp::Frame;

use self::aof_toggle::AofToggle;
use self::aof_writer::AofWriter;
use self::clients::Clients;
use self::outbox::Outbox;
use self::repl::Repl;
use self::replies::{Need, Replies};
use self::rewrite::Rewrites;
use self::shutdown::Shutdown;
use self::snapshot::Snapshots;
use self::startup::Startup;
use self::timers::{Timer, TimerTable};

pub use self::clients::{ClientAddr, ClientId};
pub use self::event::{Event, Level};
pub use self::phase::{Phase, StartError};
pub use self::repl::{ReplPosition, ReplicaSync};
pub use self::replica::{LinkOp, MASTER_CLIENT};
pub use self::replies::Reply;
pub use self::stats::Stats;
pub use self::while_busy::WhileBusy;
pub use crate::REDIS_VERSION;

/// Keys looked at per active-expiry run: bounds the work done between two commands.
const EXPIRE_BUDGET_KEYS: usize = 200;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Engine {
    config: Config,
    phase: Phase,
    keyspace: Keyspace,
    /// The command layer's state shared between connections (WATCHes, SCAN cursors).
    shared: Shared,
    clients: Clients,
    startup: Startup,
    aof: AofWriter,
    toggle: AofToggle,
    snapshots: Snapshots,
    rewrites: Rewrites,
    /// Replication, master side (`repl.rs`).
    repl: Repl,
    /// Replication, replica side (`replica.rs`).
    replica: replica::Replica,
    shutdown: Shutdown,
    out: Outbox,
    replies: Replies,
    stats: Stats,
    /// Inputs arrived since the last `poll_*`: the turn's flush and release are still to do.
    turn_at: Option<u64>,
    cron_next_ms: u64,
    random: u64,
    started_ms: u64,
    /// What DEBUG switched (`debug.rs`).
    debug: debug::DebugState,
    /// The CONFIG REWRITE in flight (`config_file.rs`), and deletes of temporaries it left.
    config_rewrite: Option<config_file_types::Rewriting>,
    config_cleanups: u64,
}

impl Engine {
    /// A new engine at start-up: it begins by loading (drain `poll_effect`).
    pub fn new(config: Config, now_ms: u64) -> Engine {
        let mut out = Outbox::default();
        let startup = Startup::begin(&config, &mut out);
        let mut shared = Shared::default();
        command::set_notify_flags(&mut shared, config.notify_keyspace_events);
        Engine {
            phase: Phase::Loading,
            keyspace: Keyspace::with_limits(config.databases, config.encodings),
            shared,
            clients: Clients::default(),
            startup,
            aof: AofWriter::default(),
            toggle: AofToggle::default(),
            snapshots: Snapshots::new(now_ms),
            rewrites: Rewrites::default(),
            repl: Repl::new(now_ms),
            replica: replica::Replica::new(config.replica.master.clone()),
            shutdown: Shutdown::default(),
            out,
            replies: Replies::default(),
            stats: Stats::default(),
            turn_at: None,
            cron_next_ms: Timer::Cron.after(now_ms),
            random: now_ms ^ 0x9e37_79b9_7f4a_7c15,
            started_ms: now_ms,
            debug: debug::DebugState::default(),
            config_rewrite: None,
            config_cleanups: 0,
            config,
        }
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
        self.aof
            .log
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
        self.aof.is_rotating()
    }

    /// Whether `CONFIG SET appendonly yes` is still writing the AOF's first files.
    pub fn is_enabling_aof(&self) -> bool {
        self.aof.is_enabling()
    }

    /// Replies waiting for the log.
    pub fn replies_waiting(&self) -> usize {
        self.replies.waiting_count()
    }

    /// Everysec writes done without waiting for a slow fsync (INFO `aof_delayed_fsync`).
    pub fn delayed_fsync(&self) -> u64 {
        self.aof.log.as_ref().map_or(0, |l| l.delayed_fsync)
    }

    /// The sticky AOF error, if any (INFO `aof_last_write_status:err`).
    pub fn aof_error(&self) -> Option<&IoError> {
        self.aof.error()
    }

    /// A client sent a command (argv as received).
    pub fn handle_command(&mut self, now_ms: u64, client: ClientId, argv: Vec<Bytes>) {
        let id = argv.first().and_then(|name| command::resolve(name));
        self.handle_resolved(now_ms, client, id, argv);
    }

    /// A client sent a command whose name the caller resolved with [`command::resolve`] (the
    /// runtime does it beside parsing, off the engine's thread). See `requests.rs`.
    pub fn handle_resolved(
        &mut self,
        now_ms: u64,
        client: ClientId,
        id: Option<CommandId>,
        argv: Vec<Bytes>,
    ) {
        if !argv.is_empty() {
            self.handle_request(now_ms, client, id, &argv, None);
        }
        self.turn_at = Some(now_ms);
    }

    /// [`Engine::handle_resolved`] from a driver that can serve other connections while a
    /// script runs: past `busy-reply-threshold` the script calls `host` (see `busy.rs`).
    pub fn handle_resolved_busy(
        &mut self,
        now_ms: u64,
        client: ClientId,
        id: Option<CommandId>,
        argv: Vec<Bytes>,
        host: &mut dyn WhileBusy,
    ) {
        if !argv.is_empty() {
            self.handle_request(now_ms, client, id, &argv, Some(host));
        }
        self.turn_at = Some(now_ms);
    }

    /// A connection opened (the runtime tells; the model checker's clients never do, so the
    /// address and clock fields CLIENT LIST shows exist only for real connections).
    pub fn handle_client_opened(&mut self, now_ms: u64, client: ClientId, addr: ClientAddr) {
        self.stats.connections_received += 1;
        let info = self.clients.info.entry(client).or_default();
        info.conn = Some(clients::Conn {
            addr,
            opened_ms: now_ms,
            last_ms: now_ms,
            last_cmd: None,
        });
    }

    /// A connection closed: forget its session (its WATCHes, its MULTI).
    pub fn handle_client_closed(&mut self, client: ClientId) {
        self.clients.handle_closed(client, &mut self.shared);
        self.repl.forget(client);
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
                self.shutdown.begin(&self.config, save);
                self.phase = Phase::Stopping;
                self.out.notice("User requested shutdown...".to_string());
            }
            Phase::Loading | Phase::Refused(_) => self.phase = Phase::Stopped,
            Phase::Stopping | Phase::Stopped => {}
        }
        self.turn_at = Some(now_ms);
    }

    /// Starts a switch to a new incr file: the first phase of an AOF rewrite (and what Redis
    /// does after a failed rewrite). Returns false if the AOF is off or not running.
    pub fn handle_rotate(&mut self, now_ms: u64) -> bool {
        if self.phase != Phase::Running || self.aof.log.is_none() {
            return false;
        }
        self.aof.rotate_pending = true;
        self.turn_at = Some(now_ms);
        true
    }

    /// The clock reached a deadline from `poll_timeout` (or any later time).
    pub fn handle_timeout(&mut self, now_ms: u64) {
        if self.clients.pause.is_some_and(|p| now_ms >= p.until_ms) {
            self.end_pause(now_ms);
        }
        self.time_out_blocked(now_ms);
        // As Redis 7.0's `activeExpireCycle`, no key expires while clients are paused.
        // A replica waits for its master's DELs (Redis runs `activeExpireCycle` on masters).
        let paused = self.clients.pause.is_some()
            || self.debug.active_expire_off
            || self.replica.is_replica();
        if self.phase == Phase::Running && now_ms >= self.cron_next_ms && !paused {
            self.cron_next_ms = Timer::Cron.after(now_ms);
            let expired = command::active_expire_sweep(
                &mut self.keyspace,
                &mut self.shared,
                now_ms,
                EXPIRE_BUDGET_KEYS,
            );
            if let (Some(log), false) = (&mut self.aof.log, self.toggle.disabling) {
                for p in &expired {
                    log.log(p.db, &p.argv);
                }
            }
            self.repl_feed_writes(&expired);
            self.notify_removed(&expired, false);
        }
        if self.phase == Phase::Running {
            self.repl_cron(now_ms);
            self.replica_cron(now_ms);
        }
        self.cron_persistence(now_ms);
        self.aof.handle_timeout(now_ms, &mut self.out);
        self.turn_at = Some(now_ms);
    }

    /// An effect completed: its owner handles it (one `match`, see [`crate::io::Owner`]).
    pub fn handle_io(&mut self, now_ms: u64, done: IoDone) {
        let (config, out) = (&self.config, &mut self.out);
        match done.id.owner {
            Owner::AofLoad => {
                let (keyspace, shared) = (&mut self.keyspace, &mut self.shared);
                let step = (self.startup).handle_aof_load_io(
                    now_ms,
                    done.result,
                    config,
                    keyspace,
                    shared,
                    out,
                );
                self.on_startup_step(step, now_ms);
            }
            Owner::RdbLoad => {
                let keyspace = &mut self.keyspace;
                let step =
                    (self.startup).handle_rdb_load_io(now_ms, done.result, config, keyspace, out);
                self.on_startup_step(step, now_ms);
            }
            Owner::Cleanup => self.on_cleanup_io(done.id, done.result),
            Owner::AofLog => self.aof.handle_log_io(now_ms, done, &mut self.replies, out),
            Owner::Procedure => self.on_procedure_io(now_ms, done.result),
            Owner::Snapshot => self.on_snapshot_io(now_ms, done.result),
            Owner::ConfigFile => self.on_config_file_io(now_ms, done.result),
        }
        self.turn_at = Some(now_ms);
    }

    #[must_use]
    pub fn poll_effect(&mut self) -> Option<Effect> {
        self.finish_turn();
        self.out.pop_effect()
    }

    #[must_use]
    pub fn poll_reply(&mut self) -> Option<(ClientId, Reply)> {
        self.finish_turn();
        self.replies.pop_ready()
    }

    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.finish_turn();
        self.out.pop_event()
    }

    /// The next time `handle_timeout` must be called, if any: the earliest armed timer.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<u64> {
        if self.phase != Phase::Running {
            return None;
        }
        let mut timers = TimerTable::default();
        timers.set(Timer::Cron, self.cron_next_ms);
        if let Some(pause) = self.clients.pause {
            timers.set(Timer::ClientPause, pause.until_ms);
        }
        if let Some(at) = self
            .clients
            .blocked
            .iter()
            .filter_map(|b| b.block.deadline_ms)
            .min()
        {
            timers.set(Timer::Blocked, at);
        }
        if let Some(at) = self.repl.next_wait_deadline() {
            timers.set(Timer::ReplWait, at);
        }
        if let Some(log) = &self.aof.log {
            log.arm_timers(&mut timers);
        }
        timers.next_ms()
    }

    /// The work every turn ends with, done once however many inputs the turn had: a batch of
    /// commands handled before the first `poll_*` shares one write and one fsync.
    fn finish_turn(&mut self) {
        if let Some(now_ms) = self.turn_at.take() {
            self.after(now_ms);
        }
    }

    /// Work every input ends with: issue writes the policy allows, then release replies.
    fn after(&mut self, now_ms: u64) {
        self.answer_aof_waits(now_ms);
        // A pending rotation holds new appends back, so the one in flight drains and the
        // rotation can start (it sends what is buffered to the old file itself).
        (self.aof).try_start_rotation(&self.keyspace, &self.config, &mut self.out);
        let suspended = (self.rewrites).suspends_fsync(&self.config, self.snapshots.in_progress());
        self.aof.flush(now_ms, suspended, &mut self.out);
        if self.shutdown.stopping {
            self.drive_shutdown(now_ms);
        }
        let drained = self.toggle.disabling && self.aof.drain(&mut self.out);
        match &self.aof.log {
            Some(log) => self.replies.release(log.offset_written, log.offset_durable),
            // No log: only replies that need nothing are queued.
            None => self.replies.release(0, 0),
        }
        if drained {
            self.toggle.handle_drained(&mut self.aof, &mut self.out);
        }
    }

    /// What a reply executed now must wait for.
    fn need_now(&self) -> Need {
        match &self.aof.log {
            Some(log) if !self.toggle.disabling => log.need_now(),
            _ => Need::Nothing,
        }
    }

    /// Shutdown: force out what is buffered, fsync it, and stop once it is durable.
    fn drive_shutdown(&mut self, now_ms: u64) {
        if self.aof.drain(&mut self.out)
            && self.drive_final_save(now_ms)
            && self.phase == Phase::Stopping
        {
            self.phase = Phase::Stopped;
            (self.out).notice("durakv is now ready to exit, bye bye...".to_string());
        }
    }

    /// Shutdown's final save, once the log is durable. `true` when nothing is left to do.
    fn drive_final_save(&mut self, now_ms: u64) -> bool {
        if !self.shutdown.save_on_stop {
            return true;
        }
        if let Some(done) = self.snapshots.final_save_done() {
            return done;
        }
        (self.out).notice("Saving the final RDB snapshot before exiting.".to_string());
        let generation = (self.start_snapshot(now_ms, false)).expect("no snapshot running");
        self.snapshots.set_final_save(generation);
        false
    }

    /// Cron: a due save point starts a BGSAVE, a grown AOF a rewrite.
    fn cron_persistence(&mut self, now_ms: u64) {
        if self.phase != Phase::Running {
            return;
        }
        let dirty = self.stats.dirty;
        if let Some(point) = self.snapshots.save_point_due(now_ms, &self.config, dirty) {
            let (changes, seconds) = (point.changes, point.seconds);
            (self.out).notice(format!("{changes} changes in {seconds} seconds. Saving..."));
            let _ = self.start_snapshot(now_ms, true);
        }
        if let Some(growth) = self.rewrites.auto_rewrite_due(&self.config, &self.aof) {
            let message = format!("Starting automatic rewriting of AOF on {growth}% growth");
            self.out.notice(message);
            let _ = self.start_rewrite(now_ms);
        }
    }

    /// Starts a snapshot of the data set as it is now. `Err` is the reply when one is running.
    fn start_snapshot(&mut self, now_ms: u64, background: bool) -> Result<u64, Frame> {
        self.snapshots.repl_aux = self.replica_aux();
        let (config, keyspace, dirty) = (&self.config, &self.keyspace, self.stats.dirty);
        (self.snapshots).start(now_ms, background, config, keyspace, dirty, &mut self.out)
    }

    /// FLUSHALL with save points saves right away (Redis does it synchronously); its reply
    /// waits for that snapshot.
    fn flushall_save(&mut self, now_ms: u64) -> Option<u64> {
        if self.config.save_points.is_empty() {
            return None;
        }
        match self.start_snapshot(now_ms, false) {
            Ok(generation) => Some(generation),
            Err(_) => {
                self.snapshots.again = true;
                None
            }
        }
    }

    /// The MISCONF message when the last BGSAVE failed and writes must stop.
    fn rdb_refusal(&self) -> Option<String> {
        self.snapshots.refusal(&self.config)
    }

    /// BGREWRITEAOF. `Err` is Redis's reply when it cannot start.
    fn start_rewrite(&mut self, now_ms: u64) -> Result<(), Frame> {
        let running = self.phase == Phase::Running;
        (self.rewrites).start(now_ms, running, &mut self.aof, &mut self.out)
    }

    /// CONFIG SET appendonly yes. `Err` is the reason it cannot now.
    fn enable_aof(&mut self, now_ms: u64) -> Result<(), String> {
        let (aof, config, keyspace) = (&mut self.aof, &mut self.config, &self.keyspace);
        let procedure = (self.toggle).enable(now_ms, aof, config, keyspace, &mut self.out)?;
        self.run_procedure(procedure, now_ms);
        Ok(())
    }

    /// CONFIG SET appendonly no.
    fn disable_aof(&mut self) {
        self.toggle.disable(&mut self.config, &mut self.out);
    }
}

#[cfg(test)]
mod blocking_tests;
#[cfg(test)]
mod busy_tests;
#[cfg(test)]
mod client_tests;
#[cfg(test)]
mod cmdstats_tests;
#[cfg(test)]
mod config_file_tests;
#[cfg(test)]
mod debug_tests;
#[cfg(test)]
mod multi_exec_tests;
#[cfg(test)]
mod repl_tests;
#[cfg(test)]
mod replica_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod zset_blocking_tests;
