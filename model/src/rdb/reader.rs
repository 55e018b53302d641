//! A bounds-checked cursor over RDB bytes and the error every read reports.
//!
//! Owns lengths and strings in every encoding (`rdbLoadLenByRef`, `rdbGenericLoadStringObject`)
//! and [`RdbError`]. Invariants: never panics and never reads out of bounds whatever the input;
//! running out of input is always `incomplete: true`, anything else `incomplete: false`.

use std::fmt;

use bytes::Bytes;

use super::format::*;
use super::lzf;

/// Why a load stopped. `reason` is a complete sentence that ends with "at offset N".
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RdbError {
    /// Byte offset of the item that could not be read.
    pub offset: u64,
    pub reason: String,
    /// The input ended before the file did (a truncated or still-growing file), as opposed
    /// to bytes that are wrong or not supported.
    pub incomplete: bool,
}

impl RdbError {
    pub(crate) fn corrupt(offset: usize, reason: impl fmt::Display) -> Self {
        RdbError {
            offset: offset as u64,
            reason: format!("{reason} at offset {offset}"),
            incomplete: false,
        }
    }

    pub(crate) fn eof(offset: usize, what: &str, needed: u64, available: usize) -> Self {
        let reason = format!(
            "Unexpected EOF reading RDB file: {what} needs {needed} bytes, {available} left \
             at offset {offset}"
        );
        RdbError {
            offset: offset as u64,
            reason,
            incomplete: true,
        }
    }
}

impl fmt::Display for RdbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

impl std::error::Error for RdbError {}

/// A length as read: a plain length, or the id of a special string encoding.
pub(crate) enum Length {
    Plain(u64),
    Encoded(u8),
}

/// A bounds-checked cursor over the input. Every read names what it reads, for errors.
pub(crate) struct Reader<'a> {
    pub(crate) bytes: &'a [u8],
    pub(crate) pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn take(&mut self, len: u64, what: &str) -> Result<&'a [u8], RdbError> {
        let available = self.bytes.len() - self.pos;
        match usize::try_from(len) {
            Ok(len) if len <= available => {
                let taken = &self.bytes[self.pos..self.pos + len];
                self.pos += len;
                Ok(taken)
            }
            _ => Err(RdbError::eof(self.pos, what, len, available)),
        }
    }

    pub(crate) fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], RdbError> {
        let mut array = [0; N];
        array.copy_from_slice(self.take(N as u64, what)?);
        Ok(array)
    }

    pub(crate) fn u8(&mut self, what: &str) -> Result<u8, RdbError> {
        Ok(self.array::<1>(what)?[0])
    }

    /// `rdbLoadLenByRef`: the top two bits of the first byte select the form.
    pub(crate) fn length(&mut self, what: &str) -> Result<Length, RdbError> {
        let at = self.pos;
        let first = self.u8(what)?;
        let low = u64::from(first & !LEN_FORM_MASK);
        Ok(match (first & LEN_FORM_MASK, first) {
            (LEN_6BIT, _) => Length::Plain(low),
            (LEN_14BIT, _) => Length::Plain((low << 8) | u64::from(self.u8(what)?)),
            (LEN_ENCODED, _) => Length::Encoded(first & !LEN_FORM_MASK),
            (_, LEN_32BIT) => Length::Plain(u64::from(u32::from_be_bytes(self.array(what)?))),
            (_, LEN_64BIT) => Length::Plain(u64::from_be_bytes(self.array(what)?)),
            _ => {
                let reason = format!("Unknown length encoding {first:#04x} in {what}");
                return Err(RdbError::corrupt(at, reason));
            }
        })
    }

    /// A length where no string can be. Redis would take an encoded form's low 6 bits as the
    /// length; no writer produces that, so it is refused as corrupt.
    pub(crate) fn plain_len(&mut self, what: &str) -> Result<u64, RdbError> {
        let at = self.pos;
        match self.length(what)? {
            Length::Plain(len) => Ok(len),
            Length::Encoded(_) => Err(RdbError::corrupt(
                at,
                format!("Unexpected string encoding in {what}"),
            )),
        }
    }

    /// `rdbGenericLoadStringObject`: raw, INT8/16/32 (little-endian) or LZF.
    pub(crate) fn string(&mut self, what: &str) -> Result<Bytes, RdbError> {
        let at = self.pos;
        let integer = match self.length(what)? {
            Length::Plain(len) => return Ok(Bytes::copy_from_slice(self.take(len, what)?)),
            Length::Encoded(ENC_INT8) => i32::from(i8::from_le_bytes(self.array(what)?)),
            Length::Encoded(ENC_INT16) => i32::from(i16::from_le_bytes(self.array(what)?)),
            Length::Encoded(ENC_INT32) => i32::from_le_bytes(self.array(what)?),
            Length::Encoded(ENC_LZF) => return self.lzf_string(what, at),
            Length::Encoded(other) => {
                let reason = format!("Unknown RDB string encoding type {other} in {what}");
                return Err(RdbError::corrupt(at, reason));
            }
        };
        Ok(Bytes::from(integer.to_string()))
    }

    pub(crate) fn lzf_string(&mut self, what: &str, at: usize) -> Result<Bytes, RdbError> {
        let compressed_len = self.plain_len(what)?;
        let original_len = self.plain_len(what)?;
        let compressed = self.take(compressed_len, what)?;
        let invalid = |detail: String| {
            RdbError::corrupt(
                at,
                format!("Invalid LZF compressed string ({detail}) in {what}"),
            )
        };
        // Original length 0 never comes from a writer (only strings over 20 bytes are
        // compressed), and Redis would run liblzf on it with undefined results: refuse.
        let original_len = match usize::try_from(original_len) {
            Ok(len) if len > 0 => len,
            _ => return Err(invalid(format!("announced length {original_len}"))),
        };
        match lzf::decompress(compressed, original_len) {
            Ok(decompressed) => Ok(Bytes::from(decompressed)),
            Err(error) => Err(invalid(error.to_string())),
        }
    }
}
