//! The quickcheck driver shared by the property suites (`model/tests/qc_codecs.rs`,
//! `proofs/tests/qc_engine.rs`, `proofs/tests/qc_crash.rs`): seed and case count from
//! `DURAKV_QC_SEED` / `DURAKV_QC_TESTS`, the seed printed first and repeated on failure.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::panic::{self, AssertUnwindSafe};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use quickcheck::{Arbitrary, Gen, QuickCheck, Testable};

pub(crate) fn env_u64(name: &str) -> Option<u64> {
    let text = std::env::var(name).ok()?;
    match text.trim().parse() {
        Ok(n) => Some(n),
        Err(_) => panic!("{name}={text:?} is not a u64"),
    }
}

pub(crate) fn random_seed() -> u64 {
    let mut hasher = RandomState::new().build_hasher();
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    hasher.write_u128(nanos);
    hasher.finish()
}

/// Runs `prop` on `DURAKV_QC_TESTS` cases (else `tests_default`) drawn from `DURAKV_QC_SEED`
/// (else a random seed), printing the seed first and repeating it in the failure message.
pub(crate) fn check<A: Testable>(name: &str, tests_default: u64, size: usize, prop: A) {
    let seed = env_u64("DURAKV_QC_SEED").unwrap_or_else(random_seed);
    let tests = env_u64("DURAKV_QC_TESTS").unwrap_or(tests_default);
    eprintln!("{name}: DURAKV_QC_SEED={seed} DURAKV_QC_TESTS={tests}");
    let started = Instant::now();
    let mut qc = QuickCheck::new()
        .rng(Gen::from_size_and_seed(size, seed))
        .tests(tests)
        .max_tests(tests.saturating_mul(10).max(1));
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| qc.quickcheck(prop)));
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

pub(crate) fn below(g: &mut Gen, n: usize) -> usize {
    usize::arbitrary(g) % n.max(1)
}
