//! The RESP-format AOF base: a point-in-time view as the commands that rebuild it.
//!
//! Owns the RESP base format: per non-empty database a `SELECT`, then per key the shortest
//! commands that rebuild it (`SET`, then `PEXPIREAT` for a key with a TTL), as Redis's rewrite
//! does. Invariant: replaying the bytes through the loader rebuilds exactly the view, expired
//! keys included (expiry is decided at run time, never while loading).
//! Which format a view is written in is [`crate::view`]'s choice; this file only knows RESP.

use std::io::Write;

use bytes::Bytes;

use crate::keyspace::{Keyspace, Value};

/// Writes `view` as RESP commands to `out`, in chunks of about 64 KB; returns the bytes written.
pub(crate) fn encode_resp<W: Write>(view: &Keyspace, out: &mut W) -> std::io::Result<u64> {
    let mut written = 0u64;
    let mut record = Vec::new();
    for code in view.functions.codes() {
        // As Redis's `rewriteFunctions`: every library first, as the command that loads it.
        super::record::encode(&[b("FUNCTION"), b("LOAD"), code.clone()], &mut record);
    }
    out.write_all(&record)?;
    written += record.len() as u64;
    for (db_index, db) in view.dbs.iter().enumerate() {
        if db.is_empty() {
            continue;
        }
        record.clear();
        super::record::encode(
            &[b("SELECT"), Bytes::from(db_index.to_string())],
            &mut record,
        );
        for (key, entry) in db.entries.iter() {
            let Value::Str(value) = &entry.value;
            super::record::encode(&[b("SET"), key.clone(), value.clone()], &mut record);
            if let Some(at) = entry.expire_at_ms {
                let argv = [b("PEXPIREAT"), key.clone(), Bytes::from(at.to_string())];
                super::record::encode(&argv, &mut record);
            }
            // Bound the staging buffer: a base may be gigabytes.
            if record.len() >= 64 * 1024 {
                out.write_all(&record)?;
                written += record.len() as u64;
                record.clear();
            }
        }
        out.write_all(&record)?;
        written += record.len() as u64;
    }
    Ok(written)
}

fn b(s: &'static str) -> Bytes {
    Bytes::from_static(s.as_bytes())
}
