//! Every error names the server it concerns: the token endpoint when tokens fail, the blob
//! store when a download fails (its root, never its signature), the service otherwise.

use crate::hostile::{json_reply, server};
use crate::support::{IMODEL, bare};

/// A loopback address nothing listens on: a connection to it is refused.
fn closed_address() -> std::net::SocketAddr {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    closed.local_addr().unwrap()
}

/// Runs the binary with client credentials against `token_url` and a service nothing
/// listens on (no request ever gets that far); returns its exit code and stderr.
fn list_with_tokens_from(token_url: &str) -> (Option<i32>, String) {
    let output = bare()
        .args([
            "--base-url",
            &format!("http://{}/mesh-export", closed_address()),
        ])
        .args(["--token-url", token_url])
        .args([
            "--client-id",
            "id",
            "--client-secret",
            "a-client-secret-value",
        ])
        .arg("list")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!stderr.contains("a-client-secret-value"), "{stderr}");
    (output.status.code(), stderr)
}

#[test]
fn a_token_endpoint_that_refuses_connections_is_named_in_the_error_and_the_hint() {
    let token_host = closed_address().to_string();
    let (code, stderr) = list_with_tokens_from(&format!("http://{token_host}/connect/token"));
    assert_eq!(code, Some(1), "{stderr}");
    let error = stderr.lines().find(|l| l.starts_with("error: ")).unwrap();
    assert!(
        error.contains(&format!("http://{token_host}/connect/token")),
        "{stderr}"
    );
    let hint = stderr.lines().find(|l| l.starts_with("hint: ")).unwrap();
    assert!(
        hint.contains(&token_host),
        "the token endpoint's host: {stderr}"
    );
    assert!(hint.contains("ITWIN_TOKEN_URL"), "{stderr}");
    assert!(
        !hint.contains("MESH_EXPORT_BASE_URL"),
        "not the service: {stderr}"
    );
}

#[test]
fn a_token_endpoint_that_answers_an_http_error_is_named() {
    let tokens = server(|_, _, _| json_reply(400, r#"{"error":"invalid_request"}"#));
    let token_url = format!("{}/connect/token?tenant=t&sig=SECRETSIG", tokens.root);
    let (code, stderr) = list_with_tokens_from(&token_url);
    assert_eq!(code, Some(1), "{stderr}");
    let host = tokens.root.trim_start_matches("http://");
    let error = stderr.lines().find(|l| l.starts_with("error: ")).unwrap();
    assert!(error.contains(host), "{stderr}");
    assert!(error.contains("HTTP 400: invalid_request"), "{stderr}");
    assert!(!stderr.contains("SECRETSIG"), "{stderr}");
}

/// Asserts a failed download's stderr names the blob store at `root` (with `--json` too)
/// and no signature.
fn assert_names_the_store(args: &[&str], root: &str) {
    let host = root.trim_start_matches("http://");
    for json in [false, true] {
        let out = tempfile::tempdir().unwrap();
        let mut command = bare();
        if json {
            command.arg("--json");
        }
        let output = command
            .args(args)
            .arg("--out")
            .arg(out.path())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(7), "{stderr}");
        let error = match json {
            false => stderr.lines().find(|l| l.starts_with("error: ")).unwrap(),
            true => stderr.lines().rev().find(|l| l.starts_with('{')).unwrap(),
        };
        assert!(
            error.contains(&format!("blob store at {root}/")),
            "{stderr}"
        );
        assert!(error.contains(host), "{stderr}");
        assert!(!stderr.contains("SECRETSIG"), "{stderr}");
    }
}

#[test]
fn a_failed_href_download_names_the_blob_host_and_no_signature() {
    let store = server(|_, _, _| (404, vec![], "no such blob".into()));
    let href = format!("{}/c/tileset.json?sv=1&sig=SECRETSIG", store.root);
    assert_names_the_store(&["download", "--href", &href], &store.root);
}

#[test]
fn a_failed_export_download_names_the_blob_host_not_the_service() {
    const ID: &str = "fc3aa1e5-5196-4dd9-a73e-4cfda693e576";
    let store = server(|_, _, _| (404, vec![], "no such blob".into()));
    let href = format!("{}/c?sv=1&sig=SECRETSIG", store.root);
    let service = server(move |_, target, _| {
        let export = serde_json::json!({"export": {
            "id": ID,
            "displayName": "one",
            "status": "Complete",
            "request": {"iModelId": IMODEL, "changesetId": "", "exportType": "3DTiles"},
            "_links": {"mesh": {"href": href}}
        }});
        match target.split('?').next() {
            Some(path) if path == format!("/mesh-export/{ID}") => {
                json_reply(200, export.to_string())
            }
            _ => (404, vec![], String::new()),
        }
    });
    let base_url = format!("{}/mesh-export", service.root);
    assert_names_the_store(
        &["--base-url", &base_url, "--token", "t", "download", ID],
        &store.root,
    );
}

#[test]
fn a_token_endpoint_that_answers_no_token_is_named() {
    let tokens = server(|_, _, _| json_reply(200, r#"{"token_type":"Bearer"}"#));
    let (code, stderr) = list_with_tokens_from(&format!("{}/connect/token", tokens.root));
    assert_eq!(code, Some(1), "{stderr}");
    let error = stderr.lines().find(|l| l.starts_with("error: ")).unwrap();
    assert!(error.contains("access_token"), "{stderr}");
    assert!(
        error.contains(&format!("(from {}/connect/token)", tokens.root)),
        "{stderr}"
    );
}
