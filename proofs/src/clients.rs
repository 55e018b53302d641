//! The model's clients and operator commands beyond BGSAVE/BGREWRITEAOF/SHUTDOWN: a client
//! sends its next request (one command, or several pipelined: MULTI/EXEC, SELECT), replies
//! are matched to requests, reads record what they revealed; the operator toggles the AOF with
//! `CONFIG SET appendonly`; the disk may start with a pre-7.0 single-file AOF.
//!
//! Invariant kept: a write enters the history iff the engine applied it (its `dirty` grew),
//! and is acknowledged only by the last reply of its request, none of them an error; a read
//! reveals (`State::read_point`) the writes its key depended on when it ran, at the moment its
//! reply is released.

use bytes::Bytes;
use model::config::FsyncPolicy;
use model::engine::Reply;
use model::io::Op;
use model::resp::Frame;

use crate::aof_model::{applied, AofModel, Pending, State, Write, OPERATOR};
use crate::{faults, reference};

/// Writes the pre-7.0 `appendonly.aof` holds when the model starts with one.
pub const LEGACY_WRITES: u8 = 1;

impl AofModel {
    /// Whether released reads are tracked: the property reading them is checked under
    /// `always` (the policy whose replies wait for the fsync).
    pub(crate) fn tracks_reads(&self) -> bool {
        self.config.appendonly
            && self.config.appendfsync == FsyncPolicy::Always
            && self.bounds.workload().has_reads()
    }

    /// A client sends request number `sent + 1`, every command of it in one turn.
    pub(crate) fn send(&self, s: &mut State, c: u8) -> Option<()> {
        s.sent += 1;
        let n = s.sent;
        let w = self.bounds.workload();
        let commands = reference::requests(n, w);
        let count = commands.len() as u8;
        let engine = s.engine.as_mut()?;
        let dirty = engine.stats().dirty;
        // Only an AOF turned off at run time (CONFIG SET) withdraws the promise: an RDB-only
        // server's acknowledgements keep theirs (bounded by its snapshots).
        let promised = !self.config.appendonly || engine.config().appendonly;
        for argv in commands {
            engine.handle_command(s.now_ms, u64::from(c), argv);
        }
        // Applied iff the data set changed (a write refused with MISCONF is not).
        let applied_now = engine.stats().dirty > dirty;
        let observed = (w.is_read(n) && self.tracks_reads())
            .then(|| reference::observed_by_read(&applied(s), w, b"k1") as u8);
        if applied_now {
            s.history.push(Write {
                n,
                acked_at_ms: None,
                at_ms: if w.timed() { s.now_ms } else { 0 },
                promised,
            });
        }
        if applied_now || count > 1 || observed.is_some() {
            s.outstanding[c as usize] = Some(Pending {
                write: applied_now.then_some(n),
                replies: count,
                observed,
                failed: false,
            });
        }
        Some(())
    }

    /// Collects the replies released now; returns how many acknowledged a write.
    pub(crate) fn take_replies(s: &mut State) -> usize {
        let engine = s.engine.as_mut().expect("engine up");
        let mut acked_now = 0;
        while let Some((client, reply)) = engine.poll_reply() {
            // The model's clients never send CLIENT REPLY or CLIENT KILL: every reply is a frame.
            let Reply::Frame { frame, .. } = reply else {
                continue;
            };
            s.findings.uninjected_error |= faults::reply_uninjected(&frame, s.failures);
            let Some(slot) = s.outstanding.get_mut(client as usize) else {
                continue;
            };
            let Some(pending) = slot.as_mut() else {
                continue;
            };
            pending.failed |= matches!(frame, Frame::Error(_));
            pending.replies -= 1;
            if pending.replies > 0 {
                continue;
            }
            let done = slot.take().expect("pending");
            if done.failed {
                continue;
            }
            if let Some(observed) = done.observed {
                s.findings.read_after_write |= observed > 0;
                s.read_point = s.read_point.max(observed);
            }
            if let Some(n) = done.write {
                let write = s
                    .history
                    .iter_mut()
                    .find(|w| w.n == n)
                    .expect("acked write applied");
                if write.promised {
                    write.acked_at_ms = Some(s.now_ms);
                }
                acked_now += 1;
            }
        }
        acked_now
    }

    /// An operator's `CONFIG SET appendonly no`, or `yes` when it is off.
    pub(crate) fn toggle_aof(s: &mut State) -> Option<()> {
        s.toggles += 1;
        let engine = s.engine.as_mut()?;
        let to = if engine.config().appendonly {
            "no"
        } else {
            "yes"
        };
        let argv = ["CONFIG", "SET", "appendonly", to].map(|w| Bytes::from(w.to_string()));
        engine.handle_command(s.now_ms, OPERATOR, argv.to_vec());
        s.findings.aof_toggled_on |= to == "yes";
        Some(())
    }

    /// With `upgrade`: a durable pre-7.0 `appendonly.aof` in the data directory holding the
    /// first [`LEGACY_WRITES`] writes (acknowledged: a crash must never lose them).
    pub(crate) fn seed_legacy_aof(&self, s: &mut State) {
        if !self.bounds.upgrade {
            return;
        }
        let w = self.bounds.workload();
        let path = self.config.appendfilename.clone();
        let mut bytes = Vec::new();
        for n in 1..=LEGACY_WRITES {
            let commands = reference::requests(n, w);
            assert!(
                commands.len() == 1 && !w.is_read(n),
                "legacy writes are single commands"
            );
            model::aof::record::encode(&commands[0], &mut bytes);
            s.history.push(Write {
                n,
                acked_at_ms: Some(0),
                at_ms: 0,
                promised: true,
            });
        }
        s.sent = LEGACY_WRITES;
        let ops = [
            Op::Create { path: path.clone() },
            Op::Append {
                path: path.clone(),
                bytes: Bytes::from(bytes),
            },
            Op::Fsync { path },
            Op::FsyncDir {
                path: String::new(),
            },
        ];
        for op in &ops {
            s.disk.execute(op);
        }
    }
}
