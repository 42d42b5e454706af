//! The tileset downloader against a purpose-built blob store on loopback.

use std::collections::HashMap;
use std::time::Duration;

use mesh_export_test_support::blobs::{BlobStore, Fault, ROOT, SIG, fixture};
use mesh_export_test_support::emulator::quick_retries;
use mesh_export_test_support::files::{assert_byte_identical, files_under};
use serde_json::json;
use tiles3d_download::{
    DownloadError, Downloader, FileError, MANIFEST_FILE, Manifest, RefusalReason, TilesetUrl,
};

fn downloader(dir: &std::path::Path) -> Downloader {
    Downloader::new(dir).concurrency(4).retry(quick_retries())
}

#[tokio::test]
async fn downloads_every_file_of_the_tileset_byte_identical_each_once() {
    let store = BlobStore::start(fixture()).await;
    let out = tempfile::tempdir().unwrap();
    let tileset = TilesetUrl::from_root_href(&store.href()).unwrap();

    let summary = downloader(out.path()).download(&tileset).await.unwrap();

    assert_byte_identical(&store, out.path());
    let mut expected = store.paths();
    expected.push(MANIFEST_FILE.to_owned());
    expected.sort();
    assert_eq!(
        files_under(out.path()),
        expected,
        "exactly the tileset plus the manifest"
    );
    for rel in store.paths() {
        assert_eq!(store.count(&rel), 1, "{rel} fetched once");
    }
    assert!(
        store
            .seen()
            .iter()
            .all(|s| s.query.as_deref() == Some(&format!("sv=2024&sig={SIG}")[..])),
        "every request carries the signed query"
    );
    assert_eq!(summary.files, store.paths().len() as u64);
    assert_eq!(summary.downloaded_files, summary.files);
    assert_eq!(summary.skipped, 0);
    assert!(summary.refused.is_empty());
    let total: usize = store
        .paths()
        .iter()
        .map(|p| store.file(p).unwrap().len())
        .sum();
    assert_eq!(summary.bytes, total as u64);
    assert_eq!(summary.downloaded_bytes, total as u64);
    assert_eq!(summary.tileset, out.path().join("tileset.json"));
}

#[tokio::test]
async fn the_manifest_records_path_size_and_checksum_of_every_file() {
    let store = BlobStore::start(fixture()).await;
    let out = tempfile::tempdir().unwrap();
    let tileset = TilesetUrl::from_root_href(&store.href()).unwrap();
    downloader(out.path()).download(&tileset).await.unwrap();

    let manifest = Manifest::read(out.path()).unwrap().unwrap();
    assert!(manifest.complete);
    assert_eq!(manifest.tileset, "tileset.json");
    assert!(
        !manifest.source.contains(SIG),
        "the manifest holds no signature"
    );
    let paths: Vec<&str> = manifest.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, store.paths());
    for entry in &manifest.files {
        let served = store.file(&entry.path).unwrap();
        assert_eq!(entry.size, served.len() as u64, "{}", entry.path);
        // XXH3-128 in its canonical (big-endian) form, as `xxhsum -H2` prints it.
        let expected = xxhash_rust::xxh3::xxh3_128(&served).to_be_bytes();
        assert_eq!(entry.xxh3_128, hex::encode(expected), "{}", entry.path);
    }
}

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

#[tokio::test]
async fn an_expired_signature_is_reported_clearly_without_the_signature() {
    let store = BlobStore::start(fixture()).await;
    let out = tempfile::tempdir().unwrap();
    let tileset = TilesetUrl::from_root_href(&store.href_with("EXPIRED-SIG-VALUE")).unwrap();

    let err = downloader(out.path()).download(&tileset).await.unwrap_err();

    assert!(
        matches!(&err, DownloadError::SignatureRejected { status: 403, path } if path.as_str() == "tileset.json"),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains("signature has expired"), "{message}");
    assert!(message.contains("freshly signed URL"), "{message}");
    assert!(
        !message.contains("EXPIRED-SIG-VALUE") && !format!("{err:?}").contains("EXPIRED-SIG-VALUE")
    );
    assert_eq!(
        store.count("tileset.json"),
        1,
        "a refused signature is not retried"
    );
}

#[tokio::test]
async fn a_signature_that_expires_mid_download_stops_it_and_a_fresh_url_resumes() {
    let store = BlobStore::start(fixture()).await;
    // The signature expires when the child tileset's files are first asked for.
    let expiring = store.clone();
    store.set_fault(move |rel, _| {
        if rel.starts_with("sub/") {
            expiring.revoke(SIG);
        }
        Fault::None
    });
    let out = tempfile::tempdir().unwrap();
    let tileset = TilesetUrl::from_root_href(&store.href()).unwrap();
    let err = downloader(out.path()).download(&tileset).await.unwrap_err();
    assert!(
        matches!(err, DownloadError::SignatureRejected { .. }),
        "{err}"
    );
    let again = downloader(out.path()).download(&tileset).await.unwrap_err();
    assert!(
        matches!(again, DownloadError::SignatureRejected { .. }),
        "the expired URL stays refused: {again}"
    );

    const FRESH: &str = "FRESH-SIGNATURE";
    store.set_fault(|_, _| Fault::None);
    store.accept(FRESH);
    store.clear_seen();
    let fresh = TilesetUrl::from_root_href(&store.href_with(FRESH)).unwrap();
    downloader(out.path()).download(&fresh).await.unwrap();
    // The store refuses the revoked signature, so the resumed run completing proves it used
    // the fresh one. (Requests of the refused runs may still arrive after `clear_seen`: a
    // download that stops drops its in-flight requests, which the server may already hold.)
    let fresh_requests = store
        .seen()
        .iter()
        .filter(|s| s.query.as_deref().is_some_and(|q| q.contains(FRESH)))
        .count();
    assert!(
        fresh_requests > 0,
        "the resumed run used the fresh signature"
    );
    assert_eq!(
        store.count("tileset.json"),
        0,
        "complete before the expiry, kept"
    );
    assert_byte_identical(&store, out.path());
}

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
    assert_eq!(store.count("tileset.json"), 6, "fetched again each attempt");
    assert!(!out.path().join("tileset.json").exists());
    let manifest = Manifest::read(out.path()).unwrap().unwrap();
    assert!(!manifest.complete);
    assert!(manifest.files.is_empty(), "never journaled");
}

#[tokio::test]
async fn progress_reports_every_file_and_byte() {
    let store = BlobStore::start(fixture()).await;
    let out = tempfile::tempdir().unwrap();
    let tileset = TilesetUrl::from_root_href(&store.href()).unwrap();
    let downloader = downloader(out.path());
    let progress = downloader.progress();

    let summary = downloader.download(&tileset).await.unwrap();

    let last = progress.borrow().clone();
    assert_eq!(last.files_done, summary.files);
    assert_eq!(last.files_total_known, summary.files);
    assert_eq!(last.bytes_done, summary.bytes);
    assert_eq!(last.bytes_downloaded, summary.bytes);
}

#[tokio::test]
async fn tilesets_are_fetched_before_tiles_named_ahead_of_them_and_tiles_in_their_order() {
    let store = BlobStore::start(fixture()).await;
    let out = tempfile::tempdir().unwrap();
    let tileset = TilesetUrl::from_root_href(&store.href()).unwrap();
    Downloader::new(out.path())
        .concurrency(1)
        .retry(quick_retries())
        .download(&tileset)
        .await
        .unwrap();
    let order: Vec<String> = store
        .seen()
        .into_iter()
        .map(|s| s.path.trim_start_matches(ROOT).to_owned())
        .collect();
    let at = |rel: &str| {
        order
            .iter()
            .position(|p| p == rel)
            .unwrap_or_else(|| panic!("{rel} was never fetched: {order:?}"))
    };
    // The root names three tiles, a glTF and then a child tileset: one file at a time, the
    // child tileset comes first, as it may reveal more work; the rest keep their order.
    assert_eq!(order[..2], ["tileset.json", "sub/child.json"], "{order:?}");
    assert!(
        at("tiles/root.glb") < at("tiles/0.glb") && at("tiles/0.glb") < at("models/house.gltf"),
        "{order:?}"
    );
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

/// Hands out a new signature on each refresh (`S1`, `S2`, ...), which the store then accepts;
/// with `elsewhere`, for another container's tileset.
struct Resigner {
    store: BlobStore,
    refreshes: std::sync::atomic::AtomicU32,
    elsewhere: bool,
}

impl Resigner {
    fn new(store: &BlobStore, elsewhere: bool) -> Self {
        Resigner {
            store: store.clone(),
            refreshes: Default::default(),
            elsewhere,
        }
    }
}

impl std::fmt::Debug for Resigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Resigner")
    }
}

impl tiles3d_download::SignedUrlSource for Resigner {
    fn current(&self) -> TilesetUrl {
        TilesetUrl::from_root_href(&self.store.href()).unwrap()
    }

    fn refresh(
        &self,
    ) -> futures::future::BoxFuture<'_, Result<TilesetUrl, tiles3d_download::RefreshError>> {
        let n = 1 + self
            .refreshes
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let sig = format!("S{n}");
        self.store.accept(&sig);
        let mut href = self.store.href_with(&sig);
        if self.elsewhere {
            href = href.replace("/c/export?", "/c/elsewhere?");
        }
        let url = TilesetUrl::from_root_href(&href).unwrap();
        Box::pin(async move { Ok(url) })
    }
}

#[tokio::test]
async fn the_re_sign_limit_counts_refusals_in_a_row_not_in_all() {
    let store = BlobStore::start(fixture()).await;
    // Two expiries with files arriving between them, one file at a time: the first signature
    // when the child tileset is asked for, the second when a tile is.
    let expiring = store.clone();
    store.set_fault(move |rel, _| {
        match rel {
            "sub/child.json" => expiring.revoke(SIG),
            "tiles/0.glb" => expiring.revoke("S1"),
            _ => {}
        }
        Fault::None
    });
    let source = Resigner::new(&store, false);
    let out = tempfile::tempdir().unwrap();
    let options = tiles3d_download::DownloadOptions {
        max_resigns: 1,
        concurrency: 1,
        retry: quick_retries(),
        ..Default::default()
    };
    Downloader::new(out.path())
        .with_options(options)
        .download_from(&source)
        .await
        .unwrap();
    assert_eq!(
        source.refreshes.load(std::sync::atomic::Ordering::SeqCst),
        2
    );
    assert_byte_identical(&store, out.path());
}

#[tokio::test]
async fn a_fresh_signature_for_another_tileset_is_not_followed() {
    let store = BlobStore::start(fixture()).await;
    let expiring = store.clone();
    store.set_fault(move |rel, _| {
        if rel == "sub/child.json" {
            expiring.revoke(SIG);
        }
        Fault::None
    });
    let source = Resigner::new(&store, true);
    let out = tempfile::tempdir().unwrap();
    let err = downloader(out.path())
        .download_from(&source)
        .await
        .unwrap_err();
    assert!(
        matches!(err, DownloadError::SignatureRejected { .. }),
        "{err}"
    );
    let elsewhere: Vec<String> = store
        .seen()
        .into_iter()
        .map(|s| s.path)
        .filter(|p| p.contains("/elsewhere"))
        .collect();
    assert!(elsewhere.is_empty(), "{elsewhere:?}");
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

#[tokio::test]
async fn refusals_of_files_sent_before_a_fresh_signature_do_not_ask_for_another() {
    let store = BlobStore::start(fixture()).await;
    // Expired once the root is served: of the five files it names, four go out together with
    // the old signature (four at a time), and all four are refused.
    let expiring = store.clone();
    store.set_fault(move |rel, _| {
        if rel == "tileset.json" {
            expiring.revoke(SIG);
        }
        Fault::None
    });
    let source = Resigner::new(&store, false);
    let out = tempfile::tempdir().unwrap();
    let summary = Downloader::new(out.path())
        .concurrency(4)
        .retry(quick_retries())
        .download_from(&source)
        .await
        .unwrap();
    assert_eq!(
        source.refreshes.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "one fresh signature serves every file refused with the old one"
    );
    assert_eq!(summary.resigns, 1);
    assert_byte_identical(&store, out.path());
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

#[tokio::test]
async fn a_second_run_skips_every_file_and_its_progress_counts_them_done() {
    let store = BlobStore::start(fixture()).await;
    let out = tempfile::tempdir().unwrap();
    let tileset = TilesetUrl::from_root_href(&store.href()).unwrap();
    let first = downloader(out.path()).download(&tileset).await.unwrap();
    store.clear_seen();

    let again = downloader(out.path());
    let progress = again.progress();
    let summary = again.download(&tileset).await.unwrap();

    assert!(store.seen().is_empty(), "{:?}", store.seen());
    assert_eq!(summary.skipped, first.files);
    assert_eq!(summary.downloaded_bytes, 0);
    let last = progress.borrow().clone();
    assert_eq!(last.files_done, first.files);
    assert_eq!(last.files_skipped, first.files);
    assert_eq!(last.bytes_done, first.bytes);
    assert_eq!(last.bytes_downloaded, 0);
}

#[tokio::test]
async fn a_metadata_schema_named_by_the_tileset_is_downloaded_and_not_taken_for_a_tileset() {
    let mut files = fixture();
    let mut root: serde_json::Value = serde_json::from_slice(&files["tileset.json"]).unwrap();
    root["schemaUri"] = json!("meta/schema.json");
    files.insert(
        "tileset.json".to_owned(),
        serde_json::to_vec(&root).unwrap(),
    );
    files.insert(
        "meta/schema.json".to_owned(),
        serde_json::to_vec(&json!({
            "id": "building",
            "classes": {"room": {"properties": {"area": {"type": "SCALAR", "componentType": "FLOAT32"}}}}
        }))
        .unwrap(),
    );
    let store = BlobStore::start(files).await;
    let out = tempfile::tempdir().unwrap();
    let tileset = TilesetUrl::from_root_href(&store.href()).unwrap();

    downloader(out.path()).download(&tileset).await.unwrap();

    assert_eq!(store.count("meta/schema.json"), 1);
    assert_byte_identical(&store, out.path());
    assert!(Manifest::read(out.path()).unwrap().unwrap().complete);
}
