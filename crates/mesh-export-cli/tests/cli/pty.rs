//! What a person sees in a terminal: the binary runs in a pseudo-terminal (rexpect), and each
//! test waits for the text it expects (30 s at most), never for a fixed time.

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use mesh_export_emulator::{DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, Emulator};
use rexpect::process::WaitStatus;
use rexpect::session::{PtySession, spawn_command};
use tokio::sync::Notify;

use crate::support::{IMODEL, RUNNER_ENV, Service, no_session_dir, service, service_with};

/// How long any expected text may take to appear.
const PATIENCE_MS: u64 = 30_000;

/// The terminal sequence that erases the line the cursor is on (`CSI 2 K`).
const ERASE_LINE: &str = "\x1b[2K";

/// The binary against `service`, with `args`, in a fresh pseudo-terminal.
fn in_terminal(service: &Service, args: &[&str], env: &[(&str, &str)]) -> PtySession {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mesh-export"));
    // What a person sees depends on NO_COLOR too; the tests that want it set it.
    for var in RUNNER_ENV.into_iter().chain(["NO_COLOR"]) {
        command.env_remove(var);
    }
    // Never the saved sign-in of whoever runs the tests.
    command.env("MESH_EXPORT_CONFIG_DIR", no_session_dir());
    command
        .args(["--base-url", &service.emulator.mesh_export_url()])
        .args(["--token-url", &service.emulator.token_url()])
        .args([
            "--client-id",
            DEMO_CLIENT_ID,
            "--client-secret",
            DEMO_CLIENT_SECRET,
        ])
        .args(args)
        .envs(env.iter().copied());
    spawn_command(command, Some(PATIENCE_MS)).expect("the binary starts in a pseudo-terminal")
}

/// The exit code once the process ends.
fn exit_code(session: &mut PtySession) -> i32 {
    let _ = session.exp_eof();
    match session.process().wait().unwrap() {
        WaitStatus::Exited(_, code) => code,
        other => panic!("ended with {other:?}"),
    }
}

/// An emulator whose exports run for a minute, and one export started on it.
fn running_export() -> (Service, String) {
    let service = service_with(
        Emulator::builder()
            .tiles(4)
            .tile_bytes(1_000)
            .export_duration(Duration::from_secs(60)),
    );
    let started = service.json(&["start", "--imodel", IMODEL]);
    let id = started["id"].as_str().unwrap().to_owned();
    (service, id)
}

#[test]
fn delete_asks_and_deletes_only_on_yes() {
    let service = service();
    let id = service.complete_export();

    let mut declined = in_terminal(&service, &["delete", &id], &[]);
    declined
        .exp_string(&format!("delete export {id}? [y/N]"))
        .unwrap();
    declined.send_line("n").unwrap();
    declined.exp_string("not confirmed").unwrap();
    assert_eq!(exit_code(&mut declined), 2);
    assert_eq!(service.json(&["get", &id])["status"], "Complete");

    let mut confirmed = in_terminal(&service, &["delete", &id], &[]);
    confirmed
        .exp_string(&format!("delete export {id}? [y/N]"))
        .unwrap();
    confirmed.send_line("y").unwrap();
    confirmed.exp_string(&format!("deleted {id}")).unwrap();
    assert_eq!(exit_code(&mut confirmed), 0);
    service.cmd().args(["get", &id]).assert().code(4);
}

#[test]
fn the_wait_spinner_shows_the_time_waited() {
    let (service, id) = running_export();
    let mut waiting = in_terminal(
        &service,
        &["wait", &id, "--imodel", IMODEL, "--interval", "0.1"],
        &[],
    );
    waiting
        .exp_regex(&format!(r"export {id}: \w+ \(\d+ ?\w* elapsed\)"))
        .unwrap();
    waiting.send_control('c').unwrap();
    let _ = exit_code(&mut waiting);
}

#[test]
fn ctrl_c_while_waiting_names_the_export_and_the_command_that_resumes() {
    let (service, id) = running_export();
    let mut waiting = in_terminal(
        &service,
        &[
            "start",
            "--imodel",
            IMODEL,
            "--reuse",
            "--wait",
            "--interval",
            "0.1",
        ],
        &[],
    );
    // The spinner is up: the wait, and the Ctrl-C handler, are running.
    waiting.exp_string(&format!("export {id}: ")).unwrap();
    waiting.send_control('c').unwrap();
    waiting
        .exp_string(&format!("interrupted; export {id} goes on at the service"))
        .unwrap();
    waiting
        .exp_string(&format!(
            "resume with `mesh-export wait {id} --imodel {IMODEL}`"
        ))
        .unwrap();
    assert_eq!(exit_code(&mut waiting), 130);
}

/// Whether `text` holds a colour (SGR) escape sequence: ESC `[`, digits and `;`, then `m`.
fn has_colour(text: &str) -> bool {
    text.split('\x1b').skip(1).any(|rest| {
        rest.strip_prefix('[').is_some_and(|codes| {
            let end = codes
                .find(|c: char| !(c.is_ascii_digit() || c == ';'))
                .unwrap_or(codes.len());
            codes[end..].starts_with('m')
        })
    })
}

#[test]
fn logs_on_a_terminal_are_coloured_unless_no_color_is_set() {
    let service = service();
    let mut coloured = in_terminal(&service, &["-vv", "list"], &[]);
    let text = coloured.exp_eof().unwrap();
    assert!(has_colour(&text), "a terminal gets colour: {text:?}");

    let mut plain = in_terminal(&service, &["-vv", "list"], &[("NO_COLOR", "1")]);
    let text = plain.exp_eof().unwrap();
    assert!(text.contains("DEBUG"), "{text:?}");
    assert!(!has_colour(&text), "{text:?}");
}

/// A service and blob store in one, on its own runtime: export `EXPORT_ID` is Complete, its
/// tileset names one file, and the request for that file is held: for ever, or until
/// `release` is notified, when it is answered 404.
struct HeldBlobs {
    root: String,
    _runtime: tokio::runtime::Runtime,
}

const EXPORT_ID: &str = "fc3aa1e5-5196-4dd9-a73e-4cfda693e576";

fn held_blobs(release: Option<Arc<Notify>>) -> HeldBlobs {
    use axum::routing::get;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let root = format!("http://{}", listener.local_addr().unwrap());
    let export = serde_json::json!({"export": {
        "id": EXPORT_ID,
        "displayName": "held",
        "status": "Complete",
        "request": {"iModelId": IMODEL, "changesetId": "", "exportType": "3DTiles"},
        "_links": {"mesh": {"href": format!("{root}/blob/c?sig=s")}}
    }});
    let tileset = serde_json::json!({
        "asset": {"version": "1.0"},
        "geometricError": 1,
        "root": {"geometricError": 1, "content": {"uri": "a.glb"}}
    });
    let glb = move || {
        let release = release.clone();
        async move {
            match release {
                Some(release) => release.notified().await,
                None => std::future::pending().await,
            }
            (axum::http::StatusCode::NOT_FOUND, "no such blob")
        }
    };
    let app = axum::Router::new()
        .route(
            &format!("/mesh-export/{EXPORT_ID}"),
            get(move || {
                let export = export.clone();
                async move { axum::Json(export) }
            }),
        )
        .route(
            "/blob/c/tileset.json",
            get(move || {
                let tileset = tileset.clone();
                async move { axum::Json(tileset) }
            }),
        )
        .route("/blob/c/a.glb", get(glb));
    runtime.spawn(async move { axum::serve(listener, app).await });
    HeldBlobs {
        root,
        _runtime: runtime,
    }
}

/// `download EXPORT_ID` from `blobs` into `out`, in a fresh pseudo-terminal.
fn download_in_terminal(blobs: &HeldBlobs, out: &str) -> PtySession {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mesh-export"));
    for var in RUNNER_ENV.into_iter().chain(["NO_COLOR"]) {
        command.env_remove(var);
    }
    command
        .env("MESH_EXPORT_CONFIG_DIR", no_session_dir())
        .args(["--base-url", &format!("{}/mesh-export", blobs.root)])
        .args(["--token", "t", "download", EXPORT_ID, "--out", out]);
    spawn_command(command, Some(PATIENCE_MS)).unwrap()
}

#[test]
fn ctrl_c_during_a_download_names_the_export_and_the_command_that_resumes() {
    let blobs = held_blobs(None);
    let out = tempfile::tempdir().unwrap();
    let out_dir = out.path().to_str().unwrap();
    let mut download = download_in_terminal(&blobs, out_dir);
    // The bar is drawn: the download, and the Ctrl-C handler, are running.
    download.exp_string("files").unwrap();
    download.send_control('c').unwrap();
    download
        .exp_string(&format!(
            "interrupted; export {EXPORT_ID} goes on at the service"
        ))
        .unwrap();
    download
        .exp_string(&format!(
            "resume with `mesh-export download {EXPORT_ID} --out {out_dir}`"
        ))
        .unwrap();
    assert_eq!(exit_code(&mut download), 130);
}

#[test]
fn a_failed_download_clears_its_bar_before_the_error() {
    let release = Arc::new(Notify::new());
    let blobs = held_blobs(Some(release.clone()));
    let out = tempfile::tempdir().unwrap();
    let mut download = download_in_terminal(&blobs, out.path().to_str().unwrap());
    // The bar is drawn, and its file is held until now: it fails while the bar is shown.
    let before = download.exp_string(" files ").unwrap();
    release.notify_one();
    let after = download.exp_eof().unwrap();
    let shown = format!("{before} files {after}");
    let error = shown
        .find("error: ")
        .unwrap_or_else(|| panic!("no error: {shown:?}"));
    let last_frame = shown[..error]
        .rfind(" files ")
        .unwrap_or_else(|| panic!("no bar: {shown:?}"));
    // After the bar's last frame and before the failure is reported, the line is erased.
    let between = &shown[last_frame..error];
    let failed = between.find("failed: ").unwrap_or(between.len());
    assert!(
        between[..failed].contains(ERASE_LINE),
        "the bar's last frame stays on screen: {between:?}"
    );
    assert_eq!(exit_code(&mut download), 7);
}
