//! A purpose-built blob store: serves files under `/c/export/`, checks the signature, records
//! every request it receives, and misbehaves on demand.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::json;

pub use crate::filler::bytes;
use crate::glb::{b3dm_of, glb, glb_of};

/// The container root every test tileset lives under.
pub const ROOT: &str = "/c/export/";
/// The signature the store accepts from the start.
pub const SIG: &str = "SECRET-SIGNATURE";

/// What the store does with one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Serve the file.
    None,
    /// Answer with this status and an optional `Retry-After` in seconds.
    Status(u16, Option<u64>),
    /// Declare the full `Content-Length`, send half the body, then break the connection.
    Truncate,
    /// Wait, then serve the file.
    Delay(Duration),
    /// Answer `302 Found` with this `Location`.
    Redirect(String),
}

/// A request the store received.
#[derive(Debug, Clone)]
pub struct Seen {
    /// The path as sent, e.g. `/c/export/tileset.json`.
    pub path: String,
    /// The query as sent.
    pub query: Option<String>,
    /// When it arrived.
    pub at: Instant,
}

type FaultFn = Box<dyn FnMut(&str, usize) -> Fault + Send>;

struct State {
    files: Mutex<HashMap<String, Bytes>>,
    signatures: Mutex<Vec<String>>,
    seen: Mutex<Vec<Seen>>,
    fault: Mutex<FaultFn>,
}

/// A running store on 127.0.0.1.
#[derive(Clone)]
pub struct BlobStore {
    /// The address it listens on.
    pub addr: std::net::SocketAddr,
    state: Arc<State>,
}

impl BlobStore {
    /// Serves `files` (paths relative to [`ROOT`]).
    pub async fn start(files: HashMap<String, Vec<u8>>) -> BlobStore {
        let state = Arc::new(State {
            files: Mutex::new(
                files
                    .into_iter()
                    .map(|(k, v)| (k, Bytes::from(v)))
                    .collect(),
            ),
            signatures: Mutex::new(vec![SIG.to_owned()]),
            seen: Mutex::new(Vec::new()),
            fault: Mutex::new(Box::new(|_, _| Fault::None)),
        });
        let app = Router::new().fallback(serve).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        BlobStore { addr, state }
    }

    /// The mesh href of the container, signed with `sig`.
    pub fn href_with(&self, sig: &str) -> String {
        format!("http://{}/c/export?sv=2024&sig={sig}", self.addr)
    }

    /// The mesh href of the container with the accepted signature.
    pub fn href(&self) -> String {
        self.href_with(SIG)
    }

    /// Starts accepting `sig` too: a fresh signature for the same container.
    pub fn accept(&self, sig: &str) {
        self.state.signatures.lock().unwrap().push(sig.to_owned());
    }

    /// Stops accepting `sig`: it has expired. Requests already being served finish.
    pub fn revoke(&self, sig: &str) {
        self.state.signatures.lock().unwrap().retain(|s| s != sig);
    }

    /// Decides the fault of each request from the path under the root and how many times
    /// that path was requested before.
    pub fn set_fault(&self, fault: impl FnMut(&str, usize) -> Fault + Send + 'static) {
        *self.state.fault.lock().unwrap() = Box::new(fault);
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }

    /// How many requests named this path under the root.
    pub fn count(&self, rel: &str) -> usize {
        let full = format!("{ROOT}{rel}");
        self.seen().iter().filter(|s| s.path == full).count()
    }

    /// Forgets the requests seen so far.
    pub fn clear_seen(&self) {
        self.state.seen.lock().unwrap().clear();
    }

    /// The content served at a path under the root.
    pub fn file(&self, rel: &str) -> Option<Bytes> {
        self.state.files.lock().unwrap().get(rel).cloned()
    }

    /// Every path under the root that is served.
    pub fn paths(&self) -> Vec<String> {
        let mut paths: Vec<String> = self.state.files.lock().unwrap().keys().cloned().collect();
        paths.sort();
        paths
    }
}

async fn serve(
    axum::extract::State(state): axum::extract::State<Arc<State>>,
    uri: Uri,
) -> Response {
    let path = uri.path().to_owned();
    let query = uri.query().map(str::to_owned);
    let previous = {
        let mut seen = state.seen.lock().unwrap();
        let previous = seen.iter().filter(|s| s.path == path).count();
        seen.push(Seen {
            path: path.clone(),
            query: query.clone(),
            at: Instant::now(),
        });
        previous
    };
    let signed = query.as_deref().is_some_and(|q| {
        let accepted = state.signatures.lock().unwrap();
        q.split('&').any(|kv| {
            kv.strip_prefix("sig=")
                .is_some_and(|sig| accepted.iter().any(|a| a == sig))
        })
    });
    if !signed {
        return (
            StatusCode::FORBIDDEN,
            "<Error><Code>AuthenticationFailed</Code><Message>Signed expiry time has passed</Message></Error>",
        )
            .into_response();
    }
    let Some(rel) = path.strip_prefix(ROOT) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let fault = (state.fault.lock().unwrap())(rel, previous);
    let Some(body) = state.files.lock().unwrap().get(rel).cloned() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match fault {
        Fault::None => body.into_response(),
        Fault::Delay(wait) => {
            tokio::time::sleep(wait).await;
            body.into_response()
        }
        Fault::Status(status, retry_after) => {
            let mut response = StatusCode::from_u16(status).unwrap().into_response();
            if let Some(seconds) = retry_after {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, seconds.to_string().parse().unwrap());
            }
            response
        }
        Fault::Redirect(location) => {
            (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
        }
        Fault::Truncate => Response::builder()
            .header(header::CONTENT_LENGTH, body.len())
            .body(cut_after(body.slice(..body.len() / 2)))
            .unwrap(),
    }
}

/// A body that sends `head` and then breaks the connection.
///
/// The break waits for one turn of the runtime, which is when the server flushes what it has:
/// had the connection closed before the status line left, the client would see no answer and
/// send the request again by itself, on a new connection, and the caller would never know.
pub fn cut_after(head: Bytes) -> Body {
    let head = futures::stream::iter([Ok::<Bytes, std::io::Error>(head)]);
    let breaks = futures::stream::once(async {
        tokio::task::yield_now().await;
        Err(std::io::Error::other("the connection breaks"))
    });
    Body::from_stream(futures::StreamExt::chain(head, breaks))
}

/// A tileset exercising every layout the walker reads: a 3D Tiles 1.0 root with nested
/// children, an external child tileset in a subdirectory in the 1.1 layout (`contents[]`,
/// legacy `url`), a `.gltf` with an external buffer, an external image and a data URI, a
/// `.glb` naming an external texture, and one file large enough to arrive in many chunks.
pub fn fixture() -> HashMap<String, Vec<u8>> {
    let mut files = HashMap::new();
    let mut put = |path: &str, content: Vec<u8>| {
        files.insert(path.to_owned(), content);
    };
    put(
        "tileset.json",
        serde_json::to_vec_pretty(&json!({
            "asset": {"version": "1.0"},
            "geometricError": 500,
            "root": {
                "geometricError": 100,
                "content": {"uri": "tiles/root.glb"},
                "children": [
                    {"geometricError": 50, "content": {"uri": "tiles/0.glb"}, "children": [
                        {"geometricError": 10, "content": {"uri": "tiles/0/big.glb"}}
                    ]},
                    {"geometricError": 50, "content": {"uri": "models/house.gltf"}},
                    {"geometricError": 50, "content": {"uri": "sub/child.json"}},
                    {"geometricError": 50, "content": {"uri": "./tiles/0.glb"}}
                ]
            }
        }))
        .unwrap(),
    );
    put(
        "sub/child.json",
        serde_json::to_vec_pretty(&json!({
            "asset": {"version": "1.1"},
            "geometricError": 50,
            "root": {
                "geometricError": 20,
                "contents": [{"uri": "a.glb"}, {"uri": "b.glb"}],
                "children": [{"geometricError": 5, "content": {"url": "legacy.b3dm"}}]
            }
        }))
        .unwrap(),
    );
    put(
        "tiles/root.glb",
        glb(&json!({"asset": {"version": "2.0"}, "images": [{"uri": "../textures/root.png"}]})),
    );
    put("textures/root.png", bytes(1, 3000));
    put("tiles/0.glb", glb_of(2, 5000));
    put("tiles/0/big.glb", glb_of(3, 3 * 1024 * 1024 + 17));
    put(
        "models/house.gltf",
        serde_json::to_vec(&json!({
            "asset": {"version": "2.0"},
            "buffers": [{"uri": "house.bin", "byteLength": 1000}, {"uri": "data:application/octet-stream;base64,AAAA", "byteLength": 3}],
            "images": [{"uri": "../textures/wall.png"}]
        }))
        .unwrap(),
    );
    put("models/house.bin", bytes(4, 1000));
    put("textures/wall.png", bytes(5, 2000));
    put("sub/a.glb", glb_of(6, 7000));
    put("sub/b.glb", glb_of(7, 100));
    put("sub/legacy.b3dm", b3dm_of(8, 900));
    files
}
