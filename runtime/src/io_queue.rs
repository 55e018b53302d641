//! Hand-off between the event loop (the "driver" below) and the file threads: one FIFO per lane,
//! one completion queue.
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
//! Under that cfg only, a [`Fault`] seeds one known bug into this same code, so that each loom
//! test has a broken twin showing that loom catches what the test is about.

use std::collections::VecDeque;
use std::sync::PoisonError;

use crate::sync::{Condvar, Mutex};

/// A bug to seed into the queues, for the broken twins of the loom tests. Exists only under
/// `--cfg durakv_loom`: the server's build has no field, no branch and no way to set one.
#[cfg(durakv_loom)]
#[doc(hidden)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Fault {
    /// The queues as the server runs them.
    #[default]
    None,
    /// [`LaneQueue::pop`] takes the newest item: a lane runs its effects out of order.
    LaneLifo,
    /// [`LaneQueue::pop`] ends at `close` even with items queued: shutdown drops work.
    CloseDropsQueued,
    /// [`LaneQueue::close`] does not notify: a lane thread asleep in `pop` never ends.
    CloseWithoutNotify,
    /// [`Completions::push`] wakes before the item is visible: a lost wake-up.
    WakeBeforePublish,
    /// [`Completions::drain_into`] copies without removing: completions delivered twice.
    DrainKeepsItems,
    /// [`serve`] wakes only while more work is queued, the reverse of the rule.
    ServeWakeInverted,
    /// [`crate::inline_lane::InlineLane::submit`] runs an append inline while earlier items
    /// of the lane are still unseen: the append overtakes them.
    InlineIgnoresLane,
    /// [`crate::inline_lane::InlineLane::submit`] runs a turn's inline items after queueing
    /// the rest of the turn: an fsync queued after an append may run before its write.
    InlineAfterQueue,
}

/// What a completion queue carries. Under loom also `Clone`, so that the seeded
/// [`Fault::DrainKeepsItems`] can deliver an item twice.
#[cfg(durakv_loom)]
pub trait Item: Clone {}
#[cfg(durakv_loom)]
impl<T: Clone> Item for T {}
/// What a completion queue carries.
#[cfg(not(durakv_loom))]
pub trait Item {}
#[cfg(not(durakv_loom))]
impl<T> Item for T {}

/// The FIFO of one lane: the driver pushes, the lane's thread pops.
pub struct LaneQueue<T> {
    state: Mutex<LaneState<T>>,
    ready: Condvar,
    #[cfg(durakv_loom)]
    fault: Fault,
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
            #[cfg(durakv_loom)]
            fault: Fault::None,
        }
    }

    /// A lane with `fault` seeded (the loom tests' broken twins only).
    #[cfg(durakv_loom)]
    #[doc(hidden)]
    pub fn with_fault(fault: Fault) -> Self {
        LaneQueue {
            fault,
            ..Self::new()
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
            #[cfg(durakv_loom)]
            if self.fault == Fault::CloseDropsQueued && state.closed {
                return None;
            }
            #[cfg(durakv_loom)]
            if self.fault == Fault::LaneLifo {
                if let Some(item) = state.items.pop_back() {
                    return Some(item);
                }
            }
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
        #[cfg(durakv_loom)]
        if self.fault == Fault::CloseWithoutNotify {
            return;
        }
        self.ready.notify_all();
    }
}

/// The body of a lane's thread: runs each item popped from `lane`, in order, and hands its
/// result to `done`, until the lane is closed and drained.
///
/// Wakes the driver when the lane runs dry, not between queued items (e.g. an append and the
/// fsync after it): one wake-up per batch. This is safe because only this thread pops `lane`:
/// an item seen queued will be run, and its `push` wakes for every completion before it.
pub fn serve<T, D: Item, W: Wake>(
    lane: &LaneQueue<T>,
    done: &Completions<D, W>,
    mut run: impl FnMut(T) -> D,
) {
    while let Some(item) = lane.pop() {
        let result = run(item);
        let dry = lane.is_empty();
        #[cfg(durakv_loom)]
        let dry = dry != (lane.fault == Fault::ServeWakeInverted);
        if dry {
            done.push(result);
        } else {
            done.publish(result);
        }
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
    #[cfg(durakv_loom)]
    fault: Fault,
}

impl<D: Item, W: Wake> Completions<D, W> {
    pub fn new(waker: W) -> Self {
        Completions {
            items: Mutex::new(VecDeque::new()),
            waker,
            #[cfg(durakv_loom)]
            fault: Fault::None,
        }
    }

    /// Completions with `fault` seeded (the loom tests' broken twins only).
    #[cfg(durakv_loom)]
    #[doc(hidden)]
    pub fn with_fault(waker: W, fault: Fault) -> Self {
        Completions {
            fault,
            ..Self::new(waker)
        }
    }

    /// Publishes one completion, then wakes the driver.
    pub fn push(&self, done: D) {
        #[cfg(durakv_loom)]
        if self.fault == Fault::WakeBeforePublish {
            self.waker.wake();
            self.publish(done);
            return;
        }
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
        #[cfg(durakv_loom)]
        if self.fault == Fault::DrainKeepsItems {
            out.extend(items.iter().cloned());
            return;
        }
        out.extend(items.drain(..));
    }

    pub fn waker(&self) -> &W {
        &self.waker
    }
}
