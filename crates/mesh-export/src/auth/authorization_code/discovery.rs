//! The issuer's OpenID discovery document: where to authorize, exchange and revoke.

use serde::{Deserialize, Serialize};

use crate::auth::AuthError;
use crate::auth::client_credentials::TokenFetch;
use http_policy::retry::{self, ClassifyRetry, Ended, RetryOptions};

/// The endpoints of an issuer, as its discovery document names them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoints {
    /// The issuer (`https://ims.bentley.com`).
    pub issuer: String,
    /// Where the browser signs the person in.
    pub authorization_endpoint: String,
    /// Where codes and refresh tokens become access tokens.
    pub token_endpoint: String,
    /// Where a refresh token is revoked (RFC 7009), when the issuer has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_endpoint: Option<String>,
}

/// `{issuer}/.well-known/openid-configuration`.
pub fn discovery_url(issuer: &str) -> String {
    format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    )
}

/// Reads the issuer's discovery document through the one retry loop.
pub(crate) async fn discover(
    http: &reqwest::Client,
    options: &RetryOptions,
    issuer: &str,
) -> Result<Endpoints, AuthError> {
    let url = discovery_url(issuer);
    let method = reqwest::Method::GET;
    let ended = retry::run(
        options,
        &"discovery request",
        |outcome: &reqwest::Result<(reqwest::StatusCode, bytes::Bytes)>| match outcome {
            Ok((status, _)) => {
                TokenFetch.classify_status(&method, *status, &reqwest::header::HeaderMap::new())
            }
            Err(error) => TokenFetch.classify_transport(&method, error),
        },
        |_| async {
            let response = http.get(&url).send().await?;
            let status = response.status();
            Ok((status, response.bytes().await?))
        },
    )
    .await;
    let (status, body) = match ended {
        Ended::Outcome(outcome) | Ended::HintTooLong { outcome, .. } => {
            outcome.map_err(|e| AuthError::Transport(std::sync::Arc::new(e.without_url())))?
        }
    };
    if !status.is_success() {
        return Err(AuthError::Other(format!(
            "the issuer's discovery document {} answered HTTP {}",
            http_policy::redact::quote(&url),
            status.as_u16()
        )));
    }
    serde_json::from_slice(&body).map_err(|e| {
        AuthError::Decode(format!(
            "discovery document {}: {e}",
            http_policy::redact::quote(&url)
        ))
    })
}
