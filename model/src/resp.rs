//! RESP2 frames: the client protocol and the AOF record format.
//!
//! Owns encoding and (incremental, bounded) parsing of frames. Two parsers:
//! - [`parse_command`] reads requests as Redis's `processInputBuffer` does: RESP multibulk
//!   (`*N\r\n$len\r\n...`) or an inline line split like `sdssplitargs`, with Redis's limits and
//!   Redis's exact error texts;
//! - [`parse_frame`] reads replies strictly (every CRLF checked), with a nesting-depth cap.
//!
//! Invariant: both are pure functions of the bytes given. `Ok(None)` means "need more bytes"
//! and consumes nothing; nothing is allocated in proportion to a length the peer *claims*, only
//! to bytes that have arrived; no input panics.

use std::fmt;

use bytes::Bytes;

pub use crate::sds_args::split_args;

/// A RESP2 frame, as replies are built and requests are parsed.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Frame {
    Simple(String),
    Error(String),
    Integer(i64),
    Bulk(Bytes),
    /// `$-1\r\n`
    Null,
    Array(Vec<Frame>),
    /// `*-1\r\n`
    NullArray,
}

impl Frame {
    pub fn ok() -> Frame {
        Frame::Simple("OK".to_string())
    }

    pub fn error(message: impl Into<String>) -> Frame {
        Frame::Error(message.into())
    }

    /// Appends the wire encoding of the frame to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Frame::Simple(s) => line(out, b'+', s.as_bytes()),
            Frame::Error(s) => line(out, b'-', s.as_bytes()),
            Frame::Integer(n) => line(out, b':', n.to_string().as_bytes()),
            Frame::Bulk(b) => {
                line(out, b'$', b.len().to_string().as_bytes());
                out.extend_from_slice(b);
                out.extend_from_slice(b"\r\n");
            }
            Frame::Null => out.extend_from_slice(b"$-1\r\n"),
            Frame::NullArray => out.extend_from_slice(b"*-1\r\n"),
            Frame::Array(items) => {
                line(out, b'*', items.len().to_string().as_bytes());
                for item in items {
                    item.encode(out);
                }
            }
        }
    }
}

fn line(out: &mut Vec<u8>, tag: u8, body: &[u8]) {
    out.push(tag);
    out.extend_from_slice(body);
    out.extend_from_slice(b"\r\n");
}

/// Encodes a command (an array of bulk strings), as the AOF and clients write it.
pub fn encode_command(argv: &[Bytes], out: &mut Vec<u8>) {
    line(out, b'*', argv.len().to_string().as_bytes());
    for arg in argv {
        line(out, b'$', arg.len().to_string().as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

/// Redis's `proto-max-bulk-len` default: 512 MB.
pub const BULK_LEN_MAX: u64 = 512 * 1024 * 1024;
/// Largest multibulk count accepted.
pub const MULTIBULK_LEN_MAX: u64 = 1024 * 1024 * 1024;
/// Redis's `PROTO_INLINE_MAX_SIZE`: an inline line, or a `*`/`$` count line, without its CRLF.
pub const INLINE_LEN_MAX: u64 = 64 * 1024;
/// Redis's `client-query-buffer-limit` default: 1 GB.
pub const QUERY_BUFFER_MAX: u64 = 1024 * 1024 * 1024;
/// Deepest array nesting [`parse_frame`] accepts (replies of the commands here nest 2 deep).
pub const FRAME_DEPTH_MAX: usize = 32;

/// Request limits, as Redis's configuration sets them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Limits {
    /// `proto-max-bulk-len`.
    pub bulk_len_max: u64,
    pub multibulk_len_max: u64,
    pub inline_len_max: u64,
    /// `client-query-buffer-limit`: unparsed bytes a client may have pending.
    pub query_buffer_max: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            bulk_len_max: BULK_LEN_MAX,
            multibulk_len_max: MULTIBULK_LEN_MAX,
            inline_len_max: INLINE_LEN_MAX,
            query_buffer_max: QUERY_BUFFER_MAX,
        }
    }
}

/// A request or reply the stream cannot recover from: the connection must be closed (after
/// sending [`ProtocolError::reply`], if any, as Redis does).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ProtocolError {
    InvalidMultibulkLength,
    InvalidBulkLength,
    /// A multibulk argument did not start with `$`; holds the byte found.
    ExpectedDollar(u8),
    UnbalancedQuotes,
    TooBigInlineRequest,
    TooBigMultibulkCount,
    TooBigBulkCount,
    /// More than `query_buffer_max` bytes pending: Redis closes such a client without a reply.
    QueryBufferLimit,
    /// A reply that is not well-formed RESP2 ([`parse_frame`] only).
    InvalidFrame {
        offset: u64,
        reason: &'static str,
    },
}

impl ProtocolError {
    /// The error reply Redis sends before closing, if any.
    pub fn reply(&self) -> Option<Frame> {
        match self {
            ProtocolError::QueryBufferLimit | ProtocolError::InvalidFrame { .. } => None,
            _ => Some(Frame::Error(format!("ERR {self}"))),
        }
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtocolError::InvalidMultibulkLength => {
                f.write_str("Protocol error: invalid multibulk length")
            }
            ProtocolError::InvalidBulkLength => f.write_str("Protocol error: invalid bulk length"),
            ProtocolError::ExpectedDollar(b) => {
                // Redis maps CR and LF in error texts to spaces so the reply stays one line.
                let c = if matches!(b, b'\r' | b'\n') {
                    ' '
                } else {
                    char::from(*b)
                };
                write!(f, "Protocol error: expected '$', got '{c}'")
            }
            ProtocolError::UnbalancedQuotes => {
                f.write_str("Protocol error: unbalanced quotes in request")
            }
            ProtocolError::TooBigInlineRequest => {
                f.write_str("Protocol error: too big inline request")
            }
            ProtocolError::TooBigMultibulkCount => {
                f.write_str("Protocol error: too big mbulk count string")
            }
            ProtocolError::TooBigBulkCount => {
                f.write_str("Protocol error: too big bulk count string")
            }
            ProtocolError::QueryBufferLimit => {
                f.write_str("closing client that reached max query buffer length")
            }
            ProtocolError::InvalidFrame { offset, reason } => {
                write!(f, "Protocol error: {reason} at byte {offset}")
            }
        }
    }
}

impl std::error::Error for ProtocolError {}

/// A parse result: `None` when more bytes are needed, else the value and the bytes it used.
pub type Parsed<T> = Result<Option<(T, usize)>, ProtocolError>;

/// Redis's `string2ll`: a strict decimal `i64` (no sign but `-`, no leading zeros, no spaces,
/// at most 20 bytes). Used for the wire and for every integer argument of a command.
pub fn parse_integer(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (negative, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    match digits.first() {
        Some(b'1'..=b'9') => {}
        _ => return None,
    }
    let mut v: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    if negative {
        0i64.checked_sub_unsigned(v)
    } else {
        i64::try_from(v).ok()
    }
}

/// Parses one request from the front of `buf`.
///
/// `Ok(None)`: more bytes are needed (nothing consumed). `Ok(Some((argv, consumed)))`: drop
/// `consumed` bytes. `argv` is empty when only blank inline lines or `*0`/`*-1` were consumed
/// (Redis ignores them); the caller drops the bytes and carries on. `Err`: reply
/// [`ProtocolError::reply`] and close the connection, after serving the commands before it.
pub fn parse_command(buf: &[u8], limits: &Limits) -> Parsed<Vec<Bytes>> {
    let mut pos = 0;
    while pos < buf.len() {
        let step = if buf[pos] == b'*' {
            multibulk(buf, pos, limits)?
        } else {
            inline(buf, pos, limits)?
        };
        match step {
            Some((argv, end)) if argv.is_empty() => pos = end,
            Some((argv, end)) => return Ok(Some((argv, end))),
            None => break,
        }
    }
    if pos > 0 {
        return Ok(Some((Vec::new(), pos)));
    }
    if buf.len() as u64 > limits.query_buffer_max {
        return Err(ProtocolError::QueryBufferLimit);
    }
    Ok(None)
}

/// The `*`/`$` count line starting at `pos`: Redis looks for `\r` and then only requires one
/// more byte (the `\n` is skipped unchecked). Returns (digits, position after the line).
fn count_line<'a>(
    buf: &'a [u8],
    pos: usize,
    limits: &Limits,
    too_big: ProtocolError,
) -> Result<Option<(&'a [u8], usize)>, ProtocolError> {
    let Some(cr) = buf[pos..].iter().position(|&b| b == b'\r') else {
        if (buf.len() - pos) as u64 > limits.inline_len_max {
            return Err(too_big);
        }
        return Ok(None);
    };
    let cr = pos + cr;
    if cr + 1 >= buf.len() {
        return Ok(None);
    }
    // An empty line (CR where the tag should be) has an empty body: the caller rejects the tag.
    Ok(Some((&buf[(pos + 1).min(cr)..cr], cr + 2)))
}

/// One multibulk request at `pos` (`buf[pos] == b'*'`), as `processMultibulkBuffer`.
fn multibulk(buf: &[u8], pos: usize, limits: &Limits) -> Parsed<Vec<Bytes>> {
    let Some((digits, mut at)) = count_line(buf, pos, limits, ProtocolError::TooBigMultibulkCount)?
    else {
        return Ok(None);
    };
    let count = match parse_integer(digits) {
        Some(n) if n <= 0 => return Ok(Some((Vec::new(), at))),
        Some(n) if n as u64 <= limits.multibulk_len_max => n as u64,
        _ => return Err(ProtocolError::InvalidMultibulkLength),
    };
    // Spans, not copies: the argv is built only once the whole request has arrived, and the
    // vector grows only with arguments actually present.
    let mut spans: Vec<(usize, usize)> = Vec::with_capacity(count.min(1024) as usize);
    for _ in 0..count {
        let Some((digits, body)) = count_line(buf, at, limits, ProtocolError::TooBigBulkCount)?
        else {
            return Ok(None);
        };
        if buf[at] != b'$' {
            return Err(ProtocolError::ExpectedDollar(buf[at]));
        }
        let len = match parse_integer(digits) {
            Some(n) if n >= 0 && n as u64 <= limits.bulk_len_max => n as usize,
            _ => return Err(ProtocolError::InvalidBulkLength),
        };
        // Redis skips the two bytes after the data without checking they are CRLF.
        if buf.len() - body < len + 2 {
            return Ok(None);
        }
        spans.push((body, len));
        at = body + len + 2;
    }
    let argv = spans
        .iter()
        .map(|&(s, len)| Bytes::copy_from_slice(&buf[s..s + len]))
        .collect();
    Ok(Some((argv, at)))
}

/// One inline request at `pos`, as `processInlineBuffer`: a line ended by `\n` (a `\r` before
/// it is dropped), split by [`split_args`].
fn inline(buf: &[u8], pos: usize, limits: &Limits) -> Parsed<Vec<Bytes>> {
    let Some(nl) = buf[pos..].iter().position(|&b| b == b'\n') else {
        if (buf.len() - pos) as u64 > limits.inline_len_max {
            return Err(ProtocolError::TooBigInlineRequest);
        }
        return Ok(None);
    };
    let mut line = &buf[pos..pos + nl];
    if let Some(stripped) = line.strip_suffix(b"\r") {
        line = stripped;
    }
    let argv = split_args(line).ok_or(ProtocolError::UnbalancedQuotes)?;
    Ok(Some((argv, pos + nl + 1)))
}

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

    fn argv(words: &[&str]) -> Vec<Bytes> {
        words
            .iter()
            .map(|w| Bytes::copy_from_slice(w.as_bytes()))
            .collect()
    }

    fn parse(buf: &[u8]) -> Parsed<Vec<Bytes>> {
        parse_command(buf, &Limits::default())
    }

    fn error_text(e: ProtocolError) -> String {
        match e.reply() {
            Some(Frame::Error(s)) => s,
            other => panic!("no error reply: {other:?}"),
        }
    }

    /// Every proper prefix of a complete encoding needs more bytes; the whole is one command.
    fn assert_prefixes_incomplete(encoded: &[u8], expected: &[Bytes]) {
        for cut in 0..encoded.len() {
            assert_eq!(parse(&encoded[..cut]), Ok(None), "prefix of {cut} bytes");
        }
        assert_eq!(parse(encoded), Ok(Some((expected.to_vec(), encoded.len()))));
    }

    #[test]
    fn multibulk_round_trips_and_every_prefix_is_incomplete() {
        let cases = [
            argv(&["SET", "key", "value"]),
            argv(&["PING"]),
            argv(&["SET", "", "\r\n\0bin"]),
        ];
        for case in cases {
            let mut out = Vec::new();
            encode_command(&case, &mut out);
            assert_prefixes_incomplete(&out, &case);
        }
    }

    #[test]
    fn inline_every_prefix_is_incomplete() {
        assert_prefixes_incomplete(b"SET a \"b c\"\r\n", &argv(&["SET", "a", "b c"]));
        assert_prefixes_incomplete(b"PING\n", &argv(&["PING"]));
    }

    #[test]
    fn pipelined_commands_are_parsed_one_at_a_time() {
        let buf = b"*1\r\n$4\r\nPING\r\nECHO hi\r\n";
        let (first, used) = parse(buf).unwrap().unwrap();
        assert_eq!((first, used), (argv(&["PING"]), 14));
        assert_eq!(parse(&buf[used..]), Ok(Some((argv(&["ECHO", "hi"]), 9))));
    }

    #[test]
    fn blank_lines_and_empty_multibulks_are_skipped() {
        assert_eq!(
            parse(b"\r\n\n*0\r\n*-1\r\nPING\r\n"),
            Ok(Some((argv(&["PING"]), 18)))
        );
        // Only skippable input: consumed with an empty argv, so it cannot pile up.
        assert_eq!(parse(b"\r\n\r\n"), Ok(Some((vec![], 4))));
        assert_eq!(parse(b"\r\n*1\r\n$4\r\nPI"), Ok(Some((vec![], 2))));
    }

    #[test]
    fn multibulk_errors_have_redis_texts() {
        let cases: [(&[u8], &str); 8] = [
            (b"*x\r\n", "ERR Protocol error: invalid multibulk length"),
            (
                b"*1073741825\r\n",
                "ERR Protocol error: invalid multibulk length",
            ),
            (b"*+1\r\n", "ERR Protocol error: invalid multibulk length"),
            (b"*1\r\n$-1\r\n", "ERR Protocol error: invalid bulk length"),
            (
                b"*1\r\n$536870913\r\n",
                "ERR Protocol error: invalid bulk length",
            ),
            (
                b"*1\r\n$01\r\nx\r\n",
                "ERR Protocol error: invalid bulk length",
            ),
            (b"*1\r\nx3\r\n", "ERR Protocol error: expected '$', got 'x'"),
            (
                b"*2\r\n$1\r\na\r\n:1\r\n",
                "ERR Protocol error: expected '$', got ':'",
            ),
        ];
        for (buf, text) in cases {
            assert_eq!(
                error_text(parse(buf).unwrap_err()),
                text,
                "{:?}",
                String::from_utf8_lossy(buf)
            );
        }
    }

    #[test]
    fn claimed_lengths_are_not_trusted() {
        // A huge claimed count or bulk waits for bytes instead of allocating.
        assert_eq!(parse(b"*1073741824\r\n$536870912\r\nab"), Ok(None));
        let limits = Limits {
            query_buffer_max: 8,
            ..Limits::default()
        };
        assert_eq!(
            parse_command(b"*1\r\n$100\r\nabc", &limits),
            Err(ProtocolError::QueryBufferLimit)
        );
        assert_eq!(ProtocolError::QueryBufferLimit.reply(), None);
    }

    #[test]
    fn overlong_count_and_inline_lines_are_refused() {
        let long = vec![b'a'; INLINE_LEN_MAX as usize + 1];
        assert_eq!(parse(&long), Err(ProtocolError::TooBigInlineRequest));
        assert_eq!(parse(&long[..INLINE_LEN_MAX as usize]), Ok(None));
        let mut mbulk = b"*".to_vec();
        mbulk.extend_from_slice(&long);
        assert_eq!(parse(&mbulk), Err(ProtocolError::TooBigMultibulkCount));
        let mut bulk = b"*1\r\n$".to_vec();
        bulk.extend_from_slice(&long);
        assert_eq!(parse(&bulk), Err(ProtocolError::TooBigBulkCount));
        assert_eq!(
            error_text(ProtocolError::TooBigInlineRequest),
            "ERR Protocol error: too big inline request"
        );
        // A long line that did arrive whole is accepted, as in Redis.
        let mut whole = long.clone();
        whole.push(b'\n');
        assert_eq!(parse(&whole).unwrap().unwrap().1, whole.len());
    }

    /// The words themselves are `sds_args`'s; here only that bad quoting ends the stream.
    #[test]
    fn inline_unbalanced_quotes_are_a_protocol_error() {
        assert_eq!(
            error_text(parse(b"SET \"a\r\n").unwrap_err()),
            "ERR Protocol error: unbalanced quotes in request"
        );
    }

    #[test]
    fn crlf_after_bulk_data_is_not_checked_as_in_redis() {
        assert_eq!(parse(b"*1\r\n$1\r\naXY"), Ok(Some((argv(&["a"]), 11))));
    }

    #[test]
    fn integers_are_parsed_like_string2ll() {
        let ok: [(&str, i64); 5] = [
            ("0", 0),
            ("-1", -1),
            ("123", 123),
            ("9223372036854775807", i64::MAX),
            ("-9223372036854775808", i64::MIN),
        ];
        for (s, v) in ok {
            assert_eq!(parse_integer(s.as_bytes()), Some(v), "{s}");
        }
        for s in [
            "",
            "-",
            "-0",
            "007",
            "+1",
            " 1",
            "1 ",
            "9223372036854775808",
            "1.0",
            "0x1",
        ] {
            assert_eq!(parse_integer(s.as_bytes()), None, "{s:?}");
        }
    }

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

    #[test]
    fn arbitrary_bytes_never_panic() {
        // A deterministic byte soup, fed at every length: the parsers must only ever answer.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let alphabet = b"*$+-:\r\n0123456789-\"' \\xab";
        let soup: Vec<u8> = (0..4096)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                alphabet[(state % alphabet.len() as u64) as usize]
            })
            .collect();
        for start in 0..256 {
            for end in (start..soup.len()).step_by(61) {
                let _ = parse(&soup[start..end]);
                let _ = parse_frame(&soup[start..end]);
            }
        }
    }
}
