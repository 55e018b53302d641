//! The encoding thresholds of the collection types (Redis 7.0's `*-max-listpack-*` and
//! `set-max-intset-entries` settings), with their defaults and their CONFIG names.
//!
//! Owns the names, aliases, defaults and parsing. Invariant: every conversion decision of
//! [`crate::types`] reads these numbers and nothing else, so CONFIG SET and the config file
//! change behaviour in exactly one place.

/// The thresholds. `Copy`: the keyspace carries one, the configuration another.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Limits {
    /// `list-max-listpack-size` (alias `list-max-ziplist-size`): negative = node bytes
    /// (-1..-5 = 4/8/16/32/64 KB), positive = entries per node. Only shapes RDB nodes.
    pub list_max_listpack_size: i64,
    /// `list-compress-depth`: accepted and shown; durakv never compresses list nodes.
    pub list_compress_depth: i64,
    /// `hash-max-listpack-entries` (alias `hash-max-ziplist-entries`).
    pub hash_max_listpack_entries: u64,
    /// `hash-max-listpack-value` (alias `hash-max-ziplist-value`), in bytes, inclusive.
    pub hash_max_listpack_value: u64,
    /// `set-max-intset-entries`.
    pub set_max_intset_entries: u64,
    /// `zset-max-listpack-entries` (alias `zset-max-ziplist-entries`).
    pub zset_max_listpack_entries: u64,
    /// `zset-max-listpack-value` (alias `zset-max-ziplist-value`), in bytes, inclusive.
    pub zset_max_listpack_value: u64,
    /// Redis's quicklist `packed_threshold` (DEBUG QUICKLIST-PACKED-THRESHOLD, not a config):
    /// list elements of at least this many bytes get a PLAIN node of their own in an RDB.
    pub list_packed_threshold_bytes: u64,
    /// `stream-node-max-bytes`: a stream node takes no more entries past this estimate.
    pub stream_node_max_bytes: u64,
    /// `stream-node-max-entries`: entries (deleted ones included) per stream node.
    pub stream_node_max_entries: u64,
}

impl Default for Limits {
    /// Redis 7.0.15's defaults (`src/config.c`; hash entries is 512, not 128).
    fn default() -> Self {
        Limits {
            list_max_listpack_size: -2,
            list_compress_depth: 0,
            hash_max_listpack_entries: 512,
            hash_max_listpack_value: 64,
            set_max_intset_entries: 512,
            zset_max_listpack_entries: 128,
            zset_max_listpack_value: 64,
            list_packed_threshold_bytes: 1 << 30,
            stream_node_max_bytes: 4096,
            stream_node_max_entries: 100,
        }
    }
}

/// Each setting's name and its 7.0 alias (CONFIG GET answers both, CONFIG SET takes both).
const NAMES: [(&str, Option<&str>); 9] = [
    ("list-max-listpack-size", Some("list-max-ziplist-size")),
    ("list-compress-depth", None),
    (
        "hash-max-listpack-entries",
        Some("hash-max-ziplist-entries"),
    ),
    ("hash-max-listpack-value", Some("hash-max-ziplist-value")),
    ("set-max-intset-entries", None),
    (
        "zset-max-listpack-entries",
        Some("zset-max-ziplist-entries"),
    ),
    ("zset-max-listpack-value", Some("zset-max-ziplist-value")),
    ("stream-node-max-bytes", None),
    ("stream-node-max-entries", None),
];

impl Limits {
    /// The node limits of streams.
    pub fn stream_nodes(&self) -> super::stream::NodeLimits {
        super::stream::NodeLimits {
            entries: self.stream_node_max_entries,
            bytes: self.stream_node_max_bytes,
        }
    }

    fn values(&self) -> [i64; 9] {
        let u = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        [
            self.list_max_listpack_size,
            self.list_compress_depth,
            u(self.hash_max_listpack_entries),
            u(self.hash_max_listpack_value),
            u(self.set_max_intset_entries),
            u(self.zset_max_listpack_entries),
            u(self.zset_max_listpack_value),
            u(self.stream_node_max_bytes),
            u(self.stream_node_max_entries),
        ]
    }

    /// Every name (and alias) with its value, for CONFIG GET.
    pub fn settings(&self) -> Vec<(String, String)> {
        let mut all = Vec::new();
        for ((name, alias), value) in NAMES.iter().zip(self.values()) {
            all.push((name.to_string(), value.to_string()));
            if let Some(alias) = alias {
                all.push((alias.to_string(), value.to_string()));
            }
        }
        all
    }

    /// Applies `name` (or its alias) = `value`. `None`: not one of these settings; `Some(Err)`:
    /// Redis's reason for refusing the value.
    pub fn set(&mut self, name: &str, value: &str) -> Option<Result<(), String>> {
        let index = NAMES
            .iter()
            .position(|(n, alias)| *n == name || *alias == Some(name))?;
        let Ok(n) = value.parse::<i64>() else {
            return Some(Err(
                "argument couldn't be parsed into an integer".to_string()
            ));
        };
        let unsigned = || {
            u64::try_from(n).map_err(|_| {
                "argument must be between 0 and 9223372036854775807 inclusive".to_string()
            })
        };
        let result = match index {
            0 if (-5..=i64::from(i32::MAX)).contains(&n) && n != 0 => {
                self.list_max_listpack_size = n;
                Ok(())
            }
            0 => Err("argument must be between -5 and 2147483647 inclusive".to_string()),
            1 if n >= 0 => {
                self.list_compress_depth = n;
                Ok(())
            }
            1 => Err("argument must be between 0 and 2147483647 inclusive".to_string()),
            2 => unsigned().map(|n| self.hash_max_listpack_entries = n),
            3 => unsigned().map(|n| self.hash_max_listpack_value = n),
            4 => unsigned().map(|n| self.set_max_intset_entries = n),
            5 => unsigned().map(|n| self.zset_max_listpack_entries = n),
            6 => unsigned().map(|n| self.zset_max_listpack_value = n),
            7 => unsigned().map(|n| self.stream_node_max_bytes = n),
            _ => unsigned().map(|n| self.stream_node_max_entries = n),
        };
        Some(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_aliases_and_refusals() {
        let mut limits = Limits::default();
        assert_eq!(limits.hash_max_listpack_entries, 512);
        assert_eq!(limits.set("hash-max-ziplist-entries", "7"), Some(Ok(())));
        assert_eq!(limits.hash_max_listpack_entries, 7);
        assert!(limits.set("zset-max-listpack-value", "x").unwrap().is_err());
        assert!(limits.set("set-max-intset-entries", "-1").unwrap().is_err());
        assert!(limits.set("list-max-listpack-size", "-6").unwrap().is_err());
        assert_eq!(limits.set("list-max-listpack-size", "128"), Some(Ok(())));
        assert_eq!(limits.set("appendonly", "yes"), None);
        let settings = limits.settings();
        assert!(settings.contains(&("hash-max-listpack-entries".into(), "7".into())));
        assert!(settings.contains(&("hash-max-ziplist-entries".into(), "7".into())));
    }
}
