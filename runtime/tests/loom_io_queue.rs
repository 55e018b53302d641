//! Loom checks of the event loop ("driver") ↔ file-thread hand-off (`durakv_runtime::io_queue`).
//!
//! Goal: under every interleaving loom explores (preemption bound `LOOM_MAX_PREEMPTIONS`,
//! default 3): (1) a lane's thread runs items in push order, and everything queued before
//! `close` runs before the thread ends, even when it is asleep as the lane closes; (2)
//! completions from two lanes are all seen by a driver that sleeps between wakes — no wake-up
//! is lost (a completion pushed while the driver goes to sleep), none is seen twice; (3) the
//! lane body [`serve`], which wakes once per batch, keeps (1) and (2) end to end.
//! Method: the real queue types over loom's primitives; the loop's eventfd waker is played by a
//! flag + condvar that keeps one permit, as an eventfd does.
//!
//! Each test has a broken twin running the same code with one [`Fault`] seeded (a switch that
//! exists only under `--cfg durakv_loom`). A twin that breaks an assertion is a
//! `#[should_panic]` test; a twin whose bug is a lost wake-up deadlocks, which makes loom abort
//! the whole binary, so its model runs in an `#[ignore]`d child test that the twin re-executes
//! from this binary (`--exact NAME --ignored`, with `DURAKV_LOOM_CHILD=1`), asserting the child
//! died of loom's "deadlock" report.
//!
//! Every model prints `loom: NAME completed in N iterations` and asserts N > 1, so a run cut
//! short is visible.
//!
//! Run: `RUSTFLAGS="--cfg durakv_loom" LOOM_MAX_PREEMPTIONS=3 \
//!       cargo test --release -p durakv-runtime --target-dir target/loom --test loom_io_queue \
//!       -- --nocapture`
#![cfg(durakv_loom)]

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use durakv_runtime::io_queue::{serve, Completions, Fault, LaneQueue, Wake};
use loom::sync::{Arc, Condvar, Mutex};
use loom::thread;

/// Set in the child process that runs a deadlocking twin's model.
const CHILD_ENV: &str = "DURAKV_LOOM_CHILD";

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

/// Runs `f` under loom with the preemption bound from `LOOM_MAX_PREEMPTIONS` (default 3),
/// prints the number of interleavings explored and asserts there was more than one.
fn model<F: Fn(Fault) + Sync + Send + 'static>(name: &str, fault: Fault, f: F) {
    let bound = std::env::var("LOOM_MAX_PREEMPTIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(bound);
    // Counted outside loom (a std atomic is invisible to it), once per execution.
    let iterations = std::sync::Arc::new(AtomicUsize::new(0));
    let counter = iterations.clone();
    builder.check(move || {
        counter.fetch_add(1, Ordering::Relaxed);
        f(fault);
    });
    let n = iterations.load(Ordering::Relaxed);
    println!("loom: {name} completed in {n} iterations (preemption bound {bound})");
    assert!(n > 1, "loom: {name} explored only {n} interleaving(s)");
}

/// Re-executes this test binary to run the `#[ignore]`d test `child` alone, and asserts it
/// failed with loom's deadlock report (a deadlock aborts the process, so it cannot be caught
/// in-process).
fn assert_child_deadlocks(child: &str) {
    let exe = std::env::current_exe().expect("test binary path");
    let output = Command::new(exe)
        .args([
            "--exact",
            child,
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .output()
        .expect("run the child test");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        text.contains("running 1 test"),
        "the child ran no test named {child}:\n{text}"
    );
    assert!(
        !output.status.success(),
        "{child}: loom found no deadlock:\n{text}"
    );
    assert!(
        text.contains("deadlock"),
        "{child} failed, but not with loom's deadlock report ({:?}):\n{text}",
        output.status
    );
    println!("loom: {child} deadlocked as expected ({:?})", output.status);
}

/// Whether this process is the child that should run a deadlocking model.
fn is_child() -> bool {
    std::env::var_os(CHILD_ENV).is_some()
}

// ---------------------------------------------------------------------------------------------
// A lane: FIFO, and close drains what is queued.

/// The driver pushes 1, 2 and closes while the lane thread pops (possibly already asleep).
fn lane_fifo_and_close(fault: Fault) {
    let lane = Arc::new(LaneQueue::with_fault(fault));
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
    let seen = consumer.join().unwrap();
    assert!(seen.len() == 2, "close dropped queued items: ran {seen:?}");
    assert_eq!(seen, vec![1, 2], "lane ran out of order");
}

#[test]
fn lane_is_fifo_and_close_drains() {
    model(
        "lane_is_fifo_and_close_drains",
        Fault::None,
        lane_fifo_and_close,
    );
}

#[test]
#[should_panic(expected = "lane ran out of order")]
fn lane_is_fifo_twin_lifo() {
    model(
        "lane_is_fifo_twin_lifo",
        Fault::LaneLifo,
        lane_fifo_and_close,
    );
}

#[test]
#[should_panic(expected = "close dropped queued items")]
fn close_drains_twin_drops_queued() {
    model(
        "close_drains_twin_drops_queued",
        Fault::CloseDropsQueued,
        lane_fifo_and_close,
    );
}

#[test]
fn close_wakes_lane_twin_without_notify() {
    assert_child_deadlocks("close_wakes_lane_twin_without_notify_child");
}

#[test]
#[ignore = "a deadlocking model: run by close_wakes_lane_twin_without_notify in a child"]
fn close_wakes_lane_twin_without_notify_child() {
    if is_child() {
        model(
            "close_wakes_lane_twin_without_notify_child",
            Fault::CloseWithoutNotify,
            lane_fifo_and_close,
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Completions: no lost wake-up, nothing seen twice.

/// Two lanes push one completion each; the driver sleeps until woken, drains, repeats.
fn two_lanes_wake_driver(fault: Fault) {
    let completions = Arc::new(Completions::with_fault(Permit::default(), fault));
    let lanes: Vec<_> = [10u64, 20u64]
        .into_iter()
        .map(|id| {
            let completions = completions.clone();
            thread::spawn(move || completions.push(id))
        })
        .collect();
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
}

#[test]
fn completions_from_two_lanes_wake_the_driver() {
    model(
        "completions_from_two_lanes_wake_the_driver",
        Fault::None,
        two_lanes_wake_driver,
    );
}

#[test]
#[should_panic(expected = "each completion exactly once")]
fn completions_twin_drain_keeps_items() {
    model(
        "completions_twin_drain_keeps_items",
        Fault::DrainKeepsItems,
        two_lanes_wake_driver,
    );
}

#[test]
fn completions_twin_wake_before_publish() {
    assert_child_deadlocks("completions_twin_wake_before_publish_child");
}

#[test]
#[ignore = "a deadlocking model: run by completions_twin_wake_before_publish in a child"]
fn completions_twin_wake_before_publish_child() {
    if is_child() {
        model(
            "completions_twin_wake_before_publish_child",
            Fault::WakeBeforePublish,
            two_lanes_wake_driver,
        );
    }
}

/// A lane that publishes a completion without waking (more work queued) and then pushes the
/// next one, beside another lane: the driver still sees all three, once each.
fn publish_then_push(fault: Fault) {
    let completions = Arc::new(Completions::with_fault(Permit::default(), fault));
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
    assert_eq!(seen, vec![10, 11, 20], "each completion exactly once");
}

#[test]
fn publish_then_push_is_not_lost() {
    model(
        "publish_then_push_is_not_lost",
        Fault::None,
        publish_then_push,
    );
}

#[test]
fn publish_then_push_twin_wake_before_publish() {
    assert_child_deadlocks("publish_then_push_twin_wake_before_publish_child");
}

#[test]
#[ignore = "a deadlocking model: run by publish_then_push_twin_wake_before_publish in a child"]
fn publish_then_push_twin_wake_before_publish_child() {
    if is_child() {
        model(
            "publish_then_push_twin_wake_before_publish_child",
            Fault::WakeBeforePublish,
            publish_then_push,
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The lane body end to end: `serve` on two lanes, a sleeping driver, then shutdown.

/// Lane A gets 1 then 2 (a batch: the first completion may be published without a wake),
/// lane B gets 3; the driver sleeps until woken and drains until it has all three, checking
/// each lane's completions arrive in push order; then it closes both lanes and joins them.
/// `fault` is seeded into lane A and into the completions.
fn serve_two_lanes(fault: Fault) {
    let completions = Arc::new(Completions::with_fault(Permit::default(), fault));
    let lane_a = Arc::new(LaneQueue::with_fault(fault));
    let lane_b = Arc::new(LaneQueue::new());
    let threads: Vec<_> = [lane_a.clone(), lane_b.clone()]
        .into_iter()
        .map(|lane| {
            let completions = completions.clone();
            thread::spawn(move || serve(&lane, &completions, |item: u64| item * 10))
        })
        .collect();
    lane_a.push(1).unwrap();
    lane_a.push(2).unwrap();
    lane_b.push(3).unwrap();
    let mut seen = Vec::new();
    while seen.len() < 3 {
        completions.waker().wait();
        completions.drain_into(&mut seen);
    }
    let lane_a_seen: Vec<u64> = seen.iter().copied().filter(|d| *d != 30).collect();
    assert_eq!(lane_a_seen, vec![10, 20], "lane completed out of order");
    let mut all = seen.clone();
    all.sort_unstable();
    assert_eq!(all, vec![10, 20, 30], "each completion exactly once");
    lane_a.close();
    lane_b.close();
    for thread in threads {
        thread.join().unwrap();
    }
}

#[test]
fn serve_keeps_order_and_wakes_the_driver() {
    model(
        "serve_keeps_order_and_wakes_the_driver",
        Fault::None,
        serve_two_lanes,
    );
}

#[test]
#[should_panic(expected = "lane completed out of order")]
fn serve_twin_lifo() {
    model("serve_twin_lifo", Fault::LaneLifo, serve_two_lanes);
}

#[test]
fn serve_twin_wake_inverted() {
    assert_child_deadlocks("serve_twin_wake_inverted_child");
}

#[test]
#[ignore = "a deadlocking model: run by serve_twin_wake_inverted in a child"]
fn serve_twin_wake_inverted_child() {
    if is_child() {
        model(
            "serve_twin_wake_inverted_child",
            Fault::ServeWakeInverted,
            serve_two_lanes,
        );
    }
}
