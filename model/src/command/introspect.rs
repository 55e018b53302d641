//! COMMAND, COMMAND COUNT, COMMAND LIST, COMMAND INFO and COMMAND DOCS, generated from the
//! command index, in Redis 7.0's typed reply shapes (server.c `addReplyCommandInfo`,
//! `addReplyCommandDocs`): flags, categories, tips and key specs are sets, key specs and docs
//! are maps; RESP2 clients see them flattened by the encoder.
//!
//! Owns nothing but the rendering. Invariant: every reply is derived from the index entries, so
//! what COMMAND says is what the server does (arity, flags, keys).

use bytes::Bytes;

use super::exec::{Command, Exec};
use super::glob::string_match;
use super::index::{Flags, Keys};
use super::reply;
use crate::resp::Frame;

fn text(s: &str) -> Frame {
    Frame::Bulk(Bytes::copy_from_slice(s.as_bytes()))
}

fn status(s: &str) -> Frame {
    Frame::Simple(s.to_string())
}

fn integer(n: i64) -> Frame {
    Frame::Integer(n)
}

/// COMMAND [COUNT | LIST [FILTERBY ...] | INFO [name ...] | DOCS [name ...]].
pub(crate) fn command(x: &mut Exec<'_>, argv: &[Bytes]) -> Frame {
    let all = x.commands();
    let Some(sub) = argv.get(1) else {
        return Frame::Array(all.iter().map(info).collect());
    };
    match sub.to_ascii_uppercase().as_slice() {
        b"COUNT" if argv.len() == 2 => reply::count(all.len()),
        b"LIST" => list(all, &argv[2..]),
        // Redis's `addReplyCommandInfo` answers an unknown name with `addReplyNull`.
        b"INFO" => pick(all, &argv[2..], info, Frame::Null),
        b"DOCS" => docs_of(all, &argv[2..]),
        _ => reply::err(&format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try COMMAND HELP.",
            reply::one_line(sub)
        )),
    }
}

fn find<'c>(all: &'c [Command], name: &[u8]) -> Option<&'c Command> {
    all.iter()
        .find(|c| c.name.as_bytes().eq_ignore_ascii_case(name))
}

/// Every command when `names` is empty, else one element per name (`missing` if unknown).
fn pick(all: &[Command], names: &[Bytes], render: fn(&Command) -> Frame, missing: Frame) -> Frame {
    if names.is_empty() {
        return Frame::Array(all.iter().map(render).collect());
    }
    let one = |n: &Bytes| find(all, n).map_or_else(|| missing.clone(), render);
    Frame::Array(names.iter().map(one).collect())
}

/// COMMAND LIST [FILTERBY PATTERN p | ACLCAT c | MODULE m].
fn list(all: &[Command], filter: &[Bytes]) -> Frame {
    let keep: Box<dyn Fn(&Command) -> bool> = match filter {
        [] => Box::new(|_| true),
        [by, kind, value] if by.eq_ignore_ascii_case(b"FILTERBY") => {
            let value = value.to_ascii_lowercase();
            match kind.to_ascii_uppercase().as_slice() {
                b"PATTERN" => Box::new(move |c| string_match(&value, c.name.as_bytes())),
                b"ACLCAT" => Box::new(move |c| {
                    c.categories()
                        .iter()
                        .any(|cat| cat.as_bytes()[1..] == value[..])
                }),
                b"MODULE" => Box::new(|_| false),
                _ => return reply::err(reply::SYNTAX),
            }
        }
        _ => return reply::err(reply::SYNTAX),
    };
    let names = all.iter().filter(|c| keep(c)).map(|c| text(c.name));
    Frame::Array(names.collect())
}

/// One command's COMMAND INFO element: name, arity, flags, first key, last key, step, ACL
/// categories, tips, key specifications, subcommands.
fn info(c: &Command) -> Frame {
    let Keys { first, last, step } = c.keys;
    Frame::Array(vec![
        text(c.name),
        integer(i64::from(c.arity)),
        Frame::Set(c.flags.names().map(status).collect()),
        integer(i64::from(first)),
        integer(i64::from(last)),
        integer(i64::from(step)),
        Frame::Set(c.categories().into_iter().map(status).collect()),
        Frame::Set(Vec::new()),
        Frame::Set(key_specs(c)),
        // `addReplyCommandSubCommands` without subcommands: an empty set.
        Frame::Set(Vec::new()),
    ])
}

/// Key specifications (Redis 7.0) for commands whose keys sit at fixed positions.
fn key_specs(c: &Command) -> Vec<Frame> {
    let Keys { first, last, step } = c.keys;
    if first == 0 {
        return Vec::new();
    }
    let access = if c.flags.contains(Flags::WRITE) {
        "RW"
    } else {
        "RO"
    };
    // `lastkey` counts from the first key; negative counts from the end of argv.
    let lastkey = if last < 0 { last } else { last - first };
    let pair = |k: &str, v: Frame| (text(k), v);
    vec![Frame::Map(vec![
        pair("flags", Frame::Set(vec![status(access)])),
        pair(
            "begin_search",
            Frame::Map(vec![
                pair("type", text("index")),
                pair(
                    "spec",
                    Frame::Map(vec![pair("index", integer(i64::from(first)))]),
                ),
            ]),
        ),
        pair(
            "find_keys",
            Frame::Map(vec![
                pair("type", text("range")),
                pair(
                    "spec",
                    Frame::Map(vec![
                        pair("lastkey", integer(i64::from(lastkey))),
                        pair("keystep", integer(i64::from(step))),
                        pair("limit", integer(0)),
                    ]),
                ),
            ]),
        ),
    ])]
}

/// COMMAND DOCS: a map of name → docs; unknown names are left out, as Redis does.
fn docs_of(all: &[Command], names: &[Bytes]) -> Frame {
    let chosen: Vec<&Command> = if names.is_empty() {
        all.iter().collect()
    } else {
        names.iter().filter_map(|n| find(all, n)).collect()
    };
    let pairs = chosen.into_iter().map(|c| (text(c.name), docs(c)));
    Frame::Map(pairs.collect())
}

fn docs(c: &Command) -> Frame {
    Frame::Map(vec![
        (text("summary"), text(c.docs.summary)),
        (text("since"), text(c.docs.since)),
        (text("group"), text(c.docs.group.name())),
        (text("complexity"), text(c.docs.complexity)),
    ])
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use super::*;

    #[test]
    fn count_list_info_and_docs_come_from_the_index() {
        let mut k = Kit::new();
        let n = crate::command::commands().len() as i64;
        assert_eq!(k.reply("COMMAND COUNT"), int(n));
        let Frame::Array(all) = k.reply("COMMAND") else {
            panic!()
        };
        assert_eq!(all.len() as i64, n);
        let Frame::Array(names) = k.reply("COMMAND LIST") else {
            panic!()
        };
        assert!(names.contains(&bulk("bgrewriteaof")) && names.contains(&bulk("quit")));
        let Frame::Array(info) = k.reply("COMMAND INFO get nosuch") else {
            panic!()
        };
        let Frame::Array(get) = &info[0] else {
            panic!()
        };
        assert_eq!(&get[..2], &[bulk("get"), int(2)]);
        assert_eq!(get[2], Frame::Set(vec![simple("readonly"), simple("fast")]));
        assert_eq!(&get[3..6], &[int(1), int(1), int(1)]);
        assert_eq!(info[1], Frame::Null);
        let Frame::Map(docs) = k.reply("COMMAND DOCS set nosuch") else {
            panic!()
        };
        assert_eq!(docs.len(), 1);
        assert_eq!(docs[0].0, bulk("set"));
    }

    #[test]
    fn list_filters_by_pattern_and_category() {
        let mut k = Kit::new();
        let Frame::Array(names) = k.reply("COMMAND LIST FILTERBY PATTERN *expire*") else {
            panic!()
        };
        // EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT, EXPIRETIME, PEXPIRETIME.
        assert_eq!(names.len(), 6);
        let Frame::Array(tx) = k.reply("COMMAND LIST FILTERBY ACLCAT transaction") else {
            panic!()
        };
        assert_eq!(tx.len(), 5);
        assert_eq!(
            k.reply("COMMAND LIST FILTERBY x y"),
            err("ERR syntax error")
        );
    }
}
