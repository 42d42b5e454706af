//! Many concurrent get-or-start -> wait -> download flows against an emulator that injects 429s,
//! 503s, dropped connections and slow responses: every flow finishes, every file is
//! byte-identical to what the emulator serves, no export is started twice, nothing panics, and
//! no token, client secret or SAS signature reaches a log line or an error message, with
//! tracing at TRACE.

use mesh_export::tiles::DownloadExport as _;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use mesh_export::tiles::Downloader;
use mesh_export::types::ExportType;
use mesh_export::{Client, ClientCredentials, Error, RetryOptions, StartExport, WaitOptions};
use mesh_export_emulator::{DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, Emulator, dump_tileset};
use mesh_export_test_support::logs::{self, LogCapture};

const IMODELS: usize = 4;
const FLOWS_PER_IMODEL: usize = 3;
/// How often a flow calls get-or-start again after a retryable error: the call is safe to
/// repeat, because it looks for an existing export before it starts one.
const GET_OR_START_TRIES: usize = 8;

struct FlowResult {
    export_id: String,
    dir: PathBuf,
    mesh_href: String,
    download_retries: u64,
    errors_seen: Vec<String>,
}

async fn flow(client: Client, i_model_id: String, dir: PathBuf) -> Result<FlowResult, Error> {
    let mut errors_seen = Vec::new();
    let mut started = None;
    for _ in 0..GET_OR_START_TRIES {
        let request = StartExport {
            i_model_id: i_model_id.clone(),
            changeset_id: None,
            export_type: Some(ExportType::X3dTiles),
            geometry_options: None,
            view_definition_filter: None,
        };
        match client.get_or_start_export(request).await {
            Ok(export) => {
                started = Some(export);
                break;
            }
            Err(error) if error.is_retryable() => {
                errors_seen.push(format!("{error} {error:?}"));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(error) => return Err(error),
        }
    }
    let started = started.expect("get-or-start succeeded within its tries");
    let options = WaitOptions::default()
        .interval(Duration::from_millis(100))
        .timeout(Duration::from_secs(120));
    let export = client
        .wait_for_export(&i_model_id, &started.id, options)
        .await?;
    let mesh_href = export
        .links
        .as_ref()
        .and_then(|l| l.mesh.as_ref())
        .unwrap()
        .href
        .clone();
    // The downloader's own HTTP client (no whole-request timeout), re-signing through the
    // client when a signature is refused.
    let downloader = Downloader::new(&dir).concurrency(4);
    let summary = downloader
        .download_export(&client, &i_model_id, &export)
        .await
        .map_err(|e| {
            errors_seen.push(format!("{e} {e:?}"));
            e
        });
    let summary = summary.expect("the download finished");
    Ok(FlowResult {
        export_id: export.id,
        dir,
        mesh_href,
        download_retries: summary.retries,
        errors_seen,
    })
}

/// Every file under `dir`, by relative path.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        for entry in std::fs::read_dir(&current).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let relative = path
                    .strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                out.insert(relative, std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_flows_finish_intact_under_injected_faults() {
    let logs = LogCapture::start();
    let emulator = Emulator::builder()
        .fault_rate(0.15)
        .seed(20_261_128)
        .tiles(12)
        .tile_bytes(8 * 1024)
        .export_duration(Duration::from_millis(600))
        .start()
        .await
        .unwrap();
    let client = Client::builder()
        .base_url(emulator.mesh_export_url())
        .client_credentials(
            ClientCredentials::new(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET)
                .token_url(emulator.token_url()),
        )
        .retry(RetryOptions {
            max_attempts: 10,
            initial_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(300),
            max_elapsed: Duration::from_secs(60),
            ..RetryOptions::default()
        })
        .build()
        .unwrap();
    let out = tempfile::tempdir().unwrap();

    let mut tasks = Vec::new();
    for flow_index in 0..IMODELS * FLOWS_PER_IMODEL {
        let i_model_id = format!("imodel-{}", flow_index % IMODELS);
        let dir = out.path().join(format!("flow-{flow_index}"));
        tasks.push(tokio::spawn(flow(client.clone(), i_model_id, dir)));
    }
    let mut results = Vec::new();
    for task in tasks {
        // A panic in a flow fails the test here, as does an error.
        results.push(
            task.await
                .expect("no flow panicked")
                .expect("every flow finished"),
        );
    }

    let stats = emulator.stats();
    assert!(
        stats.faults_injected > 0,
        "no fault was injected: {stats:?}"
    );
    assert_eq!(
        stats.exports_started, IMODELS as u64,
        "an export was started twice: {stats:?}"
    );

    let reference_root = out.path().join("reference");
    for result in &results {
        let reference = reference_root.join(&result.export_id);
        if !reference.exists() {
            dump_tileset(emulator.config(), &result.export_id, &reference).unwrap();
        }
        let expected = files(&reference);
        let mut got = files(&result.dir);
        assert!(
            got.remove(mesh_export::tiles::MANIFEST_FILE).is_some(),
            "no manifest"
        );
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            expected.keys().collect::<Vec<_>>(),
            "files of {}",
            result.dir.display()
        );
        for (path, bytes) in &expected {
            assert!(
                got[path] == *bytes,
                "{path} differs in {}",
                result.dir.display()
            );
        }
    }

    // The flows run in spawned tasks, outside the capture's span: read the process log.
    let text = logs::process_text();
    drop(logs);
    let retries = text.lines().filter(|l| l.contains("retrying")).count() as u64
        + results.iter().map(|r| r.download_retries).sum::<u64>();
    println!(
        "fault injection: {} flows, {} requests, {} injected faults, {} rate limited, {} retries, {} exports started",
        results.len(),
        stats.requests,
        stats.faults_injected,
        stats.rate_limited,
        retries,
        stats.exports_started
    );
    assert!(retries > 0, "faults were injected but nothing was retried");

    // Secrets: the client secret, any bearer token, and every SAS signature.
    let mut secrets = vec![DEMO_CLIENT_SECRET.to_owned()];
    for result in &results {
        let signature = result
            .mesh_href
            .split(['?', '&'])
            .find_map(|pair| pair.strip_prefix("sig="))
            .expect("the mesh link is signed");
        secrets.push(signature.to_owned());
    }
    let errors: Vec<&String> = results.iter().flat_map(|r| &r.errors_seen).collect();
    assert!(
        text.lines().count() > 100,
        "too little was logged to mean anything"
    );
    for secret in &secrets {
        assert!(!text.contains(secret.as_str()), "a secret reached the logs");
        assert!(
            errors.iter().all(|e| !e.contains(secret.as_str())),
            "a secret reached an error"
        );
    }
    assert!(
        !text.to_ascii_lowercase().contains("bearer "),
        "a bearer token reached the logs"
    );
    assert!(
        !text.contains("access_token"),
        "a token response reached the logs"
    );
    emulator.shutdown().await;
}
