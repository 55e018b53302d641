//! Replies and error texts, exactly as Redis 7.0 words them.
//!
//! Invariant: every error a command returns is built here, so one place holds Redis's spelling.

use bytes::Bytes;

use crate::resp::Frame;

pub(crate) const SYNTAX: &str = "ERR syntax error";
pub(crate) const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
pub(crate) const NOT_FLOAT: &str = "ERR value is not a valid float";
pub(crate) const WRONGTYPE: &str =
    "WRONGTYPE Operation against a key holding the wrong kind of value";
pub(crate) const OVERFLOW: &str = "ERR increment or decrement would overflow";
pub(crate) const NO_SUCH_KEY: &str = "ERR no such key";
pub(crate) const DB_RANGE: &str = "ERR DB index is out of range";
pub(crate) const TOO_LONG: &str = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";

pub(crate) fn err(message: &str) -> Frame {
    Frame::Error(message.to_string())
}

pub(crate) fn ok() -> Frame {
    Frame::ok()
}

pub(crate) fn queued() -> Frame {
    Frame::Simple("QUEUED".to_string())
}

pub(crate) fn int(n: i64) -> Frame {
    Frame::Integer(n)
}

/// An integer reply from a count (counts here are far below `i64::MAX`).
pub(crate) fn count(n: usize) -> Frame {
    Frame::Integer(i64::try_from(n).unwrap_or(i64::MAX))
}

pub(crate) fn bulk(b: &Bytes) -> Frame {
    Frame::Bulk(b.clone())
}

/// A bulk string of static text (Pub/Sub's `message`, `subscribe`, …).
pub(crate) fn bulk_str(text: &'static str) -> Frame {
    Frame::Bulk(Bytes::from_static(text.as_bytes()))
}

pub(crate) fn wrong_arity(name: &str) -> Frame {
    Frame::Error(super::index::wrong_arity_text(name))
}

pub(crate) fn invalid_expire(name: &str) -> Frame {
    Frame::Error(format!("ERR invalid expire time in '{name}' command"))
}

/// `unknown command 'foo', with args beginning with: 'a' 'b' `: each argument quoted and
/// followed by a space, stopping once 128 bytes of arguments are shown (the last one cut to
/// fit), as `processCommand` formats it. Bytes are C strings there: each ends at a NUL.
pub(crate) fn unknown_command(argv: &[Bytes]) -> Frame {
    let name = argv.first().map_or(&b""[..], |n| c_str(n));
    let mut args: Vec<u8> = Vec::new();
    for arg in argv.iter().skip(1) {
        if args.len() >= 128 {
            break;
        }
        let room = 128 - args.len();
        let shown = c_str(arg);
        args.push(b'\'');
        args.extend_from_slice(&shown[..shown.len().min(room)]);
        args.extend_from_slice(b"' ");
    }
    let mut text = b"ERR unknown command '".to_vec();
    text.extend_from_slice(name);
    text.extend_from_slice(b"', with args beginning with: ");
    text.extend_from_slice(&args);
    Frame::Error(one_line(&text))
}

fn c_str(b: &[u8]) -> &[u8] {
    b.iter().position(|&c| c == 0).map_or(b, |nul| &b[..nul])
}

/// An error text as Redis sends it: CR and LF become spaces so the reply stays one line.
pub(crate) fn one_line(text: &[u8]) -> String {
    let mapped: Vec<u8> = text
        .iter()
        .map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c })
        .collect();
    String::from_utf8_lossy(&mapped).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_argv::argv;

    #[test]
    fn unknown_command_lists_arguments_like_redis() {
        assert_eq!(
            unknown_command(&argv(&["foo", "a", "b"])),
            Frame::error("ERR unknown command 'foo', with args beginning with: 'a' 'b' ")
        );
        assert_eq!(
            unknown_command(&argv(&["foo"])),
            Frame::error("ERR unknown command 'foo', with args beginning with: ")
        );
        assert_eq!(
            unknown_command(&argv(&["x\r\ny", "a\nb"])),
            Frame::error("ERR unknown command 'x  y', with args beginning with: 'a b' ")
        );
    }

    #[test]
    fn unknown_command_stops_after_128_bytes_of_arguments() {
        let long = "z".repeat(200);
        let Frame::Error(text) = unknown_command(&argv(&["foo", "a", &long, "never"])) else {
            panic!()
        };
        let args = text.split_once("beginning with: ").unwrap().1;
        // 'a' plus space is 4 bytes, so the long argument is cut to the 124 bytes left.
        assert_eq!(args, format!("'a' '{}' ", "z".repeat(124)));
    }
}
