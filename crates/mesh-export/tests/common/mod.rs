//! Helpers shared by the integration tests: the emulator, clients, log capture, tiny servers.
#![allow(dead_code)]

use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mesh_export::{Client, ClientBuilder, ClientCredentials, RetryOptions};
use mesh_export_emulator::{DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, Emulator};

/// Credentials for the emulator's demo client.
pub fn demo_credentials(emulator: &Emulator) -> ClientCredentials {
    ClientCredentials::new(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET).token_url(emulator.token_url())
}

/// A builder aimed at the emulator, with quick retries.
pub fn builder(emulator: &Emulator) -> ClientBuilder {
    Client::builder()
        .base_url(emulator.mesh_export_url())
        .client_credentials(demo_credentials(emulator))
        .retry(quick_retries())
}

/// Retries with short backoff so tests stay fast.
pub fn quick_retries() -> RetryOptions {
    RetryOptions {
        max_attempts: 6,
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(200),
        ..RetryOptions::default()
    }
}

/// Log output captured from `tracing`, at every level.
#[derive(Clone, Default)]
pub struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl CapturedLogs {
    /// Everything written so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    /// Installs a TRACE subscriber for the current thread (use a current-thread runtime) that
    /// records everything except the emulator's own logs.
    pub fn install(&self) -> tracing::subscriber::DefaultGuard {
        let logs = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(
                "trace,mesh_export_emulator=off",
            ))
            .with_ansi(false)
            .with_writer(move || logs.clone())
            .finish();
        tracing::subscriber::set_default(subscriber)
    }
}

impl Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

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
