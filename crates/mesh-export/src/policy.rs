//! The request path of every API call, in one place and in this order (retry outside, auth
//! inside, so every attempt re-checks the token):
//!
//! 1. once per call: the deprecation notice, `User-Agent`, one `X-Correlation-ID` reused by
//!    every attempt (so the service's logs tie them together), and a `mesh_export.call` span;
//! 2. the retry loop, [`retry::run`] with [`Classifier::ApiCall`];
//! 3. in each attempt, the auth step: the bearer token is checked again (a token refreshed
//!    meanwhile is picked up), and a 401 to the token still cached invalidates it and sends
//!    once more with a new one;
//! 4. the response is read in full inside the attempt, so a connection reset in the middle of
//!    a body is a failure of that attempt (retried for idempotent requests), not of decoding;
//! 5. [`Reply::decode`] maps the final response to a value or an [`Error`], the one mapping.
//!
//! Everything the call learns (its correlation id, the last status, a typed error) stays in the
//! call's own future.
//!
//! The typed methods of [`Client`](crate::Client) let the generated client build each request
//! (paths, queries and bodies come from the spec) and take it back with [`captured`], then send
//! it here.
//! [`MeshExportPolicy`] also plugs this path into the generated client for callers who use it
//! directly ([`Client::generated`](crate::Client::generated)).

use std::future::Future;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use mesh_export_client::{BoxFuture, OperationInfo, RequestPolicy, ResponseValue, types};
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue, USER_AGENT};
use serde::de::DeserializeOwned;
use tracing::Instrument;

use crate::auth::{AuthError, TokenCache};
use crate::deprecation::Notices;
use crate::error::{self, Error};
use crate::retry::{self, Classifier, Ended, RetryOptions, Verdict};

/// The correlation header, sent on every request and read back from responses.
pub(crate) const CORRELATION_ID: &str = "x-correlation-id";

/// This crate's `User-Agent` product token.
pub(crate) const USER_AGENT_PRODUCT: &str = concat!("mesh-export/", env!("CARGO_PKG_VERSION"));

type GeneratedError = mesh_export_client::Error<types::ErrorResponse>;

/// The request path of a [`Client`](crate::Client): its tokens, retry options, `User-Agent`
/// and deprecation notices.
#[derive(Debug)]
pub(crate) struct MeshExportPolicy {
    pub(crate) tokens: Arc<TokenCache>,
    pub(crate) retry: RetryOptions,
    pub(crate) user_agent: HeaderValue,
    pub(crate) deprecation: Notices,
}

/// A response read in full, with the correlation id its request was sent with.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
    pub(crate) correlation_id: HeaderValue,
}

/// A correlation id as text, for an error.
fn text_of(correlation_id: &HeaderValue) -> Option<String> {
    correlation_id.to_str().ok().map(str::to_owned)
}

/// What a retry event names for an API call: the operation and the correlation id the
/// service's logs know it by (the call's span, which carries both, is DEBUG).
struct CallSubject<'a> {
    operation: &'a str,
    correlation_id: &'a HeaderValue,
}

impl std::fmt::Display for CallSubject<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let id = self.correlation_id.to_str().unwrap_or("?");
        write!(f, "{} (correlation id {id})", self.operation)
    }
}

/// Why an attempt got no response.
enum AttemptError {
    Transport(reqwest::Error),
    Auth(AuthError),
}

impl MeshExportPolicy {
    /// Sends `request` (of the operation `operation`) down the request path and returns the
    /// final response, read in full, whatever its status; typed errors for what ended the call
    /// without one (transport, auth, a `Retry-After` above the cap).
    ///
    /// The once-per-call work runs before the returned future is first polled, and the request
    /// lives in that future once (in the retry template), which keeps the call future small.
    pub(crate) fn send<'a>(
        &'a self,
        http: &'a reqwest::Client,
        mut request: reqwest::Request,
        operation: &'a str,
    ) -> impl Future<Output = Result<Reply, Error>> + Send + use<'a> {
        self.deprecation.notice(operation);
        let headers = request.headers_mut();
        headers.insert(USER_AGENT, self.user_agent.clone());
        // A caller-set id is kept. The id stays a header value (cheap to clone) and becomes a
        // `String` only in an error.
        let correlation_id = match headers.get(CORRELATION_ID) {
            Some(id) => id.clone(),
            None => {
                let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
                let id = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut text);
                let id = HeaderValue::from_str(id).expect("a uuid is a valid header value");
                headers.insert(CORRELATION_ID, id.clone());
                id
            }
        };
        // The path only: query strings are not logged. At DEBUG, as the AWS SDK's operation
        // span: an INFO subscriber then pays nothing per call, and the retry events (INFO and
        // above) name the operation themselves.
        let span = tracing::debug_span!(
            "mesh_export.call",
            operation,
            method = %request.method(),
            path = request.url().path(),
            correlation_id = correlation_id.to_str().unwrap_or_default(),
        );
        let method = request.method().clone();
        // A streaming body cannot be copied, so such a request is sent once.
        let copyable = request.body().is_none_or(|b| b.as_bytes().is_some());
        let max_attempts = if copyable { self.retry.max_attempts } else { 1 };
        let template = Mutex::new(Some(request));
        async move {
            let subject = CallSubject {
                operation,
                correlation_id: &correlation_id,
            };
            let ended = retry::run(
                &self.retry,
                &subject,
                |outcome: &Result<(StatusCode, HeaderMap, Bytes), AttemptError>| match outcome {
                    Ok((status, headers, _)) => {
                        Classifier::ApiCall.classify_status(&method, *status, headers)
                    }
                    Err(AttemptError::Transport(e)) => {
                        Classifier::ApiCall.classify_transport(&method, e)
                    }
                    // A token fetch runs its own retries (Classifier::TokenFetch).
                    Err(AttemptError::Auth(_)) => Verdict::Final,
                },
                |number| self.attempt(http, &template, number >= max_attempts),
            )
            .instrument(span)
            .await;
            match ended {
                Ended::Outcome(Ok((status, headers, body))) => Ok(Reply {
                    status,
                    headers,
                    body,
                    correlation_id,
                }),
                Ended::Outcome(Err(AttemptError::Transport(e))) => {
                    Err(Error::transport(e, text_of(&correlation_id)))
                }
                Ended::Outcome(Err(AttemptError::Auth(e))) => Err(Error::Auth(e)),
                Ended::HintTooLong { outcome, wait } => Err(Error::RateLimited {
                    status: outcome.map_or(429, |(status, ..)| status.as_u16()),
                    retry_after: wait,
                    correlation_id: text_of(&correlation_id),
                }),
            }
        }
    }

    /// One attempt: authorize, send, and read the whole response. `last`: no retry follows.
    async fn attempt(
        &self,
        http: &reqwest::Client,
        template: &Mutex<Option<reqwest::Request>>,
        last: bool,
    ) -> Result<(StatusCode, HeaderMap, Bytes), AttemptError> {
        let mut reauthorized = false;
        loop {
            // A copy while another send may follow (a retry, or the resend after a 401); the
            // original otherwise, which saves the copy on the last send.
            let Some(mut request) = retry::take_or_copy(template, !last || !reauthorized) else {
                return Err(AttemptError::Auth(AuthError::Other(
                    "a request with a streaming body cannot be sent twice".into(),
                )));
            };
            let bearer = self.tokens.bearer().await.map_err(AttemptError::Auth)?;
            request.headers_mut().insert(AUTHORIZATION, bearer.clone());
            let mut response = http
                .execute(request)
                .await
                .map_err(AttemptError::Transport)?;
            let status = response.status();
            tracing::debug!(status = status.as_u16(), "response received");
            if status == StatusCode::UNAUTHORIZED
                && !reauthorized
                && template.lock().unwrap_or_else(|p| p.into_inner()).is_some()
            {
                reauthorized = true;
                // Forget the refused token (unless a newer one replaced it meanwhile) and send
                // once more with a new one. A source that hands back the same token (a static
                // one) cannot do better: its 401 is the answer.
                self.tokens.invalidate_bearer(&bearer);
                if let Ok(fresh) = self.tokens.bearer().await
                    && fresh != bearer
                {
                    tracing::info!("token rejected (HTTP 401); sending once more with a new token");
                    continue;
                }
            }
            let headers = std::mem::take(response.headers_mut());
            let body = response.bytes().await.map_err(AttemptError::Transport)?;
            return Ok((status, headers, body));
        }
    }
}

impl Reply {
    /// The body as `T` when the status is the operation's `success`, else the error the
    /// response means. This and [`Error::from_response_parts`] are the one mapping from a
    /// response to a result.
    pub(crate) fn decode<T: DeserializeOwned>(self, success: StatusCode) -> Result<T, Error> {
        if self.status != success {
            return Err(self.into_error());
        }
        serde_json::from_slice(&self.body).map_err(|_| Error::Decode {
            status: self.status.as_u16(),
            body_excerpt: error::body_excerpt(&self.body),
            correlation_id: text_of(&self.correlation_id),
        })
    }

    /// `Ok` when the status is the operation's `success` (a response without a body).
    pub(crate) fn expect(self, success: StatusCode) -> Result<(), Error> {
        if self.status == success {
            Ok(())
        } else {
            Err(self.into_error())
        }
    }

    fn into_error(self) -> Error {
        if self.status.is_success() {
            // A success the operation does not document: its body is not what we expect.
            return Error::Decode {
                status: self.status.as_u16(),
                body_excerpt: error::body_excerpt(&self.body),
                correlation_id: text_of(&self.correlation_id),
            };
        }
        Error::from_response_parts(
            self.status,
            &self.headers,
            &self.body,
            text_of(&self.correlation_id),
        )
    }
}

/// The generated client's hook: the same request path, for callers of
/// [`Client::generated`](crate::Client::generated). progenitor decodes what this returns, so a
/// typed error that has no response (a token that could not be obtained, a `Retry-After` above
/// the cap) comes back as a response in the service's error format with the matching status.
impl RequestPolicy for MeshExportPolicy {
    fn execute<'a>(
        &'a self,
        client: &'a reqwest::Client,
        request: reqwest::Request,
        operation: &'a OperationInfo,
    ) -> BoxFuture<'a, reqwest::Result<reqwest::Response>> {
        Box::pin(async move {
            match self.send(client, request, operation.operation_id).await {
                Ok(reply) => Ok(response_from_parts(reply.status, reply.headers, reply.body)),
                Err(Error::Transport { source, .. }) => Err(source),
                Err(error) => {
                    let status = match &error {
                        Error::Auth(_) => StatusCode::UNAUTHORIZED,
                        other => other
                            .status()
                            .and_then(|s| StatusCode::from_u16(s).ok())
                            .unwrap_or(StatusCode::BAD_GATEWAY),
                    };
                    let mut headers = HeaderMap::new();
                    if let Some(wait) = error.retry_after() {
                        headers.insert(
                            reqwest::header::RETRY_AFTER,
                            HeaderValue::from(wait.as_secs()),
                        );
                    }
                    let body = serde_json::json!({"error": {"code": "ClientPolicy", "message": error.to_string()}});
                    Ok(response_from_parts(
                        status,
                        headers,
                        Bytes::from(body.to_string()),
                    ))
                }
            }
        })
    }
}

fn response_from_parts(status: StatusCode, headers: HeaderMap, body: Bytes) -> reqwest::Response {
    let mut response = http::Response::new(body);
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    reqwest::Response::from(response)
}

/// A policy that sends nothing: the generated client builds a request (path, query, headers,
/// body, all from the spec) and this hands it back to [`captured`] instead of sending it.
///
/// progenitor has no "build without sending" call, so the request travels back as an extension
/// of a placeholder response with a status no operation documents ([`CAPTURED`]), which
/// progenitor returns untouched as `UnexpectedResponse`. It never leaves this module.
#[derive(Debug)]
pub(crate) struct Capture;

/// The placeholder's status: not a status any operation of the spec lists.
const CAPTURED: u16 = 599;

#[derive(Clone)]
struct Captured(Arc<Mutex<Option<(reqwest::Request, &'static str)>>>);

impl RequestPolicy for Capture {
    fn execute<'a>(
        &'a self,
        _client: &'a reqwest::Client,
        request: reqwest::Request,
        operation: &'a OperationInfo,
    ) -> BoxFuture<'a, reqwest::Result<reqwest::Response>> {
        let mut response = http::Response::new(Bytes::new());
        *response.status_mut() = StatusCode::from_u16(CAPTURED).expect("a valid status");
        response
            .extensions_mut()
            .insert(Captured(Arc::new(Mutex::new(Some((
                request,
                operation.operation_id,
            ))))));
        Box::pin(std::future::ready(Ok(reqwest::Response::from(response))))
    }
}

/// The request (and its operation id) that a call of a generated client whose policy is
/// [`Capture`] built, from that call's result. Arguments the spec rejects are
/// [`Error::InvalidRequest`]. Not async: the caller awaits the generated call itself, so its
/// future is not nested (and counted again) inside another.
pub(crate) fn captured<T>(
    result: Result<ResponseValue<T>, GeneratedError>,
) -> Result<(reqwest::Request, &'static str), Error> {
    match result {
        Err(GeneratedError::UnexpectedResponse(response)) => response
            .extensions()
            .get::<Captured>()
            .and_then(|c| c.0.lock().unwrap_or_else(|p| p.into_inner()).take())
            .ok_or_else(|| Error::InvalidRequest("the request could not be built".into())),
        Err(GeneratedError::InvalidRequest(message)) | Err(GeneratedError::Custom(message)) => {
            Err(Error::InvalidRequest(message))
        }
        Err(other) => Err(Error::InvalidRequest(other.to_string())),
        Ok(_) => Err(Error::InvalidRequest(
            "the request was answered instead of built".into(),
        )),
    }
}
