//! The runtime's side of a script that runs past `busy-reply-threshold`: the engine's Lua hook
//! calls [`BusyHost`] (model's `WhileBusy`) with the engine borrowed by the running step, and
//! this serves the other connections in a restricted mode — read their requests, write what
//! the engine's gate answers (`-BUSY`, SCRIPT KILL's `+OK`, …) — as Redis's
//! `processEventsWhileBlocked` does.
//!
//! Owns no decision: every answer is the gate's. Invariants: the connection running the
//! script is not in the table meanwhile (taken out by the loop), so it is never served here;
//! every readiness event taken from the poller here is handed back to the loop (`missed`),
//! since edge-triggered readiness is reported once and the loop must still act on it
//! (accepting, file completions, the rest of a connection's input) after the script.

use mio::{Events, Poll, Token};
use model::command::BusyGate;
use model::engine::{ClientId, Reply, WhileBusy};

use crate::accept::{self, Clients, Target};
use crate::event_loop::clock_ms;

/// Readiness events taken per serve.
const EVENTS_COUNT_MAX: usize = 256;

pub(crate) struct BusyHost<'a> {
    pub(crate) clients: &'a mut Clients,
    pub(crate) poll: &'a mut Poll,
    /// Tokens whose readiness the loop must still handle after the script.
    pub(crate) missed: &'a mut Vec<Token>,
    /// Connections accepted meanwhile: the loop announces them to the engine afterwards
    /// (the engine makes a client's state at its first command anyway).
    pub(crate) opened: &'a mut Vec<usize>,
    /// Released replies for the connection running the script (out of the table): the loop
    /// writes them once it is back, before anything released after them.
    pub(crate) held: &'a mut Vec<(ClientId, Reply)>,
    /// Whether the listeners still accept.
    accepting: bool,
    /// Allocated at the first serve: most steps never run a slow script.
    events: Option<Events>,
}

/// Where the loop was when the script started: readiness it took from the poller but has not
/// handled yet is invisible here, so the first serve tries every connection and listener.
fn sweep(host: &mut BusyHost<'_>, gate: &mut BusyGate) {
    if host.accepting {
        for i in 0..host.clients.listener_count() {
            host.accept(i, gate);
        }
    }
    for slot in host.clients.slots() {
        host.serve_client(slot, gate);
    }
}

impl<'a> BusyHost<'a> {
    pub(crate) fn new(
        clients: &'a mut Clients,
        poll: &'a mut Poll,
        (missed, opened, held): (
            &'a mut Vec<Token>,
            &'a mut Vec<usize>,
            &'a mut Vec<(ClientId, Reply)>,
        ),
        accepting: bool,
    ) -> Self {
        BusyHost {
            clients,
            poll,
            missed,
            opened,
            held,
            accepting,
            events: None,
        }
    }

    fn accept(&mut self, i: usize, gate: &mut BusyGate) {
        let mut next = self.opened.len();
        self.clients.accept(self.poll.registry(), i, self.opened);
        while let Some(&slot) = self.opened.get(next) {
            self.serve_client(slot, gate);
            next += 1;
        }
    }

    fn serve_client(&mut self, slot: usize, gate: &mut BusyGate) {
        let Some(client) = self.clients.get_mut(slot) else {
            return;
        };
        client.note_readable();
        let id = client.id;
        let served = client.serve_busy(&mut |command, argv| gate.answer(id, command, argv));
        if served.is_ok() && client.has_output() {
            // Errors and a socket refusing output are the loop's to handle (`missed`).
            let _ = client.flush();
        }
    }
}

impl WhileBusy for BusyHost<'_> {
    fn now_ms(&mut self) -> u64 {
        clock_ms()
    }

    fn serve(&mut self, gate: &mut BusyGate, released: Vec<(ClientId, Reply)>) {
        for (id, reply) in released {
            // Replies the engine held from before the script (the log allowed them).
            let slot = self.clients.slot_of(id);
            let Some(client) = slot.and_then(|s| self.clients.get_mut(s)) else {
                if slot.is_some() {
                    // The running connection: taken out of the table for the step.
                    self.held.push((id, reply));
                }
                continue;
            };
            client.push_reply(reply);
            let _ = client.flush();
        }
        if self.events.is_none() {
            sweep(self, gate);
        }
        let events = self
            .events
            .get_or_insert_with(|| Events::with_capacity(EVENTS_COUNT_MAX));
        if self
            .poll
            .poll(events, Some(std::time::Duration::ZERO))
            .is_err()
        {
            return;
        }
        let tokens: Vec<Token> = events.iter().map(|e| e.token()).collect();
        for token in tokens {
            self.missed.push(token);
            match accept::target(token) {
                Target::Client(slot) => self.serve_client(slot, gate),
                Target::Listener(i) if self.accepting => self.accept(i, gate),
                // The master link is read after the script, from `missed`.
                Target::Listener(_) | Target::Waker | Target::MasterLink => {}
            }
        }
    }
}
