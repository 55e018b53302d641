//! Completions the router hands on: a start-up step, a file procedure's end, a snapshot's end
//! each go to the sub-machine that started them, and what that one returns is acted on here
//! (serve, refuse, start the next procedure).
//!
//! Owns no state. Invariant: a procedure's result reaches exactly the sub-machine its
//! [`Purpose`] names, and a start-up failure always ends in [`Phase::Refused`] with the file and
//! the reason, never in serving.

use crate::config::Mutation;
use crate::io::{EffectId, IoError, IoResult};

use super::aof_toggle::AofToggle;
use super::aof_writer::StepEnd;
use super::phase::{Phase, StartError};
use super::procedure::{Procedure, Purpose};
use super::snapshot::SnapshotEnd;
use super::startup::{self, StartupStep};
use super::{rewrite, Engine};

impl Engine {
    pub(super) fn refuse(&mut self, e: StartError) {
        self.out.warn(format!("Refusing to start: {e}"));
        self.phase = Phase::Refused(e);
    }

    pub(super) fn on_startup_step(&mut self, step: StartupStep, now_ms: u64) {
        match step {
            StartupStep::Continue => {}
            StartupStep::Refused(e) => self.refuse(e),
            StartupStep::RdbLoaded { keys, ready } => {
                self.snapshots.keys_loaded = keys;
                self.adopt_repl_aux();
                if let Some(ready) = ready {
                    self.run_procedure(ready, now_ms);
                }
            }
            StartupStep::AofLoaded(loaded) => {
                self.rewrites.loaded(loaded.bytes);
                let (config, keyspace) = (&self.config, &self.keyspace);
                let stats = &mut self.stats;
                let open =
                    startup::open_procedure(loaded, config, keyspace, stats, now_ms, &mut self.out);
                self.run_procedure(open, now_ms);
            }
        }
    }

    /// Start-up finished but for the cleanup of what a crashed run left: serve once it ends
    /// (see [`Engine::on_cleanup_io`]).
    pub(super) fn serve(&mut self, message: String) {
        if self.config.mutation == Mutation::ServeBeforeCleanup {
            self.phase = Phase::Running;
        }
        self.startup.start_cleanup(message, &mut self.out);
    }

    /// A list or delete of the start-up cleanup completed; the last one starts serving. A
    /// shutdown requested meanwhile already stopped the engine: it stays stopped.
    pub(super) fn on_cleanup_io(&mut self, id: EffectId, result: IoResult) {
        let ready = self.startup.handle_cleanup_io(id, result, &mut self.out);
        if let (Some(message), Phase::Loading) = (ready, &self.phase) {
            self.phase = Phase::Running;
            self.out.notice(message);
        }
    }

    pub(super) fn run_procedure(&mut self, procedure: Procedure, now_ms: u64) {
        if let Some((purpose, view_len)) = self.aof.run_procedure(procedure, &mut self.out) {
            self.finish_procedure(purpose, view_len, now_ms);
        }
    }

    pub(super) fn on_procedure_io(&mut self, now_ms: u64, result: IoResult) {
        match self.aof.handle_procedure_io(result, &mut self.out) {
            StepEnd::Running => {}
            StepEnd::Finished { purpose, view_len } => {
                self.finish_procedure(purpose, view_len, now_ms)
            }
            StepEnd::Failed {
                purpose,
                error,
                was_log_fsync,
                done,
            } => self.fail_procedure(purpose, error, was_log_fsync, done, now_ms),
        }
    }

    /// A procedure finished: hand its result to the sub-machine that started it.
    pub(super) fn finish_procedure(&mut self, purpose: Purpose, view_len: u64, now_ms: u64) {
        let out = &mut self.out;
        match purpose {
            Purpose::Rewrite {
                without_history,
                incr_start,
                ..
            } => (self.rewrites).handle_done(
                without_history,
                view_len,
                incr_start,
                now_ms,
                &mut self.aof,
                out,
            ),
            Purpose::Snapshot => unreachable!("snapshots run in their own slot"),
            Purpose::Enable { manifest } => AofToggle::handle_enabled(&mut self.aof, manifest, out),
            Purpose::Ready => self.serve("Ready to accept connections".to_string()),
            Purpose::Open {
                manifest,
                path,
                file_len,
                crc,
                ..
            } => {
                (self.aof).opened(&self.config, manifest, path.clone(), file_len, crc, now_ms);
                self.serve(format!(
                    "Opening AOF incr file {path}; ready to accept connections"
                ));
            }
            Purpose::Rotate {
                manifest,
                path,
                file_base,
                view,
                ..
            } => {
                (self.aof).rotated(manifest, &path, file_base, &mut self.stats, out);
                if let Some(view) = view {
                    let manifest = self.aof.manifest.as_ref().expect("manifest loaded");
                    let base =
                        rewrite::base_procedure(&self.config, manifest, view, file_base, now_ms);
                    self.run_procedure(base, now_ms);
                }
            }
        }
    }

    /// A procedure's step failed: the sub-machine that started it decides what it means.
    pub(super) fn fail_procedure(
        &mut self,
        purpose: Purpose,
        error: IoError,
        was_log_fsync: bool,
        done: usize,
        now_ms: u64,
    ) {
        let out = &mut self.out;
        match purpose {
            Purpose::Snapshot => unreachable!("snapshots run in their own slot"),
            Purpose::Enable { .. } => {
                AofToggle::handle_enable_failed(&mut self.aof, &mut self.config, &error, out)
            }
            Purpose::Ready => {
                let file = self.config.dbfilename.clone();
                let reason = format!("cannot make it durable: {}", error.message);
                let offset = None;
                self.refuse(StartError {
                    file,
                    offset,
                    reason,
                });
            }
            Purpose::Open {
                rebuild_from: Some(old),
                ..
            } => {
                out.warn(format!(
                    "Could not open the AOF ({}): rebuilding it from memory",
                    error.message
                ));
                let (config, keyspace) = (&self.config, &self.keyspace);
                let rebuild = startup::rebuild_procedure(config, &old, keyspace, now_ms, out);
                self.run_procedure(rebuild, now_ms);
            }
            Purpose::Open { path, .. } => {
                let reason = format!("cannot prepare the AOF: {}", error.message);
                let offset = None;
                self.refuse(StartError {
                    file: path,
                    offset,
                    reason,
                });
            }
            Purpose::Rewrite {
                with_history,
                steps_to_manifest,
                ..
            } => {
                let durable = (done >= steps_to_manifest).then_some(with_history);
                (self.rewrites).handle_failed(&error, durable, &mut self.aof, out);
            }
            rotate @ Purpose::Rotate { .. } => {
                self.fail_rotation(rotate, error, was_log_fsync, done, now_ms)
            }
        }
    }

    /// A switch to a new incr file failed at a step: before the manifest naming the new file
    /// was renamed in, appends resume in the old file; after it, the switch stands.
    fn fail_rotation(
        &mut self,
        purpose: Purpose,
        error: IoError,
        was_log_fsync: bool,
        done: usize,
        now_ms: u64,
    ) {
        let Purpose::Rotate {
            view,
            manifest,
            path,
            file_base,
            steps_to_manifest,
        } = purpose
        else {
            unreachable!("a rotation's purpose")
        };
        let out = &mut self.out;
        if view.is_some() {
            (self.rewrites).handle_failed(&error, None, &mut self.aof, out);
        }
        let replies = &mut self.replies;
        let reverts = self.config.mutation == Mutation::RotationRevertsAfterRename;
        if done >= steps_to_manifest && !reverts {
            (self.aof).rotated(manifest, &path, file_base, &mut self.stats, out);
            let dir = self.config.appenddirname.clone();
            (self.aof).rotation_unsynced(error, dir, now_ms, replies, out);
        } else {
            (self.aof).rotation_failed(error, was_log_fsync, now_ms, replies, out);
        }
    }

    pub(super) fn on_snapshot_io(&mut self, now_ms: u64, result: IoResult) {
        let (stats, replies) = (&mut self.stats, &mut self.replies);
        let end = (self.snapshots).handle_io(now_ms, result, stats, replies, &mut self.out);
        let SnapshotEnd::Ended { final_save_failed } = end else {
            return;
        };
        if final_save_failed {
            self.shutdown.cancel();
            self.phase = Phase::Running;
        }
        if self.snapshots.take_again() {
            let _ = self.start_snapshot(now_ms, true);
        }
    }
}
