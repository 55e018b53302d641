//! Introspection and transport of single keys: OBJECT, MEMORY, DUMP and RESTORE.
//!
//! Owns what durakv answers about a value's representation and footprint, and the RESTORE
//! rules (BUSYKEY, TTL, payload checks, propagation). Invariants: answers are true for durakv —
//! where Redis reports something durakv does not track (LRU idle time, LFU frequency, allocator
//! internals) it says so with an error instead of inventing a number; RESTORE reaches the AOF
//! with an absolute TTL (`ABSTTL`), so a replay later keeps the same deadline; a payload is
//! loaded only after its version and CRC-64 were checked.

use bytes::Bytes;

use super::exec::Exec;
use super::num::integer_arg;
use super::reply;
use crate::keyspace::{Entry, Value};
use crate::rdb::payload::{self, PayloadError};
use crate::resp::Frame;

/// Redis's `OBJ_ENCODING_EMBSTR_SIZE_LIMIT`: strings up to this length are `embstr`.
const EMBSTR_LEN_MAX: usize = 44;
/// Below this estimated data set MEMORY DOCTOR declines to diagnose, as Redis (5 MB).
const DOCTOR_BYTES_MIN: u64 = 5 * 1024 * 1024;
const DEL: Bytes = Bytes::from_static(b"DEL");

fn lines(text: &[&str]) -> Frame {
    Frame::Array(text.iter().map(|l| Frame::Simple(l.to_string())).collect())
}

fn unknown_subcommand(sub: &[u8], command: &str) -> Frame {
    reply::err(&format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try {command} HELP.",
        reply::one_line(sub)
    ))
}

/// OBJECT ENCODING|REFCOUNT|IDLETIME|FREQ key, OBJECT HELP.
pub(crate) fn object(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    let sub = argv[1].to_ascii_uppercase();
    if sub == b"HELP" && argv.len() == 2 {
        return lines(OBJECT_HELP);
    }
    let ([_, _, key], true) = (
        argv,
        matches!(&sub[..], b"ENCODING" | b"REFCOUNT" | b"IDLETIME" | b"FREQ"),
    ) else {
        return unknown_subcommand(&argv[1], "OBJECT");
    };
    let Some(entry) = x.lookup(key) else {
        return Frame::Null;
    };
    match &sub[..] {
        b"ENCODING" => Frame::Bulk(Bytes::from_static(encoding(&entry).as_bytes())),
        // durakv shares no value objects between keys.
        b"REFCOUNT" => reply::int(1),
        b"IDLETIME" => reply::err(
            "ERR durakv does not track key access times, so OBJECT IDLETIME has no answer.",
        ),
        _ => reply::err(
            "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please \
             note that when switching between policies at runtime LRU and LFU data will take \
             some time to adjust.",
        ),
    }
}

/// The encoding Redis would report for the value as stored by SET: `int` for an integer of at
/// most 20 characters (`tryObjectEncoding`), `embstr` up to 44 bytes, else `raw`.
fn encoding(entry: &Entry) -> &'static str {
    let Value::Str(s) = &entry.value else {
        return entry.value.collection_encoding().unwrap_or("raw");
    };
    let integer = s.len() <= 20
        && crate::resp::parse_integer(s).is_some_and(|n| {
            // Only the canonical spelling is stored as an integer.
            n.to_string().as_bytes() == &s[..]
        });
    if integer {
        "int"
    } else if s.len() <= EMBSTR_LEN_MAX {
        "embstr"
    } else {
        "raw"
    }
}

const OBJECT_HELP: &[&str] = &[
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Prints this help.",
];

/// MEMORY USAGE key [SAMPLES n] | STATS | DOCTOR | MALLOC-STATS | PURGE | HELP.
pub(crate) fn memory(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    let sub = argv[1].to_ascii_uppercase();
    match (&sub[..], argv.len()) {
        (b"USAGE", 3 | 5) => memory_usage(x, argv),
        (b"STATS", 2) => memory_stats(x),
        (b"DOCTOR", 2) => memory_doctor(x),
        (b"MALLOC-STATS", 2) => Frame::text(&b"Stats not supported for the current allocator"[..]),
        (b"PURGE", 2) => reply::ok(),
        (b"HELP", 2) => lines(MEMORY_HELP),
        _ => unknown_subcommand(&argv[1], "MEMORY"),
    }
}

fn memory_usage(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    if argv.len() == 5 {
        // SAMPLES only matters for nested values; strings are measured exactly.
        if !argv[3].eq_ignore_ascii_case(b"SAMPLES") {
            return reply::err(reply::SYNTAX);
        }
        if let Err(error) = integer_arg(&argv[4]) {
            return error;
        }
    }
    let key = &argv[2];
    match x.lookup(key) {
        Some(entry) => reply::int(i64::try_from(entry.memory_bytes(key)).unwrap_or(i64::MAX)),
        None => Frame::Null,
    }
}

/// Keys and estimated bytes of the whole data set (O(keys): MEMORY STATS and DOCTOR only).
fn dataset(x: &Exec<'_>) -> (u64, u64) {
    let mut keys = 0u64;
    let mut bytes = 0u64;
    for db in &x.ks.dbs {
        for stored in db.iter() {
            keys += 1;
            bytes += stored.memory_bytes();
        }
    }
    (keys, bytes)
}

/// The subset of Redis's MEMORY STATS fields durakv can state truthfully: the data set's
/// estimated footprint (keys, values, per-entry overhead). Allocator figures are not known to
/// the engine and are left out rather than invented.
fn memory_stats(x: &mut Exec<'_>) -> Frame {
    let (keys, bytes) = dataset(x);
    let per_key = bytes.checked_div(keys).unwrap_or(0);
    let field = |name: &'static str, value: u64| {
        (
            Frame::Bulk(Bytes::from_static(name.as_bytes())),
            reply::int(i64::try_from(value).unwrap_or(i64::MAX)),
        )
    };
    let fields = [
        field("total.allocated", bytes),
        field("keys.count", keys),
        field("keys.bytes-per-key", per_key),
        field("dataset.bytes", bytes),
    ];
    Frame::Map(fields.into_iter().collect())
}

fn memory_doctor(x: &mut Exec<'_>) -> Frame {
    let (_, bytes) = dataset(x);
    let text: &'static str = if bytes < DOCTOR_BYTES_MIN {
        "Hi Sam, this instance is empty or is using very little memory, my issues detector \
         can't be used in these conditions. Please, leave for your mission on Earth and fill \
         it with some data. The new Sam and I will be back to our programming as soon as I \
         finished rebooting."
    } else {
        "Hi Sam, I can't find any memory issue in your instance. I can only account for what \
         occurs on this base."
    };
    Frame::text(text.as_bytes())
}

const MEMORY_HELP: &[&str] = &[
    "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DOCTOR",
    "    Return memory problems reports.",
    "MALLOC-STATS",
    "    Return internal statistics report from the memory allocator.",
    "PURGE",
    "    Attempt to purge dirty pages for reclamation by the allocator.",
    "STATS",
    "    Return information about the memory usage of the server.",
    "USAGE <key> [SAMPLES <count>]",
    "    Return memory in bytes used by <key> and its value. Nested values are",
    "    sampled up to <count> times (default: 5, 0 means sample all).",
    "HELP",
    "    Prints this help.",
];

/// DUMP key: the value in Redis 7.0's payload format, or nil.
pub(crate) fn dump(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    match x.lookup(&argv[1]) {
        Some(entry) => Frame::Bulk(Bytes::from(payload::dump(&entry.value, &x.ks.limits))),
        None => Frame::Null,
    }
}

/// RESTORE's options after the payload.
#[derive(Default)]
struct RestoreOptions {
    replace: bool,
    absttl: bool,
}

fn restore_options(rest: &[Bytes]) -> Result<RestoreOptions, Frame> {
    let mut o = RestoreOptions::default();
    let mut i = 0;
    while i < rest.len() {
        let opt = rest[i].to_ascii_uppercase();
        let value = rest.get(i + 1);
        match (&opt[..], value) {
            (b"REPLACE", _) => o.replace = true,
            (b"ABSTTL", _) => o.absttl = true,
            // Accepted and checked as Redis does; durakv keeps no LRU/LFU data to seed.
            (b"IDLETIME", Some(v)) => {
                if integer_arg(v)? < 0 {
                    return Err(reply::err("ERR Invalid IDLETIME value, must be >= 0"));
                }
                i += 1;
            }
            (b"FREQ", Some(v)) => {
                if !(0..=255).contains(&integer_arg(v)?) {
                    return Err(reply::err(
                        "ERR Invalid FREQ value, must be >= 0 and <= 255",
                    ));
                }
                i += 1;
            }
            _ => return Err(reply::err(reply::SYNTAX)),
        }
        i += 1;
    }
    Ok(o)
}

/// RESTORE key ttl payload [REPLACE] [ABSTTL] [IDLETIME s] [FREQ f], as Redis 7.0's
/// `restoreCommand`: propagated with the TTL made absolute (and `ABSTTL` appended).
pub(crate) fn restore(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    match restore_checked(x, argv) {
        Ok(frame) | Err(frame) => frame,
    }
}

fn restore_checked(x: &mut Exec<'_>, argv: &[Bytes]) -> Result<Frame, Frame> {
    let key = &argv[1];
    let o = restore_options(&argv[4..])?;
    if !o.replace && x.lookup(key).is_some() {
        return Err(reply::err("BUSYKEY Target key name already exists."));
    }
    let ttl = integer_arg(&argv[2])?;
    if ttl < 0 {
        return Err(reply::err("ERR Invalid TTL value, must be >= 0"));
    }
    let value = payload::restore(&argv[3], &x.ks.limits).map_err(|e| match e {
        PayloadError::VersionOrChecksum => {
            reply::err("ERR DUMP payload version or checksum are wrong")
        }
        PayloadError::BadFormat => reply::err("ERR Bad data format"),
    })?;
    let deleted = o.replace && x.delete(key);
    let now = i64::try_from(x.ctx.now_ms).unwrap_or(i64::MAX);
    let at_ms = match (ttl, o.absttl) {
        (0, _) => None,
        (ttl, true) => Some(ttl),
        (ttl, false) => Some(ttl.saturating_add(now)),
    };
    if at_ms.is_some_and(|at| at <= now) && !x.ctx.loading {
        // Already expired (`checkAlreadyExpired`): nothing is created.
        if deleted {
            x.propagate_as(vec![DEL, key.clone()]);
            x.add_dirty(1);
        }
        return Ok(reply::ok());
    }
    let entry = Entry {
        value,
        expire_at_ms: at_ms.map(|at| u64::try_from(at).unwrap_or(0)),
    };
    x.store(key, entry);
    if let (Some(at), false) = (at_ms, o.absttl) {
        let mut logged = argv.to_vec();
        logged[2] = Bytes::from(at.to_string());
        logged.push(Bytes::from_static(b"ABSTTL"));
        x.propagate_as(logged);
    }
    x.add_dirty(1);
    Ok(reply::ok())
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use crate::resp::Frame;

    fn dump_of(k: &mut Kit, key: &str) -> bytes::Bytes {
        let Frame::Bulk(payload) = k.reply(&format!("DUMP {key}")) else {
            panic!("no payload")
        };
        payload
    }

    fn restore(k: &mut Kit, args: &[&[u8]]) -> crate::command::Outcome {
        let argv: Vec<bytes::Bytes> = args
            .iter()
            .map(|a| bytes::Bytes::copy_from_slice(a))
            .collect();
        k.run_argv(1, &argv)
    }

    #[test]
    fn dump_and_restore_round_trip_with_ttl_made_absolute() {
        let mut k = Kit::new();
        k.run("SET a hello");
        let payload = dump_of(&mut k, "a");
        assert_eq!(k.reply("DUMP nosuch"), Frame::Null);
        let busy = restore(&mut k, &[b"RESTORE", b"a", b"0", &payload]);
        assert_eq!(busy.reply, err("BUSYKEY Target key name already exists."));
        let out = restore(&mut k, &[b"RESTORE", b"b", b"5000", &payload]);
        assert_eq!(out.reply, ok());
        let at = (T0 + 5000).to_string();
        let logged = logged(&out);
        assert_eq!(logged.len(), 1);
        assert!(logged[0].1.starts_with(&format!("RESTORE b {at} ")));
        assert!(logged[0].1.ends_with(" ABSTTL"));
        assert_eq!(k.reply("GET b"), bulk("hello"));
        assert_eq!(k.reply("PTTL b"), int(5000));
        let replaced = restore(&mut k, &[b"RESTORE", b"a", b"0", &payload, b"REPLACE"]);
        assert_eq!(replaced.reply, ok());
    }

    #[test]
    fn restore_refuses_bad_payloads_ttls_and_options() {
        let mut k = Kit::new();
        k.run("SET a hello");
        let mut payload = dump_of(&mut k, "a").to_vec();
        let bad = |k: &mut Kit, args: &[&[u8]]| restore(k, args).reply;
        assert_eq!(
            bad(&mut k, &[b"RESTORE", b"b", b"-1", &payload]),
            err("ERR Invalid TTL value, must be >= 0")
        );
        assert_eq!(
            bad(&mut k, &[b"RESTORE", b"b", b"0", &payload, b"NOPE"]),
            err("ERR syntax error")
        );
        assert_eq!(
            bad(&mut k, &[b"RESTORE", b"b", b"0", &payload, b"FREQ", b"300"]),
            err("ERR Invalid FREQ value, must be >= 0 and <= 255")
        );
        payload[0] ^= 0x40;
        assert_eq!(
            bad(&mut k, &[b"RESTORE", b"b", b"0", &payload]),
            err("ERR DUMP payload version or checksum are wrong")
        );
        assert_eq!(k.reply("EXISTS b"), int(0));
    }

    #[test]
    fn restore_with_a_past_absolute_ttl_creates_nothing_and_logs_the_replaced_delete() {
        let mut k = Kit::new();
        k.run("SET a hello");
        let payload = dump_of(&mut k, "a");
        let out = restore(
            &mut k,
            &[b"RESTORE", b"a", b"1", &payload, b"REPLACE", b"ABSTTL"],
        );
        assert_eq!(out.reply, ok());
        assert_eq!(logged(&out), vec![(0, "DEL a".to_string())]);
        assert_eq!(k.reply("EXISTS a"), int(0));
    }

    #[test]
    fn object_and_memory_answer_what_durakv_knows() {
        let mut k = Kit::new();
        k.run("SET n 12345");
        k.run("SET s hello");
        k.run(&format!("SET l {}", "x".repeat(45)));
        assert_eq!(k.reply("OBJECT ENCODING n"), bulk("int"));
        assert_eq!(k.reply("OBJECT ENCODING s"), bulk("embstr"));
        assert_eq!(k.reply("OBJECT ENCODING l"), bulk("raw"));
        assert_eq!(k.reply("OBJECT ENCODING nosuch"), Frame::Null);
        assert_eq!(k.reply("OBJECT REFCOUNT s"), int(1));
        assert!(matches!(k.reply("OBJECT FREQ s"), Frame::Error(e) if e.contains("LFU")));
        assert!(matches!(k.reply("OBJECT IDLETIME s"), Frame::Error(_)));
        assert!(matches!(k.reply("OBJECT HELP"), Frame::Array(l) if l.len() == 15));
        assert!(
            matches!(k.reply("OBJECT NOPE s"), Frame::Error(e) if e.contains("Try OBJECT HELP"))
        );
        let Frame::Integer(small) = k.reply("MEMORY USAGE s") else {
            panic!()
        };
        let Frame::Integer(large) = k.reply("MEMORY USAGE l") else {
            panic!()
        };
        assert_eq!(large - small, 40, "the value's bytes count");
        assert_eq!(k.reply("MEMORY USAGE nosuch"), Frame::Null);
        assert!(matches!(k.reply("MEMORY STATS"), Frame::Map(f) if f[1].1 == int(3)));
        assert!(matches!(k.reply("MEMORY DOCTOR"), Frame::Verbatim { .. }));
        assert_eq!(k.reply("MEMORY PURGE"), ok());
    }
}
