//! durakv-tests: helpers for black-box tests of real `durakv-server` processes and real files.
//!
//! Owns starting, killing and restarting server processes ([`ServerProcess`]), a small blocking
//! RESP client whose every call is bounded by a timeout ([`RespClient`]), and readers for the
//! files the server leaves behind ([`files`]). Invariant: a server started here listens on
//! 127.0.0.1 only and is killed with SIGKILL when its handle drops, so a failing test never
//! leaves a process behind.
//!
//! The binary under test is `durakv-under-test` (this package's copy of `durakv-server`), or
//! whatever `DURAKV_SERVER` names: `DURAKV_SERVER=/usr/bin/redis-server cargo test -p
//! durakv-tests --test crash_kill9` runs the crash tests against real Redis 7.0, which checks
//! the tests themselves (they pass there, and fail against Redis with `appendonly no`).

pub mod client;
pub mod conformance;
pub mod files;
pub mod load;
pub mod raw;
pub mod redis;
pub mod repl_check;
pub mod server;

pub use client::RespClient;
pub use server::{Exited, ServerProcess};
