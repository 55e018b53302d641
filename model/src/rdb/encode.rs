//! RDB encoder: a keyspace to the bytes Redis 7.0's `rdbSave` would write for it.
//!
//! Owns the writer-side choices: AUX fields and their order, one SELECTDB + RESIZEDB per
//! non-empty database, EXPIRETIME_MS before keys with a TTL, and Redis's string encoding rules
//! (`rdbSaveRawString`). Invariant: the CRC covers every byte from `R` of `REDIS` through the
//! EOF opcode, computed as the bytes are handed to the writer, and the trailer is that CRC
//! little-endian (or 0 when checksums are off, which Redis reads as "not computed").

use std::io::{self, Write};

use super::checksum::Crc64;
use super::format::*;
use super::lzf;
use crate::keyspace::{Entry, Keyspace, Value};

/// What a save records besides the data, and how it encodes strings.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SaveInfo {
    /// Written as AOF base (RDB preamble): the `aof-base` AUX field is 1.
    pub aof_base: bool,
    /// `ctime` AUX field: unix seconds of the save.
    pub ctime_s: u64,
    /// `used-mem` AUX field, in bytes.
    pub used_mem: u64,
    /// `rdbcompression`: try LZF on strings longer than 20 bytes.
    pub compression: bool,
    /// `rdbchecksum`: compute the CRC-64 trailer; otherwise write 0.
    pub checksum: bool,
}

/// Serialises `ks` as an RDB version 10 file to `out`; returns the number of bytes written.
///
/// Bytes go out in blocks of 64 KiB, so memory stays bounded whatever the size of the
/// keyspace (plus one compressed copy of the largest string); `out` is flushed at the end.
/// Expired entries are written like any other: the loader decides whether to drop them, as
/// in Redis.
pub fn encode<W: Write>(ks: &Keyspace, info: &SaveInfo, out: &mut W) -> io::Result<u64> {
    let mut sink = Sink::new(out, info);
    sink.bytes(MAGIC)?;
    sink.bytes(format!("{RDB_VERSION:04}").as_bytes())?;
    debug_assert_eq!(sink.written + sink.pending.len() as u64, HEADER_LEN);
    write_aux_fields(&mut sink, info)?;
    for code in ks.functions.codes() {
        // As `rdbSaveFunctions`: each library's code, before the databases.
        sink.byte(OPCODE_FUNCTION2)?;
        sink.string(code)?;
    }
    for (db_index, db) in ks.dbs.iter().enumerate() {
        if db.is_empty() {
            continue; // As `rdbSaveDb`: an empty database leaves no trace.
        }
        sink.byte(OPCODE_SELECTDB)?;
        sink.len(db_index as u64)?;
        sink.byte(OPCODE_RESIZEDB)?;
        sink.len(db.len() as u64)?;
        sink.len(db.expires_count() as u64)?;
        for (key, entry) in db.entries.iter() {
            write_entry(&mut sink, key, entry)?;
        }
    }
    sink.byte(OPCODE_EOF)?;
    sink.finish()
}

/// One value as `rdbSaveObjectType` + `rdbSaveObject` write it, with compression on (DUMP's
/// payload before its version and checksum footer).
pub(crate) fn encode_value(value: &Value, out: &mut Vec<u8>) {
    let info = SaveInfo {
        aof_base: false,
        ctime_s: 0,
        used_mem: 0,
        compression: true,
        checksum: false,
    };
    let mut sink = Sink::new(out, &info);
    let written = match value {
        Value::Str(s) => sink.byte(TYPE_STRING).and_then(|()| sink.string(s)),
    };
    written
        .and_then(|()| sink.flush_pending())
        .expect("writing to a Vec cannot fail");
}

/// Blocks handed to the underlying writer (and to the CRC) at a time.
const BLOCK_BYTES: usize = 64 * 1024;
/// Longest item `Sink::small` appends: an LZF header (1 + two 9-byte lengths).
const SMALL_BYTES_MAX: usize = 1 + 9 + 9;
/// Largest LZF scratch buffer kept between strings.
const COMPRESSED_KEEP_BYTES_MAX: usize = 16 * BLOCK_BYTES;

/// Redis 7.0.15's `rdbSaveInfoAuxFields`, in its order. No `repl-*` fields: a standalone save
/// on a master without a backlog has none either.
fn write_aux_fields<W: Write>(sink: &mut Sink<'_, W>, info: &SaveInfo) -> io::Result<()> {
    let fields: [(&str, String); 5] = [
        ("redis-ver", AUX_REDIS_VER.to_string()),
        ("redis-bits", usize::BITS.to_string()),
        ("ctime", info.ctime_s.to_string()),
        ("used-mem", info.used_mem.to_string()),
        ("aof-base", u8::from(info.aof_base).to_string()),
    ];
    for (key, value) in fields {
        sink.byte(OPCODE_AUX)?;
        sink.string(key.as_bytes())?;
        sink.string(value.as_bytes())?;
    }
    Ok(())
}

fn write_entry<W: Write>(sink: &mut Sink<'_, W>, key: &[u8], entry: &Entry) -> io::Result<()> {
    if let Some(at_ms) = entry.expire_at_ms {
        // On disk a signed 64-bit value; no real expiry is beyond i64::MAX ms.
        let at_ms = i64::try_from(at_ms).unwrap_or(i64::MAX);
        sink.byte(OPCODE_EXPIRETIME_MS)?;
        sink.bytes(&at_ms.to_le_bytes())?;
    }
    match &entry.value {
        Value::Str(value) => {
            sink.byte(TYPE_STRING)?;
            sink.string(key)?;
            sink.string(value)?;
        }
    }
    Ok(())
}

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
struct Sink<'w, W: Write> {
    out: &'w mut W,
    /// Bytes not yet handed to `out`; never more than `BLOCK_BYTES` after a call returns.
    pending: Vec<u8>,
    /// `None` when checksums are off: the trailer is then 0 and nothing is computed.
    crc: Option<Crc64>,
    /// Bytes handed to `out` so far.
    written: u64,
    compression: bool,
    compressor: lzf::Compressor,
    compressed: Vec<u8>,
}

impl<'w, W: Write> Sink<'w, W> {
    fn new(out: &'w mut W, info: &SaveInfo) -> Self {
        Sink {
            out,
            pending: Vec::with_capacity(BLOCK_BYTES),
            crc: info.checksum.then(Crc64::new),
            written: 0,
            compression: info.compression,
            compressor: lzf::Compressor::new(),
            compressed: Vec::new(),
        }
    }

    fn byte(&mut self, byte: u8) -> io::Result<()> {
        self.bytes(&[byte])
    }

    /// Appends checksummed bytes; a large slice bypasses the buffer instead of being copied.
    fn bytes(&mut self, bytes: &[u8]) -> io::Result<()> {
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
    fn small(&mut self, build: impl FnOnce(&mut Vec<u8>)) -> io::Result<()> {
        if self.pending.len() + SMALL_BYTES_MAX > BLOCK_BYTES {
            self.flush_pending()?;
        }
        let before = self.pending.len();
        build(&mut self.pending);
        debug_assert!(self.pending.len() - before <= SMALL_BYTES_MAX);
        Ok(())
    }

    fn len(&mut self, len: u64) -> io::Result<()> {
        self.small(|out| length(len, out))
    }

    /// A string under `rdbSaveRawString`'s rules: INT encoding for canonical small integers,
    /// else LZF when on, longer than 20 bytes and at least 4 bytes smaller, else raw.
    fn string(&mut self, s: &[u8]) -> io::Result<()> {
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

    fn flush_pending(&mut self) -> io::Result<()> {
        let pending = std::mem::take(&mut self.pending);
        let result = self.emit(&pending);
        self.pending = pending;
        self.pending.clear();
        result
    }

    /// Checksums and writes `bytes` to the underlying writer.
    fn emit(&mut self, bytes: &[u8]) -> io::Result<()> {
        if let Some(crc) = &mut self.crc {
            crc.update(bytes);
        }
        self.out.write_all(bytes)?;
        self.written += bytes.len() as u64;
        Ok(())
    }

    /// Writes what is pending and the CRC-64 trailer (not itself checksummed); flushes.
    fn finish(mut self) -> io::Result<u64> {
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
