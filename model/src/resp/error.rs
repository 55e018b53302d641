//! Why a RESP stream cannot go on, and the result type both parsers share.
//!
//! Owns [`ProtocolError`] with Redis's exact error texts, and [`Parsed`]. Invariant: an error
//! here is final for the connection: the caller sends [`ProtocolError::reply`] (if any) after
//! the replies before it, then closes.

use std::fmt;

use super::frame::Frame;

/// A request or reply the stream cannot recover from: the connection must be closed (after
/// sending [`ProtocolError::reply`], if any, as Redis does).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ProtocolError {
    InvalidMultibulkLength,
    InvalidBulkLength,
    /// A multibulk argument did not start with `$`; holds the byte found.
    ExpectedDollar(u8),
    UnbalancedQuotes,
    TooBigInlineRequest,
    TooBigMultibulkCount,
    TooBigBulkCount,
    /// More than `query_buffer_max` bytes pending: Redis closes such a client without a reply.
    QueryBufferLimit,
    /// A reply that is not well-formed RESP2 ([`parse_frame`](super::parse_frame) only).
    InvalidFrame {
        offset: u64,
        reason: &'static str,
    },
}

impl ProtocolError {
    /// The error reply Redis sends before closing, if any.
    pub fn reply(&self) -> Option<Frame> {
        match self {
            ProtocolError::QueryBufferLimit | ProtocolError::InvalidFrame { .. } => None,
            _ => Some(Frame::Error(format!("ERR {self}"))),
        }
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtocolError::InvalidMultibulkLength => {
                f.write_str("Protocol error: invalid multibulk length")
            }
            ProtocolError::InvalidBulkLength => f.write_str("Protocol error: invalid bulk length"),
            ProtocolError::ExpectedDollar(b) => {
                // Redis maps CR and LF in error texts to spaces so the reply stays one line.
                let c = if matches!(b, b'\r' | b'\n') {
                    ' '
                } else {
                    char::from(*b)
                };
                write!(f, "Protocol error: expected '$', got '{c}'")
            }
            ProtocolError::UnbalancedQuotes => {
                f.write_str("Protocol error: unbalanced quotes in request")
            }
            ProtocolError::TooBigInlineRequest => {
                f.write_str("Protocol error: too big inline request")
            }
            ProtocolError::TooBigMultibulkCount => {
                f.write_str("Protocol error: too big mbulk count string")
            }
            ProtocolError::TooBigBulkCount => {
                f.write_str("Protocol error: too big bulk count string")
            }
            ProtocolError::QueryBufferLimit => {
                f.write_str("closing client that reached max query buffer length")
            }
            ProtocolError::InvalidFrame { offset, reason } => {
                write!(f, "Protocol error: {reason} at byte {offset}")
            }
        }
    }
}

impl std::error::Error for ProtocolError {}

/// A parse result: `None` when more bytes are needed, else the value and the bytes it used.
pub type Parsed<T> = Result<Option<(T, usize)>, ProtocolError>;
