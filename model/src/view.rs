//! Serialising a point-in-time view: the bytes of an AOF base (RDB preamble or RESP) or of an
//! RDB snapshot, as the engine hands them to the file workers.
//!
//! Owns [`ViewWriter`], the serialiser `Op::WriteView` carries: the keyspace view, the format
//! and the save time, and the one method that turns them into bytes. The runtime's worker
//! thread and SimDisk both call [`ViewWriter::write_to`], so neither knows a file format: the
//! seam between engine and executor is bytes (redb's `StorageBackend` shape). Invariant: the
//! output is a pure function of the writer, written in bounded chunks however large the view
//! (a base may be gigabytes), and its length is what `write_to` returns.

use std::io::{self, Write};

use crate::aof::base::encode_resp;
use crate::keyspace::Keyspace;
use crate::rdb;

/// Format of a serialised point-in-time view.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ViewFormat {
    /// An RDB file (`REDIS0010` ... EOF + CRC-64). `aof_base` sets the `aof-base` AUX field.
    Rdb { aof_base: bool },
    /// RESP commands (`SELECT`, `SET ... `, `PEXPIREAT`), as an AOF base without preamble.
    Resp,
}

/// A point-in-time view and how to write it. Cloning is O(1) (the keyspace is a persistent
/// map), which is what lets the engine take the view and keep serving.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ViewWriter {
    // Field order is the order `Op::WriteView` hashed them in before this type existed; the
    // model checker fingerprints states by hash, so it is kept.
    view: Keyspace,
    format: ViewFormat,
    /// The save time written into an RDB header (`ctime`).
    now_ms: u64,
    /// A replica's master id and offset, written as `repl-id`/`repl-offset` AUX fields.
    repl: Option<(String, u64)>,
}

impl std::hash::Hash for ViewWriter {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.view.hash(state);
        self.format.hash(state);
        self.now_ms.hash(state);
        // Hashed only when set, so every state without replication keeps its fingerprint.
        if let Some(repl) = &self.repl {
            repl.hash(state);
        }
    }
}

impl ViewWriter {
    pub fn new(view: Keyspace, format: ViewFormat, now_ms: u64) -> ViewWriter {
        ViewWriter {
            view,
            format,
            now_ms,
            repl: None,
        }
    }

    /// The same view, saved with a replica's `repl-id`/`repl-offset` (RDB formats only).
    pub fn with_repl(mut self, repl: Option<(String, u64)>) -> ViewWriter {
        self.repl = repl;
        self
    }

    /// Writes the serialised view to `out`, in chunks; returns the number of bytes written.
    pub fn write_to(&self, out: &mut impl Write) -> io::Result<u64> {
        match self.format {
            ViewFormat::Rdb { aof_base } => {
                let info = rdb::SaveInfo {
                    aof_base,
                    ctime_s: self.now_ms / 1000,
                    used_mem: 0,
                    compression: true,
                    checksum: true,
                };
                let repl = self
                    .repl
                    .as_ref()
                    .map(|(id, offset)| (id.as_str(), *offset));
                rdb::encode_with_repl(&self.view, &info, repl, out)
            }
            ViewFormat::Resp => encode_resp(&self.view, out),
        }
    }

    /// What will be written, for logs and counterexample traces: "3 keys as an RDB snapshot".
    pub fn describe(&self) -> String {
        let what = match self.format {
            ViewFormat::Rdb { aof_base: true } => "an RDB-format AOF base",
            ViewFormat::Rdb { aof_base: false } => "an RDB snapshot",
            ViewFormat::Resp => "a RESP-format AOF base",
        };
        format!("{} keys as {what}", self.view.len())
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::keyspace::{Entry, Value};

    fn view(keys: usize) -> Keyspace {
        let mut view = Keyspace::new(16);
        for i in 0..keys {
            let entry = Entry {
                value: Value::Str(Bytes::from(vec![b'v'; 100])),
                expire_at_ms: (i % 2 == 0).then_some(1_700_000_000_000 + i as u64),
            };
            view.insert(i % 3, Bytes::from(format!("key:{i}")), entry);
        }
        view
    }

    /// A sink that records the size of every write it is given.
    #[derive(Default)]
    struct Chunks(Vec<usize>, Vec<u8>);

    impl Write for Chunks {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.push(buf.len());
            self.1.extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// Goal: each format's bytes load back as the view, the count returned is the bytes
    /// written, and a large view leaves in several writes rather than one buffer.
    #[test]
    fn every_format_writes_the_view_in_chunks() {
        let view = view(5000);
        let formats = [
            ViewFormat::Rdb { aof_base: false },
            ViewFormat::Rdb { aof_base: true },
            ViewFormat::Resp,
        ];
        for format in formats {
            let mut out = Chunks::default();
            let len = ViewWriter::new(view.clone(), format, 1_700_000_000_000)
                .write_to(&mut out)
                .unwrap();
            assert_eq!(len, out.1.len() as u64, "{format:?}");
            assert!(out.0.len() > 1, "{format:?} in one write");
            if format == ViewFormat::Resp {
                assert!(out.1.starts_with(b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n"));
                continue;
            }
            let mut loaded = Keyspace::new(16);
            let options = rdb::LoadOptions {
                now_ms: 0,
                drop_expired: false,
            };
            rdb::decode(&out.1, &mut loaded, &options).unwrap();
            assert_eq!(loaded, view, "{format:?}");
        }
    }

    /// Goal: the words of counterexample traces, which `durakv-check` prints, stay as they were.
    #[test]
    fn describe_names_keys_and_format() {
        let writer = |format| ViewWriter::new(view(3), format, 0).describe();
        let rdb_base = writer(ViewFormat::Rdb { aof_base: true });
        assert_eq!(rdb_base, "3 keys as an RDB-format AOF base");
        let snapshot = writer(ViewFormat::Rdb { aof_base: false });
        assert_eq!(snapshot, "3 keys as an RDB snapshot");
        assert_eq!(writer(ViewFormat::Resp), "3 keys as a RESP-format AOF base");
    }
}
