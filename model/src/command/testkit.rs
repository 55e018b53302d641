//! Test harness: a keyspace, shared state and sessions driven by command lines, with time as a
//! field. Commands are written as inline requests (`SET k "a b"`, `\x00` escapes for binary).

use std::collections::BTreeMap;

use bytes::Bytes;

use super::{execute, Ctx, Outcome, Session, Shared};
use crate::keyspace::Keyspace;
use crate::resp::{split_args, Frame};

/// The time tests start at (unix ms).
pub(crate) const T0: u64 = 1_700_000_000_000;

pub(crate) struct Kit {
    pub(crate) ks: Keyspace,
    pub(crate) shared: Shared,
    pub(crate) sessions: BTreeMap<u64, Session>,
    pub(crate) now_ms: u64,
    pub(crate) loading: bool,
    pub(crate) random: u64,
    /// The MISCONF text the engine would pass (writes refused), if any.
    pub(crate) write_denial: Option<String>,
}

impl Kit {
    pub(crate) fn new() -> Kit {
        Kit {
            ks: Keyspace::default(),
            shared: Shared::default(),
            sessions: BTreeMap::new(),
            now_ms: T0,
            loading: false,
            random: 7,
            write_denial: None,
        }
    }

    /// Runs `line` as client 1.
    pub(crate) fn run(&mut self, line: &str) -> Outcome {
        self.run_as(1, line)
    }

    pub(crate) fn run_as(&mut self, client: u64, line: &str) -> Outcome {
        let argv = split_args(line.as_bytes()).expect("balanced quotes");
        self.run_argv(client, &argv)
    }

    pub(crate) fn run_argv(&mut self, client: u64, argv: &[Bytes]) -> Outcome {
        let session = self.sessions.entry(client).or_insert_with(|| Session {
            client_id: client,
            ..Session::default()
        });
        let ctx = Ctx {
            now_ms: self.now_ms,
            loading: self.loading,
            random: self.random,
            write_denial: self.write_denial.clone(),
        };
        execute(&mut self.ks, &mut self.shared, session, ctx, argv)
    }

    /// The reply to `line` as client 1.
    pub(crate) fn reply(&mut self, line: &str) -> Frame {
        self.run(line).reply
    }

    /// Runs `line` and returns what it propagated, as (db, words) with words lossily decoded.
    pub(crate) fn logged(&mut self, line: &str) -> Vec<(usize, String)> {
        logged(&self.run(line))
    }
}

pub(crate) fn logged(outcome: &Outcome) -> Vec<(usize, String)> {
    outcome
        .propagate
        .iter()
        .map(|p| {
            let words: Vec<String> = p
                .argv
                .iter()
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            (p.db, words.join(" "))
        })
        .collect()
}

pub(crate) fn bulk(s: &str) -> Frame {
    Frame::Bulk(Bytes::copy_from_slice(s.as_bytes()))
}

pub(crate) fn int(n: i64) -> Frame {
    Frame::Integer(n)
}

pub(crate) fn ok() -> Frame {
    Frame::ok()
}

pub(crate) fn err(s: &str) -> Frame {
    Frame::error(s)
}

pub(crate) fn simple(s: &str) -> Frame {
    Frame::Simple(s.to_string())
}

pub(crate) fn array(items: &[&str]) -> Frame {
    Frame::Array(items.iter().map(|s| bulk(s)).collect())
}
