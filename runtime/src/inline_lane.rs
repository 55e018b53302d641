//! The log lane split between two threads: the event loop runs the AOF's appends and fsyncs
//! inline (Redis's write and `always` fsync in `beforeSleep`) and the lane's thread runs the
//! rest (file procedures and their fsyncs, loading, retry truncates), fed through
//! [`crate::io_queue`].
//!
//! Owns the list of the lane's items the caller has handed to the lane's thread and not yet
//! seen completed. Invariant: the lane keeps the engine's order (the contract of
//! `model::io::Lane`): an item runs inline only when every earlier item of the lane has
//! completed *and* its completion was seen by the caller, and inline items of a turn run at
//! their place in that turn, before anything after them is queued. So an append never
//! overtakes a truncate or fsync issued before it, and an fsync queued after an append covers
//! the append's bytes (its `write(2)` returned before the fsync was queued).
//!
//! Written against no thread primitive at all (the caller is single-threaded); loom checks it
//! together with the lane thread and the completions (`runtime/tests/loom_log_lane.rs`), with
//! a `io_queue::Fault` seeded under `--cfg durakv_loom` only.

#[cfg(durakv_loom)]
use crate::io_queue::Fault;

/// The caller's side of the log lane.
pub struct InlineLane<K> {
    unseen: Vec<K>,
    #[cfg(durakv_loom)]
    fault: Fault,
}

impl<K: Copy + PartialEq> Default for InlineLane<K> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: Copy + PartialEq> InlineLane<K> {
    pub fn new() -> Self {
        InlineLane {
            unseen: Vec::new(),
            #[cfg(durakv_loom)]
            fault: Fault::None,
        }
    }

    /// A lane with `fault` seeded (the loom tests' broken twins only).
    #[cfg(durakv_loom)]
    #[doc(hidden)]
    pub fn with_fault(fault: Fault) -> Self {
        InlineLane {
            fault,
            ..Self::new()
        }
    }

    /// Submits one turn's items of the lane in the engine's order, each `(key, item,
    /// may_inline)`. An item that may run inline and has nothing unseen before it runs now
    /// through `run_inline`, its completion appended to `done`; every other item goes to
    /// `queue` and stays unseen until [`InlineLane::seen`].
    pub fn submit<T, D>(
        &mut self,
        items: impl IntoIterator<Item = (K, T, bool)>,
        mut run_inline: impl FnMut(T) -> D,
        mut queue: impl FnMut(T),
        done: &mut Vec<D>,
    ) {
        #[cfg(durakv_loom)]
        let mut deferred = Vec::new();
        for (key, item, may_inline) in items {
            if !(may_inline && (self.unseen.is_empty() || self.ignores_lane())) {
                self.unseen.push(key);
                queue(item);
                continue;
            }
            #[cfg(durakv_loom)]
            if self.fault == Fault::InlineAfterQueue {
                deferred.push(item);
                continue;
            }
            done.push(run_inline(item));
        }
        #[cfg(durakv_loom)]
        for item in deferred {
            done.push(run_inline(item));
        }
    }

    /// The caller drained the completion of `key` (of any lane: keys not queued here are
    /// ignored).
    pub fn seen(&mut self, key: &K) {
        if !self.unseen.is_empty() {
            self.unseen.retain(|k| k != key);
        }
    }

    /// Whether nothing handed to the lane's thread is unseen.
    pub fn is_idle(&self) -> bool {
        self.unseen.is_empty()
    }

    #[cfg(durakv_loom)]
    fn ignores_lane(&self) -> bool {
        self.fault == Fault::InlineIgnoresLane
    }

    #[cfg(not(durakv_loom))]
    fn ignores_lane(&self) -> bool {
        false
    }
}
