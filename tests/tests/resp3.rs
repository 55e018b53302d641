//! RESP3 and the connection commands client libraries send, against the real binary.
//!
//! Goal: redis-py 8 and node-redis 5 open with `HELLO 3` and `CLIENT SETINFO`; the server must
//! switch that connection to RESP3 (maps, `_` nulls, verbatim text) byte for byte as Redis
//! 7.0 does, and CLIENT LIST / KILL / PAUSE / REPLY must act on real connections.
//! Method: raw bytes over TCP. When `redis-server` is installed, the same commands are sent to
//! a real Redis and the bytes compared (the connection id in HELLO normalised).

use std::time::Duration;

use durakv_tests::raw::{text, Raw};
use durakv_tests::redis::{have_redis, Redis};
use durakv_tests::ServerProcess;

/// The RESP3 exchanges compared with Redis: HELLO's map, `_` nulls, CONFIG GET's map,
/// errors of HELLO, INCRBYFLOAT's bulk string, EXEC's null, RESET back to RESP2.
const SCRIPT: &[&str] = &[
    "HELLO 3",
    "GET missing",
    "MGET missing missing",
    "CONFIG GET appendonly",
    "SET f 1",
    "INCRBYFLOAT f 1.5",
    "COMMAND INFO nosuch",
    "HELLO 4",
    "HELLO x",
    "CLIENT KILL ID 999",
    "CLIENT KILL 1.2.3.4:5",
    "CLIENT PAUSE x",
    "CLIENT PAUSE 10 y",
    "RESET",
    "GET missing",
    "HELLO 3 SETNAME lib",
    "CLIENT GETNAME",
];

fn run_script(port: u16) -> Vec<String> {
    let mut con = Raw::connect(port);
    let id = text(&con.call("CLIENT ID"));
    SCRIPT
        .iter()
        .map(|cmd| {
            text(&con.call(cmd)).replace(&format!("$2\r\nid\r\n{id}"), "$2\r\nid\r\n:ID\r\n")
        })
        .collect()
}

#[test]
fn hello_3_switches_the_connection_to_resp3_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(dir.path(), &[]);
    let got = run_script(server.port());
    let expect = |i: usize, bytes: &str| assert_eq!(got[i], bytes, "{}", SCRIPT[i]);
    assert!(
        got[0].starts_with("%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n"),
        "{}",
        got[0]
    );
    assert!(
        got[0].contains("$5\r\nproto\r\n:3\r\n$2\r\nid\r\n:ID\r\n"),
        "{}",
        got[0]
    );
    expect(1, "_\r\n");
    expect(2, "*2\r\n_\r\n_\r\n");
    expect(3, "%1\r\n$10\r\nappendonly\r\n$3\r\nyes\r\n");
    expect(5, "$3\r\n2.5\r\n");
    expect(6, "*1\r\n_\r\n");
    expect(7, "-NOPROTO unsupported protocol version\r\n");
    expect(13, "+RESET\r\n");
    expect(14, "$-1\r\n");
    expect(16, "$3\r\nlib\r\n");
    let mut con = Raw::connect(server.port());
    con.call("HELLO 3");
    let info = text(&con.call("CLIENT INFO"));
    assert!(
        info.starts_with('=') && info.contains("\r\ntxt:id="),
        "{info}"
    );
    let info = text(&con.call("INFO server"));
    assert!(
        info.starts_with('=') && info.contains("txt:# Server"),
        "{info}"
    );
}

/// Every byte of the script's replies equals Redis 7.0's (the `appendonly yes` durakv default
/// is given to Redis too).
#[test]
fn resp3_bytes_match_redis() {
    let dir = tempfile::tempdir().unwrap();
    if !have_redis() {
        return;
    }
    let redis = Redis::start(dir.path(), &["--save", "", "--appendonly", "yes"]);
    let theirs = run_script(redis.port());
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(dir.path(), &[]);
    let ours = run_script(server.port());
    for (i, cmd) in SCRIPT.iter().enumerate() {
        assert_eq!(ours[i], theirs[i], "{cmd}");
    }
    // CLIENT LIST's fields, in Redis's order (Redis 7.2 adds lib-name and lib-ver).
    let keys = |port: u16| {
        let line = text(&Raw::connect(port).call("CLIENT INFO"));
        let line = line.split("\r\n").nth(1).unwrap_or_default().to_string();
        line.split(' ')
            .map(|f| f.split('=').next().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    let mut theirs = keys(redis.port());
    theirs.extend(["lib-name".to_string(), "lib-ver".to_string()]);
    assert_eq!(keys(server.port()), theirs);
}

#[test]
fn client_list_kill_pause_and_reply_act_on_connections() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(dir.path(), &[]);
    let port = server.port();
    let (mut a, mut b) = (Raw::connect(port), Raw::connect(port));
    a.call("CLIENT SETINFO LIB-NAME redis-py");
    assert_eq!(
        text(&a.call("CLIENT SETINFO foo x")),
        "-ERR Unrecognized option 'foo'\r\n"
    );
    assert_eq!(text(&a.call("CLIENT SETINFO LIB-VER 5.0")), "+OK\r\n");
    assert_eq!(
        text(&a.call("CLIENT SETINFO LIB-VER a\tb")),
        "-ERR LIB-VER cannot contain spaces, newlines or special characters.\r\n"
    );
    a.call("SELECT 3");
    let a_id = text(&a.call("CLIENT ID"));
    let a_id = a_id.trim_start_matches(':').trim_end();
    let list = text(&b.call("CLIENT LIST"));
    let line = list
        .lines()
        .find(|l| l.contains(&format!("id={a_id} ")))
        .unwrap()
        .to_string();
    for field in [
        " db=3 ",
        " cmd=client|id ",
        " resp=2 ",
        " lib-name=redis-py lib-ver=5.0",
        " flags=N ",
        " multi=-1 ",
    ] {
        assert!(line.contains(field), "{field} in {line}");
    }
    assert!(line.contains(&format!("laddr=127.0.0.1:{port} ")), "{line}");

    // PAUSE WRITE holds b's write (and what follows it) until UNPAUSE; reads pass.
    let mut c = Raw::connect(port);
    assert_eq!(text(&c.call("CLIENT PAUSE 20000 WRITE")), "+OK\r\n");
    assert_eq!(text(&b.call("GET k")), "$-1\r\n");
    b.send("SET k v");
    assert!(
        b.drain(Duration::from_millis(400)).is_empty(),
        "held while paused"
    );
    assert_eq!(text(&c.call("CLIENT UNPAUSE")), "+OK\r\n");
    assert_eq!(text(&b.drain(Duration::from_secs(5))), "+OK\r\n");

    // REPLY OFF: nothing until ON; SKIP drops exactly the next reply.
    b.send("CLIENT REPLY OFF");
    b.send("SET k w");
    assert!(b.drain(Duration::from_millis(300)).is_empty());
    assert_eq!(text(&b.call("CLIENT REPLY ON")), "+OK\r\n");
    b.send("CLIENT REPLY SKIP");
    b.send("GET k");
    assert_eq!(text(&b.call("PING")), "+PONG\r\n");

    // KILL ID closes the victim; the killer gets the count.
    assert_eq!(text(&b.call(&format!("CLIENT KILL ID {a_id}"))), ":1\r\n");
    assert!(a.closed_within(Duration::from_secs(5)), "victim closed");
    assert_eq!(text(&b.call(&format!("CLIENT KILL ID {a_id}"))), ":0\r\n");
    assert_eq!(
        text(&b.call("CLIENT KILL SKIPME no ID 1 TYPE master")),
        ":0\r\n"
    );
}
