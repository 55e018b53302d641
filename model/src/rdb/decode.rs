//! RDB decoder: a complete RDB file (versions 1..=10) into a keyspace.
//!
//! Owns the loader-side rules of Redis 7.0's `rdbLoadRioWithLoadingCtx`: the signature and
//! version check, every opcode of a 7.0 file, lengths and strings in every encoding, the
//! checksum (a stored 0 means "not computed"), SELECTDB range, duplicate keys, and dropping
//! keys that expired when loading as a master.
//!
//! Invariants: never panics and never reads out of bounds, whatever the input; every failure
//! is an [`RdbError`] with the byte offset of the item that failed; running out of input is
//! always `incomplete: true` (so every proper prefix of a valid file is incomplete), anything
//! else is `incomplete: false`. Value types durakv cannot hold yet are refused by name, never
//! skipped: a load either reproduces the file's data set or fails.

use bytes::Bytes;

use super::checksum::crc64_redis;
use super::format::*;
use super::reader::{RdbError, Reader};
use super::value_read::{is_collection, read_payload};
use crate::keyspace::{Entry, Keyspace, Value};
use crate::types::Limits;

/// How to load.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LoadOptions {
    /// Current unix time in milliseconds, for expiry.
    pub now_ms: u64,
    /// Drop keys already expired at `now_ms`: true when a master loads `dump.rdb`, false for
    /// an AOF base (the incr that follows may still touch them) and for replicas.
    pub drop_expired: bool,
}

/// What a successful load found.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Loaded {
    /// Offset just after the CRC trailer (after EOF for versions < 5): where the RESP tail
    /// of an old-style AOF with an RDB preamble starts.
    pub end_offset: u64,
    /// Keys inserted into the keyspace.
    pub keys_loaded: u64,
    /// Keys dropped because they had expired (only with `drop_expired`).
    pub keys_expired: u64,
    /// The file's RDB version.
    pub version: u32,
    /// The code of each function library (`FUNCTION2` opcode), in file order: the caller
    /// compiles them into the keyspace's libraries (Lua is the command layer's).
    pub functions: Vec<Bytes>,
    /// The `repl-id` and `repl-offset` AUX fields, when both are present and well formed.
    pub repl: Option<(String, u64)>,
}

/// Loads the RDB file `bytes` into `ks`, whose number of databases bounds SELECTDB.
///
/// On error `ks` holds the keys loaded before the failing item; callers discard it.
///
/// Bytes after the trailer are not looked at: `Loaded::end_offset` tells where they start.
/// Callers must consume them (an old-style AOF's RESP tail) or refuse them (a standalone
/// `dump.rdb` must end there, which Redis does not check): a corrupt byte that reads as an
/// early EOF followed by eight zero bytes looks like a file saved without a checksum, and
/// only the leftover bytes give it away.
pub fn decode(bytes: &[u8], ks: &mut Keyspace, opts: &LoadOptions) -> Result<Loaded, RdbError> {
    let mut reader = Reader { bytes, pos: 0 };
    let version = read_header(&mut reader)?;
    let mut state = State {
        db: 0,
        expire_at_ms: None,
        keys_loaded: 0,
        keys_expired: 0,
        functions: Vec::new(),
        repl_id: None,
        repl_offset: None,
    };
    loop {
        let at = reader.pos;
        let opcode = reader.u8("an opcode or value type")?;
        if opcode == OPCODE_EOF {
            break;
        }
        read_item(&mut reader, ks, opts, &mut state, opcode, at)?;
    }
    let end_offset = read_checksum(&mut reader, version)?;
    Ok(Loaded {
        end_offset,
        keys_loaded: state.keys_loaded,
        keys_expired: state.keys_expired,
        version,
        functions: state.functions,
        repl: state.repl_id.zip(state.repl_offset),
    })
}

/// The library codes of a FUNCTION RESTORE payload body: `FUNCTION2` opcodes, each followed
/// by a string. `Err` is Redis's reply text (without `ERR `).
pub(crate) fn decode_functions(bytes: &[u8]) -> Result<Vec<Bytes>, String> {
    let mut reader = Reader { bytes, pos: 0 };
    let mut codes = Vec::new();
    while reader.pos < bytes.len() {
        match reader.u8("a type") {
            Ok(OPCODE_FUNCTION2) => {}
            Ok(_) => return Err("given type is not a function".into()),
            Err(_) => return Err("can not read data type".into()),
        }
        let code = reader.string("a function library");
        codes.push(code.map_err(|_| "failed loading the given functions payload".to_string())?);
    }
    Ok(codes)
}

/// One value as `rdbLoadObjectType` + `rdbLoadObject` read it (RESTORE's payload body); the
/// whole input must be that one value.
pub(crate) fn decode_value(bytes: &[u8], limits: &Limits) -> Result<Value, RdbError> {
    let mut reader = Reader { bytes, pos: 0 };
    let at = reader.pos;
    let value = match reader.u8("a value type")? {
        TYPE_STRING => Value::Str(reader.string("a string value")?),
        other if is_collection(other) => read_payload(&mut reader, other, limits)?
            .ok_or_else(|| RdbError::corrupt(at, "an empty collection"))?,
        other => return Err(unsupported_type(&mut reader, other, at)),
    };
    if reader.pos != bytes.len() {
        return Err(RdbError::corrupt(reader.pos, "bytes after the value"));
    }
    Ok(value)
}

/// Loader state between items.
#[derive(Default)]
pub(super) struct State {
    pub(super) db: usize,
    /// Set by an expiry opcode, consumed by the next key (Redis resets it after each key).
    pub(super) expire_at_ms: Option<u64>,
    pub(super) keys_loaded: u64,
    pub(super) keys_expired: u64,
    pub(super) functions: Vec<Bytes>,
    pub(super) repl_id: Option<String>,
    pub(super) repl_offset: Option<u64>,
}

pub(super) fn read_header(reader: &mut Reader<'_>) -> Result<u32, RdbError> {
    // Check the signature on whatever is there first, so that a short non-RDB input is
    // "wrong signature" and only a short prefix of "REDIS" is incomplete.
    let seen = &reader.bytes[..reader.bytes.len().min(MAGIC.len())];
    if seen != &MAGIC[..seen.len()] {
        return Err(RdbError::corrupt(
            0,
            "Wrong signature trying to load DB from file",
        ));
    }
    let header = reader.take(HEADER_LEN, "the RDB header")?;
    // `atoi` of the 4 digits, as Redis: leading digits only.
    let version = header[MAGIC.len()..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .fold(0u32, |v, d| v * 10 + u32::from(d - b'0'));
    if !(RDB_VERSION_MIN..=RDB_VERSION).contains(&version) {
        return Err(RdbError::corrupt(
            MAGIC.len(),
            format!("Can't handle RDB format version {version}"),
        ));
    }
    Ok(version)
}

/// One opcode or one key, after its first byte `opcode` (at offset `at`).
pub(super) fn read_item(
    reader: &mut Reader<'_>,
    ks: &mut Keyspace,
    opts: &LoadOptions,
    state: &mut State,
    opcode: u8,
    at: usize,
) -> Result<(), RdbError> {
    match opcode {
        OPCODE_EXPIRETIME_MS => {
            // Native order before version 9, little-endian since: the same on every
            // little-endian machine that ever wrote one.
            let at_ms = i64::from_le_bytes(reader.array("EXPIRETIME_MS")?);
            state.expire_at_ms = Some(clamp_expiry(at_ms));
        }
        OPCODE_EXPIRETIME => {
            let at_s = i32::from_le_bytes(reader.array("EXPIRETIME")?);
            state.expire_at_ms = Some(clamp_expiry(i64::from(at_s) * 1000));
        }
        OPCODE_IDLE => {
            reader.plain_len("IDLE")?; // LRU hint: durakv keeps no LRU clock.
        }
        OPCODE_FREQ => {
            reader.u8("FREQ")?; // LFU hint, likewise.
        }
        OPCODE_SELECTDB => state.db = read_select_db(reader, ks.dbs.len())?,
        OPCODE_RESIZEDB => {
            reader.plain_len("RESIZEDB db_size")?; // Sizing hints: an OrdMap needs none.
            reader.plain_len("RESIZEDB expires_size")?;
        }
        OPCODE_AUX => {
            // Every AUX field 7.0 writes is informational but a replica's `repl-id` and
            // `repl-offset` (kept for PSYNC after a restart); unknown ones are ignored.
            let key = reader.string("an AUX key")?;
            let value = reader.string("an AUX value")?;
            let text = || String::from_utf8_lossy(&value).into_owned();
            match key.as_ref() {
                b"repl-id" if value.len() == 40 => state.repl_id = Some(text()),
                b"repl-offset" => state.repl_offset = text().parse().ok(),
                _ => {}
            }
        }
        OPCODE_MODULE_AUX => {
            let reason = "module auxiliary data (opcode 0xF7, MODULE_AUX) is not supported: \
                          the file was written by a Redis with modules loaded";
            return Err(RdbError::corrupt(at, reason));
        }
        OPCODE_FUNCTION2 => state.functions.push(reader.string("a function library")?),
        OPCODE_FUNCTION_PRE_GA => {
            let reason = "a pre-GA function library (opcode 0xF6) is not supported";
            return Err(RdbError::corrupt(at, reason));
        }
        TYPE_STRING => read_key(reader, ks, opts, state, opcode)?,
        _ if is_collection(opcode) => read_key(reader, ks, opts, state, opcode)?,
        _ => return Err(unsupported_type(reader, opcode, at)),
    }
    Ok(())
}

/// A negative expiry (possible on disk) is a moment long past: the epoch.
fn clamp_expiry(at_ms: i64) -> u64 {
    u64::try_from(at_ms).unwrap_or(0)
}

fn read_select_db(reader: &mut Reader<'_>, databases: usize) -> Result<usize, RdbError> {
    let at = reader.pos;
    let db = reader.plain_len("SELECTDB")?;
    match usize::try_from(db) {
        Ok(db) if db < databases => Ok(db),
        _ => Err(RdbError::corrupt(
            at,
            format!(
                "SELECTDB {db}: data file was created with a Redis server configured to handle \
                 more than {databases} databases"
            ),
        )),
    }
}

/// A key of type `type_id`: key string, then the value. Applies the pending expiry and the
/// drop rule; an empty collection is skipped, as Redis's loader does.
fn read_key(
    reader: &mut Reader<'_>,
    ks: &mut Keyspace,
    opts: &LoadOptions,
    state: &mut State,
    type_id: u8,
) -> Result<(), RdbError> {
    let at = reader.pos;
    let key = reader.string("a key")?;
    let value = if type_id == TYPE_STRING {
        Some(Value::Str(reader.string("a string value")?))
    } else {
        read_payload(reader, type_id, &ks.limits)?
    };
    let expire_at_ms = state.expire_at_ms.take();
    let Some(value) = value else {
        return Ok(());
    };
    let entry = Entry {
        value,
        expire_at_ms,
    };
    if opts.drop_expired && entry.is_expired(opts.now_ms) {
        // Redis compares `expire < now`; durakv's single definition of "expired" is
        // `Entry::is_expired` (`<=`). They differ only for a key expiring this very ms.
        state.keys_expired += 1;
        return Ok(());
    }
    // SELECTDB checked the index; a keyspace built without any database is refused here.
    let Some(db) = ks.dbs.get_mut(state.db) else {
        let reason = format!(
            "key for DB {} but the keyspace has no such database",
            state.db
        );
        return Err(RdbError::corrupt(at, reason));
    };
    if db.contains(&key) {
        let reason = format!("RDB has duplicated key '{}' in DB {}", repr(&key), state.db);
        return Err(RdbError::corrupt(at, reason));
    }
    db.insert(key, entry);
    state.keys_loaded += 1;
    Ok(())
}

/// The error for a value type other than string: by name if Redis 7.0 knows it (naming the
/// key when it can be read), else Redis's "Unknown RDB encoding type".
fn unsupported_type(reader: &mut Reader<'_>, type_id: u8, at: usize) -> RdbError {
    match type_name(type_id) {
        Some(name) => {
            let key = match reader.string("a key") {
                Ok(key) => format!(" of key '{}'", repr(&key)),
                Err(_) => String::new(),
            };
            RdbError::corrupt(
                at,
                format!("value type {type_id} ({name}){key} is not supported yet"),
            )
        }
        None => RdbError::corrupt(at, format!("Unknown RDB encoding type {type_id}")),
    }
}

fn read_checksum(reader: &mut Reader<'_>, version: u32) -> Result<u64, RdbError> {
    if version < RDB_VERSION_CHECKSUM_MIN {
        return Ok(reader.pos as u64);
    }
    let covered = reader.pos;
    let stored = u64::from_le_bytes(reader.array("the CRC-64 trailer")?);
    // 0 means the writer had `rdbchecksum no`: Redis loads without checking.
    if stored != 0 {
        let computed = crc64_redis(&reader.bytes[..covered]);
        if stored != computed {
            let reason =
                format!("Wrong RDB checksum expected: ({computed:x}) but got ({stored:x})");
            return Err(RdbError::corrupt(covered, reason));
        }
    }
    Ok(reader.pos as u64)
}

/// A key for an error message: printable ASCII as is, the rest escaped, at most 64 bytes.
fn repr(key: &[u8]) -> String {
    const SHOWN_MAX: usize = 64;
    let mut text: String = key
        .iter()
        .take(SHOWN_MAX)
        .flat_map(|&b| std::ascii::escape_default(b))
        .map(char::from)
        .collect();
    if key.len() > SHOWN_MAX {
        text.push_str("...");
    }
    text
}
