//! durakv-runtime: the `durakv-server` process. It drives the pure engine (`durakv-model`)
//! with real sockets, files, a clock and signals, and makes no decision of its own about
//! persistence: every write, fsync, rename and reply release is the engine's.
//!
//! Module map (data flows top to bottom and back):
//! - [`config`]: `durakv-server [file.conf] [--name value ...]` into settings;
//! - `event_loop`: the one thread owning the engine and every connection (Redis's `ae` order:
//!   serve ready sockets, then drain the engine before sleeping); `accept`: the listeners, the
//!   connection table and the client cap; `client`: one connection's buffers, RESP in and out;
//! - `fs`: the file executor: the AOF's appends and its own fsyncs run inline on the loop
//!   ([`inline_lane`] keeps the log lane's order), every other effect on one OS thread per
//!   lane, fed through [`io_queue`] (tokio-free, on the `sync` shim, so loom can check both);
//! - `repl_stream`: a replica's full-sync payload, serialised on its own thread and handed to
//!   the loop through [`chunk_queue`] (bounded, loom-checked);
//! - `master_link`: a replica's connection to its master (bytes only; the engine decides);
//! - `shutdown`: SIGTERM/SIGINT; `logging`: Redis-style lines on stderr;
//! - [`syscalls`]: the seam every state-changing file call of `fs` goes through (the OS in
//!   the server; a recorder in the crash-conformance test).

mod accept;
mod busy;
pub mod chunk_queue;
mod client;
pub mod config;
mod event_loop;
mod fs;
pub mod inline_lane;
pub mod io_queue;
mod logging;
mod master_link;
mod repl_stream;
mod shutdown;
mod sync;
pub mod syscalls;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use mio::Poll;
use model::engine::Engine;

use crate::accept::Clients;
use crate::config::{Cli, ServerConfig};
use crate::event_loop::{clock_ms, EventLoop, Exit, LoopWaker};
use crate::fs::FileWorkers;
use crate::syscalls::{Os, Syscalls};

/// Test hook, not an API: the file threads ([`fs`]'s `FileWorkers`), reached by
/// `tests/tests/conformance.rs` to check them against `model::sim::SimDisk`.
#[doc(hidden)]
pub struct FileWorkersForTests<W: io_queue::Wake + 'static, S: Syscalls = Os>(FileWorkers<W, S>);

impl<W: io_queue::Wake + 'static> FileWorkersForTests<W> {
    /// Starts the lane threads on `dir`.
    pub fn start(dir: &Path, waker: W) -> std::io::Result<Self> {
        FileWorkers::start(dir, waker).map(FileWorkersForTests)
    }
}

impl<W: io_queue::Wake + 'static, S: Syscalls> FileWorkersForTests<W, S> {
    /// Starts the lane threads on `dir`, every state-changing call going through `sys`
    /// (`tests/tests/conformance_crash.rs` records them).
    pub fn start_with(dir: &Path, waker: W, sys: S) -> std::io::Result<Self> {
        FileWorkers::start_with(dir, waker, sys).map(FileWorkersForTests)
    }

    /// Runs `effect` as the server does: an append inline when its lane allows, published as
    /// a completion like the lane threads' (with a wake), anything else queued on its lane.
    pub fn submit(&mut self, effect: model::io::Effect) {
        let mut done = Vec::new();
        self.0.submit([effect], &mut done);
        for done in done {
            self.0.completions().push(done);
        }
    }

    /// Moves every completion published so far to `out`, oldest first.
    pub fn drain_into(&mut self, out: &mut Vec<model::io::IoDone>) {
        self.0.drain_into(out);
    }

    /// Waits for the next wake of the completions' waker.
    pub fn waker(&self) -> &W {
        self.0.completions().waker()
    }
}

/// The `durakv-server` entry point: parses the arguments, runs, exits with the status.
pub fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let config = match config::from_args(&args) {
        Ok(Cli::Run(config)) => config,
        Ok(Cli::Version) => {
            println!("durakv server v={}", env!("CARGO_PKG_VERSION"));
            return;
        }
        Ok(Cli::Help) => {
            println!("Usage: durakv-server [/path/to/durakv.conf] [--name value ...]");
            println!("       durakv-server --port 7777 --appendfsync always --save \"\"");
            return;
        }
        Err(error) => {
            eprintln!("{error}");
            std::process::exit(1);
        }
    };
    // Lane threads may still hold a view being written (a snapshot nobody waits for): exiting
    // the process ends them.
    std::process::exit(run(*config));
}

/// Runs a server with `config` until it stops; returns the process exit status.
pub fn run(config: ServerConfig) -> i32 {
    logging::notice("durakv is starting");
    let pid = std::process::id();
    let version = env!("CARGO_PKG_VERSION");
    logging::notice(&format!(
        "durakv version={version}, bits=64, pid={pid}, just started"
    ));
    let event_loop = match acquire(&config) {
        Ok(event_loop) => event_loop,
        Err(message) => return fatal(&message),
    };
    match event_loop.run() {
        // The engine said goodbye in its own log line.
        Exit::Stopped => 0,
        Exit::Refused(error) => fatal(&format!("Fatal error loading the DB: {error}. Exiting.")),
    }
}

/// Resolves `dir`, binds, installs signal handlers and starts the file threads; the error is
/// the line to print before exiting 1.
fn acquire(config: &ServerConfig) -> Result<EventLoop, String> {
    let dir = match std::fs::canonicalize(&config.dir) {
        Ok(dir) if dir.is_dir() => dir,
        Ok(dir) => {
            return Err(format!(
                "Can't chdir to '{}': Not a directory",
                dir.display()
            ))
        }
        Err(error) => {
            return Err(format!(
                "Can't chdir to '{}': {error}",
                config.dir.display()
            ))
        }
    };
    let addresses: Vec<SocketAddr> = config
        .bind
        .iter()
        .map(|ip| SocketAddr::new(*ip, config.port))
        .collect();
    let listeners = accept::bind(&addresses)?;
    let poll = Poll::new().map_err(|e| format!("Cannot create the poller: {e}"))?;
    let waker = mio::Waker::new(poll.registry(), accept::WAKER)
        .map_err(|e| format!("Cannot create the poller's waker: {e}"))?;
    let waker = LoopWaker(Arc::new(waker));
    let signal_waker = waker.clone();
    let stops = shutdown::listen(move || io_queue::Wake::wake(&signal_waker))
        .map_err(|e| format!("Cannot install signal handlers: {e}"))?;
    let files = FileWorkers::start(&dir, waker.clone())
        .map_err(|e| format!("Cannot start the file threads: {e}"))?;
    let clients = Clients::new(poll.registry(), listeners, config.maxclients as usize)
        .map_err(|e| format!("Cannot listen: {e}"))?;
    log_settings(config, &addresses, &dir);
    let mut engine_config = config.engine.clone();
    engine_config.runtime_settings = config.runtime_settings(&dir);
    engine_config.runtime_defaults = ServerConfig::runtime_defaults();
    engine_config.config_file = config.config_file.as_ref().map(|p| p.display().to_string());
    Ok(EventLoop {
        poll,
        engine: Engine::new(engine_config, clock_ms()),
        files,
        clients,
        stops,
        stops_seen: 0,
        accepting: true,
        deadline_ms: None,
        now_ms: clock_ms(),
        completed: Vec::new(),
        touched: Vec::new(),
        opened: Vec::new(),
        loading_since: Instant::now(),
        ready: false,
        waker,
        syncing: Vec::new(),
        master: None,
        missed: Vec::new(),
    })
}

fn fatal(message: &str) -> i32 {
    logging::warning(message);
    1
}

fn log_settings(config: &ServerConfig, addresses: &[SocketAddr], dir: &Path) {
    let listening: Vec<String> = addresses.iter().map(ToString::to_string).collect();
    logging::notice(&format!(
        "Listening on {} (dir {})",
        listening.join(", "),
        dir.display()
    ));
    let e = &config.engine;
    let aof = if e.appendonly {
        format!("yes, appendfsync {}", e.appendfsync.as_str())
    } else {
        "no".to_string()
    };
    logging::notice(&format!(
        "appendonly {aof}; appenddirname {}",
        e.appenddirname
    ));
}
