//! Content that is not what it claims: captive portal pages, gzip-encoded blobs, files that
//! cannot be written, and glTF or templates the walker cannot read.

use axum::http::header;
use bytes::Bytes;
use mesh_export_test_support::files::files_under;
use mesh_export_test_support::glb::{glb, glb_of};
use serde_json::json;
use tiles3d_download::{DownloadError, FileError, Manifest, TilesetUrl};

use super::server::{Hostile, Reply, downloader, tileset_naming};

#[tokio::test]
async fn a_captive_portal_page_for_a_glb_or_json_is_fetched_again_and_never_recorded() {
    let tile = Bytes::from(glb_of(2, 5000));
    let served = tile.clone();
    let tileset = tileset_naming(&["t.glb"]);
    let server = Hostile::start(move |request, previous| match request.path.as_str() {
        // The portal answers the first request of each file with its page.
        _ if previous < 1 => Reply::Html,
        "/c/e/tileset.json" => Reply::Full(tileset.clone()),
        _ => Reply::Full(served.clone()),
    })
    .await;
    let out = tempfile::tempdir().unwrap();
    let url = TilesetUrl::from_root_href(&server.url("/c/e?sig=1")).unwrap();

    let summary = downloader(out.path()).download(&url).await.unwrap();

    assert_eq!(std::fs::read(out.path().join("t.glb")).unwrap(), tile);
    assert_eq!(server.requests_for("/c/e/t.glb").len(), 2);
    assert_eq!(server.requests_for("/c/e/tileset.json").len(), 2);
    assert_eq!(summary.retries, 2);
}

#[tokio::test]
async fn a_portal_page_that_never_goes_away_fails_the_file_and_leaves_nothing() {
    let tileset = tileset_naming(&["t.glb"]);
    let server = Hostile::start(move |request, _| match request.path.as_str() {
        "/c/e/tileset.json" => Reply::Full(tileset.clone()),
        _ => Reply::Html,
    })
    .await;
    let out = tempfile::tempdir().unwrap();
    let url = TilesetUrl::from_root_href(&server.url("/c/e?sig=1")).unwrap();

    let err = downloader(out.path()).download(&url).await.unwrap_err();

    let DownloadError::Incomplete { failures, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(failures[0].path.as_str(), "t.glb");
    assert!(
        matches!(
            &failures[0].error,
            FileError::Corrupt {
                kind: "binary glTF",
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        server.requests_for("/c/e/t.glb").len(),
        2,
        "fetched once more, then failed: no back-off changes what the server has"
    );
    let manifest = Manifest::read(out.path()).unwrap().unwrap();
    assert!(!manifest.complete);
    assert!(manifest.files.iter().all(|f| f.path != "t.glb"));
    assert_eq!(
        files_under(out.path()),
        ["manifest.json", "tileset.json"],
        "no part file or page left behind"
    );
}

#[tokio::test]
async fn gzip_encoded_blobs_are_saved_decoded() {
    let tile = Bytes::from(glb_of(3, 20_000));
    let served = tile.clone();
    let tileset = tileset_naming(&["t.glb", "plain.glb"]);
    let served_tileset = tileset.clone();
    let server = Hostile::start(move |request, _| match request.path.as_str() {
        "/c/e/tileset.json" => Reply::Gzip(served_tileset.clone()),
        // `identity` said out loud is no encoding.
        "/c/e/plain.glb" => Reply::Identity(served.clone()),
        _ => Reply::Gzip(served.clone()),
    })
    .await;
    let out = tempfile::tempdir().unwrap();
    let url = TilesetUrl::from_root_href(&server.url("/c/e?sig=1")).unwrap();

    downloader(out.path()).download(&url).await.unwrap();

    assert_eq!(std::fs::read(out.path().join("t.glb")).unwrap(), tile);
    assert_eq!(std::fs::read(out.path().join("plain.glb")).unwrap(), tile);
    assert_eq!(
        std::fs::read(out.path().join("tileset.json")).unwrap(),
        tileset
    );
    let manifest = Manifest::read(out.path()).unwrap().unwrap();
    let entry = manifest.files.iter().find(|f| f.path == "t.glb").unwrap();
    assert_eq!(entry.size, tile.len() as u64, "the decoded size");
    assert!(
        server
            .seen()
            .iter()
            .all(|r| r.headers.get(header::ACCEPT_ENCODING).unwrap() == "identity"),
        "identity is asked for"
    );
}

#[tokio::test]
async fn a_write_error_is_named_and_not_retried() {
    let tileset = tileset_naming(&["tiles/0.glb"]);
    let server = Hostile::start(move |request, _| match request.path.as_str() {
        "/c/e/tileset.json" => Reply::Full(tileset.clone()),
        _ => Reply::Full(Bytes::from(glb_of(4, 300_000))),
    })
    .await;
    let out = tempfile::tempdir().unwrap();
    // A file where the download needs a directory: every write under it fails.
    std::fs::write(out.path().join("tiles"), b"in the way").unwrap();
    let url = TilesetUrl::from_root_href(&server.url("/c/e?sig=1")).unwrap();

    let err = downloader(out.path()).download(&url).await.unwrap_err();

    let DownloadError::Incomplete { failures, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(failures[0].path.as_str(), "tiles/0.glb");
    assert!(
        matches!(&failures[0].error, FileError::Write(_)),
        "{:?}",
        failures[0].error
    );
    assert!(
        err.to_string().contains("could not write it to disk"),
        "{err}"
    );
    assert_eq!(
        server.requests_for("/c/e/tiles/0.glb").len(),
        1,
        "not retried"
    );
}

#[tokio::test]
async fn after_a_write_error_no_new_file_is_started_and_every_file_is_accounted_for() {
    let names: Vec<String> = (0..40).map(|i| format!("tiles/{i}.glb")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let tileset = tileset_naming(&refs);
    let server = Hostile::start(move |request, _| match request.path.as_str() {
        "/c/e/tileset.json" => Reply::Full(tileset.clone()),
        _ => Reply::Full(Bytes::from(glb_of(4, 1000))),
    })
    .await;
    let out = tempfile::tempdir().unwrap();
    std::fs::write(out.path().join("tiles"), b"in the way").unwrap();
    let url = TilesetUrl::from_root_href(&server.url("/c/e?sig=1")).unwrap();

    let downloader = downloader(out.path());
    let progress = downloader.progress();
    let err = downloader.download(&url).await.unwrap_err();

    let DownloadError::Incomplete { failures, .. } = &err else {
        panic!("{err}")
    };
    assert!(
        err.to_string().contains("could not write it to disk"),
        "{err}"
    );
    assert_eq!(failures.len(), 40, "every tile is a failure with a reason");
    assert_eq!(progress.borrow().failed, 40, "progress counts them all");
    let tile_requests = server.seen().len() - 1;
    assert!(
        tile_requests <= 4,
        "at most the files already in flight were requested: {tile_requests}"
    );
    assert!(
        failures
            .iter()
            .all(|f| matches!(f.error, FileError::Write(_) | FileError::NotAttempted(_)))
    );
    let manifest = Manifest::read(out.path()).unwrap().unwrap();
    assert!(!manifest.complete);
    assert_eq!(manifest.missing.len(), 40);
}

#[tokio::test]
async fn a_gltf_or_a_template_the_walker_cannot_read_makes_the_download_incomplete() {
    let tileset = tileset_naming(&["m.gltf", "bad.glb", "implicit.json"]);
    let broken_glb = {
        // A valid header around a JSON chunk that is not JSON.
        let mut bytes = glb(&json!({"asset": {"version": "2.0"}}));
        bytes[20] = b'!';
        bytes
    };
    let implicit = serde_json::to_vec(&json!({
        "asset": {"version": "1.1"},
        "geometricError": 1,
        "root": {
            "geometricError": 1,
            // `{lod}` is no implicit tiling variable: what it names is unknown.
            "content": {"uri": "content/{level}/{x}/{y}/{lod}.glb"},
            "implicitTiling": {"subdivisionScheme": "QUADTREE", "subtreeLevels": 2,
                "availableLevels": 2, "subtrees": {"uri": "subtrees/{level}/{x}/{y}.subtree"}}
        }
    }))
    .unwrap();
    let server = Hostile::start(move |request, _| match request.path.as_str() {
        "/c/e/tileset.json" => Reply::Full(tileset.clone()),
        // A JSON object, but no glTF: its resources are unknown.
        "/c/e/m.gltf" => Reply::Full(Bytes::from_static(b"{\"buffers\": [{\"uri\": \"b.bin\"}]}")),
        "/c/e/bad.glb" => Reply::Full(Bytes::from(broken_glb.clone())),
        "/c/e/implicit.json" => Reply::Full(Bytes::from(implicit.clone())),
        _ => Reply::Status(404),
    })
    .await;
    let out = tempfile::tempdir().unwrap();
    let url = TilesetUrl::from_root_href(&server.url("/c/e?sig=1")).unwrap();

    let err = downloader(out.path()).download(&url).await.unwrap_err();

    let DownloadError::Incomplete { failures, .. } = &err else {
        panic!("{err}")
    };
    let failed: Vec<(&str, bool)> = failures
        .iter()
        .map(|f| {
            (
                f.path.as_str(),
                matches!(
                    f.error,
                    FileError::Uninterpretable(_) | FileError::Unsupported { .. }
                ),
            )
        })
        .collect();
    assert_eq!(
        failed,
        [("bad.glb", true), ("implicit.json", true), ("m.gltf", true)]
    );
    assert!(err.to_string().contains("3 file(s) failed"), "{err}");
    let implicit_reason = failures[1].error.to_string();
    assert!(implicit_reason.contains("{lod}"), "{implicit_reason}");
    let manifest = Manifest::read(out.path()).unwrap().unwrap();
    assert!(!manifest.complete);
    assert_eq!(manifest.missing.len(), 3);
}
