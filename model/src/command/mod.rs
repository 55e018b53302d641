//! Command semantics over the [`Keyspace`]: validating argv, executing, the reply, and what is
//! propagated to the AOF — Redis 7.0's, text for text.
//!
//! Map: [`table`] is the one command index (every command: name, arity, flags, keys, docs, and
//! where it runs), [`index`] the shape of an entry; [`exec`] is Redis's `processCommand` and
//! `call()` (lazy expiry, WATCH signalling, propagation, the MULTI/EXEC wrapping of an
//! execution unit); one file per family runs the commands: [`string`], [`counter`], [`range`],
//! [`keys`], [`scan`], [`expire`], [`db`], [`server`], [`transaction`], [`introspect`]
//! (COMMAND), [`object`] (OBJECT, MEMORY, DUMP, RESTORE). [`state`] holds sessions and shared bookkeeping, [`watch`] WATCH's, [`cursors`]
//! SCAN's and the expiry sweep's; [`glob`] is `stringmatchlen`, [`num`] the float rules.
//!
//! Invariants: (1) the layer is pure — time and randomness come in through [`Ctx`], state only
//! through the arguments; (2) [`Outcome::propagate`] is exactly what Redis 7.0 would feed the
//! AOF for the same command on the same state (relative expiries made absolute, lazy-expiry
//! `DEL`s included, `MULTI`/`EXEC` around a unit that wrote more than once, nothing while
//! loading); (3) a key whose expiry has passed is never observed by a command.
//!
//! This file is the door: it re-exports and wraps; no file of the layer imports from it.

mod bits;
pub mod cmdstats;
mod counter;
mod cursors;
mod db;
mod debug_protocol;
mod evict;
mod exec;
mod expire;
mod glob;
mod hash;
mod hash_walk;
mod index;
mod introspect;
mod keys;
mod keys_copy;
mod lcs;
mod list;
mod list_block;
mod list_move;
mod notify;
mod num;
mod object;
mod pubsub;
mod range;
mod reply;
mod scan;
mod script;
mod server;
mod set;
mod set_ops;
mod sort;
mod state;
mod stream;
mod stream_claim;
mod stream_group;
mod stream_info;
mod stream_read;
mod string;
mod subscriptions;
mod table;
mod transaction;
mod typed;
mod walk;
mod watch;
mod zset;
mod zset_block;
mod zset_ops;
mod zset_query;
mod zset_range;

#[cfg(test)]
mod hash_tests;
#[cfg(test)]
mod list_tests;
#[cfg(test)]
mod set_tests;
#[cfg(test)]
mod set_zset_replay_tests;
#[cfg(test)]
mod stream_tests;
#[cfg(test)]
mod testkit;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod zset_tests;

use bytes::Bytes;

use crate::keyspace::Keyspace;
use crate::resp::Frame;

pub(crate) use debug_protocol::debug_protocol;

/// Scripts in the EVAL cache (INFO memory's `number_of_cached_scripts`).
pub fn cached_scripts(shared: &Shared) -> usize {
    shared.scripts.len()
}
pub use evict::evict_one;
pub use exec::{wrap_transaction, Command, Handler};
pub use expire::{active_expire, active_expire_sweep};
pub use glob::string_match;
pub use index::{wrong_arity_text, Docs, EngineCommand, Flags, Group, Keys, Run};
pub use notify::removed_key_deliveries;
pub use pubsub::{is_subscriber, pubsub_totals, subscription_counts};
pub use script::busy::{BusyAnswer, BusyGate, Replay, BUSY_EVAL, BUSY_FUNCTION};
pub(crate) use script::load_libraries;
pub(crate) use state::Interrupt;
pub use state::{Block, CommandId, Ctx, Multi, Outcome, Propagated, Queued, Session, Shared};
pub use stream_read::stream_ready;

/// The command a request names (any letter case), resolved once, without allocating.
pub fn resolve(name: &[u8]) -> Option<CommandId> {
    table::resolve(name)
}

/// The index entry of a resolved command.
pub fn entry(id: CommandId) -> &'static Command {
    table::entry(id)
}

/// Every command, in index order.
pub fn commands() -> &'static [Command] {
    table::commands()
}

/// Executes one command from a client (or the AOF loader, with `ctx.loading`), resolving its
/// name. Engine and connection commands are unknown here.
pub fn execute(
    ks: &mut Keyspace,
    shared: &mut Shared,
    session: &mut Session,
    ctx: Ctx,
    argv: &[Bytes],
) -> Outcome {
    let id = argv.first().and_then(|name| resolve(name));
    execute_resolved(ks, shared, session, ctx, id, argv)
}

/// [`execute`] for a request whose name the caller already resolved (`None`: unknown).
pub fn execute_resolved(
    ks: &mut Keyspace,
    shared: &mut Shared,
    session: &mut Session,
    ctx: Ctx,
    id: Option<CommandId>,
    argv: &[Bytes],
) -> Outcome {
    let mut x = exec::Exec::new(ks, shared, session, ctx, table::commands(), table::resolve);
    let reply = exec::dispatch(&mut x, id, argv);
    x.finish(reply)
}

/// EXEC of a transaction that holds engine commands, which the engine runs itself: the
/// checks, then the queue (see `engine/multi_exec.rs`). `Err` is the whole reply.
pub fn exec_begin(
    shared: &mut Shared,
    session: &mut Session,
    ctx: &Ctx,
) -> Result<Vec<Queued>, Frame> {
    transaction::exec_begin(shared, session, ctx)
}

/// One queued command of the command layer run inside such an EXEC: as EXEC runs it (it may
/// not block), with what it propagates left unwrapped, for the engine to wrap the whole EXEC.
pub fn execute_queued(
    ks: &mut Keyspace,
    shared: &mut Shared,
    session: &mut Session,
    ctx: Ctx,
    queued: &Queued,
) -> Outcome {
    let mut x = exec::Exec::new(ks, shared, session, ctx, table::commands(), table::resolve);
    let reply = x.run_queued(queued);
    x.finish_unwrapped(reply)
}

/// [`execute_resolved`] with the runtime's clock and sockets at hand, so a script that runs
/// past `busy-reply-threshold` lets other connections in (see `script/busy.rs`).
#[allow(clippy::too_many_arguments)]
pub(crate) fn execute_busy(
    ks: &mut Keyspace,
    shared: &mut Shared,
    session: &mut Session,
    ctx: Ctx,
    id: Option<CommandId>,
    argv: &[Bytes],
    busy: &mut dyn Interrupt,
) -> Outcome {
    let mut x = exec::Exec::new(ks, shared, session, ctx, table::commands(), table::resolve);
    x.busy = Some(busy);
    let reply = exec::dispatch(&mut x, id, argv);
    x.finish(reply)
}

/// INFO commandstats for a command the engine ran (with its `reply`, failed if an error; `None`
/// when its sub-machine answers later) or, with `rejected`, refused before it ran; an error
/// `reply` counts in errorstats.
pub fn count_command(
    shared: &mut Shared,
    id: CommandId,
    argv: &[Bytes],
    reply: Option<&Frame>,
    rejected: bool,
) {
    let failed = reply.is_some_and(|r| shared.stats.count_reply(r));
    let stat = shared.stats.entry(id.index(), entry(id).name, argv);
    if rejected {
        stat.rejected_calls += 1;
    } else {
        stat.calls += 1;
        stat.failed_calls += u64::from(failed);
    }
}

/// Whether the command layer runs the command: what the AOF may hold.
pub fn is_data(id: CommandId) -> bool {
    matches!(entry(id).run, Run::Data(_) | Run::Control(_))
}

/// CONFIG SET notify-keyspace-events (or the start): the flags commands notify by.
pub fn set_notify_flags(shared: &mut Shared, flags: u32) {
    shared.notify_flags = flags;
}

/// Before a command: whether used memory is above `maxmemory` (scripts read it).
pub fn set_pre_command_oom(shared: &mut Shared, oom: bool) {
    shared.pre_command_oom = oom;
}

/// A connection closed: forget its WATCHes.
pub fn client_closed(shared: &mut Shared, client_id: u64) {
    shared.watches.forget(client_id);
    shared.pubsub.forget(client_id);
}

/// `RESET`'s share of the work: discard the transaction, unwatch, select db 0.
pub fn reset_session(shared: &mut Shared, session: &mut Session) {
    shared.watches.forget(session.client_id);
    shared.pubsub.forget(session.client_id);
    session.multi = None;
    session.db = 0;
    session.resp3 = false;
}
