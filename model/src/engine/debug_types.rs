//! The DEBUG subcommands about values that Redis's own type tests use: DEBUG OBJECT, DEBUG
//! RELOAD and DEBUG QUICKLIST-PACKED-THRESHOLD.
//!
//! Owns their answers. Invariants: DEBUG OBJECT reports only what durakv knows (encoding and
//! serialized length are real; there is no address, LRU clock or node chain, shown as 0);
//! DEBUG RELOAD passes every value through the RDB codec under the live limits, which is
//! what a save and load would do to the data (without writing `dump.rdb`, unlike Redis).

use bytes::Bytes;

use crate::keyspace::{Stored, Value, ValueRef};
use crate::rdb::payload;
use crate::resp::Frame;

use super::clients::ClientId;
use super::Engine;

impl Engine {
    /// DEBUG OBJECT key: Redis's status line, with the fields durakv can fill.
    pub(super) fn debug_object(&self, client: ClientId, key: &[u8]) -> Frame {
        let db = self.clients.session(client).map_or(0, |s| s.db);
        let Some(entry) = self.keyspace.dbs[db].get(key) else {
            return Frame::error("ERR no such key");
        };
        let encoding = match &entry.value {
            Value::Str(s) if s.len() <= 44 => "embstr",
            Value::Str(_) => "raw",
            other => other.collection_encoding().unwrap_or("raw"),
        };
        let limits = &self.keyspace.limits;
        // The RDB payload without its 10-byte footer and type byte.
        let serialized = payload::dump(&entry.value, limits).len().saturating_sub(11);
        let mut text = format!(
            "Value at:0x0 refcount:1 encoding:{encoding} serializedlength:{serialized} lru:0 \
             lru_seconds_idle:0"
        );
        if let Value::List(list) = &entry.value {
            text.push_str(&format!(
                " ql_nodes:1 ql_avg_node:{}.00 ql_listpack_max:{} ql_compressed:0 \
                 ql_uncompressed_size:{serialized}",
                list.len(),
                limits.list_max_listpack_size
            ));
        }
        Frame::Simple(text)
    }

    /// DEBUG RELOAD: every value re-read from its RDB form under the live limits (compact
    /// forms come back where they fit, as after a restart).
    pub(super) fn debug_reload(&mut self) -> Frame {
        let limits = self.keyspace.limits;
        for db in &mut self.keyspace.dbs {
            // Collections only: a string has one form, and `get_mut` would unpack it.
            let keys: Vec<Bytes> = db
                .iter()
                .filter(|s| matches!(s.value(), ValueRef::Other(_)))
                .map(Stored::key_bytes)
                .collect();
            for key in keys {
                let Some(entry) = db.get_mut(&key) else {
                    continue;
                };
                if matches!(entry.value, Value::Str(_)) {
                    continue;
                }
                match payload::restore(&payload::dump(&entry.value, &limits), &limits) {
                    Ok(value) => entry.value = value,
                    Err(e) => {
                        return Frame::error(format!("ERR DEBUG RELOAD failed on a value: {e:?}"))
                    }
                }
            }
        }
        Frame::ok()
    }

    /// DEBUG QUICKLIST-PACKED-THRESHOLD size: elements from this size get a node of their own
    /// when a list is written (0 restores the 1 GB default).
    pub(super) fn debug_packed_threshold(&mut self, arg: &[u8]) -> Frame {
        let text = String::from_utf8_lossy(arg);
        match crate::config::parse_memory(&text) {
            Ok(0) => self.keyspace.limits.list_packed_threshold_bytes = 1 << 30,
            Ok(n) => self.keyspace.limits.list_packed_threshold_bytes = n,
            Err(_) => {
                return Frame::error(
                    "ERR argument must be a memory value bigger than 1 and smaller than 4gb",
                )
            }
        }
        Frame::ok()
    }
}
