#!/usr/bin/env bash
# Redis's own test suite (Redis 7.0.15's tests/, not part of this repository) in external
# mode, against durakv and against Debian's redis-server 7.0 as the control, each server fresh
# on a free port in its own temporary directory. Prints, per unit and server, the tests that
# passed ([ok]), failed ([err]) and raised ([exception] — which ends the unit), and how many
# of the control's tests the server never reached. Not part of ./test-all.
#
# Two passes per server: `strict` is the suite as released; `durable` runs a scratch copy whose
# external-mode harness tolerates a failing `FUNCTION FLUSH` (it sends one before every unit)
# with `--durable` (an exception fails its own test and the unit goes on), so every test gets
# its own verdict. After the table, each durakv [err]/[exception] line of the durable pass.
#
# Usage: REDIS_SRC=/work/redis-tests bench/redis-suite.sh [unit/protocol unit/scripting ...]
#   REDIS_SRC holds Redis's `runtest` and `tests/` for 7.0.15, e.g. from a clone:
#     git --git-dir=<redis clone>/.git archive 7.0.15 tests runtest | tar -x -C /work/redis-tests
#   DURAKV=<binary> (default target/release/durakv-server, built here), LOGS=<dir> (default
#   target/redis-suite) keeps each run's full output as <server>-<pass>-<unit>.log.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
: "${REDIS_SRC:?set REDIS_SRC to an extracted Redis 7.0.15 source with runtest and tests/}"
[ -x "$REDIS_SRC/runtest" ] || { echo "no runtest in $REDIS_SRC" >&2; exit 2; }
command -v tclsh >/dev/null || { echo "tclsh 8.6 is needed (apt-get install tcl)" >&2; exit 2; }
command -v redis-server >/dev/null || { echo "redis-server is needed" >&2; exit 2; }
UNITS=("$@")
[ ${#UNITS[@]} -gt 0 ] || UNITS=(unit/protocol unit/scripting)
LOGS=${LOGS:-$ROOT/target/redis-suite}
UNIT_TIMEOUT=${UNIT_TIMEOUT:-180}
if [ -z "${DURAKV:-}" ]; then
  cargo build --release --locked -q -p durakv-runtime --bin durakv-server
  DURAKV=$ROOT/target/release/durakv-server
fi
mkdir -p "$LOGS"

PIDS=()
DIRS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  for dir in "${DIRS[@]}"; do rm -rf "$dir"; done
}
trap cleanup EXIT

# A port on 127.0.0.1 the OS just handed out.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start NAME BINARY: a fresh server on a free port; sets PORT.
start() {
  local name=$1 binary=$2 dir
  dir=$(mktemp -d "${TMPDIR:-/tmp}/redis-suite-$name.XXXXXX")
  DIRS+=("$dir")
  PORT=$(free_port)
  # The suite needs DEBUG (Redis refuses it unless enabled); persistence off for both.
  "$binary" --port "$PORT" --bind 127.0.0.1 --dir "$dir" --save "" --appendonly no \
    --enable-debug-command yes >"$LOGS/$name-server.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 200); do
    if [ "$(redis-cli -p "$PORT" ping 2>/dev/null)" = PONG ]; then return 0; fi
    sleep 0.05
  done
  echo "$name did not start; see $LOGS/$name-server.log" >&2
  exit 1
}

# count LOG TAG: the lines the suite printed as [TAG]: (colours stripped).
count() { sed 's/\x1b\[[0-9;]*m//g' "$1" | grep -c "^\[$2\]:" || true; }

start redis "$(command -v redis-server)"
REDIS_PORT=$PORT
start durakv "$DURAKV"
DURAKV_PORT=$PORT

# A scratch copy of the suite whose harness survives a missing FUNCTION FLUSH.
DURABLE_SRC=$(mktemp -d "${TMPDIR:-/tmp}/redis-suite-src.XXXXXX")
DIRS+=("$DURABLE_SRC")
cp -r "$REDIS_SRC/runtest" "$REDIS_SRC/tests" "$DURABLE_SRC/"
sed -i 's/^    r function flush$/    catch {r function flush}/' "$DURABLE_SRC/tests/support/server.tcl"
grep -q 'catch {r function flush}' "$DURABLE_SRC/tests/support/server.tcl" \
  || { echo "could not patch the harness (not 7.0.15?)" >&2; exit 2; }

# run_unit PASS SERVER PORT UNIT: runs one unit, prints its table row; sets LOG.
run_unit() {
  local pass=$1 server=$2 port=$3 unit=$4 src=$REDIS_SRC flags=() ok err exc reached missing
  local rc=0 note=""
  if [ "$pass" = durable ]; then src=$DURABLE_SRC; flags=(--durable); fi
  # BASEPORT moves the harness's own ports, so two runs on one machine do not collide.
  if [ -n "${BASEPORT:-}" ]; then flags+=(--baseport "$BASEPORT"); fi
  LOG=$LOGS/$server-$pass-${unit//\//-}.log
  (cd "$src" && timeout "$UNIT_TIMEOUT" ./runtest --host 127.0.0.1 --port "$port" \
    --single "$unit" --clients 1 "${flags[@]}") >"$LOG" 2>&1 || rc=$?
  [ "$rc" != 124 ] || note=" (killed after ${UNIT_TIMEOUT}s)"
  ok=$(count "$LOG" ok)
  err=$(count "$LOG" err)
  exc=$(count "$LOG" exception)
  reached=$((ok + err + exc))
  [ "$server" = durakv ] || CONTROL_TOTAL=$reached
  missing=$((CONTROL_TOTAL > reached ? CONTROL_TOTAL - reached : 0))
  printf '| %s | %s | %s | %d | %d | %d | %d%s | %d |\n' \
    "$unit" "$pass" "$server" "$ok" "$err" "$exc" "$missing" "$note" "$CONTROL_TOTAL"
}

printf '| unit | pass | server | passed | failed | exceptions | not reached | total |\n'
printf '|---|---|---|---|---|---|---|---|\n'
DURAKV_LOGS=()
for unit in "${UNITS[@]}"; do
  for pass in strict durable; do
    run_unit "$pass" redis "$REDIS_PORT" "$unit"
    run_unit "$pass" durakv "$DURAKV_PORT" "$unit"
    [ "$pass" = strict ] || DURAKV_LOGS+=("$LOG")
  done
done
# Each durakv failure of the durable pass with its first line of detail (up to 30 per unit).
for log in "${DURAKV_LOGS[@]}"; do
  echo
  echo "durakv failures in $(basename "$log" .log) (first 30):"
  sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -A1 -E '^\[(err|exception)\]:' | grep -v '^--$' \
    | head -60 | cut -c1-160 || true
done
echo
echo "logs: $LOGS/<server>-<pass>-<unit>.log"
