//! One script run: binds `KEYS`/`ARGV` and `redis.call` to the running execution unit, runs
//! the compiled function under Redis's error handler and converts the outcome to the reply.
//!
//! Owns the bridge between the VM and the command layer. Invariant: `redis.call` exists only
//! for the length of the run (a scoped function bound to this unit's [`Exec`]), so every
//! command a script runs is part of this unit — its writes land in this unit's propagation
//! and are wrapped in MULTI/EXEC with the others by [`Exec::finish`](super::super::exec).

use std::cell::RefCell;

use bytes::Bytes;
use mlua::{Lua, MultiValue, Table, Value};

use super::super::exec::Exec;
use super::super::state::Interrupt;
use super::call::{script_call, ScriptFlags};
use super::convert::{frame_to_lua, lua_to_arg, lua_to_frame, single};
use super::vm::{self, with_vm, CallError, Vm};
use crate::resp::Frame;

/// What a script is run with.
pub(crate) struct Invocation<'a> {
    pub(crate) sha: [u8; 40],
    pub(crate) body: &'a Bytes,
    pub(crate) keys: &'a [Bytes],
    pub(crate) args: &'a [Bytes],
    pub(crate) read_only: bool,
}

/// Compiles `body` (named `sha`) without running it: `Err` is the compile error reply.
pub(crate) fn compile(sha: [u8; 40], body: &Bytes) -> Result<(), Frame> {
    with_vm(|vm| vm.function(sha, body).map(drop).map_err(Frame::Error))
}

/// Runs a script to its reply.
pub(crate) fn run(x: &mut Exec<'_>, inv: &Invocation<'_>) -> Frame {
    with_vm(|vm| {
        let f = match vm.function(inv.sha, inv.body) {
            Ok(f) => f,
            Err(text) => return Frame::Error(text),
        };
        let lua = &vm.lua;
        let bound = array(lua, inv.keys).and_then(|keys| vm.base.raw_set("KEYS", keys));
        let bound = bound.and_then(|()| vm.base.raw_set("ARGV", array(lua, inv.args)?));
        if let Err(e) = bound {
            return Frame::Error(format!("ERR Error running script: {e}"));
        }
        guarded(vm, x, inv.read_only, (&inv.sha, true), |vm| {
            vm.xpcall.call((f, vm.handler.clone()))
        })
    })
}

/// Runs the callback of function `name` of the library `code` with `(KEYS, ARGV)`.
pub(crate) fn run_function(
    x: &mut Exec<'_>,
    code: &Bytes,
    name: &[u8],
    (keys, args): (&[Bytes], &[Bytes]),
    read_only: bool,
) -> Frame {
    with_vm(|vm| {
        let f = match super::load::callback(vm, code, name) {
            Ok(f) => f,
            Err(text) => return Frame::Error(text),
        };
        guarded(vm, x, read_only, (name, false), |vm| {
            let (keys, args) = (array(&vm.lua, keys)?, array(&vm.lua, args)?);
            vm.fcall.call((f, vm.handler.clone(), keys, args))
        })
    })
}

/// Runs `call` with the budget (or the runtime's busy check) armed and `redis.call` bound to
/// this unit. `(name, eval)`: the script's SHA-1 or function name, and whether it is an EVAL.
fn guarded(
    vm: &Vm,
    x: &mut Exec<'_>,
    read_only: bool,
    (name, eval): (&[u8], bool),
    call: impl FnOnce(&Vm) -> mlua::Result<(bool, Value)>,
) -> Frame {
    // Out of the unit while the script runs: the hook uses it between `redis.call`s.
    let mut busy = x.busy.take();
    if let Some(busy) = busy.as_deref_mut() {
        busy.start(eval);
    }
    vm.arm(x.ctx.random, busy.is_some());
    let busy = RefCell::new(busy);
    let result = run_in(vm, x, read_only, name, &busy, call);
    vm.lua.remove_hook();
    x.busy = busy.into_inner();
    result.unwrap_or_else(|e| Frame::Error(format!("ERR Error running script: {e}")))
}

type BusyCell<'b, 'a> = RefCell<Option<&'b mut (dyn Interrupt + 'a)>>;

fn run_in(
    vm: &Vm,
    x: &mut Exec<'_>,
    read_only: bool,
    name: &[u8],
    busy: &BusyCell<'_, '_>,
    call: impl FnOnce(&Vm) -> mlua::Result<(bool, Value)>,
) -> mlua::Result<Frame> {
    let lua = &vm.lua;
    let flags = ScriptFlags {
        read_only,
        wrote: false,
    };
    let unit = RefCell::new((x, flags));
    // Errors `redis.call`/`pcall` returned: counted in errorstats already.
    let raised: RefCell<Vec<String>> = RefCell::new(Vec::new());
    let note = |(value, text): (Value, Option<String>)| {
        if let Some(text) = &text {
            raised.borrow_mut().push(text.clone());
        }
        (value, text)
    };
    lua.scope(|scope| {
        // The hook's tick: `wrote` decides whether SCRIPT KILL may stop the script.
        let tick = scope.create_function(|_, ()| {
            let wrote = unit.try_borrow().map_or(true, |u| u.1.wrote);
            let mut busy = busy.borrow_mut();
            Ok(busy.as_deref_mut().is_some_and(|b| b.tick(wrote)))
        })?;
        lua.set_named_registry_value(vm::BUSY_TICK, tick)?;
        let call_fn = scope.create_function(|lua, args: MultiValue| {
            match note(redis_call(lua, &unit, args)?) {
                (_, Some(text)) => Err(mlua::Error::external(CallError(text))),
                (value, None) => Ok(value),
            }
        })?;
        let pcall = scope.create_function(|lua, args| Ok(note(redis_call(lua, &unit, args)?).0))?;
        vm.redis.raw_set("call", call_fn)?;
        vm.redis.raw_set("pcall", pcall)?;
        let outcome = call(vm);
        vm.redis.raw_set("call", Value::Nil)?;
        vm.redis.raw_set("pcall", Value::Nil)?;
        lua.unset_named_registry_value(vm::BUSY_TICK)?;
        let (ok, value) = outcome?;
        let frame = if ok {
            lua_to_frame(&value, vm::resp3())
        } else {
            failure(&value, name)
        };
        if let Frame::Error(text) = &frame {
            let counted = raised.borrow().iter().any(|e| text.starts_with(e.as_str()));
            unit.borrow_mut().0.error_counted = counted;
        }
        Ok(frame)
    })
}

/// `redis.pcall`'s body: the reply as a Lua value, and its error text if it is an error (so
/// `redis.call` raises it).
fn redis_call(
    lua: &Lua,
    unit: &RefCell<(&mut Exec<'_>, ScriptFlags)>,
    args: MultiValue,
) -> mlua::Result<(Value, Option<String>)> {
    let refused = |text: &str| {
        let table = single(lua, "err", text.as_bytes())?;
        Ok((Value::Table(table), Some(text.to_string())))
    };
    if args.is_empty() {
        return refused("ERR Please specify at least one argument for this redis lib call");
    }
    let argv: Option<Vec<Bytes>> = args.iter().map(lua_to_arg).collect();
    let Some(argv) = argv else {
        return refused("ERR Lua redis lib command arguments must be strings or integers");
    };
    let mut unit = unit.borrow_mut();
    let (x, flags) = &mut *unit;
    match script_call(x, flags, &argv) {
        Err(text) => refused(&text),
        Ok(frame) => {
            let failed = match &frame {
                Frame::Error(text) => Some(text.clone()),
                _ => None,
            };
            Ok((frame_to_lua(lua, &frame, vm::resp3())?, failed))
        }
    }
}

fn array(lua: &Lua, items: &[Bytes]) -> mlua::Result<Table> {
    let table = lua.create_table_with_capacity(items.len(), 0)?;
    for (i, item) in items.iter().enumerate() {
        table.raw_set(i + 1, lua.create_string(item)?)?;
    }
    Ok(table)
}

/// A failed run as Redis replies it: the error, then ` script: <sha>, on <source>:<line>.`
/// when the error handler found the script line.
fn failure(value: &Value, sha: &[u8]) -> Frame {
    let Value::Table(t) = value else {
        return Frame::error(format!(
            "ERR Error running script {}",
            String::from_utf8_lossy(sha)
        ));
    };
    let text = match lua_to_frame(value, false) {
        Frame::Error(text) => text,
        _ => "ERR execution failure".to_string(),
    };
    let source: Option<String> = t.raw_get("source").ok();
    let line: Option<i64> = t.raw_get("line").ok();
    match (source, line) {
        (Some(source), Some(line)) => {
            let sha = String::from_utf8_lossy(sha);
            Frame::Error(format!("{text} script: {sha}, on {source}:{line}."))
        }
        _ => Frame::Error(text),
    }
}
