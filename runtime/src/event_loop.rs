//! The event loop: one thread owning the engine, every connection and the listeners, in
//! Redis's `ae` order — wait for readiness, serve every ready socket (read, parse, hand each
//! request straight to the engine), then, before sleeping again, drain the engine's outputs:
//! effects to the file executor, released replies written to their sockets, log lines, the
//! next deadline.
//!
//! Owns the poller, the engine and the connection table. Invariants:
//! - every state change is a `handle_*` call with the clock read once per turn;
//! - no persistence decision is made here: effects go to the executor as the engine emitted
//!   them, completions come back as they finished, and replies leave when the engine releases
//!   them, in the order it releases them;
//! - the loop never blocks on a client: replies are written with non-blocking writes, and what
//!   a socket refuses waits for its writability (bounded, see `client.rs`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mio::{Events, Poll, Token};
use model::engine::{Engine, Phase, Reply, StartError};
use model::io::IoDone;

use crate::accept::{self, Clients, Target};
use crate::busy::BusyHost;
use crate::client::Status;
use crate::fs::FileWorkers;
use crate::io_queue::Wake;
use crate::logging;
use crate::repl_stream;

/// Readiness events taken from the poller per wait.
const EVENTS_COUNT_MAX: usize = 1024;
/// How long a stopping server waits for connections to take their last replies.
const DRAIN_WAIT: Duration = Duration::from_secs(2);

/// Why the loop returned.
pub(crate) enum Exit {
    /// Shutdown finished: everything logged is durable (or the engine said why not).
    Stopped,
    /// Start-up refused to load the files.
    Refused(StartError),
}

/// Wakes the loop from another thread (file-thread completions, signals). The poller's waker
/// is an eventfd: a wake given while the loop is busy stays pending until its next wait.
#[derive(Clone)]
pub(crate) struct LoopWaker(pub(crate) Arc<mio::Waker>);

impl Wake for LoopWaker {
    fn wake(&self) {
        // Fails only if the eventfd cannot be written, which leaves the next wait to time out.
        let _ = self.0.wake();
    }
}

pub(crate) struct EventLoop {
    pub(crate) poll: Poll,
    pub(crate) engine: Engine,
    pub(crate) files: FileWorkers<LoopWaker>,
    pub(crate) clients: Clients,
    /// Count of SIGTERM/SIGINT received; `stops_seen` is the count already handled.
    pub(crate) stops: Arc<AtomicU64>,
    pub(crate) stops_seen: u64,
    pub(crate) accepting: bool,
    pub(crate) deadline_ms: Option<u64>,
    pub(crate) now_ms: u64,
    pub(crate) completed: Vec<IoDone>,
    /// Slots that got replies this turn (to write), or were opened (to announce).
    pub(crate) touched: Vec<usize>,
    pub(crate) opened: Vec<usize>,
    pub(crate) loading_since: Instant,
    pub(crate) ready: bool,
    /// Wakes this loop (full-sync payload threads use it at each chunk).
    pub(crate) waker: LoopWaker,
    /// Slots of replicas whose full-sync payload is being streamed.
    pub(crate) syncing: Vec<usize>,
    /// A replica's connection to its master (`master_link.rs`).
    pub(crate) master: Option<crate::master_link::MasterLink>,
    /// Poll tokens a busy script's serving took from the poller, for the loop to handle.
    pub(crate) missed: Vec<Token>,
}

impl EventLoop {
    /// Drives the engine until it stops or refuses to start. Meant to run for the server's life.
    pub(crate) fn run(mut self) -> Exit {
        let mut events = Events::with_capacity(EVENTS_COUNT_MAX);
        // The engine starts with effects queued (reading the manifest).
        self.now_ms = clock_ms();
        self.before_sleep();
        loop {
            match self.engine.phase() {
                Phase::Stopped => {
                    self.drain_output();
                    return Exit::Stopped;
                }
                Phase::Refused(error) => return Exit::Refused(error.clone()),
                Phase::Loading | Phase::Running | Phase::Stopping => {}
            }
            // Clients left with work by `before_sleep`'s bounded rounds must not wait for I/O.
            let timeout = if self.touched.is_empty() && self.missed.is_empty() {
                (self.deadline_ms).map(|at| Duration::from_millis(at.saturating_sub(clock_ms())))
            } else {
                Some(Duration::ZERO)
            };
            if let Err(error) = self.poll.poll(&mut events, timeout) {
                if error.kind() != std::io::ErrorKind::Interrupted {
                    logging::warning(&format!("Waiting for events: {error}"));
                }
            }
            self.now_ms = clock_ms();
            let mut tokens: Vec<Token> = events.iter().map(|e| e.token()).collect();
            tokens.append(&mut self.missed);
            while !tokens.is_empty() {
                for token in tokens {
                    match accept::target(token) {
                        Target::Waker => self.on_wake(),
                        Target::Listener(i) => self.on_accept(i),
                        Target::Client(slot) => self.on_client(slot),
                        Target::MasterLink => self.on_master_link(),
                    }
                }
                // Readiness a busy script's serving took from the poller (`busy.rs`).
                tokens = std::mem::take(&mut self.missed);
            }
            if self.deadline_ms.is_some_and(|at| self.now_ms >= at) {
                self.engine.handle_timeout(self.now_ms);
            }
            self.before_sleep();
        }
    }

    /// Completions from the file threads, and stop requests from the signal thread.
    fn on_wake(&mut self) {
        let stops = self.stops.load(Ordering::SeqCst);
        if stops != self.stops_seen {
            self.stops_seen = stops;
            self.engine.handle_shutdown(self.now_ms);
        }
        self.files.drain_into(&mut self.completed);
        for done in self.completed.drain(..) {
            self.engine.handle_io(self.now_ms, done);
        }
        self.serve_payloads();
    }

    /// Moves the chunks full-sync threads produced into their replicas' sockets.
    fn serve_payloads(&mut self) {
        for slot in self.syncing.clone() {
            self.write_client(slot);
        }
        let clients = &mut self.clients;
        (self.syncing).retain(|&slot| clients.get_mut(slot).is_some_and(|c| c.has_payload()));
    }

    fn on_accept(&mut self, i: usize) {
        if !self.accepting {
            return;
        }
        self.clients
            .accept(self.poll.registry(), i, &mut self.opened);
        for slot in std::mem::take(&mut self.opened) {
            let Some(client) = self.clients.get_mut(slot) else {
                continue;
            };
            let (id, addr) = (client.id, client.addr());
            self.engine.handle_client_opened(self.now_ms, id, addr);
            // Requests may already be waiting (edge-triggered: no event would tell again).
            self.on_client(slot);
        }
    }

    /// A client's socket is ready: write what waits, read and dispatch what arrived.
    fn on_client(&mut self, slot: usize) {
        let Some(client) = self.clients.get_mut(slot) else {
            return;
        };
        // Edge-triggered: this event may be the only word that input arrived.
        client.note_readable();
        if client.has_output() {
            self.write_client(slot);
        }
        self.read_client(slot);
    }

    fn read_client(&mut self, slot: usize) {
        // Out of the table while its commands run: a busy script serves the others (`busy.rs`).
        let Some(mut client) = self.clients.take(slot) else {
            return;
        };
        let (engine, now_ms, id) = (&mut self.engine, self.now_ms, client.id);
        let mut held = Vec::new();
        let lists = (&mut self.missed, &mut self.opened, &mut held);
        let mut host = BusyHost::new(&mut self.clients, &mut self.poll, lists, self.accepting);
        let result = client.serve_input(&mut |command, argv| {
            engine.handle_resolved_busy(now_ms, id, command, argv, &mut host);
        });
        // Its own replies released while its script was busy, in order, before later ones.
        for (_, reply) in held {
            client.push_reply(reply);
        }
        self.clients.put_back(slot, client);
        if result.is_err() {
            // The peer is gone: what it was owed cannot be delivered.
            self.close_client(slot);
            return;
        }
        self.touched.push(slot);
    }

    /// Before sleeping: the engine's outputs, then every touched socket written.
    fn before_sleep(&mut self) {
        // A reply written can let a client parse more, which feeds the engine again.
        for _ in 0..8 {
            self.drive_outputs();
            if !self.write_touched() {
                break;
            }
        }
        self.note_phase();
        self.deadline_ms = self.engine.poll_timeout();
    }

    /// Drains the engine: effects, replies into their clients' buffers, log lines.
    fn drive_outputs(&mut self) {
        // Appends are written here, inline; their completions go straight back to the engine,
        // which may release replies and emit more (the next group of records).
        loop {
            let engine = &mut self.engine;
            let effects = std::iter::from_fn(|| engine.poll_effect());
            self.files.submit(effects, &mut self.completed);
            if self.completed.is_empty() {
                break;
            }
            for done in self.completed.drain(..) {
                self.engine.handle_io(self.now_ms, done);
            }
        }
        while let Some((id, reply)) = self.engine.poll_reply() {
            let Some(slot) = self.clients.slot_of(id) else {
                continue;
            };
            let Some(client) = self.clients.get_mut(slot) else {
                continue;
            };
            if let Reply::Sync(sync) = reply {
                // The payload is serialised on its own thread; see `repl_stream.rs`.
                match repl_stream::start(sync, self.waker.clone()) {
                    Ok(payload) => {
                        client.start_payload(payload);
                        self.syncing.push(slot);
                    }
                    Err(error) => {
                        logging::warning(&format!("Cannot start a full sync thread: {error}"));
                        self.close_client(slot);
                        continue;
                    }
                }
            } else {
                client.push_reply(reply);
            }
            self.touched.push(slot);
        }
        self.drive_link();
        while let Some(event) = self.engine.poll_event() {
            logging::engine(event.level, &event.message);
        }
    }

    /// Writes every touched client's output; returns whether any client took more input.
    fn write_touched(&mut self) -> bool {
        let mut fed = false;
        let mut touched = std::mem::take(&mut self.touched);
        touched.sort_unstable();
        touched.dedup();
        for slot in touched.drain(..) {
            self.write_client(slot);
            let Some(client) = self.clients.get_mut(slot) else {
                continue;
            };
            if client.wants_input() {
                self.read_client(slot);
                fed = true;
            }
        }
        // Slots touched meanwhile (by the reads above) are served in the next round.
        if self.touched.is_empty() {
            self.touched = touched;
        }
        fed
    }

    fn write_client(&mut self, slot: usize) {
        let Some(client) = self.clients.get_mut(slot) else {
            return;
        };
        let was_waiting = client.waits_writable;
        let status = client.flush();
        if client.take_payload_sent() {
            // What the engine owed the replica is released on the next turn.
            let id = client.id;
            self.engine.handle_replica_synced(self.now_ms, id);
            self.touched.push(slot);
        }
        match status {
            Status::Close => self.close_client(slot),
            Status::Open { writable } if writable != was_waiting => {
                (self.clients).want_writable(self.poll.registry(), slot, writable);
            }
            Status::Open { .. } => {}
        }
    }

    fn close_client(&mut self, slot: usize) {
        if let Some(id) = self.clients.remove(self.poll.registry(), slot) {
            self.engine.handle_client_closed(id);
        }
    }

    /// Reacts to the engine's phase: announces readiness once, and stops accepting as soon as
    /// the engine is stopping (by signal or by the SHUTDOWN command), since new clients would
    /// only be told the server is going away.
    fn note_phase(&mut self) {
        let phase = self.engine.phase();
        if matches!(phase, Phase::Stopping | Phase::Stopped) && self.accepting {
            self.accepting = false;
            self.clients.stop_accepting(self.poll.registry());
        }
        if self.ready || *phase != Phase::Running {
            return;
        }
        self.ready = true;
        let seconds = self.loading_since.elapsed().as_secs_f64();
        let keys = self.engine.keyspace().len();
        logging::notice(&format!(
            "Done loading in {seconds:.3} seconds: {keys} keys in memory"
        ));
        logging::notice("Ready to accept connections tcp");
    }

    /// The engine stopped: give every connection up to [`DRAIN_WAIT`] to take the replies it
    /// was sent, then close them all.
    fn drain_output(&mut self) {
        let until = Instant::now() + DRAIN_WAIT;
        let mut events = Events::with_capacity(EVENTS_COUNT_MAX);
        loop {
            for slot in self.clients.slots() {
                let waiting = self.clients.get_mut(slot).is_some_and(|c| c.has_output());
                if !waiting {
                    self.close_client(slot);
                } else {
                    self.write_client(slot);
                }
            }
            let now = Instant::now();
            if self.clients.is_empty() || now >= until {
                return;
            }
            let _ = self.poll.poll(&mut events, Some(until - now));
        }
    }
}

/// Unix time in milliseconds: the engine's only clock.
pub(crate) fn clock_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
