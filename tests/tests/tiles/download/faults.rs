//! A store that fails: short bodies, `Retry-After` on 429 and 503, tilesets that are not
//! tilesets or not JSON, and failed files in the progress.

use std::collections::HashMap;
use std::time::Duration;

use mesh_export_test_support::blobs::{BlobStore, Fault, SIG, fixture};
use mesh_export_test_support::emulator::quick_retries;
use mesh_export_test_support::files::{assert_byte_identical, files_under};
use tiles3d_download::{DownloadError, FileError, Manifest, TilesetUrl};

use super::downloader;

#[tokio::test]
async fn a_short_body_is_retried_and_never_kept_under_the_final_name() {
    let store = BlobStore::start(fixture()).await;
    store.set_fault(|rel, n| {
        if rel == "tiles/0/big.glb" && n < 2 {
            Fault::Truncate
        } else {
            Fault::None
        }
    });
    let out = tempfile::tempdir().unwrap();
    let tileset = TilesetUrl::from_root_href(&store.href()).unwrap();

    let summary = downloader(out.path()).download(&tileset).await.unwrap();

    assert_eq!(store.count("tiles/0/big.glb"), 3);
    assert!(summary.retries >= 2);
    assert_byte_identical(&store, out.path());
}

#[tokio::test]
async fn a_body_that_is_always_short_fails_that_file_and_leaves_no_partial_file() {
    let store = BlobStore::start(fixture()).await;
    store.set_fault(|rel, _| {
        if rel == "tiles/0/big.glb" {
            Fault::Truncate
        } else {
            Fault::None
        }
    });
    let out = tempfile::tempdir().unwrap();
    let tileset = TilesetUrl::from_root_href(&store.href()).unwrap();

    let err = downloader(out.path()).download(&tileset).await.unwrap_err();

    let DownloadError::Incomplete { failures, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].path.as_str(), "tiles/0/big.glb");
    assert!(matches!(
        failures[0].error,
        FileError::Transport(_) | FileError::LengthMismatch { .. }
    ));
    assert!(!out.path().join("tiles/0/big.glb").exists());
    assert!(
        files_under(out.path()).iter().all(|p| !p.contains("part")),
        "{:?}",
        files_under(out.path())
    );
    assert_eq!(
        store.count("tiles/0/big.glb"),
        quick_retries().max_attempts as usize
    );
    assert!(!err.to_string().contains(SIG));
}

#[tokio::test]
async fn retry_after_on_429_and_503_is_honoured() {
    let store = BlobStore::start(fixture()).await;
    store.set_fault(|rel, n| match (rel, n) {
        ("sub/a.glb", 0) => Fault::Status(429, Some(1)),
        ("sub/b.glb", 0) => Fault::Status(503, Some(1)),
        _ => Fault::None,
    });
    let out = tempfile::tempdir().unwrap();
    let tileset = TilesetUrl::from_root_href(&store.href()).unwrap();

    downloader(out.path()).download(&tileset).await.unwrap();

    for rel in ["sub/a.glb", "sub/b.glb"] {
        let times: Vec<_> = store
            .seen()
            .iter()
            .filter(|s| s.path.ends_with(rel))
            .map(|s| s.at)
            .collect();
        assert_eq!(times.len(), 2, "{rel}");
        assert!(
            times[1] - times[0] >= Duration::from_millis(950),
            "{rel} retried before the hint"
        );
    }
    assert_byte_identical(&store, out.path());
}

#[tokio::test]
async fn a_corrupt_tileset_is_a_clear_error_and_is_kept_for_inspection() {
    // Valid JSON, but no tileset: what arrived is what the server has, so it is kept.
    let mut files = HashMap::new();
    files.insert(
        "tileset.json".to_owned(),
        b"{\"asset\": {\"version\": \"1.0\"}, \"root\": [1]}".to_vec(),
    );
    let store = BlobStore::start(files).await;
    let out = tempfile::tempdir().unwrap();
    let tileset = TilesetUrl::from_root_href(&store.href()).unwrap();

    let err = downloader(out.path()).download(&tileset).await.unwrap_err();

    let DownloadError::Incomplete { failures, .. } = &err else {
        panic!("{err}")
    };
    assert!(
        matches!(failures[0].error, FileError::NotATileset(_)),
        "{err}"
    );
    assert!(err.to_string().contains("tileset.json"), "{err}");
    assert!(out.path().join("tileset.json").exists());
    assert_eq!(store.count("tileset.json"), 1, "not retried: it parsed");
}

#[tokio::test]
async fn a_tileset_that_is_not_json_is_fetched_again_then_reported_and_not_kept() {
    let mut files = HashMap::new();
    files.insert(
        "tileset.json".to_owned(),
        b"{\"asset\": {\"version\": \"1.0\"}, \"root\": [".to_vec(),
    );
    let store = BlobStore::start(files).await;
    let out = tempfile::tempdir().unwrap();
    let tileset = TilesetUrl::from_root_href(&store.href()).unwrap();

    let err = downloader(out.path()).download(&tileset).await.unwrap_err();

    let DownloadError::Incomplete { failures, .. } = &err else {
        panic!("{err}")
    };
    assert!(
        matches!(failures[0].error, FileError::Corrupt { .. }),
        "{err}"
    );
    assert_eq!(
        store.count("tileset.json"),
        2,
        "fetched once more, not at every attempt: it arrived whole"
    );
    assert!(!out.path().join("tileset.json").exists());
    let manifest = Manifest::read(out.path()).unwrap().unwrap();
    assert!(!manifest.complete);
    assert!(manifest.files.is_empty(), "never journaled");
}

#[tokio::test]
async fn progress_counts_failed_files() {
    let store = BlobStore::start(fixture()).await;
    store.set_fault(|rel, _| match rel {
        "tiles/root.glb" | "sub/a.glb" => Fault::Status(404, None),
        _ => Fault::None,
    });
    let out = tempfile::tempdir().unwrap();
    let tileset = TilesetUrl::from_root_href(&store.href()).unwrap();
    let downloader = downloader(out.path());
    let progress = downloader.progress();

    let err = downloader.download(&tileset).await.unwrap_err();

    let DownloadError::Incomplete { failures, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(failures.len(), 2, "{failures:?}");
    assert_eq!(progress.borrow().failed, 2);
}
