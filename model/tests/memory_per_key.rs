//! What a key costs in resident memory, measured under the keyspace.
//!
//! Owns the memory budget per key of the keyspace's layout (README, "what a key costs"). It
//! fills a database the way loading does (keys `key:N`, 100-byte string values, as
//! `bench/persistence.sh`), reads the growth of the process's resident memory, and holds the
//! layout to its budget: the bytes per key must not grow past `BUDGET_BYTES_PER_KEY`, and
//! reading every key must not make them grow (a read that leaves a block behind for each key
//! it touched is a per-key cost too). The breakdown by allocation comes from heaptrack on the
//! server (README); this test keeps the total honest without an allocator hook (the workspace
//! forbids `unsafe`, which a counting `GlobalAlloc` needs).

use bytes::Bytes;
use durakv_model::keyspace::{Entry, Keyspace, Value};

/// The process's resident memory in bytes (Linux: VmRSS of /proc/self/status).
fn rss_bytes() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("Linux /proc");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .expect("a VmRSS line");
    let kb: usize = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("VmRSS in kB");
    kb * 1024
}

/// Keys the test fills: enough that the per-key cost dwarfs the allocator's noise and the
/// trie's top levels are full as at 2 M keys.
const KEYS: u64 = 500_000;
const VALUE_BYTES: usize = 100;
/// The layout's budget in resident bytes per key (keys `key:N`, 100-byte values).
const BUDGET_BYTES_PER_KEY: usize = 195;

fn fill(ks: &mut Keyspace) {
    for n in 0..KEYS {
        // Exact-size blocks, as the loader's strings are.
        let key = Bytes::copy_from_slice(format!("key:{n}").as_bytes());
        let mut value = format!("value:{n}").into_bytes();
        value.resize(VALUE_BYTES, 0);
        let entry = Entry {
            value: Value::Str(Bytes::copy_from_slice(&value)),
            expire_at_ms: None,
        };
        ks.insert(0, key, entry);
    }
}

#[test]
fn a_string_key_stays_within_its_memory_budget() {
    let mut ks = Keyspace::new(1);
    let before = rss_bytes();
    fill(&mut ks);
    let per_key = (rss_bytes() - before) / KEYS as usize;
    println!("{per_key} B/key resident after loading {KEYS} keys");

    // Read every key as GET does (a copy of the entry that then goes away).
    for n in 0..KEYS {
        let key = format!("key:{n}");
        let read = ks.dbs[0].get(key.as_bytes()).map(|e| e.value.clone());
        assert!(matches!(read, Some(Value::Str(v)) if v.len() == VALUE_BYTES));
    }
    let per_key_read = (rss_bytes() - before) / KEYS as usize;
    println!("{per_key_read} B/key resident after reading every key");

    assert!(
        per_key <= BUDGET_BYTES_PER_KEY,
        "{per_key} B/key over the budget of {BUDGET_BYTES_PER_KEY}"
    );
    assert!(
        per_key_read <= per_key + 2,
        "reads left {} B/key behind",
        per_key_read - per_key
    );
}
