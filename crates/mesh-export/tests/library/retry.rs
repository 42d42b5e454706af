//! The retry policy against real sockets: purpose-built servers for exact hint sequences and
//! an ambiguous POST failure, and the emulator's injected faults.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime};

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use mesh_export::{Error, ExportFilter, RetryOptions, StartExport, types::ExportType};
use mesh_export_emulator::Emulator;
use mesh_export_test_support::emulator::{builder, quick_retries};
use mesh_export_test_support::servers::{client_for, empty_page, read_request, serve};
use tokio::io::AsyncWriteExt;

/// A `get-exports` route that answers `status` with `retry-after: hint()` for the first
/// `failures` requests, then an empty page; counts requests.
async fn flaky_server(
    failures: u32,
    status: StatusCode,
    hint: impl Fn() -> String + Clone + Send + Sync + 'static,
) -> (String, Arc<AtomicU32>) {
    let count = Arc::new(AtomicU32::new(0));
    let counter = count.clone();
    let router = axum::Router::new().route(
        "/mesh-export/",
        get(move || {
            let counter = counter.clone();
            let hint = hint.clone();
            async move {
                let n = counter.fetch_add(1, Ordering::SeqCst);
                if n < failures {
                    let mut headers = HeaderMap::new();
                    headers.insert(header::RETRY_AFTER, HeaderValue::from_str(&hint()).unwrap());
                    let body = r#"{"error":{"code":"RateLimitExceeded","message":"slow down"}}"#;
                    (status, headers, body).into_response()
                } else {
                    axum::Json(empty_page("http://127.0.0.1/mesh-export")).into_response()
                }
            }
        }),
    );
    (serve(router).await, count)
}

/// A 3D Tiles start request for the latest changeset of `i_model_id`.
fn start_request(i_model_id: &str) -> StartExport {
    StartExport {
        i_model_id: i_model_id.into(),
        changeset_id: None,
        export_type: Some(ExportType::X3dTiles),
        geometry_options: None,
        view_definition_filter: None,
    }
}

fn fast_fallback() -> RetryOptions {
    // A fallback backoff far below the hints, so a test that waited long waited for the hint.
    RetryOptions {
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(10),
        ..RetryOptions::default()
    }
}

#[tokio::test]
async fn retries_429_after_the_hinted_delay() {
    let (url, count) = flaky_server(1, StatusCode::TOO_MANY_REQUESTS, || "1".into()).await;
    let client = client_for(&url, fast_fallback());
    let started = Instant::now();
    client.list_page(&ExportFilter::new()).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(count.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn retries_503_after_an_http_date_hint() {
    let (url, count) = flaky_server(1, StatusCode::SERVICE_UNAVAILABLE, || {
        httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(2))
    })
    .await;
    let client = client_for(&url, fast_fallback());
    let started = Instant::now();
    client.list_page(&ExportFilter::new()).await.unwrap();
    // The date has whole seconds, so the wait is between 1 and 2 s.
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(count.load(Ordering::SeqCst), 2);
}

/// Asserts `error` is a retryable 429 that carries `wait` and a correlation id.
fn assert_rate_limited(error: &Error, wait: Duration) {
    match error {
        Error::RateLimited {
            status,
            retry_after,
            correlation_id,
        } => {
            assert_eq!(*status, 429);
            assert_eq!(*retry_after, wait);
            assert!(correlation_id.is_some());
        }
        other => panic!("expected RateLimited, got {other:?}"),
    }
    assert!(error.is_retryable());
}

#[tokio::test]
async fn a_hint_above_the_cap_returns_the_rate_limit_error_with_the_wait() {
    let (url, count) = flaky_server(5, StatusCode::TOO_MANY_REQUESTS, || "120".into()).await;
    let client = client_for(&url, RetryOptions::default());
    let error = client.list_page(&ExportFilter::new()).await.unwrap_err();
    assert_rate_limited(&error, Duration::from_secs(120));
    assert_eq!(
        count.load(Ordering::SeqCst),
        1,
        "the client must not sleep through the hint"
    );
}

/// The service's 429 as a response, through the generated client and the policy: the error a
/// caller sees carries the status, the hinted wait and the correlation id.
#[tokio::test]
async fn a_429_becomes_rate_limited_with_the_hint() {
    let (url, count) = flaky_server(1, StatusCode::TOO_MANY_REQUESTS, || "7".into()).await;
    let client = client_for(&url, RetryOptions::none());
    let error = client.list_page(&ExportFilter::new()).await.unwrap_err();
    assert_rate_limited(&error, Duration::from_secs(7));
    assert_eq!(count.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn the_total_time_budget_ends_retries() {
    let (url, count) = flaky_server(100, StatusCode::SERVICE_UNAVAILABLE, || "1".into()).await;
    let retry = RetryOptions {
        max_attempts: 10,
        max_elapsed: Duration::from_millis(2500),
        ..fast_fallback()
    };
    let client = client_for(&url, retry);
    let error = client.list_page(&ExportFilter::new()).await.unwrap_err();
    assert_eq!(error.status(), Some(503), "{error:?}");
    // Sent at about 0, 1 and 2 s; a fourth attempt would start after the 2.5 s budget.
    assert_eq!(count.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn retries_can_be_turned_off() {
    let (url, count) = flaky_server(1, StatusCode::SERVICE_UNAVAILABLE, || "0".into()).await;
    let client = client_for(&url, RetryOptions::none());
    let error = client.list_page(&ExportFilter::new()).await.unwrap_err();
    assert_eq!(error.status(), Some(503));
    assert_eq!(count.load(Ordering::SeqCst), 1);
}

/// A server that reads each request in full, counts it, and closes the connection without
/// answering: the failure after which nobody knows whether the export started.
async fn black_hole() -> (String, Arc<AtomicU32>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(AtomicU32::new(0));
    let counter = count.clone();
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            let counter = counter.clone();
            tokio::spawn(async move {
                if read_request(&mut socket).await.is_none() {
                    return;
                }
                counter.fetch_add(1, Ordering::SeqCst);
                // Close without a response.
                let _ = socket.shutdown().await;
            });
        }
    });
    (format!("http://{addr}/mesh-export"), count)
}

#[tokio::test]
async fn start_export_is_not_resent_after_the_server_received_it() {
    let (url, count) = black_hole().await;
    let client = client_for(&url, quick_retries());
    let request = start_request("imodel-1");
    let error = client.start_export(request).await.unwrap_err();
    assert!(matches!(error, Error::Transport { .. }), "{error:?}");
    assert_eq!(count.load(Ordering::SeqCst), 1, "the POST was sent again");
}

#[tokio::test]
async fn a_get_is_resent_after_the_connection_drops() {
    let (url, count) = black_hole().await;
    let client = client_for(&url, quick_retries());
    let error = client.list_page(&ExportFilter::new()).await.unwrap_err();
    assert!(matches!(error, Error::Transport { .. }), "{error:?}");
    assert_eq!(count.load(Ordering::SeqCst), 6, "a GET is safe to repeat");
}

/// The emulator loses some answers after `start-export` created the export (a dropped
/// connection, or a gateway's 503): a client that sent such a POST again would leave two
/// exports of one iModel.
#[tokio::test]
async fn starts_under_injected_faults_never_duplicate_exports() {
    const STARTS: usize = 16;
    let emulator = Emulator::builder()
        .fault_rate(0.5)
        .seed(7)
        .start()
        .await
        .unwrap();
    let client = builder(&emulator).build().unwrap();
    let mut answered = Vec::new();
    for i in 0..STARTS {
        let i_model_id = format!("imodel-{i}");
        if client
            .start_export(start_request(&i_model_id))
            .await
            .is_ok()
        {
            answered.push(i_model_id);
        }
    }
    let stats = emulator.stats();
    assert!(
        stats.answers_lost > 0,
        "no start-export lost its answer after creating the export: {stats:?}"
    );
    for i in 0..STARTS {
        let i_model_id = format!("imodel-{i}");
        let exports = emulator.exports_of(&i_model_id);
        assert!(
            exports <= 1,
            "{i_model_id} was started {exports} times: {stats:?}"
        );
        if answered.contains(&i_model_id) {
            assert_eq!(exports, 1, "{i_model_id} answered 202 but holds no export");
        }
    }
    emulator.shutdown().await;
}

/// A service whose `start-export` creates the export and then drops the connection without
/// answering, and whose `get-exports` lists what was created; counts the POSTs.
async fn start_that_loses_its_answer() -> (String, Arc<AtomicU32>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let posts = Arc::new(AtomicU32::new(0));
    let counter = posts.clone();
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            let counter = counter.clone();
            tokio::spawn(async move {
                let Some(head) = read_request(&mut socket).await else {
                    return;
                };
                if head.starts_with("post") {
                    counter.fetch_add(1, Ordering::SeqCst);
                    let _ = socket.shutdown().await;
                    return;
                }
                let exports = if counter.load(Ordering::SeqCst) > 0 {
                    r#"[{"id":"created-by-the-lost-post","displayName":"m","status":"NotStarted","lastModified":"2024-08-22T03:18:43Z","request":{"iModelId":"imodel-1","changesetId":"","exportType":"3DTiles"}}]"#
                } else {
                    "[]"
                };
                let body = format!(
                    r#"{{"exports":{exports},"_links":{{"self":{{"href":"http://{addr}/mesh-export/"}}}}}}"#
                );
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    (format!("http://{addr}/mesh-export"), posts)
}

#[tokio::test]
async fn get_or_start_returns_the_export_an_interrupted_start_created() {
    let (url, posts) = start_that_loses_its_answer().await;
    let client = client_for(&url, quick_retries());
    let request = start_request("imodel-1");
    let export = client.get_or_start_export(request).await.unwrap();
    assert_eq!(export.id, "created-by-the-lost-post");
    assert_eq!(posts.load(Ordering::SeqCst), 1, "the POST was sent again");
}

/// Hands out `token-1`, `token-2`, ...: a new token each time the cache asks.
#[derive(Debug, Default)]
struct CountingTokens(AtomicU32);

impl mesh_export::TokenSource for CountingTokens {
    fn token(
        &self,
    ) -> futures::future::BoxFuture<
        '_,
        Result<mesh_export::auth::AccessToken, mesh_export::auth::AuthError>,
    > {
        let n = self.0.fetch_add(1, Ordering::SeqCst) + 1;
        Box::pin(async move {
            Ok(mesh_export::auth::AccessToken::new(
                format!("token-{n}"),
                Some(Duration::from_secs(3600)),
            ))
        })
    }
}

/// A `get-exports` route that answers its n-th request with `failures[n]` (in the service's
/// error format) and an empty page once they run out; records each request's `header`.
async fn scripted(
    header: &'static str,
    failures: &'static [StatusCode],
) -> (String, Arc<std::sync::Mutex<Vec<String>>>) {
    let seen = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let record = seen.clone();
    let router = axum::Router::new().route(
        "/mesh-export/",
        get(move |headers: HeaderMap| {
            let record = record.clone();
            async move {
                let mut seen = record.lock().unwrap();
                let value = headers.get(header).map(|v| v.to_str().unwrap().to_owned());
                seen.push(value.unwrap_or_default());
                match failures.get(seen.len() - 1) {
                    Some(&status) => {
                        let body =
                            r#"{"error":{"code":"Scripted","message":"a scripted failure"}}"#;
                        (status, body).into_response()
                    }
                    None => axum::Json(empty_page("http://127.0.0.1/mesh-export")).into_response(),
                }
            }
        }),
    );
    (serve(router).await, seen)
}

/// A client of `base` whose tokens come from [`CountingTokens`].
fn counting_client(base: &str, retry: RetryOptions) -> mesh_export::Client {
    mesh_export::Client::builder()
        .base_url(base)
        .token_source(CountingTokens::default())
        .retry(retry)
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_rejected_token_then_a_503_is_retried_with_the_fresh_token() {
    // 401 to the first token; the resend with a fresh one meets a 503; the retry succeeds.
    let (base, seen) = scripted(
        "authorization",
        &[StatusCode::UNAUTHORIZED, StatusCode::SERVICE_UNAVAILABLE],
    )
    .await;

    counting_client(&base, fast_fallback())
        .list_page(&ExportFilter::new())
        .await
        .unwrap();

    assert_eq!(
        *seen.lock().unwrap(),
        ["Bearer token-1", "Bearer token-2", "Bearer token-2"]
    );
}

#[tokio::test]
async fn an_error_carries_the_correlation_id_its_request_was_sent_with() {
    let (base, sent) = scripted("x-correlation-id", &[StatusCode::INTERNAL_SERVER_ERROR]).await;
    let error = client_for(&base, RetryOptions::none())
        .list_page(&ExportFilter::new())
        .await
        .unwrap_err();

    let sent = sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 1);
    assert!(!sent[0].is_empty(), "a correlation id was sent");
    assert_eq!(error.correlation_id(), Some(sent[0].as_str()), "{error:?}");
}

#[tokio::test]
async fn a_rejected_token_on_the_only_attempt_is_sent_once_more_with_a_fresh_one() {
    // With retries off, the one attempt still recovers from a 401 by a fresh token: the
    // resend needs the request the attempt kept.
    let (base, seen) = scripted("authorization", &[StatusCode::UNAUTHORIZED]).await;

    counting_client(&base, RetryOptions::none())
        .list_page(&ExportFilter::new())
        .await
        .unwrap();

    assert_eq!(*seen.lock().unwrap(), ["Bearer token-1", "Bearer token-2"]);
}

#[tokio::test]
async fn a_retry_event_names_the_operation_and_its_correlation_id() {
    let (base, sent) = scripted("x-correlation-id", &[StatusCode::SERVICE_UNAVAILABLE]).await;
    let logs = mesh_export_test_support::logs::LogCapture::start();

    logs.scope(client_for(&base, fast_fallback()).list_page(&ExportFilter::new()))
        .await
        .unwrap();

    let sent = sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 2);
    assert!(!sent[0].is_empty(), "a correlation id was sent");
    assert_eq!(sent[0], sent[1], "both attempts carry the call's one id");
    let text = logs.text();
    let retrying = text
        .lines()
        .find(|l| l.contains("retrying"))
        .unwrap_or_else(|| panic!("no retry event: {text}"));
    assert!(
        retrying.contains(&format!("get_exports (correlation id {})", sent[0])),
        "{retrying}"
    );
}

/// A request as a server saw it, without its `Authorization` (which a resend changes).
#[derive(Debug, Clone, PartialEq)]
struct SeenRequest {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    authorization: String,
}

/// A service root that answers every request's first send with `first` and every later one
/// with `then` (status and body), recording each request in full.
async fn answers_twice(
    first: StatusCode,
    then: (StatusCode, &'static str),
) -> (String, Arc<std::sync::Mutex<Vec<SeenRequest>>>) {
    let seen = Arc::new(std::sync::Mutex::new(Vec::<SeenRequest>::new()));
    let record = seen.clone();
    let router = axum::Router::new().fallback(move |request: axum::extract::Request| {
        let record = record.clone();
        async move {
            let (parts, body) = request.into_parts();
            let body = axum::body::to_bytes(body, 1 << 20).await.unwrap().to_vec();
            let mut headers: Vec<(String, String)> = parts
                .headers
                .iter()
                .filter(|(name, _)| *name != header::AUTHORIZATION)
                .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_owned()))
                .collect();
            headers.sort();
            let authorization = parts
                .headers
                .get(header::AUTHORIZATION)
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default();
            let mut seen = record.lock().unwrap();
            seen.push(SeenRequest {
                method: parts.method.to_string(),
                target: parts.uri.to_string(),
                headers,
                body,
                authorization,
            });
            let (status, body) = if seen.len() == 1 {
                (
                    first,
                    r#"{"error":{"code":"Scripted","message":"a scripted failure"}}"#,
                )
            } else {
                then
            };
            (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
        }
    });
    (serve(router).await, seen)
}

#[tokio::test]
async fn a_post_sent_again_after_a_rejected_token_is_the_same_request_with_a_fresh_token() {
    let export = r#"{"export":{"id":"e1","displayName":"m","status":"NotStarted","lastModified":"2024-08-22T03:18:43Z","request":{"iModelId":"imodel-1","changesetId":"","exportType":"3DTiles"}}}"#;
    let (base, seen) =
        answers_twice(StatusCode::UNAUTHORIZED, (StatusCode::ACCEPTED, export)).await;

    let started = counting_client(&base, RetryOptions::none())
        .start_export(start_request("imodel-1"))
        .await
        .unwrap();

    assert_eq!(started.id, "e1");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "{seen:#?}");
    assert_eq!(seen[0].method, "POST");
    let body: serde_json::Value = serde_json::from_slice(&seen[0].body).unwrap();
    assert_eq!(body["iModelId"], "imodel-1", "{body}");
    assert_eq!(
        (
            seen[0].authorization.as_str(),
            seen[1].authorization.as_str()
        ),
        ("Bearer token-1", "Bearer token-2")
    );
    let without_token = |r: &SeenRequest| SeenRequest {
        authorization: String::new(),
        ..r.clone()
    };
    assert_eq!(without_token(&seen[0]), without_token(&seen[1]));
}

#[tokio::test]
async fn a_retried_listing_sends_the_same_query_and_headers() {
    let page = r#"{"exports":[],"_links":{"self":{"href":"http://127.0.0.1/mesh-export/"}}}"#;
    let (base, seen) = answers_twice(StatusCode::SERVICE_UNAVAILABLE, (StatusCode::OK, page)).await;
    let filter = ExportFilter::new()
        .i_model_id("imodel-1")
        .changeset_id("cs-9")
        .page_size(7);

    client_for(&base, fast_fallback())
        .list_page(&filter)
        .await
        .unwrap();

    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "{seen:#?}");
    assert!(
        seen[0].target.contains("iModelId=imodel-1") && seen[0].target.contains("changesetId=cs-9"),
        "{}",
        seen[0].target
    );
    for name in ["user-agent", "x-correlation-id", "accept", "prefer"] {
        assert!(
            seen[0].headers.iter().any(|(n, _)| n == name),
            "{name} missing: {:?}",
            seen[0].headers
        );
    }
    assert_eq!(seen[0], seen[1]);
}
