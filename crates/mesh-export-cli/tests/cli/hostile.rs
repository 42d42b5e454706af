//! The binary against hostile or broken servers: it ends cleanly, with the documented exit code,
//! and never prints a signature.

use std::ffi::OsString;
use std::sync::Arc;
use std::time::Duration;

use assert_cmd::Command;

use crate::support::bare;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A loopback server on its own runtime that answers `(method, target, root)` with a raw
/// status, headers and body.
pub(crate) struct Server {
    pub(crate) root: String,
    _runtime: tokio::runtime::Runtime,
}

pub(crate) type Reply = (u16, Vec<(&'static str, String)>, String);

pub(crate) fn server(reply: impl Fn(&str, &str, &str) -> Reply + Send + Sync + 'static) -> Server {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let root = format!("http://{}", listener.local_addr().unwrap());
    let reply = Arc::new(reply);
    let base = root.clone();
    runtime.spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            let reply = reply.clone();
            let base = base.clone();
            tokio::spawn(async move {
                let mut data = Vec::new();
                let mut buf = [0u8; 4096];
                loop {
                    let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") else {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => data.extend_from_slice(&buf[..n]),
                        }
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
                    while data.len() < end + 4 + length {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => data.extend_from_slice(&buf[..n]),
                        }
                    }
                    data.drain(..end + 4 + length);
                    let mut first = head.lines().next().unwrap_or_default().split(' ');
                    let method = first.next().unwrap_or_default().to_owned();
                    let target = first.next().unwrap_or_default().to_owned();
                    let (status, headers, body) = reply(&method, &target, &base);
                    let mut out =
                        format!("HTTP/1.1 {status} X\r\ncontent-length: {}\r\n", body.len());
                    for (name, value) in headers {
                        out.push_str(&format!("{name}: {value}\r\n"));
                    }
                    out.push_str("\r\n");
                    out.push_str(&body);
                    if socket.write_all(out.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    Server {
        root,
        _runtime: runtime,
    }
}

pub(crate) fn json_reply(status: u16, body: impl Into<String>) -> Reply {
    (
        status,
        vec![("content-type", "application/json".into())],
        body.into(),
    )
}

pub(crate) fn empty_page(root: &str) -> String {
    format!(r#"{{"exports":[],"_links":{{"self":{{"href":"{root}/mesh-export/"}}}}}}"#)
}

impl Server {
    /// The binary pointed at this server, with client credentials against its token endpoint.
    pub(crate) fn cmd(&self) -> Command {
        let mut cmd = bare();
        cmd.args(["--base-url", &format!("{}/mesh-export", self.root)])
            .args(["--token-url", &format!("{}/connect/token", self.root)])
            .args(["--client-id", "id", "--client-secret", "secret"]);
        cmd
    }
}

/// The `{"error": {...}}` document on stderr of a `--json` run.
fn json_error(stderr: &[u8]) -> Value {
    let text = String::from_utf8_lossy(stderr);
    let line = text
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| panic!("no JSON on stderr: {text}"));
    serde_json::from_str(line).unwrap()
}

pub(crate) const TOKEN: &str = r#"{"access_token":"tok","token_type":"Bearer","expires_in":3600}"#;

#[test]
fn login_survives_a_token_with_an_absurd_expiry() {
    let service = server(|method, target, root| {
        if method == "POST" && target.starts_with("/connect/token") {
            json_reply(200, r#"{"access_token":"tok","expires_in":1e20}"#)
        } else {
            json_reply(200, empty_page(root))
        }
    });
    let output = service.cmd().args(["--json", "login"]).output().unwrap();
    assert!(
        output.status.success(),
        "{:?}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let login: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(login["method"], "client_credentials");
}

#[test]
fn login_fails_when_the_service_does_not_accept_the_token() {
    for (status, code) in [(500, 1), (403, 3), (401, 3)] {
        let service = server(move |method, _, _| {
            if method == "POST" {
                json_reply(200, TOKEN)
            } else {
                json_reply(status, r#"{"error":{"code":"X","message":"no"}}"#)
            }
        });
        let output = service.cmd().args(["--json", "login"]).output().unwrap();
        assert_eq!(output.status.code(), Some(code), "HTTP {status}");
        assert_eq!(json_error(&output.stderr)["error"]["exit_code"], code);
    }
}

#[test]
fn only_a_refusal_of_the_credentials_exits_with_3() {
    for (status, body, code) in [
        (503, "unavailable", 1),
        (429, "slow down", 6),
        (400, r#"{"error":"invalid_request"}"#, 1),
        (400, r#"{"error":"invalid_client"}"#, 3),
        (401, r#"{"error":"invalid_client"}"#, 3),
    ] {
        let service = server(move |method, _, root| {
            if method == "POST" {
                (status, vec![("retry-after", "0".into())], body.into())
            } else {
                json_reply(200, empty_page(root))
            }
        });
        let output = service.cmd().args(["--json", "list"]).output().unwrap();
        assert_eq!(
            output.status.code(),
            Some(code),
            "HTTP {status} {body}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

#[test]
fn a_server_error_that_quotes_signed_urls_prints_no_signature() {
    let urls = "https://d111.cloudfront.net/t/tileset.json?Policy=CFPOLICYSECRET&Signature=CFSIGSECRET&Key-Pair-Id=CFKEYPAIRSECRET \
                https://b.s3.amazonaws.com/t.glb?X-Amz-Credential=AMZCREDSECRET&X-Amz-Security-Token=AMZTOKENSECRET&X-Amz-Signature=AMZSIGSECRET \
                https://a.blob.core.windows.net/c?sv=1&sig=AZSIGSECRET";
    let service = server(move |method, _, _| {
        if method == "POST" {
            json_reply(200, TOKEN)
        } else {
            (500, vec![], format!("upstream failed: {urls}"))
        }
    });
    for args in [&["list"][..], &["--json", "list"], &["-vvv", "list"]] {
        let output = service.cmd().args(args).output().unwrap();
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        let shown = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(shown.contains("upstream failed"), "{shown}");
        for secret in [
            "CFPOLICYSECRET",
            "CFSIGSECRET",
            "CFKEYPAIRSECRET",
            "AMZCREDSECRET",
            "AMZTOKENSECRET",
            "AMZSIGSECRET",
            "AZSIGSECRET",
        ] {
            assert!(
                !shown.contains(secret),
                "{args:?}: {secret} leaked: {shown}"
            );
        }
    }
}

#[test]
fn list_all_over_pages_in_a_loop_exits_non_zero() {
    let service = server(|method, target, root| {
        if method == "POST" {
            return json_reply(200, TOKEN);
        }
        let (me, next) = if target.contains("page=b") {
            ("b", "a")
        } else {
            ("a", "b")
        };
        json_reply(
            200,
            format!(
                r#"{{"exports":[],"_links":{{"self":{{"href":"{root}/mesh-export/?page={me}"}},"next":{{"href":"{root}/mesh-export/?page={next}"}}}}}}"#
            ),
        )
    });
    let mut cmd = service.cmd();
    cmd.timeout(Duration::from_secs(20));
    let output = cmd.args(["--json", "list", "--all"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let error = json_error(&output.stderr);
    assert!(
        error["error"]["message"].as_str().unwrap().contains("loop"),
        "{error}"
    );
}

#[test]
fn usage_errors_keep_the_json_error_contract() {
    let output = bare().args(["--json", "frobnicate"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(json_error(&output.stderr)["error"]["exit_code"], 2);

    let output = bare()
        .args(["list", "--json", "--all=maybe"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(json_error(&output.stderr)["error"]["exit_code"], 2);
}

#[cfg(unix)]
#[test]
fn a_non_utf8_argument_keeps_the_json_error_contract() {
    use std::os::unix::ffi::OsStringExt;
    let output = bare()
        .args(["--json", "list", "--imodel"])
        .arg(OsString::from_vec(vec![b'a', 0xff, b'b']))
        .args(["--token", "t", "--base-url", "http://127.0.0.1:9"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(json_error(&output.stderr)["error"]["exit_code"], 2);
}

#[test]
fn a_refused_connection_shows_its_cause() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let output = bare()
        .args(["--token", "t", "--base-url"])
        .arg(format!("http://127.0.0.1:{port}/mesh-export"))
        .arg("list")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr).to_ascii_lowercase();
    assert!(stderr.contains("refused"), "{stderr}");
}

/// A blob container at `/c/` holding a two-tile tileset whose second tile answers `b_status`.
/// The tiles are opaque `.bin` files, which the downloader does not check for a format.
fn tile_store(b_status: u16) -> Server {
    server(move |_, target, _| {
        let path = target.split('?').next().unwrap_or_default();
        match path {
            "/c/tileset.json" => json_reply(
                200,
                r#"{"asset":{"version":"1.0"},"geometricError":1,"root":{"boundingVolume":{"box":[0,0,0,1,0,0,0,1,0,0,0,1]},"geometricError":0,"refine":"ADD","content":{"uri":"a.bin"},"children":[{"boundingVolume":{"box":[0,0,0,1,0,0,0,1,0,0,0,1]},"geometricError":0,"content":{"uri":"b.bin"}}]}}"#,
            ),
            "/c/a.bin" => (200, vec![], "tile a".into()),
            "/c/b.bin" if b_status == 200 => (200, vec![], "tile b".into()),
            "/c/b.bin" => (b_status, vec![], "missing".into()),
            _ => (404, vec![], "no such blob".into()),
        }
    })
}

#[test]
fn an_incomplete_download_lists_its_failed_files_in_json() {
    let store = tile_store(404);
    let out = tempfile::tempdir().unwrap();
    let output = bare()
        .args(["--json", "download", "--href"])
        .arg(format!("{}/c/?sv=1&sig=SECRETSIG", store.root))
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(7),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON document on stdout ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    });
    let failed = summary["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 1, "{summary}");
    assert_eq!(failed[0]["path"], "b.bin");
    assert!(
        failed[0]["reason"].as_str().unwrap().contains("404"),
        "{summary}"
    );
    assert_eq!(json_error(&output.stderr)["error"]["exit_code"], 7);
}

#[cfg(unix)]
#[test]
fn a_download_into_a_non_utf8_directory_prints_valid_json() {
    use std::os::unix::ffi::OsStringExt;
    let store = tile_store(200);
    let parent = tempfile::tempdir().unwrap();
    let out = parent
        .path()
        .join(OsString::from_vec(vec![b't', 0xff, b'x']));
    let output = bare()
        .args(["--json", "download", "--href"])
        .arg(format!("{}/c/?sv=1&sig=SECRETSIG", store.root))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{:?}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["files"], 3, "{summary}");
    assert!(summary["failed"].as_array().unwrap().is_empty());
}
