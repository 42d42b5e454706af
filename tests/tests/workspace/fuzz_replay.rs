//! Every committed fuzz input, replayed through its target's property on a stable compiler:
//! the minimized seeds (`<fuzz crate>/seeds/<target>/`) and every input that once found a bug
//! (`<fuzz crate>/regressions/<target>/`), of both fuzz crates: the engine's (`fuzz/`) and the
//! API client's (`crates/mesh-export/fuzz/`). A regression input that fails again names its
//! file.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use crate::{api_fuzz_oracles, fuzz_oracles};

/// The fuzz crate that owns `target`.
fn fuzz_dir(target: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    match target {
        "error_body" => root.join("crates/mesh-export/fuzz"),
        _ => root.join("fuzz"),
    }
}

/// Runs every input of `target` through `check`; returns how many ran. Fails naming each input
/// whose property does not hold.
fn replay(target: &str, check: fn(&[u8])) -> usize {
    let mut inputs = Vec::new();
    for kind in ["seeds", "regressions"] {
        let dir = fuzz_dir(target).join(kind).join(target);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_file() {
                inputs.push(path);
            }
        }
    }
    inputs.sort();
    let mut failures = Vec::new();
    for path in &inputs {
        let data = std::fs::read(path).unwrap();
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| check(&data))) {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            failures.push(format!("{}: {message}", path.display()));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} inputs fail:\n{}",
        failures.len(),
        inputs.len(),
        failures.join("\n")
    );
    inputs.len()
}

/// The number of committed inputs must not quietly drop to nothing.
fn assert_replayed(target: &str, ran: usize, regressions: usize) {
    let regression_dir = fuzz_dir(target).join("regressions").join(target);
    let committed = std::fs::read_dir(&regression_dir).map_or(0, |d| d.count());
    assert!(
        committed >= regressions,
        "{target}: regression inputs are missing"
    );
    assert!(ran > regressions, "{target}: no seeds were replayed");
}

#[test]
fn retry_after_inputs_hold() {
    let ran = replay("retry_after", fuzz_oracles::retry_after::check);
    assert_replayed("retry_after", ran, 4);
}

#[test]
fn error_body_inputs_hold() {
    let ran = replay("error_body", api_fuzz_oracles::error_body::check);
    assert_replayed("error_body", ran, 4);
}

#[test]
fn tileset_walk_inputs_hold() {
    let ran = replay("tileset_walk", fuzz_oracles::tileset_walk::check);
    assert_replayed("tileset_walk", ran, 2);
}

#[test]
fn tileset_url_inputs_hold() {
    let ran = replay("tileset_url", fuzz_oracles::tileset_url::check);
    assert_replayed("tileset_url", ran, 12);
}

#[test]
fn subtree_inputs_hold() {
    let ran = replay("subtree", fuzz_oracles::subtree::check);
    assert_replayed("subtree", ran, 0);
}

#[test]
fn content_read_inputs_hold() {
    let ran = replay("content_read", fuzz_oracles::content_read::check);
    assert_replayed("content_read", ran, 0);
}

/// The hand-made seeds of `content_read` (`fuzz/content_read_seeds.py` writes them), one per
/// kind and form of file, reach the reader and name what they should: a seed that stopped
/// reaching it would leave the fuzzer to find that form again.
#[test]
fn content_read_fixture_seeds_name_their_files() {
    let subtree_contents = [
        "content/0/0/0.glb",
        "content/1/0/0.glb",
        "content/1/1/0.glb",
        "content/1/0/1.glb",
        "content/1/1/1.glb",
    ];
    let expected: &[(&str, &[&str], Option<&str>)] = &[
        (
            "b3dm-embedded-gltf-names-buffer-and-image",
            &["b.bin", "i.png"],
            None,
        ),
        ("i3dm-embedded-gltf", &["tex.jpg"], None),
        ("i3dm-uri-padded-with-spaces-and-nuls", &["Box.glb"], None),
        (
            "cmpt-nesting-cmpt-b3dm-and-i3dm",
            &["inner.bin", "Tree.glb"],
            None,
        ),
        ("pnts-names-nothing", &[], None),
        (
            "glb-buffer-image-and-structural-metadata",
            &["m.bin", "m.png", "schemas/m.json"],
            None,
        ),
        (
            "gltf-ext-structural-metadata-schema-uri",
            &["g.bin", "schemas/g.json"],
            None,
        ),
        (
            "tileset-1.0-3dtiles-metadata-schema-uri",
            &["a.b3dm", "sub/tileset.json", "meta/schema.json"],
            None,
        ),
        (
            "tileset-1.1-implicit-root-names-its-subtree",
            &["s/0/0/0.subtree"],
            None,
        ),
        ("tileset-gzip-magic", &["g.glb"], None),
        ("tileset-bom", &["bom.glb"], None),
        ("schema-json-bom-names-nothing", &[], None),
        ("sniffed-glb-under-bin", &["s.png"], None),
        ("sniffed-gltf-json-under-bin", &["j.bin"], None),
        ("sniffed-b3dm-under-bin", &["sb.png"], None),
        ("subtree-json-constant", &subtree_contents, None),
        ("subtree-gzip-magic", &subtree_contents, None),
        (
            "subtree-json-past-max-files",
            &[],
            Some("more than the 7 allowed"),
        ),
        (
            "subtree-binary-bitstream-and-metadata-buffer",
            &["meta.bin", "content/0/0/0.glb", "content/1/0/0.glb"],
            None,
        ),
        (
            "subtree-json-external-availability-buffer",
            &["avail.bin", "content/0/0/0.glb", "content/1/1/0.glb"],
            None,
        ),
        ("conditional-content-json", &["r0.glb", "r1.b3dm"], None),
        ("tileset-800-deep-unbounded", &["deep.glb"], None),
        ("tileset-past-max-json-depth", &[], Some("deeper than 8")),
    ];
    let dir = fuzz_dir("content_read").join("seeds/content_read");
    for &(seed, named, error) in expected {
        let data = std::fs::read(dir.join(seed)).unwrap_or_else(|e| panic!("{seed}: {e}"));
        let outcome = fuzz_oracles::content_read::read(&data);
        let mut got = outcome.named.clone();
        got.sort();
        let mut want: Vec<String> = named.iter().map(|s| (*s).to_owned()).collect();
        want.sort();
        assert_eq!(got, want, "{seed}: {outcome:?}");
        match error {
            Some(error) => assert!(
                outcome.errors.len() == 1 && outcome.errors[0].contains(error),
                "{seed}: {outcome:?}"
            ),
            None => assert!(outcome.errors.is_empty(), "{seed}: {outcome:?}"),
        }
    }
}
