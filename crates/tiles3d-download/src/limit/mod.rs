//! How many files may be in flight: a synchronous state machine fed with each finished
//! transfer (when it started and ended, the bytes it received, how many files were in flight
//! when it started, and how it ended). It never reads a clock: every instant comes with a
//! [`Sample`], so its tests run a simulated link in simulated time.
//!
//! # Why this algorithm
//!
//! A tile costs one round trip plus its bytes. On loopback a round trip is microseconds and
//! the client's CPU is the bottleneck, so a few files in flight are as fast as many; 40 ms
//! from a blob store, eight files in flight fetch at most eight per round trip, and the best
//! fixed number (32 in the measurement that motivated this) is worse at 64, where the store
//! starts queueing. So the number must be found per link, and the signal that finds it is the
//! one the user cares about: throughput.
//!
//! Throughput is estimated by Little's law, not by counting bytes in a wall-clock interval:
//! with `n` files in flight and each taking `t`, the link delivers `n / t` files a second. A
//! window of transfers started under the current limit gives `mean(in flight) * bytes /
//! time` (each file's bytes plus [`REQUEST_BYTES`] for its request, so that tiny files count).
//! This needs no settling time after a change (only transfers started under the new limit
//! count) and reads latency and throughput as one number: past the point where the store
//! queues, latency grows as fast as the files in flight and the estimate stops rising.
//!
//! - **Slow start**: from the floor, the limit doubles after each window while throughput
//!   rises by at least half of what doubling would give below capacity (1.5x). The first
//!   window has nothing to compare with and doubles. When a doubling stops paying, the
//!   capacity is estimated from the last two windows (`previous limit * rate / previous
//!   rate`, exact for a link that delivers `min(limit, capacity) / rtt`) and the limit goes
//!   there.
//! - **Settling** is a hill climb by steps of an eighth: one step more must earn at least half
//!   its proportional gain, else one step less is tried, which is kept unless it loses at
//!   least half its proportional share. So more files in flight must pay for themselves, the
//!   limit settles at the knee of the throughput curve (within a step of it), and it follows
//!   the knee when the link changes. After a round around the knee it holds for a few windows.
//! - **Backing off** is multiplicative, as TCP's: a 429 or 503 halves the limit, a transport
//!   failure (or a 5xx other than 503) takes a quarter off, a broken connection saying less
//!   about load than an explicit "slow down". One backoff per round: transfers started before
//!   the last backoff were sent at the old limit and do not lower it again, so a burst of 429s
//!   halves it once, not to the floor.
//!   A 429 or 503 right after a step up of the climb only takes that step back (and holds):
//!   a store with a fixed limit of requests at once would otherwise keep the limit on a
//!   sawtooth between half its limit and its limit.
//! - Only transfers started while the pipeline was full (at least three quarters of the limit
//!   in flight) are measured: while the walk has few files to hand out, the limit is not what
//!   bounds throughput, and it stays where it is.
//!
//! On a 40 ms round trip with 16 KiB tiles the limit doubles from 4 to 32 or 64 in about ten
//! round trips and settles near the store's knee; on loopback doubling stops paying at once
//! (the CPU is the bottleneck), and it stays within a few steps of the floor.
//!
//! Existing crates (`congestion-limiter`, the `tower` limiters) are asynchronous, read the
//! clock themselves and steer by latency alone; this one is fed by the driver and its
//! decisions are a function of what it was fed.

mod log;
#[cfg(test)]
mod tests;

use std::time::{Duration, Instant};

use crate::options::Concurrency;

pub(crate) use self::log::LimitLog;

/// Bytes a request costs besides its body. A request is a round trip, which on a fast link
/// takes as long as tens of KiB of body, and counting it keeps a window of small tiles and
/// one of the tileset's larger JSON files comparable: counted by body alone, a window with
/// a 30 KiB `tileset.json` among 1 KiB tiles would look twice as fast as the next.
pub(crate) const REQUEST_BYTES: u64 = 64 * 1024;

/// Transfers in a window at the least; more at a higher limit (twice the limit), so that a
/// window spans about two round trips.
const MIN_WINDOW: usize = 16;

/// Windows the limit holds at the knee, after a step up and a step down did not pay, before
/// it probes again.
const HOLD_WINDOWS: u32 = 4;

/// How a finished transfer ended, as far as the load on the link and the store is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// It arrived with no sign of load: its time and bytes measure the link.
    Ok,
    /// A transport failure, a timeout or a 5xx other than 503 on the way.
    Transient,
    /// The store asked to slow down (429 or 503) on the way.
    Throttled,
    /// Anything else (a missing file, a refused signature, content that failed its check, a
    /// file found on disk): it says nothing about load.
    Other,
}

/// One finished transfer, as the driver saw it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sample {
    pub(crate) started: Instant,
    pub(crate) ended: Instant,
    /// Bytes received over the network for it, as sent.
    pub(crate) bytes: u64,
    /// Files in flight when it started, itself included.
    pub(crate) in_flight: usize,
    pub(crate) outcome: Outcome,
}

/// What feeding a sample did to the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Change {
    Raised {
        from: usize,
        to: usize,
    },
    Lowered {
        from: usize,
        to: usize,
    },
    /// Backed off after a throttle or transport failure.
    BackedOff {
        from: usize,
        to: usize,
    },
}

/// The number of files allowed in flight.
#[derive(Debug)]
pub(crate) struct Limiter {
    limit: usize,
    adaptive: Option<Adaptive>,
}

#[derive(Debug)]
struct Adaptive {
    min: usize,
    max: usize,
    phase: Phase,
    window: Window,
    /// When the limit last backed off: transfers started before it do not back it off again.
    backed_off_at: Option<Instant>,
}

/// A throughput measured at a limit.
#[derive(Debug, Clone, Copy)]
struct Measured {
    limit: usize,
    /// Bytes a second.
    rate: f64,
}

#[derive(Debug, Clone, Copy)]
enum Phase {
    /// Doubling while it pays; `previous` is the window before.
    SlowStart { previous: Option<Measured> },
    /// Climbing the throughput curve in steps; `base` is the limit the last step was judged
    /// against, `None` until a window at the current limit measured it.
    Settling {
        base: Option<Measured>,
        up: bool,
        hold: u32,
    },
}

/// The transfers measured at the current limit.
#[derive(Debug, Default)]
struct Window {
    /// When the current limit took effect: transfers started before ran under another.
    since: Option<Instant>,
    transfers: usize,
    bytes: f64,
    /// Seconds, summed over the transfers.
    busy: f64,
    in_flight: f64,
}

impl Limiter {
    pub(crate) fn new(concurrency: Concurrency) -> Self {
        let (min, max) = concurrency.bounds();
        let adaptive = matches!(concurrency, Concurrency::Adaptive { .. }).then(|| Adaptive {
            min,
            max,
            phase: Phase::SlowStart { previous: None },
            window: Window::default(),
            backed_off_at: None,
        });
        Limiter {
            limit: min,
            adaptive,
        }
    }

    /// Files allowed in flight now.
    pub(crate) fn limit(&self) -> usize {
        self.limit
    }

    /// Feeds one finished transfer; says how the limit changed, if it did.
    pub(crate) fn record(&mut self, sample: &Sample) -> Option<Change> {
        let adaptive = self.adaptive.as_mut()?;
        let from = self.limit;
        let to = match sample.outcome {
            Outcome::Other => return None,
            Outcome::Throttled => adaptive.back_off(sample, from, 0.5)?,
            Outcome::Transient => adaptive.back_off(sample, from, 0.75)?,
            Outcome::Ok => {
                let rate = adaptive.window.add(sample, from)?;
                adaptive.next_limit(Measured { limit: from, rate })
            }
        };
        adaptive.window = Window {
            since: Some(sample.ended),
            ..Window::default()
        };
        self.limit = to;
        let backed_off = matches!(sample.outcome, Outcome::Throttled | Outcome::Transient);
        match to.cmp(&from) {
            _ if backed_off && to < from => Some(Change::BackedOff { from, to }),
            std::cmp::Ordering::Greater => Some(Change::Raised { from, to }),
            std::cmp::Ordering::Less => Some(Change::Lowered { from, to }),
            std::cmp::Ordering::Equal => None,
        }
    }
}

impl Window {
    /// Adds a transfer that arrived; the window's throughput once it holds enough transfers
    /// started under `limit` with the pipeline full.
    fn add(&mut self, sample: &Sample, limit: usize) -> Option<f64> {
        let under_this_limit = self.since.is_none_or(|since| sample.started >= since);
        let full = sample.in_flight.saturating_mul(4) >= limit.saturating_mul(3);
        if !under_this_limit || !full {
            return None;
        }
        let took = sample.ended.saturating_duration_since(sample.started);
        // A transfer that took no measurable time is counted as a microsecond: the rate stays
        // finite.
        self.busy += took.max(Duration::from_micros(1)).as_secs_f64();
        self.bytes += sample.bytes.saturating_add(REQUEST_BYTES) as f64;
        self.in_flight += sample.in_flight.min(limit) as f64;
        self.transfers += 1;
        if self.transfers < MIN_WINDOW.max(limit.saturating_mul(2)) {
            return None;
        }
        let mean_in_flight = self.in_flight / self.transfers as f64;
        Some(mean_in_flight * self.bytes / self.busy)
    }
}

impl Adaptive {
    /// The limit after a throttle or failure, by `factor`; `None` when a backoff for this
    /// round was already taken.
    fn back_off(&mut self, sample: &Sample, limit: usize, factor: f64) -> Option<usize> {
        if self.backed_off_at.is_some_and(|at| sample.started < at) {
            return None;
        }
        self.backed_off_at = Some(sample.ended);
        if let Phase::Settling {
            base: Some(base), ..
        } = self.phase
            && base.limit < limit
        {
            // A step up the store refused: back to the limit it accepted, and hold there.
            // Halving here would leave a sawtooth far below a store's fixed limit.
            self.phase = Phase::Settling {
                base: Some(base),
                up: true,
                hold: HOLD_WINDOWS,
            };
            return Some(self.clamp(base.limit));
        }
        self.phase = Phase::Settling {
            base: None,
            up: true,
            hold: 0,
        };
        Some(self.clamp((limit as f64 * factor) as usize))
    }

    fn clamp(&self, limit: usize) -> usize {
        limit.clamp(self.min, self.max)
    }

    /// The limit after a window measured `now`.
    fn next_limit(&mut self, now: Measured) -> usize {
        match self.phase {
            Phase::SlowStart { previous } => self.slow_start(previous, now),
            Phase::Settling { base, up, hold } => self.settle(base, up, hold, now),
        }
    }

    fn slow_start(&mut self, previous: Option<Measured>, now: Measured) -> usize {
        let doubled = self.clamp(now.limit.saturating_mul(2));
        let pays = previous.is_none_or(|previous| gained(previous, now));
        if pays && doubled > now.limit {
            self.phase = Phase::SlowStart {
                previous: Some(now),
            };
            return doubled;
        }
        self.phase = Phase::Settling {
            base: None,
            up: true,
            hold: 0,
        };
        match previous {
            // The capacity of a link that delivers `min(limit, capacity) / rtt`, read from a
            // window below it and one past it.
            Some(previous) if !pays => {
                let estimate = previous.limit as f64 * ratio(now.rate, previous.rate);
                let estimate = estimate.clamp(previous.limit as f64, now.limit as f64);
                self.clamp(estimate.round() as usize)
            }
            // At the ceiling: settle there.
            _ => now.limit,
        }
    }

    fn settle(&mut self, base: Option<Measured>, up: bool, hold: u32, now: Measured) -> usize {
        let base = match base {
            Some(base) if base.limit != now.limit => base,
            // A measurement at the base limit: the base, refreshed.
            _ => {
                self.phase = Phase::Settling {
                    base: Some(now),
                    up,
                    hold: hold.saturating_sub(1),
                };
                return match hold {
                    0 => self.step(now.limit, up),
                    _ => now.limit,
                };
            }
        };
        let (kept, up, hold) = if now.limit > base.limit {
            match gained(base, now) {
                true => (now, true, 0),
                // One step up did not pay and the base is the floor: hold there.
                false if base.limit <= self.min => (base, true, HOLD_WINDOWS),
                // One step up did not pay: try one down from the base.
                false => (base, false, 0),
            }
        } else {
            match lost(base, now) {
                // Below the knee: back to the base, and hold there.
                true => (base, true, HOLD_WINDOWS),
                false => (now, false, 0),
            }
        };
        self.phase = Phase::Settling {
            base: Some(kept),
            up,
            hold,
        };
        match hold {
            0 => self.step(kept.limit, up),
            _ => kept.limit,
        }
    }

    /// One step (an eighth, at least one file) from `limit`, up or down; at the floor or the
    /// ceiling the climb turns round.
    fn step(&mut self, limit: usize, up: bool) -> usize {
        let (step, min, max) = ((limit / 8).max(1), self.min, self.max);
        let next = |up| match up {
            true => limit.saturating_add(step).clamp(min, max),
            false => limit.saturating_sub(step).clamp(min, max),
        };
        if next(up) != limit {
            return next(up);
        }
        if let Phase::Settling { up: direction, .. } = &mut self.phase {
            *direction = !up;
        }
        next(!up)
    }
}

/// Whether going from `from` up to `to` gained at least half of the proportional gain.
fn gained(from: Measured, to: Measured) -> bool {
    let proportional = ratio(to.limit as f64, from.limit as f64) - 1.0;
    ratio(to.rate, from.rate) >= 1.0 + proportional / 2.0
}

/// Whether going from `from` down to `to` lost at least half of the proportional share.
fn lost(from: Measured, to: Measured) -> bool {
    let proportional = 1.0 - ratio(to.limit as f64, from.limit as f64);
    ratio(to.rate, from.rate) < 1.0 - proportional / 2.0
}

/// `a / b`, with nothing measured (`b` zero) taken as no change.
fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 && a.is_finite() && b.is_finite() {
        a / b
    } else {
        1.0
    }
}
