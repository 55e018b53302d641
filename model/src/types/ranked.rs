//! A persistent sorted sequence with positions: the large sorted set's (score, member) order.
//!
//! Chunks of at most `CHUNK_MAX` items, each an `Arc<Vec>`, in an `imbl::Vector`. Finding an
//! item or a boundary is a binary search over the chunks' last items, then inside one chunk;
//! an insert or remove copies one chunk (when shared) and one path of the chunk vector, and
//! touches the chunk vector's shape only when a chunk splits or empties (once per
//! `CHUNK_MAX / 2` inserts at most), where `imbl::Vector`'s middle insert is slow.
//! A position costs a walk over the chunk lengths before it: O(n / CHUNK_MAX) additions, a few
//! thousand for a million items, against O(n) item steps for an ordered set.
//!
//! Invariants: items are strictly ascending across and within chunks; no chunk is empty;
//! `len` is the total; equality and hashing see only the item sequence, never the chunking,
//! so the same set built two ways compares equal; cloning is O(1).

use std::sync::Arc;

use imbl::Vector;

/// Items per chunk, at most; a chunk splits in two halves past it.
const CHUNK_MAX: usize = 256;

#[derive(Clone, Debug)]
pub struct Ranked<T: Clone> {
    chunks: Vector<Arc<Vec<T>>>,
    len: usize,
}

impl<T: Clone> Default for Ranked<T> {
    fn default() -> Self {
        Ranked {
            chunks: Vector::new(),
            len: 0,
        }
    }
}

impl<T: Clone + Ord> Ranked<T> {
    /// From items already sorted ascending without repeats.
    pub fn from_sorted(items: Vec<T>) -> Self {
        let len = items.len();
        let chunks = items
            .chunks(CHUNK_MAX / 2)
            .map(|c| Arc::new(c.to_vec()))
            .collect();
        Ranked { chunks, len }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The items before chunk `c`.
    fn before_chunk(&self, c: usize) -> usize {
        self.chunks.iter().take(c).map(|chunk| chunk.len()).sum()
    }

    /// The first position whose item `before` rejects (`before` holds for a prefix).
    pub fn partition(&self, before: impl Fn(&T) -> bool) -> usize {
        let c = self.first_chunk(&before);
        match self.chunks.get(c) {
            None => self.len,
            Some(chunk) => self.before_chunk(c) + chunk.partition_point(|t| before(t)),
        }
    }

    /// The first chunk whose last item `before` rejects (the chunk count if none).
    fn first_chunk(&self, before: &impl Fn(&T) -> bool) -> usize {
        let found = self.chunks.binary_search_by(|chunk| {
            if before(chunk.last().expect("no chunk is empty")) {
                std::cmp::Ordering::Less
            } else {
                std::cmp::Ordering::Greater
            }
        });
        found.unwrap_or_else(|at| at)
    }

    /// Where `item` is (`Ok`) or would go (`Err`).
    pub fn position(&self, item: &T) -> Result<usize, usize> {
        let c = self.first_chunk(&|t: &T| t < item);
        let Some(chunk) = self.chunks.get(c) else {
            return Err(self.len);
        };
        let base = self.before_chunk(c);
        chunk
            .binary_search(item)
            .map(|i| base + i)
            .map_err(|i| base + i)
    }

    /// Inserts `item`; false if it was there.
    pub fn insert(&mut self, item: T) -> bool {
        let c = self.first_chunk(&|t: &T| t < &item);
        let c = c.min(self.chunks.len().saturating_sub(1));
        if self.chunks.is_empty() {
            self.chunks.push_back(Arc::new(vec![item]));
            self.len = 1;
            return true;
        }
        let chunk = Arc::make_mut(&mut self.chunks[c]);
        let Err(at) = chunk.binary_search(&item) else {
            return false;
        };
        chunk.insert(at, item);
        self.len += 1;
        if chunk.len() > CHUNK_MAX {
            let upper = chunk.split_off(chunk.len() / 2);
            self.chunks.insert(c + 1, Arc::new(upper));
        }
        true
    }

    /// Removes `item`; false if it was not there.
    pub fn remove(&mut self, item: &T) -> bool {
        let c = self.first_chunk(&|t: &T| t < item);
        let Some(Ok(at)) = self.chunks.get(c).map(|chunk| chunk.binary_search(item)) else {
            return false;
        };
        let chunk = Arc::make_mut(&mut self.chunks[c]);
        chunk.remove(at);
        self.len -= 1;
        if chunk.is_empty() {
            self.chunks.remove(c);
        }
        true
    }

    /// The item at position `i`.
    pub fn get(&self, mut i: usize) -> Option<&T> {
        for chunk in self.chunks.iter() {
            if i < chunk.len() {
                return chunk.get(i);
            }
            i -= chunk.len();
        }
        None
    }

    /// Every item, ascending (double-ended).
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &T> + '_ {
        self.chunks.iter().flat_map(|chunk| chunk.iter())
    }

    /// The items at positions `lo..hi` (double-ended), found without walking the items before.
    pub fn window(&self, lo: usize, hi: usize) -> impl DoubleEndedIterator<Item = &T> + '_ {
        let hi = hi.min(self.len);
        let (mut first, mut offset_lo, mut seen) = (0, 0, 0);
        let mut last = (0, 0);
        if lo < hi {
            for (c, chunk) in self.chunks.iter().enumerate() {
                let end = seen + chunk.len();
                if lo >= seen && lo < end {
                    (first, offset_lo) = (c, lo - seen);
                }
                if hi > seen && hi <= end {
                    last = (c, hi - seen);
                    break;
                }
                seen = end;
            }
        }
        let chunks = if lo < hi {
            self.chunks.focus().narrow(first..=last.0).into_iter()
        } else {
            self.chunks.focus().narrow(0..0).into_iter()
        };
        let count = last.0.saturating_sub(first);
        chunks.enumerate().flat_map(move |(j, chunk)| {
            let start = if j == 0 { offset_lo } else { 0 };
            let end = if j == count { last.1 } else { chunk.len() };
            chunk[start..end].iter()
        })
    }
}

impl<T: Clone + Ord> PartialEq for Ranked<T> {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

impl<T: Clone + Ord> Eq for Ranked<T> {}

impl<T: Clone + Ord + std::hash::Hash> std::hash::Hash for Ranked<T> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.len.hash(state);
        for t in self.iter() {
            t.hash(state);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_windows_and_equality_against_a_sorted_vec() {
        let mut r: Ranked<u32> = Ranked::default();
        let mut model: Vec<u32> = Vec::new();
        let mut x: u32 = 7;
        for step in 0..5000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let v = x % 3000;
            if step % 3 == 2 {
                let was = model.binary_search(&v).is_ok();
                model.retain(|m| *m != v);
                assert_eq!(r.remove(&v), was);
            } else {
                let new = model.binary_search(&v).is_err();
                if new {
                    let at = model.partition_point(|m| *m < v);
                    model.insert(at, v);
                }
                assert_eq!(r.insert(v), new);
            }
            assert_eq!(r.len(), model.len());
        }
        assert!(r.iter().eq(model.iter()));
        assert!(r.iter().rev().eq(model.iter().rev()));
        for (i, v) in model.iter().enumerate().step_by(37) {
            assert_eq!(r.position(v), Ok(i));
            assert_eq!(r.get(i), Some(v));
            assert_eq!(r.partition(|t| t < v), i);
        }
        assert_eq!(r.position(&9999), Err(model.len()));
        for (lo, hi) in [
            (0, 0),
            (0, 1),
            (5, 300),
            (250, 260),
            (0, model.len()),
            (7, 9999),
        ] {
            let want: Vec<_> = model.iter().skip(lo).take(hi.saturating_sub(lo)).collect();
            assert_eq!(r.window(lo, hi).collect::<Vec<_>>(), want, "{lo}..{hi}");
            let back: Vec<_> = r.window(lo, hi).rev().collect();
            assert_eq!(back, want.into_iter().rev().collect::<Vec<_>>());
        }
        assert_eq!(
            Ranked::from_sorted(model.clone()),
            r,
            "chunking is not compared"
        );
    }
}
