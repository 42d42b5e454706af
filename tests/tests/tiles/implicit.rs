//! The downloader on 3D Tiles 1.1 implicit tilesets, against a purpose-built blob store:
//! exactly the available contents and subtrees are fetched, and what cannot be interpreted
//! makes the download incomplete.

use std::collections::HashMap;

use futures::future::BoxFuture;
use mesh_export_test_support::blobs::{BlobStore, Fault, bytes};
use mesh_export_test_support::emulator::quick_retries;
use mesh_export_test_support::files::files_under;
use mesh_export_test_support::glb::glb;
use serde_json::{Value, json};
use tiles3d_download::{
    DownloadError, Downloader, FileError, Manifest, RefreshError, SignedUrlSource, TilesetUrl,
};

fn downloader(dir: &std::path::Path) -> Downloader {
    // The walk alone: these stores are not Azure's and do not list, and the tests count
    // the requests the walk makes (the listing has its own tests, in `listing`).
    Downloader::new(dir)
        .concurrency(4)
        .retry(quick_retries())
        .listing(false, false)
}

/// A bitstream of `len` bits with the listed bits set, LSB first.
pub(crate) fn bits(len: usize, set: &[usize]) -> Vec<u8> {
    let mut out = vec![0u8; len.div_ceil(8)];
    for &i in set {
        out[i / 8] |= 1 << (i % 8);
    }
    out
}

/// A binary subtree, its chunks padded to 8 bytes.
pub(crate) fn binary_subtree(json: &Value, binary: &[u8]) -> Vec<u8> {
    let mut text = serde_json::to_vec(json).unwrap();
    while !text.len().is_multiple_of(8) {
        text.push(b' ');
    }
    let mut binary = binary.to_vec();
    while !binary.len().is_multiple_of(8) {
        binary.push(0);
    }
    let mut out = b"subt".to_vec();
    out.extend_from_slice(&1u32.to_le_bytes());
    out.extend_from_slice(&(text.len() as u64).to_le_bytes());
    out.extend_from_slice(&(binary.len() as u64).to_le_bytes());
    out.extend_from_slice(&text);
    out.extend_from_slice(&binary);
    out
}

/// A point cloud tile with a valid 3D Tiles 1.0 header (magic, version 1, its own length)
/// around `len` bytes: the downloader checks that header.
fn pnts(seed: u32, len: usize) -> Vec<u8> {
    let body = bytes(seed, len);
    let mut out = b"pnts".to_vec();
    out.extend_from_slice(&1u32.to_le_bytes());
    out.extend_from_slice(&((28 + body.len()) as u32).to_le_bytes());
    out.extend_from_slice(&[0; 16]);
    out.extend_from_slice(&body);
    out
}

fn content(seed: u32) -> Vec<u8> {
    glb(&json!({"asset": {"version": "2.0"}, "extras": {"seed": seed}}))
}

/// Files that exist on the store but are not available: a correct walk never asks for them.
const DECOYS: &[&str] = &[
    "q/1/0/1.glb",
    "pts/1-0-0.pnts",
    "q/3/6/4.glb",
    "q/4/0/0.glb",
    "sub/2/1/1.subtree",
    "sub/4/0/0.subtree",
    "ext/o/1/0/0/0.glb",
    "ext/trees/1/0/0/0.json",
    "ext/trees/2/2/0/2.json",
];

/// A tileset with a sparse quadtree (binary subtrees, two contents, an external buffer) under
/// its root and, in an external tileset, a sparse octree with JSON subtrees.
fn implicit_fixture() -> HashMap<String, Vec<u8>> {
    let mut files = HashMap::new();
    let mut put = |path: &str, content: Vec<u8>| {
        files.insert(path.to_owned(), content);
    };
    put(
        "tileset.json",
        serde_json::to_vec(&json!({
            "asset": {"version": "1.1"},
            "geometricError": 100,
            "root": {
                "geometricError": 100,
                "boundingVolume": {"box": [0, 0, 0, 100, 0, 0, 0, 100, 0, 0, 0, 10]},
                "content": {"uri": "root.glb"},
                "children": [
                    {
                        "geometricError": 50,
                        "boundingVolume": {"box": [0, 0, 0, 100, 0, 0, 0, 100, 0, 0, 0, 10]},
                        "contents": [{"uri": "q/{level}/{x}/{y}.glb"}, {"uri": "pts/{level}-{x}-{y}.pnts"}],
                        "implicitTiling": {
                            "subdivisionScheme": "QUADTREE",
                            "subtreeLevels": 2,
                            "availableLevels": 4,
                            "subtrees": {"uri": "sub/{level}/{x}/{y}.subtree"}
                        }
                    },
                    {"geometricError": 50, "content": {"uri": "ext/tileset.json"}}
                ]
            }
        }))
        .unwrap(),
    );
    put("root.glb", content(0));
    // Root subtree: tiles (0,0,0), (1,0,0), (1,1,1); every tile has the first content, only
    // (1,1,1) the second; child subtrees below (1,0,0) and (1,1,1).
    let mut chunk = bits(5, &[0, 1, 4]);
    chunk.resize(8, 0);
    chunk.extend(bits(5, &[4]));
    chunk.resize(16, 0);
    chunk.extend(bits(16, &[0, 13]));
    put(
        "sub/0/0/0.subtree",
        binary_subtree(
            &json!({
                "buffers": [{"byteLength": 18}],
                "bufferViews": [
                    {"buffer": 0, "byteOffset": 0, "byteLength": 1},
                    {"buffer": 0, "byteOffset": 8, "byteLength": 1},
                    {"buffer": 0, "byteOffset": 16, "byteLength": 2}
                ],
                "tileAvailability": {"bitstream": 0, "availableCount": 3},
                "contentAvailability": [{"constant": 1}, {"bitstream": 1, "availableCount": 1}],
                "childSubtreeAvailability": {"bitstream": 2}
            }),
            &chunk,
        ),
    );
    // (2,0,0): every tile, only its root with content; child subtrees would be at level 4,
    // which availableLevels excludes.
    put(
        "sub/2/0/0.subtree",
        binary_subtree(
            &json!({
                "buffers": [{"byteLength": 1}],
                "bufferViews": [{"buffer": 0, "byteOffset": 0, "byteLength": 1}],
                "tileAvailability": {"constant": 1},
                "contentAvailability": [{"bitstream": 0}, {"constant": 0}],
                "childSubtreeAvailability": {"constant": 1}
            }),
            &bits(5, &[0]),
        ),
    );
    // (2,3,2): tile availability in an external buffer beside it: (2,3,2) and (3,7,4).
    put(
        "sub/2/3/2.subtree",
        binary_subtree(
            &json!({
                "buffers": [{"uri": "2.bin", "byteLength": 8}],
                "bufferViews": [{"buffer": 0, "byteOffset": 0, "byteLength": 1}],
                "tileAvailability": {"bitstream": 0},
                "contentAvailability": [{"constant": 1}, {"constant": 0}],
                "childSubtreeAvailability": {"constant": 0}
            }),
            &[],
        ),
    );
    let mut external = bits(5, &[0, 2]);
    external.resize(8, 0);
    put("sub/2/3/2.bin", external);
    for (i, path) in [
        "q/0/0/0.glb",
        "q/1/0/0.glb",
        "q/1/1/1.glb",
        "q/2/0/0.glb",
        "q/2/3/2.glb",
        "q/3/7/4.glb",
    ]
    .iter()
    .enumerate()
    {
        put(path, content(i as u32 + 1));
    }
    put("pts/1-1-1.pnts", pnts(9, 500));

    put(
        "ext/tileset.json",
        serde_json::to_vec(&json!({
            "asset": {"version": "1.1"},
            "geometricError": 50,
            "root": {
                "geometricError": 50,
                "boundingVolume": {"box": [0, 0, 0, 10, 0, 0, 0, 10, 0, 0, 0, 10]},
                "content": {"uri": "o/{level}/{x}/{y}/{z}.glb"},
                "implicitTiling": {
                    "subdivisionScheme": "OCTREE",
                    "subtreeLevels": 1,
                    "availableLevels": 2,
                    "subtrees": {"uri": "trees/{level}/{x}/{y}/{z}.json"}
                }
            }
        }))
        .unwrap(),
    );
    put(
        "ext/trees/0/0/0/0.json",
        serde_json::to_vec(&json!({
            "buffers": [{"uri": "../../../../bits/root.bin", "byteLength": 8}],
            "bufferViews": [{"buffer": 0, "byteOffset": 0, "byteLength": 1}],
            "tileAvailability": {"constant": 1},
            "contentAvailability": [{"constant": 1}],
            "childSubtreeAvailability": {"bitstream": 0}
        }))
        .unwrap(),
    );
    let mut root_bits = bits(8, &[5]);
    root_bits.resize(8, 0);
    put("ext/bits/root.bin", root_bits);
    put(
        "ext/trees/1/1/0/1.json",
        serde_json::to_vec(&json!({
            "tileAvailability": {"constant": 1},
            "contentAvailability": [{"constant": 1}],
            "childSubtreeAvailability": {"constant": 1}
        }))
        .unwrap(),
    );
    put("ext/o/0/0/0/0.glb", content(20));
    put("ext/o/1/1/0/1.glb", content(21));
    for (i, decoy) in DECOYS.iter().enumerate() {
        put(decoy, bytes(100 + i as u32, 64));
    }
    files
}

/// The available files: everything served but the decoys.
fn available(store: &BlobStore) -> Vec<String> {
    store
        .paths()
        .into_iter()
        .filter(|p| !DECOYS.contains(&p.as_str()))
        .collect()
}

#[tokio::test]
async fn downloads_a_sparse_implicit_tileset_complete_requesting_only_available_files() {
    let store = BlobStore::start(implicit_fixture()).await;
    let out = tempfile::tempdir().unwrap();
    let tileset = TilesetUrl::from_root_href(&store.href()).unwrap();

    let summary = downloader(out.path()).download(&tileset).await.unwrap();

    let available = available(&store);
    assert_eq!(available.len(), 19, "{available:?}");
    for rel in &available {
        assert_eq!(store.count(rel), 1, "{rel} fetched once");
        let on_disk = std::fs::read(out.path().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
        assert!(on_disk == store.file(rel).unwrap(), "{rel} differs");
    }
    for decoy in DECOYS {
        assert_eq!(
            store.count(decoy),
            0,
            "{decoy} is not available, yet was requested"
        );
    }
    assert_eq!(
        store.seen().len(),
        available.len(),
        "nothing else was requested"
    );
    assert_eq!(summary.files, available.len() as u64);
    let manifest = Manifest::read(out.path()).unwrap().unwrap();
    assert!(manifest.complete);
    assert_eq!(manifest.files.len(), available.len());

    // A second run reads the subtrees from disk, with their contexts, and fetches nothing.
    store.clear_seen();
    let again = downloader(out.path()).download(&tileset).await.unwrap();
    assert_eq!(again.skipped, available.len() as u64);
    assert!(store.seen().is_empty(), "{:?}", store.seen());
}

#[tokio::test]
async fn a_malformed_subtree_makes_the_download_incomplete_and_names_it() {
    let mut files = implicit_fixture();
    let subtree = files.get_mut("sub/2/3/2.subtree").unwrap();
    subtree.truncate(subtree.len() - 3);
    let store = BlobStore::start(files).await;
    let out = tempfile::tempdir().unwrap();
    let tileset = TilesetUrl::from_root_href(&store.href()).unwrap();

    let err = downloader(out.path()).download(&tileset).await.unwrap_err();

    let DownloadError::Incomplete { failures, summary } = &err else {
        panic!("{err}")
    };
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0].path.as_str(), "sub/2/3/2.subtree");
    let FileError::Unsupported { reason, .. } = &failures[0].error else {
        panic!("{:?}", failures[0]);
    };
    assert!(reason.contains("truncated"), "{reason}");
    assert!(!Manifest::read(out.path()).unwrap().unwrap().complete);
    // What it would have named is not fetched; everything else is.
    assert_eq!(store.count("sub/2/3/2.bin"), 0);
    assert!(out.path().join("ext/o/1/1/0/1.glb").exists());
    assert!(out.path().join("q/2/0/0.glb").exists());
    assert_eq!(
        summary.files, 16,
        "all but the three files the subtree names"
    );
}

#[tokio::test]
async fn an_unknown_template_variable_makes_the_download_incomplete_with_the_reason() {
    let mut files = implicit_fixture();
    let text = String::from_utf8(files["ext/tileset.json"].clone()).unwrap();
    files.insert(
        "ext/tileset.json".to_owned(),
        text.replace(
            "o/{level}/{x}/{y}/{z}.glb",
            "o/{level}/{x}/{y}/{z}/{lod}.glb",
        )
        .into_bytes(),
    );
    let store = BlobStore::start(files).await;
    let out = tempfile::tempdir().unwrap();
    let tileset = TilesetUrl::from_root_href(&store.href()).unwrap();

    let err = downloader(out.path()).download(&tileset).await.unwrap_err();

    let DownloadError::Incomplete { failures, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0].path.as_str(), "ext/tileset.json");
    assert!(
        matches!(&failures[0].error, FileError::Unsupported { reason, .. } if reason.contains("{lod}")),
        "{err}"
    );
    assert!(err.to_string().contains("{lod}"), "{err}");
    assert_eq!(store.count("ext/trees/0/0/0/0.json"), 0);
    // The quadtree is unaffected.
    assert!(out.path().join("q/3/7/4.glb").exists());
    assert!(!Manifest::read(out.path()).unwrap().unwrap().complete);
}

#[tokio::test]
async fn two_implicit_roots_sharing_a_subtree_file_are_reported_not_merged() {
    let mut files = implicit_fixture();
    let text = String::from_utf8(files["ext/tileset.json"].clone()).unwrap();
    // The external tileset's implicit root now names the quadtree's subtree files.
    let mut ext: Value = serde_json::from_str(&text).unwrap();
    ext["root"]["content"]["uri"] = json!("../q/{level}/{x}/{y}.glb");
    ext["root"]["implicitTiling"] = json!({
        "subdivisionScheme": "QUADTREE",
        "subtreeLevels": 2,
        "availableLevels": 4,
        "subtrees": {"uri": "../sub/{level}/{x}/{y}.subtree"}
    });
    files.insert(
        "ext/tileset.json".to_owned(),
        serde_json::to_vec(&ext).unwrap(),
    );
    let store = BlobStore::start(files).await;
    let out = tempfile::tempdir().unwrap();
    let tileset = TilesetUrl::from_root_href(&store.href()).unwrap();

    let err = downloader(out.path()).download(&tileset).await.unwrap_err();

    let DownloadError::Incomplete { failures, .. } = &err else {
        panic!("{err}")
    };
    assert!(
        failures.iter().any(|f| matches!(&f.error, FileError::Unsupported { reason, .. } if reason.contains("named again"))),
        "{err}"
    );
    assert_eq!(store.count("sub/0/0/0.subtree"), 1);
}

#[tokio::test]
async fn a_subtree_template_naming_data_uris_makes_the_download_incomplete() {
    let mut files = implicit_fixture();
    let text = String::from_utf8(files["ext/tileset.json"].clone()).unwrap();
    files.insert(
        "ext/tileset.json".to_owned(),
        text.replace(
            "trees/{level}/{x}/{y}/{z}.json",
            "data:application/json;base64,{level}{x}{y}{z}",
        )
        .into_bytes(),
    );
    let store = BlobStore::start(files).await;
    let out = tempfile::tempdir().unwrap();
    let tileset = TilesetUrl::from_root_href(&store.href()).unwrap();
    let downloader = downloader(out.path());
    let progress = downloader.progress();

    let err = downloader.download(&tileset).await.unwrap_err();

    let DownloadError::Incomplete { failures, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(
        matches!(&failures[0].error, FileError::Unsupported { reason, .. } if reason.contains("data: URI")),
        "{err}"
    );
    assert_eq!(progress.borrow().failed, 1, "progress counts the problem");
}

#[tokio::test]
async fn implicit_subtree_and_content_names_pass_the_portable_name_check() {
    let mut files = implicit_fixture();
    let text = String::from_utf8(files["tileset.json"].clone()).unwrap();
    // `:` opens an NTFS stream on Windows; `CON` is a device there.
    files.insert(
        "tileset.json".to_owned(),
        text.replace("q/{level}/{x}/{y}.glb", "q/{level}/{x}/{y}:.glb")
            .into_bytes(),
    );
    let text = String::from_utf8(files["ext/tileset.json"].clone()).unwrap();
    files.insert(
        "ext/tileset.json".to_owned(),
        text.replace(
            "trees/{level}/{x}/{y}/{z}.json",
            "trees/{level}/{x}/{y}/CON{z}/../CON.json",
        )
        .into_bytes(),
    );
    let store = BlobStore::start(files).await;
    let out = tempfile::tempdir().unwrap();
    let tileset = TilesetUrl::from_root_href(&store.href()).unwrap();

    let err = downloader(out.path()).download(&tileset).await.unwrap_err();

    let DownloadError::Incomplete { summary, .. } = &err else {
        panic!("{err}")
    };
    let refused: Vec<(&str, String)> = summary
        .refused
        .iter()
        .map(|r| (r.uri.as_str(), r.reason.to_string()))
        .collect();
    assert!(
        refused
            .iter()
            .any(|(uri, why)| *uri == "q/0/0/0:.glb" && why.contains("NTFS")),
        "{refused:?}"
    );
    assert!(
        refused
            .iter()
            .any(|(uri, why)| uri.ends_with("CON.json") && why.contains("device")),
        "{refused:?}"
    );
    // Nothing refused was requested or written, under any name.
    assert!(
        store
            .seen()
            .iter()
            .all(|s| !s.path.contains(':') && !s.path.contains("CON")),
        "{:?}",
        store.seen()
    );
    assert!(
        files_under(out.path())
            .iter()
            .all(|p| !p.contains(':') && !p.contains("CON")),
        "{:?}",
        files_under(out.path())
    );
    let manifest = Manifest::read(out.path()).unwrap().unwrap();
    assert!(!manifest.complete);
    assert!(manifest.missing.len() >= refused.len());
}

#[tokio::test]
async fn a_subtree_that_is_an_html_page_is_fetched_again_and_never_kept() {
    let mut files = implicit_fixture();
    files.insert(
        "sub/2/0/0.subtree".to_owned(),
        b"<!DOCTYPE html><html><body>Sign in to the Wi-Fi</body></html>".to_vec(),
    );
    let store = BlobStore::start(files).await;
    let out = tempfile::tempdir().unwrap();
    let tileset = TilesetUrl::from_root_href(&store.href()).unwrap();

    let err = downloader(out.path()).download(&tileset).await.unwrap_err();

    let DownloadError::Incomplete { failures, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0].path.as_str(), "sub/2/0/0.subtree");
    assert!(
        matches!(failures[0].error, FileError::Corrupt { .. }),
        "{failures:?}"
    );
    assert_eq!(store.count("sub/2/0/0.subtree"), 2, "fetched once more");
    assert!(!out.path().join("sub/2/0/0.subtree").exists());
    let manifest = Manifest::read(out.path()).unwrap().unwrap();
    assert!(!manifest.complete);
    assert!(manifest.files.iter().all(|f| f.path != "sub/2/0/0.subtree"));
}

/// A signing service whose fresh signature is the one the store accepts anyway: the store
/// refusing a request stands for a signature that expired in flight.
#[derive(Debug)]
struct SameSignature(String);

impl SignedUrlSource for SameSignature {
    fn current(&self) -> TilesetUrl {
        TilesetUrl::from_root_href(&self.0).unwrap()
    }

    fn refresh(&self) -> BoxFuture<'_, Result<TilesetUrl, RefreshError>> {
        Box::pin(async { Ok(TilesetUrl::from_root_href(&self.0)?) })
    }
}

#[tokio::test]
async fn a_subtree_refused_for_its_signature_is_fetched_again_and_still_read_as_a_subtree() {
    let store = BlobStore::start(implicit_fixture()).await;
    // The first request of a binary subtree, a JSON subtree and a subtree buffer is refused
    // as Azure refuses an expired signature.
    store.set_fault(|rel, previous| match rel {
        "sub/2/3/2.subtree" | "ext/trees/1/1/0/1.json" | "sub/2/3/2.bin" if previous == 0 => {
            Fault::Status(403, None)
        }
        _ => Fault::None,
    });
    let out = tempfile::tempdir().unwrap();

    let summary = downloader(out.path())
        .download_from(&SameSignature(store.href()))
        .await
        .unwrap();

    assert!(summary.resigns >= 1, "{summary:?}");
    let available = available(&store);
    assert_eq!(summary.files, available.len() as u64);
    // What the re-fetched subtrees name arrived: they were read in their context again.
    for rel in ["q/2/3/2.glb", "q/3/7/4.glb", "ext/o/1/1/0/1.glb"] {
        assert!(out.path().join(rel).is_file(), "{rel} missing");
    }
    for rel in &available {
        let on_disk = std::fs::read(out.path().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
        assert!(on_disk == store.file(rel).unwrap(), "{rel} differs");
    }
    assert!(Manifest::read(out.path()).unwrap().unwrap().complete);
}
