//! The engine's whole vocabulary with the outside world's files: [`Effect`]s out, [`IoDone`] in.
//!
//! Paths are relative to the server's `dir`; the directory itself is `""`. An effect names a
//! [`Lane`]: effects of one lane are executed one after another, in the order the engine emitted
//! them, and complete in that order; the two lanes run concurrently. That is the only freedom the
//! executor (the runtime's file worker, or the model checker's simulated disk) has, and the model
//! checker explores all of it.
//!
//! Invariant: every emitted effect is answered by exactly one [`IoDone`] with the same id.

use bytes::Bytes;

pub use crate::view::{ViewFormat, ViewWriter};

/// The part of the engine that emitted an effect: its completion is routed back there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Owner {
    /// Reading the AOF (manifest, base, incr files) at start.
    AofLoad,
    /// Reading `dump.rdb` at start.
    RdbLoad,
    /// Removing temp files a crashed snapshot or rewrite left, once serving.
    Cleanup,
    /// The AOF writer's appends, fsyncs and retry truncates.
    AofLog,
    /// A step of a file procedure (opening the AOF, a switch to a new incr file, a rewrite's
    /// base and manifests, enabling the AOF, making `dump.rdb` durable at start).
    Procedure,
    /// A step of an RDB snapshot.
    Snapshot,
    /// A step of CONFIG REWRITE (the config file, which may lie outside the server's `dir`:
    /// its path is absolute).
    ConfigFile,
}

/// Identifies one effect: the engine hands out `seq` in increasing order, and `owner` says
/// which of its parts waits for the completion.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EffectId {
    pub seq: u64,
    pub owner: Owner,
}

/// Which executor queue an effect goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Lane {
    /// Foreground file operations: AOF appends, `always` fsyncs, loading, file creation.
    Log,
    /// Background fsync under `everysec` (Redis's bio thread): may run while the log lane appends.
    Sync,
    /// Serialising a point-in-time view (base, snapshot) off the engine's thread.
    Worker,
}

/// One file-system operation the engine wants performed.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// Read up to `len_max` bytes at `offset`. Answered with [`IoResult::Read`] or `NotFound`.
    Read {
        path: String,
        offset: u64,
        len_max: u64,
    },
    /// List the names in a directory. Answered with [`IoResult::Listed`] or `NotFound`.
    List { path: String },
    /// `mkdir`; succeeds if it already exists. The new entry is durable only after `FsyncDir`
    /// of the parent.
    CreateDir { path: String },
    /// Create the file, or truncate it to zero if it exists (`O_CREAT | O_TRUNC`).
    Create { path: String },
    /// Append bytes at the end of the file (`O_APPEND`), the whole buffer or an error.
    Append { path: String, bytes: Bytes },
    /// `fdatasync(2)` the file: every byte written before this call becomes durable.
    Fsync { path: String },
    /// `fsync(2)` a directory: the creates, renames and deletes in it become durable.
    FsyncDir { path: String },
    /// `rename(2)`, atomically replacing `to` if it exists.
    Rename { from: String, to: String },
    /// `unlink(2)`; succeeds if the file is already gone.
    Delete { path: String },
    /// `ftruncate(2)` to `len` bytes (repairing a torn tail).
    Truncate { path: String, len: u64 },
    /// Write the bytes of `view` ([`ViewWriter::write_to`]) to `path` (created or truncated).
    /// It is not fsynced here: the engine follows it with an `Fsync` (so a crash in between is
    /// explored). This is where snapshot and rewrite work leaves the engine's thread; the
    /// executor runs the engine's serialiser and knows no file format.
    WriteView { path: String, view: ViewWriter },
}

/// An effect: an operation plus its identity and lane.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[must_use]
pub struct Effect {
    pub id: EffectId,
    pub lane: Lane,
    pub op: Op,
}

/// Why an operation failed, as the executor saw it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IoError {
    /// Short machine-readable kind, e.g. `ENOSPC`, `EIO`.
    pub kind: String,
    /// The operating system's message, e.g. `No space left on device`.
    pub message: String,
}

/// The result of one effect.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum IoResult {
    Done,
    /// A `WriteView` wrote this many bytes.
    Written {
        len: u64,
    },
    /// Bytes read; `eof` when the read reached the end of the file.
    Read {
        bytes: Bytes,
        eof: bool,
    },
    /// Directory entries, sorted.
    Listed {
        names: Vec<String>,
    },
    NotFound,
    Failed(IoError),
}

/// Completion of the effect with id `id`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IoDone {
    pub id: EffectId,
    pub result: IoResult,
}

/// Joins a directory and a name the way effect paths are written.
pub fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

impl Op {
    /// The file or directory the operation acts on, for logs and counterexample traces.
    pub fn describe(&self) -> String {
        match self {
            Op::Read { path, offset, .. } => format!("read {path} at {offset}"),
            Op::List { path } => format!("list {}", display_dir(path)),
            Op::CreateDir { path } => format!("mkdir {path}"),
            Op::Create { path } => format!("create {path}"),
            Op::Append { path, bytes } => format!("append {} bytes to {path}", bytes.len()),
            Op::Fsync { path } => format!("fsync {path}"),
            Op::FsyncDir { path } => format!("fsync directory {}", display_dir(path)),
            Op::Rename { from, to } => format!("rename {from} -> {to}"),
            Op::Delete { path } => format!("delete {path}"),
            Op::Truncate { path, len } => format!("truncate {path} to {len} bytes"),
            Op::WriteView { path, view } => format!("write {} to {path}", view.describe()),
        }
    }
}

fn display_dir(path: &str) -> &str {
    if path.is_empty() {
        "."
    } else {
        path
    }
}
