//! `download`'s bound flags: each one changes what the download accepts, in both modes.

use std::io::Write as _;

use serde_json::Value;

use crate::hostile_tilesets::{Hostile, serving};
use crate::support::{bare, service};

/// A blob store that serves `files` by request path, those marked gzipped with
/// `Content-Encoding: gzip` (404 otherwise).
struct Store(Hostile);

fn store(files: Vec<(&str, Vec<u8>, bool)>) -> Store {
    Store(serving(files))
}

impl Store {
    /// `mesh-export --json download --href` of the tileset at `/c/e/`, with `flags`, into a
    /// fresh directory: the exit code and the `--json` document.
    fn download(&self, flags: &[&str]) -> (Option<i32>, Value) {
        let out = tempfile::tempdir().unwrap();
        let href = format!("http://{}/c/e?sig=1", self.0.addr);
        let output = bare()
            .args(["--json", "download", "--href", &href, "--out"])
            .arg(out.path())
            .args(flags)
            .output()
            .unwrap();
        let doc = serde_json::from_slice(&output.stdout).unwrap_or_else(|_| {
            panic!("stdout: {}", String::from_utf8_lossy(&output.stdout));
        });
        (output.status.code(), doc)
    }
}

fn tileset_naming(uris: &[&str]) -> Vec<u8> {
    let children: Vec<Value> = uris
        .iter()
        .map(|uri| serde_json::json!({"geometricError": 1, "content": {"uri": uri}}))
        .collect();
    serde_json::to_vec(&serde_json::json!({
        "asset": {"version": "1.0"},
        "geometricError": 1,
        "root": {"geometricError": 1, "children": children}
    }))
    .unwrap()
}

fn gzip(body: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(body).unwrap();
    encoder.finish().unwrap()
}

/// The reasons of the document's failed files, joined.
fn reasons(doc: &Value) -> String {
    doc["failed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| format!("{}: {}", f["path"], f["reason"]))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn max_files_ends_a_tileset_of_more_files_with_exit_7_naming_the_bound() {
    let names = ["a.bin", "b.bin", "c.bin", "d.bin"];
    let mut files = vec![("/c/e/tileset.json", tileset_naming(&names), false)];
    for name in ["/c/e/a.bin", "/c/e/b.bin", "/c/e/c.bin", "/c/e/d.bin"] {
        files.push((name, b"tile".to_vec(), false));
    }
    let store = store(files);

    let (code, doc) = store.download(&["--max-files", "3"]);
    assert_eq!(code, Some(7), "{doc}");
    assert_eq!(doc["complete"], false);
    assert!(reasons(&doc).contains("max_files"), "{doc}");

    let (code, doc) = store.download(&["--max-files", "5"]);
    assert_eq!(code, Some(0), "{doc}");
    assert_eq!(doc["files"], 5, "{doc}");
}

#[test]
fn max_json_depth_refuses_a_tileset_nested_deeper_and_a_higher_one_reads_it() {
    // Four levels of tiles below the root: arrays and objects nest eleven deep.
    let mut tile = serde_json::json!({"geometricError": 1, "content": {"uri": "deep.bin"}});
    for _ in 0..4 {
        tile = serde_json::json!({"geometricError": 1, "children": [tile]});
    }
    let tileset =
        serde_json::json!({"asset": {"version": "1.0"}, "geometricError": 1, "root": tile});
    let store = store(vec![
        (
            "/c/e/tileset.json",
            serde_json::to_vec(&tileset).unwrap(),
            false,
        ),
        ("/c/e/deep.bin", b"tile".to_vec(), false),
    ]);

    let (code, doc) = store.download(&["--max-json-depth", "6"]);
    assert_eq!(code, Some(7), "{doc}");
    let reasons = reasons(&doc);
    assert!(reasons.contains("tileset.json"), "{reasons}");
    assert!(reasons.contains("max_json_depth"), "{reasons}");

    let (code, doc) = store.download(&["--max-json-depth", "20"]);
    assert_eq!(code, Some(0), "{doc}");
    assert_eq!(doc["files"], 2, "{doc}");
}

/// 3 MiB of one byte, gzipped: a thousandfold expansion, past the default 100:1.
fn gzipped_tile_store() -> Store {
    store(vec![
        ("/c/e/tileset.json", tileset_naming(&["t.bin"]), false),
        ("/c/e/t.bin", gzip(&vec![7u8; 3 << 20]), true),
    ])
}

#[test]
fn max_expansion_bounds_how_far_a_gzip_body_expands() {
    let store = gzipped_tile_store();

    let (code, doc) = store.download(&[]);
    assert_eq!(code, Some(7), "{doc}");
    assert!(reasons(&doc).contains("max_expansion"), "{doc}");

    let (code, doc) = store.download(&["--max-expansion", "100000"]);
    assert_eq!(code, Some(0), "{doc}");
    assert!(
        doc["bytes"].as_u64().unwrap() > 3 << 20,
        "kept decoded: {doc}"
    );
}

#[test]
fn max_decoded_bytes_takes_a_size_and_bounds_what_a_gzip_body_decodes_to() {
    let store = gzipped_tile_store();
    let lenient = ["--max-expansion", "100000"];

    let (code, doc) = store.download(&[&lenient[..], &["--max-decoded-bytes", "2MiB"]].concat());
    assert_eq!(code, Some(7), "{doc}");
    assert!(reasons(&doc).contains("max_decoded_bytes"), "{doc}");

    let (code, doc) = store.download(&[&lenient[..], &["--max-decoded-bytes", "4MiB"]].concat());
    assert_eq!(code, Some(0), "{doc}");
}

#[test]
fn a_size_that_is_not_one_is_a_usage_error() {
    bare()
        .args([
            "download",
            "--href",
            "http://127.0.0.1:9/c/e?sig=1",
            "--out",
            "x",
        ])
        .args(["--max-decoded-bytes", "lots"])
        .assert()
        .code(2);
}

#[test]
fn the_bounds_apply_to_an_export_download_too() {
    let service = service();
    let id = service.complete_export();
    let out = tempfile::tempdir().unwrap();

    let output = service
        .cmd()
        .args(["--json", "download", &id, "--max-files", "2", "--out"])
        .arg(out.path())
        .output()
        .unwrap();

    assert_eq!(output.status.code(), Some(7));
    let doc: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(reasons(&doc).contains("max_files"), "{doc}");
}
