//! The `mesh-export` binary end to end: against the emulator on loopback, and against small
//! hostile servers ([`hostile`]).

mod hostile;

use std::time::Duration;

use assert_cmd::Command;
use mesh_export_emulator::{DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, Emulator, EmulatorBuilder};
use predicates::prelude::*;
use serde_json::Value;

const IMODEL: &str = "5e0c7a5e-9c39-4d8f-8f5e-6a4c3b7a2d10";
const FAILING_IMODEL: &str = "0badbad0-0000-4000-8000-000000000000";

/// An emulator on its own runtime, alive for the test.
struct Service {
    emulator: Emulator,
    _runtime: tokio::runtime::Runtime,
}

fn service_with(builder: EmulatorBuilder) -> Service {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let emulator = runtime.block_on(builder.start()).unwrap();
    Service {
        emulator,
        _runtime: runtime,
    }
}

fn service() -> Service {
    service_with(
        Emulator::builder()
            .tiles(6)
            .tile_bytes(4_000)
            .export_duration(Duration::from_millis(200))
            .fail_imodel(FAILING_IMODEL),
    )
}

/// The binary with no credentials from the environment of whoever runs the tests.
fn bare() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mesh-export"));
    for var in [
        "ITWIN_ACCESS_TOKEN",
        "ITWIN_SHARE_KEY",
        "ITWIN_CLIENT_ID",
        "ITWIN_CLIENT_SECRET",
        "ITWIN_TOKEN_URL",
        "MESH_EXPORT_BASE_URL",
        "RUST_LOG",
    ] {
        cmd.env_remove(var);
    }
    cmd.timeout(Duration::from_secs(60));
    cmd
}

impl Service {
    /// The binary pointed at the emulator with the demo client.
    fn cmd(&self) -> Command {
        let mut cmd = bare();
        cmd.args(["--base-url", &self.emulator.mesh_export_url()])
            .args(["--token-url", &self.emulator.token_url()])
            .args([
                "--client-id",
                DEMO_CLIENT_ID,
                "--client-secret",
                DEMO_CLIENT_SECRET,
            ]);
        cmd
    }

    /// Runs with `--json` and returns the parsed stdout, asserting success.
    fn json(&self, args: &[&str]) -> Value {
        let output = self.cmd().arg("--json").args(args).output().unwrap();
        assert!(
            output.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).unwrap()
    }

    /// Starts an export and waits for it; returns its id.
    fn complete_export(&self) -> String {
        let export = self.json(&["start", "--imodel", IMODEL, "--wait", "--interval", "0.05"]);
        assert_eq!(export["status"], "Complete");
        export["id"].as_str().unwrap().to_owned()
    }
}

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
fn login_prints_the_client_and_the_token_expiry() {
    let service = service();
    service
        .cmd()
        .arg("login")
        .assert()
        .success()
        .stdout(
            predicate::str::contains(DEMO_CLIENT_ID)
                .and(predicate::str::contains("token expires in")),
        )
        .stdout(predicate::str::contains(DEMO_CLIENT_SECRET).not());
    let login = service.json(&["login"]);
    assert_eq!(login["method"], "client_credentials");
    assert_eq!(login["client_id"], DEMO_CLIENT_ID);
    assert!(login["expires_in_seconds"].as_u64().unwrap() > 0);
}

#[test]
fn missing_or_rejected_credentials_exit_with_3_without_echoing_them() {
    let service = service();
    bare()
        .args(["--base-url", &service.emulator.mesh_export_url(), "login"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("no credentials"));
    bare()
        .args(["--base-url", &service.emulator.mesh_export_url()])
        .env("ITWIN_ACCESS_TOKEN", "not-a-real-token-value")
        .arg("login")
        .assert()
        .code(3)
        .stderr(predicate::str::contains("not-a-real-token-value").not());
    bare()
        .args(["--base-url", &service.emulator.mesh_export_url()])
        .args(["--token-url", &service.emulator.token_url()])
        .args([
            "--client-id",
            DEMO_CLIENT_ID,
            "--client-secret",
            "wrong-secret-value",
        ])
        .arg("list")
        .assert()
        .code(3)
        .stderr(predicate::str::contains("wrong-secret-value").not());
}

#[test]
fn list_sends_every_filter_the_api_has() {
    let service = service();
    let id = service.complete_export();
    let filters = [
        "list",
        "--imodel",
        IMODEL,
        "--type",
        "3DTiles",
        "--itwinjs",
        "4.10.2",
        "--cdn",
        "--order",
        "desc",
        "--page-size",
        "5",
        "--client",
        "app:1.0",
        "--tile-version",
    ];
    let listed = service.json(&[&filters[..], &["37"]].concat());
    let ids: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [id.as_str()]);
    // The service, not the CLI, applies tileVersion: a reader of 35 gets nothing.
    let listed = service.json(&[&filters[..], &["35"]].concat());
    assert_eq!(listed.as_array().unwrap().len(), 0, "{listed}");
}

#[test]
fn start_wait_list_get_url_and_delete() {
    let service = service();
    let id = service.complete_export();

    let listed = service.json(&["list", "--imodel", IMODEL]);
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["id"] == id.as_str())
    );
    service
        .cmd()
        .args(["list", "--imodel", IMODEL, "--all"])
        .assert()
        .success()
        .stdout(predicate::str::contains("STATUS").and(predicate::str::contains(&id)));

    let got = service.json(&["get", &id]);
    assert_eq!(got["status"], "Complete");
    let got = service.json(&["get", &id, "--imodel", IMODEL]);
    assert!(got["_links"]["mesh"]["href"].is_string());

    let url = service.json(&["url", &id]);
    let tileset_url = url["tileset_url"].as_str().unwrap();
    assert!(tileset_url.contains("/tileset.json?"), "{tileset_url}");
    let newest = service.json(&["url", "--imodel", IMODEL]);
    assert_eq!(newest["export_id"], id.as_str());

    service
        .cmd()
        .args(["wait", &id, "--interval", "0.05"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Complete"));

    assert_eq!(service.json(&["delete", &id])["deleted"], id.as_str());
    service.cmd().args(["get", &id]).assert().code(4);
}

#[test]
fn an_export_that_ends_invalid_exits_with_5() {
    let service = service();
    service
        .cmd()
        .args([
            "start",
            "--imodel",
            FAILING_IMODEL,
            "--wait",
            "--interval",
            "0.05",
        ])
        .assert()
        .code(5);
}

#[test]
fn url_of_an_imodel_without_complete_exports_exits_with_4() {
    let service = service();
    service
        .cmd()
        .args(["url", "--imodel", "00000000-0000-4000-8000-00000000abcd"])
        .assert()
        .code(4);
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

#[test]
fn download_fetches_the_tileset_and_a_second_run_fetches_nothing() {
    let service = service();
    let id = service.complete_export();
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().to_str().unwrap();

    let first = service.json(&["download", &id, "--out", dir, "--concurrency", "3"]);
    let files = first["files"].as_u64().unwrap();
    assert!(files > 6, "{first}");
    assert_eq!(first["downloaded_files"], files);
    assert!(out.path().join("tileset.json").is_file());
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(out.path().join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["complete"], true);
    assert_eq!(manifest["files"].as_array().unwrap().len() as u64, files);

    let second = service.json(&["download", "--imodel", IMODEL, "--out", dir]);
    assert_eq!(second["skipped"], files);
    assert_eq!(second["downloaded_files"], 0);

    // The raw href works too, and an invalid signature is exit code 8, never printed.
    let href = service.json(&["get", &id])["_links"]["mesh"]["href"]
        .as_str()
        .unwrap()
        .to_owned();
    let tampered = format!(
        "{}&sig=forged-signature-value",
        href.split("&sig=").next().unwrap()
    );
    let elsewhere = tempfile::tempdir().unwrap();
    bare()
        .args([
            "download",
            "--href",
            &tampered,
            "--out",
            elsewhere.path().to_str().unwrap(),
        ])
        .assert()
        .code(8)
        .stderr(
            predicate::str::contains("signature has expired")
                .and(predicate::str::contains("forged-signature-value").not()),
        );
    bare()
        .args([
            "--json",
            "download",
            "--href",
            &href,
            "--out",
            elsewhere.path().to_str().unwrap(),
        ])
        .assert()
        .success();
    assert!(elsewhere.path().join("tileset.json").is_file());
}

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
fn a_download_killed_halfway_resumes_without_fetching_complete_files_again() {
    let service = service_with(
        Emulator::builder()
            .tiles(300)
            .tile_bytes(100_000)
            .export_duration(Duration::from_millis(100)),
    );
    let id = service.complete_export();
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().to_str().unwrap();
    let journal = out.path().join(".mesh-export-journal.jsonl");

    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_mesh-export"));
    command
        .env_remove("ITWIN_ACCESS_TOKEN")
        .args(["--base-url", &service.emulator.mesh_export_url()])
        .args(["--token-url", &service.emulator.token_url()])
        .args([
            "--client-id",
            DEMO_CLIENT_ID,
            "--client-secret",
            DEMO_CLIENT_SECRET,
        ]);
    let mut child = command
        .args([
            "--json",
            "download",
            &id,
            "--out",
            dir,
            "--concurrency",
            "2",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    // The journal gets a line (after its header) just before each file is renamed into place.
    while std::fs::read_to_string(&journal)
        .map(|j| j.lines().count())
        .unwrap_or(0)
        <= 10
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the download did not start"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        !out.path().join("manifest.json").exists(),
        "the kill landed after the end"
    );
    // Complete at the kill: journaled and under the final name with the journaled size (the
    // kill may land between the journal line and the rename).
    let complete_at_kill = std::fs::read_to_string(&journal)
        .unwrap()
        .lines()
        .skip(1)
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|entry| {
            std::fs::metadata(out.path().join(entry["path"].as_str().unwrap()))
                .is_ok_and(|m| Some(m.len()) == entry["size"].as_u64())
        })
        .count();
    assert!(complete_at_kill >= 8, "{complete_at_kill}");

    let resumed = service.json(&["download", &id, "--out", dir]);
    let skipped = resumed["skipped"].as_u64().unwrap();
    assert!(
        skipped >= complete_at_kill as u64,
        "{skipped} < {complete_at_kill}"
    );
    assert_eq!(
        resumed["downloaded_files"].as_u64().unwrap() + skipped,
        resumed["files"].as_u64().unwrap()
    );
    let expected = tempfile::tempdir().unwrap();
    let count = mesh_export_emulator::dump_tileset(service.emulator.config(), &id, expected.path())
        .unwrap();
    assert_eq!(resumed["files"].as_u64().unwrap(), count as u64);
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(out.path().join("manifest.json")).unwrap()).unwrap();
    for file in manifest["files"].as_array().unwrap() {
        let rel = file["path"].as_str().unwrap();
        let want = std::fs::read(expected.path().join(rel)).unwrap();
        let have = std::fs::read(out.path().join(rel)).unwrap();
        assert!(want == have, "{rel} differs from what the emulator serves");
    }
}

#[test]
fn a_share_key_authenticates_as_basic_and_is_never_echoed() {
    let service = service_with(
        Emulator::builder()
            .export_duration(Duration::from_millis(200))
            .share_key("sk-cli-share-key"),
    );
    let url = service.emulator.mesh_export_url();
    let output = bare()
        .args([
            "--base-url",
            &url,
            "--share-key",
            "sk-cli-share-key",
            "--json",
            "login",
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let login: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(login["method"], "share_key");
    bare()
        .args(["--base-url", &url, "--json", "list"])
        .env("ITWIN_SHARE_KEY", "sk-cli-share-key")
        .assert()
        .success();
    bare()
        .args(["--base-url", &url, "-vvv", "login"])
        .env("ITWIN_SHARE_KEY", "sk-wrong-share-key")
        .assert()
        .code(3)
        .stderr(predicate::str::contains("sk-wrong-share-key").not());
}

// ---- `mesh-export schema`: the JSON Schemas of the --json documents -------------------------

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
    assert_matches_schema("delete", &service.json(&["delete", &id]), &combined);
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

/// A blob store on its own runtime that serves `files` by raw request path (404 otherwise),
/// whatever the query: a stand-in for a hostile or broken server.
struct Hostile {
    addr: std::net::SocketAddr,
    _runtime: tokio::runtime::Runtime,
}

fn hostile(files: Vec<(&str, Vec<u8>)>) -> Hostile {
    use axum::http::{StatusCode, Uri};
    use axum::response::IntoResponse;
    let files: std::collections::HashMap<String, Vec<u8>> = files
        .into_iter()
        .map(|(path, body)| (path.to_owned(), body))
        .collect();
    let files = std::sync::Arc::new(files);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let addr = runtime.block_on(async {
        let app = axum::Router::new().fallback(move |uri: Uri| {
            let files = files.clone();
            async move {
                match files.get(uri.path()) {
                    Some(body) => body.clone().into_response(),
                    None => StatusCode::NOT_FOUND.into_response(),
                }
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        addr
    });
    Hostile {
        addr,
        _runtime: runtime,
    }
}

/// A minimal valid binary glTF.
fn glb() -> Vec<u8> {
    let json = br#"{"asset":{"version":"2.0"}}  "#;
    let mut out = b"glTF".to_vec();
    out.extend_from_slice(&2u32.to_le_bytes());
    out.extend_from_slice(&((20 + json.len()) as u32).to_le_bytes());
    out.extend_from_slice(&(json.len() as u32).to_le_bytes());
    out.extend_from_slice(b"JSON");
    out.extend_from_slice(json);
    out
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

/// Every file and directory under `dir`, `/`-separated, directories ending in `/`.
fn everything_under(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.file_type().unwrap().is_dir() {
            out.push(format!("{name}/"));
            for rest in everything_under(&entry.path()) {
                out.push(format!("{name}/{rest}"));
            }
        } else {
            out.push(name);
        }
    }
    out.sort();
    out
}

#[test]
fn an_href_whose_file_name_climbs_out_of_the_directory_writes_nothing_anywhere() {
    let server = hostile(vec![
        ("/c/..%2F..%2Fx.json", tileset_naming(&["t.glb"])),
        ("/x.json", tileset_naming(&["t.glb"])),
        ("/c/t.glb", glb()),
        ("/t.glb", glb()),
    ]);
    let parent = tempfile::tempdir().unwrap();
    let out = parent.path().join("a/b/out");
    std::fs::create_dir_all(&out).unwrap();
    for name in [
        "..%2F..%2Fx.json",
        "..%5C..%5Cx.json",
        "C%3Ax.json",
        "NUL.json",
    ] {
        let href = format!("http://{}/c/{name}?sig=1", server.addr);
        bare()
            .args(["download", "--href", &href, "--out", out.to_str().unwrap()])
            .assert()
            .code(1)
            .stderr(predicate::str::contains("cannot be written safely"));
    }
    assert_eq!(everything_under(parent.path()), ["a/", "a/b/", "a/b/out/"]);
}

#[test]
fn hostile_names_and_failed_files_exit_7_and_are_listed_in_the_json_document() {
    let server = hostile(vec![
        (
            "/c/e/tileset.json",
            tileset_naming(&["ok.glb", "C%3Aevil.dll", "NUL.glb", "../x.glb", "gone.glb"]),
        ),
        ("/c/e/ok.glb", glb()),
    ]);
    let parent = tempfile::tempdir().unwrap();
    let out = parent.path().join("out");
    let href = format!("http://{}/c/e?sig=1", server.addr);

    let output = bare()
        .args(["--json", "download", "--href", &href, "--out"])
        .arg(&out)
        .output()
        .unwrap();

    assert_eq!(output.status.code(), Some(7));
    let doc: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(doc["complete"], false, "{doc}");
    assert_eq!(doc["files"], 2, "{doc}");
    let failed = doc["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 1, "{doc}");
    assert_eq!(failed[0]["path"], "gone.glb");
    assert!(failed[0]["reason"].as_str().unwrap().contains("404"));
    let refused: Vec<&str> = doc["refused"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["uri"].as_str().unwrap())
        .collect();
    assert_eq!(refused, ["C%3Aevil.dll", "NUL.glb", "../x.glb"]);
    assert!(
        doc["refused"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| !r["reason"].as_str().unwrap().is_empty())
    );
    let error: Value = serde_json::from_slice(&output.stderr).unwrap();
    assert_eq!(error["error"]["exit_code"], 7);
    assert_eq!(
        everything_under(parent.path()),
        [
            "out/",
            "out/manifest.json",
            "out/ok.glb",
            "out/tileset.json"
        ]
    );
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["complete"], false);
    assert_eq!(manifest["missing"].as_array().unwrap().len(), 4);
}

#[test]
fn a_download_that_outlives_its_signature_is_re_signed_and_exits_0() {
    let service = service_with(
        Emulator::builder()
            .tiles(2_000)
            .tile_bytes(500)
            .export_duration(Duration::from_millis(100))
            .sas_ttl(Duration::from_secs(1)),
    );
    service.complete_export();
    let out = tempfile::tempdir().unwrap();

    let doc = service.json(&[
        "download",
        "--imodel",
        IMODEL,
        "--out",
        out.path().to_str().unwrap(),
        "--concurrency",
        "1",
    ]);

    assert_eq!(doc["complete"], true, "{doc}");
    assert!(doc["files"].as_u64().unwrap() > 2_000, "{doc}");
    // Links live at most one second; two thousand files one after another take longer than
    // that in a debug build, however fast the machine.
    assert!(doc["resigns"].as_u64().unwrap() >= 1, "{doc}");
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(out.path().join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["complete"], true);
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

#[test]
fn an_implicit_template_the_walker_cannot_interpret_exits_7_with_its_reason() {
    let tileset = serde_json::to_vec(&serde_json::json!({
        "asset": {"version": "1.1"},
        "geometricError": 1,
        "root": {
            "geometricError": 1,
            // `{lod}` is no implicit tiling variable: what it names is unknown.
            "content": {"uri": "c/{level}/{x}/{y}/{lod}.glb"},
            "implicitTiling": {"subdivisionScheme": "QUADTREE", "subtreeLevels": 2,
                "availableLevels": 2, "subtrees": {"uri": "s/{level}/{x}/{y}.subtree"}}
        }
    }))
    .unwrap();
    let server = hostile(vec![("/c/e/tileset.json", tileset)]);
    let out = tempfile::tempdir().unwrap();
    let href = format!("http://{}/c/e?sig=1", server.addr);

    let output = bare()
        .args(["--json", "download", "--href", &href, "--out"])
        .arg(out.path())
        .output()
        .unwrap();

    assert_eq!(output.status.code(), Some(7));
    let doc: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(doc["complete"], false, "{doc}");
    let failed = doc["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 1, "{doc}");
    assert_eq!(failed[0]["path"], "tileset.json");
    assert!(
        failed[0]["reason"].as_str().unwrap().contains("{lod}"),
        "{doc}"
    );
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(out.path().join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["complete"], false);
}
