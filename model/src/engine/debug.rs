//! DEBUG's gate (`enable-debug-command`) and the subcommands Redis's own tests use about the
//! server rather than one value: SET-ACTIVE-EXPIRE, SLEEP, DIGEST, DIGEST-VALUE, LOADAOF,
//! CHANGE-REPL-ID, STRINGMATCH-LEN (`debug_types.rs` has OBJECT, RELOAD and
//! QUICKLIST-PACKED-THRESHOLD; `admin.rs` POPULATE and PROTOCOL).
//!
//! Owns [`DebugState`]. Invariants: DEBUG runs only for `enable-debug-command yes`, or `local`
//! and a loopback client, as Redis 7.0; DIGEST is Redis 7.0's algorithm (`computeDatasetDigest`:
//! order-independent over keys and set/hash members, order-dependent over list elements), so
//! equal data sets give equal digests; SLEEP holds every client, its own included, for the
//! time asked, and answers when it ends.

use bytes::Bytes;

use crate::command::{self, Ctx, Session, Shared};
use crate::config::DebugAccess;
use crate::keyspace::{Entry, Keyspace, Value};
use crate::resp::Frame;
use crate::types::float::format_g17;
use crate::types::StreamId;

use super::clients::{ClientId, Held, Pause};
use super::Engine;

/// What DEBUG switched.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct DebugState {
    /// DEBUG SET-ACTIVE-EXPIRE 0: the cron deletes no expired key (lazy expiry still does).
    pub(crate) active_expire_off: bool,
}

const NOT_ALLOWED: &str = "ERR DEBUG command not allowed. If the enable-debug-command option is \
                           set to \"local\", you can run it from a local connection, otherwise \
                           you need to set this option in the configuration file, and then \
                           restart the server.";

impl Engine {
    /// Redis's `allowProtectedAction` for DEBUG.
    pub(super) fn debug_refusal(&self, client: ClientId) -> Option<Frame> {
        let allowed = match self.config.enable_debug_command {
            DebugAccess::Yes => true,
            DebugAccess::No => false,
            DebugAccess::Local => {
                let conn = self.clients.info.get(&client).and_then(|i| i.conn.as_ref());
                // A client the runtime did not announce (tests, replay) is in-process: local.
                conn.is_none_or(|c| {
                    c.addr.addr.starts_with("127.") || c.addr.addr.starts_with("[::1]")
                })
            }
        };
        (!allowed).then(|| Frame::error(NOT_ALLOWED))
    }

    /// DEBUG SLEEP seconds (a float): holds every request, this client's answer included,
    /// until the time passed. `false` if `argv` is not a valid DEBUG SLEEP of a positive time.
    pub(super) fn debug_sleep(&mut self, now_ms: u64, client: ClientId, argv: &[Bytes]) -> bool {
        let is_sleep = argv.len() == 3 && argv[1].eq_ignore_ascii_case(b"SLEEP");
        if !is_sleep || self.debug_refusal(client).is_some() {
            return false;
        }
        let Some(seconds) = is_sleep
            .then(|| std::str::from_utf8(&argv[2]).ok()?.parse::<f64>().ok())
            .flatten()
            .filter(|s| s.is_finite() && *s > 0.0)
        else {
            return false;
        };
        let until_ms = now_ms.saturating_add((seconds * 1000.0) as u64);
        let until_ms = self
            .clients
            .pause
            .map_or(until_ms, |p| p.until_ms.max(until_ms));
        self.clients.pause = Some(Pause {
            until_ms,
            all: true,
        });
        // Its own answer is a DEBUG SLEEP 0 run when the pause ends, ahead of what it holds.
        let done = vec![argv[0].clone(), argv[1].clone(), Bytes::from_static(b"0")];
        let id = command::resolve(&argv[0]);
        (self.clients.held).push_front(Held {
            client,
            id,
            argv: done,
        });
        true
    }

    /// The DEBUG subcommands of this file; `None` for any other.
    pub(super) fn debug_server(&mut self, client: ClientId, argv: &[Bytes]) -> Option<Frame> {
        let sub = argv[1].to_ascii_uppercase();
        let frame = match (sub.as_slice(), argv.len()) {
            (b"SET-ACTIVE-EXPIRE", 3) => match &argv[2][..] {
                b"0" | b"1" => {
                    self.debug.active_expire_off = &argv[2][..] == b"0";
                    Frame::ok()
                }
                _ => Frame::error("ERR value is out of range"),
            },
            (b"SET-DISABLE-DENY-SCRIPTS", 3) => match &argv[2][..] {
                b"0" | b"1" => {
                    self.shared.deny_scripts_disabled = &argv[2][..] == b"1";
                    Frame::ok()
                }
                _ => Frame::error("ERR value is out of range"),
            },
            (b"DIGEST", 2) => Frame::Simple(hex(&dataset_digest(&self.keyspace))),
            (b"DIGEST-VALUE", _) => {
                let db = self.clients.session(client).map_or(0, |s| s.db);
                let digests = argv[2..].iter().map(|key| {
                    let mut digest = [0u8; 20];
                    if let Some(entry) = self.keyspace.dbs[db].get(key) {
                        xor_object_digest(&mut digest, &entry);
                    }
                    Frame::Simple(hex(&digest))
                });
                Frame::Array(digests.collect())
            }
            (b"LOADAOF", 2) => self.debug_loadaof(),
            // Replication ids are the replication layer's; nothing here to change.
            (b"CHANGE-REPL-ID", 2) => Frame::ok(),
            (b"STRINGMATCH-LEN", 2) => {
                stringmatch_fuzz();
                Frame::Simple("Apparently Redis did not crash: test passed".to_string())
            }
            _ => return None,
        };
        Some(frame)
    }

    /// DEBUG LOADAOF: the data set emptied and rebuilt by replaying its AOF form (the commands
    /// a rewrite writes) through the loader's path. The files on disk are not re-read: the
    /// engine's data set is always what replaying them gives.
    fn debug_loadaof(&mut self) -> Frame {
        let mut bytes = Vec::new();
        if let Err(e) = crate::aof::base::encode_resp(&self.keyspace, &mut bytes) {
            return Frame::error(format!("ERR DEBUG LOADAOF failed: {e}"));
        }
        let mut rebuilt = Keyspace::with_limits(self.keyspace.dbs.len(), self.keyspace.limits);
        let mut shared = Shared::default();
        let mut session = Session::default();
        let mut at = 0;
        while let crate::aof::record::Decoded::Command { argv, len } =
            crate::aof::record::decode(&bytes[at..])
        {
            let ctx = Ctx {
                now_ms: 0,
                loading: true,
                random: 0,
                write_denial: None,
            };
            let _ = command::execute(&mut rebuilt, &mut shared, &mut session, ctx, &argv);
            at += len;
        }
        assert_eq!(at, bytes.len(), "the rewrite's own form decodes whole");
        self.keyspace = rebuilt;
        Frame::ok()
    }
}

/// Redis's `stringmatchlen_fuzz_test`: glob matching over random patterns and strings of
/// the glob alphabet must end (no panic, no runaway backtracking) for every pair.
fn stringmatch_fuzz() {
    const ALPHABET: &[u8] = b"*?[]^-\\ab";
    let mut rng = 0x5eed_u64;
    let mut draw = |n: usize| -> Vec<u8> {
        (0..n)
            .map(|_| {
                rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1);
                ALPHABET[(rng >> 33) as usize % ALPHABET.len()]
            })
            .collect()
    };
    for _ in 0..1000 {
        let (pattern, text) = (draw(32), draw(32));
        let _ = command::string_match(&pattern, &text);
    }
}

fn hex(digest: &[u8; 20]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn sha1(bytes: &[u8]) -> [u8; 20] {
    sha1_smol::Sha1::from(bytes).digest().bytes()
}

/// Redis's `xorDigest`: the SHA-1 of `bytes` xored into `digest`.
fn xor_digest(digest: &mut [u8; 20], bytes: &[u8]) {
    for (d, h) in digest.iter_mut().zip(sha1(bytes)) {
        *d ^= h;
    }
}

/// Redis's `mixDigest`: xor in, then hash the result (order-dependent).
fn mix_digest(digest: &mut [u8; 20], bytes: &[u8]) {
    xor_digest(digest, bytes);
    *digest = sha1(digest);
}

/// Redis's `xorObjectDigest`: the value's digest, and the expiry marker if it has one.
fn xor_object_digest(digest: &mut [u8; 20], entry: &Entry) {
    // Redis's OBJ_STRING .. OBJ_HASH, mixed in first, big-endian.
    let type_code: u32 = match &entry.value {
        Value::Str(_) => 0,
        Value::List(_) => 1,
        Value::Set(_) => 2,
        Value::ZSet(_) => 3,
        Value::Hash(_) => 4,
        Value::Stream(_) => 6,
    };
    mix_digest(digest, &type_code.to_be_bytes());
    match &entry.value {
        Value::Str(s) => mix_digest(digest, s),
        Value::List(list) => list.items.iter().for_each(|e| mix_digest(digest, e)),
        Value::Set(set) => set.iter().for_each(|m| xor_digest(digest, &m)),
        Value::ZSet(zset) => {
            for (member, score) in zset.iter() {
                let mut element = [0u8; 20];
                mix_digest(&mut element, member);
                mix_digest(&mut element, format_g17(score.get()).as_bytes());
                xor_digest(digest, &element);
            }
        }
        Value::Hash(hash) => {
            for (field, value) in hash.iter() {
                let mut element = [0u8; 20];
                mix_digest(&mut element, field);
                mix_digest(&mut element, value);
                xor_digest(digest, &element);
            }
        }
        // As Redis: each entry's `ms.seq`, then its fields and values (groups are not mixed).
        Value::Stream(stream) => {
            for (id, fields) in stream.range(StreamId::MIN, StreamId::MAX, false) {
                mix_digest(digest, format!("{}.{}", id.ms, id.seq).as_bytes());
                fields.iter().for_each(|f| mix_digest(digest, f));
            }
        }
    }
    if entry.expire_at_ms.is_some() {
        xor_digest(digest, b"!!expire!!");
    }
}

/// Redis's `computeDatasetDigest`: all zeros for an empty data set.
pub(super) fn dataset_digest(keyspace: &Keyspace) -> [u8; 20] {
    let mut total = [0u8; 20];
    for (index, db) in keyspace.dbs.iter().enumerate() {
        if db.is_empty() {
            continue;
        }
        mix_digest(&mut total, &(index as u32).to_be_bytes());
        for stored in db.iter() {
            let mut digest = [0u8; 20];
            mix_digest(&mut digest, stored.key());
            xor_object_digest(&mut digest, &stored.entry());
            xor_digest(&mut total, &digest);
        }
    }
    total
}
