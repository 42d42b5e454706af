//! Reading glTF and GLB: the URIs they name, streamed, against the parsed document.

use serde_json::{Value, json};

use super::dedup;
use crate::walk::{FileKind, WalkError, references};
use crate::walk::{glb_uris, gltf_uris};

fn gltf_text_uris(text: &str) -> Result<Vec<String>, WalkError> {
    gltf_uris(serde_json::Deserializer::from_str(text))
}

/// What a whole parsed document names: the reading the streamed one must agree with.
fn parsed_gltf_uris(bytes: &[u8]) -> Option<Vec<String>> {
    let gltf: Value = serde_json::from_slice(bytes).ok()?;
    if !gltf.is_object() || gltf.get("asset").is_none() {
        return None;
    }
    // Lists, or glTF 1.0's dictionaries (one entry each in these documents: a parsed map's
    // order is not the document's).
    let uris = ["buffers", "images", "shaders"]
        .iter()
        .filter_map(|key| gltf.get(key))
        .flat_map(|list| match list {
            Value::Array(items) => items.iter().collect::<Vec<_>>(),
            Value::Object(items) => items.values().collect(),
            _ => Vec::new(),
        })
        .filter_map(|item| item.get("uri").and_then(Value::as_str))
        .map(str::to_owned)
        .collect();
    Some(dedup(uris))
}

#[test]
fn lists_gltf_buffers_and_images() {
    let gltf = json!({
        "images": [{"uri": "textures/a.png"}, {"bufferView": 0}, {"uri": "data:image/png;base64,AA"}],
        "asset": {"version": "2.0"},
        "buffers": [{"uri": "mesh.bin", "byteLength": 4}, {"byteLength": 8}, {"uri": "mesh.bin"}]
    });
    assert_eq!(
        gltf_text_uris(&gltf.to_string()).unwrap(),
        ["mesh.bin", "textures/a.png", "data:image/png;base64,AA"],
        "buffers first, each once"
    );
}

#[test]
fn a_gltf_object_without_an_asset_is_not_a_gltf() {
    let err = gltf_text_uris(r#"{"buffers": [{"uri": "mesh.bin"}]}"#).unwrap_err();
    assert!(err.to_string().contains("no `asset`"), "{err}");
    // A whole document of another shape is not a glTF, rather than a broken one.
    for other in [r#"[{"asset": {}}]"#, r#""asset""#, "7", "null"] {
        let error = gltf_text_uris(other).unwrap_err();
        assert!(matches!(error, WalkError::Shape(_)), "{other}: {error}");
    }
}

#[test]
fn a_streamed_gltf_names_what_the_parsed_document_names() {
    let nested = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let mut documents: Vec<Vec<u8>> = [
        r#"{"asset": null, "buffers": [{"uri": "a.bin"}]}"#,
        r#"{"asset": {}, "buffers": {"uri": "a.bin"}, "images": "b.png"}"#,
        r#"{"asset": {"version": "1.0"}, "buffers": {"b": {"uri": "a.bin"}}, "shaders": {"s": {"uri": "s.glsl"}}}"#,
        r#"{"asset": {}, "images": {"i": 1, "j": {"uri": "j.png"}}}"#,
        r#"{"asset": {}, "buffers": [1, "x", null, [{"uri": "in-array.bin"}], {"uri": 3}, {"uri": ["c"]}, {"uri": "ok.bin"}]}"#,
        r#"{"asset": {}, "buffers": [{"uri": {"uri": "in-object.bin"}}, {"uri": true}, {"uri": -1.5}, {"uri": "ok.bin"}]}"#,
        r#"{"asset": {}, "buffers": [{"uri": "first.bin"}], "buffers": [{"uri": "last.bin"}]}"#,
        r#"{"asset": {}, "buffers": [{"uri": "first.bin"}], "buffers": 7}"#,
        r#"{"asset": {}, "images": [{"uri": "a.png", "uri": "b.png"}, {"uri": "c.png", "uri": null}]}"#,
        r#"{"asset": {}, "\u0062uffers": [{"\u0075ri": "esc\u0061ped.bin"}]}"#,
        r#"{"asset": {}, "extensions": {"buffers": [{"uri": "nested.bin"}]}, "meshes": [{"uri": "m.bin"}]}"#,
        r#"{"asset": {}, "buffers": [{"uri": "a.bin"}]} trailing"#,
        r#"{"asset": {}, "buffers": [{"uri": "a.bin"}"#,
        r#"{"Asset": {}, "Buffers": [{"uri": "a.bin"}]}"#,
        "{}",
        // Corrupt parts the reader does not look into are still checked, as a parse would.
        r#"{"asset": {"v": 1e400}, "buffers": [{"uri": "a.bin"}]}"#,
        r#"{"asset": {}, "buffers": [{"uri": "a.bin", "byteLength": 1e400}]}"#,
        r#"{"asset": {"generator": "\ud800"}, "buffers": [{"uri": "a.bin"}]}"#,
    ]
    .iter()
    .map(|text| text.as_bytes().to_vec())
    .collect();
    documents.push(
        b"{\"asset\": {}, \"extras\": \"\xff\xfe\", \"buffers\": [{\"uri\": \"a.bin\"}]}".to_vec(),
    );
    documents.push(b"{\"asset\": {}, \"\xff\": 1, \"buffers\": [{\"uri\": \"a.bin\"}]}".to_vec());
    for depth in [120, 127, 128, 200] {
        documents.push(
            format!(
                r#"{{"asset": {{}}, "extras": {}, "buffers": [{{"uri": "a.bin"}}]}}"#,
                nested(depth)
            )
            .into_bytes(),
        );
    }
    documents.push(
        format!(
            r#"{{"asset": {{}}, "buffers": [{{"uri": {}}}]}}"#,
            nested(300)
        )
        .into_bytes(),
    );
    for bytes in &documents {
        let expected = parsed_gltf_uris(bytes);
        let text = String::from_utf8_lossy(bytes);
        // As a `.glb`'s JSON chunk is read (from memory) and as a `.gltf` is (a stream).
        let streamed = gltf_uris(serde_json::Deserializer::from_slice(bytes)).ok();
        assert_eq!(streamed, expected, "{text}");
        let read = gltf_uris(serde_json::Deserializer::from_reader(&bytes[..])).ok();
        assert_eq!(read, expected, "{text}");
    }
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
fn a_glb_json_chunk_may_declare_64_mib_and_not_one_byte_more() {
    let declaring = |length: u32| {
        let mut glb = b"glTF".to_vec();
        glb.extend_from_slice(&2u32.to_le_bytes());
        glb.extend_from_slice(&length.saturating_add(20).to_le_bytes());
        glb.extend_from_slice(&length.to_le_bytes());
        glb.extend_from_slice(&0x4E4F_534Au32.to_le_bytes());
        glb
    };
    // The declared length is judged before anything is read.
    let err = glb_uris(&declaring((64 << 20) + 1)[..]).unwrap_err();
    assert!(err.to_string().contains("too large"), "{err}");
    let err = glb_uris(&declaring(64 << 20)[..]).unwrap_err();
    assert!(err.to_string().contains("truncated"), "{err}");
}

/// `json` as a binary glTF 2.0: header, then its JSON chunk.
fn glb_around(json: &[u8]) -> Vec<u8> {
    let mut glb = b"glTF".to_vec();
    glb.extend_from_slice(&2u32.to_le_bytes());
    glb.extend_from_slice(&(20 + json.len() as u32).to_le_bytes());
    glb.extend_from_slice(&(json.len() as u32).to_le_bytes());
    glb.extend_from_slice(b"JSON");
    glb.extend_from_slice(json);
    glb
}

#[test]
fn a_glb_json_chunk_is_read_within_the_same_depth_bound_as_a_gltf() {
    let path = crate::TilePath::parse("m.glb").unwrap();
    let nested = |levels: usize| {
        format!(
            r#"{{"asset":{{"version":"2.0"}},"buffers":[{{"uri":"b.bin"}}],"extras":{}{}}}"#,
            "[".repeat(levels),
            "]".repeat(levels)
        )
        .into_bytes()
    };
    let uris = |kind: FileKind, bytes: &[u8]| {
        crate::walk::read(&kind, &path, bytes).map(|w| {
            (w.references.into_iter())
                .map(|r| r.uri)
                .collect::<Vec<_>>()
        })
    };
    let deep = nested(500);
    assert_eq!(uris(FileKind::Gltf, &deep).unwrap(), ["b.bin"]);
    assert_eq!(uris(FileKind::Glb, &glb_around(&deep)).unwrap(), ["b.bin"]);
    let too_deep = nested(1_500);
    for read in [
        uris(FileKind::Gltf, &too_deep),
        uris(FileKind::Glb, &glb_around(&too_deep)),
    ] {
        assert!(matches!(read, Err(WalkError::TooDeep { .. })), "{read:?}");
    }
}
