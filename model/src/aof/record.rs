//! AOF records: one command as a RESP array of bulk strings, or a `#` annotation line.
//!
//! Decoding is strict where Redis is lenient (the CRLF after bulk data is checked): Redis only
//! writes well-formed records, so anything else is damage. The decoder distinguishes a record
//! cut short by the end of the data (`Incomplete`, a torn tail) from bytes that can never become
//! a record (`Corrupt`), and never allocates more than the bytes present.

use bytes::Bytes;

/// Redis's limits on an AOF command: argument count and bulk length.
const ARGC_MAX: u64 = 1024 * 1024;
const BULK_LEN_MAX: u64 = 512 * 1024 * 1024;
/// Redis reads annotation lines into a 1024-byte buffer.
pub const ANNOTATION_LEN_MAX: usize = 1024;

/// One decoding step at the start of `buf`.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded {
    /// A command and the number of bytes it used.
    Command { argv: Vec<Bytes>, len: usize },
    /// A `#...\r\n` line (Redis annotations such as `#TS:`), skipped by loaders.
    Annotation { len: usize },
    /// The data ends inside a record.
    Incomplete,
    /// The bytes at `offset` (relative to `buf`) can never start or continue a record.
    Corrupt { offset: usize, reason: String },
}

/// Encodes a command record.
pub fn encode(argv: &[Bytes], out: &mut Vec<u8>) {
    crate::resp::encode_command(argv, out);
}

/// Decodes the record at the start of `buf`.
pub fn decode(buf: &[u8]) -> Decoded {
    match buf.first() {
        None => Decoded::Incomplete,
        Some(b'#') => decode_annotation(buf),
        Some(b'*') => decode_command(buf),
        Some(&b) => Decoded::Corrupt {
            offset: 0,
            reason: format!("expected '*' or '#', got {}", show(b)),
        },
    }
}

fn decode_annotation(buf: &[u8]) -> Decoded {
    match find_lf(buf, 0) {
        Some(lf) if lf < ANNOTATION_LEN_MAX => Decoded::Annotation { len: lf + 1 },
        Some(_) => Decoded::Corrupt {
            offset: 0,
            reason: "annotation line too long".to_string(),
        },
        None if buf.len() >= ANNOTATION_LEN_MAX => Decoded::Corrupt {
            offset: 0,
            reason: "annotation line too long".to_string(),
        },
        None => Decoded::Incomplete,
    }
}

fn decode_command(buf: &[u8]) -> Decoded {
    let mut at = 0;
    let argc = match number_line(buf, &mut at, b'*', ARGC_MAX) {
        Ok(n) => n,
        Err(step) => return step,
    };
    if argc == 0 {
        return Decoded::Corrupt {
            offset: 0,
            reason: "command with zero arguments".to_string(),
        };
    }
    // Bounded by the bytes present: each argument takes at least 5 bytes.
    let mut argv = Vec::with_capacity((argc as usize).min(buf.len() / 5 + 1));
    for _ in 0..argc {
        let len = match number_line(buf, &mut at, b'$', BULK_LEN_MAX) {
            Ok(n) => n as usize,
            Err(step) => return step,
        };
        let end = at + len;
        if buf.len() < end + 2 {
            return Decoded::Incomplete;
        }
        if &buf[end..end + 2] != b"\r\n" {
            return Decoded::Corrupt {
                offset: end,
                reason: "bulk data not followed by CRLF".to_string(),
            };
        }
        argv.push(Bytes::copy_from_slice(&buf[at..end]));
        at = end + 2;
    }
    Decoded::Command { argv, len: at }
}

/// Reads `<tag><decimal>\r\n` at `*at`, advancing it.
fn number_line(buf: &[u8], at: &mut usize, tag: u8, max: u64) -> Result<u64, Decoded> {
    let start = *at;
    let Some(&first) = buf.get(start) else {
        return Err(Decoded::Incomplete);
    };
    if first != tag {
        let reason = format!("expected '{}', got {}", tag as char, show(first));
        return Err(Decoded::Corrupt {
            offset: start,
            reason,
        });
    }
    let mut value: u64 = 0;
    let mut i = start + 1;
    loop {
        let Some(&b) = buf.get(i) else {
            return Err(Decoded::Incomplete);
        };
        match b {
            b'0'..=b'9' if i - start <= 20 => {
                value = value.saturating_mul(10).saturating_add(u64::from(b - b'0'));
            }
            b'\r' if i > start + 1 => break,
            _ => {
                let reason = format!("invalid length line at {}", show(b));
                return Err(Decoded::Corrupt { offset: i, reason });
            }
        }
        i += 1;
    }
    match buf.get(i + 1) {
        None => return Err(Decoded::Incomplete),
        Some(b'\n') => {}
        Some(&b) => {
            let reason = format!("expected LF, got {}", show(b));
            return Err(Decoded::Corrupt {
                offset: i + 1,
                reason,
            });
        }
    }
    if value > max {
        let reason = format!("length {value} over the limit {max}");
        return Err(Decoded::Corrupt {
            offset: start,
            reason,
        });
    }
    *at = i + 2;
    Ok(value)
}

fn find_lf(buf: &[u8], from: usize) -> Option<usize> {
    buf[from..]
        .iter()
        .position(|&b| b == b'\n')
        .map(|p| p + from)
}

fn show(b: u8) -> String {
    if b.is_ascii_graphic() {
        format!("'{}'", b as char)
    } else {
        format!("byte 0x{b:02x}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_argv::argv;

    #[test]
    fn round_trip_and_every_prefix_is_incomplete() {
        let mut buf = Vec::new();
        encode(&argv(&["SET", "key", "va\r\nlue"]), &mut buf);
        let len = buf.len();
        assert_eq!(
            decode(&buf),
            Decoded::Command {
                argv: argv(&["SET", "key", "va\r\nlue"]),
                len
            }
        );
        for cut in 0..len {
            assert_eq!(decode(&buf[..cut]), Decoded::Incomplete, "cut at {cut}");
        }
    }

    #[test]
    fn annotation_and_corruption() {
        assert_eq!(
            decode(b"#TS:1700000000\r\n*1"),
            Decoded::Annotation { len: 16 }
        );
        assert!(matches!(
            decode(b"\0\0\0"),
            Decoded::Corrupt { offset: 0, .. }
        ));
        assert!(matches!(
            decode(b"*1\r\n$3\r\nabcXY"),
            Decoded::Corrupt { offset: 11, .. }
        ));
        assert!(matches!(
            decode(b"*1\r\nX"),
            Decoded::Corrupt { offset: 4, .. }
        ));
        assert!(matches!(decode(b"*0\r\n"), Decoded::Corrupt { .. }));
        assert!(matches!(
            decode(b"*99999999999999999999999\r\n"),
            Decoded::Corrupt { .. }
        ));
        assert!(matches!(decode(b"*2\r\n$-1\r\n"), Decoded::Corrupt { .. }));
    }
}
