//! What the model's judging found, kept in each state: the sticky findings the properties
//! read, and what the last crash did until the restart after it is judged.
//!
//! Owns the vocabulary only (`aof_model.rs` sets the fields, `properties.rs` reads them).
//! Invariant: every finding is sticky; once set in a state it stays set in its successors.

/// What judging recoveries found; sticky, read by the properties.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Findings {
    pub crash_unsynced: bool,
    pub crash_during_rotation: bool,
    pub lost_acked: bool,
    pub lost_acked_beyond_2s: bool,
    pub not_prefix: bool,
    pub refused: Option<String>,
    pub empty_in_silence: bool,
    pub recovered_torn: bool,
    pub recovered_zero_filled: bool,
    pub everysec_loss: bool,
    pub no_loss: bool,
    pub rotated: bool,
    pub failure_recovered: bool,
    pub crash_while_failed: bool,
    pub snapshot_not_one_point: bool,
    pub snapshot_loss_unbounded: bool,
    pub snapshot_completed: bool,
    pub crash_before_rename_durable: bool,
    pub crash_mid_snapshot: bool,
    pub rewrite_lost_data: bool,
    pub rewrite_completed: bool,
    pub crash_during_rewrite: bool,
    pub recovered_base_and_incr: bool,
    pub lost_acked_on_kill: bool,
    pub restarted_after_kill: bool,
    /// The engine reported an I/O error (event, reply, sticky error, refusal) nobody injected.
    pub uninjected_error: bool,
    pub failed_starting: bool,
    pub failed_stopping: bool,
    pub failed_rotating: bool,
    pub failed_rewriting: bool,
    pub failed_snapshotting: bool,
    /// A start refused over an injected fault, then retried.
    pub refused_injected: bool,
    pub shutdown_completed: bool,
    pub lost_acked_after_shutdown: bool,
    /// A crash while the rename of a new AOF manifest was not yet durable.
    pub crash_before_manifest_durable: bool,
    /// A crash while start-up was cutting a torn tail (before serving).
    pub crash_during_repair: bool,
    /// One completion released two or more acknowledgements.
    pub group_commit: bool,
    /// An append to the log was issued while a background fsync was in flight.
    pub append_during_fsync: bool,
    /// Everysec held writes behind a slow fsync until the 2-second rule wrote them anyway.
    pub postponed: bool,
    /// Logged bytes waited unwritten behind a background fsync for more than 2 s.
    pub held_beyond_2s: bool,
    /// A released read revealed a write that a later crash lost.
    pub read_lost: bool,
    /// A released read revealed a write (of the key it read).
    pub read_after_write: bool,
    /// A recovery judged after a read had revealed a write.
    pub read_then_crash: bool,
    /// A recovery kept every write but not an expiry deadline (a relative EXPIRE replayed).
    pub deadline_moved: bool,
    /// A crash lost a MULTI/EXEC block (whole: anything else is not a prefix).
    pub block_lost_whole: bool,
    /// A recovery at a later time than an EXPIRE kept its deadline.
    pub expiry_survived_later: bool,
    /// A recovery holding a key in database 1.
    pub db1_recovered: bool,
    /// A recovery holding a FLUSHALL (in its MULTI/EXEC block).
    pub flushall_recovered: bool,
    /// A list or hash recovered from a base (a rewrite's or a snapshot's RDB).
    pub collection_from_base: bool,
    /// A recovery with a rewritten RESP base (`aof-use-rdb-preamble no`) on disk.
    pub resp_base_recovered: bool,
    /// `CONFIG SET appendonly yes` was sent after `no`.
    pub aof_toggled_on: bool,
    /// A crash while `CONFIG SET appendonly yes` was writing the AOF's first files.
    pub crash_enabling_aof: bool,
    /// A crash during start-up's pre-7.0 upgrade.
    pub crash_during_upgrade: bool,
    /// A completed snapshot (BGSAVE) while the AOF is on.
    pub snapshot_with_aof: bool,
    /// A crash kept a directory operation and dropped an earlier one of another directory
    /// (per-directory metadata).
    pub dir_op_dropped: bool,
    /// Start-up refused to load damaged synced bytes.
    pub damage_refused: bool,
    /// A restart over damaged synced bytes loaded something else than the undamaged disk
    /// holds, beyond cutting never-acknowledged writes.
    pub damage_loaded: bool,
    /// The disk misdirected a log append.
    pub misdirected: bool,
}

/// What the last crash did, kept until the restart is judged.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct LastCrash {
    pub at_ms: u64,
    /// A process crash (kill -9): the disk, page cache included, is untouched.
    pub kill: bool,
    pub torn: bool,
    pub zero_filled: bool,
    pub disk_had_data: bool,
    /// The process exited after SHUTDOWN; `shutdown_failed` if it said the AOF failed.
    pub shutdown: bool,
    pub shutdown_failed: bool,
    /// The run that crashed had an fsync in flight across a clock tick.
    pub slow_disk: bool,
}
