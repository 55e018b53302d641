//! Loom checks of the log lane as the event loop runs it: appends written inline on the loop's
//! thread, fsyncs (and truncates, procedures) on the lane's thread, completions back through
//! the waker (`durakv_runtime::inline_lane` over `durakv_runtime::io_queue`).
//!
//! Goal: under every interleaving loom explores (preemption bound `LOOM_MAX_PREEMPTIONS`,
//! default 3): (1) an append never overtakes an item the lane's thread has not finished (a
//! retry's truncate before the requeued append: the truncate would cut an acknowledged
//! write); (2) under `always`, a reply released when its fsync's completion is seen finds its
//! bytes durable — the fsync ran after the append's write returned — and every completion is
//! seen exactly once (no double delivery, no lost wake-up).
//! Method: the real [`InlineLane`], [`LaneQueue`], [`serve`] and [`Completions`] over loom's
//! primitives; the disk is a loom mutex holding what was written and what is durable; the
//! engine's release rule (a reply leaves when the completion of the fsync issued after its
//! append is drained) is played by the test's loop.
//!
//! Each test has broken twins running the same code with one [`Fault`] seeded (a switch that
//! exists only under `--cfg durakv_loom`): `#[should_panic]` for a broken assertion, a child
//! process for a deadlock (see `loom_io_queue.rs`, which also checks the queues alone).
//!
//! Run: `RUSTFLAGS="--cfg durakv_loom" LOOM_MAX_PREEMPTIONS=3 \
//!       cargo test --release -p durakv-runtime --target-dir target/loom --test loom_log_lane \
//!       -- --nocapture`
#![cfg(durakv_loom)]

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use durakv_runtime::inline_lane::InlineLane;
use durakv_runtime::io_queue::{serve, Completions, Fault, LaneQueue, Wake};
use loom::sync::{Arc, Condvar, Mutex};
use loom::thread;

/// Set in the child process that runs a deadlocking twin's model.
const CHILD_ENV: &str = "DURAKV_LOOM_CHILD";

/// A waker that keeps one permit, like the poller's eventfd waker.
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
    fn wait(&self) {
        let mut set = self.set.lock().unwrap();
        while !*set {
            set = self.changed.wait(set).unwrap();
        }
        *set = false;
    }
}

/// A file operation of the log lane.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FileOp {
    /// Write records up to this offset.
    Append(u64),
    /// Cut the file back to this offset (a retry after a failure).
    Truncate(u64),
    /// Make everything written durable.
    Fsync,
}

/// The file: its length, what is durable, and the order operations ran in.
#[derive(Default)]
struct Disk {
    written: u64,
    durable: u64,
    ran: Vec<FileOp>,
}

impl Disk {
    fn run(disk: &Mutex<Disk>, op: FileOp) {
        let mut disk = disk.lock().unwrap();
        match op {
            FileOp::Append(end) => disk.written = end,
            FileOp::Truncate(len) => disk.written = disk.written.min(len),
            FileOp::Fsync => disk.durable = disk.written,
        }
        disk.ran.push(op);
    }
}

/// The loop's side: the inline lane, the lane thread's queue, the completions.
struct Loop {
    lane: InlineLane<u64>,
    queue: Arc<LaneQueue<(u64, FileOp)>>,
    completions: Arc<Completions<u64, Permit>>,
    disk: Arc<Mutex<Disk>>,
    seen: Vec<u64>,
}

impl Loop {
    /// Starts the lane's thread; `fault` goes to the inline lane and the completions.
    fn start(fault: Fault) -> (Loop, thread::JoinHandle<()>) {
        let queue = Arc::new(LaneQueue::new());
        let completions = Arc::new(Completions::with_fault(Permit::default(), fault));
        let disk = Arc::new(Mutex::new(Disk::default()));
        let worker = {
            let (queue, completions, disk) = (queue.clone(), completions.clone(), disk.clone());
            thread::spawn(move || {
                serve(&queue, &completions, |(key, op)| {
                    Disk::run(&disk, op);
                    key
                });
            })
        };
        let lane = InlineLane::with_fault(fault);
        let seen = Vec::new();
        let this = Loop {
            lane,
            queue,
            completions,
            disk,
            seen,
        };
        (this, worker)
    }

    /// One turn's items, as `FileWorkers::submit`: appends may run inline.
    fn submit(&mut self, items: &[(u64, FileOp)]) {
        let disk = self.disk.clone();
        let queue = self.queue.clone();
        let mut inline_done = Vec::new();
        let turn = items
            .iter()
            .map(|&(key, op)| (key, (key, op), matches!(op, FileOp::Append(_))));
        self.lane.submit(
            turn,
            |(key, op)| {
                Disk::run(&disk, op);
                key
            },
            |item| queue.push(item).expect("the lane is open"),
            &mut inline_done,
        );
        self.note(inline_done);
    }

    fn note(&mut self, done: Vec<u64>) {
        for key in done {
            assert!(!self.seen.contains(&key), "completion {key} seen twice");
            self.lane.seen(&key);
            self.seen.push(key);
        }
    }

    /// Sleeps until woken and drains, until `key`'s completion was seen.
    fn wait_for(&mut self, key: u64) {
        while !self.seen.contains(&key) {
            self.completions.waker().wait();
            let mut done = Vec::new();
            self.completions.drain_into(&mut done);
            self.note(done);
        }
    }

    fn finish(self, worker: thread::JoinHandle<()>) -> Disk {
        self.queue.close();
        worker.join().unwrap();
        let disk = Arc::try_unwrap(self.disk).ok().expect("one owner left");
        disk.into_inner().unwrap()
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

/// Re-executes this test binary to run the `#[ignore]`d `child` alone, and asserts it died
/// of loom's deadlock report.
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
        "no child test {child}:\n{text}"
    );
    assert!(
        !output.status.success(),
        "{child}: loom found no deadlock:\n{text}"
    );
    assert!(
        text.contains("deadlock"),
        "{child}: not a deadlock:\n{text}"
    );
    println!("loom: {child} deadlocked as expected ({:?})", output.status);
}

fn is_child() -> bool {
    std::env::var_os(CHILD_ENV).is_some()
}

// ---------------------------------------------------------------------------------------------
// (1) An append never overtakes the lane.

/// A failed write left bytes 1..=2 suspect: the retry truncates to 1 (on the lane's thread),
/// and in the next turn — before the truncate's completion was seen — the requeued bytes are
/// appended again. The append must land after the truncate, or the truncate cuts it.
fn append_after_truncate(fault: Fault) {
    let (mut lp, worker) = Loop::start(fault);
    lp.submit(&[(1, FileOp::Append(2))]);
    lp.submit(&[(2, FileOp::Truncate(1))]);
    lp.submit(&[(3, FileOp::Append(2))]);
    lp.wait_for(3);
    lp.wait_for(2);
    let disk = lp.finish(worker);
    assert_eq!(
        disk.written, 2,
        "an append overtook the lane: ran {:?}",
        disk.ran
    );
    let expected = [FileOp::Append(2), FileOp::Truncate(1), FileOp::Append(2)];
    assert_eq!(disk.ran, expected, "an append overtook the lane");
}

#[test]
fn inline_append_keeps_the_lane_order() {
    model(
        "inline_append_keeps_the_lane_order",
        Fault::None,
        append_after_truncate,
    );
}

#[test]
#[should_panic(expected = "an append overtook the lane")]
fn inline_append_twin_ignores_the_lane() {
    model(
        "inline_append_twin_ignores_the_lane",
        Fault::InlineIgnoresLane,
        append_after_truncate,
    );
}

// ---------------------------------------------------------------------------------------------
// (2) Under `always`, a reply leaves only with its bytes durable; completions once each.

/// Two group commits as the engine issues them under `always`: a turn with the append of the
/// group and the fsync covering it; the next group's turn comes once the fsync's completion
/// was seen. Each group's reply is released at that moment and must find its bytes durable.
fn group_commits(fault: Fault) {
    let (mut lp, worker) = Loop::start(fault);
    for (group, end) in [(0u64, 1u64), (1, 2)] {
        let (append, fsync) = (10 * group + 1, 10 * group + 2);
        lp.submit(&[(append, FileOp::Append(end)), (fsync, FileOp::Fsync)]);
        lp.wait_for(fsync);
        // The engine releases the group's replies now.
        let durable = lp.disk.lock().unwrap().durable;
        assert!(
            durable >= end,
            "reply released before its fsync completed: durable {durable} < {end}"
        );
    }
    let disk = lp.finish(worker);
    assert_eq!(disk.durable, 2);
}

#[test]
fn reply_waits_for_its_fsync() {
    model("reply_waits_for_its_fsync", Fault::None, group_commits);
}

#[test]
#[should_panic(expected = "reply released before its fsync completed")]
fn reply_waits_for_its_fsync_twin_inline_after_queue() {
    model(
        "reply_waits_for_its_fsync_twin_inline_after_queue",
        Fault::InlineAfterQueue,
        group_commits,
    );
}

#[test]
#[should_panic(expected = "seen twice")]
fn reply_waits_for_its_fsync_twin_double_delivery() {
    model(
        "reply_waits_for_its_fsync_twin_double_delivery",
        Fault::DrainKeepsItems,
        group_commits,
    );
}

#[test]
fn reply_waits_for_its_fsync_twin_lost_wake_up() {
    assert_child_deadlocks("reply_waits_for_its_fsync_twin_lost_wake_up_child");
}

#[test]
#[ignore = "a deadlocking model: run by reply_waits_for_its_fsync_twin_lost_wake_up in a child"]
fn reply_waits_for_its_fsync_twin_lost_wake_up_child() {
    if is_child() {
        model(
            "reply_waits_for_its_fsync_twin_lost_wake_up_child",
            Fault::WakeBeforePublish,
            group_commits,
        );
    }
}
