//! The contract as properties, named in the README's words.
//!
//! `always` properties are the guarantees; `sometimes` properties show the bounded run reached
//! the situations that could break them (without them a run that explores nothing would pass).

use model::config::FsyncPolicy;
use stateright::Property;

use crate::aof_model::AofModel;
use crate::inspect;

pub const ACK_SURVIVES: &str = "acknowledged write survives crash";
pub const ACK_SURVIVES_KILL: &str = "acknowledged write survives a process crash";
pub const SOME_KILL: &str = "a restart after a process crash";
pub const PREFIX: &str = "recovery is a prefix of applied writes";
pub const EVERYSEC_BOUND: &str = "everysec loss is within 2 s";
pub const NEVER_EMPTY_IN_SILENCE: &str = "recovery never starts empty in silence";
pub const MANIFEST_DURABLE: &str = "manifest only names durable files";
pub const CRASH_LOADABLE: &str = "a crash never makes the data unloadable";

pub const SNAPSHOT_POINT: &str = "snapshot recovery is one point in time";
pub const SNAPSHOT_BOUNDED: &str = "RDB-only loss is bounded by the last completed snapshot";
pub const SOME_SNAPSHOT: &str = "a completed snapshot";
pub const SOME_CRASH_RENAME: &str = "a crash between rename and directory fsync";
pub const SOME_CRASH_SNAPSHOTTING: &str = "a crash mid-snapshot";

pub const REWRITE_PRESERVES: &str = "a completed rewrite preserves the data set";
pub const SOME_REWRITE: &str = "a completed rewrite";
pub const SOME_CRASH_REWRITING: &str = "a crash during rewrite";
pub const SOME_BASE_AND_INCR: &str = "recovery from an RDB-preamble base plus incr";

pub const SOME_CRASH_UNSYNCED: &str = "a crash with un-synced data";
pub const SOME_TORN: &str = "recovery from a torn tail";
pub const SOME_ZERO: &str = "recovery from a zero-filled tail";
pub const SOME_EVERYSEC_LOSS: &str = "an everysec loss";
pub const SOME_NO_LOSS: &str = "a no-policy loss";
pub const SOME_ROTATION: &str = "a completed switch to a new incr file";
pub const SOME_CRASH_ROTATING: &str = "a crash during a switch to a new incr file";
pub const SOME_FAILURE_RECOVERED: &str = "writes resume after a failed write or fsync";
pub const SOME_CRASH_FAILED: &str = "a crash while the log is failed";

pub fn all(m: &AofModel) -> Vec<Property<AofModel>> {
    let mut props = contract_properties();
    match m.config.appendfsync {
        _ if !m.config.appendonly => {}
        FsyncPolicy::Everysec => props.push(Property::<AofModel>::sometimes(
            SOME_EVERYSEC_LOSS,
            |_, s| s.findings.everysec_loss,
        )),
        FsyncPolicy::No => props.push(Property::<AofModel>::sometimes(SOME_NO_LOSS, |_, s| {
            s.findings.no_loss
        })),
        FsyncPolicy::Always => {}
    }
    if m.bounds.rotations > 0 {
        props.push(Property::<AofModel>::sometimes(SOME_ROTATION, |_, s| {
            s.engine.as_ref().is_some_and(|e| e.stats().rotations > 0)
        }));
        props.push(Property::<AofModel>::sometimes(
            SOME_CRASH_ROTATING,
            |_, s| s.findings.crash_during_rotation,
        ));
    }
    if m.config.appendonly {
        props.push(Property::<AofModel>::sometimes(SOME_TORN, |_, s| {
            s.findings.recovered_torn
        }));
        props.push(Property::<AofModel>::sometimes(SOME_ZERO, |_, s| {
            s.findings.recovered_zero_filled
        }));
    } else {
        props.extend(snapshot_properties());
    }
    if m.bounds.rewrites > 0 {
        props.extend(rewrite_properties());
    }
    if m.bounds.failures > 0 {
        props.push(Property::<AofModel>::sometimes(
            SOME_FAILURE_RECOVERED,
            |_, s| s.findings.failure_recovered,
        ));
        props.push(Property::<AofModel>::sometimes(
            SOME_CRASH_FAILED,
            |_, s| s.findings.crash_while_failed,
        ));
    }
    props
}

/// The contract's properties, checked in every configuration (each a row of the README's
/// table), and the two situations every configuration must reach.
fn contract_properties() -> Vec<Property<AofModel>> {
    vec![
        Property::<AofModel>::always(ACK_SURVIVES, |m, s| {
            !m.ack_survival || !s.findings.lost_acked
        }),
        // kill -9 loses nothing acknowledged under any policy: the page cache survives. After
        // the disk failed an fsync, the repair rewrites the un-synced tail from memory, so a
        // kill during the repair can lose what everysec/no acknowledged since the last fsync.
        Property::<AofModel>::always(ACK_SURVIVES_KILL, |m, s| {
            !m.config.appendonly || !s.findings.lost_acked_on_kill || s.failures > 0
        }),
        Property::<AofModel>::sometimes(SOME_KILL, |_, s| s.findings.restarted_after_kill),
        Property::<AofModel>::always(PREFIX, |_, s| !s.findings.not_prefix),
        // The bound assumes a working disk (each fsync succeeds within 1 s), as Redis's does.
        Property::<AofModel>::always(EVERYSEC_BOUND, |_, s| {
            !s.findings.lost_acked_beyond_2s || s.failures > 0
        }),
        Property::<AofModel>::always(NEVER_EMPTY_IN_SILENCE, |_, s| !s.findings.empty_in_silence),
        Property::<AofModel>::always(MANIFEST_DURABLE, |m, s| {
            inspect::manifest_names_durable_files(&s.disk, &m.config)
        }),
        // After the disk failed a write or fsync, a crash can leave a hole (the failed range)
        // before later bytes; refusing to load then is the contract. Without failures, never.
        Property::<AofModel>::always(CRASH_LOADABLE, |_, s| {
            s.findings.refused.is_none() || s.failures > 0
        }),
        Property::<AofModel>::sometimes(SOME_CRASH_UNSYNCED, |_, s| s.findings.crash_unsynced),
    ]
}

fn snapshot_properties() -> Vec<Property<AofModel>> {
    vec![
        Property::<AofModel>::always(SNAPSHOT_POINT, |_, s| !s.findings.snapshot_not_one_point),
        Property::<AofModel>::always(SNAPSHOT_BOUNDED, |_, s| !s.findings.snapshot_loss_unbounded),
        Property::<AofModel>::sometimes(SOME_SNAPSHOT, |_, s| s.findings.snapshot_completed),
        Property::<AofModel>::sometimes(SOME_CRASH_RENAME, |_, s| {
            s.findings.crash_before_rename_durable
        }),
        Property::<AofModel>::sometimes(SOME_CRASH_SNAPSHOTTING, |_, s| {
            s.findings.crash_mid_snapshot
        }),
    ]
}

fn rewrite_properties() -> Vec<Property<AofModel>> {
    vec![
        Property::<AofModel>::always(REWRITE_PRESERVES, |_, s| !s.findings.rewrite_lost_data),
        Property::<AofModel>::sometimes(SOME_REWRITE, |_, s| s.findings.rewrite_completed),
        Property::<AofModel>::sometimes(SOME_CRASH_REWRITING, |_, s| {
            s.findings.crash_during_rewrite
        }),
        Property::<AofModel>::sometimes(SOME_BASE_AND_INCR, |_, s| {
            s.findings.recovered_base_and_incr
        }),
    ]
}
