//! What the engine has decided to emit and the driver has not taken yet: effects for the
//! executor and events for the operator. (Replies have their own queue, with release rules:
//! see `replies.rs`.)
//!
//! Invariants: effect sequence numbers increase by one per effect and each effect id names its
//! owner, so each completion names exactly one effect and the part of the engine waiting for it;
//! effects and events leave in the order they were decided.

use std::collections::VecDeque;

use crate::io::{Effect, EffectId, Lane, Op, Owner};

use super::event::{Event, Level};

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct Outbox {
    effects: VecDeque<Effect>,
    seq_next: u64,
    events: VecDeque<Event>,
}

impl Outbox {
    pub(crate) fn emit(&mut self, owner: Owner, lane: Lane, op: Op) -> EffectId {
        let id = EffectId {
            seq: self.seq_next,
            owner,
        };
        self.seq_next += 1;
        self.effects.push_back(Effect { id, lane, op });
        id
    }

    pub(crate) fn pop_effect(&mut self) -> Option<Effect> {
        self.effects.pop_front()
    }

    pub(crate) fn notice(&mut self, message: String) {
        self.events.push_back(Event {
            level: Level::Notice,
            message,
        });
    }

    pub(crate) fn warn(&mut self, message: String) {
        self.events.push_back(Event {
            level: Level::Warning,
            message,
        });
    }

    pub(crate) fn pop_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }
}
