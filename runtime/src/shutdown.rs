//! SIGTERM and SIGINT: the first asks for a graceful stop, a second one exits at once.
//!
//! Owns the signal handlers, on a thread of their own (a small tokio runtime: the event loop
//! has no signal source). Invariant: the first signal only publishes a request and wakes the
//! loop (which decides how to stop, through the engine); only a repeated signal bypasses the
//! engine, as Redis's "You insist... exiting now".

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::signal::unix::{signal, SignalKind};

use crate::logging;

/// Installs the handlers; the returned counter counts stop requests, and `wake` is called
/// after each change.
pub(crate) fn listen(wake: impl Fn() + Send + 'static) -> io::Result<Arc<AtomicU64>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    // Installed here, before returning, so a signal sent right after start-up is not missed.
    let (mut terminate, mut interrupt) = runtime.block_on(async {
        Ok::<_, io::Error>((
            signal(SignalKind::terminate())?,
            signal(SignalKind::interrupt())?,
        ))
    })?;
    let requests = Arc::new(AtomicU64::new(0));
    let published = requests.clone();
    std::thread::Builder::new()
        .name("durakv-signals".to_string())
        .spawn(move || {
            runtime.block_on(async move {
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
                    published.store(count, Ordering::SeqCst);
                    wake();
                }
            });
        })?;
    Ok(requests)
}
