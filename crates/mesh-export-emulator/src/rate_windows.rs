//! The per-client request counts behind the rate limit: fixed one-minute windows.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// The rate limit's window: limits are per minute, counted in fixed windows per client.
const WINDOW: Duration = Duration::from_secs(60);

/// Fixed one-minute windows, one per client id.
#[derive(Default)]
pub(crate) struct RateWindows {
    windows: Mutex<HashMap<String, (Instant, u32)>>,
}

/// What the limit decided for one request.
pub(crate) struct Verdict {
    pub(crate) allowed: bool,
    pub(crate) remaining: u32,
    pub(crate) reset_secs: u64,
}

impl RateWindows {
    /// Counts one request of `client_id` against `limit` per window.
    pub(crate) fn check(&self, client_id: &str, limit: u32) -> Verdict {
        let now = Instant::now();
        let mut windows = self.windows.lock().expect("rate lock");
        let entry = windows.entry(client_id.to_owned()).or_insert((now, 0));
        if now.duration_since(entry.0) >= WINDOW {
            *entry = (now, 0);
        }
        let left = WINDOW.saturating_sub(now.duration_since(entry.0));
        let reset_secs = left.as_secs_f64().ceil().max(1.0) as u64;
        if entry.1 >= limit {
            return Verdict {
                allowed: false,
                remaining: 0,
                reset_secs,
            };
        }
        entry.1 += 1;
        Verdict {
            allowed: true,
            remaining: limit - entry.1,
            reset_secs,
        }
    }
}
