//! Loom checks of the driver ↔ file-thread hand-off (`durakv_runtime::io_queue`).
//!
//! Goal: under every interleaving loom explores, (1) a lane's thread executes items in push
//! order and drains what was queued before `close`; (2) completions from two lanes are all
//! seen by a driver that sleeps between wakes: no wake-up is lost, none is seen twice.
//! Method: the real queue types over loom's primitives; the driver's `Notify` is played by a
//! flag + condvar that keeps one permit, as `tokio::sync::Notify::notify_one` does.
//!
//! Run: `RUSTFLAGS="--cfg durakv_loom" LOOM_MAX_PREEMPTIONS=3 \
//!       cargo test -p durakv-runtime --test loom_io_queue --release`
#![cfg(durakv_loom)]

use durakv_runtime::io_queue::{Completions, LaneQueue, Wake};
use loom::sync::{Arc, Condvar, Mutex};
use loom::thread;

/// A waker that keeps one permit, like `Notify::notify_one`.
#[derive(Default)]
struct Permit {
    set: Mutex<bool>,
    changed: Condvar,
}

impl Wake for Permit {
    fn wake(&self) {
        *self.set.lock().unwrap() = true;
        self.changed.notify_one();
    }
}

impl Permit {
    /// Waits for a permit and consumes it, as `notified().await` does.
    fn wait(&self) {
        let mut set = self.set.lock().unwrap();
        while !*set {
            set = self.changed.wait(set).unwrap();
        }
        *set = false;
    }
}

#[test]
fn lane_is_fifo_and_close_drains() {
    loom::model(|| {
        let lane = Arc::new(LaneQueue::new());
        let consumer = {
            let lane = lane.clone();
            thread::spawn(move || {
                let mut seen = Vec::new();
                while let Some(item) = lane.pop() {
                    seen.push(item);
                }
                seen
            })
        };
        lane.push(1u64).unwrap();
        lane.push(2u64).unwrap();
        lane.close();
        assert_eq!(lane.push(3u64), Err(3), "a closed lane takes nothing");
        assert_eq!(consumer.join().unwrap(), vec![1, 2]);
    });
}

/// A lane that publishes a completion without waking (more work queued) and then pushes the
/// next one, beside another lane: the driver still sees all three.
#[test]
fn publish_then_push_is_not_lost() {
    loom::model(|| {
        let completions = Arc::new(Completions::new(Permit::default()));
        let quiet = {
            let completions = completions.clone();
            thread::spawn(move || {
                completions.publish(10u64);
                completions.push(11u64);
            })
        };
        let loud = {
            let completions = completions.clone();
            thread::spawn(move || completions.push(20u64))
        };
        let mut seen = Vec::new();
        while seen.len() < 3 {
            completions.waker().wait();
            completions.drain_into(&mut seen);
        }
        quiet.join().unwrap();
        loud.join().unwrap();
        seen.sort_unstable();
        assert_eq!(seen, vec![10, 11, 20]);
    });
}

#[test]
fn completions_from_two_lanes_wake_the_driver() {
    loom::model(|| {
        let completions = Arc::new(Completions::new(Permit::default()));
        let lanes: Vec<_> = [10u64, 20u64]
            .into_iter()
            .map(|id| {
                let completions = completions.clone();
                thread::spawn(move || completions.push(id))
            })
            .collect();
        // The driver: sleep until woken, drain, repeat until both completions arrived.
        let mut seen = Vec::new();
        while seen.len() < 2 {
            completions.waker().wait();
            completions.drain_into(&mut seen);
        }
        for lane in lanes {
            lane.join().unwrap();
        }
        seen.sort_unstable();
        assert_eq!(seen, vec![10, 20], "each completion exactly once");
    });
}
