//! The durability model: the real engine, over SimDisk, with clients, a clock and crashes.
//!
//! State = engine + disk + effects in flight per lane + clients + the history of applied
//! writes. Actions: a client sends its next write; the disk completes the head effect of a lane;
//! the clock ticks one second; the server starts a new incr file; a crash happens (one action
//! per crash outcome SimDisk allows); the server restarts and recovers through the engine's own
//! start-up path. Each recovery is judged against the reference (`reference.rs`) and the
//! findings are kept in the state, where the properties read them.
//!
//! Environment assumption (stated in INVARIANTS.md): an fsync completes within one second, so
//! the clock does not tick while one is in flight. Only the everysec bound depends on it.

use std::collections::VecDeque;

use model::aof::manifest::manifest_name;
use model::config::{Config, FsyncPolicy};
use model::engine::{Engine, Phase, Reply};
use model::io::{join, Effect, IoDone, IoResult, Lane, Op};
use model::resp::Frame;
use model::sim::{Crash, Keep, SimDisk, Tears};
use stateright::{Model, Property};

use crate::faults::{self, FailScope};
pub use crate::findings::{Findings, LastCrash};
use crate::reference;

/// How far the checker explores.
#[derive(Clone, Debug)]
pub struct Bounds {
    pub clients: u8,
    pub writes: u8,
    pub keys: u8,
    pub crashes: u8,
    pub rotations: u8,
    pub time_ms_max: u64,
    /// Operations the disk may fail (see `fail_scope` for which).
    pub failures: u8,
    /// Which operations may fail.
    pub fail_scope: FailScope,
    /// SHUTDOWNs the model may request (each followed by a power loss and a restart).
    pub shutdowns: u8,
    /// The clock may advance while an fsync is in flight (a slow disk): everysec's
    /// postponement of writes behind it, and its 2-second rule, are explored.
    pub slow_fsync: bool,
    /// BGSAVEs the model may request.
    pub snapshots: u8,
    /// BGREWRITEAOFs the model may request.
    pub rewrites: u8,
    /// Every write is an EVAL doing two writes (see [`reference::SCRIPT`]).
    pub scripted: bool,
}

impl Bounds {
    pub fn workload(&self) -> reference::Workload {
        reference::Workload {
            keys: self.keys,
            scripted: self.scripted,
        }
    }
}

/// A fault the harness applies to the effect stream (a known-bad design outside the engine).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiskFault {
    None,
    /// Directory fsyncs are skipped: renames and creates stay pending.
    SkipDirFsync,
    /// Fsyncs of temp files are skipped: they are renamed into place un-synced.
    SkipTempFsync,
}

#[derive(Clone, Debug)]
pub struct AofModel {
    pub config: Config,
    pub bounds: Bounds,
    pub tears: Tears,
    pub fault: DiskFault,
    /// Check "acknowledged write survives crash" whatever the policy (to show everysec and no
    /// do not give it).
    pub ack_survival: bool,
}

/// One write a client sent and the engine applied.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Write {
    pub n: u8,
    pub acked_at_ms: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct State {
    pub now_ms: u64,
    pub engine: Option<Engine>,
    pub disk: SimDisk,
    pub lanes: [VecDeque<Effect>; 3],
    /// Per client, the write awaiting its reply.
    pub outstanding: Vec<Option<u8>>,
    pub history: Vec<Write>,
    pub sent: u8,
    pub crashes: u8,
    pub rotations: u8,
    pub failures: u8,
    pub snapshots: u8,
    pub rewrites: u8,
    pub shutdowns: u8,
    /// While stopping, the engine reported that the AOF failed (it exits saying so).
    pub stop_failed: bool,
    /// The disk was slower than the everysec assumption on this path: the clock passed a
    /// second while an fsync was in flight, or while start-up was loading. Sticky.
    pub slow_disk: bool,
    /// Since when logged bytes wait unwritten behind a background fsync in flight.
    pub held_since_ms: Option<u64>,
    /// History length when the running rewrite was requested.
    pub rewrite_point: u8,
    pub rewrites_seen: u64,
    /// History length when each snapshot of this run started (generation g at index g-1).
    pub run_points: Vec<u8>,
    /// History lengths any surviving snapshot may hold (0: no snapshot).
    pub points: Vec<u8>,
    /// History length of the newest snapshot known durable: RDB-only recovery may not lose it.
    pub durable_point: u8,
    pub last_crash: Option<LastCrash>,
    pub recovering: bool,
    pub findings: Findings,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    Send(u8),
    Complete(Lane),
    /// The disk fails the head effect of a lane (an append or fsync of the log).
    Fail(Lane),
    /// An operator sends BGSAVE.
    Bgsave,
    /// An operator sends BGREWRITEAOF.
    Rewrite,
    /// An operator sends SHUTDOWN; once stopped, the machine loses power.
    Shutdown,
    Tick,
    Rotate,
    Crash(Crash),
    /// kill -9: the process dies, the machine does not.
    Kill,
    Restart,
}

pub(crate) fn lane_index(lane: Lane) -> usize {
    match lane {
        Lane::Log => 0,
        Lane::Sync => 1,
        Lane::Worker => 2,
    }
}

const LANES: [Lane; 3] = [Lane::Log, Lane::Sync, Lane::Worker];

/// The connection an operator's commands (BGSAVE) come from; its replies are not tracked.
pub(crate) const OPERATOR: u64 = 1000;

impl AofModel {
    fn boot(&self, s: &mut State) {
        s.engine = Some(Engine::new(self.config.clone(), s.now_ms));
        self.drain(s);
    }

    /// Collects everything the engine produced after an input.
    fn drain(&self, s: &mut State) {
        let Some(engine) = s.engine.as_mut() else {
            return;
        };
        let t = crate::properties::timing(self);
        let sync_busy = |lanes: &[VecDeque<Effect>; 3]| {
            (lanes[lane_index(Lane::Sync)].iter()).any(|e| matches!(e.op, Op::Fsync { .. }))
        };
        while let Some(effect) = engine.poll_effect() {
            let log_append =
                matches!(&effect.op, Op::Append { path, .. } if path.ends_with(".incr.aof"));
            s.findings.append_during_fsync |= t.slow_fsync && log_append && sync_busy(&s.lanes);
            s.lanes[lane_index(effect.lane)].push_back(effect);
        }
        let acked_now = Self::take_replies(s);
        let engine = s.engine.as_mut().expect("engine up");
        s.findings.group_commit |= t.group_commit && acked_now >= 2;
        let log_busy = s.lanes[lane_index(Lane::Log)]
            .iter()
            .any(|e| matches!(e.op, Op::Append { .. }));
        let held = engine
            .log_offsets()
            .is_some_and(|(logged, written, _)| logged > written && !log_busy);
        s.held_since_ms = if t.slow_fsync && held && sync_busy(&s.lanes) {
            Some(s.held_since_ms.unwrap_or(s.now_ms))
        } else {
            None
        };
        let held_ms = s.held_since_ms.map_or(0, |since| s.now_ms - since);
        s.findings.held_beyond_2s |= held_ms > 2000;
        s.findings.postponed |= t.slow_fsync && engine.delayed_fsync() > 0;
        s.findings.uninjected_error |= faults::report_uninjected(engine, s.failures);
        let stopping = matches!(engine.phase(), Phase::Stopping | Phase::Stopped);
        s.stop_failed |= stopping && engine.aof_error().is_some();
        match engine.phase() {
            Phase::Stopped => return self.exit_after_shutdown(s),
            Phase::Refused(e) if faults::injected(&e.reason) => return Self::exit(s),
            _ => {}
        }
        let (rewrites_done, _) = engine.rewrites();
        if rewrites_done > s.rewrites_seen {
            s.rewrites_seen = rewrites_done;
            s.findings.rewrite_completed = true;
            s.findings.rewrite_lost_data |= !self.rewrite_preserved(s);
        }
        let engine = s.engine.as_mut().expect("engine up");
        let (_, done) = engine.snapshot_generations();
        if let Some(&point) = (done as usize)
            .checked_sub(1)
            .and_then(|g| s.run_points.get(g))
        {
            s.durable_point = s.durable_point.max(point);
            s.findings.snapshot_completed = true;
        }
        if s.recovering && *engine.phase() != Phase::Loading {
            s.recovering = false;
            self.judge_recovery(s);
        }
    }

    /// Collects the replies released now; returns how many acknowledged a write.
    fn take_replies(s: &mut State) -> usize {
        let engine = s.engine.as_mut().expect("engine up");
        let mut acked_now = 0;
        while let Some((client, reply)) = engine.poll_reply() {
            // The model's clients never send CLIENT REPLY or CLIENT KILL: every reply is a frame.
            let Reply::Frame { frame, .. } = reply else {
                continue;
            };
            s.findings.uninjected_error |= faults::reply_uninjected(&frame, s.failures);
            let Some(slot) = s.outstanding.get_mut(client as usize) else {
                continue;
            };
            let n = slot.take();
            if let (Some(n), false) = (n, matches!(frame, Frame::Error(_))) {
                let write = s
                    .history
                    .iter_mut()
                    .find(|w| w.n == n)
                    .expect("acked write applied");
                write.acked_at_ms = Some(s.now_ms);
                acked_now += 1;
            }
        }
        acked_now
    }

    fn judge_recovery(&self, s: &mut State) {
        let engine = s.engine.as_ref().expect("engine up");
        let crash = s.last_crash.clone().unwrap_or_default();
        if let Phase::Refused(e) = engine.phase() {
            s.findings.refused = Some(e.to_string());
            // A server that cannot start has lost every acknowledged write, for its clients.
            s.findings.lost_acked |= s.history.iter().any(|w| w.acked_at_ms.is_some());
            return;
        }
        let recovered = reference::dump(engine.keyspace());
        let applied: Vec<u8> = s.history.iter().map(|w| w.n).collect();
        let Some(kept) = reference::matching_prefix(&applied, self.bounds.workload(), &recovered)
        else {
            s.findings.not_prefix = true;
            return;
        };
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
        if !self.config.appendonly {
            let kept_point = kept as u8;
            s.findings.snapshot_not_one_point |= !s.points.contains(&kept_point);
            s.findings.snapshot_loss_unbounded |= kept_point < s.durable_point;
            s.points.retain(|&p| p <= kept_point);
            s.durable_point = kept_point;
            s.run_points.clear();
        }
        s.history.truncate(kept);
        s.findings.restarted_after_kill |= crash.kill;
        let stats = engine.stats();
        s.findings.recovered_base_and_incr |=
            stats.base_keys_loaded > 0 && stats.commands_loaded > stats.base_keys_loaded;
        let truncated = engine.stats().truncations > 0;
        s.findings.recovered_torn |= truncated && crash.torn;
        s.findings.recovered_zero_filled |= truncated && crash.zero_filled;
        s.findings.empty_in_silence |= recovered.is_empty() && crash.disk_had_data;
    }

    fn complete(&self, s: &mut State, lane: Lane, fail: bool) {
        let effect = s.lanes[lane_index(lane)]
            .pop_front()
            .expect("lane has an effect");
        let result = match (&effect.op, self.fault) {
            (op, _) if fail => s.disk.fail(op),
            (Op::FsyncDir { .. }, DiskFault::SkipDirFsync) => IoResult::Done,
            (Op::Fsync { path }, DiskFault::SkipTempFsync) if path.starts_with("temp-") => {
                IoResult::Done
            }
            (op, _) => s.disk.execute(op),
        };
        let engine = s.engine.as_mut().expect("effects only while up");
        let failed_before = engine.aof_error().is_some();
        engine.handle_io(
            s.now_ms,
            IoDone {
                id: effect.id,
                result,
            },
        );
        s.findings.failure_recovered |= failed_before && engine.aof_error().is_none();
    }

    fn crash(&self, s: &mut State, crash: &Crash) {
        let mut info = LastCrash {
            at_ms: s.now_ms,
            slow_disk: s.slow_disk,
            ..LastCrash::default()
        };
        for (inode, keep) in &crash.files {
            let (written, _) = s.disk.lengths(*inode);
            info.torn |= matches!(keep, Keep::Prefix(len) if *len < written);
            info.zero_filled |= matches!(keep, Keep::PrefixZeroFilled(_));
        }
        s.findings.crash_unsynced |= !s.disk.is_quiescent();
        s.findings.crash_while_failed |= s.engine.as_ref().is_some_and(|e| e.aof_error().is_some());
        s.findings.crash_during_rotation |= s.engine.as_ref().is_some_and(Engine::is_rotating);
        s.findings.crash_during_rewrite |= s.engine.as_ref().is_some_and(|e| e.rewrites().1);
        s.findings.crash_mid_snapshot |=
            s.engine.as_ref().is_some_and(Engine::snapshot_in_progress);
        s.findings.crash_before_rename_durable |= s.disk.rename_pending_to(&self.config.dbfilename);
        let manifest = manifest_name(&self.config.appendfilename);
        let manifest = join(&self.config.appenddirname, &manifest);
        let t = crate::properties::timing(self);
        s.findings.crash_before_manifest_durable |=
            t.manifest_rename && s.disk.rename_pending_to(&manifest);
        s.findings.crash_during_repair |= t.repair
            && s.engine
                .as_ref()
                .is_some_and(|e| *e.phase() == Phase::Loading && e.stats().truncations > 0);
        s.disk = s.disk.crash(crash);
        info.disk_had_data = crate::inspect::aof_dir_has_data(&s.disk, &self.config);
        s.last_crash = Some(info);
        s.engine = None;
        s.lanes = Default::default();
        s.outstanding.iter_mut().for_each(|o| *o = None);
        s.crashes += 1;
    }

    /// At the moment a rewrite completes: everything on disk now (as if synced) loads into a
    /// replay of a prefix of the applied writes that includes every write before BGREWRITEAOF.
    fn rewrite_preserved(&self, s: &State) -> bool {
        let Some(recovered) =
            crate::inspect::recover(&s.disk.as_if_synced(), &self.config, s.now_ms)
        else {
            return false;
        };
        let applied: Vec<u8> = s.history.iter().map(|w| w.n).collect();
        reference::matching_prefix(&applied, self.bounds.workload(), &recovered)
            .is_some_and(|k| k >= s.rewrite_point as usize)
    }

    fn kill(&self, s: &mut State) {
        // Killed while recovering from an earlier crash: that crash is still the one judged.
        if !s.recovering {
            let disk_had_data = crate::inspect::aof_dir_has_data(&s.disk, &self.config);
            s.last_crash = Some(LastCrash {
                at_ms: s.now_ms,
                kill: true,
                disk_had_data,
                slow_disk: s.slow_disk,
                ..LastCrash::default()
            });
        }
        Self::exit(s);
        s.crashes += 1;
    }

    /// The process is gone (killed, refused, stopped): what it had in flight is dropped.
    pub(crate) fn exit(s: &mut State) {
        // `slow_disk` stays: what a slow run left in the page cache is still at risk.
        (s.stop_failed, s.held_since_ms) = (false, None);
        s.engine = None;
        s.lanes = Default::default();
        s.outstanding.iter_mut().for_each(|o| *o = None);
    }

    fn fsync_in_flight(s: &State) -> bool {
        s.lanes
            .iter()
            .flatten()
            .any(|e| matches!(e.op, Op::Fsync { .. } | Op::WriteView { .. }))
    }

    pub(crate) fn running(s: &State) -> bool {
        s.engine
            .as_ref()
            .is_some_and(|e| *e.phase() == Phase::Running)
    }
}

impl Model for AofModel {
    type State = State;
    type Action = Action;

    fn init_states(&self) -> Vec<State> {
        let mut s = State {
            now_ms: 0,
            engine: None,
            disk: SimDisk::new(),
            lanes: Default::default(),
            outstanding: vec![None; self.bounds.clients as usize],
            history: Vec::new(),
            sent: 0,
            crashes: 0,
            rotations: 0,
            failures: 0,
            snapshots: 0,
            rewrites: 0,
            shutdowns: 0,
            stop_failed: false,
            slow_disk: false,
            held_since_ms: None,
            rewrite_point: 0,
            rewrites_seen: 0,
            run_points: Vec::new(),
            points: vec![0],
            durable_point: 0,
            last_crash: None,
            recovering: false,
            findings: Findings::default(),
        };
        self.boot(&mut s);
        vec![s]
    }

    fn actions(&self, s: &State, actions: &mut Vec<Action>) {
        let Some(_) = &s.engine else {
            actions.push(Action::Restart);
            return;
        };
        if Self::running(s) && s.sent < self.bounds.writes {
            // Clients are interchangeable: only the first idle one sends (symmetry by design).
            if let Some(c) = s.outstanding.iter().position(Option::is_none) {
                actions.push(Action::Send(c as u8));
            }
        }
        for lane in LANES {
            if !s.lanes[lane_index(lane)].is_empty() {
                actions.push(Action::Complete(lane));
            }
            if self.can_fail(s, lane) {
                actions.push(Action::Fail(lane));
            }
        }
        let clock_held = !self.bounds.slow_fsync && Self::fsync_in_flight(s);
        if s.now_ms + 1000 <= self.bounds.time_ms_max && !clock_held {
            actions.push(Action::Tick);
        }
        if Self::running(s) && s.rotations < self.bounds.rotations {
            actions.push(Action::Rotate);
        }
        if Self::running(s) && s.rewrites < self.bounds.rewrites {
            actions.push(Action::Rewrite);
        }
        if Self::running(s) && s.snapshots < self.bounds.snapshots {
            actions.push(Action::Bgsave);
        }
        if Self::running(s) && s.shutdowns < self.bounds.shutdowns {
            actions.push(Action::Shutdown);
        }
        if s.crashes < self.bounds.crashes {
            actions.push(Action::Kill);
            actions.extend(s.disk.crashes(self.tears).into_iter().map(Action::Crash));
        }
    }

    fn next_state(&self, last: &State, action: Action) -> Option<State> {
        let mut s = last.clone();
        match action {
            Action::Send(c) => {
                s.sent += 1;
                let n = s.sent;
                let argv = reference::command(n, self.bounds.workload());
                let engine = s.engine.as_mut()?;
                let dirty = engine.stats().dirty;
                engine.handle_command(s.now_ms, u64::from(c), argv);
                // Applied iff the data set changed (a write refused with MISCONF is not).
                if engine.stats().dirty > dirty {
                    s.outstanding[c as usize] = Some(n);
                    s.history.push(Write {
                        n,
                        acked_at_ms: None,
                    });
                }
            }
            Action::Complete(lane) => self.complete(&mut s, lane, false),
            Action::Fail(lane) => {
                Self::note_injection(&mut s);
                s.failures += 1;
                self.complete(&mut s, lane, true);
            }
            Action::Tick => {
                // Everysec's timer runs only while serving: a second spent loading (after a kill
                // left writes only in the page cache) is outside the 2-second bound, as a second
                // an fsync spends in flight is.
                let loading = s
                    .engine
                    .as_ref()
                    .is_some_and(|e| *e.phase() == Phase::Loading);
                // Only the everysec bound reads it (kept out of other states so as not to split
                // them).
                let everysec = self.config.appendfsync == FsyncPolicy::Everysec;
                s.slow_disk |= everysec && (Self::fsync_in_flight(&s) || loading);
                s.now_ms += 1000;
                s.engine.as_mut()?.handle_timeout(s.now_ms);
            }
            Action::Rotate => {
                s.rotations += 1;
                s.findings.rotated = true;
                s.engine.as_mut()?.handle_rotate(s.now_ms);
            }
            Action::Bgsave => Self::bgsave(&mut s)?,
            Action::Rewrite => {
                s.rewrites += 1;
                s.rewrite_point = s.history.len() as u8;
                let argv = vec![bytes::Bytes::from_static(b"BGREWRITEAOF")];
                s.engine.as_mut()?.handle_command(s.now_ms, OPERATOR, argv);
            }
            Action::Shutdown => {
                s.shutdowns += 1;
                s.engine.as_mut()?.handle_shutdown(s.now_ms);
            }
            Action::Crash(crash) => self.crash(&mut s, &crash),
            Action::Kill => self.kill(&mut s),
            Action::Restart => {
                s.recovering = true;
                self.boot(&mut s);
                return Some(s);
            }
        }
        self.drain(&mut s);
        Some(s)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        crate::properties::all(self)
    }

    fn format_action(&self, action: &Action) -> String {
        format!("{action:?}")
    }

    fn format_step(&self, last: &State, action: Action) -> Option<String> {
        Some(crate::trace::describe(self, last, &action))
    }
}
