//! Server configuration from a redis.conf-style file and `--name value` arguments, parsed the
//! way `redis-server [file.conf] [--port 6379] ...` does.
//!
//! Owns every setting's syntax and validation, and the split between what the engine reads
//! ([`model::config::Config`]) and what only the runtime uses (listening address, `dir`,
//! password, client limit). Invariant: each directive either lands in a field or stops the
//! start with an error naming where it came from (file and line, or the argument), as Redis's
//! "FATAL CONFIG FILE ERROR"; nothing is silently ignored.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use bytes::Bytes;
use model::config::Config;

/// Everything `durakv-server` was told.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub port: u16,
    pub bind: Vec<IpAddr>,
    /// Working directory for every file, as Redis's `dir` (we join paths instead of `chdir`).
    pub dir: PathBuf,
    pub maxclients: u32,
    pub loglevel: String,
    pub protected_mode: bool,
    /// The config file given first on the command line, absolute (CONFIG REWRITE replaces
    /// it); `None` without one or when it was read from stdin (`-`).
    pub config_file: Option<PathBuf>,
    /// The settings the engine's persistence rules read.
    pub engine: Config,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            port: 6379,
            bind: vec![IpAddr::V4(Ipv4Addr::LOCALHOST)],
            dir: PathBuf::from("."),
            maxclients: 10_000,
            loglevel: "notice".to_string(),
            protected_mode: true,
            config_file: None,
            engine: Config::default(),
        }
    }
}

impl ServerConfig {
    /// The runtime's own settings as CONFIG GET shows them (read-only there), with `dir` as
    /// resolved at start.
    /// Defaults of [`Self::runtime_settings`] for CONFIG REWRITE; `dir` has none, so it is
    /// always written (as Redis writes its working directory).
    pub fn runtime_defaults() -> Vec<(String, String)> {
        let defaults = ServerConfig::default().runtime_settings(std::path::Path::new("."));
        defaults
            .into_iter()
            .filter(|(name, _)| name != "dir")
            .collect()
    }

    pub fn runtime_settings(&self, dir: &std::path::Path) -> Vec<(String, String)> {
        let bind: Vec<String> = self.bind.iter().map(ToString::to_string).collect();
        let yes_no = |b: bool| if b { "yes" } else { "no" }.to_string();
        [
            ("port", self.port.to_string()),
            ("bind", bind.join(" ")),
            ("dir", dir.display().to_string()),
            ("maxclients", self.maxclients.to_string()),
            ("loglevel", self.loglevel.clone()),
            ("logfile", String::new()),
            ("daemonize", "no".to_string()),
            ("protected-mode", yes_no(self.protected_mode)),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_string(), value))
        .collect()
    }
}

/// What the command line asks for.
#[derive(Debug)]
pub enum Cli {
    Run(Box<ServerConfig>),
    Version,
    Help,
}

/// Where a directive was read.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Source {
    File { path: String, line: u64 },
    Argument,
}

/// A directive that cannot be applied, with where it came from and why.
#[derive(Debug)]
pub struct ConfigError {
    source: Source,
    text: String,
    reason: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "\n*** FATAL CONFIG FILE ERROR (durakv {}) ***",
            env!("CARGO_PKG_VERSION")
        )?;
        match &self.source {
            Source::File { path, line } => {
                writeln!(f, "Reading the configuration file {path}, at line {line}")?
            }
            Source::Argument => writeln!(f, "Reading the command line arguments")?,
        }
        writeln!(f, ">>> '{}'", self.text)?;
        write!(f, "{}", self.reason)
    }
}

impl std::error::Error for ConfigError {}

/// Parses `args` (without the program name) into what to do.
pub fn from_args(args: &[String]) -> Result<Cli, ConfigError> {
    match args.first().map(String::as_str) {
        Some("-v" | "--version") => return Ok(Cli::Version),
        Some("-h" | "--help") => return Ok(Cli::Help),
        _ => {}
    }
    let mut config = ServerConfig::default();
    let mut state = LoadState::default();
    let mut rest = args;
    if let Some(first) = args.first().filter(|a| !a.starts_with("--")) {
        let text = read_config_file(first)?;
        for (index, line) in text.lines().enumerate() {
            let source = Source::File {
                path: first.clone(),
                line: index as u64 + 1,
            };
            apply_line(&mut config, &mut state, source, line.as_bytes())?;
        }
        rest = &args[1..];
        if first != "-" {
            config.config_file = std::path::absolute(first).ok();
        }
    }
    for (name, values) in group_options(rest)? {
        let mut argv = vec![Bytes::from(name)];
        argv.extend(values.into_iter().map(Bytes::from));
        let text = display_argv(&argv);
        apply(&mut config, &mut state, &argv).map_err(|reason| ConfigError {
            source: Source::Argument,
            text,
            reason,
        })?;
    }
    Ok(Cli::Run(Box::new(config)))
}

fn read_config_file(path: &str) -> Result<String, ConfigError> {
    let read = if path == "-" {
        std::io::read_to_string(std::io::stdin())
    } else {
        std::fs::read_to_string(path)
    };
    read.map_err(|error| ConfigError {
        source: Source::Argument,
        text: path.to_string(),
        reason: format!("Fatal error, can't open config file '{path}': {error}"),
    })
}

/// Splits `--name v1 v2 --other v` into directives, as redis-server builds config lines.
fn group_options(args: &[String]) -> Result<Vec<(String, Vec<String>)>, ConfigError> {
    let mut options: Vec<(String, Vec<String>)> = Vec::new();
    for arg in args {
        match (arg.strip_prefix("--"), options.last_mut()) {
            (Some(name), _) if !name.is_empty() => options.push((name.to_string(), Vec::new())),
            (_, Some((_, values))) => values.push(arg.clone()),
            (_, None) => {
                return Err(ConfigError {
                    source: Source::Argument,
                    text: arg.clone(),
                    reason:
                        "Expected an option starting with '--' (the config file must come first)"
                            .into(),
                })
            }
        }
    }
    Ok(options)
}

/// Per-load state: the first `save` directive replaces the defaults, later ones add to it
/// (as in redis.conf, where several `save` lines make one list).
#[derive(Default)]
struct LoadState {
    save: Option<Vec<String>>,
}

fn apply_line(
    config: &mut ServerConfig,
    state: &mut LoadState,
    source: Source,
    line: &[u8],
) -> Result<(), ConfigError> {
    let trimmed = line.trim_ascii();
    if trimmed.is_empty() || trimmed.starts_with(b"#") {
        return Ok(());
    }
    let text = String::from_utf8_lossy(trimmed).into_owned();
    let Some(argv) = model::sds_args::split_args(trimmed) else {
        return Err(ConfigError {
            source,
            text,
            reason: "Unbalanced quotes in configuration line".into(),
        });
    };
    apply(config, state, &argv).map_err(|reason| ConfigError {
        source,
        text,
        reason,
    })
}

fn display_argv(argv: &[Bytes]) -> String {
    let words: Vec<String> = argv
        .iter()
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    words.join(" ")
}

/// Applies one directive (`argv[0]` is its name); the error is the reason to print.
/// Settings the engine reads are validated by the engine's own `Config::set`, the code
/// CONFIG SET runs, so a value means the same at start and at run time.
fn apply(config: &mut ServerConfig, state: &mut LoadState, argv: &[Bytes]) -> Result<(), String> {
    let name = String::from_utf8_lossy(&argv[0]).to_ascii_lowercase();
    let args = &argv[1..];
    match name.as_str() {
        "port" => config.port = number(one(args)?, 0, 65_535)? as u16,
        "bind" => config.bind = bind_addresses(args)?,
        "dir" => config.dir = PathBuf::from(text(one(args)?)?),
        "maxclients" => config.maxclients = number(one(args)?, 1, u64::from(u32::MAX))? as u32,
        "loglevel" => {
            config.loglevel = choice(one(args)?, &["debug", "verbose", "notice", "warning"])?
        }
        "logfile" if one(args)?.is_empty() => {}
        "logfile" => return Err("durakv logs to stderr only: logfile must be \"\"".into()),
        "daemonize" if !yes_no(one(args)?)? => {}
        "daemonize" => {
            return Err("daemonize yes is not supported: run durakv under a supervisor".into())
        }
        "protected-mode" => config.protected_mode = yes_no(one(args)?)?,
        "save" => apply_save(config, state, args)?,
        "replicaof" | "slaveof" => {
            // `--replicaof "host port"` (one argument) means the same as the config line.
            let mut words = Vec::new();
            for arg in args {
                words.extend(text(arg)?.split_ascii_whitespace().map(str::to_string));
            }
            let [host, port] = words.as_slice() else {
                return Err("wrong number of arguments".into());
            };
            config.engine.replica.master = Some(model::replica_config::parse_master(host, port)?);
        }
        _ => {
            let value = text(one(args)?)?;
            config.engine.set(&name, &value).map_err(|reason| {
                if reason.starts_with("Unknown option") {
                    "Bad directive or wrong number of arguments".to_string()
                } else {
                    reason
                }
            })?;
        }
    }
    Ok(())
}

fn one(args: &[Bytes]) -> Result<&Bytes, String> {
    match args {
        [value] => Ok(value),
        _ => Err("wrong number of arguments".into()),
    }
}

fn text(value: &Bytes) -> Result<String, String> {
    String::from_utf8(value.to_vec()).map_err(|_| "argument must be valid UTF-8".to_string())
}

fn number(value: &Bytes, min: u64, max: u64) -> Result<u64, String> {
    let n: u64 = text(value)?
        .parse()
        .map_err(|_| "argument couldn't be parsed into an integer".to_string())?;
    if n < min || n > max {
        return Err(format!(
            "argument must be between {min} and {max} inclusive"
        ));
    }
    Ok(n)
}

fn yes_no(value: &Bytes) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_slice() {
        b"yes" => Ok(true),
        b"no" => Ok(false),
        _ => Err("argument must be 'yes' or 'no'".into()),
    }
}

fn choice(value: &Bytes, allowed: &[&str]) -> Result<String, String> {
    let value = text(value)?.to_ascii_lowercase();
    if allowed.contains(&value.as_str()) {
        Ok(value)
    } else {
        Err(format!(
            "argument(s) must be one of the following: {}",
            allowed.join(", ")
        ))
    }
}

fn bind_addresses(args: &[Bytes]) -> Result<Vec<IpAddr>, String> {
    if args.is_empty() {
        return Err("wrong number of arguments".into());
    }
    let mut addresses = Vec::new();
    for arg in args {
        let word = text(arg)?;
        // Redis 7 marks optional addresses with a leading '-'; we require them all.
        let word = word.strip_prefix('-').unwrap_or(&word);
        let address = match word {
            "localhost" => IpAddr::V4(Ipv4Addr::LOCALHOST),
            "*" => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            _ => word
                .parse()
                .map_err(|_| format!("Invalid bind address '{word}'"))?,
        };
        addresses.push(address);
    }
    Ok(addresses)
}

/// `save ""` clears; `save 900 1 300 10` (or the pairs in one quoted word) adds points.
fn apply_save(
    config: &mut ServerConfig,
    state: &mut LoadState,
    args: &[Bytes],
) -> Result<(), String> {
    if args.is_empty() {
        return Err("wrong number of arguments".into());
    }
    let words = args
        .iter()
        .map(text)
        .collect::<Result<Vec<_>, _>>()?
        .join(" ");
    let points = state.save.get_or_insert_with(Vec::new);
    if words.trim().is_empty() {
        points.clear();
    } else {
        points.push(words);
    }
    config.engine.set("save", &points.join(" "))
}

#[cfg(test)]
mod tests {
    use model::config::{FsyncPolicy, SavePoint};

    use super::*;

    fn args(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    fn run(words: &[&str]) -> ServerConfig {
        match from_args(&args(words)) {
            Ok(Cli::Run(config)) => *config,
            other => panic!("expected a configuration, got {other:?}"),
        }
    }

    /// Defaults are durakv's recommended ones: local only, AOF on with everysec.
    #[test]
    fn defaults() {
        let config = run(&[]);
        assert_eq!(config.port, 6379);
        assert_eq!(config.bind, vec![IpAddr::V4(Ipv4Addr::LOCALHOST)]);
        assert!(config.engine.appendonly);
        assert_eq!(config.engine.appendfsync, FsyncPolicy::Everysec);
    }

    /// `replicaof host port` as two words or one quoted argument (`slaveof` too); a bad port
    /// is refused with Redis's reason.
    #[test]
    fn replicaof() {
        let master = Some(("127.0.0.1".to_string(), 6380));
        assert_eq!(
            run(&["--replicaof", "127.0.0.1", "6380"])
                .engine
                .replica
                .master,
            master
        );
        assert_eq!(
            run(&["--slaveof", "127.0.0.1 6380"]).engine.replica.master,
            master
        );
        let bad = from_args(&args(&["--replicaof", "h", "99999"])).unwrap_err();
        assert!(bad.reason.contains("Invalid master port"), "{bad}");
    }

    /// Command-line options as redis-server takes them, including an empty `save`.
    #[test]
    fn options() {
        let config = run(&[
            "--port",
            "7000",
            "--appendfsync",
            "always",
            "--save",
            "",
            "--dir",
            "/tmp",
        ]);
        assert_eq!(config.port, 7000);
        assert_eq!(config.engine.appendfsync, FsyncPolicy::Always);
        assert!(config.engine.save_points.is_empty());
        assert_eq!(config.dir, PathBuf::from("/tmp"));
        let config = run(&["--save", "900 1", "--save", "60", "100"]);
        let expected =
            [(900, 1), (60, 100)].map(|(seconds, changes)| SavePoint { seconds, changes });
        assert_eq!(config.engine.save_points, expected);
    }

    /// A config file with comments and quotes; arguments after it override it.
    #[test]
    fn file_then_arguments() {
        let dir = std::env::temp_dir().join(format!("durakv-config-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("durakv.conf");
        std::fs::write(
            &path,
            "# comment\nport 7001\n\nrequirepass \"se cret\"\nappendonly no\n",
        )
        .unwrap();
        let config = run(&[path.to_str().unwrap(), "--port", "7002"]);
        assert_eq!(config.port, 7002);
        assert_eq!(config.engine.requirepass.as_deref(), Some("se cret"));
        assert!(!config.engine.appendonly);
        std::fs::write(&path, "port 7001\nno-such-thing 1\n").unwrap();
        let error = from_args(&args(&[path.to_str().unwrap()]))
            .unwrap_err()
            .to_string();
        assert!(error.contains("at line 2"), "{error}");
        assert!(error.contains(">>> 'no-such-thing 1'"), "{error}");
        assert!(error.contains("Bad directive"), "{error}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Bad values are refused with Redis's reasons.
    #[test]
    fn bad_values() {
        for words in [
            &["--port", "70000"][..],
            &["--appendfsync", "sometimes"],
            &["--appendonly", "maybe"],
            &["--appendfilename", "../x"],
            &["--bogus", "1"],
            &["--port"],
            &["--port", "1", "2"],
            &["--save", "10"],
            &["--dbfilename", "a/b.rdb"],
        ] {
            assert!(from_args(&args(words)).is_err(), "{words:?} was accepted");
        }
        let error = from_args(&args(&["--port", "7000", "oops", "--bind"])).unwrap_err();
        assert!(
            error.to_string().contains("--port") || error.to_string().contains("port"),
            "{error}"
        );
    }
}
