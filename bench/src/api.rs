//! `get-exports` through the extension crate versus bare `reqwest` on the same connection pool,
//! and the emulator's own throughput.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use mesh_export::auth::ClientCredentials;
use mesh_export::types::{ExportType, ExportsPage, StartExport};
use mesh_export::{Client, ExportFilter, TokenSource, WaitOptions};
use reqwest::header::{ACCEPT, USER_AGENT};
use tokio::task::JoinSet;

use crate::emulator::EmulatorProcess;

/// The media type every iTwin Platform request accepts (the generated client sends it too).
const ITWIN_ACCEPT: &str = "application/vnd.bentley.itwin-platform.v1+json";

/// The iModel whose exports the listing benchmark reads.
const LIST_IMODEL: &str = "5c1a7d0e-bench-list-0000-000000000001";

/// Exports started in [`LIST_IMODEL`]: the most the service keeps per iModel.
const LIST_EXPORTS: usize = 5;

/// Whether the benchmark's tracing subscriber formats anything. Off only while the
/// "tracing filtered out" breakdown row is measured.
pub static TRACING_ON: AtomicBool = AtomicBool::new(true);

/// Installs the process-wide subscriber: INFO and above, formatted as the `fmt` subscriber
/// does, written to a sink, so the stack pays the real cost of its spans and events.
pub fn install_tracing() {
    use tracing_subscriber::filter::{LevelFilter, filter_fn};
    use tracing_subscriber::prelude::*;

    let formatter = tracing_subscriber::fmt::layer()
        .with_writer(std::io::sink)
        .with_filter(filter_fn(|_| TRACING_ON.load(Ordering::Relaxed)));
    tracing_subscriber::registry()
        .with(LevelFilter::INFO)
        .with(formatter)
        .init();
}

/// How one `get-exports` request is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// `Client::list_page`: token cache, retry policy, headers, correlation id, tracing span.
    Stack,
    /// `reqwest` on `Client::http()`: bearer token, Accept and Prefer headers, JSON decoded
    /// into `ExportsPage`.
    Bare,
    /// [`Side::Bare`] plus the stack's `User-Agent` and a fresh `X-Correlation-ID` per call.
    BareWithStackHeaders,
    /// [`Side::Bare`] without decoding the body: the least a client can do.
    BareNoDecode,
}

/// The bare side's fixed parts.
struct Bare {
    http: reqwest::Client,
    url: String,
    query: Vec<(&'static str, String)>,
    token: String,
}

/// Both clients, ready to list the same exports.
pub struct Api {
    client: Client,
    filter: ExportFilter,
    bare: Bare,
}

impl Api {
    /// Builds the stack's client with client credentials against the emulator, starts
    /// [`LIST_EXPORTS`] exports and waits for them, so every listing returns the same page.
    /// Returns the API and the number of exports a page holds.
    pub async fn setup(emulator: &EmulatorProcess) -> Result<(Arc<Api>, usize), String> {
        let credentials = || {
            ClientCredentials::new(
                mesh_export_emulator::DEMO_CLIENT_ID,
                mesh_export_emulator::DEMO_CLIENT_SECRET,
            )
            .token_url(emulator.token_url())
        };
        let client = Client::builder()
            .base_url(emulator.mesh_export_url())
            .client_credentials(credentials())
            .build()
            .map_err(|e| format!("cannot build the client: {e}"))?;
        let mut ids = Vec::new();
        for _ in 0..LIST_EXPORTS {
            let export = client
                .start_export(StartExport {
                    i_model_id: LIST_IMODEL.into(),
                    changeset_id: None,
                    export_type: Some(ExportType::X3dTiles),
                })
                .await
                .map_err(|e| format!("start-export: {e}"))?;
            ids.push(export.id);
        }
        for id in &ids {
            client
                .wait_for_export(LIST_IMODEL, id, fast_wait())
                .await
                .map_err(|e| format!("waiting for export {id}: {e}"))?;
        }
        // The bare side gets its own token from the same endpoint, once.
        let token = credentials()
            .token()
            .await
            .map_err(|e| format!("token: {e}"))?
            .token
            .expose()
            .to_owned();
        let api = Api {
            bare: Bare {
                http: client.http().clone(),
                url: format!("{}/", client.base_url()),
                query: vec![("iModelId", LIST_IMODEL.to_owned())],
                token,
            },
            filter: ExportFilter::new().i_model_id(LIST_IMODEL),
            client,
        };
        let page = api
            .client
            .list_page(&api.filter)
            .await
            .map_err(|e| e.to_string())?;
        let bare_page = api.bare_page(Side::Bare).await?.map(|p| p.exports.len());
        if bare_page != Some(page.exports.len()) {
            return Err(format!(
                "the two sides disagree: stack {} exports, bare {bare_page:?}",
                page.exports.len()
            ));
        }
        Ok((Arc::new(api), page.exports.len()))
    }

    /// The stack's client, for the download setup.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// One request, its response decoded (except for [`Side::BareNoDecode`]).
    async fn call(&self, side: Side) -> Result<(), String> {
        match side {
            Side::Stack => {
                let page = self
                    .client
                    .list_page(&self.filter)
                    .await
                    .map_err(|e| e.to_string())?;
                std::hint::black_box(page);
            }
            _ => {
                std::hint::black_box(self.bare_page(side).await?);
            }
        }
        Ok(())
    }

    /// The bare request, as a user of `reqwest` would write it.
    async fn bare_page(&self, side: Side) -> Result<Option<ExportsPage>, String> {
        let bare = &self.bare;
        let mut request = bare
            .http
            .get(&bare.url)
            .query(&bare.query)
            .bearer_auth(&bare.token)
            .header(ACCEPT, ITWIN_ACCEPT)
            .header("prefer", "return=representation");
        if side == Side::BareWithStackHeaders {
            request = request
                .header(USER_AGENT, "mesh-export/0.1.0")
                .header("x-correlation-id", uuid::Uuid::new_v4().to_string());
        }
        let response = request.send().await.map_err(|e| e.to_string())?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| e.to_string())?;
        if !status.is_success() {
            return Err(format!("get-exports answered HTTP {status}"));
        }
        if side == Side::BareNoDecode {
            return Ok(None);
        }
        let mut page: ExportsPage = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
        page.exports.retain(|e| self.filter.matches(e));
        Ok(Some(page))
    }
}

/// Polls every 50 ms: the emulator's exports complete in 0.2 s.
pub fn fast_wait() -> WaitOptions {
    WaitOptions::default().interval(Duration::from_millis(50))
}

/// Requests per second of `side` with `concurrency` tasks each sending one request after
/// another for `duration` (requests in flight at the deadline are finished and counted).
pub async fn measure(
    api: &Arc<Api>,
    side: Side,
    concurrency: usize,
    duration: Duration,
) -> Result<f64, String> {
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = JoinSet::new();
    for _ in 0..concurrency {
        let api = api.clone();
        tasks.spawn(async move {
            let mut done = 0u64;
            while Instant::now() < deadline {
                api.call(side).await?;
                done += 1;
            }
            Ok::<u64, String>(done)
        });
    }
    let mut total = 0;
    while let Some(result) = tasks.join_next().await {
        total += result.map_err(|e| format!("a request task failed: {e}"))??;
    }
    Ok(total as f64 / started.elapsed().as_secs_f64())
}
