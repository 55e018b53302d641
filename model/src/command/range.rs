//! Byte ranges of strings: APPEND, STRLEN, GETRANGE (and its old name SUBSTR), SETRANGE.
//!
//! Invariant: no string grows past `proto-max-bulk-len` (512 MB) through these commands, not even
//! while loading (Redis skips the check for its AOF client; a corrupt log must not make us
//! allocate without bound); APPEND and SETRANGE keep the TTL.

use bytes::{Bytes, BytesMut};

use super::exec::{string_of, Exec};
use super::num::integer_arg;
use super::reply;
use crate::keyspace::{Entry, Value};
use crate::resp::{Frame, BULK_LEN_MAX};

/// Redis's `checkStringLength`.
fn check_length(size: u64, append: u64) -> Result<(), Frame> {
    match size.checked_add(append) {
        Some(total) if total <= BULK_LEN_MAX => Ok(()),
        _ => Err(reply::err(reply::TOO_LONG)),
    }
}

pub(crate) fn append(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    let (key, tail) = (&argv[1], &argv[2]);
    let entry = match x.lookup_string(key) {
        Ok(entry) => entry,
        Err(error) => return error,
    };
    let (value, expire_at_ms) = match entry {
        // A missing key is created, even by an empty append.
        None => (tail.clone(), None),
        Some(e) => {
            let old = string_of(&e).cloned().unwrap_or_default();
            if let Err(error) = check_length(old.len() as u64, tail.len() as u64) {
                return error;
            }
            let mut joined = BytesMut::with_capacity(old.len() + tail.len());
            joined.extend_from_slice(&old);
            joined.extend_from_slice(tail);
            (joined.freeze(), e.expire_at_ms)
        }
    };
    let len = value.len();
    x.store(
        key,
        Entry {
            value: Value::Str(value),
            expire_at_ms,
        },
    );
    x.add_dirty(1);
    reply::count(len)
}

pub(crate) fn strlen(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    match x.lookup_string(&argv[1]) {
        Ok(entry) => reply::count(entry.map_or(0, |e| string_of(&e).map_or(0, Bytes::len))),
        Err(error) => error,
    }
}

/// GETRANGE key start end: inclusive, negative indexes count from the end.
pub(crate) fn getrange(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    let empty = Frame::Bulk(Bytes::new());
    let (start, end) = match (integer_arg(&argv[2]), integer_arg(&argv[3])) {
        (Ok(start), Ok(end)) => (start, end),
        (Err(error), _) | (_, Err(error)) => return error,
    };
    let value = match x.lookup_string(&argv[1]) {
        Ok(Some(e)) => string_of(&e).cloned().unwrap_or_default(),
        Ok(None) => return empty,
        Err(error) => return error,
    };
    let len = value.len() as i64;
    if (start < 0 && end < 0 && start > end) || len == 0 {
        return empty;
    }
    let clamp = |i: i64| if i < 0 { (len + i).max(0) } else { i };
    let (start, end) = (clamp(start), clamp(end).min(len - 1));
    if start > end {
        return empty;
    }
    Frame::Bulk(value.slice(start as usize..=end as usize))
}

/// SETRANGE key offset value: overwrite from `offset`, zero-padding a shorter string.
pub(crate) fn setrange(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    let (key, patch) = (&argv[1], &argv[3]);
    let offset = match integer_arg(&argv[2]) {
        Ok(n) if n < 0 => return reply::err("ERR offset is out of range"),
        Ok(n) => n as u64,
        Err(error) => return error,
    };
    let entry = match x.lookup_string(key) {
        Ok(entry) => entry,
        Err(error) => return error,
    };
    let old = entry
        .as_ref()
        .and_then(|e| string_of(e).ok().cloned())
        .unwrap_or_default();
    if patch.is_empty() {
        // Setting nothing creates nothing and changes nothing.
        return reply::count(old.len());
    }
    if let Err(error) = check_length(offset, patch.len() as u64) {
        return error;
    }
    let offset = offset as usize;
    let mut value = BytesMut::from(&old[..]);
    if value.len() < offset + patch.len() {
        value.resize(offset + patch.len(), 0);
    }
    value[offset..offset + patch.len()].copy_from_slice(patch);
    let len = value.len();
    let expire_at_ms = entry.and_then(|e| e.expire_at_ms);
    x.store(
        key,
        Entry {
            value: Value::Str(value.freeze()),
            expire_at_ms,
        },
    );
    x.add_dirty(1);
    reply::count(len)
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;

    #[test]
    fn append_and_strlen() {
        let mut k = Kit::new();
        assert_eq!(k.reply("STRLEN k"), int(0));
        assert_eq!(k.reply("APPEND k \"\""), int(0));
        assert_eq!(
            k.reply("EXISTS k"),
            int(1),
            "an empty append creates the key"
        );
        assert_eq!(k.reply("APPEND k hello"), int(5));
        k.run("EXPIRE k 100");
        assert_eq!(
            k.logged("APPEND k \" world\""),
            vec![(0, "APPEND k  world".to_string())]
        );
        assert_eq!(
            (k.reply("GET k"), k.reply("STRLEN k"), k.reply("TTL k")),
            (bulk("hello world"), int(11), int(100))
        );
    }

    #[test]
    fn getrange_clamps_like_redis() {
        let mut k = Kit::new();
        k.run("SET k \"This is a string\"");
        let cases = [
            ("0 3", "This"),
            ("-3 -1", "ing"),
            ("0 -1", "This is a string"),
            ("10 100", "string"),
            ("5 3", ""),
            ("-1 -5", ""),
            ("-100 2", "Thi"),
            ("100 200", ""),
            ("-9223372036854775808 0", "T"),
        ];
        for (args, want) in cases {
            assert_eq!(k.reply(&format!("GETRANGE k {args}")), bulk(want), "{args}");
        }
        assert_eq!(k.reply("SUBSTR k 0 1"), bulk("Th"));
        assert_eq!(k.reply("GETRANGE nope 0 1"), bulk(""));
        assert_eq!(
            k.reply("GETRANGE k a 1"),
            err("ERR value is not an integer or out of range")
        );
        k.run("SET e \"\"");
        assert_eq!(k.reply("GETRANGE e 0 -1"), bulk(""));
    }

    #[test]
    fn setrange_pads_with_zeros_and_is_bounded() {
        let mut k = Kit::new();
        assert_eq!(k.reply("SETRANGE k 3 ab"), int(5));
        assert_eq!(
            k.reply("GET k"),
            crate::resp::Frame::Bulk(bytes::Bytes::from_static(b"\0\0\0ab"))
        );
        assert_eq!(k.reply("SETRANGE k 0 X"), int(5));
        assert_eq!(k.reply("SETRANGE k 1 \"\""), int(5));
        assert_eq!(k.logged("SETRANGE new 1 \"\""), vec![]);
        assert_eq!(k.reply("EXISTS new"), int(0));
        assert_eq!(
            k.reply("SETRANGE k -1 x"),
            err("ERR offset is out of range")
        );
        assert_eq!(
            k.reply("SETRANGE k 536870911 xy"),
            err("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
        );
        assert_eq!(
            k.reply("SETRANGE k 9223372036854775807 xy"),
            err("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
        );
        assert_eq!(
            k.logged("SETRANGE k 1 yy"),
            vec![(0, "SETRANGE k 1 yy".to_string())]
        );
        assert_eq!(
            k.reply("GET k"),
            crate::resp::Frame::Bulk(bytes::Bytes::from_static(b"Xyyab"))
        );
    }
}
