//! LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]: the longest common subsequence
//! of two strings, as Redis 7.0's `lcsCommand` (the dynamic-programming table, walked back
//! from the end, emitting matched ranges from the last to the first).
//!
//! Invariants: the table is refused, not allocated, when it would exceed `proto-max-bulk-len`
//! (Redis's limit on this transient memory); the ranges and their order are Redis's, found by
//! the same walk (ties go to the second string's shorter prefix).

use bytes::Bytes;

use super::exec::{string_of, Exec};
use super::num::integer_arg;
use super::reply;
use crate::resp::{Frame, BULK_LEN_MAX};

/// The options after the two keys.
#[derive(Default)]
struct Options {
    len: bool,
    idx: bool,
    with_match_len: bool,
    min_match_len: u64,
}

fn parse(argv: &[Bytes]) -> Result<Options, Frame> {
    let mut o = Options::default();
    let mut j = 3;
    while j < argv.len() {
        let more = j + 1 < argv.len();
        let opt = &argv[j];
        if opt.eq_ignore_ascii_case(b"IDX") {
            o.idx = true;
        } else if opt.eq_ignore_ascii_case(b"LEN") {
            o.len = true;
        } else if opt.eq_ignore_ascii_case(b"WITHMATCHLEN") {
            o.with_match_len = true;
        } else if opt.eq_ignore_ascii_case(b"MINMATCHLEN") && more {
            o.min_match_len = integer_arg(&argv[j + 1])?.max(0) as u64;
            j += 1;
        } else {
            return Err(reply::err(reply::SYNTAX));
        }
        j += 1;
    }
    if o.idx && o.len {
        return Err(reply::err(
            "ERR If you want both the length and indexes, please just use IDX.",
        ));
    }
    Ok(o)
}

/// A string key's bytes for LCS: empty if missing, Redis's LCS error if not a string.
fn operand(x: &mut Exec<'_>, key: &Bytes) -> Result<Bytes, Frame> {
    match x.lookup(key) {
        None => Ok(Bytes::new()),
        Some(e) => string_of(&e)
            .cloned()
            .map_err(|_| reply::err("ERR The specified keys must contain string values")),
    }
}

pub(crate) fn lcs(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    let (a, b) = match (operand(x, &argv[1]), operand(x, &argv[2])) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    let o = match parse(argv) {
        Ok(o) => o,
        Err(e) => return e,
    };
    let cells = (a.len() as u64 + 1) * (b.len() as u64 + 1);
    if cells * 4 > BULK_LEN_MAX {
        return reply::err(
            "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len",
        );
    }
    let table = Table::build(&a, &b);
    let total = table.at(a.len(), b.len());
    if o.len {
        return reply::int(i64::from(total));
    }
    let (text, ranges) = walk(&table, &a, &b, &o);
    if !o.idx {
        return Frame::Bulk(Bytes::from(text));
    }
    Frame::Map(vec![
        (
            Frame::Bulk(Bytes::from_static(b"matches")),
            Frame::Array(ranges),
        ),
        (
            Frame::Bulk(Bytes::from_static(b"len")),
            reply::int(i64::from(total)),
        ),
    ])
}

/// LCS(i, j): the LCS length of a[..i] and b[..j].
struct Table {
    width: usize,
    cells: Vec<u32>,
}

impl Table {
    fn build(a: &[u8], b: &[u8]) -> Table {
        let width = b.len() + 1;
        let mut cells = vec![0u32; (a.len() + 1) * width];
        for i in 1..=a.len() {
            for j in 1..=b.len() {
                cells[i * width + j] = if a[i - 1] == b[j - 1] {
                    cells[(i - 1) * width + j - 1] + 1
                } else {
                    cells[(i - 1) * width + j].max(cells[i * width + j - 1])
                };
            }
        }
        Table { width, cells }
    }

    fn at(&self, i: usize, j: usize) -> u32 {
        self.cells[i * self.width + j]
    }
}

/// One matched range being tracked: starts and ends in both strings.
struct Range {
    a: (usize, usize),
    b: (usize, usize),
}

/// Redis's walk back from (len a, len b): the LCS text and, for IDX, the ranges emitted.
fn walk(table: &Table, a: &[u8], b: &[u8], o: &Options) -> (Vec<u8>, Vec<Frame>) {
    let mut text = vec![0u8; table.at(a.len(), b.len()) as usize];
    let mut idx = text.len();
    let mut ranges = Vec::new();
    let mut current: Option<Range> = None;
    let (mut i, mut j) = (a.len(), b.len());
    while i > 0 && j > 0 {
        let mut emit = false;
        if a[i - 1] == b[j - 1] {
            text[idx - 1] = a[i - 1];
            match &mut current {
                None => {
                    current = Some(Range {
                        a: (i - 1, i - 1),
                        b: (j - 1, j - 1),
                    })
                }
                // Contiguous with the range: extend it backwards.
                Some(r) if r.a.0 == i && r.b.0 == j => {
                    r.a.0 -= 1;
                    r.b.0 -= 1;
                }
                // As Redis: the range ends here and this match starts none.
                Some(_) => emit = true,
            }
            if current.as_ref().is_some_and(|r| r.a.0 == 0 || r.b.0 == 0) {
                emit = true;
            }
            idx -= 1;
            i -= 1;
            j -= 1;
        } else {
            if table.at(i - 1, j) > table.at(i, j - 1) {
                i -= 1;
            } else {
                j -= 1;
            }
            emit = current.is_some();
        }
        if emit {
            if let Some(r) = current.take() {
                let match_len = (r.a.1 - r.a.0 + 1) as u64;
                if o.idx && (o.min_match_len == 0 || match_len >= o.min_match_len) {
                    ranges.push(range_frame(&r, o.with_match_len.then_some(match_len)));
                }
            }
        }
    }
    (text, ranges)
}

fn range_frame(r: &Range, match_len: Option<u64>) -> Frame {
    let pair = |(s, e): (usize, usize)| Frame::Array(vec![reply::count(s), reply::count(e)]);
    let mut out = vec![pair(r.a), pair(r.b)];
    out.extend(match_len.map(|n| reply::int(n as i64)));
    Frame::Array(out)
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use crate::resp::Frame;

    #[test]
    fn lcs_as_redis_documents_it() {
        let mut k = Kit::new();
        k.run("MSET key1 ohmytext key2 mynewtext");
        assert_eq!(k.reply("LCS key1 key2"), bulk("mytext"));
        assert_eq!(k.reply("LCS key1 key2 LEN"), int(6));
        let pair = |a: i64, b: i64| Frame::Array(vec![int(a), int(b)]);
        let Frame::Map(idx) = k.reply("LCS key1 key2 IDX MINMATCHLEN 4 WITHMATCHLEN") else {
            panic!("a map")
        };
        assert_eq!(
            idx[0].1,
            Frame::Array(vec![Frame::Array(vec![pair(4, 7), pair(5, 8), int(4)])])
        );
        assert_eq!(idx[1].1, int(6));
        let Frame::Map(idx) = k.reply("LCS key1 key2 IDX") else {
            panic!("a map")
        };
        let want = vec![
            Frame::Array(vec![pair(4, 7), pair(5, 8)]),
            Frame::Array(vec![pair(2, 3), pair(0, 1)]),
        ];
        assert_eq!(idx[0].1, Frame::Array(want));
        assert_eq!(
            k.reply("LCS key1 key2 IDX LEN"),
            err("ERR If you want both the length and indexes, please just use IDX.")
        );
        assert_eq!(k.reply("LCS key1 nope"), bulk(""));
        k.run("RPUSH l a");
        assert_eq!(
            k.reply("LCS key1 l"),
            err("ERR The specified keys must contain string values")
        );
    }
}
