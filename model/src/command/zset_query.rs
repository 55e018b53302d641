//! Reading sorted sets: Redis's score parsing (`getDoubleFromObject`, `zslParseRange`), lex
//! ranges (`zslParseLexRange`), and the walks over a range by score, member or rank that the
//! sorted-set commands share: each finds its ends by binary search, never by walking members.
//!
//! Invariants: a score argument is what C's `strtod` reads from the whole argument (so `inf`,
//! `-INF`, `0x10` are scores, `nan`, ` 1` and overflow are not), a range bound is looser, as in
//! Redis; every walk yields members in (score, member) order or its reverse, and a large value
//! is entered at its first candidate by position, never scanned from the start.

use bytes::Bytes;

use crate::types::{Score, ZSetValue};

/// `strtod` over the whole text: decimal or hex, `inf`/`infinity`/`nan` in any case. `None`
/// if anything is left over. `Some((value, out_of_range))`, out of range as `ERANGE`.
fn strtod(text: &str) -> Option<(f64, bool)> {
    let (negative, rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let lower = rest.to_ascii_lowercase();
    let magnitude = if let Some(hex) = lower.strip_prefix("0x") {
        hex_float(hex)?
    } else {
        if lower.starts_with('+') || lower.starts_with('-') {
            return None;
        }
        let value: f64 = lower.parse().ok()?;
        let spelled = lower.starts_with("inf") || lower.starts_with("nan");
        let out_of_range = !spelled
            && (value.is_infinite()
                || (value == 0.0
                    && lower
                        .split(['e'])
                        .next()?
                        .bytes()
                        .any(|c| (b'1'..=b'9').contains(&c))));
        (value, out_of_range)
    };
    Some((
        if negative { -magnitude.0 } else { magnitude.0 },
        magnitude.1,
    ))
}

/// A C hex float body after `0x`: digits, optional `.` and digits, optional `p` exponent.
fn hex_float(text: &str) -> Option<(f64, bool)> {
    let (body, exp) = match text.split_once('p') {
        Some((b, e)) => (b, e.parse::<i32>().ok()?),
        None => (text, 0),
    };
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let mut value = 0f64;
    for c in int.chars() {
        value = value * 16.0 + f64::from(c.to_digit(16)?);
    }
    let mut scale = 1.0 / 16.0;
    for c in frac.chars() {
        value += f64::from(c.to_digit(16)?) * scale;
        scale /= 16.0;
    }
    let value = value * 2f64.powi(exp);
    Some((value, value.is_infinite()))
}

/// A score argument (`getDoubleFromObject`): no leading space, no NaN, no overflow or
/// underflow to zero.
pub(crate) fn parse_score(arg: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(arg).ok()?;
    if text.is_empty() || text.as_bytes()[0].is_ascii_whitespace() {
        return None;
    }
    match strtod(text)? {
        (v, false) if !v.is_nan() => Some(v),
        _ => None,
    }
}

/// A range bound's number (`zslParseRange`): `strtod` skipping leading space, the whole rest
/// consumed, not NaN. Overflow gives ±inf; an empty text is 0 (strtod reads nothing).
fn parse_bound_value(text: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(text).ok()?;
    let text = text.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    if text.is_empty() {
        return Some(0.0);
    }
    let (v, _) = strtod(text)?;
    (!v.is_nan()).then_some(v)
}

/// A score interval, bounds inclusive unless marked exclusive.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ScoreRange {
    pub(crate) min: f64,
    pub(crate) max: f64,
    pub(crate) min_ex: bool,
    pub(crate) max_ex: bool,
}

impl ScoreRange {
    /// `min max` as ZRANGEBYSCORE takes them (`(` = exclusive).
    pub(crate) fn parse(min: &[u8], max: &[u8]) -> Option<ScoreRange> {
        let bound = |b: &[u8]| match b.first() {
            Some(b'(') => parse_bound_value(&b[1..]).map(|v| (v, true)),
            _ => parse_bound_value(b).map(|v| (v, false)),
        };
        let (min, min_ex) = bound(min)?;
        let (max, max_ex) = bound(max)?;
        Some(ScoreRange {
            min,
            max,
            min_ex,
            max_ex,
        })
    }

    pub(crate) fn above_min(&self, s: f64) -> bool {
        if self.min_ex {
            s > self.min
        } else {
            s >= self.min
        }
    }

    pub(crate) fn below_max(&self, s: f64) -> bool {
        if self.max_ex {
            s < self.max
        } else {
            s <= self.max
        }
    }
}

/// A lex bound: `-`, `+`, `[member`, `(member`.
#[derive(Clone, Debug)]
pub(crate) enum Lex {
    Lowest,
    Highest,
    Incl(Bytes),
    Excl(Bytes),
}

/// A member interval for the BYLEX forms.
#[derive(Clone, Debug)]
pub(crate) struct LexRange {
    pub(crate) min: Lex,
    pub(crate) max: Lex,
}

impl LexRange {
    pub(crate) fn parse(min: &Bytes, max: &Bytes) -> Option<LexRange> {
        let bound = |b: &Bytes| match b.first() {
            Some(b'-') if b.len() == 1 => Some(Lex::Lowest),
            Some(b'+') if b.len() == 1 => Some(Lex::Highest),
            Some(b'[') => Some(Lex::Incl(b.slice(1..))),
            Some(b'(') => Some(Lex::Excl(b.slice(1..))),
            _ => None,
        };
        Some(LexRange {
            min: bound(min)?,
            max: bound(max)?,
        })
    }

    pub(crate) fn above_min(&self, m: &[u8]) -> bool {
        match &self.min {
            Lex::Lowest => true,
            Lex::Highest => false,
            Lex::Incl(b) => m >= &b[..],
            Lex::Excl(b) => m > &b[..],
        }
    }

    pub(crate) fn below_max(&self, m: &[u8]) -> bool {
        match &self.max {
            Lex::Lowest => false,
            Lex::Highest => true,
            Lex::Incl(b) => m <= &b[..],
            Lex::Excl(b) => m < &b[..],
        }
    }
}

/// A member with its score, borrowed from the value.
pub(crate) type Item<'a> = (&'a Bytes, Score);

/// The first position whose item `before` rejects; `before` must hold for a prefix of the
/// (score, member) order and fail after it. A binary search on either form.
fn partition(z: &ZSetValue, before: impl Fn(Score, &[u8]) -> bool) -> usize {
    match z {
        ZSetValue::Pack(pairs) => pairs.partition_point(|(m, s)| before(*s, m)),
        ZSetValue::Skip(skip) => skip.order.partition(|(s, m)| before(*s, m)),
    }
}

/// The items at positions `lo..hi`, lowest first (or highest first with `rev`).
fn window<'a>(
    z: &'a ZSetValue,
    lo: usize,
    hi: usize,
    rev: bool,
) -> Box<dyn Iterator<Item = Item<'a>> + 'a> {
    if lo >= hi {
        return Box::new(std::iter::empty());
    }
    let items: Box<dyn DoubleEndedIterator<Item = Item<'a>> + 'a> = match z {
        ZSetValue::Pack(pairs) => Box::new(pairs[lo..hi].iter().map(|(m, s)| (m, *s))),
        ZSetValue::Skip(skip) => Box::new(skip.order.window(lo, hi).map(|(s, m)| (m, *s))),
    };
    if rev {
        Box::new(items.rev())
    } else {
        items
    }
}

/// The members whose score is in `r`, lowest first (or highest first with `rev`).
pub(crate) fn by_score(
    z: &ZSetValue,
    r: ScoreRange,
    rev: bool,
) -> Box<dyn Iterator<Item = Item<'_>> + '_> {
    let (lo, hi) = score_bounds(z, r);
    window(z, lo, hi, rev)
}

/// The positions `lo..hi` of the members whose score is in `r` (ZCOUNT is `hi - lo`).
pub(crate) fn score_bounds(z: &ZSetValue, r: ScoreRange) -> (usize, usize) {
    let lo = partition(z, |s, _| !r.above_min(s.get()));
    let hi = partition(z, |s, _| r.below_max(s.get()));
    (lo, hi.max(lo))
}

/// The positions of the members in the lex range `r` (ZLEXCOUNT is `hi - lo`).
pub(crate) fn lex_bounds(z: &ZSetValue, r: &LexRange) -> (usize, usize) {
    let lo = partition(z, |_, m| !r.above_min(m));
    let hi = partition(z, |_, m| r.below_max(m));
    (lo, hi.max(lo))
}

/// The members in the lex range `r` (meaningful when all scores are equal, as in Redis).
pub(crate) fn by_lex(
    z: &ZSetValue,
    r: LexRange,
    rev: bool,
) -> Box<dyn Iterator<Item = Item<'_>> + '_> {
    let (lo, hi) = lex_bounds(z, &r);
    window(z, lo, hi, rev)
}

/// Redis's rank normalisation (`zrangeGenericCommand`): the first index and how many, or
/// `None` when the range is empty.
pub(crate) fn rank_window(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let start = if start < 0 { len + start } else { start }.max(0);
    let mut end = if end < 0 { len + end } else { end };
    if start > end || start >= len {
        return None;
    }
    if end >= len {
        end = len - 1;
    }
    Some((start as usize, (end - start + 1) as usize))
}

/// The members at ranks `start..start+count`, from the lowest (or the highest with `rev`).
pub(crate) fn by_rank(
    z: &ZSetValue,
    start: usize,
    count: usize,
    rev: bool,
) -> Box<dyn Iterator<Item = Item<'_>> + '_> {
    let len = z.len();
    if rev {
        window(z, len - start - count, len - start, true)
    } else {
        window(z, start, start + count, false)
    }
}

/// The 0-based rank of `member` from the lowest score (binary searches and a walk over chunk
/// lengths on the large form).
pub(crate) fn rank(z: &ZSetValue, member: &[u8]) -> Option<usize> {
    match z {
        ZSetValue::Pack(pairs) => pairs.iter().position(|(m, _)| m == member),
        ZSetValue::Skip(skip) => {
            let s = *skip.scores.get(member)?;
            skip.position(s, member).ok()
        }
    }
}

/// The member at position `i` of the (score, member) order (a walk over chunk lengths on the
/// large form).
pub(crate) fn nth(z: &ZSetValue, i: usize) -> Option<Item<'_>> {
    match z {
        ZSetValue::Pack(pairs) => pairs.get(i).map(|(m, s)| (m, *s)),
        ZSetValue::Skip(skip) => skip.order.get(i).map(|(s, m)| (m, *s)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_parse_as_strtod_and_redis_checks() {
        for (s, v) in [
            ("1", 1.0),
            ("-2.5", -2.5),
            ("inf", f64::INFINITY),
            ("+inf", f64::INFINITY),
            ("-INF", f64::NEG_INFINITY),
            ("Infinity", f64::INFINITY),
            ("0x10", 16.0),
            ("1e3", 1000.0),
            (".5", 0.5),
        ] {
            assert_eq!(parse_score(s.as_bytes()), Some(v), "{s}");
        }
        for s in ["", " 1", "1 ", "nan", "1e400", "1e-400", "abc", "1e", "--1"] {
            assert_eq!(parse_score(s.as_bytes()), None, "{s:?}");
        }
        let r = ScoreRange::parse(b"(1", b"+inf").unwrap();
        assert!(r.min_ex && !r.max_ex && r.max == f64::INFINITY);
        assert!(ScoreRange::parse(b"x", b"1").is_none());
        assert!(ScoreRange::parse(b"(nan", b"1").is_none());
        assert!(LexRange::parse(&Bytes::from("a"), &Bytes::from("+")).is_none());
        assert_eq!(rank_window(0, -1, 3), Some((0, 3)));
        assert_eq!(rank_window(-100, 100, 3), Some((0, 3)));
        assert_eq!(rank_window(2, 1, 3), None);
        assert_eq!(rank_window(3, 5, 3), None);
    }
}
