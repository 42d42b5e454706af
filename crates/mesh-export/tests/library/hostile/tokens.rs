//! Tokens from slow, failing, redirecting or unreachable sources and endpoints.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use mesh_export::auth::{AccessToken, AuthError, TokenCache, TokenSource};
use mesh_export::{ClientCredentials, Error, ExportFilter, RetryOptions};
use mesh_export_client::BoxFuture;

use super::server::{Action, json, raw_server, text};

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

/// serde's messages quote the string they did not expect, and a token endpoint's strings are
/// tokens: an answer of the wrong shape is described, never quoted.
#[tokio::test]
async fn an_answer_of_the_wrong_shape_is_refused_without_quoting_the_token_in_it() {
    for body in [
        r#""bare-token-in-a-string""#,
        r#"{"access_token": {"value": "bare-token-in-a-string"}}"#,
        r#"{"token": "bare-token-in-a-string"}"#,
        r#"["bare-token-in-a-string"]"#,
    ] {
        let (root, _) = raw_server(move |_, _, _| json(200, body)).await;
        let error = credentials_at(&root).token().await.unwrap_err().to_string();
        assert!(!error.contains("bare-token-in-a-string"), "{body}: {error}");
        assert!(error.contains("/connect/token"), "{body}: {error}");

        let session = mesh_export::auth::UserSession::new(
            mesh_export::auth::SavedSession {
                issuer: root.clone(),
                client_id: "native".into(),
                scopes: "itwin-platform offline_access".into(),
                token_endpoint: format!("{root}/connect/token"),
                revocation_endpoint: None,
                refresh_token: mesh_export::auth::Secret::new("refresh"),
            },
            None,
        );
        let error = session.token().await.unwrap_err().to_string();
        assert!(!error.contains("bare-token-in-a-string"), "{body}: {error}");
        assert!(error.contains("/connect/token"), "{body}: {error}");
    }
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
        matches!(error, Error::Auth(AuthError::Transport { .. })),
        "{error:?}"
    );
    // The message names the endpoint it could not reach, not only the refused connection.
    assert!(
        error.to_string().contains(&format!("{root}/connect/token")),
        "{error}"
    );
    assert!(error.is_retryable(), "{error:?}");
}
