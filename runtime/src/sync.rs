//! The synchronisation primitives the hand-off queues use, switched for loom.
//!
//! Owns nothing but the choice: with `--cfg durakv_loom` the queues in [`crate::io_queue`] are
//! built on loom's model-checked `Mutex`/`Condvar`/`Arc`, otherwise on std's. Code that must be
//! loom-checkable imports from here, never from `std::sync` or tokio directly. (The cfg is
//! crate-specific because `--cfg loom` would also switch tokio, which does not support it.)

#[cfg(durakv_loom)]
pub(crate) use loom::sync::{Arc, Condvar, Mutex};

#[cfg(not(durakv_loom))]
pub(crate) use std::sync::{Arc, Condvar, Mutex};
