//! Walking tileset JSON: what it names in 3D Tiles 1.0 and 1.1, implicit roots, and JSON of
//! every shape, against a walk over the parsed document.

use serde_json::{Value, json};

use crate::TilePath;
use crate::implicit;
use crate::walk::gltf::dedup;
use crate::walk::{FileKind, WalkError, read, references};

/// The URIs of a tileset document, as the download reads them.
fn tileset_uris(tileset: &Value) -> Result<Vec<String>, WalkError> {
    references(FileKind::Tileset, &serde_json::to_vec(tileset).unwrap()[..])
}

/// The walk as it was before streaming, over a parsed document: the oracle the streaming
/// walk must agree with on tilesets without implicit tiling.
fn parsed_walk(tileset: &Value) -> Result<Vec<String>, WalkError> {
    let root = tileset
        .get("root")
        .filter(|r| r.is_object())
        .ok_or_else(|| WalkError::Shape("not a 3D Tiles tileset: no `root` tile".to_owned()))?;
    let mut uris = Vec::new();
    if let Some(schema) = tileset.get("schemaUri").and_then(Value::as_str) {
        uris.push(schema.to_owned());
    }
    let mut stack = vec![root];
    while let Some(tile) = stack.pop() {
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
            if let Some(uri) = uri {
                uris.push(uri.to_owned());
            }
        }
        if let Some(children) = tile.get("children").and_then(Value::as_array) {
            stack.extend(children.iter().rev());
        }
    }
    Ok(dedup(uris))
}

/// A deterministic tileset `depth` levels deep with up to `width` children per tile, keys
/// in varying order (children before content, unknown members, odd types), repeated URIs.
fn generated_tileset(depth: u32, width: u32, seed: u64) -> Value {
    let mut state = seed;
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) as u32
    };
    fn tile(depth: u32, width: u32, name: String, next: &mut dyn FnMut() -> u32) -> Value {
        let mut object = serde_json::Map::new();
        let children: Vec<Value> = if depth == 0 {
            Vec::new()
        } else {
            (0..1 + next() % width)
                .map(|i| tile(depth - 1, width, format!("{name}/{i}"), next))
                .collect()
        };
        let roll = next() % 8;
        if roll == 0 {
            object.insert("children".into(), Value::Array(children.clone()));
        }
        object.insert("geometricError".into(), json!(depth));
        match roll {
            1 => {
                object.insert(
                    "contents".into(),
                    json!([{"uri": format!("{name}/a.glb")}, {"url": format!("{name}/b.b3dm")}, 7]),
                );
            }
            2 => {
                object.insert("content".into(), json!({"uri": "shared.glb"}));
            }
            3 => {
                object.insert("content".into(), json!({"uri": 5}));
            }
            4 => {}
            _ => {
                object.insert("content".into(), json!({"uri": format!("{name}.glb"), "boundingVolume": {"box": [0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1]}}));
            }
        }
        object.insert(
            "extras".into(),
            json!({"children": [{"content": {"uri": "not-a-tile.glb"}}]}),
        );
        if roll != 0 {
            if depth == 0 && next().is_multiple_of(3) {
                object.insert("children".into(), json!("not a list"));
            } else {
                object.insert("children".into(), Value::Array(children));
            }
        }
        Value::Object(object)
    }
    json!({
        "asset": {"version": "1.1"},
        "geometricError": 1000,
        "root": tile(depth, width, "t".to_owned(), &mut next),
        "schemaUri": "schema.json",
        "extras": [1, 2, {"root": {"content": {"uri": "nope.glb"}}}],
    })
}

#[test]
fn the_streaming_walk_yields_what_the_parsed_walk_did_on_deep_and_wide_tilesets() {
    for (depth, width, seed) in [(3, 4, 1), (5, 4, 2), (12, 2, 3), (40, 1, 4), (2, 120, 5)] {
        let tileset = generated_tileset(depth, width, seed);
        let expected = parsed_walk(&tileset).unwrap();
        assert!(expected.len() > 10, "{depth}x{width}: {expected:?}");
        assert_eq!(tileset_uris(&tileset).unwrap(), expected, "{depth}x{width}");
    }
    for odd in [
        json!({"root": 5}),
        json!([1]),
        json!({"root": []}),
        json!({"asset": {}}),
    ] {
        assert!(parsed_walk(&odd).is_err());
        let err = tileset_uris(&odd).unwrap_err();
        assert!(matches!(err, WalkError::Shape(_)), "{odd}: {err}");
    }
}

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
fn an_implicit_root_yields_its_root_subtree_with_its_context() {
    let tileset = json!({
        "asset": {"version": "1.1"},
        "root": {
            "content": {"uri": "plain.glb"},
            "children": [{
                "contents": [{"uri": "content/{level}/{x}/{y}.glb"}, {"uri": "b/{x}_{y}_{level}.glb"}],
                "implicitTiling": {
                    "subdivisionScheme": "QUADTREE",
                    "subtreeLevels": 3,
                    "availableLevels": 7,
                    "subtrees": {"uri": "subtrees/{level}/{x}/{y}.subtree"}
                }
            }]
        }
    });
    let path = TilePath::parse("sub/tileset.json").unwrap();
    let bytes = serde_json::to_vec(&tileset).unwrap();
    let walked = read(&FileKind::Tileset, &path, &bytes[..]).unwrap();
    assert!(walked.problems.is_empty(), "{:?}", walked.problems);
    let uris: Vec<&str> = walked.references.iter().map(|r| r.uri.as_str()).collect();
    assert_eq!(uris, ["plain.glb", "subtrees/0/0/0.subtree"]);
    let subtree = &walked.references[1];
    assert_eq!(subtree.base.as_deref(), Some(&path));
    let Some(FileKind::Subtree(context)) = &subtree.kind else {
        panic!("{subtree:?}");
    };
    assert_eq!(context.root(), implicit::TileCoord::ROOT);
    let templates: Vec<&str> = context
        .tiling()
        .contents()
        .iter()
        .map(|t| t.as_str())
        .collect();
    assert_eq!(
        templates,
        ["content/{level}/{x}/{y}.glb", "b/{x}_{y}_{level}.glb"]
    );
}

#[test]
fn an_implicit_root_the_walk_cannot_interpret_is_a_problem_not_a_skip() {
    let tileset = |content: &str, subtrees: &str| {
        json!({
            "asset": {"version": "1.1"},
            "root": {"children": [
                {"content": {"uri": "kept.glb"}},
                {
                    "content": {"uri": content},
                    "implicitTiling": {
                        "subdivisionScheme": "QUADTREE", "subtreeLevels": 2, "availableLevels": 3,
                        "subtrees": {"uri": subtrees}
                    }
                }
            ]}
        })
    };
    let cases = [
        (
            "c/{level}/{x}/{y}/{lod}.glb",
            "s/{level}/{x}/{y}.subtree",
            "{lod}",
        ),
        (
            "c/{level}/{x}/{y}.glb",
            "s/{level}/{x}/{y}/{z}.subtree",
            "{z}",
        ),
        (
            "c/{level}/{x}.glb",
            "s/{level}/{x}/{y}.subtree",
            "does not use all",
        ),
        (
            "c/{level}/{x}/{y.glb",
            "s/{level}/{x}/{y}.subtree",
            "unclosed",
        ),
    ];
    for (content, subtrees, why) in cases {
        let path = TilePath::parse("tileset.json").unwrap();
        let bytes = serde_json::to_vec(&tileset(content, subtrees)).unwrap();
        let walked = read(&FileKind::Tileset, &path, &bytes[..]).unwrap();
        let uris: Vec<&str> = walked.references.iter().map(|r| r.uri.as_str()).collect();
        assert_eq!(uris, ["kept.glb"], "{content}");
        assert_eq!(walked.problems.len(), 1, "{content}");
        let problem = walked.problems[0].to_string();
        assert!(matches!(walked.problems[0], WalkError::Unsupported { .. }));
        assert!(problem.contains(why), "{content}: {problem}");
        assert!(tileset_uris(&tileset(content, subtrees)).is_err());
    }
}

#[test]
fn reads_the_3d_tiles_1_0_multiple_contents_extension() {
    let tileset = json!({
        "asset": {"version": "1.0"},
        "root": {
            "extensions": {"3DTILES_multiple_contents": {"content": [{"uri": "a.b3dm"}, {"uri": "b.i3dm"}]}},
            "children": [{
                "extensions": {
                    "3DTILES_multiple_contents": {"content": [{"uri": "q/{level}/{x}/{y}.b3dm"}, {"uri": "p/{level}/{x}/{y}.pnts"}]},
                    "3DTILES_implicit_tiling": {
                        "subdivisionScheme": "QUADTREE", "subtreeLevels": 2, "maximumLevel": 3,
                        "subtrees": {"uri": "s/{level}/{x}/{y}.subtree"}
                    }
                }
            }]
        }
    });
    let path = TilePath::parse("tileset.json").unwrap();
    let bytes = serde_json::to_vec(&tileset).unwrap();
    let walked = read(&FileKind::Tileset, &path, &bytes[..]).unwrap();
    assert!(walked.problems.is_empty(), "{:?}", walked.problems);
    let uris: Vec<&str> = walked.references.iter().map(|r| r.uri.as_str()).collect();
    assert_eq!(uris, ["a.b3dm", "b.i3dm", "s/0/0/0.subtree"]);
    let Some(FileKind::Subtree(context)) = &walked.references[2].kind else {
        panic!("{:?}", walked.references[2]);
    };
    assert_eq!(context.tiling().contents().len(), 2);
}

#[test]
fn a_corrupt_part_of_a_tileset_the_walk_does_not_look_into_is_still_an_error() {
    let good = br#"{"asset": {"version": "1.1"}, "root": {"content": {"uri": "a.glb"}}}"#;
    assert!(references(FileKind::Tileset, &good[..]).is_ok());
    for corrupt in [
        br#"{"asset": {"version": 1e400}, "root": {"content": {"uri": "a.glb"}}}"#.to_vec(),
        br#"{"asset": {"generator": "\ud800"}, "root": {"content": {"uri": "a.glb"}}}"#.to_vec(),
        b"{\"asset\": {\"generator\": \"\xff\"}, \"root\": {\"content\": {\"uri\": \"a.glb\"}}}"
            .to_vec(),
    ] {
        let error = references(FileKind::Tileset, &corrupt[..]).unwrap_err();
        assert!(matches!(error, WalkError::Json(_)), "{error}");
    }
}

#[test]
fn a_document_without_a_root_tile_is_not_a_tileset() {
    let err = tileset_uris(&json!({"asset": {}})).unwrap_err();
    assert!(err.to_string().contains("no `root` tile"), "{err}");
    assert!(references(FileKind::Tileset, &b"{ not json"[..]).is_err());
}

#[test]
fn children_and_tiles_of_the_wrong_shape_are_skipped_whole_and_the_walk_goes_on() {
    // `children` as an object and a tile as an array name nothing, and what follows them
    // in the same document is still read.
    let tileset = json!({
        "asset": {"version": "1.1"},
        "root": {
            "children": [
                [{"content": {"uri": "in-array.glb"}}, 7],
                {
                    "children": {"a": {"content": {"uri": "in-object.glb"}}, "b": [1, 2]},
                    "content": {"uri": "after-object.glb"},
                },
                {"content": {"uri": "after-array.glb"}},
            ],
            "content": {"uri": "root.glb"},
        },
        "schemaUri": "schema.json",
    });
    let mut uris = tileset_uris(&tileset).unwrap();
    uris.sort();
    assert_eq!(
        uris,
        [
            "after-array.glb",
            "after-object.glb",
            "root.glb",
            "schema.json"
        ]
    );
}

#[test]
fn json_files_starting_with_a_byte_order_mark_are_read_and_pass_their_check() {
    let tileset = json!({"asset": {"version": "1.0"}, "root": {"content": {"uri": "a.glb"}}});
    let gltf = json!({"asset": {"version": "2.0"}, "images": [{"uri": "i.png"}]});
    for (kind, document, uri) in [
        (FileKind::Tileset, tileset.clone(), "a.glb"),
        (FileKind::Gltf, gltf.clone(), "i.png"),
        (FileKind::Json, tileset, "a.glb"),
        (FileKind::Json, gltf, "i.png"),
    ] {
        let mut bytes = b"\xEF\xBB\xBF".to_vec();
        bytes.extend(serde_json::to_vec(&document).unwrap());
        crate::content::check_head(&kind, &bytes, bytes.len() as u64).unwrap();
        assert_eq!(references(kind, &bytes[..]).unwrap(), [uri]);
        // Named as what it is not, the bytes after the mark still say JSON.
        let named_otherwise = FileKind::of(&TilePath::parse("t.bin").unwrap());
        assert_eq!(named_otherwise.sniffed(&bytes), FileKind::Json);
    }
}

/// A tileset whose tiles nest `levels` deep, one content per level.
fn nested_tileset(levels: usize) -> Vec<u8> {
    let mut tile = json!({"geometricError": 0, "content": {"uri": format!("{levels}.glb")}});
    for level in (1..levels).rev() {
        tile = json!({
            "geometricError": level,
            "content": {"uri": format!("{level}.glb")},
            "children": [tile],
        });
    }
    let tileset = json!({"asset": {"version": "1.1"}, "geometricError": 100, "root": tile});
    // serde_json's own serializer recurses too; the test thread's stack takes 70 levels.
    serde_json::to_vec(&tileset).unwrap()
}

#[test]
fn a_tileset_nested_seventy_levels_deep_is_read_whole() {
    // 70 levels nest 140 arrays and objects and more: past serde_json's limit of 128.
    let bytes = nested_tileset(70);
    let uris = references(FileKind::Tileset, &bytes[..]).unwrap();
    let expected: Vec<String> = (1..=70).map(|level| format!("{level}.glb")).collect();
    assert_eq!(uris, expected);
}

#[test]
fn hostile_nesting_is_refused_at_the_bound_without_exhausting_a_small_stack() {
    let path = TilePath::parse("tileset.json").unwrap();
    let hostile = |depth: usize| {
        let mut bytes = br#"{"asset": {"version": "1.0"}, "root": {"extras": "#.to_vec();
        bytes.extend(std::iter::repeat_n(b'[', depth));
        bytes.extend(std::iter::repeat_n(b']', depth));
        bytes.extend_from_slice(b"}}");
        bytes
    };
    let deep = nested_tileset(600);
    let run = move || {
        let within = |bytes: &[u8], max_json_depth| {
            let limits = crate::walk::ReadLimits {
                max_json_depth,
                ..Default::default()
            };
            crate::walk::read_within(&FileKind::Tileset, &path, bytes, limits)
        };
        let refused = within(&hostile(100_000), 1_000).unwrap_err();
        assert!(
            matches!(refused, WalkError::TooDeep { limit: 1_000 }),
            "{refused}"
        );
        // Within the bound any depth is read, deeper than this stack alone would allow.
        assert!(within(&hostile(990), 1_000).is_ok());
        assert!(matches!(
            within(&deep, 1_000),
            Err(WalkError::TooDeep { .. })
        ));
        let walked = within(&deep, 2_000).unwrap();
        assert_eq!(walked.references.len(), 600);
    };
    std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(run)
        .unwrap()
        .join()
        .expect("no stack overflow");
}
