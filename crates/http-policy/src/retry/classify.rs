//! The open classifier trait and what its implementations share.

use std::time::{Duration, SystemTime};

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};

use super::retry_after;

/// Says whether the outcome of one kind of call may be tried again, and why. Implemented beside
/// each kind of call, so the rules live where the call's risks are known (is a repeat harmless?
/// may the server have acted already?); [`run`](super::run) applies any of them.
pub trait ClassifyRetry {
    /// The verdict on a response with `status` and `headers` to a `method` request.
    fn classify_status(&self, method: &Method, status: StatusCode, headers: &HeaderMap) -> Verdict;

    /// The verdict on a transport failure (no response) of a `method` request.
    fn classify_transport(&self, method: &Method, error: &reqwest::Error) -> Verdict;
}

/// Whether a request with this method may be sent twice (RFC 9110 §9.2.2).
pub fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE
    )
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

impl Verdict {
    /// A retry for `reason`, with the `Retry-After` hint `headers` carry, if any.
    pub fn retry_hinted(reason: &'static str, headers: &HeaderMap) -> Self {
        Verdict::Retry {
            reason,
            hint: retry_after(headers, SystemTime::now()),
        }
    }

    /// A retry after a transport failure: named by its kind ([`transport_kind`]), with no hint.
    /// A request that could not be built or that hit the redirect limit is final: sending it
    /// again would fail the same way.
    pub fn after_transport(error: &reqwest::Error, repeatable: bool) -> Self {
        if repeatable && !error.is_builder() && !error.is_redirect() {
            Verdict::Retry {
                reason: transport_kind(error),
                hint: None,
            }
        } else {
            Verdict::Final
        }
    }
}

/// A short description of a transport error, without its URL.
pub fn transport_kind(error: &reqwest::Error) -> &'static str {
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

/// The classifier of a request whose repeat is harmless, whatever happened to the first: a
/// `GET` of an immutable blob, a token request that only mints another token. A 408, 429 or
/// any 5xx and any transport failure may be tried again; the rest is final.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RepeatableRequest;

impl ClassifyRetry for RepeatableRequest {
    fn classify_status(&self, _: &Method, status: StatusCode, headers: &HeaderMap) -> Verdict {
        match status.as_u16() {
            429 => Verdict::retry_hinted("rate limited", headers),
            408 | 500..=599 => Verdict::retry_hinted("server error", headers),
            _ => Verdict::Final,
        }
    }

    fn classify_transport(&self, _: &Method, error: &reqwest::Error) -> Verdict {
        Verdict::after_transport(error, true)
    }
}
