//! Small purpose-built HTTP servers on loopback, for behaviour the emulator does not have.

use std::net::SocketAddr;

use mesh_export::{Client, RetryOptions};
use tokio::io::AsyncReadExt;

/// Serves `router` on a loopback port; returns the `/mesh-export` root URL.
pub async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    format!("http://{addr}/mesh-export")
}

/// A client for a purpose-built test server, with a static token.
pub fn client_for(base_url: &str, retry: RetryOptions) -> Client {
    Client::builder()
        .base_url(base_url)
        .static_token("test-token")
        .retry(retry)
        .build()
        .unwrap()
}

/// The JSON of an empty `get-exports` page.
pub fn empty_page(base_url: &str) -> serde_json::Value {
    serde_json::json!({ "exports": [], "_links": { "self": { "href": format!("{base_url}/") } } })
}

/// Reads one request, head and body (by `content-length`), from a raw socket; returns its head
/// in lower case, or `None` when the peer closed first.
pub async fn read_request(socket: &mut tokio::net::TcpStream) -> Option<String> {
    read_request_head(socket)
        .await
        .map(|head| head.to_ascii_lowercase())
}

/// Reads one request, head and body (by `content-length`), from a raw socket; returns its head
/// as sent (the request target keeps its case), or `None` when the peer closed first.
pub async fn read_request_head(socket: &mut tokio::net::TcpStream) -> Option<String> {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = socket.read(&mut buf).await.unwrap_or(0);
        if n == 0 {
            return None;
        }
        data.extend_from_slice(&buf[..n]);
        let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&data[..end]).into_owned();
        let length = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length:")
                    .and_then(|v| v.trim().parse::<usize>().ok())
            })
            .unwrap_or(0);
        if data.len() >= end + 4 + length {
            return Some(head);
        }
    }
}
