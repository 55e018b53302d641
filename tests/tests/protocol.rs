//! The connection layer of the real server: RESP framing, pipelining, QUIT, protocol errors,
//! and stopping by SHUTDOWN or SIGTERM.
//!
//! Goal: what the runtime (not the engine) owns behaves as Redis: replies in request order
//! however deep the pipeline, inline commands, QUIT answered after everything before it, a
//! malformed request answered with Redis's error and the connection closed after the replies
//! before it, and a stop that exits 0 with the data on disk.
//! Method: raw bytes over TCP with `RespClient`, against a durakv process.

use std::io::ErrorKind;

use durakv_tests::client::{bulk, integer};
use durakv_tests::ServerProcess;
use model::resp::Frame;

/// Deeper than the per-connection in-flight cap (1024): reading pauses and resumes.
const PIPELINE: usize = 5000;

#[test]
fn deep_pipeline_is_answered_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(dir.path(), &[]);
    let mut con = server.client();
    let mut bytes = Vec::new();
    for i in 0..PIPELINE {
        let argv = [
            bytes::Bytes::from_static(b"INCR"),
            bytes::Bytes::from_static(b"counter"),
        ];
        model::resp::encode_command(&argv, &mut bytes);
        if i % 1000 == 999 {
            // An inline command in the middle of the stream.
            bytes.extend_from_slice(b"PING\r\n");
        }
    }
    con.send_raw(&bytes).unwrap();
    for i in 0..PIPELINE {
        assert_eq!(integer(&con.read().unwrap()), i as i64 + 1);
        if i % 1000 == 999 {
            assert_eq!(con.read().unwrap(), Frame::Simple("PONG".into()));
        }
    }
}

#[test]
fn quit_answers_after_earlier_replies_and_closes() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(dir.path(), &[]);
    let mut con = server.client();
    con.send_raw(b"SET k v\r\nGET k\r\nQUIT\r\nGET k\r\n")
        .unwrap();
    assert_eq!(con.read().unwrap(), Frame::ok());
    assert_eq!(bulk(&con.read().unwrap()).as_deref(), Some(&b"v"[..]));
    assert_eq!(con.read().unwrap(), Frame::ok());
    let after = con.read().unwrap_err();
    assert_eq!(
        after.kind(),
        ErrorKind::UnexpectedEof,
        "nothing after QUIT's +OK"
    );
}

#[test]
fn protocol_error_is_answered_then_the_connection_closes() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(dir.path(), &[]);
    let mut con = server.client();
    con.send_raw(b"PING\r\n*1\r\n$4\r\nPING\r\n*abc\r\n")
        .unwrap();
    assert_eq!(con.read().unwrap(), Frame::Simple("PONG".into()));
    assert_eq!(con.read().unwrap(), Frame::Simple("PONG".into()));
    let error = Frame::Error("ERR Protocol error: invalid multibulk length".into());
    assert_eq!(con.read().unwrap(), error);
    assert!(
        con.read().is_err(),
        "the connection is closed after a protocol error"
    );
    // The server is unharmed.
    assert_eq!(
        server.client().call_str(&["PING"]).unwrap(),
        Frame::Simple("PONG".into())
    );
}

#[test]
fn shutdown_command_and_sigterm_exit_zero_with_data_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = ServerProcess::start(dir.path(), &["--appendfsync", "no"]);
    let mut con = server.client();
    assert_eq!(con.call_str(&["SET", "a", "1"]).unwrap(), Frame::ok());
    con.send(&[b"SHUTDOWN"]).unwrap();
    assert!(
        server.wait_exit().success(),
        "SHUTDOWN exits 0:\n{}",
        server.stderr()
    );

    server.restart().expect("restart");
    let mut con = server.client();
    assert_eq!(
        bulk(&con.call_str(&["GET", "a"]).unwrap()).as_deref(),
        Some(&b"1"[..])
    );
    assert_eq!(con.call_str(&["SET", "b", "2"]).unwrap(), Frame::ok());
    assert!(
        server.stop().success(),
        "SIGTERM exits 0:\n{}",
        server.stderr()
    );
    assert!(
        server.stderr().contains("Received SIGTERM"),
        "{}",
        server.stderr()
    );

    server.restart().expect("restart");
    let mut con = server.client();
    assert_eq!(
        bulk(&con.call_str(&["GET", "b"]).unwrap()).as_deref(),
        Some(&b"2"[..])
    );
}
