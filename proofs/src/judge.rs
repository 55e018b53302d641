//! Judging a recovery: the data set a restart recovered, against the reference replay of the
//! writes applied before the crash, sets the findings the properties read.
//!
//! Invariant kept: a recovery is judged exactly once, when the start-up after a crash (or
//! kill, or shutdown) ends; the history is then cut to the prefix that survived, so each
//! later crash is judged against what the clients can still rely on.

use model::config::FsyncPolicy;
use model::engine::Phase;

use crate::aof_model::{applied, AofModel, LastCrash, State};
use crate::reference::{self, Data, Step};

impl AofModel {
    pub(crate) fn judge_recovery(&self, s: &mut State) {
        if self.judge_damage(s) {
            return;
        }
        let engine = s.engine.as_ref().expect("engine up");
        let crash = s.last_crash.clone().unwrap_or_default();
        if let Phase::Refused(e) = engine.phase() {
            s.findings.refused = Some(e.to_string());
            // A server that cannot start has lost every acknowledged write, for its clients.
            s.findings.lost_acked |= s.history.iter().any(|w| w.acked_at_ms.is_some());
            return;
        }
        let recovered = reference::dump(engine.keyspace());
        let (w, history) = (self.bounds.workload(), applied(s));
        let Some(kept) = reference::matching_prefix(&history, w, &recovered) else {
            // The writes are all there but an expiry moved: the deadline was not kept.
            let moved = w.timed()
                && reference::matching_prefix_ignoring_ttl(&history, w, &recovered).is_some();
            s.findings.deadline_moved |= moved;
            s.findings.not_prefix |= !moved;
            return;
        };
        self.judge_losses(s, kept, &crash);
        if !self.config.appendonly {
            let kept_point = kept as u8;
            s.findings.snapshot_not_one_point |= !s.points.contains(&kept_point);
            s.findings.snapshot_loss_unbounded |= kept_point < s.durable_point;
            s.points.retain(|&p| p <= kept_point);
            s.durable_point = kept_point;
            s.run_points.clear();
        }
        if !w.steps.is_empty() {
            self.note_families(s, kept, &recovered);
        }
        // An unfinished `CONFIG SET appendonly yes` leaves an orphan base (no manifest names
        // it) holding writes no reply acknowledged (made while the AOF was off, or buffered
        // until the new manifest is durable): starting without them is silent by design.
        let orphan_only =
            self.bounds.toggles > 0 && s.history.iter().all(|w| w.acked_at_ms.is_none());
        s.history.truncate(kept);
        s.findings.restarted_after_kill |= crash.kill;
        let engine = s.engine.as_ref().expect("engine up");
        let stats = engine.stats();
        s.findings.recovered_base_and_incr |=
            stats.base_keys_loaded > 0 && stats.commands_loaded > stats.base_keys_loaded;
        let truncated = engine.stats().truncations > 0;
        s.findings.recovered_torn |= truncated && crash.torn;
        s.findings.recovered_zero_filled |= truncated && crash.zero_filled;
        s.findings.empty_in_silence |= recovered.is_empty() && crash.disk_had_data && !orphan_only;
    }

    /// The acknowledged writes a crash lost, and the reads that revealed lost writes.
    fn judge_losses(&self, s: &mut State, kept: usize, crash: &LastCrash) {
        for lost in &s.history[kept..] {
            if let Some(acked) = lost.acked_at_ms {
                s.findings.lost_acked_after_shutdown |= crash.shutdown && !crash.shutdown_failed;
                s.findings.lost_acked_on_kill |= crash.kill;
                s.findings.lost_acked = true;
                s.findings.everysec_loss |= self.config.appendfsync == FsyncPolicy::Everysec;
                s.findings.no_loss |= self.config.appendfsync == FsyncPolicy::No;
                // The 2-second bound assumes each fsync completes within a second (as Redis's
                // does); on a slower disk only the postponement rule (held_beyond_2s) holds.
                s.findings.lost_acked_beyond_2s |=
                    crash.at_ms.saturating_sub(acked) > 2000 && !crash.slow_disk;
            }
        }
        if self.tracks_reads() {
            s.findings.read_lost |= kept < s.read_point as usize;
            s.findings.read_then_crash |= s.read_point > 0;
            s.read_point = s.read_point.min(kept as u8);
        }
    }

    /// The sentinels of the command-family workloads: which paths a recovery went through.
    fn note_families(&self, s: &mut State, kept: usize, recovered: &Data) {
        let w = self.bounds.workload();
        let step = |n: u8| w.step(n);
        let f = &mut s.findings;
        f.block_lost_whole |= s.history[kept..]
            .iter()
            .any(|x| matches!(step(x.n), Some(Step::Multi | Step::Flushall)));
        f.expiry_survived_later |= s.history[..kept]
            .iter()
            .any(|x| step(x.n) == Some(Step::Expire) && s.now_ms > x.at_ms)
            && recovered.values().any(|v| reference::strip_ttl(v) != *v);
        f.db1_recovered |= recovered.keys().any(|k| k.starts_with(b"db1:"));
        f.flushall_recovered |= s.history[..kept]
            .iter()
            .any(|x| step(x.n) == Some(Step::Flushall));
        let engine = s.engine.as_ref().expect("engine up");
        // Without the AOF every recovery is a snapshot's.
        let from_base = engine.stats().base_keys_loaded > 0 || !self.config.appendonly;
        f.collection_from_base |= from_base
            && recovered
                .values()
                .any(|v| v.starts_with(b"list") || v.starts_with(b"hash"));
        let resp_base = |p: &String| {
            p.ends_with(".base.aof") && s.disk.contents(p).is_some_and(|b| b.contains(&b'*'))
        };
        f.resp_base_recovered |= !self.config.aof_use_rdb_preamble
            && !recovered.is_empty()
            && s.disk.paths().iter().any(resp_base);
    }
}
