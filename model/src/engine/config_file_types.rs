//! The state of a CONFIG REWRITE in flight (`config_file.rs` runs it): which client waits,
//! which step runs, and what was read of the old file.
//!
//! Kept apart from `config_file.rs` so the engine's state can name it without an import
//! cycle. Invariant: `stage` is the step whose completion is awaited.

use super::clients::ClientId;
use crate::resp::Frame;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) enum Stage {
    Read,
    Create,
    Append,
    Fsync,
    Rename,
    FsyncDir,
}

/// The rewrite in flight.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct Rewriting {
    pub(super) client: ClientId,
    pub(super) stage: Stage,
    pub(super) path: String,
    pub(super) old: Vec<u8>,
    /// Started inside EXEC: the transaction's replies, answered with this one's slot
    /// (`slot`) filled in once the file is durable.
    pub(super) exec_reply: Option<(Vec<Frame>, usize)>,
}

impl Rewriting {
    pub(super) fn new(client: ClientId, path: String) -> Rewriting {
        Rewriting {
            client,
            stage: Stage::Read,
            path,
            old: Vec::new(),
            exec_reply: None,
        }
    }

    /// The temporary written beside the file, renamed over it once durable.
    pub(super) fn temp(&self) -> String {
        format!("{}.rewrite.tmp", self.path)
    }

    /// The directory holding the file, fsynced after the rename.
    pub(super) fn parent(&self) -> String {
        match self.path.rfind('/') {
            Some(0) => "/".to_string(),
            Some(at) => self.path[..at].to_string(),
            None => String::new(),
        }
    }
}
