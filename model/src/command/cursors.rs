//! Where the key-space walks resume: SCAN's cursors and the active-expiry sweep.
//!
//! Owns the cursor bookkeeping shared between connections. Invariant: at most
//! `SCAN_CURSORS_MAX` SCAN cursors are remembered (the oldest forgotten first), and cursor ids
//! only grow, so a forgotten id is never reissued with another meaning.

use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;

/// Cursors remembered at once; the oldest is forgotten first.
pub(crate) const SCAN_CURSORS_MAX: usize = 1024;

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct ScanCursors {
    /// Cursor id → the last key it visited.
    resume: BTreeMap<u64, Bytes>,
    /// Ids, oldest first.
    order: VecDeque<u64>,
    /// The last id handed out (ids start at 1: 0 means "start" and "done").
    last_id: u64,
}

impl ScanCursors {
    /// Where cursor `id` resumes: `Some(None)` from the start, `None` if unknown.
    pub(crate) fn resume_after(&self, id: u64) -> Option<Option<Bytes>> {
        if id == 0 {
            return Some(None);
        }
        self.resume.get(&id).map(|k| Some(k.clone()))
    }

    pub(crate) fn issue(&mut self, last_visited: Bytes) -> u64 {
        self.last_id += 1;
        let id = self.last_id;
        self.resume.insert(id, last_visited);
        self.order.push_back(id);
        while self.order.len() > SCAN_CURSORS_MAX {
            if let Some(old) = self.order.pop_front() {
                self.resume.remove(&old);
            }
        }
        id
    }
}

/// Where [`active_expire_sweep`] goes on from: after key `after` in db `db`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct SweepCursor {
    pub(crate) db: usize,
    pub(crate) after: Option<Bytes>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_cursors_are_forgotten() {
        let mut cursors = ScanCursors::default();
        let first = cursors.issue(Bytes::from_static(b"a"));
        for _ in 0..SCAN_CURSORS_MAX {
            cursors.issue(Bytes::from_static(b"b"));
        }
        assert_eq!(cursors.resume_after(first), None);
        assert_eq!(cursors.resume.len(), SCAN_CURSORS_MAX);
        assert_eq!(cursors.order.len(), SCAN_CURSORS_MAX);
    }
}
