//! The state the command layer reads and changes besides the keyspace, and what one execution
//! produces: per-connection [`Session`]s, the [`Shared`] bookkeeping, the inputs [`Ctx`], and
//! the [`Outcome`].
//!
//! Owns these types only (no behaviour beyond accessors), so every other file of the command
//! layer can depend on them without cycles. Invariant: a queued transaction holds commands
//! already resolved and arity-checked ([`Queued`]), so EXEC never looks a name up again.

use bytes::Bytes;

use super::cursors::{ScanCursors, SweepCursor};
use super::script::cache::ScriptCache;
use super::subscriptions::PubSub;
use super::watch::Watches;
use crate::resp::Frame;

/// A command's position in the index (`table.rs`): resolved once per request, then carried
/// through refusal checks, MULTI queueing and execution.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CommandId(pub(crate) u8);

impl CommandId {
    pub fn index(self) -> usize {
        usize::from(self.0)
    }
}

/// Per-connection state the command layer needs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Session {
    /// The connection's id (Redis's `CLIENT ID`), used for WATCH bookkeeping.
    pub client_id: u64,
    pub db: usize,
    /// Set between `MULTI` and `EXEC`/`DISCARD`.
    pub multi: Option<Multi>,
    /// The connection speaks RESP3. The engine owns the protocol and keeps this copy for the
    /// few replies whose content (not only encoding) depends on it: PING while subscribed.
    pub resp3: bool,
}

impl Session {
    pub fn in_multi(&self) -> bool {
        self.multi.is_some()
    }

    /// Marks the transaction being queued as failed (Redis's `flagTransaction`): EXEC will
    /// answer `EXECABORT`. Nothing outside MULTI.
    pub fn flag_transaction(&mut self) {
        if let Some(multi) = &mut self.multi {
            multi.failed = true;
        }
    }
}

/// One command queued between MULTI and EXEC.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Queued {
    pub command: CommandId,
    pub argv: Vec<Bytes>,
}

/// A transaction being queued (Redis's `multiState` plus `CLIENT_DIRTY_EXEC`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Multi {
    /// Commands queued, in order, as the client sent them.
    pub queued: Vec<Queued>,
    /// A command was refused while queuing: `EXEC` will answer `EXECABORT`.
    pub failed: bool,
}

/// State the command layer shares between connections besides the keyspace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Shared {
    /// WATCHed keys and the clients whose transaction must fail.
    pub(crate) watches: Watches,
    /// Where live SCAN cursors resume.
    pub(crate) scans: ScanCursors,
    /// Where the active-expiry sweep goes on from.
    pub(crate) sweep: SweepCursor,
    /// Scripts by SHA-1 (EVAL, SCRIPT LOAD; EVALSHA runs them).
    pub(crate) scripts: ScriptCache,
    /// Who is subscribed to which channels and patterns.
    pub(crate) pubsub: PubSub,
    /// DEBUG SET-DISABLE-DENY-SCRIPTS 1: scripts may call `noscript` commands (Redis's test
    /// hook for calling DEBUG from a script).
    pub(crate) deny_scripts_disabled: bool,
    /// `notify-keyspace-events` as flags (`notify.rs`); the engine keeps it in step.
    pub(crate) notify_flags: u32,
    /// Redis's `pre_command_oom_state`: used memory was above `maxmemory` when the running
    /// command started (set by the engine), so a script may not start writing with a
    /// `denyoom` command.
    pub(crate) pre_command_oom: bool,
    /// INFO commandstats and errorstats (observations: outside equality and hash).
    pub stats: super::cmdstats::CommandStats,
}

/// Inputs every command sees.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Ctx {
    pub now_ms: u64,
    /// Replaying the AOF or loading: no expiry, no propagation needed.
    pub loading: bool,
    /// Randomness as an input (RANDOMKEY, SCAN order is not random): the engine supplies it.
    pub random: u64,
    /// Why writes are refused now (Redis's MISCONF text), for scripts: a client's write
    /// command is refused before it reaches the command layer, a script's inside it.
    pub write_denial: Option<String>,
}

/// A write to log, in the database it applies to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Propagated {
    pub db: usize,
    pub argv: Vec<Bytes>,
}

/// A blocking command (BLPOP, BLMOVE, ...) found nothing to serve: the engine parks the
/// client, runs the same command again when one of `keys` in `db` holds a `type_name` value,
/// and answers `timeout_reply` at `deadline_ms` (never without one).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Block {
    pub db: usize,
    pub keys: Vec<Bytes>,
    /// The `TYPE` name of the values that may serve it (`list`, `zset`).
    pub type_name: &'static str,
    pub deadline_ms: Option<u64>,
    pub timeout_reply: Frame,
    /// What to run when woken, if not the command as sent (XREAD with `$` resolved).
    pub rerun: Option<Vec<Bytes>>,
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
    /// Pub/Sub messages for other clients (by client id), to send before this reply.
    pub deliveries: Vec<(u64, Frame)>,
    /// Set when the command must block: `reply` is then not sent.
    pub block: Option<Block>,
}

/// The command layer's view of a busy script: what the Lua hook calls (the engine implements
/// it over the runtime's host and its reply queue, `engine/while_busy.rs`; the decisions are
/// `script/busy.rs`'s).
pub(crate) trait Interrupt {
    /// A script starts.
    fn start(&mut self, eval: bool);
    /// A hook tick: serve others if past the threshold; `true` stops the script.
    fn tick(&mut self, wrote: bool) -> bool;
}
