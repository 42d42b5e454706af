//! Retries of this crate's calls: the workspace's one retry engine ([`http_policy::retry`],
//! re-exported here) with the classifiers of the Mesh Export API and of its token endpoint.
//!
//! | outcome | [`ApiCall`] | [`TokenFetch`] |
//! |---|---|---|
//! | 429 | any method | yes |
//! | 408, 502, 503, 504 | idempotent methods | yes |
//! | 500 | no | yes |
//! | connection never established | any method | yes |
//! | other transport failure (timeout, reset, body cut off) | idempotent methods | yes |
//!
//! Why they differ: a gateway can answer 502/503/504 (or time out) *after* the service acted,
//! and the service has no idempotency keys, so a `start-export` POST is repeated only when the
//! request provably never reached it (a refused connection, or a 429 from the rate limiter in
//! front of it). A Mesh Export 500 is a failure of the handler, not of the path to it: the spec
//! does not call it transient, repeating a POST could start a second export, and repeating a GET
//! spends rate limit on a bug. A token request only mints another token, so it is safe to
//! repeat whatever happened to the first. (The tile downloader's blob classifier lives with the
//! downloader, in `tiles3d-download`.)

use std::sync::Mutex;

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};

/// The token endpoint's classifier lives beside its one user, the client credentials source.
pub use crate::auth::client_credentials::TokenFetch;
pub use http_policy::retry::{
    ClassifyRetry, Decision, Ended, RetryOptions, RetryWait, Verdict, WaitObserver, is_idempotent,
    parse_retry_after, retry_after, run, take_or_copy, transport_kind,
};

/// The classifier of Mesh Export API calls (the table in the [module docs](self)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ApiCall;

impl ClassifyRetry for ApiCall {
    fn classify_status(&self, method: &Method, status: StatusCode, headers: &HeaderMap) -> Verdict {
        match status.as_u16() {
            429 => Verdict::retry_hinted("rate limited", headers),
            408 | 502 | 503 | 504 if is_idempotent(method) => {
                Verdict::retry_hinted("gateway or service unavailable", headers)
            }
            _ => Verdict::Final,
        }
    }

    fn classify_transport(&self, method: &Method, error: &reqwest::Error) -> Verdict {
        Verdict::after_transport(error, error.is_connect() || is_idempotent(method))
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
            Ok(response) => ApiCall.classify_status(&method, response.status(), response.headers()),
            Err(error) => ApiCall.classify_transport(&method, error),
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
    use std::time::Duration;

    #[test]
    fn an_api_post_is_retried_only_when_it_cannot_have_been_processed() {
        let h = HeaderMap::new();
        let api = &ApiCall as &dyn ClassifyRetry;
        let retried = |c: &dyn ClassifyRetry, m: &Method, s: u16| {
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
        assert!(retried(&TokenFetch, &Method::POST, 500));
        assert!(retried(&TokenFetch, &Method::POST, 503));
        assert!(!retried(&TokenFetch, &Method::POST, 401));
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
            ApiCall.classify_transport(&Method::POST, &error),
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
