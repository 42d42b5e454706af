//! The output directory as a shared resource: a second run on it fails clearly while the
//! first finishes, and blocking file work stays off the async workers.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use mesh_export_test_support::glb::glb_of;
use tiles3d_download::{DownloadError, TilesetUrl};

use super::server::{Hostile, Reply, downloader, tileset_naming};

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
