//! Every file a tileset names, wherever it names it: the glTF a 3D Tiles 1.0 tile embeds or
//! names by URI, composites, the files glTF and tileset extensions name, and files whose
//! bytes say what their names do not. What cannot be read is a failure that names it.

use std::collections::HashMap;

use mesh_export_test_support::blobs::BlobStore;
use mesh_export_test_support::files::{assert_byte_identical, files_under};
use mesh_export_test_support::glb::{b3dm_around, cmpt, glb, glb_of, i3dm_with, tile_format};
use serde_json::{Value, json};
use tiles3d_download::{DownloadError, FileError, MANIFEST_FILE, TilesetUrl};

use super::downloader;

pub(crate) fn json_bytes(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap()
}

/// A binary glTF naming `buffers` and one image.
pub(crate) fn glb_naming(buffers: &[&str], image: &str) -> Vec<u8> {
    let buffers: Vec<Value> = buffers
        .iter()
        .map(|u| json!({"uri": u, "byteLength": 4}))
        .collect();
    glb(&json!({"asset": {"version": "2.0"}, "buffers": buffers, "images": [{"uri": image}]}))
}

fn tileset_of(contents: &[&str], extra: Value) -> Vec<u8> {
    let children: Vec<Value> = contents
        .iter()
        .map(|uri| json!({"geometricError": 0, "content": {"uri": uri}}))
        .collect();
    let mut tileset = json!({
        "asset": {"version": "1.0"},
        "geometricError": 1,
        "root": {"geometricError": 1, "refine": "ADD", "children": children},
    });
    if let (Some(tileset), Some(extra)) = (tileset.as_object_mut(), extra.as_object()) {
        tileset.extend(extra.clone());
    }
    json_bytes(&tileset)
}

/// Downloads what `files` serve and asserts it completes with exactly those files, each
/// fetched once and byte-identical.
async fn assert_complete_with_exactly(files: HashMap<String, Vec<u8>>) {
    let store = BlobStore::start(files).await;
    let out = tempfile::tempdir().unwrap();
    let tileset = TilesetUrl::from_root_href(&store.href()).unwrap();

    let summary = downloader(out.path()).download(&tileset).await;

    let summary = summary.unwrap_or_else(|e| panic!("{e}"));
    assert_byte_identical(&store, out.path());
    let mut expected = store.paths();
    expected.push(MANIFEST_FILE.to_owned());
    expected.sort();
    assert_eq!(files_under(out.path()), expected, "exactly the files named");
    for rel in store.paths() {
        assert_eq!(store.count(&rel), 1, "{rel} fetched once");
    }
    assert_eq!(summary.files, store.paths().len() as u64);
}

#[tokio::test]
async fn the_glb_a_b3dm_embeds_has_its_buffers_and_images_fetched() {
    let mut files = HashMap::new();
    files.insert(
        "tileset.json".to_owned(),
        tileset_of(&["t/a.b3dm"], json!({})),
    );
    let embedded = glb_naming(&["a.bin"], "tex/a.png");
    files.insert("t/a.b3dm".to_owned(), b3dm_around(&embedded));
    files.insert("t/a.bin".to_owned(), vec![1; 4]);
    files.insert("t/tex/a.png".to_owned(), b"\x89PNG....".to_vec());
    assert_complete_with_exactly(files).await;
}

#[tokio::test]
async fn the_gltf_1_0_binary_an_early_b3dm_embeds_has_its_files_fetched() {
    let json = br#"{"buffers": {"binary_glTF": {"uri": "data:,"}, "ext": {"uri": "ext.bin"}},
        "images": {"img": {"uri": "tex.jpg"}}, "shaders": {"fs": {"uri": "fs.glsl"}}}"#;
    let mut gltf_1 = b"glTF".to_vec();
    gltf_1.extend_from_slice(&1u32.to_le_bytes());
    gltf_1.extend_from_slice(&((20 + json.len()) as u32).to_le_bytes());
    gltf_1.extend_from_slice(&(json.len() as u32).to_le_bytes());
    gltf_1.extend_from_slice(&0u32.to_le_bytes());
    gltf_1.extend_from_slice(json);
    let mut files = HashMap::new();
    files.insert(
        "tileset.json".to_owned(),
        tileset_of(&["early.b3dm"], json!({})),
    );
    files.insert("early.b3dm".to_owned(), b3dm_around(&gltf_1));
    for (path, byte) in [("ext.bin", 1), ("tex.jpg", 2), ("fs.glsl", 3)] {
        files.insert(path.to_owned(), vec![byte; 4]);
    }
    assert_complete_with_exactly(files).await;
}

#[tokio::test]
async fn an_i3dm_that_names_its_glb_by_a_padded_uri_has_it_fetched() {
    let mut files = HashMap::new();
    files.insert(
        "tileset.json".to_owned(),
        tileset_of(
            &["t/spaces.i3dm", "t/nuls.i3dm", "t/embedded.i3dm"],
            json!({}),
        ),
    );
    files.insert("t/spaces.i3dm".to_owned(), i3dm_with(b"Box.glb    ", false));
    files.insert(
        "t/nuls.i3dm".to_owned(),
        i3dm_with(b"m/Tree.glb\0\0\0\0\0\0", false),
    );
    let embedded = glb_naming(&["inst.bin"], "inst.png");
    files.insert("t/embedded.i3dm".to_owned(), i3dm_with(&embedded, true));
    files.insert("t/Box.glb".to_owned(), glb_naming(&["box.bin"], "box.png"));
    files.insert("t/box.bin".to_owned(), vec![2; 4]);
    files.insert("t/box.png".to_owned(), vec![3; 4]);
    files.insert("t/m/Tree.glb".to_owned(), glb_of(7, 64));
    files.insert("t/inst.bin".to_owned(), vec![4; 4]);
    files.insert("t/inst.png".to_owned(), vec![5; 4]);
    assert_complete_with_exactly(files).await;
}

#[tokio::test]
async fn a_composite_has_what_each_inner_tile_names_fetched_nested_too() {
    let mut files = HashMap::new();
    files.insert(
        "tileset.json".to_owned(),
        tileset_of(&["c.cmpt"], json!({})),
    );
    let inner = cmpt(&[
        i3dm_with(b"deep.glb", false),
        tile_format(b"pnts", &[0, 0, 0, 0], b""),
    ]);
    let outer = cmpt(&[b3dm_around(&glb_naming(&["b.bin"], "b.png")), inner]);
    files.insert("c.cmpt".to_owned(), outer);
    files.insert("b.bin".to_owned(), vec![1; 4]);
    files.insert("b.png".to_owned(), vec![2; 4]);
    files.insert("deep.glb".to_owned(), glb_of(3, 32));
    assert_complete_with_exactly(files).await;
}

#[tokio::test]
async fn metadata_schemas_named_by_extensions_are_fetched() {
    let mut files = HashMap::new();
    let metadata =
        json!({"extensions": {"3DTILES_metadata": {"schemaUri": "schema/tileset.json"}}});
    files.insert(
        "tileset.json".to_owned(),
        tileset_of(&["m/model.glb"], metadata),
    );
    let model = glb(&json!({
        "asset": {"version": "2.0"},
        "extensions": {
            "EXT_structural_metadata": {"schemaUri": "../schema/model.json"},
            "EXT_lights_ies": {"lights": [{"uri": "lamp.ies"}]},
        },
    }));
    files.insert("m/model.glb".to_owned(), model);
    files.insert(
        "schema/tileset.json".to_owned(),
        json_bytes(&json!({"id": "t"})),
    );
    files.insert(
        "schema/model.json".to_owned(),
        json_bytes(&json!({"id": "m"})),
    );
    files.insert("m/lamp.ies".to_owned(), b"IESNA:LM-63-2002".to_vec());
    assert_complete_with_exactly(files).await;
}

#[tokio::test]
async fn files_are_read_as_what_their_bytes_say_not_their_names() {
    let mut files = HashMap::new();
    files.insert(
        "tileset.json".to_owned(),
        tileset_of(
            &[
                "a/model.bin",
                "b/scene.dat",
                "c/tile",
                "d/child.tiles",
                "e/m.json",
            ],
            json!({}),
        ),
    );
    // A binary glTF, a glTF JSON, a b3dm, a tileset, and a binary glTF under a `.json` name.
    files.insert("a/model.bin".to_owned(), glb_naming(&["a.buf"], "a.img"));
    let gltf = json!({"asset": {"version": "2.0"}, "buffers": [{"uri": "scene.buf"}]});
    files.insert("b/scene.dat".to_owned(), json_bytes(&gltf));
    files.insert(
        "c/tile".to_owned(),
        b3dm_around(&glb_naming(&["c.buf"], "c.img")),
    );
    files.insert(
        "d/child.tiles".to_owned(),
        tileset_of(&["inner.glb"], json!({})),
    );
    files.insert("e/m.json".to_owned(), glb_naming(&["e.buf"], "e.img"));
    for (path, byte) in [
        ("a/a.buf", 1),
        ("a/a.img", 2),
        ("b/scene.buf", 3),
        ("c/c.buf", 4),
        ("c/c.img", 5),
        ("e/e.buf", 6),
        ("e/e.img", 7),
    ] {
        files.insert(path.to_owned(), vec![byte; 4]);
    }
    files.insert("d/inner.glb".to_owned(), glb_of(9, 16));
    assert_complete_with_exactly(files).await;
}

#[tokio::test]
async fn what_a_tile_names_that_cannot_be_read_is_a_failure_that_names_it() {
    let mut files = HashMap::new();
    files.insert(
        "tileset.json".to_owned(),
        tileset_of(
            &["old.b3dm", "odd.i3dm", "orphan.subtree", "ok.glb"],
            json!({}),
        ),
    );
    // A b3dm whose tables would run past its end: where its glTF is cannot be known.
    let glb = glb_naming(&["old.bin"], "old.png");
    files.insert(
        "old.b3dm".to_owned(),
        tile_format(b"b3dm", &[0, 1 << 20, 0, 0], &glb),
    );
    let mut odd = i3dm_with(b"x.glb", false);
    odd[28..32].copy_from_slice(&7u32.to_le_bytes());
    files.insert("odd.i3dm".to_owned(), odd);
    // A binary subtree named as content: no implicit tiling says how to read it.
    let mut subtree = b"subt".to_vec();
    subtree.extend_from_slice(&[1, 0, 0, 0]);
    subtree.extend_from_slice(&[0; 16]);
    files.insert("orphan.subtree".to_owned(), subtree);
    files.insert("ok.glb".to_owned(), glb_of(1, 16));
    let store = BlobStore::start(files).await;
    let out = tempfile::tempdir().unwrap();
    let tileset = TilesetUrl::from_root_href(&store.href()).unwrap();

    let err = downloader(out.path()).download(&tileset).await.unwrap_err();

    let DownloadError::Incomplete { failures, summary } = &err else {
        panic!("{err}")
    };
    let mut failed: Vec<_> = failures.iter().map(|f| f.path.to_string()).collect();
    failed.sort();
    assert_eq!(failed, ["odd.i3dm", "old.b3dm", "orphan.subtree"], "{err}");
    for failure in failures {
        assert!(
            matches!(
                failure.error,
                FileError::Unsupported { .. } | FileError::Uninterpretable(_)
            ),
            "{}: {}",
            failure.path,
            failure.error
        );
    }
    let reasons: Vec<String> = failures.iter().map(|f| f.error.to_string()).collect();
    assert!(reasons.iter().any(|r| r.contains("tables")), "{reasons:?}");
    assert!(
        reasons.iter().any(|r| r.contains("gltfFormat 7")),
        "{reasons:?}"
    );
    assert!(reasons.iter().any(|r| r.contains("subtree")), "{reasons:?}");
    assert_eq!(summary.files, 5, "every file that arrived is kept");
    assert_eq!(store.count("old.bin"), 0);
}

#[tokio::test]
async fn a_second_run_follows_what_files_kept_on_disk_name_by_their_bytes() {
    let mut files = HashMap::new();
    files.insert(
        "tileset.json".to_owned(),
        tileset_of(&["t/a.b3dm", "t/m.bin"], json!({})),
    );
    files.insert(
        "t/a.b3dm".to_owned(),
        b3dm_around(&glb_naming(&["a.buf"], "a.img")),
    );
    files.insert("t/m.bin".to_owned(), glb_naming(&["m.buf"], "m.img"));
    for (path, byte) in [
        ("t/a.buf", 1),
        ("t/a.img", 2),
        ("t/m.buf", 3),
        ("t/m.img", 4),
    ] {
        files.insert(path.to_owned(), vec![byte; 4]);
    }
    let store = BlobStore::start(files).await;
    let out = tempfile::tempdir().unwrap();
    let tileset = TilesetUrl::from_root_href(&store.href()).unwrap();
    downloader(out.path()).download(&tileset).await.unwrap();
    // Only the files the kept tile and glb name are gone: the second run learns of them
    // from those two files on disk, which it does not fetch again.
    std::fs::remove_file(out.path().join("t/a.buf")).unwrap();
    std::fs::remove_file(out.path().join("t/m.img")).unwrap();

    let summary = downloader(out.path()).download(&tileset).await.unwrap();

    assert_eq!(summary.downloaded_files, 2, "{summary:?}");
    assert_eq!(store.count("t/a.b3dm"), 1);
    assert_eq!(store.count("t/m.bin"), 1);
    assert_eq!(store.count("t/a.buf"), 2);
    assert_eq!(store.count("t/m.img"), 2);
    assert_byte_identical(&store, out.path());
}
