//! `replica-serve-stale-data no` on the real binary, set from the command line (the config
//! file's syntax) and with CONFIG SET.
//!
//! Goal: a replica whose master cannot be reached answers `-MASTERDOWN` to data commands and
//! PING (Redis 7.0 does not flag PING `stale`; Sentinel counts MASTERDOWN as alive) while
//! INFO, CONFIG and ROLE are served; `yes` serves the stale data set again.

use durakv_tests::repl_check::{call, field};
use durakv_tests::server::free_port;
use durakv_tests::ServerProcess;
use model::resp::Frame;

#[test]
fn a_replica_without_its_master_refuses_stale_reads() {
    let dir = tempfile::tempdir().unwrap();
    let nobody = free_port().to_string(); // nothing listens there
    let args = [
        "--replicaof",
        "127.0.0.1",
        &nobody,
        "--replica-serve-stale-data",
        "no",
    ];
    let replica = ServerProcess::start(dir.path(), &args);
    let mut con = replica.client();
    assert_eq!(field(&mut con, "replication", "master_link_status"), "down");
    let down = "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.";
    for words in [&["GET", "k"][..], &["PING"], &["DBSIZE"]] {
        let reply = con.call_str(words).unwrap();
        assert_eq!(reply, Frame::Error(down.into()), "{words:?}");
    }
    call(&mut con, &["ROLE"]);
    call(
        &mut con,
        &["CONFIG", "SET", "replica-serve-stale-data", "yes"],
    );
    assert_eq!(call(&mut con, &["GET", "k"]), Frame::Null);
}
