//! AOF rewrite: BGREWRITEAOF, automatic rewrite, and `no-appendfsync-on-rewrite`.
//!
//! A rewrite is a rotation (see `lifecycle.rs`: the old incr file is made durable, a new one is
//! created and named by a durable manifest) whose switch step also takes the O(1) view of the
//! data set; then the base is written from that view on the worker lane, fsynced, renamed into
//! the AOF directory; then the manifest naming the new base (the replaced files as history) goes
//! temp → fsync → rename → directory fsync; only then are the replaced files deleted and the
//! manifest persisted without them. Invariant: at every step, the durable manifest names a
//! complete, durable set of files whose replay is a prefix of the applied writes.

use super::procedure::{persist_manifest, step, write_view, Procedure, Purpose};
use super::*;

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct Rewrites {
    /// The next rotation must take a view for a rewrite.
    pub(crate) wants_view: bool,
    pub(crate) in_progress: bool,
    pub(crate) started_ms: u64,
    pub(crate) last_ok: bool,
    pub(crate) count: u64,
    pub(crate) last_duration_ms: u64,
    pub(crate) failures_consecutive: u64,
    /// `aof_base_size`: the AOF's size after the last rewrite (or at load).
    pub(crate) base_size: u64,
    /// `aof_current_size` when the last rewrite finished or the AOF loaded, before `written_at`.
    pub(crate) size_at: u64,
    /// Log offset at which `size_at` was measured.
    pub(crate) written_at: u64,
}

impl Engine {
    /// BGREWRITEAOF. `Err` is Redis's reply when it cannot start.
    pub(super) fn start_rewrite(&mut self, now_ms: u64) -> Result<(), Frame> {
        if self.rewrites.in_progress {
            return Err(Frame::error(
                "ERR Background append only file rewriting already in progress",
            ));
        }
        if self.log.is_none() || self.phase != Phase::Running {
            return Err(Frame::error(
                "ERR durakv rewrites the AOF only while appendonly is yes",
            ));
        }
        self.rewrites.in_progress = true;
        self.rewrites.wants_view = true;
        self.rewrites.started_ms = now_ms;
        self.rotate_pending = true;
        self.notice("Background append only file rewriting started".to_string());
        Ok(())
    }

    /// After the switch to the new incr file: write the base from `view`, then swap manifests.
    pub(super) fn start_rewrite_base(&mut self, view: Keyspace, incr_start: u64, now_ms: u64) {
        let (dir, prefix) = (
            self.config.appenddirname.clone(),
            self.config.appendfilename.clone(),
        );
        let old = self.manifest.clone().expect("manifest loaded");
        let seq = old.next_base_seq();
        let rdb = self.config.aof_use_rdb_preamble;
        let name = manifest::base_name(&prefix, seq, rdb);
        let temp = format!("temp-rewriteaof-bg-{seq}.aof");
        let format = if rdb {
            ViewFormat::Rdb { aof_base: true }
        } else {
            ViewFormat::Resp
        };
        let (with_history, without_history) = swap_manifests(
            &old,
            AofFile {
                name: name.clone(),
                seq,
                kind: FileKind::Base,
            },
        );
        let mut steps = write_view(&temp, view, format, now_ms);
        steps.push(step(Op::Rename {
            from: temp,
            to: join(&dir, &name),
        }));
        let deletes: Vec<Step> = with_history
            .history
            .iter()
            .map(|f| {
                step(Op::Delete {
                    path: join(&dir, &f.name),
                })
            })
            .collect();
        if self.config.mutation == Mutation::DeleteHistoryFirst {
            steps.extend(deletes.iter().cloned());
        }
        steps.extend(persist_manifest(&dir, &prefix, &with_history));
        let steps_to_manifest = steps.len() - 1;
        if self.config.mutation != Mutation::DeleteHistoryFirst {
            steps.extend(deletes);
        }
        steps.extend(persist_manifest(&dir, &prefix, &without_history));
        let purpose = Purpose::Rewrite {
            with_history,
            without_history,
            steps_to_manifest,
            incr_start,
        };
        self.run_procedure(Procedure::new(purpose, steps), now_ms);
    }

    pub(super) fn rewrite_done(
        &mut self,
        manifest: Manifest,
        base_len: u64,
        incr_start: u64,
        now_ms: u64,
    ) {
        self.manifest = Some(manifest);
        let written = self.log.as_ref().map_or(0, |l| l.offset_written);
        let rw = &mut self.rewrites;
        rw.in_progress = false;
        rw.last_ok = true;
        rw.count += 1;
        rw.failures_consecutive = 0;
        rw.last_duration_ms = now_ms.saturating_sub(rw.started_ms);
        rw.size_at = base_len + written.saturating_sub(incr_start);
        rw.written_at = written;
        rw.base_size = rw.size_at;
        self.notice("Background AOF rewrite finished successfully".to_string());
    }

    /// The rewrite stopped; `durable` is the manifest that had become durable, if any.
    pub(super) fn rewrite_failed(&mut self, error: &IoError, durable: Option<Manifest>) {
        if let Some(manifest) = durable {
            // The new base is in place; only removing the replaced files failed. They stay
            // listed as history and are deleted at the next start.
            self.manifest = Some(manifest);
        }
        let rw = &mut self.rewrites;
        (rw.in_progress, rw.wants_view, rw.last_ok) = (false, false, false);
        rw.failures_consecutive += 1;
        self.warn(format!("Background AOF rewrite failed: {}", error.message));
    }

    /// `aof_current_size`.
    pub(super) fn aof_size(&self) -> u64 {
        let written = self.log.as_ref().map_or(0, |l| l.offset_written);
        self.rewrites.size_at + written.saturating_sub(self.rewrites.written_at)
    }

    /// Cron: rewrite when the AOF grew by the percentage over its size after the last rewrite
    /// and is over the minimum size (Redis's auto-aof-rewrite-*).
    pub(super) fn auto_rewrite_due(&mut self, now_ms: u64) {
        let pct = self.config.auto_aof_rewrite_percentage;
        if pct == 0
            || self.rewrites.in_progress
            || self.log.is_none()
            || self.phase != Phase::Running
        {
            return;
        }
        let (size, base) = (self.aof_size(), self.rewrites.base_size.max(1));
        if size > self.config.auto_aof_rewrite_min_size
            && (size - base.min(size)) * 100 / base >= pct
        {
            self.notice(format!(
                "Starting automatic rewriting of AOF on {}% growth",
                (size - base.min(size)) * 100 / base
            ));
            let _ = self.start_rewrite(now_ms);
        }
    }

    /// Whether fsyncs are suspended now (`no-appendfsync-on-rewrite` with a rewrite or snapshot
    /// running).
    pub(super) fn fsync_suspended(&self) -> bool {
        self.config.no_appendfsync_on_rewrite
            && (self.rewrites.in_progress || self.snapshots.in_progress())
    }
}

/// The manifest making `base` the base with every file but the last incr as history, and the
/// same without the history.
fn swap_manifests(old: &Manifest, base: AofFile) -> (Manifest, Manifest) {
    let mut history = old.history.clone();
    if let Some(old_base) = &old.base {
        history.push(AofFile {
            kind: FileKind::History,
            ..old_base.clone()
        });
    }
    let (current, replaced) = old
        .incrs
        .split_last()
        .expect("a rotation created an incr file");
    history.extend(replaced.iter().map(|f| AofFile {
        kind: FileKind::History,
        ..f.clone()
    }));
    let without = Manifest {
        base: Some(base),
        history: Vec::new(),
        incrs: vec![current.clone()],
    };
    (
        Manifest {
            history,
            ..without.clone()
        },
        without,
    )
}
