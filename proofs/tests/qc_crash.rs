//! Crash schedules far longer than the model checker's bounds: tens to hundreds of random
//! steps over the real engine and `SimDisk`, judged by the model checker's contract.
//!
//! Steps (every one total: a step that cannot apply now is a no-op, so any subsequence of a
//! schedule is a schedule and shrinking stays valid):
//! * a client sends a write: `SET k<i> <fresh value>` or `INCR counter` (every write changes
//!   the data set, so "which prefix" is well defined); clients pipeline;
//! * the disk completes the head effect of one lane (log, background fsync, worker);
//! * the clock advances 1..=1000 ms, firing the engine's timer — never while an fsync is in
//!   flight (the model's assumption: an fsync completes within a second);
//! * the server starts a new incr file (`handle_rotate`);
//! * power loss: an outcome of `disk.crashes(Tears::Sampled)`, or of `Tears::EveryByte` (taken
//!   from the enumeration when it has at most 20 000 outcomes, else built the same way: one
//!   sampled outcome with each torn file cut at a random byte, zero-filled or not), then a
//!   restart on what survived;
//! * (the `qc_kill_*` properties only) process crash, `kill -9`: the in-flight effects of each
//!   lane partly executed, none answered, then a restart on the disk as it is.
//!
//! After every recovery (when the restarted engine leaves `Loading`), the model checker's
//! contract: recovery never refuses (`Phase::Refused`); the recovered data set is the replay
//! of a prefix of the applied writes; after a process crash no acknowledged write is lost
//! (any policy); after a power loss under `always` no acknowledged write is lost, under
//! `everysec` every lost acknowledged write was acknowledged at most 2 s before the crash,
//! under `no` an un-synced suffix may be lost. Each schedule ends by completing every effect
//! and a power loss that keeps nothing un-synced, judged the same way.
//!
//! Default: 1000 schedules of up to 400 steps per property, about 1 s each in `--release` on
//! 2 cores (50 000 schedules: 40-80 s). Each property also prints what its schedules reached
//! and, for a run of at least 300 schedules, requires that they reached power losses with
//! un-synced data and during a switch to a new incr file, recoveries that cut a torn tail, and
//! (under `everysec` and `no`) recoveries that lost acknowledged writes — the model checker's
//! `sometimes` guard against a vacuous check. The `qc_kill_*` properties (process crashes) found
//! that a restart trusted what a killed run left only in the page cache (fixed: start-up fsyncs
//! what it read; `kill_after_manifest_rename_*` and `kill_then_power_loss_*` keep the cases).
//!
//! Seed and count from `DURAKV_QC_SEED` (random when unset, printed; a failure repeats it with
//! the shrunk schedule and its trace) and `DURAKV_QC_TESTS`. A long soak:
//!
//! ```text
//! DURAKV_QC_TESTS=100000 DURAKV_QC_SEED=12345 cargo test --release -p durakv-proofs --test qc_crash
//! ```

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;
use durakv_proofs::reference::{self, Data};
use model::config::{Config, FsyncPolicy};
use model::engine::{ClientId, Engine, Phase, Reply};
use model::io::{Effect, IoDone, Lane, Op};
use model::resp::Frame;
use model::sim::{Crash, Keep, SimDisk, Tears};
use quickcheck::{empty_shrinker, Arbitrary, Gen, TestResult};

#[path = "../../model/tests/support/qc_check.rs"]
mod qc_check;
use qc_check::{below, check, env_u64};

// ---------------------------------------------------------------------------------------------
// Running: seed and case count from our environment variables.

/// splitmix64: derives independent choices from one generated number.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

// ---------------------------------------------------------------------------------------------
// Schedules.

const CLIENTS: u8 = 3;
const KEYS: u8 = 4;
const START_MS: u64 = 1_700_000_000_000;
/// Up to this many EveryByte outcomes are enumerated; above, one is built directly.
const EVERY_BYTE_ENUMERATED_MAX: u128 = 20_000;

#[derive(Clone, Debug)]
enum Step {
    /// `SET k<key> <fresh value>`, or `INCR counter`.
    Write {
        client: u8,
        key: u8,
        incr: bool,
    },
    /// Completes the head effect of the `lane`-th (modulo) non-empty lane.
    Complete {
        lane: u8,
    },
    /// Advances the clock 1..=1000 ms (skipped while an fsync is in flight).
    Tick {
        ms: u16,
    },
    Rotate,
    /// Power loss: the `choice`-th (modulo) crash outcome, then a restart.
    Crash {
        choice: u64,
        every_byte: bool,
    },
    /// Process crash: each lane's first `done` (modulo its length + 1) effects executed, none
    /// answered; then a restart on the disk as it is.
    Kill {
        done: u8,
    },
}

impl Step {
    fn arbitrary(g: &mut Gen, kills: bool) -> Step {
        // Weights: power losses and kills are rare enough that most of them hit a running
        // server with work in flight, not one still loading from the previous crash.
        match below(g, 100) {
            0..=29 => Step::Write {
                client: below(g, CLIENTS as usize) as u8,
                key: below(g, KEYS as usize) as u8,
                incr: below(g, 3) == 0,
            },
            30..=74 => Step::Complete {
                lane: u8::arbitrary(g),
            },
            75..=86 => Step::Tick {
                ms: *g.choose(&[1, 10, 100, 250, 500, 999, 1000]).unwrap(),
            },
            87..=92 => Step::Rotate,
            93..=96 => Step::Crash {
                choice: u64::arbitrary(g),
                every_byte: bool::arbitrary(g),
            },
            _ if kills => Step::Kill {
                done: u8::arbitrary(g),
            },
            _ => Step::Complete {
                lane: u8::arbitrary(g),
            },
        }
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Step>> {
        match *self {
            Step::Write { client, key, incr } if client > 0 || key > 0 => {
                Box::new(std::iter::once(Step::Write {
                    client: 0,
                    key: 0,
                    incr,
                }))
            }
            Step::Tick { ms } if ms > 1 => Box::new(
                [1, ms / 2]
                    .into_iter()
                    .filter(move |&m| m < ms)
                    .map(|ms| Step::Tick { ms }),
            ),
            Step::Complete { lane } if lane > 0 => {
                Box::new(std::iter::once(Step::Complete { lane: 0 }))
            }
            Step::Kill { done } if done > 0 => Box::new(
                [0, done / 2]
                    .into_iter()
                    .filter(move |&d| d < done)
                    .map(|done| Step::Kill { done }),
            ),
            Step::Crash { choice, every_byte } if choice > 0 => {
                Box::new(std::iter::once(Step::Crash {
                    choice: 0,
                    every_byte,
                }))
            }
            _ => empty_shrinker(),
        }
    }
}

/// A schedule; `KILLS` allows process crashes.
#[derive(Clone, Debug)]
struct Schedule<const KILLS: bool>(Vec<Step>);

/// `Step`'s generator, as an `Arbitrary` for `Vec` shrinking (steps are shrunk one by one).
#[derive(Clone, Debug)]
struct ArbStep<const KILLS: bool>(Step);

impl<const KILLS: bool> Arbitrary for ArbStep<KILLS> {
    fn arbitrary(g: &mut Gen) -> Self {
        ArbStep(Step::arbitrary(g, KILLS))
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        Box::new(self.0.shrink().map(ArbStep))
    }
}

impl<const KILLS: bool> Arbitrary for Schedule<KILLS> {
    fn arbitrary(g: &mut Gen) -> Self {
        Schedule(
            Vec::<ArbStep<KILLS>>::arbitrary(g)
                .into_iter()
                .map(|s| s.0)
                .collect(),
        )
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        let steps: Vec<ArbStep<KILLS>> = self.0.iter().cloned().map(ArbStep).collect();
        Box::new(
            steps
                .shrink()
                .map(|v| Schedule(v.into_iter().map(|s| s.0).collect())),
        )
    }
}

// ---------------------------------------------------------------------------------------------
// The writes and their meaning (the reference).

/// One write the engine applied.
#[derive(Clone, Debug)]
struct Write {
    /// Unique in the schedule: the value a SET writes.
    n: u32,
    key: u8,
    incr: bool,
    acked_at_ms: Option<u64>,
}

impl Write {
    fn argv(&self) -> Vec<Bytes> {
        if self.incr {
            vec![Bytes::from_static(b"INCR"), Bytes::from_static(b"counter")]
        } else {
            vec![
                Bytes::from_static(b"SET"),
                Bytes::from(format!("k{}", self.key)),
                Bytes::from(format!("v{}", self.n)),
            ]
        }
    }

    fn apply(&self, data: &mut Data) {
        if self.incr {
            let current = data.get(&b"counter"[..]).map_or(0, |v| {
                String::from_utf8_lossy(v)
                    .parse::<i64>()
                    .unwrap_or(i64::MIN)
            });
            data.insert(b"counter".to_vec(), (current + 1).to_string().into_bytes());
        } else {
            let key = format!("k{}", self.key).into_bytes();
            data.insert(key, format!("v{}", self.n).into_bytes());
        }
    }

    fn describe(&self) -> String {
        if self.incr {
            format!("#{} INCR counter", self.n)
        } else {
            format!("#{} SET k{} v{}", self.n, self.key, self.n)
        }
    }
}

/// The length of the prefix of `history` whose replay equals `recovered` (at most one does:
/// every write changes the data set).
fn matching_prefix(history: &[Write], recovered: &Data) -> Option<usize> {
    let mut data = Data::new();
    if data == *recovered {
        return Some(0);
    }
    for (i, write) in history.iter().enumerate() {
        write.apply(&mut data);
        if data == *recovered {
            return Some(i + 1);
        }
    }
    None
}

// ---------------------------------------------------------------------------------------------
// Coverage: what the schedules of one property reached (a property that never reaches a torn
// tail or a loss checks nothing about them; see `assert_reached`).

#[derive(Clone, Copy, Debug, Default)]
struct Coverage {
    schedules: u64,
    power_losses: u64,
    power_losses_unsynced: u64,
    power_losses_rotating: u64,
    process_crashes: u64,
    recoveries: u64,
    recoveries_truncating: u64,
    recoveries_losing_acked: u64,
    rotations: u64,
}

thread_local! {
    /// Per test thread: each property runs on its own thread, shrinking included.
    static COVERAGE: RefCell<Coverage> = RefCell::new(Coverage::default());
}

fn count(update: impl FnOnce(&mut Coverage)) {
    COVERAGE.with(|c| update(&mut c.borrow_mut()));
}

// ---------------------------------------------------------------------------------------------
// The harness: engine, disk, lanes, clients, history.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Failure {
    Power,
    Process,
}

/// A restart not yet judged: the first failure since the last recovery, and whether any of
/// them was a power loss.
#[derive(Clone, Copy, Debug)]
struct Restart {
    at_ms: u64,
    kind: Failure,
}

struct Harness {
    config: Config,
    engine: Engine,
    disk: SimDisk,
    now_ms: u64,
    lanes: [VecDeque<Effect>; 3],
    history: Vec<Write>,
    /// Per client, its commands awaiting a reply: the history index of an applied write.
    outstanding: BTreeMap<ClientId, VecDeque<Option<usize>>>,
    next_n: u32,
    restart: Option<Restart>,
    trace: Vec<String>,
}

fn lane_index(lane: Lane) -> usize {
    match lane {
        Lane::Log => 0,
        Lane::Sync => 1,
        Lane::Worker => 2,
    }
}

fn describe_lane(i: usize) -> &'static str {
    ["log", "sync", "worker"][i]
}

impl Harness {
    fn new(policy: FsyncPolicy) -> Result<Harness, String> {
        let config = Config {
            appendfsync: policy,
            ..Config::default()
        };
        let mut h = Harness {
            engine: Engine::new(config.clone(), START_MS),
            config,
            disk: SimDisk::new(),
            now_ms: START_MS,
            lanes: Default::default(),
            history: Vec::new(),
            outstanding: BTreeMap::new(),
            next_n: 1,
            restart: None,
            trace: vec![format!("start: appendfsync {}", policy.as_str())],
        };
        h.drain()?;
        Ok(h)
    }

    fn fail(&self, message: String) -> String {
        let start = self.trace.len().saturating_sub(80);
        format!(
            "{message}\nhistory now: {}\nlast steps (of {}):\n  {}",
            self.history
                .iter()
                .map(|w| format!(
                    "{}{}",
                    w.describe(),
                    if w.acked_at_ms.is_some() {
                        " (acked)"
                    } else {
                        ""
                    }
                ))
                .collect::<Vec<_>>()
                .join(", "),
            self.trace.len(),
            self.trace[start..].join("\n  ")
        )
    }

    /// Collects what the engine produced; judges a recovery once loading is over.
    fn drain(&mut self) -> Result<(), String> {
        while let Some(effect) = self.engine.poll_effect() {
            self.lanes[lane_index(effect.lane)].push_back(effect);
        }
        while let Some((client, reply)) = self.engine.poll_reply() {
            let Reply::Frame { frame, .. } = reply else {
                return Err(self.fail(format!("a reply that is not a frame: {reply:?}")));
            };
            let waiting = self
                .outstanding
                .get_mut(&client)
                .and_then(VecDeque::pop_front);
            let Some(write) = waiting else {
                return Err(self.fail(format!(
                    "a reply to client {client}, who awaits none: {frame:?}"
                )));
            };
            if let (Some(i), false) = (write, matches!(frame, Frame::Error(_))) {
                self.history[i].acked_at_ms = Some(self.now_ms);
                let line = format!(
                    "  ack {} at {} ms",
                    self.history[i].describe(),
                    self.now_ms - START_MS
                );
                self.trace.push(line);
            }
        }
        while self.engine.poll_event().is_some() {}
        if self.restart.is_some() && *self.engine.phase() != Phase::Loading {
            self.judge()?;
        }
        Ok(())
    }

    /// The contract, after a recovery.
    fn judge(&mut self) -> Result<(), String> {
        let restart = self.restart.take().expect("a restart to judge");
        if let Phase::Refused(e) = self.engine.phase() {
            return Err(self.fail(format!(
                "recovery refused after a {:?} crash: {e}",
                restart.kind
            )));
        }
        let recovered = reference::dump(self.engine.keyspace());
        let Some(kept) = matching_prefix(&self.history, &recovered) else {
            return Err(self.fail(format!(
                "recovered data set is no prefix of the writes: {recovered:?}"
            )));
        };
        let policy = self.config.appendfsync;
        for lost in &self.history[kept..] {
            let Some(acked) = lost.acked_at_ms else {
                continue;
            };
            let age_ms = restart.at_ms.saturating_sub(acked);
            let allowed = match (restart.kind, policy) {
                (Failure::Process, _) | (Failure::Power, FsyncPolicy::Always) => false,
                (Failure::Power, FsyncPolicy::Everysec) => age_ms <= 2000,
                (Failure::Power, FsyncPolicy::No) => true,
            };
            if !allowed {
                return Err(self.fail(format!(
                    "{:?} crash under {}: lost {}, acknowledged {age_ms} ms before the crash \
                     (kept {kept} of {} writes)",
                    restart.kind,
                    policy.as_str(),
                    lost.describe(),
                    self.history.len()
                )));
            }
        }
        let lost = self.history.len() - kept;
        let truncated = self.engine.stats().truncations > 0;
        let lost_acked = self.history[kept..].iter().any(|w| w.acked_at_ms.is_some());
        count(|c| {
            c.recoveries += 1;
            c.recoveries_truncating += u64::from(truncated);
            c.recoveries_losing_acked += u64::from(lost_acked);
        });
        self.trace.push(format!(
            "  recovered: {kept} writes kept, {lost} lost, {} truncation(s)",
            self.engine.stats().truncations
        ));
        self.history.truncate(kept);
        Ok(())
    }

    fn fsync_in_flight(&self) -> bool {
        self.lanes
            .iter()
            .flatten()
            .any(|e| matches!(e.op, Op::Fsync { .. } | Op::WriteView { .. }))
    }

    fn write(&mut self, client: u8, key: u8, incr: bool) -> Result<(), String> {
        let write = Write {
            n: self.next_n,
            key,
            incr,
            acked_at_ms: None,
        };
        self.next_n += 1;
        let client = ClientId::from(client);
        let dirty = self.engine.stats().dirty;
        self.engine
            .handle_command(self.now_ms, client, write.argv());
        // Applied iff the data set changed (during loading the reply is -LOADING).
        let applied = self.engine.stats().dirty > dirty;
        self.trace.push(format!(
            "client {client} sends {}{}",
            write.describe(),
            if applied { "" } else { " (not applied)" }
        ));
        let index = applied.then_some(self.history.len());
        if applied {
            self.history.push(write);
        }
        self.outstanding.entry(client).or_default().push_back(index);
        self.drain()
    }

    fn complete(&mut self, choice: u8) -> Result<(), String> {
        let busy: Vec<usize> = (0..3).filter(|&i| !self.lanes[i].is_empty()).collect();
        if busy.is_empty() {
            return Ok(());
        }
        let lane = busy[choice as usize % busy.len()];
        let effect = self.lanes[lane].pop_front().expect("busy lane");
        self.trace.push(format!(
            "disk: {} ({} lane)",
            effect.op.describe(),
            describe_lane(lane)
        ));
        let result = self.disk.execute(&effect.op);
        self.engine.handle_io(
            self.now_ms,
            IoDone {
                id: effect.id,
                result,
            },
        );
        self.drain()
    }

    fn tick(&mut self, ms: u16) -> Result<(), String> {
        if self.fsync_in_flight() {
            return Ok(());
        }
        self.now_ms += u64::from(ms);
        self.trace
            .push(format!("clock: {} ms", self.now_ms - START_MS));
        self.engine.handle_timeout(self.now_ms);
        self.drain()
    }

    fn rotate(&mut self) -> Result<(), String> {
        if self.engine.handle_rotate(self.now_ms) {
            self.trace
                .push("server: switch to a new incr file".to_string());
        }
        self.drain()
    }

    /// Restarts the engine on `self.disk` after a failure of `kind`.
    fn reboot(&mut self, kind: Failure) -> Result<(), String> {
        let at_ms = self.now_ms;
        self.restart = Some(match self.restart {
            // A failure during recovery: judged from the first failure since the last one.
            Some(r) => Restart {
                at_ms: r.at_ms,
                kind: if r.kind == Failure::Power {
                    r.kind
                } else {
                    kind
                },
            },
            None => Restart { at_ms, kind },
        });
        let rotations = self.engine.stats().rotations;
        count(|c| c.rotations += rotations);
        self.lanes = Default::default();
        self.outstanding.clear();
        self.engine = Engine::new(self.config.clone(), self.now_ms);
        self.drain()
    }

    fn crash(&mut self, choice: u64, every_byte: bool) -> Result<(), String> {
        let crash = pick_crash(&self.disk, choice, every_byte);
        let unsynced = !self.disk.is_quiescent();
        let rotating = self.engine.is_rotating();
        count(|c| {
            c.power_losses += 1;
            c.power_losses_unsynced += u64::from(unsynced);
            c.power_losses_rotating += u64::from(rotating);
        });
        let files: Vec<String> = crash
            .files
            .iter()
            .map(|(inode, keep)| {
                let (written, durable) = self.disk.lengths(*inode);
                let name = self.disk.path_of(*inode).unwrap_or("(unnamed)");
                format!("{name} {keep:?} of {durable}..{written}")
            })
            .collect();
        self.trace.push(format!(
            "POWER LOSS ({}): {} of {} pending directory operations kept; {}",
            if every_byte { "every byte" } else { "sampled" },
            crash.dir_ops_kept,
            self.disk.pending_count(),
            if files.is_empty() {
                "no file torn".to_string()
            } else {
                files.join(", ")
            }
        ));
        self.disk = self.disk.crash(&crash);
        self.reboot(Failure::Power)
    }

    fn kill(&mut self, done: u8) -> Result<(), String> {
        let mut executed = Vec::new();
        for lane in 0..3 {
            let count = usize::from(done) % (self.lanes[lane].len() + 1);
            for effect in self.lanes[lane].drain(..).take(count) {
                executed.push(effect.op.describe());
                let _ = self.disk.execute(&effect.op);
            }
        }
        self.trace
            .push(format!("KILL -9 after: [{}]", executed.join("; ")));
        count(|c| c.process_crashes += 1);
        self.reboot(Failure::Process)
    }

    /// Completes every effect (no clock), then a power loss that keeps nothing un-synced.
    fn finish(&mut self) -> Result<(), String> {
        self.settle()?;
        self.trace.push("end: every effect completed".to_string());
        let crash = self.disk.crashes(Tears::Sampled).swap_remove(0);
        self.trace
            .push(format!("POWER LOSS keeping only durable state: {crash:?}"));
        self.disk = self.disk.crash(&crash);
        self.reboot(Failure::Power)?;
        self.settle()?;
        if self.restart.is_some() {
            return Err(self.fail("the final recovery never finished loading".to_string()));
        }
        Ok(())
    }

    fn settle(&mut self) -> Result<(), String> {
        for _ in 0..100_000 {
            if self.lanes.iter().all(VecDeque::is_empty) {
                return Ok(());
            }
            self.complete(0)?;
        }
        Err(self.fail("effects never ran out".to_string()))
    }
}

/// An outcome of `disk.crashes(Sampled)`, or of `disk.crashes(EveryByte)`: enumerated when
/// there are at most `EVERY_BYTE_ENUMERATED_MAX`, else built from a sampled outcome by cutting
/// each torn file at a random byte of its un-synced range (zero-filled or not) — an element of
/// the same set, without enumerating a product of thousands of cuts per file.
fn pick_crash(disk: &SimDisk, choice: u64, every_byte: bool) -> Crash {
    let sampled = disk.crashes(Tears::Sampled);
    let pick = |n: usize| (choice % n as u64) as usize;
    if !every_byte {
        return sampled[pick(sampled.len())].clone();
    }
    // Each torn file's un-synced range: Sampled always includes both ends.
    let mut ranges: BTreeMap<u32, (u64, u64)> = BTreeMap::new();
    for crash in &sampled {
        for (inode, keep) in &crash.files {
            if let Keep::Prefix(cut) = *keep {
                let range = ranges.entry(*inode).or_insert((cut, cut));
                *range = (range.0.min(cut), range.1.max(cut));
            }
        }
    }
    let mut groups: BTreeMap<usize, &Crash> = BTreeMap::new();
    for crash in &sampled {
        groups.entry(crash.dir_ops_kept).or_insert(crash);
    }
    let total: u128 = groups
        .values()
        .map(|crash| {
            crash
                .files
                .iter()
                .map(|(inode, keep)| match keep {
                    Keep::Durable | Keep::Written => 2,
                    _ => {
                        let (from, to) = ranges[inode];
                        u128::from(2 * (to - from) + 1)
                    }
                })
                .product::<u128>()
        })
        .sum();
    if total <= EVERY_BYTE_ENUMERATED_MAX {
        let all = disk.crashes(Tears::EveryByte);
        return all[pick(all.len())].clone();
    }
    let mut crash = sampled[pick(sampled.len())].clone();
    for (i, (inode, keep)) in crash.files.iter_mut().enumerate() {
        if let Keep::Prefix(_) | Keep::PrefixZeroFilled(_) = keep {
            let (from, to) = ranges[inode];
            let r = mix(choice ^ (i as u64 + 1));
            *keep = if r & 1 == 1 && to > from {
                Keep::PrefixZeroFilled(from + (r >> 1) % (to - from))
            } else {
                Keep::Prefix(from + (r >> 1) % (to - from + 1))
            };
        }
    }
    crash
}

fn run(policy: FsyncPolicy, steps: &[Step]) -> Result<(), String> {
    count(|c| c.schedules += 1);
    let mut h = Harness::new(policy)?;
    for step in steps {
        match *step {
            Step::Write { client, key, incr } => h.write(client, key, incr)?,
            Step::Complete { lane } => h.complete(lane)?,
            Step::Tick { ms } => h.tick(ms)?,
            Step::Rotate => h.rotate()?,
            Step::Crash { choice, every_byte } => h.crash(choice, every_byte)?,
            Step::Kill { done } => h.kill(done)?,
        }
    }
    h.finish()
}

fn prop<const KILLS: bool>(policy: FsyncPolicy, schedule: &Schedule<KILLS>) -> TestResult {
    match run(policy, &schedule.0) {
        Ok(()) => TestResult::passed(),
        Err(message) => TestResult::error(message),
    }
}

const TESTS: u64 = 1000;
const STEPS_MAX: usize = 400;

/// Runs one property, then shows what its schedules reached and, for a default-sized run,
/// requires that they reached what could break the contract (as the model checker's
/// `sometimes` properties do): power losses with un-synced data, one during a switch to a
/// new incr file, recoveries that cut a torn tail, and (where the policy allows it)
/// recoveries that lost acknowledged writes. With 1000 schedules each is reached hundreds of
/// times; a run of fewer than 300 schedules is not held to it.
fn check_schedules<const KILLS: bool>(
    name: &str,
    policy: FsyncPolicy,
    prop: fn(Schedule<KILLS>) -> TestResult,
) {
    COVERAGE.with(|c| *c.borrow_mut() = Coverage::default());
    check(name, TESTS, STEPS_MAX, prop);
    let c = COVERAGE.with(|c| *c.borrow());
    eprintln!("{name}: reached {c:?}");
    let tests = env_u64("DURAKV_QC_TESTS").unwrap_or(TESTS);
    if tests >= 300 {
        // Under `always` no acknowledged write may be lost, so none is required.
        let losses = c.recoveries_losing_acked > 0 || policy == FsyncPolicy::Always;
        let reached = c.power_losses_unsynced > 0
            && c.power_losses_rotating > 0
            && c.recoveries_truncating > 0
            && c.rotations > 0
            && losses
            && (!KILLS || c.process_crashes > 0);
        assert!(
            reached,
            "{name}: the schedules did not reach everything that matters: {c:?}"
        );
    }
}

fn prop_always(s: Schedule<false>) -> TestResult {
    prop(FsyncPolicy::Always, &s)
}

fn prop_everysec(s: Schedule<false>) -> TestResult {
    prop(FsyncPolicy::Everysec, &s)
}

fn prop_no(s: Schedule<false>) -> TestResult {
    prop(FsyncPolicy::No, &s)
}

fn prop_kill_always(s: Schedule<true>) -> TestResult {
    prop(FsyncPolicy::Always, &s)
}

fn prop_kill_everysec(s: Schedule<true>) -> TestResult {
    prop(FsyncPolicy::Everysec, &s)
}

fn prop_kill_no(s: Schedule<true>) -> TestResult {
    prop(FsyncPolicy::No, &s)
}

#[test]
fn qc_crash_always() {
    check_schedules("qc_crash_always", FsyncPolicy::Always, prop_always);
}

#[test]
fn qc_crash_everysec() {
    check_schedules("qc_crash_everysec", FsyncPolicy::Everysec, prop_everysec);
}

#[test]
fn qc_crash_no() {
    check_schedules("qc_crash_no", FsyncPolicy::No, prop_no);
}

// The `qc_kill_*` properties add process crashes to the schedules. Ignored until fixed: they
// find a real bug (report "qc_crash: a restart after kill -9 trusts what the killed run had
// not made durable"); minimal cases in the two tests after them.

#[test]
fn qc_kill_always() {
    check_schedules("qc_kill_always", FsyncPolicy::Always, prop_kill_always);
}

#[test]
fn qc_kill_everysec() {
    check_schedules(
        "qc_kill_everysec",
        FsyncPolicy::Everysec,
        prop_kill_everysec,
    );
}

#[test]
fn qc_kill_no() {
    check_schedules("qc_kill_no", FsyncPolicy::No, prop_kill_no);
}

/// Goal: the minimal schedule `qc_kill_always` shrinks to. Method: start under `always`; the
/// start-up renames the new manifest into place and is killed before its directory fsync; the
/// restart reads that manifest (from the page cache), appends `SET k0 v1` to the incr file,
/// fsyncs the file (not the directory) and acknowledges; a power loss then keeps only what is
/// durable — the rename, and the incr file's creation, are not — so the acknowledged write is
/// gone (with other cuts, `qc_kill_no` finds the same state refused at start: an incr file
/// with data and no manifest). A restart cannot know what a killed run left un-synced, so it
/// must make what it loaded durable (fsync the loaded files and the directories) before it
/// acknowledges anything.
#[test]
fn kill_after_manifest_rename_then_power_loss_keeps_acked_write() {
    let mut h = Harness::new(FsyncPolicy::Always).unwrap();
    let manifest_rename = |h: &Harness| {
        h.lanes[0].front().is_some_and(
            |e| matches!(&e.op, Op::Rename { to, .. } if to.ends_with("appendonly.aof.manifest")),
        )
    };
    while !manifest_rename(&h) {
        assert!(
            !h.lanes.iter().all(VecDeque::is_empty),
            "start-up never renames a manifest"
        );
        h.complete(0).unwrap();
    }
    h.kill(1).unwrap(); // the rename ran; its directory fsync never did
    h.settle().unwrap();
    h.write(0, 0, false).unwrap();
    h.settle().unwrap();
    assert!(
        h.history[0].acked_at_ms.is_some(),
        "acknowledged under always"
    );
    if let Err(e) = h.finish() {
        panic!("{e}");
    }
}

/// Goal: the minimal schedule `qc_kill_everysec` shrinks to. Method: under `everysec`, `SET
/// k0 v1` is written and acknowledged; the process is killed before the background fsync;
/// the restart loads the write from the page cache but never fsyncs it (the new run counts
/// its log from the end of the file, as durable); with no new writes nothing is ever synced,
/// and a power loss 3 s later loses a write acknowledged 3 s before it.
#[test]
fn kill_then_power_loss_within_everysec_bound() {
    let mut h = Harness::new(FsyncPolicy::Everysec).unwrap();
    h.settle().unwrap();
    h.write(0, 0, false).unwrap();
    while h.history[0].acked_at_ms.is_none() {
        h.complete(0).unwrap();
    }
    h.kill(0).unwrap();
    h.settle().unwrap();
    for _ in 0..3 {
        h.tick(1000).unwrap();
        h.settle().unwrap();
    }
    if let Err(e) = h.finish() {
        panic!("{e}");
    }
}
