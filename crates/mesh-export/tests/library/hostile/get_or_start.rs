//! Get-or-start against listings the service really gives: untyped requests, missing
//! timestamps, and an export a gateway 503 answered for.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use mesh_export_test_support::servers::client_for;

use super::server::{export_json, json, page, quick, raw_server, start_request, text};

#[tokio::test]
async fn get_or_start_reuses_an_export_whose_request_omits_the_type() {
    let (root, log) = raw_server(|_, _, root| {
        let export = export_json(
            "untyped",
            "Complete",
            Some("2024-08-22T03:18:43Z"),
            r#"{"iModelId":"m","changesetId":""}"#,
        );
        json(
            200,
            page(root, "/mesh-export/", None, &format!("[{export}]")),
        )
    })
    .await;
    let client = client_for(&format!("{root}/mesh-export"), quick());
    let export = client
        .get_or_start_export(start_request("m"))
        .await
        .unwrap();
    assert_eq!(export.id, "untyped");
    assert!(log.lock().unwrap().iter().all(|s| s.method != "POST"));
}

#[tokio::test]
async fn get_or_start_picks_the_newest_with_missing_timestamps_last() {
    let (root, _) = raw_server(|seen, _, root| {
        let request = r#"{"iModelId":"m","exportType":"3DTiles"}"#;
        // The service lists newest first.
        let exports = if seen.target.contains("iModelId=a") {
            [
                export_json("newer-undated", "Complete", None, request),
                export_json("older-undated", "Complete", None, request),
            ]
            .join(",")
        } else {
            [
                export_json("undated", "Complete", None, request),
                export_json(
                    "dated-old",
                    "Complete",
                    Some("2024-01-01T00:00:00Z"),
                    request,
                ),
                export_json(
                    "dated-new",
                    "Complete",
                    Some("2024-06-01T00:00:00Z"),
                    request,
                ),
            ]
            .join(",")
        };
        let exports = exports.replace(
            r#""iModelId":"m""#,
            &format!(
                r#""iModelId":"{}""#,
                if seen.target.contains("iModelId=a") {
                    "a"
                } else {
                    "b"
                }
            ),
        );
        json(
            200,
            page(root, "/mesh-export/", None, &format!("[{exports}]")),
        )
    })
    .await;
    let client = client_for(&format!("{root}/mesh-export"), quick());
    let a = client
        .get_or_start_export(start_request("a"))
        .await
        .unwrap();
    assert_eq!(a.id, "newer-undated");
    let b = client
        .get_or_start_export(start_request("b"))
        .await
        .unwrap();
    assert_eq!(b.id, "dated-new");
}

#[tokio::test]
async fn get_or_start_returns_the_export_a_start_answered_by_a_gateway_503_created() {
    // The POST reaches the backend, which creates the export, and the gateway answers 503.
    let created = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let backend = created.clone();
    let (root, log) = raw_server(move |seen, _, root| {
        if seen.method == "POST" {
            backend.store(true, Ordering::SeqCst);
            return text(503, "Service Unavailable (gateway)");
        }
        let exports = if backend.load(Ordering::SeqCst) {
            export_json(
                "created",
                "NotStarted",
                None,
                r#"{"iModelId":"gw","exportType":"3DTiles"}"#,
            )
        } else {
            String::new()
        };
        json(
            200,
            page(root, "/mesh-export/", None, &format!("[{exports}]")),
        )
    })
    .await;
    let client = client_for(&format!("{root}/mesh-export"), quick());
    let export = client
        .get_or_start_export(start_request("gw"))
        .await
        .unwrap();
    assert_eq!(export.id, "created");
    assert!(created.load(Ordering::SeqCst));
    let posts = log
        .lock()
        .unwrap()
        .iter()
        .filter(|s| s.method == "POST")
        .count();
    assert_eq!(posts, 1, "the POST was sent again");
}
