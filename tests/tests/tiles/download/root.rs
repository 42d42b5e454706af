//! A tileset below the root it names files from: `TilesetUrl::with_root`.

use std::collections::HashMap;

use mesh_export_test_support::blobs::{BlobStore, SIG};
use mesh_export_test_support::files::{assert_byte_identical, files_under};
use mesh_export_test_support::glb::glb_of;
use serde_json::json;
use tiles3d_download::{DownloadError, MANIFEST_FILE, Manifest, RefusalReason, TilesetUrl};

use super::downloader;

fn tileset_naming(uris: &[&str]) -> Vec<u8> {
    let children: Vec<_> = uris
        .iter()
        .map(|uri| json!({"geometricError": 0, "content": {"uri": uri}}))
        .collect();
    serde_json::to_vec(&json!({
        "asset": {"version": "1.1"},
        "geometricError": 1,
        "schemaUri": "../../schemas/x.json",
        "root": {"geometricError": 1, "refine": "ADD", "children": children},
    }))
    .unwrap()
}

#[tokio::test]
async fn files_above_the_entry_up_to_the_root_land_at_their_paths_under_it() {
    let mut files = HashMap::new();
    files.insert(
        "sub/dir/tileset.json".to_owned(),
        tileset_naming(&["t.glb", "../../shared/s.glb"]),
    );
    files.insert("sub/dir/t.glb".to_owned(), glb_of(1, 64));
    files.insert("shared/s.glb".to_owned(), glb_of(2, 64));
    files.insert(
        "schemas/x.json".to_owned(),
        serde_json::to_vec(&json!({"id": "x"})).unwrap(),
    );
    let store = BlobStore::start(files).await;
    let out = tempfile::tempdir().unwrap();
    let entry = format!(
        "http://{}/c/export/sub/dir/tileset.json?sv=2024&sig={SIG}",
        store.addr
    );
    let root = format!("http://{}/c/export/", store.addr);
    let tileset = TilesetUrl::with_root(&entry, &root).unwrap();

    let summary = downloader(out.path()).download(&tileset).await.unwrap();

    assert_eq!(summary.files, 4);
    assert_byte_identical(&store, out.path());
    let mut expected = store.paths();
    expected.push(MANIFEST_FILE.to_owned());
    expected.sort();
    assert_eq!(files_under(out.path()), expected);
    let manifest = Manifest::read(out.path()).unwrap().unwrap();
    assert_eq!(manifest.tileset, "sub/dir/tileset.json");
}

#[tokio::test]
async fn a_file_above_the_root_is_still_refused() {
    let mut files = HashMap::new();
    files.insert(
        "sub/dir/tileset.json".to_owned(),
        tileset_naming(&["../../../outside.glb"]),
    );
    files.insert(
        "schemas/x.json".to_owned(),
        serde_json::to_vec(&json!({"id": "x"})).unwrap(),
    );
    let store = BlobStore::start(files).await;
    let out = tempfile::tempdir().unwrap();
    let entry = format!(
        "http://{}/c/export/sub/dir/tileset.json?sv=2024&sig={SIG}",
        store.addr
    );
    let root = format!("http://{}/c/export", store.addr);
    let tileset = TilesetUrl::with_root(&entry, &root).unwrap();

    let err = downloader(out.path()).download(&tileset).await.unwrap_err();

    let DownloadError::Incomplete { summary, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(summary.files, 2, "{err}");
    let manifest = Manifest::read(out.path()).unwrap().unwrap();
    let [gap] = manifest.missing.as_slice() else {
        panic!("{:?}", manifest.missing)
    };
    assert_eq!(gap.what, "../../../outside.glb");
    assert_eq!(gap.in_file.as_deref(), Some("sub/dir/tileset.json"));
    assert!(
        gap.reason.contains(&RefusalReason::EscapesRoot.to_string()),
        "{gap:?}"
    );
}
