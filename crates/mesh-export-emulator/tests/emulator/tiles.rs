//! The signed blob container: signatures, range requests, and a walk of the whole tileset.

use std::collections::VecDeque;
use std::time::Duration;

use mesh_export_emulator::{Emulator, ImplicitScheme, dump_tileset};
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

#[tokio::test]
async fn an_implicit_export_serves_exactly_its_available_files() {
    for scheme in [ImplicitScheme::Quadtree, ImplicitScheme::Octree] {
        let emulator = quick()
            .implicit(scheme)
            .tile_bytes(1024)
            .start()
            .await
            .unwrap();
        let api = Api::new(&emulator).await;
        let id = api.start("implicit").await;
        let (root, query) = api.mesh(&id).await;
        let client = http();
        let fetch = |path: String| client.get(with_query(&root, &path, &query)).send();

        let tileset: Value = fetch("tileset.json".into())
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let implicit = &tileset["root"]["implicitTiling"];
        let octree = scheme == ImplicitScheme::Octree;
        assert_eq!(
            implicit["subdivisionScheme"],
            if octree { "OCTREE" } else { "QUADTREE" }
        );
        assert_eq!(implicit["subtreeLevels"], 2);
        assert!(tileset["root"].get("children").is_none());

        // Everything dump_tileset writes is served, byte for byte.
        let dir = tempfile::tempdir().unwrap();
        let count = dump_tileset(emulator.config(), &id, dir.path()).unwrap();
        let mut listed = Vec::new();
        let mut pending = VecDeque::from([dir.path().to_path_buf()]);
        while let Some(at) = pending.pop_front() {
            for entry in std::fs::read_dir(at).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    pending.push_back(path);
                } else {
                    let rel = path.strip_prefix(dir.path()).unwrap();
                    listed.push(rel.to_string_lossy().replace('\\', "/"));
                }
            }
        }
        assert_eq!(listed.len(), count);
        for rel in &listed {
            let response = fetch(rel.clone()).await.unwrap();
            assert_eq!(response.status(), 200, "{rel}");
            let bytes = response.bytes().await.unwrap();
            assert_eq!(bytes, std::fs::read(dir.path().join(rel)).unwrap(), "{rel}");
            if rel.ends_with(".glb") {
                check_glb(&bytes);
            }
        }
        let subtrees: Vec<&String> = listed.iter().filter(|p| p.ends_with(".subtree")).collect();
        let deepest = subtrees
            .iter()
            .map(|p| p.split('/').nth(1).unwrap().parse::<u32>().unwrap())
            .max();
        assert_eq!(deepest, Some(4), "subtrees at levels 0, 2 and 4");

        // The root subtree: binary layout, an internal and an external buffer.
        let subtree = fetch(
            if octree {
                "subtrees/0/0/0/0.subtree"
            } else {
                "subtrees/0/0/0.subtree"
            }
            .into(),
        )
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
        assert_eq!(&subtree[..4], b"subt");
        assert_eq!(u32::from_le_bytes(subtree[4..8].try_into().unwrap()), 1);
        let json_length = u64::from_le_bytes(subtree[8..16].try_into().unwrap()) as usize;
        let json: Value = serde_json::from_slice(&subtree[24..24 + json_length]).unwrap();
        assert!(json["buffers"][0].get("uri").is_none());
        let external = json["buffers"][1]["uri"].as_str().unwrap();
        let external = format!("subtrees/0/0/{}{external}", if octree { "0/" } else { "" });
        assert!(listed.contains(&external), "{external}");
        let contents = json["contentAvailability"].as_array().unwrap().len();
        assert_eq!(contents, if octree { 2 } else { 1 });

        // Unavailable tiles are not there.
        let side = |level: u32| 1u64 << level;
        let missing = (0..side(3))
            .flat_map(|x| (0..side(3)).map(move |y| (x, y)))
            .map(|(x, y)| {
                if octree {
                    format!("content/3/{x}/{y}/0.glb")
                } else {
                    format!("content/3/{x}/{y}.glb")
                }
            })
            .find(|p| !listed.contains(p))
            .expect("a sparse level");
        assert_eq!(
            fetch(missing.clone()).await.unwrap().status(),
            404,
            "{missing}"
        );
        assert_eq!(fetch("tiles/0.glb".into()).await.unwrap().status(), 404);
    }
}

#[test]
fn the_binary_dumps_an_implicit_tileset_and_refuses_unknown_schemes() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mesh-export-emulator"))
        .args([
            "--implicit",
            "octree",
            "--tile-bytes",
            "1024",
            "--dump-tileset",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.path().join("subtrees/0/0/0/0.subtree").is_file());
    let expected = tempfile::tempdir().unwrap();
    let config = Emulator::builder()
        .implicit(ImplicitScheme::Octree)
        .tile_bytes(1024)
        .config()
        .clone();
    let count = dump_tileset(&config, "dump", expected.path()).unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(&format!("wrote {count} files")), "{stdout}");

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mesh-export-emulator"))
        .args(["--implicit", "hextree", "--dump-tileset"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("quadtree or octree"));
}
