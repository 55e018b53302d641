//! Shutdown state: whether the engine is stopping and whether it takes a final snapshot.
//!
//! The engine's router drives the steps (drain the AOF, then the final save, then
//! `Phase::Stopped`). Invariant: once stopping, nothing new is executed; a failed final save
//! cancels the stop, as Redis does.

use crate::config::Config;

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct Shutdown {
    pub(crate) stopping: bool,
    pub(crate) save_on_stop: bool,
}

impl Shutdown {
    /// `save` overrides whether a final snapshot is taken (by default, when save points are
    /// configured, as Redis).
    pub(crate) fn begin(&mut self, config: &Config, save: Option<bool>) {
        self.stopping = true;
        self.save_on_stop = save.unwrap_or(!config.save_points.is_empty());
    }

    /// The final save failed: keep serving.
    pub(crate) fn cancel(&mut self) {
        self.stopping = false;
    }
}
