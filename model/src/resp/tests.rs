//! Tests across both RESP parsers.

use super::{parse_command, parse_frame, Frame, Limits};

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
            let _ = parse_command(&soup[start..end], &Limits::default());
            let _ = parse_frame(&soup[start..end]);
        }
    }
}

/// Each RESP3 type in RESP3, and downgraded in RESP2 as Redis's `addReply*` functions do.
#[test]
fn resp3_types_encode_in_both_protocols() {
    use super::Protocol::{Resp2, Resp3};
    let b = |s: &'static str| Frame::Bulk(bytes::Bytes::from_static(s.as_bytes()));
    let cases: Vec<(Frame, &str, &str)> = vec![
        (Frame::Null, "_\r\n", "$-1\r\n"),
        (Frame::NullArray, "_\r\n", "*-1\r\n"),
        (
            Frame::Map(vec![(b("k"), Frame::Integer(1))]),
            "%1\r\n$1\r\nk\r\n:1\r\n",
            "*2\r\n$1\r\nk\r\n:1\r\n",
        ),
        (
            Frame::Set(vec![Frame::Simple("a".into())]),
            "~1\r\n+a\r\n",
            "*1\r\n+a\r\n",
        ),
        (Frame::Double("1.5".into()), ",1.5\r\n", "$3\r\n1.5\r\n"),
        (Frame::Boolean(true), "#t\r\n", ":1\r\n"),
        (Frame::Boolean(false), "#f\r\n", ":0\r\n"),
        (Frame::text("hi\n"), "=7\r\ntxt:hi\n\r\n", "$3\r\nhi\n\r\n"),
        (Frame::BigNumber("123".into()), "(123\r\n", "$3\r\n123\r\n"),
        (
            Frame::Push(vec![b("m")]),
            ">1\r\n$1\r\nm\r\n",
            "*1\r\n$1\r\nm\r\n",
        ),
        (
            Frame::Array(vec![Frame::Null]),
            "*1\r\n_\r\n",
            "*1\r\n$-1\r\n",
        ),
        (
            Frame::Attributed {
                attributes: vec![(b("k"), Frame::Integer(9))],
                reply: Box::new(b("r")),
            },
            "|1\r\n$1\r\nk\r\n:9\r\n$1\r\nr\r\n",
            "$1\r\nr\r\n",
        ),
    ];
    for (frame, resp3, resp2) in cases {
        let (mut three, mut two) = (Vec::new(), Vec::new());
        frame.encode_in(Resp3, &mut three);
        frame.encode_in(Resp2, &mut two);
        assert_eq!(String::from_utf8_lossy(&three), resp3, "{frame:?}");
        assert_eq!(String::from_utf8_lossy(&two), resp2, "{frame:?}");
    }
}
