//! Where requests may go: names that leave the root, other hosts and schemes, and redirects
//! (followed on the same origin, five at most).

use std::collections::HashMap;

use mesh_export_test_support::blobs::{BlobStore, Fault, ROOT, SIG, fixture};
use mesh_export_test_support::files::{assert_byte_identical, files_under};
use serde_json::json;
use tiles3d_download::{DownloadError, Downloader, FileError, Manifest, RefusalReason, TilesetUrl};

use super::downloader;

#[tokio::test]
async fn traversal_and_foreign_hosts_are_refused_and_nothing_is_written_outside_the_directory() {
    let foreign = BlobStore::start(HashMap::new()).await;
    let mut files = fixture();
    files.insert(
        "tileset.json".into(),
        serde_json::to_vec(&json!({
            "asset": {"version": "1.0"},
            "root": {
                "content": {"uri": "tiles/0.glb"},
                "children": [
                    {"content": {"uri": "../escape.glb"}},
                    {"content": {"uri": "tiles/../../escape.glb"}},
                    {"content": {"uri": "%2e%2e/escape.glb"}},
                    {"content": {"uri": "/c/escape.glb"}},
                    {"content": {"uri": format!("http://{}/steal.glb", foreign.addr)}},
                    {"content": {"uri": format!("//{}/steal.glb", foreign.addr)}},
                    {"content": {"uri": "file:///etc/passwd"}},
                ]
            }
        }))
        .unwrap(),
    );
    let store = BlobStore::start(files).await;
    let parent = tempfile::tempdir().unwrap();
    let out = parent.path().join("out");
    let tileset = TilesetUrl::from_root_href(&store.href()).unwrap();

    let err = downloader(&out).download(&tileset).await.unwrap_err();

    // A refused URI leaves the tileset incomplete on disk: never reported complete.
    let DownloadError::Incomplete { failures, summary } = err else {
        panic!("{err}")
    };
    assert!(failures.is_empty(), "{failures:?}");
    assert!(!Manifest::read(&out).unwrap().unwrap().complete);
    let reasons: Vec<&RefusalReason> = summary.refused.iter().map(|r| &r.reason).collect();
    assert_eq!(summary.refused.len(), 7, "{reasons:?}");
    assert_eq!(reasons[0], &RefusalReason::EscapesRoot);
    assert_eq!(reasons[1], &RefusalReason::EscapesRoot);
    assert_eq!(reasons[2], &RefusalReason::EncodedTraversal);
    assert_eq!(reasons[3], &RefusalReason::AbsolutePath);
    assert!(matches!(reasons[4], RefusalReason::OtherHost(_)));
    assert!(matches!(reasons[5], RefusalReason::OtherHost(_)));
    assert!(matches!(reasons[6], RefusalReason::OtherScheme(_)));
    assert!(
        summary
            .refused
            .iter()
            .all(|r| r.in_file.as_str() == "tileset.json")
    );

    assert!(
        foreign.seen().is_empty(),
        "the foreign host received {:?}",
        foreign.seen()
    );
    assert!(
        store.seen().iter().all(|s| s.path.starts_with(ROOT)),
        "a request left the root: {:?}",
        store.seen()
    );
    assert_eq!(
        files_under(parent.path()),
        ["out/manifest.json", "out/tiles/0.glb", "out/tileset.json"]
    );
}

/// A tile that answers with `302` to `location`, `hops` times in a row.
fn redirecting(store: &BlobStore, hops: usize, location: String) {
    store.set_fault(move |rel, previous| match rel {
        "tiles/0.glb" if previous < hops => Fault::Redirect(location.clone()),
        _ => Fault::None,
    });
}

#[tokio::test]
async fn five_redirects_on_the_same_origin_are_followed() {
    let store = BlobStore::start(fixture()).await;
    redirecting(&store, 5, format!("{ROOT}tiles/0.glb?sv=2024&sig={SIG}"));
    let out = tempfile::tempdir().unwrap();
    let tileset = TilesetUrl::from_root_href(&store.href()).unwrap();

    Downloader::new(out.path())
        .download(&tileset)
        .await
        .unwrap();

    assert_eq!(store.count("tiles/0.glb"), 6);
    assert_byte_identical(&store, out.path());
}

/// Downloads the fixture while `tiles/0.glb` redirects `hops` times to `location`, expecting
/// that file alone to fail and nothing under its name; returns why it failed.
async fn failure_of_redirected_tile(store: &BlobStore, hops: usize, location: String) -> FileError {
    redirecting(store, hops, location);
    let out = tempfile::tempdir().unwrap();
    let tileset = TilesetUrl::from_root_href(&store.href()).unwrap();

    let err = Downloader::new(out.path())
        .download(&tileset)
        .await
        .unwrap_err();

    let DownloadError::Incomplete { mut failures, .. } = err else {
        panic!("{err}")
    };
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0].path.to_string(), "tiles/0.glb");
    assert!(!out.path().join("tiles/0.glb").exists());
    failures.remove(0).error
}

#[tokio::test]
async fn a_sixth_redirect_fails_the_file_without_another_request() {
    let store = BlobStore::start(fixture()).await;
    failure_of_redirected_tile(&store, 6, format!("{ROOT}tiles/0.glb?sv=2024&sig={SIG}")).await;
    assert_eq!(
        store.count("tiles/0.glb"),
        6,
        "a redirect loop is not retried"
    );
}

#[tokio::test]
async fn a_redirect_to_another_origin_is_not_followed() {
    // Another port, another host name for the same address, another scheme: each is another
    // origin.
    let elsewhere = BlobStore::start(fixture()).await;
    for other in ["port", "host", "scheme"] {
        let store = BlobStore::start(fixture()).await;
        let port = store.addr.port();
        let origin = match other {
            "port" => format!("http://{}", elsewhere.addr),
            "host" => format!("http://localhost:{port}"),
            _ => format!("https://127.0.0.1:{port}"),
        };
        let error = failure_of_redirected_tile(
            &store,
            usize::MAX,
            format!("{origin}{ROOT}tiles/0.glb?sv=2024&sig={SIG}"),
        )
        .await;
        // The redirect itself is the answer: nothing was sent to where it points.
        assert!(
            matches!(error, FileError::Status { status: 302 }),
            "{other}: {error:?}"
        );
        assert_eq!(store.count("tiles/0.glb"), 1, "{other}");
    }
    let seen: Vec<String> = elsewhere.seen().into_iter().map(|s| s.path).collect();
    assert!(seen.is_empty(), "the other origin was asked for {seen:?}");
}
