//! The AOF writer: the log of the current incr file, the manifest naming the AOF's files, and
//! the one slot for a file procedure (opening the AOF at start, a switch to a new incr file, a
//! rewrite's second half, enabling the AOF, making `dump.rdb` durable at start).
//!
//! Owns `log`, `manifest`, the procedure slot and the pending switch. Invariants:
//! - at most one procedure runs at a time, and its steps run strictly one after another (see
//!   `procedure.rs`), so files reach their names only by temp → fsync → rename → dir fsync;
//! - a switch starts only when no append and no foreground fsync is in flight, and what is
//!   buffered goes to the old file first: every record lands in exactly one file;
//! - an incr file becomes non-last only after it is durable (unless a mutation says otherwise),
//!   so a torn tail can only ever be in the last file;
//! - a completion of an append or fsync the log did not issue is a bug (`assert!`).

use crate::aof::checksum::Running;
use crate::aof::manifest::{self, AofFile, FileKind, Manifest};
use crate::config::{Config, Mutation};
use crate::io::{join, IoDone, IoError, IoResult, Lane, Op, Owner, ViewFormat};
use crate::keyspace::Keyspace;

use super::aof_log::AofLog;
use super::outbox::Outbox;
use super::procedure::{self, persist_manifest, step, Procedure, Purpose, Step};
use super::replies::Replies;
use super::stats::Stats;

/// Temp name of a base written from memory (at start-up or when enabling), in `dir` as Redis.
const TEMP_BASE: &str = "temp-rewriteaof-durakv.aof";

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct AofWriter {
    /// The log of the current incr file, while the AOF is on.
    pub(crate) log: Option<AofLog>,
    /// The manifest as it is durable on disk (or about to be, once the procedure finishes).
    pub(crate) manifest: Option<Manifest>,
    pub(crate) procedure: Option<Procedure>,
    /// A switch to a new incr file is wanted: appends wait until it starts.
    pub(crate) rotate_pending: bool,
    /// The pending switch is a rewrite's: it takes the view of the data set in its first step.
    pub(crate) rotate_takes_view: bool,
    /// The lowest sequence number a new AOF period may use: one past every base and incr a
    /// manifest of this run named, kept when the AOF is turned off so `CONFIG SET appendonly
    /// yes` never re-creates (truncates) a file the durable manifest still names.
    pub(crate) seq_floor: u64,
}

/// How a procedure's step ended, for the router to act on.
pub(crate) enum StepEnd {
    Running,
    Finished {
        purpose: Purpose,
        view_len: u64,
    },
    Failed {
        purpose: Purpose,
        error: IoError,
        /// The failed step was the fsync of the old incr file (it credits the log).
        was_log_fsync: bool,
        /// Steps that had completed before it.
        done: usize,
    },
}

impl AofWriter {
    /// The sticky AOF error, if any.
    pub(crate) fn error(&self) -> Option<&IoError> {
        self.log
            .as_ref()
            .and_then(|l| l.failure.as_ref())
            .map(|f| &f.error)
    }

    /// Whether a switch to a new incr file is under way.
    pub(crate) fn is_rotating(&self) -> bool {
        self.rotate_pending
            || self
                .procedure
                .as_ref()
                .is_some_and(|p| matches!(p.purpose, Purpose::Rotate { .. }))
    }

    /// Whether `CONFIG SET appendonly yes` is still writing the AOF's first files.
    pub(crate) fn is_enabling(&self) -> bool {
        (self.procedure.as_ref()).is_some_and(|p| matches!(p.purpose, Purpose::Enable { .. }))
    }

    /// `offset_written` of the log, 0 without one.
    pub(crate) fn offset_written(&self) -> u64 {
        self.log.as_ref().map_or(0, |l| l.offset_written)
    }

    /// Starts `procedure` in the slot; `Some` with its purpose if it had no step at all.
    pub(crate) fn run_procedure(
        &mut self,
        mut procedure: Procedure,
        out: &mut Outbox,
    ) -> Option<(Purpose, u64)> {
        if procedure.advance(Owner::Procedure, out) {
            self.procedure = Some(procedure);
            None
        } else {
            Some((procedure.purpose, procedure.view_len))
        }
    }

    /// The step in flight completed: go on, or report how the procedure ended.
    pub(crate) fn handle_procedure_io(&mut self, result: IoResult, out: &mut Outbox) -> StepEnd {
        let mut procedure = self.procedure.take().expect("procedure in flight");
        let (_, credits) = procedure.inflight.take().expect("step in flight");
        if let IoResult::Failed(error) = result {
            return StepEnd::Failed {
                purpose: procedure.purpose,
                error,
                was_log_fsync: credits.is_some(),
                done: procedure.done,
            };
        }
        if let (Some(end), Some(log)) = (credits, &mut self.log) {
            if end > log.offset_written {
                // The append this fsync was queued to cover failed (it ran first on the same
                // lane, and its failure made the log sticky-failed): only what was written is
                // durable, and the procedure must stop here — a rotation that went on would
                // make a file with a torn tail non-last.
                log.credit_durable(log.offset_written);
                let failure = log.failure.as_ref();
                let error = failure
                    .expect("a failed append fails the log")
                    .error
                    .clone();
                return StepEnd::Failed {
                    purpose: procedure.purpose,
                    error,
                    was_log_fsync: false,
                    done: procedure.done,
                };
            }
            log.credit_durable(end);
        }
        procedure.done += 1;
        if let IoResult::Written { len } = result {
            procedure.view_len = len;
        }
        match self.run_procedure(procedure, out) {
            None => StepEnd::Running,
            Some((purpose, view_len)) => StepEnd::Finished { purpose, view_len },
        }
    }

    /// The start-up procedure finished: append to `path` from now on.
    pub(crate) fn opened(
        &mut self,
        config: &Config,
        manifest: Manifest,
        path: String,
        len: u64,
        crc: Running,
        now_ms: u64,
    ) {
        let log = AofLog::open(config.appendfsync, config.mutation, path, len, crc, now_ms);
        self.log = Some(log);
        self.manifest = Some(manifest);
    }

    /// The switch finished: appends go to `path`, which starts at log offset `file_base`.
    pub(crate) fn rotated(
        &mut self,
        manifest: Manifest,
        path: &str,
        file_base: u64,
        stats: &mut Stats,
        out: &mut Outbox,
    ) {
        let log = self.log.as_mut().expect("log open");
        log.path = path.to_string();
        log.file_base = file_base;
        log.file_len_at_open = 0;
        log.crc = Running::new();
        log.paused = false;
        self.manifest = Some(manifest);
        stats.rotations += 1;
        out.notice(format!("Switched AOF appends to {path}"));
    }

    /// The switch failed: appends resume in the old file; a failed fsync of it is the log's.
    pub(crate) fn rotation_failed(
        &mut self,
        error: IoError,
        was_log_fsync: bool,
        now_ms: u64,
        replies: &mut Replies,
        out: &mut Outbox,
    ) {
        let log = self.log.as_mut().expect("log open");
        log.paused = false;
        if was_log_fsync {
            let frame = log.fail(error.clone(), true, now_ms);
            replies.fail_waiting(&frame);
        }
        out.warn(format!(
            "Could not switch to a new AOF incr file: {}",
            error.message
        ));
    }

    /// The switch's last step, the directory fsync after the manifest naming the new file was
    /// renamed in, failed: the switch stands (a crash may keep the new manifest, and then the
    /// old file is not last), but nothing may be appended to the new file before a directory
    /// fsync succeeds: the log fails (MISCONF) and its retry redoes that fsync.
    pub(crate) fn rotation_unsynced(
        &mut self,
        error: IoError,
        dir: String,
        now_ms: u64,
        replies: &mut Replies,
        out: &mut Outbox,
    ) {
        let log = self.log.as_mut().expect("log open");
        let message = format!("Error fsyncing the AOF directory: {}", error.message);
        let frame = log.fail_dir(error, dir, now_ms);
        replies.fail_waiting(&frame);
        out.warn(message);
    }

    /// Rotation starts once no append or foreground fsync is in flight; what is buffered goes
    /// to the old file first, so every record lands in exactly one file.
    pub(crate) fn try_start_rotation(
        &mut self,
        keyspace: &Keyspace,
        config: &Config,
        out: &mut Outbox,
    ) {
        let Some(log) = &mut self.log else { return };
        let lane_busy =
            log.append.is_some() || (log.fsync.is_some() && log.fsync_lane == Lane::Log);
        if !self.rotate_pending || self.procedure.is_some() || log.failure.is_some() || lane_busy {
            return;
        }
        self.rotate_pending = false;
        if !log.buf.is_empty() {
            log.force_append(out);
        }
        let end = log.offset_logged;
        let old = log.path.clone();
        log.selected_db = None;
        log.paused = true;
        // The view and the switch happen in this one step: every write before it is in the
        // view, every write after it goes to the new incr file.
        let view = std::mem::take(&mut self.rotate_takes_view).then(|| keyspace.clone());
        let mut manifest = self.manifest.clone().expect("manifest loaded");
        let (path, steps) = rotation_steps(config, &mut manifest, old, end);
        out.notice(format!("Starting a new AOF incr file {path}"));
        let purpose = Purpose::Rotate {
            manifest,
            path,
            file_base: end,
            view,
            // The manifest's directory fsync is the last step.
            steps_to_manifest: steps.len() - 1,
        };
        let mut procedure = Procedure::new(purpose, steps);
        procedure.advance(Owner::Procedure, out);
        self.procedure = Some(procedure);
    }

    /// A log append, log fsync or retry truncate completed.
    pub(crate) fn handle_log_io(
        &mut self,
        now_ms: u64,
        done: IoDone,
        replies: &mut Replies,
        out: &mut Outbox,
    ) {
        let log = self.log.as_mut().expect("log io without a log");
        let failed = match done.result {
            IoResult::Failed(e) => Some(e),
            _ => None,
        };
        let retrying = log.failure.as_ref().and_then(|f| f.retrying) == Some(done.id);
        if retrying {
            log.retry_done(failed.is_none(), now_ms);
            if failed.is_none() {
                out.notice("AOF write error looks solved, durakv can write again.".to_string());
            }
            return;
        }
        let is_append = log.append.as_ref().is_some_and(|a| a.id == done.id);
        let is_fsync = log.fsync.as_ref().is_some_and(|f| f.id == done.id);
        assert!(
            is_append || is_fsync,
            "completion of unknown effect {:?}",
            done.id
        );
        // A background fsync can still be queued on the sync lane when a switch to a new incr
        // file fsyncs the old one itself and a rewrite then deletes it: the late fsync finds no
        // file. Everything it covered is already durable, so its ENOENT is no failure (only
        // that case: any other error, or ENOENT for bytes not yet durable, stays sticky).
        let superseded = log
            .fsync
            .as_ref()
            .is_some_and(|f| f.end <= log.offset_durable);
        let failed = failed.filter(|e| !(is_fsync && superseded && e.kind == "ENOENT"));
        match failed {
            None if is_append => assert!(log.append_done(done.id)),
            None => assert!(log.fsync_done(done.id)),
            Some(error) => {
                if is_append {
                    log.append = None;
                } else {
                    log.fsync = None;
                }
                let what = if is_append { "writing to" } else { "fsyncing" };
                let message = format!("Error {what} the AOF file: {}", error.message);
                let frame = log.fail(error, is_fsync, now_ms);
                replies.fail_waiting(&frame);
                out.warn(message);
                return;
            }
        }
        if is_append {
            log.maybe_background_fsync(now_ms, false, out);
        }
    }

    /// End of a turn: issue the write (and fsync) the policy allows, unless a switch holds
    /// appends back so the one in flight drains and the switch can start.
    pub(crate) fn flush(&mut self, now_ms: u64, suspended: bool, out: &mut Outbox) {
        let Some(log) = &mut self.log else { return };
        log.suspended = suspended;
        if self.rotate_pending {
            return;
        }
        if let Some(note) = log.flush(now_ms, out) {
            out.warn(note);
        }
    }

    /// The clock moved: an everysec fsync when idle, a retry after a failure.
    pub(crate) fn handle_timeout(&mut self, now_ms: u64, out: &mut Outbox) {
        if let Some(log) = &mut self.log {
            log.maybe_background_fsync(now_ms, true, out);
            log.start_retry(now_ms, out);
        }
    }

    /// Writes and fsyncs everything logged. `true` once the log is durable (or has failed).
    pub(crate) fn drain(&mut self, out: &mut Outbox) -> bool {
        let Some(log) = &mut self.log else {
            return true;
        };
        if let Some(failure) = &log.failure {
            out.warn(format!(
                "Could not persist the AOF before exit: {}",
                failure.error.message
            ));
            return true;
        }
        if log.append.is_some() || log.fsync.is_some() || self.procedure.is_some() {
            return false;
        }
        if !log.buf.is_empty() {
            log.force_append(out);
            return false;
        }
        if log.offset_durable < log.offset_written {
            log.force_fsync(out);
            return false;
        }
        true
    }

    /// The AOF is off: forget the log and the manifest.
    pub(crate) fn close(&mut self) {
        if let Some(m) = &self.manifest {
            let next = m.next_base_seq().max(m.next_incr_seq());
            self.seq_floor = self.seq_floor.max(next);
        }
        (self.log, self.manifest) = (None, None);
    }
}

/// The steps of a switch from `old` (logged up to `end`) to a new incr file added to
/// `manifest`: make the old file durable, create the new one, persist the manifest.
fn rotation_steps(
    config: &Config,
    manifest: &mut Manifest,
    old: String,
    end: u64,
) -> (String, Vec<Step>) {
    let mut steps = Vec::new();
    let redis_order = matches!(
        config.mutation,
        Mutation::RotateBeforeOldDurable | Mutation::TruncateTornNonLast
    );
    if !redis_order {
        steps.push(Step {
            lane: Lane::Log,
            op: Op::Fsync { path: old },
            credits_durable: Some(end),
        });
    }
    let seq = manifest.next_incr_seq();
    let name = manifest::incr_name(&config.appendfilename, seq);
    let path = join(&config.appenddirname, &name);
    manifest.incrs.push(AofFile {
        name,
        seq,
        kind: FileKind::Incr,
    });
    steps.push(step(Op::Create { path: path.clone() }));
    steps.extend(persist_manifest(
        &config.appenddirname,
        &config.appendfilename,
        manifest,
    ));
    (path, steps)
}

/// A base of `view` (the data set now), written beside and renamed in as base `seq`, which
/// becomes the base of `manifest`.
pub(crate) fn base_steps(
    config: &Config,
    manifest: &mut Manifest,
    seq: u64,
    view: &Keyspace,
    now_ms: u64,
    out: &mut Outbox,
) -> Vec<Step> {
    let prefix = &config.appendfilename;
    let rdb = config.aof_use_rdb_preamble;
    let name = manifest::base_name(prefix, seq, rdb);
    let format = if rdb {
        ViewFormat::Rdb { aof_base: true }
    } else {
        ViewFormat::Resp
    };
    out.notice(format!("Creating AOF base file {name}"));
    manifest.base = Some(AofFile {
        name: name.clone(),
        seq,
        kind: FileKind::Base,
    });
    let mut steps = procedure::write_view(TEMP_BASE, view.clone(), format, now_ms);
    steps.push(step(Op::Rename {
        from: TEMP_BASE.to_string(),
        to: join(&config.appenddirname, &name),
    }));
    steps
}
