//! Doubles as Redis prints and stores them: C's `%.17g` (replies, AOF, RDB string scores) and
//! `double2ll` (when a listpack stores a score as an integer).
//!
//! Invariant: pure formatting; reading a printed value back gives the same f64 (17
//! significant digits always round-trip).

/// C's `printf("%.17g", n)`: 17 significant digits, trailing zeros dropped, exponent form
/// below 1e-4 or from 1e17.
pub fn format_g17(n: f64) -> String {
    format_g(n, 17)
}

/// C's `printf("%.*g", precision, n)` for `precision` in 1..=17 (Lua's cjson prints numbers
/// with 14).
pub fn format_g(n: f64, precision: usize) -> String {
    assert!((1..=17).contains(&precision));
    if n.is_nan() {
        return if n.is_sign_negative() { "-nan" } else { "nan" }.to_string();
    }
    if n.is_infinite() {
        return if n < 0.0 { "-inf" } else { "inf" }.to_string();
    }
    if n == 0.0 {
        return if n.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    let sci = format!("{n:.*e}", precision - 1);
    let (mantissa, exp) = sci.split_once('e').expect("exponent form");
    let exp: i32 = exp.parse().expect("exponent");
    if !(-4..precision as i32).contains(&exp) {
        let mantissa = trim_zeros(mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exp.abs());
    }
    let decimals = usize::try_from(precision as i32 - 1 - exp).unwrap_or(0);
    trim_zeros(&format!("{n:.decimals$}")).to_string()
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// Redis's `double2ll`: the integer `d` is, if integral and within ±2^62.
pub fn double_to_i64(d: f64) -> Option<i64> {
    const HALF: f64 = (i64::MAX / 2) as f64;
    if !(-HALF..=HALF).contains(&d) {
        return None;
    }
    let n = d as i64;
    (n as f64 == d).then_some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_redis_prints_scores() {
        assert_eq!(format_g17(0.1), "0.10000000000000001");
        assert_eq!(format_g17(1e20), "1e+20");
        assert_eq!(format_g17(2.5), "2.5");
        assert_eq!(format_g17(f64::NEG_INFINITY), "-inf");
        assert_eq!(double_to_i64(-0.0), Some(0));
        assert_eq!(format_g(100.0, 14), "100");
        assert_eq!(format_g(0.0003, 14), "0.0003");
        assert_eq!(format_g(2f64.powi(53), 14), "9.007199254741e+15");
        assert_eq!(format_g(1023.2, 14), "1023.2");
        assert_eq!(double_to_i64(1e20), None);
        assert_eq!(double_to_i64(2.5), None);
    }
}
