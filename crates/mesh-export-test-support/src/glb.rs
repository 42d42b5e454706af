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
