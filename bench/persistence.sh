#!/usr/bin/env bash
# Persistence costs of durakv against Debian's redis-server 7.0, in one run, each server in a
# fresh directory under BENCH_DIR (the same disk), on the same data: KEYS keys of VSIZE-byte
# values filled with `DEBUG POPULATE KEYS key VSIZE` (both get --enable-debug-command yes).
#
# Measured per server:
#   SAVE time; BGSAVE time (BGSAVE until INFO says done); dump.rdb size; load time at restart
#   (spawn until PING answers PONG); BGREWRITEAOF time and AOF directory size (appendonly yes,
#   aof-use-rdb-preamble yes, the default); the PING latency one client sees during BGSAVE and
#   during BGREWRITEAOF, p99.9 and max (a probe, `ping-probe` from tests/src/bin: one PING at a
#   time over one connection that stays open for as long as the job runs, so no stall hides
#   between reconnections; the same probe idle for reference); peak memory
#   during a BGSAVE while a client (`redis-cli --pipe`) overwrites every key: the sum over the
#   server and its children (Redis's fork) of VmRSS, and of Pss (smaps_rollup, which does not
#   count copy-on-write pages shared by parent and child twice), sampled every ~10 ms.
# Prints a table with the ratio durakv/redis (lower is better for every row).
#
# Usage: bench/persistence.sh                   (KEYS=2000000 VSIZE=100)
#        KEYS=1000000 BENCH_DIR=/mnt/disk/tmp bench/persistence.sh
# Not run by the tests. Numbers are only comparable within one run.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
KEYS=${KEYS:-2000000}
VSIZE=${VSIZE:-100}
BENCH_DIR=${BENCH_DIR:-$ROOT/target/bench}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi; }
if ! command -v redis-server >/dev/null || ! command -v redis-benchmark >/dev/null; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server redis-tools
fi
cargo build --release --locked -q -p durakv-runtime --bin durakv-server
cargo build --release --locked -q -p durakv-tests --bin ping-probe
PROBE=$ROOT/target/release/ping-probe
DURAKV=$ROOT/target/release/durakv-server
REDIS=$(command -v redis-server)
mkdir -p "$BENCH_DIR"

SERVER_PID=""
PORT=""
DIRS=()
BG_PIDS=()
cleanup() {
  if [ -n "${PROBE_OUT:-}" ]; then touch "$PROBE_OUT.stop"; fi
  for pid in "${BG_PIDS[@]}"; do
    pkill -P "$pid" 2>/dev/null || true
    kill "$pid" 2>/dev/null || true
  done
  if [ -n "$SERVER_PID" ]; then kill -9 "$SERVER_PID" 2>/dev/null || true; fi
  for d in "${DIRS[@]}"; do rm -rf "$d" "$d.log"; done
}
trap cleanup EXIT

now_ms() { echo $(($(date +%s%N) / 1000000)); }

free_port() {
  local port
  while :; do
    port=$((20000 + RANDOM % 20000))
    if ! redis-cli -p "$port" ping >/dev/null 2>&1; then echo "$port"; return; fi
  done
}

cli() { redis-cli -p "$PORT" "$@"; }

# info FIELD: the value of one INFO persistence field.
info() { cli info persistence | tr -d '\r' | sed -n "s/^$1://p"; }

# start_server KIND DIR ARGS...: starts and waits for PONG; sets LOAD_MS (spawn to ready).
start_server() {
  local kind=$1 dir=$2 binary extra=() t0
  shift 2
  if [ "$kind" = durakv ]; then binary=$DURAKV; else binary=$REDIS; fi
  extra=(--enable-debug-command yes)
  PORT=$(free_port)
  t0=$(now_ms)
  "$binary" --port "$PORT" --bind 127.0.0.1 --dir "$dir" "${extra[@]}" "$@" >>"$dir.log" 2>&1 &
  SERVER_PID=$!
  while [ "$(cli ping 2>/dev/null)" != PONG ]; do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      echo "$kind exited before ready:" >&2; tail -20 "$dir.log" >&2; exit 1
    fi
    sleep 0.005
  done
  LOAD_MS=$(($(now_ms) - t0))
}

stop_server() {
  cli shutdown nosave >/dev/null 2>&1 || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}

# The latency probe: PING over one open connection until the stop file exists.
probe_start() {
  PROBE_OUT=$(mktemp "$BENCH_DIR/probe.XXXXXX")
  rm -f "$PROBE_OUT.stop"
  "$PROBE" "$PORT" "$PROBE_OUT.stop" >"$PROBE_OUT" &
  PROBE_PID=$!
  BG_PIDS+=("$PROBE_PID")
}

# Sets P999 and STALL to the probe's p99.9 and max latency (ms). Not to be called in a subshell.
probe_stop() {
  touch "$PROBE_OUT.stop"
  wait "$PROBE_PID" 2>/dev/null || true
  read -r _count _p50 _p99 P999 STALL <"$PROBE_OUT"
  rm -f "$PROBE_OUT" "$PROBE_OUT.stop"
  PROBE_OUT=""
}

# wait_bgsave SAVES_BEFORE: until no BGSAVE runs and rdb_saves moved on.
wait_bgsave() {
  while [ "$(info rdb_bgsave_in_progress)" != 0 ] || [ "$(info rdb_saves)" -le "$1" ]; do sleep 0.005; done
  [ "$(info rdb_last_bgsave_status)" = ok ] || { echo "BGSAVE failed" >&2; exit 1; }
}

# Memory (kB) of the server and its children: "rss pss".
memory_kb() {
  local rss=0 pss=0 pid v
  for pid in "$SERVER_PID" $(pgrep -P "$SERVER_PID" 2>/dev/null || true); do
    v=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || echo 0)
    rss=$((rss + ${v:-0}))
    v=$(awk '/^Pss:/ { print $2 }' "/proc/$pid/smaps_rollup" 2>/dev/null || echo 0)
    pss=$((pss + ${v:-0}))
  done
  echo "$rss $pss"
}

# RESP SET commands overwriting every populated key with a new VSIZE-byte value.
overwrite_stream() {
  awk -v n="$KEYS" -v size="$VSIZE" 'BEGIN {
    v = ""; for (i = 0; i < size; i++) v = v "w";
    for (i = 0; i < n; i++) {
      k = "key:" i;
      printf "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", length(k), k, size, v;
    }
  }'
}

declare -A R

run_kind() {
  local kind=$1 dir t0 saves rw n peak_rss peak_pss mem rss pss pipe_pid
  echo "== $kind: $KEYS keys of $VSIZE bytes" >&2

  # RDB: populate, SAVE, BGSAVE (with probe), load time.
  dir=$(mktemp -d "$BENCH_DIR/$kind.rdb.XXXXXX"); DIRS+=("$dir")
  start_server "$kind" "$dir" --appendonly no --save ""
  probe_start; sleep 1; probe_stop; R[$kind,idle_stall]=$STALL; R[$kind,idle_p999]=$P999
  t0=$(now_ms); cli debug populate "$KEYS" key "$VSIZE" >/dev/null; R[$kind,populate]=$(($(now_ms) - t0))
  t0=$(now_ms); cli save >/dev/null; R[$kind,save]=$(($(now_ms) - t0))
  R[$kind,rdb_size]=$(stat -c %s "$dir/dump.rdb")
  saves=$(info rdb_saves)
  probe_start; sleep 0.3
  t0=$(now_ms); cli bgsave >/dev/null; wait_bgsave "$saves"; R[$kind,bgsave]=$(($(now_ms) - t0))
  probe_stop; R[$kind,bgsave_stall]=$STALL; R[$kind,bgsave_p999]=$P999
  stop_server
  start_server "$kind" "$dir" --appendonly no --save ""; R[$kind,load]=$LOAD_MS
  n=$(cli dbsize)
  [ "$n" = "$KEYS" ] || { echo "$kind loaded $n keys, expected $KEYS" >&2; exit 1; }

  # Peak memory during a BGSAVE while a client overwrites every key.
  mem=$(memory_kb); R[$kind,base_rss]=${mem% *}
  overwrite_stream | redis-cli -p "$PORT" --pipe >/dev/null 2>&1 &
  pipe_pid=$!; BG_PIDS+=("$pipe_pid")
  sleep 0.2
  saves=$(info rdb_saves)
  peak_rss=0; peak_pss=0
  cli bgsave >/dev/null
  while :; do
    mem=$(memory_kb); rss=${mem% *}; pss=${mem#* }
    [ "$rss" -gt "$peak_rss" ] && peak_rss=$rss
    [ "$pss" -gt "$peak_pss" ] && peak_pss=$pss
    if [ "$(info rdb_bgsave_in_progress)" = 0 ] && [ "$(info rdb_saves)" -gt "$saves" ]; then break; fi
    sleep 0.01
  done
  R[$kind,peak_rss]=$peak_rss; R[$kind,peak_pss]=$peak_pss
  R[$kind,hwm]=$(awk '/^VmHWM:/ { print $2 }' "/proc/$SERVER_PID/status")
  wait "$pipe_pid" || true
  stop_server

  # AOF: populate (not logged), BGREWRITEAOF (with probe), resulting AOF size.
  dir=$(mktemp -d "$BENCH_DIR/$kind.aof.XXXXXX"); DIRS+=("$dir")
  start_server "$kind" "$dir" --appendonly yes --appendfsync everysec --save ""
  cli debug populate "$KEYS" key "$VSIZE" >/dev/null
  rw=$(info aof_rewrites)
  probe_start; sleep 0.3
  t0=$(now_ms); cli bgrewriteaof >/dev/null
  while [ "$(info aof_rewrite_in_progress)" != 0 ] || [ "$(info aof_rewrite_scheduled)" != 0 ] ||
    [ "$(info aof_rewrites)" -le "$rw" ]; do sleep 0.005; done
  R[$kind,rewrite]=$(($(now_ms) - t0))
  probe_stop; R[$kind,rewrite_stall]=$STALL; R[$kind,rewrite_p999]=$P999
  [ "$(info aof_last_bgrewrite_status)" = ok ] || { echo "$kind: rewrite failed" >&2; exit 1; }
  R[$kind,aof_size]=$(du -sb "$dir/appendonlydir" | cut -f1)
  stop_server
}

run_kind durakv
run_kind redis

row() {
  local label=$1 key=$2 d=${R[durakv,$2]} r=${R[redis,$2]}
  awk -v l="$label" -v d="$d" -v r="$r" 'BEGIN {
    ratio = (r + 0 > 0) ? sprintf("%.2f", d / r) : "-";
    printf "| %-48s | %12s | %12s | %6s |\n", l, d, r, ratio }'
}
echo
echo "durakv vs redis-server $("$REDIS" --version | sed -n 's/.*v=\([^ ]*\).*/\1/p'), $KEYS keys x $VSIZE bytes, dir $BENCH_DIR"
echo
printf "| %-48s | %12s | %12s | %6s |\n" metric durakv redis ratio
printf "|%s|%s|%s|%s|\n" "--------------------------------------------------" "--------------" "--------------" "--------"
row "DEBUG POPULATE (ms)" populate
row "SAVE (ms)" save
row "BGSAVE (ms)" bgsave
row "dump.rdb size (bytes)" rdb_size
row "load at restart, spawn to PONG (ms)" load
row "BGREWRITEAOF (ms)" rewrite
row "AOF dir size after rewrite (bytes)" aof_size
row "PING p99.9 idle, one connection (ms)" idle_p999
row "PING max idle, one connection (ms)" idle_stall
row "PING p99.9 during BGSAVE (ms)" bgsave_p999
row "PING max during BGSAVE (ms)" bgsave_stall
row "PING p99.9 during BGREWRITEAOF (ms)" rewrite_p999
row "PING max during BGREWRITEAOF (ms)" rewrite_stall
row "RSS before overwrite+BGSAVE (kB)" base_rss
row "peak RSS server+children, overwrite+BGSAVE (kB)" peak_rss
row "peak Pss server+children, overwrite+BGSAVE (kB)" peak_pss
row "VmHWM of the server process (kB)" hwm
