//! DUMP/RESTORE payloads (and FUNCTION DUMP/RESTORE's: libraries after FUNCTION2 opcodes):
//! one value in RDB encoding, then the RDB version (2 bytes,
//! little-endian) and a CRC-64/Redis of everything before it (8 bytes, little-endian), as
//! Redis 7.0's `createDumpPayload` writes and `verifyDumpPayload` checks.
//!
//! Owns the footer. Invariant: [`restore`] accepts exactly the payloads whose version is at
//! most ours and whose checksum matches, and whose body is one whole value; anything else is an
//! error, never a panic, so a client cannot make the server load bytes it did not check.

use super::checksum::crc64_redis;
use bytes::Bytes;

use super::decode::{decode_functions, decode_value};
use super::encode::encode_value;
use super::format::{OPCODE_FUNCTION2, RDB_VERSION};
use crate::keyspace::Value;
use crate::types::Limits;

/// Version and checksum.
const FOOTER_LEN: usize = 2 + 8;

/// Why a payload was refused, in the words of Redis's replies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PayloadError {
    /// Too short, a newer version, or a checksum mismatch.
    VersionOrChecksum,
    /// The body is not one value durakv can load.
    BadFormat,
}

/// The DUMP payload of `value` (list nodes filled under `limits`).
pub fn dump(value: &Value, limits: &Limits) -> Vec<u8> {
    let mut out = Vec::new();
    encode_value(value, limits, &mut out);
    footer(out)
}

/// FUNCTION DUMP's payload: each library's code after a `FUNCTION2` opcode (Redis's
/// `rdbSaveFunctions`), then the same footer as DUMP.
pub fn dump_functions<'a>(codes: impl Iterator<Item = &'a Bytes>) -> Vec<u8> {
    let mut out = Vec::new();
    for code in codes {
        let at = out.len();
        // A string value is its type byte (0) then the string: swap the byte for the opcode.
        encode_value(&Value::Str(code.clone()), &Limits::default(), &mut out);
        out[at] = OPCODE_FUNCTION2;
    }
    footer(out)
}

/// The library codes of a FUNCTION RESTORE payload; `Err` is Redis's reply text.
pub fn restore_functions(payload: &[u8]) -> Result<Vec<Bytes>, String> {
    let body = checked_body(payload)
        .map_err(|_| "ERR DUMP payload version or checksum are wrong".to_string())?;
    decode_functions(body).map_err(|e| format!("ERR {e}"))
}

fn footer(mut out: Vec<u8>) -> Vec<u8> {
    let version = u16::try_from(RDB_VERSION).expect("RDB version fits two bytes");
    out.extend_from_slice(&version.to_le_bytes());
    let crc = crc64_redis(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// The value of a RESTORE payload, encoded under `limits` as Redis's loader would.
pub fn restore(payload: &[u8], limits: &Limits) -> Result<Value, PayloadError> {
    decode_value(checked_body(payload)?, limits).map_err(|_| PayloadError::BadFormat)
}

/// The body of a payload whose version is at most ours and whose checksum matches.
fn checked_body(payload: &[u8]) -> Result<&[u8], PayloadError> {
    if payload.len() < FOOTER_LEN {
        return Err(PayloadError::VersionOrChecksum);
    }
    let (body_and_version, crc) = payload.split_at(payload.len() - 8);
    let version_at = body_and_version.len() - 2;
    let version = u16::from_le_bytes([
        body_and_version[version_at],
        body_and_version[version_at + 1],
    ]);
    let crc = u64::from_le_bytes(crc.try_into().expect("8 bytes"));
    if u32::from(version) > RDB_VERSION || crc64_redis(body_and_version) != crc {
        return Err(PayloadError::VersionOrChecksum);
    }
    Ok(&body_and_version[..version_at])
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    fn string(s: &[u8]) -> Value {
        Value::Str(Bytes::copy_from_slice(s))
    }

    /// Goal: byte for byte what Redis 7.0.15 answers to DUMP after `SET k hello`, `SET n 12345`
    /// and `SET l <52 × a>` (raw, INT16 and LZF string encodings).
    #[test]
    fn dump_matches_redis_bytes() {
        let cases: [(&[u8], &[u8]); 3] = [
            (b"hello", b"\x00\x05hello\x0a\x00\x63\x72\xdf\x76\x65\x34\x20\x0a"),
            (b"12345", b"\x00\xc1\x39\x30\x0a\x00\x9d\x94\xea\x27\x93\xfc\x08\xb9"),
            (
                &[b'a'; 52],
                b"\x00\xc3\x09\x34\x01\x61\x61\xe0\x27\x00\x01\x61\x61\x0a\x00\x63\xdd\x29\xd3\x4c\x1a\x24\x6e",
            ),
        ];
        for (value, redis) in cases {
            assert_eq!(dump(&string(value), &Limits::default()), redis, "{value:?}");
        }
    }

    #[test]
    fn restore_round_trips_and_checks_the_footer() {
        for v in [
            &b""[..],
            b"123",
            b"-7",
            &[b'x'; 300][..],
            b"\x00\xff binary",
        ] {
            assert_eq!(
                restore(&dump(&string(v), &Limits::default()), &Limits::default()),
                Ok(string(v))
            );
        }
        let mut payload = dump(&string(b"hello"), &Limits::default());
        let last = payload.len() - 1;
        payload[last] ^= 1;
        assert_eq!(
            restore(&payload, &Limits::default()),
            Err(PayloadError::VersionOrChecksum)
        );
        assert_eq!(
            restore(b"short", &Limits::default()),
            Err(PayloadError::VersionOrChecksum)
        );
        let mut newer = dump(&string(b"x"), &Limits::default());
        let at = newer.len() - 10;
        newer[at] = 11;
        assert_eq!(
            restore(&newer, &Limits::default()),
            Err(PayloadError::VersionOrChecksum)
        );
    }

    #[test]
    fn a_body_that_is_not_one_value_is_bad_format() {
        let mut body = vec![0u8, 1, b'a', b'!'];
        body.extend_from_slice(&10u16.to_le_bytes());
        let crc = crc64_redis(&body);
        body.extend_from_slice(&crc.to_le_bytes());
        assert_eq!(
            restore(&body, &Limits::default()),
            Err(PayloadError::BadFormat)
        );
    }
}
