//! The `cmsgpack` library scripts see (lua-cmsgpack 0.4 as Redis 7.0 bundles it): `pack`,
//! `unpack`, `unpack_one`, `unpack_limit`.
//!
//! Invariant: `pack` writes lua-cmsgpack's bytes (smallest integer form, float32 when exact,
//! str8 from 32 bytes, tables nested deeper than 16 written as nil so cycles end), and
//! `unpack` of any input gives values or an error, never a panic.

use mlua::{Lua, MultiValue, Table, Value};

/// Tables nested deeper than this are written as nil (lua-cmsgpack's cycle guard).
const NESTING_MAX: usize = 16;

/// Builds the `cmsgpack` table.
pub(crate) fn table(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set("pack", lua.create_function(pack)?)?;
    t.raw_set(
        "unpack",
        lua.create_function(|lua, s: mlua::String| unpack(lua, &s, 0, 0))?,
    )?;
    let one = |lua: &Lua, (s, offset): (mlua::String, Option<i64>)| {
        unpack(lua, &s, 1, offset.unwrap_or(0))
    };
    t.raw_set("unpack_one", lua.create_function(one)?)?;
    let limit = |lua: &Lua, (s, limit, offset): (mlua::String, i64, Option<i64>)| {
        unpack(lua, &s, limit, offset.unwrap_or(0))
    };
    t.raw_set("unpack_limit", lua.create_function(limit)?)?;
    t.raw_set("_NAME", "cmsgpack")?;
    t.raw_set("_VERSION", "lua-cmsgpack 0.4.0")?;
    Ok(t)
}

fn error(text: impl Into<String>) -> mlua::Error {
    super::error::error(text.into())
}

fn pack(lua: &Lua, args: MultiValue) -> mlua::Result<mlua::String> {
    if args.is_empty() {
        return Err(error(
            "bad argument #0 to 'pack' (MessagePack pack needs input.)",
        ));
    }
    let mut out = Vec::new();
    for v in &args {
        encode(&mut out, v, 0)?;
    }
    lua.create_string(&out)
}

fn encode(out: &mut Vec<u8>, v: &Value, level: usize) -> mlua::Result<()> {
    match v {
        Value::String(s) => encode_bytes(out, &s.as_bytes()),
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(i) => encode_int(out, *i),
        Value::Number(n) => encode_number(out, *n),
        Value::Table(t) if level < NESTING_MAX => encode_table(out, t, level)?,
        _ => out.push(0xc0),
    }
    Ok(())
}

fn encode_number(out: &mut Vec<u8>, n: f64) {
    // lua-cmsgpack's IS_INT64_EQUIVALENT: finite and unchanged by a cast to int64.
    if n.is_finite() && (n as i64) as f64 == n {
        return encode_int(out, n as i64);
    }
    let f = n as f32;
    if f64::from(f) == n {
        out.push(0xca);
        out.extend_from_slice(&f.to_be_bytes());
    } else {
        out.push(0xcb);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn encode_int(out: &mut Vec<u8>, n: i64) {
    match n {
        0..=127 => out.push(n as u8),
        128..=0xff => out.extend_from_slice(&[0xcc, n as u8]),
        0x100..=0xffff => {
            out.push(0xcd);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(0xce);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        }
        _ if n > 0 => {
            out.push(0xcf);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
        -32..=-1 => out.push(n as i8 as u8),
        -128..=-33 => out.extend_from_slice(&[0xd0, n as i8 as u8]),
        -32768..=-129 => {
            out.push(0xd1);
            out.extend_from_slice(&(n as i16).to_be_bytes());
        }
        -2_147_483_648..=-32769 => {
            out.push(0xd2);
            out.extend_from_slice(&(n as i32).to_be_bytes());
        }
        _ => {
            out.push(0xd3);
            out.extend_from_slice(&n.to_be_bytes());
        }
    }
}

/// A header of `len` in the fix/16/32 forms (`fix` the fix form's tag and size limit).
fn header(out: &mut Vec<u8>, len: usize, fix: (u8, usize), tags: [u8; 2]) {
    if len < fix.1 {
        out.push(fix.0 | len as u8);
    } else if len <= 0xffff {
        out.push(tags[0]);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(tags[1]);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
}

fn encode_bytes(out: &mut Vec<u8>, s: &[u8]) {
    if (32..=0xff).contains(&s.len()) {
        out.extend_from_slice(&[0xd9, s.len() as u8]);
    } else {
        header(out, s.len(), (0xa0, 32), [0xda, 0xdb]);
    }
    out.extend_from_slice(s);
}

fn encode_table(out: &mut Vec<u8>, t: &Table, level: usize) -> mlua::Result<()> {
    // Two passes over the table, as lua-cmsgpack: holding every key and value of a large table
    // at once would exhaust the Lua stack that keeps them alive.
    let (count, array) = shape(t)?;
    if array {
        header(out, count, (0x90, 16), [0xdc, 0xdd]);
        for i in 1..=count {
            encode(out, &t.raw_get::<Value>(i)?, level + 1)?;
        }
    } else {
        header(out, count, (0x80, 16), [0xde, 0xdf]);
        for pair in t.pairs::<Value, Value>() {
            let (k, v) = pair?;
            encode(out, &k, level + 1)?;
            encode(out, &v, level + 1)?;
        }
    }
    Ok(())
}

/// The number of keys, and lua-cmsgpack's `table_is_an_array`: every key a positive integer
/// and none missing.
fn shape(t: &Table) -> mlua::Result<(usize, bool)> {
    let (mut count, mut max, mut array) = (0usize, 0f64, true);
    for pair in t.pairs::<Value, Value>() {
        let (k, _) = pair?;
        count += 1;
        let n = match k {
            Value::Integer(i) => i as f64,
            Value::Number(n) => n,
            _ => f64::NAN,
        };
        if !(n > 0.0 && (n as i32) as f64 == n) {
            array = false;
        }
        max = max.max(n);
    }
    Ok((count, array && max == count as f64))
}

/// lua-cmsgpack's `mp_unpack_full`: with `limit` and `offset` both 0, every value; otherwise
/// the next offset (-1 at the end) followed by at most `limit` values.
fn unpack(lua: &Lua, s: &mlua::String, limit: i64, offset: i64) -> mlua::Result<MultiValue> {
    let data = s.as_bytes();
    if offset < 0 || limit < 0 {
        return Err(error(format!(
            "Invalid request to unpack with offset of {offset} and limit of {}.",
            data.len()
        )));
    }
    if offset as usize > data.len() {
        return Err(error(format!(
            "Start offset {offset} greater than input length {}.",
            data.len()
        )));
    }
    let all = limit == 0 && offset == 0;
    let mut cur = Cursor {
        data: &data,
        pos: offset as usize,
    };
    let mut values = MultiValue::new();
    while cur.pos < data.len() && (all || (values.len() as i64) < limit) {
        values.push_back(cur.value(lua)?);
    }
    if !all {
        let next = if cur.pos == data.len() {
            -1
        } else {
            cur.pos as i64
        };
        values.push_front(Value::Integer(next));
    }
    Ok(values)
}

struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn take(&mut self, n: usize) -> mlua::Result<&[u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.data.len());
        let end = end.ok_or_else(|| error("Missing bytes in input."))?;
        let bytes = &self.data[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    fn uint(&mut self, n: usize) -> mlua::Result<u64> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
    }

    fn value(&mut self, lua: &Lua) -> mlua::Result<Value> {
        let tag = self.take(1)?[0];
        let number = |n: f64| Ok(Value::Number(n));
        match tag {
            0x00..=0x7f => number(f64::from(tag)),
            0xe0..=0xff => number(f64::from(tag as i8)),
            0xa0..=0xbf => self.string(lua, usize::from(tag & 0x1f)),
            0x90..=0x9f => self.array(lua, usize::from(tag & 0x0f)),
            0x80..=0x8f => self.map(lua, usize::from(tag & 0x0f)),
            0xc0 => Ok(Value::Nil),
            0xc2 => Ok(Value::Boolean(false)),
            0xc3 => Ok(Value::Boolean(true)),
            0xcc..=0xcf => number(self.uint(1 << (tag - 0xcc))? as f64),
            0xd0 => number(f64::from(self.uint(1)? as u8 as i8)),
            0xd1 => number(f64::from(self.uint(2)? as u16 as i16)),
            0xd2 => number(f64::from(self.uint(4)? as u32 as i32)),
            0xd3 => number(self.uint(8)? as i64 as f64),
            0xca => number(f64::from(f32::from_bits(self.uint(4)? as u32))),
            0xcb => number(f64::from_bits(self.uint(8)?)),
            0xd9 => self.sized(lua, 1, Self::string),
            0xda => self.sized(lua, 2, Self::string),
            0xdb => self.sized(lua, 4, Self::string),
            0xdc => self.sized(lua, 2, Self::array),
            0xdd => self.sized(lua, 4, Self::array),
            0xde => self.sized(lua, 2, Self::map),
            0xdf => self.sized(lua, 4, Self::map),
            _ => Err(error("Bad data format in input.")),
        }
    }

    fn sized(
        &mut self,
        lua: &Lua,
        width: usize,
        read: fn(&mut Self, &Lua, usize) -> mlua::Result<Value>,
    ) -> mlua::Result<Value> {
        let len = self.uint(width)? as usize;
        read(self, lua, len)
    }

    fn string(&mut self, lua: &Lua, len: usize) -> mlua::Result<Value> {
        Ok(Value::String(lua.create_string(self.take(len)?)?))
    }

    fn array(&mut self, lua: &Lua, len: usize) -> mlua::Result<Value> {
        let t = lua.create_table()?;
        for i in 1..=len {
            t.raw_set(i, self.value(lua)?)?;
        }
        Ok(Value::Table(t))
    }

    fn map(&mut self, lua: &Lua, len: usize) -> mlua::Result<Value> {
        let t = lua.create_table()?;
        for _ in 0..len {
            let k = self.value(lua)?;
            let v = self.value(lua)?;
            t.raw_set(k, v)?;
        }
        Ok(Value::Table(t))
    }
}
