//! The JSON chunk of a binary glTF, and what it names.

use std::io::Read;

use super::document::glb_json_uris;
use crate::reference::WalkError;

/// The largest JSON chunk of a `.glb` this module reads (the binary chunk is never read).
const MAX_GLB_JSON: u64 = 64 * 1024 * 1024;

/// The URIs the JSON chunk of a binary glTF names, as [`super::gltf_uris`], its JSON nested
/// at most [`ReadLimits::default`](super::ReadLimits)'s `max_json_depth` deep. Reads only the
/// header and the JSON chunk. A binary glTF 1.0 (`KHR_binary_glTF`, as 3D Tiles 1.0 tiles
/// often embed) is read as well: its header is as long, and its JSON content follows it the
/// same way.
pub fn glb_uris(reader: impl Read) -> Result<Vec<String>, WalkError> {
    glb_uris_within(reader, super::ReadLimits::default().max_json_depth)
}

/// As [`glb_uris`], with the JSON nested at most `max_depth` deep, as a `.gltf` is read.
pub(super) fn glb_uris_within(
    mut reader: impl Read,
    max_depth: u32,
) -> Result<Vec<String>, WalkError> {
    let mut header = [0u8; 20];
    reader.read_exact(&mut header)?;
    let word =
        |i: usize| u32::from_le_bytes([header[i], header[i + 1], header[i + 2], header[i + 3]]);
    if &header[0..4] != b"glTF" {
        return Err(WalkError::Shape("not a binary glTF: bad magic".to_owned()));
    }
    let version_1 = word(4) == 1;
    // Version 2: the first chunk's type; version 1: `contentFormat`, 0 for JSON.
    let json_first = if version_1 {
        word(16) == 0
    } else {
        word(16) == 0x4E4F_534A
    };
    if !json_first {
        return Err(WalkError::Shape(
            "binary glTF without a JSON chunk first".to_owned(),
        ));
    }
    let length = u64::from(word(12));
    if length > MAX_GLB_JSON {
        return Err(WalkError::Shape(format!(
            "binary glTF JSON chunk too large ({length} bytes)"
        )));
    }
    let mut json = Vec::new();
    reader.take(length).read_to_end(&mut json)?;
    if json.len() as u64 != length {
        return Err(WalkError::Shape(
            "binary glTF truncated in its JSON chunk".to_owned(),
        ));
    }
    let json = json.strip_prefix(super::bom::BOM).unwrap_or(&json);
    glb_json_uris(json, version_1, max_depth)
}
