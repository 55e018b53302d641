//! The contract as properties, named in the README's words.
//!
//! `always` properties are the guarantees; `sometimes` properties show the bounded run reached
//! the situations that could break them (without them a run that explores nothing would pass).

use model::config::FsyncPolicy;
use stateright::Property;

use crate::aof_model::AofModel;
use crate::faults::FailScope;
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

pub const NO_UNINJECTED_ERROR: &str = "no I/O error surfaces that was not injected";
pub const SHUTDOWN_DURABLE: &str = "a clean shutdown leaves every acknowledged write durable";
pub const SOME_SHUTDOWN: &str = "a completed shutdown";
pub const SOME_FAIL_STARTING: &str = "a failure during start-up (loading, repair, cleanup)";
pub const SOME_FAIL_ROTATING: &str = "a failure during a switch to a new incr file";
pub const SOME_FAIL_REWRITING: &str = "a failure during a rewrite";
pub const SOME_FAIL_SNAPSHOTTING: &str = "a failure during a snapshot";
pub const SOME_FAIL_STOPPING: &str = "a failure during shutdown";

pub const POSTPONE_BOUND: &str = "everysec holds writes behind a slow fsync at most 2 s";
pub const SOME_CRASH_MANIFEST_RENAME: &str =
    "a crash between a manifest rename and its directory fsync";
pub const SOME_CRASH_REPAIR: &str = "a crash during start-up repair";
pub const SOME_GROUP_COMMIT: &str = "one fsync releasing two or more replies (group commit)";
pub const SOME_APPEND_DURING_FSYNC: &str = "an append issued while a background fsync is in flight";
pub const SOME_POSTPONED: &str =
    "everysec writes postponed behind a slow fsync, then written at 2 s";

pub const READ_DURABLE: &str = "no reply reveals a write that a later crash loses";
pub const EXPIRY_KEPT: &str = "a restart keeps every expiry deadline";
pub const SOME_READ_AFTER_WRITE: &str = "a read revealing a write";
pub const SOME_READ_THEN_CRASH: &str = "a crash after a read revealed a write";
pub const SOME_BLOCK_LOST: &str = "a crash that loses a MULTI/EXEC block";
pub const SOME_EXPIRY_LATER: &str = "an expiry deadline kept by a restart at a later time";
pub const SOME_DB1: &str = "a recovery holding a key in database 1";
pub const SOME_FLUSHALL: &str = "a recovery holding a FLUSHALL";
pub const SOME_COLLECTION_BASE: &str = "a list or hash recovered from a rewritten base or snapshot";
pub const SOME_TOGGLED_ON: &str = "CONFIG SET appendonly yes after no";
pub const SOME_CRASH_ENABLING: &str =
    "a crash while CONFIG SET appendonly yes writes the first files";
pub const SOME_CRASH_UPGRADE: &str = "a crash during the pre-7.0 upgrade";
pub const SOME_RESP_BASE: &str = "recovery from a rewritten RESP base (aof-use-rdb-preamble no)";
pub const SOME_SNAPSHOT_WITH_AOF: &str = "a completed BGSAVE with the AOF on";

pub const DAMAGE_CAUGHT: &str = "a damaged synced byte never loads silently";
pub const SOME_DAMAGE_REFUSED: &str = "start-up refuses damaged synced bytes";
pub const SOME_DIR_OP_DROPPED: &str =
    "a crash keeps one directory's operation and drops an earlier one of another directory";
pub const SOME_MISDIRECTED: &str = "a misdirected log append";

pub fn all(m: &AofModel) -> Vec<Property<AofModel>> {
    let mut props = contract_properties();
    if m.lies.damage.is_some() && !m.lies.held_as_honest {
        // Damage rewrites a manifest's bytes after the engine made it durable: no protocol
        // can keep this one (the counterexample is `damaged-manifest`); start-up refusing the
        // damaged manifest is what DAMAGE_CAUGHT checks instead.
        props.retain(|p| p.name != MANIFEST_DURABLE);
    }
    props.extend(family_properties(m));
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
        props.extend(rewrite_properties(m.config.aof_use_rdb_preamble));
    }
    if m.bounds.shutdowns > 0 {
        props.extend(shutdown_properties());
    }
    props.extend(timing_sentinels(m));
    props.extend(lie_properties(m));
    if m.bounds.fail_scope == FailScope::Anywhere {
        props.extend(fault_sentinels(m));
    }
    if m.bounds.failures > 0 && m.config.appendonly {
        // The retry comes a second after the failure: only a clock that moves can reach it.
        if m.bounds.time_ms_max >= 1000 {
            props.push(Property::<AofModel>::sometimes(
                SOME_FAILURE_RECOVERED,
                |_, s| s.findings.failure_recovered,
            ));
        }
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
        // The bound assumes a working disk (each fsync succeeds within 1 s), as Redis's does:
        // failures and slow fsyncs (the clock passing a second during one) are exempt here; a
        // slow fsync is held to the postponement rule instead (POSTPONE_BOUND).
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
        // Every I/O error the engine reports (event, reply, MISCONF, refusal) was injected: a
        // correct disk's ENOENT/EEXIST in a report means the engine raced its own files.
        Property::<AofModel>::always(NO_UNINJECTED_ERROR, |_, s| !s.findings.uninjected_error),
    ]
}

/// The lying disk (`lies.rs`): what each lie must be shown to do, and the guarantee damage to
/// synced bytes is held to.
fn lie_properties(m: &AofModel) -> Vec<Property<AofModel>> {
    let mut props = Vec::new();
    if m.lies.metadata == model::sim::Metadata::PerDirectory {
        props.push(Property::<AofModel>::sometimes(
            SOME_DIR_OP_DROPPED,
            |_, s| s.findings.dir_op_dropped,
        ));
    }
    if m.lies.damage.is_some() {
        // Start-up refuses (file, offset, both checksums), or loads what the undamaged disk
        // holds, or cuts only never-acknowledged writes as a torn tail.
        props.push(Property::<AofModel>::always(DAMAGE_CAUGHT, |_, s| {
            !s.findings.damage_loaded
        }));
        props.push(Property::<AofModel>::sometimes(
            SOME_DAMAGE_REFUSED,
            |_, s| s.findings.damage_refused,
        ));
    }
    if m.lies.misdirect {
        props.push(Property::<AofModel>::sometimes(SOME_MISDIRECTED, |_, s| {
            s.findings.misdirected
        }));
    }
    props
}

/// Which timing sentinels a configuration checks. The model records a finding only where it
/// is checked: every finding is part of the state, and one nobody reads would only split it.
#[derive(Clone, Copy, Debug, Default)]
pub struct Timing {
    pub manifest_rename: bool,
    pub repair: bool,
    pub group_commit: bool,
    /// The slow-fsync sentinels and the postponement bound.
    pub slow_fsync: bool,
}

pub fn timing(m: &AofModel) -> Timing {
    let (b, aof) = (&m.bounds, m.config.appendonly);
    let policy = m.config.appendfsync;
    // Records group when a third client's write arrives while one write is in flight, or
    // when a switch holds appends back while two clients write.
    let grouping = b.clients > 2 || (b.clients > 1 && b.rotations > 0);
    Timing {
        manifest_rename: aof && b.crashes > 0 && (b.rotations > 0 || b.rewrites > 0),
        repair: aof && b.crashes > 1,
        group_commit: aof && policy == FsyncPolicy::Always && grouping,
        // Without a slow disk everysec postpones a write behind the fsync in flight instead.
        slow_fsync: aof && policy == FsyncPolicy::Everysec && b.writes > 1 && b.slow_fsync,
    }
}

/// The interleavings the durability rules are about, shown reached where the bounds allow.
fn timing_sentinels(m: &AofModel) -> Vec<Property<AofModel>> {
    let t = timing(m);
    let mut props = Vec::new();
    if t.manifest_rename {
        props.push(Property::<AofModel>::sometimes(
            SOME_CRASH_MANIFEST_RENAME,
            |_, s| s.findings.crash_before_manifest_durable,
        ));
    }
    if t.repair {
        props.push(Property::<AofModel>::sometimes(
            SOME_CRASH_REPAIR,
            |_, s| s.findings.crash_during_repair,
        ));
    }
    if t.group_commit {
        props.push(Property::<AofModel>::sometimes(
            SOME_GROUP_COMMIT,
            |_, s| s.findings.group_commit,
        ));
    }
    if t.slow_fsync {
        props.push(Property::<AofModel>::sometimes(
            SOME_APPEND_DURING_FSYNC,
            |_, s| s.findings.append_during_fsync,
        ));
        props.push(Property::<AofModel>::always(POSTPONE_BOUND, |_, s| {
            !s.findings.held_beyond_2s
        }));
        props.push(Property::<AofModel>::sometimes(SOME_POSTPONED, |_, s| {
            s.findings.postponed
        }));
    }
    props
}

fn shutdown_properties() -> Vec<Property<AofModel>> {
    vec![
        // Unless the engine said at exit that the AOF failed, a stop is a durable point.
        Property::<AofModel>::always(SHUTDOWN_DURABLE, |_, s| {
            !s.findings.lost_acked_after_shutdown
        }),
        Property::<AofModel>::sometimes(SOME_SHUTDOWN, |_, s| s.findings.shutdown_completed),
    ]
}

/// With failures anywhere: each procedure the configuration runs was hit by one.
fn fault_sentinels(m: &AofModel) -> Vec<Property<AofModel>> {
    let b = &m.bounds;
    let mut props = vec![Property::<AofModel>::sometimes(
        SOME_FAIL_STARTING,
        |_, s| s.findings.failed_starting,
    )];
    if b.rotations > 0 {
        props.push(Property::<AofModel>::sometimes(
            SOME_FAIL_ROTATING,
            |_, s| s.findings.failed_rotating,
        ));
    }
    if b.rewrites > 0 {
        props.push(Property::<AofModel>::sometimes(
            SOME_FAIL_REWRITING,
            |_, s| s.findings.failed_rewriting,
        ));
    }
    if b.snapshots > 0 {
        props.push(Property::<AofModel>::sometimes(
            SOME_FAIL_SNAPSHOTTING,
            |_, s| s.findings.failed_snapshotting,
        ));
    }
    if b.shutdowns > 0 {
        props.push(Property::<AofModel>::sometimes(
            SOME_FAIL_STOPPING,
            |_, s| s.findings.failed_stopping,
        ));
    }
    props
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

fn rewrite_properties(preamble: bool) -> Vec<Property<AofModel>> {
    let mut props = vec![
        Property::<AofModel>::always(REWRITE_PRESERVES, |_, s| !s.findings.rewrite_lost_data),
        Property::<AofModel>::sometimes(SOME_REWRITE, |_, s| s.findings.rewrite_completed),
        Property::<AofModel>::sometimes(SOME_CRASH_REWRITING, |_, s| {
            s.findings.crash_during_rewrite
        }),
    ];
    props.push(if preamble {
        Property::<AofModel>::sometimes(SOME_BASE_AND_INCR, |_, s| {
            s.findings.recovered_base_and_incr
        })
    } else {
        Property::<AofModel>::sometimes(SOME_RESP_BASE, |_, s| s.findings.resp_base_recovered)
    });
    props
}

/// The command-family workloads and operator commands: the guarantees they add and the paths
/// each configuration must show reached.
fn family_properties(m: &AofModel) -> Vec<Property<AofModel>> {
    use crate::reference::Step;
    let (b, w) = (&m.bounds, m.bounds.workload());
    let has = |step: Step| w.steps.contains(&step);
    let mut props = Vec::new();
    // `Property` takes a plain `fn`: each condition is its own closure.
    macro_rules! sometimes {
        ($name:expr, $field:ident) => {
            props.push(Property::<AofModel>::sometimes($name, |_, s| {
                s.findings.$field
            }))
        };
    }
    if has(Step::Multi) || has(Step::Flushall) {
        sometimes!(SOME_BLOCK_LOST, block_lost_whole);
    }
    if has(Step::Expire) && b.time_ms_max > 0 {
        sometimes!(SOME_EXPIRY_LATER, expiry_survived_later);
    }
    if has(Step::Db1) {
        sometimes!(SOME_DB1, db1_recovered);
    }
    if has(Step::Flushall) {
        sometimes!(SOME_FLUSHALL, flushall_recovered);
    }
    let aof = m.config.appendonly;
    let bases =
        (aof && b.rewrites > 0 && m.config.aof_use_rdb_preamble) || (!aof && b.snapshots > 0);
    if (has(Step::Rpush) || has(Step::Hset)) && bases {
        sometimes!(SOME_COLLECTION_BASE, collection_from_base);
    }
    if m.tracks_reads() {
        sometimes!(SOME_READ_AFTER_WRITE, read_after_write);
        sometimes!(SOME_READ_THEN_CRASH, read_then_crash);
    }
    if b.toggles > 1 {
        sometimes!(SOME_TOGGLED_ON, aof_toggled_on);
        sometimes!(SOME_CRASH_ENABLING, crash_enabling_aof);
    }
    if b.upgrade {
        sometimes!(SOME_CRASH_UPGRADE, crash_during_upgrade);
    }
    if b.snapshots > 0 && m.config.appendonly {
        sometimes!(SOME_SNAPSHOT_WITH_AOF, snapshot_with_aof);
    }
    if m.tracks_reads() {
        // Under always a reply waits for the fsync of everything executed before it, reads
        // included: what a read showed is durable when it is shown.
        props.push(Property::<AofModel>::always(READ_DURABLE, |_, s| {
            !s.findings.read_lost
        }));
    }
    if w.timed() {
        props.push(Property::<AofModel>::always(EXPIRY_KEPT, |_, s| {
            !s.findings.deadline_moved
        }));
    }
    props
}
