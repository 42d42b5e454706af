//! Resuming: a killed run or a store that died halfway leaves complete files a second run
//! keeps, a file changed on disk is fetched again, and stale part files are removed.

use std::time::Duration;

use mesh_export_test_support::blobs::{BlobStore, Fault, fixture};
use mesh_export_test_support::files::{assert_byte_identical, files_under};
use tiles3d_download::{DownloadError, FileError, MANIFEST_FILE, Manifest, TilesetUrl};

use super::downloader;

#[tokio::test]
async fn a_killed_download_resumes_without_fetching_complete_files_again() {
    let store = BlobStore::start(fixture()).await;
    // Slow after the first few requests, so the kill lands halfway.
    store.set_fault(|rel, _| {
        if rel.ends_with(".json") || rel.starts_with("tiles/") {
            Fault::None
        } else {
            Fault::Delay(Duration::from_secs(30))
        }
    });
    let out = tempfile::tempdir().unwrap();
    let tileset = TilesetUrl::from_root_href(&store.href()).unwrap();
    let first = downloader(out.path());
    let mut progress = first.progress();
    let run = tokio::spawn({
        let tileset = tileset.clone();
        async move { first.download(&tileset).await }
    });
    progress.wait_for(|p| p.files_done >= 4).await.unwrap();
    run.abort();
    let _ = run.await;

    let complete_before: Vec<String> = files_under(out.path())
        .into_iter()
        .filter(|p| store.file(p).is_some())
        .collect();
    assert!(complete_before.len() >= 4, "{complete_before:?}");
    assert!(
        complete_before.len() < store.paths().len(),
        "the kill landed halfway"
    );
    assert!(!out.path().join(MANIFEST_FILE).exists());

    store.set_fault(|_, _| Fault::None);
    store.clear_seen();
    let summary = downloader(out.path()).download(&tileset).await.unwrap();

    for rel in &complete_before {
        assert_eq!(store.count(rel), 0, "{rel} was complete and fetched again");
    }
    // A rename already handed to the blocking pool when the task was aborted may still land
    // after the listing above, so more files than listed can be complete.
    assert!(summary.skipped >= complete_before.len() as u64);
    assert_eq!(summary.skipped + summary.downloaded_files, summary.files);
    assert_eq!(summary.files, store.paths().len() as u64);
    assert_byte_identical(&store, out.path());
    assert!(Manifest::read(out.path()).unwrap().unwrap().complete);
    let left = files_under(out.path());
    assert!(
        !left
            .iter()
            .any(|p| p.contains("mesh-export-part") || p.contains("journal")),
        "{left:?}"
    );
}

#[tokio::test]
async fn a_store_that_dies_halfway_leaves_complete_files_that_a_second_run_keeps() {
    let store = BlobStore::start(fixture()).await;
    store.set_fault(|rel, _| {
        if rel.starts_with("sub/") {
            Fault::Status(500, None)
        } else {
            Fault::None
        }
    });
    let out = tempfile::tempdir().unwrap();
    let tileset = TilesetUrl::from_root_href(&store.href()).unwrap();

    let err = downloader(out.path()).download(&tileset).await.unwrap_err();
    let DownloadError::Incomplete { failures, summary } = err else {
        panic!("{err}")
    };
    assert_eq!(failures[0].path.as_str(), "sub/child.json");
    assert_eq!(failures[0].error, FileError::Status { status: 500 });
    let manifest = Manifest::read(out.path()).unwrap().unwrap();
    assert!(!manifest.complete);
    assert_eq!(manifest.files.len() as u64, summary.files);

    store.set_fault(|_, _| Fault::None);
    store.clear_seen();
    let second = downloader(out.path()).download(&tileset).await.unwrap();
    for entry in &manifest.files {
        assert_eq!(store.count(&entry.path), 0, "{} fetched again", entry.path);
    }
    assert_eq!(second.skipped, manifest.files.len() as u64);
    assert_byte_identical(&store, out.path());
}

#[tokio::test]
async fn a_file_changed_on_disk_since_the_manifest_is_fetched_again() {
    let store = BlobStore::start(fixture()).await;
    let out = tempfile::tempdir().unwrap();
    let tileset = TilesetUrl::from_root_href(&store.href()).unwrap();
    downloader(out.path()).download(&tileset).await.unwrap();
    // Same size, different content.
    let victim = out.path().join("sub/a.glb");
    let mut content = std::fs::read(&victim).unwrap();
    content[0] ^= 0xff;
    std::fs::write(&victim, content).unwrap();

    store.clear_seen();
    let summary = downloader(out.path()).download(&tileset).await.unwrap();
    assert_eq!(store.count("sub/a.glb"), 1);
    assert_eq!(summary.downloaded_files, 1);
    assert_byte_identical(&store, out.path());
}

#[tokio::test]
async fn part_files_an_interrupted_run_left_are_removed_when_a_run_completes() {
    let store = BlobStore::start(fixture()).await;
    let out = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(out.path().join("tiles")).unwrap();
    let stale = [
        out.path().join(".1f-0.mesh-export-part"),
        out.path().join("tiles/.1f-1.mesh-export-part"),
    ];
    for part in &stale {
        std::fs::write(part, b"half a tile").unwrap();
    }
    let own = out.path().join("tiles/notes.txt");
    std::fs::write(&own, b"the user's").unwrap();
    let tileset = TilesetUrl::from_root_href(&store.href()).unwrap();
    downloader(out.path()).download(&tileset).await.unwrap();
    for part in &stale {
        assert!(!part.exists(), "{} was left", part.display());
    }
    assert_eq!(std::fs::read(&own).unwrap(), b"the user's");
}
