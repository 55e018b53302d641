//! The sorted-set algebra: ZUNION ZINTER ZDIFF, their STORE forms, and ZINTERCARD. Plain sets
//! are accepted as inputs, every member scoring 1.
//!
//! Invariants (Redis 7.0 `zunionInterDiffGenericCommand`): every key is type-checked before
//! the options are read; weighted scores and SUM that give NaN (inf × 0, inf + -inf) count as
//! 0; union and intersection accumulate in input order sorted by size, as Redis does, so
//! float sums round the same way; results are ordered by (score, member).

use std::collections::BTreeMap;

use bytes::Bytes;

use super::exec::Exec;
use super::reply;
use super::set_ops::card_args;
use super::zset::double;
use super::zset_query::parse_score;
use super::zset_range::store_zset;
use crate::keyspace::{Value, ValueRef};
use crate::resp::Frame;

/// One input: members with scores (`None`: a missing key).
type Input = Option<Vec<(Bytes, f64)>>;

fn load(x: &mut Exec<'_>, keys: &[Bytes]) -> Result<Vec<Input>, Frame> {
    let mut inputs = Vec::with_capacity(keys.len());
    for key in keys {
        inputs.push(match x.peek(key) {
            None => None,
            Some(ValueRef::Other(Value::ZSet(z))) => {
                Some(z.iter().map(|(m, s)| (m.clone(), s.get())).collect())
            }
            Some(ValueRef::Other(Value::Set(s))) => Some(s.iter().map(|m| (m, 1.0)).collect()),
            Some(_) => return Err(reply::err(reply::WRONGTYPE)),
        });
    }
    Ok(inputs)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

impl Aggregate {
    fn apply(self, a: f64, b: f64) -> f64 {
        match self {
            Aggregate::Sum => {
                let s = a + b;
                if s.is_nan() {
                    0.0
                } else {
                    s
                }
            }
            Aggregate::Min => a.min(b),
            Aggregate::Max => a.max(b),
        }
    }
}

struct Options {
    weights: Vec<f64>,
    aggregate: Aggregate,
    with_scores: bool,
}

fn parse_options(argv: &[Bytes], op: Op, n: usize, store: bool) -> Result<Options, Frame> {
    let mut o = Options {
        weights: vec![1.0; n],
        aggregate: Aggregate::Sum,
        with_scores: false,
    };
    let mut j = 0;
    while j < argv.len() {
        let left = argv.len() - j - 1;
        match argv[j].to_ascii_lowercase().as_slice() {
            b"weights" if op != Op::Diff && left >= n => {
                for (i, w) in argv[j + 1..=j + n].iter().enumerate() {
                    o.weights[i] = parse_score(w)
                        .ok_or_else(|| reply::err("ERR weight value is not a float"))?;
                }
                j += n;
            }
            b"aggregate" if op != Op::Diff && left >= 1 => {
                o.aggregate = match argv[j + 1].to_ascii_lowercase().as_slice() {
                    b"sum" => Aggregate::Sum,
                    b"min" => Aggregate::Min,
                    b"max" => Aggregate::Max,
                    _ => return Err(reply::err(reply::SYNTAX)),
                };
                j += 1;
            }
            b"withscores" if !store => o.with_scores = true,
            _ => return Err(reply::err(reply::SYNTAX)),
        }
        j += 1;
    }
    Ok(o)
}

fn weighted(s: f64, w: f64) -> f64 {
    let v = s * w;
    if v.is_nan() {
        0.0
    } else {
        v
    }
}

fn compute(inputs: Vec<Input>, op: Op, o: &Options) -> Vec<(Bytes, f64)> {
    let mut indexed: Vec<(usize, Input)> = inputs.into_iter().enumerate().collect();
    let mut out: BTreeMap<Bytes, f64> = BTreeMap::new();
    match op {
        Op::Diff => {
            let Some((_, Some(first))) = indexed.first().cloned() else {
                return Vec::new();
            };
            let others: Vec<std::collections::BTreeSet<&Bytes>> = indexed[1..]
                .iter()
                .filter_map(|(_, i)| i.as_ref().map(|v| v.iter().map(|(m, _)| m).collect()))
                .collect();
            for (m, s) in first {
                if !others.iter().any(|o| o.contains(&m)) {
                    out.insert(m, s);
                }
            }
        }
        Op::Inter => {
            if indexed.iter().any(|(_, i)| i.is_none()) {
                return Vec::new();
            }
            indexed.sort_by_key(|(_, i)| i.as_ref().map_or(0, Vec::len));
            let maps: Vec<(usize, BTreeMap<&Bytes, f64>)> = indexed[1..]
                .iter()
                .map(|(k, i)| (*k, i.iter().flatten().map(|(m, s)| (m, *s)).collect()))
                .collect();
            let (k0, first) = &indexed[0];
            'member: for (m, s) in first.iter().flatten() {
                let mut acc = weighted(*s, o.weights[*k0]);
                for (k, map) in &maps {
                    let Some(s) = map.get(m) else {
                        continue 'member;
                    };
                    acc = o.aggregate.apply(acc, weighted(*s, o.weights[*k]));
                }
                out.insert(m.clone(), acc);
            }
        }
        Op::Union => {
            indexed.sort_by_key(|(_, i)| i.as_ref().map_or(0, Vec::len));
            for (k, input) in indexed {
                for (m, s) in input.into_iter().flatten() {
                    let v = weighted(s, o.weights[k]);
                    out.entry(m)
                        .and_modify(|acc| *acc = o.aggregate.apply(*acc, v))
                        .or_insert(v);
                }
            }
        }
    }
    let mut result: Vec<(Bytes, f64)> = out.into_iter().collect();
    result.sort_by(|a, b| {
        let by_score = a.1.partial_cmp(&b.1).expect("scores are never NaN");
        by_score.then_with(|| a.0.cmp(&b.0))
    });
    result
}

/// `numkeys key [key ...] [options]` from `argv[at]`: the inputs and options.
fn prepare(
    x: &mut Exec<'_>,
    argv: &[Bytes],
    at: usize,
    op: Op,
    store: bool,
) -> Result<(Vec<Input>, Options), Frame> {
    let numkeys = super::num::integer_arg(&argv[at])?;
    if numkeys < 1 {
        let name = String::from_utf8_lossy(&argv[0]).to_ascii_lowercase();
        return Err(reply::err(&format!(
            "ERR at least 1 input key is needed for '{name}' command"
        )));
    }
    let n = usize::try_from(numkeys).unwrap_or(usize::MAX);
    if n > argv.len() - at - 1 {
        return Err(reply::err(reply::SYNTAX));
    }
    let inputs = load(x, &argv[at + 1..at + 1 + n])?;
    let o = parse_options(&argv[at + 1 + n..], op, n, store)?;
    Ok((inputs, o))
}

fn reply_with(x: &mut Exec<'_>, argv: &[Bytes], op: Op) -> Frame {
    let (inputs, o) = match prepare(x, argv, 1, op, false) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let result = compute(inputs, op, &o);
    if o.with_scores {
        Frame::Pairs(
            result
                .into_iter()
                .map(|(m, s)| (Frame::Bulk(m), double(s)))
                .collect(),
        )
    } else {
        Frame::Array(result.into_iter().map(|(m, _)| Frame::Bulk(m)).collect())
    }
}

fn store_with(x: &mut Exec<'_>, argv: &[Bytes], op: Op) -> Frame {
    match prepare(x, argv, 2, op, true) {
        Ok((inputs, o)) => {
            let result = compute(inputs, op, &o);
            store_zset(x, &argv[1], result)
        }
        Err(e) => e,
    }
}

pub(crate) fn zunion(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    reply_with(x, argv, Op::Union)
}

pub(crate) fn zinter(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    reply_with(x, argv, Op::Inter)
}

pub(crate) fn zdiff(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    reply_with(x, argv, Op::Diff)
}

pub(crate) fn zunionstore(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    store_with(x, argv, Op::Union)
}

pub(crate) fn zinterstore(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    store_with(x, argv, Op::Inter)
}

pub(crate) fn zdiffstore(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    store_with(x, argv, Op::Diff)
}

/// ZINTERCARD numkeys key [key ...] [LIMIT limit].
pub(crate) fn zintercard(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    let (keys, limit) = match card_args(argv, true) {
        Ok(a) => a,
        Err(e) => return e,
    };
    let inputs = match load(x, keys) {
        Ok(i) => i,
        Err(e) => return e,
    };
    let o = Options {
        weights: vec![1.0; keys.len()],
        aggregate: Aggregate::Sum,
        with_scores: false,
    };
    let n = compute(inputs, Op::Inter, &o).len();
    reply::count(if limit == 0 { n } else { n.min(limit) })
}
