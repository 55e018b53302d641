//! The runtime's side of a busy script ([`WhileBusy`]: its clock and other connections) and
//! what the Lua hook calls during one step ([`Busy`]: the gate, the host, the reply queue).
//!
//! Owns nothing beyond one step. Invariant: replies queued before the step leave while a
//! script is busy only if the log already allows them (as Redis writes pending replies while
//! a script is busy), so a client waiting for one is not stuck behind the script; a full
//! sync's start and whatever follows it wait for the step's end.

use crate::command::{BusyGate, Interrupt};

use super::clients::ClientId;
use super::replies::{Replies, Reply};

/// The runtime's side of a busy script: its clock and its other connections.
pub trait WhileBusy {
    /// The clock, in ms (the runtime's wall clock; a fake one in tests).
    fn now_ms(&mut self) -> u64;
    /// A script is past the threshold: send `released` (replies queued before the step, which
    /// the log allows now), then read what other connections sent and answer each request as
    /// [`BusyGate::answer`] says. Called every few thousand Lua instructions.
    fn serve(&mut self, gate: &mut BusyGate, released: Vec<(ClientId, Reply)>);
}

/// The gate, the runtime that serves through it and the reply queue, for one step.
pub(super) struct Busy<'h> {
    pub(super) gate: BusyGate,
    pub(super) host: &'h mut dyn WhileBusy,
    pub(super) replies: &'h mut Replies,
    /// The log's `(written, durable)` offsets: they cannot move during the step.
    pub(super) offsets: (u64, u64),
}

impl Interrupt for Busy<'_> {
    fn start(&mut self, eval: bool) {
        let now_ms = self.host.now_ms();
        self.gate.start(now_ms, eval);
    }

    fn tick(&mut self, wrote: bool) -> bool {
        let now_ms = self.host.now_ms();
        if !self.gate.due(now_ms, wrote) {
            return false;
        }
        self.replies.release(self.offsets.0, self.offsets.1);
        let released = std::iter::from_fn(|| self.replies.pop_ready_plain()).collect();
        self.host.serve(&mut self.gate, released);
        self.gate.take_kill()
    }
}
