//! The list type. Redis 7.0 reports every list as `quicklist` (a chain of listpack nodes), so
//! durakv keeps one form: a persistent vector (`imbl::Vector`, a RRB tree of chunks).
//!
//! Owns the representation. Invariants: pushes and pops at either end are amortised O(1),
//! index access O(log n); cloning is O(1) and a write to a clone copies only the chunks on
//! the path it touches, so a point-in-time view of a million-element list costs nothing to
//! keep while the engine goes on pushing. Node layout (`list-max-listpack-size`) is decided
//! only when a list is written to an RDB (`rdb::collections`), as Redis's nodes are
//! invisible to every command.

use bytes::Bytes;
use imbl::Vector;

/// A list value, head first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct ListValue {
    pub items: Vector<Bytes>,
}

impl ListValue {
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// `OBJECT ENCODING`: always `quicklist` in 7.0, even with one element.
    pub fn encoding(&self) -> &'static str {
        "quicklist"
    }

    /// Redis's index rule: negative counts from the tail; `None` when out of range.
    pub fn index(&self, index: i64) -> Option<usize> {
        let len = i64::try_from(self.len()).ok()?;
        let at = if index < 0 { len + index } else { index };
        (0..len).contains(&at).then_some(at as usize)
    }
}

impl FromIterator<Bytes> for ListValue {
    fn from_iter<I: IntoIterator<Item = Bytes>>(iter: I) -> Self {
        ListValue {
            items: iter.into_iter().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_and_points_in_time() {
        let mut list: ListValue = (0..100_000).map(|i| Bytes::from(i.to_string())).collect();
        assert_eq!(list.index(-1), Some(99_999));
        assert_eq!(list.index(100_000), None);
        assert_eq!(list.index(-100_001), None);
        let view = list.clone();
        list.items.push_front(Bytes::from_static(b"new"));
        list.items.set(50_000, Bytes::from_static(b"changed"));
        assert_eq!(view.items[0], Bytes::from_static(b"0"));
        assert_eq!(view.items[50_000], Bytes::from_static(b"50000"));
        assert_eq!(list.len(), 100_001);
    }
}
