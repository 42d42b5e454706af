//! Runs that complete: every file byte-identical and fetched once, the manifest, progress,
//! the order of fetches, a second run that skips everything, a metadata schema.

use mesh_export_test_support::blobs::{BlobStore, ROOT, SIG, fixture};
use mesh_export_test_support::emulator::quick_retries;
use mesh_export_test_support::files::{assert_byte_identical, files_under};
use serde_json::json;
use tiles3d_download::{Downloader, MANIFEST_FILE, Manifest, TilesetUrl};

use super::downloader;

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
        // The walk's own order: the store does not list.
        .listing(false, false)
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
