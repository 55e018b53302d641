//! The script cache: SHA-1 (lower-case hex, as Redis names scripts) → body, for EVALSHA,
//! SCRIPT LOAD / EXISTS / FLUSH.
//!
//! Owns the cache as engine state (it is part of the hashed [`Shared`](super::super::Shared)
//! state the model checker explores); the compiled Lua functions are not (they live beside the
//! VM, outside the engine). Invariant: every entry's key is the SHA-1 of its body, so a cached
//! body is a pure function of its name and a VM may compile it again at any time.

use std::collections::BTreeMap;

use bytes::Bytes;

/// Bodies by the hex SHA-1 of their bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct ScriptCache {
    bodies: BTreeMap<[u8; 40], Bytes>,
}

impl ScriptCache {
    /// Caches `body` and returns its name.
    pub(crate) fn insert(&mut self, body: &Bytes) -> [u8; 40] {
        let sha = sha1hex(body);
        self.bodies.entry(sha).or_insert_with(|| body.clone());
        sha
    }

    /// The body named `sha` (any letter case, as Redis lowers it).
    pub(crate) fn get(&self, sha: &[u8]) -> Option<&Bytes> {
        self.bodies.get(&lower_sha(sha)?)
    }

    /// The body named `sha` with its name in lower case: EVALSHA needs not hash the body again.
    pub(crate) fn get_named(&self, sha: &[u8]) -> Option<([u8; 40], &Bytes)> {
        let key = lower_sha(sha)?;
        self.bodies.get(&key).map(|body| (key, body))
    }

    pub(crate) fn contains(&self, sha: &[u8]) -> bool {
        self.get(sha).is_some()
    }

    pub(crate) fn clear(&mut self) {
        self.bodies.clear();
    }

    pub(crate) fn len(&self) -> usize {
        self.bodies.len()
    }
}

/// `sha` as a cache key: exactly 40 bytes, lower-cased; anything else names no script.
fn lower_sha(sha: &[u8]) -> Option<[u8; 40]> {
    let mut key: [u8; 40] = sha.try_into().ok()?;
    key.make_ascii_lowercase();
    Some(key)
}

/// Redis's `sha1hex`: the SHA-1 of `bytes` as 40 lower-case hex digits.
pub(crate) fn sha1hex(bytes: &[u8]) -> [u8; 40] {
    let hex = sha1_smol::Sha1::from(bytes).digest().to_string();
    hex.as_bytes().try_into().expect("40 hex digits")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_sha1_in_lower_hex_and_lookup_ignores_case() {
        assert_eq!(&sha1hex(b""), b"da39a3ee5e6b4b0d3255bfef95601890afd80709");
        let mut cache = ScriptCache::default();
        let sha = cache.insert(&Bytes::from_static(b"return 1"));
        assert_eq!(&sha, b"e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
        assert!(cache.contains(&sha.to_ascii_uppercase()));
        assert!(!cache.contains(b"e0e1f9"));
        cache.clear();
        assert_eq!(cache.len(), 0);
    }
}
