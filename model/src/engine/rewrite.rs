//! AOF rewrite: BGREWRITEAOF, automatic rewrite, and `no-appendfsync-on-rewrite`.
//!
//! A rewrite is a switch to a new incr file (see `aof_writer.rs`: the old incr file is made
//! durable, a new one is created and named by a durable manifest) whose first step also takes
//! the O(1) view of the data set; then the base is written from that view on the worker lane,
//! fsynced, renamed into the AOF directory; then the manifest naming the new base (the replaced
//! files as history) goes temp → fsync → rename → directory fsync; only then are the replaced
//! files deleted and the manifest persisted without them.
//!
//! Owns the rewrite's bookkeeping and INFO counters; the switch and the procedure slot are the
//! AOF writer's, passed in. Invariant: at every step, the durable manifest names a complete,
//! durable set of files whose replay is a prefix of the applied writes.

use crate::aof::manifest::{self, AofFile, FileKind, Manifest};
use crate::config::{Config, Mutation};
use crate::io::{join, IoError, Op, ViewFormat};
use crate::keyspace::Keyspace;
use crate::resp::Frame;

use super::aof_writer::AofWriter;
use super::outbox::Outbox;
use super::procedure::{persist_manifest, step, write_view, Procedure, Purpose, Step};

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Rewrites {
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

impl Default for Rewrites {
    fn default() -> Rewrites {
        Rewrites {
            in_progress: false,
            started_ms: 0,
            last_ok: true,
            count: 0,
            last_duration_ms: 0,
            failures_consecutive: 0,
            base_size: 0,
            size_at: 0,
            written_at: 0,
        }
    }
}

impl Rewrites {
    /// BGREWRITEAOF: asks the AOF writer for a switch that takes a view. `Err` is Redis's reply
    /// when it cannot start.
    pub(crate) fn start(
        &mut self,
        now_ms: u64,
        running: bool,
        aof: &mut AofWriter,
        out: &mut Outbox,
    ) -> Result<(), Frame> {
        if self.in_progress {
            return Err(Frame::error(
                "ERR Background append only file rewriting already in progress",
            ));
        }
        if aof.log.is_none() || !running {
            return Err(Frame::error(
                "ERR durakv rewrites the AOF only while appendonly is yes",
            ));
        }
        self.in_progress = true;
        aof.rotate_takes_view = true;
        self.started_ms = now_ms;
        aof.rotate_pending = true;
        out.notice("Background append only file rewriting started".to_string());
        Ok(())
    }

    /// The AOF was loaded at start: its size is the base of automatic rewrites.
    pub(crate) fn loaded(&mut self, bytes: u64) {
        self.size_at = bytes;
        self.base_size = bytes;
    }

    /// The rewrite finished: `manifest` (without history) is durable.
    pub(crate) fn handle_done(
        &mut self,
        manifest: Manifest,
        base_len: u64,
        incr_start: u64,
        now_ms: u64,
        aof: &mut AofWriter,
        out: &mut Outbox,
    ) {
        aof.manifest = Some(manifest);
        let written = aof.offset_written();
        self.in_progress = false;
        self.last_ok = true;
        self.count += 1;
        self.failures_consecutive = 0;
        self.last_duration_ms = now_ms.saturating_sub(self.started_ms);
        self.size_at = base_len + written.saturating_sub(incr_start);
        self.written_at = written;
        self.base_size = self.size_at;
        out.notice("Background AOF rewrite finished successfully".to_string());
    }

    /// The rewrite stopped; `durable` is the manifest that had become durable, if any.
    pub(crate) fn handle_failed(
        &mut self,
        error: &IoError,
        durable: Option<Manifest>,
        aof: &mut AofWriter,
        out: &mut Outbox,
    ) {
        if let Some(manifest) = durable {
            // The new base is in place; only removing the replaced files failed. They stay
            // listed as history and are deleted at the next start.
            aof.manifest = Some(manifest);
        }
        (self.in_progress, aof.rotate_takes_view, self.last_ok) = (false, false, false);
        self.failures_consecutive += 1;
        out.warn(format!("Background AOF rewrite failed: {}", error.message));
    }

    /// `aof_current_size`.
    pub(crate) fn aof_size(&self, aof: &AofWriter) -> u64 {
        self.size_at + aof.offset_written().saturating_sub(self.written_at)
    }

    /// Cron: the growth in percent when the AOF grew by `auto-aof-rewrite-percentage` over its
    /// size after the last rewrite and is over the minimum size (Redis's auto-aof-rewrite-*).
    pub(crate) fn auto_rewrite_due(&self, config: &Config, aof: &AofWriter) -> Option<u64> {
        let pct = config.auto_aof_rewrite_percentage;
        if pct == 0 || self.in_progress || aof.log.is_none() {
            return None;
        }
        let (size, base) = (self.aof_size(aof), self.rewrites_base());
        let growth = (size - base.min(size)) * 100 / base;
        (size > config.auto_aof_rewrite_min_size && growth >= pct).then_some(growth)
    }

    fn rewrites_base(&self) -> u64 {
        self.base_size.max(1)
    }

    /// Whether fsyncs are suspended now (`no-appendfsync-on-rewrite` with a rewrite or snapshot
    /// running).
    pub(crate) fn suspends_fsync(&self, config: &Config, snapshot_running: bool) -> bool {
        config.no_appendfsync_on_rewrite && (self.in_progress || snapshot_running)
    }
}

/// A rewrite's second half, once appends switched to the new incr file at log offset
/// `incr_start`: the base from `view`, then the manifests (see the module comment).
pub(crate) fn base_procedure(
    config: &Config,
    old: &Manifest,
    view: Keyspace,
    incr_start: u64,
    now_ms: u64,
) -> Procedure {
    let (dir, prefix) = (&config.appenddirname, &config.appendfilename);
    let seq = old.next_base_seq();
    let rdb = config.aof_use_rdb_preamble;
    let name = manifest::base_name(prefix, seq, rdb);
    let temp = format!("temp-rewriteaof-bg-{seq}.aof");
    let format = if rdb {
        ViewFormat::Rdb { aof_base: true }
    } else {
        ViewFormat::Resp
    };
    let base = AofFile {
        name: name.clone(),
        seq,
        kind: FileKind::Base,
    };
    let (with_history, without_history) = swap_manifests(old, base);
    let mut steps = write_view(&temp, view, format, now_ms);
    steps.push(step(Op::Rename {
        from: temp,
        to: join(dir, &name),
    }));
    let deletes: Vec<Step> = with_history
        .history
        .iter()
        .map(|f| {
            step(Op::Delete {
                path: join(dir, &f.name),
            })
        })
        .collect();
    let delete_first = config.mutation == Mutation::DeleteHistoryFirst;
    if delete_first {
        steps.extend(deletes.iter().cloned());
    }
    steps.extend(persist_manifest(dir, prefix, &with_history));
    let steps_to_manifest = steps.len() - 1;
    if !delete_first {
        steps.extend(deletes);
    }
    steps.extend(persist_manifest(dir, prefix, &without_history));
    let purpose = Purpose::Rewrite {
        with_history,
        without_history,
        steps_to_manifest,
        incr_start,
    };
    Procedure::new(purpose, steps)
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
