//! Signing people in: discovery, the login form, the code and refresh-token grants with PKCE
//! and rotation, and revocation.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mesh_export_emulator::{DEMO_NATIVE_CLIENT_ID, DEMO_PASSWORD, DEMO_USER, Emulator};
use mesh_export_test_support::emulator::{form, http};
use serde_json::Value;
use sha2::{Digest, Sha256};

const REDIRECT: &str = "http://127.0.0.1:49999/callback";
const VERIFIER: &str = "a-verifier-of-the-pkce-kind-that-is-long-enough-0123456789";

fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

fn authorize_params(redirect_uri: &str) -> Vec<(&'static str, String)> {
    vec![
        ("response_type", "code".into()),
        ("client_id", DEMO_NATIVE_CLIENT_ID.into()),
        ("redirect_uri", redirect_uri.into()),
        ("state", "state-123".into()),
        ("code_challenge", challenge(VERIFIER)),
        ("code_challenge_method", "S256".into()),
        ("scope", "itwin-platform offline_access".into()),
    ]
}

/// Submits the login form as `user`/`password`; the response, not followed.
async fn submit(emulator: &Emulator, redirect_uri: &str, password: &str) -> reqwest::Response {
    let mut pairs = authorize_params(redirect_uri);
    pairs.push(("username", DEMO_USER.into()));
    pairs.push(("password", password.into()));
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    no_redirects()
        .post(format!("{}/connect/authorize", emulator.base_url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&pairs))
        .send()
        .await
        .unwrap()
}

/// Signs the demo user in and returns the code the redirect carries.
async fn code(emulator: &Emulator) -> String {
    let response = submit(emulator, REDIRECT, DEMO_PASSWORD).await;
    assert_eq!(response.status(), 302);
    let location = url::Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
    assert!(location.as_str().starts_with(REDIRECT), "{location}");
    let query: Vec<(String, String)> = location.query_pairs().into_owned().collect();
    assert!(
        query.contains(&("state".into(), "state-123".into())),
        "{query:?}"
    );
    query.into_iter().find(|(k, _)| k == "code").unwrap().1
}

async fn token_request(emulator: &Emulator, pairs: &[(&str, &str)]) -> (u16, Value) {
    let response = http()
        .post(emulator.token_url())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(pairs))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

async fn exchange(emulator: &Emulator, code: &str, verifier: &str) -> (u16, Value) {
    token_request(
        emulator,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("client_id", DEMO_NATIVE_CLIENT_ID),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
        ],
    )
    .await
}

async fn refresh(emulator: &Emulator, refresh_token: &str) -> (u16, Value) {
    token_request(
        emulator,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", DEMO_NATIVE_CLIENT_ID),
        ],
    )
    .await
}

async fn lists_exports(emulator: &Emulator, access_token: &str) -> u16 {
    http()
        .get(emulator.mesh_export_url())
        .bearer_auth(access_token)
        .header("accept", "application/vnd.bentley.itwin-platform.v1+json")
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn the_discovery_document_names_the_sign_in_endpoints_of_the_issuer() {
    let emulator = Emulator::builder().start().await.unwrap();
    let issuer = emulator.issuer_url();
    let document: Value = http()
        .get(format!("{issuer}/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(document["issuer"], issuer.as_str());
    assert_eq!(
        document["authorization_endpoint"],
        format!("{issuer}/connect/authorize")
    );
    assert_eq!(document["token_endpoint"], emulator.token_url());
    assert_eq!(
        document["revocation_endpoint"],
        format!("{issuer}/connect/revocation")
    );
    assert_eq!(
        document["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
}

#[tokio::test]
async fn the_login_form_is_plain_html_carrying_the_request_along() {
    let emulator = Emulator::builder().start().await.unwrap();
    let params = authorize_params(REDIRECT);
    let response = http()
        .get(format!("{}/connect/authorize", emulator.base_url()))
        .query(&params)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let page = response.text().await.unwrap();
    assert!(!page.contains("<script"), "{page}");
    assert!(page.contains(r#"<form method="post" action="/connect/authorize">"#));
    assert!(page.contains(r#"name="username""#) && page.contains(r#"name="password""#));
    for (name, value) in &params {
        assert!(
            page.contains(&format!(r#"name="{name}" value="{value}""#)),
            "{name} not carried: {page}"
        );
    }
}

#[tokio::test]
async fn a_wrong_password_shows_the_form_again_with_an_error() {
    let emulator = Emulator::builder().start().await.unwrap();
    let response = submit(&emulator, REDIRECT, "not-the-password").await;
    assert_eq!(response.status(), 401);
    let page = response.text().await.unwrap();
    assert!(page.contains("Wrong user name or password"), "{page}");
    assert!(page.contains(r#"name="password""#), "{page}");
}

#[tokio::test]
async fn a_redirect_uri_off_loopback_is_refused_without_redirecting() {
    let emulator = Emulator::builder().start().await.unwrap();
    for redirect in [
        "https://example.com/callback",
        "http://attacker.example:3000/signin-callback",
    ] {
        let response = submit(&emulator, redirect, DEMO_PASSWORD).await;
        assert_eq!(response.status(), 400, "{redirect}");
        assert!(response.headers().get("location").is_none(), "{redirect}");
    }
    // Any loopback port and host spelling works for the native client.
    for redirect in [
        "http://localhost:3000/signin-callback",
        "http://[::1]:1234/cb",
    ] {
        assert_eq!(
            submit(&emulator, redirect, DEMO_PASSWORD).await.status(),
            302
        );
    }
}

#[tokio::test]
async fn a_code_exchanged_with_its_verifier_gives_tokens_that_list_exports() {
    let emulator = Emulator::builder().start().await.unwrap();
    let code = code(&emulator).await;
    let (status, body) = exchange(&emulator, &code, VERIFIER).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["refresh_token"].as_str().unwrap().len() >= 32);
    assert_eq!(
        lists_exports(&emulator, body["access_token"].as_str().unwrap()).await,
        200
    );
}

#[tokio::test]
async fn a_wrong_verifier_is_refused_and_spends_the_code() {
    let emulator = Emulator::builder().start().await.unwrap();
    let code = code(&emulator).await;
    let wrong = "another-verifier-of-the-pkce-kind-that-is-long-enough-012345";
    let (status, body) = exchange(&emulator, &code, wrong).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (status, _) = exchange(&emulator, &code, VERIFIER).await;
    assert_eq!(status, 400, "a code is spent by its first exchange");
}

#[tokio::test]
async fn a_code_works_once() {
    let emulator = Emulator::builder().start().await.unwrap();
    let code = code(&emulator).await;
    assert_eq!(exchange(&emulator, &code, VERIFIER).await.0, 200);
    let (status, body) = exchange(&emulator, &code, VERIFIER).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}

#[tokio::test]
async fn a_code_exchanged_too_late_is_refused() {
    let emulator = Emulator::builder()
        .authorization_code_ttl(Duration::ZERO)
        .start()
        .await
        .unwrap();
    let code = code(&emulator).await;
    let (status, body) = exchange(&emulator, &code, VERIFIER).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}

#[tokio::test]
async fn a_refresh_token_is_rotated_and_the_old_one_refused() {
    let emulator = Emulator::builder().start().await.unwrap();
    let (_, first) = exchange(&emulator, &code(&emulator).await, VERIFIER).await;
    let old = first["refresh_token"].as_str().unwrap();
    let (status, second) = refresh(&emulator, old).await;
    assert_eq!(status, 200, "{second}");
    let new = second["refresh_token"].as_str().unwrap();
    assert_ne!(new, old);
    assert_eq!(
        lists_exports(&emulator, second["access_token"].as_str().unwrap()).await,
        200
    );
    let (status, body) = refresh(&emulator, old).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert_eq!(refresh(&emulator, new).await.0, 200);
}

#[tokio::test]
async fn a_revoked_refresh_token_or_access_token_is_refused() {
    let emulator = Emulator::builder().start().await.unwrap();
    let (_, tokens) = exchange(&emulator, &code(&emulator).await, VERIFIER).await;
    let revocation = format!("{}/connect/revocation", emulator.base_url());
    for token in ["refresh_token", "access_token"] {
        let response = http()
            .post(&revocation)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&[
                ("token", tokens[token].as_str().unwrap()),
                ("client_id", DEMO_NATIVE_CLIENT_ID),
            ]))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{token}");
    }
    let (status, body) = refresh(&emulator, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert_eq!(
        lists_exports(&emulator, tokens["access_token"].as_str().unwrap()).await,
        401
    );
}
