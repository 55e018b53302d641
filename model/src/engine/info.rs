//! INFO: the server's state in Redis's `field:value` sections.
//!
//! Owns nothing: it reads the sub-machines through [`InfoSources`]. Invariant: field names and
//! meanings follow Redis 7.0 (`redis-persistence-facts.md` §4.3), so monitoring that reads
//! Redis reads durakv; fields durakv cannot know yet report Redis's idle value rather than
//! being invented.

use std::fmt::Write;

use bytes::Bytes;

use crate::config::Config;
use crate::io::Lane;
use crate::keyspace::Keyspace;

use super::aof_writer::AofWriter;
use super::clients::Clients;
use super::phase::Phase;
use super::repl::Repl;
use super::rewrite::Rewrites;
use super::snapshot::Snapshots;
use super::stats::Stats;

/// What INFO reads, borrowed from the engine for one call.
pub(crate) struct InfoSources<'a> {
    pub(crate) config: &'a Config,
    pub(crate) phase: &'a Phase,
    pub(crate) keyspace: &'a Keyspace,
    pub(crate) clients: &'a Clients,
    pub(crate) aof: &'a AofWriter,
    pub(crate) snapshots: &'a Snapshots,
    pub(crate) rewrites: &'a Rewrites,
    pub(crate) stats: &'a Stats,
    pub(crate) repl: &'a Repl,
    /// Active channels, patterns and shard channels (Pub/Sub).
    pub(crate) pubsub: (usize, usize, usize),
    pub(crate) started_ms: u64,
    /// The used-memory estimate (`memory.rs`).
    pub(crate) used_memory: u64,
    /// Scripts in the EVAL cache.
    pub(crate) cached_scripts: usize,
    /// The Redis release whose behaviour durakv follows.
    pub(crate) redis_version: &'static str,
    /// A replica's lines from `role:slave` to `replica_announced` (`replica_cmd.rs`).
    pub(crate) replica: Option<Fields>,
    /// commandstats and errorstats.
    pub(crate) command_stats: &'a crate::command::cmdstats::CommandStats,
}

const SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "commandstats",
    "errorstats",
    "keyspace",
];

/// Sections only `INFO all|everything|<name>` shows (Redis's non-default sections).
const NOT_DEFAULT: &[&str] = &["commandstats"];

type Fields = Vec<(String, String)>;

fn kv(k: &str, v: impl ToString) -> (String, String) {
    (k.to_string(), v.to_string())
}

/// INFO [section ...]: the sections asked for (all by default), in Redis's order.
pub(crate) fn render(src: &InfoSources, now_ms: u64, argv: &[Bytes]) -> String {
    let wanted: Vec<String> = argv[1..]
        .iter()
        .map(|a| String::from_utf8_lossy(a).to_lowercase())
        .collect();
    let everything = wanted.iter().any(|w| w == "all" || w == "everything");
    let default = wanted.is_empty() || wanted.iter().any(|w| w == "default");
    let mut out = String::new();
    for section in SECTIONS {
        let by_default = default && !NOT_DEFAULT.contains(section);
        if !everything && !by_default && !wanted.iter().any(|w| w == section) {
            continue;
        }
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        let title = format!("{}{}", section[..1].to_uppercase(), &section[1..]);
        let _ = write!(out, "# {title}\r\n");
        for (k, v) in section_fields(src, section, now_ms) {
            let _ = write!(out, "{k}:{v}\r\n");
        }
    }
    out
}

fn section_fields(src: &InfoSources, section: &str, now_ms: u64) -> Fields {
    match section {
        "server" => vec![
            kv("redis_version", src.redis_version),
            kv("durakv_version", env!("CARGO_PKG_VERSION")),
            kv("redis_mode", "standalone"),
            kv("arch_bits", "64"),
            kv(
                "uptime_in_seconds",
                now_ms.saturating_sub(src.started_ms) / 1000,
            ),
        ],
        "clients" => vec![
            kv("connected_clients", src.clients.connected_count()),
            kv("blocked_clients", src.clients.blocked.len()),
        ],
        "memory" => {
            let memory = &src.config.memory;
            vec![
                kv("used_memory", src.used_memory),
                kv("maxmemory", memory.maxmemory_bytes),
                kv("maxmemory_policy", memory.policy.as_str()),
                kv("number_of_cached_scripts", src.cached_scripts),
            ]
        }
        "persistence" => {
            let mut fields = persistence_rdb(src, now_ms);
            fields.extend(persistence_aof(src));
            fields
        }
        "stats" => vec![
            kv("total_connections_received", src.stats.connections_received),
            kv("total_commands_processed", src.stats.commands_processed),
            kv("total_error_replies", src.command_stats.total_error_replies),
            kv("pubsub_channels", src.pubsub.0),
            kv("pubsub_patterns", src.pubsub.1),
            kv("pubsubshard_channels", src.pubsub.2),
            kv("evicted_keys", src.stats.evicted_keys),
            kv("sync_full", src.repl.sync_full),
            kv("sync_partial_ok", src.repl.sync_partial_ok),
            kv("sync_partial_err", src.repl.sync_partial_err),
        ],
        "replication" => replication(src, now_ms),
        "commandstats" => {
            let names = |i: usize| crate::command::commands()[i].name;
            src.command_stats.render_commands(names)
        }
        "errorstats" => src.command_stats.render_errors(),
        "keyspace" => src
            .keyspace
            .dbs
            .iter()
            .enumerate()
            .filter(|(_, db)| !db.is_empty())
            .map(|(i, db)| {
                let value = format!("keys={},expires={},avg_ttl=0", db.len(), db.expires_count());
                kv(&format!("db{i}"), value)
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The replication section of a master, field for field as Redis 7.0 prints it
/// (`redis-replication-facts.md` §7).
fn replication(src: &InfoSources, now_ms: u64) -> Fields {
    let repl = src.repl;
    let mut fields = (src.replica.clone()).unwrap_or_else(|| vec![kv("role", "master")]);
    fields.push(kv("connected_slaves", repl.replica_count()));
    let config = &src.config.repl;
    if config.min_replicas_to_write > 0 && config.min_replicas_max_lag_s > 0 {
        let good = repl.good_replicas(config, now_ms);
        fields.push(kv("min_slaves_good_slaves", good));
    }
    let replicas = repl
        .peers
        .iter()
        .filter_map(|(c, p)| Some((c, p, p.state?)));
    for (i, (&client, peer, state)) in replicas.enumerate() {
        let ip = peer.ip.clone().unwrap_or_else(|| peer_ip(src, client));
        let (port, offset) = (peer.listening_port, peer.ack_offset);
        let lag = now_ms.saturating_sub(peer.ack_ms) / 1000;
        let state = state.name();
        let line = format!("ip={ip},port={port},state={state},offset={offset},lag={lag}");
        fields.push(kv(&format!("slave{i}"), line));
    }
    let backlog = repl.backlog.as_ref();
    let second = repl.second_offset.map_or(-1, |o| o as i64);
    fields.extend([
        kv("master_failover_state", "no-failover"),
        kv("master_replid", &repl.replid),
        kv("master_replid2", &repl.replid2),
        kv("master_repl_offset", repl.offset),
        kv("second_repl_offset", second),
        kv("repl_backlog_active", u8::from(backlog.is_some())),
        kv(
            "repl_backlog_size",
            backlog.map_or(config.backlog_bytes, |b| b.size()),
        ),
        kv(
            "repl_backlog_first_byte_offset",
            backlog.map_or(0, |b| b.first()),
        ),
        kv("repl_backlog_histlen", backlog.map_or(0, |b| b.len())),
    ]);
    fields
}

/// A connection's peer IP, as Redis prints a replica that sent no `ip-address`.
fn peer_ip(src: &InfoSources, client: u64) -> String {
    let conn = src.clients.info.get(&client).and_then(|i| i.conn.as_ref());
    let addr = conn.map_or("?", |c| c.addr.addr.as_str());
    addr.rsplit_once(':').map_or(addr, |(ip, _)| ip).to_string()
}

fn ok_or_err(ok: bool) -> &'static str {
    if ok {
        "ok"
    } else {
        "err"
    }
}

/// The persistence section's first half: loading and snapshots.
fn persistence_rdb(src: &InfoSources, now_ms: u64) -> Fields {
    let snapshots = src.snapshots;
    let current_s = snapshots
        .current_ms(now_ms)
        .map_or(-1, |ms| (ms / 1000) as i64);
    vec![
        kv("loading", u8::from(*src.phase == Phase::Loading)),
        kv("rdb_changes_since_last_save", src.stats.dirty),
        kv("rdb_bgsave_in_progress", u8::from(snapshots.in_progress())),
        kv("rdb_last_save_time", snapshots.lastsave_ms / 1000),
        kv(
            "rdb_last_bgsave_status",
            ok_or_err(snapshots.last_bgsave_ok),
        ),
        kv(
            "rdb_last_bgsave_time_sec",
            snapshots.last_duration_ms / 1000,
        ),
        kv("rdb_current_bgsave_time_sec", current_s),
        kv("rdb_saves", snapshots.saves),
        kv("rdb_last_load_keys_loaded", snapshots.keys_loaded),
    ]
}

/// The persistence section's second half: the AOF, its rewrites and its log.
fn persistence_aof(src: &InfoSources) -> Fields {
    let rewrites = src.rewrites;
    let mut fields = vec![
        kv("aof_enabled", u8::from(src.config.appendonly)),
        kv("aof_rewrite_in_progress", u8::from(rewrites.in_progress)),
        kv("aof_rewrite_scheduled", "0"),
        kv(
            "aof_last_rewrite_time_sec",
            rewrites.last_duration_ms / 1000,
        ),
        kv("aof_last_bgrewrite_status", ok_or_err(rewrites.last_ok)),
        kv("aof_rewrites", rewrites.count),
        kv(
            "aof_rewrites_consecutive_failures",
            rewrites.failures_consecutive,
        ),
        kv(
            "aof_last_write_status",
            ok_or_err(src.aof.error().is_none()),
        ),
    ];
    if let Some(log) = &src.aof.log {
        let bio_fsync = log.fsync.is_some() && log.fsync_lane == Lane::Sync;
        fields.extend([
            kv("aof_current_size", rewrites.aof_size(src.aof)),
            kv("aof_base_size", rewrites.base_size),
            kv("aof_buffer_length", log.buf.len()),
            kv("aof_pending_bio_fsync", u8::from(bio_fsync)),
            kv("aof_delayed_fsync", log.delayed_fsync),
            kv("aof_fsync_policy", log.policy.as_str()),
            kv("aof_offset_written", log.offset_written),
            kv("aof_offset_durable", log.offset_durable),
        ]);
    }
    fields
}
