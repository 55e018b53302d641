//! Server configuration that the engine's persistence rules read.
//!
//! Owns the settings and their defaults (Redis 7.0's), and the design mutations the proof
//! harness may switch on. Invariant: production code paths never construct a [`Mutation`] other
//! than [`Mutation::None`]; only `durakv-proofs` does, to show the checker catches known-bad
//! designs.

/// `appendfsync`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FsyncPolicy {
    Always,
    Everysec,
    No,
}

impl FsyncPolicy {
    pub fn parse(s: &str) -> Option<FsyncPolicy> {
        match s.to_ascii_lowercase().as_str() {
            "always" => Some(FsyncPolicy::Always),
            "everysec" => Some(FsyncPolicy::Everysec),
            "no" => Some(FsyncPolicy::No),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            FsyncPolicy::Always => "always",
            FsyncPolicy::Everysec => "everysec",
            FsyncPolicy::No => "no",
        }
    }
}

/// A known-bad design the model checker must catch. Only the proof harness sets these; each is
/// a one-line deviation at the decision it names, so the checked code is otherwise production.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mutation {
    None,
    /// Under `always`, release a write's reply once written, before its fsync returns.
    ReplyBeforeFsync,
    /// Rotate to a new incr file without first making the old one durable (Redis 7.0's order),
    /// and let the loader truncate a torn file that is not the last one.
    TruncateTornNonLast,
    /// Rotate to a new incr file without first making the old one durable, as Redis 7.0 does
    /// (its bio thread fsyncs the old file later); the loader still refuses a torn non-last file.
    RotateBeforeOldDurable,
    /// Under `everysec`, fsync only when new data is written (the Redis 7.0.0 idle bug).
    EverysecFsyncOnlyOnWrite,
    /// A missing manifest means a fresh start, whatever the AOF directory holds (Redis 7.0).
    FreshStartWithoutManifest,
    /// With `appendonly yes`, load `dump.rdb` when it exists and only open the AOF for appends
    /// (Redis 7.0 ignores `dump.rdb` whenever the AOF is on).
    LoadRdbWhenAofExists,
    /// At start, trust what was read without fsyncing it (a killed run may have left it only
    /// in the page cache).
    SkipStartupSync,
    /// At start, make the last incr file durable without first sealing the bytes after its
    /// last checksum line (a crash tore that line off): damage to them then loads silently.
    SkipStartupSeal,
    /// Delete the files a rewrite replaced before the manifest without them is durable.
    DeleteHistoryFirst,
    /// Write the snapshot straight over `dump.rdb` instead of a temp file renamed into place.
    SnapshotInPlace,
    /// After a failed write or fsync, resume without rewriting the bytes after the last good
    /// fsync (trusting a page cache that a failed fsync may have dropped: "fsyncgate").
    RetryWithoutRewrite,
    /// Serve as soon as the data is loaded, while the cleanup of leftover temp files still
    /// runs (a BGSAVE's new `temp-1.rdb` can then be deleted under it).
    ServeBeforeCleanup,
    /// A switch whose manifest rename completed but whose directory fsync failed resumes
    /// appends in the old file, as if the switch had not happened.
    RotationRevertsAfterRename,
    /// A read's reply (a command that changed nothing) leaves at once, before the writes it
    /// observed are durable.
    ReadReplyEarly,
    /// A MULTI/EXEC block (or a script's writes) is logged without its MULTI and EXEC.
    ExecUnwrapped,
    /// A relative EXPIRE is logged as sent, so a replay restarts its countdown.
    ExpireRelative,
    /// A partial resync is served from one byte past the offset the replica asked for.
    BacklogOffByOne,
    /// REPLICAOF NO ONE keeps the replication id instead of shifting it to replid2.
    NoReplidShift,
    /// A full sync buffers the stream from the moment the replica asked, not from the
    /// snapshot's offset: bytes already in the snapshot are sent again.
    StreamBeforeSnapshot,
    /// REPLCONF ACK gets a reply, which travels back on the replication link.
    AckAnswered,
    /// WAIT counts every online replica, acknowledged or not.
    WaitCountsUnacked,
}

/// One `save <seconds> <changes>` point: snapshot when at least `changes` writes happened and
/// more than `seconds` passed since the last successful save.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SavePoint {
    pub seconds: u64,
    pub changes: u64,
}

impl SavePoint {
    /// Redis 7.0's defaults when no `save` line is configured: `3600 1 300 100 60 10000`.
    pub fn redis_defaults() -> Vec<SavePoint> {
        [(3600, 1), (300, 100), (60, 10000)]
            .into_iter()
            .map(|(seconds, changes)| SavePoint { seconds, changes })
            .collect()
    }

    /// Parses `"3600 1 300 100"` (or `""` for none), as `save` takes it.
    pub fn parse_list(value: &str) -> Result<Vec<SavePoint>, String> {
        let words: Vec<&str> = value.split_whitespace().collect();
        if !words.len().is_multiple_of(2) {
            return Err("Invalid save parameters".to_string());
        }
        words
            .chunks(2)
            .map(|pair| {
                let seconds: u64 = pair[0].parse().map_err(|_| "Invalid save parameters")?;
                let changes: u64 = pair[1].parse().map_err(|_| "Invalid save parameters")?;
                if seconds < 1 {
                    return Err("Invalid save parameters".to_string());
                }
                Ok(SavePoint { seconds, changes })
            })
            .collect()
    }

    pub fn format_list(points: &[SavePoint]) -> String {
        let words: Vec<String> = points
            .iter()
            .map(|p| format!("{} {}", p.seconds, p.changes))
            .collect();
        words.join(" ")
    }
}

/// Settings the engine reads. Paths are bare names, as Redis requires.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Config {
    pub appendonly: bool,
    pub appendfsync: FsyncPolicy,
    pub appendfilename: String,
    pub appenddirname: String,
    pub aof_use_rdb_preamble: bool,
    pub aof_load_truncated: bool,
    pub databases: usize,
    /// Largest read the loader asks for at once.
    pub load_chunk_bytes: u64,
    /// Everysec: how long a write may be postponed behind a running fsync (Redis: 2 s).
    pub fsync_postpone_ms_max: u64,
    /// `requirepass`: clients must AUTH first when set.
    pub requirepass: Option<String>,
    /// `dbfilename`, a bare name in `dir`.
    pub dbfilename: String,
    /// `save <seconds> <changes> ...`; empty is `save ""`.
    pub save_points: Vec<SavePoint>,
    pub stop_writes_on_bgsave_error: bool,
    pub rdbcompression: bool,
    pub rdbchecksum: bool,
    /// Skip fsyncs of the AOF while a rewrite or snapshot runs (weakens `always`, as in Redis).
    pub no_appendfsync_on_rewrite: bool,
    pub auto_aof_rewrite_percentage: u64,
    pub auto_aof_rewrite_min_size: u64,
    /// `aof-rewrite-incremental-fsync` / `rdb-save-incremental-fsync`: the worker writing a
    /// view fdatasyncs it every 4 MB (Redis's default, `yes`); `no` is accepted and shown but
    /// the worker syncs incrementally anyway (it runs off the engine's thread, so it never
    /// stalls serving).
    pub aof_rewrite_incremental_fsync: bool,
    pub rdb_save_incremental_fsync: bool,
    /// Settings the runtime owns (port, bind, dir, ...), shown read-only by CONFIG GET.
    pub runtime_settings: Vec<(String, String)>,
    /// Their defaults, for CONFIG REWRITE (a setting at its default leaves the file; one
    /// without a default here, such as `dir`, is always written).
    pub runtime_defaults: Vec<(String, String)>,
    /// The config file the server started with, absolute, for CONFIG REWRITE (`None`: none).
    pub config_file: Option<String>,
    pub mutation: Mutation,
    /// The collection encoding thresholds (`hash-max-listpack-entries`, ...); the engine
    /// copies them into the keyspace, where commands and the loader read them.
    pub encodings: crate::types::Limits,
    /// `maxmemory`, `maxmemory-policy`, `maxmemory-samples` (`memory.rs` enforces them).
    pub memory: MemoryConfig,
    /// `enable-debug-command` (immutable): who may run DEBUG.
    pub enable_debug_command: DebugAccess,
    /// Replication (master side): backlog, diskless sync, pings, WAIT's neighbours.
    pub repl: crate::repl_config::ReplConfig,
    /// Replication (replica side): `replicaof`, `masterauth`, `replica-read-only`, ...
    pub replica: crate::replica_config::ReplicaConfig,
    /// `notify-keyspace-events` as flags (`keyspace_events.rs`); 0 is none.
    pub notify_keyspace_events: u32,
    /// `busy-reply-threshold` (alias `lua-time-limit`): after this long a running script lets
    /// other clients in (`-BUSY`, SCRIPT KILL).
    pub busy_reply_threshold_ms: u64,
}

/// `maxmemory-policy`: what to do when a write would need memory above `maxmemory`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EvictionPolicy {
    NoEviction,
    AllkeysLru,
    AllkeysLfu,
    AllkeysRandom,
    VolatileLru,
    VolatileLfu,
    VolatileRandom,
    VolatileTtl,
}

impl EvictionPolicy {
    const ALL: [(EvictionPolicy, &'static str); 8] = [
        (EvictionPolicy::VolatileLru, "volatile-lru"),
        (EvictionPolicy::VolatileLfu, "volatile-lfu"),
        (EvictionPolicy::VolatileRandom, "volatile-random"),
        (EvictionPolicy::VolatileTtl, "volatile-ttl"),
        (EvictionPolicy::AllkeysLru, "allkeys-lru"),
        (EvictionPolicy::AllkeysLfu, "allkeys-lfu"),
        (EvictionPolicy::AllkeysRandom, "allkeys-random"),
        (EvictionPolicy::NoEviction, "noeviction"),
    ];

    pub fn parse(s: &str) -> Option<EvictionPolicy> {
        let lower = s.to_ascii_lowercase();
        Self::ALL.iter().find(|(_, n)| *n == lower).map(|(p, _)| *p)
    }

    pub fn as_str(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(p, _)| *p == self)
            .map_or("", |(_, n)| n)
    }

    /// Whether only keys with an expiry may be evicted.
    pub fn volatile_only(self) -> bool {
        matches!(
            self,
            EvictionPolicy::VolatileLru
                | EvictionPolicy::VolatileLfu
                | EvictionPolicy::VolatileRandom
                | EvictionPolicy::VolatileTtl
        )
    }
}

/// The memory limit and what happens at it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MemoryConfig {
    /// `maxmemory`; 0 is no limit.
    pub maxmemory_bytes: u64,
    pub policy: EvictionPolicy,
    /// `maxmemory-samples`: keys looked at per eviction.
    pub samples: u64,
}

impl Default for MemoryConfig {
    fn default() -> Self {
        MemoryConfig {
            maxmemory_bytes: 0,
            policy: EvictionPolicy::NoEviction,
            samples: 5,
        }
    }
}

/// `enable-debug-command`: DEBUG is refused unless `yes`, or `local` for a loopback client.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum DebugAccess {
    #[default]
    No,
    Yes,
    Local,
}

impl DebugAccess {
    pub fn as_str(self) -> &'static str {
        match self {
            DebugAccess::No => "no",
            DebugAccess::Yes => "yes",
            DebugAccess::Local => "local",
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            appendonly: true,
            appendfsync: FsyncPolicy::Everysec,
            appendfilename: "appendonly.aof".to_string(),
            appenddirname: "appendonlydir".to_string(),
            aof_use_rdb_preamble: true,
            aof_load_truncated: true,
            databases: crate::keyspace::DATABASES_DEFAULT,
            load_chunk_bytes: 1 << 20,
            fsync_postpone_ms_max: 2000,
            requirepass: None,
            dbfilename: "dump.rdb".to_string(),
            save_points: SavePoint::redis_defaults(),
            stop_writes_on_bgsave_error: true,
            rdbcompression: true,
            rdbchecksum: true,
            no_appendfsync_on_rewrite: false,
            auto_aof_rewrite_percentage: 100,
            auto_aof_rewrite_min_size: 64 << 20,
            aof_rewrite_incremental_fsync: true,
            rdb_save_incremental_fsync: true,
            runtime_settings: Vec::new(),
            runtime_defaults: Vec::new(),
            config_file: None,
            mutation: Mutation::None,
            encodings: crate::types::Limits::default(),
            memory: MemoryConfig::default(),
            enable_debug_command: DebugAccess::No,
            repl: crate::repl_config::ReplConfig::default(),
            replica: crate::replica_config::ReplicaConfig::default(),
            notify_keyspace_events: 0,
            busy_reply_threshold_ms: 5000,
        }
    }
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_string()
}

fn parse_yes_no(value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "yes" => Ok(true),
        "no" => Ok(false),
        _ => Err("argument must be 'yes' or 'no'".to_string()),
    }
}

/// Settings that cannot change while the server runs (Redis: immutable configs).
pub const IMMUTABLE: &[&str] = &[
    "appendfilename",
    "appenddirname",
    "dir",
    "dbfilename",
    "databases",
    "port",
    "bind",
    "enable-debug-command",
];

impl Config {
    /// Every setting CONFIG GET knows, with its current value.
    pub fn settings(&self) -> Vec<(String, String)> {
        let mut all = vec![
            ("appendonly".to_string(), yes_no(self.appendonly)),
            (
                "appendfsync".to_string(),
                self.appendfsync.as_str().to_string(),
            ),
            ("appendfilename".to_string(), self.appendfilename.clone()),
            ("appenddirname".to_string(), self.appenddirname.clone()),
            (
                "aof-use-rdb-preamble".to_string(),
                yes_no(self.aof_use_rdb_preamble),
            ),
            (
                "aof-load-truncated".to_string(),
                yes_no(self.aof_load_truncated),
            ),
            ("databases".to_string(), self.databases.to_string()),
            ("dbfilename".to_string(), self.dbfilename.clone()),
            (
                "save".to_string(),
                SavePoint::format_list(&self.save_points),
            ),
            (
                "stop-writes-on-bgsave-error".to_string(),
                yes_no(self.stop_writes_on_bgsave_error),
            ),
            ("rdbcompression".to_string(), yes_no(self.rdbcompression)),
            ("rdbchecksum".to_string(), yes_no(self.rdbchecksum)),
            (
                "aof-rewrite-incremental-fsync".to_string(),
                yes_no(self.aof_rewrite_incremental_fsync),
            ),
            (
                "rdb-save-incremental-fsync".to_string(),
                yes_no(self.rdb_save_incremental_fsync),
            ),
            (
                "no-appendfsync-on-rewrite".to_string(),
                yes_no(self.no_appendfsync_on_rewrite),
            ),
            (
                "auto-aof-rewrite-percentage".to_string(),
                self.auto_aof_rewrite_percentage.to_string(),
            ),
            (
                "auto-aof-rewrite-min-size".to_string(),
                self.auto_aof_rewrite_min_size.to_string(),
            ),
            (
                "requirepass".to_string(),
                self.requirepass.clone().unwrap_or_default(),
            ),
        ];
        all.extend(self.memory_and_debug_settings());
        all.extend(self.encodings.settings());
        all.extend(self.repl.settings());
        all.extend(self.replica.settings());
        all.extend(self.runtime_settings.iter().cloned());
        all
    }

    /// Applies one setting by its redis.conf name. `Err` carries the reason Redis would give.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), String> {
        if let Some(result) = self.encodings.set(name, value) {
            return result;
        }
        if let Some(result) = self.set_memory_or_debug(name, value) {
            return result;
        }
        let repl = self.repl.set(name, value);
        if let Some(result) = repl.or_else(|| self.replica.set(name, value)) {
            return result;
        }
        match name {
            "appendfsync" => {
                self.appendfsync = FsyncPolicy::parse(value)
                    .ok_or("argument(s) must be one of the following: always, everysec, no")?
            }
            "appendonly" => self.appendonly = parse_yes_no(value)?,
            "aof-use-rdb-preamble" => self.aof_use_rdb_preamble = parse_yes_no(value)?,
            "aof-load-truncated" => self.aof_load_truncated = parse_yes_no(value)?,
            "appendfilename" | "appenddirname" => {
                if value.is_empty() || value.contains('/') || value == "." || value == ".." {
                    return Err(format!("{name} can't be a path, just a filename"));
                }
                if name == "appendfilename" {
                    self.appendfilename = value.to_string();
                } else {
                    self.appenddirname = value.to_string();
                }
            }
            "databases" => {
                let n: usize = value
                    .parse()
                    .map_err(|_| "argument couldn't be parsed into an integer")?;
                if !(1..=256).contains(&n) {
                    return Err("argument must be between 1 and 256 inclusive".to_string());
                }
                self.databases = n;
            }
            "requirepass" => self.requirepass = (!value.is_empty()).then(|| value.to_string()),
            "save" => self.save_points = SavePoint::parse_list(value)?,
            "stop-writes-on-bgsave-error" => {
                self.stop_writes_on_bgsave_error = parse_yes_no(value)?
            }
            "rdbcompression" => self.rdbcompression = parse_yes_no(value)?,
            "rdbchecksum" => self.rdbchecksum = parse_yes_no(value)?,
            "no-appendfsync-on-rewrite" => self.no_appendfsync_on_rewrite = parse_yes_no(value)?,
            "aof-rewrite-incremental-fsync" => {
                self.aof_rewrite_incremental_fsync = parse_yes_no(value)?
            }
            "rdb-save-incremental-fsync" => self.rdb_save_incremental_fsync = parse_yes_no(value)?,
            "auto-aof-rewrite-percentage" => {
                self.auto_aof_rewrite_percentage = value
                    .parse()
                    .map_err(|_| "argument couldn't be parsed into an integer")?
            }
            "auto-aof-rewrite-min-size" => self.auto_aof_rewrite_min_size = parse_memory(value)?,
            "dbfilename" => {
                if value.is_empty() || value.contains('/') {
                    return Err("dbfilename can't be a path, just a filename".to_string());
                }
                self.dbfilename = value.to_string();
            }
            _ => {
                return Err(format!(
                    "Unknown option or number of arguments for CONFIG SET - '{name}'"
                ))
            }
        }
        Ok(())
    }
}

impl Config {
    fn memory_and_debug_settings(&self) -> Vec<(String, String)> {
        let memory = &self.memory;
        [
            ("maxmemory", memory.maxmemory_bytes.to_string()),
            ("maxmemory-policy", memory.policy.as_str().to_string()),
            ("maxmemory-samples", memory.samples.to_string()),
            (
                "enable-debug-command",
                self.enable_debug_command.as_str().to_string(),
            ),
            (
                "notify-keyspace-events",
                crate::keyspace_events::format_flags(self.notify_keyspace_events),
            ),
            (
                "busy-reply-threshold",
                self.busy_reply_threshold_ms.to_string(),
            ),
            ("lua-time-limit", self.busy_reply_threshold_ms.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// The memory and DEBUG settings; `None` for any other name.
    fn set_memory_or_debug(&mut self, name: &str, value: &str) -> Option<Result<(), String>> {
        let result = match name {
            "maxmemory" => parse_memory(value).map(|n| self.memory.maxmemory_bytes = n),
            "maxmemory-policy" => EvictionPolicy::parse(value)
                .map(|p| self.memory.policy = p)
                .ok_or_else(|| {
                    "argument(s) must be one of the following: volatile-lru, volatile-lfu, \
                     volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, \
                     noeviction"
                        .to_string()
                }),
            "maxmemory-samples" => match value.parse::<u64>() {
                Ok(n) if (1..=64).contains(&n) => {
                    self.memory.samples = n;
                    Ok(())
                }
                Ok(_) => Err("argument must be between 1 and 64 inclusive".to_string()),
                Err(_) => Err("argument couldn't be parsed into an integer".to_string()),
            },
            "enable-debug-command" => {
                let access = match value.to_ascii_lowercase().as_str() {
                    "no" => Some(DebugAccess::No),
                    "yes" => Some(DebugAccess::Yes),
                    "local" => Some(DebugAccess::Local),
                    _ => None,
                };
                access
                    .map(|a| self.enable_debug_command = a)
                    .ok_or_else(|| {
                        "argument(s) must be one of the following: no, yes, local".to_string()
                    })
            }
            "notify-keyspace-events" => {
                crate::keyspace_events::parse_flags(value).map(|f| self.notify_keyspace_events = f)
            }
            "busy-reply-threshold" | "lua-time-limit" => value
                .parse::<u64>()
                .map(|ms| self.busy_reply_threshold_ms = ms)
                .map_err(|_| "argument couldn't be parsed into an integer".to_string()),
            _ => return None,
        };
        Some(result)
    }
}

/// Parses a redis.conf memory value: `64mb`, `1gb`, `100k`, `4096`.
pub fn parse_memory(value: &str) -> Result<u64, String> {
    let lower = value.to_ascii_lowercase();
    let split = lower
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(lower.len());
    let (digits, unit) = lower.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| "argument must be a memory value")?;
    let scale = match unit {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1_000_000,
        "mb" => 1 << 20,
        "g" => 1_000_000_000,
        "gb" => 1 << 30,
        _ => return Err("argument must be a memory value".to_string()),
    };
    n.checked_mul(scale)
        .ok_or_else(|| "argument must be a memory value".to_string())
}
