//! Listpacks (`src/listpack.c`), the compact blob of RDB types 16, 17 and 18's nodes, both
//! ways; and intsets (`src/intset.c`, type 11).
//!
//! ```text
//! listpack: <u32 LE total bytes> <u16 LE count, 65535 = unknown> entry... 0xFF
//! entry:    <encoding+data> <backlen: size of encoding+data, 7 bits a byte, read right to left>
//!   0xxxxxxx uint7 | 10LLLLLL str<64 | 110xxxxx b int13 | 1110LLLL b str<4096
//!   F0 u32 str | F1 i16 | F2 i24 | F3 i32 | F4 i64        (integers little-endian)
//! intset:   <u32 LE encoding 2|4|8> <u32 LE count> count × signed LE ints, ascending, unique
//! ```
//!
//! Invariants: [`Builder`] writes what Redis 7.0 writes (a string that is a canonical int64
//! becomes the smallest integer entry), so our blobs equal Redis's byte for byte; the readers
//! never panic or read out of bounds, and refuse a blob whose header, entries, count or end
//! byte disagree (Redis's deep `lpValidateIntegrity` / `intsetValidateIntegrity`).

use bytes::Bytes;

use crate::types::int::canonical_i64;

/// Header (total bytes, count) plus the end byte.
const OVERHEAD_BYTES: usize = 4 + 2 + 1;
const END: u8 = 0xFF;
/// The count field's "too many to count" value.
const COUNT_UNKNOWN: u16 = u16::MAX;

/// Builds one listpack.
pub(crate) struct Builder {
    buf: Vec<u8>,
    count: usize,
}

impl Builder {
    pub(crate) fn new() -> Builder {
        Builder {
            buf: vec![0; 6],
            count: 0,
        }
    }

    pub(crate) fn count(&self) -> usize {
        self.count
    }

    /// Bytes the finished listpack will take (Redis's `lpBytes`, what quicklist fill counts).
    pub(crate) fn bytes(&self) -> usize {
        self.buf.len() + 1
    }

    /// Appends `s`, as an integer entry when it is a canonical int64 (`lpStringToInt64`).
    pub(crate) fn push(&mut self, s: &[u8]) {
        let start = self.buf.len();
        match canonical_i64(s) {
            Some(n) => push_int(&mut self.buf, n),
            None => push_str(&mut self.buf, s),
        }
        let size = self.buf.len() - start;
        push_backlen(&mut self.buf, size);
        self.count += 1;
    }

    pub(crate) fn finish(mut self) -> Vec<u8> {
        self.buf.push(END);
        let total = u32::try_from(self.buf.len()).expect("a listpack is under 4 GB");
        self.buf[..4].copy_from_slice(&total.to_le_bytes());
        let count = u16::try_from(self.count).unwrap_or(COUNT_UNKNOWN);
        self.buf[4..6].copy_from_slice(&count.to_le_bytes());
        self.buf
    }
}

fn push_int(buf: &mut Vec<u8>, n: i64) {
    if (0..=127).contains(&n) {
        buf.push(n as u8);
    } else if (-4096..=4095).contains(&n) {
        let u = (n as u16) & 0x1FFF;
        buf.extend_from_slice(&[0xC0 | (u >> 8) as u8, u as u8]);
    } else if let Ok(v) = i16::try_from(n) {
        buf.push(0xF1);
        buf.extend_from_slice(&v.to_le_bytes());
    } else if (-(1 << 23)..(1 << 23)).contains(&n) {
        buf.push(0xF2);
        buf.extend_from_slice(&(n as i32).to_le_bytes()[..3]);
    } else if let Ok(v) = i32::try_from(n) {
        buf.push(0xF3);
        buf.extend_from_slice(&v.to_le_bytes());
    } else {
        buf.push(0xF4);
        buf.extend_from_slice(&n.to_le_bytes());
    }
}

fn push_str(buf: &mut Vec<u8>, s: &[u8]) {
    let len = s.len();
    if len < 64 {
        buf.push(0x80 | len as u8);
    } else if len < 4096 {
        buf.extend_from_slice(&[0xE0 | (len >> 8) as u8, len as u8]);
    } else {
        buf.push(0xF0);
        let len = u32::try_from(len).expect("an element is under 4 GB");
        buf.extend_from_slice(&len.to_le_bytes());
    }
    buf.extend_from_slice(s);
}

/// `lpEncodeBacklen`: the leftmost byte holds the highest bits, every byte to its right has
/// bit 7 set, the rightmost holds the low 7 bits.
fn push_backlen(buf: &mut Vec<u8>, size: usize) {
    let n = backlen_bytes(size);
    for i in (0..n).rev() {
        let group = ((size >> (7 * i)) & 0x7F) as u8;
        buf.push(if i == n - 1 { group } else { group | 0x80 });
    }
}

/// The entries of a listpack, integers as decimal strings; `Err` names what is wrong.
pub(crate) fn read(blob: &[u8]) -> Result<Vec<Bytes>, String> {
    if blob.len() < OVERHEAD_BYTES {
        return Err("listpack shorter than its header".into());
    }
    let total = u32::from_le_bytes(blob[..4].try_into().expect("4 bytes")) as usize;
    if total != blob.len() || blob[blob.len() - 1] != END {
        return Err("listpack header or end byte does not match its size".into());
    }
    let count = u16::from_le_bytes([blob[4], blob[5]]);
    let mut items = Vec::new();
    let mut pos = 6;
    let end = blob.len() - 1;
    while pos < end {
        let (item, size) = entry(&blob[pos..end])?;
        let backlen_len = backlen_bytes(size);
        if pos + size + backlen_len > end {
            return Err("listpack entry runs past the end".into());
        }
        let mut expected = Vec::new();
        push_backlen(&mut expected, size);
        if blob[pos + size..pos + size + backlen_len] != expected[..] {
            return Err("listpack entry has a wrong back length".into());
        }
        items.push(item);
        pos += size + backlen_len;
    }
    if count != COUNT_UNKNOWN && usize::from(count) != items.len() {
        return Err("listpack count does not match its entries".into());
    }
    Ok(items)
}

fn backlen_bytes(size: usize) -> usize {
    match size {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2097150 => 3,
        2097151..=268435454 => 4,
        _ => 5,
    }
}

/// One entry at the start of `b`: its value and the size of encoding+data.
fn entry(b: &[u8]) -> Result<(Bytes, usize), String> {
    let short = || "listpack entry runs past the end".to_string();
    let int = |n: i64, size| Ok((Bytes::from(n.to_string()), size));
    let le = |n: usize| -> Result<i64, String> {
        let bytes = b.get(1..1 + n).ok_or_else(short)?;
        let mut v = [0u8; 8];
        v[..n].copy_from_slice(bytes);
        let raw = i64::from_le_bytes(v);
        let shift = 64 - 8 * n as u32;
        Ok((raw << shift) >> shift)
    };
    let first = *b.first().ok_or_else(short)?;
    let string = |header: usize, len: usize| {
        let data = b.get(header..header + len).ok_or_else(short)?;
        Ok((Bytes::copy_from_slice(data), header + len))
    };
    match first {
        0x00..=0x7F => int(i64::from(first), 1),
        0x80..=0xBF => string(1, usize::from(first & 0x3F)),
        0xC0..=0xDF => {
            let low = *b.get(1).ok_or_else(short)?;
            let u = (u16::from(first & 0x1F) << 8) | u16::from(low);
            int(i64::from(((u << 3) as i16) >> 3), 2)
        }
        0xE0..=0xEF => {
            let low = *b.get(1).ok_or_else(short)?;
            string(2, (usize::from(first & 0x0F) << 8) | usize::from(low))
        }
        0xF0 => {
            let len = u32::from_le_bytes(b.get(1..5).ok_or_else(short)?.try_into().expect("4"));
            string(5, len as usize)
        }
        0xF1 => int(le(2)?, 3),
        0xF2 => int(le(3)?, 4),
        0xF3 => int(le(4)?, 5),
        0xF4 => int(le(8)?, 9),
        _ => Err(format!("listpack entry with unknown encoding {first:#04x}")),
    }
}

/// An intset of `ints` (sorted, unique), in the smallest encoding that fits them all.
pub(crate) fn intset(ints: &[i64]) -> Vec<u8> {
    let width: usize = if ints.iter().all(|&n| i16::try_from(n).is_ok()) {
        2
    } else if ints.iter().all(|&n| i32::try_from(n).is_ok()) {
        4
    } else {
        8
    };
    let mut out = Vec::with_capacity(8 + width * ints.len());
    out.extend_from_slice(&(width as u32).to_le_bytes());
    out.extend_from_slice(
        &u32::try_from(ints.len())
            .expect("few members")
            .to_le_bytes(),
    );
    for n in ints {
        out.extend_from_slice(&n.to_le_bytes()[..width]);
    }
    out
}

/// The members of an intset blob; it must be non-empty, ascending and unique.
pub(crate) fn read_intset(blob: &[u8]) -> Result<Vec<i64>, String> {
    let header = |at: usize| {
        blob.get(at..at + 4)
            .map(|b| u32::from_le_bytes(b.try_into().expect("4")))
    };
    let (Some(width), Some(count)) = (header(0), header(4)) else {
        return Err("intset shorter than its header".into());
    };
    let width = width as usize;
    if !matches!(width, 2 | 4 | 8) || blob.len() != 8 + width * count as usize || count == 0 {
        return Err("intset integrity check failed".into());
    }
    let shift = 64 - 8 * width as u32;
    let ints: Vec<i64> = blob[8..]
        .chunks(width)
        .map(|c| {
            let mut v = [0u8; 8];
            v[..width].copy_from_slice(c);
            (i64::from_le_bytes(v) << shift) >> shift
        })
        .collect();
    if ints.windows(2).any(|w| w[0] >= w[1]) {
        return Err("intset integrity check failed".into());
    }
    Ok(ints)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn build(items: &[&[u8]]) -> Vec<u8> {
        let mut b = Builder::new();
        for i in items {
            b.push(i);
        }
        b.finish()
    }

    /// Goal: byte for byte the listpack Redis 7.0.15 wrote for this RPUSH (facts §4).
    #[test]
    fn matches_redis_bytes() {
        let items: [&[u8]; 14] = [
            b"a",
            b"1",
            b"-5",
            b"300",
            b"-300",
            b"70000",
            b"-70000",
            b"5000000000",
            b"-5000000000",
            b"hello",
            b"007",
            b"-0",
            b"+1",
            b"",
        ];
        let redis = hex(
            "49000000 0e00 8161 02 01 01 dffb 02 c12c 02 ded4 02 f2701101 04 f290eefe 04
             f400f2052a01000000 09 f4000efad5feffffff 09 8568656c6c6f 06 83303037 04
             822d30 03 822b31 03 80 01 ff",
        );
        assert_eq!(build(&items), redis);
        let back: Vec<Bytes> = read(&redis).unwrap();
        assert_eq!(back, items.map(Bytes::copy_from_slice));
        let hash = hex("14000000 0400 82663103 82763103 816e02 0c01 ff");
        assert_eq!(build(&[b"f1", b"v1", b"n", b"12"]), hash);
    }

    #[test]
    fn integer_forms_and_long_strings() {
        for (n, bytes) in [
            ("127", "7f"),
            ("128", "c080"),
            ("-1", "dfff"),
            ("4095", "cfff"),
            ("4096", "f10010"),
            ("-4096", "d000"),
            ("32768", "f2008000"),
            ("100000000", "f300e1f505"),
        ] {
            let lp = build(&[n.as_bytes()]);
            assert_eq!(lp[6..lp.len() - 2], hex(bytes)[..], "{n}");
            assert_eq!(read(&lp).unwrap(), vec![Bytes::from(n)], "{n}");
        }
        let long = vec![b'x'; 200];
        let lp = build(&[&long]);
        assert_eq!(&lp[6..8], &[0xe0, 0xc8]);
        assert_eq!(&lp[lp.len() - 3..], &[0x01, 0xca, 0xff]);
        let huge = vec![b'y'; 20_000];
        assert_eq!(
            read(&build(&[&huge, b"z"])).unwrap(),
            vec![Bytes::from(huge), Bytes::from("z")]
        );
    }

    #[test]
    fn damage_is_refused_never_a_panic() {
        let lp = build(&[b"abc", b"12345", &[b'q'; 300]]);
        for cut in 0..lp.len() {
            assert!(read(&lp[..cut]).is_err(), "cut {cut}");
        }
        for at in 0..lp.len() {
            let mut bad = lp.clone();
            bad[at] ^= 0x55;
            let _ = read(&bad);
        }
    }

    #[test]
    fn intsets_as_redis() {
        assert_eq!(intset(&[1, 2, 3]), hex("02000000 03000000 0100 0200 0300"));
        assert_eq!(
            intset(&[-2, 1, 70000]),
            hex("04000000 03000000 feffffff 01000000 70110100")
        );
        assert_eq!(intset(&[1, 5_000_000_000])[..4], [8, 0, 0, 0]);
        for ints in [
            vec![1, 2, 3],
            vec![-2, 1, 70000],
            vec![i64::MIN, 0, i64::MAX],
        ] {
            assert_eq!(read_intset(&intset(&ints)).unwrap(), ints);
        }
        assert!(read_intset(&intset(&[])).is_err());
        assert!(read_intset(&hex("02000000 02000000 0200 0100")).is_err());
    }
}
