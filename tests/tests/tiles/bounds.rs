//! Bounds a hostile or unusual tileset meets: how many files a download may name, how far a
//! gzip body may expand, how often content that arrived whole but malformed is fetched, and
//! how deep a tileset may nest.

use std::collections::HashMap;

use mesh_export_test_support::attacks::claims_everything;
use mesh_export_test_support::blobs::BlobStore;
use mesh_export_test_support::emulator::quick_retries;
use mesh_export_test_support::glb::glb_of;
use serde_json::json;
use tiles3d_download::{DownloadError, Downloader, FileError, TilesetUrl};

fn downloader(dir: &std::path::Path) -> Downloader {
    // The walk alone: the store does not list, and the tests count the walk's requests.
    Downloader::new(dir)
        .concurrency(4)
        .retry(quick_retries())
        .listing(false, false)
}

#[tokio::test]
async fn a_subtree_claiming_a_million_subtrees_fails_at_once_under_the_default_bound() {
    let store = BlobStore::start(claims_everything(10, 32, 1)).await;
    let out = tempfile::tempdir().unwrap();
    let tileset = TilesetUrl::from_root_href(&store.href()).unwrap();

    let err = downloader(out.path()).download(&tileset).await.unwrap_err();

    let DownloadError::Incomplete { failures, summary } = &err else {
        panic!("{err}")
    };
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0].path.as_str(), "s/0/0/0.json");
    assert_eq!(
        failures[0].error,
        FileError::TooManyFiles {
            named: 1 << 20,
            max_files: 1_000_000
        }
    );
    assert!(
        err.to_string().contains("DownloadOptions::max_files"),
        "{err}"
    );
    assert_eq!(summary.files, 2, "the tileset and its root subtree");
}

#[tokio::test]
async fn subtrees_claiming_more_and_more_stop_at_max_files() {
    // Each subtree names 16 more, four levels of them (4,370 files), all served: whichever
    // order they are fetched in, only the bound stops the download.
    let store = BlobStore::start(claims_everything(2, 8, 4)).await;
    let out = tempfile::tempdir().unwrap();
    let tileset = TilesetUrl::from_root_href(&store.href()).unwrap();

    let err = downloader(out.path())
        .max_files(100)
        .download(&tileset)
        .await
        .unwrap_err();

    let DownloadError::Incomplete { failures, summary } = &err else {
        panic!("{err}")
    };
    // A subtree that would pass the bound names none of its files, so the bound is an
    // upper limit, not a target.
    assert!((18..=100).contains(&summary.files), "{}", summary.files);
    assert!(
        store.seen().len() <= 100,
        "nothing past the bound is asked for"
    );
    assert!(!failures.is_empty());
    assert!(
        failures
            .iter()
            .all(|f| matches!(f.error, FileError::TooManyFiles { max_files: 100, .. })),
        "{failures:?}"
    );
}

#[tokio::test]
async fn a_tileset_nested_seventy_levels_deep_downloads_complete() {
    let mut tile = json!({"geometricError": 0, "content": {"uri": "70.glb"}});
    for level in (1..70).rev() {
        tile = json!({
            "geometricError": level,
            "content": {"uri": format!("{level}.glb")},
            "children": [tile],
        });
    }
    let tileset = json!({"asset": {"version": "1.1"}, "geometricError": 100, "root": tile});
    let mut files: HashMap<String, Vec<u8>> = (1..=70)
        .map(|level| (format!("{level}.glb"), glb_of(level, 64)))
        .collect();
    files.insert(
        "tileset.json".to_owned(),
        serde_json::to_vec(&tileset).unwrap(),
    );
    let store = BlobStore::start(files).await;
    let out = tempfile::tempdir().unwrap();
    let url = TilesetUrl::from_root_href(&store.href()).unwrap();

    let summary = downloader(out.path()).download(&url).await.unwrap();

    assert_eq!(summary.files, 71);
    assert_eq!(store.count("tileset.json"), 1, "read the first time");
}

#[tokio::test]
async fn a_tileset_nested_past_max_json_depth_fails_naming_the_option() {
    let mut nested = br#"{"asset": {"version": "1.0"}, "root": {"extras": "#.to_vec();
    nested.extend(std::iter::repeat_n(b'[', 100_000));
    nested.extend(std::iter::repeat_n(b']', 100_000));
    nested.extend_from_slice(b"}}");
    let store = BlobStore::start(HashMap::from([("tileset.json".to_owned(), nested)])).await;
    let out = tempfile::tempdir().unwrap();
    let url = TilesetUrl::from_root_href(&store.href()).unwrap();

    let err = downloader(out.path()).download(&url).await.unwrap_err();

    let DownloadError::Incomplete { failures, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(failures[0].error, FileError::TooDeep { limit: 1_000 });
    assert!(
        err.to_string().contains("DownloadOptions::max_json_depth"),
        "{err}"
    );
    assert_eq!(store.count("tileset.json"), 1, "not fetched again");
}
