//! The RDB output side: a block buffer with a running CRC-64 in front of any writer, and
//! Redis's length and string encodings (`rdbSaveLen`, `rdbSaveRawString`).
//!
//! Owns how bytes leave an encoder. Invariant: every byte handed to the writer went through
//! the CRC first (when checksums are on), and the buffer never holds more than 64 KiB after a
//! call returns, whatever the size of what is written.

use std::io::{self, Write};

use super::checksum::Crc64;
use super::format::*;
use super::lzf;

/// Blocks handed to the underlying writer (and to the CRC) at a time.
const BLOCK_BYTES: usize = 64 * 1024;
/// Longest item `Sink::small` appends: an LZF header (1 + two 9-byte lengths).
const SMALL_BYTES_MAX: usize = 1 + 9 + 9;
/// Largest LZF scratch buffer kept between strings.
const COMPRESSED_KEEP_BYTES_MAX: usize = 16 * BLOCK_BYTES;

/// The value of `s` if it is the canonical decimal form of an i32 of at most 11 characters
/// (`rdbTryIntegerEncoding`: `string2ll` and an exact round trip). "007", "+1", "-0", " 1"
/// and "" are not canonical, so they stay strings byte for byte.
pub(crate) fn canonical_i32(s: &[u8]) -> Option<i32> {
    if s.is_empty() || s.len() > INT_ENCODING_LEN_MAX {
        return None;
    }
    let (negative, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    let leading_zero = digits.first() == Some(&b'0') && (digits.len() > 1 || negative);
    if digits.is_empty() || leading_zero || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    // At most 11 digits: cannot overflow an i64.
    let magnitude = digits
        .iter()
        .fold(0i64, |v, d| v * 10 + i64::from(d - b'0'));
    i32::try_from(if negative { -magnitude } else { magnitude }).ok()
}

/// The encoded form of a canonical integer string: the smallest INT encoding.
pub(crate) fn int_encoding(value: i32, out: &mut Vec<u8>) {
    if let Ok(v) = i8::try_from(value) {
        out.push(LEN_ENCODED | ENC_INT8);
        out.extend_from_slice(&v.to_le_bytes());
    } else if let Ok(v) = i16::try_from(value) {
        out.push(LEN_ENCODED | ENC_INT16);
        out.extend_from_slice(&v.to_le_bytes());
    } else {
        out.push(LEN_ENCODED | ENC_INT32);
        out.extend_from_slice(&value.to_le_bytes());
    }
}

/// A length in the smallest form (`rdbSaveLen`); multi-byte forms are big-endian.
pub(crate) fn length(len: u64, out: &mut Vec<u8>) {
    if len < 1 << 6 {
        out.push(LEN_6BIT | len as u8);
    } else if len < 1 << 14 {
        out.extend_from_slice(&[LEN_14BIT | (len >> 8) as u8, len as u8]);
    } else if let Ok(len) = u32::try_from(len) {
        out.push(LEN_32BIT);
        out.extend_from_slice(&len.to_be_bytes());
    } else {
        out.push(LEN_64BIT);
        out.extend_from_slice(&len.to_be_bytes());
    }
}

/// The output side: a block buffer in front of `out`, the running CRC and the byte count.
pub(crate) struct Sink<'w, W: Write> {
    out: &'w mut W,
    /// Bytes not yet handed to `out`; never more than `BLOCK_BYTES` after a call returns.
    pub(crate) pending: Vec<u8>,
    /// `None` when checksums are off: the trailer is then 0 and nothing is computed.
    crc: Option<Crc64>,
    /// Bytes handed to `out` so far.
    pub(crate) written: u64,
    compression: bool,
    compressor: lzf::Compressor,
    compressed: Vec<u8>,
}

impl<'w, W: Write> Sink<'w, W> {
    /// `compression`: `rdbcompression`; `checksum`: `rdbchecksum`.
    pub(crate) fn new(out: &'w mut W, compression: bool, checksum: bool) -> Self {
        Sink {
            out,
            pending: Vec::with_capacity(BLOCK_BYTES),
            crc: checksum.then(Crc64::new),
            written: 0,
            compression,
            compressor: lzf::Compressor::new(),
            compressed: Vec::new(),
        }
    }

    pub(crate) fn byte(&mut self, byte: u8) -> io::Result<()> {
        self.bytes(&[byte])
    }

    /// Appends checksummed bytes; a large slice bypasses the buffer instead of being copied.
    pub(crate) fn bytes(&mut self, bytes: &[u8]) -> io::Result<()> {
        if self.pending.len() + bytes.len() > BLOCK_BYTES {
            self.flush_pending()?;
            if bytes.len() >= BLOCK_BYTES {
                return self.emit(bytes);
            }
        }
        self.pending.extend_from_slice(bytes);
        Ok(())
    }

    /// Appends a few bytes built in place, without an intermediate allocation.
    pub(crate) fn small(&mut self, build: impl FnOnce(&mut Vec<u8>)) -> io::Result<()> {
        if self.pending.len() + SMALL_BYTES_MAX > BLOCK_BYTES {
            self.flush_pending()?;
        }
        let before = self.pending.len();
        build(&mut self.pending);
        debug_assert!(self.pending.len() - before <= SMALL_BYTES_MAX);
        Ok(())
    }

    pub(crate) fn len(&mut self, len: u64) -> io::Result<()> {
        self.small(|out| length(len, out))
    }

    /// A string under `rdbSaveRawString`'s rules: INT encoding for canonical small integers,
    /// else LZF when on, longer than 20 bytes and at least 4 bytes smaller, else raw.
    pub(crate) fn string(&mut self, s: &[u8]) -> io::Result<()> {
        if let Some(value) = canonical_i32(s) {
            return self.small(|out| int_encoding(value, out));
        }
        if self.compression && s.len() > LZF_LEN_MIN_EXCLUSIVE {
            let budget = s.len() - LZF_SAVING_MIN;
            let mut compressed = std::mem::take(&mut self.compressed);
            let result = if self.compressor.compress(s, budget, &mut compressed) {
                self.small(|out| {
                    out.push(LEN_ENCODED | ENC_LZF);
                    length(compressed.len() as u64, out);
                    length(s.len() as u64, out);
                })
                .and_then(|()| self.bytes(&compressed))
                .map(|()| true)
            } else {
                Ok(false)
            };
            if compressed.capacity() > COMPRESSED_KEEP_BYTES_MAX {
                // One huge value must not pin its copy for the rest of the snapshot.
                compressed = Vec::new();
            }
            self.compressed = compressed;
            if result? {
                return Ok(());
            }
        }
        self.len(s.len() as u64)?;
        self.bytes(s)
    }

    pub(crate) fn flush_pending(&mut self) -> io::Result<()> {
        let pending = std::mem::take(&mut self.pending);
        let result = self.emit(&pending);
        self.pending = pending;
        self.pending.clear();
        result
    }

    /// Checksums and writes `bytes` to the underlying writer.
    pub(crate) fn emit(&mut self, bytes: &[u8]) -> io::Result<()> {
        if let Some(crc) = &mut self.crc {
            crc.update(bytes);
        }
        self.out.write_all(bytes)?;
        self.written += bytes.len() as u64;
        Ok(())
    }

    /// Writes what is pending and the CRC-64 trailer (not itself checksummed); flushes.
    pub(crate) fn finish(mut self) -> io::Result<u64> {
        self.flush_pending()?;
        let checksum = self.crc.as_ref().map_or(0, Crc64::value);
        self.out.write_all(&checksum.to_le_bytes())?;
        self.written += CHECKSUM_LEN;
        self.out.flush()?;
        Ok(self.written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Goal: Redis's integer test, including the strings it deliberately leaves raw (trap 5).
    #[test]
    fn canonical_integers_only() {
        for (s, expected) in [
            ("0", Some(0)),
            ("-1", Some(-1)),
            ("300", Some(300)),
            ("2147483647", Some(i32::MAX)),
            ("-2147483648", Some(i32::MIN)),
            ("2147483648", None),
            ("-2147483649", None),
            ("007", None),
            ("+1", None),
            ("-0", None),
            ("-", None),
            ("", None),
            (" 1", None),
            ("1 ", None),
            ("1e3", None),
            ("12345678901", None),
        ] {
            assert_eq!(canonical_i32(s.as_bytes()), expected, "{s:?}");
        }
    }

    /// Goal: the smallest INT form, little-endian, as `c0 40` for `redis-bits` in §1.1.
    #[test]
    fn int_encodings() {
        let enc = |v| {
            let mut out = Vec::new();
            int_encoding(v, &mut out);
            out
        };
        assert_eq!(enc(64), [0xc0, 0x40]);
        assert_eq!(enc(-128), [0xc0, 0x80]);
        assert_eq!(enc(300), [0xc1, 0x2c, 0x01]);
        assert_eq!(enc(-129), [0xc1, 0x7f, 0xff]);
        assert_eq!(enc(0x6b049890), [0xc2, 0x90, 0x98, 0x04, 0x6b]);
    }

    /// Goal: every length form at its boundaries, big-endian (trap 1).
    #[test]
    fn length_forms() {
        let enc = |v| {
            let mut out = Vec::new();
            length(v, &mut out);
            out
        };
        assert_eq!(enc(0), [0x00]);
        assert_eq!(enc(63), [0x3f]);
        assert_eq!(enc(64), [0x40, 0x40]);
        assert_eq!(enc(16383), [0x7f, 0xff]);
        assert_eq!(enc(16384), [0x80, 0x00, 0x00, 0x40, 0x00]);
        assert_eq!(enc(u64::from(u32::MAX)), [0x80, 0xff, 0xff, 0xff, 0xff]);
        assert_eq!(enc(1 << 32), [0x81, 0, 0, 0, 1, 0, 0, 0, 0]);
    }
}
