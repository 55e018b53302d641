//! The client table: each connection's command-layer session (database, MULTI, WATCH) and the
//! engine's own per-connection state (name, authentication, protocol, reply mode, address),
//! plus the connection-wide states CLIENT KILL and CLIENT PAUSE leave (killed clients, held
//! requests).
//!
//! Owns these maps. Invariants: a closed connection leaves no trace in them nor in the command
//! layer's shared state (its WATCHes); a client's requests are executed in arrival order, so
//! once one is held by a pause every later one is held behind it; state that varies with the
//! clock or the address (`Conn`) exists only for connections the runtime announced with
//! `handle_client_opened`, which the model checker never calls, so every model state keeps
//! the same per-client values as before RESP3 (the pinned state counts check this).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use bytes::Bytes;

use crate::command::{self, CommandId, Session, Shared};
use crate::resp::Protocol;

/// A connection, as the runtime numbers them.
pub type ClientId = u64;

/// Where a connection comes from, as the runtime tells the engine when it opens.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct ClientAddr {
    /// Peer address, `ip:port`.
    pub addr: String,
    /// Local address, `ip:port`.
    pub laddr: String,
    /// The socket's file descriptor (CLIENT LIST `fd=`).
    pub fd: i64,
}

/// CLIENT REPLY's state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) enum ReplyMode {
    #[default]
    On,
    Off,
    /// CLIENT REPLY SKIP ran: its own reply is dropped, then `Skip`.
    SkipNext,
    /// The next reply is dropped, then `On`.
    Skip,
}

/// A connection the runtime announced: its addresses and clock-dependent bookkeeping.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Conn {
    pub(crate) addr: ClientAddr,
    pub(crate) opened_ms: u64,
    pub(crate) last_ms: u64,
    /// The last command, `None` before any or if unknown; CLIENT LIST renders its full name.
    pub(crate) last_cmd: Option<LastCommand>,
}

/// What CLIENT LIST's `cmd=` shows, kept as the resolved id (and a container's subcommand) so
/// noting it costs no allocation on the request path; the text is built only when listed.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct LastCommand {
    pub(crate) id: CommandId,
    /// The subcommand of a container command (`client`, `command`, `config`), as sent.
    pub(crate) sub: Option<Bytes>,
}

/// Per-connection state the engine keeps beside the command layer's session.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct ClientInfo {
    pub(crate) name: Option<Bytes>,
    pub(crate) authenticated: bool,
    pub(crate) proto: Protocol,
    pub(crate) reply: ReplyMode,
    pub(crate) lib_name: Option<Bytes>,
    pub(crate) lib_ver: Option<Bytes>,
    pub(crate) no_evict: bool,
    pub(crate) conn: Option<Conn>,
}

/// CLIENT PAUSE in force.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Pause {
    pub(crate) until_ms: u64,
    /// `ALL`: every command is held; `WRITE`: only those that may write or propagate.
    pub(crate) all: bool,
}

/// A request held by a pause, to run when it ends.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Held {
    pub(crate) client: ClientId,
    pub(crate) id: Option<CommandId>,
    pub(crate) argv: Vec<Bytes>,
}

/// A client parked by a blocking command (BLPOP, ...): the command runs again when a key it
/// waits on may serve it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Blocked {
    pub(crate) client: ClientId,
    pub(crate) id: Option<CommandId>,
    pub(crate) argv: Vec<Bytes>,
    pub(crate) block: command::Block,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct Clients {
    pub(crate) sessions: BTreeMap<ClientId, Session>,
    pub(crate) info: BTreeMap<ClientId, ClientInfo>,
    /// Killed by CLIENT KILL, not yet reported closed: their later requests are dropped.
    pub(crate) killed: BTreeSet<ClientId>,
    pub(crate) pause: Option<Pause>,
    pub(crate) held: VecDeque<Held>,
    /// Clients parked by a blocking command, in the order they blocked (Redis serves them in
    /// that order). Their later requests wait in `held`.
    pub(crate) blocked: VecDeque<Blocked>,
    /// Set by CLIENT KILL when it matched its own client, taken right after its reply is
    /// queued (so always false between two requests).
    pub(crate) pending_self_kill: bool,
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
        self.forget(client, shared);
        self.killed.remove(&client);
    }

    /// Forgets everything about `client` but that it was killed.
    pub(crate) fn forget(&mut self, client: ClientId, shared: &mut Shared) {
        self.sessions.remove(&client);
        self.info.remove(&client);
        self.held.retain(|h| h.client != client);
        self.blocked.retain(|b| b.client != client);
        command::client_closed(shared, client);
    }

    /// The protocol to send `client`'s next reply in, or `None` if CLIENT REPLY drops it.
    /// Reads the table without creating an entry, so replies before a client's first command
    /// (a refusal while loading) leave the state as it was.
    pub(crate) fn reply_protocol(&mut self, client: ClientId) -> Option<Protocol> {
        let Some(info) = self.info.get_mut(&client) else {
            return Some(Protocol::Resp2);
        };
        match info.reply {
            ReplyMode::On => Some(info.proto),
            ReplyMode::Off => None,
            ReplyMode::SkipNext => {
                info.reply = ReplyMode::Skip;
                None
            }
            ReplyMode::Skip => {
                info.reply = ReplyMode::On;
                None
            }
        }
    }

    pub(crate) fn is_blocked(&self, client: ClientId) -> bool {
        self.blocked.iter().any(|b| b.client == client)
    }

    /// INFO `connected_clients`.
    pub(crate) fn connected_count(&self) -> usize {
        self.sessions.len().max(self.info.len())
    }
}
