//! Every request carries the `Accept` media type the spec names in `info.x-itwin-accept`, and
//! not progenitor's `api-version`.

use std::path::Path;

use mesh_export_client::{Client, ITWIN_ACCEPT, PolicyHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn spec_accept() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../spec/openapi.yaml");
    let spec: serde_json::Value =
        serde_norway::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    spec["info"]["x-itwin-accept"]
        .as_str()
        .expect("the spec names its Accept media type in info.x-itwin-accept")
        .to_owned()
}

/// Answers one request with an empty page and returns the request's head.
async fn one_request_head(listener: tokio::net::TcpListener) -> String {
    let (mut socket, _) = listener.accept().await.unwrap();
    let mut head = Vec::new();
    let mut buffer = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = socket.read(&mut buffer).await.unwrap();
        assert!(n > 0, "connection closed before the request head ended");
        head.extend_from_slice(&buffer[..n]);
    }
    let body = r#"{"exports":[],"_links":{"self":{"href":"http://127.0.0.1/"}}}"#;
    let response = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    socket.write_all(response.as_bytes()).await.unwrap();
    String::from_utf8(head).unwrap().to_ascii_lowercase()
}

#[test]
fn the_generated_constant_is_the_spec_value() {
    assert_eq!(ITWIN_ACCEPT, spec_accept());
}

#[tokio::test]
async fn every_request_sends_the_accept_the_spec_names() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base_url = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(one_request_head(listener));
    let client = Client::new(&base_url, PolicyHandle::none());
    client.get_exports().send().await.unwrap();
    let head = server.await.unwrap();
    let accepts: Vec<&str> = head
        .lines()
        .filter_map(|l| l.strip_prefix("accept:"))
        .map(str::trim)
        .collect();
    assert_eq!(accepts, [spec_accept().to_ascii_lowercase()], "{head}");
    assert!(!head.contains("api-version"), "{head}");
}

#[test]
fn a_request_built_without_sending_carries_the_same_headers() {
    let client = Client::new("http://127.0.0.1:1", PolicyHandle::none());
    let request = client.get_exports().i_model_id("m").into_request().unwrap();
    let accepts: Vec<_> = request.headers().get_all("accept").iter().collect();
    assert_eq!(accepts, [spec_accept().as_str()]);
    assert!(request.headers().get("api-version").is_none());
    assert_eq!(request.url().query(), Some("iModelId=m"));
    assert_eq!(
        mesh_export_client::builder::GetExports::OPERATION_ID,
        "get_exports"
    );
}
