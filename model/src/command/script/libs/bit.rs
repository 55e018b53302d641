//! The `bit` library scripts see (LuaBitOp 1.0, as Redis 7.0 bundles it): 32-bit operations
//! on Lua numbers.
//!
//! Invariant: every argument is normalised as LuaBitOp does — the number plus 2^52+2^51, whose
//! low 32 bits are the argument rounded and wrapped modulo 2^32 — and every result is returned
//! as a signed 32-bit value, so scripts get the same numbers as on Redis.

use mlua::{Lua, MultiValue, Table, Value};

/// Builds the `bit` table.
pub(crate) fn table(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "tobit",
        lua.create_function(|_, v: Value| ret(arg(&v, 1, "tobit")?))?,
    )?;
    t.raw_set(
        "bnot",
        lua.create_function(|_, v: Value| ret(!arg(&v, 1, "bnot")?))?,
    )?;
    t.raw_set("band", fold(lua, "band", |a, b| a & b)?)?;
    t.raw_set("bor", fold(lua, "bor", |a, b| a | b)?)?;
    t.raw_set("bxor", fold(lua, "bxor", |a, b| a ^ b)?)?;
    t.raw_set("lshift", shift(lua, "lshift", |b, n| b << n)?)?;
    t.raw_set("rshift", shift(lua, "rshift", |b, n| b >> n)?)?;
    t.raw_set(
        "arshift",
        shift(lua, "arshift", |b, n| ((b as i32) >> n) as u32)?,
    )?;
    t.raw_set("rol", shift(lua, "rol", u32::rotate_left)?)?;
    t.raw_set("ror", shift(lua, "ror", u32::rotate_right)?)?;
    let bswap = |_: &Lua, v: Value| ret(arg(&v, 1, "bswap")?.swap_bytes());
    t.raw_set("bswap", lua.create_function(bswap)?)?;
    t.raw_set("tohex", lua.create_function(tohex)?)?;
    Ok(t)
}

/// LuaBitOp's `barg`: a number (or a string convertible to one) as 32 bits.
fn arg(v: &Value, position: usize, name: &str) -> mlua::Result<u32> {
    let n = match v {
        Value::Integer(i) => *i as f64,
        Value::Number(n) => *n,
        Value::String(s) => s
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse::<f64>().ok())
            .ok_or_else(|| type_error(position, name, "string"))?,
        other => return Err(type_error(position, name, other.type_name())),
    };
    Ok((n + 6_755_399_441_055_744.0).to_bits() as u32)
}

fn type_error(position: usize, name: &str, got: &str) -> mlua::Error {
    super::error::error(format!(
        "bad argument #{position} to '{name}' (number expected, got {got})"
    ))
}

/// A result as Lua sees it: the bits as a signed 32-bit number.
fn ret(b: u32) -> mlua::Result<f64> {
    Ok(f64::from(b as i32))
}

fn fold(lua: &Lua, name: &'static str, op: fn(u32, u32) -> u32) -> mlua::Result<mlua::Function> {
    lua.create_function(move |_, args: MultiValue| {
        let mut acc = arg(args.front().unwrap_or(&Value::Nil), 1, name)?;
        for (i, v) in args.iter().enumerate().skip(1) {
            acc = op(acc, arg(v, i + 1, name)?);
        }
        ret(acc)
    })
}

fn shift(lua: &Lua, name: &'static str, op: fn(u32, u32) -> u32) -> mlua::Result<mlua::Function> {
    lua.create_function(move |_, (b, n): (Value, Value)| {
        ret(op(arg(&b, 1, name)?, arg(&n, 2, name)? & 31))
    })
}

/// `bit.tohex(x [, n])`: `n` hex digits (8 by default), upper case when `n` is negative.
fn tohex(lua: &Lua, (b, n): (Value, Option<Value>)) -> mlua::Result<mlua::String> {
    let mut b = arg(&b, 1, "tohex")?;
    let n = match n {
        Some(v) => arg(&v, 2, "tohex")? as i32,
        None => 8,
    };
    let digits: &[u8; 16] = if n < 0 {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    let n = n.unsigned_abs().min(8) as usize;
    let mut buf = [0u8; 8];
    for slot in buf[..n].iter_mut().rev() {
        *slot = digits[(b & 15) as usize];
        b >>= 4;
    }
    lua.create_string(&buf[..n])
}
