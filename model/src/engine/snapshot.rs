//! RDB snapshots: the sub-machine behind SAVE, BGSAVE and LASTSAVE (whose handlers are in
//! `admin.rs`), save points, FLUSHALL's save and the final save at shutdown.
//!
//! Owns the snapshot state (the running snapshot's procedure, in its own slot beside the AOF
//! writer's). Invariants:
//! - a snapshot serialises the O(1) clone of the keyspace taken when it starts (one point in
//!   time), on the worker lane, never on the engine's;
//! - it reaches `dump.rdb` only by temp file → fsync → rename → directory fsync, so a crash
//!   leaves either the previous complete snapshot or the new complete one;
//! - a failed BGSAVE with save points set refuses writes (MISCONF) until a snapshot succeeds,
//!   when `stop-writes-on-bgsave-error` is on.

use crate::config::{Config, Mutation, SavePoint};
use crate::io::{IoError, IoResult, Op, Owner, ViewFormat};
use crate::keyspace::Keyspace;
use crate::resp::Frame;

use super::outbox::Outbox;
use super::procedure::{step, write_view, Procedure, Purpose};
use super::replies::Replies;
use super::stats::Stats;

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
    pub(crate) again: bool,
    /// The shutdown's final save: its generation once started.
    final_save: Option<u64>,
    /// `rdb_last_load_keys_loaded`: keys `dump.rdb` gave at start.
    pub(crate) keys_loaded: u64,
    /// A replica's master id and offset for the next snapshot's AUX fields (set by the
    /// router before each start).
    pub(crate) repl_aux: Option<(String, u64)>,
}

/// How a snapshot's step ended, for the router to act on.
pub(crate) enum SnapshotEnd {
    Running,
    /// Finished or failed; `final_save_failed`: it was shutdown's final save, and failed.
    Ended {
        final_save_failed: bool,
    },
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
            repl_aux: None,
        }
    }

    pub(crate) fn in_progress(&self) -> bool {
        self.running.is_some()
    }

    pub(crate) fn current_ms(&self, now_ms: u64) -> Option<u64> {
        self.running
            .as_ref()
            .map(|_| now_ms.saturating_sub(self.started_ms))
    }

    /// Starts a snapshot of `keyspace` as it is now (`dirty` changes so far). `Err` is the
    /// reply when one is running.
    pub(crate) fn start(
        &mut self,
        now_ms: u64,
        background: bool,
        config: &Config,
        keyspace: &Keyspace,
        dirty: u64,
        out: &mut Outbox,
    ) -> Result<u64, Frame> {
        if self.in_progress() {
            return Err(Frame::error("ERR Background save already in progress"));
        }
        self.generation += 1;
        let generation = self.generation;
        (self.background, self.dirty_at_start, self.started_ms) = (background, dirty, now_ms);
        if background {
            self.last_try_ms = now_ms;
        }
        let target = config.dbfilename.clone();
        let in_place = config.mutation == Mutation::SnapshotInPlace;
        let temp = if in_place {
            target.clone()
        } else {
            format!("temp-{generation}.rdb")
        };
        let format = ViewFormat::Rdb { aof_base: false };
        let mut steps = write_view(&temp, keyspace.clone(), format, now_ms);
        if let Op::WriteView { view, .. } = &mut steps[0].op {
            *view = view.clone().with_repl(self.repl_aux.take());
        }
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
        procedure.advance(Owner::Snapshot, out);
        self.running = Some(procedure);
        let what = if background {
            "Background saving started"
        } else {
            "Saving the DB"
        };
        out.notice(format!(
            "{what} (snapshot {generation} of {} keys)",
            keyspace.len()
        ));
        Ok(generation)
    }

    /// The running snapshot's step completed.
    pub(crate) fn handle_io(
        &mut self,
        now_ms: u64,
        result: IoResult,
        stats: &mut Stats,
        replies: &mut Replies,
        out: &mut Outbox,
    ) -> SnapshotEnd {
        let mut procedure = self.running.take().expect("snapshot running");
        procedure.inflight = None;
        if let IoResult::Failed(error) = result {
            let final_save_failed = self.failed(&error, replies, out);
            SnapshotEnd::Ended { final_save_failed }
        } else if procedure.advance(Owner::Snapshot, out) {
            self.running = Some(procedure);
            SnapshotEnd::Running
        } else {
            self.done(now_ms, stats, replies, out);
            SnapshotEnd::Ended {
                final_save_failed: false,
            }
        }
    }

    fn done(&mut self, now_ms: u64, stats: &mut Stats, replies: &mut Replies, out: &mut Outbox) {
        stats.dirty = stats.dirty.saturating_sub(self.dirty_at_start);
        self.lastsave_ms = now_ms;
        self.last_duration_ms = now_ms.saturating_sub(self.started_ms);
        self.saves += 1;
        self.done_generation = self.generation;
        if self.background {
            self.last_bgsave_ok = true;
        }
        let generation = self.generation;
        replies.snapshot_done(generation, None);
        out.notice(format!("DB saved on disk (snapshot {generation})"));
    }

    /// `true` if it was the shutdown's final save: as Redis, the shutdown then does not exit.
    fn failed(&mut self, error: &IoError, replies: &mut Replies, out: &mut Outbox) -> bool {
        if self.background {
            self.last_bgsave_ok = false;
        }
        let generation = self.generation;
        let final_save_failed = self.final_save == Some(generation);
        if final_save_failed {
            self.final_save = None;
            out.warn("Error trying to save the DB, can't exit.".to_string());
        }
        let frame = Frame::error(format!("ERR Error saving DB on disk: {}", error.message));
        replies.snapshot_done(generation, Some(&frame));
        out.warn(format!("Background saving error: {}", error.message));
        final_save_failed
    }

    /// Whether another snapshot was asked for while this one ran (and forget the request).
    pub(crate) fn take_again(&mut self) -> bool {
        std::mem::take(&mut self.again)
    }

    /// Cron: a save point is due when enough changes happened and more than its seconds passed
    /// since the last save (strictly, as Redis), and the last BGSAVE succeeded or 5 s passed.
    pub(crate) fn save_point_due(
        &self,
        now_ms: u64,
        config: &Config,
        dirty: u64,
    ) -> Option<SavePoint> {
        if self.in_progress() {
            return None;
        }
        let since_s = now_ms.saturating_sub(self.lastsave_ms) / 1000;
        let may_retry =
            self.last_bgsave_ok || now_ms.saturating_sub(self.last_try_ms) > BGSAVE_RETRY_MS;
        let due = config
            .save_points
            .iter()
            .find(|p| dirty >= p.changes && since_s > p.seconds);
        due.copied().filter(|_| may_retry)
    }

    /// The MISCONF message when the last BGSAVE failed and writes must stop.
    pub(crate) fn refusal(&self, config: &Config) -> Option<String> {
        let stop = config.stop_writes_on_bgsave_error && !config.save_points.is_empty();
        (stop && !self.last_bgsave_ok).then(|| {
            "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. \
             Commands that may modify the data set are disabled, because this instance is configured to report \
             errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check \
             the Redis logs for details about the RDB error."
                .to_string()
        })
    }

    /// The final save's state at shutdown: `Some(true)` when it is done, `Some(false)` while it
    /// (or another snapshot) runs, `None` when it must start now.
    pub(crate) fn final_save_done(&self) -> Option<bool> {
        match self.final_save {
            Some(generation) => Some(self.done_generation >= generation),
            None if self.in_progress() => Some(false),
            None => None,
        }
    }

    pub(crate) fn set_final_save(&mut self, generation: u64) {
        self.final_save = Some(generation);
    }
}
