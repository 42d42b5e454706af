//! When and how long to wait before sending a request again.
//!
//! The policy retries 429 and 503 (the service did not process the request), 408/502/504 for
//! idempotent methods only (a gateway timeout after a `start-export` POST may have started an
//! export), and transport failures only when a repeat is safe: a connection that was never
//! established, or any failure of an idempotent request. A POST is never re-sent after a failure
//! that may have reached the server.

use std::time::{Duration, SystemTime};

use reqwest::Method;
use reqwest::header::{HeaderMap, RETRY_AFTER};

/// How the client retries; [`RetryOptions::default`] documents each default against
/// the SDKs this crate measures itself by.
///
/// ```
/// use std::time::Duration;
/// use mesh_export::RetryOptions;
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
    /// with [`Error::RateLimited`](crate::Error::RateLimited) carrying the wait, so the caller
    /// decides (a batch job may sleep; an interactive tool should not hang).
    pub max_retry_after: Duration,
}

impl Default for RetryOptions {
    /// The defaults, and how they compare:
    ///
    /// | option | here | azure_core | AWS SDK (standard) | google-cloud-rust | openai (Stainless) |
    /// |---|---|---|---|---|---|
    /// | `max_attempts` | 4 | 9 | 3 | 10 | 3 |
    /// | `initial_backoff` | 500 ms | 200 ms | 1 s | 1 s | 500 ms |
    /// | `max_backoff` | 20 s | 30 s | 20 s | 60 s | 8 s |
    /// | jitter | full | +0–255 ms | full | full | −0–25 % |
    /// | `max_elapsed` | 90 s | 60 s | none | 60 s | none |
    /// | `max_retry_after` | 60 s | no cap, no retry-after for non-429/503 | hint capped at 20 s, then sleeps | ignores `Retry-After` | 120 s, then gives up |
    ///
    /// Why: iTwin rate limits are per minute (500 calls a minute on the free tier), so a hint of
    /// up to a minute is the service saying "next window" and is worth sleeping through; a
    /// longer one is returned as an error instead of silently shortened (AWS) or slept without
    /// bound (Azure). Four attempts with full jitter (AWS, Google) spread retries of many
    /// clients apart; 90 s leaves room for one full-minute hint plus backoff. Unlike Azure and
    /// AWS, a non-idempotent POST is retried only when it provably never reached the server
    /// (Google's rule), because the service has no idempotency keys.
    fn default() -> Self {
        RetryOptions {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(20),
            max_elapsed: Duration::from_secs(90),
            max_retry_after: Duration::from_secs(60),
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
        let ceiling = self.backoff_ceiling(retry).as_millis() as u64;
        Duration::from_millis(rand::random_range(0..=ceiling))
    }
}

/// The wait a response's `Retry-After` header asks for, as seconds or an HTTP-date
/// (RFC 9110 §10.2.3); `now` is the clock the date is measured against.
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, now))
}

/// Parses a `Retry-After` value: delay seconds, or an HTTP-date (a date in the past means no
/// wait). Returns `None` for anything else.
///
/// ```
/// use std::time::{Duration, SystemTime, UNIX_EPOCH};
/// use mesh_export::retry::parse_retry_after;
///
/// let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
/// assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
/// let later = httpdate::fmt_http_date(now + Duration::from_secs(5));
/// assert_eq!(parse_retry_after(&later, now), Some(Duration::from_secs(5)));
/// ```
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    // Some gateways send fractional seconds; RFC 9110 does not allow them, but honour them.
    if let Ok(seconds) = value.parse::<f64>() {
        // `try_from` rejects NaN, negatives and values past `Duration::MAX` instead of panicking.
        return Duration::try_from_secs_f64(seconds).ok();
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Whether a status says "try again later" for any request.
pub fn is_transient_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 502 | 503 | 504)
}

/// Whether a request with this method may be sent twice (RFC 9110 §9.2.2).
pub fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE
    )
}

/// Whether a response status is worth retrying for this method: 429 and 503 always (the
/// request was not processed); 408, 502 and 504 only when a repeat is harmless.
pub fn should_retry_status(status: u16, method: &Method) -> bool {
    match status {
        429 | 503 => true,
        408 | 502 | 504 => is_idempotent(method),
        _ => false,
    }
}

/// Whether a transport failure may be retried for this method: a connect error means the
/// request never left, so any method may be re-sent; after that, only idempotent ones.
pub fn should_retry_transport(error: &reqwest::Error, method: &Method) -> bool {
    if error.is_connect() {
        return true;
    }
    is_idempotent(method) && (error.is_timeout() || error.is_request() || error.is_body())
}

/// Sends `request` with `http`, retrying per `options` under the same rules as the client's
/// own calls (statuses, `Retry-After`, backoff, budget, no unsafe repeats). It adds no
/// authentication, which suits signed URLs such as tiles. The final response is returned
/// whatever its status; a hint above `max_retry_after` ends the call with
/// [`Error::RateLimited`](crate::Error::RateLimited).
///
/// ```no_run
/// # async fn demo(client: &mesh_export::Client, url: &str) -> Result<(), mesh_export::Error> {
/// let request = client.http().get(url).build().map_err(|e| mesh_export::Error::InvalidRequest(e.to_string()))?;
/// let response = mesh_export::retry::send_with_retry(client.http(), request, client.retry_options()).await?;
/// # let _ = response; Ok(()) }
/// ```
pub async fn send_with_retry(
    http: &reqwest::Client,
    request: reqwest::Request,
    options: &RetryOptions,
) -> Result<reqwest::Response, crate::Error> {
    let (result, error) = crate::policy::send_with_retries(http, request, options, None).await;
    if let Some(error) = error {
        return Err(error);
    }
    result.map_err(|source| crate::Error::Transport {
        source: source.without_url(),
        correlation_id: None,
    })
}

/// What to do after a retryable outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Wait this long, then send again.
    RetryAfter(Duration),
    /// The server's hint is above the cap: stop and report it.
    HintTooLong(Duration),
    /// Attempts or time budget exhausted: stop and return what we have.
    GiveUp,
}

/// Decides the next step after attempt number `attempt` (1-based) failed retryably.
pub(crate) fn decide(
    options: &RetryOptions,
    attempt: u32,
    elapsed: Duration,
    hint: Option<Duration>,
) -> Decision {
    if let Some(hint) = hint
        && hint > options.max_retry_after
    {
        return Decision::HintTooLong(hint);
    }
    if attempt >= options.max_attempts {
        return Decision::GiveUp;
    }
    // The server's hint wins over the computed backoff when it is given: it knows when its
    // window reopens, and waiting less only earns another 429.
    let wait = match hint {
        Some(hint) if !hint.is_zero() => hint,
        _ => options.backoff(attempt),
    };
    if elapsed + wait > options.max_elapsed {
        return Decision::GiveUp;
    }
    Decision::RetryAfter(wait)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    fn clock() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_750_000_000)
    }

    #[test]
    fn retry_after_too_large_to_be_a_duration_is_ignored() {
        // Found by the `retry_after` fuzz target: this used to panic in `from_secs_f64`.
        assert_eq!(parse_retry_after("1e300", clock()), None);
        assert_eq!(parse_retry_after("NaN", clock()), None);
        assert_eq!(parse_retry_after("-0.5", clock()), None);
    }

    #[test]
    fn retry_after_seconds() {
        assert_eq!(
            parse_retry_after(" 12 ", clock()),
            Some(Duration::from_secs(12))
        );
        assert_eq!(parse_retry_after("0", clock()), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("1.5", clock()),
            Some(Duration::from_millis(1500))
        );
    }

    #[test]
    fn retry_after_http_date_against_the_given_clock() {
        let date = httpdate::fmt_http_date(clock() + Duration::from_secs(42));
        assert_eq!(
            parse_retry_after(&date, clock()),
            Some(Duration::from_secs(42))
        );
        let past = httpdate::fmt_http_date(clock() - Duration::from_secs(42));
        assert_eq!(parse_retry_after(&past, clock()), Some(Duration::ZERO));
    }

    #[test]
    fn retry_after_garbage_is_no_hint() {
        assert_eq!(parse_retry_after("soon", clock()), None);
        assert_eq!(parse_retry_after("-3", clock()), None);
        assert_eq!(parse_retry_after("", clock()), None);
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_and_jitters_below_it() {
        let o = RetryOptions::default();
        assert_eq!(o.backoff_ceiling(1), Duration::from_millis(500));
        assert_eq!(o.backoff_ceiling(2), Duration::from_secs(1));
        assert_eq!(o.backoff_ceiling(4), Duration::from_secs(4));
        assert_eq!(o.backoff_ceiling(30), o.max_backoff);
        assert_eq!(o.backoff_ceiling(u32::MAX), o.max_backoff);
        for retry in 1..8 {
            for _ in 0..50 {
                assert!(o.backoff(retry) <= o.backoff_ceiling(retry));
            }
        }
        // Full jitter: over many draws some land in the lower half.
        assert!((0..200).any(|_| o.backoff(3) < o.backoff_ceiling(3) / 2));
    }

    #[test]
    fn the_hint_wins_over_backoff() {
        let o = RetryOptions::default();
        let d = decide(&o, 1, Duration::ZERO, Some(Duration::from_secs(7)));
        assert_eq!(d, Decision::RetryAfter(Duration::from_secs(7)));
    }

    #[test]
    fn a_hint_above_the_cap_is_reported_not_slept() {
        let o = RetryOptions::default();
        let d = decide(&o, 1, Duration::ZERO, Some(Duration::from_secs(3600)));
        assert_eq!(d, Decision::HintTooLong(Duration::from_secs(3600)));
    }

    #[test]
    fn attempts_and_budget_end_retries() {
        let o = RetryOptions::default();
        assert_eq!(decide(&o, 4, Duration::ZERO, None), Decision::GiveUp);
        assert_eq!(
            decide(&o, 1, Duration::from_secs(89), Some(Duration::from_secs(2))),
            Decision::GiveUp
        );
        assert_eq!(
            decide(&RetryOptions::none(), 1, Duration::ZERO, None),
            Decision::GiveUp
        );
    }

    #[test]
    fn post_is_retried_only_for_statuses_that_mean_not_processed() {
        assert!(should_retry_status(429, &Method::POST));
        assert!(should_retry_status(503, &Method::POST));
        assert!(!should_retry_status(504, &Method::POST));
        assert!(!should_retry_status(502, &Method::POST));
        assert!(should_retry_status(504, &Method::GET));
        assert!(!should_retry_status(500, &Method::GET));
    }
}
