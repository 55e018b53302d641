//! Redis's `string2ll`: the one integer syntax of the wire and of command arguments.
//!
//! Invariant: exactly the strings Redis's `string2ll` accepts parse, to the same value.

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
