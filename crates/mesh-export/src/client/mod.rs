//! The [`Client`] users call: the generated client with this crate's policy inside, and
//! typed errors out.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use mesh_export_client::PolicyHandle;
use mesh_export_client::types::{Export, ExportResponse, StartExport};
use reqwest::StatusCode;

use crate::error::Error;
use crate::policy::{self, MeshExportPolicy, Reply, Resend};
use crate::retry::RetryOptions;

mod builder;
mod get_or_start;
mod paging;
mod wait;

pub use builder::{ClientBuilder, DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT, Environment};
pub use paging::ExportFilter;
pub use wait::WaitOptions;

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
    pub(crate) start_locks: Mutex<HashMap<get_or_start::StartKey, Arc<tokio::sync::Mutex<()>>>>,
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
    /// Starts configuring a client.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::new()
    }

    /// A production client with credentials from the environment (`ITWIN_ACCESS_TOKEN`, or
    /// `ITWIN_CLIENT_ID` + `ITWIN_CLIENT_SECRET`).
    ///
    /// # Errors
    ///
    /// [`Error::Auth`] when the environment holds no usable credentials.
    pub fn from_env() -> Result<Client, Error> {
        ClientBuilder::new().credentials_from_env().build()
    }

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
                start_locks: Mutex::new(HashMap::new()),
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

    /// Starts an export (`start-export`). The service answers at once; the export is
    /// `NotStarted`. The POST is never re-sent after a failure that may have reached the
    /// service, so at most one export is started per call; to avoid duplicates across calls,
    /// use [`get_or_start_export`](Self::get_or_start_export).
    ///
    /// # Errors
    ///
    /// [`Error::Service`] with the service's code for a refused request (422 for an unknown
    /// iModel), [`Error::RateLimited`], [`Error::Auth`], or [`Error::Transport`] (the export may
    /// then have started).
    pub async fn start_export(&self, request: StartExport) -> Result<Export, Error> {
        let build = || {
            policy::built(
                self.inner
                    .generated
                    .start_export()
                    .body(request.clone())
                    .into_request(),
            )
        };
        let response: ExportResponse = self
            .send(
                &build,
                mesh_export_client::builder::StartExport::OPERATION_ID,
            )
            .await?
            .decode(StatusCode::ACCEPTED)?;
        Ok(response.export)
    }

    /// Reads one export with the deprecated `get-export` operation.
    ///
    /// # Errors
    ///
    /// [`Error::Service`] (404 for an unknown export) and the errors of every call.
    #[deprecated(
        note = "get-export will be removed when Mesh Export reaches General Availability; use find_export or exports"
    )]
    pub async fn get_export(&self, export_id: &str) -> Result<Export, Error> {
        #[allow(deprecated)]
        let build = || {
            policy::built(
                self.inner
                    .generated
                    .get_export()
                    .id(export_id)
                    .into_request(),
            )
        };
        let response: ExportResponse = self
            .send(&build, mesh_export_client::builder::GetExport::OPERATION_ID)
            .await?
            .decode(StatusCode::OK)?;
        Ok(response.export)
    }

    /// Deletes an export that is `Complete` or `Invalid` (`delete-export`).
    ///
    /// # Errors
    ///
    /// [`Error::Service`] (404 for an unknown export, 422 for one still running) and the
    /// errors of every call.
    pub async fn delete_export(&self, export_id: &str) -> Result<(), Error> {
        let build = || {
            policy::built(
                self.inner
                    .generated
                    .delete_export()
                    .id(export_id)
                    .into_request(),
            )
        };
        self.send(
            &build,
            mesh_export_client::builder::DeleteExport::OPERATION_ID,
        )
        .await?
        .expect(StatusCode::NO_CONTENT)
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
