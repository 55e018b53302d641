//! The client table: each connection's command-layer session (database, MULTI, WATCH) and the
//! engine's own per-connection state (name, authentication).
//!
//! Owns both maps. Invariant: a closed connection leaves no trace in either map nor in the
//! command layer's shared state (its WATCHes).

use std::collections::BTreeMap;

use bytes::Bytes;

use crate::command::{self, Session, Shared};

/// A connection, as the runtime numbers them.
pub type ClientId = u64;

/// Per-connection state the engine keeps beside the command layer's session.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct ClientInfo {
    pub(crate) name: Option<Bytes>,
    pub(crate) authenticated: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct Clients {
    pub(crate) sessions: BTreeMap<ClientId, Session>,
    pub(crate) info: BTreeMap<ClientId, ClientInfo>,
}

impl Clients {
    pub(crate) fn session(&self, client: ClientId) -> Option<&Session> {
        self.sessions.get(&client)
    }

    pub(crate) fn session_mut(&mut self, client: ClientId) -> Option<&mut Session> {
        self.sessions.get_mut(&client)
    }

    /// The session of `client`, created on its first command.
    pub(crate) fn session_or_new(&mut self, client: ClientId) -> &mut Session {
        self.sessions.entry(client).or_insert_with(|| Session {
            client_id: client,
            ..Session::default()
        })
    }

    /// A connection closed: forget its session (its WATCHes, its MULTI).
    pub(crate) fn handle_closed(&mut self, client: ClientId, shared: &mut Shared) {
        self.sessions.remove(&client);
        self.info.remove(&client);
        command::client_closed(shared, client);
    }

    /// INFO `connected_clients`.
    pub(crate) fn connected_count(&self) -> usize {
        self.sessions.len().max(self.info.len())
    }
}
