//! The seam between the generated client and a request policy defined in another crate.
//!
//! progenitor's `ClientHooks` must be implemented in the crate that defines `Client` (the orphan
//! rule), so the implementation lives here and forwards to a [`RequestPolicy`] carried inside
//! the client as its inner value.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::Client;
use progenitor_client::{ClientHooks, ClientInfo, Error, OperationInfo};

/// A boxed, sendable future, as [`RequestPolicy`] methods return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why a policy refused to send a request (for example, no token could be obtained).
pub type PolicyError = Box<dyn std::error::Error + Send + Sync>;

/// Behaviour plugged into every request the generated client sends.
///
/// `prepare` runs once per call, after the request is built; `execute` sends it and may send it
/// again (retries), so per-attempt concerns such as the bearer token belong there.
pub trait RequestPolicy: fmt::Debug + Send + Sync {
    /// Adjusts the request before it is sent. An error aborts the call with
    /// [`Error::Custom`] carrying its message.
    fn prepare<'a>(
        &'a self,
        request: &'a mut reqwest::Request,
        operation: &'a OperationInfo,
    ) -> BoxFuture<'a, Result<(), PolicyError>> {
        let _ = (request, operation);
        Box::pin(async { Ok(()) })
    }

    /// Sends the request with `client` and returns the response to decode.
    fn execute<'a>(
        &'a self,
        client: &'a reqwest::Client,
        request: reqwest::Request,
        operation: &'a OperationInfo,
    ) -> BoxFuture<'a, reqwest::Result<reqwest::Response>>;
}

/// The policy a [`Client`] carries; [`PolicyHandle::none`] sends requests as they are.
#[derive(Clone, Default)]
pub struct PolicyHandle(Option<Arc<dyn RequestPolicy>>);

impl PolicyHandle {
    /// No policy: requests go out once, unauthenticated unless the `reqwest::Client` adds it.
    pub fn none() -> Self {
        Self(None)
    }

    /// Wraps a policy.
    pub fn new(policy: Arc<dyn RequestPolicy>) -> Self {
        Self(Some(policy))
    }

    /// The policy, if any.
    pub fn policy(&self) -> Option<&Arc<dyn RequestPolicy>> {
        self.0.as_ref()
    }
}

impl fmt::Debug for PolicyHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(policy) => f.debug_tuple("PolicyHandle").field(policy).finish(),
            None => f.write_str("PolicyHandle(None)"),
        }
    }
}

impl ClientHooks<PolicyHandle> for Client {
    async fn pre<E>(
        &self,
        request: &mut reqwest::Request,
        info: &OperationInfo,
    ) -> Result<(), Error<E>> {
        if let Some(policy) = self.inner().policy() {
            policy
                .prepare(request, info)
                .await
                .map_err(|e| Error::Custom(e.to_string()))?;
        }
        Ok(())
    }

    async fn exec(
        &self,
        request: reqwest::Request,
        info: &OperationInfo,
    ) -> reqwest::Result<reqwest::Response> {
        match self.inner().policy() {
            Some(policy) => policy.execute(self.client(), request, info).await,
            None => self.client().execute(request).await,
        }
    }
}
