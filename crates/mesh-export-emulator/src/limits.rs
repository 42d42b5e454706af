//! The per-client rate limit and seeded fault injection.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use rand::RngExt;

use crate::errors;
use crate::state::{AppState, Counters};
use crate::tokens::Caller;

/// How long an injected slow answer waits before the normal response.
pub(crate) const SLOW_RESPONSE_DELAY: Duration = Duration::from_millis(1500);

/// The iTwin Platform's rate-limit headers, as its "Rate limits and quotas" page names them.
/// Requests left in the window: sent on every answer of a limited route.
const REMAINING_HEADER: &str = "itwinplatform-ratelimit-remainingcalls";
/// On a 429: seconds until the window resets, as `Retry-After` says too.
const RETRY_AFTER_SECONDS_HEADER: &str = "itwinplatform-ratelimit-retry-after-seconds";
/// On a 429: the subscription tier whose limit was hit.
const TIER_HEADER: &str = "itwinplatform-ratelimited-tier";
/// The emulator's one tier: the portal's lowest, whose limit a test usually sets.
const TIER: &str = "Trial";

/// Middleware after authentication: counts the caller's requests, answers 429 over the limit,
/// and tells every caller the calls it has left; a 429 also names the tier and the wait.
pub(crate) async fn rate_limit(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let limit = state.config.rate_limit;
    if limit == 0 {
        return next.run(request).await;
    }
    let client_id = request
        .extensions()
        .get::<Caller>()
        .map(|c| c.client_id.clone())
        .unwrap_or_default();
    let verdict = state.rate_windows.check(&client_id, limit);
    let mut response = if verdict.allowed {
        next.run(request).await
    } else {
        Counters::bump(&state.counters.rate_limited);
        tracing::info!(client_id = %client_id, "rate limit exceeded");
        errors::rate_limit_exceeded(verdict.reset_secs)
    };
    let headers = response.headers_mut();
    headers.insert(
        HeaderName::from_static(REMAINING_HEADER),
        HeaderValue::from(verdict.remaining),
    );
    if !verdict.allowed {
        headers.insert(
            HeaderName::from_static(RETRY_AFTER_SECONDS_HEADER),
            HeaderValue::from(verdict.reset_secs),
        );
        headers.insert(
            HeaderName::from_static(TIER_HEADER),
            HeaderValue::from_static(TIER),
        );
    }
    response
}

/// A fault to inject into one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// 503 with a JSON error and `retry-after: 1`.
    Unavailable,
    /// 429 with `retry-after: 1`.
    TooManyRequests,
    /// Close the connection without answering.
    DropConnection,
    /// Wait [`SLOW_RESPONSE_DELAY`], then answer normally.
    Slow,
    /// Handle the request (a `start-export` creates its export), then close the connection
    /// without answering: the answer is lost on the way back.
    AnswerLost,
    /// Handle the request, then answer 503 as a gateway would whose backend did the work.
    UnavailableAfterHandling,
}

impl Fault {
    /// Whether the request is handled before the fault strikes.
    pub(crate) fn after_handling(self) -> bool {
        matches!(self, Fault::AnswerLost | Fault::UnavailableAfterHandling)
    }
}

/// Draws from the seeded generator whether this request meets a fault, and which.
///
/// Only the Mesh Export and blob routes are faulted: the token endpoint always answers, so a
/// client can always authenticate and the faults it meets are the ones it must survive.
pub(crate) fn draw_fault(state: &AppState, path: &str) -> Option<Fault> {
    let rate = state.config.fault_rate;
    if rate <= 0.0 || !(path.starts_with("/mesh-export") || path.starts_with("/blobs/")) {
        return None;
    }
    let mut rng = state.fault_rng.lock().expect("fault rng lock");
    if rng.random::<f64>() >= rate {
        return None;
    }
    Some(match rng.random_range(0..6u8) {
        0 => Fault::Unavailable,
        1 => Fault::TooManyRequests,
        2 => Fault::DropConnection,
        3 => Fault::AnswerLost,
        4 => Fault::UnavailableAfterHandling,
        _ => Fault::Slow,
    })
}

/// The response of an injected 503 or 429 (a 503 after handling looks the same).
pub(crate) fn fault_response(fault: Fault) -> Response {
    let mut response = match fault {
        Fault::TooManyRequests => errors::rate_limit_exceeded(1),
        _ => errors::service_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            "The service is temporarily unavailable. Retry later.",
            Vec::new(),
        ),
    };
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}
