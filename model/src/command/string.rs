//! GET and the SET family: GET, SET, SETNX, SETEX, PSETEX, GETDEL, GETEX, MGET, MSET, MSETNX.
//!
//! Invariant (propagation, `setGenericCommand`/`getexCommand`): a relative or absolute expiry is
//! logged as an absolute one — `SET k v PXAT <ms>` for every SET with an expiry (other options
//! dropped: the command already succeeded), `PEXPIREAT`/`PERSIST`/`DEL` for GETEX; SET ... GET
//! is logged without its GET; GETDEL as `DEL`.

use bytes::Bytes;

use super::exec::{string_of, Exec, DEL};
use super::num::integer_arg;
use super::reply;
use crate::keyspace::{Entry, Value};
use crate::resp::Frame;

/// How an expiry argument counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ExpireKind {
    /// EX: seconds from now.
    Ex,
    /// PX: milliseconds from now.
    Px,
    /// EXAT: unix seconds.
    ExAt,
    /// PXAT: unix milliseconds.
    PxAt,
}

/// SET's and GETEX's options (Redis's `OBJ_*` flags).
#[derive(Default)]
struct Options {
    nx: bool,
    xx: bool,
    get: bool,
    keepttl: bool,
    persist: bool,
    expire: Option<(ExpireKind, Bytes)>,
}

/// Redis's `parseExtendedStringArgumentsOrReply`, from `argv[start]` on. Each option excludes
/// the ones it conflicts with but may repeat (the last expiry wins).
fn parse_options(argv: &[Bytes], start: usize, for_set: bool) -> Result<Options, Frame> {
    let mut o = Options::default();
    let mut j = start;
    while j < argv.len() {
        let opt = argv[j].to_ascii_uppercase();
        let has_next = j + 1 < argv.len();
        let other_expiry = |kind| o.expire.as_ref().is_some_and(|(k, _)| *k != kind);
        let kind = match opt.as_slice() {
            b"EX" => Some(ExpireKind::Ex),
            b"PX" => Some(ExpireKind::Px),
            b"EXAT" => Some(ExpireKind::ExAt),
            b"PXAT" => Some(ExpireKind::PxAt),
            _ => None,
        };
        match (opt.as_slice(), kind) {
            (b"NX", _) if for_set && !o.xx => o.nx = true,
            (b"XX", _) if for_set && !o.nx => o.xx = true,
            (b"GET", _) if for_set => o.get = true,
            (b"KEEPTTL", _) if for_set && !o.persist && o.expire.is_none() => o.keepttl = true,
            (b"PERSIST", _) if !for_set && o.expire.is_none() && !o.keepttl => o.persist = true,
            (_, Some(kind)) if !o.keepttl && !o.persist && !other_expiry(kind) && has_next => {
                o.expire = Some((kind, argv[j + 1].clone()));
                j += 1;
            }
            _ => return Err(reply::err(reply::SYNTAX)),
        }
        j += 1;
    }
    Ok(o)
}

/// Redis's `getExpireMillisecondsOrReply`: the absolute expiry in unix ms, or the error.
pub(crate) fn expire_at_ms(
    x: &Exec<'_>,
    kind: ExpireKind,
    arg: &[u8],
    command: &str,
) -> Result<u64, Frame> {
    let n = integer_arg(arg)?;
    let seconds = matches!(kind, ExpireKind::Ex | ExpireKind::ExAt);
    if n <= 0 || (seconds && n > i64::MAX / 1000) {
        return Err(reply::invalid_expire(command));
    }
    let mut ms = if seconds { n * 1000 } else { n };
    if matches!(kind, ExpireKind::Ex | ExpireKind::Px) {
        let now = i64::try_from(x.ctx.now_ms).unwrap_or(i64::MAX);
        ms = ms
            .checked_add(now)
            .ok_or_else(|| reply::invalid_expire(command))?;
    }
    Ok(ms as u64)
}

/// The GET part of GET, GETDEL and SET ... GET: the value, nil, or WRONGTYPE.
fn get_generic(x: &mut Exec<'_>, key: &Bytes) -> Result<Frame, Frame> {
    // The value moves into the reply: a clone of a freshly copied `Bytes` would allocate
    // its shared count.
    Ok(x.lookup_string(key)?
        .map_or(Frame::Null, |e| match e.value {
            Value::Str(value) => Frame::Bulk(value),
            _ => unreachable!("lookup_string returns strings only"),
        }))
}

pub(crate) fn get(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    get_generic(x, &argv[1]).unwrap_or_else(|e| e)
}

pub(crate) fn set(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    match parse_options(argv, 3, true) {
        Ok(options) => set_generic(x, argv, &options, "set", None),
        Err(error) => error,
    }
}

pub(crate) fn setnx(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    let options = Options {
        nx: true,
        ..Options::default()
    };
    set_generic(
        x,
        argv,
        &options,
        "setnx",
        Some((reply::int(1), reply::int(0))),
    )
}

pub(crate) fn setex(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    setex_generic(x, argv, ExpireKind::Ex, "setex")
}

pub(crate) fn psetex(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    setex_generic(x, argv, ExpireKind::Px, "psetex")
}

/// SETEX/PSETEX key ttl value: SET key value EX/PX ttl.
fn setex_generic(x: &mut Exec<'_>, argv: &[Bytes], kind: ExpireKind, name: &str) -> Frame {
    let options = Options {
        expire: Some((kind, argv[2].clone())),
        ..Options::default()
    };
    let as_set = [argv[0].clone(), argv[1].clone(), argv[3].clone()];
    set_generic(x, &as_set, &options, name, None)
}

/// Redis's `setGenericCommand` on `argv` = [name, key, value, options...]; `replies` are the
/// (done, not done) replies where they are not OK and nil (SETNX's 1 and 0).
fn set_generic(
    x: &mut Exec<'_>,
    argv: &[Bytes],
    o: &Options,
    name: &str,
    replies: Option<(Frame, Frame)>,
) -> Frame {
    let (key, value) = (&argv[1], &argv[2]);
    let when = match &o.expire {
        Some((kind, arg)) => match expire_at_ms(x, *kind, arg, name) {
            Ok(ms) => Some(ms),
            Err(error) => return error,
        },
        None => None,
    };
    let old = if o.get {
        match get_generic(x, key) {
            Ok(frame) => Some(frame),
            Err(error) => return error,
        }
    } else {
        None
    };
    let found = x.lookup_expiry(key);
    let (done, not_done) = replies.unwrap_or((reply::ok(), Frame::Null));
    if (o.nx && found.is_some()) || (o.xx && found.is_none()) {
        return old.unwrap_or(not_done);
    }
    let keep = if o.keepttl { found.flatten() } else { None };
    x.store(
        key,
        Entry {
            value: Value::Str(value.clone()),
            expire_at_ms: when.or(keep),
        },
    );
    x.add_dirty(1);
    if let Some(ms) = when {
        let pxat = Bytes::from(ms.to_string());
        x.propagate_as(vec![
            Bytes::from_static(b"SET"),
            key.clone(),
            value.clone(),
            Bytes::from_static(b"PXAT"),
            pxat,
        ]);
    } else if o.get {
        let without_get = argv
            .iter()
            .enumerate()
            .filter(|(j, a)| *j < 3 || !a.eq_ignore_ascii_case(b"get"));
        x.propagate_as(without_get.map(|(_, a)| a.clone()).collect());
    }
    old.unwrap_or(done)
}

pub(crate) fn getdel(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    let key = &argv[1];
    let value = match get_generic(x, key) {
        Ok(frame) => frame,
        Err(error) => return error,
    };
    if x.delete(key) {
        x.propagate_as(vec![DEL, key.clone()]);
        x.add_dirty(1);
    }
    value
}

/// GETSET key value: SET without options that answers the old value (and drops any TTL);
/// propagated as `SET key value`, as Redis 7.0 rewrites it.
pub(crate) fn getset(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    let (key, value) = (&argv[1], &argv[2]);
    let old = match get_generic(x, key) {
        Ok(frame) => frame,
        Err(error) => return error,
    };
    let entry = Entry {
        value: Value::Str(value.clone()),
        expire_at_ms: None,
    };
    x.store(key, entry);
    x.add_dirty(1);
    x.propagate_as(vec![Bytes::from_static(b"SET"), key.clone(), value.clone()]);
    old
}

/// GETEX key [EX s | PX ms | EXAT s | PXAT ms | PERSIST].
pub(crate) fn getex(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    let key = &argv[1];
    let o = match parse_options(argv, 2, false) {
        Ok(o) => o,
        Err(error) => return error,
    };
    let entry = match x.lookup_string(key) {
        Ok(Some(entry)) => entry,
        Ok(None) => return Frame::Null,
        Err(error) => return error,
    };
    let when = match &o.expire {
        Some((kind, arg)) => match expire_at_ms(x, *kind, arg, "getex") {
            Ok(ms) => Some((*kind, ms)),
            Err(error) => return error,
        },
        None => None,
    };
    let value = string_of(&entry).cloned().unwrap_or_default();
    match when {
        // An absolute time already past deletes the key (never while loading).
        Some((ExpireKind::ExAt | ExpireKind::PxAt, ms)) if ms <= x.ctx.now_ms && !x.ctx.loading => {
            x.delete(key);
            x.propagate_as(vec![DEL, key.clone()]);
            x.add_dirty(1);
        }
        Some((_, ms)) => {
            x.store(
                key,
                Entry {
                    expire_at_ms: Some(ms),
                    ..entry
                },
            );
            x.propagate_as(vec![
                Bytes::from_static(b"PEXPIREAT"),
                key.clone(),
                Bytes::from(ms.to_string()),
            ]);
            x.add_dirty(1);
        }
        None if o.persist && entry.expire_at_ms.is_some() => {
            x.store(
                key,
                Entry {
                    expire_at_ms: None,
                    ..entry
                },
            );
            x.propagate_as(vec![Bytes::from_static(b"PERSIST"), key.clone()]);
            x.add_dirty(1);
        }
        None => {}
    }
    Frame::Bulk(value)
}

pub(crate) fn mget(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    let values = argv[1..]
        .iter()
        .map(|key| match x.lookup(key) {
            Some(entry) => string_of(&entry).map_or(Frame::Null, reply::bulk),
            None => Frame::Null,
        })
        .collect();
    Frame::Array(values)
}

pub(crate) fn mset(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    mset_generic(x, argv, false)
}

pub(crate) fn msetnx(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    mset_generic(x, argv, true)
}

/// MSET/MSETNX: all pairs set (TTLs cleared), or with NX none if any key exists.
fn mset_generic(x: &mut Exec<'_>, argv: &[Bytes], nx: bool) -> Frame {
    // The pairs must come out even.
    if !argv[1..].chunks_exact(2).remainder().is_empty() {
        return reply::wrong_arity(if nx { "msetnx" } else { "mset" });
    }
    let pairs = argv[1..].chunks_exact(2);
    if nx && pairs.clone().any(|pair| x.lookup(&pair[0]).is_some()) {
        return reply::int(0);
    }
    for pair in pairs {
        if !nx {
            // Redis's `setKey` looks the key up: an expired one is deleted (and logged) first.
            x.lookup(&pair[0]);
        }
        x.store(
            &pair[0],
            Entry {
                value: Value::Str(pair[1].clone()),
                expire_at_ms: None,
            },
        );
    }
    x.add_dirty((argv.len() as u64 - 1) / 2);
    if nx {
        reply::int(1)
    } else {
        reply::ok()
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use crate::resp::Frame;

    #[test]
    fn get_and_set_round_trip_binary_keys() {
        let mut k = Kit::new();
        assert_eq!(k.reply("GET k"), Frame::Null);
        assert_eq!(k.reply("SET k v"), ok());
        assert_eq!(k.reply("get k"), bulk("v"));
        assert_eq!(k.reply(r#"SET "\x00\xff" "a\r\nb""#), ok());
        assert_eq!(
            k.reply(r#"GET "\x00\xff""#),
            Frame::Bulk(bytes::Bytes::from_static(b"a\r\nb"))
        );
        assert_eq!(
            k.reply("SET k"),
            err("ERR wrong number of arguments for 'set' command")
        );
    }

    #[test]
    fn set_options_follow_redis() {
        let mut k = Kit::new();
        assert_eq!(k.reply("SET k v NX"), ok());
        assert_eq!(k.reply("SET k w NX"), Frame::Null);
        assert_eq!(k.reply("SET k w XX"), ok());
        assert_eq!(k.reply("SET other w XX"), Frame::Null);
        assert_eq!(k.reply("SET k x GET"), bulk("w"));
        assert_eq!(k.reply("SET new x GET"), Frame::Null);
        assert_eq!(
            k.reply("SET k y NX GET"),
            bulk("x"),
            "NX with GET replies the old value"
        );
        assert_eq!(k.reply("GET k"), bulk("x"));
        for bad in [
            "SET k v NX XX",
            "SET k v EX 1 PX 1",
            "SET k v EX",
            "SET k v KEEPTTL EX 1",
            "SET k v FOO",
            "SET k v PERSIST",
        ] {
            assert_eq!(k.reply(bad), err("ERR syntax error"), "{bad}");
        }
        assert_eq!(
            k.reply("SET k v EX 1 EX 2"),
            ok(),
            "an expiry option may repeat"
        );
        assert_eq!(
            k.reply("SET k v EX 0"),
            err("ERR invalid expire time in 'set' command")
        );
        assert_eq!(
            k.reply("SET k v PX -5"),
            err("ERR invalid expire time in 'set' command")
        );
        assert_eq!(
            k.reply("SET k v EX 9223372036854776"),
            err("ERR invalid expire time in 'set' command")
        );
        assert_eq!(
            k.reply("SET k v PX 9223372036854775807"),
            err("ERR invalid expire time in 'set' command")
        );
        assert_eq!(
            k.reply("SET k v EX x"),
            err("ERR value is not an integer or out of range")
        );
    }

    #[test]
    fn set_expiries_are_absolute_and_logged_as_pxat() {
        let mut k = Kit::new();
        let at = T0 + 10_000;
        assert_eq!(
            k.logged("set k v EX 10"),
            vec![(0, format!("SET k v PXAT {at}"))]
        );
        assert_eq!(
            k.logged("set k v px 10000 xx"),
            vec![(0, format!("SET k v PXAT {at}"))]
        );
        assert_eq!(
            k.logged(&format!("set k v EXAT {}", at / 1000)),
            vec![(0, format!("SET k v PXAT {at}"))]
        );
        assert_eq!(
            k.logged(&format!("set k v PXAT {at} GET")),
            vec![(0, format!("SET k v PXAT {at}"))]
        );
        assert_eq!(
            k.logged("set k v KEEPTTL"),
            vec![(0, "set k v KEEPTTL".to_string())]
        );
        assert_eq!(k.reply("PTTL k"), int(10_000), "KEEPTTL kept the expiry");
        assert_eq!(
            k.logged("set k v get GET nx"),
            vec![],
            "NX failed: nothing logged"
        );
        assert_eq!(
            k.logged("set k w get GET"),
            vec![(0, "set k w".to_string())]
        );
        assert_eq!(
            k.reply("PTTL k"),
            int(-1),
            "SET without KEEPTTL clears the expiry"
        );
        assert_eq!(
            k.logged("setex s 10 v"),
            vec![(0, format!("SET s v PXAT {at}"))]
        );
        assert_eq!(
            k.logged("psetex s 10000 v"),
            vec![(0, format!("SET s v PXAT {at}"))]
        );
        assert_eq!(
            k.reply("SETEX s 0 v"),
            err("ERR invalid expire time in 'setex' command")
        );
        assert_eq!(
            k.reply("PSETEX s -1 v"),
            err("ERR invalid expire time in 'psetex' command")
        );
    }

    #[test]
    fn setnx_replies_integers() {
        let mut k = Kit::new();
        assert_eq!(k.reply("SETNX k v"), int(1));
        assert_eq!(k.reply("SETNX k w"), int(0));
        assert_eq!(k.logged("SETNX j v"), vec![(0, "SETNX j v".to_string())]);
        assert_eq!(k.logged("SETNX j v"), vec![]);
    }

    #[test]
    fn getdel_returns_deletes_and_logs_del() {
        let mut k = Kit::new();
        k.run("SET k v");
        assert_eq!(k.logged("getdel k"), vec![(0, "DEL k".to_string())]);
        assert_eq!(k.reply("GET k"), Frame::Null);
        let out = k.run("GETDEL k");
        assert_eq!(
            (out.reply, out.propagate.len(), out.dirty),
            (Frame::Null, 0, 0)
        );
    }

    #[test]
    fn getset_answers_the_old_value_drops_the_ttl_and_logs_set() {
        let mut k = Kit::new();
        assert_eq!(k.reply("GETSET a 1"), Frame::Null);
        k.run("EXPIRE a 100");
        let out = k.run("GETSET a 2");
        assert_eq!(out.reply, bulk("1"));
        assert_eq!(logged(&out), vec![(0, "SET a 2".to_string())]);
        assert_eq!(k.reply("TTL a"), int(-1));
        assert_eq!(
            k.reply("GETSET a"),
            err("ERR wrong number of arguments for 'getset' command")
        );
    }

    #[test]
    fn getex_sets_or_clears_expiry_and_logs_absolute_forms() {
        let mut k = Kit::new();
        k.run("SET k v");
        assert_eq!(
            k.logged("GETEX k"),
            vec![],
            "GETEX without options is a read"
        );
        assert_eq!(
            k.logged("GETEX k EX 5"),
            vec![(0, format!("PEXPIREAT k {}", T0 + 5000))]
        );
        assert_eq!(
            k.logged(&format!("GETEX k PXAT {}", T0 + 7)),
            vec![(0, format!("PEXPIREAT k {}", T0 + 7))]
        );
        assert_eq!(k.reply("PTTL k"), int(7));
        assert_eq!(
            k.logged("GETEX k PERSIST"),
            vec![(0, "PERSIST k".to_string())]
        );
        assert_eq!(k.logged("GETEX k PERSIST"), vec![], "nothing to persist");
        let out = k.run(&format!("GETEX k EXAT {}", T0 / 1000 - 1));
        assert_eq!(
            out.reply,
            bulk("v"),
            "the value is replied before the key goes"
        );
        assert_eq!(logged(&out), vec![(0, "DEL k".to_string())]);
        assert_eq!(k.reply("GETEX missing EX 1"), Frame::Null);
        k.run("SET k v");
        assert_eq!(k.reply("GETEX k EX 1 PERSIST"), err("ERR syntax error"));
        assert_eq!(k.reply("GETEX k KEEPTTL"), err("ERR syntax error"));
        assert_eq!(k.reply("GETEX k NX"), err("ERR syntax error"));
        assert_eq!(
            k.reply("GETEX k EX -1"),
            err("ERR invalid expire time in 'getex' command")
        );
    }

    #[test]
    fn mset_msetnx_mget() {
        let mut k = Kit::new();
        assert_eq!(k.reply("MSET a 1 b 2"), ok());
        assert_eq!(
            k.reply("MSET a 1 b"),
            err("ERR wrong number of arguments for 'mset' command")
        );
        assert_eq!(
            k.reply("MSETNX a 1 b"),
            err("ERR wrong number of arguments for 'msetnx' command")
        );
        assert_eq!(
            k.reply("MGET a nope b"),
            Frame::Array(vec![bulk("1"), Frame::Null, bulk("2")])
        );
        assert_eq!(k.reply("MSETNX c 3 a 9"), int(0));
        assert_eq!(
            k.reply("EXISTS c"),
            int(0),
            "MSETNX sets nothing if one key exists"
        );
        let out = k.run("MSETNX c 3 d 4");
        assert_eq!((&out.reply, out.dirty), (&int(1), 2));
        assert_eq!(logged(&out), vec![(0, "MSETNX c 3 d 4".to_string())]);
        k.run("SET t v EX 100");
        k.run("MSET t w");
        assert_eq!(k.reply("TTL t"), int(-1), "MSET clears TTLs");
    }

    #[test]
    fn writing_an_expired_key_logs_its_del_first_wrapped_in_multi() {
        let mut k = Kit::new();
        k.run("SET k v PX 10");
        k.now_ms += 11;
        assert_eq!(
            k.logged("SET k w"),
            vec![
                (0, "MULTI".to_string()),
                (0, "DEL k".to_string()),
                (0, "SET k w".to_string()),
                (0, "EXEC".to_string())
            ]
        );
        k.run("SET k v PX 10");
        k.now_ms += 11;
        let out = k.run("GET k");
        assert_eq!(
            (&out.reply, logged(&out), out.dirty),
            (&Frame::Null, vec![(0, "DEL k".to_string())], 0)
        );
    }
}
