//! The direction of dependencies between the workspace's crates (ARCHITECTURE.md): the reader
//! is free of the network, and the engine crates never reach the API crate, read from the
//! resolved dependency graph that `cargo metadata` prints for the locked workspace.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// The platform this test was built for, as `rustc -vV` names it.
fn host_triple() -> String {
    let output = Command::new("rustc").arg("-vV").output().unwrap();
    let text = String::from_utf8(output.stdout).unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix("host: "))
        .expect("rustc -vV names its host")
        .to_owned()
}

/// The normal (non-dev, non-build) dependency graph on this platform: package name -> names it
/// depends on. Offline: the packages of other platforms need not be downloaded.
fn normal_dependencies() -> HashMap<String, Vec<String>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let output = Command::new(env!("CARGO"))
        .current_dir(root)
        .args(["metadata", "--format-version", "1", "--locked", "--offline"])
        .args(["--filter-platform", &host_triple()])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: Value = serde_json::from_slice(&output.stdout).unwrap();
    let name_of: HashMap<&str, &str> = metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), p["name"].as_str().unwrap()))
        .collect();
    let mut graph = HashMap::new();
    for node in metadata["resolve"]["nodes"].as_array().unwrap() {
        let normal = node["deps"].as_array().unwrap().iter().filter(|dep| {
            dep["dep_kinds"]
                .as_array()
                .unwrap()
                .iter()
                .any(|kind| kind["kind"].is_null())
        });
        let names = normal
            .map(|dep| name_of[dep["pkg"].as_str().unwrap()].to_owned())
            .collect();
        graph.insert(name_of[node["id"].as_str().unwrap()].to_owned(), names);
    }
    graph
}

/// Every package `package` reaches through normal dependencies, itself excluded.
fn reachable(graph: &HashMap<String, Vec<String>>, package: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut stack = vec![package.to_owned()];
    while let Some(next) = stack.pop() {
        for dep in graph.get(&next).into_iter().flatten() {
            if seen.insert(dep.clone()) {
                stack.push(dep.clone());
            }
        }
    }
    seen
}

#[test]
fn the_engine_crates_never_reach_the_api_crates_and_the_reader_no_network() {
    let graph = normal_dependencies();
    let api = ["mesh-export", "mesh-export-client", "mesh-export-emulator"];
    for (crate_name, forbidden) in [
        (
            "tiles3d",
            &[
                "tokio",
                "reqwest",
                "hyper",
                "tiles3d-download",
                "http-policy",
            ][..],
        ),
        ("tiles3d-download", &[][..]),
        ("http-policy", &["tiles3d", "tiles3d-download"][..]),
    ] {
        let reached = reachable(&graph, crate_name);
        assert!(!reached.is_empty(), "{crate_name} is not in the graph");
        for name in api.iter().chain(forbidden) {
            assert!(
                !reached.contains(*name),
                "{crate_name} depends on {name}: {reached:?}"
            );
        }
    }
    // The API crate uses the engine through its adapter, and both use the one retry engine.
    let api_reaches = reachable(&graph, "mesh-export");
    assert!(api_reaches.contains("tiles3d-download") && api_reaches.contains("http-policy"));
}
