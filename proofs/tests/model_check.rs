//! The bounded model checks, as tests: every configuration explored exhaustively with its
//! unique state count pinned (a change to the protocol or the engine shows as a changed number
//! in review), every `always` property holding and every `sometimes` property discovered; and
//! every known-bad design caught with a counterexample.

use durakv_proofs::catalog::{checks, mutants};
use durakv_proofs::repl_properties as repl;
use durakv_proofs::runner::{
    print_caught, print_report, run_check, run_mutant, run_repl_check, run_repl_mutant, Report,
};

/// Unique states per configuration (depth-first, exhaustive).
const PINNED: &[(&str, usize)] = &[
    ("always", 90552),
    ("always-two-crashes", 443898),
    ("always-every-byte", 12003),
    ("everysec", 2428243),
    ("everysec-two-crashes", 1254524),
    ("everysec-slow-fsync", 263949),
    ("no", 74158),
    ("always-rewrite", 174112),
    ("everysec-rewrite", 7098699),
    ("rdb", 72255),
    ("rdb-two-crashes", 119099),
    ("always-io-failure", 140010),
    ("everysec-io-failure", 462137),
    ("no-io-failure", 125445),
    ("always-script", 16851),
    ("always-fail-startup", 89768),
    ("always-fail-rotation", 519464),
    ("always-fail-rewrite", 645802),
    ("rdb-fail-snapshot", 35582),
    ("no-fail-shutdown", 632958),
    ("always-multi-expire-read", 15302),
    ("always-rewrite-collections", 89171),
    ("always-rewrite-no-preamble", 469444),
    ("always-flushall-bgsave", 26120),
    ("always-multi-every-byte", 9492),
    ("rdb-collections", 121945),
    ("always-toggle-aof", 21693),
    ("everysec-toggle-aof", 92088),
    ("always-upgrade", 6505),
    ("no-shutdown-families", 4826),
    ("always-fail-upgrade", 64069),
    ("always-per-dir-rewrite", 105345),
    ("always-per-dir-rotation", 13112),
    ("always-bit-flip", 55963),
    ("everysec-flip-two-crashes", 927448),
    ("everysec-garbage", 52688),
    ("repl-failover", 223558),
    ("repl-restarts", 109324),
];

/// A report's failures: a property that failed, or a state count that is not the pinned one.
fn judge(report: &Report, failures: &mut Vec<String>) {
    let mut text = Vec::new();
    print_report(&mut text, report).unwrap();
    println!("{}", String::from_utf8_lossy(&text));
    if !report.ok() {
        failures.push(format!("{}: a property failed", report.name));
    }
    let pinned = PINNED
        .iter()
        .find(|(n, _)| *n == report.name)
        .map(|(_, c)| *c);
    if pinned != Some(report.unique_states) {
        failures.push(format!(
            "{}: {} unique states, pinned {pinned:?}",
            report.name, report.unique_states
        ));
    }
}

#[test]
fn every_configuration_holds_and_reaches_what_matters() {
    let mut failures = Vec::new();
    for check in checks() {
        judge(&run_check(&check, 2, false), &mut failures);
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn every_replication_configuration_holds_and_reaches_what_matters() {
    let mut failures = Vec::new();
    for check in repl::checks() {
        judge(&run_repl_check(&check, 2, false), &mut failures);
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
fn every_replication_mutant_is_caught() {
    let mut missed = Vec::new();
    for mutant in repl::mutants() {
        let caught = run_repl_mutant(&mutant, false);
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
    let names = mutants().into_iter().map(|m| m.name);
    for name in names.chain(repl::mutants().into_iter().map(|m| m.name)) {
        assert!(
            doc.contains(&format!("<!-- counterexample: {name} -->")),
            "{name} not documented"
        );
    }
}
