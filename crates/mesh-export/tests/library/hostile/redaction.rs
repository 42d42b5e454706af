//! URL signatures in error text: redacted from text and JSON bodies, in any case or encoding.

use mesh_export::{Error, ExportFilter, RetryOptions};
use mesh_export_test_support::servers::client_for;

use super::server::{json, raw_server, text};

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
