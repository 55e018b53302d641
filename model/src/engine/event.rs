//! Server events: what the engine reports to the operator (Redis's log lines). The word "log"
//! is kept for the AOF writer; these are events.
//!
//! Owns nothing but the vocabulary. Invariant: every persistence decision worth knowing
//! (loading, truncating, switching files, failing, recovering) is reported as one event.

/// How loud an event is (Redis's `.`, `-`, `*`, `#` levels, loosely).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Level {
    Notice,
    Warning,
}

/// One event for the server's output, drained with `Engine::poll_event`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Event {
    pub level: Level,
    pub message: String,
}
