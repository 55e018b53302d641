//! Bits of strings: SETBIT, GETBIT, BITCOUNT, as Redis 7.0's `bitops.c` (bit 0 is the most
//! significant bit of the first byte).
//!
//! Invariants: a bit offset is refused beyond `proto-max-bulk-len` bytes (512 MB), so SETBIT
//! never grows a string past what a string may hold; SETBIT zero-fills the bytes it adds and
//! keeps the TTL; it propagates as sent.

use bytes::{Bytes, BytesMut};

use super::exec::{string_of, Exec};
use super::num::integer_arg;
use super::reply;
use crate::keyspace::{Entry, Value};
use crate::resp::{Frame, BULK_LEN_MAX};

const BAD_OFFSET: &str = "ERR bit offset is not an integer or out of range";

/// Redis's `getBitOffsetFromArgument` (no `#` form: BITFIELD's only).
fn bit_offset(arg: &[u8]) -> Result<u64, Frame> {
    let offset = std::str::from_utf8(arg)
        .ok()
        .filter(|s| !s.starts_with('+'))
        .and_then(|s| s.parse::<i64>().ok());
    match offset {
        Some(n) if n >= 0 && (n as u64 >> 3) < BULK_LEN_MAX => Ok(n as u64),
        _ => Err(reply::err(BAD_OFFSET)),
    }
}

/// SETBIT key offset 0|1: the bit's previous value.
pub(crate) fn setbit(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    let key = &argv[1];
    let offset = match bit_offset(&argv[2]) {
        Ok(offset) => offset,
        Err(e) => return e,
    };
    let on = match &argv[3][..] {
        b"0" => false,
        b"1" => true,
        _ => return reply::err("ERR bit is not an integer or out of range"),
    };
    let entry = match x.lookup_string(key) {
        Ok(entry) => entry,
        Err(e) => return e,
    };
    let (old, expire_at_ms) = match &entry {
        Some(e) => (string_of(e).cloned().unwrap_or_default(), e.expire_at_ms),
        None => (Bytes::new(), None),
    };
    let byte = (offset >> 3) as usize;
    let mask = 1u8 << (7 - (offset & 7));
    let mut bytes = BytesMut::from(&old[..]);
    if bytes.len() <= byte {
        bytes.resize(byte + 1, 0);
    }
    let was = bytes[byte] & mask != 0;
    if on {
        bytes[byte] |= mask;
    } else {
        bytes[byte] &= !mask;
    }
    let value = Value::Str(bytes.freeze());
    x.store(
        key,
        Entry {
            value,
            expire_at_ms,
        },
    );
    x.add_dirty(1);
    reply::int(i64::from(was))
}

/// GETBIT key offset: 0 past the end or for a missing key.
pub(crate) fn getbit(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    let offset = match bit_offset(&argv[2]) {
        Ok(offset) => offset,
        Err(e) => return e,
    };
    let value = match x.lookup_string(&argv[1]) {
        Ok(Some(e)) => string_of(&e).cloned().unwrap_or_default(),
        Ok(None) => return reply::int(0),
        Err(e) => return e,
    };
    let byte = (offset >> 3) as usize;
    let bit = value
        .get(byte)
        .is_some_and(|b| b & (1 << (7 - (offset & 7))) != 0);
    reply::int(i64::from(bit))
}

/// BITCOUNT key [start end [BYTE|BIT]]: set bits in the range (inclusive, negative from the
/// end), as Redis 7.0.
pub(crate) fn bitcount(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    // As Redis: the key first (a missing key is 0 whatever the options), then the range.
    let value = match x.lookup_string(&argv[1]) {
        Ok(Some(e)) => string_of(&e).cloned().unwrap_or_default(),
        Ok(None) => return reply::int(0),
        Err(e) => return e,
    };
    let range = match argv.len() {
        2 => None,
        4 | 5 => {
            let bit_unit = match argv.get(4) {
                None => false,
                Some(u) if u.eq_ignore_ascii_case(b"BIT") => true,
                Some(u) if u.eq_ignore_ascii_case(b"BYTE") => false,
                Some(_) => return reply::err(reply::SYNTAX),
            };
            match (integer_arg(&argv[2]), integer_arg(&argv[3])) {
                (Ok(s), Ok(e)) => Some((s, e, bit_unit)),
                (Err(e), _) | (_, Err(e)) => return e,
            }
        }
        _ => return reply::err(reply::SYNTAX),
    };
    let Some((start, end, bit_unit)) = range else {
        let ones: u32 = value.iter().map(|b| b.count_ones()).sum();
        return reply::int(i64::from(ones));
    };
    let total = value.len() as i64 * if bit_unit { 8 } else { 1 };
    let clamp = |i: i64| if i < 0 { (total + i).max(0) } else { i };
    let (start, end) = (clamp(start), clamp(end).min(total - 1));
    if start > end || total == 0 {
        return reply::int(0);
    }
    let ones = if bit_unit {
        (start..=end)
            .filter(|&i| value[(i >> 3) as usize] & (1 << (7 - (i & 7))) != 0)
            .count() as i64
    } else {
        let bytes = &value[start as usize..=end as usize];
        bytes.iter().map(|b| i64::from(b.count_ones())).sum()
    };
    reply::int(ones)
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;

    #[test]
    fn setbit_grows_zero_filled_and_getbit_reads_it() {
        let mut k = Kit::new();
        assert_eq!(k.reply("SETBIT k 1 1"), int(0));
        assert_eq!(k.reply("GET k"), bulk("@"));
        assert_eq!(k.reply("SETBIT k 1 1"), int(1));
        assert_eq!(k.reply("SETBIT k 17 1"), int(0));
        assert_eq!(k.reply("STRLEN k"), int(3));
        assert_eq!(
            (
                k.reply("GETBIT k 1"),
                k.reply("GETBIT k 2"),
                k.reply("GETBIT k 999")
            ),
            (int(1), int(0), int(0))
        );
        assert_eq!(k.reply("SETBIT k 1 0"), int(1));
        assert_eq!(
            k.logged("SETBIT k 0 1"),
            vec![(0, "SETBIT k 0 1".to_string())]
        );
        assert_eq!(k.reply("GETBIT nope 5"), int(0));
        let bad = err("ERR bit offset is not an integer or out of range");
        assert_eq!(k.reply("SETBIT k 4294967296 1"), bad);
        assert_eq!(k.reply("SETBIT k -1 1"), bad);
        assert_eq!(k.reply("GETBIT k x"), bad);
        assert_eq!(
            k.reply("SETBIT k 0 2"),
            err("ERR bit is not an integer or out of range")
        );
        k.run("RPUSH l a");
        assert!(
            matches!(k.reply("SETBIT l 0 1"), crate::resp::Frame::Error(e) if e.starts_with("WRONGTYPE"))
        );
    }

    #[test]
    fn bitcount_counts_bytes_or_bits() {
        let mut k = Kit::new();
        k.run("SET k foobar");
        assert_eq!(k.reply("BITCOUNT k"), int(26));
        assert_eq!(k.reply("BITCOUNT k 0 0"), int(4));
        assert_eq!(k.reply("BITCOUNT k 1 1"), int(6));
        assert_eq!(k.reply("BITCOUNT k 1 1 BYTE"), int(6));
        assert_eq!(k.reply("BITCOUNT k 5 30 BIT"), int(17));
        assert_eq!(k.reply("BITCOUNT k -2 -1"), int(7));
        assert_eq!(k.reply("BITCOUNT nope"), int(0));
        assert_eq!(k.reply("BITCOUNT k 0"), err("ERR syntax error"));
    }
}
