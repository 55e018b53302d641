//! Round trips and damage for every collection encoding through the whole RDB codec, DUMP /
//! RESTORE and the loader's re-encoding rules.

use bytes::Bytes;

use super::payload::{dump, restore};
use super::*;
use crate::keyspace::{Entry, Keyspace, Value};
use crate::types::{HashValue, Limits, ListValue, Score, SetValue, ZSetValue};

fn b(s: impl ToString) -> Bytes {
    Bytes::from(s.to_string())
}

/// One value of every type in both forms (and lists with long and integer elements).
pub(crate) fn values() -> Vec<(&'static str, Value)> {
    let limits = Limits::default();
    let mut out = Vec::new();
    let list: ListValue = (0..1000)
        .map(|i| {
            if i % 3 == 0 {
                b(i * 7919)
            } else {
                b(format!("item-{i}-{}", "x".repeat(i % 50)))
            }
        })
        .collect();
    out.push(("list", Value::List(Box::new(list))));
    out.push((
        "short list",
        Value::List(Box::new(["a", "-5", "", "007"].iter().map(b).collect())),
    ));
    for (name, n) in [("small hash", 5), ("large hash", 600)] {
        let mut h = HashValue::default();
        for i in 0..n {
            h.insert(b(format!("f{i}")), b(i), &limits);
        }
        out.push((name, Value::Hash(h)));
    }
    for (name, members) in [
        ("intset", vec!["1", "-70000", "5000000000"]),
        ("set", vec!["a", "1", "b"]),
    ] {
        let mut s = SetValue::for_first(members[0].as_bytes());
        for m in members {
            s.insert(b(m), &limits);
        }
        out.push((name, Value::Set(s)));
    }
    for (name, n) in [("small zset", 10), ("large zset", 200)] {
        let mut z = ZSetValue::for_first(b"m", &limits);
        for i in 0..n {
            let score = [0.1 * f64::from(i), f64::from(i), f64::INFINITY, 1e20][i as usize % 4];
            z.insert(b(format!("m{i}")), Score::new(score).unwrap(), &limits);
        }
        out.push((name, Value::ZSet(Box::new(z))));
    }
    out
}

fn keyspace() -> Keyspace {
    let mut ks = Keyspace::new(16);
    for (i, (name, value)) in values().into_iter().enumerate() {
        let expire_at_ms = (i % 2 == 0).then_some(1_900_000_000_000);
        ks.insert(
            i % 2,
            b(name),
            Entry {
                value,
                expire_at_ms,
            },
        );
    }
    ks
}

#[test]
fn every_encoding_round_trips_through_a_file() {
    let ks = keyspace();
    for compression in [false, true] {
        let info = SaveInfo {
            aof_base: false,
            ctime_s: 0,
            used_mem: 0,
            compression,
            checksum: true,
        };
        let mut bytes = Vec::new();
        encode(&ks, &info, &mut bytes).unwrap();
        let mut loaded = Keyspace::new(16);
        let opts = LoadOptions {
            now_ms: 0,
            drop_expired: false,
        };
        decode(&bytes, &mut loaded, &opts).unwrap();
        assert_eq!(loaded, ks);
    }
}

#[test]
fn every_encoding_round_trips_through_dump() {
    let limits = Limits::default();
    for (name, value) in values() {
        assert_eq!(
            restore(&dump(&value, &limits), &limits),
            Ok(value),
            "{name}"
        );
    }
}

/// Goal: the loader re-encodes under the live limits, as Redis's `rdbLoadObject`: blobs by
/// count only, plain forms by count and length.
#[test]
fn loading_re_encodes_under_the_limits() {
    let defaults = Limits::default();
    let small = Limits {
        hash_max_listpack_entries: 2,
        set_max_intset_entries: 1,
        zset_max_listpack_entries: 2,
        ..defaults
    };
    for (name, value) in values() {
        let back = restore(&dump(&value, &defaults), &small).unwrap();
        let expected = match (&value, value.elements()) {
            (Value::Hash(_), n) if n > 2 => "hashtable",
            (Value::Set(_), n) if n > 1 => "hashtable",
            (Value::ZSet(_), n) if n > 2 => "skiplist",
            _ => value.collection_encoding().unwrap(),
        };
        assert_eq!(back.collection_encoding(), Some(expected), "{name}");
        assert_eq!(back.elements(), value.elements(), "{name}");
    }
}

#[test]
fn damaged_payloads_are_refused_never_a_panic() {
    let limits = Limits::default();
    for (_, value) in values() {
        let body = {
            let p = dump(&value, &limits);
            p[..p.len() - 10].to_vec()
        };
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..300 {
            let mut bad = body.clone();
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let at = (x % bad.len() as u64) as usize;
            bad[at] ^= (x >> 32) as u8 | 1;
            let _ = decode::decode_value(&bad, &limits);
            let _ = decode::decode_value(&bad[..at], &limits);
        }
    }
}
