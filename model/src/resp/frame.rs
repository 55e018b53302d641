//! The RESP2 frame and its wire encoding.
//!
//! Owns [`Frame`] (what replies are built from and what [`super::parse_frame`] returns) and
//! [`encode_command`], the array-of-bulk-strings form in which clients send commands and the
//! AOF stores them. Invariant: encoding is canonical (decimal lengths, CRLF after every line),
//! so the strict reply parser reads back exactly what was encoded.

use bytes::Bytes;

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
