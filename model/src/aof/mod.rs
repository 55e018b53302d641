//! The append-only file: record codec, manifest, and the pure loader.
//!
//! Owns the on-disk AOF format (Redis 7.0 multi-part: base + incr files named by a manifest).
//! Invariant: the loader never guesses — every byte of a file is either part of a whole record,
//! a `#` annotation line, a torn tail of the last file (reported with its offset), or an error
//! naming the file, the offset and the reason.

pub mod base;
pub mod manifest;
pub mod record;
