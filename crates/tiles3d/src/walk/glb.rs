//! The JSON chunk of a binary glTF, and what it names.

use std::io::Read;

use super::document::gltf_uris;
use crate::reference::WalkError;

/// The largest JSON chunk of a `.glb` this module reads (the binary chunk is never read).
const MAX_GLB_JSON: u64 = 64 * 1024 * 1024;

/// The URIs the JSON chunk of a binary glTF names, as [`gltf_uris`]. Reads only the header and
/// the JSON chunk.
pub fn glb_uris(mut reader: impl Read) -> Result<Vec<String>, WalkError> {
    let mut header = [0u8; 20];
    reader.read_exact(&mut header)?;
    let word =
        |i: usize| u32::from_le_bytes([header[i], header[i + 1], header[i + 2], header[i + 3]]);
    if &header[0..4] != b"glTF" {
        return Err(WalkError::Shape("not a binary glTF: bad magic".to_owned()));
    }
    if word(16) != 0x4E4F_534A {
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
    gltf_uris(serde_json::Deserializer::from_slice(&json))
}
