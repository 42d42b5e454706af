//! The export commands: start, wait, list, get, url, delete, and their exit codes.

use predicates::prelude::*;

use crate::support::{FAILING_IMODEL, IMODEL, service};

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

    assert_eq!(
        service.json(&["delete", &id, "--yes"])["deleted"],
        id.as_str()
    );
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
