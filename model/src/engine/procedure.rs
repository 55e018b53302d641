//! Multi-step file procedures (opening the AOF at start, rotating to a new incr file, a
//! rewrite's second half, enabling the AOF, making `dump.rdb` durable at start; each snapshot
//! runs one too): a fixed list of operations run strictly one after another.
//!
//! Invariant: a step is emitted only after the previous one completed successfully, so a
//! rename never follows a failed fsync and a manifest is never renamed into place before the
//! files it names are durable.

use std::collections::VecDeque;

use bytes::Bytes;

use crate::aof::checksum::Running;
use crate::aof::manifest::Manifest;
use crate::io::{join, EffectId, Lane, Op, Owner, ViewFormat, ViewWriter};
use crate::keyspace::Keyspace;

use super::outbox::Outbox;

/// Why the procedure runs, and what to do when it finishes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Purpose {
    /// Start-up: repair torn tails, create what is missing, then append to `path`.
    Open {
        manifest: Manifest,
        path: String,
        file_len: u64,
        /// Digest of the bytes after the file's last checksum line (see `aof::checksum`).
        crc: Running,
        /// The manifest loaded, while a failure may still be answered by rebuilding the AOF
        /// from memory (see `startup::rebuild_procedure`); `None` once rebuilding, or fresh.
        rebuild_from: Option<Manifest>,
    },
    /// Switch appends to the new incr file `path` once the manifest naming it is durable.
    Rotate {
        manifest: Manifest,
        path: String,
        file_base: u64,
        /// For a rewrite: the data set when appends switched to the new file.
        view: Option<Keyspace>,
        /// Steps up to and including the rename of the manifest naming `path`: once they are
        /// done the switch stands (a crash may keep it), even if the directory fsync fails.
        steps_to_manifest: usize,
    },
    /// A snapshot to `dump.rdb` (run in its own slot, see `snapshot.rs`).
    Snapshot,
    /// Start-up with the AOF off: `dump.rdb` made durable, then serve.
    Ready,
    /// `CONFIG SET appendonly yes`: a base from memory and an empty incr file, then logging.
    Enable { manifest: Manifest },
    /// A rewrite's second half: the base from `view`, then the manifest that makes it the base
    /// (`with_history`), then deleting the replaced files and the manifest without them.
    Rewrite {
        with_history: Manifest,
        without_history: Manifest,
        /// Steps up to and including the rename of the manifest `with_history`.
        steps_to_manifest: usize,
        /// Log offset where the new incr file starts.
        incr_start: u64,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Step {
    pub(crate) lane: Lane,
    pub(crate) op: Op,
    /// Logical log offset this step makes durable when it completes.
    pub(crate) credits_durable: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Procedure {
    pub(crate) purpose: Purpose,
    steps: VecDeque<Step>,
    pub(crate) inflight: Option<(EffectId, Option<u64>)>,
    /// Steps completed successfully.
    pub(crate) done: usize,
    /// Bytes a `WriteView` step reported writing.
    pub(crate) view_len: u64,
}

impl Procedure {
    pub(crate) fn new(purpose: Purpose, steps: Vec<Step>) -> Procedure {
        Procedure {
            purpose,
            steps: steps.into(),
            inflight: None,
            done: 0,
            view_len: 0,
        }
    }

    /// Emits the next step on behalf of `owner`; `false` when none is left.
    pub(crate) fn advance(&mut self, owner: Owner, out: &mut Outbox) -> bool {
        assert!(self.inflight.is_none());
        match self.steps.pop_front() {
            Some(step) => {
                let id = out.emit(owner, step.lane, step.op);
                self.inflight = Some((id, step.credits_durable));
                true
            }
            None => false,
        }
    }
}

pub(crate) fn step(op: Op) -> Step {
    Step {
        lane: Lane::Log,
        op,
        credits_durable: None,
    }
}

/// Temp file, fsync, rename, directory fsync: the only way a manifest reaches its name.
pub(crate) fn persist_manifest(dir: &str, prefix: &str, manifest: &Manifest) -> Vec<Step> {
    use crate::aof::manifest::{manifest_name, temp_manifest_name};
    let temp = join(dir, &temp_manifest_name(prefix));
    vec![
        step(Op::Create { path: temp.clone() }),
        step(Op::Append {
            path: temp.clone(),
            bytes: Bytes::from(manifest.encode_sealed()),
        }),
        step(Op::Fsync { path: temp.clone() }),
        step(Op::Rename {
            from: temp,
            to: join(dir, &manifest_name(prefix)),
        }),
        step(Op::FsyncDir {
            path: dir.to_string(),
        }),
    ]
}

/// A point-in-time view written to `path` off the engine's thread (worker lane), then fsynced:
/// the only way a base or snapshot file is made, so it is durable before it is renamed in.
pub(crate) fn write_view(path: &str, view: Keyspace, format: ViewFormat, now_ms: u64) -> Vec<Step> {
    let op = Op::WriteView {
        path: path.to_string(),
        view: ViewWriter::new(view, format, now_ms),
    };
    vec![
        Step {
            lane: Lane::Worker,
            op,
            credits_durable: None,
        },
        step(Op::Fsync {
            path: path.to_string(),
        }),
    ]
}
