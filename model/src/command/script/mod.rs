//! Lua scripting as Redis 7.0 has it: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, SCRIPT
//! LOAD|EXISTS|FLUSH|KILL; functions (FUNCTION, FCALL, FCALL_RO) in [`function`], their
//! libraries in [`crate::functions`] (data-set state) and their loading in [`load`].
//!
//! Map: [`cache`] is the script cache (engine state, in `Shared`); [`vm`] the per-thread Lua
//! VM and its sandbox (`sandbox.lua`), outside the engine state; [`convert`] the type tables;
//! [`run`] one run, [`call`] what `redis.call` may run; [`libs`] the C libraries Redis loads
//! (cjson, cmsgpack, bit). This file holds the handlers only.
//!
//! Invariants: a script runs inside one execution unit (atomic: one engine step); it is never
//! propagated itself — its writes are (effects replication), wrapped in MULTI/EXEC when more
//! than one; the caller's selected database is the same after the script as before.

pub(crate) mod busy;
pub(crate) mod cache;
mod call;
mod convert;
mod function;
mod libraries;
mod libs;
mod load;
mod run;
mod shebang;
mod vm;

#[cfg(test)]
mod function_tests;
#[cfg(test)]
mod tests;

use bytes::Bytes;

use super::exec::Exec;
use super::num::integer_arg;
use super::reply;
use crate::functions::NO_WRITES;
use crate::resp::Frame;
pub(crate) use function::{fcall, fcall_ro, function};
use function::{flush_mode, subcommand_error};
pub(crate) use libraries::load_libraries;
use run::Invocation;

const NOSCRIPT: &str = "NOSCRIPT No matching script. Please use EVAL.";

pub(crate) fn eval(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    eval_generic(x, argv, false, false)
}

pub(crate) fn evalsha(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    eval_generic(x, argv, true, false)
}

pub(crate) fn eval_ro(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    eval_generic(x, argv, false, true)
}

pub(crate) fn evalsha_ro(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    eval_generic(x, argv, true, true)
}

/// Redis's `evalGenericCommand`: the key count, the script (cached on EVAL, looked up on
/// EVALSHA), the run; the EVAL itself is never propagated.
fn eval_generic(x: &mut Exec<'_>, argv: &[Bytes], by_sha: bool, read_only: bool) -> Frame {
    let numkeys = match integer_arg(&argv[2]) {
        Ok(n) => n,
        Err(e) => return e,
    };
    if numkeys > (argv.len() - 3) as i64 {
        return reply::err("ERR Number of keys can't be greater than number of args");
    }
    if numkeys < 0 {
        return reply::err("ERR Number of keys can't be negative");
    }
    let (sha, declared) = if by_sha {
        match x.shared.scripts.get_named(&argv[1]) {
            Some((sha, body)) => (sha, shebang::extract(body)),
            None => return reply::err(NOSCRIPT),
        }
    } else {
        let sha = cache::sha1hex(&argv[1]);
        let declared = shebang::extract(&argv[1]);
        if let Ok(d) = &declared {
            if let Err(e) = run::compile(sha, &d.code) {
                return e;
            }
            x.shared.scripts.insert(&argv[1]);
        }
        (sha, declared)
    };
    let declared = match declared {
        Ok(d) => d,
        Err(text) => return Frame::Error(text),
    };
    if let Some(refusal) = flags_refusal(x, declared.flags, read_only) {
        return refusal;
    }
    let split = 3 + numkeys as usize;
    let no_writes = declared.flags.is_some_and(|f| f & NO_WRITES != 0);
    let invocation = Invocation {
        sha,
        body: &declared.code,
        keys: &argv[3..split],
        args: &argv[split..],
        read_only: read_only || no_writes,
    };
    let db = x.session.db;
    let frame = run::run(x, &invocation);
    x.session.db = db;
    x.prevent_propagation();
    frame
}

/// Redis's `scriptPrepareForRun` for a script with a shebang that may write: refused up front
/// where the server refuses writes, and under EVAL_RO (scripts without one find out at their
/// first write).
fn flags_refusal(x: &Exec<'_>, flags: Option<u8>, read_only: bool) -> Option<Frame> {
    let flags = flags?;
    if flags & NO_WRITES != 0 {
        return None;
    }
    if let Some(denial) = x.ctx.write_denial.as_ref().filter(|_| !x.ctx.loading) {
        return Some(reply::err(denial));
    }
    read_only
        .then(|| reply::err("ERR Can not execute a script with write flag using *_ro command."))
}

/// SCRIPT LOAD|EXISTS|FLUSH|KILL (HELP and DEBUG are not served).
pub(crate) fn script(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    let sub = argv[1].to_ascii_lowercase();
    let arity_ok = match sub.as_slice() {
        b"load" => argv.len() == 3,
        b"exists" => argv.len() >= 3,
        b"flush" => argv.len() >= 2,
        b"kill" => argv.len() == 2,
        _ => return subcommand_error("SCRIPT", &argv[1]),
    };
    if !arity_ok {
        let name = format!("script|{}", String::from_utf8_lossy(&sub));
        return reply::wrong_arity(&name);
    }
    match sub.as_slice() {
        b"load" => script_load(x, &argv[2]),
        b"exists" => {
            let cache = &x.shared.scripts;
            let found = argv[2..]
                .iter()
                .map(|sha| reply::int(cache.contains(sha).into()));
            Frame::Array(found.collect())
        }
        b"flush" => match flush_mode(&argv[2..]) {
            Ok(()) => {
                x.shared.scripts.clear();
                vm::flush();
                reply::ok()
            }
            Err(()) => reply::err("ERR SCRIPT FLUSH only support SYNC|ASYNC option"),
        },
        // A script past the threshold answers SCRIPT KILL itself (`busy.rs`): one that reaches
        // here runs when no script does.
        _ => reply::err("NOTBUSY No scripts in execution right now."),
    }
}

fn script_load(x: &mut Exec<'_>, body: &Bytes) -> Frame {
    let sha = cache::sha1hex(body);
    let declared = match shebang::extract(body) {
        Ok(d) => d,
        Err(text) => return Frame::Error(text),
    };
    if let Err(e) = run::compile(sha, &declared.code) {
        return e;
    }
    x.shared.scripts.insert(body);
    Frame::Bulk(Bytes::copy_from_slice(&sha))
}
