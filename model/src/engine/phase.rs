//! Where the engine is in its life, and why start-up refused.
//!
//! Owns the vocabulary only (the engine holds the current phase). Invariant: a refused start
//! always names a file, and a byte offset where one applies.

/// Where the engine is in its life.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Loading files and preparing the AOF; commands get `-LOADING`.
    Loading,
    Running,
    /// Start-up refused: the runtime prints the error and exits non-zero.
    Refused(StartError),
    /// Shutting down: new commands are refused while the AOF is flushed and fsynced.
    Stopping,
    /// Everything logged is durable (or the AOF failed, said in `poll_event`): the process may
    /// exit.
    Stopped,
}

/// Why start-up was refused: always names a file, and an offset where one applies.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct StartError {
    pub file: String,
    pub offset: Option<u64>,
    pub reason: String,
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.offset {
            Some(offset) => write!(f, "{} at offset {}: {}", self.file, offset, self.reason),
            None => write!(f, "{}: {}", self.file, self.reason),
        }
    }
}
