//! The sizes a peer may send: Redis's protocol limits and their defaults.
//!
//! Owns the constants and [`Limits`], the per-server configuration of them. Invariant: the
//! defaults are Redis 7.0's, so a request Redis accepts is accepted here and one it refuses is
//! refused with the same error.

/// Redis's `proto-max-bulk-len` default: 512 MB.
pub const BULK_LEN_MAX: u64 = 512 * 1024 * 1024;
/// Largest multibulk count accepted.
pub const MULTIBULK_LEN_MAX: u64 = 1024 * 1024 * 1024;
/// Redis's `PROTO_INLINE_MAX_SIZE`: an inline line, or a `*`/`$` count line, without its CRLF.
pub const INLINE_LEN_MAX: u64 = 64 * 1024;
/// Redis's `client-query-buffer-limit` default: 1 GB.
pub const QUERY_BUFFER_MAX: u64 = 1024 * 1024 * 1024;
/// Deepest array nesting [`parse_frame`](super::parse_frame) accepts (replies of the commands here nest 2 deep).
pub const FRAME_DEPTH_MAX: usize = 32;

/// Request limits, as Redis's configuration sets them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Limits {
    /// `proto-max-bulk-len`.
    pub bulk_len_max: u64,
    pub multibulk_len_max: u64,
    pub inline_len_max: u64,
    /// `client-query-buffer-limit`: unparsed bytes a client may have pending.
    pub query_buffer_max: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            bulk_len_max: BULK_LEN_MAX,
            multibulk_len_max: MULTIBULK_LEN_MAX,
            inline_len_max: INLINE_LEN_MAX,
            query_buffer_max: QUERY_BUFFER_MAX,
        }
    }
}
