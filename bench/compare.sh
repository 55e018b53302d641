#!/usr/bin/env bash
# durakv against Debian's redis-server 7.0, in one run, with identical persistence settings
# (appendonly yes, the same appendfsync, save ""), each server in a fresh directory on the same
# disk, alternating which one goes first per round. Prints ops/s ratios durakv/redis from
# redis-benchmark: SET and GET at -c 50 -P 1 and -c 50 -P 16 under always, everysec and no,
# EVALSHA of a one-SET Lua script at -c 50 -P 1 (the script's write is what is logged),
# and SET at -c 1 under always beside the disk's measured fdatasync rate (the ceiling for one
# client that waits for every fsync).
#
# Usage: bench/compare.sh            (ROUNDS=2 N_P1=100000 N_P16=500000 N_C1=10000 by default;
#        DURAKV=<binary> to measure another build)
#        ROUNDS=3 BENCH_DIR=/mnt/disk/tmp bench/compare.sh
# Numbers are only comparable within one run: ratios, not absolute times, are the result.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
ROUNDS=${ROUNDS:-2}
N_P1=${N_P1:-100000}
N_P16=${N_P16:-500000}
N_C1=${N_C1:-10000}
KEYSPACE=${KEYSPACE:-100000}
BENCH_DIR=${BENCH_DIR:-$ROOT/target/bench}
POLICIES=(always everysec no)

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi; }
if ! command -v redis-server >/dev/null || ! command -v redis-benchmark >/dev/null; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server redis-tools
fi
# DURAKV=<binary> measures another build (e.g. an older commit's) against the same Redis.
if [ -z "${DURAKV:-}" ]; then
  cargo build --release --locked -q -p durakv-runtime --bin durakv-server
  DURAKV=$ROOT/target/release/durakv-server
fi
cargo build --release --locked -q -p durakv-tests --bin fdatasync-rate
PROBE=$ROOT/target/release/fdatasync-rate
mkdir -p "$BENCH_DIR"

# shellcheck source=bench/server-lib.sh
. "$ROOT/bench/server-lib.sh"

# start_server KIND POLICY PORT: a fresh directory, identical persistence settings.
start_server() {
  local kind=$1 policy=$2 port=$3 binary
  SERVER_DIR=$(mktemp -d "$BENCH_DIR/$kind.XXXXXX")
  if [ "$kind" = durakv ]; then binary=$DURAKV; else binary=$(command -v redis-server); fi
  "$binary" --port "$port" --bind 127.0.0.1 --dir "$SERVER_DIR" --appendonly yes \
    --appendfsync "$policy" --save "" >"$SERVER_DIR.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 200); do
    if [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ]; then return 0; fi
    sleep 0.05
  done
  echo "$kind did not start; its log:" >&2
  cat "$SERVER_DIR.log" >&2
  exit 1
}

stop_server() {
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  rm -rf "$SERVER_DIR" "$SERVER_DIR.log"
  SERVER_PID=""
  SERVER_DIR=""
}

# bench PORT ARGS...: prints "TEST RPS" lines from redis-benchmark's CSV output.
bench() {
  local port=$1
  shift
  timeout 600 redis-benchmark -p "$port" -r "$KEYSPACE" --csv "$@" \
    | tr -d '"' | awk -F, '$1 == "SET" || $1 == "GET" { print $1, $2 }'
}

# script_bench PORT: EVALSHA of a script doing one SET, -c 50 -P 1, as "EVALSHA RPS".
SCRIPT="return redis.call('SET', KEYS[1], ARGV[1])"
script_bench() {
  local port=$1 sha
  sha=$(redis-cli -p "$port" script load "$SCRIPT")
  timeout 600 redis-benchmark -p "$port" -r "$KEYSPACE" --csv -n "$N_P1" -c 50 -P 1 \
    evalsha "$sha" 1 "key:__rand_int__" v | tr -d '"' | awk -F, 'NR > 1 { print "EVALSHA", $2 }'
}

declare -A SUM
record() { # record KIND POLICY LABEL: adds "TEST RPS" lines from stdin to the sums
  local kind=$1 policy=$2 label=$3 test rps
  while read -r test rps; do
    local key="$policy|$test $label|$kind"
    echo "  $kind $policy $test $label: $rps ops/s" >&2
    SUM[$key]=$(awk -v a="${SUM[$key]:-0}" -v b="$rps" 'BEGIN { print a + b }')
  done
}

run_one() { # run_one KIND POLICY
  local kind=$1 policy=$2 port
  port=$(free_port)
  start_server "$kind" "$policy" "$port"
  # Process substitution, not a pipe: `record` must run in this shell to keep its sums.
  record "$kind" "$policy" "-c 50 -P 1" < <(bench "$port" -t set,get -n "$N_P1" -c 50 -P 1)
  record "$kind" "$policy" "-c 50 -P 16" < <(bench "$port" -t set,get -n "$N_P16" -c 50 -P 16)
  record "$kind" "$policy" "-c 50 -P 1" < <(script_bench "$port")
  if [ "$policy" = always ]; then
    # The disk's rate right beside the -c 1 run: shared disks drift by 10x within minutes.
    record "$kind" "$policy" "fdatasync probe" < <(echo "SET $("$PROBE" "$BENCH_DIR" 1)")
    record "$kind" "$policy" "-c 1 -P 1" < <(bench "$port" -t set -n "$N_C1" -c 1 -P 1)
  fi
  stop_server
}

for round in $(seq 1 "$ROUNDS"); do
  if [ $((round % 2)) = 1 ]; then order=(durakv redis); else order=(redis durakv); fi
  for policy in "${POLICIES[@]}"; do
    for kind in "${order[@]}"; do
      echo "round $round/$ROUNDS: $kind, appendfsync $policy" >&2
      run_one "$kind" "$policy"
    done
  done
done

echo
echo "durakv $(git rev-parse --short HEAD 2>/dev/null || echo '?') vs $(redis-server --version | cut -d' ' -f1-3)," \
  "$ROUNDS rounds, $(nproc) cores, dir $BENCH_DIR"
echo
printf '%-9s %-18s %14s %14s %9s\n' policy test "durakv ops/s" "redis ops/s" ratio
for policy in "${POLICIES[@]}"; do
  for label in "SET -c 50 -P 1" "GET -c 50 -P 1" "SET -c 50 -P 16" "GET -c 50 -P 16" "EVALSHA -c 50 -P 1" \
    "SET -c 1 -P 1"; do
    d=${SUM["$policy|$label|durakv"]:-}
    r=${SUM["$policy|$label|redis"]:-}
    if [ -z "$d" ] || [ -z "$r" ]; then continue; fi
    awk -v p="$policy" -v l="$label" -v d="$d" -v r="$r" -v n="$ROUNDS" \
      'BEGIN { printf "%-9s %-18s %14.0f %14.0f %9.2f\n", p, l, d / n, r / n, (r > 0 ? d / r : 0) }'
  done
done
echo
echo "SET -c 1 under always beside the disk's fdatasync rate (64-byte append + fdatasync, one"
echo "at a time, measured for 1 s just before each run; one client cannot beat it):"
for kind in durakv redis; do
  awk -v k="$kind" -v d="${SUM["always|SET -c 1 -P 1|$kind"]:-0}" \
    -v f="${SUM["always|SET fdatasync probe|$kind"]:-0}" -v n="$ROUNDS" \
    'BEGIN { printf "  %-7s %8.0f ops/s, disk %8.0f fdatasync/s, ratio %.2f\n", k, d / n, f / n, (f > 0 ? d / f : 0) }'
done
