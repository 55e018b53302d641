//! The replica side's settings, Redis 7.0's names and defaults: `replicaof` (alias `slaveof`,
//! config file and command line only, as in Redis: the runtime parses it with [`parse_master`]), `masterauth`, `masteruser`,
//! `replica-read-only`, `replica-priority`, `replica-announced`, `replica-serve-stale-data`.
//!
//! Owns their parsing for CONFIG GET/SET and the config file. Invariant: a value outside the
//! range Redis accepts is refused with Redis's reason, never clamped in silence.

/// Replica settings the engine reads.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ReplicaConfig {
    /// `replicaof <host> <port>` at start: follow that master from the first second.
    pub master: Option<(String, u16)>,
    /// `masterauth`: the password sent with AUTH during the handshake.
    pub masterauth: Option<String>,
    /// `masteruser`: the ACL user sent with AUTH (only together with `masterauth`).
    pub masteruser: Option<String>,
    /// `replica-read-only` (alias `slave-read-only`): normal clients may not write.
    pub read_only: bool,
    /// `replica-priority` (alias `slave-priority`), which Sentinel reads from INFO.
    pub priority: u64,
    /// `replica-announced`: INFO's `replica_announced`.
    pub announced: bool,
    /// `replica-serve-stale-data` (alias `slave-serve-stale-data`): with `no`, a replica whose
    /// link is down answers commands not flagged `stale` with `-MASTERDOWN`.
    pub serve_stale_data: bool,
}

impl Default for ReplicaConfig {
    fn default() -> Self {
        ReplicaConfig {
            master: None,
            masterauth: None,
            masteruser: None,
            read_only: true,
            priority: 100,
            announced: true,
            serve_stale_data: true,
        }
    }
}

fn yes_no(value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "yes" => Ok(true),
        "no" => Ok(false),
        _ => Err("argument must be 'yes' or 'no'".to_string()),
    }
}

/// `replicaof`'s two words, `<host> <port>`, as the config file gives them.
pub fn parse_master(host: &str, port: &str) -> Result<(String, u16), String> {
    let port: u16 = port
        .parse()
        .map_err(|_| "Invalid master port".to_string())?;
    if host.is_empty() {
        return Err("Invalid master host".to_string());
    }
    Ok((host.to_string(), port))
}

impl ReplicaConfig {
    /// CONFIG GET's view of these settings.
    pub fn settings(&self) -> Vec<(String, String)> {
        let yes_no = |b: bool| if b { "yes" } else { "no" }.to_string();
        vec![
            (
                "masterauth".into(),
                self.masterauth.clone().unwrap_or_default(),
            ),
            (
                "masteruser".into(),
                self.masteruser.clone().unwrap_or_default(),
            ),
            ("replica-read-only".into(), yes_no(self.read_only)),
            ("replica-priority".into(), self.priority.to_string()),
            ("replica-announced".into(), yes_no(self.announced)),
            (
                "replica-serve-stale-data".into(),
                yes_no(self.serve_stale_data),
            ),
        ]
    }

    /// Applies one setting if it is one of these (`None` otherwise).
    pub fn set(&mut self, name: &str, value: &str) -> Option<Result<(), String>> {
        let text = || (!value.is_empty()).then(|| value.to_string());
        let result = match name {
            "masterauth" => {
                self.masterauth = text();
                Ok(())
            }
            "masteruser" => {
                self.masteruser = text();
                Ok(())
            }
            "replica-read-only" | "slave-read-only" => yes_no(value).map(|b| self.read_only = b),
            "replica-announced" => yes_no(value).map(|b| self.announced = b),
            "replica-serve-stale-data" | "slave-serve-stale-data" => {
                yes_no(value).map(|b| self.serve_stale_data = b)
            }
            "replica-priority" | "slave-priority" => match value.parse::<u64>() {
                Ok(n) if n <= i32::MAX as u64 => {
                    self.priority = n;
                    Ok(())
                }
                _ => Err("argument couldn't be parsed into an integer".to_string()),
            },
            _ => return None,
        };
        Some(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Goal: Redis's defaults, aliases, the two-word `replicaof`, and refusals.
    #[test]
    fn defaults_aliases_and_refusals() {
        let mut c = ReplicaConfig::default();
        assert!(c.read_only);
        assert_eq!(c.priority, 100);
        assert_eq!(c.set("slave-read-only", "no"), Some(Ok(())));
        assert!(!c.read_only);
        assert_eq!(
            parse_master("127.0.0.1", "6380"),
            Ok(("127.0.0.1".to_string(), 6380))
        );
        assert!(parse_master("h", "70000").is_err());
        // As Redis, REPLICAOF is a command and a start-up directive, not a CONFIG SET name.
        assert_eq!(c.set("replicaof", "127.0.0.1 6380"), None);
        assert!(matches!(c.set("replica-read-only", "maybe"), Some(Err(_))));
        assert_eq!(c.set("masterauth", "pw"), Some(Ok(())));
        assert_eq!(c.masterauth.as_deref(), Some("pw"));
        assert_eq!(c.set("maxmemory", "1"), None);
        assert!(c.serve_stale_data, "Redis's default");
        assert_eq!(c.set("slave-serve-stale-data", "no"), Some(Ok(())));
        assert!(!c.serve_stale_data);
    }
}
