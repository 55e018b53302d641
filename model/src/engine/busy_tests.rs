//! Engine scenarios for a script that runs past `busy-reply-threshold`, driven with a fake
//! clock and scripted requests in place of the runtime's sockets (`busy.rs`).

use bytes::Bytes;

use super::tests::{argv, config, Rig};
use super::{ClientId, Phase, Reply, WhileBusy};
use crate::command::{self, BusyAnswer, BusyGate, BUSY_EVAL};
use crate::config::FsyncPolicy;
use crate::resp::Frame;

/// A clock that moves `step_ms` at each reading, and requests from client 2 given to the gate
/// at the first `serve` call after `at_ms`.
struct FakeHost {
    now_ms: u64,
    step_ms: u64,
    requests: Vec<&'static str>,
    answers: Vec<BusyAnswer>,
    serves: u32,
    /// Clients whose queued replies were released while the script ran.
    released: Vec<ClientId>,
}

impl FakeHost {
    fn new(step_ms: u64, requests: Vec<&'static str>) -> FakeHost {
        FakeHost {
            now_ms: 1_000,
            step_ms,
            requests,
            answers: Vec::new(),
            serves: 0,
            released: Vec::new(),
        }
    }
}

impl WhileBusy for FakeHost {
    fn now_ms(&mut self) -> u64 {
        self.now_ms += self.step_ms;
        self.now_ms
    }

    fn serve(&mut self, gate: &mut BusyGate, released: Vec<(ClientId, Reply)>) {
        self.released.extend(released.into_iter().map(|(c, _)| c));
        assert!(gate.timed_out(), "served only past the threshold");
        self.serves += 1;
        // One request per call, as a client reading replies one at a time would.
        if !self.requests.is_empty() {
            let line = self.requests.remove(0);
            let argv = argv(line);
            let id = command::resolve(&argv[0]);
            self.answers.push(gate.answer(2, id, &argv));
        }
    }
}

fn words(words: &[&str]) -> Vec<Bytes> {
    let to_bytes = |s: &&str| Bytes::copy_from_slice(s.as_bytes());
    words.iter().map(to_bytes).collect()
}

fn eval(rig: &mut Rig, host: &mut FakeHost, body: &str) {
    run(rig, host, words(&["EVAL", body, "0"]));
}

fn run(rig: &mut Rig, host: &mut FakeHost, argv: Vec<Bytes>) {
    let id = command::resolve(&argv[0]);
    let now_ms = rig.now_ms;
    rig.engine.handle_resolved_busy(now_ms, 1, id, argv, host);
    rig.pump();
}

fn rig(threshold_ms: u64) -> Rig {
    let mut rig = Rig::start(config(FsyncPolicy::No));
    rig.send(
        9,
        &format!("CONFIG SET busy-reply-threshold {threshold_ms}"),
    );
    rig.take_replies();
    rig
}

fn reply(frame: &str) -> BusyAnswer {
    BusyAnswer::Reply(Frame::error(frame))
}

#[test]
fn a_busy_script_answers_busy_then_script_kill_stops_it() {
    let mut rig = rig(100);
    let mut host = FakeHost::new(10, vec!["GET x", "MULTI", "INCR x", "SCRIPT KILL"]);
    // Client 3's PING ran in the same turn, before the script: its reply, which the log
    // allows, leaves while the script runs instead of waiting behind it.
    let now_ms = rig.now_ms;
    rig.engine.handle_command(now_ms, 3, argv("PING"));
    eval(&mut rig, &mut host, "while true do end");
    assert_eq!(host.released, [3]);
    assert_eq!(
        host.answers,
        [
            reply(BUSY_EVAL),
            BusyAnswer::Reply(Frame::ok()),
            reply(BUSY_EVAL),
            BusyAnswer::Reply(Frame::ok()),
        ]
    );
    // The SHA-1 of the body, as a real Redis 7.0.15 names it in the same reply.
    let sha = "694a5fe1ddb97a4c6a1bf299d9537c7d3d0f84e7";
    assert_eq!(
        rig.take_replies(),
        [Frame::error(format!(
            "ERR Script killed by user with SCRIPT KILL... script: {sha}, on @user_script:1."
        ))]
    );
    // MULTI answered during the script opened client 2's transaction; the refused INCR
    // failed it, as Redis's `flagTransaction` does.
    rig.send(2, "EXEC");
    assert_eq!(
        rig.take_replies(),
        [Frame::error(
            "EXECABORT Transaction discarded because of previous errors."
        )]
    );
    rig.send(2, "SCRIPT KILL");
    let notbusy = Frame::error("NOTBUSY No scripts in execution right now.");
    assert_eq!(rig.take_replies(), [notbusy]);
}

#[test]
fn a_script_that_wrote_is_unkillable_and_shutdown_nosave_stops_it() {
    let mut rig = rig(100);
    let mut host = FakeHost::new(10, vec!["SCRIPT KILL", "FUNCTION KILL", "SHUTDOWN NOSAVE"]);
    eval(
        &mut rig,
        &mut host,
        "redis.call('SET','a','1') while true do end",
    );
    let unkillable = "UNKILLABLE Sorry the script already executed write commands against \
         the dataset. You can either wait the script termination or kill the server in a hard \
         way using the SHUTDOWN NOSAVE command.";
    assert_eq!(
        host.answers,
        [reply(unkillable), reply(unkillable), BusyAnswer::Nothing]
    );
    // The script's SET is logged (its reply waits for the write), then the engine stops.
    rig.settle();
    let replies = rig.take_replies();
    assert!(
        matches!(&replies[..], [Frame::Error(e)] if e.starts_with("ERR Script killed by user")),
        "{replies:?}"
    );
    assert_eq!(rig.engine.phase(), &Phase::Stopped);
}

#[test]
fn function_kill_refuses_an_eval_and_script_kill_a_function() {
    let mut rig = rig(0);
    let mut host = FakeHost::new(1, vec!["FUNCTION KILL", "SHUTDOWN", "SCRIPT KILL"]);
    eval(
        &mut rig,
        &mut host,
        "local i = 0 while true do i = i + 1 end",
    );
    assert_eq!(
        host.answers,
        [
            reply(BUSY_EVAL),
            reply(BUSY_EVAL),
            BusyAnswer::Reply(Frame::ok())
        ]
    );
    assert_eq!(rig.engine.phase(), &Phase::Running);
}

/// FCALL: FUNCTION KILL stops it, SCRIPT KILL is refused, and the error names the function
/// and its line as a real Redis 7.0.15 does.
#[test]
fn function_kill_stops_a_function() {
    let mut rig = rig(50);
    let library = "#!lua name=test\n\
         redis.register_function('test', function() while 1 do redis.call('ping') end end)";
    let load = words(&["FUNCTION", "LOAD", library]);
    let now_ms = rig.now_ms;
    rig.engine.handle_command(now_ms, 1, load);
    rig.pump();
    rig.settle();
    assert_eq!(
        rig.take_replies(),
        [Frame::Bulk(Bytes::from_static(b"test"))]
    );
    let mut host = FakeHost::new(10, vec!["PING", "SCRIPT KILL", "FUNCTION KILL"]);
    run(&mut rig, &mut host, words(&["FCALL", "test", "0"]));
    let busy = reply(command::BUSY_FUNCTION);
    let ok = BusyAnswer::Reply(Frame::ok());
    assert_eq!(host.answers, [busy.clone(), busy, ok]);
    assert_eq!(
        rig.take_replies(),
        [Frame::error(
            "ERR Script killed by user with SCRIPT KILL... script: test, on @user_function:2."
        )]
    );
}

/// A kill while the loop calls Redis: the error still goes through the script's handler.
#[test]
fn script_kill_stops_a_loop_of_redis_calls() {
    let mut rig = rig(50);
    let mut host = FakeHost::new(10, vec!["SCRIPT KILL"]);
    eval(&mut rig, &mut host, "while 1 do redis.call('ping') end");
    let replies = rig.take_replies();
    let killed = "ERR Script killed by user with SCRIPT KILL... script: ";
    assert!(
        matches!(&replies[..], [Frame::Error(e)] if e.starts_with(killed)),
        "{replies:?}"
    );
}

#[test]
fn a_script_under_the_threshold_serves_no_one() {
    let mut rig = rig(5_000);
    // The fake clock moves 1 ms per reading: the loop ends long before 5 s.
    let mut host = FakeHost::new(1, vec!["SCRIPT KILL"]);
    eval(
        &mut rig,
        &mut host,
        "local i = 0 while i < 200000 do i = i + 1 end return i",
    );
    assert_eq!(host.serves, 0);
    assert_eq!(rig.take_replies(), [Frame::Integer(200_000)]);
}

/// Goal: an EXEC that arrives while a script is busy, from a client that queued its
/// transaction before the script, answers `EXECABORT … BUSY` and ends the transaction (Redis's
/// `execCommandAbort`): nothing of it runs, then or after; a client not in MULTI gets BUSY.
#[test]
fn exec_during_a_busy_script_aborts_the_transaction() {
    let mut rig = rig(100);
    rig.send(2, "SET xx 1");
    rig.send(2, "MULTI");
    rig.send(2, "INCR xx");
    rig.settle();
    rig.take_replies();
    let mut host = FakeHost::new(10, vec!["EXEC", "EXEC", "SCRIPT KILL"]);
    eval(&mut rig, &mut host, "while true do end");
    let abort = format!("EXECABORT Transaction discarded because of: {BUSY_EVAL}");
    assert_eq!(
        host.answers,
        [
            reply(&abort),
            reply(BUSY_EVAL),
            BusyAnswer::Reply(Frame::ok())
        ]
    );
    rig.settle();
    rig.take_replies();
    rig.send(2, "EXEC");
    rig.send(2, "GET xx");
    rig.settle();
    assert_eq!(
        rig.take_replies(),
        [
            Frame::error("ERR EXEC without MULTI"),
            Frame::Bulk(Bytes::from_static(b"1"))
        ]
    );
}
