//! What one entry of the command index says about a command: name, arity, Redis's flags, key
//! positions, documentation, and where it executes.
//!
//! Owns the shape of an entry, not the entries (they are in `table.rs`). The entry is generic
//! over the handler type so this file depends on nothing else in the crate: the command layer,
//! the engine and the connection all read the same entry without import cycles.
//! Invariant: an entry's `arity` is Redis 7.0's (counting the name: `n > 0` exactly n words,
//! `-n` at least n), and [`Command::check_arity`] is the only place that applies it.

/// Redis's command flags (`COMMAND INFO` names), as a bit set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Flags(u32);

impl Flags {
    pub const NONE: Flags = Flags(0);
    /// May modify the data set: refused under MISCONF, counted as a write in MULTI.
    pub const WRITE: Flags = Flags(1);
    pub const READONLY: Flags = Flags(1 << 1);
    /// May grow memory use (refused over `maxmemory` once eviction exists).
    pub const DENYOOM: Flags = Flags(1 << 2);
    pub const ADMIN: Flags = Flags(1 << 3);
    pub const NOSCRIPT: Flags = Flags(1 << 4);
    /// Allowed while the data set is loading.
    pub const LOADING: Flags = Flags(1 << 5);
    /// Allowed on a replica with a stale data set.
    pub const STALE: Flags = Flags(1 << 6);
    pub const SKIP_SLOWLOG: Flags = Flags(1 << 7);
    pub const FAST: Flags = Flags(1 << 8);
    /// Allowed before AUTH when a password is set.
    pub const NO_AUTH: Flags = Flags(1 << 9);
    pub const NO_MULTI: Flags = Flags(1 << 10);
    pub const ALLOW_BUSY: Flags = Flags(1 << 11);
    pub const NO_ASYNC_LOADING: Flags = Flags(1 << 12);
    pub const PROTECTED: Flags = Flags(1 << 13);
    pub const MAY_REPLICATE: Flags = Flags(1 << 14);
    pub const PUBSUB: Flags = Flags(1 << 15);

    /// Each flag with the word `COMMAND INFO` prints for it, in Redis's order.
    const NAMES: [(Flags, &'static str); 16] = [
        (Flags::WRITE, "write"),
        (Flags::READONLY, "readonly"),
        (Flags::DENYOOM, "denyoom"),
        (Flags::ADMIN, "admin"),
        (Flags::PUBSUB, "pubsub"),
        (Flags::NOSCRIPT, "noscript"),
        (Flags::LOADING, "loading"),
        (Flags::STALE, "stale"),
        (Flags::SKIP_SLOWLOG, "skip_slowlog"),
        (Flags::FAST, "fast"),
        (Flags::NO_AUTH, "no_auth"),
        (Flags::MAY_REPLICATE, "may_replicate"),
        (Flags::PROTECTED, "protected"),
        (Flags::NO_ASYNC_LOADING, "no_async_loading"),
        (Flags::NO_MULTI, "no_multi"),
        (Flags::ALLOW_BUSY, "allow_busy"),
    ];

    pub const fn union(self, other: Flags) -> Flags {
        Flags(self.0 | other.0)
    }

    pub const fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }

    /// The flag words, as `COMMAND INFO` lists them.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        Flags::NAMES
            .into_iter()
            .filter(move |(f, _)| self.contains(*f))
            .map(|(_, name)| name)
    }
}

impl std::ops::BitOr for Flags {
    type Output = Flags;
    fn bitor(self, other: Flags) -> Flags {
        self.union(other)
    }
}

/// Redis's command groups (`COMMAND DOCS` `group`), which also give the ACL category.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Group {
    Generic,
    String,
    Connection,
    Server,
    Transactions,
    Scripting,
    Pubsub,
    List,
    Hash,
    Set,
    SortedSet,
    Bitmap,
    Stream,
}

impl Group {
    pub fn name(self) -> &'static str {
        match self {
            Group::Generic => "generic",
            Group::String => "string",
            Group::Connection => "connection",
            Group::Server => "server",
            Group::Transactions => "transactions",
            Group::Scripting => "scripting",
            Group::Pubsub => "pubsub",
            Group::List => "list",
            Group::Hash => "hash",
            Group::Set => "set",
            Group::SortedSet => "sorted-set",
            Group::Bitmap => "bitmap",
            Group::Stream => "stream",
        }
    }

    /// The ACL category Redis adds for the group (`@keyspace` for generic key commands).
    fn category(self) -> Option<&'static str> {
        match self {
            Group::Generic => Some("@keyspace"),
            Group::String => Some("@string"),
            Group::Connection => Some("@connection"),
            Group::Server => None,
            Group::Transactions => Some("@transaction"),
            Group::Scripting => Some("@scripting"),
            Group::Pubsub => Some("@pubsub"),
            Group::List => Some("@list"),
            Group::Hash => Some("@hash"),
            Group::Set => Some("@set"),
            Group::SortedSet => Some("@sortedset"),
            Group::Bitmap => Some("@bitmap"),
            Group::Stream => Some("@stream"),
        }
    }
}

/// Engine-level commands: they read or change state outside the data set (persistence,
/// configuration, the client table), so the engine runs them, never inside MULTI.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EngineCommand {
    Save,
    Bgsave,
    Lastsave,
    Bgrewriteaof,
    Debug,
    Auth,
    Hello,
    Client,
    Config,
    Info,
    Shutdown,
    Reset,
    /// Replication (`engine/repl_cmd.rs`): REPLCONF, SYNC and PSYNC, WAIT, WAITAOF, ROLE,
    /// REPLICAOF and SLAVEOF.
    Replconf,
    Sync,
    Wait,
    Waitaof,
    Role,
    Replicaof,
}

/// Where a command executes.
#[derive(Clone, Copy, Debug)]
pub enum Run<H> {
    /// The command layer, as one execution unit (queued inside MULTI).
    Data(H),
    /// The command layer, at once even inside MULTI: MULTI, EXEC, DISCARD, WATCH.
    Control(H),
    /// The engine (see [`EngineCommand`]).
    Engine(EngineCommand),
    /// The connection itself: QUIT, answered after every earlier reply, then the socket closes.
    Connection,
}

/// Key positions as `COMMAND INFO` gives them: first, last (`-1` = the last argument), step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Keys {
    pub first: i8,
    pub last: i8,
    pub step: i8,
}

/// Documentation as `COMMAND DOCS` gives it.
#[derive(Clone, Copy, Debug)]
pub struct Docs {
    pub summary: &'static str,
    pub since: &'static str,
    pub group: Group,
    pub complexity: &'static str,
}

/// One command.
#[derive(Clone, Copy, Debug)]
pub struct Command<H> {
    /// Lower case, as Redis's `fullname` in error texts and COMMAND replies.
    pub name: &'static str,
    pub arity: i32,
    pub flags: Flags,
    pub keys: Keys,
    pub docs: Docs,
    pub run: Run<H>,
}

impl<H> Command<H> {
    /// Whether `argc` words (the name included) satisfy the arity.
    pub fn arity_ok(&self, argc: usize) -> bool {
        let argc = argc as i64;
        let arity = i64::from(self.arity);
        if arity >= 0 {
            argc == arity
        } else {
            argc >= -arity
        }
    }

    pub fn is_write(&self) -> bool {
        self.flags.contains(Flags::WRITE)
    }

    /// Whether a replica whose link is down serves it under `replica-serve-stale-data no`
    /// (Redis 7.0's `stale` flag, read from its `COMMAND`). A container's own entry carries
    /// Redis's container flags, so the subcommands Redis flags `stale` are named here: every
    /// subcommand of the first list, `HELP` of the second, and SCRIPT LOAD.
    pub fn serves_stale(&self, argv: &[bytes::Bytes]) -> bool {
        const EVERY_SUB: [&str; 8] = [
            "acl", "client", "cluster", "command", "config", "latency", "pubsub", "slowlog",
        ];
        const HELP: [&str; 7] = [
            "function", "memory", "module", "object", "script", "xgroup", "xinfo",
        ];
        if self.flags.contains(Flags::STALE) || EVERY_SUB.contains(&self.name) {
            return true;
        }
        match argv.get(1).map(|s| s.to_ascii_lowercase()).as_deref() {
            Some(b"help") => HELP.contains(&self.name),
            Some(b"load") => self.name == "script",
            _ => false,
        }
    }

    /// The ACL categories Redis derives for the command (`setImplicitACLCategories` plus the
    /// group's own), as `COMMAND INFO` lists them.
    pub fn categories(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        out.extend(self.docs.group.category());
        let f = self.flags;
        if f.contains(Flags::WRITE) {
            out.push("@write");
        }
        if f.contains(Flags::READONLY) {
            out.push("@read");
        }
        if f.contains(Flags::ADMIN) {
            out.extend(["@admin", "@dangerous"]);
        }
        out.push(if f.contains(Flags::FAST) {
            "@fast"
        } else {
            "@slow"
        });
        out
    }
}

/// The one arity error text: `ERR wrong number of arguments for 'get' command`.
pub fn wrong_arity_text(name: &str) -> String {
    format!("ERR wrong number of arguments for '{name}' command")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(arity: i32) -> Command<()> {
        Command {
            name: "x",
            arity,
            flags: Flags::WRITE | Flags::FAST,
            keys: Keys {
                first: 1,
                last: 1,
                step: 1,
            },
            docs: Docs {
                summary: "",
                since: "1.0.0",
                group: Group::String,
                complexity: "O(1)",
            },
            run: Run::Data(()),
        }
    }

    #[test]
    fn arity_is_exact_when_positive_and_a_minimum_when_negative() {
        assert!(cmd(2).arity_ok(2));
        assert!(!cmd(2).arity_ok(1) && !cmd(2).arity_ok(3));
        assert!(cmd(-3).arity_ok(3) && cmd(-3).arity_ok(9));
        assert!(!cmd(-3).arity_ok(2));
    }

    #[test]
    fn flags_and_categories_read_as_redis_prints_them() {
        let c = cmd(2);
        assert_eq!(c.flags.names().collect::<Vec<_>>(), ["write", "fast"]);
        assert_eq!(c.categories(), ["@string", "@write", "@fast"]);
        assert!(c.is_write());
    }
}
