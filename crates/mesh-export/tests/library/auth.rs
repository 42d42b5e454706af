//! Authentication against the emulator's token endpoint, and secrets kept out of logs.

use std::sync::Arc;
use std::time::Duration;

use mesh_export::auth::{AccessToken, AuthError, TokenSource};
use mesh_export::tiles::{Downloader, TilesetUrl};
use mesh_export::{Client, ClientCredentials, Error, ExportFilter, StartExport};
use mesh_export_client::BoxFuture;
use mesh_export_emulator::{DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, Emulator};
use mesh_export_test_support::emulator::{builder, demo_credentials};
use mesh_export_test_support::logs::{self, LogCapture};

#[tokio::test]
async fn a_static_token_authenticates_and_a_bad_one_is_a_401() {
    let emulator = Emulator::builder().start().await.unwrap();
    let token = demo_credentials(&emulator).token().await.unwrap();
    let client = Client::builder()
        .base_url(emulator.mesh_export_url())
        .static_token(token.token.expose())
        .build()
        .unwrap();
    client.list_page(&ExportFilter::new()).await.unwrap();

    let bad = Client::builder()
        .base_url(emulator.mesh_export_url())
        .static_token("not-a-token")
        .build()
        .unwrap();
    let error = bad.list_page(&ExportFilter::new()).await.unwrap_err();
    assert_eq!(error.status(), Some(401), "{error:?}");
    assert!(error.correlation_id().is_some());
    emulator.shutdown().await;
}

#[tokio::test]
async fn client_credentials_obtain_a_token_once_for_many_calls() {
    let emulator = Emulator::builder().start().await.unwrap();
    let client = builder(&emulator).build().unwrap();
    for _ in 0..3 {
        client.list_page(&ExportFilter::new()).await.unwrap();
    }
    assert_eq!(emulator.stats().tokens_issued, 1);
    emulator.shutdown().await;
}

#[tokio::test]
async fn wrong_client_credentials_are_a_typed_auth_error() {
    let emulator = Emulator::builder().start().await.unwrap();
    let client = Client::builder()
        .base_url(emulator.mesh_export_url())
        .client_credentials(
            ClientCredentials::new(DEMO_CLIENT_ID, "wrong-secret").token_url(emulator.token_url()),
        )
        .build()
        .unwrap();
    let error = client.list_page(&ExportFilter::new()).await.unwrap_err();
    match &error {
        Error::Auth(AuthError::TokenEndpoint { status, error, .. }) => {
            assert_eq!(*status, 401);
            assert_eq!(error.as_deref(), Some("invalid_client"));
        }
        other => panic!("expected an auth error, got {other:?}"),
    }
    assert!(!format!("{error} {error:?}").contains("wrong-secret"));
    // A person can tell the token endpoint's refusal from the service's.
    assert!(error.to_string().contains(&emulator.token_url()), "{error}");
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_token_is_refreshed_ahead_of_expiry() {
    let emulator = Emulator::builder()
        .token_ttl(Duration::from_secs(2))
        .start()
        .await
        .unwrap();
    let client = builder(&emulator).build().unwrap();
    client.list_page(&ExportFilter::new()).await.unwrap();
    // Past half of the token's life, but before it expires: the cache refreshes it.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    client.list_page(&ExportFilter::new()).await.unwrap();
    assert_eq!(emulator.stats().tokens_issued, 2);
    emulator.shutdown().await;
}

/// Client credentials that claim their tokens live an hour, so the cache never refreshes them
/// on its own and only a 401 can reveal that the service no longer accepts one.
#[derive(Debug)]
struct OptimisticExpiry(ClientCredentials);

impl TokenSource for OptimisticExpiry {
    fn token(&self) -> BoxFuture<'_, Result<AccessToken, AuthError>> {
        Box::pin(async {
            let token = self.0.token().await?;
            Ok(AccessToken::new(
                token.token,
                Some(Duration::from_secs(3600)),
            ))
        })
    }
}

#[tokio::test]
async fn a_401_invalidates_the_token_and_retries_once_with_a_new_one() {
    let emulator = Emulator::builder()
        .token_ttl(Duration::from_secs(1))
        .start()
        .await
        .unwrap();
    let client = Client::builder()
        .base_url(emulator.mesh_export_url())
        .token_source(OptimisticExpiry(demo_credentials(&emulator)))
        .build()
        .unwrap();
    client.list_page(&ExportFilter::new()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // The cached token has expired at the service: 401, then a fresh token, then success.
    client.list_page(&ExportFilter::new()).await.unwrap();
    assert_eq!(emulator.stats().tokens_issued, 2);
    emulator.shutdown().await;
}

#[tokio::test]
async fn concurrent_calls_share_one_token_request() {
    let emulator = Emulator::builder().start().await.unwrap();
    let client = builder(&emulator).build().unwrap();
    let calls = (0..16).map(|_| {
        let client = client.clone();
        tokio::spawn(async move { client.list_page(&ExportFilter::new()).await })
    });
    for call in futures::future::join_all(calls).await {
        call.unwrap().unwrap();
    }
    assert_eq!(emulator.stats().tokens_issued, 1);
    emulator.shutdown().await;
}

/// Everything a run prints about itself: the captured logs of the whole process and the
/// `Debug` and `Display` text of what the test holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_reach_logs_debug_output_or_errors() {
    let logs = LogCapture::start();
    let (held, static_token, signature, files) = logs
        .scope(async {
            let emulator = Emulator::builder()
                .token_ttl(Duration::from_secs(1))
                .export_duration(Duration::ZERO)
                .tiles(3)
                .start()
                .await
                .unwrap();
            let client = builder(&emulator).build().unwrap();
            let export = client
                .start_export(StartExport {
                    i_model_id: "imodel-secrets".into(),
                    changeset_id: None,
                    export_type: None,
                    geometry_options: None,
                    view_definition_filter: None,
                })
                .await
                .unwrap();
            let done = client
                .find_export("imodel-secrets", &export.id)
                .await
                .unwrap();
            let href = done
                .links
                .as_ref()
                .and_then(|l| l.mesh.as_ref())
                .map(|m| m.href.clone())
                .expect("a complete export links its mesh");
            let signature = href
                .split(['?', '&'])
                .find_map(|kv| kv.strip_prefix("sig="))
                .expect("the mesh link is signed with sig=")
                .to_owned();
            assert!(signature.len() >= 16, "a signature worth searching for: {signature}");

            // The signature goes out on every tile request, and on one refused request.
            let dir = tempfile::tempdir().unwrap();
            let tileset = TilesetUrl::from_root_href(&href).unwrap();
            let summary = Downloader::new(dir.path())
                .download(&tileset)
                .await
                .unwrap();
            let forged = href.replace(&signature, &format!("{signature}X"));
            let refused_dir = tempfile::tempdir().unwrap();
            let refused = Downloader::new(refused_dir.path())
                .retry(mesh_export::RetryOptions::none())
                .download(&TilesetUrl::from_root_href(&forged).unwrap())
                .await
                .unwrap_err();

            // A token that lives one second, used right away and again once it has expired.
            let static_token = demo_credentials(&emulator).token().await.unwrap();
            let static_token = static_token.token.expose().to_owned();
            let by_static = Client::builder()
                .base_url(emulator.mesh_export_url())
                .static_token(static_token.as_str())
                .build()
                .unwrap();
            by_static.list_page(&ExportFilter::new()).await.unwrap();
            // An expired static token: a 401 that is logged and reported.
            tokio::time::sleep(Duration::from_millis(1200)).await;
            let error = by_static.list_page(&ExportFilter::new()).await.unwrap_err();
            let held = format!(
                "{client:?}\n{by_static:?}\n{error}\n{error:?}\n{:?}\n{tileset:?}\n{tileset}\n{summary:?}\n{refused}\n{refused:?}",
                demo_credentials(&emulator)
            );
            emulator.shutdown().await;
            (held, static_token, signature, summary.files)
        })
        .await;

    let own = logs.text();
    assert!(
        own.contains("mesh_export.call"),
        "the calls were not captured: {own}"
    );
    assert!(files > 0, "the signed URL was used");
    let text = format!("{}\n{held}", logs::process_text());
    assert!(!text.contains(DEMO_CLIENT_SECRET), "client secret leaked");
    assert!(!text.contains(&static_token), "token leaked");
    assert!(
        !text.contains("Bearer "),
        "an Authorization header was logged"
    );
    assert!(!text.contains(&signature), "SAS signature leaked");
    assert!(!text.contains("sig="), "a signed query string was logged");
}

#[test]
fn debug_output_of_token_sources_is_redacted() {
    let source: Arc<dyn TokenSource> = Arc::new(ClientCredentials::new("id", "s3cr3t-value"));
    let client = Client::builder()
        .static_token("tok-3x4mpl3")
        .build()
        .unwrap();
    let text = format!("{source:?} {client:?}");
    assert!(
        !text.contains("s3cr3t-value") && !text.contains("tok-3x4mpl3"),
        "{text}"
    );
}
