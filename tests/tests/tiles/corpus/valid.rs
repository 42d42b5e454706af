//! Valid tilesets: exactly the files each names are fetched, byte-identical, and the download
//! is complete.

use std::collections::BTreeSet;

use mesh_export_test_support::files::files_under;
use mesh_export_test_support::glb::{b3dm_around, b3dm_of, cmpt, glb, glb_of, i3dm_with};
use serde_json::json;
use tiles3d_download::MANIFEST_FILE;

use super::{Files, fetched, serve, tile, tileset};
use crate::download::named::{glb_naming, json_bytes};
use crate::implicit::{binary_subtree, bits};

/// One tileset of the corpus: the files it names, and files beside them it does not.
struct Case {
    name: &'static str,
    named: Files,
    unnamed: Files,
}

fn files(entries: Vec<(&str, Vec<u8>)>) -> Files {
    entries
        .into_iter()
        .map(|(path, bytes)| (path.to_owned(), bytes))
        .collect()
}

/// Files no tileset of the corpus names, with names a careless walk might guess.
fn decoys(beside: &[&str]) -> Files {
    let mut out = files(vec![
        ("unreferenced.glb", glb_of(90, 32)),
        (
            "extra/tileset.json",
            tileset("1.1", tile(&["x.glb"], vec![]), json!({})),
        ),
        ("extra/x.glb", glb_of(91, 32)),
    ]);
    for (i, path) in beside.iter().enumerate() {
        out.insert((*path).to_owned(), glb_of(100 + i as u32, 16));
    }
    out
}

fn explicit_1_0() -> Case {
    let root = tile(
        &["root.b3dm"],
        vec![
            tile(&["a/0.b3dm"], vec![tile(&["a/1.b3dm"], vec![])]),
            tile(&[], vec![tile(&["b.b3dm"], vec![])]),
        ],
    );
    Case {
        name: "explicit 1.0 with children",
        named: files(vec![
            ("tileset.json", tileset("1.0", root, json!({}))),
            ("root.b3dm", b3dm_of(1, 64)),
            ("a/0.b3dm", b3dm_of(2, 64)),
            ("a/1.b3dm", b3dm_of(3, 64)),
            ("b.b3dm", b3dm_of(4, 64)),
        ]),
        unnamed: decoys(&["a/2.b3dm", "c.b3dm"]),
    }
}

fn explicit_1_1_contents() -> Case {
    let root = tile(
        &["r/a.glb", "r/b.glb"],
        vec![tile(&["c/0.glb", "c/1.glb", "c/2.glb"], vec![])],
    );
    Case {
        name: "explicit 1.1 with several contents and children",
        named: files(vec![
            ("tileset.json", tileset("1.1", root, json!({}))),
            ("r/a.glb", glb_of(1, 32)),
            ("r/b.glb", glb_of(2, 32)),
            ("c/0.glb", glb_of(3, 32)),
            ("c/1.glb", glb_of(4, 32)),
            ("c/2.glb", glb_of(5, 32)),
        ]),
        unnamed: decoys(&["c/3.glb", "r/c.glb"]),
    }
}

fn external_tilesets() -> Case {
    let outer = tile(&["ext/tileset.json"], vec![tile(&["top.glb"], vec![])]);
    let inner = tile(&["in.glb"], vec![tile(&["deeper/tileset.json"], vec![])]);
    Case {
        name: "external tilesets, nested",
        named: files(vec![
            ("tileset.json", tileset("1.0", outer, json!({}))),
            ("top.glb", glb_of(1, 32)),
            ("ext/tileset.json", tileset("1.0", inner, json!({}))),
            ("ext/in.glb", glb_of(2, 32)),
            (
                "ext/deeper/tileset.json",
                tileset("1.1", tile(&["../../last.glb"], vec![]), json!({})),
            ),
            ("last.glb", glb_of(3, 32)),
        ]),
        unnamed: decoys(&["ext/out.glb", "ext/deeper/last.glb"]),
    }
}

fn gltf_with_external_files() -> Case {
    let gltf = json!({
        "asset": {"version": "2.0"},
        "buffers": [{"uri": "m.bin", "byteLength": 4}, {"uri": "data:,", "byteLength": 0}],
        "images": [{"uri": "tex/m.png"}, {"uri": "../shared/n.jpg"}],
    });
    Case {
        name: "glTF and GLB with external buffers and images",
        named: files(vec![
            (
                "tileset.json",
                tileset("1.1", tile(&["g/m.gltf", "g/b.glb"], vec![]), json!({})),
            ),
            ("g/m.gltf", json_bytes(&gltf)),
            ("g/m.bin", vec![1; 4]),
            ("g/tex/m.png", b"\x89PNG\r\n\x1a\n".to_vec()),
            ("shared/n.jpg", vec![0xff, 0xd8, 0xff, 0xe0]),
            ("g/b.glb", glb_naming(&["b.bin"], "b.png")),
            ("g/b.bin", vec![2; 4]),
            ("g/b.png", vec![3; 4]),
        ]),
        unnamed: decoys(&["g/m.glb", "g/tex/b.png"]),
    }
}

fn tile_formats_1_0() -> Case {
    let composite = cmpt(&[
        b3dm_around(&glb_naming(&["cb.bin"], "cb.png")),
        cmpt(&[i3dm_with(b"inner.glb\0\0\0", false)]),
    ]);
    let contents = ["t/a.b3dm", "t/e.i3dm", "t/u.i3dm", "t/c.cmpt"];
    Case {
        name: "b3dm, i3dm (both gltfFormats) and cmpt naming files",
        named: files(vec![
            (
                "tileset.json",
                tileset(
                    "1.0",
                    tile(&[], contents.iter().map(|c| tile(&[c], vec![])).collect()),
                    json!({}),
                ),
            ),
            (
                "t/a.b3dm",
                b3dm_around(&glb_naming(&["a.bin"], "tex/a.png")),
            ),
            ("t/a.bin", vec![1; 4]),
            ("t/tex/a.png", vec![2; 4]),
            (
                "t/e.i3dm",
                i3dm_with(&glb_naming(&["e.bin"], "e.png"), true),
            ),
            ("t/e.bin", vec![3; 4]),
            ("t/e.png", vec![4; 4]),
            ("t/u.i3dm", i3dm_with(b"m/Box.glb   ", false)),
            ("t/m/Box.glb", glb_naming(&["box.bin"], "box.png")),
            ("t/m/box.bin", vec![5; 4]),
            ("t/m/box.png", vec![6; 4]),
            ("t/c.cmpt", composite),
            ("t/cb.bin", vec![7; 4]),
            ("t/cb.png", vec![8; 4]),
            ("t/inner.glb", glb_of(9, 32)),
        ]),
        unnamed: decoys(&["t/Box.glb", "t/a.glb"]),
    }
}

fn metadata_schemas() -> Case {
    let with_schema = glb(&json!({
        "asset": {"version": "2.0"},
        "extensions": {"EXT_structural_metadata": {"schemaUri": "../schemas/model.json"}},
    }));
    let old = tileset(
        "1.0",
        tile(&["m/model.glb"], vec![]),
        json!({"extensions": {"3DTILES_metadata": {"schemaUri": "schemas/old.json"}}}),
    );
    let new = tileset(
        "1.1",
        tile(&[], vec![]),
        json!({"schemaUri": "../schemas/new.json"}),
    );
    let root = tile(
        &[],
        vec![
            tile(&["old/tileset.json"], vec![]),
            tile(&["new/tileset.json"], vec![]),
        ],
    );
    Case {
        name: "EXT_structural_metadata, 3DTILES_metadata and 1.1 schemaUri",
        named: files(vec![
            ("tileset.json", tileset("1.1", root, json!({}))),
            ("old/tileset.json", old),
            ("old/m/model.glb", with_schema),
            (
                "old/schemas/model.json",
                json_bytes(&json!({"id": "model"})),
            ),
            ("old/schemas/old.json", json_bytes(&json!({"id": "old"}))),
            ("new/tileset.json", new),
            ("schemas/new.json", json_bytes(&json!({"id": "new"}))),
        ]),
        unnamed: decoys(&["schemas/old.json", "new/schemas/new.json"]),
    }
}

fn read_by_their_bytes() -> Case {
    let gltf = json!({"asset": {"version": "2.0"}, "buffers": [{"uri": "d.buf", "byteLength": 4}]});
    let mut with_bom = b"\xEF\xBB\xBF".to_vec();
    with_bom.extend(tileset("1.0", tile(&["in.glb"], vec![]), json!({})));
    let contents = ["a/model.bin", "b/scene.dat", "c/m.json", "d/child.tiles"];
    let root = tile(&[], contents.iter().map(|c| tile(&[c], vec![])).collect());
    Case {
        name: "files read as their bytes say, and a tileset with a byte order mark",
        named: files(vec![
            ("tileset.json", tileset("1.0", root, json!({}))),
            ("a/model.bin", glb_naming(&["a.buf"], "a.img")),
            ("a/a.buf", vec![1; 4]),
            ("a/a.img", vec![2; 4]),
            ("b/scene.dat", json_bytes(&gltf)),
            ("b/d.buf", vec![3; 4]),
            ("c/m.json", glb_naming(&["c.buf"], "c.img")),
            ("c/c.buf", vec![4; 4]),
            ("c/c.img", vec![5; 4]),
            ("d/child.tiles", with_bom),
            ("d/in.glb", glb_of(6, 32)),
        ]),
        unnamed: decoys(&["a/model.glb", "d/tileset.json"]),
    }
}

/// `3DTILES_content_conditional`: a tile's content is a JSON file listing the contents a client
/// chooses from, each fetched; so is `dynamicContents` of its earlier draft, `3DTILES_dynamic`.
fn conditional_contents() -> Case {
    let dimensions = json!({"extensions": {"3DTILES_content_conditional": {"dimensions": [
        {"name": "revision", "keySet": ["r0", "r1"]}
    ]}}});
    let root = tile(
        &[],
        vec![
            tile(&["c/content.json"], vec![]),
            tile(&["d/dynamic.json"], vec![]),
        ],
    );
    let conditional = json!({"conditionalContents": [
        {"uri": "r0.glb", "keys": {"revision": "r0"}},
        {"uri": "../r1/m.b3dm", "keys": {"revision": "r1"}},
    ]});
    let dynamic = json!({"dynamicContents": [{"uri": "t.glb", "keys": {"revision": "r0"}}]});
    Case {
        name: "3DTILES_content_conditional and 3DTILES_dynamic contents",
        named: files(vec![
            ("tileset.json", tileset("1.1", root, dimensions)),
            ("c/content.json", json_bytes(&conditional)),
            ("c/r0.glb", glb_of(1, 32)),
            ("r1/m.b3dm", b3dm_of(2, 64)),
            ("d/dynamic.json", json_bytes(&dynamic)),
            ("d/t.glb", glb_of(3, 32)),
        ]),
        unnamed: decoys(&["c/r1.glb", "d/dynamic.glb"]),
    }
}

/// Files the extension survey found named where nothing was read before: a draft tileset
/// extension's buffers, a content's feature metadata, a glTF's external models and media.
fn surveyed_extensions() -> Case {
    let buffers = json!({"extensions": {"3DTILES_binary_buffers": {
        "buffers": [{"uri": "meta/a.bin", "byteLength": 4}],
        "bufferViews": [{"buffer": 0, "byteLength": 4}],
    }}});
    let mut with_metadata = tile(&["t.b3dm"], vec![tile(&["m/scene.gltf"], vec![])]);
    with_metadata["content"]["extensions"] =
        json!({"3DTILES_feature_metadata": {"uri": "t.metadata.json"}});
    let scene = json!({
        "asset": {"version": "2.0"},
        "models": [{"uri": "door.glb"}],
        "extensions": {"MPEG_media": {"media": [{"autoplay": true, "alternatives": [
            {"uri": "video/a.mp4", "mimeType": "video/mp4"},
        ]}]}},
    });
    Case {
        name: "3DTILES_binary_buffers, 3DTILES_feature_metadata, FRAUNHOFER_external_model, MPEG_media",
        named: files(vec![
            ("tileset.json", tileset("1.0", with_metadata, buffers)),
            ("meta/a.bin", vec![1; 4]),
            ("t.b3dm", b3dm_of(1, 64)),
            ("t.metadata.json", json_bytes(&json!({"featureTables": {}}))),
            ("m/scene.gltf", json_bytes(&scene)),
            ("m/door.glb", glb_of(2, 32)),
            ("m/video/a.mp4", vec![3; 16]),
        ]),
        unnamed: decoys(&["a.bin", "m/a.mp4"]),
    }
}

fn implicit_quadtree() -> Case {
    let mut root = tile(&["q/{level}/{x}/{y}.glb"], vec![]);
    root["implicitTiling"] = json!({
        "subdivisionScheme": "QUADTREE",
        "subtreeLevels": 1,
        "availableLevels": 2,
        "subtrees": {"uri": "sub/{level}/{x}/{y}.subtree"},
    });
    // The root subtree has child subtrees at (1,0,0) and (1,1,1) only.
    let top = binary_subtree(
        &json!({
            "buffers": [{"byteLength": 1}],
            "bufferViews": [{"buffer": 0, "byteOffset": 0, "byteLength": 1}],
            "tileAvailability": {"constant": 1},
            "contentAvailability": [{"constant": 1}],
            "childSubtreeAvailability": {"bitstream": 0},
        }),
        &bits(4, &[0, 3]),
    );
    let leaf = binary_subtree(
        &json!({
            "tileAvailability": {"constant": 1},
            "contentAvailability": [{"constant": 1}],
            "childSubtreeAvailability": {"constant": 0},
        }),
        &[],
    );
    Case {
        name: "implicit quadtree with subtrees",
        named: files(vec![
            ("tileset.json", tileset("1.1", root, json!({}))),
            ("sub/0/0/0.subtree", top),
            ("sub/1/0/0.subtree", leaf.clone()),
            ("sub/1/1/1.subtree", leaf),
            ("q/0/0/0.glb", glb_of(1, 32)),
            ("q/1/0/0.glb", glb_of(2, 32)),
            ("q/1/1/1.glb", glb_of(3, 32)),
        ]),
        unnamed: decoys(&["q/1/1/0.glb", "sub/1/0/1.subtree", "q/2/0/0.glb"]),
    }
}

#[tokio::test]
async fn every_valid_tileset_of_the_corpus_is_fetched_exactly_and_byte_identical() {
    let cases = [
        explicit_1_0(),
        explicit_1_1_contents(),
        external_tilesets(),
        gltf_with_external_files(),
        tile_formats_1_0(),
        metadata_schemas(),
        read_by_their_bytes(),
        implicit_quadtree(),
        conditional_contents(),
        surveyed_extensions(),
    ];
    for case in cases {
        let (store, url) = serve(&case.named, &case.unnamed).await;
        let out = tempfile::tempdir().unwrap();

        let summary = crate::download::downloader(out.path())
            .download(&url)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", case.name));

        let name = case.name;
        let named: BTreeSet<String> = case.named.keys().cloned().collect();
        assert_eq!(fetched(&store), named, "{name}: exactly the files named");
        for (path, bytes) in &case.named {
            let on_disk = std::fs::read(out.path().join(path)).unwrap();
            assert!(on_disk == *bytes, "{name}: {path} differs");
            assert_eq!(store.count(path), 1, "{name}: {path} fetched once");
        }
        let mut written = named.clone();
        written.insert(MANIFEST_FILE.to_owned());
        let on_disk: BTreeSet<String> = files_under(out.path()).into_iter().collect();
        assert_eq!(on_disk, written, "{name}: nothing else written");
        assert_eq!(summary.files, named.len() as u64, "{name}");
        assert_eq!(summary.downloaded_files, named.len() as u64, "{name}");
    }
}
