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
//! Speed of finding the knee matters as much as finding it: the bench's tileset of 2,002
//! files takes about 16 round trips at 128 in flight, so each round trip spent below the knee
//! costs a few percent of the whole download. Hence:
//!
//! - **Start at 32** ([`START`], clamped to the floor and the ceiling), not at the floor: 32
//!   was the best fixed number against Azurite on loopback and 40 ms away, faster than 8 (the
//!   old fixed default) everywhere measured, and few enough for any blob store. From the floor
//!   (4), three more doublings stand between the download and 32.
//! - **Slow start doubles once a round trip**, as TCP's window does: a round is the transfers
//!   started between two doublings, and it is judged when the first transfer of the next
//!   round arrives, by which time the next round already runs at twice its limit. The first
//!   arrival with the pipeline full begins the second round, with nothing measured yet. A
//!   round pays when its throughput rose by at least half of what doubling gives below
//!   capacity (1.5x); when one does not, the capacity is estimated from the last two rounds
//!   (`previous limit * rate / previous rate`, exact for a link that delivers
//!   `min(limit, capacity) / rtt`) and the limit goes there. Judging a round one round trip
//!   late overshoots by up to four times the capacity for about two round trips; past the
//!   knee latency grows with the files in flight, so that costs memory rather than time.
//!   (Windows counted in transfers, at least 16 and twice the limit, measured one limit per
//!   two or three round trips: from 4, 128 took about fifteen.)
//! - **Settling** is a hill climb: one step more must earn at least half its proportional
//!   gain, else one step less is tried, which is kept unless it loses at least half its
//!   proportional share. So more files in flight must pay for themselves, the limit settles
//!   at the knee of the throughput curve (within a step of it), and it follows the knee when
//!   the link changes. A step is an eighth of the limit; each step that pays makes the next
//!   one in the same direction longer (a quarter, then a half), so the climb back after a
//!   backoff, or to a knee far from the estimate, takes three windows instead of six or more;
//!   a step that does not pay starts again at an eighth. After a round around the knee it
//!   holds for a few windows. Its windows are counted in transfers (at least 16, twice the
//!   limit): a download long enough to settle has the time, and one slow file moves a larger
//!   window less.
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
//! On a 100 ms round trip to a store whose knee is at 128, the limit is 64 after one round
//! trip, 128 after two and 256 after three, and back near 128 a round trip or two later; on
//! loopback doubling stops paying at once (the CPU is the bottleneck), and the climb takes it
//! down towards the floor in growing steps.
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

/// The first limit (clamped to the bounds). A download of a few thousand files 100 ms away
/// lasts a few dozen round trips, so every round trip spent below the knee shows in its time;
/// 32 was the best fixed number against Azurite on loopback and 40 ms away, and is a number
/// any blob store serves at once.
pub(crate) const START: usize = 32;

/// Transfers in a window of the climb at the least; more at a higher limit (twice the limit),
/// so that a window spans about two round trips and one slow file moves it little.
const MIN_WINDOW: usize = 16;

/// Transfers a round of slow start must have measured with the pipeline full to count: fewer
/// say more about the walk than about the link.
const MIN_ROUND: usize = 4;

/// Windows the limit holds at the knee, after a step up and a step down did not pay, before
/// it probes again.
const HOLD_WINDOWS: u32 = 4;

/// The largest step of the climb, as a shift: half the limit.
const MAX_STRIDE: u32 = 2;

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
    /// The transfers of the climb measured at the current limit.
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
    SlowStart(SlowStart),
    /// Climbing the throughput curve in steps; `base` is the limit the last step was judged
    /// against, `None` until a window at the current limit measured it. A step is the limit
    /// shifted right by `3 - stride`: an eighth, growing to a quarter and a half while steps
    /// in the same direction keep paying.
    Settling {
        base: Option<Measured>,
        up: bool,
        hold: u32,
        stride: u32,
    },
}

/// Doubling once a round trip while it pays. A round is the transfers started between two
/// doublings; it is judged when the first transfer of the next round arrives, by which time
/// the next round runs at twice its limit already, so the limit doubles every round trip, as
/// TCP's window does in its slow start, instead of every two or three.
#[derive(Debug, Clone, Copy)]
struct SlowStart {
    /// The round being measured.
    measuring: Round,
    /// When the next round began (at the current limit); `None` until a transfer arrived.
    next: Option<Instant>,
    /// The last round that was measured.
    previous: Option<Measured>,
}

#[derive(Debug, Clone, Copy)]
struct Round {
    /// When it began; `None` for the first, which began with the download.
    since: Option<Instant>,
    limit: usize,
    window: Window,
}

/// Transfers measured together.
#[derive(Debug, Default, Clone, Copy)]
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
        let start = START.clamp(min, max);
        let adaptive = matches!(concurrency, Concurrency::Adaptive { .. }).then(|| Adaptive {
            min,
            max,
            phase: Phase::SlowStart(SlowStart {
                measuring: Round {
                    since: None,
                    limit: start,
                    window: Window::default(),
                },
                next: None,
                previous: None,
            }),
            window: Window::default(),
            backed_off_at: None,
        });
        Limiter {
            limit: if adaptive.is_some() { start } else { min },
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
            Outcome::Ok => adaptive.arrived(sample, from)?,
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
    /// Adds a transfer that arrived if it started with the pipeline full at `limit`; whether
    /// it did.
    fn add(&mut self, sample: &Sample, limit: usize) -> bool {
        if sample.in_flight.saturating_mul(4) < limit.saturating_mul(3) {
            return false;
        }
        let took = sample.ended.saturating_duration_since(sample.started);
        // A transfer that took no measurable time is counted as a microsecond: the rate stays
        // finite.
        self.busy += took.max(Duration::from_micros(1)).as_secs_f64();
        self.bytes += sample.bytes.saturating_add(REQUEST_BYTES) as f64;
        self.in_flight += sample.in_flight.min(limit) as f64;
        self.transfers += 1;
        true
    }

    /// Bytes a second by Little's law.
    fn rate(&self) -> f64 {
        let mean_in_flight = self.in_flight / self.transfers.max(1) as f64;
        mean_in_flight * self.bytes / self.busy
    }

    /// Adds a transfer of the climb; the window's throughput once it holds enough transfers
    /// started under `limit` with the pipeline full.
    fn add_to_climb(&mut self, sample: &Sample, limit: usize) -> Option<f64> {
        let under_this_limit = self.since.is_none_or(|since| sample.started >= since);
        if !under_this_limit || !self.add(sample, limit) {
            return None;
        }
        (self.transfers >= MIN_WINDOW.max(limit.saturating_mul(2))).then(|| self.rate())
    }
}

impl Adaptive {
    /// The limit after a transfer arrived; `None` while it stays.
    fn arrived(&mut self, sample: &Sample, limit: usize) -> Option<usize> {
        match self.phase {
            Phase::SlowStart(state) => self.slow_start(state, sample, limit),
            Phase::Settling {
                base,
                up,
                hold,
                stride,
            } => {
                let rate = self.window.add_to_climb(sample, limit)?;
                Some(self.settle(base, up, hold, stride, Measured { limit, rate }))
            }
        }
    }

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
            self.phase = settling(Some(base), true, HOLD_WINDOWS);
            return Some(self.clamp(base.limit));
        }
        self.phase = settling(None, true, 0);
        Some(self.clamp((limit as f64 * factor) as usize))
    }

    fn clamp(&self, limit: usize) -> usize {
        limit.clamp(self.min, self.max)
    }

    /// Slow start fed an arrival at `limit`; the new limit when it changed.
    fn slow_start(&mut self, mut state: SlowStart, sample: &Sample, limit: usize) -> Option<usize> {
        let doubled = self.clamp(limit.saturating_mul(2));
        let Some(next) = state.next else {
            // The first arrival with the pipeline full: the next round begins at twice the
            // limit, with nothing measured yet, as TCP's window grows from the first
            // acknowledgement. Before it, the walk had too few files to hand out.
            if !state.measuring.window.add(sample, state.measuring.limit) {
                return None;
            }
            state.next = Some(sample.ended);
            self.phase = Phase::SlowStart(state);
            return (doubled != limit).then_some(doubled);
        };
        if sample.started < next {
            let in_round = (state.measuring.since).is_none_or(|since| sample.started >= since);
            if in_round {
                state.measuring.window.add(sample, state.measuring.limit);
                self.phase = Phase::SlowStart(state);
            }
            return None;
        }
        // The first transfer of the next round arrived: the measured round is over.
        let measured = state.measuring;
        state.measuring = Round {
            since: Some(next),
            limit,
            window: Window::default(),
        };
        state.measuring.window.add(sample, limit);
        state.next = Some(sample.ended);
        if measured.window.transfers < MIN_ROUND {
            // The walk, not the limit, bounded that round: nothing learnt, the limit stays.
            self.phase = Phase::SlowStart(state);
            return None;
        }
        let now = Measured {
            limit: measured.limit,
            rate: measured.window.rate(),
        };
        let pays = state.previous.is_none_or(|previous| gained(previous, now));
        if pays && (doubled > limit || measured.limit < limit) {
            // At the ceiling, the round running there is still judged before it settles.
            state.previous = Some(now);
            self.phase = Phase::SlowStart(state);
            return (doubled > limit).then_some(doubled);
        }
        self.phase = settling(None, true, 0);
        let to = match state.previous {
            // The capacity of a link that delivers `min(limit, capacity) / rtt`, read from a
            // round below it and one past it.
            Some(previous) if !pays => {
                let estimate = previous.limit as f64 * ratio(now.rate, previous.rate);
                let estimate = estimate.clamp(previous.limit as f64, now.limit as f64);
                self.clamp(estimate.round() as usize)
            }
            // At the ceiling: settle there.
            _ => limit,
        };
        (to != limit).then_some(to)
    }

    fn settle(
        &mut self,
        base: Option<Measured>,
        up: bool,
        hold: u32,
        stride: u32,
        now: Measured,
    ) -> usize {
        let base = match base {
            Some(base) if base.limit != now.limit => base,
            // A measurement at the base limit: the base, refreshed.
            _ => {
                self.phase = Phase::Settling {
                    base: Some(now),
                    up,
                    hold: hold.saturating_sub(1),
                    stride,
                };
                return match hold {
                    0 => self.step(now.limit, up),
                    _ => now.limit,
                };
            }
        };
        let faster = (stride + 1).min(MAX_STRIDE);
        let (kept, up, hold, stride) = if now.limit > base.limit {
            match gained(base, now) {
                // It paid: on, in a longer stride.
                true => (now, true, 0, faster),
                // One step up did not pay and the base is the floor: hold there.
                false if base.limit <= self.min => (base, true, HOLD_WINDOWS, 0),
                // One step up did not pay: try one down from the base.
                false => (base, false, 0, 0),
            }
        } else {
            match lost(base, now) {
                // Below the knee: back to the base, and hold there.
                true => (base, true, HOLD_WINDOWS, 0),
                false => (now, false, 0, faster),
            }
        };
        self.phase = Phase::Settling {
            base: Some(kept),
            up,
            hold,
            stride,
        };
        match hold {
            0 => self.step(kept.limit, up),
            _ => kept.limit,
        }
    }

    /// One step from `limit`, up or down, of the current stride (at least one file); at the
    /// floor or the ceiling the climb turns round, from the first stride.
    fn step(&mut self, limit: usize, up: bool) -> usize {
        let Phase::Settling {
            up: direction,
            stride,
            ..
        } = &mut self.phase
        else {
            return limit;
        };
        let (min, max) = (self.min, self.max);
        let next = |up, stride: u32| {
            let step = (limit >> (3 - stride.min(MAX_STRIDE))).max(1);
            match up {
                true => limit.saturating_add(step).clamp(min, max),
                false => limit.saturating_sub(step).clamp(min, max),
            }
        };
        if next(up, *stride) != limit {
            return next(up, *stride);
        }
        (*direction, *stride) = (!up, 0);
        next(!up, 0)
    }
}

/// Settling from the first step, with `base` measured.
fn settling(base: Option<Measured>, up: bool, hold: u32) -> Phase {
    Phase::Settling {
        base,
        up,
        hold,
        stride: 0,
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
