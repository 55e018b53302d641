//! The append-only file's formats: record codec, manifest, RESP-format base.
//!
//! Owns the on-disk AOF format (Redis 7.0 multi-part: base + incr files named by a manifest).
//! The pure loader that replays these files at start is `engine/aof_load.rs`: it reads through
//! effects and replays through the command layer, so it lives in the engine. Invariant (the
//! decoders here, the loader there): the loader never guesses — every byte of a file is either
//! part of a whole record, a `#` annotation line, a torn tail of the last file (reported with its
//! offset), or an error naming the file, the offset and the reason.

pub mod base;
pub mod checksum;
pub mod manifest;
pub mod record;
pub(crate) mod stream_rewrite;

use self::record::Decoded;

/// Whether `rest` is the start of a record cut short, followed only by zeros (what a power
/// loss leaves when the file size reached the disk before the data did).
pub fn zero_filled_tail(rest: &[u8]) -> bool {
    let zeros = rest.iter().rev().take_while(|&&b| b == 0).count();
    zeros > 0 && record::decode(&rest[..rest.len() - zeros]) == Decoded::Incomplete
}

/// Whether a file whose first bytes are `buf` (all of it if `eof`) starts with an RDB
/// preamble rather than records.
pub fn rdb_preamble(buf: &[u8], eof: bool) -> bool {
    buf.starts_with(b"REDIS") || eof && !buf.is_empty() && b"REDIS".starts_with(buf)
}

/// Whether an AOF file no manifest names would add anything to the data set.
pub fn holds_data(bytes: &[u8]) -> bool {
    if bytes.starts_with(b"REDIS") {
        let mut scratch = crate::keyspace::Keyspace::default();
        let opts = crate::rdb::LoadOptions {
            now_ms: 0,
            drop_expired: false,
        };
        // An unreadable RDB is treated as data: never discard what cannot be understood.
        return crate::rdb::decode(bytes, &mut scratch, &opts)
            .map_or(true, |l| l.keys_loaded > 0 || !l.functions.is_empty());
    }
    !matches!(record::decode(bytes), Decoded::Incomplete) || bytes.iter().any(|&b| b != 0)
}
