//! Hostile tilesets that test the downloader's bounds, shared by the tests that assert the
//! bounds hold and the benchmark that measures what holding them costs.

use std::collections::HashMap;

use serde_json::json;

/// A quadtree whose every subtree, about a hundred bytes, says all its tiles and all its
/// child subtrees are available, down to `available_levels`: each subtree file claims
/// 4^`subtree_levels` more. The subtree is served at every path down to `served_levels`
/// subtrees deep.
pub fn claims_everything(
    subtree_levels: u32,
    available_levels: u32,
    served_levels: u32,
) -> HashMap<String, Vec<u8>> {
    let mut files = HashMap::new();
    files.insert(
        "tileset.json".to_owned(),
        serde_json::to_vec(&json!({
            "asset": {"version": "1.1"},
            "geometricError": 100,
            "root": {
                "geometricError": 100,
                "boundingVolume": {"box": [0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1]},
                "implicitTiling": {
                    "subdivisionScheme": "QUADTREE",
                    "subtreeLevels": subtree_levels,
                    "availableLevels": available_levels,
                    "subtrees": {"uri": "s/{level}/{x}/{y}.json"}
                }
            }
        }))
        .expect("a tileset serializes"),
    );
    let subtree = serde_json::to_vec(&json!({
        "tileAvailability": {"constant": 1},
        "childSubtreeAvailability": {"constant": 1},
    }))
    .expect("a subtree serializes");
    for depth in 0..served_levels {
        let level = depth * subtree_levels;
        let side = 1u64 << level;
        for x in 0..side {
            for y in 0..side {
                files.insert(format!("s/{level}/{x}/{y}.json"), subtree.clone());
            }
        }
    }
    files
}

/// A JSON subtree of a quadtree with every tile available and no contents or child subtrees,
/// naming `count` distinct external buffers, each twice, none of which availability uses.
pub fn subtree_naming_buffers(count: usize) -> Vec<u8> {
    let buffer = |i: usize| json!({"uri": format!("meta/{i}.bin"), "byteLength": 8});
    let buffers: Vec<_> = (0..count).chain(0..count).map(buffer).collect();
    serde_json::to_vec(&json!({
        "buffers": buffers,
        "tileAvailability": {"constant": 1},
        "contentAvailability": [{"constant": 0}],
        "childSubtreeAvailability": {"constant": 0},
    }))
    .expect("a subtree serializes")
}
