//! The pre-7.0 upgrade's plan: moving a single `appendonly.aof` into the AOF directory and
//! naming it as the base of a new manifest, as Redis 7.0 does at its first start.
//!
//! Owns only the operations, in order (the loader runs them one by one). Invariant: every
//! prefix of the plan is restartable — a crash anywhere leaves either the old-style file in
//! `dir`, or it in the AOF directory with or without a durable manifest naming it — because
//! each create and rename is followed by a directory fsync before the next step depends on it.

use crate::aof::manifest::{AofFile, FileKind, Manifest};
use crate::config::Config;
use crate::io::{join, Op};

use super::procedure::persist_manifest;

/// The whole upgrade: move the file in (durably), then persist the manifest naming it.
pub(crate) fn all_ops(config: &Config) -> Vec<Op> {
    let dir = config.appenddirname.clone();
    let moved = join(&dir, &config.appendfilename);
    let root = || Op::FsyncDir {
        path: String::new(),
    };
    let mut ops = vec![
        Op::CreateDir { path: dir.clone() },
        root(),
        Op::Rename {
            from: config.appendfilename.clone(),
            to: moved,
        },
        Op::FsyncDir { path: dir },
        root(),
    ];
    ops.extend(manifest_ops(config));
    ops
}

/// The manifest naming the old-style file as the base (Redis 7.0's upgrade).
pub(crate) fn manifest(config: &Config) -> Manifest {
    let base = AofFile {
        name: config.appendfilename.clone(),
        seq: 1,
        kind: FileKind::Base,
    };
    Manifest {
        base: Some(base),
        history: Vec::new(),
        incrs: Vec::new(),
    }
}

/// Persisting the upgrade's manifest.
pub(crate) fn manifest_ops(config: &Config) -> Vec<Op> {
    let manifest = manifest(config);
    persist_manifest(&config.appenddirname, &config.appendfilename, &manifest)
        .into_iter()
        .map(|step| step.op)
        .collect()
}
