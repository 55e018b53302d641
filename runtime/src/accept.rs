//! Accepting clients: the bound listeners, one accept loop per address, a client cap, a stop.
//!
//! Owns the listeners and the client-id counter. Invariants: at most `maxclients` connections
//! are served at once (one semaphore permit each, released when the connection task ends,
//! which is also how the stop waits for them); no connection is accepted after the driver
//! said to stop.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch, Semaphore};

use crate::connection::{Connection, IN_FLIGHT_COUNT_MAX};
use crate::driver::Request;
use crate::logging;

/// What every accept loop shares.
#[derive(Clone)]
pub(crate) struct Acceptor {
    pub(crate) requests: mpsc::Sender<Request>,
    pub(crate) accepting: watch::Receiver<bool>,
    pub(crate) permits: Arc<Semaphore>,
    pub(crate) client_ids: Arc<AtomicU64>,
}

/// Binds every address; the error names the address, as Redis's message does.
pub(crate) async fn bind(addresses: &[SocketAddr]) -> Result<Vec<TcpListener>, String> {
    let mut listeners = Vec::new();
    for address in addresses {
        match TcpListener::bind(address).await {
            Ok(listener) => listeners.push(listener),
            Err(error) => {
                return Err(format!(
                "Warning: Could not create server TCP listening socket {address}: bind: {error}"
            ))
            }
        }
    }
    Ok(listeners)
}

impl Acceptor {
    /// Accepts until told to stop. Meant to run for the server's life.
    pub(crate) async fn run(mut self, listener: TcpListener) {
        loop {
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                _ = self.accepting.wait_for(|accepting| !*accepting) => return,
            };
            match accepted {
                Ok((stream, _)) => self.serve(stream),
                Err(error) => {
                    // EMFILE and friends: wait instead of spinning on the same error.
                    logging::warning(&format!("Accepting client connection: {error}"));
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }

    fn serve(&self, mut stream: TcpStream) {
        // Replies are small and latency matters more than packet count.
        let _ = stream.set_nodelay(true);
        let Ok(permit) = self.permits.clone().try_acquire_owned() else {
            tokio::spawn(async move {
                let _ = stream
                    .write_all(b"-ERR max number of clients reached\r\n")
                    .await;
            });
            return;
        };
        let client = self.client_ids.fetch_add(1, Ordering::Relaxed);
        let (replies_tx, replies_rx) = mpsc::channel(IN_FLIGHT_COUNT_MAX);
        let connection = Connection::new(client, stream, self.requests.clone(), replies_rx);
        tokio::spawn(async move {
            connection.run(replies_tx).await;
            drop(permit);
        });
    }
}

/// Waits until every connection task has ended (all permits are back), at most `limit`.
pub(crate) async fn wait_for_connections(
    permits: &Semaphore,
    count: u32,
    limit: Duration,
) -> io::Result<()> {
    match tokio::time::timeout(limit, permits.acquire_many(count)).await {
        Ok(_) => Ok(()),
        Err(_) => Err(io::Error::from(io::ErrorKind::TimedOut)),
    }
}
