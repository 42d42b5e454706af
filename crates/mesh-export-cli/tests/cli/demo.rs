//! `demo`: the emulator in-process, an export, and its download, with no account.

use predicates::prelude::*;
use serde_json::Value;

use crate::support::bare;

#[test]
fn demo_leaves_a_complete_tileset_on_disk() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("demo");
    bare()
        .args([
            "demo",
            dir.to_str().unwrap(),
            "--tiles",
            "8",
            "--tile-bytes",
            "4000",
            "--export-seconds",
            "0.2",
        ])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("tileset: ").and(predicate::str::contains("tileset.json")),
        );
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["complete"], true);
    for file in manifest["files"].as_array().unwrap() {
        let path = dir.join(file["path"].as_str().unwrap());
        assert_eq!(
            std::fs::metadata(&path).unwrap().len(),
            file["size"].as_u64().unwrap(),
            "{path:?}"
        );
    }
    let tileset: Value =
        serde_json::from_slice(&std::fs::read(dir.join("tileset.json")).unwrap()).unwrap();
    assert!(tileset["root"].is_object());

    let again = bare()
        .args([
            "--json",
            "demo",
            dir.to_str().unwrap(),
            "--tiles",
            "8",
            "--tile-bytes",
            "4000",
            "--export-seconds",
            "0.2",
        ])
        .output()
        .unwrap();
    assert!(again.status.success());
    let summary: Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(
        summary["tileset"],
        dir.join("tileset.json").to_str().unwrap()
    );
    assert!(summary["files"].as_u64().unwrap() >= 10);
}

#[test]
fn demo_downloads_an_implicit_octree_complete() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("implicit");
    bare()
        .args([
            "demo",
            dir.to_str().unwrap(),
            "--implicit",
            "octree",
            "--tile-bytes",
            "1000",
            "--export-seconds",
            "0.2",
        ])
        .assert()
        .success();
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["complete"], true);
    let files: Vec<&str> = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert!(files.contains(&"subtrees/0/0/0/0.subtree"), "{files:?}");
    assert!(
        files.iter().any(|f| f.starts_with("subtrees/4/")),
        "{files:?}"
    );
    assert!(files.iter().any(|f| f.starts_with("detail/")), "{files:?}");
}
