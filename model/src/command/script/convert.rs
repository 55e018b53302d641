//! The Redis ↔ Lua type conversions of Redis 7.0 (`redisProtocolToLuaType`,
//! `luaReplyToRedisReply`, `luaArgsToRedisArgv`), for a script in RESP2 (the default) or RESP3
//! (`redis.setresp(3)`).
//!
//! Owns the two tables, both ways: integer ↔ number (a Lua number is truncated toward zero),
//! bulk ↔ string, nil bulk / nil array → false (RESP3: nil), array ↔ table (up to the first
//! nil), status ↔ `{ok=...}`, error ↔ `{err=...}`, map ↔ `{map=...}`, set ↔ `{set=...}`,
//! double ↔ `{double=...}`, big number ↔ `{big_number=...}`, verbatim ↔
//! `{verbatim_string={format=..., string=...}}` (RESP3 replies reach a RESP2 script as Redis
//! downgrades them), Lua true → 1 (RESP3: `#t`), false → nil (RESP3: `#f`). Invariant: the
//! conversions are pure functions of the value and the script's protocol.

use bytes::Bytes;
use mlua::{Lua, Table, Value};

use crate::resp::Frame;

/// A command's reply as the Lua value `redis.call` returns, for a script speaking RESP3 if
/// `resp3`.
pub(crate) fn frame_to_lua(lua: &Lua, frame: &Frame, resp3: bool) -> mlua::Result<Value> {
    if resp3 {
        if let Some(value) = resp3_to_lua(lua, frame)? {
            return Ok(value);
        }
    }
    Ok(match frame {
        Frame::Integer(n) => Value::Number(*n as f64),
        Frame::Bulk(b) => Value::String(lua.create_string(b)?),
        Frame::Null | Frame::NullArray => Value::Boolean(false),
        Frame::Simple(s) => Value::Table(single(lua, "ok", s.as_bytes())?),
        Frame::Error(e) => Value::Table(single(lua, "err", e.as_bytes())?),
        Frame::Array(items) | Frame::Set(items) | Frame::Push(items) | Frame::Sequence(items) => {
            array(lua, items, resp3)?
        }
        // A RESP2 script gets each RESP3 type as Redis downgrades it for a RESP2 client.
        Frame::Map(pairs) | Frame::Pairs(pairs) => {
            let flat: Vec<Frame> = pairs
                .iter()
                .flat_map(|(k, v)| [k.clone(), v.clone()])
                .collect();
            array(lua, &flat, resp3)?
        }
        Frame::Double(text) | Frame::BigNumber(text) => Value::String(lua.create_string(text)?),
        Frame::Boolean(b) => Value::Number(f64::from(u8::from(*b))),
        Frame::Verbatim { text, .. } => Value::String(lua.create_string(text)?),
        Frame::Attributed { reply, .. } => frame_to_lua(lua, reply, resp3)?,
    })
}

/// The RESP3 types as a RESP3 script sees them; `None` for those converted as in RESP2.
fn resp3_to_lua(lua: &Lua, frame: &Frame) -> mlua::Result<Option<Value>> {
    let wrap = |field: &str, value: Value| -> mlua::Result<Option<Value>> {
        let table = lua.create_table_with_capacity(0, 1)?;
        table.raw_set(field, value)?;
        Ok(Some(Value::Table(table)))
    };
    match frame {
        Frame::Null | Frame::NullArray => Ok(Some(Value::Nil)),
        Frame::Boolean(b) => Ok(Some(Value::Boolean(*b))),
        Frame::Map(pairs) => {
            let table = lua.create_table_with_capacity(0, pairs.len())?;
            for (k, v) in pairs {
                table.raw_set(frame_to_lua(lua, k, true)?, frame_to_lua(lua, v, true)?)?;
            }
            wrap("map", Value::Table(table))
        }
        Frame::Set(items) => {
            let table = lua.create_table_with_capacity(0, items.len())?;
            for item in items {
                table.raw_set(frame_to_lua(lua, item, true)?, true)?;
            }
            wrap("set", Value::Table(table))
        }
        Frame::Pairs(pairs) => {
            let items: Vec<Frame> = pairs
                .iter()
                .map(|(k, v)| Frame::Array(vec![k.clone(), v.clone()]))
                .collect();
            Ok(Some(array(lua, &items, true)?))
        }
        Frame::Double(text) => wrap("double", Value::Number(parse_double(text))),
        Frame::BigNumber(text) => wrap("big_number", Value::String(lua.create_string(text)?)),
        Frame::Verbatim { format, text } => {
            let table = lua.create_table_with_capacity(0, 2)?;
            table.raw_set("format", lua.create_string(format)?)?;
            table.raw_set("string", lua.create_string(text)?)?;
            wrap("verbatim_string", Value::Table(table))
        }
        _ => Ok(None),
    }
}

/// A double reply's text as the number (`inf`, `-inf` and `nan` included).
fn parse_double(text: &str) -> f64 {
    match text {
        "inf" => f64::INFINITY,
        "-inf" => f64::NEG_INFINITY,
        other => other.parse().unwrap_or(f64::NAN),
    }
}

fn array(lua: &Lua, items: &[Frame], resp3: bool) -> mlua::Result<Value> {
    let table = lua.create_table_with_capacity(items.len(), 0)?;
    for (i, item) in items.iter().enumerate() {
        table.raw_set(i + 1, frame_to_lua(lua, item, resp3)?)?;
    }
    Ok(Value::Table(table))
}

/// `{field=text}`: a status or error reply, or an error raised by `redis.call`.
pub(crate) fn single(lua: &Lua, field: &str, text: &[u8]) -> mlua::Result<Table> {
    let table = lua.create_table_with_capacity(0, 1)?;
    table.raw_set(field, lua.create_string(text)?)?;
    Ok(table)
}

/// Nesting a reply may reach before it is cut with Redis's "reached lua stack limit" (Redis
/// stops where its Lua C stack ends; a self-referencing table would otherwise never end).
const DEPTH_MAX: usize = 1000;

/// A script's return value as the reply the client gets, for a script speaking RESP3 if
/// `resp3` (which decides only what a Lua boolean becomes).
pub(crate) fn lua_to_frame(value: &Value, resp3: bool) -> Frame {
    lua_to_frame_at(value, 0, resp3)
}

fn lua_to_frame_at(value: &Value, depth: usize, resp3: bool) -> Frame {
    match value {
        Value::String(s) => Frame::Bulk(Bytes::copy_from_slice(&s.as_bytes())),
        Value::Boolean(b) if resp3 => Frame::Boolean(*b),
        Value::Boolean(true) => Frame::Integer(1),
        Value::Number(n) => Frame::Integer(*n as i64),
        Value::Integer(n) => Frame::Integer(*n),
        Value::Table(_) if depth >= DEPTH_MAX => Frame::error("ERR reached lua stack limit"),
        Value::Table(t) => table_to_frame(t, depth, resp3),
        _ => Frame::Null,
    }
}

fn table_to_frame(table: &Table, depth: usize, resp3: bool) -> Frame {
    let field = |name: &str| table.raw_get::<Value>(name).unwrap_or(Value::Nil);
    if let Value::String(e) = field("err") {
        return Frame::Error(one_line(&e.as_bytes()));
    }
    if let Value::String(s) = field("ok") {
        return Frame::Simple(one_line(&s.as_bytes()));
    }
    match field("double") {
        Value::Number(n) => return Frame::Double(format_g17(n)),
        Value::Integer(n) => return Frame::Double(format_g17(n as f64)),
        _ => {}
    }
    if let Value::String(s) = field("big_number") {
        return Frame::BigNumber(one_line(&s.as_bytes()));
    }
    if let Some(frame) = verbatim(&field("verbatim_string")) {
        return frame;
    }
    let nested = |v: &Value| lua_to_frame_at(v, depth + 1, resp3);
    if let Value::Table(map) = field("map") {
        let pairs = map.pairs::<Value, Value>().filter_map(Result::ok);
        return Frame::Map(pairs.map(|(k, v)| (nested(&k), nested(&v))).collect());
    }
    if let Value::Table(set) = field("set") {
        let members = set.pairs::<Value, Value>().filter_map(Result::ok);
        return Frame::Set(members.map(|(k, _)| nested(&k)).collect());
    }
    let mut items = Vec::new();
    for i in 1.. {
        match table.raw_get::<Value>(i) {
            Ok(Value::Nil) | Err(_) => break,
            Ok(v) => items.push(nested(&v)),
        }
    }
    Frame::Array(items)
}

/// `{verbatim_string={format=..., string=...}}` as a verbatim reply.
fn verbatim(value: &Value) -> Option<Frame> {
    let Value::Table(t) = value else { return None };
    let Ok(Value::String(format)) = t.raw_get::<Value>("format") else {
        return None;
    };
    let Ok(Value::String(text)) = t.raw_get::<Value>("string") else {
        return None;
    };
    let format: [u8; 3] = format.as_bytes().get(..3)?.try_into().ok()?;
    Some(Frame::Verbatim {
        format,
        text: Bytes::copy_from_slice(&text.as_bytes()),
    })
}

/// Status and error texts on one line, as Redis maps `\r` and `\n` to spaces.
fn one_line(text: &[u8]) -> String {
    let text = String::from_utf8_lossy(text);
    text.replace(['\r', '\n'], " ")
}

/// One argument of `redis.call`: a string as is, a number as C's `%.17g`; `None` for any
/// other type ("Lua redis lib command arguments must be strings or integers").
pub(crate) fn lua_to_arg(value: &Value) -> Option<Bytes> {
    match value {
        Value::String(s) => Some(Bytes::copy_from_slice(&s.as_bytes())),
        Value::Number(n) => Some(Bytes::from(format_g17(*n))),
        Value::Integer(n) => Some(Bytes::from(n.to_string())),
        _ => None,
    }
}

pub(crate) use crate::types::float::format_g17;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_format_as_c_percent_17g() {
        let cases = [
            (1.0, "1"),
            (-3.0, "-3"),
            (1.5, "1.5"),
            (0.1, "0.10000000000000001"),
            (1e17, "1e+17"),
            (123456789012345678.0, "1.2345678901234568e+17"),
            (1e16, "10000000000000000"),
            (0.0001, "0.0001"),
            (0.00001, "1.0000000000000001e-05"),
            (0.0, "0"),
        ];
        for (n, text) in cases {
            assert_eq!(format_g17(n), text, "{n}");
        }
    }

    #[test]
    fn redis_to_lua_and_back_follow_the_tables() {
        let lua = Lua::new();
        let frame = Frame::Array(vec![
            Frame::Integer(7),
            Frame::Bulk(Bytes::from_static(b"x")),
            Frame::Simple("OK".into()),
        ]);
        let value = frame_to_lua(&lua, &frame, false).unwrap();
        assert_eq!(lua_to_frame(&value, false), frame);
        let null = frame_to_lua(&lua, &Frame::Null, false).unwrap();
        assert_eq!(null, Value::Boolean(false));
        assert_eq!(lua_to_frame(&null, false), Frame::Null);
        let err = frame_to_lua(&lua, &Frame::error("ERR x"), false).unwrap();
        assert_eq!(lua_to_frame(&err, false), Frame::error("ERR x"));
        let looped: Value = lua
            .load("local a = {}; local b = {a}; a[1] = b; return a")
            .eval()
            .unwrap();
        let mut frame = lua_to_frame(&looped, false);
        for _ in 0..DEPTH_MAX {
            let Frame::Array(mut items) = frame else {
                panic!()
            };
            frame = items.remove(0);
        }
        assert_eq!(frame, Frame::error("ERR reached lua stack limit"));
    }

    #[test]
    fn lua_values_convert_as_redis_replies() {
        let lua = Lua::new();
        let eval = |src: &str| lua_to_frame(&lua.load(src).eval::<Value>().unwrap(), false);
        assert_eq!(eval("return 3.99"), Frame::Integer(3));
        assert_eq!(eval("return -3.99"), Frame::Integer(-3));
        assert_eq!(eval("return true"), Frame::Integer(1));
        assert_eq!(eval("return false"), Frame::Null);
        assert_eq!(eval("return nil"), Frame::Null);
        assert_eq!(eval("return {ok='a\\r\\nb'}"), Frame::Simple("a  b".into()));
        assert_eq!(eval("return {err='My bad'}"), Frame::error("My bad"));
        let array = eval("return {1, 'two', {3}, nil, 5}");
        let three = Frame::Array(vec![Frame::Integer(3)]);
        let two = Frame::Bulk(Bytes::from_static(b"two"));
        assert_eq!(array, Frame::Array(vec![Frame::Integer(1), two, three]));
    }
}
