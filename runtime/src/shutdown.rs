//! SIGTERM and SIGINT: the first asks for a graceful stop, a second one exits at once.
//!
//! Owns the signal handlers. Invariant: the first signal only publishes a request (the driver
//! decides how to stop, through the engine); only a repeated signal bypasses the engine, as
//! Redis's "You insist... exiting now".

use std::io;

use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;

use crate::logging;

/// Installs the handlers; the receiver's value counts stop requests.
pub(crate) fn listen() -> io::Result<watch::Receiver<u64>> {
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    let (requests, receiver) = watch::channel(0u64);
    tokio::spawn(async move {
        let mut count = 0u64;
        loop {
            let name = tokio::select! {
                _ = terminate.recv() => "SIGTERM",
                _ = interrupt.recv() => "SIGINT",
            };
            count += 1;
            if count > 1 {
                logging::warning("You insist... exiting now.");
                std::process::exit(1);
            }
            logging::notice(&format!("Received {name} scheduling shutdown..."));
            requests.send_replace(count);
        }
    });
    Ok(receiver)
}
