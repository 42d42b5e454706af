//! The adaptive number of files in flight against a store that answers 503 past a number of
//! requests at once.

use std::time::Duration;

use http_policy::retry::RetryOptions;
use mesh_export_emulator::dump_tileset;
use mesh_export_test_support::emulator::{Api, quick};
use mesh_export_test_support::files::files_under;
use tiles3d_download::{Downloader, TilesetUrl};

#[tokio::test]
async fn a_store_busy_past_two_requests_lowers_the_adaptive_limit_and_the_download_completes() {
    // Each answer holds its place for 50 ms, so a third request sent while two are answered
    // meets a 503, whatever the machine's speed.
    let emulator = quick()
        .tiles(120)
        .tile_bytes(1024)
        .blob_concurrency(2)
        .blob_delay(Duration::from_millis(50))
        .start()
        .await
        .unwrap();
    let api = Api::new(&emulator).await;
    let id = api.start("imodel-busy-store").await;
    let (root, query) = api.mesh(&id).await;
    let tileset = TilesetUrl::from_root_href(&format!("{root}?{query}")).unwrap();
    let out = tempfile::tempdir().unwrap();
    // Enough attempts that no file runs out of them while the limit comes down.
    let retry = RetryOptions {
        max_attempts: 50,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(100),
        max_elapsed: Duration::from_secs(120),
        max_retry_after: Duration::from_secs(1),
        ..RetryOptions::default()
    };
    // It starts at 16 in flight (32, within the bounds), and the store turns away anything
    // past two.
    let downloader = Downloader::new(out.path())
        .adaptive_concurrency(1, 16)
        .retry(retry);
    let progress = downloader.progress();

    let summary = downloader.download(&tileset).await.unwrap();

    let busy = emulator.stats().blobs_busy;
    assert!(
        busy > 0,
        "the store never met more than two requests at once"
    );
    let progress = progress.borrow().clone();
    assert!(progress.concurrency_lowered >= 1, "{progress:?}");
    assert!((1..=16).contains(&progress.concurrency), "{progress:?}");
    assert!(summary.retries >= busy, "every 503 was retried");
    let reference = tempfile::tempdir().unwrap();
    let served = dump_tileset(emulator.config(), &id, reference.path()).unwrap();
    assert_eq!(summary.files, served as u64);
    let mut written = files_under(out.path());
    written.retain(|p| p != "manifest.json");
    assert_eq!(written, files_under(reference.path()));
    for path in &written {
        let (got, want) = (out.path().join(path), reference.path().join(path));
        assert!(
            std::fs::read(got).unwrap() == std::fs::read(want).unwrap(),
            "{path}"
        );
    }
    emulator.shutdown().await;
}
