//! Client for Bentley's iTwin Mesh Export API, generated from `spec/openapi.yaml`.
//!
//! This crate is a faithful transcription of the spec: one builder per operation on [`Client`],
//! the request and response types in [`types`] (which derive `schemars::JsonSchema`; a test in
//! `tests/` compares their schemas with the spec's). It sets the headers every request to the service
//! needs (the versioned `Accept` header, no `api-version`), and lets another crate plug a
//! [`RequestPolicy`] into every request: authentication, retries, logging. Most users want the
//! `mesh-export` crate, which supplies that policy and the calls built on top.
//!
//! `generated.rs` is written by `cargo xtask codegen`; everything else here is hand-written.

#[rustfmt::skip]
mod generated;
mod base_url;
mod deprecation;
mod hooks;
mod query;

pub use deprecation::{DeprecatedOperation, deprecated_operation};
pub use generated::{
    ByteStream, Client, ClientInfo, DEPRECATED_OPERATIONS, Error, ITWIN_ACCEPT, ResponseValue,
    builder, types,
};
pub use hooks::{BoxFuture, PolicyError, PolicyHandle, RequestPolicy};
pub use progenitor_client::OperationInfo;
