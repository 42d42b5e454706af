use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

use super::*;

/// A link that delivers `min(in flight, capacity) / rtt` files a second: a file started with
/// `n` in flight takes `rtt * max(1, n / capacity)`. A store that throttles answers files
/// started past `throttle_above` in flight at once with a quick 503.
#[derive(Clone, Copy)]
struct Link {
    capacity: usize,
    rtt: Duration,
    throttle_above: Option<usize>,
}

impl Link {
    fn new(capacity: usize, rtt_ms: u64) -> Self {
        Link {
            capacity,
            rtt: Duration::from_millis(rtt_ms),
            throttle_above: None,
        }
    }
}

/// Transfers in simulated time, from `t0`: the limiter starts files up to its limit, each
/// finishing as the link says, and is fed each one as it ends.
struct Simulation {
    t0: Instant,
    now: Duration,
    /// Ends, with the sample each gives.
    in_flight: BinaryHeap<Reverse<(Duration, u64)>>,
    samples: std::collections::HashMap<u64, Sample>,
    started: u64,
}

impl Simulation {
    fn new() -> Self {
        Simulation {
            t0: Instant::now(),
            now: Duration::ZERO,
            in_flight: BinaryHeap::new(),
            samples: Default::default(),
            started: 0,
        }
    }

    /// Runs `transfers` transfers to their end over `link`; the limit after each.
    fn run(&mut self, limiter: &mut Limiter, link: Link, transfers: usize) -> Vec<usize> {
        let mut limits = Vec::with_capacity(transfers);
        for _ in 0..transfers {
            while self.in_flight.len() < limiter.limit() {
                self.start(link);
            }
            let Reverse((end, id)) = self.in_flight.pop().expect("files in flight");
            self.now = end;
            let sample = self.samples.remove(&id).expect("a started file");
            limiter.record(&sample);
            limits.push(limiter.limit());
        }
        limits
    }

    /// Downloads `files` files over `link` from the start, as the driver would: as many in
    /// flight as the limit allows while files are left; the simulated time the last one ends.
    fn download(&mut self, limiter: &mut Limiter, link: Link, files: usize) -> Duration {
        let mut left = files;
        while left > 0 || !self.in_flight.is_empty() {
            while left > 0 && self.in_flight.len() < limiter.limit() {
                self.start(link);
                left -= 1;
            }
            let Reverse((end, id)) = self.in_flight.pop().expect("files in flight");
            self.now = end;
            let sample = self.samples.remove(&id).expect("a started file");
            limiter.record(&sample);
        }
        self.now
    }

    fn start(&mut self, link: Link) {
        let n = self.in_flight.len() + 1;
        let throttled = link.throttle_above.is_some_and(|above| n > above);
        let took = if throttled {
            link.rtt / 4
        } else {
            link.rtt.mul_f64((n as f64 / link.capacity as f64).max(1.0))
        };
        let id = self.started;
        self.started += 1;
        self.samples.insert(
            id,
            Sample {
                started: self.t0 + self.now,
                ended: self.t0 + self.now + took,
                bytes: 16 * 1024,
                in_flight: n,
                outcome: match throttled {
                    true => Outcome::Throttled,
                    false => Outcome::Ok,
                },
            },
        );
        self.in_flight.push(Reverse((self.now + took, id)));
    }
}

fn adaptive(min: usize, max: usize) -> Limiter {
    Limiter::new(Concurrency::Adaptive { min, max })
}

fn within(limits: &[usize], low: usize, high: usize) -> bool {
    limits.iter().all(|l| (low..=high).contains(l))
}

fn mean(limits: &[usize]) -> f64 {
    limits.iter().sum::<usize>() as f64 / limits.len() as f64
}

#[test]
fn from_32_it_doubles_then_settles_around_the_capacity() {
    let mut limiter = adaptive(4, 256);
    let limits = Simulation::new().run(&mut limiter, Link::new(40, 40), 4000);
    assert_eq!(limits[0], 32, "it starts at 32");
    let reached = limits.iter().position(|&l| l >= 35).expect("reaches 35");
    assert!(reached <= 100, "reached 35 files in flight after {reached}");
    let settled = &limits[1000..];
    let mut seen: Vec<usize> = settled.to_vec();
    seen.dedup();
    // A step (an eighth) either side of the knee, and mostly at it.
    assert!(within(settled, 35, 46), "{seen:?}");
    let average = mean(settled);
    assert!((38.0..=43.0).contains(&average), "settled around {average}");
}

#[test]
fn it_starts_at_32_within_its_bounds() {
    assert_eq!(adaptive(4, 256).limit(), 32);
    assert_eq!(adaptive(4, 16).limit(), 16);
    assert_eq!(adaptive(64, 256).limit(), 64);
}

/// The simulated time a download of `files` files over `link` takes with `concurrency`.
fn download_time(concurrency: Concurrency, link: Link, files: usize) -> Duration {
    Simulation::new().download(&mut Limiter::new(concurrency), link, files)
}

/// The default's speed over the best of fixed 8 to 256 over `link`, for `files` files.
fn default_vs_best_fixed(link: Link, files: usize) -> f64 {
    let default = download_time(Concurrency::default(), link, files);
    let best = [8, 16, 32, 64, 128, 256]
        .map(|n| download_time(Concurrency::Fixed(n), link, files))
        .into_iter()
        .min()
        .expect("a sweep");
    best.as_secs_f64() / default.as_secs_f64()
}

#[test]
fn a_short_download_far_away_is_nearly_as_fast_as_the_best_fixed() {
    // 2,002 files: the bench's tileset, a few dozen round trips at the best fixed number.
    for (capacity, rtt_ms, at_least) in [
        (32, 40, 0.95),
        (64, 40, 0.95),
        (64, 100, 0.95),
        (128, 100, 0.85),
    ] {
        let speed = default_vs_best_fixed(Link::new(capacity, rtt_ms), 2002);
        assert!(
            speed >= at_least,
            "capacity {capacity}, {rtt_ms} ms: {speed:.2} of the best fixed"
        );
    }
}

#[test]
fn a_long_download_is_as_fast_as_the_best_fixed_to_within_a_few_percent() {
    for (capacity, rtt_ms) in [(1, 1), (32, 40), (128, 100), (1000, 100)] {
        let speed = default_vs_best_fixed(Link::new(capacity, rtt_ms), 50_000);
        assert!(
            speed >= 0.96,
            "capacity {capacity}, {rtt_ms} ms: {speed:.2}"
        );
    }
}

#[test]
fn it_doubles_every_round_trip_while_it_pays() {
    let mut limiter = adaptive(4, 256);
    let mut simulation = Simulation::new();
    let link = Link::new(1000, 100);
    let mut reached = None;
    for _ in 0..2000 {
        simulation.run(&mut limiter, link, 1);
        if limiter.limit() >= 256 {
            reached = Some(simulation.now);
            break;
        }
    }
    // 32, 64, 128, 256: three round trips, the first arrival after one.
    let reached = reached.expect("reaches the ceiling");
    assert!(reached <= Duration::from_millis(300), "{reached:?}");
}

#[test]
fn a_link_with_more_capacity_than_the_ceiling_keeps_the_ceiling() {
    let mut limiter = adaptive(4, 64);
    let limits = Simulation::new().run(&mut limiter, Link::new(1000, 40), 3000);
    assert!(within(&limits[1000..], 56, 64), "{:?}", &limits[1000..1050]);
    assert_eq!(limits.iter().max(), Some(&64));
}

#[test]
fn a_link_that_gains_nothing_from_more_files_comes_down_near_the_floor() {
    // Loopback: the client's CPU is the bottleneck, one file at a time is as fast as many.
    let mut limiter = adaptive(4, 256);
    let limits = Simulation::new().run(&mut limiter, Link::new(1, 1), 3000);
    let down = limits.iter().position(|&l| l <= 8).expect("comes down");
    assert!(down <= 1000, "down to 8 after {down}");
    assert!(
        within(&limits[1500..], 4, 8),
        "{:?}",
        limits[1500..].iter().max()
    );
    assert!(mean(&limits[1500..]) < 5.0, "{}", mean(&limits[1500..]));
}

#[test]
fn it_follows_the_capacity_down_and_up_again() {
    let mut limiter = adaptive(4, 256);
    let mut simulation = Simulation::new();
    simulation.run(&mut limiter, Link::new(64, 40), 3000);
    let busier = simulation.run(&mut limiter, Link::new(16, 40), 3000);
    assert!(within(&busier[2000..], 14, 18), "{:?}", &busier[2000..2050]);
    let quieter = simulation.run(&mut limiter, Link::new(64, 40), 6000);
    let average = mean(&quieter[4000..]);
    assert!((56.0..=72.0).contains(&average), "settled around {average}");
}

#[test]
fn a_store_that_throttles_brings_it_down_below_its_threshold() {
    let mut limiter = adaptive(4, 256);
    let mut simulation = Simulation::new();
    let before = simulation.run(&mut limiter, Link::new(64, 40), 3000);
    assert!(before[2999] >= 56, "{}", before[2999]);
    let throttling = Link {
        throttle_above: Some(20),
        ..Link::new(64, 40)
    };
    let limits = simulation.run(&mut limiter, throttling, 3000);
    // Halved once a round: 64, 32, 16 within a few rounds, then it climbs by eighths and is
    // halved again on crossing 20.
    let below = limits.iter().position(|&l| l <= 20).expect("below 20");
    assert!(below <= 200, "below the threshold after {below}");
    assert!(within(&limits[1000..], 4, 24), "{:?}", &limits[1000..1050]);
    assert!(mean(&limits[1000..]) >= 8.0, "not driven to the floor");
}

#[test]
fn a_store_with_a_fixed_limit_keeps_it_near_that_limit_not_on_a_sawtooth() {
    let mut limiter = adaptive(4, 256);
    let store = Link {
        throttle_above: Some(32),
        ..Link::new(1000, 40)
    };
    let limits = Simulation::new().run(&mut limiter, store, 6000);
    let settled = &limits[2000..];
    let average = mean(settled);
    assert!((28.0..=36.0).contains(&average), "settled around {average}");
    assert!(within(settled, 16, 36), "{:?}", settled.iter().min());
}

/// A limiter at `limit`, in slow start, and an instant to go on from.
fn at(limit: usize, t0: Instant) -> (Limiter, Instant) {
    let limiter = adaptive(4, limit);
    assert_eq!(limiter.limit(), limit);
    (limiter, t0)
}

fn sample(started: Instant, ended: Instant, in_flight: usize, outcome: Outcome) -> Sample {
    Sample {
        started,
        ended,
        bytes: 16 * 1024,
        in_flight,
        outcome,
    }
}

#[test]
fn a_burst_of_429s_halves_the_limit_once_a_round() {
    let t0 = Instant::now();
    let (mut limiter, now) = at(32, t0);
    let started = now;
    let mut changes = Vec::new();
    // 32 files sent at 32 in flight, all answered 429.
    for i in 1..=32 {
        let ended = started + Duration::from_millis(i);
        changes.push(limiter.record(&sample(started, ended, 32, Outcome::Throttled)));
    }
    assert_eq!(changes[0], Some(Change::BackedOff { from: 32, to: 16 }));
    assert!(changes[1..].iter().all(Option::is_none), "{changes:?}");
    assert_eq!(limiter.limit(), 16);
    // A file sent after the backoff and throttled too halves it again.
    let later = started + Duration::from_millis(40);
    let change = limiter.record(&sample(later, later, 16, Outcome::Throttled));
    assert_eq!(change, Some(Change::BackedOff { from: 16, to: 8 }));
}

#[test]
fn a_transport_failure_takes_a_quarter_off_and_other_failures_nothing() {
    let t0 = Instant::now();
    let (mut limiter, now) = at(32, t0);
    assert_eq!(limiter.record(&sample(now, now, 32, Outcome::Other)), None);
    assert_eq!(limiter.limit(), 32);
    let change = limiter.record(&sample(now, now, 32, Outcome::Transient));
    assert_eq!(change, Some(Change::BackedOff { from: 32, to: 24 }));
}

#[test]
fn the_floor_holds_against_any_number_of_429s() {
    let t0 = Instant::now();
    let mut limiter = adaptive(3, 10);
    let mut limits = Vec::new();
    for i in 0..100u32 {
        let at = t0 + Duration::from_millis(u64::from(i));
        limiter.record(&sample(at, at, 3, Outcome::Throttled));
        limits.push(limiter.limit());
    }
    assert_eq!(limits[..3], [5, 3, 3]);
    assert!(limits.iter().all(|&l| l == 3 || l == 5));
    assert_eq!(limiter.limit(), 3);
}

#[test]
fn transfers_started_with_the_pipeline_half_empty_do_not_move_it() {
    // The walk has few files to hand out: the limit is not what bounds throughput.
    let t0 = Instant::now();
    let (mut limiter, mut now) = at(16, t0);
    for _ in 0..1000 {
        let started = now;
        now += Duration::from_millis(1);
        assert_eq!(limiter.record(&sample(started, now, 11, Outcome::Ok)), None);
    }
    assert_eq!(limiter.limit(), 16);
}

#[test]
fn a_fixed_concurrency_never_changes() {
    let t0 = Instant::now();
    let mut limiter = Limiter::new(Concurrency::Fixed(7));
    for outcome in [Outcome::Ok, Outcome::Throttled, Outcome::Transient] {
        for i in 0..100 {
            let ended = t0 + Duration::from_millis(i);
            assert_eq!(limiter.record(&sample(t0, ended, 7, outcome)), None);
        }
    }
    assert_eq!(limiter.limit(), 7);
    assert_eq!(Limiter::new(Concurrency::Fixed(0)).limit(), 1);
}

#[test]
fn bounds_are_at_least_one_and_in_order() {
    let bounds = |min, max| Concurrency::Adaptive { min, max }.bounds();
    assert_eq!(bounds(0, 0), (1, 1));
    assert_eq!(bounds(10, 2), (10, 10));
    assert_eq!(bounds(4, 256), (4, 256));
    assert_eq!(adaptive(0, 0).limit(), 1);
    assert_eq!(adaptive(10, 2).limit(), 10);
}

#[test]
fn absurd_samples_keep_it_within_its_bounds() {
    // Zero and backward durations, no bytes and u64::MAX bytes, nothing and usize::MAX in
    // flight, every outcome, in a fixed pseudo-random order.
    let t0 = Instant::now();
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut draw = move |n: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % n
    };
    for (min, max) in [
        (1, 1),
        (1, 2),
        (4, 256),
        (1, usize::MAX),
        (usize::MAX, usize::MAX),
    ] {
        let mut limiter = adaptive(min, max);
        for _ in 0..20_000 {
            let start = t0 + Duration::from_millis(draw(1000));
            let end = t0 + Duration::from_millis(draw(1000));
            let bytes = [0, 1, 16 * 1024, u64::MAX][draw(4) as usize];
            let in_flight = [0, 1, limiter.limit(), usize::MAX][draw(4) as usize];
            let outcome = [
                Outcome::Ok,
                Outcome::Ok,
                Outcome::Throttled,
                Outcome::Transient,
            ][draw(4) as usize];
            limiter.record(&Sample {
                started: start,
                ended: end,
                bytes,
                in_flight,
                outcome,
            });
            assert!((min.max(1)..=max.max(min).max(1)).contains(&limiter.limit()));
        }
    }
}

#[test]
fn rates_of_nothing_measured_are_no_change() {
    assert_eq!(ratio(1.0, 0.0), 1.0);
    assert_eq!(ratio(f64::INFINITY, 2.0), 1.0);
    assert_eq!(ratio(3.0, 2.0), 1.5);
    let at = |limit, rate| Measured { limit, rate };
    assert!(gained(at(8, 100.0), at(16, 150.0)));
    assert!(!gained(at(8, 100.0), at(16, 149.0)));
    assert!(lost(at(16, 100.0), at(14, 93.0)));
    assert!(!lost(at(16, 100.0), at(14, 94.0)));
}

#[test]
fn after_a_backoff_it_climbs_back_in_growing_steps() {
    let mut limiter = adaptive(4, 256);
    let mut simulation = Simulation::new();
    let link = Link::new(64, 40);
    let before = simulation.run(&mut limiter, link, 3000);
    assert!(before[2999] >= 56, "{}", before[2999]);
    // One 503, sent after everything before: halved.
    let at = simulation.t0 + simulation.now;
    let from = limiter.limit();
    let change = limiter.record(&sample(at, at, from, Outcome::Throttled));
    assert_eq!(change, Some(Change::BackedOff { from, to: from / 2 }));
    let after = simulation.run(&mut limiter, link, 2000);
    let back = after.iter().position(|&l| l >= 56).expect("climbs back");
    let mut seen = after[..back + 1].to_vec();
    seen.dedup();
    // Steps of an eighth, a quarter and a half of the limit: three windows of twice the limit,
    // each after the transfers sent before it (by eighths alone, six).
    assert!(back <= 400, "back at 56 after {back} transfers: {seen:?}");
}
