//! The tileset downloader against hostile and broken servers on loopback: names that try to
//! leave the output directory in every encoding, Windows names, case collisions, captive
//! portals, gzip, broken and stalled transfers, write errors, two runs on one directory, and
//! signatures that expire mid-download.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::future::BoxFuture;
use mesh_export_test_support::emulator::quick_retries;
use mesh_export_test_support::files::files_under;
use mesh_export_test_support::glb::{glb, glb_of};
use serde_json::json;
use tiles3d_download::{
    DownloadError, DownloadOptions, Downloader, FileError, Manifest, NameError, RefreshError,
    RefusalReason, SignedUrlSource, TilesetUrl, TilesetUrlError,
};

/// A request as the hostile server saw it.
#[derive(Debug, Clone)]
struct Request {
    /// The raw path, still percent-encoded.
    path: String,
    query: String,
    headers: HeaderMap,
}

type Handler = dyn Fn(&Request, usize) -> Reply + Send + Sync;

/// The requests seen so far, and the handler.
type ServerState = (Arc<Mutex<Vec<Request>>>, Arc<Handler>);

/// What the server answers.
enum Reply {
    Full(Bytes),
    Status(u16),
    Html,
    Gzip(Bytes),
    /// The body, labelled `Content-Encoding: identity`.
    Identity(Bytes),
    /// Declares the full length of the body gzipped, sends `sent` bytes of that, then breaks
    /// the connection.
    GzipCut(Bytes, usize),
    /// Declares the full length, sends `sent` bytes, then breaks the connection.
    Cut(Bytes, usize),
    /// Declares the full length, sends `sent` bytes, then sends nothing more for an hour.
    Stall(Bytes, usize),
    /// Like `Cut`, without a `Content-Length` (chunked).
    CutChunked(Bytes, usize),
    /// Serves `Range` requests with 206 and `Content-Range`.
    Ranged(Bytes),
    /// Answers a `Range` with a 206 whose `Content-Range` names the rest of the file, and a
    /// body that many bytes longer (positive) or shorter (negative) than that rest.
    LyingRange(Bytes, isize),
    /// Answers a `Range` with a 206 for another range than the one asked.
    WrongRange(Bytes),
    /// Signals `arrived`, then waits for a permit of `gate` before serving the body.
    Gated(Arc<tokio::sync::Notify>, Arc<tokio::sync::Semaphore>, Bytes),
}

/// A small server on 127.0.0.1:0 that answers through a handler and records every request.
#[derive(Clone)]
struct Hostile {
    addr: std::net::SocketAddr,
    seen: Arc<Mutex<Vec<Request>>>,
}

impl Hostile {
    async fn start(handler: impl Fn(&Request, usize) -> Reply + Send + Sync + 'static) -> Self {
        let seen: Arc<Mutex<Vec<Request>>> = Arc::default();
        let handler: Arc<Handler> = Arc::new(handler);
        let state = (seen.clone(), handler);
        let app = Router::new().fallback(serve).with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Hostile { addr, seen }
    }

    fn url(&self, rest: &str) -> String {
        format!("http://{}{rest}", self.addr)
    }

    fn seen(&self) -> Vec<Request> {
        self.seen.lock().unwrap().clone()
    }

    fn requests_for(&self, path: &str) -> Vec<Request> {
        self.seen().into_iter().filter(|r| r.path == path).collect()
    }
}

async fn serve(
    axum::extract::State((seen, handler)): axum::extract::State<ServerState>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let request = Request {
        path: uri.path().to_owned(),
        query: uri.query().unwrap_or_default().to_owned(),
        headers,
    };
    let previous = {
        let mut seen = seen.lock().unwrap();
        let previous = seen.iter().filter(|r| r.path == request.path).count();
        seen.push(request.clone());
        previous
    };
    match handler(&request, previous) {
        Reply::Full(body) => body.into_response(),
        Reply::Status(status) => StatusCode::from_u16(status).unwrap().into_response(),
        Reply::Html => (
            [(header::CONTENT_TYPE, "text/html")],
            "<!DOCTYPE html><html><body>Sign in to the hotel Wi-Fi</body></html>",
        )
            .into_response(),
        Reply::Gzip(body) => ([(header::CONTENT_ENCODING, "gzip")], gzip(&body)).into_response(),
        Reply::Identity(body) => ([(header::CONTENT_ENCODING, "identity")], body).into_response(),
        Reply::GzipCut(body, sent) => {
            let mut response = cut(Bytes::from(gzip(&body)), sent);
            response
                .headers_mut()
                .insert(header::CONTENT_ENCODING, "gzip".parse().unwrap());
            response
        }
        Reply::Cut(body, sent) => cut(body, sent),
        Reply::CutChunked(body, sent) => {
            let mut response = cut(body, sent);
            response.headers_mut().remove(header::CONTENT_LENGTH);
            response
        }
        Reply::Stall(body, sent) => {
            let head = futures::stream::iter(vec![Ok::<Bytes, std::io::Error>(body.slice(..sent))]);
            let never = futures::stream::once(async {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                Ok::<Bytes, std::io::Error>(Bytes::new())
            });
            Response::builder()
                .header(header::CONTENT_LENGTH, body.len())
                .header(header::ETAG, "\"v1\"")
                .body(Body::from_stream(futures::StreamExt::chain(head, never)))
                .unwrap()
        }
        Reply::Ranged(body) => match range_start(&request.headers) {
            Some(start) if (start as usize) < body.len() => Response::builder()
                .status(StatusCode::PARTIAL_CONTENT)
                .header(
                    header::CONTENT_RANGE,
                    format!("bytes {start}-{}/{}", body.len() - 1, body.len()),
                )
                .header(header::ETAG, "\"v1\"")
                .body(Body::from(body.slice(start as usize..)))
                .unwrap(),
            _ => ([(header::ETAG, "\"v1\"")], body).into_response(),
        },
        Reply::LyingRange(body, by) => {
            let start = range_start(&request.headers).expect("asked for a range") as usize;
            let end = body.len().checked_add_signed(by).unwrap();
            let sent = if end <= body.len() {
                body.slice(start..end)
            } else {
                let mut longer = body.slice(start..).to_vec();
                longer.resize(end - start, 0);
                Bytes::from(longer)
            };
            Response::builder()
                .status(StatusCode::PARTIAL_CONTENT)
                .header(
                    header::CONTENT_RANGE,
                    format!("bytes {start}-{}/{}", body.len() - 1, body.len()),
                )
                .header(header::ETAG, "\"v1\"")
                .body(Body::from(sent))
                .unwrap()
        }
        Reply::Gated(arrived, gate, body) => {
            arrived.notify_one();
            let _permit = gate.acquire().await;
            body.into_response()
        }
        Reply::WrongRange(body) => match range_start(&request.headers) {
            Some(_) => Response::builder()
                .status(StatusCode::PARTIAL_CONTENT)
                .header(
                    header::CONTENT_RANGE,
                    format!("bytes 1-{}/{}", body.len() - 1, body.len()),
                )
                .body(Body::from(body.slice(1..)))
                .unwrap(),
            None => body.into_response(),
        },
    }
}

fn gzip(body: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(body).unwrap();
    encoder.finish().unwrap()
}

/// Declares the full length, sends `sent` bytes, then breaks the connection.
fn cut(body: Bytes, sent: usize) -> Response {
    Response::builder()
        .header(header::CONTENT_LENGTH, body.len())
        .header(header::ETAG, "\"v1\"")
        .body(mesh_export_test_support::blobs::cut_after(
            body.slice(..sent),
        ))
        .unwrap()
}

fn range_start(headers: &HeaderMap) -> Option<u64> {
    let value = headers.get(header::RANGE)?.to_str().ok()?;
    value
        .strip_prefix("bytes=")?
        .strip_suffix('-')?
        .parse()
        .ok()
}

fn downloader(dir: &Path) -> Downloader {
    Downloader::new(dir).concurrency(4).retry(quick_retries())
}

fn tileset_naming(uris: &[&str]) -> Bytes {
    let children: Vec<_> = uris
        .iter()
        .map(|uri| json!({"geometricError": 1, "content": {"uri": uri}}))
        .collect();
    Bytes::from(
        serde_json::to_vec(&json!({
            "asset": {"version": "1.0"},
            "geometricError": 10,
            "root": {"geometricError": 5, "children": children}
        }))
        .unwrap(),
    )
}

/// Every file and directory under `dir`, for "nothing outside" checks.
fn everything_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.file_type().unwrap().is_dir() {
            out.extend(
                everything_under(&entry.path())
                    .into_iter()
                    .map(|rest| format!("{name}/{rest}")),
            );
            out.push(format!("{name}/"));
        } else {
            out.push(name);
        }
    }
    out.sort();
    out
}

#[test]
fn entry_names_that_are_not_portable_are_refused_in_every_encoding() {
    for (href, why) in [
        ("http://h/c/..%2F..%2Fx.json?sig=1", NameError::Separator),
        ("http://h/c/..%2f..%2fx.json?sig=1", NameError::Separator),
        ("http://h/c/..%5C..%5Cx.json?sig=1", NameError::Separator),
        ("http://h/c/%2E%2E%2Fx.json?sig=1", NameError::Separator),
        (
            "http://h/c/..%252F..%252Fx.json?sig=1",
            NameError::DoubleEncoded,
        ),
        ("http://h/c/C%3Aevil.json?sig=1", NameError::Colon),
        ("http://h/c/a%3A%3A%24DATA.json", NameError::Colon),
        (
            "http://h/c/NUL.json?sig=1",
            NameError::ReservedDevice("NUL".into()),
        ),
        (
            "http://h/c/com1.json?sig=1",
            NameError::ReservedDevice("COM1".into()),
        ),
        (
            "http://h/c/x%00.json?sig=1",
            NameError::ForbiddenCharacter('\0'),
        ),
        ("http://h/c/Manifest.json?sig=1", NameError::Reserved),
        ("http://h/c/manifest.json?sig=1", NameError::Reserved),
    ] {
        assert_eq!(
            TilesetUrl::parse(href),
            Err(TilesetUrlError::UnsafeEntryName(why)),
            "{href}"
        );
    }
    assert_eq!(
        TilesetUrl::parse("http://h/c/my%20tiles.json?sig=1")
            .unwrap()
            .entry()
            .as_str(),
        "my tiles.json"
    );
}

#[tokio::test]
async fn hostile_names_in_a_tileset_are_refused_and_nothing_lands_outside_the_directory() {
    let hostile_uris = [
        "a%2F..%2F..%2Fx.glb",
        "%2E%2E/x.glb",
        "%2e%2E/x.glb",
        "..%5Cx.glb",
        "%252F..%252Fx.glb",
        "C%3Aevil.dll",
        "a/C:x",
        "NUL.glb",
        "CON",
        "lpt%C2%B9.glb",
        "x.glb.",
        "x%20",
        "a%3Cb%3E.glb",
        "Manifest.json",
        // `manifeſt.json`: a long s folds to s (and NTFS upper-cases it to S).
        "manife%C5%BFt.json",
        ".mesh-export-journal.jsonl",
        "A.glb",
        "Sub/b.glb",
        // `café.glb` decomposed: APFS and HFS+ store it as the precomposed one below.
        "cafe%CC%81.glb",
        // Windows 8.3 short-name shapes, which NTFS may resolve to `manifest.json` or to
        // another tile.
        "MANIFE~1.JSO",
        "LONGNA~1.GLB",
        // A zero-width non-joiner, which HFS+ ignores: `a.glb` there.
        "a%E2%80%8C.glb",
    ];
    let mut uris: Vec<&str> = vec!["a.glb", "sub/a.glb", "caf%C3%A9.glb"];
    uris.extend(hostile_uris);
    let tileset = tileset_naming(&uris);
    let server = Hostile::start(move |request, _| {
        if request.path.ends_with("/tileset.json") {
            Reply::Full(tileset.clone())
        } else {
            Reply::Full(Bytes::from(glb_of(1, 100)))
        }
    })
    .await;
    let parent = tempfile::tempdir().unwrap();
    let out = parent.path().join("a/b/out");
    let url = TilesetUrl::from_root_href(&server.url("/c/export?sig=1")).unwrap();

    let err = downloader(&out).download(&url).await.unwrap_err();

    let DownloadError::Incomplete { failures, summary } = &err else {
        panic!("{err}")
    };
    assert!(failures.is_empty(), "{failures:?}");
    let refused: Vec<&str> = summary.refused.iter().map(|r| r.uri.as_str()).collect();
    assert_eq!(refused, hostile_uris, "each hostile name is refused");
    let reason_of = |uri: &str| {
        summary
            .refused
            .iter()
            .find(|r| r.uri == uri)
            .unwrap()
            .reason
            .clone()
    };
    assert_eq!(
        reason_of("C%3Aevil.dll"),
        RefusalReason::NotPortable(NameError::Colon)
    );
    assert_eq!(
        reason_of("a/C:x"),
        RefusalReason::NotPortable(NameError::Colon)
    );
    assert!(matches!(
        reason_of("lpt%C2%B9.glb"),
        RefusalReason::NotPortable(NameError::ReservedDevice(_))
    ));
    assert_eq!(reason_of("Manifest.json"), RefusalReason::ReservedName);
    assert_eq!(reason_of("manife%C5%BFt.json"), RefusalReason::ReservedName);
    assert_eq!(
        reason_of("MANIFE~1.JSO"),
        RefusalReason::NotPortable(NameError::ShortName("MANIFE~1.JSO".into()))
    );
    assert_eq!(
        reason_of("a%E2%80%8C.glb"),
        RefusalReason::NotPortable(NameError::ForbiddenCharacter('\u{200C}'))
    );
    assert_eq!(
        reason_of("cafe%CC%81.glb"),
        RefusalReason::CaseCollision("caf\u{e9}.glb".into())
    );
    assert_eq!(
        reason_of("A.glb"),
        RefusalReason::CaseCollision("a.glb".into())
    );
    assert_eq!(
        reason_of("Sub/b.glb"),
        RefusalReason::CaseCollision("sub".into())
    );
    // Nothing outside `out`, and inside it exactly the followed files.
    assert_eq!(
        everything_under(parent.path()),
        [
            "a/",
            "a/b/",
            "a/b/out/",
            "a/b/out/a.glb",
            "a/b/out/caf\u{e9}.glb",
            "a/b/out/manifest.json",
            "a/b/out/sub/",
            "a/b/out/sub/a.glb",
            "a/b/out/tileset.json",
        ]
    );
    let manifest = Manifest::read(&out).unwrap().unwrap();
    assert!(!manifest.complete);
    assert_eq!(manifest.missing.len(), hostile_uris.len());
    // No hostile name was even requested.
    for request in server.seen() {
        assert!(
            [
                "/c/export/tileset.json",
                "/c/export/a.glb",
                "/c/export/sub/a.glb",
                "/c/export/caf%C3%A9.glb"
            ]
            .contains(&request.path.as_str()),
            "requested {}",
            request.path
        );
    }
}

#[tokio::test]
async fn a_captive_portal_page_for_a_glb_or_json_is_fetched_again_and_never_recorded() {
    let tile = Bytes::from(glb_of(2, 5000));
    let served = tile.clone();
    let tileset = tileset_naming(&["t.glb"]);
    let server = Hostile::start(move |request, previous| match request.path.as_str() {
        // The portal answers the first two requests of each file with its page.
        _ if previous < 2 => Reply::Html,
        "/c/e/tileset.json" => Reply::Full(tileset.clone()),
        _ => Reply::Full(served.clone()),
    })
    .await;
    let out = tempfile::tempdir().unwrap();
    let url = TilesetUrl::from_root_href(&server.url("/c/e?sig=1")).unwrap();

    let summary = downloader(out.path()).download(&url).await.unwrap();

    assert_eq!(std::fs::read(out.path().join("t.glb")).unwrap(), tile);
    assert_eq!(server.requests_for("/c/e/t.glb").len(), 3);
    assert_eq!(server.requests_for("/c/e/tileset.json").len(), 3);
    assert_eq!(summary.retries, 4);
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
    assert_eq!(server.requests_for("/c/e/t.glb").len(), 6, "every attempt");
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

#[tokio::test]
async fn a_second_run_on_the_same_directory_fails_clearly_and_the_first_finishes() {
    let tileset = tileset_naming(&["t.glb"]);
    let arrived = Arc::new(tokio::sync::Notify::new());
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let (arrived_in, gate_in) = (arrived.clone(), gate.clone());
    let server = Hostile::start(move |request, _| match request.path.as_str() {
        "/c/e/tileset.json" => Reply::Full(tileset.clone()),
        // The first run stays inside the directory until the test lets this file through.
        _ => Reply::Gated(
            arrived_in.clone(),
            gate_in.clone(),
            Bytes::from(glb_of(8, 100)),
        ),
    })
    .await;
    let out = tempfile::tempdir().unwrap();
    let url = TilesetUrl::from_root_href(&server.url("/c/e?sig=1")).unwrap();
    let first = tokio::spawn({
        let (dir, url) = (out.path().to_path_buf(), url.clone());
        async move { downloader(&dir).download(&url).await }
    });
    arrived.notified().await;

    let second = downloader(out.path()).download(&url).await;

    let Err(err @ DownloadError::Locked { .. }) = second else {
        panic!("{second:?}")
    };
    assert!(
        err.to_string().contains("another download is running"),
        "{err}"
    );
    gate.add_permits(10);
    first.await.unwrap().unwrap();
    assert!(out.path().join("t.glb").is_file());
    // The lock ends with the run.
    downloader(out.path()).download(&url).await.unwrap();
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

/// A signing service whose signatures the test server expires on demand.
#[derive(Debug)]
struct Rotating {
    addr: std::net::SocketAddr,
    generation: Arc<AtomicU32>,
    refreshes: Arc<AtomicUsize>,
    /// Whether a refresh hands out a signature the server accepts.
    fresh: bool,
}

impl Rotating {
    fn href(&self, generation: u32) -> TilesetUrl {
        TilesetUrl::from_root_href(&format!(
            "http://{}/c/e?sv=1&sig=GEN{generation}",
            self.addr
        ))
        .unwrap()
    }
}

impl SignedUrlSource for Rotating {
    fn current(&self) -> TilesetUrl {
        self.href(1)
    }

    fn refresh(&self) -> BoxFuture<'_, Result<TilesetUrl, RefreshError>> {
        Box::pin(async {
            self.refreshes.fetch_add(1, Ordering::SeqCst);
            let current = self.generation.load(Ordering::SeqCst);
            Ok(self.href(if self.fresh { current } else { current - 1 }))
        })
    }
}

/// The paths the rotating server accepted a request for, in order.
type Accepted = Arc<Mutex<Vec<String>>>;

/// A server that accepts only the current generation's signature and moves on to the next
/// generation after `every` accepted file requests, answering like Azure when it refuses.
async fn rotating_server(
    tiles: usize,
    every: usize,
) -> (Hostile, Arc<AtomicU32>, HashMap<String, Bytes>, Accepted) {
    let names: Vec<String> = (0..tiles).map(|i| format!("t{i}.glb")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut files: HashMap<String, Bytes> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.clone(), Bytes::from(glb_of(100 + i as u32, 1000))))
        .collect();
    files.insert("tileset.json".into(), tileset_naming(&refs));
    let generation = Arc::new(AtomicU32::new(1));
    let accepted = Arc::new(AtomicUsize::new(0));
    let accepted_paths: Accepted = Arc::default();
    let (served, current, paths) = (files.clone(), generation.clone(), accepted_paths.clone());
    let server = Hostile::start(move |request, _| {
        let now = current.load(Ordering::SeqCst);
        if !request
            .query
            .split('&')
            .any(|kv| kv == format!("sig=GEN{now}"))
        {
            return Reply::Status(403);
        }
        if accepted.fetch_add(1, Ordering::SeqCst) % every == every - 1 {
            // This signature expires after this request.
            current.fetch_add(1, Ordering::SeqCst);
        }
        let name = request.path.trim_start_matches("/c/e/");
        paths.lock().unwrap().push(name.to_owned());
        match served.get(name) {
            Some(body) => Reply::Full(body.clone()),
            None => Reply::Status(404),
        }
    })
    .await;
    (server, generation, files, accepted_paths)
}

#[tokio::test]
async fn a_refused_signature_is_renewed_through_the_source_and_the_download_carries_on() {
    let (server, generation, files, accepted) = rotating_server(30, 10).await;
    let source = Rotating {
        addr: server.addr,
        generation: generation.clone(),
        refreshes: Arc::default(),
        fresh: true,
    };
    let out = tempfile::tempdir().unwrap();

    let summary = downloader(out.path()).download_from(&source).await.unwrap();

    for (name, body) in &files {
        assert_eq!(
            std::fs::read(out.path().join(name)).unwrap(),
            *body,
            "{name}"
        );
    }
    assert!(summary.resigns >= 2, "{summary:?}");
    assert_eq!(
        summary.resigns as usize,
        source.refreshes.load(Ordering::SeqCst)
    );
    // Complete files are kept: no file was served twice.
    let mut accepted = accepted.lock().unwrap().clone();
    accepted.sort();
    let mut expected: Vec<String> = files.keys().cloned().collect();
    expected.sort();
    assert_eq!(accepted, expected);
    assert_eq!(files_under(out.path()).len(), files.len() + 1);
}

#[tokio::test]
async fn a_source_that_keeps_handing_out_refused_signatures_stops_after_the_budget() {
    let (server, generation, _, _) = rotating_server(30, 5).await;
    let source = Rotating {
        addr: server.addr,
        generation,
        refreshes: Arc::default(),
        fresh: false,
    };
    let out = tempfile::tempdir().unwrap();
    let options = DownloadOptions {
        retry: quick_retries(),
        max_resigns: 3,
        ..DownloadOptions::default()
    };

    let err = Downloader::new(out.path())
        .with_options(options)
        .download_from(&source)
        .await
        .unwrap_err();

    assert!(
        matches!(err, DownloadError::SignatureRejected { status: 403, .. }),
        "{err}"
    );
    assert_eq!(source.refreshes.load(Ordering::SeqCst), 3);
    assert!(!err.to_string().contains("GEN"), "{err}");
}

#[cfg(unix)]
#[test]
fn blocking_file_work_runs_off_the_async_workers() {
    // `manifest.json` is a FIFO: reading it blocks until a writer opens it. The writer is a
    // task on the same single-threaded runtime, so it can only run if the read does not
    // block the runtime's one thread.
    let out = tempfile::tempdir().unwrap();
    let fifo = out.path().join("manifest.json");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let dir = out.path().to_path_buf();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let result = runtime.block_on(async move {
            let tileset = tileset_naming(&["t.glb"]);
            let server = Hostile::start(move |request, _| match request.path.as_str() {
                "/c/e/tileset.json" => Reply::Full(tileset.clone()),
                _ => Reply::Full(Bytes::from(glb_of(9, 100))),
            })
            .await;
            let writer = tokio::spawn(async move {
                loop {
                    match tokio::net::unix::pipe::OpenOptions::new().open_sender(&fifo) {
                        Ok(sender) => {
                            sender.writable().await.unwrap();
                            let _ = sender.try_write(b"not a manifest");
                            return;
                        }
                        // No reader yet: the download has not opened the FIFO.
                        Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
                    }
                }
            });
            let url = TilesetUrl::from_root_href(&server.url("/c/e?sig=1")).unwrap();
            let result = downloader(&dir).download(&url).await;
            writer.await.unwrap();
            result.map(|s| s.files)
        });
        let _ = done_tx.send(result);
    });
    let files = done_rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the download blocked its runtime's only thread on a file read");
    assert_eq!(files.unwrap(), 2);
}
