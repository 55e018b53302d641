//! One execution unit: Redis's `processCommand` checks, `call()`, and `propagatePendingCommands`.
//!
//! Owns what every command shares: key lookup with lazy expiry, signalling a modified key to
//! WATCH, counting `dirty`, and collecting what to propagate.
//!
//! Invariants: a command's own argv (or its rewrite) is propagated iff it incremented `dirty`
//! or forced propagation, after any lazy-expiry `DEL` it caused; every change to a key goes
//! through [`Exec::store`] / [`Exec::delete`] (or signals WATCH itself), so WATCH sees it;
//! while loading nothing expires and nothing is propagated.

use bytes::Bytes;

use super::index::{self, Run};
use super::notify;
use super::reply;
use super::state::{
    Block, CommandId, Ctx, Interrupt, Outcome, Propagated, Queued, Session, Shared,
};
use crate::keyspace::{Entry, Keyspace, NotCollection, Stored, Value, ValueRef};
use crate::resp::Frame;

/// Runs a command of the command layer whose arity was checked.
#[derive(Clone, Copy, Debug)]
pub struct Handler(pub(crate) fn(&mut Exec<'_>, &[Bytes]) -> Frame);

/// An entry of the command index, with the command layer's handlers.
pub type Command = index::Command<Handler>;

/// Arguments Redis itself writes into the propagated stream, upper case.
pub(crate) const DEL: Bytes = Bytes::from_static(b"DEL");

/// The state one top-level command runs against, and what it produced so far.
pub(crate) struct Exec<'a> {
    pub(crate) ks: &'a mut Keyspace,
    pub(crate) shared: &'a mut Shared,
    pub(crate) session: &'a mut Session,
    pub(crate) ctx: Ctx,
    /// The command index, for EXEC to run what was queued by id.
    commands: &'static [Command],
    /// Redis's `also_propagate`: everything this unit propagates, in order.
    props: Vec<Propagated>,
    dirty: u64,
    /// Redis's `rewriteClientCommandVector`: what to propagate instead of the argv.
    propagate_as: Option<Vec<Bytes>>,
    /// Redis's `forceCommandPropagation`: propagate even if nothing changed.
    force: bool,
    /// Redis's `preventCommandPropagation`: never propagate the command itself (EVAL: the
    /// commands it ran propagated themselves).
    prevent: bool,
    /// Name resolution, for commands a script runs.
    resolve: fn(&[u8]) -> Option<CommandId>,
    /// Pub/Sub messages this unit published, to whom.
    deliveries: Vec<(u64, Frame)>,
    /// How many `call`s are running: 1 for the client's own command, more inside EXEC or a
    /// script (where a blocking command must not block).
    depth: u32,
    /// A blocking command's request to park the client.
    block: Option<Block>,
    /// Keys the running `call` changed, and collections it emptied (keyspace notifications).
    changed_keys: Vec<(usize, Bytes)>,
    emptied_keys: Vec<(usize, Bytes)>,
    /// The runtime's clock and sockets for a script that runs long (`script/busy.rs`);
    /// `None` where nothing can be served meanwhile (loading, the model checker, tests).
    pub(crate) busy: Option<&'a mut (dyn Interrupt + 'a)>,
    /// The error the next `call` returns was already counted in errorstats (a script's error
    /// raised by `redis.call`, counted when that command failed, as Redis's
    /// `ignore_error_stats_update`).
    pub(crate) error_counted: bool,
    /// A script's `redis.call` is running (XREAD and XREADGROUP refuse BLOCK from scripts).
    pub(crate) from_script: bool,
}

impl<'a> Exec<'a> {
    pub(crate) fn new(
        ks: &'a mut Keyspace,
        shared: &'a mut Shared,
        session: &'a mut Session,
        ctx: Ctx,
        commands: &'static [Command],
        resolve: fn(&[u8]) -> Option<CommandId>,
    ) -> Self {
        Exec {
            ks,
            shared,
            session,
            ctx,
            commands,
            props: Vec::new(),
            dirty: 0,
            propagate_as: None,
            force: false,
            prevent: false,
            resolve,
            deliveries: Vec::new(),
            depth: 0,
            block: None,
            changed_keys: Vec::new(),
            emptied_keys: Vec::new(),
            busy: None,
            error_counted: false,
            from_script: false,
        }
    }

    /// Messages for subscribers (PUBLISH): the engine sends them before this unit's reply.
    pub(crate) fn deliver(&mut self, deliveries: Vec<(u64, Frame)>) {
        self.deliveries.extend(deliveries);
    }

    /// Ends the unit: a unit that propagated more than one command is wrapped in
    /// `MULTI`/`EXEC`, in the dbs of its first and last command (`propagatePendingCommands`).
    pub(crate) fn finish(self, reply: Frame) -> Outcome {
        let mut outcome = self.finish_unwrapped(reply);
        wrap_transaction(&mut outcome.propagate);
        outcome
    }

    /// Ends the unit without the wrapping: a part of an EXEC the engine runs (it wraps).
    pub(crate) fn finish_unwrapped(self, reply: Frame) -> Outcome {
        let mut props = self.props;
        if self.ctx.loading {
            props.clear();
        }
        Outcome {
            reply,
            propagate: props,
            dirty: self.dirty,
            deliveries: self.deliveries,
            block: self.block,
        }
    }

    /// Runs a command queued by MULTI as EXEC runs it: one level down, so it never blocks.
    pub(crate) fn run_queued(&mut self, queued: &Queued) -> Frame {
        self.depth += 1;
        let reply = call(self, self.command(queued.command), &queued.argv);
        self.depth -= 1;
        reply
    }

    /// Where `command` is in the index (INFO commandstats counts by it, without hashing).
    fn index_of(&self, command: &Command) -> usize {
        let base = self.commands.as_ptr() as usize;
        (command as *const Command as usize - base) / size_of::<Command>()
    }

    /// commandstats and errorstats for a `call` that returned `reply`.
    fn count_call(&mut self, command: &Command, argv: &[Bytes], reply: &Frame) {
        let failed = if std::mem::take(&mut self.error_counted) {
            matches!(reply, Frame::Error(_))
        } else {
            self.shared.stats.count_reply(reply)
        };
        let index = self.index_of(command);
        let stat = self.shared.stats.entry(index, command.name, argv);
        stat.calls += 1;
        stat.failed_calls += u64::from(failed);
    }

    /// commandstats and errorstats for a command refused before it ran.
    pub(crate) fn count_rejected(&mut self, command: &Command, argv: &[Bytes], reply: &Frame) {
        if self.ctx.loading {
            return;
        }
        self.shared.stats.count_reply(reply);
        let index = self.index_of(command);
        self.shared
            .stats
            .entry(index, command.name, argv)
            .rejected_calls += 1;
    }

    /// The selected database.
    pub(crate) fn db(&self) -> usize {
        self.session.db
    }

    /// Whether `entry` is logically gone (never while loading: the log replays as written).
    pub(crate) fn is_expired(&self, entry: &Entry) -> bool {
        !self.ctx.loading && entry.is_expired(self.ctx.now_ms)
    }

    /// [`Exec::is_expired`] of a stored key.
    pub(crate) fn is_expired_stored(&self, stored: &Stored) -> bool {
        !self.ctx.loading && stored.is_expired(self.ctx.now_ms)
    }

    /// Redis's `expireIfNeeded`: deletes `key` in `db` if expired, propagating `DEL key`.
    pub(crate) fn expire_if_needed(&mut self, db: usize, key: &Bytes) -> bool {
        let expired = self.ks.dbs[db]
            .get_stored(key)
            .is_some_and(|s| self.is_expired_stored(s));
        if expired {
            self.ks.dbs[db].remove(key);
            let exists = self.ks.dbs[db].contains(key);
            self.shared.watches.touch(db, key, exists);
            self.notify(notify::EXPIRED, "expired", db, key);
            self.propagate(db, vec![DEL, key.clone()]);
        }
        expired
    }

    /// Redis's `lookupKeyRead`/`lookupKeyWrite` in the selected db.
    pub(crate) fn lookup(&mut self, key: &Bytes) -> Option<Entry> {
        let db = self.db();
        // One map lookup when the key is live or absent (the common cases).
        match self.ks.dbs[db].get(key) {
            Some(entry) if !self.is_expired(&entry) => Some(entry.into_owned()),
            Some(_) => {
                self.expire_if_needed(db, key);
                None
            }
            None => None,
        }
    }

    /// [`Exec::lookup`] for a caller that needs only the live key's expiry (`Some(None)`: a
    /// live key without one): no entry is rebuilt.
    pub(crate) fn lookup_expiry(&mut self, key: &Bytes) -> Option<Option<u64>> {
        let db = self.db();
        match self.ks.dbs[db].get_stored(key) {
            Some(stored) if !self.is_expired_stored(stored) => Some(stored.expire_at_ms()),
            Some(_) => {
                self.expire_if_needed(db, key);
                None
            }
            None => None,
        }
    }

    /// [`Exec::lookup`] without the copy: the live value, borrowed.
    pub(crate) fn peek(&mut self, key: &Bytes) -> Option<ValueRef<'_>> {
        let db = self.db();
        self.expire_if_needed(db, key);
        self.ks.dbs[db].get_stored(key).map(Stored::value)
    }

    /// Redis's `lookupKeyWrite` for a change in place of a collection: the live entry,
    /// mutable, or `Err` for a string (left as stored). The caller signals the change with
    /// [`Exec::touch`] (or [`Exec::changed`]) once done.
    pub(crate) fn peek_mut(&mut self, key: &Bytes) -> Option<Result<&mut Entry, NotCollection>> {
        let db = self.db();
        self.expire_if_needed(db, key);
        self.ks.dbs[db].get_mut_collection(key)
    }

    /// After an in-place change of `key` in the selected db: deletes it if the change left
    /// an empty collection (Redis never keeps one), then signals WATCH.
    pub(crate) fn changed(&mut self, key: &Bytes) {
        let db = self.db();
        // A string is never `Other` (its bytes are `Str` in either stored form).
        let empty = self.ks.dbs[db]
            .get_stored(key)
            .is_some_and(|s| matches!(s.value(), ValueRef::Other(v) if v.is_empty_collection()));
        if empty {
            self.ks.dbs[db].remove(key);
            self.emptied_keys.push((db, key.clone()));
        }
        self.touch(db, key);
    }

    /// A string key's value: `Ok(None)` if absent, `Err(WRONGTYPE)` if not a string.
    pub(crate) fn lookup_string(&mut self, key: &Bytes) -> Result<Option<Entry>, Frame> {
        match self.lookup(key) {
            Some(entry) => {
                string_of(&entry)?;
                Ok(Some(entry))
            }
            None => Ok(None),
        }
    }

    /// Sets `key` in the selected db and signals it (Redis's `setKey`/`dbAdd` +
    /// `signalModifiedKey`). The caller has looked the key up first, as Redis does, so an
    /// expired previous value was already deleted and propagated.
    pub(crate) fn store(&mut self, key: &Bytes, entry: Entry) {
        let db = self.db();
        if !self.ks.dbs[db].insert(key.clone(), entry) {
            self.notify(notify::NEW, "new", db, key);
        }
        self.touch(db, key);
    }

    /// Deletes `key` from the selected db, signalling it if it existed.
    pub(crate) fn delete(&mut self, key: &Bytes) -> bool {
        let db = self.db();
        let existed = self.ks.dbs[db].remove(key).is_some();
        if existed {
            self.touch(db, key);
        }
        existed
    }

    /// Redis's `signalModifiedKey`, after the change; the running command's event will be
    /// raised on the key.
    pub(crate) fn touch(&mut self, db: usize, key: &Bytes) {
        // Each half only when someone listens: the fast path of a plain SET pays for neither.
        if self.shared.watches.any() {
            let exists = self.ks.dbs[db].contains(key);
            self.shared.watches.touch(db, key, exists);
        }
        let recorded = || self.changed_keys.iter().any(|(d, k)| *d == db && k == key);
        if self.shared.notify_flags != 0 && !recorded() {
            self.changed_keys.push((db, key.clone()));
        }
    }

    /// Redis's `notifyKeyspaceEvent` (nothing while loading: no client is listening).
    pub(crate) fn notify(&mut self, class: u32, event: &str, db: usize, key: &Bytes) {
        if self.shared.notify_flags & class == 0 || self.ctx.loading {
            return;
        }
        let deliveries = notify::deliveries(self.shared, class, event, db, key);
        self.deliveries.extend(deliveries);
    }

    /// After a command ran: its event on each key it changed, then `del` for each collection
    /// it emptied.
    fn notify_changes(&mut self, command: &Command, argv: &[Bytes]) {
        let mut changed = std::mem::take(&mut self.changed_keys);
        let emptied = std::mem::take(&mut self.emptied_keys);
        if self.shared.notify_flags == 0 || matches!(command.run, Run::Control(_)) {
            return;
        }
        let class = notify::class_of(command.docs.group);
        let own_db = self.db();
        let is_first = |db: usize, key: &Bytes| argv.get(1) == Some(key) && db == own_db;
        // The command's first key first (RENAME: `rename_from` before `rename_to`, as Redis).
        changed.sort_by_key(|(db, key)| !is_first(*db, key));
        for (db, key) in &changed {
            let first = is_first(*db, key);
            let event = notify::event_of(command.name, first);
            if !event.is_empty() {
                self.notify(class, event, *db, key);
            }
            if notify::sets_expiry(command.name, argv) {
                self.notify(notify::GENERIC, "expire", *db, key);
            }
        }
        for (db, key) in &emptied {
            self.notify(notify::GENERIC, "del", *db, key);
        }
    }

    pub(crate) fn add_dirty(&mut self, n: u64) {
        self.dirty += n;
    }

    /// Propagate `argv` instead of the command as sent.
    pub(crate) fn propagate_as(&mut self, argv: Vec<Bytes>) {
        self.propagate_as = Some(argv);
    }

    /// The whole command index (COMMAND lists it).
    pub(crate) fn commands(&self) -> &'static [Command] {
        self.commands
    }

    /// The index entry of a resolved command.
    pub(crate) fn command(&self, id: CommandId) -> &'static Command {
        &self.commands[id.index()]
    }

    /// The command `name` names, in any letter case.
    pub(crate) fn resolve(&self, name: &[u8]) -> Option<CommandId> {
        (self.resolve)(name)
    }

    /// Whether a blocking command may block: it is the client's own command (not inside
    /// EXEC or a script, where Redis answers at once), and nothing is being loaded.
    pub(crate) fn may_block(&self) -> bool {
        self.depth == 1 && !self.ctx.loading
    }

    /// Parks the client (see [`Block`]); the reply returned with it is not sent.
    pub(crate) fn block(&mut self, block: Block) {
        assert!(self.may_block(), "only a top-level command blocks");
        self.block = Some(block);
    }

    /// Do not propagate the command itself (its effects were propagated as they happened).
    pub(crate) fn prevent_propagation(&mut self) {
        self.prevent = true;
    }

    /// Propagate the command even if it changed nothing (FLUSHALL, FLUSHDB).
    pub(crate) fn force_propagation(&mut self) {
        self.force = true;
    }

    /// Redis's `alsoPropagate`.
    pub(crate) fn propagate(&mut self, db: usize, argv: Vec<Bytes>) {
        self.props.push(Propagated { db, argv });
    }
}

/// A string entry's bytes, or Redis's WRONGTYPE error for any other type.
pub(crate) fn string_of(entry: &Entry) -> Result<&Bytes, Frame> {
    match &entry.value {
        Value::Str(b) => Ok(b),
        _ => Err(reply::err(reply::WRONGTYPE)),
    }
}

/// Wraps more than one propagated command in `MULTI`/`EXEC`, in the dbs of the first and the
/// last: what replays them does so as one unit.
pub fn wrap_transaction(props: &mut Vec<Propagated>) {
    if props.len() > 1 {
        let first = props[0].db;
        let last = props[props.len() - 1].db;
        props.insert(
            0,
            Propagated {
                db: first,
                argv: vec![Bytes::from_static(b"MULTI")],
            },
        );
        props.push(Propagated {
            db: last,
            argv: vec![Bytes::from_static(b"EXEC")],
        });
    }
}

/// `processCommand`: unknown command and arity errors (which also fail a transaction being
/// queued), queuing inside MULTI, else [`call`]. Engine and connection commands are not this
/// layer's: to a caller that only has the command layer (the AOF loader, tests) they are unknown.
pub(crate) fn dispatch(x: &mut Exec<'_>, id: Option<CommandId>, argv: &[Bytes]) -> Frame {
    let command = id.map(|id| (id, x.command(id)));
    let Some((id, command)) =
        command.filter(|(_, c)| matches!(c.run, Run::Data(_) | Run::Control(_)))
    else {
        x.session.flag_transaction();
        let refused = reply::unknown_command(argv);
        if !x.ctx.loading {
            x.shared.stats.count_reply(&refused);
        }
        return refused;
    };
    if !command.arity_ok(argv.len()) {
        x.session.flag_transaction();
        let refused = reply::wrong_arity(command.name);
        x.count_rejected(command, argv, &refused);
        return refused;
    }
    if let (Some(multi), Run::Data(_)) = (&mut x.session.multi, command.run) {
        let argv = argv.to_vec();
        multi.queued.push(Queued { command: id, argv });
        return reply::queued();
    }
    call(x, command, argv)
}

/// Redis's `call()`: runs the command, then propagates it if it changed something.
pub(crate) fn call(x: &mut Exec<'_>, command: &Command, argv: &[Bytes]) -> Frame {
    let (Run::Data(Handler(run)) | Run::Control(Handler(run))) = command.run else {
        unreachable!("dispatch passes only command-layer commands");
    };
    let dirty_before = x.dirty;
    // EXEC calls back in here: keep the outer command's propagation state out of the way.
    let outer = (
        x.propagate_as.take(),
        std::mem::take(&mut x.force),
        std::mem::take(&mut x.prevent),
    );
    let outer_keys = (
        std::mem::take(&mut x.changed_keys),
        std::mem::take(&mut x.emptied_keys),
    );
    x.depth += 1;
    let reply = run(x, argv);
    x.depth -= 1;
    // A command that blocked is counted when it is served (Redis skips CLIENT_BLOCKED).
    if !x.ctx.loading && x.block.is_none() {
        x.count_call(command, argv, &reply);
    }
    if x.dirty > dirty_before {
        x.notify_changes(command, argv);
    }
    (x.changed_keys, x.emptied_keys) = outer_keys;
    // Control commands never propagate themselves: EXEC's queued commands already did.
    let control = matches!(command.run, Run::Control(_));
    if (x.dirty > dirty_before || x.force) && !control && !x.prevent {
        let argv = x.propagate_as.take().unwrap_or_else(|| argv.to_vec());
        let db = x.db();
        x.propagate(db, argv);
    }
    (x.propagate_as, x.force, x.prevent) = outer;
    reply
}
