use super::*;
use crate::auth::client_credentials::{token_http_client, token_retry_options};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

fn document(issuer: &str, base: &str) -> Endpoints {
    Endpoints {
        issuer: issuer.to_owned(),
        authorization_endpoint: format!("{base}/connect/authorize"),
        token_endpoint: format!("{base}/connect/token"),
        revocation_endpoint: Some(format!("{base}/connect/revocation")),
    }
}

fn refusal(result: Result<Endpoints, AuthError>) -> String {
    match result {
        Ok(endpoints) => panic!("accepted: {endpoints:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_document_naming_another_issuer_is_refused() {
    let issuer = "https://ims.example";
    let text = refusal(trusted(document("https://evil.example", issuer), issuer));
    assert!(text.contains("names another issuer"), "{text}");
    assert!(text.contains("https://evil.example"), "{text}");
}

#[test]
fn endpoints_in_clear_text_off_this_machine_are_refused() {
    let issuer = "https://ims.example";
    let mut endpoints = document(issuer, issuer);
    endpoints.token_endpoint = "http://ims.example/connect/token".into();
    let text = refusal(trusted(endpoints, issuer));
    assert!(text.contains("token endpoint"), "{text}");
    let mut endpoints = document(issuer, issuer);
    endpoints.revocation_endpoint = Some("http://127.0.0.1.evil.example/revoke".into());
    let text = refusal(trusted(endpoints, issuer));
    assert!(text.contains("revocation endpoint"), "{text}");
    let mut endpoints = document(issuer, issuer);
    endpoints.authorization_endpoint = "javascript:alert(1)".into();
    let text = refusal(trusted(endpoints, issuer));
    assert!(text.contains("authorization endpoint"), "{text}");
}

#[test]
fn https_and_loopback_http_documents_of_the_issuer_are_trusted() {
    for issuer in [
        "https://ims.example",
        "http://127.0.0.1:8080",
        "http://localhost:3000",
        "http://[::1]:9000",
    ] {
        trusted(document(issuer, issuer), issuer).unwrap();
        trusted(document(&format!("{issuer}/"), issuer), issuer).unwrap();
    }
}

#[tokio::test]
async fn an_issuer_in_clear_text_off_this_machine_is_not_asked() {
    let result = discover(
        &token_http_client(),
        &token_retry_options(),
        "http://ims.example",
    )
    .await;
    let text = refusal(result);
    assert!(
        text.contains("the issuer http://ims.example is neither"),
        "{text}"
    );
}

#[tokio::test]
async fn a_huge_discovery_document_is_not_read_in_full() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut request = [0u8; 1024];
        let _ = stream.read(&mut request).await;
        let length = 64 * MAX_DOCUMENT_BYTES;
        let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {length}\r\n\r\n");
        let _ = stream.write_all(head.as_bytes()).await;
        let chunk = vec![b' '; 64 * 1024];
        // The client hangs up once it has read enough; a write then fails and ends this.
        for _ in 0..length / chunk.len() {
            if stream.write_all(&chunk).await.is_err() {
                break;
            }
        }
    });
    let result = discover(&token_http_client(), &token_retry_options(), &issuer).await;
    let text = refusal(result);
    assert!(text.contains("larger than"), "{text}");
    server.abort();
}
