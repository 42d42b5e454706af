//! The one retry loop, split in two: a [`Classifier`] says whether an outcome may
//! be repeated and why, the strategy ([`RetryOptions`]) says when, and one loop (`run`, used
//! inside the crate) applies both.
//!
//! API calls ([`send_with_retry`] too), token fetches and the downloader's blob fetches go
//! through that loop; they differ only in their classifier:
//!
//! | outcome | [`Classifier::ApiCall`] | [`Classifier::TokenFetch`] | [`Classifier::BlobFetch`] |
//! |---|---|---|---|
//! | 429 | any method | yes | yes |
//! | 408, 502, 503, 504 | idempotent methods | yes | yes |
//! | 500 | no | yes | yes |
//! | connection never established | any method | yes | yes |
//! | other transport failure (timeout, reset, body cut off) | idempotent methods | yes | yes |
//!
//! Why they differ: a gateway can answer 502/503/504 (or time out) *after* the service acted,
//! and the service has no idempotency keys, so a `start-export` POST is repeated only when the
//! request provably never reached it (a refused connection, or a 429 from the rate limiter in
//! front of it). A Mesh Export 500 is a failure of the handler, not of the path to it: the spec
//! does not call it transient, repeating a POST could start a second export, and repeating a GET
//! spends rate limit on a bug. A blob store's 500 is different: Azure Storage and S3 document
//! `InternalError`/`OperationTimedOut` as transient and ask clients to retry, and a GET of an
//! immutable blob is harmless to repeat. A token request only mints another token, so it is
//! safe to repeat whatever happened to the first.
//!
//! `Retry-After` is honoured as seconds or an HTTP-date. A hint of zero means "no particular
//! wait", so the computed backoff applies (it never turns into a tight loop); a hint above
//! [`RetryOptions::max_retry_after`], including one too large to represent, ends the call with
//! the wait instead of sleeping through it.

use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{Method, StatusCode};

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
    /// The defaults: 4 attempts, backoff from 500 ms doubling to 20 s with full jitter, 90 s in
    /// all, and `Retry-After` hints slept through up to 60 s.
    ///
    /// Why: iTwin rate limits are per minute (500 calls a minute on the free tier), so a hint of
    /// up to a minute is the service saying "next window" and is worth sleeping through; a
    /// longer one is returned as an error, so the caller decides. Four attempts with full
    /// jitter spread the retries of many clients apart; 90 s leaves room for one full-minute
    /// hint plus backoff. A non-idempotent POST is retried only when it provably never reached
    /// the server, because the service has no idempotency keys. (`DESIGN.md` in this crate
    /// compares these defaults with other SDKs'.)
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
        let ceiling = u64::try_from(self.backoff_ceiling(retry).as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(rand::random_range(0..=ceiling))
    }

    /// What to do after attempt number `attempt` (1-based) failed retryably, `elapsed` into
    /// the call, with the server's `hint`. No arithmetic here can overflow: a wait that cannot
    /// be added to the elapsed time ends the call like any wait past the budget.
    pub(crate) fn decide(
        &self,
        attempt: u32,
        elapsed: Duration,
        hint: Option<Duration>,
    ) -> Decision {
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

/// The wait a response's `Retry-After` header asks for, as seconds or an HTTP-date
/// (RFC 9110 §10.2.3); `now` is the clock the date is measured against.
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, now))
}

/// Parses a `Retry-After` value: delay seconds, or an HTTP-date (a date in the past means no
/// wait). A number too large for a [`Duration`] is [`Duration::MAX`]: the server asked for a
/// very long wait, which is above any cap, not for none. Returns `None` for anything else.
///
/// ```
/// use std::time::{Duration, SystemTime, UNIX_EPOCH};
/// use mesh_export::retry::parse_retry_after;
///
/// let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
/// assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
/// let later = httpdate::fmt_http_date(now + Duration::from_secs(5));
/// assert_eq!(parse_retry_after(&later, now), Some(Duration::from_secs(5)));
/// assert_eq!(parse_retry_after("1e300", now), Some(Duration::MAX));
/// ```
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return Some(
            value
                .parse::<u64>()
                .map_or(Duration::MAX, Duration::from_secs),
        );
    }
    // Some gateways send fractional seconds; RFC 9110 does not allow them, but honour them.
    if let Ok(seconds) = value.parse::<f64>() {
        if seconds.is_nan() || seconds < 0.0 {
            return None;
        }
        return Some(Duration::try_from_secs_f64(seconds).unwrap_or(Duration::MAX));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Whether a request with this method may be sent twice (RFC 9110 §9.2.2).
pub fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE
    )
}

/// What kind of request an outcome belongs to; each says what is retryable and why (the table
/// in the [module docs](self)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Classifier {
    /// A call of the Mesh Export API.
    ApiCall,
    /// A request to the OAuth2 token endpoint.
    TokenFetch,
    /// A `GET` of a blob by signed URL (tiles).
    BlobFetch,
}

/// Whether an outcome may be tried again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Final: success, or a failure a repeat would not fix or could make worse.
    Final,
    /// Worth another attempt.
    Retry {
        /// Why, for the log.
        reason: &'static str,
        /// The server's `Retry-After`, if it gave one.
        hint: Option<Duration>,
    },
}

impl Classifier {
    /// The verdict on a response with `status` and `headers` to a `method` request.
    pub fn classify_status(
        self,
        method: &Method,
        status: StatusCode,
        headers: &HeaderMap,
    ) -> Verdict {
        let code = status.as_u16();
        let retry = |reason| Verdict::Retry {
            reason,
            hint: retry_after(headers, SystemTime::now()),
        };
        match (self, code) {
            (_, 429) => retry("rate limited"),
            (Classifier::ApiCall, 408 | 502 | 503 | 504) if is_idempotent(method) => {
                retry("gateway or service unavailable")
            }
            (Classifier::TokenFetch | Classifier::BlobFetch, 408 | 500..=599) => {
                retry("server error")
            }
            _ => Verdict::Final,
        }
    }

    /// The verdict on a transport failure of a `method` request.
    pub fn classify_transport(self, method: &Method, error: &reqwest::Error) -> Verdict {
        let reason = transport_kind(error);
        let repeatable = match self {
            Classifier::ApiCall => error.is_connect() || is_idempotent(method),
            Classifier::TokenFetch | Classifier::BlobFetch => !error.is_builder(),
        };
        if repeatable && !error.is_builder() && !error.is_redirect() {
            Verdict::Retry { reason, hint: None }
        } else {
            Verdict::Final
        }
    }
}

/// A short description of a transport error, without its URL.
pub(crate) fn transport_kind(error: &reqwest::Error) -> &'static str {
    if error.is_connect() {
        "connect"
    } else if error.is_timeout() {
        "timeout"
    } else if error.is_body() || error.is_decode() {
        "body"
    } else if error.is_request() {
        "request"
    } else {
        "transport"
    }
}

/// The request to send: a copy of `template` when `copy` (another attempt may follow),
/// else the template itself, which ends the attempts.
pub(crate) fn take_or_copy(
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
pub(crate) enum Decision {
    /// Wait this long, then send again.
    RetryAfter(Duration),
    /// The server's hint is above the cap: stop and report it.
    HintTooLong(Duration),
    /// Attempts or time budget exhausted: stop and return what we have.
    GiveUp,
}

/// How [`run`] ended.
#[derive(Debug)]
pub(crate) enum Ended<T> {
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
/// event is logged), its reason and its wait.
pub(crate) async fn run<T, F>(
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

/// Sends `request` with `http`, retrying per `options` under the same rules as the client's
/// own API calls (statuses, `Retry-After`, backoff, budget, no unsafe repeats). It adds no
/// authentication, which suits signed URLs. The final response is returned whatever its status;
/// a hint above `max_retry_after` ends the call with
/// [`Error::RateLimited`](crate::Error::RateLimited).
///
/// # Errors
///
/// [`Error::Transport`](crate::Error::Transport) when the last attempt got no response, and
/// [`Error::RateLimited`](crate::Error::RateLimited) as above.
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
    let method = request.method().clone();
    // A streaming body cannot be copied, so such a request is sent once.
    let copyable = request.body().is_none_or(|b| b.as_bytes().is_some());
    let single;
    let options = if copyable {
        options
    } else {
        single = RetryOptions {
            max_attempts: 1,
            ..options.clone()
        };
        &single
    };
    let template = Mutex::new(Some(request));
    let template = &template;
    let ended = run(
        options,
        &"request",
        |outcome: &reqwest::Result<reqwest::Response>| match outcome {
            Ok(response) => {
                Classifier::ApiCall.classify_status(&method, response.status(), response.headers())
            }
            Err(error) => Classifier::ApiCall.classify_transport(&method, error),
        },
        |number| {
            // The last possible attempt sends the original; earlier ones a copy.
            let request = take_or_copy(template, number < options.max_attempts);
            async move {
                match request {
                    Some(request) => http.execute(request).await,
                    None => unreachable!("no attempt follows the one that sent the original"),
                }
            }
        },
    )
    .await;
    match ended {
        Ended::Outcome(outcome) => outcome.map_err(|source| crate::Error::transport(source, None)),
        Ended::HintTooLong { outcome, wait } => Err(crate::Error::RateLimited {
            status: outcome.map(|r| r.status().as_u16()).unwrap_or(429),
            retry_after: wait,
            correlation_id: None,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    fn clock() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_750_000_000)
    }

    #[test]
    fn retry_after_too_large_to_be_a_duration_is_the_longest_wait() {
        // Found by the `retry_after` fuzz target: this used to panic in `from_secs_f64`; a
        // value past `Duration::MAX` is a very long wait, not the absence of a hint.
        assert_eq!(parse_retry_after("1e300", clock()), Some(Duration::MAX));
        assert_eq!(
            parse_retry_after("99999999999999999999999", clock()),
            Some(Duration::MAX)
        );
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
        assert_eq!(parse_retry_after("0.0", clock()), Some(Duration::ZERO));
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
        // Full jitter: over many draws some land in the lower half, and some are not zero.
        assert!((0..200).any(|_| o.backoff(3) < o.backoff_ceiling(3) / 2));
        assert!((0..200).any(|_| o.backoff(1) > Duration::ZERO));
    }

    #[test]
    fn the_hint_wins_over_backoff_and_zero_means_backoff() {
        let o = RetryOptions {
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(10),
            ..RetryOptions::default()
        };
        let d = o.decide(1, Duration::ZERO, Some(Duration::from_secs(7)));
        assert_eq!(d, Decision::RetryAfter(Duration::from_secs(7)));
        // `Retry-After: 0` is no hint: the jittered backoff applies, so not every wait is zero.
        let waits: Vec<Duration> = (0..200)
            .map(
                |_| match o.decide(1, Duration::ZERO, Some(Duration::ZERO)) {
                    Decision::RetryAfter(wait) => wait,
                    other => panic!("{other:?}"),
                },
            )
            .collect();
        assert!(waits.iter().all(|w| *w <= Duration::from_millis(10)));
        assert!(waits.iter().any(|w| *w > Duration::ZERO), "{waits:?}");
    }

    #[test]
    fn a_hint_above_the_cap_is_reported_not_slept() {
        let o = RetryOptions::default();
        let d = o.decide(1, Duration::ZERO, Some(Duration::from_secs(3600)));
        assert_eq!(d, Decision::HintTooLong(Duration::from_secs(3600)));
        let d = o.decide(1, Duration::ZERO, Some(Duration::MAX));
        assert_eq!(d, Decision::HintTooLong(Duration::MAX));
    }

    #[test]
    fn attempts_and_budget_end_retries() {
        let o = RetryOptions::default();
        assert_eq!(o.decide(4, Duration::ZERO, None), Decision::GiveUp);
        assert_eq!(
            o.decide(1, Duration::from_secs(89), Some(Duration::from_secs(2))),
            Decision::GiveUp
        );
        assert_eq!(
            RetryOptions::none().decide(1, Duration::ZERO, None),
            Decision::GiveUp
        );
    }

    #[test]
    fn limits_at_their_maximum_do_not_overflow() {
        let o = RetryOptions {
            max_attempts: u32::MAX,
            initial_backoff: Duration::MAX,
            max_backoff: Duration::MAX,
            max_elapsed: Duration::MAX,
            max_retry_after: Duration::MAX,
        };
        assert_eq!(
            o.decide(3, Duration::from_secs(5), Some(Duration::MAX)),
            Decision::GiveUp
        );
        let _ = o.backoff(u32::MAX);
    }

    #[test]
    fn an_api_post_is_retried_only_when_it_cannot_have_been_processed() {
        let h = HeaderMap::new();
        let api = Classifier::ApiCall;
        let retried = |c: Classifier, m: &Method, s: u16| {
            matches!(
                c.classify_status(m, StatusCode::from_u16(s).unwrap(), &h),
                Verdict::Retry { .. }
            )
        };
        assert!(retried(api, &Method::POST, 429));
        for status in [408, 500, 502, 503, 504] {
            assert!(!retried(api, &Method::POST, status), "{status}");
        }
        for status in [408, 429, 502, 503, 504] {
            assert!(retried(api, &Method::GET, status), "{status}");
        }
        assert!(!retried(api, &Method::GET, 500));
        assert!(retried(Classifier::BlobFetch, &Method::GET, 500));
        assert!(retried(Classifier::TokenFetch, &Method::POST, 503));
        assert!(!retried(Classifier::TokenFetch, &Method::POST, 401));
        assert!(!retried(Classifier::BlobFetch, &Method::GET, 404));
    }

    /// A loopback server that answers each connection's one request with `answers[n]` (raw
    /// HTTP), the last one for every later request; returns its address and a request counter.
    async fn answering(
        answers: Vec<&'static str>,
    ) -> (
        std::net::SocketAddr,
        std::sync::Arc<std::sync::atomic::AtomicUsize>,
    ) {
        use std::sync::atomic::Ordering;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let seen = count.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let n = seen.fetch_add(1, Ordering::SeqCst);
                let answer = answers[n.min(answers.len() - 1)];
                // The whole request, so the answer never races the body.
                let mut request = Vec::new();
                let mut buffer = [0u8; 4096];
                while let Ok(read) = socket.read(&mut buffer).await {
                    request.extend_from_slice(&buffer[..read]);
                    let text = String::from_utf8_lossy(&request).to_ascii_lowercase();
                    let end = if text.contains("transfer-encoding: chunked") {
                        "0\r\n\r\n"
                    } else {
                        "\r\n\r\n"
                    };
                    if read == 0 || text.ends_with(end) {
                        break;
                    }
                }
                let _ = socket.write_all(answer.as_bytes()).await;
                let _ = socket.shutdown().await;
            }
        });
        (addr, count)
    }

    const UNAVAILABLE: &str =
        "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
    const OK: &str = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok";

    fn quick(attempts: u32) -> RetryOptions {
        RetryOptions {
            max_attempts: attempts,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(1),
            ..RetryOptions::default()
        }
    }

    #[tokio::test]
    async fn send_with_retry_repeats_a_copy_until_the_last_attempt_sends_the_original() {
        let (addr, count) = answering(vec![UNAVAILABLE, UNAVAILABLE, OK]).await;
        let http = reqwest::Client::new();
        let request = http.get(format!("http://{addr}/x")).build().unwrap();
        let response = send_with_retry(&http, request, &quick(3)).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn send_with_retry_sends_a_streaming_body_once() {
        let (addr, count) = answering(vec![UNAVAILABLE, OK]).await;
        let http = reqwest::Client::new();
        let body = reqwest::Body::wrap_stream(futures::stream::once(async {
            Ok::<_, std::io::Error>(bytes::Bytes::from_static(b"{}"))
        }));
        let request = http
            .put(format!("http://{addr}/x"))
            .body(body)
            .build()
            .unwrap();
        let response = send_with_retry(&http, request, &quick(3)).await.unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn transport_failures_are_named_by_their_kind() {
        // A port nobody listens on: the connection is refused.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = closed.local_addr().unwrap();
        drop(closed);
        let error = reqwest::get(format!("http://{addr}/")).await.unwrap_err();
        assert_eq!(
            Classifier::ApiCall.classify_transport(&Method::POST, &error),
            Verdict::Retry {
                reason: "connect",
                hint: None
            }
        );
        // A body cut short of its announced length.
        let (addr, _) = answering(vec![
            "HTTP/1.1 200 OK\r\ncontent-length: 100\r\nconnection: close\r\n\r\nshort",
        ])
        .await;
        let response = reqwest::get(format!("http://{addr}/")).await.unwrap();
        let error = response.bytes().await.unwrap_err();
        assert_eq!(transport_kind(&error), "body");
    }
}
