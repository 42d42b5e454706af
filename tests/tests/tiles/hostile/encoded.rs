//! Bodies sent encoded: a gzip body decodes within bounds, and what a download reports as
//! downloaded is what came over the network.

use std::io::Write;

use bytes::Bytes;
use tiles3d_download::{DownloadError, FileError, TilesetUrl};

use super::server::{Hostile, Reply, downloader, tileset_naming};

fn gzip(body: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(body).unwrap();
    encoder.finish().unwrap()
}

#[tokio::test]
async fn downloaded_bytes_are_the_bytes_received_not_the_decoded_ones() {
    let zeros = Bytes::from(vec![0u8; 1_000_000]);
    let served = zeros.clone();
    let tileset = tileset_naming(&["t.bin"]);
    let server = Hostile::start(move |request, _| match request.path.as_str() {
        "/c/e/tileset.json" => Reply::Full(tileset.clone()),
        _ => Reply::Gzip(served.clone()),
    })
    .await;
    let out = tempfile::tempdir().unwrap();
    let url = TilesetUrl::from_root_href(&server.url("/c/e?sig=1")).unwrap();
    let downloader = downloader(out.path());
    let progress = downloader.progress();

    let summary = downloader.download(&url).await.unwrap();

    assert_eq!(std::fs::read(out.path().join("t.bin")).unwrap(), zeros);
    assert!(summary.bytes > 1_000_000, "{}", summary.bytes);
    // The tileset as sent, and a few kilobytes of gzip.
    assert!(
        summary.downloaded_bytes < 20_000,
        "{}",
        summary.downloaded_bytes
    );
    assert_eq!(progress.borrow().bytes_downloaded, summary.downloaded_bytes);
}

#[tokio::test]
async fn a_gzip_bomb_fails_its_file_once_without_retries() {
    // 64 MiB of zeros in about 64 KiB: a thousandfold.
    let bomb = Bytes::from(gzip(&vec![0u8; 64 << 20]));
    let tileset = tileset_naming(&["bomb.glb"]);
    let server = Hostile::start(move |request, _| match request.path.as_str() {
        "/c/e/tileset.json" => Reply::Full(tileset.clone()),
        _ => Reply::Encoded(bomb.clone()),
    })
    .await;
    let out = tempfile::tempdir().unwrap();
    let url = TilesetUrl::from_root_href(&server.url("/c/e?sig=1")).unwrap();

    let err = downloader(out.path()).download(&url).await.unwrap_err();

    let DownloadError::Incomplete { failures, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0].path.as_str(), "bomb.glb");
    let FileError::GzipBound { reason } = &failures[0].error else {
        panic!("{:?}", failures[0]);
    };
    assert!(reason.contains("expands more than 100:1"), "{reason}");
    assert!(
        reason.contains("DownloadOptions::max_expansion"),
        "{reason}"
    );
    assert_eq!(server.requests_for("/c/e/bomb.glb").len(), 1, "not retried");
    assert!(!out.path().join("bomb.glb").exists());
}

#[tokio::test]
async fn a_gzip_body_decoding_past_max_decoded_bytes_fails_and_a_higher_bound_takes_it() {
    let tile = Bytes::from(vec![7u8; 3 << 20]);
    let served = tile.clone();
    let tileset = tileset_naming(&["t.bin"]);
    let server = Hostile::start(move |request, _| match request.path.as_str() {
        "/c/e/tileset.json" => Reply::Full(tileset.clone()),
        _ => Reply::Gzip(served.clone()),
    })
    .await;
    let url = TilesetUrl::from_root_href(&server.url("/c/e?sig=1")).unwrap();
    let small = tiles3d_download::DownloadOptions {
        max_decoded_bytes: 2 << 20,
        max_expansion: u64::MAX,
        ..tiles3d_download::DownloadOptions::default()
    };
    let out = tempfile::tempdir().unwrap();

    let err = downloader(out.path())
        .with_options(small.clone())
        .download(&url)
        .await
        .unwrap_err();

    let DownloadError::Incomplete { failures, .. } = &err else {
        panic!("{err}")
    };
    let FileError::GzipBound { reason } = &failures[0].error else {
        panic!("{:?}", failures[0]);
    };
    assert!(
        reason.contains("DownloadOptions::max_decoded_bytes"),
        "{reason}"
    );
    assert_eq!(server.requests_for("/c/e/t.bin").len(), 1, "not retried");

    let larger = tiles3d_download::DownloadOptions {
        max_decoded_bytes: 4 << 20,
        ..small
    };
    downloader(out.path())
        .with_options(larger)
        .download(&url)
        .await
        .unwrap();
    assert_eq!(std::fs::read(out.path().join("t.bin")).unwrap(), tile);
}
