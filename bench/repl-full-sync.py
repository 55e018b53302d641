#!/usr/bin/env python3
# Full synchronisation of a real redis-server 7.0 replica from durakv vs from redis-server:
# each master gets N keys x 100 B (DEBUG POPULATE), a replica starts with --replicaof, and the
# time until it reports master_link_status:up holding all N keys is printed, with the longest
# PING round trip a client saw on the master meanwhile (the master's stall). Runs durakv,
# redis, durakv, redis. Not part of ./test-all.
#
# Usage: bench/repl-full-sync.py [keys]   (default 1000000; DURAKV=<binary>, default
#        target/release/durakv-server; ports 17201/17202 must be free)
import socket, subprocess, time, sys, os, shutil, threading
def cli(port, *args):
    return subprocess.run(["redis-cli","-p",str(port),*args],capture_output=True,text=True).stdout.strip()
def run(kind, mport, rport, keys):
    d=f"/tmp/repl-full-sync/{kind}"; shutil.rmtree(d,ignore_errors=True); os.makedirs(d+"/m"); os.makedirs(d+"/r")
    binary = os.environ.get("DURAKV", "target/release/durakv-server") if kind=="durakv" else "redis-server"
    m=subprocess.Popen([binary,"--port",str(mport),"--dir",d+"/m","--save","","--appendonly","no","--repl-diskless-sync-delay","0"]+([] if kind=="durakv" else ["--enable-debug-command","yes"]),stdout=subprocess.DEVNULL,stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    while cli(mport,"ping")!="PONG": time.sleep(0.1)
    cli(mport,"debug","populate",str(keys),"key","100")
    assert int(cli(mport,"dbsize"))==keys
    stop=[False]; worst=[0.0]
    def pinger():
        s=socket.create_connection(("127.0.0.1",mport))
        while not stop[0]:
            t=time.perf_counter(); s.sendall(b"PING\r\n"); s.recv(100); dt=time.perf_counter()-t
            worst[0]=max(worst[0],dt); time.sleep(0.001)
    th=threading.Thread(target=pinger); th.start()
    t0=time.time()
    r=subprocess.Popen(["redis-server","--port",str(rport),"--dir",d+"/r","--save","","--appendonly","no","--replicaof","127.0.0.1",str(mport)],stdout=subprocess.DEVNULL,stderr=subprocess.DEVNULL)
    while True:
        info=cli(rport,"info","replication")
        if "master_link_status:up" in info and cli(rport,"dbsize")==str(keys): break
        time.sleep(0.02)
    dt=time.time()-t0
    stop[0]=True; th.join()
    print(f"{kind}: {keys} keys x 100 B full sync to a redis replica: {dt:.2f} s; longest PING on the master meanwhile {worst[0]*1000:.1f} ms", flush=True)
    r.kill(); m.kill(); r.wait(); m.wait()
keys=int(sys.argv[1]) if len(sys.argv) > 1 else 1000000
for kind in ["durakv","redis","durakv","redis"]:
    run(kind, 17201, 17202, keys)
