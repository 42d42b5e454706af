//! `download` from the emulator: a whole tileset, a resumed one, a re-signed one.

use std::time::Duration;

use mesh_export_emulator::{DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, Emulator};
use predicates::prelude::*;
use serde_json::Value;

use crate::hostile_tilesets::hostile;
use crate::support::{IMODEL, bare, service, service_with};

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
    let href = service.json(&["get", &id, "--show-url"])["_links"]["mesh"]["href"]
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
fn a_package_href_is_refused_at_once_and_never_says_run_again() {
    let out = tempfile::tempdir().unwrap();
    // Nothing listens on the discard port: a request, if one were made, would fail otherwise.
    let href = "http://127.0.0.1:9/c/export-1/model.3tz?sv=1&sig=SECRETSIG";
    bare()
        .args(["download", "--href", href, "--out"])
        .arg(out.path())
        .assert()
        .code(1)
        .stderr(predicate::str::contains("packages are not walked"))
        .stderr(predicate::str::contains("run again").not())
        .stderr(predicate::str::contains("SECRETSIG").not());
    assert!(!out.path().join("manifest.json").exists());
}

#[test]
fn an_href_with_a_root_above_it_fetches_files_up_to_the_root_at_their_paths() {
    let schema = br#"{"id":"x"}"#.to_vec();
    let tileset = serde_json::to_vec(&serde_json::json!({
        "asset": {"version": "1.1"},
        "geometricError": 1,
        "schemaUri": "../../schemas/x.json",
        "root": {"geometricError": 1, "content": {"uri": "../../../outside.json"}},
    }))
    .unwrap();
    let server = hostile(vec![
        ("/c/sub/dir/tileset.json", tileset.clone()),
        ("/c/schemas/x.json", schema.clone()),
        ("/outside.json", schema.clone()),
    ]);
    let out = tempfile::tempdir().unwrap();
    let href = format!(
        "http://{}/c/sub/dir/tileset.json?sig=SECRETSIG",
        server.addr
    );
    let root = format!("http://{}/c/", server.addr);
    bare()
        .args(["download", "--href", &href, "--root", &root, "--out"])
        .arg(out.path())
        .assert()
        .code(7)
        .stderr(predicate::str::contains("outside.json"))
        .stderr(predicate::str::contains("SECRETSIG").not());
    assert_eq!(
        std::fs::read(out.path().join("sub/dir/tileset.json")).unwrap(),
        tileset
    );
    assert_eq!(
        std::fs::read(out.path().join("schemas/x.json")).unwrap(),
        schema
    );
    assert!(!out.path().join("outside.json").exists());

    // A root that is not above the entry is refused before anything is fetched.
    let elsewhere = tempfile::tempdir().unwrap();
    let other = format!("http://{}/other/", server.addr);
    bare()
        .args(["download", "--href", &href, "--root", &other, "--out"])
        .arg(elsewhere.path())
        .assert()
        .code(1)
        .stderr(predicate::str::contains("not a folder above"));
    assert!(!elsewhere.path().join("manifest.json").exists());
}

#[test]
fn a_root_without_an_href_is_a_usage_error() {
    let out = tempfile::tempdir().unwrap();
    bare()
        .args([
            "download",
            "some-export",
            "--root",
            "http://127.0.0.1:9/c/",
            "--out",
        ])
        .arg(out.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--href"));
}

#[test]
fn an_export_with_one_forbidden_tile_exits_7_naming_it_after_at_most_one_get_exports_call() {
    let service = service_with(
        Emulator::builder()
            .tiles(12)
            .tile_bytes(4_000)
            .export_duration(Duration::from_millis(100))
            .forbid_blob("tiles/2.glb"),
    );
    let id = service.complete_export();
    let listed_before = service.emulator.stats().exports_listed;
    let out = tempfile::tempdir().unwrap();

    // One file at a time: files always start after the refusal, to tell a refused path from
    // a refused signature.
    let args = ["download", &id, "--concurrency", "1", "--out"];
    let output = service.cmd().args(args).arg(out.path()).output().unwrap();

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(7), "{stderr}");
    assert!(
        stderr.contains("tiles/2.glb") && stderr.contains("refuses"),
        "{stderr}"
    );
    let listed = service.emulator.stats().exports_listed - listed_before;
    assert!(listed <= 1, "{listed} get-exports calls");
    let expected = tempfile::tempdir().unwrap();
    let count = mesh_export_emulator::dump_tileset(service.emulator.config(), &id, expected.path())
        .unwrap();
    assert!(count > 12);
    assert!(!out.path().join("tiles/2.glb").exists());
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(out.path().join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["complete"], false);
    // Every other file the emulator serves, byte for byte.
    let kept = manifest["files"].as_array().unwrap();
    assert_eq!(kept.len(), count - 1);
    for file in kept {
        let rel = file["path"].as_str().unwrap();
        let want = std::fs::read(expected.path().join(rel)).unwrap();
        let have = std::fs::read(out.path().join(rel)).unwrap();
        assert!(want == have, "{rel} differs from what the emulator serves");
    }
    assert_eq!(
        manifest["missing"].as_array().unwrap().len(),
        1,
        "{manifest}"
    );
    assert_eq!(manifest["missing"][0]["what"], "tiles/2.glb");
}
