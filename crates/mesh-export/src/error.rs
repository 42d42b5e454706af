//! The one error type of this crate, and how service responses become it.

use std::time::Duration;

use mesh_export_client::types::{ErrorDetail, ErrorResponse, ExportStatus};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;

use http_policy::redact::quote;
use http_policy::retry;

use crate::auth::AuthError;
use crate::headers::CORRELATION_ID;
use http_policy::redact::cause_chain;

/// Everything a call to the Mesh Export service can end with, other than success.
///
/// Variants carry what a caller needs to act: the HTTP status, the service's error `code`,
/// the wait a rate limit asks for, and the `X-Correlation-ID` the request was sent with (quote
/// it to Bentley support). Use [`Error::is_retryable`] rather than matching statuses by hand.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The service answered with an error status.
    #[error("{}", service_message(*status, code.as_deref(), message, correlation_id.as_deref()))]
    Service {
        /// HTTP status.
        status: u16,
        /// The service's machine-readable code (`ExportNotFound`, `InvalidMeshExportRequest`, ...),
        /// when the body carried one.
        code: Option<String>,
        /// The service's message (redacted, at most [`QUOTE_CHARS`](http_policy::redact::QUOTE_CHARS)
        /// characters), or an excerpt of the body when it was not the documented JSON.
        message: String,
        /// What the error is about, when the service says.
        target: Option<String>,
        /// Specific problems, when the service lists them.
        details: Vec<ErrorDetail>,
        /// The `X-Correlation-ID` of the request.
        correlation_id: Option<String>,
    },
    /// The service is rate limiting and asked to wait longer than the retry policy allows
    /// (or retries ran out). Wait `retry_after` before calling again.
    #[error("rate limited (HTTP {status}): retry after {retry_after:?}")]
    RateLimited {
        /// HTTP status (429, or 503 with a `Retry-After`).
        status: u16,
        /// How long the service asked to wait; zero when it gave no hint.
        retry_after: Duration,
        /// The `X-Correlation-ID` of the request.
        correlation_id: Option<String>,
    },
    /// No token could be obtained, or the token endpoint refused the credentials.
    #[error("could not obtain a token: {0}")]
    Auth(#[from] AuthError),
    /// The request could not be sent or the response could not be read.
    #[error("transport error: {}", cause_chain(source))]
    Transport {
        /// The underlying error.
        #[source]
        source: reqwest::Error,
        /// The `X-Correlation-ID` of the request.
        correlation_id: Option<String>,
    },
    /// A response had a status the spec documents but a body that does not match it.
    #[error("could not decode the response (HTTP {status}): {body_excerpt}")]
    Decode {
        /// HTTP status of the response.
        status: u16,
        /// The start of the body, redacted and capped.
        body_excerpt: String,
        /// The `X-Correlation-ID` of the request.
        correlation_id: Option<String>,
    },
    /// The export ended `Invalid`.
    #[error("export {export_id} failed: {message}")]
    ExportFailed {
        /// The export.
        export_id: String,
        /// The service's `error` text for the export, or a placeholder when it gave none.
        message: String,
    },
    /// Waiting for an export ran out of time.
    #[error("export {export_id} still {} after {waited:?}", last_status.as_str())]
    WaitTimeout {
        /// The export.
        export_id: String,
        /// How long the wait lasted.
        waited: Duration,
        /// The last status seen.
        last_status: ExportStatus,
    },
    /// `get-exports` does not list the export (it may have been deleted; the service keeps about
    /// five exports per iModel).
    #[error("export {export_id} of iModel {i_model_id} not found")]
    ExportNotFound {
        /// The export.
        export_id: String,
        /// The iModel it was looked up under.
        i_model_id: String,
    },
    /// A paging link pointed away from the service; it was not followed, so the token was not
    /// sent there.
    #[error("refusing to follow a link outside the service: {href}")]
    UntrustedLink {
        /// The link, without its query string.
        href: String,
    },
    /// `get-exports` pages link in a loop: a `next` link leads back to a page already read.
    /// Following it would never end, and stopping quietly could drop exports, so the listing
    /// fails.
    #[error("get-exports pages link in a loop: {href} was already read")]
    PageLoop {
        /// The repeated link, without its query string.
        href: String,
    },
    /// The configuration cannot work (for example, a base URL that does not parse).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A request could not be built from the given arguments.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
}

impl Error {
    /// Whether the same call may succeed if repeated later: rate limits, 408/429/502/503/504,
    /// transport failures, and a token endpoint that was unreachable or overloaded.
    ///
    /// This says nothing about whether a repeat is *safe*: a `start-export` that failed with a
    /// timeout may have started an export; look before starting again
    /// ([`Client::get_or_start_export`](crate::Client::get_or_start_export) does).
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::RateLimited { .. } => true,
            Error::Service { status, .. } => matches!(status, 408 | 429 | 502 | 503 | 504),
            Error::Transport { source, .. } => !source.is_builder() && !source.is_redirect(),
            Error::Auth(auth) => auth.is_retryable(),
            _ => false,
        }
    }

    /// The HTTP status, when the error came from a response.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Service { status, .. }
            | Error::RateLimited { status, .. }
            | Error::Decode { status, .. } => Some(*status),
            // A transport error never has a response: this crate does not turn statuses into
            // reqwest errors (`error_for_status`).
            _ => None,
        }
    }

    /// How long the service asked to wait before calling again, when it said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::RateLimited { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }

    /// The service's error code (`ExportNotFound`, ...), when it sent one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Service { code, .. } => code.as_deref(),
            _ => None,
        }
    }

    /// The `X-Correlation-ID` the failed request was sent with.
    pub fn correlation_id(&self) -> Option<&str> {
        match self {
            Error::Service { correlation_id, .. }
            | Error::RateLimited { correlation_id, .. }
            | Error::Transport { correlation_id, .. }
            | Error::Decode { correlation_id, .. } => correlation_id.as_deref(),
            _ => None,
        }
    }

    /// Decodes a non-success response into an error: the service's JSON error body when it is
    /// one, else an excerpt of the body (bounded, signatures redacted), keeping the status
    /// whatever the body; 429 becomes [`Error::RateLimited`] with the `Retry-After` wait.
    ///
    /// This is the one place a response becomes an error.
    pub fn from_response_parts(
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        correlation_id: Option<String>,
    ) -> Error {
        let correlation_id = correlation_id.or_else(|| correlation_header(headers));
        if status == StatusCode::TOO_MANY_REQUESTS {
            return Error::RateLimited {
                status: status.as_u16(),
                retry_after: retry::retry_after(headers, std::time::SystemTime::now())
                    .unwrap_or_default(),
                correlation_id,
            };
        }
        match serde_json::from_slice::<ErrorResponse>(body) {
            Ok(body) => Error::service(status, body, correlation_id),
            Err(_) => Error::Service {
                status: status.as_u16(),
                code: None,
                message: body_excerpt(body),
                target: None,
                details: Vec::new(),
                correlation_id,
            },
        }
    }

    pub(crate) fn service(
        status: StatusCode,
        body: ErrorResponse,
        correlation_id: Option<String>,
    ) -> Error {
        let e = body.error;
        Error::Service {
            status: status.as_u16(),
            code: Some(quote(&e.code)),
            message: quote(&e.message),
            target: e.target.as_deref().map(quote),
            details: e
                .details
                .into_iter()
                .flatten()
                .map(|detail| ErrorDetail {
                    code: quote(&detail.code),
                    message: quote(&detail.message),
                    target: detail.target.as_deref().map(quote),
                })
                .collect(),
            correlation_id,
        }
    }

    /// A transport error, with the URL (which may carry a signed query) taken out.
    pub(crate) fn transport(source: reqwest::Error, correlation_id: Option<String>) -> Error {
        Error::Transport {
            source: source.without_url(),
            correlation_id,
        }
    }
}

fn service_message(
    status: u16,
    code: Option<&str>,
    message: &str,
    correlation_id: Option<&str>,
) -> String {
    let mut out = format!("HTTP {status}");
    if let Some(code) = code {
        out.push(' ');
        out.push_str(code);
    }
    out.push_str(": ");
    out.push_str(message);
    if let Some(id) = correlation_id {
        out.push_str(" (correlation id ");
        out.push_str(id);
        out.push(')');
    }
    out
}

pub(crate) fn correlation_header(headers: &HeaderMap) -> Option<String> {
    headers
        .get(CORRELATION_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The start of a body as text, redacted before it is cut, so the cut never leaves part of a
/// secret.
pub(crate) fn body_excerpt(body: &[u8]) -> String {
    quote(&String::from_utf8_lossy(body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn an_error_body_with_null_details_and_target_keeps_its_code() {
        // The portal: clients must not assume all properties of an error are non-null.
        let body = br#"{"error":{"code":"ExportNotFound","message":"Requested export is not available.","target":null,"details":null}}"#;
        let error =
            Error::from_response_parts(StatusCode::NOT_FOUND, &HeaderMap::new(), body, None);
        match error {
            Error::Service {
                code,
                target,
                details,
                ..
            } => {
                assert_eq!(code.as_deref(), Some("ExportNotFound"));
                assert!(target.is_none() && details.is_empty());
            }
            other => panic!("not a service error: {other:?}"),
        }
    }

    #[test]
    fn service_errors_keep_code_target_details_and_correlation_id() {
        let body = br#"{"error":{"code":"InvalidMeshExportRequest","message":"Cannot delete exported job.","details":[{"code":"InvalidParameter","message":"id is invalid.","target":"id"}]}}"#;
        let e = Error::from_response_parts(
            StatusCode::UNPROCESSABLE_ENTITY,
            &HeaderMap::new(),
            body,
            Some("corr-1".into()),
        );
        match &e {
            Error::Service {
                status,
                code,
                details,
                correlation_id,
                ..
            } => {
                assert_eq!(*status, 422);
                assert_eq!(code.as_deref(), Some("InvalidMeshExportRequest"));
                assert_eq!(details[0].target.as_deref(), Some("id"));
                assert_eq!(correlation_id.as_deref(), Some("corr-1"));
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(!e.is_retryable());
        assert_eq!(
            e.to_string(),
            "HTTP 422 InvalidMeshExportRequest: Cannot delete exported job. (correlation id corr-1)"
        );
    }

    #[test]
    fn a_429_becomes_rate_limited_with_the_hint() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", HeaderValue::from_static("7"));
        let e = Error::from_response_parts(
            StatusCode::TOO_MANY_REQUESTS,
            &headers,
            b"Rate limit is exceeded",
            None,
        );
        assert!(
            matches!(e, Error::RateLimited { retry_after, .. } if retry_after == Duration::from_secs(7))
        );
        assert!(e.is_retryable());
    }

    #[test]
    fn a_text_body_becomes_a_service_error_with_an_excerpt() {
        let e = Error::from_response_parts(
            StatusCode::BAD_GATEWAY,
            &HeaderMap::new(),
            b"upstream down",
            None,
        );
        assert!(
            matches!(&e, Error::Service { code: None, message, .. } if message == "upstream down")
        );
        assert!(e.is_retryable());
    }

    #[test]
    fn signatures_are_redacted_from_excerpts() {
        let body = br#"{"href":"https://x.blob/c?sv=1&sig=SECRETSIG%2B&se=2"}"#;
        let text = body_excerpt(body);
        assert!(!text.contains("SECRETSIG"), "{text}");
        assert!(text.contains("https://x.blob/c?REDACTED\""), "{text}");
        let bare = body_excerpt(b"sv=1&sig=SECRETSIG&se=2");
        assert_eq!(bare, "sv=1&sig=REDACTED&se=2");
    }

    #[test]
    fn signatures_are_redacted_from_error_details_and_targets() {
        // Found by the `error_body` fuzz target: codes, targets and details were kept verbatim.
        let body = br#"{"error":{"code":"X sig=T0","message":"m","target":"u?sig=T1","details":[{"code":"c sig=T3","message":"see https://h/p?se=1&sig=SECRETSIG","target":"t?sig=T2"}]}}"#;
        let e = Error::from_response_parts(
            StatusCode::UNPROCESSABLE_ENTITY,
            &HeaderMap::new(),
            body,
            None,
        );
        let shown = format!("{e} {e:?}");
        for secret in ["SECRETSIG", "T0", "T1", "T2", "T3"] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }

    #[tokio::test]
    async fn a_transport_failure_is_retryable_and_a_request_that_cannot_be_built_or_redirects_is_not()
     {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let refused_url = format!("http://{}/", closed.local_addr().unwrap());
        drop(closed);
        let refused = reqwest::get(&refused_url).await.unwrap_err();
        assert!(Error::transport(refused, None).is_retryable());

        let unbuildable = reqwest::get("http://[::1/").await.unwrap_err();
        assert!(unbuildable.is_builder());
        assert!(!Error::transport(unbuildable, None).is_retryable());

        let server = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", server.local_addr().unwrap());
        tokio::spawn(async move {
            let (mut socket, _) = server.accept().await.unwrap();
            let mut head = [0u8; 1024];
            let _ = socket.read(&mut head).await;
            let answer = "HTTP/1.1 302 Found\r\nlocation: /elsewhere\r\ncontent-length: 0\r\n\r\n";
            socket.write_all(answer.as_bytes()).await.unwrap();
        });
        let no_redirects = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::limited(0))
            .build()
            .unwrap();
        let redirected = no_redirects.get(&url).send().await.unwrap_err();
        assert!(redirected.is_redirect());
        assert!(!Error::transport(redirected, None).is_retryable());
    }

    #[test]
    fn a_response_without_a_given_correlation_id_keeps_the_one_it_carries() {
        let body = br#"{"error":{"code":"ExportNotFound","message":"gone"}}"#;
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-correlation-id",
            HeaderValue::from_static("from-the-response"),
        );

        let carried = Error::from_response_parts(StatusCode::NOT_FOUND, &headers, body, None);
        let given =
            Error::from_response_parts(StatusCode::NOT_FOUND, &headers, body, Some("sent".into()));

        assert_eq!(carried.correlation_id(), Some("from-the-response"));
        assert_eq!(given.correlation_id(), Some("sent"));
    }

    #[test]
    fn excerpts_are_bounded() {
        let body = vec![b'a'; 10_000];
        let excerpt = body_excerpt(&body);
        let kept = http_policy::redact::QUOTE_CHARS;
        assert!(excerpt.starts_with(&"a".repeat(kept)), "{excerpt}");
        assert!(excerpt.ends_with(&format!("... ({} more characters)", 10_000 - kept)));
    }
}
