//! Property tests of the collection codecs: every type in both encodings through DUMP/RESTORE
//! and a whole RDB file, and damage to a payload.
//!
//! Goal: for random lists, hashes, sets and sorted sets — elements around the listpack integer
//! rules, long and empty strings, scores including infinities and -0 — under random encoding
//! limits (so both forms occur): `restore(dump(v))` holds the content of `v` (its form is the
//! loader's choice, as in Redis), a file holding them loads back the same,
//! and a damaged payload is always refused (its CRC-64 footer catches the change).

use bytes::Bytes;
use durakv_model::keyspace::{Entry, Keyspace, Value};
use durakv_model::rdb::{self, payload, LoadOptions, SaveInfo};
use durakv_model::types::{HashValue, Limits, ListValue, Score, SetValue, StreamId, ZSetValue};
use quickcheck::{empty_shrinker, Arbitrary, Gen, TestResult};

#[path = "support/qc_check.rs"]
mod qc_check;
use qc_check::{below, check};

const ELEMENTS: &[&str] = &[
    "0",
    "-1",
    "127",
    "128",
    "-4096",
    "4095",
    "4096",
    "32768",
    "8388608",
    "2147483648",
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775808",
    "007",
    "-0",
    "+1",
    " 1",
    "1.5",
    "",
    "a",
    "\u{0}\r\n",
];

fn element(g: &mut Gen) -> Bytes {
    match below(g, 4) {
        0 => Bytes::from(vec![b'x'; below(g, 300)]),
        1 => Bytes::from((i64::arbitrary(g)).to_string()),
        _ => Bytes::from(ELEMENTS[below(g, ELEMENTS.len())]),
    }
}

fn score(g: &mut Gen) -> Score {
    let value = match below(g, 6) {
        0 => f64::INFINITY,
        1 => f64::NEG_INFINITY,
        2 => -0.0,
        3 => i64::arbitrary(g) as f64,
        _ => f64::arbitrary(g),
    };
    Score::new(value).unwrap_or(Score::new(0.5).expect("not NaN"))
}

/// A value built by inserts under `limits` (so the form follows the conversion rules).
#[derive(Clone, Debug)]
struct Case {
    value: Value,
    limits: Limits,
}

impl Arbitrary for Case {
    fn arbitrary(g: &mut Gen) -> Self {
        let small = below(g, 2) == 0;
        let cap = |g: &mut Gen| if small { below(g, 6) as u64 } else { 512 };
        let limits = Limits {
            hash_max_listpack_entries: cap(g),
            set_max_intset_entries: cap(g),
            zset_max_listpack_entries: cap(g),
            list_max_listpack_size: [-2, -1, 1, 3][below(g, 4)],
            ..Limits::default()
        };
        let n = 1 + below(g, g.size() * 4);
        let value = match below(g, 4) {
            0 => Value::List(Box::new((0..n).map(|_| element(g)).collect::<ListValue>())),
            1 => {
                let mut h = HashValue::default();
                (0..n).for_each(|_| {
                    h.insert(element(g), element(g), &limits);
                });
                Value::Hash(h)
            }
            2 => {
                let first = element(g);
                let mut s = SetValue::for_first(&first);
                s.insert(first, &limits);
                (0..n).for_each(|_| {
                    s.insert(element(g), &limits);
                });
                Value::Set(s)
            }
            _ => {
                let first = element(g);
                let mut z = ZSetValue::for_first(&first, &limits);
                (0..n).for_each(|_| {
                    z.insert(element(g), score(g), &limits);
                });
                Value::ZSet(Box::new(z))
            }
        };
        Case { value, limits }
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        empty_shrinker()
    }
}

/// A value's content, whatever its form: loading re-encodes under the limits as Redis's
/// loader does (a one-member skiplist comes back a listpack), so forms may differ.
fn content(v: &Value) -> (&'static str, Vec<Vec<u8>>) {
    let mut items: Vec<Vec<u8>> = match v {
        Value::Str(s) => vec![s.to_vec()],
        Value::List(l) => l.items.iter().map(|e| e.to_vec()).collect(),
        Value::Hash(h) => h
            .iter()
            .map(|(f, v)| [&f[..], b"=", &v[..]].concat())
            .collect(),
        Value::Set(s) => s.iter().map(|m| m.to_vec()).collect(),
        // Scores compare numerically (-0 == 0: a listpack stores -0 as the integer 0).
        Value::ZSet(z) => z
            .iter()
            .map(|(m, s)| [m.to_vec(), (s.get() + 0.0).to_bits().to_le_bytes().to_vec()].concat())
            .collect(),
        Value::Stream(s) => s
            .range(StreamId::MIN, StreamId::MAX, false)
            .map(|(id, f)| [id.to_raw().to_vec(), f.concat()].concat())
            .collect(),
    };
    if matches!(v, Value::Hash(_) | Value::Set(_)) {
        items.sort();
    }
    (v.type_name(), items)
}

fn same(a: &Value, b: &Value) -> bool {
    content(a) == content(b)
}

fn prop_round_trip(case: Case) -> TestResult {
    let payload = payload::dump(&case.value, &case.limits);
    match payload::restore(&payload, &case.limits) {
        Ok(back) if same(&back, &case.value) => {}
        other => return TestResult::error(format!("{:?} restored as {other:?}", case.value)),
    }
    let mut ks = Keyspace::with_limits(2, case.limits);
    let entry = Entry {
        value: case.value.clone(),
        expire_at_ms: Some(1 << 41),
    };
    ks.insert(1, Bytes::from_static(b"k"), entry);
    let info = SaveInfo {
        aof_base: false,
        ctime_s: 0,
        used_mem: 0,
        compression: true,
        checksum: true,
    };
    let mut bytes = Vec::new();
    rdb::encode(&ks, &info, &mut bytes).expect("a Vec never fails");
    let mut loaded = Keyspace::with_limits(2, case.limits);
    let opts = LoadOptions {
        now_ms: 0,
        drop_expired: false,
    };
    let back = rdb::decode(&bytes, &mut loaded, &opts)
        .map(|_| loaded.dbs[1].get(b"k").map(std::borrow::Cow::into_owned));
    match back {
        Ok(Some(e)) if same(&e.value, &case.value) && e.expire_at_ms == Some(1 << 41) => {
            TestResult::passed()
        }
        other => TestResult::error(format!("file of {:?} loaded as {other:?}", case.value)),
    }
}

fn prop_damage(case: Case, at: usize, xor: u8) -> TestResult {
    let mut payload = payload::dump(&case.value, &case.limits);
    let at = at % payload.len();
    payload[at] ^= xor.max(1);
    match payload::restore(&payload, &case.limits) {
        Err(_) => TestResult::passed(),
        Ok(other) => TestResult::error(format!("damage at {at} loaded {other:?}")),
    }
}

#[test]
fn qc_collections_round_trip() {
    check(
        "qc_collections",
        300,
        40,
        prop_round_trip as fn(Case) -> TestResult,
    );
}

#[test]
fn qc_collection_damage_is_refused() {
    check(
        "qc_collection_damage",
        300,
        20,
        prop_damage as fn(Case, usize, u8) -> TestResult,
    );
}
