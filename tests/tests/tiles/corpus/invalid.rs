//! Invalid tilesets: the download is incomplete, with a failure that names the bad file, and
//! what is valid beside it is kept.

use mesh_export_test_support::glb::{b3dm_around, glb_of, i3dm_with};
use serde_json::json;
use tiles3d_download::DownloadError;

use super::{Files, serve, tile, tileset};

/// A tileset naming `bad` and a valid `good.glb`, with `bad` served as `bytes`.
fn naming(bad: &str, bytes: Vec<u8>) -> Files {
    let root = tile(&[], vec![tile(&[bad], vec![]), tile(&["good.glb"], vec![])]);
    [
        ("tileset.json".to_owned(), tileset("1.0", root, json!({}))),
        ("good.glb".to_owned(), glb_of(1, 32)),
        (bad.to_owned(), bytes),
    ]
    .into_iter()
    .collect()
}

fn b3dm_of_version_2() -> Vec<u8> {
    let mut tile = b3dm_around(&glb_of(2, 32));
    tile[4..8].copy_from_slice(&2u32.to_le_bytes());
    tile
}

fn truncated_glb() -> Vec<u8> {
    let mut whole = glb_of(3, 256);
    whole.truncate(100);
    whole
}

fn unknown_gltf_format() -> Vec<u8> {
    let mut tile = i3dm_with(b"model.glb", false);
    // The header's last field, after magic, version, length and four table lengths.
    tile[28..32].copy_from_slice(&7u32.to_le_bytes());
    tile
}

#[tokio::test]
async fn every_invalid_tileset_of_the_corpus_fails_naming_the_bad_file() {
    let cases = [
        (
            "a b3dm with a wrong version",
            "t/v2.b3dm",
            b3dm_of_version_2(),
        ),
        ("a truncated glb", "t/cut.glb", truncated_glb()),
        (
            "a tileset that is not JSON",
            "ext/tileset.json",
            b"{\"asset\": not json".to_vec(),
        ),
        ("an unknown gltfFormat", "t/odd.i3dm", unknown_gltf_format()),
        (
            "a child tileset without a root tile",
            "ext/tileset.json",
            br#"{"asset":{"version":"1.1"},"geometricError":100}"#.to_vec(),
        ),
        (
            "an error object served as a child tileset",
            "ext/gone.json",
            br#"{"code":"BlobNotFound","message":"gone"}"#.to_vec(),
        ),
    ];
    for (name, bad, bytes) in cases {
        let unnamed: Files = [("t/unnamed.glb".to_owned(), glb_of(9, 16))].into();
        let (store, url) = serve(&naming(bad, bytes), &unnamed).await;
        let out = tempfile::tempdir().unwrap();

        let err = crate::download::downloader(out.path())
            .download(&url)
            .await
            .unwrap_err();

        let DownloadError::Incomplete { failures, summary } = &err else {
            panic!("{name}: {err}")
        };
        let failed: Vec<String> = failures.iter().map(|f| f.path.to_string()).collect();
        assert_eq!(failed, [bad], "{name}: {err}");
        assert!(err.to_string().contains(bad), "{name}: {err}");
        assert!(
            summary.files >= 2,
            "{name}: the tileset and good.glb are kept"
        );
        assert!(out.path().join("tileset.json").is_file(), "{name}");
        assert!(out.path().join("good.glb").is_file(), "{name}");
        assert_eq!(store.count("t/unnamed.glb"), 0, "{name}");
    }
}
