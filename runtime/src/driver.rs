//! The one task that owns the [`Engine`]: feeds it inputs, drains its outputs, arms its timer.
//!
//! Owns the engine, the table of client reply channels and the file workers' hand-off.
//! Invariants (quinn's `ConnectionDriver` shape):
//! - every state change is a `handle_*` call with the clock read once per turn;
//! - after each turn the outputs are drained in a fixed order: effects to the file workers,
//!   replies to clients, log lines to stderr, then the next deadline;
//! - no persistence decision is made here: effects go to their lane as the engine emitted
//!   them, completions come back as they finished, and replies leave when the engine
//!   releases them;
//! - the driver never waits on a client: replies go out with `try_send`, and a client whose
//!   queue is full is disconnected (Redis's client output buffer limit).

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use model::command::CommandId;
use model::engine::{ClientAddr, ClientId, Engine, Phase, Reply, StartError};
use model::io::IoDone;
use tokio::sync::{mpsc, watch, Notify};
use tokio::time::{Instant, Sleep};

use crate::fs::FileWorkers;
use crate::io_queue::Wake;
use crate::logging;

/// Requests taken from the queue in one turn before the outputs are drained.
const REQUEST_BATCH_COUNT_MAX: usize = 256;

/// What a connection tells the driver.
pub(crate) enum Request {
    /// A new connection and the channel its replies go to.
    Open {
        client: ClientId,
        addr: ClientAddr,
        replies: mpsc::Sender<Vec<Reply>>,
    },
    /// Requests in the order the client sent them, each with its resolved command.
    Commands {
        client: ClientId,
        commands: Vec<(Option<CommandId>, Vec<Bytes>)>,
    },
    Closed {
        client: ClientId,
    },
}

/// Why the driver returned.
pub(crate) enum Exit {
    /// Shutdown finished: everything logged is durable (or the engine said why not).
    Stopped,
    /// Start-up refused to load the files.
    Refused(StartError),
}

/// Wakes the driver when a file thread completes an effect; `Notify` keeps one permit, so a
/// completion published while the driver is busy is seen on its next wait.
pub(crate) struct NotifyWaker(pub(crate) Arc<Notify>);

impl Wake for NotifyWaker {
    fn wake(&self) {
        self.0.notify_one();
    }
}

/// What ended a wait.
enum Woke {
    Stop,
    Nothing,
    Io,
    Timer,
    Request(Option<Request>),
}

pub(crate) struct Driver {
    engine: Engine,
    files: FileWorkers<NotifyWaker>,
    requests: mpsc::Receiver<Request>,
    requests_open: bool,
    clients: HashMap<ClientId, mpsc::Sender<Vec<Reply>>>,
    /// Replies released in this turn, gathered per client so each gets one message.
    outgoing: HashMap<ClientId, Vec<Reply>>,
    /// Count of SIGTERM/SIGINT received; a change means "shut down".
    stop: watch::Receiver<u64>,
    stop_open: bool,
    /// Tells the accept loops to stop taking connections.
    accepting: watch::Sender<bool>,
    deadline_ms: Option<u64>,
    /// One timer for the driver's life, re-armed only when the deadline moves (a new timer
    /// per turn would cost a timer-wheel insert and removal per batch of commands).
    timer: Pin<Box<Sleep>>,
    timer_armed_ms: Option<u64>,
    /// The clock of the last turn, to turn the engine's unix-ms deadline into a sleep.
    turn: (u64, Instant),
    completed: Vec<IoDone>,
    loading_since: Instant,
    ready: bool,
}

impl Driver {
    pub(crate) fn new(
        engine: Engine,
        files: FileWorkers<NotifyWaker>,
        requests: mpsc::Receiver<Request>,
        stop: watch::Receiver<u64>,
        accepting: watch::Sender<bool>,
    ) -> Self {
        Driver {
            engine,
            files,
            requests,
            requests_open: true,
            clients: HashMap::new(),
            outgoing: HashMap::new(),
            stop,
            stop_open: true,
            accepting,
            deadline_ms: None,
            timer: Box::pin(tokio::time::sleep(Duration::ZERO)),
            timer_armed_ms: None,
            turn: (clock_ms(), Instant::now()),
            completed: Vec::new(),
            loading_since: Instant::now(),
            ready: false,
        }
    }

    /// Drives the engine until it stops or refuses to start. Meant to run for the server's life.
    pub(crate) async fn run(mut self) -> Exit {
        // The engine starts with effects queued (reading the manifest).
        self.drive_outputs();
        loop {
            match self.engine.phase() {
                Phase::Stopped => return Exit::Stopped,
                Phase::Refused(error) => return Exit::Refused(error.clone()),
                Phase::Loading | Phase::Running | Phase::Stopping => {}
            }
            let woke = self.wait().await;
            self.turn = (clock_ms(), Instant::now());
            self.handle(woke);
            self.drive_outputs();
        }
    }

    async fn wait(&mut self) -> Woke {
        if let Some(at) = self
            .deadline_ms
            .filter(|at| self.timer_armed_ms != Some(*at))
        {
            let (now_ms, now) = self.turn;
            self.timer
                .as_mut()
                .reset(now + Duration::from_millis(at.saturating_sub(now_ms)));
            self.timer_armed_ms = Some(at);
        }
        let io = self.files.completions().waker().0.clone();
        tokio::select! {
            // Stop and completions first: they unblock replies. Requests last, but they are
            // taken in batches, so a busy server still serves many commands per turn.
            biased;
            changed = self.stop.changed(), if self.stop_open => match changed {
                Ok(()) => Woke::Stop,
                // The signal task is gone: nothing more will come from it.
                Err(_) => {
                    self.stop_open = false;
                    Woke::Nothing
                }
            },
            () = io.notified() => Woke::Io,
            () = &mut self.timer, if self.deadline_ms.is_some() => {
                // Fired: re-arm on the next wait even if the engine keeps the same deadline.
                self.timer_armed_ms = None;
                Woke::Timer
            }
            request = self.requests.recv(), if self.requests_open => Woke::Request(request),
        }
    }

    fn handle(&mut self, woke: Woke) {
        let now_ms = self.turn.0;
        match woke {
            Woke::Stop => self.shutdown(now_ms),
            Woke::Nothing => {}
            Woke::Io => {
                self.files.completions().drain_into(&mut self.completed);
                for done in self.completed.drain(..) {
                    self.engine.handle_io(now_ms, done);
                }
            }
            Woke::Timer => self.engine.handle_timeout(now_ms),
            Woke::Request(None) => self.requests_open = false,
            Woke::Request(Some(request)) => {
                self.on_request(now_ms, request);
                // Take what is already queued: commands arriving together share the engine's
                // next write and fsync.
                for _ in 1..REQUEST_BATCH_COUNT_MAX {
                    let Ok(request) = self.requests.try_recv() else {
                        break;
                    };
                    self.on_request(now_ms, request);
                }
            }
        }
    }

    fn on_request(&mut self, now_ms: u64, request: Request) {
        match request {
            Request::Open {
                client,
                addr,
                replies,
            } => {
                self.clients.insert(client, replies);
                self.engine.handle_client_opened(now_ms, client, addr);
            }
            Request::Commands { client, commands } => {
                for (id, argv) in commands {
                    self.engine.handle_resolved(now_ms, client, id, argv);
                }
            }
            Request::Closed { client } => {
                self.clients.remove(&client);
                self.engine.handle_client_closed(client);
            }
        }
    }

    fn shutdown(&mut self, now_ms: u64) {
        self.engine.handle_shutdown(now_ms);
    }

    /// Drains the engine's outputs in quinn's order: effects, replies, events, timer.
    fn drive_outputs(&mut self) {
        while let Some(effect) = self.engine.poll_effect() {
            self.files.submit(effect);
        }
        while let Some((client, reply)) = self.engine.poll_reply() {
            self.outgoing.entry(client).or_default().push(reply);
        }
        let outgoing = std::mem::take(&mut self.outgoing);
        for (client, frames) in outgoing {
            self.deliver(client, frames);
        }
        while let Some(event) = self.engine.poll_event() {
            logging::engine(event.level, &event.message);
        }
        self.note_phase();
        self.deadline_ms = self.engine.poll_timeout();
    }

    /// Sends one client its replies of this turn, in the order the engine released them.
    fn deliver(&mut self, client: ClientId, frames: Vec<Reply>) {
        let Some(replies) = self.clients.get(&client) else {
            return;
        };
        match replies.try_send(frames) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                // Dropping the sender closes the connection; its `Closed` follows.
                logging::warning(&format!(
                    "Client id={client} closed for overcoming of output buffer limits."
                ));
                self.clients.remove(&client);
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                self.clients.remove(&client);
            }
        }
    }

    /// Reacts to the engine's phase: announces readiness once, and stops the accept loops as
    /// soon as the engine is stopping (by signal or by the SHUTDOWN command), since new clients
    /// would only be told the server is going away.
    fn note_phase(&mut self) {
        let phase = self.engine.phase();
        if matches!(phase, Phase::Stopping | Phase::Stopped) && *self.accepting.borrow() {
            self.accepting.send_replace(false);
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
}

/// Unix time in milliseconds: the engine's only clock.
pub(crate) fn clock_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
