//! Binary glTF (GLB) and b3dm encoders for test fixtures: files that pass the downloader's
//! structural checks.

use serde_json::json;

use crate::filler::bytes;

/// A binary glTF whose JSON chunk is `json`.
/// The chunk is padded with spaces to a multiple of four bytes, as the format requires.
pub fn glb(json: &serde_json::Value) -> Vec<u8> {
    let mut text = serde_json::to_vec(json).unwrap();
    while !text.len().is_multiple_of(4) {
        text.push(b' ');
    }
    let mut out = Vec::new();
    out.extend_from_slice(b"glTF");
    out.extend_from_slice(&2u32.to_le_bytes());
    out.extend_from_slice(&((20 + text.len()) as u32).to_le_bytes());
    out.extend_from_slice(&(text.len() as u32).to_le_bytes());
    out.extend_from_slice(&0x4E4F_534Au32.to_le_bytes());
    out.extend_from_slice(&text);
    out
}

/// A valid binary glTF of about `len` bytes: a minimal JSON chunk and a binary chunk of
/// deterministic filler.
pub fn glb_of(seed: u32, len: usize) -> Vec<u8> {
    let mut bin = bytes(seed, len.max(4));
    while !bin.len().is_multiple_of(4) {
        bin.push(0);
    }
    let mut out =
        glb(&json!({"asset": {"version": "2.0"}, "buffers": [{"byteLength": bin.len()}]}));
    out.extend_from_slice(&(bin.len() as u32).to_le_bytes());
    out.extend_from_slice(&0x004E_4942u32.to_le_bytes());
    out.extend_from_slice(&bin);
    let total = out.len() as u32;
    out[8..12].copy_from_slice(&total.to_le_bytes());
    out
}

/// A valid batched 3D model tile (3D Tiles 1.0) around a binary glTF of about `len` bytes.
pub fn b3dm_of(seed: u32, len: usize) -> Vec<u8> {
    let body = glb_of(seed, len);
    let mut out = b"b3dm".to_vec();
    out.extend_from_slice(&1u32.to_le_bytes());
    out.extend_from_slice(&((28 + body.len()) as u32).to_le_bytes());
    out.extend_from_slice(&[0; 16]);
    out.extend_from_slice(&body);
    out
}

/// A 3D Tiles 1.0 binary tile: `magic`, version 1, its byte length, then the header `fields`
/// that follow those and `body`.
pub fn tile_format(magic: &[u8; 4], fields: &[u32], body: &[u8]) -> Vec<u8> {
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

/// A batched 3D model tile around `glb`, with no tables.
pub fn b3dm_around(glb: &[u8]) -> Vec<u8> {
    tile_format(b"b3dm", &[0, 0, 0, 0], glb)
}

/// An instanced 3D model tile whose glTF field is `gltf`: with `embedded` a binary glTF
/// (`gltfFormat` 1), else the bytes of a URI as written, padding included (`gltfFormat` 0).
pub fn i3dm_with(gltf: &[u8], embedded: bool) -> Vec<u8> {
    let table = br#"{"INSTANCES_LENGTH":1,"POSITION":{"byteOffset":0}}     "#;
    let mut body = table.to_vec();
    body.extend_from_slice(&[0; 12]);
    body.extend_from_slice(gltf);
    let fields = [table.len() as u32, 12, 0, 0, u32::from(embedded)];
    tile_format(b"i3dm", &fields, &body)
}

/// A composite tile of the `inner` tiles.
pub fn cmpt(inner: &[Vec<u8>]) -> Vec<u8> {
    tile_format(b"cmpt", &[inner.len() as u32], &inner.concat())
}
