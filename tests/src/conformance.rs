//! Shared by the two conformance tests (`tests/tests/conformance.rs`, without crashes, and
//! `conformance_crash.rs`): the waker the real file workers are driven with, running one
//! effect on them to completion, and the helpers that place a case's operations in its own
//! directory and compare results.
//!
//! Invariant: [`execute`] returns only the completion of the effect it submitted, and fails
//! the test on any other completion (the workers run one effect at a time here).

use std::sync::{Condvar, Mutex};

use durakv_runtime::io_queue::Wake;
use durakv_runtime::syscalls::Syscalls;
use durakv_runtime::FileWorkersForTests;
use model::io::{Effect, EffectId, IoDone, IoResult, Lane, Op, Owner};

// The names random schedules work on: files, directories, and a directory that may not exist.
/// File names only ever name files; `gone/x` is in a directory the ops may or may not create.
pub const FILES: &[&str] = &["a", "b", "sub/a", "sub/c", "gone/x"];
/// Directories `CreateDir` may create.
pub const DIRS: &[&str] = &["sub", "gone"];
/// Directories `List` and `FsyncDir` look at, `""` being the top.
pub const LISTED: &[&str] = &["", "sub", "gone"];

/// A waker that keeps one permit, as the driver's `Notify` does.
#[derive(Default)]
pub struct Permit {
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
    /// Waits for the permit and takes it.
    pub fn wait(&self) {
        let mut set = self.set.lock().unwrap();
        while !*set {
            set = self.changed.wait(set).unwrap();
        }
        *set = false;
    }
}

/// Runs `op` on `lane` as effect number `seq` and waits for its completion.
pub fn execute<S: Syscalls>(
    workers: &mut FileWorkersForTests<Permit, S>,
    seq: u64,
    lane: Lane,
    op: Op,
) -> IoResult {
    // The file threads only carry the id back; any owner does.
    let id = EffectId {
        seq,
        owner: Owner::AofLog,
    };
    workers.submit(Effect { id, lane, op });
    let mut done: Vec<IoDone> = Vec::new();
    loop {
        workers.drain_into(&mut done);
        if let Some(at) = done.iter().position(|d| d.id == id) {
            let result = done.swap_remove(at).result;
            assert!(done.is_empty(), "unexpected completions: {done:?}");
            return result;
        }
        assert!(done.is_empty(), "unexpected completions: {done:?}");
        workers.waker().wait();
    }
}

/// Prefixes a case-relative path with the case's directory.
pub fn in_case(case: &str, path: &str) -> String {
    if path.is_empty() {
        case.to_string()
    } else {
        format!("{case}/{path}")
    }
}

/// `op` with every path it names moved into the case's directory.
pub fn rebase(case: &str, op: &Op) -> Op {
    let mut op = op.clone();
    match &mut op {
        Op::Read { path, .. }
        | Op::List { path }
        | Op::CreateDir { path }
        | Op::Create { path }
        | Op::Append { path, .. }
        | Op::Fsync { path }
        | Op::FsyncDir { path }
        | Op::Delete { path }
        | Op::Truncate { path, .. }
        | Op::WriteView { path, .. } => *path = in_case(case, path),
        Op::Rename { from, to } => {
            *from = in_case(case, from);
            *to = in_case(case, to);
        }
    }
    op
}

/// What the two sides are compared on: the OS message of a failure is left out.
pub fn comparable(result: &IoResult) -> String {
    match result {
        IoResult::Failed(error) => format!("Failed({})", error.kind),
        other => format!("{other:?}"),
    }
}
