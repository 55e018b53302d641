//! The replication backlog: the last `repl-backlog-size` bytes of the replication stream, which
//! serve `+CONTINUE` partial resynchronisations (`redis-replication-facts.md` §6).
//!
//! Owns the ring and its window. Invariants: byte N of the stream has offset N (the first
//! byte ever fed has offset `first` of an empty backlog, i.e. `master_repl_offset + 1` when it
//! was created); the window is `[first, first + len)` with `len ≤ size`; a range is served only
//! if it starts inside the window or exactly one past its end (nothing owed), never from bytes
//! the ring dropped.

use std::collections::VecDeque;

use bytes::Bytes;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Backlog {
    ring: VecDeque<u8>,
    size: u64,
    /// Offset of `ring[0]`.
    first: u64,
}

impl Backlog {
    /// An empty backlog whose first byte will have offset `end + 1`.
    pub(crate) fn new(size: u64, end: u64) -> Backlog {
        Backlog {
            ring: VecDeque::new(),
            size,
            first: end + 1,
        }
    }

    /// Appends stream bytes, dropping the oldest beyond the size.
    pub(crate) fn feed(&mut self, bytes: &[u8]) {
        self.ring.extend(bytes);
        self.trim();
    }

    /// CONFIG SET repl-backlog-size.
    pub(crate) fn resize(&mut self, size: u64) {
        self.size = size;
        self.trim();
    }

    fn trim(&mut self) {
        let excess = (self.ring.len() as u64).saturating_sub(self.size);
        if excess > 0 {
            self.ring.drain(..excess as usize);
            self.first += excess;
        }
    }

    /// The bytes from offset `from` to the end, if the window still holds them all (`from` is
    /// the first byte a replica wants: `end + 1` is valid and owes nothing).
    pub(crate) fn bytes_from(&self, from: u64) -> Option<Bytes> {
        let end = self.first + self.ring.len() as u64;
        if from < self.first || from > end {
            return None;
        }
        let skip = (from - self.first) as usize;
        let (a, b) = self.ring.as_slices();
        let mut out = Vec::with_capacity(self.ring.len() - skip);
        if skip < a.len() {
            out.extend_from_slice(&a[skip..]);
            out.extend_from_slice(b);
        } else {
            out.extend_from_slice(&b[skip - a.len()..]);
        }
        Some(Bytes::from(out))
    }

    /// INFO `repl_backlog_first_byte_offset`.
    pub(crate) fn first(&self) -> u64 {
        self.first
    }

    /// INFO `repl_backlog_histlen`.
    pub(crate) fn len(&self) -> u64 {
        self.ring.len() as u64
    }

    /// INFO `repl_backlog_size`.
    pub(crate) fn size(&self) -> u64 {
        self.size
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Goal: the window's boundaries as Redis serves them — the first held byte and one past
    /// the end are accepted, one before and two past are refused — also after wrapping.
    #[test]
    fn window_boundaries() {
        let mut b = Backlog::new(16, 100);
        assert_eq!(b.first(), 101);
        assert_eq!(b.bytes_from(101).as_deref(), Some(&b""[..]));
        assert_eq!(b.bytes_from(102), None);
        b.feed(b"0123456789");
        assert_eq!(b.bytes_from(101).as_deref(), Some(&b"0123456789"[..]));
        assert_eq!(b.bytes_from(111).as_deref(), Some(&b""[..]));
        assert_eq!(b.bytes_from(112), None);
        assert_eq!(b.bytes_from(100), None);
        b.feed(b"abcdefghij");
        // 20 bytes fed into 16: the first four are gone.
        assert_eq!((b.first(), b.len()), (105, 16));
        assert_eq!(b.bytes_from(104), None);
        assert_eq!(b.bytes_from(105).as_deref(), Some(&b"456789abcdefghij"[..]));
        assert_eq!(b.bytes_from(118).as_deref(), Some(&b"hij"[..]));
        assert_eq!(b.bytes_from(121).as_deref(), Some(&b""[..]));
        assert_eq!(b.bytes_from(122), None);
        b.resize(4);
        assert_eq!(b.bytes_from(117), Some(Bytes::from_static(b"ghij")));
        assert_eq!(b.bytes_from(116), None);
    }
}
