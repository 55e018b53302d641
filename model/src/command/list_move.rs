//! LPOS and the list commands that move elements between keys or pop from one of many:
//! LMOVE, RPOPLPUSH, LMPOP.
//!
//! Invariants (Redis 7.0 `t_list.c`): the destination's type is checked before anything is
//! popped, so a WRONGTYPE changes nothing; a source emptied by the move is deleted; LMPOP is
//! propagated as `LPOP|RPOP key <count popped>` (`listPopRangeAndReplyWithKey`), so a replay
//! pops exactly what was popped.

use bytes::Bytes;

use super::exec::Exec;
use super::list::{pop, positive, push, End};
use super::reply;
use super::typed;
use crate::keyspace::Value;
use crate::resp::{parse_integer, Frame};
use crate::types::ListValue;

/// LMOVE source destination LEFT|RIGHT LEFT|RIGHT.
pub(crate) fn lmove(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    match (End::parse(&argv[3]), End::parse(&argv[4])) {
        (Some(from), Some(to)) => move_generic(x, &argv[1], &argv[2], from, to),
        _ => reply::err(reply::SYNTAX),
    }
}

/// RPOPLPUSH source destination: LMOVE source destination RIGHT LEFT.
pub(crate) fn rpoplpush(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    move_generic(x, &argv[1], &argv[2], End::Tail, End::Head)
}

/// `lmoveGenericCommand`: the element moved, or nil when the source is absent.
pub(crate) fn move_generic(
    x: &mut Exec<'_>,
    src: &Bytes,
    dst: &Bytes,
    from: End,
    to: End,
) -> Frame {
    match typed::read::<ListValue>(x, src) {
        Err(e) => return e,
        Ok(None) => return Frame::Null,
        Ok(Some(_)) => {}
    }
    if let Err(e) = typed::read::<ListValue>(x, dst) {
        return e;
    }
    let value = match typed::write::<ListValue>(x, src) {
        Ok(Some(list)) => pop(list, from, 1).pop(),
        _ => None,
    };
    let Some(value) = value else {
        return Frame::Null;
    };
    x.changed(src);
    match typed::write_or_create::<ListValue>(x, dst, || Value::List(Box::default())) {
        Ok(list) => push(list, to, value.clone()),
        Err(e) => unreachable!("destination type checked above: {e:?}"),
    }
    x.changed(dst);
    x.add_dirty(1);
    Frame::Bulk(value)
}

/// LMPOP's arguments after the command name: the keys, the end and the count.
pub(crate) struct Mpop {
    pub(crate) keys: Vec<Bytes>,
    pub(crate) end: End,
    pub(crate) count: usize,
}

/// Parses `numkeys key... LEFT|RIGHT [COUNT n]` (`lmpopGenericCommand`).
pub(crate) fn parse_mpop(args: &[Bytes]) -> Result<Mpop, Frame> {
    let numkeys = match parse_integer(&args[0]) {
        Some(n) if n >= 1 => usize::try_from(n).unwrap_or(usize::MAX),
        _ => return Err(reply::err("ERR numkeys should be greater than 0")),
    };
    let Some(end_arg) = args.get(numkeys.saturating_add(1)) else {
        return Err(reply::err(reply::SYNTAX));
    };
    let end = End::parse(end_arg).ok_or_else(|| reply::err(reply::SYNTAX))?;
    let mut count = None;
    let mut rest = args[numkeys + 2..].iter();
    while let Some(opt) = rest.next() {
        match rest.next() {
            Some(n) if count.is_none() && opt.eq_ignore_ascii_case(b"count") => {
                let n = parse_integer(n).filter(|&n| n >= 1);
                let n = n.ok_or_else(|| reply::err("ERR count should be greater than 0"))?;
                count = Some(usize::try_from(n).unwrap_or(usize::MAX));
            }
            _ => return Err(reply::err(reply::SYNTAX)),
        }
    }
    let keys = args[1..=numkeys].to_vec();
    Ok(Mpop {
        keys,
        end,
        count: count.unwrap_or(1),
    })
}

/// Pops from the first non-empty list of `m.keys`: `[key, [elements]]`, or a null array.
/// Propagated as LPOP/RPOP key count.
pub(crate) fn mpop(x: &mut Exec<'_>, m: &Mpop) -> Frame {
    for key in &m.keys {
        let list = match typed::write::<ListValue>(x, key) {
            Err(e) => return e,
            Ok(None) => continue,
            Ok(Some(list)) => list,
        };
        let popped = pop(list, m.end, m.count);
        x.changed(key);
        x.add_dirty(popped.len() as u64);
        let name: &'static [u8] = if m.end == End::Head { b"LPOP" } else { b"RPOP" };
        let n = Bytes::from(popped.len().to_string());
        x.propagate_as(vec![Bytes::from_static(name), key.clone(), n]);
        let items = popped.into_iter().map(Frame::Bulk).collect();
        return Frame::Array(vec![Frame::Bulk(key.clone()), Frame::Array(items)]);
    }
    Frame::NullArray
}

/// LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count].
pub(crate) fn lmpop(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    match parse_mpop(&argv[1..]) {
        Ok(m) => mpop(x, &m),
        Err(e) => e,
    }
}

/// LPOS's options (`lposCommand`).
struct LposOptions {
    rank: i64,
    count: Option<usize>,
    maxlen: usize,
}

fn lpos_options(argv: &[Bytes]) -> Result<LposOptions, Frame> {
    let mut o = LposOptions {
        rank: 1,
        count: None,
        maxlen: 0,
    };
    let mut rest = argv[3..].iter();
    while let Some(opt) = rest.next() {
        let value = rest.next();
        match (opt.to_ascii_uppercase().as_slice(), value) {
            (b"RANK", Some(v)) => {
                o.rank = match parse_integer(v) {
                    Some(0) => {
                        return Err(reply::err(
                            "ERR RANK can't be zero: use 1 to start from the first match, 2 \
                             from the second ... or use negative to start from the end of the list",
                        ))
                    }
                    Some(i64::MIN) => return Err(reply::err("ERR value is out of range, must be between -9223372036854775807 and 9223372036854775807")),
                    Some(n) => n,
                    None => return Err(reply::err(reply::NOT_INTEGER)),
                }
            }
            (b"COUNT", Some(v)) => o.count = Some(positive(v, "ERR COUNT can't be negative")?),
            (b"MAXLEN", Some(v)) => o.maxlen = positive(v, "ERR MAXLEN can't be negative")?,
            _ => return Err(reply::err(reply::SYNTAX)),
        }
    }
    Ok(o)
}

/// LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len].
pub(crate) fn lpos(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    let o = match lpos_options(argv) {
        Ok(o) => o,
        Err(e) => return e,
    };
    let list = match typed::read::<ListValue>(x, &argv[1]) {
        Err(e) => return e,
        Ok(None) if o.count.is_some() => return Frame::Array(Vec::new()),
        Ok(None) => return Frame::Null,
        Ok(Some(list)) => list,
    };
    let len = list.len();
    let scan = if o.maxlen == 0 {
        len
    } else {
        o.maxlen.min(len)
    };
    let indexes: Box<dyn Iterator<Item = usize>> = if o.rank > 0 {
        Box::new(0..scan)
    } else {
        Box::new((len - scan..len).rev())
    };
    let wanted = match o.count {
        Some(0) => usize::MAX,
        Some(n) => n,
        None => 1,
    };
    let skip = usize::try_from(o.rank.unsigned_abs() - 1).unwrap_or(usize::MAX);
    let target = &argv[2];
    let found: Vec<usize> = indexes
        .filter(|&i| list.items[i] == *target)
        .skip(skip)
        .take(wanted)
        .collect();
    match o.count {
        Some(_) => Frame::Array(found.into_iter().map(reply::count).collect()),
        None => found.first().map_or(Frame::Null, |&i| reply::count(i)),
    }
}
