//! What every client shares: each reports deprecations to its own handler, and the generated
//! client goes down the same request path.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use mesh_export::DeprecationWarnings;
use mesh_export_test_support::servers::client_for;

use super::server::{Action, export_json, json, page, quick, raw_server};

#[tokio::test]
#[allow(deprecated)]
async fn each_client_reports_a_deprecated_operation_to_its_own_handler() {
    let (root, _) = raw_server(|_, _, _| {
        json(
            200,
            format!(
                r#"{{"export":{}}}"#,
                export_json("e1", "Complete", None, r#"{"iModelId":"m"}"#)
            ),
        )
    })
    .await;
    let counted = |count: Arc<AtomicU32>| {
        mesh_export::Client::builder()
            .base_url(format!("{root}/mesh-export"))
            .static_token("t")
            .deprecation_warnings(DeprecationWarnings::handler(move |_| {
                count.fetch_add(1, Ordering::SeqCst);
            }))
            .build()
            .unwrap()
    };
    let first = Arc::new(AtomicU32::new(0));
    let second = Arc::new(AtomicU32::new(0));
    let a = counted(first.clone());
    let b = counted(second.clone());
    a.get_export("e1").await.unwrap();
    a.clone().get_export("e1").await.unwrap();
    b.get_export("e1").await.unwrap();
    assert_eq!(
        first.load(Ordering::SeqCst),
        1,
        "once per client, clones included"
    );
    assert_eq!(
        second.load(Ordering::SeqCst),
        1,
        "the second client's handler fired"
    );
}

#[tokio::test]
async fn the_generated_client_goes_down_the_same_request_path() {
    let (root, log) = raw_server(|seen, index, root| {
        if seen.target.contains("iModelId=limited") {
            return Action::Respond(429, vec![("retry-after", "120".into())], "slow down".into());
        }
        if index == 0 {
            Action::Respond(503, vec![("retry-after", "0".into())], "busy".into())
        } else {
            json(200, page(root, "/mesh-export/", None, "[]"))
        }
    })
    .await;
    let client = client_for(&format!("{root}/mesh-export"), quick());
    let page = client.generated().get_exports().send().await.unwrap();
    assert!(page.exports.is_empty());
    assert_eq!(log.lock().unwrap().len(), 2, "the 503 was retried");

    // A hint above the cap ends the call; progenitor sees the rate limit's status and wait.
    let error = client
        .generated()
        .get_exports()
        .i_model_id("limited")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error.status().map(|s| s.as_u16()), Some(429), "{error:?}");
    assert_eq!(
        log.lock().unwrap().len(),
        3,
        "the hint was not slept through"
    );
}
