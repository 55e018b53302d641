//! Scripts that run past `busy-reply-threshold` (alias `lua-time-limit`): what other
//! connections are answered while one runs — `-BUSY`, `SCRIPT KILL`, `FUNCTION KILL`,
//! `SHUTDOWN NOSAVE` — as Redis 7.0's `scriptInterrupt` and `processCommand` decide it.
//!
//! Why a callback and not a resumable step: a script runs inside one engine step (atomic:
//! nothing else touches the data set meanwhile), and while it runs the runtime cannot call the
//! engine, which is borrowed by the step. So the engine hands the step the runtime's clock and
//! sockets (`WhileBusy` in `engine/busy.rs`; a fake clock and scripted requests in tests) and
//! the Lua instruction hook calls them through [`Interrupt`] every few thousand instructions. Every decision —
//! whether the threshold has passed, which commands pass, each reply text, when a kill is
//! refused, what the engine replays on a session afterwards — is made here by
//! [`BusyGate::answer`], pure code over the clock and requests passed in; the runtime only
//! moves bytes. That keeps the engine's decisions testable without sockets or real time.
//!
//! Invariants: while a script is busy nothing but the script changes the data set; a request
//! answered meanwhile reaches its session afterwards only as a [`Replay`] (MULTI, WATCH, …
//! run silently; a refused command flags a transaction being queued), never with a second
//! reply; a script that wrote is stopped only by SHUTDOWN NOSAVE.

use bytes::Bytes;

use super::super::index::Run;
use super::super::reply;
use super::super::state::CommandId;
use super::super::table::entry;
use crate::resp::Frame;

/// The reply to anything but a kill while an EVAL script is busy.
pub const BUSY_EVAL: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
/// The same while a function (FCALL) is busy.
pub const BUSY_FUNCTION: &str =
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";
const UNKILLABLE: &str = "UNKILLABLE Sorry the script already executed write commands against \
     the dataset. You can either wait the script termination or kill the server in a hard way \
     using the SHUTDOWN NOSAVE command.";

/// What to do with a request that arrived while a script is busy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BusyAnswer {
    /// Send this reply now; the request is consumed.
    Reply(Frame),
    /// Consume the request and send nothing (SHUTDOWN NOSAVE: the server stops).
    Nothing,
    /// Leave this request, and what follows it on its connection, unread until the script
    /// ends; it is served then as usual (AUTH, HELLO, RESET, QUIT, …: Redis runs them
    /// meanwhile, but they change connection state the engine holds).
    Later,
}

/// What a request answered during a busy script does to its session once the script ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Replay {
    /// Run it with its reply dropped (MULTI, DISCARD, WATCH, UNWATCH: already answered OK).
    Run(Vec<Bytes>),
    /// It was refused with BUSY: a transaction being queued fails at EXEC (`flagTransaction`).
    Refused,
}

/// The decisions taken while one step's scripts ran.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BusyGate {
    threshold_ms: u64,
    started_ms: u64,
    /// The running script is an EVAL (not a function).
    eval: bool,
    /// The running script already wrote (`SCRIPT_WRITE_DIRTY`).
    wrote: bool,
    /// The running script passed the threshold: others are being served.
    timed_out: bool,
    /// How long the slowest script had run when it was found past the threshold.
    pub(crate) slow_ms: Option<u64>,
    kill: bool,
    /// SHUTDOWN NOSAVE arrived: the engine stops after this step.
    pub(crate) shutdown: bool,
    /// Sessions to update after the step, in arrival order.
    pub(crate) replays: Vec<(u64, Replay)>,
    /// Clients queuing a transaction (when the step began, plus MULTIs answered meanwhile):
    /// their EXEC is aborted, not merely refused.
    pub(crate) in_multi: std::collections::BTreeSet<u64>,
}

impl BusyGate {
    pub fn new(threshold_ms: u64) -> BusyGate {
        BusyGate {
            threshold_ms,
            ..BusyGate::default()
        }
    }

    /// Whether a script is past the threshold (others get BUSY).
    pub fn timed_out(&self) -> bool {
        self.timed_out
    }

    /// Redis's `processCommand` while a script is busy: unknown commands and wrong arity as
    /// always, the kills and SHUTDOWN NOSAVE, the transaction commands (answered now, replayed
    /// after), and `-BUSY` for everything else.
    pub fn answer(&mut self, client: u64, id: Option<CommandId>, argv: &[Bytes]) -> BusyAnswer {
        let Some(command) = id.map(entry).filter(|_| !argv.is_empty()) else {
            self.replays.push((client, Replay::Refused));
            return BusyAnswer::Reply(reply::unknown_command(argv));
        };
        if !command.arity_ok(argv.len()) {
            self.replays.push((client, Replay::Refused));
            return BusyAnswer::Reply(reply::wrong_arity(command.name));
        }
        let sub = argv.get(1).map(|a| a.to_ascii_lowercase());
        let kill = sub.as_deref() == Some(b"kill");
        match command.name {
            "script" if kill => self.kill_request(true),
            "function" if kill => self.kill_request(false),
            "shutdown" if argv[1..].iter().any(|a| a.eq_ignore_ascii_case(b"nosave")) => {
                self.shutdown = true;
                self.kill = true;
                BusyAnswer::Nothing
            }
            // Redis's `execCommandAbort`: EXEC refused with BUSY ends the transaction.
            "exec" if self.in_multi.remove(&client) => {
                let discard = vec![Bytes::from_static(b"DISCARD")];
                self.replays.push((client, Replay::Run(discard)));
                let Frame::Error(busy) = self.busy_error(self.eval) else {
                    unreachable!("BUSY is an error")
                };
                BusyAnswer::Reply(Frame::error(format!(
                    "EXECABORT Transaction discarded because of: {busy}"
                )))
            }
            "multi" | "discard" | "watch" | "unwatch" => {
                match command.name {
                    "multi" => _ = self.in_multi.insert(client),
                    "discard" => _ = self.in_multi.remove(&client),
                    _ => {}
                }
                self.replays.push((client, Replay::Run(argv.to_vec())));
                BusyAnswer::Reply(Frame::ok())
            }
            "auth" | "hello" | "reset" | "replconf" => BusyAnswer::Later,
            "function" if sub.as_deref() == Some(b"stats") => BusyAnswer::Later,
            _ if matches!(command.run, Run::Connection) => BusyAnswer::Later,
            _ => {
                self.replays.push((client, Replay::Refused));
                BusyAnswer::Reply(self.busy_error(self.eval))
            }
        }
    }

    /// Redis's `scriptKill`: refused once the script wrote, or for the other kind of script.
    fn kill_request(&mut self, by_script_kill: bool) -> BusyAnswer {
        let refusal = if self.wrote {
            Some(Frame::error(UNKILLABLE))
        } else if by_script_kill != self.eval {
            Some(self.busy_error(self.eval))
        } else {
            None
        };
        BusyAnswer::Reply(refusal.unwrap_or_else(|| {
            self.kill = true;
            Frame::ok()
        }))
    }

    fn busy_error(&self, eval: bool) -> Frame {
        Frame::error(if eval { BUSY_EVAL } else { BUSY_FUNCTION })
    }

    /// A script starts: its clock starts; nothing is timed out or killed yet.
    pub(crate) fn start(&mut self, now_ms: u64, eval: bool) {
        self.started_ms = now_ms;
        (self.eval, self.wrote, self.timed_out, self.kill) = (eval, false, false, false);
    }

    /// A hook tick at `now_ms`: whether the script is past the threshold (others are served).
    pub(crate) fn due(&mut self, now_ms: u64, wrote: bool) -> bool {
        self.wrote = wrote;
        if !self.timed_out {
            let elapsed_ms = now_ms.saturating_sub(self.started_ms);
            if elapsed_ms < self.threshold_ms {
                return false;
            }
            self.timed_out = true;
            self.slow_ms = Some(self.slow_ms.unwrap_or(0).max(elapsed_ms));
        }
        true
    }

    /// Whether the script must stop (killed); a later script of the step starts afresh.
    pub(crate) fn take_kill(&mut self) -> bool {
        if self.kill {
            self.timed_out = false;
        }
        std::mem::take(&mut self.kill)
    }
}
