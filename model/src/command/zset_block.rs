//! The blocking sorted-set pops: BZPOPMIN BZPOPMAX BZMPOP, on the engine's parked clients.
//!
//! Each first tries its non-blocking form; with nothing to pop it asks the engine to park the
//! client until one of its keys holds a sorted set ([`Exec::block`]), unless it runs inside
//! EXEC or a script, where Redis answers at once with the timeout reply (a null array). The
//! engine runs the same command again to serve it. Invariant: a pop is propagated as Redis 7.0
//! writes it — `ZPOPMIN|ZPOPMAX key` for BZPOP*, `ZPOPMIN|ZPOPMAX key <popped>` for BZMPOP —
//! never as the blocking command, so a replay never blocks.

use bytes::Bytes;

use super::exec::Exec;
use super::list_block::deadline;
use super::state::Block;
use super::zset::{double, pop, zmpop_args, zmpop_from};
use crate::resp::Frame;

/// Parks the client on `keys` when it may block; the null array either way.
fn block_or_null(x: &mut Exec<'_>, keys: &[Bytes], at: Option<u64>) -> Frame {
    if x.may_block() {
        let db = x.db();
        x.block(Block {
            db,
            keys: keys.to_vec(),
            type_name: "zset",
            deadline_ms: at,
            timeout_reply: Frame::NullArray,
            rerun: None,
        });
    }
    Frame::NullArray
}

fn bzpop(x: &mut Exec<'_>, argv: &[Bytes], max: bool) -> Frame {
    let at = match deadline(x, &argv[argv.len() - 1]) {
        Ok(at) => at,
        Err(e) => return e,
    };
    let keys = &argv[1..argv.len() - 1];
    for key in keys {
        let popped = match pop(x, key, max, 1) {
            Err(e) => return e,
            Ok(None) => continue,
            Ok(Some(p)) => p,
        };
        let Some((member, score)) = popped.into_iter().next() else {
            continue;
        };
        let name: &'static [u8] = if max { b"ZPOPMAX" } else { b"ZPOPMIN" };
        x.propagate_as(vec![Bytes::from_static(name), key.clone()]);
        return Frame::Array(vec![
            Frame::Bulk(key.clone()),
            Frame::Bulk(member),
            double(score),
        ]);
    }
    block_or_null(x, keys, at)
}

/// BZPOPMIN key [key ...] timeout.
pub(crate) fn bzpopmin(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    bzpop(x, argv, false)
}

/// BZPOPMAX key [key ...] timeout.
pub(crate) fn bzpopmax(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    bzpop(x, argv, true)
}

/// BZMPOP timeout numkeys key [key ...] MIN|MAX [COUNT count].
pub(crate) fn bzmpop(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    let (keys, max, count) = match zmpop_args(&argv[1..]) {
        Ok(a) => a,
        Err(e) => return e,
    };
    let at = match deadline(x, &argv[1]) {
        Ok(at) => at,
        Err(e) => return e,
    };
    match zmpop_from(x, keys, max, count) {
        Frame::NullArray => block_or_null(x, keys, at),
        served => served,
    }
}
