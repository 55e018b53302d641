//! The clients' writes and an independent reference of what they mean.
//!
//! The model checker judges a recovered data set against this reference, not against the
//! engine's own command code, so a bug shared by execution and replay cannot hide.
//! Invariant: every write changes the data set (SET of a fresh value, or INCR, or a script
//! doing both), so distinct prefixes of the history give distinct data sets and "which prefix"
//! is well defined. A scripted write is one write: all of it or none of it must be recovered.

use std::collections::BTreeMap;

use bytes::Bytes;
use model::keyspace::{Keyspace, Value};

/// Database 0 as plain bytes: what the recovered data set is compared by.
pub type Data = BTreeMap<Vec<u8>, Vec<u8>>;

/// What the clients write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Workload {
    pub keys: u8,
    /// Every write is one EVAL doing a SET and an INCR (logged as MULTI, SET, INCR, EXEC).
    pub scripted: bool,
}

/// The script of a scripted write: two writes, so its log record is a MULTI/EXEC block.
pub const SCRIPT: &str = "redis.call('SET',KEYS[1],ARGV[1]); return redis.call('INCR',KEYS[2])";

/// The command for write number `n` (1-based): scripted, an EVAL that SETs a key to a value
/// never used before and INCRs the counter; otherwise every third write is an INCR (not
/// idempotent: a record replayed twice shows), the others SET a value never used before.
pub fn command(n: u8, w: Workload) -> Vec<Bytes> {
    let key = format!("k{}", n % w.keys.max(1));
    if w.scripted {
        let words = ["EVAL", SCRIPT, "2", &key, "counter", &n.to_string()];
        return words.iter().map(|s| Bytes::from(s.to_string())).collect();
    }
    if n.is_multiple_of(3) {
        vec![Bytes::from_static(b"INCR"), Bytes::from_static(b"counter")]
    } else {
        vec![
            Bytes::from_static(b"SET"),
            Bytes::from(key),
            Bytes::from(n.to_string()),
        ]
    }
}

/// A short human form of write `n`, for traces.
pub fn describe(n: u8, w: Workload) -> String {
    if w.scripted {
        let argv = command(n, w);
        let [key, value] = [&argv[3], &argv[5]].map(|a| String::from_utf8_lossy(a).into_owned());
        return format!("EVAL (SET {key} {value}; INCR counter)");
    }
    command(n, w)
        .iter()
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Applies write `n` to the reference data set.
pub fn apply(data: &mut Data, n: u8, w: Workload) {
    let argv = command(n, w);
    if w.scripted {
        data.insert(argv[3].to_vec(), argv[5].to_vec());
        incr(data, &argv[4]);
    } else if argv[0].as_ref() == b"INCR" {
        incr(data, &argv[1]);
    } else {
        data.insert(argv[1].to_vec(), argv[2].to_vec());
    }
}

fn incr(data: &mut Data, key: &[u8]) {
    let current = data.get(key).map_or(0, |v| parse_i64(v));
    data.insert(key.to_vec(), (current + 1).to_string().into_bytes());
}

fn parse_i64(bytes: &[u8]) -> i64 {
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(i64::MIN)
}

/// Database 0 of an engine's keyspace (the model's writes never expire and never leave db 0;
/// any other database holding keys is itself a difference, so it is folded in by name).
pub fn dump(ks: &Keyspace) -> Data {
    let mut data = Data::new();
    for (index, db) in ks.dbs.iter().enumerate() {
        for (key, entry) in db.iter() {
            // The model writes strings only; any other type is itself a difference.
            let value = match &entry.value {
                Value::Str(value) => value.to_vec(),
                other => format!("<{}>", other.type_name()).into_bytes(),
            };
            let name = if index == 0 {
                key.to_vec()
            } else {
                format!("db{index}:").into_bytes()
            };
            data.insert(name, value);
        }
    }
    data
}

/// The longest prefix of `history` (write numbers) whose replay equals `recovered`.
pub fn matching_prefix(history: &[u8], w: Workload, recovered: &Data) -> Option<usize> {
    let mut data = Data::new();
    let mut best = (data == *recovered).then_some(0);
    for (i, &n) in history.iter().enumerate() {
        apply(&mut data, n, w);
        if data == *recovered {
            best = Some(i + 1);
        }
    }
    best
}
