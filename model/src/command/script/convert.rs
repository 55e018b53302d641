//! The Redis ↔ Lua type conversions of Redis 7.0 (`redisProtocolToLuaType`,
//! `luaReplyToRedisReply`, `luaArgsToRedisArgv`), RESP2 only: RESP3 replies reach a script as
//! Redis downgrades them for a RESP2 client.
//!
//! Owns the two tables, both ways: integer ↔ number (a Lua number is truncated toward zero),
//! bulk ↔ string, nil bulk / nil array → false, array ↔ table (up to the first nil), status ↔
//! `{ok=...}`, error ↔ `{err=...}`, Lua true → 1, false → nil. Invariant: the conversions are
//! pure functions of the value: no VM state beyond allocating the result.

use bytes::Bytes;
use mlua::{Lua, Table, Value};

use crate::resp::Frame;

/// A command's reply as the Lua value `redis.call` returns.
pub(crate) fn frame_to_lua(lua: &Lua, frame: &Frame) -> mlua::Result<Value> {
    Ok(match frame {
        Frame::Integer(n) => Value::Number(*n as f64),
        Frame::Bulk(b) => Value::String(lua.create_string(b)?),
        Frame::Null | Frame::NullArray => Value::Boolean(false),
        Frame::Simple(s) => Value::Table(single(lua, "ok", s.as_bytes())?),
        Frame::Error(e) => Value::Table(single(lua, "err", e.as_bytes())?),
        Frame::Array(items) | Frame::Set(items) | Frame::Push(items) | Frame::Sequence(items) => {
            array(lua, items)?
        }
        // A script speaks RESP2 (no `redis.setresp(3)` yet): each RESP3 type reaches it as
        // Redis downgrades it for a RESP2 client.
        Frame::Map(pairs) | Frame::Pairs(pairs) => {
            let flat: Vec<Frame> = pairs
                .iter()
                .flat_map(|(k, v)| [k.clone(), v.clone()])
                .collect();
            array(lua, &flat)?
        }
        Frame::Double(text) | Frame::BigNumber(text) => Value::String(lua.create_string(text)?),
        Frame::Boolean(b) => Value::Number(f64::from(u8::from(*b))),
        Frame::Verbatim { text, .. } => Value::String(lua.create_string(text)?),
        Frame::Attributed { reply, .. } => frame_to_lua(lua, reply)?,
    })
}

fn array(lua: &Lua, items: &[Frame]) -> mlua::Result<Value> {
    let table = lua.create_table_with_capacity(items.len(), 0)?;
    for (i, item) in items.iter().enumerate() {
        table.raw_set(i + 1, frame_to_lua(lua, item)?)?;
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

/// A script's return value as the reply the client gets.
pub(crate) fn lua_to_frame(value: &Value) -> Frame {
    lua_to_frame_at(value, 0)
}

fn lua_to_frame_at(value: &Value, depth: usize) -> Frame {
    match value {
        Value::String(s) => Frame::Bulk(Bytes::copy_from_slice(&s.as_bytes())),
        Value::Boolean(true) => Frame::Integer(1),
        Value::Number(n) => Frame::Integer(*n as i64),
        Value::Integer(n) => Frame::Integer(*n),
        Value::Table(_) if depth >= DEPTH_MAX => Frame::error("ERR reached lua stack limit"),
        Value::Table(t) => table_to_frame(t, depth),
        _ => Frame::Null,
    }
}

fn table_to_frame(table: &Table, depth: usize) -> Frame {
    if let Ok(Value::String(e)) = table.raw_get::<Value>("err") {
        return Frame::Error(one_line(&e.as_bytes()));
    }
    if let Ok(Value::String(s)) = table.raw_get::<Value>("ok") {
        return Frame::Simple(one_line(&s.as_bytes()));
    }
    let mut items = Vec::new();
    for i in 1.. {
        match table.raw_get::<Value>(i) {
            Ok(Value::Nil) | Err(_) => break,
            Ok(v) => items.push(lua_to_frame_at(&v, depth + 1)),
        }
    }
    Frame::Array(items)
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
        let value = frame_to_lua(&lua, &frame).unwrap();
        assert_eq!(lua_to_frame(&value), frame);
        let null = frame_to_lua(&lua, &Frame::Null).unwrap();
        assert_eq!(null, Value::Boolean(false));
        assert_eq!(lua_to_frame(&null), Frame::Null);
        let err = frame_to_lua(&lua, &Frame::error("ERR x")).unwrap();
        assert_eq!(lua_to_frame(&err), Frame::error("ERR x"));
        let looped: Value = lua
            .load("local a = {}; local b = {a}; a[1] = b; return a")
            .eval()
            .unwrap();
        let mut frame = lua_to_frame(&looped);
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
        let eval = |src: &str| lua_to_frame(&lua.load(src).eval::<Value>().unwrap());
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
