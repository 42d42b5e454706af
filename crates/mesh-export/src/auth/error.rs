//! [`AuthError`]: why no token could be obtained.

use std::sync::Arc;

use http_policy::redact::cause_chain;

/// Why no token could be obtained. Cheap to clone: a failure is remembered and shared by every
/// caller that waited for the same fetch.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No credentials were configured or found in the environment.
    #[error("no credentials: {0}")]
    MissingCredentials(String),
    /// The token endpoint refused the request.
    #[error("token endpoint answered HTTP {status}{}{}", error.as_deref().map(|e| format!(": {e}")).unwrap_or_default(), description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    TokenEndpoint {
        /// HTTP status.
        status: u16,
        /// The OAuth2 `error` code (`invalid_client`, ...).
        error: Option<String>,
        /// The OAuth2 `error_description`.
        description: Option<String>,
    },
    /// The token endpoint could not be reached.
    #[error("token endpoint unreachable: {}", cause_chain(.0.as_ref()))]
    Transport(#[source] Arc<reqwest::Error>),
    /// The token endpoint answered with something that is not a token.
    #[error("unexpected token response: {0}")]
    Decode(String),
    /// An interactive sign-in could not finish (the browser's answer, the loopback listener,
    /// the saved session).
    #[error("sign-in failed: {0}")]
    SignIn(String),
    /// The saved session could not be read, kept or removed (a file, the OS keyring); the text
    /// names where.
    #[error("{0}")]
    SessionStore(String),
    /// A custom [`TokenSource`](super::TokenSource) failed.
    #[error("{0}")]
    Other(String),
}

impl AuthError {
    /// Whether asking again later may work: the endpoint was unreachable, overloaded or rate
    /// limiting (the statuses [`TokenFetch`](crate::retry::TokenFetch) retries).
    pub fn is_retryable(&self) -> bool {
        match self {
            AuthError::Transport(_) => true,
            AuthError::TokenEndpoint { status, .. } => matches!(status, 408 | 429 | 500..=599),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_overloaded_or_unreachable_token_endpoint_is_worth_asking_again() {
        let endpoint = |status| AuthError::TokenEndpoint {
            status,
            error: None,
            description: None,
        };
        for status in [408, 429, 500, 502, 503, 504] {
            assert!(endpoint(status).is_retryable(), "{status}");
        }
        for status in [400, 401, 403, 404, 307] {
            assert!(!endpoint(status).is_retryable(), "{status}");
        }
        assert!(!AuthError::MissingCredentials("none".into()).is_retryable());
        assert!(!AuthError::Decode("not a token".into()).is_retryable());
        assert!(!AuthError::Other("custom source".into()).is_retryable());
    }
}
