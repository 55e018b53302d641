//! The client-compatibility cases with the `redis` crate, in process: the same checks the
//! Python and Node scripts in `tests/clients/` make, with the crate's default settings
//! (`redis://host:port/`, RESP2) and its own helpers (`redis::pipe`, `redis::Script`,
//! `redis::InfoDict`).
//!
//! Invariant: each case starts from an empty server (FLUSHALL) and reports every failed check
//! or server error as `Err` with its text, never by panicking.

use redis::{Commands, Connection, InfoDict, RedisResult};

const SCRIPT: &str = "return {KEYS[1], ARGV[1], redis.call('INCRBY', KEYS[1], ARGV[1])}";

/// Runs one case against the server on `port`: `Ok` with a line, or `Err` with what failed.
pub(crate) fn run(port: u16, case: &str) -> Result<String, String> {
    let outcome = connect(port).and_then(|mut con| {
        redis::cmd("FLUSHALL").exec(&mut con)?;
        match case {
            "basic" => basic(&mut con),
            "pipeline" => pipeline(&mut con),
            "transaction" => transaction(&mut con, port),
            "script" => script(&mut con),
            "info" => info(&mut con),
            other => panic!("unknown case {other}"),
        }
    });
    match outcome {
        Ok(Ok(())) => Ok(format!("ok {case}")),
        Ok(Err(check)) => Err(format!("rust-redis {case}: check failed: {check}")),
        Err(error) => Err(format!("rust-redis {case}: {error}")),
    }
}

/// A failed check, or `Ok`.
type Checked = Result<(), String>;

fn ensure(condition: bool, what: impl FnOnce() -> String) -> Checked {
    if condition {
        Ok(())
    } else {
        Err(what())
    }
}

fn connect(port: u16) -> RedisResult<Connection> {
    redis::Client::open(format!("redis://127.0.0.1:{port}/"))?
        .get_connection_with_timeout(std::time::Duration::from_secs(20))
}

fn basic(con: &mut Connection) -> RedisResult<Checked> {
    let () = con.set("rs:greeting", "hello")?;
    let greeting: String = con.get("rs:greeting")?;
    let missing: Option<String> = con.get("rs:missing")?;
    let counter: i64 = con.incr("rs:counter", 5)?;
    let first: Option<String> = redis::cmd("SET").arg(&["rs:nx", "1", "NX"]).query(con)?;
    let second: Option<String> = redis::cmd("SET").arg(&["rs:nx", "2", "NX"]).query(con)?;
    let values: Vec<Option<String>> = con.mget(&["rs:greeting", "rs:missing"])?;
    let removed: i64 = con.del(&["rs:greeting", "rs:missing"])?;
    let hello: Vec<redis::Value> = redis::cmd("HELLO").query(con)?;
    let proto = hello
        .chunks(2)
        .find(|pair| pair[0] == redis::Value::BulkString(b"proto".to_vec()))
        .map(|pair| pair[1].clone());
    Ok(ensure(
        greeting == "hello"
            && missing.is_none()
            && counter == 5
            && first.as_deref() == Some("OK")
            && second.is_none()
            && values == [Some("hello".to_string()), None]
            && removed == 1
            && proto == Some(redis::Value::Int(2)),
        || {
            format!("{greeting} {missing:?} {counter} {first:?} {second:?} {values:?} {removed} {proto:?}")
        },
    ))
}

fn pipeline(con: &mut Connection) -> RedisResult<Checked> {
    let mut pipe = redis::pipe();
    for i in 0..50 {
        pipe.set(format!("rs:pipe:{i}"), i).ignore();
    }
    for i in 0..50 {
        pipe.get(format!("rs:pipe:{i}"));
    }
    let values: Vec<i64> = pipe.query(con)?;
    Ok(ensure(values == (0..50).collect::<Vec<i64>>(), || {
        format!("{values:?}")
    }))
}

fn transaction(con: &mut Connection, port: u16) -> RedisResult<Checked> {
    let replies: (String, i64, String) = redis::pipe()
        .atomic()
        .set("rs:tx", 1)
        .incr("rs:tx", 2)
        .get("rs:tx")
        .query(con)?;
    // Optimistic locking: a WATCHed key changed by another client aborts EXEC (nil reply).
    redis::cmd("WATCH").arg("rs:tx").exec(con)?;
    let () = connect(port)?.set("rs:tx", 100)?;
    let aborted: Option<(i64,)> = redis::pipe().atomic().incr("rs:tx", 1).query(con)?;
    let after: i64 = con.get("rs:tx")?;
    Ok(ensure(
        replies == ("OK".into(), 3, "3".into()) && aborted.is_none() && after == 100,
        || format!("{replies:?} {aborted:?} {after}"),
    ))
}

fn script(con: &mut Connection) -> RedisResult<Checked> {
    type Reply = (String, String, i64);
    let eval: Reply = redis::cmd("EVAL")
        .arg(SCRIPT)
        .arg(1)
        .arg("rs:lua")
        .arg(2)
        .query(con)?;
    let sha: String = redis::cmd("SCRIPT").arg("LOAD").arg(SCRIPT).query(con)?;
    let evalsha: Reply = redis::cmd("EVALSHA")
        .arg(&sha)
        .arg(1)
        .arg("rs:lua")
        .arg(3)
        .query(con)?;
    redis::cmd("SCRIPT").arg("FLUSH").exec(con)?;
    // redis::Script: EVALSHA, and on NOSCRIPT loads the script and retries.
    let helper = redis::Script::new(SCRIPT);
    let first: Reply = helper.key("rs:lua").arg(4).invoke(con)?;
    let second: Reply = helper.key("rs:lua").arg(1).invoke(con)?;
    let key = |n: &str, v: i64| ("rs:lua".to_string(), n.to_string(), v);
    Ok(ensure(
        eval == key("2", 2)
            && evalsha == key("3", 5)
            && first == key("4", 9)
            && second == key("1", 10)
            && sha == helper.get_hash(),
        || format!("{eval:?} {evalsha:?} {first:?} {second:?} {sha}"),
    ))
}

fn info(con: &mut Connection) -> RedisResult<Checked> {
    let () = con.set("rs:info", "x")?;
    let info: InfoDict = redis::cmd("INFO").query(con)?;
    let version: Option<String> = info.get("redis_version");
    let mode: Option<String> = info.get("redis_mode");
    let clients: Option<i64> = info.get("connected_clients");
    let keyspace: InfoDict = redis::cmd("INFO").arg("keyspace").query(con)?;
    let db0: Option<String> = keyspace.get("db0");
    Ok(ensure(
        version
            .as_deref()
            .is_some_and(|v| v.split('.').count() == 3)
            && mode.as_deref() == Some("standalone")
            && clients.is_some_and(|n| n >= 1)
            && db0.as_deref().is_some_and(|d| d.starts_with("keys=1,")),
        || format!("{version:?} {mode:?} {clients:?} {db0:?}"),
    ))
}
