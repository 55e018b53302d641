//! The `cjson` library scripts see (lua-cjson 2.1 as Redis 7.0 bundles it): `encode`,
//! `decode`, `null` and the configuration functions.
//!
//! Invariant: the bytes `encode` produces and the values `decode` builds are lua-cjson's — key
//! order is Lua's own table order, numbers `%.14g`, `/` escaped as `\/`, empty tables as
//! objects, sparse arrays refused. The configuration is reset before every script (Redis keeps
//! it in its VM between scripts; here nothing a script does may survive it), so a script's
//! output depends only on its input.

use std::cell::Cell;

use mlua::{LightUserData, Lua, MultiValue, Table, Value};

use crate::types::float::format_g;

/// lua-cjson's configuration (the subset with effect here).
#[derive(Clone, Copy)]
struct Config {
    encode_max_depth: i64,
    decode_max_depth: i64,
    /// 0 refuse, 1 print `nan`/`inf`, 2 print `null`.
    encode_invalid_numbers: u8,
    encode_number_precision: i64,
    encode_keep_buffer: bool,
    /// `encode_sparse_array(convert, ratio, safe)`.
    sparse: (bool, i64, i64),
    decode_invalid_numbers: bool,
}

const DEFAULT: Config = Config {
    encode_max_depth: 1000,
    decode_max_depth: 1000,
    encode_invalid_numbers: 0,
    encode_number_precision: 14,
    encode_keep_buffer: true,
    sparse: (false, 2, 10),
    decode_invalid_numbers: false,
};

thread_local! {
    static CONFIG: Cell<Config> = const { Cell::new(DEFAULT) };
}

/// Back to lua-cjson's defaults (before each script).
pub(crate) fn reset() {
    CONFIG.with(|c| c.set(DEFAULT));
}

fn config() -> Config {
    CONFIG.with(Cell::get)
}

fn update(f: impl FnOnce(&mut Config)) {
    CONFIG.with(|c| {
        let mut config = c.get();
        f(&mut config);
        c.set(config);
    });
}

fn error(text: String) -> mlua::Error {
    super::error::error(text)
}

/// Builds the `cjson` table.
pub(crate) fn table(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set("encode", lua.create_function(encode)?)?;
    t.raw_set("decode", lua.create_function(decode)?)?;
    t.raw_set(
        "null",
        Value::LightUserData(LightUserData(std::ptr::null_mut())),
    )?;
    t.raw_set("_NAME", "cjson")?;
    t.raw_set("_VERSION", "2.1.0")?;
    integer_option(lua, &t, "encode_max_depth", 1, i64::from(i32::MAX), |c| {
        &mut c.encode_max_depth
    })?;
    integer_option(lua, &t, "decode_max_depth", 1, i64::from(i32::MAX), |c| {
        &mut c.decode_max_depth
    })?;
    integer_option(lua, &t, "encode_number_precision", 1, 14, |c| {
        &mut c.encode_number_precision
    })?;
    bool_option(lua, &t, "encode_keep_buffer", |c| &mut c.encode_keep_buffer)?;
    bool_option(lua, &t, "decode_invalid_numbers", |c| {
        &mut c.decode_invalid_numbers
    })?;
    t.raw_set(
        "encode_invalid_numbers",
        lua.create_function(invalid_numbers_option)?,
    )?;
    t.raw_set("encode_sparse_array", lua.create_function(sparse_option)?)?;
    Ok(t)
}

fn integer_option(
    lua: &Lua,
    t: &Table,
    name: &'static str,
    min: i64,
    max: i64,
    field: fn(&mut Config) -> &mut i64,
) -> mlua::Result<()> {
    let f = lua.create_function(move |_, v: Option<f64>| {
        if let Some(v) = v {
            let v = v as i64;
            if !(min..=max).contains(&v) {
                return Err(error(format!(
                    "bad argument #1 to '{name}' (expected integer between {min} and {max})"
                )));
            }
            update(|c| *field(c) = v);
        }
        Ok(*field(&mut config()))
    })?;
    t.raw_set(name, f)
}

fn bool_option(
    lua: &Lua,
    t: &Table,
    name: &'static str,
    field: fn(&mut Config) -> &mut bool,
) -> mlua::Result<()> {
    let f = lua.create_function(move |_, v: Value| {
        if let Some(on) = on_off(&v, name)? {
            update(|c| *field(c) = on);
        }
        Ok(*field(&mut config()))
    })?;
    t.raw_set(name, f)
}

/// A boolean option's argument: a boolean, `"on"`/`"off"`, or nil for "just read".
fn on_off(v: &Value, name: &str) -> mlua::Result<Option<bool>> {
    match v {
        Value::Nil => Ok(None),
        Value::Boolean(b) => Ok(Some(*b)),
        Value::String(s) if &*s.as_bytes() == b"on" => Ok(Some(true)),
        Value::String(s) if &*s.as_bytes() == b"off" => Ok(Some(false)),
        _ => Err(error(format!(
            "bad argument #1 to '{name}' (invalid option)"
        ))),
    }
}

fn invalid_numbers_option(lua: &Lua, v: Value) -> mlua::Result<Value> {
    let setting = match &v {
        Value::String(s) if &*s.as_bytes() == b"null" => Some(2),
        other => on_off(other, "encode_invalid_numbers")?.map(u8::from),
    };
    if let Some(setting) = setting {
        update(|c| c.encode_invalid_numbers = setting);
    }
    Ok(match config().encode_invalid_numbers {
        2 => Value::String(lua.create_string("null")?),
        n => Value::Boolean(n == 1),
    })
}

fn sparse_option(
    _: &Lua,
    (convert, ratio, safe): (Value, Option<i64>, Option<i64>),
) -> mlua::Result<(bool, i64, i64)> {
    let convert = on_off(&convert, "encode_sparse_array")?;
    update(|c| {
        c.sparse.0 = convert.unwrap_or(c.sparse.0);
        c.sparse.1 = ratio.unwrap_or(c.sparse.1);
        c.sparse.2 = safe.unwrap_or(c.sparse.2);
    });
    Ok(config().sparse)
}

fn encode(lua: &Lua, args: MultiValue) -> mlua::Result<mlua::String> {
    if args.len() != 1 {
        return Err(error(
            "bad argument #1 to 'encode' (expected 1 argument)".into(),
        ));
    }
    let mut out = Vec::new();
    append(&mut out, &args[0], 0, &config())?;
    lua.create_string(&out)
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Integer(_) => "number",
        Value::LightUserData(_) => "userdata",
        other => other.type_name(),
    }
}

fn cannot(v: &Value, reason: &str) -> mlua::Error {
    error(format!("Cannot serialise {}: {reason}", type_name(v)))
}

fn append(out: &mut Vec<u8>, v: &Value, depth: i64, cfg: &Config) -> mlua::Result<()> {
    match v {
        Value::String(s) => append_string(out, &s.as_bytes()),
        Value::Integer(i) => append_number(out, v, *i as f64, cfg)?,
        Value::Number(n) => append_number(out, v, *n, cfg)?,
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Nil => out.extend_from_slice(b"null"),
        Value::LightUserData(p) if p.0.is_null() => out.extend_from_slice(b"null"),
        Value::Table(t) => {
            let depth = depth + 1;
            if depth > cfg.encode_max_depth {
                return Err(error(format!(
                    "Cannot serialise, excessive nesting ({depth})"
                )));
            }
            match array_length(t, v, cfg)? {
                Some(len) => append_array(out, t, len, depth, cfg)?,
                None => append_object(out, t, depth, cfg)?,
            }
        }
        other => return Err(cannot(other, "type not supported")),
    }
    Ok(())
}

fn append_number(out: &mut Vec<u8>, v: &Value, n: f64, cfg: &Config) -> mlua::Result<()> {
    if !n.is_finite() {
        let text: &[u8] = match cfg.encode_invalid_numbers {
            0 => return Err(cannot(v, "must not be NaN or Inf")),
            1 if n.is_nan() => b"nan",
            2 => b"null",
            _ => b"",
        };
        if !text.is_empty() {
            out.extend_from_slice(text);
            return Ok(());
        }
    }
    out.extend_from_slice(format_g(n, cfg.encode_number_precision as usize).as_bytes());
    Ok(())
}

fn append_string(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &b in s {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            b'\x08' => out.extend_from_slice(b"\\b"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\x0c' => out.extend_from_slice(b"\\f"),
            b'\r' => out.extend_from_slice(b"\\r"),
            0..=0x1f | 0x7f => out.extend_from_slice(format!("\\u{b:04x}").as_bytes()),
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

/// lua-cjson's `lua_array_length`: `Some(max)` when every key is an integer ≥ 1 and the table
/// is not excessively sparse; `None` for an object (including the empty table).
fn array_length(t: &Table, v: &Value, cfg: &Config) -> mlua::Result<Option<i64>> {
    let (mut max, mut items) = (0i64, 0i64);
    for pair in t.pairs::<Value, Value>() {
        let (k, _) = pair?;
        let k = match k {
            Value::Integer(i) => i as f64,
            Value::Number(n) => n,
            _ => return Ok(None),
        };
        if k < 1.0 || k.floor() != k {
            return Ok(None);
        }
        max = max.max(k as i64);
        items += 1;
    }
    let (convert, ratio, safe) = cfg.sparse;
    if ratio > 0 && max > items * ratio && max > safe {
        if !convert {
            return Err(cannot(v, "excessively sparse array"));
        }
        return Ok(None);
    }
    Ok((max > 0).then_some(max))
}

fn append_array(
    out: &mut Vec<u8>,
    t: &Table,
    len: i64,
    depth: i64,
    cfg: &Config,
) -> mlua::Result<()> {
    out.push(b'[');
    for i in 1..=len {
        if i > 1 {
            out.push(b',');
        }
        append(out, &t.raw_get::<Value>(i)?, depth, cfg)?;
    }
    out.push(b']');
    Ok(())
}

fn append_object(out: &mut Vec<u8>, t: &Table, depth: i64, cfg: &Config) -> mlua::Result<()> {
    out.push(b'{');
    for (i, pair) in t.pairs::<Value, Value>().enumerate() {
        let (k, v) = pair?;
        if i > 0 {
            out.push(b',');
        }
        match &k {
            Value::Integer(_) | Value::Number(_) => {
                let n = if let Value::Integer(i) = k {
                    i as f64
                } else {
                    k.as_f64().unwrap_or(0.0)
                };
                out.push(b'"');
                append_number(out, &k, n, cfg)?;
                out.extend_from_slice(b"\":");
            }
            Value::String(s) => {
                append_string(out, &s.as_bytes());
                out.push(b':');
            }
            other => return Err(cannot(other, "table key must be a number or string")),
        }
        append(out, &v, depth, cfg)?;
    }
    out.push(b'}');
    Ok(())
}

fn decode(lua: &Lua, args: MultiValue) -> mlua::Result<Value> {
    if args.len() != 1 {
        return Err(error(
            "bad argument #1 to 'decode' (expected 1 argument)".into(),
        ));
    }
    let text = match &args[0] {
        Value::String(s) => s.as_bytes().to_vec(),
        Value::Integer(_) | Value::Number(_) => lua
            .coerce_string(args[0].clone())?
            .map(|s| s.as_bytes().to_vec())
            .unwrap_or_default(),
        other => {
            return Err(error(format!(
                "bad argument #1 to 'decode' (string expected, got {})",
                type_name(other)
            )))
        }
    };
    if text.len() >= 2 && (text[0] == 0 || text[1] == 0) {
        return Err(error(
            "JSON parser does not support UTF-16 or UTF-32".into(),
        ));
    }
    super::json_parse::parse(
        lua,
        &text,
        config().decode_max_depth,
        config().decode_invalid_numbers,
    )
}
