//! Parsing replies strictly: every CRLF checked, canonical lengths, capped nesting.
//!
//! Owns [`parse_frame`], used by clients of durakv (tests, tools) rather than by the server.
//! Invariant: a pure function of the bytes given; `Ok(None)` consumes nothing; a reply is
//! checked without allocating before it is built, and arrays nest at most
//! [`FRAME_DEPTH_MAX`] deep, so no input overflows the stack.

use bytes::Bytes;

use super::error::{Parsed, ProtocolError};
use super::frame::Frame;
use super::integer::parse_integer;
use super::limits::{BULK_LEN_MAX, FRAME_DEPTH_MAX, MULTIBULK_LEN_MAX};

/// Parses one reply frame from the front of `buf`, strictly: every line must end in CRLF,
/// lengths and integers must be canonical, arrays may nest at most [`FRAME_DEPTH_MAX`] deep.
/// `Ok(None)`: more bytes are needed.
pub fn parse_frame(buf: &[u8]) -> Parsed<Frame> {
    // Check first without allocating, then build: a large reply arriving in pieces costs one
    // cheap scan per piece, not one copy.
    match frame_at(buf, 0, 0, false)? {
        None => Ok(None),
        Some(_) => Ok(frame_at(buf, 0, 0, true)?),
    }
}

/// The frame at `pos`. With `build == false` only its end is computed (the frame returned is a
/// placeholder).
fn frame_at(buf: &[u8], pos: usize, depth: usize, build: bool) -> Parsed<Frame> {
    let bad = |offset: usize, reason| ProtocolError::InvalidFrame {
        offset: offset as u64,
        reason,
    };
    let Some(Line { tag, body, next }) = frame_line(buf, pos)? else {
        return Ok(None);
    };
    let text = |b: &[u8]| {
        if build {
            String::from_utf8_lossy(b).into_owned()
        } else {
            String::new()
        }
    };
    let number = || parse_integer(body).ok_or_else(|| bad(pos + 1, "invalid integer"));
    let frame = match tag {
        b'+' => Frame::Simple(text(body)),
        b'-' => Frame::Error(text(body)),
        b':' => Frame::Integer(number()?),
        b'$' => return bulk_at(buf, pos, number()?, next, build),
        b'*' => return array_at(buf, pos, number()?, next, depth, build),
        _ => return Err(bad(pos, "unknown frame type")),
    };
    Ok(Some((frame, next)))
}

/// The first line of a frame.
struct Line<'a> {
    /// The type byte.
    tag: u8,
    /// The rest of the line, without CRLF.
    body: &'a [u8],
    /// The position after the CRLF.
    next: usize,
}

fn frame_line(buf: &[u8], pos: usize) -> Result<Option<Line<'_>>, ProtocolError> {
    let Some(&tag) = buf.get(pos) else {
        return Ok(None);
    };
    let Some(end) = buf[pos..].iter().position(|&b| b == b'\r' || b == b'\n') else {
        return Ok(None);
    };
    let cr = pos + end;
    match buf.get(cr + 1) {
        None if buf[cr] == b'\r' => Ok(None),
        Some(b'\n') if buf[cr] == b'\r' => Ok(Some(Line {
            tag,
            body: &buf[(pos + 1).min(cr)..cr],
            next: cr + 2,
        })),
        _ => Err(ProtocolError::InvalidFrame {
            offset: cr as u64,
            reason: "line not ended by CRLF",
        }),
    }
}

fn bulk_at(buf: &[u8], pos: usize, len: i64, body: usize, build: bool) -> Parsed<Frame> {
    let len = match len {
        -1 => return Ok(Some((Frame::Null, body))),
        n if n >= 0 && n as u64 <= BULK_LEN_MAX => n as usize,
        _ => {
            return Err(ProtocolError::InvalidFrame {
                offset: pos as u64,
                reason: "invalid bulk length",
            })
        }
    };
    if buf.len() - body < len + 2 {
        return Ok(None);
    }
    if &buf[body + len..body + len + 2] != b"\r\n" {
        let offset = (body + len) as u64;
        return Err(ProtocolError::InvalidFrame {
            offset,
            reason: "bulk data not followed by CRLF",
        });
    }
    let frame = if build {
        Frame::Bulk(Bytes::copy_from_slice(&buf[body..body + len]))
    } else {
        Frame::Null
    };
    Ok(Some((frame, body + len + 2)))
}

fn array_at(
    buf: &[u8],
    pos: usize,
    count: i64,
    mut at: usize,
    depth: usize,
    build: bool,
) -> Parsed<Frame> {
    let count = match count {
        -1 => return Ok(Some((Frame::NullArray, at))),
        n if n >= 0 && n as u64 <= MULTIBULK_LEN_MAX => n as u64,
        _ => {
            return Err(ProtocolError::InvalidFrame {
                offset: pos as u64,
                reason: "invalid array length",
            })
        }
    };
    if depth >= FRAME_DEPTH_MAX {
        return Err(ProtocolError::InvalidFrame {
            offset: pos as u64,
            reason: "arrays nested too deep",
        });
    }
    // Grows with elements present, never with the claimed count.
    let mut items = Vec::with_capacity(if build { count.min(1024) as usize } else { 0 });
    for _ in 0..count {
        let Some((item, next)) = frame_at(buf, at, depth + 1, build)? else {
            return Ok(None);
        };
        if build {
            items.push(item);
        }
        at = next;
    }
    Ok(Some((Frame::Array(items), at)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame_bytes(f: &Frame) -> Vec<u8> {
        let mut out = Vec::new();
        f.encode(&mut out);
        out
    }

    #[test]
    fn frames_round_trip_and_every_prefix_is_incomplete() {
        let frames = [
            Frame::ok(),
            Frame::error("ERR x"),
            Frame::Integer(-42),
            Frame::Bulk(Bytes::from_static(b"a\r\nb")),
            Frame::Null,
            Frame::NullArray,
            Frame::Array(vec![]),
            Frame::Array(vec![
                Frame::Integer(1),
                Frame::Array(vec![Frame::Null, Frame::Bulk(Bytes::new())]),
            ]),
        ];
        for frame in frames {
            let bytes = frame_bytes(&frame);
            for cut in 0..bytes.len() {
                assert_eq!(
                    parse_frame(&bytes[..cut]),
                    Ok(None),
                    "{frame:?} cut at {cut}"
                );
            }
            assert_eq!(parse_frame(&bytes), Ok(Some((frame, bytes.len()))));
        }
    }

    #[test]
    fn malformed_frames_are_refused() {
        let bad: [&[u8]; 9] = [
            b"?x\r\n",
            b"+a\nb\r\n",
            b"+a\rb\r\n",
            b":01\r\n",
            b"$-2\r\n",
            b"$1\r\nabc",
            b"*-2\r\n",
            b"$x\r\n",
            b"*1\r\n!\r\n",
        ];
        for buf in bad {
            assert!(
                matches!(parse_frame(buf), Err(ProtocolError::InvalidFrame { .. })),
                "{:?}",
                String::from_utf8_lossy(buf)
            );
        }
    }

    #[test]
    fn frame_nesting_is_capped() {
        let mut deep = Vec::new();
        for _ in 0..FRAME_DEPTH_MAX {
            deep.extend_from_slice(b"*1\r\n");
        }
        let mut ok = deep.clone();
        ok.extend_from_slice(b":1\r\n");
        assert!(parse_frame(&ok).unwrap().is_some());
        deep.extend_from_slice(b"*1\r\n:1\r\n");
        assert!(matches!(
            parse_frame(&deep),
            Err(ProtocolError::InvalidFrame { .. })
        ));
        // Far deeper input fails the same way instead of overflowing the stack.
        assert!(parse_frame(&b"*1\r\n".repeat(100_000)).is_err());
    }
}
