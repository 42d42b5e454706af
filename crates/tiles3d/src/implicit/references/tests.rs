//! What subtrees make available: contents and child subtrees by their availability, within
//! `availableLevels` and the limit on files per subtree.

use serde_json::json;

use crate::implicit::coord::TileCoord;
use crate::implicit::testing::*;

#[test]
fn a_quadtree_subtree_with_bitstreams_names_exactly_its_available_contents_and_children() {
    let (json, buffer) = quadtree_root_subtree();
    let named = read_quadtree_root(&json, &buffer);
    assert_eq!(named.contents, strings(&["c/0/0/0.glb", "c/1/1/1.glb"]));
    assert_eq!(
        named.subtrees,
        [
            ("s/2/0/0.subtree".to_owned(), coord(2, 0, 0, 0)),
            ("s/2/3/2.subtree".to_owned(), coord(2, 3, 2, 0)),
        ]
    );
    assert!(named.buffers.is_empty() && named.waiting.is_empty());
}

#[test]
fn constant_availability_uses_global_coordinates_and_stops_at_available_levels() {
    let tiling = tiling("QUADTREE", 2, 5, &["c/{level}/{x}/{y}.glb"]);
    let everything = json!({
        "tileAvailability": {"constant": 1},
        "contentAvailability": [{"constant": 1}],
        "childSubtreeAvailability": {"constant": 1},
    });
    let bytes = binary_subtree(&everything, &[]);
    let named = read(&context(&tiling, coord(2, 3, 2, 0)), &bytes).unwrap();
    assert_eq!(
        named.contents,
        strings(&[
            "c/2/3/2.glb",
            "c/3/6/4.glb",
            "c/3/7/4.glb",
            "c/3/6/5.glb",
            "c/3/7/5.glb"
        ])
    );
    assert_eq!(named.subtrees.len(), 16);
    assert_eq!(
        named.subtrees[0],
        ("s/4/12/8.subtree".to_owned(), coord(4, 12, 8, 0))
    );
    assert_eq!(named.subtrees[15].1, coord(4, 15, 11, 0));
    // At level 4 only one level is left: level 5 and child subtrees are past availableLevels.
    let named = read(&context(&tiling, coord(4, 15, 11, 0)), &bytes).unwrap();
    assert_eq!(named.contents, strings(&["c/4/15/11.glb"]));
    assert!(named.subtrees.is_empty());
    // Nothing available: nothing named.
    let nothing = json!({
        "tileAvailability": {"constant": 0},
        "contentAvailability": [{"constant": 1}],
        "childSubtreeAvailability": {"constant": 1},
    });
    let named = read(
        &context(&tiling, TileCoord::ROOT),
        nothing.to_string().as_bytes(),
    )
    .unwrap();
    assert_eq!(named, Named::default());
}

#[test]
fn an_octree_with_two_contents_names_each_content_by_its_own_availability() {
    let tiling = tiling(
        "OCTREE",
        2,
        3,
        &["a/{level}/{x}/{y}/{z}.glb", "b/{level}/{z}/{y}/{x}.pnts"],
    );
    // Root, (1,1,1,1) (m=7) and (1,0,1,0) (m=2).
    let tiles = bits(9, &[0, 8, 3]);
    let second = bits(9, &[3]);
    // m=61 lies below m=7: (2,3,2,3); m=8 lies below the unavailable m=1.
    let children = bits(64, &[61, 8]);
    let (buffer, views) = pack(&[tiles, second, children]);
    let json = json!({
        "buffers": [{"byteLength": buffer.len()}],
        "bufferViews": views,
        "tileAvailability": {"bitstream": 0},
        "contentAvailability": [{"constant": 1}, {"bitstream": 1}],
        "childSubtreeAvailability": {"bitstream": 2},
    });
    let named = read(
        &context(&tiling, TileCoord::ROOT),
        &binary_subtree(&json, &buffer),
    )
    .unwrap();
    assert_eq!(
        named.contents,
        strings(&[
            "a/0/0/0/0.glb",
            "a/1/0/1/0.glb",
            "b/1/0/1/0.pnts",
            "a/1/1/1/1.glb"
        ])
    );
    // availableLevels 3: the child subtree at level 2 is within it.
    assert_eq!(
        named.subtrees,
        [("s/2/3/2/3.subtree".to_owned(), coord(2, 3, 2, 3))]
    );
    // With availableLevels 2, the same subtree names no child subtree.
    let shallow = tiling_with_levels(&tiling, 2);
    let named = read(
        &context(&shallow, TileCoord::ROOT),
        &binary_subtree(&json, &buffer),
    )
    .unwrap();
    assert!(named.subtrees.is_empty());
    assert_eq!(named.contents.len(), 4);
}

#[test]
fn a_subtree_naming_more_files_than_the_limit_is_refused() {
    // Twelve quadtree levels with constants: 5.6 million tiles, 11 million contents.
    let tiling = tiling(
        "QUADTREE",
        12,
        12,
        &["c/{level}/{x}/{y}.glb", "d/{level}/{x}/{y}.glb"],
    );
    let everything = json!({
        "tileAvailability": {"constant": 1},
        "contentAvailability": [{"constant": 1}, {"constant": 1}],
        "childSubtreeAvailability": {"constant": 0},
    });
    let err = read(
        &context(&tiling, TileCoord::ROOT),
        everything.to_string().as_bytes(),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("names up to 11184810 files"),
        "{err}"
    );
}

#[test]
fn a_subtree_naming_exactly_the_limit_is_read() {
    // Ten quadtree levels: 4^10 = 2^20 child subtree bits, the most one subtree may claim.
    let tiling = tiling("QUADTREE", 10, 20, &["c/{level}/{x}/{y}.glb"]);
    let children_only = json!({
        "tileAvailability": {"constant": 0},
        "contentAvailability": [{"constant": 0}],
        "childSubtreeAvailability": {"constant": 1},
    });
    let named = read(
        &context(&tiling, TileCoord::ROOT),
        children_only.to_string().as_bytes(),
    )
    .unwrap();
    // No tile is available, so no child subtree is reachable.
    assert_eq!(named, Named::default());
}

#[test]
fn a_subtree_naming_more_than_its_caller_allows_is_refused_before_listing_any() {
    // Two levels: 5 tiles with contents and 16 child subtrees, 21 files in all.
    let tiling = tiling("QUADTREE", 2, 5, &["c/{level}/{x}/{y}.glb"]);
    let subtree = json!({
        "tileAvailability": {"constant": 1},
        "contentAvailability": [{"constant": 1}],
        "childSubtreeAvailability": {"constant": 1},
    })
    .to_string();
    let path = crate::TilePath::parse("set/s/0/0/0.subtree").unwrap();
    let read = |max_files| {
        crate::implicit::read_subtree(
            &context(&tiling, TileCoord::ROOT),
            &path,
            subtree.as_bytes(),
            max_files,
        )
    };
    assert_eq!(read(21).unwrap().references.len(), 21);
    match read(20) {
        Err(crate::walk::WalkError::TooManyFiles { uri, named, limit }) => {
            assert_eq!(
                (uri.as_str(), named, limit),
                ("set/s/0/0/0.subtree", 21, 20)
            );
        }
        other => panic!("{other:?}"),
    }
}
