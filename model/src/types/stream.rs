//! The stream type: entries ordered by ID, the stream's counters (last ID, first ID, entries
//! added, max deleted ID) and its consumer groups with their pending entries.
//!
//! Owns the representation. Entries live in a persistent ordered map (`imbl::OrdMap<StreamId,
//! fields>`): a clone is O(1) and a write to a clone copies one O(log n) path, so a
//! point-in-time view (BGSAVE) of a large stream costs nothing to keep. Redis's listpack nodes
//! are mirrored only as counts ([`Node`]: where a node starts, how many entries it holds live
//! and deleted, an estimate of its bytes), because `~` trimming removes whole nodes and the RDB
//! writes one listpack per node. Invariants: every entry ID is at most `last_id`; a node's
//! `live` is the number of entries in its ID range and a node with none is removed; the first
//! live entry, if any, is `first_id`; every pending entry of a group is in exactly one of its
//! consumers' PELs, and the other way round.

use std::sync::Arc;

use bytes::Bytes;
use imbl::{OrdMap, OrdSet};

/// An entry ID: milliseconds and a sequence number, compared in that order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl StreamId {
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    pub const MAX: StreamId = StreamId {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    pub fn new(ms: u64, seq: u64) -> Self {
        StreamId { ms, seq }
    }

    /// The next ID (Redis's `streamIncrID`); `None` past the last possible one.
    pub fn incr(self) -> Option<StreamId> {
        match (self.ms, self.seq) {
            (u64::MAX, u64::MAX) => None,
            (ms, u64::MAX) => Some(StreamId::new(ms + 1, 0)),
            (ms, seq) => Some(StreamId::new(ms, seq + 1)),
        }
    }

    /// The previous ID (Redis's `streamDecrID`); `None` before 0-0.
    pub fn decr(self) -> Option<StreamId> {
        match (self.ms, self.seq) {
            (0, 0) => None,
            (ms, 0) => Some(StreamId::new(ms - 1, u64::MAX)),
            (ms, seq) => Some(StreamId::new(ms, seq - 1)),
        }
    }

    /// `ms-seq`, as every reply writes an ID.
    pub fn to_bytes(self) -> Bytes {
        Bytes::from(format!("{}-{}", self.ms, self.seq))
    }

    /// The 16-byte big-endian form of RDB node keys and PELs.
    pub fn to_raw(self) -> [u8; 16] {
        let mut raw = [0u8; 16];
        raw[..8].copy_from_slice(&self.ms.to_be_bytes());
        raw[8..].copy_from_slice(&self.seq.to_be_bytes());
        raw
    }

    pub fn from_raw(raw: &[u8]) -> Option<StreamId> {
        let ms = u64::from_be_bytes(raw.get(..8)?.try_into().ok()?);
        let seq = u64::from_be_bytes(raw.get(8..16)?.try_into().ok()?);
        (raw.len() == 16).then_some(StreamId::new(ms, seq))
    }
}

/// An entry's fields and values, flattened (`f1 v1 f2 v2 ...`).
pub type Fields = Arc<[Bytes]>;

/// One of Redis's listpack nodes, as counts: entries in `[start, next node's start)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Node {
    /// Entries held, deleted ones included (what closes a node for appends).
    pub total: u64,
    /// Entries not deleted.
    pub live: u64,
    /// An estimate of the listpack's bytes.
    pub bytes: u64,
}

/// The node limits (`stream-node-max-entries`, `stream-node-max-bytes`; 0 = unlimited).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeLimits {
    pub entries: u64,
    pub bytes: u64,
}

/// A delivered, not yet acknowledged entry of a group.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Pending {
    pub consumer: Bytes,
    pub delivery_time_ms: u64,
    pub delivery_count: u64,
}

/// A consumer of a group: when it was last seen and the IDs pending for it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Consumer {
    pub seen_time_ms: u64,
    pub pel: OrdSet<StreamId>,
}

/// A consumer group.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Group {
    pub last_id: StreamId,
    /// Entries read by the group (Redis's `entries_read`); `None` = unknown (-1).
    pub entries_read: Option<u64>,
    pub pel: OrdMap<StreamId, Pending>,
    pub consumers: OrdMap<Bytes, Consumer>,
}

impl Group {
    pub fn new(last_id: StreamId, entries_read: Option<u64>) -> Self {
        Group {
            last_id,
            entries_read,
            ..Group::default()
        }
    }

    /// The consumer `name`, created (seen now) if absent; `true` if it was created.
    pub fn consumer_or_new(&mut self, name: &Bytes, now_ms: u64) -> (&mut Consumer, bool) {
        let created = !self.consumers.contains_key(name);
        let consumer = self.consumers.entry(name.clone()).or_insert(Consumer {
            seen_time_ms: now_ms,
            pel: OrdSet::new(),
        });
        (consumer, created)
    }

    /// Removes `id` from the group's PEL and its consumer's; `true` if it was pending.
    pub fn ack(&mut self, id: StreamId) -> bool {
        let Some(pending) = self.pel.remove(&id) else {
            return false;
        };
        if let Some(consumer) = self.consumers.get_mut(&pending.consumer) {
            consumer.pel.remove(&id);
        }
        true
    }

    /// Makes `id` pending for `consumer` (moving it from its previous owner).
    pub fn assign(&mut self, id: StreamId, consumer: &Bytes, pending: Pending) {
        if let Some(old) = self.pel.get(&id) {
            let owner = old.consumer.clone();
            if let Some(c) = self.consumers.get_mut(&owner) {
                c.pel.remove(&id);
            }
        }
        if let Some(c) = self.consumers.get_mut(consumer) {
            c.pel.insert(id);
        }
        self.pel.insert(id, pending);
    }
}

/// A stream value.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct StreamValue {
    entries: OrdMap<StreamId, Fields>,
    nodes: OrdMap<StreamId, Node>,
    pub last_id: StreamId,
    /// Redis's `first_id`: the first entry's ID; 0-0 when there is none.
    pub first_id: StreamId,
    pub max_deleted_id: StreamId,
    pub entries_added: u64,
    pub groups: OrdMap<Bytes, Group>,
}

/// What limits a trim: a length, or a minimum ID.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trim {
    MaxLen(u64),
    MinId(StreamId),
}

impl StreamValue {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// `OBJECT ENCODING`: always `stream`.
    pub fn encoding(&self) -> &'static str {
        "stream"
    }

    pub fn get(&self, id: &StreamId) -> Option<&Fields> {
        self.entries.get(id)
    }

    pub fn first(&self) -> Option<(StreamId, &Fields)> {
        self.entries.get_min().map(|(id, f)| (*id, f))
    }

    pub fn last(&self) -> Option<(StreamId, &Fields)> {
        self.entries.get_max().map(|(id, f)| (*id, f))
    }

    /// Entries with `start <= id <= end`, in ID order (reversed if `rev`).
    pub fn range(
        &self,
        start: StreamId,
        end: StreamId,
        rev: bool,
    ) -> Box<dyn Iterator<Item = (StreamId, &Fields)> + '_> {
        if start > end {
            return Box::new(std::iter::empty());
        }
        let it = self.entries.range(start..=end).map(|(id, f)| (*id, f));
        if rev {
            Box::new(it.rev())
        } else {
            Box::new(it)
        }
    }

    /// The nodes, by the ID they start at.
    pub fn nodes(&self) -> impl Iterator<Item = (StreamId, &Node)> + '_ {
        self.nodes.iter().map(|(id, n)| (*id, n))
    }

    /// Appends an entry with an ID greater than `last_id` (the caller checked), in the last
    /// node or a new one when the last is full.
    pub fn append(&mut self, id: StreamId, fields: Fields, limits: NodeLimits) {
        assert!(id > self.last_id, "stream IDs only grow");
        let bytes = entry_bytes(&fields);
        let full = |n: &Node| {
            (limits.bytes != 0 && n.bytes >= limits.bytes)
                || (limits.entries != 0 && n.total >= limits.entries)
        };
        match self.nodes.get_max().map(|(start, n)| (*start, *n)) {
            Some((start, node)) if !full(&node) => {
                self.nodes.insert(
                    start,
                    Node {
                        total: node.total + 1,
                        live: node.live + 1,
                        bytes: node.bytes + bytes,
                    },
                );
            }
            _ => {
                let node = Node {
                    total: 1,
                    live: 1,
                    bytes: NODE_HEADER_BYTES + 2 * bytes,
                };
                self.nodes.insert(id, node);
            }
        }
        self.entries.insert(id, fields);
        self.last_id = id;
        self.entries_added += 1;
        if self.entries.len() == 1 {
            self.first_id = id;
        }
    }

    /// Loads an entry as a file holds it: in the node starting at `node`.
    pub fn load_entry(&mut self, node: StreamId, id: StreamId, fields: Fields, deleted: bool) {
        let bytes = entry_bytes(&fields);
        let n = self.nodes.entry(node).or_default();
        n.total += 1;
        n.bytes += bytes;
        if !deleted {
            n.live += 1;
            self.entries.insert(id, fields);
        }
    }

    /// After loading: nodes without live entries are dropped.
    pub fn loaded(&mut self) {
        let empty: Vec<StreamId> = self
            .nodes
            .iter()
            .filter(|(_, n)| n.live == 0)
            .map(|e| *e.0)
            .collect();
        for start in empty {
            self.nodes.remove(&start);
        }
    }

    /// XDEL of one ID; `true` if it was there.
    pub fn delete(&mut self, id: StreamId) -> bool {
        if self.entries.remove(&id).is_none() {
            return false;
        }
        let (start, mut node) = self
            .nodes
            .range(..=id)
            .next_back()
            .map(|(s, n)| (*s, *n))
            .expect("every entry is in a node");
        node.live -= 1;
        if node.live == 0 {
            self.nodes.remove(&start);
        } else {
            self.nodes.insert(start, node);
        }
        if id > self.max_deleted_id {
            self.max_deleted_id = id;
        }
        self.first_id = self.first().map_or(StreamId::MIN, |(id, _)| id);
        true
    }

    /// Redis's `streamTrim`: removes entries from the head while `trim` asks for it; with
    /// `approx` only whole nodes; at most `limit` entries when not 0. Returns how many.
    pub fn trim(&mut self, trim: Trim, approx: bool, limit: u64) -> u64 {
        let mut deleted = 0u64;
        while let Some((start, node)) = self.nodes.get_min().map(|(s, n)| (*s, *n)) {
            if let Trim::MaxLen(max) = trim {
                if self.len() as u64 <= max {
                    break;
                }
            }
            if limit != 0 && deleted + node.live > limit {
                break;
            }
            let node_last = self.node_last(start);
            let remove_node = match trim {
                Trim::MaxLen(max) => self.len() as u64 - node.live >= max,
                Trim::MinId(min) => node_last < min,
            };
            if remove_node {
                let ids: Vec<StreamId> = self
                    .entries
                    .range(start..=node_last)
                    .map(|e| *e.0)
                    .collect();
                for id in ids {
                    self.entries.remove(&id);
                }
                self.nodes.remove(&start);
                deleted += node.live;
                continue;
            }
            if approx {
                break;
            }
            deleted += self.trim_within(start, node, trim);
            break;
        }
        if deleted > 0 {
            self.first_id = self.first().map_or(StreamId::MIN, |(id, _)| id);
        }
        deleted
    }

    /// The last live entry of the node starting at `start`.
    fn node_last(&self, start: StreamId) -> StreamId {
        let next = self.nodes.range(start..).nth(1).map(|(s, _)| *s);
        let upto = next.and_then(StreamId::decr).unwrap_or(StreamId::MAX);
        self.entries
            .range(start..=upto)
            .next_back()
            .map_or(start, |(id, _)| *id)
    }

    /// Exact trimming inside the first node: entries become tombstones of the node.
    fn trim_within(&mut self, start: StreamId, mut node: Node, trim: Trim) -> u64 {
        let mut deleted = 0;
        while let Some((id, _)) = self.first() {
            let stop = match trim {
                Trim::MaxLen(max) => self.len() as u64 <= max,
                Trim::MinId(min) => id >= min,
            };
            if stop {
                break;
            }
            self.entries.remove(&id);
            node.live -= 1;
            deleted += 1;
        }
        assert!(node.live > 0, "a node that empties is removed whole");
        self.nodes.insert(start, node);
        deleted
    }

    /// Redis's `streamEstimateDistanceFromFirstEverEntry`: the entries read up to `id`, if
    /// that can be known.
    pub fn estimate_read(&self, id: StreamId) -> Option<u64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if self.is_empty() && id <= self.last_id {
            return Some(self.entries_added);
        }
        match id.cmp(&self.last_id) {
            std::cmp::Ordering::Equal => return Some(self.entries_added),
            std::cmp::Ordering::Greater => return None,
            std::cmp::Ordering::Less => {}
        }
        let no_tombstones =
            self.max_deleted_id == StreamId::MIN || self.max_deleted_id < self.first_id;
        if no_tombstones {
            let before_first = self.entries_added - self.len() as u64;
            match id.cmp(&self.first_id) {
                std::cmp::Ordering::Less => return Some(before_first),
                std::cmp::Ordering::Equal => return Some(before_first + 1),
                std::cmp::Ordering::Greater => {}
            }
        }
        None
    }

    /// Redis's `streamRangeHasTombstones` for `[start, +inf]`.
    pub fn has_tombstones_from(&self, start: StreamId) -> bool {
        if self.is_empty() || self.max_deleted_id == StreamId::MIN {
            return false;
        }
        if self.first_id > self.max_deleted_id {
            return false;
        }
        start <= self.max_deleted_id
    }

    /// XINFO GROUPS' `lag` of `group` (Redis's `streamReplyWithCGLag`); `None` = unknown.
    pub fn lag(&self, group: &Group) -> Option<u64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if let Some(read) = group.entries_read {
            if !self.has_tombstones_from(group.last_id) {
                return Some(self.entries_added.saturating_sub(read));
            }
        }
        let read = self.estimate_read(group.last_id)?;
        Some(self.entries_added.saturating_sub(read))
    }
}

/// A listpack's header, terminator and master entry, roughly.
const NODE_HEADER_BYTES: u64 = 16;

/// An estimate of an entry's bytes in a node: each element with its length byte and
/// back-length byte, plus the flags, the ID deltas and the count.
fn entry_bytes(fields: &Fields) -> u64 {
    fields.iter().map(|f| f.len() as u64 + 2).sum::<u64>() + 8
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields() -> Fields {
        Arc::from(vec![Bytes::from_static(b"f"), Bytes::from_static(b"v")])
    }

    const LIMITS: NodeLimits = NodeLimits {
        entries: 10,
        bytes: 4096,
    };

    #[test]
    fn approximate_trims_remove_whole_nodes_and_exact_ones_reach_the_length() {
        let mut s = StreamValue::default();
        for i in 1..=100 {
            s.append(StreamId::new(i, 0), fields(), LIMITS);
        }
        assert_eq!(s.nodes().count(), 10);
        assert_eq!(s.trim(Trim::MaxLen(55), true, 30), 30);
        assert_eq!(s.len(), 70);
        assert_eq!(s.trim(Trim::MaxLen(55), true, 0), 10);
        assert_eq!(s.trim(Trim::MaxLen(55), false, 0), 5);
        assert_eq!(s.len(), 55);
        assert_eq!(s.first_id, StreamId::new(46, 0));
        let view = s.clone();
        assert_eq!(s.trim(Trim::MinId(StreamId::new(90, 0)), false, 0), 44);
        assert_eq!(view.len(), 55, "a clone is a point in time");
        assert!(s.delete(StreamId::new(95, 0)));
        assert!(!s.delete(StreamId::new(95, 0)));
        assert_eq!(s.max_deleted_id, StreamId::new(95, 0));
        assert_eq!(s.entries_added, 100);
    }

    #[test]
    fn ids_step_and_round_trip() {
        assert_eq!(StreamId::new(1, u64::MAX).incr(), Some(StreamId::new(2, 0)));
        assert_eq!(StreamId::MAX.incr(), None);
        assert_eq!(StreamId::MIN.decr(), None);
        let id = StreamId::new(7, 9);
        assert_eq!(StreamId::from_raw(&id.to_raw()), Some(id));
        assert_eq!(id.to_bytes(), Bytes::from_static(b"7-9"));
    }
}
