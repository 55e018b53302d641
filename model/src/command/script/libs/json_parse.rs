//! lua-cjson's decoder: JSON text to Lua values, with its tokens, limits and error texts.
//!
//! Invariant: whatever the input, the result is a value or an error naming what was expected,
//! what was found and where (1-based character), as lua-cjson's `json_throw_parse_error` —
//! never a panic; nesting is bounded by `decode_max_depth`.

use mlua::{LightUserData, Lua, Value};

#[derive(Clone, Copy, Debug)]
enum Tok {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    Str,
    Number(f64),
    Boolean(bool),
    Null,
    Colon,
    Comma,
    End,
    /// An invalid token, with lua-cjson's reason.
    Error(&'static str),
}

impl Tok {
    fn name(&self) -> &'static str {
        match self {
            Tok::ObjBegin => "T_OBJ_BEGIN",
            Tok::ObjEnd => "T_OBJ_END",
            Tok::ArrBegin => "T_ARR_BEGIN",
            Tok::ArrEnd => "T_ARR_END",
            Tok::Str => "T_STRING",
            Tok::Number(_) => "T_NUMBER",
            Tok::Boolean(_) => "T_BOOLEAN",
            Tok::Null => "T_NULL",
            Tok::Colon => "T_COLON",
            Tok::Comma => "T_COMMA",
            Tok::End => "T_END",
            Tok::Error(reason) => reason,
        }
    }
}

struct Parser<'a> {
    data: &'a [u8],
    pos: usize,
    depth: i64,
    depth_max: i64,
    invalid_numbers: bool,
    /// The last string token's decoded bytes.
    text: Vec<u8>,
}

/// Decodes `data` (one JSON value and nothing after it but whitespace).
pub(crate) fn parse(
    lua: &Lua,
    data: &[u8],
    depth_max: i64,
    invalid_numbers: bool,
) -> mlua::Result<Value> {
    let mut p = Parser {
        data,
        pos: 0,
        depth: 0,
        depth_max,
        invalid_numbers,
        text: Vec::new(),
    };
    let (tok, at) = p.next();
    let value = p.value(lua, tok, at)?;
    let (tok, at) = p.next();
    if !matches!(tok, Tok::End) {
        return Err(expected("the end", tok, at));
    }
    Ok(value)
}

fn expected(what: &str, found: Tok, at: usize) -> mlua::Error {
    super::error::error(format!(
        "Expected {what} but found {} at character {}",
        found.name(),
        at + 1
    ))
}

impl Parser<'_> {
    fn peek(&self) -> u8 {
        self.data.get(self.pos).copied().unwrap_or(0)
    }

    /// The next token and the index it starts at.
    fn next(&mut self) -> (Tok, usize) {
        while matches!(self.peek(), b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
        let at = self.pos;
        let single = match self.peek() {
            0 => return (Tok::End, at),
            b'{' => Some(Tok::ObjBegin),
            b'}' => Some(Tok::ObjEnd),
            b'[' => Some(Tok::ArrBegin),
            b']' => Some(Tok::ArrEnd),
            b':' => Some(Tok::Colon),
            b',' => Some(Tok::Comma),
            _ => None,
        };
        if let Some(tok) = single {
            self.pos += 1;
            return (tok, at);
        }
        (self.next_word(), at)
    }

    fn next_word(&mut self) -> Tok {
        let rest = &self.data[self.pos..];
        let c = self.peek();
        if c == b'"' {
            return self.string();
        }
        if c == b'-' || c.is_ascii_digit() {
            if !self.invalid_numbers && invalid_number(rest) {
                return Tok::Error("invalid number");
            }
            return self.number();
        }
        for (word, tok) in [
            (&b"true"[..], Tok::Boolean(true)),
            (b"false", Tok::Boolean(false)),
        ]
        .into_iter()
        .chain([(&b"null"[..], Tok::Null)])
        {
            if rest.starts_with(word) {
                self.pos += word.len();
                return tok;
            }
        }
        Tok::Error("invalid token")
    }

    /// The longest prefix `strtod` would read (decimal forms).
    fn number(&mut self) -> Tok {
        let rest = &self.data[self.pos..];
        let mut end = usize::from(rest.first() == Some(&b'-'));
        let digits = |from: usize| {
            rest[from..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count()
        };
        end += digits(end);
        if rest.get(end) == Some(&b'.') {
            end += 1 + digits(end + 1);
        }
        if matches!(rest.get(end), Some(b'e' | b'E')) {
            let sign = usize::from(matches!(rest.get(end + 1), Some(b'+' | b'-')));
            let exp = digits(end + 1 + sign);
            if exp > 0 {
                end += 1 + sign + exp;
            }
        }
        let parsed = std::str::from_utf8(&rest[..end])
            .ok()
            .and_then(|s| s.parse::<f64>().ok());
        match parsed {
            Some(n) => {
                self.pos += end;
                Tok::Number(n)
            }
            None => Tok::Error("invalid number"),
        }
    }

    fn string(&mut self) -> Tok {
        self.text.clear();
        self.pos += 1;
        loop {
            let c = self.peek();
            if self.pos >= self.data.len() || c == 0 {
                return Tok::Error("unexpected end of string");
            }
            self.pos += 1;
            match c {
                b'"' => return Tok::Str,
                b'\\' => {
                    if let Err(reason) = self.escape() {
                        return Tok::Error(reason);
                    }
                }
                _ => self.text.push(c),
            }
        }
    }

    fn escape(&mut self) -> Result<(), &'static str> {
        let c = self.peek();
        self.pos += 1;
        let plain = match c {
            b'"' | b'\\' | b'/' => c,
            b'b' => 0x08,
            b'f' => 0x0c,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'u' => return self.unicode(),
            _ => return Err("invalid escape code"),
        };
        self.text.push(plain);
        Ok(())
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = self.data.get(self.pos..self.pos + 4)?;
        let text = std::str::from_utf8(digits).ok()?;
        let n = u32::from_str_radix(text, 16).ok()?;
        self.pos += 4;
        Some(n)
    }

    /// `\uXXXX`, with a surrogate pair joined, as UTF-8.
    fn unicode(&mut self) -> Result<(), &'static str> {
        const BAD: &str = "invalid unicode escape code";
        let mut code = self.hex4().ok_or(BAD)?;
        if (0xD800..0xDC00).contains(&code) {
            if self.data.get(self.pos..self.pos + 2) != Some(b"\\u") {
                return Err(BAD);
            }
            self.pos += 2;
            let low = self.hex4().ok_or(BAD)?;
            if !(0xDC00..0xE000).contains(&low) {
                return Err(BAD);
            }
            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
        } else if (0xDC00..0xE000).contains(&code) {
            return Err(BAD);
        }
        let c = char::from_u32(code).ok_or(BAD)?;
        let mut buf = [0u8; 4];
        self.text
            .extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        Ok(())
    }

    fn descend(&mut self) -> mlua::Result<()> {
        self.depth += 1;
        if self.depth <= self.depth_max {
            return Ok(());
        }
        Err(super::error::error(format!(
            "Found too many nested data structures ({}) at character {}",
            self.depth, self.pos
        )))
    }

    fn value(&mut self, lua: &Lua, tok: Tok, at: usize) -> mlua::Result<Value> {
        Ok(match tok {
            Tok::Str => Value::String(lua.create_string(&self.text)?),
            Tok::Number(n) => Value::Number(n),
            Tok::Boolean(b) => Value::Boolean(b),
            Tok::Null => Value::LightUserData(LightUserData(std::ptr::null_mut())),
            Tok::ObjBegin => self.object(lua)?,
            Tok::ArrBegin => self.array(lua)?,
            other => return Err(expected("value", other, at)),
        })
    }

    fn object(&mut self, lua: &Lua) -> mlua::Result<Value> {
        self.descend()?;
        let table = lua.create_table()?;
        let (mut tok, mut at) = self.next();
        if matches!(tok, Tok::ObjEnd) {
            self.depth -= 1;
            return Ok(Value::Table(table));
        }
        loop {
            if !matches!(tok, Tok::Str) {
                return Err(expected("object key string", tok, at));
            }
            let key = lua.create_string(&self.text)?;
            let (colon, colon_at) = self.next();
            if !matches!(colon, Tok::Colon) {
                return Err(expected("colon", colon, colon_at));
            }
            let (vtok, vat) = self.next();
            table.raw_set(key, self.value(lua, vtok, vat)?)?;
            (tok, at) = self.next();
            match tok {
                Tok::ObjEnd => break,
                Tok::Comma => (tok, at) = self.next(),
                other => return Err(expected("comma or object end", other, at)),
            }
        }
        self.depth -= 1;
        Ok(Value::Table(table))
    }

    fn array(&mut self, lua: &Lua) -> mlua::Result<Value> {
        self.descend()?;
        let table = lua.create_table()?;
        let (mut tok, mut at) = self.next();
        if matches!(tok, Tok::ArrEnd) {
            self.depth -= 1;
            return Ok(Value::Table(table));
        }
        for i in 1.. {
            table.raw_set(i, self.value(lua, tok, at)?)?;
            (tok, at) = self.next();
            match tok {
                Tok::ArrEnd => break,
                Tok::Comma => (tok, at) = self.next(),
                other => return Err(expected("comma or array end", other, at)),
            }
        }
        self.depth -= 1;
        Ok(Value::Table(table))
    }
}

/// lua-cjson's `json_is_invalid_number`: JSON forbids `+`, hex, leading zeros, inf and nan.
fn invalid_number(rest: &[u8]) -> bool {
    let p = rest.strip_prefix(b"-").unwrap_or(rest);
    match p.first() {
        Some(b'0') => matches!(p.get(1), Some(b'x' | b'X' | b'0'..=b'9')),
        Some(c) if *c <= b'9' => false,
        _ => {
            let head = p.get(..3).map(<[u8]>::to_ascii_lowercase);
            matches!(head.as_deref(), Some(b"inf" | b"nan"))
        }
    }
}
