//! Loading `dump.rdb` at start (with the AOF off): read it whole, decode it into the keyspace.
//!
//! Owns the bytes read so far. Invariants: a missing file is an empty start; anything
//! unreadable — including a zero-length file or bytes after the checksum — refuses start-up
//! naming the file and the offset; expired keys are dropped while loading, as Redis does.

use crate::command;
use crate::config::Config;
use crate::io::{EffectId, IoResult, Lane, Op, Owner};
use crate::keyspace::Keyspace;
use crate::rdb;

use super::outbox::Outbox;
use super::phase::StartError;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct RdbLoad {
    buf: Vec<u8>,
    inflight: Option<EffectId>,
    /// The file's `repl-id`/`repl-offset`, once loaded (a replica's PSYNC after a restart).
    pub(crate) repl_aux: Option<(String, u64)>,
}

/// One step of loading `dump.rdb`.
pub(crate) enum RdbProgress {
    Continue,
    /// Loaded `keys` keys; `found` is false when there was no file.
    Loaded {
        keys: u64,
        found: bool,
    },
    Refused(StartError),
}

impl RdbLoad {
    pub(crate) fn begin(config: &Config, out: &mut Outbox) -> RdbLoad {
        let mut load = RdbLoad {
            buf: Vec::new(),
            inflight: None,
            repl_aux: None,
        };
        load.read(config, out);
        load
    }

    fn read(&mut self, config: &Config, out: &mut Outbox) {
        let op = Op::Read {
            path: config.dbfilename.clone(),
            offset: self.buf.len() as u64,
            len_max: config.load_chunk_bytes,
        };
        self.inflight = Some(out.emit(Owner::RdbLoad, Lane::Log, op));
    }

    /// The read in flight completed.
    pub(crate) fn handle_io(
        &mut self,
        now_ms: u64,
        result: IoResult,
        config: &Config,
        keyspace: &mut Keyspace,
        out: &mut Outbox,
    ) -> RdbProgress {
        self.inflight = None;
        let file = config.dbfilename.clone();
        let refuse = |reason: String, offset: Option<u64>| StartError {
            file: file.clone(),
            offset,
            reason,
        };
        let outcome = match result {
            IoResult::NotFound => {
                return RdbProgress::Loaded {
                    keys: 0,
                    found: false,
                }
            }
            IoResult::Read { bytes, eof } => {
                self.buf.extend_from_slice(&bytes);
                if !eof {
                    self.read(config, out);
                    return RdbProgress::Continue;
                }
                decode_rdb(&self.buf, keyspace, now_ms)
                    .map(|(keys, repl)| {
                        self.repl_aux = repl;
                        keys
                    })
                    .map_err(|(offset, reason)| refuse(reason, offset))
            }
            IoResult::Failed(e) => Err(refuse(format!("cannot read: {}", e.message), None)),
            other => Err(refuse(format!("unexpected {other:?}"), None)),
        };
        match outcome {
            Ok(keys) => RdbProgress::Loaded { keys, found: true },
            Err(e) => RdbProgress::Refused(e),
        }
    }
}

/// The keys loaded and the file's replication AUX fields.
type Decoded = (u64, Option<(String, u64)>);

fn decode_rdb(
    bytes: &[u8],
    keyspace: &mut Keyspace,
    now_ms: u64,
) -> Result<Decoded, (Option<u64>, String)> {
    if bytes.is_empty() {
        return Err((Some(0), "zero-length RDB file".to_string()));
    }
    let opts = rdb::LoadOptions {
        now_ms,
        drop_expired: true,
    };
    let loaded =
        rdb::decode(bytes, keyspace, &opts).map_err(|e| (Some(e.offset), rdb_reason(&e)))?;
    if loaded.end_offset != bytes.len() as u64 {
        return Err((
            Some(loaded.end_offset),
            "unexpected bytes after the RDB checksum".to_string(),
        ));
    }
    command::load_libraries(&mut keyspace.functions, &loaded.functions).map_err(|e| (None, e))?;
    Ok((loaded.keys_loaded, loaded.repl))
}

/// An RDB error's reason without its trailing "at offset N" (the start-up error names it).
pub(crate) fn rdb_reason(e: &rdb::RdbError) -> String {
    let suffix = format!(" at offset {}", e.offset);
    e.reason
        .strip_suffix(&suffix)
        .unwrap_or(&e.reason)
        .to_string()
}
