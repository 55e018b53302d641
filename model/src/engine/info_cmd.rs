//! INFO: gathers what each sub-machine reports into [`InfoSources`] for `info.rs` to print.
//!
//! Owns nothing; kept apart from `mod.rs` so the engine's core stays within one screen of
//! reading per concern. Invariant: every section reads the engine's state as of this call.

use bytes::Bytes;

use super::info::{render, InfoSources};
use super::Engine;
use crate::command;

impl Engine {
    /// INFO's text (engine-level command in `admin.rs`).
    pub(super) fn info(&self, now_ms: u64, argv: &[Bytes]) -> String {
        let sources = InfoSources {
            config: &self.config,
            phase: &self.phase,
            keyspace: &self.keyspace,
            clients: &self.clients,
            aof: &self.aof,
            snapshots: &self.snapshots,
            rewrites: &self.rewrites,
            stats: &self.stats,
            repl: &self.repl,
            pubsub: command::pubsub_totals(&self.shared),
            started_ms: self.started_ms,
            used_memory: self.used_memory_bytes(),
            cached_scripts: command::cached_scripts(&self.shared),
            redis_version: crate::REDIS_VERSION,
            replica: self.replica_info(now_ms),
            command_stats: &self.shared.stats,
        };
        render(&sources, now_ms, argv)
    }
}
