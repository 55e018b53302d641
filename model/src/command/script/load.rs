//! Running a function library's code once to collect what it registers (Redis's
//! `luaEngineCreate` and `luaRegisterFunction`): the load-time sandbox offers only
//! `redis.register_function`, `redis.log` and the log levels, so no command runs at load time.
//!
//! Owns the Lua side of FUNCTION LOAD and the VM's cache of library callbacks. Invariant: the
//! callbacks of a library are a pure function of its code, so the cache may be rebuilt from
//! the engine's [`Libraries`](crate::functions::Libraries) at any time (a new thread, a restart).

use std::cell::RefCell;
use std::collections::HashMap;

use bytes::Bytes;
use mlua::{Function, Lua, MultiValue, Table, Value};

use super::cache::sha1hex;
use super::vm::Vm;
use crate::functions::{valid_name, FunctionInfo, BAD_NAME, FLAG_NAMES};

/// Libraries whose callbacks a VM keeps (each FUNCTION LOAD REPLACE of new code adds one).
const CACHED_LIBRARIES_MAX: usize = 256;

/// One `redis.register_function` call.
pub(crate) struct Registered {
    pub(crate) name: Bytes,
    pub(crate) info: FunctionInfo,
    pub(crate) callback: Function,
}

/// Runs the library `code` (its body from `body_at`) and returns its functions, in
/// registration order; `Err` is the error reply's text. Caches the callbacks on success.
pub(crate) fn load(vm: &mut Vm, code: &Bytes, body_at: usize) -> Result<Vec<Registered>, String> {
    let chunk = vm.lua.load(&code[body_at..]).set_name("@user_function");
    let chunk = chunk.set_environment(vm.lib_env.clone()).into_function();
    let chunk = chunk.map_err(|e| format!("ERR Error compiling function: {}", text(&e)))?;
    let found = RefCell::new(Vec::new());
    // Library code runs once at load: its randomness needs no seed of its own.
    vm.arm(0, false);
    let _ = vm.set_loading.call::<()>(true);
    let ran = vm.lua.scope(|scope| {
        let register = scope.create_function(|lua, args: MultiValue| {
            let registered = read_args(lua, args).map_err(mlua::Error::RuntimeError)?;
            let mut found = found.borrow_mut();
            if found.iter().any(|r: &Registered| r.name == registered.name) {
                let text = "Function already exists in the library".to_string();
                return Err(mlua::Error::RuntimeError(text));
            }
            found.push(registered);
            Ok(())
        })?;
        vm.load_redis.raw_set("register_function", register)?;
        let ran = chunk.call::<()>(());
        vm.load_redis.raw_set("register_function", Value::Nil)?;
        Ok(ran)
    });
    let _ = vm.set_loading.call::<()>(false);
    vm.lua.remove_hook();
    let ran = ran.and_then(|r| r);
    ran.map_err(|e| format!("ERR Error registering functions: {}", text(&e)))?;
    let found = found.into_inner();
    let callbacks = found.iter().map(|r| (r.name.clone(), r.callback.clone()));
    if vm.libraries.len() >= CACHED_LIBRARIES_MAX {
        vm.libraries.clear(); // A cache: whatever is still loaded compiles again on use.
    }
    vm.libraries.insert(sha1hex(code), callbacks.collect());
    Ok(found)
}

/// The callback of `function` in the library `code`, loading the code on first use.
pub(crate) fn callback(vm: &mut Vm, code: &Bytes, function: &[u8]) -> Result<Function, String> {
    let sha = sha1hex(code);
    if !vm.libraries.contains_key(&sha) {
        let body_at = code.iter().position(|&c| c == b'\n').unwrap_or(code.len());
        load(vm, code, body_at)?;
    }
    let callbacks: Option<&HashMap<Bytes, Function>> = vm.libraries.get(&sha);
    callbacks
        .and_then(|c| c.get(function).cloned())
        .ok_or_else(|| "ERR Function not found".to_string())
}

/// The text of a load error: Lua's message, or the register error's.
fn text(e: &mlua::Error) -> String {
    match e {
        mlua::Error::CallbackError { cause, .. } => text(cause),
        mlua::Error::RuntimeError(t) => t.clone(),
        mlua::Error::SyntaxError { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

/// Redis's `luaRegisterFunctionReadArgs`: `(name, callback)` or one table of named arguments.
fn read_args(lua: &Lua, args: MultiValue) -> Result<Registered, String> {
    let args: Vec<Value> = args.into_iter().collect();
    let registered = match args.as_slice() {
        [Value::Table(t)] => named_args(lua, t)?,
        [_] => {
            return Err(
                "calling redis.register_function with a single argument is only \
                 applicable to Lua table (representing named arguments)."
                    .into(),
            )
        }
        [name, callback] => {
            let Some(name) = string_of(lua, name) else {
                return Err("first argument to redis.register_function must be a string".into());
            };
            let Value::Function(callback) = callback else {
                return Err("second argument to redis.register_function must be a function".into());
            };
            let info = FunctionInfo {
                description: None,
                flags: 0,
            };
            (name, info, callback.clone())
        }
        _ => return Err("wrong number of arguments to redis.register_function".into()),
    };
    let (name, info, callback) = registered;
    if !valid_name(&name) {
        return Err(BAD_NAME.into());
    }
    Ok(Registered {
        name,
        info,
        callback,
    })
}

type Args = (Bytes, FunctionInfo, Function);

/// Redis's `luaRegisterFunctionReadNamedArgs`.
fn named_args(lua: &Lua, table: &Table) -> Result<Args, String> {
    let (mut name, mut description, mut callback, mut flags) = (None, None, None, 0);
    for pair in table.clone().pairs::<Value, Value>() {
        let (key, value) = pair.map_err(|e| e.to_string())?;
        let Some(key) = string_of(lua, &key) else {
            return Err(
                "named argument key given to redis.register_function is not a string".into(),
            );
        };
        match key.to_ascii_lowercase().as_slice() {
            b"function_name" => match string_of(lua, &value) {
                Some(v) => name = Some(v),
                None => return Err("function_name argument given to redis.register_function must be a string".into()),
            },
            b"description" => match string_of(lua, &value) {
                Some(v) => description = Some(v),
                None => return Err("description argument given to redis.register_function must be a string".into()),
            },
            b"callback" => match value {
                Value::Function(f) => callback = Some(f),
                _ => return Err("callback argument given to redis.register_function must be a function".into()),
            },
            b"flags" => match value {
                Value::Table(t) => flags = read_flags(lua, &t)?,
                _ => return Err("flags argument to redis.register_function must be a table representing function flags".into()),
            },
            _ => return Err("unknown argument given to redis.register_function".into()),
        }
    }
    let Some(name) = name else {
        return Err("redis.register_function must get a function name argument".into());
    };
    let Some(callback) = callback else {
        return Err("redis.register_function must get a callback argument".into());
    };
    Ok((name, FunctionInfo { description, flags }, callback))
}

/// Redis's `luaRegisterFunctionReadFlags`: the array part, each a known flag name.
fn read_flags(lua: &Lua, table: &Table) -> Result<u8, String> {
    let mut flags = 0;
    for i in 1.. {
        let value: Value = table.raw_get(i).map_err(|e| e.to_string())?;
        if value.is_nil() {
            break;
        }
        let flag = string_of(lua, &value).ok_or("unknown flag given")?;
        let bit = FLAG_NAMES
            .iter()
            .position(|f| f.as_bytes().eq_ignore_ascii_case(&flag))
            .ok_or("unknown flag given")?;
        flags |= 1 << bit;
    }
    Ok(flags)
}

/// `lua_isstring`: a string or a number, as bytes.
fn string_of(lua: &Lua, value: &Value) -> Option<Bytes> {
    match value {
        Value::String(s) => Some(Bytes::copy_from_slice(&s.as_bytes())),
        Value::Integer(_) | Value::Number(_) => {
            let s = lua.coerce_string(value.clone()).ok()??;
            Some(Bytes::copy_from_slice(&s.as_bytes()))
        }
        _ => None,
    }
}
