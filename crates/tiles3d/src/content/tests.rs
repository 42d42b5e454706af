use std::sync::Arc;

use super::*;
use crate::TilePath;

/// The bytes of a file the writer keeps in memory to check it.
const HEAD: usize = 64;

#[test]
fn binary_tiles_need_their_magic_version_1_and_their_own_length() {
    let mut b3dm = b"b3dm".to_vec();
    b3dm.extend_from_slice(&1u32.to_le_bytes());
    b3dm.extend_from_slice(&28u32.to_le_bytes());
    let magic = tile_format_magic("b3dm").unwrap();
    assert_eq!(check_tile_format(magic, &b3dm, 28), Ok(()));
    assert!(check_tile_format(magic, &b3dm, 29).is_err());
    assert!(check_tile_format(tile_format_magic("pnts").unwrap(), &b3dm, 28).is_err());
    assert!(check_tile_format(magic, b"<html><body>portal", 18).is_err());
    assert_eq!(tile_format_magic("png"), None);
    // Every 3D Tiles 1.0 binary format is checked by its own magic.
    for format in ["b3dm", "i3dm", "pnts", "cmpt"] {
        assert_eq!(
            tile_format_magic(format).map(|m| &m[..]),
            Some(format.as_bytes())
        );
    }
}

#[test]
fn a_glb_needs_magic_version_2_and_its_own_length() {
    assert_eq!(
        check_structure(&FileKind::Glb, &glb_header(100, 2), 100),
        Ok(())
    );
    for (head, size) in [
        (glb_header(100, 2), 99),
        (glb_header(100, 1), 100),
        (
            b"<html><body>Sign in to the Wi-Fi</body></html>".to_vec(),
            48,
        ),
        (b"glTF".to_vec(), 4),
    ] {
        assert!(
            matches!(
                check_structure(&FileKind::Glb, &head, size),
                Err(ContentError { .. })
            ),
            "{head:?}"
        );
    }
}

#[test]
fn json_files_must_open_an_object() {
    assert_eq!(
        check_structure(&FileKind::Tileset, b"  \n{\"a\":1}", 10),
        Ok(())
    );
    assert!(check_structure(&FileKind::Tileset, b"<!DOCTYPE html>", 15).is_err());
    assert!(check_structure(&FileKind::Gltf, b"[1]", 3).is_err());
    assert!(check_structure(&FileKind::Tileset, b"", 0).is_err());
    assert_eq!(check_structure(&FileKind::Leaf, b"<html>", 6), Ok(()));
    // A head of whitespace only: the object may start past it, but not if that was all.
    let spaces = [b' '; HEAD];
    assert_eq!(
        check_structure(&FileKind::Gltf, &spaces, HEAD as u64 + 2),
        Ok(())
    );
    assert!(check_structure(&FileKind::Gltf, &spaces, HEAD as u64).is_err());
}

#[test]
fn subtrees_need_the_binary_magic_or_a_json_object() {
    use crate::implicit::{ImplicitTiling, SubtreeContext, TileCoord};
    let implicit = serde_json::json!({
        "subdivisionScheme": "QUADTREE",
        "subtreeLevels": 2,
        "availableLevels": 2,
        "subtrees": {"uri": "s/{level}/{x}/{y}.subtree"},
    });
    let content = serde_json::json!({"uri": "c/{level}/{x}/{y}.glb"});
    let path = TilePath::parse("tileset.json").unwrap();
    let tiling = ImplicitTiling::from_tile(&implicit, Some(&content), None, &path).unwrap();
    let subtree = FileKind::Subtree(Arc::new(SubtreeContext::new(
        Arc::new(tiling),
        TileCoord::ROOT,
    )));
    let check = |head: &[u8], size: u64| check_structure(&subtree, head, size);
    assert_eq!(check(b"subt\0\0\0\0", 24), Ok(()), "binary");
    assert_eq!(
        check(b" \n\t{\"a\":1}", 10),
        Ok(()),
        "JSON after whitespace"
    );
    // A head of whitespace only: JSON may follow past it, but not if that was all.
    let spaces = [b' '; HEAD];
    assert_eq!(
        check(&spaces, HEAD as u64 + 2),
        Ok(()),
        "JSON past the head"
    );
    assert!(check(&spaces, HEAD as u64).is_err(), "whitespace only");
    assert!(check(b"", 0).is_err(), "empty");
    assert!(check(b"<html>", 6).is_err(), "a page");
    // Named in its context, a subtree keeps its kind whatever its bytes.
    assert_eq!(subtree.sniffed(b"glTF\x02\0\0\0"), subtree);
}

#[test]
fn a_tile_read_by_its_bytes_needs_one_of_the_four_magics() {
    let mut i3dm = b"i3dm".to_vec();
    i3dm.extend_from_slice(&1u32.to_le_bytes());
    i3dm.extend_from_slice(&32u32.to_le_bytes());
    assert_eq!(check_head(&FileKind::Tile, &i3dm, 32), Ok(()));
    assert!(check_head(&FileKind::Tile, &i3dm, 33).is_err());
    assert!(check_head(&FileKind::Tile, b"<html><body>portal", 18).is_err());
    assert!(check_head(&FileKind::Tile, b"b3d", 3).is_err());
}

fn glb_header(length: u32, version: u32) -> Vec<u8> {
    let mut h = b"glTF".to_vec();
    h.extend_from_slice(&version.to_le_bytes());
    h.extend_from_slice(&length.to_le_bytes());
    h
}

/// A binary glTF 1.0 header (`KHR_binary_glTF`): magic, version 1, length, content length
/// and content format.
fn glb_1_header(length: u32, content_length: u32, content_format: u32) -> Vec<u8> {
    let mut h = glb_header(length, 1);
    h.extend_from_slice(&content_length.to_le_bytes());
    h.extend_from_slice(&content_format.to_le_bytes());
    h
}

#[test]
fn a_standalone_binary_gltf_1_is_accepted_with_its_own_checks() {
    let mut glb = glb_1_header(22, 2, 0);
    glb.extend_from_slice(b"{}");
    assert_eq!(check_head(&FileKind::Glb, &glb, 22), Ok(()));
    for (head, size) in [
        // Its length is not the file's.
        (glb.clone(), 23),
        // Its content is not JSON (contentFormat 0).
        (glb_1_header(22, 2, 1), 22),
        // Its JSON content runs past the file.
        (glb_1_header(22, 3, 0), 22),
        // Too short for the 20-byte version 1 header.
        (glb_header(22, 1), 22),
        // Neither version 1 nor 2.
        (glb_header(22, 3), 22),
    ] {
        assert!(check_head(&FileKind::Glb, &head, size).is_err(), "{head:?}");
    }
}

#[test]
fn a_byte_order_mark_is_skipped_before_json_and_nowhere_else() {
    let bom = |body: &[u8]| [&b"\xEF\xBB\xBF"[..], body].concat();
    for kind in [FileKind::Json, FileKind::Tileset, FileKind::Gltf] {
        let json = bom(b" {}");
        assert_eq!(check_head(&kind, &json, 6), Ok(()), "{kind:?}");
    }
    // Before a binary header it is three bytes too many, not a mark to skip.
    // (Its header counts the mark, so it would pass were the mark skipped.)
    let glb = bom(&glb_header(15, 2));
    assert!(check_head(&FileKind::Glb, &glb, 15).is_err());
    let mut b3dm = b"b3dm".to_vec();
    b3dm.extend_from_slice(&1u32.to_le_bytes());
    b3dm.extend_from_slice(&15u32.to_le_bytes());
    assert!(check_head(&FileKind::Tile, &bom(&b3dm), 15).is_err());
}

#[test]
fn a_binary_gltf_1_header_of_exactly_20_bytes_is_long_enough() {
    assert_eq!(
        check_head(&FileKind::Glb, &glb_1_header(20, 0, 0), 20),
        Ok(())
    );
}
