//! The engine's clock: every deadline it arms is computed here, and `poll_timeout` is the
//! earliest entry of one [`TimerTable`] (quinn's shape).
//!
//! Owns the periods. Invariant: a deadline is always "armed at + period" of its [`Timer`] (or,
//! for CLIENT PAUSE, the end the command set), so the check that a deadline passed and the
//! deadline reported to the driver cannot disagree.

/// Everything the engine may need the clock for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Timer {
    /// Active expiry and save points, as Redis's `hz 10`.
    Cron,
    /// Everysec: a write postponed behind a running fsync goes out anyway after 2 s.
    AofWrite,
    /// Everysec: an fsync is due a second after the last one while data is un-synced.
    AofFsync,
    /// A failed AOF write or fsync is retried once a second, as Redis's cron.
    AofRetry,
    /// The end of CLIENT PAUSE. Its length is the command's argument, so its deadline is set
    /// directly and it has no period.
    ClientPause,
    /// The earliest timeout of a blocked client (BLPOP ...), likewise set directly.
    Blocked,
    /// The earliest WAIT timeout, likewise set directly.
    ReplWait,
}

const TIMER_COUNT: usize = 7;

impl Timer {
    fn index(self) -> usize {
        self as usize
    }

    fn period_ms(self) -> u64 {
        match self {
            Timer::Cron => 100,
            Timer::AofWrite => 2000,
            Timer::AofFsync => 1000,
            Timer::AofRetry => 1000,
            Timer::ClientPause | Timer::Blocked | Timer::ReplWait => {
                unreachable!(
                    "CLIENT PAUSE's and blocking timeouts are the command's, never `after`"
                )
            }
        }
    }

    /// The deadline of this timer armed at `from_ms`.
    pub(crate) fn after(self, from_ms: u64) -> u64 {
        from_ms + self.period_ms()
    }
}

/// The deadlines armed now, one slot per [`Timer`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct TimerTable {
    at_ms: [Option<u64>; TIMER_COUNT],
}

impl TimerTable {
    pub(crate) fn set(&mut self, timer: Timer, at_ms: u64) {
        self.at_ms[timer.index()] = Some(at_ms);
    }

    /// The earliest deadline, if any timer is armed.
    pub(crate) fn next_ms(&self) -> Option<u64> {
        self.at_ms.iter().flatten().min().copied()
    }
}
