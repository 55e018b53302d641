//! The Lua 5.1 VM scripts run in: one per thread, created on first use, with Redis 7.0's
//! sandbox (`sandbox.lua`), compiled scripts by SHA-1, and the instruction budget.
//!
//! Owns everything about the VM that is not engine state. Why a thread-local VM and not one
//! per call: creating a VM with its libraries and sandbox costs tens of microseconds, more
//! than a small script's whole run; a VM kept per thread costs nothing per call, and the model
//! checker's worker threads each get their own. Invariant: nothing a script does survives it
//! (no globals, read-only libraries, `KEYS`/`ARGV` replaced per call, `math.random` reseeded
//! per call), so a run depends only on the engine state and its arguments — the VM is a cache,
//! never state, and may be dropped or rebuilt at any time.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use bytes::Bytes;
use mlua::{Function, HookTriggers, Lua, LuaOptions, StdLib, Table, Value, VmState};

use super::cache::sha1hex;

/// Instructions a script may run before it is stopped where no runtime can serve other clients
/// meanwhile (a step without runtime serving others (`busy.rs`): loading, tests, the model checker). With
/// one, as in Redis, there is no bound: others get `-BUSY` and may send `SCRIPT KILL`. About a
/// second or two of pure Lua.
const INSTRUCTIONS_MAX: u64 = 500_000_000;
/// What a killed script raises (Redis uses the SCRIPT KILL text for functions too).
const KILLED: &str = "ERR Script killed by user with SCRIPT KILL...";
/// How often the budget is checked.
const HOOK_EVERY: u32 = 10_000;

/// The error a script gets when the budget is spent.
pub(crate) const BUDGET_SPENT: &str = "ERR Script used more than its instruction budget and \
     was stopped (writes it made before are kept)";

thread_local! {
    static VM: RefCell<Option<Vm>> = const { RefCell::new(None) };
    /// Hook ticks left for the running script.
    static TICKS_LEFT: Cell<u64> = const { Cell::new(0) };
    static BUDGET: Cell<u64> = const { Cell::new(INSTRUCTIONS_MAX) };
    /// Whether the running script speaks RESP3 (`redis.setresp(3)`); RESP2 at each start.
    static RESP3: Cell<bool> = const { Cell::new(false) };
    /// `math.random`'s state (Redis's `rand48`), reseeded per script.
    static RAND48: Cell<u64> = const { Cell::new(0) };
    /// The running script's hook ticks go to [`BUSY_TICK`] (a runtime serves others).
    static BUSY: Cell<bool> = const { Cell::new(false) };
}

/// The registry name of the running script's tick function (bound per run in `run.rs`: it
/// borrows the step's runtime serving others (`busy.rs`), which a `'static` hook cannot hold).
pub(crate) const BUSY_TICK: &str = "durakv.busy_tick";

pub(crate) struct Vm {
    pub(crate) lua: Lua,
    /// What scripts see as their globals (a read-only proxy).
    env: Table,
    /// Behind `env`: where `KEYS` and `ARGV` are set per call.
    pub(crate) base: Table,
    /// The `redis` library behind its proxy: `call`/`pcall` are bound per run.
    pub(crate) redis: Table,
    pub(crate) handler: Function,
    pub(crate) xpcall: Function,
    compiled: HashMap<[u8; 40], Function>,
    /// What function library code runs in (see `sandbox.lua`).
    pub(crate) lib_env: Table,
    /// The `redis` table library code sees while loading: `register_function` set per load.
    pub(crate) load_redis: Table,
    /// Switches `lib_env` between the load-time API and the scripts' globals.
    pub(crate) set_loading: Function,
    /// `fcall(f, handler, keys, args)`: a callback under the error handler.
    pub(crate) fcall: Function,
    /// Library callbacks by the SHA-1 of the library's code, then function name.
    pub(crate) libraries: HashMap<[u8; 40], HashMap<Bytes, Function>>,
}

/// Runs `f` with this thread's VM, creating it on first use.
pub(crate) fn with_vm<R>(f: impl FnOnce(&mut Vm) -> R) -> R {
    VM.with(|vm| {
        let mut vm = vm.borrow_mut();
        let vm = vm.get_or_insert_with(|| Vm::new().expect("the Lua sandbox builds"));
        f(vm)
    })
}

/// Whether the running script asked for RESP3 replies.
pub(crate) fn resp3() -> bool {
    RESP3.with(Cell::get)
}

/// Forgets compiled scripts (SCRIPT FLUSH).
pub(crate) fn flush() {
    VM.with(|vm| {
        if let Some(vm) = vm.borrow_mut().as_mut() {
            vm.compiled.clear();
        }
    });
}

/// Sets the instruction budget of scripts on this thread (tests).
#[cfg(test)]
pub(crate) fn set_budget(instructions: u64) {
    BUDGET.with(|b| b.set(instructions));
}

impl Vm {
    fn new() -> mlua::Result<Vm> {
        let libs = StdLib::TABLE | StdLib::STRING | StdLib::MATH;
        let lua = Lua::new_with(libs, LuaOptions::default())?;
        let hidden = lua.create_table()?;
        hidden.raw_set("sha1hex", lua.create_function(lua_sha1hex)?)?;
        hidden.raw_set("random", lua.create_function(lua_random)?)?;
        hidden.raw_set("randomseed", lua.create_function(lua_randomseed)?)?;
        let setresp = |_: &Lua, resp3: bool| {
            RESP3.with(|r| r.set(resp3));
            Ok(())
        };
        hidden.raw_set("setresp", lua.create_function(setresp)?)?;
        for (name, table) in super::libs::tables(&lua)? {
            lua.globals().raw_set(name, table)?;
        }
        let sandbox = lua.load(include_str!("sandbox.lua")).set_name("=sandbox");
        let (env, base, redis, lib): (Table, Table, Table, Table) = sandbox.call(hidden)?;
        let handler = lua.create_function(error_handler)?;
        let xpcall = lua.globals().raw_get("xpcall")?;
        Ok(Vm {
            env,
            base,
            redis,
            handler,
            xpcall,
            compiled: HashMap::new(),
            lib_env: lib.raw_get("lib_env")?,
            load_redis: lib.raw_get("load_redis")?,
            set_loading: lib.raw_get("set_loading")?,
            fcall: lib.raw_get("fcall")?,
            libraries: HashMap::new(),
            lua,
        })
    }

    /// The compiled function of `body` (named `sha`), compiling it on first use; `Err` is
    /// Redis's compile error reply text.
    pub(crate) fn function(&mut self, sha: [u8; 40], body: &Bytes) -> Result<Function, String> {
        if let Some(f) = self.compiled.get(&sha) {
            return Ok(f.clone());
        }
        let chunk = self.lua.load(body.as_ref()).set_name("@user_script");
        let f = chunk.set_environment(self.env.clone()).into_function();
        let f = f.map_err(|e| {
            let text = match e {
                mlua::Error::SyntaxError { message, .. } => message,
                other => other.to_string(),
            };
            format!("ERR Error compiling script (new function): {text}")
        })?;
        self.compiled.insert(sha, f.clone());
        Ok(f)
    }

    /// Arms the instruction budget and seeds `math.random` for a new script from `seed` (the
    /// engine's randomness: random from one script to the next, as in Redis 7.0, and still a
    /// function of the engine's inputs).
    pub(crate) fn arm(&self, seed: u64, busy: bool) {
        BUSY.with(|b| b.set(busy));
        let ticks = BUDGET.with(Cell::get).div_ceil(u64::from(HOOK_EVERY));
        TICKS_LEFT.with(|t| t.set(ticks));
        RAND48.with(|r| r.set(seed & ((1 << 48) - 1)));
        super::libs::reset();
        RESP3.with(|r| r.set(false));
        let every = HookTriggers::new().every_nth_instruction(HOOK_EVERY);
        self.lua.set_hook(every, budget_hook);
    }
}

/// Counts instructions (or asks the runtime's [`BUSY_TICK`]); once the budget is spent or the
/// script is killed, fails every instruction, so a script that catches the error with `pcall`
/// is stopped at its next instruction outside the `pcall` (Redis's `LUA_MASKLINE` hook).
fn budget_hook(lua: &Lua, debug: mlua::Debug) -> mlua::Result<VmState> {
    if BUSY.with(Cell::get) {
        let tick: Function = lua.named_registry_value(BUSY_TICK)?;
        if !tick.call::<bool>(())? {
            return Ok(VmState::Continue);
        }
        lua.set_hook(HookTriggers::new().every_nth_instruction(1), killed_hook);
        return killed_hook(lua, debug);
    }
    let left = TICKS_LEFT.with(Cell::get);
    if left > 1 {
        TICKS_LEFT.with(|t| t.set(left - 1));
        return Ok(VmState::Continue);
    }
    if left == 1 {
        TICKS_LEFT.with(|t| t.set(0));
        lua.set_hook(HookTriggers::new().every_nth_instruction(1), budget_hook);
    }
    Err(mlua::Error::RuntimeError(BUDGET_SPENT.to_string()))
}

/// The hook of a killed script: every instruction of the script fails. The sandbox's own
/// wrappers (FCALL's) run on, so the error reaches the error handler as Redis reports it.
fn killed_hook(_: &Lua, debug: mlua::Debug) -> mlua::Result<VmState> {
    if debug.source().source.as_deref() == Some("=sandbox") {
        return Ok(VmState::Continue);
    }
    Err(killed())
}

fn killed() -> mlua::Error {
    mlua::Error::RuntimeError(KILLED.to_string())
}

/// Redis's `__redis__err__handler`: the error as a table `{err=..., source=..., line=...}`,
/// naming the script line that raised it.
fn error_handler(lua: &Lua, error: Value) -> mlua::Result<Table> {
    let frame = user_frame(lua);
    let table = match error {
        Value::Table(t) => t,
        Value::Error(e) => {
            super::convert::single(lua, "err", error_text(&e, frame.as_ref()).as_bytes())?
        }
        other => {
            let text = lua.coerce_string(other.clone())?;
            let text = text.map_or_else(|| format!("{other:?}"), |s| s.to_string_lossy());
            super::convert::single(lua, "err", format!("ERR {text}").as_bytes())?
        }
    };
    if let Some((source, line)) = frame {
        table.raw_set("source", source)?;
        table.raw_set("line", line)?;
    }
    Ok(table)
}

/// The innermost frame of the script or function body: its source name and current line.
fn user_frame(lua: &Lua) -> Option<(String, i32)> {
    (1..)
        .map_while(|level| lua.inspect_stack(level))
        .find_map(|frame| {
            let source = frame.source().source.map(|s| s.into_owned())?;
            matches!(source.as_str(), "@user_script" | "@user_function")
                .then(|| (source, frame.curr_line()))
        })
}

/// An error `redis.call` raises: the reply's text (`{err=...}` in Redis).
#[derive(Debug)]
pub(crate) struct CallError(pub(crate) String);

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CallError {}

/// The text of an error raised from Rust: `redis.call`'s, the budget's, a failed allocation.
fn error_text(e: &mlua::Error, frame: Option<&(String, i32)>) -> String {
    if let Some(CallError(text)) = e.downcast_ref::<CallError>() {
        return text.clone();
    }
    if let Some(super::libs::LibError(text)) = e.downcast_ref::<super::libs::LibError>() {
        return match frame {
            Some((source, line)) => format!("ERR {}:{line}: {text}", &source[1..]),
            None => format!("ERR {text}"),
        };
    }
    match e {
        mlua::Error::CallbackError { cause, .. } => error_text(cause, frame),
        mlua::Error::RuntimeError(text) if text.starts_with("ERR ") => text.clone(),
        other => format!("ERR {other}"),
    }
}

fn lua_sha1hex(lua: &Lua, s: mlua::String) -> mlua::Result<mlua::String> {
    lua.create_string(sha1hex(&s.as_bytes()))
}

/// Redis's `redisLrand48`: the next 31-bit value of the 48-bit LCG.
fn lrand48() -> u64 {
    RAND48.with(|r| {
        let x = (r.get().wrapping_mul(0x5DEE_CE66D).wrapping_add(0xB)) & ((1 << 48) - 1);
        r.set(x);
        x >> 17
    })
}

/// `math.random([m [, n]])` over `lrand48`, as Redis's `redis_math_random`.
fn lua_random(_: &Lua, (m, n): (Option<i64>, Option<i64>)) -> mlua::Result<f64> {
    const MAX: u64 = 0x7FFF_FFFF;
    let r = (lrand48() % MAX) as f64 / MAX as f64;
    let interval = || mlua::Error::RuntimeError("interval is empty".into());
    match (m, n) {
        (None, _) => Ok(r),
        (Some(u), None) if u >= 1 => Ok((r * u as f64).floor() + 1.0),
        (Some(l), Some(u)) if l <= u => Ok((r * (u - l + 1) as f64).floor() + l as f64),
        _ => Err(interval()),
    }
}

fn lua_randomseed(_: &Lua, seed: i64) -> mlua::Result<()> {
    RAND48.with(|r| r.set(((seed as u64 & 0xFFFF_FFFF) << 16) | 0x330E));
    Ok(())
}
