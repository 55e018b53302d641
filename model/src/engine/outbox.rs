//! The queue of effects the engine has decided on and the executor has not yet taken.
//!
//! Invariant: effect ids increase by one per effect, so each completion names exactly one effect.

use std::collections::VecDeque;

use crate::io::{Effect, EffectId, Lane, Op};

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct Outbox {
    effects: VecDeque<Effect>,
    id_next: EffectId,
}

impl Outbox {
    pub(crate) fn emit(&mut self, lane: Lane, op: Op) -> EffectId {
        let id = self.id_next;
        self.id_next += 1;
        self.effects.push_back(Effect { id, lane, op });
        id
    }

    pub(crate) fn pop(&mut self) -> Option<Effect> {
        self.effects.pop_front()
    }
}
