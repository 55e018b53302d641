//! The replication contract as properties of the replication model (`repl_model.rs`), the
//! failover step the WAIT promise is judged at, the bounded configurations `durakv-check all`
//! explores and the known-bad replication designs `durakv-check mutants` must catch.
//!
//! Invariant: every `always` here reads a sticky finding set by a check made on the real
//! engines' state or on bytes they emitted; no finding is set from the model's own guesses.

use model::config::Mutation;
use stateright::Property;

use crate::reference::{self, matching_prefix};
use crate::repl_model::{
    add_point, argv, node_time, ClientOp, Point, ReplAction, ReplBounds, ReplModel, ReplState,
    OPERATOR,
};

pub const REPL_PREFIX: &str =
    "the replica's data set is the master's at the offset it holds (a prefix of the stream)";
pub const IDS_ONE_HISTORY: &str = "a replication id and offset name one data set";
pub const STREAM_EXACT: &str =
    "every stream byte reaches the replica at the offset it counts it at (no skip, no repeat)";
pub const LINK_NO_REPLY: &str = "once syncing, the master sends a replica no reply";
pub const STREAM_UNDERSTOOD: &str = "the replica loads its master's payload and parses its stream";
pub const NO_LOST_CONTINUE: &str = "+CONTINUE is served only for history the master holds";
pub const WAIT_KEEPS: &str =
    "promoting a replica that WAIT 1 counted keeps every write acknowledged before the WAIT";

pub const SOME_FULL_SYNC: &str = "a full resynchronisation";
pub const SOME_PARTIAL: &str = "a partial resynchronisation (+CONTINUE)";
pub const SOME_PARTIAL_REFUSED: &str = "a PSYNC of a known history answered with a full sync";
pub const SOME_WAIT: &str = "WAIT 1 returning 1";
pub const SOME_PROMOTED: &str = "a promotion after WAIT 1 returned 1";
pub const SOME_DEMOTED: &str = "the old master following the promoted one, in sync";
pub const SOME_MASTER_RESTART: &str = "a master restarted after kill -9";
pub const SOME_REPLICA_RESTART: &str = "a replica restarted after kill -9";
pub const SOME_RESUMED: &str = "a restarted replica continuing from its snapshot's offset";

/// Checks the replica against the master's recorded states (property a).
pub(crate) fn judge(s: &mut ReplState) {
    let r = ReplModel::replica(s);
    let Some(engine) = s.nodes[r as usize].engine.as_ref() else {
        return;
    };
    if *engine.phase() != model::engine::Phase::Running {
        return;
    }
    let pos = engine.repl_position();
    // An id no master ever held is the replica's own, before its first sync: nothing to hold.
    if !s.points.iter().any(|p| p.replid == pos.replid) {
        return;
    }
    let data = reference::dump(engine.keyspace());
    let found = (s.points.iter())
        .any(|p| p.replid == pos.replid && p.offset == pos.offset && p.data == data);
    s.findings.not_a_master_state |= !found;
}

/// Failover: the WAIT promise is judged on the replica's data set, the promoted replica
/// inherits the history it holds (up to its offset, under its old id and its new one), and
/// the old master, if up, is told to follow it.
pub(crate) fn promote(m: &ReplModel, s: &mut ReplState) {
    s.promotions += 1;
    let (old, new) = (s.master, ReplModel::replica(s));
    judge_promise(m, s);
    let before = (s.nodes[new as usize].engine.as_ref())
        .expect("replica up")
        .repl_position();
    let now = node_time(s, new);
    let engine = s.nodes[new as usize].engine.as_mut().expect("replica up");
    engine.handle_command(now, OPERATOR, argv("REPLICAOF NO ONE"));
    let after = engine.repl_position();
    s.master = new;
    s.client = None;
    let holder = (new, s.nodes[new as usize].runs);
    let inherited: Vec<Point> = (s.points.iter())
        .filter(|p| p.replid == before.replid && p.offset <= before.offset)
        .cloned()
        .collect();
    for p in inherited {
        for replid in [&before.replid, &after.replid] {
            let point = Point {
                replid: replid.clone(),
                holder,
                ..p.clone()
            };
            add_point(s, point);
        }
    }
    // Down, the old master restarts as a replica (its configuration was rewritten); up, it
    // serves on, cut off, until it is told to follow (`demote`).
    s.demoted = s.nodes[old as usize].engine.is_none();
}

/// The old master is told to follow the promoted one (Sentinel, once it sees it again).
pub(crate) fn demote(s: &mut ReplState) {
    s.demoted = true;
    let (old, new) = (ReplModel::replica(s), s.master);
    let now = node_time(s, old);
    let engine = s.nodes[old as usize]
        .engine
        .as_mut()
        .expect("old master up");
    let line = format!("REPLICAOF node{new} {}", 6379 + u16::from(new));
    engine.handle_command(now, OPERATOR, argv(&line));
}

fn judge_promise(m: &ReplModel, s: &mut ReplState) {
    let _ = m;
    let Some(promise) = &s.promise else {
        return;
    };
    let r = ReplModel::replica(s);
    let engine = s.nodes[r as usize].engine.as_ref().expect("replica up");
    if promise.replica != (r, s.nodes[r as usize].runs) {
        return; // that replica restarted since it acknowledged: WAIT promised nothing durable
    }
    s.findings.promoted_after_wait = true;
    let data = reference::dump(engine.keyspace());
    let prefix = matching_prefix(&s.applied, ReplModel::workload(), &data);
    let kept = prefix.is_some_and(|k| {
        let held: Vec<u8> = s.applied[..k].iter().map(|(n, _)| *n).collect();
        promise.writes.iter().all(|n| held.contains(n))
    });
    s.findings.wait_lost |= !kept;
}

pub fn all(m: &ReplModel) -> Vec<Property<ReplModel>> {
    let b = &m.bounds;
    let mut props = vec![
        Property::<ReplModel>::always(REPL_PREFIX, |_, s| !s.findings.not_a_master_state),
        Property::<ReplModel>::always(IDS_ONE_HISTORY, |_, s| !s.findings.ids_conflict),
        Property::<ReplModel>::always(STREAM_EXACT, |_, s| !s.findings.stream_wrong),
        Property::<ReplModel>::always(LINK_NO_REPLY, |_, s| !s.findings.link_reply),
        Property::<ReplModel>::always(STREAM_UNDERSTOOD, |_, s| !s.findings.stream_corrupt),
        Property::<ReplModel>::always(NO_LOST_CONTINUE, |_, s| !s.findings.continue_lost),
        Property::<ReplModel>::always(WAIT_KEEPS, |_, s| !s.findings.wait_lost),
        Property::<ReplModel>::sometimes(SOME_FULL_SYNC, |_, s| s.findings.full_sync),
    ];
    if b.promotions > 0 {
        props.push(Property::<ReplModel>::sometimes(SOME_DEMOTED, |_, s| {
            s.findings.old_master_rejoined
        }));
    }
    if b.breaks > 0 || b.replica_crashes > 0 {
        props.push(Property::<ReplModel>::sometimes(SOME_PARTIAL, |_, s| {
            s.findings.partial_ok
        }));
    }
    if b.master_crashes > 0 {
        props.push(Property::<ReplModel>::sometimes(
            SOME_PARTIAL_REFUSED,
            |_, s| s.findings.partial_refused,
        ));
        props.push(Property::<ReplModel>::sometimes(
            SOME_MASTER_RESTART,
            |_, s| s.findings.master_restarted,
        ));
    }
    if b.wait_after.is_some() {
        props.push(Property::<ReplModel>::sometimes(SOME_WAIT, |_, s| {
            s.findings.wait_satisfied
        }));
    }
    if b.wait_after.is_some() && b.promotions > 0 {
        props.push(Property::<ReplModel>::sometimes(SOME_PROMOTED, |_, s| {
            s.findings.promoted_after_wait
        }));
    }
    if b.replica_crashes > 0 {
        props.push(Property::<ReplModel>::sometimes(
            SOME_REPLICA_RESTART,
            |_, s| s.findings.replica_restarted,
        ));
    }
    if b.replica_crashes > 0 && b.snapshots > 0 {
        props.push(Property::<ReplModel>::sometimes(SOME_RESUMED, |_, s| {
            s.findings.resumed_from_snapshot
        }));
    }
    props
}

/// A bounded replication configuration.
pub struct ReplCheck {
    pub name: &'static str,
    pub about: String,
    pub model: ReplModel,
}

/// A known-bad replication design and the property it must be caught breaking.
pub struct ReplMutant {
    pub name: &'static str,
    pub about: &'static str,
    pub breaks: &'static str,
    pub model: ReplModel,
}

fn bounds(writes: u8, wait_after: Option<u8>, time_ms_max: u64) -> ReplBounds {
    ReplBounds {
        writes,
        wait_after,
        breaks: 0,
        master_crashes: 0,
        replica_crashes: 0,
        promotions: 0,
        snapshots: 0,
        time_ms_max,
    }
}

pub fn describe(m: &ReplModel) -> String {
    let b = &m.bounds;
    let wait = b
        .wait_after
        .map_or(String::new(), |w| format!(", WAIT 1 after write {w}"));
    format!(
        "master (AOF always) + replica (RDB): {} writes{wait}, {} link break(s), {} master \
         and {} replica kill(s), {} promotion(s), {} replica BGSAVE(s), clock to {} s",
        b.writes,
        b.breaks,
        b.master_crashes,
        b.replica_crashes,
        b.promotions,
        b.snapshots,
        b.time_ms_max / 1000
    )
}

fn check(name: &'static str, bounds: ReplBounds) -> ReplCheck {
    let model = ReplModel {
        bounds,
        mutation: Mutation::None,
    };
    ReplCheck {
        name,
        about: describe(&model),
        model,
    }
}

pub fn checks() -> Vec<ReplCheck> {
    vec![
        check(
            "repl-failover",
            ReplBounds {
                breaks: 1,
                promotions: 1,
                master_crashes: 1,
                ..bounds(2, Some(1), 2000)
            },
        ),
        check(
            "repl-restarts",
            ReplBounds {
                breaks: 1,
                replica_crashes: 1,
                snapshots: 1,
                ..bounds(2, None, 2000)
            },
        ),
    ]
}

fn mutant(
    name: &'static str,
    about: &'static str,
    breaks: &'static str,
    mutation: Mutation,
    bounds: ReplBounds,
) -> ReplMutant {
    ReplMutant {
        name,
        about,
        breaks,
        model: ReplModel { bounds, mutation },
    }
}

pub fn mutants() -> Vec<ReplMutant> {
    let broken = ReplBounds {
        breaks: 1,
        ..bounds(2, None, 2000)
    };
    let failover = ReplBounds {
        breaks: 1,
        promotions: 1,
        ..bounds(2, Some(1), 2000)
    };
    vec![
        mutant(
            "repl-backlog-off-by-one",
            "a partial resync is served from one byte past the offset the replica asked for",
            STREAM_EXACT,
            Mutation::BacklogOffByOne,
            broken.clone(),
        ),
        mutant(
            "repl-replid-not-shifted",
            "REPLICAOF NO ONE keeps the replication id instead of moving it to replid2",
            NO_LOST_CONTINUE,
            Mutation::NoReplidShift,
            ReplBounds {
                writes: 3,
                ..failover.clone()
            },
        ),
        mutant(
            "repl-stream-before-snapshot",
            "a full sync buffers the stream from the PSYNC, not from the snapshot's offset",
            REPL_PREFIX,
            Mutation::StreamBeforeSnapshot,
            bounds(2, None, 2000),
        ),
        mutant(
            "repl-ack-answered",
            "REPLCONF ACK is answered, and the reply travels back on the replication link",
            LINK_NO_REPLY,
            Mutation::AckAnswered,
            bounds(1, None, 2000),
        ),
        mutant(
            "repl-wait-counts-unacked",
            "WAIT counts every online replica, acknowledged or not",
            WAIT_KEEPS,
            Mutation::WaitCountsUnacked,
            failover,
        ),
    ]
}

/// A path as numbered steps, each with both nodes' state after it, up to the first state
/// that breaks `property` (the findings are sticky: the checker may report a longer path).
pub fn render(
    m: &ReplModel,
    property: &str,
    path: stateright::Path<ReplState, ReplAction>,
) -> String {
    let props = all(m);
    let condition = props
        .iter()
        .find(|p| p.name == property)
        .map(|p| p.condition);
    let steps = path.into_vec();
    let mut out = String::new();
    for (i, window) in steps.windows(2).enumerate() {
        let (before, action) = (&window[0].0, window[0].1.as_ref().expect("an action"));
        let action = match action {
            ReplAction::Send => match m.op(before.sent) {
                ClientOp::Write(n) => {
                    let argv = reference::command(n, ReplModel::workload());
                    let words: Vec<String> = argv.iter().map(|w| show(w)).collect();
                    format!("Send({})", words.join(" "))
                }
                ClientOp::Wait => "Send(WAIT 1 1000)".to_string(),
            },
            other => format!("{other:?}"),
        };
        let (line, _) = summary(&window[1].0);
        out.push_str(&format!("  {}. {action} => {line}\n", i + 1));
        if condition.is_some_and(|holds| !holds(m, &window[1].0)) {
            break;
        }
    }
    out
}

/// Both nodes' state, and whether some `always` finding is set.
fn summary(s: &ReplState) -> (String, bool) {
    let node = |i: u8| {
        let role = match (i == s.master, s.promotions > 0 && !s.demoted) {
            (true, _) => "master",
            (false, true) => "old master (cut off)",
            (false, false) => "replica",
        };
        match &s.nodes[i as usize].engine {
            None => format!("node{i} {role}: down"),
            Some(e) => {
                let pos = e.repl_position();
                let data = reference::dump(e.keyspace());
                let data: Vec<String> = (data.iter())
                    .map(|(k, v)| format!("{}={}", show(k), show(v)))
                    .collect();
                format!(
                    "node{i} {role}: id {}.. offset {}{} {{{}}}",
                    &pos.replid[..6],
                    pos.offset,
                    if pos.connected { " link up" } else { "" },
                    data.join(" ")
                )
            }
        }
    };
    let f = &s.findings;
    let broken: Vec<&str> = [
        (f.not_a_master_state, "replica not at a master state"),
        (f.ids_conflict, "one id and offset, two data sets"),
        (f.stream_wrong, "stream byte at the wrong offset"),
        (f.link_reply, "a reply on the replication link"),
        (f.stream_corrupt, "the replica could not parse or load"),
        (f.continue_lost, "+CONTINUE for history not held"),
        (f.wait_lost, "a write acknowledged before WAIT is missing"),
    ]
    .into_iter()
    .filter_map(|(set, what)| set.then_some(what))
    .collect();
    let text = if broken.is_empty() {
        String::new()
    } else {
        format!(" [{}]", broken.join("; "))
    };
    (
        format!("{}; {}{text}", node(0), node(1)),
        !broken.is_empty(),
    )
}

fn show(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
