#!/usr/bin/env python3
# Replication costs of durakv against Debian's redis-server 7.0, in one run, on the same disk.
# The replica is always a real redis-server 7.0; the master is durakv or redis-server.
#
#   full sync: the master holds KEYS keys x VSIZE B (DEBUG POPULATE), a replica starts with
#     --replicaof, and the time until it reports master_link_status:up holding every key is
#     measured, with the PING latency one client sees on the master meanwhile (ping-probe from
#     tests/src/bin: one PING at a time over one connection that stays open; p99.9 and max).
#     Both masters use Redis 7.0's default diskless sync with the delay set to 0.
#   SET throughput: redis-benchmark SET (-c 50, -P 1 and -P 16, 100 B values, 100k random keys)
#     against a master under appendonly yes / appendfsync everysec, with one replica attached
#     and with none.
#
# Rounds alternate durakv, redis (ROUNDS, default 2); prints each measurement and then a table
# of medians with the ratio durakv/redis. Not part of ./test-all; numbers are comparable only
# within one run on a quiet machine.
#
# Usage: bench/replication.py            (KEYS=2000000 VSIZE=100 ROUNDS=2 REQUESTS=1000000)
import os, shutil, signal, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KEYS = int(os.environ.get("KEYS", "2000000"))
VSIZE = int(os.environ.get("VSIZE", "100"))
ROUNDS = int(os.environ.get("ROUNDS", "2"))
REQUESTS = int(os.environ.get("REQUESTS", "1000000"))
BENCH_DIR = os.environ.get("BENCH_DIR", os.path.join(ROOT, "target", "bench"))
DURAKV = os.path.join(ROOT, "target", "release", "durakv-server")
PROBE = os.path.join(ROOT, "target", "release", "ping-probe")
PROCS = []


def cli(port, *args):
    out = subprocess.run(["redis-cli", "-p", str(port), *args], capture_output=True, text=True)
    return out.stdout.strip()


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn(binary, port, directory, *args):
    log = open(directory + ".log", "w")
    p = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", directory,
                          *args], stdout=log, stderr=log)
    PROCS.append(p)
    deadline = time.time() + 30
    while cli(port, "ping") != "PONG":
        if p.poll() is not None or time.time() > deadline:
            sys.exit(f"{binary} on {port} did not start: see {directory}.log")
        time.sleep(0.01)
    return p


def stop(p):
    p.send_signal(signal.SIGKILL)
    p.wait()


def master(kind, directory, *args):
    binary = DURAKV if kind == "durakv" else "redis-server"
    port = free_port()
    p = spawn(binary, port, directory, "--enable-debug-command", "yes",
              "--repl-diskless-sync-delay", "0", *args)
    return p, port


def replica_of(mport, directory):
    port = free_port()
    p = spawn("redis-server", port, directory, "--save", "", "--appendonly", "no",
              "--replicaof", "127.0.0.1", str(mport))
    return p, port


def wait_synced(rport, keys):
    deadline = time.time() + 600
    while time.time() < deadline:
        if "master_link_status:up" in cli(rport, "info", "replication") and \
                cli(rport, "dbsize") == str(keys):
            return
        time.sleep(0.01)
    sys.exit("replica did not sync within 600 s")


def full_sync(kind, base):
    m, mport = master(kind, base + "/m", "--save", "", "--appendonly", "no")
    cli(mport, "debug", "populate", str(KEYS), "key", str(VSIZE))
    assert cli(mport, "dbsize") == str(KEYS)
    stopfile = base + "/probe.stop"
    probe = subprocess.Popen([PROBE, str(mport), stopfile], stdout=subprocess.PIPE, text=True)
    time.sleep(0.3)
    t0 = time.time()
    r, rport = replica_of(mport, base + "/r")
    wait_synced(rport, KEYS)
    seconds = time.time() - t0
    open(stopfile, "w").close()
    _count, _p50, _p99, p999, worst = probe.communicate()[0].split()
    stop(r)
    stop(m)
    return seconds, float(p999), float(worst)


def set_ops(port, pipeline):
    out = subprocess.run(["redis-benchmark", "-p", str(port), "-t", "set", "-c", "50", "-P",
                          str(pipeline), "-n", str(REQUESTS), "-r", "100000", "-d", str(VSIZE),
                          "-q"], capture_output=True, text=True).stdout
    # "SET: 123456.79 requests per second, p50=..." (the last \r-separated update)
    line = out.replace("\r", "\n").strip().splitlines()[-1]
    return float(line.split(":")[1].split()[0])


def throughput(kind, base, with_replica):
    tag = "r1" if with_replica else "r0"
    m, mport = master(kind, f"{base}/tm{tag}", "--save", "", "--appendonly", "yes",
                      "--appendfsync", "everysec")
    r = None
    if with_replica:
        r, rport = replica_of(mport, f"{base}/tr{tag}")
        wait_synced(rport, 0)
    result = {p: set_ops(mport, p) for p in (1, 16)}
    if r:
        stop(r)
    stop(m)
    return result


def one_round(kind, results):
    base = tempfile.mkdtemp(prefix=kind + ".", dir=BENCH_DIR)
    for sub in ("m", "r", "tmr0", "tmr1", "trr1"):
        os.makedirs(os.path.join(base, sub))
    seconds, p999, worst = full_sync(kind, base)
    print(f"{kind}: full sync of {KEYS} keys x {VSIZE} B to a redis replica {seconds:.2f} s; "
          f"PING on the master meanwhile p99.9 {p999:.2f} ms, max {worst:.2f} ms", flush=True)
    results.setdefault((kind, "sync_s"), []).append(seconds)
    results.setdefault((kind, "sync_p999_ms"), []).append(p999)
    results.setdefault((kind, "sync_max_ms"), []).append(worst)
    for with_replica in (False, True):
        ops = throughput(kind, base, with_replica)
        tag = "with replica" if with_replica else "no replica"
        for p, v in ops.items():
            print(f"{kind}: SET -c 50 -P {p} everysec, {tag}: {v:.0f} ops/s", flush=True)
            results.setdefault((kind, f"set_P{p}_{'r1' if with_replica else 'r0'}"), []).append(v)
    shutil.rmtree(base, ignore_errors=True)


def main():
    subprocess.run(["cargo", "build", "--release", "--locked", "-q", "-p", "durakv-runtime",
                    "--bin", "durakv-server"], cwd=ROOT, check=True)
    subprocess.run(["cargo", "build", "--release", "--locked", "-q", "-p", "durakv-tests",
                    "--bin", "ping-probe"], cwd=ROOT, check=True)
    os.makedirs(BENCH_DIR, exist_ok=True)
    results = {}
    try:
        for _ in range(ROUNDS):
            for kind in ("durakv", "redis"):
                one_round(kind, results)
    finally:
        for p in PROCS:
            if p.poll() is None:
                stop(p)
    rows = [("full sync time (s)", "sync_s"), ("PING p99.9 during sync (ms)", "sync_p999_ms"),
            ("PING max during sync (ms)", "sync_max_ms"),
            ("SET -P 1, no replica (ops/s)", "set_P1_r0"), ("SET -P 1, one replica (ops/s)", "set_P1_r1"),
            ("SET -P 16, no replica (ops/s)", "set_P16_r0"),
            ("SET -P 16, one replica (ops/s)", "set_P16_r1")]
    print(f"\n| median of {ROUNDS} | durakv | redis | durakv/redis |\n|---|---|---|---|")
    for label, key in rows:
        d = statistics.median(results[("durakv", key)])
        r = statistics.median(results[("redis", key)])
        print(f"| {label} | {d:.2f} | {r:.2f} | {d / r:.2f}× |")
    for kind in ("durakv", "redis"):
        for p in (1, 16):
            kept = statistics.median(results[(kind, f"set_P{p}_r1")]) / \
                statistics.median(results[(kind, f"set_P{p}_r0")])
            print(f"{kind}: SET -P {p} with a replica keeps {kept:.2f} of its throughput")


if __name__ == "__main__":
    main()
