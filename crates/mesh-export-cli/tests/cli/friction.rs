//! What a person meets: input checked before any request, hints that say what to do, waits
//! that are announced, and the conventions of command line tools (`--yes`, `--quiet`,
//! `NO_COLOR`, completions, a man page).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use mesh_export_emulator::Emulator;
use predicates::prelude::*;

use crate::hostile::{TOKEN, empty_page, json_reply, server};
use crate::support::{IMODEL, Service, bare, service, service_with};

/// An emulator whose exports run for a minute: long enough to be running throughout a test.
fn slow_service() -> crate::support::Service {
    service_with(
        Emulator::builder()
            .tiles(4)
            .tile_bytes(1_000)
            .export_duration(Duration::from_secs(60)),
    )
}

#[test]
fn bad_ids_and_types_exit_2_before_any_request() {
    let service = service();
    let out = tempfile::tempdir().unwrap();
    let blocked = out.path().join("a-file");
    std::fs::write(&blocked, b"not a directory").unwrap();
    let under_a_file = blocked.join("tiles");
    let cases: [&[&str]; 7] = [
        &["get", "not an id"],
        &["get", "abc/../def"],
        &["wait", "e1", "--imodel", "https://example.com/x?y"],
        &["start", "--imodel", IMODEL, "--type", "tiles"],
        &["list", "--type", "3D-Tiles"],
        &["url", "--imodel", IMODEL, "--type", "gltf"],
        &[
            "download",
            "fc3aa1e5-5196-4dd9-a73e-4cfda693e576",
            "--out",
            under_a_file.to_str().unwrap(),
        ],
    ];
    for args in cases {
        service.cmd().args(args).assert().code(2);
    }
    assert_eq!(service.emulator.stats().requests, 0, "a request was sent");
}

#[test]
fn an_unknown_type_lists_the_valid_values_and_any_type_sends_it() {
    let service = service();
    service
        .cmd()
        .args(["start", "--imodel", IMODEL, "--type", "tiles"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("3DTiles, 3DFT, CESIUM, IMODEL"));
    // Any case of a known type is that type.
    let started = service.json(&["start", "--imodel", IMODEL, "--type", "cesium"]);
    assert_eq!(started["request"]["exportType"], "CESIUM", "{started}");
    // The API's enum is open: --any-type sends the value as it is, and the service judges it.
    service
        .cmd()
        .args(["start", "--imodel", IMODEL, "--type", "GLTF", "--any-type"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("3DTiles, 3DFT, CESIUM, IMODEL"));
    assert!(service.emulator.stats().requests > 0);
}

#[test]
fn an_unknown_export_id_is_a_404_with_a_hint_to_list_exports() {
    let service = service();
    service
        .cmd()
        .args(["get", "00000000-0000-4000-8000-000000000000"])
        .assert()
        .code(4)
        .stderr(
            predicate::str::contains("hint: ").and(predicate::str::contains("mesh-export list")),
        );
}

#[test]
fn deleting_a_running_export_says_wait_for_it_then_delete() {
    let service = slow_service();
    let started = service.json(&["start", "--imodel", IMODEL]);
    let id = started["id"].as_str().unwrap();
    service
        .cmd()
        .args(["delete", id, "--yes"])
        .assert()
        .failure()
        .stderr(predicate::str::contains(format!(
            "wait for it with `mesh-export wait {id}`, then delete"
        )));
}

#[test]
fn a_refused_connection_names_the_host_and_port() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    bare()
        .args(["--base-url", &format!("http://{addr}/mesh-export")])
        .args(["--token", "t", "list"])
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains(format!("cannot connect to {addr}"))
                .and(predicate::str::contains("MESH_EXPORT_BASE_URL")),
        );
}

/// The binary against `service` with an access token the emulator refuses in the
/// environment, beside valid client credentials.
fn token_beside_client_credentials(service: &Service) -> assert_cmd::Command {
    let mut cmd = bare();
    cmd.args(["--base-url", &service.emulator.mesh_export_url()])
        .env("ITWIN_ACCESS_TOKEN", "an-expired-token-value")
        .env("ITWIN_CLIENT_ID", mesh_export_emulator::DEMO_CLIENT_ID)
        .env(
            "ITWIN_CLIENT_SECRET",
            mesh_export_emulator::DEMO_CLIENT_SECRET,
        )
        .env("ITWIN_TOKEN_URL", service.emulator.token_url());
    cmd
}

#[test]
fn a_stale_access_token_beside_client_credentials_suggests_unsetting_it() {
    let service = service();
    token_beside_client_credentials(&service)
        .arg("list")
        .assert()
        .code(3)
        .stderr(
            predicate::str::contains("unset ITWIN_ACCESS_TOKEN")
                .and(predicate::str::contains("an-expired-token-value").not()),
        );
}

#[test]
fn an_expired_href_says_download_by_id_for_a_fresh_link() {
    let service = service();
    let id = service.complete_export();
    let href = service.json(&["get", &id, "--show-url"])["_links"]["mesh"]["href"]
        .as_str()
        .unwrap()
        .to_owned();
    let forged = format!("{}&sig=forged", href.split("&sig=").next().unwrap());
    let out = tempfile::tempdir().unwrap();
    bare()
        .args(["download", "--href", &forged, "--out"])
        .arg(out.path())
        .assert()
        .code(8)
        .stderr(
            predicate::str::contains("run `mesh-export download ID --out DIR` for a fresh link")
                .and(predicate::str::contains("get-exports").not()),
        );
}

#[test]
fn a_retry_wait_longer_than_two_seconds_is_announced_with_its_reason_and_length() {
    let lists = Arc::new(AtomicUsize::new(0));
    let seen = lists.clone();
    let server = server(move |method, target, root| {
        if method == "POST" && target.starts_with("/connect/token") {
            return json_reply(200, TOKEN);
        }
        if seen.fetch_add(1, Ordering::SeqCst) == 0 {
            return (429, vec![("retry-after", "3".into())], String::new());
        }
        json_reply(200, empty_page(root))
    });
    let output = server.cmd().arg("list").output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("rate limited: waiting 3.0s (the service asked for it with Retry-After)"),
        "{stderr}"
    );
    assert_eq!(lists.load(Ordering::SeqCst), 2);
    // --quiet keeps it off stderr.
    let quiet = server.cmd().args(["--quiet", "list"]).output().unwrap();
    assert!(quiet.status.success());
    assert_eq!(String::from_utf8_lossy(&quiet.stderr), "");
}

#[test]
fn a_timed_out_wait_names_the_export_and_the_command_that_resumes() {
    let service = slow_service();
    let output = service
        .cmd()
        .args(["start", "--imodel", IMODEL, "--wait", "--interval", "0.05"])
        .args(["--timeout", "0.3"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(6));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let id = stderr
        .split("export ")
        .nth(1)
        .and_then(|s| s.split(':').next())
        .unwrap_or_else(|| panic!("no export id: {stderr}"));
    assert!(stderr.contains("goes on at the service"), "{stderr}");
    assert!(
        stderr.contains(&format!("`mesh-export wait {id} --imodel {IMODEL}`")),
        "{stderr}"
    );
    // Each poll line says how long the wait has lasted.
    assert!(stderr.contains("elapsed)"), "{stderr}");
}

#[test]
fn delete_without_a_terminal_needs_yes_and_deletes_nothing_without_it() {
    let service = service();
    let id = service.complete_export();
    service
        .cmd()
        .args(["delete", &id])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--yes"));
    assert_eq!(service.json(&["get", &id])["status"], "Complete");
    service
        .cmd()
        .args(["delete", &id, "--yes"])
        .assert()
        .success();
    service.cmd().args(["get", &id]).assert().code(4);
}

#[test]
fn start_reuse_returns_the_export_already_there() {
    let service = service();
    let first = service.json(&["start", "--imodel", IMODEL, "--reuse"]);
    let second = service.json(&["start", "--imodel", IMODEL, "--reuse"]);
    assert_eq!(first["id"], second["id"]);
    assert_eq!(service.emulator.exports_of(IMODEL), 1);
}

#[test]
fn get_redacts_the_signed_link_unless_asked() {
    let service = service();
    let id = service.complete_export();
    for args in [vec!["get", &id], vec!["get", &id, "--imodel", IMODEL]] {
        let href = service.json(&args)["_links"]["mesh"]["href"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(!href.contains("sig="), "{href}");
        assert!(href.contains("REDACTED"), "{href}");
    }
    let shown = service.json(&["get", &id, "--show-url"]);
    assert!(
        shown["_links"]["mesh"]["href"]
            .as_str()
            .unwrap()
            .contains("sig=")
    );
}

#[test]
fn a_list_cut_short_says_so_and_names_all() {
    let service = service();
    service.complete_export();
    service.complete_export();
    service
        .cmd()
        .args(["list", "--page-size", "1"])
        .assert()
        .success()
        .stderr(
            predicate::str::contains("showing the first 1 exports")
                .and(predicate::str::contains("--all")),
        );
    service
        .cmd()
        .args(["list", "--page-size", "1", "--all"])
        .assert()
        .success()
        .stderr(predicate::str::contains("--all").not());
}

#[test]
fn a_usage_error_under_json_keeps_the_names_of_missing_arguments() {
    let output = bare().args(["--json", "start"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let document: serde_json::Value = serde_json::from_slice(&output.stderr).unwrap();
    let message = document["error"]["message"].as_str().unwrap();
    assert!(message.contains("--imodel <ID>"), "{message}");
}

#[test]
fn logs_into_a_pipe_carry_no_colour_codes() {
    let service = service();
    let output = service.cmd().args(["-vv", "list"]).output().unwrap();
    assert!(output.status.success());
    assert!(!output.stderr.is_empty(), "-vv logs something");
    assert!(
        !output.stderr.contains(&0x1b),
        "{:?}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn completions_are_written_for_four_shells_and_a_man_page() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let output = bare().args(["completions", shell]).output().unwrap();
        assert!(output.status.success(), "{shell}");
        let script = String::from_utf8(output.stdout).unwrap();
        assert!(script.contains("mesh-export"), "{shell}");
        assert!(script.contains("download"), "{shell}: the subcommands");
    }
    let man = bare().arg("man").output().unwrap();
    assert!(man.status.success());
    let page = String::from_utf8(man.stdout).unwrap();
    assert!(
        page.starts_with(".ie") || page.contains(".TH mesh-export 1"),
        "{page}"
    );
    assert!(page.contains(".TH mesh-export 1"));
}

#[test]
fn help_puts_global_options_under_their_heading_with_an_example_per_command() {
    let commands = [
        "login",
        "list",
        "get",
        "start",
        "wait",
        "delete",
        "url",
        "download",
        "schema",
        "completions",
        "man",
    ];
    for command in commands {
        let output = bare().args([command, "--help"]).output().unwrap();
        let help = String::from_utf8(output.stdout).unwrap();
        let global = help
            .find("Global options:")
            .unwrap_or_else(|| panic!("{command}: {help}"));
        assert!(help[global..].contains("--base-url"), "{command}");
        assert!(!help[..global].contains("--base-url"), "{command}: {help}");
        assert!(help.contains(":\n  mesh-export "), "{command}: {help}");
        assert!(help.contains("Example"), "{command}: {help}");
    }
    let delete = bare().args(["delete", "--help"]).output().unwrap();
    let delete = String::from_utf8(delete.stdout).unwrap();
    assert!(!delete.contains("lets `get`"), "{delete}");
}

#[test]
fn every_environment_variable_the_tool_reads_is_in_the_readme() {
    let readme = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"));
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut names = Vec::new();
    let mut dirs = vec![src];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for quoted in text.split('"').skip(1).step_by(2) {
                // `CARGO_*` are read when the tool is built, not when it runs.
                let is_name = quoted.len() > 3
                    && quoted.chars().all(|c| c.is_ascii_uppercase() || c == '_')
                    && quoted.contains('_')
                    && !quoted.starts_with("CARGO_");
                if is_name {
                    names.push(quoted.to_owned());
                }
            }
        }
    }
    for required in ["MESH_EXPORT_BASE_URL", "ITWIN_ACCESS_TOKEN", "NO_COLOR"] {
        assert!(
            names.iter().any(|n| n == required),
            "the scan misses {required}"
        );
    }
    // Read through `EnvFilter::try_from_default_env`, which names no variable here.
    names.push("RUST_LOG".into());
    for name in names {
        assert!(
            readme.contains(&format!("`{name}`")),
            "README does not list `{name}`"
        );
    }
}

#[test]
fn a_blob_store_retry_wait_is_announced_too() {
    let asked = Arc::new(AtomicUsize::new(0));
    let seen = asked.clone();
    let server = server(move |_, _, _| {
        if seen.fetch_add(1, Ordering::SeqCst) == 0 {
            return (503, vec![("retry-after", "3".into())], String::new());
        }
        let tileset =
            r#"{"asset":{"version":"1.0"},"geometricError":1,"root":{"geometricError":1}}"#;
        (
            200,
            vec![("content-type", "application/json".into())],
            tileset.into(),
        )
    });
    let out = tempfile::tempdir().unwrap();
    let output = bare()
        .args(["download", "--href"])
        .arg(format!("{}/c/tileset.json?sig=s", server.root))
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("waiting 3.0s (the service asked for it with Retry-After)"),
        "{stderr}"
    );
}

#[test]
fn an_access_token_shadowing_client_credentials_is_warned_about() {
    let service = service();
    let output = token_beside_client_credentials(&service)
        .arg("list")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            "warning: using the credentials from environment variable ITWIN_ACCESS_TOKEN; those \
             from environment variables ITWIN_CLIENT_ID and ITWIN_CLIENT_SECRET are ignored"
        ),
        "{stderr}"
    );
}

#[test]
fn login_with_a_share_key_says_a_share_key_was_accepted_not_a_bearer_token() {
    let service = service_with(Emulator::builder().share_key("sk-friction-share-key"));
    let output = bare()
        .args(["--base-url", &service.emulator.mesh_export_url()])
        .args(["--share-key", "sk-friction-share-key", "login"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("authenticated: share key accepted"),
        "{stdout}"
    );
    assert!(!stdout.contains("bearer"), "{stdout}");
}

#[test]
fn get_does_not_warn_about_the_deprecated_call_it_chose_and_reads_get_exports_with_the_imodel() {
    let service = service();
    let id = service.complete_export();
    let listed = service.emulator.stats().exports_listed;
    // At -v a deprecation would be logged as a warning.
    let by_id = service.cmd().args(["-v", "get", &id]).output().unwrap();
    assert!(by_id.status.success(), "{by_id:?}");
    let stderr = String::from_utf8_lossy(&by_id.stderr);
    assert!(!stderr.to_lowercase().contains("deprecat"), "{stderr}");
    assert_eq!(service.emulator.stats().exports_listed, listed);
    // With its iModel the export is read through get-exports.
    service
        .cmd()
        .args(["get", &id, "--imodel", IMODEL])
        .assert()
        .success();
    assert!(service.emulator.stats().exports_listed > listed);
}

#[test]
fn a_service_host_that_does_not_resolve_says_check_the_url_not_a_rejection() {
    // `.invalid` never resolves (RFC 6761).
    bare()
        .args(["--base-url", "http://mesh-export.invalid/mesh-export"])
        .args(["--token", "t", "list"])
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("host name mesh-export.invalid could not be resolved")
                .and(predicate::str::contains("nothing was rejected"))
                .and(predicate::str::contains("MESH_EXPORT_BASE_URL")),
        );
}
