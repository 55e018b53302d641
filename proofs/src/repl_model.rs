//! The replication model: two real engines, each over its own SimDisk, one the master and one
//! its replica, joined by a FIFO link (`repl_link.rs`) that can break and reconnect; crashes
//! of either (restart through the engine's own start-up path); a client writing to the master
//! with a `WAIT 1` among its writes; a failover (REPLICAOF NO ONE on the replica once the
//! link is down, the old master told to follow it).
//!
//! Invariant kept: the model only moves bytes and time; every decision (handshake, PSYNC,
//! backlog, ids, ACKs, WAIT, promotion) is the engine's. Each master state is recorded as a
//! [`Point`] (id, offset, data set) after every step: that log is the reference the
//! properties (`repl_properties.rs`) hold the replica to.
//!
//! Environment assumptions (INVARIANTS.md): disks complete every effect at once, in order
//! (durability under crash is the AOF model's subject); each engine instance has its own
//! clock skew, so two instances never draw the same replication id (Redis reads
//! /dev/urandom; the engine seeds from its start time).

use bytes::Bytes;
use model::config::{Config, FsyncPolicy, Mutation};
use model::engine::{Engine, Phase};
use model::io::IoDone;
use model::sim::SimDisk;
use stateright::{Model, Property};

use crate::reference::{self, Data, Workload};
use crate::repl_link::{self, Conn};

/// How far the checker explores.
#[derive(Clone, Debug)]
pub struct ReplBounds {
    /// Client writes (the SET/INCR workload of `reference.rs`).
    pub writes: u8,
    /// `WAIT 1 1000` is sent after this many writes (`None`: no WAIT).
    pub wait_after: Option<u8>,
    /// Link breaks (the connection drops; the replica reconnects a second later).
    pub breaks: u8,
    /// kill -9 of whichever node is the master, and of whichever is the replica.
    pub master_crashes: u8,
    pub replica_crashes: u8,
    /// Failovers.
    pub promotions: u8,
    /// BGSAVEs on the replica (its snapshot records `repl-id`/`repl-offset`).
    pub snapshots: u8,
    pub time_ms_max: u64,
}

#[derive(Clone, Debug)]
pub struct ReplModel {
    pub bounds: ReplBounds,
    pub mutation: Mutation,
}

/// One machine: its engine (if running) and its disk.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Node {
    pub engine: Option<Engine>,
    pub disk: SimDisk,
    /// Start-ups so far (the instance's number).
    pub runs: u8,
}

/// A state the master passed through: its id and offset name this data set.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Point {
    pub replid: String,
    pub offset: u64,
    pub data: Data,
    /// The engine instance (node, run) that holds this history.
    pub holder: (u8, u8),
}

/// What the client is waiting for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ClientOp {
    Write(u8),
    Wait,
}

/// Writes a `WAIT 1` returned ≥ 1 after, and the replica instance that acknowledged them.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Promise {
    pub writes: Vec<u8>,
    pub replica: (u8, u8),
}

/// What the checker saw on this path (sticky flags the properties read).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct ReplFindings {
    pub not_a_master_state: bool,
    pub ids_conflict: bool,
    pub stream_wrong: bool,
    pub link_reply: bool,
    pub stream_corrupt: bool,
    pub continue_lost: bool,
    pub wait_lost: bool,
    pub full_sync: bool,
    pub partial_ok: bool,
    pub partial_refused: bool,
    pub wait_satisfied: bool,
    pub promoted_after_wait: bool,
    pub old_master_rejoined: bool,
    pub master_restarted: bool,
    pub replica_restarted: bool,
    pub resumed_from_snapshot: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ReplState {
    pub now_ms: u64,
    pub nodes: [Node; 2],
    /// Which node is the master.
    pub master: u8,
    pub conn: Option<Conn>,
    /// Connections opened so far (each gets a fresh client id on the master).
    pub conns: u64,
    pub client: Option<ClientOp>,
    /// Client requests sent.
    pub sent: u8,
    /// Writes the first master applied, in order (the reference for the WAIT promise).
    pub applied: Vec<(u8, u64)>,
    pub acked: Vec<u8>,
    pub promise: Option<Promise>,
    pub points: Vec<Point>,
    pub breaks: u8,
    pub master_crashes: u8,
    pub replica_crashes: u8,
    pub promotions: u8,
    /// After a promotion: the old master follows the new one (or restarts as its replica).
    pub demoted: bool,
    pub snapshots: u8,
    /// The replica restarted since its last sync (a PSYNC from its snapshot is pending).
    pub replica_from_snapshot: bool,
    pub findings: ReplFindings,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ReplAction {
    /// The client sends its next request to the master.
    Send,
    /// The link delivers everything queued toward the replica / the master.
    ToReplica,
    ToMaster,
    Break,
    Tick,
    /// BGSAVE on the replica.
    Snapshot,
    /// kill -9 of the master / the replica.
    CrashMaster,
    CrashReplica,
    Restart(u8),
    /// REPLICAOF NO ONE on the replica (the master is unreachable).
    Promote,
    /// REPLICAOF <new master> on the old master.
    Demote,
}

/// The client's connection id on the master, and the operator's (replies dropped).
pub(crate) const CLIENT: u64 = 1;
pub(crate) const OPERATOR: u64 = 1000;

pub(crate) fn argv(line: &str) -> Vec<Bytes> {
    line.split(' ')
        .map(|w| Bytes::copy_from_slice(w.as_bytes()))
        .collect()
}

impl ReplModel {
    pub(crate) fn workload() -> Workload {
        Workload {
            keys: 2,
            scripted: false,
            steps: &[],
        }
    }

    /// Request `i` (0-based) of the client: the writes, with the WAIT after `wait_after`.
    pub(crate) fn op(&self, i: u8) -> ClientOp {
        match self.bounds.wait_after {
            Some(w) if i == w => ClientOp::Wait,
            Some(w) if i > w => ClientOp::Write(i),
            _ => ClientOp::Write(i + 1),
        }
    }

    fn requests(&self) -> u8 {
        self.bounds.writes + u8::from(self.bounds.wait_after.is_some())
    }

    /// Node 0 keeps an AOF under `always`; node 1 keeps RDB snapshots only (their
    /// `repl-id`/`repl-offset` let it resume after a restart). Diskless sync with a 1 s delay.
    pub(crate) fn config(&self, s: &ReplState, node: u8) -> Config {
        let mut c = Config {
            appendfsync: FsyncPolicy::Always,
            appendonly: node == 0,
            mutation: self.mutation,
            ..Config::default()
        };
        c.save_points.clear();
        c.repl.diskless_sync_delay_s = 1;
        if node != s.master {
            let other = 1 - node;
            c.replica.master = Some((format!("node{other}"), 6379 + u16::from(other)));
        }
        c
    }

    pub(crate) fn replica(s: &ReplState) -> u8 {
        1 - s.master
    }

    pub(crate) fn running(s: &ReplState, node: u8) -> bool {
        s.nodes[node as usize]
            .engine
            .as_ref()
            .is_some_and(|e| *e.phase() == Phase::Running)
    }

    fn boot(&self, s: &mut ReplState, node: u8) {
        let config = self.config(s, node);
        let now = node_time(s, node);
        s.nodes[node as usize].engine = Some(Engine::new(config, now));
        self.settle(s);
        if let Some(engine) = s.nodes[node as usize].engine.as_mut() {
            // The first cron: a replica opens its link.
            engine.handle_timeout(now);
        }
    }

    /// Completes every disk effect and moves every reply and link operation, until quiet.
    pub(crate) fn settle(&self, s: &mut ReplState) {
        loop {
            let mut moved = false;
            for node in 0..2 {
                moved |= Self::settle_disk(s, node);
            }
            moved |= repl_link::pump(s);
            if !moved {
                break;
            }
        }
        self.record(s);
    }

    fn settle_disk(s: &mut ReplState, node: u8) -> bool {
        let now = node_time(s, node);
        let n = &mut s.nodes[node as usize];
        let Some(engine) = n.engine.as_mut() else {
            return false;
        };
        let mut moved = false;
        while let Some(effect) = engine.poll_effect() {
            let result = n.disk.execute(&effect.op);
            engine.handle_io(
                now,
                IoDone {
                    id: effect.id,
                    result,
                },
            );
            moved = true;
        }
        moved
    }

    /// Records the master's state as a point of its history (once replicas can hold it).
    fn record(&self, s: &mut ReplState) {
        let m = s.master;
        let Some(engine) = s.nodes[m as usize].engine.as_ref() else {
            return;
        };
        let pos = engine.repl_position();
        if !pos.active || *engine.phase() != Phase::Running {
            return;
        }
        let point = Point {
            data: reference::dump(engine.keyspace()),
            replid: pos.replid,
            offset: pos.offset,
            holder: (m, s.nodes[m as usize].runs),
        };
        add_point(s, point);
    }

    fn send(&self, s: &mut ReplState) {
        let op = self.op(s.sent);
        s.sent += 1;
        s.client = Some(op);
        let m = s.master;
        let now = node_time(s, m);
        let command = match op {
            ClientOp::Write(n) => {
                if s.promotions == 0 {
                    s.applied.push((n, now));
                }
                reference::command(n, Self::workload())
            }
            ClientOp::Wait => argv("WAIT 1 1000"),
        };
        let engine = s.nodes[m as usize].engine.as_mut().expect("master up");
        engine.handle_command(now, CLIENT, command);
    }

    fn crash(&self, s: &mut ReplState, node: u8) {
        repl_link::drop_conn(s);
        s.nodes[node as usize].engine = None;
        if node == s.master {
            s.master_crashes += 1;
            s.client = None;
        } else {
            s.replica_crashes += 1;
        }
    }

    fn restart(&self, s: &mut ReplState, node: u8) {
        s.nodes[node as usize].runs += 1;
        if node == s.master {
            s.findings.master_restarted = true;
        } else {
            s.demoted = true;
            s.findings.replica_restarted = true;
            s.replica_from_snapshot = s.snapshots > 0;
        }
        self.boot(s, node);
    }

    fn tick(&self, s: &mut ReplState) {
        s.now_ms += 1000;
        for node in 0..2u8 {
            let now = node_time(s, node);
            if let Some(engine) = s.nodes[node as usize].engine.as_mut() {
                engine.handle_timeout(now);
            }
        }
    }

    fn snapshot(&self, s: &mut ReplState) {
        s.snapshots += 1;
        let r = Self::replica(s);
        let now = node_time(s, r);
        let engine = s.nodes[r as usize].engine.as_mut().expect("replica up");
        engine.handle_command(now, OPERATOR, argv("BGSAVE"));
    }
}

/// Node `node`'s clock: the shared clock plus a skew per engine instance (see the module doc).
pub(crate) fn node_time(s: &ReplState, node: u8) -> u64 {
    s.now_ms + u64::from(node) * 100 + u64::from(s.nodes[node as usize].runs) * 10
}

/// Adds a point unless already known; the same id and offset with other data is a conflict.
pub(crate) fn add_point(s: &mut ReplState, point: Point) {
    let same_place = |p: &&Point| p.replid == point.replid && p.offset == point.offset;
    if s.points
        .iter()
        .filter(same_place)
        .any(|p| p.data != point.data)
    {
        s.findings.ids_conflict = true;
    }
    let known = s.points.iter().any(|p| {
        p.replid == point.replid
            && p.offset == point.offset
            && p.data == point.data
            && p.holder == point.holder
    });
    if !known {
        s.points.push(point);
    }
}

impl Model for ReplModel {
    type State = ReplState;
    type Action = ReplAction;

    fn init_states(&self) -> Vec<ReplState> {
        let node = || Node {
            engine: None,
            disk: SimDisk::new(),
            runs: 0,
        };
        let mut s = ReplState {
            now_ms: 0,
            nodes: [node(), node()],
            master: 0,
            conn: None,
            conns: 0,
            client: None,
            sent: 0,
            applied: Vec::new(),
            acked: Vec::new(),
            promise: None,
            points: Vec::new(),
            breaks: 0,
            master_crashes: 0,
            replica_crashes: 0,
            promotions: 0,
            demoted: false,
            snapshots: 0,
            replica_from_snapshot: false,
            findings: ReplFindings::default(),
        };
        self.boot(&mut s, 0);
        self.boot(&mut s, 1);
        vec![s]
    }

    fn actions(&self, s: &ReplState, actions: &mut Vec<ReplAction>) {
        let b = &self.bounds;
        let (m, r) = (s.master, Self::replica(s));
        let (m_up, r_up) = (Self::running(s, m), Self::running(s, r));
        if m_up && s.client.is_none() && s.sent < self.requests() {
            actions.push(ReplAction::Send);
        }
        if let Some(conn) = &s.conn {
            if !conn.to_replica.is_empty() {
                actions.push(ReplAction::ToReplica);
            }
            if !conn.to_master.is_empty() {
                actions.push(ReplAction::ToMaster);
            }
            if s.breaks < b.breaks {
                actions.push(ReplAction::Break);
            }
        }
        if s.now_ms + 1000 <= b.time_ms_max {
            actions.push(ReplAction::Tick);
        }
        if r_up && r == 1 && s.snapshots < b.snapshots {
            actions.push(ReplAction::Snapshot);
        }
        if m_up && s.master_crashes < b.master_crashes {
            actions.push(ReplAction::CrashMaster);
        }
        if r_up && s.replica_crashes < b.replica_crashes {
            actions.push(ReplAction::CrashReplica);
        }
        for node in [m, r] {
            if s.nodes[node as usize].engine.is_none() {
                actions.push(ReplAction::Restart(node));
            }
        }
        if r_up && s.conn.is_none() && s.promotions < b.promotions {
            actions.push(ReplAction::Promote);
        }
        if s.promotions > 0 && !s.demoted && r_up {
            actions.push(ReplAction::Demote);
        }
    }

    fn next_state(&self, last: &ReplState, action: ReplAction) -> Option<ReplState> {
        let mut s = last.clone();
        match action {
            ReplAction::Send => self.send(&mut s),
            ReplAction::ToReplica => repl_link::to_replica(&mut s),
            ReplAction::ToMaster => repl_link::to_master(&mut s),
            ReplAction::Break => {
                s.breaks += 1;
                repl_link::drop_conn(&mut s);
            }
            ReplAction::Tick => self.tick(&mut s),
            ReplAction::Snapshot => self.snapshot(&mut s),
            ReplAction::CrashMaster => {
                let m = s.master;
                self.crash(&mut s, m);
            }
            ReplAction::CrashReplica => {
                let r = Self::replica(&s);
                self.crash(&mut s, r);
            }
            ReplAction::Restart(node) => self.restart(&mut s, node),
            ReplAction::Promote => crate::repl_properties::promote(self, &mut s),
            ReplAction::Demote => crate::repl_properties::demote(&mut s),
        }
        self.settle(&mut s);
        crate::repl_properties::judge(&mut s);
        Some(s)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        crate::repl_properties::all(self)
    }

    fn format_action(&self, action: &ReplAction) -> String {
        format!("{action:?}")
    }
}
