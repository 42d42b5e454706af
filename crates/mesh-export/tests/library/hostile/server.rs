//! The raw loopback server the hostile tests run against, and the API bodies they serve.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use mesh_export::{RetryOptions, StartExport, types::ExportType};
use mesh_export_test_support::servers::read_request_head;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One request a [`raw_server`] received.
#[derive(Clone, Debug)]
pub(super) struct Seen {
    pub(super) method: String,
    pub(super) target: String,
    pub(super) at: Instant,
}

/// What a [`raw_server`] does with a request.
pub(super) enum Action {
    /// Answer with this status, extra headers and body.
    Respond(u16, Vec<(&'static str, String)>, String),
    /// Promise `body.len() + 100` bytes, send `body`, then close.
    Truncate(String),
    /// Never answer (the socket stays open).
    Hang,
}

pub(super) fn json(status: u16, body: impl Into<String>) -> Action {
    Action::Respond(
        status,
        vec![("content-type", "application/json".into())],
        body.into(),
    )
}

pub(super) fn text(status: u16, body: impl Into<String>) -> Action {
    Action::Respond(
        status,
        vec![("content-type", "text/plain".into())],
        body.into(),
    )
}

pub(super) type Log = Arc<Mutex<Vec<Seen>>>;

/// A loopback HTTP/1.1 server that answers each request with `reply(&request, index, root)`;
/// `reply` also gets the server's root (`http://127.0.0.1:PORT`), which is returned with the
/// log of requests.
pub(super) async fn raw_server(
    reply: impl Fn(&Seen, usize, &str) -> Action + Send + Sync + 'static,
) -> (String, Log) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let root = format!("http://{}", listener.local_addr().unwrap());
    let log: Log = Arc::default();
    let reply = Arc::new(reply);
    let requests = log.clone();
    let base = root.clone();
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            let reply = reply.clone();
            let requests = requests.clone();
            let base = base.clone();
            tokio::spawn(async move {
                while let Some(seen) = read_head(&mut socket).await {
                    let index = {
                        let mut log = requests.lock().unwrap();
                        log.push(seen.clone());
                        log.len() - 1
                    };
                    match reply(&seen, index, &base) {
                        Action::Respond(status, headers, body) => {
                            let mut head = format!(
                                "HTTP/1.1 {status} X\r\ncontent-length: {}\r\n",
                                body.len()
                            );
                            for (name, value) in headers {
                                head.push_str(&format!("{name}: {value}\r\n"));
                            }
                            head.push_str("\r\n");
                            if socket.write_all(head.as_bytes()).await.is_err()
                                || socket.write_all(body.as_bytes()).await.is_err()
                            {
                                return;
                            }
                        }
                        Action::Truncate(body) => {
                            let head = format!(
                                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                                body.len() + 100
                            );
                            let _ = socket.write_all(head.as_bytes()).await;
                            let _ = socket.write_all(body.as_bytes()).await;
                            let _ = socket.shutdown().await;
                            return;
                        }
                        Action::Hang => {
                            let mut sink = [0u8; 64];
                            while socket.read(&mut sink).await.is_ok_and(|n| n > 0) {}
                            return;
                        }
                    }
                }
            });
        }
    });
    (root, log)
}

/// Reads one request (head and `content-length` body) and notes its method and target.
async fn read_head(socket: &mut tokio::net::TcpStream) -> Option<Seen> {
    let head = read_request_head(socket).await?;
    let mut first = head.lines().next()?.split(' ');
    Some(Seen {
        method: first.next()?.to_owned(),
        target: first.next()?.to_owned(),
        at: Instant::now(),
    })
}

pub(super) fn page(root: &str, self_href: &str, next: Option<&str>, exports: &str) -> String {
    let next = next
        .map(|n| format!(r#","next":{{"href":"{root}{n}"}}"#))
        .unwrap_or_default();
    format!(r#"{{"exports":{exports},"_links":{{"self":{{"href":"{root}{self_href}"}}{next}}}}}"#)
}

pub(super) fn export_json(
    id: &str,
    status: &str,
    last_modified: Option<&str>,
    request: &str,
) -> String {
    let modified = last_modified
        .map(|m| format!(r#","lastModified":"{m}""#))
        .unwrap_or_default();
    format!(
        r#"{{"id":"{id}","displayName":"m","status":"{status}"{modified},"request":{request}}}"#
    )
}

pub(super) fn start_request(i_model_id: &str) -> StartExport {
    StartExport {
        i_model_id: i_model_id.into(),
        changeset_id: None,
        export_type: Some(ExportType::X3dTiles),
        geometry_options: None,
        view_definition_filter: None,
    }
}

pub(super) fn quick() -> RetryOptions {
    mesh_export_test_support::emulator::quick_retries()
}
