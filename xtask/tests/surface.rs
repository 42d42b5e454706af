//! Snapshots of the generated client's reviewable surface: a spec change shows up here as a
//! readable diff next to the `--check` drift guard. Under `CI=true` a mismatch fails and writes
//! nothing.

use std::path::Path;

use xtask::codegen::{self, Generated, surface};

fn generated() -> Generated {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let spec = codegen::load_spec(&root.join(codegen::SPEC_PATH)).unwrap();
    codegen::generate(spec).unwrap()
}

#[test]
fn client_methods_with_their_deprecation_marks() {
    insta::assert_snapshot!(
        "client_methods",
        surface::methods(&generated().source).unwrap()
    );
}

#[test]
fn generated_types() {
    insta::assert_snapshot!("types", surface::types(&generated().source).unwrap());
}

#[test]
fn normalization_log() {
    insta::assert_snapshot!("normalization_log", generated().log.join("\n"));
}

#[test]
fn generation_is_deterministic() {
    assert_eq!(generated().source, generated().source);
}

#[test]
fn checked_in_code_matches_the_spec() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let checked_in = std::fs::read_to_string(root.join(codegen::GENERATED_PATH)).unwrap();
    if let Some(diff) = codegen::diff(&checked_in, &generated().source, codegen::GENERATED_PATH) {
        panic!("generated code is stale; run `cargo xtask codegen`:\n{diff}");
    }
}
