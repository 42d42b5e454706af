//! Credentials: a bearer token, client credentials and a share key; none is ever echoed.

use std::time::Duration;

use mesh_export_emulator::{DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, Emulator};
use predicates::prelude::*;
use serde_json::Value;

use crate::support::{bare, service, service_with};

#[test]
fn login_prints_the_client_and_the_token_expiry() {
    let service = service();
    service
        .cmd()
        .arg("login")
        .assert()
        .success()
        .stdout(
            predicate::str::contains(DEMO_CLIENT_ID)
                .and(predicate::str::contains("token expires in")),
        )
        .stdout(predicate::str::contains(DEMO_CLIENT_SECRET).not());
    let login = service.json(&["login"]);
    assert_eq!(login["method"], "client_credentials");
    assert_eq!(login["client_id"], DEMO_CLIENT_ID);
    assert!(login["expires_in_seconds"].as_u64().unwrap() > 0);
}

#[test]
fn missing_or_rejected_credentials_exit_with_3_without_echoing_them() {
    let service = service();
    bare()
        .args(["--base-url", &service.emulator.mesh_export_url(), "login"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("no credentials"));
    bare()
        .args(["--base-url", &service.emulator.mesh_export_url()])
        .env("ITWIN_ACCESS_TOKEN", "not-a-real-token-value")
        .arg("login")
        .assert()
        .code(3)
        .stderr(predicate::str::contains("not-a-real-token-value").not());
    bare()
        .args(["--base-url", &service.emulator.mesh_export_url()])
        .args(["--token-url", &service.emulator.token_url()])
        .args([
            "--client-id",
            DEMO_CLIENT_ID,
            "--client-secret",
            "wrong-secret-value",
        ])
        .arg("list")
        .assert()
        .code(3)
        .stderr(predicate::str::contains("wrong-secret-value").not());
}

#[test]
fn a_share_key_authenticates_as_basic_and_is_never_echoed() {
    let service = service_with(
        Emulator::builder()
            .export_duration(Duration::from_millis(200))
            .share_key("sk-cli-share-key"),
    );
    let url = service.emulator.mesh_export_url();
    let output = bare()
        .args([
            "--base-url",
            &url,
            "--share-key",
            "sk-cli-share-key",
            "--json",
            "login",
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let login: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(login["method"], "share_key");
    bare()
        .args(["--base-url", &url, "--json", "list"])
        .env("ITWIN_SHARE_KEY", "sk-cli-share-key")
        .assert()
        .success();
    bare()
        .args(["--base-url", &url, "-vvv", "login"])
        .env("ITWIN_SHARE_KEY", "sk-wrong-share-key")
        .assert()
        .code(3)
        .stderr(predicate::str::contains("sk-wrong-share-key").not());
}

/// A token endpoint on its own runtime that refuses every request with an OAuth2 error quoting
/// `secret`, as some endpoints quote what they were sent; returns its token URL.
fn echoing_token_endpoint(secret: &'static str) -> (String, tokio::runtime::Runtime) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let addr = runtime.block_on(async {
        let app = axum::Router::new().fallback(move || async move {
            let body = serde_json::json!({
                "error": "invalid_client",
                "error_description": format!("client_secret '{secret}' does not match"),
            });
            (axum::http::StatusCode::BAD_REQUEST, body.to_string())
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        addr
    });
    (format!("http://{addr}/connect/token"), runtime)
}

#[test]
fn a_client_secret_echoed_by_the_token_endpoint_is_not_printed() {
    const SECRET: &str = "Hunter2-echoed-to-the-cli";
    let (token_url, _runtime) = echoing_token_endpoint(SECRET);
    for json in [false, true] {
        let mut cmd = bare();
        if json {
            cmd.arg("--json");
        }
        let output = cmd
            .args(["--base-url", "http://127.0.0.1:9/mesh-export"])
            .args(["--token-url", &token_url, "--client-id", "app"])
            .env("ITWIN_CLIENT_SECRET", SECRET)
            .env("RUST_LOG", "debug")
            .arg("list")
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(3), "{output:?}");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("client_secret 'REDACTED'"), "{stderr}");
        assert!(!stdout.contains(SECRET), "--json {json}: {stdout}");
        assert!(!stderr.contains(SECRET), "--json {json}: {stderr}");
    }
}
