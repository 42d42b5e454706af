//! The [`Client`] users call: the generated client with this crate's policy inside, and
//! typed errors out.
//!
//! [`Client`] and its one way to send a request are here; each file beside this one adds the
//! methods of one concern in an `impl Client` block of its own (as kube-rs splits its client):
//!
//! - `builder`: [`ClientBuilder`], [`Environment`] and the timeouts;
//! - `exports`: the single-export operations (`start-export`, `get-export`, `delete-export`);
//! - `paging`: [`ExportFilter`], one page, the next page, and a `Stream` over all exports;
//! - `wait`: [`WaitOptions`], finding one export and waiting for it to finish;
//! - `get_or_start`: reusing an export instead of starting a duplicate, with the per-process
//!   start locks of `start_locks`.
//!
//! Dependencies point one way: `builder`, `exports`, `paging`, `wait` and `get_or_start` on
//! this file; `wait` and `get_or_start` on `paging`; `get_or_start` on `exports` (to start) and
//! `start_locks`; this file on `start_locks` alone.

use std::fmt;
use std::sync::Arc;

use mesh_export_client::PolicyHandle;

use crate::error::Error;
use crate::policy::{MeshExportPolicy, Reply, Resend};
use crate::retry::RetryOptions;

mod builder;
mod exports;
mod get_or_start;
mod paging;
mod start_locks;
mod wait;

pub use builder::{ClientBuilder, DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT, Environment};
pub use paging::{DEFAULT_CLIENT, ExportFilter};
pub use wait::WaitOptions;

use start_locks::StartLocks;

/// A Mesh Export client: authenticated, retrying, traced. Cheap to clone (clones share the
/// connection pool, the token cache and the get-or-start locks).
///
/// Build one with [`Client::builder`]; the crate docs show a complete example.
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    /// The generated client with this crate's policy: its builders build the typed methods'
    /// requests (which those send down the request path themselves), and its `send` serves
    /// callers of [`Client::generated`].
    pub(crate) generated: mesh_export_client::Client,
    pub(crate) policy: Arc<MeshExportPolicy>,
    pub(crate) base_url: String,
    pub(crate) parsed_base: url::Url,
    pub(crate) http: reqwest::Client,
    /// Per (iModel, changeset, type) locks, so one process never starts the same export twice.
    pub(crate) start_locks: StartLocks,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.base_url)
            .field("policy", &self.inner.policy)
            .finish_non_exhaustive()
    }
}

impl Client {
    pub(crate) fn from_parts(
        parsed_base: url::Url,
        base_url: String,
        http: reqwest::Client,
        policy: Arc<MeshExportPolicy>,
    ) -> Client {
        let generated = mesh_export_client::Client::new_with_client(
            &base_url,
            http.clone(),
            PolicyHandle::new(policy.clone()),
        );
        Client {
            inner: Arc::new(Inner {
                generated,
                policy,
                base_url,
                parsed_base,
                http,
                start_locks: StartLocks::default(),
            }),
        }
    }

    /// The service root requests go to, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    /// The HTTP client requests are sent with (shared connection pool and timeouts). It adds no
    /// authentication: use it for URLs that carry their own signature, such as tiles. Unless
    /// the caller supplied it, it has the builder's whole-request timeout
    /// ([`DEFAULT_TIMEOUT`](crate::DEFAULT_TIMEOUT)), which would also cut a large tile off:
    /// give the tileset [`Downloader`](crate::tiles::Downloader) its own client.
    pub fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }

    /// The retry options this client uses, for code that sends its own requests (see
    /// [`retry::send_with_retry`](crate::retry::send_with_retry)).
    pub fn retry_options(&self) -> &RetryOptions {
        &self.inner.policy.retry
    }

    /// The generated client, with this client's request path inside: every operation the spec
    /// has, with auth and retries, but progenitor's error type. What ends a call without a
    /// response (no token could be obtained, a `Retry-After` above the cap) comes back as a
    /// response in the service's error format (401, or the rate limit's status with its
    /// `Retry-After`).
    pub fn generated(&self) -> &crate::GeneratedClient {
        &self.inner.generated
    }

    /// Sends the request `build` builds down the request path (auth, retries, one correlation
    /// id); `build` runs again only for a send after the first.
    pub(crate) async fn send(
        &self,
        build: &(dyn Fn() -> Result<reqwest::Request, Error> + Sync),
        operation: &str,
    ) -> Result<Reply, Error> {
        let request = build()?;
        self.inner
            .policy
            .send(&self.inner.http, request, Resend::Rebuild(build), operation)
            .await
    }
}
