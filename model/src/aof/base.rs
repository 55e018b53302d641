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
        for stored in db.iter() {
            let (key, entry) = (stored.key_bytes(), stored.entry());
            written += write_value(&key, &entry.value, &mut record, out)?;
            if let Some(at) = entry.expire_at_ms {
                let argv = [b("PEXPIREAT"), key.clone(), Bytes::from(at.to_string())];
                super::record::encode(&argv, &mut record);
            }
            // Bound the staging buffer: a base may be gigabytes.
            if record.len() >= FLUSH_BYTES {
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

/// Staged bytes handed to the writer at once.
const FLUSH_BYTES: usize = 64 * 1024;

/// The commands that rebuild `key` = `value` (`rewriteAppendOnlyFileRio`): `SET`, or batches
/// of at most 64 elements of `RPUSH`, `HMSET`, `SADD` or `ZADD` (scores `%.17g`). Appends to
/// `record`, handing it to `out` whenever it passes 64 KB (a value may hold millions of
/// elements); returns the bytes handed over.
fn write_value<W: Write>(
    key: &Bytes,
    value: &Value,
    record: &mut Vec<u8>,
    out: &mut W,
) -> std::io::Result<u64> {
    let (name, items): (&'static str, Box<dyn Iterator<Item = Vec<Bytes>> + '_>) = match value {
        Value::Str(s) => {
            super::record::encode(&[b("SET"), key.clone(), s.clone()], record);
            return Ok(0);
        }
        Value::Stream(s) => {
            let mut written = 0u64;
            let mut failed = None;
            super::stream_rewrite::rewrite_stream(key, s, &mut |argv| {
                super::record::encode(argv, record);
                if record.len() >= FLUSH_BYTES && failed.is_none() {
                    match out.write_all(record) {
                        Ok(()) => written += record.len() as u64,
                        Err(e) => failed = Some(e),
                    }
                    record.clear();
                }
            });
            return failed.map_or(Ok(written), Err);
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
    let (mut argv, mut in_batch, mut written) = (Vec::new(), 0, 0u64);
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
            if record.len() >= FLUSH_BYTES {
                out.write_all(record)?;
                written += record.len() as u64;
                record.clear();
            }
        }
    }
    if in_batch > 0 {
        super::record::encode(&argv, record);
    }
    Ok(written)
}

fn b(s: &'static str) -> Bytes {
    Bytes::from_static(s.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::super::record::{decode, Decoded};
    use super::*;
    use crate::command::{execute, Ctx, Session, Shared};
    use crate::keyspace::Entry;
    use crate::types::{HashValue, Limits, ListValue};

    /// Goal: a collection is rebuilt by commands of at most 64 elements (130 arguments for a
    /// hash), staged in bounded chunks, and replaying them gives the same values and TTLs.
    #[test]
    fn collections_rebuild_in_batches_of_64() {
        let limits = Limits::default();
        let mut view = Keyspace::new(16);
        let list: ListValue = (0..100_000).map(|i| Bytes::from(format!("e{i}"))).collect();
        let mut hash = HashValue::default();
        for i in 0..513 {
            hash.insert(Bytes::from(format!("f{i}")), Bytes::from("v"), &limits);
        }
        let entry = |value, expire_at_ms| Entry {
            value,
            expire_at_ms,
        };
        view.insert(
            0,
            Bytes::from("l"),
            entry(Value::List(Box::new(list)), Some(1 << 42)),
        );
        view.insert(3, Bytes::from("h"), entry(Value::Hash(hash), None));
        struct Sink(Vec<usize>, Vec<u8>);
        impl Write for Sink {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.push(buf.len());
                self.1.extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let mut out = Sink(Vec::new(), Vec::new());
        let written = encode_resp(&view, &mut out).unwrap();
        assert_eq!(written, out.1.len() as u64);
        assert!(out.0.iter().all(|&n| n < 2 * FLUSH_BYTES), "bounded chunks");
        let (mut replayed, mut shared, mut session) =
            (Keyspace::new(16), Shared::default(), Session::default());
        let mut at = 0;
        let mut hmsets = Vec::new();
        while at < out.1.len() {
            let Decoded::Command { argv, len } = decode(&out.1[at..]) else {
                panic!("record at {at}")
            };
            at += len;
            if argv[0] == "HMSET" {
                hmsets.push(argv.len());
            }
            assert!(
                argv.len() <= 2 + 2 * ITEMS_PER_COMMAND,
                "{} arguments",
                argv.len()
            );
            let ctx = Ctx {
                now_ms: 0,
                loading: true,
                random: 0,
                write_denial: None,
            };
            execute(&mut replayed, &mut shared, &mut session, ctx, &argv);
        }
        assert_eq!(hmsets, [130, 130, 130, 130, 130, 130, 130, 130, 4]);
        assert_eq!(replayed, view);
    }
}
