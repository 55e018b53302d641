//! Redis's `sdssplitargs`: one line of words, as inline commands, `redis.conf` lines and AOF
//! manifest lines are split.
//!
//! Owns the quoting rules and the C-locale character classes they rest on. Invariant: the
//! split is exactly Redis's (the same words, the same refusals), since the same bytes reach
//! Redis and durakv through three doors: a client's inline request, a config file and a
//! manifest real Redis wrote.

use bytes::Bytes;

/// C's `isspace` in the "C" locale.
pub(crate) fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

/// Redis's `sdssplitargs`: words separated by spaces; `"..."` with `\n \r \t \b \a \xHH` and
/// `\<any>` escapes; `'...'` with only `\'`; a closing quote must be followed by a space or the
/// end. `None` on unbalanced quotes. The line is a C string to Redis: it ends at a NUL byte.
pub fn split_args(line: &[u8]) -> Option<Vec<Bytes>> {
    let line = match line.iter().position(|&b| b == 0) {
        Some(nul) => &line[..nul],
        None => line,
    };
    let mut args = Vec::new();
    let mut p = 0;
    loop {
        while p < line.len() && is_c_space(line[p]) {
            p += 1;
        }
        if p == line.len() {
            return Some(args);
        }
        let (word, next) = split_word(line, p)?;
        args.push(Bytes::from(word));
        p = next;
    }
}

/// One word of [`split_args`] starting at `p` (not a space); returns it and where to go on.
fn split_word(line: &[u8], mut p: usize) -> Option<(Vec<u8>, usize)> {
    let at = |i: usize| line.get(i).copied().unwrap_or(0);
    // A closing quote must be followed by a space or the end of the line.
    let close = |word: Vec<u8>, p: usize| {
        (p + 1 == line.len() || is_c_space(line[p + 1])).then_some((word, p + 1))
    };
    let mut word = Vec::new();
    let (mut in_double, mut in_single) = (false, false);
    loop {
        let c = at(p);
        if in_double {
            if c == b'\\'
                && at(p + 1) == b'x'
                && at(p + 2).is_ascii_hexdigit()
                && at(p + 3).is_ascii_hexdigit()
            {
                word.push(hex_value(at(p + 2)) * 16 + hex_value(at(p + 3)));
                p += 3;
            } else if c == b'\\' && p + 1 < line.len() {
                p += 1;
                word.push(match line[p] {
                    b'n' => b'\n',
                    b'r' => b'\r',
                    b't' => b'\t',
                    b'b' => 0x08,
                    b'a' => 0x07,
                    other => other,
                });
            } else if c == b'"' {
                return close(word, p);
            } else if p >= line.len() {
                return None;
            } else {
                word.push(c);
            }
        } else if in_single {
            if c == b'\\' && at(p + 1) == b'\'' {
                p += 1;
                word.push(b'\'');
            } else if c == b'\'' {
                return close(word, p);
            } else if p >= line.len() {
                return None;
            } else {
                word.push(c);
            }
        } else {
            match c {
                _ if p >= line.len() => return Some((word, p)),
                b' ' | b'\n' | b'\r' | b'\t' => return Some((word, p + 1)),
                b'"' => in_double = true,
                b'\'' => in_single = true,
                _ => word.push(c),
            }
        }
        p += 1;
    }
}

fn hex_value(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => c - b'A' + 10,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_argv::argv;

    /// Goal: Redis's quoting rules, including its refusals.
    #[test]
    fn quoting_follows_sdssplitargs() {
        let split = |s: &str| split_args(s.as_bytes());
        assert_eq!(split("  set  a   b "), Some(argv(&["set", "a", "b"])));
        assert_eq!(
            split(r#"set "a\x41\n\"" 'it\'s'"#),
            Some(argv(&["set", "aA\n\"", "it's"]))
        );
        assert_eq!(split(r#"x "\q\\""#), Some(argv(&["x", "q\\"])));
        assert_eq!(
            split(r#"x a"b c"d"#),
            None,
            "closing quote must be followed by a space"
        );
        assert_eq!(split(r#"x a"b c" d"#), Some(argv(&["x", "ab c", "d"])));
        assert_eq!(split("x \"open"), None);
        assert_eq!(split("x 'open"), None);
        assert_eq!(split(r#"x """#), Some(argv(&["x", ""])));
        assert_eq!(
            split("a\0b c"),
            Some(argv(&["a"])),
            "a NUL ends the C string"
        );
        assert_eq!(split(""), Some(vec![]));
    }

    /// Goal: the corners the manifest reader relied on: escapes that make a NUL or a control
    /// byte (kept: the caller decides what a C string sees), `\x` with bad digits (kept
    /// literally), single quotes without escapes but `\'`, and every C space between words but
    /// only space, tab, CR and LF ending one.
    #[test]
    fn escapes_and_spaces_as_in_c() {
        let split = |s: &[u8]| split_args(s);
        assert_eq!(
            split(br#""a\x00b\a\b\tc""#),
            Some(vec![Bytes::from_static(b"a\0b\x07\x08\tc")])
        );
        assert_eq!(split(br#""\xZZ\x4""#), Some(argv(&["xZZx4"])));
        assert_eq!(split(br#"'a\nb\'c'"#), Some(argv(&["a\\nb'c"])));
        assert_eq!(split(b"\x0b a\x0bb \x0c"), Some(argv(&["a\x0bb"])));
        assert_eq!(split(b"a\"b\"\x0bc"), Some(argv(&["ab", "c"])));
        assert_eq!(split(b"\"a\\"), None, "an escape of the end is no escape");
    }
}
