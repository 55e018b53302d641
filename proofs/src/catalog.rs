//! The configurations `durakv-check all` explores and the known-bad designs (mutants)
//! `durakv-check mutants` must catch.
//!
//! Bounds are chosen so every situation the contract talks about is reachable (each config's
//! `sometimes` properties prove it was reached) while the whole catalogue runs in CI: two
//! clients give group commit something to group; three writes put an INCR (not idempotent)
//! after two SETs; one switch to a new incr file makes a non-last file; crashes tear each append
//! at its boundary, one byte in, its middle and one byte short, with and without a zero fill.

use model::config::{Config, FsyncPolicy, Mutation};
use model::sim::Tears;

use crate::aof_model::{AofModel, Bounds, DiskFault};
use crate::faults::FailScope;
use crate::properties as p;

/// A bounded configuration whose `always` properties must hold and `sometimes` be discovered.
pub struct Check {
    pub name: &'static str,
    pub about: String,
    pub model: AofModel,
}

/// A known-bad design and the property it must be caught breaking.
pub struct Mutant {
    pub name: &'static str,
    pub about: &'static str,
    pub breaks: &'static str,
    pub model: AofModel,
}

pub(crate) fn model(policy: FsyncPolicy, bounds: Bounds) -> AofModel {
    let config = Config {
        appendfsync: policy,
        ..Config::default()
    };
    AofModel {
        ack_survival: policy == FsyncPolicy::Always,
        config,
        bounds,
        tears: Tears::Sampled,
        fault: DiskFault::None,
        lies: crate::lies::Lies::default(),
    }
}

pub(crate) fn bounds(
    clients: u8,
    writes: u8,
    crashes: u8,
    rotations: u8,
    time_ms_max: u64,
) -> Bounds {
    Bounds {
        failures: 0,
        fail_scope: FailScope::Log,
        shutdowns: 0,
        slow_fsync: false,
        snapshots: 0,
        rewrites: 0,
        scripted: false,
        steps: &[],
        toggles: 0,
        upgrade: false,
        clients,
        writes,
        keys: 2,
        crashes,
        rotations,
        time_ms_max,
    }
}

pub fn checks() -> Vec<Check> {
    let every_byte = AofModel {
        tears: Tears::EveryByte,
        ..model(FsyncPolicy::Always, bounds(2, 3, 1, 0, 0))
    };
    vec![
        check("always", model(FsyncPolicy::Always, bounds(3, 5, 1, 1, 0))),
        check(
            "always-two-crashes",
            model(FsyncPolicy::Always, bounds(2, 3, 2, 1, 0)),
        ),
        check("always-every-byte", every_byte),
        check(
            "everysec",
            model(FsyncPolicy::Everysec, bounds(2, 3, 1, 1, 3000)),
        ),
        check(
            "everysec-two-crashes",
            model(FsyncPolicy::Everysec, bounds(1, 2, 2, 0, 3000)),
        ),
        check(
            "everysec-slow-fsync",
            slow(model(FsyncPolicy::Everysec, bounds(2, 3, 1, 0, 3000))),
        ),
        check("no", model(FsyncPolicy::No, bounds(3, 5, 1, 1, 0))),
        check(
            "always-rewrite",
            rewriting(FsyncPolicy::Always, bounds(2, 3, 1, 0, 0)),
        ),
        check(
            "everysec-rewrite",
            rewriting(FsyncPolicy::Everysec, bounds(1, 2, 1, 0, 3000)),
        ),
        check("rdb", rdb(bounds(2, 4, 1, 0, 0), 3)),
        check("rdb-two-crashes", rdb(bounds(1, 3, 2, 0, 0), 2)),
        check(
            "always-io-failure",
            failing(FsyncPolicy::Always, bounds(2, 3, 1, 0, 2000)),
        ),
        check(
            "everysec-io-failure",
            failing(FsyncPolicy::Everysec, bounds(1, 3, 1, 0, 3000)),
        ),
        check(
            "no-io-failure",
            failing(FsyncPolicy::No, bounds(2, 3, 1, 0, 2000)),
        ),
        check(
            "always-script",
            scripted(FsyncPolicy::Always, bounds(2, 3, 1, 1, 0)),
        ),
    ]
    .into_iter()
    .chain(fault_checks())
    .chain(crate::families::checks())
    .chain(crate::weak_disk::checks())
    .collect()
}

/// One failure anywhere (any operation, any lane, any phase) combined with each procedure.
fn fault_checks() -> Vec<Check> {
    let anywhere = |m: AofModel| AofModel {
        bounds: Bounds {
            failures: 1,
            fail_scope: FailScope::Anywhere,
            ..m.bounds
        },
        ..m
    };
    let shutdown = |b: Bounds| Bounds { shutdowns: 1, ..b };
    vec![
        check(
            "always-fail-startup",
            anywhere(model(FsyncPolicy::Always, bounds(1, 2, 1, 0, 1000))),
        ),
        check(
            "always-fail-rotation",
            anywhere(model(FsyncPolicy::Always, bounds(1, 2, 1, 1, 1000))),
        ),
        check(
            "always-fail-rewrite",
            anywhere(rewriting(FsyncPolicy::Always, bounds(1, 2, 1, 0, 0))),
        ),
        check("rdb-fail-snapshot", anywhere(rdb(bounds(1, 2, 1, 0, 0), 2))),
        check(
            "no-fail-shutdown",
            anywhere(model(FsyncPolicy::No, shutdown(bounds(1, 2, 1, 0, 1000)))),
        ),
    ]
}

/// The clock may move while an fsync is in flight (everysec's postponement is explored).
fn slow(m: AofModel) -> AofModel {
    AofModel {
        bounds: Bounds {
            slow_fsync: true,
            ..m.bounds
        },
        ..m
    }
}

/// AOF off, no save points: snapshots only when the model sends BGSAVE.
pub(crate) fn rdb(bounds: Bounds, snapshots: u8) -> AofModel {
    let mut m = model(
        FsyncPolicy::Everysec,
        Bounds {
            snapshots,
            ..bounds
        },
    );
    m.config.appendonly = false;
    m.config.save_points.clear();
    m.ack_survival = false;
    m
}

/// One BGREWRITEAOF among the writes.
pub(crate) fn rewriting(policy: FsyncPolicy, bounds: Bounds) -> AofModel {
    model(
        policy,
        Bounds {
            rewrites: 1,
            ..bounds
        },
    )
}

/// Every write is one EVAL doing a SET and an INCR: its log record is a MULTI/EXEC block, so
/// a crash must recover all of a script's writes or none.
fn scripted(policy: FsyncPolicy, bounds: Bounds) -> AofModel {
    model(
        policy,
        Bounds {
            scripted: true,
            ..bounds
        },
    )
}

/// A disk that fails one append or fsync of the log.
fn failing(policy: FsyncPolicy, bounds: Bounds) -> AofModel {
    model(
        policy,
        Bounds {
            failures: 1,
            ..bounds
        },
    )
}

pub(crate) fn check(name: &'static str, model: AofModel) -> Check {
    Check {
        name,
        about: describe(&model),
        model,
    }
}

/// The bounds in words, e.g. "appendfsync always: 3 clients, 5 writes, ...".
pub fn describe(m: &AofModel) -> String {
    let b = &m.bounds;
    let tears = match m.tears {
        Tears::EveryByte => "tearing at every byte",
        Tears::Sampled => "tearing at sampled offsets",
    };
    format!(
        "{}: {} clients, {} {}writes over {} keys, {} new incr file(s), clock to {} s{}, \
         {} failed {}, {} BGSAVE(s), {} BGREWRITEAOF(s), {}{} crash(es) (power loss or kill -9), {tears}",
        if m.config.appendonly {
            format!("appendfsync {}", m.config.appendfsync.as_str())
        } else {
            "AOF off, RDB only".to_string()
        },
        b.clients,
        b.writes,
        if b.scripted { "scripted (EVAL: SET + INCR) " } else { "" },
        b.keys,
        b.rotations,
        b.time_ms_max / 1000,
        if b.slow_fsync { " (also while an fsync is in flight)" } else { "" },
        b.failures,
        match b.fail_scope {
            FailScope::Log => "log write/fsync",
            FailScope::Anywhere => "operation anywhere",
        },
        b.snapshots,
        b.rewrites,
        if b.shutdowns > 0 { format!("{} SHUTDOWN(s), ", b.shutdowns) } else { String::new() },
        b.crashes,
    ) + &families(m)
}

/// The command-family part of a description (empty for the SET/INCR workload).
fn families(m: &AofModel) -> String {
    let b = &m.bounds;
    let mut parts = Vec::new();
    if !b.steps.is_empty() {
        let steps: Vec<String> = b.steps.iter().map(|s| format!("{s:?}")).collect();
        parts.push(format!("requests cycle {}", steps.join(", ")));
    }
    if b.toggles > 0 {
        parts.push(format!("{} CONFIG SET appendonly", b.toggles));
    }
    if b.upgrade {
        parts.push("starts from a pre-7.0 appendonly.aof".to_string());
    }
    if !m.config.aof_use_rdb_preamble {
        parts.push("aof-use-rdb-preamble no".to_string());
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("; {}", parts.join("; "))
    }
}

pub(crate) fn mutated(mutation: Mutation, policy: FsyncPolicy, bounds: Bounds) -> AofModel {
    let mut m = model(policy, bounds);
    m.config.mutation = mutation;
    m
}

/// Every known-bad design, in the order `durakv-check mutants` prints them.
pub fn mutants() -> Vec<Mutant> {
    [
        log_mutants(),
        snapshot_mutants(),
        rewrite_mutants(),
        startup_and_switch_mutants(),
        policy_mutants(),
        crate::families::mutants(),
        crate::weak_disk::violations(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// The append path: replies, directory fsyncs, a missing manifest, a failed fsync.
fn log_mutants() -> Vec<Mutant> {
    vec![
        Mutant {
            name: "reply-before-fsync",
            about: "under always, a write's reply leaves once written, before its fsync returns",
            breaks: p::ACK_SURVIVES,
            model: mutated(Mutation::ReplyBeforeFsync, FsyncPolicy::Always, bounds(1, 1, 1, 0, 0)),
        },
        Mutant {
            name: "rename-without-dir-fsync",
            about: "directory fsyncs are skipped: the AOF directory, files and manifest renames stay pending",
            breaks: p::ACK_SURVIVES,
            model: AofModel { fault: DiskFault::SkipDirFsync, ..model(FsyncPolicy::Always, bounds(1, 1, 1, 0, 0)) },
        },
        Mutant {
            name: "fresh-start-without-manifest",
            about: "a missing manifest means a fresh start whatever the AOF directory holds (Redis 7.0), \
                    with directory fsyncs skipped so a crash can lose the manifest",
            breaks: p::NEVER_EMPTY_IN_SILENCE,
            model: AofModel {
                fault: DiskFault::SkipDirFsync,
                ..mutated(Mutation::FreshStartWithoutManifest, FsyncPolicy::Always, bounds(1, 1, 1, 0, 0))
            },
        },
        Mutant {
            name: "serve-before-cleanup",
            about: "serve while the start-up cleanup still deletes leftover temp files: a BGSAVE's \
                    temp-1.rdb (generations restart at 1) is deleted under it",
            breaks: p::NO_UNINJECTED_ERROR,
            model: AofModel {
                config: Config { mutation: Mutation::ServeBeforeCleanup, ..rdb(bounds(1, 1, 1, 0, 0), 2).config },
                ..rdb(bounds(1, 1, 1, 0, 0), 2)
            },
        },
        Mutant {
            name: "rotation-reverts-after-rename",
            about: "a switch whose manifest rename completed but whose directory fsync failed resumes \
                    appends in the old file, which the renamed manifest made non-last",
            breaks: p::ACK_SURVIVES,
            model: AofModel {
                bounds: Bounds { failures: 1, fail_scope: FailScope::Anywhere, ..bounds(1, 2, 1, 1, 0) },
                ..mutated(Mutation::RotationRevertsAfterRename, FsyncPolicy::Always, bounds(1, 2, 1, 1, 0))
            },
        },
        Mutant {
            name: "retry-without-rewrite",
            about: "after a failed write or fsync, carry on without rewriting what followed the last \
                    good fsync (a failed fsync may have dropped those pages: fsyncgate)",
            breaks: p::ACK_SURVIVES,
            model: AofModel {
                bounds: Bounds { failures: 1, ..bounds(1, 2, 1, 0, 1000) },
                ..mutated(Mutation::RetryWithoutRewrite, FsyncPolicy::Always, bounds(1, 2, 1, 0, 1000))
            },
        },
    ]
}

/// Snapshots: temp files, which file start-up trusts, writing in place.
fn snapshot_mutants() -> Vec<Mutant> {
    vec![
        Mutant {
            name: "rename-unsynced-temp",
            about: "temp files (snapshot, base) are renamed into place without being fsynced",
            breaks: p::CRASH_LOADABLE,
            model: AofModel { fault: DiskFault::SkipTempFsync, ..rdb(bounds(1, 1, 1, 0, 0), 1) },
        },
        Mutant {
            name: "load-rdb-when-aof-exists",
            about: "with appendonly yes, dump.rdb is loaded when it exists and the AOF is only opened for appends",
            breaks: p::ACK_SURVIVES,
            model: AofModel {
                config: Config {
                    appendfsync: FsyncPolicy::Always,
                    mutation: Mutation::LoadRdbWhenAofExists,
                    save_points: Vec::new(),
                    ..Config::default()
                },
                ..model(FsyncPolicy::Always, Bounds { snapshots: 1, ..bounds(1, 2, 1, 0, 0) })
            },
        },
        Mutant {
            name: "snapshot-in-place",
            about: "the snapshot is written straight over dump.rdb instead of a temp file renamed in",
            breaks: p::CRASH_LOADABLE,
            model: AofModel {
                config: Config { mutation: Mutation::SnapshotInPlace, ..rdb(bounds(1, 1, 1, 0, 0), 2).config },
                ..rdb(bounds(1, 1, 1, 0, 0), 2)
            },
        },
    ]
}

/// AOF rewrites: deleting, renaming and fsyncing around the new base.
fn rewrite_mutants() -> Vec<Mutant> {
    vec![
        Mutant {
            name: "delete-history-before-manifest",
            about: "a rewrite deletes the files it replaced before the manifest without them is durable",
            breaks: p::MANIFEST_DURABLE,
            model: AofModel {
                config: Config { mutation: Mutation::DeleteHistoryFirst, ..Config::default() },
                ..rewriting(FsyncPolicy::Always, bounds(1, 1, 1, 0, 0))
            },
        },
        Mutant {
            name: "rename-unsynced-base",
            about: "the rewrite's base is renamed into the AOF directory without being fsynced",
            breaks: p::CRASH_LOADABLE,
            model: AofModel { fault: DiskFault::SkipTempFsync, ..rewriting(FsyncPolicy::Always, bounds(1, 1, 1, 0, 0)) },
        },
        Mutant {
            name: "no-appendfsync-on-rewrite",
            about: "the real setting no-appendfsync-on-rewrite yes under always: no fsync while a rewrite runs",
            breaks: p::ACK_SURVIVES,
            model: AofModel {
                config: Config {
                    appendfsync: FsyncPolicy::Always,
                    no_appendfsync_on_rewrite: true,
                    ..Config::default()
                },
                ..rewriting(FsyncPolicy::Always, bounds(1, 1, 1, 0, 0))
            },
        },
    ]
}

/// Start-up and the switch to a new incr file.
fn startup_and_switch_mutants() -> Vec<Mutant> {
    vec![
        Mutant {
            name: "skip-startup-sync",
            about: "a restart serves what it read without fsyncing it; a killed run may have left it only in the page cache",
            breaks: p::ACK_SURVIVES,
            model: AofModel {
                config: Config { mutation: Mutation::SkipStartupSync, ..model(FsyncPolicy::Always, bounds(1, 1, 2, 0, 0)).config },
                ..model(FsyncPolicy::Always, bounds(1, 1, 2, 0, 0))
            },
        },
        Mutant {
            name: "truncate-torn-non-last",
            about: "the old incr file is not fsynced before the switch, and the loader truncates a torn non-last file",
            breaks: p::PREFIX,
            model: mutated(Mutation::TruncateTornNonLast, FsyncPolicy::No, bounds(1, 2, 1, 1, 0)),
        },
        Mutant {
            name: "rotate-before-old-durable",
            about: "Redis 7.0's order: switch to a new incr file before the old one is fsynced",
            breaks: p::CRASH_LOADABLE,
            model: mutated(Mutation::RotateBeforeOldDurable, FsyncPolicy::No, bounds(1, 2, 1, 1, 0)),
        },
    ]
}

/// The fsync policies: everysec's timer, and the weaker policies held to always's promise.
fn policy_mutants() -> Vec<Mutant> {
    vec![
        Mutant {
            name: "everysec-fsync-only-on-write",
            about: "everysec fsyncs only when a write arrives, so an idle server never syncs (Redis 7.0.0)",
            breaks: p::EVERYSEC_BOUND,
            model: mutated(Mutation::EverysecFsyncOnlyOnWrite, FsyncPolicy::Everysec, bounds(1, 1, 1, 0, 4000)),
        },
        Mutant {
            name: "everysec-as-always",
            about: "the real setting appendfsync everysec, held to the always guarantee",
            breaks: p::ACK_SURVIVES,
            model: AofModel { ack_survival: true, ..model(FsyncPolicy::Everysec, bounds(1, 1, 1, 0, 1000)) },
        },
        Mutant {
            name: "no-as-always",
            about: "the real setting appendfsync no, held to the always guarantee",
            breaks: p::ACK_SURVIVES,
            model: AofModel { ack_survival: true, ..model(FsyncPolicy::No, bounds(1, 1, 1, 0, 0)) },
        },
    ]
}
