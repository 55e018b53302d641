//! Tests of the push-fed decoder against `decode`: every split, random splits, corrupt and
//! truncated input, and the bound on buffered bytes.

use bytes::Bytes;

use super::tests::{file, info, keep_all, redis_dump, save, varied_keyspace};
use super::value_tests::values;
use super::*;
use crate::keyspace::{Entry, Keyspace};

/// Every type (strings in each encoding, every collection encoding), expiries, databases 0,
/// 1, 2 and 15, a 70 KB and a 16 KB value.
fn all_types_file() -> Vec<u8> {
    let mut ks = varied_keyspace();
    for (i, (name, value)) in values().into_iter().enumerate() {
        let expire_at_ms = (i % 2 == 0).then_some(1_900_000_000_000);
        let entry = Entry {
            value,
            expire_at_ms,
        };
        ks.insert(2, Bytes::from(name), entry);
    }
    save(&ks, &info(true, true))
}

/// Feeds `bytes` cut at `cuts` (sorted offsets) and finishes.
fn stream(bytes: &[u8], cuts: &[usize]) -> (Keyspace, Result<Loaded, RdbError>) {
    let mut ks = Keyspace::default();
    let mut decoder = StreamDecoder::new(keep_all(0));
    let mut from = 0;
    for &cut in cuts.iter().chain(std::iter::once(&bytes.len())) {
        if let Err(error) = decoder.feed(&bytes[from..cut], &mut ks) {
            return (ks, Err(error));
        }
        from = cut;
    }
    let result = decoder.finish(&mut ks);
    (ks, result)
}

fn whole(bytes: &[u8]) -> (Keyspace, Result<Loaded, RdbError>) {
    let mut ks = Keyspace::default();
    let result = decode(bytes, &mut ks, &keep_all(0));
    (ks, result)
}

fn assert_same(bytes: &[u8], cuts: &[usize]) {
    let (ks, result) = stream(bytes, cuts);
    let (expected_ks, expected) = whole(bytes);
    assert_eq!(result, expected, "cuts {cuts:?}");
    if expected.is_ok() {
        assert!(ks == expected_ks, "keyspace differs, cuts {cuts:?}");
    }
}

/// Goal: one cut at every byte, and one byte per feed, give exactly decode()'s result, for
/// Redis's own dump (AUX fields, SELECTDB, RESIZEDB, expiry) and a function record.
#[test]
fn every_single_cut_and_byte_by_byte() {
    let functions = file(10, b"\xf5\x03abc\xfe\x01\x00\x01k\x01v");
    for bytes in [redis_dump(), functions] {
        for cut in 0..=bytes.len() {
            assert_same(&bytes, &[cut]);
        }
        let all: Vec<usize> = (1..bytes.len()).collect();
        assert_same(&bytes, &all);
    }
    let (_, loaded) = stream(&file(10, b"\xf5\x03abc"), &[11]);
    assert_eq!(loaded.unwrap().functions, vec![Bytes::from_static(b"abc")]);
}

/// Goal: random splits of a file with every type give decode()'s keyspace and result.
#[test]
fn random_splits_of_every_type() {
    let bytes = all_types_file();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for round in 0..40 {
        let mut cuts = Vec::new();
        let mut at = 0;
        while at < bytes.len() {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            at += (seed % [7, 300, 5000, 40_000][round % 4]) as usize + 1;
            if at < bytes.len() {
                cuts.push(at);
            }
        }
        assert_same(&bytes, &cuts);
    }
}

/// Goal: corrupt bytes give decode()'s error (offset and reason) however the input is cut;
/// truncated input gives decode()'s incomplete error from finish().
#[test]
fn corrupt_and_truncated_give_decode_errors() {
    let bytes = redis_dump();
    for flip in 0..bytes.len() {
        let mut bad = bytes.clone();
        bad[flip] ^= 0x41;
        for cut in [0, flip, flip + 1, bad.len() / 2] {
            assert_same(&bad, &[cut.min(bad.len())]);
        }
    }
    for len in 0..bytes.len() {
        let (_, result) = stream(&bytes[..len], &[len / 2]);
        let (_, expected) = whole(&bytes[..len]);
        assert_eq!(result, expected);
        assert!(result.unwrap_err().incomplete, "prefix of {len}");
    }
    let dup = file(10, b"\x00\x01a\x01b\x00\x01a\x01c");
    let (_, result) = stream(&dup, &[3, 14, 16]);
    assert_eq!(
        result.unwrap_err().reason,
        "RDB has duplicated key 'a' in DB 0 at offset 15"
    );
}

/// Goal: the decoder keeps only unconsumed bytes: fed 64 KB chunks of a file with a 5 MB
/// value among small keys, it never holds more than twice the largest entry plus a chunk
/// (doubling rule), and a raw string's length is known from its header so the big value
/// needs few attempts.
#[test]
fn buffered_bytes_bounded() {
    let mut ks = Keyspace::default();
    for i in 0..20_000u32 {
        ks.insert(0, Bytes::from(format!("key:{i}")), entry_of(b"0123456789"));
    }
    let big: Vec<u8> = (0..5_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    ks.insert(0, Bytes::from_static(b"big"), entry_of(&big));
    let bytes = save(&ks, &info(false, true));
    const CHUNK: usize = 65_536;
    let mut loaded_ks = Keyspace::default();
    let mut decoder = StreamDecoder::new(keep_all(0));
    for chunk in bytes.chunks(CHUNK) {
        decoder.feed(chunk, &mut loaded_ks).unwrap();
        assert!(decoder.buffered_bytes() <= 2 * (big.len() + 16) + CHUNK);
    }
    assert_eq!(decoder.finish(&mut loaded_ks).unwrap().keys_loaded, 20_001);
    assert!(loaded_ks == ks);
    let entry_max = big.len() + 16;
    assert!(
        decoder.buffered_bytes_max <= 2 * entry_max + CHUNK,
        "{}",
        decoder.buffered_bytes_max
    );
    assert!(
        decoder.buffered_bytes_max >= big.len(),
        "the big entry was held whole"
    );
    assert!(
        bytes.len() > 5_200_000,
        "the file is larger than what was held"
    );
}

fn entry_of(value: &[u8]) -> Entry {
    Entry {
        value: crate::keyspace::Value::Str(Bytes::copy_from_slice(value)),
        expire_at_ms: None,
    }
}
