//! durakv-runtime: the `durakv-server` process. It drives the pure engine (`durakv-model`)
//! with real sockets, files, a clock and signals, and makes no decision of its own about
//! persistence: every write, fsync, rename and reply release is the engine's.
//!
//! Module map (data flows top to bottom and back):
//! - [`config`]: `durakv-server [file.conf] [--name value ...]` into settings;
//! - `accept`: the listeners, accept loops and the client cap; `connection`: one task per
//!   client, RESP in and out, and QUIT;
//! - `driver`: the one task owning the engine (quinn's `drive_*` shape);
//! - `fs`: one OS thread per effect lane executing file operations, fed through
//!   [`io_queue`] (tokio-free, on the `sync` shim, so loom can check it);
//! - `shutdown`: SIGTERM/SIGINT; `logging`: Redis-style lines on stderr.

mod accept;
pub mod config;
mod connection;
mod driver;
mod fs;
pub mod io_queue;
mod logging;
mod shutdown;
mod sync;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use model::engine::Engine;
use tokio::sync::{mpsc, watch, Notify, Semaphore};

use crate::accept::Acceptor;
use crate::config::{Cli, ServerConfig};
use crate::driver::{Driver, Exit, NotifyWaker, Request};
use crate::fs::FileWorkers;

/// Test hook, not an API: the file threads ([`fs`]'s `FileWorkers`), reached by
/// `tests/tests/conformance.rs` to check them against `model::sim::SimDisk`.
#[doc(hidden)]
pub struct FileWorkersForTests<W: io_queue::Wake + 'static>(FileWorkers<W>);

impl<W: io_queue::Wake + 'static> FileWorkersForTests<W> {
    /// Starts the lane threads on `dir`.
    pub fn start(dir: &Path, waker: W) -> std::io::Result<Self> {
        FileWorkers::start(dir, waker).map(FileWorkersForTests)
    }

    /// Queues `effect` on its lane.
    pub fn submit(&self, effect: model::io::Effect) {
        self.0.submit(effect);
    }

    /// Where the lane threads put their completions.
    pub fn completions(&self) -> &io_queue::Completions<model::io::IoDone, W> {
        self.0.completions()
    }
}

/// Requests queued from all connections to the driver before senders wait.
const REQUEST_QUEUE_COUNT_MAX: usize = 4096;
/// How long a stopping server waits for connections to write their last replies.
const DRAIN_WAIT: Duration = Duration::from_secs(2);

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
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            logging::warning(&format!("Cannot start the async runtime: {error}"));
            std::process::exit(1);
        }
    };
    let status = runtime.block_on(run(*config));
    // Lane threads may still hold a view being written (a snapshot nobody waits for).
    runtime.shutdown_timeout(Duration::from_millis(100));
    std::process::exit(status);
}

/// Runs a server with `config` until it stops; returns the process exit status.
pub async fn run(config: ServerConfig) -> i32 {
    logging::notice("durakv is starting");
    let pid = std::process::id();
    let version = env!("CARGO_PKG_VERSION");
    logging::notice(&format!(
        "durakv version={version}, bits=64, pid={pid}, just started"
    ));
    let acquired = match acquire(&config).await {
        Ok(acquired) => acquired,
        Err(message) => return fatal(&message),
    };
    let Acquired {
        dir,
        listeners,
        stop,
        files,
    } = acquired;
    let (requests_tx, requests_rx) = mpsc::channel::<Request>(REQUEST_QUEUE_COUNT_MAX);
    let (accepting_tx, accepting_rx) = watch::channel(true);
    let permits = Arc::new(Semaphore::new(config.maxclients as usize));
    let acceptor = Acceptor {
        requests: requests_tx,
        accepting: accepting_rx,
        permits: permits.clone(),
        client_ids: Arc::new(AtomicU64::new(1)),
    };
    let accept_tasks: Vec<_> = listeners
        .into_iter()
        .map(|l| tokio::spawn(acceptor.clone().run(l)))
        .collect();
    drop(acceptor);
    let mut engine_config = config.engine.clone();
    engine_config.runtime_settings = config.runtime_settings(&dir);
    let engine = Engine::new(engine_config, driver::clock_ms());
    let exit = Driver::new(engine, files, requests_rx, stop, accepting_tx)
        .run()
        .await;
    for task in accept_tasks {
        task.abort();
    }
    // The driver is gone, so every reply channel is closed: connections write what they hold.
    let _ = accept::wait_for_connections(&permits, config.maxclients, DRAIN_WAIT).await;
    match exit {
        // The engine said goodbye in its own log line.
        Exit::Stopped => 0,
        Exit::Refused(error) => fatal(&format!("Fatal error loading the DB: {error}. Exiting.")),
    }
}

/// What start-up needs from the operating system before the engine runs.
struct Acquired {
    dir: PathBuf,
    listeners: Vec<tokio::net::TcpListener>,
    stop: watch::Receiver<u64>,
    files: FileWorkers<NotifyWaker>,
}

/// Resolves `dir`, binds, installs signal handlers and starts the file threads; the error is
/// the line to print before exiting 1.
async fn acquire(config: &ServerConfig) -> Result<Acquired, String> {
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
    let listeners = accept::bind(&addresses).await?;
    let stop = shutdown::listen().map_err(|e| format!("Cannot install signal handlers: {e}"))?;
    let files = FileWorkers::start(&dir, NotifyWaker(Arc::new(Notify::new())))
        .map_err(|e| format!("Cannot start the file threads: {e}"))?;
    log_settings(config, &addresses, &dir);
    Ok(Acquired {
        dir,
        listeners,
        stop,
        files,
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
