//! `cargo xtask spec-diff` end to end: the xtask binary on pairs of fixture definitions, one pair
//! per rule under `tests/fixtures/spec-diff/<rule>/{old,new}.yaml`. Each test checks the exit
//! status (0 nothing breaks, 1 something breaks, 2 bad input), that the rule fired with the
//! right mark, and snapshots the report.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::thread;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/spec-diff")
}

/// Runs `xtask spec-diff` from the fixtures directory, so paths in messages are short.
fn spec_diff(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .current_dir(fixtures())
        .arg("spec-diff")
        .args(args)
        .output()
        .expect("the xtask binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

/// Runs the fixture pair named after `rule`; asserts the exit status, that a change of that
/// rule is reported with the expected mark, and snapshots the report.
fn check_rule(rule: &str, breaking: bool) {
    let output = spec_diff(&[&format!("{rule}/old.yaml"), &format!("{rule}/new.yaml")]);
    let report = stdout(&output);
    let expected = if breaking { 1 } else { 0 };
    assert_eq!(
        output.status.code(),
        Some(expected),
        "{rule}: {report}{}",
        stderr(&output)
    );
    let mark = if breaking { "BREAKING" } else { "non-breaking" };
    let found = report
        .lines()
        .any(|line| line.trim_start().starts_with(mark) && line.contains(&format!(" {rule}: ")));
    assert!(found, "no {mark} `{rule}` change in:\n{report}");
    insta::assert_snapshot!(rule, report);
}

#[test]
fn identical_definitions_report_no_changes_and_exit_0() {
    let output = spec_diff(&["identical/old.yaml", "identical/new.yaml"]);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(stdout(&output), "no changes\n");
}

#[test]
fn the_workspace_spec_compared_with_itself_has_no_changes() {
    let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("../spec/openapi.yaml");
    let spec = spec.to_str().unwrap();
    let output = spec_diff(&[spec, spec]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stdout(&output), "no changes\n");
}

// ---- operations ---------------------------------------------------------------------------

#[test]
fn a_removed_operation_breaks() {
    check_rule("api-removed", true);
}

#[test]
fn an_added_operation_does_not_break() {
    check_rule("endpoint-added", false);
}

#[test]
fn a_changed_operation_id_breaks() {
    check_rule("api-operation-id-changed", true);
}

#[test]
fn an_operation_moved_to_another_path_is_matched_by_its_operation_id_and_breaks() {
    check_rule("api-operation-moved", true);
}

#[test]
fn a_newly_deprecated_operation_does_not_break() {
    check_rule("api-deprecated", false);
}

// ---- parameters ---------------------------------------------------------------------------

#[test]
fn a_new_required_parameter_breaks() {
    check_rule("new-required-request-parameter", true);
}

#[test]
fn a_new_optional_parameter_does_not_break() {
    check_rule("new-optional-request-parameter", false);
}

#[test]
fn a_removed_parameter_breaks() {
    check_rule("request-parameter-removed", true);
}

#[test]
fn a_parameter_that_became_required_breaks() {
    check_rule("request-parameter-became-required", true);
}

#[test]
fn a_parameter_type_change_breaks() {
    check_rule("request-parameter-type-changed", true);
}

#[test]
fn a_parameter_format_change_breaks() {
    check_rule("request-parameter-format-changed", true);
}

#[test]
fn a_parameter_moved_to_another_location_breaks() {
    check_rule("request-parameter-location-changed", true);
}

#[test]
fn a_request_enum_value_removed_from_a_parameter_breaks() {
    check_rule("request-parameter-enum-value-removed", true);
}

#[test]
fn a_request_enum_value_added_to_a_parameter_does_not_break() {
    check_rule("request-parameter-enum-value-added", false);
}

// ---- request bodies -----------------------------------------------------------------------

#[test]
fn a_new_required_request_property_breaks() {
    check_rule("new-required-request-property", true);
}

#[test]
fn a_new_optional_request_property_does_not_break() {
    check_rule("new-optional-request-property", false);
}

#[test]
fn a_removed_request_property_breaks() {
    check_rule("request-property-removed", true);
}

#[test]
fn a_request_enum_value_removed_from_a_body_property_breaks() {
    check_rule("request-property-enum-value-removed", true);
}

// ---- responses ----------------------------------------------------------------------------

#[test]
fn a_removed_response_property_breaks() {
    check_rule("response-property-removed", true);
}

#[test]
fn an_added_response_property_does_not_break() {
    check_rule("response-property-added", false);
}

#[test]
fn a_response_property_that_became_optional_breaks() {
    check_rule("response-property-became-optional", true);
}

#[test]
fn a_response_property_type_change_breaks() {
    check_rule("response-property-type-changed", true);
}

#[test]
fn a_response_property_format_change_breaks() {
    check_rule("response-property-format-changed", true);
}

#[test]
fn a_response_property_that_became_nullable_breaks() {
    check_rule("response-property-became-nullable", true);
}

#[test]
fn an_added_response_enum_value_does_not_break_the_open_enums() {
    check_rule("response-property-enum-value-added", false);
}

#[test]
fn a_response_enum_value_removed_does_not_break() {
    check_rule("response-property-enum-value-removed", false);
}

#[test]
fn an_enum_used_in_requests_and_responses_breaks_when_a_value_is_removed() {
    let output = spec_diff(&[
        "shared-schema-enum-value-removed/old.yaml",
        "shared-schema-enum-value-removed/new.yaml",
    ]);
    let report = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{report}");
    assert!(
        report.contains("schema Status (in requests and responses)"),
        "{report}"
    );
    assert!(
        report.contains("BREAKING      request-property-enum-value-removed"),
        "{report}"
    );
}

#[test]
fn a_response_body_of_another_type_breaks() {
    check_rule("response-body-type-changed", true);
}

#[test]
fn a_response_media_type_removed_breaks() {
    check_rule("response-media-type-removed", true);
}

#[test]
fn a_removed_request_body_breaks() {
    check_rule("request-body-removed", true);
}

#[test]
fn a_removed_success_status_breaks() {
    check_rule("response-success-status-removed", true);
}

#[test]
fn an_added_error_status_does_not_break() {
    check_rule("response-non-success-status-added", false);
}

#[test]
fn a_recursive_schema_is_walked_to_its_end_and_reports_each_change_once() {
    let output = spec_diff(&[
        "recursive-schema-property-removed/old.yaml",
        "recursive-schema-property-removed/new.yaml",
    ]);
    let report = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{report}");
    insta::assert_snapshot!("recursive-schema-property-removed", report);
}

// ---- security and servers -----------------------------------------------------------------

#[test]
fn a_removed_security_scheme_breaks() {
    check_rule("security-scheme-removed", true);
}

#[test]
fn a_new_security_alternative_does_not_break() {
    check_rule("api-security-alternative-added", false);
}

#[test]
fn a_removed_oauth_scope_breaks() {
    check_rule("security-scheme-scope-removed", true);
}

#[test]
fn a_removed_server_breaks() {
    check_rule("server-removed", true);
}

// ---- output formats -----------------------------------------------------------------------

#[test]
fn json_output_carries_every_change_with_its_rule_and_mark() {
    let output = spec_diff(&[
        "api-removed/old.yaml",
        "api-removed/new.yaml",
        "--format",
        "json",
    ]);
    assert_eq!(output.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["breaking"], true);
    assert_eq!(report["breaking_changes"], 1);
    let changes = report["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 2, "{report:#}");
    assert_eq!(changes[0]["rule"], "api-removed");
    assert_eq!(changes[0]["breaking"], true);
    assert_eq!(changes[0]["group"], "GET /things/{id} (get-thing)");
    assert_eq!(changes[1]["rule"], "endpoint-added");
    assert_eq!(changes[1]["breaking"], false);
}

#[test]
fn json_output_of_identical_definitions_is_an_empty_list_and_exit_0() {
    let output = spec_diff(&[
        "identical/old.yaml",
        "identical/new.yaml",
        "--format",
        "json",
    ]);
    assert_eq!(output.status.code(), Some(0));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["breaking"], false);
    assert_eq!(report["changes"], serde_json::json!([]));
}

// ---- bad input ----------------------------------------------------------------------------

/// Asserts exit status 2, nothing on stdout, and an error that mentions `needle`.
fn assert_bad_input(args: &[&str], needle: &str) {
    let output = spec_diff(args);
    let error = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{args:?}: {error}");
    assert!(output.stdout.is_empty(), "{}", stdout(&output));
    assert!(
        error.contains(needle),
        "{args:?}: `{needle}` not in {error}"
    );
}

#[test]
fn an_unreadable_file_exits_with_2() {
    assert_bad_input(
        &["bad-input/no-such-file.yaml", "bad-input/good.yaml"],
        "cannot read bad-input/no-such-file.yaml",
    );
}

#[test]
fn a_document_that_is_not_openapi_exits_with_2() {
    assert_bad_input(
        &["bad-input/good.yaml", "bad-input/not-openapi.yaml"],
        "not an OpenAPI document",
    );
}

#[test]
fn a_swagger_2_document_exits_with_2() {
    assert_bad_input(
        &["bad-input/swagger-2.yaml", "bad-input/good.yaml"],
        "Swagger 2.0",
    );
}

#[test]
fn an_openapi_3_1_document_exits_with_2() {
    assert_bad_input(
        &["bad-input/good.yaml", "bad-input/openapi-3.1.yaml"],
        "only OpenAPI 3.0.x",
    );
}

#[test]
fn text_that_is_not_yaml_exits_with_2() {
    assert_bad_input(
        &["bad-input/good.yaml", "bad-input/not-yaml.yaml"],
        "neither YAML nor JSON",
    );
}

#[test]
fn an_unresolvable_ref_exits_with_2() {
    assert_bad_input(
        &["bad-input/good.yaml", "bad-input/unresolvable-ref.yaml"],
        "unresolvable $ref `#/components/schemas/Missing`",
    );
}

#[test]
fn a_url_of_another_scheme_exits_with_2() {
    assert_bad_input(
        &["ftp://example.com/openapi.yaml", "bad-input/good.yaml"],
        "unsupported URL scheme `ftp`",
    );
}

#[test]
fn a_malformed_http_url_exits_with_2() {
    assert_bad_input(
        &["http://[not-an-address/spec.yaml", "bad-input/good.yaml"],
        "not a valid URL",
    );
}

#[test]
fn a_missing_argument_is_a_usage_error_with_exit_2() {
    let output = spec_diff(&["bad-input/good.yaml"]);
    assert_eq!(output.status.code(), Some(2));
}

// ---- URLs ---------------------------------------------------------------------------------

/// A one-connection-at-a-time HTTP server on loopback answering every request with `status`
/// and `body`; returns its base URL.
fn serve(status: &'static str, body: String) -> String {
    let head = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/yaml\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    serve_raw(head + &body)
}

/// Like [`serve`], with the whole response (head and body) as given.
fn serve_raw(response: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            // Read the request head; the body (there is none for GET) is not needed.
            while reader.read_line(&mut line).unwrap_or(0) > 0 && line != "\r\n" {
                line.clear();
            }
            let _ = stream.write_all(response.as_bytes());
        }
    });
    format!("http://{address}")
}

#[test]
fn a_definition_fetched_over_http_compares_like_the_file() {
    let good = std::fs::read_to_string(fixtures().join("bad-input/good.yaml")).unwrap();
    let base = serve("200 OK", good);
    let output = spec_diff(&[&format!("{base}/openapi.yaml"), "bad-input/good.yaml"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stdout(&output), "no changes\n");

    let changed = std::fs::read_to_string(fixtures().join("api-removed/new.yaml")).unwrap();
    let base = serve("200 OK", changed);
    let output = spec_diff(&["api-removed/old.yaml", &format!("{base}/openapi.yaml")]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(stdout(&output).contains("api-removed"));
}

#[test]
fn an_http_error_exits_with_2_without_showing_the_url_query() {
    let base = serve("404 Not Found", "gone".to_owned());
    let url = format!("{base}/openapi.yaml?sig=secret-signature");
    assert_bad_input(&[&url, "bad-input/good.yaml"], "HTTP 404");
    let output = spec_diff(&[&url, "bad-input/good.yaml"]);
    assert!(!stderr(&output).contains("secret-signature"));
}

#[test]
fn an_unreachable_url_exits_with_2() {
    // Bind then drop: the port is closed when the request is made.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    assert_bad_input(
        &[
            &format!("http://127.0.0.1:{port}/openapi.yaml"),
            "bad-input/good.yaml",
        ],
        "cannot fetch",
    );
}

#[test]
fn a_server_announcing_an_absurd_size_is_refused_with_2_before_reading() {
    let base = serve_raw(
        "HTTP/1.1 200 OK\r\ncontent-length: 99999999999\r\nconnection: close\r\n\r\nopenapi: 3.0.3\n"
            .to_owned(),
    );
    assert_bad_input(
        &[&format!("{base}/openapi.yaml"), "bad-input/good.yaml"],
        "larger than",
    );
}

#[test]
fn a_body_longer_than_the_limit_is_refused_with_2() {
    // No content-length: the reader stops at the limit instead of trusting the server.
    let body = "#".repeat(16 * 1024 * 1024 + 10);
    let base = serve_raw(format!(
        "HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n{body}"
    ));
    assert_bad_input(
        &[&format!("{base}/openapi.yaml"), "bad-input/good.yaml"],
        "larger than",
    );
}
