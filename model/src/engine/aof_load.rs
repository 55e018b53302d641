//! The AOF loader: start-up recovery as a pure plan. Read the manifest (or upgrade a pre-7.0
//! single `appendonly.aof`), load the base and incr files in order, and decide what a torn or
//! corrupt byte means. It lives in the engine, not in `crate::aof`, because it reads through
//! effects and replays through the command layer; `crate::aof` holds the formats it decodes.
//!
//! Owns the loading state. Invariants:
//! - the data set after loading is the replay of whole records only; a torn or zero-filled tail
//!   is accepted only at the end of the **last** file (and only with `aof-load-truncated yes`),
//!   and is repaired by a truncation the engine performs as an effect, with its offset reported;
//! - an unfinished MULTI at the end is rolled back to before the MULTI, as a truncation;
//! - every checksum line (`aof::checksum`) matches the bytes since the previous one, else
//!   start-up is refused; bytes after the last line load (Redis may have appended them) and
//!   their digest goes to the writer, whose first line vouches for them too;
//! - anything else refuses start-up with the file, the byte offset and the reason;
//! - a missing manifest next to AOF files that hold data refuses start-up: durakv never starts
//!   empty in silence over data it could not account for.

use bytes::Bytes;

use crate::aof::checksum::{self, Running};
use crate::aof::manifest::{self, Manifest};
use crate::aof::record::{self, Decoded};
use crate::aof::{holds_data, zero_filled_tail};
use crate::command::{self, CommandId, Ctx, Session, Shared};
use crate::config::{Config, Mutation};
use crate::io::{join, EffectId, IoResult, Lane, Op, Owner};
use crate::keyspace::Keyspace;
use crate::rdb;

use super::aof_upgrade;
use super::outbox::Outbox;
use super::phase::StartError;
use super::rdb_load::rdb_reason;

/// What loading found, for start-up to open the AOF.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Loaded {
    /// `None` when there was no manifest (a fresh start).
    pub(crate) manifest: Option<Manifest>,
    /// Torn tails to cut: (path, length to keep).
    pub(crate) truncations: Vec<(String, u64)>,
    /// Length of the last incr file after repair, if the manifest has one.
    pub(crate) last_incr_len: u64,
    /// Digest of that file's bytes after its last checksum line, up to `last_incr_len`.
    pub(crate) last_incr_crc: Running,
    pub(crate) commands: u64,
    /// Bytes of all files loaded (after repair): `aof_current_size` at start.
    pub(crate) bytes: u64,
    pub(crate) base_keys: u64,
    /// Every file read (manifest first): start-up makes them durable before serving.
    pub(crate) files: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Stage {
    Manifest,
    /// No manifest: is there a pre-7.0 single `appendonly.aof` in `dir` to upgrade?
    OldStyle,
    /// Moving an old-style AOF into the directory and naming it by a manifest, step by step.
    Upgrade(std::collections::VecDeque<Op>),
    /// No manifest: list the AOF directory to make sure no data would be ignored.
    Orphans,
    /// Reading the file `files[index]` (for orphans: checking it holds no data).
    File,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct AofLoad {
    stage: Stage,
    manifest: Option<Manifest>,
    /// Paths to read, in load order.
    files: Vec<String>,
    index: usize,
    /// Bytes of the current file read and not yet consumed, starting at file offset `buf_at`.
    buf: Vec<u8>,
    buf_at: u64,
    read_at: u64,
    eof: bool,
    /// File offset after the last whole record outside a MULTI.
    good: u64,
    /// Digest since the file's last checksum line: of what is consumed, and up to `good`.
    crc: Running,
    crc_good: Running,
    multi: Option<Vec<(CommandId, Vec<Bytes>)>>,
    session: Session,
    inflight: Option<EffectId>,
    truncations: Vec<(String, u64)>,
    commands: u64,
    last_len: u64,
    last_crc: Running,
    bytes: u64,
    base_keys: u64,
    manifest_path: String,
}

/// One step of loading, as the engine sees it.
pub(crate) enum Progress {
    Continue,
    Loaded(Loaded),
    Refused(StartError),
}

impl AofLoad {
    pub(crate) fn begin(config: &Config, out: &mut Outbox) -> AofLoad {
        let mut startup = AofLoad {
            stage: Stage::Manifest,
            manifest: None,
            files: Vec::new(),
            index: 0,
            buf: Vec::new(),
            buf_at: 0,
            read_at: 0,
            eof: false,
            good: 0,
            crc: Running::new(),
            crc_good: Running::new(),
            multi: None,
            session: Session::default(),
            inflight: None,
            truncations: Vec::new(),
            commands: 0,
            last_len: 0,
            last_crc: Running::new(),
            bytes: 0,
            base_keys: 0,
            manifest_path: manifest_path(config),
        };
        startup.read_next(config, manifest_path(config), out);
        startup
    }

    fn read_next(&mut self, config: &Config, path: String, out: &mut Outbox) {
        let op = Op::Read {
            path,
            offset: self.read_at,
            len_max: config.load_chunk_bytes,
        };
        self.inflight = Some(out.emit(Owner::AofLoad, Lane::Log, op));
    }

    /// Handles the completion of the read or list in flight.
    pub(crate) fn on_io(
        &mut self,
        config: &Config,
        result: IoResult,
        ks: &mut Keyspace,
        shared: &mut Shared,
        now_ms: u64,
        out: &mut Outbox,
    ) -> Progress {
        self.inflight = None;
        match self.stage.clone() {
            Stage::Manifest => self.on_manifest(config, result, out),
            Stage::OldStyle => self.on_old_style(config, result, out),
            Stage::Upgrade(ops) => self.on_upgrade_step(config, ops, result, out),
            Stage::Orphans => self.on_listing(config, result, out),
            Stage::File => self.on_file(config, result, ks, shared, now_ms, out),
        }
    }

    fn on_manifest(&mut self, config: &Config, result: IoResult, out: &mut Outbox) -> Progress {
        let path = manifest_path(config);
        match result {
            IoResult::NotFound => {
                self.stage = Stage::OldStyle;
                let op = Op::Read {
                    path: config.appendfilename.clone(),
                    offset: 0,
                    len_max: 1,
                };
                self.inflight = Some(out.emit(Owner::AofLoad, Lane::Log, op));
                Progress::Continue
            }
            IoResult::Read { bytes, eof } => {
                self.buf.extend_from_slice(&bytes);
                self.read_at += bytes.len() as u64;
                if !eof {
                    self.read_next(config, path, out);
                    return Progress::Continue;
                }
                match Manifest::parse(&self.buf) {
                    Ok(manifest) => self.start_files(config, manifest, out),
                    Err(e) => refuse(
                        &path,
                        Some(e.offset),
                        format!("line {}: {}", e.line, e.reason),
                    ),
                }
            }
            IoResult::Failed(e) => refuse(&path, None, format!("cannot read: {}", e.message)),
            other => refuse(&path, None, format!("unexpected result {other:?}")),
        }
    }

    fn start_files(&mut self, config: &Config, manifest: Manifest, out: &mut Outbox) -> Progress {
        let dir = &config.appenddirname;
        self.files = manifest
            .base
            .iter()
            .chain(manifest.incrs.iter())
            .map(|f| join(dir, &f.name))
            .collect();
        self.manifest = Some(manifest);
        self.stage = Stage::File;
        self.open_file(config, 0, out)
    }

    fn open_file(&mut self, config: &Config, index: usize, out: &mut Outbox) -> Progress {
        self.index = index;
        self.buf.clear();
        (self.buf_at, self.read_at, self.good, self.eof) = (0, 0, 0, false);
        (self.crc, self.crc_good) = (Running::new(), Running::new());
        self.multi = None;
        // Each file is replayed from database 0 until its own SELECT, as Redis does.
        self.session = Session::default();
        match self.files.get(index).cloned() {
            Some(path) => {
                self.read_next(config, path, out);
                Progress::Continue
            }
            None => self.finish(),
        }
    }

    fn loaded_files(&self) -> Vec<String> {
        match &self.manifest {
            Some(_) => std::iter::once(self.manifest_path.clone())
                .chain(self.files.iter().cloned())
                .collect(),
            None => Vec::new(),
        }
    }

    fn finish(&mut self) -> Progress {
        let files = self.loaded_files();
        Progress::Loaded(Loaded {
            manifest: self.manifest.take(),
            truncations: std::mem::take(&mut self.truncations),
            last_incr_len: self.last_len,
            last_incr_crc: std::mem::take(&mut self.last_crc),
            commands: self.commands,
            bytes: self.bytes,
            base_keys: self.base_keys,
            files,
        })
    }

    fn on_listing(&mut self, config: &Config, result: IoResult, out: &mut Outbox) -> Progress {
        if config.mutation == Mutation::FreshStartWithoutManifest {
            return self.finish();
        }
        let names = match result {
            IoResult::NotFound => return self.finish(),
            IoResult::Listed { names } => names,
            IoResult::Failed(e) => {
                return refuse(
                    &config.appenddirname,
                    None,
                    format!("cannot list: {}", e.message),
                )
            }
            other => return refuse(&config.appenddirname, None, format!("unexpected {other:?}")),
        };
        if names.contains(&config.appendfilename) {
            // An upgrade moved the old-style file in and stopped before its manifest.
            return self.upgrade(config, aof_upgrade::manifest_ops(config), out);
        }
        let prefix = format!("{}.", config.appendfilename);
        self.files = names
            .into_iter()
            .filter(|n| n.starts_with(&prefix) && (n.ends_with(".aof") || n.ends_with(".rdb")))
            .map(|n| join(&config.appenddirname, &n))
            .collect();
        self.stage = Stage::File;
        self.open_file(config, 0, out)
    }

    fn on_old_style(&mut self, config: &Config, result: IoResult, out: &mut Outbox) -> Progress {
        match result {
            IoResult::NotFound => {
                self.stage = Stage::Orphans;
                let op = Op::List {
                    path: config.appenddirname.clone(),
                };
                self.inflight = Some(out.emit(Owner::AofLoad, Lane::Log, op));
                Progress::Continue
            }
            IoResult::Read { .. } => self.upgrade(config, aof_upgrade::all_ops(config), out),
            IoResult::Failed(e) => refuse(
                &config.appendfilename,
                None,
                format!("cannot read: {}", e.message),
            ),
            other => refuse(
                &config.appendfilename,
                None,
                format!("unexpected {other:?}"),
            ),
        }
    }

    fn upgrade(&mut self, config: &Config, ops: Vec<Op>, out: &mut Outbox) -> Progress {
        self.stage = Stage::Upgrade(ops.into());
        self.on_upgrade_step(config, self.stage_ops(), IoResult::Done, out)
    }

    fn stage_ops(&self) -> std::collections::VecDeque<Op> {
        match &self.stage {
            Stage::Upgrade(ops) => ops.clone(),
            _ => Default::default(),
        }
    }

    /// One step of the upgrade done (every step is restartable: a crash anywhere leaves either
    /// the old-style file in `dir`, or it in the AOF directory with or without its manifest).
    fn on_upgrade_step(
        &mut self,
        config: &Config,
        mut ops: std::collections::VecDeque<Op>,
        result: IoResult,
        out: &mut Outbox,
    ) -> Progress {
        if let IoResult::Failed(e) = result {
            return refuse(
                &config.appendfilename,
                None,
                format!("cannot upgrade the old-style AOF: {}", e.message),
            );
        }
        match ops.pop_front() {
            Some(op) => {
                self.inflight = Some(out.emit(Owner::AofLoad, Lane::Log, op));
                self.stage = Stage::Upgrade(ops);
                Progress::Continue
            }
            None => {
                let manifest = aof_upgrade::manifest(config);
                self.buf.clear();
                self.read_at = 0;
                self.start_files(config, manifest, out)
            }
        }
    }

    fn on_file(
        &mut self,
        config: &Config,
        result: IoResult,
        ks: &mut Keyspace,
        shared: &mut Shared,
        now_ms: u64,
        out: &mut Outbox,
    ) -> Progress {
        let path = self.files[self.index].clone();
        match result {
            IoResult::Read { bytes, eof } => {
                self.buf.extend_from_slice(&bytes);
                self.read_at += bytes.len() as u64;
                self.eof = eof;
            }
            IoResult::NotFound => {
                return refuse(
                    &path,
                    None,
                    "listed in the manifest but missing".to_string(),
                )
            }
            IoResult::Failed(e) => {
                return refuse(&path, None, format!("cannot read: {}", e.message))
            }
            other => return refuse(&path, None, format!("unexpected {other:?}")),
        }
        if self.manifest.is_none() {
            return self.check_orphan(config, &path, out);
        }
        match self.consume(&path, ks, shared, now_ms) {
            Ok(true) => self.end_of_file(config, &path, out),
            Ok(false) => {
                self.read_next(config, path, out);
                Progress::Continue
            }
            Err(e) => Progress::Refused(e),
        }
    }

    /// A file in the AOF directory with no manifest naming it: it may be the leftover of a
    /// start-up that crashed before its manifest was durable, which holds no data. Anything
    /// holding data means the manifest was lost: refuse.
    fn check_orphan(&mut self, config: &Config, path: &str, out: &mut Outbox) -> Progress {
        if !self.eof {
            self.read_next(config, path.to_string(), out);
            return Progress::Continue;
        }
        if holds_data(&self.buf) {
            let reason = format!(
                "holds data but the manifest {} is missing; refusing to start empty \
                 (restore the manifest, or move the AOF directory away to start afresh)",
                manifest_path(config)
            );
            return refuse(path, None, reason);
        }
        self.open_file(config, self.index + 1, out)
    }

    /// Replays what is buffered. `Ok(true)` when the file is finished.
    fn consume(
        &mut self,
        path: &str,
        ks: &mut Keyspace,
        shared: &mut Shared,
        now_ms: u64,
    ) -> Result<bool, StartError> {
        let mut pos = 0usize;
        if self.buf_at == 0 && crate::aof::rdb_preamble(&self.buf, self.eof) {
            if !self.eof {
                return Ok(false);
            }
            pos = self.load_rdb(path, ks, now_ms)?;
            self.crc.write(&self.buf[..pos]);
            self.crc_good = self.crc.clone();
        }
        let done = loop {
            match record::decode(&self.buf[pos..]) {
                Decoded::Command { argv, len } => {
                    let at = self.buf_at + pos as u64;
                    self.crc.write(&self.buf[pos..pos + len]);
                    self.apply(path, at, argv, ks, shared, now_ms)?;
                    pos += len;
                }
                Decoded::Annotation { len } => {
                    self.check_annotation(path, pos, len)?;
                    pos += len;
                }
                Decoded::Incomplete => break self.eof,
                Decoded::Corrupt { offset, reason } => {
                    if !zero_filled_tail(&self.buf[pos..]) {
                        let at = self.buf_at + (pos + offset) as u64;
                        return Err(err(path, Some(at), format!("bad file format: {reason}")));
                    }
                    // A torn record then zeros: a zero-filled tail if the zeros run to the end.
                    break self.eof;
                }
            }
            if self.multi.is_none() {
                self.good = self.buf_at + pos as u64;
                self.crc_good = self.crc.clone();
            }
        };
        self.buf.drain(..pos);
        self.buf_at += pos as u64;
        Ok(done)
    }

    /// A `#` line at `buf[pos..pos + len]`: see `checksum::check`.
    fn check_annotation(&mut self, path: &str, pos: usize, len: usize) -> Result<(), StartError> {
        let line = &self.buf[pos..pos + len];
        let at = self.buf_at + pos as u64;
        match checksum::check(line, &self.crc, at) {
            Ok(true) => self.crc = Running::new(),
            Ok(false) => self.crc.write(line),
            Err(reason) => return Err(err(path, Some(at), reason)),
        }
        Ok(())
    }

    /// An RDB base (or old-style preamble): any error is fatal, as in Redis.
    fn load_rdb(
        &mut self,
        path: &str,
        ks: &mut Keyspace,
        now_ms: u64,
    ) -> Result<usize, StartError> {
        let opts = rdb::LoadOptions {
            now_ms,
            drop_expired: false,
        };
        let decoded = rdb::decode(&self.buf, ks, &opts).and_then(|loaded| {
            command::load_libraries(&mut ks.functions, &loaded.functions)
                .map(|()| loaded)
                .map_err(|reason| rdb::RdbError {
                    offset: 0,
                    reason: format!("{reason} at offset 0"),
                    incomplete: false,
                })
        });
        match decoded {
            Ok(loaded) => {
                self.commands += loaded.keys_loaded;
                self.base_keys += loaded.keys_loaded;
                self.good = loaded.end_offset;
                Ok(loaded.end_offset as usize)
            }
            Err(e) => Err(err(
                path,
                Some(e.offset),
                format!("bad RDB preamble: {}", rdb_reason(&e)),
            )),
        }
    }

    fn apply(
        &mut self,
        path: &str,
        at: u64,
        argv: Vec<Bytes>,
        ks: &mut Keyspace,
        shared: &mut Shared,
        now_ms: u64,
    ) -> Result<(), StartError> {
        // Only what the command layer runs can be in an AOF; resolved once per record.
        let id = command::resolve(&argv[0]).filter(|&id| command::is_data(id));
        let name = id.map_or("", |id| command::entry(id).name);
        match (name, &mut self.multi) {
            ("multi", None) => self.multi = Some(Vec::new()),
            ("exec", Some(_)) => {
                for (id, queued) in self.multi.take().unwrap_or_default() {
                    self.execute(ks, shared, now_ms, id, &queued);
                }
            }
            ("multi", Some(_)) | ("exec", None) => {
                let reason = format!("unexpected {}", name.to_ascii_uppercase());
                return Err(err(path, Some(at), reason));
            }
            (_, multi) => {
                let Some(id) = id else {
                    let shown = String::from_utf8_lossy(&argv[0]).into_owned();
                    return Err(err(path, Some(at), format!("unknown command '{shown}'")));
                };
                match multi {
                    Some(queue) => queue.push((id, argv)),
                    None => self.execute(ks, shared, now_ms, id, &argv),
                }
            }
        }
        Ok(())
    }

    fn execute(
        &mut self,
        ks: &mut Keyspace,
        shared: &mut Shared,
        now_ms: u64,
        id: CommandId,
        argv: &[Bytes],
    ) {
        let ctx = Ctx {
            now_ms,
            loading: true,
            random: 0,
            write_denial: None,
        };
        // Replies are discarded, as Redis's AOF client does: the log holds what was applied.
        let session = &mut self.session;
        let _ = command::execute_resolved(ks, shared, session, ctx, Some(id), argv);
        self.commands += 1;
    }

    /// The whole file was consumed up to `good`; anything after it is a torn tail.
    fn end_of_file(&mut self, config: &Config, path: &str, out: &mut Outbox) -> Progress {
        let len = self.buf_at + self.buf.len() as u64;
        let last = self.index + 1 == self.files.len();
        if self.good < len {
            let mutated = config.mutation == Mutation::TruncateTornNonLast;
            if !last && !mutated {
                let reason = "truncated, and it is not the last file: its lost tail would leave a \
                              hole before the files that follow"
                    .to_string();
                return refuse(path, Some(self.good), reason);
            }
            if !config.aof_load_truncated {
                let reason = "unexpected end of file (aof-load-truncated is no)".to_string();
                return refuse(path, Some(self.good), reason);
            }
            self.truncations.push((path.to_string(), self.good));
        }
        self.last_len = self.good;
        self.last_crc = self.crc_good.clone();
        self.bytes += self.good;
        self.open_file(config, self.index + 1, out)
    }
}

pub(crate) fn manifest_path(config: &Config) -> String {
    join(
        &config.appenddirname,
        &manifest::manifest_name(&config.appendfilename),
    )
}

fn err(path: &str, offset: Option<u64>, reason: String) -> StartError {
    StartError {
        file: path.to_string(),
        offset,
        reason,
    }
}

fn refuse(path: &str, offset: Option<u64>, reason: String) -> Progress {
    Progress::Refused(err(path, offset, reason))
}
