//! RESP2 and RESP3: the client protocol and the AOF record format.
//!
//! Owns encoding and (incremental, bounded) parsing of frames, one file per concern, each a
//! leaf or importing only its siblings (this file holds no items, only the public names):
//! - `frame`: the [`Frame`] type and encoding (replies, and commands as the AOF writes them);
//! - `request`: [`parse_command`] reads requests as Redis's `processInputBuffer` does: RESP
//!   multibulk (`*N\r\n$len\r\n...`) or an inline line split like `sdssplitargs`
//!   ([`split_args`]), with Redis's limits (`limits`) and exact error texts (`error`);
//! - `reply`: [`parse_frame`] reads replies strictly (every CRLF checked), with a
//!   nesting-depth cap;
//! - `integer`: [`parse_integer`], Redis's `string2ll`, for the wire and command arguments.
//!
//! Invariant: both parsers are pure functions of the bytes given. `Ok(None)` means "need more
//! bytes" and consumes nothing; nothing is allocated in proportion to a length the peer
//! *claims*, only to bytes that have arrived; no input panics.

mod error;
mod frame;
mod integer;
mod limits;
mod reply;
mod request;
#[cfg(test)]
mod tests;

pub use crate::sds_args::split_args;
pub use error::{Parsed, ProtocolError};
pub use frame::{encode_command, Frame, Protocol};
pub use integer::parse_integer;
pub use limits::{
    Limits, BULK_LEN_MAX, FRAME_DEPTH_MAX, INLINE_LEN_MAX, MULTIBULK_LEN_MAX, QUERY_BUFFER_MAX,
};
pub use reply::parse_frame;
pub use request::parse_command;
