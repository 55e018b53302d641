//! Accepting clients and the table of open connections: the bound listeners, the client cap,
//! the slots that map poll tokens and engine client ids to connections.
//!
//! Owns the listeners, the connection table and the client-id counter. Invariants: at most
//! `maxclients` connections are served at once (one more is told so and closed); no connection
//! is accepted after the engine started stopping (the listeners are dropped); a slot's token is
//! registered with the poller exactly while the slot holds its connection.

use std::collections::HashMap;
use std::io::{self, ErrorKind, Write};
use std::net::SocketAddr;

use mio::net::TcpListener;
use mio::{Interest, Registry, Token};
use model::engine::ClientId;

use crate::client::Client;
use crate::logging;

/// Token of the waker (file-thread completions, signals).
pub(crate) const WAKER: Token = Token(0);
/// Listener `i` has token `LISTENER_BASE + i`.
const LISTENER_BASE: usize = 1;
/// Connection slot `s` has token `CLIENT_BASE + s`.
const CLIENT_BASE: usize = 1 << 16;
/// Token of a replica's link to its master (`master_link.rs`), below every client's.
pub(crate) const MASTER_LINK: Token = Token(CLIENT_BASE - 1);

/// What a poll token names.
pub(crate) enum Target {
    Waker,
    Listener(usize),
    Client(usize),
    MasterLink,
}

pub(crate) fn target(token: Token) -> Target {
    match token.0 {
        0 => Target::Waker,
        n if n == MASTER_LINK.0 => Target::MasterLink,
        n if n >= CLIENT_BASE => Target::Client(n - CLIENT_BASE),
        n => Target::Listener(n - LISTENER_BASE),
    }
}

/// Binds every address; the error names the address, as Redis's message does.
pub(crate) fn bind(addresses: &[SocketAddr]) -> Result<Vec<TcpListener>, String> {
    let mut listeners = Vec::new();
    for address in addresses {
        match TcpListener::bind(*address) {
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

/// The open connections, by slot, and the listeners that add to them.
pub(crate) struct Clients {
    listeners: Vec<TcpListener>,
    slots: Vec<Option<Client>>,
    free: Vec<usize>,
    by_id: HashMap<ClientId, usize>,
    id_next: ClientId,
    count_max: usize,
}

impl Clients {
    pub(crate) fn new(
        registry: &Registry,
        mut listeners: Vec<TcpListener>,
        count_max: usize,
    ) -> io::Result<Self> {
        for (i, listener) in listeners.iter_mut().enumerate() {
            registry.register(listener, Token(LISTENER_BASE + i), Interest::READABLE)?;
        }
        Ok(Clients {
            listeners,
            slots: Vec::new(),
            free: Vec::new(),
            by_id: HashMap::new(),
            id_next: 1,
            count_max,
        })
    }

    /// Stops accepting: the listening sockets close.
    pub(crate) fn stop_accepting(&mut self, registry: &Registry) {
        for mut listener in self.listeners.drain(..) {
            let _ = registry.deregister(&mut listener);
        }
    }

    /// Accepts every pending connection on listener `i`; returns the slots of new clients.
    pub(crate) fn accept(&mut self, registry: &Registry, i: usize, opened: &mut Vec<usize>) {
        loop {
            let Some(listener) = self.listeners.get(i) else {
                return;
            };
            let stream = match listener.accept() {
                Ok((stream, _)) => stream,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(error) => {
                    // EMFILE and friends: the next readiness event retries.
                    logging::warning(&format!("Accepting client connection: {error}"));
                    return;
                }
            };
            // Replies are small and latency matters more than packet count.
            let _ = stream.set_nodelay(true);
            if self.by_id.len() >= self.count_max {
                let mut stream = stream;
                let _ = stream.write(b"-ERR max number of clients reached\r\n");
                continue;
            }
            let id = self.id_next;
            self.id_next += 1;
            let slot = self.free.pop().unwrap_or_else(|| {
                self.slots.push(None);
                self.slots.len() - 1
            });
            let mut client = Client::new(id, stream);
            if registry
                .register(
                    &mut client.stream,
                    Token(CLIENT_BASE + slot),
                    Interest::READABLE,
                )
                .is_err()
            {
                self.free.push(slot);
                continue;
            }
            self.slots[slot] = Some(client);
            self.by_id.insert(id, slot);
            opened.push(slot);
        }
    }

    pub(crate) fn get_mut(&mut self, slot: usize) -> Option<&mut Client> {
        self.slots.get_mut(slot).and_then(Option::as_mut)
    }

    pub(crate) fn listener_count(&self) -> usize {
        self.listeners.len()
    }

    /// Takes the connection out of `slot` while it runs a command (a busy script serves the
    /// others meanwhile, never it); [`Clients::put_back`] returns it. Its token stays
    /// registered and its id mapped.
    pub(crate) fn take(&mut self, slot: usize) -> Option<Client> {
        self.slots.get_mut(slot).and_then(Option::take)
    }

    pub(crate) fn put_back(&mut self, slot: usize, client: Client) {
        assert!(self.slots[slot].is_none(), "a taken slot stays empty");
        self.slots[slot] = Some(client);
    }

    pub(crate) fn slot_of(&self, id: ClientId) -> Option<usize> {
        self.by_id.get(&id).copied()
    }

    /// Asks the poller for writability of `slot` too (`writable`), or readability only.
    pub(crate) fn want_writable(&mut self, registry: &Registry, slot: usize, writable: bool) {
        let Some(client) = self.get_mut(slot) else {
            return;
        };
        let interest = if writable {
            Interest::READABLE | Interest::WRITABLE
        } else {
            Interest::READABLE
        };
        let _ = registry.reregister(&mut client.stream, Token(CLIENT_BASE + slot), interest);
    }

    /// Removes the client in `slot`; returns its id for the engine.
    pub(crate) fn remove(&mut self, registry: &Registry, slot: usize) -> Option<ClientId> {
        let mut client = self.slots.get_mut(slot)?.take()?;
        let _ = registry.deregister(&mut client.stream);
        self.by_id.remove(&client.id);
        self.free.push(slot);
        Some(client.id)
    }

    /// Slots of every open connection.
    pub(crate) fn slots(&self) -> Vec<usize> {
        (0..self.slots.len())
            .filter(|&s| self.slots[s].is_some())
            .collect()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}
