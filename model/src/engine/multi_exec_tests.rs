//! Tests of engine commands inside MULTI (`multi_exec.rs`): queued, refused (`no-multi`),
//! answered in order inside EXEC, and the transaction's writes logged once, wrapped.

use super::tests::{config, Rig};
use crate::config::FsyncPolicy;
use crate::resp::Frame;

const INCR1: &str = "appendonlydir/appendonly.aof.1.incr.aof";

fn replies(rig: &mut Rig, lines: &[&str]) -> Vec<Frame> {
    for line in lines {
        rig.send(1, line);
    }
    rig.settle();
    rig.take_replies()
}

fn simple(text: &str) -> Frame {
    Frame::Simple(text.to_string())
}

/// The logged records of the incr file, checksum annotations left out.
fn logged(rig: &Rig) -> String {
    let bytes = rig.disk.contents(INCR1).expect("incr file");
    let text = String::from_utf8_lossy(bytes);
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Goal: CONFIG SET queues inside MULTI and runs at EXEC, in order, its error in its slot
/// (Redis's "MULTI with config error"): the transaction's other commands still run.
#[test]
fn config_set_runs_inside_exec_in_order() {
    let mut rig = Rig::start(config(FsyncPolicy::Always));
    let got = replies(
        &mut rig,
        &[
            "MULTI",
            "SET foo bar",
            "CONFIG SET maxmemory bla",
            "CONFIG SET maxmemory-policy allkeys-lru",
            "GET foo",
            "EXEC",
            "CONFIG GET maxmemory-policy",
        ],
    );
    assert_eq!(
        got[..5],
        [
            simple("OK"),
            simple("QUEUED"),
            simple("QUEUED"),
            simple("QUEUED"),
            simple("QUEUED")
        ]
    );
    let Frame::Array(exec) = &got[5] else {
        panic!("{:?}", got[5])
    };
    assert_eq!(exec[0], simple("OK"));
    assert!(
        matches!(&exec[1], Frame::Error(e) if e.contains("CONFIG SET failed")),
        "{exec:?}"
    );
    assert_eq!(exec[2], simple("OK"));
    assert_eq!(exec[3], Frame::Bulk("bar".into()));
    let policy = format!("{:?}", got[6]);
    assert!(policy.contains("allkeys-lru"), "{policy}");
}

/// Goal: SAVE and SHUTDOWN (Redis's `no-multi`) are refused while queuing and the whole
/// transaction is discarded: nothing of it runs.
#[test]
fn no_multi_commands_abort_the_transaction() {
    for refused in ["SAVE", "SHUTDOWN"] {
        let mut rig = Rig::start(config(FsyncPolicy::Always));
        let got = replies(
            &mut rig,
            &["MULTI", "SET foo bar", refused, "EXEC", "GET foo"],
        );
        assert!(
            matches!(&got[2], Frame::Error(e) if e.contains("Command not allowed inside a transaction")),
            "{refused}: {got:?}"
        );
        assert!(
            matches!(&got[3], Frame::Error(e) if e.starts_with("EXECABORT")),
            "{got:?}"
        );
        assert_eq!(
            got[4],
            Frame::Null,
            "{refused}: nothing of the transaction ran"
        );
    }
}

/// Goal: an engine command with a wrong arity fails the transaction at queue time, as
/// Redis's arity check does for any command.
#[test]
fn engine_command_arity_errors_abort_the_transaction() {
    let mut rig = Rig::start(config(FsyncPolicy::Always));
    let got = replies(
        &mut rig,
        &["MULTI", "SET foo bar", "CONFIG", "EXEC", "GET foo"],
    );
    assert!(
        matches!(&got[2], Frame::Error(e) if e.contains("wrong number of arguments")),
        "{got:?}"
    );
    assert!(
        matches!(&got[3], Frame::Error(e) if e.starts_with("EXECABORT")),
        "{got:?}"
    );
    assert_eq!(got[4], Frame::Null);
}

/// Goal: the writes of a transaction that holds an engine command reach the AOF once, at
/// EXEC, wrapped in MULTI/EXEC, and the engine command itself is never logged.
#[test]
fn writes_around_an_engine_command_are_logged_as_one_transaction() {
    let mut rig = Rig::start(config(FsyncPolicy::Always));
    let got = replies(
        &mut rig,
        &[
            "MULTI",
            "SET a 1",
            "INFO server",
            "LASTSAVE",
            "SET b 2",
            "EXEC",
        ],
    );
    let Frame::Array(exec) = &got[5] else {
        panic!("{:?}", got[5])
    };
    assert_eq!(exec.len(), 4);
    assert!(matches!(exec[2], Frame::Integer(_)), "{exec:?}");
    let log = logged(&rig);
    let want = "*1 $5 MULTI *3 $3 SET $1 a $1 1 *3 $3 SET $1 b $1 2 *1 $4 EXEC";
    assert!(log.replace('\r', "").ends_with(want), "{log}");
    assert!(!log.contains("INFO") && !log.contains("LASTSAVE"), "{log}");
}

/// Goal: WATCH still guards a transaction that holds an engine command: a changed key
/// makes EXEC answer a null array and run nothing (the CONFIG SET included).
#[test]
fn a_changed_watched_key_runs_nothing() {
    let mut rig = Rig::start(config(FsyncPolicy::Always));
    let got = replies(
        &mut rig,
        &["WATCH k", "MULTI", "CONFIG SET maxmemory 12345"],
    );
    assert_eq!(got[2], simple("QUEUED"));
    rig.send(2, "SET k changed");
    let got = replies(&mut rig, &["EXEC", "CONFIG GET maxmemory"]);
    assert_eq!(got[got.len() - 2], Frame::NullArray);
    assert!(!format!("{:?}", got.last()).contains("12345"), "{got:?}");
}

/// Goal: an EXEC that would write while `min-replicas-to-write` is not met is refused with
/// `EXECABORT … NOREPLICAS` and runs nothing; a write refused while queuing fails the
/// transaction even if the condition is gone by EXEC (Redis's `rejectCommand` flags it).
#[test]
fn norepl_refusals_abort_the_transaction() {
    let mut rig = Rig::start(config(FsyncPolicy::Always));
    let got = replies(&mut rig, &["SET xx 1", "MULTI", "INCR xx"]);
    assert_eq!(got[2], simple("QUEUED"));
    rig.send(2, "CONFIG SET min-replicas-to-write 2");
    let got = replies(&mut rig, &["EXEC", "GET xx"]);
    let n = got.len();
    assert!(
        matches!(&got[n - 2], Frame::Error(e) if e.starts_with("EXECABORT") && e.contains("NOREPLICAS")),
        "{got:?}"
    );
    assert_eq!(got[n - 1], Frame::Bulk("1".into()), "the INCR did not run");
    let got = replies(&mut rig, &["MULTI", "SET yy 1"]);
    assert!(
        matches!(&got[1], Frame::Error(e) if e.starts_with("NOREPLICAS")),
        "{got:?}"
    );
    rig.send(2, "CONFIG SET min-replicas-to-write 0");
    let got = replies(&mut rig, &["EXEC"]);
    assert!(
        matches!(got.last(), Some(Frame::Error(e)) if e.starts_with("EXECABORT")),
        "{got:?}"
    );
}
