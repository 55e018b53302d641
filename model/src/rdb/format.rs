//! The RDB byte layout as Redis 7.0 writes it (`RDB_VERSION` 10), as named constants.
//!
//! Owns every magic number of the format; the encoder and decoder use only these names.
//! Invariant: nothing here lets durakv write a version above 10, a type id above 19 or an
//! opcode outside 245..=255, which is all a Redis 7.0 peer accepts.
//!
//! ```text
//! offset  size  field
//! 0       5     "REDIS"
//! 5       4     version, 4 ASCII digits ("0010")
//! 9       ...   AUX fields:   0xFA <string key> <string value>
//!               per non-empty database:
//!                 0xFE <len db index>                  SELECTDB
//!                 0xFB <len keys> <len keys with TTL>  RESIZEDB
//!                 per key:
//!                   [0xFC <8 bytes LE i64 unix ms>]    EXPIRETIME_MS (prefix, this key only)
//!                   <type byte> <string key> <value>
//!               0xFF                                   EOF
//! end-8   8     CRC-64/Redis of bytes 0..=EOF, little-endian; 0 = not computed (version >= 5)
//!
//! len:    00xxxxxx                 6-bit length
//!         01xxxxxx yyyyyyyy        14-bit length, BIG-endian
//!         0x80 + 4 bytes           32-bit length, BIG-endian
//!         0x81 + 8 bytes           64-bit length, BIG-endian
//!         11xxxxxx                 special string encoding xxxxxx (only where a string goes)
//! string: <len> <bytes>
//!         0xC0 i8 | 0xC1 i16 LE | 0xC2 i32 LE   decimal integer, canonical form
//!         0xC3 <len compressed> <len original> <LZF bytes>
//! ```
//!
//! The endianness is mixed, for historical reasons: lengths are big-endian, every other
//! fixed-width integer (INT encodings, expiry, checksum) is little-endian.

/// The RDB version durakv writes: Redis 7.0's. 7.0 refuses 11 and above.
pub const RDB_VERSION: u32 = 10;
/// The oldest version the decoder reads (Redis reads 1..=RDB_VERSION).
pub const RDB_VERSION_MIN: u32 = 1;
/// Versions from this one on carry the CRC-64 trailer.
pub const RDB_VERSION_CHECKSUM_MIN: u32 = 5;

/// File signature.
pub const MAGIC: &[u8; 5] = b"REDIS";
/// Signature plus the 4 version digits.
pub const HEADER_LEN: u64 = 9;
/// The CRC-64 trailer after the EOF opcode.
pub const CHECKSUM_LEN: u64 = 8;
const _: () = assert!(HEADER_LEN == MAGIC.len() as u64 + 4);

/// The `redis-ver` AUX value: the Redis release whose files durakv's files match.
pub const AUX_REDIS_VER: &str = "7.0.15";

// Opcodes (`src/rdb.h`). Any other byte at an opcode position is a value type id.
/// Function library source (Redis 7.0 FUNCTION LOAD).
pub const OPCODE_FUNCTION2: u8 = 0xF5;
/// Function library, Redis 7.0 release-candidate form.
pub const OPCODE_FUNCTION_PRE_GA: u8 = 0xF6;
/// Module auxiliary data.
pub const OPCODE_MODULE_AUX: u8 = 0xF7;
/// LRU idle time of the next key, in seconds (a length).
pub const OPCODE_IDLE: u8 = 0xF8;
/// LFU counter of the next key (one raw byte).
pub const OPCODE_FREQ: u8 = 0xF9;
/// Auxiliary field: a string key and a string value.
pub const OPCODE_AUX: u8 = 0xFA;
/// Hash table size hints for the current database: two lengths.
pub const OPCODE_RESIZEDB: u8 = 0xFB;
/// Expiry of the next key: 8-byte little-endian signed unix milliseconds.
pub const OPCODE_EXPIRETIME_MS: u8 = 0xFC;
/// Legacy expiry of the next key: 4-byte little-endian signed unix seconds.
pub const OPCODE_EXPIRETIME: u8 = 0xFD;
/// Switch database: a length.
pub const OPCODE_SELECTDB: u8 = 0xFE;
/// End of the data; the checksum follows.
pub const OPCODE_EOF: u8 = 0xFF;

// Value type ids (`src/rdb.h`).
/// A plain string.
pub const TYPE_STRING: u8 = 0;
/// A list of plain strings (read only).
pub const TYPE_LIST: u8 = 1;
/// A hashtable set: length, members.
pub const TYPE_SET: u8 = 2;
/// A sorted set with string scores (read only).
pub const TYPE_ZSET: u8 = 3;
/// A hashtable hash: length, field/value pairs.
pub const TYPE_HASH: u8 = 4;
/// A skiplist sorted set: length, member + 8-byte LE double, highest score first.
pub const TYPE_ZSET_2: u8 = 5;
/// A Redis ≤ 2.4 zipmap hash (read only).
pub const TYPE_HASH_ZIPMAP: u8 = 9;
/// A ziplist list (read only).
pub const TYPE_LIST_ZIPLIST: u8 = 10;
/// An intset set.
pub const TYPE_SET_INTSET: u8 = 11;
/// A ziplist sorted set (read only).
pub const TYPE_ZSET_ZIPLIST: u8 = 12;
/// A ziplist hash (read only).
pub const TYPE_HASH_ZIPLIST: u8 = 13;
/// A quicklist of ziplist nodes (read only).
pub const TYPE_LIST_QUICKLIST: u8 = 14;
/// A listpack hash.
pub const TYPE_HASH_LISTPACK: u8 = 16;
/// A listpack sorted set.
pub const TYPE_ZSET_LISTPACK: u8 = 17;
/// A quicklist of listpack (or plain) nodes: every list Redis 7.0 writes.
pub const TYPE_LIST_QUICKLIST_2: u8 = 18;

// Length forms (first byte).
/// Top two bits of the first length byte select the form.
pub const LEN_FORM_MASK: u8 = 0xC0;
/// `00xxxxxx`: 6-bit length.
pub const LEN_6BIT: u8 = 0x00;
/// `01xxxxxx yyyyyyyy`: 14-bit big-endian length.
pub const LEN_14BIT: u8 = 0x40;
/// `0x80` + 4 bytes big-endian.
pub const LEN_32BIT: u8 = 0x80;
/// `0x81` + 8 bytes big-endian.
pub const LEN_64BIT: u8 = 0x81;
/// `11xxxxxx`: a special string encoding, `xxxxxx` is one of the `ENC_*` ids.
pub const LEN_ENCODED: u8 = 0xC0;

// Special string encodings (the low 6 bits after `LEN_ENCODED`).
/// 1-byte signed integer.
pub const ENC_INT8: u8 = 0;
/// 2-byte little-endian signed integer.
pub const ENC_INT16: u8 = 1;
/// 4-byte little-endian signed integer.
pub const ENC_INT32: u8 = 2;
/// LZF-compressed string.
pub const ENC_LZF: u8 = 3;

/// Strings no longer than this are candidates for INT encoding (`rdbTryIntegerEncoding`).
pub const INT_ENCODING_LEN_MAX: usize = 11;
/// Strings longer than this are candidates for LZF when compression is on.
pub const LZF_LEN_MIN_EXCLUSIVE: usize = 20;
/// LZF output is kept only if it saves at least this many bytes.
pub const LZF_SAVING_MIN: usize = 4;

/// The Redis name of a value type id that Redis 7.0 can load (`rdbIsObjectType`: 0..=7 and
/// 9..=19), or `None` for ids 7.0 calls "Unknown RDB encoding type".
pub fn type_name(type_id: u8) -> Option<&'static str> {
    Some(match type_id {
        0 => "string",
        1 => "list",
        2 => "set",
        3 => "zset",
        4 => "hash",
        5 => "zset_2",
        6 => "module",
        7 => "module_2",
        9 => "hash_zipmap",
        10 => "list_ziplist",
        11 => "set_intset",
        12 => "zset_ziplist",
        13 => "hash_ziplist",
        14 => "list_quicklist",
        15 => "stream_listpacks",
        16 => "hash_listpack",
        17 => "zset_listpack",
        18 => "list_quicklist_2",
        19 => "stream_listpacks_2",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Goal: the type table matches 7.0's `rdbIsObjectType` (0..=7, 9..=19) and no opcode is
    /// mistaken for a value type.
    #[test]
    fn type_ids_match_redis_7_0() {
        for id in 0..=u8::MAX {
            let known = matches!(id, 0..=7 | 9..=19);
            assert_eq!(type_name(id).is_some(), known, "type id {id}");
        }
        assert!(type_name(OPCODE_FUNCTION2).is_none());
        assert!(
            type_name(0xF4).is_none(),
            "SLOT_INFO (7.4+) is unknown to 7.0"
        );
    }
}
