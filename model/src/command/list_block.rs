//! The blocking list pops: BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP.
//!
//! Each first tries its non-blocking form; if there is nothing to pop it asks the engine to
//! park the client ([`Exec::block`]) — unless it runs inside EXEC or a script, where Redis
//! answers at once with the timeout reply. The engine runs the same command again when a key
//! it waits on holds a list, so being served later is the same code path as being served now.
//! Invariant: whatever pops is propagated as the non-blocking form Redis 7.0 writes (`LPOP
//! key`, `RPOP key`, `LMOVE …`, `RPOPLPUSH …`, `LPOP|RPOP key count`), never as the blocking
//! command, so a replay never blocks.

use bytes::Bytes;

use super::exec::Exec;
use super::list::{pop, End};
use super::list_move::{move_generic, mpop, parse_mpop};
use super::num::parse_float;
use super::reply;
use super::state::Block;
use super::typed;
use crate::resp::Frame;
use crate::types::ListValue;

/// `getTimeoutFromObjectOrReply` in seconds: the absolute deadline, `None` for 0 (forever).
/// Every blocking command's timeout (lists here, sorted sets in `zset_block.rs`).
pub(crate) fn deadline(x: &Exec<'_>, arg: &[u8]) -> Result<Option<u64>, Frame> {
    let seconds =
        parse_float(arg).ok_or_else(|| reply::err("ERR timeout is not a float or out of range"))?;
    let ms = (seconds * 1000.0) as i64;
    if ms < 0 {
        return Err(reply::err("ERR timeout is negative"));
    }
    if ms == 0 {
        return Ok(None);
    }
    let now = i64::try_from(x.ctx.now_ms).unwrap_or(i64::MAX);
    match ms.checked_add(now) {
        Some(at) if at < i64::MAX => Ok(Some(at as u64)),
        _ => Err(reply::err("ERR timeout is out of range")),
    }
}

/// Parks the client on `keys` when it may block; the reply for "nothing now" either way.
fn block_or(x: &mut Exec<'_>, keys: &[Bytes], at: Option<u64>, now_reply: Frame) -> Frame {
    if !x.may_block() {
        return now_reply;
    }
    let db = x.db();
    x.block(Block {
        db,
        keys: keys.to_vec(),
        type_name: "list",
        deadline_ms: at,
        timeout_reply: Frame::NullArray,
        rerun: None,
    });
    Frame::NullArray
}

fn bpop(x: &mut Exec<'_>, argv: &[Bytes], end: End) -> Frame {
    let at = match deadline(x, &argv[argv.len() - 1]) {
        Ok(at) => at,
        Err(e) => return e,
    };
    let keys = &argv[1..argv.len() - 1];
    for key in keys {
        let list = match typed::write::<ListValue>(x, key) {
            Err(e) => return e,
            Ok(None) => continue,
            Ok(Some(list)) => list,
        };
        let Some(item) = pop(list, end, 1).pop() else {
            continue;
        };
        x.changed(key);
        x.add_dirty(1);
        let name: &'static [u8] = if end == End::Head { b"LPOP" } else { b"RPOP" };
        x.propagate_as(vec![Bytes::from_static(name), key.clone()]);
        return Frame::Array(vec![Frame::Bulk(key.clone()), Frame::Bulk(item)]);
    }
    block_or(x, keys, at, Frame::NullArray)
}

/// BLPOP key [key ...] timeout.
pub(crate) fn blpop(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    bpop(x, argv, End::Head)
}

/// BRPOP key [key ...] timeout.
pub(crate) fn brpop(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    bpop(x, argv, End::Tail)
}

/// `blmoveGenericCommand`; `as_rpoplpush` for BRPOPLPUSH's propagation.
fn bmove(
    x: &mut Exec<'_>,
    argv: &[Bytes],
    from: End,
    to: End,
    timeout: &[u8],
    as_rpoplpush: bool,
) -> Frame {
    let at = match deadline(x, timeout) {
        Ok(at) => at,
        Err(e) => return e,
    };
    let (src, dst) = (&argv[1], &argv[2]);
    match typed::read::<ListValue>(x, src) {
        Err(e) => e,
        Ok(None) => block_or(x, std::slice::from_ref(src), at, Frame::Null),
        Ok(Some(_)) => {
            let moved = move_generic(x, src, dst, from, to);
            let word = |end| Bytes::from_static(if end == End::Head { b"LEFT" } else { b"RIGHT" });
            let argv = if as_rpoplpush {
                vec![Bytes::from_static(b"RPOPLPUSH"), src.clone(), dst.clone()]
            } else {
                vec![
                    Bytes::from_static(b"LMOVE"),
                    src.clone(),
                    dst.clone(),
                    word(from),
                    word(to),
                ]
            };
            x.propagate_as(argv);
            moved
        }
    }
}

/// BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout.
pub(crate) fn blmove(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    match (End::parse(&argv[3]), End::parse(&argv[4])) {
        (Some(from), Some(to)) => bmove(x, argv, from, to, &argv[5], false),
        _ => reply::err(reply::SYNTAX),
    }
}

/// BRPOPLPUSH source destination timeout.
pub(crate) fn brpoplpush(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    bmove(x, argv, End::Tail, End::Head, &argv[3], true)
}

/// BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count].
pub(crate) fn blmpop(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    let m = match parse_mpop(&argv[2..]) {
        Ok(m) => m,
        Err(e) => return e,
    };
    let at = match deadline(x, &argv[1]) {
        Ok(at) => at,
        Err(e) => return e,
    };
    match mpop(x, &m) {
        Frame::NullArray => block_or(x, &m.keys, at, Frame::NullArray),
        served => served,
    }
}
