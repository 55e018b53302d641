//! The collection types — list, hash, set, sorted set, stream — each in its own file with its compact
//! and large forms, and the [`Limits`] that decide between them.
//!
//! Owns value representations only: commands live in `command/`, file formats in `rdb/` and
//! `aof/base.rs`. Invariant (every type): a clone is O(1), and a write to a value shared with
//! a point-in-time view (BGSAVE, BGREWRITEAOF) copies at most a compact form (bounded by its
//! limit) or one O(log n) path of a persistent structure — never the whole value.

pub mod field_table;
pub mod float;
pub mod hash;
pub mod int;
pub mod limits;
pub mod list;
pub mod ranked;
pub mod set;
pub mod stream;
pub mod zset;

pub use hash::HashValue;
pub use limits::Limits;
pub use list::ListValue;
pub use set::SetValue;
pub use stream::{StreamId, StreamValue};
pub use zset::{Score, ZSetValue};
