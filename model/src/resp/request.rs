//! Parsing requests as Redis's `processInputBuffer` does: RESP multibulk or inline lines.
//!
//! Owns [`parse_command`] and its two readers. Invariant: a pure function of the bytes given;
//! `Ok(None)` consumes nothing; memory grows with bytes that arrived, never with a length the
//! client claims; errors carry Redis's texts and end the connection.

use bytes::Bytes;

use super::error::{Parsed, ProtocolError};
use super::integer::parse_integer;
use super::limits::Limits;
use crate::sds_args::split_args;

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
    // The argv grows only with arguments actually present (never with the claimed count), and
    // an argument is copied only once all its bytes arrived; an incomplete request drops the
    // few small copies made so far. One allocation per argument plus the vector: no span list.
    let mut argv: Vec<Bytes> = Vec::with_capacity(count.min(16) as usize);
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
        argv.push(Bytes::copy_from_slice(&buf[body..body + len]));
        at = body + len + 2;
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resp::frame::{encode_command, Frame};
    use crate::resp::limits::INLINE_LEN_MAX;
    use crate::test_argv::argv;

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
}
