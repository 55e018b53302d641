//! Hand-off of a replica's full-sync payload from the thread that serialises it to the event
//! loop that writes it to the socket: a bounded FIFO of byte chunks.
//!
//! Owns the queue, not the bytes' meaning. Invariants:
//! - chunks are taken in the order they were pushed, each exactly once;
//! - the producer blocks while [`CHUNKS_MAX`] chunks wait, so a payload of any size holds at
//!   most that many chunks in memory (the socket paces the serialiser);
//! - every push is followed by a wake, after the chunk is visible, so a loop that drains after
//!   waking never misses one;
//! - when the consumer goes away (the replica disconnected), a blocked producer is released
//!   and told, so the serialising thread ends instead of waiting forever.
//!
//! Written against [`crate::sync`] so loom can check it (`tests/loom_chunk_queue.rs`).

use std::collections::VecDeque;
use std::sync::PoisonError;

use crate::io_queue::Wake;
use crate::sync::{Condvar, Mutex};

/// Chunks that may wait in the queue (with 64 KB chunks: 1 MB per replica).
pub const CHUNKS_MAX: usize = 16;

/// A bug to seed for loom's broken twins; exists only under `--cfg durakv_loom`.
#[cfg(durakv_loom)]
#[doc(hidden)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ChunkFault {
    #[default]
    None,
    /// `close_consumer` does not notify: a producer blocked on a full queue never ends.
    CloseWithoutNotify,
    /// `push` wakes before the chunk is visible: a lost wake-up.
    WakeBeforePublish,
}

pub struct ChunkQueue<T> {
    capacity: usize,
    state: Mutex<State<T>>,
    room: Condvar,
    #[cfg(durakv_loom)]
    fault: ChunkFault,
}

struct State<T> {
    items: VecDeque<T>,
    consumer_gone: bool,
}

/// The consumer went away: the chunk was not delivered.
#[derive(Debug, PartialEq, Eq)]
pub struct Gone;

impl<T> Default for ChunkQueue<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> ChunkQueue<T> {
    pub fn new() -> Self {
        Self::with_capacity(CHUNKS_MAX)
    }

    /// A queue holding at most `capacity` chunks (the loom tests use small ones).
    pub fn with_capacity(capacity: usize) -> Self {
        assert!(capacity > 0);
        ChunkQueue {
            capacity,
            state: Mutex::new(State {
                items: VecDeque::new(),
                consumer_gone: false,
            }),
            room: Condvar::new(),
            #[cfg(durakv_loom)]
            fault: ChunkFault::None,
        }
    }

    /// A queue with `fault` seeded (the loom tests' broken twins only).
    #[cfg(durakv_loom)]
    #[doc(hidden)]
    pub fn with_fault(capacity: usize, fault: ChunkFault) -> Self {
        ChunkQueue {
            fault,
            ..Self::with_capacity(capacity)
        }
    }

    /// Queues `item`, waiting for room; then wakes the consumer.
    pub fn push(&self, item: T, waker: &impl Wake) -> Result<(), Gone> {
        #[cfg(durakv_loom)]
        if self.fault == ChunkFault::WakeBeforePublish {
            waker.wake();
        }
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        while state.items.len() >= self.capacity && !state.consumer_gone {
            state = self
                .room
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        if state.consumer_gone {
            return Err(Gone);
        }
        state.items.push_back(item);
        drop(state);
        #[cfg(durakv_loom)]
        if self.fault == ChunkFault::WakeBeforePublish {
            return Ok(());
        }
        waker.wake();
        Ok(())
    }

    /// The oldest chunk, if any (never blocks: the loop calls it).
    pub fn try_pop(&self) -> Option<T> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let item = state.items.pop_front();
        drop(state);
        if item.is_some() {
            self.room.notify_one();
        }
        item
    }

    /// The consumer will take nothing more: release a waiting producer.
    pub fn close_consumer(&self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.consumer_gone = true;
        state.items.clear();
        drop(state);
        #[cfg(durakv_loom)]
        if self.fault == ChunkFault::CloseWithoutNotify {
            return;
        }
        self.room.notify_one();
    }
}
