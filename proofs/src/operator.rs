//! What an operator does to the model's server beyond BGREWRITEAOF: BGSAVE (recording the
//! point in time the snapshot holds) and SHUTDOWN (after the process exits, the machine loses
//! power keeping only durable data, the harshest outcome for a clean stop).
//!
//! Invariant kept: a shutdown is judged as a crash at the restart after it, with
//! `LastCrash::shutdown` set, so *a clean shutdown leaves every acknowledged write durable* is
//! checked against the same reference as every other recovery.

use model::sim::Crash;

use crate::aof_model::{AofModel, LastCrash, State, OPERATOR};

impl AofModel {
    /// An operator's BGSAVE; a snapshot it starts holds the writes applied so far.
    pub(crate) fn bgsave(s: &mut State) -> Option<()> {
        s.snapshots += 1;
        let engine = s.engine.as_mut()?;
        let (started, _) = engine.snapshot_generations();
        let argv = vec![bytes::Bytes::from_static(b"BGSAVE")];
        engine.handle_command(s.now_ms, OPERATOR, argv);
        if engine.snapshot_generations().0 > started {
            let point = s.history.len() as u8;
            s.run_points.push(point);
            s.points.push(point);
        }
        Some(())
    }

    /// SHUTDOWN completed; then the machine loses power and keeps only what is durable (the
    /// harshest outcome: a clean stop promises everything acknowledged is on disk).
    pub(crate) fn exit_after_shutdown(&self, s: &mut State) {
        let failed = std::mem::take(&mut s.stop_failed);
        s.findings.shutdown_completed = true;
        s.disk = s.disk.crash(&Crash {
            dir_ops_kept: 0,
            dropped: Vec::new(),
            files: Vec::new(),
        });
        let disk_had_data = crate::inspect::aof_dir_has_data(&s.disk, &self.config);
        s.last_crash = Some(LastCrash {
            at_ms: s.now_ms,
            disk_had_data,
            shutdown: true,
            shutdown_failed: failed,
            ..LastCrash::default()
        });
        Self::exit(s);
    }
}
