//! Signatures that expire mid-download: renewed through the signing source, and a source
//! that keeps handing out refused ones stops after the budget.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::future::BoxFuture;
use mesh_export_test_support::emulator::quick_retries;
use mesh_export_test_support::files::files_under;
use mesh_export_test_support::glb::glb_of;
use tiles3d_download::{
    DownloadError, DownloadOptions, Downloader, RefreshError, SignedUrlSource, TilesetUrl,
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
