//! A client for Bentley's iTwin Mesh Export API that behaves well in production.
//!
//! [`Client`] wraps the generated [`mesh_export_client`] with a request policy: bearer tokens
//! (static, OAuth2 client credentials, or any [`TokenSource`]) cached and refreshed ahead of
//! expiry, or an iTwin [`ShareKey`] (`Authorization: Basic <share key>`), retries that honour `Retry-After` and never repeat a `start-export` that may have
//! reached the service, one `X-Correlation-ID` per call, tracing spans, and a one-time warning
//! per client for operations the spec deprecates. On top it adds what callers need: a [`Stream`] over
//! exports ([`Client::exports`]), [`Client::wait_for_export`], [`Client::get_or_start_export`],
//! and one [`Error`] type.
//!
//! # Quick start
//!
//! ```no_run
//! use mesh_export::{Client, WaitOptions, auth::ClientCredentials, types::{ExportType, StartExport}};
//! use mesh_export::tiles::ExportTileset;
//!
//! # async fn run() -> Result<(), mesh_export::Error> {
//! let client = Client::builder()
//!     .client_credentials(ClientCredentials::new("my-client-id", "my-client-secret"))
//!     .build()?;
//! let i_model_id = "b80f4fc2-4dbb-42c5-bb1f-f5aace3977dc";
//! let request = StartExport { i_model_id: i_model_id.into(), changeset_id: None, export_type: Some(ExportType::X3dTiles), geometry_options: None, view_definition_filter: None };
//! let export = client.get_or_start_export(request).await?;
//! let export = client.wait_for_export(i_model_id, &export.id, WaitOptions::default()).await?;
//! let tileset = mesh_export::tiles::TilesetUrl::from_export(&export).expect("complete exports link their mesh");
//! println!("{}", tileset.tileset_json());
//! # Ok(()) }
//! ```
//!
//! `examples/quickstart.rs` runs the same against the emulator in-process:
//! `cargo run -p mesh-export --example quickstart`.
//!
//! # The request path
//!
//! Per call: the deprecation notice, `User-Agent: mesh-export/<version>` and one
//! `X-Correlation-ID` are set once; then the one retry loop ([`retry`]) sends, and auth is its
//! per-attempt step: each attempt re-checks the token, and a 401 invalidates it and sends once
//! more with a new one. Each attempt reads the whole response, and one mapping turns it into a
//! value or an [`Error`]. The client crate's hook already sends
//! `Accept: application/vnd.bentley.itwin-platform.v1+json` and drops progenitor's
//! `api-version` header.
//!
//! # Tracing
//!
//! Each call is a `debug` span, `mesh_export.call` (operation, method, path, correlation id), so
//! a subscriber at `info` pays nothing for it; each retry is an `info` event naming what is
//! retried (the operation id, a token request, a tile file) with the attempt number, the reason
//! and the wait. Tokens, secrets and signed query strings are never logged, and `Debug` output
//! redacts them.
//!
//! [`Stream`]: futures::Stream

// The README's examples compile as doctests of this crate.
#[doc = include_str!("../../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

pub mod auth;
mod client;
pub mod deprecation;
mod error;
mod headers;
mod policy;
pub mod retry;
pub mod tiles;
pub mod timestamp;

pub use auth::{ClientCredentials, ShareKey, StaticToken, TokenSource};
pub use client::{
    Client, ClientBuilder, DEFAULT_CLIENT, DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT, Environment,
    ExportFilter, WaitOptions,
};
pub use deprecation::DeprecationWarnings;
pub use error::Error;
/// The generated client ([`Client::generated`] returns one with this client's request path),
/// under a name that does not shadow [`Client`].
pub use mesh_export_client::Client as GeneratedClient;
pub use mesh_export_client::types;
pub use mesh_export_client::types::{Export, ExportStatus, ExportType, StartExport};
pub use retry::RetryOptions;
pub use timestamp::LastModified;
