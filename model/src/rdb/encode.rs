//! RDB encoder: a keyspace to the bytes Redis 7.0's `rdbSave` would write for it.
//!
//! Owns the writer-side choices: AUX fields and their order, one SELECTDB + RESIZEDB per
//! non-empty database, EXPIRETIME_MS before keys with a TTL, and Redis's string encoding rules
//! (`rdbSaveRawString`). Invariant: the CRC covers every byte from `R` of `REDIS` through the
//! EOF opcode, computed as the bytes are handed to the writer, and the trailer is that CRC
//! little-endian (or 0 when checksums are off, which Redis reads as "not computed").

use std::io::{self, Write};

use super::format::*;
use super::sink::Sink;
use super::value_write::{type_id, write_payload};
use crate::keyspace::{Keyspace, Stored, Value, ValueRef};
use crate::types::Limits;

/// What a save records besides the data, and how it encodes strings.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SaveInfo {
    /// Written as AOF base (RDB preamble): the `aof-base` AUX field is 1.
    pub aof_base: bool,
    /// `ctime` AUX field: unix seconds of the save.
    pub ctime_s: u64,
    /// `used-mem` AUX field, in bytes.
    pub used_mem: u64,
    /// `rdbcompression`: try LZF on strings longer than 20 bytes.
    pub compression: bool,
    /// `rdbchecksum`: compute the CRC-64 trailer; otherwise write 0.
    pub checksum: bool,
}

/// Serialises `ks` as an RDB version 10 file to `out`; returns the number of bytes written.
///
/// Bytes go out in blocks of 64 KiB, so memory stays bounded whatever the size of the
/// keyspace (plus one compressed copy of the largest string); `out` is flushed at the end.
/// Expired entries are written like any other: the loader decides whether to drop them, as
/// in Redis.
pub fn encode<W: Write>(ks: &Keyspace, info: &SaveInfo, out: &mut W) -> io::Result<u64> {
    encode_with_repl(ks, info, None, out)
}

/// [`encode`], with a replica's `repl-stream-db`/`repl-id`/`repl-offset` AUX fields when
/// `repl` is set (Redis's `rdbPopulateSaveInfo` on a replica: its master's id and the offset
/// the data set reflects), which let it PSYNC after a restart.
pub fn encode_with_repl<W: Write>(
    ks: &Keyspace,
    info: &SaveInfo,
    repl: Option<(&str, u64)>,
    out: &mut W,
) -> io::Result<u64> {
    let mut sink = Sink::new(out, info.compression, info.checksum);
    sink.bytes(MAGIC)?;
    sink.bytes(format!("{RDB_VERSION:04}").as_bytes())?;
    debug_assert_eq!(sink.written + sink.pending.len() as u64, HEADER_LEN);
    write_aux_fields(&mut sink, info, repl)?;
    for code in ks.functions.codes() {
        // As `rdbSaveFunctions`: each library's code, before the databases.
        sink.byte(OPCODE_FUNCTION2)?;
        sink.string(code)?;
    }
    for (db_index, db) in ks.dbs.iter().enumerate() {
        if db.is_empty() {
            continue; // As `rdbSaveDb`: an empty database leaves no trace.
        }
        sink.byte(OPCODE_SELECTDB)?;
        sink.len(db_index as u64)?;
        sink.byte(OPCODE_RESIZEDB)?;
        sink.len(db.len() as u64)?;
        sink.len(db.expires_count() as u64)?;
        for stored in db.iter() {
            write_entry(&mut sink, stored, &ks.limits)?;
        }
    }
    sink.byte(OPCODE_EOF)?;
    sink.finish()
}

/// One value as `rdbSaveObjectType` + `rdbSaveObject` write it, with compression on (DUMP's
/// payload before its version and checksum footer).
pub(crate) fn encode_value(value: &Value, limits: &Limits, out: &mut Vec<u8>) {
    let info = SaveInfo {
        aof_base: false,
        ctime_s: 0,
        used_mem: 0,
        compression: true,
        checksum: false,
    };
    let mut sink = Sink::new(out, info.compression, info.checksum);
    let written = sink
        .byte(type_id(value))
        .and_then(|()| write_payload(&mut sink, value, limits));
    written
        .and_then(|()| sink.flush_pending())
        .expect("writing to a Vec cannot fail");
}

/// Redis 7.0.15's `rdbSaveInfoAuxFields`, in its order. `repl-*` fields only with `repl` (a
/// save on a master without a backlog has none either).
fn write_aux_fields<W: Write>(
    sink: &mut Sink<'_, W>,
    info: &SaveInfo,
    repl: Option<(&str, u64)>,
) -> io::Result<()> {
    let mut fields: Vec<(&str, String)> = vec![
        ("redis-ver", AUX_REDIS_VER.to_string()),
        ("redis-bits", usize::BITS.to_string()),
        ("ctime", info.ctime_s.to_string()),
        ("used-mem", info.used_mem.to_string()),
    ];
    if let Some((id, offset)) = repl {
        fields.push(("repl-stream-db", "0".to_string()));
        fields.push(("repl-id", id.to_string()));
        fields.push(("repl-offset", offset.to_string()));
    }
    fields.push(("aof-base", u8::from(info.aof_base).to_string()));
    for (key, value) in fields {
        sink.byte(OPCODE_AUX)?;
        sink.string(key.as_bytes())?;
        sink.string(value.as_bytes())?;
    }
    Ok(())
}

fn write_entry<W: Write>(
    sink: &mut Sink<'_, W>,
    stored: &Stored,
    limits: &Limits,
) -> io::Result<()> {
    if let Some(at_ms) = stored.expire_at_ms() {
        // On disk a signed 64-bit value; no real expiry is beyond i64::MAX ms.
        let at_ms = i64::try_from(at_ms).unwrap_or(i64::MAX);
        sink.byte(OPCODE_EXPIRETIME_MS)?;
        sink.bytes(&at_ms.to_le_bytes())?;
    }
    // A string straight from its block: no `Value` is built for it.
    match stored.value() {
        ValueRef::Str(value) => {
            sink.byte(TYPE_STRING)?;
            sink.string(stored.key())?;
            sink.string(value)
        }
        ValueRef::Other(value) => {
            sink.byte(type_id(value))?;
            sink.string(stored.key())?;
            write_payload(sink, value, limits)
        }
    }
}
