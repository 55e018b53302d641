//! `CONFIG SET appendonly yes|no` at run time.
//!
//! Enabling writes a base from the in-memory data set (the O(1) view taken in the same step
//! that starts buffering new records) and an empty incr file, persists a manifest naming them,
//! and only then lets the buffered records out. The new files take a sequence number from the
//! clock (seconds), and never below one past every file this run's manifests named (the
//! model checker found a clock at 0 re-creating `appendonly.aof.1.incr.aof`), so no file a durable manifest
//! still names is ever truncated. Disabling stops logging at once, writes and fsyncs what was
//! logged, answers, then closes the log.
//!
//! Owns whether the AOF is being disabled and the requirement of the CONFIG SET reply; the log
//! is the AOF writer's, passed in. Invariant: the CONFIG SET reply claims only what is durable.

use crate::aof::checksum::Running;
use crate::aof::manifest::{self, AofFile, FileKind, Manifest};
use crate::config::Config;
use crate::io::{join, IoError, Op};
use crate::keyspace::Keyspace;

use super::aof_log::AofLog;
use super::aof_writer::{base_steps, AofWriter};
use super::outbox::Outbox;
use super::procedure::{persist_manifest, step, Procedure, Purpose};
use super::replies::Need;

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct AofToggle {
    /// `appendonly no` was set: nothing more is logged, and the log closes once durable.
    pub(crate) disabling: bool,
    /// The requirement of the reply being built, when it is not the usual one (CONFIG SET
    /// appendonly no answers once the log is durable).
    pub(crate) pending_need: Option<Need>,
}

impl AofToggle {
    /// The requirement of the reply being built, if CONFIG SET set one (once).
    pub(crate) fn take_need(&mut self) -> Option<Need> {
        self.pending_need.take()
    }

    /// Turns the AOF on: opens a paused log and returns the procedure that makes its files.
    /// `Err` is the reason it cannot now.
    pub(crate) fn enable(
        &self,
        now_ms: u64,
        aof: &mut AofWriter,
        config: &mut Config,
        keyspace: &Keyspace,
        out: &mut Outbox,
    ) -> Result<Procedure, String> {
        if aof.log.is_some() || aof.procedure.is_some() || self.disabling {
            return Err("the AOF is busy switching; try again".to_string());
        }
        let (dir, prefix) = (config.appenddirname.clone(), config.appendfilename.clone());
        // Above every file this run's manifests named (a clock in seconds alone can repeat
        // one: the model checker's clock starts at 0, a real one can step back).
        let seq = (now_ms / 1000).max(aof.seq_floor).max(1);
        let mut manifest = Manifest {
            base: None,
            history: Vec::new(),
            incrs: Vec::new(),
        };
        let mut steps = vec![
            step(Op::CreateDir { path: dir.clone() }),
            step(Op::FsyncDir {
                path: String::new(),
            }),
        ];
        steps.extend(base_steps(
            config,
            &mut manifest,
            seq,
            keyspace,
            now_ms,
            out,
        ));
        let name = manifest::incr_name(&prefix, seq);
        let path = join(&dir, &name);
        manifest.incrs.push(AofFile {
            name,
            seq,
            kind: FileKind::Incr,
        });
        steps.push(step(Op::Create { path: path.clone() }));
        steps.extend(persist_manifest(&dir, &prefix, &manifest));
        let mut log = AofLog::open(
            config.appendfsync,
            config.mutation,
            path,
            0,
            Running::new(),
            now_ms,
        );
        log.paused = true;
        aof.log = Some(log);
        config.appendonly = true;
        out.notice("Background append only file rewriting started (enabling the AOF)".to_string());
        Ok(Procedure::new(Purpose::Enable { manifest }, steps))
    }

    /// The enabling procedure finished: the buffered records may go out.
    pub(crate) fn handle_enabled(aof: &mut AofWriter, manifest: Manifest, out: &mut Outbox) {
        aof.manifest = Some(manifest);
        aof.log.as_mut().expect("log being enabled").paused = false;
        out.notice("AOF enabled: appending to the new incr file".to_string());
    }

    pub(crate) fn handle_enable_failed(
        aof: &mut AofWriter,
        config: &mut Config,
        error: &IoError,
        out: &mut Outbox,
    ) {
        // Nothing durable names the new files; the records buffered meanwhile are dropped
        // with the log, and the AOF stays off, as Redis does after a failed initial rewrite.
        aof.log = None;
        config.appendonly = false;
        out.warn(format!("Could not enable the AOF: {}", error.message));
    }

    /// Turns the AOF off: nothing more is logged; what was logged is written and fsynced.
    pub(crate) fn disable(&mut self, config: &mut Config, out: &mut Outbox) {
        self.disabling = true;
        config.appendonly = false;
        out.notice("Stopping the AOF: flushing and fsyncing it".to_string());
    }

    /// What was logged is durable: close the log.
    pub(crate) fn handle_drained(&mut self, aof: &mut AofWriter, out: &mut Outbox) {
        aof.close();
        self.disabling = false;
        out.notice("AOF stopped: everything logged is durable".to_string());
    }
}
