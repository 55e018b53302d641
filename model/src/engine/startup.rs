//! Start-up: load `dump.rdb` (AOF off) or the AOF, make what was read durable, open the AOF,
//! and remove the temp files a crashed run left before serving.
//!
//! Owns the two loaders (`rdb_load.rs`, `aof_load.rs`), the choice between them and the
//! cleanup. Invariants:
//! - with the AOF on, `dump.rdb` is never loaded (unless a mutation says so): the AOF is the
//!   whole truth;
//! - before serving, every file read and its directory are fsynced, so nothing a killed run
//!   left only in the page cache is trusted; bytes after the last incr file's last checksum
//!   line (a crash tore the line off) are sealed by a new line before that fsync, so no synced
//!   byte of an incr file is ever unvouched (damage to it is refused, not loaded);
//! - a fresh or partial AOF directory gets a base, an incr file and a manifest naming them, in
//!   the crash-safe order, before the first reply;
//! - the cleanup deletes only temp names, and nothing depends on those deletes being durable;
//! - the cleanup ends before the engine serves: no BGSAVE, BGREWRITEAOF or save point of this
//!   run can create a temp file (`temp-<generation>.rdb` restarts at 1 each run) that a delete
//!   of a leftover with the same name then removes under it (issue 10's race (a)).

use std::collections::BTreeSet;

use crate::aof::checksum::Running;
use crate::aof::manifest::{self, AofFile, FileKind, Manifest};
use crate::command::Shared;
use crate::config::{Config, Mutation};
use crate::io::{join, EffectId, IoResult, Lane, Op, Owner};
use crate::keyspace::Keyspace;

use super::aof_load::{AofLoad, Loaded, Progress};
use super::aof_writer::base_steps;
use super::outbox::Outbox;
use super::phase::StartError;
use super::procedure::{persist_manifest, step, Procedure, Purpose, Step};
use super::rdb_load::{RdbLoad, RdbProgress};
use super::stats::Stats;

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct Startup {
    aof_load: Option<AofLoad>,
    rdb_load: Option<RdbLoad>,
    /// The data set came from `dump.rdb`; the AOF is read only to open it (a mutation).
    replay_skipped: bool,
    /// Effects of the cleanup of leftover temp files; their results are only reported.
    cleanup: BTreeSet<EffectId>,
    /// What to say once the cleanup ended and the engine serves.
    ready_message: Option<String>,
    /// `dump.rdb`'s `repl-id`/`repl-offset`, for the router to take (`replica_cmd.rs`).
    pub(crate) repl_aux: Option<(String, u64)>,
}

/// How a start-up step ended, for the router to act on.
pub(crate) enum StartupStep {
    Continue,
    Refused(StartError),
    /// `dump.rdb` gave `keys` keys; then `ready` makes it durable (`None`: the AOF loads next).
    RdbLoaded {
        keys: u64,
        ready: Option<Procedure>,
    },
    /// The AOF is loaded: open it (see [`open_procedure`]).
    AofLoaded(Loaded),
}

impl Startup {
    /// Starts loading: the AOF when it is on, else `dump.rdb`.
    pub(crate) fn begin(config: &Config, out: &mut Outbox) -> Startup {
        let mut startup = Startup::default();
        let rdb_first = config.mutation == Mutation::LoadRdbWhenAofExists;
        if config.appendonly && !rdb_first {
            startup.aof_load = Some(AofLoad::begin(config, out));
        } else {
            startup.rdb_load = Some(RdbLoad::begin(config, out));
        }
        startup
    }

    /// A read or list of the AOF loader completed.
    pub(crate) fn handle_aof_load_io(
        &mut self,
        now_ms: u64,
        result: IoResult,
        config: &Config,
        keyspace: &mut Keyspace,
        shared: &mut Shared,
        out: &mut Outbox,
    ) -> StartupStep {
        let mut load = self.aof_load.take().expect("AOF load in progress");
        let mut scratch = (
            Keyspace::with_limits(config.databases, config.encodings),
            Shared::default(),
        );
        let (keyspace, shared) = if self.replay_skipped {
            (&mut scratch.0, &mut scratch.1)
        } else {
            (keyspace, shared)
        };
        match load.on_io(config, result, keyspace, shared, now_ms, out) {
            Progress::Continue => {
                self.aof_load = Some(load);
                StartupStep::Continue
            }
            Progress::Refused(e) => StartupStep::Refused(e),
            Progress::Loaded(loaded) => StartupStep::AofLoaded(loaded),
        }
    }

    /// A read of `dump.rdb` completed.
    pub(crate) fn handle_rdb_load_io(
        &mut self,
        now_ms: u64,
        result: IoResult,
        config: &Config,
        keyspace: &mut Keyspace,
        out: &mut Outbox,
    ) -> StartupStep {
        let load = self.rdb_load.as_mut().expect("rdb load");
        let (keys, found) = match load.handle_io(now_ms, result, config, keyspace, out) {
            RdbProgress::Continue => return StartupStep::Continue,
            RdbProgress::Refused(e) => {
                self.rdb_load = None;
                return StartupStep::Refused(e);
            }
            RdbProgress::Loaded { keys, found } => (keys, found),
        };
        self.repl_aux = load.repl_aux.take();
        self.rdb_load = None;
        out.notice(format!("Done loading RDB, keys loaded: {keys}."));
        if config.appendonly {
            // Only under Mutation::LoadRdbWhenAofExists: open the AOF, replay nothing.
            self.replay_skipped = found;
            self.aof_load = Some(AofLoad::begin(config, out));
            return StartupStep::RdbLoaded { keys, ready: None };
        }
        let steps = if found && config.mutation != Mutation::SkipStartupSync {
            vec![
                step(Op::Fsync {
                    path: config.dbfilename.clone(),
                }),
                step(Op::FsyncDir {
                    path: String::new(),
                }),
            ]
        } else {
            Vec::new()
        };
        let ready = Procedure::new(Purpose::Ready, steps);
        StartupStep::RdbLoaded {
            keys,
            ready: Some(ready),
        }
    }

    /// Once loaded and durable: list `dir` for temp files a crashed snapshot or rewrite left
    /// (Redis leaves them forever) and delete them; `ready_message` is said when that ends.
    pub(crate) fn start_cleanup(&mut self, ready_message: String, out: &mut Outbox) {
        let op = Op::List {
            path: String::new(),
        };
        let id = out.emit(Owner::Cleanup, Lane::Log, op);
        self.cleanup.insert(id);
        self.ready_message = Some(ready_message);
    }

    /// A list or delete of the cleanup completed. Returns the ready message once the cleanup
    /// ended (every delete completed, failed or not): the engine may serve.
    pub(crate) fn handle_cleanup_io(
        &mut self,
        id: EffectId,
        result: IoResult,
        out: &mut Outbox,
    ) -> Option<String> {
        assert!(self.cleanup.remove(&id), "cleanup effect {id:?} unknown");
        match result {
            IoResult::Listed { names } => {
                let temp = |n: &String| {
                    (n.starts_with("temp-rewriteaof-") && n.ends_with(".aof"))
                        || (n.starts_with("temp-") && n.ends_with(".rdb"))
                };
                for name in names.into_iter().filter(temp) {
                    out.notice(format!("Removing leftover temp file {name}"));
                    let id = out.emit(Owner::Cleanup, Lane::Log, Op::Delete { path: name });
                    self.cleanup.insert(id);
                }
            }
            IoResult::Failed(e) => out.warn(format!(
                "Could not clean leftover temp files: {}",
                e.message
            )),
            _ => {}
        }
        if self.cleanup.is_empty() {
            self.ready_message.take()
        } else {
            None
        }
    }
}

/// After loading the AOF: cut torn tails, make what was read durable, create what a fresh or
/// partial directory lacks, persist the manifest if it changed; the procedure's end opens the
/// log on the last incr file. `keyspace` is the loaded data set (a missing base is made of it).
pub(crate) fn open_procedure(
    loaded: Loaded,
    config: &Config,
    keyspace: &Keyspace,
    stats: &mut Stats,
    now_ms: u64,
    out: &mut Outbox,
) -> Procedure {
    stats.commands_loaded = loaded.commands;
    stats.base_keys_loaded = loaded.base_keys;
    out.notice(format!(
        "DB loaded from append only file: {} commands, {} keys",
        loaded.commands,
        keyspace.len()
    ));
    let dir = &config.appenddirname;
    let mut steps = repair_steps(&loaded.truncations, stats, out);
    let (last_len, last_crc) = seal_last_incr(&loaded, config, &mut steps);
    if config.mutation != Mutation::SkipStartupSync {
        steps.extend(sync_steps(&loaded.files, dir));
    }
    let fresh = loaded.manifest.is_none();
    let rebuild_from = loaded.manifest.clone();
    let mut manifest = loaded.manifest.unwrap_or_default();
    let mut changed = false;
    if fresh {
        steps.push(step(Op::CreateDir { path: dir.clone() }));
        steps.push(step(Op::FsyncDir {
            path: String::new(),
        }));
    }
    if !manifest.history.is_empty() {
        // A rewrite's replaced files whose deletion did not finish: remove them now.
        for file in std::mem::take(&mut manifest.history) {
            steps.push(step(Op::Delete {
                path: join(dir, &file.name),
            }));
        }
        changed = true;
    }
    if manifest.base.is_none() && manifest.incrs.is_empty() {
        steps.extend(base_steps(config, &mut manifest, 1, keyspace, now_ms, out));
        changed = true;
    }
    let (path, file_len, crc) = match manifest.incrs.last() {
        Some(last) => (join(dir, &last.name), last_len, last_crc),
        None => {
            changed = true;
            let path = first_incr(config, &mut manifest, &mut steps, out);
            (path, 0, Running::new())
        }
    };
    if changed {
        steps.extend(persist_manifest(dir, &config.appendfilename, &manifest));
    }
    let purpose = Purpose::Open {
        manifest,
        path,
        file_len,
        crc,
        rebuild_from,
    };
    Procedure::new(purpose, steps)
}

/// A step of opening a loaded AOF failed. A failed fsync may have dropped the dirty pages of
/// what was read (fsyncgate): the page cache still shows them, so a restart would read them
/// again, its fsync would succeed, and it would serve data the disk does not hold. So the AOF
/// is rebuilt from memory instead: a new base of the loaded data set and a new incr file, a
/// manifest naming them with every loaded file as history, then those files deleted. If this
/// fails too, start-up refuses.
pub(crate) fn rebuild_procedure(
    config: &Config,
    old: &Manifest,
    keyspace: &Keyspace,
    now_ms: u64,
    out: &mut Outbox,
) -> Procedure {
    let dir = &config.appenddirname;
    let history_of = |f: &AofFile| AofFile {
        kind: FileKind::History,
        ..f.clone()
    };
    let mut history: Vec<AofFile> = old.history.iter().map(history_of).collect();
    history.extend(old.base.iter().chain(&old.incrs).map(history_of));
    let mut manifest = Manifest {
        base: None,
        history,
        incrs: Vec::new(),
    };
    let base_seq = old.next_base_seq();
    let mut steps = base_steps(config, &mut manifest, base_seq, keyspace, now_ms, out);
    let seq = old.next_incr_seq();
    let name = manifest::incr_name(&config.appendfilename, seq);
    let path = join(dir, &name);
    steps.push(step(Op::Create { path: path.clone() }));
    manifest.incrs.push(AofFile {
        name,
        seq,
        kind: FileKind::Incr,
    });
    steps.extend(persist_manifest(dir, &config.appendfilename, &manifest));
    for file in std::mem::take(&mut manifest.history) {
        steps.push(step(Op::Delete {
            path: join(dir, &file.name),
        }));
    }
    steps.extend(persist_manifest(dir, &config.appendfilename, &manifest));
    let purpose = Purpose::Open {
        manifest,
        path,
        file_len: 0,
        crc: Running::new(),
        rebuild_from: None,
    };
    Procedure::new(purpose, steps)
}

/// Bytes after the last incr file's last checksum line (a crash tore the line off, or Redis
/// appended them) are about to be made durable: a checksum line vouching for them goes in
/// first, before the repair's fsync of that file, so damage to them is refused later instead
/// of loaded. Returns the file's length and running digest after it.
fn seal_last_incr(loaded: &Loaded, config: &Config, steps: &mut Vec<Step>) -> (u64, Running) {
    let last_incr = (loaded.manifest.as_ref())
        .and_then(|m| m.incrs.last())
        .map(|last| join(&config.appenddirname, &last.name));
    let unsealed = !loaded.last_incr_crc.is_empty();
    match last_incr {
        Some(path) if unsealed && config.mutation != Mutation::SkipStartupSeal => {
            let line = loaded.last_incr_crc.line();
            let len = loaded.last_incr_len + line.len() as u64;
            let repair_fsync =
                (steps.iter()).position(|s| matches!(&s.op, Op::Fsync { path: p } if *p == path));
            let at = repair_fsync.unwrap_or(steps.len());
            let bytes = line.into();
            steps.insert(at, step(Op::Append { path, bytes }));
            (len, Running::new())
        }
        _ => (loaded.last_incr_len, loaded.last_incr_crc.clone()),
    }
}

/// Cutting each torn tail found while loading, made durable before anything else.
fn repair_steps(truncations: &[(String, u64)], stats: &mut Stats, out: &mut Outbox) -> Vec<Step> {
    let mut steps = Vec::new();
    for (path, len) in truncations {
        out.warn(format!(
            "!!! Truncating the AOF {path} at offset {len} !!! (torn tail)"
        ));
        stats.truncations += 1;
        steps.push(step(Op::Truncate {
            path: path.clone(),
            len: *len,
        }));
        steps.push(step(Op::Fsync { path: path.clone() }));
    }
    steps
}

/// A manifest without incr files gets an empty one to append to; returns its path.
fn first_incr(
    config: &Config,
    manifest: &mut Manifest,
    steps: &mut Vec<Step>,
    out: &mut Outbox,
) -> String {
    let seq = manifest.next_incr_seq();
    let name = manifest::incr_name(&config.appendfilename, seq);
    let path = join(&config.appenddirname, &name);
    steps.push(step(Op::Create { path: path.clone() }));
    out.notice(format!("Creating AOF incr file {name} on server start"));
    manifest.incrs.push(AofFile {
        name,
        seq,
        kind: FileKind::Incr,
    });
    path
}

/// What a killed run left may be only in the page cache: make every file read, the AOF
/// directory and its parent durable before anything (a reply) depends on them.
fn sync_steps(files: &[String], dir: &str) -> Vec<Step> {
    let mut steps: Vec<Step> = files
        .iter()
        .map(|f| step(Op::Fsync { path: f.clone() }))
        .collect();
    if !files.is_empty() {
        steps.push(step(Op::FsyncDir {
            path: dir.to_string(),
        }));
        steps.push(step(Op::FsyncDir {
            path: String::new(),
        }));
    }
    steps
}
