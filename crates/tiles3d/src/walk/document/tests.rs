//! JSON read by its keys: tilesets and glTF under any name, and the files their extensions
//! name.

use serde_json::{Value, json};

use crate::TilePath;
use crate::walk::{Document, FileKind, WalkError, Walked, gltf_uris, read, references};

fn read_as(name: &str, document: &Value) -> Walked {
    let path = TilePath::parse(name).unwrap();
    let bytes = serde_json::to_vec(document).unwrap();
    let kind = FileKind::of(&path).sniffed(&bytes);
    read(&kind, &path, &bytes[..]).unwrap()
}

fn uris(walked: &Walked) -> Vec<&str> {
    walked.references.iter().map(|r| r.uri.as_str()).collect()
}

#[test]
fn a_gltf_names_the_schema_of_its_structural_metadata() {
    let gltf = json!({
        "asset": {"version": "2.0"},
        "extensions": {"EXT_structural_metadata": {"schemaUri": "schema.json", "propertyTables": []}},
        "buffers": [{"uri": "a.bin"}],
    });
    let named = gltf_uris(serde_json::Deserializer::from_slice(
        &serde_json::to_vec(&gltf).unwrap(),
    ));
    assert_eq!(named.unwrap(), ["a.bin", "schema.json"]);
}

#[test]
fn gltf_extensions_that_name_files_are_followed() {
    let gltf = json!({
        "asset": {"version": "2.0"},
        "extensions": {
            "EXT_feature_metadata": {"schemaUri": "old-schema.json"},
            "EXT_lights_ies": {"lights": [{"uri": "lamp.ies"}, {"bufferView": 1}]},
            "KHR_audio_emitter": {"audio": [{"uri": "a.mp3"}]},
            "KHR_techniques_webgl": {"shaders": [{"uri": "s.glsl"}]},
            "KHR_lights_punctual": {"lights": [{"uri": "not-a-file"}]},
        },
    });
    let walked = read_as("m.gltf", &gltf);
    assert_eq!(walked.document, Document::Gltf);
    assert_eq!(
        uris(&walked),
        ["old-schema.json", "lamp.ies", "a.mp3", "s.glsl"]
    );
}

#[test]
fn a_1_0_tileset_names_its_3dtiles_metadata_schema() {
    let tileset = json!({
        "asset": {"version": "1.0"},
        "extensionsUsed": ["3DTILES_metadata"],
        "extensions": {"3DTILES_metadata": {"schemaUri": "schema/s.json"}},
        "root": {"content": {"uri": "a.glb"}},
    });
    let named = references(
        FileKind::Tileset,
        &serde_json::to_vec(&tileset).unwrap()[..],
    );
    assert_eq!(named.unwrap(), ["schema/s.json", "a.glb"]);
}

#[test]
fn the_1_1_schema_uri_and_the_1_0_one_are_both_named_once() {
    let tileset = json!({
        "asset": {"version": "1.1"},
        "schemaUri": "s.json",
        "extensions": {"3DTILES_metadata": {"schemaUri": "s.json"}},
        "root": {},
    });
    assert_eq!(uris(&read_as("tileset.json", &tileset)), ["s.json"]);
}

#[test]
fn json_under_any_name_is_read_as_what_its_keys_say() {
    let tileset = json!({"asset": {"version": "1.1"}, "root": {"content": {"uri": "a.glb"}}});
    let gltf = json!({"asset": {"version": "2.0"}, "buffers": [{"uri": "b.bin"}]});
    for name in ["t.bin", "t.glb", "t.gltf", "t", "t.json"] {
        let walked = read_as(name, &tileset);
        assert_eq!(walked.document, Document::Tileset, "{name}");
        assert_eq!(uris(&walked), ["a.glb"], "{name}");
        let walked = read_as(name, &gltf);
        assert_eq!(walked.document, Document::Gltf, "{name}");
        assert_eq!(uris(&walked), ["b.bin"], "{name}");
    }
}

#[test]
fn json_that_is_neither_names_nothing_and_says_so() {
    let schema = json!({"id": "s", "classes": {}});
    for name in ["schema.json", "schema.bin"] {
        let walked = read_as(name, &schema);
        assert_eq!(walked.document, Document::Other, "{name}");
        assert!(walked.references.is_empty(), "{name}");
    }
    // An `asset` alone is a glTF only where the name says so.
    let bare = json!({"asset": {"version": "2.0"}});
    assert_eq!(read_as("m.gltf", &bare).document, Document::Gltf);
    assert_eq!(read_as("m.json", &bare).document, Document::Other);
    // Bytes that only looked like JSON name nothing; a `.json` that is not JSON is an error.
    let path = TilePath::parse("b.bin").unwrap();
    let walked = read(&FileKind::Json, &path, &b"{\x00\x01binary"[..]).unwrap();
    assert!(walked.references.is_empty());
    assert!(references(FileKind::Tileset, &b"{ not json"[..]).is_err());
    assert!(references(FileKind::Tileset, &serde_json::to_vec(&schema).unwrap()[..]).is_err());
}

#[test]
fn every_json_document_is_read_past_a_byte_order_mark_and_refused_past_the_depth_bound() {
    let nested = |depth: usize| {
        let mut bytes = b"\xEF\xBB\xBF".to_vec();
        bytes.extend_from_slice(
            br#"{"asset": {"version": "2.0"}, "images": [{"uri": "i.png"}], "extras": "#,
        );
        bytes.extend(std::iter::repeat_n(b'[', depth));
        bytes.extend(std::iter::repeat_n(b']', depth));
        bytes.push(b'}');
        bytes
    };
    let run = move || {
        for name in ["m.gltf", "m.bin", "t.json"] {
            let path = TilePath::parse(name).unwrap();
            let within = |bytes: &[u8]| {
                let kind = FileKind::of(&path).sniffed(bytes);
                let limits = crate::walk::ReadLimits::default();
                crate::walk::read_within(&kind, &path, bytes, limits)
            };
            // Past serde_json's own limit of 128, within the bound: read whole.
            let walked = within(&nested(900)).unwrap();
            assert_eq!(walked.document, Document::Gltf, "{name}");
            assert_eq!(uris(&walked), ["i.png"], "{name}");
            let refused = within(&nested(100_000)).unwrap_err();
            assert!(
                matches!(refused, crate::walk::WalkError::TooDeep { limit: 1_000 }),
                "{name}: {refused}"
            );
        }
    };
    std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(run)
        .unwrap()
        .join()
        .expect("no stack overflow");
}

#[test]
fn a_json_named_by_a_schema_uri_or_a_gltf_is_any_json_and_a_tile_content_a_tileset() {
    let kinds = |walked: &Walked| -> Vec<(String, Option<FileKind>)> {
        (walked.references.iter())
            .map(|r| (r.uri.clone(), r.kind.clone()))
            .collect()
    };
    let tileset = json!({
        "asset": {"version": "1.1"},
        "schemaUri": "s.JSON?v=1",
        "extensions": {"3DTILES_metadata": {"schemaUri": "meta/s.json"}},
        "root": {"content": {"uri": "child.json"}, "children": [{"content": {"uri": "a.glb"}}]},
    });
    let json = Some(FileKind::Json);
    assert_eq!(
        kinds(&read_as("tileset.json", &tileset)),
        [
            ("s.JSON?v=1".to_owned(), json.clone()),
            ("meta/s.json".to_owned(), json.clone()),
            ("child.json".to_owned(), None),
            ("a.glb".to_owned(), None),
        ]
    );
    let gltf = json!({
        "asset": {"version": "2.0"},
        "buffers": [{"uri": "b.bin"}],
        "extensions": {"EXT_structural_metadata": {"schemaUri": "schema.json"}},
    });
    assert_eq!(
        kinds(&read_as("m.gltf", &gltf)),
        [("b.bin".to_owned(), None), ("schema.json".to_owned(), json)]
    );
}

#[test]
fn bytes_that_looked_like_json_and_showed_a_tileset_or_gltf_are_an_error_when_cut_short() {
    let path = TilePath::parse("child/tileset").unwrap();
    let truncated_tileset: &[u8] = br#"{"asset":{"version":"1.1"},"geometricError":1,"root":{"geometricError":0,"content":{"uri":"a.glb"},"children":[{"content":{"uri":"b.gl"#;
    let truncated_gltf: &[u8] =
        br#"{"asset":{"version":"2.0"},"buffers":[{"uri":"b.bin"}],"images":[{"uri":"i."#;
    for bytes in [truncated_tileset, truncated_gltf] {
        let read = read(&FileKind::Json, &path, bytes);
        assert!(
            matches!(read, Err(WalkError::Json(_))),
            "{:?}",
            read.map(|w| w.document)
        );
    }
    // Bytes that never showed a tileset's or a glTF's keys still name nothing.
    let walked = read(&FileKind::Json, &path, &br#"{"id":"s","classes":{"#[..]).unwrap();
    assert!(walked.references.is_empty());
}

#[test]
fn a_conditional_content_file_names_every_content_it_chooses_from() {
    let conditional = json!({"conditionalContents": [
        {"uri": "a-2025.glb", "keys": {"time": "2025"}},
        {"uri": "b/a-2026.b3dm", "keys": {"time": "2026"}},
        {"uri": "a-2025.glb", "keys": {"time": "again"}},
    ]});
    let dynamic = json!({"dynamicContents": [{"uri": "d.glb", "keys": {"k": "v"}}]});
    for (document, expected) in [
        (&conditional, &["a-2025.glb", "b/a-2026.b3dm"][..]),
        (&dynamic, &["d.glb"][..]),
    ] {
        let walked = read_as("tiles/content.json", document);
        assert_eq!(walked.document, Document::ConditionalContents, "{document}");
        let uris: Vec<&str> = walked.references.iter().map(|r| r.uri.as_str()).collect();
        assert_eq!(uris, expected, "{document}");
        // Each is a content like `content.uri`, read by its own name.
        assert!(
            walked
                .references
                .iter()
                .all(|r| r.kind.is_none() && r.base.is_none())
        );
    }
}

#[test]
fn files_the_survey_found_named_by_extensions_are_named() {
    let tileset = json!({
        "asset": {"version": "1.0"},
        "extensions": {"3DTILES_binary_buffers": {
            "buffers": [{"uri": "meta/a.bin", "byteLength": 4}],
            "bufferViews": [{"buffer": 0, "byteLength": 4}],
        }},
        "root": {"content": {
            "uri": "t.b3dm",
            "extensions": {"3DTILES_feature_metadata": {"uri": "t.metadata.json"}},
        }},
    });
    let walked = read_as("tileset.json", &tileset);
    assert_eq!(uris(&walked), ["meta/a.bin", "t.b3dm", "t.metadata.json"]);
    // A metadata file is read as any JSON, not as a tileset that needs a root.
    assert_eq!(walked.references[2].kind, Some(FileKind::Json));

    let gltf = json!({
        "asset": {"version": "2.0"},
        "models": [{"uri": "door.glb"}, {"bufferView": 0, "mimeType": "model/gltf-binary"}],
        "extensions": {"MPEG_media": {"media": [
            {"autoplay": true, "alternatives": [
                {"uri": "video/a.mp4", "mimeType": "video/mp4"},
                {"uri": "video/a.mpd", "mimeType": "application/dash+xml"},
            ]},
        ]}},
    });
    let walked = read_as("m.gltf", &gltf);
    assert_eq!(uris(&walked), ["door.glb", "video/a.mp4", "video/a.mpd"]);
}

#[test]
fn each_tileset_extension_naming_files_counts_and_of_a_repeated_one_the_last() {
    // Duplicate keys cannot be written with `json!`.
    let tileset = br#"{"asset": {"version": "1.0"}, "extensions": {
        "3DTILES_metadata": {"schemaUri": "first.json"},
        "3DTILES_binary_buffers": {"buffers": [{"uri": "b.bin"}]},
        "3DTILES_metadata": {"schemaUri": "last.json"}},
        "root": {"content": {"uri": "a.glb"}}}"#;
    let named = references(FileKind::Tileset, &tileset[..]);
    assert_eq!(named.unwrap(), ["b.bin", "last.json", "a.glb"]);
}

#[test]
fn root_extensions_that_are_a_list_name_nothing_and_are_read_through() {
    let tileset = json!({
        "asset": {"version": "1.0"},
        "extensions": [1, {"3DTILES_metadata": {"schemaUri": "s.json"}}],
        "root": {"content": {"uri": "a.glb"}},
    });
    let named = references(
        FileKind::Tileset,
        &serde_json::to_vec(&tileset).unwrap()[..],
    );
    assert_eq!(named.unwrap(), ["a.glb"]);
}
