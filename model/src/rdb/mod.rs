//! RDB snapshots: the Redis 7.0 file format (`REDIS0010`), both directions.
//!
//! Owns the byte format of `dump.rdb` and of RDB-preamble AOF bases. [`encode`] streams a
//! [`Keyspace`](crate::keyspace::Keyspace) to any `io::Write` with a running CRC-64, so a
//! multi-gigabyte snapshot never sits in memory; [`decode`] loads a complete file into a
//! keyspace and reports exactly where and why it stopped if it cannot.
//!
//! Invariants: `decode(encode(ks))` reproduces `ks` (with `drop_expired: false`); every file
//! [`encode`] writes is loaded by Redis 7.0 and accepted by `redis-check-rdb`; [`decode`]
//! never panics, and on any input it cannot load it returns an [`RdbError`] naming the byte
//! offset, whether the input merely ended early (`incomplete`), and the reason.
//!
//! Layout: `format` (byte layout and constants), `checksum` (CRC-64/Redis), `lzf`
//! (liblzf-compatible compression), `encode`, `decode`, `payload` (DUMP/RESTORE's one value).

mod checksum;
mod decode;
mod encode;
mod feed;
#[cfg(test)]
mod feed_tests;
pub mod format;
mod listpack;
pub mod lzf;
pub mod payload;
mod reader;
mod sink;
mod stream;
#[cfg(test)]
mod tests;
mod value_read;
#[cfg(test)]
mod value_tests;
mod value_write;
mod ziplist;

pub use checksum::{crc64_redis, Crc64};
pub use decode::{decode, LoadOptions, Loaded};
pub use encode::{encode, encode_with_repl, SaveInfo};
pub use feed::{Progress, StreamDecoder};
pub use format::RDB_VERSION;
pub use reader::RdbError;
