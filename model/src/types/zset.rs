//! The sorted set type: a listpack-like compact form and a skiplist-like large form (Redis
//! 7.0's `t_zset.c`). Foundation only: representation, order, encoding name, loading; the
//! commands build on [`ZSetValue::insert`] and [`ZSetValue::iter`].
//!
//! Owns the representation and the conversion rule: compact while it holds at most
//! `zset-max-listpack-entries` members, none longer than `zset-max-listpack-value` bytes;
//! once large, large for good. Invariants: both forms order members by (score, member bytes)
//! with -0 equal to 0, as Redis; no score is NaN; cloning is O(1) and a write to a clone
//! copies at most the compact vector or one path of each persistent map.

use std::cmp::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use imbl::OrdMap;

use super::limits::Limits;
use super::ranked::Ranked;

/// A score: an f64 that is never NaN, ordered numerically (-0 == 0).
#[derive(Clone, Copy, Debug)]
pub struct Score(f64);

impl Score {
    /// `None` for NaN, which no sorted set may hold.
    pub fn new(value: f64) -> Option<Score> {
        (!value.is_nan()).then_some(Score(value))
    }

    pub fn get(self) -> f64 {
        self.0
    }
}

impl PartialEq for Score {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl Eq for Score {}

impl PartialOrd for Score {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Score {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.partial_cmp(&other.0).expect("scores are never NaN")
    }
}

impl std::hash::Hash for Score {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // -0 and 0 are equal, so they must hash alike.
        (self.0 + 0.0).to_bits().hash(state);
    }
}

/// The large form: member → score, and the (score, member) order with positions (a chunked
/// persistent sequence), so a rank or the member at a rank costs a binary search plus a walk
/// over chunk lengths, not over members.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Skiplist {
    pub scores: OrdMap<Bytes, Score>,
    /// Sorted ascending by (score, member), no repeats.
    pub order: Ranked<(Score, Bytes)>,
}

impl Skiplist {
    /// Where (score, member) is, or would go.
    pub fn position(&self, score: Score, member: &[u8]) -> Result<usize, usize> {
        self.order
            .position(&(score, Bytes::copy_from_slice(member)))
    }

    /// From pairs sorted by (score, member) without repeats.
    fn from_sorted(sorted: Vec<(Score, Bytes)>) -> Skiplist {
        Skiplist {
            scores: sorted.iter().map(|(s, m)| (m.clone(), *s)).collect(),
            order: Ranked::from_sorted(sorted),
        }
    }
}

/// A sorted set value.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ZSetValue {
    /// `listpack`: (member, score) sorted by (score, member).
    Pack(Arc<Vec<(Bytes, Score)>>),
    /// `skiplist`.
    Skip(Skiplist),
}

impl ZSetValue {
    /// An empty set of the form ZADD creates for its first member (`zaddGenericCommand`).
    pub fn for_first(member: &[u8], limits: &Limits) -> ZSetValue {
        if limits.zset_max_listpack_entries == 0
            || member.len() as u64 > limits.zset_max_listpack_value
        {
            ZSetValue::Skip(Skiplist::default())
        } else {
            ZSetValue::Pack(Arc::default())
        }
    }

    pub fn len(&self) -> usize {
        match self {
            ZSetValue::Pack(pairs) => pairs.len(),
            ZSetValue::Skip(skip) => skip.scores.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `OBJECT ENCODING`.
    pub fn encoding(&self) -> &'static str {
        match self {
            ZSetValue::Pack(_) => "listpack",
            ZSetValue::Skip(_) => "skiplist",
        }
    }

    pub fn score(&self, member: &[u8]) -> Option<Score> {
        match self {
            ZSetValue::Pack(pairs) => pairs.iter().find(|(m, _)| m == member).map(|(_, s)| *s),
            ZSetValue::Skip(skip) => skip.scores.get(member).copied(),
        }
    }

    /// (member, score) from the lowest to the highest.
    pub fn iter(&self) -> Box<dyn DoubleEndedIterator<Item = (&Bytes, Score)> + '_> {
        match self {
            ZSetValue::Pack(pairs) => Box::new(pairs.iter().map(|(m, s)| (m, *s))),
            ZSetValue::Skip(skip) => Box::new(skip.order.iter().map(|(s, m)| (m, *s))),
        }
    }

    /// Sets `member`'s score (Redis's `zsetAdd` without the flags); whether it is new.
    pub fn insert(&mut self, member: Bytes, score: Score, limits: &Limits) -> bool {
        if matches!(self, ZSetValue::Pack(_))
            && member.len() as u64 > limits.zset_max_listpack_value
        {
            self.convert();
        }
        let new = match self {
            ZSetValue::Pack(pairs) => {
                let pairs = Arc::make_mut(pairs);
                let old = pairs.iter().position(|(m, _)| *m == member);
                if let Some(at) = old {
                    pairs.remove(at);
                }
                let at = pairs.partition_point(|(m, s)| (*s, m) < (score, &member));
                pairs.insert(at, (member, score));
                old.is_none()
            }
            ZSetValue::Skip(skip) => {
                let old = skip.scores.insert(member.clone(), score);
                if let Some(old) = old {
                    let was = skip.order.remove(&(old, member.clone()));
                    assert!(was, "in both indexes");
                }
                skip.order.insert((score, member));
                old.is_none()
            }
        };
        if matches!(self, ZSetValue::Pack(_))
            && self.len() as u64 > limits.zset_max_listpack_entries
        {
            self.convert();
        }
        new
    }

    /// Removes `member`; whether it was there.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match self {
            ZSetValue::Pack(pairs) => match pairs.iter().position(|(m, _)| m == member) {
                Some(at) => {
                    Arc::make_mut(pairs).remove(at);
                    true
                }
                None => false,
            },
            ZSetValue::Skip(skip) => match skip.scores.remove_with_key(member) {
                Some((member, score)) => {
                    let was = skip.order.remove(&(score, member));
                    assert!(was, "in both indexes");
                    true
                }
                None => false,
            },
        }
    }

    /// To the large form (one way).
    pub fn convert(&mut self) {
        if let ZSetValue::Pack(pairs) = self {
            let sorted = pairs.iter().map(|(m, s)| (*s, m.clone())).collect();
            *self = ZSetValue::Skip(Skiplist::from_sorted(sorted));
        }
    }

    /// A sorted set loaded from an RDB or RESTORE: compact iff within the count limit and,
    /// when `check_lengths` (plain and ziplist forms), every member is short enough. A compact
    /// form stores integral scores as integers, so -0 loads as 0 there, as in Redis. `None`
    /// if a member repeats.
    pub fn from_pairs(
        pairs: Vec<(Bytes, Score)>,
        limits: &Limits,
        check_lengths: bool,
    ) -> Option<ZSetValue> {
        let small = pairs.len() as u64 <= limits.zset_max_listpack_entries
            && (!check_lengths
                || pairs
                    .iter()
                    .all(|(m, _)| m.len() as u64 <= limits.zset_max_listpack_value));
        let mut sorted: Vec<(Score, Bytes)> = pairs.into_iter().map(|(m, s)| (s, m)).collect();
        sorted.sort_unstable_by(|a, b| a.1.cmp(&b.1));
        if sorted.windows(2).any(|w| w[0].1 == w[1].1) {
            return None;
        }
        sorted.sort_unstable();
        Some(if small {
            let packed = sorted
                .into_iter()
                .map(|(s, m)| (m, Score(s.0 + 0.0)))
                .collect();
            ZSetValue::Pack(Arc::new(packed))
        } else {
            ZSetValue::Skip(Skiplist::from_sorted(sorted))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: f64) -> Score {
        Score::new(v).unwrap()
    }

    #[test]
    fn ordered_by_score_then_member_and_converting_at_129() {
        let limits = Limits::default();
        let mut z = ZSetValue::for_first(b"b", &limits);
        z.insert(Bytes::from_static(b"b"), s(1.0), &limits);
        z.insert(Bytes::from_static(b"a"), s(1.0), &limits);
        z.insert(Bytes::from_static(b"c"), s(-0.0), &limits);
        let order: Vec<_> = z.iter().map(|(m, _)| m.clone()).collect();
        assert_eq!(order, [&b"c"[..], b"a", b"b"]);
        for i in 0..125 {
            z.insert(Bytes::from(format!("m{i}")), s(f64::from(i)), &limits);
        }
        assert_eq!((z.encoding(), z.len()), ("listpack", 128));
        z.insert(Bytes::from_static(b"x"), s(0.5), &limits);
        assert_eq!((z.encoding(), z.len()), ("skiplist", 129));
        assert!(z.remove(b"x") && !z.remove(b"x"));
        assert_eq!(z.score(b"a"), Some(s(1.0)));
        assert!(Score::new(f64::NAN).is_none());
    }
}
