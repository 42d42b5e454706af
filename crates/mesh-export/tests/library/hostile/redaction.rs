//! URL signatures in error text: redacted from text and JSON bodies, in any case or encoding.

use mesh_export::{Error, ExportFilter, RetryOptions, WaitOptions};
use mesh_export_test_support::servers::client_for;

use super::server::{json, page, quick, raw_server, text};

const SECRETS: [&str; 8] = [
    "CFSIGSECRET",
    "CFPOLICYSECRET",
    "CFKEYPAIRSECRET",
    "AMZSIGSECRET",
    "AMZCREDSECRET",
    "AMZTOKENSECRET",
    "AZSIGSECRET",
    "UNKNOWNSECRET",
];

fn signed_urls() -> String {
    [
        "https://d111.cloudfront.net/t/tileset.json?Policy=CFPOLICYSECRET&Signature=CFSIGSECRET&Key-Pair-Id=CFKEYPAIRSECRET",
        "https://b.s3.amazonaws.com/t.glb?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AMZCREDSECRET&X-Amz-Security-Token=AMZTOKENSECRET&X-Amz-Signature=AMZSIGSECRET",
        "https://a.blob.core.windows.net/c/t?sv=2024&sig=AZSIGSECRET&se=2030",
        "http://cdn.example/x?token=UNKNOWNSECRET",
    ]
    .join(" and ")
}

fn assert_no_secret(text: &str) {
    for secret in SECRETS {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
}

#[tokio::test]
async fn no_url_signature_reaches_an_error_from_a_text_or_json_body() {
    let urls = signed_urls();
    let escaped = urls.replace('/', "\\/");
    let (root, _) = raw_server(move |seen, _, _| {
        if seen.method == "DELETE" {
            json(
                422,
                format!(
                    r#"{{"error":{{"code":"X","message":"see {escaped}","target":"{urls}","details":[{{"code":"c","message":"{urls}"}}]}}}}"#
                ),
            )
        } else {
            text(500, format!("upstream said: {urls}"))
        }
    })
    .await;
    let client = client_for(&format!("{root}/mesh-export"), RetryOptions::none());
    let listed = client.list_page(&ExportFilter::new()).await.unwrap_err();
    let deleted = client.delete_export("e1").await.unwrap_err();
    for error in [listed, deleted] {
        assert_no_secret(&format!("{error} {error:?}"));
    }
}

#[test]
fn signature_parameters_are_redacted_in_any_case_or_encoding() {
    let body = "a SIG=AZSIGSECRET b x-amz-signature%3DAMZSIGSECRET c Signature%3dCFSIGSECRET \
                d CloudFront-Policy=CFPOLICYSECRET; e x-amz-credential=AMZCREDSECRET";
    let error = Error::from_response_parts(
        reqwest::StatusCode::BAD_GATEWAY,
        &reqwest::header::HeaderMap::new(),
        body.as_bytes(),
        None,
    );
    assert_no_secret(&format!("{error} {error:?}"));
}

#[tokio::test]
async fn the_reason_an_export_failed_is_redacted_and_capped() {
    let reason = format!("{} {}", "x".repeat(100_000), signed_urls());
    let (root, _) = raw_server(move |_, _, root| {
        let export = serde_json::json!({
            "id": "e1", "displayName": "m", "status": "Invalid", "error": reason,
            "request": {"iModelId": "m"},
        });
        json(
            200,
            page(root, "/mesh-export/", None, &format!("[{export}]")),
        )
    })
    .await;
    let client = client_for(&format!("{root}/mesh-export"), quick());
    let error = client
        .wait_for_export("m", "e1", WaitOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(error, Error::ExportFailed { .. }), "{error:?}");
    let shown = format!("{error} {error:?}");
    assert_no_secret(&shown);
    assert!(shown.len() < 4096, "{} bytes", shown.len());
}
