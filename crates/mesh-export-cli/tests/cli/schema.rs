//! `mesh-export schema`: the JSON Schemas of the `--json` documents, and outputs that match them.

use serde_json::Value;

use crate::support::{IMODEL, bare, service};

/// `mesh-export schema [COMMAND]`, parsed.
fn printed_schema(command: Option<&str>) -> Value {
    let output = bare().arg("schema").args(command).output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// The validation errors of `instance` against `schema`, one line each.
fn schema_errors(schema: &Value, instance: &Value) -> Vec<String> {
    let validator = jsonschema::validator_for(schema).expect("the printed schema compiles");
    validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

/// The combined schema's entry for `command`, standing alone with the shared definitions.
fn combined_for(combined: &Value, command: &str) -> Value {
    let mut schema = combined["properties"][command].clone();
    let root = schema.as_object_mut().unwrap();
    root.insert("$schema".into(), combined["$schema"].clone());
    root.insert("$defs".into(), combined["$defs"].clone());
    schema
}

/// Asserts `document`, the --json output of `command`, matches both `schema COMMAND` and the
/// combined schema's entry for it.
fn assert_matches_schema(command: &str, document: &Value, combined: &Value) {
    let own = printed_schema(Some(command));
    let errors = schema_errors(&own, document);
    assert!(errors.is_empty(), "{command}: {errors:#?}\n{document:#}");
    let errors = schema_errors(&combined_for(combined, command), document);
    assert!(errors.is_empty(), "{command} (combined): {errors:#?}");
}

#[test]
fn every_command_output_matches_its_printed_schema() {
    let service = service();
    let combined = printed_schema(None);
    assert_matches_schema("login", &service.json(&["login"]), &combined);
    let started = service.json(&["start", "--imodel", IMODEL, "--wait", "--interval", "0.05"]);
    assert_matches_schema("start", &started, &combined);
    let id = started["id"].as_str().unwrap().to_owned();
    assert_matches_schema(
        "wait",
        &service.json(&["wait", &id, "--interval", "0.05"]),
        &combined,
    );
    assert_matches_schema(
        "list",
        &service.json(&["list", "--imodel", IMODEL]),
        &combined,
    );
    // Prefer return=representation: request and _links are present too.
    assert_matches_schema(
        "get",
        &service.json(&["get", &id, "--imodel", IMODEL]),
        &combined,
    );
    assert_matches_schema("url", &service.json(&["url", &id]), &combined);
    let out = tempfile::tempdir().unwrap();
    let downloaded = service.json(&["download", &id, "--out", out.path().to_str().unwrap()]);
    assert_matches_schema("download", &downloaded, &combined);
    assert_matches_schema("demo", &downloaded, &combined);
    assert_matches_schema(
        "delete",
        &service.json(&["delete", &id, "--yes"]),
        &combined,
    );
}

#[test]
fn the_error_document_on_stderr_matches_the_error_schema() {
    let service = service();
    let output = service
        .cmd()
        .args(["--json", "get", "00000000-0000-4000-8000-00000000dead"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(4));
    let document: Value = serde_json::from_slice(&output.stderr).unwrap();
    assert_matches_schema("error", &document, &printed_schema(None));
    assert_eq!(document["error"]["exit_code"], 4);
}

#[test]
fn the_schemas_reject_documents_that_break_them() {
    let get = printed_schema(Some("get"));
    let no_status = serde_json::json!({"id": "x", "displayName": "y"});
    assert!(!schema_errors(&get, &no_status).is_empty());
    let stats_as_text = serde_json::json!({
        "id": "x", "displayName": "y", "status": "Complete", "stats": {"rawSize": "big"}
    });
    assert!(!schema_errors(&get, &stats_as_text).is_empty());
    // Response enums are open: an unknown status is a valid Export.
    let new_status = serde_json::json!({"id": "x", "displayName": "y", "status": "Queued"});
    assert_eq!(schema_errors(&get, &new_status), Vec::<String>::new());

    let error = printed_schema(Some("error"));
    let unexpected = serde_json::json!({"error": {"message": "m", "exit_code": 1, "token": "t"}});
    assert!(!schema_errors(&error, &unexpected).is_empty());
    let list = printed_schema(Some("list"));
    assert!(!schema_errors(&list, &serde_json::json!({"exports": []})).is_empty());
}

#[test]
fn the_combined_schema_has_one_entry_per_command_and_the_error_document() {
    let combined = printed_schema(None);
    let mut names: Vec<&str> = combined["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "delete", "demo", "download", "error", "get", "list", "login", "start", "url", "wait"
        ]
    );
}

#[test]
fn schema_of_an_unknown_command_is_a_usage_error() {
    bare().args(["schema", "frobnicate"]).assert().code(2);
}
