//! The one retry engine: a classifier ([`ClassifyRetry`]) says whether an outcome may be
//! repeated and why, the strategy ([`RetryOptions`]) says when, and one loop ([`run`]) applies
//! both.
//!
//! The classifier is an open trait: each kind of call implements it beside its own code (the
//! API client for its calls and its token requests, the tile downloader for blob fetches), so
//! what is retryable is decided where the call's risks are known, and the loop, the backoff
//! and the handling of `Retry-After` stay one.
//!
//! `Retry-After` is honoured as seconds or an HTTP-date ([`parse_retry_after`]). A hint of zero
//! means "no particular wait", so the computed backoff applies (it never turns into a tight
//! loop); a hint above [`RetryOptions::max_retry_after`], including one too large to represent,
//! ends the call with the wait instead of sleeping through it ([`Ended::HintTooLong`]).

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod after;
mod classify;

pub use after::{parse_retry_after, retry_after};
pub use classify::{ClassifyRetry, RepeatableRequest, Verdict, is_idempotent, transport_kind};

/// How the client retries; [`RetryOptions::default`] documents each default against
/// the SDKs this crate measures itself by.
///
/// ```
/// use std::time::Duration;
/// use http_policy::retry::RetryOptions;
///
/// let patient = RetryOptions { max_attempts: 8, max_elapsed: Duration::from_secs(300), ..Default::default() };
/// let never = RetryOptions::none();
/// assert_eq!(never.max_attempts, 1);
/// # let _ = patient;
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryOptions {
    /// Attempts in all, the first one included; `1` turns retries off.
    pub max_attempts: u32,
    /// The backoff before the first retry when the server gives no `Retry-After`; it doubles
    /// with each retry, and the actual wait is drawn uniformly from zero to it (full jitter).
    pub initial_backoff: Duration,
    /// The largest computed backoff. It does not limit a server's `Retry-After`.
    pub max_backoff: Duration,
    /// Time budget for one call across all attempts and waits: no wait starts that would end
    /// after it.
    pub max_elapsed: Duration,
    /// The longest `Retry-After` the client sleeps through. A longer hint ends the call at once
    /// with the wait (the caller's error type names it), so the caller decides (a batch job may sleep; an interactive tool should not hang).
    pub max_retry_after: Duration,
    /// Told of every wait before it starts, so a caller can say why it is waiting (a command
    /// line tool that would otherwise sit silent through a one-minute `Retry-After`).
    pub on_wait: Option<WaitObserver>,
}

/// A wait [`run`] is about to sleep through, as a [`WaitObserver`] is told of it.
#[derive(Clone, Copy)]
pub struct RetryWait<'a> {
    /// What is being sent (an operation, a token request, a tile file).
    pub subject: &'a (dyn std::fmt::Display + Sync),
    /// The attempt that follows the wait (2 for the first retry).
    pub next_attempt: u32,
    /// How long the wait lasts.
    pub wait: Duration,
    /// Why the last attempt failed retryably (the classifier's reason: `rate limited`, ...).
    pub reason: &'static str,
    /// Whether the server asked for this wait (`Retry-After`) rather than the backoff choosing it.
    pub hinted: bool,
}

/// A callback told of each retry wait ([`RetryOptions::on_wait`]). Cheap to clone; two
/// observers are equal only when they are the same one.
#[derive(Clone)]
pub struct WaitObserver(Arc<dyn Fn(&RetryWait<'_>) + Send + Sync>);

impl WaitObserver {
    /// An observer calling `f` before each wait.
    pub fn new(f: impl Fn(&RetryWait<'_>) + Send + Sync + 'static) -> Self {
        WaitObserver(Arc::new(f))
    }

    fn notify(&self, wait: &RetryWait<'_>) {
        (self.0)(wait);
    }
}

impl std::fmt::Debug for RetryWait<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RetryWait")
            .field("subject", &self.subject.to_string())
            .field("next_attempt", &self.next_attempt)
            .field("wait", &self.wait)
            .field("reason", &self.reason)
            .field("hinted", &self.hinted)
            .finish()
    }
}

impl std::fmt::Debug for WaitObserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WaitObserver")
    }
}

impl PartialEq for WaitObserver {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for WaitObserver {}

impl Default for RetryOptions {
    /// The defaults: 4 attempts, backoff from 500 ms doubling to 20 s with full jitter, 90 s in
    /// all, and `Retry-After` hints slept through up to 60 s.
    ///
    /// Why: iTwin rate limits are per minute (500 calls a minute on the free tier), so a hint of
    /// up to a minute is the service saying "next window" and is worth sleeping through; a
    /// longer one is returned as an error, so the caller decides. Four attempts with full
    /// jitter spread the retries of many clients apart; 90 s leaves room for one full-minute
    /// hint plus backoff. A non-idempotent POST is retried only when it provably never reached
    /// the server, because the service has no idempotency keys.
    fn default() -> Self {
        RetryOptions {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(20),
            max_elapsed: Duration::from_secs(90),
            max_retry_after: Duration::from_secs(60),
            on_wait: None,
        }
    }
}

impl RetryOptions {
    /// No retries: every call is sent once.
    pub fn none() -> Self {
        RetryOptions {
            max_attempts: 1,
            ..RetryOptions::default()
        }
    }

    /// The upper bound of the backoff before retry number `retry` (1-based), before jitter.
    pub fn backoff_ceiling(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry.saturating_sub(1));
        self.initial_backoff
            .checked_mul(factor)
            .unwrap_or(self.max_backoff)
            .min(self.max_backoff)
    }

    /// A full-jitter backoff before retry number `retry` (1-based): uniform in
    /// `0..=backoff_ceiling(retry)`.
    pub fn backoff(&self, retry: u32) -> Duration {
        let ceiling = u64::try_from(self.backoff_ceiling(retry).as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(rand::random_range(0..=ceiling))
    }

    /// What to do after attempt number `attempt` (1-based) failed retryably, `elapsed` into
    /// the call, with the server's `hint`. No arithmetic here can overflow: a wait that cannot
    /// be added to the elapsed time ends the call like any wait past the budget.
    pub fn decide(&self, attempt: u32, elapsed: Duration, hint: Option<Duration>) -> Decision {
        if let Some(hint) = hint
            && hint > self.max_retry_after
        {
            return Decision::HintTooLong(hint);
        }
        if attempt >= self.max_attempts {
            return Decision::GiveUp;
        }
        // The server's hint wins over the computed backoff: it knows when its window reopens,
        // and waiting less only earns another 429. Zero is no hint (see the module docs).
        let wait = match hint {
            Some(hint) if !hint.is_zero() => hint,
            _ => self.backoff(attempt),
        };
        match elapsed.checked_add(wait) {
            Some(end) if end <= self.max_elapsed => Decision::RetryAfter(wait),
            _ => Decision::GiveUp,
        }
    }
}

/// The request to send: a copy of `template` when `copy` (another attempt may follow),
/// else the template itself, which ends the attempts.
pub fn take_or_copy(
    template: &Mutex<Option<reqwest::Request>>,
    copy: bool,
) -> Option<reqwest::Request> {
    let mut template = template.lock().unwrap_or_else(|p| p.into_inner());
    let copied = copy
        .then(|| template.as_ref().and_then(reqwest::Request::try_clone))
        .flatten();
    copied.or_else(|| template.take())
}

/// What the strategy says after a retryable outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Wait this long, then send again.
    RetryAfter(Duration),
    /// The server's hint is above the cap: stop and report it.
    HintTooLong(Duration),
    /// Attempts or time budget exhausted: stop and return what we have.
    GiveUp,
}

/// How [`run`] ended.
#[derive(Debug)]
pub enum Ended<T> {
    /// The last attempt's outcome: final, or retryable with no retry left.
    Outcome(T),
    /// A retryable outcome whose `Retry-After` is above the cap.
    HintTooLong {
        /// The outcome that carried the hint.
        outcome: T,
        /// The wait the server asked for.
        wait: Duration,
    },
}

/// The one retry loop: runs `attempt(n)` (1-based) until `classify` calls its outcome final or
/// `options` end the call. Each retry is logged with `subject` (what is being sent: an
/// operation and its correlation id, a token request, a tile file; formatted only when the
/// event is logged), its reason and its wait, and told to [`RetryOptions::on_wait`] first.
pub async fn run<T, F>(
    options: &RetryOptions,
    subject: &(dyn std::fmt::Display + Sync),
    classify: impl Fn(&T) -> Verdict,
    mut attempt: impl FnMut(u32) -> F,
) -> Ended<T>
where
    F: Future<Output = T>,
{
    let started = Instant::now();
    let mut number: u32 = 1;
    loop {
        let outcome = attempt(number).await;
        let Verdict::Retry { reason, hint } = classify(&outcome) else {
            return Ended::Outcome(outcome);
        };
        match options.decide(number, started.elapsed(), hint) {
            Decision::RetryAfter(wait) => {
                tracing::info!(
                    %subject,
                    attempt = number + 1,
                    wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                    reason,
                    hinted = hint.is_some(),
                    "retrying"
                );
                if let Some(observer) = &options.on_wait {
                    observer.notify(&RetryWait {
                        subject,
                        next_attempt: number.saturating_add(1),
                        wait,
                        reason,
                        hinted: hint.is_some_and(|h| !h.is_zero()),
                    });
                }
                drop(outcome);
                tokio::time::sleep(wait).await;
                number = number.saturating_add(1);
            }
            Decision::HintTooLong(wait) => {
                tracing::warn!(
                    %subject,
                    attempt = number,
                    wait_s = wait.as_secs(),
                    reason,
                    "server asked to wait longer than max_retry_after"
                );
                return Ended::HintTooLong { outcome, wait };
            }
            Decision::GiveUp => {
                tracing::warn!(
                    %subject,
                    attempt = number,
                    elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                    reason,
                    "retries exhausted"
                );
                return Ended::Outcome(outcome);
            }
        }
    }
}

#[cfg(test)]
mod tests;
