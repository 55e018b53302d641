//! Interoperability with the `redis` Rust crate, the client most Rust applications use.
//!
//! Goal: typical application operations behave as against Redis, including transactions,
//! pipelines, expiry, several databases and `requirepass`, and survive a restart.
//! Method: drive a durakv process through `redis::Connection`, then restart and read back.

use durakv_tests::ServerProcess;
use redis::{Commands, RedisResult};

fn connect(port: u16, db: i64) -> redis::Connection {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}/{db}")).expect("client");
    client
        .get_connection_with_timeout(std::time::Duration::from_secs(20))
        .expect("connection")
}

/// Strings, counters, expiry, MSET/MGET, a MULTI/EXEC pipeline and SELECT, then a restart.
#[test]
fn rust_client_typical_operations() -> RedisResult<()> {
    let dir = tempfile::tempdir().unwrap();
    let mut server = ServerProcess::start(dir.path(), &["--appendfsync", "always"]);
    let mut con = connect(server.port(), 0);

    let () = con.set("user:1:name", "Ada")?;
    let name: String = con.get("user:1:name")?;
    assert_eq!(name, "Ada");
    let missing: Option<String> = con.get("user:2:name")?;
    assert_eq!(missing, None);
    let visits: i64 = con.incr("visits", 5)?;
    assert_eq!(visits, 5);
    let () = con.mset(&[("a", "1"), ("b", "2"), ("c", "3")])?;
    let values: Vec<Option<String>> = con.mget(&["a", "b", "nope", "c"])?;
    assert_eq!(
        values,
        vec![Some("1".into()), Some("2".into()), None, Some("3".into())]
    );
    let set: bool = con.expire("a", 600)?;
    assert!(set);
    let ttl: i64 = con.ttl("a")?;
    assert!((590..=600).contains(&ttl), "ttl {ttl}");
    let removed: i64 = con.del(&["b", "nope"])?;
    assert_eq!(removed, 1);
    let exists: bool = con.exists("b")?;
    assert!(!exists);

    // An atomic pipeline is MULTI ... EXEC.
    let (counter, text): (i64, String) = redis::pipe()
        .atomic()
        .incr("counter", 1)
        .ignore()
        .incr("counter", 2)
        .get("user:1:name")
        .query(&mut con)?;
    assert_eq!((counter, text.as_str()), (3, "Ada"));
    // A plain pipeline: many commands, one round trip.
    let mut pipe = redis::pipe();
    for i in 0..1000 {
        pipe.set(format!("bulk:{i}"), i).ignore();
    }
    let () = pipe.query(&mut con)?;

    let mut db5 = connect(server.port(), 5);
    let () = db5.set("only-in-5", "yes")?;
    let in_zero: Option<String> = con.get("only-in-5")?;
    assert_eq!(in_zero, None);

    assert!(
        server.stop().success(),
        "graceful stop:\n{}",
        server.stderr()
    );
    server.restart().expect("restart");
    let mut con = connect(server.port(), 0);
    let name: String = con.get("user:1:name")?;
    assert_eq!(name, "Ada");
    let counter: i64 = con.get("counter")?;
    assert_eq!(counter, 3);
    let last: i64 = con.get("bulk:999")?;
    assert_eq!(last, 999);
    let ttl: i64 = con.ttl("a")?;
    assert!((500..=600).contains(&ttl), "ttl after restart {ttl}");
    let mut db5 = connect(server.port(), 5);
    let five: String = db5.get("only-in-5")?;
    assert_eq!(five, "yes");
    Ok(())
}

/// With `requirepass`, a client without the password is refused and one with it is served.
#[test]
fn rust_client_requirepass() -> RedisResult<()> {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(dir.path(), &["--requirepass", "s3cret"]);
    let port = server.port();
    let mut anonymous = connect(port, 0);
    let refused: RedisResult<Option<String>> = anonymous.get("k");
    let error = refused.expect_err("unauthenticated GET must fail");
    assert_eq!(error.code(), Some("NOAUTH"), "{error:?}");

    let client =
        redis::Client::open(format!("redis://:s3cret@127.0.0.1:{port}/0")).expect("client");
    let mut con = client.get_connection()?;
    let () = con.set("k", "v")?;
    let value: String = con.get("k")?;
    assert_eq!(value, "v");

    let wrong = redis::Client::open(format!("redis://:wrong@127.0.0.1:{port}/0")).expect("client");
    assert!(
        wrong.get_connection().is_err(),
        "a wrong password must not connect"
    );
    Ok(())
}
