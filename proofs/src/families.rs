//! The command-family configurations and their known-bad designs: MULTI/EXEC, relative
//! EXPIRE, SELECT, DEL, FLUSHALL, lists and hashes, reads, `CONFIG SET appendonly`, BGSAVE
//! with the AOF on, SHUTDOWN, the pre-7.0 upgrade and `aof-use-rdb-preamble no`, each under
//! crash.
//!
//! Bounds: each configuration runs one short cycle of requests (2 to 4) over the families it
//! is about, with one client (two where a read must run while a write waits for its fsync),
//! one crash and the one procedure it combines them with. A family's log record is what a
//! crash can tear, so one request of it is enough to put every tear point inside it; the
//! clock reaches 1 s only where a deadline must be seen kept after time moved. Invariant:
//! every workload here keeps the reference's "distinct prefixes" rule (tested in
//! `reference.rs`).

use model::config::{FsyncPolicy, Mutation};

use model::sim::Tears;

use crate::aof_model::{AofModel, Bounds};
use crate::catalog::{bounds, check, model, mutated, rdb, rewriting, Check, Mutant};
use crate::faults::FailScope;
use crate::properties as p;
use crate::reference::Step;

fn with(steps: &'static [Step], b: Bounds) -> Bounds {
    Bounds { steps, ..b }
}

pub fn checks() -> Vec<Check> {
    workload_checks()
        .into_iter()
        .chain(operator_checks())
        .collect()
}

/// The command families themselves, with a rewrite, a snapshot or every-byte tears.
fn workload_checks() -> Vec<Check> {
    use Step::*;
    let no_preamble = {
        let mut m = rewriting(
            FsyncPolicy::Always,
            with(&[Set, Expire, Hset], bounds(1, 3, 1, 0, 1000)),
        );
        m.config.aof_use_rdb_preamble = false;
        m
    };
    vec![
        check(
            "always-multi-expire-read",
            model(
                FsyncPolicy::Always,
                with(&[Set, Multi, Expire, Get], bounds(2, 4, 1, 0, 1000)),
            ),
        ),
        check(
            "always-rewrite-collections",
            rewriting(
                FsyncPolicy::Always,
                with(&[Db1, Rpush, Hset], bounds(1, 3, 1, 0, 0)),
            ),
        ),
        check("always-rewrite-no-preamble", no_preamble),
        check(
            "always-flushall-bgsave",
            model(
                FsyncPolicy::Always,
                Bounds {
                    snapshots: 1,
                    ..with(&[Set, Flushall, Rpush], bounds(1, 3, 1, 0, 0))
                },
            ),
        ),
        // All or nothing after *any* crash: the block's record torn at every byte.
        check(
            "always-multi-every-byte",
            AofModel {
                tears: Tears::EveryByte,
                ..model(
                    FsyncPolicy::Always,
                    with(&[Multi, Flushall], bounds(1, 2, 1, 0, 0)),
                )
            },
        ),
        check(
            "rdb-collections",
            rdb(
                with(&[Set, Expire, Rpush, Hset], bounds(1, 4, 1, 0, 1000)),
                2,
            ),
        ),
    ]
}

/// Operator commands and start-up paths: CONFIG SET appendonly, the upgrade, SHUTDOWN.
fn operator_checks() -> Vec<Check> {
    use Step::*;
    let shutdown = Bounds {
        shutdowns: 1,
        ..with(&[Multi, Db1], bounds(1, 2, 1, 0, 0))
    };
    vec![
        check(
            "always-toggle-aof",
            model(
                FsyncPolicy::Always,
                Bounds {
                    toggles: 2,
                    ..with(&[Set, Rpush, Del], bounds(1, 3, 1, 0, 0))
                },
            ),
        ),
        // The clock reaches 1 s: everysec's timer fsyncs once, which is what the switch off
        // (flush, fsync, then answer) and on (buffer until the manifest) interleave with; the
        // 2-second bound itself is checked with a 3 s clock in `everysec` (3 s here: 961,198
        // states, a minute more for `all`).
        check(
            "everysec-toggle-aof",
            model(
                FsyncPolicy::Everysec,
                Bounds {
                    toggles: 2,
                    ..with(&[Set, Hset], bounds(1, 2, 1, 0, 1000))
                },
            ),
        ),
        check(
            "always-upgrade",
            model(
                FsyncPolicy::Always,
                Bounds {
                    upgrade: true,
                    ..with(&[Set, Multi], bounds(1, 2, 2, 0, 0))
                },
            ),
        ),
        check("no-shutdown-families", model(FsyncPolicy::No, shutdown)),
        check(
            "always-fail-upgrade",
            model(
                FsyncPolicy::Always,
                Bounds {
                    upgrade: true,
                    failures: 1,
                    fail_scope: FailScope::Anywhere,
                    ..with(&[Set], bounds(1, 2, 1, 0, 1000))
                },
            ),
        ),
    ]
}

pub fn mutants() -> Vec<Mutant> {
    use Step::*;
    vec![
        Mutant {
            name: "read-before-durable",
            about: "a read's reply leaves at once, before the write it observed is durable",
            breaks: p::READ_DURABLE,
            model: mutated(
                Mutation::ReadReplyEarly,
                FsyncPolicy::Always,
                with(&[Set, Get], bounds(2, 2, 1, 0, 0)),
            ),
        },
        Mutant {
            name: "exec-without-multi",
            about: "a MULTI/EXEC block is logged without its MULTI and EXEC",
            breaks: p::PREFIX,
            model: mutated(
                Mutation::ExecUnwrapped,
                FsyncPolicy::Always,
                with(&[Multi], bounds(1, 1, 1, 0, 0)),
            ),
        },
        Mutant {
            name: "expire-logged-relative",
            about: "a relative EXPIRE is logged as sent, not as an absolute PEXPIREAT",
            breaks: p::EXPIRY_KEPT,
            model: mutated(
                Mutation::ExpireRelative,
                FsyncPolicy::Always,
                with(&[Set, Expire], bounds(1, 2, 1, 0, 1000)),
            ),
        },
    ]
}
