//! The signed blob container: signatures, range requests, and a walk of the whole tileset.

use std::collections::VecDeque;
use std::time::Duration;

use mesh_export_emulator::{Emulator, dump_tileset};
use serde_json::Value;

use mesh_export_test_support::emulator::{Api, http, quick};

fn with_query(root: &str, path: &str, query: &str) -> String {
    format!("{root}/{path}?{query}")
}

/// Checks the binary glTF container: header, chunk types, lengths and alignment.
fn check_glb(bytes: &[u8]) -> Value {
    let word = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
    assert_eq!(&bytes[..4], b"glTF");
    assert_eq!(word(4), 2, "glTF version");
    assert_eq!(word(8), bytes.len(), "declared length");
    let json_len = word(12);
    assert_eq!(&bytes[16..20], b"JSON");
    assert_eq!(json_len % 4, 0);
    let gltf: Value = serde_json::from_slice(&bytes[20..20 + json_len]).unwrap();
    let bin_at = 20 + json_len;
    let bin_len = word(bin_at);
    assert_eq!(&bytes[bin_at + 4..bin_at + 8], b"BIN\0");
    assert_eq!(bin_len % 4, 0);
    assert_eq!(bin_at + 8 + bin_len, bytes.len());
    assert_eq!(gltf["asset"]["version"], "2.0");
    assert!(gltf["buffers"][0]["byteLength"].as_u64().unwrap() as usize <= bin_len);
    let position = &gltf["accessors"][gltf["meshes"][0]["primitives"][0]["attributes"]["POSITION"]
        .as_u64()
        .unwrap() as usize];
    assert!(position["min"].is_array() && position["max"].is_array());
    gltf
}

/// Depth of the deepest tile below `tile` (a leaf is 0).
fn depth(tile: &Value) -> usize {
    tile["children"]
        .as_array()
        .map(|children| 1 + children.iter().map(depth).max().unwrap_or(0))
        .unwrap_or(0)
}

fn content_uris(tile: &Value, out: &mut Vec<String>) {
    if let Some(uri) = tile["content"]["uri"].as_str() {
        out.push(uri.to_owned());
    }
    for child in tile["children"].as_array().into_iter().flatten() {
        content_uris(child, out);
    }
}

#[tokio::test]
async fn every_uri_of_the_tileset_is_fetchable_through_the_signed_link() {
    let emulator = quick().tiles(9).tile_bytes(4096).start().await.unwrap();
    let api = Api::new(&emulator).await;
    let id = api.start("tiled").await;
    let (root, query) = api.mesh(&id).await;
    assert!(root.starts_with(&emulator.base_url()));

    let client = http();
    let mut queue = VecDeque::from(["tileset.json".to_owned()]);
    let (mut tilesets, mut glbs, mut max_depth) = (0, 0, 0);
    while let Some(path) = queue.pop_front() {
        let response = client
            .get(with_query(&root, &path, &query))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let headers = response.headers().clone();
        assert_eq!(headers["accept-ranges"], "bytes");
        let bytes = response.bytes().await.unwrap();
        assert_eq!(headers["content-length"], bytes.len().to_string().as_str());
        if path.ends_with(".json") {
            assert_eq!(headers["content-type"], "application/json");
            tilesets += 1;
            let tileset: Value = serde_json::from_slice(&bytes).unwrap();
            let version = tileset["asset"]["version"].as_str().unwrap();
            assert!(version == "1.1" || version == "1.0");
            assert!(tileset["geometricError"].is_number());
            assert_eq!(
                tileset["root"]["boundingVolume"]["box"]
                    .as_array()
                    .unwrap()
                    .len(),
                12
            );
            max_depth = max_depth.max(depth(&tileset["root"]));
            let base = path
                .rsplit_once('/')
                .map(|(dir, _)| format!("{dir}/"))
                .unwrap_or_default();
            let mut uris = Vec::new();
            content_uris(&tileset["root"], &mut uris);
            queue.extend(uris.into_iter().map(|uri| format!("{base}{uri}")));
        } else {
            assert!(path.ends_with(".glb"), "{path}");
            assert_eq!(headers["content-type"], "model/gltf-binary");
            assert_eq!(bytes.len(), 4096);
            check_glb(&bytes);
            glbs += 1;
        }
    }
    assert!(tilesets >= 2, "no external tileset");
    assert_eq!(glbs, 9);
    assert!(max_depth >= 2, "tiles nest {max_depth} levels");
}

#[tokio::test]
async fn blobs_need_a_valid_unexpired_signature() {
    let emulator = quick().start().await.unwrap();
    let api = Api::new(&emulator).await;
    let id = api.start("m").await;
    let (root, query) = api.mesh(&id).await;
    let client = http();
    let status = |url: String| {
        let request = client.get(url);
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let body = response.text().await.unwrap();
            (status, body)
        }
    };
    assert_eq!(
        status(with_query(&root, "tileset.json", &query)).await.0,
        200
    );
    let (code, body) = status(format!("{root}/tileset.json")).await;
    assert_eq!(code, 403);
    assert!(body.contains("AuthenticationFailed"));
    let tampered = query.replace("sig=", "sig=0");
    assert_eq!(
        status(with_query(&root, "tileset.json", &tampered)).await.0,
        403
    );
    let later = query.replace("se=", "se=2");
    assert_eq!(
        status(with_query(&root, "tileset.json", &later)).await.0,
        403
    );
    // A link of one export does not open another.
    let other = api.start("n").await;
    let (other_root, _) = api.mesh(&other).await;
    assert_eq!(
        status(with_query(&other_root, "tileset.json", &query))
            .await
            .0,
        403
    );
    // A valid link to a file that does not exist.
    let (code, body) = status(with_query(&root, "tiles/9999.glb", &query)).await;
    assert_eq!(code, 404);
    assert!(body.contains("BlobNotFound"));
    // Once the export is deleted its container is gone.
    assert_eq!(api.delete(&id).send().await.unwrap().status(), 204);
    assert_eq!(
        status(with_query(&root, "tileset.json", &query)).await.0,
        404
    );
}

#[tokio::test]
async fn expired_links_are_refused() {
    let emulator = quick().sas_ttl(Duration::ZERO).start().await.unwrap();
    let api = Api::new(&emulator).await;
    let id = api.start("m").await;
    let (root, query) = api.mesh(&id).await;
    let response = http()
        .get(with_query(&root, "tileset.json", &query))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert!(response.text().await.unwrap().contains("expiry"));
}

#[tokio::test]
async fn single_byte_ranges_are_served_partially() {
    let emulator = quick().start().await.unwrap();
    let api = Api::new(&emulator).await;
    let id = api.start("m").await;
    let (root, query) = api.mesh(&id).await;
    let url = with_query(&root, "tiles/0.glb", &query);
    let client = http();
    let full = client
        .get(&url)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let len = full.len();
    for (range, first, last) in [
        ("bytes=0-11".to_owned(), 0, 11),
        (format!("bytes={}-", len - 5), len - 5, len - 1),
        ("bytes=-8".to_owned(), len - 8, len - 1),
        (format!("bytes=10-{}", len + 100), 10, len - 1),
    ] {
        let response = client
            .get(&url)
            .header("Range", &range)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 206, "{range}");
        assert_eq!(
            response.headers()["content-range"],
            format!("bytes {first}-{last}/{len}").as_str()
        );
        let part = response.bytes().await.unwrap();
        assert_eq!(&part[..], &full[first..=last], "{range}");
    }
    let response = client
        .get(&url)
        .header("Range", format!("bytes={len}-"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 416);
    assert_eq!(
        response.headers()["content-range"],
        format!("bytes */{len}").as_str()
    );
}

#[tokio::test]
async fn content_is_deterministic_per_export_and_seed() {
    let emulator = quick()
        .seed(11)
        .tiles(4)
        .tile_bytes(2048)
        .start()
        .await
        .unwrap();
    let api = Api::new(&emulator).await;
    let id = api.start("m").await;
    let (root, query) = api.mesh(&id).await;
    let client = http();
    let fetch = |path: &str| client.get(with_query(&root, path, &query)).send();
    let first = fetch("tiles/1.glb").await.unwrap().bytes().await.unwrap();
    let again = fetch("tiles/1.glb").await.unwrap().bytes().await.unwrap();
    assert_eq!(first, again);

    // What is served is what `dump_tileset` writes for the same export id and settings.
    let dir = tempfile::tempdir().unwrap();
    let files = dump_tileset(emulator.config(), &id, dir.path()).unwrap();
    assert_eq!(files, 6);
    assert_eq!(
        std::fs::read(dir.path().join("tiles/1.glb")).unwrap(),
        first.to_vec()
    );
    let tileset = fetch("tileset.json").await.unwrap().bytes().await.unwrap();
    assert_eq!(
        std::fs::read(dir.path().join("tileset.json")).unwrap(),
        tileset.to_vec()
    );

    // Another seed gives other tiles.
    let other = Emulator::builder()
        .seed(12)
        .tiles(4)
        .tile_bytes(2048)
        .config()
        .clone();
    let other_dir = tempfile::tempdir().unwrap();
    dump_tileset(&other, &id, other_dir.path()).unwrap();
    assert_ne!(
        std::fs::read(other_dir.path().join("tiles/1.glb")).unwrap(),
        first.to_vec()
    );
}
