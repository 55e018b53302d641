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
    /// After a failed write or fsync, resume without rewriting the bytes after the last good
    /// fsync (trusting a page cache that a failed fsync may have dropped: "fsyncgate").
    RetryWithoutRewrite,
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
    /// Settings the runtime owns (port, bind, dir, ...), shown read-only by CONFIG GET.
    pub runtime_settings: Vec<(String, String)>,
    pub mutation: Mutation,
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
            runtime_settings: Vec::new(),
            mutation: Mutation::None,
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
            (
                "requirepass".to_string(),
                self.requirepass.clone().unwrap_or_default(),
            ),
        ];
        all.extend(self.runtime_settings.iter().cloned());
        all
    }

    /// Applies one setting by its redis.conf name. `Err` carries the reason Redis would give.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), String> {
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
            _ => {
                return Err(format!(
                    "Unknown option or number of arguments for CONFIG SET - '{name}'"
                ))
            }
        }
        Ok(())
    }
}
