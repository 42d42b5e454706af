//! Reading subtree files: binary and JSON, internal and external buffers, and every way one
//! can be malformed, truncated or too large.

use std::io::{self, Read};

use serde_json::{Value, json};

use crate::TilePath;
use crate::implicit::coord::TileCoord;
use crate::implicit::subtree::{read_subtree, read_subtree_buffer};
use crate::implicit::testing::*;
use crate::reference::{FileKind, WalkError};

#[test]
fn availability_in_external_buffers_is_read_from_them_in_turn() {
    let tiling = tiling("QUADTREE", 2, 5, &["c/{level}/{x}/{y}.glb"]);
    let (json, buffer) = quadtree_root_subtree();
    // Tile availability stays internal; contents and children move to two external
    // buffers; a third external buffer holds metadata only.
    let internal = buffer[..8].to_vec();
    let contents = buffer[8..16].to_vec();
    let mut children = vec![0xEE; 16];
    children.extend_from_slice(&buffer[16..24]);
    let document = json!({
        "buffers": [
            {"byteLength": 8},
            {"uri": "../avail/contents.bin", "byteLength": 8},
            {"uri": "children.bin", "byteLength": 24},
            {"uri": "metadata.bin", "byteLength": 100},
            {"uri": "children.bin", "byteLength": 16},
        ],
        "bufferViews": [
            {"buffer": 0, "byteOffset": 0, "byteLength": 1},
            {"buffer": 1, "byteOffset": 0, "byteLength": 1},
            {"buffer": 2, "byteOffset": 16, "byteLength": 2},
            {"buffer": 3, "byteOffset": 0, "byteLength": 100},
        ],
        "tileAvailability": json["tileAvailability"],
        "contentAvailability": json["contentAvailability"],
        "childSubtreeAvailability": json["childSubtreeAvailability"],
        "propertyTables": [{"class": "tile", "count": 3, "properties": {"p": {"values": 3}}}],
        "tileMetadata": 0,
    });
    let context = context(&tiling, TileCoord::ROOT);
    let subtree = TilePath::parse("set/s/0/0/0.subtree").unwrap();
    let walked = read_subtree(
        &context,
        &subtree,
        &binary_subtree(&document, &internal)[..],
        u64::MAX,
    )
    .unwrap();
    let (named, mut pending) = sort(walked);
    // Nothing is known yet but the buffers: the metadata one as a plain file, the first
    // availability one carrying the subtree.
    assert_eq!(named.buffers, strings(&["metadata.bin"]));
    assert_eq!(named.waiting, strings(&["../avail/contents.bin"]));
    assert!(named.contents.is_empty() && named.subtrees.is_empty());
    let first = pending.remove(0);
    assert_eq!(first.base.as_deref(), Some(&subtree));
    // Two subtrees waiting for their buffers are two file kinds.
    let (_, others) = sort(
        read_subtree(
            &context,
            &subtree,
            &binary_subtree(&document, &internal)[..],
            u64::MAX,
        )
        .unwrap(),
    );
    assert_ne!(first.kind, others[0].kind);
    let Some(FileKind::SubtreeBuffer(state)) = &first.kind else {
        unreachable!()
    };
    let path = TilePath::parse("set/s/avail/contents.bin").unwrap();
    let (named, mut pending) =
        sort(read_subtree_buffer(state, &path, &contents[..], u64::MAX).unwrap());
    assert_eq!(named.waiting, strings(&["children.bin"]));
    let second = pending.remove(0);
    assert_eq!(second.base.as_deref(), Some(&subtree));
    let Some(FileKind::SubtreeBuffer(state)) = &second.kind else {
        unreachable!()
    };
    // A buffer shorter than its byteLength is an error.
    let path = TilePath::parse("set/s/0/0/children.bin").unwrap();
    let err = read_subtree_buffer(state, &path, &children[..20], u64::MAX).unwrap_err();
    assert!(
        err.to_string().contains("shorter than its byteLength"),
        "{err}"
    );
    let (named, _) = sort(read_subtree_buffer(state, &path, &children[..], u64::MAX).unwrap());
    assert_eq!(named.contents, strings(&["c/0/0/0.glb", "c/1/1/1.glb"]));
    assert_eq!(named.subtrees.len(), 2);
}

#[test]
fn a_json_subtree_reads_its_bitstreams_from_external_buffers() {
    let tiling = tiling("QUADTREE", 2, 5, &["c/{level}/{x}/{y}.glb"]);
    let (mut json, buffer) = quadtree_root_subtree();
    json["buffers"] = json!([{"uri": "0.bin", "byteLength": buffer.len()}]);
    let context = context(&tiling, TileCoord::ROOT);
    let subtree = TilePath::parse("set/s/0/0/0.json").unwrap();
    let text = serde_json::to_vec_pretty(&json).unwrap();
    let (named, pending) = sort(read_subtree(&context, &subtree, &text[..], u64::MAX).unwrap());
    assert_eq!(named.waiting, strings(&["0.bin"]));
    let Some(FileKind::SubtreeBuffer(state)) = &pending[0].kind else {
        unreachable!()
    };
    let path = TilePath::parse("set/s/0/0/0.bin").unwrap();
    let (named, _) = sort(read_subtree_buffer(state, &path, &buffer[..], u64::MAX).unwrap());
    assert_eq!(named.contents, strings(&["c/0/0/0.glb", "c/1/1/1.glb"]));
    assert_eq!(named.subtrees.len(), 2);
}

#[test]
fn malformed_subtrees_are_clear_errors() {
    let tiling = tiling("QUADTREE", 2, 5, &["c/{level}/{x}/{y}.glb"]);
    let context = context(&tiling, TileCoord::ROOT);
    let (json, buffer) = quadtree_root_subtree();
    let good = binary_subtree(&json, &buffer);
    assert!(read(&context, &good).is_ok());
    let with = |edit: &dyn Fn(&mut Value)| {
        let mut json = json.clone();
        edit(&mut json);
        binary_subtree(&json, &buffer)
    };
    let mut version = good.clone();
    version[4] = 2;
    let mut longer = good.clone();
    longer.push(0);
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (good[..20].to_vec(), "truncated in its header"),
        (good[..40].to_vec(), "truncated in its JSON chunk"),
        (good[..good.len() - 8].to_vec(), "truncated in its binary chunk"),
        (longer, "longer than its header says"),
        (version, "version 2"),
        (b"subx{}".to_vec(), "not a subtree"),
        (b"{\"tileAvailability\": ".to_vec(), "not a subtree"),
        (with(&|j| j["bufferViews"][2]["byteLength"] = json!(1)), "has 1 bytes where 16 bits need 2"),
        (with(&|j| j["bufferViews"][2]["byteOffset"] = json!(23)), "runs past the end of buffer 0"),
        (with(&|j| j["bufferViews"][0]["buffer"] = json!(3)), "buffer 3, which does not exist"),
        (with(&|j| j["tileAvailability"] = json!({"constant": 2})), "must be 0 or 1"),
        (with(&|j| j["tileAvailability"] = json!({"constant": 1, "bitstream": 0})), "both"),
        (with(&|j| j["tileAvailability"] = json!({})), "neither"),
        (with(&|j| j["tileAvailability"] = json!({"bitstream": 9})), "bufferView 9"),
        (with(&|j| { j.as_object_mut().unwrap().remove("childSubtreeAvailability"); }), "without childSubtreeAvailability"),
        (with(&|j| j["contentAvailability"] = json!([])), "0 contentAvailability for 1 content"),
        (with(&|j| j["buffers"][0]["byteLength"] = json!(1000)), "exceeds the binary chunk"),
        (with(&|j| j["buffers"] = json!([{"byteLength": 24}, {"byteLength": 8}])), "only the first buffer may be internal"),
        (with(&|j| j["buffers"] = json!([{"uri": "data:application/octet-stream;base64,AAAA", "byteLength": 24}])), "data: URI"),
        (b"{\"buffers\": [{\"byteLength\": 8}], \"tileAvailability\": {\"constant\": 1}, \"childSubtreeAvailability\": {\"constant\": 0}, \"contentAvailability\": [{\"constant\": 1}]}".to_vec(), "no uri in a JSON subtree"),
    ];
    for (bytes, why) in cases {
        let err = read(&context, &bytes).expect_err(why);
        assert!(
            matches!(err, WalkError::Unsupported { .. }),
            "{why}: {err:?}"
        );
        let text = err.to_string();
        assert!(text.contains(why), "expected `{why}` in: {text}");
        assert!(text.contains("set/s/0/0/0.subtree"), "{text}");
    }
}

#[test]
fn no_corruption_of_a_subtree_panics() {
    let tiling = tiling("QUADTREE", 2, 5, &["c/{level}/{x}/{y}.glb"]);
    let context = context(&tiling, TileCoord::ROOT);
    let (json, buffer) = quadtree_root_subtree();
    let good = binary_subtree(&json, &buffer);
    for cut in 0..good.len() {
        assert!(read(&context, &good[..cut]).is_err(), "cut at {cut}");
    }
    for at in 0..good.len() {
        for flip in [0x01u8, 0x80, 0xFF] {
            let mut bad = good.clone();
            bad[at] ^= flip;
            // Either answer is fine; a panic is not.
            let _ = read(&context, &bad);
        }
    }
}

#[test]
fn a_subtree_json_of_64_mib_is_read_and_one_byte_more_is_refused() {
    const LIMIT: u64 = 64 << 20;
    let tiling = tiling("QUADTREE", 2, 5, &["c/{level}/{x}/{y}.glb"]);
    let context = context(&tiling, TileCoord::ROOT);
    // Binary: the declared length is judged before anything is read.
    let err = read(&context, &header_declaring(LIMIT + 1)).unwrap_err();
    assert!(err.to_string().contains("too large"), "{err}");
    let err = read(&context, &header_declaring(LIMIT)).unwrap_err();
    assert!(
        err.to_string().contains("truncated in its JSON chunk"),
        "{err}"
    );
    // JSON: a document padded with spaces to exactly the limit is read, one byte more is not.
    let document = json!({
        "tileAvailability": {"constant": 1},
        "contentAvailability": [{"constant": 0}],
        "childSubtreeAvailability": {"constant": 0},
    })
    .to_string();
    let padded = |total: u64| {
        document
            .as_bytes()
            .chain(io::repeat(b' ').take(total - document.len() as u64))
    };
    let path = TilePath::parse("set/s/0/0/0.json").unwrap();
    assert!(read_subtree(&context, &path, padded(LIMIT), u64::MAX).is_ok());
    let err = read_subtree(&context, &path, padded(LIMIT + 1), u64::MAX).unwrap_err();
    assert!(err.to_string().contains("too large"), "{err}");
}

#[test]
fn every_external_buffer_that_holds_no_availability_is_named_once() {
    let tiling = tiling("QUADTREE", 2, 5, &["c/{level}/{x}/{y}.glb"]);
    let (mut json, buffer) = quadtree_root_subtree();
    json["buffers"] = json!([
        {"byteLength": buffer.len()},
        {"uri": "meta-a.bin", "byteLength": 8},
        {"uri": "meta-b.bin", "byteLength": 8},
        {"uri": "meta-a.bin", "byteLength": 8},
    ]);
    let named = read(
        &context(&tiling, TileCoord::ROOT),
        &binary_subtree(&json, &buffer),
    )
    .unwrap();
    assert_eq!(named.buffers, strings(&["meta-a.bin", "meta-b.bin"]));
    assert_eq!(named.contents, strings(&["c/0/0/0.glb", "c/1/1/1.glb"]));
}

#[test]
fn overlapping_availability_views_are_read_in_one_pass() {
    // Child availability (bytes 0-1) overlaps tile (byte 0) and content (byte 1)
    // availability, which a subtree writer may do to share bytes.
    let mut buffer = vec![0b0001_0011, 0b0001_0001];
    buffer.resize(8, 0);
    let json = json!({
        "buffers": [{"byteLength": buffer.len()}],
        "bufferViews": [
            {"buffer": 0, "byteOffset": 0, "byteLength": 1},
            {"buffer": 0, "byteOffset": 1, "byteLength": 1},
            {"buffer": 0, "byteOffset": 0, "byteLength": 2},
        ],
        "tileAvailability": {"bitstream": 0},
        "contentAvailability": [{"bitstream": 1}],
        "childSubtreeAvailability": {"bitstream": 2},
    });
    let named = read_quadtree_root(&json, &buffer);
    // Tiles 0, 1 and 4 are available: (0,0,0), (1,0,0), (1,1,1); contents at 0 and 4.
    assert_eq!(named.contents, strings(&["c/0/0/0.glb", "c/1/1/1.glb"]));
    // Child bits 0, 1, 4, 8 and 12: 4 lies below the unavailable (1,1,0) and 8 below
    // (1,0,1), so they do not count.
    assert_eq!(
        named.subtrees,
        [
            ("s/2/0/0.subtree".to_owned(), coord(2, 0, 0, 0)),
            ("s/2/1/0.subtree".to_owned(), coord(2, 1, 0, 0)),
            ("s/2/2/2.subtree".to_owned(), coord(2, 2, 2, 0)),
        ]
    );
}

#[test]
fn a_subtree_naming_100_000_buffers_names_each_once() {
    // Work per subtree is linear in its size: before, each buffer was compared with every
    // one named before it, and this subtree took minutes.
    const COUNT: usize = 100_000;
    let tiling = tiling("QUADTREE", 2, 5, &["c/{level}/{x}/{y}.glb"]);
    let mut buffers: Vec<Value> = (0..COUNT)
        .map(|i| json!({"uri": format!("meta/{i}.bin"), "byteLength": 8}))
        .collect();
    // Each named a second time, which must not name it again.
    buffers.extend((0..COUNT).map(|i| json!({"uri": format!("meta/{i}.bin"), "byteLength": 8})));
    let document = json!({
        "buffers": buffers,
        "tileAvailability": {"constant": 1},
        "contentAvailability": [{"constant": 0}],
        "childSubtreeAvailability": {"constant": 0},
    });
    let named = read(
        &context(&tiling, TileCoord::ROOT),
        document.to_string().as_bytes(),
    )
    .unwrap();
    assert_eq!(named.buffers.len(), COUNT);
    assert!(
        named
            .buffers
            .iter()
            .enumerate()
            .all(|(i, uri)| *uri == format!("meta/{i}.bin"))
    );
}
