//! The debug log of the limit's changes, at most one line a second: on loopback the limit may
//! change every few milliseconds, and one line per change would drown the log.

use std::time::{Duration, Instant};

use super::Change;

/// The least time between two lines.
const EVERY: Duration = Duration::from_secs(1);

/// What changed since the last line.
#[derive(Debug, Default)]
pub(crate) struct LimitLog {
    last_line: Option<Instant>,
    /// The limit the last line showed.
    shown: Option<usize>,
    lowest: usize,
    highest: usize,
    backoffs: u64,
}

impl LimitLog {
    /// Notes `change` made at `at`, and logs the limit when a second has passed since the last
    /// line (or this is the first change).
    pub(crate) fn note(&mut self, change: Change, at: Instant) {
        let (from, to) = match change {
            Change::Raised { from, to } | Change::Lowered { from, to } => (from, to),
            Change::BackedOff { from, to } => {
                self.backoffs += 1;
                (from, to)
            }
        };
        if self.shown.is_none() {
            self.shown = Some(from);
            (self.lowest, self.highest) = (from, from);
        }
        self.lowest = self.lowest.min(to);
        self.highest = self.highest.max(to);
        if self
            .last_line
            .is_some_and(|last| at.saturating_duration_since(last) < EVERY)
        {
            return;
        }
        tracing::debug!(
            limit = to,
            was = self.shown,
            lowest = self.lowest,
            highest = self.highest,
            backoffs = self.backoffs,
            "files in flight"
        );
        *self = LimitLog {
            last_line: Some(at),
            shown: Some(to),
            lowest: to,
            highest: to,
            backoffs: 0,
        };
    }
}
