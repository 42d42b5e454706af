//! Secrets kept out of logs, `Debug` output and errors. Its own test binary: it installs a
//! thread-local `tracing` subscriber, and a callsite first reached by a test on another thread
//! of the same process can miss it (tracing-core registers callsites and rebuilds their
//! interest under separate locks), which made the log capture flaky.

mod common;

use std::time::Duration;

use common::{CapturedLogs, builder, demo_credentials};
use mesh_export::auth::TokenSource;
use mesh_export::{Client, ExportFilter, StartExport};
use mesh_export_emulator::{DEMO_CLIENT_SECRET, Emulator};

#[tokio::test(flavor = "current_thread")]
async fn secrets_never_reach_logs_debug_output_or_errors() {
    let logs = CapturedLogs::default();
    let _guard = logs.install();
    let emulator = Emulator::builder()
        .token_ttl(Duration::from_secs(1))
        .export_duration(Duration::ZERO)
        .start()
        .await
        .unwrap();
    let static_token = demo_credentials(&emulator).token().await.unwrap();
    let static_token = static_token.token.expose().to_owned();

    let client = builder(&emulator).build().unwrap();
    let export = client
        .start_export(StartExport {
            i_model_id: "imodel-secrets".into(),
            changeset_id: None,
            export_type: None,
        })
        .await
        .unwrap();
    let done = client
        .find_export("imodel-secrets", &export.id)
        .await
        .unwrap();
    let mesh = done
        .links
        .as_ref()
        .and_then(|l| l.mesh.as_ref())
        .map(|m| m.href.clone());
    let by_static = Client::builder()
        .base_url(emulator.mesh_export_url())
        .static_token(static_token.as_str())
        .build()
        .unwrap();
    by_static.list_page(&ExportFilter::new()).await.unwrap();
    // An expired static token: a 401 that is logged and reported.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let error = by_static.list_page(&ExportFilter::new()).await.unwrap_err();

    let text = format!(
        "{}\n{client:?}\n{by_static:?}\n{error}\n{error:?}\n{:?}",
        logs.text(),
        demo_credentials(&emulator)
    );
    assert!(
        logs.text().contains("mesh_export.call"),
        "nothing was captured: {}",
        logs.text()
    );
    assert!(!text.contains(DEMO_CLIENT_SECRET), "client secret leaked");
    assert!(!text.contains(&static_token), "token leaked");
    assert!(
        !text.contains("Bearer "),
        "an Authorization header was logged"
    );
    if let Some(mesh) = mesh {
        let signature = mesh.split("sig=").nth(1).unwrap_or_default();
        assert!(
            signature.is_empty() || !text.contains(signature),
            "SAS signature leaked"
        );
    }
    assert!(!text.contains("sig="), "a signed query string was logged");
    emulator.shutdown().await;
}
