//! Answers the client must not misread: pages that loop, documented statuses with text
//! bodies, bodies cut short, a 503 to a start, and polls that rate-limit or hang.

use std::time::{Duration, Instant};

use futures::TryStreamExt;
use mesh_export::{Error, ExportFilter, RetryOptions, WaitOptions};
use mesh_export_test_support::servers::client_for;

use super::server::{Action, export_json, json, page, quick, raw_server, start_request, text};

#[tokio::test]
async fn pages_that_link_back_to_an_earlier_page_end_with_an_error() {
    let (root, log) = raw_server(|seen, _, root| {
        if seen.target.contains("page=b") {
            json(
                200,
                page(
                    root,
                    "/mesh-export/?page=b",
                    Some("/mesh-export/?page=a"),
                    "[]",
                ),
            )
        } else {
            json(
                200,
                page(
                    root,
                    "/mesh-export/?page=a",
                    Some("/mesh-export/?page=b"),
                    "[]",
                ),
            )
        }
    })
    .await;
    let client = client_for(&format!("{root}/mesh-export"), quick());
    let all = tokio::time::timeout(
        Duration::from_secs(10),
        client.exports(ExportFilter::new()).try_collect::<Vec<_>>(),
    )
    .await
    .expect("paging in a loop must stop");
    let error = all.unwrap_err();
    assert!(error.to_string().contains("loop"), "{error}");
    assert!(log.lock().unwrap().len() <= 3);
}

#[tokio::test]
async fn a_documented_status_with_a_text_body_keeps_its_meaning() {
    let (root, _) = raw_server(|seen, _, _| match seen.method.as_str() {
        "DELETE" => text(404, "Not Found"),
        "POST" => text(403, "Forbidden by the gateway"),
        _ => text(429, "Rate limit is exceeded"),
    })
    .await;
    let client = client_for(&format!("{root}/mesh-export"), RetryOptions::none());
    let listed = client.list_page(&ExportFilter::new()).await.unwrap_err();
    assert!(!matches!(listed, Error::Decode { .. }), "{listed:?}");
    assert!(listed.is_retryable(), "a 429 stays retryable: {listed:?}");
    assert_eq!(listed.status(), Some(429));
    let deleted = client.delete_export("e1").await.unwrap_err();
    assert!(!matches!(deleted, Error::Decode { .. }), "{deleted:?}");
    assert_eq!(deleted.status(), Some(404));
    let started = client.start_export(start_request("m")).await.unwrap_err();
    assert!(!matches!(started, Error::Decode { .. }), "{started:?}");
    assert_eq!(started.status(), Some(403));
    assert!(
        started.to_string().contains("Forbidden by the gateway"),
        "{started}"
    );
}

#[tokio::test]
async fn a_connection_reset_while_reading_a_get_body_is_retried() {
    let (root, log) = raw_server(|_, index, root| {
        let body = page(root, "/mesh-export/", None, "[]");
        if index == 0 {
            Action::Truncate(body[..10].to_owned())
        } else {
            json(200, body)
        }
    })
    .await;
    let client = client_for(&format!("{root}/mesh-export"), quick());
    client.list_page(&ExportFilter::new()).await.unwrap();
    assert_eq!(log.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn a_503_answer_to_start_export_is_not_resent() {
    let (root, log) = raw_server(|_, _, _| {
        Action::Respond(503, vec![("retry-after", "0".into())], "busy".into())
    })
    .await;
    let client = client_for(&format!("{root}/mesh-export"), quick());
    let error = client.start_export(start_request("m")).await.unwrap_err();
    assert_eq!(error.status(), Some(503), "{error:?}");
    assert_eq!(log.lock().unwrap().len(), 1, "the POST was sent again");
}

#[tokio::test]
async fn waiting_honours_a_retry_after_longer_than_its_interval() {
    let (root, log) = raw_server(|_, index, root| {
        if index == 0 {
            Action::Respond(429, vec![("retry-after", "1".into())], "slow down".into())
        } else {
            let export = export_json("e1", "Complete", None, r#"{"iModelId":"m"}"#);
            json(
                200,
                page(root, "/mesh-export/", None, &format!("[{export}]")),
            )
        }
    })
    .await;
    let client = client_for(&format!("{root}/mesh-export"), RetryOptions::none());
    let options = WaitOptions::default()
        .interval(Duration::from_millis(10))
        .timeout(Duration::from_secs(20));
    client.wait_for_export("m", "e1", options).await.unwrap();
    let log = log.lock().unwrap();
    assert_eq!(log.len(), 2);
    let gap = log[1].at - log[0].at;
    assert!(
        gap >= Duration::from_millis(900),
        "polled again after {gap:?}"
    );
}

#[tokio::test]
async fn waiting_enforces_its_timeout_during_a_hanging_poll() {
    let (root, _) = raw_server(|_, _, _| Action::Hang).await;
    let client = client_for(&format!("{root}/mesh-export"), RetryOptions::none());
    let options = WaitOptions::default()
        .interval(Duration::from_millis(10))
        .timeout(Duration::from_millis(300));
    let started = Instant::now();
    let result = tokio::time::timeout(
        Duration::from_secs(10),
        client.wait_for_export("m", "e1", options),
    )
    .await
    .expect("the wait must end at its timeout, not the HTTP client's");
    assert!(
        matches!(result, Err(Error::WaitTimeout { .. })),
        "{result:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}
