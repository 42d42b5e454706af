//! The request policy plugged into the generated client: headers, auth, retries, tracing.
//!
//! Order, per call: `prepare` runs once (deprecation notice, `User-Agent`, one
//! `X-Correlation-ID` for the whole call, the bearer token); `execute` is the retry loop, and
//! auth sits inside it, so every retry re-checks the token and a 401 refreshes it once
//! (azure_core's and kube's order: retry outside, auth inside).
//!
//! Typed errors raised inside the policy (a failed token fetch, a `Retry-After` above the cap)
//! cannot travel through progenitor's `Error::Custom(String)`, so they are put in a task-local
//! slot that the [`Client`](crate::Client) wrapper sets up around each call and reads back.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use mesh_export_client::{BoxFuture, OperationInfo, PolicyError, RequestPolicy};
use reqwest::header::{AUTHORIZATION, HeaderValue, USER_AGENT};
use tracing::Instrument;

use crate::auth::{AccessToken, Secret, TokenCache};
use crate::deprecation::{self, DeprecationWarnings};
use crate::error::Error;
use crate::retry::{self, Decision, RetryOptions};

/// The correlation header, sent on every request and read back from responses.
pub(crate) const CORRELATION_ID: &str = "x-correlation-id";

/// This crate's `User-Agent` product token.
pub(crate) const USER_AGENT_PRODUCT: &str = concat!("mesh-export/", env!("CARGO_PKG_VERSION"));

/// What the policy learned during one call, for the wrapper to turn into an [`Error`].
#[derive(Debug, Default)]
pub(crate) struct CallState {
    pub(crate) correlation_id: Option<String>,
    pub(crate) last_status: Option<u16>,
    pub(crate) error: Option<Error>,
}

tokio::task_local! {
    static CALL: Arc<Mutex<CallState>>;
}

/// Runs `fut` (one call of the generated client) with a fresh call slot, and returns the slot.
pub(crate) async fn in_call<F: Future>(fut: F) -> (F::Output, CallState) {
    let state = Arc::new(Mutex::new(CallState::default()));
    let output = CALL.scope(state.clone(), fut).await;
    let state = std::mem::take(&mut *state.lock().unwrap_or_else(|p| p.into_inner()));
    (output, state)
}

/// Updates the current call's slot; a no-op outside [`in_call`] (the generated client used
/// directly).
fn with_call(f: impl FnOnce(&mut CallState)) {
    let _ = CALL.try_with(|state| f(&mut state.lock().unwrap_or_else(|p| p.into_inner())));
}

fn current_correlation_id() -> Option<String> {
    CALL.try_with(|state| {
        state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .correlation_id
            .clone()
    })
    .ok()
    .flatten()
}

/// The [`RequestPolicy`] of a [`Client`](crate::Client).
#[derive(Debug)]
pub(crate) struct MeshExportPolicy {
    pub(crate) tokens: Arc<TokenCache>,
    pub(crate) retry: RetryOptions,
    pub(crate) user_agent: HeaderValue,
    pub(crate) deprecation: DeprecationWarnings,
}

impl RequestPolicy for MeshExportPolicy {
    fn prepare<'a>(
        &'a self,
        request: &'a mut reqwest::Request,
        operation: &'a OperationInfo,
    ) -> BoxFuture<'a, Result<(), PolicyError>> {
        Box::pin(async move {
            deprecation::notice(operation.operation_id, &self.deprecation);
            let headers = request.headers_mut();
            headers.insert(USER_AGENT, self.user_agent.clone());
            // One id for the call, reused by every retry: the service's logs can then tie the
            // attempts together. A caller-set id is kept.
            let id = match headers.get(CORRELATION_ID).and_then(|v| v.to_str().ok()) {
                Some(id) => id.to_owned(),
                None => {
                    let id = uuid::Uuid::new_v4().to_string();
                    headers.insert(
                        CORRELATION_ID,
                        HeaderValue::from_str(&id).expect("a uuid is a valid header value"),
                    );
                    id
                }
            };
            with_call(|s| s.correlation_id = Some(id));
            match self.tokens.get().await {
                Ok(token) => set_bearer(request, &token),
                Err(e) => {
                    let message = e.to_string();
                    with_call(|s| s.error = Some(Error::Auth(e)));
                    Err(message.into())
                }
            }
        })
    }

    fn execute<'a>(
        &'a self,
        client: &'a reqwest::Client,
        request: reqwest::Request,
        operation: &'a OperationInfo,
    ) -> BoxFuture<'a, reqwest::Result<reqwest::Response>> {
        let correlation_id = request
            .headers()
            .get(CORRELATION_ID)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        // The path only: query strings are not logged.
        let span = tracing::info_span!(
            "mesh_export.call",
            operation = operation.operation_id,
            method = %request.method(),
            path = request.url().path(),
            correlation_id = %correlation_id,
        );
        Box::pin(
            async move {
                let (result, error) =
                    send_with_retries(client, request, &self.retry, Some(&self.tokens)).await;
                if let Some(error) = error {
                    with_call(|s| s.error = Some(error));
                }
                result
            }
            .instrument(span),
        )
    }
}

/// Puts `token` in `Authorization` (`Bearer <token>`, or `Basic <share key>`), marked sensitive
/// so reqwest and hyper never print it.
fn set_bearer(request: &mut reqwest::Request, token: &AccessToken) -> Result<(), PolicyError> {
    let mut value = HeaderValue::from_str(&token.authorization())
        .map_err(|_| PolicyError::from("the token contains characters not allowed in a header"))?;
    value.set_sensitive(true);
    request.headers_mut().insert(AUTHORIZATION, value);
    Ok(())
}

fn bearer_of(request: &reqwest::Request) -> Option<Secret> {
    let value = request.headers().get(AUTHORIZATION)?.to_str().ok()?;
    value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("Basic "))
        .map(Secret::new)
}

/// Sends `request`, retrying per `options`; with `tokens`, re-authorizes each attempt and
/// retries a 401 once with a new token. Returns the final outcome and, when the policy itself
/// decided the call's fate, the typed error to report instead.
pub(crate) async fn send_with_retries(
    http: &reqwest::Client,
    mut request: reqwest::Request,
    options: &RetryOptions,
    tokens: Option<&TokenCache>,
) -> (reqwest::Result<reqwest::Response>, Option<Error>) {
    let started = Instant::now();
    let method = request.method().clone();
    let mut attempt: u32 = 1;
    let mut reauthorized = false;
    loop {
        // `None` for a streaming body: such a request is sent once.
        let copy = request.try_clone();
        tracing::debug!(attempt, "sending request");
        let result = http.execute(request).await;
        let hint = match &result {
            Ok(response) => {
                let status = response.status().as_u16();
                with_call(|s| s.last_status = Some(status));
                tracing::debug!(attempt, status, "response received");
                if status == 401
                    && !reauthorized
                    && let (Some(tokens), Some(mut next)) =
                        (tokens, copy.as_ref().and_then(|c| c.try_clone()))
                {
                    reauthorized = true;
                    let rejected = bearer_of(&next);
                    if let Some(rejected) = &rejected {
                        tokens.invalidate(rejected).await;
                    }
                    match tokens.get().await {
                        Ok(fresh) if Some(&fresh.token) != rejected.as_ref() => {
                            if set_bearer(&mut next, &fresh).is_ok() {
                                tracing::info!(
                                    attempt,
                                    "token rejected (HTTP 401); retrying once with a new token"
                                );
                                request = next;
                                continue;
                            }
                            return (result, None);
                        }
                        // The source handed back the rejected token (a static token):
                        // sending it again cannot succeed.
                        Ok(_) => return (result, None),
                        Err(e) => return (result, Some(Error::Auth(e))),
                    }
                }
                if !retry::should_retry_status(status, &method) {
                    return (result, None);
                }
                retry::retry_after(response.headers(), SystemTime::now())
            }
            Err(error) => {
                if !retry::should_retry_transport(error, &method) {
                    tracing::debug!(attempt, error = %error_kind(error), "transport error; not safe to repeat");
                    return (result, None);
                }
                None
            }
        };
        let Some(mut next) = copy else {
            return (result, None);
        };
        let status = result.as_ref().ok().map(|r| r.status().as_u16());
        match retry::decide(options, attempt, started.elapsed(), hint) {
            Decision::HintTooLong(wait) => {
                tracing::warn!(
                    attempt,
                    wait_ms = wait.as_millis() as u64,
                    status,
                    "server asked to wait longer than max_retry_after; returning a rate-limit error"
                );
                let error = Error::RateLimited {
                    status: status.unwrap_or(429),
                    retry_after: wait,
                    correlation_id: current_correlation_id(),
                };
                return (result, Some(error));
            }
            Decision::GiveUp => {
                tracing::warn!(
                    attempt,
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    status,
                    "retries exhausted"
                );
                return (result, None);
            }
            Decision::RetryAfter(wait) => {
                tracing::info!(
                    attempt = attempt + 1,
                    wait_ms = wait.as_millis() as u64,
                    status,
                    error = result.as_ref().err().map(error_kind),
                    hinted = hint.is_some(),
                    "retrying"
                );
                tokio::time::sleep(wait).await;
                if let Some(tokens) = tokens {
                    match tokens.get().await {
                        Ok(token) => {
                            if set_bearer(&mut next, &token).is_err() {
                                return (result, None);
                            }
                        }
                        Err(e) => return (result, Some(Error::Auth(e))),
                    }
                }
                drop(result);
                request = next;
                attempt += 1;
            }
        }
    }
}

/// A short description of a transport error, without its URL.
fn error_kind(error: &reqwest::Error) -> &'static str {
    if error.is_connect() {
        "connect"
    } else if error.is_timeout() {
        "timeout"
    } else if error.is_body() {
        "body"
    } else if error.is_request() {
        "request"
    } else {
        "other"
    }
}
