//! The engine against a small reference model of Redis 7.0 string semantics, over random
//! command sequences, with the AOF on.
//!
//! The reference (`Reference` below) is written from Redis's documented behaviour, not from
//! durakv's command code: per database a map from key to value and absolute expiry, time as
//! an input, a key expired once `now > expiry`. Commands: SET (EX / PX / NX / XX / GET, in any
//! order, including the invalid combinations and expiries), GET, DEL, INCR / DECR / INCRBY
//! (overflow, non-integers), APPEND, EXPIRE / PEXPIRE (NX / XX / GT / LT, past and overflowing
//! times), TTL, PTTL, PERSIST, EXISTS, SELECT (also out of range), FLUSHDB, MSET, GETDEL, and
//! MULTI ... EXEC / DISCARD blocks of them, from two clients with their own selected database.
//! Time advances randomly between commands, past expiries, with the engine's timer (active
//! expiry, everysec fsync) fired each time.
//!
//! The engine runs with `appendonly yes` (policy `always`, `everysec` or `no`, RDB preamble on
//! or off) over `SimDisk`; after every input every effect is completed, so each reply is
//! released, and EVERY reply is compared with the reference's. At random points, and at the
//! end, a fresh engine is started on the same disk (after a clean shutdown or an abrupt stop,
//! with every effect completed: a process restart, not a power loss) and the recovered data
//! set is compared with the reference through the engine itself: per database `KEYS *` (which
//! never lists an expired key), then `GET` and `PTTL` of every key of the alphabet. Raw maps
//! are not compared: a key whose expiry has passed may or may not still be stored.
//!
//! Default: 1000 cases of up to 120 steps (about 0.5 s in `--release` on 2 cores; 50 000
//! cases take about 70 s). Seed and count come from `DURAKV_QC_SEED` (random when unset,
//! printed; a failure repeats it with the shrunk case and its trace) and `DURAKV_QC_TESTS`.
//! A long soak:
//!
//! ```text
//! DURAKV_QC_TESTS=100000 DURAKV_QC_SEED=12345 cargo test --release -p durakv-proofs --test qc_engine
//! ```

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use bytes::Bytes;
use model::config::{Config, FsyncPolicy};
use model::engine::{ClientId, Engine, Phase};
use model::io::{Effect, IoDone};
use model::resp::Frame;
use model::sim::SimDisk;
use quickcheck::{Arbitrary, Gen, TestResult};

#[path = "../../model/tests/support/qc_check.rs"]
mod qc_check;
use qc_check::{below, check};

// ---------------------------------------------------------------------------------------------
// Running: seed and case count from our environment variables.

fn index(g: &mut Gen, len: usize) -> u8 {
    below(g, len) as u8
}

// ---------------------------------------------------------------------------------------------
// The alphabet: small pools, so keys collide, counters overflow and expiries pass.

const KEYS: &[&[u8]] = &[b"a", b"b", b"c", b"", b"\x00k\xff"];
const VALUES: &[&[u8]] = &[
    b"",
    b"0",
    b"1",
    b"-1",
    b"41",
    b"007",
    b"abc",
    b"9223372036854775807",
    b"-9223372036854775808",
    b"9223372036854775806",
    b"x\r\ny\0",
    b"a value longer than twenty bytes, repeated, repeated, repeated",
];
/// Expiry amounts (seconds or milliseconds): invalid, past, near, far, overflowing.
const AMOUNTS: &[i64] = &[
    -1,
    0,
    1,
    2,
    5,
    100,
    1000,
    1500,
    3000,
    i64::MAX / 1000 + 1,
    i64::MAX,
];
const INCREMENTS: &[i64] = &[1, -1, 7, 1000, i64::MAX, i64::MIN, -i64::MAX];
/// Databases SELECT names; 16 is out of range (16 databases).
const DBS: &[usize] = &[0, 1, 2, 15, 16];
/// Databases the verification reads.
const DBS_CHECKED: &[usize] = &[0, 1, 2, 15];
const TICKS_MS: &[u64] = &[
    0, 1, 2, 10, 100, 499, 500, 999, 1000, 1001, 1500, 2000, 3001, 60_000,
];
const CLIENTS: u8 = 2;
/// The client the verification uses (never one of the generated clients).
const VERIFIER: ClientId = 1000;
const START_MS: u64 = 1_700_000_000_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SetCond {
    None,
    Nx,
    Xx,
    /// NX and XX together: a syntax error.
    Both,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ExpireCond {
    None,
    Nx,
    Xx,
    Gt,
    Lt,
}

/// One command. Fields are indexes into the pools above.
#[derive(Clone, Debug)]
enum Cmd {
    Set {
        key: u8,
        value: u8,
        /// (milliseconds?, amount): `PX`/`EX`.
        ttl: Option<(bool, u8)>,
        cond: SetCond,
        get: bool,
        /// Which of the 6 orders the option groups are written in.
        order: u8,
    },
    Get(u8),
    Del(Vec<u8>),
    Incr(u8),
    Decr(u8),
    IncrBy(u8, u8),
    Append(u8, u8),
    Expire {
        key: u8,
        ms: bool,
        amount: u8,
        cond: ExpireCond,
    },
    Ttl(u8),
    Pttl(u8),
    Persist(u8),
    Exists(Vec<u8>),
    Select(u8),
    FlushDb,
    MSet(Vec<(u8, u8)>),
    GetDel(u8),
}

#[derive(Clone, Debug)]
enum Op {
    Cmd(u8, Cmd),
    /// MULTI, the commands (each answered QUEUED), then EXEC (or DISCARD).
    Multi(u8, Vec<Cmd>, bool),
    Tick(u8),
    Rotate,
    /// Restart on the same disk: after SHUTDOWN, or abruptly (every effect completed).
    Restart(bool),
}

#[derive(Clone, Debug)]
struct Case {
    policy: FsyncPolicy,
    preamble: bool,
    ops: Vec<Op>,
}

fn keys(g: &mut Gen) -> Vec<u8> {
    (0..1 + below(g, 3)).map(|_| index(g, KEYS.len())).collect()
}

impl Arbitrary for Cmd {
    fn arbitrary(g: &mut Gen) -> Self {
        let key = index(g, KEYS.len());
        let value = index(g, VALUES.len());
        match below(g, 100) {
            0..=24 => Cmd::Set {
                key,
                value,
                ttl: (below(g, 2) == 0).then(|| (bool::arbitrary(g), index(g, AMOUNTS.len()))),
                cond: *g
                    .choose(&[
                        SetCond::None,
                        SetCond::None,
                        SetCond::Nx,
                        SetCond::Xx,
                        SetCond::Both,
                    ])
                    .unwrap(),
                get: below(g, 3) == 0,
                order: index(g, 6),
            },
            25..=34 => Cmd::Get(key),
            35..=39 => Cmd::Del(keys(g)),
            40..=44 => Cmd::Incr(key),
            45..=47 => Cmd::Decr(key),
            48..=52 => Cmd::IncrBy(key, index(g, INCREMENTS.len())),
            53..=57 => Cmd::Append(key, value),
            58..=69 => Cmd::Expire {
                key,
                ms: bool::arbitrary(g),
                amount: index(g, AMOUNTS.len()),
                cond: *g
                    .choose(&[
                        ExpireCond::None,
                        ExpireCond::None,
                        ExpireCond::None,
                        ExpireCond::Nx,
                        ExpireCond::Xx,
                        ExpireCond::Gt,
                        ExpireCond::Lt,
                    ])
                    .unwrap(),
            },
            70..=73 => Cmd::Ttl(key),
            74..=77 => Cmd::Pttl(key),
            78..=80 => Cmd::Persist(key),
            81..=84 => Cmd::Exists(keys(g)),
            85..=89 => Cmd::Select(index(g, DBS.len())),
            90 => Cmd::FlushDb,
            91..=95 => Cmd::MSet(
                (0..1 + below(g, 2))
                    .map(|_| (index(g, KEYS.len()), index(g, VALUES.len())))
                    .collect(),
            ),
            _ => Cmd::GetDel(key),
        }
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        // A SET shrinks to a plain SET of the same key and value.
        match self {
            Cmd::Set {
                key,
                value,
                ttl,
                cond,
                get,
                ..
            } if ttl.is_some() || *cond != SetCond::None || *get => {
                Box::new(std::iter::once(Cmd::Set {
                    key: *key,
                    value: *value,
                    ttl: None,
                    cond: SetCond::None,
                    get: false,
                    order: 0,
                }))
            }
            _ => quickcheck::empty_shrinker(),
        }
    }
}

impl Arbitrary for Op {
    fn arbitrary(g: &mut Gen) -> Self {
        let client = index(g, CLIENTS as usize);
        match below(g, 100) {
            0..=69 => Op::Cmd(client, Cmd::arbitrary(g)),
            70..=77 => {
                let cmds = (0..below(g, 5)).map(|_| Cmd::arbitrary(g)).collect();
                Op::Multi(client, cmds, below(g, 6) == 0)
            }
            78..=92 => Op::Tick(index(g, TICKS_MS.len())),
            93..=95 => Op::Rotate,
            _ => Op::Restart(bool::arbitrary(g)),
        }
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        match self {
            Op::Cmd(client, cmd) => {
                let client = *client;
                Box::new(cmd.shrink().map(move |cmd| Op::Cmd(client, cmd)))
            }
            Op::Multi(client, cmds, discard) => {
                let (client, discard) = (*client, *discard);
                Box::new(
                    cmds.shrink()
                        .map(move |cmds| Op::Multi(client, cmds, discard)),
                )
            }
            Op::Tick(i) => Box::new((0..*i).map(Op::Tick)),
            Op::Rotate | Op::Restart(_) => quickcheck::empty_shrinker(),
        }
    }
}

impl Arbitrary for Case {
    fn arbitrary(g: &mut Gen) -> Self {
        Case {
            policy: *g
                .choose(&[FsyncPolicy::Always, FsyncPolicy::Everysec, FsyncPolicy::No])
                .unwrap(),
            preamble: bool::arbitrary(g),
            ops: Vec::arbitrary(g),
        }
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        let (policy, preamble) = (self.policy, self.preamble);
        Box::new(self.ops.shrink().map(move |ops| Case {
            policy,
            preamble,
            ops,
        }))
    }
}

// ---------------------------------------------------------------------------------------------
// Commands as argv.

fn b(bytes: &[u8]) -> Bytes {
    Bytes::copy_from_slice(bytes)
}

fn word(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

fn key(i: u8) -> Bytes {
    b(KEYS[i as usize])
}

fn value(i: u8) -> Bytes {
    b(VALUES[i as usize])
}

fn set_argv(
    key_i: u8,
    value_i: u8,
    ttl: Option<(bool, u8)>,
    cond: SetCond,
    get: bool,
    order: u8,
) -> Vec<Bytes> {
    let cond_words: &[&str] = match cond {
        SetCond::None => &[],
        SetCond::Nx => &["NX"],
        SetCond::Xx => &["XX"],
        SetCond::Both => &["NX", "XX"],
    };
    let mut groups: Vec<Vec<Bytes>> = vec![
        cond_words.iter().map(|w| word(w)).collect(),
        ttl.map_or(Vec::new(), |(ms, amount)| {
            let unit = if ms { "PX" } else { "EX" };
            vec![word(unit), word(&AMOUNTS[amount as usize].to_string())]
        }),
        if get { vec![word("GET")] } else { Vec::new() },
    ];
    // The 6 orders of 3 groups.
    let order = [
        [0, 1, 2],
        [0, 2, 1],
        [1, 0, 2],
        [1, 2, 0],
        [2, 0, 1],
        [2, 1, 0],
    ][order as usize % 6];
    let mut argv = vec![word("SET"), key(key_i), value(value_i)];
    for i in order {
        argv.append(&mut groups[i]);
    }
    argv
}

impl Cmd {
    fn argv(&self) -> Vec<Bytes> {
        match self {
            Cmd::Set {
                key: k,
                value: v,
                ttl,
                cond,
                get,
                order,
            } => set_argv(*k, *v, *ttl, *cond, *get, *order),
            Cmd::Get(k) => vec![word("GET"), key(*k)],
            Cmd::Del(ks) => std::iter::once(word("DEL"))
                .chain(ks.iter().map(|k| key(*k)))
                .collect(),
            Cmd::Incr(k) => vec![word("INCR"), key(*k)],
            Cmd::Decr(k) => vec![word("DECR"), key(*k)],
            Cmd::IncrBy(k, by) => vec![
                word("INCRBY"),
                key(*k),
                word(&INCREMENTS[*by as usize].to_string()),
            ],
            Cmd::Append(k, v) => vec![word("APPEND"), key(*k), value(*v)],
            Cmd::Expire {
                key: k,
                ms,
                amount,
                cond,
            } => {
                let name = if *ms { "PEXPIRE" } else { "EXPIRE" };
                let mut argv = vec![
                    word(name),
                    key(*k),
                    word(&AMOUNTS[*amount as usize].to_string()),
                ];
                let option = match cond {
                    ExpireCond::None => None,
                    ExpireCond::Nx => Some("NX"),
                    ExpireCond::Xx => Some("XX"),
                    ExpireCond::Gt => Some("GT"),
                    ExpireCond::Lt => Some("LT"),
                };
                argv.extend(option.map(word));
                argv
            }
            Cmd::Ttl(k) => vec![word("TTL"), key(*k)],
            Cmd::Pttl(k) => vec![word("PTTL"), key(*k)],
            Cmd::Persist(k) => vec![word("PERSIST"), key(*k)],
            Cmd::Exists(ks) => std::iter::once(word("EXISTS"))
                .chain(ks.iter().map(|k| key(*k)))
                .collect(),
            Cmd::Select(db) => vec![word("SELECT"), word(&DBS[*db as usize].to_string())],
            Cmd::FlushDb => vec![word("FLUSHDB")],
            Cmd::MSet(pairs) => std::iter::once(word("MSET"))
                .chain(pairs.iter().flat_map(|(k, v)| [key(*k), value(*v)]))
                .collect(),
            Cmd::GetDel(k) => vec![word("GETDEL"), key(*k)],
        }
    }
}

fn show(argv: &[Bytes]) -> String {
    argv.iter()
        .map(|a| format!("{}", a.escape_ascii()))
        .collect::<Vec<_>>()
        .join(" ")
}

// ---------------------------------------------------------------------------------------------
// The reference: Redis's string semantics, written from the documentation.

type Map = BTreeMap<Vec<u8>, (Vec<u8>, Option<u64>)>;

#[derive(Clone, Debug)]
struct Reference {
    dbs: Vec<Map>,
    /// Each client's selected database (a new connection starts in 0).
    selected: BTreeMap<ClientId, usize>,
}

fn ok() -> Frame {
    Frame::Simple("OK".to_string())
}

fn error(text: &str) -> Frame {
    Frame::Error(text.to_string())
}

fn bulk_or_nil(v: Option<&(Vec<u8>, Option<u64>)>) -> Frame {
    v.map_or(Frame::Null, |(v, _)| Frame::Bulk(b(v)))
}

const NOT_INTEGER: &str = "ERR value is not an integer or out of range";

/// Redis's `string2ll`: the canonical decimal form of an i64, nothing else.
fn canonical_i64(s: &[u8]) -> Option<i64> {
    let n: i64 = std::str::from_utf8(s).ok()?.parse().ok()?;
    (n.to_string().as_bytes() == s).then_some(n)
}

impl Reference {
    fn new() -> Self {
        Reference {
            dbs: vec![Map::new(); 16],
            selected: BTreeMap::new(),
        }
    }

    /// Drops every key expired at `now_ms` (`now > expiry`): Redis never shows one, so dropping
    /// them eagerly is observationally the same as its lazy and active expiry.
    fn expire(&mut self, now_ms: u64) {
        for db in &mut self.dbs {
            db.retain(|_, (_, at)| at.is_none_or(|at| at >= now_ms));
        }
    }

    fn db(&mut self, client: ClientId) -> &mut Map {
        let index = self.selected.get(&client).copied().unwrap_or(0);
        &mut self.dbs[index]
    }

    fn apply(&mut self, now_ms: u64, client: ClientId, cmd: &Cmd) -> Frame {
        self.expire(now_ms);
        let now = now_ms as i64;
        match cmd {
            Cmd::Set {
                key: k,
                value: v,
                ttl,
                cond,
                get,
                ..
            } => {
                if *cond == SetCond::Both {
                    return error("ERR syntax error");
                }
                let when = match ttl {
                    None => None,
                    Some((ms, amount)) => {
                        let n = AMOUNTS[*amount as usize];
                        let ms_rel = if *ms { Some(n) } else { n.checked_mul(1000) };
                        let ok = n > 0 && (*ms || n <= i64::MAX / 1000);
                        match ms_rel.and_then(|d| d.checked_add(now)).filter(|_| ok) {
                            Some(at) => Some(at as u64),
                            None => return error("ERR invalid expire time in 'set' command"),
                        }
                    }
                };
                let db = self.db(client);
                let key = KEYS[*k as usize].to_vec();
                let old = bulk_or_nil(db.get(&key));
                let exists = db.contains_key(&key);
                let blocked = (*cond == SetCond::Nx && exists) || (*cond == SetCond::Xx && !exists);
                if !blocked {
                    db.insert(key, (VALUES[*v as usize].to_vec(), when));
                }
                match (get, blocked) {
                    (true, _) => old,
                    (false, true) => Frame::Null,
                    (false, false) => ok(),
                }
            }
            Cmd::Get(k) => bulk_or_nil(self.db(client).get(KEYS[*k as usize])),
            Cmd::Del(ks) => {
                let db = self.db(client);
                let removed = ks
                    .iter()
                    .filter(|k| db.remove(KEYS[**k as usize]).is_some())
                    .count();
                Frame::Integer(removed as i64)
            }
            Cmd::Incr(k) => self.incr_by(client, *k, 1),
            Cmd::Decr(k) => self.incr_by(client, *k, -1),
            Cmd::IncrBy(k, by) => self.incr_by(client, *k, INCREMENTS[*by as usize]),
            Cmd::Append(k, v) => {
                let entry = self
                    .db(client)
                    .entry(KEYS[*k as usize].to_vec())
                    .or_default();
                entry.0.extend_from_slice(VALUES[*v as usize]);
                Frame::Integer(entry.0.len() as i64)
            }
            Cmd::Expire {
                key: k,
                ms,
                amount,
                cond,
            } => self.expire_cmd(now, client, *k, *ms, *amount, *cond),
            Cmd::Ttl(k) | Cmd::Pttl(k) => match self.db(client).get(KEYS[*k as usize]) {
                None => Frame::Integer(-2),
                Some((_, None)) => Frame::Integer(-1),
                Some((_, Some(at))) => {
                    let left = (*at - now_ms) as i64;
                    Frame::Integer(if matches!(cmd, Cmd::Pttl(_)) {
                        left
                    } else {
                        (left + 500) / 1000
                    })
                }
            },
            Cmd::Persist(k) => match self.db(client).get_mut(KEYS[*k as usize]) {
                Some((_, at @ Some(_))) => {
                    *at = None;
                    Frame::Integer(1)
                }
                _ => Frame::Integer(0),
            },
            Cmd::Exists(ks) => {
                let db = self.db(client);
                Frame::Integer(
                    ks.iter()
                        .filter(|k| db.contains_key(KEYS[**k as usize]))
                        .count() as i64,
                )
            }
            Cmd::Select(i) => match DBS[*i as usize] {
                db if db < 16 => {
                    self.selected.insert(client, db);
                    ok()
                }
                _ => error("ERR DB index is out of range"),
            },
            Cmd::FlushDb => {
                self.db(client).clear();
                ok()
            }
            Cmd::MSet(pairs) => {
                let db = self.db(client);
                for (k, v) in pairs {
                    db.insert(
                        KEYS[*k as usize].to_vec(),
                        (VALUES[*v as usize].to_vec(), None),
                    );
                }
                ok()
            }
            Cmd::GetDel(k) => bulk_or_nil(self.db(client).remove(KEYS[*k as usize]).as_ref()),
        }
    }

    fn incr_by(&mut self, client: ClientId, k: u8, by: i64) -> Frame {
        let db = self.db(client);
        let key = KEYS[k as usize];
        let (current, ttl) = match db.get(key) {
            None => (0, None),
            Some((v, ttl)) => match canonical_i64(v) {
                Some(n) => (n, *ttl),
                None => return error(NOT_INTEGER),
            },
        };
        let Some(next) = current.checked_add(by) else {
            return error("ERR increment or decrement would overflow");
        };
        db.insert(key.to_vec(), (next.to_string().into_bytes(), ttl));
        Frame::Integer(next)
    }

    fn expire_cmd(
        &mut self,
        now: i64,
        client: ClientId,
        k: u8,
        ms: bool,
        amount: u8,
        cond: ExpireCond,
    ) -> Frame {
        let name = if ms { "pexpire" } else { "expire" };
        let n = AMOUNTS[amount as usize];
        let relative = if ms { Some(n) } else { n.checked_mul(1000) };
        let Some(when) = relative.and_then(|d| d.checked_add(now)) else {
            return error(&format!("ERR invalid expire time in '{name}' command"));
        };
        let db = self.db(client);
        let key = KEYS[k as usize];
        let Some((_, current)) = db.get(key) else {
            return Frame::Integer(0);
        };
        let current = current.map(|at| at as i64);
        // GT: a key without a TTL counts as an infinite TTL; LT: any time is less than that.
        let refused = match cond {
            ExpireCond::None => false,
            ExpireCond::Nx => current.is_some(),
            ExpireCond::Xx => current.is_none(),
            ExpireCond::Gt => current.is_none_or(|c| when <= c),
            ExpireCond::Lt => current.is_some_and(|c| when >= c),
        };
        if refused {
            return Frame::Integer(0);
        }
        if when <= now {
            db.remove(key);
        } else if let Some((_, at)) = db.get_mut(key) {
            *at = Some(when as u64);
        }
        Frame::Integer(1)
    }

    /// Live keys of a database, sorted.
    fn live_keys(&mut self, now_ms: u64, db: usize) -> BTreeSet<Vec<u8>> {
        self.expire(now_ms);
        self.dbs[db].keys().cloned().collect()
    }
}

// ---------------------------------------------------------------------------------------------
// The engine over SimDisk, every effect completed after every input.

struct Driver {
    config: Config,
    engine: Engine,
    disk: SimDisk,
    now_ms: u64,
    replies: VecDeque<(ClientId, Frame)>,
}

impl Driver {
    fn boot(config: Config, disk: SimDisk, now_ms: u64) -> Result<Driver, String> {
        let engine = Engine::new(config.clone(), now_ms);
        let mut driver = Driver {
            config,
            engine,
            disk,
            now_ms,
            replies: VecDeque::new(),
        };
        driver.settle();
        match driver.engine.phase() {
            Phase::Running => Ok(driver),
            other => Err(format!("start-up ended in {other:?}")),
        }
    }

    /// Completes every effect, in the order emitted (each lane's order kept), until none is
    /// left; collects the replies released.
    fn settle(&mut self) {
        let mut pending: VecDeque<Effect> = VecDeque::new();
        loop {
            while let Some(effect) = self.engine.poll_effect() {
                pending.push_back(effect);
            }
            let Some(effect) = pending.pop_front() else {
                break;
            };
            let result = self.disk.execute(&effect.op);
            let done = IoDone {
                id: effect.id,
                result,
            };
            self.engine.handle_io(self.now_ms, done);
        }
        while let Some(reply) = self.engine.poll_reply() {
            let (client, reply) = reply;
            let frame = reply
                .frame()
                .cloned()
                .expect("no CLIENT REPLY OFF or KILL here");
            self.replies.push_back((client, frame));
        }
        while self.engine.poll_event().is_some() {}
    }

    /// Sends one command and returns its reply (the only one released).
    fn call(&mut self, client: ClientId, argv: Vec<Bytes>) -> Result<Frame, String> {
        let shown = show(&argv);
        self.engine.handle_command(self.now_ms, client, argv);
        self.settle();
        match (self.replies.pop_front(), self.replies.pop_front()) {
            (Some((c, frame)), None) if c == client => Ok(frame),
            other => Err(format!("`{shown}` from client {client}: replies {other:?}")),
        }
    }

    fn tick(&mut self, ms: u64) {
        self.now_ms += ms;
        self.engine.handle_timeout(self.now_ms);
        self.settle();
    }

    /// A fresh engine on the same disk, after SHUTDOWN (`graceful`) or not.
    fn restart(self, graceful: bool) -> Result<Driver, String> {
        let mut old = self;
        if graceful {
            old.engine.handle_shutdown(old.now_ms);
            old.settle();
            if *old.engine.phase() != Phase::Stopped {
                return Err(format!("shutdown ended in {:?}", old.engine.phase()));
            }
        }
        Driver::boot(old.config, old.disk, old.now_ms)
    }
}

// ---------------------------------------------------------------------------------------------
// The property.

/// What happened so far, printed with a failure.
struct Trace(Vec<String>);

impl Trace {
    fn fail(&self, message: String) -> TestResult {
        let start = self.0.len().saturating_sub(60);
        TestResult::error(format!(
            "{message}\nlast steps (of {}):\n  {}",
            self.0.len(),
            self.0[start..].join("\n  ")
        ))
    }
}

fn expect(trace: &mut Trace, step: String, got: Frame, want: Frame) -> Result<(), String> {
    trace.0.push(format!("{step} -> {got:?}"));
    if got == want {
        Ok(())
    } else {
        Err(format!(
            "`{step}`: engine replied {got:?}, the reference {want:?}"
        ))
    }
}

/// The recovered (or current) data set equals the reference's, read through the engine.
fn verify(driver: &mut Driver, reference: &mut Reference, trace: &mut Trace) -> Result<(), String> {
    let now = driver.now_ms;
    for &db in DBS_CHECKED {
        let select = vec![word("SELECT"), word(&db.to_string())];
        expect(
            trace,
            format!("verify: SELECT {db}"),
            driver.call(VERIFIER, select)?,
            ok(),
        )?;
        let listed = driver.call(VERIFIER, vec![word("KEYS"), word("*")])?;
        let Frame::Array(items) = &listed else {
            return Err(format!("KEYS * in db {db}: {listed:?}"));
        };
        let listed: BTreeSet<Vec<u8>> = items
            .iter()
            .map(|f| match f {
                Frame::Bulk(k) => k.to_vec(),
                other => other_key(other),
            })
            .collect();
        let live = reference.live_keys(now, db);
        if listed != live {
            return Err(format!(
                "db {db}: engine has keys {listed:?}, the reference {live:?}"
            ));
        }
        for (i, k) in KEYS.iter().enumerate() {
            let entry = reference.dbs[db].get(*k).cloned();
            let get = driver.call(VERIFIER, vec![word("GET"), b(k)])?;
            let step = format!("verify: db {db} GET {}", k.escape_ascii());
            expect(trace, step, get, bulk_or_nil(entry.as_ref()))?;
            let pttl = driver.call(VERIFIER, vec![word("PTTL"), b(k)])?;
            let want = match entry {
                None => Frame::Integer(-2),
                Some((_, None)) => Frame::Integer(-1),
                Some((_, Some(at))) => Frame::Integer((at - now) as i64),
            };
            let step = format!("verify: db {db} PTTL {}", KEYS[i].escape_ascii());
            expect(trace, step, pttl, want)?;
        }
    }
    Ok(())
}

fn other_key(frame: &Frame) -> Vec<u8> {
    format!("<not a bulk: {frame:?}>").into_bytes()
}

fn run_cmd(
    driver: &mut Driver,
    reference: &mut Reference,
    trace: &mut Trace,
    client: ClientId,
    cmd: &Cmd,
) -> Result<(), String> {
    let argv = cmd.argv();
    let step = format!("c{client}: {}", show(&argv));
    let got = driver.call(client, argv)?;
    let want = reference.apply(driver.now_ms, client, cmd);
    expect(trace, step, got, want)
}

fn run_multi(
    driver: &mut Driver,
    reference: &mut Reference,
    trace: &mut Trace,
    client: ClientId,
    cmds: &[Cmd],
    discard: bool,
) -> Result<(), String> {
    let got = driver.call(client, vec![word("MULTI")])?;
    expect(trace, format!("c{client}: MULTI"), got, ok())?;
    for cmd in cmds {
        let argv = cmd.argv();
        let step = format!("c{client}:   {}", show(&argv));
        let got = driver.call(client, argv)?;
        expect(trace, step, got, Frame::Simple("QUEUED".to_string()))?;
    }
    if discard {
        let got = driver.call(client, vec![word("DISCARD")])?;
        return expect(trace, format!("c{client}: DISCARD"), got, ok());
    }
    let got = driver.call(client, vec![word("EXEC")])?;
    let now = driver.now_ms;
    let want = Frame::Array(
        cmds.iter()
            .map(|c| reference.apply(now, client, c))
            .collect(),
    );
    expect(trace, format!("c{client}: EXEC"), got, want)
}

fn run_case(case: &Case, trace: &mut Trace) -> Result<(), String> {
    let config = Config {
        appendfsync: case.policy,
        aof_use_rdb_preamble: case.preamble,
        ..Config::default()
    };
    trace.0.push(format!(
        "start: appendfsync {:?}, rdb preamble {}",
        case.policy, case.preamble
    ));
    let mut driver = Driver::boot(config, SimDisk::new(), START_MS)?;
    let mut reference = Reference::new();
    for op in &case.ops {
        match op {
            Op::Cmd(c, cmd) => {
                run_cmd(&mut driver, &mut reference, trace, ClientId::from(*c), cmd)?
            }
            Op::Multi(c, cmds, discard) => run_multi(
                &mut driver,
                &mut reference,
                trace,
                ClientId::from(*c),
                cmds,
                *discard,
            )?,
            Op::Tick(i) => {
                let ms = TICKS_MS[*i as usize];
                trace.0.push(format!("tick +{ms} ms"));
                driver.tick(ms);
            }
            Op::Rotate => {
                trace.0.push("rotate to a new incr file".to_string());
                driver.engine.handle_rotate(driver.now_ms);
                driver.settle();
            }
            Op::Restart(graceful) => {
                trace
                    .0
                    .push(format!("restart (shutdown first: {graceful})"));
                driver = driver.restart(*graceful)?;
                reference.selected.clear();
                verify(&mut driver, &mut reference, trace)?;
            }
        }
    }
    trace.0.push("final restart".to_string());
    driver = driver.restart(false)?;
    reference.selected.clear();
    verify(&mut driver, &mut reference, trace)
}

/// Goal: every reply of the engine equals the reference's, and a restart on the same disk
/// recovers the reference's data set (values and remaining TTLs).
fn prop_engine_matches_reference(case: Case) -> TestResult {
    let mut trace = Trace(Vec::new());
    match run_case(&case, &mut trace) {
        Ok(()) => TestResult::passed(),
        Err(message) => trace.fail(message),
    }
}

#[test]
fn qc_engine_matches_reference_and_recovers_it() {
    check(
        "qc_engine",
        1000,
        120,
        prop_engine_matches_reference as fn(Case) -> TestResult,
    );
}
