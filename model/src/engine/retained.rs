//! The AOF bytes kept until durable: the very buffers handed to the executor's appends,
//! shared (reference-counted), not copied a second time. Part of the AOF log (`aof_log.rs`).
//!
//! Owns the chunks. Invariant: the value is the concatenation of the chunks — equality,
//! hashing and `Debug` see only that byte string, never where one append ended and the next
//! began, so the model checker's states are exactly those of a flat buffer.

use std::collections::VecDeque;
use std::hash::{Hash, Hasher};

use bytes::Bytes;

#[derive(Clone, Default)]
pub(crate) struct Retained {
    chunks: VecDeque<Bytes>,
    len: usize,
}

impl Retained {
    /// Keeps `bytes` at the end (a clone of the append's buffer: no copy).
    pub(crate) fn push(&mut self, bytes: Bytes) {
        if !bytes.is_empty() {
            self.len += bytes.len();
            self.chunks.push_back(bytes);
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn clear(&mut self) {
        self.chunks.clear();
        self.len = 0;
    }

    /// Forgets the first `n` bytes (they became durable).
    pub(crate) fn drop_front(&mut self, mut n: usize) {
        assert!(n <= self.len);
        self.len -= n;
        while n > 0 {
            let Some(front) = self.chunks.front_mut() else {
                break;
            };
            if front.len() <= n {
                n -= front.len();
                self.chunks.pop_front();
            } else {
                // A view of the rest of the chunk: no copy.
                let rest = front.slice(n..);
                *front = rest;
                n = 0;
            }
        }
    }

    /// Removes and returns the bytes from `at` on (a retry requeues them; rare, so a copy).
    pub(crate) fn split_off(&mut self, at: usize) -> Vec<u8> {
        assert!(at <= self.len);
        let mut tail = Vec::with_capacity(self.len - at);
        let mut start = 0;
        let mut kept = VecDeque::new();
        for chunk in self.chunks.drain(..) {
            let end = start + chunk.len();
            if end <= at {
                kept.push_back(chunk);
            } else if start >= at {
                tail.extend_from_slice(&chunk);
            } else {
                kept.push_back(chunk.slice(..at - start));
                tail.extend_from_slice(&chunk[at - start..]);
            }
            start = end;
        }
        self.chunks = kept;
        self.len = at;
        tail
    }

    fn bytes(&self) -> impl Iterator<Item = u8> + '_ {
        self.chunks.iter().flat_map(|c| c.iter().copied())
    }
}

impl PartialEq for Retained {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.bytes().eq(other.bytes())
    }
}

impl Eq for Retained {}

impl Hash for Retained {
    /// Hashes the byte string in fixed windows, so the chunking cannot change the hash.
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_usize(self.len);
        let mut window = [0u8; 64];
        let mut filled = 0;
        for byte in self.bytes() {
            window[filled] = byte;
            filled += 1;
            if filled == window.len() {
                state.write(&window);
                filled = 0;
            }
        }
        state.write(&window[..filled]);
    }
}

impl std::fmt::Debug for Retained {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.bytes()).finish()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::hash_map::DefaultHasher;

    use super::*;

    fn of(chunks: &[&'static [u8]]) -> Retained {
        let mut r = Retained::default();
        for c in chunks {
            r.push(Bytes::from_static(c));
        }
        r
    }

    fn hash(r: &Retained) -> u64 {
        let mut h = DefaultHasher::new();
        r.hash(&mut h);
        h.finish()
    }

    #[test]
    fn chunking_is_invisible() {
        let long: &'static [u8] = &[7u8; 150];
        let (a, b) = (of(&[b"abc", b"de"]), of(&[b"ab", b"", b"cde"]));
        assert_eq!(a, b);
        assert_eq!(hash(&a), hash(&b));
        assert_eq!(format!("{a:?}"), format!("{:?}", b"abcde".to_vec()));
        let (c, d) = (of(&[long, b"x"]), of(&[&long[..70], &long[70..], b"x"]));
        assert_eq!(hash(&c), hash(&d));
        assert_ne!(of(&[b"abc"]), of(&[b"abd"]));
    }

    #[test]
    fn drop_front_and_split_off_keep_the_byte_string() {
        let mut r = of(&[b"abc", b"def", b"gh"]);
        r.drop_front(4);
        assert_eq!(r, of(&[b"efgh"]));
        assert_eq!(r.len(), 4);
        let tail = r.split_off(1);
        assert_eq!(tail, b"fgh".to_vec());
        assert_eq!(r, of(&[b"e"]));
        r.drop_front(1);
        assert_eq!(r.len(), 0);
        assert_eq!(r, Retained::default());
    }
}
