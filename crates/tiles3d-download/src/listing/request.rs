//! One List Blobs request through the crate's one retry loop: transient answers (408, 429,
//! 5xx, a broken or stalled transfer) are tried again as for any blob GET; the rest is what the
//! page request came to.

use std::time::Duration;

use bytes::BytesMut;
use reqwest::{Method, StatusCode};
use url::Url;

use http_policy::redact::{cause_chain, quote};
use http_policy::retry::{self, ClassifyRetry, Ended, RepeatableRequest, Verdict};

/// The largest page body read: Azure's page of 5,000 blobs with every property is a few MiB.
pub(super) const MAX_PAGE_BYTES: usize = 16 * 1024 * 1024;

/// What one page request came to.
pub(super) enum Answer {
    /// A 2xx body, read whole.
    Body(BytesMut),
    /// An error status, with Azure's `x-ms-error-code` when it sent one.
    Status(StatusCode, Option<String>),
    /// The body passed [`MAX_PAGE_BYTES`].
    TooLarge,
    /// The transfer failed (after its retries), the reason redacted.
    Transport(String),
}

/// One attempt's outcome and whether another may follow.
struct Attempted {
    answer: Answer,
    verdict: Verdict,
}

/// Sends the List Blobs `url` (signed) with retries; `subject` names it in the logs.
pub(super) async fn fetch_page(
    http: &reqwest::Client,
    url: &Url,
    retry: &retry::RetryOptions,
    idle: Duration,
    subject: &(dyn std::fmt::Display + Sync),
) -> Answer {
    let ended = retry::run(
        retry,
        subject,
        |attempted: &Attempted| attempted.verdict,
        |_| attempt(http, url, idle),
    )
    .await;
    match ended {
        Ended::Outcome(attempted) => attempted.answer,
        Ended::HintTooLong { .. } => Answer::Status(StatusCode::TOO_MANY_REQUESTS, None),
    }
}

async fn attempt(http: &reqwest::Client, url: &Url, idle: Duration) -> Attempted {
    let transport = |error: reqwest::Error| Attempted {
        verdict: RepeatableRequest.classify_transport(&Method::GET, &error),
        answer: Answer::Transport(quote(&cause_chain(&error.without_url()))),
    };
    let stalled = || Attempted {
        verdict: Verdict::Retry {
            reason: "idle timeout",
            hint: None,
        },
        answer: Answer::Transport(format!("nothing arrived for {idle:?}")),
    };
    let sent = tokio::time::timeout(idle, http.get(url.clone()).send()).await;
    let mut response = match sent {
        Err(_) => return stalled(),
        Ok(Err(error)) => return transport(error),
        Ok(Ok(response)) => response,
    };
    let status = response.status();
    if !status.is_success() {
        let verdict = RepeatableRequest.classify_status(&Method::GET, status, response.headers());
        let code = response
            .headers()
            .get("x-ms-error-code")
            .and_then(|v| v.to_str().ok())
            .map(quote);
        return Attempted {
            answer: Answer::Status(status, code),
            verdict,
        };
    }
    let mut body = BytesMut::new();
    loop {
        match tokio::time::timeout(idle, response.chunk()).await {
            Err(_) => return stalled(),
            Ok(Err(error)) => return transport(error),
            Ok(Ok(None)) => break,
            Ok(Ok(Some(chunk))) => {
                if body.len() + chunk.len() > MAX_PAGE_BYTES {
                    return Attempted {
                        answer: Answer::TooLarge,
                        verdict: Verdict::Final,
                    };
                }
                body.extend_from_slice(&chunk);
            }
        }
    }
    Attempted {
        answer: Answer::Body(body),
        verdict: Verdict::Final,
    }
}
