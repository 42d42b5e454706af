//! Share-key authentication: `Authorization: Basic <share key>`, against the emulator and a
//! recording server.

use std::sync::Arc;

use mesh_export::{Client, ExportFilter};
use mesh_export_emulator::Emulator;

#[tokio::test]
async fn a_share_key_authenticates_as_basic_and_a_wrong_one_is_a_401() {
    let emulator = Emulator::builder()
        .share_key("sk-library-share-key")
        .start()
        .await
        .unwrap();
    let client = Client::builder()
        .base_url(emulator.mesh_export_url())
        .share_key("sk-library-share-key")
        .build()
        .unwrap();
    client.list_page(&ExportFilter::new()).await.unwrap();

    let wrong = Client::builder()
        .base_url(emulator.mesh_export_url())
        .share_key("sk-wrong-share-key")
        .build()
        .unwrap();
    let error = wrong.list_page(&ExportFilter::new()).await.unwrap_err();
    assert_eq!(error.status(), Some(401), "{error:?}");
    let shown = format!("{error} {error:?} {wrong:?}");
    assert!(!shown.contains("sk-wrong-share-key"), "{shown}");
    emulator.shutdown().await;
}

#[tokio::test]
async fn the_share_key_goes_out_verbatim_after_basic() {
    let seen = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let record = seen.clone();
    let router = axum::Router::new().route(
        "/mesh-export/",
        axum::routing::get(move |headers: axum::http::HeaderMap| {
            let record = record.clone();
            async move {
                let value = headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                record.lock().unwrap().push(value);
                axum::Json(mesh_export_test_support::servers::empty_page(
                    "http://127.0.0.1",
                ))
            }
        }),
    );
    let base_url = mesh_export_test_support::servers::serve(router).await;
    let client = Client::builder()
        .base_url(&base_url)
        .share_key("sk/with+base64=")
        .build()
        .unwrap();
    client.list_page(&ExportFilter::new()).await.unwrap();
    assert_eq!(*seen.lock().unwrap(), ["Basic sk/with+base64="]);
}
