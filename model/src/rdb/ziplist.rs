//! The pre-7.0 compact blobs durakv reads but never writes: ziplists (`src/ziplist.c`, RDB
//! types 10, 12, 13 and the nodes of 14) and zipmaps (`src/zipmap.c`, type 9).
//!
//! ```text
//! ziplist: <u32 LE zlbytes> <u32 LE zltail> <u16 LE zllen, 65535 = count it> entry... 0xFF
//! entry:   <prevlen: 1 byte < 254, or FE + u32 LE> <encoding> <data>
//!   00pppppp str len 6 bits | 01pppppp q str len 14 bits BIG-endian | 80 + u32 BE str
//!   C0 i16 | D0 i32 | E0 i64 | F0 i24 | FE i8 | F1..FD immediate 0..12   (integers LE)
//! zipmap:  <u8 count> (<len> field <len> <u8 free> value <free bytes>)... 0xFF
//!   len: 1 byte < 254, or FE + u32 LE
//! ```
//!
//! Invariant: the readers never panic or read out of bounds; they check every entry against
//! the blob's size, the previous-length chain, the count and the end byte (Redis validates
//! these deeply on load, so a damaged blob is an error, never a guess).

use bytes::Bytes;

const END: u8 = 0xFF;

fn short() -> String {
    "ziplist entry runs past the end".to_string()
}

fn le(b: &[u8], at: usize, n: usize) -> Result<i64, String> {
    let bytes = b.get(at..at + n).ok_or_else(short)?;
    let mut v = [0u8; 8];
    v[..n].copy_from_slice(bytes);
    let shift = 64 - 8 * n as u32;
    Ok((i64::from_le_bytes(v) << shift) >> shift)
}

/// The entries of a ziplist, integers as decimal strings.
pub(crate) fn read(blob: &[u8]) -> Result<Vec<Bytes>, String> {
    if blob.len() < 11 {
        return Err("ziplist shorter than its header".into());
    }
    let total = le(blob, 0, 4)? as u32 as usize;
    if total != blob.len() || blob[blob.len() - 1] != END {
        return Err("ziplist integrity check failed: size or end byte".into());
    }
    let count = le(blob, 8, 2)? as u16;
    let end = blob.len() - 1;
    let (mut pos, mut prev_size, mut items) = (10, 0usize, Vec::new());
    while pos < end {
        let start = pos;
        let (prevlen, header) = match blob[pos] {
            0xFE => (le(blob, pos + 1, 4)? as u32 as usize, 5),
            n => (usize::from(n), 1),
        };
        if prevlen != prev_size {
            return Err("ziplist integrity check failed: previous length".into());
        }
        pos += header;
        let (item, size) = entry(&blob[..end], pos)?;
        items.push(item);
        pos += size;
        prev_size = pos - start;
    }
    if count != u16::MAX && usize::from(count) != items.len() {
        return Err("ziplist integrity check failed: count".into());
    }
    Ok(items)
}

/// One entry's encoding and data at `at`: its value and size.
fn entry(b: &[u8], at: usize) -> Result<(Bytes, usize), String> {
    let first = *b.get(at).ok_or_else(short)?;
    let string = |header: usize, len: usize| -> Result<(Bytes, usize), String> {
        let data = b.get(at + header..at + header + len).ok_or_else(short)?;
        Ok((Bytes::copy_from_slice(data), header + len))
    };
    let int = |n: i64, size: usize| Ok((Bytes::from(n.to_string()), size));
    match first {
        0x00..=0x3F => string(1, usize::from(first)),
        0x40..=0x7F => {
            let low = *b.get(at + 1).ok_or_else(short)?;
            string(2, (usize::from(first & 0x3F) << 8) | usize::from(low))
        }
        0x80 => {
            let bytes = b.get(at + 1..at + 5).ok_or_else(short)?;
            string(5, u32::from_be_bytes(bytes.try_into().expect("4")) as usize)
        }
        0xC0 => int(le(b, at + 1, 2)?, 3),
        0xD0 => int(le(b, at + 1, 4)?, 5),
        0xE0 => int(le(b, at + 1, 8)?, 9),
        0xF0 => int(le(b, at + 1, 3)?, 4),
        0xFE => int(le(b, at + 1, 1)?, 2),
        0xF1..=0xFD => int(i64::from(first & 0x0F) - 1, 1),
        _ => Err(format!("ziplist entry with unknown encoding {first:#04x}")),
    }
}

/// The field, value pairs of a zipmap.
pub(crate) fn read_zipmap(blob: &[u8]) -> Result<Vec<(Bytes, Bytes)>, String> {
    let bad = || "zipmap integrity check failed".to_string();
    let len_at = |pos: usize| -> Result<(usize, usize), String> {
        match *blob.get(pos).ok_or_else(bad)? {
            254 => {
                let bytes = blob.get(pos + 1..pos + 5).ok_or_else(bad)?;
                Ok((u32::from_le_bytes(bytes.try_into().expect("4")) as usize, 5))
            }
            255 => Err(bad()),
            n => Ok((usize::from(n), 1)),
        }
    };
    let take = |pos: usize, len: usize| {
        blob.get(pos..pos + len)
            .map(Bytes::copy_from_slice)
            .ok_or_else(bad)
    };
    let mut pos = 1;
    let mut pairs = Vec::new();
    while *blob.get(pos).ok_or_else(bad)? != END {
        let (flen, h) = len_at(pos)?;
        let field = take(pos + h, flen)?;
        pos += h + flen;
        let (vlen, h) = len_at(pos)?;
        let free = usize::from(*blob.get(pos + h).ok_or_else(bad)?);
        let value = take(pos + h + 1, vlen)?;
        pos += h + 1 + vlen + free;
        pairs.push((field, value));
    }
    if pos + 1 != blob.len() {
        return Err(bad());
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ziplist of `a`, 12, 300, -70000 built by hand from the layout.
    #[test]
    fn reads_every_entry_form_and_refuses_damage() {
        let mut entries: Vec<Vec<u8>> = Vec::new();
        let mut body = Vec::new();
        let mut prev = 0u8;
        for data in [
            vec![0x01, b'a'],
            vec![0xFD],
            vec![0xC0, 0x2c, 0x01],
            vec![0xD0, 0x90, 0xee, 0xfe, 0xff],
        ] {
            let mut e = vec![prev];
            e.extend_from_slice(&data);
            prev = e.len() as u8;
            body.extend_from_slice(&e);
            entries.push(e);
        }
        let total = 10 + body.len() + 1;
        let mut blob = (total as u32).to_le_bytes().to_vec();
        blob.extend_from_slice(&0u32.to_le_bytes());
        blob.extend_from_slice(&4u16.to_le_bytes());
        blob.extend_from_slice(&body);
        blob.push(0xFF);
        let items = read(&blob).unwrap();
        assert_eq!(items, ["a", "12", "300", "-70000"].map(Bytes::from));
        for cut in 0..blob.len() {
            assert!(read(&blob[..cut]).is_err());
        }
        let mut bad = blob.clone();
        bad[8] = 3;
        assert!(read(&bad).is_err());
    }

    #[test]
    fn reads_a_zipmap() {
        let blob = [2, 1, b'f', 2, 1, b'v', b'1', 0, 1, b'g', 0, 0, 0xFF];
        let pairs = read_zipmap(&blob).unwrap();
        assert_eq!(
            pairs,
            vec![
                (Bytes::from("f"), Bytes::from("v1")),
                (Bytes::from("g"), Bytes::new())
            ]
        );
        assert!(read_zipmap(&blob[..5]).is_err());
    }
}
