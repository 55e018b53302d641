//! Kill the server at each step of an AOF rewrite (issue 5): the test-only hook
//! `DURAKV_TEST_ABORT_BEFORE=<step>#<n>` makes the file worker abort the process — like kill -9,
//! nothing flushed or cleaned — just before the n-th effect matching <step>. For every step of
//! BGREWRITEAOF (the switch to a new incr file, the base written, fsynced and renamed in, the
//! manifest naming it, the deletes, the manifest without history), a client writes under
//! `appendfsync always` before and while the rewrite runs; after the abort the server restarts
//! without the hook, every acknowledged write must be there, and a new rewrite must complete.
//!
//! A step that never happens would leave the server running: the test requires the process to
//! die by the hook (SIGABRT), so a wrong step name fails instead of passing vacuously.

use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant};

use durakv_tests::client::{bulk, info_field};
use durakv_tests::{RespClient, ServerProcess};
use model::resp::Frame;

/// The rewrite's effects on a fresh directory, as `Op::describe` names them, with which
/// occurrence is the rewrite's (start-up persisted the first manifest).
const STEPS: &[&str] = &[
    "create appendonlydir/appendonly.aof.2.incr.aof#1",
    "rename appendonlydir/temp-appendonly.aof.manifest -> appendonlydir/appendonly.aof.manifest#2",
    "fsync directory appendonlydir#2",
    "to temp-rewriteaof-bg-2.aof#1",
    "fsync temp-rewriteaof-bg-2.aof#1",
    "rename temp-rewriteaof-bg-2.aof#1",
    "rename appendonlydir/temp-appendonly.aof.manifest -> appendonlydir/appendonly.aof.manifest#3",
    "fsync directory appendonlydir#3",
    "delete appendonlydir/appendonly.aof.1.base.rdb#1",
    "delete appendonlydir/appendonly.aof.1.incr.aof#1",
    "rename appendonlydir/temp-appendonly.aof.manifest -> appendonlydir/appendonly.aof.manifest#4",
    "fsync directory appendonlydir#4",
];

const ARGS: &[&str] = &[
    "--appendonly",
    "yes",
    "--appendfsync",
    "always",
    "--save",
    "",
];

/// SETs k{i} = i from `from` until the connection breaks or `until`; returns the first index
/// not acknowledged.
fn write(con: &mut RespClient, from: u64, until: u64) -> u64 {
    for i in from..until {
        let key = format!("k{i}");
        match con.call(&[b"SET", key.as_bytes(), i.to_string().as_bytes()]) {
            Ok(Frame::Simple(ok)) if ok == "OK" => {}
            Ok(other) => panic!("SET {key}: {other:?}"),
            Err(_) => return i,
        }
    }
    until
}

fn rewrite_completes(con: &mut RespClient) {
    con.call_str(&["BGREWRITEAOF"]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while info_field(con, "aof_rewrite_in_progress") != "0" {
        assert!(Instant::now() < deadline, "rewrite did not finish");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(info_field(con, "aof_last_bgrewrite_status"), "ok");
}

fn abort_at(step: &str) {
    let dir = tempfile::tempdir().unwrap();
    // The hook is read from the environment when the server starts; only this test sets it.
    std::env::set_var("DURAKV_TEST_ABORT_BEFORE", step);
    let mut server = ServerProcess::start(dir.path(), ARGS);
    std::env::remove_var("DURAKV_TEST_ABORT_BEFORE");
    let mut con = server.client();
    let mut acked = write(&mut con, 0, 200);
    let _ = con.send(&[b"BGREWRITEAOF"]);
    let _ = con.read();
    acked = write(&mut con, acked, 100_000);
    let status = server.wait_exit();
    assert_eq!(
        status.signal(),
        Some(6),
        "{step}: the server must abort at the step\n{}",
        server.stderr()
    );
    server
        .restart()
        .unwrap_or_else(|e| panic!("{step}: restart refused: {e:?}"));
    let mut con = server.client();
    for i in 0..acked {
        let value = bulk(&con.call_str(&["GET", &format!("k{i}")]).unwrap());
        assert_eq!(
            value.as_deref(),
            Some(i.to_string().as_bytes()),
            "{step}: k{i} lost"
        );
    }
    rewrite_completes(&mut con);
    server.stop();
    eprintln!(
        "{step}: aborted there, {acked} acknowledged writes recovered, a new rewrite completed"
    );
}

#[test]
fn kill_at_each_step_of_a_rewrite() {
    for step in STEPS {
        abort_at(step);
    }
}
