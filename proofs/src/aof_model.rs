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
use model::engine::{Engine, Phase};
use model::io::{join, Effect, IoDone, IoResult, Lane, Op};
use model::sim::{Crash, Keep, SimDisk, Tears};
use stateright::{Model, Property};

use crate::faults::{self, FailScope};
pub use crate::findings::{Findings, LastCrash};
use crate::lies::Lies;
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
    /// The command families requests cycle through (empty: the SET/INCR workload).
    pub steps: &'static [reference::Step],
    /// `CONFIG SET appendonly no|yes` the model may send (alternating, starting with no).
    pub toggles: u8,
    /// The disk starts with a pre-7.0 single `appendonly.aof` holding the first
    /// [`crate::clients::LEGACY_WRITES`] writes: the first start upgrades it.
    pub upgrade: bool,
}

impl Bounds {
    pub fn workload(&self) -> reference::Workload {
        reference::Workload {
            keys: self.keys,
            scripted: self.scripted,
            steps: self.steps,
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
    /// How the disk may lie (`lies.rs`).
    pub lies: Lies,
}

/// One write a client sent and the engine applied.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Write {
    pub n: u8,
    pub acked_at_ms: Option<u64>,
    /// When it ran, where its meaning depends on it (a relative EXPIRE); else 0.
    pub at_ms: u64,
    /// Logged when it ran (false while `CONFIG SET appendonly no` was in force): only a
    /// promised write's acknowledgement promises anything.
    pub promised: bool,
}

/// A client's request awaiting its replies.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Pending {
    /// The write it applied, if any.
    pub write: Option<u8>,
    /// Replies still to come (one per command of the request).
    pub replies: u8,
    /// A read: how many writes of the history its reply reveals.
    pub observed: Option<u8>,
    /// One of its replies was an error.
    pub failed: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct State {
    pub now_ms: u64,
    pub engine: Option<Engine>,
    pub disk: SimDisk,
    pub lanes: [VecDeque<Effect>; 3],
    /// Per client, the request awaiting its replies.
    pub outstanding: Vec<Option<Pending>>,
    /// The longest history prefix some released read revealed (tracked where checked).
    pub read_point: u8,
    /// `CONFIG SET appendonly` commands sent.
    pub toggles: u8,
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
    /// Lies the disk told on this path (`lies.rs`).
    pub lies: u8,
    /// After a crash, per file, the leading bytes fsynced before it (where damage may hit).
    pub synced: Vec<(String, u64)>,
    /// Per path, how many leading bytes the engine's own fsyncs made durable (tracked only
    /// where damage is configured: what a crash kept beyond them is a torn tail).
    pub engine_synced: std::collections::BTreeMap<String, u64>,
    /// After damage: what the undamaged disk recovers (`None`: it refuses to start).
    pub undamaged: Option<Option<reference::Data>>,
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
    /// An operator sends `CONFIG SET appendonly no` (then `yes`, alternating).
    ToggleAof,
    Tick,
    Rotate,
    Crash(Crash),
    /// While the server is down, the disk damages synced bytes of a file at an offset.
    Damage(String, u64),
    /// The disk acknowledges the log's head append but writes it over this file.
    Misdirect(String),
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

/// The history as the reference replays it: write numbers and the times they ran.
pub(crate) fn applied(s: &State) -> Vec<(u8, u64)> {
    s.history.iter().map(|w| (w.n, w.at_ms)).collect()
}

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
            s.findings.snapshot_with_aof |= self.config.appendonly;
        }
        if s.recovering && *engine.phase() != Phase::Loading {
            s.recovering = false;
            self.judge_recovery(s);
        }
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
        self.note_completion(s, &effect.op, &result);
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
        s.findings.crash_enabling_aof |= s.engine.as_ref().is_some_and(Engine::is_enabling_aof);
        s.findings.crash_during_upgrade |= self.bounds.upgrade
            && s.engine
                .as_ref()
                .is_some_and(|e| *e.phase() == Phase::Loading);
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
        s.findings.dir_op_dropped |= !crash.dropped.is_empty();
        let after = s.disk.crash(crash);
        let before = std::mem::replace(&mut s.disk, after);
        self.note_synced(s, &before);
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
        reference::matching_prefix(&applied(s), self.bounds.workload(), &recovered)
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
        if self.lies.damage.is_some() {
            let disk = s.disk.clone();
            self.note_synced(s, &disk);
        }
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
            disk: SimDisk::with_metadata(self.lies.metadata),
            lanes: Default::default(),
            outstanding: vec![None; self.bounds.clients as usize],
            read_point: 0,
            toggles: 0,
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
            lies: 0,
            synced: Vec::new(),
            engine_synced: Default::default(),
            undamaged: None,
            findings: Findings::default(),
        };
        self.seed_legacy_aof(&mut s);
        self.boot(&mut s);
        vec![s]
    }

    fn actions(&self, s: &State, actions: &mut Vec<Action>) {
        self.lie_actions(s, actions);
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
        if Self::running(s) && s.toggles < self.bounds.toggles {
            actions.push(Action::ToggleAof);
        }
        // A damaged start is judged against the undamaged disk: no crash until it is.
        if s.crashes < self.bounds.crashes && s.undamaged.is_none() {
            actions.push(Action::Kill);
            actions.extend(s.disk.crashes(self.tears).into_iter().map(Action::Crash));
        }
    }

    fn next_state(&self, last: &State, action: Action) -> Option<State> {
        let mut s = last.clone();
        match action {
            Action::Send(c) => self.send(&mut s, c)?,
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
            Action::ToggleAof => Self::toggle_aof(&mut s)?,
            Action::Crash(crash) => self.crash(&mut s, &crash),
            Action::Damage(path, offset) => {
                self.damage(&mut s, &path, offset);
                return Some(s);
            }
            Action::Misdirect(victim) => self.misdirect(&mut s, &victim),
            Action::Kill => self.kill(&mut s),
            Action::Restart => {
                s.recovering = true;
                s.synced.clear();
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
