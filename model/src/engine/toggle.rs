//! `CONFIG SET appendonly yes|no` at run time.
//!
//! Enabling writes a base from the in-memory data set (the O(1) view taken in the same step
//! that starts buffering new records) and an empty incr file, persists a manifest naming them,
//! and only then lets the buffered records out. The new files take a sequence number from the
//! clock (seconds), above any left by an earlier AOF period, so no file a durable manifest
//! still names is ever truncated. Disabling stops logging at once, writes and fsyncs what was
//! logged, answers, then closes the log. Invariant: the CONFIG SET reply claims only what is
//! durable.

use super::procedure::{persist_manifest, step, Procedure, Purpose};
use super::*;

impl Engine {
    /// Turns the AOF on. `Err` is the reason it cannot now.
    pub(super) fn enable_aof(&mut self, now_ms: u64) -> Result<(), String> {
        if self.log.is_some() || self.procedure.is_some() || self.disabling {
            return Err("the AOF is busy switching; try again".to_string());
        }
        let (dir, prefix) = (
            self.config.appenddirname.clone(),
            self.config.appendfilename.clone(),
        );
        let seq = (now_ms / 1000).max(1);
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
        steps.extend(self.base_steps(&mut manifest, seq, now_ms));
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
            self.config.appendfsync,
            self.config.mutation,
            path,
            0,
            now_ms,
        );
        log.paused = true;
        self.log = Some(log);
        self.config.appendonly = true;
        self.notice("Background append only file rewriting started (enabling the AOF)".to_string());
        self.run_procedure(Procedure::new(Purpose::Enable { manifest }, steps), now_ms);
        Ok(())
    }

    pub(super) fn enable_done(&mut self, manifest: Manifest) {
        self.manifest = Some(manifest);
        self.log.as_mut().expect("log being enabled").paused = false;
        self.notice("AOF enabled: appending to the new incr file".to_string());
    }

    pub(super) fn enable_failed(&mut self, error: &IoError) {
        // Nothing durable names the new files; the records buffered meanwhile are dropped
        // with the log, and the AOF stays off, as Redis does after a failed initial rewrite.
        self.log = None;
        self.config.appendonly = false;
        self.warn(format!("Could not enable the AOF: {}", error.message));
    }

    /// Turns the AOF off: nothing more is logged; what was logged is written and fsynced.
    pub(super) fn disable_aof(&mut self) {
        self.disabling = true;
        self.config.appendonly = false;
        self.notice("Stopping the AOF: flushing and fsyncing it".to_string());
    }
}
