//! The master side's replication settings, Redis 7.0's names and defaults
//! (`redis-replication-facts.md` §2, §5, §6, §9): `repl-backlog-size`, `repl-diskless-sync`,
//! `repl-diskless-sync-delay`, `repl-ping-replica-period`, `repl-timeout`,
//! `min-replicas-to-write`, `min-replicas-max-lag`, and the replica output limit.
//!
//! Owns their parsing for CONFIG GET/SET and the config file. Invariant: a value outside the
//! range Redis accepts is refused with Redis's reason, never clamped in silence.

use crate::config::parse_memory;

/// Replication settings the engine reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ReplConfig {
    /// `repl-backlog-size`: stream bytes kept for partial resynchronisation.
    pub backlog_bytes: u64,
    /// `repl-diskless-sync`: stream the RDB to `capa eof` replicas (`$EOF:` framing).
    pub diskless_sync: bool,
    /// `repl-diskless-sync-delay`: seconds a diskless full sync waits for more replicas.
    pub diskless_sync_delay_s: u64,
    /// `repl-ping-replica-period` (alias `repl-ping-slave-period`), seconds.
    pub ping_period_s: u64,
    /// `repl-timeout`, seconds without an ACK before an online replica is dropped.
    pub timeout_s: u64,
    /// `min-replicas-to-write` (alias `min-slaves-to-write`); 0 = off.
    pub min_replicas_to_write: u64,
    /// `min-replicas-max-lag` (alias `min-slaves-max-lag`), seconds.
    pub min_replicas_max_lag_s: u64,
    /// `client-output-buffer-limit replica` hard limit: a replica owed more stream bytes than
    /// this while its RDB is being sent is dropped (Redis's `256mb`).
    pub output_bytes_max: u64,
}

impl Default for ReplConfig {
    fn default() -> Self {
        ReplConfig {
            backlog_bytes: 1 << 20,
            diskless_sync: true,
            diskless_sync_delay_s: 5,
            ping_period_s: 10,
            timeout_s: 60,
            min_replicas_to_write: 0,
            min_replicas_max_lag_s: 10,
            output_bytes_max: 256 << 20,
        }
    }
}

fn integer(value: &str, min: u64, max: u64) -> Result<u64, String> {
    let n: u64 = value
        .parse()
        .map_err(|_| "argument couldn't be parsed into an integer".to_string())?;
    if !(min..=max).contains(&n) {
        return Err(format!(
            "argument must be between {min} and {max} inclusive"
        ));
    }
    Ok(n)
}

impl ReplConfig {
    /// CONFIG GET's view of these settings.
    pub fn settings(&self) -> Vec<(String, String)> {
        let yes_no = |b: bool| if b { "yes" } else { "no" }.to_string();
        vec![
            ("repl-backlog-size".into(), self.backlog_bytes.to_string()),
            ("repl-diskless-sync".into(), yes_no(self.diskless_sync)),
            (
                "repl-diskless-sync-delay".into(),
                self.diskless_sync_delay_s.to_string(),
            ),
            (
                "repl-ping-replica-period".into(),
                self.ping_period_s.to_string(),
            ),
            ("repl-timeout".into(), self.timeout_s.to_string()),
            (
                "min-replicas-to-write".into(),
                self.min_replicas_to_write.to_string(),
            ),
            (
                "min-replicas-max-lag".into(),
                self.min_replicas_max_lag_s.to_string(),
            ),
        ]
    }

    /// Applies one setting if it is one of these (`None` otherwise).
    pub fn set(&mut self, name: &str, value: &str) -> Option<Result<(), String>> {
        let result = match name {
            "repl-backlog-size" => parse_memory(value).map(|n| {
                // Redis's minimum (`CONFIG_REPL_BACKLOG_MIN_SIZE`).
                self.backlog_bytes = n.max(16 * 1024);
            }),
            "repl-diskless-sync" => match value.to_ascii_lowercase().as_str() {
                "yes" | "no" => {
                    self.diskless_sync = value.eq_ignore_ascii_case("yes");
                    Ok(())
                }
                _ => Err("argument must be 'yes' or 'no'".to_string()),
            },
            "repl-diskless-sync-delay" => {
                integer(value, 0, i32::MAX as u64).map(|n| self.diskless_sync_delay_s = n)
            }
            "repl-ping-replica-period" | "repl-ping-slave-period" => {
                integer(value, 1, i32::MAX as u64).map(|n| self.ping_period_s = n)
            }
            "repl-timeout" => integer(value, 1, i32::MAX as u64).map(|n| self.timeout_s = n),
            "min-replicas-to-write" | "min-slaves-to-write" => {
                integer(value, 0, i32::MAX as u64).map(|n| self.min_replicas_to_write = n)
            }
            "min-replicas-max-lag" | "min-slaves-max-lag" => {
                integer(value, 0, i32::MAX as u64).map(|n| self.min_replicas_max_lag_s = n)
            }
            _ => return None,
        };
        Some(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Goal: Redis's defaults, its aliases, and its refusals.
    #[test]
    fn defaults_aliases_and_refusals() {
        let mut c = ReplConfig::default();
        assert_eq!(c.backlog_bytes, 1 << 20);
        assert!(c.diskless_sync);
        assert_eq!(c.diskless_sync_delay_s, 5);
        assert_eq!(c.set("repl-ping-slave-period", "3"), Some(Ok(())));
        assert_eq!(c.ping_period_s, 3);
        assert_eq!(c.set("repl-backlog-size", "1kb"), Some(Ok(())));
        assert_eq!(c.backlog_bytes, 16 * 1024);
        assert!(matches!(c.set("repl-timeout", "0"), Some(Err(_))));
        assert!(matches!(c.set("repl-diskless-sync", "maybe"), Some(Err(_))));
        assert_eq!(c.set("maxmemory", "1"), None);
    }
}
