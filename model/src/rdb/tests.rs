//! Codec-level tests of the RDB encoder and decoder together: round trips, the annotated
//! Redis 7.0.15 dump of the facts sheet (§1.1), truncation, corruption and error wording.

use bytes::Bytes;

use super::format::*;
use super::*;
use crate::keyspace::{Entry, Keyspace, Value};

/// The annotated dump of `SET k v`, `SET n 300`, `PEXPIREAT n 1900000000000`, `SAVE` from
/// Redis 7.0.15 (facts §1.1), rebuilt from its hexdump.
pub(super) fn redis_dump() -> Vec<u8> {
    let mut b = b"REDIS0010".to_vec();
    b.extend_from_slice(b"\xfa\x09redis-ver\x067.0.15");
    b.extend_from_slice(b"\xfa\x0aredis-bits\xc0\x40");
    b.extend_from_slice(b"\xfa\x05ctime\xc2\x90\x98\x04\x6b");
    b.extend_from_slice(b"\xfa\x08used-mem\xc2\x50\xb6\x0e\x00");
    b.extend_from_slice(b"\xfa\x08aof-base\xc0\x00");
    b.extend_from_slice(b"\xfe\x00\xfb\x02\x01");
    b.extend_from_slice(b"\xfc\x00\x38\xd3\x60\xba\x01\x00\x00\x00\x01n\xc1\x2c\x01");
    b.extend_from_slice(b"\x00\x01k\x01v");
    b.push(0xff);
    b.extend_from_slice(&[0xfc, 0xa5, 0x1e, 0xb6, 0xd5, 0x67, 0xdc, 0x37]);
    b
}

pub(super) fn keep_all(now_ms: u64) -> LoadOptions {
    LoadOptions {
        now_ms,
        drop_expired: false,
    }
}

fn load(bytes: &[u8]) -> Result<(Keyspace, Loaded), RdbError> {
    let mut ks = Keyspace::default();
    let loaded = decode(bytes, &mut ks, &keep_all(0))?;
    Ok((ks, loaded))
}

fn entry(value: &[u8], expire_at_ms: Option<u64>) -> Entry {
    Entry {
        value: Value::Str(Bytes::copy_from_slice(value)),
        expire_at_ms,
    }
}

pub(super) fn info(compression: bool, checksum: bool) -> SaveInfo {
    SaveInfo {
        aof_base: false,
        ctime_s: 1_795_463_312,
        used_mem: 964_176,
        compression,
        checksum,
    }
}

pub(super) fn save(ks: &Keyspace, info: &SaveInfo) -> Vec<u8> {
    let mut out = Vec::new();
    let written = encode(ks, info, &mut out).unwrap();
    assert_eq!(written, out.len() as u64);
    out
}

/// A keyspace exercising every string encoding decision and several databases.
pub(super) fn varied_keyspace() -> Keyspace {
    let mut ks = Keyspace::default();
    let values: &[&[u8]] = &[
        b"0",
        b"-1",
        b"127",
        b"-128",
        b"128",
        b"300",
        b"-129",
        b"32767",
        b"32768",
        b"70000",
        b"2147483647",
        b"-2147483648",
        b"2147483648",
        b"-2147483649",
        b"007",
        b"+1",
        b"-0",
        b" 1",
        b"",
        b"v",
        b"01234567890123456789",
        b"012345678901234567890",
    ];
    for (i, value) in values.iter().enumerate() {
        ks.insert(0, Bytes::from(format!("v{i:02}")), entry(value, None));
    }
    let compressible = "durakv ".repeat(200);
    ks.insert(
        0,
        Bytes::from(compressible.clone()),
        entry(compressible.as_bytes(), Some(5)),
    );
    let noise: Vec<u8> = (0..70_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    ks.insert(0, Bytes::from_static(b"noise"), entry(&noise, None));
    ks.insert(
        1,
        Bytes::from_static(b"\x00\xff\r\n bin"),
        entry(b"\x00\x01\x02\xff", Some(1)),
    );
    ks.insert(
        1,
        Bytes::from_static(b"123"),
        entry(b"int key", Some(1_900_000_000_000)),
    );
    ks.insert(1, Bytes::from_static(b""), entry(b"empty key", None));
    ks.insert(
        15,
        Bytes::from_static(b"last db"),
        entry(&[b'x'; 16_384], Some(u64::MAX >> 1)),
    );
    ks
}

/// Builds a file around `body`: header of `version`, `body`, EOF, and the CRC when the
/// version has one.
pub(super) fn file(version: u32, body: &[u8]) -> Vec<u8> {
    let mut b = format!("REDIS{version:04}").into_bytes();
    b.extend_from_slice(body);
    b.push(OPCODE_EOF);
    if version >= RDB_VERSION_CHECKSUM_MIN {
        let crc = crc64_redis(&b);
        b.extend_from_slice(&crc.to_le_bytes());
    }
    b
}

/// Goal: decode(encode(ks)) == ks for every combination of compression and checksum.
/// Method: a keyspace with every integer boundary, non-canonical integers, empty and binary
/// keys, long compressible and incompressible values, TTLs, databases 0, 1 and 15.
#[test]
fn round_trip_varied_keyspace() {
    let ks = varied_keyspace();
    for (compression, checksum) in [(true, true), (true, false), (false, true), (false, false)] {
        let bytes = save(&ks, &info(compression, checksum));
        let (decoded, loaded) = load(&bytes).unwrap();
        assert_eq!(decoded, ks, "compression {compression} checksum {checksum}");
        assert_eq!(loaded.end_offset, bytes.len() as u64);
        assert_eq!(loaded.keys_loaded, ks.len() as u64);
        assert_eq!(loaded.version, 10);
        let trailer = u64::from_le_bytes(bytes[bytes.len() - 8..].try_into().unwrap());
        let expected = if checksum {
            crc64_redis(&bytes[..bytes.len() - 8])
        } else {
            0
        };
        assert_eq!(trailer, expected);
    }
}

/// Goal: the writer's encoding choices, byte for byte: canonical ints are INT-encoded, the
/// non-canonical ones raw, long repetitive strings LZF-compressed only when compression is on.
#[test]
fn encoding_choices() {
    let mut ks = Keyspace::default();
    ks.insert(0, Bytes::from_static(b"a"), entry(b"007", None));
    ks.insert(0, Bytes::from_static(b"b"), entry(b"-129", None));
    ks.insert(0, Bytes::from_static(b"c"), entry(&[b'z'; 40], None));
    let plain = save(&ks, &info(false, true));
    let packed = save(&ks, &info(true, true));
    let contains = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).any(|w| w == needle);
    assert!(contains(&plain, b"\x00\x01a\x03007"));
    assert!(contains(&plain, b"\x00\x01b\xc1\x7f\xff"));
    assert!(contains(
        &plain,
        &[&b"\x00\x01c\x28"[..], &[b'z'; 40]].concat()
    ));
    assert!(
        contains(&packed, b"\x00\x01c\xc3"),
        "40 x 'z' is LZF-compressed"
    );
    assert!(packed.len() < plain.len());
}

/// Goal: the Redis 7.0.15 dump of §1.1 decodes to k = "v" and n = "300" expiring at
/// 1900000000000, and its trailer is our CRC-64 of the rest.
#[test]
fn redis_dump_decodes_and_checksum_verifies() {
    let bytes = redis_dump();
    assert_eq!(
        crc64_redis(&bytes[..bytes.len() - 8]),
        0x37dc_67d5_b61e_a5fc
    );
    let (ks, loaded) = load(&bytes).unwrap();
    let db = &ks.dbs[0];
    assert_eq!(db.get(&b"k"[..]).as_deref(), Some(&entry(b"v", None)));
    assert_eq!(
        db.get(&b"n"[..]).as_deref(),
        Some(&entry(b"300", Some(1_900_000_000_000)))
    );
    assert_eq!(ks.len(), 2);
    assert_eq!(
        loaded,
        Loaded {
            end_offset: bytes.len() as u64,
            keys_loaded: 2,
            keys_expired: 0,
            version: 10,
            functions: Vec::new(),
            repl: None,
        }
    );
}

/// Goal: a master load drops the key that has expired, an AOF-base load keeps it.
#[test]
fn expired_keys_dropped_only_when_asked() {
    let bytes = redis_dump();
    let after = 1_900_000_000_001;
    let mut ks = Keyspace::default();
    let loaded = decode(
        &bytes,
        &mut ks,
        &LoadOptions {
            now_ms: after,
            drop_expired: true,
        },
    )
    .unwrap();
    assert_eq!((loaded.keys_loaded, loaded.keys_expired), (1, 1));
    assert!(ks.dbs[0].get(&b"n"[..]).is_none());
    let mut ks = Keyspace::default();
    let loaded = decode(&bytes, &mut ks, &keep_all(after)).unwrap();
    assert_eq!((loaded.keys_loaded, loaded.keys_expired), (2, 0));
}

/// Goal: our encoder writes Redis's bytes. Method: with Redis's ctime and used-mem, the
/// header, AUX fields, SELECTDB/RESIZEDB and the `n` record equal the §1.1 dump (key order
/// differs: Redis wrote in hash order, durakv writes sorted).
#[test]
fn encoder_matches_redis_bytes() {
    let mut ks = Keyspace::default();
    ks.insert(
        0,
        Bytes::from_static(b"n"),
        entry(b"300", Some(1_900_000_000_000)),
    );
    ks.insert(0, Bytes::from_static(b"k"), entry(b"v", None));
    let ours = save(&ks, &info(true, true));
    let redis = redis_dump();
    assert_eq!(ours.len(), redis.len());
    let records_at = redis.len() - 8 - 1 - 15 - 5; // start of the `n` record in Redis's file
    assert_eq!(
        ours[..records_at],
        redis[..records_at],
        "header, AUX, SELECTDB, RESIZEDB"
    );
    let n_record = &redis[records_at..records_at + 15];
    assert!(ours.windows(15).any(|w| w == n_record));
    assert_eq!(load(&ours).unwrap().0, load(&redis).unwrap().0);
}

/// Goal: every proper prefix of a valid file is an error with `incomplete: true`, so a
/// truncated file is never mistaken for a corrupt one or, worse, loaded.
#[test]
fn every_prefix_is_incomplete() {
    let mut ks = varied_keyspace();
    ks.dbs[0].remove(&b"noise"[..]); // keep the quadratic loop fast
    let files = [
        redis_dump(),
        save(&ks, &info(true, true)),
        save(&ks, &info(false, false)),
    ];
    for bytes in &files {
        for len in 0..bytes.len() {
            let error = load(&bytes[..len]).unwrap_err();
            assert!(error.incomplete, "prefix of {len} bytes: {error}");
            assert!(error.offset <= len as u64, "prefix of {len} bytes: {error}");
        }
    }
}

/// Goal: single-byte corruptions never panic, and with a checksum they never load a
/// keyspace different from the original. Method: every position × a set of replacement
/// bytes chosen to hit opcodes, length forms and encodings.
///
/// The one hole is the format's own: a byte turned into EOF just before 8 zero bytes (an
/// expiry such as 5 ms is `05 00 00 00 00 00 00 00`) reads as a stored checksum of 0, "not
/// computed". That load then ends before the end of the file, which is how callers catch it:
/// a standalone file must end at `end_offset`, and an AOF base's tail must parse as RESP.
#[test]
fn single_byte_corruptions_never_load_a_different_keyspace() {
    let mut ks = varied_keyspace();
    ks.dbs[0].remove(&b"noise"[..]);
    ks.dbs[15].clear();
    let files = [
        (redis_dump(), true),
        (save(&ks, &info(true, true)), true),
        (save(&ks, &info(true, false)), false),
    ];
    let replacements = [
        0x00, 0x01, 0x3f, 0x40, 0x80, 0x81, 0x82, 0xc0, 0xc3, 0xc4, 0xf5, 0xf7, 0xfa, 0xfe, 0xff,
    ];
    for (bytes, checksummed) in &files {
        let original = load(bytes).unwrap().0;
        for pos in 0..bytes.len() {
            for &byte in replacements
                .iter()
                .chain(&[bytes[pos] ^ 0x01, bytes[pos] ^ 0x80])
            {
                let mut corrupt = bytes.clone();
                corrupt[pos] = byte;
                if let (Ok((decoded, loaded)), true) = (load(&corrupt), checksummed) {
                    let whole_file = loaded.end_offset == bytes.len() as u64;
                    assert!(
                        decoded == original || !whole_file,
                        "byte {pos} = {byte:#04x}"
                    );
                }
            }
        }
    }
}

/// Goal: no input makes the decoder panic. Method: deterministic pseudo-random multi-byte
/// mutations of a checksum-less file (so parsing goes deep) and random bodies after a header.
#[test]
fn random_inputs_never_panic() {
    let mut ks = varied_keyspace();
    ks.dbs[0].remove(&b"noise"[..]);
    let base = save(&ks, &info(true, false));
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut rand = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for round in 0..3000 {
        let mut bytes = base.clone();
        for _ in 0..1 + rand() % 4 {
            let pos = (rand() % bytes.len() as u64) as usize;
            bytes[pos] = rand() as u8;
        }
        if round % 3 == 0 {
            bytes.truncate((rand() % bytes.len() as u64) as usize);
        }
        let _ = load(&bytes);
        let mut junk = b"REDIS0010".to_vec();
        junk.extend((0..rand() % 64).map(|_| rand() as u8));
        let _ = load(&junk);
    }
}

fn error_of(bytes: &[u8]) -> RdbError {
    let error = load(bytes).unwrap_err();
    assert!(!error.incomplete, "{error}");
    error
}

/// Goal: header checks with Redis's wording: signature, versions 1..=10 only.
#[test]
fn header_errors() {
    assert!(error_of(b"RDB0010\xff")
        .reason
        .starts_with("Wrong signature"));
    assert!(error_of(b"X").reason.starts_with("Wrong signature"));
    let v11 = error_of(&file(11, b""));
    assert_eq!(v11.reason, "Can't handle RDB format version 11 at offset 5");
    assert_eq!(v11.offset, 5);
    assert!(error_of(b"REDIS0000\xff")
        .reason
        .starts_with("Can't handle RDB format version 0"));
    assert!(load(b"REDIS00").unwrap_err().incomplete);
    assert!(load(b"").unwrap_err().incomplete);
}

/// Goal: files of old versions load; below version 5 there is no trailer, and the end offset
/// is just after EOF (an old AOF preamble's RESP tail starts there).
#[test]
fn old_versions_and_legacy_opcodes() {
    // EXPIRETIME (seconds, LE), IDLE, FREQ, unknown AUX, RESIZEDB: all skipped or applied.
    let body = b"\xfa\x03lua\x05x = 1\xfe\x00\xfb\x01\x01\
                 \xfd\x00\xe1\xf5\x05\xf8\x05\x00\x01a\x01b\
                 \xf9\x07\x00\x01c\xc0\x07";
    for version in [1, 3, 4, 9] {
        let mut bytes = file(version, body);
        bytes.extend_from_slice(b"*2\r\n$6\r\nSELECT\r\n");
        let (ks, loaded) = load(&bytes).unwrap();
        assert_eq!(
            ks.dbs[0].get(&b"a"[..]).as_deref(),
            Some(&entry(b"b", Some(100_000_000_000)))
        );
        assert_eq!(
            ks.dbs[0].get(&b"c"[..]).as_deref(),
            Some(&entry(b"7", None))
        );
        let tail = if version >= 5 { 8 } else { 0 };
        assert_eq!(loaded.end_offset as usize, 9 + body.len() + 1 + tail);
    }
}

/// Goal: a stored checksum of 0 is "not computed" and loads; a wrong one is refused naming
/// both values as Redis does.
#[test]
fn checksum_zero_skips_wrong_refuses() {
    let mut bytes = redis_dump();
    let n = bytes.len();
    bytes[n - 8..].fill(0);
    assert_eq!(load(&bytes).unwrap().0.len(), 2);
    bytes[n - 1] = 1;
    let error = error_of(&bytes);
    assert_eq!(error.offset, n as u64 - 8);
    assert!(error
        .reason
        .starts_with("Wrong RDB checksum expected: (37dc67d5b61ea5fc) but got ("));
}

/// Goal: each not-yet-supported construct is refused by name with its offset, never skipped.
#[test]
fn unsupported_content_is_named() {
    // Streams load (`rdb/stream.rs`): one whose counters are cut off is refused, never skipped.
    let stream = error_of(&file(10, b"\xfe\x00\x0f\x01s\x00"));
    assert!(stream.offset > 11, "{stream}");
    let module = error_of(&file(10, b"\x07"));
    assert!(
        module.reason.starts_with("value type 7 (module_2)"),
        "{module}"
    );
    assert_eq!(
        error_of(&file(10, b"\x08")).reason,
        "Unknown RDB encoding type 8 at offset 9"
    );
    assert!(error_of(&file(10, b"\xf4"))
        .reason
        .starts_with("Unknown RDB encoding type 244"));
    assert!(error_of(&file(10, b"\xf7\x01"))
        .reason
        .contains("MODULE_AUX"));
    assert!(error_of(&file(10, b"\xf6\x01x"))
        .reason
        .contains("pre-GA function library"));
}

/// Goal: structural errors: SELECTDB out of range, duplicate keys, bad length and string
/// encodings, bad LZF data.
#[test]
fn structural_errors() {
    let mut ks = Keyspace::new(4);
    let error = decode(&file(10, b"\xfe\x04"), &mut ks, &keep_all(0)).unwrap_err();
    assert!(error.reason.contains("more than 4 databases"), "{error}");
    assert!(decode(&file(10, b"\xfe\x03"), &mut ks, &keep_all(0)).is_ok());
    let dup = error_of(&file(10, b"\x00\x01a\x01b\x00\x01a\x01c"));
    assert_eq!(
        dup.reason,
        "RDB has duplicated key 'a' in DB 0 at offset 15"
    );
    assert!(error_of(&file(10, b"\xfe\x82"))
        .reason
        .starts_with("Unknown length encoding 0x82"));
    assert!(error_of(&file(10, b"\xfb\xc0\x00"))
        .reason
        .starts_with("Unexpected string encoding"));
    assert!(error_of(&file(10, b"\x00\xc4"))
        .reason
        .starts_with("Unknown RDB string encoding type 4"));
    // LZF announcing 5 bytes but holding a 1-byte literal, and announcing 0 bytes.
    assert!(error_of(&file(10, b"\x00\xc3\x02\x05\x00a\x01b"))
        .reason
        .starts_with("Invalid LZF"));
    assert!(error_of(&file(10, b"\x00\xc3\x02\x00\x00a\x01b"))
        .reason
        .starts_with("Invalid LZF"));
    // A valid LZF key: "aaaaaaaa" as literal 'a' + back-reference of 7 at distance 1.
    let (ks, _) = load(&file(10, b"\x00\xc3\x04\x08\x00a\xa0\x00\x01v")).unwrap();
    assert!(ks.dbs[0].contains(&b"aaaaaaaa"[..]));
}

/// Goal: a failing writer surfaces as an error (never a panic) and a successful encode of a
/// large keyspace reaches the writer in bounded blocks.
#[test]
fn writer_errors_and_block_sizes() {
    struct Limited {
        left: usize,
        largest: usize,
    }
    impl std::io::Write for Limited {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if buf.len() > self.left {
                return Err(std::io::Error::other("disk full"));
            }
            self.left -= buf.len();
            self.largest = self.largest.max(buf.len());
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut ks = Keyspace::default();
    for i in 0..20_000u32 {
        ks.insert(
            (i % 3) as usize,
            Bytes::from(format!("key:{i}")),
            entry(format!("value {i}").as_bytes(), None),
        );
    }
    let mut full = Limited {
        left: 1000,
        largest: 0,
    };
    assert!(encode(&ks, &info(true, true), &mut full).is_err());
    let mut roomy = Limited {
        left: usize::MAX,
        largest: 0,
    };
    let written = encode(&ks, &info(true, true), &mut roomy).unwrap();
    assert_eq!(usize::MAX - roomy.left, written as usize);
    assert!(
        roomy.largest <= 64 * 1024,
        "largest write {}",
        roomy.largest
    );
}
