//! Signatures that expire: reported without the signature, resumed with a fresh URL, and
//! renewed through a signing source within its limit and for the same tileset only.

use mesh_export_test_support::blobs::{BlobStore, Fault, SIG, fixture};
use mesh_export_test_support::emulator::quick_retries;
use mesh_export_test_support::files::assert_byte_identical;
use tiles3d_download::{DownloadError, Downloader, TilesetUrl};

use super::downloader;

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
        concurrency: tiles3d_download::Concurrency::Fixed(1),
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
