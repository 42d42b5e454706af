//! Content that arrived whole but is not what it claims is fetched once more, then fails
//! with its reason; JSON in forms readers accept (gzipped without saying so, with a byte
//! order mark) is read.

use std::io::Write;

use bytes::Bytes;
use mesh_export_test_support::glb::{b3dm_of, glb_of};
use tiles3d_download::{DownloadError, FileError, TilesetUrl};

use super::server::{Hostile, Reply, downloader, tileset_naming};

/// Downloads a tileset naming `uri`, served as `body`, expecting that file alone to fail;
/// returns its error and how many times it was requested.
async fn failure_of(uri: &'static str, body: Bytes) -> (FileError, usize) {
    let tileset = tileset_naming(&[uri, "ok.glb"]);
    let server = Hostile::start(move |request, _| match request.path.as_str() {
        "/c/e/tileset.json" => Reply::Full(tileset.clone()),
        "/c/e/ok.glb" => Reply::Full(Bytes::from(glb_of(1, 100))),
        _ => Reply::Full(body.clone()),
    })
    .await;
    let out = tempfile::tempdir().unwrap();
    let url = TilesetUrl::from_root_href(&server.url("/c/e?sig=1")).unwrap();

    let err = downloader(out.path()).download(&url).await.unwrap_err();

    let DownloadError::Incomplete { mut failures, .. } = err else {
        panic!("{err}")
    };
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0].path.as_str(), uri);
    assert!(out.path().join("ok.glb").exists());
    assert!(!out.path().join(uri).exists());
    let requests = server.requests_for(&format!("/c/e/{uri}")).len();
    (failures.remove(0).error, requests)
}

#[tokio::test]
async fn invalid_json_that_arrived_whole_is_fetched_once_more_then_fails() {
    let (error, requests) = failure_of("child.json", Bytes::from_static(b"{\"root\": [")).await;
    assert!(
        matches!(
            error,
            FileError::Corrupt {
                kind: "JSON object",
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(requests, 2);
}

#[tokio::test]
async fn a_child_tileset_under_a_name_without_json_cut_short_is_fetched_once_more_then_fails() {
    let cut = br#"{"asset":{"version":"1.1"},"geometricError":1,"root":{"geometricError":0,"content":{"uri":"a.glb"},"children":[{"content":{"uri":"b.gl"#;
    let (error, requests) = failure_of("child", Bytes::from_static(cut)).await;
    assert!(
        matches!(
            error,
            FileError::Corrupt {
                kind: "JSON object",
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(requests, 2);
}

#[tokio::test]
async fn a_bad_glb_header_that_arrived_whole_is_fetched_once_more_then_fails() {
    let mut glb = glb_of(3, 200);
    glb[4] = 3;
    let (error, requests) = failure_of("t.glb", Bytes::from(glb)).await;
    let FileError::Corrupt { reason, .. } = &error else {
        panic!("{error:?}")
    };
    assert!(reason.contains("version 3, not 1 or 2"), "{reason}");
    assert_eq!(requests, 2);
}

#[tokio::test]
async fn a_b3dm_of_another_version_is_fetched_once_more_then_fails() {
    let mut b3dm = b3dm_of(4, 200);
    b3dm[4] = 2;
    let (error, requests) = failure_of("t.b3dm", Bytes::from(b3dm)).await;
    let FileError::Corrupt { reason, .. } = &error else {
        panic!("{error:?}")
    };
    assert!(reason.contains("version 2, not 1"), "{reason}");
    assert_eq!(requests, 2);
}

fn gzip(body: &[u8]) -> Bytes {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(body).unwrap();
    Bytes::from(encoder.finish().unwrap())
}

#[tokio::test]
async fn json_served_gzipped_without_content_encoding_or_with_a_byte_order_mark_is_read() {
    let tileset = tileset_naming(&["child.json", "bom.json"]);
    let child = tileset_naming(&["a.glb"]);
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend_from_slice(&tileset_naming(&["b.glb"]));
    let bom = Bytes::from(bom);
    let (served_tileset, served_child, served_bom) = (tileset.clone(), child.clone(), bom.clone());
    let server = Hostile::start(move |request, _| match request.path.as_str() {
        // Gzipped, and said to be nothing.
        "/c/e/tileset.json" => Reply::Full(gzip(&served_tileset)),
        "/c/e/child.json" => Reply::Full(gzip(&served_child)),
        "/c/e/bom.json" => Reply::Full(served_bom.clone()),
        _ => Reply::Full(Bytes::from(glb_of(5, 100))),
    })
    .await;
    let out = tempfile::tempdir().unwrap();
    let url = TilesetUrl::from_root_href(&server.url("/c/e?sig=1")).unwrap();

    let summary = downloader(out.path()).download(&url).await.unwrap();

    assert_eq!(summary.files, 5);
    assert_eq!(summary.retries, 0);
    // Saved decoded, as a reader of the directory expects them.
    assert_eq!(
        std::fs::read(out.path().join("tileset.json")).unwrap(),
        tileset
    );
    assert_eq!(std::fs::read(out.path().join("child.json")).unwrap(), child);
    assert_eq!(std::fs::read(out.path().join("bom.json")).unwrap(), bom);
    assert!(out.path().join("a.glb").exists() && out.path().join("b.glb").exists());
}
