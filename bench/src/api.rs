//! `get-exports` through the extension crate versus bare `reqwest` on the same connection pool,
//! and the emulator's own throughput.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use mesh_export::auth::{ClientCredentials, TokenCache};
use mesh_export::types::{ExportType, ExportsPage, PreferReturn, StartExport};
use mesh_export::{Client, ExportFilter, RetryOptions, TokenSource, WaitOptions};
// ITWIN_ACCEPT: the media type every request accepts, generated from the spec.
use mesh_export_client::{
    BoxFuture, ITWIN_ACCEPT, OperationInfo, PolicyError, PolicyHandle, RequestPolicy,
};
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderValue, USER_AGENT};
use tokio::task::JoinSet;

use crate::emulator::EmulatorProcess;

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
    /// The generated client (progenitor's builder, URL, headers hook, decoding) with a policy
    /// that only sets the bearer token: the stack without its policy.
    GeneratedBearerOnly,
    /// [`Side::GeneratedBearerOnly`], but the policy takes the token from a
    /// `mesh_export::auth::TokenCache` on every call, as the stack's policy does.
    GeneratedTokenCache,
    /// The stack with `RetryOptions::none()`: no retry loop (no request copy per attempt).
    StackNoRetries,
}

/// A policy that sets a bearer token, fixed or from a [`TokenCache`], and sends once.
#[derive(Debug)]
enum BearerOnly {
    Fixed(HeaderValue),
    Cached(TokenCache),
}

impl RequestPolicy for BearerOnly {
    fn prepare<'a>(
        &'a self,
        request: &'a mut reqwest::Request,
        _operation: &'a OperationInfo,
    ) -> BoxFuture<'a, Result<(), PolicyError>> {
        Box::pin(async move {
            let value = match self {
                BearerOnly::Fixed(value) => value.clone(),
                BearerOnly::Cached(cache) => {
                    let token = cache.get().await.map_err(|e| e.to_string())?;
                    let mut value =
                        HeaderValue::from_str(&format!("Bearer {}", token.token.expose()))
                            .map_err(|e| e.to_string())?;
                    value.set_sensitive(true);
                    value
                }
            };
            request.headers_mut().insert(AUTHORIZATION, value);
            Ok(())
        })
    }

    fn execute<'a>(
        &'a self,
        client: &'a reqwest::Client,
        request: reqwest::Request,
        _operation: &'a OperationInfo,
    ) -> BoxFuture<'a, reqwest::Result<reqwest::Response>> {
        Box::pin(client.execute(request))
    }
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
    no_retries: Client,
    generated: mesh_export_client::Client,
    generated_cache: mesh_export_client::Client,
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
        let no_retries = Client::builder()
            .base_url(emulator.mesh_export_url())
            .client_credentials(credentials())
            .retry(RetryOptions::none())
            .http_client(client.http().clone())
            .build()
            .map_err(|e| format!("cannot build the client: {e}"))?;
        let mut ids = Vec::new();
        for _ in 0..LIST_EXPORTS {
            let export = client
                .start_export(StartExport {
                    i_model_id: LIST_IMODEL.into(),
                    changeset_id: None,
                    export_type: Some(ExportType::X3dTiles),
                    geometry_options: None,
                    view_definition_filter: None,
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
        let mut bearer = HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|_| "the token is not a valid header value".to_owned())?;
        bearer.set_sensitive(true);
        let generated = mesh_export_client::Client::new_with_client(
            client.base_url(),
            client.http().clone(),
            PolicyHandle::new(Arc::new(BearerOnly::Fixed(bearer))),
        );
        let cache = TokenCache::new(Arc::new(credentials()));
        cache.get().await.map_err(|e| format!("token: {e}"))?;
        let generated_cache = mesh_export_client::Client::new_with_client(
            client.base_url(),
            client.http().clone(),
            PolicyHandle::new(Arc::new(BearerOnly::Cached(cache))),
        );
        let api = Api {
            generated_cache,
            no_retries,
            generated,
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

    /// Sizes in bytes of the futures of one stack call and one bare call (large futures are
    /// copied when boxed and moved, which shows up as `memmove` in profiles).
    pub fn future_sizes(&self) -> (usize, usize) {
        let stack = std::mem::size_of_val(&self.client.list_page(&self.filter));
        let bare = std::mem::size_of_val(&self.bare_page(Side::Bare));
        (stack, bare)
    }

    /// The stack's client, for the download setup.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// One request, its response decoded (except for [`Side::BareNoDecode`]).
    async fn call(&self, side: Side) -> Result<(), String> {
        match side {
            Side::Stack | Side::StackNoRetries => {
                let client = if side == Side::Stack {
                    &self.client
                } else {
                    &self.no_retries
                };
                let page = client
                    .list_page(&self.filter)
                    .await
                    .map_err(|e| e.to_string())?;
                std::hint::black_box(page);
            }
            Side::GeneratedBearerOnly | Side::GeneratedTokenCache => {
                let generated = if side == Side::GeneratedBearerOnly {
                    &self.generated
                } else {
                    &self.generated_cache
                };
                let mut page = generated
                    .get_exports()
                    .prefer(PreferReturn::ReturnRepresentation)
                    .i_model_id(LIST_IMODEL)
                    .send()
                    .await
                    .map_err(|e| e.to_string())?
                    .into_inner();
                page.exports.retain(|e| self.filter.matches(e));
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

/// One measurement of a side.
#[derive(Clone, Copy, Debug)]
pub struct Measured {
    /// Requests per second.
    pub rps: f64,
    /// CPU time this process spent per request, in microseconds (NaN without `/proc`).
    pub cpu_us: f64,
    /// Requests completed.
    pub calls: u64,
    /// Wall time of the measurement, in seconds.
    pub seconds: f64,
}

impl Measured {
    /// Measurements of the same side, each with the emulator's cores during it, taken as one:
    /// their calls over their time, CPU per call weighted by calls, cores by time.
    pub fn joined(slices: &[(Measured, f64)]) -> (Measured, f64) {
        let calls: u64 = slices.iter().map(|(m, _)| m.calls).sum();
        let seconds: f64 = slices.iter().map(|(m, _)| m.seconds).sum();
        let cpu: f64 = slices.iter().map(|(m, _)| m.cpu_us * m.calls as f64).sum();
        let cores: f64 = slices.iter().map(|(m, cores)| cores * m.seconds).sum();
        (
            Measured {
                rps: calls as f64 / seconds,
                cpu_us: cpu / calls as f64,
                calls,
                seconds,
            },
            cores / seconds,
        )
    }
}

/// CPU time of all threads of this process so far, in nanoseconds, from
/// `/proc/self/task/*/schedstat`.
fn process_cpu_ns() -> Option<u64> {
    let mut total = 0;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let path = task.ok()?.path().join("schedstat");
        if let Ok(text) = std::fs::read_to_string(path) {
            total += text.split_whitespace().next()?.parse::<u64>().ok()?;
        }
    }
    Some(total)
}

/// Requests per second of `side` with `concurrency` tasks each sending one request after
/// another for `duration` (requests in flight at the deadline are finished and counted), and
/// the client's CPU time per request.
pub async fn measure(
    api: &Arc<Api>,
    side: Side,
    concurrency: usize,
    duration: Duration,
) -> Result<Measured, String> {
    let cpu_before = process_cpu_ns();
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
    let elapsed = started.elapsed();
    let cpu_us = match (cpu_before, process_cpu_ns()) {
        (Some(before), Some(after)) => after.saturating_sub(before) as f64 / 1e3 / total as f64,
        _ => f64::NAN,
    };
    Ok(Measured {
        rps: total as f64 / elapsed.as_secs_f64(),
        cpu_us,
        calls: total,
        seconds: elapsed.as_secs_f64(),
    })
}
