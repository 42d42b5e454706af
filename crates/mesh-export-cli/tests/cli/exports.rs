//! The export commands: start, wait, list, get, url, delete, and their exit codes.

use predicates::prelude::*;

use crate::support::{FAILING_IMODEL, IMODEL, service};

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
