//! Command semantics over the [`Keyspace`]: validating argv, executing, the reply, and what is
//! propagated to the AOF — Redis 7.0's, text for text.
//!
//! Map: [`table`] is the index (name → arity, `write` flag, handler); [`exec`] is Redis's
//! `call()` (lazy expiry, WATCH signalling, propagation, the MULTI/EXEC wrapping of an
//! execution unit); one file per family runs the commands: [`string`], [`counter`], [`range`],
//! [`keys`], [`scan`], [`expire`], [`db`], [`server`], [`transaction`]. [`watch`] keeps WATCH's
//! bookkeeping, [`glob`] is `stringmatchlen`, [`num`] the float rules.
//!
//! Invariants: (1) the layer is pure — time and randomness come in through [`Ctx`], state only
//! through the arguments; (2) [`Outcome::propagate`] is exactly what Redis 7.0 would feed the
//! AOF for the same command on the same state (relative expiries made absolute, lazy-expiry
//! `DEL`s included, `MULTI`/`EXEC` around a unit that wrote more than once, nothing while
//! loading); (3) a key whose expiry has passed is never observed by a command.

mod counter;
mod db;
mod exec;
mod expire;
mod glob;
mod keys;
mod num;
mod range;
mod reply;
mod scan;
mod server;
mod string;
mod table;
mod transaction;
mod watch;

#[cfg(test)]
mod testkit;
#[cfg(test)]
mod tests;

use bytes::Bytes;

use crate::keyspace::Keyspace;
use crate::resp::Frame;

pub use expire::{active_expire, active_expire_sweep};
pub use glob::string_match;

/// Per-connection state the command layer needs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Session {
    /// The connection's id (Redis's `CLIENT ID`), used for WATCH bookkeeping.
    pub client_id: u64,
    pub db: usize,
    /// Set between `MULTI` and `EXEC`/`DISCARD`.
    pub multi: Option<Multi>,
}

impl Session {
    pub fn in_multi(&self) -> bool {
        self.multi.is_some()
    }
}

/// A transaction being queued (Redis's `multiState` plus `CLIENT_DIRTY_EXEC`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Multi {
    /// Commands queued, in order, as the client sent them.
    pub queued: Vec<Vec<Bytes>>,
    /// A command was refused while queuing: `EXEC` will answer `EXECABORT`.
    pub failed: bool,
}

/// State the command layer shares between connections besides the keyspace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Shared {
    /// WATCHed keys and the clients whose transaction must fail.
    pub(crate) watches: watch::Watches,
    /// Where live SCAN cursors resume.
    pub(crate) scans: scan::ScanCursors,
    /// Where [`active_expire_sweep`] goes on from.
    pub(crate) sweep: expire::SweepCursor,
}

/// Inputs every command sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Ctx {
    pub now_ms: u64,
    /// Replaying the AOF or loading: no expiry, no propagation needed.
    pub loading: bool,
    /// Randomness as an input (RANDOMKEY, SCAN order is not random): the engine supplies it.
    pub random: u64,
}

/// A write to log, in the database it applies to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Propagated {
    pub db: usize,
    pub argv: Vec<Bytes>,
}

/// What executing one command produced.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Outcome {
    pub reply: Frame,
    /// What to append to the AOF, in order. Authoritative: it may be non-empty when `dirty`
    /// is 0 (a lazy-expiry `DEL`, or a `FLUSHALL` of an empty data set).
    pub propagate: Vec<Propagated>,
    /// Number of changes (Redis's `dirty` increment), for save points.
    pub dirty: u64,
}

/// Executes one command from a client (or the AOF loader, with `ctx.loading`).
pub fn execute(
    ks: &mut Keyspace,
    shared: &mut Shared,
    session: &mut Session,
    ctx: Ctx,
    argv: &[Bytes],
) -> Outcome {
    execute_with(ks, shared, session, ctx, argv, &mut |argv: &[Bytes]| {
        reply::unknown_command(argv)
    })
}

/// [`execute`], where `EXEC` runs queued commands this layer does not know (engine-level ones
/// the engine queued with [`queue`]) through `foreign`.
pub fn execute_with(
    ks: &mut Keyspace,
    shared: &mut Shared,
    session: &mut Session,
    ctx: Ctx,
    argv: &[Bytes],
    foreign: &mut dyn FnMut(&[Bytes]) -> Frame,
) -> Outcome {
    let mut x = exec::Exec::new(ks, shared, session, ctx, foreign);
    let reply = exec::dispatch(&mut x, argv);
    x.finish(reply)
}

/// Whether this layer runs the command (any letter case).
pub fn is_known(name: &[u8]) -> bool {
    table::lookup(name).is_some()
}

/// Whether the command has Redis's `write` flag (refused under MISCONF).
pub fn is_write(name: &[u8]) -> bool {
    table::lookup(name).is_some_and(|spec| spec.write)
}

/// Checks an argv's length against a known command's arity: the error reply if it is wrong
/// (or the command unknown), as Redis answers before queuing or running anything.
pub fn check_arity(argv: &[Bytes]) -> Result<(), Frame> {
    table::check(argv).map(|_| ())
}

/// Queues an engine-level command the engine validated, while `session` is in MULTI:
/// `+QUEUED`, or an error if the session is not in MULTI.
pub fn queue(session: &mut Session, argv: &[Bytes]) -> Frame {
    match &mut session.multi {
        Some(multi) => {
            multi.queued.push(argv.to_vec());
            reply::queued()
        }
        None => reply::err("ERR queue without MULTI"),
    }
}

/// Marks the session's transaction as failed (Redis's `flagTransaction`): the engine calls this
/// when it refuses a command (MISCONF, NOAUTH, arity of its own commands) during MULTI.
pub fn flag_transaction(session: &mut Session) {
    if let Some(multi) = &mut session.multi {
        multi.failed = true;
    }
}

/// A connection closed: forget its WATCHes.
pub fn client_closed(shared: &mut Shared, client_id: u64) {
    shared.watches.forget(client_id);
}

/// `RESET`'s share of the work: discard the transaction, unwatch, select db 0.
pub fn reset_session(shared: &mut Shared, session: &mut Session) {
    shared.watches.forget(session.client_id);
    session.multi = None;
    session.db = 0;
}
