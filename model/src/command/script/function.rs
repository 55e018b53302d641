//! Redis 7.0 functions: FCALL, FCALL_RO and FUNCTION LOAD|DELETE|LIST|FLUSH|STATS|KILL|DUMP|
//! RESTORE, over
//! the libraries in [`Libraries`] (engine state) and the shared Lua VM.
//!
//! Owns the handlers and their error texts (`functions.c`, `scriptPrepareForRun`). Invariants:
//! FUNCTION LOAD|DELETE|FLUSH count a change, so they are propagated as sent and an AOF replay
//! rebuilds the libraries; FCALL is never propagated itself — its writes are, as EVAL's; a
//! failed LOAD leaves the libraries as they were.

use bytes::Bytes;

use super::super::exec::Exec;
use super::super::glob::string_match;
use super::super::num::integer_arg;
use super::super::reply;
use super::libraries::{create, dump, restore};
use super::run::run_function;
use crate::functions::{Library, FLAG_NAMES, NO_WRITES};
use crate::resp::Frame;

pub(crate) fn fcall(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    fcall_generic(x, argv, false)
}

pub(crate) fn fcall_ro(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    fcall_generic(x, argv, true)
}

/// Redis's `fcallCommandGeneric` and the flag checks of `scriptPrepareForRun`.
fn fcall_generic(x: &mut Exec<'_>, argv: &[Bytes], ro: bool) -> Frame {
    let Some((_, library, info)) = x.ks.functions.function(&argv[1]) else {
        return reply::err("ERR Function not found");
    };
    let (code, flags) = (library.code.clone(), info.flags);
    let Ok(numkeys) = integer_arg(&argv[2]) else {
        return reply::err("ERR Bad number of keys provided");
    };
    if numkeys > (argv.len() - 3) as i64 {
        return reply::err("ERR Number of keys can't be greater than number of args");
    }
    if numkeys < 0 {
        return reply::err("ERR Number of keys can't be negative");
    }
    if flags & NO_WRITES == 0 {
        if let Some(denial) = x.ctx.write_denial.as_ref().filter(|_| !x.ctx.loading) {
            return reply::err(denial);
        }
        if ro {
            return reply::err("ERR Can not execute a script with write flag using *_ro command.");
        }
    }
    let split = 3 + numkeys as usize;
    let read_only = ro || flags & NO_WRITES != 0;
    let db = x.session.db;
    let io = (&argv[3..split], &argv[split..]);
    let frame = run_function(x, &code, &argv[1], io, read_only);
    x.session.db = db;
    x.prevent_propagation();
    frame
}

/// FUNCTION and its subcommands.
pub(crate) fn function(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    let sub = argv[1].to_ascii_lowercase();
    let arity_ok = match sub.as_slice() {
        b"load" => argv.len() >= 3,
        b"delete" => argv.len() == 3,
        b"list" | b"flush" => argv.len() >= 2,
        b"stats" | b"kill" | b"dump" => argv.len() == 2,
        b"restore" => argv.len() >= 3,
        _ => return subcommand_error("FUNCTION", &argv[1]),
    };
    if !arity_ok {
        let name = format!("function|{}", String::from_utf8_lossy(&sub));
        return reply::wrong_arity(&name);
    }
    let writes = matches!(sub.as_slice(), b"load" | b"delete" | b"flush" | b"restore");
    // These subcommands are `write` in Redis: refused while persistence fails (MISCONF).
    if let Some(denial) = x.ctx.write_denial.as_ref().filter(|_| writes) {
        return reply::err(denial);
    }
    match sub.as_slice() {
        b"load" => load_command(x, argv),
        b"delete" => {
            if x.ks.functions.libraries.remove(&argv[2]).is_none() {
                return reply::err("ERR Library not found");
            }
            x.add_dirty(1);
            reply::ok()
        }
        b"list" => list(x, &argv[2..]),
        b"flush" => match flush_mode(&argv[2..]) {
            Ok(()) => {
                x.ks.functions.libraries.clear();
                // As Redis's functionFlushCommand: counted as a change, so it is propagated.
                x.add_dirty(1);
                reply::ok()
            }
            Err(()) => reply::err("ERR FUNCTION FLUSH only supports SYNC|ASYNC option"),
        },
        b"stats" => stats(x),
        b"dump" => Frame::Bulk(dump(&x.ks.functions)),
        b"restore" => restore(x, argv),
        // The engine runs one step at a time: no script is ever running when this runs.
        _ => reply::err("NOTBUSY No scripts in execution right now."),
    }
}

/// Redis's `functionLoadCommand` and `functionsCreateWithLibraryCtx`.
fn load_command(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    let mut replace = false;
    let mut pos = 2;
    while pos < argv.len() - 1 {
        if !argv[pos].eq_ignore_ascii_case(b"replace") {
            let option = String::from_utf8_lossy(&argv[pos]);
            return reply::err(&format!("ERR Unknown option given: {option}"));
        }
        replace = true;
        pos += 1;
    }
    let code = argv[pos].clone();
    match create(&mut x.ks.functions, code, replace) {
        Ok(name) => {
            x.add_dirty(1);
            Frame::Bulk(name)
        }
        Err(text) => Frame::Error(text),
    }
}

/// Redis's `functionListCommand`: `[LIBRARYNAME pattern] [WITHCODE]`.
fn list(x: &Exec<'_>, args: &[Bytes]) -> Frame {
    let (mut with_code, mut pattern) = (false, None);
    let mut i = 0;
    while i < args.len() {
        if !with_code && args[i].eq_ignore_ascii_case(b"withcode") {
            with_code = true;
        } else if pattern.is_none() && args[i].eq_ignore_ascii_case(b"libraryname") {
            let Some(p) = args.get(i + 1) else {
                return reply::err("ERR library name argument was not given");
            };
            pattern = Some(p.to_ascii_lowercase());
            i += 1;
        } else {
            let arg = String::from_utf8_lossy(&args[i]);
            return reply::err(&format!("ERR Unknown argument {arg}"));
        }
        i += 1;
    }
    let libraries = x.ks.functions.libraries.iter().filter(|(name, _)| {
        let name = name.to_ascii_lowercase();
        pattern.as_ref().is_none_or(|p| string_match(p, &name))
    });
    Frame::Array(
        libraries
            .map(|(n, l)| library_entry(n, l, with_code))
            .collect(),
    )
}

fn library_entry(name: &Bytes, library: &Library, with_code: bool) -> Frame {
    let key = |k: &str| Frame::Bulk(Bytes::copy_from_slice(k.as_bytes()));
    let functions = library.functions.iter().map(|(fname, info)| {
        let description = info.description.clone().map_or(Frame::Null, Frame::Bulk);
        let flags = FLAG_NAMES.iter().enumerate();
        let flags = flags.filter(|(bit, _)| info.flags & (1 << bit) != 0);
        let flags = flags.map(|(_, f)| Frame::Simple(f.to_string()));
        Frame::Map(vec![
            (key("name"), Frame::Bulk(fname.clone())),
            (key("description"), description),
            (key("flags"), Frame::Set(flags.collect())),
        ])
    });
    let mut entry = vec![
        (key("library_name"), Frame::Bulk(name.clone())),
        (key("engine"), key("LUA")),
        (key("functions"), Frame::Array(functions.collect())),
    ];
    if with_code {
        entry.push((key("library_code"), Frame::Bulk(library.code.clone())));
    }
    Frame::Map(entry)
}

/// Redis's `functionStatsCommand`: no script is ever running between engine steps.
fn stats(x: &Exec<'_>) -> Frame {
    let key = |k: &str| Frame::Bulk(Bytes::copy_from_slice(k.as_bytes()));
    let functions = &x.ks.functions;
    let lua = Frame::Map(vec![
        (
            key("libraries_count"),
            reply::count(functions.libraries.len()),
        ),
        (
            key("functions_count"),
            reply::count(functions.functions_count()),
        ),
    ]);
    Frame::Map(vec![
        (key("running_script"), Frame::Null),
        (key("engines"), Frame::Map(vec![(key("LUA"), lua)])),
    ])
}

/// `[ASYNC|SYNC]`: both flush at once here (the state is small and the engine owns it).
pub(crate) fn flush_mode(args: &[Bytes]) -> Result<(), ()> {
    match args {
        [] => Ok(()),
        [mode] if mode.eq_ignore_ascii_case(b"sync") || mode.eq_ignore_ascii_case(b"async") => {
            Ok(())
        }
        _ => Err(()),
    }
}

/// Redis's `addReplySubcommandSyntaxError`.
pub(crate) fn subcommand_error(command: &str, sub: &Bytes) -> Frame {
    let sub = String::from_utf8_lossy(sub);
    let sub: String = sub.chars().take(128).collect();
    reply::err(&format!(
        "ERR unknown subcommand or wrong number of arguments for '{sub}'. Try {command} HELP."
    ))
}
