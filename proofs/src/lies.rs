//! The lying disk in the model: per-directory metadata durability (a `SimDisk` mode), media
//! damage to synced bytes (a bit flip or garbage, found by the restart after a crash) and a
//! misdirected append (acknowledged, written over another file's synced bytes).
//!
//! Invariant kept: at most one lie per path (`State::lies`), each injected only through
//! [`SimDisk::damage`] or [`SimDisk::misdirect`]; damage hits only bytes that were fsynced
//! before the crash (`State::synced`), never a torn tail, so "the disk changed synced data"
//! is what each damaged recovery is judged for: start-up refuses, or it loads exactly what
//! the undamaged disk would have, or only never-acknowledged writes are missing.
//!
//! [`SimDisk::damage`]: model::sim::SimDisk::damage
//! [`SimDisk::misdirect`]: model::sim::SimDisk::misdirect

use model::engine::Phase;
use model::io::{IoDone, IoResult, Lane, Op};
use model::sim::{Damage, Metadata, GARBAGE_LEN};

use crate::aof_model::{applied, lane_index, Action, AofModel, State};
use crate::{inspect, reference};

/// How the disk may lie (the default: it never does).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Lies {
    pub metadata: Metadata,
    /// Damage the model may do to synced bytes while the server is down after a crash.
    pub damage: Option<Damage>,
    /// Whether a log append may be misdirected over another file's synced bytes.
    pub misdirect: bool,
    /// Hold this disk to every property of the honest disk, to show which ones it breaks
    /// (the known lies of `weak_disk::violations`).
    pub held_as_honest: bool,
}

impl Lies {
    pub fn any(&self) -> bool {
        *self != Lies::default()
    }
}

fn log_append(op: &Op) -> Option<&str> {
    match op {
        Op::Append { path, .. } if path.ends_with(".incr.aof") => Some(path),
        _ => None,
    }
}

impl AofModel {
    /// The lies the disk may tell now (one per path).
    pub(crate) fn lie_actions(&self, s: &State, actions: &mut Vec<Action>) {
        if s.lies > 0 {
            return;
        }
        if let (Some(damage), None) = (self.lies.damage, &s.engine) {
            let step = match damage {
                Damage::Flip => 1,
                Damage::Garbage => GARBAGE_LEN as usize,
            };
            for (path, len) in &s.synced {
                for offset in (0..*len).step_by(step) {
                    actions.push(Action::Damage(path.clone(), offset));
                }
            }
        }
        if !self.lies.misdirect {
            return;
        }
        let head = s.lanes[lane_index(Lane::Log)].front();
        if let Some(path) = head.and_then(|e| log_append(&e.op)) {
            for victim in s.disk.misdirect_victims(path) {
                actions.push(Action::Misdirect(victim));
            }
        }
    }

    /// Which synced bytes damage may hit after a crash or kill that left `s.disk`: what the
    /// engine's own fsyncs made durable before it (not what the crash happened to keep).
    pub(crate) fn note_synced(&self, s: &mut State, before: &model::sim::SimDisk) {
        if self.lies.damage.is_some() {
            let engine_synced = &s.engine_synced;
            s.synced = (before.synced_before(&s.disk).into_iter())
                .filter_map(|(path, len)| {
                    let len = len.min(engine_synced.get(&path).copied().unwrap_or(0));
                    (len > 0).then_some((path, len))
                })
                .collect();
        }
    }

    /// Follows the engine's fsyncs per path (damage configurations only): an fsync makes the
    /// file's bytes engine-synced; a truncate, recreate, rename or delete moves or cuts them.
    /// Conservative where a crash undoes a rename: the old name counts as never synced.
    pub(crate) fn note_completion(&self, s: &mut State, op: &Op, result: &IoResult) {
        if self.lies.damage.is_none()
            || !matches!(result, IoResult::Done | IoResult::Written { .. })
        {
            return;
        }
        let synced = &mut s.engine_synced;
        match op {
            Op::Fsync { path } => {
                let len = s.disk.contents(path).map_or(0, |c| c.len() as u64);
                synced.insert(path.clone(), len);
            }
            Op::Truncate { path, len } => {
                if let Some(n) = synced.get_mut(path) {
                    *n = (*n).min(*len);
                }
            }
            Op::Create { path } | Op::WriteView { path, .. } | Op::Delete { path } => {
                synced.remove(path);
            }
            Op::Rename { from, to } => match synced.remove(from) {
                Some(n) => {
                    synced.insert(to.clone(), n);
                }
                None => {
                    synced.remove(to);
                }
            },
            _ => {}
        }
    }

    /// Damages the synced byte(s) at `offset` of `path`; remembers what the undamaged disk
    /// recovers, to judge the restart by.
    pub(crate) fn damage(&self, s: &mut State, path: &str, offset: u64) {
        let damage = self.lies.damage.expect("damage configured");
        s.lies += 1;
        s.undamaged = Some(inspect::recover(&s.disk, &self.config, s.now_ms));
        s.disk.damage(path, offset, damage);
        s.synced.clear();
    }

    /// The log's head append lands over `victim`; the engine is told it succeeded.
    pub(crate) fn misdirect(&self, s: &mut State, victim: &str) {
        s.lies += 1;
        s.findings.misdirected = true;
        let effect = s.lanes[lane_index(Lane::Log)]
            .pop_front()
            .expect("an append in flight");
        let result = s.disk.misdirect(&effect.op, victim);
        let engine = s.engine.as_mut().expect("effects only while up");
        let done = IoDone {
            id: effect.id,
            result,
        };
        engine.handle_io(s.now_ms, done);
    }

    /// Judges a restart over damaged bytes. `true` if start-up refused (the damage was
    /// caught: nothing more to judge, and every later start over the same bytes is judged
    /// so too); else the recovery is judged as any other too.
    pub(crate) fn judge_damage(&self, s: &mut State) -> bool {
        let engine = s.engine.as_ref().expect("engine up");
        if s.undamaged.is_some() && matches!(engine.phase(), Phase::Refused(_)) {
            s.findings.damage_refused = true;
            return true;
        }
        let Some(undamaged) = s.undamaged.take() else {
            return false;
        };
        let recovered = reference::dump(engine.keyspace());
        if undamaged.as_ref() == Some(&recovered) {
            return false;
        }
        // Otherwise the damage may only have cut writes no reply acknowledged (as a torn tail).
        let w = self.bounds.workload();
        let cut_unacked = reference::matching_prefix(&applied(s), w, &recovered)
            .is_some_and(|k| s.history[k..].iter().all(|x| x.acked_at_ms.is_none()));
        s.findings.damage_loaded |= !cut_unacked;
        false
    }
}
