//! The reply frame (RESP2 and RESP3 types) and its wire encoding in either protocol.
//!
//! Owns [`Frame`] (what replies are built from and what [`super::parse_frame`] returns),
//! [`Protocol`] and [`encode_command`], the array-of-bulk-strings form in which clients send
//! commands and the AOF stores them. Invariants: encoding is canonical (decimal lengths, CRLF
//! after every line), so the strict reply parser reads back exactly what was encoded; a frame
//! is built once, typed, and the protocol is applied only here, downgrading RESP3 types in
//! RESP2 exactly as Redis 7.0's `addReply*` functions do (networking.c).

use bytes::Bytes;

/// The protocol a connection speaks: RESP2 until `HELLO 3`, back with `HELLO 2` or RESET.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    #[default]
    Resp2,
    Resp3,
}

impl Protocol {
    /// The number HELLO and CLIENT LIST `resp=` show.
    pub fn version(self) -> i64 {
        match self {
            Protocol::Resp2 => 2,
            Protocol::Resp3 => 3,
        }
    }
}

/// A reply frame, as replies are built and parsed. The RESP3-only types are encoded in RESP2
/// as Redis downgrades them (see each variant).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Frame {
    Simple(String),
    Error(String),
    Integer(i64),
    Bulk(Bytes),
    /// Redis's `addReplyNull`: `$-1\r\n` in RESP2, `_\r\n` in RESP3.
    Null,
    Array(Vec<Frame>),
    /// Redis's `addReplyNullArray`: `*-1\r\n` in RESP2, `_\r\n` in RESP3.
    NullArray,
    /// `%`; in RESP2 a flat array of key, value, key, value.
    Map(Vec<(Frame, Frame)>),
    /// `~`; in RESP2 an array.
    Set(Vec<Frame>),
    /// Pairs Redis sends as an array of 2-element arrays in RESP3 and as one flat array in
    /// RESP2 (HRANDFIELD WITHVALUES, ZRANGE WITHSCORES, ...).
    Pairs(Vec<(Frame, Frame)>),
    /// `,`; in RESP2 a bulk string of the same text. Holds the text Redis prints (`%.17g`,
    /// `inf`, `-inf`), so equality and hashing stay exact.
    Double(String),
    /// `#t`/`#f`; in RESP2 the integers 1 and 0.
    Boolean(bool),
    /// `=len\r\nfmt:text`; in RESP2 a bulk string of `text` only (`addReplyVerbatim`).
    Verbatim {
        format: [u8; 3],
        text: Bytes,
    },
    /// `(`; in RESP2 a bulk string.
    BigNumber(String),
    /// `>`; in RESP2 an array.
    Push(Vec<Frame>),
    /// Several frames answering one request, sent back to back with no header of their own
    /// (SUBSCRIBE with several channels confirms each one).
    Sequence(Vec<Frame>),
    /// `|` attributes (a map) before `reply`; in RESP2 the attributes are left out, as Redis's
    /// `addReplyAttributeLen` does for a RESP2 client.
    Attributed {
        attributes: Vec<(Frame, Frame)>,
        reply: Box<Frame>,
    },
}

impl Frame {
    /// A push, or pushes back to back: what Pub/Sub confirmations and messages are.
    pub fn is_push(&self) -> bool {
        match self {
            Frame::Push(_) => true,
            Frame::Sequence(frames) => frames.iter().all(Frame::is_push),
            _ => false,
        }
    }

    pub fn ok() -> Frame {
        Frame::Simple("OK".to_string())
    }

    pub fn error(message: impl Into<String>) -> Frame {
        Frame::Error(message.into())
    }

    /// A verbatim text reply (`txt`), as INFO and CLIENT LIST give.
    pub fn text(text: impl Into<Bytes>) -> Frame {
        Frame::Verbatim {
            format: *b"txt",
            text: text.into(),
        }
    }

    /// Appends the RESP2 encoding of the frame to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        self.encode_in(Protocol::Resp2, out);
    }

    /// Appends the encoding of the frame in `proto` to `out`.
    pub fn encode_in(&self, proto: Protocol, out: &mut Vec<u8>) {
        let resp3 = proto == Protocol::Resp3;
        match self {
            Frame::Simple(s) => line(out, b'+', s.as_bytes()),
            Frame::Error(s) => line(out, b'-', s.as_bytes()),
            Frame::Integer(n) => line(out, b':', Decimal::signed(*n).as_bytes()),
            Frame::Bulk(b) => bulk(out, b),
            Frame::Null | Frame::NullArray if resp3 => out.extend_from_slice(b"_\r\n"),
            Frame::Null => out.extend_from_slice(b"$-1\r\n"),
            Frame::NullArray => out.extend_from_slice(b"*-1\r\n"),
            Frame::Array(items) => aggregate(out, b'*', items, proto),
            Frame::Set(items) => aggregate(out, if resp3 { b'~' } else { b'*' }, items, proto),
            Frame::Push(items) => aggregate(out, if resp3 { b'>' } else { b'*' }, items, proto),
            Frame::Sequence(frames) => frames.iter().for_each(|f| f.encode_in(proto, out)),
            Frame::Map(pairs) if resp3 => pairs_in(out, b'%', pairs, proto),
            Frame::Pairs(pairs) if resp3 => {
                header(out, b'*', pairs.len());
                for (first, second) in pairs {
                    line(out, b'*', b"2");
                    first.encode_in(proto, out);
                    second.encode_in(proto, out);
                }
            }
            Frame::Attributed { attributes, reply } if resp3 => {
                pairs_in(out, b'|', attributes, proto);
                reply.encode_in(proto, out);
            }
            Frame::Attributed { reply, .. } => reply.encode_in(proto, out),
            Frame::Map(pairs) | Frame::Pairs(pairs) => {
                header(out, b'*', pairs.len() * 2);
                for (key, value) in pairs {
                    key.encode_in(proto, out);
                    value.encode_in(proto, out);
                }
            }
            Frame::Double(text) if resp3 => line(out, b',', text.as_bytes()),
            Frame::BigNumber(text) if resp3 => line(out, b'(', text.as_bytes()),
            Frame::Double(text) | Frame::BigNumber(text) => bulk(out, text.as_bytes()),
            Frame::Boolean(b) if resp3 => line(out, b'#', if *b { b"t" } else { b"f" }),
            Frame::Boolean(b) => line(out, b':', if *b { b"1" } else { b"0" }),
            Frame::Verbatim { format, text } if resp3 => {
                header(out, b'=', text.len() + 4);
                out.extend_from_slice(format);
                out.push(b':');
                out.extend_from_slice(text);
                out.extend_from_slice(b"\r\n");
            }
            Frame::Verbatim { text, .. } => bulk(out, text),
        }
    }
}

/// A map-shaped aggregate (`%` map, `|` attributes): the pair count, then key, value, ….
fn pairs_in(out: &mut Vec<u8>, tag: u8, pairs: &[(Frame, Frame)], proto: Protocol) {
    header(out, tag, pairs.len());
    for (key, value) in pairs {
        key.encode_in(proto, out);
        value.encode_in(proto, out);
    }
}

fn bulk(out: &mut Vec<u8>, b: &[u8]) {
    header(out, b'$', b.len());
    out.extend_from_slice(b);
    out.extend_from_slice(b"\r\n");
}

fn aggregate(out: &mut Vec<u8>, tag: u8, items: &[Frame], proto: Protocol) {
    header(out, tag, items.len());
    for item in items {
        item.encode_in(proto, out);
    }
}

fn line(out: &mut Vec<u8>, tag: u8, body: &[u8]) {
    out.push(tag);
    out.extend_from_slice(body);
    out.extend_from_slice(b"\r\n");
}

/// A length or count line (`$5`, `*3`), its digits formatted on the stack.
fn header(out: &mut Vec<u8>, tag: u8, n: usize) {
    line(out, tag, Decimal::unsigned(n as u64).as_bytes());
}

/// An integer in decimal, formatted on the stack: reply and record headers are written once
/// per request and must not allocate.
struct Decimal {
    /// Room for `u64::MAX` (20 digits) or `i64::MIN` (a sign and 19 digits).
    text: [u8; 20],
    start: usize,
}

impl Decimal {
    fn unsigned(mut n: u64) -> Decimal {
        let mut text = [0u8; 20];
        let mut start = text.len();
        loop {
            start -= 1;
            text[start] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        Decimal { text, start }
    }

    fn signed(n: i64) -> Decimal {
        let mut decimal = Decimal::unsigned(n.unsigned_abs());
        if n < 0 {
            decimal.start -= 1;
            decimal.text[decimal.start] = b'-';
        }
        decimal
    }

    fn as_bytes(&self) -> &[u8] {
        &self.text[self.start..]
    }
}

/// Encodes a command (an array of bulk strings), as the AOF and clients write it.
pub fn encode_command(argv: &[Bytes], out: &mut Vec<u8>) {
    header(out, b'*', argv.len());
    for arg in argv {
        header(out, b'$', arg.len());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::Decimal;

    #[test]
    fn decimal_matches_to_string() {
        let signed = [
            0i64,
            1,
            -1,
            9,
            10,
            -10,
            99,
            -100,
            1_234_567_890,
            i64::MAX,
            i64::MIN,
        ];
        for n in signed {
            assert_eq!(Decimal::signed(n).as_bytes(), n.to_string().as_bytes());
        }
        for n in [0u64, 7, 10, u64::MAX / 10, u64::MAX] {
            assert_eq!(Decimal::unsigned(n).as_bytes(), n.to_string().as_bytes());
        }
    }
}
