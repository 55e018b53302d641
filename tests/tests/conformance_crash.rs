//! Crash conformance of the runtime's file workers to `SimDisk` (issue 10, item 7): whatever
//! a power cut at any point can leave of what the real file workers did is a directory
//! `SimDisk` allows for the same schedule at the same point.
//!
//! Method: "cut power by replaying only what a crash may keep". The real worker code
//! (`FileWorkers`, through `FileWorkersForTests::start_with`) runs each schedule of `Op`s on a
//! real temporary directory, with a recording [`Syscalls`] implementation interposed at the
//! seam every state-changing call of `runtime/src/fs.rs` goes through: each create, write
//! (inode, offset, bytes), fdatasync (inode), directory fsync, rename, unlink, truncate and
//! mkdir the workers really made, in order. The recorded calls are replayed into a second
//! `SimDisk` (the *trace disk*), which knows from them alone what is synced and what is not.
//! Its crash outcomes (per way of keeping the pending renames/creates/unlinks, every byte
//! tear and zero-fill of every un-synced file, `SimDisk::crash_fates`) must each be an
//! outcome of the *schedule disk*, the `SimDisk` that executed the schedule's ops:
//! * at every acknowledged op (its completion drained): within the schedule disk's outcomes
//!   after that op: what was acknowledged must be as durable as SimDisk says;
//! * after every recorded call inside an op: within the outcomes before or after that op
//!   (for a view, also after its create and after its bytes, before its sync: SimDisk
//!   executes a view as a create then an append);
//! * the trace disk's live names and bytes equal the real directory's at each completion (so
//!   the recorder missed no call), and the schedule disk's do too (the non-crash conformance);
//! * at each completion two power-cut directories are built on disk from the trace disk, one
//!   keeping only what was synced and one picking un-synced names and tears pseudo-randomly,
//!   read back, and each must be a crash outcome of the schedule disk (names, kinds, bytes).
//!
//! A view (`WriteView`) counts as fdatasynced by the worker before its completion, as
//! `write_view` in `fs.rs` does: the schedule disk executes an `Fsync` of the file after it.
//!
//! Metadata rule: the trace disk uses SimDisk's own journal rule (a directory fsync makes
//! every earlier pending directory operation durable), so the check is about what the workers
//! call and when, under SimDisk's media assumptions, not about ext4. No `dm-flakey` or FUSE
//! layer is used (no root here): power is cut by the replay, as the issue allows.
//!
//! Schedules: random ones (quickcheck, `DURAKV_QC_TESTS`, default 100, seed `DURAKV_QC_SEED`),
//! one by hand (create, directory fsync, two append + fdatasync pairs), and four captured
//! from the real engine over SimDisk: start-up + writes + an incr-file rotation, a
//! BGREWRITEAOF (base view, manifest temp + rename + directory fsync, deletes), two BGSAVEs
//! (temp file + fsync + rename onto dump.rdb + directory fsync), and start-up repair of an
//! incr file a power cut tore (truncate to the last whole record, seal, fsyncs).
//!
//! Broken twins, which the check must catch at a named acknowledged step of the fixed
//! schedules: a worker that skips every directory fsync, one that skips only the one after a
//! rename, and one that acknowledges an fdatasync before making it (it makes it before its
//! next call).
//!
//! Found on the way (SimDisk allows fewer outcomes than a real disk; both left as they are,
//! README "Crash conformance"): a truncate after un-synced appends never keeps them whole
//! (hence the view's fsync above), and recreating a file with the bytes it durably held is
//! durable at once (hence the view's create checked as a step of its own).
//!
//! ```text
//! DURAKV_QC_TESTS=2000 cargo test --release -p durakv-tests --test conformance_crash
//! ```

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Seek};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;
use durakv_runtime::syscalls::{Os, Syscalls};
use durakv_runtime::FileWorkersForTests;
use durakv_tests::conformance::{self, comparable, rebase, Permit, DIRS, FILES, LISTED};
use model::config::{Config, FsyncPolicy};
use model::engine::{ClientAddr, Engine};
use model::io::{IoDone, IoResult, Lane, Op, ViewFormat, ViewWriter};
use model::keyspace::{Entry, Keyspace, Value};
use model::sim::{FateTree, SimDisk, Tears};
use quickcheck::{Arbitrary, Gen, TestResult};

#[allow(dead_code)]
#[path = "../../model/tests/support/qc_check.rs"]
mod qc_check;
use qc_check::below;

// ---------------------------------------------------------------------------------------------
// The recorder: the real calls, then a note of what was called.

/// Which worker runs: the real one, or a broken twin the check must catch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Twin {
    Honest,
    /// Answers a directory fsync without making it.
    SkipDirSync,
    /// The same, only for a directory fsync right after a rename (the manifest's, the
    /// snapshot's, a base's).
    SkipDirSyncAfterRename,
    /// Answers an fdatasync at once and makes it only before its next call (the completion
    /// has gone out by then).
    AckBeforeSync,
}

/// One state-changing call the workers made, paths relative to the workers' root.
#[derive(Clone, Debug)]
enum Call {
    Mkdir(String),
    Create(String, u64),
    OpenAppend(String, u64),
    Write {
        ino: u64,
        offset: u64,
        bytes: Vec<u8>,
    },
    SyncData(u64),
    SyncDir(String),
    Rename(String, String),
    Unlink(String),
    Truncate(String, u64),
}

#[derive(Clone)]
struct Recorder {
    root: PathBuf,
    twin: Twin,
    calls: Arc<Mutex<Vec<Call>>>,
    /// `AckBeforeSync`: fdatasyncs answered but not yet made.
    owed: Arc<Mutex<Vec<File>>>,
    /// Whether the last call made was a rename.
    renamed: Arc<AtomicBool>,
}

fn ino(file: &File) -> io::Result<u64> {
    Ok(file.metadata()?.ino())
}

impl Recorder {
    fn rel(&self, path: &Path) -> String {
        let rel = path.strip_prefix(&self.root).expect("under the root");
        rel.to_string_lossy().into_owned()
    }

    fn note(&self, call: Call) {
        let renamed = matches!(call, Call::Rename(..));
        self.renamed.store(renamed, Ordering::SeqCst);
        self.calls.lock().unwrap().push(call);
    }

    /// Makes the fdatasyncs a twin answered early, before anything else happens.
    fn catch_up(&self) -> io::Result<()> {
        let owed = std::mem::take(&mut *self.owed.lock().unwrap());
        for file in owed {
            Os.sync_data(&file)?;
            self.note(Call::SyncData(ino(&file)?));
        }
        Ok(())
    }
}

impl Syscalls for Recorder {
    fn mkdir(&self, path: &Path) -> io::Result<()> {
        self.catch_up()?;
        Os.mkdir(path)?;
        self.note(Call::Mkdir(self.rel(path)));
        Ok(())
    }

    fn create(&self, path: &Path) -> io::Result<File> {
        self.catch_up()?;
        let file = Os.create(path)?;
        self.note(Call::Create(self.rel(path), ino(&file)?));
        Ok(file)
    }

    fn open_append(&self, path: &Path) -> io::Result<File> {
        self.catch_up()?;
        let file = Os.open_append(path)?;
        self.note(Call::OpenAppend(self.rel(path), ino(&file)?));
        Ok(file)
    }

    fn write(&self, file: &mut File, buf: &[u8]) -> io::Result<usize> {
        self.catch_up()?;
        let n = Os.write(file, buf)?;
        // After write(2) the offset is the end of what was written (O_APPEND too).
        let offset = file.stream_position()? - n as u64;
        let bytes = buf[..n].to_vec();
        let ino = ino(file)?;
        self.note(Call::Write { ino, offset, bytes });
        Ok(n)
    }

    fn sync_data(&self, file: &File) -> io::Result<()> {
        if self.twin == Twin::AckBeforeSync {
            self.owed.lock().unwrap().push(file.try_clone()?);
            return Ok(());
        }
        self.catch_up()?;
        Os.sync_data(file)?;
        self.note(Call::SyncData(ino(file)?));
        Ok(())
    }

    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        self.catch_up()?;
        let after_rename = self.renamed.load(Ordering::SeqCst);
        let skip = match self.twin {
            Twin::SkipDirSync => true,
            Twin::SkipDirSyncAfterRename => after_rename,
            _ => false,
        };
        if skip {
            return Ok(());
        }
        Os.sync_dir(path)?;
        self.note(Call::SyncDir(self.rel(path)));
        Ok(())
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.catch_up()?;
        Os.rename(from, to)?;
        self.note(Call::Rename(self.rel(from), self.rel(to)));
        Ok(())
    }

    fn unlink(&self, path: &Path) -> io::Result<()> {
        self.catch_up()?;
        Os.unlink(path)?;
        self.note(Call::Unlink(self.rel(path)));
        Ok(())
    }

    fn truncate(&self, path: &Path, len: u64) -> io::Result<()> {
        self.catch_up()?;
        Os.truncate(path, len)?;
        self.note(Call::Truncate(self.rel(path), len));
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// The trace disk: the recorded calls replayed into a SimDisk.

struct Replay {
    /// The case's directory, relative to the root (`case-N`).
    case: String,
    disk: SimDisk,
    /// Which case-relative name each inode the workers touched has now.
    names: BTreeMap<u64, String>,
}

impl Replay {
    fn new(case: &str) -> Replay {
        Replay {
            case: case.to_string(),
            disk: SimDisk::new(),
            names: BTreeMap::new(),
        }
    }

    fn local(&self, path: &str) -> Result<String, String> {
        if path == self.case {
            return Ok(String::new());
        }
        let prefix = format!("{}/", self.case);
        (path.strip_prefix(&prefix).map(str::to_string))
            .ok_or_else(|| format!("a call outside the case directory: {path}"))
    }

    fn run(&mut self, op: Op) -> Result<(), String> {
        match self.disk.execute(&op) {
            IoResult::Done => Ok(()),
            other => Err(format!("the trace disk refused {op:?}: {other:?}")),
        }
    }

    fn rename_inode(&mut self, from: &str, to: Option<&str>) {
        let at = |names: &BTreeMap<u64, String>, p: &str| {
            names.iter().find(|(_, n)| *n == p).map(|(i, _)| *i)
        };
        if let Some(to) = to {
            if let Some(replaced) = at(&self.names, to) {
                self.names.remove(&replaced);
            }
        }
        if let Some(moved) = at(&self.names, from) {
            match to {
                Some(to) => self.names.insert(moved, to.to_string()),
                None => self.names.remove(&moved),
            };
        }
    }

    /// Applies one recorded call; a call the trace disk cannot express is an error.
    fn apply(&mut self, call: &Call) -> Result<(), String> {
        match call {
            Call::Mkdir(p) => {
                let path = self.local(p)?;
                self.run(Op::CreateDir { path })
            }
            Call::Create(p, ino) | Call::OpenAppend(p, ino) => {
                let path = self.local(p)?;
                let known = self.names.iter().find(|(_, n)| **n == path);
                if let Some((other, _)) = known.filter(|(i, _)| *i != ino) {
                    return Err(format!(
                        "{path} is inode {ino} on disk, {other} in the replay"
                    ));
                }
                self.names.insert(*ino, path.clone());
                match call {
                    Call::Create(..) => self.run(Op::Create { path }),
                    _ => Ok(()),
                }
            }
            Call::Write { ino, offset, bytes } => {
                // A write to an unlinked file cannot survive a crash.
                let Some(path) = self.names.get(ino).cloned() else {
                    return Ok(());
                };
                let len = self.disk.contents(&path).map_or(0, <[u8]>::len) as u64;
                if *offset != len {
                    return Err(format!("a write at {offset} into {path} of {len} bytes"));
                }
                let bytes = Bytes::copy_from_slice(bytes);
                self.run(Op::Append { path, bytes })
            }
            Call::SyncData(ino) => match self.names.get(ino).cloned() {
                Some(path) => self.run(Op::Fsync { path }),
                None => Ok(()),
            },
            Call::SyncDir(p) => {
                let path = self.local(p)?;
                self.run(Op::FsyncDir { path })
            }
            Call::Rename(from, to) => {
                let (from, to) = (self.local(from)?, self.local(to)?);
                self.rename_inode(&from, Some(&to));
                self.run(Op::Rename { from, to })
            }
            Call::Unlink(p) => {
                let path = self.local(p)?;
                self.rename_inode(&path, None);
                self.run(Op::Delete { path })
            }
            Call::Truncate(p, len) => {
                let path = self.local(p)?;
                self.run(Op::Truncate { path, len: *len })
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Comparing crash outcomes.

/// Whether every outcome of `trace` (one way of keeping directory operations) is an outcome
/// of `allowed`: the same names and kinds, and each file's possible contents within.
fn within(trace: &FateTree, allowed: &FateTree) -> bool {
    trace.len() == allowed.len()
        && trace.iter().zip(allowed).all(|((p, t), (q, a))| {
            p == q
                && match (t, a) {
                    (None, None) => true,
                    (Some(t), Some(a)) => t == a || t.outcomes().iter().all(|o| a.allows(o)),
                    _ => false,
                }
        })
}

/// Names one outcome of `trace` no tree of `allowed` holds, in plain words.
fn witness(trace: &FateTree, allowed: &[&[FateTree]]) -> String {
    let names: Vec<&String> = trace.keys().collect();
    let same_names = (allowed.iter().flat_map(|a| a.iter())).find(|a| a.keys().eq(trace.keys()));
    let Some(same) = same_names else {
        return format!("the names {names:?}, which SimDisk never leaves");
    };
    for (path, fate) in trace {
        let (Some(t), Some(Some(a))) = (fate, same.get(path)) else {
            continue;
        };
        if let Some(bad) = t.outcomes().into_iter().find(|o| !a.allows(o)) {
            return format!("the names {names:?} with {path} = {:?}", Bytes::from(bad));
        }
    }
    format!("the names {names:?} (each file allowed, not all together)")
}

fn check_crash(trace: &SimDisk, allowed: &[&[FateTree]]) -> Result<usize, String> {
    let fates = trace.crash_fates();
    for tree in &fates {
        let held = (allowed.iter().flat_map(|a| a.iter())).any(|a| within(tree, a));
        if !held {
            return Err(format!("a power cut may leave {}", witness(tree, allowed)));
        }
    }
    Ok(fates.len())
}

/// Every path under `dir`, relative to it, with its bytes (`None` for a directory).
fn tree(dir: &Path) -> BTreeMap<String, Option<Vec<u8>>> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, Option<Vec<u8>>>) {
        for entry in std::fs::read_dir(dir).expect("read_dir") {
            let path = entry.expect("dir entry").path();
            let name = path.strip_prefix(base).expect("under base");
            let name = name.to_string_lossy().into_owned();
            if path.is_dir() {
                out.insert(name, None);
                walk(base, &path, out);
            } else {
                out.insert(name, Some(std::fs::read(&path).expect("read")));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// The live names and bytes of a SimDisk, in the same form.
fn sim_tree(disk: &SimDisk) -> BTreeMap<String, Option<Vec<u8>>> {
    let paths = disk.paths().into_iter();
    paths
        .map(|p| (p.clone(), disk.contents(&p).map(<[u8]>::to_vec)))
        .collect()
}

/// Cuts power: builds in `dir` one crash outcome of the trace disk (`pick` 0: only what was
/// synced; otherwise names and tears chosen from `pick`), reads it back, and checks SimDisk
/// allows it.
fn power_cut(trace: &SimDisk, pick: u64, dir: &Path, allowed: &[FateTree]) -> Result<(), String> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).expect("power-cut directory");
    let fates = trace.crash_fates();
    let (synced_only, mut pick) = (pick == 0, pick);
    let mut next = |n: usize| {
        if synced_only {
            return 0;
        }
        let i = (pick % n as u64) as usize;
        pick = pick
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407)
            >> 1;
        i
    };
    for (path, fate) in &fates[next(fates.len())] {
        match fate {
            None => std::fs::create_dir_all(dir.join(path)).expect("mkdir"),
            Some(fate) => {
                let outcomes = fate.outcomes();
                std::fs::write(dir.join(path), &outcomes[next(outcomes.len())]).expect("write");
            }
        }
    }
    let found = tree(dir);
    let fits = |a: &FateTree| {
        a.keys().eq(found.keys())
            && a.iter().all(|(p, f)| match (f, &found[p]) {
                (None, None) => true,
                (Some(f), Some(bytes)) => f.allows(bytes),
                _ => false,
            })
    };
    if allowed.iter().any(fits) {
        return Ok(());
    }
    let shown: BTreeMap<&String, Option<Bytes>> = (found.iter())
        .map(|(p, b)| (p, b.clone().map(Bytes::from)))
        .collect();
    Err(format!(
        "the power-cut directory {shown:?} is no crash outcome of SimDisk"
    ))
}

// ---------------------------------------------------------------------------------------------
// The real side: one set of file threads per twin, one fresh directory per case.

struct Real {
    root: PathBuf,
    workers: FileWorkersForTests<Permit, Recorder>,
    calls: Arc<Mutex<Vec<Call>>>,
    next_id: AtomicU64,
    next_case: AtomicU64,
}

/// The file threads of `twin`, for the whole test binary (they have no stop).
fn real(twin: Twin) -> &'static Mutex<Real> {
    static REAL: [OnceLock<Mutex<Real>>; 4] = [const { OnceLock::new() }; 4];
    REAL[twin as usize].get_or_init(|| {
        let root = std::env::temp_dir().join(format!(
            "durakv-conformance-crash-{}-{twin:?}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).expect("root directory");
        let calls = Arc::new(Mutex::new(Vec::new()));
        let recorder = Recorder {
            root: root.clone(),
            twin,
            calls: calls.clone(),
            owed: Arc::new(Mutex::new(Vec::new())),
            renamed: Arc::new(AtomicBool::new(false)),
        };
        let workers = FileWorkersForTests::start_with(&root, Permit::default(), recorder)
            .expect("file threads");
        Mutex::new(Real {
            root,
            workers,
            calls,
            next_id: AtomicU64::new(1),
            next_case: AtomicU64::new(1),
        })
    })
}

impl Real {
    /// Runs `op` on `lane` and waits for its completion.
    fn execute(&mut self, lane: Lane, op: Op) -> IoResult {
        let seq = self.next_id.fetch_add(1, Ordering::Relaxed);
        conformance::execute(&mut self.workers, seq, lane, op)
    }

    /// The calls recorded since the last time.
    fn take_calls(&self) -> Vec<Call> {
        std::mem::take(&mut *self.calls.lock().unwrap())
    }
}

// ---------------------------------------------------------------------------------------------
// Running a schedule and crashing it everywhere.

/// One op and the lane it is sent to.
#[derive(Clone, Debug)]
struct Step {
    lane: Lane,
    op: Op,
}

/// What a passing run checked.
#[derive(Debug, Default)]
struct Checked {
    /// Crash points: each recorded call and each acknowledged op.
    points: u64,
    /// Ways of keeping the pending directory operations, summed over the points.
    trees: u64,
    /// Power-cut directories built on disk and read back.
    cuts: u64,
}

/// Runs `steps` on the workers of `twin` and on SimDisk, crashing at every point.
fn run_schedule(twin: Twin, steps: &[Step]) -> Result<Checked, String> {
    let mut real = real(twin).lock().unwrap_or_else(|e| e.into_inner());
    let case = format!("case-{}", real.next_case.fetch_add(1, Ordering::Relaxed));
    let case_dir = real.root.join(&case);
    // The workers only join names onto the root: it may come and go between cases.
    std::fs::create_dir_all(&case_dir).expect("case directory");
    real.take_calls();
    let outcome = run_case(&mut real, &case, steps);
    let _ = std::fs::remove_dir_all(&case_dir);
    let _ = std::fs::remove_dir_all(real.root.join(format!("{case}-cut")));
    // Nothing is left behind in the temporary directory once the case is done.
    std::fs::remove_dir(&real.root).expect("an empty root");
    outcome
}

fn run_case(real: &mut Real, case: &str, steps: &[Step]) -> Result<Checked, String> {
    let (case_dir, cut_dir) = (real.root.join(case), real.root.join(format!("{case}-cut")));
    let mut sim = SimDisk::new();
    let mut replay = Replay::new(case);
    let mut checked = Checked::default();
    let mut fates_before = sim.crash_fates();
    for (i, step) in steps.iter().enumerate() {
        let at = |what: String| {
            format!(
                "step {i} `{}` on {:?}: {what}",
                step.op.describe(),
                step.lane
            )
        };
        // What the op may leave half done: SimDisk executes a view as a create, then one
        // append (`SimDisk::execute`), so the state between the two is one too.
        let mut fates_during = Vec::new();
        if let Op::WriteView { path, .. } = &step.op {
            let mut created = sim.clone();
            created.execute(&Op::Create { path: path.clone() });
            fates_during = created.crash_fates();
        }
        let expected = sim.execute(&step.op);
        fates_during.extend(sim.crash_fates());
        if let (Op::WriteView { path, .. }, IoResult::Written { .. }) = (&step.op, &expected) {
            // The worker's contract for views (`fs.rs`, `write_view`): the file is fdatasynced
            // before the completion. Without telling SimDisk, its truncate rule (the old
            // durable version, or a prefix of the new) would call the synced view never
            // written back, and a truncate after it would seem to leak it.
            sim.execute(&Op::Fsync { path: path.clone() });
        }
        let got = real.execute(step.lane, rebase(case, &step.op));
        if comparable(&expected) != comparable(&got) {
            return Err(at(format!("SimDisk says {expected:?}, the worker {got:?}")));
        }
        let fates_after = sim.crash_fates();
        let calls = real.take_calls();
        for (j, call) in calls.iter().enumerate() {
            replay.apply(call).map_err(&at)?;
            if j + 1 < calls.len() {
                let allowed = [&fates_before[..], &fates_during, &fates_after];
                let during = check_crash(&replay.disk, &allowed);
                let during = during.map_err(|e| at(format!("after its call {call:?}, {e}")))?;
                checked.points += 1;
                checked.trees += during as u64;
            }
        }
        let acked = check_crash(&replay.disk, &[&fates_after]);
        checked.trees += acked.map_err(|e| at(format!("once acknowledged, {e}")))? as u64;
        checked.points += 1;
        let on_disk = tree(&case_dir);
        if on_disk != sim_tree(&replay.disk) || on_disk != sim_tree(&sim) {
            return Err(at(format!(
                "the directory holds {on_disk:?}, the trace disk {:?}, SimDisk {:?}",
                sim_tree(&replay.disk),
                sim_tree(&sim)
            )));
        }
        for pick in [0, 1 + checked.points] {
            power_cut(&replay.disk, pick, &cut_dir, &fates_after).map_err(at)?;
            checked.cuts += 1;
        }
        fates_before = fates_after;
    }
    Ok(checked)
}

// ---------------------------------------------------------------------------------------------
// Schedules the real engine issues, captured over SimDisk.

/// What the captured schedules do to the engine.
#[derive(Clone, Copy)]
enum Action {
    Command(&'static str),
    /// Switch to a new incr file (what a rewrite starts with, and Redis after a failure).
    Rotate,
}

/// The effects the engine issues for `actions` after its start-up, each completed on SimDisk
/// in the order issued (a legal order: the workers may always run them one at a time), with
/// the clock moving 100 ms at a time for 3 s after each action so timers fire.
fn engine_schedule(config: Config, actions: &[Action]) -> Vec<Step> {
    engine_run(config, SimDisk::new(), actions).0
}

/// As [`engine_schedule`], starting on `disk`; also returns the disk at the end.
fn engine_run(config: Config, disk: SimDisk, actions: &[Action]) -> (Vec<Step>, SimDisk) {
    let mut now_ms = 1_700_000_000_000;
    let mut engine = Engine::new(config, now_ms);
    let mut disk = disk;
    let mut steps = Vec::new();
    let mut settle = |engine: &mut Engine, now_ms: u64| {
        while let Some(effect) = engine.poll_effect() {
            steps.push(Step {
                lane: effect.lane,
                op: effect.op.clone(),
            });
            let result = disk.execute(&effect.op);
            engine.handle_io(
                now_ms,
                IoDone {
                    id: effect.id,
                    result,
                },
            );
            while engine.poll_reply().is_some() || engine.poll_event().is_some() {}
        }
    };
    settle(&mut engine, now_ms);
    engine.handle_client_opened(now_ms, 1, ClientAddr::default());
    for action in actions {
        match action {
            Action::Command(line) => {
                let argv = line
                    .split(' ')
                    .map(|w| Bytes::copy_from_slice(w.as_bytes()));
                engine.handle_command(now_ms, 1, argv.collect());
            }
            Action::Rotate => assert!(engine.handle_rotate(now_ms), "rotation refused"),
        }
        for _ in 0..30 {
            settle(&mut engine, now_ms);
            now_ms += 100;
            engine.handle_timeout(now_ms);
        }
        settle(&mut engine, now_ms);
    }
    (steps, disk)
}

fn aof_config(policy: FsyncPolicy) -> Config {
    Config {
        appendfsync: policy,
        save_points: Vec::new(),
        ..Config::default()
    }
}

/// Start-up (fresh layout), writes, a switch to a new incr file, more writes.
fn rotation() -> Vec<Step> {
    use Action::*;
    let actions = [
        Command("SET k v1"),
        Command("INCR n"),
        Rotate,
        Command("SET k v2"),
    ];
    engine_schedule(aof_config(FsyncPolicy::Always), &actions)
}

/// Start-up, writes, BGREWRITEAOF (base view, fsync, renames, manifest temp + rename +
/// directory fsync, old files deleted), a write after it.
fn rewrite() -> Vec<Step> {
    use Action::*;
    let actions = [
        Command("SET k v1"),
        Command("RPUSH l a b"),
        Command("BGREWRITEAOF"),
    ];
    let mut actions = actions.to_vec();
    actions.push(Command("SET k v2"));
    engine_schedule(aof_config(FsyncPolicy::Everysec), &actions)
}

/// RDB only: writes, BGSAVE (temp file, fsync, rename over dump.rdb, directory fsync), twice.
fn snapshot() -> Vec<Step> {
    use Action::*;
    let config = Config {
        appendonly: false,
        save_points: Vec::new(),
        ..Config::default()
    };
    let actions = [
        Command("SET k v1"),
        Command("BGSAVE"),
        Command("HSET h f v"),
        Command("BGSAVE"),
    ];
    engine_schedule(config, &actions)
}

/// Goal: the procedures the engine runs (start-up's fresh layout, rotation, rewrite,
/// snapshot), executed by the real workers, leave after a power cut at any point only what
/// SimDisk allows; each schedule holds the steps it is named for.
#[test]
fn engine_schedules_survive_a_power_cut_at_every_point() {
    let has = |steps: &[Step], text: &str| steps.iter().any(|s| s.op.describe().contains(text));
    for (name, steps) in schedules() {
        let ops: Vec<String> = steps.iter().map(|s| s.op.describe()).collect();
        eprintln!("{name}: {} ops: {ops:#?}", steps.len());
        let aof = matches!(name, "rotation" | "rewrite");
        assert!(has(&steps, "-> appendonlydir/appendonly.aof.manifest") || !aof);
        let named = match name {
            "rotation" => has(&steps, "create appendonlydir/appendonly.aof.2.incr.aof"),
            "rewrite" => {
                has(&steps, "-> appendonlydir/appendonly.aof.2.base.rdb")
                    && has(&steps, "delete appendonlydir/appendonly.aof.1.incr.aof")
            }
            "snapshot" => has(&steps, "temp-2.rdb -> dump.rdb") && has(&steps, "fsync directory ."),
            "repair" => has(&steps, "truncate appendonlydir/appendonly.aof.1.incr.aof"),
            _ => true,
        };
        assert!(named, "{name} lacks its procedure: {ops:#?}");
        let checked = run_schedule(Twin::Honest, &steps).unwrap_or_else(|e| panic!("{name}: {e}"));
        eprintln!("{name}: {checked:?}");
    }
}

/// `appendfsync always` on one file, written by hand: create, directory fsync, then two
/// append + fdatasync pairs (each fdatasync is what releases a reply).
fn append_fsync() -> Vec<Step> {
    let path = || "appendonly.aof".to_string();
    let append = |text: &'static str| Op::Append {
        path: path(),
        bytes: Bytes::from_static(text.as_bytes()),
    };
    let ops = [
        Op::Create { path: path() },
        Op::FsyncDir {
            path: String::new(),
        },
        append("*1\r\n$4\r\nPING\r\n"),
        Op::Fsync { path: path() },
        append("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"),
        Op::Fsync { path: path() },
    ];
    let step = |op| Step {
        lane: Lane::Log,
        op,
    };
    ops.into_iter().map(step).collect()
}

/// Start-up repair: a run under `appendfsync no` loses power with the incr file torn inside
/// its last record; the schedule first lays that directory down (every file written and
/// synced), then is what the engine issues when it starts on it (the truncate back to the
/// last whole record, its fsync, ...) and serves one more write.
fn repair() -> Vec<Step> {
    let incr = "appendonlydir/appendonly.aof.1.incr.aof";
    let actions = [Action::Command("SET k v1"), Action::Command("SET k v2")];
    let (_, disk) = engine_run(aof_config(FsyncPolicy::No), SimDisk::new(), &actions);
    let (durable, written) = (disk.as_if_synced(), disk.contents(incr).map(<[u8]>::len));
    let torn = |after: &SimDisk| {
        let len = after.contents(incr).map_or(0, <[u8]>::len);
        after.paths().len() == durable.paths().len() && Some(len + 5) < written && len > 40
    };
    let crashes = disk.crashes(Tears::Sampled).into_iter();
    let after = crashes
        .map(|c| disk.crash(&c))
        .find(torn)
        .expect("a torn crash");
    let mut steps = Vec::new();
    let step = |op| Step {
        lane: Lane::Worker,
        op,
    };
    let paths = after.paths();
    for path in &paths {
        let Some(bytes) = after.contents(path) else {
            steps.push(step(Op::CreateDir { path: path.clone() }));
            continue;
        };
        let bytes = Bytes::copy_from_slice(bytes);
        steps.push(step(Op::Create { path: path.clone() }));
        steps.push(step(Op::Append {
            path: path.clone(),
            bytes,
        }));
        steps.push(step(Op::Fsync { path: path.clone() }));
    }
    let dirs = paths
        .iter()
        .filter(|p| after.contents(p).is_none())
        .cloned();
    for path in std::iter::once(String::new()).chain(dirs) {
        steps.push(step(Op::FsyncDir { path }));
    }
    let write = [Action::Command("SET k v3")];
    steps.extend(engine_run(aof_config(FsyncPolicy::Always), after, &write).0);
    steps
}

/// The engine's four schedules, by name.
fn engine_schedules() -> [(&'static str, Vec<Step>); 4] {
    [
        ("repair", repair()),
        ("rotation", rotation()),
        ("rewrite", rewrite()),
        ("snapshot", snapshot()),
    ]
}

/// Every fixed schedule, by name: the hand-written one and the engine's three.
fn schedules() -> Vec<(&'static str, Vec<Step>)> {
    let mut all = vec![("append-fsync", append_fsync())];
    all.extend(engine_schedules());
    all
}

/// Runs a broken twin on the named schedules: each must fail the check at a power cut right
/// after the acknowledged step named with it.
fn twin_is_caught(twin: Twin, cases: &[(&str, &str)]) {
    let all = schedules();
    for (name, at) in cases {
        let (_, steps) = all.iter().find(|(n, _)| n == name).expect("a schedule");
        match run_schedule(twin, steps) {
            Ok(checked) => panic!("{twin:?} passed {name} ({checked:?})"),
            Err(error) => {
                eprintln!("{twin:?} on {name}: {error}");
                assert!(error.contains(at), "{name}: expected at {at}: {error}");
                assert!(
                    error.contains("once acknowledged, a power cut may leave"),
                    "{error}"
                );
            }
        }
    }
}

/// Goal: the check is not vacuous: a worker that answers a directory fsync without making
/// it (a new name may vanish after the reply) fails it on every schedule, at the first
/// directory fsync: of the new AOF (append-fsync), of the directory `appendonlydir` was made
/// in (start-up of rotation and rewrite), of the rename onto dump.rdb (snapshot).
#[test]
fn a_worker_skipping_the_directory_fsync_is_caught() {
    let startup = "step 4 `fsync directory .`";
    twin_is_caught(
        Twin::SkipDirSync,
        &[
            ("append-fsync", "step 1 `fsync directory .`"),
            ("rotation", startup),
            ("rewrite", startup),
            ("snapshot", "step 5 `fsync directory .`"),
        ],
    );
}

/// Goal: the same when only the directory fsync right after a rename is skipped: caught at
/// the start-up manifest's rename (rotation, rewrite) and at the rename onto dump.rdb.
#[test]
fn a_worker_skipping_the_directory_fsync_after_a_rename_is_caught() {
    let manifest = "step 13 `fsync directory appendonlydir`";
    twin_is_caught(
        Twin::SkipDirSyncAfterRename,
        &[
            ("rotation", manifest),
            ("rewrite", manifest),
            ("snapshot", "step 5 `fsync directory .`"),
        ],
    );
}

/// Goal: a worker that reports an fdatasync done before making it (the completion leaves,
/// the data follows with its next call) fails the check on every schedule, at the first
/// fdatasync: of an append (append-fsync), of the first base view (start-up), of the
/// snapshot's view.
#[test]
fn a_worker_acknowledging_fdatasync_early_is_caught() {
    let base = "step 5 `write 0 keys as an RDB-format AOF base";
    twin_is_caught(
        Twin::AckBeforeSync,
        &[
            ("append-fsync", "step 3 `fsync appendonly.aof`"),
            ("rotation", base),
            ("rewrite", base),
            (
                "snapshot",
                "step 2 `write 1 keys as an RDB snapshot to temp-1.rdb`",
            ),
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// Random schedules.

fn pick(g: &mut Gen, names: &[&str]) -> String {
    names[below(g, names.len())].to_string()
}

/// Bytes to append: empty, one, or up to two dozen, text or binary (zeros included, which
/// a zero-filled tear must not be confused with).
fn blob(g: &mut Gen) -> Bytes {
    let len = *g.choose(&[0, 1, 3, 8, 24]).unwrap();
    let byte = |g: &mut Gen| match below(g, 3) {
        0 => 0,
        1 => b'a' + below(g, 26) as u8,
        _ => u8::arbitrary(g),
    };
    (0..below(g, len + 1))
        .map(|_| byte(g))
        .collect::<Vec<u8>>()
        .into()
}

fn view(g: &mut Gen) -> ViewWriter {
    let mut keyspace = Keyspace::new(2);
    for _ in 0..below(g, 3) {
        let key = Bytes::from(format!("k{}", below(g, 5)));
        let entry = Entry {
            value: Value::Str(blob(g)),
            expire_at_ms: None,
        };
        keyspace.insert(below(g, 2), key, entry);
    }
    let formats = [
        ViewFormat::Rdb { aof_base: false },
        ViewFormat::Rdb { aof_base: true },
        ViewFormat::Resp,
    ];
    ViewWriter::new(keyspace, *g.choose(&formats).unwrap(), 1_700_000_000_005)
}

/// The ops the engine issues, weighted towards what changes what a crash leaves.
fn op(g: &mut Gen) -> Op {
    let path = pick(g, FILES);
    match below(g, 20) {
        0 => Op::Read {
            path,
            offset: 0,
            len_max: u64::MAX,
        },
        1 => Op::List {
            path: pick(g, LISTED),
        },
        2 | 3 => Op::CreateDir {
            path: pick(g, DIRS),
        },
        4 | 5 => Op::Create { path },
        6..=8 => Op::Append {
            path,
            bytes: blob(g),
        },
        9..=11 => Op::Fsync { path },
        12..=14 => Op::FsyncDir {
            path: pick(g, LISTED),
        },
        15 | 16 => Op::Rename {
            from: path,
            to: pick(g, FILES),
        },
        17 => Op::Delete { path },
        18 => Op::Truncate {
            path,
            len: below(g, 30) as u64,
        },
        _ => Op::WriteView {
            path,
            view: view(g),
        },
    }
}

impl Arbitrary for Step {
    fn arbitrary(g: &mut Gen) -> Self {
        Step {
            lane: *g.choose(&[Lane::Log, Lane::Sync, Lane::Worker]).unwrap(),
            op: op(g),
        }
    }
}

/// Totals over the random cases: crash points, directory-operation trees, power cuts.
static TOTALS: [AtomicU64; 3] = [const { AtomicU64::new(0) }; 3];

fn prop_power_cut_leaves_what_simdisk_allows(steps: Vec<Step>) -> TestResult {
    match run_schedule(Twin::Honest, &steps) {
        Ok(checked) => {
            for (total, n) in TOTALS
                .iter()
                .zip([checked.points, checked.trees, checked.cuts])
            {
                total.fetch_add(n, Ordering::Relaxed);
            }
            TestResult::passed()
        }
        Err(message) => TestResult::error(format!("{message}\nsteps: {steps:#?}")),
    }
}

/// Goal: any schedule of the ops the engine issues, on any lane, leaves after a power cut at
/// any point only what SimDisk allows. Method: quickcheck schedules over a few names in a
/// directory, a subdirectory and one that may not exist; `run_schedule` does the rest.
#[test]
fn random_schedules_survive_a_power_cut_at_every_point() {
    qc_check::check(
        "random_schedules_survive_a_power_cut_at_every_point",
        100,
        40,
        prop_power_cut_leaves_what_simdisk_allows as fn(Vec<Step>) -> TestResult,
    );
    let [points, trees, cuts] = TOTALS.each_ref().map(|t| t.load(Ordering::Relaxed));
    eprintln!(
        "checked {points} crash points ({trees} ways of keeping directory operations), \
         {cuts} power-cut directories on disk"
    );
}
