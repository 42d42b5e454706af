//! Reading 3D Tiles 1.0 binary tiles: the files their embedded or referenced glTF names.

use serde_json::json;

use crate::TilePath;
use crate::walk::{FileKind, WalkError, read, references};

/// A binary glTF whose JSON chunk is `json`, padded with spaces.
fn glb(json: &serde_json::Value) -> Vec<u8> {
    let mut text = serde_json::to_vec(json).unwrap();
    while !text.len().is_multiple_of(4) {
        text.push(b' ');
    }
    let mut out = b"glTF".to_vec();
    out.extend_from_slice(&2u32.to_le_bytes());
    out.extend_from_slice(&((20 + text.len()) as u32).to_le_bytes());
    out.extend_from_slice(&(text.len() as u32).to_le_bytes());
    out.extend_from_slice(b"JSON");
    out.extend_from_slice(&text);
    out
}

fn naming(uris: &[&str]) -> Vec<u8> {
    let buffers: Vec<_> = uris
        .iter()
        .map(|u| json!({"uri": u, "byteLength": 4}))
        .collect();
    glb(&json!({"asset": {"version": "2.0"}, "buffers": buffers, "images": [{"uri": "t.png"}]}))
}

/// A tile of `magic` with a header of `fields` after magic, version and length, then `body`.
fn tile(magic: &[u8; 4], fields: &[u32], body: &[u8]) -> Vec<u8> {
    let mut out = magic.to_vec();
    out.extend_from_slice(&1u32.to_le_bytes());
    let length = 12 + 4 * fields.len() + body.len();
    out.extend_from_slice(&(length as u32).to_le_bytes());
    for field in fields {
        out.extend_from_slice(&field.to_le_bytes());
    }
    out.extend_from_slice(body);
    out
}

/// A `b3dm` with a feature table JSON of `table` (padded) before its glTF.
fn b3dm(table: &str, glb: &[u8]) -> Vec<u8> {
    let mut table = table.as_bytes().to_vec();
    while !(28 + table.len()).is_multiple_of(8) {
        table.push(b' ');
    }
    let mut body = table.clone();
    body.extend_from_slice(glb);
    tile(b"b3dm", &[table.len() as u32, 0, 0, 0], &body)
}

fn i3dm(format: u32, gltf: &[u8]) -> Vec<u8> {
    let table = br#"{"INSTANCES_LENGTH":1,"POSITION":{"byteOffset":0}}     "#;
    let mut body = table.to_vec();
    body.extend_from_slice(&[0; 12]);
    body.extend_from_slice(gltf);
    tile(b"i3dm", &[table.len() as u32, 12, 0, 0, format], &body)
}

fn cmpt(inner: &[Vec<u8>]) -> Vec<u8> {
    tile(b"cmpt", &[inner.len() as u32], &inner.concat())
}

fn uris(bytes: &[u8]) -> Result<Vec<String>, WalkError> {
    references(FileKind::Tile, bytes)
}

#[test]
fn a_b3dm_names_what_its_embedded_glb_names() {
    let tile = b3dm(r#"{"BATCH_LENGTH":0}"#, &naming(&["a.bin", "b.bin"]));
    assert_eq!(uris(&tile).unwrap(), ["a.bin", "b.bin", "t.png"]);
}

#[test]
fn a_b3dm_with_a_legacy_header_names_what_its_glb_names() {
    let glb = naming(&["old.bin"]);
    // 20 bytes: batchLength, batchTableByteLength (a batch table of 8 bytes).
    let mut body = br#"{"id":0}"#.to_vec();
    body.extend_from_slice(&glb);
    let legacy_20 = tile(b"b3dm", &[1, 8], &body);
    assert_eq!(uris(&legacy_20).unwrap(), ["old.bin", "t.png"]);
    // 24 bytes: batchTableJSONByteLength, batchTableBinaryByteLength, batchLength.
    let legacy_24 = tile(b"b3dm", &[8, 0, 1], &body);
    assert_eq!(uris(&legacy_24).unwrap(), ["old.bin", "t.png"]);
}

#[test]
fn an_i3dm_names_its_glb_by_uri_without_its_padding() {
    for padded in [&b"Box.glb "[..], b"Box.glb    \0\0\0\0\0", b"Box.glb"] {
        assert_eq!(uris(&i3dm(0, padded)).unwrap(), ["Box.glb"], "{padded:?}");
    }
    assert!(uris(&i3dm(0, b"        ")).is_err(), "no URI at all");
    assert!(uris(&i3dm(0, b"\xff\xfe    ")).is_err(), "not UTF-8");
}

#[test]
fn an_i3dm_with_an_embedded_glb_names_what_it_names() {
    assert_eq!(
        uris(&i3dm(1, &naming(&["i.bin"]))).unwrap(),
        ["i.bin", "t.png"]
    );
    assert!(uris(&i3dm(2, b"")).is_err(), "gltfFormat 2 is no format");
}

#[test]
fn a_composite_names_what_each_inner_tile_names_recursively() {
    let inner = cmpt(&[i3dm(0, b"deep.glb"), tile(b"pnts", &[0, 0, 0, 0], b"")]);
    let outer = cmpt(&[b3dm("{}", &naming(&["a.bin"])), inner, i3dm(0, b"Box.glb ")]);
    assert_eq!(
        uris(&outer).unwrap(),
        ["a.bin", "t.png", "deep.glb", "Box.glb"]
    );
}

#[test]
fn composites_nested_too_deep_are_refused_with_a_reason() {
    let mut nested = i3dm(0, b"x.glb");
    for _ in 0..20 {
        nested = cmpt(&[nested]);
    }
    let error = uris(&nested).unwrap_err();
    assert!(matches!(error, WalkError::Unsupported { .. }), "{error}");
}

#[test]
fn a_point_cloud_names_nothing() {
    let pnts = tile(b"pnts", &[0, 0, 0, 0], b"");
    assert!(uris(&pnts).unwrap().is_empty());
}

#[test]
fn what_cannot_be_read_is_an_error_never_nothing() {
    let cut = b3dm("{}", &naming(&["a.bin"]));
    for (bytes, why) in [
        (&cut[..40], "cut in its glTF"),
        (&cut[..20], "cut in its header"),
        (&b"abcd\x01\0\0\0\x0c\0\0\0"[..], "unknown magic"),
        (&tile(b"b3dm", &[0, 0, 0, 0], b"")[..], "no glTF"),
    ] {
        assert!(uris(bytes).is_err(), "{why}");
    }
    let mut version_2 = cut.clone();
    version_2[4] = 2;
    assert!(uris(&version_2).is_err(), "version 2");
    let mut not_json = naming(&["a.bin"]);
    not_json[16..20].copy_from_slice(b"BIN\0");
    assert!(uris(&b3dm("{}", &not_json)).is_err(), "no JSON chunk first");
}

#[test]
fn a_b3dm_embedding_a_gltf_1_0_binary_names_what_its_dictionaries_name() {
    // KHR_binary_glTF: version 1, length, contentLength, contentFormat 0 (JSON).
    let json = br#"{"buffers": {"binary_glTF": {"uri": "data:,"}, "ext": {"uri": "ext.bin"}},
        "images": {"img": {"uri": "tex.jpg"}}, "shaders": {"vs": {"uri": "vs.glsl"}}}"#;
    let mut gltf_1 = b"glTF".to_vec();
    gltf_1.extend_from_slice(&1u32.to_le_bytes());
    gltf_1.extend_from_slice(&((20 + json.len()) as u32).to_le_bytes());
    gltf_1.extend_from_slice(&(json.len() as u32).to_le_bytes());
    gltf_1.extend_from_slice(&0u32.to_le_bytes());
    gltf_1.extend_from_slice(json);
    assert_eq!(
        uris(&b3dm("{}", &gltf_1)).unwrap(),
        ["data:,", "ext.bin", "tex.jpg", "vs.glsl"]
    );
}

#[test]
fn a_tile_is_read_as_what_its_bytes_say_whatever_its_name() {
    let path = TilePath::parse("tiles/t.bin").unwrap();
    let bytes = i3dm(0, b"Box.glb ");
    let kind = FileKind::of(&path).sniffed(&bytes);
    assert_eq!(kind, FileKind::Tile);
    let walked = read(&kind, &path, &bytes[..]).unwrap();
    let named: Vec<_> = walked.references.iter().map(|r| r.uri.as_str()).collect();
    assert_eq!(named, ["Box.glb"]);
}

#[test]
fn an_i3dm_glb_uri_may_be_64_kib_long_and_no_longer() {
    let longest = "a".repeat(64 * 1024);
    assert_eq!(
        uris(&i3dm(0, longest.as_bytes())).unwrap(),
        [longest.as_str()]
    );
    let too_long = "a".repeat(64 * 1024 + 8);
    let error = uris(&i3dm(0, too_long.as_bytes())).unwrap_err();
    assert!(error.to_string().contains("longer than 64 KiB"), "{error}");
}

#[test]
fn a_legacy_24_byte_b3dm_skips_both_batch_table_lengths() {
    // batchTableJSONByteLength 8, batchTableBinaryByteLength 8, batchLength 1.
    let mut body = br#"{"id":0}"#.to_vec();
    body.extend_from_slice(&[0; 8]);
    body.extend_from_slice(&naming(&["old.bin"]));
    let legacy_24 = tile(b"b3dm", &[8, 8, 1], &body);
    assert_eq!(uris(&legacy_24).unwrap(), ["old.bin", "t.png"]);
}

#[test]
fn a_tile_cut_short_is_said_to_be_shorter_than_its_header() {
    let whole = b3dm("{}", &naming(&["a.bin"]));
    for cut in [20, 40] {
        let error = uris(&whole[..cut]).unwrap_err();
        assert!(matches!(error, WalkError::Shape(_)), "{cut}: {error:?}");
        assert!(
            error.to_string().contains("shorter than its header"),
            "{cut}: {error}"
        );
    }
}
