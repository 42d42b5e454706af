//! The client against hostile or broken servers: absurd numbers, leaked signatures, paging
//! loops, truncated bodies, hanging endpoints, gateways that answer for a backend that acted.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use mesh_export::auth::{AccessToken, AuthError, TokenCache, TokenSource};
use mesh_export::{
    ClientCredentials, DeprecationWarnings, Error, ExportFilter, RetryOptions, StartExport,
    WaitOptions, types::ExportType,
};
use mesh_export_client::BoxFuture;
use mesh_export_test_support::servers::{client_for, read_request_head};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One request a [`raw_server`] received.
#[derive(Clone, Debug)]
struct Seen {
    method: String,
    target: String,
    at: Instant,
}

/// What a [`raw_server`] does with a request.
enum Action {
    /// Answer with this status, extra headers and body.
    Respond(u16, Vec<(&'static str, String)>, String),
    /// Promise `body.len() + 100` bytes, send `body`, then close.
    Truncate(String),
    /// Never answer (the socket stays open).
    Hang,
}

fn json(status: u16, body: impl Into<String>) -> Action {
    Action::Respond(
        status,
        vec![("content-type", "application/json".into())],
        body.into(),
    )
}

fn text(status: u16, body: impl Into<String>) -> Action {
    Action::Respond(
        status,
        vec![("content-type", "text/plain".into())],
        body.into(),
    )
}

type Log = Arc<Mutex<Vec<Seen>>>;

/// A loopback HTTP/1.1 server that answers each request with `reply(&request, index, root)`;
/// `reply` also gets the server's root (`http://127.0.0.1:PORT`), which is returned with the
/// log of requests.
async fn raw_server(
    reply: impl Fn(&Seen, usize, &str) -> Action + Send + Sync + 'static,
) -> (String, Log) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let root = format!("http://{}", listener.local_addr().unwrap());
    let log: Log = Arc::default();
    let reply = Arc::new(reply);
    let requests = log.clone();
    let base = root.clone();
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            let reply = reply.clone();
            let requests = requests.clone();
            let base = base.clone();
            tokio::spawn(async move {
                while let Some(seen) = read_head(&mut socket).await {
                    let index = {
                        let mut log = requests.lock().unwrap();
                        log.push(seen.clone());
                        log.len() - 1
                    };
                    match reply(&seen, index, &base) {
                        Action::Respond(status, headers, body) => {
                            let mut head = format!(
                                "HTTP/1.1 {status} X\r\ncontent-length: {}\r\n",
                                body.len()
                            );
                            for (name, value) in headers {
                                head.push_str(&format!("{name}: {value}\r\n"));
                            }
                            head.push_str("\r\n");
                            if socket.write_all(head.as_bytes()).await.is_err()
                                || socket.write_all(body.as_bytes()).await.is_err()
                            {
                                return;
                            }
                        }
                        Action::Truncate(body) => {
                            let head = format!(
                                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                                body.len() + 100
                            );
                            let _ = socket.write_all(head.as_bytes()).await;
                            let _ = socket.write_all(body.as_bytes()).await;
                            let _ = socket.shutdown().await;
                            return;
                        }
                        Action::Hang => {
                            let mut sink = [0u8; 64];
                            while socket.read(&mut sink).await.is_ok_and(|n| n > 0) {}
                            return;
                        }
                    }
                }
            });
        }
    });
    (root, log)
}

/// Reads one request (head and `content-length` body) and notes its method and target.
async fn read_head(socket: &mut tokio::net::TcpStream) -> Option<Seen> {
    let head = read_request_head(socket).await?;
    let mut first = head.lines().next()?.split(' ');
    Some(Seen {
        method: first.next()?.to_owned(),
        target: first.next()?.to_owned(),
        at: Instant::now(),
    })
}

fn page(root: &str, self_href: &str, next: Option<&str>, exports: &str) -> String {
    let next = next
        .map(|n| format!(r#","next":{{"href":"{root}{n}"}}"#))
        .unwrap_or_default();
    format!(r#"{{"exports":{exports},"_links":{{"self":{{"href":"{root}{self_href}"}}{next}}}}}"#)
}

fn export_json(id: &str, status: &str, last_modified: Option<&str>, request: &str) -> String {
    let modified = last_modified
        .map(|m| format!(r#","lastModified":"{m}""#))
        .unwrap_or_default();
    format!(
        r#"{{"id":"{id}","displayName":"m","status":"{status}"{modified},"request":{request}}}"#
    )
}

fn start_request(i_model_id: &str) -> StartExport {
    StartExport {
        i_model_id: i_model_id.into(),
        changeset_id: None,
        export_type: Some(ExportType::X3dTiles),
        geometry_options: None,
        view_definition_filter: None,
    }
}

fn quick() -> RetryOptions {
    mesh_export_test_support::emulator::quick_retries()
}

// ---- absurd numbers ----

#[tokio::test]
async fn absurd_token_lifetimes_neither_panic_nor_fail_the_token() {
    for expires_in in [
        "1e20",
        "-5",
        "\"NaN\"",
        "\"-inf\"",
        "184467440737095516160000",
        "1e308",
        "0",
    ] {
        let body =
            format!(r#"{{"access_token":"tok","token_type":"Bearer","expires_in":{expires_in}}}"#);
        let (root, _) = raw_server(move |_, _, _| json(200, body.clone())).await;
        let credentials =
            ClientCredentials::new("id", "secret").token_url(format!("{root}/connect/token"));
        let token = tokio::spawn(async move { credentials.token().await })
            .await
            .unwrap_or_else(|_| panic!("expires_in {expires_in} panicked"))
            .unwrap_or_else(|e| panic!("expires_in {expires_in}: {e}"));
        assert_eq!(token.token.expose(), "tok");
        // Whatever the server claims, a lifetime is bounded (a day at most).
        if let Some(left) = token.remaining() {
            assert!(
                left <= Duration::from_secs(86_400),
                "{expires_in}: {left:?}"
            );
        }
    }
}

#[tokio::test]
async fn a_retry_after_too_large_to_represent_is_a_rate_limit_not_a_missing_hint() {
    let (root, log) = raw_server(|_, _, _| {
        Action::Respond(
            429,
            vec![("retry-after", "99999999999999999999999999".into())],
            "slow down".into(),
        )
    })
    .await;
    let client = client_for(&format!("{root}/mesh-export"), quick());
    let error = client.list_page(&ExportFilter::new()).await.unwrap_err();
    assert!(
        matches!(&error, Error::RateLimited { retry_after, .. } if *retry_after > Duration::from_secs(3600)),
        "{error:?}"
    );
    assert_eq!(
        log.lock().unwrap().len(),
        1,
        "the hint was not slept through"
    );
}

#[tokio::test]
async fn limits_at_their_maximum_do_not_overflow() {
    let (root, log) = raw_server(|_, _, _| {
        Action::Respond(
            503,
            vec![("retry-after", u64::MAX.to_string())],
            "busy".into(),
        )
    })
    .await;
    let url = format!("{root}/mesh-export");
    let limits = RetryOptions {
        max_attempts: u32::MAX,
        initial_backoff: Duration::MAX,
        max_backoff: Duration::MAX,
        max_elapsed: Duration::from_secs(3600),
        max_retry_after: Duration::MAX,
    };
    let client = client_for(&url, limits);
    let call = tokio::spawn(async move { client.list_page(&ExportFilter::new()).await });
    let result = tokio::time::timeout(Duration::from_secs(20), call)
        .await
        .expect("a wait past the budget ends the call")
        .expect("no overflow panic");
    assert_eq!(result.unwrap_err().status(), Some(503));
    assert_eq!(log.lock().unwrap().len(), 1);

    // An interval that cannot be added to the time waited ends the wait at its timeout.
    let client = client_for(&url, RetryOptions::none());
    let options = WaitOptions::default()
        .interval(Duration::MAX)
        .timeout(Duration::from_millis(200));
    let wait = tokio::spawn(async move { client.wait_for_export("m", "e1", options).await });
    let result = tokio::time::timeout(Duration::from_secs(20), wait)
        .await
        .expect("the wait ends at its timeout")
        .expect("no overflow panic");
    assert!(
        matches!(result, Err(Error::WaitTimeout { .. })),
        "{result:?}"
    );
}

// ---- signatures in error text ----

const SECRETS: [&str; 8] = [
    "CFSIGSECRET",
    "CFPOLICYSECRET",
    "CFKEYPAIRSECRET",
    "AMZSIGSECRET",
    "AMZCREDSECRET",
    "AMZTOKENSECRET",
    "AZSIGSECRET",
    "UNKNOWNSECRET",
];

fn signed_urls() -> String {
    [
        "https://d111.cloudfront.net/t/tileset.json?Policy=CFPOLICYSECRET&Signature=CFSIGSECRET&Key-Pair-Id=CFKEYPAIRSECRET",
        "https://b.s3.amazonaws.com/t.glb?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AMZCREDSECRET&X-Amz-Security-Token=AMZTOKENSECRET&X-Amz-Signature=AMZSIGSECRET",
        "https://a.blob.core.windows.net/c/t?sv=2024&sig=AZSIGSECRET&se=2030",
        "http://cdn.example/x?token=UNKNOWNSECRET",
    ]
    .join(" and ")
}

fn assert_no_secret(text: &str) {
    for secret in SECRETS {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
}

#[tokio::test]
async fn no_url_signature_reaches_an_error_from_a_text_or_json_body() {
    let urls = signed_urls();
    let escaped = urls.replace('/', "\\/");
    let (root, _) = raw_server(move |seen, _, _| {
        if seen.method == "DELETE" {
            json(
                422,
                format!(
                    r#"{{"error":{{"code":"X","message":"see {escaped}","target":"{urls}","details":[{{"code":"c","message":"{urls}"}}]}}}}"#
                ),
            )
        } else {
            text(500, format!("upstream said: {urls}"))
        }
    })
    .await;
    let client = client_for(&format!("{root}/mesh-export"), RetryOptions::none());
    let listed = client.list_page(&ExportFilter::new()).await.unwrap_err();
    let deleted = client.delete_export("e1").await.unwrap_err();
    for error in [listed, deleted] {
        assert_no_secret(&format!("{error} {error:?}"));
    }
}

#[test]
fn signature_parameters_are_redacted_in_any_case_or_encoding() {
    let body = "a SIG=AZSIGSECRET b x-amz-signature%3DAMZSIGSECRET c Signature%3dCFSIGSECRET \
                d CloudFront-Policy=CFPOLICYSECRET; e x-amz-credential=AMZCREDSECRET";
    let error = Error::from_response_parts(
        reqwest::StatusCode::BAD_GATEWAY,
        &reqwest::header::HeaderMap::new(),
        body.as_bytes(),
        None,
    );
    assert_no_secret(&format!("{error} {error:?}"));
}

// ---- paging ----

#[tokio::test]
async fn pages_that_link_back_to_an_earlier_page_end_with_an_error() {
    let (root, log) = raw_server(|seen, _, root| {
        if seen.target.contains("page=b") {
            json(
                200,
                page(
                    root,
                    "/mesh-export/?page=b",
                    Some("/mesh-export/?page=a"),
                    "[]",
                ),
            )
        } else {
            json(
                200,
                page(
                    root,
                    "/mesh-export/?page=a",
                    Some("/mesh-export/?page=b"),
                    "[]",
                ),
            )
        }
    })
    .await;
    let client = client_for(&format!("{root}/mesh-export"), quick());
    let all = tokio::time::timeout(
        Duration::from_secs(10),
        client.exports(ExportFilter::new()).try_collect::<Vec<_>>(),
    )
    .await
    .expect("paging in a loop must stop");
    let error = all.unwrap_err();
    assert!(error.to_string().contains("loop"), "{error}");
    assert!(log.lock().unwrap().len() <= 3);
}

// ---- statuses and bodies ----

#[tokio::test]
async fn a_documented_status_with_a_text_body_keeps_its_meaning() {
    let (root, _) = raw_server(|seen, _, _| match seen.method.as_str() {
        "DELETE" => text(404, "Not Found"),
        "POST" => text(403, "Forbidden by the gateway"),
        _ => text(429, "Rate limit is exceeded"),
    })
    .await;
    let client = client_for(&format!("{root}/mesh-export"), RetryOptions::none());
    let listed = client.list_page(&ExportFilter::new()).await.unwrap_err();
    assert!(!matches!(listed, Error::Decode { .. }), "{listed:?}");
    assert!(listed.is_retryable(), "a 429 stays retryable: {listed:?}");
    assert_eq!(listed.status(), Some(429));
    let deleted = client.delete_export("e1").await.unwrap_err();
    assert!(!matches!(deleted, Error::Decode { .. }), "{deleted:?}");
    assert_eq!(deleted.status(), Some(404));
    let started = client.start_export(start_request("m")).await.unwrap_err();
    assert!(!matches!(started, Error::Decode { .. }), "{started:?}");
    assert_eq!(started.status(), Some(403));
    assert!(
        started.to_string().contains("Forbidden by the gateway"),
        "{started}"
    );
}

#[tokio::test]
async fn a_connection_reset_while_reading_a_get_body_is_retried() {
    let (root, log) = raw_server(|_, index, root| {
        let body = page(root, "/mesh-export/", None, "[]");
        if index == 0 {
            Action::Truncate(body[..10].to_owned())
        } else {
            json(200, body)
        }
    })
    .await;
    let client = client_for(&format!("{root}/mesh-export"), quick());
    client.list_page(&ExportFilter::new()).await.unwrap();
    assert_eq!(log.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn a_503_answer_to_start_export_is_not_resent() {
    let (root, log) = raw_server(|_, _, _| {
        Action::Respond(503, vec![("retry-after", "0".into())], "busy".into())
    })
    .await;
    let client = client_for(&format!("{root}/mesh-export"), quick());
    let error = client.start_export(start_request("m")).await.unwrap_err();
    assert_eq!(error.status(), Some(503), "{error:?}");
    assert_eq!(log.lock().unwrap().len(), 1, "the POST was sent again");
}

// ---- waiting ----

#[tokio::test]
async fn waiting_honours_a_retry_after_longer_than_its_interval() {
    let (root, log) = raw_server(|_, index, root| {
        if index == 0 {
            Action::Respond(429, vec![("retry-after", "1".into())], "slow down".into())
        } else {
            let export = export_json("e1", "Complete", None, r#"{"iModelId":"m"}"#);
            json(
                200,
                page(root, "/mesh-export/", None, &format!("[{export}]")),
            )
        }
    })
    .await;
    let client = client_for(&format!("{root}/mesh-export"), RetryOptions::none());
    let options = WaitOptions::default()
        .interval(Duration::from_millis(10))
        .timeout(Duration::from_secs(20));
    client.wait_for_export("m", "e1", options).await.unwrap();
    let log = log.lock().unwrap();
    assert_eq!(log.len(), 2);
    let gap = log[1].at - log[0].at;
    assert!(
        gap >= Duration::from_millis(900),
        "polled again after {gap:?}"
    );
}

#[tokio::test]
async fn waiting_enforces_its_timeout_during_a_hanging_poll() {
    let (root, _) = raw_server(|_, _, _| Action::Hang).await;
    let client = client_for(&format!("{root}/mesh-export"), RetryOptions::none());
    let options = WaitOptions::default()
        .interval(Duration::from_millis(10))
        .timeout(Duration::from_millis(300));
    let started = Instant::now();
    let result = tokio::time::timeout(
        Duration::from_secs(10),
        client.wait_for_export("m", "e1", options),
    )
    .await
    .expect("the wait must end at its timeout, not the HTTP client's");
    assert!(
        matches!(result, Err(Error::WaitTimeout { .. })),
        "{result:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

// ---- get-or-start ----

#[tokio::test]
async fn get_or_start_reuses_an_export_whose_request_omits_the_type() {
    let (root, log) = raw_server(|_, _, root| {
        let export = export_json(
            "untyped",
            "Complete",
            Some("2024-08-22T03:18:43Z"),
            r#"{"iModelId":"m","changesetId":""}"#,
        );
        json(
            200,
            page(root, "/mesh-export/", None, &format!("[{export}]")),
        )
    })
    .await;
    let client = client_for(&format!("{root}/mesh-export"), quick());
    let export = client
        .get_or_start_export(start_request("m"))
        .await
        .unwrap();
    assert_eq!(export.id, "untyped");
    assert!(log.lock().unwrap().iter().all(|s| s.method != "POST"));
}

#[tokio::test]
async fn get_or_start_picks_the_newest_with_missing_timestamps_last() {
    let (root, _) = raw_server(|seen, _, root| {
        let request = r#"{"iModelId":"m","exportType":"3DTiles"}"#;
        // The service lists newest first.
        let exports = if seen.target.contains("iModelId=a") {
            [
                export_json("newer-undated", "Complete", None, request),
                export_json("older-undated", "Complete", None, request),
            ]
            .join(",")
        } else {
            [
                export_json("undated", "Complete", None, request),
                export_json(
                    "dated-old",
                    "Complete",
                    Some("2024-01-01T00:00:00Z"),
                    request,
                ),
                export_json(
                    "dated-new",
                    "Complete",
                    Some("2024-06-01T00:00:00Z"),
                    request,
                ),
            ]
            .join(",")
        };
        let exports = exports.replace(
            r#""iModelId":"m""#,
            &format!(
                r#""iModelId":"{}""#,
                if seen.target.contains("iModelId=a") {
                    "a"
                } else {
                    "b"
                }
            ),
        );
        json(
            200,
            page(root, "/mesh-export/", None, &format!("[{exports}]")),
        )
    })
    .await;
    let client = client_for(&format!("{root}/mesh-export"), quick());
    let a = client
        .get_or_start_export(start_request("a"))
        .await
        .unwrap();
    assert_eq!(a.id, "newer-undated");
    let b = client
        .get_or_start_export(start_request("b"))
        .await
        .unwrap();
    assert_eq!(b.id, "dated-new");
}

#[tokio::test]
async fn get_or_start_returns_the_export_a_start_answered_by_a_gateway_503_created() {
    // The POST reaches the backend, which creates the export, and the gateway answers 503.
    let created = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let backend = created.clone();
    let (root, log) = raw_server(move |seen, _, root| {
        if seen.method == "POST" {
            backend.store(true, Ordering::SeqCst);
            return text(503, "Service Unavailable (gateway)");
        }
        let exports = if backend.load(Ordering::SeqCst) {
            export_json(
                "created",
                "NotStarted",
                None,
                r#"{"iModelId":"gw","exportType":"3DTiles"}"#,
            )
        } else {
            String::new()
        };
        json(
            200,
            page(root, "/mesh-export/", None, &format!("[{exports}]")),
        )
    })
    .await;
    let client = client_for(&format!("{root}/mesh-export"), quick());
    let export = client
        .get_or_start_export(start_request("gw"))
        .await
        .unwrap();
    assert_eq!(export.id, "created");
    assert!(created.load(Ordering::SeqCst));
    let posts = log
        .lock()
        .unwrap()
        .iter()
        .filter(|s| s.method == "POST")
        .count();
    assert_eq!(posts, 1, "the POST was sent again");
}

// ---- tokens ----

/// A source whose first token arrives after `first_delay` and expires `lifetime` after the
/// request began, so it is already inside its refresh-ahead window; later fetches never end.
#[derive(Debug)]
struct SlowThenDown {
    calls: AtomicU32,
    first_delay: Duration,
    lifetime: Duration,
}

impl TokenSource for SlowThenDown {
    fn token(&self) -> BoxFuture<'_, Result<AccessToken, AuthError>> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        let started = std::time::Instant::now();
        Box::pin(async move {
            if n > 0 {
                std::future::pending::<()>().await;
            }
            tokio::time::sleep(self.first_delay).await;
            Ok(AccessToken {
                token: "cached".into(),
                expires_at: Some(started + self.lifetime),
                scheme: mesh_export::auth::AuthScheme::Bearer,
            })
        })
    }
}

#[tokio::test]
async fn a_valid_cached_token_is_served_while_a_refresh_hangs() {
    let source = Arc::new(SlowThenDown {
        calls: AtomicU32::new(0),
        first_delay: Duration::from_millis(1500),
        lifetime: Duration::from_millis(2500),
    });
    let cache = Arc::new(TokenCache::new(source.clone()));
    // Arrives 1.5 s into a 2.5 s life: past half of it, so every later call is in the window.
    assert_eq!(cache.get().await.unwrap().token.expose(), "cached");
    for _ in 0..3 {
        let token = tokio::time::timeout(Duration::from_millis(300), cache.get())
            .await
            .expect("a caller waited for the hanging refresh")
            .unwrap();
        assert_eq!(token.token.expose(), "cached");
    }
    // Let the background refresh start (the test runs on one thread).
    tokio::task::yield_now().await;
    assert_eq!(
        source.calls.load(Ordering::SeqCst),
        2,
        "one refresh in flight"
    );
}

/// A source that takes 300 ms per token and counts its calls.
#[derive(Debug, Default)]
struct Slow(AtomicU32);

impl TokenSource for Slow {
    fn token(&self) -> BoxFuture<'_, Result<AccessToken, AuthError>> {
        let n = self.0.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            Ok(AccessToken::new(
                format!("t{n}"),
                Some(Duration::from_secs(3600)),
            ))
        })
    }
}

#[tokio::test]
async fn a_cancelled_caller_does_not_abort_the_shared_token_fetch() {
    let source = Arc::new(Slow::default());
    let cache = TokenCache::new(source.clone());
    let cancelled = tokio::time::timeout(Duration::from_millis(50), cache.get()).await;
    assert!(cancelled.is_err());
    let token = cache.get().await.unwrap();
    assert_eq!(token.token.expose(), "t0");
    assert_eq!(
        source.0.load(Ordering::SeqCst),
        1,
        "the fetch was started again"
    );
}

/// A source that always fails, counting its calls.
#[derive(Debug, Default)]
struct Down(AtomicU32);

impl TokenSource for Down {
    fn token(&self) -> BoxFuture<'_, Result<AccessToken, AuthError>> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Box::pin(async { Err(AuthError::Other("identity provider down".into())) })
    }
}

#[tokio::test]
async fn a_failed_token_fetch_is_remembered_with_backoff() {
    let source = Arc::new(Down::default());
    let cache = TokenCache::new(source.clone());
    for _ in 0..5 {
        let error = cache.get().await.unwrap_err();
        assert!(
            error.to_string().contains("identity provider down"),
            "{error}"
        );
    }
    assert_eq!(
        source.0.load(Ordering::SeqCst),
        1,
        "each caller asked the source again"
    );
}

#[tokio::test]
async fn transient_token_endpoint_errors_are_retried() {
    let (root, log) = raw_server(|_, index, _| match index {
        0 => text(503, "down for maintenance"),
        1 => Action::Respond(429, vec![("retry-after", "0".into())], "slow".into()),
        _ => json(200, r#"{"access_token":"tok","expires_in":3600}"#),
    })
    .await;
    let credentials =
        ClientCredentials::new("id", "secret").token_url(format!("{root}/connect/token"));
    let token = credentials.token().await.unwrap();
    assert_eq!(token.token.expose(), "tok");
    assert_eq!(log.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn a_token_endpoint_that_stays_down_is_a_retryable_auth_error() {
    let (root, _) = raw_server(|_, _, _| text(503, "down")).await;
    let client = mesh_export::Client::builder()
        .base_url(format!("{root}/mesh-export"))
        .client_credentials(
            ClientCredentials::new("id", "secret").token_url(format!("{root}/connect/token")),
        )
        .build()
        .unwrap();
    let error = client.list_page(&ExportFilter::new()).await.unwrap_err();
    assert!(matches!(error, Error::Auth(_)), "{error:?}");
    assert!(error.is_retryable(), "{error:?}");
}

/// Client credentials against the token endpoint of a [`raw_server`] at `root`, with the
/// default token retries.
fn credentials_at(root: &str) -> ClientCredentials {
    ClientCredentials::new("id", "secret").token_url(format!("{root}/connect/token"))
}

#[tokio::test]
async fn a_token_endpoint_that_keeps_failing_is_asked_three_times() {
    let (root, log) = raw_server(|_, _, _| text(503, "down")).await;
    let error = credentials_at(&root).token().await.unwrap_err();
    assert!(
        matches!(error, AuthError::TokenEndpoint { status: 503, .. }),
        "{error:?}"
    );
    assert_eq!(log.lock().unwrap().len(), 3);
}

/// Token fetches have a budget of their own, 30 s, below the API's 90 s: a call waiting for
/// its first token is not held through a long `Retry-After` of the token endpoint.
#[tokio::test]
async fn a_token_endpoint_asking_for_a_wait_past_30_s_is_not_asked_again() {
    let (root, log) = raw_server(|_, index, _| match index {
        0 => Action::Respond(503, vec![("retry-after", "31".into())], "later".into()),
        _ => json(200, r#"{"access_token":"tok","expires_in":3600}"#),
    })
    .await;
    let error = credentials_at(&root).token().await.unwrap_err();
    assert!(
        matches!(error, AuthError::TokenEndpoint { status: 503, .. }),
        "{error:?}"
    );
    assert_eq!(log.lock().unwrap().len(), 1);
}

/// The client secret is posted to the configured token URL and nowhere else: a redirect is
/// an answer, not an instruction to send the credentials on.
#[tokio::test]
async fn a_token_endpoint_redirect_is_not_followed_with_the_secret() {
    let (elsewhere, posted_elsewhere) =
        raw_server(|_, _, _| json(200, r#"{"access_token":"tok","expires_in":3600}"#)).await;
    let (root, log) = raw_server(move |_, _, _| {
        Action::Respond(
            307,
            vec![("location", format!("{elsewhere}/connect/token"))],
            String::new(),
        )
    })
    .await;
    let error = credentials_at(&root).token().await.unwrap_err();
    assert!(
        matches!(error, AuthError::TokenEndpoint { status: 307, .. }),
        "{error:?}"
    );
    assert_eq!(log.lock().unwrap().len(), 1);
    assert!(
        posted_elsewhere.lock().unwrap().is_empty(),
        "the credentials were posted to the redirect's target"
    );
}

#[tokio::test]
async fn a_token_endpoint_may_give_expires_in_as_a_numeric_string() {
    let (root, _) =
        raw_server(|_, _, _| json(200, r#"{"access_token":"tok","expires_in":"3600"}"#)).await;
    let token = credentials_at(&root).token().await.unwrap();
    let left = token.remaining().expect("the token's expiry is known");
    assert!(
        left > Duration::ZERO && left <= Duration::from_secs(3600),
        "{left:?}"
    );
}

#[tokio::test]
async fn an_unreachable_token_endpoint_is_a_retryable_auth_error() {
    // A port nobody listens on: the connection is refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let root = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let client = mesh_export::Client::builder()
        .base_url(format!("{root}/mesh-export"))
        .client_credentials(credentials_at(&root).retry(RetryOptions::none()))
        .build()
        .unwrap();
    let error = client.list_page(&ExportFilter::new()).await.unwrap_err();
    assert!(
        matches!(error, Error::Auth(AuthError::Transport(_))),
        "{error:?}"
    );
    assert!(error.is_retryable(), "{error:?}");
}

// ---- deprecation ----

#[tokio::test]
#[allow(deprecated)]
async fn each_client_reports_a_deprecated_operation_to_its_own_handler() {
    let (root, _) = raw_server(|_, _, _| {
        json(
            200,
            format!(
                r#"{{"export":{}}}"#,
                export_json("e1", "Complete", None, r#"{"iModelId":"m"}"#)
            ),
        )
    })
    .await;
    let counted = |count: Arc<AtomicU32>| {
        mesh_export::Client::builder()
            .base_url(format!("{root}/mesh-export"))
            .static_token("t")
            .deprecation_warnings(DeprecationWarnings::handler(move |_| {
                count.fetch_add(1, Ordering::SeqCst);
            }))
            .build()
            .unwrap()
    };
    let first = Arc::new(AtomicU32::new(0));
    let second = Arc::new(AtomicU32::new(0));
    let a = counted(first.clone());
    let b = counted(second.clone());
    a.get_export("e1").await.unwrap();
    a.clone().get_export("e1").await.unwrap();
    b.get_export("e1").await.unwrap();
    assert_eq!(
        first.load(Ordering::SeqCst),
        1,
        "once per client, clones included"
    );
    assert_eq!(
        second.load(Ordering::SeqCst),
        1,
        "the second client's handler fired"
    );
}

// ---- the generated client ----

#[tokio::test]
async fn the_generated_client_goes_down_the_same_request_path() {
    let (root, log) = raw_server(|seen, index, root| {
        if seen.target.contains("iModelId=limited") {
            return Action::Respond(429, vec![("retry-after", "120".into())], "slow down".into());
        }
        if index == 0 {
            Action::Respond(503, vec![("retry-after", "0".into())], "busy".into())
        } else {
            json(200, page(root, "/mesh-export/", None, "[]"))
        }
    })
    .await;
    let client = client_for(&format!("{root}/mesh-export"), quick());
    let page = client.generated().get_exports().send().await.unwrap();
    assert!(page.exports.is_empty());
    assert_eq!(log.lock().unwrap().len(), 2, "the 503 was retried");

    // A hint above the cap ends the call; progenitor sees the rate limit's status and wait.
    let error = client
        .generated()
        .get_exports()
        .i_model_id("limited")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error.status().map(|s| s.as_u16()), Some(429), "{error:?}");
    assert_eq!(
        log.lock().unwrap().len(),
        3,
        "the hint was not slept through"
    );
}
