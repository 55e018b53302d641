//! The command index: every command this layer runs, with Redis 7.0's arity and `write` flag.
//!
//! Invariant: a name resolves to at most one [`Spec`] (ASCII case-insensitively), and a handler
//! is only ever called with an argv whose length satisfies its spec's arity.

use bytes::Bytes;

use super::exec::Exec;
use super::{counter, db, expire, keys, range, reply, scan, server, string, transaction};
use crate::resp::Frame;

/// Runs a command whose name and arity were checked.
pub(crate) type Handler = fn(&mut Exec<'_>, &[Bytes]) -> Frame;

/// One command.
pub(crate) struct Spec {
    /// Lower case, as Redis's `fullname` in error texts.
    pub(crate) name: &'static str,
    /// Redis's arity, counting the name: `n > 0` exactly n arguments, `-n` at least n.
    pub(crate) arity: i32,
    /// Redis's `write` flag.
    pub(crate) write: bool,
    /// Runs at once inside MULTI instead of being queued (EXEC, DISCARD, MULTI, WATCH).
    pub(crate) in_multi: bool,
    pub(crate) run: Handler,
}

const fn spec(name: &'static str, arity: i32, write: bool, run: Handler) -> Spec {
    Spec {
        name,
        arity,
        write,
        in_multi: false,
        run,
    }
}

const fn control(name: &'static str, arity: i32, run: Handler) -> Spec {
    Spec {
        name,
        arity,
        write: false,
        in_multi: true,
        run,
    }
}

/// The index. Read-only commands have `write: false`.
static COMMANDS: &[Spec] = &[
    spec("get", 2, false, string::get),
    spec("set", -3, true, string::set),
    spec("setnx", 3, true, string::setnx),
    spec("setex", 4, true, string::setex),
    spec("psetex", 4, true, string::psetex),
    spec("getdel", 2, true, string::getdel),
    spec("getex", -2, true, string::getex),
    spec("mget", -2, false, string::mget),
    spec("mset", -3, true, string::mset),
    spec("msetnx", -3, true, string::msetnx),
    spec("incr", 2, true, counter::incr),
    spec("decr", 2, true, counter::decr),
    spec("incrby", 3, true, counter::incrby),
    spec("decrby", 3, true, counter::decrby),
    spec("incrbyfloat", 3, true, counter::incrbyfloat),
    spec("append", 3, true, range::append),
    spec("strlen", 2, false, range::strlen),
    spec("getrange", 4, false, range::getrange),
    spec("substr", 4, false, range::getrange),
    spec("setrange", 4, true, range::setrange),
    spec("del", -2, true, keys::del),
    spec("unlink", -2, true, keys::del),
    spec("exists", -2, false, keys::exists),
    spec("type", 2, false, keys::type_),
    spec("rename", 3, true, keys::rename),
    spec("renamenx", 3, true, keys::renamenx),
    spec("keys", 2, false, keys::keys),
    spec("randomkey", 1, false, keys::randomkey),
    spec("scan", -2, false, scan::scan),
    spec("expire", -3, true, expire::expire),
    spec("pexpire", -3, true, expire::pexpire),
    spec("expireat", -3, true, expire::expireat),
    spec("pexpireat", -3, true, expire::pexpireat),
    spec("ttl", 2, false, expire::ttl),
    spec("pttl", 2, false, expire::pttl),
    spec("persist", 2, true, expire::persist),
    spec("select", 2, false, db::select),
    spec("swapdb", 3, true, db::swapdb),
    spec("flushdb", -1, true, db::flushdb),
    spec("flushall", -1, true, db::flushall),
    spec("dbsize", 1, false, db::dbsize),
    spec("ping", -1, false, server::ping),
    spec("echo", 2, false, server::echo),
    spec("time", 1, false, server::time),
    control("multi", 1, transaction::multi),
    control("exec", 1, transaction::exec),
    control("discard", 1, transaction::discard),
    control("watch", -2, transaction::watch),
    spec("unwatch", 1, false, transaction::unwatch),
];

/// The spec of a command name, in any letter case.
pub(crate) fn lookup(name: &[u8]) -> Option<&'static Spec> {
    COMMANDS
        .iter()
        .find(|s| s.name.as_bytes().eq_ignore_ascii_case(name))
}

/// The spec of `argv`'s command if it is known and `argv` has a valid length, else Redis's
/// error reply.
pub(crate) fn check(argv: &[Bytes]) -> Result<&'static Spec, Frame> {
    let spec = argv
        .first()
        .and_then(|name| lookup(name))
        .ok_or_else(|| reply::unknown_command(argv))?;
    let argc = argv.len() as i64;
    let arity = i64::from(spec.arity);
    if (arity > 0 && argc != arity) || argc < -arity {
        return Err(reply::wrong_arity(spec.name));
    }
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_lower_case_and_case_insensitive() {
        for (i, s) in COMMANDS.iter().enumerate() {
            assert_eq!(s.name, s.name.to_ascii_lowercase());
            assert!(
                COMMANDS[i + 1..].iter().all(|t| t.name != s.name),
                "{} twice",
                s.name
            );
            assert_eq!(
                lookup(s.name.to_ascii_uppercase().as_bytes()).map(|t| t.name),
                Some(s.name)
            );
        }
        assert!(lookup(b"nosuch").is_none());
    }

    #[test]
    fn arity_is_checked_as_redis() {
        let argv = |words: &[&str]| {
            words
                .iter()
                .map(|w| Bytes::copy_from_slice(w.as_bytes()))
                .collect::<Vec<_>>()
        };
        assert!(check(&argv(&["GET", "k"])).is_ok());
        assert_eq!(
            check(&argv(&["GET"])).err(),
            Some(Frame::error(
                "ERR wrong number of arguments for 'get' command"
            ))
        );
        assert!(check(&argv(&["get", "a", "b"])).is_err());
        assert!(check(&argv(&["set", "a"])).is_err());
        assert!(check(&argv(&["set", "a", "b", "nx", "get"])).is_ok());
        assert!(check(&argv(&["ping"])).is_ok());
        assert!(check(&[]).is_err());
    }
}
