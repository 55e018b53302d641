#!/usr/bin/env bash
# The collection commands of issue 13 against Debian's redis-server 7.0, in one run, with the
# same settings (appendonly yes, appendfsync POLICY, save ""), each server in a fresh directory,
# alternating which one goes first per round: redis-benchmark's LPUSH, LPOP, HSET, SADD, ZADD
# (`-t lpush,lpop,hset,sadd,zadd`, random members over KEYSPACE) and ZRANGE of the first 100
# members of a 100-member sorted set, at -c 50 -P 16. Prints ops/s per server and the ratio
# durakv/redis (higher is better), the mean over ROUNDS.
#
# Usage: bench/types.sh            (ROUNDS=2 N=500000 POLICY=everysec by default;
#        DURAKV=<binary> to measure another build)
# Numbers are only comparable within one run: ratios, not absolute rates, are the result.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
ROUNDS=${ROUNDS:-2}
N=${N:-500000}
KEYSPACE=${KEYSPACE:-100000}
POLICY=${POLICY:-everysec}
BENCH_DIR=${BENCH_DIR:-$ROOT/target/bench}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi; }
if ! command -v redis-server >/dev/null || ! command -v redis-benchmark >/dev/null; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server redis-tools
fi
if [ -z "${DURAKV:-}" ]; then
  cargo build --release --locked -q -p durakv-runtime --bin durakv-server
  DURAKV=$ROOT/target/release/durakv-server
fi
mkdir -p "$BENCH_DIR"

# shellcheck source=bench/server-lib.sh
. "$ROOT/bench/server-lib.sh"

TESTS=(lpush lpop hset sadd zadd zrange)
declare -A SUM

# rate TEST: requests per second of one redis-benchmark run against $PORT.
rate() {
  local common=(-p "$PORT" -c 50 -P 16 -n "$N" -r "$KEYSPACE" --csv -q)
  case $1 in
    zrange)
      redis-cli -p "$PORT" del zr >/dev/null
      for i in $(seq 1 100); do echo "ZADD zr $i m$i"; done | redis-cli -p "$PORT" >/dev/null
      redis-benchmark "${common[@]}" ZRANGE zr 0 99 ;;
    *) redis-benchmark "${common[@]}" -t "$1" ;;
  esac | tail -1 | tr -d '"' | cut -d, -f2
}

measure() {
  local tag=$1 binary=$2 t r
  start_server_at "$tag" "$binary" "$POLICY"
  for t in "${TESTS[@]}"; do
    r=$(rate "$t")
    SUM[$tag,$t]=$(awk -v a="${SUM[$tag,$t]:-0}" -v b="$r" 'BEGIN { print a + b }')
  done
  stop_server_at
}

for round in $(seq 1 "$ROUNDS"); do
  if [ $((round % 2)) = 1 ]; then
    measure durakv "$DURAKV"; measure redis "$(command -v redis-server)"
  else
    measure redis "$(command -v redis-server)"; measure durakv "$DURAKV"
  fi
done

echo
echo "durakv vs redis-server, -c 50 -P 16, appendfsync $POLICY, $ROUNDS round(s) of $N requests, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo
printf "| %-8s | %12s | %12s | %6s |\n" test "durakv op/s" "redis op/s" ratio
printf "|%s|%s|%s|%s|\n" "----------" "--------------" "--------------" "--------"
for t in "${TESTS[@]}"; do
  awk -v t="$t" -v d="${SUM[durakv,$t]}" -v r="${SUM[redis,$t]}" -v n="$ROUNDS" 'BEGIN {
    printf "| %-8s | %12.0f | %12.0f | %6.2f |\n", t, d / n, r / n, (r > 0 ? d / r : 0) }'
done
