//! INFO commandstats and errorstats: per-command calls, failures and rejections, and error
//! replies by their code (`errorstat_ERR:count=N`), as Redis 7.0 counts them.
//!
//! Owns the counters. Invariant: they are observations only — nothing decides on them — so
//! they take no part in the state's equality or hash: the model checker's states (and pinned
//! counts) are the same with or without them. Counting costs an index and two adds per call
//! (no allocation on the fast path: commands are counted by their place in the index; only a
//! container's subcommand, `config|set`, is counted by name). `usec` is not measured and
//! stays 0: the engine's clock is the millisecond of the turn, and reading a finer one per
//! command is what the fast path cannot afford.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::hash::{Hash, Hasher};

use crate::resp::Frame;

/// One command's counters.
#[derive(Clone, Copy, Debug, Default)]
pub struct CallStat {
    pub calls: u64,
    pub usec: u64,
    pub rejected_calls: u64,
    pub failed_calls: u64,
}

/// The counters, reset by CONFIG RESETSTAT.
#[derive(Clone, Debug, Default)]
pub struct CommandStats {
    /// By the command's place in the index.
    by_index: Vec<CallStat>,
    /// Containers' subcommands, by `container|sub`.
    subs: BTreeMap<String, CallStat>,
    /// Error replies by code (the first word, Redis's `incrementErrorCount`).
    errors: BTreeMap<String, u64>,
    pub total_error_replies: u64,
}

impl PartialEq for CommandStats {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for CommandStats {}

impl Hash for CommandStats {
    fn hash<H: Hasher>(&self, _: &mut H) {}
}

/// Commands Redis 7.0 counts per subcommand (`cmdstat_config|set`).
const CONTAINERS: &[&str] = &[
    "acl", "client", "cluster", "command", "config", "function", "latency", "memory", "module",
    "object", "pubsub", "script", "slowlog", "xgroup", "xinfo",
];

impl CommandStats {
    /// The counters of command `index` named `name` called with `argv`.
    pub fn entry(&mut self, index: usize, name: &str, argv: &[bytes::Bytes]) -> &mut CallStat {
        if CONTAINERS.contains(&name) {
            if let Some(sub) = argv.get(1) {
                let sub = String::from_utf8_lossy(sub).to_lowercase();
                return self.subs.entry(format!("{name}|{sub}")).or_default();
            }
        }
        if self.by_index.len() <= index {
            self.by_index.resize(index + 1, CallStat::default());
        }
        &mut self.by_index[index]
    }

    /// Counts an error reply by its code (`ERR` when it has none in its first 32 bytes).
    pub fn count_error(&mut self, text: &str) {
        self.total_error_replies += 1;
        let code = text
            .get(..text.len().min(32))
            .and_then(|head| head.find(' '))
            .map_or("ERR", |end| &text[..end]);
        *self.errors.entry(code.to_string()).or_default() += 1;
    }

    /// Counts `reply` if it is an error; returns whether it was.
    pub fn count_reply(&mut self, reply: &Frame) -> bool {
        match reply {
            Frame::Error(text) => {
                self.count_error(text);
                true
            }
            _ => false,
        }
    }

    pub fn reset(&mut self) {
        *self = CommandStats::default();
    }

    /// INFO commandstats: `cmdstat_<name>:calls=..,usec=..,usec_per_call=..,rejected_calls=..,
    /// failed_calls=..` for every command called or rejected since the last reset.
    pub fn render_commands(&self, names: impl Fn(usize) -> &'static str) -> Vec<(String, String)> {
        let mut rows: Vec<(String, CallStat)> = self
            .by_index
            .iter()
            .enumerate()
            .filter(|(_, s)| s.calls + s.rejected_calls + s.failed_calls > 0)
            .map(|(i, s)| (names(i).to_string(), *s))
            .collect();
        rows.extend(self.subs.iter().map(|(k, s)| (k.clone(), *s)));
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        rows.into_iter()
            .map(|(name, s)| {
                let per_call = if s.calls == 0 {
                    0.0
                } else {
                    s.usec as f64 / s.calls as f64
                };
                let mut value = String::new();
                let _ = write!(
                    value,
                    "calls={},usec={},usec_per_call={per_call:.2},rejected_calls={},failed_calls={}",
                    s.calls, s.usec, s.rejected_calls, s.failed_calls
                );
                (format!("cmdstat_{name}"), value)
            })
            .collect()
    }

    /// INFO errorstats: `errorstat_<CODE>:count=N`.
    pub fn render_errors(&self) -> Vec<(String, String)> {
        let rows = self.errors.iter();
        rows.map(|(code, n)| (format!("errorstat_{code}"), format!("count={n}")))
            .collect()
    }
}
