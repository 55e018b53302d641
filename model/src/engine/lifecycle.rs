//! The engine's file procedures: finishing start-up (repair, create, open), rotating to a new
//! incr file, and dispatching completions of log writes and fsyncs.
//!
//! Invariant: the order of steps is the crash-safety argument (see `proofs/INVARIANTS.md`):
//! data fsync → rename → directory fsync → only then depend on the new name.

use super::*;

impl Engine {
    pub(super) fn on_startup_io(&mut self, now_ms: u64, result: IoResult) {
        let mut startup = self.startup.take().expect("startup in progress");
        let mut scratch = (Keyspace::new(self.config.databases), Shared::default());
        let (keyspace, shared) = if self.replay_skipped {
            (&mut scratch.0, &mut scratch.1)
        } else {
            (&mut self.keyspace, &mut self.shared)
        };
        let progress = startup.on_io(
            &self.config,
            result,
            keyspace,
            shared,
            now_ms,
            &mut self.out,
        );
        match progress {
            Progress::Continue => self.startup = Some(startup),
            Progress::Refused(e) => self.refuse(e),
            Progress::Loaded(loaded) => {
                self.stats.commands_loaded = loaded.commands;
                self.stats.base_keys_loaded = loaded.base_keys;
                self.notice(format!(
                    "DB loaded from append only file: {} commands, {} keys",
                    loaded.commands,
                    self.keyspace.len()
                ));
                self.open_log(loaded, now_ms);
            }
        }
    }

    pub(super) fn refuse(&mut self, e: StartError) {
        self.logs.push_back(LogLine {
            level: Level::Warning,
            message: format!("Refusing to start: {e}"),
        });
        self.phase = Phase::Refused(e);
    }

    /// After loading: cut torn tails, create what a fresh or partial directory lacks, persist
    /// the manifest if it changed, then append to the last incr file.
    fn open_log(&mut self, loaded: startup::Loaded, now_ms: u64) {
        let dir = self.config.appenddirname.clone();
        let prefix = self.config.appendfilename.clone();
        let mut steps = Vec::new();
        for (path, len) in &loaded.truncations {
            self.warn(format!(
                "!!! Truncating the AOF {path} at offset {len} !!! (torn tail)"
            ));
            self.stats.truncations += 1;
            steps.push(step(Op::Truncate {
                path: path.clone(),
                len: *len,
            }));
            steps.push(step(Op::Fsync { path: path.clone() }));
        }
        if self.config.mutation != Mutation::SkipStartupSync {
            steps.extend(sync_steps(&loaded.files, &dir));
        }
        self.rewrites.size_at = loaded.bytes;
        self.rewrites.base_size = loaded.bytes;
        let fresh = loaded.manifest.is_none();
        let mut manifest = loaded.manifest.unwrap_or(Manifest {
            base: None,
            history: Vec::new(),
            incrs: Vec::new(),
        });
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
                    path: join(&dir, &file.name),
                }));
            }
            changed = true;
        }
        if manifest.base.is_none() && manifest.incrs.is_empty() {
            steps.extend(self.base_steps(&mut manifest, 1, now_ms));
            changed = true;
        }
        let (path, file_len) = match manifest.incrs.last() {
            Some(last) => (join(&dir, &last.name), loaded.last_incr_len),
            None => {
                let seq = manifest.next_incr_seq();
                let name = manifest::incr_name(&prefix, seq);
                steps.push(step(Op::Create {
                    path: join(&dir, &name),
                }));
                self.notice(format!("Creating AOF incr file {name} on server start"));
                manifest.incrs.push(AofFile {
                    name: name.clone(),
                    seq,
                    kind: FileKind::Incr,
                });
                changed = true;
                (join(&dir, &name), 0)
            }
        };
        if changed {
            steps.extend(persist_manifest(&dir, &prefix, &manifest));
        }
        self.run_procedure(
            Procedure::new(
                Purpose::Open {
                    manifest,
                    path,
                    file_len,
                },
                steps,
            ),
            now_ms,
        );
    }

    /// A base of the current (loaded or empty) data set, written beside and renamed in.
    pub(super) fn base_steps(
        &mut self,
        manifest: &mut Manifest,
        seq: u64,
        now_ms: u64,
    ) -> Vec<Step> {
        let prefix = &self.config.appendfilename;
        let rdb = self.config.aof_use_rdb_preamble;
        let name = manifest::base_name(prefix, seq, rdb);
        let format = if rdb {
            ViewFormat::Rdb { aof_base: true }
        } else {
            ViewFormat::Resp
        };
        self.notice(format!("Creating AOF base file {name}"));
        manifest.base = Some(AofFile {
            name: name.clone(),
            seq,
            kind: FileKind::Base,
        });
        let view = self.keyspace.clone();
        let mut steps = procedure::write_view(TEMP_BASE, view, format, now_ms);
        steps.push(step(Op::Rename {
            from: TEMP_BASE.to_string(),
            to: join(&self.config.appenddirname, &name),
        }));
        steps
    }

    pub(super) fn run_procedure(&mut self, mut procedure: Procedure, now_ms: u64) {
        if procedure.advance(&mut self.out) {
            self.procedure = Some(procedure);
        } else {
            self.finish_procedure(procedure.purpose, procedure.view_len, now_ms);
        }
    }

    pub(super) fn on_procedure_io(&mut self, now_ms: u64, result: IoResult) {
        let mut procedure = self.procedure.take().expect("procedure in flight");
        let (_, credits) = procedure.inflight.take().expect("step in flight");
        if let IoResult::Failed(error) = result {
            let done = procedure.done;
            self.fail_procedure(procedure.purpose, error, credits.is_some(), done, now_ms);
            return;
        }
        procedure.done += 1;
        if let IoResult::Written { len } = result {
            procedure.view_len = len;
        }
        if let (Some(end), Some(log)) = (credits, &mut self.log) {
            log.credit_durable(end);
        }
        self.run_procedure(procedure, now_ms);
    }

    fn finish_procedure(&mut self, purpose: Purpose, view_len: u64, now_ms: u64) {
        match purpose {
            Purpose::Rewrite {
                without_history,
                incr_start,
                ..
            } => self.rewrite_done(without_history, view_len, incr_start, now_ms),
            Purpose::Snapshot => unreachable!("snapshots run in their own slot"),
            Purpose::Enable { manifest } => self.enable_done(manifest),
            Purpose::Ready => {
                self.start_cleanup();
                self.phase = Phase::Running;
                self.notice("Ready to accept connections".to_string());
            }
            Purpose::Open {
                manifest,
                path,
                file_len,
            } => {
                let c = &self.config;
                self.log = Some(AofLog::open(
                    c.appendfsync,
                    c.mutation,
                    path.clone(),
                    file_len,
                    now_ms,
                ));
                self.manifest = Some(manifest);
                self.startup = None;
                self.start_cleanup();
                self.phase = Phase::Running;
                self.notice(format!(
                    "Opening AOF incr file {path}; ready to accept connections"
                ));
            }
            Purpose::Rotate {
                manifest,
                path,
                file_base,
                view,
            } => {
                let log = self.log.as_mut().expect("log open");
                log.path = path.clone();
                log.file_base = file_base;
                log.file_len_at_open = 0;
                log.paused = false;
                self.manifest = Some(manifest);
                self.stats.rotations += 1;
                self.notice(format!("Switched AOF appends to {path}"));
                if let Some(view) = view {
                    self.start_rewrite_base(view, file_base, now_ms);
                }
            }
        }
    }

    fn fail_procedure(
        &mut self,
        purpose: Purpose,
        error: IoError,
        was_log_fsync: bool,
        done: usize,
        now_ms: u64,
    ) {
        match purpose {
            Purpose::Snapshot => unreachable!("snapshots run in their own slot"),
            Purpose::Enable { .. } => self.enable_failed(&error),
            Purpose::Ready => {
                let file = self.config.dbfilename.clone();
                let reason = format!("cannot make it durable: {}", error.message);
                self.refuse(StartError {
                    file,
                    offset: None,
                    reason,
                });
            }
            Purpose::Open { path, .. } => {
                let reason = format!("cannot prepare the AOF: {}", error.message);
                self.refuse(StartError {
                    file: path,
                    offset: None,
                    reason,
                });
            }
            Purpose::Rewrite {
                with_history,
                steps_to_manifest,
                ..
            } => self.rewrite_failed(&error, (done >= steps_to_manifest).then_some(with_history)),
            Purpose::Rotate { view, .. } => {
                if view.is_some() {
                    self.rewrite_failed(&error, None);
                }
                let log = self.log.as_mut().expect("log open");
                log.paused = false;
                if was_log_fsync {
                    let frame = log.fail(error.clone(), true, now_ms);
                    self.replies.fail_waiting(&frame);
                }
                self.warn(format!(
                    "Could not switch to a new AOF incr file: {}",
                    error.message
                ));
            }
        }
    }

    /// Rotation starts once no append or foreground fsync is in flight; what is buffered goes
    /// to the old file first, so every record lands in exactly one file.
    pub(super) fn try_start_rotation(&mut self) {
        let Some(log) = &mut self.log else { return };
        let lane_busy =
            log.append.is_some() || (log.fsync.is_some() && log.fsync_lane == Lane::Log);
        if !self.rotate_pending || self.procedure.is_some() || log.failure.is_some() || lane_busy {
            return;
        }
        self.rotate_pending = false;
        if !log.buf.is_empty() {
            log.force_append(&mut self.out);
        }
        let end = log.offset_logged;
        let old = log.path.clone();
        log.selected_db = None;
        log.paused = true;
        // The view and the switch happen in this one step: every write before it is in the
        // view, every write after it goes to the new incr file.
        let view = std::mem::take(&mut self.rewrites.wants_view).then(|| self.keyspace.clone());
        let mut steps = Vec::new();
        let redis_order = matches!(
            self.config.mutation,
            Mutation::RotateBeforeOldDurable | Mutation::TruncateTornNonLast
        );
        if !redis_order {
            steps.push(Step {
                lane: Lane::Log,
                op: Op::Fsync { path: old },
                credits_durable: Some(end),
            });
        }
        let mut manifest = self.manifest.clone().expect("manifest loaded");
        let seq = manifest.next_incr_seq();
        let name = manifest::incr_name(&self.config.appendfilename, seq);
        let path = join(&self.config.appenddirname, &name);
        manifest.incrs.push(AofFile {
            name,
            seq,
            kind: FileKind::Incr,
        });
        steps.push(step(Op::Create { path: path.clone() }));
        steps.extend(persist_manifest(
            &self.config.appenddirname,
            &self.config.appendfilename,
            &manifest,
        ));
        self.notice(format!("Starting a new AOF incr file {path}"));
        let procedure = Procedure::new(
            Purpose::Rotate {
                manifest,
                path,
                file_base: end,
                view,
            },
            steps,
        );
        self.procedure = None;
        let mut procedure = procedure;
        procedure.advance(&mut self.out);
        self.procedure = Some(procedure);
    }

    /// A log append, log fsync or retry truncate completed.
    pub(super) fn on_log_io(&mut self, now_ms: u64, done: IoDone) {
        let log = self.log.as_mut().expect("log io without a log");
        let failed = match done.result {
            IoResult::Failed(e) => Some(e),
            _ => None,
        };
        let retrying = log.failure.as_ref().and_then(|f| f.retrying) == Some(done.id);
        if retrying {
            log.retry_done(failed.is_none(), now_ms);
            if failed.is_none() {
                self.notice("AOF write error looks solved, durakv can write again.".to_string());
            }
            return;
        }
        let is_append = log.append.as_ref().is_some_and(|a| a.id == done.id);
        let is_fsync = log.fsync.as_ref().is_some_and(|f| f.id == done.id);
        assert!(
            is_append || is_fsync,
            "completion of unknown effect {}",
            done.id
        );
        match failed {
            None if is_append => assert!(log.append_done(done.id)),
            None => assert!(log.fsync_done(done.id)),
            Some(error) => {
                if is_append {
                    log.append = None;
                } else {
                    log.fsync = None;
                }
                let what = if is_append { "writing to" } else { "fsyncing" };
                let message = format!("Error {what} the AOF file: {}", error.message);
                let frame = log.fail(error, is_fsync, now_ms);
                self.replies.fail_waiting(&frame);
                self.warn(message);
                return;
            }
        }
        if is_append {
            log.maybe_background_fsync(now_ms, false, &mut self.out);
        }
    }
}

/// What a killed run left may be only in the page cache: make every file read, the AOF
/// directory and its parent durable before anything (a reply) depends on them.
pub(super) fn sync_steps(files: &[String], dir: &str) -> Vec<Step> {
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
