#!/usr/bin/env bash
# Measures which lines of model/src/engine/ the model checker (the configurations of
# `durakv-check all` but the two largest, and `durakv-check mutants`) and the quickcheck
# suites (proofs/tests/qc_*.rs) reach, with rustc's source-based coverage and the
# llvm-tools of `rustup component add llvm-tools-preview`.
#
#   proofs/coverage.sh            measure; write target/coverage/engine-lines.txt (the figure,
#                                 "covered total") and target/coverage/engine-report.txt (per
#                                 file) and target/coverage/engine-unreached.txt (each line)
#
# proofs/tests/coverage.rs compares the figure with the one pinned in proofs/COVERAGE when
# the measurement exists. Engine unit tests (model/src/engine/*tests.rs) are not run: the
# figure is what the proofs reach, and the test files themselves are not counted.
set -euo pipefail
cd "$(dirname "$0")/.."

sysroot=$(rustc --print sysroot)
bin="$sysroot/lib/rustlib/$(rustc -vV | sed -n 's/^host: //p')/bin"
if [ ! -x "$bin/llvm-profdata" ] || [ ! -x "$bin/llvm-cov" ]; then
  echo "llvm-tools missing: rustup component add llvm-tools-preview" >&2
  exit 2
fi

out=target/coverage
rm -rf "$out/profraw"
mkdir -p "$out/profraw"
export RUSTFLAGS="-C instrument-coverage"
export CARGO_TARGET_DIR="$out/build"
export LLVM_PROFILE_FILE="$PWD/$out/profraw/%p-%m.profraw"

cargo build --release --locked -q -p durakv-proofs --bin durakv-check
check="$CARGO_TARGET_DIR/release/durakv-check"
# Every configuration but the ten of over 400,000 states (16 M of the 18 M states: an
# instrumented run of them takes over half an hour on 2 cores; each has a smaller sibling on
# the same paths), then every mutant (their mutated branches are engine code too).
# DURAKV_COVERAGE_SKIP="" runs them all.
big="everysec everysec-rewrite everysec-two-crashes always-two-crashes always-fail-rotation
  always-fail-rewrite no-fail-shutdown everysec-io-failure always-rewrite-no-preamble
  everysec-flip-two-crashes"
skip=" $(echo ${DURAKV_COVERAGE_SKIP-$big}) "
: >"$out/all.txt"
for name in $("$check" list | sed -n '/^configurations/,/^mutants/p' | awk '/^  / { print $1 }'); do
  case "$skip" in *" $name "*) continue ;; esac
  "$check" check "$name" >>"$out/all.txt" 2>/dev/null
done
"$check" mutants >"$out/mutants.txt" 2>/dev/null
cargo test --release --locked -q -p durakv-proofs --test qc_crash --test qc_engine >"$out/qc.txt" 2>&1

"$bin/llvm-profdata" merge -sparse "$out"/profraw/*.profraw -o "$out/merged.profdata"
objects=("$CARGO_TARGET_DIR/release/durakv-check")
for t in "$CARGO_TARGET_DIR"/release/deps/qc_crash-* "$CARGO_TARGET_DIR"/release/deps/qc_engine-*; do
  [ -x "$t" ] && [ -f "$t" ] && objects+=(-object "$t")
done
engine_files=$(ls model/src/engine/*.rs | grep -v 'tests\.rs$')
# shellcheck disable=SC2086
"$bin/llvm-cov" report "${objects[@]}" -instr-profile="$out/merged.profdata" \
  $engine_files >"$out/engine-report.txt"
# shellcheck disable=SC2086
"$bin/llvm-cov" show "${objects[@]}" -instr-profile="$out/merged.profdata" \
  -show-line-counts -format=text $engine_files >"$out/engine-show.txt"
# Unreached lines: a count of 0 (`|      0|`), per file.
awk '/^\/.*\.rs:$/ { file = $0 } /^ *[0-9]+\| *0\|/ { print file " " $0 }' \
  "$out/engine-show.txt" >"$out/engine-unreached.txt"
total=$(awk '$1 == "TOTAL" { print $8, $9 }' "$out/engine-report.txt")
# llvm-cov report columns: Regions, Missed, Cover, Functions, Missed, Executed, Lines, Missed.
read -r lines missed <<<"$total"
echo "$((lines - missed)) $lines" >"$out/engine-lines.txt"
echo "model/src/engine/ lines reached by durakv-check all + qc suites: $((lines - missed)) of $lines"
