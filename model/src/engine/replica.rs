//! Replication, replica side: the sub-machine that follows a master over one link
//! (`redis-replication-facts.md` §1–§6 from the other end; the engine's decisions that use it
//! are in `replica_cmd.rs`).
//!
//! Owns the master's address, the link's state (connect → handshake → transfer → connected),
//! the link generation, the bytes received and not yet consumed, the full-sync payload being
//! received, and the link operations for the runtime. Invariants:
//! - the runtime only moves bytes: every connect, send and close is a [`LinkOp`] decided here,
//!   and input from any link but the current one is ignored (a late byte from a closed link
//!   never reaches the data set);
//! - the handshake reads exactly one reply per command it sent, in order;
//! - a payload is complete only at exactly its `$<len>` or when it ends with its `$EOF:` mark;
//!   it is held whole and bounded by [`PAYLOAD_BYTES_MAX`] (the RDB loader takes a complete
//!   buffer).

use std::collections::VecDeque;

use bytes::Bytes;

/// Largest full-sync payload accepted (the loader needs it whole in memory).
pub(crate) const PAYLOAD_BYTES_MAX: u64 = 8 << 30;
/// Delay before reconnecting after a failed or broken link (Redis retries from its 1 s cron).
pub(crate) const RETRY_MS: u64 = 1000;
/// The master link's client id: commands from the master run as this client, and the
/// runtime, which has no connection with this id, drops their replies.
pub const MASTER_CLIENT: u64 = u64::MAX;

/// What the runtime does with the master link.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum LinkOp {
    /// Open a non-blocking TCP connection; report `handle_master_connected` or
    /// `handle_master_closed` with this `link`.
    Connect { link: u64, host: String, port: u16 },
    /// Write these bytes on the link, after those sent before.
    Send { link: u64, bytes: Bytes },
    /// Close the link (nothing more is reported for it).
    Close { link: u64 },
}

/// Where the handshake is (`syncWithMaster`'s states, grouped).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Handshake {
    /// PING sent, its reply awaited.
    Pong,
    /// AUTH (if `auth`), REPLCONF listening-port and REPLCONF capa were pipelined: `left`
    /// replies are awaited, the first being AUTH's when `auth`.
    Replies { left: u8, auth: bool },
    /// PSYNC sent: `+FULLRESYNC`, `+CONTINUE` or an error awaited.
    Psync,
}

/// How the payload's end is known.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Framing {
    /// `$<len>`: exactly this many bytes.
    Len(u64),
    /// `$EOF:<mark>`: the payload ends with the 40-byte mark.
    Eof(Vec<u8>),
}

/// A full sync being received.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Transfer {
    pub(crate) replid: String,
    pub(crate) offset: u64,
    /// `None` until the `$` line arrived.
    pub(crate) framing: Option<Framing>,
    pub(crate) payload: Vec<u8>,
}

impl Transfer {
    /// Moves what belongs to the payload from `input`; `true` when the payload is complete.
    pub(crate) fn take(&mut self, input: &mut Vec<u8>) -> bool {
        match &self.framing {
            None => false,
            Some(Framing::Len(len)) => {
                let want = (*len - self.payload.len() as u64).min(input.len() as u64) as usize;
                self.payload.extend_from_slice(&input[..want]);
                input.drain(..want);
                self.payload.len() as u64 == *len
            }
            Some(Framing::Eof(mark)) => {
                // The master sends nothing after the mark until our first ACK.
                self.payload.append(input);
                self.payload.ends_with(mark)
            }
        }
    }

    /// The RDB bytes of a complete payload (without the EOF mark).
    pub(crate) fn rdb(&self) -> &[u8] {
        match &self.framing {
            Some(Framing::Eof(mark)) => &self.payload[..self.payload.len() - mark.len()],
            _ => &self.payload,
        }
    }

    /// `master_sync_total_bytes` (-1 while unknown or for EOF framing, as Redis).
    pub(crate) fn total_bytes(&self) -> i64 {
        match self.framing {
            Some(Framing::Len(len)) => len as i64,
            _ => -1,
        }
    }
}

/// The link's state (Redis's `repl_state`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum LinkState {
    /// Not connected; a connection is attempted at `retry_at_ms`.
    Connect {
        retry_at_ms: u64,
    },
    /// The runtime is connecting.
    Connecting,
    Handshake(Handshake),
    Transfer(Transfer),
    /// The stream is being applied.
    Connected,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Replica {
    /// `REPLICAOF host port`; `None` on a master.
    pub(crate) master: Option<(String, u16)>,
    pub(crate) state: LinkState,
    /// The current link's generation (0: none opened yet).
    pub(crate) link: u64,
    /// Received bytes not yet consumed (handshake lines, the stream) from `input_pos` on.
    pub(crate) input: Vec<u8>,
    /// Stream bytes applied but not yet dropped from `input`: dropped once per batch of
    /// input, not once per command (which would move the rest of the buffer each time).
    pub(crate) input_pos: usize,
    pub(crate) last_io_ms: u64,
    /// When the link last went down (`master_link_down_since_seconds`); `None` if never up.
    pub(crate) down_since_ms: Option<u64>,
    /// The second of the last ACK sent.
    pub(crate) ack_s: u64,
    /// A full sync replaced the data set while a rewrite ran: the AOF must be rewritten.
    pub(crate) rewrite_due: bool,
    /// The master's MULTI is being received: its bytes wait in `tx_bytes` until EXEC.
    pub(crate) in_tx: bool,
    pub(crate) tx_bytes: Vec<u8>,
    /// (log offset, stream offset) after applied stream bytes, oldest first, until the log is
    /// durable up to them (`repl_aof.rs`).
    pub(crate) fack_marks: VecDeque<(u64, u64)>,
    /// The FACK last reported: the stream offset the AOF has fsynced.
    pub(crate) fack: u64,
    /// After a full sync, no FACK moves until `rewrites.count` exceeds this (`u64::MAX` until
    /// the rewrite that logs the loaded data set has started).
    pub(crate) fack_gate: Option<u64>,
    ops: VecDeque<LinkOp>,
}

impl Replica {
    pub(crate) fn new(master: Option<(String, u16)>) -> Replica {
        Replica {
            master,
            state: LinkState::Connect { retry_at_ms: 0 },
            link: 0,
            input: Vec::new(),
            input_pos: 0,
            last_io_ms: 0,
            down_since_ms: None,
            ack_s: 0,
            rewrite_due: false,
            in_tx: false,
            tx_bytes: Vec::new(),
            fack_marks: VecDeque::new(),
            fack: 0,
            fack_gate: None,
            ops: VecDeque::new(),
        }
    }

    pub(crate) fn is_replica(&self) -> bool {
        self.master.is_some()
    }

    pub(crate) fn is_connected(&self) -> bool {
        self.master.is_some() && self.state == LinkState::Connected
    }

    pub(crate) fn pop_op(&mut self) -> Option<LinkOp> {
        self.ops.pop_front()
    }

    pub(crate) fn send(&mut self, bytes: Bytes) {
        let link = self.link;
        self.ops.push_back(LinkOp::Send { link, bytes });
    }

    /// Follows `master` from now on (a new link; the old one, if any, is closed).
    pub(crate) fn set_master(&mut self, master: Option<(String, u16)>, now_ms: u64) {
        self.close_link();
        self.master = master;
        self.state = LinkState::Connect {
            retry_at_ms: now_ms,
        };
    }

    fn close_link(&mut self) {
        if !matches!(self.state, LinkState::Connect { .. }) {
            let link = self.link;
            self.ops.push_back(LinkOp::Close { link });
        }
        self.input.clear();
        self.input_pos = 0;
    }

    /// Drops the bytes applied so far from the input.
    pub(crate) fn compact(&mut self) {
        self.input.drain(..self.input_pos);
        self.input_pos = 0;
    }

    /// Bytes received and not yet applied.
    pub(crate) fn pending(&self) -> &[u8] {
        &self.input[self.input_pos..]
    }

    /// Opens a new link if one is due.
    pub(crate) fn connect_if_due(&mut self, now_ms: u64) {
        let Some((host, port)) = self.master.clone() else {
            return;
        };
        if matches!(self.state, LinkState::Connect { retry_at_ms } if now_ms >= retry_at_ms) {
            self.link += 1;
            self.state = LinkState::Connecting;
            self.last_io_ms = now_ms;
            let link = self.link;
            self.ops.push_back(LinkOp::Connect { link, host, port });
        }
    }

    /// The link failed or broke: close it and retry after [`RETRY_MS`].
    pub(crate) fn link_lost(&mut self, now_ms: u64) {
        if self.state == LinkState::Connected {
            self.down_since_ms = Some(now_ms);
        }
        self.close_link();
        self.state = LinkState::Connect {
            retry_at_ms: now_ms + RETRY_MS,
        };
    }

    /// Takes one `\r\n`- or `\n`-terminated line from the input (without its terminator).
    pub(crate) fn take_line(&mut self) -> Option<Vec<u8>> {
        let end = self.input.iter().position(|&b| b == b'\n')?;
        let mut line: Vec<u8> = self.input.drain(..=end).collect();
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        Some(line)
    }

    /// ROLE's state word (`replstateToString` grouped as ROLE prints it).
    pub(crate) fn role_state(&self) -> &'static str {
        match self.state {
            LinkState::Connect { .. } => "connect",
            LinkState::Connecting => "connecting",
            LinkState::Handshake(_) => "handshake",
            LinkState::Transfer(_) => "sync",
            LinkState::Connected => "connected",
        }
    }
}

/// `+FULLRESYNC <replid> <offset>` → the id and offset.
pub(crate) fn parse_fullresync(line: &[u8]) -> Option<(String, u64)> {
    let text = std::str::from_utf8(line.strip_prefix(b"+FULLRESYNC ")?).ok()?;
    let (id, offset) = text.split_once(' ')?;
    (id.len() == 40).then_some(())?;
    Some((id.to_string(), offset.trim().parse().ok()?))
}

/// `$<len>` or `$EOF:<mark>` → the payload's framing.
pub(crate) fn parse_bulk_header(line: &[u8]) -> Option<Framing> {
    let rest = line.strip_prefix(b"$")?;
    if let Some(mark) = rest.strip_prefix(b"EOF:") {
        return (mark.len() == 40).then(|| Framing::Eof(mark.to_vec()));
    }
    let len: u64 = std::str::from_utf8(rest).ok()?.parse().ok()?;
    Some(Framing::Len(len))
}

/// `REPLCONF ACK <offset> [FACK <aof-offset>]` as a RESP command.
pub(crate) fn ack_command(offset: u64, fack: Option<u64>) -> Bytes {
    let mut argv = vec![
        Bytes::from_static(b"REPLCONF"),
        Bytes::from_static(b"ACK"),
        Bytes::from(offset.to_string()),
    ];
    if let Some(fack) = fack {
        argv.extend([Bytes::from_static(b"FACK"), Bytes::from(fack.to_string())]);
    }
    let mut out = Vec::new();
    crate::aof::record::encode(&argv, &mut out);
    Bytes::from(out)
}

/// Encodes a command the replica sends during the handshake.
pub(crate) fn command(words: &[&str]) -> Vec<u8> {
    let argv: Vec<Bytes> = words
        .iter()
        .map(|w| Bytes::from(w.as_bytes().to_vec()))
        .collect();
    let mut out = Vec::new();
    crate::aof::record::encode(&argv, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Goal: the handshake's replies and the payload header parse as Redis writes them, and
    /// malformed ones are refused.
    #[test]
    fn parses_sync_replies() {
        let id = "a".repeat(40);
        let line = format!("+FULLRESYNC {id} 1234");
        assert_eq!(parse_fullresync(line.as_bytes()), Some((id.clone(), 1234)));
        assert_eq!(parse_fullresync(b"+FULLRESYNC short 1"), None);
        assert_eq!(parse_bulk_header(b"$10"), Some(Framing::Len(10)));
        let eof = format!("$EOF:{id}");
        let mark = id.as_bytes().to_vec();
        assert_eq!(parse_bulk_header(eof.as_bytes()), Some(Framing::Eof(mark)));
        assert_eq!(parse_bulk_header(b"$EOF:short"), None);
        assert_eq!(parse_bulk_header(b"+OK"), None);
    }

    /// Goal: a `$<len>` payload takes exactly its length and leaves the stream that follows;
    /// an EOF payload ends only with its mark, which is not part of the RDB.
    #[test]
    fn payload_framing() {
        let mut t = Transfer {
            replid: String::new(),
            offset: 0,
            framing: Some(Framing::Len(5)),
            payload: Vec::new(),
        };
        let mut input = b"abc".to_vec();
        assert!(!t.take(&mut input));
        input.extend_from_slice(b"de*1\r\n");
        assert!(t.take(&mut input));
        assert_eq!((t.rdb(), input.as_slice()), (&b"abcde"[..], &b"*1\r\n"[..]));
        let mark = vec![b'm'; 40];
        t.framing = Some(Framing::Eof(mark.clone()));
        t.payload.clear();
        let mut input = b"rdb".to_vec();
        assert!(!t.take(&mut input));
        input.extend_from_slice(&mark);
        assert!(t.take(&mut input));
        assert_eq!(t.rdb(), b"rdb");
    }

    /// Goal: a late byte from a closed link is never taken for the current one; a lost link
    /// is closed and retried after a second.
    #[test]
    fn links_are_generations() {
        let mut r = Replica::new(Some(("h".into(), 1)));
        r.connect_if_due(5);
        assert_eq!(r.link, 1);
        assert!(matches!(r.pop_op(), Some(LinkOp::Connect { link: 1, .. })));
        r.link_lost(10);
        assert_eq!(r.pop_op(), Some(LinkOp::Close { link: 1 }));
        r.connect_if_due(11);
        assert_eq!(r.pop_op(), None, "retries only after RETRY_MS");
        r.connect_if_due(10 + RETRY_MS);
        assert!(matches!(r.pop_op(), Some(LinkOp::Connect { link: 2, .. })));
    }
}
