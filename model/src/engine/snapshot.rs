//! RDB snapshots: SAVE, BGSAVE, LASTSAVE (and the BGREWRITEAOF command's entry), save points, the final save at shutdown, and loading
//! `dump.rdb` at start when the AOF is off.
//!
//! Owns the snapshot state. Invariants:
//! - a snapshot serialises the O(1) clone of the keyspace taken when it starts (one point in
//!   time), on the worker lane, never on the engine's;
//! - it reaches `dump.rdb` only by temp file → fsync → rename → directory fsync, so a crash
//!   leaves either the previous complete snapshot or the new complete one;
//! - a failed BGSAVE with save points set refuses writes (MISCONF) until a snapshot succeeds,
//!   when `stop-writes-on-bgsave-error` is on.

use super::procedure::{step, write_view, Procedure, Purpose};
use super::startup::Startup;
use super::*;
use crate::command::EngineCommand;
use crate::rdb;

/// Redis waits this long after a failed BGSAVE before a save point may try again.
const BGSAVE_RETRY_MS: u64 = 5000;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Snapshots {
    running: Option<Procedure>,
    /// Generation of the last snapshot started; each start takes the next.
    pub(crate) generation: u64,
    pub(crate) done_generation: u64,
    background: bool,
    dirty_at_start: u64,
    started_ms: u64,
    pub(crate) lastsave_ms: u64,
    pub(crate) last_bgsave_ok: bool,
    last_try_ms: u64,
    pub(crate) saves: u64,
    pub(crate) last_duration_ms: u64,
    /// Start another snapshot when the running one finishes (FLUSHALL during a BGSAVE).
    again: bool,
    /// The shutdown's final save: its generation once started.
    final_save: Option<u64>,
    pub(crate) keys_loaded: u64,
}

impl Snapshots {
    pub(crate) fn new(now_ms: u64) -> Snapshots {
        Snapshots {
            running: None,
            generation: 0,
            done_generation: 0,
            background: false,
            dirty_at_start: 0,
            started_ms: 0,
            lastsave_ms: now_ms,
            last_bgsave_ok: true,
            last_try_ms: 0,
            saves: 0,
            last_duration_ms: 0,
            again: false,
            final_save: None,
            keys_loaded: 0,
        }
    }

    pub(crate) fn in_progress(&self) -> bool {
        self.running.is_some()
    }

    pub(crate) fn owns(&self, id: EffectId) -> bool {
        self.running
            .as_ref()
            .is_some_and(|p| p.inflight.is_some_and(|(i, _)| i == id))
    }

    pub(crate) fn current_ms(&self, now_ms: u64) -> Option<u64> {
        self.running
            .as_ref()
            .map(|_| now_ms.saturating_sub(self.started_ms))
    }
}

impl Engine {
    /// Starts a snapshot of the data set as it is now. `Err` is the reply when one is running.
    pub(super) fn start_snapshot(&mut self, now_ms: u64, background: bool) -> Result<u64, Frame> {
        if self.snapshots.in_progress() {
            return Err(Frame::error("ERR Background save already in progress"));
        }
        let snap = &mut self.snapshots;
        snap.generation += 1;
        let generation = snap.generation;
        (snap.background, snap.dirty_at_start, snap.started_ms) =
            (background, self.stats.dirty, now_ms);
        if background {
            snap.last_try_ms = now_ms;
        }
        let target = self.config.dbfilename.clone();
        let in_place = self.config.mutation == Mutation::SnapshotInPlace;
        let temp = if in_place {
            target.clone()
        } else {
            format!("temp-{generation}.rdb")
        };
        let view = self.keyspace.clone();
        let format = ViewFormat::Rdb { aof_base: false };
        let mut steps = write_view(&temp, view, format, now_ms);
        if !in_place {
            steps.push(step(Op::Rename {
                from: temp,
                to: target,
            }));
        }
        steps.push(step(Op::FsyncDir {
            path: String::new(),
        }));
        let mut procedure = Procedure::new(Purpose::Snapshot, steps);
        procedure.advance(&mut self.out);
        self.snapshots.running = Some(procedure);
        let what = if background {
            "Background saving started"
        } else {
            "Saving the DB"
        };
        self.notice(format!(
            "{what} (snapshot {generation} of {} keys)",
            self.keyspace.len()
        ));
        Ok(generation)
    }

    pub(super) fn on_snapshot_io(&mut self, now_ms: u64, result: IoResult) {
        let mut procedure = self.snapshots.running.take().expect("snapshot running");
        procedure.inflight = None;
        if let IoResult::Failed(error) = result {
            self.snapshot_failed(now_ms, &error);
        } else if procedure.advance(&mut self.out) {
            self.snapshots.running = Some(procedure);
        } else {
            self.snapshot_done(now_ms);
        }
    }

    fn snapshot_done(&mut self, now_ms: u64) {
        let snap = &mut self.snapshots;
        self.stats.dirty = self.stats.dirty.saturating_sub(snap.dirty_at_start);
        snap.lastsave_ms = now_ms;
        snap.last_duration_ms = now_ms.saturating_sub(snap.started_ms);
        snap.saves += 1;
        snap.done_generation = snap.generation;
        if snap.background {
            snap.last_bgsave_ok = true;
        }
        let generation = snap.generation;
        self.replies.snapshot_done(generation, None);
        self.notice(format!("DB saved on disk (snapshot {generation})"));
        self.snapshot_again(now_ms);
    }

    fn snapshot_failed(&mut self, now_ms: u64, error: &IoError) {
        let snap = &mut self.snapshots;
        if snap.background {
            snap.last_bgsave_ok = false;
        }
        let generation = snap.generation;
        if snap.final_save == Some(generation) {
            // As Redis: a shutdown whose final save failed does not exit.
            snap.final_save = None;
            self.stopping = false;
            self.phase = Phase::Running;
            self.warn("Error trying to save the DB, can't exit.".to_string());
        }
        let frame = Frame::error(format!("ERR Error saving DB on disk: {}", error.message));
        self.replies.snapshot_done(generation, Some(&frame));
        self.warn(format!("Background saving error: {}", error.message));
        self.snapshot_again(now_ms);
    }

    fn snapshot_again(&mut self, now_ms: u64) {
        if std::mem::take(&mut self.snapshots.again) {
            let _ = self.start_snapshot(now_ms, true);
        }
    }

    /// SAVE, BGSAVE [SCHEDULE], LASTSAVE, BGREWRITEAOF (arity checked by the index): pushes
    /// the reply and returns `true`, or `false` if `which` is none of them.
    pub(super) fn snapshot_command(
        &mut self,
        now_ms: u64,
        client: ClientId,
        which: EngineCommand,
        argv: &[Bytes],
    ) -> bool {
        let need = self.log.as_ref().map_or(Need::Nothing, AofLog::need_now);
        let frame = match which {
            EngineCommand::Save => match self.start_snapshot(now_ms, false) {
                Ok(generation) => {
                    self.replies
                        .push_after_snapshot(client, Frame::ok(), need, generation);
                    return true;
                }
                Err(frame) => frame,
            },
            EngineCommand::Bgsave => self.bgsave(now_ms, argv),
            EngineCommand::Bgrewriteaof => match self.start_rewrite(now_ms) {
                Ok(()) => {
                    Frame::Simple("Background append only file rewriting started".to_string())
                }
                Err(frame) => frame,
            },
            EngineCommand::Lastsave => Frame::Integer((self.snapshots.lastsave_ms / 1000) as i64),
            _ => return false,
        };
        self.replies.push(client, frame, need);
        true
    }

    fn bgsave(&mut self, now_ms: u64, argv: &[Bytes]) -> Frame {
        match argv {
            [_] => match self.start_snapshot(now_ms, true) {
                Ok(_) => Frame::Simple("Background saving started".to_string()),
                Err(frame) => frame,
            },
            [_, flag] if flag.eq_ignore_ascii_case(b"SCHEDULE") => {
                match self.start_snapshot(now_ms, true) {
                    Ok(_) => Frame::Simple("Background saving started".to_string()),
                    Err(_) => {
                        self.snapshots.again = true;
                        Frame::Simple("Background saving scheduled".to_string())
                    }
                }
            }
            _ => Frame::error(command::wrong_arity_text("bgsave")),
        }
    }

    /// FLUSHALL with save points saves right away (Redis does it synchronously); its reply
    /// waits for that snapshot.
    pub(super) fn flushall_save(&mut self, now_ms: u64) -> Option<u64> {
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

    /// Cron: a save point is due when enough changes happened and more than its seconds passed
    /// since the last save (strictly, as Redis), and the last BGSAVE succeeded or 5 s passed.
    pub(super) fn save_points_due(&mut self, now_ms: u64) {
        let snap = &self.snapshots;
        if snap.in_progress() || self.phase != Phase::Running {
            return;
        }
        let since_s = now_ms.saturating_sub(snap.lastsave_ms) / 1000;
        let may_retry =
            snap.last_bgsave_ok || now_ms.saturating_sub(snap.last_try_ms) > BGSAVE_RETRY_MS;
        let due = self
            .config
            .save_points
            .iter()
            .find(|p| self.stats.dirty >= p.changes && since_s > p.seconds);
        if let (Some(point), true) = (due.copied(), may_retry) {
            self.notice(format!(
                "{} changes in {} seconds. Saving...",
                point.changes, point.seconds
            ));
            let _ = self.start_snapshot(now_ms, true);
        }
    }

    /// The MISCONF message when the last BGSAVE failed and writes must stop.
    pub(super) fn rdb_refusal(&self) -> Option<String> {
        let stop = self.config.stop_writes_on_bgsave_error && !self.config.save_points.is_empty();
        (stop && !self.snapshots.last_bgsave_ok).then(|| {
            "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. \
             Commands that may modify the data set are disabled, because this instance is configured to report \
             errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check \
             the Redis logs for details about the RDB error."
                .to_string()
        })
    }

    /// Shutdown's final save, once the log is durable. `true` when nothing is left to do.
    pub(super) fn drive_final_save(&mut self, now_ms: u64) -> bool {
        if !self.save_on_stop {
            return true;
        }
        match self.snapshots.final_save {
            Some(generation) => self.snapshots.done_generation >= generation,
            None if self.snapshots.in_progress() => false,
            None => {
                self.notice("Saving the final RDB snapshot before exiting.".to_string());
                let generation = self
                    .start_snapshot(now_ms, false)
                    .expect("no snapshot running");
                self.snapshots.final_save = Some(generation);
                false
            }
        }
    }
}

/// Loading `dump.rdb` at start (AOF off): missing is an empty start; anything unreadable,
/// including a zero-length file or bytes after the checksum, refuses start-up.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct RdbLoad {
    buf: Vec<u8>,
    inflight: Option<EffectId>,
}

impl RdbLoad {
    pub(crate) fn begin(config: &Config, out: &mut Outbox) -> RdbLoad {
        let mut load = RdbLoad {
            buf: Vec::new(),
            inflight: None,
        };
        load.read(config, out);
        load
    }

    fn read(&mut self, config: &Config, out: &mut Outbox) {
        let op = Op::Read {
            path: config.dbfilename.clone(),
            offset: self.buf.len() as u64,
            len_max: config.load_chunk_bytes,
        };
        self.inflight = Some(out.emit(Lane::Log, op));
    }

    pub(crate) fn owns(&self, id: EffectId) -> bool {
        self.inflight == Some(id)
    }
}

impl Engine {
    pub(super) fn on_rdb_load_io(&mut self, now_ms: u64, result: IoResult) {
        let mut load = self.rdb_load.take().expect("rdb load");
        load.inflight = None;
        let file = self.config.dbfilename.clone();
        let refuse = |reason: String, offset: Option<u64>| StartError {
            file: file.clone(),
            offset,
            reason,
        };
        let found = !matches!(result, IoResult::NotFound);
        let outcome = match result {
            IoResult::NotFound => Ok(0),
            IoResult::Read { bytes, eof } => {
                load.buf.extend_from_slice(&bytes);
                if !eof {
                    load.read(&self.config, &mut self.out);
                    self.rdb_load = Some(load);
                    return;
                }
                self.decode_rdb(&load.buf, now_ms)
                    .map_err(|(offset, reason)| refuse(reason, offset))
            }
            IoResult::Failed(e) => Err(refuse(format!("cannot read: {}", e.message), None)),
            other => Err(refuse(format!("unexpected {other:?}"), None)),
        };
        match outcome {
            Ok(keys) => {
                self.snapshots.keys_loaded = keys;
                self.notice(format!("Done loading RDB, keys loaded: {keys}."));
                if self.config.appendonly {
                    // Only under Mutation::LoadRdbWhenAofExists: open the AOF, replay nothing.
                    self.replay_skipped = found;
                    self.startup = Some(Startup::begin(&self.config, &mut self.out));
                } else {
                    let files = if found {
                        vec![self.config.dbfilename.clone()]
                    } else {
                        Vec::new()
                    };
                    let mut steps: Vec<Step> = files
                        .iter()
                        .map(|f| step(Op::Fsync { path: f.clone() }))
                        .collect();
                    if found && self.config.mutation != Mutation::SkipStartupSync {
                        steps.push(step(Op::FsyncDir {
                            path: String::new(),
                        }));
                    } else {
                        steps.clear();
                    }
                    self.run_procedure(Procedure::new(Purpose::Ready, steps), now_ms);
                }
            }
            Err(e) => self.refuse(e),
        }
    }

    fn decode_rdb(&mut self, bytes: &[u8], now_ms: u64) -> Result<u64, (Option<u64>, String)> {
        if bytes.is_empty() {
            return Err((Some(0), "zero-length RDB file".to_string()));
        }
        let opts = rdb::LoadOptions {
            now_ms,
            drop_expired: true,
        };
        let loaded = rdb::decode(bytes, &mut self.keyspace, &opts)
            .map_err(|e| (Some(e.offset), rdb_reason(&e)))?;
        if loaded.end_offset != bytes.len() as u64 {
            return Err((
                Some(loaded.end_offset),
                "unexpected bytes after the RDB checksum".to_string(),
            ));
        }
        Ok(loaded.keys_loaded)
    }
}

/// An RDB error's reason without its trailing "at offset N" (the start-up error names it).
pub(crate) fn rdb_reason(e: &rdb::RdbError) -> String {
    let suffix = format!(" at offset {}", e.offset);
    e.reason
        .strip_suffix(&suffix)
        .unwrap_or(&e.reason)
        .to_string()
}
