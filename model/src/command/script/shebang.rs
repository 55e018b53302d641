//! EVAL's shebang line (`#!lua flags=no-writes,allow-oom`), as Redis 7.0's
//! `evalExtractShebangFlags`: a script that starts with one runs with the flags it names
//! instead of in the compatibility mode of scripts without one.
//!
//! Invariant: the code compiled is the body after the shebang line, newline kept, so error
//! line numbers are those of the body as sent.

use bytes::Bytes;

use crate::functions::FLAG_NAMES;

/// What a script body declares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Declared {
    /// `None`: no shebang (compatibility mode); else bit `i` is `FLAG_NAMES[i]`.
    pub(crate) flags: Option<u8>,
    /// The code to compile: the body without its shebang line.
    pub(crate) code: Bytes,
}

/// Reads the shebang of `body`; `Err` is Redis's error reply text.
pub(crate) fn extract(body: &Bytes) -> Result<Declared, String> {
    if !body.starts_with(b"#!") {
        return Ok(Declared {
            flags: None,
            code: body.clone(),
        });
    }
    let Some(end) = body.iter().position(|&b| b == b'\n') else {
        return Err("ERR Invalid script shebang".into());
    };
    let line = String::from_utf8_lossy(&body[..end]);
    let mut parts = line.split_ascii_whitespace();
    let engine = parts.next().ok_or("ERR Invalid engine in script shebang")?;
    if engine != "#!lua" {
        return Err(format!("ERR Unexpected engine in script shebang: {engine}"));
    }
    let mut flags = 0u8;
    for part in parts {
        let Some(names) = part.strip_prefix("flags=") else {
            return Err(format!("ERR Unknown lua shebang option: {part}"));
        };
        for name in names.split(',').filter(|n| !n.is_empty()) {
            let Some(bit) = FLAG_NAMES.iter().position(|f| *f == name) else {
                return Err(format!("ERR Unexpected flag in script shebang: {name}"));
            };
            flags |= 1 << bit;
        }
    }
    Ok(Declared {
        flags: Some(flags),
        code: body.slice(end..),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(body: &'static str) -> Result<Declared, String> {
        extract(&Bytes::from_static(body.as_bytes()))
    }

    #[test]
    fn reads_shebangs_as_redis() {
        assert_eq!(read("return 1").unwrap().flags, None);
        let d = read("#!lua flags=no-writes,allow-oom\nreturn 1").unwrap();
        assert_eq!((d.flags, &d.code[..]), (Some(0b11), &b"\nreturn 1"[..]));
        assert_eq!(read("#!lua\nreturn 1").unwrap().flags, Some(0));
        assert_eq!(read("#!lua flags=\nx").unwrap().flags, Some(0));
        let errors = [
            ("#!lua", "ERR Invalid script shebang"),
            (
                "#!python\nx",
                "ERR Unexpected engine in script shebang: #!python",
            ),
            (
                "#!lua foo=bar\nx",
                "ERR Unknown lua shebang option: foo=bar",
            ),
            (
                "#!lua flags=allow-oom,what?\nx",
                "ERR Unexpected flag in script shebang: what?",
            ),
        ];
        for (body, text) in errors {
            assert_eq!(read(body), Err(text.to_string()), "{body}");
        }
    }
}
