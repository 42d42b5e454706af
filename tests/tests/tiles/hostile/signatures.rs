//! Signatures that expire mid-download: renewed through the signing source, and a source
//! that keeps handing out refused ones stops after the budget. A blob the store refuses
//! while it accepts the signature for the others is that file's failure; a download stopped
//! by a refused signature still writes its manifest.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::future::BoxFuture;
use mesh_export_test_support::emulator::quick_retries;
use mesh_export_test_support::files::files_under;
use mesh_export_test_support::glb::glb_of;
use tiles3d_download::{
    DownloadError, DownloadOptions, Downloader, FileError, Manifest, RefreshError, SignedUrlSource,
    TilesetUrl,
};

use super::server::{Hostile, Reply, downloader, tileset_naming};

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
    rotating_server_refusing(tiles, every, &[]).await
}

/// [`rotating_server`], answering 403 for the `refused` files whatever the signature, as S3
/// and CloudFront answer for a key that does not exist.
async fn rotating_server_refusing(
    tiles: usize,
    every: usize,
    refused: &'static [&'static str],
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
        let name = request.path.trim_start_matches("/c/e/");
        if refused.contains(&name) {
            return Reply::Status(403);
        }
        if accepted.fetch_add(1, Ordering::SeqCst) % every == every - 1 {
            // This signature expires after this request.
            current.fetch_add(1, Ordering::SeqCst);
        }
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

/// The download from `source` into `out` with the default options (adaptive concurrency, so
/// a small tileset's files go out together), the walk alone, quick retries and `max_resigns`;
/// its error.
async fn fails_from(source: &Rotating, out: &std::path::Path, max_resigns: u32) -> DownloadError {
    let options = DownloadOptions {
        retry: quick_retries(),
        use_listing: false,
        max_resigns,
        ..DownloadOptions::default()
    };
    Downloader::new(out)
        .with_options(options)
        .download_from(source)
        .await
        .unwrap_err()
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

    let err = fails_from(&source, out.path(), 3).await;

    assert!(
        matches!(err, DownloadError::SignatureRejected { status: 403, .. }),
        "{err}"
    );
    assert_eq!(source.refreshes.load(Ordering::SeqCst), 3);
    assert!(!err.to_string().contains("GEN"), "{err}");
}

/// The store answers 403 for `t150.glb` whatever the signature, and accepts it for the 300
/// other files.
async fn one_refused_blob_among_300() -> (Hostile, Arc<AtomicU32>) {
    let (server, generation, _, _) = rotating_server_refusing(301, usize::MAX, &["t150.glb"]).await;
    (server, generation)
}

/// Asserts the download kept every file but `t150.glb`, which failed alone as refused, and
/// that the manifest says so.
fn assert_only_the_refused_blob_is_missing(err: DownloadError, out: &std::path::Path) {
    let DownloadError::Incomplete { failures, summary } = err else {
        panic!("expected an incomplete download, got {err}");
    };
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0].path.as_str(), "t150.glb");
    assert_eq!(failures[0].error, FileError::Forbidden { status: 403 });
    let shown = failures[0].to_string();
    assert!(
        shown.contains("t150.glb") && shown.contains("accepts"),
        "{shown}"
    );
    assert_eq!(summary.files, 301, "300 tiles and the tileset are kept");
    assert_eq!(files_under(out).len(), 301 + 1, "and the manifest");
    let manifest = Manifest::read(out).unwrap().expect("a manifest");
    assert!(!manifest.complete);
    assert_eq!(manifest.files.len(), 301);
    let missing: Vec<&str> = manifest.missing.iter().map(|g| g.what.as_str()).collect();
    assert_eq!(missing, ["t150.glb"]);
    assert!(
        manifest.missing[0].reason.contains("refuses"),
        "{manifest:?}"
    );
}

#[tokio::test]
async fn one_blob_refused_always_fails_alone_after_one_fresh_signature_and_300_are_kept() {
    let (server, generation) = one_refused_blob_among_300().await;
    let source = Rotating {
        addr: server.addr,
        generation,
        refreshes: Arc::default(),
        fresh: true,
    };
    let out = tempfile::tempdir().unwrap();

    let err = downloader(out.path())
        .download_from(&source)
        .await
        .unwrap_err();

    assert_only_the_refused_blob_is_missing(err, out.path());
    let refreshes = source.refreshes.load(Ordering::SeqCst);
    assert!((1..=2).contains(&refreshes), "{refreshes} refreshes");
    assert_eq!(server.requests_for("/c/e/t150.glb").len(), 1 + refreshes);
}

/// Ten missing keys at the end of a tileset, all sent at once (the adaptive default starts
/// above their number): each fails alone, and the 30 other files are kept. Ten refusals held
/// together are no proof against a signature that fresh ones never cleared.
#[tokio::test]
async fn ten_blobs_refused_always_at_the_end_fail_alone_and_the_others_are_kept() {
    const REFUSED: [&str; 10] = [
        "t30.glb", "t31.glb", "t32.glb", "t33.glb", "t34.glb", "t35.glb", "t36.glb", "t37.glb",
        "t38.glb", "t39.glb",
    ];
    let (server, generation, _, _) = rotating_server_refusing(40, usize::MAX, &REFUSED).await;
    let source = Rotating {
        addr: server.addr,
        generation,
        refreshes: Arc::default(),
        fresh: true,
    };
    let out = tempfile::tempdir().unwrap();

    let err = fails_from(&source, out.path(), DownloadOptions::default().max_resigns).await;

    let DownloadError::Incomplete { failures, summary } = err else {
        panic!("expected an incomplete download, got {err}");
    };
    let mut failed: Vec<&str> = failures.iter().map(|f| f.path.as_str()).collect();
    failed.sort_unstable();
    assert_eq!(failed, REFUSED);
    assert!(
        failures
            .iter()
            .all(|f| f.error == FileError::Forbidden { status: 403 }),
        "{failures:?}"
    );
    assert_eq!(summary.files, 31, "30 tiles and the tileset are kept");
}

#[tokio::test]
async fn one_blob_refused_always_with_a_fixed_url_fails_alone_and_300_are_kept() {
    let (server, _) = one_refused_blob_among_300().await;
    let tileset =
        TilesetUrl::from_root_href(&format!("http://{}/c/e?sv=1&sig=GEN1", server.addr)).unwrap();
    let out = tempfile::tempdir().unwrap();

    let err = downloader(out.path()).download(&tileset).await.unwrap_err();

    assert_only_the_refused_blob_is_missing(err, out.path());
    // Sent once more after other files arrived with the same signature.
    assert_eq!(server.requests_for("/c/e/t150.glb").len(), 2);
}

#[tokio::test]
async fn an_expired_fixed_url_ends_with_signature_rejected_and_a_manifest() {
    let (server, _, _, _) = rotating_server(3, usize::MAX).await;
    let expired =
        TilesetUrl::from_root_href(&format!("http://{}/c/e?sv=1&sig=GEN0", server.addr)).unwrap();
    let out = tempfile::tempdir().unwrap();

    let err = downloader(out.path()).download(&expired).await.unwrap_err();

    assert!(
        matches!(err, DownloadError::SignatureRejected { status: 403, .. }),
        "{err}"
    );
    let manifest = Manifest::read(out.path()).unwrap().expect("a manifest");
    assert!(!manifest.complete);
    assert!(manifest.files.is_empty());
    let missing: Vec<&str> = manifest.missing.iter().map(|g| g.what.as_str()).collect();
    assert_eq!(missing, ["tileset.json"]);
    assert!(
        !std::fs::read_to_string(out.path().join("manifest.json"))
            .unwrap()
            .contains("GEN0")
    );
}

#[tokio::test]
async fn a_fixed_url_that_expires_mid_download_ends_with_a_manifest_of_what_arrived() {
    let (server, generation, _, accepted) = rotating_server(30, 10).await;
    let tileset =
        TilesetUrl::from_root_href(&format!("http://{}/c/e?sv=1&sig=GEN1", server.addr)).unwrap();
    let out = tempfile::tempdir().unwrap();

    let err = downloader(out.path()).download(&tileset).await.unwrap_err();

    assert!(
        matches!(err, DownloadError::SignatureRejected { status: 403, .. }),
        "{err}"
    );
    assert_eq!(generation.load(Ordering::SeqCst), 2);
    assert_eq!(accepted.lock().unwrap().len(), 10);
    let manifest = Manifest::read(out.path()).unwrap().expect("a manifest");
    assert!(!manifest.complete);
    assert!(manifest.files.iter().any(|f| f.path == "tileset.json"));
    assert!(manifest.files.len() <= 10, "{manifest:?}");
    // Every file named is either recorded or listed missing.
    assert_eq!(
        manifest.files.len() + manifest.missing.len(),
        31,
        "{manifest:?}"
    );
}
