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

/// A discovery document is a few kilobytes; a larger answer is not read in full.
const MAX_DOCUMENT_BYTES: usize = 1 << 20;

/// Whether `url` may carry codes and tokens: `https`, or `http` on this machine (an emulator).
fn secure(url: &str) -> bool {
    let Ok(url) = url::Url::parse(url) else {
        return false;
    };
    let loopback = match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    url.scheme() == "https" || (url.scheme() == "http" && loopback)
}

fn insecure(what: &str, url: &str) -> AuthError {
    AuthError::SignIn(format!(
        "{what} {} is neither https nor http on this machine",
        http_policy::redact::quote(url)
    ))
}

/// The document's endpoints, when it is `issuer`'s own (OpenID Connect Discovery 4.3: a
/// document naming another issuer may be a mix-up) and each endpoint is secure.
fn trusted(endpoints: Endpoints, issuer: &str) -> Result<Endpoints, AuthError> {
    if endpoints.issuer.trim_end_matches('/') != issuer.trim_end_matches('/') {
        return Err(AuthError::SignIn(format!(
            "the discovery document of {issuer} names another issuer, {}",
            http_policy::redact::quote(&endpoints.issuer)
        )));
    }
    let named = [
        (
            "authorization endpoint",
            Some(&endpoints.authorization_endpoint),
        ),
        ("token endpoint", Some(&endpoints.token_endpoint)),
        (
            "revocation endpoint",
            endpoints.revocation_endpoint.as_ref(),
        ),
    ];
    for (what, url) in named {
        if let Some(url) = url.filter(|u| !secure(u)) {
            return Err(insecure(&format!("the issuer's {what}"), url));
        }
    }
    Ok(endpoints)
}

/// Reads the issuer's discovery document through the one retry loop.
pub(crate) async fn discover(
    http: &reqwest::Client,
    options: &RetryOptions,
    issuer: &str,
) -> Result<Endpoints, AuthError> {
    if !secure(issuer) {
        return Err(insecure("the issuer", issuer));
    }
    let url = discovery_url(issuer);
    let method = reqwest::Method::GET;
    let ended = retry::run(
        options,
        &"discovery request",
        |outcome: &reqwest::Result<(reqwest::StatusCode, Option<Vec<u8>>)>| match outcome {
            Ok((status, _)) => {
                TokenFetch.classify_status(&method, *status, &reqwest::header::HeaderMap::new())
            }
            Err(error) => TokenFetch.classify_transport(&method, error),
        },
        |_| async {
            let mut response = http.get(&url).send().await?;
            let status = response.status();
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await? {
                if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                    return Ok((status, None));
                }
                body.extend_from_slice(&chunk);
            }
            Ok((status, Some(body)))
        },
    )
    .await;
    let (status, body) = match ended {
        Ended::Outcome(outcome) | Ended::HintTooLong { outcome, .. } => {
            outcome.map_err(|e| AuthError::transport(&url, e))?
        }
    };
    if !status.is_success() {
        return Err(AuthError::Other(format!(
            "the issuer's discovery document {} answered HTTP {}",
            http_policy::redact::quote(&url),
            status.as_u16()
        )));
    }
    let body = body.ok_or_else(|| {
        AuthError::Decode(format!(
            "discovery document {}: larger than {MAX_DOCUMENT_BYTES} bytes",
            http_policy::redact::quote(&url)
        ))
    })?;
    let endpoints = serde_json::from_slice(&body).map_err(|e| {
        AuthError::Decode(format!(
            "discovery document {}: {e}",
            http_policy::redact::quote(&url)
        ))
    })?;
    trusted(endpoints, issuer)
}

#[cfg(test)]
mod tests;
