//! The scripted server the hostile tests run against: it answers through a handler, records
//! every request, and misbehaves in the ways `Reply` names.

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use mesh_export_test_support::emulator::quick_retries;
use serde_json::json;
use tiles3d_download::Downloader;

/// A request as the hostile server saw it.
#[derive(Debug, Clone)]
pub(super) struct Request {
    /// The raw path, still percent-encoded.
    pub(super) path: String,
    pub(super) query: String,
    pub(super) headers: HeaderMap,
}

type Handler = dyn Fn(&Request, usize) -> Reply + Send + Sync;

/// The requests seen so far, and the handler.
type ServerState = (Arc<Mutex<Vec<Request>>>, Arc<Handler>);

/// What the server answers.
pub(super) enum Reply {
    Full(Bytes),
    Status(u16),
    Html,
    Gzip(Bytes),
    /// These bytes, already gzip-encoded, labelled `Content-Encoding: gzip`.
    Encoded(Bytes),
    /// The body, labelled `Content-Encoding: identity`.
    Identity(Bytes),
    /// Declares the full length of the body gzipped, sends `sent` bytes of that, then breaks
    /// the connection.
    GzipCut(Bytes, usize),
    /// Declares the full length, sends `sent` bytes, then breaks the connection.
    Cut(Bytes, usize),
    /// Declares the full length, sends `sent` bytes, then sends nothing more for an hour.
    Stall(Bytes, usize),
    /// Like `Cut`, without a `Content-Length` (chunked).
    CutChunked(Bytes, usize),
    /// Serves `Range` requests with 206 and `Content-Range`.
    Ranged(Bytes),
    /// Answers a `Range` with a 206 whose `Content-Range` names the rest of the file, and a
    /// body that many bytes longer (positive) or shorter (negative) than that rest.
    LyingRange(Bytes, isize),
    /// Answers a `Range` with a 206 for another range than the one asked.
    WrongRange(Bytes),
    /// Signals `arrived`, then waits for a permit of `gate` before serving the body.
    Gated(Arc<tokio::sync::Notify>, Arc<tokio::sync::Semaphore>, Bytes),
}

/// A small server on 127.0.0.1:0 that answers through a handler and records every request.
#[derive(Clone)]
pub(super) struct Hostile {
    pub(super) addr: std::net::SocketAddr,
    seen: Arc<Mutex<Vec<Request>>>,
}

impl Hostile {
    pub(super) async fn start(
        handler: impl Fn(&Request, usize) -> Reply + Send + Sync + 'static,
    ) -> Self {
        let seen: Arc<Mutex<Vec<Request>>> = Arc::default();
        let handler: Arc<Handler> = Arc::new(handler);
        let state = (seen.clone(), handler);
        let app = Router::new().fallback(serve).with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Hostile { addr, seen }
    }

    pub(super) fn url(&self, rest: &str) -> String {
        format!("http://{}{rest}", self.addr)
    }

    pub(super) fn seen(&self) -> Vec<Request> {
        self.seen.lock().unwrap().clone()
    }

    pub(super) fn requests_for(&self, path: &str) -> Vec<Request> {
        self.seen().into_iter().filter(|r| r.path == path).collect()
    }
}

async fn serve(
    axum::extract::State((seen, handler)): axum::extract::State<ServerState>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let request = Request {
        path: uri.path().to_owned(),
        query: uri.query().unwrap_or_default().to_owned(),
        headers,
    };
    let previous = {
        let mut seen = seen.lock().unwrap();
        let previous = seen.iter().filter(|r| r.path == request.path).count();
        seen.push(request.clone());
        previous
    };
    match handler(&request, previous) {
        Reply::Full(body) => body.into_response(),
        Reply::Status(status) => StatusCode::from_u16(status).unwrap().into_response(),
        Reply::Html => (
            [(header::CONTENT_TYPE, "text/html")],
            "<!DOCTYPE html><html><body>Sign in to the hotel Wi-Fi</body></html>",
        )
            .into_response(),
        Reply::Gzip(body) => ([(header::CONTENT_ENCODING, "gzip")], gzip(&body)).into_response(),
        Reply::Encoded(body) => ([(header::CONTENT_ENCODING, "gzip")], body).into_response(),
        Reply::Identity(body) => ([(header::CONTENT_ENCODING, "identity")], body).into_response(),
        Reply::GzipCut(body, sent) => {
            let mut response = cut(Bytes::from(gzip(&body)), sent);
            response
                .headers_mut()
                .insert(header::CONTENT_ENCODING, "gzip".parse().unwrap());
            response
        }
        Reply::Cut(body, sent) => cut(body, sent),
        Reply::CutChunked(body, sent) => {
            let mut response = cut(body, sent);
            response.headers_mut().remove(header::CONTENT_LENGTH);
            response
        }
        Reply::Stall(body, sent) => {
            let head = futures::stream::iter(vec![Ok::<Bytes, std::io::Error>(body.slice(..sent))]);
            let never = futures::stream::once(async {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                Ok::<Bytes, std::io::Error>(Bytes::new())
            });
            Response::builder()
                .header(header::CONTENT_LENGTH, body.len())
                .header(header::ETAG, "\"v1\"")
                .body(Body::from_stream(futures::StreamExt::chain(head, never)))
                .unwrap()
        }
        Reply::Ranged(body) => match range_start(&request.headers) {
            Some(start) if (start as usize) < body.len() => Response::builder()
                .status(StatusCode::PARTIAL_CONTENT)
                .header(
                    header::CONTENT_RANGE,
                    format!("bytes {start}-{}/{}", body.len() - 1, body.len()),
                )
                .header(header::ETAG, "\"v1\"")
                .body(Body::from(body.slice(start as usize..)))
                .unwrap(),
            _ => ([(header::ETAG, "\"v1\"")], body).into_response(),
        },
        Reply::LyingRange(body, by) => {
            let start = range_start(&request.headers).expect("asked for a range") as usize;
            let end = body.len().checked_add_signed(by).unwrap();
            let sent = if end <= body.len() {
                body.slice(start..end)
            } else {
                let mut longer = body.slice(start..).to_vec();
                longer.resize(end - start, 0);
                Bytes::from(longer)
            };
            Response::builder()
                .status(StatusCode::PARTIAL_CONTENT)
                .header(
                    header::CONTENT_RANGE,
                    format!("bytes {start}-{}/{}", body.len() - 1, body.len()),
                )
                .header(header::ETAG, "\"v1\"")
                .body(Body::from(sent))
                .unwrap()
        }
        Reply::Gated(arrived, gate, body) => {
            arrived.notify_one();
            let _permit = gate.acquire().await;
            body.into_response()
        }
        Reply::WrongRange(body) => match range_start(&request.headers) {
            Some(_) => Response::builder()
                .status(StatusCode::PARTIAL_CONTENT)
                .header(
                    header::CONTENT_RANGE,
                    format!("bytes 1-{}/{}", body.len() - 1, body.len()),
                )
                .body(Body::from(body.slice(1..)))
                .unwrap(),
            None => body.into_response(),
        },
    }
}

fn gzip(body: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(body).unwrap();
    encoder.finish().unwrap()
}

/// Declares the full length, sends `sent` bytes, then breaks the connection.
fn cut(body: Bytes, sent: usize) -> Response {
    Response::builder()
        .header(header::CONTENT_LENGTH, body.len())
        .header(header::ETAG, "\"v1\"")
        .body(mesh_export_test_support::blobs::cut_after(
            body.slice(..sent),
        ))
        .unwrap()
}

pub(super) fn range_start(headers: &HeaderMap) -> Option<u64> {
    let value = headers.get(header::RANGE)?.to_str().ok()?;
    value
        .strip_prefix("bytes=")?
        .strip_suffix('-')?
        .parse()
        .ok()
}

pub(super) fn downloader(dir: &Path) -> Downloader {
    // The walk alone: these stores are not Azure's and do not list, and the tests count
    // the requests the walk makes (the listing has its own tests, in `listing`).
    Downloader::new(dir)
        .concurrency(4)
        .retry(quick_retries())
        .listing(false, false)
}

pub(super) fn tileset_naming(uris: &[&str]) -> Bytes {
    let children: Vec<_> = uris
        .iter()
        .map(|uri| json!({"geometricError": 1, "content": {"uri": uri}}))
        .collect();
    Bytes::from(
        serde_json::to_vec(&json!({
            "asset": {"version": "1.0"},
            "geometricError": 10,
            "root": {"geometricError": 5, "children": children}
        }))
        .unwrap(),
    )
}
