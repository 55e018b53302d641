//! The clients' requests and an independent reference of what they mean.
//!
//! The model checker judges a recovered data set against this reference, not against the
//! engine's own command code, so a bug shared by execution and replay cannot hide.
//! Invariant: every write changes the data set, and in each workload distinct prefixes of the
//! writes give distinct data sets (checked by a test below), so "which prefix" is well
//! defined. A request made of several commands (MULTI/EXEC, SELECT) is one write: all of it
//! or none of it must be recovered.

use std::collections::BTreeMap;

use bytes::Bytes;
use model::keyspace::{Entry, Keyspace, Value};

/// Every database as plain bytes (keys of db N > 0 as `dbN:key`; values with their type and
/// absolute expiry): what a recovered data set is compared by.
pub type Data = BTreeMap<Vec<u8>, Vec<u8>>;

/// One request of a command-family workload (the default workload is SET/INCR only).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Step {
    /// `SET k1 <n>`.
    Set,
    /// `MULTI; SET k2 <n>; INCR counter; EXEC`: all or nothing.
    Multi,
    /// `EXPIRE k1 100`: relative, logged as an absolute `PEXPIREAT`.
    Expire,
    /// `SELECT 1; SET k1 <n>; SELECT 0`: a write in the second database.
    Db1,
    /// `RPUSH list <n>`.
    Rpush,
    /// `HSET hash f<n> <n>`.
    Hset,
    /// `DEL k1`.
    Del,
    /// `MULTI; FLUSHALL; SET k2 <n>; EXEC` (the SET keeps the empty data set distinct from the
    /// empty start).
    Flushall,
    /// `GET k1`: a read.
    Get,
}

/// What the clients send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Workload {
    pub keys: u8,
    /// Every write is one EVAL doing a SET and an INCR (logged as MULTI, SET, INCR, EXEC).
    pub scripted: bool,
    /// Request `n` is `steps[(n - 1) % len]`; empty: the SET/INCR workload.
    pub steps: &'static [Step],
}

impl Workload {
    /// Whether request `n` is a read (it never changes the data set).
    pub fn is_read(&self, n: u8) -> bool {
        self.step(n) == Some(Step::Get)
    }

    pub fn step(&self, n: u8) -> Option<Step> {
        let len = self.steps.len();
        (len > 0).then(|| self.steps[(usize::from(n) + len - 1) % len])
    }

    /// Whether some request's meaning depends on the time it ran (a relative EXPIRE).
    pub fn timed(&self) -> bool {
        self.steps.contains(&Step::Expire)
    }

    pub fn has_reads(&self) -> bool {
        self.steps.contains(&Step::Get)
    }
}

/// Seconds a relative EXPIRE sets: far beyond every bounded clock, so nothing expires.
pub const EXPIRE_S: u64 = 100;

/// The script of a scripted write: two writes, so its log record is a MULTI/EXEC block.
pub const SCRIPT: &str = "redis.call('SET',KEYS[1],ARGV[1]); return redis.call('INCR',KEYS[2])";

fn argv(words: &[&str]) -> Vec<Bytes> {
    words.iter().map(|s| Bytes::from(s.to_string())).collect()
}

/// The commands of request `n` (1-based), sent pipelined by one client.
pub fn requests(n: u8, w: Workload) -> Vec<Vec<Bytes>> {
    let v = n.to_string();
    let Some(step) = w.step(n) else {
        return vec![command(n, w)];
    };
    match step {
        Step::Set => vec![argv(&["SET", "k1", &v])],
        Step::Multi => vec![
            argv(&["MULTI"]),
            argv(&["SET", "k2", &v]),
            argv(&["INCR", "counter"]),
            argv(&["EXEC"]),
        ],
        Step::Expire => vec![argv(&["EXPIRE", "k1", &EXPIRE_S.to_string()])],
        Step::Db1 => vec![
            argv(&["SELECT", "1"]),
            argv(&["SET", "k1", &v]),
            argv(&["SELECT", "0"]),
        ],
        Step::Rpush => vec![argv(&["RPUSH", "list", &v])],
        Step::Hset => vec![argv(&["HSET", "hash", &format!("f{v}"), &v])],
        Step::Del => vec![argv(&["DEL", "k1"])],
        Step::Flushall => vec![
            argv(&["MULTI"]),
            argv(&["FLUSHALL"]),
            argv(&["SET", "k2", &v]),
            argv(&["EXEC"]),
        ],
        Step::Get => vec![argv(&["GET", "k1"])],
    }
}

/// The command for write number `n` (1-based) of the SET/INCR workload: scripted, an EVAL
/// that SETs a key to a value never used before and INCRs the counter; otherwise every third
/// write is an INCR (not idempotent: a record replayed twice shows), the others SET a value
/// never used before.
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

/// A short human form of request `n`, for traces.
pub fn describe(n: u8, w: Workload) -> String {
    if w.scripted {
        let argv = command(n, w);
        let [key, value] = [&argv[3], &argv[5]].map(|a| String::from_utf8_lossy(a).into_owned());
        return format!("EVAL (SET {key} {value}; INCR counter)");
    }
    requests(n, w)
        .iter()
        .map(|argv| {
            argv.iter()
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Applies write `n`, executed at `at_ms`, to the reference data set.
pub fn apply(data: &mut Data, n: u8, at_ms: u64, w: Workload) {
    let v = n.to_string().into_bytes();
    match w.step(n) {
        None => apply_strings(data, n, w),
        Some(Step::Set) => set(data, b"k1", &v),
        Some(Step::Multi) => {
            set(data, b"k2", &v);
            incr(data, b"counter");
        }
        Some(Step::Expire) => {
            let value = data.get(&b"k1"[..]).map_or(Vec::new(), |v| strip_ttl(v));
            let at = at_ms + EXPIRE_S * 1000;
            data.insert(b"k1".to_vec(), with_ttl(&value, Some(at)));
        }
        Some(Step::Db1) => set(data, b"db1:k1", &v),
        Some(Step::Rpush) => {
            let old = data.remove(&b"list"[..]).unwrap_or_default();
            let items = old.strip_prefix(b"list".as_slice()).unwrap_or(b"");
            data.insert(b"list".to_vec(), [b"list", items, b" ", &v[..]].concat());
        }
        Some(Step::Hset) => {
            let mut fields = data.get(&b"hash"[..]).map_or(String::new(), |h| {
                String::from_utf8_lossy(&h[4..]).into_owned()
            });
            fields.push_str(&format!(" f{n}={n}"));
            data.insert(b"hash".to_vec(), format!("hash{fields}").into_bytes());
        }
        Some(Step::Del) => {
            data.remove(&b"k1"[..]);
        }
        Some(Step::Flushall) => {
            data.clear();
            set(data, b"k2", &v);
        }
        Some(Step::Get) => {}
    }
}

fn apply_strings(data: &mut Data, n: u8, w: Workload) {
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

/// SET drops any expiry, as Redis's SET without KEEPTTL.
fn set(data: &mut Data, key: &[u8], value: &[u8]) {
    data.insert(key.to_vec(), value.to_vec());
}

/// INCR keeps the expiry.
fn incr(data: &mut Data, key: &[u8]) {
    let (current, at) = data.get(key).map_or((0, None), |v| {
        let (value, at) = split_ttl(v);
        (parse_i64(value), at)
    });
    data.insert(
        key.to_vec(),
        with_ttl(&(current + 1).to_string().into_bytes(), at),
    );
}

const TTL_MARK: &[u8] = b" px=";

fn with_ttl(value: &[u8], at_ms: Option<u64>) -> Vec<u8> {
    match at_ms {
        Some(at) => [value, TTL_MARK, at.to_string().as_bytes()].concat(),
        None => value.to_vec(),
    }
}

fn split_ttl(v: &[u8]) -> (&[u8], Option<u64>) {
    match v.windows(TTL_MARK.len()).position(|w| w == TTL_MARK) {
        Some(i) => {
            let at = std::str::from_utf8(&v[i + TTL_MARK.len()..]).ok();
            (&v[..i], at.and_then(|s| s.parse().ok()))
        }
        None => (v, None),
    }
}

/// The value without its expiry (what GET shows, and what a deadline check ignores).
pub fn strip_ttl(v: &[u8]) -> Vec<u8> {
    split_ttl(v).0.to_vec()
}

fn parse_i64(bytes: &[u8]) -> i64 {
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(i64::MIN)
}

/// An engine's keyspace as [`Data`]: every database, every type, every expiry.
pub fn dump(ks: &Keyspace) -> Data {
    let mut data = Data::new();
    for (index, db) in ks.dbs.iter().enumerate() {
        for stored in db.iter() {
            let key = stored.key();
            let name = if index == 0 {
                key.to_vec()
            } else {
                [format!("db{index}:").as_bytes(), key].concat()
            };
            data.insert(name, render(&stored.entry()));
        }
    }
    data
}

fn render(entry: &Entry) -> Vec<u8> {
    let value = match &entry.value {
        Value::Str(value) => value.to_vec(),
        Value::List(list) => {
            let items: Vec<&[u8]> = list.items.iter().map(|i| i.as_ref()).collect();
            [
                b"list".as_slice(),
                &items
                    .iter()
                    .flat_map(|i| [b" ".as_slice(), i])
                    .collect::<Vec<_>>()
                    .concat(),
            ]
            .concat()
        }
        Value::Hash(hash) => {
            // In field-number order, as the reference appends them (f1 < f2 < ... < f9).
            let mut pairs: Vec<(Vec<u8>, Vec<u8>)> =
                hash.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect();
            pairs.sort_by_key(|(f, _)| (f.len(), f.clone()));
            let mut out = b"hash".to_vec();
            for (f, v) in pairs {
                out.extend([b" ".as_slice(), &f, b"=", &v].concat());
            }
            out
        }
        other => format!("<{}>", other.type_name()).into_bytes(),
    };
    with_ttl(&value, entry.expire_at_ms)
}

/// The longest prefix of `history` (write numbers and the times they ran) whose replay
/// equals `recovered`.
pub fn matching_prefix(history: &[(u8, u64)], w: Workload, recovered: &Data) -> Option<usize> {
    let mut data = Data::new();
    let mut best = (data == *recovered).then_some(0);
    for (i, &(n, at_ms)) in history.iter().enumerate() {
        apply(&mut data, n, at_ms, w);
        if data == *recovered {
            best = Some(i + 1);
        }
    }
    best
}

/// `Data` with every expiry dropped: a recovery that matches a prefix only this way kept the
/// writes but moved a deadline.
pub fn without_ttls(data: &Data) -> Data {
    data.iter()
        .map(|(k, v)| (k.clone(), strip_ttl(v)))
        .collect()
}

/// Like [`matching_prefix`], comparing without expiries.
pub fn matching_prefix_ignoring_ttl(
    history: &[(u8, u64)],
    w: Workload,
    recovered: &Data,
) -> Option<usize> {
    let recovered = without_ttls(recovered);
    let mut data = Data::new();
    let mut best = (data == recovered).then_some(0);
    for (i, &(n, at_ms)) in history.iter().enumerate() {
        apply(&mut data, n, at_ms, w);
        if without_ttls(&data) == recovered {
            best = Some(i + 1);
        }
    }
    best
}

/// How many of `history`'s writes a read of `key` (db 0) run after all of them observed: the
/// length of the shortest prefix after which the key no longer changes.
pub fn observed_by_read(history: &[(u8, u64)], w: Workload, key: &[u8]) -> usize {
    let mut data = Data::new();
    let mut last = 0;
    for (i, &(n, at_ms)) in history.iter().enumerate() {
        let before = data.get(key).cloned();
        apply(&mut data, n, at_ms, w);
        if data.get(key) != before.as_ref() {
            last = i + 1;
        }
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The invariant the judging relies on: distinct prefixes, distinct data sets.
    fn distinct_prefixes(steps: &'static [Step], writes: u8) {
        let w = Workload {
            keys: 2,
            scripted: false,
            steps,
        };
        let history: Vec<(u8, u64)> = (1..=writes)
            .filter(|&n| !w.is_read(n))
            .map(|n| (n, u64::from(n) * 1000))
            .collect();
        let mut seen = vec![Data::new()];
        let mut data = Data::new();
        for &(n, at) in &history {
            apply(&mut data, n, at, w);
            assert!(
                !seen.contains(&data),
                "{steps:?}: write {n} repeats a data set"
            );
            seen.push(data.clone());
        }
    }

    #[test]
    fn every_catalogue_workload_has_distinct_prefixes() {
        for check in crate::catalog::checks() {
            let b = &check.model.bounds;
            if !b.workload().steps.is_empty() {
                distinct_prefixes(b.workload().steps, b.writes);
            }
        }
    }
}
