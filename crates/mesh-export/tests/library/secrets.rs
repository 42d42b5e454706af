//! A token endpoint that echoes the credentials it was sent: their values never reach an
//! error's text, its `Debug` output or the logs, whatever the endpoint writes.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::StatusCode;
use axum::routing::post;
use mesh_export::auth::TokenCache;
use mesh_export::{Client, ClientCredentials, ExportFilter};
use mesh_export_test_support::logs::{self, LogCapture};
use mesh_export_test_support::servers::serve;

/// A token endpoint: the first `tokens` requests get a token living `lifetime_s`, every later
/// one a 400 whose description quotes `secret` (as some endpoints quote what they were sent).
async fn echoing_token_endpoint(secret: &'static str, tokens: u32, lifetime_s: u64) -> String {
    let asked = Arc::new(AtomicU32::new(0));
    let router = Router::new().route(
        "/token",
        post(move || {
            let n = asked.fetch_add(1, Ordering::SeqCst);
            async move {
                if n < tokens {
                    let body = serde_json::json!({
                        "access_token": format!("issued-token-{n}-abcdef"),
                        "expires_in": lifetime_s,
                    });
                    (StatusCode::OK, body.to_string())
                } else {
                    let body = serde_json::json!({
                        "error": format!("invalid_client {secret}"),
                        "error_description":
                            format!("client_secret '{secret}' does not match (client_secret={secret})"),
                    });
                    (StatusCode::BAD_REQUEST, body.to_string())
                }
            }
        }),
    );
    serve(router).await.replace("/mesh-export", "/token")
}

#[tokio::test]
async fn a_client_secret_echoed_by_the_token_endpoint_is_not_in_the_error() {
    const SECRET: &str = "Hunter2-echoed-in-the-error";
    let token_url = echoing_token_endpoint(SECRET, 0, 3600).await;
    let client = Client::builder()
        .base_url("http://127.0.0.1:9/mesh-export")
        .client_credentials(ClientCredentials::new("app", SECRET).token_url(token_url))
        .build()
        .unwrap();
    let error = client.list_page(&ExportFilter::new()).await.unwrap_err();
    let shown = format!("{error}\n{error:?}");
    assert!(shown.contains("client_secret 'REDACTED'"), "{shown}");
    assert!(!shown.contains(SECRET), "{shown}");
}

/// A refresh that fails while the cached token is still valid is logged, with the error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_secret_echoed_by_the_token_endpoint_is_not_logged() {
    const SECRET: &str = "Hunter2-echoed-in-the-logs";
    let _logs = LogCapture::start();
    let token_url = echoing_token_endpoint(SECRET, 1, 10).await;
    let cache = TokenCache::new(Arc::new(
        ClientCredentials::new("app", SECRET).token_url(token_url),
    ));
    let first = cache.get().await.unwrap();
    // Past half of the token's ten seconds, nearly five before it expires (room for a loaded
    // machine): the refresh runs behind the still-valid token.
    tokio::time::sleep(Duration::from_millis(5_200)).await;
    let again = cache.get().await.unwrap();
    assert_eq!(again.token, first.token, "the still-valid token is used");
    let deadline = Instant::now() + Duration::from_secs(20);
    // The refresh is a task of its own: wait for its warning (or a leak), polling the log.
    let logged = loop {
        let text = logs::process_text();
        let warned = text
            .lines()
            .any(|l| l.contains("token refresh failed") && l.contains("does not match"));
        if warned || text.contains(SECRET) {
            break text;
        }
        assert!(
            Instant::now() < deadline,
            "the failed refresh was never logged"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert!(!logged.contains(SECRET), "{logged}");
    drop(cache);
}
