//! Hand-off between the driver and the file threads: one FIFO per lane, one completion queue.
//!
//! Owns the queues, not the work. Invariants:
//! - a lane's items are popped in the order they were pushed, by the lane's single thread, so
//!   the effects of one lane run one at a time and in the engine's order (no `if` needed);
//! - every completion is followed by a wake, after the completion is visible, so a driver
//!   that drains after waking never misses one (the [`Wake`] implementation must keep a permit
//!   when nobody waits, as tokio's `Notify::notify_one` does). A lane thread may `publish`
//!   without waking only while its lane has more queued work: the `push` of that later work's
//!   completion wakes for both;
//! - closing a lane lets its thread finish what is queued, then stop.
//!
//! Length: neither queue has a cap of its own. A lane holds only the effects the engine has
//! issued and not yet seen completed, which the engine bounds (one append and one fsync in
//! flight, a procedure's steps one at a time), and completions are at most that many.
//!
//! Kept free of tokio and written against [`crate::sync`] so that loom can check it
//! (`RUSTFLAGS="--cfg durakv_loom" cargo test -p durakv-runtime --test loom_io_queue`).

use std::collections::VecDeque;
use std::sync::PoisonError;

use crate::sync::{Condvar, Mutex};

/// The FIFO of one lane: the driver pushes, the lane's thread pops.
pub struct LaneQueue<T> {
    state: Mutex<LaneState<T>>,
    ready: Condvar,
}

struct LaneState<T> {
    items: VecDeque<T>,
    closed: bool,
}

impl<T> Default for LaneQueue<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> LaneQueue<T> {
    pub fn new() -> Self {
        LaneQueue {
            state: Mutex::new(LaneState {
                items: VecDeque::new(),
                closed: false,
            }),
            ready: Condvar::new(),
        }
    }

    /// Queues `item` for the lane's thread; gives it back if the lane is closed.
    pub fn push(&self, item: T) -> Result<(), T> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.closed {
            return Err(item);
        }
        state.items.push_back(item);
        drop(state);
        self.ready.notify_one();
        Ok(())
    }

    /// Blocks until an item is queued; `None` once the lane is closed and drained.
    pub fn pop(&self) -> Option<T> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(item) = state.items.pop_front() {
                return Some(item);
            }
            if state.closed {
                return None;
            }
            state = self
                .ready
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Whether nothing is queued (the caller's next `pop` would block or end).
    pub fn is_empty(&self) -> bool {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.items.is_empty()
    }

    /// No more pushes; the thread drains what is queued and then sees `None`.
    pub fn close(&self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.closed = true;
        drop(state);
        self.ready.notify_all();
    }
}

/// Wakes whoever drains [`Completions`]. Must not lose a wake given while nobody waits.
pub trait Wake: Send + Sync {
    fn wake(&self);
}

/// Completed work on its way back to the driver, from every lane, in completion order.
pub struct Completions<D, W> {
    items: Mutex<VecDeque<D>>,
    waker: W,
}

impl<D, W: Wake> Completions<D, W> {
    pub fn new(waker: W) -> Self {
        Completions {
            items: Mutex::new(VecDeque::new()),
            waker,
        }
    }

    /// Publishes one completion, then wakes the driver.
    pub fn push(&self, done: D) {
        self.publish(done);
        // Wake after the item is visible: a driver woken early would drain nothing and sleep.
        self.waker.wake();
    }

    /// Publishes one completion without waking: only for a caller that will `push` again
    /// (see the module invariant).
    pub fn publish(&self, done: D) {
        let mut items = self.items.lock().unwrap_or_else(PoisonError::into_inner);
        items.push_back(done);
    }

    /// Moves every completion published so far to `out`, oldest first.
    pub fn drain_into(&self, out: &mut Vec<D>) {
        let mut items = self.items.lock().unwrap_or_else(PoisonError::into_inner);
        out.extend(items.drain(..));
    }

    pub fn waker(&self) -> &W {
        &self.waker
    }
}
