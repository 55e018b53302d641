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
use crate::types::float::format_g17;

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
        for (key, entry) in db.iter() {
            write_value(key, &entry.value, &mut record);
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

/// Redis's `AOF_REWRITE_ITEMS_PER_CMD`: elements per rebuilding command.
const ITEMS_PER_COMMAND: usize = 64;

/// The commands that rebuild `key` = `value` (`rewriteAppendOnlyFileRio`): `SET`, or batches
/// of at most 64 elements of `RPUSH`, `HMSET`, `SADD` or `ZADD` (scores `%.17g`).
fn write_value(key: &Bytes, value: &Value, record: &mut Vec<u8>) {
    let (name, items): (&'static str, Box<dyn Iterator<Item = Vec<Bytes>> + '_>) = match value {
        Value::Str(s) => {
            super::record::encode(&[b("SET"), key.clone(), s.clone()], record);
            return;
        }
        Value::List(l) => ("RPUSH", Box::new(l.items.iter().map(|i| vec![i.clone()]))),
        Value::Hash(h) => (
            "HMSET",
            Box::new(h.iter().map(|(f, v)| vec![f.clone(), v.clone()])),
        ),
        Value::Set(s) => ("SADD", Box::new(s.iter().map(|m| vec![m]))),
        Value::ZSet(z) => (
            "ZADD",
            Box::new(
                z.iter()
                    .map(|(m, s)| vec![Bytes::from(format_g17(s.get())), m.clone()]),
            ),
        ),
    };
    let mut argv = Vec::new();
    let mut in_batch = 0;
    for item in items {
        if in_batch == 0 {
            argv.clear();
            argv.push(b(name));
            argv.push(key.clone());
        }
        argv.extend(item);
        in_batch += 1;
        if in_batch == ITEMS_PER_COMMAND {
            super::record::encode(&argv, record);
            in_batch = 0;
        }
    }
    if in_batch > 0 {
        super::record::encode(&argv, record);
    }
}

fn b(s: &'static str) -> Bytes {
    Bytes::from_static(s.as_bytes())
}
