//! `--help`, usage errors, and the error document `--json` prints on stderr.

use mesh_export_emulator::DEMO_CLIENT_ID;
use serde_json::Value;

use crate::support::{FAILING_IMODEL, bare, service};

// The snapshot lists `demo` among the commands.
#[cfg(feature = "demo")]
#[test]
fn help_documents_exit_codes_and_json_shapes() {
    let output = bare().arg("--help").output().unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    insta::assert_snapshot!("help", help);
}

#[test]
fn a_usage_error_exits_with_2() {
    bare().args(["download", "--out", "x"]).assert().code(2);
    bare().args(["frobnicate"]).assert().code(2);
}

#[test]
fn concurrency_is_pinned_or_bounded_but_not_both_and_the_bounds_in_order() {
    let href = "http://127.0.0.1:9/c?sig=x";
    let download = |extra: &[&str]| {
        let mut command = bare();
        command
            .args(["download", "--href", href, "--out", "x"])
            .args(extra);
        command.output().unwrap()
    };
    let both = download(&["--concurrency", "8", "--max-concurrency", "16"]);
    assert_eq!(both.status.code(), Some(2), "{both:?}");
    let reversed = download(&["--min-concurrency", "9", "--max-concurrency", "3"]);
    assert_eq!(reversed.status.code(), Some(2), "{reversed:?}");
    let stderr = String::from_utf8_lossy(&reversed.stderr);
    assert!(
        stderr.contains("--max-concurrency (3) is below --min-concurrency (9)"),
        "{stderr}"
    );
    let help = bare().args(["download", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    for flag in [
        "--concurrency <N>",
        "--min-concurrency <N>",
        "--max-concurrency <N>",
    ] {
        assert!(help.contains(flag), "{flag} missing from:\n{help}");
    }
}

/// Asserts a failed `--json` run printed nothing on stdout and exactly one error document,
/// `{"error": {"message", "exit_code"}}`, on stderr, whose code is the process's.
fn assert_json_error(output: &std::process::Output, code: i32) -> String {
    assert_eq!(output.status.code(), Some(code), "{output:?}");
    assert!(output.stdout.is_empty(), "stdout: {:?}", output.stdout);
    let document: Value = serde_json::from_slice(&output.stderr).unwrap_or_else(|e| {
        panic!(
            "stderr is not one JSON document ({e}): {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    let error = document["error"].as_object().expect("an `error` object");
    assert_eq!(document.as_object().unwrap().len(), 1, "{document}");
    let mut keys: Vec<&str> = error.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["exit_code", "message"], "{document}");
    assert_eq!(
        error["exit_code"].as_i64(),
        Some(i64::from(code)),
        "{document}"
    );
    let message = error["message"].as_str().unwrap().to_owned();
    assert!(!message.is_empty());
    message
}

#[test]
fn a_failure_with_json_prints_one_error_document_with_the_exit_code() {
    let service = service();
    let not_found = service
        .cmd()
        .args([
            "--json",
            "url",
            "--imodel",
            "00000000-0000-4000-8000-00000000abcd",
        ])
        .output()
        .unwrap();
    assert_json_error(&not_found, 4);

    let invalid = service
        .cmd()
        .args([
            "--json",
            "start",
            "--imodel",
            FAILING_IMODEL,
            "--wait",
            "--interval",
            "0.05",
        ])
        .output()
        .unwrap();
    assert_json_error(&invalid, 5);

    let refused = bare()
        .args(["--json", "--base-url", &service.emulator.mesh_export_url()])
        .args(["--token-url", &service.emulator.token_url()])
        .args([
            "--client-id",
            DEMO_CLIENT_ID,
            "--client-secret",
            "wrong-secret-value",
        ])
        .arg("list")
        .output()
        .unwrap();
    let message = assert_json_error(&refused, 3);
    assert!(!message.contains("wrong-secret-value"), "{message}");
}

#[cfg(not(feature = "demo"))]
#[test]
fn without_the_demo_feature_demo_is_an_unknown_command() {
    bare().arg("demo").assert().code(2);
}
