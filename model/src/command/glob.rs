//! Glob-style matching, as Redis's `stringmatchlen` (KEYS, SCAN MATCH).
//!
//! `*` any run, `?` one byte, `[abc]` `[^a]` `[a-z]` classes (bounds compared as C `char`, i.e.
//! signed, as Redis does), `\x` a literal `x`. Byte-exact: keys are binary. A pattern reads as a
//! C string: past its end a byte reads as NUL, which is how Redis treats an unterminated `[`.
//!
//! Invariant: work is bounded — recursion stops at depth 1000 as in Redis, and once the rest of
//! a pattern after a `*` failed at every position, earlier `*`s do not retry longer matches.

/// Whether `key` matches `pattern`.
pub fn string_match(pattern: &[u8], key: &[u8]) -> bool {
    let mut skip_longer = false;
    matches(pattern, key, &mut skip_longer, 0)
}

fn matches(pattern: &[u8], string: &[u8], skip_longer: &mut bool, nesting: usize) -> bool {
    if nesting > 1000 {
        return false;
    }
    let at = |p: &[u8], i: usize| p.get(i).copied().unwrap_or(0);
    let (mut p, mut s) = (0, 0);
    while p < pattern.len() && s < string.len() {
        match pattern[p] {
            b'*' => {
                while p + 1 < pattern.len() && pattern[p + 1] == b'*' {
                    p += 1;
                }
                if p + 1 == pattern.len() {
                    return true;
                }
                while s < string.len() {
                    if matches(&pattern[p + 1..], &string[s..], skip_longer, nesting + 1) {
                        return true;
                    }
                    if *skip_longer {
                        return false;
                    }
                    s += 1;
                }
                *skip_longer = true;
                return false;
            }
            b'?' => s += 1,
            b'[' => {
                let (matched, end) = class(pattern, p + 1, string[s]);
                if !matched {
                    return false;
                }
                p = end;
                s += 1;
            }
            c => {
                let literal = if c == b'\\' && p + 1 < pattern.len() {
                    p += 1;
                    pattern[p]
                } else {
                    c
                };
                if literal != string[s] {
                    return false;
                }
                s += 1;
            }
        }
        p += 1;
        if s == string.len() {
            while at(pattern, p) == b'*' && p < pattern.len() {
                p += 1;
            }
            break;
        }
    }
    p >= pattern.len() && s == string.len()
}

/// A `[...]` class starting after the `[` at `p`, tested against byte `c`: whether it matched
/// and the index of its closing `]` (or of the last pattern byte if unterminated).
fn class(pattern: &[u8], mut p: usize, c: u8) -> (bool, usize) {
    let at = |i: usize| pattern.get(i).copied().unwrap_or(0);
    let negate = at(p) == b'^';
    if negate {
        p += 1;
    }
    let mut matched = false;
    loop {
        let left = pattern.len().saturating_sub(p);
        if at(p) == b'\\' && left >= 2 {
            p += 1;
            matched |= at(p) == c;
        } else if at(p) == b']' && left >= 1 {
            break;
        } else if left == 0 {
            // Unterminated: Redis steps back so the caller's increment lands on the end.
            p -= 1;
            break;
        } else if left >= 3 && at(p + 1) == b'-' {
            // C `char` is signed: bytes above 0x7f sort below ASCII in ranges.
            let (a, b) = (at(p) as i8, at(p + 2) as i8);
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            matched |= (lo..=hi).contains(&(c as i8));
            p += 2;
        } else {
            matched |= at(p) == c;
        }
        p += 1;
    }
    (matched != negate, p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, s: &str) -> bool {
        string_match(p.as_bytes(), s.as_bytes())
    }

    #[test]
    fn globs_match_like_redis() {
        let yes = [
            ("*", "abc"),
            ("a*", "abc"),
            ("*c", "abc"),
            ("a*c", "abbbc"),
            ("h?llo", "hello"),
            ("h[ae]llo", "hallo"),
            ("h[^e]llo", "hallo"),
            ("h[a-b]llo", "hbllo"),
            ("h[b-a]llo", "hallo"),
            ("h\\*llo", "h*llo"),
            ("a**", "a"),
            ("*a*", "bab"),
            ("[\\]]", "]"),
            ("user:*:name", "user:12:name"),
        ];
        for (p, s) in yes {
            assert!(m(p, s), "{p} should match {s}");
        }
        // As in Redis, `*` does not match the empty key (KEYS and SCAN special-case a lone `*`).
        let no = [
            ("*", ""),
            ("a", ""),
            ("", "a"),
            ("h?llo", "hllo"),
            ("h[^e]llo", "hello"),
            ("h[a-b]llo", "hcllo"),
            ("a*c", "abcd"),
            ("?", ""),
        ];
        for (p, s) in no {
            assert!(!m(p, s), "{p} should not match {s}");
        }
        assert!(m("", ""));
    }

    #[test]
    fn unterminated_class_and_trailing_escape_are_tolerated() {
        assert!(m("[abc", "a"));
        assert!(!m("[abc", "d"));
        assert!(m("a\\", "a\\"));
    }

    #[test]
    fn pathological_patterns_finish_quickly() {
        let pattern = "a*".repeat(30) + "b";
        let key = "a".repeat(60);
        assert!(!m(&pattern, &key));
        assert!(string_match(&[b'*'; 5000], b"x"));
    }
}
