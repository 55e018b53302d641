//! A persistent hash-array-mapped trie of leaves keyed by byte strings, walked in hash order.
//!
//! Owns the map the keyspace keeps each database in; a leaf carries its own key
//! ([`TrieLeaf`]), so the keyspace chooses its layout (key and value in one block). Cloning is O(1) (the root is shared, a
//! write copies only the path it changes), which is the point-in-time view BGSAVE and
//! BGREWRITEAOF serialise. Lookups hash the key once (XXH3-64, fixed seed) and follow 6 hash
//! bits per level, so a lookup touches one small node per level and compares key bytes once,
//! where an ordered map compares the key at every step.
//!
//! Invariants: the walk order is (hash, key) — a function of the key set only, never of the
//! history — so iteration, serialised bytes, `Eq` and `Hash` are deterministic; the shape is
//! canonical (a branch below the root holds two or more slots or one branch; keys with one
//! full hash share one collision slot, sorted by key); `len` counts the leaves.

use std::cmp::Ordering;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;
use std::sync::Arc;

/// Hash bits consumed per level: 64-way nodes with a `u64` occupancy bitmap.
const BITS_PER_LEVEL: u32 = 6;
/// Deepest level: at level 10 the last 4 hash bits choose the slot.
const LEVEL_MAX: u32 = 10;

/// The fixed-seed hash that orders keys (a fixed seed keeps runs reproducible; adversarial
/// collisions only lengthen a sorted collision slot, they cannot degrade the map further).
pub fn key_hash(key: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(key)
}

/// A key hash function; a type parameter so tests can force collisions.
pub trait KeyHash {
    fn hash(key: &[u8]) -> u64;
}

/// [`key_hash`]: what the keyspace uses.
#[derive(Clone, Copy, Debug, Default)]
pub struct Xxh3;

impl KeyHash for Xxh3 {
    fn hash(key: &[u8]) -> u64 {
        key_hash(key)
    }
}

/// Slot index of `hash` at `level`: the level's 6 bits, most significant first, so slot
/// order is numeric hash order.
fn slot_index(hash: u64, level: u32) -> u32 {
    assert!(level <= LEVEL_MAX);
    ((hash << (BITS_PER_LEVEL * level)) >> (64 - BITS_PER_LEVEL)) as u32
}

/// What the trie stores: a value that knows its key. The key of a stored leaf never changes
/// (the trie placed it by the key's hash; `get_mut` callers change only the rest).
pub trait TrieLeaf: Clone {
    fn key(&self) -> &[u8];
}

#[derive(Clone, Debug)]
struct Collision<V> {
    hash: u64,
    /// Two or more, sorted by key.
    leaves: Vec<V>,
}

#[derive(Clone, Debug)]
enum Slot<V> {
    Leaf(V),
    Collision(Arc<Collision<V>>),
    Branch(Arc<Node<V>>),
}

#[derive(Clone, Debug)]
struct Node<V> {
    /// Bit i set iff slot index i is occupied; `slots` holds them densely in index order.
    bitmap: u64,
    slots: Vec<Slot<V>>,
}

impl<V> Default for Node<V> {
    fn default() -> Self {
        Self {
            bitmap: 0,
            slots: Vec::new(),
        }
    }
}

impl<V> Node<V> {
    /// Where index `i` is or would be in `slots`, and whether it is occupied.
    fn position(&self, i: u32) -> (usize, bool) {
        let below = self.bitmap & ((1u64 << i) - 1);
        (below.count_ones() as usize, self.bitmap & (1u64 << i) != 0)
    }
}

/// Bytes a key's slot takes in a node: its leaf inline.
#[cfg(test)]
pub(super) fn leaf_slot_bytes<V>() -> usize {
    size_of::<Slot<V>>()
}

/// The map. `Clone` is O(1).
pub struct HashTrie<V, H = Xxh3> {
    root: Arc<Node<V>>,
    len: usize,
    hasher: PhantomData<H>,
}

impl<V, H> Clone for HashTrie<V, H> {
    fn clone(&self) -> Self {
        Self {
            root: Arc::clone(&self.root),
            len: self.len,
            hasher: PhantomData,
        }
    }
}

impl<V, H> Default for HashTrie<V, H> {
    fn default() -> Self {
        Self {
            root: Arc::new(Node::default()),
            len: 0,
            hasher: PhantomData,
        }
    }
}

impl<V: TrieLeaf, H: KeyHash> HashTrie<V, H> {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The leaf of `key`.
    pub fn get(&self, key: &[u8]) -> Option<&V> {
        let hash = H::hash(key);
        let mut node = &*self.root;
        for level in 0..=LEVEL_MAX {
            let (p, present) = node.position(slot_index(hash, level));
            if !present {
                return None;
            }
            match &node.slots[p] {
                Slot::Leaf(leaf) => return (leaf.key() == key).then_some(leaf),
                Slot::Collision(c) => return find(&c.leaves, key).ok().map(|i| &c.leaves[i]),
                Slot::Branch(child) => node = child,
            }
        }
        unreachable!("a branch below the last level")
    }

    /// The leaf, for a change in place (never of its key); copies the path to it if a clone
    /// shares it.
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut V> {
        let hash = H::hash(key);
        let mut node = Arc::make_mut(&mut self.root);
        for level in 0..=LEVEL_MAX {
            let (p, present) = node.position(slot_index(hash, level));
            if !present {
                return None;
            }
            match &mut node.slots[p] {
                Slot::Leaf(leaf) => return (leaf.key() == key).then_some(leaf),
                Slot::Collision(c) if c.hash != hash => return None,
                Slot::Collision(c) => {
                    let c = Arc::make_mut(c);
                    return find(&c.leaves, key).ok().map(|i| &mut c.leaves[i]);
                }
                Slot::Branch(child) => node = Arc::make_mut(child),
            }
        }
        unreachable!("a branch below the last level")
    }

    pub fn contains_key(&self, key: &[u8]) -> bool {
        self.get(key).is_some()
    }

    /// Inserts or replaces the leaf of `leaf`'s key; the previous leaf.
    pub fn insert(&mut self, leaf: V) -> Option<V> {
        let hash = H::hash(leaf.key());
        let old = insert_at::<V, H>(Arc::make_mut(&mut self.root), 0, hash, leaf);
        if old.is_none() {
            self.len += 1;
        }
        old
    }

    pub fn remove(&mut self, key: &[u8]) -> Option<V> {
        if !self.contains_key(key) {
            return None; // no path copy for a key that is not there
        }
        let old = remove_at::<V, H>(Arc::make_mut(&mut self.root), 0, H::hash(key), key);
        assert!(old.is_some(), "present a moment ago");
        self.len -= 1;
        old
    }

    pub fn clear(&mut self) {
        *self = Self::default();
    }

    /// Every entry in (hash, key) order.
    pub fn iter(&self) -> Iter<'_, V> {
        Iter {
            stack: vec![(&self.root.slots[..], 0)],
            bucket: &[],
            left: self.len,
        }
    }

    /// Entries strictly after position (`hash`, `key`) in walk order; with `key` `None`, every
    /// entry whose hash is at least `hash`. The position need not be a present key.
    pub fn iter_after(&self, hash: u64, key: Option<&[u8]>) -> Iter<'_, V> {
        let after = |leaf: &V| match key {
            None => H::hash(leaf.key()) >= hash,
            Some(k) => (H::hash(leaf.key()), leaf.key()) > (hash, k),
        };
        let mut it = Iter {
            stack: Vec::new(),
            bucket: &[],
            left: self.len,
        };
        let mut node = &*self.root;
        for level in 0..=LEVEL_MAX {
            let (p, present) = node.position(slot_index(hash, level));
            if !present {
                it.stack.push((&node.slots[..], p));
                return it;
            }
            match &node.slots[p] {
                Slot::Leaf(leaf) => {
                    it.stack
                        .push((&node.slots[..], p + usize::from(!after(leaf))));
                    return it;
                }
                Slot::Collision(c) => {
                    it.stack.push((&node.slots[..], p + 1));
                    let first = c.leaves.partition_point(|leaf| !after(leaf));
                    it.bucket = &c.leaves[first..];
                    return it;
                }
                Slot::Branch(child) => {
                    it.stack.push((&node.slots[..], p + 1));
                    node = child;
                }
            }
        }
        unreachable!("a branch below the last level")
    }
}

/// Index of `key` in `leaves` (sorted by key), or where it would go.
fn find<V: TrieLeaf>(leaves: &[V], key: &[u8]) -> Result<usize, usize> {
    leaves.binary_search_by(|leaf| leaf.key().cmp(key))
}

fn insert_at<V: TrieLeaf, H: KeyHash>(
    node: &mut Node<V>,
    level: u32,
    hash: u64,
    new: V,
) -> Option<V> {
    let i = slot_index(hash, level);
    let (p, present) = node.position(i);
    if !present {
        node.slots.reserve_exact(1);
        node.slots.insert(p, Slot::Leaf(new));
        node.bitmap |= 1u64 << i;
        return None;
    }
    match &mut node.slots[p] {
        Slot::Branch(child) => {
            return insert_at::<V, H>(Arc::make_mut(child), level + 1, hash, new)
        }
        Slot::Leaf(leaf) if leaf.key() == new.key() => return Some(std::mem::replace(leaf, new)),
        Slot::Collision(c) if c.hash == hash => {
            let c = Arc::make_mut(c);
            return match find(&c.leaves, new.key()) {
                Ok(at) => Some(std::mem::replace(&mut c.leaves[at], new)),
                Err(at) => {
                    c.leaves.insert(at, new);
                    None
                }
            };
        }
        _ => {}
    }
    // A leaf or collision of another key or hash: both move one level down.
    let old = std::mem::replace(&mut node.slots[p], Slot::Branch(Arc::default()));
    node.slots[p] = split::<V, H>(level + 1, old, hash, new);
    None
}

/// The slot holding `old` (a leaf or collision) and `new` at `level`.
fn split<V: TrieLeaf, H: KeyHash>(level: u32, old: Slot<V>, hash: u64, new: V) -> Slot<V> {
    let old_hash = match &old {
        Slot::Leaf(leaf) => H::hash(leaf.key()),
        Slot::Collision(c) => c.hash,
        Slot::Branch(_) => unreachable!("only leaves split"),
    };
    if old_hash == hash {
        let Slot::Leaf(leaf) = old else {
            unreachable!("a collision of this hash takes the key in place")
        };
        let mut leaves = vec![leaf, new];
        leaves.sort_by(|a, b| a.key().cmp(b.key()));
        return Slot::Collision(Arc::new(Collision { hash, leaves }));
    }
    let (a, b) = (slot_index(old_hash, level), slot_index(hash, level));
    let slots = match a.cmp(&b) {
        Ordering::Equal => vec![split::<V, H>(level + 1, old, hash, new)],
        Ordering::Less => vec![old, Slot::Leaf(new)],
        Ordering::Greater => vec![Slot::Leaf(new), old],
    };
    let bitmap = (1u64 << a) | (1u64 << b);
    Slot::Branch(Arc::new(Node { bitmap, slots }))
}

fn remove_at<V: TrieLeaf, H: KeyHash>(
    node: &mut Node<V>,
    level: u32,
    hash: u64,
    key: &[u8],
) -> Option<V> {
    let i = slot_index(hash, level);
    let (p, present) = node.position(i);
    assert!(present, "the caller checked the key is present");
    if let Slot::Leaf(_) = node.slots[p] {
        node.bitmap &= !(1u64 << i);
        let Slot::Leaf(leaf) = node.slots.remove(p) else {
            unreachable!("matched a leaf")
        };
        return Some(leaf);
    }
    let (old, collapse) = match &mut node.slots[p] {
        Slot::Leaf(_) => unreachable!("handled above"),
        Slot::Collision(c) => {
            let c = Arc::make_mut(c);
            let at = find(&c.leaves, key).ok()?;
            let old = c.leaves.remove(at);
            let last = (c.leaves.len() == 1).then(|| Slot::Leaf(c.leaves.remove(0)));
            (old, last)
        }
        Slot::Branch(child) => {
            let child = Arc::make_mut(child);
            let old = remove_at::<V, H>(child, level + 1, hash, key)?;
            // Keep the shape canonical: a lone leaf or collision moves up.
            let lone = child.slots.len() == 1 && !matches!(child.slots[0], Slot::Branch(_));
            (old, lone.then(|| child.slots.pop()).flatten())
        }
    };
    if let Some(slot) = collapse {
        node.slots[p] = slot;
    }
    Some(old)
}

/// Walks entries in (hash, key) order.
pub struct Iter<'a, V> {
    /// Nodes being walked, each with the next slot to visit.
    stack: Vec<(&'a [Slot<V>], usize)>,
    /// The rest of the collision being walked.
    bucket: &'a [V],
    /// An upper bound on what is left (the map's size).
    left: usize,
}

impl<'a, V> Iterator for Iter<'a, V> {
    type Item = &'a V;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some((leaf, rest)) = self.bucket.split_first() {
                self.bucket = rest;
                self.left = self.left.saturating_sub(1);
                return Some(leaf);
            }
            let (slots, at) = self.stack.last_mut()?;
            let Some(slot) = slots.get(*at) else {
                self.stack.pop();
                continue;
            };
            *at += 1;
            match slot {
                Slot::Leaf(leaf) => {
                    self.left = self.left.saturating_sub(1);
                    return Some(leaf);
                }
                Slot::Collision(c) => self.bucket = &c.leaves,
                Slot::Branch(child) => self.stack.push((&child.slots, 0)),
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.left))
    }
}

impl<V: TrieLeaf + PartialEq, H: KeyHash> PartialEq for HashTrie<V, H> {
    fn eq(&self, other: &Self) -> bool {
        // The walk order depends on the key set only, so equal maps walk in step.
        Arc::ptr_eq(&self.root, &other.root)
            || (self.len == other.len && self.iter().eq(other.iter()))
    }
}

impl<V: TrieLeaf + Eq, H: KeyHash> Eq for HashTrie<V, H> {}

impl<V: TrieLeaf + Hash, H: KeyHash> Hash for HashTrie<V, H> {
    fn hash<S: Hasher>(&self, state: &mut S) {
        state.write_usize(self.len);
        for leaf in self.iter() {
            leaf.hash(state);
        }
    }
}

impl<V: TrieLeaf + std::fmt::Debug, H: KeyHash> std::fmt::Debug for HashTrie<V, H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use bytes::Bytes;

    use super::*;

    /// A leaf of the tests: a key and a number.
    #[derive(Clone, Debug, PartialEq, Eq, Hash)]
    struct KV(Bytes, u64);

    impl TrieLeaf for KV {
        fn key(&self) -> &[u8] {
            &self.0
        }
    }

    /// A poor hash: 16 values, so most keys collide and every split runs to the last level.
    #[derive(Clone, Copy, Debug, Default)]
    struct Poor;

    impl KeyHash for Poor {
        fn hash(key: &[u8]) -> u64 {
            let first = u64::from(key.first().copied().unwrap_or(0) % 4);
            (first << 62) | (key.len() as u64 % 4)
        }
    }

    fn rng(state: &mut u64) -> u64 {
        *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// The slots below `node`, as text: equal iff equal shapes.
    fn shape<V: TrieLeaf>(node: &Node<V>) -> String {
        let inner: Vec<String> = node
            .slots
            .iter()
            .map(|slot| match slot {
                Slot::Leaf(leaf) => format!("{:?}", leaf.key()),
                Slot::Collision(c) => {
                    format!(
                        "c{:?}",
                        c.leaves.iter().map(|l| l.key()).collect::<Vec<_>>()
                    )
                }
                Slot::Branch(child) => shape(child),
            })
            .collect();
        format!("{:x}[{}]", node.bitmap, inner.join(","))
    }

    /// Random inserts, removes and get_muts against a sorted model, checking every answer,
    /// the walk order and resumption, and that a clone taken midway never changes.
    fn against_model<H: KeyHash>(seed: u64, keys: u64) {
        let mut state = seed;
        let (mut trie, mut model) = (HashTrie::<KV, H>::default(), BTreeMap::new());
        let mut frozen = None;
        for step in 0..4000u64 {
            let key =
                Bytes::from(format!("{}", rng(&mut state) % keys).repeat(1 + step as usize % 3));
            match rng(&mut state) % 4 {
                0 | 1 => assert_eq!(
                    trie.insert(KV(key.clone(), step)).map(|l| l.1),
                    model.insert(key, step)
                ),
                2 => assert_eq!(trie.remove(&key).map(|l| l.1), model.remove(&key)),
                _ => {
                    if let Some(v) = trie.get_mut(&key) {
                        v.1 += 1;
                    }
                    if let Some(v) = model.get_mut(&key) {
                        *v += 1;
                    }
                }
            }
            assert_eq!(trie.len(), model.len());
            if step == 2000 {
                frozen = Some((trie.clone(), model.clone()));
            }
        }
        let mut sorted: Vec<(u64, Bytes, u64)> = model
            .iter()
            .map(|(k, v)| (H::hash(k), k.clone(), *v))
            .collect();
        sorted.sort();
        let walked: Vec<(u64, Bytes, u64)> = trie
            .iter()
            .map(|l| (H::hash(&l.0), l.0.clone(), l.1))
            .collect();
        assert_eq!(walked, sorted, "walk is (hash, key) order");
        for (k, v) in &model {
            assert_eq!(trie.get(k).map(|l| l.1), Some(*v));
        }
        for probe in 0..200 {
            let key = Bytes::from(format!("{}", probe % keys).repeat(1 + probe as usize % 3));
            let h = H::hash(&key);
            let after: Vec<_> = trie
                .iter_after(h, Some(&key))
                .map(|l| l.0.clone())
                .collect();
            let expected: Vec<_> = sorted
                .iter()
                .filter(|(sh, sk, _)| (*sh, sk) > (h, &key))
                .map(|e| e.1.clone())
                .collect();
            assert_eq!(after, expected, "after {key:?}");
            let from: Vec<_> = trie.iter_after(h, None).map(|l| l.0.clone()).collect();
            let expected: Vec<_> = sorted
                .iter()
                .filter(|(sh, _, _)| *sh >= h)
                .map(|e| e.1.clone())
                .collect();
            assert_eq!(from, expected, "from hash {h:x}");
        }
        let (old_trie, old_model) = frozen.expect("taken at step 2000");
        assert!(old_trie
            .iter()
            .map(|l| (l.0.clone(), l.1))
            .eq(old_trie_sorted::<H>(&old_model)));
        // The same set built in another order: equal, same hash, same shape.
        let mut rebuilt = HashTrie::<KV, H>::default();
        for (k, v) in model.iter().rev() {
            rebuilt.insert(KV(k.clone(), *v));
        }
        assert_eq!(rebuilt, trie);
        assert_eq!(shape(&rebuilt.root), shape(&trie.root), "canonical shape");
    }

    fn old_trie_sorted<H: KeyHash>(model: &BTreeMap<Bytes, u64>) -> Vec<(Bytes, u64)> {
        let mut v: Vec<_> = model
            .iter()
            .map(|(k, v)| (H::hash(k), k.clone(), *v))
            .collect();
        v.sort();
        v.into_iter().map(|(_, k, v)| (k, v)).collect()
    }

    #[test]
    fn the_trie_agrees_with_a_sorted_map() {
        for seed in 0..4 {
            against_model::<Xxh3>(seed, 300);
            against_model::<Poor>(seed, 300);
            against_model::<Xxh3>(seed, 20);
        }
    }

    #[test]
    fn removing_everything_leaves_an_empty_root() {
        let mut trie = HashTrie::<KV, Poor>::default();
        for i in 0..500u64 {
            trie.insert(KV(Bytes::from(i.to_string()), i));
        }
        for i in (0..500u64).rev() {
            assert_eq!(trie.remove(i.to_string().as_bytes()).map(|l| l.1), Some(i));
        }
        assert!(trie.is_empty());
        assert_eq!(shape(&trie.root), "0[]");
        assert_eq!(trie.iter().count(), 0);
    }
}
