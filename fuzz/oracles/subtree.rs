//! Subtree files come from a blob store we do not control: reading any bytes as a subtree
//! never panics, never names more files than the subtree's tiles and children can hold, and
//! every file it names resolves under the signed root to a portable path (Windows rules too),
//! including external buffers whose URIs the subtree itself writes.

use std::sync::Arc;

use serde_json::json;
use tiles3d::TilePath;
use tiles3d::implicit::{ImplicitTiling, SubtreeContext, TileCoord, read_subtree};
use tiles3d_download::TilesetUrl;

use super::portable::assert_portable;

const ROOT: &str = "https://tiles.example.com/container/export?sv=2024&sig=SIGNATURE";

/// The input is `<shape byte><subtree bytes>`: the shape picks quadtree or octree and how
/// many levels a subtree has.
pub fn check(data: &[u8]) {
    let Some((&shape, bytes)) = data.split_first() else {
        return;
    };
    let octree = shape & 1 == 1;
    let subtree_levels = 1 + u32::from((shape >> 1) & 3);
    let (scheme, subtrees, content) = if octree {
        (
            "OCTREE",
            "subtrees/{level}/{x}/{y}/{z}.subtree",
            "content/{level}/{x}/{y}/{z}.glb",
        )
    } else {
        (
            "QUADTREE",
            "subtrees/{level}/{x}/{y}.subtree",
            "content/{level}/{x}/{y}.glb",
        )
    };
    let implicit = json!({
        "subdivisionScheme": scheme,
        "subtreeLevels": subtree_levels,
        "availableLevels": subtree_levels * 2,
        "subtrees": {"uri": subtrees},
    });
    let tileset = TilePath::parse("tiles/tileset.json").expect("a valid path");
    let tiling =
        ImplicitTiling::from_tile(&implicit, Some(&json!({"uri": content})), None, &tileset)
            .expect("the implicit root is valid");
    let context = Arc::new(SubtreeContext::new(Arc::new(tiling), TileCoord::ROOT));
    let path = TilePath::parse("tiles/subtrees/0/0/0.subtree").expect("a valid path");
    let Ok(walked) = read_subtree(&context, &path, bytes, u64::MAX) else {
        return;
    };

    let branching: u64 = if octree { 8 } else { 4 };
    let tiles: u64 = (0..subtree_levels).map(|l| branching.pow(l)).sum();
    let children = branching.pow(subtree_levels);
    // Tiles with content, child subtrees, and external buffers (at most a few per subtree).
    let bound = tiles + children + 64;
    assert!(
        (walked.references.len() as u64) <= bound,
        "{} references from a subtree of {tiles} tiles and {children} children",
        walked.references.len()
    );
    let root = TilesetUrl::from_root_href(ROOT).expect("the root href is valid");
    for reference in &walked.references {
        let base = reference.base.as_deref().unwrap_or(&path);
        let Ok(Some(file)) = root.resolve(&reference.uri, base) else {
            continue;
        };
        assert_eq!(
            file.url().host_str(),
            Some("tiles.example.com"),
            "{}",
            reference.uri
        );
        assert!(
            file.url().path().starts_with("/container/export/"),
            "{}",
            reference.uri
        );
        assert_portable(file.path().as_str(), &reference.uri);
    }
}
