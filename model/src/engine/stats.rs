//! Counters for INFO and tests.
//!
//! Owns the counters. Invariant: `dirty` counts changes since the last completed snapshot
//! (a snapshot subtracts what it covered), as Redis's `rdb_changes_since_last_save`.

/// Counters for INFO and tests.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Stats {
    pub dirty: u64,
    pub commands_loaded: u64,
    /// Keys loaded from an RDB-format AOF base at start.
    pub base_keys_loaded: u64,
    pub truncations: u64,
    pub rotations: u64,
    pub commands_processed: u64,
    pub connections_received: u64,
    /// Keys deleted by `maxmemory` eviction (INFO `evicted_keys`).
    pub evicted_keys: u64,
}
