//! Counterexamples in plain words: each step of a path as one numbered line.

use crate::aof_model::{lane_index, Action, AofModel, State};
use crate::reference;
use model::engine::Phase;
use model::sim::Keep;

/// One step, as `durakv-check` prints it (e.g. `disk: fsync appendonlydir/appendonly.aof.1.incr.aof`).
pub fn describe(m: &AofModel, s: &State, action: &Action) -> String {
    match action {
        Action::Send(c) => {
            let n = s.sent + 1;
            format!(
                "client {c} sends request #{n}: {}",
                reference::describe(n, m.bounds.workload())
            )
        }
        Action::Complete(lane) => match s.lanes[lane_index(*lane)].front() {
            Some(effect) => format!("disk: {}", effect.op.describe()),
            None => "disk: (nothing in flight)".to_string(),
        },
        Action::Fail(lane) => match s.lanes[lane_index(*lane)].front() {
            Some(effect) => format!("disk FAILS: {}", effect.op.describe()),
            None => "disk: (nothing in flight)".to_string(),
        },
        Action::Tick => format!("clock: {} ms", s.now_ms + 1000),
        Action::Bgsave => "operator sends BGSAVE".to_string(),
        Action::Rewrite => "operator sends BGREWRITEAOF".to_string(),
        Action::Shutdown => "operator sends SHUTDOWN (then the machine loses power)".to_string(),
        Action::ToggleAof => {
            let on = s.engine.as_ref().is_some_and(|e| e.config().appendonly);
            format!(
                "operator sends CONFIG SET appendonly {}",
                if on { "no" } else { "yes" }
            )
        }
        Action::Rotate => "server: start a new incr file (first step of a rewrite)".to_string(),
        Action::Crash(crash) => describe_crash(s, crash),
        Action::Damage(path, offset) => format!(
            "disk damage while down: {path} byte {offset} (fsynced before the crash) {}",
            match m.lies.damage {
                Some(model::sim::Damage::Flip) => "has its lowest bit flipped",
                _ => "starts 8 bytes of garbage",
            }
        ),
        Action::Misdirect(victim) => match s.lanes[lane_index(model::io::Lane::Log)].front() {
            Some(effect) => format!(
                "disk MISDIRECTS: {} lands over the start of {victim} (reported done)",
                effect.op.describe()
            ),
            None => "disk: (nothing in flight)".to_string(),
        },
        Action::Kill => format!(
            "kill -9 at {} ms: the process dies, the disk and page cache stay",
            s.now_ms
        ),
        Action::Restart => "restart: durakv-server starts and recovers from the disk".to_string(),
    }
}

/// A crash outcome in plain words: what survives of directory operations and each file.
fn describe_crash(s: &State, crash: &model::sim::Crash) -> String {
    let mut parts = vec![format!(
        "crash at {} ms: {} of {} pending directory operations survive",
        s.now_ms,
        crash.dir_ops_kept - crash.dropped.len(),
        s.disk.pending_count()
    )];
    if !crash.dropped.is_empty() {
        parts.push(format!(
            "(operations {:?} lost: their directory was not fsynced)",
            crash.dropped
        ));
    }
    for (inode, keep) in &crash.files {
        let name = s.disk.path_of(*inode).unwrap_or("(unnamed file)");
        let (written, durable) = s.disk.lengths(*inode);
        parts.push(match keep {
            Keep::Prefix(len) => {
                format!("{name} keeps {len} of {written} bytes ({durable} were fsynced)")
            }
            Keep::PrefixZeroFilled(len) => {
                format!("{name} keeps {len} of {written} bytes, then zeros up to {written}")
            }
            Keep::Durable => format!("{name} keeps its last fsynced version"),
            Keep::Written => format!("{name} keeps its newest version"),
        });
    }
    parts.join("; ")
}

/// What the final state shows: the violated guarantee's evidence.
pub fn outcome(s: &State) -> String {
    let mut lines = Vec::new();
    if let Some(engine) = &s.engine {
        match engine.phase() {
            Phase::Refused(e) => lines.push(format!("start-up refused: {e}")),
            Phase::Loading => lines.push("server is loading".to_string()),
            Phase::Stopping | Phase::Stopped => lines.push("server is stopping".to_string()),
            Phase::Running => {
                let data = reference::dump(engine.keyspace());
                let shown: Vec<String> = data
                    .iter()
                    .map(|(k, v)| {
                        format!(
                            "{}={}",
                            String::from_utf8_lossy(k),
                            String::from_utf8_lossy(v)
                        )
                    })
                    .collect();
                lines.push(format!("recovered data set: {{{}}}", shown.join(", ")));
            }
        }
    }
    let acked: Vec<String> = s
        .history
        .iter()
        .filter_map(|w| w.acked_at_ms.map(|t| format!("#{} at {t} ms", w.n)))
        .collect();
    lines.push(format!(
        "acknowledged writes recovered: [{}]",
        acked.join(", ")
    ));
    lines.join("\n     ")
}

/// The engine's state after a step, for a reader following the log's progress: offsets
/// logged/written/durable, and replies waiting for the log.
pub fn engine_state(s: &State) -> String {
    let Some(engine) = &s.engine else {
        return "[server down]".to_string();
    };
    let waiting = engine.replies_waiting();
    match engine.log_offsets() {
        Some((logged, written, durable)) => {
            format!("[log {logged}/{written}/{durable} logged/written/durable, {waiting} repl. waiting]")
        }
        None => format!("[no log, {waiting} repl. waiting]"),
    }
}

/// How many leading steps are the first start-up on the initial disk (the same in every
/// counterexample of a configuration): disk completions while the engine loads, unbroken.
fn first_boot_len(steps: &[(State, Option<Action>)]) -> usize {
    steps
        .iter()
        .take_while(|(state, action)| {
            matches!(action, Some(Action::Complete(_)))
                && state.crashes == 0
                && state
                    .engine
                    .as_ref()
                    .is_some_and(|e| *e.phase() == Phase::Loading)
        })
        .count()
}

/// Whether a step is a disk completion while the engine loads (a start-up's own I/O).
fn boot_step(state: &State, action: &Option<Action>) -> bool {
    matches!(action, Some(Action::Complete(_)))
        && (state.engine.as_ref()).is_some_and(|e| *e.phase() == Phase::Loading)
}

/// A later start-up's run of disk steps from `at`, as one line if it is 3 or more long
/// (every operation still named, in order): the line and the steps it covers.
fn fold_restart(
    m: &AofModel,
    steps: &[(State, Option<Action>)],
    at: usize,
) -> Option<(String, usize)> {
    let run = steps[at..]
        .iter()
        .take_while(|(state, action)| boot_step(state, action))
        .count();
    if run < 3 {
        return None;
    }
    let ops: Vec<String> = steps[at..at + run]
        .iter()
        .map(|(state, action)| {
            let text = describe(m, state, action.as_ref().expect("an action"));
            text.strip_prefix("disk: ").unwrap_or(&text).to_string()
        })
        .collect();
    let after = engine_state(&steps[at + run].0);
    Some((
        format!("start-up, {run} disk steps: {} {after}", ops.join("; ")),
        run,
    ))
}

/// A whole path, numbered; the first start-up folded into one line (it is the same in every
/// counterexample) and each later start-up's disk steps into one line naming them all; each
/// step followed by the engine's state after it.
pub fn render(m: &AofModel, path: stateright::Path<State, Action>) -> String {
    let steps = path.into_vec();
    let mut out = String::new();
    let folded = first_boot_len(&steps);
    if folded > 1 {
        let first = describe(m, &steps[0].0, steps[0].1.as_ref().expect("an action"));
        let last = &steps[folded - 1];
        let last = describe(m, &last.0, last.1.as_ref().expect("an action"));
        out.push_str(&format!(
            "  1-{folded}. first start-up, {folded} disk steps: {first} ... {last} {}\n",
            engine_state(&steps[folded].0)
        ));
    }
    let mut number = if folded > 1 { folded } else { 0 };
    let mut before_restart = Vec::new();
    let mut skip_to = number;
    for (i, (state, action)) in steps.iter().enumerate().skip(number) {
        if i < skip_to {
            continue;
        }
        if let Some((line, run)) = fold_restart(m, &steps, i) {
            out.push_str(&format!("  {}-{}. {line}\n", number + 1, number + run));
            number += run;
            skip_to = i + run;
            continue;
        }
        match action {
            Some(action) => {
                number += 1;
                if *action == Action::Restart {
                    before_restart = state.history.clone();
                }
                let after = engine_state(&steps[i + 1].0);
                out.push_str(&format!(
                    "  {number}. {} {after}\n",
                    describe(m, state, action)
                ));
            }
            None => {
                out.push_str(&format!("  => {}\n", outcome(state)));
                let lost: Vec<String> = before_restart
                    .iter()
                    .filter(|w| !state.history.contains(w))
                    .map(|w| match w.acked_at_ms {
                        Some(t) => format!("#{} (acknowledged at {t} ms)", w.n),
                        None => format!("#{} (not acknowledged)", w.n),
                    })
                    .collect();
                if !lost.is_empty() {
                    out.push_str(&format!(
                        "     writes lost by the last crash: {}\n",
                        lost.join(", ")
                    ));
                }
            }
        }
    }
    out
}
