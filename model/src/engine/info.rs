//! INFO: the server's state in Redis's `field:value` sections.
//!
//! Invariant: field names and meanings follow Redis 7.0 (`redis-persistence-facts.md` §4.3), so
//! monitoring that reads Redis reads durakv; fields durakv cannot know yet report Redis's idle
//! value rather than being invented.

use std::fmt::Write;

use super::*;

const SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "keyspace",
];

impl Engine {
    pub(super) fn info(&self, now_ms: u64, argv: &[Bytes]) -> String {
        let wanted: Vec<String> = argv[1..]
            .iter()
            .map(|a| String::from_utf8_lossy(a).to_lowercase())
            .collect();
        let all = wanted.is_empty()
            || wanted
                .iter()
                .any(|w| w == "all" || w == "everything" || w == "default");
        let mut out = String::new();
        for section in SECTIONS {
            if !all && !wanted.iter().any(|w| w == section) {
                continue;
            }
            if !out.is_empty() {
                out.push_str("\r\n");
            }
            let title = format!("{}{}", section[..1].to_uppercase(), &section[1..]);
            let _ = write!(out, "# {title}\r\n");
            for (k, v) in self.info_section(section, now_ms) {
                let _ = write!(out, "{k}:{v}\r\n");
            }
        }
        out
    }

    fn info_section(&self, section: &str, now_ms: u64) -> Vec<(String, String)> {
        let kv = |k: &str, v: String| (k.to_string(), v);
        match section {
            "server" => vec![
                kv("redis_version", REDIS_VERSION.to_string()),
                kv("durakv_version", env!("CARGO_PKG_VERSION").to_string()),
                kv("redis_mode", "standalone".to_string()),
                kv("arch_bits", "64".to_string()),
                kv(
                    "uptime_in_seconds",
                    (now_ms.saturating_sub(self.started_ms) / 1000).to_string(),
                ),
            ],
            "clients" => vec![kv(
                "connected_clients",
                self.sessions.len().max(self.clients.len()).to_string(),
            )],
            "memory" => vec![kv("used_memory", (self.keyspace.len() * 64).to_string())],
            "persistence" => self.info_persistence(now_ms),
            "stats" => vec![
                kv(
                    "total_connections_received",
                    self.stats.connections_received.to_string(),
                ),
                kv(
                    "total_commands_processed",
                    self.stats.commands_processed.to_string(),
                ),
            ],
            "keyspace" => self
                .keyspace
                .dbs
                .iter()
                .enumerate()
                .filter(|(_, db)| !db.is_empty())
                .map(|(i, db)| {
                    kv(
                        &format!("db{i}"),
                        format!("keys={},expires={},avg_ttl=0", db.len(), db.expires_count()),
                    )
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    fn info_persistence(&self, now_ms: u64) -> Vec<(String, String)> {
        let kv = |k: &str, v: String| (k.to_string(), v);
        let status = if self.aof_error().is_some() {
            "err"
        } else {
            "ok"
        };
        let mut fields = vec![
            kv(
                "loading",
                u8::from(self.phase == Phase::Loading).to_string(),
            ),
            kv("rdb_changes_since_last_save", self.stats.dirty.to_string()),
            kv(
                "rdb_bgsave_in_progress",
                u8::from(self.snapshots.in_progress()).to_string(),
            ),
            kv(
                "rdb_last_save_time",
                (self.snapshots.lastsave_ms / 1000).to_string(),
            ),
            kv(
                "rdb_last_bgsave_status",
                if self.snapshots.last_bgsave_ok {
                    "ok"
                } else {
                    "err"
                }
                .to_string(),
            ),
            kv(
                "rdb_last_bgsave_time_sec",
                (self.snapshots.last_duration_ms / 1000).to_string(),
            ),
            kv(
                "rdb_current_bgsave_time_sec",
                self.snapshots
                    .current_ms(now_ms)
                    .map_or(-1, |ms| (ms / 1000) as i64)
                    .to_string(),
            ),
            kv("rdb_saves", self.snapshots.saves.to_string()),
            kv(
                "rdb_last_load_keys_loaded",
                self.snapshots.keys_loaded.to_string(),
            ),
            kv("aof_enabled", u8::from(self.config.appendonly).to_string()),
            kv(
                "aof_rewrite_in_progress",
                u8::from(self.rewrites.in_progress).to_string(),
            ),
            kv("aof_rewrite_scheduled", "0".to_string()),
            kv(
                "aof_last_rewrite_time_sec",
                (self.rewrites.last_duration_ms / 1000).to_string(),
            ),
            kv(
                "aof_last_bgrewrite_status",
                if self.rewrites.last_ok { "ok" } else { "err" }.to_string(),
            ),
            kv("aof_rewrites", self.rewrites.count.to_string()),
            kv(
                "aof_rewrites_consecutive_failures",
                self.rewrites.failures_consecutive.to_string(),
            ),
            kv("aof_last_write_status", status.to_string()),
        ];
        if let Some(log) = &self.log {
            fields.extend([
                kv("aof_current_size", self.aof_size().to_string()),
                kv("aof_base_size", self.rewrites.base_size.to_string()),
                kv("aof_buffer_length", log.buf.len().to_string()),
                kv(
                    "aof_pending_bio_fsync",
                    u8::from(log.fsync.is_some() && log.fsync_lane == Lane::Sync).to_string(),
                ),
                kv("aof_delayed_fsync", log.delayed_fsync.to_string()),
                kv("aof_fsync_policy", log.policy.as_str().to_string()),
                kv("aof_offset_written", log.offset_written.to_string()),
                kv("aof_offset_durable", log.offset_durable.to_string()),
            ]);
        }
        fields
    }
}
