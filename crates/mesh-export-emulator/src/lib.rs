//! A local emulator of Bentley's iTwin Mesh Export service.
//!
//! Like Azurite for Azure Storage, it serves the real service's behaviour on loopback so that
//! clients can be developed and tested offline, over real HTTP:
//!
//! - `POST /connect/token`: an IMS-like OAuth2 token endpoint (client credentials, and the
//!   authorization-code and refresh-token grants of people signed in);
//! - people sign in as IMS signs them in for native apps: OpenID discovery at
//!   `/.well-known/openid-configuration` (the issuer is [`Emulator::base_url`]),
//!   `/connect/authorize` with a plain HTML login form ([`DEMO_USER`] / [`DEMO_PASSWORD`]), the
//!   public client [`DEMO_NATIVE_CLIENT_ID`] with any loopback redirect URI, PKCE (S256),
//!   refresh tokens rotated on use, and `/connect/revocation`;
//! - `/mesh-export/` and `/mesh-export/{id}`: the four operations of `spec/openapi.yaml`
//!   (start, list, get, delete) with bearer-token checks, paging, `Prefer`, and 401, 404, 422
//!   and 429 errors in the service's shape; iModels with their iTwin and changesets can be
//!   configured ([`EmulatorBuilder::imodel`]);
//! - exports that move `NotStarted` -> `InProgress` -> `Complete` (or `Invalid`) over a set
//!   duration, at most five kept per iModel;
//! - `/blobs/{exportId}/...`: a signed (SAS-like, expiring) container holding a valid 3D Tiles
//!   tileset with an external child tileset and binary glTF tiles, or with
//!   [`EmulatorBuilder::implicit`] a sparse implicit quadtree or octree with `.subtree` files,
//!   with range requests, and its listing in Azure's List Blobs shape
//!   (`?restype=container&comp=list`, paged by `marker` and `maxresults`, needing the SAS `l`
//!   permission that Bentley's links carry);
//! - a per-client rate limit and seeded fault injection (503, 429, dropped connections, slow
//!   answers) on the Mesh Export and blob routes. The token endpoint is never faulted, so a
//!   client can always authenticate.
//!
//! ```no_run
//! use std::time::Duration;
//! use mesh_export_emulator::{DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, Emulator};
//!
//! # async fn demo() -> Result<(), mesh_export_emulator::Error> {
//! let emulator = Emulator::builder()
//!     .client(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET)
//!     .export_duration(Duration::from_millis(200))
//!     .start()
//!     .await?;
//! // A client uses these two URLs: the token endpoint and the service root.
//! println!("{} {}", emulator.token_url(), emulator.mesh_export_url());
//! assert_eq!(emulator.stats().exports_started, 0);
//! emulator.shutdown().await;
//! # Ok(())
//! # }
//! ```

mod auth;
mod blobs;
mod config;
mod errors;
mod exports;
mod grants;
mod implicit;
mod limits;
mod list_query;
mod markup;
mod oauth;
mod rate_windows;
mod server;
mod signin;
mod state;
mod store;
mod tiles;
mod tokens;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use config::{
    DEFAULT_ITWIN_ID, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, EmulatorBuilder, EmulatorConfig, IModel,
};
pub use implicit::ImplicitScheme;
pub use signin::{DEMO_NATIVE_CLIENT_ID, DEMO_PASSWORD, DEMO_USER};
pub use state::Stats;

use state::AppState;

/// Why an emulator could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A setting is out of range; the message names it.
    #[error("invalid emulator configuration: {0}")]
    InvalidConfig(String),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// What the operating system said.
        source: std::io::Error,
    },
}

/// A running emulator. It serves until [`Emulator::shutdown`] or until it is dropped.
#[derive(Debug)]
pub struct Emulator {
    addr: SocketAddr,
    state: Arc<AppState>,
    shutdown: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Emulator {
    /// A builder with the defaults of [`EmulatorConfig`].
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder::default()
    }

    /// Starts an emulator with `config` on the current tokio runtime.
    pub async fn start_with(config: EmulatorConfig) -> Result<Self, Error> {
        config.validate()?;
        let listener = TcpListener::bind(config.addr)
            .await
            .map_err(|source| Error::Bind {
                addr: config.addr,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| Error::Bind {
            addr: config.addr,
            source,
        })?;
        tracing::info!(%addr, config = ?config, "emulator listening");
        let state = Arc::new(AppState::new(config, addr));
        let (shutdown, signal) = watch::channel(false);
        let task = tokio::spawn(server::serve(listener, state.clone(), signal));
        Ok(Self {
            addr,
            state,
            shutdown,
            task: Some(task),
        })
    }

    /// The bound socket address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://HOST:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The service root a client uses: `http://HOST:PORT/mesh-export`.
    pub fn mesh_export_url(&self) -> String {
        format!("{}/mesh-export", self.base_url())
    }

    /// The token endpoint: `http://HOST:PORT/connect/token`.
    pub fn token_url(&self) -> String {
        format!("{}/connect/token", self.base_url())
    }

    /// The OpenID issuer for signing people in: [`Emulator::base_url`], whose discovery
    /// document is at `{issuer}/.well-known/openid-configuration`.
    pub fn issuer_url(&self) -> String {
        self.base_url()
    }

    /// The settings the emulator runs with.
    pub fn config(&self) -> &EmulatorConfig {
        &self.state.config
    }

    /// What the emulator has done so far.
    pub fn stats(&self) -> Stats {
        self.state.counters.snapshot()
    }

    /// How many exports of `i_model_id` the service holds now, seen from inside: no request,
    /// no fault.
    pub fn exports_of(&self, i_model_id: &str) -> usize {
        self.state
            .store
            .lock()
            .expect("store lock")
            .count_of(i_model_id)
    }

    /// Stops accepting connections, lets requests in flight finish (for a few seconds at
    /// most), and returns when the server has stopped.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

/// Writes the tileset an export with id `export_id` would have under `config` (tile count,
/// tile size, seed, implicit scheme) into `dir`, and returns how many files it wrote. It is what the emulator
/// serves, for offline checks such as the Khronos glTF validator.
pub fn dump_tileset(
    config: &EmulatorConfig,
    export_id: &str,
    dir: &std::path::Path,
) -> std::io::Result<usize> {
    config
        .validate()
        .map_err(|err| std::io::Error::new(std::io::ErrorKind::InvalidInput, err.to_string()))?;
    let layout = tiles::Layout::of(config);
    let paths = layout.paths();
    for path in &paths {
        let file = layout
            .file(export_id, path)
            .expect("every listed path has a file");
        let target = dir.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(target, file.bytes)?;
    }
    Ok(paths.len())
}

impl Drop for Emulator {
    /// Stops the server at once; connections in flight are cut.
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
