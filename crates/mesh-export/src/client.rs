//! The [`Client`] users call: the generated client with this crate's policy inside, and
//! typed errors out.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};

use mesh_export_client::types::{Export, StartExport};
use mesh_export_client::{PolicyHandle, ResponseValue, types};

use crate::config::ClientBuilder;
use crate::error::{self, Error};
use crate::policy::{self, CallState, MeshExportPolicy};
use crate::retry::RetryOptions;

type GeneratedError = mesh_export_client::Error<types::ErrorResponse>;

/// A Mesh Export client: authenticated, retrying, traced. Cheap to clone (clones share the
/// connection pool, the token cache and the get-or-start locks).
///
/// Build one with [`Client::builder`]; the crate docs show a complete example.
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) generated: mesh_export_client::Client,
    pub(crate) policy: Arc<MeshExportPolicy>,
    pub(crate) base_url: String,
    pub(crate) parsed_base: url::Url,
    pub(crate) http: reqwest::Client,
    /// Per (iModel, changeset, type) locks, so one process never starts the same export twice.
    pub(crate) start_locks:
        Mutex<HashMap<crate::get_or_start::StartKey, Arc<tokio::sync::Mutex<()>>>>,
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

    /// The generated client, with this client's policy inside: every operation the spec has,
    /// with auth and retries, but progenitor's error type.
    pub fn generated(&self) -> &mesh_export_client::Client {
        &self.inner.generated
    }

    /// Starts an export (`start-export`). The service answers at once; the export is
    /// `NotStarted`. The POST is never re-sent after a failure that may have reached the
    /// service, so at most one export is started per call; to avoid duplicates across calls,
    /// use [`get_or_start_export`](Self::get_or_start_export).
    pub async fn start_export(&self, request: StartExport) -> Result<Export, Error> {
        let response = self
            .call(self.generated().start_export().body(request).send())
            .await?;
        Ok(response.into_inner().export)
    }

    /// Reads one export with the deprecated `get-export` operation.
    #[deprecated(
        note = "get-export will be removed when Mesh Export reaches General Availability; use find_export or exports"
    )]
    pub async fn get_export(&self, export_id: &str) -> Result<Export, Error> {
        #[allow(deprecated)]
        let builder = self.generated().get_export().id(export_id);
        Ok(self.call(builder.send()).await?.into_inner().export)
    }

    /// Deletes an export that is `Complete` or `Invalid` (`delete-export`).
    pub async fn delete_export(&self, export_id: &str) -> Result<(), Error> {
        self.call(self.generated().delete_export().id(export_id).send())
            .await?;
        Ok(())
    }

    /// Runs one call of the generated client and turns its error into an [`Error`].
    pub(crate) async fn call<T, F>(&self, call: F) -> Result<ResponseValue<T>, Error>
    where
        F: Future<Output = Result<ResponseValue<T>, GeneratedError>>,
    {
        let (result, state) = policy::in_call(call).await;
        match result {
            Ok(value) => Ok(value),
            Err(e) => Err(map_generated_error(e, state).await),
        }
    }
}

/// Maps progenitor's error, preferring what the policy recorded (typed auth and rate-limit
/// errors, the status a decode error lost).
async fn map_generated_error(error: GeneratedError, state: CallState) -> Error {
    if let Some(error) = state.error {
        return error;
    }
    let correlation_id = state.correlation_id;
    match error {
        GeneratedError::ErrorResponse(response) => {
            let status = response.status();
            if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
                return Error::from_response_parts(status, response.headers(), b"", correlation_id);
            }
            let correlation_id =
                correlation_id.or_else(|| error::correlation_header(response.headers()));
            Error::service(status, response.into_inner(), correlation_id)
        }
        GeneratedError::UnexpectedResponse(response) => {
            from_response(response, correlation_id).await
        }
        GeneratedError::InvalidResponsePayload(body, _) => Error::Decode {
            // The policy saw every response of the call; 0 only if the client was bypassed.
            status: state.last_status.unwrap_or(0),
            body_excerpt: error::body_excerpt(&body),
            correlation_id,
        },
        GeneratedError::CommunicationError(source)
        | GeneratedError::ResponseBodyError(source)
        | GeneratedError::InvalidUpgrade(source) => Error::Transport {
            source: source.without_url(),
            correlation_id,
        },
        GeneratedError::InvalidRequest(message) | GeneratedError::Custom(message) => {
            Error::InvalidRequest(message)
        }
    }
}

/// The error for a response outside the success range (or an unexpected success status).
pub(crate) async fn from_response(
    response: reqwest::Response,
    correlation_id: Option<String>,
) -> Error {
    let status = response.status();
    let headers = response.headers().clone();
    let body = match response.bytes().await {
        Ok(body) => body,
        Err(source) => {
            return Error::Transport {
                source: source.without_url(),
                correlation_id,
            };
        }
    };
    if status.is_success() {
        return Error::Decode {
            status: status.as_u16(),
            body_excerpt: error::body_excerpt(&body),
            correlation_id,
        };
    }
    Error::from_response_parts(status, &headers, &body, correlation_id)
}
