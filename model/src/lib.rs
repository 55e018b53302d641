//! durakv-model: the pure engine of durakv.
//!
//! Everything that decides what durakv does lives here, as data and transition functions with
//! time passed in: the keyspace and commands, RESP, the RDB / AOF / manifest codecs, and every
//! persistence rule (when to write, fsync, reply, rotate, rename, delete, what to load at start).
//! No tokio, no files, no threads, no clock: the runtime drives the [`engine::Engine`] with real
//! sockets and files, and the model checker drives the same engine over [`sim::SimDisk`].
//!
//! Vocabulary: inputs are `handle_*` calls, outputs are `poll_*` calls (quinn-proto's shape);
//! file-system work leaves the engine as [`io::Effect`]s and comes back as [`io::IoDone`].

/// The version durakv reports to clients (HELLO, INFO): the Redis release whose behaviour it
/// follows, text for text.
pub const REDIS_VERSION: &str = "7.0.15";

pub mod aof;
pub mod command;
pub mod config;
pub mod config_rewrite;
pub mod engine;
pub mod functions;
pub mod io;
pub mod keyspace;
pub mod keyspace_events;
pub mod rdb;
pub mod repl_config;
pub mod replica_config;
pub mod resp;
pub mod sds_args;
pub mod sim;
#[cfg(test)]
mod test_argv;
pub mod types;
pub mod view;
