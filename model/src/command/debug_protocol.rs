//! DEBUG PROTOCOL's replies: one of each RESP3 type. The command layer owns them because
//! scripts may call DEBUG PROTOCOL too (after DEBUG SET-DISABLE-DENY-SCRIPTS 1), as Redis's
//! own tests of the script conversion tables do.
//!
//! Invariant: a pure function of the type name.

use bytes::Bytes;

use crate::resp::Frame;

fn bulk(text: &str) -> Frame {
    Frame::Bulk(Bytes::copy_from_slice(text.as_bytes()))
}

/// DEBUG PROTOCOL <type>: one reply of each RESP3 type, as Redis 7.0's `debugCommand` sends
/// them (clients and Redis's own protocol tests use it to check their parsers). PUSH is left
/// out: Redis follows it with a second reply, which durakv's one-reply-per-command queue does
/// not express.
pub(crate) fn debug_protocol(name: &[u8]) -> Frame {
    let integers = || (0..3).map(Frame::Integer).collect::<Vec<_>>();
    match name.to_ascii_lowercase().as_slice() {
        b"string" => bulk("Hello World"),
        b"integer" => Frame::Integer(12345),
        b"double" => Frame::Double("3.141".to_string()),
        b"bignum" => Frame::BigNumber("1234567999999999999999999999999999999".to_string()),
        b"null" => Frame::Null,
        b"array" => Frame::Array(integers()),
        b"set" => Frame::Set(integers()),
        b"map" => Frame::Map(
            (0..3)
                .map(|j| (Frame::Integer(j), Frame::Boolean(j == 1)))
                .collect(),
        ),
        b"attrib" => Frame::Attributed {
            attributes: vec![(
                bulk("key-popularity"),
                Frame::Array(vec![bulk("key:123"), Frame::Integer(90)]),
            )],
            reply: Box::new(bulk("Some real reply following the attribute")),
        },
        b"true" => Frame::Boolean(true),
        b"false" => Frame::Boolean(false),
        b"verbatim" => Frame::text(&b"This is a verbatim\nstring"[..]),
        _ => Frame::error(
            "ERR Wrong protocol type name. Please use one of the following: \
             string|integer|double|bignum|null|array|set|map|attrib|verbatim|true|false",
        ),
    }
}
