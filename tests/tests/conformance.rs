//! Conformance of the runtime's file worker to `SimDisk` (issue 6): the effect sequences the
//! runtime's file threads execute on a real temporary directory leave exactly the files and
//! bytes `SimDisk` says they do.
//!
//! Property: for a random sequence of `model::io::Op`s over a few names in a directory and a
//! subdirectory (`Create`, `Append`, `Fsync`, `FsyncDir`, `Rename`, `Delete`, `Truncate`,
//! `CreateDir`, `WriteView` of a small keyspace, `Read`, `List`), each op sent to a random lane
//! of the real file threads (`FileWorkers`, through the `FileWorkersForTests` hook) and waited
//! for, and executed on `SimDisk::execute`:
//! * after every op the two results agree: the same `IoResult` variant, the same bytes and
//!   `eof` for `Read`, the same names for `List`, the same errno name for `Failed` (the OS
//!   message is not compared);
//! * at the end, every name that exists exists on both, as a file or directory on both, and
//!   every file's bytes equal `SimDisk::contents`.
//!
//! Lanes are chosen at random so the append-handle cache of one lane is checked against
//! renames and deletes done by another. Ops are sent one at a time: the engine orders what
//! it sends, and SimDisk is sequential. Names stay in their roles (file names are never
//! directories and the reverse); every op is total on every state, so shrinking stays valid.
//!
//! Cases: `DURAKV_QC_TESTS` (default 200) from the seed `DURAKV_QC_SEED` (random when unset,
//! printed, and repeated on failure with the shrunk case):
//!
//! ```text
//! DURAKV_QC_TESTS=5000 DURAKV_QC_SEED=12345 cargo test --release -p durakv-tests --test conformance
//! ```

use std::collections::BTreeMap;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use bytes::Bytes;
use durakv_runtime::FileWorkersForTests;
use durakv_tests::conformance::{self, comparable, rebase, Permit, DIRS, FILES, LISTED};
use model::io::{IoResult, Lane, Op, ViewFormat, ViewWriter};
use model::keyspace::{Entry, Keyspace, Value};
use model::sim::SimDisk;
use quickcheck::{Arbitrary, Gen, QuickCheck, TestResult};

// Each suite uses part of the shared driver (this one runs its own QuickCheck).
#[allow(dead_code)]
#[path = "../../model/tests/support/qc_check.rs"]
mod qc_check;
use qc_check::{below, env_u64, random_seed};

// ---------------------------------------------------------------------------------------------
// Running: seed and case count from our environment variables (the repo's convention).

// ---------------------------------------------------------------------------------------------
// Picking names: the files and directories are in `durakv_tests::conformance`.

fn pick(g: &mut Gen, names: &[&str]) -> String {
    names[below(g, names.len())].to_string()
}

/// Bytes to append: empty, short or a few dozen, text or binary.
fn blob(g: &mut Gen) -> Bytes {
    let len = match below(g, 4) {
        0 => 0,
        1 => 1,
        2 => below(g, 8),
        _ => below(g, 40),
    };
    (0..len)
        .map(|_| {
            if bool::arbitrary(g) {
                b'a' + below(g, 26) as u8
            } else {
                u8::arbitrary(g)
            }
        })
        .collect::<Vec<u8>>()
        .into()
}

fn keyspace(g: &mut Gen) -> Keyspace {
    let mut keyspace = Keyspace::new(2);
    for _ in 0..below(g, 4) {
        let key = Bytes::from(format!("k{}", below(g, 5)));
        let value = Value::Str(blob(g));
        let expire_at_ms = bool::arbitrary(g).then(|| 1_700_000_000_000 + below(g, 10) as u64);
        keyspace.insert(
            below(g, 2),
            key,
            Entry {
                value,
                expire_at_ms,
            },
        );
    }
    keyspace
}

fn op(g: &mut Gen) -> Op {
    match below(g, 13) {
        0 => Op::Read {
            path: pick(g, FILES),
            offset: *g.choose(&[0, 1, 3, 10, 40, 1000]).unwrap(),
            len_max: *g.choose(&[0, 1, 5, 16, 64, 1 << 20, u64::MAX]).unwrap(),
        },
        1 => Op::List {
            path: pick(g, LISTED),
        },
        2 => Op::CreateDir {
            path: pick(g, DIRS),
        },
        3 | 4 => Op::Create {
            path: pick(g, FILES),
        },
        5 | 6 => Op::Append {
            path: pick(g, FILES),
            bytes: blob(g),
        },
        7 => Op::Fsync {
            path: pick(g, FILES),
        },
        8 => Op::FsyncDir {
            path: pick(g, LISTED),
        },
        9 => Op::Rename {
            from: pick(g, FILES),
            to: pick(g, FILES),
        },
        10 => Op::Delete {
            path: pick(g, FILES),
        },
        11 => Op::Truncate {
            path: pick(g, FILES),
            len: below(g, 48) as u64,
        },
        _ => {
            // Drawn in the order the fields were drawn before `ViewWriter`: same cases per seed.
            let path = pick(g, FILES);
            let view = keyspace(g);
            let formats = [
                ViewFormat::Rdb { aof_base: false },
                ViewFormat::Rdb { aof_base: true },
                ViewFormat::Resp,
            ];
            let format = *g.choose(&formats).unwrap();
            Op::WriteView {
                path,
                view: ViewWriter::new(view, format, 1_700_000_000_005),
            }
        }
    }
}

/// One op and the lane it is sent to.
#[derive(Clone, Debug)]
struct Step {
    lane: Lane,
    op: Op,
}

impl Arbitrary for Step {
    fn arbitrary(g: &mut Gen) -> Self {
        Step {
            lane: *g.choose(&[Lane::Log, Lane::Sync, Lane::Worker]).unwrap(),
            op: op(g),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The real side: one set of file threads for the whole test, one fresh directory per case.

struct Real {
    root: PathBuf,
    workers: FileWorkersForTests<Permit>,
    next_id: AtomicU64,
    next_case: AtomicU64,
}

/// The file threads live for the whole test binary (they have no stop); the root directory
/// is removed when the property is done.
fn real() -> &'static Mutex<Real> {
    static REAL: OnceLock<Mutex<Real>> = OnceLock::new();
    REAL.get_or_init(|| {
        let root = tempfile::Builder::new()
            .prefix("durakv-conformance-")
            .tempdir()
            .expect("temporary directory")
            .keep();
        let workers = FileWorkersForTests::start(&root, Permit::default()).expect("file threads");
        Mutex::new(Real {
            root,
            workers,
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
}

/// Every path under `dir`, relative to it, with whether it is a directory.
fn tree(dir: &Path) -> BTreeMap<String, bool> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, bool>) {
        for entry in std::fs::read_dir(dir).expect("read_dir") {
            let entry = entry.expect("dir entry");
            let path = entry.path();
            let name = path
                .strip_prefix(base)
                .expect("under base")
                .to_string_lossy()
                .into_owned();
            let is_dir = entry.file_type().expect("file type").is_dir();
            out.insert(name, is_dir);
            if is_dir {
                walk(base, &path, out);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

// ---------------------------------------------------------------------------------------------
// The property.

fn prop_file_worker_matches_simdisk(steps: Vec<Step>) -> TestResult {
    let mut real = real().lock().unwrap_or_else(|e| e.into_inner());
    let case = format!("case-{}", real.next_case.fetch_add(1, Ordering::Relaxed));
    let case_dir = real.root.join(&case);
    std::fs::create_dir(&case_dir).expect("case directory");
    let outcome = run_case(&mut real, &case, &case_dir, &steps);
    let _ = std::fs::remove_dir_all(&case_dir);
    match outcome {
        Ok(()) => TestResult::passed(),
        Err(message) => TestResult::error(format!("{message}\nsteps: {steps:#?}")),
    }
}

fn run_case(real: &mut Real, case: &str, case_dir: &Path, steps: &[Step]) -> Result<(), String> {
    let mut sim = SimDisk::new();
    for (i, step) in steps.iter().enumerate() {
        let expected = sim.execute(&step.op);
        let got = real.execute(step.lane, rebase(case, &step.op));
        if comparable(&expected) != comparable(&got) {
            return Err(format!(
                "step {i} {:?} on {:?}: SimDisk says {expected:?}, the file worker {got:?}",
                step.op, step.lane
            ));
        }
    }
    let on_disk = tree(case_dir);
    let in_sim: BTreeMap<String, bool> = sim
        .paths()
        .into_iter()
        .map(|p| {
            let is_dir = sim.contents(&p).is_none();
            (p, is_dir)
        })
        .collect();
    if on_disk != in_sim {
        return Err(format!(
            "at the end the names differ: on disk {on_disk:?}, in SimDisk {in_sim:?}"
        ));
    }
    for (path, is_dir) in &in_sim {
        if *is_dir {
            continue;
        }
        let bytes = std::fs::read(case_dir.join(path)).map_err(|e| format!("read {path}: {e}"))?;
        let expected = sim.contents(path).unwrap_or_default();
        if bytes != expected {
            return Err(format!(
                "at the end {path} holds {:?} on disk, SimDisk says {:?}",
                Bytes::from(bytes),
                Bytes::copy_from_slice(expected)
            ));
        }
    }
    Ok(())
}

#[test]
fn file_worker_matches_simdisk() {
    let name = "file_worker_matches_simdisk";
    let seed = env_u64("DURAKV_QC_SEED").unwrap_or_else(random_seed);
    let tests = env_u64("DURAKV_QC_TESTS").unwrap_or(200);
    eprintln!("{name}: DURAKV_QC_SEED={seed} DURAKV_QC_TESTS={tests}");
    let started = Instant::now();
    let mut qc = QuickCheck::new()
        .rng(Gen::from_size_and_seed(40, seed))
        .tests(tests)
        .max_tests(tests.saturating_mul(10).max(1));
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
        qc.quickcheck(prop_file_worker_matches_simdisk as fn(Vec<Step>) -> TestResult);
    }));
    let root = real()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .root
        .clone();
    let _ = std::fs::remove_dir_all(root);
    if let Err(payload) = outcome {
        let message = payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        panic!("{name} failed; reproduce with DURAKV_QC_SEED={seed} DURAKV_QC_TESTS={tests}\n{message}");
    }
    eprintln!("{name}: {tests} cases passed in {:?}", started.elapsed());
}
