//! Transfers that break, stall or run large: when a broken transfer is continued with a
//! range and when it is fetched whole again, ranges a server answers wrongly, bodies that reach
//! the disk while they arrive, and the idle timeout.

use std::time::Duration;

use axum::http::header;
use bytes::Bytes;
use mesh_export_test_support::emulator::quick_retries;
use mesh_export_test_support::glb::glb_of;
use tiles3d_download::{
    DownloadError, DownloadOptions, Downloader, FileError, Manifest, TilesetUrl,
};

use super::server::{Hostile, Reply, Request, downloader, range_start, tileset_naming};

#[tokio::test]
async fn a_broken_transfer_continues_with_a_range_request() {
    let requests = fetch_one(
        "big.glb",
        Bytes::from(glb_of(5, 1_000_000)),
        |_, previous, body| match previous {
            0 => Reply::Cut(body, 600_000),
            _ => Reply::Ranged(body),
        },
    )
    .await;
    assert_eq!(ranges_of(&requests), [None, Some(600_000)]);
    assert_eq!(
        requests[1].headers.get(header::IF_RANGE).unwrap(),
        "\"v1\"",
        "only if the blob is the same"
    );
}

#[tokio::test]
async fn a_broken_gzip_transfer_is_fetched_whole_again_not_continued_with_a_range() {
    // Larger than the downloader holds in memory, so the decoded bytes reach a part file; a
    // range of the stored (encoded) blob cannot continue them.
    let tile = Bytes::from(glb_of(8, 3_000_000));
    let served = tile.clone();
    let tileset = tileset_naming(&["big.glb"]);
    let server = Hostile::start(move |request, previous| match request.path.as_str() {
        "/c/e/tileset.json" => Reply::Full(tileset.clone()),
        _ if previous == 0 => Reply::GzipCut(served.clone(), 2_000_000),
        _ => Reply::Gzip(served.clone()),
    })
    .await;
    let out = tempfile::tempdir().unwrap();
    let url = TilesetUrl::from_root_href(&server.url("/c/e?sig=1")).unwrap();

    downloader(out.path()).download(&url).await.unwrap();

    assert_eq!(std::fs::read(out.path().join("big.glb")).unwrap(), tile);
    let requests = server.requests_for("/c/e/big.glb");
    assert_eq!(requests.len(), 2);
    assert!(
        requests[1].headers.get(header::RANGE).is_none(),
        "a decoded body was continued with {:?}",
        requests[1].headers.get(header::RANGE)
    );
}

/// Downloads a tileset naming only `name`, whose requests `reply` answers from `body` and the
/// number of earlier requests for it; checks that the file arrived byte-identical and returns
/// the requests for it.
async fn fetch_one(
    name: &str,
    body: Bytes,
    reply: impl Fn(&Request, usize, Bytes) -> Reply + Send + Sync + 'static,
) -> Vec<Request> {
    let tileset = tileset_naming(&[name]);
    let served = body.clone();
    let server = Hostile::start(move |request, previous| match request.path.as_str() {
        "/c/e/tileset.json" => Reply::Full(tileset.clone()),
        _ => reply(request, previous, served.clone()),
    })
    .await;
    let out = tempfile::tempdir().unwrap();
    let url = TilesetUrl::from_root_href(&server.url("/c/e?sig=1")).unwrap();

    downloader(out.path()).download(&url).await.unwrap();

    assert_eq!(std::fs::read(out.path().join(name)).unwrap(), body);
    server.requests_for(&format!("/c/e/{name}"))
}

/// The `Range` start each request asked for, in order.
fn ranges_of(requests: &[Request]) -> Vec<Option<u64>> {
    requests.iter().map(|r| range_start(&r.headers)).collect()
}

/// The `Range` start each request for a 400,000-byte `t.bin` asked, `reply` answering each
/// from the number of earlier requests for it and the body.
async fn ranges_for_plain_file(
    reply: impl Fn(usize, Bytes) -> Reply + Send + Sync + 'static,
) -> Vec<Option<u64>> {
    let requests = fetch_one("t.bin", plain_bytes(400_000), move |_, previous, body| {
        reply(previous, body)
    })
    .await;
    ranges_of(&requests)
}

#[tokio::test]
async fn a_transfer_broken_before_its_first_byte_is_fetched_whole_again() {
    let ranges = ranges_for_plain_file(|previous, body| match previous {
        0 => Reply::Cut(body, 0),
        _ => Reply::Ranged(body),
    })
    .await;
    assert_eq!(ranges, [None, None]);
}

#[tokio::test]
async fn a_broken_transfer_of_unknown_length_is_fetched_whole_again() {
    // Without a total, nothing could check that a continued file is the whole file.
    let ranges = ranges_for_plain_file(|previous, body| match previous {
        0 => Reply::CutChunked(body, 100_000),
        _ => Reply::Ranged(body),
    })
    .await;
    assert_eq!(ranges, [None, None]);
}

#[tokio::test]
async fn a_range_the_blob_cannot_satisfy_is_followed_by_a_whole_fetch() {
    let tile = Bytes::from(glb_of(11, 400_000));
    let served = tile.clone();
    let tileset = tileset_naming(&["t.glb", "odd.glb"]);
    let server = Hostile::start(move |request, previous| match request.path.as_str() {
        "/c/e/tileset.json" => Reply::Full(tileset.clone()),
        // Answered 416 without having been asked for a range: a plain failure.
        "/c/e/odd.glb" => Reply::Status(416),
        _ if previous == 0 => Reply::Cut(served.clone(), 100_000),
        // The blob shrank since: the rest of the part file is not there.
        _ if range_start(&request.headers).is_some() => Reply::Status(416),
        _ => Reply::Full(served.clone()),
    })
    .await;
    let out = tempfile::tempdir().unwrap();
    let url = TilesetUrl::from_root_href(&server.url("/c/e?sig=1")).unwrap();

    let err = downloader(out.path()).download(&url).await.unwrap_err();

    let DownloadError::Incomplete { failures, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0].path.as_str(), "odd.glb");
    assert!(matches!(
        failures[0].error,
        FileError::Status { status: 416 }
    ));
    assert_eq!(server.requests_for("/c/e/odd.glb").len(), 1, "not retried");
    assert_eq!(std::fs::read(out.path().join("t.glb")).unwrap(), tile);
    assert_eq!(
        ranges_of(&server.requests_for("/c/e/t.glb")),
        [None, Some(100_000), None]
    );
}

#[tokio::test]
async fn a_continuation_shorter_or_longer_than_its_content_range_is_never_kept() {
    // A `.bin` has no structure to check: the length is all that can tell.
    for by in [-1000, 1000] {
        let ranges = ranges_for_plain_file(move |previous, body| match previous {
            0 => Reply::Cut(body, 100_000),
            1 => Reply::LyingRange(body, by),
            _ => Reply::Ranged(body),
        })
        .await;
        // Short, the part file is continued where it ends; long, it holds more than the
        // file and is fetched whole.
        let third = if by < 0 { Some(399_000) } else { None };
        assert_eq!(ranges, [None, Some(100_000), third], "{by} bytes");
    }
}

#[tokio::test]
async fn a_large_body_reaches_the_disk_while_it_arrives() {
    let tile = Bytes::from(glb_of(12, 3_000_000));
    let tileset = tileset_naming(&["big.glb"]);
    let server = Hostile::start(move |request, _| match request.path.as_str() {
        "/c/e/tileset.json" => Reply::Full(tileset.clone()),
        _ => Reply::Stall(tile.clone(), 2_500_000),
    })
    .await;
    let out = tempfile::tempdir().unwrap();
    let url = TilesetUrl::from_root_href(&server.url("/c/e?sig=1")).unwrap();
    let dir = out.path().to_owned();
    let download = tokio::spawn(async move { downloader(&dir).download(&url).await });

    // Held in memory, the body would reach the disk only when the transfer ends, which it
    // does not (the idle timeout is a minute).
    let on_disk = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let part = std::fs::read_dir(out.path())
                .unwrap()
                .filter_map(Result::ok)
                .filter(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .ends_with("mesh-export-part")
                })
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .max()
                .unwrap_or(0);
            if part > 2_000_000 {
                return part;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    download.abort();
    assert!(
        on_disk.is_ok(),
        "2.5 MB arrived, and none of it was written while the transfer stalled"
    );
}

/// Bytes with no tile format's magic: a `.bin` that no structural check can refuse.
fn plain_bytes(len: usize) -> Bytes {
    (0..len)
        .map(|i| (i % 251) as u8)
        .collect::<Vec<u8>>()
        .into()
}

#[tokio::test]
async fn a_file_larger_than_the_memory_buffer_streams_to_disk_in_one_request() {
    let blob = plain_bytes(3_000_000);
    let served = blob.clone();
    let tileset = tileset_naming(&["big.bin"]);
    let server = Hostile::start(move |request, _| match request.path.as_str() {
        "/c/e/tileset.json" => Reply::Full(tileset.clone()),
        _ => Reply::Full(served.clone()),
    })
    .await;
    let out = tempfile::tempdir().unwrap();
    let url = TilesetUrl::from_root_href(&server.url("/c/e?sig=1")).unwrap();

    downloader(out.path()).download(&url).await.unwrap();

    assert_eq!(std::fs::read(out.path().join("big.bin")).unwrap(), blob);
    assert_eq!(server.requests_for("/c/e/big.bin").len(), 1);
}

#[tokio::test]
async fn a_large_file_cut_short_every_time_never_gets_its_name() {
    let served = plain_bytes(3_000_000);
    let tileset = tileset_naming(&["big.bin"]);
    let server = Hostile::start(move |request, _| match request.path.as_str() {
        "/c/e/tileset.json" => Reply::Full(tileset.clone()),
        // Whether asked for a range or not, the body breaks off early.
        _ => Reply::Cut(served.clone(), 1_500_000),
    })
    .await;
    let out = tempfile::tempdir().unwrap();
    let url = TilesetUrl::from_root_href(&server.url("/c/e?sig=1")).unwrap();

    let err = downloader(out.path()).download(&url).await.unwrap_err();

    assert!(matches!(err, DownloadError::Incomplete { .. }), "{err}");
    assert!(
        !out.path().join("big.bin").exists(),
        "a cut transfer was named as the file"
    );
    let manifest = Manifest::read(out.path()).unwrap().unwrap();
    assert!(manifest.files.iter().all(|f| f.path != "big.bin"));
}

#[tokio::test]
async fn a_server_that_ignores_the_range_or_answers_another_one_gets_a_whole_fetch() {
    for wrong in [false, true] {
        let ranges = ranges_for_plain_file(move |previous, body| match previous {
            0 => Reply::Cut(body, 100_000),
            _ if wrong => Reply::WrongRange(body),
            _ => Reply::Full(body),
        })
        .await;
        // The second request asks for the rest; after a wrong answer to it, the third asks
        // for the whole file, not for the same rest again.
        let expected = if wrong {
            vec![None, Some(100_000), None]
        } else {
            vec![None, Some(100_000)]
        };
        assert_eq!(ranges, expected, "wrong range: {wrong}");
    }
}

#[tokio::test]
async fn a_stalled_transfer_hits_the_idle_timeout_and_resumes() {
    let tile = Bytes::from(glb_of(7, 300_000));
    let served = tile.clone();
    let tileset = tileset_naming(&["slow.glb"]);
    let server = Hostile::start(move |request, previous| match request.path.as_str() {
        "/c/e/tileset.json" => Reply::Full(tileset.clone()),
        _ if previous == 0 => Reply::Stall(served.clone(), 200_000),
        _ => Reply::Ranged(served.clone()),
    })
    .await;
    let out = tempfile::tempdir().unwrap();
    let url = TilesetUrl::from_root_href(&server.url("/c/e?sig=1")).unwrap();
    let options = DownloadOptions {
        retry: quick_retries(),
        idle_timeout: Duration::from_millis(500),
        ..DownloadOptions::default()
    };

    // A client with no timeouts of its own: the downloader's idle timeout is what ends the
    // stalled transfer. The outer bound only turns a hang into a failure.
    let downloader = Downloader::new(out.path())
        .http_client(reqwest::Client::new())
        .with_options(options);
    let download = downloader.download(&url);
    tokio::time::timeout(Duration::from_secs(30), download)
        .await
        .expect("the stalled transfer was never abandoned")
        .unwrap();

    assert_eq!(std::fs::read(out.path().join("slow.glb")).unwrap(), tile);
    let requests = server.requests_for("/c/e/slow.glb");
    assert_eq!(requests.len(), 2);
    assert!(range_start(&requests[1].headers).is_some_and(|s| s > 0));
}
