//! A spec edit without regenerating fails `cargo xtask codegen --check`, with a diff that names
//! the change.

use std::path::Path;
use std::process::{Command, Output};

/// Runs `cargo xtask codegen --check` with `extra` arguments from the workspace root.
fn codegen_check(root: &Path, extra: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO"))
        .current_dir(root)
        .args([
            "run",
            "--quiet",
            "--package",
            "xtask",
            "--",
            "codegen",
            "--check",
        ])
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn a_new_query_parameter_fails_the_check_with_a_readable_diff() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let spec = std::fs::read_to_string(root.join("spec/openapi.yaml")).unwrap();
    let anchor = "        - name: Prefer\n          in: header\n";
    assert!(
        spec.contains(anchor),
        "the spec changed shape; update this test's anchor"
    );
    let edited = spec.replacen(
        anchor,
        &format!(
            "        - name: includeStatistics\n          in: query\n          description: Test-only parameter.\n          schema:\n            type: boolean\n{anchor}"
        ),
        1,
    );
    let dir = tempfile::tempdir().unwrap();
    let edited_path = dir.path().join("openapi.yaml");
    std::fs::write(&edited_path, edited).unwrap();
    let generated = root.join("crates/mesh-export-client/src/generated.rs");
    let before = std::fs::read(&generated).unwrap();

    let output = codegen_check(root, &["--spec".as_ref(), edited_path.as_os_str()]);

    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "check passed on a stale file:\n{stderr}"
    );
    assert!(stderr.contains("out of date"), "{stderr}");
    assert!(stdout.starts_with("--- "), "not a unified diff:\n{stdout}");
    let added: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with('+') && !l.starts_with("+++"))
        .collect();
    assert!(
        added.iter().any(|l| l.contains("include_statistics")),
        "diff does not name the change:\n{stdout}"
    );
    assert!(
        stdout
            .lines()
            .all(|l| !l.starts_with('-') || l.starts_with("---")),
        "adding an optional parameter should only add lines:\n{stdout}"
    );
    assert_eq!(
        std::fs::read(&generated).unwrap(),
        before,
        "--check wrote the generated file"
    );
}

#[test]
fn the_checked_in_code_passes_the_check() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let output = codegen_check(root, &["--quiet".as_ref()]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    assert!(output.stdout.is_empty());
}
