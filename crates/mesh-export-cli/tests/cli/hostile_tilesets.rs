//! Tilesets that name hostile or unreadable files, served by a plain blob store: nothing is
//! written outside the output directory, and what is missing is listed (exit 7).

use predicates::prelude::*;
use serde_json::Value;

use crate::support::bare;

/// A blob store on its own runtime that serves `files` by raw request path (404 otherwise),
/// whatever the query: a stand-in for a hostile or broken server.
pub(crate) struct Hostile {
    pub(crate) addr: std::net::SocketAddr,
    _runtime: tokio::runtime::Runtime,
}

pub(crate) fn hostile(files: Vec<(&str, Vec<u8>)>) -> Hostile {
    serving(
        files
            .into_iter()
            .map(|(path, body)| (path, body, false))
            .collect(),
    )
}

/// [`hostile`], with the files marked gzipped sent with `Content-Encoding: gzip`.
pub(crate) fn serving(files: Vec<(&str, Vec<u8>, bool)>) -> Hostile {
    use axum::http::{StatusCode, Uri, header};
    use axum::response::IntoResponse;
    let files: std::collections::HashMap<String, (Vec<u8>, bool)> = files
        .into_iter()
        .map(|(path, body, gzipped)| (path.to_owned(), (body, gzipped)))
        .collect();
    let files = std::sync::Arc::new(files);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let addr = runtime.block_on(async {
        let app = axum::Router::new().fallback(move |uri: Uri| {
            let files = files.clone();
            async move {
                match files.get(uri.path()) {
                    Some((body, true)) => {
                        ([(header::CONTENT_ENCODING, "gzip")], body.clone()).into_response()
                    }
                    Some((body, false)) => body.clone().into_response(),
                    None => StatusCode::NOT_FOUND.into_response(),
                }
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        addr
    });
    Hostile {
        addr,
        _runtime: runtime,
    }
}

/// A minimal valid binary glTF.
fn glb() -> Vec<u8> {
    let json = br#"{"asset":{"version":"2.0"}}  "#;
    let mut out = b"glTF".to_vec();
    out.extend_from_slice(&2u32.to_le_bytes());
    out.extend_from_slice(&((20 + json.len()) as u32).to_le_bytes());
    out.extend_from_slice(&(json.len() as u32).to_le_bytes());
    out.extend_from_slice(b"JSON");
    out.extend_from_slice(json);
    out
}

fn tileset_naming(uris: &[&str]) -> Vec<u8> {
    let children: Vec<Value> = uris
        .iter()
        .map(|uri| serde_json::json!({"geometricError": 1, "content": {"uri": uri}}))
        .collect();
    serde_json::to_vec(&serde_json::json!({
        "asset": {"version": "1.0"},
        "geometricError": 1,
        "root": {"geometricError": 1, "children": children}
    }))
    .unwrap()
}

/// Every file and directory under `dir`, `/`-separated, directories ending in `/`.
fn everything_under(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.file_type().unwrap().is_dir() {
            out.push(format!("{name}/"));
            for rest in everything_under(&entry.path()) {
                out.push(format!("{name}/{rest}"));
            }
        } else {
            out.push(name);
        }
    }
    out.sort();
    out
}

#[test]
fn an_href_whose_file_name_climbs_out_of_the_directory_writes_nothing_anywhere() {
    let server = hostile(vec![
        ("/c/..%2F..%2Fx.json", tileset_naming(&["t.glb"])),
        ("/x.json", tileset_naming(&["t.glb"])),
        ("/c/t.glb", glb()),
        ("/t.glb", glb()),
    ]);
    let parent = tempfile::tempdir().unwrap();
    let out = parent.path().join("a/b/out");
    std::fs::create_dir_all(&out).unwrap();
    for name in [
        "..%2F..%2Fx.json",
        "..%5C..%5Cx.json",
        "C%3Ax.json",
        "NUL.json",
    ] {
        let href = format!("http://{}/c/{name}?sig=1", server.addr);
        bare()
            .args(["download", "--href", &href, "--out", out.to_str().unwrap()])
            .assert()
            .code(1)
            .stderr(predicate::str::contains("cannot be written safely"));
    }
    assert_eq!(everything_under(parent.path()), ["a/", "a/b/", "a/b/out/"]);
}

#[test]
fn hostile_names_and_failed_files_exit_7_and_are_listed_in_the_json_document() {
    let server = hostile(vec![
        (
            "/c/e/tileset.json",
            tileset_naming(&["ok.glb", "C%3Aevil.dll", "NUL.glb", "../x.glb", "gone.glb"]),
        ),
        ("/c/e/ok.glb", glb()),
    ]);
    let parent = tempfile::tempdir().unwrap();
    let out = parent.path().join("out");
    let href = format!("http://{}/c/e?sig=1", server.addr);

    let output = bare()
        .args(["--json", "download", "--href", &href, "--out"])
        .arg(&out)
        .output()
        .unwrap();

    assert_eq!(output.status.code(), Some(7));
    let doc: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(doc["complete"], false, "{doc}");
    assert_eq!(doc["files"], 2, "{doc}");
    let failed = doc["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 1, "{doc}");
    assert_eq!(failed[0]["path"], "gone.glb");
    assert!(failed[0]["reason"].as_str().unwrap().contains("404"));
    let refused: Vec<&str> = doc["refused"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["uri"].as_str().unwrap())
        .collect();
    assert_eq!(refused, ["C%3Aevil.dll", "NUL.glb", "../x.glb"]);
    assert!(
        doc["refused"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| !r["reason"].as_str().unwrap().is_empty())
    );
    let error: Value = serde_json::from_slice(&output.stderr).unwrap();
    assert_eq!(error["error"]["exit_code"], 7);
    assert_eq!(
        everything_under(parent.path()),
        [
            "out/",
            "out/manifest.json",
            "out/ok.glb",
            "out/tileset.json"
        ]
    );
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["complete"], false);
    assert_eq!(manifest["missing"].as_array().unwrap().len(), 4);
}

#[test]
fn an_implicit_template_the_walker_cannot_interpret_exits_7_with_its_reason() {
    let tileset = serde_json::to_vec(&serde_json::json!({
        "asset": {"version": "1.1"},
        "geometricError": 1,
        "root": {
            "geometricError": 1,
            // `{lod}` is no implicit tiling variable: what it names is unknown.
            "content": {"uri": "c/{level}/{x}/{y}/{lod}.glb"},
            "implicitTiling": {"subdivisionScheme": "QUADTREE", "subtreeLevels": 2,
                "availableLevels": 2, "subtrees": {"uri": "s/{level}/{x}/{y}.subtree"}}
        }
    }))
    .unwrap();
    let server = hostile(vec![("/c/e/tileset.json", tileset)]);
    let out = tempfile::tempdir().unwrap();
    let href = format!("http://{}/c/e?sig=1", server.addr);

    let output = bare()
        .args(["--json", "download", "--href", &href, "--out"])
        .arg(out.path())
        .output()
        .unwrap();

    assert_eq!(output.status.code(), Some(7));
    let doc: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(doc["complete"], false, "{doc}");
    let failed = doc["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 1, "{doc}");
    assert_eq!(failed[0]["path"], "tileset.json");
    assert!(
        failed[0]["reason"].as_str().unwrap().contains("{lod}"),
        "{doc}"
    );
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(out.path().join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["complete"], false);
}

/// Implicit tiles whose subtree templates cannot be followed: one with an unknown variable and
/// a signed query, one named twice with a signed query, one a `data:` URI of a megabyte. Each
/// is reported, and none of their text reaches stdout, stderr or `manifest.json` raw.
#[test]
fn uninterpretable_uris_are_reported_redacted_and_capped_in_every_output() {
    let implicit = |content: &str, subtrees: &str| {
        serde_json::json!({
            "geometricError": 1,
            "content": {"uri": content},
            "implicitTiling": {"subdivisionScheme": "QUADTREE", "subtreeLevels": 2,
                "availableLevels": 2, "subtrees": {"uri": subtrees}}
        })
    };
    let payload = "QUFB".repeat(1 << 18);
    let tileset = serde_json::to_vec(&serde_json::json!({
        "asset": {"version": "1.1"},
        "geometricError": 1,
        "root": {"geometricError": 1, "children": [
            implicit("a/{level}/{x}/{y}.glb", "s/{level}/{x}/{y}/{w}.subtree?sv=1&sig=TEMPLATESIGNATURE"),
            implicit("b/{level}/{x}/{y}.glb", "t/{level}/{x}/{y}.subtree?sv=1&sig=NAMEDTWICESIGNATURE"),
            implicit("c/{level}/{x}/{y}.glb", "t/{level}/{x}/{y}.subtree?sv=2&sig=NAMEDTWICESIGNATURE"),
            implicit("d/{level}/{x}/{y}.glb", &format!("data:application/json;base64,{payload}")),
        ]}
    }))
    .unwrap();
    let server = hostile(vec![("/c/e/tileset.json", tileset)]);
    let out = tempfile::tempdir().unwrap();
    let href = format!("http://{}/c/e?sig=1", server.addr);

    let output = bare()
        .args(["--json", "download", "--href", &href, "--out"])
        .arg(out.path())
        .output()
        .unwrap();

    assert_eq!(output.status.code(), Some(7));
    let manifest = std::fs::read_to_string(out.path().join("manifest.json")).unwrap();
    for (channel, text) in [
        (
            "stdout",
            String::from_utf8_lossy(&output.stdout).into_owned(),
        ),
        (
            "stderr",
            String::from_utf8_lossy(&output.stderr).into_owned(),
        ),
        ("manifest.json", manifest),
    ] {
        for secret in ["TEMPLATESIGNATURE", "NAMEDTWICESIGNATURE"] {
            assert!(!text.contains(secret), "{secret} in {channel}: {text}");
        }
        assert!(text.len() < 64 * 1024, "{channel}: {} bytes", text.len());
    }
    let doc: Value = serde_json::from_slice(&output.stdout).unwrap();
    let reasons = doc["failed"].to_string();
    for reported in [
        "{w}",
        "named again",
        "data:application/json;base64,QUFB",
        "more characters",
    ] {
        assert!(reasons.contains(reported), "{reported}: {doc}");
    }
}

/// With every log on, nothing the process writes holds the signature of the tileset URL.
#[test]
fn trace_logs_of_a_download_hold_no_signature() {
    let server = hostile(vec![
        (
            "/c/e/tileset.json",
            tileset_naming(&["t.glb", "missing.glb"]),
        ),
        ("/c/e/t.glb", glb()),
    ]);
    let out = tempfile::tempdir().unwrap();
    let href = format!("http://{}/c/e?sv=1&sig=TRACEDSIGNATURE", server.addr);

    let output = bare()
        .args(["--json", "download", "--href", &href, "--out"])
        .arg(out.path())
        .env("RUST_LOG", "trace")
        .output()
        .unwrap();

    assert_eq!(output.status.code(), Some(7));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("TRACE"), "logs are on: {stderr}");
    assert!(!stderr.contains("TRACEDSIGNATURE"), "{stderr}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!stdout.contains("TRACEDSIGNATURE"), "{stdout}");
}
