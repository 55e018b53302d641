//! The coverage gate: the lines of `model/src/engine/` that the model checker and the
//! quickcheck suites reach, measured by `proofs/coverage.sh`, may not fall below the fraction
//! pinned in `proofs/COVERAGE` (CI runs the script first when the llvm-tools are installed).
//!
//! Invariant kept: a change that stops the proofs from reaching engine code it reached before
//! fails here, with the figure; the pin moves only in a commit that says why.

use std::path::Path;

/// `covered total` from a line of text.
fn figure(text: &str) -> Option<(u64, u64)> {
    let mut words = text.split_whitespace();
    let covered = words.next()?.parse().ok()?;
    let total = words.next()?.parse().ok()?;
    (covered <= total && total > 0).then_some((covered, total))
}

/// The pinned fraction, in tenths of a percent (e.g. `873` for 87.3 %).
fn pinned_permille(text: &str) -> Option<u64> {
    let line = text
        .lines()
        .find(|l| !l.starts_with('#') && !l.trim().is_empty())?;
    line.trim()
        .trim_end_matches('%')
        .replace('.', "")
        .parse()
        .ok()
}

#[test]
fn engine_coverage_never_drops_below_the_pin() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let pin = std::fs::read_to_string(root.join("COVERAGE")).expect("proofs/COVERAGE");
    let pinned = pinned_permille(&pin).expect("a figure like 61.2% in proofs/COVERAGE");
    let measured = root.join("../target/coverage/engine-lines.txt");
    let Ok(text) = std::fs::read_to_string(&measured) else {
        println!("no measurement (run proofs/coverage.sh, which needs llvm-tools-preview)");
        return;
    };
    let (covered, total) = figure(&text).expect("engine-lines.txt holds 'covered total'");
    let permille = covered * 1000 / total;
    println!("model/src/engine/: {covered} of {total} lines reached ({permille} per mille), pinned {pinned}");
    assert!(
        permille >= pinned,
        "engine coverage dropped: {covered}/{total} lines = {permille} per mille, pinned {pinned} \
         (proofs/COVERAGE); see target/coverage/engine-unreached.txt"
    );
}

#[test]
fn the_figures_parse() {
    assert_eq!(figure("7 10\n"), Some((7, 10)));
    assert_eq!(figure("11 10"), None);
    assert_eq!(pinned_permille("# comment\n61.2%\n"), Some(612));
}
