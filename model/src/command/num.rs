//! Numbers in arguments and values: Redis's `string2ll` (see [`crate::resp::parse_integer`])
//! and the float rules of INCRBYFLOAT.
//!
//! Redis computes INCRBYFLOAT in `long double` (80-bit on x86) and prints it with `%.17Lf`
//! trimmed of trailing zeros. durakv computes in `f64` and prints the shortest text that reads
//! back as the same `f64`, rounded to 17 decimals: identical for the values people use
//! (`10.5 + 0.1` is `10.6` in both); results needing more than 15-17 significant digits can
//! differ in the last digits. The propagated `SET ... KEEPTTL` carries our text, so the AOF
//! always replays to exactly what was replied.

use bytes::Bytes;

use super::reply;
use crate::resp::{parse_integer, Frame};

/// An integer argument, or Redis's "not an integer" error.
pub(crate) fn integer_arg(arg: &[u8]) -> Result<i64, Frame> {
    parse_integer(arg).ok_or_else(|| reply::err(reply::NOT_INTEGER))
}

/// Redis's `string2ld`: no leading space, the whole string used, not NaN, not out of range
/// (infinity spelled out is accepted: the sum is then refused instead).
pub(crate) fn parse_float(s: &[u8]) -> Option<f64> {
    if s.is_empty() || s.len() >= 5 * 1024 || s[0].is_ascii_whitespace() {
        return None;
    }
    let text = std::str::from_utf8(s).ok()?;
    let value: f64 = text.parse().ok()?;
    let spelled_infinite = text
        .trim_start_matches(['+', '-'])
        .to_ascii_lowercase()
        .starts_with("inf");
    if value.is_nan() || (value.is_infinite() && !spelled_infinite) {
        return None;
    }
    Some(value)
}

/// INCRBYFLOAT's reply and stored text for a finite value.
pub(crate) fn format_float(v: f64) -> Bytes {
    let shortest = format!("{v}");
    let decimals = shortest.split_once('.').map_or(0, |(_, frac)| frac.len());
    let mut text = if decimals > 17 {
        trim_zeros(format!("{v:.17}"))
    } else {
        shortest
    };
    if text == "-0" {
        text = "0".to_string();
    }
    Bytes::from(text)
}

fn trim_zeros(mut s: String) -> String {
    if s.contains('.') {
        while s.ends_with('0') {
            s.pop();
        }
        if s.ends_with('.') {
            s.pop();
        }
    }
    s
}

/// SplitMix64: derives a stream of well-mixed values from one seed (`ctx.random`), so every
/// random choice is a function of the inputs.
pub(crate) fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_parse_like_string2ld() {
        for (s, v) in [
            ("1", 1.0),
            ("-2.5", -2.5),
            ("5.0e3", 5000.0),
            (".5", 0.5),
            ("+3", 3.0),
            ("inf", f64::INFINITY),
        ] {
            assert_eq!(parse_float(s.as_bytes()), Some(v), "{s}");
        }
        for s in ["", " 1", "1 ", "abc", "nan", "1e999", "1.2.3", "0x10"] {
            assert_eq!(parse_float(s.as_bytes()), None, "{s:?}");
        }
    }

    #[test]
    fn floats_print_like_redis_for_usual_values() {
        let cases = [
            (10.5 + 0.1, "10.6"),
            (5200.0, "5200"),
            (3.0, "3"),
            (-0.0, "0"),
            (1.25, "1.25"),
            (17179869185.5, "17179869185.5"),
        ];
        for (v, s) in cases {
            assert_eq!(format_float(v), Bytes::from(s), "{v}");
        }
        assert_eq!(format_float(1e-20), Bytes::from("0"));
        assert_eq!(format_float(1e20), Bytes::from("100000000000000000000"));
    }
}
