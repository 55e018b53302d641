//! Reply release: a reply leaves the engine only when the log has reached the point the
//! contract requires for every write executed before it.
//!
//! Owns the ordered queue of replies waiting on the log. Invariant: replies are released in the
//! order their commands executed, and a reply whose requirement is `Durable(offset)` is released
//! only after an fsync covering `offset` completed (under `always`), `Written(offset)` only after
//! the write(2) covering `offset` completed (every policy). Reads carry the same requirement as
//! writes, so no reply reveals data that is not yet where the contract says.
//!
//! Each queued [`Reply`] carries the protocol its client spoke when the command executed.
//! The engine attaches it then, rather than the connection tracking the HELLOs it forwarded:
//! the engine already decides every other property of a reply (order, release, CLIENT REPLY
//! OFF), a HELLO inside a pipeline changes the protocol exactly between two replies, and a
//! RESET or a failed HELLO (whose outcome only the engine knows) needs no second copy of the
//! rules in the runtime.

use std::collections::VecDeque;

use crate::resp::{Frame, Protocol};

use super::clients::ClientId;

/// What the log must have reached before a reply may leave.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Need {
    Nothing,
    Written(u64),
    Durable(u64),
}

/// What answers one request, as released to the driver.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Reply {
    /// Send `frame` encoded in `proto`, the protocol of the client when its command ran.
    Frame { frame: Frame, proto: Protocol },
    /// The request is answered with nothing (CLIENT REPLY OFF or SKIP).
    Silent,
    /// CLIENT KILL: close the connection once the replies released before this one are
    /// written. Answers no request; the client's later requests get nothing.
    Close,
    /// A Pub/Sub message: sent like a frame, but answers no request of this client.
    Push { frame: Frame, proto: Protocol },
    /// Replication stream bytes (or a keepalive newline) for a replica, sent as they are;
    /// answers no request.
    Raw(bytes::Bytes),
    /// A replica's full-sync payload (see `ReplicaSync`); answers no request. What is
    /// released after it is sent after the payload's last byte.
    Sync(super::repl::ReplicaSync),
}

impl Reply {
    /// The frame to send, if any.
    pub fn frame(&self) -> Option<&Frame> {
        match self {
            Reply::Frame { frame, .. } | Reply::Push { frame, .. } => Some(frame),
            Reply::Silent | Reply::Close | Reply::Raw(_) | Reply::Sync(_) => None,
        }
    }

    /// The same reply with its frame replaced (a failure overriding a success).
    fn replaced(&self, with: &Frame) -> Reply {
        match self {
            Reply::Frame { proto, .. } => Reply::Frame {
                frame: with.clone(),
                proto: *proto,
            },
            other => other.clone(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Waiting {
    client: ClientId,
    frame: Reply,
    need: Need,
    /// A snapshot (by generation) that must finish first: SAVE, FLUSHALL with save points.
    snapshot: Option<u64>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct Replies {
    waiting: VecDeque<Waiting>,
    ready: VecDeque<(ClientId, Reply)>,
}

impl Replies {
    pub(crate) fn push(&mut self, client: ClientId, frame: Reply, need: Need) {
        self.waiting.push_back(Waiting {
            client,
            frame,
            need,
            snapshot: None,
        });
    }

    /// Like `push`, and the reply also waits for snapshot `generation` to finish.
    pub(crate) fn push_after_snapshot(
        &mut self,
        client: ClientId,
        frame: Reply,
        need: Need,
        generation: u64,
    ) {
        let snapshot = Some(generation);
        self.waiting.push_back(Waiting {
            client,
            frame,
            need,
            snapshot,
        });
    }

    /// Snapshot `generation` finished; on failure its waiting replies become `failure`.
    pub(crate) fn snapshot_done(&mut self, generation: u64, failure: Option<&Frame>) {
        for waiting in self
            .waiting
            .iter_mut()
            .filter(|w| w.snapshot == Some(generation))
        {
            waiting.snapshot = None;
            if let Some(frame) = failure {
                waiting.frame = waiting.frame.replaced(frame);
            }
        }
    }

    /// Moves every reply whose requirement is met, in order, to the ready queue.
    pub(crate) fn release(&mut self, offset_written: u64, offset_durable: u64) {
        assert!(offset_durable <= offset_written);
        while let Some(head) = self.waiting.front() {
            let met = head.snapshot.is_none()
                && match head.need {
                    Need::Nothing => true,
                    Need::Written(offset) => offset <= offset_written,
                    Need::Durable(offset) => offset <= offset_durable,
                };
            if !met {
                break;
            }
            let head = self.waiting.pop_front().expect("front exists");
            self.ready.push_back((head.client, head.frame));
        }
    }

    /// The log failed: no waiting reply can claim what it waited for. Each becomes `error`.
    pub(crate) fn fail_waiting(&mut self, error: &Frame) {
        for waiting in self.waiting.drain(..) {
            let reply = waiting.frame.replaced(error);
            self.ready.push_back((waiting.client, reply));
        }
    }

    /// A reply released at once, ahead of every waiting one (only `Mutation::ReadReplyEarly`).
    pub(crate) fn push_ready(&mut self, client: ClientId, reply: Reply) {
        self.ready.push_back((client, reply));
    }

    pub(crate) fn pop_ready(&mut self) -> Option<(ClientId, Reply)> {
        self.ready.pop_front()
    }

    /// The next released reply unless it starts a full sync (which the runtime can only start
    /// between steps, not while a script is busy): it and all after it stay queued.
    pub(crate) fn pop_ready_plain(&mut self) -> Option<(ClientId, Reply)> {
        match self.ready.front() {
            Some((_, Reply::Sync(_))) | None => None,
            Some(_) => self.ready.pop_front(),
        }
    }

    pub(crate) fn waiting_count(&self) -> usize {
        self.waiting.len()
    }
}
