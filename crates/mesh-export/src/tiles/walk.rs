//! Reading the URIs a tileset file names: tile contents, child tilesets, glTF resources.
//!
//! These functions only list URIs as written; [`TilesetUrl::resolve`](super::TilesetUrl::resolve)
//! decides where each one points and whether it may be fetched.

use std::io::Read;

use serde_json::Value;

use super::TilePath;

/// The largest JSON chunk of a `.glb` this module reads (the binary chunk is never read).
const MAX_GLB_JSON: u64 = 64 * 1024 * 1024;

/// What a file of a tileset is, as far as the walk cares: it decides whether the file names
/// further files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A tileset JSON (`.json`): the root, or an external child tileset.
    Tileset,
    /// A glTF JSON (`.gltf`), which may name external buffers and images.
    Gltf,
    /// A binary glTF (`.glb`), whose JSON chunk may name external buffers and images.
    Glb,
    /// Anything else (`.b3dm`, `.pnts`, textures, buffers): names nothing further.
    Leaf,
}

impl FileKind {
    /// The kind of a file, by its extension.
    pub fn of(path: &TilePath) -> Self {
        match path.extension().as_deref() {
            Some("json") => Self::Tileset,
            Some("gltf") => Self::Gltf,
            Some("glb") => Self::Glb,
            _ => Self::Leaf,
        }
    }
}

/// Why a file's references could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WalkError {
    /// The file is not valid JSON.
    #[error("not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// Valid JSON, but not the expected document.
    #[error("{0}")]
    Shape(String),
    /// A tileset feature the walker does not interpret, so the files it names are unknown.
    #[error("{0}")]
    Unsupported(String),
    /// The file could not be read.
    #[error("could not be read: {0}")]
    Io(#[from] std::io::Error),
}

/// The URIs a file of the given kind names, in document order, each once.
pub fn references(kind: FileKind, reader: impl Read) -> Result<Vec<String>, WalkError> {
    match kind {
        FileKind::Tileset => tileset_uris(&serde_json::from_reader(reader)?),
        FileKind::Gltf => gltf_uris(&serde_json::from_reader(reader)?),
        FileKind::Glb => glb_uris(reader),
        FileKind::Leaf => Ok(Vec::new()),
    }
}

/// The URIs a 3D Tiles tileset names: every tile's `content.uri` (1.0 and 1.1), the legacy
/// `content.url` (pre-1.0), 1.1 `contents[].uri`, through nested `children`, and a 1.1
/// `schemaUri`. External tilesets appear as `.json` contents; their own contents are theirs.
///
/// Contents of implicitly tiled tiles are URI templates (`{level}/{x}/{y}`), which name no
/// single file: they are an [`WalkError::Unsupported`] error, never silently skipped.
pub fn tileset_uris(tileset: &Value) -> Result<Vec<String>, WalkError> {
    let root = tileset
        .get("root")
        .filter(|r| r.is_object())
        .ok_or_else(|| WalkError::Shape("not a 3D Tiles tileset: no `root` tile".to_owned()))?;
    let mut uris = Vec::new();
    if let Some(schema) = tileset.get("schemaUri").and_then(Value::as_str) {
        uris.push(schema.to_owned());
    }
    // Depth-first with an explicit stack; serde_json bounds the nesting depth already.
    let mut stack = vec![root];
    while let Some(tile) = stack.pop() {
        let implicit = tile.get("implicitTiling").is_some();
        let contents = tile.get("content").into_iter().chain(
            tile.get("contents")
                .and_then(Value::as_array)
                .into_iter()
                .flatten(),
        );
        for content in contents {
            let uri = content
                .get("uri")
                .or_else(|| content.get("url"))
                .and_then(Value::as_str);
            match uri {
                Some(uri) if implicit && uri.contains('{') => {
                    return Err(WalkError::Unsupported(format!(
                        "implicit tiling (the template `{uri}`) is not supported"
                    )));
                }
                Some(uri) => uris.push(uri.to_owned()),
                None => {}
            }
        }
        if let Some(children) = tile.get("children").and_then(Value::as_array) {
            // Reversed so that the walk visits children in document order.
            stack.extend(children.iter().rev());
        }
    }
    Ok(dedup(uris))
}

/// The URIs a glTF JSON names: `buffers[].uri` and `images[].uri` (data URIs included; the
/// resolver recognises them as embedded).
pub fn gltf_uris(gltf: &Value) -> Result<Vec<String>, WalkError> {
    if !gltf.is_object() || gltf.get("asset").is_none() {
        return Err(WalkError::Shape(
            "not a glTF document: no `asset`".to_owned(),
        ));
    }
    let uris = ["buffers", "images"]
        .iter()
        .filter_map(|key| gltf.get(key).and_then(Value::as_array))
        .flatten()
        .filter_map(|item| item.get("uri").and_then(Value::as_str))
        .map(str::to_owned)
        .collect();
    Ok(dedup(uris))
}

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
    gltf_uris(&serde_json::from_slice(&json)?)
}

fn dedup(uris: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    uris.into_iter()
        .filter(|u| seen.insert(u.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn walks_a_3d_tiles_1_0_tileset_with_nested_children_and_external_tilesets() {
        let tileset = json!({
            "asset": {"version": "1.0"},
            "geometricError": 100,
            "root": {
                "content": {"uri": "root.glb"},
                "children": [
                    {"content": {"uri": "a/0.b3dm"}, "children": [
                        {"content": {"uri": "a/1.b3dm"}},
                    ]},
                    {"content": {"uri": "child/tileset.json"}},
                    {"content": {"url": "legacy.b3dm"}},
                    {"content": {"uri": "root.glb"}},
                    {"children": []},
                ]
            }
        });
        assert_eq!(
            tileset_uris(&tileset).unwrap(),
            [
                "root.glb",
                "a/0.b3dm",
                "a/1.b3dm",
                "child/tileset.json",
                "legacy.b3dm"
            ]
        );
    }

    #[test]
    fn walks_a_3d_tiles_1_1_tileset_with_multiple_contents_and_a_schema() {
        let tileset = json!({
            "asset": {"version": "1.1"},
            "schemaUri": "schema.json",
            "root": {
                "contents": [{"uri": "r0.glb"}, {"uri": "r1.glb", "group": 0}],
                "children": [{"content": {"uri": "c.glb"}, "contents": [{"uri": "d.glb"}]}]
            }
        });
        assert_eq!(
            tileset_uris(&tileset).unwrap(),
            ["schema.json", "r0.glb", "r1.glb", "c.glb", "d.glb"]
        );
    }

    #[test]
    fn implicit_tiling_templates_are_an_error_not_a_silent_skip() {
        let tileset = json!({
            "asset": {"version": "1.1"},
            "root": {
                "content": {"uri": "content/{level}/{x}/{y}.glb"},
                "implicitTiling": {"subtrees": {"uri": "subtrees/{level}.subtree"}}
            }
        });
        assert!(matches!(
            tileset_uris(&tileset),
            Err(WalkError::Unsupported(why)) if why.contains("{level}")
        ));
    }

    #[test]
    fn a_document_without_a_root_tile_is_not_a_tileset() {
        let err = tileset_uris(&json!({"asset": {}})).unwrap_err();
        assert!(err.to_string().contains("no `root` tile"), "{err}");
        assert!(references(FileKind::Tileset, &b"{ not json"[..]).is_err());
    }

    #[test]
    fn lists_gltf_buffers_and_images() {
        let gltf = json!({
            "asset": {"version": "2.0"},
            "buffers": [{"uri": "mesh.bin", "byteLength": 4}, {"byteLength": 8}],
            "images": [{"uri": "textures/a.png"}, {"bufferView": 0}, {"uri": "data:image/png;base64,AA"}]
        });
        assert_eq!(
            gltf_uris(&gltf).unwrap(),
            ["mesh.bin", "textures/a.png", "data:image/png;base64,AA"]
        );
    }

    #[test]
    fn reads_the_json_chunk_of_a_glb() {
        let json = br#"{"asset":{"version":"2.0"},"images":[{"uri":"t.png"}]}  "#;
        let mut glb = Vec::new();
        glb.extend_from_slice(b"glTF");
        glb.extend_from_slice(&2u32.to_le_bytes());
        glb.extend_from_slice(&((20 + json.len()) as u32).to_le_bytes());
        glb.extend_from_slice(&(json.len() as u32).to_le_bytes());
        glb.extend_from_slice(&0x4E4F_534Au32.to_le_bytes());
        glb.extend_from_slice(json);
        assert_eq!(references(FileKind::Glb, &glb[..]).unwrap(), ["t.png"]);
        assert!(references(FileKind::Glb, &glb[..30]).is_err());
        assert!(references(FileKind::Glb, &b"nope"[..]).is_err());
    }

    #[test]
    fn kinds_follow_extensions() {
        let kind = |p: &str| FileKind::of(&TilePath::parse(p).unwrap());
        assert_eq!(kind("a/tileset.JSON"), FileKind::Tileset);
        assert_eq!(kind("m.gltf"), FileKind::Gltf);
        assert_eq!(kind("m.glb"), FileKind::Glb);
        assert_eq!(kind("m.b3dm"), FileKind::Leaf);
        assert_eq!(kind("noext"), FileKind::Leaf);
    }
}
