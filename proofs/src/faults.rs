//! Injected disk faults: where the model may fail an operation, which procedure each failure
//! hit (the sentinels that show a combination was reached), and the check that every I/O
//! error the engine reports was injected.
//!
//! Invariant kept: an I/O error is *injected* only through [`SimDisk::fail`], whose errors are
//! EIO and ENOSPC; a correct disk's own refusals (ENOENT, EEXIST) mean the engine raced
//! itself. So an engine report (event, reply, refusal) that quotes ENOENT or EEXIST, or any
//! I/O error before anything was injected, is an error nobody injected.
//!
//! [`SimDisk::fail`]: model::sim::SimDisk::fail

use model::engine::{Engine, Level, Phase};
use model::io::{Lane, Op};
use model::resp::Frame;

use crate::aof_model::{lane_index, AofModel, State};

/// Where failures may be injected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FailScope {
    /// Only the running log's appends and fsyncs: the sticky-error protocol.
    Log,
    /// Any operation on any lane, in any phase: loading, start-up repair, the cleanup, the
    /// log, rotation, rewrite, snapshot and shutdown.
    Anywhere,
}

/// What a correct disk says when the engine asks for a file that is not there (or is).
const NOT_INJECTED: [&str; 2] = ["No such file or directory", "File exists"];
/// What [`model::sim::SimDisk::fail`] says.
const INJECTED: [&str; 2] = ["Input/output error", "No space left on device"];

impl AofModel {
    /// Whether the disk may fail the head effect of `lane` now.
    pub(crate) fn can_fail(&self, s: &State, lane: Lane) -> bool {
        let Some(head) = s.lanes[lane_index(lane)].front() else {
            return false;
        };
        if s.failures >= self.bounds.failures {
            return false;
        }
        match self.bounds.fail_scope {
            FailScope::Anywhere => true,
            FailScope::Log => {
                let log_io = match &head.op {
                    Op::Append { path, .. } | Op::Fsync { path } => path.ends_with(".incr.aof"),
                    _ => false,
                };
                Self::running(s) && log_io
            }
        }
    }

    /// Notes which procedure an injected failure hit, for the `sometimes` sentinels.
    pub(crate) fn note_injection(s: &mut State) {
        let Some(engine) = s.engine.as_ref() else {
            return;
        };
        let f = &mut s.findings;
        f.failed_starting |= *engine.phase() == Phase::Loading;
        f.failed_stopping |= *engine.phase() == Phase::Stopping;
        f.failed_rotating |= engine.is_rotating();
        f.failed_rewriting |= engine.rewrites().1;
        f.failed_snapshotting |= engine.snapshot_in_progress();
    }
}

/// Whether `text` reports an injected I/O error (a start refused over one is retried).
pub(crate) fn injected(text: &str) -> bool {
    INJECTED.iter().any(|t| text.contains(t))
}

/// Whether `text` (an event, an error reply, a refusal) reports an I/O error that was not
/// injected, given how many failures were injected so far.
pub(crate) fn uninjected(text: &str, failures: u8) -> bool {
    NOT_INJECTED.iter().any(|t| text.contains(t))
        || (failures == 0 && INJECTED.iter().any(|t| text.contains(t)))
}

/// Everything the engine reports now that says the disk failed, checked against what was
/// injected: its events, an error reply, its sticky AOF error and a refused start.
pub(crate) fn report_uninjected(engine: &mut Engine, failures: u8) -> bool {
    let mut found = false;
    while let Some(event) = engine.poll_event() {
        found |= event.level == Level::Warning && uninjected(&event.message, failures);
    }
    found |= engine
        .aof_error()
        .is_some_and(|e| failures == 0 || uninjected(&e.message, failures));
    if let Phase::Refused(e) = engine.phase() {
        found |= uninjected(&e.reason, failures);
    }
    found
}

/// An error reply that reveals an I/O error nobody injected (MISCONF before any failure, or
/// a disk refusal's text).
pub(crate) fn reply_uninjected(frame: &Frame, failures: u8) -> bool {
    match frame {
        Frame::Error(text) => {
            uninjected(text, failures) || (failures == 0 && text.starts_with("MISCONF"))
        }
        _ => false,
    }
}
