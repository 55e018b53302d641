//! The set type: an intset-like compact form for integer members and a hashtable-like large
//! form (Redis 7.0's `t_set.c`; the 7.2 set listpack does not exist in 7.0).
//!
//! Owns the representation and the conversion rule: a set starts as `intset` iff its first
//! member is a canonical int64, and becomes a `hashtable`, for good, on a member that is not
//! or once it holds more than `set-max-intset-entries` members. Invariants: the compact form is
//! sorted ascending without repeats (its RDB byte order); cloning is O(1) and a write to a
//! clone copies at most the compact vector or one path of the persistent set.

use std::sync::Arc;

use super::field_table::FieldTable;
use super::int::canonical_i64;
use super::limits::Limits;
use bytes::Bytes;

/// A set value.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum SetValue {
    /// `intset`: sorted, unique.
    Ints(Arc<Vec<i64>>),
    /// `hashtable`: a persistent set in (member hash, member) order (`field_table.rs`):
    /// lookups compare integers; iteration is deterministic.
    Table(FieldTable<()>),
}

impl SetValue {
    /// An empty set of the form Redis's `setTypeCreate` picks for its first member.
    pub fn for_first(member: &[u8]) -> SetValue {
        match canonical_i64(member) {
            Some(_) => SetValue::Ints(Arc::default()),
            None => SetValue::Table(FieldTable::default()),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            SetValue::Ints(ints) => ints.len(),
            SetValue::Table(set) => set.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `OBJECT ENCODING`.
    pub fn encoding(&self) -> &'static str {
        match self {
            SetValue::Ints(_) => "intset",
            SetValue::Table(_) => "hashtable",
        }
    }

    pub fn contains(&self, member: &[u8]) -> bool {
        match self {
            SetValue::Ints(ints) => {
                canonical_i64(member).is_some_and(|n| ints.binary_search(&n).is_ok())
            }
            SetValue::Table(set) => set.contains_key(member),
        }
    }

    /// Every member as bytes (integers in decimal), in the form's order.
    pub fn iter(&self) -> Box<dyn Iterator<Item = Bytes> + '_> {
        match self {
            SetValue::Ints(ints) => Box::new(ints.iter().map(|n| Bytes::from(n.to_string()))),
            SetValue::Table(set) => Box::new(set.iter().map(|(m, _)| m.clone())),
        }
    }

    /// Redis's `setTypeAdd`; whether the member is new.
    pub fn insert(&mut self, member: Bytes, limits: &Limits) -> bool {
        if let SetValue::Ints(ints) = self {
            match canonical_i64(&member) {
                Some(n) => {
                    let Err(at) = ints.binary_search(&n) else {
                        return false;
                    };
                    Arc::make_mut(ints).insert(at, n);
                    if ints.len() as u64 > limits.set_max_intset_entries {
                        self.convert();
                    }
                    return true;
                }
                None => self.convert(),
            }
        }
        match self {
            SetValue::Table(set) => set.insert(member, ()).is_none(),
            SetValue::Ints(_) => unreachable!("converted above"),
        }
    }

    /// Removes `member`; whether it was there. A table stays a table.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match self {
            SetValue::Ints(ints) => {
                let Some(Ok(at)) = canonical_i64(member).map(|n| ints.binary_search(&n)) else {
                    return false;
                };
                Arc::make_mut(ints).remove(at);
                true
            }
            SetValue::Table(set) => set.remove(member).is_some(),
        }
    }

    /// To the large form (one way).
    pub fn convert(&mut self) {
        if let SetValue::Ints(_) = self {
            *self = SetValue::Table(self.iter().map(|m| (m, ())).collect());
        }
    }

    /// A set loaded from a plain RDB set (type 2): an intset iff small and all integers, as
    /// Redis's loader. `None` if a member repeats.
    pub fn from_members(members: Vec<Bytes>, limits: &Limits) -> Option<SetValue> {
        let count = members.len();
        let ints: Option<Vec<i64>> = members.iter().map(|m| canonical_i64(m)).collect();
        match ints {
            Some(mut ints) if count as u64 <= limits.set_max_intset_entries => {
                ints.sort_unstable();
                ints.dedup();
                (ints.len() == count).then(|| SetValue::Ints(Arc::new(ints)))
            }
            _ => {
                let set: FieldTable<()> = members.into_iter().map(|m| (m, ())).collect();
                (set.len() == count).then_some(SetValue::Table(set))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intset_until_a_string_or_too_many() {
        let limits = Limits::default();
        let mut s = SetValue::for_first(b"1");
        for i in 0..512 {
            s.insert(Bytes::from(i.to_string()), &limits);
        }
        assert_eq!((s.encoding(), s.len()), ("intset", 512));
        assert!(!s.insert(Bytes::from_static(b"7"), &limits));
        s.insert(Bytes::from_static(b"512"), &limits);
        assert_eq!(s.encoding(), "hashtable");
        let mut s = SetValue::for_first(b"1");
        s.insert(Bytes::from_static(b"1"), &limits);
        s.insert(Bytes::from_static(b"007"), &limits);
        assert_eq!((s.encoding(), s.len()), ("hashtable", 2));
        assert!(s.contains(b"1") && s.contains(b"007") && !s.contains(b"7"));
        assert_eq!(SetValue::for_first(b"a").encoding(), "hashtable");
    }
}
