//! The AOF log of the current incr file: buffering records, issuing writes and fsyncs under
//! each `appendfsync` policy, and accounting what is written and what is durable. Part of the
//! AOF writer (`aof_writer.rs`), which owns it.
//!
//! Owns the offsets of the current run's log. Offsets are logical (bytes logged since the engine
//! started, across incr files), so reply requirements survive a switch to a new incr file.
//! Invariants: `offset_durable <= offset_written <= offset_logged`; at most one append and at
//! most one fsync are in flight (group commit: bytes logged meanwhile wait in `buf` and leave in
//! the next single write); a failure is sticky until a retry has rewritten the suspect bytes;
//! every append ends with a checksum line (`aof::checksum`) vouching for the bytes since the
//! previous one, so a retry that rewrites whole appends rewrites their lines with them.

use bytes::Bytes;

use crate::aof::checksum::Running;
use crate::config::{FsyncPolicy, Mutation};
use crate::io::{EffectId, IoError, Lane, Op, Owner};
use crate::resp::Frame;

use super::outbox::Outbox;
use super::replies::Need;
use super::retained::Retained;
use super::timers::{Timer, TimerTable};

/// Largest capacity a fresh log buffer is given up front (the size of the batch before it).
const NEXT_BUF_BYTES_MAX: usize = 1 << 20;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Inflight {
    pub(crate) id: EffectId,
    /// Logical offset the operation covers up to.
    pub(crate) end: u64,
}

/// A failed write or fsync, and where a retry must restart from.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Failure {
    pub(crate) error: IoError,
    /// Logical offset known good on disk: the retry truncates the file back to it.
    pub(crate) good: u64,
    pub(crate) retry_at_ms: u64,
    /// The truncate of a retry is in flight.
    pub(crate) retrying: Option<EffectId>,
    /// The failed operation was this directory's fsync (no byte of the log is suspect): the
    /// retry redoes it instead of truncating.
    pub(crate) dir: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct AofLog {
    pub(crate) policy: FsyncPolicy,
    pub(crate) mutation: Mutation,
    /// Path of the incr file being appended to.
    pub(crate) path: String,
    /// Logical offset of the current file's first byte written this run, and the file's length
    /// then: together they map logical offsets to file offsets.
    pub(crate) file_base: u64,
    pub(crate) file_len_at_open: u64,
    /// Database the last record was logged in; `None` forces a SELECT (each incr file starts
    /// with one).
    pub(crate) selected_db: Option<usize>,
    pub(crate) buf: Vec<u8>,
    /// `buf[..buf_sealed]` are whole appends requeued by a retry, checksum lines included.
    pub(crate) buf_sealed: usize,
    /// Digest of the file's bytes after its last checksum line that are written or requeued:
    /// what the loader found at the end of the file when it was opened, else nothing.
    pub(crate) crc: Running,
    /// Bytes after `retained_base()`, kept to rewrite them if a write or fsync fails (after a
    /// failed fsync the page cache may have dropped them). Under `no`, only the in-flight append.
    pub(crate) retained: Retained,
    pub(crate) offset_logged: u64,
    pub(crate) offset_written: u64,
    pub(crate) offset_durable: u64,
    pub(crate) append: Option<Inflight>,
    pub(crate) fsync: Option<Inflight>,
    pub(crate) fsync_lane: Lane,
    pub(crate) postponed_since_ms: Option<u64>,
    pub(crate) fsync_last_s: u64,
    pub(crate) delayed_fsync: u64,
    pub(crate) failure: Option<Failure>,
    /// A rotation or repair owns the file: no appends until it finishes.
    pub(crate) paused: bool,
    /// `no-appendfsync-on-rewrite` with a rewrite or snapshot running: write, do not fsync.
    pub(crate) suspended: bool,
}

impl AofLog {
    pub(crate) fn open(
        policy: FsyncPolicy,
        mutation: Mutation,
        path: String,
        file_len: u64,
        crc: Running,
        now_ms: u64,
    ) -> Self {
        AofLog {
            policy,
            mutation,
            path,
            file_base: 0,
            file_len_at_open: file_len,
            selected_db: None,
            buf: Vec::new(),
            buf_sealed: 0,
            crc,
            retained: Retained::default(),
            offset_logged: 0,
            offset_written: 0,
            offset_durable: 0,
            append: None,
            fsync: None,
            fsync_lane: Lane::Log,
            postponed_since_ms: None,
            fsync_last_s: now_ms / 1000,
            delayed_fsync: 0,
            failure: None,
            paused: false,
            suspended: false,
        }
    }

    /// Appends one command, preceded by a SELECT when the database changes.
    pub(crate) fn log(&mut self, db: usize, argv: &[Bytes]) {
        if self.selected_db != Some(db) {
            let select = [Bytes::from_static(b"SELECT"), Bytes::from(db.to_string())];
            crate::aof::record::encode(&select, &mut self.buf);
            self.selected_db = Some(db);
        }
        crate::aof::record::encode(argv, &mut self.buf);
        self.offset_logged = self.offset_written + self.in_flight_bytes() + self.buf.len() as u64;
    }

    fn in_flight_bytes(&self) -> u64 {
        self.append
            .as_ref()
            .map_or(0, |a| a.end - self.offset_written)
    }

    /// What a reply executed now must wait for.
    pub(crate) fn need_now(&self) -> Need {
        if self.failure.is_some() {
            // Writes are refused while failed and earlier replies were failed: what is served
            // now (reads) waits on nothing, as Redis keeps serving reads under MISCONF.
            return Need::Nothing;
        }
        match self.policy {
            FsyncPolicy::Always
                if self.mutation != Mutation::ReplyBeforeFsync && !self.suspended =>
            {
                Need::Durable(self.offset_logged)
            }
            _ => Need::Written(self.offset_logged),
        }
    }

    pub(crate) fn file_offset(&self, logical: u64) -> u64 {
        assert!(logical >= self.file_base);
        self.file_len_at_open + (logical - self.file_base)
    }

    /// Issues the next write (and, under `always`, its fsync) if the policy allows it now.
    pub(crate) fn flush(&mut self, now_ms: u64, out: &mut Outbox) -> Option<String> {
        if self.failure.is_some() || self.paused || self.append.is_some() {
            return None;
        }
        if self.buf.is_empty() {
            // Under `always`, what was written while fsyncs were suspended is fsynced now.
            let owed = self.offset_durable < self.offset_written && self.fsync.is_none();
            if self.policy == FsyncPolicy::Always && !self.suspended && owed {
                self.issue_fsync(Lane::Log, self.offset_written, out);
            }
            return None;
        }
        let mut note = None;
        match self.policy {
            FsyncPolicy::Always if self.fsync.is_some() => return None,
            FsyncPolicy::Everysec if self.fsync.is_some() => {
                let since = *self.postponed_since_ms.get_or_insert(now_ms);
                if now_ms < Timer::AofWrite.after(since) {
                    return None;
                }
                self.delayed_fsync += 1;
                note = Some(
                    "Asynchronous AOF fsync is taking too long (disk is busy?). Writing the AOF \
                     buffer without waiting for fsync to complete."
                        .to_string(),
                );
            }
            _ => {}
        }
        self.postponed_since_ms = None;
        self.issue_append(out);
        if self.policy == FsyncPolicy::Always && !self.suspended {
            self.issue_fsync(Lane::Log, self.offset_logged, out);
        }
        note
    }

    /// Rotation: send what is buffered to the current file now, whatever the policy's timing.
    pub(crate) fn force_append(&mut self, out: &mut Outbox) {
        assert!(self.append.is_none());
        self.postponed_since_ms = None;
        self.issue_append(out);
    }

    /// Shutdown: fsync everything written, whatever the policy.
    pub(crate) fn force_fsync(&mut self, out: &mut Outbox) {
        self.issue_fsync(Lane::Log, self.offset_written, out);
    }

    /// Ends the buffered records with the checksum line covering them (and, on the first write
    /// after opening a file, whatever followed the file's last line).
    fn seal(&mut self) {
        let fresh = &self.buf[self.buf_sealed..];
        if !fresh.is_empty() {
            self.crc.write(fresh);
            let line = self.crc.line();
            self.buf.extend_from_slice(&line);
            self.crc = Running::new();
        }
        self.buf_sealed = 0;
    }

    fn issue_append(&mut self, out: &mut Outbox) {
        self.seal();
        // The next batch is likely about as large as this one: sized once, the buffer is not
        // grown by doubling (a realloc and a copy of everything so far at each step) while the
        // next batch's records are logged. Capped so one huge batch does not pin its size.
        let next = Vec::with_capacity(self.buf.len().min(NEXT_BUF_BYTES_MAX));
        let bytes = Bytes::from(std::mem::replace(&mut self.buf, next));
        let end = self.offset_written + bytes.len() as u64;
        self.offset_logged = end;
        // Kept until durable as the same buffer the append writes: no second copy.
        self.retained.push(bytes.clone());
        let id = out.emit(
            Owner::AofLog,
            Lane::Log,
            Op::Append {
                path: self.path.clone(),
                bytes,
            },
        );
        self.append = Some(Inflight { id, end });
    }

    fn issue_fsync(&mut self, lane: Lane, end: u64, out: &mut Outbox) {
        assert!(self.fsync.is_none());
        let id = out.emit(
            Owner::AofLog,
            lane,
            Op::Fsync {
                path: self.path.clone(),
            },
        );
        self.fsync = Some(Inflight { id, end });
        self.fsync_lane = lane;
    }

    /// Everysec: start a background fsync if data is unsynced and a second has passed since
    /// the last one. `from_timer` is the idle path (no new write).
    pub(crate) fn maybe_background_fsync(
        &mut self,
        now_ms: u64,
        from_timer: bool,
        out: &mut Outbox,
    ) {
        if self.policy != FsyncPolicy::Everysec
            || self.failure.is_some()
            || self.paused
            || self.suspended
        {
            return;
        }
        if from_timer && self.mutation == Mutation::EverysecFsyncOnlyOnWrite {
            return;
        }
        if self.fsync.is_none()
            && self.offset_written > self.offset_durable
            && now_ms >= Timer::AofFsync.after(self.fsync_last_s * 1000)
        {
            self.fsync_last_s = now_ms / 1000;
            self.issue_fsync(Lane::Sync, self.offset_written, out);
        }
    }

    /// Arms what the log needs the clock for: a retry after a failure, else (everysec) a
    /// postponed write and an idle fsync.
    pub(crate) fn arm_timers(&self, timers: &mut TimerTable) {
        if let Some(failure) = &self.failure {
            if failure.retrying.is_none() {
                timers.set(Timer::AofRetry, failure.retry_at_ms);
            }
            return;
        }
        if self.policy != FsyncPolicy::Everysec {
            return;
        }
        if let Some(since) = self.postponed_since_ms {
            timers.set(Timer::AofWrite, Timer::AofWrite.after(since));
        }
        let idle_fsync_due = self.fsync.is_none()
            && self.offset_written > self.offset_durable
            && self.mutation != Mutation::EverysecFsyncOnlyOnWrite;
        if idle_fsync_due {
            let at = Timer::AofFsync.after(self.fsync_last_s * 1000);
            timers.set(Timer::AofFsync, at);
        }
    }

    /// Logical offset of `retained[0]`.
    fn retained_base(&self) -> u64 {
        if self.policy == FsyncPolicy::No {
            self.offset_written
        } else {
            self.offset_durable
        }
    }

    /// An append completed.
    pub(crate) fn append_done(&mut self, id: EffectId) -> bool {
        match &self.append {
            Some(a) if a.id == id => {
                self.offset_written = a.end;
                self.append = None;
                if self.policy == FsyncPolicy::No {
                    // Under `no` only the in-flight append is retained (to requeue on failure).
                    self.retained.clear();
                }
                true
            }
            _ => false,
        }
    }

    pub(crate) fn fsync_done(&mut self, id: EffectId) -> bool {
        match &self.fsync {
            Some(f) if f.id == id => {
                // The fsync queued behind an append that failed covers only what was written.
                let end = f.end.min(self.offset_written);
                self.fsync = None;
                self.credit_durable(end);
                true
            }
            _ => false,
        }
    }

    /// Everything up to `end` is durable.
    pub(crate) fn credit_durable(&mut self, end: u64) {
        assert!(end <= self.offset_written);
        if end > self.offset_durable {
            let drop = ((end - self.offset_durable) as usize).min(self.retained.len());
            self.retained.drop_front(drop);
            self.offset_durable = end;
        }
    }

    /// A write or fsync failed: become sticky-failed and tell the caller the reply to give.
    pub(crate) fn fail(&mut self, error: IoError, during_fsync: bool, now_ms: u64) -> Frame {
        // After a failed fsync the kernel may have dropped the dirty pages and a later fsync
        // would not write them: only what an earlier fsync confirmed is known good. After a
        // failed write, everything written before it is still good (only the append is cut).
        // Under `no` only the in-flight append is retained (the log never fsyncs on its own, so
        // keeping everything since the last fsync would grow without bound): a failed fsync
        // (at shutdown or a switch) cannot rewrite what it may have dropped, and a later power
        // loss can leave a hole there. What `no` promises allows losing it; a panic it does not.
        let good = if during_fsync {
            self.offset_durable.max(self.retained_base())
        } else {
            self.offset_written
        };
        let message = format!("MISCONF Errors writing to the AOF file: {}", error.message);
        self.failure = Some(Failure {
            error,
            good,
            retry_at_ms: Timer::AofRetry.after(now_ms),
            retrying: None,
            dir: None,
        });
        Frame::Error(message)
    }

    /// A directory fsync the current file depends on failed (see `rotation_unsynced`): sticky
    /// like any failure, every byte written is still good, and the retry redoes that fsync.
    pub(crate) fn fail_dir(&mut self, error: IoError, dir: String, now_ms: u64) -> Frame {
        let frame = self.fail(error, false, now_ms);
        if let Some(failure) = &mut self.failure {
            failure.dir = Some(dir);
        }
        frame
    }

    /// Retry after a failure: truncate the file back to the known-good offset.
    pub(crate) fn start_retry(&mut self, now_ms: u64, out: &mut Outbox) {
        let inflight = self.append.is_some() || self.fsync.is_some();
        let Some(failure) = &self.failure else { return };
        if failure.retrying.is_some() || now_ms < failure.retry_at_ms || inflight {
            return;
        }
        if self.mutation == Mutation::RetryWithoutRewrite {
            // Trust the page cache and carry on, as if the failure had not happened.
            self.failure = None;
            return;
        }
        let op = match &failure.dir {
            Some(dir) => Op::FsyncDir { path: dir.clone() },
            None => Op::Truncate {
                path: self.path.clone(),
                len: self.file_offset(failure.good.max(self.file_base)),
            },
        };
        let id = out.emit(Owner::AofLog, Lane::Log, op);
        if let Some(failure) = &mut self.failure {
            failure.retrying = Some(id);
        }
    }

    /// The retry's truncate finished: requeue the bytes after the good offset and resume.
    pub(crate) fn retry_done(&mut self, ok: bool, now_ms: u64) {
        let Some(failure) = self.failure.take() else {
            return;
        };
        if !ok {
            self.failure = Some(Failure {
                retrying: None,
                retry_at_ms: Timer::AofRetry.after(now_ms),
                ..failure
            });
            return;
        }
        let good = failure.good.max(self.file_base);
        assert!(
            good >= self.retained_base(),
            "the retained bytes cover the retry"
        );
        let keep_from = (good - self.retained_base()) as usize;
        let mut requeued = self.retained.split_off(keep_from.min(self.retained.len()));
        self.buf_sealed = requeued.len();
        requeued.extend_from_slice(&self.buf);
        self.buf = requeued;
        self.offset_written = good;
        self.offset_durable = self.offset_durable.min(good);
    }
}
