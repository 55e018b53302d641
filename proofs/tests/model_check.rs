//! The bounded model checks, as tests: every configuration explored exhaustively with its
//! unique state count pinned (a change to the protocol or the engine shows as a changed number
//! in review), every `always` property holding and every `sometimes` property discovered; and
//! every known-bad design caught with a counterexample.

use durakv_proofs::catalog::{checks, mutants};
use durakv_proofs::runner::{print_caught, print_report, run_check, run_mutant};

/// Unique states per configuration (depth-first, exhaustive).
const PINNED: &[(&str, usize)] = &[
    ("always", 90080),
    ("always-two-crashes", 433301),
    ("always-every-byte", 10331),
    ("everysec", 2418799),
    ("everysec-two-crashes", 1194570),
    ("everysec-slow-fsync", 261045),
    ("no", 73100),
    ("always-rewrite", 171720),
    ("everysec-rewrite", 7045465),
    ("rdb", 72255),
    ("rdb-two-crashes", 119099),
    ("always-io-failure", 138644),
    ("everysec-io-failure", 455860),
    ("no-io-failure", 123032),
    ("always-script", 16785),
    ("always-fail-startup", 88590),
    ("always-fail-rotation", 512921),
    ("always-fail-rewrite", 630204),
    ("rdb-fail-snapshot", 35582),
    ("no-fail-shutdown", 621627),
    ("always-multi-expire-read", 15202),
    ("always-rewrite-collections", 87923),
    ("always-rewrite-no-preamble", 463840),
    ("always-flushall-bgsave", 25700),
    ("always-toggle-aof", 21617),
    ("everysec-toggle-aof", 91564),
    ("always-upgrade", 6247),
    ("no-shutdown-families", 4798),
    ("always-multi-every-byte", 7996),
    ("always-fail-upgrade", 63662),
    ("rdb-collections", 121945),
];

#[test]
fn every_configuration_holds_and_reaches_what_matters() {
    let mut failures = Vec::new();
    for check in checks() {
        let report = run_check(&check, 2, false);
        let mut text = Vec::new();
        print_report(&mut text, &report).unwrap();
        println!("{}", String::from_utf8_lossy(&text));
        if !report.ok() {
            failures.push(format!("{}: a property failed", check.name));
        }
        let pinned = PINNED
            .iter()
            .find(|(n, _)| *n == check.name)
            .map(|(_, c)| *c);
        if pinned != Some(report.unique_states) {
            failures.push(format!(
                "{}: {} unique states, pinned {pinned:?}",
                check.name, report.unique_states
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn every_mutant_is_caught() {
    let mut missed = Vec::new();
    for mutant in mutants() {
        let caught = run_mutant(&mutant, false);
        let mut text = Vec::new();
        print_caught(&mut text, &caught, mutant.about).unwrap();
        println!("{}", String::from_utf8_lossy(&text));
        if caught.counterexample.is_none() {
            missed.push(mutant.name);
        }
    }
    assert!(missed.is_empty(), "not caught: {missed:?}");
}

#[test]
fn invariants_document_quotes_todays_counterexamples() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/INVARIANTS.md");
    let doc = std::fs::read_to_string(path).unwrap();
    let fresh = durakv_proofs::doc::refresh(&doc).unwrap();
    assert!(
        fresh == doc,
        "proofs/INVARIANTS.md is out of date: run `cargo run -p durakv-proofs --bin durakv-check -- invariants --write`"
    );
    for mutant in mutants() {
        assert!(
            doc.contains(&format!("<!-- counterexample: {} -->", mutant.name)),
            "{} not documented",
            mutant.name
        );
    }
}
