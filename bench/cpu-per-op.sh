#!/usr/bin/env bash
# Server CPU per request: durakv (and optionally an older durakv build) against Debian's
# redis-server 7.0, each in a fresh directory with identical persistence settings
# (appendonly yes, the given appendfsync, save ""). For each of SET and GET at -c 50 -P 1 and
# -c 50 -P 16 it prints the server process's user+system CPU time over the benchmark divided by
# the requests served (microseconds per request), beside the ops/s seen.
#
# Why beside bench/compare.sh: on a 2-core machine shared with other work, ops/s swing 2x
# between runs minutes apart (the benchmark and the server wait for a core), while the CPU a
# server spends per request barely moves. GETs run on a keyspace filled first.
#
# Usage: bench/cpu-per-op.sh                  (POLICY=everysec N_P1=200000 N_P16=1000000)
#        DURAKV_BEFORE=/tmp/old-durakv-server bench/cpu-per-op.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
POLICY=${POLICY:-everysec}
N_P1=${N_P1:-200000}
N_P16=${N_P16:-1000000}
KEYSPACE=${KEYSPACE:-100000}
BENCH_DIR=${BENCH_DIR:-$ROOT/target/bench}
if [ -z "${DURAKV:-}" ]; then
  cargo build --release --locked -q -p durakv-runtime --bin durakv-server
  DURAKV=$ROOT/target/release/durakv-server
fi
mkdir -p "$BENCH_DIR"
TICKS=$(getconf CLK_TCK)

# shellcheck source=bench/server-lib.sh
. "$ROOT/bench/server-lib.sh"

# measure LABEL BINARY TEST PIPELINE N: prints one table row.
measure() {
  local label=$1 binary=$2 test=$3 pipeline=$4 n=$5 port t0 t1 rps
  start_server_at cpu "$binary" "$POLICY"
  port=$PORT
  if [ "$test" = get ]; then
    redis-benchmark -p "$port" -r "$KEYSPACE" -t set -n $((2 * KEYSPACE)) -c 50 -P 16 -q >/dev/null
  fi
  t0=$(cpu_ticks "$SERVER_PID")
  rps=$(timeout 600 redis-benchmark -p "$port" -r "$KEYSPACE" --csv -t "$test" -n "$n" -c 50 \
    -P "$pipeline" | tr -d '"' | awk -F, 'NR > 1 { print $2 }')
  t1=$(cpu_ticks "$SERVER_PID")
  stop_server_at
  awk -v l="$label" -v t="${test^^} -c 50 -P $pipeline" -v a="$t0" -v b="$t1" -v n="$n" \
    -v k="$TICKS" -v r="$rps" \
    'BEGIN { printf "%-14s %-16s %10.2f %12.0f\n", l, t, (b - a) / k * 1e6 / n, r }'
}

echo "appendfsync $POLICY, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-14s %-16s %10s %12s\n' server test "us/request" "ops/s"
for spec in "set 1 $N_P1" "get 1 $N_P1" "set 16 $N_P16" "get 16 $N_P16"; do
  read -r test pipeline n <<<"$spec"
  if [ -n "${DURAKV_BEFORE:-}" ]; then measure durakv-before "$DURAKV_BEFORE" "$test" "$pipeline" "$n"; fi
  measure durakv "$DURAKV" "$test" "$pipeline" "$n"
  measure redis "$(command -v redis-server)" "$test" "$pipeline" "$n"
done
