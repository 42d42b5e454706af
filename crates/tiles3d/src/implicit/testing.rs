//! Subtrees and tilings for the unit tests: building subtree files and reading what they name.

use std::sync::Arc;

use serde_json::{Value, json};

use super::coord::TileCoord;
use super::subtree::read_subtree;
use super::tiling::{ImplicitTiling, SubtreeContext};
use crate::TilePath;
use crate::reference::{FileKind, Reference, WalkError, Walked};

/// An implicit root of `scheme` in `set/tileset.json`, with these content templates.
pub(super) fn tiling(
    scheme: &str,
    subtree_levels: u32,
    available_levels: u32,
    contents: &[&str],
) -> Arc<ImplicitTiling> {
    let subtrees = if scheme == "OCTREE" {
        "s/{level}/{x}/{y}/{z}.subtree"
    } else {
        "s/{level}/{x}/{y}.subtree"
    };
    let implicit = json!({
        "subdivisionScheme": scheme,
        "subtreeLevels": subtree_levels,
        "availableLevels": available_levels,
        "subtrees": {"uri": subtrees},
    });
    let contents: Vec<Value> = contents.iter().map(|uri| json!({"uri": uri})).collect();
    let contents = json!(contents);
    let path = TilePath::parse("set/tileset.json").unwrap();
    Arc::new(ImplicitTiling::from_tile(&implicit, None, Some(&contents), &path).unwrap())
}

/// The context of the subtree rooted at `root`.
pub(super) fn context(tiling: &Arc<ImplicitTiling>, root: TileCoord) -> Arc<SubtreeContext> {
    Arc::new(SubtreeContext::new(tiling.clone(), root))
}

/// A tile coordinate.
pub(super) fn coord(level: u32, x: u64, y: u64, z: u64) -> TileCoord {
    TileCoord { level, x, y, z }
}

/// A bitstream of `len` bits with the listed bits set, LSB first.
pub(super) fn bits(len: u64, set: &[u64]) -> Vec<u8> {
    let mut bytes = vec![0u8; len.div_ceil(8) as usize];
    for &i in set {
        bytes[(i / 8) as usize] |= 1 << (i % 8);
    }
    bytes
}

/// A binary subtree with `json` and `binary`, padded as the specification asks.
pub(super) fn binary_subtree(json: &Value, binary: &[u8]) -> Vec<u8> {
    let mut text = serde_json::to_vec(json).unwrap();
    while !text.len().is_multiple_of(8) {
        text.push(b' ');
    }
    let mut binary = binary.to_vec();
    while !binary.len().is_multiple_of(8) {
        binary.push(0);
    }
    let mut out = Vec::new();
    out.extend_from_slice(b"subt");
    out.extend_from_slice(&1u32.to_le_bytes());
    out.extend_from_slice(&(text.len() as u64).to_le_bytes());
    out.extend_from_slice(&(binary.len() as u64).to_le_bytes());
    out.extend_from_slice(&text);
    out.extend_from_slice(&binary);
    out
}

/// Concatenates bitstreams 8-byte aligned; returns the buffer and its views.
pub(super) fn pack(streams: &[Vec<u8>]) -> (Vec<u8>, Vec<Value>) {
    let mut buffer = Vec::new();
    let mut views = Vec::new();
    for stream in streams {
        views.push(json!({"buffer": 0, "byteOffset": buffer.len(), "byteLength": stream.len()}));
        buffer.extend_from_slice(stream);
        while !buffer.len().is_multiple_of(8) {
            buffer.push(0);
        }
    }
    (buffer, views)
}

/// What a subtree named, by kind of reference.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Named {
    pub(super) contents: Vec<String>,
    pub(super) subtrees: Vec<(String, TileCoord)>,
    pub(super) buffers: Vec<String>,
    pub(super) waiting: Vec<String>,
}

/// Sorts references by kind, checking each is relative to the right file; the subtree
/// buffers waited for come back whole, to read them.
pub(super) fn sort(walked: Walked) -> (Named, Vec<Reference>) {
    let mut named = Named::default();
    let mut pending = Vec::new();
    for reference in walked.references {
        match &reference.kind {
            None => {
                assert_eq!(
                    reference.base.as_deref().map(TilePath::as_str),
                    Some("set/tileset.json")
                );
                named.contents.push(reference.uri.clone());
            }
            Some(FileKind::Subtree(context)) => {
                assert_eq!(
                    reference.base.as_deref().map(TilePath::as_str),
                    Some("set/tileset.json")
                );
                named.subtrees.push((reference.uri.clone(), context.root()));
            }
            Some(FileKind::Leaf) => named.buffers.push(reference.uri.clone()),
            Some(FileKind::SubtreeBuffer(_)) => {
                named.waiting.push(reference.uri.clone());
                pending.push(reference);
            }
            Some(other) => panic!("unexpected {other:?}"),
        }
    }
    assert!(walked.problems.is_empty(), "{:?}", walked.problems);
    (named, pending)
}

/// What the subtree file `bytes` names, read as `set/s/0/0/0.subtree`.
pub(super) fn read(context: &Arc<SubtreeContext>, bytes: &[u8]) -> Result<Named, WalkError> {
    let path = TilePath::parse("set/s/0/0/0.subtree").unwrap();
    read_subtree(context, &path, bytes, u64::MAX).map(|w| sort(w).0)
}

/// Reads a binary subtree at the root of a two-level quadtree with one content template.
pub(super) fn read_quadtree_root(json: &Value, buffer: &[u8]) -> Named {
    let tiling = tiling("QUADTREE", 2, 5, &["c/{level}/{x}/{y}.glb"]);
    read(
        &context(&tiling, TileCoord::ROOT),
        &binary_subtree(json, buffer),
    )
    .unwrap()
}

/// Owned strings, to compare with.
pub(super) fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// Root subtree of a quadtree: 2 levels, available tiles (0,0,0), (1,0,0), (1,1,1); bits
/// set for tiles, contents and child subtrees whose parent is unavailable must not count.
pub(super) fn quadtree_root_subtree() -> (Value, Vec<u8>) {
    let tiles = bits(5, &[0, 1, 4]);
    // (1,0,1) has a content bit but no tile: unreachable.
    let contents = bits(5, &[0, 4, 3]);
    // m=0 below (1,0,0), m=13 below (1,1,1), m=5 below the unavailable (1,1,0).
    let children = bits(16, &[0, 13, 5]);
    let (buffer, views) = pack(&[tiles, contents, children]);
    let json = json!({
        "buffers": [{"byteLength": buffer.len()}],
        "bufferViews": views,
        "tileAvailability": {"bitstream": 0, "availableCount": 3},
        "contentAvailability": [{"bitstream": 1}],
        "childSubtreeAvailability": {"bitstream": 2},
    });
    (json, buffer)
}

/// `tiling` with another `availableLevels`.
pub(super) fn tiling_with_levels(
    tiling: &ImplicitTiling,
    available_levels: u32,
) -> Arc<ImplicitTiling> {
    Arc::new(ImplicitTiling {
        scheme: tiling.scheme,
        subtree_levels: tiling.subtree_levels,
        available_levels,
        subtrees: tiling.subtrees.clone(),
        contents: tiling.contents.clone(),
        tileset: tiling.tileset.clone(),
    })
}

/// A binary subtree header declaring a JSON chunk of `json_length` bytes, and nothing else.
pub(super) fn header_declaring(json_length: u64) -> Vec<u8> {
    let mut header = b"subt".to_vec();
    header.extend_from_slice(&1u32.to_le_bytes());
    header.extend_from_slice(&json_length.to_le_bytes());
    header.extend_from_slice(&0u64.to_le_bytes());
    header
}
