#!/usr/bin/env bash
# EVALSHA of a one-SET script (`return redis.call('SET', KEYS[1], ARGV[1])`) at -c 50 -P 1,
# durakv against Debian's redis-server 7.0 in one run, same persistence settings (appendonly
# yes, POLICY, save ""), ROUNDS times alternating. Prints ops/s and the server's user+system
# CPU per request (microseconds; stable on a loaded machine where ops/s are not).
#
# Usage: bench/evalsha.sh      (POLICY=everysec N=200000 ROUNDS=2)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
POLICY=${POLICY:-everysec}
N=${N:-200000}
ROUNDS=${ROUNDS:-2}
BENCH_DIR=${BENCH_DIR:-$ROOT/target/bench}
if [ -z "${DURAKV:-}" ]; then
  cargo build --release --locked -q -p durakv-runtime --bin durakv-server
  DURAKV=$ROOT/target/release/durakv-server
fi
mkdir -p "$BENCH_DIR"
TICKS=$(getconf CLK_TCK)
SCRIPT="return redis.call('SET', KEYS[1], ARGV[1])"
# shellcheck source=bench/server-lib.sh
. "$ROOT/bench/server-lib.sh"

# measure LABEL BINARY: prints one table row.
measure() {
  local label=$1 binary=$2 port sha t0 t1 rps
  start_server_at evalsha "$binary" "$POLICY"
  port=$PORT
  sha=$(redis-cli -p "$port" script load "$SCRIPT")
  t0=$(cpu_ticks "$SERVER_PID")
  rps=$(redis-benchmark -p "$port" -c 50 -P 1 -n "$N" -r 100000 -q \
    evalsha "$sha" 1 "key:__rand_int__" value | tr '\r' '\n' | sed -nE 's/.*: ([0-9.]+) requests per second.*/\1/p' | tail -1)
  t1=$(cpu_ticks "$SERVER_PID")
  awk -v l="$label" -v r="$rps" -v d=$((t1 - t0)) -v t="$TICKS" -v n="$N" \
    'BEGIN { printf "| %s | %.0f | %.2f |\n", l, r, d / t * 1e6 / n }'
  stop_server_at
}

echo "EVALSHA one-SET script, -c 50 -P 1, appendfsync $POLICY, n=$N"
echo "| server | ops/s | server CPU µs/request |"
echo "|---|---|---|"
for round in $(seq 1 "$ROUNDS"); do
  measure "durakv (round $round)" "$DURAKV"
  measure "redis (round $round)" "$(command -v redis-server)"
done
