//! The request path of every API call, in one place and in this order (retry outside, auth
//! inside, so every attempt re-checks the token):
//!
//! 1. once per call: the deprecation notice, one `X-Correlation-ID` reused by every attempt
//!    (so the service's logs tie them together), and a `mesh_export.call` span;
//! 2. the retry loop, [`retry::run`] with [`ApiCall`](crate::retry::ApiCall);
//! 3. in each attempt, the request (the first as built, later ones built again or copied, as
//!    [`Resend`] says), its `User-Agent` and correlation id, and the auth step: the bearer
//!    token is checked again (a token refreshed meanwhile is picked up), and a 401 to the token
//!    still cached invalidates it and sends once more with a new one;
//! 4. the response is read in full inside the attempt, so a connection reset in the middle of
//!    a body is a failure of that attempt (retried for idempotent requests), not of decoding;
//! 5. [`Reply::decode`] maps the final response to a value or an [`Error`], the one mapping.
//!
//! Everything the call learns (its correlation id, the last status, a typed error) stays in the
//! call's own future.
//!
//! The typed methods of [`Client`](crate::Client) have the generated builders build each
//! request (`into_request`: paths, queries, headers and bodies come from the spec), send it
//! here, and build it again only for a retry.
//! [`MeshExportPolicy`] also plugs this path into the generated client for callers who use it
//! directly ([`Client::generated`](crate::Client::generated)).

use std::future::Future;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use mesh_export_client::{BoxFuture, OperationInfo, RequestPolicy, types};
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue, USER_AGENT};
use serde::de::DeserializeOwned;
use tracing::Instrument;

use crate::auth::{AuthError, TokenCache};
use crate::deprecation::Notices;
use crate::error::{self, Error};
use crate::headers::CORRELATION_ID;
use crate::retry::{self, ApiCall, ClassifyRetry, Ended, RetryOptions, Verdict};

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
    /// The request could not be built again for this attempt.
    Build(Error),
}

/// Where a call's sends after its first get their request.
#[derive(Clone, Copy)]
pub(crate) enum Resend<'a> {
    /// Built again (a typed call keeps its builder): nothing is copied unless a send follows.
    Rebuild(&'a (dyn Fn() -> Result<reqwest::Request, Error> + Sync)),
    /// Copied from the first request before each send that another may follow (a request
    /// handed over whole, by the generated client's hook). A streaming body cannot be copied,
    /// so such a request is sent once.
    Copy,
}

/// The requests of one call: the first as built, the rest as [`Resend`] says.
struct Outgoing<'a> {
    first: Mutex<Option<reqwest::Request>>,
    resend: Resend<'a>,
}

impl Outgoing<'_> {
    /// The request for the next send (`again`: another send may follow it), or `None` when
    /// the request cannot be sent again.
    fn next(&self, again: bool) -> Option<Result<reqwest::Request, Error>> {
        match self.resend {
            Resend::Copy => retry::take_or_copy(&self.first, again).map(Ok),
            Resend::Rebuild(build) => {
                let first = self.first.lock().unwrap_or_else(|p| p.into_inner()).take();
                Some(first.map_or_else(build, Ok))
            }
        }
    }

    /// Whether a send may follow the last one.
    fn can_send_again(&self) -> bool {
        match self.resend {
            Resend::Copy => self
                .first
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .is_some(),
            Resend::Rebuild(_) => true,
        }
    }
}

impl MeshExportPolicy {
    /// Sends `request` (of the operation `operation`) down the request path and returns the
    /// final response, read in full, whatever its status; typed errors for what ended the call
    /// without one (transport, auth, a `Retry-After` above the cap). Sends after the first get
    /// their request as `resend` says.
    ///
    /// The once-per-call work runs before the returned future is first polled, and the request
    /// lives in that future once, which keeps the call future small.
    pub(crate) fn send<'a>(
        &'a self,
        http: &'a reqwest::Client,
        request: reqwest::Request,
        resend: Resend<'a>,
        operation: &'a str,
    ) -> impl Future<Output = Result<Reply, Error>> + Send + use<'a> {
        self.deprecation.notice(operation);
        // A caller-set id is kept. The id stays a header value (cheap to clone) and becomes a
        // `String` only in an error.
        let correlation_id = match request.headers().get(CORRELATION_ID) {
            Some(id) => id.clone(),
            None => {
                let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
                let id = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut text);
                HeaderValue::from_str(id).expect("a uuid is a valid header value")
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
        let copyable = request.body().is_none_or(|b| b.as_bytes().is_some());
        let max_attempts = match resend {
            Resend::Copy if !copyable => 1,
            _ => self.retry.max_attempts,
        };
        let outgoing = Outgoing {
            first: Mutex::new(Some(request)),
            resend,
        };
        async move {
            let subject = CallSubject {
                operation,
                correlation_id: &correlation_id,
            };
            let ended = retry::run(
                &self.retry,
                &subject,
                |outcome: &Result<(StatusCode, HeaderMap, Bytes), AttemptError>| match outcome {
                    Ok((status, headers, _)) => ApiCall.classify_status(&method, *status, headers),
                    Err(AttemptError::Transport(e)) => ApiCall.classify_transport(&method, e),
                    // A token fetch runs its own retries (Classifier::TokenFetch).
                    Err(AttemptError::Auth(_) | AttemptError::Build(_)) => Verdict::Final,
                },
                |number| self.attempt(http, &outgoing, &correlation_id, number >= max_attempts),
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
                Ended::Outcome(Err(AttemptError::Build(e))) => Err(e),
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
        outgoing: &Outgoing<'_>,
        correlation_id: &HeaderValue,
        last: bool,
    ) -> Result<(StatusCode, HeaderMap, Bytes), AttemptError> {
        let mut reauthorized = false;
        loop {
            // Another send may follow this one while a retry may, or the resend after a 401.
            let Some(request) = outgoing.next(!last || !reauthorized) else {
                return Err(AttemptError::Auth(AuthError::Other(
                    "a request with a streaming body cannot be sent twice".into(),
                )));
            };
            let mut request = request.map_err(AttemptError::Build)?;
            let bearer = self.tokens.bearer().await.map_err(AttemptError::Auth)?;
            let headers = request.headers_mut();
            headers.insert(USER_AGENT, self.user_agent.clone());
            headers.insert(CORRELATION_ID, correlation_id.clone());
            headers.insert(AUTHORIZATION, bearer.clone());
            let mut response = http
                .execute(request)
                .await
                .map_err(AttemptError::Transport)?;
            let status = response.status();
            tracing::debug!(status = status.as_u16(), "response received");
            if status == StatusCode::UNAUTHORIZED && !reauthorized && outgoing.can_send_again() {
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
            match self
                .send(client, request, Resend::Copy, operation.operation_id)
                .await
            {
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

/// The request a generated builder built (`into_request`); arguments the spec rejects are
/// [`Error::InvalidRequest`].
pub(crate) fn built(
    result: Result<reqwest::Request, GeneratedError>,
) -> Result<reqwest::Request, Error> {
    result.map_err(|error| match error {
        GeneratedError::InvalidRequest(message) | GeneratedError::Custom(message) => {
            Error::InvalidRequest(message)
        }
        // A URL or header reqwest refused; the URL may hold caller input, so it is left out.
        GeneratedError::CommunicationError(e) => Error::InvalidRequest(e.without_url().to_string()),
        other => Error::InvalidRequest(other.to_string()),
    })
}
