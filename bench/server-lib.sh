# Shared by the benchmark scripts (sourced, not run): one server at a time in a fresh
# directory, found on a free port, killed and removed on exit; and a process's CPU time.
# Expects BENCH_DIR. Sets PORT, SERVER_PID, SERVER_DIR.

SERVER_PID=""
SERVER_DIR=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill -9 "$SERVER_PID" 2>/dev/null || true; fi
  if [ -n "$SERVER_DIR" ]; then rm -rf "$SERVER_DIR" "$SERVER_DIR.log"; fi
}
trap cleanup EXIT

# A port on 127.0.0.1 nothing answers on.
free_port() {
  local port
  while :; do
    port=$((20000 + RANDOM % 20000))
    if ! redis-cli -p "$port" ping >/dev/null 2>&1; then echo "$port"; return; fi
  done
}

# User+system CPU ticks of process PID.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# start_server_at TAG BINARY POLICY: appendonly yes with POLICY, no save points; waits for PONG.
start_server_at() {
  local tag=$1 binary=$2 policy=$3
  PORT=$(free_port)
  SERVER_DIR=$(mktemp -d "$BENCH_DIR/$tag.XXXXXX")
  "$binary" --port "$PORT" --bind 127.0.0.1 --dir "$SERVER_DIR" --appendonly yes \
    --appendfsync "$policy" --save "" >"$SERVER_DIR.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 200); do
    if [ "$(redis-cli -p "$PORT" ping 2>/dev/null)" = PONG ]; then return; fi
    sleep 0.05
  done
}

# Stops the server and removes its directory.
stop_server_at() {
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  rm -rf "$SERVER_DIR" "$SERVER_DIR.log"
  SERVER_PID=""
  SERVER_DIR=""
}
