"""One client-compatibility case with redis-py, as an application would use it.

Usage: redis_py_client.py PORT MODE CASE
  MODE: default (no options but host and port), 2 (protocol=2) or 3 (protocol=3)
  CASE: basic | pipeline | transaction | script | info

Prints "ok CASE" and exits 0 when every check holds; otherwise prints the traceback (the
server's error text included) and exits 1. Driven by tests/tests/client_compat.rs.
"""

import sys
import traceback

import redis

# The protocol each mode must negotiate; redis-py 8 opens with HELLO 3 by default.
EXPECTED_PROTO = {"default": 3, "2": 2, "3": 3}


def connect(port, mode):
    if mode == "default":
        return redis.Redis(host="127.0.0.1", port=port)
    return redis.Redis(host="127.0.0.1", port=port, protocol=int(mode))


def hello_proto(r):
    """The protocol of this connection as the server reports it (HELLO with no arguments)."""
    reply = r.execute_command("HELLO")
    if isinstance(reply, list):  # RESP2: a flat array of pairs
        reply = dict(zip(reply[0::2], reply[1::2]))
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in reply.items()}["proto"]


def case_basic(r, mode):
    assert r.ping() is True
    assert r.set("py:greeting", "hello") is True
    assert r.get("py:greeting") == b"hello"
    assert r.get("py:missing") is None
    assert r.incr("py:counter", 5) == 5
    assert r.set("py:nx", "1", nx=True) is True
    assert r.set("py:nx", "2", nx=True) is None
    assert r.mget(["py:greeting", "py:missing"]) == [b"hello", None]
    assert r.delete("py:greeting", "py:missing") == 1
    proto = hello_proto(r)
    assert proto == EXPECTED_PROTO[mode], f"negotiated protocol {proto}"


def case_pipeline(r, mode):
    pipe = r.pipeline(transaction=False)
    for i in range(50):
        pipe.set(f"py:pipe:{i}", i)
    for i in range(50):
        pipe.get(f"py:pipe:{i}")
    replies = pipe.execute()
    assert replies[:50] == [True] * 50, replies[:50]
    assert replies[50:] == [str(i).encode() for i in range(50)], replies[50:]


def case_transaction(r, mode):
    pipe = r.pipeline(transaction=True)
    pipe.set("py:tx", 1).incrby("py:tx", 2).get("py:tx")
    assert pipe.execute() == [True, 3, b"3"]
    # Optimistic locking: a WATCHed key changed by another client aborts EXEC.
    other = connect(r.connection_pool.connection_kwargs["port"], mode)
    with r.pipeline() as pipe:
        pipe.watch("py:tx")
        other.set("py:tx", 100)
        pipe.multi()
        pipe.incr("py:tx")
        try:
            pipe.execute()
            raise AssertionError("EXEC after a WATCHed key changed must abort")
        except redis.WatchError:
            pass
    assert r.get("py:tx") == b"100"


SCRIPT = "return {KEYS[1], ARGV[1], redis.call('INCRBY', KEYS[1], ARGV[1])}"


def case_script(r, mode):
    assert r.eval(SCRIPT, 1, "py:lua", 2) == [b"py:lua", b"2", 2]
    sha = r.script_load(SCRIPT)
    assert r.evalsha(sha, 1, "py:lua", 3) == [b"py:lua", b"3", 5]
    # register_script: EVALSHA, and on NOSCRIPT loads the script and retries.
    r.script_flush()
    incr = r.register_script(SCRIPT)
    assert incr(keys=["py:lua"], args=[4]) == [b"py:lua", b"4", 9]
    assert incr(keys=["py:lua"], args=[1]) == [b"py:lua", b"1", 10]
    assert r.get("py:lua") == b"10"


def case_info(r, mode):
    r.set("py:info", "x")
    info = r.info()
    assert isinstance(info["redis_version"], str), info.get("redis_version")
    assert info["redis_mode"] == "standalone", info.get("redis_mode")
    assert isinstance(info["used_memory"], int), info.get("used_memory")
    assert isinstance(info["connected_clients"], int) and info["connected_clients"] >= 1
    keyspace = r.info("keyspace")
    assert keyspace["db0"]["keys"] >= 1, keyspace
    assert isinstance(r.info("persistence")["aof_enabled"], int)


CASES = {
    "basic": case_basic,
    "pipeline": case_pipeline,
    "transaction": case_transaction,
    "script": case_script,
    "info": case_info,
}


def main():
    port, mode, case = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    print(f"redis-py {redis.__version__}, mode {mode}, case {case}", flush=True)
    try:
        r = connect(port, mode)
        r.flushall()  # each case starts empty; cases run one after another
        CASES[case](r, mode)
    except Exception:
        traceback.print_exc(file=sys.stdout)
        return 1
    print(f"ok {case}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
